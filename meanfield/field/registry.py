r"""The registry of attention-field evaluators and the one validated entry point.

All evaluators compute the *ambient* field :math:`F(x)` of a weighted point measure (see
:mod:`meanfield.field.direct`); :func:`evaluate` projects it on the tangent space,
:math:`X(x) = P_x F(x)`. :data:`EVALUATORS` maps names to evaluators with the signature
``fn(model, x, y, w, **options) -> F`` (shapes (m, d), (n, d), (n,) -> (m, d)).
"""

from __future__ import annotations

import numpy as np

from .._checks import as_points, as_real_array, choose
from .direct import direct_field
from .kernels import tangent
from .spectral import SPECTRAL_OPTIONS, prefer_spectral, spectral_field

__all__ = ["EVALUATORS", "auto_field", "evaluate", "source_weights"]


def auto_field(model, x, y, w, **options):
    """The spectral evaluator where it is cheaper (S^1/S^2, enough points), else direct."""
    if prefer_spectral(model, x, y):
        return spectral_field(model, x, y, w, **options)
    return direct_field(
        model, x, y, w, **{k: v for k, v in options.items() if k not in SPECTRAL_OPTIONS}
    )


#: Method name -> evaluator ``fn(model, x, y, w, **options)`` returning the ambient field.
EVALUATORS = {"direct": direct_field, "spectral": spectral_field, "auto": auto_field}


def evaluate(model, x, y=None, weights=None, method: str = "auto", **options) -> np.ndarray:
    """Validate inputs, run the chosen evaluator and project on the tangent space.

    See :meth:`meanfield.Attention.velocity` for the parameters.
    """
    choose(method, "method", EVALUATORS)
    x = as_points(x, "x", d=model.dim)
    y = x if y is None else as_points(y, "y", d=x.shape[1])
    w = source_weights(weights, y.shape[0])
    return tangent(x, EVALUATORS[method](model, x, y, w, **options))


def source_weights(weights, n: int) -> np.ndarray:
    """Validated source weights, shape (n,); ``None`` gives the empirical weights 1/n."""
    if weights is None:
        return np.full(n, 1.0 / n)
    w = as_real_array(weights, "weights", ndim=1)
    if w.shape[0] != n:
        raise ValueError(f"weights must have shape ({n},) to match y, got {w.shape}")
    if np.any(w < 0):
        raise ValueError(f"weights must be non-negative, got minimum {w.min():.3g}")
    if not np.any(w > 0):
        raise ValueError("weights must have a positive entry, got all zeros")
    return w
