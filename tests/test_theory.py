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


# ------------------------------------------------------------------ noise (DESIGN.md §3)
def _funk_hecke_by_quadrature(ell, beta, d):
    """lambda_l = int_0^pi e^{b cos s} G_l(cos s) sin^{d-2} s ds / int_0^pi sin^{d-2} s ds."""
    from scipy.special import eval_gegenbauer

    def profile(s):
        if d == 2:
            return np.cos(ell * s)
        nu = d / 2 - 1
        return eval_gegenbauer(ell, nu, np.cos(s)) / eval_gegenbauer(ell, nu, 1.0)

    num = quad(lambda s: np.exp(beta * np.cos(s)) * profile(s) * np.sin(s) ** (d - 2), 0, np.pi)
    den = quad(lambda s: np.sin(s) ** (d - 2), 0, np.pi)
    return num[0] / den[0]


@pytest.mark.parametrize("d", [2, 3, 5])
def test_funk_hecke_eigenvalue_by_quadrature(d):
    for beta in (0.5, 4.0, 9.0):
        got = mf.theory.funk_hecke_eigenvalue(np.arange(0, 5), beta, d)
        expect = [_funk_hecke_by_quadrature(ell, beta, d) for ell in range(5)]
        np.testing.assert_allclose(got, expect, rtol=1e-9)


@pytest.mark.parametrize("normalized", [True, False])
@pytest.mark.parametrize("d", [2, 3, 4])
def test_noisy_growth_rate_by_quadrature(d, normalized):
    beta, D = 4.0, 0.3
    ell = np.arange(1, 6)
    lam = np.array([_funk_hecke_by_quadrature(k, beta, d) for k in range(6)])
    drift = lam[1:] / beta / (lam[0] if normalized else 1.0)
    expect = ell * (ell + d - 2) * (drift - D)
    got = growth_rate(ell, beta, d, normalized, diffusion=D)
    np.testing.assert_allclose(got, expect, rtol=1e-9)


def test_noisy_sa_rates_shift_the_design_table():
    """With noise D every table entry drops by l(l + d - 2) D."""
    for (d, beta), row in TABLE.items():
        ell = np.arange(1, 6)
        got = growth_rate(ell, beta, d, diffusion=0.05)
        np.testing.assert_allclose(got, np.array(row[:5]) - ell * (ell + d - 2) * 0.05, atol=6e-5)


def test_critical_diffusion_closed_forms():
    """D_c(SA) = I_1/(beta I_0) on S^1 and (coth b - 1/b)/b (Langevin) on S^2, any beta."""
    from scipy.special import i0, i1

    for beta in (0.1, 1.0, 4.0, 30.0):
        assert mf.theory.critical_diffusion(beta, 2) == pytest.approx(
            i1(beta) / (beta * i0(beta)), rel=1e-12
        )
    for beta in (0.1, 1.0, 4.0, 30.0, 1000.0):
        langevin = 1.0 / np.tanh(beta) - 1.0 / beta
        assert mf.theory.critical_diffusion(beta, 3) == pytest.approx(langevin / beta, rel=1e-11)
    for d in (2, 3, 7):
        assert mf.theory.critical_diffusion(0.0, d) == pytest.approx(1.0 / d)
        assert mf.theory.critical_diffusion(1e-7, d) == pytest.approx(1.0 / d, rel=1e-6)
        assert mf.theory.critical_diffusion(1e-7, d, False) == pytest.approx(1.0 / d, rel=1e-6)


@pytest.mark.parametrize("normalized", [True, False])
@pytest.mark.parametrize("d", [2, 3, 6])
def test_critical_diffusion_is_where_uniform_loses_stability(d, normalized):
    beta = 3.0
    Dc = mf.theory.critical_diffusion(beta, d, normalized)
    ell = np.arange(1, 30)
    assert growth_rate(1, beta, d, normalized, diffusion=Dc) == pytest.approx(0.0, abs=1e-12)
    assert np.all(growth_rate(ell[1:], beta, d, normalized, diffusion=Dc) < 0)
    assert growth_rate(1, beta, d, normalized, diffusion=0.99 * Dc) > 0
    assert np.all(growth_rate(ell, beta, d, normalized, diffusion=1.01 * Dc) < 0)


def test_usa_critical_diffusion_unscaled():
    from scipy.special import gamma

    for d, beta in [(2, 2.0), (3, 5.0), (5, 1.5)]:
        nu = d / 2 - 1
        expect = gamma(d / 2) * (2 / beta) ** nu * iv(1 + nu, beta) / beta
        got = mf.theory.critical_diffusion(beta, d, normalized=False)
        assert got == pytest.approx(expect, rel=1e-12)


def test_noisy_rates_finite_at_large_beta():
    g = growth_rate(np.arange(1, 40), 1000.0, 3, diffusion=1e-3)
    assert np.all(np.isfinite(g))
    assert mf.theory.fastest_mode(1000.0, 2, diffusion=0.0) == mf.theory.fastest_mode(1000.0, 2)
    # strong noise moves the fastest mode to lower degrees
    assert mf.theory.fastest_mode(9.0, 2, diffusion=0.02) < mf.theory.fastest_mode(9.0, 2)


@pytest.mark.parametrize("bad", [-0.1, float("nan"), float("inf"), "x"])
def test_bad_diffusion_is_named(bad):
    with pytest.raises(ValueError, match="diffusion"):
        growth_rate(1, 2.0, 3, diffusion=bad)


# ------------------------------------------------------------------ noisy USA stationary states
@pytest.mark.parametrize("d", [2, 3])
@pytest.mark.parametrize("beta", [1.0, 4.0])
def test_gibbs_branch_starts_with_the_landau_coefficient(d, beta):
    from scipy.special import iv as bessel

    r = bessel(d / 2 + 1, beta) / bessel(d / 2, beta)
    c3 = (d * r - 1) / (d * (d + 2) * (1 - r))
    m = np.array([0.01, 0.02])
    x = mf.theory.gibbs_branch(beta, d, m)
    np.testing.assert_allclose((x - 1) / (d * m) ** 2, c3, rtol=2e-2, atol=2e-5)


def test_gibbs_branch_against_direct_fixed_point_on_the_circle():
    """Iterate rho <- exp(Z_rho/(beta D))/norm on a theta grid at the branch's D: same |m|."""
    beta = 4.0
    m = 0.7
    x = mf.theory.gibbs_branch(beta, 2, np.linspace(0.01, m, 70))[-1]
    D = x * mf.theory.critical_diffusion(beta, 2, normalized=False)
    theta = np.linspace(0, 2 * np.pi, 512, endpoint=False)
    kernel = np.exp(beta * np.cos(theta[:, None] - theta[None, :]))
    rho = np.exp(3 * np.cos(theta))
    rho /= rho.mean()
    for _ in range(3000):
        z = kernel @ rho / len(theta)  # Z with the normalised measure dtheta / 2 pi
        new = np.exp((z - z.max()) / (beta * D))
        rho = 0.5 * rho + 0.5 * new / new.mean()
    assert np.mean(rho * np.cos(theta)) == pytest.approx(m, abs=1e-6)


@pytest.mark.parametrize("d", [2, 3, 5])
def test_tricritical_beta_separates_continuous_from_jump(d):
    b = mf.theory.tricritical_beta(d)
    m = np.linspace(0.02, 0.6, 30)
    below = mf.theory.gibbs_branch(0.9 * b, d, m)
    above = mf.theory.gibbs_branch(1.1 * b, d, m)
    assert np.all(below < 1.0)  # supercritical: the branch lives at D < D_c
    assert above.max() > 1.0  # subcritical: states above D_c (hysteresis)


def test_tricritical_values():
    # small-beta series I_{nu+2}/I_{nu+1} ~ beta/(2 nu + 4) puts it near (2 nu + 4)/d
    assert mf.theory.tricritical_beta(2) == pytest.approx(2.4469, abs=1e-4)
    assert mf.theory.tricritical_beta(3) == pytest.approx(1.8162, abs=1e-4)
    for d in (2, 3, 10, 100):
        assert mf.theory.tricritical_beta(d) < (d + 2) / d + 0.5


def test_gibbs_branch_bad_m():
    with pytest.raises(ValueError, match="m must"):
        mf.theory.gibbs_branch(2.0, 2, [0.5, 0.2])
