"""Figures: density renders on S^2 and S^1, GIFs, and plot_run on a tiny S^2 run."""

import numpy as np
import pytest
from PIL import Image

import meanfield as mf
from meanfield.app.config import resolve
from meanfield.app.run import execute
from meanfield.initial import VonMisesFisher, WhiteNoise
from meanfield.plot import plot_circle_density, render_density, save_gif


def _pixels(path):
    with Image.open(path) as im:
        return np.asarray(im.convert("RGB"), dtype=float)


def test_render_density_on_the_sphere(tmp_path):
    space = mf.DG(mf.SphereMesh.icosphere(2), 1)
    rho = space.interpolate(VonMisesFisher([[0.0, 0.0, 1.0], [1.0, 0.0, 0.0]], 20.0))
    alone = render_density(rho, tmp_path / "alone.png", title="t = 0")
    img = _pixels(alone)
    assert img.shape == (500, 500, 3) and img.std() > 20  # not a blank image
    tokens = VonMisesFisher([[0.0, 0.0, 1.0]], 20.0).sample(200, 0)
    both = _pixels(render_density(rho, tmp_path / "both.png", tokens=tokens))
    assert both.shape == (500, 1000, 3)
    assert both[:, 500:].std() > 20  # the token panel is drawn too
    circle = mf.DG(mf.SphereMesh.circle(16), 1).interpolate(WhiteNoise(2, 0.1, 2, 0))
    with pytest.raises(ValueError, match="density must live on S\\^2"):
        render_density(circle, tmp_path / "no.png")


def test_circle_density_figure(tmp_path):
    rho = mf.DG(mf.SphereMesh.circle(64), 1).interpolate(WhiteNoise(2, 0.5, 3, 1))
    tokens = rho.sample(300, 2)
    path = plot_circle_density(rho, tmp_path / "c.png", tokens=tokens, title="t = 0")
    assert path.stat().st_size > 10_000 and _pixels(path).std() > 20


def test_save_gif_frames(tmp_path):
    frames = [np.full((20, 30, 3), 40 * k, dtype=np.uint8) for k in range(4)]
    path = save_gif(frames, tmp_path / "a.gif", fps=10)
    with Image.open(path) as im:
        assert im.n_frames == 4 and im.size == (30, 20)
    with pytest.raises(ValueError, match="at least one frame"):
        save_gif([], tmp_path / "b.gif")
    assert not (tmp_path / "b.gif").exists()


def test_plot_run_on_the_sphere(tmp_path):
    cfg = resolve(
        {
            "mesh": {"level": 1},
            "particles": {"n": 50, "dt": 0.05},
            "times": {"t_end": 0.2, "frames": 3},
            "output": {"render": [0.2]},
        }
    )
    res = execute(cfg, out=tmp_path / "run")
    names = sorted(p.name for p in res.figures)
    assert names == [
        "animation.gif",
        "clusters.png",
        "density_t0.20.png",
        "distance.png",
        "energy.png",
    ]
    for p in res.figures:
        assert p.parent == tmp_path / "run" / "figures" and p.stat().st_size > 5_000
    with Image.open(tmp_path / "run" / "figures" / "animation.gif") as im:
        assert im.n_frames == 3
