r"""Noise-driven phase transition of the attention dynamics (DESIGN.md §2e and §3).

With noise D the uniform density is stable above the critical noise :math:`D_c`
(:func:`meanfield.theory.critical_diffusion`) and clusters form below it. This module measures
the transition on the PDE (the Fokker–Planck equation, IMEX) and on noisy tokens:

- :func:`stationary_density` runs a density to stationarity with a stopping rule and reports
  the order parameter :math:`|m| = |\int x\,d\mu|` and the energy :math:`E_\beta`;
- :func:`gibbs_residual` measures how far a USA density is from its Gibbs form
  :math:`\rho \propto \exp(Z_\rho/(\beta D))`;
- :func:`noise_sweep` / :func:`token_sweep` sweep D down and then up again, each run starting
  from the previous stationary state, so a subcritical (jump) transition shows hysteresis;
- :func:`classify_sweep` reads the type of the transition and the measured hysteresis width
  off a sweep, and :func:`theory_branch` gives the exact USA branch
  (:func:`meanfield.theory.gibbs_branch`) to compare with.

Time is measured in units of :math:`1/D_c`: with :math:`x = D/D_c` fixed, the drift and the
diffusion both scale like :math:`D_c`, so stopping rules and run lengths given in those units
mean the same at every beta.
"""

from __future__ import annotations

import numpy as np
from scipy.special import logsumexp

from .._checks import as_scalar
from ..diagnostics import energy
from ..eulerian.dg import Density
from ..solve import solve_density, solve_particles
from ..theory import critical_diffusion, gibbs_branch

__all__ = [
    "classify_sweep",
    "gibbs_residual",
    "locate_tricritical",
    "noise_sweep",
    "order_parameter",
    "stationary_density",
    "theory_branch",
    "token_sweep",
]


def order_parameter(x) -> float:
    r"""The order parameter :math:`|m| = |\int x\,d\mu| / \mu(S)`.

    Parameters
    ----------
    x : Density or ndarray of shape (n, d)
        A density, or tokens (the empirical measure).

    Returns
    -------
    float
        In [0, 1]: 0 for the uniform measure, 1 for a point mass.
    """
    if isinstance(x, Density):
        return float(np.linalg.norm(x.integrate(lambda p: p)) / x.integrate())
    x = np.asarray(x, dtype=float)
    return float(np.linalg.norm(x.mean(axis=-2), axis=-1).mean())


def _density_energy(rho: Density, beta: float) -> float:
    points, w = rho.quadrature_measure()
    return energy(points, beta, np.maximum(w, 0.0) / w.sum())


def stationary_density(model, rho0, diffusion, chunk=5.0, tol=1e-4, t_max=400.0, dt_max=0.1,
                       field="auto"):  # fmt: skip
    r"""Run the (noisy) PDE until it is stationary.

    Stopping rule: the run proceeds in chunks of ``chunk`` (in units of :math:`1/D_c`); after
    each, the relative change rate :math:`r_k = \|\rho(t_k) - \rho(t_{k-1})\|_{L^1} /
    (\Delta t\,\|\rho\|_{L^1})` (per unit of :math:`1/D_c`) is computed, and the run stops when
    :math:`r_k <` ``tol`` and :math:`r_k \le r_{k-1}` (at least two chunks: a state still
    leaving an unstable equilibrium changes slowly but at a growing rate, so it does not stop),
    or at ``t_max``.

    Parameters
    ----------
    model : Attention
        Q = K = V = I is assumed for the time unit (:math:`D_c` of its beta and kind).
    rho0 : Density
    diffusion : float
        Noise D > 0.
    chunk, tol, t_max : float
        Stopping rule, times in units of :math:`1/D_c`.
    dt_max : float
        Largest step, in units of :math:`1/D_c` (the splitting error of the stationary state is
        :math:`O(\Delta t^2)`).
    field : str
        Field evaluator.

    Returns
    -------
    rho : Density
        The final density.
    info : dict
        ``t`` (in units of :math:`1/D_c`), ``converged`` (bool), ``rate`` (last :math:`r_k`),
        ``order`` (:func:`order_parameter`), ``energy`` (:math:`E_\beta` of the normalised
        measure), ``steps``.
    """
    D = as_scalar(diffusion, "diffusion", min_value=0.0, strict=True)
    unit = 1.0 / critical_diffusion(model.beta, rho0.space.dim, model.normalized)
    rho, t, steps, prev, rate = rho0, 0.0, 0, np.inf, np.inf
    converged = False
    while t < t_max - 1e-12:
        sol = solve_density(model, rho, [0.0, chunk * unit], field=field, diffusion=D,
                            dt_max=dt_max * unit)  # fmt: skip
        new = sol.densities[-1]
        steps += sol.stats.steps
        change = np.abs((new - rho).quadrature_values()) * rho.space.quadrature.weights
        rate = float(change.sum() / (chunk * new.integrate()))
        rho, t = new, t + chunk
        if rate < tol and rate <= prev < np.inf:
            converged = True
            break
        prev = rate
    info = {"t": t, "converged": converged, "rate": rate, "order": order_parameter(rho),
            "energy": _density_energy(rho, model.beta), "steps": steps}  # fmt: skip
    return rho, info


def gibbs_residual(rho: Density, beta, diffusion) -> float:
    r"""Relative :math:`L^1` distance between a density and its USA Gibbs form.

    :math:`G(\rho) = e^{Z_\rho/(\beta D)} / \int e^{Z_\rho/(\beta D)}\,dS \cdot \mu(S)` with
    :math:`Z_\rho(x) = \int e^{\beta\langle x, y\rangle}\,d\mu(y)/\mu(S)` computed by the
    density's own quadrature (log-sum-exp, direct sum over the quadrature points); returns
    :math:`\|\rho - G(\rho)\|_{L^1}/\|\rho\|_{L^1}` by the same quadrature. A stationary USA
    state is a fixed point of G, so this is zero up to the discretisation error.
    """
    beta = as_scalar(beta, "beta", min_value=0.0, strict=True)
    D = as_scalar(diffusion, "diffusion", min_value=0.0, strict=True)
    x, w = rho.quadrature_measure()
    w = np.maximum(w, 0.0)
    mass = w.sum()
    with np.errstate(divide="ignore"):
        logw = np.log(w / mass)
    log_z = logsumexp(beta * (x @ x.T) + logw[None, :], axis=1)
    phi = np.exp(log_z) / (beta * D)
    W = rho.space.quadrature.weights.ravel()
    g = np.exp(phi - phi.max())
    g *= mass / (W @ g)
    values = rho.quadrature_values().ravel()
    return float(W @ np.abs(values - g) / (W @ np.abs(values)))


def _seed(space, amplitude, rng):
    """A small first-harmonic perturbation in a random direction (same mass as uniform 0)."""
    direction = rng.standard_normal(space.dim)
    direction /= np.linalg.norm(direction)
    area = space.quadrature.weights.sum()
    return space.interpolate(lambda p: amplitude * (p @ direction) / area)


def noise_sweep(model, space, ratios, seed_amplitude=1e-3, rng=0, **stationary):
    r"""Sweep the noise down through ``ratios`` (D/D_c) and back up, on the PDE.

    The down sweep starts from the uniform density; every run starts from the previous
    stationary state, plus (down sweep only) a first-harmonic perturbation of relative size
    ``seed_amplitude`` so that an unstable uniform state is left in finite time.

    Parameters
    ----------
    model : Attention
    space : DG
    ratios : sequence of float
        Decreasing values of :math:`D/D_c`; the up sweep runs them in reverse.
    seed_amplitude : float
    rng : int or Generator
        Direction of the perturbations.
    **stationary
        Passed to :func:`stationary_density`.

    Returns
    -------
    list of dict
        One row per run: ``direction`` ("down"/"up"), ``ratio``, ``diffusion``, and the
        ``info`` of :func:`stationary_density`.
    """
    g = np.random.default_rng(rng)
    ratios = [float(r) for r in ratios]
    if np.any(np.diff(ratios) >= 0):
        raise ValueError(f"ratios must be decreasing, got {ratios}")
    Dc = critical_diffusion(model.beta, space.dim, model.normalized)
    area = space.quadrature.weights.sum()
    rho = space.interpolate(lambda p: np.full(len(p), 1.0 / area))
    rows = []
    for direction, seq in (("down", ratios), ("up", ratios[::-1][1:])):
        for r in seq:
            if direction == "down":
                rho = (rho + _seed(space, seed_amplitude, g)).limit()
            rho, info = stationary_density(model, rho, r * Dc, **stationary)
            rows.append({"direction": direction, "ratio": r, "diffusion": r * Dc, **info})
    return rows


def token_sweep(model, x0, ratios, dt=0.02, burn=20.0, window=20.0, samples=20, rng=0,
                field="auto"):  # fmt: skip
    r"""The same sweep on noisy tokens: time-averaged :math:`|m|` at every noise.

    Each run continues the previous tokens for ``burn`` then ``window`` (units of
    :math:`1/D_c`) with the Euler–Maruyama scheme (step ``dt`` in those units), and averages
    :math:`|m|` over ``samples`` times in the window (and over the batch of x0).

    Parameters
    ----------
    model : Attention
    x0 : ndarray, shape (n, d) or (B, n, d)
    ratios : sequence of float
        Decreasing :math:`D/D_c`.
    dt, burn, window : float
    samples : int
    rng : int or Generator
    field : str

    Returns
    -------
    list of dict
        ``direction``, ``ratio``, ``diffusion``, ``order`` (mean), ``order_std`` (over the
        window's samples).
    """
    g = np.random.default_rng(rng)
    d = x0.shape[-1]
    unit = 1.0 / critical_diffusion(model.beta, d, model.normalized)
    ratios = [float(r) for r in ratios]
    t = unit * np.concatenate([[0.0], burn + np.linspace(0.0, window, samples)])
    x, rows = x0, []
    for direction, seq in (("down", ratios), ("up", ratios[::-1][1:])):
        for r in seq:
            traj = solve_particles(model, x, t, dt=dt * unit, method="em", field=field,
                                   diffusion=r / unit, rng=g)  # fmt: skip
            x = traj.x[-1]
            orders = [order_parameter(traj.x[k]) for k in range(1, len(t))]
            rows.append({"direction": direction, "ratio": r, "diffusion": r / unit,
                         "order": float(np.mean(orders)),
                         "order_std": float(np.std(orders))})  # fmt: skip
    return rows


def classify_sweep(rows, threshold=0.1) -> dict:
    r"""Type of the transition and hysteresis width read off a down-and-up sweep.

    A run is clustered when its order parameter exceeds ``threshold``. ``on``: the largest
    ratio at which the down sweep is clustered (where clusters appear); ``off``: the largest
    ratio above 1 at which the up sweep is still clustered (None if none). The transition is a
    jump when ``off > on`` (hysteresis: both states are stable in between), otherwise
    continuous. A subcritical branch whose fold lies closer to 1 than the grid spacing reads
    as continuous: the spacing is the resolution of this test (and of ``width``).

    Returns
    -------
    dict
        ``type`` ("continuous" or "jump"), ``on``, ``off``, ``width`` (``off - on`` in
        :math:`D/D_c`, 0 when none measured; the grid spacing is its resolution),
        ``jump_size`` (order parameter at ``on``).
    """
    down = [r for r in rows if r["direction"] == "down"]
    up = [r for r in rows if r["direction"] == "up"]
    clustered_down = [r["ratio"] for r in down if r["order"] > threshold]
    # at D = D_c itself a continuous branch relaxes algebraically (critical slowing down), so
    # only ratios above 1, where the uniform state is linearly stable, count as hysteresis
    clustered_up = [r["ratio"] for r in up if r["order"] > threshold and r["ratio"] > 1.0]
    on = max(clustered_down) if clustered_down else None
    off = max(clustered_up) if clustered_up else None
    jump_size = next((r["order"] for r in down if r["ratio"] == on), 0.0)
    width = 0.0 if on is None or off is None else max(off - on, 0.0)
    kind = "jump" if width > 0 else "continuous"
    return {"type": kind, "on": on, "off": off, "width": width, "jump_size": jump_size}


def theory_branch(beta, d, m=None) -> dict:
    r"""The exact USA branch of stationary states and what it predicts for a sweep.

    Returns
    -------
    dict
        ``m`` and ``ratio`` (:func:`meanfield.theory.gibbs_branch`), ``fold`` (the largest
        :math:`D/D_c` with a non-uniform state: 1 for a continuous transition),
        ``width`` (``fold - 1``, the hysteresis width in :math:`D/D_c`), ``jump``
        (:math:`|m|` of the stable state at :math:`D = D_c`, 0 when continuous).
    """
    m = np.linspace(0.005, 0.97, 195) if m is None else np.asarray(m, float)
    ratio = gibbs_branch(beta, d, m)
    k = int(np.argmax(ratio))
    fold = max(float(ratio[k]), 1.0)
    jump = 0.0
    if ratio[k] > 1.0:
        upper = ratio[k:]
        jump = float(np.interp(1.0, upper[::-1], m[k:][::-1]))
    return {"m": m, "ratio": ratio, "fold": fold, "width": fold - 1.0, "jump": jump}


def locate_tricritical(d, bracket=(0.5, 8.0), m=0.02, xtol=1e-4) -> float:
    r"""The beta where the USA branch turns from supercritical to subcritical, numerically.

    The sign of :math:`D/D_c - 1` on the exact branch (:func:`meanfield.theory.gibbs_branch`)
    at a small order parameter ``m`` tells the side the branch bends to; its root in beta is
    found by ``scipy.optimize.brentq``. It differs from the weakly nonlinear prediction
    :func:`meanfield.theory.tricritical_beta` by :math:`O(m^2)`, and checks it independently.
    """
    from scipy.optimize import brentq

    ms = np.linspace(0.005, m, 4)
    return float(brentq(lambda b: gibbs_branch(b, d, ms)[-1] - 1.0, *bracket, xtol=xtol))
