"""Shared numerical kernels of the field evaluators: thin products, tangent projection, the
thread pool, and undoing a softmax shift (USA) without overflow."""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from .._checks import as_int

__all__ = [
    "BLAS_SERIAL_MNK",
    "EXP_MAX",
    "combine",
    "UnnormalizedOverflowError",
    "matmul_rows",
    "normalize",
    "parallel_blocks",
    "tangent",
    "unshift",
]

#: Products up to this many multiply-adds run single-threaded in OpenBLAS.
BLAS_SERIAL_MNK = 65536 * 4
#: Largest exponent whose exponential is finite in float64.
EXP_MAX = np.log(np.finfo(float).max)


class UnnormalizedOverflowError(ValueError, OverflowError):
    """USA weights :math:`e^{\\beta\\langle Qx,Ky\\rangle}` exceed the float64 range."""


def matmul_rows(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``a @ b`` for a tall ``a`` (m, k) and small ``b`` (k, p), in row blocks.

    Each block stays below the size at which OpenBLAS starts its own threads: for thin products
    those threads cost far more than the work (and interfere with ours).
    """
    out = np.empty((a.shape[0], b.shape[1]))
    step = max(1, BLAS_SERIAL_MNK // max(1, a.shape[1] * b.shape[1]))
    for s in range(0, a.shape[0], step):
        np.matmul(a[s : s + step], b, out=out[s : s + step])
    return out


def tangent(x: np.ndarray, F: np.ndarray) -> np.ndarray:
    r"""Tangent projection :math:`P_x F = F - x\langle x, F\rangle`; shapes (..., d)."""
    # einsum: one pass and no temporary (x * F), several times faster than np.sum for small d
    return F - x * np.einsum("...i,...i->...", x, F)[..., None]


def normalize(x: np.ndarray) -> np.ndarray:
    """Radial projection onto the unit sphere, rows of shape (..., d)."""
    return x / np.sqrt(np.einsum("...i,...i->...", x, x))[..., None]


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


def unshift(num, shift):
    """USA: multiply back the softmax shift, refusing to overflow."""
    scale = np.max(np.abs(num), axis=1)
    with np.errstate(divide="ignore"):
        top = shift + np.log(np.where(scale > 0, scale, 1.0))
    if np.max(top) >= EXP_MAX:
        raise UnnormalizedOverflowError(
            "unnormalized attention (USA) overflows float64: beta * <Qx, Ky> reaches "
            f"{float(np.max(shift)):.1f}, and e^{float(np.max(top)):.1f} exceeds the largest "
            "double "
            f"(e^{EXP_MAX:.1f}); use normalized=True (SA) or a smaller beta"
        )
    return num * np.exp(shift)[:, None]


def combine(model, num, den, shift, bad, recompute):
    r"""The ambient field from expansion sums, rows flagged ``bad`` recomputed.

    SA divides the numerator sums ``num`` (m, d) by the denominators ``den`` (m,); USA
    multiplies back the shift :math:`e^{r}` (:func:`unshift`). Rows where the expansion is not
    trusted (``bad``, shape (m,)) get placeholders first, so they can neither divide by a tiny
    denominator nor overflow, and are then replaced by ``recompute(bad) -> (k, d)``.
    """
    redo = bool(bad.any())
    if redo:
        num[bad], den[bad] = 0.0, 1.0  # placeholders, replaced below
    if model.normalized:
        out = num
        out /= den[:, None]
    else:
        out = unshift(num, shift)
    if redo:
        out[bad] = recompute(bad)
    return out
