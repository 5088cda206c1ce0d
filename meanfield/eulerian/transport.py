r"""Upwind DG operator for :math:`\partial_t\rho + \operatorname{div}_S(\rho u) = 0` on the sphere.

For every cell K and basis function :math:`\phi` of the :class:`~meanfield.eulerian.dg.DG` space,

.. math::
    \frac{d}{dt}\int_K \rho\,\phi\,dS = \int_K \rho\, u\cdot\nabla_S\phi\,dS
        - \int_{\partial K} \rho^{up} (u\cdot n)\,\phi\,ds,

with n the outward co-normal and :math:`\rho^{up}` the trace from the cell that
:math:`u\cdot n` leaves. Each facet flux is computed once and added to one cell and subtracted
from the other, so mass is conserved to round-off. The operator is linear in :math:`\rho` for a
given velocity; it holds no state of the solution.
"""

from __future__ import annotations

import numpy as np

from .dg import DG

__all__ = ["UpwindTransport"]


class UpwindTransport:
    """The semi-discrete right-hand side ``dc/dt = L(c; u)`` on a DG space.

    Parameters
    ----------
    space : DG

    Notes
    -----
    The velocity is given at :attr:`DG.velocity_points` (volume quadrature points, then facet
    quadrature points): one evaluation per stage serves every cell and facet.
    """

    def __init__(self, space: DG):
        self.space = space
        s = space
        self._n_vol = s.n_volume_points
        self._vol_shape = s.quadrature.weights.shape + (s.dim,)
        self._fac_shape = s.facets.weights.shape + (s.dim,)
        self._left = s.mesh.topology.cells[:, 0]
        self._right = s.mesh.topology.cells[:, 1]
        # Weighted surface gradients W_q grad(phi_i)(x_q) as (n_cells, nq * d, n_basis), so the
        # volume term is one batched matrix-vector product.
        nk, nq = s.quadrature.weights.shape
        wgrad = s.grad * s.quadrature.weights[:, :, None, None]
        self._wgrad = np.ascontiguousarray(wgrad.transpose(0, 1, 3, 2).reshape(nk, nq * s.dim, -1))
        self._phi_t = np.ascontiguousarray(s.phi.T)
        self._slots = [np.ascontiguousarray(s.facet_slots[:, j]) for j in range(s.tdim + 1)]

    def __call__(self, c: np.ndarray, u: np.ndarray) -> np.ndarray:
        r"""Time derivative of the coefficients.

        Parameters
        ----------
        c : ndarray, shape (n_cells, n_basis)
        u : ndarray, shape (n_velocity_points, d)
            Tangent velocity at :attr:`DG.velocity_points`.

        Returns
        -------
        ndarray, shape (n_cells, n_basis)
        """
        s = self.space
        uv = u[: self._n_vol].reshape(self._vol_shape)
        uf = u[self._n_vol :].reshape(self._fac_shape)
        rho_u = (c @ self._phi_t)[..., None] * uv
        volume = (rho_u.reshape(len(c), 1, -1) @ self._wgrad)[:, 0]
        un = np.einsum("fqd,fd->fq", uf, s.facets.normals)
        rho_l = np.einsum("fqi,fi->fq", s.phi_left, c[self._left])
        rho_r = np.einsum("fqi,fi->fq", s.phi_right, c[self._right])
        flux = s.facets.weights * un * np.where(un > 0, rho_l, rho_r)
        out_l = np.einsum("fq,fqi->fi", flux, s.phi_left)
        in_r = np.einsum("fq,fqi->fi", flux, s.phi_right)
        sides = np.concatenate([-out_l, in_r])
        rhs = volume
        for slot in self._slots:
            rhs = rhs + sides[slot]
        return np.einsum("kij,kj->ki", s.mass_inverse, rhs)

    def max_speed(self, u: np.ndarray) -> float:
        """Largest speed :math:`\\max|u|` over the velocity points."""
        return float(np.sqrt(np.max(np.einsum("md,md->m", u, u))))


# ---------------------------------------------------------------------------------------------
