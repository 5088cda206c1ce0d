r"""Quadrature on the curved cells and facets of a sphere mesh, and locating points in cells.

Reference rules come from :func:`basix.make_quadrature`. Physical weights of each cell (and each
edge) are scaled by :math:`1 + O(h^{q+1})` so that they sum to the cell's exact area (the edge's
exact arc length): constants are integrated exactly, and the areas of all cells sum to
:math:`4\pi` (:math:`2\pi` on :math:`S^1`) to round-off.
"""

from __future__ import annotations

from dataclasses import dataclass

import basix
import numpy as np
from scipy.spatial import cKDTree

from .geometry import cell_map, metric_determinant, reference_cell, reference_vertices
from .mesh import SphereMesh

__all__ = [
    "CellQuadrature",
    "FacetQuadrature",
    "PointLocator",
    "cell_quadrature",
    "facet_quadrature",
    "facet_reference_points",
]


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
    x, J = cell_map(mesh, xi)
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
    if mesh.kind == "zonal":  # point facets on the meridian, none through the poles
        x, weights, normals = mesh.facet_data()
        return FacetQuadrature(np.zeros(1), x[:, None, :], weights[:, None], normals)
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
