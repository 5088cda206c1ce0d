"""DG spaces and densities: projection, evaluation, integration, arithmetic, the limiter."""

import numpy as np
import pytest

import meanfield as mf
from meanfield.eulerian import ZhangShuLimiter
from meanfield.eulerian.flows import slotted_cylinders

A = np.array([0.7, -0.4, 0.5])


def smooth(x):
    return np.exp(x @ A[: x.shape[1]])


@pytest.fixture(scope="module")
def ico2():
    return mf.SphereMesh.icosphere(2)


@pytest.mark.parametrize(
    ("dim", "degree", "n_basis"), [(2, 0, 1), (2, 1, 2), (2, 2, 3), (3, 0, 1), (3, 1, 3), (3, 2, 6)]
)
def test_space_sizes(dim, degree, n_basis):
    m = mf.SphereMesh.circle(6) if dim == 2 else mf.SphereMesh.icosphere(0)
    V = mf.DG(m, degree)
    assert V.n_basis == n_basis
    assert V.n_dofs == m.n_cells * n_basis
    nq = V.quadrature.weights.shape[1]
    assert V.quadrature_points.shape == (m.n_cells * nq, dim)
    assert V.velocity_points.shape[0] == m.n_cells * nq + V.facets.weights.size
    np.testing.assert_array_equal(V.velocity_points[: V.n_volume_points], V.quadrature_points)


@pytest.mark.parametrize("degree", [0, 1, 2])
@pytest.mark.parametrize("method", ["l2", "nodal"])
def test_constants_are_exact(ico2, degree, method):
    rho = mf.DG(ico2, degree).interpolate(lambda x: np.full(len(x), 2.5), method=method)
    np.testing.assert_allclose(rho.coefficients, 2.5, rtol=1e-13)
    assert abs(rho.integrate() - 2.5 * 4 * np.pi) < 1e-12
    np.testing.assert_allclose(rho.cell_means(), 2.5, rtol=1e-13)
    x = mf.sample_sphere(50, 3, np.random.default_rng(0))
    np.testing.assert_allclose(rho.evaluate(x), 2.5, rtol=1e-13)


@pytest.mark.parametrize("degree", [0, 1, 2])
def test_l2_projection_converges_at_p_plus_1(degree):
    errs, hs = [], []
    for level in (1, 2, 3):
        m = mf.SphereMesh.icosphere(level)
        errs.append(mf.DG(m, degree).interpolate(smooth).errors(smooth)["l2"])
        hs.append(m.resolution)
    rate = np.polyfit(np.log(hs), np.log(errs), 1)[0]
    print(f"p = {degree}: L2 projection errors {errs}, rate {rate:.2f}")
    assert rate > degree + 0.8


@pytest.mark.parametrize("degree", [1, 2])
def test_nodal_interpolation_hits_nodes(ico2, degree):
    V = mf.DG(ico2, degree)
    rho = V.interpolate(smooth, method="nodal")
    nodes = V.map_reference(V.element.points)  # (n_cells, n_basis, 3)
    # evaluate() picks a cell for points shared by several; compare cell by cell instead
    np.testing.assert_allclose(rho.coefficients, smooth(nodes.reshape(-1, 3)).reshape(
        rho.coefficients.shape), rtol=1e-14)  # fmt: skip
    inner = V.map_reference(np.array([[0.2, 0.3]]))[:, 0]
    interp = rho.evaluate(inner)
    assert np.abs(interp / smooth(inner) - 1).max() < 0.05


def test_evaluate_matches_quadrature_values(ico2):
    rho = mf.DG(ico2, 2).interpolate(smooth)
    x = rho.space.quadrature_points
    np.testing.assert_allclose(rho.evaluate(x), rho.quadrature_values().ravel(), rtol=1e-13)


def test_evaluate_on_circle_converges():
    """Pointwise error of the p = 2 projection, evaluated anywhere, falls like h^3."""
    theta = np.linspace(0, 2 * np.pi, 101)
    x = np.column_stack([np.cos(theta), np.sin(theta)])
    errs = [
        np.abs(mf.DG(mf.SphereMesh.circle(n), 2).interpolate(smooth).evaluate(x) - smooth(x)).max()
        for n in (20, 40, 80)
    ]
    assert np.log2(errs[0] / errs[1]) > 2.7 and np.log2(errs[1] / errs[2]) > 2.7, errs


def test_integrate(ico2):
    rho = mf.DG(ico2, 2).interpolate(lambda x: np.ones(len(x)))
    r = np.linalg.norm(A)
    assert abs(rho.integrate(smooth) - 4 * np.pi * np.sinh(r) / r) < 1e-7
    first = rho.integrate(lambda x: x)  # vector-valued: the first moment, zero for rho = 1
    assert first.shape == (3,) and np.abs(first).max() < 1e-13
    pts, w = rho.quadrature_measure()
    assert pts.shape == (rho.space.n_volume_points, 3) and w.shape == (len(pts),)
    assert abs(w.sum() - rho.integrate()) < 1e-13


def test_arithmetic(ico2):
    V = mf.DG(ico2, 1)
    a, b = V.interpolate(smooth), V.interpolate(lambda x: 1 + x[:, 2] ** 2)
    np.testing.assert_allclose((a + b).integrate(), a.integrate() + b.integrate(), rtol=1e-14)
    np.testing.assert_allclose((3 * a).integrate(), 3 * a.integrate(), rtol=1e-14)
    np.testing.assert_allclose((a * 0.5).coefficients, a.coefficients / 2, rtol=0)
    np.testing.assert_allclose((a / 4).coefficients, a.coefficients / 4, rtol=1e-15)
    assert np.all((a - a).coefficients == 0) and np.all((-a + a).coefficients == 0)
    other = mf.DG(ico2, 1).interpolate(smooth)
    with pytest.raises(ValueError, match="same DG space"):
        a + other
    with pytest.raises(ValueError, match="two Densities"):
        a + 1.0
    with pytest.raises(ValueError, match="finite real"):
        a * np.nan
    with pytest.raises(ValueError, match="non-zero"):
        a / 0


@pytest.mark.parametrize("degree", [1, 2])
def test_limiter_positive_and_conservative(degree):
    m = mf.SphereMesh.icosphere(3)
    V = mf.DG(m, degree)
    rho = V.interpolate(lambda x: slotted_cylinders(x, background=0.0))
    assert rho.min_value() < -0.1  # the L2 projection overshoots at the jumps
    lim = rho.limit()
    assert lim.min_value() >= 0.0
    assert abs(lim.integrate() - rho.integrate()) <= 1e-14 * rho.integrate()
    np.testing.assert_allclose(lim.cell_means(), rho.cell_means(), rtol=1e-13, atol=1e-16)
    touched = np.any(lim.coefficients != rho.coefficients, axis=1)
    low = (rho.coefficients @ V.check_table).min(axis=1)
    assert np.array_equal(touched, low < 0)  # only cells with a negative value change
    if degree == 1:  # linear: non-negative at the vertices means non-negative everywhere
        x = mf.sample_sphere(20000, 3, np.random.default_rng(1))
        assert lim.evaluate(x).min() >= 0.0


def test_limiter_identity_on_nonnegative_and_p0(ico2):
    V = mf.DG(ico2, 2)
    rho = V.interpolate(lambda x: 2 + x[:, 0])
    assert np.array_equal(rho.limit().coefficients, rho.coefficients)
    V0 = mf.DG(ico2, 0)
    r0 = V0.interpolate(smooth)
    assert np.array_equal(ZhangShuLimiter(V0)(r0.coefficients), r0.coefficients)


def test_admissible_flags_negative_means(ico2):
    V = mf.DG(ico2, 1)
    lim = ZhangShuLimiter(V)
    c = np.ones((ico2.n_cells, V.n_basis))
    assert lim.admissible(c)
    c[5] = -1e-6
    assert not lim.admissible(c)


def test_bad_input(ico2):
    with pytest.raises(ValueError, match="degree must be 0, 1 or 2, got 3"):
        mf.DG(ico2, 3)
    with pytest.raises(ValueError, match="mesh must be a meanfield.SphereMesh"):
        mf.DG("sphere", 1)
    with pytest.raises(ValueError, match="quadrature_degree must be >= 4"):
        mf.DG(ico2, 2, quadrature_degree=3)
    V = mf.DG(ico2, 1)
    with pytest.raises(ValueError, match=r"f must return an array of shape \(\d+,\)"):
        V.interpolate(lambda x: np.ones(3))
    with pytest.raises(ValueError, match="f returned NaN"):
        V.interpolate(lambda x: np.full(len(x), np.nan))
    with pytest.raises(ValueError, match="f must be a callable"):
        V.interpolate(3.0)
    with pytest.raises(ValueError, match="method must be one of"):
        V.interpolate(smooth, method="spline")
    with pytest.raises(ValueError, match="coefficients must have 960 entries"):
        V.density(np.ones(10))
    rho = V.interpolate(smooth)
    with pytest.raises(ValueError, match="points must lie on the unit sphere"):
        rho.evaluate(np.array([[2.0, 0, 0]]))
    with pytest.raises(ValueError, match="points must have 3 columns"):
        rho.evaluate(np.array([[1.0, 0]]))
