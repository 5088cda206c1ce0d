"""The files of one run directory: writing frames atomically, resuming, reading a run back."""

from __future__ import annotations

import copy
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .._files import atomic_write, remove_temporaries
from ..eulerian.dg import DG, Density
from ..model import Attention
from ..sphere.mesh import SphereMesh
from .config import SCHEMA, dump_config, load_config
from .io import load_npz, save_json, save_npz, write_density_vtu, write_pvd

__all__ = [
    "AGREEMENT_TOL",
    "DENSITY_SERIES",
    "PARTICLE_SERIES",
    "Frame",
    "RunDirectory",
    "SavedRun",
    "Setup",
    "agreement",
    "load_run",
    "run_directory",
    "summarize",
]

#: Diagnostics of the density at every frame (summary.json "series" and density.npz).
DENSITY_SERIES = ("mass", "min_density", "max_density", "log_energy", "clusters")
#: Diagnostics of the tokens and of their distance to the density (particles.npz).
PARTICLE_SERIES = ("particle_log_energy", "particle_clusters", "distance_w1", "moment_gap")


@dataclass(frozen=True)
class Setup:
    """Everything a resolved configuration fixes; built by :func:`prepare`.

    Attributes
    ----------
    config : dict
        The resolved configuration.
    mesh : SphereMesh
    space : DG
    model : Attention
    rho0 : Density
        Initial density (limited, so non-negative at the scheme's points).
    x0 : ndarray, shape (n, d), or None
        Initial tokens, ``rho0.sample(n, seed)``; None when particles are disabled.
    times : ndarray, shape (T,)
        Output times: ``times.frames`` equally spaced times on [0, t_end] and the render times.
    """

    config: dict
    mesh: SphereMesh
    space: DG
    model: Attention
    rho0: Density
    x0: np.ndarray | None
    times: np.ndarray

    @property
    def dim(self) -> int:
        return self.mesh.dim


@dataclass
class Frame:
    """State at output index ``index``.

    Attributes
    ----------
    index : int
    t : float
    coefficients : ndarray, shape (n_cells, n_basis)
    x : ndarray, shape (n, d), or None
    diagnostics : dict of str -> float
        :data:`DENSITY_SERIES` and, with tokens, :data:`PARTICLE_SERIES`.
    stats : dict
        ``steps`` (density time steps to reach this frame from the previous one),
        ``particle_steps``, ``seconds`` (wall time of the frame).
    """

    index: int
    t: float
    coefficients: np.ndarray
    x: np.ndarray | None
    diagnostics: dict = field(default_factory=dict)
    stats: dict = field(default_factory=dict)


# ------------------------------------------------------------------------------- files
def run_directory(cfg: dict, out=None) -> Path:
    """``out`` if given, else ``<output.root>/<name>``."""
    return Path(out) if out is not None else Path(cfg["output"]["root"]) / cfg["name"]


def _comparable(cfg: dict) -> dict:
    """The parts of a configuration that fix the results (not where they are written)."""
    c = copy.deepcopy(cfg)
    c["output"].pop("root", None)
    return c


class RunDirectory:
    """Files of one run (see the module docstring for the layout).

    Parameters
    ----------
    path : str or Path
    """

    def __init__(self, path, where: str = "output directory"):
        self.path = Path(path)
        #: What chose the path, for messages (``"config key 'output.root'"``, ``"--out"``).
        self.where = where

    config = property(lambda self: self.path / "config.toml")
    checkpoints = property(lambda self: self.path / "checkpoints")
    pvd = property(lambda self: self.path / "density.pvd")
    density_npz = property(lambda self: self.path / "density.npz")
    particles_npz = property(lambda self: self.path / "particles.npz")
    summary = property(lambda self: self.path / "summary.json")
    figures = property(lambda self: self.path / "figures")

    def checkpoint(self, k: int) -> Path:
        return self.checkpoints / f"frame_{k:05d}.npz"

    def vtu(self, k: int) -> Path:
        return self.path / "vtk" / f"density_{k:05d}.vtu"

    # -------------------------------------------------------------- opening
    def open(self, cfg: dict, resume: bool) -> None:
        """Create the directory and write config.toml, or check it for ``resume``.

        Raises ``ValueError`` when the directory exists and ``resume`` is false, when it is not
        a run directory, or when its config.toml differs from ``cfg``.
        """
        p = self.path
        self._check_parent(cfg)
        if p.exists() and not resume:
            raise ValueError(
                f"output directory {str(p)!r} already exists; pass --resume to continue that "
                "run, or change the config's name / output.root (or --out)"
            )
        if p.exists():
            self._check_same_config(cfg)
            remove_temporaries(p)  # left by a run killed mid-write
            return
        try:
            p.mkdir(parents=True)
        except FileExistsError:
            raise ValueError(f"output directory {str(p)!r} already exists") from None
        except OSError as exc:
            raise ValueError(
                f"{self.where}: cannot create the run directory {str(p)!r}: {exc.strerror}"
            ) from None
        try:
            atomic_write(self.config, lambda tmp: tmp.write_text(dump_config(cfg)))
        except OSError as exc:
            p.rmdir()  # still empty: leave nothing behind
            raise ValueError(
                f"{self.where}: cannot write in the run directory {str(p)!r}: {exc.strerror}"
            ) from None

    def _check_parent(self, cfg: dict) -> None:
        """The nearest existing folder above the run directory must be a writable directory."""
        above = self.path.parent
        while not above.exists() and above != above.parent:
            above = above.parent
        if not above.is_dir():
            raise ValueError(f"{self.where}: {str(above)!r} is a file, not a directory")
        if not os.access(above, os.W_OK | os.X_OK):
            raise ValueError(f"{self.where}: the directory {str(above)!r} is not writable")

    def _check_same_config(self, cfg: dict) -> None:
        if not self.path.is_dir() or not self.config.is_file():
            raise ValueError(
                f"cannot resume in {str(self.path)!r}: it is not a run directory (no config.toml)"
            )
        saved = load_config(self.config)
        a, b = _comparable(saved), _comparable(cfg)
        if a != b:
            keys = [
                f"{s}.{k}"
                for s in SCHEMA
                for k in SCHEMA[s]
                if a.get(s, {}).get(k) != b.get(s, {}).get(k)
            ] + (["name"] if a["name"] != b["name"] else [])
            raise ValueError(
                f"cannot resume in {str(self.path)!r}: its config.toml differs in {', '.join(keys)}"
            )

    # -------------------------------------------------------------- frames
    def save_frame(self, setup: Setup, frame: Frame) -> None:
        """VTK frame first, checkpoint last: a checkpoint marks a finished frame."""
        if setup.config["output"]["vtk"]:
            write_density_vtu(self.vtu(frame.index), Density(setup.space, frame.coefficients))
            rows = [
                (setup.times[k], self.vtu(k).relative_to(self.path)) for k in range(frame.index + 1)
            ]
            write_pvd(self.pvd, rows)
        arrays = {"index": frame.index, "t": frame.t, "coefficients": frame.coefficients}
        if frame.x is not None:
            arrays["x"] = frame.x
        arrays.update({f"diag_{k}": v for k, v in frame.diagnostics.items()})
        arrays.update({f"stat_{k}": v for k, v in frame.stats.items()})
        save_npz(self.checkpoint(frame.index), **arrays)

    def load_frames(self, setup: Setup) -> list[Frame]:
        """The checkpointed frames 0, 1, ..., k (stopping at the first missing one)."""
        frames = []
        for k in range(len(setup.times)):
            path = self.checkpoint(k)
            if not path.is_file():
                break
            frames.append(self._frame(setup, k, path))
        return frames

    def _frame(self, setup: Setup, k: int, path: Path) -> Frame:
        a = load_npz(path, required=("index", "t", "coefficients"), what="checkpoint")
        c, x = a["coefficients"], a.get("x")
        try:
            ok = (
                int(a["index"]) == k
                and float(a["t"]) == float(setup.times[k])
                and c.shape == setup.rho0.coefficients.shape
                and (x is None) == (setup.x0 is None)
                and (x is None or x.shape == setup.x0.shape)
                and bool(np.all(np.isfinite(c)))
            )
            diag = {k_[5:]: v.item() for k_, v in a.items() if k_.startswith("diag_")}
            stats = {k_[5:]: v.item() for k_, v in a.items() if k_.startswith("stat_")}
        except (TypeError, ValueError):
            ok = False
        if not ok:
            raise ValueError(
                f"checkpoint {str(path)!r} is damaged or does not match the configuration "
                "(delete it and the later ones to recompute them)"
            )
        return Frame(k, float(a["t"]), c, x, diag, stats)

    # -------------------------------------------------------------- outputs
    def write_outputs(self, setup: Setup, frames: list[Frame], complete: bool) -> dict:
        """summary.json always; density.npz and particles.npz once ``complete``."""
        t = np.array([f.t for f in frames])
        series = {k: [f.diagnostics[k] for f in frames] for k in frames[0].diagnostics}
        if complete:
            mesh = setup.mesh
            save_npz(
                self.density_npz,
                t=t,
                coefficients=np.stack([f.coefficients for f in frames]),
                points=np.asarray(mesh.points),
                cells=np.asarray(mesh.cells),
                degree=setup.space.degree,
                # a zonal mesh is rebuilt from its polar-angle breakpoints
                **({"breakpoints": mesh.breakpoints} if mesh.kind == "zonal" else {}),
                **{k: np.asarray(series[k]) for k in DENSITY_SERIES},
            )
            if setup.x0 is not None:
                save_npz(
                    self.particles_npz,
                    t=t,
                    x=np.stack([f.x for f in frames]),
                    **{k: np.asarray(series[k]) for k in PARTICLE_SERIES},
                )
        summary = summarize(setup, frames, series, complete)
        save_json(self.summary, summary)
        return summary


def summarize(setup: Setup, frames: list[Frame], series: dict, complete: bool) -> dict:
    mass = np.asarray(series["mass"])
    cfg = setup.config
    summary = {
        "name": cfg["name"],
        "status": "complete" if complete else "running",
        "frames_done": len(frames),
        "frames": len(setup.times),
        "mesh": {
            "kind": cfg["mesh"]["kind"],
            "sphere": f"S^{setup.dim - 1}",
            "cells": setup.mesh.n_cells,
        },
        "degree": setup.space.degree,
        "model": repr(setup.model),
        "tokens": 0 if setup.x0 is None else int(setup.x0.shape[0]),
        "mass_drift": float(np.max(np.abs(mass - mass[0])) / abs(mass[0])),
        "min_density": float(np.min(series["min_density"])),
        "density_steps": int(sum(f.stats.get("steps", 0) for f in frames)),
        "particle_steps": int(sum(f.stats.get("particle_steps", 0) for f in frames)),
        "compute_seconds": float(sum(f.stats.get("seconds", 0.0) for f in frames)),
        "final": {k: v[-1] for k, v in series.items()},
        "series": {"t": [f.t for f in frames], **series},
    }
    found = agreement([f.t for f in frames], series)
    if found is not None:
        summary["agreement"] = found
    return summary


#: Largest cluster mass gap (:func:`meanfield.diagnostics.cluster_mass_gap`, a fraction of the
#: mass) at which a run calls its PDE and its tokens in agreement. The default run's 20 000
#: tokens measure 0.018-0.027 over seeds 0-4 (their sampling noise, grown by the instability).
AGREEMENT_TOL = 0.05


def agreement(t, series) -> dict | None:
    """PDE against tokens after the clusters have formed (None without tokens or on a zonal
    mesh): from the first output at which the density's cluster count reaches its final value
    and keeps it, do the tokens have as many clusters at every output, and how far apart are
    the cluster masses (largest ``cluster_mass_gap``)?

    Returns
    -------
    dict or None
        ``clusters`` (the density's final count), ``from_t``, ``counts_agree``,
        ``count_mismatch_t`` (outputs from ``from_t`` where the counts differ),
        ``max_mass_gap``, ``tolerance`` (:data:`AGREEMENT_TOL`) and ``agree`` (counts agree
        and the gap is within the tolerance).
    """
    if "cluster_mass_gap" not in series:
        return None
    pde, tok, gap = series["clusters"], series["particle_clusters"], series["cluster_mass_gap"]
    k = len(pde) - 1
    while k > 0 and pde[k - 1] == pde[-1]:
        k -= 1
    wrong = [t[j] for j in range(k, len(pde)) if tok[j] != pde[j]]
    worst = float(max(gap[k:]))
    return {
        "clusters": int(pde[-1]),
        "from_t": float(t[k]),
        "counts_agree": not wrong,
        "count_mismatch_t": wrong,
        "max_mass_gap": worst,
        "tolerance": AGREEMENT_TOL,
        "agree": not wrong and worst <= AGREEMENT_TOL,
    }


# ------------------------------------------------------------------------------- driver


# ------------------------------------------------------------------------------- reading
@dataclass(frozen=True)
class SavedRun:
    """A finished run read back from its directory (:func:`load_run`).

    Attributes
    ----------
    directory : Path
    config : dict
    space : DG
        Rebuilt from the mesh arrays stored in density.npz (no mesh file needed).
    t : ndarray, shape (T,)
    coefficients : ndarray, shape (T, n_cells, n_basis)
    x : ndarray, shape (T, n, d), or None
    summary : dict
    """

    directory: Path
    config: dict
    space: DG
    t: np.ndarray
    coefficients: np.ndarray
    x: np.ndarray | None
    summary: dict

    def density(self, k: int) -> Density:
        """The density at output index k."""
        return Density(self.space, self.coefficients[k])


def load_run(directory) -> SavedRun:
    """Read a finished run directory (config.toml, density.npz, particles.npz, summary.json).

    Raises
    ------
    ValueError
        When the directory is missing or the run is not finished (no density.npz).
    """
    import json
    import tomllib

    rd = RunDirectory(directory)
    if not rd.path.is_dir():
        raise ValueError(f"run directory {str(rd.path)!r} does not exist")
    for f in (rd.config, rd.density_npz, rd.summary):
        if not f.is_file():
            raise ValueError(
                f"{str(rd.path)!r} is not a finished run directory: {f.name} is missing "
                "(continue an interrupted run with meanfield run CONFIG --resume)"
            )

    def damaged(path, why):
        return ValueError(f"run file {str(path)!r} is damaged: {why}")

    # read as written (already resolved): a mesh file that has moved since is not needed here
    try:
        cfg = tomllib.loads(rd.config.read_bytes().decode("utf-8"))
        render = [float(t) for t in cfg["output"]["render"]]
    except (UnicodeDecodeError, tomllib.TOMLDecodeError, KeyError, TypeError, ValueError) as e:
        raise damaged(rd.config, f"not the TOML of a run ({type(e).__name__}: {e})") from None
    dens = load_npz(rd.density_npz, ("t", "coefficients", "points", "cells", "degree"), "run file")
    try:
        if "breakpoints" in dens:
            mesh = SphereMesh.zonal(dens["points"].shape[1], dens["breakpoints"])
        else:
            mesh = SphereMesh.from_arrays(dens["points"], dens["cells"])
        space = DG(mesh, int(dens["degree"]))
    except (TypeError, ValueError) as exc:
        raise damaged(rd.density_npz, f"its mesh does not build ({exc})") from None
    t, c = dens["t"], dens["coefficients"]
    if t.ndim != 1 or c.shape != (t.size, mesh.n_cells, space.n_basis) or t.size == 0:
        raise damaged(
            rd.density_npz,
            f"coefficients of shape {c.shape} do not match {t.size} times x {mesh.n_cells} "
            f"cells x {space.n_basis} basis functions",
        )
    x = None
    if rd.particles_npz.is_file():
        x = load_npz(rd.particles_npz, ("x",), "run file")["x"]
        if x.ndim != 3 or x.shape[0] != t.size or x.shape[2] != mesh.dim:
            raise damaged(rd.particles_npz, f"x of shape {x.shape} is not ({t.size}, n, d)")
    try:
        summary = json.loads(rd.summary.read_bytes().decode("utf-8"))
        series = summary["series"]
        needed = ("t", *DENSITY_SERIES, *(PARTICLE_SERIES if x is not None else ()))
        if any(len(series[k]) != t.size for k in needed):
            raise ValueError(f"its series do not all have {t.size} values")
    except (UnicodeDecodeError, json.JSONDecodeError, KeyError, TypeError, ValueError) as e:
        raise damaged(
            rd.summary, f"not the summary of this run ({type(e).__name__}: {e})"
        ) from None
    cfg["output"]["render"] = render
    return SavedRun(rd.path, cfg, space, t, c, x, summary)
