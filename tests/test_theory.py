import numpy as np
import pytest
from scipy.integrate import quad
from scipy.special import iv

import meanfield as mf
from meanfield.theory import fastest_mode, growth_rate

# SA rates gamma_l = l(l+d-2) I_{l+nu}(beta)/(beta I_nu(beta)), checked by direct quadrature
# of the linearised operator.
TABLE = {
    (2, 1): [0.4464, 0.4289, 0.1576, 0.0346, 0.0054, 1],
    (2, 4): [0.2159, 0.5682, 0.6644, 0.5013, 0.2791, 3],
    (2, 9): [0.1047, 0.3513, 0.5914, 0.7045, 0.6642, 4],
    (3, 1): [0.6261, 0.3654, 0.1028, 0.0188, 0.0026, 1],
    (3, 4): [0.3753, 0.6555, 0.6133, 0.3963, 0.1958, 2],
    (3, 9): [0.1975, 0.4691, 0.6639, 0.7031, 0.6051, 4],
}


@pytest.mark.parametrize("key", sorted(TABLE))
def test_sa_growth_rates_match_design_table(key):
    d, beta = key
    got = growth_rate(np.arange(1, 6), beta, d)
    np.testing.assert_allclose(got, TABLE[key][:5], atol=6e-5)
    assert fastest_mode(beta, d) == TABLE[key][5]


def test_usa_rate_from_unscaled_bessel():
    """USA formula evaluated independently with the unscaled I_nu at moderate beta."""
    for d, beta in [(2, 3.0), (3, 5.0), (4, 2.0)]:
        nu = d / 2 - 1
        from scipy.special import gamma

        ell = np.arange(1, 6)
        expect = ell * (ell + d - 2) * iv(ell + nu, beta) * gamma(d / 2) * (2 / beta) ** nu / beta
        np.testing.assert_allclose(growth_rate(ell, beta, d, normalized=False), expect, rtol=1e-12)


def test_large_beta_is_finite():
    g = growth_rate(np.arange(1, 40), 500.0, 3)
    assert np.all(np.isfinite(g)) and np.all(g > 0)
    gu = growth_rate(np.arange(1, 40), 500.0, 3, normalized=False)
    assert np.all(np.isfinite(gu)) and np.all(gu > 0)
    # large beta: the circle's fastest mode is near sqrt(2 beta)
    assert abs(fastest_mode(500.0, 2) - np.sqrt(1000.0)) <= 2


def test_beta_zero_limit():
    np.testing.assert_allclose(growth_rate([1, 2, 3], 0.0, 3), [2 / 3, 0, 0])
    np.testing.assert_allclose(growth_rate([1, 2], 1e-6, 3), [2 / 3, 0], atol=1e-6)


def test_sa_rate_d2_by_quadrature():
    """gamma_l = l^2 I_l/(beta I_0) from the linearised operator on the circle by quadrature."""
    beta, ell = 4.0, 3
    # linearised SA at uniform: gamma_l = l int sin(ls) sin(s) e^{b cos s} ds / int e^{b cos s} ds
    num = quad(
        lambda s: ell * np.sin(ell * s) * np.sin(s) * np.exp(beta * np.cos(s)), -np.pi, np.pi
    )[0]
    den = quad(lambda s: np.exp(beta * np.cos(s)), -np.pi, np.pi)[0]
    assert growth_rate(ell, beta, 2) == pytest.approx(num / den, rel=1e-10)


def test_two_token_rhs_limits():
    from meanfield.theory import two_token_rhs

    assert two_token_rhs(0.0, 5.0) == 0.0
    assert two_token_rhs(np.pi / 2, 0.0) == pytest.approx(-1.0)
    assert np.isfinite(two_token_rhs(2.0, 1e4))


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: growth_rate(1.5, 1.0, 3), "ell must be non-negative integer"),
        (lambda: growth_rate(1, -1.0, 3), "beta must be >= 0"),
        (lambda: growth_rate(1, 1.0, 1), "d must be >= 2"),
        (lambda: mf.theory.two_token_angle(4.0, [0, 1], 1.0), "theta0 must be in"),
    ],
)
def test_bad_input(call, match):
    with pytest.raises(ValueError, match=match):
        call()
