"""Maps of the whole sphere (meanfield.plot.maps) and vector output (meanfield.plot.style)."""

import re
import xml.etree.ElementTree as ET
import zlib

import numpy as np
import pytest

import meanfield as mf
from meanfield.plot import maps, style
from meanfield.plot.render import VIEW

# off the 30-degree grid lines of the map
LON = np.radians([20.0, 100.0, -150.0, -80.0])
LAT = np.radians([35.0, -25.0, 15.0, -45.0])


@pytest.fixture(scope="module")
def clusters():
    centres = maps.from_lonlat(LON, LAT)
    rho = mf.DG(mf.SphereMesh.icosphere(3), 1).interpolate(
        lambda x: 0.02 + sum(np.exp(30.0 * (x @ c - 1.0)) for c in centres)
    )
    return rho, centres


def _pixels(fig, dpi=150):
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    fig.set_dpi(dpi)
    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    return np.asarray(canvas.buffer_rgba())[..., :3].astype(float)


def _colour_fraction(rgb, cmap):
    lut = cmap(np.linspace(0.0, 1.0, 256))[:, :3] * 255.0
    dist = np.linalg.norm(lut - rgb, axis=1)
    return np.argmin(dist) / 255.0, dist.min()


def test_four_clusters_at_top_of_colour_range(clusters):
    rho, centres = clusters
    assert (centres @ np.array(VIEW) < 0).sum() == 2  # two hidden from the default camera
    ax = maps.density_map(rho)
    img = _pixels(ax.figure)
    mesh = ax.collections[0]
    height = img.shape[0]
    for lon, lat in zip(LON, LAT, strict=True):
        x, y = ax.transData.transform((lon, lat))
        frac, miss = _colour_fraction(img[int(round(height - y)), int(round(x))], mesh.cmap)
        assert miss < 3.0  # the pixel is a colour of the map, not a grid line or a dot
        assert frac > 0.9
    # and a point between clusters is at the bottom
    x, y = ax.transData.transform((np.radians(-100.0), np.radians(60.0)))
    frac, _ = _colour_fraction(img[int(round(height - y)), int(round(x))], mesh.cmap)
    assert frac < 0.2


def _pdf_streams(data):
    out = []
    for m in re.finditer(rb">>\s*stream\r?\n(.*?)endstream", data, re.S):
        raw = m.group(1)
        try:
            out.append(zlib.decompress(raw))
        except zlib.error:
            out.append(raw)
    return out


@pytest.mark.parametrize("width", [3.4, 7.0])
def test_pdf_map_is_vector(clusters, tmp_path, width):
    rho, centres = clusters
    ax = maps.density_map(rho, tokens=centres, width=width, title="$t = 1$")
    path = style.save(ax.figure, tmp_path / "map.pdf")
    data = path.read_bytes()
    images = re.findall(rb"(\d+) 0 obj\s*<<[^>]*?/Subtype /Image", data)
    masks = set(re.findall(rb"/SMask (\d+) 0 R", data))  # the raster's alpha channel
    assert len([i for i in images if i not in masks]) == 1  # the density raster only
    content = b"".join(s for s in _pdf_streams(data) if b"BT" in s or b" re" in s or b" m" in s)
    assert content.count(b"BT") >= 5  # tick labels, colour bar label, title as text
    assert b"/FontFile2" in data  # embedded TrueType: text, not outlines
    assert re.search(rb"\d \d+(\.\d+)? l\b", content)  # line segments: paths
    width_pt = float(re.search(rb"/MediaBox \[ ?0 0 ([\d.]+)", data).group(1))
    assert width_pt == pytest.approx(72 * width, abs=0.5)


def test_svg_map(clusters, tmp_path):
    rho, _ = clusters
    ax = maps.density_map(rho)
    path = style.save(ax.figure, tmp_path / "map.svg")
    root = ET.parse(path).getroot()
    tags = [el.tag.rsplit("}", 1)[-1] for el in root.iter()]
    assert tags.count("image") == 1
    assert tags.count("text") >= 5
    assert tags.count("path") >= 10


@pytest.mark.parametrize("width", [3.4, 7.0])
def test_fonts_at_least_8_pt(clusters, width):
    from matplotlib.text import Text

    rho, _ = clusters
    ax = maps.density_map(rho, width=width, title="t")
    _pixels(ax.figure)
    texts = [t for t in ax.figure.findobj(Text) if t.get_visible() and t.get_text()]
    assert len(texts) >= 5
    assert min(t.get_fontsize() for t in texts) >= 8
    assert ax.figure.get_size_inches()[0] == pytest.approx(width)


def test_circle_map_and_shared_limits(tmp_path):
    rho = mf.DG(mf.SphereMesh.circle(64), 1).interpolate(
        lambda x: 0.02 + np.exp(20.0 * (x[:, 0] - 1.0))
    )
    ax = maps.density_map(rho, tokens=rho.sample(400, 1))
    line = ax.get_lines()[0]
    theta, y = line.get_data()
    # relative to uniform: the curve integrates to 2 pi over the angle
    assert np.trapezoid(y, theta) == pytest.approx(2 * np.pi, rel=2e-3)
    assert abs(theta[np.argmax(y)]) < 0.01  # the peak at angle 0
    assert ax.get_yscale() == "log"

    class Solution:
        t = np.array([0.0, 1.0])
        densities = [rho, mf.DG(rho.space.mesh, 1).interpolate(lambda x: 1.0 + 0.0 * x[:, 0])]

    fig = maps.density_maps(Solution(), [0.0, 1.0])
    lims = {a.get_ylim() for a in fig.axes}
    assert len(lims) == 1  # one y range for every panel
    style.save(fig, tmp_path / "c.svg")


def test_density_maps_one_colour_bar_and_range():
    space = mf.DG(mf.SphereMesh.icosphere(2), 1)
    sharp = space.interpolate(lambda x: 0.01 + np.exp(30.0 * (x[:, 2] - 1.0)))
    flat = space.interpolate(lambda x: 1.0 + 0.2 * x[:, 0])

    class Solution:
        t = np.array([0.0, 1.0, 2.0])
        densities = [flat, sharp, flat]

    fig = maps.density_maps(Solution(), [0.0, 2.0, 1.0], samples=90)
    meshes = [a.collections[0] for a in fig.axes if a.name == "mollweide"]
    assert len(meshes) == 3
    assert len({(m.norm.vmin, m.norm.vmax) for m in meshes}) == 1
    assert meshes[0].norm.vmax == pytest.approx(meshes[2].get_array().max())  # sharp sets it
    assert len(fig.axes) == 4  # three maps and one colour bar


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"projection": "mercator"}, "projection"),
        ({"norm": "sqrt"}, "norm"),
        ({"norm": "log", "vmin": -1.0}, "vmin"),
        ({"samples": 3}, "samples"),
        ({"tokens": np.zeros((3, 2))}, "tokens"),
    ],
)
def test_bad_input(kwargs, match):
    rho = mf.DG(mf.SphereMesh.icosphere(1), 0).interpolate(lambda x: 1.0 + x[:, 0])
    with pytest.raises(ValueError, match=match):
        maps.density_map(rho, **kwargs)


def test_ax_of_another_projection_is_refused():
    rho = mf.DG(mf.SphereMesh.icosphere(1), 0).interpolate(lambda x: 1.0 + x[:, 0])
    ax = style.figure().add_subplot()
    with pytest.raises(ValueError, match="ax must be a 'mollweide' axes"):
        maps.density_map(rho, ax=ax)
    hammer = style.figure().add_subplot(projection="hammer")
    assert maps.density_map(rho, ax=hammer, projection="hammer") is hammer


def test_save_formats(tmp_path):
    ax = style.figure().add_subplot()
    ax.plot([0, 1], [0, 1])
    assert style.save(ax.figure, tmp_path / "a", format="pdf").suffix == ".pdf"
    with pytest.raises(ValueError, match="format must be one of"):
        style.save(ax.figure, tmp_path / "a.jpg")
    with pytest.raises(ValueError, match="width"):
        style.figure(width=0)


def test_flow_map_density_is_mapped_from_its_own_values():
    rho0 = mf.DG(mf.SphereMesh.icosphere(1), 1).interpolate(lambda x: 1.0 + 0.5 * x[:, 2])
    sol = mf.solve_density(mf.Attention(1.0), rho0, [0.0, 0.2], scheme="lagrangian")
    moved = sol.densities[-1]
    pts = maps.from_lonlat(np.radians([10.0, -70.0]), np.radians([40.0, -20.0]))
    np.testing.assert_allclose(
        maps.display_density(moved, pts), maps.relative_density(moved, pts), rtol=1e-12
    )
    assert maps.density_map(moved, samples=30).collections[0].norm.vmax > 1.0


def test_display_smoothing_kernel_is_reused_only_for_its_space_and_points():
    space = mf.DG(mf.SphereMesh.icosphere(2), 1)
    a = space.interpolate(mf.initial.VonMisesFisher([[0.0, 0.0, 1.0]], 8.0))
    b = space.interpolate(mf.initial.VonMisesFisher([[1.0, 0.0, 0.0]], 3.0))
    pts = mf.sample_sphere(500, 3, 0)
    other = mf.sample_sphere(300, 3, 1)

    def fresh(rho, p):
        maps._KERNELS.clear()
        return maps.display_density(rho, p)

    expect = [fresh(a, pts), fresh(b, pts), fresh(a, other)]
    maps._KERNELS.clear()
    got = [maps.display_density(a, pts), maps.display_density(b, pts),
           maps.display_density(a, other)]  # fmt: skip
    assert len(maps._KERNELS) == 2  # one kernel per point set, shared by both densities
    for g, e in zip(got, expect, strict=True):
        np.testing.assert_allclose(g, e, rtol=1e-13)
    assert not np.allclose(got[0], got[1])
    # the same points on another space of the same mesh size get their own kernel
    twin = mf.DG(mf.SphereMesh.icosphere(2), 1).interpolate(
        mf.initial.VonMisesFisher([[0.0, 0.0, 1.0]], 8.0)
    )
    np.testing.assert_allclose(maps.display_density(twin, pts), expect[0], rtol=1e-13)
    assert len(maps._KERNELS) == 3
