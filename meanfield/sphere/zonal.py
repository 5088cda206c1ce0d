r"""The zonal mesh: the polar-angle interval of :math:`S^{d-1}`, for densities of
:math:`\langle x, e\rangle`.

A density on :math:`S^{d-1}` that depends only on :math:`s = \langle x, e\rangle`, e = e_d, is a
function of the polar angle :math:`\theta = \arccos s \in [0, \pi]`. Writing
:math:`x = \cos\theta\, e + \sin\theta\, u`, :math:`u \in S^{d-2}`, the normalised surface
measure is

.. math::
    d\sigma_{d-1} = w_d(\theta)\, d\theta\, d\sigma_{d-2}(u), \qquad
    w_d(\theta) = c_d \sin^{d-2}\theta, \quad
    c_d = \frac{\Gamma(d/2)}{\sqrt\pi\, \Gamma((d-1)/2)}

(:math:`\sin^{d-2}\theta\,d\theta = (1-s^2)^{(d-3)/2} ds`). :class:`ZonalMesh` cuts
:math:`[0, \pi]` into intervals (uniform, or at breakpoints a user chooses, e.g. refined near
the poles). Its vertices and quadrature points are returned on the meridian
:math:`x(\theta) = (\sin\theta, 0, \dots, 0, \cos\theta) \in \mathbb{R}^d`, so functions of
points (m, d) work as on every mesh.

**The variable is the polar angle, not s.** In s the line density of an even density on the
circle (d = 2) is :math:`\propto (1-s^2)^{-1/2}`, singular at the poles, and the field
:math:`\dot s` vanishes like :math:`1 - s^2` there, so a cap collapsing to a pole is
out-resolved twice as fast in s as in :math:`\theta` (:math:`1 - s \approx \theta^2/2`). In
:math:`\theta` the line density of a smooth density is smooth for every d and
:math:`\dot\theta` vanishes only linearly.

**The DG unknown is the line density** :math:`g(\theta)` (mass per unit polar angle, the law of
:math:`\theta`), and the cell measure is :math:`d\theta`. The weight :math:`w_d` ranges over
:math:`10^{\pm 1000}` for d = 1024 (:math:`\sin^{1022}(0.3) \approx 10^{-540}`), so a sphere
density :math:`\rho = g / w_d` of a cap near a pole is not representable in float64, while g
is bounded by the mass over the cell size. The weight therefore enters only where sphere
densities meet the mesh: :meth:`log_weight` converts ``interpolate(f)`` (f a sphere density,
with respect to the normalised measure :math:`\sigma_{d-1}`) to g and ``evaluate`` back, in
logarithms. Total measure: the areas of the cells sum to 1 (probability normalisation), not to
:math:`|S^{d-1}|` (which underflows for d >= 345).
"""

from __future__ import annotations

import numpy as np
from scipy.special import gammaln

from .mesh import FAMILIES, SphereMesh
from .topology import MeshTopology

__all__ = ["ZonalMesh", "meridian", "meridian_tangent", "polar_angle"]

#: Largest ambient dimension (the reduction holds for any d; kept finite so sizes stay sane).
D_MAX = 1 << 14
#: Largest number of cells of a zonal mesh.
CELLS_MAX = 1 << 17


def meridian(theta: np.ndarray, d: int) -> np.ndarray:
    r"""Points :math:`(\sin\theta, 0, \dots, 0, \cos\theta)`, shape (..., d); the poles exact."""
    theta = np.asarray(theta, dtype=float)
    x = np.zeros(theta.shape + (d,))
    x[..., 0] = np.where(theta == np.pi, 0.0, np.sin(theta))
    x[..., -1] = np.where(theta == np.pi, -1.0, np.cos(theta))
    return x


def meridian_tangent(theta: np.ndarray, d: int) -> np.ndarray:
    r"""Unit tangent :math:`dx/d\theta = (\cos\theta, 0, \dots, 0, -\sin\theta)`, (..., d)."""
    theta = np.asarray(theta, dtype=float)
    t = np.zeros(theta.shape + (d,))
    t[..., 0] = np.cos(theta)
    t[..., -1] = -np.sin(theta)
    return t


def polar_angle(points: np.ndarray) -> np.ndarray:
    r"""Polar angle :math:`\theta = \operatorname{atan2}(|x_{1:d-1}|, x_d)` of points (m, d).

    The atan2 form is accurate near the poles, where :math:`\arccos x_d` loses half the digits.
    """
    x = np.asarray(points, dtype=float)
    return np.arctan2(np.linalg.norm(x[:, :-1], axis=1), x[:, -1])


def log_weight_theta(theta: np.ndarray, d: int) -> np.ndarray:
    r""":math:`\log w_d(\theta) = \log c_d + (d-2)\log\sin\theta` (-inf at the poles for d > 2)."""
    c = gammaln(d / 2.0) - gammaln((d - 1) / 2.0) - 0.5 * np.log(np.pi)
    if d == 2:
        return np.full(np.shape(theta), c)
    with np.errstate(divide="ignore"):
        return c + (d - 2) * np.log(np.abs(np.sin(theta)))


def _breakpoints(cells) -> np.ndarray:
    from .._checks import as_int, as_real_array

    if isinstance(cells, int | np.integer) and not isinstance(cells, bool):
        n = as_int(cells, "cells", min_value=2)
        if n > CELLS_MAX:
            raise ValueError(f"cells must be <= {CELLS_MAX} (a 1-D mesh), got {n}")
        theta = np.pi * np.arange(n + 1) / n
        theta[-1] = np.pi
        return theta
    theta = as_real_array(cells, "cells", ndim=1)
    if theta.size < 3 or theta.size > CELLS_MAX + 1:
        raise ValueError(
            f"cells must be an int (number of uniform cells) or 3..{CELLS_MAX + 1} increasing "
            f"polar angles from 0 to pi, got {theta.size} breakpoints"
        )
    if theta[0] != 0.0 or abs(theta[-1] - np.pi) > 1e-12:
        raise ValueError(
            f"cells: breakpoints must run from 0 to pi (the two poles), got {theta[0]:g} .. "
            f"{theta[-1]:.17g}"
        )
    if np.any(np.diff(theta) <= 0):
        k = int(np.argmax(np.diff(theta) <= 0))
        raise ValueError(
            f"cells: breakpoints must increase strictly; breakpoint {k + 1} ({theta[k + 1]:g}) "
            f"does not exceed breakpoint {k} ({theta[k]:g})"
        )
    theta = theta.copy()
    theta[-1] = np.pi
    return theta


class ZonalMesh(SphereMesh):
    r"""Intervals of the polar angle of :math:`S^{d-1}` (axis e_d). Build with
    :meth:`meanfield.SphereMesh.zonal`.

    Parameters
    ----------
    d : int
        Ambient dimension, 2 <= d <= :data:`D_MAX`.
    cells : int or array_like
        Number of uniform cells in :math:`[0, \pi]`, or increasing breakpoints from 0 to
        :math:`\pi` (non-uniform cells).

    Attributes
    ----------
    d : int
    breakpoints : ndarray, shape (n_cells + 1,)
        Polar angles of the vertices, from 0 (north pole, x = e_d) to :math:`\pi`.
    points : ndarray, shape (n_cells + 1, d)
        Vertices on the meridian.
    cells : ndarray, shape (n_cells, 2)
    topology : MeshTopology
        Facets are the vertices; interior facet k joins cells k - 1 (left) and k (right); the
        pole facets join the first (last) cell to itself and carry zero weight (no flux
        through a pole).
    areas : ndarray, shape (n_cells,)
        Cell lengths :math:`\Delta\theta` (the measure of the DG unknown).
    zone_measures : ndarray, shape (n_cells,)
        Normalised surface measure of each zone (they sum to 1).
    """

    kind = "zonal"

    def __init__(self, d, cells):
        from .._checks import as_int

        d = as_int(d, "d", min_value=2)
        if d > D_MAX:
            raise ValueError(f"d must be <= {D_MAX}, got {d}")
        self.d = d
        self.breakpoints = _breakpoints(cells)
        self.breakpoints.flags.writeable = False
        n = self.breakpoints.size - 1
        self.points = meridian(self.breakpoints, d)
        k = np.arange(n)
        self.cells = np.column_stack([k, k + 1])
        self.points.flags.writeable = False
        self.cells.flags.writeable = False
        self.topology = _topology(n)
        self.areas = np.diff(self.breakpoints)
        self.zone_measures = self._zone_measures()

    # ------------------------------------------------------------------ geometry hooks
    @property
    def dim(self) -> int:
        """Ambient dimension d."""
        return self.d

    @property
    def tdim(self) -> int:
        """Dimension of the cells (1: intervals of the polar angle)."""
        return 1

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
    def h(self) -> np.ndarray:
        r"""Cell lengths :math:`\Delta\theta` (the length of the CFL condition), (n_cells,)."""
        return self.areas.copy()

    @property
    def resolution(self) -> float:
        r""":math:`\pi / n_{cells}` (the uniform cell length)."""
        return float(np.pi / self.n_cells)

    def reference_map(self, xi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        r"""Points and Jacobians of :math:`\theta = \theta_a + \xi\,\Delta\theta` in every cell.

        Parameters
        ----------
        xi : ndarray, shape (m, 1)

        Returns
        -------
        x : ndarray, shape (n_cells, m, d)
            Meridian points.
        J : ndarray, shape (n_cells, m, d, 1)
            :math:`dx/d\xi = \Delta\theta\; dx/d\theta`.
        """
        theta = self.cell_angles(xi)
        J = meridian_tangent(theta, self.d) * self.areas[:, None, None]
        return meridian(theta, self.d), J[..., None]

    def cell_angles(self, xi: np.ndarray) -> np.ndarray:
        """Polar angles of reference points ``xi`` (m, 1) in every cell, (n_cells, m)."""
        xi = np.asarray(xi, dtype=float).reshape(-1)
        return self.breakpoints[:-1, None] + self.areas[:, None] * xi[None, :]

    def log_weight(self, points: np.ndarray) -> np.ndarray:
        r""":math:`\log w_d(\theta)` at points (m, d): sphere density -> line density factor."""
        return log_weight_theta(polar_angle(points), self.d)

    def facet_data(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Facet points (n_facets, d), weights (1 inside, 0 at the poles), unit normals."""
        w = np.ones(self.n_facets)
        w[[0, -1]] = 0.0
        return self.points, w, meridian_tangent(self.breakpoints, self.d)

    def locate(self, points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Cell (m,) and reference coordinate (m, 1) of the polar angle of points (m, d)."""
        return self.locate_angles(polar_angle(points))

    def locate_angles(self, theta: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Cell (m,) and reference coordinate (m, 1) of polar angles ``theta`` (m,)."""
        theta = np.asarray(theta, dtype=float)
        cells = np.clip(np.searchsorted(self.breakpoints, theta, side="right") - 1, 0,
                        self.n_cells - 1)  # fmt: skip
        xi = (theta - self.breakpoints[cells]) / self.areas[cells]
        return cells, np.clip(xi, 0.0, 1.0)[:, None]

    @property
    def facet_lengths(self) -> np.ndarray:
        """Ones: the facets are points (as on S^1)."""
        return np.ones(self.n_facets)

    def to_pyvista(self):
        """The meridian as a polyline in the (x_1, x_d) plane, z = 0 (for pictures)."""
        import pyvista as pv

        pts = np.column_stack([self.points[:, 0], self.points[:, -1], np.zeros(self.n_vertices)])
        lines = np.column_stack([np.full(self.n_cells, 2), self.cells]).ravel()
        return pv.PolyData(pts, lines=lines)

    def refine(self) -> ZonalMesh:
        """Split every cell at its midpoint in the polar angle."""
        mid = 0.5 * (self.breakpoints[:-1] + self.breakpoints[1:])
        return ZonalMesh(self.d, np.sort(np.concatenate([self.breakpoints, mid])))

    def _zone_measures(self) -> np.ndarray:
        # Gauss–Legendre in theta per cell, 12 points: exact to round-off for the smooth weight
        # on cells much shorter than its scale 1/sqrt(d); the total is then renormalised to 1
        # (it is 1 analytically), so a uniform density has mass exactly 1.
        from numpy.polynomial.legendre import leggauss

        t, w = leggauss(12)
        theta = self.breakpoints[:-1, None] + self.areas[:, None] * 0.5 * (t + 1.0)
        m = np.exp(log_weight_theta(theta, self.d)) @ (0.5 * w) * self.areas
        return m / m.sum()

    def __repr__(self) -> str:
        return f"SphereMesh(zonal S^{self.d - 1}, n_cells={self.n_cells})"


def _topology(n: int) -> MeshTopology:
    k = np.arange(n + 1)
    left = np.clip(k - 1, 0, n - 1)  # facet 0 (north pole): cell 0 with itself
    right = np.clip(k, 0, n - 1)  # facet n (south pole): cell n - 1 with itself
    local = np.column_stack([np.ones(n + 1, np.int64), np.zeros(n + 1, np.int64)])
    local[0] = (0, 0)
    local[-1] = (1, 1)
    return MeshTopology(facets=k[:, None], cells=np.column_stack([left, right]), local=local)


FAMILIES["zonal"] = ZonalMesh
