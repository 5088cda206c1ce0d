r"""The moved mesh of a flow-map density as VTK pieces (quadratic cells, per-cell node copies).

Every moved cell is written as a VTK quadratic cell through its six (S^2) or three (S^1) P2
nodes, so ParaView draws the curved images of the cells; every cell has its own copies of its
nodes, carrying :math:`\rho_0(\xi)/J^{geo}_t(\xi)` there, so the values stay discontinuous
across cells as they are.
"""

from __future__ import annotations

import numpy as np

from ..sphere.geometry import metric_determinant

__all__ = ["flow_map_pieces", "VTK_QUADRATIC_EDGE", "VTK_QUADRATIC_TRIANGLE"]

#: VTK cell types of the moved cells.
VTK_QUADRATIC_EDGE, VTK_QUADRATIC_TRIANGLE = 21, 22
#: basix P2 node order -> VTK's (corners, then the midpoints of edges 01, 12, 20).
_VTK_ORDER = {1: [0, 1, 2], 2: [0, 1, 2, 5, 3, 4]}


def flow_map_pieces(density):
    """Points, cells, cell type, point values and cell data of the moved mesh.

    Parameters
    ----------
    density : FlowMapDensity

    Returns
    -------
    points : ndarray, shape (n_cells * nn, 3)
        Node copies, cell by cell (S^1 in the plane z = 0; a zonal mesh's meridian in the
        (x_1, x_d) plane, with line densities as values, as :mod:`meanfield.eulerian.pieces`).
    cells : ndarray of int, shape (n_cells, nn)
    cell_type : int
        :data:`VTK_QUADRATIC_EDGE` or :data:`VTK_QUADRATIC_TRIANGLE`.
    values : ndarray, shape (n_cells * nn,)
        Density at the node copies.
    cell_data : dict
        ``cell_mean``, ``mass``, ``distortion``, ``stretch`` (n_cells,) each.
    """
    st = density.state
    t = st.tdim
    order = _VTK_ORDER[t]
    xi = st.element.points[order]
    n = st.n_cells
    zonal = density.space.mesh.kind == "zonal"
    if zonal:  # node angles on the meridian, drawn in the (x_1, x_d) plane; values: g
        th = st.nodes[st.node_index[:, order]].ravel()
        pts = np.column_stack([np.sin(th), np.cos(th), np.zeros(th.size)])
    else:
        pts = st.nodes[st.node_index[:, order]].reshape(-1, st.dim)
    _, D1 = st.cell_maps(xi)
    _, D0 = st.cell_maps(xi, initial=True)
    every = np.arange(n)
    rho0 = st.rho0_at(every, st.origin_points(every, xi))
    values = rho0 * metric_determinant(D0) / metric_determinant(D1)
    if st.dim == 2 and not zonal:
        pts = np.column_stack([pts, np.zeros(pts.shape[0])])
    cells = np.arange(pts.shape[0]).reshape(n, len(order))
    kind = VTK_QUADRATIC_EDGE if t == 1 else VTK_QUADRATIC_TRIANGLE
    data = {
        "cell_mean": density.cell_means(),
        "mass": st.cell_masses(),
        "distortion": st.distortion(),
        "stretch": st.stretch(),
    }
    return pts, cells, kind, values.ravel(), data
