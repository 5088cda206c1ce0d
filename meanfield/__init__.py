"""meanfield: transformers as interacting particle systems on the sphere.

Tokens on :math:`S^{d-1}` move under self-attention; as their number grows their distribution
solves a continuity equation. This package solves both: the token ODE (particles) and the
mean-field PDE (discontinuous Galerkin on spherical meshes).
"""

from . import diagnostics, field, harmonics, initial, plot, schemes, theory
from .app.sweep import sweep
from .compare import wasserstein
from .eulerian import DG, Density
from .initial import sample_sphere
from .model import Attention
from .solve import DensitySolution, Trajectory, solve_density, solve_particles
from .sphere import SphereMesh

__all__ = [
    "Attention",
    "DG",
    "Density",
    "DensitySolution",
    "SphereMesh",
    "Trajectory",
    "diagnostics",
    "field",
    "harmonics",
    "initial",
    "plot",
    "sample_sphere",
    "schemes",
    "solve_density",
    "solve_particles",
    "sweep",
    "theory",
    "wasserstein",
]
__version__ = "0.1.0"
