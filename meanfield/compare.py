r"""Distances between measures on the circle and the sphere.

A measure is given as a :class:`~meanfield.dg.Density` (its quadrature measure
:math:`\sum_q w_q \rho(x_q)\delta_{x_q}` is used), a ``(points, weights)`` pair, or a point
array (equal weights). Both measures are normalised to probability measures, after checking that
their masses agree.
"""

from __future__ import annotations

import numpy as np
from numpy.polynomial.legendre import leggauss
from scipy.spatial import cKDTree

from ._checks import as_int, as_points, as_real_array, as_scalar
from .eulerian.zonal import is_zonal, polar_breakpoints, polar_cdf

__all__ = [
    "polar_wasserstein",
    "SlicedMetric",
    "as_measure",
    "density_measure",
    "distance",
    "fibonacci_sphere",
    "geodesic_cost",
    "w1_sphere",
    "wasserstein",
]

#: Relative mass mismatch tolerated between the two measures.
MASS_RTOL = 1e-8


def as_measure(a, name: str = "a") -> tuple[np.ndarray, np.ndarray]:
    """Points (N, d) and non-negative weights (N,) of a measure given in any accepted form."""
    if hasattr(a, "quadrature_measure"):
        pts, w = a.quadrature_measure()
        return np.asarray(pts, float), np.clip(np.asarray(w, float), 0.0, None)
    if isinstance(a, tuple) and len(a) == 2:
        pts = as_points(a[0], f"{name}[0]")
        w = as_real_array(a[1], f"{name}[1]", ndim=1)
        if w.shape[0] != pts.shape[0]:
            raise ValueError(
                f"{name}[1] (weights) must have shape ({pts.shape[0]},), got {w.shape}"
            )
        if np.any(w < 0):
            raise ValueError(f"{name}[1] (weights) must be non-negative, got min {w.min():.3g}")
        return pts, w
    pts = as_points(a, name)
    return pts, np.full(pts.shape[0], 1.0 / pts.shape[0])


def geodesic_cost(x, y, p: float = 1.0) -> np.ndarray:
    """Great-circle distance to the power p, shape (len(x), len(y)).

    Uses :math:`2\arcsin(|x - y|/2)`, accurate for nearby points where ``arccos`` of the dot
    product loses half the digits.
    """
    from scipy.spatial.distance import cdist

    return (2.0 * np.arcsin(np.minimum(cdist(x, y) / 2.0, 1.0))) ** p


def fibonacci_sphere(n: int) -> np.ndarray:
    """``n`` nearly evenly spread points on :math:`S^2` (Fibonacci lattice), shape (n, 3).

    Their covering radius is about :math:`2/\\sqrt{n}` radians.
    """
    n = as_int(n, "n", min_value=1)
    k = np.arange(n) + 0.5
    z = 1.0 - 2.0 * k / n
    phi = np.pi * (1.0 + 5**0.5) * k
    r = np.sqrt(1.0 - z * z)
    return np.stack([r * np.cos(phi), r * np.sin(phi), z], axis=1)


def _bin(pts, w, grid, tree):
    idx = tree.query(pts)[1]
    mass = np.bincount(idx, weights=w, minlength=grid.shape[0])
    keep = mass > 0
    return grid[keep], mass[keep]


def _circle(xa, wa, xb, wb, p):
    import ot

    def coord(x):
        return (np.arctan2(x[:, 1], x[:, 0]) / (2 * np.pi)) % 1.0

    loss = ot.wasserstein_circle(coord(xa), coord(xb), wa, wb, p=p, eps=1e-12)
    return 2.0 * np.pi * float(np.squeeze(loss)) ** (1.0 / p)


def _sphere(xa, wa, xb, wb, p, max_support):
    import ot

    if max(len(xa), len(xb)) > max_support:
        grid = fibonacci_sphere(max_support)
        tree = cKDTree(grid)
        if len(xa) > max_support and len(xb) > max_support and p == 1:
            return _net_w1(grid, _bin_masses(xa, wa, tree, max_support),
                           _bin_masses(xb, wb, tree, max_support))  # fmt: skip
        if len(xa) > max_support:
            xa, wa = _bin(xa, wa, grid, tree)
        if len(xb) > max_support:
            xb, wb = _bin(xb, wb, grid, tree)
    cost = ot.emd2(wa, wb, geodesic_cost(xa, xb, p), numItermax=10_000_000)
    return float(cost) ** (1.0 / p)


def _bin_masses(pts, w, tree, nodes):
    return np.bincount(tree.query(pts)[1], weights=w, minlength=nodes)


def _net_w1(grid, ma, mb):
    r""":math:`W_1` of two probability measures on the same nodes from their difference alone.

    For p = 1 the optimal cost depends only on :math:`a - b` (Kantorovich–Rubinstein: mass
    common to a node stays where it is at no cost, and a metric cost never gains by moving
    it), so the transport problem shrinks to the nodes where a exceeds b against those where
    b exceeds a, about half of each support when the measures are close: the same optimum,
    several times cheaper.
    """
    import ot

    net = ma - mb
    pos, neg = net > 0, net < 0
    excess = float(net[pos].sum())
    if not (pos.any() and neg.any()) or excess <= 0:
        return 0.0
    src, dst = net[pos], -net[neg]
    cost = geodesic_cost(grid[pos], grid[neg])
    return excess * float(ot.emd2(src / src.sum(), dst / dst.sum(), cost, numItermax=10_000_000))


def wasserstein(a, b, p: float = 1, max_support: int = 3000) -> float:
    r"""Wasserstein distance :math:`W_p` with the geodesic cost on :math:`S^1` or :math:`S^2`.

    .. math::
        W_p(a, b) = \Big(\min_{\pi \in \Pi(a, b)} \iint \angle(x, y)^p\, d\pi(x, y)\Big)^{1/p}

    Parameters
    ----------
    a, b : Density, (points, weights) or points
        Measures on the same sphere; points have shape (N, d) with d = 2 or 3.
    p : float, >= 1
    max_support : int
        On :math:`S^2`, a measure with more support points is first binned onto a Fibonacci
        lattice of ``max_support`` points (each mass moved to its nearest node).

    Returns
    -------
    float
        In radians.

    Notes
    -----
    On :math:`S^1` the distance is exact for any support size (POT's ``wasserstein_circle``:
    closed form for p = 1, a convex search to 1e-12 for p > 1). On :math:`S^2` it is exact
    optimal transport (POT's ``ot.emd2``) as long as both supports have at most
    ``max_support`` points. Beyond, binning moves each point by at most the lattice's covering
    radius h (about :math:`2/\sqrt{\text{max\_support}}`), so the result is within
    :math:`2h` of the exact distance (triangle inequality); raise ``max_support`` to tighten it,
    at O(max_support^2) memory.
    """
    p = as_scalar(p, "p", min_value=1.0)
    max_support = as_int(max_support, "max_support", min_value=2)
    if is_zonal(a) or is_zonal(b):
        if p != 1:
            raise ValueError(f"p must be 1 for a zonal density (the law of s), got {p:g}")
        return polar_wasserstein(a, b)
    xa, wa = as_measure(a, "a")
    xb, wb = as_measure(b, "b")
    if xa.shape[1] != xb.shape[1] or xa.shape[1] not in (2, 3):
        raise ValueError(
            f"a and b must be measures on the same S^1 or S^2 (d = 2 or 3), got points in "
            f"R^{xa.shape[1]} and R^{xb.shape[1]}"
        )
    ma, mb = wa.sum(), wb.sum()
    if ma <= 0 or mb <= 0 or abs(ma - mb) > MASS_RTOL * max(ma, mb):
        raise ValueError(f"a and b must have equal positive mass, got {ma:.12g} and {mb:.12g}")
    wa, wb = wa / ma, wb / mb
    if xa.shape[1] == 2:
        return _circle(xa, wa, xb, wb, p)
    return _sphere(xa, wa, xb, wb, p, max_support)


# --------------------------------------------------------------------------- zonal measures
def _polar_law(a, name):
    """(zonal density or None, sorted polar angles, their masses) of a measure, normalised."""
    if is_zonal(a):
        return a, None, None
    x, w = as_measure(a, name)
    theta = np.arctan2(np.linalg.norm(x[:, :-1], axis=1), x[:, -1])
    order = np.argsort(theta, kind="stable")
    return None, theta[order], w[order] / w.sum()


def _polar_cdf_of(law, theta):
    density, atoms, masses = law
    if density is not None:
        return polar_cdf(density, theta) / density.integrate()
    return np.concatenate([[0.0], np.cumsum(masses)])[np.searchsorted(atoms, theta, "right")]


def polar_wasserstein(a, b, samples: int = 8) -> float:
    r"""Exact :math:`W_1` between the laws of :math:`s = \langle x, e_d\rangle` of two measures.

    .. math::
        W_1 = \int_{-1}^{1} |F_a(s) - F_b(s)|\,ds
            = \int_0^\pi |G_a(\theta) - G_b(\theta)| \sin\theta\, d\theta,

    G the (normalised) mass below the polar angle :math:`\theta` (:func:`polar_cdf` for a
    zonal density, a step function for tokens or a quadrature measure). Between consecutive
    breakpoints (cell ends, atoms) G is a polynomial of :math:`\theta` or constant; sign
    changes of the difference are located by bisection (from ``samples`` points per piece; the
    difference of a zonal density and tokens is monotone there, so its one root is found), and
    each sign-definite piece is integrated by 8-point Gauss–Legendre.

    Parameters
    ----------
    a, b : zonal Density, (points, weights) or points
        At least one zonal density, or any two measures in the same :math:`\mathbb{R}^d`.

    Returns
    -------
    float
        Distance in units of s.
    """
    la, lb = _polar_law(a, "a"), _polar_law(b, "b")
    cuts = [np.array([0.0, np.pi])]
    for law in (la, lb):
        cuts.append(polar_breakpoints(law[0]) if law[0] is not None else law[1])
    edges = np.unique(np.clip(np.concatenate(cuts), 0.0, np.pi))
    lo, hi = edges[:-1], edges[1:]

    def diff(t):
        return _polar_cdf_of(la, t) - _polar_cdf_of(lb, t)

    # inside each piece the step functions are constant: evaluate just right of its left end
    frac = np.linspace(0.0, 1.0, samples + 1)[None, :]
    eps = 1e-12 * (hi - lo)[:, None]
    grid = lo[:, None] + eps + (hi - lo - 2 * eps[:, 0])[:, None] * frac
    vals = diff(grid.ravel()).reshape(grid.shape)
    pieces_lo, pieces_hi = [grid[:, :-1].ravel()], [grid[:, 1:].ravel()]
    change = np.sign(vals[:, :-1]) * np.sign(vals[:, 1:]) < 0
    a0, b0 = grid[:, :-1][change], grid[:, 1:][change]
    fa = vals[:, :-1][change]
    for _ in range(60):
        mid = 0.5 * (a0 + b0)
        fm = diff(mid)
        left = np.sign(fm) == np.sign(fa)
        a0, fa = np.where(left, mid, a0), np.where(left, fm, fa)
        b0 = np.where(left, b0, mid)
    root = 0.5 * (a0 + b0)
    lo2, hi2 = np.concatenate(pieces_lo), np.concatenate(pieces_hi)
    keep = ~change.ravel()
    lo2 = np.concatenate([lo2[keep], grid[:, :-1][change], root])
    hi2 = np.concatenate([hi2[keep], root, grid[:, 1:][change]])
    t, w = leggauss(8)
    nodes = 0.5 * (lo2 + hi2)[:, None] + 0.5 * (hi2 - lo2)[:, None] * t[None, :]
    f = np.abs(diff(nodes.ravel()).reshape(nodes.shape)) * np.sin(nodes)
    return float(np.sum(f @ w * 0.5 * (hi2 - lo2)))


# --------------------------------------------------------------------------- sliced metric
#: Bins per circle of the binned circular W1 (the bin width bounds the binning error).
BINS = {2: 1 << 16, 3: 1 << 14}
#: Great circles of the spherical sliced distance on S^2 (a fixed set: the distance is then a
#: deterministic functional, not a Monte-Carlo estimate).
PROJECTIONS = 64
#: Points of the Fibonacci lattice that carries a density on S^2 (weights rho(x_k)).
FIBONACCI_POINTS = 200_000


class SlicedMetric:
    r"""Binned circular :math:`W_1` on :math:`S^1`, spherical sliced :math:`SSW_1` on :math:`S^2`.

    On :math:`S^1` each measure is binned onto ``bins`` equal arcs and

    .. math:: W_1(\mu, \nu) = \frac{2\pi}{K} \sum_{k=1}^{K} |h_k - \mathrm{med}(h)|, \qquad
              h_k = \sum_{j \le k} (\mu_j - \nu_j),

    the exact circular :math:`W_1` of the binned measures (Rabin et al. 2011); binning moves
    each point by at most half a bin, so the result is within :math:`2\pi/K` of the exact
    distance. On :math:`S^2` every point is projected on ``projections`` fixed great circles
    (:math:`P^U(x) = U^Tx/|U^Tx|`, the projection of POT's ``ot.sliced_wasserstein_sphere``,
    same random :math:`U` for a given seed) and

    .. math:: SSW_1(\mu, \nu) = \frac1P \sum_{p=1}^{P} W_1(P^{U_p}_\#\mu, P^{U_p}_\#\nu),

    each term computed as on :math:`S^1`. :math:`SSW_1 \le W_1`; it is a distance between
    measures for :math:`P \to \infty` and, for an empirical measure of n i.i.d. points, decays
    like :math:`n^{-1/2}` (each slice is one-dimensional), whereas :math:`W_1` on a
    two-dimensional sphere decays like :math:`\sqrt{\log n / n}`.

    Parameters
    ----------
    d : int
        2 or 3.
    bins : int, optional
        Bins per circle (default :data:`BINS`).
    projections : int
        Great circles on :math:`S^2`.
    seed : int
        Seed of the great circles.
    """

    def __init__(self, d, bins=None, projections=PROJECTIONS, seed=0):
        if d not in (2, 3):
            raise ValueError(f"d must be 2 or 3, got {d}")
        self.d = d
        self.bins = as_int(BINS[d] if bins is None else bins, "bins", min_value=2)
        if d == 2:
            self.frames = np.eye(2)[None]
        else:
            import ot

            p = as_int(projections, "projections", min_value=1)
            self.frames = np.asarray(ot.sliced.get_projections_sphere(3, p, seed=seed))

    @property
    def name(self) -> str:
        return (
            "W1 (binned, exact circular)" if self.d == 2 else f"SSW1 ({len(self.frames)} circles)"
        )

    def histograms(self, points, weights=None, rows=1 << 14) -> np.ndarray:
        """Probability mass of each bin on each circle, shape (P, K), for points (n, d)."""
        x = np.asarray(points, float)
        w = np.full(len(x), 1.0 / len(x)) if weights is None else np.asarray(weights, float)
        w = w / w.sum()
        P, K = len(self.frames), self.bins
        frames = self.frames.transpose(1, 0, 2).reshape(self.d, 2 * P)
        offset = np.arange(P) * K
        out = np.zeros(P * K)
        for s in range(0, len(x), rows):
            xy = x[s : s + rows] @ frames
            theta = np.arctan2(xy[:, 1::2], xy[:, 0::2])
            idx = ((theta + np.pi) * (K / (2 * np.pi))).astype(np.int64)
            np.minimum(idx, K - 1, out=idx)
            idx += offset
            out += np.bincount(idx.ravel(), np.repeat(w[s : s + rows], P), minlength=P * K)
        return out.reshape(P, K)

    def between(self, ha, hb) -> float:
        """Distance between two sets of histograms (:meth:`histograms`)."""
        h = np.cumsum(ha - hb, axis=1)
        med = np.median(h, axis=1, keepdims=True)
        return float(np.mean(np.abs(h - med).sum(axis=1)) * (2 * np.pi / self.bins))

    def __call__(self, a, b) -> float:
        """Distance between measures given as ``points`` or ``(points, weights)``."""
        return self.between(self.histograms(*_pw(a)), self.histograms(*_pw(b)))


def _pw(a):
    return a if isinstance(a, tuple) else (a, None)


def density_measure(rho, points=None):
    r"""A fine weighted point set carrying the density: ``(points, weights)``.

    :math:`S^1`: the midpoints of ``points`` (default :math:`2^{17}`) equal arcs, weighted by
    :math:`\rho(x_k)\,\Delta\theta`. :math:`S^2`: a Fibonacci lattice of ``points`` (default
    :data:`FIBONACCI_POINTS`) nearly equal-area cells, weighted by :math:`\rho(x_k)`. Negative
    round-off values are clipped; weights are normalised to sum 1. A Lagrangian flow-map
    density gives its own refined quadrature measure instead (every moved cell cut into
    :math:`2^5` arcs or :math:`4^3` triangles, masses exact; see
    :meth:`meanfield.lagrangian.FlowMapDensity.refined_measure`), which stays exact however
    narrow its clusters are.
    """
    if hasattr(rho, "refined_measure"):
        x, w = rho.refined_measure(5 if rho.space.dim == 2 else 3)
        return x / np.linalg.norm(x, axis=1, keepdims=True), w / w.sum()
    d = rho.space.dim
    if d == 2:
        m = as_int(points or 1 << 17, "points", min_value=8)
        theta = (np.arange(m) + 0.5) * (2 * np.pi / m)
        x = np.stack([np.cos(theta), np.sin(theta)], axis=1)
    else:
        x = fibonacci_sphere(as_int(points or FIBONACCI_POINTS, "points", min_value=8))
    w = np.maximum(rho.evaluate(x), 0.0)
    return x, w / w.sum()


def distance(rho, x, metric=None) -> float:
    """Distance (:class:`SlicedMetric`) between a density and the empirical measure of x (n, d)."""
    metric = SlicedMetric(rho.space.dim) if metric is None else metric
    return metric(density_measure(rho), x)


def w1_sphere(a, b) -> float:
    """Exact geodesic :math:`W_1` (POT ``ot.emd2``) between two small weighted sets on S^2."""
    return wasserstein(a, b, p=1, max_support=max(len(_pw(a)[0]), len(_pw(b)[0])))
