r"""The flow-map state: moved quadrature points with their masses, log-Jacobians and cell nodes.

A DG density :math:`\rho_0` on a sphere mesh is discretised by its quadrature measure
:math:`\mu_0^h = \sum_q m_q \delta_{y_q}`, :math:`m_q = w_q \rho_0(y_q)`. Every point moves
along the characteristics, :math:`x_q(t) = \Phi_t(y_q)`, carrying its mass and
:math:`\log J_t(y_q)`, so that :math:`\rho_t(x_q) = \rho_0(y_q) / J_t(y_q)`. The geometric
nodes of every cell (vertices and edge midpoints; on :math:`S^1` the arc midpoint) move with
them as passive targets and define the moved cell through the quadratic map

.. math::
    M_t(\xi) = \frac{\sum_a N_a(\xi)\, X_a(t)}{|\sum_a N_a(\xi)\, X_a(t)|},

with :math:`N_a` the P2 Lagrange basis of the reference simplex (basix, equispaced nodes).
Its area element relative to the initial map,
:math:`J^{geo}_t(\xi) = |DM_t(\xi)| / |DM_0(\xi)|`, is an independent estimate of
:math:`J_t`.

Cells may be split (see :meth:`FlowMap.split`): a cell then stands for a sub-simplex of an
*origin* cell of the initial mesh (``origin``, ``corners``), with its own nodes and
quadrature points; masses stay exact.
"""

from __future__ import annotations

from dataclasses import dataclass

import basix
import numpy as np

from ..sphere.geometry import metric_determinant, reference_cell, reference_vertices

__all__ = ["FlowMap", "affine_points", "node_map", "p2_element", "readout_basis", "subsimplices"]

#: Moved cells whose nodes all lie within this distance of each other have collapsed to a
#: point (their shape is round-off): they count as undistorted.
COLLAPSED = 1e-6
#: Negative quadrature values of rho0 down to this fraction of its largest value are the
#: limiter's round-off and count as zero.
ROUND_OFF = 1e-13
#: Exactness degree of the rule used for moved cell areas.
AREA_DEGREE = 8


def p2_element(tdim: int):
    """The P2 Lagrange element (equispaced) on the reference interval or triangle."""
    cell = basix.CellType.interval if tdim == 1 else basix.CellType.triangle
    return basix.create_element(basix.ElementFamily.P, cell, 2, basix.LagrangeVariant.equispaced)


def node_map(X: np.ndarray, tab: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    r"""Points and Jacobians of the quadratic cell maps :math:`M(\xi)` of node sets X.

    Parameters
    ----------
    X : ndarray, shape (c, nn, d)
        The P2 nodes of c cells.
    tab : ndarray, shape (1 + t, m, nn)
        P2 basis values and reference gradients at m reference points.

    Returns
    -------
    M : ndarray, shape (c, m, d)
        Unit points.
    DM : ndarray, shape (c, m, d, t)
        :math:`(I - M M^T) DF / |F|` with :math:`F = \sum_a N_a X_a`.
    """
    F = np.einsum("mn,cnd->cmd", tab[0], X)
    r = np.linalg.norm(F, axis=-1)
    M = F / r[..., None]
    DF = np.einsum("tmn,cnd->cmdt", tab[1:], X)
    MDF = np.einsum("cmd,cmdt->cmt", M, DF)
    DM = (DF - M[..., None] * MDF[:, :, None, :]) / r[..., None, None]
    return M, DM


def readout_basis(tdim: int, quadrature_points: np.ndarray):
    r"""The read-out map's data points, degree and least-squares fit (see
    :meth:`FlowMap.readout_maps`).

    The data are the P2 nodes and the quadrature points of a cell (duplicates dropped); the
    degree k is the largest for which they determine :math:`P_k` (interpolation on
    :math:`S^1`, least squares on :math:`S^2`): k = 4 on :math:`S^1` for p = 1, 2; on
    :math:`S^2` k = 3 for p = 1 (6 nodes + 6 points) but k = 2 for p = 2 (the 7 points of the
    degree-5 rule and the nodes leave a cubic vanishing on all 13).

    Parameters
    ----------
    tdim : int
        1 or 2.
    quadrature_points : ndarray, shape (nq, t)
        Reference quadrature points of the density's rule.

    Returns
    -------
    keep : ndarray of bool, shape (nq,)
        Quadrature points used (those not on a node).
    element : basix element
        Lagrange element of degree k (its basis spans :math:`P_k`).
    fit : ndarray, shape (dim P_k, ns)
        Pseudo-inverse of the basis at the data points: coefficients of the fit from the
        ns data values (nodes first, then the kept quadrature points).
    """
    nodes = p2_element(tdim).points
    dist = np.linalg.norm(quadrature_points[:, None] - nodes[None], axis=-1).min(axis=1)
    keep = dist > 1e-12
    data = np.vstack([nodes, quadrature_points[keep]])
    cell = basix.CellType.interval if tdim == 1 else basix.CellType.triangle
    best = None
    k = 2
    while _dim_p(tdim, k) <= data.shape[0]:
        element = basix.create_element(
            basix.ElementFamily.P, cell, k, basix.LagrangeVariant.equispaced
        )
        V = _tabulate(element, data)[0]
        sv = np.linalg.svd(V, compute_uv=False)
        if sv[-1] < 1e-8 * sv[0]:
            # the data do not determine P_k (on S^2 the 6 nodes and the 7 points of the
            # degree-5 rule leave a cubic that vanishes on all 13): keep the degree below
            break
        best = (element, np.linalg.pinv(V))
        k += 1
    return keep, best[0], best[1]


def _dim_p(t: int, k: int) -> int:
    return k + 1 if t == 1 else (k + 1) * (k + 2) // 2


def _tabulate(element, xi: np.ndarray) -> np.ndarray:
    return element.tabulate(1, np.ascontiguousarray(xi, dtype=float))[..., 0]


def affine_points(corners: np.ndarray, xi: np.ndarray) -> np.ndarray:
    """Points of reference coordinates ``xi`` ((m, t) shared, or (c, m, t) per cell) in
    sub-simplices ``corners`` (c, t+1, t); shape (c, m, t)."""
    B = np.swapaxes(corners[:, 1:] - corners[:, :1], 1, 2)  # (c, t, t)
    spec = "cst,mt->cms" if xi.ndim == 2 else "cst,cmt->cms"
    return corners[:, None, 0] + np.einsum(spec, B, xi)


def _affine_det(corners: np.ndarray) -> np.ndarray:
    B = np.swapaxes(corners[:, 1:] - corners[:, :1], 1, 2)
    return np.abs(np.linalg.det(B))


@dataclass
class FlowMap:
    r"""The discrete flow map of a DG density (mutable state of the Lagrangian solver).

    Attributes
    ----------
    space : DG
        The space of :math:`\rho_0` (reference mesh, quadrature rule, basis).
    coefficients : ndarray, shape (n_origin, n_basis)
        :math:`\rho_0`'s coefficients.
    origin : ndarray of int, shape (c,)
        Origin cell of every (possibly split) cell.
    corners : ndarray, shape (c, t + 1, t)
        The cell as a sub-simplex of its origin cell, in the origin's reference coordinates.
    node_index : ndarray of int, shape (c, nn)
        P2 nodes of every cell (basix order) into ``nodes``.
    nodes0, nodes : ndarray, shape (N, d)
        Initial and current node positions.
    points : ndarray, shape (c, nq, d)
        Current positions of the quadrature points.
    masses : ndarray, shape (c, nq)
        Their (constant) masses.
    rho0_values : ndarray, shape (c, nq)
        :math:`\rho_0` at their initial positions.
    log_jacobian : ndarray, shape (c, nq)
        :math:`\log J_t` at the quadrature points.
    """

    space: object
    coefficients: np.ndarray
    origin: np.ndarray
    corners: np.ndarray
    node_index: np.ndarray
    nodes0: np.ndarray
    nodes: np.ndarray
    points: np.ndarray
    masses: np.ndarray
    rho0_values: np.ndarray
    log_jacobian: np.ndarray

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_density(cls, rho0) -> FlowMap:
        """The identity flow map of a Density: its quadrature measure and its cells' nodes.

        Raises
        ------
        ValueError
            If a quadrature mass :math:`w_q\\rho_0(y_q)` is negative (limit the density first,
            e.g. ``rho0.limit()``).
        """
        space = rho0.space
        mesh = space.mesh
        t = mesh.tdim
        values = rho0.quadrature_values()
        # the limiter leaves round-off below zero (measured: -1.5e-126 in a near-empty pole
        # cell of a zonal mesh): such values are zero
        tiny = (values < 0) & (values >= -ROUND_OFF * np.abs(values).max())
        values = np.where(tiny, 0.0, values)
        masses = space.quadrature.weights * values
        if masses.min() < 0:
            raise ValueError(
                "rho0 must be non-negative at its quadrature points for the Lagrangian scheme, "
                f"got a mass of {masses.min():.3g}; use rho0.limit() first"
            )
        points, nodes0, node_index = cls.initial_positions(space)
        n = mesh.n_cells
        corners = np.broadcast_to(reference_vertices(t), (n, t + 1, t)).copy()
        return cls(
            space=space,
            coefficients=np.array(rho0.coefficients, dtype=float),
            origin=np.arange(n),
            corners=corners,
            node_index=node_index,
            nodes0=nodes0,
            nodes=nodes0.copy(),
            points=points,
            masses=masses,
            rho0_values=values,
            log_jacobian=np.zeros_like(masses),
        )

    @staticmethod
    def initial_positions(space) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Quadrature points (c, nq, d), unique P2 nodes (N, d) and every cell's nodes (c, nn)
        of the identity map of a DG space."""
        nodes0, node_index = _initial_nodes(space.mesh)
        return np.array(space.quadrature.points, dtype=float), nodes0, node_index

    def copy(self) -> FlowMap:
        """An independent copy (arrays copied), of the same class."""
        return type(self)(**{k: (v.copy() if isinstance(v, np.ndarray) else v)
                             for k, v in self.__dict__.items()})  # fmt: skip

    # ------------------------------------------------------------------ sizes
    @property
    def dim(self) -> int:
        return self.space.dim

    @property
    def tdim(self) -> int:
        """Dimension of the cells (1 on S^1 and on a zonal mesh, 2 on S^2)."""
        return self.space.tdim

    @property
    def n_cells(self) -> int:
        return self.origin.size

    @property
    def element(self):
        return p2_element(self.tdim)

    # ------------------------------------------------------------------ state vector
    def pack(self) -> np.ndarray:
        """The ODE state: point positions, node positions and log J, flattened."""
        return np.concatenate([self.points.ravel(), self.nodes.ravel(), self.log_jacobian.ravel()])

    def unpack(self, y: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Views (points (P, d), nodes (N, d), log J (P,)) of a state vector."""
        d = self.dim
        P = self.masses.size
        N = self.nodes.shape[0]
        return y[: P * d].reshape(P, d), y[P * d : (P + N) * d].reshape(N, d), y[(P + N) * d :]

    def load(self, y: np.ndarray, log_jacobian: bool = True) -> None:
        """Set positions (projected on the sphere) and, optionally, log J from a state vector."""
        pts, nodes, logj = self.unpack(y)
        self.points = (pts / np.linalg.norm(pts, axis=1, keepdims=True)).reshape(self.points.shape)
        self.nodes = nodes / np.linalg.norm(nodes, axis=1, keepdims=True)
        if log_jacobian:
            self.log_jacobian = logj.reshape(self.masses.shape).copy()

    # ------------------------------------------------------------------ cell geometry
    def cell_maps(self, xi: np.ndarray, initial: bool = False, cells=None):
        """Points and Jacobians of the moved (or initial) quadratic cell maps at ``xi`` (m, t)."""
        X = self.nodes0 if initial else self.nodes
        idx = self.node_index if cells is None else self.node_index[cells]
        return node_map(X[idx], _tabulate(self.element, xi))

    def point_maps(self, cells: np.ndarray, xi: np.ndarray, initial: bool = False):
        """Points (m, d) and Jacobians (m, d, t) of the maps of ``cells`` (m,) at their own
        reference points ``xi`` (m, t)."""
        X = (self.nodes0 if initial else self.nodes)[self.node_index[cells]]
        tab = _tabulate(self.element, xi)  # (1+t, m, nn)
        F = np.einsum("mn,mnd->md", tab[0], X)
        r = np.linalg.norm(F, axis=1)
        M = F / r[:, None]
        DF = np.einsum("tmn,mnd->mdt", tab[1:], X)
        MDF = np.einsum("md,mdt->mt", M, DF)
        return M, (DF - M[:, :, None] * MDF[:, None, :]) / r[:, None, None]

    def unsplit(self) -> bool:
        """Whether every cell is a whole cell of the initial mesh (no :meth:`split` yet)."""
        return self.n_cells == self.space.mesh.n_cells and bool(
            np.all(self.origin == np.arange(self.n_cells))
        )

    def readout_maps(self, xi: np.ndarray, cells=None, per_point: bool = False):
        r"""Moved cell maps of higher degree through the nodes *and* the quadrature points.

        The quadratic map :math:`M_t` places every point between the nodes to
        :math:`O(h^3)`, whatever the density's degree, although the quadrature points
        themselves move to the accuracy of the characteristics. The read-out map fits
        :math:`\Phi_t\circ G` (G the mesh's curved cell map, which the nodes and the
        quadrature points sample at t = 0) by a polynomial of degree k through the P2 nodes
        and the quadrature points (:func:`readout_basis`): k = 4 on :math:`S^1` for p = 1, 2
        (interpolation, error :math:`O(h^5)`), k = 3 on :math:`S^2` for p = 1 (least
        squares, :math:`O(h^4)`); p = 0, and p = 2 on :math:`S^2`, keep the P2 map. Only for
        an unsplit flow map (split children's points are the parent's P2 map, not samples of
        :math:`\Phi_t\circ G`): otherwise, and for k = 2, this is :meth:`cell_maps` /
        :meth:`point_maps`.

        Parameters
        ----------
        xi : ndarray, shape (m, t)
            Reference points, shared by all ``cells`` (or one per cell with ``per_point``).
        cells : ndarray of int, optional
            Default all cells (not with ``per_point``).
        per_point : bool
            ``cells`` (m,) and ``xi`` (m, t) pair up one to one.

        Returns
        -------
        M : ndarray, shape (c, m, d), or (m, d) with ``per_point``
        DM : ndarray, shape (c, m, d, t), or (m, d, t) with ``per_point``
        """
        keep, element, fit = readout_basis(self.tdim, self.space.quadrature.reference_points)
        if element.degree <= 2 or not self.unsplit():
            if per_point:
                return self.point_maps(cells, xi)
            return self.cell_maps(xi, cells=cells)
        idx = np.arange(self.n_cells) if cells is None else np.asarray(cells)
        Y = np.concatenate([self.nodes[self.node_index[idx]], self.points[idx][:, keep]], axis=1)
        tab = np.einsum("tmb,bs->tms", _tabulate(element, xi), fit)  # (1+t, m, ns)
        if not per_point:
            return node_map(Y, tab)
        F = np.einsum("ms,msd->md", tab[0], Y)
        r = np.linalg.norm(F, axis=1)
        M = F / r[:, None]
        DF = np.einsum("tms,msd->mdt", tab[1:], Y)
        MDF = np.einsum("md,mdt->mt", M, DF)
        return M, (DF - M[:, :, None] * MDF[:, None, :]) / r[:, None, None]

    def initial_readout_jacobians(self, xi: np.ndarray, cells=None, per_point: bool = False):
        r"""Jacobians of the initial map that :meth:`readout_maps` continues: the mesh's
        curved map G for an unsplit flow map of degree k > 2, else the initial P2 map.

        Shapes as the second output of :meth:`readout_maps`.
        """
        keep, element, _ = readout_basis(self.tdim, self.space.quadrature.reference_points)
        if element.degree <= 2 or not self.unsplit():
            if per_point:
                return self.point_maps(cells, xi, initial=True)[1]
            return self.cell_maps(xi, initial=True, cells=cells)[1]
        idx = np.arange(self.n_cells) if cells is None else np.asarray(cells)
        vertices = self._origin_vertices(idx)
        if per_point:
            return _curved_map_per_cell(vertices, xi[:, None, :])[1][:, 0]
        return _curved_map_per_cell(vertices, np.broadcast_to(xi, (idx.size,) + xi.shape))[1]

    def geometric_log_jacobian(self, xi=None) -> np.ndarray:
        r""":math:`\log(|DM_t|/|DM_0|)` at reference points (default the quadrature points).

        Returns
        -------
        ndarray, shape (c, m)
        """
        xi = self.space.quadrature.reference_points if xi is None else xi
        _, D1 = self.cell_maps(xi)
        _, D0 = self.cell_maps(xi, initial=True)
        return np.log(metric_determinant(D1)) - np.log(metric_determinant(D0))

    def cell_areas(self, initial: bool = False) -> np.ndarray:
        """Areas of the moved (or initial) quadratic cells, shape (c,)."""
        xi, w = basix.make_quadrature(reference_cell(self.space.mesh), AREA_DEGREE)
        _, D = self.cell_maps(xi, initial=initial)
        return metric_determinant(D) @ w

    def cell_masses(self) -> np.ndarray:
        """Mass of every cell, shape (c,) (constant in time)."""
        return self.masses.sum(axis=1)

    def _strain(self, xi: np.ndarray) -> np.ndarray:
        r"""Cauchy–Green tensors in reference coordinates,
        :math:`G = (DM_0^T DM_0)^{-1} DM_t^T DM_t`, shape (c, m, t, t) (I for a rigid motion)."""
        _, D1 = self.cell_maps(xi)
        _, D0 = self.cell_maps(xi, initial=True)
        g0 = np.einsum("cmdi,cmdj->cmij", D0, D0)
        g1 = np.einsum("cmdi,cmdj->cmij", D1, D1)
        return np.linalg.solve(g0, g1)

    def distortion(self) -> np.ndarray:
        r"""How far each moved cell is from an affine image of its reference cell, shape (c,).

        :math:`\max_\xi \|G(\xi) - G(\xi_c)\|_2 / \|G(\xi_c)\|_2` over the vertices, edge
        midpoints and centre :math:`\xi_c` of the cell, with :math:`G` the Cauchy–Green
        tensor of the moved map relative to the initial one (see :meth:`_strain`): 0 for a
        rigid motion or a uniform stretch, about 1 when the stretch changes by its own size
        across the cell. Splitting a cell halves this (each child sees half the variation);
        the anisotropy of the stretch, which splitting cannot change, is :meth:`stretch`.
        Collapsed cells (see :meth:`collapsed`) count as 0.
        """
        t = self.tdim
        xi = np.vstack([np.full((1, t), 1.0 / (t + 1)), self.element.points])
        G = self._strain(xi)
        centre = G[:, :1]
        top = np.linalg.norm(G[:, 1:] - centre, ord=2, axis=(-2, -1)).max(axis=1)
        out = top / np.maximum(np.linalg.norm(centre[:, 0], ord=2, axis=(-2, -1)), 1e-300)
        return np.where(self.collapsed(), 0.0, out)

    def collapsed(self) -> np.ndarray:
        """Cells whose image is a point to round-off (node spread below :data:`COLLAPSED`)."""
        X = self.nodes[self.node_index]  # (c, nn, d)
        return np.ptp(X, axis=1).max(axis=1) < COLLAPSED

    def stretch(self) -> np.ndarray:
        r"""Anisotropy of each moved cell, :math:`\sigma_{max}/\sigma_{min}` of the stretch at
        its centre (square root of the eigenvalue ratio of G; 1 on S^1), shape (c,)."""
        t = self.tdim
        ev = np.linalg.eigvals(self._strain(np.full((1, t), 1.0 / (t + 1)))[:, 0]).real
        ev = np.maximum(ev, np.finfo(float).tiny)
        out = np.sqrt(ev.max(axis=1)) / np.sqrt(ev.min(axis=1))  # each factor finite
        return np.where(self.collapsed(), 1.0, out)

    # ------------------------------------------------------------------ reference data
    def origin_points(self, cells: np.ndarray, xi: np.ndarray) -> np.ndarray:
        """Origin reference coordinates of reference points ``xi`` (m, t) of ``cells``."""
        return affine_points(self.corners[cells], xi)

    def rho0_at(self, cells: np.ndarray, xi_origin: np.ndarray) -> np.ndarray:
        """:math:`\\rho_0` at origin reference points (c, m, t) of ``cells``, shape (c, m)."""
        phi = self.space.tabulate(xi_origin.reshape(-1, self.tdim))
        phi = phi.reshape(xi_origin.shape[0], xi_origin.shape[1], -1)
        return np.einsum("cmb,cb->cm", phi, self.coefficients[self.origin[cells]])

    # ------------------------------------------------------------------ splitting
    def split(self, cells) -> int:
        """Split ``cells`` into 2 (S^1) or 4 (S^2) children each; returns the number split.

        Children are the midpoint subdivision of the parent in its reference coordinates.
        Their nodes and quadrature points are placed by the parent's current quadratic map
        (initial positions by its initial one), their masses are
        :math:`\\rho_0` times the children's quadrature weights, scaled so that they add up to
        the parent's mass exactly, and their log J is the geometric one of the parent's map.

        Splitting bounds the distortion but not the error: the children's points inherit the
        parent's P2 interpolation error at the time of the split, which is far larger than
        the time-integration error of the characteristics. Measured on the Nair–Lauritzen
        case 1 flow (icosphere(1), p = 1, RK4 dt = 0.025, outputs every 0.125): without
        splitting the points return to 2.7e-7, the largest distortion reaching 3.7; with
        ``split=0.3`` the distortion stays below 0.42 but the points return only to 5e-2
        (5916 splits). Splitting is therefore off by default.
        """
        cells = np.unique(np.asarray(cells, dtype=np.int64))
        if cells.size == 0:
            return 0
        t = self.tdim
        sub = subsimplices(t)  # (k, t+1, t) children in the parent's coordinates
        k = sub.shape[0]
        parent = np.repeat(cells, k)
        child_corners = np.einsum("ksj,cjt->ckst", _barycentric(sub), self.corners[cells])
        child_corners = child_corners.reshape(-1, t + 1, t)
        # nodes of the children in parent coordinates, shared among siblings
        el = self.element
        node_xi = affine_points(sub, el.points).reshape(-1, t)  # (k*nn, t)
        uniq, inverse = np.unique(np.round(node_xi, 12), axis=0, return_inverse=True)
        inverse = inverse.ravel()
        parent_nodes = np.round(el.points, 12)
        reuse = np.array([_find_row(parent_nodes, u) for u in uniq])
        new_rows = np.flatnonzero(reuse < 0)
        X_new, _ = self.cell_maps(uniq[new_rows], cells=cells)  # (c, nnew, d)
        # initial positions from the parent's initial map, so that the children's J^geo
        # continues the parent's (the exact curved map differs from it by O(h^3))
        X0_new, _ = self.cell_maps(uniq[new_rows], initial=True, cells=cells)
        base = self.nodes.shape[0]
        n_new = new_rows.size
        lookup = np.empty((cells.size, uniq.shape[0]), dtype=np.int64)
        lookup[:, reuse >= 0] = self.node_index[cells][:, reuse[reuse >= 0]]
        lookup[:, new_rows] = base + np.arange(cells.size * n_new).reshape(cells.size, n_new)
        child_nodes = lookup[:, inverse].reshape(cells.size * k, -1)
        self.nodes = np.concatenate([self.nodes, X_new.reshape(-1, self.dim)])
        self.nodes0 = np.concatenate([self.nodes0, X0_new.reshape(-1, self.dim)])
        # quadrature points of the children
        q = self.space.quadrature
        xi_q, w_q = q.reference_points, q.reference_weights
        xi_parent = affine_points(sub, xi_q).reshape(-1, t)  # (k*nq, t)
        pts, _ = self.cell_maps(xi_parent, cells=cells)
        logj = self.geometric_log_jacobian(xi_parent)[cells]
        xi_origin = affine_points(child_corners, xi_q)  # (c*k, nq, t)
        rho = self.rho0_at(parent, xi_origin)
        _, J0 = _curved_map_per_cell(self._origin_vertices(parent), xi_origin)
        W = w_q * metric_determinant(J0) * _affine_det(child_corners)[:, None]
        m = (W * rho).reshape(cells.size, -1)
        total = self.masses[cells].sum(axis=1)
        have = m.sum(axis=1)
        m *= np.where(have > 0, total / np.where(have > 0, have, 1.0), 0.0)[:, None]
        nq = xi_q.shape[0]
        keep = np.setdiff1d(np.arange(self.n_cells), cells)
        self.origin = np.concatenate([self.origin[keep], self.origin[parent]])
        self.corners = np.concatenate([self.corners[keep], child_corners])
        self.node_index = np.concatenate([self.node_index[keep], child_nodes])
        self.points = np.concatenate([self.points[keep], pts.reshape(-1, nq, self.dim)])
        self.masses = np.concatenate([self.masses[keep], m.reshape(-1, nq)])
        self.rho0_values = np.concatenate([self.rho0_values[keep], rho])
        self.log_jacobian = np.concatenate([self.log_jacobian[keep], logj.reshape(-1, nq)])
        self._drop_unused_nodes()
        return int(cells.size)

    def _origin_vertices(self, cells):
        mesh = self.space.mesh
        return mesh.points[mesh.cells[self.origin[cells]]]

    def _drop_unused_nodes(self):
        used = np.unique(self.node_index)
        if used.size == self.nodes.shape[0]:
            return
        remap = np.full(self.nodes.shape[0], -1)
        remap[used] = np.arange(used.size)
        self.node_index = remap[self.node_index]
        self.nodes = self.nodes[used]
        self.nodes0 = self.nodes0[used]


def _find_row(table: np.ndarray, row: np.ndarray) -> int:
    hit = np.flatnonzero(np.all(table == row, axis=1))
    return int(hit[0]) if hit.size else -1


def _barycentric(sub: np.ndarray) -> np.ndarray:
    """Barycentric coordinates (k, t+1, t+1) of sub-simplex corners (k, t+1, t)."""
    lam0 = 1.0 - sub.sum(axis=-1, keepdims=True)
    return np.concatenate([lam0, sub], axis=-1)


def subsimplices(t: int) -> np.ndarray:
    """Midpoint subdivision of the reference simplex: (2, 2, 1) or (4, 3, 2) corners."""
    if t == 1:
        return np.array([[[0.0], [0.5]], [[0.5], [1.0]]])
    a, b, c = np.array([0.0, 0.0]), np.array([1.0, 0.0]), np.array([0.0, 1.0])
    ab, bc, ca = (a + b) / 2, (b + c) / 2, (c + a) / 2
    return np.array([[a, ab, ca], [ab, b, bc], [ca, bc, c], [bc, ca, ab]])


def _curved_map_per_cell(vertices: np.ndarray, xi: np.ndarray):
    r"""The exact radially projected map of each cell at its own reference points.

    As :func:`meanfield.geometry.curved_map`, with ``xi`` of shape (c, m, t).
    """
    v0 = vertices[:, 0]
    DF = np.swapaxes(vertices[:, 1:] - v0[:, None], 1, 2)  # (c, d, t)
    F = v0[:, None] + np.einsum("cdt,cmt->cmd", DF, xi)
    r = np.linalg.norm(F, axis=-1)
    x = F / r[..., None]
    xDF = np.einsum("cmd,cdt->cmt", x, DF)
    J = (DF[:, None] - x[..., None] * xDF[:, :, None, :]) / r[..., None, None]
    return x, J


def _initial_nodes(mesh) -> tuple[np.ndarray, np.ndarray]:
    """Unique P2 nodes of a sphere mesh: its vertices, then one midpoint per edge (S^2) or per
    cell (S^1), with every cell's nodes in basix order."""
    cells = np.asarray(mesh.cells)
    pts = np.asarray(mesh.points, dtype=float)
    nv = pts.shape[0]
    if mesh.dim == 2:
        mid = pts[cells[:, 0]] + pts[cells[:, 1]]
        mid /= np.linalg.norm(mid, axis=1, keepdims=True)
        index = np.column_stack([cells, nv + np.arange(cells.shape[0])])
        return np.concatenate([pts, mid]), index
    # basix P2 triangle: nodes 3, 4, 5 are the midpoints of edges (1, 2), (0, 2), (0, 1)
    pairs = np.stack([cells[:, [1, 2]], cells[:, [0, 2]], cells[:, [0, 1]]], axis=1)
    key = np.sort(pairs, axis=2).reshape(-1, 2)
    uniq, inverse = np.unique(key, axis=0, return_inverse=True)
    mid = pts[uniq[:, 0]] + pts[uniq[:, 1]]
    mid /= np.linalg.norm(mid, axis=1, keepdims=True)
    index = np.column_stack([cells, nv + inverse.reshape(-1, 3)])
    return np.concatenate([pts, mid]), index
