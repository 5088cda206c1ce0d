"""Figures of a run directory (meanfield.app.figures): every file, one colour range, vector."""

import json
import re

import numpy as np
import pytest
from PIL import Image

from meanfield.app.config import resolve
from meanfield.app.figures import plot_run
from meanfield.app.run import execute


@pytest.fixture(scope="module")
def sphere_run(tmp_path_factory):
    cfg = resolve(
        {
            "mesh": {"level": 1},
            "particles": {"n": 60, "dt": 0.05},
            "times": {"t_end": 0.2, "frames": 3},
            "output": {"render": [0.0, 0.2]},
        }
    )
    return execute(cfg, out=tmp_path_factory.mktemp("r") / "run")


def test_run_writes_maps_tokens_histograms_and_animation(sphere_run):
    names = sorted(p.name for p in sphere_run.figures)
    assert names == [
        "animation.gif",
        "clusters.png",
        "cosines.png",
        "density_t0.00.png",
        "density_t0.20.png",
        "distance.png",
        "energy.png",
        "maps.png",
        "tokens.png",
        "tokens_sphere.png",
    ]
    for p in sphere_run.figures:
        assert p.parent == sphere_run.directory / "figures" and p.stat().st_size > 5_000
    with Image.open(sphere_run.directory / "figures" / "animation.gif") as im:
        assert im.n_frames == 3
    # 3.4 in at 300 dpi
    with Image.open(sphere_run.directory / "figures" / "energy.png") as im:
        assert im.size[0] == 1020


def test_pdf_figures_are_vector_at_column_width(sphere_run):
    paths = plot_run(sphere_run.directory, format="pdf", width=3.4)
    pdfs = [p for p in paths if p.suffix == ".pdf"]
    assert len(pdfs) == 9
    for p in pdfs:
        data = p.read_bytes()
        width = float(re.search(rb"/MediaBox \[ ?0 0 ([\d.]+)", data).group(1))
        assert width == pytest.approx(3.4 * 72, abs=0.5)
        assert b"/FontFile2" in data  # text stays text


def test_clusters_counted_by_one_rule(sphere_run):
    from meanfield.app.rundir import load_run
    from meanfield.diagnostics import measure_clusters

    run = load_run(sphere_run.directory)
    s = json.loads((sphere_run.directory / "summary.json").read_text())["series"]
    radius = max(run.config["output"]["cluster_radius"], 2.5 * run.space.mesh.resolution)
    for k in range(len(run.t)):
        assert s["clusters"][k] == measure_clusters(run.density(k), radius=radius).count
        assert s["particle_clusters"][k] == measure_clusters(run.x[k], radius=radius).count


def test_bad_format(sphere_run):
    with pytest.raises(ValueError, match="format must be one of"):
        plot_run(sphere_run.directory, format="jpg")


def test_token_subsets_are_one_seeded_choice_for_every_frame():
    from meanfield.app.figures import _subset

    x = np.random.default_rng(0).standard_normal((3, 50, 3))
    sub = _subset(x, 20)
    assert sub.shape == (3, 20, 3)
    keep = [int(np.flatnonzero((x[0] == row).all(axis=1))[0]) for row in sub[0]]
    assert keep == sorted(keep) and len(set(keep)) == 20
    np.testing.assert_array_equal(sub, x[:, keep])  # the same tokens at every frame
    np.testing.assert_array_equal(_subset(x, 20), sub)  # seeded
    assert _subset(x, 50) is x
