"""Sphere meshes: :class:`SphereMesh` (circle, icosphere, zonal, read, from_arrays), their
validation, topology, curved cell geometry and quadrature."""

from .mesh import SphereMesh
from .zonal import ZonalMesh

__all__ = ["SphereMesh", "ZonalMesh"]
