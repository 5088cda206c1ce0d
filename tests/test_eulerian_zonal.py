"""Read-outs of zonal densities (meanfield.eulerian.zonal), zonal initial densities and the
exact 1-D Wasserstein distance of the laws of s."""

import numpy as np
import pytest

import meanfield as mf
from meanfield.diagnostics import energy, first_moment, second_moment
from meanfield.eulerian.zonal import polar_cdf, zonal_clusters
from meanfield.initial import ZonalBand, ZonalCaps, ZonalMixture, ZonalMode


def space(d=3, cells=200, p=2):
    return mf.DG(mf.SphereMesh.zonal(d, cells), p)


def test_polar_cdf_of_the_uniform_measure_on_s2():
    # on S^2 the mass below the polar angle t is (1 - cos t) / 2
    rho = space().interpolate(lambda x: np.ones(len(x)))
    t = np.linspace(0, np.pi, 9)
    np.testing.assert_allclose(polar_cdf(rho, t), (1 - np.cos(t)) / 2, atol=1e-6)


@pytest.mark.parametrize("d", [2, 3, 8, 1024])
def test_zonal_initial_densities_are_probability_densities(d):
    cells = (
        400 if d < 1024 else np.concatenate([[0.0], np.linspace(0.3, np.pi - 0.3, 400), [np.pi]])
    )
    V = space(d, cells)
    for f in (ZonalCaps(d, 20.0, 0.7), ZonalBand(d, 1.0, 30.0), ZonalMode(d, 3, 0.5),
              ZonalMixture((ZonalCaps(d, 20.0), ZonalBand(d, 2.0, 10.0)), (0.8, 0.2))):  # fmt: skip
        assert abs(V.interpolate(f).integrate() - 1.0) < 1e-6, f


def test_a_high_dimensional_cap_is_interpolated_in_logarithms():
    # at d = 1024 the cap's sphere density overflows float64, its line density does not
    d, f = 1024, ZonalCaps(1024, 20000.0, 1.0)
    x = mf.SphereMesh.zonal(d, 4).points
    assert np.isinf(f(x[:1])).all() and np.isfinite(f.log_value(x[:1])).all()
    rho = space(d, np.concatenate([np.linspace(0, 0.5, 200), [1.0, 2.0, np.pi]])).interpolate(f)
    assert np.all(np.isfinite(rho.coefficients)) and abs(rho.integrate() - 1.0) < 1e-3


def test_surface_densities_integrate_to_one_on_the_sphere_mesh():
    f = ZonalCaps(3, 5.0, 0.3, surface=True)
    rho = mf.DG(mf.SphereMesh.icosphere(3), 2).interpolate(f)
    assert abs(rho.integrate() - 1.0) < 1e-4


@pytest.mark.parametrize(
    "make, match",
    [
        (lambda: ZonalCaps(3, -1.0), "kappa"),
        (lambda: ZonalCaps(3, 1.0, 1.5), "north"),
        (lambda: ZonalBand(3, 4.0), "theta0"),
        (lambda: ZonalMode(3, 2, 1.0), "amplitude"),
        (lambda: ZonalMode(1, 2, 0.1), "d must be >= 2"),
        (lambda: ZonalMixture((ZonalCaps(3), ZonalCaps(4)), (1, 1)), "one dimension"),
    ],
)
def test_bad_zonal_initial_densities(make, match):
    with pytest.raises(ValueError, match=match):
        make()


def test_moments_and_energy_integrate_over_the_rings():
    d = 5
    f = ZonalMixture((ZonalCaps(d, 6.0, 0.7), ZonalBand(d, 1.9, 20.0)), (0.8, 0.2))
    rho = space(d).interpolate(f)
    x = rho.sample(100_000, np.random.default_rng(1))
    se = 4.0 / np.sqrt(len(x))
    np.testing.assert_allclose(first_moment(rho), first_moment(x), atol=se)
    np.testing.assert_allclose(second_moment(rho), second_moment(x), atol=se)
    # the energy of tokens drawn from the density converges to the density's (U-statistic)
    assert abs(energy(rho, 2.0) - energy(x[:8000], 2.0)) < 0.02 * energy(rho, 2.0)
    assert abs(energy(rho, 0.0) - 0.5 * first_moment(rho)[-1] ** 2) < 1e-15


def test_clusters_are_poles_and_rings():
    d = 3
    f = ZonalMixture((ZonalCaps(d, 60.0, 0.6), ZonalBand(d, 1.5, 2000.0)), (0.7, 0.3))
    c = zonal_clusters(space(d, 300).interpolate(f), level=2.0)
    assert c.count == 3 and sorted(c.kinds) == ["pole", "pole", "ring"]
    ring = c.kinds.index("ring")
    assert abs(c.angles[ring] - 1.5) < 0.01 and abs(c.masses[ring] - 0.3) < 0.03
    assert zonal_clusters(space(d).interpolate(lambda x: np.ones(len(x)))).count == 0


def test_wasserstein_is_the_exact_distance_of_the_laws_of_s():
    V = space(3, 200)
    a, b = V.interpolate(ZonalCaps(3, 5.0, 0.7)), V.interpolate(ZonalCaps(3, 5.0, 0.6))
    # F_a - F_b = 0.1 (F_N - F_S) keeps one sign: W1 = 0.1 |E_N s - E_S s| = 0.2 (coth 5 - 1/5)
    assert abs(mf.wasserstein(a, b) - 0.2 * (1 / np.tanh(5.0) - 0.2)) < 1e-6
    assert mf.wasserstein(a, a) < 1e-15
    # tokens: the distance falls like n^{-1/2}, and it is symmetric
    rng = np.random.default_rng(3)
    dist = [np.mean([mf.wasserstein(a.sample(n, rng), a) for _ in range(8)]) for n in (400, 6400)]
    assert 2.5 < dist[0] / dist[1] < 6.5
    x = a.sample(500, rng)
    assert mf.wasserstein(x, a) == pytest.approx(mf.wasserstein(a, x), rel=1e-12)
    with pytest.raises(ValueError, match="p must be 1"):
        mf.wasserstein(a, b, p=2)
