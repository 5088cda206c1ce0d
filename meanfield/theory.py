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
from scipy.special import gammaln, ive

from ._checks import as_int, as_real_array, as_scalar, as_times

__all__ = ["growth_rate", "fastest_mode", "two_token_rhs", "two_token_angle"]


def growth_rate(ell, beta, d, normalized: bool = True):
    r"""Linear growth rate :math:`\gamma_\ell` of the degree-:math:`\ell` mode around uniform.

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

    Returns
    -------
    gamma : float or ndarray
        Same shape as ``ell``.
    """
    d = as_int(d, "d", min_value=2)
    beta = as_scalar(beta, "beta", min_value=0.0)
    ells = np.asarray(ell)
    if not np.issubdtype(ells.dtype, np.integer) or np.any(ells < 0):
        raise ValueError(f"ell must be non-negative integer(s), got {ell!r}")
    nu = d / 2.0 - 1.0
    lam = ells * (ells + d - 2.0)
    if beta == 0.0:
        # limit beta -> 0: only ell = 1 survives, at (d - 1)/d for SA and USA alike
        out = np.where(ells == 1, (d - 1.0) / d, 0.0)
    elif normalized:
        out = lam * ive(ells + nu, beta) / (beta * ive(nu, beta))
    else:
        with np.errstate(divide="ignore"):
            log_i = np.log(ive(ells + nu, beta)) + beta
        out = lam * np.exp(log_i + gammaln(d / 2.0) + nu * np.log(2.0 / beta) - np.log(beta))
    return float(out) if np.ndim(out) == 0 else out


def fastest_mode(beta, d, normalized: bool = True, ell_max: int = 400) -> int:
    """The degree :math:`\\ell \\ge 1` with the largest growth rate (searched up to ``ell_max``)."""
    ells = np.arange(1, as_int(ell_max, "ell_max", min_value=1) + 1)
    return int(ells[np.argmax(growth_rate(ells, beta, d, normalized))])


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
