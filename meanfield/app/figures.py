"""Figures of a saved run directory (reads the run's files, writes ``figures/``).

Every figure of one run shares one colour range and one camera, so images of different times
compare; clusters are counted for the density and the tokens by the same rule
(:func:`meanfield.diagnostics.measure_clusters`).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..plot import curves, maps, render, style, tokens
from .builders import cluster_radius

__all__ = ["FIGURE_FORMATS", "animate_run", "plot_run"]

FIGURE_FORMATS = style.FORMATS
MAP_TOKENS = 500  # tokens drawn on the maps (a seeded subset: more would hide the density)
#: Tokens whose pairwise cosines are histogrammed (a seeded subset: the histogram of a random
#: subset's pairs estimates the same law, and all pairs of 20 000 tokens would cost 2e8).
COSINE_TOKENS = 3000


def animate_run(run, path, progress: bool = False, fps: float = 5.0, width=None) -> Path:
    """GIF of a saved run (:class:`meanfield.app.rundir.SavedRun`): the density and the tokens
    per frame, one colour range for the whole run, on S^2 a camera turning a quarter turn
    (and at most :data:`MAP_TOKENS` tokens drawn)."""
    x = run.x
    if x is not None and run.space.dim == 3:  # points on the sphere: a subset, as on the maps
        x = _subset(x, MAP_TOKENS)
    return render.animate(run, path, tokens=x, fps=fps, progress=progress,
                          width=width or style.COLUMN)  # fmt: skip


def _subset(x, count, seed=0):
    """At most ``count`` tokens of every frame of x (T, n, d): one seeded subset for all
    frames, in index order."""
    if x.shape[1] <= count:
        return x
    keep = np.sort(np.random.default_rng(seed).choice(x.shape[1], count, replace=False))
    return x[:, keep]


def _normalised_energy(log_e, beta):
    r""":math:`E_\beta / E_\beta(\delta)` with :math:`E_\beta(\delta) = e^\beta/(2\beta)` (1 for
    one point), from the run's :math:`\log E_\beta` (in range for any beta); at
    :math:`\beta = 0` the energy is already :math:`\frac12|m|^2`, 1/2 at one point."""
    log_e = np.asarray(log_e, float)
    if beta == 0:
        return 2.0 * np.exp(log_e)
    return np.exp(log_e + np.log(2.0 * beta) - beta)


def _render_frames(run):
    t_render = run.config["output"]["render"]
    return sorted({int(np.argmin(np.abs(run.t - tr))) for tr in t_render})


def plot_run(directory, progress: bool = False, format: str = "png", width=None) -> list:
    """Draw every figure of a finished run directory into ``<directory>/figures``.

    - ``density_t<T>``: at each ``output.render`` time, on S^2 the sphere seen from the run's
      fixed camera and its antipode (one colour range for the run), with the tokens; on S^1
      the density against the angle with a histogram of the tokens;
    - ``maps``: equal-area maps of the whole sphere (S^1: density curves) at the render times,
      tokens on top, one colour bar;
    - ``tokens`` (with tokens): token paths (S^1 angle against t, S^2 map), coloured by cluster;
      ``tokens_sphere`` (S^2): the same paths on the sphere from the run's two views;
    - ``cosines`` (with tokens): histograms of pairwise cosines, tokens and density;
    - ``energy``: :math:`E_\\beta/E_\\beta(\\delta)`, ``clusters``: counts by one rule,
      ``distance`` (with tokens): W1 and the first-moment gap;
    - ``animation.gif`` (``output.gif``).

    Parameters
    ----------
    directory : str or Path
    progress : bool
    format : {"png", "pdf", "svg"}
        File format of the figures (the animation is always a GIF).
    width : float, optional
        Width in inches of every figure (default 3.4, 7 for multi-panel figures).

    Returns
    -------
    list of Path
    """
    from .._files import remove_temporaries
    from .rundir import load_run

    if format not in FIGURE_FORMATS:
        raise ValueError(f"format must be one of {FIGURE_FORMATS}, got {format!r}")
    run = load_run(directory)
    out = run.directory / "figures"
    if out.exists() and not out.is_dir():
        raise ValueError(f"{str(out)!r} is a file; the figures go in a directory of that name")
    out.mkdir(exist_ok=True)
    remove_temporaries(out)  # left by a run killed while it wrote a figure
    written = _density_figures(run, out, format, width)
    written += _series_figures(run, out, format, width)
    if run.config["output"].get("gif", True) and run.space.mesh.kind != "zonal":  # no map
        written.append(animate_run(run, out / "animation.gif", progress=progress, width=width))
    return written


def _zonal_figures(run, out, fmt, width):
    """A zonal run: the line density of the polar angle at every frame, with the tokens'
    histogram of their polar angles at the last frame."""
    from ..sphere.zonal import meridian

    theta = np.linspace(0.0, np.pi, 721)
    fig = style.figure(width or style.COLUMN)
    ax = fig.add_subplot()
    for k in range(len(run.t)):
        rho = run.density(k)
        cells, xi = rho.space.mesh.locate(meridian(theta, rho.space.dim))
        g = np.einsum("mi,mi->m", rho.space.tabulate(xi), rho.coefficients[cells])
        ax.plot(theta, g, label=f"$t = {run.t[k]:.2f}$")
    if run.x is not None:
        x = run.x[-1]
        ax.hist(np.arctan2(np.linalg.norm(x[:, :-1], axis=1), x[:, -1]), bins=60, density=True,
                histtype="step", color="k", label="tokens (last frame)")  # fmt: skip
    ax.set_xlabel(r"polar angle $\theta$")
    ax.set_ylabel(r"line density $g(\theta)$")
    ax.legend(fontsize="small")
    style.finish(ax)
    return [style.save(fig, out / f"zonal.{fmt}")]


def _density_figures(run, out, fmt, width):
    if run.space.mesh.kind == "zonal":
        return _zonal_figures(run, out, fmt, width)
    ks = _render_frames(run)
    rhos = [run.density(k) for k in ks]
    toks = [None if run.x is None else run.x[k] for k in ks]
    # on the sphere renders as on the maps, a seeded subset: more would hide the density
    shown = None if run.x is None else _subset(run.x[ks], MAP_TOKENS)
    col, page = width or style.COLUMN, width or style.PAGE
    written = []
    if run.space.dim == 3:
        lo, hi = maps.colour_limits([render.display_values(r) for r in rhos])
        for j, (k, rho) in enumerate(zip(ks, rhos, strict=True)):
            x = None if shown is None else shown[j]
            fig = render.render_density(rho, tokens=x, vmin=lo, vmax=hi,
                                        title=f"$t = {run.t[k]:.2f}$", width=col)  # fmt: skip
            written.append(style.save(fig, out / f"density_t{run.t[k]:.2f}.{fmt}"))
    else:
        lo, hi = maps.colour_limits([maps.sample(r)[1] for r in rhos])
        for k, rho, x in zip(ks, rhos, toks, strict=True):
            ax = maps.density_map(rho, tokens=x, vmin=lo, vmax=hi,
                                  title=f"$t = {run.t[k]:.2f}$", width=col)  # fmt: skip
            written.append(style.save(ax.figure, out / f"density_t{run.t[k]:.2f}.{fmt}"))
    fig = maps.density_maps(run, run.t[ks], tokens=None if run.x is None else toks, width=page,
                            max_tokens=MAP_TOKENS)  # fmt: skip
    written.append(style.save(fig, out / f"maps.{fmt}"))
    if run.x is not None:
        traj = _Tokens(run.t, run.x)
        radius = cluster_radius(run.config, run.space)
        ax = tokens.trajectories(traj, radius=radius, width=col)
        written.append(style.save(ax.figure, out / f"tokens.{fmt}"))
        if run.space.dim == 3:
            fig = render.render_trajectories(traj, radius=radius, width=col)
            written.append(style.save(fig, out / f"tokens_sphere.{fmt}"))
        sub = _Tokens(run.t, _subset(run.x, COSINE_TOKENS))
        fig = tokens.cosine_histograms(sub, run.t[ks], density=run, width=page)
        written.append(style.save(fig, out / f"cosines.{fmt}"))
    return written


class _Tokens:
    """Trajectory-like view of the saved tokens."""

    def __init__(self, t, x):
        self.t, self.x = t, x


def _series_figures(run, out, fmt, width):
    s = run.summary["series"]
    t = np.asarray(s["t"], float)
    beta = float(run.config["model"]["beta"])
    col = width or style.COLUMN
    has_tokens = "particle_log_energy" in s
    energy = {"density": _normalised_energy(s["log_energy"], beta)}
    if has_tokens:
        energy["tokens"] = _normalised_energy(s["particle_log_energy"], beta)
    ax = curves.series(t, energy, ylabel=r"$E_\beta(\mu_t)\,/\,E_\beta(\delta_x)$", width=col)
    written = [style.save(ax.figure, out / f"energy.{fmt}")]
    counts = {"density": np.asarray(s["clusters"], float)}
    if has_tokens:
        counts["tokens"] = np.asarray(s["particle_clusters"], float)
    radius = cluster_radius(run.config, run.space)
    ax = curves.cluster_counts(t, counts, width=col,
                               title=f"clusters (one rule, radius {radius:.2g} rad)")  # fmt: skip
    written.append(style.save(ax.figure, out / f"clusters.{fmt}"))
    if has_tokens:
        dist = {
            r"$W_1$(tokens, density), geodesic, rad": s["distance_w1"],
            r"$|m_{\rm tokens} - m_\rho|$, first moments in $\mathbb{R}^d$": s["moment_gap"],
        }
        ax = curves.series(t, dist, ylabel="distance", logy=True, width=col)
        written.append(style.save(ax.figure, out / f"distance.{fmt}"))
    return written
