r"""Closed-form facts about the attention dynamics: linear growth rates of the uniform state and
the two-token ODE (Geshkovski, Letrouit, Polyanskiy and Rigollet, "A mathematical perspective
on transformers", 2023).

Growth rates of spherical-harmonic perturbations of the uniform measure (Q = K = V = I),
with :math:`\nu = d/2 - 1`:

.. math::
    \gamma_\ell^{SA} = \frac{\ell(\ell+d-2)\, I_{\ell+\nu}(\beta)}{\beta\, I_\nu(\beta)}, \qquad
    \gamma_\ell^{USA} = \frac{\ell(\ell+d-2)\, I_{\ell+\nu}(\beta)\,\Gamma(d/2)\,
                              (2/\beta)^\nu}{\beta}.

Bessel functions are used in their exponentially scaled form (``scipy.special.ive``) so that
large :math:`\beta` neither overflows nor loses the ratio to cancellation.
"""

from __future__ import annotations

import numpy as np
from scipy.integrate import solve_ivp
from scipy.special import gammaln, hyp0f1, ive

from ._checks import as_int, as_real_array, as_scalar, as_times

__all__ = [
    "growth_rate",
    "critical_diffusion",
    "log_ive",
    "funk_hecke_eigenvalue",
    "fastest_mode",
    "two_token_rhs",
    "two_token_angle",
    "gibbs_branch",
    "tricritical_beta",
]


def funk_hecke_eigenvalue(ell, beta, d):
    r"""Funk–Hecke eigenvalue :math:`\lambda_\ell` of :math:`e^{\beta\langle x, y\rangle}`.

    For the normalised surface measure of :math:`S^{d-1}` and :math:`\nu = d/2 - 1`,

    .. math::
        \lambda_\ell(\beta) = \Gamma(d/2)\,(2/\beta)^\nu\, I_{\ell+\nu}(\beta),

    so that :math:`\int e^{\beta\langle x, y\rangle} Y_\ell(y)\,d\sigma(y) = \lambda_\ell
    Y_\ell(x)` (:math:`\lambda_\ell \to \delta_{\ell 0}` as :math:`\beta \to 0`). Evaluated in log
    space from the exponentially scaled Bessel function; it overflows to ``inf`` only when the
    value itself exceeds the float range (:math:`\beta \gtrsim 700`).

    Parameters
    ----------
    ell : int or array_like of int
    beta : float
    d : int

    Returns
    -------
    float or ndarray
        Same shape as ``ell``.
    """
    d = as_int(d, "d", min_value=2)
    beta = as_scalar(beta, "beta", min_value=0.0)
    ells = _degrees(ell)
    if beta == 0.0:
        out = np.where(ells == 0, 1.0, 0.0)
    else:
        with np.errstate(divide="ignore", over="ignore"):
            out = np.exp(_log_lambda(ells, beta, d))
    return float(out) if np.ndim(out) == 0 else out


def _degrees(ell) -> np.ndarray:
    ells = np.asarray(ell)
    if not np.issubdtype(ells.dtype, np.integer) or np.any(ells < 0):
        raise ValueError(f"ell must be non-negative integer(s), got {ell!r}")
    return ells


def _log_lambda(ells, beta: float, d: int):
    r""":math:`\log\lambda_\ell` for beta > 0 (``-inf`` where the Bessel value underflows)."""
    nu = d / 2.0 - 1.0
    return log_ive(ells + nu, beta) + beta + gammaln(d / 2.0) + nu * np.log(2.0 / beta)


#: Below this ``ive`` is treated as underflowed and the power series takes over.
IVE_TINY = 1e-280


def log_ive(nu, x) -> np.ndarray:
    r""":math:`\log(I_\nu(x) e^{-x})` for :math:`x > 0`, finite where ``ive`` underflows.

    ``log(ive(nu, x))`` where that is above :data:`IVE_TINY`; otherwise (large :math:`\nu`,
    small x: e.g. :math:`I_{511}(9) \approx e^{-1911}`) the series
    :math:`I_\nu(x) = \frac{(x/2)^\nu}{\Gamma(\nu+1)}\, {}_0F_1(;\nu+1; x^2/4)`, whose
    :math:`{}_0F_1` is then of order one.

    Parameters
    ----------
    nu : float or array_like
        Order, :math:`\nu > -1`.
    x : float or array_like
        Positive arguments (broadcast against ``nu``).

    Returns
    -------
    ndarray
    """
    nu, x = np.broadcast_arrays(np.asarray(nu, dtype=float), np.asarray(x, dtype=float))
    v = ive(nu, x)
    out = np.empty(v.shape)
    good = v > IVE_TINY
    out[good] = np.log(v[good])
    n, y = nu[~good], x[~good]
    out[~good] = n * np.log(y / 2) - gammaln(n + 1) + np.log(hyp0f1(n + 1, y * y / 4)) - y
    return out


def _reduced_rate(ells, beta: float, d: int, normalized: bool):
    r""":math:`\lambda_\ell/\beta` (USA) or :math:`\lambda_\ell/(\beta\lambda_0)` (SA), beta >= 0.

    The drift part of the growth rate per unit of :math:`\ell(\ell+d-2)`. At beta = 0 its
    limit is :math:`\delta_{\ell 1}/d` for both models.
    """
    nu = d / 2.0 - 1.0
    if beta == 0.0:
        return np.where(ells == 1, 1.0 / d, 0.0)
    if normalized:
        # ratio of scaled Bessel functions: the e^beta factors cancel, no overflow; in logs,
        # so that d = 1024 (where ive(nu, beta) itself underflows) stays finite
        return np.exp(log_ive(ells + nu, beta) - log_ive(nu, beta)) / beta
    with np.errstate(over="ignore"):
        return np.exp(_log_lambda(ells, beta, d) - np.log(beta))


def growth_rate(ell, beta, d, normalized: bool = True, diffusion=0.0):
    r"""Linear growth rate :math:`\gamma_\ell` of the degree-:math:`\ell` mode around uniform.

    With noise of strength D (the Fokker–Planck equation
    :math:`\partial_t\rho + \mathrm{div}_S(\rho X[\rho]) = D\Delta_S\rho`) and the Funk–Hecke
    eigenvalues :math:`\lambda_\ell` (:func:`funk_hecke_eigenvalue`),

    .. math::
        \gamma_\ell^{USA} = \ell(\ell+d-2)\left[\frac{\lambda_\ell}{\beta} - D\right], \qquad
        \gamma_\ell^{SA} = \ell(\ell+d-2)\left[\frac{\lambda_\ell}{\beta\lambda_0} - D\right];

    D = 0 gives the noiseless rates of the module docstring.

    Parameters
    ----------
    ell : int or array_like of int
        Harmonic degree(s), :math:`\ell \ge 0`.
    beta : float
        Inverse temperature :math:`\beta \ge 0` (:math:`\beta = 0` is the limit).
    d : int
        Ambient dimension (sphere :math:`S^{d-1}`), d >= 2.
    normalized : bool
        SA (True) or USA (False).
    diffusion : float
        Noise strength :math:`D \ge 0`.

    Returns
    -------
    gamma : float or ndarray
        Same shape as ``ell``.

    Raises
    ------
    ValueError
        When a USA rate exceeds the float64 range (it grows like :math:`e^\beta/\beta`, so
        for :math:`\beta \gtrsim 700`).
    """
    d = as_int(d, "d", min_value=2)
    beta = as_scalar(beta, "beta", min_value=0.0)
    D = as_scalar(diffusion, "diffusion", min_value=0.0)
    ells = _degrees(ell)
    lam = ells * (ells + d - 2.0)
    out = lam * (_reduced_rate(ells, beta, d, bool(normalized)) - D)
    if not np.all(np.isfinite(out)):
        raise ValueError(
            f"beta = {beta:g}: the USA growth rate exceeds float64 (it grows like "
            "e^beta / beta); beta must be below about 700"
        )
    return float(out) if np.ndim(out) == 0 else out


def critical_diffusion(beta, d, normalized: bool = True) -> float:
    r"""Critical noise :math:`D_c` at which the uniform state loses stability.

    Every mode :math:`\ell \ge 1` decays for :math:`D > D_c` and the first one,
    :math:`\ell = 1`, grows for :math:`D < D_c` (:math:`\lambda_\ell` decreases in
    :math:`\ell`):

    .. math::
        D_c^{USA} = \lambda_1/\beta, \qquad D_c^{SA} = \lambda_1/(\beta\lambda_0)
        = I_{d/2}(\beta)/(\beta I_{d/2-1}(\beta)),

    both :math:`1/d` at :math:`\beta = 0`.

    Parameters
    ----------
    beta : float
        Inverse temperature :math:`\beta \ge 0`.
    d : int
        Ambient dimension, d >= 2.
    normalized : bool
        SA (True) or USA (False).

    Returns
    -------
    float
    """
    d = as_int(d, "d", min_value=2)
    beta = as_scalar(beta, "beta", min_value=0.0)
    return float(_reduced_rate(np.asarray(1), beta, d, bool(normalized)))


def fastest_mode(beta, d, normalized: bool = True, ell_max: int = 400, diffusion=0.0) -> int:
    """The degree :math:`\\ell \\ge 1` with the largest growth rate (searched up to ``ell_max``)."""
    ells = np.arange(1, as_int(ell_max, "ell_max", min_value=1) + 1)
    return int(ells[np.argmax(growth_rate(ells, beta, d, normalized, diffusion))])


def two_token_rhs(theta, beta, normalized: bool = True):
    r"""Angle ODE for two tokens (Q = K = V = I).

    SA: :math:`\dot\theta = -2\sin\theta / (1 + e^{\beta(1-\cos\theta)})`;
    USA (n = 2): :math:`\dot\theta = -\sin\theta\, e^{\beta\cos\theta}`.
    """
    theta = np.asarray(theta, dtype=float)
    if normalized:
        # 1 / (1 + e^a) written as e^{-a} / (1 + e^{-a}) via expit: no overflow for large a
        from scipy.special import expit

        return -2.0 * np.sin(theta) * expit(-beta * (1.0 - np.cos(theta)))
    return -np.sin(theta) * np.exp(beta * np.cos(theta))


def two_token_angle(theta0, t_eval, beta, normalized: bool = True, rtol=1e-12, atol=1e-14):
    """Solve the two-token angle ODE from ``theta0`` at ``t_eval[0]``.

    Parameters
    ----------
    theta0 : float
        Initial angle in [0, pi].
    t_eval : array_like, shape (T,)
    beta : float
    normalized : bool

    Returns
    -------
    theta : ndarray, shape (T,)
    """
    theta0 = as_scalar(theta0, "theta0", min_value=0.0)
    if theta0 > np.pi:
        raise ValueError(f"theta0 must be in [0, pi], got {theta0}")
    beta = as_scalar(beta, "beta", min_value=0.0)
    t = as_times(t_eval)
    if t[-1] == t[0]:
        return np.full(t.shape, theta0)
    sol = solve_ivp(
        lambda _, th: two_token_rhs(th, beta, normalized),
        (t[0], t[-1]),
        [theta0],
        method="DOP853",
        t_eval=t,
        rtol=rtol,
        atol=atol,
    )
    return as_real_array(sol.y[0], "theta")


# --------------------------------------------------------------------------- noisy USA states
def _zonal_basis(L: int, d: int, s: np.ndarray) -> np.ndarray:
    """Zonal harmonics :math:`P_\\ell(s)`, :math:`P_\\ell(1) = 1`, shape (L + 1, len(s))."""
    from scipy.special import eval_chebyt, eval_gegenbauer

    if d == 2:
        return np.array([eval_chebyt(ell, s) for ell in range(L + 1)])
    nu = d / 2.0 - 1.0
    return np.array([eval_gegenbauer(ell, nu, s) / eval_gegenbauer(ell, nu, 1.0)
                     for ell in range(L + 1)])  # fmt: skip


def _gibbs_residual(unknowns, rho1, s_weights, P, norms, ratio):
    """Gibbs fixed point in zonal coefficients; unknowns (D/D_c, rho_2, ..., rho_L)."""
    from scipy.special import logsumexp

    x, rest = unknowns[0], unknowns[1:]
    coef = np.concatenate([[rho1], rest])
    phi = (ratio[1:] * coef) @ P[1:] / x
    rho = np.exp(phi - logsumexp(phi, b=s_weights))
    return (P[1:] @ (s_weights * rho)) / norms[1:] - coef


def gibbs_branch(beta, d, m, degree=None):
    r"""The branch of non-uniform USA stationary states: noise :math:`D/D_c` against :math:`|m|`.

    USA stationary states of :math:`\partial_t\rho + \mathrm{div}_S(\rho X[\rho]) = D\Delta_S\rho`
    are Gibbs, :math:`\rho \propto \exp(Z_\rho/(\beta D))` with
    :math:`Z_\rho(x) = \int e^{\beta\langle x, y\rangle}\rho\,d\sigma(y)` (:math:`\sigma` the
    normalised surface measure). For a zonal state :math:`\rho = \sum_\ell \rho_\ell P_\ell(s)`
    (:math:`P_\ell` the Gegenbauer polynomials with :math:`P_\ell(1) = 1`, :math:`\rho_0 = 1`)
    Funk–Hecke gives :math:`Z_\rho/(\beta D) = (D_c/D)\sum_{\ell\ge1}(\lambda_\ell/\lambda_1)
    \rho_\ell P_\ell(s)` up to a constant. The order parameter fixes
    :math:`\rho_1 = d\,|m|` (:math:`m = \int x\,\rho\,d\sigma`); the remaining coefficients and
    :math:`D/D_c` solve the fixed point (``scipy.optimize.fsolve``, continued along ``m`` from the
    weakly nonlinear guess), with Gauss–Jacobi quadrature in s. Only ratios of scaled Bessel
    functions enter, so large beta does not overflow.

    Parameters
    ----------
    beta : float
        Inverse temperature (> 0).
    d : int
        Ambient dimension (>= 2).
    m : array_like, shape (k,)
        Increasing order parameters in (0, 1).
    degree : int, optional
        Truncation degree L (default :math:`\beta + 6\sqrt\beta + 16`).

    Returns
    -------
    ratio : ndarray, shape (k,)
        :math:`D/D_c` at which the state of order parameter ``m`` is stationary. The branch is
        supercritical where it starts below 1 and subcritical (hysteresis up to its maximum)
        where it starts above 1 (see :func:`tricritical_beta`).
    """
    from scipy.optimize import fsolve
    from scipy.special import roots_jacobi

    d = as_int(d, "d", min_value=2)
    beta = as_scalar(beta, "beta", min_value=0.0, strict=True)
    ms = as_real_array(m, "m", ndim=1)
    if np.any(ms <= 0) or np.any(ms >= 1) or np.any(np.diff(ms) <= 0):
        raise ValueError(f"m must be increasing values in (0, 1), got {ms[:6]}...")
    if degree is None:
        L = int(beta + 6.0 * np.sqrt(beta) + 16)
    else:
        L = as_int(degree, "degree", min_value=2)
    nu = d / 2.0 - 1.0
    s, w = roots_jacobi(3 * L + 20, (d - 3) / 2.0, (d - 3) / 2.0)
    w = w / w.sum()
    P = _zonal_basis(L, d, s)
    norms = P**2 @ w
    ratio = ive(np.arange(L + 1) + nu, beta) / ive(1.0 + nu, beta)
    r2 = ratio[2]
    guess = None
    out = np.empty(ms.shape)
    for k, mk in enumerate(ms):
        rho1 = d * mk
        if guess is None:  # weakly nonlinear: rho_2 = rho_1^2 (d - 1) / (2 d (1 - r))
            guess = np.zeros(L)
            guess[0], guess[1] = 1.0, rho1**2 * (d - 1) / (2 * d * (1 - r2))
        args = (rho1, w, P, norms, ratio)
        guess = fsolve(_gibbs_residual, guess, args=args, xtol=1e-13, full_output=True)[0]
        res = float(np.abs(_gibbs_residual(guess, *args)).max())
        if not res < 1e-9:
            raise RuntimeError(f"Gibbs fixed point not found at m = {mk:g} (residual {res:.2e})")
        out[k] = guess[0]
    return out


def tricritical_beta(d) -> float:
    r"""The beta where the USA noise-driven transition changes from continuous to a jump.

    A weakly nonlinear expansion of the Gibbs fixed point (see :func:`gibbs_branch`) around the
    uniform state, with :math:`\rho = 1 + a P_1 + b P_2 + \dots`, gives
    :math:`D/D_c = 1 + c_3 a^2 + O(a^4)` with

    .. math::
        c_3 = \frac{d\,r - 1}{d(d+2)(1-r)}, \qquad r = \frac{\lambda_2}{\lambda_1}
            = \frac{I_{d/2+1}(\beta)}{I_{d/2}(\beta)}.

    The branch is supercritical (continuous) for :math:`c_3 < 0` and subcritical (a jump with
    hysteresis) for :math:`c_3 > 0`; the change is at :math:`I_{d/2+1}(\beta)/I_{d/2}(\beta)
    = 1/d`, found here by ``scipy.optimize.brentq``.

    Parameters
    ----------
    d : int
        Ambient dimension (>= 2).

    Returns
    -------
    float
    """
    from scipy.optimize import brentq

    d = as_int(d, "d", min_value=2)
    nu = d / 2.0 - 1.0
    if d > 300:
        raise ValueError(f"d must be <= 300 (the Bessel ratio underflows beyond), got {d}")
    # the ratio grows monotonically from ~beta/(d + 2) (small beta) to 1 (beta -> inf); the root
    # lies above 1 for every d (above 0.05 keeps I_{d/2+1} from underflowing)
    return float(brentq(lambda b: ive(nu + 2, b) / ive(nu + 1, b) - 1.0 / d, 0.05, 1e4,
                        xtol=1e-14))  # fmt: skip
