"""Sphere renders and animations (meanfield.plot.render): fixed camera, one colour range."""

import subprocess
import sys

import numpy as np
import pytest
from scipy import ndimage

import meanfield as mf
from meanfield.plot import maps, render

BLOB = maps.from_lonlat(np.radians(60.0), np.radians(10.0))


class Frames:
    """A blob at a fixed place whose height grows frame by frame (so per-frame colour ranges
    would differ)."""

    def __init__(self, n):
        space = mf.DG(mf.SphereMesh.icosphere(3), 1)
        self.t = np.linspace(0.0, 1.0, n)
        self.densities = [
            space.interpolate(lambda x, a=a: 0.05 + a * np.exp(40.0 * (x @ BLOB - 1.0)))
            for a in 1.0 + 2.0 * np.arange(n)
        ]


@pytest.fixture(scope="module")
def blob():
    return mf.DG(mf.SphereMesh.icosphere(3), 1).interpolate(
        lambda x: 0.05 + np.exp(40.0 * (x @ BLOB - 1.0))
    )


def _gif_frames(path):
    from PIL import Image, ImageSequence

    return [np.asarray(f.convert("RGB"), float) for f in ImageSequence.Iterator(Image.open(path))]


def _components(img):
    """Saturated regions (sphere disc, colour bar) largest first: (mask, bbox) pairs."""
    sat = img.max(axis=2) - img.min(axis=2) > 40
    lab, n = ndimage.label(sat)
    sizes = ndimage.sum(sat, lab, range(1, n + 1))
    order = np.argsort(-sizes)[:2] + 1
    return [(lab == k, ndimage.find_objects((lab == k).astype(int))[0]) for k in order]


def _screen_axes(view):
    up = np.array([0.0, 0.0, 1.0])
    right = np.cross(up, view)  # camera looks along -view
    right /= np.linalg.norm(right)
    return right, np.cross(view, right)


def test_animation_one_colour_range_and_camera_path(tmp_path):
    n = 4
    path = render.animate(Frames(n), tmp_path / "a.gif", turns=0.25, size=160, dpi=80)
    frames = _gif_frames(path)
    assert len(frames) == n
    cams = render.camera_path(n, render.VIEW, 0.25)
    steps = [
        np.degrees(np.arccos(np.clip(a @ b, -1, 1)))
        for a, b in zip(cams[:-1], cams[1:], strict=True)
    ]
    assert np.ptp(cams[:, 2]) < 1e-12  # elevation fixed
    bars = []
    from matplotlib import colormaps

    lut = colormaps["viridis"](np.linspace(0, 1, 256))[:, :3] * 255
    for img, cam in zip(frames, cams, strict=True):
        (disc, dbox), (bar, bbox) = _components(img)
        assert disc.sum() > bar.sum()
        bars.append((img, bbox))
        ys, xs = np.nonzero(disc)
        cx, cy, r = xs.mean(), ys.mean(), np.sqrt(disc.sum() / np.pi)
        idx = np.argmin(((img[disc][:, None, :] - lut[None]) ** 2).sum(-1), axis=1)
        hot = np.zeros(disc.shape, bool)
        top = idx >= idx.max() - 12  # the blob's brightest pixels
        hot[ys[top], xs[top]] = True
        hy, hx = np.nonzero(hot)
        right, up = _screen_axes(cam)
        assert (hx.mean() - cx) / r == pytest.approx(BLOB @ right, abs=0.06)
        assert (cy - hy.mean()) / r == pytest.approx(BLOB @ up, abs=0.06)
    assert np.ptp(steps) < 1e-9 and steps[0] > 0  # one constant turning rate
    box = bars[0][1]  # the colour bar of the first frame, looked up in every frame
    for img, _ in bars[1:]:
        assert np.abs(img[box] - bars[0][0][box]).mean() < 2.0


def test_render_density_files(blob, tmp_path):
    for name in ["r.png", "r.pdf", "r.svg"]:
        render.render_density(blob, tmp_path / name, size=120)
        assert (tmp_path / name).stat().st_size > 1000
    data = (tmp_path / "r.pdf").read_bytes()
    assert b"/FontFile2" in data  # colour bar and labels are text, not pixels


def test_render_is_silent_on_stderr(tmp_path):
    code = (
        "import meanfield as mf; from meanfield.plot import render as r;"
        "rho = mf.DG(mf.SphereMesh.icosphere(1), 0).interpolate(lambda x: 1 + x[:, 0]);"
        f"r.render_density(rho, {str(tmp_path / 'q.png')!r}, size=64)"
    )
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert res.stderr == ""


def test_render_needs_the_sphere(tmp_path):
    circle = mf.DG(mf.SphereMesh.circle(16), 1).interpolate(lambda x: 1.0 + x[:, 0])
    with pytest.raises(ValueError, match="density must live on S\\^2"):
        render.render_density(circle, tmp_path / "no.png")
    with pytest.raises(ValueError, match="views"):
        render.render_density(
            mf.DG(mf.SphereMesh.icosphere(1), 0).interpolate(lambda x: 1.0 + x[:, 0]), views=3
        )


def test_display_smoothing_keeps_features_and_blurs_jumps():
    space = mf.DG(mf.SphereMesh.icosphere(2), 0)  # piecewise constant: jumps at every edge
    rho = space.interpolate(lambda x: np.exp(3.0 * x[:, 2]))
    raw = render.display_values(rho, smooth=0.0)
    smooth = render.display_values(rho)
    pts = render.surface_points()
    exact = np.exp(3.0 * pts[:, 2]) * 4 * np.pi / rho.integrate()
    # smoothing brings the display closer to the smooth field the cells approximate
    assert np.abs(smooth - exact).mean() < 0.7 * np.abs(raw - exact).mean()
    assert pts[np.argmax(smooth), 2] > 0.95  # the maximum stays at the north pole


def test_save_gif_frames(tmp_path):
    from PIL import Image

    from meanfield.plot import save_gif

    frames = [np.full((20, 30, 3), 40 * k, dtype=np.uint8) for k in range(4)]
    path = save_gif(frames, tmp_path / "a.gif", fps=10)
    with Image.open(path) as im:
        assert im.n_frames == 4 and im.size == (30, 20)
    with pytest.raises(ValueError, match="at least one frame"):
        save_gif([], tmp_path / "b.gif")
    assert not (tmp_path / "b.gif").exists()


def test_render_tokens_two_views(tmp_path):
    from PIL import Image

    x = mf.sample_sphere(200, 3, 0)
    path = render.render_tokens(x, tmp_path / "t.png", size=150)
    with Image.open(path) as im:
        img = np.asarray(im.convert("RGB"), float)
    red = (img[..., 0] > 150) & (img[..., 1] < 90) & (img[..., 2] < 90)
    half = img.shape[1] // 2
    assert red[:, :half].sum() > 50 and red[:, half:].sum() > 50  # tokens on both sides


def test_render_trajectories_coloured_paths(tmp_path):
    from PIL import Image

    t = np.linspace(0.0, 4.0, 9)
    traj = mf.solve_particles(mf.Attention(9.0), mf.sample_sphere(80, 3, 1), t)
    render.render_trajectories(traj, tmp_path / "p.png", size=200)
    with Image.open(tmp_path / "p.png") as im:
        img = np.asarray(im.convert("RGB"), float)
    coloured = img.max(axis=2) - img.min(axis=2) > 60  # cluster colours, not the grey sphere
    half = img.shape[1] // 2
    assert coloured[:, :half].sum() > 100 and coloured[:, half:].sum() > 100
    with pytest.raises(ValueError, match="S\\^2"):
        render.render_trajectories(type("T", (), {"t": t, "x": traj.x[..., :2]})())
