"""SphereMesh: constructors, topology, exact areas, sample files and validation messages."""

from pathlib import Path

import numpy as np
import pytest

import meanfield as mf
from meanfield.sphere.topology import spherical_areas

MESHES = Path(__file__).resolve().parent.parent / "meshes"
MESH_FILES = sorted(p for p in MESHES.iterdir() if p.suffix not in (".py", ".md"))


@pytest.fixture(scope="module")
def ico2():
    return mf.SphereMesh.icosphere(2)


@pytest.mark.parametrize("level", [0, 1, 2, 3])
def test_icosphere_counts_euler_and_area(level):
    m = mf.SphereMesh.icosphere(level)
    assert m.n_cells == 20 * 4**level
    assert m.n_vertices - m.n_facets + m.n_cells == 2
    np.testing.assert_allclose(np.linalg.norm(m.points, axis=1), 1.0, rtol=0, atol=1e-15)
    assert abs(m.areas.sum() - 4 * np.pi) < 1e-13
    assert np.all(m.areas > 0)


def test_icosphere_level0_is_regular():
    m = mf.SphereMesh.icosphere(0)
    # 20 congruent spherical triangles: each has area 4 pi / 20 and the edge angle
    # arccos(1/sqrt(5)) of the icosahedron.
    np.testing.assert_allclose(m.areas, 4 * np.pi / 20, rtol=1e-14)
    np.testing.assert_allclose(m.facet_lengths, np.arccos(1 / np.sqrt(5)), rtol=1e-14)


@pytest.mark.parametrize("n", [3, 7, 64])
def test_circle(n):
    m = mf.SphereMesh.circle(n)
    assert m.dim == 2 and m.n_cells == n and m.n_facets == n
    np.testing.assert_allclose(m.areas, 2 * np.pi / n, rtol=1e-14)
    assert abs(m.areas.sum() - 2 * np.pi) < 1e-14
    np.testing.assert_allclose(m.h, 2 * np.pi / n, rtol=1e-14)


def test_refine_circle_and_sphere(ico2):
    c = mf.SphereMesh.circle(5).refine()
    assert c.n_cells == 10
    np.testing.assert_allclose(c.areas, np.pi / 5, rtol=1e-14)
    r = ico2.refine()
    assert r.n_cells == 4 * ico2.n_cells
    assert r.n_vertices == ico2.n_vertices + ico2.n_facets
    assert abs(r.areas.sum() - 4 * np.pi) < 1e-13


def test_topology_left_right_share_each_edge(ico2):
    top = ico2.topology
    for side in (0, 1):
        cells = ico2.cells[top.cells[:, side]]
        l = top.local[:, side]
        a = cells[np.arange(len(l)), l]
        b = cells[np.arange(len(l)), (l + 1) % 3]
        if side == 0:
            assert np.array_equal(np.column_stack([a, b]), top.facets)
        else:  # the right cell runs the edge the other way
            assert np.array_equal(np.column_stack([b, a]), top.facets)
    # every (cell, local edge) pair appears exactly once
    pairs = np.concatenate([top.cells * 3 + top.local]).ravel()
    assert np.array_equal(np.sort(pairs), np.arange(3 * ico2.n_cells))


def test_cell_size_is_twice_inradius_for_small_cells():
    m = mf.SphereMesh.icosphere(5)
    side = m.facet_lengths.mean()
    # equilateral flat triangle: twice the inradius is side / sqrt(3)
    np.testing.assert_allclose(np.median(m.h), side / np.sqrt(3), rtol=0.05)


def test_spherical_areas_octant():
    p = np.eye(3)
    np.testing.assert_allclose(spherical_areas(p, np.array([[0, 1, 2]])), [np.pi / 2])
    np.testing.assert_allclose(spherical_areas(p, np.array([[0, 2, 1]])), [-np.pi / 2])


def test_inward_mesh_is_flipped_outward(ico2):
    m = mf.SphereMesh.from_arrays(ico2.points, ico2.cells[:, ::-1])
    assert np.all(m.areas > 0)
    assert abs(m.areas.sum() - 4 * np.pi) < 1e-13


def test_off_sphere_points_projected_with_warning(ico2):
    with pytest.warns(UserWarning, match="off the unit sphere"):
        m = mf.SphereMesh.from_arrays(3.0 * ico2.points, ico2.cells)
    np.testing.assert_allclose(m.points, ico2.points, atol=1e-15)


def test_unnormalised_read_and_quads(tmp_path):
    import pyvista as pv

    s = pv.Sphere(radius=0.5, theta_resolution=12, phi_resolution=8)  # float32, radius 0.5
    path = tmp_path / "sphere.vtp"
    s.save(path)
    with pytest.warns(UserWarning, match="projected radially"):
        m = mf.SphereMesh.read(path)
    assert m.n_cells == s.n_cells
    assert abs(m.areas.sum() - 4 * np.pi) < 1e-12


@pytest.mark.parametrize("path", MESH_FILES, ids=lambda p: p.name)
def test_sample_meshes_load(path):
    m = mf.SphereMesh.read(path)
    full = 4 * np.pi if m.dim == 3 else 2 * np.pi
    assert abs(m.areas.sum() - full) < 1e-12
    assert m.n_cells >= 48


def test_sample_mesh_kinds():
    kinds = {p.name: mf.SphereMesh.read(p).dim for p in MESH_FILES}
    assert sum(d == 2 for d in kinds.values()) == 2
    assert sum(d == 3 for d in kinds.values()) == 5


@pytest.mark.parametrize("suffix", [".vtu", ".vtk", ".ply", ".obj", ".stl"])
def test_save_read_roundtrip(tmp_path, suffix):
    m = mf.SphereMesh.icosphere(1)
    m.save(tmp_path / f"m{suffix}")
    r = mf.SphereMesh.read(tmp_path / f"m{suffix}")
    assert r.n_cells == m.n_cells and r.n_vertices == m.n_vertices
    # float32 formats keep 1e-7; the areas still sum to 4 pi exactly after projection
    np.testing.assert_allclose(np.sort(r.areas), np.sort(m.areas), rtol=1e-5)
    assert abs(r.areas.sum() - 4 * np.pi) < 1e-12


def test_circle_roundtrip(tmp_path):
    m = mf.SphereMesh.circle(10)
    m.save(tmp_path / "c.vtk")
    r = mf.SphereMesh.read(tmp_path / "c.vtk")
    assert r.dim == 2 and r.n_cells == 10


# ----------------------------------------------------------------------------- broken meshes
def _hemisphere(m):
    centre_z = m.points[m.cells].mean(axis=1)[:, 2]
    return m.points, m.cells[centre_z > 0]


def test_hemisphere_rejected(ico2):
    with pytest.raises(ValueError, match=r"not closed: edge \(\d+, \d+\) belongs to one cell"):
        mf.SphereMesh.from_arrays(*_hemisphere(ico2))


def test_flipped_cell_rejected(ico2):
    cells = ico2.cells.copy()
    cells[17] = cells[17, ::-1]
    with pytest.raises(ValueError, match=r"cell 17 is flipped: its vertices run clockwise"):
        mf.SphereMesh.from_arrays(ico2.points, cells)


def test_duplicated_cell_rejected(ico2):
    cells = np.vstack([ico2.cells, ico2.cells[[5]][:, [1, 2, 0]]])
    with pytest.raises(ValueError, match=r"cells 5, 320 are duplicates"):
        mf.SphereMesh.from_arrays(ico2.points, cells)


def test_non_manifold_edge_rejected(ico2):
    # a fin: a new triangle on an existing edge and a new vertex
    a, b = ico2.topology.facets[0]
    points = np.vstack([ico2.points, [[0.3, 0.4, np.sqrt(1 - 0.25)]]])
    cells = np.vstack([ico2.cells, [[a, b, len(ico2.points)]]])
    with pytest.raises(ValueError, match=r"non-manifold edge .* shared by 3 cells"):
        mf.SphereMesh.from_arrays(points, cells)


def test_nan_vertex_rejected(ico2):
    points = ico2.points.copy()
    points[9, 1] = np.nan
    with pytest.raises(ValueError, match=r"vertex 9 has non-finite coordinates"):
        mf.SphereMesh.from_arrays(points, ico2.cells)


def test_messages_are_distinct(ico2):
    """Each broken mesh is named by its own diagnosis, and by no other one."""
    points = ico2.points.copy()
    points[0] = np.inf
    a, b = ico2.topology.facets[0]
    broken = {
        "not closed": _hemisphere(ico2),
        "flipped": (ico2.points, np.vstack([ico2.cells[:3, ::-1], ico2.cells[3:]])),
        "duplicates": (ico2.points, np.vstack([ico2.cells, ico2.cells[:1]])),
        "non-manifold": (
            np.vstack([ico2.points, [[0.3, 0.4, np.sqrt(0.75)]]]),
            np.vstack([ico2.cells, [[a, b, ico2.n_vertices]]]),
        ),
        "non-finite": (points, ico2.cells),
    }
    for diagnosis, args in broken.items():
        with pytest.raises(ValueError) as err:
            mf.SphereMesh.from_arrays(*args)
        named = [k for k in broken if k in str(err.value)]
        assert named == [diagnosis], str(err.value)


def test_degenerate_cell_rejected():
    # octahedron with one vertex replaced so that a triangle lies on a great circle
    p = np.array([[1, 0, 0], [-1, 0, 0], [0, 1, 0], [0, -1, 0], [0, 0, 1], [0, 0, -1.0]])
    cells = np.array([[0, 2, 4], [2, 1, 4], [1, 3, 4], [3, 0, 4],
                      [2, 0, 5], [1, 2, 5], [3, 1, 5], [0, 3, 5]])  # fmt: skip
    mf.SphereMesh.from_arrays(p, cells)  # the octahedron is fine
    bad = p.copy()
    bad[4] = [np.sqrt(0.5), np.sqrt(0.5), 0.0]  # now 0, 2, 4 lie on the equator
    with pytest.raises(ValueError, match=r"cell 0 .* is degenerate"):
        mf.SphereMesh.from_arrays(bad, cells)


def test_repeated_vertex_and_index_errors(ico2):
    cells = ico2.cells.copy()
    cells[3, 1] = cells[3, 0]
    with pytest.raises(ValueError, match=r"cell 3 .* repeats a vertex"):
        mf.SphereMesh.from_arrays(ico2.points, cells)
    cells = ico2.cells.copy()
    cells[4, 2] = 10_000
    with pytest.raises(ValueError, match=r"cell 4 .* outside 0\.\.161"):
        mf.SphereMesh.from_arrays(ico2.points, cells)


def test_shape_and_type_errors(ico2):
    with pytest.raises(ValueError, match=r"points must have shape"):
        mf.SphereMesh.from_arrays(np.zeros((5, 4)), ico2.cells)
    with pytest.raises(ValueError, match=r"cells must be an integer array"):
        mf.SphereMesh.from_arrays(ico2.points, ico2.cells + 0.5)
    with pytest.raises(ValueError, match=r"cells must be triangles"):
        mf.SphereMesh.from_arrays(ico2.points, ico2.cells[:, :2])
    with pytest.raises(ValueError, match=r"vertex 0 is the origin"):
        mf.SphereMesh.from_arrays(np.vstack([[0, 0, 0], ico2.points[1:]]), ico2.cells)


def test_unused_vertex_rejected(ico2):
    points = np.vstack([ico2.points, [[0.6, 0.0, 0.8]]])
    with pytest.raises(ValueError, match=r"vertex 162 belongs to no cell"):
        mf.SphereMesh.from_arrays(points, ico2.cells)


def test_coincident_vertices_rejected(ico2):
    points = np.vstack([ico2.points, ico2.points[[7]]])
    cells = ico2.cells.copy()
    cells[cells == 7] = np.where(np.arange((cells == 7).sum()) % 2 == 0, 7, 162)
    with pytest.raises(ValueError, match=r"vertices 7 and 162 coincide"):
        mf.SphereMesh.from_arrays(points, cells)


def test_two_spheres_rejected():
    m = mf.SphereMesh.icosphere(0)
    n = m.n_vertices
    rot = np.array([[0, -1, 0], [1, 0, 0], [0, 0, 1.0]]) @ np.array(
        [[1, 0, 0], [0, 0.6, -0.8], [0, 0.8, 0.6]]
    )
    points = np.vstack([m.points, m.points @ rot.T])
    cells = np.vstack([m.cells, m.cells + n])
    with pytest.raises(ValueError, match=r"Euler characteristic V - E \+ F = 4"):
        mf.SphereMesh.from_arrays(points, cells)


def test_circle_errors():
    theta = 2 * np.pi * np.arange(6) / 6
    p = np.column_stack([np.cos(theta), np.sin(theta)])
    k = np.arange(6)
    with pytest.raises(ValueError, match=r"not closed: vertex \d+ is in one cell only"):
        mf.SphereMesh.from_arrays(p, np.column_stack([k, k + 1])[:5])
    cells = np.column_stack([k, (k + 1) % 6])
    cells[2] = cells[2, ::-1]
    with pytest.raises(ValueError, match=r"cell 2 is flipped"):
        mf.SphereMesh.from_arrays(p, cells)
    with pytest.raises(ValueError, match=r"non-manifold vertex 0 is in 3 cells"):
        mf.SphereMesh.from_arrays(p, np.vstack([np.column_stack([k, (k + 1) % 6]), [[0, 2]]]))
    with pytest.raises(ValueError, match=r"joins antipodal vertices"):
        mf.SphereMesh.from_arrays(p[[0, 3, 4]], [[0, 1], [1, 2], [2, 0]])


def test_circle_wrapped_twice_rejected():
    n = 7
    theta = 4 * np.pi * np.arange(n) / n  # consecutive vertices 4 pi / 7 apart: winds twice
    p = np.column_stack([np.cos(theta), np.sin(theta)])
    k = np.arange(n)
    with pytest.raises(ValueError, match=r"cover it 2 times"):
        mf.SphereMesh.from_arrays(p, np.column_stack([k, (k + 1) % n]))


def test_constructor_argument_errors(tmp_path):
    with pytest.raises(ValueError, match=r"n must be >= 3, got 2"):
        mf.SphereMesh.circle(2)
    with pytest.raises(ValueError, match=r"level must be <= 8"):
        mf.SphereMesh.icosphere(9)
    with pytest.raises(ValueError, match=r"path must be an existing mesh file"):
        mf.SphereMesh.read(tmp_path / "nothing.vtu")
    with pytest.raises(ValueError, match="not closed"):  # the constructor validates too
        mf.SphereMesh(np.eye(3), np.array([[0, 1, 2]]))
