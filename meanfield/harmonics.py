r"""Real orthonormal harmonics on :math:`S^1` (Fourier modes) and :math:`S^2` (spherical harmonics).

Orthonormal in :math:`L^2` of the surface measure:

- :math:`S^1`: :math:`Y_{0} = 1/\sqrt{2\pi}`, :math:`Y_{\ell,m>0} = \cos(\ell\theta)/\sqrt\pi`,
  :math:`Y_{\ell,m<0} = \sin(\ell\theta)/\sqrt\pi` (only ``m`` in {-1, 0, 1} is meaningful:
  ``m = 0`` is the cosine for :math:`\ell \ge 1`).
- :math:`S^2`: real spherical harmonics :math:`Y_{\ell m}`, :math:`|m| \le \ell`, built from
  SciPy's complex ones (``m > 0`` cosine-type, ``m < 0`` sine-type).
"""

from __future__ import annotations

import numpy as np

from ._checks import as_int, as_points

__all__ = ["gegenbauer", "harmonic_dimension", "real_harmonic", "sphere_area"]


def sphere_area(d: int) -> float:
    r"""Surface measure of :math:`S^{d-1}`: :math:`2\pi^{d/2}/\Gamma(d/2)`."""
    from scipy.special import gamma

    return float(2.0 * np.pi ** (d / 2.0) / gamma(d / 2.0))


def gegenbauer(ell, d, s) -> np.ndarray:
    r"""Normalised Gegenbauer polynomial :math:`\tilde C_\ell(s) = C_\ell^{(d/2-1)}(s) /
    C_\ell^{(d/2-1)}(1)` (Chebyshev :math:`T_\ell` for d = 2), so :math:`\tilde C_\ell(1) = 1`.

    :math:`\tilde C_\ell(\langle x, e\rangle)` is the zonal harmonic of degree
    :math:`\ell` on :math:`S^{d-1}`; its mean square under the normalised measure is
    :math:`1/N_\ell` (:func:`harmonic_dimension`). Evaluated by the three-term recurrence of
    the normalised polynomials, stable for every d (no huge :math:`C_\ell(1)`).

    Parameters
    ----------
    ell : int
        Degree, >= 0.
    d : int
        Ambient dimension, >= 2.
    s : array_like
        Arguments in [-1, 1].
    """
    ell = as_int(ell, "ell", min_value=0)
    d = as_int(d, "d", min_value=2)
    s = np.asarray(s, dtype=float)
    prev, cur = np.ones_like(s), s.copy()
    if ell == 0:
        return prev
    # normalised recurrence: (k + d - 2) C_{k+1} = (2k + d - 2) s C_k - k C_{k-1}
    for k in range(1, ell):
        prev, cur = cur, ((2 * k + d - 2) * s * cur - k * prev) / (k + d - 2)
    return cur


def harmonic_dimension(ell, d) -> float:
    r"""Dimension :math:`N_\ell` of the spherical harmonics of degree :math:`\ell` on
    :math:`S^{d-1}`: :math:`\binom{\ell+d-1}{d-1} - \binom{\ell+d-3}{d-1}`."""
    from scipy.special import comb

    ell = as_int(ell, "ell", min_value=0)
    d = as_int(d, "d", min_value=2)
    return float(comb(ell + d - 1, d - 1) - (comb(ell + d - 3, d - 1) if ell >= 2 else 0.0))


def real_harmonic(ell, m, x) -> np.ndarray:
    r"""Evaluate the real orthonormal harmonic :math:`Y_{\ell m}` at points on the sphere.

    Parameters
    ----------
    ell : int
        Degree, >= 0.
    m : int
        Order: on :math:`S^2`, :math:`-\ell \le m \le \ell`; on :math:`S^1`, ``m >= 0`` gives
        :math:`\cos(\ell\theta)` and ``m < 0`` gives :math:`\sin(\ell\theta)`.
    x : array_like, shape (N, 2) or (N, 3)

    Returns
    -------
    values : ndarray, shape (N,)
    """
    ell = as_int(ell, "ell", min_value=0)
    m = as_int(m, "m")
    x = as_points(x, "x")
    d = x.shape[1]
    if d == 2:
        theta = np.arctan2(x[:, 1], x[:, 0])
        if ell == 0:
            return np.full(x.shape[0], 1.0 / np.sqrt(2.0 * np.pi))
        return (np.sin if m < 0 else np.cos)(ell * theta) / np.sqrt(np.pi)
    if d != 3:
        raise ValueError(f"x must be points on S^1 or S^2 (d = 2 or 3), got d = {d}")
    if abs(m) > ell:
        raise ValueError(f"m must satisfy |m| <= ell = {ell}, got {m}")
    from scipy.special import sph_harm_y

    polar = np.arccos(np.clip(x[:, 2], -1.0, 1.0))
    azimuth = np.arctan2(x[:, 1], x[:, 0]) % (2.0 * np.pi)
    y = sph_harm_y(ell, abs(m), polar, azimuth)
    if m == 0:
        return y.real
    # (-1)^m undoes the Condon-Shortley phase so that Y_l1 ~ +x
    sign = (-1.0) ** m
    return np.sqrt(2.0) * sign * (y.real if m > 0 else y.imag)
