"""The moved mesh of a flow-map density as VTK (lagrangian/pieces.py, app/io.py series)."""

import numpy as np
import pytest
import pyvista as pv

import meanfield as mf
from meanfield.app.io import write_density_series
from meanfield.eulerian.flows import ReversingDeformation
from meanfield.lagrangian.pieces import (
    VTK_QUADRATIC_EDGE,
    VTK_QUADRATIC_TRIANGLE,
    flow_map_pieces,
)


def _solution(mesh):
    rho0 = mf.DG(mesh, 1).interpolate(lambda x: 1.0 + 0.5 * x[:, 0])
    flow = (
        ReversingDeformation(case=1)
        if mesh.dim == 3
        else (lambda t, x: np.sin(x[:, :1]) * x[:, ::-1] * [-1, 1])
    )
    return rho0, mf.solve_density(flow, rho0, [0.0, 0.5, 1.0], scheme="lagrangian", dt=0.05)


@pytest.mark.parametrize(
    "make", [lambda: mf.SphereMesh.circle(8), lambda: mf.SphereMesh.icosphere(1)]
)
def test_pieces_are_the_moved_quadratic_cells(make):
    mesh = make()
    rho0, sol = _solution(mesh)
    pts, cells, kind, values, data = flow_map_pieces(sol.densities[0])
    nn = 3 if mesh.dim == 2 else 6
    assert cells.shape == (mesh.n_cells, nn) and pts.shape == (mesh.n_cells * nn, 3)
    assert kind == (VTK_QUADRATIC_EDGE if mesh.dim == 2 else VTK_QUADRATIC_TRIANGLE)
    # at t = 0 the corner copies are the mesh vertices and carry rho0 there
    corners = pts.reshape(mesh.n_cells, nn, 3)[:, : mesh.dim, : mesh.dim]
    np.testing.assert_allclose(corners, mesh.points[mesh.cells], atol=1e-15)
    vals = values.reshape(mesh.n_cells, nn)[:, : mesh.dim]
    own = rho0.coefficients @ rho0.space.tabulate(np.vstack([np.zeros(mesh.dim - 1),
                                                             np.eye(mesh.dim - 1)])).T  # fmt: skip
    np.testing.assert_allclose(vals, own, rtol=1e-12)
    assert set(data) == {"cell_mean", "mass", "distortion", "stretch"}
    # later frames: values positive, cells moved
    p1, _, _, v1, d1 = flow_map_pieces(sol.densities[-1])
    assert np.all(v1 > 0) and np.abs(p1 - pts).max() > 1e-3
    np.testing.assert_allclose(d1["mass"].sum(), rho0.integrate(), rtol=1e-14)


def test_series_reads_back_in_pyvista(tmp_path):
    mesh = mf.SphereMesh.icosphere(1)
    _, sol = _solution(mesh)
    pvd = write_density_series(tmp_path / "run", sol.t, sol.densities)
    text = pvd.read_text()
    assert text.count("<DataSet") == 3 and 'timestep="0.5"' in text
    grid = pv.read(tmp_path / "run" / "density_0002.vtu")
    assert grid.n_cells == mesh.n_cells
    assert set(np.unique(grid.celltypes)) == {VTK_QUADRATIC_TRIANGLE}
    np.testing.assert_allclose(grid.cell_data["mass"].sum(), sol.mass[-1], rtol=1e-14)
    assert "density" in grid.point_data and "distortion" in grid.cell_data
    # an Eulerian solution writes through the same call
    eul = mf.solve_density(lambda t, x: 0 * x, sol.densities[0].project(mf.DG(mesh, 1)), [0, 1])
    write_density_series(tmp_path / "eul", eul.t, eul.densities)
    assert pv.read(tmp_path / "eul" / "density_0001.vtu").n_cells == mesh.n_cells
    with pytest.raises(ValueError, match="same length"):
        write_density_series(tmp_path / "bad", [0.0], sol.densities)
