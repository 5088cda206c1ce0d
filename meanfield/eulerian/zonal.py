r"""Read-outs of densities on a zonal mesh (:mod:`meanfield.sphere.zonal`).

The unknown of a zonal DG density is the line density :math:`g(\theta)` of the polar angle, so
its quadrature measure is a law of :math:`\theta` whose atoms stand for rings
:math:`\{\langle x, e_d\rangle = \cos\theta\}`, not points. Everything that integrates over the
whole sphere (moments in :math:`\mathbb{R}^d`, the interaction energy, clusters) therefore
integrates over each ring first:

- moments: :math:`\int x\,d\mu = e_d \int s\,d\mu` and
  :math:`\int x x^T d\mu = \operatorname{diag}(\tfrac{1 - E s^2}{d-1}, \dots, E s^2)`;
- energy: :math:`E_\beta = \frac{1}{2\beta}\iint e^{\beta s s'}\Lambda(\beta r r')\,d\mu\,d\mu`
  (the zonal kernel of :mod:`meanfield.field.zonal`, in logarithms);
- clusters: maximal runs of cells whose mean density exceeds a level times uniform; a run that
  reaches a pole is a *pole* (a point cluster), any other a *ring*.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.polynomial.legendre import leggauss
from scipy.special import logsumexp

from .._checks import as_real_array, as_scalar

__all__ = [
    "ZonalClusters",
    "is_zonal",
    "polar_breakpoints",
    "polar_cdf",
    "zonal_clusters",
    "zonal_energy",
    "zonal_log_energy",
    "zonal_moments",
]


def is_zonal(a) -> bool:
    """True for a Density on a zonal mesh."""
    space = getattr(a, "space", None)
    return getattr(getattr(space, "mesh", None), "kind", None) == "zonal"


def polar_cdf(density, theta) -> np.ndarray:
    r"""Mass with polar angle below :math:`\theta`, :math:`G(\theta) = \int_0^\theta g`.

    Exact for the DG polynomial (Gauss–Legendre of degree 2p + 1 on :math:`[0, \xi]` of each
    cell), monotone where g >= 0.

    Parameters
    ----------
    density : Density
        On a zonal mesh (or a zonal flow-map density, which answers by its own
        ``polar_cdf``).
    theta : array_like, shape (m,)
        Polar angles in :math:`[0, \pi]`.

    Returns
    -------
    ndarray, shape (m,)
    """
    own = getattr(density, "polar_cdf", None)
    if own is not None:  # a flow-map density: the pushed-forward law of its initial density
        return own(theta)
    space = density.space
    mesh = space.mesh
    theta = np.clip(as_real_array(theta, "theta", ndim=1), 0.0, np.pi)
    if theta.size == 0:
        return np.zeros(0)
    cell_mass = np.sum(space.mean_rows * density.coefficients, axis=1) * space.areas
    before = np.concatenate([[0.0], np.cumsum(cell_mass)])
    cells = np.clip(np.searchsorted(mesh.breakpoints, theta, side="right") - 1, 0, mesh.n_cells - 1)
    xi = np.clip((theta - mesh.breakpoints[cells]) / mesh.areas[cells], 0.0, 1.0)
    t, w = leggauss(space.degree + 1)
    nodes = 0.5 * (t[None, :] + 1.0) * xi[:, None]  # (m, k) points of [0, xi]
    phi = space.tabulate(nodes.reshape(-1, 1)).reshape(len(theta), len(t), -1)
    g = np.einsum("mki,mi->mk", phi, density.coefficients[cells])
    inner = (g @ (0.5 * w)) * xi * mesh.areas[cells]
    return before[cells] + inner


def polar_breakpoints(density) -> np.ndarray:
    """Polar angles between which :func:`polar_cdf` is smooth: the mesh's breakpoints, or a
    flow-map density's moved ones, shape (n_cells + 1,)."""
    own = getattr(density, "polar_breakpoints", None)
    return own() if own is not None else np.asarray(density.space.mesh.breakpoints)


def zonal_moments(density) -> tuple[np.ndarray, np.ndarray]:
    r"""First and second moments in :math:`\mathbb{R}^d`, shapes (d,) and (d, d) (mass included)."""
    d = density.space.dim
    x, w = density.quadrature_measure()
    s = x[:, -1]
    first = np.zeros(d)
    first[-1] = w @ s
    ss = w @ (s * s)
    second = np.diag(np.full(d, (w.sum() - ss) / (d - 1)))
    second[-1, -1] = ss
    return first, second


def zonal_energy(density, beta) -> float:
    r"""Interaction energy :math:`E_\beta = \frac{1}{2\beta}\iint e^{\beta\langle x,
    y\rangle} d\mu\,d\mu` of a zonal density (the :math:`\beta = 0` limit as in
    :func:`meanfield.diagnostics.energy`)."""

    beta = as_scalar(beta, "beta", min_value=0.0)
    if beta == 0.0:
        x, w = density.quadrature_measure()
        return 0.5 * float(np.maximum(w, 0.0) @ x[:, -1]) ** 2
    log_e = zonal_log_energy(density, beta)
    if log_e >= np.log(np.finfo(float).max):
        raise ValueError(f"energy overflows float64 at beta = {beta:g} (log E = {log_e:.1f})")
    return float(np.exp(log_e))


def zonal_log_energy(density, beta) -> float:
    """:math:`\\log E_\\beta` of a zonal density (finite for every beta > 0)."""
    from ..field.zonal import log_scaled_lambda

    beta = as_scalar(beta, "beta", min_value=0.0, strict=True)
    x, w = density.quadrature_measure()
    w = np.maximum(w, 0.0)
    keep = w > 0
    theta = np.arctan2(x[keep, 0], x[keep, -1])
    logw = np.log(w[keep])
    d = density.space.dim
    # e^{beta s s'} Lambda(a) = e^{beta} e^{-2 beta sin^2((t - t')/2)} Lambda(a) e^{-a}
    expo = -2.0 * beta * np.sin(0.5 * (theta[:, None] - theta[None, :])) ** 2
    logk = expo + log_scaled_lambda(d, beta * np.outer(np.sin(theta), np.sin(theta)))
    return float(logsumexp(logk + logw[:, None] + logw[None, :]) + beta - np.log(2.0 * beta))


@dataclass(frozen=True)
class ZonalClusters:
    """Clusters of a zonal density.

    Attributes
    ----------
    count : int
    kinds : tuple of str
        ``"pole"`` (a point cluster at :math:`\\pm e_d`) or ``"ring"``, by decreasing mass.
    angles : ndarray, shape (count,)
        Mean polar angle of each cluster.
    masses : ndarray, shape (count,)
        Fractions of the total mass.
    """

    count: int
    kinds: tuple
    angles: np.ndarray
    masses: np.ndarray


def zonal_clusters(density, level: float = 4.0, min_mass: float = 0.01) -> ZonalClusters:
    r"""Concentrations of a zonal density: runs of cells whose mass exceeds ``level`` times
    their zone's share of the total (the cell mean over uniform), heavier than ``min_mass``.

    A run touching :math:`\theta = 0` or :math:`\pi` is a pole, any other a ring.
    """
    level = as_scalar(level, "level", min_value=0.0, strict=True)
    min_mass = as_scalar(min_mass, "min_mass", min_value=0.0)
    space = density.space
    mesh = space.mesh
    if hasattr(density, "coefficients"):
        mass = np.sum(space.mean_rows * density.coefficients, axis=1) * space.areas
    else:  # a flow-map density: its mass in each cell of the fixed mesh, from its law
        mass = np.diff(polar_cdf(density, mesh.breakpoints))
    total = mass.sum()
    if not total > 0:
        raise ValueError(f"the density must have positive mass, got {total}")
    high = mass > level * total * mesh.zone_measures
    edges = np.flatnonzero(np.diff(np.concatenate([[0], high.astype(int), [0]])))
    theta_mid = 0.5 * (mesh.breakpoints[:-1] + mesh.breakpoints[1:])
    found = []
    for a, b in zip(edges[0::2], edges[1::2], strict=True):
        m = mass[a:b].sum()
        if m > min_mass * total:
            kind = "pole" if a == 0 or b == mesh.n_cells else "ring"
            found.append((m / total, kind, float(mass[a:b] @ theta_mid[a:b] / m)))
    found.sort(key=lambda c: -c[0])
    return ZonalClusters(
        count=len(found),
        kinds=tuple(c[1] for c in found),
        angles=np.array([c[2] for c in found]),
        masses=np.array([c[0] for c in found]),
    )
