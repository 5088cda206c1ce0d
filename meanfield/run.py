r"""Runs: a resolved configuration in, a directory of results out.

State is kept apart from stepping:

- :class:`Setup` holds what a configuration fixes (mesh, DG space, model, initial density and
  tokens, output times). :func:`prepare` builds it and validates everything, reading the mesh
  file included, without touching the disk.
- :class:`Frame` is the state at one output time: density coefficients, tokens and the
  diagnostics of both.
- :func:`advance` computes frame k + 1 from frame k; it does no I/O.
- :class:`RunDirectory` writes one atomic checkpoint per frame and the final outputs, and reads
  the checkpoints back; :func:`execute` strings the pieces together and resumes from the last
  checkpoint.

Because the uninterrupted run also goes frame by frame from the saved state, a resumed run
repeats exactly the same operations and ends in the same final state.

Layout of a run directory ``<output.root>/<name>/``::

    config.toml            the resolved configuration (written first)
    checkpoints/frame_NNNNN.npz  one per finished frame: the state to resume from
    density.pvd, vtk/density_NNNNN.vtu   VTK time series (output.vtk)
    density.npz, particles.npz, summary.json   written when the last frame is done
    figures/               see :func:`meanfield.plot.plot_run`
"""

from __future__ import annotations

import copy
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .config import SCHEMA, check_dimension, dump_config, load_config
from .dg import DG, Density
from .io import load_npz, save_json, save_npz, write_density_vtu, write_pvd
from .mesh import SphereMesh
from .model import Attention

__all__ = [
    "Setup",
    "Frame",
    "RunDirectory",
    "RunResult",
    "prepare",
    "advance",
    "diagnose",
    "execute",
    "run_directory",
    "SavedRun",
    "load_run",
]

#: Diagnostics of the density at every frame (summary.json "series" and density.npz).
DENSITY_SERIES = ("mass", "min_density", "max_density", "energy", "clusters")
#: Diagnostics of the tokens and of their distance to the density (particles.npz).
PARTICLE_SERIES = ("particle_energy", "particle_clusters", "distance_w1", "moment_gap")


# ------------------------------------------------------------------------------- setup
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
    from .initial import ModePerturbation, Uniform, VonMisesFisher, WhiteNoise

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


def prepare(cfg: dict) -> Setup:
    """Build and check everything a resolved configuration asks for; nothing is written.

    Raises
    ------
    ValueError
        Naming the configuration key at fault (a mesh file that does not read, a matrix that
        does not match the mesh's dimension, ...).
    """
    mesh = build_mesh(cfg)
    d = mesh.dim
    check_dimension(cfg, d)
    model = build_model(cfg, d)
    space = DG(mesh, cfg["solver"]["degree"])
    rho0 = space.interpolate(build_initial(cfg, d))
    if rho0.cell_means().min() < 0:
        raise ValueError(
            f"config section 'initial': the initial density has a negative cell mean "
            f"({rho0.cell_means().min():.3g}) on this mesh"
        )
    rho0 = rho0.limit()
    p = cfg["particles"]
    x0 = rho0.sample(p["n"], p["seed"]) if p["enabled"] else None
    return Setup(cfg, mesh, space, model, rho0, x0, output_times(cfg))


# ------------------------------------------------------------------------------- state
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


def diagnose(setup: Setup, coefficients: np.ndarray, x: np.ndarray | None) -> dict:
    """Diagnostics of one frame (see :data:`DENSITY_SERIES`, :data:`PARTICLE_SERIES`).

    ``energy`` is :math:`E_\beta` of the density's quadrature measure, ``clusters`` the
    number of regions above 4 times the uniform level
    (:func:`meanfield.diagnostics.density_clusters`,
    0 while the density is still spread out); for the tokens, the same on the empirical measure,
    ``distance_w1`` the Wasserstein-1 distance (geodesic, radians) between the tokens and the
    density (:func:`meanfield.wasserstein`), and ``moment_gap`` the distance between their
    first moments.
    """
    from .compare import wasserstein
    from .diagnostics import density_clusters, energy, find_clusters, first_moment

    out = setup.config["output"]
    beta = setup.model.beta
    rho = Density(setup.space, coefficients)
    mass = rho.integrate()
    diag = {
        "mass": mass,
        "min_density": rho.min_value(),
        "max_density": float(rho.cell_means().max()),
        "energy": energy(rho, beta),
        "clusters": density_clusters(rho, min_mass=out["cluster_min_mass"]).count,
    }
    if x is not None:
        n = x.shape[0]
        tokens = (x, np.full(n, mass / n))
        found = find_clusters(x, radius=out["cluster_radius"], min_mass=out["cluster_min_mass"])
        diag.update(
            particle_energy=energy(x, beta),
            particle_clusters=found.count,
            distance_w1=wasserstein(rho, tokens, p=1),
            moment_gap=float(np.linalg.norm(first_moment(rho) / mass - first_moment(x))),
        )
    return diag


def initial_frame(setup: Setup) -> Frame:
    c = setup.rho0.coefficients.copy()
    x = None if setup.x0 is None else setup.x0.copy()
    stats = {"steps": 0, "particle_steps": 0, "seconds": 0.0}
    return Frame(0, float(setup.times[0]), c, x, diagnose(setup, c, x), stats)


def advance(setup: Setup, frame: Frame) -> Frame:
    """Frame k + 1 from frame k: the density and the tokens over [t_k, t_{k+1}].

    Pure stepping: reads only ``frame`` and ``setup``, writes nothing.
    """
    from .solve import solve_density, solve_particles

    start = time.perf_counter()
    s, p = setup.config["solver"], setup.config["particles"]
    k = frame.index
    span = setup.times[k : k + 2]
    sol = solve_density(
        setup.model,
        Density(setup.space, frame.coefficients),
        span,
        cfl=s["cfl"],
        dt_max=s["dt_max"],
        method=s["scheme"],
        velocity_method=s["velocity"],
    )
    c = sol.densities[-1].coefficients
    x, particle_steps = None, 0
    if frame.x is not None:
        traj = solve_particles(
            setup.model, frame.x, span, dt=p["dt"], method=p["method"], velocity=s["velocity"]
        )
        x, particle_steps = traj.x[-1], int(traj.stats.get("steps", traj.stats.get("nfev", 0)))
    diag = diagnose(setup, c, x)
    stats = {
        "steps": int(sol.stats["steps"]),
        "particle_steps": particle_steps,
        "seconds": time.perf_counter() - start,
    }
    return Frame(k + 1, float(span[1]), c, x, diag, stats)


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

    def __init__(self, path):
        self.path = Path(path)

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
        if p.exists() and not resume:
            raise ValueError(
                f"output directory {str(p)!r} already exists; pass --resume to continue that "
                "run, or change the config's name / output.root (or --out)"
            )
        if p.exists():
            self._check_same_config(cfg)
            return
        try:
            p.mkdir(parents=True)
        except FileExistsError:
            raise ValueError(f"output directory {str(p)!r} already exists") from None
        from .io import atomic_write

        atomic_write(self.config, lambda tmp: tmp.write_text(dump_config(cfg)))

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
            a = load_npz(path)
            c = a["coefficients"]
            x = a.get("x")
            ok = (
                int(a["index"]) == k
                and float(a["t"]) == float(setup.times[k])
                and c.shape == setup.rho0.coefficients.shape
                and (x is None) == (setup.x0 is None)
                and (x is None or x.shape == setup.x0.shape)
            )
            if not ok:
                raise ValueError(f"checkpoint {str(path)!r} does not match the configuration")
            diag = {k_[5:]: v.item() for k_, v in a.items() if k_.startswith("diag_")}
            stats = {k_[5:]: v.item() for k_, v in a.items() if k_.startswith("stat_")}
            frames.append(Frame(k, float(a["t"]), c, x, diag, stats))
        return frames

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
                **{k: np.asarray(series[k]) for k in DENSITY_SERIES},
            )
            if setup.x0 is not None:
                save_npz(
                    self.particles_npz,
                    t=t,
                    x=np.stack([f.x for f in frames]),
                    **{k: np.asarray(series[k]) for k in PARTICLE_SERIES},
                )
        summary = _summary(setup, frames, series, complete)
        save_json(self.summary, summary)
        return summary


def _summary(setup: Setup, frames: list[Frame], series: dict, complete: bool) -> dict:
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
    return summary


# ------------------------------------------------------------------------------- driver
@dataclass(frozen=True)
class RunResult:
    """What :func:`execute` did.

    Attributes
    ----------
    directory : Path
    summary : dict
        The content of summary.json.
    computed : int
        Frames computed in this call (the rest came from checkpoints).
    complete : bool
        False when stopped early by ``stop_after``.
    figures : list of Path
    """

    directory: Path
    summary: dict
    computed: int
    complete: bool
    figures: list


def execute(
    cfg: dict, out=None, resume: bool = False, progress: bool = False, stop_after=None
) -> RunResult:
    """Run a resolved configuration frame by frame, checkpointing after every frame.

    Parameters
    ----------
    cfg : dict
        A resolved configuration (:func:`meanfield.config.resolve`).
    out : str or Path, optional
        Run directory (default ``<output.root>/<name>``).
    resume : bool
        Continue from the last checkpoint of an existing run directory (whose config.toml
        must match ``cfg`` except ``output.root``); without it an existing directory is an
        error.
    progress : bool
        tqdm progress bars.
    stop_after : int, optional
        Return once frame ``stop_after`` is saved, as if the run were killed there (for
        tests of ``resume``).

    Returns
    -------
    RunResult
    """
    setup = prepare(cfg)  # everything is checked before anything is written
    rd = RunDirectory(run_directory(cfg, out))
    rd.open(cfg, resume)
    frames = rd.load_frames(setup) if resume else []
    computed = 0
    if not frames:
        frames.append(initial_frame(setup))
        rd.save_frame(setup, frames[0])
        computed += 1
    bar = _bar(progress, len(setup.times) - 1, len(frames) - 1)
    try:
        while len(frames) < len(setup.times):
            if stop_after is not None and frames[-1].index >= stop_after:
                break
            frames.append(advance(setup, frames[-1]))
            rd.save_frame(setup, frames[-1])
            rd.write_outputs(setup, frames, complete=False)
            computed += 1
            if bar is not None:
                bar.update(1)
                bar.set_postfix(
                    t=f"{frames[-1].t:.3g}", clusters=frames[-1].diagnostics["clusters"]
                )
    finally:
        if bar is not None:
            bar.close()
    complete = len(frames) == len(setup.times)
    summary = rd.write_outputs(setup, frames, complete=complete)
    figures = []
    if complete and cfg["output"]["figures"]:
        from .plot import plot_run

        figures = plot_run(rd.path, progress=progress)
    return RunResult(rd.path, summary, computed, complete, figures)


def _bar(show: bool, total: int, initial: int):
    if not show:
        return None
    from tqdm.auto import tqdm

    return tqdm(total=total, initial=initial, unit="frame", desc="run")


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
    # read as written (already resolved): a mesh file that has moved since is not needed here
    cfg = tomllib.loads(rd.config.read_text())
    dens = load_npz(rd.density_npz)
    space = DG(SphereMesh.from_arrays(dens["points"], dens["cells"]), int(dens["degree"]))
    x = load_npz(rd.particles_npz)["x"] if rd.particles_npz.is_file() else None
    summary = json.loads(rd.summary.read_text())
    return SavedRun(rd.path, cfg, space, dens["t"], dens["coefficients"], x, summary)
