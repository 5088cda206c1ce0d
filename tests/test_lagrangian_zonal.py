"""The Lagrangian flow map on the zonal mesh (meanfield.lagrangian.zonal, field.zonal.ZonalFlow)."""

import numpy as np
import pytest

import meanfield as mf
from meanfield.eulerian.zonal import polar_cdf, zonal_clusters
from meanfield.field.zonal import ZonalFlow, bessel_tables, chebyshev_tables, zonal_velocity
from meanfield.initial import ZonalCaps
from meanfield.lagrangian import FlowMapDensity
from meanfield.lagrangian.zonal import ZonalFlowMapDensity
from meanfield.sphere.zonal import meridian
from meanfield.studies.zonal import measure_zonal_growth, zonal_schemes, zonal_vs_mesh


def polar(x):
    return np.arctan2(np.linalg.norm(x[:, :-1], axis=1), x[:, -1])


@pytest.mark.parametrize("d", [2, 3, 8, 1024])
@pytest.mark.parametrize(("beta", "normalized"), [(1.0, True), (9.0, False), (1000.0, True)])
def test_field_derivative_against_finite_differences(d, beta, normalized):
    rng = np.random.default_rng(d)
    model = mf.Attention(beta, normalized=normalized)
    sources, masses = np.sort(rng.uniform(0, np.pi, 25)), rng.random(25)
    theta = np.concatenate([[0.0], rng.uniform(0.05, np.pi - 0.05, 6), [np.pi]])
    u, du = ZonalFlow(model, d)(theta, sources, masses, jacobian=theta.size)
    ref = zonal_velocity(model, d, theta, sources, masses)
    # the reference sums log_ive terms of size ~3000 at d = 1024 (absolute error ~1e-12)
    np.testing.assert_allclose(u, ref, rtol=0, atol=1e-11 * np.abs(ref).max())

    def fd(h):  # one-sided at the poles, central inside
        lo, hi = np.clip(theta - h, 0, np.pi), np.clip(theta + h, 0, np.pi)
        f = [zonal_velocity(model, d, t, sources, masses) for t in (lo, hi)]
        return (f[1] - f[0]) / (hi - lo)

    h = 1e-3 / max(1.0, np.sqrt(beta))
    inside = slice(1, -1)  # Richardson: central differences to O(h^4)
    rich = (4 * fd(h / 2) - fd(h)) / 3
    scale = np.abs(rich[inside]).max()
    assert np.abs(du[inside] - rich[inside]).max() < 1e-7 * scale
    # at the poles u = -v sin(theta) A and du = -v cos(theta) A (v = 1): float sin(pi) = 1.2e-16
    assert u[0] == 0.0 and abs(u[-1]) <= 1.3e-16 * abs(du[-1])
    assert np.all(np.isfinite(du))


@pytest.mark.parametrize("d", [2, 8, 1024])
def test_bessel_table_is_the_closed_form_to_round_off(d):
    a = np.concatenate([[0.0, 1e-9], np.random.default_rng(0).uniform(0, 900, 4000)])
    exact = bessel_tables(d, a)
    # ZonalFlow tabulates for |b| <= 1024; compare the tabulated field with the exact one
    # through the same call at beta = 900 on random angles
    flow = ZonalFlow(mf.Attention(900.0), d)
    th = np.random.default_rng(1).uniform(0, np.pi, 40)
    u, du = flow(th, th, np.ones(40), jacobian=40)
    ref = zonal_velocity(mf.Attention(900.0), d, th, th, np.ones(40))
    np.testing.assert_allclose(u, ref, rtol=0, atol=1e-11 * np.abs(ref).max())
    got = chebyshev_tables(d, a, True)
    # relative to the scale of each function (R' enters beside R ~ 1/(d-1) in d(theta) B); at
    # d = 1024 the log_ive values beyond the series range are themselves good to ~1e-12
    # (against mpmath at 40 digits: R to 3e-13, R' to 3e-10 of its own size)
    for e, g, scale in zip(exact, got, (1.0, 1.0 / (d - 1), 1.0 / (d - 1)), strict=True):
        assert np.abs(e - g).max() <= 1e-11 * max(np.abs(e).max(), scale)


def start(d, cells, degree=1):
    space = mf.DG(mf.SphereMesh.zonal(d, cells), degree)
    return space, space.interpolate(ZonalCaps(d, float(d), 0.7))


@pytest.mark.parametrize("d", [2, 3, 8, 1024])
def test_a_lagrangian_zonal_run_keeps_mass_and_offers_every_read_out(d):
    space, rho0 = start(d, 24)
    sol = mf.solve_density(mf.Attention(4.0), rho0, [0.0, 1.0, 2.0], scheme="lagrangian",
                           tol=1e-5)  # fmt: skip
    assert all(isinstance(r, ZonalFlowMapDensity) for r in sol.densities)
    assert np.abs(sol.mass - sol.mass[0]).max() <= 4e-16 * sol.mass[0]
    rho = sol[-1]
    x, m = rho.quadrature_measure()
    assert x.shape == (m.size, d) and np.allclose(np.linalg.norm(x, axis=1), 1.0)
    q = rho.quadrature_values()
    assert np.all(np.isfinite(q)) and q.min() >= 0.0
    # the cap moves toward the poles: the mean polar angle of the northern mass falls
    assert rho.integrate(polar) != pytest.approx(rho0.integrate(polar), abs=1e-3)
    means = rho.cell_means()
    assert np.all(means >= 0) and abs(means @ rho.cell_areas() - sol.mass[0]) < 1e-13
    values = rho.evaluate(meridian(np.linspace(0.05, np.pi - 0.05, 9), d))
    assert np.all(values >= 0) and not np.any(np.isnan(values))
    tokens = rho.sample(3000, np.random.default_rng(0))
    assert tokens.shape == (3000, d) and np.allclose(np.linalg.norm(tokens, axis=1), 1.0)
    assert np.abs(tokens[:, :-1].mean(axis=0)).max() < 0.1  # u uniform on S^{d-2}
    assert mf.wasserstein(tokens, rho) < 0.05  # exact 1-D W1 of s against the density's law
    dep = rho.project(space)
    assert abs(dep.integrate() - sol.mass[0]) < 1e-14 and dep.min_value() >= 0
    first, second = mf.diagnostics.first_moment(rho), mf.diagnostics.second_moment(rho)
    assert first.shape == (d,) and abs(np.trace(second) - sol.mass[0]) < 1e-13
    assert np.isfinite(mf.diagnostics.log_energy(rho, 4.0))
    found = zonal_clusters(rho)
    assert found.count == zonal_clusters(dep).count


def test_at_time_zero_the_flow_map_density_is_its_initial_density():
    space, rho0 = start(8, 20, degree=2)
    lag = mf.solve_density(mf.Attention(1.0), rho0, [0.0, 0.5], scheme="lagrangian")[0]
    th = np.linspace(0.01, np.pi - 0.01, 31)
    x = meridian(th, 8)
    np.testing.assert_allclose(lag.evaluate(x), rho0.evaluate(x), rtol=1e-12)
    np.testing.assert_allclose(lag.polar_cdf(th), polar_cdf(rho0, th), rtol=0, atol=1e-15)
    np.testing.assert_allclose(lag.sample(50, 3), rho0.sample(50, 3), rtol=0, atol=1e-15)
    assert mf.wasserstein(lag, rho0) < 1e-14
    # the deposit of the identity map is the initial DG function, except in the two pole
    # cells, where the polynomial dips below 0 between the scheme's points and is clipped
    dep = lag.project(space, limit=False)
    np.testing.assert_allclose(dep.coefficients[1:-1], lag.state.coefficients[1:-1], rtol=0,
                               atol=1e-13)  # fmt: skip
    assert abs(dep.integrate() - lag.mass) < 1e-15
    assert mf.diagnostics.log_energy(lag, 1.0) == pytest.approx(
        mf.diagnostics.log_energy(rho0, 1.0), abs=1e-14
    )


def test_a_prescribed_zonal_flow_moves_the_angles_exactly():
    # dtheta/dt = -sin(theta): theta(t) = 2 atan(tan(theta_0 / 2) e^{-t}), J = d theta/d theta_0
    d = 5

    def north(t, x):
        th = polar(x)
        tangent = np.zeros_like(x)
        tangent[:, 0], tangent[:, -1] = np.cos(th), -np.sin(th)
        return -np.sin(th)[:, None] * tangent

    space = mf.DG(mf.SphereMesh.zonal(d, 16), 1)
    rho0 = space.interpolate(lambda x: np.ones(len(x)))
    sol = mf.solve_density(north, rho0, [0.0, 1.0], scheme="lagrangian", method="dop853")
    st0, st1 = sol[0].state, sol[1].state
    exact = 2 * np.arctan(np.tan(st0.points / 2) * np.exp(-1.0))
    np.testing.assert_allclose(st1.points, exact, rtol=0, atol=1e-10)
    # log J from the moved P2 cells against d theta / d theta_0 = sin(theta) / sin(theta_0)
    logj = np.log(np.sin(exact) / np.sin(st0.points))
    assert np.abs(st1.log_jacobian - logj).max() < 2e-3
    assert abs(sol.mass[1] - sol.mass[0]) < 1e-15


def test_zonal_lagrangian_refusals_name_the_option():
    _, rho0 = start(4, 10)
    model = mf.Attention(1.0)
    with pytest.raises(ValueError, match="split is not available on a zonal mesh"):
        mf.solve_density(model, rho0, [0, 1], scheme="lagrangian", split=0.5)
    with pytest.raises(ValueError, match="field"):
        mf.solve_density(model, rho0, [0, 1], scheme="lagrangian", field="spectral")
    with pytest.raises(ValueError, match="moments"):
        mf.solve_density(model, rho0, [0, 1], scheme="lagrangian", moments="ducc")
    with pytest.raises(ValueError, match="multiple of the identity"):
        mf.solve_density(mf.Attention(1.0, Q=np.diag([1.0, 2, 1, 1])), rho0, [0, 1],
                         scheme="lagrangian")  # fmt: skip
    lag = mf.solve_density(model, rho0, [0, 0.1], scheme="lagrangian")[1]
    with pytest.raises(ValueError, match="R\\^4"):
        lag.project(mf.DG(mf.SphereMesh.circle(8), 1))
    _, rho3 = start(3, 6)
    lag3 = mf.solve_density(model, rho3, [0, 0.1], scheme="lagrangian")[1]
    with pytest.raises(ValueError, match="zonal mesh of S\\^2 \\(a zonal flow map's atoms"):
        lag3.project(mf.DG(mf.SphereMesh.icosphere(0), 1))  # its atoms are rings, not points
    with pytest.raises(ValueError, match="space"):
        lag.project("grid")
    assert isinstance(lag, FlowMapDensity)


@pytest.mark.parametrize(
    ("d", "beta", "ell", "normalized"),
    [(3, 4.0, 2, True), (8, 9.0, 4, False), (128, 1.0, 1, True), (1024, 9.0, 3, False)],
)
def test_gegenbauer_growth_from_the_lagrangian_density(d, beta, ell, normalized):
    row = measure_zonal_growth(d, beta, ell, normalized, cells=16, scheme="lagrangian")
    assert row["resolvable"] and abs(row["rel_error"]) < 1e-2


def test_collapse_of_a_cap_to_the_pole_at_beta_9_in_d_1024():
    d = 1024
    theta = np.unique(np.concatenate([np.linspace(0, 0.6, 7), np.linspace(0.6, 1.6, 21),
                                      np.linspace(1.6, np.pi, 5)]))  # fmt: skip
    rho0 = mf.DG(mf.SphereMesh.zonal(d, theta), 1).interpolate(ZonalCaps(d, float(d), 1.0))
    assert rho0.integrate(polar) > 0.85
    sol = mf.solve_density(mf.Attention(9.0), rho0, [0.0, 3.0, 6.0], scheme="lagrangian",
                           tol=1e-4)  # fmt: skip
    np.testing.assert_array_equal(sol.mass, sol.mass[0])  # the masses are carried, not summed anew
    angles = [r.integrate(polar) for r in sol.densities]
    assert angles[1] < 0.1 and angles[2] < 0.01
    for r in sol.densities:
        q = r.quadrature_values()
        assert np.all(np.isfinite(q)) and q.min() >= 0 and np.all(np.isfinite(r.state.points))
    # the measure is exact; the sphere density of the collapsed cap exceeds float64 (inf)
    values = sol[-1].evaluate(meridian(np.array([1e-3, 0.5]), d))
    assert not np.any(np.isnan(values)) and values[0] == np.inf and values[1] >= 0
    assert zonal_clusters(sol[-1]).kinds == ("pole",)


def test_lagrangian_and_eulerian_zonal_densities_agree_better_on_finer_meshes():
    rows = zonal_schemes(3, cells=(8, 32), times=(1.0,))
    coarse, fine = rows
    assert fine["w1"] < 0.3 * coarse["w1"] and fine["l1_cell_means"] < 0.3 * coarse["l1_cell_means"]
    assert max(r["mass_error"] for r in rows) < 1e-14


def test_zonal_lagrangian_agrees_with_the_s2_lagrangian_solver():
    rows = zonal_vs_mesh(3, zonal_cells=(32,), meshes=(1, 2), times=(0.5,), scheme="lagrangian",
                         mesh_scheme="lagrangian")  # fmt: skip
    assert rows[1]["distance"] < 0.5 * rows[0]["distance"]


ZONAL_RUN = """
name = "lagzonal"
[model]
beta = 4.0
[mesh]
kind = "zonal"
d = 8
cells = 24
[initial]
kind = "vmf"
centres = [[0, 0, 0, 0, 0, 0, 0, 1], [0, 0, 0, 0, 0, 0, 0, -1]]
kappa = 8.0
[solver]
scheme = "lagrangian"
[particles]
n = 1600
dt = 0.05
[times]
t_end = 1.0
frames = 2
[output]
render = [1.0]
gif = false
figures = false
"""


def test_meanfield_run_with_the_lagrangian_scheme_on_a_zonal_mesh(tmp_path, monkeypatch, capsys):
    import json

    from meanfield.app.cli import main

    monkeypatch.chdir(tmp_path)
    (tmp_path / "lagzonal.toml").write_text(ZONAL_RUN)
    assert main(["run", "lagzonal.toml", "--quiet"]) == 0
    summary = json.loads((tmp_path / "runs" / "lagzonal" / "summary.json").read_text())
    assert summary["mesh"]["kind"] == "zonal"
    assert abs(summary["final"]["mass"] - 1.0) < 1e-12
    # two caps of equal mass drift to the poles: two clusters; W1 to 1600 tokens 0.0195 (the
    # Eulerian scheme on the same run: 0.0196)
    assert summary["final"]["clusters"] == 2 and summary["final"]["distance_w1"] < 0.04


def test_the_moved_zonal_cells_as_vtk_pieces(tmp_path):
    from meanfield.app.io import write_density_series
    from meanfield.lagrangian.pieces import VTK_QUADRATIC_EDGE, flow_map_pieces

    space, rho0 = start(8, 6)
    sol = mf.solve_density(mf.Attention(4.0), rho0, [0.0, 1.0], scheme="lagrangian", tol=1e-4)
    pts, cells, kind, values, data = flow_map_pieces(sol[1])
    assert kind == VTK_QUADRATIC_EDGE and cells.shape == (6, 3) and pts.shape == (18, 3)
    theta = sol[1].state.nodes[sol[1].state.node_index]  # basix order = VTK order on an edge
    np.testing.assert_allclose(np.arctan2(pts[:, 0], pts[:, 1]), theta.ravel(), atol=1e-15)
    # node values are the (unlimited) P2 polynomial of g over the stretch; cell means are >= 0
    assert np.all(np.isfinite(values)) and np.all(data["cell_mean"] >= 0)
    assert data["mass"].sum() == pytest.approx(sol.mass[0], abs=1e-15)
    write_density_series(tmp_path, sol.t, sol.densities)
    assert (tmp_path / "density.pvd").is_file()


def test_round_off_below_zero_in_rho0_counts_as_zero_and_a_negative_value_is_refused():
    from meanfield.lagrangian import ZonalFlowMap

    space = mf.DG(mf.SphereMesh.zonal(4, 4), 0)
    state = ZonalFlowMap.from_density(space.density([1.0, 1.0, -1e-130, 1.0]))
    assert state.masses.min() == 0.0 and state.rho0_values.min() == 0.0
    with pytest.raises(ValueError, match="non-negative at its quadrature points"):
        ZonalFlowMap.from_density(space.density([1.0, 1.0, -1e-3, 1.0]))


@pytest.mark.parametrize(("beta", "normalized"), [(1000.0, True), (600.0, False)])
def test_beta_up_to_1000_in_d_1024_stays_finite(beta, normalized):
    _, rho0 = start(1024, 24)
    model = mf.Attention(beta, normalized=normalized)
    sol = mf.solve_density(model, rho0, [0.0, 0.01, 0.02], scheme="lagrangian", dt=1e-3)
    np.testing.assert_array_equal(sol.mass, sol.mass[0])
    for r in sol.densities:
        q, st = r.quadrature_values(), r.state
        assert not np.any(np.isnan(q)) and q.min() >= 0
        assert (
            np.all(np.isfinite(st.log_jacobian))
            and 0 <= st.points.min() <= st.points.max() <= np.pi
        )
    if normalized:  # SA: speeds of order one, nothing collapses in 0.02
        assert np.all(np.isfinite(sol[-1].quadrature_values()))


def test_the_0f1_series_against_closed_forms_and_its_contiguous_relation():
    from meanfield.field.zonal import hyp0f1_series

    z = np.array([0.0, 1e-6, 0.3, 20.25, 625.0])
    r = 2 * np.sqrt(z)
    np.testing.assert_allclose(hyp0f1_series(0.5, z), np.cosh(r), rtol=2e-15)
    np.testing.assert_allclose(hyp0f1_series(1.5, z[1:]), np.sinh(r[1:]) / r[1:], rtol=2e-15)
    # F(b - 1) - F(b) = z F(b + 1) / (b (b - 1)), at the order of d = 1024 (SciPy's hyp0f1 is
    # good to ~1e-12 there)
    b = 512.5
    lhs = hyp0f1_series(b - 1, z) - hyp0f1_series(b, z)
    rhs = z * hyp0f1_series(b + 1, z) / (b * (b - 1))
    # the left side cancels: to a few ulps of F(b)
    assert np.all(np.abs(lhs - rhs) <= 4 * np.finfo(float).eps * hyp0f1_series(b, z))
