"""The registered sweep tasks: particles, density, and both."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from ..._checks import as_int, as_scalar
from ...diagnostics import density_clusters
from ...field.registry import EVALUATORS
from .registry import Param, register_task
from .table import time_column

# --------------------------------------------------------------------------------------------
# the particles task

#: Metrics the particles task can report at every output time.
PARTICLE_METRICS = ("fraction_above", "clusters", "energy")


@register_task(
    "particles",
    parameters={
        "beta": Param("float", doc="inverse temperature"),
        "n": Param("int", 32, doc="tokens per ensemble"),
        "d": Param("int", 3, doc="ambient dimension (sphere S^{d-1})"),
        "starts": Param("int", 16, doc="independent uniform random starts, run as one batch"),
        "seed": Param("int", 0, doc="seed of the random starts"),
        "t": Param("times", {"start": 0.0, "stop": 10.0, "num": 11}, doc="output times"),
        "normalized": Param("bool", True, doc="SA (true) or USA (false)"),
        "diffusion": Param("float", 0.0, doc="noise D >= 0 (Brownian step, seeded by seed)"),
        "dt": Param("float", None, doc="RK4 step; default auto_dt * dt_scale"),
        "dt_scale": Param("float", 1.0, doc="factor on the automatic RK4 step"),
        "threshold": Param("float", 0.999, doc="cosine above which a pair is 'together'"),
        "radius": Param("float", 0.05, doc="cluster radius (geodesic) for the cluster count"),
        "metrics": Param(
            "strs", list(PARTICLE_METRICS), doc="reported metrics", choices=PARTICLE_METRICS
        ),
        "save": Param("bool", False, doc="keep the trajectory as artifacts/<key>/trajectory.npz"),
    },
)
def particles_task(params: dict, artifacts: Path) -> dict:
    r"""Batched token ensembles from uniform random starts (Q = K = V = I).

    ``starts`` ensembles of ``n`` tokens on :math:`S^{d-1}`, drawn as
    ``sample_sphere(starts * n, d, seed).reshape(starts, n, d)``, are advanced together by
    :func:`meanfield.solve_particles`. At every output time :math:`t` it reports the mean over
    starts of

    - ``fraction_above@t=..``: the fraction of pairs :math:`i<j` with
      :math:`\langle x_i, x_j\rangle >` ``threshold``;
    - ``clusters@t=..``: the cluster count (:func:`meanfield.diagnostics.find_clusters`);
    - ``energy@t=..``: :math:`E_\beta` (:func:`meanfield.diagnostics.energy`);

    and ``steps``, the RK4 steps taken.
    """
    from ...diagnostics import energy, find_clusters, pairwise_cosines
    from ...initial import sample_sphere
    from ...model import Attention
    from ...solve import auto_dt, solve_particles

    n = as_int(params["n"], "n", min_value=2)
    d = as_int(params["d"], "d", min_value=2)
    starts = as_int(params["starts"], "starts", min_value=1)
    model = Attention(params["beta"], normalized=params["normalized"])
    dt = params["dt"]
    if dt is None:
        dt = auto_dt(model, d) * as_scalar(params["dt_scale"], "dt_scale", min_value=0, strict=True)
    x0 = sample_sphere(starts * n, d, params["seed"]).reshape(starts, n, d)
    noise = {"diffusion": params["diffusion"], "rng": np.random.default_rng([params["seed"], 1])}
    traj = solve_particles(model, x0, params["t"], dt=dt, **noise)
    metrics = {
        "fraction_above": lambda x: pairwise_cosines(x, params["threshold"])["fraction_above"],
        "clusters": lambda x: find_clusters(x, radius=params["radius"]).count,
        "energy": lambda x: energy(x, model.beta),
    }
    row = {"steps": int(traj.stats.steps)}
    for name in params["metrics"]:
        for k, t in enumerate(traj.t):
            row[time_column(name, t)] = float(np.mean([metrics[name](x) for x in traj.x[k]]))
    if params["save"]:
        artifacts.mkdir(parents=True, exist_ok=True)
        path = artifacts / "trajectory.npz"
        np.savez_compressed(path, t=traj.t, x=traj.x)
        row["artifact"] = str(path)
    return row


# --------------------------------------------------------------------------------------------
# the density and both tasks

#: Initial densities of the density task (see :mod:`meanfield.initial`).
INITIAL_KINDS = ("uniform", "mode", "vmf", "white_noise")

#: Parameters of the mean-field PDE run (shared by the density and both tasks).
DENSITY_PARAMETERS = {
    "beta": Param("float", doc="inverse temperature"),
    "d": Param("int", 3, doc="ambient dimension: 2 (circle mesh) or 3 (icosphere)"),
    "level": Param("int", 2, doc="icosphere refinement level (d = 3)"),
    "cells": Param("int", 128, doc="circle cells (d = 2)"),
    "degree": Param("int", 1, doc="DG degree (0, 1 or 2)"),
    "initial": Param("str", "white_noise", doc="initial density", choices=INITIAL_KINDS),
    "amplitude": Param("float", 0.05, doc="perturbation size (mode, white_noise), |.| < 1"),
    "ell": Param("int", 4, doc="harmonic degree (mode)"),
    "m": Param("int", 0, doc="harmonic order (mode)"),
    "ell_max": Param("int", 8, doc="highest degree (white_noise)"),
    "initial_seed": Param("int", 0, doc="white-noise seed"),
    "kappa": Param("float", 10.0, doc="concentration of the vMF density centred at e_d (vmf)"),
    "t": Param("times", {"start": 0.0, "stop": 10.0, "num": 11}, doc="output times"),
    "normalized": Param("bool", True, doc="SA (true) or USA (false)"),
    "diffusion": Param("float", 0.0, doc="noise D >= 0 (eulerian: IMEX; tokens: Brownian step)"),
    "cfl": Param("float", 0.5, doc="CFL number (eulerian)"),
    "dt_max": Param("float", 0.05, doc="largest time step"),
    "field": Param("str", "auto", doc="field evaluator", choices=tuple(EVALUATORS)),
    "scheme": Param("str", "eulerian", doc="density scheme", choices=("eulerian", "lagrangian")),
    "cluster_level": Param(
        "float", 4.0, doc="cluster points: density above this multiple of the uniform density"
    ),
    "cluster_cells": Param("float", 3.0, doc="cluster chaining radius, in mesh resolutions"),
    "cluster_min_mass": Param("float", 0.01, doc="lighter clusters (mass fraction) not counted"),
    "save": Param("bool", False, doc="keep the DG coefficients as artifacts/<key>/density.npz"),
}


def _initial_density(params: dict):
    from ... import initial

    d, kind = params["d"], params["initial"]
    if kind == "uniform":
        return initial.Uniform(d)
    if kind == "mode":
        return initial.ModePerturbation(d, params["ell"], params["amplitude"], params["m"])
    if kind == "vmf":
        return initial.VonMisesFisher(np.eye(d)[-1:], params["kappa"])
    return initial.WhiteNoise(d, params["amplitude"], params["ell_max"], params["initial_seed"])


def _mesh(params: dict):
    from ...sphere.mesh import SphereMesh

    d = as_int(params["d"], "d")
    if d == 2:
        return SphereMesh.circle(as_int(params["cells"], "cells", min_value=3))
    if d == 3:
        return SphereMesh.icosphere(as_int(params["level"], "level", min_value=0))
    raise ValueError(f"d must be 2 (circle) or 3 (icosphere) for a density run, got {d}")


def _run_density(params: dict):
    """(solution, model, row) of the PDE part: invariants, energy and clusters per time."""
    from ...diagnostics import energy
    from ...eulerian.dg import DG
    from ...model import Attention
    from ...solve import solve_density

    cpu = time.process_time()
    model = Attention(params["beta"], normalized=params["normalized"])
    rho0 = DG(_mesh(params), params["degree"]).interpolate(_initial_density(params))
    # the CFL number is the Eulerian scheme's; the Lagrangian one caps its RK4 step by dt_max
    options = {"cfl": params["cfl"]} if params["scheme"] == "eulerian" else {}
    sol = solve_density(
        model,
        rho0,
        params["t"],
        scheme=params["scheme"],
        dt_max=params["dt_max"],
        field=params["field"],
        diffusion=params["diffusion"],
        **options,
    )
    solve_cpu = time.process_time() - cpu
    m0 = sol.mass[0]
    clusters = [
        density_clusters(
            rho, params["cluster_level"], params["cluster_cells"], params["cluster_min_mass"]
        )
        for rho in sol.densities
    ]
    energies = [energy(rho, model.beta) for rho in sol.densities]
    row = {
        "mass_drift": float(np.max(np.abs(sol.mass - m0)) / m0),
        "min_density": float(min(_min_value(rho) for rho in sol.densities)),
        "energy_final": float(energies[-1]),
        "energy_max_decrease": float(
            max(0.0, np.max(-np.diff(energies) / np.abs(energies[:-1]), initial=0.0))
        ),
        "clusters_final": int(clusters[-1].count),
        "cluster_mass_final": float(clusters[-1].masses.sum() / m0),
        "steps": int(sol.stats.steps),
        "rejected": int(sol.stats.rejected),
        "solve_cpu_s": float(solve_cpu),
    }
    for k, t in enumerate(sol.t):
        row[time_column("clusters", t)] = int(clusters[k].count)
        row[time_column("energy", t)] = float(energies[k])
    return sol, model, row


def _min_value(rho) -> float:
    """Smallest density value the scheme holds: DG points, or the moved quadrature points."""
    if hasattr(rho, "min_value"):
        return rho.min_value()
    return float(rho.quadrature_values().min())


def _save_density(sol, artifacts: Path) -> str:
    artifacts.mkdir(parents=True, exist_ok=True)
    path = artifacts / "density.npz"
    if sol.scheme == "lagrangian":  # the moved quadrature measure at every output
        points = np.stack([rho.quadrature_measure()[0] for rho in sol.densities])
        masses = sol.densities[0].quadrature_measure()[1]
        np.savez_compressed(path, t=sol.t, points=points, masses=masses, mass=sol.mass)
        return str(path)
    coefficients = np.stack([rho.coefficients for rho in sol.densities])
    np.savez_compressed(path, t=sol.t, coefficients=coefficients, mass=sol.mass)
    return str(path)


@register_task("density", parameters=DENSITY_PARAMETERS)
def density_task(params: dict, artifacts: Path) -> dict:
    r"""One mean-field PDE run (:func:`meanfield.solve_density`, Q = K = V = I).

    The initial density (``initial``: uniform, a harmonic ``mode``, a ``vmf`` bump at
    :math:`e_d`, or seeded ``white_noise``; see :mod:`meanfield.initial`) is interpolated on a
    circle mesh (d = 2, ``cells``) or an icosphere (d = 3, ``level``) with DG ``degree`` and
    advanced to the output times ``t``. The row holds

    - ``mass_drift``: :math:`\max_t |M(t) - M(0)| / M(0)`;
    - ``min_density``: the smallest :meth:`Density.min_value` over the output times;
    - ``energy_final`` (:math:`E_\beta` at the last time) and ``energy_max_decrease``, the
      largest relative decrease of :math:`E_\beta` between consecutive output times (0 when it
      never decreases);
    - ``clusters_final`` and ``cluster_mass_final`` (the mass fraction they hold), from
      :func:`density_clusters`;
    - ``clusters@t=..`` and ``energy@t=..`` at every output time;
    - ``steps``, ``rejected`` (halved steps), ``solve_cpu_s`` and ``cpu_s``: CPU seconds
      (``time.process_time``) of the solve and of the whole point. They count every thread of
      the worker's process, so they are this point's own only with process workers.
    """
    cpu = time.process_time()
    sol, _, row = _run_density(params)
    if params["save"]:
        row["artifact"] = _save_density(sol, artifacts)
    row["cpu_s"] = float(time.process_time() - cpu)
    return row


@register_task(
    "both",
    parameters={
        **DENSITY_PARAMETERS,
        "n": Param("int", 2000, doc="tokens per ensemble, drawn from the initial density"),
        "starts": Param("int", 1, doc="independent token draws, run as one batch"),
        "seed": Param("int", 0, doc="seed of the token draws"),
        "dt": Param("float", None, doc="RK4 step; default auto_dt * dt_scale"),
        "dt_scale": Param("float", 1.0, doc="factor on the automatic RK4 step"),
        "radius": Param("float", 0.05, doc="cluster radius (geodesic) for the token clusters"),
    },
)
def both_task(params: dict, artifacts: Path) -> dict:
    r"""The PDE run of the ``density`` task and tokens drawn from its initial density.

    ``starts`` ensembles of ``n`` tokens are drawn exactly from the (limited) initial DG density
    (:meth:`Density.sample`, one generator seeded with ``seed``) and advanced together by
    :func:`meanfield.solve_particles` (RK4) to the same output times. Columns:

    - ``density.*``: every column of the density task;
    - ``particles.clusters@t=..`` and ``particles.energy@t=..``: the token cluster count
      (:func:`meanfield.diagnostics.find_clusters` with ``radius``) and :math:`E_\beta`, means
      over starts; ``particles.steps`` and ``particles.cpu_s``;
    - ``w1@t=..`` and ``w1_final``: the Wasserstein-1 distance (:func:`meanfield.wasserstein`)
      between each token ensemble and the PDE density normalised to a probability measure,
      mean over starts. On S^2 the PDE's
      quadrature measure is binned onto 3000 points beyond that support size (see
      :func:`meanfield.wasserstein`), which adds up to about 0.07 rad.
    - ``cpu_s``: CPU seconds of the whole point.
    """
    from ...compare import wasserstein
    from ...diagnostics import energy, find_clusters
    from ...solve import auto_dt, solve_particles

    cpu = time.process_time()
    sol, model, density_row = _run_density(params)
    row = {f"density.{k}": v for k, v in density_row.items()}
    part_cpu = time.process_time()
    n = as_int(params["n"], "n", min_value=2)
    starts = as_int(params["starts"], "starts", min_value=1)
    d = sol.densities[0].space.dim
    dt = params["dt"]
    if dt is None:
        dt = auto_dt(model, d) * as_scalar(params["dt_scale"], "dt_scale", min_value=0, strict=True)
    x0 = sol.densities[0].sample(starts * n, np.random.default_rng(params["seed"]))
    noise = {"diffusion": params["diffusion"], "rng": np.random.default_rng([params["seed"], 1])}
    traj = solve_particles(model, x0.reshape(starts, n, d), sol.t, dt=dt, **noise)
    row["particles.steps"] = int(traj.stats.steps)
    row["particles.cpu_s"] = float(time.process_time() - part_cpu)
    w1 = []
    for k, t in enumerate(sol.t):
        xs = traj.x[k]
        row[time_column("particles.clusters", t)] = float(
            np.mean([find_clusters(x, radius=params["radius"]).count for x in xs])
        )
        row[time_column("particles.energy", t)] = float(
            np.mean([energy(x, model.beta) for x in xs])
        )
        # as probability measures: the PDE's mass is 1 only up to the interpolation's quadrature
        pts, w = sol.densities[k].quadrature_measure()
        w = np.clip(w, 0.0, None)
        w1.append(float(np.mean([wasserstein(x, (pts, w / w.sum())) for x in xs])))
        row[time_column("w1", t)] = w1[-1]
    row["w1_final"] = w1[-1]
    if params["save"]:
        row["artifact"] = _save_density(sol, artifacts)
        np.savez_compressed(Path(row["artifact"]).with_name("tokens.npz"), t=traj.t, x=traj.x)
    row["cpu_s"] = float(time.process_time() - cpu)
    return row
