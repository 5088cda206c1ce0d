r"""Sphere renders (pyvista, off-screen) composed into matplotlib figures.

The density is evaluated on a fine icosphere (level 6: 40 962 vertices, about 16 per edge of a
level-3 DG cell) and coloured there through the same matplotlib norm and colour map as the
colour bar, with Gouraud shading between vertices: the DG field looks smooth, jumps between
cells show as sharp but thin edges. The camera is fixed (``VIEW`` unless given) with a parallel
projection, so one run's images are comparable; ``views=2`` adds the antipodal view, so the
whole sphere is seen. The sphere image is embedded in a matplotlib figure with a labelled log
colour bar beside it: PNG, PDF and SVG (text and bar as vectors, the sphere as one image).
An animation keeps one colour range for the whole run and turns the camera slowly about the
z axis at a constant rate.

pyvista is imported inside the functions; VTK's "bad X server connection" warning of
off-screen rendering is silenced (:func:`quiet_vtk`).
"""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np

from .._checks import as_int, as_points, as_real_array
from .maps import (
    SMOOTH,
    colour_limits,
    display_density,
    from_lonlat,
    lonlat,
    make_norm,
    sample,
    style_colorbar,
)
from .style import COLUMN, figure, print_style

__all__ = [
    "VIEW",
    "render_tokens",
    "render_trajectories",
    "quiet_vtk",
    "display_values",
    "surface_points",
    "camera_path",
    "sphere_image",
    "render_density",
    "animate",
]

#: default camera direction (unit vector from the centre towards the camera)
VIEW = tuple(np.array([1.0, 0.5, 0.4]) / np.linalg.norm([1.0, 0.5, 0.4]))
LEVEL = 6  # icosphere subdivisions of the render surface
TOKEN_COLOUR = "#d62728"


def quiet_vtk() -> None:
    """Keep VTK's logger to errors on stderr (off-screen rendering warns of a missing X server
    and then renders fine without one)."""
    import vtk

    vtk.vtkLogger.SetStderrVerbosity(vtk.vtkLogger.VERBOSITY_ERROR)


def _unit(v, name):
    v = as_real_array(v, name, ndim=1)
    if v.shape != (3,) or not np.linalg.norm(v) > 0:
        raise ValueError(f"{name} must be a non-zero 3-vector, got {v}")
    return v / np.linalg.norm(v)


def camera_path(frames: int, view=VIEW, turns: float = 0.25) -> np.ndarray:
    """Camera directions of an animation: ``view`` turned about the z axis by ``turns`` of a
    full turn over ``frames`` frames, in equal steps (elevation fixed).

    Returns
    -------
    ndarray, shape (frames, 3)
    """
    frames = as_int(frames, "frames", min_value=1)
    lon, lat = lonlat(_unit(view, "view")[None, :])
    step = 2.0 * np.pi * float(turns) / max(frames - 1, 1)
    return from_lonlat(lon[0] + step * np.arange(frames), np.full(frames, lat[0]))


@functools.lru_cache(maxsize=2)
def _icosphere(level):
    import pyvista as pv

    ico = pv.Icosphere(radius=1.0, nsub=level)
    return np.asarray(ico.points, float), np.asarray(ico.faces)


def display_values(rho, level: int = LEVEL, smooth: float = SMOOTH) -> np.ndarray:
    r""":math:`\rho/\bar\rho` at the render surface's vertices (:func:`surface_points`),
    smoothed for display over ``smooth`` DG cells exactly as the maps are
    (:func:`meanfield.plot.maps.display_density`): renders and maps show one field.

    Returns
    -------
    ndarray, shape (m,)
    """
    return display_density(rho, _icosphere(as_int(level, "level", min_value=0))[0], smooth)


def surface_points(level: int = LEVEL) -> np.ndarray:
    """Vertices (m, 3) of the render surface (an icosphere of ``level`` subdivisions): the
    points where a render evaluates the density, e.g. to fix one colour range for a run."""
    return _icosphere(as_int(level, "level", min_value=0))[0].copy()


def _surface(level=LEVEL):
    """A fresh PolyData of the unit icosphere (the cached arrays are copied, not shared)."""
    import pyvista as pv

    points, faces = _icosphere(level)
    return pv.PolyData(points.copy(), faces.copy())


def sphere_image(rho, view=VIEW, norm=None, cmap="viridis", size: int = 600, tokens=None,
                 level: int = LEVEL) -> np.ndarray:  # fmt: skip
    r"""RGBA image (size, size, 4) of :math:`\rho/\bar\rho` on the sphere seen from ``view``.

    Parameters
    ----------
    rho : Density or flow-map density on S^2
    view : array_like, shape (3,)
        Direction of the camera from the centre (parallel projection).
    norm : matplotlib Normalize, optional
        Colour scale (default: log over three decades below the maximum).
    cmap : str or Colormap
    size : int
        Pixels per side.
    tokens : array_like, shape (n, 3), optional
        Drawn as red points (those on the far side are hidden by the sphere).
    level : int
        Icosphere subdivisions of the rendered surface.
    """
    import pyvista as pv
    from matplotlib import colormaps

    _on_sphere(rho)
    quiet_vtk()
    view = _unit(view, "view")
    surf = _surface(level)
    values = display_values(rho, level)
    norm = make_norm("log", *colour_limits(values)) if norm is None else norm
    cmap = colormaps[cmap] if isinstance(cmap, str) else cmap
    rgb = cmap(norm(np.clip(values, norm.vmin, None)))[:, :3]
    surf.point_data["rgb"] = (255 * rgb).astype(np.uint8)
    size = as_int(size, "size", min_value=16)
    plotter = pv.Plotter(off_screen=True, window_size=[size, size])
    # unlit: every pixel has exactly the colour bar's colour for its value
    plotter.add_mesh(surf, scalars="rgb", rgb=True, smooth_shading=True, lighting=False)
    if tokens is not None:
        pts = as_points(tokens, "tokens", d=3)
        cloud = pv.PolyData(1.01 * pts / np.linalg.norm(pts, axis=1, keepdims=True))
        plotter.add_mesh(cloud, color=TOKEN_COLOUR, point_size=max(3, size // 120),
                         render_points_as_spheres=True, lighting=False)  # fmt: skip
    _place_camera(plotter, view)
    img = plotter.screenshot(transparent_background=True, return_img=True)
    plotter.close()
    return img


def _on_sphere(rho):
    d = _dim(rho)
    if d != 3:
        raise ValueError(f"density must live on S^2 to render, got points in R^{d}")


def _place_camera(plotter, view):
    up = (0.0, 0.0, 1.0) if abs(view[2]) < 0.99 else (0.0, 1.0, 0.0)
    plotter.camera_position = [tuple(5.0 * view), (0.0, 0.0, 0.0), up]
    plotter.enable_parallel_projection()
    plotter.camera.parallel_scale = 1.03  # the sphere fills the image, nothing cut


def _view_name(v):
    lon, lat = (np.degrees(a[0]) for a in lonlat(np.asarray(v, float)[None, :]))
    ew, ns = ("E" if lon >= 0 else "W"), ("N" if lat >= 0 else "S")
    return f"seen from {abs(lon):.0f}\u00b0 {ew}, {abs(lat):.0f}\u00b0 {ns}"


def render_density(
    rho,
    path=None,
    views: int = 2,
    view=VIEW,
    norm="log",
    vmin: float | None = None,
    vmax: float | None = None,
    cmap="viridis",
    tokens=None,
    title: str | None = None,
    width: float = COLUMN,
    size: int = 600,
):
    r"""A density on :math:`S^2` rendered as a shaded sphere, with a labelled colour bar.

    Parameters
    ----------
    rho : Density or flow-map density on S^2
    path : str or Path, optional
        Also write the figure there (PDF, SVG or PNG from the suffix).
    views : {1, 2}
        One view from ``view``, or that and the antipodal view side by side (the whole sphere).
    view : array_like, shape (3,)
        Camera direction; keep it fixed across a run.
    norm, vmin, vmax, cmap
        Colour scale as in :func:`meanfield.plot.density_map`; pass the limits of the whole run
        to compare images.
    tokens : array_like, shape (n, 3), optional
    title : str, optional
    width : float
        Figure width in inches.
    size : int
        Pixels per side of each sphere image.

    Returns
    -------
    matplotlib.figure.Figure
    """
    from .style import save

    _on_sphere(rho)
    if views not in (1, 2):
        raise ValueError(f"views must be 1 or 2, got {views!r}")
    view = _unit(view, "view")
    lo, hi = _render_limits(rho, norm, vmin, vmax)
    mnorm = make_norm(norm, lo, hi)
    dirs = [view] if views == 1 else [view, -view]
    images = [sphere_image(rho, v, mnorm, cmap, size, tokens) for v in dirs]
    fig = _compose(images, dirs, mnorm, cmap, title, width)
    if path is not None:
        save(fig, path)
    return fig


def _render_limits(rho, norm, vmin, vmax):
    from matplotlib.colors import LogNorm, Normalize

    if isinstance(norm, Normalize) and norm.vmin is not None and norm.vmax is not None:
        return norm.vmin, norm.vmax
    kind = ("log" if isinstance(norm, LogNorm) else "linear") if isinstance(norm, Normalize) \
        else norm  # fmt: skip
    values = display_values(rho)
    return colour_limits(values, kind, vmin, vmax)


def _compose(images, dirs, norm, cmap, title, width):
    from matplotlib.cm import ScalarMappable

    with print_style():
        k = len(images)
        fig = figure(width, height=width / k * 0.92 + 0.55)
        axes = fig.subplots(1, k, squeeze=False)[0]
        for ax, img, v in zip(axes, images, dirs, strict=True):
            ax.imshow(img, interpolation="antialiased")
            ax.set_axis_off()
            ax.set_title(_view_name(v), fontsize=8)
        bar = fig.colorbar(ScalarMappable(norm=norm, cmap=cmap), ax=list(axes),
                           orientation="horizontal", shrink=0.7, aspect=30, pad=0.02)  # fmt: skip
        style_colorbar(bar)
        if title:
            fig.suptitle(title)
    return fig


def animate(
    solution,
    path,
    tokens=None,
    turns: float = 0.25,
    view=VIEW,
    fps: float = 5.0,
    norm="log",
    vmin: float | None = None,
    vmax: float | None = None,
    cmap="viridis",
    width: float = COLUMN,
    dpi: float = 150,
    size: int = 400,
    progress: bool = False,
) -> Path:
    """GIF of a density solution: one colour range for every frame; on S^2 a camera turning
    slowly about the z axis (:func:`camera_path`), on S^1 the density against the angle.

    Parameters
    ----------
    solution : DensitySolution or SavedRun
        ``t`` and ``densities`` (or ``density(k)``).
    path : str or Path
        GIF file, written atomically.
    tokens : Trajectory or (T, n, d) array, optional
        Tokens at the same frames.
    turns : float
        Fraction of a full turn of the camera over the animation.
    view : array_like, shape (3,)
        Camera direction of the first frame.
    fps : float
    norm, vmin, vmax, cmap
        Colour scale; limits default to those of all frames together.
    width, dpi : float
        Frame size in inches and its resolution.
    size : int
        Pixels per side of the sphere image.

    Returns
    -------
    Path
    """
    from .curves import figure_image, save_gif

    rhos = _densities(solution)
    toks = _frame_tokens(tokens, len(rhos))
    frames = range(len(rhos))
    if progress:
        from tqdm.auto import tqdm

        frames = tqdm(frames, desc="animation", unit="frame", leave=False)
    t = np.asarray(solution.t, float)
    if _dim(rhos[0]) == 2:
        lo, hi = colour_limits([sample(r)[1] for r in rhos], _kind(norm), vmin, vmax)
        return save_gif([_circle_frame(rhos[k], toks[k], t[k], lo, hi, norm, width, dpi)
                         for k in frames], path, fps)  # fmt: skip
    lo, hi = colour_limits([display_values(r) for r in rhos], _kind(norm), vmin, vmax)
    mnorm = make_norm(norm, lo, hi)
    cams = camera_path(len(rhos), view, turns)
    images = []
    for k in frames:
        img = sphere_image(rhos[k], cams[k], mnorm, cmap, size, toks[k])
        fig = _compose([img], [cams[k]], mnorm, cmap, f"$t = {t[k]:.2f}$", width)
        images.append(figure_image(fig, dpi))
    return save_gif(images, path, fps)


def _kind(norm):
    from matplotlib.colors import LogNorm, Normalize

    if isinstance(norm, Normalize):
        return "log" if isinstance(norm, LogNorm) else "linear"
    return norm


def _dim(rho):
    return int(rho.space.dim) if hasattr(rho, "space") else rho.quadrature_measure()[0].shape[1]


def _densities(solution):
    get = getattr(solution, "density", None)
    if callable(get):
        return [get(k) for k in range(len(solution.t))]
    return list(solution.densities)


def _frame_tokens(tokens, n):
    if tokens is None:
        return [None] * n
    x = np.asarray(getattr(tokens, "x", tokens), float)
    if x.shape[0] != n:
        raise ValueError(f"tokens must have one frame per density frame ({n}), got {x.shape[0]}")
    return list(x)


def _circle_frame(rho, x, s, lo, hi, norm, width, dpi):
    from .curves import figure_image
    from .maps import density_map

    ax = density_map(rho, tokens=x, norm=norm, vmin=lo, vmax=hi, title=f"$t = {s:.2f}$",
                     width=width)  # fmt: skip
    return figure_image(ax.figure, dpi)


def render_tokens(x, path, view=VIEW, size: int = 800, title: str | None = None) -> Path:
    r"""Tokens on :math:`S^2` as red points on a light grey sphere, from the fixed camera
    ``view`` and its antipode (the whole sphere), written to ``path`` (PNG, PDF or SVG).

    Parameters
    ----------
    x : array_like, shape (n, 3)
    path : str or Path
    view : array_like, shape (3,)
    size : int
        Pixels per side of each view.
    """
    import pyvista as pv

    from .style import save

    x = as_points(x, "x", d=3)
    view = _unit(view, "view")
    images = []
    for v in (view, -view):
        quiet_vtk()
        plotter = pv.Plotter(off_screen=True, window_size=[size, size])
        plotter.add_mesh(_surface(4), color="#e0e0e0", smooth_shading=True, lighting=False)
        cloud = pv.PolyData(1.01 * x / np.linalg.norm(x, axis=1, keepdims=True))
        plotter.add_mesh(cloud, color=TOKEN_COLOUR, point_size=max(3, size // 120),
                         render_points_as_spheres=True, lighting=False)  # fmt: skip
        _place_camera(plotter, v)
        images.append(plotter.screenshot(transparent_background=True, return_img=True))
        plotter.close()
    with print_style():
        fig = figure(COLUMN, height=COLUMN / 2 * 0.95 + (0.25 if title else 0.0))
        for ax, img, v in zip(fig.subplots(1, 2), images, (view, -view), strict=True):
            ax.imshow(img)
            ax.set_axis_off()
            ax.set_title(_view_name(v), fontsize=8)
        if title:
            fig.suptitle(title)
    return save(fig, path)


def render_trajectories(traj, path=None, view=VIEW, batch: int = 0, radius: float = 0.15,
                        max_tokens: int | None = 400, size: int = 600,
                        title: str | None = None, width: float = COLUMN):  # fmt: skip
    r"""Token paths on :math:`S^2` drawn on a grey sphere from the fixed camera ``view`` and its
    antipode, coloured by the cluster each token ends in (as in
    :func:`meanfield.plot.trajectories`), end points as dots.

    Parameters
    ----------
    traj : Trajectory
        ``t`` (T,) and ``x`` (T, n, 3) or (T, B, n, 3).
    path : str or Path, optional
        Also write the figure there.
    view : array_like, shape (3,)
    batch, radius, max_tokens
        As in :func:`meanfield.plot.trajectories`.
    size : int
        Pixels per side of each view.
    title : str, optional
    width : float

    Returns
    -------
    matplotlib.figure.Figure
    """
    import pyvista as pv
    from matplotlib.colors import to_rgb

    from .style import save
    from .tokens import cluster_colours, token_subset

    _, x, keep = token_subset(traj, batch, max_tokens)
    if x.shape[2] != 3:
        raise ValueError(f"traj.x must hold points on S^2 to render, got d = {x.shape[2]}")
    colours = np.array([to_rgb(c) for c in cluster_colours(x[-1], radius)])[keep]
    x = x[:, keep]
    x = 1.004 * x / np.linalg.norm(x, axis=2, keepdims=True)
    T, n, _ = x.shape
    cells = np.hstack([np.r_[T, k * T + np.arange(T)] for k in range(n)])
    lines = pv.PolyData(x.transpose(1, 0, 2).reshape(-1, 3), lines=cells)
    lines.cell_data["rgb"] = (255 * colours).astype(np.uint8)
    ends = pv.PolyData(1.003 * x[-1])
    ends.point_data["rgb"] = (255 * colours).astype(np.uint8)
    view = _unit(view, "view")
    images = []
    for v in (view, -view):
        quiet_vtk()
        plotter = pv.Plotter(off_screen=True, window_size=[size, size])
        plotter.add_mesh(_surface(4), color="#e8e8e8", smooth_shading=True, lighting=False)
        plotter.add_mesh(lines, scalars="rgb", rgb=True, line_width=max(1, size // 400),
                         lighting=False)  # fmt: skip
        plotter.add_mesh(ends, scalars="rgb", rgb=True, point_size=max(4, size // 80),
                         render_points_as_spheres=True, lighting=False)  # fmt: skip
        _place_camera(plotter, v)
        images.append(plotter.screenshot(transparent_background=True, return_img=True))
        plotter.close()
    with print_style():
        fig = figure(width, height=width / 2 * 0.95 + (0.3 if title else 0.1))
        for ax, img, v in zip(fig.subplots(1, 2), images, (view, -view), strict=True):
            ax.imshow(img)
            ax.set_axis_off()
            ax.set_title(_view_name(v), fontsize=8)
        if title:
            fig.suptitle(title)
    if path is not None:
        save(fig, path)
    return fig
