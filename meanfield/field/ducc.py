r"""Attention field by fast spherical-harmonic and Fourier transforms from ducc0.

The expansion is the spectral evaluator's (:mod:`meanfield.field.spectral`): for a target put
:math:`z = A x`, :math:`r = |z|`, :math:`\hat z = z / r`; then

.. math::
    \tilde D(z) = e^{-r}\int e^{\langle z, y\rangle}d\mu(y)
                = \sum_{\ell\ge0}\omega_\ell(r)\int Z_\ell(\hat z\cdot y)\,d\mu(y),

truncated at the degree L of :func:`~meanfield.field.spectral.truncation`. The harmonic sums are
done by ducc0 instead of NumPy recurrences:

- :math:`S^2`: one ``adjoint_synthesis_general`` gives the moments
  :math:`a_{\ell m} = \sum_j w_j \overline{Y_{\ell m}(y_j)}` (orthonormal harmonics, so
  :math:`P_\ell(a\cdot b) = \frac{4\pi}{2\ell+1}\sum_m Y_{\ell m}(a)\overline{Y_{\ell m}(b)}`).
  The numerator needs no further moments: :math:`N(z) = \int e^{\langle z,y\rangle}y\,d\mu =
  \nabla_z D(z)`, and with :math:`D = \sum_\ell (2\ell+1) i_\ell(r) \int P_\ell\,d\mu`
  (modified spherical Bessel :math:`i_\ell`, :math:`i_\ell' = i_{\ell+1} + \ell i_\ell / r`),

  .. math::
      e^{-r}N(z) = \hat z \sum_\ell \rho_\ell(r) \int P_\ell\,d\mu
                 + \frac1r \nabla_S \sum_\ell \omega_\ell(r) \int P_\ell\,d\mu, \qquad
      \rho_\ell = \frac{2\ell+1}{2\ell+3}\omega_{\ell+1} + \frac{\ell}{r}\omega_\ell \ge 0,

  three ``synthesis_general`` calls at the targets (two scalar maps and one ``DERIV1``
  spin-1 map, the surface gradient in the :math:`(e_\theta, e_\varphi)` frame).
- :math:`S^1`: one type-1 NUFFT gives :math:`c_\ell = \sum_j w_j e^{-i\ell\theta_j}`,
  :math:`|\ell| \le L + 1`; one type-2 NUFFT with two transforms evaluates
  :math:`\tilde D = \sum_{|\ell|\le L}\tilde I_{|\ell|}(r)c_\ell e^{i\ell\theta}` and
  :math:`\tilde N_1 + i\tilde N_2 = \sum_{|\ell|\le L}\tilde I_{|\ell|}(r)c_{\ell-1}
  e^{i\ell\theta}`.

When the radii :math:`r = |Ax|` differ between targets (general Q, K, or targets off the unit
sphere), each radial weight :math:`\omega_\ell(r)` is expanded in Chebyshev polynomials
:math:`T_k` of r on :math:`[r_{\min}, r_{\max}]`, truncated where the neglected coefficients sum
to ``tol``; the transforms run once per kept polynomial and their values are combined with
:math:`T_k(r_i)` at each target.

Accuracy is the spectral evaluator's (absolute error about :math:`(\mathrm{tol} + c\,\epsilon)W`
on :math:`\tilde D,\tilde N`, with ducc0's own accuracy ``epsilon`` added), and the same
fallback: targets whose estimated relative error exceeds ``fallback`` are recomputed by direct
summation.
"""

from __future__ import annotations

import os
from functools import lru_cache

import numpy as np

from .._checks import as_int, as_scalar
from .direct import direct_field
from .kernels import combine, matmul_rows
from .spectral import (
    FALLBACK_RTOL,
    SPECTRAL_TOL,
    direct_cost,
    largest_radius,
    spectral_cost,
    spectral_field,
    truncation,
    zonal_weights,
)

__all__ = [
    "DUCC_EPSILON",
    "DUCC_OPTIONS",
    "MAX_RADIAL_TERMS",
    "available",
    "ducc_cost",
    "ducc_field",
    "ducc_options",
    "ducc_sums",
    "radial_terms",
    "unreliable",
]

#: Accuracy asked of ducc0's transforms (its smallest allowed value in double precision is
#: about 2e-13; the errors measured at this setting are a few 1e-15 relative to the total weight).
DUCC_EPSILON = 3e-13
#: Options only this evaluator takes (``"auto"`` drops them for the others).
DUCC_OPTIONS = ("tol", "fallback", "epsilon")
#: Absolute error of the transformed sums in units of ``epsilon * W``, per dimension: measured
#: at most 0.42 on S^1 and 0.098 on S^2 (beta = 1..40, sources in caps of three widths, targets
#: everywhere); with a margin.
_TRANSFORM_ERROR = {2: 1.0, 3: 0.3}
#: Below this many points (sources + targets) ducc0 runs on one thread: on small transforms its
#: threads cost more CPU time than they save.
THREAD_MIN_POINTS = 1 << 17
_CPUS = os.cpu_count() or 1
_EPS = np.finfo(float).eps
#: Round-off of the assembled sums, in units of eps * W (as the spectral evaluator's).
_ROUNDOFF = 16.0
#: Most Chebyshev polynomials in r (a range of radii needing more falls back to 'spectral').
MAX_RADIAL_TERMS = 128


#: Cost model of :func:`ducc_cost` (CPU seconds, fitted on a 2-core AMD EPYC at n = m = 100 to
#: 10^5, beta = 1 to 40): a fixed ``call``, ``source`` per source point (the adjoint transform),
#: per radial term ``term`` and ``target`` per target point (the syntheses), and ``grid`` per
#: squared degree and transform (the FFT grids and Legendre sums of S^2).
_COST = {
    2: {"call": 1.1e-4, "term": 3e-5, "source": 2.5e-8, "target": 5.5e-8, "grid": 0.0},
    3: {"call": 3e-4, "term": 1e-4, "source": 1.5e-7, "target": 3.5e-7, "grid": 1e-7},
}


def ducc_cost(d: int, m: int, n: int, L: int, terms: int = 1) -> float:
    """Modelled CPU seconds of one evaluation: m targets, n sources, degree L, ``terms``
    Chebyshev terms in r (1 when every target has the same radius); inf for d not in {2, 3}.
    Constants in :data:`_COST`."""
    c = _COST.get(d)
    if c is None:
        return np.inf
    transforms = 1 + 3 * terms
    per_term = c["term"] + c["target"] * m
    return c["call"] + c["source"] * n + terms * per_term + c["grid"] * L * L * transforms


def available() -> bool:
    """Whether ducc0 can be imported."""
    try:
        import ducc0  # noqa: F401
    except ImportError:
        return False
    return True


# --------------------------------------------------------------------------- radial weights


def _radial_tables(r: np.ndarray, d: int, L: int) -> list[np.ndarray]:
    r"""Radial weight families at radii r > 0, each of shape (len(r), L + 1).

    S^2: the weights of :math:`\frac{4\pi}{2\ell+1}\sum_m a_{\ell m}Y_{\ell m}` for the scaled
    denominator (:math:`\omega_\ell`), the radial numerator (:math:`\rho_\ell`) and the
    tangential numerator (:math:`\omega_\ell / r`). S^1: :math:`\tilde I_{|\ell|}(r)`.
    """
    om = zonal_weights(r, d, L + 1).T  # (len(r), L + 2)
    ell = np.arange(L + 1)
    if d == 2:
        half = np.where(ell == 0, 1.0, 0.5)
        return [om[:, : L + 1] * half]
    scale = 4.0 * np.pi / (2 * ell + 1)
    inv = 1.0 / r[:, None]
    omega = om[:, : L + 1]
    rho = (2 * ell + 1) / (2 * ell + 3) * om[:, 1:] + ell * omega * inv
    tangential = omega * inv * scale
    tangential[:, 0] = 0.0  # the gradient of the l = 0 term vanishes (and omega_0 / r has a pole)
    return [omega * scale, rho * scale, tangential]


@lru_cache(maxsize=64)
def _shared_tables(r: float, d: int, L: int) -> tuple[np.ndarray, ...]:
    """:func:`_radial_tables` at one radius, cached (r depends only on beta when Q = K = I)."""
    tabs = tuple(t[0] for t in _radial_tables(np.array([r]), d, L))
    for t in tabs:
        t.setflags(write=False)
    return tabs


def _chebyshev_tables(a: float, b: float, d: int, L: int, tol: float):
    r"""Chebyshev coefficients in r on [a, b] of each radial family, truncated at ``tol``.

    Returns
    -------
    coef : list of ndarray, shape (K, L + 1)
        ``coef[f][k]`` multiplies :math:`T_k(s)`, :math:`s = (2r - a - b)/(b - a)`.

    Kept are the polynomials whose coefficients add more than ``tol`` (plus 32 eps times the
    family's size, the round-off of the coefficients) to a family's sum: the denominator's and
    the radial numerator's by :math:`\sum_\ell|c_{k\ell}|` (each :math:`\int P_\ell\,d\mu`
    is at most W), the tangential one weighted by :math:`\ell + 1` (the size of
    :math:`\nabla_S P_\ell`). Nodes double from 16 until the last four coefficients are below
    that; None past :data:`MAX_RADIAL_TERMS`.
    """
    n = 16
    while True:
        theta = np.pi * (np.arange(n) + 0.5) / n
        nodes = 0.5 * (a + b) + 0.5 * (b - a) * np.cos(theta)
        values = _radial_tables(nodes, d, L)
        # DCT-II by a small matrix product: c_k = (2/n) sum_j f(r_j) cos(k theta_j)
        cosk = np.cos(np.outer(np.arange(n), theta)) * (2.0 / n)
        cosk[0] *= 0.5
        coefs = [cosk @ v for v in values]
        weights = [np.ones(L + 1)] * len(coefs)
        if d == 3:
            weights[2] = np.arange(L + 1) + 1.0
        # each coefficient's contribution to the family's sum, against the DCT's round-off
        # (measured up to ~10 eps times the family's size; the series decays geometrically, so
        # what is dropped is about the first dropped coefficient)
        pairs = list(zip(coefs, values, weights, strict=True))
        sizes = [np.abs(c) @ wt for c, _, wt in pairs]
        limits = [tol + 32 * _EPS * (np.abs(v).max(axis=0) @ wt) for _, v, wt in pairs]
        # an n-point interpolant is resolved once its last coefficients are at that floor
        if all(e[n - 4 :].max() <= lim for e, lim in zip(sizes, limits, strict=True)):
            K = 1 + max(
                int(np.nonzero(e > lim)[0].max(initial=-1))
                for e, lim in zip(sizes, limits, strict=True)
            )
            return [c[: max(K, 1)] for c in coefs]
        if n >= MAX_RADIAL_TERMS:
            return None
        n *= 2


def _chebyshev_values(s: np.ndarray, K: int) -> np.ndarray:
    """T_0..T_{K-1} at s in [-1, 1], shape (K, m)."""
    T = np.empty((K, s.size))
    T[0] = 1.0
    if K > 1:
        T[1] = s
    for k in range(2, K):
        np.multiply(2.0 * s, T[k - 1], out=T[k])
        T[k] -= T[k - 2]
    return T


# --------------------------------------------------------------------------- transforms


def _threads(workers, points: int) -> int:
    """ducc0 threads: ``workers`` (default all CPUs), one below :data:`THREAD_MIN_POINTS`."""
    nw = _CPUS if workers is None else min(_CPUS, as_int(workers, "workers", min_value=1))
    return 1 if points < THREAD_MIN_POINTS else nw


def _angles(p: np.ndarray):
    """Colatitude/longitude (npts, 2) of unit rows of p, with cos/sin of both."""
    s = np.hypot(p[:, 0], p[:, 1])
    loc = np.empty((p.shape[0], 2))
    loc[:, 0] = np.arctan2(s, p[:, 2])
    phi = np.arctan2(p[:, 1], p[:, 0])
    phi[phi < 0] += 2.0 * np.pi
    loc[:, 1] = phi
    return loc, s


def _frame(p: np.ndarray, s: np.ndarray):
    r"""Unit vectors :math:`e_\theta, e_\varphi` at unit rows of p (any frame at the poles)."""
    safe = np.where(s > 0, s, 1.0)
    cphi = np.where(s > 0, p[:, 0] / safe, 1.0)
    sphi = np.where(s > 0, p[:, 1] / safe, 0.0)
    e_theta = np.stack([p[:, 2] * cphi, p[:, 2] * sphi, -s], axis=1)
    e_phi = np.stack([-sphi, cphi, np.zeros_like(s)], axis=1)
    return e_theta, e_phi


@lru_cache(maxsize=16)
def _degree_index(L: int) -> np.ndarray:
    """Degree l of each entry of a healpy-ordered a_lm array (m = 0..L, l = m..L)."""
    idx = np.concatenate([np.arange(m, L + 1) for m in range(L + 1)])
    idx.setflags(write=False)
    return idx


def _sphere_sums(zhat, y, w, L, radial, eps, nthreads, second=False):
    r"""Scaled sums :math:`e^{-r}\sum_j w_j e^{\langle z, y_j\rangle}(1, y_j[, y_j y_j^T])`
    on :math:`S^2`, shapes (m,), (m, 3)[, (m, 3, 3)].

    Each vector sum is the gradient of a scalar one: :math:`\sum_j w_j g(y_j)
    e^{\langle z,y_j\rangle}y_j = \nabla_z \sum_j w_j g(y_j) e^{\langle z,y_j\rangle}` with
    g = 1 (the numerator) and :math:`g = y_k` (row k of the second moments), one adjoint
    transform per g. ``radial`` is a list of K (weights, per-target factor or None) pairs; the
    result is :math:`\sum_k \mathrm{factor}_k \cdot \mathrm{sums}(\mathrm{weights}_k)`.
    """
    from ducc0.sht import adjoint_synthesis_general, synthesis_general

    yloc, _ = _angles(y)
    maps = [w] + ([w * y[:, k] for k in range(3)] if second else [])
    alms = [
        adjoint_synthesis_general(
            map=g[None, :], spin=0, lmax=L, loc=yloc, epsilon=eps, nthreads=nthreads
        )[0]
        for g in maps
    ]
    xloc, s = _angles(zhat)
    li = _degree_index(L)

    def synth(alm, weights, spin):
        mode = "DERIV1" if spin else "STANDARD"
        out = synthesis_general(
            alm=(alm * weights[li])[None], spin=spin, lmax=L, loc=xloc, epsilon=eps,
            nthreads=nthreads, mode=mode,
        )  # fmt: skip
        return out if spin else out[0]

    m = zhat.shape[0]
    den = np.zeros(m)
    rad = np.zeros((len(maps), m))
    tan = np.zeros((len(maps), 2, m))
    for (wd, wr, wt), factor in radial:
        f = 1.0 if factor is None else factor
        den += synth(alms[0], wd, 0) * f
        for j, alm in enumerate(alms):
            rad[j] += synth(alm, wr, 0) * f
            tan[j] += synth(alm, wt, 1) * f
    e_theta, e_phi = _frame(zhat, s)
    # gradient (radial, e_theta, e_phi) -> Cartesian, for each g: shape (len(maps), m, 3)
    grads = rad[:, :, None] * zhat + tan[:, 0, :, None] * e_theta + tan[:, 1, :, None] * e_phi
    return den, grads[0], (grads[1:].transpose(1, 0, 2) if second else None)


def _circle_sums(z, y, w, L, radial, eps, nthreads, same, second=False):
    r"""Scaled sums :math:`e^{-r}\sum_j w_j e^{\langle z, y_j\rangle}(1, y_j[, y_j y_j^T])`
    on :math:`S^1`, shapes (m,), (m, 2)[, (m, 2, 2)].

    With :math:`u = y_1 + i y_2`: the sums of 1, u and :math:`u^2` are Fourier series in the
    target angle with coefficients :math:`\tilde I_{|\ell|} c_{\ell - k}`, k = 0, 1, 2, and
    :math:`y y^T = \frac12(I + [[\mathrm{Re}\,u^2, \mathrm{Im}\,u^2],
    [\mathrm{Im}\,u^2, -\mathrm{Re}\,u^2]])`. ``z`` (m, 2) gives the targets' directions.
    ``same``: the targets are the sources, so one NUFFT plan (sorting the points, a large part
    of a transform) serves both directions; the type-2 grids are zero-padded to its size.
    """
    from ducc0.nufft import plan

    shifts = 3 if second else 2
    pad = shifts  # modes |l| <= L + pad - 1 of the sources, |l| <= L of the targets
    modes = 2 * (L + pad) + 1
    ty = np.arctan2(y[:, 1], y[:, 0])[:, None]
    src = plan(nu2u=True, coord=ty, grid_shape=(modes,), epsilon=eps, nthreads=nthreads)
    c = src.nu2u(points=w.astype(complex), forward=True)  # modes -(L+pad)..L+pad
    if same:
        dst = src
    else:
        tx = np.arctan2(z[:, 1], z[:, 0])[:, None]
        dst = plan(nu2u=False, coord=tx, grid_shape=(modes,), epsilon=eps, nthreads=nthreads)
    grids = np.zeros((shifts * len(radial), modes), dtype=complex)
    inner = slice(pad, modes - pad)  # l = -L..L
    for k, ((wi,), _) in enumerate(radial):
        sym = np.concatenate([wi[:0:-1], wi])  # I~_|l|, l = -L..L
        for j in range(shifts):
            grids[shifts * k + j, inner] = sym * c[pad - j : modes - pad - j]  # c_{l-j}
    vals = dst.u2nu(grid=grids, forward=False)
    if len(radial) > 1:
        factors = np.stack([f for _, f in radial])  # (K, m)
        vals = np.einsum("kjm,km->jm", vals.reshape(len(radial), shifts, -1), factors)
    den = vals[0].real
    num = vals[1].view(float).reshape(-1, 2) if vals[1].flags.c_contiguous else None
    if num is None:
        num = np.stack([vals[1].real, vals[1].imag], axis=1)
    if not second:
        return den, num, None
    u2 = vals[2]
    s2 = np.empty((z.shape[0], 2, 2))
    s2[:, 0, 0] = 0.5 * (den + u2.real)
    s2[:, 1, 1] = 0.5 * (den - u2.real)
    s2[:, 0, 1] = s2[:, 1, 0] = 0.5 * u2.imag
    return den, num, s2


# --------------------------------------------------------------------------- evaluator


def _radial_plan(r: np.ndarray, d: int, L: int, tol: float):
    """(weights, per-target factor) pairs: one shared table, or a Chebyshev expansion in r."""
    rmin, rmax = float(r.min()), float(r.max())
    if rmax - rmin <= 8 * _EPS * rmax:
        return [(_shared_tables(rmax, d, L), None)]
    coefs = _chebyshev_tables(rmin, rmax, d, L, tol)
    if coefs is None:
        return None
    T = _chebyshev_values((2.0 * r - rmin - rmax) / (rmax - rmin), coefs[0].shape[0])
    return [(tuple(c[k] for c in coefs), T[k]) for k in range(T.shape[0])]


def radial_terms(model, x, L: int, tol: float = SPECTRAL_TOL) -> int:
    """Transforms per output family for targets x: 1 when every :math:`|Ax|` is the same, else
    the Chebyshev terms in r (:data:`MAX_RADIAL_TERMS` + 1 when even those do not suffice)."""
    d = x.shape[1]
    iso = model.Q is None and model.K is None
    z = x if iso else matmul_rows(x, model.interaction(d).T)
    r = np.sqrt(np.einsum("ij,ij->i", z, z)) * (model.beta if iso else 1.0)
    rmin, rmax = float(r.min()), float(r.max())
    if rmax - rmin <= 8 * _EPS * rmax:
        return 1
    if not rmin > 0:
        rmin = 0.0
    coefs = _chebyshev_tables(rmin, rmax, d, L, tol)
    return MAX_RADIAL_TERMS + 1 if coefs is None else coefs[0].shape[0]


def ducc_options(tol, fallback, epsilon):
    """Validated ``(tol, fallback, epsilon)`` (defaults filled in) for :func:`ducc_sums`."""
    tol = SPECTRAL_TOL if tol is None else as_scalar(tol, "tol", min_value=0.0, strict=True)
    if not tol < 1.0:
        raise ValueError(f"tol must be in (0, 1), got {tol:g}")
    if fallback is not None:
        fallback = as_scalar(fallback, "fallback", min_value=0.0, strict=True)
    eps = DUCC_EPSILON if epsilon is None else as_scalar(epsilon, "epsilon", strict=True)
    if not 2e-13 <= eps < 0.1:
        raise ValueError(f"epsilon must be in [2e-13, 0.1) (ducc0's range), got {eps:g}")
    return tol, fallback, eps


def ducc_field(
    model, x, y, w, tol=None, fallback=FALLBACK_RTOL, epsilon=None, workers=None, chunk_size=None
) -> np.ndarray:
    r"""Ambient attention field by ducc0's spherical-harmonic (S^2) or Fourier (S^1) transforms.

    Parameters
    ----------
    model : Attention
    x : ndarray, shape (m, d)
        Targets (any points; only :math:`z = A x` matters).
    y : ndarray, shape (n, d)
        Sources on the unit sphere (radially projected).
    w : ndarray, shape (n,)
        Non-negative source weights.
    tol : float, optional
        Truncation tolerance of the degree and of the Chebyshev expansion in r (default
        :data:`~meanfield.field.spectral.SPECTRAL_TOL`).
    fallback : float or None
        Targets whose estimated relative error
        :math:`(\mathrm{tol} + c\,\epsilon_{ducc} + 16\epsilon)W/\tilde D` (c = 1 on S^1, 0.3 on
        S^2, measured with a margin) exceeds this are
        recomputed by direct summation (default
        :data:`~meanfield.field.spectral.FALLBACK_RTOL`); ``None`` keeps every target where
        :math:`\tilde D > 0`.
    epsilon : float, optional
        Accuracy asked of ducc0 (default :data:`DUCC_EPSILON`), in [2e-13, 0.1).
    workers : int, optional
        Threads for ducc0 (default ``os.cpu_count()``).
    chunk_size : int, optional
        Tile size of the direct evaluator for fallback targets.

    Returns
    -------
    F : ndarray, shape (m, d)

    Raises
    ------
    ValueError
        If d is not 2 or 3 or an option is out of range.
    UnnormalizedOverflowError
        USA only, when :math:`e^{|z|}\tilde N` exceeds the float64 range.

    Notes
    -----
    Radii :math:`|Ax|` spread over a range needing more than :data:`MAX_RADIAL_TERMS` Chebyshev
    polynomials are handed to :func:`~meanfield.field.spectral.spectral_field` whole.
    """
    options = ducc_options(tol, fallback, epsilon)
    sums = ducc_sums(model, x, y, w, options, workers)
    if sums is None:
        # radii too spread for MAX_RADIAL_TERMS polynomials: the NumPy expansion weighs each
        # target by its own radius at no extra cost
        tol, fallback, _ = options
        return spectral_field(
            model, x, y, w, tol=tol, fallback=fallback, workers=workers, chunk_size=chunk_size
        )
    den, num, _, r = sums
    d = x.shape[1]
    if model.V is not None:
        num = matmul_rows(num, model.value(d).T)
    bad = unreliable(den, w.sum(), d, options)
    return combine(
        model,
        num,
        den,
        r,
        bad,
        lambda b: _recompute(model, x[b], y, w, options, workers, chunk_size),
    )


def ducc_sums(model, x, y, w, options, workers=None, second=False):
    r"""Scaled sums :math:`e^{-r}\sum_j w_j e^{\langle Ax, y_j\rangle}(1, y_j[, y_j y_j^T])`.

    Parameters
    ----------
    model : Attention
    x : ndarray, shape (m, d)
    y : ndarray, shape (n, d)
        Sources (their directions are used).
    w : ndarray, shape (n,)
        Non-negative weights.
    options : tuple
        ``(tol, fallback, epsilon)`` as validated by :func:`ducc_field`.
    workers : int, optional
    second : bool
        Also the second moments.

    Returns
    -------
    (s0, s1, s2, r) or None
        Shapes (m,), (m, d), (m, d, d) or None, (m,) with :math:`r = |Ax|`; None when the
        radii need more than :data:`MAX_RADIAL_TERMS` Chebyshev terms.
    """
    d = x.shape[1]
    if d not in (2, 3):
        raise ValueError(
            f"the ducc evaluator needs points in R^2 or R^3 (S^1 or S^2), got d = {d}; "
            "use field='direct'"
        )
    tol, _, eps = options
    nthreads = _threads(workers, x.shape[0] + y.shape[0])
    same = x is y
    if not w.min() > 0:
        keep = w > 0
        y, w = y[keep], w[keep]
        same = False
    if second:
        y = y / np.sqrt(np.einsum("ij,ij->i", y, y))[:, None]  # y y^T needs unit vectors
    # otherwise only directions enter the transforms (angles are scale-free), and A = beta I
    # (Q = K = None) needs no product
    iso = model.Q is None and model.K is None
    z = x if iso else matmul_rows(x, model.interaction(d).T)
    size = np.sqrt(np.einsum("ij,ij->i", z, z))
    r = model.beta * size if iso else size
    zero = ~(r > 0)
    if zero.any():
        return _with_zero_radii(model, x, y, w, r, zero, options, workers, second)
    L = truncation(r.max(), d, tol)
    radial = _radial_plan(r, d, L, tol)
    if radial is None:
        return None
    if d == 2:
        s0, s1, s2 = _circle_sums(z, y, w, L, radial, eps, nthreads, same and iso, second)
    else:
        s0, s1, s2 = _sphere_sums(z / size[:, None], y, w, L, radial, eps, nthreads, second)
    return s0, s1, s2, r


def unreliable(s0, total, d, options) -> np.ndarray:
    """Targets whose scaled denominator is too small for the transforms' absolute error."""
    tol, fallback, eps = options
    err = (tol + _TRANSFORM_ERROR[d] * eps + _ROUNDOFF * _EPS) * total
    return ~(s0 > 0) if fallback is None else ~(s0 * fallback > err)


def _recompute(model, x, y, w, options, workers, chunk_size):
    """Targets the transforms cannot resolve: direct sums, or the (more accurate) NumPy
    spectral evaluator when there are many of them (it falls back to direct in turn)."""
    tol, fallback, _ = options
    # the expansion sees the sources' directions: so do the others
    y = y / np.sqrt(np.einsum("ij,ij->i", y, y))[:, None]
    m, d = x.shape
    L = truncation(largest_radius(model, x), d, tol)
    if spectral_cost(d, m, y.shape[0], L) < direct_cost(m, y.shape[0]):
        return spectral_field(
            model, x, y, w, tol=tol, fallback=fallback, workers=workers, chunk_size=chunk_size
        )
    return direct_field(model, x, y, w, chunk_size=chunk_size, workers=workers)


def _with_zero_radii(model, x, y, w, r, zero, options, workers, second):
    """Targets with A x = 0 see every source with weight 1: plain weighted sums."""
    m, d = x.shape
    u = y / np.sqrt(np.einsum("ij,ij->i", y, y))[:, None]
    s0 = np.empty(m)
    s1 = np.empty((m, d))
    s2 = np.empty((m, d, d)) if second else None
    s0[zero], s1[zero] = w.sum(), w @ u
    if second:
        s2[zero] = np.einsum("j,ja,jb->ab", w, u, u)
    if not zero.all():
        sub = ducc_sums(model, x[~zero], y, w, options, workers, second)
        if sub is None:
            return None
        s0[~zero], s1[~zero] = sub[0], sub[1]
        if second:
            s2[~zero] = sub[2]
    return s0, s1, s2, r
