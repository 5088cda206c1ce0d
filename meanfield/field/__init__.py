"""The attention field of a weighted point measure: evaluators and their registry.

:func:`evaluate` is the validated entry point; :data:`EVALUATORS` maps ``"direct"``,
``"spectral"``, ``"ducc"`` and ``"auto"`` to evaluators ``fn(model, x, y, w, **options) -> F``
of the ambient field (tangent projection applied by :func:`evaluate`).
"""

from .direct import direct_field
from .ducc import ducc_field
from .kernels import UnnormalizedOverflowError, tangent
from .registry import EVALUATORS, evaluate
from .spectral import spectral_field

__all__ = [
    "EVALUATORS",
    "UnnormalizedOverflowError",
    "direct_field",
    "ducc_field",
    "evaluate",
    "spectral_field",
    "tangent",
]
