"""Sphere meshes: :class:`SphereMesh` (circle, icosphere, read, from_arrays), their validation,
topology, curved cell geometry and quadrature."""

from .mesh import SphereMesh

__all__ = ["SphereMesh"]
