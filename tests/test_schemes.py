"""meanfield.schemes: every registered scheme behind one interface, its order, its Stats."""

import numpy as np
import pytest

from meanfield.schemes import (
    SCHEMES,
    EmbeddedRK,
    Problem,
    ShuOsher,
    Stats,
    StepFailure,
    cfl_step,
)


def nonautonomous(t, y):
    """y' = y cos t, y(0) = 1: y = exp(sin t); the stage times matter."""
    return y * np.cos(t), 1.0


@pytest.mark.parametrize("name", sorted(SCHEMES))
def test_every_scheme_has_its_order(name):
    scheme = SCHEMES[name]
    exact = np.exp(np.sin(2.0))
    if name == "dop853":  # adaptive reference: its error is at its tolerance
        ys, stats = scheme.integrate(Problem(nonautonomous, np.ones(1)), np.array([0.0, 2.0]))
        assert abs(ys[-1][0] - exact) < 1e-10 and stats.nfev > 0
        return
    if isinstance(scheme, EmbeddedRK):  # one step of y' = Jy: local error h^(p+1), estimate
        errs, ests = [], []  # h^(q+1)
        problem = Problem(lambda _t, y: (np.array([y[1], -y[0]]), 0.0), np.array([1.0, 0.0]))
        for h in (0.4, 0.2, 0.1):
            y1, est, _ = scheme.step(problem, 0.0, problem.y0, h, np.array([0.0, -1.0]))
            errs.append(np.abs(y1 - [np.cos(h), -np.sin(h)]).max())
            ests.append(np.abs(est).max())
        rate = np.polyfit(np.log([4, 2, 1]), np.log(errs), 1)[0]
        rate_est = np.polyfit(np.log([4, 2, 1]), np.log(ests), 1)[0]
        print(f"{name}: local orders {rate:.3f} (solution), {rate_est:.3f} (error estimate)")
        assert abs(rate - (scheme.order + 1)) < 0.15, (errs, rate)
        assert abs(rate_est - (scheme.error_order + 1)) < 0.15, (ests, rate_est)
        return
    errs = []
    for dt in (0.1, 0.05, 0.025):
        problem = Problem(nonautonomous, np.ones(1), dt=dt)
        if name == "imex":  # y' = y cos t - y, the -y implicit: exp(sin t - t)
            problem = Problem(
                nonautonomous, np.ones(1), dt=dt, resolvent=lambda y, tau: y / (1 + tau)
            )
            exact = np.exp(np.sin(2.0) - 2.0)
        ys, stats = scheme.integrate(problem, np.array([0.0, 2.0]))
        errs.append(abs(ys[-1][0] - exact))
    rate = np.polyfit(np.log([4, 2, 1]), np.log(errs), 1)[0]
    print(f"{name}: fitted order {rate:.3f} (errors {errs})")
    assert abs(rate - scheme.order) < 0.15, (errs, rate)


@pytest.mark.parametrize("name", sorted(SCHEMES))
def test_one_stats_record_for_every_scheme(name):
    problem = Problem(nonautonomous, np.ones(1), dt=0.1)
    _, stats = SCHEMES[name].integrate(problem, np.array([0.0, 0.5, 1.0]))
    assert isinstance(stats, Stats)
    assert set(stats.as_dict()) == {"steps", "rejected", "nfev", "dt_min", "dt_max", "wall", "cpu"}
    assert stats.nfev > 0 and stats.wall >= 0 and stats.cpu >= 0
    if name == "imex":  # steps are output intervals / 2^k: 0.5 / 8
        assert stats.steps == 16 and stats.dt_max == pytest.approx(0.0625)
    elif isinstance(SCHEMES[name], EmbeddedRK):  # dt is the first step only
        assert stats.dt_min == pytest.approx(0.1) and stats.steps >= 2
    elif name != "dop853":
        assert stats.steps == 10 and stats.dt_max == pytest.approx(0.1)


def test_stage_weights_are_exact_convex_combinations():
    for scheme in SCHEMES.values():
        if isinstance(scheme, ShuOsher):
            assert all(a + b == 1.0 for a, b in zip(scheme.a, scheme.b, strict=True))
            assert all(a >= 0 and b > 0 for a, b in zip(scheme.a, scheme.b, strict=True))


def test_steps_land_on_output_times_and_respect_the_bound():
    """y' = 1 integrates exactly, so y(t_k) = t_k - t_0 shows each output time is hit."""
    t_eval = np.array([0.1, 0.1, 0.35, 1.0, 1.0 + 1e-9, 3.0])
    seen = []

    def rhs(t, y):
        seen.append(t)
        return np.ones_like(y), 1.0

    problem = Problem(rhs, np.zeros(1), step_size=lambda s: 0.3)
    ys, stats = SCHEMES["ssprk3"].integrate(problem, t_eval)
    np.testing.assert_allclose([y[0] for y in ys], t_eval - 0.1, rtol=0, atol=1e-14)
    assert stats.dt_max <= 0.3 and stats.dt_min > 0
    assert max(seen) <= 3.0  # never evaluated beyond the last output time


def test_inadmissible_steps_are_halved_then_fail():
    problem = Problem(nonautonomous, np.ones(1), dt=0.5, admissible=lambda y: y[0] < 1.2)
    ys, stats = SCHEMES["ssprk3"].integrate(problem, np.array([0.0, 0.1]))
    assert stats.rejected == 0
    never = Problem(nonautonomous, np.ones(1), dt=0.5, admissible=lambda y: False)
    with pytest.raises(StepFailure, match="no admissible step"):
        SCHEMES["ssprk3"].integrate(never, np.array([0.0, 0.1]))


def test_rk4_needs_a_step():
    with pytest.raises(ValueError, match="dt"):
        SCHEMES["rk4"].integrate(Problem(nonautonomous, np.ones(1)), np.array([0.0, 1.0]))


def test_cfl_step():
    assert cfl_step(2.0, 0.1, 1, 0.6) == pytest.approx(0.6 * 0.1 / (3 * 2.0))
    assert cfl_step(2.0, 0.1, 2, 0.6, dt_max=0.001) == 0.001
    assert cfl_step(0.0, 0.1, 0, 0.5) == np.inf


# ------------------------------------------------------------------ stochastic and IMEX schemes
def _brownian(d, D, n_paths, T, steps, rng, scheme="em"):
    """Pure Brownian motion on S^{d-1} from e_1 by ``steps`` steps of a stochastic scheme."""
    from meanfield.field.kernels import normalize
    from meanfield.solve import brownian_increment

    x0 = np.zeros((n_paths, d))
    x0[:, 0] = 1.0
    problem = Problem(
        lambda t, y: (np.zeros_like(y), 0.0), x0, dt=T / steps, project=normalize,
        noise=brownian_increment(D, rng),
    )  # fmt: skip
    xs, _ = SCHEMES[scheme].integrate(problem, np.array([0.0, T]))
    return xs[-1]


def _em_expectation(d, D, T, steps):
    """E<x_N, x_0> of the geodesic step exactly: c(h)^N, c(h) = E cos(sqrt(2Dh) chi_{d-1})."""
    from scipy.integrate import quad
    from scipy.stats import chi

    s = np.sqrt(2 * D * T / steps)
    c = quad(lambda r: chi.pdf(r, d - 1) * np.cos(s * r), 0, np.inf)[0]
    return c**steps


@pytest.mark.parametrize("scheme", ["em", "rk4-em"])
def test_stochastic_weak_order_one_on_brownian_motion(scheme):
    """E<x_t, x_0> = exp(-(d - 1) D t) for Brownian motion on S^{d-1}; the error falls like h."""
    d, D, T, n_paths = 3, 1.0, 1.0, 400_000
    rng = np.random.default_rng(1)
    exact = np.exp(-(d - 1) * D * T)
    steps = (2, 4, 8)
    errs = []
    for n in steps:
        s = _brownian(d, D, n_paths, T, n, rng, scheme)[:, 0]
        se = s.std() / np.sqrt(n_paths)
        # the Monte Carlo mean is the geodesic step's own expectation (an exact integral)
        assert abs(s.mean() - _em_expectation(d, D, T, n)) < 5 * se
        errs.append(abs(s.mean() - exact))
    rate = -np.polyfit(np.log(steps), np.log(errs), 1)[0]
    print(f"{scheme}: weak errors {errs}, fitted weak order {rate:.3f}")
    assert SCHEMES[scheme].weak_order == 1.0
    assert 0.9 < rate < 1.4  # 1.16 from the exact expectations over these steps


def test_em_strong_order_one_half():
    """Paths driven by one Brownian path W (coarse increments are sums of fine ones)."""
    from meanfield.field.kernels import normalize, tangent

    d, D, T, n_paths, fine = 3, 0.5, 0.5, 2000, 2048
    dW = np.random.default_rng(2).standard_normal((fine, n_paths, d)) * np.sqrt(T / fine)
    x0 = np.zeros((n_paths, d))
    x0[:, 0] = 1.0

    def run(steps):
        incr = dW.reshape(steps, fine // steps, n_paths, d).sum(axis=1)
        it = iter(incr)
        problem = Problem(
            lambda t, y: (np.zeros_like(y), 0.0), x0, dt=T / steps, project=normalize,
            noise=lambda y, h: np.sqrt(2 * D) * tangent(y, next(it)),
        )  # fmt: skip
        return SCHEMES["em"].integrate(problem, np.array([0.0, T]))[0][-1]

    ref = run(fine)
    steps = (8, 16, 32, 64)
    errs = [np.mean(np.linalg.norm(run(n) - ref, axis=1)) for n in steps]
    rate = -np.polyfit(np.log(steps), np.log(errs), 1)[0]
    print(f"em: strong errors {errs}, fitted strong order {rate:.3f}")
    assert SCHEMES["em"].strong_order == 0.5
    assert 0.35 < rate < 0.7


def test_sdirk2_is_second_order_and_l_stable():
    from meanfield.schemes import sdirk2

    lam = -3.0
    errs = []
    for n in (10, 20, 40):
        y = np.ones(1)
        for _ in range(n):
            y = sdirk2(lambda r, tau: r / (1 - tau * lam), y, 1.0 / n)
        errs.append(abs(y[0] - np.exp(lam)))
    assert -np.polyfit(np.log([10, 20, 40]), np.log(errs), 1)[0] == pytest.approx(2.0, abs=0.1)
    # L-stability: a very stiff mode is damped in one step
    y = sdirk2(lambda r, tau: r / (1 + tau * 1e8), np.ones(1), 1.0)
    assert abs(y[0]) < 1e-7


# --------------------------------------------------------------------------- adaptive pairs


def _rotation_problem(**kw):
    """y' = J y on R^2 (rotation): y = (cos t, -sin t) from (1, 0)."""
    return Problem(lambda _t, y: (np.stack([y[..., 1], -y[..., 0]], axis=-1), 0.0), **kw)


@pytest.mark.parametrize("name", ["dopri5", "bs3"])
def test_adaptive_error_follows_the_tolerance(name):
    t = np.linspace(0.0, 10.0, 11)
    exact = np.stack([np.cos(t), -np.sin(t)], axis=1)
    errs = []
    for rtol in (1e-4, 1e-6, 1e-8):
        scheme = SCHEMES[name].with_tolerances(rtol, rtol * 1e-2)
        ys, stats = scheme.integrate(_rotation_problem(y0=np.array([1.0, 0.0])), t)
        errs.append(np.abs(ys - exact).max())
        assert stats.steps > 0 and stats.dt_max > stats.dt_min > 0
    # global error within two orders of the tolerance, shrinking with it
    assert all(e < 100 * r for e, r in zip(errs, (1e-4, 1e-6, 1e-8), strict=True))
    assert errs[0] > errs[1] > errs[2]


@pytest.mark.parametrize("name", ["dopri5", "bs3"])
def test_dense_output_many_outputs_do_not_shorten_steps(name):
    """200 output times: the same steps as 2, and each output at the pair's accuracy."""
    scheme = SCHEMES[name].with_tolerances(1e-7, 1e-9)
    few, s_few = scheme.integrate(_rotation_problem(y0=np.array([1.0, 0.0])), np.array([0, 10.0]))
    t = np.linspace(0.0, 10.0, 200)
    many, s_many = scheme.integrate(_rotation_problem(y0=np.array([1.0, 0.0])), t)
    assert s_many.steps == s_few.steps and s_many.nfev == s_few.nfev
    np.testing.assert_array_equal(many[-1], few[-1])
    exact = np.stack([np.cos(t), -np.sin(t)], axis=1)
    assert np.abs(many - exact).max() < 1e-5
    if name == "dopri5":
        assert s_many.steps < 100  # far fewer steps than outputs


def test_batched_systems_take_their_own_steps():
    """independent=True: each system of a batch gives exactly its solo result (own steps);
    a fast and a slow system of one batch no longer share the fast one's steps."""
    rates = np.array([0.1, 1.0, 30.0])

    # encode the system index in a constant component (its rate is 0 there: y[:, 0, 1] fixed)
    def f(_t, y):
        idx = y[:, 0, 1].astype(int)
        out = -rates[idx][:, None, None] * y
        out[:, 0, 1] = 0.0
        return out, 0.0

    y0 = np.ones((3, 2, 2))
    y0[:, 0, 1] = [0, 1, 2]
    t = np.linspace(0.0, 2.0, 5)
    scheme = SCHEMES["dopri5"].with_tolerances(1e-6, 1e-9)
    batch, st = scheme.integrate(Problem(f, y0, independent=True), t)
    for b in range(3):
        solo, _ = scheme.integrate(Problem(f, y0[b : b + 1], independent=True), t)
        np.testing.assert_array_equal(batch[:, b], solo[:, 0])
    exact = np.exp(-np.outer(t, rates))
    assert np.abs(batch[:, :, 1, 1] - exact).max() < 1e-5
    shared, st_shared = scheme.integrate(Problem(f, y0), t)
    assert np.abs(shared[:, :, 1, 1] - exact).max() < 1e-5
    assert st.steps < 3 * st_shared.steps  # system-steps: the slow ones take few


def test_projection_keeps_outputs_on_the_sphere():
    """A tangent field (rotation about the z axis) evaluated at y/|y| like the token field (the
    first-same-as-last stage is then exact): stages leave the sphere, outputs do not."""

    def f(_t, y):
        u = y / np.linalg.norm(y, axis=-1, keepdims=True)
        return np.stack([-u[..., 1], u[..., 0], np.zeros(u.shape[:-1])], -1), 0.0

    y0 = np.array([[0.6, 0.0, 0.8]])
    t = np.linspace(0, 5, 17)
    ys, _ = (
        SCHEMES["dopri5"]
        .with_tolerances(1e-8, 1e-10)
        .integrate(
            Problem(f, y0, project=lambda y: y / np.linalg.norm(y, axis=-1, keepdims=True)), t
        )
    )
    np.testing.assert_allclose(np.linalg.norm(ys, axis=-1), 1.0, atol=1e-14)
    exact = np.stack([0.6 * np.cos(t), 0.6 * np.sin(t), 0.8 * np.ones_like(t)], -1)
    assert np.abs(ys[:, 0] - exact).max() < 1e-6


def test_adaptive_bad_tolerances_and_non_finite_field():
    with pytest.raises(ValueError, match="rtol and atol must be positive"):
        SCHEMES["dopri5"].with_tolerances(0.0, 1e-6)
    with pytest.raises(StepFailure, match="step size underflow"):
        SCHEMES["bs3"].integrate(
            Problem(lambda _t, y: (y * np.nan, 0.0), np.ones(2)), np.array([0.0, 1.0])
        )


@pytest.mark.parametrize(("name", "per_step"), [("dopri5", 6), ("bs3", 3)])
@pytest.mark.parametrize("independent", [False, True])
def test_last_stage_is_reused_and_every_call_counted(name, per_step, independent):
    """First same as last: a trial step of Dormand–Prince (7 stages) costs 6 new evaluations,
    of Bogacki–Shampine (4 stages) 3; plus f(y0) and the first-step estimate. Stats.nfev is
    the number of calls (a batch of systems is one call per stage)."""
    calls = []

    def rhs(t, y):
        calls.append(np.shape(t))
        return np.stack([y[..., 1], -y[..., 0]], axis=-1), 0.0

    y0 = np.array([[[1.0, 0.0]], [[0.0, 2.0]]]) if independent else np.array([1.0, 0.0])
    scheme = SCHEMES[name].with_tolerances(1e-6, 1e-9)
    _, stats = scheme.integrate(Problem(rhs, y0, independent=independent), np.linspace(0, 5, 7))
    assert len(calls) == stats.nfev
    assert (stats.nfev - 2) % per_step == 0 and stats.nfev > 2 + 5 * per_step
    if not independent:  # one system: one call per trial step and stage
        assert stats.nfev == 2 + per_step * (stats.steps + stats.rejected)


def test_batched_outputs_are_projected_and_the_start_kept():
    """independent=True: the dense outputs of every system on the sphere, the initial state
    the given one bit for bit, each system at its own rate (rotations about z)."""

    def f(_t, y):
        u = y / np.linalg.norm(y, axis=-1, keepdims=True)
        rate = np.where(u[..., 2:] > 0.7, 0.5, 3.0)  # the height z marks the system
        return rate * np.stack([-u[..., 1], u[..., 0], np.zeros(u.shape[:-1])], -1), 0.0

    y0 = np.array([[[0.6, 0.0, 0.8]], [[0.8, 0.0, 0.6]]])
    t = np.linspace(0, 4, 41)
    unit = lambda y: y / np.linalg.norm(y, axis=-1, keepdims=True)  # noqa: E731
    ys, _ = SCHEMES["dopri5"].integrate(Problem(f, y0, project=unit, independent=True), t)
    np.testing.assert_allclose(np.linalg.norm(ys, axis=-1), 1.0, atol=1e-14)
    np.testing.assert_array_equal(ys[0], y0)
    for b, (rate, z) in enumerate([(0.5, 0.8), (3.0, 0.6)]):
        rho = np.sqrt(1 - z * z)
        exact = np.stack([rho * np.cos(rate * t), rho * np.sin(rate * t), z + 0 * t], -1)
        assert np.abs(ys[:, b, 0] - exact).max() < 1e-2  # the default rtol 1e-3
