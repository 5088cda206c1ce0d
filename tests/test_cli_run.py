"""The ``meanfield run``, ``plot`` and ``validate`` commands; docs/cli.md stays in sync."""

import json
import re
import sys
import types
from pathlib import Path

import numpy as np
import pytest

from meanfield.app.cli import main
from meanfield.app.config import load_config, reference_markdown
from meanfield.app.io import load_npz

TINY = """
name = "tiny"
[model]
beta = 4.0
[mesh]
kind = "circle"
cells = 32
[particles]
n = 40
dt = 0.05
[times]
t_end = 0.6
frames = 4
[output]
render = [0.0, 0.6]
gif = false
figures = false
"""


def _one_error_line(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("error: ") and "Traceback" not in err
    return lines[0]


def _files(root: Path) -> list:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*")) if root.exists() else []


@pytest.fixture
def workdir(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "tiny.toml").write_text(TINY)
    return tmp_path


def test_run_writes_every_output(workdir, capsys):
    assert main(["run", "tiny.toml", "--quiet"]) == 0
    assert capsys.readouterr().out == ""
    run = workdir / "runs" / "tiny"  # <output.root>/<name>, no timestamp
    for name in ["config.toml", "density.npz", "particles.npz", "summary.json", "density.pvd"]:
        assert (run / name).is_file(), name
    assert load_config(run / "config.toml") == load_config(workdir / "tiny.toml")
    dens = load_npz(run / "density.npz")  # allow_pickle=False
    parts = load_npz(run / "particles.npz")
    assert dens["coefficients"].shape == (4, 32, 2) and parts["x"].shape == (4, 40, 2)
    summary = json.loads((run / "summary.json").read_text())
    assert summary["status"] == "complete" and summary["mass_drift"] < 1e-12
    assert summary["min_density"] >= 0
    for key in ["log_energy", "clusters", "distance_w1", "particle_clusters", "moment_gap"]:
        assert len(summary["series"][key]) == 4, key
    assert all(0 < d < np.pi for d in summary["series"]["distance_w1"])


def test_vtk_series_reads_back_with_pyvista(workdir):
    import pyvista as pv

    assert main(["run", "tiny.toml", "--quiet"]) == 0
    run = workdir / "runs" / "tiny"
    reader = pv.get_reader(str(run / "density.pvd"))
    np.testing.assert_allclose(reader.time_values, [0.0, 0.2, 0.4, 0.6])
    reader.set_active_time_value(0.6)
    grid = reader.read()[0]
    coefficients = load_npz(run / "density.npz")["coefficients"][-1]
    assert grid.n_cells == 32
    # each cell carries its own vertex values: the DG polynomial at its two ends
    np.testing.assert_allclose(grid.point_data["density"], coefficients.ravel(), rtol=1e-14)
    means = grid.cell_data["cell_mean"]
    assert np.all(means >= coefficients.min(axis=1) - 1e-14)
    assert np.all(means <= coefficients.max(axis=1) + 1e-14)


def test_progress_and_summary_line_unless_quiet(workdir, capsys):
    assert main(["run", "tiny.toml"]) == 0
    out, err = capsys.readouterr()
    assert re.match(r"runs/tiny: 4 frames \(4 computed\) to t = 0\.6; PDE: \d+ clusters", out)
    assert "frame" in err  # the tqdm bar


@pytest.mark.parametrize(
    "edit, needle",
    [
        (("[model]", "[model]\nbetta = 2.0"), "unknown config key 'model.betta'"),
        (("beta = 4.0", 'beta = "4"'), "'model.beta' must be a number, got '4'"),
        (
            ("beta = 4.0", "beta = 4.0\nQ = [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]]"),
            "'model.Q' must be a 2 x 2 matrix",
        ),  # fmt: skip
        (('kind = "circle"', 'kind = "file"\npath = "no/such/mesh.vtu"'), "'mesh.path'"),
        (("n = 40", "n = -40"), "'particles.n' must be >= 1, got -40"),
        (("[times]", "[times\n"), "not valid TOML"),
    ],
)
def test_broken_configs_exit_2_and_write_nothing(workdir, capsys, edit, needle):
    (workdir / "bad.toml").write_text(TINY.replace(*edit))
    assert main(["run", "bad.toml"]) == 2
    assert needle in _one_error_line(capsys.readouterr().err)
    assert not (workdir / "runs").exists()


def test_unreadable_mesh_file_exits_2_before_creating_anything(workdir, capsys):
    (workdir / "mesh.vtk").write_text("not a mesh")
    cfg = TINY.replace('kind = "circle"', 'kind = "file"\npath = "mesh.vtk"')
    (workdir / "bad.toml").write_text(cfg)
    assert main(["run", "bad.toml"]) == 2
    assert "config key 'mesh.path'" in _one_error_line(capsys.readouterr().err)
    assert not (workdir / "runs").exists()


def test_existing_output_directory_exits_2_and_is_left_alone(workdir, capsys):
    out = workdir / "taken"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    assert main(["run", "tiny.toml", "--out", str(out)]) == 2
    assert "already exists; pass --resume" in _one_error_line(capsys.readouterr().err)
    assert _files(out) == ["keep.txt"]
    # --resume into a directory that is not a run: refused too
    assert main(["run", "tiny.toml", "--out", str(out), "--resume"]) == 2
    assert "not a run directory" in _one_error_line(capsys.readouterr().err)
    assert _files(out) == ["keep.txt"]


def test_resume_from_the_command_line(workdir):
    from meanfield.app.run import execute

    assert main(["run", "tiny.toml", "--quiet", "--out", "full"]) == 0
    execute(load_config(workdir / "tiny.toml"), out=workdir / "cut", stop_after=2)
    assert main(["run", "tiny.toml", "--quiet", "--out", "cut", "--resume"]) == 0
    a = load_npz(workdir / "full" / "density.npz")["coefficients"]
    b = load_npz(workdir / "cut" / "density.npz")["coefficients"]
    np.testing.assert_allclose(b, a, rtol=1e-12, atol=1e-15)


def test_internal_failure_exits_1(workdir, capsys, monkeypatch):
    import meanfield.app.run

    def broken(setup, frame):
        raise RuntimeError("solver exploded")

    monkeypatch.setattr(meanfield.app.run, "advance", broken)
    assert main(["run", "tiny.toml", "--quiet"]) == 1
    assert "error: internal failure: solver exploded" in capsys.readouterr().err


def test_plot_redraws_figures(workdir, capsys):
    assert main(["run", "tiny.toml", "--quiet"]) == 0
    run = workdir / "runs" / "tiny"
    assert not (run / "figures").exists()  # output.figures = false
    assert main(["plot", str(run), "--quiet"]) == 0
    names = _files(run / "figures")
    assert names == [
        "clusters.png",
        "cosines.png",
        "density_t0.00.png",
        "density_t0.60.png",
        "distance.png",
        "energy.png",
        "maps.png",
        "tokens.png",
    ]
    assert all((run / "figures" / n).stat().st_size > 5_000 for n in names)
    assert main(["plot", str(run), "--quiet", "--format", "pdf", "--width", "3.4"]) == 0
    pdfs = [n for n in _files(run / "figures") if n.endswith(".pdf")]
    assert pdfs == [n.replace(".png", ".pdf") for n in names]
    assert main(["plot", str(run), "--width", "-1"]) == 2
    assert "--width must be a positive" in _one_error_line(capsys.readouterr().err)
    assert main(["plot", str(workdir / "nowhere")]) == 2
    assert "does not exist" in _one_error_line(capsys.readouterr().err)


@pytest.fixture
def fake_validation(monkeypatch):
    calls = []

    def write_report(directory, quick=False, progress=False):
        Path(directory).mkdir(parents=True, exist_ok=True)
        (Path(directory) / "report.md").write_text("# report\n")
        calls.append((Path(directory), quick, progress))
        return {"report": str(Path(directory) / "report.md")}

    module = types.ModuleType("meanfield.app.report")
    module.write_report = write_report
    monkeypatch.setitem(sys.modules, "meanfield.app.report", module)
    return calls


def test_validate_calls_write_report(workdir, capsys, fake_validation):
    assert main(["validate", "--out", "v", "--quick", "--quiet"]) == 0
    assert fake_validation == [(Path("v"), True, False)]
    (workdir / "empty").mkdir()
    assert main(["validate", "--out", "empty"]) == 0  # an empty directory is fine
    assert fake_validation[-1] == (Path("empty"), False, True)
    assert "report: empty/report.md" in capsys.readouterr().out
    assert main(["validate", "--out", "v"]) == 2  # now holds report.md
    assert "exists and is not empty" in _one_error_line(capsys.readouterr().err)


def test_validation_module_has_the_expected_signature():
    import inspect

    from meanfield.app import report as validation

    params = inspect.signature(validation.write_report).parameters
    assert list(params)[0] == "directory"
    assert params["quick"].default is False and params["progress"].default is False


def test_docs_config_reference_is_generated_from_schema():
    text = (Path(__file__).resolve().parent.parent / "docs" / "cli.md").read_text()
    start, end = "<!-- config-reference:start -->\n", "<!-- config-reference:end -->"
    assert start in text and end in text
    body = text.split(start, 1)[1].split(end, 1)[0]
    assert body.strip() == reference_markdown().strip(), (
        "docs/cli.md is out of date: python -m meanfield.app.config --update-docs docs/cli.md"
    )


def test_resume_after_sigkill_of_a_real_process(workdir):
    import os
    import signal
    import subprocess
    import time

    cfg = TINY.replace("t_end = 0.6\nframes = 4", "t_end = 6.0\nframes = 61")
    (workdir / "long.toml").write_text(cfg)
    assert main(["run", "long.toml", "--quiet", "--out", "full"]) == 0
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parent.parent))
    proc = subprocess.Popen(
        [sys.executable, "-m", "meanfield.app.cli", "run", "long.toml", "--quiet", "--out", "cut"],
        env=env,
        stderr=subprocess.PIPE,
    )
    marker = workdir / "cut" / "checkpoints" / "frame_00003.npz"
    deadline = time.monotonic() + 120
    while not marker.exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL, proc.stderr.read().decode()
    assert marker.exists() and not (workdir / "cut" / "density.npz").exists()  # killed mid-run
    assert main(["run", "long.toml", "--quiet", "--out", "cut", "--resume"]) == 0
    a = load_npz(workdir / "full" / "density.npz")
    b = load_npz(workdir / "cut" / "density.npz")
    np.testing.assert_allclose(b["coefficients"], a["coefficients"], rtol=1e-12, atol=1e-15)
    pa, pb = (load_npz(workdir / d / "particles.npz")["x"] for d in ("full", "cut"))
    np.testing.assert_allclose(pb, pa, rtol=1e-12, atol=1e-15)


def test_agreement_text_says_which_outputs_differ():
    from meanfield.app.cli import agreement_text

    a = {"clusters": 4, "from_t": 3.0, "counts_agree": False, "count_mismatch_t": [4.5, 5.0],
         "max_mass_gap": 0.12, "tolerance": 0.05, "agree": False}  # fmt: skip
    assert agreement_text(a, 1500) == (
        "; PDE and 1500 tokens differ: cluster counts differ at t = 4.5, 5, cluster masses "
        "within 0.12 (tolerance 0.05)"
    )
    a.update(counts_agree=True, count_mismatch_t=[], max_mass_gap=0.021, agree=True)
    assert agreement_text(a, 20000) == (
        "; PDE and 20000 tokens agree: 4 clusters at every output from t = 3, cluster masses "
        "within 0.021 (tolerance 0.05)"
    )
    assert agreement_text(None, 10) == ""
