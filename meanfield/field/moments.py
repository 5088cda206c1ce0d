r"""The attention field together with its divergence on the sphere (DESIGN.md §2c).

For the ambient field of a weighted point measure :math:`\mu = \sum_j w_j \delta_{y_j}`,

.. math::
    F(x) = V\,E_x[y], \qquad
    E_x[g] = \frac{\sum_j w_j e^{\langle A x, y_j\rangle} g(y_j)}
                  {\sum_j w_j e^{\langle A x, y_j\rangle}} \quad (\text{SA}),

with :math:`A = \beta K^T Q` (USA drops the denominator), the Jacobian in x is

.. math::
    DF(x) = V\, C_x\, A, \qquad C_x = E_x[y y^T] - E_x[y] E_x[y]^T \quad (\text{SA}),
    \qquad DF(x) = V \Big(\sum_j w_j e^{\langle Ax, y_j\rangle} y_j y_j^T\Big) A \quad (\text{USA}),

and the surface divergence of the tangent field :math:`X = P_x F` is

.. math::
    \mathrm{div}_S X(x) = \mathrm{tr}(P_x\, DF\, P_x) - (d-1)\langle x, F(x)\rangle
                        = \mathrm{tr}\,DF - x^T DF\, x - (d-1)\langle x, F\rangle .

It is the rate of the flow map's Jacobian, :math:`\frac{d}{dt}\log J_t = \mathrm{div}_S X`,
which the Lagrangian density solver integrates along every point. :data:`MOMENT_EVALUATORS`
maps names to evaluators ``fn(model, x, y, w, **options) -> (F, DF)`` (shapes (m, d) and
(m, d, d)); :func:`field_divergence` is the validated entry point returning :math:`(X,
\mathrm{div}_S X)`.
"""

from __future__ import annotations

import numpy as np

from .._checks import as_int, as_points, choose
from . import ducc
from .kernels import BLAS_SERIAL_MNK, matmul_rows, parallel_blocks, tangent, unshift
from .registry import source_weights
from .spectral import FALLBACK_RTOL, direct_cost, largest_radius, truncation

__all__ = [
    "MOMENT_EVALUATORS",
    "direct_moments",
    "ducc_moments",
    "divergence",
    "field_divergence",
    "jacobian_from_moments",
]

#: Elements of one logits tile held at a time by :func:`direct_moments`.
MOMENTS_TILE = 1 << 15


def direct_moments(model, x, y, w, chunk_size: int | None = None, workers: int | None = None):
    r"""Ambient field and its Jacobian by direct summation, in bounded memory.

    One pass over the sources accumulates, for every target, the weighted sums of
    :math:`1, y, y y^T` against :math:`e^{\langle Ax, y\rangle - s(x)}` with an online
    (running-maximum) shift :math:`s`, in tiles of at most ``chunk_size`` logits: nothing of
    size m x n is allocated and no :math:`\beta` overflows in SA.

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
        Largest logits tile in elements (default :data:`MOMENTS_TILE`).
    workers : int, optional
        Threads (default ``os.cpu_count()``).

    Returns
    -------
    F : ndarray, shape (m, d)
        Ambient field.
    DF : ndarray, shape (m, d, d)
        Its Jacobian :math:`\partial F_a / \partial x_b`.

    Raises
    ------
    UnnormalizedOverflowError
        USA only, when the unshifted sums exceed the float64 range.
    """
    tile = MOMENTS_TILE if chunk_size is None else as_int(chunk_size, "chunk_size", min_value=1)
    keep = w > 0  # zero-weight sources would otherwise set the shift
    y, w = y[keep], w[keep]
    m, d = x.shape
    n = y.shape[0]
    z = matmul_rows(x, model.interaction(d).T)
    k = 1 + d + d * d
    rhs = np.empty((n, k))  # columns: w, w y, w y y^T (flattened row-major)
    rhs[:, 0] = w
    rhs[:, 1 : 1 + d] = y * w[:, None]
    rhs[:, 1 + d :] = (y[:, :, None] * y[:, None, :]).reshape(n, d * d) * w[:, None]
    tile = max(1, min(tile, BLAS_SERIAL_MNK // k))
    cols = min(n, max(1, min(256, tile)))
    rows = max(1, tile // cols)
    acc = np.empty((m, k))
    shift = np.empty(m)

    def run(block):
        buf = np.empty(rows * cols)
        for s in range(block.start, block.stop, rows):
            t = slice(s, min(s + rows, block.stop))
            acc[t], shift[t] = _tile_moments(z[t], y, rhs, cols, buf)

    parallel_blocks(run, m, rows, work=m * n * (k // 4 + 1), workers=workers)
    return jacobian_from_moments(model, acc[:, 0], acc[:, 1 : 1 + d],
                                 acc[:, 1 + d :].reshape(m, d, d), shift)  # fmt: skip


def _tile_moments(z, y, rhs, cols, buf):
    """Online max-shifted sums of the ``rhs`` columns for the targets ``z`` (one row block)."""
    r = z.shape[0]
    shift = np.full(r, -np.inf)
    acc = np.zeros((r, rhs.shape[1]))
    for c in range(0, y.shape[0], cols):
        yc = y[c : c + cols]
        logits = buf[: r * yc.shape[0]].reshape(r, yc.shape[0])
        np.matmul(z, yc.T, out=logits)
        new = np.maximum(shift, logits.max(axis=1))
        acc *= np.exp(shift - new)[:, None]  # exp(-inf) = 0 on the first tile
        logits -= new[:, None]
        np.exp(logits, out=logits)
        acc += logits @ rhs[c : c + cols]
        shift = new
    return acc, shift


def jacobian_from_moments(model, s0, s1, s2, shift):
    r"""Field and Jacobian from shifted sums :math:`e^{-s}\sum_j w_j e^{\langle Ax,y_j\rangle}
    (1, y_j, y_j y_j^T)`.

    Parameters
    ----------
    model : Attention
    s0 : ndarray, shape (m,)
    s1 : ndarray, shape (m, d)
    s2 : ndarray, shape (m, d, d)
    shift : ndarray, shape (m,)
        The shift s of each target (multiplied back for USA).

    Returns
    -------
    F : ndarray, shape (m, d)
    DF : ndarray, shape (m, d, d)
    """
    m, d = s1.shape
    A, V = model.interaction(d), model.value(d)
    if model.normalized:
        mean = s1 / s0[:, None]
        cov = s2 / s0[:, None, None] - mean[:, :, None] * mean[:, None, :]
        F = mean @ V.T
    else:
        both = unshift(np.concatenate([s1, s2.reshape(m, d * d)], axis=1), shift)
        F = both[:, :d] @ V.T
        cov = both[:, d:].reshape(m, d, d)
    DF = (V @ cov) @ A  # (m, d, d) by broadcasting: cheaper than einsum for small d
    return F, DF


def divergence(x: np.ndarray, F: np.ndarray, DF: np.ndarray) -> np.ndarray:
    r"""Surface divergence of :math:`X = P_x F` at unit points x.

    :math:`\mathrm{div}_S X = \mathrm{tr}\,DF - x^T DF\,x - (d-1)\langle x, F\rangle`.

    Parameters
    ----------
    x : ndarray, shape (m, d)
    F : ndarray, shape (m, d)
    DF : ndarray, shape (m, d, d)

    Returns
    -------
    ndarray, shape (m,)
    """
    d = x.shape[1]
    trace = np.trace(DF, axis1=1, axis2=2)
    xDx = np.sum((DF @ x[:, :, None])[:, :, 0] * x, axis=1)
    return trace - xDx - (d - 1) * np.sum(x * F, axis=1)


def ducc_moments(
    model, x, y, w, tol=None, fallback=FALLBACK_RTOL, epsilon=None, workers=None, chunk_size=None
):
    r"""Ambient field and its Jacobian from ducc0's transforms (d = 2, 3).

    The sums of :math:`1, y, y y^T` against :math:`e^{\langle Ax, y\rangle - |Ax|}` come from
    :func:`meanfield.field.ducc.ducc_sums` (on :math:`S^2` the first and second moments are
    gradients of the sums of 1 and :math:`y_k`: four adjoint transforms, nine syntheses; on
    :math:`S^1` three Fourier series of one NUFFT), then :func:`jacobian_from_moments`.
    Targets whose estimated relative error exceeds ``fallback`` (see
    :func:`meanfield.field.ducc.ducc_field`), and every target when the radii :math:`|Ax|` are
    too spread for the Chebyshev expansion, are summed directly by :func:`direct_moments`.

    Parameters
    ----------
    model : Attention
    x : ndarray, shape (m, d)
    y : ndarray, shape (n, d)
    w : ndarray, shape (n,)
    tol, fallback, epsilon, workers
        As for :func:`meanfield.field.ducc.ducc_field`.
    chunk_size : int, optional
        Tile of :func:`direct_moments` for fallback targets.

    Returns
    -------
    F : ndarray, shape (m, d)
    DF : ndarray, shape (m, d, d)
    """
    options = ducc.ducc_options(tol, fallback, epsilon)
    sums = ducc.ducc_sums(model, x, y, w, options, workers, second=True)
    y = y / np.sqrt(np.einsum("ij,ij->i", y, y))[:, None]  # as the transforms see them
    if sums is None:
        return direct_moments(model, x, y, w, chunk_size=chunk_size, workers=workers)
    s0, s1, s2, r = sums
    bad = ducc.unreliable(s0, w.sum(), x.shape[1], options)
    if bad.any():
        s0[bad], s1[bad], s2[bad] = 1.0, 0.0, 0.0  # placeholders, replaced below
    F, DF = jacobian_from_moments(model, s0, s1, s2, r)
    if bad.any():
        F[bad], DF[bad] = direct_moments(
            model, x[bad], y, w, chunk_size=chunk_size, workers=workers
        )
    return F, DF


#: The moments cost this many field evaluations (CPU time measured at n = m = 20000, beta = 9):
#: direct 1.3-1.8x (1 + d + d^2 columns instead of 1 + d; the exponentials dominate); ducc 5.9x
#: on S^1 (three Fourier series instead of two, and the Jacobian) and 4.1x on S^2 (four adjoint
#: transforms and nine syntheses instead of one and three).
_MOMENT_FACTOR = {"direct": 1.6, 2: 6.0, 3: 4.1}


def _auto(model, x, y, w, **options):
    """ducc where cheaper (S^1/S^2, one radial term, enough points), else direct; each gets its
    own options."""
    m, d = x.shape
    n = y.shape[0]
    name = "direct"
    if d in (2, 3) and ducc.available():
        try:
            L = truncation(largest_radius(model, x), d)
        except ValueError:
            L = None
        if L is not None and ducc.radial_terms(model, x, L) == 1:
            cost = _MOMENT_FACTOR[d] * ducc.ducc_cost(d, m, n, L)
            if cost < _MOMENT_FACTOR["direct"] * direct_cost(m, n):
                name = "ducc"
    if name == "direct":
        options = {k: v for k, v in options.items() if k not in ducc.DUCC_OPTIONS}
    return MOMENT_EVALUATORS[name](model, x, y, w, **options)


#: Method name -> evaluator ``fn(model, x, y, w, **options) -> (F, DF)``.
MOMENT_EVALUATORS = {"direct": direct_moments, "ducc": ducc_moments, "auto": _auto}


def field_divergence(model, x, y=None, weights=None, method: str = "auto", **options):
    r"""The tangent attention field and its surface divergence at targets x.

    Parameters
    ----------
    model : Attention
    x : array_like, shape (m, d)
        Unit target points.
    y : array_like, shape (n, d), optional
        Sources (default x).
    weights : array_like, shape (n,), optional
        Source weights (default 1/n).
    method : {"auto", "direct", "ducc"}
        Evaluator of :data:`MOMENT_EVALUATORS`.
    **options
        Passed to the evaluator.

    Returns
    -------
    X : ndarray, shape (m, d)
        :math:`P_x F(x)`.
    div : ndarray, shape (m,)
        :math:`\mathrm{div}_S X(x)`.
    """
    choose(method, "method", MOMENT_EVALUATORS)
    x = as_points(x, "x", d=model.dim)
    y = x if y is None else as_points(y, "y", d=x.shape[1])
    w = source_weights(weights, y.shape[0])
    F, DF = MOMENT_EVALUATORS[method](model, x, y, w, **options)
    return tangent(x, F), divergence(x, F, DF)
