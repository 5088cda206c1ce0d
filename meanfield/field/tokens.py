r"""The attention field of token systems: the right-hand side of the token ODE.

:math:`\dot x_i = X[\mu_n](x_i)` with :math:`\mu_n = \frac1n\sum_j\delta_{x_j}`, for one system
(n, d) or a batch of B independent systems (B, n, d).
"""

from __future__ import annotations

import numpy as np

from .kernels import normalize, tangent, unshift
from .registry import EVALUATORS, cheapest, options_for

__all__ = ["BATCH_TILE", "batched_self_field", "token_rhs"]


def token_rhs(model, field: str = "auto", **options):
    r"""The token ODE right-hand side ``f(x)`` for states of shape (n, d) or (B, n, d).

    ``f`` evaluates the field at :math:`x/|x|` (a smooth extension off the sphere), so Runge–Kutta
    stages that leave the sphere by :math:`O(h^2)` keep the scheme's order. A leading batch
    axis holds B independent token systems (each its own empirical measure).

    ``field="auto"`` is resolved once per token count (:func:`~meanfield.field.registry.cheapest`
    at the first state): on the unit sphere the radii :math:`|Ax|` are at most
    :math:`\|A\|_2` (exactly :math:`\beta` when Q = K = I), so the choice depends only on the
    model and n, and the rule's own cost is not paid at every stage.
    """
    chosen: dict = {}

    def single(u):
        n = u.shape[0]
        if n not in chosen:
            name = cheapest(model, u, u) if field == "auto" else field
            chosen[n] = (
                EVALUATORS[name],
                options_for(name, options) if field == "auto" else options,
            )
        evaluator, opts = chosen[n]
        return evaluator(model, u, u, np.full(n, 1.0 / n), **opts)

    def f(x):
        u = normalize(x)
        if u.ndim == 2:
            return tangent(u, single(u))
        if field in ("auto", "direct") and u.shape[1] ** 2 <= BATCH_TILE:
            return tangent(u, batched_self_field(model, u))
        return tangent(u, np.stack([single(ui) for ui in u]))

    return f


#: Elements of the (b, n, n) logits block the batched evaluator holds at a time.
BATCH_TILE = 1 << 18


def batched_self_field(model, x) -> np.ndarray:
    r"""Ambient self-interaction field of B token systems at once, :math:`w_j = 1/n`.

    Vectorised over the batch with stacked matrix products; memory is bounded by
    :data:`BATCH_TILE` elements of logits (batch members are processed in groups).

    Parameters
    ----------
    model : Attention
    x : ndarray, shape (B, n, d)

    Returns
    -------
    F : ndarray, shape (B, n, d)
        Before the tangent projection (see :func:`meanfield.velocity.tangent`).
    """
    B, n, d = x.shape
    z = x @ model.interaction(d).T
    vy = x @ (model.value(d).T / n)
    group = max(1, BATCH_TILE // (n * n))
    out = np.empty_like(x)
    for s in range(0, B, group):
        logits = z[s : s + group] @ x[s : s + group].transpose(0, 2, 1)
        shift = logits.max(axis=2, keepdims=True)
        logits -= shift
        np.exp(logits, out=logits)
        num = logits @ vy[s : s + group]
        if model.normalized:
            out[s : s + group] = num / (logits.sum(axis=2, keepdims=True) / n)
        else:
            b = num.shape[0]
            flat = unshift(num.reshape(b * n, d), shift.reshape(b * n))
            out[s : s + group] = flat.reshape(b, n, d)
    return out
