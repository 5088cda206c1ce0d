"""Sweeps on a loopback Dask cluster: every row checked, resumable, failures per point, specs."""

import json
import math

import numpy as np
import pytest

import meanfield as mf
from meanfield.app.sweep import (
    TABLE_NAME,
    TASKS,
    Param,
    ResultTable,
    load_spec,
    local_cluster,
    read_results,
    register_task,
    time_series,
)
from meanfield.diagnostics import find_clusters
from meanfield.solve import auto_dt

distributed = pytest.importorskip("distributed", reason="dask.distributed is a test dependency")


@pytest.fixture(scope="module")
def client():
    # thread workers (processes=False) start in about a second
    with local_cluster(n_workers=2, processes=False) as cluster, distributed.Client(cluster) as c:
        yield c


def test_local_cluster_listens_on_loopback_only(client):
    info = client.scheduler_info()
    addresses = [client.scheduler.address, *info["workers"]]
    assert len(addresses) == 3
    assert all(a.startswith("tcp://127.0.0.1:") for a in addresses), addresses
    assert client.dashboard_link.startswith("http://127.0.0.1:")


# A task counting its calls: runs in this process because the workers are threads.
CALLS = []


@register_task(
    "square_test",
    parameters={"x": Param("int"), "fail_at": Param("int", -1)},
    replace=True,
)
def square_task(params, artifacts):
    CALLS.append(params["x"])
    if params["x"] == params["fail_at"]:
        raise RuntimeError(f"deliberate failure at\nx = {params['x']}")
    return {"y": params["x"] ** 2}


def _uniform_starts(starts, n, d, seed):
    # sample_sphere's law written out: normalised standard normals, one stream for all starts
    g = np.random.default_rng(seed).standard_normal((starts * n, d))
    return (g / np.linalg.norm(g, axis=1, keepdims=True)).reshape(starts, n, d)


def _expected(beta, d, n, starts, seed, t, dt_scale):
    model = mf.Attention(beta)
    x = mf.solve_particles(
        model, _uniform_starts(starts, n, d, seed), t, dt=auto_dt(model, d) * dt_scale
    ).x
    gram = np.einsum("tbid,tbjd->tbij", x, x)
    iu = np.triu_indices(n, 1)
    frac = (gram[..., iu[0], iu[1]] > 0.999).mean(axis=(1, 2))
    if beta == 0:
        energy = 0.5 * (x.mean(axis=2) ** 2).sum(-1).mean(1)
    else:
        energy = np.exp(beta * gram).mean(axis=(2, 3)).mean(1) / (2 * beta)
    # the count's definition is find_clusters (tested in test_diagnostics); this checks that
    # the sweep reports its mean over starts at each time
    clusters = np.array([[find_clusters(xb, radius=0.05).count for xb in xt] for xt in x]).mean(1)
    return frac, clusters, energy


SPEC = {
    "task": "particles",
    "base": {
        "particles.n": 6,
        "starts": 3,
        "particles.seed": 7,
        "t": {"stop": 9.0, "num": 4},
        "dt_scale": 4.0,
        "output.cluster_radius": 0.05,
    },
    "grid": {"model.beta": [0.0, 2.0], "d": [2, 3]},
}


def test_particle_sweep_rows_match_an_independent_run(client, tmp_path):
    summary = mf.sweep(SPEC, tmp_path, scheduler=client, progress=False)
    assert (summary.total, summary.computed, summary.skipped, summary.failed) == (4, 4, 0, 0)
    rows = read_results(tmp_path)
    assert len(rows) == 4
    assert {(r["model.beta"], r["d"]) for r in rows} == {(0.0, 2), (0.0, 3), (2.0, 2), (2.0, 3)}
    assert len({r["key"] for r in rows}) == 4
    t = [0.0, 3.0, 6.0, 9.0]
    for r in rows:
        assert r["status"] == "ok" and r["error"] is None
        assert (r["particles.n"], r["starts"], r["particles.seed"], r["t"]) == (6, 3, 7, t)
        frac, clusters, energy = _expected(r["model.beta"], r["d"], 6, 3, 7, t, 4.0)
        for name, want in [("fraction_above", frac), ("clusters", clusters), ("energy", energy)]:
            times, got = time_series(r, name)
            np.testing.assert_array_equal(times, t)
            np.testing.assert_allclose(got, want, rtol=1e-12, atol=0, err_msg=f"{name} {r}")
    # the values are not trivial: tokens started apart and merged by t = 9 in some runs
    fractions = np.array([time_series(r, "fraction_above")[1] for r in rows])
    assert fractions[:, 0].max() < 0.1 and fractions[:, -1].max() > 0.5


def test_rerun_recomputes_nothing(client, tmp_path):
    spec = {"task": "square_test", "grid": {"x": [0, 1, 2, 3]}}
    CALLS.clear()
    first = mf.sweep(spec, tmp_path, scheduler=client, progress=False)
    table = tmp_path / TABLE_NAME
    before = table.read_bytes()
    assert sorted(CALLS) == [0, 1, 2, 3] and first.computed == 4
    CALLS.clear()
    again = mf.sweep(spec, tmp_path, scheduler=client, progress=False)
    assert CALLS == [] and (again.computed, again.skipped) == (0, 4)
    assert table.read_bytes() == before
    # a larger grid runs only the new points, and keeps one row per point
    bigger = mf.sweep({**spec, "grid": {"x": [0, 1, 2, 3, 4, 5]}}, tmp_path, client, False)
    assert sorted(CALLS) == [4, 5] and bigger.skipped == 4
    assert sorted(r["y"] for r in read_results(tmp_path)) == [0, 1, 4, 9, 16, 25]


def test_failing_point_is_recorded_and_the_rest_completes(client, tmp_path, capsys):
    spec = {"task": "square_test", "base": {"fail_at": 2}, "grid": {"x": [0, 1, 2, 3]}}
    summary = mf.sweep(spec, tmp_path, scheduler=client, progress=True)
    assert "4/4" in capsys.readouterr().err  # the progress bar reached done/total
    assert (summary.computed, summary.failed) == (4, 1)
    rows = {r["x"]: r for r in read_results(tmp_path)}
    assert rows[2]["status"] == "failed"
    assert rows[2]["error"] == "RuntimeError: deliberate failure at x = 2"  # one line
    assert rows[2]["y"] is None
    assert {x: (r["status"], r["y"]) for x, r in rows.items() if x != 2} == {
        0: ("ok", 0),
        1: ("ok", 1),
        3: ("ok", 9),
    }
    # a rerun retries only the failed point (still failing) and keeps one row per point
    CALLS.clear()
    again = mf.sweep(spec, tmp_path, scheduler=client, progress=False)
    assert CALLS == [2] and again.failed == 1 and len(read_results(tmp_path)) == 4


def test_particle_point_with_bad_value_fails_alone(tmp_path):
    # scheduler=None: the sweep starts (and stops) its own loopback LocalCluster
    spec = {
        "task": "particles",
        "base": {
            "particles.n": 4,
            "starts": 2,
            "d": 3,
            "t": [0.0, 0.5],
            "metrics": ["fraction_above"],
        },
        # dt_scale 0 is refused when the point runs (its check is the task's, not the spec's)
        "grid": {"dt_scale": [1.0, 0.0]},
    }
    summary = mf.sweep(spec, tmp_path, progress=False, n_workers=1, processes=False)
    assert summary.failed == 1
    rows = {r["dt_scale"]: r for r in read_results(tmp_path)}
    assert rows[0.0]["status"] == "failed" and "dt_scale must be > 0" in rows[0.0]["error"]
    assert rows[1.0]["status"] == "ok" and rows[1.0]["fraction_above@t=0.5"] == 0.0


def test_sweep_tasks_take_model_diffusion(tmp_path):
    """The particles task with diffusion = D matches a direct noisy solve (seed -> rng)."""
    spec = {"model.beta": 1.0, "particles.n": 6, "starts": 2, "d": 3, "t": [0.0, 0.3],
            "metrics": ["energy"], "particles.seed": 5}  # fmt: skip
    row = mf.sweep(
        {"task": "particles", "base": spec, "grid": {"model.diffusion": [0.0, 0.4]}},
        tmp_path, progress=False, n_workers=1, processes=False,
    )  # fmt: skip
    assert row.failed == 0
    rows = {r["model.diffusion"]: r for r in read_results(tmp_path)}
    model = mf.Attention(1.0)
    x0 = mf.sample_sphere(12, 3, 5).reshape(2, 6, 3)
    traj = mf.solve_particles(model, x0, [0.0, 0.3], dt=auto_dt(model, 3), diffusion=0.4,
                              rng=np.random.default_rng([5, 1]))  # fmt: skip
    e = np.mean([mf.diagnostics.energy(x, 1.0) for x in traj.x[-1]])
    assert rows[0.4]["energy@t=0.3"] == pytest.approx(e, rel=1e-12)
    assert rows[0.0]["energy@t=0.3"] != pytest.approx(e, rel=1e-6)


def test_artifact_is_saved_relative_to_out(client, tmp_path):
    spec = {
        "task": "particles",
        "base": {
            "model.beta": 1.0,
            "particles.n": 5,
            "starts": 2,
            "d": 3,
            "t": [0.0, 1.0],
            "save": True,
        },
    }
    mf.sweep(spec, tmp_path, scheduler=client, progress=False)
    (row,) = read_results(tmp_path)
    with np.load(tmp_path / row["artifact"]) as z:
        assert z["x"].shape == (2, 2, 5, 3)
        np.testing.assert_array_equal(z["x"][0], _uniform_starts(2, 5, 3, 0))
    assert json.loads((tmp_path / "spec.json").read_text())["task"] == "particles"


def test_torn_last_line_is_cut_on_reopen(tmp_path):
    path = tmp_path / "t.csv"
    table = ResultTable(path)
    table.append({"key": "a", "status": "ok", "v": 1.5})
    table.append({"key": "b", "status": "ok", "v": 2.5, "w": "x,y"})  # new column: rewrite
    with path.open("ab") as fh:
        fh.write(b"c,ok,3.")  # a crash in the middle of a row
    reopened = ResultTable(path)
    assert [r["key"] for r in reopened.rows] == ["a", "b"]
    assert reopened.rows[1]["w"] == "x,y" and reopened.rows[0]["w"] == ""
    assert path.read_bytes().endswith(b"\n")


P = "particles"


@pytest.mark.parametrize(
    "spec, match",
    [
        ({"task": P, "base": {"model.beta": 1.0}, "grids": {}}, r"unknown key 'grids'.*'grid'"),
        ({"task": "nope"}, r"task must be one of \[.*'particles'"),
        ({"base": {"model.beta": 1.0}}, r"missing key 'task'"),
        ({"task": P, "base": {"temp": 2}}, r"unknown key 'temp'.*'model.beta'"),
        ({"task": P, "base": {"beta": 2}}, r"unknown key 'beta'.*'model.beta'"),
        ({"task": P, "grid": {"model.beta": [1.0], "N": [3]}}, r"grid: unknown key 'N'.*'d'"),
        ({"task": P, "grid": {"model.beta": []}}, r"grid.model.beta must be a non-empty list"),
        ({"task": P, "grid": {"model.beta": 1.0}}, r"grid.model.beta must be a non-empty list"),
        ({"task": P, "base": {"model.beta": "hot"}}, r"'base.model.beta' must be a number"),
        ({"task": P, "base": {"model.beta": -1.0}}, r"'base.model.beta' must be >= 0"),
        ({"task": P, "base": {"model.beta": float("nan")}}, r"'base.model.beta' must be a finite"),
        ({"task": P, "base": {"particles.n": 3.5}}, r"'base.particles.n' must be an integer"),
        ({"task": P, "base": {"model.normalized": 1}}, r"'base.model.normalized' must be"),
        ({"task": P, "grid": {"model.beta": [1.0, 1]}}, r"grid.model.beta must not repeat"),
        ({"task": P, "base": {"model.beta": 1.0}, "grid": {"model.beta": [2.0]}}, r"both"),
        ({"task": "square_test"}, r"missing required parameter 'x'"),
        ({"task": P, "base": {"metrics": ["mass"]}}, r"metrics\[0\]"),
        ({"task": P, "base": {"t": {"stop": 1.0}}}, r"base.t needs 'stop'"),
        ({"task": P, "base": {"t": [0.0, 1.0, 1.0]}}, r"strictly incr"),
        ({"task": P, "base": []}, r"base must be a table"),
    ],
)
def test_bad_spec_names_the_key(spec, match):
    with pytest.raises(ValueError, match=match):
        load_spec(spec)


def test_spec_from_toml_and_its_points(tmp_path):
    path = tmp_path / "SWEEP.toml"
    path.write_text(
        'task = "particles"\nout = "res"\n[base]\nparticles.n = 8\nt = {stop = 2.0, num = 3}\n'
        '[grid]\n"model.beta" = [1, 2.5]\nd = [2, 3, 4]\n'
    )
    spec = load_spec(path)
    assert spec.out == tmp_path / "res" and spec.size == 6
    points = spec.points()
    pairs = [(p["model.beta"], p["d"]) for p in points[:4]]
    assert pairs == [(1.0, 2), (1.0, 3), (1.0, 4), (2.5, 2)]
    assert all(p["t"] == [0.0, 1.0, 2.0] and p["particles.n"] == 8 for p in points)
    assert all(p["starts"] == 16 for p in points)
    assert isinstance(points[0]["model.beta"], float)  # canonical: the int 1 is the float 1.0
    (tmp_path / "broken.toml").write_text('task = "particles"\n[base\n')
    with pytest.raises(ValueError, match="broken.toml: invalid TOML"):
        load_spec(tmp_path / "broken.toml")
    assert "particles" in TASKS and "square_test" in TASKS


def test_phase_diagram_small(client, tmp_path):
    import phase_diagram

    res = phase_diagram.main(small=True, out=tmp_path, scheduler=client, progress=False)
    assert res["grid"] == (2, 3, 11) and res["failed"] == 0
    assert (tmp_path / "phase_diagram.png").stat().st_size > 10_000
    # t = 0, uniform starts: P(cos > 0.999) = arccos(0.999)/pi on S^1 and (1 - 0.999)/2 on
    # S^2; the 8 x 496 pair indicators are pairwise independent, so 4 binomial sigmas bound it
    pairs = 8 * 496
    for d, p in [(2, math.acos(0.999) / math.pi), (3, 0.0005)]:
        assert res["fraction_t0"][d] == pytest.approx(p, abs=4 * math.sqrt(p / pairs))
    # beta = 0: SA is dx/dt = P_x m, gradient ascent of |m|^2/2: one cluster on S^2 by t = 10,
    # twice the equiangular time t*(0) = 5.19
    assert res["fraction_end_beta0"][3] == 1.0


def test_equiangular_curve():
    from phase_diagram import equiangular_cosine, equiangular_rhs, equiangular_time

    # beta = 0: c' = 2(1 - c)(1 + (n - 1)c)/n integrates in closed form
    n, level = 32, 0.999
    exact = 0.5 * math.log((1 + (n - 1) * level) / (1 - level))
    assert equiangular_time(0.0, n) == pytest.approx(exact, rel=1e-10)
    # any beta: the first passage time of the ODE solved with an event
    sol = equiangular_cosine(np.linspace(0, 30, 3001), 6.0, n)
    t_cross = np.linspace(0, 30, 3001)[np.argmax(sol > level)]
    assert abs(equiangular_time(6.0, n) - t_cross) <= 0.01
    # n tokens on an orthonormal frame (all cosines 0) follow the scalar ODE
    t = np.linspace(0.0, 4.0, 5)
    x = mf.solve_particles(mf.Attention(2.0), np.eye(5), t, method="dop853").x
    cos = np.einsum("tid,tjd->tij", x, x)[:, 0, 1:]
    np.testing.assert_allclose(
        cos, np.repeat(equiangular_cosine(t, 2.0, 5)[:, None], 4, 1), atol=1e-9
    )
    assert cos[-1, 0] > 0.5  # and they did move together
    # large beta: no overflow, the time is just astronomically long
    with np.errstate(all="raise"):
        assert equiangular_rhs(0.5, 2000.0, n) == 0.0
        assert equiangular_time(30.0, n) > 1e10


def test_no_setting_is_declared_twice():
    """A task's own parameters never repeat a run setting under a bare name (``beta`` next to
    ``model.beta``); its settings carry the schema's defaults and allowed values."""
    from meanfield.app.config import SCHEMA, dotted_keys

    # the particles task's "d" is the ambient dimension of its token systems (it has no mesh);
    # "mesh.d" is the zonal mesh's, the one other bare name that collides
    bare = {key for keys in SCHEMA.values() for key in keys} - {"d"}
    schema = dotted_keys()
    assert "d" in TASKS["particles"].parameters and "d" not in TASKS["density"].parameters
    for task in TASKS.values():
        for name, param in task.parameters.items():
            if "." in name:
                key = schema[name]
                assert (param.kind, param.setting) == ("setting", name), (task.name, name)
                assert (param.default, param.choices) == (key.default, key.choices), name
            else:
                assert name not in bare, (task.name, name)
