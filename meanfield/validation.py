r"""Validation studies of the mean-field solver (DESIGN.md §4): numbers, tables and figures.

Two studies, each returning plain rows (dicts) that :func:`write_report` turns into a markdown
report with figures:

- :func:`growth_rate_study`: the exponential rate of a spherical-harmonic perturbation of the
  uniform density, measured on the PDE, against :func:`meanfield.theory.growth_rate`.
- :func:`mean_field_study`: the distance between the empirical measure of n tokens (sampled
  from :math:`\rho_0` and moved by the token ODE) and the PDE density at several times, for
  several n, seeds and meshes; :func:`fit_slope` fits its decay in n.

Distances (see :func:`distance`): on :math:`S^1` the exact circular :math:`W_1`; on
:math:`S^2` the spherical sliced Wasserstein distance :math:`SSW_1` (Bonet et al. 2023) over a
fixed set of great circles, because exact :math:`W_1` is affordable only to a few thousand
points there and decays like :math:`\sqrt{\log n / n}` rather than :math:`n^{-1/2}` (both
reasons are measured, see :func:`w1_sphere`).
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from ._checks import as_int, as_scalar
from .compare import fibonacci_sphere
from .dg import DG
from .diagnostics import first_moment, mode_amplitude
from .initial import ModePerturbation, Uniform, VonMisesFisher
from .mesh import SphereMesh
from .model import Attention
from .solve import solve_density, solve_particles
from .theory import growth_rate

__all__ = [
    "GROWTH_CASES",
    "growth_rate_cases",
    "growth_rate_study",
    "measure_growth_rate",
    "mean_field_study",
    "default_initial",
    "distance",
    "w1_sphere",
    "fit_slope",
    "summarize_mean_field",
    "write_report",
]

#: The must-show table of issue 5: (d, beta, degrees ell) for SA and USA alike.
GROWTH_CASES = ((2, 4.0, range(1, 7)), (2, 9.0, range(1, 7)), (3, 4.0, range(1, 5)))

#: Default mesh (constructor level) and DG degree of the growth-rate study, per d. Measured
#: relative errors below 1e-4 on every must-show case (see tests/test_validation.py).
GROWTH_MESH = {2: 64, 3: 2}
GROWTH_DEGREE = {2: 2, 3: 2}


def make_mesh(d: int, level: int) -> SphereMesh:
    """``SphereMesh.circle(level)`` for d = 2, ``SphereMesh.icosphere(level)`` for d = 3."""
    if d == 2:
        return SphereMesh.circle(level)
    if d == 3:
        return SphereMesh.icosphere(level)
    raise ValueError(f"d must be 2 (circle) or 3 (sphere), got {d}")


def mesh_name(d: int, level: int) -> str:
    """Human-readable name of :func:`make_mesh` (d, level), e.g. ``"icosphere(2)"``."""
    return f"circle({level})" if d == 2 else f"icosphere({level})"


# --------------------------------------------------------------------------- growth rates
def growth_rate_cases(cases=GROWTH_CASES, normalized=(True, False)) -> list[tuple]:
    """Expand ``(d, beta, ells)`` triples into ``(d, beta, normalized, ell)`` cases."""
    return [
        (int(d), float(beta), bool(nz), int(ell))
        for d, beta, ells in cases
        for nz in normalized
        for ell in ells
    ]


def measure_growth_rate(
    space, beta, ell, normalized=True, eps=1e-3, window=(0.5, 2.5), steps_per_efold=5, points=12
) -> dict:
    r"""Measure the exponential rate of the mode of :math:`\rho_0(1\pm\varepsilon Y_\ell)`.

    The PDE (Q = K = V = I) is run from :math:`\rho_\pm = \rho_0(1 \pm \varepsilon Y_{\ell 0}
    /\|Y\|_\infty)` and the odd part :math:`a(t) = (a_+(t) - a_-(t))/2` of the mode amplitudes
    :math:`a_\pm = \int Y_{\ell 0}\rho_\pm` is fitted: it cancels every even order in
    :math:`\varepsilon` (the quadratic self-interaction of even :math:`\ell` on :math:`S^2`, and
    the O(1) field the mesh quadrature leaves in the uniform density), so the nonlinear error
    is :math:`O(\varepsilon^2 e^{2\gamma t})`. Times are scaled by the theoretical rate
    :math:`\gamma`: the run lasts until :math:`\gamma t` = ``window[1]``, the step is capped at
    :math:`1/(\gamma\,\text{steps\_per\_efold})`, and :math:`\log|a|` is fitted by a line
    (``np.polyfit``) over the outputs with :math:`\gamma t \in` ``window``.

    Parameters
    ----------
    space : DG
        Discretisation (on :math:`S^1` or :math:`S^2`).
    beta : float
    ell : int
    normalized : bool
        SA or USA.
    eps : float
        Perturbation amplitude :math:`\varepsilon` (relative to the sup norm of the harmonic).
    window : (float, float)
        Fit window in units of :math:`1/\gamma`; the amplitude grows by
        :math:`e^{\text{window}[1]}` over the run.
    steps_per_efold : float
        Time steps per :math:`1/\gamma` at least.
    points : int
        Output times, evenly spread over the run.

    Returns
    -------
    dict
        ``measured``, ``theory``, ``rel_error`` and ``cpu_s``.
    """
    d = space.dim
    theory = growth_rate(ell, beta, d, normalized)
    t = np.linspace(0.0, window[1] / theory, as_int(points, "points", min_value=3))
    cpu = time.process_time()
    plus = space.interpolate(ModePerturbation(d, ell, eps))
    minus = space.interpolate(Uniform(d)) * 2.0 - plus
    model = Attention(beta, normalized=normalized)
    amps = []
    for rho0 in (plus, minus):
        sol = solve_density(model, rho0, t, dt_max=1.0 / (theory * steps_per_efold))
        amps.append(np.array([mode_amplitude(r, ell) for r in sol.densities]))
    odd = 0.5 * (amps[0] - amps[1])
    fit = t * theory >= window[0] - 1e-12
    measured = float(np.polyfit(t[fit], np.log(np.abs(odd[fit])), 1)[0])
    return {
        "measured": measured,
        "theory": float(theory),
        "rel_error": abs(measured - theory) / theory,
        "cpu_s": time.process_time() - cpu,
    }


def growth_rate_study(
    cases=None,
    meshes=None,
    degrees=None,
    eps=1e-3,
    window=(0.5, 2.5),
    steps_per_efold=5,
    points=12,
    progress=False,
) -> list[dict]:
    r"""Measured vs theoretical growth rates of harmonic perturbations of the uniform density.

    Parameters
    ----------
    cases : list of (d, beta, normalized, ell), optional
        Default: the must-show table (:data:`GROWTH_CASES`, SA and USA, 32 cases).
    meshes : dict d -> level, optional
        ``circle(level)`` on :math:`S^1`, ``icosphere(level)`` on :math:`S^2`; default
        :data:`GROWTH_MESH`.
    degrees : dict d -> int, optional
        DG degree per d; default :data:`GROWTH_DEGREE`.
    eps, window, steps_per_efold, points
        See :func:`measure_growth_rate`.
    progress : bool
        Print one line per case.

    Returns
    -------
    list of dict
        One row per case: ``d, beta, normalized, ell, measured, theory, rel_error, mesh,
        degree, eps, cpu_s``.
    """
    cases = growth_rate_cases() if cases is None else list(cases)
    meshes = {**GROWTH_MESH, **(meshes or {})}
    degrees = {**GROWTH_DEGREE, **(degrees or {})}
    spaces = {}
    rows = []
    for d, beta, normalized, ell in cases:
        if d not in spaces:
            spaces[d] = DG(make_mesh(d, meshes[d]), degrees[d])
        r = measure_growth_rate(
            spaces[d], beta, ell, normalized, eps, window, steps_per_efold, points
        )
        row = {"d": d, "beta": beta, "normalized": normalized, "ell": ell, **r}
        row.update(mesh=mesh_name(d, meshes[d]), degree=degrees[d], eps=eps)
        rows.append(row)
        if progress:
            print(_growth_line(row), flush=True)
    return rows


def _growth_line(r) -> str:
    kind = "SA " if r["normalized"] else "USA"
    return (
        f"d={r['d']} beta={r['beta']:g} {kind} ell={r['ell']}: measured {r['measured']:.6g} "
        f"theory {r['theory']:.6g} rel.err {r['rel_error']:.2e} ({r['mesh']} p={r['degree']})"
    )


# --------------------------------------------------------------------------- distances
#: Bins per circle of the binned circular W1 (the bin width bounds the binning error).
BINS = {2: 1 << 16, 3: 1 << 14}
#: Great circles of the spherical sliced distance on S^2 (a fixed set: the distance is then a
#: deterministic functional, not a Monte-Carlo estimate).
PROJECTIONS = 64
#: Points of the Fibonacci lattice that carries a density on S^2 (weights rho(x_k)).
FIBONACCI_POINTS = 200_000


class SlicedMetric:
    r"""Binned circular :math:`W_1` on :math:`S^1`, spherical sliced :math:`SSW_1` on :math:`S^2`.

    On :math:`S^1` each measure is binned onto ``bins`` equal arcs and

    .. math:: W_1(\mu, \nu) = \frac{2\pi}{K} \sum_{k=1}^{K} |h_k - \mathrm{med}(h)|, \qquad
              h_k = \sum_{j \le k} (\mu_j - \nu_j),

    the exact circular :math:`W_1` of the binned measures (Rabin et al. 2011); binning moves
    each point by at most half a bin, so the result is within :math:`2\pi/K` of the exact
    distance. On :math:`S^2` every point is projected on ``projections`` fixed great circles
    (:math:`P^U(x) = U^Tx/|U^Tx|`, the projection of POT's ``ot.sliced_wasserstein_sphere``,
    same random :math:`U` for a given seed) and

    .. math:: SSW_1(\mu, \nu) = \frac1P \sum_{p=1}^{P} W_1(P^{U_p}_\#\mu, P^{U_p}_\#\nu),

    each term computed as on :math:`S^1`. :math:`SSW_1 \le W_1`; it is a distance between
    measures for :math:`P \to \infty` and, for an empirical measure of n i.i.d. points, decays
    like :math:`n^{-1/2}` (each slice is one-dimensional), whereas :math:`W_1` on a
    two-dimensional sphere decays like :math:`\sqrt{\log n / n}`.

    Parameters
    ----------
    d : int
        2 or 3.
    bins : int, optional
        Bins per circle (default :data:`BINS`).
    projections : int
        Great circles on :math:`S^2`.
    seed : int
        Seed of the great circles.
    """

    def __init__(self, d, bins=None, projections=PROJECTIONS, seed=0):
        if d not in (2, 3):
            raise ValueError(f"d must be 2 or 3, got {d}")
        self.d = d
        self.bins = as_int(BINS[d] if bins is None else bins, "bins", min_value=2)
        if d == 2:
            self.frames = np.eye(2)[None]
        else:
            import ot

            p = as_int(projections, "projections", min_value=1)
            self.frames = np.asarray(ot.sliced.get_projections_sphere(3, p, seed=seed))

    @property
    def name(self) -> str:
        return (
            "W1 (binned, exact circular)" if self.d == 2 else f"SSW1 ({len(self.frames)} circles)"
        )

    def histograms(self, points, weights=None, rows=1 << 14) -> np.ndarray:
        """Probability mass of each bin on each circle, shape (P, K), for points (n, d)."""
        x = np.asarray(points, float)
        w = np.full(len(x), 1.0 / len(x)) if weights is None else np.asarray(weights, float)
        w = w / w.sum()
        P, K = len(self.frames), self.bins
        frames = self.frames.transpose(1, 0, 2).reshape(self.d, 2 * P)
        offset = np.arange(P) * K
        out = np.zeros(P * K)
        for s in range(0, len(x), rows):
            xy = x[s : s + rows] @ frames
            theta = np.arctan2(xy[:, 1::2], xy[:, 0::2])
            idx = ((theta + np.pi) * (K / (2 * np.pi))).astype(np.int64)
            np.minimum(idx, K - 1, out=idx)
            idx += offset
            out += np.bincount(idx.ravel(), np.repeat(w[s : s + rows], P), minlength=P * K)
        return out.reshape(P, K)

    def between(self, ha, hb) -> float:
        """Distance between two sets of histograms (:meth:`histograms`)."""
        h = np.cumsum(ha - hb, axis=1)
        med = np.median(h, axis=1, keepdims=True)
        return float(np.mean(np.abs(h - med).sum(axis=1)) * (2 * np.pi / self.bins))

    def __call__(self, a, b) -> float:
        """Distance between measures given as ``points`` or ``(points, weights)``."""
        return self.between(self.histograms(*_pw(a)), self.histograms(*_pw(b)))


def _pw(a):
    return a if isinstance(a, tuple) else (a, None)


def density_measure(rho, points=None):
    r"""A fine weighted point set carrying the density: ``(points, weights)``.

    :math:`S^1`: the midpoints of ``points`` (default :math:`2^{17}`) equal arcs, weighted by
    :math:`\rho(x_k)\,\Delta\theta`. :math:`S^2`: a Fibonacci lattice of ``points`` (default
    :data:`FIBONACCI_POINTS`) nearly equal-area cells, weighted by :math:`\rho(x_k)`. Negative
    round-off values are clipped; weights are normalised to sum 1.
    """
    d = rho.space.dim
    if d == 2:
        m = as_int(points or 1 << 17, "points", min_value=8)
        theta = (np.arange(m) + 0.5) * (2 * np.pi / m)
        x = np.stack([np.cos(theta), np.sin(theta)], axis=1)
    else:
        x = fibonacci_sphere(as_int(points or FIBONACCI_POINTS, "points", min_value=8))
    w = np.maximum(rho.evaluate(x), 0.0)
    return x, w / w.sum()


def distance(rho, x, metric=None) -> float:
    """Distance (:class:`SlicedMetric`) between a density and the empirical measure of x (n, d)."""
    metric = SlicedMetric(rho.space.dim) if metric is None else metric
    return metric(density_measure(rho), x)


def w1_sphere(a, b) -> float:
    """Exact geodesic :math:`W_1` (POT ``ot.emd2``) between two small weighted sets on S^2."""
    from .compare import wasserstein

    return wasserstein(a, b, p=1, max_support=max(len(_pw(a)[0]), len(_pw(b)[0])))


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


def _solve_levels(d, levels, degree, model, f0, times, dt_max, metric, points):
    """PDE solution, histograms and first moments per level and output time."""
    out = {}
    for level in levels:
        cpu = time.process_time()
        rho0 = DG(make_mesh(d, level), degree).interpolate(f0)
        sol = solve_density(model, rho0, times, dt_max=dt_max)
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
    velocity="spectral",
    progress=False,
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
    velocity : {"spectral", "auto", "direct"}
        Token field evaluator ("auto" picks batched direct sums for n <= 512, slower here).
    progress : bool
        Print one line per n.

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
    pde = _solve_levels(d, levels, degree, model, f0, times, dt_max, metric, density_points)
    cpu["pde"] = time.process_time() - cpu["pde"]
    cpu["particles"] = cpu["distances"] = 0.0
    rows = []
    for n in ns:
        c0 = time.process_time()
        x0 = np.stack(
            [pde[levels[-1]]["rho0"].sample(n, np.random.default_rng([s, n])) for s in seeds]
        )
        traj = solve_particles(model, x0, times, dt=dt, velocity=velocity)
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
        "times": times, "levels": levels, "cpu_s": cpu,
        "mass_drift": max(p["mass_drift"] for p in pde.values()),
    }  # fmt: skip


def _mean(rows, key, **match) -> float:
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
        dist = [_mean(rows, "distance", n=n, t=t, level=fine) for n in ns]
        mom = [_mean(rows, "moment_error", n=n, t=t, level=fine) for n in ns]
        slopes.append(
            {"t": t, "slope": fit_slope(ns, dist), "moment_slope": fit_slope(ns, mom),
             "first": dist[0], "last": dist[-1], "moment_last": mom[-1]}
        )  # fmt: skip
        for level in levels:
            floors.append(
                {"t": t, "level": level, "mesh": mesh_name(result["d"], level),
                 "plateau": _mean(rows, "distance", n=ns[-1], t=t, level=level),
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


# --------------------------------------------------------------------------- report
def plot_mean_field(results, path) -> Path:
    """Distance vs n (log-log), one panel per study, fitted slopes in the legend; PNG."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(results), figsize=(6 * len(results), 4.5), squeeze=False)
    for ax, res in zip(axes[0], results, strict=True):
        summary = summarize_mean_field(res)
        ns, fine = np.array(res["ns"]), res["levels"][-1]
        for s in summary["slopes"]:
            dist = [_mean(res["rows"], "distance", n=n, t=s["t"], level=fine) for n in ns]
            ax.loglog(ns, dist, "o-", label=f"t = {s['t']:g}: slope {s['slope']:.3f}")
        t_last = res["times"][-1]
        for level in res["levels"][:-1]:
            dist = [_mean(res["rows"], "distance", n=n, t=t_last, level=level) for n in ns]
            ax.loglog(
                ns, dist, "x--", alpha=0.6, label=f"t = {t_last:g}, {mesh_name(res['d'], level)}"
            )
        ax.loglog(ns, summary["slopes"][0]["first"] * (ns / ns[0]) ** -0.5, "k:", label="n^-1/2")
        ax.set_xlabel("tokens n")
        ax.set_ylabel(res["metric"])
        ax.set_title(
            f"S^{res['d'] - 1}, beta = {res['beta']:g}, "
            f"reference {mesh_name(res['d'], fine)} p={res['degree']}"
        )
        ax.legend(fontsize=7)
    fig.tight_layout()
    return _save_figure(fig, path)


def plot_growth(rows, path) -> Path:
    """Measured vs theoretical growth rates (log-log, with the diagonal); PNG."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5.5, 5))
    groups = sorted({(r["d"], r["beta"], r["normalized"]) for r in rows})
    for d, beta, nz in groups:
        sel = [r for r in rows if (r["d"], r["beta"], r["normalized"]) == (d, beta, nz)]
        label = f"S^{d - 1} beta={beta:g} {'SA' if nz else 'USA'} ({sel[0]['mesh']})"
        ax.loglog([r["theory"] for r in sel], [r["measured"] for r in sel], "o", label=label)
    lim = [min(r["theory"] for r in rows) / 1.5, max(r["theory"] for r in rows) * 1.5]
    ax.loglog(lim, lim, "k-", lw=0.8, label="measured = theory")
    ax.set_xlabel("theory gamma_ell")
    ax.set_ylabel("measured gamma_ell")
    ax.legend(fontsize=7)
    fig.tight_layout()
    return _save_figure(fig, path)


def _save_figure(fig, path) -> Path:
    import matplotlib.pyplot as plt

    from .io import atomic_write

    try:
        return atomic_write(path, lambda tmp: fig.savefig(tmp, dpi=110))
    finally:
        plt.close(fig)


def _growth_table(rows) -> list[str]:
    out = [
        "| d | beta | model | ell | measured | theory | rel. error | mesh | degree |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        out.append(
            f"| {r['d']} | {r['beta']:g} | {'SA' if r['normalized'] else 'USA'} | {r['ell']} "
            f"| {r['measured']:.6g} | {r['theory']:.6g} | {r['rel_error']:.2e} | {r['mesh']} "
            f"| {r['degree']} |"
        )
    return out


def _mean_field_tables(res) -> list[str]:
    s = summarize_mean_field(res)
    fine = mesh_name(res["d"], res["levels"][-1])
    out = [
        f"### S^{res['d'] - 1}: {res['metric']}, beta = {res['beta']:g}, "
        f"{'SA' if res['normalized'] else 'USA'}, reference mesh {fine} p = {res['degree']}",
        "",
        f"n = {res['ns'][0]} ... {res['ns'][-1]} ({len(res['ns'])} values), "
        f"{len(res['seeds'])} seeds; PDE mass drift {res['mass_drift']:.1e}; CPU s: "
        + ", ".join(f"{k} {v:.1f}" for k, v in res["cpu_s"].items()),
        "",
        "| t | slope (distance) | slope (first moment) | distance at n min | at n max "
        "| moment error at n max |",
        "|---|---|---|---|---|---|",
    ]
    for r in s["slopes"]:
        out.append(
            f"| {r['t']:g} | {r['slope']:.3f} | {r['moment_slope']:.3f} | {r['first']:.3e} "
            f"| {r['last']:.3e} | {r['moment_last']:.3e} |"
        )
    out += [
        "",
        f"Floors per mesh level (plateau: seed-averaged distance at n = {res['ns'][-1]}; "
        f"mesh error: distance to the {fine} PDE solution):",
        "",
        "| t | mesh | plateau | mesh error |",
        "|---|---|---|---|",
    ]
    for r in s["floors"]:
        err = "reference" if r["mesh_error"] is None else f"{r['mesh_error']:.3e}"
        out.append(f"| {r['t']:g} | {r['mesh']} | {r['plateau']:.3e} | {err} |")
    return out + [""]


def _scaling_summary(rows) -> dict:
    ns = sorted({r["n"] for r in rows})
    w1 = [np.mean([r["w1"] for r in rows if r["n"] == n]) for n in ns]
    sl = [np.mean([r["sliced"] for r in rows if r["n"] == n]) for n in ns]
    return {"ns": ns, "w1": w1, "sliced": sl, "w1_slope": fit_slope(ns, w1),
            "sliced_slope": fit_slope(ns, sl)}  # fmt: skip


def write_report(directory, quick=False, progress=False) -> dict:
    """Run both studies and write ``report.md`` and PNG figures into ``directory``.

    Parameters
    ----------
    directory : str or Path
        Created if missing; ``report.md``, ``growth_rates.png`` and ``mean_field.png`` are
        (over)written atomically.
    quick : bool
        A reduced run (tens of seconds): part of the growth table, n <= 4000, few seeds and
        coarse meshes. The default (a few minutes on 2 cores) is the must-show configuration.
    progress : bool
        Print progress lines.

    Returns
    -------
    dict
        ``growth_max_rel_error``, ``growth_cases``, ``slopes`` {d: {t: slope}},
        ``moment_slopes`` {d: {t: slope}}, ``floors`` {d: {mesh: {t: plateau}}},
        ``mesh_errors`` {d: {mesh: {t: distance}}}, ``w1_slope_s2``, ``sliced_slope_s2``,
        ``files`` and ``cpu_s``.
    """
    from .io import atomic_write

    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    cpu = time.process_time()
    if quick:
        cases = growth_rate_cases(((2, 4.0, (3,)), (3, 4.0, (2,))))
        mf_args = {
            2: {"ns": (250, 1000), "seeds": range(3), "levels": (8, 64)},
            3: {"ns": (250, 1000), "seeds": range(2), "levels": (1, 2), "density_points": 20_000},
        }
        scaling = {"ns": (250, 500), "seeds": range(2)}
    else:
        cases = growth_rate_cases()
        mf_args = {2: {"seeds": range(16)}, 3: {"seeds": range(8)}}
        scaling = {"ns": (250, 500, 1000, 2000, 3000), "seeds": range(4)}
    growth = growth_rate_study(cases, progress=progress)
    studies = [mean_field_study(d, progress=progress, **mf_args[d]) for d in (2, 3)]
    metric = _scaling_summary(metric_scaling(3, **scaling))
    files = [
        plot_growth(growth, directory / "growth_rates.png"),
        plot_mean_field(studies, directory / "mean_field.png"),
    ]
    lines = _report_lines(growth, studies, metric, quick)
    files.append(atomic_write(directory / "report.md", lambda p: p.write_text("\n".join(lines))))
    return _report_numbers(growth, studies, metric, files, time.process_time() - cpu)


def _report_lines(growth, studies, metric, quick) -> list[str]:
    worst = max(r["rel_error"] for r in growth)
    lines = [
        "# meanfield validation report" + (" (quick)" if quick else ""),
        "",
        "## Linear growth of harmonic perturbations (Q = K = V = I)",
        "",
        f"{len(growth)} cases, largest relative error {worst:.2e}. Rate fitted on the odd part "
        f"(a(+eps) - a(-eps))/2 of the mode amplitude, eps = {growth[0]['eps']:g}, over "
        "gamma t in [0.5, 2.5].",
        "",
        *_growth_table(growth),
        "",
        "![growth rates](growth_rates.png)",
        "",
        "## Mean-field limit: tokens vs PDE",
        "",
        "Distance: exact circular W1 on S^1 (both measures binned on 2^16 arcs, error < 1e-4); "
        "spherical sliced W1 (64 fixed great circles, 2^14 bins each) on S^2, the density "
        "carried by a weighted Fibonacci lattice. Slopes are fitted (np.polyfit, log-log) on "
        "seed-averaged distances at the finest mesh.",
        "",
    ]
    for res in studies:
        lines += _mean_field_tables(res)
    lines += [
        "![distance vs n](mean_field.png)",
        "",
        "## Why sliced W1 on S^2: the distances between two independent n-samples",
        "",
        "| n | W1 (exact emd) | SSW1 |",
        "|---|---|---|",
        *(
            f"| {n} | {w:.4e} | {s:.4e} |"
            for n, w, s in zip(metric["ns"], metric["w1"], metric["sliced"], strict=True)
        ),
        "",
        f"Fitted slopes: W1 {metric['w1_slope']:.3f} (expected sqrt(log n / n) on a 2-D "
        f"manifold), SSW1 {metric['sliced_slope']:.3f} (expected -1/2). Exact W1 needs O(n^2) "
        "memory and is limited to a few thousand points.",
        "",
    ]
    return lines


def _report_numbers(growth, studies, metric, files, cpu) -> dict:
    slopes, moments, floors, errors = {}, {}, {}, {}
    for res in studies:
        s, d = summarize_mean_field(res), res["d"]
        slopes[d] = {r["t"]: r["slope"] for r in s["slopes"]}
        moments[d] = {r["t"]: r["moment_slope"] for r in s["slopes"]}
        floors[d], errors[d] = {}, {}
        for r in s["floors"]:
            floors[d].setdefault(r["mesh"], {})[r["t"]] = r["plateau"]
            if r["mesh_error"] is not None:
                errors[d].setdefault(r["mesh"], {})[r["t"]] = r["mesh_error"]
    return {
        "growth_max_rel_error": max(r["rel_error"] for r in growth),
        "growth_cases": len(growth),
        "slopes": slopes,
        "moment_slopes": moments,
        "floors": floors,
        "mesh_errors": errors,
        "w1_slope_s2": metric["w1_slope"],
        "sliced_slope_s2": metric["sliced_slope"],
        "files": [str(f) for f in files],
        "cpu_s": cpu,
    }
