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
- :class:`EmbeddedRK`: adaptive embedded pairs ("dopri5": Dormand–Prince 5(4), "bs3":
  Bogacki–Shampine 3(2)) with ``rtol``/``atol`` error control, ``problem.project`` after every
  accepted step and dense output at the output times (so many outputs do not shorten steps).
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
    "BS3",
    "DOP853",
    "DOPRI5",
    "EmbeddedRK",
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
    independent : bool
        The leading axis of y holds independent systems (a batch of token ensembles) and
        ``rhs`` accepts any subset of them: adaptive schemes then give each system its own
        steps (``rhs`` then receives t as an array broadcastable against the subset).
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
    independent: bool = False

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


def _fixed_steps(step, problem, t_eval, progress, nfev_per_step):
    """Each output interval in equal steps no longer than ``problem.dt``: ``y = step(problem,
    t, y, h)``; returns the stacked states at the outputs and the Stats."""
    y = problem.y0
    ys = [y]
    stats = Stats()
    for t0, t1 in zip(t_eval[:-1], t_eval[1:], strict=True):
        nsteps = max(1, int(np.ceil((t1 - t0) / problem.dt - 1e-12))) if t1 > t0 else 0
        h = (t1 - t0) / max(nsteps, 1)
        for k in range(nsteps):
            y = step(problem, t0 + k * h, y, h)
            stats.accept(float(h))
            if progress is not None:
                progress.update(h)
        ys.append(y)
    stats.nfev = nfev_per_step * stats.steps
    return np.stack(ys), stats


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
        return _fixed_steps(self.step, problem, t_eval, progress, nfev_per_step=4)


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
        return _fixed_steps(self.step, problem, t_eval, progress, nfev_per_step=self.order)

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


def _rms_per_system(e: np.ndarray) -> np.ndarray:
    """Error norm of each system of a batch (leading axis): RMS over its components."""
    return np.sqrt(np.mean(e * e, axis=tuple(range(1, e.ndim))))


def _worst_block(e: np.ndarray) -> np.ndarray:
    """Error norm of a batch of ONE state: RMS over its components or, for a state of shape
    (B, n, d) holding B systems advanced with shared steps, the worst of their RMS norms (one
    average over all of them would let one system's error be averaged away)."""
    if e.ndim >= 4:
        return np.sqrt(np.mean(e * e, axis=(-2, -1))).reshape(len(e), -1).max(axis=1)
    return _rms_per_system(e)


def _one_system(problem):
    """The problem as a batch of one independent system (a leading axis of length 1)."""
    project = problem.project or _identity
    return Problem(
        rhs=lambda t, y: (problem.derivative(float(np.ravel(t)[0]), y[0])[None], 0.0),
        y0=np.asarray(problem.y0)[None],
        dt=problem.dt,
        project=project,
        independent=True,
    )


@dataclass(frozen=True)
class EmbeddedRK:
    r"""Adaptive explicit Runge–Kutta pair with error control, projection and dense output.

    A step of size h from :math:`(t, y)` computes the stages :math:`k_i`, the solution
    :math:`y_1 = y + h\sum_i b_i k_i` (order ``order``) and the error estimate
    :math:`e = h\sum_i e_i k_i` (the difference to the embedded lower-order solution). It is
    accepted when

    .. math::
        \|e\| = \max_{\text{systems}} \Big(\frac1N \sum_j
        \Big(\frac{e_j}{\mathrm{atol} + \mathrm{rtol}\max(|y_j|, |y_{1,j}|)}\Big)^2\Big)^{1/2}
        \le 1

    (RMS over one system's N components; for a state (B, n, d) advanced with shared steps, the
    worst of its B systems). The next step is :math:`h\,\phi` with the PI factor
    :math:`\phi = 0.9\,\|e\|^{-0.85/(q+1)}\,\|e_{prev}\|^{0.2/(q+1)}` (Gustafsson; q the
    embedded order, :math:`e_{prev}` the last accepted error): :math:`\min(5, \phi)` after an
    accepted step (at most 1 right after a rejection), :math:`\min(1, \max(0.2, \phi))` after
    a rejected one. A batch of independent systems (``problem.independent``) gives each its own
    steps and error norm; any other state is one system. Accepted states are passed through
    ``problem.project`` (the sphere projection for tokens). The stages are first-same-as-last:
    the last stage is f at the new (unprojected) state and serves as the next step's first,
    exact when the right-hand side depends on y only through ``project(y)`` as the token
    field does (it evaluates at :math:`x/|x|`).

    Output times never shorten a step: they are filled in by the pair's continuous extension
    (dense output, order ``order - 1``; Dormand–Prince's quartic, Bogacki–Shampine's cubic
    Hermite), then projected. ``problem.dt``, when given, is the first step (otherwise it is
    chosen from f as in Hairer, Nørsett & Wanner, II.4).

    Defaults ``rtol = 1e-3``, ``atol = 1e-6`` (SciPy's ``solve_ivp`` defaults): on the
    phase-diagram workload (n = 32, 256 starts, t to 30, benchmarks/phase_diagram_speed.py)
    positions come out to a few 1e-2 at worst and the clustered-pair fraction to ~1e-3, better
    than the authors' Euler loop at dt = 0.1 at a quarter of its cost or less. Ask for less
    (``rtol=1e-6``, ``atol=1e-8``) for quantitative trajectories.

    Attributes
    ----------
    name : str
    order : int
        Order of the propagated solution.
    error_order : int
        Order q of the embedded solution.
    c, a, b, e : tuple
        Butcher tableau: nodes (s,), lower-triangular rows, weights (s,), error weights
        (s + 1,; the last multiplies the first-same-as-last stage).
    dense : tuple
        Dense-output matrix P, shape (s + 1, order - 1): :math:`y(t + \theta h) = y + h
        \sum_i k_i \sum_j P_{ij}\theta^{j+1}`.
    rtol, atol : float
    """

    name: str
    order: int
    error_order: int
    c: tuple
    a: tuple
    b: tuple
    e: tuple
    dense: tuple
    rtol: float = 1e-3
    atol: float = 1e-6

    def with_tolerances(self, rtol=None, atol=None) -> EmbeddedRK:
        """A copy with other tolerances (None keeps the current one); both must be > 0."""
        from dataclasses import replace

        rtol = self.rtol if rtol is None else float(rtol)
        atol = self.atol if atol is None else float(atol)
        if not (rtol > 0 and atol > 0 and np.isfinite(rtol) and np.isfinite(atol)):
            raise ValueError(f"rtol and atol must be positive and finite, got {rtol}, {atol}")
        return replace(self, rtol=rtol, atol=atol)

    def step(self, problem, t, y, h, k0):
        """One trial step: (y1 unprojected, error estimate, stages (s + 1, ...))."""
        f = problem.derivative
        k = [k0]
        for ci, row in zip(self.c[1:], self.a[1:], strict=True):
            dy = sum(aij * kj for aij, kj in zip(row, k, strict=True) if aij != 0.0)
            k.append(f(t + ci * h, y + h * dy))
        y1 = y + h * sum(bi * ki for bi, ki in zip(self.b, k, strict=True) if bi != 0.0)
        k.append(f(t + h, y1))
        err = h * sum(ei * ki for ei, ki in zip(self.e, k, strict=True) if ei != 0.0)
        return y1, err, k

    def _first_step(self, problem, t, y, f0, t_end, norm):
        """``problem.dt``, or the estimate of Hairer, Nørsett & Wanner (II.4) from f at y and
        at one Euler step (``norm`` per system gives one step per system)."""
        if problem.dt is not None:
            return np.minimum(float(problem.dt), t_end - t)
        scale = self.atol + self.rtol * np.abs(y)
        d0, d1 = norm(y / scale), norm(f0 / scale)
        with np.errstate(divide="ignore", invalid="ignore"):
            h0 = np.where((d0 < 1e-5) | (d1 < 1e-5), 1e-6, 0.01 * d0 / d1)
        h0 = np.minimum(h0, t_end - t)
        step = np.reshape(h0, np.shape(h0) + (1,) * (y.ndim - np.ndim(h0)))
        f1 = problem.derivative(t + step, y + step * f0)
        d2 = norm((f1 - f0) / scale) / h0
        big = np.maximum(d1, d2)
        with np.errstate(divide="ignore"):
            h1 = np.where(
                big <= 1e-15,
                np.maximum(1e-6, h0 * 1e-3),
                (0.01 / big) ** (1.0 / (self.order + 1)),
            )
        h = np.minimum(np.minimum(100 * h0, h1), t_end - t)
        return np.where(np.isfinite(h), h, 1e-6 * np.minimum(1.0, t_end - t))  # f was not finite

    @_timed
    def integrate(self, problem, t_eval, progress=None):
        """Adaptive steps through ``t_eval`` (outputs by dense output); states and Stats.

        A batch of independent systems (``problem.independent``, leading axis) gives each
        system its own steps; any other state is advanced as one system (a batch of one).
        """
        t_eval = np.asarray(t_eval, dtype=float)
        if problem.independent and np.ndim(problem.y0) >= 2:
            return self._systems(problem, t_eval, progress, _rms_per_system)
        out, stats = self._systems(_one_system(problem), t_eval, progress, _worst_block)
        return out[:, 0], stats

    def _systems(self, problem, t_eval, progress, norm):
        """Each system of the batch (leading axis) on its own steps; only unfinished systems
        are evaluated, so systems in a slow phase cost a few long steps. ``norm(e)`` is the
        error norm of each system, shape (B,)."""
        project = problem.project or _identity
        y = np.array(problem.y0, dtype=float)
        B, T = y.shape[0], len(t_eval)
        t0, t_end = float(t_eval[0]), float(t_eval[-1])
        shape = (-1,) + (1,) * (y.ndim - 1)
        out = np.empty((T,) + y.shape)
        first = int(np.searchsorted(t_eval, t0, side="right"))
        out[:first] = y
        stats = Stats()
        if first == T:
            return out, stats
        f0 = problem.derivative(t0, y)
        stats.nfev += 1 if problem.dt is not None else 2
        t = np.full(B, t0)
        h = np.broadcast_to(self._first_step(problem, t0, y, f0, t_end, norm), (B,)).copy()
        nxt = np.full(B, first)
        held = np.zeros(B, dtype=bool)  # rejected last time: do not grow
        last = np.full(B, 1e-4)  # error norm of the last accepted step (PI control)
        exponent = -1.0 / (self.error_order + 1)
        active = np.arange(B)
        done = t0
        while active.size:
            ta = t[active]
            ha = np.minimum(h[active], t_end - ta)
            ha = np.where(ta + 1.05 * ha >= t_end, t_end - ta, ha)
            ya = y[active]
            y1, err, k = self.step(problem, ta.reshape(shape), ya, ha.reshape(shape), f0[active])
            stats.nfev += len(self.c)
            scale = self.atol + self.rtol * np.maximum(np.abs(ya), np.abs(y1))
            with np.errstate(invalid="ignore", over="ignore"):
                size = norm(err / scale)
            size[~np.isfinite(y1.reshape(len(y1), -1)).all(axis=1)] = np.inf
            ok = size <= 1.0
            with np.errstate(divide="ignore", invalid="ignore"):
                # PI control (Gustafsson): the previous accepted error damps the growth, fewer
                # rejections than the plain 0.9 norm^(-1/(q+1)) rule
                factor = np.where(
                    size > 0,
                    0.9 * size ** (0.85 * exponent) * last[active] ** (-0.2 * exponent),
                    5.0,
                )
            if ok.any():
                acc, hk = active[ok], ha[ok]
                t_new = np.where(hk == t_end - ta[ok], t_end, ta[ok] + hk)
                y1k = y1[ok]
                self._outputs(out, t_eval, nxt, acc, ta[ok], hk, t_new, ya[ok], y1k, k, ok)
                y[acc] = project(y1k)
                t[acc] = t_new
                f0[acc] = k[-1][ok]
                grow = np.minimum(5.0, factor[ok])
                h[acc] = hk * np.where(held[acc], np.minimum(1.0, grow), grow)
                held[acc] = False
                last[acc] = np.maximum(size[ok], 1e-4)
                stats.steps += acc.size
                stats.dt_min = float(np.nanmin([stats.dt_min, hk.min()]))
                stats.dt_max = float(np.nanmax([stats.dt_max, hk.max()]))
            if not ok.all():
                bad = active[~ok]
                stats.rejected += bad.size
                h[bad] = ha[~ok] * np.clip(np.nan_to_num(factor[~ok]), 0.2, 1.0)
                held[bad] = True
                if not np.all(h[bad] >= 1e-14 * np.maximum(1.0, np.abs(t[bad]))):
                    raise StepFailure(f"{self.name}: step size underflow at t = {t[bad].min():g}")
            active = np.nonzero(t < t_end)[0]
            now = float(t.min())
            if progress is not None and now > done:
                progress.update(now - done)
                done = now
        out = project(out)  # the dense values are stored unprojected: one pass over them all
        out[:first] = problem.y0
        return out, stats

    def _outputs(self, out, t_eval, nxt, acc, ta, ha, t_new, ya, y1, k, ok):
        r"""Fill the outputs each accepted system's step covers (unprojected; an output at the
        step's end is its state y1).

        Per system the continuous extension is a polynomial in theta,
        :math:`y + \sum_j \theta^j G_j` with :math:`G_j = h\sum_i P_{ij} k_i` (one product
        for all systems); each system's outputs come from one batched product of the powers
        :math:`[1, \theta, \dots, \theta^J]` (padded to the longest list) with
        :math:`[y; G_1; \dots; G_J]`, contiguous operands so that it stays a BLAS product.
        """
        hi = np.searchsorted(t_eval, t_new, side="right")
        lo = nxt[acc]
        count = hi - lo
        nxt[acc] = hi
        sel = np.nonzero(count > 0)[0]
        if not sel.size:
            return
        m, size = sel.size, ya[0].size
        pick = np.nonzero(ok)[0][sel]  # rows of the stages (computed for every active system)
        dense = np.asarray(self.dense)
        used = [i for i in range(len(k)) if np.any(dense[i])]
        stages = np.stack([k[i][pick].reshape(m * size) for i in used])  # (stages, m * size)
        J = dense.shape[1]
        G = np.empty((m, J + 1, size))
        G[:, 0] = ya[sel].reshape(m, size)
        Q = (dense[used].T @ stages).reshape(J, m, size)
        np.multiply(np.swapaxes(Q, 0, 1), ha[sel, None, None], out=G[:, 1:])
        cnt, width = count[sel], int(count[sel].max())
        idx = lo[sel, None] + np.arange(width)  # (systems, width) output indices
        valid = np.arange(width) < cnt[:, None]
        idx = np.where(valid, idx, 0)
        theta = np.where(valid, (t_eval[idx] - ta[sel, None]) / ha[sel, None], 0.0)
        powers = theta[:, :, None] ** np.arange(J + 1)  # (systems, width, J + 1)
        vals = powers @ G  # (systems, width, size)
        end = np.nonzero(t_eval[hi[sel] - 1] == t_new[sel])[0]  # last output at the step's end
        vals[end, cnt[end] - 1] = y1[sel[end]].reshape(end.size, size)  # the step's own state
        rows = np.nonzero(valid)
        out[idx[rows], acc[sel][rows[0]]] = vals[rows].reshape((-1,) + ya.shape[1:])


#: Dormand–Prince 5(4) (Hairer, Nørsett & Wanner II.5; coefficients as in SciPy's RK45).
DOPRI5 = EmbeddedRK(
    name="dopri5",
    order=5,
    error_order=4,
    c=(0.0, 1 / 5, 3 / 10, 4 / 5, 8 / 9, 1.0),
    a=(
        (),
        (1 / 5,),
        (3 / 40, 9 / 40),
        (44 / 45, -56 / 15, 32 / 9),
        (19372 / 6561, -25360 / 2187, 64448 / 6561, -212 / 729),
        (9017 / 3168, -355 / 33, 46732 / 5247, 49 / 176, -5103 / 18656),
    ),
    b=(35 / 384, 0.0, 500 / 1113, 125 / 192, -2187 / 6784, 11 / 84),
    e=(-71 / 57600, 0.0, 71 / 16695, -71 / 1920, 17253 / 339200, -22 / 525, 1 / 40),
    dense=(
        (1.0, -8048581381 / 2820520608, 8663915743 / 2820520608, -12715105075 / 11282082432),
        (0.0, 0.0, 0.0, 0.0),
        (0.0, 131558114200 / 32700410799, -68118460800 / 10900136933, 87487479700 / 32700410799),
        (0.0, -1754552775 / 470086768, 14199869525 / 1410260304, -10690763975 / 1880347072),
        (0.0, 127303824393 / 49829197408, -318862633887 / 49829197408,
         701980252875 / 199316789632),
        (0.0, -282668133 / 205662961, 2019193451 / 616988883, -1453857185 / 822651844),
        (0.0, 40617522 / 29380423, -110615467 / 29380423, 69997945 / 29380423),
    ),
)  # fmt: skip

#: Bogacki–Shampine 3(2) with its cubic Hermite dense output (SciPy's RK23 coefficients).
BS3 = EmbeddedRK(
    name="bs3",
    order=3,
    error_order=2,
    c=(0.0, 1 / 2, 3 / 4),
    a=((), (1 / 2,), (0.0, 3 / 4)),
    b=(2 / 9, 1 / 3, 4 / 9),
    e=(5 / 72, -1 / 12, -1 / 9, 1 / 8),
    dense=((1.0, -4 / 3, 5 / 9), (0.0, 1.0, -2 / 3), (0.0, 4 / 3, -8 / 9), (0.0, -1.0, 1.0)),
)


#: Name -> scheme. SSP-RK3 is the Shu–Osher scheme (SSP coefficient 1, order 3).
SCHEMES = {
    "euler": ShuOsher("euler", 1, _convex((1.0,)), (1.0,), (0.0,)),
    "ssprk2": ShuOsher("ssprk2", 2, _convex((1.0, 0.5)), (1.0, 0.5), (0.0, 1.0)),
    "ssprk3": ShuOsher("ssprk3", 3, _convex(_B3), _B3, (0.0, 1.0, 0.5)),
    "rk4": RK4(),
    "dop853": DOP853(),
    "dopri5": DOPRI5,
    "bs3": BS3,
    "em": EulerMaruyama(),
    "rk4-em": EulerMaruyama("rk4-em", drift="rk4"),
    "imex": StrangIMEX(),
}
