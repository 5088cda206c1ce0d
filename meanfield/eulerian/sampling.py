r"""Exact sampling of tokens from a DG density (the reverse of the empirical measure).

A DG density is the measure :math:`\rho\,dS`; on a curved cell K with reference coordinates
:math:`\xi` it is :math:`\rho(G(\xi))\sqrt{g(\xi)}\,d\xi`. For the radial projection
:math:`G = F/|F|` of a flat simplex F the area factor is :math:`\sqrt g = c_K / |F(\xi)|^{t+1}`
(t the cell dimension) with a constant :math:`c_K`, so on each cell

.. math::
    \rho(G(\xi))\sqrt{g(\xi)} \le M_K = \max_i b_{K,i}\ c_K / \delta_K^{t+1},

with :math:`b_{K,i}` the Bernstein coefficients of the polynomial :math:`\rho\circ G` (it lies
in their convex hull) and :math:`\delta_K` the distance from the origin to the plane of the flat
simplex (:math:`|F| \ge \delta_K`). Rejection sampling, with cells proposed in proportion to
:math:`M_K |\hat K|` and :math:`\xi` uniform on the reference simplex, then draws exactly from
:math:`\rho\,dS / \int\rho\,dS`: no binning, no interpolation. Where a DG polynomial dips below
zero inside a cell (the limiter only guarantees non-negativity at the scheme's points), the
draw is from :math:`\max(\rho, 0)`.
"""

from __future__ import annotations

from math import factorial

import numpy as np

from .._checks import as_int, as_rng
from ..sphere.geometry import curved_map, metric_determinant

__all__ = ["ring_tokens", "sample_density", "sample_zonal", "sample_polar_angles"]


def _barycentric(xi: np.ndarray) -> np.ndarray:
    """Barycentric coordinates (m, t + 1) of reference points (m, t) of basix's simplex."""
    return np.column_stack([1.0 - xi.sum(axis=1), xi])


def _bernstein(degree: int, xi: np.ndarray) -> np.ndarray:
    """All Bernstein polynomials of ``degree`` on the reference simplex at ``xi``, (m, n_b)."""
    lam = _barycentric(xi)
    t = xi.shape[1]
    if t == 1:
        alphas = [(degree - j, j) for j in range(degree + 1)]
    else:
        alphas = [(degree - i - j, i, j) for i in range(degree + 1) for j in range(degree + 1 - i)]
    cols = []
    for a in alphas:
        coef = factorial(degree) / np.prod([factorial(k) for k in a])
        cols.append(coef * np.prod(lam ** np.array(a), axis=1))
    return np.column_stack(cols)


def bernstein_maxima(density) -> np.ndarray:
    """Upper bound of the density polynomial on each cell, shape (n_cells,).

    The largest Bernstein coefficient, obtained by interpolating at the element's nodes.
    """
    space = density.space
    nodes = np.asarray(space.element.points, dtype=float)
    to_bernstein = np.linalg.solve(_bernstein(space.degree, nodes), space.tabulate(nodes))
    return (density.coefficients @ to_bernstein.T).max(axis=1)


def area_factors(space) -> tuple[np.ndarray, np.ndarray]:
    r"""The constants :math:`c_K` of :math:`\sqrt g = c_K/|F|^{t+1}` and the distances
    :math:`\delta_K` from the origin to each flat cell's plane, both (n_cells,)."""
    mesh = space.mesh
    vertices = mesh.points[mesh.cells]
    t = space.tdim
    _, J = curved_map(vertices, np.full((1, t), 1.0 / (t + 1)))
    F = vertices.mean(axis=1)
    c = metric_determinant(J)[:, 0] * np.linalg.norm(F, axis=1) ** (t + 1)
    if t == 1:
        a, b = vertices[:, 0], vertices[:, 1]
        delta = np.abs(a[:, 0] * b[:, 1] - a[:, 1] * b[:, 0]) / np.linalg.norm(b - a, axis=1)
    else:
        n = np.cross(vertices[:, 1] - vertices[:, 0], vertices[:, 2] - vertices[:, 0])
        delta = np.abs(np.einsum("kd,kd->k", n, vertices[:, 0])) / np.linalg.norm(n, axis=1)
    return c, delta


def _uniform_simplex(rng, m: int, t: int) -> np.ndarray:
    """m points uniform on basix's reference simplex of dimension t, (m, t)."""
    if t == 1:
        return rng.random((m, 1))
    e = rng.exponential(size=(m, 3))
    return (e / e.sum(axis=1, keepdims=True))[:, 1:]


def sample_density(density, n, rng=None, batch: int = 1 << 16) -> np.ndarray:
    r"""Draw n independent points from :math:`\rho\,dS/\int\rho\,dS`.

    Parameters
    ----------
    density : Density
    n : int
        Number of points (>= 1).
    rng : int, numpy.random.Generator or None
        Seed or generator.
    batch : int
        Proposals per round of rejection sampling (bounds the memory).

    Returns
    -------
    ndarray, shape (n, d)
        Unit vectors.
    """
    n = as_int(n, "n", min_value=1)
    rng = as_rng(rng)
    space = density.space
    t = space.tdim
    c, delta = area_factors(space)
    bound = np.maximum(bernstein_maxima(density), 0.0) * c / delta ** (t + 1)
    if not np.any(bound > 0):
        raise ValueError("density must have positive mass to be sampled, got rho <= 0 everywhere")
    prob = bound / bound.sum()
    vertices = space.mesh.points[space.mesh.cells]
    out, have = np.empty((n, space.dim)), 0
    while have < n:
        cells = rng.choice(len(prob), size=batch, p=prob)
        xi = _uniform_simplex(rng, batch, t)
        v = vertices[cells]
        F = v[:, 0] + np.einsum("mtd,mt->md", v[:, 1:] - v[:, :1], xi)
        r = np.linalg.norm(F, axis=1)
        rho = np.einsum("mi,mi->m", space.tabulate(xi), density.coefficients[cells])
        accept = rng.random(batch) * bound[cells] < rho * c[cells] / r ** (t + 1)
        take = (F[accept] / r[accept, None])[: n - have]
        out[have : have + len(take)] = take
        have += len(take)
    return out


def sample_polar_angles(density, n, rng=None, batch: int = 1 << 16) -> np.ndarray:
    r"""Draw n polar angles exactly from the line density g of a zonal Density, shape (n,).

    On a zonal mesh the DG unknown is the density of the law of :math:`\theta` with respect to
    :math:`d\theta`, a polynomial in :math:`\xi = (\theta - \theta_a)/\Delta\theta` on each
    cell: rejection against its largest Bernstein coefficient, cells proposed in proportion to
    that bound times :math:`\Delta\theta`.
    """
    n = as_int(n, "n", min_value=1)
    rng = as_rng(rng)
    space = density.space
    mesh = space.mesh
    bound = np.maximum(bernstein_maxima(density), 0.0)
    weight = bound * mesh.areas
    if not np.any(weight > 0):
        raise ValueError("density must have positive mass to be sampled, got rho <= 0 everywhere")
    prob = weight / weight.sum()
    out, have = np.empty(n), 0
    while have < n:
        cells = rng.choice(len(prob), size=batch, p=prob)
        xi = rng.random((batch, 1))
        g = np.einsum("mi,mi->m", space.tabulate(xi), density.coefficients[cells])
        accept = rng.random(batch) * bound[cells] < g
        take = (mesh.breakpoints[cells] + mesh.areas[cells] * xi[:, 0])[accept][: n - have]
        out[have : have + len(take)] = take
        have += len(take)
    return out


def sample_zonal(density, n, rng=None) -> np.ndarray:
    r"""Tokens in :math:`\mathbb{R}^d` from a zonal density: :math:`x = \cos\theta\, e_d +
    \sin\theta\, (u, 0)` with :math:`\theta` drawn from the density's line density
    (:func:`sample_polar_angles`) and u uniform on :math:`S^{d-2}` (d = 2: a random sign).

    Returns
    -------
    ndarray, shape (n, d)
        Unit vectors.
    """
    rng = as_rng(rng)
    theta = sample_polar_angles(density, n, rng)
    return ring_tokens(theta, density.space.dim, rng)


def ring_tokens(theta, d: int, rng=None) -> np.ndarray:
    r"""Points :math:`x = \cos\theta\, e_d + \sin\theta\, (u, 0)` of the rings of polar angles
    ``theta`` (n,), u uniform on :math:`S^{d-2}` drawn from ``rng`` (d = 2: a random sign).

    Returns
    -------
    ndarray, shape (n, d)
        Unit vectors.
    """
    rng = as_rng(rng)
    theta = np.asarray(theta, dtype=float)
    u = rng.standard_normal((theta.size, d - 1))
    u /= np.linalg.norm(u, axis=1, keepdims=True)
    x = np.empty((theta.size, d))
    x[:, :-1] = np.sin(theta)[:, None] * u
    x[:, -1] = np.cos(theta)
    return x
