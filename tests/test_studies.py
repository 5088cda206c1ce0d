"""Validation studies: growth rates against theory, particles against the PDE.

Run with ``pytest -s`` to see the measured numbers.
"""

import numpy as np
import ot
import pytest

import meanfield as mf
from meanfield.app.report import write_report
from meanfield.compare import SlicedMetric
from meanfield.studies.growth import (
    growth_line,
    growth_rate_study,
    measure_growth_rate,
    noisy_growth_rate_cases,
)
from meanfield.studies.mean_field import fit_slope, mean_field_study, summarize_mean_field


def test_growth_rates_must_show_table():
    """All 32 must-show cases (S^1 beta = 4, 9, ell = 1..6; S^2 beta = 4, ell = 1..4; SA and
    USA) within 1% of theory; measured worst case 6.5e-5 (circle(64) p = 2, icosphere(2) p = 2)."""
    rows = growth_rate_study()
    for r in rows:
        print(growth_line(r))
    assert len(rows) == 32
    assert {(r["d"], r["beta"]) for r in rows} == {(2, 4.0), (2, 9.0), (3, 4.0)}
    worst = max(r["rel_error"] for r in rows)
    print(f"worst relative error {worst:.2e}")
    assert worst < 0.01
    # the fit is far tighter than the must-show: a mistaken rate (e.g. ell(ell+1) vs ell^2)
    # would be off by tens of percent, round-off and time stepping by ~1e-4
    assert worst < 1e-3


def test_growth_rate_detects_a_wrong_model():
    """The measurement is not tautological: USA runs do not match the SA rate."""
    space = mf.DG(mf.SphereMesh.circle(32), 2)
    r = measure_growth_rate(space, 4.0, 3, normalized=False)
    sa = mf.theory.growth_rate(3, 4.0, 2, normalized=True)
    assert r["rel_error"] < 1e-3
    assert abs(r["measured"] - sa) / sa > 1.0


def test_noisy_growth_and_decay_rates_within_one_percent():
    """With noise D = 0.5 D_c and 1.5 D_c: growing and decaying modes, SA and USA, S^1 (all 12
    cases, ell = 1..3) and S^2 (4 of its 12; the full table, worst 2.0e-3, is in the report of
    issue 16: ``growth_rate_study(noisy_growth_rate_cases())``)."""
    cases = noisy_growth_rate_cases()
    s2 = {(True, 1, 0.5), (True, 2, 1.5), (False, 2, 0.5), (False, 1, 1.5)}
    pick = [c for c in cases if c[0] == 2 or (c[2], c[3], round(
        c[4] / mf.theory.critical_diffusion(c[1], c[0], c[2]), 3)) in s2]  # fmt: skip
    rows = growth_rate_study(pick)
    for r in rows:
        print(growth_line(r))
    assert len(rows) == 16
    assert any(r["theory"] > 0 for r in rows) and any(r["theory"] < 0 for r in rows)
    for r in rows:
        Dc = mf.theory.critical_diffusion(r["beta"], r["d"], r["normalized"])
        assert np.sign(r["measured"]) == np.sign(r["theory"])
        if r["ell"] == 1:  # the critical mode: grows below D_c, decays above
            assert (r["theory"] > 0) == (r["diffusion"] < Dc)
    worst = max(r["rel_error"] for r in rows)
    print(f"worst relative error with noise {worst:.2e}")
    assert worst < 0.01


def test_binned_circle_w1_matches_exact_w1():
    g = np.random.default_rng(0)
    x, y = mf.sample_sphere(3000, 2, 1), mf.sample_sphere(2000, 2, 2)
    w = g.random(2000)
    w /= w.sum()
    metric = SlicedMetric(2)
    exact = mf.wasserstein(x, (y, w))
    assert abs(metric(x, (y, w)) - exact) <= 2 * np.pi / metric.bins


def test_sliced_sphere_matches_pot():
    x, y = mf.sample_sphere(1500, 3, 1), mf.sample_sphere(1000, 3, 2)
    metric = SlicedMetric(3)
    pot = ot.sliced_wasserstein_sphere(
        x, y, n_projections=len(metric.frames), p=1, projections=metric.frames
    )
    # POT measures arcs in turns (the circle as [0, 1)): times 2 pi for radians
    assert abs(metric(x, y) - 2 * np.pi * float(pot)) <= 2 * np.pi / metric.bins


def test_fit_slope_and_bad_input():
    ns = np.array([100, 400, 1600])
    assert fit_slope(ns, 3.0 * ns**-0.5) == pytest.approx(-0.5, abs=1e-12)
    with pytest.raises(ValueError, match="positive"):
        fit_slope(ns, [1.0, 0.0, 1.0])
    with pytest.raises(ValueError, match="same length"):
        fit_slope(ns, [1.0, 2.0])


def test_mean_field_slope_on_the_circle():
    """S^1, n = 250..4000, 12 seeds, circle(64) p = 1: the seed-averaged exact W1 between
    tokens and PDE decays like n^-1/2 at t = 1 and 2 (slopes measured, not assumed)."""
    res = mean_field_study(
        2, ns=(250, 500, 1000, 2000, 4000), seeds=range(12), times=(1.0, 2.0), levels=(64,)
    )
    summary = summarize_mean_field(res)
    for s in summary["slopes"]:
        print(
            f"t = {s['t']:g}: slope {s['slope']:.3f}, moment slope {s['moment_slope']:.3f}, "
            f"W1 {s['first']:.3e} -> {s['last']:.3e}"
        )
        assert -0.6 <= s["slope"] <= -0.4
        assert -0.7 <= s["moment_slope"] <= -0.3
    assert res["mass_drift"] <= 1e-12


def test_noisy_tokens_converge_to_the_fokker_planck_density():
    """S^1, SA beta = 1, noise D = 0.2 (below D_c = 0.446): noisy tokens (RK4 drift + Brownian
    step, dt = 0.02) against the IMEX PDE on circle(64) p = 1; the seed-averaged exact W1 falls
    like n^-1/2 at t = 1 and 2 (n = 250..4000, 12 seeds)."""
    res = mean_field_study(
        2, ns=(250, 500, 1000, 2000, 4000), seeds=range(12), times=(1.0, 2.0), levels=(64,),
        diffusion=0.2, dt=0.02,
    )  # fmt: skip
    summary = summarize_mean_field(res)
    for s in summary["slopes"]:
        print(
            f"noisy t = {s['t']:g}: slope {s['slope']:.3f}, W1 {s['first']:.3e} -> {s['last']:.3e}"
        )
        assert -0.6 <= s["slope"] <= -0.4
    assert res["mass_drift"] <= 1e-12
    # the noise matters: noisy and noiseless PDE at t = 2 are farther apart than tokens and PDE
    from meanfield.studies.mean_field import default_initial

    rho0 = mf.DG(mf.SphereMesh.circle(64), 1).interpolate(default_initial(2))
    model = mf.Attention(1.0)
    noisy = mf.solve_density(model, rho0, [0.0, 2.0], diffusion=0.2)[-1]
    quiet = mf.solve_density(model, rho0, [0.0, 2.0])[-1]
    gap = mf.wasserstein(noisy, quiet)
    print(f"W1(noisy PDE, noiseless PDE) at t = 2: {gap:.3e}")
    assert gap > 3 * summary["slopes"][-1]["last"]


def test_write_report_quick(tmp_path):
    out = write_report(tmp_path, quick=True)
    print({k: v for k, v in out.items() if k != "files"})
    for name in ("report.md", "growth_rates.png", "mean_field.png"):
        assert (tmp_path / name).stat().st_size > 1000
    text = (tmp_path / "report.md").read_text()
    assert "| 2 | 4 | SA | 3 |" in text and "icosphere(2)" in text and "circle(8)" in text
    assert out["growth_max_rel_error"] < 0.01
    assert set(out["slopes"]) == {2, 3}
    # the coarse mesh's floor is visible at t = 4: its PDE is 0.150 (measured) away from the
    # circle(64) one, and its tokens-vs-PDE distance stays well above the reference's
    assert 0.1 < out["mesh_errors"][2]["circle(8)"][4.0] < 0.2
    floors = out["floors"][2]
    assert floors["circle(8)"][4.0] > 1.5 * floors["circle(64)"][4.0]
