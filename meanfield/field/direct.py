r"""The direct evaluator: the attention field summed over all sources in bounded memory.

.. math::
    F(x) = \frac{\sum_j w_j e^{\langle A x, y_j\rangle} V y_j}
                {\sum_j w_j e^{\langle A x, y_j\rangle}}
    \quad (\text{SA}), \qquad
    F(x) = \sum_j w_j e^{\langle A x, y_j\rangle} V y_j \quad (\text{USA}),

with :math:`A = \beta K^T Q`, by tiles of logits with a max-shifted (online) softmax.
"""

from __future__ import annotations

import numpy as np

from .._checks import as_int
from .kernels import BLAS_SERIAL_MNK, matmul_rows, parallel_blocks, unshift

__all__ = ["direct_field", "DIRECT_TILE", "FIXED_SHIFT_MAX"]

#: Elements of one logits tile (rows x columns) held at a time by the direct evaluator.
DIRECT_TILE = 1 << 16
#: Targets whose logits are bounded by this (|z| max|y|) are shifted by the bound, not by a
#: running maximum: e^{-2 * 350} is still a normal float.
FIXED_SHIFT_MAX = 350.0


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
    tile = max(1, min(tile, BLAS_SERIAL_MNK // (d + 1)))
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
    return unshift(acc[:, :d], bound)


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
    return unshift(acc[:, :d], shift)
