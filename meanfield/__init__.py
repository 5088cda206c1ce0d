"""meanfield: transformers as interacting particle systems on the sphere.

Tokens on :math:`S^{d-1}` move under self-attention; as their number grows their distribution
solves a continuity equation. This package solves both: the token ODE (particles) and the
mean-field PDE (discontinuous Galerkin on spherical meshes).
"""

from . import diagnostics, harmonics, initial, theory
from .compare import wasserstein
from .dg import DG, Density
from .mesh import SphereMesh
from .model import Attention
from .particles import sample_sphere
from .solve import DensitySolution, Trajectory, solve_density, solve_particles
from .sweep import sweep

__all__ = [
    "Attention",
    "DG",
    "Density",
    "DensitySolution",
    "SphereMesh",
    "Trajectory",
    "diagnostics",
    "harmonics",
    "initial",
    "sample_sphere",
    "solve_density",
    "solve_particles",
    "sweep",
    "theory",
    "wasserstein",
]
__version__ = "0.1.0"
