"""Eulerian densities: the DG space and its :class:`Density`, the positivity limiter, upwind
transport, exact sampling, and prescribed reference flows."""

from .dg import DG, Density
from .limiter import ZhangShuLimiter
from .transport import UpwindTransport

__all__ = ["DG", "Density", "UpwindTransport", "ZhangShuLimiter"]
