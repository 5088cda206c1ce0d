r"""The flow-map density: the measure :math:`\mu_t = \Phi_t\#\mu_0` and its read-outs.

A :class:`FlowMapDensity` is a snapshot of a :class:`~meanfield.lagrangian.state.FlowMap`: the
moved quadrature measure :math:`\sum_q m_q \delta_{x_q(t)}` (exact masses), the density values
:math:`\rho_0(y_q)/J_t(y_q)` at the moved points, and the moved cells. It answers what a
:class:`~meanfield.Density` answers (``integrate``, ``quadrature_measure``, ``cell_means``,
``evaluate``, ``sample``), so the diagnostics (energy, moments, clusters) and the Wasserstein
distances take it as they are, and it deposits itself on any DG space (:meth:`project`).
"""

from __future__ import annotations

import basix
import numpy as np
from scipy.spatial import cKDTree

from .._checks import as_int, as_points, as_rng, choose
from ..eulerian.dg import DG, Density, function_values
from ..sphere.geometry import metric_determinant
from .state import FlowMap, affine_points, subsimplices

__all__ = ["FlowMapDensity"]

#: Candidate moved cells tried per point by :meth:`FlowMapDensity.locate`.
LOCATE_CANDIDATES = 12
#: Gauss–Newton iterations of the inverse cell map.
NEWTON_STEPS = 8


class FlowMapDensity:
    r"""The Lagrangian density at one time: a snapshot of the flow map.

    Parameters
    ----------
    state : FlowMap
        Copied; later changes to it do not affect the snapshot.
    time : float

    Attributes
    ----------
    space : DG
        The DG space of the initial density (reference mesh and quadrature rule).
    time : float
    """

    def __init__(self, state: FlowMap, time: float = 0.0):
        self.state = state.copy()
        self.space = state.space
        self.time = float(time)
        self._tree = None

    @property
    def dim(self) -> int:
        return self.space.dim

    @property
    def n_cells(self) -> int:
        """Moved cells (reference cells, counting split children)."""
        return self.state.n_cells

    # ------------------------------------------------------------------ the measure
    def quadrature_measure(self) -> tuple[np.ndarray, np.ndarray]:
        r"""The moved quadrature measure :math:`\sum_q m_q \delta_{x_q(t)}`.

        Returns
        -------
        points : ndarray, shape (P, d)
        masses : ndarray, shape (P,)
            Constant in time; they sum to the initial mass to round-off.
        """
        return self.state.points.reshape(-1, self.dim), self.state.masses.ravel()

    def quadrature_values(self) -> np.ndarray:
        r""":math:`\rho_t(x_q) = \rho_0(y_q)\, e^{-\log J_t(y_q)}`, shape (n_cells, nq).

        Infinite where :math:`J_t` underflows (:math:`\log J < -709`): the point's cell has
        collapsed into a cluster, a point mass. The measure (:meth:`quadrature_measure`) stays
        exact; only the value overflows.
        """
        rho0 = self.state.rho0_values
        with np.errstate(over="ignore", invalid="ignore"):
            # a massless point (rho0 = 0) stays at 0 however much it is compressed (not 0 * inf)
            return np.where(rho0 > 0, rho0 * np.exp(-self.state.log_jacobian), 0.0)

    def integrate(self, f=None):
        r""":math:`\int f\, d\mu_t = \sum_q m_q f(x_q)` (the mass when ``f`` is None).

        Parameters
        ----------
        f : callable, optional
            ``f(points)`` for points (m, d) returning (m,) or (m, k).

        Returns
        -------
        float, or ndarray of shape (k,)
        """
        x, m = self.quadrature_measure()
        if f is None:
            return float(m.sum())
        vals = function_values(f, x)
        return float(m @ vals) if vals.ndim == 1 else m @ vals

    @property
    def mass(self) -> float:
        return float(self.state.masses.sum())

    # ------------------------------------------------------------------ cells
    def cell_masses(self) -> np.ndarray:
        """Mass of every moved cell, shape (n_cells,)."""
        return self.state.cell_masses()

    def cell_areas(self) -> np.ndarray:
        """Areas of the moved (quadratic) cells, shape (n_cells,)."""
        return self.state.cell_areas()

    def cell_means(self) -> np.ndarray:
        """Mean density of every moved cell: its mass over its moved area, shape (n_cells,)."""
        return self.cell_masses() / self.cell_areas()

    def distortion(self) -> np.ndarray:
        """Distortion of every moved cell (see :meth:`FlowMap.distortion`), shape (n_cells,)."""
        return self.state.distortion()

    def stretch(self) -> np.ndarray:
        """Anisotropy of every moved cell (see :meth:`FlowMap.stretch`), shape (n_cells,)."""
        return self.state.stretch()

    def distortion_report(self, threshold: float = 1.0) -> dict:
        """Largest cell distortion and the mass fraction in cells distorted beyond ``threshold``."""
        dist = self.distortion()
        m = self.cell_masses()
        return {
            "max_distortion": float(dist.max()),
            "distorted_mass": float(m[dist > threshold].sum() / m.sum()),
            "threshold": float(threshold),
        }

    # ------------------------------------------------------------------ point values
    def locate(self, points) -> tuple[np.ndarray, np.ndarray]:
        r"""Moved cell (m,) and its reference coordinates (m, t) of points on the sphere.

        Candidates are the :data:`LOCATE_CANDIDATES` moved cells with the nearest centres;
        in each, :math:`M_t(\xi) = x` is solved by Gauss–Newton from the centre and the first
        candidate whose solution lies in the reference simplex is taken (else the one with
        the smallest residual, its :math:`\xi` clipped to the simplex).
        """
        x = as_points(points, "points", d=self.dim)
        t = self.state.tdim
        centre = np.full((1, t), 1.0 / (t + 1))
        if self._tree is None:
            c, _ = self.state.cell_maps(centre)
            self._tree = cKDTree(c[:, 0])
        k = min(LOCATE_CANDIDATES, self.n_cells)
        _, cand = self._tree.query(x, k=k)
        cand = cand.reshape(x.shape[0], k)
        xi, res = self._newton(cand.ravel(), np.repeat(x, k, axis=0), centre)
        xi, res = xi.reshape(x.shape[0], k, t), res.reshape(x.shape[0], k)
        lam = np.concatenate([1.0 - xi.sum(axis=-1, keepdims=True), xi], axis=-1).min(axis=-1)
        inside = (lam >= -1e-9) & (res < 1e-9)
        score = np.where(inside, 0.0, res + np.maximum(-lam, 0.0))
        best = np.argmin(score, axis=1)
        rows = np.arange(x.shape[0])
        return cand[rows, best], _clip_simplex(xi[rows, best])

    def _newton(self, cells, x, start):
        st = self.state
        xi = np.repeat(start, cells.size, axis=0)
        tiny = np.finfo(float).tiny * np.eye(xi.shape[1])
        for _ in range(NEWTON_STEPS):
            M, DM = st.point_maps(cells, xi)
            g = np.einsum("mdi,mdj->mij", DM, DM) + tiny
            rhs = np.einsum("mdi,md->mi", DM, x - M)
            xi = np.clip(xi + np.linalg.solve(g, rhs[..., None])[..., 0], -0.5, 1.5)
        M, _ = st.point_maps(cells, xi)
        return xi, np.linalg.norm(M - x, axis=1)

    def evaluate(self, points) -> np.ndarray:
        r"""Density at points on the sphere, :math:`\rho_0(\xi)/J^{geo}_t(\xi)` in the moved
        cell holding each point (see :meth:`locate`), shape (m, d) -> (m,)."""
        cells, xi = self.locate(points)
        st = self.state
        _, D1 = st.point_maps(cells, xi)
        _, D0 = st.point_maps(cells, xi, initial=True)
        J = metric_determinant(D1) / metric_determinant(D0)
        xo = st.origin_points(cells, xi[:, None, :])
        rho0 = st.rho0_at(cells, xo)[:, 0]
        return rho0 / J

    # ------------------------------------------------------------------ sampling
    def sample(self, n, rng=None) -> np.ndarray:
        r"""Draw n points from :math:`\mu_t/\mu_t(S)`: exact samples of :math:`\rho_0` (see
        :meth:`meanfield.Density.sample`) carried by the moved cell maps.

        Returns
        -------
        ndarray, shape (n, d)
        """
        n = as_int(n, "n", min_value=1)
        g = as_rng(rng)
        st = self.state
        y = Density(self.space, st.coefficients).sample(n, g)
        origin, xi_o = self.space.locate(y)
        cells, xi = _child_coordinates(st, origin, xi_o)
        return st.point_maps(cells, xi)[0]

    # ------------------------------------------------------------------ deposit
    def refined_measure(
        self, refine: int = 3, readout: str = "fit"
    ) -> tuple[np.ndarray, np.ndarray]:
        r"""A finer quadrature of :math:`\mu_t`: every moved cell cut ``refine`` times by
        midpoint subdivision of its reference cell (:math:`2^r` arcs or :math:`4^r`
        triangles), a rule of degree p + 1 in each piece, at the moved cell map's points,
        weighted by :math:`\rho_0` and the initial area element and scaled so that every cell
        keeps its mass exactly.

        ``readout="fit"`` (default) places the points by the higher-degree map through the
        nodes and the quadrature points (:meth:`FlowMap.readout_maps`), ``"p2"`` by the
        quadratic node map; measured on S^1 (beta = 4, t = 6, p = 1 and 2) the quadratic map
        limits W1 to :math:`O(h^3)` for every p (benchmarks/lagrangian_vs_eulerian.py).

        Returns
        -------
        points : ndarray, shape (P', d)
        masses : ndarray, shape (P',)
        """
        refine = as_int(refine, "refine", min_value=0)
        choose(readout, "readout", READOUTS)
        st = self.state
        xi, w = _subdivided_rule(self.state.tdim, self.space.degree + 1, refine)
        pts, D0 = _maps(st, readout, xi)
        every = np.arange(st.n_cells)
        rho = st.rho0_at(every, st.origin_points(every, xi))
        m = np.maximum(rho, 0.0) * metric_determinant(D0) * w
        have = m.sum(axis=1)
        want = st.cell_masses()
        m *= np.where(have > 0, want / np.where(have > 0, have, 1.0), 0.0)[:, None]
        # a cell whose rho0 vanishes at the finer points keeps its mass at its own points
        lost = (have <= 0) & (want > 0)
        x, mm = pts.reshape(-1, self.dim), m.ravel()
        if lost.any():
            x = np.concatenate([x, st.points[lost].reshape(-1, self.dim)])
            mm = np.concatenate([mm, st.masses[lost].ravel()])
        return x, mm

    def deposit_measure(
        self, space, levels=None, readout: str = "fit"
    ) -> tuple[np.ndarray, np.ndarray]:
        r"""A quadrature of :math:`\mu_t` adapted to the cells of a fixed DG space.

        Every moved cell's reference simplex is cut by midpoint subdivision, but only where a
        piece's image straddles cells of ``space`` (its corners located in different cells):
        pieces inside one target cell are integrated whole by a rule of degree
        :math:`p_0 + p + 2`; straddling pieces are cut again, up to ``levels`` times, and the
        last ones integrated as they are. The mass put on the wrong side of a target edge
        thus falls like :math:`2^{-\text{levels}}` at a cost proportional to the pieces along
        the target edges. Masses are :math:`\rho_0` times the initial area element, scaled
        so that every moved cell keeps its mass exactly.

        Parameters
        ----------
        space : DG
        levels : int, optional
            Most subdivisions (default 24 on S^1, 4 on S^2: 1e-3 of the mass misplaced on
            icosphere(2), measured).
        readout : {"fit", "p2"}
            The moved cell map (see :meth:`refined_measure`).

        Returns
        -------
        points : ndarray, shape (P', d)
        masses : ndarray, shape (P',)
        """
        st = self.state
        t = self.state.tdim
        levels = (24 if t == 1 else 4) if levels is None else as_int(levels, "levels", min_value=0)
        choose(readout, "readout", READOUTS)
        cell = basix.CellType.interval if t == 1 else basix.CellType.triangle
        xq, wq = basix.make_quadrature(cell, self.space.degree + space.degree + 2)
        pc = np.arange(st.n_cells)
        pk = np.broadcast_to(np.vstack([np.zeros(t), np.eye(t)]), (st.n_cells, t + 1, t))
        xs, ms, owners = [], [], []
        for level in range(levels + 1):
            corners, _ = _maps(st, readout, pk.reshape(-1, t), np.repeat(pc, t + 1), True)
            owner = space.locate(corners)[0].reshape(-1, t + 1)
            final = np.all(owner == owner[:, :1], axis=1) | (level == levels)
            if final.any():
                c, k = pc[final], pk[final]
                xi = affine_points(k, xq)  # (F, nq, t)
                flat = xi.reshape(-1, t)
                cq = np.repeat(c, xq.shape[0])
                x, D0 = _maps(st, readout, flat, cq, True)
                rho = st.rho0_at(c, st.origin_points(c, xi)).ravel()
                area = np.abs(np.linalg.det(np.swapaxes(k[:, 1:] - k[:, :1], 1, 2)))
                m = np.maximum(rho, 0.0) * metric_determinant(D0) * np.outer(area, wq).ravel()
                xs.append(x), ms.append(m), owners.append(cq)
            if final.all():
                break
            sub = subsimplices(t)
            kids = affine_points(pk[~final], sub.reshape(-1, t)).reshape(-1, t + 1, t)
            pc, pk = np.repeat(pc[~final], sub.shape[0]), kids
        x, m, own = np.concatenate(xs), np.concatenate(ms), np.concatenate(owners)
        have = np.bincount(own, weights=m, minlength=st.n_cells)
        want = st.cell_masses()
        scale = np.where(have > 0, want / np.where(have > 0, have, 1.0), 0.0)
        m = m * scale[own]
        lost = (have <= 0) & (want > 0)  # rho0 vanishing at every point: keep its own points
        if lost.any():
            x = np.concatenate([x, st.points[lost].reshape(-1, self.dim)])
            m = np.concatenate([m, st.masses[lost].ravel()])
        return x, m

    def project(self, space, levels=None, limit: bool = True, readout: str = "fit") -> Density:
        r"""Mass-conservative deposit on a DG space: the :math:`L^2` projection of the measure.

        Coefficients :math:`c_K = M_K^{-1} b_K` with :math:`b_{K,i} = \sum_r m_r \phi_i(x_r)`
        over the points of :meth:`deposit_measure` in cell K. The basis is a partition of
        unity, so the deposited mass equals the measure's to round-off; the cell means are
        the masses per cell over the cell areas (non-negative), and with ``limit`` the
        Zhang–Shu limiter makes the values non-negative at the scheme's points (mass kept).

        Parameters
        ----------
        space : DG
        levels : int, optional
            Most subdivisions of the pieces that straddle cells of ``space``
            (see :meth:`deposit_measure`).
        limit : bool
        readout : {"fit", "p2"}
            The moved cell map (see :meth:`refined_measure`).

        Returns
        -------
        Density
        """
        if not isinstance(space, DG):
            raise ValueError(f"space must be a meanfield.DG, got {type(space).__name__}")
        if space.dim != self.dim:
            raise ValueError(f"space must lie in R^{self.dim}, got a mesh in R^{space.dim}")
        cells, xi, m = self._deposit_points(space, levels, readout)
        phi = space.tabulate(xi)
        b = np.zeros((space.mesh.n_cells, space.n_basis))
        np.add.at(b, cells, m[:, None] * phi)
        rho = Density(space, np.einsum("kij,kj->ki", space.mass_inverse, b))
        return rho.limit() if limit else rho

    def _deposit_points(self, space, levels, readout="fit"):
        """Cells (P',) and reference coordinates (P', t) in ``space`` of the deposit points,
        and their masses (P',) (see :meth:`deposit_measure`)."""
        x, m = self.deposit_measure(space, levels, readout)
        cells, xi = space.locate(x / np.linalg.norm(x, axis=1, keepdims=True))
        return cells, xi, m

    def __repr__(self) -> str:
        return (
            f"FlowMapDensity(t={self.time:g}, {self.n_cells} cells, mass={self.mass:.6g}, "
            f"{self.space!r})"
        )


#: Moved cell maps of the read-outs: "fit" through nodes and quadrature points
#: (:meth:`FlowMap.readout_maps`), "p2" the quadratic node map.
READOUTS = ("fit", "p2")


def _maps(st: FlowMap, readout: str, xi, cells=None, per_point: bool = False):
    """Moved points and the initial map's Jacobians of a read-out (see :data:`READOUTS`)."""
    if readout == "fit":
        x, _ = st.readout_maps(xi, cells, per_point)
        return x, st.initial_readout_jacobians(xi, cells, per_point)
    if per_point:
        return st.point_maps(cells, xi)[0], st.point_maps(cells, xi, initial=True)[1]
    return st.cell_maps(xi, cells=cells)[0], st.cell_maps(xi, initial=True, cells=cells)[1]


def _subdivided_rule(t: int, degree: int, refine: int) -> tuple[np.ndarray, np.ndarray]:
    """A basix rule of ``degree`` on each piece of the reference simplex cut ``refine`` times."""
    cell = basix.CellType.interval if t == 1 else basix.CellType.triangle
    xi, w = basix.make_quadrature(cell, degree)
    pieces = np.array([np.vstack([np.zeros(t), np.eye(t)])])
    for _ in range(refine):
        sub = subsimplices(t)
        pieces = affine_points(pieces, sub.reshape(-1, t)).reshape(-1, t + 1, t)
    pts = affine_points(pieces, xi).reshape(-1, t)
    return pts, np.tile(w, pieces.shape[0]) / pieces.shape[0]


def _clip_simplex(xi: np.ndarray) -> np.ndarray:
    """Project reference coordinates into the reference simplex (crudely: clip and rescale)."""
    xi = np.clip(xi, 0.0, 1.0)
    s = xi.sum(axis=1, keepdims=True)
    return np.where(s > 1.0, xi / np.where(s > 0, s, 1.0), xi)


def _child_coordinates(st: FlowMap, origin: np.ndarray, xi_o: np.ndarray):
    """The (possibly split) cell holding each origin point, and its coordinates there."""
    t = xi_o.shape[1]
    cells = np.full(origin.size, -1)
    xi = np.empty_like(xi_o)
    order = np.argsort(st.origin, kind="stable")
    starts = np.searchsorted(st.origin[order], np.arange(st.space.mesh.n_cells + 1))
    count = np.diff(starts)
    single = count[origin] == 1
    cells[single] = order[starts[origin[single]]]
    # for unsplit origins the corners are the reference vertices: coordinates unchanged
    xi[single] = xi_o[single]
    for i in np.flatnonzero(~single):
        kids = order[starts[origin[i]] : starts[origin[i] + 1]]
        C = st.corners[kids]  # (k, t+1, t)
        B = np.swapaxes(C[:, 1:] - C[:, :1], 1, 2)
        local = np.linalg.solve(B, (xi_o[i] - C[:, 0])[..., None])[..., 0]
        lam = np.concatenate([1.0 - local.sum(axis=1, keepdims=True), local], axis=1).min(axis=1)
        j = int(np.argmax(lam))
        cells[i], xi[i] = kids[j], local[j]
    return cells, _clip_simplex(xi) if t else xi
