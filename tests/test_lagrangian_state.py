"""The flow-map state (lagrangian/state.py): nodes, cell maps, areas, distortion, splitting."""

import numpy as np
import pytest

import meanfield as mf
from meanfield.lagrangian.state import FlowMap


def _density(mesh, degree=1):
    return mf.DG(mesh, degree).interpolate(lambda x: 1.0 + 0.5 * x[:, 0] + 0.25 * x[:, 1] ** 2)


MESHES = {"S1": lambda: mf.SphereMesh.circle(12), "S2": lambda: mf.SphereMesh.icosphere(1)}


@pytest.mark.parametrize("name", list(MESHES))
def test_identity_map_is_the_quadrature_measure_and_the_mesh(name):
    mesh = MESHES[name]()
    rho = _density(mesh)
    s = FlowMap.from_density(rho)
    x, w = rho.quadrature_measure()
    np.testing.assert_array_equal(s.points.reshape(-1, mesh.dim), x)
    np.testing.assert_array_equal(s.masses.ravel(), w)
    # vertices first, then one midpoint per cell (S^1) or per edge (S^2)
    extra = mesh.n_cells if mesh.dim == 2 else mesh.n_facets
    assert s.nodes.shape == (mesh.n_vertices + extra, mesh.dim)
    np.testing.assert_allclose(np.linalg.norm(s.nodes, axis=1), 1.0, rtol=0, atol=1e-15)
    np.testing.assert_array_equal(s.node_index[:, : mesh.dim], mesh.cells)
    # the quadratic cells approximate the exact curved cells: areas to O(h^3) or better
    rel = np.abs(s.cell_areas() / mesh.areas - 1.0).max()
    assert 0 < rel < 2e-3, rel
    assert np.abs(s.geometric_log_jacobian()).max() == 0.0
    np.testing.assert_allclose(s.distortion(), 0.0, atol=1e-12)
    np.testing.assert_allclose(s.stretch(), 1.0, rtol=1e-12)


def test_quadratic_area_error_falls_like_h4_on_the_sphere():
    errs = [np.abs(FlowMap.from_density(_density(m, 0)).cell_areas() / m.areas - 1).max()
            for m in (mf.SphereMesh.icosphere(k) for k in (0, 1, 2))]  # fmt: skip
    rate = np.polyfit(np.log([1, 0.5, 0.25]), np.log(errs), 1)[0]
    print(f"quadratic cell area error {errs}, rate {rate:.2f}")
    assert rate > 3.5


def test_negative_masses_are_rejected():
    mesh = mf.SphereMesh.circle(8)
    rho = mf.DG(mesh, 2).interpolate(lambda x: x[:, 0])
    with pytest.raises(ValueError, match="non-negative"):
        FlowMap.from_density(rho)


@pytest.mark.parametrize("name", list(MESHES))
def test_splitting_keeps_mass_area_and_geometry(name):
    mesh = MESHES[name]()
    rho = _density(mesh, 2)
    s = FlowMap.from_density(rho)

    # move the nodes and points by a smooth non-rigid map so the split has something to follow
    def warp(x):
        y = x + 0.2 * np.sin(2 * x[:, :1]) * np.roll(x, 1, axis=1)
        return y / np.linalg.norm(y, axis=1, keepdims=True)

    s.nodes = warp(s.nodes)
    s.points = warp(s.points.reshape(-1, mesh.dim)).reshape(s.points.shape)
    mass, cells = s.masses.sum(), s.n_cells
    area = s.cell_areas().sum()
    picked = np.array([0, 3, 5])
    k = 2 if mesh.dim == 2 else 4
    assert s.split(picked) == 3
    assert s.n_cells == cells + 3 * (k - 1)
    assert abs(s.masses.sum() - mass) <= 4e-16 * mass
    assert np.all(s.masses >= 0)
    # children tile the parents: total moved area unchanged to the quadratic-map error
    assert abs(s.cell_areas().sum() / area - 1) < 1e-3
    # children's points lie where the parent's map puts them: on the sphere
    np.testing.assert_allclose(np.linalg.norm(s.points, axis=-1), 1.0, atol=1e-15)
    assert s.split([]) == 0


def test_pack_load_roundtrip():
    s = FlowMap.from_density(_density(mf.SphereMesh.icosphere(0)))
    y = s.pack()
    y[-1] = 0.5
    s.load(2.0 * y)  # positions are projected back, log J taken as it is
    np.testing.assert_allclose(np.linalg.norm(s.points, axis=-1), 1.0, atol=1e-15)
    assert s.log_jacobian.ravel()[-1] == 1.0


def _warp(x):
    """A smooth non-rigid map of the sphere onto itself (x + 0.3 sin-like shear, renormalised)."""
    y = x + 0.3 * np.stack([np.sin(2 * x[..., 1]), np.cos(x[..., 0])] + (
        [np.sin(x[..., 0] + x[..., 1])] if x.shape[-1] == 3 else []), axis=-1)  # fmt: skip
    return y / np.linalg.norm(y, axis=-1, keepdims=True)


def _warped_state(mesh, degree):
    s = FlowMap.from_density(_density(mesh, degree))
    s.nodes = _warp(s.nodes)
    s.points = _warp(s.points)
    return s


def _readout_errors(mesh, degree):
    """Largest distance of the P2 and the read-out maps to the warped curved map."""
    from meanfield.sphere.geometry import cell_map

    s = _warped_state(mesh, degree)
    rng = np.random.default_rng(1)
    xi = rng.dirichlet(np.ones(mesh.dim), size=40)[:, 1:]
    exact = _warp(cell_map(mesh, xi)[0])
    p2 = np.linalg.norm(s.cell_maps(xi)[0] - exact, axis=-1).max()
    fit = np.linalg.norm(s.readout_maps(xi)[0] - exact, axis=-1).max()
    return p2, fit


@pytest.mark.parametrize(
    "name,degree,meshes,p2_rate,fit_rate",
    [
        ("S1", 1, [mf.SphereMesh.circle(n) for n in (16, 32, 64)], 3, 5),
        ("S1", 2, [mf.SphereMesh.circle(n) for n in (16, 32, 64)], 3, 5),
        ("S2", 1, [mf.SphereMesh.icosphere(k) for k in (2, 3, 4)], 3, 4),
    ],
)
def test_readout_map_is_of_higher_order_than_the_quadratic_map(name, degree, meshes, p2_rate,
                                                               fit_rate):  # fmt: skip
    # nodes and quadrature points moved by a known smooth map: the read-out map through both
    # places the points between them to O(h^5) on S^1 (degree 4) and O(h^4) on S^2 (cubic
    # least squares), the quadratic node map to O(h^3)
    errs = np.array([_readout_errors(m, degree) for m in meshes])
    h = np.array([np.sqrt(m.areas.mean()) if m.dim == 3 else m.areas.mean() for m in meshes])
    rate_p2 = np.polyfit(np.log(h), np.log(errs[:, 0]), 1)[0]
    rate_fit = np.polyfit(np.log(h), np.log(errs[:, 1]), 1)[0]
    print(f"{name} p = {degree}: P2 rate {rate_p2:.2f}, read-out rate {rate_fit:.2f}")
    assert abs(rate_p2 - p2_rate) < 0.4, rate_p2
    assert rate_fit > fit_rate - 0.4, rate_fit
    assert np.all(errs[:, 1] < errs[:, 0] / 5)


def test_readout_map_falls_back_to_the_quadratic_map():
    # p = 0 (no extra points) and a split flow map (children are not samples of the flow)
    s0 = _warped_state(mf.SphereMesh.circle(8), 0)
    xi = np.array([[0.1], [0.6]])
    np.testing.assert_array_equal(s0.readout_maps(xi)[0], s0.cell_maps(xi)[0])
    # p = 2 on S^2: the nodes and the 7 points of the degree-5 rule do not determine a cubic
    s2 = _warped_state(mf.SphereMesh.icosphere(0), 2)
    xi2 = np.array([[0.2, 0.3]])
    np.testing.assert_array_equal(s2.readout_maps(xi2)[0], s2.cell_maps(xi2)[0])
    s = _warped_state(mf.SphereMesh.circle(8), 1)
    assert s.unsplit()
    s.split([0])
    assert not s.unsplit()
    np.testing.assert_array_equal(s.readout_maps(xi)[0], s.cell_maps(xi)[0])
    np.testing.assert_array_equal(s.initial_readout_jacobians(xi), s.cell_maps(xi, initial=True)[1])


def test_readout_per_point_matches_the_shared_points():
    s = _warped_state(mf.SphereMesh.icosphere(1), 1)
    xi = np.array([[0.2, 0.3], [0.5, 0.1]])
    M, DM = s.readout_maps(xi)
    cells = np.array([3, 7])
    Mp, DMp = s.readout_maps(xi, cells, per_point=True)
    np.testing.assert_allclose(Mp, M[cells, [0, 1]], atol=1e-15)
    np.testing.assert_allclose(DMp, DM[cells, [0, 1]], atol=1e-14)
    J0 = s.initial_readout_jacobians(xi, cells, per_point=True)
    np.testing.assert_allclose(J0, s.initial_readout_jacobians(xi)[cells, [0, 1]], atol=1e-15)
