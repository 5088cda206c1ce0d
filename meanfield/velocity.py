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

import os
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from ._checks import as_int, as_points, as_real_array, choose

__all__ = [
    "evaluate",
    "direct_field",
    "tangent",
    "matmul_rows",
    "EVALUATORS",
    "UnnormalizedOverflowError",
]

#: Elements of one logits tile (rows x columns) held at a time by the direct evaluator.
DIRECT_TILE = 1 << 16
#: Products up to this many multiply-adds run single-threaded in OpenBLAS.
_BLAS_SERIAL_MNK = 65536 * 4
#: Targets whose logits are bounded by this (|z| max|y|) are shifted by the bound, not by a
#: running maximum: e^{-2 * 350} is still a normal float.
FIXED_SHIFT_MAX = 350.0
#: Largest exponent whose exponential is finite in float64.
_EXP_MAX = np.log(np.finfo(float).max)


class UnnormalizedOverflowError(ValueError, OverflowError):
    """USA weights :math:`e^{\\beta\\langle Qx,Ky\\rangle}` exceed the float64 range."""


def matmul_rows(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``a @ b`` for a tall ``a`` (m, k) and small ``b`` (k, p), in row blocks.

    Each block stays below the size at which OpenBLAS starts its own threads: for thin products
    those threads cost far more than the work (and interfere with ours).
    """
    out = np.empty((a.shape[0], b.shape[1]))
    step = max(1, _BLAS_SERIAL_MNK // max(1, a.shape[1] * b.shape[1]))
    for s in range(0, a.shape[0], step):
        np.matmul(a[s : s + step], b, out=out[s : s + step])
    return out


def tangent(x: np.ndarray, F: np.ndarray) -> np.ndarray:
    r"""Tangent projection :math:`P_x F = F - x\langle x, F\rangle`; shapes (..., d)."""
    return F - x * np.sum(x * F, axis=-1, keepdims=True)


def direct_field(model, x, y, w, chunk_size: int | None = None, workers: int | None = None):
    r"""Ambient field by direct summation, O(m n) exponentials in bounded memory.

    Logits are processed in tiles of at most ``chunk_size`` elements with an online
    (max-shifted) softmax, so nothing of size m x n is ever allocated and large
    :math:`\beta` cannot overflow in SA. Targets whose logits are bounded a priori by
    :math:`b = |z|\max_j|y_j| \le` :data:`FIXED_SHIFT_MAX` are shifted by b instead of the
    running maximum (the same exponentials, two passes fewer). Blocks of targets run on a
    shared thread pool (NumPy's ufuncs and BLAS release the GIL), each with its own tile.

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
        Largest tile in elements (default :data:`DIRECT_TILE`; also capped so that each tile's
        products, about ``chunk_size * (d + 1)`` multiply-adds, stay single-threaded in BLAS).
        Peak memory is about ``workers * chunk_size`` doubles beyond the inputs.
    workers : int, optional
        Threads (default ``os.cpu_count()``); 1 runs serially.

    Returns
    -------
    F : ndarray, shape (m, d)
    """
    tile = DIRECT_TILE if chunk_size is None else as_int(chunk_size, "chunk_size", min_value=1)
    keep = w > 0  # zero-weight sources would otherwise set the softmax shift
    y, w = y[keep], w[keep]
    m, d = x.shape
    n = y.shape[0]
    z = matmul_rows(x, model.interaction(d).T)
    # one product gives numerator (first d columns) and denominator (last column)
    rhs = np.empty((n, d + 1))
    rhs[:, :d] = matmul_rows(y, model.value(d).T)
    rhs[:, :d] *= w[:, None]
    rhs[:, d] = w
    # a priori bound on each target's logits <z, y> <= |z| max|y|: below FIXED_SHIFT_MAX it is
    # the shift itself, folded into the product through a column of ones
    bound = np.sqrt(np.einsum("ij,ij->i", z, z)) * np.sqrt(np.einsum("ij,ij->i", y, y).max())
    y1 = np.empty((n, d + 1))
    y1[:, :d] = y
    y1[:, d] = 1.0
    # keep each tile's products below the size at which OpenBLAS starts its own threads: they
    # fight with ours, and on a busy machine they slow thin products down tenfold
    tile = max(1, min(tile, _BLAS_SERIAL_MNK // (d + 1)))
    # a few rows per tile keep the logits product efficient for large d; the exp dominates
    cols = min(n, max(1, tile // (4 * d), min(256, tile)))
    rows = max(1, tile // cols)
    out = np.empty((m, d))

    def run(block):
        buf = np.empty(rows * cols)
        for s in range(block.start, block.stop, rows):
            t = slice(s, min(s + rows, block.stop))
            if bound[t].max() <= FIXED_SHIFT_MAX:
                out[t] = _tile_fixed(z[t], bound[t], y1, rhs, cols, model.normalized, buf)
            else:
                out[t] = _tile_rows(z[t], y, rhs, cols, model.normalized, buf)

    parallel_blocks(run, m, rows, work=m * n, workers=workers)
    return out


#: Below this many pairs (or spectral point-harmonics) a call runs on the calling thread.
PARALLEL_MIN_WORK = 1 << 20
_POOL: list = []


def _executor():
    """The shared thread pool (created on first use, ``os.cpu_count()`` threads)."""
    if not _POOL:
        _POOL.append(ThreadPoolExecutor(os.cpu_count() or 1, thread_name_prefix="meanfield"))
    return _POOL[0]


def parallel_blocks(fn, m: int, align: int, work: float, workers: int | None = None) -> None:
    """Call ``fn(slice)`` on contiguous blocks covering ``range(m)``, in parallel when worth it.

    Blocks are multiples of ``align`` rows, about four per worker for load balance; ``workers``
    tasks each take every ``workers``-th block. Everything runs on the calling thread when
    ``work`` (a count of elementary operations) is below :data:`PARALLEL_MIN_WORK` or one
    worker is asked for.
    """
    cpus = os.cpu_count() or 1
    nw = cpus if workers is None else min(cpus, as_int(workers, "workers", min_value=1))
    if nw == 1 or work < PARALLEL_MIN_WORK or m <= align:
        fn(slice(0, m))
        return
    size = align * max(1, -(-m // (4 * nw * align)))
    blocks = [slice(s, min(s + size, m)) for s in range(0, m, size)]

    def task(k):
        for b in blocks[k::nw]:
            fn(b)

    for f in [_executor().submit(task, k) for k in range(min(nw, len(blocks)))]:
        f.result()


def _tile_fixed(z, bound, y1, rhs, cols, normalized, buf):
    r"""Rows whose logits lie in [-b, b], b <= :data:`FIXED_SHIFT_MAX`: shift by the bound b.

    Every :math:`e^{\langle z, y\rangle - b}` is then in :math:`[e^{-2b}, 1]`, normal floats
    with full relative precision, so the running maximum (two passes per tile) is not needed.
    """
    r, d = z.shape
    z1 = np.empty((r, d + 1))
    z1[:, :d] = z
    z1[:, d] = -bound
    acc = np.zeros((r, d + 1))
    for c in range(0, y1.shape[0], cols):
        yc = y1[c : c + cols]
        logits = buf[: r * yc.shape[0]].reshape(r, yc.shape[0])
        np.matmul(z1, yc.T, out=logits)
        np.exp(logits, out=logits)
        acc += logits @ rhs[c : c + cols]
    if normalized:
        return acc[:, :d] / acc[:, d:]
    return _unshift(acc[:, :d], bound)


def _tile_rows(z, y, rhs, cols, normalized, buf):
    """Online max-shifted softmax over column tiles (any logits range)."""
    r, d = z.shape
    shift = np.full(r, -np.inf)
    acc = np.zeros((r, d + 1))
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
    if normalized:
        return acc[:, :d] / acc[:, d:]
    return _unshift(acc[:, :d], shift)


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
    from .spectral import SPECTRAL_OPTIONS, prefer_spectral

    if prefer_spectral(model, x, y):
        return _spectral(model, x, y, w, **options)
    return direct_field(
        model, x, y, w, **{k: v for k, v in options.items() if k not in SPECTRAL_OPTIONS}
    )


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
