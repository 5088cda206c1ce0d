"""Shared test helpers (imported by test modules; tests/ is on sys.path under pytest)."""

import numpy as np

import meanfield as mf


def random_model(d, beta, normalized, rng):
    """Random Q, K, V; Q and K scaled to spectral norm 1 so that |z| = |beta K^T Q x| <= beta."""
    Q, K, V = rng.standard_normal((3, d, d))
    Q /= np.linalg.norm(Q, 2)
    K /= np.linalg.norm(K, 2)
    return mf.Attention(beta, Q=Q, K=K, V=V, normalized=normalized)


def rel(a, b):
    """Relative max-norm difference of a from b."""
    return np.abs(a - b).max() / np.abs(b).max()
