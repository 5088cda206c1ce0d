r"""The growth-rate study: exponential rates of spherical-harmonic perturbations of the uniform
density measured on the PDE, against :func:`meanfield.theory.growth_rate`."""

from __future__ import annotations

import time

import numpy as np

from .._checks import as_int, as_scalar
from ..diagnostics import mode_amplitude
from ..eulerian.dg import DG
from ..initial import ModePerturbation, Uniform
from ..model import Attention
from ..solve import solve_density
from ..sphere.mesh import SphereMesh
from ..theory import critical_diffusion, growth_rate

__all__ = [
    "GROWTH_CASES",
    "NOISY_GROWTH_CASES",
    "noisy_growth_rate_cases",
    "growth_line",
    "growth_rate_cases",
    "growth_rate_study",
    "make_mesh",
    "measure_growth_rate",
    "mesh_name",
]

#: The validated cases: (d, beta, degrees ell), for SA and USA alike.
GROWTH_CASES = ((2, 4.0, range(1, 7)), (2, 9.0, range(1, 7)), (3, 4.0, range(1, 5)))

#: Noisy cases: (d, beta, degrees ell, noise D as fractions of D_c), for SA and USA alike; the
#: fractions put D on both sides of the critical noise (modes decay for every ell at 1.5 D_c).
NOISY_GROWTH_CASES = ((2, 4.0, range(1, 4), (0.5, 1.5)), (3, 4.0, range(1, 4), (0.5, 1.5)))

#: Default mesh (constructor level) and DG degree of the growth-rate study, per d. Measured
#: relative errors below 1e-4 on every must-show case (see tests/test_validation.py).
GROWTH_MESH = {2: 64, 3: 2}
GROWTH_DEGREE = {2: 2, 3: 2}


def make_mesh(d: int, level: int) -> SphereMesh:
    """``SphereMesh.circle(level)`` for d = 2, ``SphereMesh.icosphere(level)`` for d = 3."""
    if d == 2:
        return SphereMesh.circle(level)
    if d == 3:
        return SphereMesh.icosphere(level)
    raise ValueError(f"d must be 2 (circle) or 3 (sphere), got {d}")


def mesh_name(d: int, level: int) -> str:
    """Human-readable name of :func:`make_mesh` (d, level), e.g. ``"icosphere(2)"``."""
    return f"circle({level})" if d == 2 else f"icosphere({level})"


# --------------------------------------------------------------------------- growth rates
def growth_rate_cases(cases=GROWTH_CASES, normalized=(True, False)) -> list[tuple]:
    """Expand ``(d, beta, ells)`` triples into ``(d, beta, normalized, ell)`` cases."""
    return [
        (int(d), float(beta), bool(nz), int(ell))
        for d, beta, ells in cases
        for nz in normalized
        for ell in ells
    ]


def noisy_growth_rate_cases(cases=NOISY_GROWTH_CASES, normalized=(True, False)) -> list[tuple]:
    """Expand ``(d, beta, ells, fractions)`` into ``(d, beta, normalized, ell, D)`` cases."""
    return [
        (int(d), float(beta), bool(nz), int(ell), float(f) * critical_diffusion(beta, d, nz))
        for d, beta, ells, fractions in cases
        for nz in normalized
        for f in fractions
        for ell in ells
    ]


def measure_growth_rate(
    space,
    beta,
    ell,
    normalized=True,
    eps=1e-3,
    window=(0.5, 2.5),
    steps_per_efold=5,
    points=12,
    scheme="eulerian",
    diffusion=0.0,
) -> dict:
    r"""Measure the exponential rate of the mode of :math:`\rho_0(1\pm\varepsilon Y_\ell)`.

    The PDE (Q = K = V = I) is run from :math:`\rho_\pm = \rho_0(1 \pm \varepsilon Y_{\ell 0}
    /\|Y\|_\infty)` and the odd part :math:`a(t) = (a_+(t) - a_-(t))/2` of the mode amplitudes
    :math:`a_\pm = \int Y_{\ell 0}\rho_\pm` is fitted: it cancels every even order in
    :math:`\varepsilon` (the quadratic self-interaction of even :math:`\ell` on :math:`S^2`, and
    the O(1) field the mesh quadrature leaves in the uniform density), so the nonlinear error
    is :math:`O(\varepsilon^2 e^{2\gamma t})`. Times are scaled by the theoretical rate
    :math:`\gamma`: the run lasts until :math:`|\gamma| t` = ``window[1]``, the step is capped at
    :math:`1/(\Gamma\,\text{steps\_per\_efold})`, and :math:`\log|a|` is fitted by a line
    (``np.polyfit``) over the outputs with :math:`|\gamma| t \in` ``window``. Without noise
    :math:`\Gamma = \gamma`; with noise D (the Fokker–Planck equation, IMEX scheme) the rate
    is a difference of a transport and a diffusion rate, each of which the scheme must resolve,
    so :math:`\Gamma = \max(|\gamma|, \ell(\ell+d-2)\max(\gamma_0/(\ell(\ell+d-2)), D))`
    (:math:`\gamma_0` the noiseless rate); a decaying mode (:math:`\gamma < 0`, e.g. D above
    :math:`D_c`) is fitted the same way.

    Parameters
    ----------
    space : DG
        Discretisation (on :math:`S^1` or :math:`S^2`).
    beta : float
    ell : int
    normalized : bool
        SA or USA.
    eps : float
        Perturbation amplitude :math:`\varepsilon` (relative to the sup norm of the harmonic).
    window : (float, float)
        Fit window in units of :math:`1/\gamma`; the amplitude grows by
        :math:`e^{\text{window}[1]}` over the run.
    steps_per_efold : float
        Time steps per :math:`1/\gamma` at least.
    points : int
        Output times, evenly spread over the run.
    scheme : {"eulerian", "lagrangian"}
        Density scheme of :func:`meanfield.solve_density` (the step cap is the same).
    diffusion : float
        Noise strength :math:`D \ge 0` (the Eulerian scheme only).

    Returns
    -------
    dict
        ``measured``, ``theory``, ``rel_error`` and ``cpu_s``.
    """
    d = space.dim
    D = as_scalar(diffusion, "diffusion", min_value=0.0)
    theory = growth_rate(ell, beta, d, normalized, diffusion=D)
    drift = growth_rate(ell, beta, d, normalized)
    fastest = max(abs(theory), drift, ell * (ell + d - 2) * D)
    t = np.linspace(0.0, window[1] / abs(theory), as_int(points, "points", min_value=3))
    cpu = time.process_time()
    plus = space.interpolate(ModePerturbation(d, ell, eps))
    minus = space.interpolate(Uniform(d)) * 2.0 - plus
    model = Attention(beta, normalized=normalized)
    amps = []
    for rho0 in (plus, minus):
        dt_max = 1.0 / (fastest * steps_per_efold)
        sol = solve_density(model, rho0, t, scheme=scheme, dt_max=dt_max, diffusion=D)
        amps.append(np.array([mode_amplitude(r, ell) for r in sol.densities]))
    odd = 0.5 * (amps[0] - amps[1])
    fit = t * abs(theory) >= window[0] - 1e-12
    measured = float(np.polyfit(t[fit], np.log(np.abs(odd[fit])), 1)[0])
    return {
        "measured": measured,
        "theory": float(theory),
        "rel_error": abs(measured - theory) / abs(theory),
        "cpu_s": time.process_time() - cpu,
    }


def growth_rate_study(
    cases=None,
    meshes=None,
    degrees=None,
    eps=1e-3,
    window=(0.5, 2.5),
    steps_per_efold=5,
    points=12,
    progress=False,
    scheme="eulerian",
) -> list[dict]:
    r"""Measured vs theoretical growth rates of harmonic perturbations of the uniform density.

    Parameters
    ----------
    cases : list of (d, beta, normalized, ell) or (d, beta, normalized, ell, D), optional
        Default: the must-show table (:data:`GROWTH_CASES`, SA and USA, 32 cases); a fifth
        entry is the noise D (see :func:`noisy_growth_rate_cases`).
    meshes : dict d -> level, optional
        ``circle(level)`` on :math:`S^1`, ``icosphere(level)`` on :math:`S^2`; default
        :data:`GROWTH_MESH`.
    degrees : dict d -> int, optional
        DG degree per d; default :data:`GROWTH_DEGREE`.
    eps, window, steps_per_efold, points
        See :func:`measure_growth_rate`.
    progress : bool
        Print one line per case.
    scheme : {"eulerian", "lagrangian"}
        Density scheme (see :func:`measure_growth_rate`).

    Returns
    -------
    list of dict
        One row per case: ``d, beta, normalized, ell, diffusion, measured, theory, rel_error,
        mesh, degree, eps, cpu_s, scheme``.
    """
    cases = growth_rate_cases() if cases is None else list(cases)
    meshes = {**GROWTH_MESH, **(meshes or {})}
    degrees = {**GROWTH_DEGREE, **(degrees or {})}
    spaces = {}
    rows = []
    for case in cases:
        d, beta, normalized, ell = case[:4]
        D = case[4] if len(case) > 4 else 0.0
        if d not in spaces:
            spaces[d] = DG(make_mesh(d, meshes[d]), degrees[d])
        r = measure_growth_rate(
            spaces[d], beta, ell, normalized, eps, window, steps_per_efold, points, scheme, D
        )
        row = {"d": d, "beta": beta, "normalized": normalized, "ell": ell, "diffusion": D, **r}
        row.update(mesh=mesh_name(d, meshes[d]), degree=degrees[d], eps=eps, scheme=scheme)
        rows.append(row)
        if progress:
            print(growth_line(row), flush=True)
    return rows


def growth_line(r) -> str:
    kind = "SA " if r["normalized"] else "USA"
    noise = f" D={r['diffusion']:.4g}" if r.get("diffusion") else ""
    return (
        f"d={r['d']} beta={r['beta']:g} {kind}{noise} ell={r['ell']}: measured {r['measured']:.6g} "
        f"theory {r['theory']:.6g} rel.err {r['rel_error']:.2e} ({r['mesh']} p={r['degree']})"
    )
