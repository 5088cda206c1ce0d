r"""Evaluators of the attention field for a weighted point measure.

All evaluators compute the *ambient* field

.. math::
    F(x) = \frac{\sum_j w_j e^{\langle A x, y_j\rangle} V y_j}
                {\sum_j w_j e^{\langle A x, y_j\rangle}}
    \quad (\text{SA}), \qquad
    F(x) = \sum_j w_j e^{\langle A x, y_j\rangle} V y_j \quad (\text{USA}),

with :math:`A = \beta K^T Q`; :func:`evaluate` projects it on the tangent space,
:math:`X(x) = P_x F(x)`. The registry :data:`EVALUATORS` maps method names to evaluators with the
signature ``fn(model, x, y, w, **options) -> F`` (shapes (m, d), (n, d), (n,) -> (m, d)).
"""

from __future__ import annotations

import numpy as np

from ._checks import as_int, as_points, as_real_array, choose

__all__ = ["evaluate", "direct_field", "tangent", "EVALUATORS", "UnnormalizedOverflowError"]

#: Elements of one logits tile (rows x columns) held at a time by the direct evaluator.
DIRECT_TILE = 1 << 16
#: Largest exponent whose exponential is finite in float64.
_EXP_MAX = np.log(np.finfo(float).max)


class UnnormalizedOverflowError(ValueError, OverflowError):
    """USA weights :math:`e^{\\beta\\langle Qx,Ky\\rangle}` exceed the float64 range."""


def tangent(x: np.ndarray, F: np.ndarray) -> np.ndarray:
    r"""Tangent projection :math:`P_x F = F - x\langle x, F\rangle`; shapes (..., d)."""
    return F - x * np.sum(x * F, axis=-1, keepdims=True)


def direct_field(model, x, y, w, chunk_size: int | None = None) -> np.ndarray:
    r"""Ambient field by direct summation, O(m n) exponentials in bounded memory.

    Logits are processed in tiles of at most ``chunk_size`` elements with an online
    (max-shifted) softmax, so nothing of size m x n is ever allocated and large
    :math:`\beta` cannot overflow in SA.

    Parameters
    ----------
    model : Attention
    x : ndarray, shape (m, d)
        Targets.
    y : ndarray, shape (n, d)
        Sources.
    w : ndarray, shape (n,)
        Non-negative source weights.
    chunk_size : int, optional
        Tile size in elements (default :data:`DIRECT_TILE`).

    Returns
    -------
    F : ndarray, shape (m, d)
    """
    tile = DIRECT_TILE if chunk_size is None else as_int(chunk_size, "chunk_size", min_value=1)
    keep = w > 0  # zero-weight sources would otherwise set the softmax shift
    y, w = y[keep], w[keep]
    m, d = x.shape
    n = y.shape[0]
    z = x @ model.interaction(d).T
    wVy = w[:, None] * (y @ model.value(d).T)
    cols = min(n, max(1, tile))
    rows = max(1, tile // cols)
    out = np.empty((m, d))
    for s in range(0, m, rows):
        out[s : s + rows] = _tile_rows(z[s : s + rows], y, w, wVy, cols, model.normalized)
    return out


def _tile_rows(z, y, w, wVy, cols, normalized):
    r = z.shape[0]
    shift = np.full(r, -np.inf)
    num = np.zeros((r, y.shape[1]))
    den = np.zeros(r)
    for c in range(0, y.shape[0], cols):
        logits = z @ y[c : c + cols].T
        new = np.maximum(shift, logits.max(axis=1))
        rescale = np.exp(shift - new)  # exp(-inf) = 0 on the first tile
        num *= rescale[:, None]
        den *= rescale
        logits -= new[:, None]
        np.exp(logits, out=logits)
        num += logits @ wVy[c : c + cols]
        den += logits @ w[c : c + cols]
        shift = new
    if normalized:
        return num / den[:, None]
    return _unshift(num, shift)


def _unshift(num, shift):
    """USA: multiply back the softmax shift, refusing to overflow."""
    scale = np.max(np.abs(num), axis=1)
    with np.errstate(divide="ignore"):
        top = shift + np.log(np.where(scale > 0, scale, 1.0))
    if np.max(top) >= _EXP_MAX:
        raise UnnormalizedOverflowError(
            "unnormalized attention (USA) overflows float64: beta * <Qx, Ky> reaches "
            f"{float(np.max(shift)):.1f}, and e^{float(np.max(top)):.1f} exceeds the largest "
            "double "
            f"(e^{_EXP_MAX:.1f}); use normalized=True (SA) or a smaller beta"
        )
    return num * np.exp(shift)[:, None]


def _spectral(model, x, y, w, **options):
    from .spectral import spectral_field

    return spectral_field(model, x, y, w, **options)


def _auto(model, x, y, w, **options):
    from .spectral import prefer_spectral

    if prefer_spectral(model, x, y):
        return _spectral(model, x, y, w, **options)
    return direct_field(model, x, y, w, **options)


#: Method name -> evaluator ``fn(model, x, y, w, **options)`` returning the ambient field.
EVALUATORS = {"direct": direct_field, "spectral": _spectral, "auto": _auto}


def evaluate(model, x, y=None, weights=None, method: str = "auto", **options) -> np.ndarray:
    """Validate inputs, run the chosen evaluator and project on the tangent space.

    See :meth:`meanfield.Attention.velocity` for the parameters.
    """
    choose(method, "method", EVALUATORS)
    x = as_points(x, "x", d=model.dim)
    y = x if y is None else as_points(y, "y", d=x.shape[1])
    w = _weights(weights, y.shape[0])
    return tangent(x, EVALUATORS[method](model, x, y, w, **options))


def _weights(weights, n: int) -> np.ndarray:
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
