r"""Curved cell geometry on :math:`S^1` and :math:`S^2`.

A cell with vertices :math:`v_0, \dots, v_t` (t = 1 on the circle, 2 on the sphere) is the image
of the reference simplex under the *exact* radial projection of its flat affine map,

.. math::
    F(\xi) = v_0 + \sum_k \xi_k (v_k - v_0), \qquad G(\xi) = F(\xi) / |F(\xi)|,

with Jacobian :math:`J = DG = (I - G G^T)\, DF / |F|` (shape d × t) and surface element
:math:`dS = \sqrt{\det J^T J}\, d\xi`. Edges are great-circle arcs; along the arc from a to b the
outward co-normal of the cell that runs it counterclockwise is the constant
:math:`-(a \times b)/|a \times b|`. On :math:`S^1` the facets are the vertices, with co-normal
± the unit tangent.

Reference quadrature rules come from :func:`basix.make_quadrature`. Physical weights of each cell
(and each edge) are scaled by :math:`1 + O(h^{q+1})` so that they sum to the cell's exact area
(the edge's exact arc length): constants are integrated exactly, and the areas of all cells sum
to :math:`4\pi` (:math:`2\pi` on :math:`S^1`) to round-off.
"""

from __future__ import annotations

import basix
import numpy as np

from .mesh import SphereMesh

__all__ = [
    "curved_map",
    "metric_determinant",
    "reference_cell",
    "reference_vertices",
    "surface_gradients",
]


def reference_cell(mesh: SphereMesh) -> basix.CellType:
    """The basix reference cell of the mesh: interval on S^1 and zonal meshes, triangle on S^2."""
    return basix.CellType.interval if mesh.tdim == 1 else basix.CellType.triangle


def cell_map(mesh: SphereMesh, xi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Points (n_cells, m, d) and Jacobians (n_cells, m, d, t) of reference points ``xi`` (m, t)
    in every cell: :func:`curved_map` on S^1/S^2, the mesh's own map on a zonal mesh."""
    if mesh.kind == "zonal":
        return mesh.reference_map(xi)
    return curved_map(mesh.points[mesh.cells], xi)


def reference_vertices(tdim: int) -> np.ndarray:
    """Vertices of basix's reference simplex, shape (tdim + 1, tdim)."""
    return np.vstack([np.zeros(tdim), np.eye(tdim)])


def curved_map(vertices: np.ndarray, xi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    r"""Points and Jacobians of the radially projected map of each cell.

    Parameters
    ----------
    vertices : ndarray, shape (n_cells, t + 1, d)
    xi : ndarray, shape (m, t)
        Reference points (the same for every cell).

    Returns
    -------
    x : ndarray, shape (n_cells, m, d)
        :math:`G(\xi)` on the unit sphere.
    J : ndarray, shape (n_cells, m, d, t)
        :math:`DG(\xi) = (I - G G^T) DF / |F|`.
    """
    v0 = vertices[:, 0]
    DF = np.swapaxes(vertices[:, 1:] - v0[:, None], 1, 2)  # (nc, d, t)
    F = v0[:, None] + np.einsum("kdt,mt->kmd", DF, xi)
    r = np.linalg.norm(F, axis=-1)
    x = F / r[..., None]
    xDF = np.einsum("kmd,kdt->kmt", x, DF)
    J = (DF[:, None] - x[..., None] * xDF[:, :, None, :]) / r[..., None, None]
    return x, J


def metric_determinant(J: np.ndarray) -> np.ndarray:
    r""":math:`\sqrt{\det J^T J}` for Jacobians of shape (..., d, t), t = 1 or 2."""
    g = np.einsum("...di,...dj->...ij", J, J)
    if J.shape[-1] == 1:
        return np.sqrt(g[..., 0, 0])
    return np.sqrt(g[..., 0, 0] * g[..., 1, 1] - g[..., 0, 1] * g[..., 1, 0])


def surface_gradients(J: np.ndarray, grad_ref: np.ndarray) -> np.ndarray:
    r"""Surface gradients :math:`\nabla_S\phi = J (J^T J)^{-1} \nabla_\xi \hat\phi`.

    Parameters
    ----------
    J : ndarray, shape (n_cells, m, d, t)
    grad_ref : ndarray, shape (m, n_basis, t)
        Reference gradients at the same m points.

    Returns
    -------
    ndarray, shape (n_cells, m, n_basis, d)
    """
    g = np.einsum("kmdi,kmdj->kmij", J, J)
    ginv = np.linalg.inv(g)
    return np.einsum("kmdi,kmij,mbj->kmbd", J, ginv, grad_ref)
