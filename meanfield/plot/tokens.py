r"""Figures of token configurations: paths on the sphere and histograms of pairwise cosines.

Tokens are coloured by the cluster they end in, found by
:func:`meanfield.diagnostics.measure_clusters` (the one cluster rule used for densities too).
"""

from __future__ import annotations

import numpy as np

from .._checks import as_int, as_points, as_real_array, choose
from .maps import PROJECTIONS, lonlat
from .style import COLUMN, PAGE, figure, finish, print_style

__all__ = [
    "trajectories",
    "cosine_histogram",
    "cosine_histograms",
    "cluster_colours",
    "token_subset",
    "CLUSTER_COLOURS",
]

#: colours of clusters 0, 1, ... (cycled); tokens in no cluster are grey
CLUSTER_COLOURS = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2",
                   "#17becf", "#bcbd22", "#7f7f7f")  # fmt: skip
LOOSE = "0.6"


def _positions(traj, batch):
    """Times (T,) and positions (T, n, d) of one ensemble member."""
    t = as_real_array(traj.t, "traj.t", ndim=1)
    x = np.asarray(traj.x, float)
    if x.ndim == 4:
        batch = as_int(batch, "batch", min_value=0)
        if batch >= x.shape[1]:
            raise ValueError(f"batch must be below {x.shape[1]} (ensembles), got {batch}")
        x = x[:, batch]
    if x.ndim != 3 or x.shape[0] != t.shape[0]:
        raise ValueError(f"traj.x must have shape ({t.shape[0]}, n, d), got {x.shape}")
    return t, x


def _labels(x_final, radius):
    from ..diagnostics import measure_clusters

    return measure_clusters(x_final, radius=radius).labels


def cluster_colours(x_final, radius: float = 0.15) -> list:
    """Colour of every token by the cluster it is in at the end (grey: in no cluster), from
    :func:`meanfield.diagnostics.measure_clusters`; x_final of shape (n, d)."""
    return [LOOSE if k < 0 else CLUSTER_COLOURS[k % len(CLUSTER_COLOURS)]
            for k in _labels(x_final, radius)]  # fmt: skip


def token_subset(traj, batch: int = 0, max_tokens: int | None = None, seed: int = 0):
    """Times (T,), all positions (T, n, d) of ensemble member ``batch`` and the indices of at
    most ``max_tokens`` of them to draw (a seeded random subset, in index order)."""
    t, x = _positions(traj, batch)
    keep = np.arange(x.shape[1])
    if max_tokens is not None and x.shape[1] > as_int(max_tokens, "max_tokens", min_value=1):
        keep = np.sort(np.random.default_rng(seed).choice(x.shape[1], max_tokens, replace=False))
    return t, x, keep


def _broken(a):
    """Angles (T, n) with NaN where a path wraps from pi to -pi (no streak across the plot)."""
    a = a.copy()
    jump = np.zeros(a.shape, bool)
    jump[1:] = np.abs(np.diff(a, axis=0)) > np.pi
    a[jump] = np.nan
    return a


def trajectories(
    traj,
    ax=None,
    batch: int = 0,
    projection: str = "mollweide",
    radius: float = 0.15,
    max_tokens: int | None = 400,
    title: str | None = None,
    width: float = COLUMN,
    seed: int = 0,
):
    r"""Token paths: angle against time on :math:`S^1`, paths on an equal-area map on
    :math:`S^2` (start: small ring, end: dot), coloured by the cluster each token ends in.

    Parameters
    ----------
    traj : Trajectory
        ``t`` (T,) and ``x`` (T, n, d) or (T, B, n, d), d = 2 or 3.
    ax : matplotlib Axes, optional
        A plain axes (S^1) or a ``projection`` axes (S^2).
    batch : int
        Ensemble member drawn when ``traj.x`` is batched.
    projection : {"mollweide", "hammer"}
    radius : float
        Cluster radius of :func:`meanfield.diagnostics.measure_clusters` (colours).
    max_tokens : int or None
        Draw at most this many tokens (a seeded random subset; all when None).
    title : str, optional
    width : float
        Width in inches of a new figure.
    seed : int
        Seed of the subset.

    Returns
    -------
    matplotlib.axes.Axes
    """
    t, x, keep = token_subset(traj, batch, max_tokens, seed)
    d = x.shape[2]
    if d not in (2, 3):
        raise ValueError(f"traj.x must hold points on S^1 or S^2 (d = 2, 3), got d = {d}")
    projection = choose(projection, "projection", PROJECTIONS)
    labels = _labels(x[-1], radius)  # clusters of all tokens, then the subset drawn
    x, labels = x[:, keep], labels[keep]
    with print_style():
        if ax is None:
            fig = figure(width, aspect=0.62 if d == 2 else 0.52)
            ax = fig.add_subplot(projection=None if d == 2 else projection)
        if d == 2:
            _circle_paths(ax, t, x, labels)
        else:
            _sphere_paths(ax, x, labels)
        if title:
            ax.set_title(title)
        finish(ax)
    return ax


def _groups(labels):
    for k in np.unique(labels):
        colour = LOOSE if k < 0 else CLUSTER_COLOURS[k % len(CLUSTER_COLOURS)]
        yield labels == k, colour


def _circle_paths(ax, t, x, labels):
    ang = _broken(np.arctan2(x[..., 1], x[..., 0]))
    for members, colour in _groups(labels):
        ax.plot(t, ang[:, members], color=colour, lw=0.5, alpha=0.7)
    ax.set_xlim(t[0], t[-1])
    ax.set_ylim(-np.pi, np.pi)
    ax.set_yticks(np.pi * np.array([-1, -0.5, 0, 0.5, 1]),
                  [r"$-\pi$", r"$-\pi/2$", "$0$", r"$\pi/2$", r"$\pi$"])  # fmt: skip
    ax.set_xlabel("$t$")
    ax.set_ylabel(r"token angle $\theta_i$")


def _sphere_paths(ax, x, labels):
    if getattr(ax, "name", None) not in PROJECTIONS:
        raise ValueError(f"ax must be one of the map projections {PROJECTIONS} for paths on S^2, "
                         f"got a {getattr(ax, 'name', type(ax).__name__)!r} axes")  # fmt: skip
    T, n, _ = x.shape
    lon, lat = lonlat(x.reshape(-1, 3))
    lon, lat = _broken(lon.reshape(T, n)), lat.reshape(T, n)
    for members, colour in _groups(labels):
        ax.plot(lon[:, members], lat[:, members], color=colour, lw=0.4, alpha=0.6)
        ax.scatter(lon[0, members], lat[0, members], s=3, facecolors="none", edgecolors=colour,
                   linewidths=0.3, zorder=3)  # fmt: skip
        ax.scatter(lon[-1, members], lat[-1, members], s=5, color=colour, zorder=4)
    ax.set_xticks(np.radians([-120, -60, 0, 60, 120]))
    ax.set_xticklabels([])
    ax.set_yticks(np.radians([-60, -30, 0, 30, 60]))
    ax.grid(True, color="0.8", linewidth=0.3)


def cosine_histogram(x, weights=None, bins: int = 50):
    r"""Histogram of the pairwise cosines :math:`\langle x_i, x_j\rangle`, i != j, as a
    probability density on [-1, 1].

    With weights, pair (i, j) counts :math:`w_i w_j` (a density's quadrature measure gives
    the law of :math:`\langle X, Y\rangle` for independent X, Y from the density). Memory is
    bounded: rows are processed in blocks.

    Parameters
    ----------
    x : array_like, shape (n, d), or Density
    weights : array_like, shape (n,), optional
    bins : int

    Returns
    -------
    edges : ndarray, shape (bins + 1,)
    density : ndarray, shape (bins,)
        Integrates to 1 over [-1, 1].
    """
    if hasattr(x, "quadrature_measure"):
        x, weights = x.quadrature_measure()
    x = as_points(x, "x")
    n = x.shape[0]
    if n < 2:
        raise ValueError(f"x must hold at least 2 points for pairwise cosines, got {n}")
    w = (
        np.full(n, 1.0)
        if weights is None
        else np.clip(as_real_array(weights, "weights", ndim=1), 0, None)
    )
    if w.shape[0] != n:
        raise ValueError(f"weights must have shape ({n},), got {w.shape}")
    bins = as_int(bins, "bins", min_value=1)
    u = x / np.linalg.norm(x, axis=1, keepdims=True)
    counts = np.zeros(bins)
    step = max(1, (1 << 22) // n)
    for s in range(0, n, step):
        # pairs (i, j) and (j, i) weigh the same: only j > i, half the work
        c = u[s : s + step] @ u[s:].T
        pw = w[s : s + step, None] * w[None, s:]
        pw[np.tril_indices(c.shape[0], m=c.shape[1])] = 0.0  # j <= i, self pairs included
        k = np.clip(((c + 1.0) * 0.5 * bins).astype(int), 0, bins - 1)
        counts += np.bincount(k.ravel(), weights=pw.ravel(), minlength=bins)
    edges = np.linspace(-1.0, 1.0, bins + 1)
    return edges, counts / (counts.sum() * (2.0 / bins))


def _density_at(density, s):
    if density is None:
        return None
    if isinstance(density, (list, tuple)):
        raise ValueError("density must be a DensitySolution or SavedRun with t, not a list")
    t = np.asarray(density.t, float)
    k = int(np.argmin(np.abs(t - s)))
    get = getattr(density, "density", None)
    return get(k) if callable(get) else density.densities[k]


def cosine_histograms(
    traj,
    times,
    density=None,
    bins: int = 50,
    batch: int = 0,
    logy: bool = False,
    width: float = PAGE,
):
    r"""Histograms of pairwise cosines :math:`\langle x_i, x_j\rangle` of the tokens at
    several times (clustering moves the mass to 1), with the same law computed from a density's
    quadrature measure when given.

    Parameters
    ----------
    traj : Trajectory or None
        Tokens; the frame nearest each time is used.
    times : array_like
        One panel per time.
    density : DensitySolution or SavedRun, optional
        Drawn as a line over the token histogram.
    bins : int
    batch : int
        Ensemble member when ``traj.x`` is batched.
    logy : bool
        Log y axis (when the peak at 1 grows by orders of magnitude).
    width : float
        Figure width in inches.

    Returns
    -------
    matplotlib.figure.Figure
    """
    if traj is None and density is None:
        raise ValueError("cosine_histograms needs tokens (traj) or a density, got neither")
    times = np.atleast_1d(as_real_array(times, "times"))
    if times.ndim != 1 or times.size == 0:
        raise ValueError(f"times must be a non-empty 1-D list, got shape {times.shape}")
    with print_style():
        fig = figure(width, height=min(2.2, width / len(times) * 1.1) + 0.3)
        axes = fig.subplots(1, len(times), sharey=True, squeeze=False)[0]
        for j, (ax, s) in enumerate(zip(axes, times, strict=True)):
            _cosine_panel(ax, traj, density, s, bins, batch)
            ax.set_yscale("log" if logy else "linear")
            ax.set_xlim(-1, 1)
            ax.set_xlabel(r"$\langle x_i, x_j\rangle$")
            if j == 0:
                ax.set_ylabel("probability density")
            finish(ax)
        if traj is not None and density is not None:  # below the panels, clear of the data
            fig.legend(*axes[0].get_legend_handles_labels(), loc="outside lower center",
                       ncols=2)  # fmt: skip
    return fig


def _cosine_panel(ax, traj, density, s, bins, batch):
    shown = s
    if traj is not None:
        t, x = _positions(traj, batch)
        k = int(np.argmin(np.abs(t - s)))
        edges, h = cosine_histogram(x[k], bins=bins)
        ax.stairs(h, edges, fill=True, color="#d62728", alpha=0.35, linewidth=0,
                  label=f"{x.shape[1]} tokens")  # fmt: skip
        shown = t[k]
    rho = _density_at(density, s)
    if rho is not None:
        edges, h = cosine_histogram(rho, bins=bins)
        ax.stairs(h, edges, color="#1f4e9c", linewidth=1.0, label="density")
    ax.set_title(f"$t = {shown:g}$")
