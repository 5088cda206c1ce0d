r"""Strong-stability-preserving Runge–Kutta schemes with a CFL-adaptive step.

Schemes are data: :class:`ShuOsher` holds the coefficients of the low-storage Shu–Osher form

.. math::
    y^{(0)} = y^n, \qquad
    y^{(i)} = a_i\, y^n + b_i \left(y^{(i-1)} + \Delta t\, L(t^n + c_i \Delta t, y^{(i-1)})\right),

each stage a convex combination of forward-Euler steps, followed by the limiter. The registry
:data:`SSP_METHODS` maps names to schemes; :func:`integrate` runs one on any state array with a
right-hand side ``rhs(t, y) -> (dy/dt, speed)``. The step is
:math:`\Delta t = \min(\mathrm{cfl}\; h_{min} / ((2p+1) \max|u|),\ \Delta t_{max})`, shortened
to land exactly on every output time; a step whose result is not admissible (a negative cell
mean, or a non-finite value) is retried with half the step, and a step whose later stages met a
field more than 25% faster than the first (a flow starting from rest) is redone with the
bound of that speed.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["ShuOsher", "SSP_METHODS", "cfl_step", "integrate", "StepFailure"]


#: A step is redone when a later stage's speed makes it exceed its CFL bound by this fraction.
STAGE_SPEEDUP = 0.25


class StepFailure(RuntimeError):
    """No admissible step was found after repeated halving."""


@dataclass(frozen=True)
class ShuOsher:
    """An explicit SSP Runge–Kutta scheme in low-storage Shu–Osher form.

    Attributes
    ----------
    name : str
    order : int
    a, b, c : tuple of float
        Stage coefficients (see the module docstring); ``c`` is the time fraction at which
        each stage evaluates the right-hand side.
    """

    name: str
    order: int
    a: tuple
    b: tuple
    c: tuple

    @property
    def stages(self) -> int:
        return len(self.a)

    def step(self, rhs, t, y, dt, k0, limiter=None):
        """One step from (t, y) with the first stage's derivative ``k0`` already known.

        Returns the new state, the number of right-hand-side evaluations made and the largest
        speed the later stages reported (0 for a one-stage scheme).
        """
        z, speed = y, 0.0
        for i in range(self.stages):
            if i == 0:
                k = k0
            else:
                k, s = rhs(t + self.c[i] * dt, z)
                speed = max(speed, s)
            z = self.b[i] * (z + dt * k)
            if self.a[i]:
                z = z + self.a[i] * y
            if limiter is not None:
                z = limiter(z)
        return z, self.stages - 1, speed


def _convex(b: tuple) -> tuple:
    """Weights ``a_i = 1 - b_i``, so every stage is a convex combination in floating point.

    ``fl(1/3) + fl(2/3) < 1`` by 5.6e-17: with those weights SSP-RK3 would lose that fraction
    of the mass at every step. ``1 - fl(2/3)`` is exact, so ``a_i + b_i = 1`` exactly.
    """
    return tuple(1.0 - bi for bi in b)


_B3 = (1.0, 0.25, 2.0 / 3.0)

#: Name -> scheme. SSP-RK3 is the Shu–Osher scheme (SSP coefficient 1, order 3).
SSP_METHODS = {
    "euler": ShuOsher("euler", 1, _convex((1.0,)), (1.0,), (0.0,)),
    "ssprk2": ShuOsher("ssprk2", 2, _convex((1.0, 0.5)), (1.0, 0.5), (0.0, 1.0)),
    "ssprk3": ShuOsher("ssprk3", 3, _convex(_B3), _B3, (0.0, 1.0, 0.5)),
}


def cfl_step(speed: float, h_min: float, degree: int, cfl: float, dt_max=None) -> float:
    r"""The CFL step :math:`\min(\mathrm{cfl}\,h_{min}/((2p+1)\,\mathrm{speed}),\ \Delta t_{max})`.

    Infinite when the speed is zero and there is no ``dt_max``.
    """
    dt = np.inf if speed <= 0 else cfl * h_min / ((2 * degree + 1) * speed)
    return dt if dt_max is None else min(dt, dt_max)


def integrate(scheme, rhs, y0, t_eval, step_size, limiter=None, admissible=None, progress=None,
              max_halvings: int = 40):  # fmt: skip
    """Run ``scheme`` from ``y0`` at ``t_eval[0]`` through every output time.

    Parameters
    ----------
    scheme : ShuOsher
    rhs : callable
        ``rhs(t, y) -> (dydt, speed)``.
    y0 : ndarray
    t_eval : ndarray, shape (T,)
        Non-decreasing output times.
    step_size : callable
        ``step_size(speed) -> dt`` (may be inf).
    limiter : callable, optional
        Applied to the state after every stage.
    admissible : callable, optional
        ``admissible(y) -> bool``; a step failing it is retried with half the step.
    progress : tqdm-like, optional
        ``update(dt)`` after every step.

    Returns
    -------
    ys : list of ndarray
        States at the output times.
    stats : dict
        ``steps``, ``rejected``, ``nfev`` (right-hand-side evaluations), ``dt_min``, ``dt_max``.
    """
    y = y0
    ys = [y0]
    stats = {"steps": 0, "rejected": 0, "nfev": 0, "dt_min": np.inf, "dt_max": 0.0}
    for t0, t1 in zip(t_eval[:-1], t_eval[1:], strict=True):
        t = t0
        while t < t1:
            k0, speed = rhs(t, y)
            stats["nfev"] += 1
            remaining = t1 - t
            dt = step_size(speed)
            if dt >= remaining * (1.0 - 1e-12):
                dt = remaining
            elif dt > 0.5 * remaining:
                dt = 0.5 * remaining  # two equal steps rather than one step and a sliver
            y, used, nfev = _admissible_step(
                scheme, rhs, t, y, dt, k0, step_size, limiter, admissible, max_halvings, stats
            )
            stats["nfev"] += nfev
            t = t1 if used == remaining else t + used
            stats["steps"] += 1
            stats["dt_min"] = float(min(stats["dt_min"], used))
            stats["dt_max"] = float(max(stats["dt_max"], used))
            if progress is not None:
                progress.update(used)
        ys.append(y)
    return ys, stats


def _admissible_step(scheme, rhs, t, y, dt, k0, step_size, limiter, admissible, max_halvings,
                     stats):  # fmt: skip
    """Retry until the step is admissible and obeys the CFL bound of every stage's speed.

    A field that speeds up within the step (e.g. from rest) is caught by the second test: the
    step is redone with the bound of the fastest stage.
    """
    nfev = 0
    for _ in range(max_halvings + 1):
        z, n, speed = scheme.step(rhs, t, y, dt, k0, limiter)
        nfev += n
        bound = step_size(speed)
        if dt > bound * (1.0 + STAGE_SPEEDUP):
            stats["rejected"] += 1
            dt = bound
            continue
        if np.all(np.isfinite(z)) and (admissible is None or admissible(z)):
            return z, dt, nfev
        stats["rejected"] += 1
        dt *= 0.5
    raise StepFailure(
        f"no admissible step at t = {t:.6g} after {max_halvings} halvings (dt = {dt:.3g}); "
        "the velocity may be non-finite or the state not a density"
    )
