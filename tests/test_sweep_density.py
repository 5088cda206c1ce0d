"""The density and both sweep tasks on a loopback Dask cluster: every row checked."""

import numpy as np
import pytest

import meanfield as mf
from meanfield import initial
from meanfield.app.sweep import TASKS, load_spec, read_results, time_series
from meanfield.diagnostics import density_clusters, energy

distributed = pytest.importorskip("distributed", reason="dask.distributed is a test dependency")


@pytest.fixture(scope="module")
def client():
    from meanfield.app.sweep import local_cluster

    with local_cluster(n_workers=2, processes=False) as cluster, distributed.Client(cluster) as c:
        yield c


def _independent_density_run(beta, cells, degree, t):
    """The PDE run the density task should make, written out with the public API."""
    rho0 = mf.DG(mf.SphereMesh.circle(cells), degree).interpolate(
        initial.WhiteNoise(d=2, amplitude=0.05, ell_max=8, seed=0)
    )
    return mf.solve_density(mf.Attention(beta), rho0, t, dt_max=0.05)


DENSITY_SPEC = {
    "task": "density",
    "base": {
        "mesh": {"kind": "circle", "cells": 32},  # a sub-table gives the dotted names
        "initial.amplitude": 0.05,
        "initial.ell_max": 8,
        "t": [0.0, 4.0, 14.0],
    },
    "grid": {"model.beta": [1.0, 9.0], "solver.degree": [1, 2]},
}


def test_density_sweep_rows(client, tmp_path):
    summary = mf.sweep(DENSITY_SPEC, tmp_path, scheduler=client, progress=False)
    assert (summary.total, summary.computed, summary.failed) == (4, 4, 0)
    rows = read_results(tmp_path)
    pairs = {(r["model.beta"], r["solver.degree"]) for r in rows}
    assert pairs == {(1.0, 1), (1.0, 2), (9.0, 1), (9.0, 2)}
    for r in rows:
        assert r["status"] == "ok" and r["error"] is None, r
        # invariants of the scheme
        assert 0 <= r["mass_drift"] <= 1e-12
        assert r["min_density"] >= 0
        assert r["steps"] > 0 and r["rejected"] >= 0
        assert 0 < r["solve_cpu_s"] <= r["cpu_s"]
        # the row reports this very run: energies and clusters recomputed independently
        beta = r["model.beta"]
        sol = _independent_density_run(beta, 32, r["solver.degree"], [0.0, 4.0, 14.0])
        want_e = [energy(rho, beta) for rho in sol.densities]
        t, got_e = time_series(r, "energy")
        np.testing.assert_array_equal(t, [0.0, 4.0, 14.0])
        np.testing.assert_allclose(got_e, want_e, rtol=1e-12)
        assert r["energy_final"] == pytest.approx(want_e[-1], rel=1e-12)
        assert r["steps"] == sol.stats.steps
        counts = time_series(r, "clusters")[1]
        assert list(counts) == [density_clusters(rho).count for rho in sol.densities]
        # SA energy is non-decreasing (tolerance: 1e-9 relative, round-off of the sums)
        assert r["energy_max_decrease"] <= 1e-9
    by_beta = {(r["model.beta"], r["solver.degree"]): r for r in rows}
    for p in (1, 2):
        # beta = 1: the fastest mode is l = 1, a single bump, grown from a 5% perturbation
        assert time_series(by_beta[1.0, p], "clusters")[1][0] == 0
        # beta = 9: the l = 4 instability (fastest mode) makes four clusters by t = 14
        hot = by_beta[9.0, p]
        assert list(time_series(hot, "clusters")[1]) == [0, 0, 4]
        # most of the mass is in them (p = 2: 100% by t = 14; p = 1 on 32 cells keeps about
        # 20% stranded between clusters, below the cluster level)
        assert hot["cluster_mass_final"] > 0.5
        assert hot["energy_final"] > 1.5 * time_series(hot, "energy")[1][0]


def test_both_rows_and_particle_pde_distance(client, tmp_path):
    # a smooth bump at beta = 1: tokens and PDE follow the same law, so W1 stays at the
    # sampling scale n^{-1/2}; one extra axis point uses a bad degree and must fail alone
    spec = {
        "task": "both",
        "base": {
            "model.beta": 1.0,
            "mesh.kind": "circle",
            "mesh.cells": 32,
            "solver.degree": 1,
            "initial.kind": "vmf",
            "initial.centres": [[0.0, 1.0]],
            "initial.kappa": 2.0,
            "t": [0.0, 2.0],
            "starts": 2,
            "dt_scale": 2.0,
        },
        "grid": {"particles.n": [100, 1600]},
    }
    summary = mf.sweep(spec, tmp_path, scheduler=client, progress=False)
    assert (summary.computed, summary.failed) == (2, 0)
    rows = {r["particles.n"]: r for r in read_results(tmp_path)}
    for n, r in rows.items():
        assert r["status"] == "ok", r
        assert 0 <= r["density.mass_drift"] <= 1e-12 and r["density.min_density"] >= 0
        assert r["particles.steps"] == 20  # dt = 2 * auto_dt(beta = 1) = 0.1 over t = 2
        t, w1 = time_series(r, "w1")
        np.testing.assert_array_equal(t, [0.0, 2.0])
        assert w1[-1] == r["w1_final"]
        # E W1(empirical, law) on S^1 is about 0.5 n^{-1/2} here; 4 sigma-ish bounds
        assert np.all(w1 < 3.0 / np.sqrt(n)), (n, w1)
        assert np.all(w1 > 0.05 / np.sqrt(n)), (n, w1)
        # tokens concentrate like the density: energies agree to the sampling scale
        pe = time_series(r, "particles.energy")[1]
        de = time_series(r, "density.energy")[1]
        np.testing.assert_allclose(pe, de, rtol=5.0 / np.sqrt(n))
        assert de[-1] > de[0]
    # 16x the tokens: the distance falls (n^{-1/2} would be 4x)
    assert rows[1600]["w1_final"] < 0.5 * rows[100]["w1_final"]


def test_both_on_s2_and_a_failing_point(client, tmp_path):
    spec = {
        "task": "both",
        "base": {
            "model.beta": 4.0,
            "mesh.level": 1,
            "t": [0.0, 1.0],
            "particles.n": 200,
            "dt_scale": 2.0,
        },
        # a mesh file without a path fails when its point runs, with the run's message
        "grid": {"mesh.kind": ["icosphere", "file"]},
    }
    summary = mf.sweep(spec, tmp_path, scheduler=client, progress=False)
    assert (summary.computed, summary.failed) == (2, 1)
    rows = {r["mesh.kind"]: r for r in read_results(tmp_path)}
    assert rows["file"]["status"] == "failed" and "'mesh.path' must name" in rows["file"]["error"]
    ok = rows["icosphere"]
    assert ok["status"] == "ok"
    assert ok["density.mass_drift"] <= 1e-12 and ok["density.min_density"] >= 0
    # on S^2, E W1(empirical, law) ~ sqrt(log n / n) (= 0.16 at n = 200), far below the
    # distance between unrelated measures (order 1)
    assert 0 < ok["w1_final"] < 3.0 * np.sqrt(np.log(200) / 200)


def test_density_parameters_are_the_run_settings():
    from meanfield.app.config import SCHEMA

    assert {"density", "both", "particles"} <= set(TASKS)
    with pytest.raises(ValueError, match=r"'base.initial.kind' must be one of \['uniform'"):
        load_spec({"task": "density", "base": {"initial.kind": "gauss"}})
    with pytest.raises(ValueError, match=r"'grid.mesh.level\[1\]' must be <= 8"):
        load_spec({"task": "density", "grid": {"mesh.level": [1, 9]}})
    # one schema: every run setting of these sections is a parameter, with the run's default
    base = load_spec({"task": "both"}).base
    for section in ("model", "mesh", "initial", "solver"):
        for key, spec in SCHEMA[section].items():
            assert base[f"{section}.{key}"] == spec.default, (section, key)
    assert (base["mesh.level"], base["initial.amplitude"], base["initial.seed"]) == (3, 0.5, 0)
    # cross-key checks of the run apply to each point when it runs
    point = load_spec({"task": "density", "base": {"mesh.kind": "circle", "model.Q": "identity",
                       "initial.kind": "vmf"}}).points()[0]  # fmt: skip
    with pytest.raises(ValueError, match="initial.centres"):
        TASKS["density"].run(point, None)


def test_density_task_runs_the_lagrangian_scheme(tmp_path):
    base = {"model.beta": 9.0, "mesh.kind": "circle", "mesh.cells": 32, "initial.amplitude": 0.05,
            "initial.ell_max": 8, "t": [0.0, 4.0, 14.0], "solver.scheme": "lagrangian",
            "save": True}  # fmt: skip
    spec = load_spec({"task": "density", "base": base})
    row = TASKS["density"].run(spec.points()[0], tmp_path / "art")
    assert row["mass_drift"] == 0.0 and row["min_density"] >= 0.0
    rho0 = mf.DG(mf.SphereMesh.circle(32), 1).interpolate(
        initial.WhiteNoise(d=2, amplitude=0.05, ell_max=8, seed=0)
    )
    sol = mf.solve_density(mf.Attention(9.0), rho0, [0.0, 4.0, 14.0], scheme="lagrangian",
                           dt_max=0.05)  # fmt: skip
    want = [energy(rho, 9.0) for rho in sol.densities]
    np.testing.assert_allclose(time_series(row, "energy")[1], want, rtol=1e-12)
    assert row["clusters_final"] == density_clusters(sol.densities[-1]).count == 4
    saved = np.load(row["artifact"])
    assert saved["points"].shape == (3, 64, 2) and saved["masses"].sum() == pytest.approx(
        sol.mass[0], rel=1e-15
    )
