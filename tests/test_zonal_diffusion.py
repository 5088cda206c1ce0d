"""meanfield.eulerian.diffusion.ZonalLaplacian: the Laplacian of S^{d-1} on zonal densities
(weighted interior penalty in the line density of the polar angle), through
solve_density(..., diffusion=D) on zonal meshes."""

import numpy as np
import pytest

import meanfield as mf
from meanfield.compare import polar_wasserstein
from meanfield.eulerian.diffusion import SIPGLaplacian, ZonalLaplacian, laplacian
from meanfield.harmonics import gegenbauer
from meanfield.initial import ZonalCaps
from meanfield.studies.zonal import comparison_density, growth_breakpoints, measure_zonal_growth
from meanfield.theory import critical_diffusion


def still(t, x):
    return np.zeros_like(x)


def _heat_error(d, cells, p, D=0.2, T=0.5, ell=2, dt=1 / 64):
    space = mf.DG(mf.SphereMesh.zonal(d, growth_breakpoints(d, cells)), p)
    rho0 = space.interpolate(lambda x: 1.0 + 0.5 * gegenbauer(ell, d, x[:, -1]))
    sol = mf.solve_density(still, rho0, [0.0, T], diffusion=D, dt_max=dt)
    decay = np.exp(-ell * (ell + d - 2) * D * T)
    err = sol[-1].errors(lambda x: 1.0 + 0.5 * decay * gegenbauer(ell, d, x[:, -1]))["l2"]
    return err, abs(sol.mass[-1] / sol.mass[0] - 1), sol


def test_laplacian_dispatches_and_constants_are_kept():
    space = mf.DG(mf.SphereMesh.zonal(5, 16), 1)
    lap = laplacian(space)
    assert isinstance(lap, ZonalLaplacian) and laplacian(space) is lap
    A = lap.matrix.toarray()
    # a(g, 1) = 0 for every g: the columns of A sum to zero (mass conservation)
    assert np.abs(np.ones(len(A)) @ A).max() < 1e-12 * np.abs(A).max()
    with pytest.raises(ValueError, match="ZonalLaplacian"):
        SIPGLaplacian(space)
    with pytest.raises(ValueError, match="zonal mesh"):
        ZonalLaplacian(mf.DG(mf.SphereMesh.circle(8), 1))


@pytest.mark.parametrize("d", [3, 8, 64])
def test_rayleigh_quotient_of_gegenbauer_modes_is_their_eigenvalue(d):
    """-(v, Delta g)/(v, g) with v = C_l and g = w C_l tends to l(l + d - 2) (p = 2)."""
    space = mf.DG(mf.SphereMesh.zonal(d, 64), 2)
    lap = laplacian(space)
    for ell in (1, 2, 3):
        g = space.interpolate(lambda x, ell=ell: gegenbauer(ell, d, x[:, -1]))
        lg = mf.DG.density(space, lap.apply(g.coefficients))
        num = lg.integrate(lambda x, ell=ell: gegenbauer(ell, d, x[:, -1]))
        den = g.integrate(lambda x, ell=ell: gegenbauer(ell, d, x[:, -1]))
        assert -num / den == pytest.approx(ell * (ell + d - 2), rel=2e-3)


@pytest.mark.parametrize(("d", "p", "target"), [
    (3, 1, 1.8), (3, 2, 2.7), (8, 1, 1.8), (8, 2, 2.7), (32, 1, 1.8), (32, 2, 2.7),
    (1024, 1, 1.8), (1024, 2, 2.7),
])  # fmt: skip
def test_zonal_heat_equation_converges_at_rate_p_plus_one(d, p, target):
    """Gegenbauer modes decay as exp(-l(l + d - 2) D t); L2 error ~ h^{p+1}. d <= 8: uniform
    cells, D = 0.2; d > 8: cells refined about the equator (growth_breakpoints), D = 0.2 / d
    (the l = 2 rate is then about 0.4 for every d)."""
    cells = (8, 16, 32) if d <= 8 else (16, 32, 64)
    D = 0.2 if d <= 8 else 0.2 / d
    errs, drifts, clipped = [], [], []
    for n in cells:
        e, drift, sol = _heat_error(d, n, p, D=D)
        errs.append(e)
        drifts.append(drift)
        clipped.append(laplacian(sol[-1].space).clipped)
        assert sol[-1].cell_means().min() >= 0.0 and np.all(np.isfinite(sol[-1].coefficients))
    rate = -np.polyfit(np.log(cells), np.log(errs), 1)[0]
    print(f"zonal heat S^{d - 1} p={p} cells {cells}: L2 errors {errs}, fitted rate {rate:.3f}, "
          f"mass moved by the positivity step {clipped}")  # fmt: skip
    if d == 3:
        assert max(clipped) == 0.0
    # the positivity step moves less mass than the L2 error of the solution
    assert np.all(np.array(clipped) < np.array(errs))
    assert rate > target
    assert max(drifts) < 1e-13


def test_zonal_heat_at_d3_agrees_with_the_sphere_solver():
    """Caps plus a band on S^2: the W1 distance of the laws of s between the zonal solution
    (128 cells, p = 2) and the icosphere solution (p = 1) at t = 0.3 tends to zero as the
    icosphere is refined, at least at the rate 1.5 in its cell size (measured 1.62, 1.69)."""
    D, t = 0.2, [0.0, 0.3]
    zonal0 = mf.DG(mf.SphereMesh.zonal(3, 128), 2).interpolate(comparison_density(3, False))
    zonal = mf.solve_density(still, zonal0, t, diffusion=D, dt_max=0.01)
    dist, start = [], []
    for level in (1, 2, 3):
        rho0 = mf.DG(mf.SphereMesh.icosphere(level), 1).interpolate(comparison_density(3, True))
        full = mf.solve_density(still, rho0, t, diffusion=D, dt_max=0.01)
        start.append(polar_wasserstein(zonal[0], full[0]))
        dist.append(polar_wasserstein(zonal[1], full[1]))
    moved = polar_wasserstein(zonal[0], zonal[1])
    rates = np.log2(np.array(dist[:-1]) / np.array(dist[1:]))
    print(f"W1(zonal, icosphere(1..3)): t = 0 {start}, t = 0.3 {dist} (rates {rates}); "
          f"W1 moved by diffusion {moved:.3e}")  # fmt: skip
    assert np.all(rates > 1.5)
    assert dist[2] < 0.05 * moved


@pytest.mark.parametrize("d", [3, 8, 32, 1024])
@pytest.mark.parametrize("normalized", [True, False])
def test_noisy_growth_rates_match_theory_on_both_sides_of_the_critical_noise(d, normalized):
    """Gegenbauer modes l = 1, 2 of the uniform density at beta = 4, D = 0.5 and 1.5 D_c:
    the l = 1 mode grows below D_c and decays above it (measured errors <= 5e-4)."""
    beta = 4.0
    dc = critical_diffusion(beta, d, normalized)
    for fraction in (0.5, 1.5):
        for ell in (1, 2) if d < 1024 else (1,):
            r = measure_zonal_growth(d, beta, ell, normalized, diffusion=fraction * dc)
            print(f"d={d} {r['model']} l={ell} D={fraction}Dc: measured {r['measured']:.6g} "
                  f"theory {r['theory']:.6g} rel {r['rel_error']:.2e}")  # fmt: skip
            if ell == 1:
                assert np.sign(r["theory"]) == (1 if fraction < 1 else -1)
            assert r["resolvable"] and abs(r["rel_error"]) < 0.01


def test_noisy_collapse_in_d_1024_is_finite_with_mass_kept():
    d = 1024
    theta = np.unique(np.concatenate([np.linspace(0, 0.8, 41), np.linspace(0.8, np.pi, 13)]))
    rho0 = mf.DG(mf.SphereMesh.zonal(d, theta), 1).interpolate(ZonalCaps(d, 3000.0, 1.0))
    sol = mf.solve_density(mf.Attention(9.0), rho0, [0.0, 1.0, 2.0], diffusion=1e-3)
    for rho in sol.densities:
        assert np.all(np.isfinite(rho.coefficients))
        assert rho.min_value() >= 0.0 and rho.cell_means().min() >= 0.0
    np.testing.assert_allclose(sol.mass, sol.mass[0], rtol=0, atol=1e-12)


def test_heat_on_d_1024_relaxes_towards_uniform():
    """Pure diffusion from a cap in d = 1024: mass kept, finite, and the mean of s falls as
    exp(-(d - 1) D t) (s is the degree-1 Gegenbauer mode)."""
    d, D, T = 1024, 1e-4, 2.0
    space = mf.DG(mf.SphereMesh.zonal(d, 400), 2)
    rho0 = space.interpolate(ZonalCaps(d, 300.0, 1.0))
    sol = mf.solve_density(still, rho0, [0.0, T], diffusion=D, dt_max=0.05)
    assert np.all(np.isfinite(sol[-1].coefficients)) and sol[-1].cell_means().min() >= 0.0
    assert abs(sol.mass[-1] - sol.mass[0]) < 1e-12
    s0, s1 = (r.integrate(lambda x: x[:, -1]) for r in sol.densities)
    assert s1 / s0 == pytest.approx(np.exp(-(d - 1) * D * T), rel=1e-6)  # measured 2e-8


def test_a_noisy_zonal_run_in_r8_keeps_mass_and_follows_its_noisy_tokens(tmp_path):
    """meanfield run with model.diffusion on a zonal mesh: the Fokker–Planck density of the
    polar angle against 1600 noisy tokens in R^8 (measured W1 of the laws of s: 0.014)."""
    from meanfield.app.config import resolve
    from meanfield.app.run import execute
    from meanfield.app.rundir import load_run

    cfg = resolve({
        "name": "zonal8noise",
        "model": {"beta": 4.0, "diffusion": 0.05},
        "mesh": {"kind": "zonal", "d": 8, "cells": 32},
        "initial": {"kind": "vmf", "centres": [[0] * 7 + [1], [0] * 7 + [-1]], "kappa": 8.0},
        "particles": {"n": 1600, "dt": 0.05},
        "times": {"t_end": 1.0, "frames": 3},
        "output": {"render": [], "gif": False, "figures": False, "root": str(tmp_path)},
    })  # fmt: skip
    s = load_run(execute(cfg, progress=False).directory).summary
    assert abs(s["final"]["mass"] - 1) < 1e-12 and s["final"]["min_density"] >= 0.0
    assert s["final"]["distance_w1"] < 0.05
