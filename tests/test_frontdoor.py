"""Front-door defects (issue 11): each bad input exits 2 with one ``error:`` line naming the key
or file, and leaves nothing behind."""

import os
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest

import meanfield as mf
from meanfield.app.cli import main

CLI_MODULE = "meanfield.app.cli"

TINY = """
name = "tiny"
[model]
beta = 4.0
[mesh]
kind = "circle"
cells = 16
[particles]
n = 20
dt = 0.05
[times]
t_end = 0.2
frames = 2
[output]
render = [0.0, 0.2]
vtk = false
gif = false
figures = false
"""


def _one_error_line(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("error: ") and "Traceback" not in err, err
    return lines[0]


def _tree(root: Path) -> list:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*"))


def _with(text: str, section: str, line: str) -> str:
    """TINY with ``line`` set in ``[section]`` (replacing the key if present)."""
    key = line.split("=")[0].strip()
    out, current = [], None
    for row in text.splitlines():
        if row.startswith("["):
            current = row.strip("[]")
        elif current == section and row.split("=")[0].strip() == key:
            continue
        out.append(row)
        if row == f"[{section}]":
            out.append(line)
    if f"[{section}]" not in text:
        out += [f"[{section}]", line]
    return "\n".join(out) + "\n"


@pytest.fixture
def workdir(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    return tmp_path


def _refused(workdir, capsys, argv, *needles):
    """Run the CLI: exit 2, one error line holding every needle, nothing new on disk."""
    before = _tree(workdir)
    assert main(argv) == 2
    line = _one_error_line(capsys.readouterr().err)
    for needle in needles:
        assert needle in line, line
    assert _tree(workdir) == before
    return line


# 1 ------------------------------------------------------------------------ NaN and inf
@pytest.mark.parametrize(
    "section, key",
    [
        ("solver", "cfl"),
        ("solver", "dt_max"),
        ("particles", "dt"),
        ("output", "cluster_radius"),
        ("output", "cluster_min_mass"),
        ("times", "t_end"),
        ("model", "beta"),
        ("initial", "amplitude"),
        ("initial", "kappa"),
    ],
)
@pytest.mark.parametrize("value", ["nan", "inf", "-inf"])
def test_1_nonfinite_settings_are_refused_before_anything_is_written(
    workdir, capsys, section, key, value
):
    (workdir / "c.toml").write_text(_with(TINY, section, f"{key} = {value}"))
    line = _refused(workdir, capsys, ["run", "c.toml", "--quiet"], f"{section}.{key}", "finite")
    assert "output.render" not in line


# 2 ------------------------------------------------------------------------ softmax beta 800
def test_2_softmax_beta_800_runs_with_energy_in_log_space(workdir, capsys):
    (workdir / "c.toml").write_text(_with(TINY, "model", "beta = 800.0"))
    assert main(["run", "c.toml", "--quiet"]) == 0, capsys.readouterr().err
    import json

    summary = json.loads((workdir / "runs" / "tiny" / "summary.json").read_text())
    # log E_beta of a probability measure lies in [log(1/(2 beta)) - beta, beta - log(2 beta)]
    log_e = summary["final"]["log_energy"]
    assert -800 - np.log(1600) <= log_e <= 800 - np.log(1600)
    x = mf.initial.sample_sphere(50, 2, 0) if hasattr(mf.initial, "sample_sphere") else None
    if x is not None:
        from meanfield.diagnostics import log_energy

        assert np.isfinite(log_energy(x, 800.0))


# 3 ------------------------------------------------------------------------ absurd sizes
@pytest.mark.parametrize(
    "section, line, key",
    [
        ("particles", "n = 1_000_000_000_000", "particles.n"),
        ("mesh", "cells = 1_000_000_000", "mesh.cells"),
        ("times", "frames = 1_000_000_000", "times.frames"),
        ("initial", "ell_max = 100_000", "initial.ell_max"),
    ],
)
def test_3_absurd_sizes_are_refused_with_the_documented_limit(workdir, capsys, section, line, key):
    (workdir / "c.toml").write_text(_with(TINY, section, line))
    _refused(workdir, capsys, ["run", "c.toml", "--quiet"], key, "<=")


# 4 ------------------------------------------------------------------------ output roots
def test_4_output_root_that_cannot_hold_a_run_is_named(workdir, capsys):
    (workdir / "afile").write_text("x")
    long = "r" * 300
    for root in ["afile", "afile/sub", long, "/proc/meanfield_nope"]:
        (workdir / "c.toml").write_text(_with(TINY, "output", f'root = "{root}"'))
        _refused(workdir, capsys, ["run", "c.toml", "--quiet"], "output.root")


@pytest.mark.skipif(os.geteuid() == 0, reason="root ignores directory permissions")
def test_4_read_only_output_root_is_named(workdir, capsys):
    (workdir / "ro").mkdir(mode=0o555)
    (workdir / "c.toml").write_text(_with(TINY, "output", 'root = "ro"'))
    _refused(workdir, capsys, ["run", "c.toml", "--quiet"], "output.root", "ro")


def test_4_full_disk_names_the_file_that_could_not_be_written(workdir):
    import resource

    # 3000 tokens: the first checkpoint (48 kB) is over the limit, config.toml is not
    (workdir / "c.toml").write_text(_with(TINY, "particles", "n = 3000"))

    def limit():  # like ulimit -f: writes beyond 20 kB fail with EFBIG
        resource.setrlimit(resource.RLIMIT_FSIZE, (20_000, 20_000))

    env = {**os.environ, "PYTHONPATH": str(Path(mf.__file__).parents[1])}
    proc = subprocess.run(
        [sys.executable, "-m", CLI_MODULE, "run", "c.toml", "--quiet"],
        capture_output=True,
        text=True,
        preexec_fn=limit,
        env=env,
        timeout=120,
    )
    assert proc.returncode == 2, proc.stderr
    line = _one_error_line(proc.stderr)
    assert "cannot write" in line and "runs/tiny/checkpoints" in line and "too large" in line
    assert not [p for p in (workdir / "runs").rglob(".*")]  # no temporary file left


# 5 ------------------------------------------------------------------------ mesh files
def _damaged_meshes(root: Path) -> list:
    good = mf.SphereMesh.icosphere(1)
    out = []
    for ext in ("ply", "vtu", "obj", "vtk", "stl"):
        good.save(root / f"good.{ext}")
        data = (root / f"good.{ext}").read_bytes()
        (root / f"trunc.{ext}").write_bytes(data[: len(data) // 2])
        (root / f"rand.{ext}").write_bytes(bytes(np.random.default_rng(0).integers(0, 256, 700)))
        out += [f"trunc.{ext}", f"rand.{ext}"]
    return out


def test_5_damaged_mesh_files_are_named_without_vtk_log_or_crash(workdir):
    names = _damaged_meshes(workdir)
    env = {**os.environ, "PYTHONPATH": str(Path(mf.__file__).parents[1])}
    for name in names:
        (workdir / "c.toml").write_text(
            _with(TINY.replace('kind = "circle"', 'kind = "file"'), "mesh", f'path = "{name}"')
        )
        proc = subprocess.run(
            [sys.executable, "-m", CLI_MODULE, "run", "c.toml", "--quiet"],
            capture_output=True,
            text=True,
            env=env,
            timeout=120,
        )
        assert proc.returncode == 2, (name, proc.returncode, proc.stderr[-500:])
        line = _one_error_line(proc.stderr)
        assert "mesh.path" in line and name in line, line
        assert not (workdir / "runs").exists()


def test_5_read_of_a_damaged_mesh_raises_value_error(tmp_path):
    for name in _damaged_meshes(tmp_path):
        with pytest.raises(ValueError, match=name):
            mf.SphereMesh.read(tmp_path / name)


# 6 ------------------------------------------------------------------------ damaged checkpoints
def _finished_tiny(workdir, capsys, stop_after=None):
    (workdir / "c.toml").write_text(_with(TINY, "times", "frames = 3"))
    assert main(["run", "c.toml", "--quiet"]) == 0
    capsys.readouterr()
    return workdir / "runs" / "tiny"


@pytest.mark.parametrize("damage", ["truncated", "empty", "missing_key", "random"])
def test_6_resume_names_a_damaged_checkpoint(workdir, capsys, damage):
    run = _finished_tiny(workdir, capsys)
    ck = run / "checkpoints" / "frame_00001.npz"
    data = ck.read_bytes()
    if damage == "truncated":
        ck.write_bytes(data[: len(data) // 2])
    elif damage == "empty":
        ck.write_bytes(b"")
    elif damage == "random":
        ck.write_bytes(bytes(np.random.default_rng(1).integers(0, 256, 500)))
    else:
        with np.load(ck) as z:
            arrays = {k: z[k] for k in z.files if k != "coefficients"}
        np.savez(ck, **arrays)
    line = _refused(workdir, capsys, ["run", "c.toml", "--resume", "--quiet"], "frame_00001.npz")
    assert "damaged" in line and "pickle" not in line


# 7 ------------------------------------------------------------------------ plot on damaged runs
@pytest.mark.parametrize(
    "damage, name",
    [
        ("truncate", "density.npz"),
        ("missing_key", "density.npz"),
        ("wrong_shape", "density.npz"),
        ("truncate", "particles.npz"),
        ("figures_file", "figures"),
        ("broken", "summary.json"),
        ("broken", "config.toml"),
    ],
)
def test_7_plot_names_the_damaged_run_file(workdir, capsys, damage, name):
    run = _finished_tiny(workdir, capsys)
    path = run / name
    if damage == "truncate":
        path.write_bytes(path.read_bytes()[:100])
    elif damage == "broken":
        path.write_text("{ not [ valid")
    elif damage == "figures_file":
        path.write_text("not a directory")
    else:
        with np.load(path) as z:
            arrays = {k: z[k] for k in z.files}
        if damage == "missing_key":
            del arrays["coefficients"]
        else:
            arrays["coefficients"] = arrays["coefficients"][:, :3]
        np.savez(path, **arrays)
    _refused(workdir, capsys, ["plot", str(run), "--quiet"], name)


# 8 ------------------------------------------------------------------------ temp files in figures
def test_8_resume_after_a_kill_leaves_no_hidden_files(workdir, capsys):
    text = _with(_with(TINY, "output", "figures = true"), "output", "gif = true")
    (workdir / "c.toml").write_text(text)
    assert main(["run", "c.toml", "--quiet"]) == 0
    run = workdir / "runs" / "tiny"
    # a process SIGKILLed while it writes a figure and a checkpoint through atomic_write
    code = (
        "import os, signal, sys\n"
        "from meanfield._files import atomic_write\n"
        "def die(tmp):\n"
        "    tmp.write_bytes(b'partial')\n"
        "    os.kill(os.getpid(), signal.SIGKILL)\n"
        "atomic_write(sys.argv[1], die)\n"
    )
    env = {**os.environ, "PYTHONPATH": str(Path(mf.__file__).parents[1])}
    for target in (run / "figures" / "animation.gif", run / "checkpoints" / "frame_00001.npz"):
        proc = subprocess.run([sys.executable, "-c", code, str(target)], env=env, timeout=60)
        assert proc.returncode == -9
    assert len(list(run.rglob(".*"))) == 2  # the killed writes left their temporaries
    assert main(["run", "c.toml", "--resume", "--quiet"]) == 0
    assert [p.name for p in run.rglob(".*")] == []
    assert (run / "figures" / "animation.gif").stat().st_size > 1000


# 9 ------------------------------------------------------------------------ complex input
def test_9_complex_input_is_refused_naming_the_argument():
    eye = np.eye(3) * (1 + 1j)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for name in ("Q", "K", "V"):
            with pytest.raises(ValueError, match=f"{name} must be real"):
                mf.Attention(1.0, **{name: eye})
        x = np.array([[1.0, 0, 0], [0, 1, 0]], dtype=complex)
        with pytest.raises(ValueError, match="x0 must be real"):
            mf.solve_particles(mf.Attention(1.0), x, [0.0, 0.1])
        space = mf.DG(mf.SphereMesh.circle(8), 1)
        for method in ("l2", "nodal"):
            with pytest.raises(ValueError, match="f must return real"):
                space.interpolate(lambda p: np.ones(len(p)) * (1 + 1j), method=method)


# 10 ----------------------------------------------------------------------- huge beta
def test_10_huge_beta_is_a_clear_error_or_a_finite_step(workdir, capsys):
    from meanfield import theory

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(ValueError, match="beta"):
            theory.growth_rate(2, 800, 3, normalized=False)
        assert np.isfinite(theory.growth_rate(2, 300, 3, normalized=False))
    # USA: weights e^beta leave float64, refused before anything is written
    text = _with(_with(TINY, "model", "beta = 1e9"), "model", "normalized = false")
    (workdir / "c.toml").write_text(text)
    _refused(workdir, capsys, ["run", "c.toml", "--quiet"], "model.beta", "normalized")
    # SA: a finite step, and the run finishes with finite diagnostics
    (workdir / "c.toml").write_text(_with(TINY, "model", "beta = 1e9"))
    assert main(["run", "c.toml", "--quiet"]) == 0
    import json

    final = json.loads((workdir / "runs" / "tiny" / "summary.json").read_text())["final"]
    assert all(np.isfinite(v) for v in final.values()), final


def test_10_huge_beta_as_a_sweep_point_says_why(tmp_path):
    from meanfield.app.sweep import TASKS, load_spec

    spec = load_spec({"task": "particles", "base": {"model.beta": 1e9, "model.normalized": False}})
    with pytest.raises(ValueError, match="beta"):
        TASKS["particles"].run(spec.points()[0], tmp_path)


# 11 ----------------------------------------------------------------------- nameless messages
def test_11_messages_name_the_argument(workdir, capsys):
    with pytest.raises(ValueError, match="points"):
        mf.SphereMesh.from_arrays(np.zeros((0, 3)), np.zeros((0, 3), int))
    with pytest.raises(ValueError, match="rng"):
        mf.initial.sample_sphere(3, 3, -1) if hasattr(mf.initial, "sample_sphere") else (
            mf.sample_sphere(3, 3, -1)
        )
    space = mf.DG(mf.SphereMesh.circle(8), 1)
    with pytest.raises(ValueError, match="f must return"):
        space.interpolate(lambda p: np.array(["a"] * len(p)))
    (workdir / "bin.toml").write_bytes(b"\x00\xff\xfe binary")
    _refused(workdir, capsys, ["run", "bin.toml", "--quiet"], "bin.toml")
    (workdir / "adir.toml").mkdir()
    _refused(workdir, capsys, ["run", "adir.toml", "--quiet"], "adir.toml")
    for bad in ['"a\\u0000b"', '"a\\nb"', '"a\\tb"']:
        (workdir / "c.toml").write_text(TINY.replace('name = "tiny"', f"name = {bad}"))
        _refused(workdir, capsys, ["run", "c.toml", "--quiet"], "name")


# 12 ----------------------------------------------------------------------- sweeps and meshes
def test_12_huge_sweep_is_refused_quickly(workdir, capsys):
    import time

    def axis(start, num):
        return "[" + ", ".join(str(start + k) for k in range(num)) + "]"

    # 100 x 100 x 100 x 10 = 10^7 points
    text = (
        'task = "particles"\nout = "o"\n[grid]\n'
        f'"model.beta" = {axis(0.5, 100)}\n"particles.seed" = {axis(0, 100)}\n'
        f'"particles.n" = {axis(2, 100)}\nstarts = {axis(1, 10)}\n'
    )
    (workdir / "s.toml").write_text(text)
    start = time.perf_counter()
    _refused(workdir, capsys, ["sweep", "s.toml", "--quiet"], "grid", "10000000 points")
    assert time.perf_counter() - start < 5


def test_12_unreachable_scheduler_leaves_nothing(workdir, capsys, monkeypatch):
    pytest.importorskip("distributed")
    monkeypatch.setattr("meanfield.app.sweep.runner.CONNECT_TIMEOUT", 1.0)
    text = 'task = "particles"\nout = "o"\n[base]\n"model.beta" = 1.0\n'
    (workdir / "s.toml").write_text(text)
    _refused(
        workdir,
        capsys,
        ["sweep", "s.toml", "--scheduler", "tcp://127.0.0.1:9", "--quiet"],
        "scheduler",
    )


def test_12_mesh_far_from_the_unit_sphere_gets_an_accurate_message():
    m = mf.SphereMesh.icosphere(1)
    p, c = np.asarray(m.points), np.asarray(m.cells)
    # scaled by 1e300: |x| no longer overflows, the sphere is projected back (and says so)
    with pytest.warns(UserWarning, match="1e[+]300"):
        big = mf.SphereMesh.from_arrays(p * 1e300, c)
    np.testing.assert_allclose(big.points, m.points, rtol=0, atol=1e-15)
    # centred at (5, 0, 0): radial projection would crush it; the message says why
    with pytest.raises(ValueError, match=r"surround the origin.*centroid is at \[5.0, 0.0, 0.0\]"):
        mf.SphereMesh.from_arrays(p + [5.0, 0.0, 0.0], c)


# 13 ----------------------------------------------------------------------- VTK X server warning
def test_13_render_prints_no_vtk_warning(tmp_path):
    code = (
        "import meanfield as mf\n"
        "rho = mf.DG(mf.SphereMesh.icosphere(1), 0).interpolate(lambda p: 1 + 0 * p[:, 0])\n"
        f"mf.plot.render_density(rho, {str(tmp_path / 'a.png')!r})\n"
    )
    env = {**os.environ, "PYTHONPATH": str(Path(mf.__file__).parents[1]), "DISPLAY": ":99"}
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert (tmp_path / "a.png").is_file()
    assert proc.stderr.strip() == "", proc.stderr[-2000:]
