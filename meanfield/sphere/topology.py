r"""Mesh topology (facets and their two cells) and exact curved cell measures."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["MeshTopology", "spherical_areas", "topology"]


def spherical_areas(points: np.ndarray, cells: np.ndarray) -> np.ndarray:
    r"""Exact signed measure of each curved cell.

    On :math:`S^2` the Van Oosterom–Strackee formula
    :math:`\tan(\Omega/2) = \det[a,b,c] / (1 + a\cdot b + b\cdot c + c\cdot a)`; on :math:`S^1`
    the arc angle :math:`\operatorname{atan2}(\det[a,b], a\cdot b)`.

    Parameters
    ----------
    points : ndarray, shape (n_vertices, d)
        Unit vectors, d = 2 or 3.
    cells : ndarray, shape (n_cells, d)

    Returns
    -------
    areas : ndarray, shape (n_cells,)
        Positive for counterclockwise cells.
    """
    v = points[cells]
    if points.shape[1] == 2:
        a, b = v[:, 0], v[:, 1]
        return np.arctan2(a[:, 0] * b[:, 1] - a[:, 1] * b[:, 0], np.sum(a * b, axis=1))
    a, b, c = v[:, 0], v[:, 1], v[:, 2]
    det = np.einsum("ij,ij->i", a, np.cross(b, c))
    den = 1.0 + np.sum(a * b, 1) + np.sum(b * c, 1) + np.sum(c * a, 1)
    return 2.0 * np.arctan2(det, den)


@dataclass(frozen=True)
class MeshTopology:
    """Facets (edges on :math:`S^2`, vertices on :math:`S^1`) and their two cells.

    Attributes
    ----------
    facets : ndarray, shape (n_facets, d - 1)
        Vertex indices; an edge is listed in the direction its *left* cell runs it.
    cells : ndarray, shape (n_facets, 2)
        ``[left, right]`` cells. The facet normal is outward for the left cell.
    local : ndarray, shape (n_facets, 2)
        Local facet index in each cell: on :math:`S^2` edge ``l`` of a cell runs from its
        vertex ``l`` to vertex ``(l + 1) % 3``; on :math:`S^1` facet ``l`` is vertex ``l``
        (the left cell ends at the facet, ``l = 1``; the right cell starts there, ``l = 0``).
    """

    facets: np.ndarray
    cells: np.ndarray
    local: np.ndarray


def topology(c, d) -> MeshTopology:
    n = c.shape[0]
    if d == 2:
        # Facet = vertex; left cell ends there (local 1), right cell starts there (local 0).
        order = np.argsort(c[:, 0])
        starts = np.empty(c.max() + 1, dtype=np.int64)
        starts[c[order, 0]] = order
        ends = np.arange(n)
        verts = c[:, 1]
        right = starts[verts]
        return MeshTopology(
            facets=verts[:, None].copy(),
            cells=np.column_stack([ends, right]),
            local=np.column_stack([np.ones(n, np.int64), np.zeros(n, np.int64)]),
        )
    directed = np.concatenate([c[:, [0, 1]], c[:, [1, 2]], c[:, [2, 0]]])
    owner = np.tile(np.arange(n), 3)
    local = np.repeat(np.arange(3), n)
    keys = np.sort(directed, axis=1)
    order = np.lexsort((owner, keys[:, 1], keys[:, 0]))
    first, second = order[0::2], order[1::2]
    return MeshTopology(
        facets=directed[first],
        cells=np.column_stack([owner[first], owner[second]]),
        local=np.column_stack([local[first], local[second]]),
    )
