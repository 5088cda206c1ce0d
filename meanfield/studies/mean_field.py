r"""The mean-field-limit study: the distance between the empirical measure of n tokens (sampled
from :math:`\rho_0` and moved by the token ODE) and the PDE density at several times, for
several n, seeds and meshes; :func:`fit_slope` fits its decay in n.

Distances (see :func:`meanfield.compare.distance`): on :math:`S^1` the exact circular
:math:`W_1`; on :math:`S^2` the spherical sliced Wasserstein distance :math:`SSW_1` (Bonet et
al. 2023) over a fixed set of great circles, because exact :math:`W_1` is affordable only to a
few thousand points there and decays like :math:`\sqrt{\log n / n}` rather than
:math:`n^{-1/2}` (both measured, see :func:`metric_scaling`).
"""

from __future__ import annotations

import time

import numpy as np

from .._checks import as_int, as_scalar
from ..compare import SlicedMetric, density_measure, w1_sphere
from ..diagnostics import first_moment
from ..eulerian.dg import DG
from ..initial import VonMisesFisher
from ..model import Attention
from ..solve import solve_density, solve_particles
from .growth import make_mesh, mesh_name

__all__ = [
    "default_initial",
    "fit_slope",
    "mean_field_study",
    "mean_of",
    "metric_scaling",
    "summarize_mean_field",
]

# --------------------------------------------------------------------------- mean-field limit
#: Default mesh levels of the mean-field study (the last is the reference for the slopes).
MEAN_FIELD_LEVELS = {2: (8, 16, 32, 128), 3: (1, 2, 3)}


def default_initial(d: int) -> VonMisesFisher:
    r"""The smooth initial density of the mean-field study: a two-component vMF mixture.

    :math:`S^1`: centres at angles 0.5 and 2.8 rad, :math:`\kappa` = (3, 2), weights
    (0.6, 0.4). :math:`S^2`: centres at polar angles 30° and 150° (azimuths 0 and 2 rad),
    :math:`\kappa` = (2, 1.5), weights (0.55, 0.45).
    """
    if d == 2:
        ang = np.array([0.5, 2.8])
        centres = np.stack([np.cos(ang), np.sin(ang)], axis=1)
        return VonMisesFisher(centres=centres, kappa=[3.0, 2.0], weights=[0.6, 0.4])
    if d == 3:
        pol, az = np.radians([30.0, 150.0]), np.array([0.0, 2.0])
        centres = np.stack(
            [np.sin(pol) * np.cos(az), np.sin(pol) * np.sin(az), np.cos(pol)], axis=1
        )
        return VonMisesFisher(centres=centres, kappa=[2.0, 1.5], weights=[0.55, 0.45])
    raise ValueError(f"d must be 2 or 3, got {d}")


def fit_slope(ns, dists) -> float:
    r"""Least-squares slope of :math:`\log` dist against :math:`\log n` (``np.polyfit``).

    Parameters
    ----------
    ns : array_like, shape (k,)
        Positive sizes, k >= 2.
    dists : array_like, shape (k,)
        Positive distances.

    Returns
    -------
    float
        The exponent a of the fit :math:`\text{dist} \approx C n^{a}`.
    """
    ns = np.asarray(ns, float)
    dists = np.asarray(dists, float)
    if ns.ndim != 1 or ns.shape != dists.shape or ns.size < 2:
        raise ValueError(
            f"ns and dists must be 1-D of the same length >= 2, got {ns.shape} and {dists.shape}"
        )
    if np.any(ns <= 0) or np.any(~(dists > 0)):
        raise ValueError("ns and dists must be positive (logarithms are fitted)")
    return float(np.polyfit(np.log(ns), np.log(dists), 1)[0])


def _solve_levels(d, levels, degree, model, f0, times, dt_max, metric, points, diffusion=0.0,
                  scheme="eulerian"):  # fmt: skip
    """PDE solution, histograms and first moments per level and output time."""
    out = {}
    for level in levels:
        cpu = time.process_time()
        rho0 = DG(make_mesh(d, level), degree).interpolate(f0)
        sol = solve_density(model, rho0, times, scheme=scheme, dt_max=dt_max, diffusion=diffusion)
        out[level] = {
            "rho0": sol.densities[0],
            "hist": [metric.histograms(*density_measure(r, points)) for r in sol.densities],
            "moment": [first_moment(r) for r in sol.densities],
            "mass_drift": float(np.abs(sol.mass - sol.mass[0]).max()),
            "cpu_s": time.process_time() - cpu,
        }
    return out


def mean_field_study(
    d,
    ns=(250, 500, 1000, 2000, 4000, 8000, 16000),
    seeds=range(8),
    times=(1.0, 2.0, 4.0),
    levels=None,
    degree=1,
    beta=1.0,
    normalized=True,
    initial=None,
    dt=0.1,
    dt_max=0.05,
    density_points=None,
    field="spectral",
    progress=False,
    diffusion=0.0,
    scheme="eulerian",
) -> dict:
    r"""Particles against the PDE: distance between empirical measures and densities.

    For every n and seed, n tokens are drawn exactly from the initial density of the finest
    mesh (:meth:`Density.sample`, generator ``default_rng([seed, n])``), moved by the token ODE
    (:func:`solve_particles`, RK4 with step ``dt``, spectral velocity by default), and
    compared at each time with the PDE solution of every mesh level (Q = K = V = I):
    :class:`SlicedMetric` (exact binned :math:`W_1` on :math:`S^1`, :math:`SSW_1` on
    :math:`S^2`, densities carried by :func:`density_measure`) and the first-moment error
    :math:`|\int y\,d\mu_n - \int y\,\rho\,dS|`.

    Parameters
    ----------
    d : int
        2 (circle) or 3 (sphere).
    ns : sequence of int
        Token counts.
    seeds : sequence of int
        Independent draws per n.
    times : sequence of float
        Positive output times (t = 0 is added: the sampling error alone).
    levels : sequence of int, optional
        ``circle(level)`` / ``icosphere(level)`` meshes, coarse to fine; default
        :data:`MEAN_FIELD_LEVELS`. The last one is the reference for slopes and mesh errors.
    degree : int
        DG degree.
    beta : float
    normalized : bool
    initial : callable, optional
        Initial density (default :func:`default_initial`).
    dt : float
        RK4 step of the tokens.
    dt_max : float
        Largest PDE step.
    density_points : int, optional
        Points of :func:`density_measure`.
    field : {"spectral", "auto", "direct"}
        Token field evaluator ("auto" picks batched direct sums for n <= 512, slower here).
    progress : bool
        Print one line per n.
    diffusion : float
        Noise D >= 0: the tokens are noisy (:func:`solve_particles` with ``diffusion``, RK4 drift
        split with the Brownian step, generator ``default_rng([n, 16])`` for the ensemble of
        size n) and the PDE is the Fokker–Planck equation (IMEX).
    scheme : {"eulerian", "lagrangian"}
        Density scheme of :func:`meanfield.solve_density` (``dt_max`` caps either's step).

    Returns
    -------
    dict
        ``rows``: one dict per (n, seed, t, level) with ``distance`` and ``moment_error``;
        ``mesh_errors``: one dict per (t, level) with the distance to the finest level's
        solution; ``metric`` (name), ``d``, ``beta``, ``normalized``, ``degree``, ``ns``,
        ``seeds``, ``times``, ``levels``, ``mass_drift`` (largest over levels), ``cpu_s``
        (``pde``, ``particles``, ``distances``).
    """
    d = as_int(d, "d", min_value=2)
    levels = tuple(MEAN_FIELD_LEVELS[d] if levels is None else levels)
    ns, seeds = [as_int(n, "ns", min_value=2) for n in ns], [int(s) for s in seeds]
    times = [0.0, *(as_scalar(t, "times", min_value=0.0, strict=True) for t in times)]
    beta = as_scalar(beta, "beta", min_value=0.0)
    model = Attention(beta, normalized=normalized)
    metric = SlicedMetric(d)
    f0 = default_initial(d) if initial is None else initial
    cpu = {"pde": time.process_time()}
    diffusion = as_scalar(diffusion, "diffusion", min_value=0.0)
    pde = _solve_levels(
        d, levels, degree, model, f0, times, dt_max, metric, density_points, diffusion, scheme
    )
    cpu["pde"] = time.process_time() - cpu["pde"]
    cpu["particles"] = cpu["distances"] = 0.0
    rows = []
    for n in ns:
        c0 = time.process_time()
        x0 = np.stack(
            [pde[levels[-1]]["rho0"].sample(n, np.random.default_rng([s, n])) for s in seeds]
        )
        noise = {"diffusion": diffusion, "rng": np.random.default_rng([n, 16])}
        traj = solve_particles(model, x0, times, dt=dt, field=field, **noise)
        c1 = time.process_time()
        for k, t in enumerate(times):
            for b, seed in enumerate(seeds):
                x = traj.x[k, b]
                h, m = metric.histograms(x), x.mean(axis=0)
                for level in levels:
                    rows.append(
                        {
                            "d": d, "n": n, "seed": seed, "t": t, "level": level,
                            "mesh": mesh_name(d, level), "degree": degree,
                            "distance": metric.between(h, pde[level]["hist"][k]),
                            "moment_error": float(np.linalg.norm(m - pde[level]["moment"][k])),
                        }
                    )  # fmt: skip
        cpu["particles"] += c1 - c0
        cpu["distances"] += time.process_time() - c1
        if progress:
            print(f"d={d} n={n}: particles {c1 - c0:.1f} s", flush=True)
    mesh_errors = [
        {
            "d": d, "t": t, "level": level, "mesh": mesh_name(d, level), "degree": degree,
            "distance": metric.between(pde[level]["hist"][k], pde[levels[-1]]["hist"][k]),
        }
        for k, t in enumerate(times)
        for level in levels[:-1]
    ]  # fmt: skip
    return {
        "rows": rows, "mesh_errors": mesh_errors, "metric": metric.name, "d": d,
        "beta": beta, "normalized": normalized, "degree": degree, "ns": ns, "seeds": seeds,
        "times": times, "levels": levels, "cpu_s": cpu, "scheme": scheme,
        "mass_drift": max(p["mass_drift"] for p in pde.values()),
    }  # fmt: skip


def mean_of(rows, key, **match) -> float:
    vals = [r[key] for r in rows if all(r[k] == v for k, v in match.items())]
    return float(np.mean(vals))


def summarize_mean_field(result) -> dict:
    """Slopes (finest level) and floors (every level) of a :func:`mean_field_study` result.

    Returns
    -------
    dict
        ``slopes``: list of {t, slope, moment_slope, first, last} (seed-averaged distances at
        the smallest and largest n, finest level); ``floors``: list of {t, level, mesh,
        plateau (seed-averaged distance at the largest n), mesh_error (distance to the finest
        level's PDE solution, None for the finest)}.
    """
    rows, ns, levels = result["rows"], result["ns"], result["levels"]
    fine = levels[-1]
    errors = {(e["t"], e["level"]): e["distance"] for e in result["mesh_errors"]}
    slopes, floors = [], []
    for t in result["times"]:
        dist = [mean_of(rows, "distance", n=n, t=t, level=fine) for n in ns]
        mom = [mean_of(rows, "moment_error", n=n, t=t, level=fine) for n in ns]
        slopes.append(
            {"t": t, "slope": fit_slope(ns, dist), "moment_slope": fit_slope(ns, mom),
             "first": dist[0], "last": dist[-1], "moment_last": mom[-1]}
        )  # fmt: skip
        for level in levels:
            floors.append(
                {"t": t, "level": level, "mesh": mesh_name(result["d"], level),
                 "plateau": mean_of(rows, "distance", n=ns[-1], t=t, level=level),
                 "mesh_error": errors.get((t, level))}
            )  # fmt: skip
    return {"slopes": slopes, "floors": floors}


def metric_scaling(d=3, ns=(250, 500, 1000, 2000), seeds=range(4), initial=None) -> list[dict]:
    r"""How the distances themselves decay: two independent n-samples of the same density.

    For each n and seed, two sets of n points are drawn exactly from ``initial`` (default
    :func:`default_initial`) and compared with exact geodesic :math:`W_1` (``ot.emd2``, O(n^2)
    memory: keep n <= 3000 on :math:`S^2`) and with :class:`SlicedMetric`. On :math:`S^2` the
    expected decay is :math:`\sqrt{\log n/n}` for :math:`W_1` and :math:`n^{-1/2}` for
    :math:`SSW_1`; the fitted slopes say which one a finite range shows.

    Returns
    -------
    list of dict
        ``n, seed, w1, sliced``.
    """
    f0 = default_initial(d) if initial is None else initial
    metric = SlicedMetric(d)
    rows = []
    for n in ns:
        for s in seeds:
            g = np.random.default_rng([s, n, 7])
            a, b = f0.sample(n, g), f0.sample(n, g)
            w1 = w1_sphere(a, b) if d == 3 else metric(a, b)
            rows.append({"n": int(n), "seed": int(s), "w1": w1, "sliced": metric(a, b)})
    return rows
