"""The solve verbs: :func:`solve_particles` (tokens) and ``solve_density`` (mean-field PDE)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ._checks import as_points, as_scalar, as_times, choose
from .model import Attention
from .particles import PARTICLE_METHODS, auto_dt, token_rhs
from .velocity import EVALUATORS

__all__ = ["Trajectory", "solve_particles"]


@dataclass(frozen=True)
class Trajectory:
    """Result of :func:`solve_particles`.

    Attributes
    ----------
    t : ndarray, shape (T,)
        Output times.
    x : ndarray, shape (T, n, d)
        Token positions at the output times.
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
    x0 : array_like, shape (n, d)
        Initial tokens on the unit sphere, at time ``t_eval[0]``.
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
        ``.t`` (T,), ``.x`` (T, n, d).
    """
    if not isinstance(model, Attention):
        raise ValueError(f"model must be a meanfield.Attention, got {type(model).__name__}")
    choose(method, "method", PARTICLE_METHODS)
    choose(velocity, "velocity", EVALUATORS)
    x0 = as_points(x0, "x0", d=model.dim)
    t = as_times(t_eval)
    step = auto_dt(model, x0.shape[-1]) if dt is None else as_scalar(dt, "dt", min_value=0, strict=True)
    f = token_rhs(model, velocity, **velocity_options)
    bar = _progress(progress, float(t[-1] - t[0]))
    try:
        xs, stats = PARTICLE_METHODS[method]().integrate(f, x0, t, step, bar)
    finally:
        if bar is not None:
            bar.close()
    return Trajectory(t=t, x=xs, method=method, stats=stats)
