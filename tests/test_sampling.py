"""Density.sample: exact draws from a DG density, and the bounds the rejection relies on."""

import numpy as np
import pytest
from scipy import stats

import meanfield as mf
from meanfield.eulerian.sampling import area_factors, bernstein_maxima
from meanfield.harmonics import real_harmonic
from meanfield.sphere.geometry import curved_map, metric_determinant


def smooth(x):
    return np.exp(1.5 * x[:, -1] + 0.5 * x[:, 0])


def reference_points(tdim, m, rng):
    xi = rng.random((m, tdim))
    return xi if tdim == 1 else xi[xi.sum(axis=1) <= 1.0]


@pytest.mark.parametrize("mesh", [mf.SphereMesh.circle(7), mf.SphereMesh.icosphere(1)])
def test_area_factor_is_c_over_distance_power(mesh):
    """sqrt(g) = c_K / |F|^{t+1} on every cell, and |F| >= delta_K."""
    V = mf.DG(mesh, 1)
    c, delta = area_factors(V)
    xi = reference_points(V.tdim, 50, np.random.default_rng(0))
    _, J = curved_map(mesh.points[mesh.cells], xi)
    v = mesh.points[mesh.cells]
    F = v[:, None, 0] + np.einsum("ktd,mt->kmd", v[:, 1:] - v[:, :1], xi)
    r = np.linalg.norm(F, axis=-1)
    assert np.allclose(metric_determinant(J), c[:, None] / r ** (V.tdim + 1), rtol=1e-13)
    assert np.all(r >= delta[:, None] * (1 - 1e-15))


@pytest.mark.parametrize("degree", [0, 1, 2])
@pytest.mark.parametrize("mesh", [mf.SphereMesh.circle(9), mf.SphereMesh.icosphere(1)])
def test_bernstein_bound_holds(mesh, degree):
    V = mf.DG(mesh, degree)
    rho = V.interpolate(lambda x: np.exp(3.0 * x[:, 0]) - 1.5)  # signed on purpose
    xi = reference_points(V.tdim, 4000, np.random.default_rng(1))
    values = rho.coefficients @ V.tabulate(xi).T
    assert np.all(values.max(axis=1) <= bernstein_maxima(rho) + 1e-12)


@pytest.mark.parametrize("mesh", [mf.SphereMesh.circle(16), mf.SphereMesh.icosphere(2)])
def test_cell_frequencies_match_cell_masses(mesh):
    """Chi-square test of the cell counts against the DG cell masses (seeded, fixed outcome)."""
    V = mf.DG(mesh, 1)
    rho = V.interpolate(smooth)
    n = 100_000
    cells, _ = V.locate(rho.sample(n, rng=7))
    counts = np.bincount(cells, minlength=mesh.n_cells)
    expected = n * rho.cell_means() * V.areas / rho.integrate()
    assert stats.chisquare(counts, expected).pvalue > 1e-3


@pytest.mark.parametrize("degree", [1, 2])
@pytest.mark.parametrize("mesh", [mf.SphereMesh.circle(12), mf.SphereMesh.icosphere(2)])
def test_harmonic_averages_within_four_sigma(mesh, degree):
    """Within-cell shape: sample means of a few harmonics against the density's integrals."""
    V = mf.DG(mesh, degree)
    rho = V.interpolate(smooth)
    x = rho.sample(200_000, rng=np.random.default_rng(11))
    assert np.allclose(np.linalg.norm(x, axis=1), 1.0, atol=1e-15)
    mass = rho.integrate()
    for ell in (1, 2, 5):
        y = real_harmonic(ell, 0, x)
        exact = rho.integrate(lambda p, ell=ell: real_harmonic(ell, 0, p)) / mass
        assert abs(y.mean() - exact) <= 4 * y.std() / np.sqrt(len(y)), ell


def test_seeded_and_shaped():
    rho = mf.DG(mf.SphereMesh.icosphere(1), 2).interpolate(smooth)
    a, b = rho.sample(500, 3), rho.sample(500, np.random.default_rng(3))
    assert a.shape == (500, 3) and np.array_equal(a, b)
    assert not np.array_equal(a, rho.sample(500, 4))


def test_bad_input():
    V = mf.DG(mf.SphereMesh.circle(8), 1)
    rho = V.interpolate(smooth)
    with pytest.raises(ValueError, match="n"):
        rho.sample(0, 1)
    with pytest.raises(ValueError, match="rng"):
        rho.sample(10, "seed")
    with pytest.raises(ValueError, match="positive mass"):
        (rho * 0.0).sample(10, 1)
