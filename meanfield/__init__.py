"""meanfield: transformers as interacting particle systems on the sphere.

Tokens on :math:`S^{d-1}` move under self-attention; as their number grows their distribution
solves a continuity equation. This package solves both: the token ODE (particles) and the
mean-field PDE (discontinuous Galerkin on spherical meshes).
"""

from . import diagnostics, theory
from .compare import wasserstein
from .model import Attention
from .particles import sample_sphere
from .solve import Trajectory, solve_particles
from .sweep import sweep

__all__ = [
    "Attention",
    "Trajectory",
    "diagnostics",
    "sample_sphere",
    "solve_particles",
    "sweep",
    "theory",
    "wasserstein",
]
__version__ = "0.1.0"
