"""meanfield.schemes: every registered scheme behind one interface, its order, its Stats."""

import numpy as np
import pytest

from meanfield.schemes import SCHEMES, Problem, ShuOsher, Stats, StepFailure, cfl_step


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
    errs = []
    for dt in (0.1, 0.05, 0.025):
        problem = Problem(nonautonomous, np.ones(1), dt=dt)
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
    if name != "dop853":
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
