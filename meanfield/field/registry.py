r"""The registry of attention-field evaluators and the one validated entry point.

All evaluators compute the *ambient* field :math:`F(x)` of a weighted point measure (see
:mod:`meanfield.field.direct`); :func:`evaluate` projects it on the tangent space,
:math:`X(x) = P_x F(x)`. :data:`EVALUATORS` maps names to evaluators with the signature
``fn(model, x, y, w, **options) -> F`` (shapes (m, d), (n, d), (n,) -> (m, d)).
"""

from __future__ import annotations

import numpy as np

from .._checks import as_points, as_real_array, choose
from . import ducc
from .direct import direct_field
from .kernels import tangent
from .spectral import (
    SPECTRAL_OPTIONS,
    direct_cost,
    largest_radius,
    spectral_cost,
    spectral_field,
    truncation,
)

__all__ = [
    "EVALUATORS",
    "auto_field",
    "cheapest",
    "evaluate",
    "options_for",
    "source_weights",
]

#: Options each evaluator takes beyond ``workers`` and ``chunk_size`` ("auto" passes each
#: evaluator its own and drops the others).
OWN_OPTIONS = {"direct": (), "spectral": SPECTRAL_OPTIONS, "ducc": ducc.DUCC_OPTIONS}
_ALL_OPTIONS = {k for v in OWN_OPTIONS.values() for k in v}


def cheapest(model, x, y) -> str:
    r"""The evaluator ``"auto"`` runs for targets x and sources y: the least modelled cost.

    Direct summation (:func:`~meanfield.field.spectral.direct_cost`), the NumPy spectral
    evaluator (:func:`~meanfield.field.spectral.spectral_cost`) and, when ducc0 is
    installed, the ducc evaluator (:func:`~meanfield.field.ducc.ducc_cost`, with its number of
    Chebyshev terms in r when the radii :math:`|Ax|` differ). The expansions need d in {2, 3}
    and a degree up to :data:`~meanfield.field.spectral.MAX_DEGREE`.

    Parameters
    ----------
    model : Attention
    x : ndarray, shape (m, d)
    y : ndarray, shape (n, d)

    Returns
    -------
    {"direct", "spectral", "ducc"}
    """
    m, d = x.shape
    n = y.shape[0]
    costs = {"direct": direct_cost(m, n)}
    if d not in (2, 3) or costs["direct"] <= 1e-4:
        return "direct"  # no expansion, or too small for any transform's fixed cost
    try:
        L = truncation(largest_radius(model, x), d)
    except ValueError:
        return "direct"
    costs["spectral"] = spectral_cost(d, m, n, L)
    if ducc.available() and ducc.ducc_cost(d, m, n, L) < min(costs.values()):
        # one radial term is the best case: count the terms only when it could win
        costs["ducc"] = ducc.ducc_cost(d, m, n, L, ducc.radial_terms(model, x, L))
    return min(costs, key=costs.get)


def options_for(name: str, options: dict) -> dict:
    """The options evaluator ``name`` takes: its own and the shared ones (others dropped)."""
    own = OWN_OPTIONS[name]
    return {k: v for k, v in options.items() if k in own or k not in _ALL_OPTIONS}


def auto_field(model, x, y, w, **options):
    """The evaluator of least modelled cost (see :func:`cheapest`), with its own options."""
    name = cheapest(model, x, y)
    return EVALUATORS[name](model, x, y, w, **options_for(name, options))


#: Method name -> evaluator ``fn(model, x, y, w, **options)`` returning the ambient field.
EVALUATORS = {
    "direct": direct_field,
    "spectral": spectral_field,
    "ducc": ducc.ducc_field,
    "auto": auto_field,
}


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
