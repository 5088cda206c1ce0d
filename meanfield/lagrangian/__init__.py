"""The Lagrangian (flow-map) density solver: state, read-outs and the characteristic ODE.

See DESIGN.md §2c. :func:`solve_lagrangian` is reached through
``meanfield.solve_density(..., scheme="lagrangian")``; on a zonal mesh of :math:`S^{d-1}` the
flow map is that of the polar angle (:mod:`meanfield.lagrangian.zonal`).
"""

from .density import FlowMapDensity
from .solver import DISTORTED, FlowStats, default_step, flow_rhs, solve_lagrangian
from .state import FlowMap
from .zonal import ZonalFlowMap, ZonalFlowMapDensity

__all__ = [
    "DISTORTED",
    "FlowMap",
    "FlowMapDensity",
    "FlowStats",
    "ZonalFlowMap",
    "ZonalFlowMapDensity",
    "default_step",
    "flow_rhs",
    "solve_lagrangian",
]
