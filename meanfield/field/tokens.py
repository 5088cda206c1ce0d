r"""The attention field of token systems: the right-hand side of the token ODE.

:math:`\dot x_i = X[\mu_n](x_i)` with :math:`\mu_n = \frac1n\sum_j\delta_{x_j}`, for one system
(n, d) or a batch of B independent systems (B, n, d).
"""

from __future__ import annotations

import numpy as np

from .direct import FIXED_SHIFT_MAX
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
    z = x * model.beta if model.Q is None and model.K is None else x @ model.interaction(d).T
    # one product gives numerator (first d columns) and denominator (last column)
    rhs = np.empty((B, n, d + 1))
    rhs[..., :d] = x if model.V is None else x @ model.value(d).T
    rhs[..., d] = 1.0
    # a priori bound |z_i| max_j |x_j| on each row's logits: below FIXED_SHIFT_MAX it is the
    # shift itself (e^{-2 bound} stays a normal float), which saves the running maximum
    bound = np.sqrt(np.einsum("bnd,bnd->bn", z, z)) * np.sqrt(
        np.einsum("bnd,bnd->bn", x, x).max(axis=1, keepdims=True)
    )
    fixed = bool(bound.max() <= FIXED_SHIFT_MAX)
    group = max(1, BATCH_TILE // (n * n))
    out = np.empty_like(x)
    for s in range(0, B, group):
        g = slice(s, s + group)
        logits = z[g] @ x[g].transpose(0, 2, 1)
        shift = bound[g, :, None] if fixed else logits.max(axis=2, keepdims=True)
        logits -= shift
        np.exp(logits, out=logits)
        acc = logits @ rhs[g]
        if model.normalized:
            out[g] = acc[..., :d] / acc[..., d:]
        else:
            b = acc.shape[0]
            flat = unshift(acc[..., :d].reshape(b * n, d) / n, shift.reshape(b * n))
            out[g] = flat.reshape(b, n, d)
    return out
