"""The solve verbs: :func:`solve_particles` (tokens) and ``solve_density`` (mean-field PDE).

Each verb validates its inputs, builds the right-hand side and hands it to a time-stepping scheme
from a registry; the schemes themselves hold no state of the solution.
"""

from __future__ import annotations

from .particles import Trajectory, solve_particles

__all__ = ["Trajectory", "solve_particles"]
