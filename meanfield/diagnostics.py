r"""Diagnostics of measures on the sphere: token configurations and densities.

A measure is given as points ``x`` of shape (n, d) with optional weights of shape (n,)
(default :math:`1/n`), or as a :class:`~meanfield.dg.Density`, whose quadrature measure
:math:`\sum_q w_q \rho(x_q) \delta_{x_q}` is used (so integrals are exact to quadrature).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components
from scipy.spatial import cKDTree
from scipy.special import logsumexp

from ._checks import as_points, as_real_array, as_scalar
from .eulerian.zonal import is_zonal, zonal_energy, zonal_log_energy, zonal_moments

__all__ = [
    "energy",
    "pairwise_cosines",
    "Clusters",
    "find_clusters",
    "first_moment",
    "second_moment",
    "mode_amplitude",
    "density_clusters",
    "measure_clusters",
    "cluster_mass_gap",
]

_ROWS = 1 << 16  # elements of a pairwise tile


def _measure(x, weights):
    if hasattr(x, "quadrature_measure"):
        pts, w = x.quadrature_measure()
        return np.asarray(pts, float), np.clip(np.asarray(w, float), 0.0, None)
    x = as_points(x, "x")
    if weights is None:
        return x, np.full(x.shape[0], 1.0 / x.shape[0])
    w = as_real_array(weights, "weights", ndim=1)
    if w.shape[0] != x.shape[0]:
        raise ValueError(f"weights must have shape ({x.shape[0]},) to match x, got {w.shape}")
    if np.any(w < 0):
        raise ValueError(f"weights must be non-negative, got minimum {w.min():.3g}")
    return x, w


def _row_blocks(n):
    step = max(1, _ROWS // max(n, 1))
    return range(0, n, step), step


def energy(x, beta, weights=None) -> float:
    r"""Interaction energy :math:`E_\beta(\mu) = \frac{1}{2\beta}\iint e^{\beta\langle x,y\rangle}
    d\mu(x)\,d\mu(y)`.

    Computed as a chunked log-sum-exp, never holding an n x n array. At :math:`\beta = 0` it
    returns the limit of :math:`E_\beta - \mu(S)^2/(2\beta)`, namely
    :math:`\frac12 |\int y\,d\mu|^2`, which is the energy the :math:`\beta = 0` flow increases.

    Parameters
    ----------
    x : array_like, shape (n, d)
    beta : float
    weights : array_like, shape (n,), optional

    Returns
    -------
    E : float

    Raises
    ------
    ValueError
        If the energy exceeds the float64 range (very large beta; :func:`log_energy` does
        not).
    """
    beta = as_scalar(beta, "beta", min_value=0.0)
    if is_zonal(x):  # each quadrature atom is a ring: the zonal kernel
        return zonal_energy(x, beta)
    if beta == 0.0:
        x, w = _measure(x, weights)
        m = w @ x
        return 0.5 * float(m @ m)
    log_e = log_energy(x, beta, weights)
    if log_e >= np.log(np.finfo(float).max):
        raise ValueError(f"energy overflows float64 at beta = {beta:g} (log E = {log_e:.1f})")
    return float(np.exp(log_e))


def log_energy(x, beta, weights=None) -> float:
    r""":math:`\log E_\beta(\mu)` (see :func:`energy`), finite for every beta.

    :math:`E_\beta` reaches :math:`e^{\beta}\mu(S)^2/(2\beta)` when the measure
    concentrates, beyond float64 for :math:`\beta > 709`; its logarithm, a chunked
    log-sum-exp, stays in range. At :math:`\beta = 0`, the log of :func:`energy`'s limit
    :math:`\frac12|\int y\,d\mu|^2` (-inf when the first moment vanishes exactly).

    Parameters
    ----------
    x : array_like, shape (n, d)
    beta : float
    weights : array_like, shape (n,), optional

    Returns
    -------
    log_E : float
    """
    beta = as_scalar(beta, "beta", min_value=0.0)
    if beta == 0.0:
        with np.errstate(divide="ignore"):
            return float(np.log(energy(x, 0.0, weights)))
    if is_zonal(x):
        return zonal_log_energy(x, beta)
    x, w = _measure(x, weights)
    keep = w > 0
    x, w = x[keep], w[keep]
    fast = _transformed_pair_sum(x, w, beta)
    if fast is not None:
        return float(fast - np.log(2.0 * beta))
    logw = np.log(w)
    blocks, step = _row_blocks(x.shape[0])
    parts = [
        logsumexp(beta * (x[s : s + step] @ x.T) + logw[s : s + step, None] + logw[None, :])
        for s in blocks
    ]
    return float(logsumexp(parts) - np.log(2.0 * beta))


def _transformed_pair_sum(x, w, beta):
    r""":math:`\log \sum_{ij} w_i w_j e^{\beta\langle x_i, x_j\rangle}` by the field's
    spherical-harmonic / Fourier transforms (ducc0, O(n L^2) instead of O(n^2)), or None
    where they do not apply or the direct double sum is cheaper by the field's cost model.

    The transforms give :math:`s_i = e^{-\beta}\sum_j w_j e^{\beta\langle x_i, x_j\rangle}`
    for unit :math:`x_i` to an absolute error :math:`\epsilon W` (:math:`W = \sum w`,
    :math:`\epsilon \approx 10^{-13}`, :func:`meanfield.field.ducc.unreliable`), so
    :math:`\sum_i w_i s_i` is within :math:`\epsilon W^2` of a sum at least
    :math:`\sum_i w_i^2 \ge W^2/n` (the terms i = j): a relative error below
    :math:`\epsilon n` (2e-9 at n = 20 000).
    """
    from .field import ducc
    from .field.spectral import direct_cost, truncation
    from .model import Attention

    n, d = x.shape
    if d not in (2, 3) or not ducc.available():
        return None
    if np.max(np.abs(np.einsum("ij,ij->i", x, x) - 1.0)) > 1e-12:
        return None  # the transforms see directions only: unit points needed
    try:
        L = truncation(beta, d)
    except ValueError:  # beta too large for an expansion
        return None
    if ducc.ducc_cost(d, n, n, L) >= direct_cost(n, n):
        return None
    s0 = ducc.ducc_sums(Attention(beta), x, x, w, ducc.ducc_options(None, None, None))[0]
    return beta + np.log(float(w @ s0))


def pairwise_cosines(x, threshold: float = 0.999) -> dict:
    """Summary of :math:`\\langle x_i, x_j\\rangle` over pairs i < j, in bounded memory.

    Parameters
    ----------
    x : array_like, shape (n, d), n >= 2
    threshold : float
        Pairs with cosine above it count as "together".

    Returns
    -------
    dict
        ``min``, ``mean``, ``max`` of the cosines, and ``fraction_above`` the threshold.
    """
    x, _ = _measure(x, None)
    n = x.shape[0]
    if n < 2:
        raise ValueError(f"x must hold at least 2 points for pairwise cosines, got {n}")
    threshold = as_scalar(threshold, "threshold")
    lo, hi, total, above = np.inf, -np.inf, 0.0, 0
    blocks, step = _row_blocks(n)
    for s in blocks:
        c = x[s : s + step] @ x.T
        i = np.arange(s, min(s + step, n))[:, None]
        upper = c[np.arange(n)[None, :] > i]
        if upper.size:
            lo, hi = min(lo, upper.min()), max(hi, upper.max())
            total += upper.sum()
            above += int(np.count_nonzero(upper > threshold))
    pairs = n * (n - 1) // 2
    return {
        "min": float(lo),
        "mean": total / pairs,
        "max": float(hi),
        "fraction_above": above / pairs,
    }


def first_moment(x, weights=None) -> np.ndarray:
    """Mean :math:`\\int y\\,d\\mu(y)`, shape (d,) (a zonal density: over its rings)."""
    if is_zonal(x):
        return zonal_moments(x)[0]
    x, w = _measure(x, weights)
    return w @ x


def second_moment(x, weights=None) -> np.ndarray:
    """Second moment :math:`\\int y y^T\\,d\\mu(y)`, shape (d, d) (a zonal density: over
    its rings)."""
    if is_zonal(x):
        return zonal_moments(x)[1]
    x, w = _measure(x, weights)
    return (x * w[:, None]).T @ x


def mode_amplitude(x, ell: int, m: int = 0, weights=None) -> float:
    r"""Projection :math:`\int Y_{\ell m}\,d\mu` on a real orthonormal harmonic (d = 2, 3).

    See :func:`meanfield.harmonics.real_harmonic` for the convention.
    """
    from .harmonics import real_harmonic

    x, w = _measure(x, weights)
    return float(w @ real_harmonic(ell, m, x))


@dataclass(frozen=True)
class Clusters:
    """Clusters of a weighted point set.

    Attributes
    ----------
    count : int
    centres : ndarray, shape (count, d)
        Unit vectors along each cluster's weighted mean, ordered by decreasing mass.
    masses : ndarray, shape (count,)
    labels : ndarray, shape (n,)
        Cluster index of every point, -1 for points in clusters lighter than ``min_mass``.
    """

    count: int
    centres: np.ndarray
    masses: np.ndarray
    labels: np.ndarray


def find_clusters(x, weights=None, radius: float = 0.05, min_mass: float = 0.0) -> Clusters:
    """Group points closer than ``radius`` (geodesic) into clusters.

    An approximation of single linkage at scale ``radius`` that never forms all pairs: each
    not-yet-assigned point becomes a leader and takes every unassigned point within
    ``radius / 2`` (so members of one group are closer than ``radius`` to each other); groups
    whose leaders are closer than ``radius`` are then chained together (connected components).
    Well-separated clusters (gaps wider than ``2 * radius``, diameters below ``radius``) are found
    exactly. O(n log n) time and memory linear in n, even when all n points coincide.

    Parameters
    ----------
    x : array_like, shape (n, d)
    weights : array_like, shape (n,), optional
        Default 1/n.
    radius : float
        Merging threshold, geodesic distance in radians (0 < radius <= pi).
    min_mass : float
        Clusters lighter than this are dropped (their points get label -1).

    Returns
    -------
    Clusters
    """
    x, w = _measure(x, weights)
    radius = as_scalar(radius, "radius", min_value=0.0, strict=True)
    if radius > np.pi:
        raise ValueError(f"radius must be at most pi, got {radius}")
    min_mass = as_scalar(min_mass, "min_mass", min_value=0.0)
    chord = 2.0 * np.sin(radius / 2.0)
    leader_of = _leaders(x, 2.0 * np.sin(radius / 4.0))
    leaders = np.unique(leader_of)
    comp = _merge(x[leaders], chord)
    lab = comp[np.searchsorted(leaders, leader_of)]
    k = comp.max() + 1
    masses = np.bincount(lab, weights=w, minlength=k)
    sums = np.stack(
        [np.bincount(lab, weights=w * x[:, j], minlength=k) for j in range(x.shape[1])], axis=1
    )
    keep = np.flatnonzero(masses > min_mass) if min_mass > 0 else np.arange(k)
    keep = keep[np.argsort(-masses[keep], kind="stable")]
    relabel = np.full(k, -1)
    relabel[keep] = np.arange(keep.size)
    norms = np.linalg.norm(sums[keep], axis=1, keepdims=True)
    centres = sums[keep] / np.where(norms > 0, norms, 1.0)
    return Clusters(int(keep.size), centres, masses[keep], relabel[lab])


def _leaders(x, chord):
    tree = cKDTree(x)
    leader_of = np.full(x.shape[0], -1)
    for i in range(x.shape[0]):
        if leader_of[i] >= 0:
            continue
        near = np.asarray(tree.query_ball_point(x[i], chord), dtype=int)
        near = near[leader_of[near] < 0]
        leader_of[near] = i
        leader_of[i] = i
    return leader_of


def _merge(centres, chord):
    k = centres.shape[0]
    pairs = cKDTree(centres).query_pairs(chord, output_type="ndarray")
    graph = coo_matrix((np.ones(len(pairs)), (pairs[:, 0], pairs[:, 1])), shape=(k, k))
    return connected_components(graph, directed=False)[1]


def density_clusters(rho, level: float = 4.0, cells: float = 3.0, min_mass: float = 0.01):
    r"""Clusters of a density: connected regions where :math:`\rho > \text{level}\cdot
    M/|S^{d-1}|` (M the mass).

    The quadrature points above the level are grouped by
    :func:`find_clusters` with radius ``cells`` times the mesh resolution;
    regions lighter than ``min_mass * M`` are dropped. A near-uniform density has no cluster; a
    collapsed state has one per concentration, holding nearly all the mass.

    Returns
    -------
    Clusters
        ``count``, ``centres`` (count, d), ``masses`` (count,) by decreasing mass (absolute,
        not fractions).
    """
    from .harmonics import sphere_area

    x, w = rho.quadrature_measure()
    mass, d = float(w.sum()), rho.space.dim
    keep = rho.quadrature_values().ravel() > level * mass / sphere_area(d)
    if not keep.any():
        return Clusters(0, np.zeros((0, d)), np.zeros(0), np.full(x.shape[0], -1))
    radius = min(np.pi, cells * rho.space.mesh.resolution)
    return find_clusters(x[keep], w[keep], radius=radius, min_mass=min_mass * mass)


def measure_clusters(
    x, weights=None, radius: float = 0.15, level: float = 4.0, min_mass: float = 0.01
) -> Clusters:
    r"""Clusters of any measure by one rule, the same for tokens and for densities.

    A point of the measure's support is *concentrated* when the geodesic ball of radius
    ``r = radius / 2`` around it holds more than ``level`` times the uniform share of the mass,
    :math:`\mu(B(y, r)) > \text{level}\; M\,|B(r)|/|S^{d-1}|`. The concentrated points are
    joined by single linkage at ``radius`` (points closer than it, up to ``radius / 4``, are in
    one cluster, whatever the cluster's diameter), and groups lighter than
    ``min_mass * M`` are dropped. (So a cluster needs at least ``level`` times the uniform
    share of a ball of ``radius / 2``: 0.095 M on :math:`S^1`, 0.0056 M on :math:`S^2` at the
    defaults.) A near-uniform measure (tokens drawn from a near-uniform
    density included) has no cluster; a collapsed one has one per concentration. Because the
    rule reads only the measure, a density (through its quadrature measure) and tokens sampled
    from it give the same count once the ball holds many tokens.

    Parameters
    ----------
    x : array_like, shape (n, d), or Density
        Tokens (weights default 1/n) or a density (its quadrature measure).
    weights : array_like, shape (n,), optional
    radius : float
        Merging radius, radians (0 < radius < pi); balls have half of it. For a density it
        should cover a few cells, so that a ball holds several quadrature points.
    level : float
        Concentration threshold relative to uniform (> 0).
    min_mass : float
        Fraction of the total mass below which a group is not a cluster.

    Returns
    -------
    Clusters
        With masses as fractions of the total mass and ``labels`` -1 off the clusters.

    Notes
    -----
    Cost O(n k) for k points per ball (a k-d tree query; with equal weights, as for tokens, it
    only counts them); the density's quadrature points are spread evenly, so k stays small.
    """
    from .harmonics import sphere_area

    pts, w = _measure(x, weights)
    radius = as_scalar(radius, "radius", min_value=0.0, strict=True)
    if radius >= np.pi:
        raise ValueError(f"radius must be below pi, got {radius}")
    level = as_scalar(level, "level", min_value=0.0, strict=True)
    min_mass = as_scalar(min_mass, "min_mass", min_value=0.0)
    mass, d = float(w.sum()), pts.shape[1]
    if not mass > 0:
        raise ValueError(f"the measure must have positive mass, got {mass}")
    unit = pts / np.linalg.norm(pts, axis=1, keepdims=True)
    ball = _ball_masses(unit, w, 2.0 * np.sin(radius / 4.0))
    keep = ball > level * mass * _cap_area(radius / 2.0, d) / sphere_area(d)
    labels = np.full(pts.shape[0], -1)
    if not keep.any():
        return Clusters(0, np.zeros((0, d)), np.zeros(0), labels)
    sub, ws = unit[keep], w[keep]
    # single linkage at scale radius: fine leaders (radius / 8 apart) joined when within radius
    leader_of = _leaders(sub, 2.0 * np.sin(radius / 16.0))
    leaders = np.unique(leader_of)
    comp = _merge(sub[leaders], 2.0 * np.sin(radius / 2.0))
    lab = comp[np.searchsorted(leaders, leader_of)]
    k = comp.max() + 1
    masses = np.bincount(lab, weights=ws, minlength=k)
    sums = np.stack([np.bincount(lab, weights=ws * sub[:, j], minlength=k) for j in range(d)], 1)
    order = np.flatnonzero(masses > min_mass * mass)
    order = order[np.argsort(-masses[order], kind="stable")]
    relabel = np.full(k, -1)
    relabel[order] = np.arange(order.size)
    labels[np.flatnonzero(keep)] = relabel[lab]
    centres = sums[order] / np.linalg.norm(sums[order], axis=1, keepdims=True)
    return Clusters(int(order.size), centres, masses[order] / mass, labels)


def cluster_mass_gap(a: Clusters, b: Clusters, radius: float) -> float:
    r"""How far two cluster lists (mass fractions, as from :func:`measure_clusters`) differ.

    Clusters of ``a`` and ``b`` are paired when their centres are each other's nearest and
    closer than ``radius`` (geodesic); the gap is the largest of :math:`|m_a - m_b|` over the
    pairs and of the mass of every cluster left without a partner. So it is 0 only for the same
    clusters with the same masses, at least the mass of any cluster one side lacks (a small
    satellite counts with its own mass), and at most 1.

    Parameters
    ----------
    a, b : Clusters
    radius : float
        Largest distance (radians) between the centres of paired clusters.

    Returns
    -------
    float
    """
    radius = as_scalar(radius, "radius", min_value=0.0, strict=True)
    if a.count == 0 or b.count == 0:
        return float(max(a.masses.max(initial=0.0), b.masses.max(initial=0.0)))
    angle = np.arccos(np.clip(a.centres @ b.centres.T, -1.0, 1.0))
    ia, ib = np.argmin(angle, axis=1), np.argmin(angle, axis=0)
    pa = np.flatnonzero((ib[ia] == np.arange(a.count)) & (angle[np.arange(a.count), ia] < radius))
    pb = ia[pa]
    gap = np.abs(a.masses[pa] - b.masses[pb]).max(initial=0.0)
    lone_a = np.delete(a.masses, pa).max(initial=0.0)
    lone_b = np.delete(b.masses, pb).max(initial=0.0)
    return float(max(gap, lone_a, lone_b))


def _ball_masses(unit, w, chord):
    """Mass within ``chord`` of every point. Equal weights (tokens) only need the counts,
    which the k-d tree returns without listing the neighbours: once n tokens have collapsed
    into a few clusters every ball holds O(n) of them, and the lists would cost O(n^2)."""
    tree = cKDTree(unit)
    if np.all(w == w[0]):
        return w[0] * tree.query_ball_point(unit, chord, return_length=True)
    return np.array([w[i].sum() for i in tree.query_ball_point(unit, chord)])


def _cap_area(radius, d):
    r"""Area of a geodesic cap of ``radius`` on :math:`S^{d-1}`: :math:`|S^{d-2}|
    \int_0^r \sin^{d-2}\theta\,d\theta`."""
    from scipy.integrate import quad

    from .harmonics import sphere_area

    if d == 2:
        return 2.0 * radius
    return sphere_area(d - 1) * quad(lambda s: np.sin(s) ** (d - 2), 0.0, radius)[0]
