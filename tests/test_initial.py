"""Harmonics and initial densities, checked with product quadrature independent of the package."""

import numpy as np
import pytest

from meanfield.harmonics import real_harmonic, sphere_area
from meanfield.initial import ModePerturbation, Uniform, VonMisesFisher, WhiteNoise


def sphere_rule(n=48):
    """Gauss-Legendre in cos(polar) x trapezoid in azimuth: exact for degree < 2n harmonics."""
    z, wz = np.polynomial.legendre.leggauss(n)
    phi = np.arange(2 * n) * np.pi / n
    Z, P = np.meshgrid(z, phi, indexing="ij")
    r = np.sqrt(1 - Z**2)
    pts = np.stack([r * np.cos(P), r * np.sin(P), Z], -1).reshape(-1, 3)
    w = (wz[:, None] * np.full(2 * n, np.pi / n)[None, :]).ravel()
    return pts, w


def circle_rule(n=256):
    s = 2 * np.pi * np.arange(n) / n
    return np.stack([np.cos(s), np.sin(s)], 1), np.full(n, 2 * np.pi / n)


def test_sphere_harmonics_orthonormal():
    pts, w = sphere_rule()
    modes = [(ell, m) for ell in range(5) for m in range(-ell, ell + 1)]
    Y = np.stack([real_harmonic(ell, m, pts) for ell, m in modes])
    np.testing.assert_allclose((Y * w) @ Y.T, np.eye(len(modes)), atol=1e-12)
    # Y_1,1 is proportional to +x, Y_1,-1 to +y, Y_1,0 to +z
    c = np.sqrt(3 / (4 * np.pi))
    np.testing.assert_allclose(real_harmonic(1, 1, pts), c * pts[:, 0], atol=1e-14)
    np.testing.assert_allclose(real_harmonic(1, -1, pts), c * pts[:, 1], atol=1e-14)
    np.testing.assert_allclose(real_harmonic(1, 0, pts), c * pts[:, 2], atol=1e-14)


def test_circle_harmonics_orthonormal():
    pts, w = circle_rule()
    modes = [(0, 0)] + [(ell, m) for ell in range(1, 6) for m in (-1, 1)]
    Y = np.stack([real_harmonic(ell, m, pts) for ell, m in modes])
    np.testing.assert_allclose((Y * w) @ Y.T, np.eye(len(modes)), atol=1e-12)


@pytest.mark.parametrize(
    "density",
    [
        Uniform(3),
        ModePerturbation(3, ell=3, amplitude=0.5, m=-2),
        VonMisesFisher([[0, 0, 1.0], [1.0, 0, 0]], kappa=[5.0, 40.0], weights=[1, 3]),
        WhiteNoise(3, amplitude=0.3, ell_max=6, seed=1),
    ],
)
def test_sphere_densities_are_probability_densities(density):
    pts, w = sphere_rule(96)
    values = density(pts)
    assert values.min() >= 0
    assert w @ values == pytest.approx(1.0, abs=1e-10)


@pytest.mark.parametrize(
    "density",
    [
        Uniform(2),
        ModePerturbation(2, ell=4, amplitude=0.9),
        VonMisesFisher([[0, 1.0]], kappa=200.0),
        WhiteNoise(2, amplitude=0.5, ell_max=10, seed=2),
    ],
)
def test_circle_densities_are_probability_densities(density):
    pts, w = circle_rule(4096)
    values = density(pts)
    assert values.min() >= 0
    assert w @ values == pytest.approx(1.0, abs=1e-10)


def test_vmf_closed_form_and_large_kappa():
    pts, _ = sphere_rule(8)
    kappa = 3.0
    expect = kappa / (4 * np.pi * np.sinh(kappa)) * np.exp(kappa * pts[:, 2])
    np.testing.assert_allclose(VonMisesFisher([[0, 0, 1.0]], kappa)(pts), expect, rtol=1e-12)
    peak = VonMisesFisher([[0, 0, 1.0]], 5000.0)(np.array([[0, 0, 1.0]]))
    assert peak[0] == pytest.approx(5000.0 / (2 * np.pi), rel=1e-10)  # no overflow


def test_mode_perturbation_projects_on_its_mode():
    pts, w = sphere_rule()
    f = ModePerturbation(3, ell=2, amplitude=0.2, m=1)
    coef = (w * f(pts)) @ real_harmonic(2, 1, pts)
    assert coef == pytest.approx(0.2 / f.sup_norm / sphere_area(3), rel=1e-10)
    assert abs((w * f(pts)) @ real_harmonic(2, 0, pts)) < 1e-14


def test_white_noise_is_seeded():
    pts, _ = sphere_rule(8)
    np.testing.assert_array_equal(WhiteNoise(3, seed=4)(pts), WhiteNoise(3, seed=4)(pts))
    assert np.abs(WhiteNoise(3, seed=4)(pts) - WhiteNoise(3, seed=5)(pts)).max() > 0


@pytest.mark.parametrize(
    "make, match",
    [
        (lambda: ModePerturbation(3, ell=1, amplitude=1.5), "amplitude must satisfy"),
        (lambda: ModePerturbation(4, ell=1), "d must be 2 or 3"),
        (lambda: ModePerturbation(3, ell=0), "ell must be >= 1"),
        (lambda: VonMisesFisher([[0, 0, 2.0]]), "centres must lie on the unit sphere"),
        (lambda: VonMisesFisher([[0, 0, 1.0]], kappa=-1.0), "kappa must be >= 0"),
        (lambda: real_harmonic(2, 3, np.eye(3)), r"\|m\| <= ell"),
        (lambda: Uniform(3)(np.eye(2)), "x must have 3 columns"),
    ],
)
def test_bad_input(make, match):
    with pytest.raises(ValueError, match=match):
        make()


@pytest.mark.parametrize("d", [2, 3])
def test_vmf_sampling_matches_density_moments(d):
    """Sample mean and second moment against quadrature of the density itself."""
    centres = [[0, 1.0], [1.0, 0]] if d == 2 else [[0, 0, 1.0], [1.0, 0, 0]]
    f = VonMisesFisher(centres, kappa=[4.0, 20.0], weights=[2, 1])
    x = f.sample(200_000, np.random.default_rng(0))
    pts, w = circle_rule(4096) if d == 2 else sphere_rule(96)
    rho = w * f(pts)
    m1, m2 = rho @ pts, (pts * rho[:, None]).T @ pts
    np.testing.assert_allclose(x.mean(0), m1, atol=4 / np.sqrt(200_000))
    np.testing.assert_allclose(x.T @ x / len(x), m2, atol=4 / np.sqrt(200_000))
    np.testing.assert_allclose(np.linalg.norm(x, axis=1), 1.0, atol=1e-14)
