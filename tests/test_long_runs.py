"""Long-run invariants of the mean-field solver at beta = 9 through cluster formation.

From a 5% white-noise perturbation of the uniform density, the l = 4 instability (the fastest
mode at beta = 9 on S^1 and S^2, by the SA growth rates) grows into four clusters. Along the way
the
scheme must keep: finite values, rho >= 0 at its points, mass to 1e-12, and the SA energy
non-decreasing. Coarse meshes keep this short; benchmarks/long_runs.py runs the long version.
"""

import numpy as np
import pytest

import meanfield as mf
from meanfield import initial
from meanfield.diagnostics import density_clusters, energy

BETA = 9.0
#: Relative energy decrease tolerated between outputs: round-off of the energy sums (the
#: energy itself is exact to quadrature, and SA increases it along the exact flow).
ENERGY_RTOL = 1e-9


def _run(mesh, degree, t_end):
    d = mesh.dim
    rho0 = mf.DG(mesh, degree).interpolate(
        initial.WhiteNoise(d=d, amplitude=0.05, ell_max=8, seed=0)
    )
    t = np.arange(0.0, t_end + 0.5, 1.0)
    return mf.solve_density(mf.Attention(BETA), rho0, t, dt_max=0.1)


CASES = {
    "S1 p=1 64 cells": (lambda: mf.SphereMesh.circle(64), 1, 16.0),
    "S1 p=2 32 cells": (lambda: mf.SphereMesh.circle(32), 2, 16.0),
    "S2 p=1 icosphere(1)": (lambda: mf.SphereMesh.icosphere(1), 1, 16.0),
}


@pytest.mark.parametrize("case", list(CASES))
def test_invariants_through_cluster_formation(case):
    make, degree, t_end = CASES[case]
    sol = _run(make(), degree, t_end)
    m0 = sol.mass[0]
    for rho in sol.densities:
        assert np.all(np.isfinite(rho.coefficients))
        assert rho.min_value() >= 0.0
    assert np.max(np.abs(sol.mass - m0)) / m0 <= 1e-12
    e = np.array([energy(rho, BETA) for rho in sol.densities])
    assert np.all(np.diff(e) >= -ENERGY_RTOL * e[:-1]), np.diff(e) / e[:-1]
    clusters = [density_clusters(rho) for rho in sol.densities]
    counts = [c.count for c in clusters]
    held = [c.masses.sum() / m0 for c in clusters]
    # near uniform at the start, four clusters (l = 4) holding 90% of the mass at the end
    assert counts[0] == 0 and held[0] == 0.0
    assert counts[-1] == 4 and held[-1] > 0.9, (counts, held)
    # the energy grew a lot: concentration, not a quiet drift
    assert e[-1] > 1.4 * e[0]
    # the cluster-forming phase needed short steps and none was rejected for positivity
    assert sol.stats.rejected == 0


def test_invariants_hold_long_after_collapse():
    # 15 more time units in the collapsed state, where the density between clusters underflows
    # (min rho ~ 1e-50 and below): still finite, non-negative, mass to 1e-12
    sol = _run(mf.SphereMesh.circle(32), 2, 30.0)
    m0 = sol.mass[0]
    assert np.max(np.abs(sol.mass - m0)) / m0 <= 1e-12
    assert all(np.all(np.isfinite(rho.coefficients)) for rho in sol.densities)
    assert min(rho.min_value() for rho in sol.densities) >= 0.0
    assert sol.densities[-1].min_value() < 1e-30  # it did collapse
    # The discrete energy is not exactly monotone once clusters are narrower than a cell: as
    # a pinned cluster's sub-cell profile settles, E drops by 9e-8 relative (t = 16 -> 17)
    # and then by geometrically smaller amounts (measured). The bound 1e-6 on the total drop
    # after the maximum was set after that measurement; the exact flow has no drop at all.
    e = np.array([energy(rho, BETA) for rho in sol.densities])
    assert (e.max() - e[-1]) / e.max() < 1e-6
    assert e[-1] > 1.8 * e[0]


def _gap_of_two_bumps(theta0, cells, t, **options):
    """Angle between the two halves' mass centres (bumps symmetric about the x axis)."""
    half = theta0 / 2
    bumps = initial.VonMisesFisher(
        centres=[[np.cos(half), np.sin(half)], [np.cos(half), -np.sin(half)]], kappa=200.0
    )
    rho0 = mf.DG(mf.SphereMesh.circle(cells), 1).interpolate(bumps)
    rho = mf.solve_density(mf.Attention(BETA), rho0, t, **options).densities[-1]
    x, w = rho.quadrature_measure()
    up = x[:, 1] > 0
    return 2.0 * np.arctan2(w[up] @ x[up, 1], w[up] @ x[up, 0])


def test_two_close_clusters_merge():
    # theta0 = 0.8: the two-token ODE closes the gap to 0.036 by t = 5; the PDE merges them
    # into one cluster within a cell (h = 0.196 on 32 cells) by t = 10
    from meanfield import theory

    assert theory.two_token_angle(0.8, [0.0, 5.0], BETA)[-1] < 0.04
    assert _gap_of_two_bumps(0.8, 32, [0.0, 10.0]) < 2 * np.pi / 32


@pytest.mark.xfail(
    strict=True,
    reason="known limitation of the Eulerian scheme: a cluster narrower than a cell is pinned "
    "to it (inflow through both edges while the drift is below ~ h/3 per unit time), so the "
    "fixed-mesh PDE does not merge distant collapsed clusters; the Lagrangian scheme does "
    "(test below)",
)
def test_two_distant_clusters_merge_like_two_tokens():
    # theta0 = 1.2: the two-token ODE (exact for two point masses) closes the gap to below
    # 0.1 rad by t = 40 at beta = 9
    from meanfield import theory

    assert theory.two_token_angle(1.2, [0.0, 40.0], BETA)[-1] < 0.1
    assert _gap_of_two_bumps(1.2, 32, [0.0, 40.0]) < 2 * np.pi / 32


def test_two_distant_clusters_merge_like_two_tokens_lagrangian():
    # the same start on the flow map: nothing is pinned, the clusters drift at their true
    # speed and merge as the two-token ODE says (gap 0.84 at t = 20 against the ODE's 0.89,
    # 2e-8 at t = 40)
    from meanfield import theory

    assert theory.two_token_angle(1.2, [0.0, 40.0], BETA)[-1] < 0.1
    gap = _gap_of_two_bumps(1.2, 32, [0.0, 40.0], scheme="lagrangian", dt=0.05)
    assert gap < 0.1
    assert _gap_of_two_bumps(1.2, 32, [0.0, 20.0], scheme="lagrangian", dt=0.05) > 0.5
