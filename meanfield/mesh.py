r"""Simplicial meshes of the unit circle :math:`S^1` and the unit sphere :math:`S^2`.

A :class:`SphereMesh` holds vertices on the unit sphere and cells (intervals on :math:`S^1`,
triangles on :math:`S^2`). Each cell stands for the radial projection of its flat simplex, so
edges are great-circle arcs. Every constructor validates the mesh: a closed, 2-manifold (each
edge in exactly two cells; each vertex in two cells on :math:`S^1`), consistently and outwardly
oriented (a mesh that is inward everywhere is flipped), one sheet covering the sphere once, no
degenerate, duplicate or coincident cells or vertices. Each failure is a ``ValueError`` that
names the cell, edge or vertex and what is wrong with it.

Orientation convention: seen from outside, triangle vertices run counterclockwise, i.e.
:math:`\det[a, b, c] > 0`; on the circle a cell ``(a, b)`` runs counterclockwise,
:math:`\det[a, b] > 0`.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy.spatial import cKDTree

__all__ = ["SphereMesh", "MeshTopology", "spherical_areas"]

#: Vertices farther than this from the unit sphere are projected with a warning.
PROJECTION_WARN = 1e-6
#: Cells whose sine of the smallest corner angle is below this are degenerate.
DEGENERATE_SINE = 1e-10
#: Vertices closer than this (after projection) coincide.
COINCIDENT = 1e-12
#: Allowed relative deviation of the total cell area from the sphere's.
COVERAGE_TOL = 1e-8
_MAX_LISTED = 5


def _listing(ids) -> str:
    ids = [int(i) for i in np.ravel(ids)]
    more = f" and {len(ids) - _MAX_LISTED} more" if len(ids) > _MAX_LISTED else ""
    return ", ".join(map(str, ids[:_MAX_LISTED])) + more


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


class SphereMesh:
    r"""A validated simplicial mesh of :math:`S^1` (d = 2) or :math:`S^2` (d = 3).

    Build one with :meth:`circle`, :meth:`icosphere`, :meth:`read` or :meth:`from_arrays`
    (the same as ``SphereMesh(points, cells)``).

    Attributes
    ----------
    points : ndarray, shape (n_vertices, d)
        Vertices on the unit sphere.
    cells : ndarray, shape (n_cells, d)
        Counterclockwise (outward) vertex indices.
    topology : MeshTopology
        Facets and their neighbouring cells.
    areas : ndarray, shape (n_cells,)
        Exact measure of each curved cell (sums to :math:`4\pi`, or :math:`2\pi` on S^1).
    """

    def __init__(self, points, cells):
        self.points, self.cells = _validate(points, cells)
        self.points.flags.writeable = False
        self.cells.flags.writeable = False
        self.topology = _topology(self.cells, self.dim)
        self.areas = spherical_areas(self.points, self.cells)

    # ------------------------------------------------------------------ constructors
    @classmethod
    def from_arrays(cls, points, cells) -> SphereMesh:
        """Validate vertices and cells and build the mesh.

        Parameters
        ----------
        points : array_like, shape (n_vertices, d)
            d = 2 (circle) or 3 (sphere). Points off the unit sphere are projected radially
            (with a warning when they were farther than 1e-6 from it).
        cells : array_like of int, shape (n_cells, d)
            Intervals (d = 2) or triangles (d = 3). If every cell is clockwise seen from
            outside, all are flipped.

        Raises
        ------
        ValueError
            Naming the offending vertex, cell or edge and what is wrong.
        """
        return cls(points, cells)

    @classmethod
    def circle(cls, n) -> SphereMesh:
        """Uniform mesh of :math:`S^1` with ``n >= 3`` equal arcs, the first vertex at (1, 0)."""
        from ._checks import as_int

        n = as_int(n, "n", min_value=3)
        theta = 2.0 * np.pi * np.arange(n) / n
        points = np.column_stack([np.cos(theta), np.sin(theta)])
        k = np.arange(n)
        return cls.from_arrays(points, np.column_stack([k, (k + 1) % n]))

    @classmethod
    def icosphere(cls, level=0) -> SphereMesh:
        """Icosahedron refined ``level`` times (20 * 4**level triangles), 0 <= level <= 8."""
        from ._checks import as_int

        level = as_int(level, "level", min_value=0)
        if level > 8:
            raise ValueError(f"level must be <= 8 (1.3 million triangles), got {level}")
        mesh = cls.from_arrays(*_icosahedron())
        for _ in range(level):
            mesh = mesh.refine()
        return mesh

    @classmethod
    def read(cls, path) -> SphereMesh:
        """Read a surface (triangles) or circle (line segments) with :func:`pyvista.read`.

        Any format pyvista reads works (.vtu, .vtk, .vtp, .ply, .stl, .obj, ...). Polygons with
        more than three vertices are split into triangles; a file holding only lines whose third
        coordinate is zero is read as a circle mesh.
        """
        import pyvista as pv

        path = Path(path)
        if not path.is_file():
            raise ValueError(f"path must be an existing mesh file, got {str(path)!r}")
        try:
            data = pv.read(path)
        except Exception as err:  # pyvista raises many types for unreadable files
            raise ValueError(f"path {str(path)!r} could not be read by pyvista: {err}") from None
        return cls.from_arrays(*_arrays_from_pyvista(data, path))

    # ------------------------------------------------------------------ operations
    def refine(self) -> SphereMesh:
        """Split every cell at its projected arc midpoints (2 intervals, or 4 triangles)."""
        if self.dim == 2:
            return self._refine_circle()
        cells = self.cells
        directed = np.concatenate([cells[:, [0, 1]], cells[:, [1, 2]], cells[:, [2, 0]]])
        keys = np.sort(directed, axis=1)
        uniq, inv = np.unique(keys, axis=0, return_inverse=True)
        mid = self.points[uniq[:, 0]] + self.points[uniq[:, 1]]
        mid /= np.linalg.norm(mid, axis=1, keepdims=True)
        m = (self.n_vertices + inv.reshape(3, -1)).T  # midpoints of edges 01, 12, 20
        a, b, c = cells.T
        new = np.concatenate(
            [
                np.column_stack([a, m[:, 0], m[:, 2]]),
                np.column_stack([m[:, 0], b, m[:, 1]]),
                np.column_stack([m[:, 2], m[:, 1], c]),
                np.column_stack([m[:, 0], m[:, 1], m[:, 2]]),
            ]
        )
        return SphereMesh.from_arrays(np.vstack([self.points, mid]), new)

    def _refine_circle(self) -> SphereMesh:
        a, b = self.cells.T
        mid = self.points[a] + self.points[b]
        mid /= np.linalg.norm(mid, axis=1, keepdims=True)
        m = self.n_vertices + np.arange(self.n_cells)
        cells = np.concatenate([np.column_stack([a, m]), np.column_stack([m, b])])
        return SphereMesh.from_arrays(np.vstack([self.points, mid]), cells)

    def to_pyvista(self):
        """The mesh as a :class:`pyvista.PolyData` (circle meshes get z = 0 and line cells)."""
        import pyvista as pv

        if self.dim == 2:
            pts = np.column_stack([self.points, np.zeros(self.n_vertices)])
            lines = np.column_stack([np.full(self.n_cells, 2), self.cells]).ravel()
            return pv.PolyData(pts, lines=lines)
        faces = np.column_stack([np.full(self.n_cells, 3), self.cells]).ravel()
        return pv.PolyData(np.array(self.points), faces=faces)

    def save(self, path) -> None:
        """Write the mesh with pyvista; the format follows the file extension."""
        mesh = self.to_pyvista()
        if Path(path).suffix.lower() == ".vtu":
            mesh = mesh.cast_to_unstructured_grid()
        mesh.save(str(path))

    # ------------------------------------------------------------------ properties
    @property
    def dim(self) -> int:
        """Ambient dimension d (2 for the circle, 3 for the sphere)."""
        return self.points.shape[1]

    @property
    def n_cells(self) -> int:
        return self.cells.shape[0]

    @property
    def n_vertices(self) -> int:
        return self.points.shape[0]

    @property
    def n_facets(self) -> int:
        return self.topology.facets.shape[0]

    @property
    def facet_lengths(self) -> np.ndarray:
        """Arc length of each edge (ones on S^1, where facets are points), shape (n_facets,)."""
        if self.dim == 2:
            return np.ones(self.n_facets)
        a, b = (self.points[self.topology.facets[:, k]] for k in (0, 1))
        return np.arctan2(np.linalg.norm(np.cross(a, b), axis=1), np.sum(a * b, axis=1))

    @property
    def h(self) -> np.ndarray:
        r"""Cell size :math:`h_K = 2\,\dim K\,|K| / |\partial K|`, shape (n_cells,).

        The arc length on :math:`S^1` (where :math:`|\partial K| = 2` points); twice the
        inscribed radius of a triangle on :math:`S^2`. It is the length the CFL condition uses.
        """
        t = self.dim - 1
        if t == 1:
            return self.areas.copy()
        perimeter = np.zeros(self.n_cells)
        lengths = self.facet_lengths
        np.add.at(perimeter, self.topology.cells[:, 0], lengths)
        np.add.at(perimeter, self.topology.cells[:, 1], lengths)
        return 2.0 * t * self.areas / perimeter

    @property
    def resolution(self) -> float:
        r"""Equivalent resolution :math:`\sqrt{4\pi / n_{cells}}` (:math:`2\pi / n` on S^1)."""
        if self.dim == 2:
            return 2.0 * np.pi / self.n_cells
        return float(np.sqrt(4.0 * np.pi / self.n_cells))

    def __repr__(self) -> str:
        kind = "S^1" if self.dim == 2 else "S^2"
        return f"SphereMesh({kind}, n_vertices={self.n_vertices}, n_cells={self.n_cells})"


# ---------------------------------------------------------------------- construction helpers
def _icosahedron():
    g = (1.0 + np.sqrt(5.0)) / 2.0
    p = np.array(
        [
            [-1, g, 0],
            [1, g, 0],
            [-1, -g, 0],
            [1, -g, 0],
            [0, -1, g],
            [0, 1, g],
            [0, -1, -g],
            [0, 1, -g],
            [g, 0, -1],
            [g, 0, 1],
            [-g, 0, -1],
            [-g, 0, 1],
        ],
        dtype=float,
    )
    p /= np.linalg.norm(p, axis=1, keepdims=True)
    c = np.array(
        [
            [0, 11, 5],
            [0, 5, 1],
            [0, 1, 7],
            [0, 7, 10],
            [0, 10, 11],
            [1, 5, 9],
            [5, 11, 4],
            [11, 10, 2],
            [10, 7, 6],
            [7, 1, 8],
            [3, 9, 4],
            [3, 4, 2],
            [3, 2, 6],
            [3, 6, 8],
            [3, 8, 9],
            [4, 9, 5],
            [2, 4, 11],
            [6, 2, 10],
            [8, 6, 7],
            [9, 8, 1],
        ]
    )
    return p, c


def _arrays_from_pyvista(data, path):
    grid = data.cast_to_unstructured_grid()
    blocks = {int(k): np.asarray(v) for k, v in grid.cells_dict.items()}
    points = np.asarray(grid.points, dtype=float)
    triangles, lines = [], []
    for kind, conn in blocks.items():
        if kind == 5:  # VTK_TRIANGLE
            triangles.append(conn)
        elif kind in (7, 9):  # VTK_POLYGON, VTK_QUAD: fan-triangulate
            for j in range(1, conn.shape[1] - 1):
                triangles.append(conn[:, [0, j, j + 1]])
        elif kind == 3:  # VTK_LINE
            lines.append(conn)
        elif kind == 1:  # VTK_VERTEX: ignore point cells
            continue
        else:
            raise ValueError(
                f"path {str(path)!r} holds cells of VTK type {kind}; expected triangles "
                "(a sphere) or line segments (a circle)"
            )
    if triangles and lines:
        raise ValueError(f"path {str(path)!r} mixes triangles and lines; expected one kind")
    if triangles:
        return points, np.concatenate(triangles)
    if lines:
        if points.shape[1] == 3 and np.any(points[:, 2] != 0):
            raise ValueError(
                f"path {str(path)!r} holds lines with z != 0; a circle mesh must lie in z = 0"
            )
        return points[:, :2], np.concatenate(lines)
    raise ValueError(f"path {str(path)!r} holds no triangles or line segments")


# ---------------------------------------------------------------------- validation
def _validate(points, cells):
    p = _check_points(points)
    c = _check_cells(cells, p.shape)
    _check_distinct(p, c)
    if p.shape[1] == 3:
        _check_edges_manifold(c)
    else:
        _check_vertices_manifold(c, p.shape[0])
    c = _orient(p, c)
    _check_consistent(c, p.shape[1])
    used = np.zeros(p.shape[0], bool)
    used[c.ravel()] = True
    if not used.all():
        raise ValueError(
            f"points: vertex {_listing(np.flatnonzero(~used))} belongs to no cell; "
            "remove unused vertices"
        )
    _check_sheet(p, c)
    return p, c


def _check_points(points) -> np.ndarray:
    try:
        p = np.array(points, dtype=float)
    except (TypeError, ValueError):
        raise ValueError(f"points must be a real array, got {type(points).__name__}") from None
    if p.ndim != 2 or p.shape[1] not in (2, 3):
        raise ValueError(
            f"points must have shape (n_vertices, 2) for S^1 or (n_vertices, 3) for S^2, "
            f"got shape {p.shape}"
        )
    bad = np.flatnonzero(~np.all(np.isfinite(p), axis=1))
    if bad.size:
        raise ValueError(
            f"points: vertex {bad[0]} has non-finite coordinates {p[bad[0]].tolist()} "
            f"({bad.size} such vertices)"
        )
    r = np.linalg.norm(p, axis=1)
    if np.any(r == 0):
        raise ValueError(
            f"points: vertex {int(np.argmin(r))} is the origin; it cannot be projected on "
            "the sphere"
        )
    off = np.abs(r - 1.0)
    if off.max() > PROJECTION_WARN:
        warnings.warn(
            f"points: {int(np.sum(off > PROJECTION_WARN))} vertices were off the unit sphere "
            f"(largest | |x| - 1 | = {off.max():.3g}); projected radially",
            stacklevel=4,
        )
    return p / r[:, None]


def _check_cells(cells, shape) -> np.ndarray:
    n_vertices, d = shape
    raw = np.asarray(cells)
    if raw.dtype.kind not in "iu":
        if raw.dtype.kind == "f" and raw.size and np.all(raw == np.round(raw)):
            raw = raw.astype(np.int64)
        else:
            raise ValueError(f"cells must be an integer array, got dtype {raw.dtype}")
    kind = "intervals (n_cells, 2)" if d == 2 else "triangles (n_cells, 3)"
    if raw.ndim != 2 or raw.shape[1] != d or raw.shape[0] == 0:
        raise ValueError(
            f"cells must be {kind} to match points of dimension {d}, got shape {raw.shape}"
        )
    c = raw.astype(np.int64)
    bad = np.flatnonzero(np.any((c < 0) | (c >= n_vertices), axis=1))
    if bad.size:
        raise ValueError(
            f"cells: cell {bad[0]} = {c[bad[0]].tolist()} refers to a vertex outside "
            f"0..{n_vertices - 1}"
        )
    s = np.sort(c, axis=1)
    rep = np.flatnonzero(np.any(s[:, 1:] == s[:, :-1], axis=1))
    if rep.size:
        raise ValueError(
            f"cells: cell {rep[0]} = {c[rep[0]].tolist()} repeats a vertex (degenerate cell)"
        )
    _, first, counts = np.unique(s, axis=0, return_index=True, return_counts=True)
    if np.any(counts > 1):
        key = s[first[np.argmax(counts > 1)]]
        dup = np.flatnonzero(np.all(s == key, axis=1))
        raise ValueError(
            f"cells: cells {_listing(dup)} are duplicates (the same vertices {key.tolist()})"
        )
    return c


def _check_distinct(p, c):
    pairs = cKDTree(p).query_pairs(COINCIDENT, output_type="ndarray")
    if len(pairs):
        i, j = pairs[0]
        raise ValueError(
            f"points: vertices {i} and {j} coincide at {p[i].round(12).tolist()}; "
            "merge them (a mesh with duplicated vertices is not closed)"
        )
    v = p[c]
    if p.shape[1] == 2:
        sine = np.abs(v[:, 0, 0] * v[:, 1, 1] - v[:, 0, 1] * v[:, 1, 0])
        bad = np.flatnonzero((sine < DEGENERATE_SINE) & (np.sum(v[:, 0] * v[:, 1], 1) < 0))
        if bad.size:
            raise ValueError(
                f"cells: cell {bad[0]} = {c[bad[0]].tolist()} joins antipodal vertices; "
                "the arc between them is ambiguous"
            )
        return
    e = np.stack([v[:, 1] - v[:, 0], v[:, 2] - v[:, 1], v[:, 0] - v[:, 2]], axis=1)
    le = np.linalg.norm(e, axis=2)
    det = np.einsum("ij,ij->i", v[:, 0], np.cross(v[:, 1], v[:, 2]))
    sine = np.abs(det) / np.max(le[:, [0, 1, 2]] * le[:, [1, 2, 0]], axis=1)
    bad = np.flatnonzero(sine < DEGENERATE_SINE)
    if bad.size:
        raise ValueError(
            f"cells: cell {bad[0]} = {c[bad[0]].tolist()} is degenerate (its vertices lie on "
            f"one great circle; sine of its flattest angle {sine[bad[0]]:.2g})"
        )


def _check_edges_manifold(c):
    directed = np.concatenate([c[:, [0, 1]], c[:, [1, 2]], c[:, [2, 0]]])
    owner = np.tile(np.arange(c.shape[0]), 3)
    keys = np.sort(directed, axis=1)
    uniq, inv, counts = np.unique(keys, axis=0, return_inverse=True, return_counts=True)
    inv = inv.ravel()
    for test, what in ((counts > 2, "non-manifold"), (counts < 2, "boundary")):
        bad = np.flatnonzero(test)
        if not bad.size:
            continue
        k = bad[0]
        in_cells = owner[inv == k]
        edge = tuple(int(x) for x in uniq[k])
        if what == "non-manifold":
            raise ValueError(
                f"cells: non-manifold edge {edge} is shared by {counts[k]} cells "
                f"({_listing(in_cells)}); each edge must belong to exactly two cells"
            )
        raise ValueError(
            f"cells: the mesh is not closed: edge {edge} belongs to one cell only "
            f"(cell {in_cells[0]}); {bad.size} boundary edges in all (a hemisphere or a hole?)"
        )


def _check_vertices_manifold(c, n_vertices):
    counts = np.bincount(c.ravel(), minlength=n_vertices)
    bad = np.flatnonzero(counts > 2)
    if bad.size:
        cells = np.flatnonzero(np.any(c == bad[0], axis=1))
        raise ValueError(
            f"cells: non-manifold vertex {bad[0]} is in {counts[bad[0]]} cells "
            f"({_listing(cells)}); on S^1 each vertex must end one cell and start the next"
        )
    bad = np.flatnonzero(counts == 1)
    if bad.size:
        cell = int(np.flatnonzero(np.any(c == bad[0], axis=1))[0])
        raise ValueError(
            f"cells: the mesh is not closed: vertex {bad[0]} is in one cell only (cell "
            f"{cell}); {bad.size} open ends in all (an arc, not the whole circle?)"
        )


def _orientation(p, c) -> np.ndarray:
    v = p[c]
    if p.shape[1] == 2:
        return v[:, 0, 0] * v[:, 1, 1] - v[:, 0, 1] * v[:, 1, 0]
    return np.einsum("ij,ij->i", v[:, 0], np.cross(v[:, 1], v[:, 2]))


def _orient(p, c):
    det = _orientation(p, c)
    neg = det < 0
    if neg.all():
        return c[:, ::-1].copy()
    if neg.any():
        minority = np.flatnonzero(neg) if neg.sum() <= (~neg).sum() else np.flatnonzero(~neg)
        way = "clockwise" if neg.sum() <= (~neg).sum() else "counterclockwise"
        which = f"cell {minority[0]} is" if minority.size == 1 else "cells are"
        raise ValueError(
            f"cells: {which} flipped: its vertices run {way} seen from outside, unlike the "
            f"other {c.shape[0] - minority.size} cells (flipped: {_listing(minority)})"
        )
    return c


def _check_consistent(c, d):
    top = _topology(c, d)
    if d == 2:
        return
    f, cells = top.facets, top.cells
    right = c[cells[:, 1]]
    l = top.local[:, 1]
    start, end = right[np.arange(len(l)), l], right[np.arange(len(l)), (l + 1) % 3]
    bad = np.flatnonzero(~((start == f[:, 1]) & (end == f[:, 0])))
    if bad.size:
        k = bad[0]
        raise ValueError(
            f"cells: cells {cells[k, 0]} and {cells[k, 1]} run edge {tuple(f[k].tolist())} in "
            "the same direction: the orientation is inconsistent (a folded mesh?)"
        )


def _check_sheet(p, c):
    d = p.shape[1]
    if d == 3:
        n_edges = 3 * c.shape[0] // 2
        chi = p.shape[0] - n_edges + c.shape[0]
        if chi != 2:
            raise ValueError(
                f"cells: Euler characteristic V - E + F = {chi}, expected 2 for one sphere "
                "(several components, handles or a pinched vertex?)"
            )
    else:
        _check_single_cycle(c, p.shape[0])
    full = 4.0 * np.pi if d == 3 else 2.0 * np.pi
    total = spherical_areas(p, c).sum()
    if abs(total - full) > COVERAGE_TOL * full:
        raise ValueError(
            f"cells: total cell measure {total:.10g} differs from the sphere's {full:.10g}; "
            f"the cells cover it {total / full:.3g} times (overlapping or folded cells)"
        )


def _check_single_cycle(c, n_vertices):
    nxt = np.full(n_vertices, -1)
    nxt[c[:, 0]] = c[:, 1]
    if np.any(nxt[c[:, 0]] < 0) or len(np.unique(c[:, 0])) != c.shape[0]:
        raise ValueError("cells: the orientation is inconsistent: a vertex starts two cells")
    v, steps = c[0, 0], 0
    while True:
        v = nxt[v]
        steps += 1
        if v == c[0, 0] or steps > c.shape[0]:
            break
    if steps != c.shape[0]:
        raise ValueError(
            f"cells: the circle mesh has several loops (the one through vertex {c[0, 0]} "
            f"has {steps} of {c.shape[0]} cells)"
        )


def _topology(c, d) -> MeshTopology:
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
