r"""Symmetric interior-penalty DG Laplacian on the curved meshes of :math:`S^1` and :math:`S^2`,
and its weighted form on the zonal mesh of :math:`S^{d-1}` (:class:`ZonalLaplacian`).

For the DG space of :class:`~meanfield.eulerian.dg.DG` (degree p on curved cells K) the
Laplace–Beltrami operator is discretised by the symmetric interior-penalty (SIPG) form

.. math::
    a(u, v) = \sum_K \int_K \nabla_S u\cdot\nabla_S v\,dS
        - \sum_F \int_F \left(\{\partial_n u\}[v] + \{\partial_n v\}[u]\right) ds
        + \sum_F \int_F \sigma_F\, [u][v]\, ds,

with :math:`[v] = v_L - v_R` and :math:`\{\partial_n u\} = \tfrac12(\nabla_S u_L +
\nabla_S u_R)\cdot n`, n the co-normal of the facet, outward for its left cell L. Along a
great-circle arc the co-normal is the same constant vector seen from both cells
(:math:`\pm(a\times b)/|a\times b|`), so the form is consistent on the curved mesh. The penalty
is :math:`\sigma_F = \eta\,(p+1)(p+t)/t\;\max(|F|/|K_L|, |F|/|K_R|)` (t the cell dimension,
:math:`\eta = 2`): above the trace-inverse bound, so A is positive semi-definite with kernel
the constants. For p = 0 the gradients vanish and SIPG degenerates; there the penalty is the
two-point flux :math:`\sigma_F = 1/\delta_F`, :math:`\delta_F` the geodesic distance between
the centres of the two cells (exact on uniform circles, first order in general).

Semi-discretely :math:`M\dot c = -D A c`. Because :math:`a(u, 1) = 0` (constants have no
gradient and no jump), every implicit step :math:`(M + \tau D A)\,y = M r` keeps the mass
:math:`\mathbf 1^T M y = \mathbf 1^T M r` to round-off. A is assembled once with
:mod:`scipy.sparse`; sparse LU factorisations of :math:`M + \tau A` are cached per
:math:`\tau`, and each solve adds the constant that restores the mass the LU round-off moved
(a correction of order 1e-16), so the mass is kept to the last bits.
"""

from __future__ import annotations

import weakref
from collections import OrderedDict

import numpy as np
import scipy.sparse as sp
from scipy.sparse.linalg import splu

from ..sphere.geometry import curved_map, surface_gradients
from ..sphere.quadrature import facet_reference_points

__all__ = ["PENALTY", "SIPGLaplacian", "ZonalLaplacian", "laplacian"]

#: Safety factor :math:`\eta` of the interior penalty over the trace-inverse bound.
PENALTY = 2.0

#: Factorisations of :math:`M + \tau A` kept at a time (one per distinct step size).
CACHE_SIZE = 8


class SIPGLaplacian:
    r"""SIPG stiffness matrix A (:math:`a(u, v) \approx -\int v\,\Delta_S u`), implicit solves.

    Parameters
    ----------
    space : DG
        The DG space (any degree 0, 1, 2) on a circle or sphere mesh.
    penalty : float
        Safety factor :math:`\eta` of the penalty (see the module docstring).

    Attributes
    ----------
    matrix : scipy.sparse.csr_matrix, shape (n_dofs, n_dofs)
        Symmetric positive semi-definite A; dof ``k * n_basis + i`` is basis i of cell k.
    mass : scipy.sparse.csr_matrix, shape (n_dofs, n_dofs)
        Block-diagonal mass matrix M.
    """

    def __init__(self, space, penalty: float = PENALTY):
        from .dg import DG

        if not isinstance(space, DG):
            raise ValueError(f"space must be a meanfield.DG, got {type(space).__name__}")
        if space.mesh.kind == "zonal":
            raise ValueError(
                "SIPGLaplacian is for circle and sphere meshes; on a zonal mesh use "
                "ZonalLaplacian (or laplacian(space), which chooses)"
            )
        self.space = space
        self.penalty = float(penalty)
        nb = space.n_basis
        self._nb = nb
        blocks = np.linalg.inv(space.mass_inverse)
        self.mass = _block_diagonal(blocks)
        self.matrix = (_volume_matrix(space) + self._facet_matrix()).tocsr()
        # mass functional 1^T M and the mass of the constant 1
        self._mass_row = np.asarray(self.mass.sum(axis=0)).ravel()
        self._unit_mass = float(self._mass_row.sum())
        self._cache = OrderedDict()

    # ------------------------------------------------------------------ assembly
    def _facet_gradients(self):
        """Normal derivatives of the basis of each side at the facet points, (nf, nqf, nb) x 2."""
        s = self.space
        mesh = s.mesh
        top = mesh.topology
        tdim = s.tdim
        param = s.facets.parameters
        verts = mesh.points[mesh.cells]
        n = s.facets.normals
        out = []
        for side, par in ((0, param), (1, param if tdim == 1 else 1.0 - param)):
            refs = facet_reference_points(tdim, par)
            g = np.empty(s.phi_left.shape)
            for local in range(tdim + 1):
                sel = np.flatnonzero(top.local[:, side] == local)
                if sel.size == 0:
                    continue
                cells = top.cells[sel, side]
                _, J = curved_map(verts[cells], refs[local])
                ref_grad = np.moveaxis(s.tabulate(refs[local], 1)[1:], 0, -1)
                grad = surface_gradients(J, ref_grad)  # (m, nqf, nb, d)
                g[sel] = np.einsum("mqbd,md->mqb", grad, n[sel])
            out.append(g)
        return out

    def _penalty(self):
        """Penalty :math:`\\sigma_F` per facet, shape (n_facets,)."""
        s = self.space
        top = s.mesh.topology
        areas = s.mesh.areas
        length = s.facets.weights.sum(axis=1)
        p, t = s.degree, s.tdim
        if p == 0:
            centres = s.mesh.points[s.mesh.cells].sum(axis=1)
            centres /= np.linalg.norm(centres, axis=1, keepdims=True)
            cosine = np.sum(centres[top.cells[:, 0]] * centres[top.cells[:, 1]], axis=1)
            return 1.0 / np.arccos(np.clip(cosine, -1.0, 1.0))
        ratio = np.maximum(length / areas[top.cells[:, 0]], length / areas[top.cells[:, 1]])
        return self.penalty * (p + 1) * (p + t) / t * ratio

    def _facet_matrix(self) -> sp.coo_matrix:
        s = self.space
        top = s.mesh.topology
        nb = self._nb
        w = s.facets.weights
        phi = (s.phi_left, s.phi_right)
        dn = self._facet_gradients()
        sign = (1.0, -1.0)
        sigma = self._penalty()[:, None]
        rows, cols, vals = [], [], []
        for a in range(2):
            for b in range(2):
                # test (a, i), trial (b, j):
                # -1/2 dn_b_j s_a phi_a_i - 1/2 dn_a_i s_b phi_b_j + sigma s_a s_b phi_a_i phi_b_j
                sa, sb = sign[a], sign[b]
                blk = (
                    -0.5 * sa * np.einsum("fq,fqi,fqj->fij", w, phi[a], dn[b])
                    - 0.5 * sb * np.einsum("fq,fqi,fqj->fij", w, dn[a], phi[b])
                    + sa * sb * np.einsum("fq,fqi,fqj->fij", w * sigma, phi[a], phi[b])
                )
                r = top.cells[:, a, None] * nb + np.arange(nb)
                c = top.cells[:, b, None] * nb + np.arange(nb)
                rows.append(np.broadcast_to(r[:, :, None], blk.shape).ravel())
                cols.append(np.broadcast_to(c[:, None, :], blk.shape).ravel())
                vals.append(blk.ravel())
        n = s.n_dofs
        return sp.coo_matrix(
            (np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))), shape=(n, n)
        )

    # ------------------------------------------------------------------ use
    def apply(self, c: np.ndarray) -> np.ndarray:
        r""":math:`-M^{-1} A c`, the discrete :math:`\Delta_S` of c (n_cells, n_basis)."""
        y = self.matrix @ c.ravel()
        return -np.einsum("kij,kj->ki", self.space.mass_inverse, y.reshape(c.shape))

    def solve(self, tau: float, c: np.ndarray) -> np.ndarray:
        r"""Coefficients y with :math:`(M + \tau A)\,y = M c` (one backward-Euler step of size
        :math:`\tau/D` for :math:`\dot\rho = D\Delta_S\rho`).

        Parameters
        ----------
        tau : float
            :math:`\tau \ge 0` (step times diffusion constant).
        c : ndarray, shape (n_cells, n_basis)
        """
        if tau == 0.0:
            return c.copy()
        rhs = self.mass @ c.ravel()
        y = self.factor(tau).solve(rhs)
        # restore 1^T M y = 1^T M c (a(u, 1) = 0 exactly; the LU leaves ~1e-16 relative)
        y += (rhs.sum() - self._mass_row @ y) / self._unit_mass
        return y.reshape(c.shape)

    def factor(self, tau: float):
        """Sparse LU of :math:`M + \\tau A` (cached for the last few values of tau)."""
        key = float(tau)
        lu = self._cache.get(key)
        if lu is None:
            lu = splu((self.mass + key * self.matrix).tocsc())
            self._cache[key] = lu
            if len(self._cache) > CACHE_SIZE:
                self._cache.popitem(last=False)
        else:
            self._cache.move_to_end(key)
        return lu


def _block_diagonal(blocks: np.ndarray) -> sp.csr_matrix:
    nk, nb, _ = blocks.shape
    base = np.arange(nk)[:, None, None] * nb
    r = np.broadcast_to(base + np.arange(nb)[None, :, None], blocks.shape)
    c = np.broadcast_to(base + np.arange(nb)[None, None, :], blocks.shape)
    n = nk * nb
    return sp.coo_matrix((blocks.ravel(), (r.ravel(), c.ravel())), shape=(n, n)).tocsr()


def _volume_matrix(space) -> sp.csr_matrix:
    """Block diagonal :math:`\\int_K \\nabla_S\\phi_i\\cdot\\nabla_S\\phi_j\\,dS`."""
    W = space.quadrature.weights
    blocks = np.einsum("kq,kqid,kqjd->kij", W, space.grad, space.grad)
    return _block_diagonal(blocks)


_LAPLACIANS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def laplacian(space) -> SIPGLaplacian | ZonalLaplacian:
    """The Laplacian of a DG space (:class:`ZonalLaplacian` on a zonal mesh, else
    :class:`SIPGLaplacian`), assembled once per space and reused.

    Repeated solves on one space (a stationarity loop, a noise sweep) share the matrix and its
    cached factorisations.
    """
    lap = _LAPLACIANS.get(space)
    if lap is None:
        kind = ZonalLaplacian if space.mesh.kind == "zonal" else SIPGLaplacian
        lap = _LAPLACIANS[space] = kind(space)
    return lap


class ZonalLaplacian(SIPGLaplacian):
    r"""Weighted interior-penalty Laplacian on the zonal mesh, in the mesh's unknown g.

    On the zonal mesh of :math:`S^{d-1}` the DG unknown is the line density
    :math:`g = w\,\rho` of the polar angle, :math:`w = c_d\sin^{d-2}\theta`
    (:mod:`meanfield.sphere.zonal`), and :math:`\partial_t\rho = D\Delta_S\rho =
    D\,w^{-1}\partial_\theta(w\,\partial_\theta\rho)` reads

    .. math::
        \partial_t g = D\,\partial_\theta J(g), \qquad
        J(g) = w\,\partial_\theta(g/w) = \partial_\theta g - V' g, \qquad
        V' = (\log w)' = (d-2)\cot\theta .

    The weighted SIPG form of :math:`-\int v\,\partial_\theta(w\,\partial_\theta u)` with
    trial :math:`u = g/w` and polynomial test v, written in g (at a facet
    :math:`w_F[u] = [g]` and :math:`w\,u' = J(g)`, so the weight enters only through its
    logarithmic derivative and no :math:`\sin^{d-2}` is ever formed: finite for d = 1024), is

    .. math::
        a(g, v) = \sum_K\int_K J(g)\,v'\,d\theta
            - \sum_F \left(\hat J_F\,[v] + \{v'\}[g]\right) + \sum_F \sigma_F [g][v],
        \qquad \hat J_F = \{g'\} - V'(\theta_F)\,g^{\uparrow},

    over the interior facets only: the flux vanishes at the poles (:math:`w = 0` there, the
    pole facets carry no flux). The drift part of the flux takes the upwind value
    :math:`g^{\uparrow}` for the velocity :math:`D V'` (towards the equator) instead of the
    mean: the same form for small d, and stable where the cell Péclet number
    :math:`(d-2)\cot\theta\,\Delta\theta` is large (d = 1024). A is not symmetric; its columns
    sum against constants to zero (:math:`a(g, 1) = 0`, the facet flux is single valued), so
    :math:`(M + \tau A)y = Mc` keeps the mass :math:`\int g\,d\theta` to round-off. The
    discrete kernel approximates :math:`g \propto w` (uniform :math:`\rho`). The penalty is
    :math:`\sigma_F = \eta(p+1)^2\max(1/\Delta\theta_L, 1/\Delta\theta_R)`; for p = 0 the
    two-point flux :math:`1/\delta_F` (:math:`\delta_F` the distance of the cell centres).
    Volume integrals use Gauss–Legendre with p + 4 points per cell (V' is not polynomial;
    its pole singularity :math:`\sim (d-2)/\theta` is integrable against the polynomial
    g, whose exact counterpart vanishes like :math:`\theta^{d-2}`).

    Parameters
    ----------
    space : DG
        A DG space (degree 0, 1, 2) on a zonal mesh.
    penalty : float
        Safety factor :math:`\eta`.
    """

    def __init__(self, space, penalty: float = PENALTY):
        from .dg import DG

        if not isinstance(space, DG) or space.mesh.kind != "zonal":
            raise ValueError(
                "space must be a meanfield.DG on a zonal mesh, got "
                f"{getattr(getattr(space, 'mesh', None), 'kind', type(space).__name__)!r}"
            )
        self.space = space
        self.penalty = float(penalty)
        self._nb = space.n_basis
        self.mass = _block_diagonal(np.linalg.inv(space.mass_inverse))
        self.matrix = (self._zonal_volume() + self._zonal_facets()).tocsr()
        #: Mass moved by the positivity step of :meth:`solve`, relative, summed over calls.
        self.clipped = 0.0
        self._mass_row = np.asarray(self.mass.sum(axis=0)).ravel()
        self._unit_mass = float(self._mass_row.sum())
        self._cache = OrderedDict()

    def solve(self, tau: float, c: np.ndarray) -> np.ndarray:
        r"""As :meth:`SIPGLaplacian.solve`, then non-negative cell means, mass kept.

        The form is not monotone for p >= 1: where the mesh under-resolves
        :math:`g \sim \theta^{d-2}` near a pole (coarse polar cells at d >= 8) a step can leave
        slightly negative cell means there (an exact solve of the same system gives the same
        values, so it is the discretisation, not the LU). Such cells are set to zero and the
        other cells scaled by the factor that restores the mass; the limiter then sees
        admissible means. The mass so moved, relative to the total, is added up in
        :attr:`clipped`. Measured on the Gegenbauer heat problem of the tests (D = 0.2,
        T = 0.5, 64 solves): none at d = 3 and for p = 2 at d = 8; at d = 8, p = 1: 2.5e-4 with
        16 cells (where the L2 error is 1.3e-2), 1.9e-5 with 32; at d = 32 and 1024 (cells
        refined about the equator) 2e-9 or less.
        """
        y = super().solve(tau, c)
        if tau == 0.0:
            return y
        space = self.space
        means = np.sum(space.mean_rows * y, axis=1)
        negative = means < 0
        if negative.any():
            total = float(self._mass_row @ y.ravel())
            if total > 0:
                self.clipped += float(-(means[negative] @ space.areas[negative]) / total)
            y[negative] = 0.0
            kept = float(self._mass_row @ y.ravel())
            if kept > 0 and total > 0:
                y *= total / kept
        return y

    def _drift(self, theta: np.ndarray) -> np.ndarray:
        """:math:`V'(\\theta) = (d-2)\\cot\\theta` (0 for d = 2)."""
        return (self.space.mesh.d - 2) / np.tan(theta)

    def _zonal_volume(self) -> sp.csr_matrix:
        from numpy.polynomial.legendre import leggauss

        s = self.space
        mesh = s.mesh
        t, w = leggauss(s.degree + 4)
        xi = 0.5 * (t + 1.0)
        tab = s.tabulate(xi[:, None], 1)
        phi, dphi = tab[0], tab[1]  # (nq, nb); d/dxi
        h = mesh.areas[:, None, None]
        theta = mesh.cell_angles(xi[:, None])  # (n, nq)
        weights = 0.5 * w[None, :] * mesh.areas[:, None]  # dtheta
        drift = self._drift(theta)
        # test v' = dphi_i / h, trial J = dphi_j / h - V' phi_j
        stiff = np.einsum("q,qi,qj->ij", 0.5 * w, dphi, dphi)[None] / h
        transport = np.einsum("kq,kq,qi,qj->kij", weights, drift, dphi, phi) / h
        return _block_diagonal(stiff - transport)

    def _zonal_facets(self) -> sp.coo_matrix:
        s = self.space
        mesh = s.mesh
        nb, p = self._nb, s.degree
        n = mesh.n_cells
        left, right = np.arange(n - 1), np.arange(1, n)  # interior facet k + 1
        theta_f = mesh.breakpoints[1:-1]
        tab1 = s.tabulate(np.array([[1.0]]), 1)
        tab0 = s.tabulate(np.array([[0.0]]), 1)
        # traces (values, theta-derivatives) of the left cell at xi = 1, the right at xi = 0
        val = (np.broadcast_to(tab1[0, 0], (n - 1, nb)), np.broadcast_to(tab0[0, 0], (n - 1, nb)))
        der = (
            tab1[1, 0][None] / mesh.areas[left, None],
            tab0[1, 0][None] / mesh.areas[right, None],
        )
        hl, hr = mesh.areas[left], mesh.areas[right]
        if p == 0:
            sigma = 2.0 / (hl + hr)
        else:
            sigma = self.penalty * (p + 1) ** 2 * np.maximum(1.0 / hl, 1.0 / hr)
        drift = self._drift(theta_f)
        up = (drift > 0).astype(float)  # weight of the left trace in the upwind value
        upwind = (up, 1.0 - up)
        sign = (1.0, -1.0)
        cells = (left, right)
        rows, cols, vals = [], [], []
        for a in range(2):  # test side
            for b in range(2):  # trial side
                sa, sb = sign[a], sign[b]
                blk = (
                    -sa * np.einsum("f,fi,fj->fij", 0.5 * np.ones(n - 1), val[a], der[b])
                    + sa * np.einsum("f,fi,fj->fij", drift * upwind[b], val[a], val[b])
                    - sb * np.einsum("f,fi,fj->fij", 0.5 * np.ones(n - 1), der[a], val[b])
                    + sa * sb * np.einsum("f,fi,fj->fij", sigma, val[a], val[b])
                )
                r = cells[a][:, None] * nb + np.arange(nb)
                c = cells[b][:, None] * nb + np.arange(nb)
                rows.append(np.broadcast_to(r[:, :, None], blk.shape).ravel())
                cols.append(np.broadcast_to(c[:, None, :], blk.shape).ravel())
                vals.append(blk.ravel())
        size = s.n_dofs
        return sp.coo_matrix(
            (np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))),
            shape=(size, size),
        )
