"""A DG density as discontinuous piecewise-linear pieces, for VTK files and pyvista renders."""

from __future__ import annotations

import numpy as np

from ..sphere.geometry import reference_vertices

__all__ = ["VTK_LINE", "VTK_TRIANGLE", "density_pieces"]

#: VTK cell types of the pieces of :func:`density_pieces`.
VTK_LINE, VTK_TRIANGLE = 3, 5


def density_pieces(density):
    r"""A DG density as a discontinuous piecewise-linear field for VTK and pyvista.

    Every cell gets its own copies of its vertices, carrying the cell's polynomial at that
    vertex, so jumps between cells stay visible (ParaView draws them as they are). Cells are
    drawn flat (chords of the curved cells); S^1 meshes are placed in the plane z = 0, zonal
    meshes as their meridian in the plane of (x_1, x_d), carrying the line density of the polar
    angle.

    Parameters
    ----------
    density : Density

    Returns
    -------
    points : ndarray, shape (n_cells * (t + 1), 3)
    cells : ndarray of int, shape (n_cells, t + 1)
    cell_type : int
        ``VTK_LINE`` on S^1, ``VTK_TRIANGLE`` on S^2.
    values : ndarray, shape (n_cells * (t + 1),)
        Density at each cell's vertices.
    """
    space = density.space
    mesh = space.mesh
    t = mesh.tdim
    points = np.asarray(mesh.points)[np.asarray(mesh.cells)].reshape(-1, mesh.dim)
    if mesh.kind == "zonal":  # the meridian in the (x_1, x_d) plane; values: the line density
        points = np.column_stack([points[:, 0], points[:, -1], np.zeros(points.shape[0])])
    elif mesh.dim == 2:
        points = np.column_stack([points, np.zeros(points.shape[0])])
    values = density.coefficients @ space.tabulate(reference_vertices(t)).T
    cells = np.arange(points.shape[0]).reshape(mesh.n_cells, t + 1)
    return points, cells, (VTK_LINE if t == 1 else VTK_TRIANGLE), values.ravel()
