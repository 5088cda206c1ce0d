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

:class:`ZonalField` serves fixed targets and sources (the Eulerian scheme, kernel tables kept);
:class:`ZonalFlow` gives :math:`\dot\theta` and :math:`\partial_\theta\dot\theta` for moving
ones (the Lagrangian scheme's log J), with the Bessel functions from Chebyshev tables of the
exact series (:func:`bessel_table`).
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from scipy.special import gammaln

from ..theory import log_ive
from .kernels import UnnormalizedOverflowError

__all__ = [
    "ZonalField",
    "ZonalFlow",
    "bessel_ratio",
    "bessel_table",
    "bessel_tables",
    "check_usa_overflow",
    "chebyshev_tables",
    "hyp0f1_series",
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
        check_usa_overflow(self.b, self.d, top, n)

    def _average(self, logits: np.ndarray, bracket: np.ndarray) -> np.ndarray:
        if self.normalized:
            shift = logits.max(axis=1, keepdims=True)
            k = np.exp(logits - shift)
            return np.sum(k * bracket, axis=1) / np.sum(k, axis=1)
        self._check_overflow(float(logits.max()), logits.shape[1])
        return np.sum(np.exp(logits + abs(self.b)) * bracket, axis=1)


def check_usa_overflow(b: float, d: int, top: float, n: int) -> None:
    """Refuse a USA sum whose largest log weight ``top`` (scaled, before :math:`e^{|b|}`) over
    n sources would overflow float64."""
    total = top + abs(b)
    if total > np.log(np.finfo(float).max) - 2 * np.log(max(n, 2)) - 10:
        raise UnnormalizedOverflowError(
            f"USA field overflows float64: the largest weight e^{total:.4g} at beta = "
            f"{b:g}, d = {d} (use SA, or a smaller beta)"
        )


def zonal_velocity(model, d: int, targets, sources, masses) -> np.ndarray:
    r""":math:`\dot\theta` at polar angles ``targets`` (m,) for the zonal measure with atoms of
    mass ``masses`` (n,) at polar angles ``sources`` (n,) (each atom is a ring: the uniform
    measure on the (d-2)-sphere :math:`\{\langle x, e\rangle = \cos\theta'\}`)."""
    return ZonalField(model, d, targets, sources)(masses)


# ------------------------------------------------------------------ field and its derivative
#: Below this argument :func:`bessel_tables` uses the power series (no cancellation).
SERIES_MAX = 50.0
#: Terms of :func:`hyp0f1_series`: past :math:`j \approx 2\sqrt z` (at most 50) the ratio of
#: consecutive terms is below :math:`z/j^2 \le 1/4`, so 200 terms leave < 1e-40 of the sum.
SERIES_TERMS = 200


def hyp0f1_series(b: float, z: np.ndarray) -> np.ndarray:
    r""":math:`{}_0F_1(;b;z) = \sum_j z^j/((b)_j\, j!)` for :math:`b > 0`, :math:`0 \le z \le
    625` (:data:`SERIES_MAX` squared over 4), summed term by term.

    Every term is positive, so the sum is exact to a few ulps for every b; SciPy's
    ``hyp0f1`` is good only to ~1e-12 for b near 512 (d = 1024), which is the size of the
    kernel's degree-4 harmonic there (:math:`\lambda_4/\lambda_0 \approx 10^{-12}` at
    :math:`\beta = 1`): its noise had spoilt the flow map's growth rates.
    """
    z = np.asarray(z, dtype=float)
    term = np.ones(z.shape)
    total = np.ones(z.shape)
    for j in range(SERIES_TERMS):
        term = term * (z / ((b + j) * (j + 1.0)))
        total += term
    return total


def bessel_tables(d: int, a, derivative: bool = True):
    r""":math:`\log(\Lambda(a)e^{-a})`, :math:`R(a)` and :math:`R'(a)` for :math:`a \ge 0`.

    With :math:`q_k = I_{\nu+k}(a)/I_\nu(a)`: :math:`R = q_1/a` and

    .. math:: R'(a) = \frac{1 - (d-1)R - a^2R^2}{a} = \frac{q_2 - q_1^2}{a}

    (from :math:`I_\nu - I_{\nu+2} = \tfrac{2(\nu+1)}{a} I_{\nu+1}`). For
    :math:`a \le` :data:`SERIES_MAX` everything comes from :math:`F_k = {}_0F_1(;\nu+1+k;
    a^2/4)` (``hyp0f1``, of order one for large d): :math:`\Lambda = F_0`,
    :math:`R = F_1/(2(\nu+1)F_0)` and :math:`R' = \tfrac a4\,[F_2/((\nu+1)(\nu+2)F_0) -
    (F_1/((\nu+1)F_0))^2]`, whose two terms differ by a fraction :math:`1/(\nu+2)` of their
    size (no cancellation as :math:`a \to 0`, where the first form loses everything); beyond,
    from ``log_ive`` (:func:`meanfield.theory.log_ive`). :math:`R(0) = 1/(d-1)`,
    :math:`R'(0) = 0`.

    Parameters
    ----------
    d : int
    a : ndarray
        Non-negative arguments.
    derivative : bool
        Also :math:`R'` (one more Bessel order); else the third result is None.

    Returns
    -------
    log_lambda, R, dR : ndarray, shape of ``a``
    """
    a = np.asarray(a, dtype=float)
    nu = _nu(d)
    logl, R = np.empty(a.shape), np.empty(a.shape)
    dR = np.empty(a.shape) if derivative else None
    small = a <= SERIES_MAX
    x, z = a[small], 0.25 * a[small] ** 2
    F0, F1 = hyp0f1_series(nu + 1.0, z), hyp0f1_series(nu + 2.0, z)
    logl[small] = np.log(F0) - x
    R[small] = F1 / (2.0 * (nu + 1.0) * F0)
    if derivative:
        F2 = hyp0f1_series(nu + 3.0, z)
        dR[small] = 0.25 * x * (F2 / ((nu + 1.0) * (nu + 2.0) * F0) - (F1 / ((nu + 1.0) * F0)) ** 2)
    big = ~small
    ap = a[big]
    l0, l1 = log_ive(nu, ap), log_ive(nu + 1.0, ap)
    logl[big] = gammaln(nu + 1.0) + nu * np.log(2.0 / ap) + l0
    q1 = np.exp(l1 - l0)
    R[big] = q1 / ap
    if derivative:
        dR[big] = (np.exp(log_ive(nu + 2.0, ap) - l0) - q1 * q1) / ap
    return logl, R, dR


#: Width of the pieces of the Chebyshev tables of :func:`bessel_table` in a (the nearest
#: complex singularity of the tabulated functions is at distance pi/2, from d = 2).
TABLE_PIECE = 0.25
#: Chebyshev degree per piece (error about (pi / TABLE_PIECE)^-(degree + 1): round-off).
TABLE_DEGREE = 12
#: Largest a tabulated; beyond it the Bessel functions are evaluated directly.
TABLE_AMAX = 1024.0


@lru_cache(maxsize=16)
def bessel_table(d: int, amax: float) -> np.ndarray:
    r"""Chebyshev coefficients of :func:`bessel_tables` on pieces of :math:`[0, a_{max}]`.

    Pieces of width :data:`TABLE_PIECE`, degree :data:`TABLE_DEGREE`, interpolating at the
    Chebyshev points the exact values (``log_ive``) of :math:`\log(\Lambda e^{-a})`, R and
    R'. These are analytic in a strip of half-width :math:`\pi/2` about the real axis (the
    first zero of :math:`I_\nu(ia)` is at :math:`a = \pi/2` for d = 2 and further for larger
    d), so the interpolant is exact to round-off (measured: 1e-15 relative, see the tests).

    Returns
    -------
    ndarray, shape (3, pieces, TABLE_DEGREE + 1)
        Coefficients (the constant one already halved).
    """
    n = TABLE_DEGREE + 1
    pieces = max(1, int(np.ceil(amax / TABLE_PIECE)))
    k = np.arange(n)
    x = np.cos(np.pi * (k + 0.5) / n)  # Chebyshev points of the first kind
    a = TABLE_PIECE * (np.arange(pieces)[:, None] + 0.5 * (x[None, :] + 1.0))
    vals = np.stack(bessel_tables(d, a))  # (3, pieces, n)
    T = np.cos(np.pi * np.outer(k + 0.5, k) / n) * (2.0 / n)  # values -> coefficients
    coef = vals @ T
    coef[..., 0] *= 0.5
    return coef


def chebyshev_tables(d: int, a: np.ndarray, derivative: bool):
    """:func:`bessel_tables` from the Chebyshev pieces of :func:`bessel_table` (a <= amax)."""
    amax = TABLE_PIECE * np.ceil(max(float(a.max()), TABLE_PIECE) / TABLE_PIECE)
    coef = bessel_table(int(d), float(amax))[: 3 if derivative else 2]
    u = a / TABLE_PIECE
    piece = np.minimum(u.astype(np.int64), coef.shape[1] - 1)
    x2 = 2.0 * (2.0 * (u - piece) - 1.0)  # 2x, x in [-1, 1] on the piece
    c = coef[:, piece]  # (f, ..., n)
    b1 = np.zeros(c.shape[:-1])
    b2 = np.zeros(c.shape[:-1])
    for j in range(c.shape[-1] - 1, 0, -1):
        b1, b2 = c[..., j] + x2 * b1 - b2, b1
    out = c[..., 0] + 0.5 * x2 * b1 - b2
    return out[0], out[1], (out[2] if derivative else None)


class ZonalFlow:
    r"""The zonal field :math:`\dot\theta` and its derivative :math:`\partial_\theta\dot\theta`
    for moving targets and sources (the Lagrangian scheme on a zonal mesh).

    With :math:`u(\theta) = -v\sin\theta\, A(\theta)` (:class:`ZonalField`), the kernel
    :math:`K = e^{bss'}\Lambda(a)` has :math:`\partial_\theta\log K = -b\, r B`, and the bracket
    :math:`B = s' - b s r'^2 R(a)` has
    :math:`\partial_\theta B = b\, r r'^2 R(a) - b|b|\, s^2 r'^3 R'(a)` (:func:`bessel_tables`),
    so that

    .. math::
        \partial_\theta u = -v\,\big(\cos\theta\, A + \sin\theta\, \partial_\theta A\big),\quad
        \partial_\theta A = -b\, r\, \mathrm{Var}_K(B) + \langle \partial_\theta B\rangle_K
        \ \text{(SA)},\quad
        \partial_\theta A = e^{|b|}\!\int K\,(\partial_\theta B - b\, r B^2)\, d\mu
        \ \text{(USA)},

    with :math:`\langle\cdot\rangle_K` the average against :math:`K\,d\mu` (a max-shifted
    softmax; the variance is taken about the mean, so it is never negative). Everything is in
    the scaled, logarithmic form of :class:`ZonalField`: finite for :math:`\beta` up to 1000
    and d up to 1024. No tables are kept (the angles move at every stage).

    Parameters
    ----------
    model : Attention
        Q, K, V multiples of the identity.
    d : int
        Ambient dimension.
    """

    def __init__(self, model, d: int):
        self.d = int(d)
        self.b, self.v, self.normalized = zonal_coupling(model, self.d)

    def __call__(self, targets, sources, masses, jacobian: int = 0):
        r""":math:`\dot\theta` at ``targets`` (m,), and :math:`\partial_\theta\dot\theta` at the
        first ``jacobian`` of them, for atoms (rings) of ``masses`` (n,) at ``sources`` (n,).

        Returns
        -------
        u : ndarray, shape (m,)
        du : ndarray, shape (jacobian,)
        """
        th = np.asarray(targets, dtype=float)
        tp = np.asarray(sources, dtype=float)
        w = np.asarray(masses, dtype=float)
        if not np.any(w > 0):
            raise ValueError("masses must have a positive entry, got none")
        keep = w > 0
        tp, logm = tp[keep], np.log(w[keep])
        jacobian = int(jacobian)
        u, du = np.empty(th.size), np.empty(jacobian)
        rows = max(1, TABLE_MAX // max(tp.size, 1))
        for lo, hi, deriv in ((0, jacobian, True), (jacobian, th.size, False)):
            for start in range(lo, hi, rows):
                part = slice(start, min(start + rows, hi))
                u[part], dpart = self._rows(th[part], tp, logm, deriv)
                if deriv:
                    du[part] = dpart
        return u, du

    def _rows(self, th, tp, logm, derivative):
        b, d = self.b, self.d
        r, s = np.sin(th), np.cos(th)
        rp = np.sin(tp)
        a = abs(b) * np.outer(r, rp)
        tables = chebyshev_tables if abs(b) <= TABLE_AMAX else bessel_tables
        logl, R, dR = tables(d, a, derivative)
        logits = _exponent(b, th, tp) + logl + logm[None, :]
        B = np.cos(tp)[None, :] - b * np.outer(s, rp**2) * R
        if self.normalized:
            weight = np.exp(logits - logits.max(axis=1, keepdims=True))
            weight /= weight.sum(axis=1, keepdims=True)
        else:
            check_usa_overflow(b, d, float(logits.max()), tp.size)
            weight = np.exp(logits + abs(b))
        A = np.sum(weight * B, axis=1)
        if not derivative:
            return -self.v * r * A, None
        Bt = b * np.outer(r, rp**2) * R - b * abs(b) * np.outer(s**2, rp**3) * dR
        if self.normalized:  # variance about the mean: never negative
            dA = -b * r * np.sum(weight * (B - A[:, None]) ** 2, axis=1) + np.sum(weight * Bt, 1)
        else:
            dA = np.sum(weight * (Bt - b * r[:, None] * B**2), axis=1)
        return -self.v * r * A, -self.v * (s * A + r * dA)
