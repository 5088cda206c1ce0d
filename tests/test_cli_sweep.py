"""The ``meanfield sweep`` command: exit codes and one-line errors."""

import sys

import pytest

from meanfield.app.cli import main
from meanfield.app.sweep import local_cluster, read_results

distributed = pytest.importorskip("distributed", reason="dask.distributed is a test dependency")

TINY = """
task = "particles"
out = "results"

[base]
particles.n = 4
starts = 2
t = [0.0, 0.5]
metrics = ["fraction_above", "energy"]

[grid.model]
beta = [0.5, 1.0]
"""


@pytest.fixture(scope="module")
def address():
    cluster = local_cluster(n_workers=1, processes=False)
    with cluster:
        yield cluster.scheduler_address


def _one_error_line(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("error: ") and "Traceback" not in err
    return lines[0]


def test_tiny_sweep_exits_zero_and_writes_rows(tmp_path, address, capsys):
    spec = tmp_path / "SWEEP.toml"
    spec.write_text(TINY)
    assert main(["sweep", str(spec), "--scheduler", address, "--quiet"]) == 0
    rows = read_results(tmp_path / "results")  # out is relative to the spec file
    assert sorted(r["model.beta"] for r in rows) == [0.5, 1.0]
    assert all(r["status"] == "ok" and r["energy@t=0.5"] > 0 for r in rows)
    assert capsys.readouterr().out == ""  # --quiet
    # rerun with --out elsewhere, not quiet: the summary says what happened
    assert main(["sweep", str(spec), "--scheduler", address, "--out", str(tmp_path / "o")]) == 0
    assert "2 points: 2 computed (0 failed), 0 already done" in capsys.readouterr().out
    assert main(["sweep", str(spec), "--scheduler", address, "--out", str(tmp_path / "o")]) == 0
    assert "0 computed (0 failed), 2 already done" in capsys.readouterr().out


@pytest.mark.parametrize(
    "text, needle",
    [
        ('task = "particles"\n[base\nmodel.beta = 1\n', "invalid TOML"),
        ('task = "particles"\n[base]\nmodel.beta = 1\ncolour = 3\n', "unknown key 'colour'"),
        ('task = "particles"\n[grid]\nmodel.beta = []\n', "grid.model.beta must be a non-empty"),
        ('task = "particle"\n[base]\nmodel.beta = 1\n', "one of ['both', 'density', 'particles'"),
        ('task = "particles"\n[base]\nmodel.beta = 1\n', "out must be given"),
    ],
)
def test_bad_input_exits_two_with_one_line(tmp_path, capsys, text, needle):
    spec = tmp_path / "SWEEP.toml"
    spec.write_text(text)
    assert main(["sweep", str(spec)]) == 2
    assert needle in _one_error_line(capsys.readouterr().err)


def test_usage_errors_exit_two(tmp_path, capsys):
    assert main(["sweep", str(tmp_path / "missing.toml")]) == 2
    assert "missing.toml" in _one_error_line(capsys.readouterr().err)
    assert main([]) == 2
    assert "required" in _one_error_line(capsys.readouterr().err)
    assert main(["sweep", "x.toml", "--bogus"]) == 2
    assert "--bogus" in _one_error_line(capsys.readouterr().err)
    assert main(["sweep", "x.toml", "--workers", "0"]) == 2
    assert "--workers must be >= 1" in _one_error_line(capsys.readouterr().err)
    assert main(["--help"]) == 0
    assert "sweep" in capsys.readouterr().out


def test_internal_failure_exits_one(tmp_path, capsys, monkeypatch):
    spec = tmp_path / "SWEEP.toml"
    spec.write_text(TINY)

    def broken(*args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(sys.modules["meanfield.app.sweep"], "sweep", broken)
    assert main(["sweep", str(spec)]) == 1
    err = capsys.readouterr().err
    assert "Traceback" in err and err.strip().endswith("error: internal failure: boom")
