r"""Curves of results: time series, cluster counts, the phase diagram, the metastable staircase,
growth rates against theory and the mean-field limit.

Each function takes data (arrays, study rows or tables), draws into ``ax`` (a new figure of
``width`` inches when omitted) and returns the Axes; save it with :func:`meanfield.plot.save`.
The ``plot_*`` functions are one-call versions that write a file and return its path.
matplotlib is imported inside the functions, so importing meanfield stays light.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .._checks import as_real_array
from .style import COLUMN, figure, finish, print_style

__all__ = [
    "figure_image",
    "plot_circle_density",
    "plot_circle_trajectories",
    "plot_series",
    "save_gif",
    "series",
    "cluster_counts",
    "phase_diagram",
    "staircase",
    "growth_rates",
    "mean_field_limit",
]

BOUNDARY = {"color": "#d62728", "linestyle": "--", "linewidth": 1.4}


def _ax(ax, width, aspect=0.62):
    if ax is not None:
        return ax
    return figure(width, aspect=aspect).add_subplot()


def _curves(t, curves):
    t = as_real_array(t, "t", ndim=1)
    if not isinstance(curves, dict) or not curves:
        raise ValueError(f"curves must be a non-empty dict of label -> values, got {curves!r}")
    out = {}
    for name, v in curves.items():
        v = as_real_array(v, f"curves[{name!r}]", ndim=1)
        if v.shape != t.shape:
            raise ValueError(f"curves[{name!r}] must have shape {t.shape} like t, got {v.shape}")
        out[name] = v
    return t, out


def series(t, curves, ax=None, ylabel: str = "", logy: bool = False, xlabel: str = "$t$",
           title: str | None = None, width: float = COLUMN, colours=None):  # fmt: skip
    """Named curves against time in one axes.

    Parameters
    ----------
    t : array_like, shape (T,)
    curves : dict of str -> array_like, shape (T,)
    ax : Axes, optional
    ylabel, xlabel, title : str
    logy : bool
    width : float
        Width in inches of a new figure.

    Returns
    -------
    matplotlib.axes.Axes
    """
    t, curves = _curves(t, curves)
    with print_style():
        ax = _ax(ax, width)
        for (name, v), ls in zip(
            curves.items(), ["-", "--", "-.", ":"] * len(curves), strict=False
        ):
            ax.plot(t, v, ls, label=name)
        _labels(ax, xlabel, ylabel, title, legend=len(curves) > 1)
        if logy:
            ax.set_yscale("log")
        finish(ax)
    return ax


def _look(k, colours):
    """Line style and colour of curve k: given colours with solid lines, else the cycle."""
    if colours is not None:
        return "-", colours[k % len(colours)]
    return ["-", "--", "-.", ":"][k % 4], f"C{k % 10}"


def _labels(ax, xlabel, ylabel, title, legend):
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title)
    if legend:
        ax.legend()


def cluster_counts(t, counts, ax=None, title: str | None = None, width: float = COLUMN,
                   colours=None):  # fmt: skip
    """Cluster counts against time as steps, integer ticks (one cluster rule for all curves:
    :func:`meanfield.diagnostics.measure_clusters`).

    Parameters
    ----------
    t : array_like, shape (T,)
    counts : dict of str -> array_like of int, shape (T,)
    colours : list of colours, optional
        One per curve.

    Returns
    -------
    matplotlib.axes.Axes
    """
    from matplotlib.ticker import MaxNLocator

    t, counts = _curves(t, counts)
    with print_style():
        ax = _ax(ax, width)
        for k, (name, v) in enumerate(counts.items()):
            ls, c = _look(k, colours)
            ax.step(t, v, ls, where="post", label=name, color=c)
        top = max(float(v.max()) for v in counts.values())
        ax.set_ylim(-0.3, top + 0.7)
        ax.yaxis.set_major_locator(MaxNLocator(integer=True))
        _labels(ax, "$t$", "number of clusters", title, legend=len(counts) > 1)
        finish(ax)
    return ax


def phase_diagram(table, ax=None, boundary=None, level: float = 0.999, colorbar: bool = True,
                  title: str | None = None, width: float = COLUMN):  # fmt: skip
    r"""Fraction of token pairs together over the (t, β) plane: t on x, β on y.

    Parameters
    ----------
    table : mapping
        ``t`` (T,), ``beta`` (B,), ``fraction`` (B, T) in [0, 1] (NaN where a point failed).
    boundary : tuple of arrays (beta (K,), t_star (K,)), optional
        The equiangular-start curve, drawn dashed and listed in the legend.
    level : float
        Cosine above which a pair is together (colour-bar label).

    Returns
    -------
    matplotlib.axes.Axes
    """
    t = as_real_array(table["t"], "table['t']", ndim=1)
    beta = as_real_array(table["beta"], "table['beta']", ndim=1)
    frac = as_real_array(table["fraction"], "table['fraction']", ndim=2)
    if frac.shape != (beta.size, t.size):
        raise ValueError(f"table['fraction'] must have shape ({beta.size}, {t.size}) "
                         f"(beta, t), got {frac.shape}")  # fmt: skip
    with print_style():
        ax = _ax(ax, width, aspect=0.75)
        mesh = ax.pcolormesh(t, beta, frac, shading="nearest", vmin=0.0, vmax=1.0,
                             cmap="viridis", rasterized=True)  # fmt: skip
        if boundary is not None:
            b, ts = (as_real_array(a, "boundary", ndim=1) for a in boundary)
            inside = ts <= t[-1]
            ax.plot(ts[inside], b[inside], label="equiangular start", **BOUNDARY)
            ax.legend(loc="lower right", facecolor="white", framealpha=0.85, frameon=True)
        ax.set_xlim(t[0], t[-1])
        ax.set_ylim(beta[0], beta[-1])
        _labels(ax, "$t$", r"$\beta$", title, legend=False)
        if colorbar:
            bar = ax.figure.colorbar(mesh, ax=ax, pad=0.02)
            bar.set_label(rf"pairs with $\langle x_i, x_j\rangle > {level:g}$")
            bar.ax.tick_params(labelsize=8)
        finish(ax)
    return ax


def staircase(t, ratios, plateaus=(), ax=None, logx: bool = True, title: str | None = None,
              width: float = COLUMN):  # fmt: skip
    r"""The metastable staircase: :math:`E_\beta(\mu_t)/E_\beta(\delta)` against time, one
    curve per β labelled on the curve, plateaus at :math:`\sum_i m_i^2` dotted.

    Parameters
    ----------
    t : array_like, shape (T,)
    ratios : dict of str -> array_like, shape (T,)
        Normalised energy per curve (label -> values), e.g. ``{r"$\beta=4$": e4, ...}``.
    plateaus : sequence of float
        Values :math:`\sum m_i^2` of the cluster configurations, ticks of the right axis.
    logx : bool
        Log time axis (t > 0 only is drawn).

    Returns
    -------
    matplotlib.axes.Axes
    """
    t, ratios = _curves(t, ratios)
    pos = t > 0 if logx else np.ones(t.shape, bool)
    with print_style():
        ax = _ax(ax, width, aspect=0.7)
        colours = _colours(len(ratios))
        for p in plateaus:
            ax.axhline(p, color="0.55", lw=0.6, ls=":", zorder=0)
        if len(plateaus):
            right = ax.secondary_yaxis("right")
            right.set_yticks(list(plateaus), [f"{p:.3f}" for p in plateaus])
            right.set_ylabel(r"plateaus $\Sigma_i\, m_i^2$")
            finish(right)
        for (name, v), c in zip(ratios.items(), colours, strict=True):
            ax.plot(t[pos], v[pos], color=c, lw=1.0)
            _label_on_curve(ax, t[pos], v[pos], name, c)
        if logx:
            ax.set_xscale("log")
        _labels(ax, "$t$", r"$E_\beta(\mu_t)\,/\,E_\beta(\delta_x)$", title, legend=False)
        finish(ax)
    return ax


def _colours(k):
    from matplotlib import colormaps

    return colormaps["viridis"](np.linspace(0.0, 0.85, max(k, 1)))


def _label_on_curve(ax, t, v, text, colour):
    """Put ``text`` just right of the curve's last rise, under its final plateau (the last
    merges of a staircase happen at well separated times, so the labels do not collide)."""
    top, base = float(v[-1]), float(np.nanmin(v))
    rise = np.flatnonzero(v >= top - 0.1 * (top - base))
    k = int(rise[0]) if rise.size else len(t) - 1
    ax.annotate(text, (t[k], top), xytext=(2, -3), textcoords="offset points", color=colour,
                fontsize=8, ha="left", va="top")  # fmt: skip


def growth_rates(rows, ax=None, target: float | None = 1e-2, title: str | None = None,
                 width: float = COLUMN):  # fmt: skip
    r"""Relative error :math:`|\gamma_\ell - \gamma_\ell^{\rm theory}|/\gamma_\ell^{\rm theory}`
    of measured growth rates against ℓ, one marker series per (d, β, model), log y.

    Parameters
    ----------
    rows : list of dict
        With ``d``, ``beta``, ``normalized``, ``ell``, ``measured``, ``theory`` (the rows of
        :func:`meanfield.studies.growth.growth_rate_study`).
    target : float or None
        Tolerance drawn as a dashed line.

    Returns
    -------
    matplotlib.axes.Axes
    """
    from matplotlib.ticker import MaxNLocator

    if not rows:
        raise ValueError("rows must hold at least one growth-rate measurement, got none")
    groups = sorted({(r["d"], r["beta"], bool(r["normalized"])) for r in rows})
    markers = "osD^v<>ph*"
    with print_style():
        ax = _ax(ax, width, aspect=0.75)
        for (d, beta, nz), m in zip(groups, markers * len(groups), strict=False):
            sel = sorted((r for r in rows if (r["d"], r["beta"], bool(r["normalized"]))
                          == (d, beta, nz)), key=lambda r: r["ell"])  # fmt: skip
            err = [abs(r["measured"] - r["theory"]) / abs(r["theory"]) for r in sel]
            ax.semilogy(
                [r["ell"] for r in sel],
                err,
                m + "-",
                ms=3.5,
                lw=0.7,
                label=rf"$S^{d - 1}$, $\beta={beta:g}$, {'SA' if nz else 'USA'}",
            )
        if target is not None:
            ax.axhline(target, color="0.4", ls="--", lw=0.8, label=f"tolerance {target:g}")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        _labels(ax, r"mode $\ell$", "relative error of the growth rate", title, legend=True)
        finish(ax)
    return ax


def mean_field_limit(result, t: float | None = None, key: str = "distance", ax=None,
                     title: str | None = None, width: float = COLUMN):  # fmt: skip
    r"""Distance between n tokens and the density against n (log-log): every seed as a dot,
    their mean joined, the least-squares slope of log(mean) on log n and :math:`n^{-1/2}`.

    Parameters
    ----------
    result : dict
        A :func:`meanfield.studies.mean_field.mean_field_study` result (``rows`` with ``n``,
        ``seed``, ``t``, ``level`` and ``key``; ``levels``, ``times``, ``metric``).
    t : float, optional
        Time shown (default the last study time).
    key : {"distance", "moment_error"}

    Returns
    -------
    matplotlib.axes.Axes
    """
    t = result["times"][-1] if t is None else t
    level = result["levels"][-1]
    rows = [r for r in result["rows"] if r["t"] == t and r["level"] == level]
    if not rows:
        raise ValueError(f"t must be one of the study times {list(result['times'])}, got {t}")
    ns = np.array(sorted({r["n"] for r in rows}), float)
    per = [np.array([r[key] for r in rows if r["n"] == n]) for n in ns]
    mean = np.array([p.mean() for p in per])
    slope, icpt = np.polyfit(np.log(ns), np.log(mean), 1)
    with print_style():
        ax = _ax(ax, width, aspect=0.75)
        for n, p in zip(ns, per, strict=True):
            ax.scatter(np.full(p.size, n), p, s=6, color="#1f77b4", alpha=0.45, linewidths=0)
        ax.plot(ns, mean, "o", color="#1f4e9c", ms=4, label=f"mean of {per[0].size} seeds")
        ax.plot(ns, np.exp(icpt) * ns**slope, "-", color="#d62728", lw=1.0,
                label=f"fit: slope ${slope:.2f}$")  # fmt: skip
        ax.plot(ns, mean[0] * (ns / ns[0]) ** -0.5, ":", color="0.3", label=r"$n^{-1/2}$")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ylabel = "first-moment gap" if key == "moment_error" else result.get("metric", key)
        _labels(ax, "tokens $n$", ylabel, title or f"$t = {t:g}$", legend=True)
        finish(ax)
    return ax


# ---------------------------------------------------------------------- files in one call
def plot_series(t, curves: dict, path, ylabel: str = "", logy: bool = False) -> Path:
    """:func:`series` written to ``path`` (PDF, SVG or PNG from the suffix); returns the path."""
    from .style import save

    return save(series(t, curves, ylabel=ylabel, logy=logy).figure, path)


def plot_circle_trajectories(t, x, path, title: str | None = None) -> Path:
    r"""Token angles on :math:`S^1` against time (:func:`meanfield.plot.trajectories`),
    written to ``path``.

    Parameters
    ----------
    t : array_like, shape (T,)
    x : array_like, shape (T, n, 2)
    path : str or Path
    """
    from types import SimpleNamespace

    from .style import save
    from .tokens import trajectories

    t = as_real_array(t, "t", ndim=1)
    x = as_real_array(x, "x", ndim=3)
    if x.shape[-1] != 2 or x.shape[0] != t.shape[0]:
        raise ValueError(f"x must have shape ({t.shape[0]}, n, 2), got {x.shape}")
    ax = trajectories(SimpleNamespace(t=t, x=x), max_tokens=None, title=title)
    return save(ax.figure, path)


def plot_circle_density(density, path, tokens=None, title: str | None = None) -> Path:
    r"""A density on :math:`S^1` against the angle (:func:`meanfield.plot.density_map`), with
    a histogram of tokens if given, written to ``path``."""
    from .maps import density_map
    from .style import save

    dim = getattr(getattr(density, "space", None), "dim", None)
    if dim != 2:
        raise ValueError(f"density must live on S^1, got points in R^{dim}")
    return save(density_map(density, tokens=tokens, title=title).figure, path)


def figure_image(fig, dpi: float | None = None) -> np.ndarray:
    """RGB pixels (H, W, 3) of a matplotlib figure drawn with Agg (a frame of an animation)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    if dpi is not None:
        fig.set_dpi(dpi)
    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    return np.asarray(canvas.buffer_rgba())[..., :3].copy()


def save_gif(images, path, fps: float = 5.0) -> Path:
    """Write RGB(A) frames (a list of (H, W, 3|4) uint8 arrays) as a looping GIF, atomically.

    All frames share one 256-colour palette (taken from thumbnails of every frame), so one
    colour means one value throughout; per-frame palettes would shift the colours.
    """
    from PIL import Image

    from .._files import atomic_write

    rgb = [Image.fromarray(np.asarray(im)).convert("RGB") for im in images]
    if not rgb:
        raise ValueError("images must hold at least one frame, got none")
    thumbs = [f.resize((max(1, f.width // 4), max(1, f.height // 4))) for f in rgb]
    strip = Image.new("RGB", (max(t.width for t in thumbs), sum(t.height for t in thumbs)))
    y = 0
    for thumb in thumbs:
        strip.paste(thumb, (0, y))
        y += thumb.height
    palette = strip.quantize(colors=256, method=Image.Quantize.MEDIANCUT)
    frames = [f.quantize(palette=palette, dither=Image.Dither.NONE) for f in rgb]

    def write(tmp):
        frames[0].save(tmp, format="GIF", save_all=True, append_images=frames[1:],
                       duration=int(1000 / fps), loop=0)  # fmt: skip

    return atomic_write(path, write)
