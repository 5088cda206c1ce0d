"""Figures drawn with matplotlib: curves, densities on the circle, token angles, GIF frames.

matplotlib is imported inside the functions, so importing meanfield stays light.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .._checks import as_real_array

__all__ = [
    "circle_figure",
    "figure_image",
    "plot_circle_density",
    "plot_circle_trajectories",
    "plot_series",
    "pyplot",
    "save_gif",
]


def pyplot():
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
    plt = pyplot()
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
    plt = pyplot()
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


def circle_figure(density, tokens=None, title: str | None = None, ylim=None):
    plt = pyplot()
    theta = np.linspace(-np.pi, np.pi, 2001)
    rho = density.evaluate(np.column_stack([np.cos(theta), np.sin(theta)]))
    fig, ax = plt.subplots(figsize=(6, 3.6), dpi=100)
    if tokens is not None:
        ang = np.arctan2(tokens[:, 1], tokens[:, 0])
        ax.hist(ang, bins=180, range=(-np.pi, np.pi), density=True, color="tab:orange",
                alpha=0.6, histtype="stepfilled", label=f"{len(tokens)} tokens")  # fmt: skip
    ax.plot(theta, rho / density.integrate(), color="tab:blue", lw=1.2, label="PDE density")
    ax.set_xlim(-np.pi, np.pi)
    if ylim is not None:
        ax.set_ylim(*ylim)
    ax.set_xlabel("angle (rad)")
    ax.set_ylabel("probability density")
    ax.set_title(title or "density on the circle")
    ax.legend(loc="upper right")
    fig.tight_layout()
    return fig


def plot_circle_density(density, path, tokens=None, title: str | None = None) -> Path:
    r"""A density on :math:`S^1` against the angle, with a histogram of tokens if given.

    Parameters
    ----------
    density : Density
        On an S^1 mesh; drawn normalised to mass 1.
    path : str or Path
        Image file, written atomically.
    tokens : array_like, shape (n, 2), optional
    """
    from .._files import atomic_write

    if density.space.dim != 2:
        raise ValueError(f"density must live on S^1, got points in R^{density.space.dim}")
    plt = pyplot()
    fig = circle_figure(density, tokens, title)
    try:
        return atomic_write(path, lambda tmp: fig.savefig(tmp))
    finally:
        plt.close(fig)


def save_gif(images, path, fps: float = 5.0) -> Path:
    """Write RGB(A) frames (a list of (H, W, 3|4) uint8 arrays) as a looping GIF, atomically."""
    from PIL import Image

    from .._files import atomic_write

    frames = [Image.fromarray(np.asarray(im)).convert("RGB") for im in images]
    if not frames:
        raise ValueError("images must hold at least one frame, got none")

    def write(tmp):
        frames[0].save(tmp, format="GIF", save_all=True, append_images=frames[1:],
                       duration=int(1000 / fps), loop=0)  # fmt: skip

    return atomic_write(path, write)


def figure_image(fig):
    fig.canvas.draw()
    return np.asarray(fig.canvas.buffer_rgba())[..., :3].copy()
