"""The builders: mesh, model, initial density and output times from a resolved configuration.

The one place where a configuration becomes objects; `meanfield run`, `meanfield sweep` and the
studies build through these functions.
"""

from __future__ import annotations

import numpy as np

from ..model import Attention
from ..sphere.mesh import SphereMesh

__all__ = [
    "build_initial",
    "build_matrix",
    "build_mesh",
    "build_model",
    "output_times",
    "cluster_radius",
]


def _keyed(key: str, exc: Exception) -> ValueError:
    return ValueError(f"config key '{key}': {exc}")


def build_mesh(cfg: dict) -> SphereMesh:
    """The mesh of ``cfg['mesh']`` (reading the file for kind = 'file')."""
    m = cfg["mesh"]
    try:
        if m["kind"] == "icosphere":
            return SphereMesh.icosphere(m["level"])
        if m["kind"] == "circle":
            return SphereMesh.circle(m["cells"])
        return SphereMesh.read(m["path"])
    except ValueError as exc:
        key = {"icosphere": "mesh.level", "circle": "mesh.cells"}.get(m["kind"], "mesh.path")
        raise _keyed(key, exc) from None


def build_matrix(spec, d: int, key: str) -> np.ndarray | None:
    """``"identity"`` -> None; ``"random:SEED"`` -> N(0, 1/d) entries; a list -> the matrix."""
    if spec == "identity":
        return None
    if isinstance(spec, str):
        rng = np.random.default_rng(int(spec.split(":", 1)[1]))
        return rng.standard_normal((d, d)) / np.sqrt(d)
    mat = np.asarray(spec, dtype=float)
    if mat.shape != (d, d):
        raise ValueError(f"config key '{key}' must be a {d} x {d} matrix, got shape {mat.shape}")
    return mat


def build_model(cfg: dict, d: int) -> Attention:
    m = cfg["model"]
    mats = {k: build_matrix(m[k], d, f"model.{k}") for k in ("Q", "K", "V")}
    return Attention(m["beta"], normalized=m["normalized"], **mats)


def build_initial(cfg: dict, d: int):
    """The initial density function of ``cfg['initial']`` (see :mod:`meanfield.initial`)."""
    from ..initial import ModePerturbation, Uniform, VonMisesFisher, WhiteNoise

    i = cfg["initial"]
    try:
        if i["kind"] == "uniform":
            return Uniform(d)
        if i["kind"] == "mode":
            return ModePerturbation(d, i["ell"], i["amplitude"], i["m"])
        if i["kind"] == "vmf":
            c = np.asarray(i["centres"], dtype=float)
            return VonMisesFisher(c / np.linalg.norm(c, axis=1, keepdims=True), i["kappa"])
        return WhiteNoise(d, i["amplitude"], i["ell_max"], i["seed"])
    except ValueError as exc:
        raise _keyed(f"initial ({i['kind']})", exc) from None


def output_times(cfg: dict) -> np.ndarray:
    """Equally spaced frames on [0, t_end] plus the render times (merged within 1e-9 t_end)."""
    t_end, frames = cfg["times"]["t_end"], cfg["times"]["frames"]
    grid = np.linspace(0.0, t_end, frames)
    extra = [t for t in cfg["output"]["render"] if np.min(np.abs(grid - t)) > 1e-9 * t_end]
    return np.unique(np.concatenate([grid, extra]))


def cluster_radius(cfg: dict, space) -> float:
    """The one cluster radius of a run, for the density and the tokens alike:
    ``output.cluster_radius`` widened to 2.5 mesh cells (so that a ball around a quadrature
    point holds several of them), at most 3 rad."""
    return float(min(3.0, max(cfg["output"]["cluster_radius"], 2.5 * space.mesh.resolution)))
