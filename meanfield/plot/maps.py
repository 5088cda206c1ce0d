r"""Maps of a density on the whole sphere: equal-area projections of :math:`S^2`, and on
:math:`S^1` the density against the angle.

The density is sampled on a fine longitude-latitude grid (default 0.5 degree, about ten samples
across a cell of an icosphere of level 3), so DG cells never show as facets; jumps between
cells are drawn where the density has them. Values are shown relative to the uniform density
of the same mass, :math:`\rho/\bar\rho` with :math:`\bar\rho = M/|S^{d-1}|` (1 = uniform), by
default on a log colour scale spanning three decades below the maximum: clusters are sharp
peaks. The map image is the one rasterized artist, so PDF and SVG files stay vector.
"""

from __future__ import annotations

import numpy as np

from .._checks import as_int, as_points, choose
from .style import COLUMN, PAGE, figure, finish, print_style

__all__ = [
    "PROJECTIONS",
    "NORMS",
    "lonlat",
    "from_lonlat",
    "relative_density",
    "display_density",
    "colour_limits",
    "make_norm",
    "log_ticks",
    "style_colorbar",
    "density_map",
    "density_maps",
    "density_spacetime",
]

PROJECTIONS = ("mollweide", "hammer")
NORMS = ("log", "linear")
#: default grid rows over the latitude (0.5 degree)
SAMPLES = 360
#: display smoothing of DG densities, in mesh cells (see display_density)
SMOOTH = 0.5
#: decades of a log colour scale below the maximum, when vmin is not given
DECADES = 3.0
#: a log colour scale reaches down to at least this (relative to uniform) by default
FLOOR = 0.1
LABEL = r"$\rho\,/\,\bar\rho$  (uniform $= 1$)"
TOKEN_STYLE = {"s": 1.5, "c": "#d62728", "linewidths": 0, "alpha": 0.8, "zorder": 3}


def lonlat(x) -> tuple[np.ndarray, np.ndarray]:
    """Longitude in (-pi, pi] and latitude in [-pi/2, pi/2] of points on S^2, shape (m, 3)."""
    x = as_points(x, "x", d=3)
    r = np.linalg.norm(x, axis=1)
    return np.arctan2(x[:, 1], x[:, 0]), np.arcsin(np.clip(x[:, 2] / r, -1.0, 1.0))


def from_lonlat(lon, lat) -> np.ndarray:
    """Unit vectors of shape (..., 3) at longitude ``lon`` and latitude ``lat`` (radians)."""
    lon, lat = np.broadcast_arrays(np.asarray(lon, float), np.asarray(lat, float))
    c = np.cos(lat)
    return np.stack([c * np.cos(lon), c * np.sin(lon), np.sin(lat)], axis=-1)


def _dim(rho) -> int:
    space = getattr(rho, "space", None)
    if getattr(space, "dim", None) is not None:
        return int(space.dim)
    return int(np.asarray(rho.quadrature_measure()[0]).shape[1])


def relative_density(rho, points) -> np.ndarray:
    r""":math:`\rho(x)\,|S^{d-1}|/M` at points (m, d): 1 where the density is uniform."""
    from ..harmonics import sphere_area

    mass = float(rho.integrate())
    if not mass > 0:
        raise ValueError(f"rho must have positive mass to be drawn, got mass {mass}")
    return np.asarray(rho.evaluate(points), float) * sphere_area(_dim(rho)) / mass


def display_density(rho, points, smooth: float = SMOOTH) -> np.ndarray:
    r""":math:`\rho/\bar\rho` at points (m, d), smoothed for display over ``smooth`` cells.

    A local average of the DG density with a Gaussian kernel of width
    :math:`\sigma = \text{smooth}\cdot h` (h the mesh resolution), over the density's
    quadrature points :math:`x_q` with area weights :math:`a_q`:

    .. math::
        \rho_\sigma(x) = \frac{\sum_q a_q \rho(x_q) K_\sigma(x, x_q)}{\sum_q a_q
        K_\sigma(x, x_q)}, \qquad K_\sigma = e^{-|x - x_q|^2 / 2\sigma^2}
        \ (|x - x_q| < 3\sigma).

    It is exact for a constant density and keeps every feature wider than a cell, while the
    jumps between DG cells (and a linear piece dipping to 0 at a corner, dark on a log scale)
    are blurred away: no cell shows as a facet. A cluster narrower than a cell is drawn about
    a cell wide. ``smooth = 0``, or a flow-map (Lagrangian) density, gives the raw values.

    Parameters
    ----------
    rho : Density or flow-map density
    points : array_like, shape (m, d)
    smooth : float
        Kernel width in mesh cells (>= 0).

    Returns
    -------
    ndarray, shape (m,)
    """

    from ..harmonics import sphere_area

    smooth = float(smooth)
    if not smooth >= 0:
        raise ValueError(f"smooth must be a non-negative number of cells, got {smooth}")
    from ..eulerian.dg import Density

    if smooth == 0 or not isinstance(rho, Density):  # flow-map densities: their own values
        return relative_density(rho, points)
    space = rho.space
    points = as_points(points, "points", d=_dim(rho))
    kernel, area, norm = _smoothing(space, points, smooth * space.mesh.resolution)
    mass = area * np.asarray(rho.quadrature_values(), float).ravel()
    out = (kernel @ mass) / norm
    return out * sphere_area(_dim(rho)) / float(rho.integrate())


#: The last few smoothing kernels: (space, points' digest, sigma) -> (space, kernel, area,
#: norm). A run draws many frames of one space at the same points (renders, GIF frames,
#: colour limits); the kernel depends on neither the time nor the density.
_KERNELS: dict = {}


def _smoothing(space, points, sigma):
    r"""Sparse Gaussian kernel :math:`K_\sigma(x_i, x_q)` (m, Q) between points and the
    space's quadrature points, the quadrature areas (Q,) and the row sums
    :math:`\sum_q a_q K_\sigma(x_i, x_q)` (m,), cached for repeated frames."""
    import hashlib

    from scipy.sparse import vstack
    from scipy.spatial import cKDTree

    key = (id(space), hashlib.blake2b(np.ascontiguousarray(points)).hexdigest(), sigma)
    hit = _KERNELS.get(key)
    if hit is not None and hit[0] is space:
        return hit[1:]
    xq = np.asarray(space.quadrature_points, float).reshape(-1, points.shape[1])
    area = np.asarray(space.quadrature.weights, float).ravel()
    tree = cKDTree(xq)
    blocks, step = [], 1 << 15
    for s in range(0, points.shape[0], step):
        near = cKDTree(points[s : s + step]).sparse_distance_matrix(
            tree, 3.0 * sigma, output_type="coo_matrix"
        )
        near.data = np.exp(-0.5 * (near.data / sigma) ** 2)
        blocks.append(near)
    kernel = vstack(blocks, format="csr")
    norm = np.maximum(kernel @ area, np.finfo(float).tiny)
    while len(_KERNELS) >= 4:
        _KERNELS.pop(next(iter(_KERNELS)))
    _KERNELS[key] = (space, kernel, area, norm)
    return kernel, area, norm


def _grid(samples):
    """Cell edges and centres of a lon/lat grid with ``samples`` rows, 2 * samples columns."""
    samples = as_int(samples, "samples", min_value=8)
    lon = np.linspace(-np.pi, np.pi, 2 * samples + 1)
    lat = np.linspace(-np.pi / 2, np.pi / 2, samples + 1)
    lon_c, lat_c = 0.5 * (lon[1:] + lon[:-1]), 0.5 * (lat[1:] + lat[:-1])
    return lon, lat, from_lonlat(*np.meshgrid(lon_c, lat_c))


def _circle_grid(samples):
    theta = np.linspace(-np.pi, np.pi, 8 * as_int(samples, "samples", min_value=8) + 1)
    return theta, np.column_stack([np.cos(theta), np.sin(theta)])


def sample(rho, samples: int | None = None, smooth: float | None = None):
    """The density relative to uniform on the plotting grid (:func:`display_density`; smooth
    defaults to ``SMOOTH`` cells on S^2 and to 0, the raw curve, on S^1).

    Returns
    -------
    (lon_edges (2s+1,), lat_edges (s+1,), values (s, 2s)) on S^2, or (theta (8s+1,), values)
    on S^1, with s = ``samples``.
    """
    samples = SAMPLES if samples is None else samples
    d = _dim(rho)
    if smooth is None:
        smooth = SMOOTH if d == 3 else 0.0
    if d == 2:
        theta, pts = _circle_grid(samples)
        return theta, display_density(rho, pts, smooth)
    if d != 3:
        raise ValueError(f"rho must live on S^1 or S^2 to be mapped, got points in R^{d}")
    lon, lat, pts = _grid(samples)
    return lon, lat, display_density(rho, pts.reshape(-1, 3), smooth).reshape(pts.shape[:2])


def colour_limits(values, norm="log", vmin=None, vmax=None, decades: float = DECADES):
    """Colour limits shared by several arrays of values.

    ``vmax`` defaults to the largest value; ``vmin`` to the smallest value for a linear scale
    (0 when all values are non-negative) and, for a log scale, to the smallest positive value
    but no lower than ``decades`` below ``vmax`` or 0.1 (a tenth of uniform), whichever is
    lower.

    Parameters
    ----------
    values : array_like or list of array_like
    norm : {"log", "linear"}
    vmin, vmax : float, optional

    Returns
    -------
    (float, float)
    """
    norm = choose(norm, "norm", NORMS)
    flat = np.concatenate([np.ravel(np.asarray(v, float)) for v in _as_list(values)])
    flat = flat[np.isfinite(flat)]
    if flat.size == 0:
        raise ValueError("values must hold at least one finite number, got none")
    hi = float(flat.max()) if vmax is None else float(vmax)
    if vmin is not None:
        lo = float(vmin)
    elif norm == "linear":
        lo = min(0.0, float(flat.min()))
    else:
        pos = flat[flat > 0]
        # three decades below the top, and down to a tenth of uniform at least, so the
        # uniform level (1) stays in the range when clusters are thousands of times denser
        lo = max(float(pos.min()) if pos.size else hi, min(hi * 10.0**-decades, FLOOR))
    if norm == "log" and not lo > 0:
        raise ValueError(f"vmin must be positive on a log scale, got {lo}")
    if not hi > lo:
        hi = lo * (1 + 1e-6) if lo > 0 else lo + 1.0  # a constant density: any range shows it
    return lo, hi


def _as_list(values):
    return values if isinstance(values, (list, tuple)) else [values]


def make_norm(norm="log", vmin=None, vmax=None):
    """A matplotlib norm: ``"log"`` (LogNorm), ``"linear"`` (Normalize) or a Normalize as is."""
    from matplotlib.colors import LogNorm, Normalize

    if isinstance(norm, Normalize):
        return norm
    norm = choose(norm, "norm", NORMS)
    return (LogNorm if norm == "log" else Normalize)(vmin=vmin, vmax=vmax)


def _limits_of(norm, values, vmin, vmax):
    from matplotlib.colors import LogNorm, Normalize

    if isinstance(norm, Normalize):
        kind = "log" if isinstance(norm, LogNorm) else "linear"
        vmin = norm.vmin if norm.vmin is not None else vmin
        vmax = norm.vmax if norm.vmax is not None else vmax
        return kind, colour_limits(values, kind, vmin, vmax)
    return norm, colour_limits(values, norm, vmin, vmax)


def _tokens(tokens, d, max_tokens=None, seed=0):
    """Tokens as (n, d) points, at most ``max_tokens`` of them (a seeded subset)."""
    if tokens is None:
        return None
    x = as_points(tokens, "tokens", d=d)
    if max_tokens is not None and x.shape[0] > as_int(max_tokens, "max_tokens", min_value=1):
        x = x[np.sort(np.random.default_rng(seed).choice(x.shape[0], max_tokens, replace=False))]
    return x


def density_map(
    rho,
    ax=None,
    projection: str = "mollweide",
    tokens=None,
    norm="log",
    vmin: float | None = None,
    vmax: float | None = None,
    cmap="viridis",
    samples: int | None = None,
    colorbar: bool = True,
    title: str | None = None,
    width: float = COLUMN,
    smooth: float | None = None,
    max_tokens: int | None = None,
):
    r"""Map of a density on the whole sphere, tokens on top.

    On :math:`S^2`: an equal-area map (Mollweide or Hammer; longitude 0 in the centre, the
    north pole on top) of :math:`\rho/\bar\rho`, sampled on a grid of ``samples`` x
    ``2 samples`` points. On :math:`S^1`: :math:`\rho/\bar\rho` against the angle
    :math:`\theta \in [-\pi, \pi]` (log y axis when ``norm="log"``), with a histogram of the
    tokens on the same scale.

    Parameters
    ----------
    rho : Density or flow-map density
        Anything with ``evaluate(points)``, ``integrate()`` and ``space.dim`` (or
        ``quadrature_measure()``), on :math:`S^1` or :math:`S^2`.
    ax : matplotlib Axes, optional
        On S^2 an axes of the same ``projection`` (``fig.add_subplot(projection="mollweide")``);
        a new figure ``width`` inches wide is made when omitted.
    projection : {"mollweide", "hammer"}
    tokens : array_like, shape (n, d), optional
        Drawn as small red dots (S^2) or a histogram (S^1).
    norm : {"log", "linear"} or matplotlib.colors.Normalize
    vmin, vmax : float, optional
        Colour (S^2) or y (S^1) limits, relative to uniform; see :func:`colour_limits`.
        Values below ``vmin`` get the lowest colour.
    cmap : str or Colormap
    samples : int, optional
        Grid rows over the latitude (default 360, i.e. 0.5 degree).
    colorbar : bool
        Draw a labelled horizontal colour bar under the map (S^2).
    title : str, optional
    width : float
        Width in inches of the new figure (3.4 column, 7 page).
    smooth : float, optional
        Display smoothing in mesh cells (:func:`display_density`; default 0.5 on S^2, 0 on
        S^1; 0 draws the raw DG field).
    max_tokens : int, optional
        Draw at most this many tokens (a seeded subset), so they do not hide the density.

    Returns
    -------
    matplotlib.axes.Axes
        The map's axes; on S^2 its first collection is the mesh (``.norm``, ``.cmap``).
    """
    projection = choose(projection, "projection", PROJECTIONS)
    d = _dim(rho)
    tokens = _tokens(tokens, d, max_tokens)
    with print_style():
        if d == 2:
            theta, values = sample(rho, samples, smooth)
            kind, (lo, hi) = _limits_of(norm, values, vmin, vmax)
            ax = _axes(ax, None, width, 0.62)
            _circle_curve(ax, theta, values, tokens, kind, lo, hi)
        else:
            lon, lat, values = sample(rho, samples, smooth)
            kind, (lo, hi) = _limits_of(norm, values, vmin, vmax)
            ax = _axes(ax, projection, width, 0.62 if colorbar else 0.52)
            mesh = _sphere_mesh(ax, lon, lat, values, make_norm(norm, lo, hi), cmap)
            _sphere_tokens(ax, tokens)
            if colorbar:
                _colorbar(ax.figure, mesh, ax, below=values.min() < lo)
        if title:
            ax.set_title(title)
        finish(ax)
    return ax


def _axes(ax, projection, width, aspect):
    if ax is None:
        return figure(width, aspect=aspect).add_subplot(projection=projection)
    if projection is not None and getattr(ax, "name", None) != projection:
        raise ValueError(
            f"ax must be a {projection!r} axes for a map on S^2, got a {ax.name!r} axes "
            f"(make it with fig.add_subplot(projection={projection!r}))"
        )
    return ax


def _sphere_mesh(ax, lon, lat, values, norm, cmap):
    clipped = np.clip(values, norm.vmin, None)  # below the range: the lowest colour, not blank
    mesh = ax.pcolormesh(lon, lat, clipped, norm=norm, cmap=cmap, shading="flat",
                         rasterized=True, linewidth=0, antialiased=False)  # fmt: skip
    ax.set_xticks(np.radians([-120, -60, 0, 60, 120]))
    ax.set_xticklabels([])  # longitude labels would sit on the density
    ax.set_yticks(np.radians([-60, -30, 0, 30, 60]))
    ax.grid(True, color="w", linewidth=0.3, alpha=0.5)
    return mesh


def _sphere_tokens(ax, tokens, scale=1.0):
    """Tokens as dots; ``scale`` shrinks them with the panel (area ~ width^2)."""
    if tokens is not None:
        lon, lat = lonlat(tokens)
        ax.scatter(lon, lat, **{**TOKEN_STYLE, "s": TOKEN_STYLE["s"] * scale**2})


def _colorbar(fig, mesh, ax, below=False):
    bar = fig.colorbar(mesh, ax=ax, orientation="horizontal", shrink=0.7, aspect=30,
                       pad=0.04, extend="min" if below else "neither")  # fmt: skip
    return style_colorbar(bar)


def log_ticks(axis, lo, hi) -> None:
    """Plain-number ticks on a log axis: 1-2-5 per decade over two decades or less, else 1-3
    (``10^k`` alone leaves a short range with one label)."""
    from matplotlib.ticker import FuncFormatter, LogLocator, NullLocator

    subs = (1.0, 2.0, 5.0) if np.log10(hi / lo) <= 2.0 else (1.0, 3.0)
    axis.set_major_locator(LogLocator(subs=subs))
    axis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    axis.set_minor_locator(NullLocator())


def style_colorbar(bar):
    """Label a density colour bar, plain-number log ticks, 8 pt, bands as vectors."""
    from matplotlib.colors import LogNorm

    if isinstance(bar.norm, LogNorm):
        log_ticks(bar.ax.xaxis if bar.orientation == "horizontal" else bar.ax.yaxis,
                  bar.norm.vmin, bar.norm.vmax)  # fmt: skip
    bar.set_label(LABEL)
    bar.ax.tick_params(labelsize=8, width=0.6)
    bar.outline.set_linewidth(0.5)
    bar.solids.set_rasterized(False)  # 256 vector bands: the map is the only raster
    bar.solids.set_edgecolor("face")  # no hairline seams between the bands in PDF viewers
    return bar


def _circle_curve(ax, theta, values, tokens, kind, lo, hi):
    if tokens is not None:
        ang = np.arctan2(tokens[:, 1], tokens[:, 0])
        bins = max(16, min(180, int(np.sqrt(len(ang)) * 2)))
        # density=True integrates to 1 over the angle; times 2 pi is relative to uniform
        h, edges = np.histogram(ang, bins=bins, range=(-np.pi, np.pi), density=True)
        ax.stairs(np.maximum(2 * np.pi * h, lo), edges, fill=True, color="#d62728", alpha=0.35,
                  linewidth=0, label=f"{len(ang)} tokens")  # fmt: skip
    ax.plot(theta, np.clip(values, lo, None), color="#1f4e9c", lw=1.0, label="density")
    ax.set_yscale("log" if kind == "log" else "linear")
    ax.set_ylim(lo, hi * (1.3 if kind == "log" else 1.05))
    ax.set_xlim(-np.pi, np.pi)
    ax.set_xticks(np.pi * np.array([-1, -0.5, 0, 0.5, 1]),
                  [r"$-\pi$", r"$-\pi/2$", "$0$", r"$\pi/2$", r"$\pi$"])  # fmt: skip
    ax.set_xlabel(r"angle $\theta$")
    ax.set_ylabel(LABEL)
    if tokens is not None:
        ax.legend(loc="upper right")


def _frames(solution, times):
    """Indices of the output frames nearest to ``times`` and the densities there."""
    t = np.asarray(solution.t, float)
    times = np.atleast_1d(np.asarray(t if times is None else times, float))
    if times.ndim != 1 or times.size == 0:
        raise ValueError(f"times must be a non-empty 1-D list of times, got shape {times.shape}")
    ks = [int(np.argmin(np.abs(t - s))) for s in times]
    get = solution.density if callable(getattr(solution, "density", None)) else None
    rhos = [get(k) if get else solution.densities[k] for k in ks]
    return [float(t[k]) for k in ks], rhos


def _tokens_at(tokens, times):
    if tokens is None:
        return [None] * len(times)
    if hasattr(tokens, "t") and hasattr(tokens, "x"):
        tt = np.asarray(tokens.t, float)
        return [np.asarray(tokens.x[int(np.argmin(np.abs(tt - s)))]) for s in times]
    tokens = list(tokens)
    if len(tokens) != len(times):
        raise ValueError(f"tokens must hold one (n, d) array per time ({len(times)}), "
                         f"got {len(tokens)}")  # fmt: skip
    return tokens


def density_maps(
    solution,
    times=None,
    tokens=None,
    ncols: int | None = None,
    projection: str = "mollweide",
    norm="log",
    vmin: float | None = None,
    vmax: float | None = None,
    cmap="viridis",
    samples: int | None = None,
    width: float = PAGE,
    smooth: float | None = None,
    max_tokens: int | None = None,
):
    """A grid of maps at several times, with one colour range and one colour bar.

    Parameters
    ----------
    solution : DensitySolution or SavedRun
        Anything with ``t`` and ``densities`` (or ``density(k)``).
    times : array_like, optional
        Times to show (the nearest output frames; all frames when omitted).
    tokens : Trajectory, or list of (n, d) arrays, optional
        Tokens at the same times (a Trajectory is read at its frame nearest each time).
    ncols : int, optional
        Panels per row (default: as many as fit at 2.2 in each, at most 4).
    projection, norm, vmin, vmax, cmap, samples, smooth, max_tokens
        As in :func:`density_map`; the limits are computed over all panels when not given.
    width : float
        Figure width in inches.

    Returns
    -------
    matplotlib.figure.Figure
    """
    ts, rhos = _frames(solution, times)
    toks = _tokens_at(tokens, ts)
    d = _dim(rhos[0])
    grids = [sample(r, samples, smooth) for r in rhos]
    kind, (lo, hi) = _limits_of(norm, [g[-1] for g in grids], vmin, vmax)
    if ncols is None:  # panels at least 2.2 in wide, at most 4 in a row
        ncols = max(1, min(len(ts), 4, int(width // 2.2)))
    ncols = as_int(ncols, "ncols", min_value=1)
    nrows = -(-len(ts) // ncols)
    panel = width / ncols
    with print_style():
        # panel height: the map (half its width) or curve, plus its title; then the colour bar
        fig = figure(width, height=nrows * (panel * (0.62 if d == 2 else 0.5) + 0.15) + 0.55)
        proj = None if d == 2 else choose(projection, "projection", PROJECTIONS)
        axes = [fig.add_subplot(nrows, ncols, i + 1, projection=proj) for i in range(len(ts))]
        mesh = None
        for ax, s, g, x in zip(axes, ts, grids, toks, strict=True):
            x = _tokens(x, d, max_tokens)
            if d == 2:
                _circle_curve(ax, g[0], g[1], x, kind, lo, hi)
            else:
                mesh = _sphere_mesh(ax, g[0], g[1], g[2], make_norm(norm, lo, hi), cmap)
                _sphere_tokens(ax, x, scale=min(1.0, panel / COLUMN))
                if ax.get_subplotspec().colspan.start:
                    ax.set_yticklabels([])  # latitudes on the first column only
            ax.set_title(f"$t = {s:g}$")
            finish(ax)
        if mesh is not None:
            below = min(float(g[-1].min()) for g in grids) < lo
            bar = fig.colorbar(mesh, ax=axes, orientation="horizontal", shrink=0.5, aspect=40,
                               pad=0.03, extend="min" if below else "neither")  # fmt: skip
            style_colorbar(bar)
    return fig


def density_spacetime(solution, ax=None, norm="log", vmin=None, vmax=None, cmap="viridis",
                      samples: int | None = None, colorbar: bool = True,
                      width: float = COLUMN, smooth: float | None = None):  # fmt: skip
    r"""A density on :math:`S^1` over time: :math:`\rho/\bar\rho` against t (x) and the angle
    (y), one colour range over all frames (the PDE picture beside token angles).

    Parameters
    ----------
    solution : DensitySolution or SavedRun on S^1
    ax : Axes, optional
    norm, vmin, vmax, cmap, samples, smooth
        As in :func:`density_map`.
    colorbar : bool
    width : float

    Returns
    -------
    matplotlib.axes.Axes
    """
    ts, rhos = _frames(solution, None)
    if _dim(rhos[0]) != 2:
        raise ValueError(
            f"solution must live on S^1 for a space-time plot, got d = {_dim(rhos[0])}"
        )
    grids = [sample(r, samples, smooth) for r in rhos]
    theta = grids[0][0]
    values = np.array([g[1] for g in grids])
    kind, (lo, hi) = _limits_of(norm, values, vmin, vmax)
    with print_style():
        ax = _axes(ax, None, width, 0.62)
        mesh = ax.pcolormesh(ts, theta, np.clip(values, lo, None).T, shading="nearest",
                             norm=make_norm(norm, lo, hi), cmap=cmap, rasterized=True)  # fmt: skip
        ax.set_yticks(np.pi * np.array([-1, -0.5, 0, 0.5, 1]),
                      [r"$-\pi$", r"$-\pi/2$", "$0$", r"$\pi/2$", r"$\pi$"])  # fmt: skip
        ax.set_xlabel("$t$")
        ax.set_ylabel(r"angle $\theta$")
        if colorbar:
            style_colorbar(ax.figure.colorbar(mesh, ax=ax, pad=0.02))
        finish(ax)
    return ax
