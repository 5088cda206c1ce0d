"""solve_density driven by an Attention model: the field of the density's own measure.

Growth rates and the particle limit are in tests/test_validation.py; here are the coupling's
exact facts (stationarity, the beta = 0 moment law, evaluator agreement) and its invariants.
"""

import numpy as np
import pytest

import meanfield as mf
from meanfield import diagnostics as dgn
from meanfield.initial import VonMisesFisher
from meanfield.solve import attention_field


def vmf(d, kappa=2.0):
    centre = [[0.6, 0.8]] if d == 2 else [[0.6, 0.0, 0.8]]
    return VonMisesFisher(centres=centre, kappa=kappa)


@pytest.fixture(scope="module")
def circle_p1():
    return mf.DG(mf.SphereMesh.circle(24), 1)


@pytest.fixture(scope="module")
def ico2_p1():
    return mf.DG(mf.SphereMesh.icosphere(2), 1)


@pytest.mark.parametrize("method", ["direct", "spectral"])
@pytest.mark.parametrize("normalized", [True, False])
def test_field_is_the_velocity_of_the_quadrature_measure(ico2_p1, method, normalized):
    rng = np.random.default_rng(3)
    Q, K, V = (np.eye(3) + 0.3 * rng.standard_normal((3, 3)) for _ in range(3))
    model = mf.Attention(4.0, Q, K, V, normalized=normalized)
    rho = ico2_p1.interpolate(vmf(3))
    y, w = rho.quadrature_measure()
    expected = model.velocity(ico2_p1.velocity_points, y, w, method="direct")
    got = attention_field(model, ico2_p1, method)(0.0, rho.coefficients)
    assert np.abs(got - expected).max() <= 1e-10 * np.abs(expected).max()


def test_uniform_density_is_stationary_on_the_circle(circle_p1):
    rho0 = circle_p1.interpolate(lambda x: np.full(len(x), 1.0 / (2 * np.pi)))
    sol = mf.solve_density(mf.Attention(9.0), rho0, [0.0, 1.0], dt_max=0.1)
    change = np.abs(sol[-1].coefficients - rho0.coefficients).max()
    assert change <= 1e-12 * np.abs(rho0.coefficients).max()


def test_uniform_field_on_icospheres_is_quadrature_error():
    """On S^2 the quadrature measure of the uniform density is only nearly rotation invariant:
    its field is not zero but falls fast under refinement (measured 8e-4, 1.5e-5, 7.7e-7)."""
    speeds = []
    for level in (1, 2, 3):
        V = mf.DG(mf.SphereMesh.icosphere(level), 1)
        rho = V.interpolate(lambda x: np.full(len(x), 1.0 / (4 * np.pi)))
        speeds.append(np.abs(attention_field(mf.Attention(9.0), V)(0.0, rho.coefficients)).max())
    assert speeds[0] < 2e-3 and speeds[1] < speeds[0] / 16 and speeds[2] < speeds[1] / 16


@pytest.mark.parametrize(("d", "levels", "tol"), [(2, 16, 1e-5), (3, 2, 2e-5)])
def test_beta_zero_first_moment_law(d, levels, tol):
    r"""At beta = 0, X = P_x m, so dm/dt = m - M_2 m (m, M_2 the first and second moments).

    The derivative at t = 0 is extrapolated from t = 1e-3 and 2e-3 (error O(t^2)); the rest is
    the O(h^{p+1}) spatial error (measured 2e-7 on S^1, 4e-6 on icosphere(2)).
    """
    mesh = mf.SphereMesh.circle(levels) if d == 2 else mf.SphereMesh.icosphere(levels)
    rho0 = mf.DG(mesh, 1).interpolate(vmf(d))
    m0, M2 = dgn.first_moment(rho0), dgn.second_moment(rho0)
    t = 1e-3
    sol = mf.solve_density(mf.Attention(0.0), rho0, [0.0, t, 2 * t], dt_max=1e-4)
    d1 = (dgn.first_moment(sol[1]) - m0) / t
    d2 = (dgn.first_moment(sol[2]) - m0) / (2 * t)
    predicted = m0 - M2 @ m0
    assert np.abs(2 * d1 - d2 - predicted).max() <= tol * np.abs(predicted).max()


@pytest.mark.parametrize("normalized", [True, False])
def test_energy_grows_mass_kept_density_nonnegative(circle_p1, normalized):
    rho0 = circle_p1.interpolate(lambda x: (1.0 + 0.3 * x[:, 0] * x[:, 1]) / (2 * np.pi))
    sol = mf.solve_density(mf.Attention(4.0, normalized=normalized), rho0, np.linspace(0, 2, 9))
    energies = [dgn.energy(r, 4.0) for r in sol.densities]
    assert np.all(np.diff(energies) > 0)
    assert np.abs(sol.mass - sol.mass[0]).max() <= 1e-12 * sol.mass[0]
    assert min(r.min_value() for r in sol.densities) >= 0.0


def test_evaluator_agreement(circle_p1):
    rho0 = circle_p1.interpolate(vmf(2))
    model = mf.Attention(4.0)
    a = mf.solve_density(model, rho0, [0.0, 0.5], field="spectral")
    b = mf.solve_density(model, rho0, [0.0, 0.5], field="direct")
    assert a.method == "ssprk3"
    assert np.abs(a[-1].coefficients - b[-1].coefficients).max() <= 1e-10


def test_bad_input(circle_p1):
    rho0 = circle_p1.interpolate(vmf(2))
    with pytest.raises(ValueError, match="field"):
        mf.solve_density(mf.Attention(1.0), rho0, [0, 1], field="fmm")
    with pytest.raises(ValueError, match="scheme"):
        mf.solve_density(mf.Attention(1.0), rho0, [0, 1], scheme="semi-lagrangian")
    with pytest.raises(ValueError, match="option 'tolerance' is not understood by scheme"):
        mf.solve_density(mf.Attention(1.0), rho0, [0, 1], tolerance=1e-6)
    with pytest.raises(ValueError, match="d = 3"):
        mf.solve_density(mf.Attention(1.0, Q=np.eye(3)), rho0, [0, 1])
    with pytest.raises(ValueError, match="method"):
        mf.solve_density(mf.Attention(1.0), rho0, [0, 1], method="rk4")
