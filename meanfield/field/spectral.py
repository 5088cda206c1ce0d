r"""Spectral evaluator of the attention field on :math:`S^1` and :math:`S^2` (d = 2, 3).

For a target :math:`x` put :math:`z = A x`, :math:`A = \beta K^T Q`, :math:`r = |z|`,
:math:`\hat z = z / r`. The kernel expands in zonal functions of :math:`\hat z \cdot y`,

.. math::
    e^{-r} e^{\langle z, y\rangle} = \sum_{\ell \ge 0} \omega_\ell(r)\, Z_\ell(\hat z\cdot y),
    \qquad \sum_\ell \omega_\ell(r) = 1,

with :math:`\omega_0 = \tilde I_0`, :math:`\omega_\ell = 2\tilde I_\ell`,
:math:`Z_\ell(\cos\gamma) = \cos\ell\gamma` on the circle and
:math:`\omega_\ell = (2\ell+1)\tilde\imath_\ell`, :math:`Z_\ell = P_\ell` on the sphere
(tilde: exponentially scaled, :math:`\tilde I_\ell(r) = e^{-r} I_\ell(r)`,
:math:`\tilde\imath_\ell(r) = e^{-r}\sqrt{\pi/2r}\, I_{\ell+1/2}(r)`). The addition theorem splits
:math:`Z_\ell` into products of harmonics of :math:`\hat z` and of :math:`y`:

- circle: :math:`\cos\ell(\theta_z-\theta_y) = \mathrm{Re}\, u_z^\ell \bar u_y^\ell` with
  :math:`u = y_1 + i y_2`;
- sphere: :math:`P_\ell(\hat z\cdot y) = \sum_{m=0}^{\ell}\mathrm{Re}\,
  S_{\ell m}(\hat z)\overline{S_{\ell m}(y)}`, with Schmidt semi-normalised complex harmonics
  :math:`S_{\ell m}(y) = \tilde S_{\ell m}(y_3)\,(y_1 + i y_2)^m` (the polynomial
  :math:`\tilde S_{\ell m}` is the associated Legendre function divided by :math:`\sin^m\theta`,
  so no angle is ever computed and the poles are harmless).

The sources are expanded once: harmonic moments of the four measures :math:`g_k\,d\mu`,
:math:`g = (1, y_1, y_2, y_3)` (on the circle the numerator's moments are the denominator's
shifted by one), which gives the scaled denominator
:math:`\tilde D(z) = e^{-r}\int e^{\langle z,y\rangle}d\mu` and numerator
:math:`\tilde N(z) = e^{-r}\int e^{\langle z,y\rangle} y\,d\mu` at every target for
:math:`O((n + m) L^{d-1})` work. SA is :math:`V\tilde N/\tilde D` (the factor :math:`e^{r}`
cancels, so nothing overflows); USA multiplies :math:`e^{r}` back and raises
:class:`~meanfield.field.kernels.UnnormalizedOverflowError` when that overflows.

Accuracy. The series is truncated after degree :math:`L`, the smallest with
:math:`\sum_{\ell > L}\omega_\ell(r_{\max}) \le` ``tol``. Every term is bounded by the total
weight :math:`W = \int d\mu`, so the absolute error of :math:`\tilde D, \tilde N` is about
:math:`(\mathrm{tol} + c\,\epsilon) W` (c of a few units, measured), and the relative error
of the field at a target is that divided by :math:`\tilde D`. :math:`\tilde D` is small when
no source lies near the direction :math:`\hat z` (it can be as small as :math:`W e^{-2r}`):
targets whose estimated relative error exceeds ``fallback`` are recomputed by direct
summation, so the result is accurate whatever the configuration.
"""

from __future__ import annotations

import os
from functools import lru_cache

import numpy as np
from scipy.special import ive

from .._checks import as_int, as_scalar
from .direct import direct_field
from .kernels import BLAS_SERIAL_MNK, combine, matmul_rows, parallel_blocks

__all__ = [
    "spectral_field",
    "prefer_spectral",
    "truncation",
    "zonal_weights",
    "schmidt_harmonics",
    "SPECTRAL_TOL",
    "direct_cost",
    "largest_radius",
    "spectral_cost",
    "SPECTRAL_OPTIONS",
    "FALLBACK_RTOL",
    "MAX_DEGREE",
]

#: Default truncation tolerance on the neglected zonal weights (relative to 1): below the
#: few-eps round-off of the expanded sums themselves.
SPECTRAL_TOL = 1e-15
#: Options only the spectral evaluator takes (``method="auto"`` drops them for direct).
SPECTRAL_OPTIONS = ("tol", "fallback")
#: Default relative-error estimate above which a target is evaluated directly.
FALLBACK_RTOL = 1e-11
#: Largest expansion degree (|z| up to about 5000); the Schmidt scale factors grow like 2^L.
MAX_DEGREE = 600
#: Round-off of the expanded sums in units of eps * W: measured at most 3.3 (d = 2, 3,
#: beta = 5..200, sources in a spherical cap, targets everywhere); with a margin.
_ROUNDOFF = 16.0
_EPS = np.finfo(float).eps
#: Points per block (and per thread at least) of the spectral sums.
_THREAD_BLOCK = 32768


# --------------------------------------------------------------------------- zonal weights


def _zonal_exact(r: float, d: int, lmax: int) -> np.ndarray:
    """Zonal weights omega_0..omega_lmax at one radius, from SciPy's scaled Bessel functions."""
    ell = np.arange(lmax + 1)
    if r == 0.0:
        return (ell == 0).astype(float)
    if d == 2:
        return np.where(ell == 0, 1.0, 2.0) * ive(ell, r)
    return (2 * ell + 1) * ive(ell + 0.5, r) * np.sqrt(np.pi / (2 * r))


@lru_cache(maxsize=256)
def _degree(r: float, d: int, tol: float) -> int:
    # cached: a token system or a density on the unit sphere with Q = K = I has one radius,
    # beta, for every call (the Bessel table costs more than a small field evaluation)
    # the weights fall off in l, so a table past 2 MAX_DEGREE only ever shows L > MAX_DEGREE:
    # capping it keeps a huge beta (r = 1e9) from allocating a 1e9-entry table
    lmax = int(min(r + 12.0 * np.sqrt(r) + 60.0, 2 * MAX_DEGREE + 60))
    w = _zonal_exact(r, d, lmax)
    tail = np.cumsum(w[::-1])[::-1]  # tail[l] = sum_{k >= l} w_k, small terms added first
    above = np.nonzero(tail[1:] > tol)[0]
    return 0 if above.size == 0 else int(above[-1]) + 1


def truncation(rmax, d: int, tol: float = SPECTRAL_TOL) -> int:
    r"""Smallest degree L whose neglected zonal weights sum to at most ``tol``.

    Parameters
    ----------
    rmax : float
        Largest :math:`|z| = |A x|` over the targets (the tail grows with r).
    d : {2, 3}
    tol : float
        Tolerance on :math:`\sum_{\ell > L} \omega_\ell(r_{\max})`, in (0, 1).

    Returns
    -------
    L : int

    Raises
    ------
    ValueError
        If L would exceed :data:`MAX_DEGREE`.
    """
    r = float(rmax)
    L = _degree(r, d, tol)
    if L > MAX_DEGREE:
        raise ValueError(
            f"the spectral evaluator needs degree {L} > {MAX_DEGREE} for |z| = {r:.4g} "
            "(beta * |K^T Q x|); use method='direct'"
        )
    return L


def zonal_weights(r, d: int, L: int) -> np.ndarray:
    r"""Zonal weights :math:`\omega_\ell(r_i)`, :math:`\ell = 0..L`, for many radii at once.

    Ratios :math:`\rho_\ell = I_{\ell+\nu}/I_{\ell-1+\nu}` (:math:`\nu = d/2 - 1`) come from the
    backward continued fraction :math:`\rho_\ell = 1/(2(\ell+\nu)/r + \rho_{\ell+1})`, started
    well past ``L`` (the minimal solution is stable backwards), and scale the exactly known
    :math:`\tilde I_0` or :math:`\tilde\imath_0 = (1 - e^{-2r})/2r`. Cost O(m L), no special
    function per degree.

    Parameters
    ----------
    r : ndarray, shape (m,)
        Non-negative radii.
    d : {2, 3}
    L : int

    Returns
    -------
    omega : ndarray, shape (L + 1, m)
    """
    r = np.asarray(r, dtype=float)
    nu = 0.0 if d == 2 else 0.5
    start = max(L, _degree(float(r.max(initial=0.0)), d, 1e-40)) + 20
    with np.errstate(divide="ignore"):
        inv = 1.0 / r  # r = 0 gives ratios 0 below: only omega_0 survives
    out = np.empty((L + 1, r.size))
    rho = np.zeros(r.size)
    for ell in range(start, 0, -1):
        rho = 1.0 / ((2.0 * (ell + nu)) * inv + rho)
        if ell <= L:
            out[ell] = rho
    if d == 2:
        out[0] = ive(0, r)
    else:
        with np.errstate(invalid="ignore", divide="ignore"):
            out[0] = np.where(r > 0, -np.expm1(-2.0 * r) / (2.0 * r), 1.0)
    np.cumprod(out, axis=0, out=out)
    out[1:] *= 2.0 if d == 2 else (2.0 * np.arange(1, L + 1) + 1.0)[:, None]
    return out


@lru_cache(maxsize=64)
def _shared_weights(r: float, d: int, L: int) -> np.ndarray:
    """:func:`zonal_weights` at one radius, shape (L + 1, 1), cached: with Q = K = I every call
    of a run has the radius beta, and the recurrence's Python loop outweighs a small call."""
    omega = zonal_weights(np.array([r]), d, L)
    omega.setflags(write=False)
    return omega


# --------------------------------------------------------------------------- harmonics (S^2)


@lru_cache(maxsize=16)
def _schmidt_tables(L: int):
    r"""Recurrence data for the rescaled Legendre polynomials :math:`R_{\ell m}`.

    :math:`\tilde S_{\ell m} = a_{\ell m} t \tilde S_{\ell-1,m} - b_{\ell m}\tilde S_{\ell-2,m}`
    with :math:`a = (2\ell-1)/\sqrt{(\ell-m)(\ell+m)}`,
    :math:`b = \sqrt{(\ell+m-1)(\ell-m-1)/((\ell+m)(\ell-m))}` and
    :math:`\tilde S_{mm} = \sqrt{(2m-1)!!^2\, 2/(2m)!}` (1 for m = 0). Writing
    :math:`\tilde S_{\ell m} = g_{\ell m} R_{\ell m}` with :math:`g_{\ell m} = a_{\ell m}
    g_{\ell-1,m}` makes the recurrence :math:`R_\ell = t R_{\ell-1} - \kappa_{\ell m}
    R_{\ell-2}`, one multiply fewer per value; :math:`g` is folded into the coefficients.

    Returns
    -------
    kappa, g : ndarray, shape (L + 1, L + 1)
        Indexed [m, l] (zero where l < m).
    """
    ell = np.arange(L + 1, dtype=float)[None, :]
    m = np.arange(L + 1, dtype=float)[:, None]
    valid = ell > m
    with np.errstate(divide="ignore", invalid="ignore"):
        a = np.where(valid, (2 * ell - 1) / np.sqrt((ell - m) * (ell + m)), 0.0)
        ratio = np.maximum((ell + m - 1) * (ell - m - 1), 0) / ((ell + m) * (ell - m))
        b = np.where(valid, np.sqrt(ratio), 0.0)
    a_prev = np.zeros_like(a)
    a_prev[:, 1:] = a[:, :-1]
    with np.errstate(divide="ignore", invalid="ignore"):
        kappa = np.where((ell >= m + 2), b / (a * a_prev), 0.0)
    diag = np.ones(L + 1)
    for k in range(2, L + 1):
        diag[k] = diag[k - 1] * np.sqrt((2 * k - 1) / (2 * k))
    g = np.where(valid, a, 1.0)
    np.cumprod(g, axis=1, out=g)
    g = np.where(ell >= m, g * diag[:, None], 0.0)
    kappa.setflags(write=False)
    g.setflags(write=False)
    return kappa, g


def _legendre(t: np.ndarray, m: int, L: int, out: np.ndarray, tmp: np.ndarray) -> int:
    """Fill ``out[j]`` with R_{m+j, m}(t), j = 0..L-m; returns the row count L + 1 - m.

    One order at a time with scalar coefficients: contiguous 1-D ufunc calls over many points
    are several times faster in NumPy than 2-D broadcasts over orders.
    """
    kappa = _schmidt_tables(L)[0][m]
    rows = L + 1 - m
    out[0] = 1.0
    if rows > 1:
        out[1] = t
    for j in range(2, rows):
        np.multiply(out[j - 1], t, out=out[j])
        np.multiply(out[j - 2], kappa[m + j], out=tmp)
        np.subtract(out[j], tmp, out=out[j])
    return rows


def schmidt_harmonics(points, L: int) -> np.ndarray:
    r"""Complex Schmidt semi-normalised harmonics :math:`S_{\ell m}` of unit vectors in R^3.

    :math:`S_{\ell m}(y) = c_{\ell m} P_\ell^m(\cos\theta) e^{i m\varphi}` with
    :math:`c_{\ell 0} = 1`, :math:`c_{\ell m} = \sqrt{2(\ell-m)!/(\ell+m)!}` (no Condon–Shortley
    phase), so that :math:`P_\ell(a\cdot b) = \sum_m \mathrm{Re}\,S_{\ell m}(a)
    \overline{S_{\ell m}(b)}`. Uses the same recurrence as the evaluator.

    Parameters
    ----------
    points : ndarray, shape (n, 3)
    L : int

    Returns
    -------
    S : ndarray, shape (n, L + 1, L + 1), complex
        ``S[:, l, m]``, zero for m > l.
    """
    p = np.asarray(points, dtype=float)
    L = as_int(L, "L", min_value=0)
    _, g = _schmidt_tables(L)
    zeta = p[:, 0] + 1j * p[:, 1]
    S = np.zeros((p.shape[0], L + 1, L + 1), dtype=complex)
    R = np.empty((L + 1, p.shape[0]))
    tmp = np.empty(p.shape[0])
    for m in range(L + 1):
        rows = _legendre(p[:, 2], m, L, R, tmp)
        S[:, m:, m] = (g[m, m:, None] * R[:rows] * zeta**m).T
    return S


# --------------------------------------------------------------------------- evaluator


def _norms(a: np.ndarray) -> np.ndarray:
    return np.sqrt(np.einsum("ij,ij->i", a, a))


def _radii(z: np.ndarray):
    """Radii and unit directions of the rows of z (direction e_last where r = 0)."""
    r = _norms(z)
    with np.errstate(invalid="ignore", divide="ignore"):
        zhat = z / r[:, None]
    if not r.min() > 0:
        zhat[r == 0] = np.eye(z.shape[1])[-1]
    return r, zhat


def _constant(r: np.ndarray) -> bool:
    """All radii equal to round-off (e.g. Q = K = I): one weight table serves every target."""
    return bool(r.max() - r.min() <= 8 * _EPS * r.max())


def _blocks(fn, count: int, rows: int, work: float, workers) -> None:
    """Run ``fn(slice)`` over ``range(count)`` in blocks of points, threaded when worth it.

    NumPy calls on short arrays hold the GIL for much of their time, and two threads trading
    it often run slower than one: blocks are long (:data:`_THREAD_BLOCK` points, fewer when
    the work arrays of ``rows`` rows would pass 16 MB) and a thread is only added per full
    block.
    """
    cpus = os.cpu_count() or 1
    nw = cpus if workers is None else min(cpus, as_int(workers, "workers", min_value=1))
    size = int(max(1024, min(_THREAD_BLOCK, (1 << 21) // rows)))
    nw = max(1, min(nw, count // size))
    size = max(1, min(size, -(-count // nw)))

    def run(chunk):
        for s in range(chunk.start, chunk.stop, size):
            fn(slice(s, min(s + size, chunk.stop)))

    parallel_blocks(run, count, size, work, nw)


def _sub_blocks(b: int, rows: int, width: int, even: bool = False):
    """Column slices of a (rows x b) block whose products stay single-threaded in BLAS.

    ``even`` keeps (Re, Im) column pairs of a complex array's real view together.
    """
    step = max(16, BLAS_SERIAL_MNK // (rows * width))
    step -= step % 2 if even else 0
    return [slice(j, min(j + step, b)) for j in range(0, b, step)]


def _powers(u: np.ndarray, L: int) -> np.ndarray:
    """``u**l`` for l = 0..L as rows of a complex (L + 1, b) array (error ~ l eps)."""
    P = np.empty((L + 1, u.size), dtype=complex)
    P[0] = 1.0
    for ell in range(1, L + 1):
        np.multiply(P[ell - 1], u, out=P[ell])
    return P


def _circle_moments(y, w, L, workers):
    r"""Moments :math:`c_\ell = \sum_j w_j \bar u_j^\ell`, :math:`\ell = 0..L+1`."""
    u = y[:, 0] - 1j * y[:, 1]
    parts = {}

    def fn(s):
        # real view: columns alternate Re, Im; W2 picks each with the weight (a real GEMM)
        P = _powers(u[s], L + 1).view(float)
        W2 = np.zeros((P.shape[1], 2))
        W2[0::2, 0] = w[s]
        W2[1::2, 1] = w[s]
        acc = np.zeros((L + 2, 2))
        for j in _sub_blocks(P.shape[1], L + 2, 2, even=True):
            acc += P[:, j] @ W2[j]
        parts[s.start] = acc

    _blocks(fn, y.shape[0], L + 2, y.shape[0] * (L + 2) * 8, workers)
    c = sum(parts[k] for k in sorted(parts))
    return c[:, 0] + 1j * c[:, 1]


def _circle_eval(zhat, omega, c, L, workers):
    r"""Scaled denominator and numerator at the targets on :math:`S^1`.

    :math:`\tilde D = \mathrm{Re}\sum_{\ell=0}^{L}\omega_\ell v^\ell c_\ell`,
    :math:`\tilde N_1 + i\tilde N_2 = \sum_{\ell=-L}^{L}\tilde I_{|\ell|} v^\ell c_{\ell-1}` with
    :math:`v = \hat z_1 + i\hat z_2`, :math:`c_{-\ell} = \bar c_\ell`: three complex sums
    :math:`\sum_\ell \omega_\ell v^\ell h_\ell`, the last conjugated.
    """
    m = zhat.shape[0]
    v = zhat[:, 0] + 1j * zhat[:, 1]
    half = np.concatenate([[1.0], np.full(L, 0.5)])  # I~_l = omega_l / 2 for l >= 1
    h = np.zeros((L + 1, 3), dtype=complex)
    h[:, 0] = c[: L + 1]
    h[0, 1] = np.conj(c[1])
    h[1:, 1] = c[:L]
    h[1:, 2] = c[2 : L + 2]
    h[:, 1:] *= half[:, None]
    shared = omega.shape[1] == 1
    if shared:
        h *= omega[:, :1]
    # Re/Im parts of each sum from one real GEMM on the interleaved view of v^l
    rhsT = np.ascontiguousarray(np.stack([h.real, h.imag], axis=2).reshape(L + 1, 6).T)
    den = np.empty(m)
    num = np.empty((m, 2))

    def fn(s):
        Hf = _powers(v[s], L).view(float)  # (L+1, 2b): columns Re v^l, Im v^l alternate
        if not shared:
            Hf.reshape(L + 1, -1, 2)[...] *= omega[:, s, None]
        M = np.empty((6, Hf.shape[1]))
        for j in _sub_blocks(Hf.shape[1], L + 1, 6, even=True):
            np.matmul(rhsT, Hf[:, j], out=M[:, j])
        re, im = M[:, 0::2], M[:, 1::2]
        den[s] = re[0] - im[1]
        num[s, 0] = (re[2] - im[3]) + (re[4] - im[5])
        num[s, 1] = (re[3] + im[2]) - (re[5] + im[4])

    _blocks(fn, m, L + 1, m * (L + 1) * 8, workers)
    return den, num


def _sphere_moments(y, w, L, workers):
    r"""Moments :math:`C_{\ell m k} = \sum_j w_j g_k(y_j)\overline{S_{\ell m}(y_j)}/g_{\ell m}`.

    Returned as real arrays ``C[m]`` of shape (L+1-m, 8): real parts of k = 0..3, then
    imaginary parts (the Schmidt factor g is applied by the caller).
    """
    parts = {}
    g4 = np.concatenate([w[None, :], w[None, :] * y.T], axis=0)  # (4, n)
    zeta = y[:, 0] - 1j * y[:, 1]

    def fn(s):
        b = s.stop - s.start
        t, z, gs = y[s, 2], zeta[s], g4[:, s]
        R, tmp = np.empty((L + 1, b)), np.empty(b)
        W = np.empty((8, b))
        phase = np.ones(b, dtype=complex)
        acc = []
        for m in range(L + 1):
            if m:
                phase *= z
            np.multiply(gs, phase.real, out=W[:4])
            np.multiply(gs, phase.imag, out=W[4:])
            rows = _legendre(t, m, L, R, tmp)
            Cm = np.zeros((rows, 8))
            for j in _sub_blocks(b, rows, 8):
                Cm += R[:rows, j] @ W[:, j].T
            acc.append(Cm)
        parts[s.start] = acc

    _blocks(fn, y.shape[0], L + 1, y.shape[0] * (L + 1) ** 2 * 4, workers)
    keys = sorted(parts)
    return [sum(parts[k][m] for k in keys) for m in range(L + 1)]


def _sphere_eval(zhat, omega, C, L, workers):
    r"""Scaled denominator and numerator at the targets on :math:`S^2`.

    :math:`\sum_{\ell m}\omega_\ell(r)\,\mathrm{Re}\,S_{\ell m}(\hat z) C_{\ell m k}`, per
    order m: a product of the Legendre block with the moments, then the phase :math:`\zeta^m`.
    """
    count = zhat.shape[0]
    _, g = _schmidt_tables(L)
    shared = omega.shape[1] == 1
    coefT = []  # (8, L+1-m) per order
    for m in range(L + 1):
        # one g from the source harmonic, one from the target's (each up to 2^L: not squared)
        gw = g[m, m:] * omega[m:, 0] if shared else g[m, m:]
        coefT.append(np.ascontiguousarray(((C[m] * g[m, m:, None]) * gw[:, None]).T))
    zeta = zhat[:, 0] + 1j * zhat[:, 1]
    out = np.empty((count, 4))

    def fn(s):
        b = s.stop - s.start
        t, z = zhat[s, 2], zeta[s]
        R, tmp = np.empty((L + 1, b)), np.empty(b)
        X, T = np.empty((8, b)), np.empty((4, b))
        acc = np.zeros((4, b))
        phase = np.ones(b, dtype=complex)
        for m in range(L + 1):
            if m:
                phase *= z
            rows = _legendre(t, m, L, R, tmp)
            if not shared:
                R[:rows] *= omega[m:, s]
            for j in _sub_blocks(b, rows, 8):
                np.matmul(coefT[m], R[:rows, j], out=X[:, j])
            # Re(phase * (X_re + i X_im)) row by row over the points
            np.multiply(X[:4], phase.real, out=T)
            acc += T
            np.multiply(X[4:], phase.imag, out=T)
            acc -= T
        out[s] = acc.T

    _blocks(fn, count, L + 1, count * (L + 1) ** 2 * 4, workers)
    return out[:, 0], out[:, 1:]


def _options(tol, fallback):
    tol = SPECTRAL_TOL if tol is None else as_scalar(tol, "tol", min_value=0.0, strict=True)
    if not tol < 1.0:
        raise ValueError(f"tol must be in (0, 1), got {tol:g}")
    if fallback is not None:
        fallback = as_scalar(fallback, "fallback", min_value=0.0, strict=True)
    return tol, fallback


def spectral_field(
    model, x, y, w, tol=None, fallback=FALLBACK_RTOL, workers=None, chunk_size=None
) -> np.ndarray:
    r"""Ambient attention field by harmonic expansion (d = 2: Fourier, d = 3: spherical).

    Parameters
    ----------
    model : Attention
    x : ndarray, shape (m, d)
        Targets (any points; only :math:`z = A x` matters).
    y : ndarray, shape (n, d)
        Sources on the unit sphere (radially projected: the expansion needs :math:`|y| = 1`).
    w : ndarray, shape (n,)
        Non-negative source weights.
    tol : float, optional
        Truncation tolerance on the zonal weights (default :data:`SPECTRAL_TOL`, round-off).
    fallback : float or None
        Targets whose estimated relative error
        :math:`(\mathrm{tol} + 16\epsilon) W / \tilde D` exceeds this are recomputed by
        :func:`~meanfield.field.direct.direct_field` (default :data:`FALLBACK_RTOL`); ``None``
        keeps the spectral values wherever :math:`\tilde D > 0`.
    workers : int, optional
        Most threads to use (default ``os.cpu_count()``); one per block of
        :data:`_THREAD_BLOCK` points at most.
    chunk_size : int, optional
        Tile size passed to the direct evaluator for fallback targets.

    Returns
    -------
    F : ndarray, shape (m, d)

    Raises
    ------
    ValueError
        If d is not 2 or 3, or ``tol``/``fallback`` are invalid.
    UnnormalizedOverflowError
        USA only, when :math:`e^{|z|}\tilde N` exceeds the float64 range.
    """
    d = x.shape[1]
    if d not in (2, 3):
        raise ValueError(
            f"the spectral evaluator needs points in R^2 or R^3 (S^1 or S^2), got d = {d}; "
            "use method='direct'"
        )
    tol, fallback = _options(tol, fallback)
    if not w.min() > 0:
        keep = w > 0
        y, w = y[keep], w[keep]
    y = y / _norms(y)[:, None]
    z = matmul_rows(x, model.interaction(d).T)
    r, zhat = _radii(z)
    L = truncation(r.max(), d, tol)
    omega = _shared_weights(float(r[0]), d, L) if _constant(r) else zonal_weights(r, d, L)
    if d == 2:
        den, num = _circle_eval(zhat, omega, _circle_moments(y, w, L, workers), L, workers)
    else:
        den, num = _sphere_eval(zhat, omega, _sphere_moments(y, w, L, workers), L, workers)
    num = matmul_rows(num, model.value(d).T)
    bad = _unreliable(den, w.sum(), tol, fallback)
    return combine(
        model,
        num,
        den,
        r,
        bad,
        lambda b: direct_field(model, x[b], y, w, chunk_size=chunk_size, workers=workers),
    )


def _unreliable(den, total, tol, fallback) -> np.ndarray:
    """Targets whose scaled denominator is too small for the expansion's absolute error."""
    err = (tol + _ROUNDOFF * _EPS) * total
    if fallback is None:
        return ~(den > 0)  # cannot be right whatever the tolerance
    return ~(den * fallback > err)  # also catches den <= 0 and NaN


#: Cost model of :func:`spectral_cost` (seconds, fitted on a 2-core AMD EPYC): direct pays
#: ``direct_call`` once and ``pair`` per source-target pair (CPU seconds measured at n = m = 100
#: to 10^4 on S^1 and S^2); spectral pays ``call`` once plus, per harmonic (order-degree
#: pair on S^2, Fourier mode on S^1), ``python`` of interpreter overhead and ``point`` per point.
_COST = {
    "direct_call": 1.5e-4,
    "pair": 2.5e-9,
    2: {"call": 7e-4, "python": 4e-6, "point": 6e-9},
    3: {"call": 1e-3, "python": 9e-6, "point": 3.5e-9},
}


def direct_cost(m: int, n: int) -> float:
    """Modelled seconds of one direct evaluation, m targets and n sources (see :data:`_COST`)."""
    return _COST["direct_call"] + m * n * _COST["pair"]


def spectral_cost(d: int, m: int, n: int, L: int) -> float:
    r"""Modelled seconds of one spectral evaluation at degree L (inf for d not in {2, 3}).

    :math:`c_{call} + H (c_{python} + (m + n) c_{point})` with :math:`H = L + 2` harmonics on
    :math:`S^1` and :math:`(L+1)(L+2)/2` on :math:`S^2` (constants in :data:`_COST`).
    """
    c = _COST.get(d)
    if c is None:
        return np.inf
    harmonics = (L + 2) if d == 2 else (L + 1) * (L + 2) / 2
    return c["call"] + harmonics * (c["python"] + (m + n) * c["point"])


def largest_radius(model, x) -> float:
    r"""Largest :math:`|A x|` over the rows of x (no product when Q = K = I)."""
    d = x.shape[1]
    if model.Q is None and model.K is None:
        return model.beta * float(np.sqrt(np.einsum("ij,ij->i", x, x).max()))
    return float(_norms(matmul_rows(x, model.interaction(d).T)).max())


def prefer_spectral(model, x, y) -> bool:
    r"""Whether the spectral evaluator is cheaper than direct summation for these points.

    Compares :func:`spectral_cost` at the degree of the largest :math:`|A x|` (default
    tolerance) with :func:`direct_cost`. False for d not in {2, 3} and beyond
    :data:`MAX_DEGREE`.

    Parameters
    ----------
    model : Attention
    x : ndarray, shape (m, d)
        Targets.
    y : ndarray, shape (n, d)
        Sources.

    Returns
    -------
    bool
    """
    m, d = x.shape
    n = y.shape[0]
    c = _COST.get(d)
    if c is None or direct_cost(m, n) <= c["call"]:
        return False  # wrong dimension, or too small for the fixed cost alone
    try:
        L = truncation(largest_radius(model, x), d)
    except ValueError:
        return False
    return spectral_cost(d, m, n, L) < direct_cost(m, n)
