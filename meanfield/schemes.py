r"""Time-stepping schemes behind one interface, with one statistics record.

A :class:`Problem` holds what is being integrated: the right-hand side
``rhs(t, y) -> (dy/dt, speed)`` (``speed`` is the largest transport speed the evaluation met,
0 where the problem has no CFL bound), the initial state and the step rules. Every scheme is an
object with ``integrate(problem, t_eval, progress=None) -> (states, Stats)``; the registry
:data:`SCHEMES` maps names to scheme instances, and each solve verb states the names it
accepts. Schemes hold no state of the solution.

- :class:`ShuOsher`: explicit SSP Runge–Kutta in low-storage Shu–Osher form,

  .. math::
      y^{(0)} = y^n, \qquad
      y^{(i)} = a_i\, y^n + b_i \left(y^{(i-1)} + \Delta t\, L(t^n + c_i \Delta t,
      y^{(i-1)})\right),

  each stage a convex combination of forward-Euler steps followed by ``problem.limit``. The
  step is ``problem.step_size(speed)`` (a CFL bound), shortened to land on every output time;
  a step whose result is not admissible (``problem.admissible`` false, or a non-finite value)
  is retried with half the step, and one whose later stages met a field more than 25% faster
  than the first (a flow starting from rest) is redone with the bound of that speed.
- :class:`RK4`: classical fixed-step Runge–Kutta 4, ``problem.project`` after every step
  (the sphere projection for tokens); each output interval is split into equal steps no
  longer than ``problem.dt``.
- :class:`DOP853`: SciPy's adaptive DOP853 on the flattened state at tight tolerances, the
  reference; outputs projected with ``problem.project``.
- :class:`EulerMaruyama`: the SDE :math:`dy = f\,dt + dW` (``problem.noise`` draws dW) by
  fixed projected Euler–Maruyama steps ("em") or a Lie splitting of an RK4 drift step and the
  projected noise step ("rk4-em"); weak order 1, strong order 1/2.
- :class:`StrangIMEX`: :math:`\dot y = f(y) + L y` with f explicit (SSP, limited) and the stiff
  linear L implicit through ``problem.resolvent`` (L-stable SDIRK2), Strang splitting: second
  order ("imex").
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy.integrate import solve_ivp

__all__ = [
    "DOP853",
    "EulerMaruyama",
    "Problem",
    "RK4",
    "SCHEMES",
    "ShuOsher",
    "Stats",
    "StepFailure",
    "StrangIMEX",
    "cfl_step",
    "sdirk2",
]


#: A step is redone when a later stage's speed makes it exceed its CFL bound by this fraction.
STAGE_SPEEDUP = 0.25


class StepFailure(RuntimeError):
    """No admissible step was found after repeated halving."""


@dataclass
class Stats:
    """What a scheme did: the same fields for every scheme and both solve verbs.

    Attributes
    ----------
    steps : int
        Accepted steps.
    rejected : int
        Steps redone (halved, or shortened after a faster stage; adaptive error rejections).
    nfev : int
        Right-hand-side evaluations.
    dt_min, dt_max : float
        Smallest and largest accepted step (``nan`` when no step was taken).
    wall, cpu : float
        Wall-clock and process CPU seconds spent in the scheme.
    """

    steps: int = 0
    rejected: int = 0
    nfev: int = 0
    dt_min: float = float("nan")
    dt_max: float = float("nan")
    wall: float = 0.0
    cpu: float = 0.0

    def accept(self, dt: float) -> None:
        """Count one accepted step of length ``dt``."""
        self.steps += 1
        self.dt_min = dt if not self.dt_min <= dt else self.dt_min  # nan-aware min
        self.dt_max = dt if not self.dt_max >= dt else self.dt_max

    def as_dict(self) -> dict:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


@dataclass(frozen=True)
class Problem:
    """An initial-value problem as the schemes see it.

    Attributes
    ----------
    rhs : callable
        ``rhs(t, y) -> (dydt, speed)``.
    y0 : ndarray
        Initial state at ``t_eval[0]``.
    dt : float, optional
        Fixed step (RK4) or upper bound on the step (SSP).
    step_size : callable, optional
        ``step_size(speed) -> dt``, the CFL bound for a speed (SSP schemes; may be inf).
    limit : callable, optional
        Applied to the state after every stage (the positivity limiter).
    project : callable, optional
        Applied to the state after every step and to the outputs (the sphere projection).
    admissible : callable, optional
        ``admissible(y) -> bool``; a step failing it is retried with half the step.
    noise : callable, optional
        ``noise(y, h) -> dW``: a random increment over a step h (stochastic schemes; it draws
        from its own Generator, so a run is reproducible from that Generator's seed).
    resolvent : callable, optional
        ``resolvent(y, tau) -> z`` solving :math:`(I - \tau L) z = y` for the stiff linear part
        L of the problem (IMEX schemes; L is absent from ``rhs``).
    """

    rhs: Callable
    y0: np.ndarray
    dt: float | None = None
    step_size: Callable | None = None
    limit: Callable | None = None
    project: Callable | None = None
    admissible: Callable | None = None
    noise: Callable | None = None
    resolvent: Callable | None = None

    def derivative(self, t, y):
        """dy/dt alone (for schemes without a CFL bound)."""
        return self.rhs(t, y)[0]


def _timed(integrate):
    """Wrap ``integrate`` so that the returned Stats carry its wall and CPU time."""

    def run(self, problem, t_eval, progress=None):
        wall, cpu = time.perf_counter(), time.process_time()
        ys, stats = integrate(self, problem, t_eval, progress)
        stats.wall = time.perf_counter() - wall
        stats.cpu = time.process_time() - cpu
        return ys, stats

    run.__doc__ = integrate.__doc__
    return run


def cfl_step(speed: float, h_min: float, degree: int, cfl: float, dt_max=None) -> float:
    r"""The CFL step :math:`\min(\mathrm{cfl}\,h_{min}/((2p+1)\,\mathrm{speed}),\ \Delta t_{max})`.

    Infinite when the speed is zero and there is no ``dt_max``.
    """
    dt = np.inf if speed <= 0 else cfl * h_min / ((2 * degree + 1) * speed)
    return dt if dt_max is None else min(dt, dt_max)


def _convex(b: tuple) -> tuple:
    """Weights ``a_i = 1 - b_i``, so every stage is a convex combination in floating point.

    ``fl(1/3) + fl(2/3) < 1`` by 5.6e-17: with those weights SSP-RK3 would lose that fraction
    of the mass at every step. ``1 - fl(2/3)`` is exact, so ``a_i + b_i = 1`` exactly.
    """
    return tuple(1.0 - bi for bi in b)


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
    max_halvings : int
        Halvings of a step before :class:`StepFailure`.
    """

    name: str
    order: int
    a: tuple
    b: tuple
    c: tuple
    max_halvings: int = 40

    @property
    def stages(self) -> int:
        return len(self.a)

    def step(self, problem, t, y, dt, k0):
        """One step from (t, y) with the first stage's derivative ``k0`` already known.

        Returns the new state, the number of right-hand-side evaluations made and the largest
        speed the later stages reported (0 for a one-stage scheme).
        """
        z, speed = y, 0.0
        for i in range(self.stages):
            if i == 0:
                k = k0
            else:
                k, s = problem.rhs(t + self.c[i] * dt, z)
                speed = max(speed, s)
            z = self.b[i] * (z + dt * k)
            if self.a[i]:
                z = z + self.a[i] * y
            if problem.limit is not None:
                z = problem.limit(z)
        return z, self.stages - 1, speed

    @_timed
    def integrate(self, problem, t_eval, progress=None):
        """Run from ``problem.y0`` at ``t_eval[0]`` through every output time.

        Returns the states at the output times (a list) and the :class:`Stats`.
        """
        y = problem.y0
        ys = [y]
        stats = Stats()
        for t0, t1 in zip(t_eval[:-1], t_eval[1:], strict=True):
            t = t0
            while t < t1:
                k0, speed = problem.rhs(t, y)
                stats.nfev += 1
                remaining = t1 - t
                dt = self._bound(problem, speed)
                if dt >= remaining * (1.0 - 1e-12):
                    dt = remaining
                elif dt > 0.5 * remaining:
                    dt = 0.5 * remaining  # two equal steps rather than one step and a sliver
                y, used = self._admissible_step(problem, t, y, dt, k0, stats)
                t = t1 if used == remaining else t + used
                stats.accept(float(used))
                if progress is not None:
                    progress.update(used)
            ys.append(y)
        return ys, stats

    @staticmethod
    def _bound(problem, speed):
        dt = np.inf if problem.step_size is None else problem.step_size(speed)
        return dt if problem.dt is None else min(dt, problem.dt)

    def _admissible_step(self, problem, t, y, dt, k0, stats):
        """Retry until the step is admissible and obeys the CFL bound of every stage's speed.

        A field that speeds up within the step (e.g. from rest) is caught by the second test:
        the step is redone with the bound of the fastest stage.
        """
        for _ in range(self.max_halvings + 1):
            z, nfev, speed = self.step(problem, t, y, dt, k0)
            stats.nfev += nfev
            bound = self._bound(problem, speed)
            if dt > bound * (1.0 + STAGE_SPEEDUP):
                stats.rejected += 1
                dt = bound
                continue
            if np.all(np.isfinite(z)) and (problem.admissible is None or problem.admissible(z)):
                return z, dt
            stats.rejected += 1
            dt *= 0.5
        raise StepFailure(
            f"no admissible step at t = {t:.6g} after {self.max_halvings} halvings "
            f"(dt = {dt:.3g}); the velocity may be non-finite or the state not a density"
        )


_B3 = (1.0, 0.25, 2.0 / 3.0)


def _identity(y):
    return y


@dataclass(frozen=True)
class RK4:
    """Classical fixed-step Runge–Kutta 4 (order 4), ``problem.project`` after every step.

    Each output interval is split into equal steps no longer than ``problem.dt``, so output
    times are hit exactly.
    """

    name: str = "rk4"
    order: int = 4

    def step(self, problem, t, y, h):
        f = problem.derivative
        k1 = f(t, y)
        k2 = f(t + 0.5 * h, y + 0.5 * h * k1)
        k3 = f(t + 0.5 * h, y + 0.5 * h * k2)
        k4 = f(t + h, y + h * k3)
        project = problem.project or _identity
        return project(y + (h / 6.0) * (k1 + 2.0 * k2 + 2.0 * k3 + k4))

    @_timed
    def integrate(self, problem, t_eval, progress=None):
        """Fixed steps of at most ``problem.dt``; returns the stacked states and the Stats."""
        if problem.dt is None:
            raise ValueError("RK4 needs a step: the problem's dt is None")
        y = problem.y0
        ys = [y]
        stats = Stats()
        for t0, t1 in zip(t_eval[:-1], t_eval[1:], strict=True):
            nsteps = max(1, int(np.ceil((t1 - t0) / problem.dt - 1e-12))) if t1 > t0 else 0
            h = (t1 - t0) / max(nsteps, 1)
            for k in range(nsteps):
                y = self.step(problem, t0 + k * h, y, h)
                stats.accept(float(h))
                if progress is not None:
                    progress.update(h)
            ys.append(y)
        stats.nfev = 4 * stats.steps
        return np.stack(ys), stats


@dataclass(frozen=True)
class DOP853:
    """Adaptive reference: SciPy's DOP853 (order 8) on the flattened state, tight tolerances.

    The outputs are projected with ``problem.project`` (the drift off the sphere is at the
    tolerance level). ``problem.dt`` is ignored.
    """

    rtol: float = 1e-12
    atol: float = 1e-13
    name: str = "dop853"
    order: int = 8

    @_timed
    def integrate(self, problem, t_eval, progress=None):
        """SciPy's integrator through ``t_eval``; returns the stacked states and the Stats."""
        x0 = problem.y0
        shape = x0.shape
        stats = Stats()
        if t_eval[-1] == t_eval[0]:
            return np.repeat(x0[None], len(t_eval), axis=0), stats
        sol = solve_ivp(
            lambda t, y: problem.derivative(t, y.reshape(shape)).ravel(),
            (t_eval[0], t_eval[-1]),
            x0.ravel(),
            method="DOP853",
            t_eval=t_eval,
            rtol=self.rtol,
            atol=self.atol,
        )
        if not sol.success:
            raise RuntimeError(f"DOP853 failed: {sol.message}")
        xs = sol.y.T.reshape((len(t_eval),) + shape)
        if problem.project is not None:
            xs = problem.project(xs)
        stats.nfev = int(sol.nfev)  # SciPy does not report its steps: steps stays 0
        if progress is not None:
            progress.update(float(t_eval[-1] - t_eval[0]))
        return xs, stats


@dataclass(frozen=True)
class EulerMaruyama:
    r"""Fixed-step stochastic scheme for :math:`dy = f(t, y)\,dt + dW`, then ``problem.project``.

    With ``drift="euler"`` one step is the projected Euler–Maruyama step
    :math:`y_{n+1} = \Pi(y_n + h f(t_n, y_n) + \Delta W_n)`; with ``drift="rk4"`` it is the Lie
    splitting :math:`y_{n+1} = \Pi(z + \Delta W_n)`, z the RK4 step of the drift alone
    (projected). ``problem.noise(y, h)`` draws :math:`\Delta W_n` at y (for tokens on
    :math:`S^{d-1}` with noise D the geodesic step :math:`\exp_y(\sqrt{2Dh}\,P_y\xi) - y`,
    :math:`\xi \sim N(0, I_d)`: :func:`meanfield.solve.brownian_increment`).

    Orders (h the step): weak order 1 (:math:`|E\,g(y_N) - E\,g(y(T))| = O(h)` for smooth g)
    and strong order 1/2 (:math:`E|y_N - y(T)| = O(h^{1/2})`), for both drifts. For Brownian
    motion on the sphere the geodesic step has :math:`E[y_{n+1}\mid y_n] = c(h)\,y_n` with
    :math:`c(h) = E\cos(\sqrt{2Dh}\,\chi_{d-1}) = 1 - (d-1)Dh + (d^2-1)(Dh)^2/6 + \dots`,
    against the exact :math:`e^{-(d-1)Dh}`: the weak error of :math:`E\langle y_N, y_0\rangle`
    is first order for d >= 3 (zero on the circle, where the step is exact); the projected
    tangent step :math:`\Pi(y + \sqrt{2Dh}P_y\xi)` has :math:`c(h) = E(1 + 2Dh
    \chi^2_{d-1})^{-1/2}`, first order in every d. tests/test_schemes.py fits both orders.
    Each output interval is split into equal steps no longer than ``problem.dt``.
    """

    name: str = "em"
    drift: str = "euler"
    weak_order: float = 1.0
    strong_order: float = 0.5

    @property
    def order(self) -> int:
        """Order without noise: 1 (projected Euler) or 4 (RK4)."""
        return 4 if self.drift == "rk4" else 1

    @_timed
    def integrate(self, problem, t_eval, progress=None):
        """Fixed steps of at most ``problem.dt``; returns the stacked states and the Stats."""
        if problem.dt is None:
            raise ValueError(f"{self.name} needs a step: the problem's dt is None")
        y = problem.y0
        ys = [y]
        stats = Stats()
        for t0, t1 in zip(t_eval[:-1], t_eval[1:], strict=True):
            nsteps = max(1, int(np.ceil((t1 - t0) / problem.dt - 1e-12))) if t1 > t0 else 0
            h = (t1 - t0) / max(nsteps, 1)
            for k in range(nsteps):
                y = self.step(problem, t0 + k * h, y, h)
                stats.accept(float(h))
                if progress is not None:
                    progress.update(h)
            ys.append(y)
        stats.nfev = (4 if self.drift == "rk4" else 1) * stats.steps
        return np.stack(ys), stats

    def step(self, problem, t, y, h):
        """One step from (t, y) of size h."""
        project = problem.project or _identity
        noise = problem.noise or (lambda z, _h: 0.0)
        if self.drift == "rk4":
            z = SCHEMES["rk4"].step(problem, t, y, h)
            return project(z + noise(z, h))
        return project(y + h * problem.derivative(t, y) + noise(y, h))


#: Diagonal coefficient of the two-stage L-stable SDIRK scheme (second order, stiffly accurate).
SDIRK_GAMMA = 1.0 - 1.0 / np.sqrt(2.0)


def sdirk2(resolvent, y, h):
    r"""One step of the L-stable SDIRK2 scheme for :math:`\dot y = L y` over h.

    Stages :math:`Y_1 = (I - \gamma h L)^{-1} y` and
    :math:`Y_2 = (I - \gamma h L)^{-1}(y + (1-\gamma) h L Y_1)`, with
    :math:`hLY_1 = (Y_1 - y)/\gamma`, so only the resolvent of the one matrix
    :math:`I - \gamma h L` is needed (:math:`\gamma = 1 - 1/\sqrt2`).
    """
    y1 = resolvent(y, SDIRK_GAMMA * h)
    return resolvent(y + ((1.0 - SDIRK_GAMMA) / SDIRK_GAMMA) * (y1 - y), SDIRK_GAMMA * h)


@dataclass(frozen=True)
class StrangIMEX:
    r"""IMEX Strang splitting for :math:`\dot y = f(t, y) + L y`: explicit SSP f, implicit L.

    One step of size h is :math:`S_L(h/2)\, S_f(h)\, S_L(h/2)`: :math:`S_f` one step of the
    explicit SSP scheme ``explicit`` (limiter after every stage), :math:`S_L` one step of the
    L-stable SDIRK2 scheme (:func:`sdirk2`; only ``problem.resolvent`` is used) followed by the
    limiter. Strang splitting of two solvers of order >= 2 is second order in time (the
    symmetric composition cancels the first-order commutator term); every sub-step is a
    conservative linear map, so mass is kept. The step is the largest :math:`\Delta t_{out}/2^k`
    within the CFL bound of the transport speed (and ``problem.dt``), so the implicit matrix is
    factorised for a handful of step sizes only; a step whose stages met a faster field, or
    whose result is not admissible, is redone with half the step.
    """

    name: str = "imex"
    explicit: str = "ssprk3"
    order: int = 2
    max_halvings: int = 40

    def step(self, problem, t, y, h):
        """One Strang step; returns the state, right-hand-side evaluations and largest speed."""
        limit = problem.limit or _identity
        resolvent = problem.resolvent
        z = y if resolvent is None else limit(sdirk2(resolvent, y, 0.5 * h))
        k0, speed0 = problem.rhs(t, z)
        z, nfev, speed = SCHEMES[self.explicit].step(problem, t, z, h, k0)
        if resolvent is not None:
            z = limit(sdirk2(resolvent, z, 0.5 * h))
        return z, nfev + 1, max(speed, speed0)

    @_timed
    def integrate(self, problem, t_eval, progress=None):
        """Run from ``problem.y0`` through every output time; states (list) and Stats."""
        y = problem.y0
        ys = [y]
        stats = Stats()
        _, speed = problem.rhs(t_eval[0], y)
        stats.nfev += 1
        for t0, t1 in zip(t_eval[:-1], t_eval[1:], strict=True):
            span = t1 - t0
            k, done = 0, 0  # the state is at t0 + done * span / 2**k
            while span > 0 and done < 2**k:
                bound = ShuOsher._bound(problem, speed)
                while span / 2**k > bound and k < self.max_halvings:
                    k, done = k + 1, 2 * done
                while k > 0 and done % 2 == 0 and span / 2 ** (k - 1) <= bound:
                    k, done = k - 1, done // 2  # coarsen again where aligned
                y, speed, k, done = self._accepted(problem, t0, span, y, k, done, stats)
                if progress is not None:
                    progress.update(span / 2**k)
            ys.append(y)
        return ys, stats

    def _accepted(self, problem, t0, span, y, k, done, stats):
        """Redo the step with half the size until it is admissible; advance the position."""
        for _ in range(self.max_halvings + 1):
            h = span / 2**k
            z, nfev, speed = self.step(problem, t0 + done * h, y, h)
            stats.nfev += nfev
            fast = h > ShuOsher._bound(problem, speed) * (1.0 + STAGE_SPEEDUP)
            ok = np.all(np.isfinite(z)) and (problem.admissible is None or problem.admissible(z))
            if not fast and ok:
                stats.accept(float(h))
                return z, speed, k, done + 1
            stats.rejected += 1
            k, done = k + 1, 2 * done
        raise StepFailure(
            f"no admissible IMEX step at t = {t0 + done * span / 2**k:.6g} after "
            f"{self.max_halvings} halvings; the velocity may be non-finite or the state not a "
            "density"
        )


#: Name -> scheme. SSP-RK3 is the Shu–Osher scheme (SSP coefficient 1, order 3).
SCHEMES = {
    "euler": ShuOsher("euler", 1, _convex((1.0,)), (1.0,), (0.0,)),
    "ssprk2": ShuOsher("ssprk2", 2, _convex((1.0, 0.5)), (1.0, 0.5), (0.0, 1.0)),
    "ssprk3": ShuOsher("ssprk3", 3, _convex(_B3), _B3, (0.0, 1.0, 0.5)),
    "rk4": RK4(),
    "dop853": DOP853(),
    "em": EulerMaruyama(),
    "rk4-em": EulerMaruyama("rk4-em", drift="rk4"),
    "imex": StrangIMEX(),
}
