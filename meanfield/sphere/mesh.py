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

from pathlib import Path

import numpy as np

from .topology import spherical_areas, topology
from .validate import validate

__all__ = ["FAMILIES", "SphereMesh"]

#: Constructors of the mesh families that live in their own modules, by name (filled when
#: :mod:`meanfield.sphere.zonal` is imported, which ``meanfield.sphere`` always does).
FAMILIES: dict = {}


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
        self.points, self.cells = validate(points, cells)
        self.points.flags.writeable = False
        self.cells.flags.writeable = False
        self.topology = topology(self.cells, self.dim)
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
        from .._checks import as_int

        n = as_int(n, "n", min_value=3)
        theta = 2.0 * np.pi * np.arange(n) / n
        points = np.column_stack([np.cos(theta), np.sin(theta)])
        k = np.arange(n)
        return cls.from_arrays(points, np.column_stack([k, (k + 1) % n]))

    @classmethod
    def icosphere(cls, level=0) -> SphereMesh:
        """Icosahedron refined ``level`` times (20 * 4**level triangles), 0 <= level <= 8."""
        from .._checks import as_int

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
        coordinate is zero is read as a circle mesh. The file is parsed in a child process
        (:func:`meanfield.sphere.meshfile.read_arrays`), so a damaged file that crashes VTK's
        reader is a ``ValueError`` naming it, not a crash of this process.
        """
        from .meshfile import read_arrays

        points, cells = read_arrays(path)
        try:
            return cls.from_arrays(points, cells)
        except ValueError as exc:
            raise ValueError(f"path {str(path)!r}: {exc}") from None

    @classmethod
    def zonal(cls, d, cells) -> SphereMesh:
        r"""The polar-angle interval of :math:`S^{d-1}` (axis e_d) for zonal densities.

        Parameters
        ----------
        d : int
            Ambient dimension, d >= 2 (up to :data:`meanfield.sphere.zonal.D_MAX`).
        cells : int or array_like
            Number of uniform cells in the polar angle :math:`[0, \pi]`, or increasing
            breakpoints from 0 to :math:`\pi` (e.g. refined near the poles).

        Returns
        -------
        ZonalMesh
            See :mod:`meanfield.sphere.zonal` (the DG unknown on it is the line density of
            the polar angle; points are returned on the meridian in :math:`\mathbb{R}^d`).
        """
        return FAMILIES["zonal"](d, cells)

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

    # ------------------------------------------------------------------ geometry hooks
    @property
    def kind(self) -> str:
        """Mesh family: "circle", "sphere", or "zonal" (:mod:`meanfield.sphere.zonal`)."""
        return "circle" if self.dim == 2 else "sphere"

    @property
    def tdim(self) -> int:
        """Dimension of the cells (1 on S^1, 2 on S^2)."""
        return self.dim - 1

    def log_weight(self, points: np.ndarray) -> np.ndarray:
        """Log of the factor from a sphere density to the density the DG space holds: zeros
        (the cell measure is the surface measure; a zonal mesh overrides this)."""
        return np.zeros(len(points))

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


# ---------------------------------------------------------------------- validation
