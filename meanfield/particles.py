r"""Token (particle) systems: sampling, the right-hand side, and time-stepping schemes.

The token ODE is :math:`\dot x_i = X[\mu_n](x_i)` with :math:`\mu_n = \frac1n\sum_j \delta_{x_j}`.
Schemes are objects in the registry :data:`PARTICLE_METHODS`; :func:`meanfield.solve_particles`
is the single verb that runs them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy.integrate import solve_ivp

from ._checks import as_int, as_points, as_rng, as_scalar, as_times, choose
from .model import Attention
from .velocity import EVALUATORS, tangent
from .velocity import _unshift as unshift

__all__ = [
    "sample_sphere",
    "solve_particles",
    "Trajectory",
    "RK4",
    "DOP853",
    "PARTICLE_METHODS",
    "auto_dt",
    "token_rhs",
]


def sample_sphere(n, d, rng=None) -> np.ndarray:
    """Draw ``n`` points uniformly on the unit sphere :math:`S^{d-1}`.

    Parameters
    ----------
    n : int
        Number of points (>= 1).
    d : int
        Ambient dimension (>= 2).
    rng : int, numpy.random.Generator or None
        Seed or generator.

    Returns
    -------
    x : ndarray, shape (n, d)
    """
    n = as_int(n, "n", min_value=1)
    d = as_int(d, "d", min_value=2)
    g = as_rng(rng)
    x = g.standard_normal((n, d))
    r = np.linalg.norm(x, axis=1, keepdims=True)
    while np.any(r == 0):  # probability zero, but never divide by it
        bad = r[:, 0] == 0
        x[bad] = g.standard_normal((int(bad.sum()), d))
        r = np.linalg.norm(x, axis=1, keepdims=True)
    return x / r


def normalize(x: np.ndarray) -> np.ndarray:
    """Radial projection onto the unit sphere, rows of shape (..., d)."""
    return x / np.linalg.norm(x, axis=-1, keepdims=True)


def token_rhs(model, velocity: str = "auto", **options):
    r"""The token ODE right-hand side ``f(x)`` for states of shape (n, d) or (B, n, d).

    ``f`` evaluates the field at :math:`x/|x|` (a smooth extension off the sphere), so Runge–Kutta
    stages that leave the sphere by :math:`O(h^2)` keep the scheme's order. A leading batch
    axis holds B independent token systems (each its own empirical measure).
    """
    evaluator = EVALUATORS[velocity]

    def single(u):
        w = np.full(u.shape[0], 1.0 / u.shape[0])
        return evaluator(model, u, u, w, **options)

    def f(x):
        u = normalize(x)
        if u.ndim == 2:
            return tangent(u, single(u))
        if velocity != "spectral" and u.shape[1] ** 2 <= BATCH_TILE:
            return tangent(u, batched_self_field(model, u))
        return tangent(u, np.stack([single(ui) for ui in u]))

    return f


#: Elements of the (b, n, n) logits block the batched evaluator holds at a time.
BATCH_TILE = 1 << 18


def batched_self_field(model, x) -> np.ndarray:
    r"""Ambient self-interaction field of B token systems at once, :math:`w_j = 1/n`.

    Vectorised over the batch with stacked matrix products; memory is bounded by
    :data:`BATCH_TILE` elements of logits (batch members are processed in groups).

    Parameters
    ----------
    model : Attention
    x : ndarray, shape (B, n, d)

    Returns
    -------
    F : ndarray, shape (B, n, d)
        Before the tangent projection (see :func:`meanfield.velocity.tangent`).
    """
    B, n, d = x.shape
    z = x @ model.interaction(d).T
    vy = x @ (model.value(d).T / n)
    group = max(1, BATCH_TILE // (n * n))
    out = np.empty_like(x)
    for s in range(0, B, group):
        logits = z[s : s + group] @ x[s : s + group].transpose(0, 2, 1)
        shift = logits.max(axis=2, keepdims=True)
        logits -= shift
        np.exp(logits, out=logits)
        num = logits @ vy[s : s + group]
        if model.normalized:
            out[s : s + group] = num / (logits.sum(axis=2, keepdims=True) / n)
        else:
            b = num.shape[0]
            flat = unshift(num.reshape(b * n, d), shift.reshape(b * n))
            out[s : s + group] = flat.reshape(b, n, d)
    return out


def auto_dt(model, d: int) -> float:
    r"""Default RK4 step from a bound on the field's Lipschitz constant.

    SA: :math:`L \approx \|V\|(1 + \beta\|K^TQ\|)`; USA multiplies by :math:`e^{\beta\|K^TQ\|}`,
    the size its weights reach once tokens cluster. Returns :math:`\min(0.05, 0.1/L)`.
    """
    a = float(np.linalg.norm(model.interaction(d), 2))
    v = float(np.linalg.norm(model.value(d), 2))
    rate = max(v, 1e-300) * (1.0 + a)
    if not model.normalized:
        rate *= np.exp(min(a, 700.0))
    return min(0.05, 0.1 / rate)


@dataclass(frozen=True)
class RK4:
    """Classical fixed-step Runge–Kutta 4 with projection onto the sphere after every step.

    Each output interval is split into equal steps no longer than ``dt``, so output times are
    hit exactly.
    """

    def step(self, f, x, h):
        k1 = f(x)
        k2 = f(x + 0.5 * h * k1)
        k3 = f(x + 0.5 * h * k2)
        k4 = f(x + h * k3)
        return normalize(x + (h / 6.0) * (k1 + 2.0 * k2 + 2.0 * k3 + k4))

    def integrate(self, f, x0, t_eval, dt, progress=None):
        xs = [x0]
        x = x0
        steps = 0
        for t0, t1 in zip(t_eval[:-1], t_eval[1:], strict=True):
            nsteps = max(1, int(np.ceil((t1 - t0) / dt - 1e-12))) if t1 > t0 else 0
            h = (t1 - t0) / max(nsteps, 1)
            for _ in range(nsteps):
                x = self.step(f, x, h)
                steps += 1
                if progress is not None:
                    progress.update(h)
            xs.append(x)
        return np.stack(xs), {"steps": steps, "nfev": 4 * steps}


@dataclass(frozen=True)
class DOP853:
    """Adaptive reference: SciPy's DOP853 on the flattened state, tight tolerances.

    The outputs are projected back on the sphere (the drift is at the tolerance level).
    """

    rtol: float = 1e-12
    atol: float = 1e-13

    def integrate(self, f, x0, t_eval, dt, progress=None):
        shape = x0.shape
        if t_eval[-1] == t_eval[0]:
            return np.repeat(x0[None], len(t_eval), axis=0), {"nfev": 0}
        sol = solve_ivp(
            lambda t, y: f(y.reshape(shape)).ravel(),
            (t_eval[0], t_eval[-1]),
            x0.ravel(),
            method="DOP853",
            t_eval=t_eval,
            rtol=self.rtol,
            atol=self.atol,
        )
        if not sol.success:
            raise RuntimeError(f"DOP853 failed: {sol.message}")
        xs = normalize(sol.y.T.reshape((len(t_eval),) + shape))
        return xs, {"nfev": int(sol.nfev)}


#: Method name -> scheme class.
PARTICLE_METHODS = {"rk4": RK4, "dop853": DOP853}


@dataclass(frozen=True)
class Trajectory:
    """Result of :func:`solve_particles`.

    Attributes
    ----------
    t : ndarray, shape (T,)
        Output times.
    x : ndarray, shape (T, n, d) or (T, B, n, d)
        Token positions at the output times (B ensembles when batched).
    method : str
        Time-stepping scheme used.
    stats : dict
        Scheme statistics (steps, field evaluations).
    """

    t: np.ndarray
    x: np.ndarray
    method: str
    stats: dict = field(default_factory=dict)

    def __getitem__(self, k) -> np.ndarray:
        """Positions at output index ``k``, shape (n, d)."""
        return self.x[k]


def _progress(show, total):
    if not show:
        return None
    from tqdm.auto import tqdm

    return tqdm(total=total, unit="t", desc="tokens", leave=False)


def solve_particles(
    model: Attention,
    x0,
    t_eval,
    dt=None,
    method: str = "rk4",
    velocity: str = "auto",
    progress: bool = False,
    **velocity_options,
) -> Trajectory:
    r"""Evolve n tokens on :math:`S^{d-1}` under self-attention.

    Solves :math:`\dot x_i = X[\mu_n](x_i)`, :math:`\mu_n = \frac1n\sum_j\delta_{x_j}`.

    Parameters
    ----------
    model : Attention
    x0 : array_like, shape (n, d) or (B, n, d)
        Initial tokens on the unit sphere, at time ``t_eval[0]``. A leading axis holds B
        independent ensembles, advanced together (vectorised).
    t_eval : array_like, shape (T,)
        Non-decreasing output times; the first is the initial time.
    dt : float, optional
        RK4 step (``None``: :func:`meanfield.particles.auto_dt`). Ignored by ``"dop853"``.
    method : {"rk4", "dop853"}
        Fixed-step RK4 with projection, or SciPy's adaptive DOP853 (tight tolerances).
    velocity : {"auto", "direct", "spectral"}
        Field evaluator.
    progress : bool
        Show a tqdm progress bar.
    **velocity_options
        Passed to the evaluator.

    Returns
    -------
    Trajectory
        ``.t`` (T,), ``.x`` (T, n, d), or (T, B, n, d) for batched ``x0``.
    """
    if not isinstance(model, Attention):
        raise ValueError(f"model must be a meanfield.Attention, got {type(model).__name__}")
    choose(method, "method", PARTICLE_METHODS)
    choose(velocity, "velocity", EVALUATORS)
    x0 = as_points(x0, "x0", d=model.dim, batched=True)
    t = as_times(t_eval)
    if dt is None:
        step = auto_dt(model, x0.shape[-1])
    else:
        step = as_scalar(dt, "dt", min_value=0, strict=True)
    f = token_rhs(model, velocity, **velocity_options)
    bar = _progress(progress, float(t[-1] - t[0]))
    try:
        xs, stats = PARTICLE_METHODS[method]().integrate(f, x0, t, step, bar)
    finally:
        if bar is not None:
            bar.close()
    return Trajectory(t=t, x=xs, method=method, stats=stats)
