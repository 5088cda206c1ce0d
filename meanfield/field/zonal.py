r"""The attention field of a zonal measure on :math:`S^{d-1}` (DESIGN.md §2d).

For Q, K, V multiples of the identity (:math:`Q = qI, K = kI, V = vI`) the field of a measure
that depends only on :math:`s = \langle x, e\rangle` (:math:`e = e_d`) is zonal too, and the
continuity equation is a 1-D problem in the polar angle :math:`\theta = \arccos s`. With
:math:`b = \beta q k`, :math:`r = \sin\theta`, :math:`a = b\, r r'` and

.. math::
    \Lambda(a) = \int_{S^{d-2}} e^{a\langle e_1, w\rangle} d\sigma(w)
              = \Gamma(\tfrac{d-1}{2}) (2/a)^{\nu} I_{\nu}(a)
              = {}_0F_1(;\nu + 1; a^2/4), \qquad \nu = \tfrac{d-3}{2},

the partition function of the measure :math:`\mu` (a law of :math:`\theta'`) is
:math:`Z(s) = \int e^{b s s'} \Lambda(a)\, d\mu(\theta')` and

.. math::
    \partial_s Z = b \int e^{b s s'}\Lambda(a)\,
        \big[s' - b\, s\, (1 - s'^2)\, R(a)\big]\, d\mu, \qquad
    R(a) = \frac{\Lambda'(a)}{a \Lambda(a)} = \frac{I_{\nu+1}(a)}{a\, I_\nu(a)}.

The polar angle moves as :math:`\dot\theta = -\dot s/\sin\theta` with
:math:`\dot s = v (1 - s^2)\, \partial_s Z/(b Z)` (SA) or :math:`v(1-s^2)\,\partial_s Z/b` (USA),
so

.. math::
    \dot\theta = -v \sin\theta\; \frac{\int K B\, d\mu}{\int K\, d\mu}\ \text{(SA)},\qquad
    \dot\theta = -v \sin\theta\; e^{|b|} \int K B\, d\mu\ \text{(USA)},

with the bracket :math:`B = s' - b s (1 - s'^2) R(|a|)` and the scaled kernel
:math:`K = e^{b s s' + |a| - |b|}\, \Lambda(|a|) e^{-|a|} \le 1`: the exponent is
:math:`-2b\sin^2((\theta-\theta')/2)` for :math:`b \ge 0` (and
:math:`-2|b|\cos^2((\theta+\theta')/2)` for :math:`b < 0`), and :math:`\Lambda e^{-a}` comes
from the exponentially scaled Bessel function ``scipy.special.ive``, so nothing overflows for
:math:`\beta` up to 1000 and d up to 1024 and beyond. The SA average is a max-shifted softmax
over sources; :math:`\dot\theta` vanishes at the poles exactly.
"""

from __future__ import annotations

import numpy as np
from scipy.special import gammaln

from ..theory import log_ive
from .kernels import UnnormalizedOverflowError

__all__ = [
    "ZonalField",
    "bessel_ratio",
    "log_scaled_lambda",
    "zonal_coupling",
    "zonal_velocity",
]

#: Kernel tables up to this many entries are computed once and kept.
TABLE_MAX = 1 << 23
#: Largest spread of the log kernel along a row for which the kernel is exponentiated once.
RANGE_MAX = 600.0


def _nu(d: int) -> float:
    return (d - 3) / 2.0


def log_scaled_lambda(d: int, a) -> np.ndarray:
    r""":math:`\log(\Lambda_{d-1}(a)\, e^{-a})` for :math:`a \ge 0`.

    :math:`\Lambda_{d-1}(a) = {}_0F_1(;\tfrac{d-1}{2}; a^2/4)` is the mean of
    :math:`e^{a\langle e_1, w\rangle}` over the unit sphere :math:`S^{d-2}` (:math:`\cosh a`
    for d = 2): :math:`\log\Gamma(\nu+1) + \nu\log(2/a) + \log \mathrm{ive}(\nu, a)`, with
    :func:`meanfield.theory.log_ive` (finite where ``ive`` underflows, e.g. d = 1024, a = 1).

    Parameters
    ----------
    d : int
        Ambient dimension, d >= 2.
    a : array_like
        Non-negative arguments.

    Returns
    -------
    ndarray, same shape as ``a``
    """
    a = np.asarray(a, dtype=float)
    nu = _nu(d)
    out = -a.copy()  # a = 0: Lambda = 1
    pos = a > 0
    ap = a[pos]
    out[pos] = gammaln(nu + 1.0) + nu * np.log(2.0 / ap) + log_ive(nu, ap)
    return out


def bessel_ratio(d: int, a) -> np.ndarray:
    r""":math:`R(a) = \Lambda'(a)/(a\Lambda(a)) = I_{\nu+1}(a)/(a I_\nu(a))`, :math:`a \ge 0`.

    :math:`R(0) = 1/(d-1)`; d = 2 gives :math:`\tanh(a)/a`. A ratio of scaled Bessel
    functions, taken in logarithms.
    """
    a = np.asarray(a, dtype=float)
    nu = _nu(d)
    out = np.full(a.shape, 1.0 / (d - 1.0))
    pos = a > 0
    ap = a[pos]
    out[pos] = np.exp(log_ive(nu + 1.0, ap) - log_ive(nu, ap)) / ap
    return out


def _scalar_of_identity(m, name: str, d: int | None) -> float:
    if m is None:
        return 1.0
    m = np.asarray(m, dtype=float)
    c = float(m[0, 0])
    off = np.abs(m - c * np.eye(m.shape[0])).max()
    if off > 1e-12 * max(abs(c), 1.0):
        raise ValueError(
            f"model.{name} must be a multiple of the identity for the zonal reduction (a zonal "
            f"density stays zonal only when the field commutes with rotations about e_d); got "
            f"a matrix {off:.3g} away from {c:g} I"
        )
    return c


def zonal_coupling(model, d: int) -> tuple[float, float, bool]:
    r"""``(b, v, normalized)``: coupling :math:`b = \beta q k`, value scale v, SA or USA.

    Raises
    ------
    ValueError
        If Q, K or V is not a multiple of the identity (the reduction does not hold), or the
        model's dimension is not d.
    """
    if model.dim is not None and model.dim != d:
        raise ValueError(
            f"model acts in dimension d = {model.dim} but the zonal mesh is S^{d - 1} in R^{d}"
        )
    q = _scalar_of_identity(model.Q, "Q", d)
    k = _scalar_of_identity(model.K, "K", d)
    v = _scalar_of_identity(model.V, "V", d)
    return model.beta * q * k, v, model.normalized


def _exponent(b: float, th: np.ndarray, tp: np.ndarray) -> np.ndarray:
    r""":math:`b s s' + |b| r r' - |b|` without cancellation, shape (m, n)."""
    if b >= 0:
        return -2.0 * b * np.sin(0.5 * (th[:, None] - tp[None, :])) ** 2
    return -2.0 * abs(b) * np.cos(0.5 * (th[:, None] + tp[None, :])) ** 2


def _tables(d: int, b: float, th: np.ndarray, tp: np.ndarray):
    """Log scaled kernel and bracket B for targets ``th`` (m,) and sources ``tp`` (n,)."""
    r, rp = np.sin(th), np.sin(tp)
    s, sp = np.cos(th), np.cos(tp)
    a = abs(b) * np.outer(r, rp)
    logk = _exponent(b, th, tp) + log_scaled_lambda(d, a)
    bracket = sp[None, :] - b * np.outer(s, rp**2) * bessel_ratio(d, a)
    return logk, bracket


class ZonalField:
    r"""The zonal field at fixed targets for measures on fixed source angles.

    The Eulerian scheme sees its density through the same quadrature points at every stage,
    so the kernel tables (log of the scaled kernel and the bracket B, both (m, n)) are built
    once when they fit in :data:`TABLE_MAX` entries; otherwise they are rebuilt per call in
    row blocks.

    Parameters
    ----------
    model : Attention
        Q, K, V multiples of the identity.
    d : int
        Ambient dimension.
    targets : ndarray, shape (m,)
        Polar angles where the field is wanted.
    sources : ndarray, shape (n,)
        Polar angles of the source points.
    """

    def __init__(self, model, d: int, targets: np.ndarray, sources: np.ndarray):
        self.d = int(d)
        self.b, self.v, self.normalized = zonal_coupling(model, self.d)
        self.targets = np.asarray(targets, dtype=float)
        self.sources = np.asarray(sources, dtype=float)
        self._sin = np.sin(self.targets)
        m, n = self.targets.size, self.sources.size
        self._rows = max(1, TABLE_MAX // max(n, 1))
        self._cache = (
            _tables(self.d, self.b, self.targets, self.sources) if m * n <= TABLE_MAX else None
        )
        self._fast = None
        if self._cache is not None and m and n:
            logk, bracket = self._cache
            top = logk.max(axis=1, keepdims=True)
            # Rows whose kernel spans less than e^-RANGE_MAX are exponentiated once: each call
            # is then two matrix-vector products, with no underflow of any kernel value.
            if np.all(top[:, 0] - logk.min(axis=1) < RANGE_MAX):
                kernel = np.exp(logk - top)
                self._fast = (kernel, kernel * bracket, top[:, 0])

    def __call__(self, masses: np.ndarray) -> np.ndarray:
        r""":math:`\dot\theta` at the targets for source masses (n,) (non-negative)."""
        w = np.asarray(masses, dtype=float)
        with np.errstate(divide="ignore"):
            logm = np.log(np.maximum(w, 0.0))
        if not np.any(w > 0):
            raise ValueError("masses must have a positive entry, got none")
        if self._fast is not None:
            out = self._matvec(w, logm)
            return -self.v * self._sin * out
        out = np.empty(self.targets.size)
        for start in range(0, self.targets.size, self._rows):
            rows = slice(start, start + self._rows)
            if self._cache is not None:
                logk, bracket = self._cache[0][rows], self._cache[1][rows]
            else:
                logk, bracket = _tables(self.d, self.b, self.targets[rows], self.sources)
            out[rows] = self._average(logk + logm, bracket)
        return -self.v * self._sin * out

    def _matvec(self, w: np.ndarray, logm: np.ndarray) -> np.ndarray:
        kernel, kb, top = self._fast
        # einsum rather than BLAS gemv: these small products run single-threaded (BLAS threads
        # cost more than the work, see meanfield.field.kernels.matmul_rows)
        num = np.einsum("ij,j->i", kb, w)
        if not self.normalized:
            self._check_overflow(float(np.max(top)) + np.log(w.sum()), w.size)
            return np.exp(top + abs(self.b)) * num
        den = np.einsum("ij,j->i", kernel, w)
        out = np.empty_like(den)
        # a row that sees only far, light mass: its sum may sit in the denormals; redo in logs
        ok = den > 1e-200 * w.max()
        out[ok] = num[ok] / den[ok]
        bad = np.flatnonzero(~ok)
        if bad.size:
            logk, bracket = self._cache[0][bad], self._cache[1][bad]
            out[bad] = self._average(logk + logm, bracket)
        return out

    def _check_overflow(self, top: float, n: int) -> None:
        total = top + abs(self.b)
        if total > np.log(np.finfo(float).max) - 2 * np.log(max(n, 2)) - 10:
            raise UnnormalizedOverflowError(
                f"USA field overflows float64: the largest weight e^{total:.4g} at beta = "
                f"{self.b:g}, d = {self.d} (use SA, or a smaller beta)"
            )

    def _average(self, logits: np.ndarray, bracket: np.ndarray) -> np.ndarray:
        if self.normalized:
            shift = logits.max(axis=1, keepdims=True)
            k = np.exp(logits - shift)
            return np.sum(k * bracket, axis=1) / np.sum(k, axis=1)
        self._check_overflow(float(logits.max()), logits.shape[1])
        return np.sum(np.exp(logits + abs(self.b)) * bracket, axis=1)


def zonal_velocity(model, d: int, targets, sources, masses) -> np.ndarray:
    r""":math:`\dot\theta` at polar angles ``targets`` (m,) for the zonal measure with atoms of
    mass ``masses`` (n,) at polar angles ``sources`` (n,) (each atom is a ring: the uniform
    measure on the (d-2)-sphere :math:`\{\langle x, e\rangle = \cos\theta'\}`)."""
    return ZonalField(model, d, targets, sources)(masses)
