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

__all__ = ["real_harmonic", "sphere_area"]


def sphere_area(d: int) -> float:
    r"""Surface measure of :math:`S^{d-1}`: :math:`2\pi^{d/2}/\Gamma(d/2)`."""
    from scipy.special import gamma

    return float(2.0 * np.pi ** (d / 2.0) / gamma(d / 2.0))


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
