"""Figures of a saved run directory (reads the run's files, writes ``figures/``)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..plot.curves import (
    circle_figure,
    figure_image,
    plot_circle_density,
    plot_circle_trajectories,
    plot_series,
    pyplot,
    save_gif,
)
from ..plot.render import render_density, sphere_image

__all__ = ["animate_run", "plot_run"]


def animate_run(run, path, progress: bool = False, fps: float = 5.0) -> Path:
    """GIF of a saved run (:class:`meanfield.run.SavedRun`): density and tokens per frame."""
    plt = pyplot()
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
            images.append(sphere_image(run.density(k), x, title, window=(800, 400)))
        else:
            fig = circle_figure(run.density(k), x, title, ylim=(0, top))
            images.append(figure_image(fig))
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
    from .rundir import load_run

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
    from .._files import atomic_write

    return atomic_write(path, lambda tmp: plot_series(t, series, tmp, ylabel=ylabel, logy=logy))
