"""Curved geometry: exact maps, Jacobians, quadrature accuracy, facet normals, point location."""

import numpy as np
import pytest

import meanfield as mf
from meanfield.sphere.geometry import curved_map, metric_determinant, surface_gradients
from meanfield.sphere.quadrature import PointLocator, cell_quadrature, facet_quadrature

A = np.array([0.7, -0.4, 0.5])


def exp_integral(a):
    """Exact integral of exp(a . x) over S^2: 4 pi sinh|a| / |a|."""
    r = np.linalg.norm(a)
    return 4 * np.pi * np.sinh(r) / r


def quad_error(level, degree):
    q = cell_quadrature(mf.SphereMesh.icosphere(level), degree)
    return abs(np.sum(q.weights * np.exp(q.points @ A)) - exp_integral(A))


@pytest.mark.parametrize("level", [0, 2])
def test_points_on_sphere_and_inside_cells(level):
    m = mf.SphereMesh.icosphere(level)
    q = cell_quadrature(m, 4)
    np.testing.assert_allclose(np.linalg.norm(q.points, axis=-1), 1.0, atol=1e-15)
    # inside the cone of the cell's vertices: all barycentric-cone weights positive
    V = np.swapaxes(m.points[m.cells], 1, 2)
    lam = np.linalg.solve(V[:, None], q.points[..., None])[..., 0]
    assert lam.min() > 0


def test_weights_sum_to_exact_areas_and_4pi():
    m = mf.SphereMesh.icosphere(3)
    q = cell_quadrature(m, 3)
    np.testing.assert_allclose(q.weights.sum(axis=1), m.areas, rtol=1e-14)
    assert abs(q.weights.sum() - 4 * np.pi) < 1e-12
    c = mf.SphereMesh.circle(37)
    qc = cell_quadrature(c, 3)
    assert abs(qc.weights.sum() - 2 * np.pi) < 1e-13


def test_area_scaling_is_high_order():
    """The raw quadrature area differs from the exact one by O(h^(q+1)) (here q = 5: h^6)."""
    devs = []
    for level in (1, 2, 3):
        m = mf.SphereMesh.icosphere(level)
        q = cell_quadrature(m, 5)
        raw = q.reference_weights * metric_determinant(q.jacobians)
        devs.append(np.abs(raw.sum(axis=1) / m.areas - 1).max())
    rate = np.log2(devs[1] / devs[2])
    assert devs[0] < 1e-4 and rate > 5.5, (devs, rate)


@pytest.mark.parametrize("degree", [1, 3, 5])
def test_quadrature_converges_at_its_order(degree):
    """Integral of exp(a.x): error falls by ~2^(q+1) per refinement (q+1 >= 2)."""
    e = [quad_error(level, degree) for level in (1, 2, 3)]
    rate = np.polyfit(np.log([1, 0.5, 0.25]), np.log(e), 1)[0]
    print(f"degree {degree}: errors {e}, rate {rate:.2f}")
    assert rate > degree + 0.5


def test_circle_quadrature():
    m = mf.SphereMesh.circle(16)
    q = cell_quadrature(m, 5)
    x = q.points
    # int cos(theta)^2 = pi; int exp(cos theta) = 2 pi I0(1)
    assert abs(np.sum(q.weights * x[..., 0] ** 2) - np.pi) < 1e-12
    from scipy.special import i0

    assert abs(np.sum(q.weights * np.exp(x[..., 0])) - 2 * np.pi * i0(1.0)) < 1e-8


def test_jacobian_matches_finite_differences():
    m = mf.SphereMesh.icosphere(1)
    v = m.points[m.cells[:5]]
    xi = np.array([[0.2, 0.3], [0.6, 0.1]])
    _, J = curved_map(v, xi)
    eps = 1e-6
    for k in range(2):
        step = np.zeros(2)
        step[k] = eps
        xp, _ = curved_map(v, xi + step)
        xm, _ = curved_map(v, xi - step)
        np.testing.assert_allclose(J[..., k], (xp - xm) / (2 * eps), atol=1e-9)


def test_surface_gradients_tangent_and_chain_rule():
    import basix

    m = mf.SphereMesh.icosphere(1)
    xi, _ = basix.make_quadrature(basix.CellType.triangle, 3)
    x, J = curved_map(m.points[m.cells], xi)
    el = basix.create_element(
        basix.ElementFamily.P, basix.CellType.triangle, 2, basix.LagrangeVariant.equispaced
    )
    tab = el.tabulate(1, xi)[..., 0]
    grad_ref = np.moveaxis(tab[1:], 0, -1)  # (nq, nb, 2)
    g = surface_gradients(J, grad_ref)
    assert np.abs(np.einsum("kqbd,kqd->kqb", g, x)).max() < 1e-14
    # chain rule: J^T grad_S phi = grad_xi phi
    back = np.einsum("kqdt,kqbd->kqbt", J, g)
    np.testing.assert_allclose(back, np.broadcast_to(grad_ref, back.shape), atol=1e-12)


def test_facet_quadrature_geometry():
    m = mf.SphereMesh.icosphere(2)
    f = facet_quadrature(m, 3)
    x, n = f.points, f.normals
    np.testing.assert_allclose(np.linalg.norm(n, axis=1), 1.0, atol=1e-15)
    assert np.abs(np.einsum("fqd,fd->fq", x, n)).max() < 1e-15  # tangent to the sphere
    a, b = (m.points[m.topology.facets[:, k]] for k in (0, 1))
    assert np.abs(np.einsum("fd,fd->f", a, n)).max() < 1e-15  # perpendicular to the arc
    # outward for the left cell, inward for the right one
    centre = lambda c: m.points[m.cells[c]].mean(axis=1)  # noqa: E731
    assert np.all(np.einsum("fd,fd->f", centre(m.topology.cells[:, 0]), n) < 0)
    assert np.all(np.einsum("fd,fd->f", centre(m.topology.cells[:, 1]), n) > 0)
    np.testing.assert_allclose(f.weights.sum(axis=1), m.facet_lengths, rtol=1e-14)
    np.testing.assert_allclose(
        m.facet_lengths, np.arccos(np.clip(np.sum(a * b, 1), -1, 1)), rtol=1e-12
    )


def test_divergence_theorem_per_cell():
    """Closed-cell flux of u = P_x e equals the integral of div_S u = -2 e.x, cell by cell."""
    m = mf.SphereMesh.icosphere(2)
    e = np.array([0.3, -0.2, 0.5])
    f = facet_quadrature(m, 7)
    u = e - f.points * (f.points @ e)[..., None]
    flux = np.sum(f.weights * np.einsum("fqd,fd->fq", u, f.normals), axis=1)
    boundary = np.zeros(m.n_cells)
    np.add.at(boundary, m.topology.cells[:, 0], flux)
    np.add.at(boundary, m.topology.cells[:, 1], -flux)
    q = cell_quadrature(m, 8)
    volume = np.sum(q.weights * (-2.0 * q.points @ e), axis=1)
    np.testing.assert_allclose(boundary, volume, atol=1e-10)


def test_circle_facets():
    m = mf.SphereMesh.circle(8)
    f = facet_quadrature(m, 3)
    v = m.points[m.topology.facets[:, 0]]
    np.testing.assert_allclose(f.points[:, 0], v)
    # outward for the cell ending at v: the counterclockwise tangent
    np.testing.assert_allclose(f.normals, np.column_stack([-v[:, 1], v[:, 0]]))
    assert np.all(f.weights == 1.0)


@pytest.mark.parametrize("mesh", ["ico", "hull", "circle"])
def test_locator_inverts_the_map(mesh):
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent / "meshes"
    m = {
        "ico": lambda: mf.SphereMesh.icosphere(3),
        "hull": lambda: mf.SphereMesh.read(root / "hull_300.ply"),
        "circle": lambda: mf.SphereMesh.read(root / "circle_nonuniform_48.vtp"),
    }[mesh]()
    x = mf.sample_sphere(500, m.dim, np.random.default_rng(3))
    x = np.vstack([x, m.points])  # vertices lie on several cells: any of them will do
    cells, xi = PointLocator(m).locate(x)
    assert xi.min() >= -1e-12 and xi.sum(axis=1).max() <= 1 + 1e-12
    back = np.stack([curved_map(m.points[m.cells[[c]]], xi[[i]])[0][0, 0]
                     for i, c in enumerate(cells)])  # fmt: skip
    np.testing.assert_allclose(back, x, atol=1e-13)


def test_locator_falls_back_to_all_cells():
    m = mf.SphereMesh.icosphere(2)
    loc = PointLocator(m, candidates=1)  # one candidate: many points need the full search
    x = mf.sample_sphere(300, 3, np.random.default_rng(4))
    cells, xi = loc.locate(x)
    ref_cells, _ = PointLocator(m).locate(x)
    assert np.array_equal(cells, ref_cells)
