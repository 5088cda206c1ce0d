r"""Initial densities: callables ``f(points) -> values`` of probability densities on the sphere.

Each is a small immutable configuration object; calling it on points of shape (N, d) returns
density values of shape (N,) with respect to the surface measure (they integrate to 1). Hand
them to ``DG(mesh, degree).interpolate(f)``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

import numpy as np

from ._checks import as_int, as_points, as_real_array, as_rng, as_scalar
from .harmonics import real_harmonic, sphere_area

__all__ = ["Uniform", "ModePerturbation", "VonMisesFisher", "WhiteNoise", "sample_sphere"]


@dataclass(frozen=True)
class Uniform:
    r"""The uniform probability density :math:`1/|S^{d-1}|` on :math:`S^{d-1}`."""

    d: int = 3

    def __post_init__(self):
        as_int(self.d, "d", min_value=2)

    def __call__(self, x) -> np.ndarray:
        x = as_points(x, "x", d=self.d)
        return np.full(x.shape[0], 1.0 / sphere_area(self.d))


@dataclass(frozen=True)
class ModePerturbation:
    r"""Uniform plus one harmonic: :math:`\rho_0 (1 + \varepsilon Y_{\ell m}/\|Y\|_\infty)`.

    The harmonic is scaled by its sup norm so that ``amplitude`` < 1 keeps the density positive;
    the mass stays 1 for :math:`\ell \ge 1` (harmonics have zero mean).

    Parameters
    ----------
    d : int
        2 (circle) or 3 (sphere).
    ell : int
        Degree, >= 1.
    amplitude : float
        :math:`\varepsilon`, with :math:`|\varepsilon| < 1`.
    m : int
        Order (see :func:`meanfield.harmonics.real_harmonic`).
    """

    d: int = 3
    ell: int = 1
    amplitude: float = 0.1
    m: int = 0

    def __post_init__(self):
        if as_int(self.d, "d") not in (2, 3):
            raise ValueError(f"d must be 2 or 3 for a harmonic perturbation, got {self.d}")
        as_int(self.ell, "ell", min_value=1)
        eps = as_scalar(self.amplitude, "amplitude")
        if abs(eps) >= 1:
            raise ValueError(f"amplitude must satisfy |amplitude| < 1, got {eps}")

    @cached_property
    def sup_norm(self) -> float:
        """:math:`\\|Y_{\\ell m}\\|_\\infty`, computed once on a fine grid of the sphere."""
        if self.d == 2:
            return 1.0 / np.sqrt(np.pi)
        polar = np.linspace(0.0, np.pi, 721)
        azim = np.linspace(0.0, 2 * np.pi, 1441)
        P, A = np.meshgrid(polar, azim)
        pts = np.stack([np.sin(P) * np.cos(A), np.sin(P) * np.sin(A), np.cos(P)], -1)
        return float(np.abs(real_harmonic(self.ell, self.m, pts.reshape(-1, 3))).max())

    def __call__(self, x) -> np.ndarray:
        x = as_points(x, "x", d=self.d)
        y = real_harmonic(self.ell, self.m, x) / self.sup_norm
        return (1.0 + self.amplitude * y) / sphere_area(self.d)


def _log_vmf_normaliser(kappa: np.ndarray, d: int) -> np.ndarray:
    """log C_d(kappa) - kappa, so that C_d e^{kappa(<mu,x> - 1)} is the vMF density."""
    from scipy.special import ive

    nu = d / 2.0 - 1.0
    k = np.maximum(kappa, 1e-300)
    log_c = nu * np.log(k) - (d / 2.0) * np.log(2.0 * np.pi) - np.log(ive(nu, k)) - k
    return np.where(kappa > 0, log_c, -np.log(sphere_area(d)))


@dataclass(frozen=True)
class VonMisesFisher:
    r"""Mixture of von Mises–Fisher densities :math:`\sum_k \pi_k C_d(\kappa_k) e^{\kappa_k
    \langle \mu_k, x\rangle}`.

    Evaluated as :math:`C_d(\kappa) e^{-\kappa} e^{\kappa(\langle\mu,x\rangle - 1)}` with the
    exponentially scaled Bessel function, so large concentrations do not overflow.

    Parameters
    ----------
    centres : array_like, shape (K, d)
        Mean directions (unit vectors).
    kappa : float or array_like, shape (K,)
        Concentrations, >= 0.
    weights : array_like, shape (K,), optional
        Mixture weights (normalised to sum 1); default equal.
    """

    centres: np.ndarray
    kappa: np.ndarray | float = 10.0
    weights: np.ndarray | None = None
    _w: np.ndarray = field(init=False, repr=False, compare=False)

    def __post_init__(self):
        c = as_points(np.atleast_2d(np.asarray(self.centres, float)), "centres")
        k = np.broadcast_to(as_real_array(self.kappa, "kappa"), (c.shape[0],)).copy()
        if np.any(k < 0):
            raise ValueError(f"kappa must be >= 0, got {k}")
        w = (
            np.ones(c.shape[0])
            if self.weights is None
            else as_real_array(self.weights, "weights", 1)
        )
        if w.shape != (c.shape[0],) or np.any(w < 0) or w.sum() <= 0:
            raise ValueError(f"weights must be {c.shape[0]} non-negative numbers, got {w}")
        object.__setattr__(self, "centres", c)
        object.__setattr__(self, "kappa", k)
        object.__setattr__(self, "_w", w / w.sum())

    def sample(self, n, rng=None) -> np.ndarray:
        """Draw ``n`` points exactly from the mixture (S^1: NumPy's von Mises; S^2: Wood's
        inversion :math:`w = 1 + \\log(u + (1-u)e^{-2\\kappa})/\\kappa`), shape (n, d)."""
        n = as_int(n, "n", min_value=1)
        g = as_rng(rng)
        d = self.centres.shape[1]
        if d not in (2, 3):
            raise ValueError(f"sampling a von Mises-Fisher mixture needs d = 2 or 3, got {d}")
        comp = g.choice(self.centres.shape[0], size=n, p=self._w)
        out = np.empty((n, d))
        for k in range(self.centres.shape[0]):
            idx = np.flatnonzero(comp == k)
            out[idx] = _sample_vmf(self.centres[k], self.kappa[k], idx.size, g)
        return out

    def __call__(self, x) -> np.ndarray:
        x = as_points(x, "x", d=self.centres.shape[1])
        log_c = _log_vmf_normaliser(self.kappa, x.shape[1]) + self.kappa
        expo = self.kappa[None, :] * (x @ self.centres.T - 1.0)
        return np.exp(expo + log_c[None, :]) @ self._w


def _sample_vmf(mu, kappa, n, g):
    if mu.shape[0] == 2:
        theta = np.arctan2(mu[1], mu[0]) + g.vonmises(0.0, kappa, n)  # uniform at kappa = 0
        return np.stack([np.cos(theta), np.sin(theta)], axis=1)
    u = g.random(n)
    if kappa > 0:
        w = 1.0 + np.log(u + (1.0 - u) * np.exp(-2.0 * kappa)) / kappa
    else:
        w = 2.0 * u - 1.0
    w = np.clip(w, -1.0, 1.0)
    phi = g.uniform(0.0, 2.0 * np.pi, n)
    r = np.sqrt(1.0 - w * w)
    local = np.stack([r * np.cos(phi), r * np.sin(phi), w], axis=1)
    return local @ _frame(mu).T


def _frame(mu):
    """Rotation whose third column is ``mu``."""
    helper = np.array([1.0, 0.0, 0.0]) if abs(mu[0]) < 0.9 else np.array([0.0, 1.0, 0.0])
    e1 = np.cross(mu, helper)
    e1 /= np.linalg.norm(e1)
    return np.stack([e1, np.cross(mu, e1), mu], axis=1)


@dataclass(frozen=True)
class WhiteNoise:
    r"""Uniform plus a seeded random combination of all harmonics of degree 1 … ``ell_max``.

    :math:`\rho = \rho_0 (1 + \varepsilon\, g / \max|g|)` with :math:`g = \sum_{\ell,m}
    \xi_{\ell m} Y_{\ell m}`, :math:`\xi_{\ell m}` i.i.d. standard normal. The sup of |g| is
    taken on a fine grid, so :math:`|\varepsilon| < 1` keeps the density positive.

    Parameters
    ----------
    d : int
        2 or 3.
    amplitude : float
        :math:`\varepsilon`, :math:`|\varepsilon| < 1`.
    ell_max : int
        Highest degree.
    seed : int or numpy.random.Generator
    """

    d: int = 3
    amplitude: float = 0.01
    ell_max: int = 8
    seed: int | np.random.Generator | None = 0
    _coef: list = field(init=False, repr=False, compare=False)
    _scale: float = field(init=False, repr=False, compare=False)

    def __post_init__(self):
        if as_int(self.d, "d") not in (2, 3):
            raise ValueError(f"d must be 2 or 3 for white noise, got {self.d}")
        if abs(as_scalar(self.amplitude, "amplitude")) >= 1:
            raise ValueError(f"amplitude must satisfy |amplitude| < 1, got {self.amplitude}")
        as_int(self.ell_max, "ell_max", min_value=1)
        g = as_rng(self.seed, "seed")
        modes = [
            (ell, m)
            for ell in range(1, self.ell_max + 1)
            for m in ((-1, 1) if self.d == 2 else range(-ell, ell + 1))
        ]
        coef = [(ell, m, float(g.standard_normal())) for ell, m in modes]
        object.__setattr__(self, "_coef", coef)
        object.__setattr__(self, "_scale", 1.0)
        object.__setattr__(self, "_scale", float(np.abs(self._raw(_fine_grid(self.d))).max()))

    def _raw(self, x):
        return sum(c * real_harmonic(ell, m, x) for ell, m, c in self._coef)

    def __call__(self, x) -> np.ndarray:
        x = as_points(x, "x", d=self.d)
        return (1.0 + self.amplitude * self._raw(x) / self._scale) / sphere_area(self.d)


def _fine_grid(d):
    if d == 2:
        s = np.linspace(0.0, 2 * np.pi, 4096, endpoint=False)
        return np.stack([np.cos(s), np.sin(s)], 1)
    from .compare import fibonacci_sphere

    return fibonacci_sphere(20_000)


def sample_sphere(n, d, rng=None) -> np.ndarray:
    """Draw ``n`` points uniformly on the unit sphere :math:`S^{d-1}`.

    Parameters
    ----------
    n : int
        Number of points (>= 1).
    d : int
        Ambient dimension (>= 2).
    rng : int, numpy.random.Generator or None
        Seed or generator.

    Returns
    -------
    x : ndarray, shape (n, d)
    """
    n = as_int(n, "n", min_value=1)
    d = as_int(d, "d", min_value=2)
    g = as_rng(rng)
    x = g.standard_normal((n, d))
    r = np.linalg.norm(x, axis=1, keepdims=True)
    while np.any(r == 0):  # probability zero, but never divide by it
        bad = r[:, 0] == 0
        x[bad] = g.standard_normal((int(bad.sum()), d))
        r = np.linalg.norm(x, axis=1, keepdims=True)
    return x / r
