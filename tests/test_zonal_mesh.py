"""The zonal mesh of S^{d-1} (meanfield.sphere.zonal) and DG densities on it."""

import numpy as np
import pytest

import meanfield as mf
from meanfield.sphere.zonal import D_MAX, meridian, polar_angle


def uniform(x):
    return np.ones(len(x))


@pytest.mark.parametrize("d", [2, 3, 8, 128])
def test_uniform_cells_points_on_the_meridian(d):
    mesh = mf.SphereMesh.zonal(d, 10)
    assert isinstance(mesh, mf.SphereMesh) and mesh.kind == "zonal" and mesh.tdim == 1
    assert mesh.points.shape == (11, d) and mesh.cells.shape == (10, 2)
    np.testing.assert_allclose(np.linalg.norm(mesh.points, axis=1), 1.0, atol=1e-15)
    assert mesh.points[0, -1] == 1.0 and mesh.points[-1, -1] == -1.0  # the poles exactly
    np.testing.assert_allclose(mesh.h, np.pi / 10, rtol=1e-14)
    assert abs(mesh.zone_measures.sum() - 1.0) < 1e-14


def test_zone_measures_are_exact_on_s2():
    # on S^2 the normalised area between two latitudes is (cos a - cos b) / 2
    theta = np.array([0.0, 0.1, 0.5, 1.7, 3.0, np.pi])
    mesh = mf.SphereMesh.zonal(3, theta)
    np.testing.assert_allclose(mesh.zone_measures, -np.diff(np.cos(theta)) / 2, rtol=1e-13)


@pytest.mark.parametrize(
    "d, cells, match",
    [
        (1, 10, "d must be >= 2"),
        (D_MAX + 1, 10, "d must be <="),
        (3, 1, "cells must be >= 2"),
        (3, [0.0, 1.0, 1.0, np.pi], "increase strictly"),
        (3, [0.1, 1.0, np.pi], "from 0 to pi"),
        (3, [0.0, 1.0, 3.0], "from 0 to pi"),
        (3, 10**7, "cells must be <="),
        (3.5, 10, "d must be an integer"),
    ],
)
def test_bad_input_is_refused(d, cells, match):
    with pytest.raises(ValueError, match=match):
        mf.SphereMesh.zonal(d, cells)


@pytest.mark.parametrize("p", [0, 1, 2])
@pytest.mark.parametrize("d", [2, 3, 8])
def test_dg_mass_and_second_moment_of_the_uniform_measure(p, d):
    # E[s^2] = 1/d for the uniform probability on S^{d-1}. For even d the weight sin^{d-2} is
    # smooth and periodic, and the Gauss rules converge spectrally; for d = 3 the weight |sin|
    # has a kink at the poles: the error is O(h^{2p+2}) there.
    rho = mf.DG(mf.SphereMesh.zonal(d, 64), p).interpolate(uniform)
    tol = (np.pi / 64) ** (2 * p + 2) if d % 2 else 1e-12
    assert abs(rho.integrate() - 1.0) < tol
    assert abs(rho.integrate(lambda x: x[:, -1] ** 2) - 1.0 / d) < max(tol, 1e-12)


def test_evaluate_returns_the_sphere_density():
    mesh = mf.SphereMesh.zonal(3, 80)
    space = mf.DG(mesh, 2)
    theta = np.linspace(0.0, np.pi, 13)
    x = meridian(theta, 3)
    np.testing.assert_allclose(space.interpolate(uniform).evaluate(x), 1.0, rtol=1e-12)
    f = lambda y: np.exp(2.0 * y[:, -1])  # noqa: E731
    np.testing.assert_allclose(space.interpolate(f).evaluate(x), f(x), rtol=1e-3)
    # evaluation off the meridian: the density depends on the polar angle only
    rot = x[:, [1, 0, 2]]
    np.testing.assert_allclose(space.interpolate(f).evaluate(rot), f(x), rtol=1e-3)


def test_refine_halves_cells_and_locate_inverts_the_map():
    mesh = mf.SphereMesh.zonal(5, [0.0, 0.2, 1.0, np.pi]).refine()
    assert mesh.n_cells == 6
    np.testing.assert_allclose(mesh.breakpoints[1], 0.1)
    theta = np.array([0.0, 0.05, 0.5, 2.0, np.pi])
    cells, xi = mesh.locate(meridian(theta, 5))
    back = mesh.breakpoints[cells] + mesh.areas[cells] * xi[:, 0]
    np.testing.assert_allclose(back, theta, atol=1e-15)
    np.testing.assert_allclose(polar_angle(meridian(theta, 5)), theta, atol=1e-15)


def test_sample_draws_tokens_in_rd_from_the_law_of_s():
    # a von Mises-Fisher density e^{k s} on S^2 has E[s] = coth k - 1/k
    k, n = 3.0, 200_000
    rho = mf.DG(mf.SphereMesh.zonal(3, 60), 2).interpolate(lambda y: np.exp(k * y[:, -1]))
    x = rho.sample(n, np.random.default_rng(5))
    assert x.shape == (n, 3)
    np.testing.assert_allclose(np.linalg.norm(x, axis=1), 1.0, atol=1e-14)
    s = x[:, -1]
    assert abs(s.mean() - (1 / np.tanh(k) - 1 / k)) < 4 * s.std() / np.sqrt(n)
    # the other coordinates are uniform on the circle of each latitude: mean zero
    assert np.all(np.abs(x[:, :2].mean(axis=0)) < 4 * x[:, :2].std(axis=0) / np.sqrt(n))
    np.testing.assert_array_equal(x, rho.sample(n, np.random.default_rng(5)))


def test_high_dimension_uniform_is_finite():
    d = 1024
    w = 8 / np.sqrt(d)
    theta = np.concatenate([[0.0, 0.5, 1.0], np.linspace(np.pi / 2 - w, np.pi / 2 + w, 33),
                            [2.2, 2.7, np.pi]])  # fmt: skip
    rho = mf.DG(mf.SphereMesh.zonal(d, theta), 2).interpolate(uniform)
    assert abs(rho.integrate() - 1.0) < 1e-9
    assert abs(rho.integrate(lambda x: x[:, -1] ** 2) - 1.0 / d) < 1e-7
    assert np.all(np.isfinite(rho.coefficients))
