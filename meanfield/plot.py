"""Figures: matplotlib line plots and pyvista off-screen renders on the sphere.

matplotlib and pyvista are imported inside the functions, so importing meanfield stays light.
Every function writes one image file and returns its path.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ._checks import as_real_array

__all__ = ["plot_circle_trajectories", "render_tokens", "plot_series"]


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_circle_trajectories(t, x, path, title: str | None = None) -> Path:
    r"""Angles of tokens on :math:`S^1` against time (the classic clustering picture).

    Parameters
    ----------
    t : array_like, shape (T,)
    x : array_like, shape (T, n, 2)
    path : str or Path
        Image file to write (PNG).
    """
    t = as_real_array(t, "t", ndim=1)
    x = as_real_array(x, "x", ndim=3)
    if x.shape[-1] != 2 or x.shape[0] != t.shape[0]:
        raise ValueError(f"x must have shape ({t.shape[0]}, n, 2), got {x.shape}")
    plt = _pyplot()
    angle = np.arctan2(x[..., 1], x[..., 0])
    # break the line where a token wraps from pi to -pi instead of drawing a vertical streak
    jump = np.zeros(angle.shape, bool)
    jump[1:] = np.abs(np.diff(angle, axis=0)) > np.pi
    angle = np.where(jump, np.nan, angle)
    fig, ax = plt.subplots(figsize=(6, 4), dpi=120)
    ax.plot(t, angle, lw=0.6, color="tab:blue", alpha=0.6)
    ax.set_xlabel("t")
    ax.set_ylabel("token angle (rad)")
    ax.set_ylim(-np.pi, np.pi)
    ax.set_title(title or f"{x.shape[1]} tokens on the circle")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return Path(path)


def plot_series(t, series: dict, path, ylabel: str = "", logy: bool = False) -> Path:
    """Several named curves against time in one axes.

    Parameters
    ----------
    t : array_like, shape (T,)
    series : dict of str -> array_like, shape (T,)
    path : str or Path
    """
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6, 4), dpi=120)
    for name, values in series.items():
        ax.plot(t, values, label=name)
    ax.set_xlabel("t")
    ax.set_ylabel(ylabel)
    if logy:
        ax.set_yscale("log")
    if len(series) > 1:
        ax.legend()
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return Path(path)


def render_tokens(x, path, color=None, window=(800, 800)) -> Path:
    r"""Render tokens on :math:`S^2` as points on a translucent sphere, off-screen.

    Parameters
    ----------
    x : array_like, shape (n, 3)
    path : str or Path
        PNG file to write.
    color : array_like, shape (n,), optional
        Scalar per token (default: its z coordinate).
    """
    import pyvista as pv

    pv.OFF_SCREEN = True
    x = as_real_array(x, "x", ndim=2)
    if x.shape[1] != 3:
        raise ValueError(f"x must have shape (n, 3) to render on S^2, got {x.shape}")
    cloud = pv.PolyData(1.01 * x)
    cloud["value"] = x[:, 2] if color is None else np.asarray(color, float)
    plotter = pv.Plotter(off_screen=True, window_size=list(window))
    plotter.add_mesh(
        pv.Sphere(radius=1.0, theta_resolution=60, phi_resolution=60), color="w", opacity=0.35
    )
    plotter.add_mesh(
        cloud,
        scalars="value",
        point_size=8,
        render_points_as_spheres=True,
        cmap="viridis",
        show_scalar_bar=False,
    )
    centre = x.mean(axis=0)
    if np.linalg.norm(centre) > 0.1:  # look at where the tokens are
        plotter.camera.position = tuple(5.5 * centre / np.linalg.norm(centre))
        plotter.camera.focal_point = (0.0, 0.0, 0.0)
    else:
        plotter.camera_position = "iso"
    plotter.screenshot(str(path))
    plotter.close()
    return Path(path)
