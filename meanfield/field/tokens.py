r"""The attention field of token systems: the right-hand side of the token ODE.

:math:`\dot x_i = X[\mu_n](x_i)` with :math:`\mu_n = \frac1n\sum_j\delta_{x_j}`, for one system
(n, d) or a batch of B independent systems (B, n, d).

A batch is integrated token-last, shape (B, d, n) (:func:`token_ode`): with d <= 4 every
elementwise pass (Runge–Kutta stages, the projection, the dense output) then runs along the n
tokens instead of along d, and the (n, n) products of the attention are plain contiguous
matrix products.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from .direct import FIXED_SHIFT_MAX
from .kernels import normalize, tangent, unshift
from .registry import EVALUATORS, cheapest, options_for

__all__ = [
    "BATCH_TILE",
    "TokenODE",
    "batched_self_field",
    "column_field",
    "column_rhs",
    "token_ode",
    "token_rhs",
    "unit_columns",
]


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
        if _batched(field, u.shape[1]):
            return tangent(u, batched_self_field(model, u, radius=1.0))
        return tangent(u, np.stack([single(ui) for ui in u]))

    return f


#: Elements of the (b, n, n) logits block the batched evaluator holds at a time.
BATCH_TILE = 1 << 18


def _batched(field: str, n: int) -> bool:
    """Whether B systems of n tokens take the batched direct evaluator."""
    return field in ("auto", "direct") and n * n <= BATCH_TILE


@dataclass(frozen=True)
class TokenODE:
    """The token ODE in the layout it is integrated in.

    Attributes
    ----------
    y0 : ndarray
        Initial state: the tokens (n, d) or (B, n, d), or token-last (B, d, n).
    rhs : callable
        ``rhs(y) -> dy/dt``, same shape as y.
    project : callable
        The radial projection onto the sphere in that layout (any leading axes).
    restore : callable
        Stacked states (..., *y0.shape) -> tokens (..., n, d) or (..., B, n, d).
    """

    y0: np.ndarray
    rhs: Callable
    project: Callable
    restore: Callable


def token_ode(model, x0, field: str = "auto", **options) -> TokenODE:
    r"""The token ODE for initial tokens ``x0`` (n, d) or (B, n, d), in its fastest layout.

    A batch that takes the batched direct evaluator is integrated token-last (B, d, n) with
    :func:`column_field` and :func:`unit_columns`; anything else keeps the layout of ``x0``
    with :func:`token_rhs` and :func:`~meanfield.field.kernels.normalize`. Both give the same
    trajectories up to rounding.
    """
    if x0.ndim == 3 and _batched(field, x0.shape[1]):
        return TokenODE(
            y0=np.ascontiguousarray(np.swapaxes(x0, 1, 2)),
            rhs=column_rhs(model),
            project=unit_columns,
            restore=lambda ys: np.ascontiguousarray(np.swapaxes(ys, -1, -2)),
        )
    return TokenODE(x0, token_rhs(model, field, **options), normalize, lambda ys: ys)


def unit_columns(y: np.ndarray) -> np.ndarray:
    """Radial projection of token-last states (..., d, n): each column scaled to length 1."""
    return y / np.sqrt(np.einsum("...dn,...dn->...n", y, y))[..., None, :]


def column_rhs(model):
    r"""``f(y)`` of the token ODE for B systems stored token-last, y of shape (B, d, n).

    The field at the unit columns :math:`u = y/|y|`, tangent-projected:
    :math:`f_i = F_i - u_i\langle u_i, F_i\rangle` (the same extension off the sphere as
    :func:`token_rhs`).
    """

    def f(y):
        u = unit_columns(y)
        F = column_field(model, u, radius=1.0)
        F -= u * np.einsum("bdn,bdn->bn", u, F)[:, None, :]
        return F

    return f


def batched_self_field(model, x, radius=None) -> np.ndarray:
    r"""Ambient self-interaction field of B token systems at once, :math:`w_j = 1/n`.

    Parameters
    ----------
    model : Attention
    x : ndarray, shape (B, n, d)
    radius : float, optional
        An upper bound on the token norms :math:`|x_j|` (1 for points on the sphere; None:
        computed from x).

    Returns
    -------
    F : ndarray, shape (B, n, d)
        Before the tangent projection (see :func:`meanfield.field.kernels.tangent`).
    """
    xt = np.ascontiguousarray(np.swapaxes(x, 1, 2))
    return np.ascontiguousarray(np.swapaxes(column_field(model, xt, radius), 1, 2))


def column_field(model, x, radius=None) -> np.ndarray:
    r"""Ambient self-interaction field of B token systems stored token-last, :math:`w_j = 1/n`.

    With :math:`W_{ji} = \langle x_j, A x_i\rangle` (column i: the logits of target i) and the
    value columns :math:`[V x_j; 1]`, one product :math:`[Vx; 1]\,e^{W}` gives the numerators
    (first d rows) and the SA denominators (last row); memory is bounded by
    :data:`BATCH_TILE` elements of logits (batch members are processed in groups).

    No shift is needed when the logits are bounded a priori: :math:`|W_{ji}| \le
    \|A\|_2 r^2 = b` with r the largest norm, and for :math:`b \le` :data:`FIXED_SHIFT_MAX`
    every :math:`e^{W}` lies in :math:`[e^{-b}, e^{b}]`, normal floats whose sums cannot
    overflow (a constant shift would cancel in SA and be multiplied back in USA: the same
    values with one pass over the logits fewer). Past that bound each target is shifted by
    its running maximum (and USA multiplies it back through
    :func:`~meanfield.field.kernels.unshift`, refusing to overflow).

    Parameters
    ----------
    model : Attention
    x : ndarray, shape (B, d, n)
    radius : float, optional
        An upper bound on the token norms (None: computed from x). It only decides whether
        the shift is needed, with a margin of 2 in the exponent (overflow is at 709).

    Returns
    -------
    F : ndarray, shape (B, d, n)
        Before the tangent projection.
    """
    B, d, n = x.shape
    plain = model.Q is None and model.K is None
    A = None if plain else model.interaction(d)
    z = x * model.beta if plain else A @ x  # columns A x_i
    if radius is None:
        radius = np.sqrt(np.max(np.einsum("bdn,bdn->bn", x, x), initial=0.0))
    bound = (model.beta if plain else np.linalg.norm(A, 2)) * radius**2
    shifted = not bound <= FIXED_SHIFT_MAX
    rhs = np.empty((B, d + 1, n))
    rhs[:, :d] = x if model.V is None else model.value(d) @ x
    rhs[:, d] = 1.0
    rows = np.swapaxes(x, 1, 2)  # (B, n, d): source rows x_j
    group = max(1, BATCH_TILE // (n * n))
    out = np.empty_like(x)
    for s in range(0, B, group):
        g = slice(s, s + group)
        W = rows[g] @ z[g]
        shift = W.max(axis=1, keepdims=True) if shifted else None
        if shifted:
            W -= shift
        np.exp(W, out=W)
        acc = rhs[g] @ W
        if model.normalized:
            out[g] = acc[:, :d] / acc[:, d:]
        elif not shifted:
            out[g] = acc[:, :d] / n
        else:
            b = acc.shape[0]
            num = np.swapaxes(acc[:, :d], 1, 2).reshape(b * n, d) / n
            out[g] = np.swapaxes(unshift(num, shift.reshape(b * n)).reshape(b, n, d), 1, 2)
    return out
