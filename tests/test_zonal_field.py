"""The closed-form zonal field of DESIGN §2d (meanfield.field.zonal)."""

import numpy as np
import pytest
from numpy.polynomial.legendre import leggauss
from scipy.special import ive

import meanfield as mf
from meanfield.field.kernels import UnnormalizedOverflowError
from meanfield.field.zonal import bessel_ratio, log_scaled_lambda, zonal_velocity


def ring_points(d, theta, n):
    """A quadrature of the ring {<x, e_d> = cos theta}: points (m, d) and equal weights."""
    if d == 2:
        u = np.array([[1.0], [-1.0]])
    elif d == 3:
        phi = 2 * np.pi * np.arange(n) / n
        u = np.column_stack([np.cos(phi), np.sin(phi)])
    else:  # d = 4: u on S^2 by Gauss-Legendre in z times the trapezoid rule in the azimuth
        z, wz = leggauss(n)
        phi = 2 * np.pi * np.arange(2 * n) / (2 * n)
        Z, P = np.meshgrid(z, phi, indexing="ij")
        r = np.sqrt(1 - Z**2)
        u = np.column_stack([(r * np.cos(P)).ravel(), (r * np.sin(P)).ravel(), Z.ravel()])
        w = np.repeat(wz, 2 * n) / (2 * 2 * n)
        return np.column_stack([np.sin(theta) * u, np.full(len(u), np.cos(theta))]), w
    x = np.column_stack([np.sin(theta) * u, np.full(len(u), np.cos(theta))])
    return x, np.full(len(u), 1.0 / len(u))


def ring_reference(model, d, targets, sources, masses, n=48):
    """dtheta/dt from the direct field of ring quadratures (independent of the Bessel form)."""
    pts, wts = zip(*(ring_points(d, t, n) for t in sources), strict=True)
    y = np.vstack(pts)
    w = np.concatenate([m * q for m, q in zip(masses, wts, strict=True)])
    x = np.zeros((len(targets), d))
    x[:, 0], x[:, -1] = np.sin(targets), np.cos(targets)
    u = model.velocity(x, y, w, method="direct")
    tangent = np.zeros_like(x)
    tangent[:, 0], tangent[:, -1] = np.cos(targets), -np.sin(targets)
    return np.sum(u * tangent, axis=1)


@pytest.mark.parametrize("d", [2, 3, 4])
@pytest.mark.parametrize("beta", [0.0, 1.0, 4.0])
@pytest.mark.parametrize("normalized", [True, False])
def test_matches_the_direct_field_of_rings(d, beta, normalized):
    model = mf.Attention(beta, normalized=normalized)
    sources = np.array([0.3, 1.2, 2.5])
    masses = np.array([0.5, 0.3, 0.2])
    targets = np.array([0.0, 0.4, 1.5, 3.0, np.pi])
    got = zonal_velocity(model, d, targets, sources, masses)
    ref = ring_reference(model, d, targets, sources, masses)
    np.testing.assert_allclose(got, ref, atol=1e-12 * max(1.0, np.abs(ref).max()))
    assert got[0] == 0.0 and abs(got[-1]) < 1e-15  # no motion at the poles


def test_beta_zero_moves_toward_the_mean():
    # SA at beta = 0: X = P_x m, so dtheta/dt = -sin(theta) <s'>
    sources, masses = np.array([0.2, 2.0]), np.array([0.25, 0.75])
    targets = np.linspace(0, np.pi, 7)
    got = zonal_velocity(mf.Attention(0.0), 16, targets, sources, masses)
    mean_s = masses @ np.cos(sources) / masses.sum()
    np.testing.assert_allclose(got, -np.sin(targets) * mean_s, atol=1e-15)


def test_bessel_helpers_against_closed_forms():
    a = np.array([0.0, 1e-6, 0.5, 3.0, 40.0])
    np.testing.assert_allclose(log_scaled_lambda(2, a), np.log(np.cosh(a)) - a, atol=1e-14)
    # d = 3: the mean over the circle is I_0(a); d = 4: over S^2 it is sinh(a)/a
    np.testing.assert_allclose(log_scaled_lambda(3, a), np.log(ive(0, a)), atol=1e-14)
    np.testing.assert_allclose(log_scaled_lambda(4, a[1:]), np.log(np.sinh(a[1:]) / a[1:]) - a[1:],
                               rtol=1e-12, atol=1e-14)  # fmt: skip
    np.testing.assert_allclose(bessel_ratio(2, a[1:]), np.tanh(a[1:]) / a[1:], rtol=1e-13)
    np.testing.assert_allclose(bessel_ratio(9, [0.0]), [1.0 / 8.0])


def test_log_ive_where_ive_underflows():
    # reference value of log(I_511(9)) - 9 from mpmath at 30 digits
    assert abs(mf.theory.log_ive(511.0, 9.0) - (-1920.1990479918504)) < 1e-9
    rates = mf.theory.growth_rate(np.arange(1, 6), 9.0, 1024)
    assert np.all(np.isfinite(rates)) and np.all(rates > 0)


@pytest.mark.parametrize("d", [3, 128, 1024])
@pytest.mark.parametrize("beta", [9.0, 1000.0])
def test_large_beta_and_dimension_stay_finite(d, beta):
    targets = np.linspace(0, np.pi, 201)
    sources = np.linspace(0.01, np.pi - 0.01, 300)
    masses = np.exp(-((sources - 0.3) ** 2) / 0.001)
    v = zonal_velocity(mf.Attention(beta), d, targets, sources, masses)
    assert np.all(np.isfinite(v)) and np.abs(v).max() <= 1.0 + 1e-12


def test_unnormalized_overflow_is_an_error():
    with pytest.raises(UnnormalizedOverflowError, match="overflows"):
        zonal_velocity(mf.Attention(1000.0, normalized=False), 3, [0.5], [0.4], [1.0])


def test_multiples_of_the_identity_scale_beta_and_the_value():
    eye = np.eye(5)
    targets, sources, masses = np.array([0.7, 2.0]), np.array([0.3, 1.0]), np.array([0.6, 0.4])
    plain = zonal_velocity(mf.Attention(2.0), 5, targets, sources, masses)
    scaled = mf.Attention(1.0, Q=2 * eye, K=eye, V=3 * eye)
    np.testing.assert_allclose(zonal_velocity(scaled, 5, targets, sources, masses), 3 * plain)


def test_models_the_reduction_does_not_hold_for_are_refused():
    q = np.eye(4)
    q[0, 1] = 0.5
    with pytest.raises(ValueError, match="Q must be a multiple of the identity"):
        zonal_velocity(mf.Attention(1.0, Q=q), 4, [0.5], [0.4], [1.0])
    with pytest.raises(ValueError, match="dimension d = 3"):
        zonal_velocity(mf.Attention(1.0, V=np.eye(3)), 4, [0.5], [0.4], [1.0])
