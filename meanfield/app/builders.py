"""The builders: mesh, model, initial density, solver options and output times from a resolved
configuration.

The one place where a configuration becomes objects: ``meanfield run``, ``meanfield sweep``
and the studies build through these functions, and the allowed values of ``mesh.kind`` and
``initial.kind`` in :data:`meanfield.app.config.SCHEMA` are the keys of :data:`MESH_KINDS` and
:data:`INITIAL_KINDS`. Every error names the configuration key at fault.
"""

from __future__ import annotations

import numpy as np

from .. import initial
from ..model import Attention
from ..sphere.mesh import SphereMesh

__all__ = [
    "INITIAL_KINDS",
    "MAX_STEPS",
    "MESH_KINDS",
    "build_density",
    "build_initial",
    "build_matrix",
    "build_mesh",
    "build_model",
    "cluster_options",
    "cluster_radius",
    "density_options",
    "output_times",
    "particle_options",
    "token_step",
]

#: Most time steps a token run may need before it is refused as hopeless (a huge beta).
MAX_STEPS = 10**8
#: Largest exponent e^x kept below the float64 range (e^709.78 is the largest double).
_LOG_MAX = 700.0


def _keyed(key: str, exc: Exception) -> ValueError:
    return ValueError(f"config key '{key}': {exc}")


#: mesh.kind -> (builder of the mesh from ``cfg['mesh']``, the key its errors name).
MESH_KINDS = {
    "icosphere": (lambda m: SphereMesh.icosphere(m["level"]), "mesh.level"),
    "circle": (lambda m: SphereMesh.circle(m["cells"]), "mesh.cells"),
    "file": (lambda m: SphereMesh.read(m["path"]), "mesh.path"),
    "zonal": (lambda m: SphereMesh.zonal(m["d"], m["cells"]), "mesh.d"),
}


def build_mesh(cfg: dict) -> SphereMesh:
    """The mesh of ``cfg['mesh']`` (reading the file for kind = 'file')."""
    m = cfg["mesh"]
    build, key = MESH_KINDS[m["kind"]]
    try:
        return build(m)
    except ValueError as exc:
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
    r"""The :class:`Attention` of ``cfg['model']`` on :math:`S^{d-1}`.

    USA weights reach :math:`e^{\beta\|K^TQ\|}` once tokens cluster; beyond
    :math:`e^{700}` they leave the float64 range, so such a beta is refused here.
    """
    m = cfg["model"]
    mats = {k: build_matrix(m[k], d, f"model.{k}") for k in ("Q", "K", "V")}
    model = Attention(m["beta"], normalized=m["normalized"], **mats)
    if not model.normalized:
        a = float(np.linalg.norm(model.interaction(d), 2))
        if a > _LOG_MAX:
            raise ValueError(
                f"config key 'model.beta': unnormalised attention (model.normalized = false) "
                f"weighs tokens by up to e^(beta |K^T Q|) = e^{a:.4g}, beyond float64; "
                f"beta |K^T Q| must be <= {_LOG_MAX:g}, got beta = {model.beta:g}"
            )
    return model


def _uniform(i, d):
    return initial.Uniform(d)


def _mode(i, d):
    return initial.ModePerturbation(d, i["ell"], i["amplitude"], i["m"])


def _vmf(i, d):
    c = np.asarray(i["centres"], dtype=float)
    return initial.VonMisesFisher(c / np.linalg.norm(c, axis=1, keepdims=True), i["kappa"])


def _white_noise(i, d):
    return initial.WhiteNoise(d, i["amplitude"], i["ell_max"], i["seed"])


#: initial.kind -> builder ``(cfg['initial'], d) -> density function`` (:mod:`meanfield.initial`).
INITIAL_KINDS = {
    "uniform": _uniform,
    "mode": _mode,
    "vmf": _vmf,
    "white_noise": _white_noise,
}


def _zonal_initial(i, d):
    """On a zonal mesh: uniform, a Gegenbauer mode, or caps about +-e_d (kind = 'vmf' with
    centres along the axis: the share of centres pointing to +e_d is the north mass)."""
    if i["kind"] == "uniform":
        return initial.ZonalMode(d, 1, 0.0)
    if i["kind"] == "mode":
        return initial.ZonalMode(d, i["ell"], i["amplitude"])
    if i["kind"] == "vmf":
        c = np.asarray(i["centres"], dtype=float)
        off = np.linalg.norm(c[:, :-1], axis=1) if c.ndim == 2 else np.ones(1)
        if c.ndim != 2 or np.any(off > 0):
            raise ValueError("centres must lie on the axis e_d (+-e_d) on a zonal mesh")
        kappa = np.ravel(i["kappa"])
        if np.any(kappa != kappa[0]):
            raise ValueError("kappa must be one value for the two zonal caps")
        return initial.ZonalCaps(d, float(kappa[0]), float(np.mean(c[:, -1] > 0)))
    raise ValueError(
        f"kind must be 'uniform', 'mode' or 'vmf' on a zonal mesh (a zonal density), got "
        f"{i['kind']!r}"
    )


def build_initial(cfg: dict, d: int, zonal: bool = False):
    """The initial density function of ``cfg['initial']`` (see :mod:`meanfield.initial`);
    ``zonal`` for a zonal mesh (densities of x_d, with respect to the normalised measure)."""
    i = cfg["initial"]
    try:
        if zonal:
            return _zonal_initial(i, d)
        return INITIAL_KINDS[i["kind"]](i, d)
    except ValueError as exc:
        raise _keyed(f"initial ({i['kind']})", exc) from None


def build_density(cfg: dict, mesh: SphereMesh):
    """The DG space (``solver.degree``) and the limited initial density on ``mesh``.

    Returns
    -------
    space : DG
    rho0 : Density
        :meth:`DG.interpolate` of :func:`build_initial`, limited (non-negative at the scheme's
        points).

    Raises
    ------
    ValueError
        When the interpolant has a negative cell mean (the perturbation is too large for the
        mesh), naming the ``initial`` section.
    """
    from ..eulerian.dg import DG

    space = DG(mesh, cfg["solver"]["degree"])
    rho0 = space.interpolate(build_initial(cfg, mesh.dim, zonal=mesh.kind == "zonal"))
    low = rho0.cell_means().min()
    if low < 0:
        raise ValueError(
            f"config section 'initial': the initial density has a negative cell mean "
            f"({low:.3g}) on this mesh"
        )
    return space, rho0.limit()


def density_options(cfg: dict) -> dict:
    """Keyword arguments of :func:`meanfield.solve_density` from ``cfg['solver']``.

    Only the options the chosen scheme understands (:data:`meanfield.solve.DENSITY_SCHEMES`)
    are passed: ``solver.cfl`` and ``solver.method`` are the Eulerian scheme's, the
    Lagrangian one steps with its own RK4 capped by ``solver.dt_max``; ``model.diffusion``
    goes to the schemes with noise (and, when non-zero, to the others, which refuse it).
    """
    from ..solve import DENSITY_SCHEMES, EULERIAN_METHODS

    s, diffusion = cfg["solver"], cfg["model"]["diffusion"]
    _, default_method, accepted = DENSITY_SCHEMES[s["scheme"]]
    options = {"scheme": s["scheme"], "field": s["field"]}
    options.update({k: s[k] for k in ("cfl", "dt_max") if k in accepted})
    if default_method in EULERIAN_METHODS:
        options["method"] = s["method"]
    if diffusion or "diffusion" in accepted:  # a scheme without noise refuses D > 0 itself
        options["diffusion"] = diffusion
    return options


def particle_options(cfg: dict) -> dict:
    """Keyword arguments of :func:`meanfield.solve_particles` from ``cfg['particles']``."""
    p = cfg["particles"]
    return {
        "dt": p["dt"],
        "method": p["method"],
        "field": cfg["solver"]["field"],
        "diffusion": cfg["model"]["diffusion"],
    }


def cluster_options(cfg: dict) -> dict:
    """Keyword arguments of :func:`meanfield.diagnostics.density_clusters` (``output.*``)."""
    o = cfg["output"]
    return {
        "level": o["cluster_level"],
        "cells": o["cluster_cells"],
        "min_mass": o["cluster_min_mass"],
    }


def token_step(model: Attention, d: int, scale: float, duration: float) -> float:
    """The automatic RK4 step times ``scale``, refused when it needs over :data:`MAX_STEPS`
    steps over ``duration`` (a huge beta would otherwise run for ever).

    Raises
    ------
    ValueError
        Naming ``model.beta``.
    """
    from ..solve import auto_dt

    dt = auto_dt(model, d) * scale
    if dt <= 0 or duration / dt > MAX_STEPS:
        raise ValueError(
            f"config key 'model.beta': at beta = {model.beta:g} the automatic token step is "
            f"{dt:.3g}, i.e. {duration / dt if dt > 0 else float('inf'):.3g} steps to "
            f"t = {duration:g}, more than {MAX_STEPS:.0e}; lower beta"
        )
    return dt


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
