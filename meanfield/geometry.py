r"""Curved cell geometry and quadrature on :math:`S^1` and :math:`S^2`.

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

from dataclasses import dataclass

import basix
import numpy as np
from scipy.spatial import cKDTree

from .mesh import SphereMesh

__all__ = [
    "CellQuadrature",
    "FacetQuadrature",
    "PointLocator",
    "cell_quadrature",
    "curved_map",
    "facet_quadrature",
    "facet_reference_points",
    "reference_cell",
    "surface_gradients",
]


def reference_cell(mesh: SphereMesh) -> basix.CellType:
    """The basix reference cell of the mesh: interval on S^1, triangle on S^2."""
    return basix.CellType.interval if mesh.dim == 2 else basix.CellType.triangle


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


@dataclass(frozen=True)
class CellQuadrature:
    """Volume quadrature of every curved cell.

    Attributes
    ----------
    reference_points : ndarray, shape (nq, t)
    reference_weights : ndarray, shape (nq,)
    points : ndarray, shape (n_cells, nq, d)
    jacobians : ndarray, shape (n_cells, nq, d, t)
    weights : ndarray, shape (n_cells, nq)
        Physical weights, summing to each cell's exact area.
    """

    reference_points: np.ndarray
    reference_weights: np.ndarray
    points: np.ndarray
    jacobians: np.ndarray
    weights: np.ndarray


def cell_quadrature(mesh: SphereMesh, degree: int) -> CellQuadrature:
    """Quadrature of the exact curved cells from basix's rule of the given degree."""
    xi, w = basix.make_quadrature(reference_cell(mesh), int(degree))
    x, J = curved_map(mesh.points[mesh.cells], xi)
    W = w * metric_determinant(J)
    W *= (mesh.areas / W.sum(axis=1))[:, None]
    return CellQuadrature(xi, w, x, J, W)


def facet_reference_points(tdim: int, s: np.ndarray) -> np.ndarray:
    """Reference points of each local facet at parameters ``s``.

    Parameters
    ----------
    tdim : int
        1 (interval: facets are its two vertices, ``s`` ignored) or 2 (triangle).
    s : ndarray, shape (nqf,)
        Parameters along a local edge, from its first to its second vertex.

    Returns
    -------
    ndarray, shape (tdim + 1, nqf, tdim)
        On the triangle, local edge ``l`` runs from vertex ``l`` to vertex ``(l + 1) % 3``.
    """
    X = reference_vertices(tdim)
    if tdim == 1:
        return X[:, None, :]
    a, b = X, np.roll(X, -1, axis=0)
    return a[:, None, :] + s[None, :, None] * (b - a)[:, None, :]


@dataclass(frozen=True)
class FacetQuadrature:
    """Quadrature on every facet (arc edge on S^2, vertex on S^1), each facet once.

    Attributes
    ----------
    parameters : ndarray, shape (nqf,)
        Reference parameters along an edge, from the facet's first to its second vertex
        (``[0.0]`` on S^1).
    points : ndarray, shape (n_facets, nqf, d)
    weights : ndarray, shape (n_facets, nqf)
        Arc-length weights (summing to the exact arc length); ones on S^1.
    normals : ndarray, shape (n_facets, d)
        Constant unit co-normal, outward for the left cell of ``mesh.topology``.
    """

    parameters: np.ndarray
    points: np.ndarray
    weights: np.ndarray
    normals: np.ndarray


def facet_quadrature(mesh: SphereMesh, degree: int) -> FacetQuadrature:
    """Gauss quadrature (from basix) on the great-circle arcs, or the vertices on S^1."""
    f = mesh.topology.facets
    if mesh.dim == 2:
        v = mesh.points[f[:, 0]]
        normals = np.column_stack([-v[:, 1], v[:, 0]])  # left cell ends here: outward = ccw
        return FacetQuadrature(np.zeros(1), v[:, None, :], np.ones((len(f), 1)), normals)
    s, w = basix.make_quadrature(basix.CellType.interval, int(degree))
    s = s[:, 0]
    a, b = mesh.points[f[:, 0]], mesh.points[f[:, 1]]
    F = a[:, None] + s[None, :, None] * (b - a)[:, None]
    r = np.linalg.norm(F, axis=-1)
    x = F / r[..., None]
    tangent = (b - a)[:, None] - x * np.sum(x * (b - a)[:, None], -1, keepdims=True)
    W = w * np.linalg.norm(tangent, axis=-1) / r
    W *= (mesh.facet_lengths / W.sum(axis=1))[:, None]
    m = np.cross(a, b)
    normals = -m / np.linalg.norm(m, axis=1, keepdims=True)
    return FacetQuadrature(s, x, W, normals)


class PointLocator:
    r"""Find the cell holding each point, and its reference coordinates.

    A point x lies in the curved cell with vertex matrix :math:`V = [v_0 \dots v_t]` exactly
    when :math:`\lambda = V^{-1} x \ge 0`; then :math:`\xi = \lambda_{1:}/\sum\lambda` inverts
    the radial map exactly. Candidates come from a k-d tree of cell centres; points not found
    among them are searched over all cells.
    """

    def __init__(self, mesh: SphereMesh, candidates: int = 12):
        self.mesh = mesh
        V = np.swapaxes(mesh.points[mesh.cells], 1, 2)  # columns are vertices
        self._inv = np.linalg.inv(V)
        centres = mesh.points[mesh.cells].sum(axis=1)
        self._tree = cKDTree(centres / np.linalg.norm(centres, axis=1, keepdims=True))
        self._k = min(candidates, mesh.n_cells)

    def _lambda(self, cells, x):
        return np.einsum("...ij,...j->...i", self._inv[cells], x)

    def locate(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Cells (m,) and reference coordinates (m, t) of unit points ``x`` (m, d)."""
        _, cand = self._tree.query(x, k=self._k)
        cand = cand.reshape(len(x), -1)
        lam = self._lambda(cand, x[:, None, :])
        score = lam.min(axis=-1)
        best = np.argmax(score, axis=1)
        rows = np.arange(len(x))
        cells = cand[rows, best]
        lam = lam[rows, best]
        missing = np.flatnonzero(score[rows, best] < -1e-12)
        if missing.size:
            cells[missing], lam[missing] = self._search_all(x[missing])
        xi = lam[:, 1:] / lam.sum(axis=1, keepdims=True)
        return cells, xi

    def _search_all(self, x, chunk: int = 1 << 18):
        n = self.mesh.n_cells
        cells = np.empty(len(x), dtype=np.int64)
        lam = np.empty((len(x), self.mesh.dim))
        step = max(1, chunk // n)
        all_cells = np.arange(n)
        for i in range(0, len(x), step):
            block = x[i : i + step]
            L = self._lambda(all_cells[None, :], block[:, None, :])
            k = np.argmax(L.min(axis=-1), axis=1)
            cells[i : i + step] = k
            lam[i : i + step] = L[np.arange(len(block)), k]
        return cells, lam
