"""Eulerian densities: the DG space and its :class:`Density`, the positivity limiter, upwind
transport, the interior-penalty Laplacian, exact sampling, and prescribed reference flows."""

from .dg import DG, Density
from .diffusion import SIPGLaplacian
from .limiter import ZhangShuLimiter
from .transport import UpwindTransport

__all__ = ["DG", "Density", "SIPGLaplacian", "UpwindTransport", "ZhangShuLimiter"]
