r"""The flow map on a zonal mesh: polar angles moving with the zonal field (DESIGN.md §2c–2d).

On the zonal mesh of :math:`S^{d-1}` (:mod:`meanfield.sphere.zonal`) a quadrature point of
:math:`\rho_0` stands for a ring :math:`\{\langle x, e_d\rangle = \cos\theta\}` and the DG
unknown is the line density g of the polar angle (mass per unit :math:`\theta`). The flow map
is then one-dimensional: the points' polar angles :math:`\theta_q(t)` move with the zonal
field :math:`u(\theta)` of :mod:`meanfield.field.zonal`, each carrying its mass, the cells'
P2 nodes (vertices and midpoints, in :math:`\theta`) move with them as passive targets, and
the stretch :math:`J = \partial\theta/\partial\theta_0` obeys

.. math:: \frac{d}{dt}\log J_q = \partial_\theta u(\theta_q)

(:class:`meanfield.field.zonal.ZonalFlow`), so that :math:`g_t(\theta_q) = g_0(\theta_{0,q})/J_q`.
The poles are fixed points (:math:`u = 0` there): angles stay in :math:`[0, \pi]` (clipped
after each step, against round-off).

:class:`ZonalFlowMap` is a :class:`~meanfield.lagrangian.state.FlowMap` whose positions
(``points``, ``nodes0``, ``nodes``) are polar angles, shapes (c, nq), (N,), (N,); its cell maps
:math:`\theta(\xi) = \sum_a N_a(\xi)\Theta_a` are returned on the meridian in
:math:`\mathbb{R}^d` where the base class wants points, so that the meridian's arc length is
the :math:`\theta` measure; the read-outs (values, law, samples, deposit) use the map of
degree 4 through the nodes and the quadrature points (:meth:`ZonalFlowMap.readout_maps`, as on
:math:`S^1`: W1 to a fine reference falls at rate 4.0 for p = 2 against 3.2 through the P2
map). :class:`ZonalFlowMapDensity` reads it out as the Eulerian zonal
Density does: quadrature measure on the meridian, line densities at the points, sphere
densities from :meth:`evaluate`, tokens in :math:`\mathbb{R}^d` from :meth:`sample`, the law
of :math:`\theta` from :meth:`polar_cdf` (so :func:`meanfield.wasserstein` is the exact 1-D
:math:`W_1` of s), and an exact deposit on a zonal DG space.
"""

from __future__ import annotations

import numpy as np
from numpy.polynomial.legendre import leggauss

from .._checks import as_int, as_points, as_real_array, as_rng, choose
from ..eulerian.dg import Density
from ..eulerian.sampling import ring_tokens, sample_polar_angles
from ..eulerian.zonal import polar_cdf
from ..sphere.zonal import meridian, meridian_tangent, polar_angle
from .density import NEWTON_STEPS, READOUTS, FlowMapDensity
from .state import COLLAPSED, FlowMap, readout_basis

__all__ = ["ZonalFlowMap", "ZonalFlowMapDensity"]


class ZonalFlowMap(FlowMap):
    r"""The flow map of a density on a zonal mesh, in polar angles (see the module docstring).

    Attributes as :class:`~meanfield.lagrangian.state.FlowMap`, except ``points`` (c, nq),
    ``nodes0`` and ``nodes`` (N,): polar angles in :math:`[0, \pi]`; ``rho0_values`` and the
    values derived from it are line densities (mass per unit :math:`\theta`). Cells are not
    split (:meth:`split` refuses).
    """

    @staticmethod
    def initial_positions(space):
        """Polar angles of the quadrature points (c, nq), of the P2 nodes (vertices, then cell
        midpoints; N,) and every cell's nodes in basix order (c, 3)."""
        mesh = space.mesh
        theta = mesh.cell_angles(space.quadrature.reference_points)
        bp = np.asarray(mesh.breakpoints, dtype=float)
        n = mesh.n_cells
        k = np.arange(n)
        index = np.column_stack([k, k + 1, n + 1 + k])
        return theta, np.concatenate([bp, 0.5 * (bp[:-1] + bp[1:])]), index

    # ------------------------------------------------------------------ state vector
    def unpack(self, y: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Views (point angles (P,), node angles (N,), log J (P,)) of a state vector."""
        P, N = self.masses.size, self.nodes.size
        return y[:P], y[P : P + N], y[P + N :]

    def load(self, y: np.ndarray, log_jacobian: bool = True) -> None:
        """Set the angles (clipped to [0, pi]) and, optionally, log J from a state vector."""
        pts, nodes, logj = self.unpack(y)
        self.points = np.clip(pts, 0.0, np.pi).reshape(self.masses.shape)
        self.nodes = np.clip(nodes, 0.0, np.pi)
        if log_jacobian:
            self.log_jacobian = logj.reshape(self.masses.shape).copy()

    def position_projector(self):
        """``project(y)``: the angles of a state vector (or stacked ones) clipped to [0, pi]."""
        n = self.masses.size + self.nodes.size

        def project(y):
            y = np.array(y, dtype=float)
            y[..., :n] = np.clip(y[..., :n], 0.0, np.pi)
            return y

        return project

    # ------------------------------------------------------------------ cell maps in theta
    def _tab(self, xi):
        return self.element.tabulate(1, np.ascontiguousarray(xi, dtype=float))[..., 0]

    def _data(self, initial: bool, cells, fit: bool):
        """Data values (c, ns) and basis values and derivatives at xi -> (2, m, ns) of the
        P2 node map or, with ``fit``, of the read-out map (:meth:`readout_maps`)."""
        idx = self.node_index if cells is None else self.node_index[cells]
        X = (self.nodes0 if initial else self.nodes)[idx]
        if fit and not initial:
            keep, element, coef = readout_basis(1, self.space.quadrature.reference_points)
            if element.degree > 2:
                pts = self.points if cells is None else self.points[cells]
                Y = np.concatenate([X, pts[:, keep]], axis=1)

                def tab(xi):
                    t = element.tabulate(1, np.ascontiguousarray(xi, dtype=float))[..., 0]
                    return np.einsum("tmb,bs->tms", t, coef)

                return Y, tab
        return X, self._tab

    def angles(self, xi, initial: bool = False, cells=None, fit: bool = False):
        r""":math:`\theta(\xi)` and :math:`d\theta/d\xi` of the moved (or initial) cells at
        reference points ``xi`` (m, 1), shapes (c, m); ``fit``: the read-out map."""
        X, tab = self._data(initial, cells, fit)
        t = tab(xi)  # (2, m, ns)
        return X @ t[0].T, X @ t[1].T

    def point_angles(self, cells, xi, initial: bool = False, fit: bool = False):
        r""":math:`\theta` and :math:`d\theta/d\xi` of ``cells`` (m,) at their own reference
        points ``xi`` (m, 1), shapes (m,); ``fit``: the read-out map."""
        X, tab = self._data(initial, cells, fit)
        t = tab(xi)
        return np.einsum("mn,mn->m", t[0], X), np.einsum("mn,mn->m", t[1], X)

    def _embed(self, theta, dtheta):
        d = self.dim
        return meridian(theta, d), (meridian_tangent(theta, d) * dtheta[..., None])[..., None]

    def cell_maps(self, xi, initial: bool = False, cells=None):
        """Meridian points (c, m, d) and Jacobians (c, m, d, 1) of the cell maps at ``xi``."""
        return self._embed(*self.angles(xi, initial, cells))

    def point_maps(self, cells, xi, initial: bool = False):
        """Meridian points (m, d) and Jacobians (m, d, 1) of ``cells`` at their own ``xi``."""
        return self._embed(*self.point_angles(cells, xi, initial))

    def readout_maps(self, xi, cells=None, per_point: bool = False):
        r"""The read-out maps :math:`\theta(\xi)` of degree k through the P2 nodes and the
        quadrature points (:func:`~meanfield.lagrangian.state.readout_basis`: k = 4 for
        p = 1, 2, interpolation; p = 0 keeps the P2 map), on the meridian: points (c, m, d)
        and Jacobians (c, m, d, 1), or per point (m, d), (m, d, 1)."""
        if per_point:
            return self._embed(*self.point_angles(cells, xi, fit=True))
        return self._embed(*self.angles(xi, cells=cells, fit=True))

    def initial_readout_jacobians(self, xi, cells=None, per_point: bool = False):
        """Jacobians of the initial maps (affine in theta), as :meth:`readout_maps`."""
        if per_point:
            return self.point_maps(cells, xi, initial=True)[1]
        return self.cell_maps(xi, initial=True, cells=cells)[1]

    def geometric_log_jacobian(self, xi=None) -> np.ndarray:
        r""":math:`\log(|\theta_t'(\xi)|/|\theta_0'(\xi)|)` (default at the quadrature points),
        shape (c, m)."""
        xi = self.space.quadrature.reference_points if xi is None else xi
        with np.errstate(divide="ignore"):
            return np.log(np.abs(self.angles(xi)[1])) - np.log(np.abs(self.angles(xi, True)[1]))

    def cell_areas(self, initial: bool = False) -> np.ndarray:
        r"""Lengths :math:`\Delta\theta` of the moved (or initial) cells, shape (c,)."""
        X = (self.nodes0 if initial else self.nodes)[self.node_index]
        return X[:, 1] - X[:, 0]

    def _strain(self, xi: np.ndarray) -> np.ndarray:
        """:math:`(\\theta_t'/\\theta_0')^2` as (c, m, 1, 1) tensors."""
        G = (self.angles(xi)[1] / self.angles(xi, True)[1]) ** 2
        return G[..., None, None]

    def collapsed(self) -> np.ndarray:
        """Cells whose image is a point to round-off (node spread below ``COLLAPSED``)."""
        return np.ptp(self.nodes[self.node_index], axis=1) < COLLAPSED

    def split(self, cells) -> int:
        """Not available on a zonal mesh: a ValueError if any cell is asked for."""
        if np.size(cells):
            raise ValueError(
                "split: cells of a zonal flow map are not split (splitting is implemented for "
                "S^1 and S^2 cells only); run without split"
            )
        return 0


class ZonalFlowMapDensity(FlowMapDensity):
    r"""The Lagrangian density on a zonal mesh at one time (a snapshot of a
    :class:`ZonalFlowMap`).

    Read-outs as the Eulerian zonal :class:`~meanfield.Density`: :meth:`quadrature_measure`
    (meridian points, masses), :meth:`quadrature_values` and :meth:`cell_means` in line
    density (mass per unit :math:`\theta`; cell means on the moved cells), :meth:`evaluate`
    (sphere density), :meth:`sample` (tokens in :math:`\mathbb{R}^d`), :meth:`polar_cdf`,
    :meth:`project` onto a zonal DG space; energy, moments and clusters through
    :mod:`meanfield.diagnostics` and :func:`meanfield.eulerian.zonal.zonal_clusters`.
    """

    def quadrature_measure(self) -> tuple[np.ndarray, np.ndarray]:
        r"""The moved measure :math:`\sum_q m_q\delta_{x(\theta_q)}` (each atom a ring).

        Returns
        -------
        points : ndarray, shape (P, d)
            On the meridian.
        masses : ndarray, shape (P,)
        """
        return meridian(self.state.points.ravel(), self.dim), self.state.masses.ravel()

    def polar_breakpoints(self) -> np.ndarray:
        """Polar angles of the moved cells' vertices, shape (n_cells + 1,) (non-decreasing)."""
        st = self.state
        return np.append(st.nodes[st.node_index[:, 0]], st.nodes[st.node_index[-1, 1]])

    def locate(self, points) -> tuple[np.ndarray, np.ndarray]:
        """Moved cell (m,) and reference coordinate (m, 1) of the polar angles of points."""
        return self.locate_angles(polar_angle(as_points(points, "points", d=self.dim)))

    def locate_angles(self, theta, fit: bool = True) -> tuple[np.ndarray, np.ndarray]:
        r"""Moved cell (m,) and reference coordinate (m, 1) of polar angles (m,).

        The moved vertices are in order (characteristics do not cross): the cell by bisection,
        then :math:`\theta(\xi) = \theta` by Newton's method from the linear guess (its
        :math:`\xi` clipped to [0, 1]) on the read-out map (``fit``, see
        :meth:`ZonalFlowMap.readout_maps`) or the P2 map; a collapsed cell gives its centre.
        """
        st = self.state
        theta = np.asarray(theta, dtype=float)
        left = st.nodes[st.node_index[:, 0]]
        cells = np.clip(np.searchsorted(left, theta, side="right") - 1, 0, self.n_cells - 1)
        ends = st.nodes[st.node_index[cells, :2]]
        width = ends[:, 1] - ends[:, 0]
        ok = width > 0
        xi = np.clip(np.where(ok, (theta - ends[:, 0]) / np.where(ok, width, 1.0), 0.5), 0, 1)
        for _ in range(NEWTON_STEPS):
            th, dth = st.point_angles(cells, xi[:, None], fit=fit)
            good = dth > 0
            xi = np.clip(xi + np.where(good, (theta - th) / np.where(good, dth, 1.0), 0.0), 0, 1)
        return cells, xi[:, None]

    def evaluate(self, points) -> np.ndarray:
        r"""Sphere density at points (m, d) (with respect to the normalised measure, as the
        Eulerian zonal Density): :math:`\rho_t(x) = \rho_0(y)/J_S` with the sphere Jacobian
        :math:`J_S = (\partial\theta/\partial\theta_0)(\sin\theta/\sin\theta_0)^{d-2}` (its
        pole limit :math:`J^{d-1}`), in logarithms.

        ``inf`` where :math:`\rho_t` exceeds float64: a cluster collapsed onto a pole in high
        dimension (the measure stays exact). At a pole itself the value is
        :math:`\rho_0`'s there (the pole is fixed), as :meth:`meanfield.Density.evaluate`
        gives it from the line density (its cell's mass over the zone measure where the
        weight's polynomial vanishes).
        """
        x = as_points(points, "points", d=self.dim)
        theta = polar_angle(x)
        cells, xi = self.locate_angles(theta)
        st = self.state
        _, d1 = st.point_angles(cells, xi, fit=True)
        th0, d0 = st.point_angles(cells, xi, initial=True)
        rho0 = self.space.to_sphere(st.coefficients, st.origin[cells], xi)
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            log_j = np.log(np.abs(d1)) - np.log(np.abs(d0))
            ring = np.log(np.sin(theta)) - np.log(np.sin(th0))
            ring = np.where((np.sin(theta) > 0) & (np.sin(th0) > 0), ring, log_j)
            value = rho0 * np.exp(-log_j - (self.dim - 2) * ring)
        return np.where(rho0 > 0, value, 0.0)

    def polar_cdf(self, theta) -> np.ndarray:
        r"""Mass with polar angle below :math:`\theta`: :math:`G_t(\theta) =
        G_0(\theta_0(\theta))`, the initial law (:func:`meanfield.eulerian.zonal.polar_cdf`,
        exact for the DG polynomial) at the preimage under the moved cell maps.

        Parameters
        ----------
        theta : array_like, shape (m,)

        Returns
        -------
        ndarray, shape (m,)
        """
        theta = np.clip(as_real_array(theta, "theta", ndim=1), 0.0, np.pi)
        cells, xi = self.locate_angles(theta)
        th0 = self.state.point_angles(cells, xi, initial=True)[0]
        return polar_cdf(Density(self.space, self.state.coefficients), th0)

    def sample(self, n, rng=None) -> np.ndarray:
        r"""Draw n tokens in :math:`\mathbb{R}^d` from :math:`\mu_t/\mu_t(S)`: polar angles
        drawn exactly from :math:`\rho_0`'s line density and carried by the moved cell maps,
        then u uniform on :math:`S^{d-2}` (as :meth:`meanfield.Density.sample` on a zonal
        mesh, with the same draws at t = 0).

        Returns
        -------
        ndarray, shape (n, d)
        """
        n = as_int(n, "n", min_value=1)
        g = as_rng(rng)
        theta0 = sample_polar_angles(Density(self.space, self.state.coefficients), n, g)
        cells, xi = self.space.mesh.locate_angles(theta0)
        return ring_tokens(self.state.point_angles(cells, xi, fit=True)[0], self.dim, g)

    def deposit_measure(self, space, levels=None, readout="fit") -> tuple[np.ndarray, np.ndarray]:
        """Points (P', d) on the meridian and masses (P',) of the exact deposit on a zonal
        space (see :meth:`project`; ``levels`` is not used: the cuts are exact in 1-D)."""
        cells, xi, m = self._deposit_points(space, levels, readout)
        theta = space.mesh.breakpoints[cells] + space.mesh.areas[cells] * xi[:, 0]
        return meridian(theta, self.dim), m

    def _deposit_points(self, space, levels=None, readout="fit"):
        r"""Target cells, reference coordinates and masses of the deposit on a zonal space.

        Every moved cell is cut at the preimages of the target breakpoints (Newton's method,
        :meth:`locate_angles`, on the read-out map or, with ``readout="p2"``, on the P2 map),
        so that every piece lies in one target cell; each piece gets
        a Gauss rule of :math:`p_0 + p + 2` points in the moved cell's :math:`\xi` (masses
        :math:`\rho_0\,\theta_0'` exact for the DG polynomial, scaled so that every moved cell
        keeps its mass to round-off).
        """
        mesh = space.mesh
        if mesh.kind != "zonal" or space.dim != self.dim:
            raise ValueError(
                f"space must be a DG space on a zonal mesh of S^{self.dim - 1} (a zonal flow "
                f"map's atoms are rings), got {mesh!r}"
            )
        fit = choose(readout, "readout", READOUTS) == "fit"
        st = self.state
        n = st.n_cells
        bp = np.asarray(mesh.breakpoints, dtype=float)
        cut_cells, cut_xi = self.locate_angles(bp[1:-1], fit)
        c_all = np.concatenate([np.arange(n), np.arange(n), cut_cells])
        x_all = np.concatenate([np.zeros(n), np.ones(n), cut_xi[:, 0]])
        order = np.lexsort((x_all, c_all))
        c_all, x_all = c_all[order], x_all[order]
        same = (c_all[1:] == c_all[:-1]) & (x_all[1:] > x_all[:-1])
        lo, hi, cell = x_all[:-1][same], x_all[1:][same], c_all[:-1][same]
        t, w = leggauss(space.degree + self.space.degree + 2)
        xi = lo[:, None] + (hi - lo)[:, None] * 0.5 * (t[None, :] + 1.0)  # (K, q)
        cq = np.repeat(cell, t.size)
        theta = st.point_angles(cq, xi.reshape(-1, 1), fit=fit)[0]
        d0 = np.abs(st.point_angles(cq, xi.reshape(-1, 1), initial=True)[1])
        rho = st.rho0_at(cell, st.origin_points(cell, xi[..., None])).ravel()
        m = np.maximum(rho, 0.0) * d0 * np.outer(0.5 * (hi - lo), w).ravel()
        have = np.bincount(cq, weights=m, minlength=n)
        want = st.cell_masses()
        m *= np.where(have > 0, want / np.where(have > 0, have, 1.0), 0.0)[cq]
        # the target cell of a piece from its midpoint (its ends may sit on a breakpoint)
        mid = st.point_angles(cell, (0.5 * (lo + hi))[:, None], fit=fit)[0]
        target = np.repeat(mesh.locate_angles(mid)[0], t.size)
        txi = np.clip((theta - bp[target]) / mesh.areas[target], 0.0, 1.0)
        return target, txi[:, None], m

    def __repr__(self) -> str:
        return (
            f"ZonalFlowMapDensity(t={self.time:g}, {self.n_cells} cells, mass={self.mass:.6g}, "
            f"{self.space!r})"
        )
