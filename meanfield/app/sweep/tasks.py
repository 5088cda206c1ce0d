"""The registered sweep tasks: particles, density, and both."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from ..._checks import as_int, as_scalar
from ...diagnostics import density_clusters
from ..builders import (
    build_density,
    build_mesh,
    build_model,
    cluster_options,
    density_options,
    token_step,
)
from ..config import SCHEMA, check_dimension, from_dotted
from .registry import Param, register_task, settings
from .table import time_column

# --------------------------------------------------------------------------------------------
# the particles task

#: Metrics the particles task can report at every output time.
PARTICLE_METRICS = ("fraction_above", "clusters", "energy")


@register_task(
    "particles",
    parameters={
        **settings(
            "model.beta",
            "model.normalized",
            "model.diffusion",
            "particles.n",
            "particles.seed",
            "output.cluster_radius",
        ),  # fmt: skip
        "d": Param("int", 3, doc="ambient dimension (sphere S^{d-1})"),
        "starts": Param("int", 16, doc="independent uniform random starts, run as one batch"),
        "t": Param("times", {"start": 0.0, "stop": 10.0, "num": 11}, doc="output times"),
        "dt_scale": Param("float", 1.0, doc="factor on the automatic RK4 step"),
        "threshold": Param("float", 0.999, doc="cosine above which a pair is 'together'"),
        "metrics": Param(
            "strs", list(PARTICLE_METRICS), doc="reported metrics", choices=PARTICLE_METRICS
        ),
        "save": Param("bool", False, doc="keep the trajectory as artifacts/<key>/trajectory.npz"),
    },
)
def particles_task(params: dict, artifacts: Path) -> dict:
    r"""Batched token ensembles from uniform random starts (Q = K = V = I).

    ``starts`` ensembles of ``particles.n`` tokens on :math:`S^{d-1}`, drawn as
    ``sample_sphere(starts * n, d, particles.seed).reshape(starts, n, d)``, are advanced
    together by :func:`meanfield.solve_particles` with RK4 steps of ``dt_scale`` times
    :func:`meanfield.solve.auto_dt` (refused beyond 1e8 steps). At every output time
    :math:`t` it reports the mean over starts of

    - ``fraction_above@t=..``: the fraction of pairs :math:`i<j` with
      :math:`\langle x_i, x_j\rangle >` ``threshold``;
    - ``clusters@t=..``: the cluster count (:func:`meanfield.diagnostics.find_clusters`
      with ``output.cluster_radius``);
    - ``energy@t=..``: :math:`E_\beta` (:func:`meanfield.diagnostics.energy`);

    and ``steps``, the RK4 steps taken.
    """
    from ...diagnostics import energy, find_clusters, pairwise_cosines
    from ...initial import sample_sphere
    from ...solve import solve_particles

    n = as_int(params["particles.n"], "particles.n", min_value=2)
    d = as_int(params["d"], "d", min_value=2)
    starts = as_int(params["starts"], "starts", min_value=1)
    model = build_model(from_dotted(_settings(params, "model")), d)
    scale = as_scalar(params["dt_scale"], "dt_scale", min_value=0, strict=True)
    dt = token_step(model, d, scale, params["t"][-1] - params["t"][0])
    x0 = sample_sphere(starts * n, d, params["particles.seed"]).reshape(starts, n, d)
    traj = solve_particles(model, x0, params["t"], dt=dt, **_noise(params))
    radius = params["output.cluster_radius"]
    metrics = {
        "fraction_above": lambda x: pairwise_cosines(x, params["threshold"])["fraction_above"],
        "clusters": lambda x: find_clusters(x, radius=radius).count,
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

#: Configuration sections the density run reads in full: every key of them is a parameter.
DENSITY_SECTIONS = ("model", "mesh", "initial", "solver")

#: Parameters of the mean-field PDE run (shared by the density and both tasks): the keys of
#: :data:`DENSITY_SECTIONS` and the density cluster settings, by their configuration names.
DENSITY_PARAMETERS = {
    **settings(*(f"{sec}.{key}" for sec in DENSITY_SECTIONS for key in SCHEMA[sec])),
    **settings("output.cluster_level", "output.cluster_cells", "output.cluster_min_mass"),
    "t": Param("times", {"start": 0.0, "stop": 10.0, "num": 11}, doc="output times"),
    "save": Param("bool", False, doc="keep the DG coefficients as artifacts/<key>/density.npz"),
}


def _noise(params: dict) -> dict:
    """Token noise ``model.diffusion``, its Brownian increments seeded by ``particles.seed``."""
    rng = np.random.default_rng([params["particles.seed"], 1])
    return {"diffusion": params["model.diffusion"], "rng": rng}


def _settings(params: dict, *sections: str) -> dict:
    """The configuration keys among a point's parameters (all of them without ``sections``)."""
    return {
        k: v
        for k, v in params.items()
        if "." in k and (not sections or k.split(".", 1)[0] in sections)
    }


def _run_density(params: dict):
    """(solution, model, config, row) of the PDE part: invariants, energy, clusters per time."""
    from ...diagnostics import energy
    from ...solve import solve_density

    cpu = time.process_time()
    cfg = from_dotted(_settings(params))
    mesh = build_mesh(cfg)
    check_dimension(cfg, mesh.dim)
    model = build_model(cfg, mesh.dim)
    _, rho0 = build_density(cfg, mesh)
    sol = solve_density(model, rho0, params["t"], **density_options(cfg))
    solve_cpu = time.process_time() - cpu
    m0 = sol.mass[0]
    clusters = [density_clusters(rho, **cluster_options(cfg)) for rho in sol.densities]
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
    return sol, model, cfg, row


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
    r"""One mean-field PDE run (:func:`meanfield.solve_density`), built like ``meanfield run``.

    Its parameters are the run settings of ``[model]``, ``[mesh]``, ``[initial]`` and
    ``[solver]`` and the density cluster settings (dotted names and defaults of
    :data:`meanfield.app.config.SCHEMA`), plus the output times ``t``. Mesh, model and the
    limited initial density come from :mod:`meanfield.app.builders`. The row holds

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
    sol, _, _, row = _run_density(params)
    if params["save"]:
        row["artifact"] = _save_density(sol, artifacts)
    row["cpu_s"] = float(time.process_time() - cpu)
    return row


@register_task(
    "both",
    parameters={
        **DENSITY_PARAMETERS,
        **settings("particles.n", "particles.seed", "output.cluster_radius"),
        "starts": Param("int", 1, doc="independent token draws, run as one batch"),
        "dt_scale": Param("float", 1.0, doc="factor on the automatic RK4 step"),
    },
)
def both_task(params: dict, artifacts: Path) -> dict:
    r"""The PDE run of the ``density`` task and tokens drawn from its initial density.

    ``starts`` ensembles of ``particles.n`` tokens are drawn exactly from the (limited) initial
    DG density (:meth:`Density.sample`, one generator seeded with ``particles.seed``) and
    advanced together by :func:`meanfield.solve_particles` (RK4 steps of ``dt_scale`` times the
    automatic step, evaluator ``solver.field``) to the same output times. Columns:

    - ``density.*``: every column of the density task;
    - ``particles.clusters@t=..`` and ``particles.energy@t=..``: the token cluster count
      (:func:`meanfield.diagnostics.find_clusters` with ``output.cluster_radius``) and
      :math:`E_\beta`, means over starts; ``particles.steps`` and ``particles.cpu_s``;
    - ``w1@t=..`` and ``w1_final``: the Wasserstein-1 distance (:func:`meanfield.wasserstein`)
      between each token ensemble and the PDE density normalised to a probability measure,
      mean over starts. On S^2 the PDE's
      quadrature measure is binned onto 3000 points beyond that support size (see
      :func:`meanfield.wasserstein`), which adds up to about 0.07 rad.
    - ``cpu_s``: CPU seconds of the whole point.
    """
    from ...compare import wasserstein
    from ...diagnostics import energy, find_clusters
    from ...solve import solve_particles

    cpu = time.process_time()
    sol, model, cfg, density_row = _run_density(params)
    row = {f"density.{k}": v for k, v in density_row.items()}
    part_cpu = time.process_time()
    n = as_int(params["particles.n"], "particles.n", min_value=2)
    starts = as_int(params["starts"], "starts", min_value=1)
    d = sol.densities[0].space.dim
    scale = as_scalar(params["dt_scale"], "dt_scale", min_value=0, strict=True)
    dt = token_step(model, d, scale, float(sol.t[-1] - sol.t[0]))
    x0 = sol.densities[0].sample(starts * n, np.random.default_rng(params["particles.seed"]))
    field = cfg["solver"]["field"]
    traj = solve_particles(
        model, x0.reshape(starts, n, d), sol.t, dt=dt, field=field, **_noise(params)
    )
    row["particles.steps"] = int(traj.stats.steps)
    row["particles.cpu_s"] = float(time.process_time() - part_cpu)
    w1 = []
    for k, t in enumerate(sol.t):
        xs = traj.x[k]
        row[time_column("particles.clusters", t)] = float(
            np.mean([find_clusters(x, radius=params["output.cluster_radius"]).count for x in xs])
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
