"""Figures: matplotlib line plots and pyvista off-screen renders on the sphere.

matplotlib and pyvista are imported inside the functions, so importing meanfield stays light.
Every function writes one image file and returns its path.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ._checks import as_real_array

__all__ = [
    "plot_circle_trajectories",
    "render_tokens",
    "plot_series",
    "render_density",
    "plot_circle_density",
    "save_gif",
    "animate_run",
    "plot_run",
]


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


# ------------------------------------------------------------------------------- densities
def _sphere_image(density, tokens=None, title: str | None = None, window=(1000, 500)):
    """RGB image (H, W, 3) of a density on S^2, with the tokens beside it when given.

    Log colour scale over three decades below the maximum (clusters are sharp peaks); the
    camera looks at the densest cell, the same view for both panels.
    """
    import pyvista as pv

    from .io import density_pieces

    pv.OFF_SCREEN = True
    points, cells, _, values = density_pieces(density)
    faces = np.column_stack([np.full(cells.shape[0], 3), cells]).ravel()
    surf = pv.PolyData(points, faces=faces)
    top = float(values.max())
    floor = max(float(values.min()), 1e-3 * top)
    surf.point_data["density"] = np.maximum(values, floor)
    means = density.cell_means()
    centre = np.asarray(density.space.mesh.points)[density.space.mesh.cells[np.argmax(means)]]
    view = centre.mean(axis=0)
    view = 4.0 * view / np.linalg.norm(view)
    up = (0.0, 0.0, 1.0) if abs(view[2]) < 3.9 else (0.0, 1.0, 0.0)
    camera = [tuple(view), (0.0, 0.0, 0.0), up]
    shape = (1, 1) if tokens is None else (1, 2)
    size = list(window) if tokens is not None else [window[1], window[1]]
    plotter = pv.Plotter(off_screen=True, shape=shape, window_size=size)
    bar = {"title": "density", "n_labels": 3, "fmt": "%.2g"}
    clim = [floor, max(top, floor * (1 + 1e-9))]
    plotter.add_mesh(surf, scalars="density", cmap="viridis", log_scale=top > floor, clim=clim,
                     scalar_bar_args=bar)  # fmt: skip
    plotter.add_text("PDE density" if title is None else f"PDE density, {title}", font_size=10)
    plotter.camera_position = camera
    if tokens is not None:
        plotter.subplot(0, 1)
        plotter.add_mesh(pv.Sphere(radius=0.995, theta_resolution=60, phi_resolution=60),
                         color="lightgray")  # fmt: skip
        cloud = pv.PolyData(1.005 * np.asarray(tokens, dtype=float))
        plotter.add_mesh(cloud, color="tab:red", point_size=5, render_points_as_spheres=True)
        plotter.add_text(f"{len(tokens)} tokens", font_size=10)
        plotter.camera_position = camera
    img = plotter.screenshot(return_img=True)
    plotter.close()
    return img


def _save_image(img, path) -> Path:
    from PIL import Image

    from .io import atomic_write

    return atomic_write(path, lambda tmp: Image.fromarray(np.asarray(img)).save(tmp))


def render_density(density, path, tokens=None, title: str | None = None) -> Path:
    r"""Render a density on :math:`S^2` off-screen (pyvista), tokens beside it if given.

    The DG polynomial is drawn per cell from its vertex values (discontinuities visible),
    with a linear colour scale from the image's own minimum to maximum.

    Parameters
    ----------
    density : Density
        On an S^2 mesh.
    path : str or Path
        PNG file, written atomically.
    tokens : array_like, shape (n, 3), optional
        Drawn in a second view with the same camera.
    title : str, optional
    """
    if density.space.dim != 3:
        raise ValueError(f"density must live on S^2 to render, got points in R^{density.space.dim}")
    return _save_image(_sphere_image(density, tokens, title), path)


def _circle_figure(density, tokens=None, title: str | None = None, ylim=None):
    plt = _pyplot()
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
    from .io import atomic_write

    if density.space.dim != 2:
        raise ValueError(f"density must live on S^1, got points in R^{density.space.dim}")
    plt = _pyplot()
    fig = _circle_figure(density, tokens, title)
    try:
        return atomic_write(path, lambda tmp: fig.savefig(tmp))
    finally:
        plt.close(fig)


def save_gif(images, path, fps: float = 5.0) -> Path:
    """Write RGB(A) frames (a list of (H, W, 3|4) uint8 arrays) as a looping GIF, atomically."""
    from PIL import Image

    from .io import atomic_write

    frames = [Image.fromarray(np.asarray(im)).convert("RGB") for im in images]
    if not frames:
        raise ValueError("images must hold at least one frame, got none")

    def write(tmp):
        frames[0].save(tmp, format="GIF", save_all=True, append_images=frames[1:],
                       duration=int(1000 / fps), loop=0)  # fmt: skip

    return atomic_write(path, write)


def _figure_image(fig):
    fig.canvas.draw()
    return np.asarray(fig.canvas.buffer_rgba())[..., :3].copy()


def animate_run(run, path, progress: bool = False, fps: float = 5.0) -> Path:
    """GIF of a saved run (:class:`meanfield.run.SavedRun`): density and tokens per frame."""
    plt = _pyplot()
    images = []
    frames = range(len(run.t))
    if progress:
        from tqdm.auto import tqdm

        frames = tqdm(frames, desc="animation", unit="frame", leave=False)
    top = None
    if run.space.dim == 2:
        theta = np.linspace(-np.pi, np.pi, 721)
        pts = np.column_stack([np.cos(theta), np.sin(theta)])
        top = 1.05 * max(run.density(k).evaluate(pts).max() / run.density(k).integrate()
                         for k in range(len(run.t)))  # fmt: skip
    for k in frames:
        x = None if run.x is None else run.x[k]
        title = f"t = {run.t[k]:.2f}"
        if run.space.dim == 3:
            images.append(_sphere_image(run.density(k), x, title, window=(800, 400)))
        else:
            fig = _circle_figure(run.density(k), x, title, ylim=(0, top))
            images.append(_figure_image(fig))
            plt.close(fig)
    return save_gif(images, path, fps)


def plot_run(directory, progress: bool = False) -> list:
    """Draw every figure of a finished run directory into ``<directory>/figures``.

    - ``density_t<T>.png`` at each ``output.render`` time: the density (pyvista on S^2,
      matplotlib on S^1) beside the tokens;
    - ``tokens.png`` (S^1): token angles against time;
    - ``energy.png``, ``clusters.png``, ``distance.png`` (with tokens): series against time;
    - ``animation.gif`` (``output.gif``).

    Returns
    -------
    list of Path
    """
    from .run import load_run

    run = load_run(directory)
    out = run.directory / "figures"
    out.mkdir(exist_ok=True)
    s = run.summary["series"]
    t = np.asarray(s["t"])
    written = []
    for tr in run.config["output"]["render"]:
        k = int(np.argmin(np.abs(run.t - tr)))
        x = None if run.x is None else run.x[k]
        path = out / f"density_t{run.t[k]:.2f}.png"
        title = f"t = {run.t[k]:.2f}"
        if run.space.dim == 3:
            written.append(render_density(run.density(k), path, tokens=x, title=title))
        else:
            written.append(plot_circle_density(run.density(k), path, tokens=x, title=title))
    if run.x is not None and run.space.dim == 2:
        written.append(plot_circle_trajectories(run.t, run.x, out / "tokens.png"))
    has_tokens = "particle_energy" in s
    energy = {"PDE": s["energy"], **({"tokens": s["particle_energy"]} if has_tokens else {})}
    written.append(_series(t, energy, out / "energy.png", "interaction energy E_beta"))
    clusters = {"PDE": s["clusters"], **({"tokens": s["particle_clusters"]} if has_tokens else {})}
    written.append(_series(t, clusters, out / "clusters.png", "number of clusters"))
    if has_tokens:
        dist = {"W1(tokens, PDE)": s["distance_w1"], "|first moment gap|": s["moment_gap"]}
        written.append(_series(t, dist, out / "distance.png", "distance (rad)", logy=True))
    if run.config["output"].get("gif", True):
        written.append(animate_run(run, out / "animation.gif", progress=progress))
    return written


def _series(t, series, path, ylabel, logy=False) -> Path:
    from .io import atomic_write

    return atomic_write(path, lambda tmp: plot_series(t, series, tmp, ylabel=ylabel, logy=logy))
