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
    figures/               see :func:`meanfield.app.figures.plot_run`
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..eulerian.dg import Density
from .builders import (
    build_density,
    build_mesh,
    build_model,
    cluster_radius,
    density_options,
    output_times,
    particle_options,
)
from .config import check_dimension
from .rundir import Frame, RunDirectory, Setup, run_directory

__all__ = [
    "RunResult",
    "prepare",
    "advance",
    "diagnose",
    "execute",
]


# ------------------------------------------------------------------------------- setup
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
    space, rho0 = build_density(cfg, mesh)
    p = cfg["particles"]
    x0 = rho0.sample(p["n"], p["seed"]) if p["enabled"] else None
    return Setup(cfg, mesh, space, model, rho0, x0, output_times(cfg))


# ------------------------------------------------------------------------------- state
#: Lattice size of the runs' W1 on S^2 (:func:`meanfield.wasserstein`'s ``max_support``):
#: larger measures (the density's quadrature measure, 20 000 tokens) are binned onto this many
#: Fibonacci nodes. On the default run it is within 0.005 of the value at 3000 nodes at every
#: output and costs 2.4 CPU s over the run instead of 6.7 s.
W1_SUPPORT = 2000


def diagnose(setup: Setup, coefficients: np.ndarray, x: np.ndarray | None) -> dict:
    r"""Diagnostics of one frame (see :data:`DENSITY_SERIES`, :data:`PARTICLE_SERIES`).

    ``log_energy`` is :math:`\log E_\beta` of the density's quadrature measure (the log
    keeps large beta in range: :math:`E_\beta` reaches :math:`e^\beta/(2\beta)`),
    ``clusters`` the number of concentrations by :func:`meanfield.diagnostics.measure_clusters`
    (0 while the density is still spread out) at :func:`cluster_radius` and
    ``output.cluster_level``; for the tokens, the same rule on the empirical measure,
    ``distance_w1`` the Wasserstein-1 distance (geodesic, radians) between the tokens and the
    density (:func:`meanfield.wasserstein`; on S^2 both binned on :data:`W1_SUPPORT` nodes
    when larger), ``moment_gap`` the distance between their
    first moments and (not on a zonal mesh) ``cluster_mass_gap`` how far the two cluster
    lists differ (:func:`meanfield.diagnostics.cluster_mass_gap`: the largest mass difference
    of paired clusters or mass of an unpaired one, as fractions of the mass).
    """
    from ..compare import wasserstein
    from ..diagnostics import cluster_mass_gap, first_moment, log_energy, measure_clusters
    from ..eulerian.zonal import zonal_clusters

    out = setup.config["output"]
    radius = cluster_radius(setup.config, setup.space)
    rule = {"radius": radius, "level": out["cluster_level"], "min_mass": out["cluster_min_mass"]}
    beta = setup.model.beta
    rho = Density(setup.space, coefficients)
    mass = rho.integrate()
    zonal = setup.space.mesh.kind == "zonal"  # its atoms are rings: count poles and rings
    found = (zonal_clusters(rho, out["cluster_level"], out["cluster_min_mass"]) if zonal
             else measure_clusters(rho, **rule))  # fmt: skip
    diag = {
        "mass": mass,
        "min_density": rho.min_value(),
        "max_density": float(rho.cell_means().max()),
        "log_energy": log_energy(rho, beta),
        "clusters": found.count,
    }
    if x is not None:
        n = x.shape[0]
        tokens = (x, np.full(n, mass / n))
        theirs = measure_clusters(x, **rule)
        diag.update(
            particle_log_energy=log_energy(x, beta),
            particle_clusters=theirs.count,
            distance_w1=wasserstein(rho, tokens, p=1, max_support=W1_SUPPORT),
            moment_gap=float(np.linalg.norm(first_moment(rho) / mass - first_moment(x))),
        )
        if not zonal:  # the same rule on both measures: their clusters pair up
            diag["cluster_mass_gap"] = cluster_mass_gap(found, theirs, radius)
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
    from ..solve import solve_density, solve_particles

    start = time.perf_counter()
    k = frame.index
    span = setup.times[k : k + 2]
    cfg, p = setup.config, setup.config["particles"]
    if cfg["solver"]["scheme"] == "lagrangian":
        if cfg["model"]["diffusion"] > 0:
            raise ValueError(
                "config: solver.scheme = 'lagrangian' has no diffusion; model.diffusion > 0 "
                "needs solver.scheme = 'eulerian'"
            )
        c, steps = _advance_flow_map(setup, k)
    else:
        rho = Density(setup.space, frame.coefficients)
        sol = solve_density(setup.model, rho, span, **density_options(cfg))
        c, steps = sol.densities[-1].coefficients, int(sol.stats.steps)
    x, particle_steps = None, 0
    if frame.x is not None:
        # the noise of frame k is drawn from (seed, k): a resumed run repeats it exactly
        rng = np.random.default_rng([p["seed"], 1, k])
        traj = solve_particles(setup.model, frame.x, span, **particle_options(cfg), rng=rng)
        x, particle_steps = traj.x[-1], int(traj.stats.steps)
    diag = diagnose(setup, c, x)
    stats = {
        "steps": steps,
        "particle_steps": particle_steps,
        "seconds": time.perf_counter() - start,
    }
    return Frame(k + 1, float(span[1]), c, x, diag, stats)


#: The last Lagrangian frame computed: (setup, frame index, flow map) or empty.
_FLOW_MAP: list = []


def _advance_flow_map(setup: Setup, k: int):
    """Frame k + 1 of a Lagrangian run: (DG coefficients of the deposit, RK4 steps taken).

    The flow map itself is not a DG function: it is kept in memory between frames, and a run
    resumed from a checkpoint rebuilds it by one solve from ``rho0`` through the same output
    times (the same RK4 steps, so the same state). The frame's density is the flow map's
    mass-conservative deposit on the run's DG space (:meth:`FlowMapDensity.project`), which
    is what the diagnostics, VTK frames and figures see.
    """
    from ..lagrangian import default_step, solve_lagrangian
    from ..solve import LAGRANGIAN_METHODS

    s = setup.config["solver"]
    # solver.method defaults to the Eulerian scheme's; the flow map then takes its own default
    method = s["method"] if s["method"] in LAGRANGIAN_METHODS else LAGRANGIAN_METHODS[0]
    dt = min(default_step(setup.model, setup.space.dim, 1e-8), s["dt_max"])
    hit = bool(_FLOW_MAP) and _FLOW_MAP[0] is setup and _FLOW_MAP[1] == k
    state = _FLOW_MAP[2] if hit else None
    times = setup.times[k : k + 2] if state is not None else setup.times[: k + 2]
    densities, stats = solve_lagrangian(setup.model, setup.rho0, times, method, dt,
                                        s["field"], state=state)  # fmt: skip
    _FLOW_MAP[:] = [setup, k + 1, densities[-1].state]
    return densities[-1].project(setup.space).coefficients, int(stats.steps)


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
    where = "--out" if out is not None else "config key 'output.root'"
    rd = RunDirectory(run_directory(cfg, out), where)
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
        from .figures import plot_run

        figures = plot_run(rd.path, progress=progress)
    return RunResult(rd.path, summary, computed, complete, figures)


def _bar(show: bool, total: int, initial: int):
    if not show:
        return None
    from tqdm.auto import tqdm

    return tqdm(total=total, initial=initial, unit="frame", desc="run")
