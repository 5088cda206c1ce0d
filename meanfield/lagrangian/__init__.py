"""The Lagrangian (flow-map) density solver: state, read-outs and the characteristic ODE.

See DESIGN.md §2c. :func:`solve_lagrangian` is reached through
``meanfield.solve_density(..., scheme="lagrangian")``.
"""

from .density import FlowMapDensity
from .solver import DISTORTED, FlowStats, default_step, flow_rhs, solve_lagrangian
from .state import FlowMap

__all__ = [
    "DISTORTED",
    "FlowMap",
    "FlowMapDensity",
    "FlowStats",
    "default_step",
    "flow_rhs",
    "solve_lagrangian",
]
