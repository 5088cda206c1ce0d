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

__all__ = [
    "Uniform",
    "ModePerturbation",
    "VonMisesFisher",
    "WhiteNoise",
    "ZonalBand",
    "ZonalCaps",
    "ZonalMixture",
    "ZonalMode",
    "sample_sphere",
]


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


# ---------------------------------------------------------------------- zonal densities
# Densities of s = <x, e_d> on S^{d-1}, for zonal meshes (meanfield.sphere.zonal) and for S^1/S^2
# meshes alike. They are given in logarithms (``log_value``): in high dimension a cap near a
# pole has a density, with respect to the normalised measure, far beyond float64 (e^{10^3} at
# d = 1024), while its line density on a zonal mesh is of order one; DG.interpolate uses
# log_value where a callable has one.


def _log_mean_exp_s(kappa: float, d: int) -> float:
    r""":math:`\log \int e^{\kappa s} d\sigma = \log[\Gamma(d/2)(2/\kappa)^\nu I_\nu(\kappa)]`."""
    from scipy.special import gammaln

    from .theory import log_ive

    if kappa == 0:
        return 0.0
    nu = d / 2.0 - 1.0
    return float(gammaln(d / 2.0) + nu * np.log(2.0 / kappa) + log_ive(nu, kappa) + kappa)


def _zonal_check(d, surface) -> int:
    d = as_int(d, "d", min_value=2)
    if not isinstance(surface, bool):
        raise ValueError(f"surface must be True or False, got {surface!r}")
    return d


class _Zonal:
    """Shared evaluation: values from ``log_value``, per unit of the normalised measure or (with
    ``surface=True``) of the surface measure."""

    def _shift(self) -> float:
        return float(np.log(sphere_area(self.d))) if self.surface else 0.0

    def log_value(self, x) -> np.ndarray:
        """Logarithm of the density at points (N, d), shape (N,)."""
        x = as_points(x, "x", d=self.d)
        return self._log(x[:, -1], np.linalg.norm(x[:, :-1], axis=1)) - self._shift()

    def __call__(self, x) -> np.ndarray:
        with np.errstate(over="ignore", under="ignore"):
            return np.exp(self.log_value(x))


@dataclass(frozen=True)
class ZonalCaps(_Zonal):
    r"""Two von Mises–Fisher caps about :math:`\pm e_d`:
    :math:`\rho = m_N\, e^{\kappa s}/Z + (1 - m_N)\, e^{-\kappa s}/Z`,
    :math:`Z = \int e^{\kappa s}\,d\sigma`.

    Parameters
    ----------
    d : int
        Ambient dimension (>= 2).
    kappa : float
        Concentration (>= 0).
    north : float
        Mass of the cap about :math:`+e_d`, in [0, 1] (the other cap holds the rest).
    surface : bool
        Values per unit surface area (integrating to 1 on S^1/S^2 meshes) instead of per unit
        of the normalised measure (integrating to 1 on zonal meshes).
    """

    d: int = 3
    kappa: float = 10.0
    north: float = 1.0
    surface: bool = False

    def __post_init__(self):
        _zonal_check(self.d, self.surface)
        as_scalar(self.kappa, "kappa", min_value=0.0)
        m = as_scalar(self.north, "north", min_value=0.0)
        if m > 1:
            raise ValueError(f"north must be a mass fraction in [0, 1], got {m}")

    def _log(self, s, r):
        log_z = _log_mean_exp_s(float(self.kappa), self.d)
        k = float(self.kappa)
        with np.errstate(divide="ignore"):
            parts = [np.log(self.north) + k * s, np.log(1.0 - self.north) - k * s]
        return np.logaddexp(*parts) - log_z


@dataclass(frozen=True)
class ZonalBand(_Zonal):
    r"""A band about the polar angle :math:`\theta_0`: :math:`\rho \propto
    e^{\kappa(\cos(\theta - \theta_0) - 1)}` (a ring of tokens when concentrated).

    Normalised by Gauss–Legendre quadrature in :math:`\theta` (in logarithms, 400 points).

    Parameters
    ----------
    d : int
    theta0 : float
        Polar angle of the band, in [0, pi].
    kappa : float
        Concentration in the polar angle (>= 0).
    surface : bool
        See :class:`ZonalCaps`.
    """

    d: int = 3
    theta0: float = np.pi / 2
    kappa: float = 20.0
    surface: bool = False

    def __post_init__(self):
        _zonal_check(self.d, self.surface)
        t = as_scalar(self.theta0, "theta0", min_value=0.0)
        if t > np.pi:
            raise ValueError(f"theta0 must be a polar angle in [0, pi], got {t}")
        as_scalar(self.kappa, "kappa", min_value=0.0)

    @cached_property
    def _log_norm(self) -> float:
        from numpy.polynomial.legendre import leggauss
        from scipy.special import logsumexp

        from .sphere.zonal import log_weight_theta

        t, w = leggauss(400)
        theta = 0.5 * np.pi * (t + 1.0)
        logs = self._raw(theta) + log_weight_theta(theta, self.d)
        return float(logsumexp(logs, b=0.5 * np.pi * w))

    def _raw(self, theta):
        return self.kappa * (np.cos(theta - self.theta0) - 1.0)

    def _log(self, s, r):
        return self._raw(np.arctan2(r, s)) - self._log_norm


@dataclass(frozen=True)
class ZonalMode(_Zonal):
    r"""Uniform plus a Gegenbauer mode: :math:`\rho = 1 + \varepsilon\,\tilde C_\ell(s)`
    (:func:`meanfield.harmonics.gegenbauer`, normalised to 1 at the pole, so
    :math:`|\varepsilon| < 1` keeps the density positive; the mass is 1 for
    :math:`\ell \ge 1`).

    Parameters
    ----------
    d : int
    ell : int
        Degree (>= 1).
    amplitude : float
        :math:`\varepsilon`, :math:`|\varepsilon| < 1`.
    surface : bool
        See :class:`ZonalCaps`.
    """

    d: int = 3
    ell: int = 1
    amplitude: float = 0.1
    surface: bool = False

    def __post_init__(self):
        _zonal_check(self.d, self.surface)
        as_int(self.ell, "ell", min_value=1)
        if abs(as_scalar(self.amplitude, "amplitude")) >= 1:
            raise ValueError(f"amplitude must satisfy |amplitude| < 1, got {self.amplitude}")

    def _log(self, s, r):
        from .harmonics import gegenbauer

        return np.log1p(self.amplitude * gegenbauer(self.ell, self.d, s))


@dataclass(frozen=True)
class ZonalMixture(_Zonal):
    r"""A mixture of zonal densities of one dimension, :math:`\sum_k w_k \rho_k`.

    Parameters
    ----------
    parts : tuple of ZonalCaps, ZonalBand or ZonalMode
        All with the same ``d`` and ``surface``.
    weights : tuple of float
        Non-negative, normalised to sum 1.
    """

    parts: tuple = ()
    weights: tuple = ()

    def __post_init__(self):
        if not self.parts or not all(isinstance(p, _Zonal) for p in self.parts):
            raise ValueError(f"parts must be zonal densities, got {self.parts!r}")
        if len({(p.d, p.surface) for p in self.parts}) > 1:
            raise ValueError("parts must share one dimension d and one surface flag")
        w = as_real_array(self.weights, "weights", 1)
        if w.shape != (len(self.parts),) or np.any(w < 0) or w.sum() <= 0:
            raise ValueError(f"weights must be {len(self.parts)} non-negative numbers, got {w}")
        object.__setattr__(self, "weights", tuple(w / w.sum()))

    d = property(lambda self: self.parts[0].d)
    surface = property(lambda self: self.parts[0].surface)

    def _log(self, s, r):
        from scipy.special import logsumexp

        logs = np.stack([p._log(s, r) for p in self.parts])
        with np.errstate(divide="ignore"):
            return logsumexp(logs, axis=0, b=np.asarray(self.weights)[:, None])


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
