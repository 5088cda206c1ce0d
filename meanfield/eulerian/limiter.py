r"""The Zhang–Shu positivity limiter of DG densities."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from .dg import DG

__all__ = ["LIMITER_MARGIN", "ZhangShuLimiter"]

#: Relative margin the limiter keeps above zero, so round-off cannot make values negative.
LIMITER_MARGIN = 1e-12


class ZhangShuLimiter:
    r"""Zhang–Shu scaling limiter: non-negative values at the scheme's points, mass kept.

    In every cell with mean :math:`\bar\rho \ge 0`,
    :math:`\rho \leftarrow \bar\rho + \theta(\rho - \bar\rho)` with
    :math:`\theta = \min(1, \bar\rho / (\bar\rho - m))`, m the minimum over the volume
    quadrature points, the facet quadrature points (seen from either side) and the vertices.
    :math:`\theta` is reduced by a relative :data:`LIMITER_MARGIN` so that round-off cannot
    leave a negative value. Cells with a negative mean (which an admissible time step never
    produces) become constant.
    """

    def __init__(self, space: DG):
        self.space = space

    def __call__(self, c: np.ndarray) -> np.ndarray:
        """Limited copy of coefficients ``c`` (n_cells, n_basis)."""
        if self.space.degree == 0:
            return c
        mean = np.sum(self.space.mean_rows * c, axis=1)
        low = (c @ self.space.check_table).min(axis=1)
        bad = low < 0
        if not bad.any():
            return c
        theta = np.ones_like(mean)
        mb, lb = mean[bad], low[bad]
        pos = mb > 0  # (a mean <= 0 only arises from round-off: the cell becomes constant)
        theta[bad] = 0.0
        theta[np.flatnonzero(bad)[pos]] = mb[pos] * (1.0 - LIMITER_MARGIN) / (mb[pos] - lb[pos])
        return mean[:, None] + theta[:, None] * (c - mean[:, None])

    def admissible(self, c: np.ndarray) -> bool:
        """True when every cell mean is non-negative up to round-off of the largest mean."""
        mean = np.sum(self.space.mean_rows * c, axis=1)
        return bool(mean.min() >= -4.0 * np.finfo(float).eps * max(mean.max(), 0.0))
