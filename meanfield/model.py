"""The self-attention model: inverse temperature and the query, key and value matrices."""

from __future__ import annotations

import numpy as np

from ._checks import as_real_array, as_scalar

__all__ = ["Attention"]


def _matrix(m, name: str) -> np.ndarray | None:
    if m is None:
        return None
    arr = as_real_array(m, name, ndim=2)
    if arr.shape[0] != arr.shape[1] or arr.shape[0] < 2:
        raise ValueError(f"{name} must be a square d x d matrix with d >= 2, got shape {arr.shape}")
    arr = arr.copy()
    arr.setflags(write=False)
    return arr


class Attention:
    r"""Self-attention on the sphere :math:`S^{d-1}`.

    The field acting on a probability measure :math:`\mu` at a point :math:`x` is

    .. math::
        X[\mu](x) = P_x \frac{\int e^{\beta\langle Qx, Ky\rangle} V y \, d\mu(y)}
                             {\int e^{\beta\langle Qx, Ky\rangle} d\mu(y)}
        \quad\text{(SA, ``normalized=True``)}

    and the numerator alone for unnormalised attention (USA). :math:`P_x = I - x x^T`.

    Parameters
    ----------
    beta : float
        Inverse temperature :math:`\beta \ge 0`.
    Q, K, V : array_like, shape (d, d), optional
        Query, key and value matrices. ``None`` means the identity in whatever dimension the
        points have.
    normalized : bool, default True
        ``True`` for SA (softmax attention), ``False`` for USA.

    Notes
    -----
    Instances are immutable; the matrices are stored as read-only copies.
    """

    __slots__ = ("_beta", "_Q", "_K", "_V", "_normalized", "_dim")

    def __init__(self, beta, Q=None, K=None, V=None, normalized: bool = True):
        beta = as_scalar(beta, "beta", min_value=0.0)
        if not isinstance(normalized, bool | np.bool_):
            raise ValueError(f"normalized must be True or False, got {normalized!r}")
        mats = {"Q": _matrix(Q, "Q"), "K": _matrix(K, "K"), "V": _matrix(V, "V")}
        dims = {k: m.shape[0] for k, m in mats.items() if m is not None}
        if len(set(dims.values())) > 1:
            raise ValueError(f"Q, K and V must share one dimension d, got shapes {dims}")
        object.__setattr__(self, "_beta", beta)
        object.__setattr__(self, "_Q", mats["Q"])
        object.__setattr__(self, "_K", mats["K"])
        object.__setattr__(self, "_V", mats["V"])
        object.__setattr__(self, "_normalized", bool(normalized))
        object.__setattr__(self, "_dim", next(iter(dims.values()), None))

    def __setattr__(self, key, value):
        raise AttributeError("Attention is immutable; build a new one instead")

    beta = property(lambda self: self._beta, doc="Inverse temperature.")
    Q = property(lambda self: self._Q, doc="Query matrix, or None for the identity.")
    K = property(lambda self: self._K, doc="Key matrix, or None for the identity.")
    V = property(lambda self: self._V, doc="Value matrix, or None for the identity.")
    normalized = property(lambda self: self._normalized, doc="True for SA, False for USA.")
    dim = property(lambda self: self._dim, doc="Ambient dimension d fixed by Q/K/V, or None.")

    @property
    def is_identity(self) -> bool:
        """True when Q, K and V are all the identity (``None``)."""
        return self._Q is None and self._K is None and self._V is None

    def __repr__(self) -> str:
        kind = "SA" if self._normalized else "USA"
        mats = "identity" if self.is_identity else f"d={self._dim}"
        return f"Attention(beta={self._beta:g}, {kind}, {mats})"

    def __eq__(self, other) -> bool:
        if not isinstance(other, Attention):
            return NotImplemented

        def same(a, b):
            return (a is None and b is None) or (
                a is not None and b is not None and np.array_equal(a, b)
            )

        return (
            self._beta == other._beta
            and self._normalized == other._normalized
            and all(same(getattr(self, k), getattr(other, k)) for k in ("_Q", "_K", "_V"))
        )

    __hash__ = None

    def interaction(self, d: int) -> np.ndarray:
        r"""The bilinear form :math:`A = \beta K^T Q`; logits are :math:`\langle A x, y\rangle`.

        Returns
        -------
        A : ndarray, shape (d, d)
        """
        Q = np.eye(d) if self._Q is None else self._Q
        K = np.eye(d) if self._K is None else self._K
        return self._beta * (K.T @ Q)

    def value(self, d: int) -> np.ndarray:
        """The value matrix V as a (d, d) array."""
        return np.eye(d) if self._V is None else np.asarray(self._V)

    def velocity(self, x, y=None, weights=None, method: str = "auto", **options) -> np.ndarray:
        r"""The attention field at targets ``x`` for the measure :math:`\sum_j w_j \delta_{y_j}`.

        Parameters
        ----------
        x : array_like, shape (m, d)
            Target points on the unit sphere.
        y : array_like, shape (n, d), optional
            Source points on the unit sphere; default ``x``.
        weights : array_like, shape (n,), optional
            Source weights :math:`w_j \ge 0`; default :math:`1/n` (the empirical measure).
        method : {"auto", "direct", "spectral", "ducc"}
            Evaluator. ``"direct"`` sums over sources in bounded-memory chunks; ``"spectral"``
            (d = 2, 3) expands the kernel in Fourier modes / spherical harmonics; ``"ducc"`` does
            the same expansion's sums with ducc0's fast transforms; ``"auto"`` takes the one of
            least modelled cost (:func:`meanfield.field.registry.cheapest`).
        **options
            Passed to the evaluator (e.g. ``chunk_size`` for direct, ``tol`` for spectral).

        Returns
        -------
        v : ndarray, shape (m, d)
            Tangent vectors, :math:`\langle v_i, x_i\rangle = 0`.
        """
        from .field import evaluate

        return evaluate(self, x, y, weights, method, **options)
