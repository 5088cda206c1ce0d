"""meanfield.app.run: setup validation, frame stepping, checkpoints and resume."""

import numpy as np
import pytest

import meanfield as mf
from meanfield.app.builders import output_times
from meanfield.app.config import resolve
from meanfield.app.io import load_npz
from meanfield.app.run import advance, execute, initial_frame, prepare
from meanfield.app.rundir import load_run
from meanfield.eulerian import Density

CIRCLE = {
    "name": "tiny",
    "model": {"beta": 4.0},
    "mesh": {"kind": "circle", "cells": 32},
    "particles": {"n": 40, "dt": 0.05},
    "times": {"t_end": 0.6, "frames": 4},
    "output": {"render": [0.0, 0.6], "gif": False, "figures": False},
}
SPHERE = {
    "name": "tiny2",
    "model": {"beta": 4.0},
    "mesh": {"kind": "icosphere", "level": 1},
    "particles": {"n": 30, "dt": 0.05},
    "times": {"t_end": 0.4, "frames": 3},
    "output": {"render": [0.4], "gif": False, "figures": False},
}


def _cfg(base, **sections):
    table = {k: dict(v) if isinstance(v, dict) else v for k, v in base.items()}
    for section, values in sections.items():
        table.setdefault(section, {}).update(values)
    return resolve(table)


def test_output_times_add_render_times():
    cfg = _cfg(CIRCLE, times={"t_end": 1.0, "frames": 3}, output={"render": [0.5, 0.7]})
    np.testing.assert_allclose(output_times(cfg), [0.0, 0.5, 0.7, 1.0])


def test_prepare_builds_what_the_config_says():
    cfg = _cfg(SPHERE, model={"Q": "random:3", "V": np.eye(3).tolist(), "normalized": False})
    s = prepare(cfg)
    assert s.mesh.n_cells == 80 and s.space.degree == 1 and s.dim == 3
    assert s.x0.shape == (30, 3)
    assert s.model.Q.shape == (3, 3) and s.model.K is None and not s.model.normalized
    # "random:SEED" is reproducible: N(0, 1/d) entries from default_rng(SEED)
    q = np.random.default_rng(3).standard_normal((3, 3)) / np.sqrt(3)
    np.testing.assert_array_equal(s.model.Q, q)
    assert s.rho0.integrate() == pytest.approx(1.0, abs=1e-6)
    # tokens are rho0.sample(n, seed)
    np.testing.assert_array_equal(s.x0, s.rho0.sample(30, 0))


@pytest.mark.parametrize(
    "sections, match",
    [
        ({"initial": {"kind": "vmf", "centres": [[1.0, 0.0, 0.0]]}}, "'initial.centres'"),
        ({"initial": {"kind": "mode", "ell": 2, "m": 3}}, "'initial.m'"),
        ({"mesh": {"level": 9}}, "'mesh.level' must be <= 8"),
    ],
)
def test_dimension_dependent_errors_name_the_key(sections, match):
    base = CIRCLE if "centres" in str(sections) else SPHERE
    with pytest.raises(ValueError, match=match):
        prepare(_cfg(base, **sections))


@pytest.mark.filterwarnings("ignore:points:UserWarning")  # pyvista's sphere is off by 0.007
def test_mesh_file_is_read_and_checked(tmp_path):
    good = tmp_path / "ico.vtk"
    mf.SphereMesh.icosphere(1).save(good)
    cfg = _cfg(SPHERE, mesh={"kind": "file", "path": str(good)}, particles={"enabled": False})
    s = prepare(cfg)
    assert s.mesh.n_cells == 80 and s.x0 is None
    # a matrix that does not fit the file's dimension is caught once the file is read
    bad_q = _cfg(SPHERE, mesh={"kind": "file", "path": str(good)})
    bad_q["model"]["Q"] = np.eye(2).tolist()
    with pytest.raises(ValueError, match="'model.Q' must be a 3 x 3 matrix for the mesh file"):
        prepare(bad_q)
    broken = tmp_path / "hemisphere.vtk"
    import pyvista as pv

    pv.Sphere(radius=1.0).clip("z").save(broken)
    with pytest.raises(ValueError, match="config key 'mesh.path'"):
        prepare(_cfg(SPHERE, mesh={"kind": "file", "path": str(broken)}))


def test_advance_conserves_mass_and_moves_both():
    s = prepare(_cfg(CIRCLE))
    f0 = initial_frame(s)
    f1 = advance(s, f0)
    assert f1.index == 1 and f1.t == pytest.approx(0.2)
    assert f1.diagnostics["mass"] == pytest.approx(f0.diagnostics["mass"], rel=1e-13)
    assert f1.diagnostics["min_density"] >= 0
    assert not np.allclose(f1.x, f0.x) and not np.allclose(f1.coefficients, f0.coefficients)
    # SA increases the interaction energy of the density and of the tokens (E_beta is
    # non-decreasing along SA and USA)
    assert f1.diagnostics["log_energy"] > f0.diagnostics["log_energy"]
    assert f1.diagnostics["particle_log_energy"] > f0.diagnostics["particle_log_energy"]
    np.testing.assert_allclose(np.linalg.norm(f1.x, axis=1), 1.0, atol=1e-12)


def test_noisy_run_spreads_and_resumes_identically(tmp_path):
    """model.diffusion: the density diffuses (IMEX), tokens are noisy and seeded per frame."""
    cfg = _cfg(CIRCLE, model={"diffusion": 0.5})
    s = prepare(cfg)
    f0 = initial_frame(s)
    noisy = advance(s, f0)
    quiet = advance(prepare(_cfg(CIRCLE)), f0)
    assert noisy.diagnostics["mass"] == pytest.approx(f0.diagnostics["mass"], rel=1e-13)
    assert noisy.diagnostics["min_density"] >= 0
    # noise spreads: the noisy density is flatter than the noiseless one
    assert np.ptp(noisy.coefficients) < np.ptp(quiet.coefficients)
    assert not np.allclose(noisy.x, quiet.x)
    np.testing.assert_array_equal(advance(s, f0).x, noisy.x)  # the frame's noise is seeded
    full = execute(cfg, out=tmp_path / "full")
    execute(cfg, out=tmp_path / "part", stop_after=1)
    execute(cfg, out=tmp_path / "part", resume=True)
    pa = load_npz(tmp_path / "full" / "particles.npz")
    pb = load_npz(tmp_path / "part" / "particles.npz")
    np.testing.assert_array_equal(pb["x"], pa["x"])
    assert full.complete


@pytest.mark.parametrize("base", [CIRCLE, SPHERE], ids=["S1", "S2"])
def test_resume_after_a_kill_ends_in_the_same_state(tmp_path, base):
    cfg = _cfg(base)
    full = execute(cfg, out=tmp_path / "full")
    assert full.complete and full.computed == len(output_times(cfg))

    part = execute(cfg, out=tmp_path / "part", stop_after=1)
    assert not part.complete and part.summary["status"] == "running"
    assert not (tmp_path / "part" / "density.npz").exists()
    # as if killed while writing frame 2: its VTK file and a temporary file exist, no checkpoint
    (tmp_path / "part" / "vtk" / "density_00002.vtu").write_text("garbage")
    (tmp_path / "part" / "checkpoints" / ".frame_00002.npz.tmp123.npz").write_bytes(b"x")
    with pytest.raises(ValueError, match="already exists; pass --resume"):
        execute(cfg, out=tmp_path / "part")
    done = execute(cfg, out=tmp_path / "part", resume=True)
    assert done.complete and done.computed == len(output_times(cfg)) - 2

    a = load_npz(tmp_path / "full" / "density.npz")
    b = load_npz(tmp_path / "part" / "density.npz")
    assert a["coefficients"].shape == b["coefficients"].shape
    np.testing.assert_allclose(b["coefficients"], a["coefficients"], rtol=1e-12, atol=1e-15)
    np.testing.assert_array_equal(b["t"], a["t"])
    pa = load_npz(tmp_path / "full" / "particles.npz")
    pb = load_npz(tmp_path / "part" / "particles.npz")
    np.testing.assert_allclose(pb["x"], pa["x"], rtol=1e-12, atol=1e-15)
    assert done.summary["series"]["log_energy"] == pytest.approx(
        full.summary["series"]["log_energy"]
    )
    # resuming a finished run computes nothing
    again = execute(cfg, out=tmp_path / "part", resume=True)
    assert again.computed == 0 and again.complete


def test_resume_refuses_a_different_config(tmp_path):
    execute(_cfg(CIRCLE), out=tmp_path / "r", stop_after=0)
    with pytest.raises(ValueError, match=r"config.toml differs in model.beta, particles.n"):
        execute(_cfg(CIRCLE, model={"beta": 5.0}, particles={"n": 41}), out=tmp_path / "r",
                resume=True)  # fmt: skip
    (tmp_path / "other").mkdir()
    with pytest.raises(ValueError, match="not a run directory"):
        execute(_cfg(CIRCLE), out=tmp_path / "other", resume=True)


def test_resume_of_nothing_starts_fresh_and_load_run_reads_back(tmp_path):
    cfg = _cfg(CIRCLE, particles={"enabled": False})
    res = execute(cfg, out=tmp_path / "fresh", resume=True)
    assert res.complete and res.computed == 4
    assert not (tmp_path / "fresh" / "particles.npz").exists()
    run = load_run(tmp_path / "fresh")
    assert run.x is None and run.coefficients.shape == (4, 32, 2)
    rho = run.density(3)
    assert isinstance(rho, Density)
    assert rho.integrate() == pytest.approx(res.summary["final"]["mass"], rel=1e-14)
    assert res.summary["mass_drift"] < 1e-12
    with pytest.raises(ValueError, match="not a finished run directory: density.npz"):
        (tmp_path / "fresh" / "density.npz").unlink()
        load_run(tmp_path / "fresh")


def test_lagrangian_run_resumes_to_the_same_state(tmp_path):
    cfg = _cfg(CIRCLE, solver={"scheme": "lagrangian"})
    full = execute(cfg, out=tmp_path / "full")
    assert full.complete
    part = execute(cfg, out=tmp_path / "part", stop_after=1)
    assert not part.complete
    done = execute(cfg, out=tmp_path / "part", resume=True)
    assert done.complete
    a = load_npz(tmp_path / "full" / "density.npz")
    b = load_npz(tmp_path / "part" / "density.npz")
    # the frames are the flow map's deposits on the run's DG space: mass exact, the resumed
    # run rebuilt the flow map through the same RK4 steps
    np.testing.assert_allclose(b["coefficients"], a["coefficients"], rtol=1e-12, atol=1e-15)
    mass = full.summary["series"]["mass"]
    assert np.ptp(mass) <= 1e-13 * mass[0]
    s = prepare(cfg)
    f1 = advance(s, initial_frame(s))
    assert f1.diagnostics["min_density"] >= 0 and f1.stats["steps"] > 0


ZONAL = {
    "name": "zonal8",
    "model": {"beta": 4.0},
    "mesh": {"kind": "zonal", "d": 8, "cells": 32},
    "initial": {
        "kind": "vmf",
        "centres": [[0] * 7 + [1], [0] * 7 + [-1], [0] * 7 + [1]],
        "kappa": 8.0,
    },  # fmt: skip
    "particles": {"n": 1600, "dt": 0.05},
    "times": {"t_end": 1.0, "frames": 3},
    "output": {"render": [1.0], "gif": False, "figures": True},
}


def test_a_zonal_run_in_r8_keeps_mass_and_follows_its_tokens(tmp_path):
    cfg = _cfg(ZONAL, output={"root": str(tmp_path)})
    result = execute(cfg, progress=False)
    run = load_run(result.directory)
    assert run.space.mesh.kind == "zonal" and run.space.dim == 8 and run.x.shape[2] == 8
    s = run.summary
    assert s["mesh"]["kind"] == "zonal" and abs(s["final"]["mass"] - 1) < 1e-12
    # two caps (2/3 of the mass north) at polar angle ~0.8 drift toward the poles: two clusters
    assert s["final"]["clusters"] == 2 and s["final"]["distance_w1"] < 0.05
    assert (run.directory / "figures" / "zonal.png").is_file()


def test_zonal_mesh_config_errors_name_the_key():
    with pytest.raises(ValueError, match="mesh.d"):
        _cfg(ZONAL, mesh={"d": 1})
    with pytest.raises(ValueError, match="initial"):
        prepare(_cfg(ZONAL, initial={"kind": "white_noise"}))


def test_agreement_reads_counts_and_mass_gaps_after_formation():
    from meanfield.app.rundir import AGREEMENT_TOL, agreement

    t = [0.0, 1.0, 2.0, 3.0, 4.0]
    series = {
        "clusters": [0, 2, 3, 3, 3],
        "particle_clusters": [0, 3, 3, 3, 3],  # before formation (t = 1) does not count
        "cluster_mass_gap": [0.0, 0.4, 0.01, 0.03, 0.02],
    }
    a = agreement(t, series)
    assert a == {"clusters": 3, "from_t": 2.0, "counts_agree": True, "count_mismatch_t": [],
                 "max_mass_gap": 0.03, "tolerance": AGREEMENT_TOL, "agree": True}  # fmt: skip
    series["particle_clusters"][3] = 4
    a = agreement(t, series)
    assert a["count_mismatch_t"] == [3.0] and not a["counts_agree"] and not a["agree"]
    series["particle_clusters"][3] = 3
    series["cluster_mass_gap"][4] = AGREEMENT_TOL + 0.01
    assert not agreement(t, series)["agree"] and agreement(t, series)["counts_agree"]
    assert agreement(t, {"clusters": [0, 0]}) is None  # no tokens: no verdict


def test_a_clustered_run_reports_pde_and_token_agreement(tmp_path):
    from meanfield.app.builders import cluster_radius
    from meanfield.app.cli import agreement_text
    from meanfield.diagnostics import cluster_mass_gap, measure_clusters

    cfg = _cfg(CIRCLE, mesh={"cells": 128}, particles={"n": 4000},
               initial={"kind": "vmf", "centres": [[1.0, 0.0], [-0.6, 0.8]], "kappa": 30.0},
               times={"t_end": 0.4, "frames": 3}, output={"render": [0.4]})  # fmt: skip
    res = execute(cfg, out=tmp_path / "two")
    run = load_run(res.directory)
    s, o = res.summary, cfg["output"]
    rule = {"radius": cluster_radius(cfg, run.space), "level": o["cluster_level"],
            "min_mass": o["cluster_min_mass"]}  # fmt: skip
    for k in range(len(run.t)):
        pde, tok = measure_clusters(run.density(k), **rule), measure_clusters(run.x[k], **rule)
        assert pde.count == tok.count == 2  # two vMF bumps from the start
        gap = cluster_mass_gap(pde, tok, rule["radius"])
        assert s["series"]["cluster_mass_gap"][k] == pytest.approx(gap, abs=1e-15)
    a = s["agreement"]
    assert a["clusters"] == 2 and a["from_t"] == 0.0 and a["counts_agree"]
    # two equal bumps: each holds half the mass, the tokens' share is binomial (sd 0.008)
    assert a["max_mass_gap"] < 0.04 and a["agree"]
    line = agreement_text(a, s["tokens"])
    assert line.startswith("; PDE and 4000 tokens agree: 2 clusters at every output from t = 0,")
    assert f"masses within {a['max_mass_gap']:.2g} (tolerance 0.05)" in line
