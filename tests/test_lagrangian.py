"""The Lagrangian density solver (lagrangian/solver.py, scheme="lagrangian" of solve_density).

Prescribed flows (rotation, Nair–Lauritzen reversing flow), log J from the field's divergence
against the moved cells' areas, mass and finiteness, the merging of two distant clusters that
the Eulerian scheme pins, growth rates, splitting and the option checks.
"""

import numpy as np
import pytest

import meanfield as mf
from meanfield import initial
from meanfield.eulerian.flows import ReversingDeformation, SolidBodyRotation, gaussian_hills
from meanfield.lagrangian import FlowMapDensity, FlowStats, default_step


def _fit(h, err):
    return float(np.polyfit(np.log(h), np.log(err), 1)[0])


def test_solid_body_rotation_moves_points_exactly():
    mesh = mf.SphereMesh.icosphere(2)
    rho0 = mf.DG(mesh, 1).interpolate(gaussian_hills)
    flow = SolidBodyRotation(axis=[0.3, 0.2, 1.0])
    t = [0.0, np.pi]
    sol = mf.solve_density(flow, rho0, t, scheme="lagrangian", method="dop853")
    x0, _ = sol.densities[0].quadrature_measure()
    x1, m = sol.densities[1].quadrature_measure()
    err = np.abs(x1 - flow.move(x0, np.pi)).max()
    logj = np.abs(sol.densities[1].state.log_jacobian).max()
    print(f"rotation DOP853: position error {err:.2e}, max |log J| {logj:.2e}")
    assert err < 1e-10 and logj < 1e-11
    assert np.array_equal(m, sol.densities[0].quadrature_measure()[1])
    assert sol.scheme == "lagrangian" and isinstance(sol.stats, FlowStats)
    # RK4: order 4 in dt, and J stays 1 to the same error
    errs = []
    for dt in (0.2, 0.1, 0.05):
        s = mf.solve_density(flow, rho0, t, scheme="lagrangian", dt=dt)
        errs.append(np.abs(s.densities[1].quadrature_measure()[0] - flow.move(x0, np.pi)).max())
    order = _fit([0.2, 0.1, 0.05], errs)
    print(f"rotation RK4 errors {errs}, fitted order {order:.2f}")
    assert 3.7 < order < 4.6


def test_reversing_flow_returns_points_and_jacobians():
    mesh = mf.SphereMesh.icosphere(2)
    rho0 = mf.DG(mesh, 1).interpolate(gaussian_hills)
    flow = ReversingDeformation(case=1, period=5.0)
    dts, pos, jac = (0.1, 0.05, 0.025), [], []
    for dt in dts:
        sol = mf.solve_density(flow, rho0, [0.0, 2.5, 5.0], scheme="lagrangian", dt=dt)
        x0, _ = sol.densities[0].quadrature_measure()
        x1, m = sol.densities[-1].quadrature_measure()
        pos.append(np.abs(x1 - x0).max())
        jac.append(np.abs(sol.densities[-1].state.log_jacobian).max())
        assert np.abs(sol.mass - sol.mass[0]).max() == 0.0
    # half way the flow is strongly deformed: the return is not trivial
    assert sol.stats.max_stretch[1] > 10.0 and sol.stats.max_distortion[1] > 1.0
    assert sol.stats.max_stretch[-1] < 1.01
    p_order, j_order = _fit(dts, pos), _fit(dts, jac)
    print(f"Nair-Lauritzen case 1: position errors {pos} (order {p_order:.2f}), "
          f"|log J| {jac} (order {j_order:.2f})")  # fmt: skip
    assert p_order > 3.7 and j_order > 3.7
    assert pos[-1] < 1e-6 and jac[-1] < 1e-5


def _log_j_gap(mesh, beta=4.0, t_end=1.0, dt=0.02):
    rho0 = mf.DG(mesh, 1).interpolate(initial.VonMisesFisher(centres=[[1, 0, 0][: mesh.dim]],
                                                             kappa=2.0))  # fmt: skip
    sol = mf.solve_density(mf.Attention(beta), rho0, [0.0, t_end], scheme="lagrangian", dt=dt)
    s = sol.densities[-1].state
    from_div = (rho0.space.quadrature.weights * np.exp(s.log_jacobian)).sum(axis=1)
    from_geo = s.cell_areas() / s.cell_areas(initial=True) * mesh.areas
    return np.abs(from_div / from_geo - 1.0).max(), np.ptp(s.log_jacobian)


@pytest.mark.parametrize("d", [2, 3])
def test_log_jacobian_from_divergence_matches_moved_cell_areas(d):
    meshes = ([mf.SphereMesh.circle(n) for n in (16, 32, 64)] if d == 2
              else [mf.SphereMesh.icosphere(k) for k in (0, 1, 2)])  # fmt: skip
    h = [m.resolution for m in meshes]
    gaps, spreads = zip(*(_log_j_gap(m) for m in meshes), strict=True)
    rate = _fit(h, gaps)
    print(f"S^{d - 1}: |sum w J / moved area - 1| = {gaps}, fitted rate in h {rate:.2f}")
    assert min(spreads) > 1.0  # log J varies by more than 1 over the sphere: a real check
    assert rate > 2.5 and gaps[-1] < 2e-3


@pytest.mark.parametrize("d", [2, 3])
def test_mass_exact_and_finite_through_collapse(d):
    # the long versions (t = 1000 on S^1, 200 on S^2): benchmarks/long_runs.py --scheme lagrangian
    mesh = mf.SphereMesh.circle(32) if d == 2 else mf.SphereMesh.icosphere(1)
    rho0 = mf.DG(mesh, 1).interpolate(initial.WhiteNoise(d=d, amplitude=0.05, ell_max=8, seed=0))
    t = np.linspace(0.0, 60.0, 7) if d == 2 else np.linspace(0.0, 20.0, 5)
    sol = mf.solve_density(mf.Attention(9.0), rho0, t, scheme="lagrangian", dt=0.05)
    assert np.all(sol.mass == sol.mass[0])
    for r in sol.densities:
        assert np.all(np.isfinite(r.state.points)) and np.all(np.isfinite(r.state.log_jacobian))
        assert np.all(np.isfinite(r.cell_means())) and r.cell_means().min() >= 0
    from meanfield.diagnostics import density_clusters

    final = density_clusters(sol.densities[-1])
    assert final.count >= 1 and final.masses.sum() > 0.99 * sol.mass[0]


def test_growth_rate_within_one_percent_small():
    # the full table (S^1 l = 1..6, beta = 4, 9; S^2 l = 1..4, beta = 4; SA and USA) is
    # studies/growth.py with scheme="lagrangian"; here one S^1 and one S^2 case
    from meanfield.studies.growth import measure_growth_rate

    for space, beta, ell, normalized in [
        (mf.DG(mf.SphereMesh.circle(32), 2), 9.0, 4, True),
        (mf.DG(mf.SphereMesh.icosphere(1), 1), 4.0, 2, False),
    ]:
        r = measure_growth_rate(space, beta, ell, normalized, scheme="lagrangian")
        print(r)
        assert r["rel_error"] < 0.01


def test_splitting_counts_and_keeps_mass():
    mesh = mf.SphereMesh.icosphere(1)
    rho0 = mf.DG(mesh, 1).interpolate(gaussian_hills)
    flow = ReversingDeformation(case=1, period=5.0)
    t = [0.0, 0.625, 1.25]
    plain = mf.solve_density(flow, rho0, t, scheme="lagrangian", dt=0.05)
    sol = mf.solve_density(flow, rho0, t, scheme="lagrangian", dt=0.05, split=1.0)
    # measured: plain distortion 0, 1.73, 2.94 and 25% of the mass beyond 1 at t = 0.625
    assert plain.stats.splits == 0 and plain.stats.max_distortion[1] > 1.0
    assert plain.stats.distorted_mass[1] > 0.1
    assert sol.stats.splits > 0
    assert sol.stats.cells[-1] == mesh.n_cells + 3 * sol.stats.splits
    assert np.all(np.abs(sol.mass - sol.mass[0]) <= 1e-14 * sol.mass[0])
    # the cells split at t = 0.625 are less distorted than their parents at t = 1.25
    assert sol.stats.max_distortion[2] < 0.8 * plain.stats.max_distortion[2]
    assert sol.stats.distorted_mass[1] == 0.0  # nothing beyond the threshold right after


def test_options_are_checked():
    rho0 = mf.DG(mf.SphereMesh.circle(8), 1).interpolate(lambda x: 1.0 + 0 * x[:, 0])
    model = mf.Attention(1.0)
    with pytest.raises(ValueError, match="scheme"):
        mf.solve_density(model, rho0, [0, 1], scheme="semi")
    with pytest.raises(ValueError, match="'cfl' is not understood by scheme 'lagrangian'"):
        mf.solve_density(model, rho0, [0, 1], scheme="lagrangian", cfl=0.3)
    with pytest.raises(ValueError, match="'split' is not understood by scheme 'eulerian'"):
        mf.solve_density(model, rho0, [0, 1], split=3.0)
    with pytest.raises(ValueError, match="method"):
        mf.solve_density(model, rho0, [0, 1], scheme="lagrangian", method="ssprk3")
    with pytest.raises(ValueError, match="split"):
        mf.solve_density(model, rho0, [0, 1], scheme="lagrangian", split=-1.0)
    with pytest.raises(ValueError, match="model"):
        mf.solve_density("wind", rho0, [0, 1], scheme="lagrangian")
    with pytest.raises(ValueError, match="dimension"):
        mf.solve_density(mf.Attention(1.0, Q=np.eye(3)), rho0, [0, 1], scheme="lagrangian")
    zonal = mf.DG(mf.SphereMesh.zonal(8, 16), 1).interpolate(lambda x: 1.0 + 0.1 * x[:, -1])
    with pytest.raises(ValueError, match="split is not available on a zonal mesh"):
        mf.solve_density(model, zonal, [0, 1], scheme="lagrangian", split=1.0)


def test_default_step_and_result_types():
    assert default_step(mf.Attention(9.0), 2, 1e-8) == pytest.approx(0.01)
    assert default_step(mf.Attention(9.0), 2, 1e-4) == pytest.approx(0.05)
    rho0 = mf.DG(mf.SphereMesh.circle(8), 1).interpolate(lambda x: 1.0 + 0.1 * x[:, 0])
    sol = mf.solve_density(mf.Attention(1.0), rho0, [0, 0.5], scheme="lagrangian")
    assert all(isinstance(r, FlowMapDensity) for r in sol.densities)
    assert sol.method == "rk4" and sol.stats.steps == 10 and sol.stats.nfev == 40
    assert sol.densities[1].time == 0.5
    # with a progress bar and the DOP853 reference: the same flow to its tolerance
    ref = mf.solve_density(mf.Attention(1.0), rho0, [0, 0.5], scheme="lagrangian",
                           method="dop853", progress=True)  # fmt: skip
    x_rk4 = sol.densities[1].quadrature_measure()[0]
    assert np.abs(ref.densities[1].quadrature_measure()[0] - x_rk4).max() < 1e-8
