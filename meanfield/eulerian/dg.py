r"""Discontinuous Galerkin densities on sphere meshes.

:class:`DG` is the space of functions that are polynomials of degree p (0, 1 or 2) in the
reference coordinates of each curved cell, with Lagrange reference elements from
:func:`basix.create_element`; :class:`Density` is one function of that space (its state is the
coefficient array, shape (n_cells, n_basis)). The Lagrange basis is a partition of unity, so the
constant c has all coefficients equal to c; the Zhang–Shu limiter uses that.

Integrals use the curved-cell quadrature of :mod:`meanfield.geometry` (degree 2p + 1 by
default). The points where the transport scheme sees the density are the volume quadrature
points, the facet quadrature points of every cell and the cell vertices: the limiter makes the
density non-negative at all of them.
"""

from __future__ import annotations

import numbers

import basix
import numpy as np

from .._checks import as_int, as_points, choose
from ..sphere.geometry import cell_map, reference_cell, reference_vertices, surface_gradients
from ..sphere.mesh import SphereMesh
from ..sphere.quadrature import (
    PointLocator,
    cell_quadrature,
    facet_quadrature,
    facet_reference_points,
)
from .limiter import ZhangShuLimiter

__all__ = ["DEGREES", "DG", "Density", "function_values"]

#: Polynomial degrees the DG space supports (basix Lagrange elements, tabulated up to 2).
DEGREES = (0, 1, 2)


def function_values(f, x: np.ndarray, name: str = "f") -> np.ndarray:
    """Call ``f(x)`` for points (m, d) and check it returns m finite reals (or (m, k))."""
    if not callable(f):
        raise ValueError(f"{name} must be a callable points (m, d) -> (m,), got {type(f)}")
    raw = np.asarray(f(x))
    if raw.dtype.kind not in "biuf":
        raise ValueError(f"{name} must return real numbers, got an array of dtype {raw.dtype}")
    v = raw.astype(float)
    if v.ndim == 0 or v.shape[0] != x.shape[0] or v.ndim > 2:
        raise ValueError(
            f"{name} must return an array of shape ({x.shape[0]},) (or ({x.shape[0]}, k)) for "
            f"points of shape {x.shape}, got shape {v.shape}"
        )
    if not np.all(np.isfinite(v)):
        raise ValueError(f"{name} returned NaN or inf at some of {x.shape[0]} points")
    return v


class DG:
    r"""Discontinuous Galerkin space of degree 0, 1 or 2 on a :class:`SphereMesh`.

    Parameters
    ----------
    mesh : SphereMesh
    degree : int
        Polynomial degree p in {0, 1, 2}; p = 0 is the finite-volume space.
    quadrature_degree : int, optional
        Exactness degree of the reference volume rule (default 2p + 1). Facets use Gauss
        rules of degree 2p + 1.

    Attributes
    ----------
    element : basix finite element
        Discontinuous Lagrange reference element.
    quadrature : CellQuadrature
        Volume points (n_cells, nq, d) and physical weights (n_cells, nq).
    facets : FacetQuadrature
        Facet points (n_facets, nqf, d), weights, co-normals.
    phi : ndarray, shape (nq, n_basis)
        Basis values at the volume reference points.
    grad : ndarray, shape (n_cells, nq, n_basis, d)
        Surface gradients of the basis at the volume points.
    phi_left, phi_right : ndarray, shape (n_facets, nqf, n_basis)
        Basis of the left and right cell of each facet at its quadrature points.
    mass_inverse : ndarray, shape (n_cells, n_basis, n_basis)
    """

    def __init__(self, mesh: SphereMesh, degree=1, quadrature_degree=None):
        if not isinstance(mesh, SphereMesh):
            raise ValueError(f"mesh must be a meanfield.SphereMesh, got {type(mesh).__name__}")
        degree = as_int(degree, "degree", min_value=0)
        if degree not in DEGREES:
            raise ValueError(f"degree must be 0, 1 or 2, got {degree}")
        if quadrature_degree is None:
            quadrature_degree = 2 * degree + 1
        quadrature_degree = as_int(quadrature_degree, "quadrature_degree", min_value=2 * degree)
        self.mesh = mesh
        self.degree = degree
        self.tdim = mesh.tdim
        self.element = basix.create_element(
            basix.ElementFamily.P,
            reference_cell(mesh),
            degree,
            basix.LagrangeVariant.equispaced,
            discontinuous=True,
        )
        self.quadrature = cell_quadrature(mesh, quadrature_degree)
        self.facets = facet_quadrature(mesh, 2 * degree + 1)
        self._build_volume()
        self._build_facets()
        self._locator = None
        self._weight = None

    # ------------------------------------------------------------------ precomputation
    def tabulate(self, xi: np.ndarray, derivatives: int = 0) -> np.ndarray:
        """Basis values (and reference gradients) at reference points ``xi`` (m, t).

        Returns shape (m, n_basis) for ``derivatives = 0``, else (1 + t, m, n_basis).
        """
        tab = self.element.tabulate(derivatives, np.ascontiguousarray(xi, dtype=float))
        return tab[0, :, :, 0] if derivatives == 0 else tab[..., 0]

    def _build_volume(self):
        q = self.quadrature
        tab = self.tabulate(q.reference_points, 1)
        self.phi = tab[0]
        self.grad = surface_gradients(q.jacobians, np.moveaxis(tab[1:], 0, -1))
        W = q.weights
        mass = np.einsum("kq,qi,qj->kij", W, self.phi, self.phi)
        self.mass_inverse = np.linalg.inv(mass)
        self.areas = W.sum(axis=1)
        # Cell mean as a linear functional of the coefficients.
        self.mean_rows = (W @ self.phi) / self.areas[:, None]

    def _build_facets(self):
        top = self.mesh.topology
        s = self.facets.parameters
        fwd = np.stack([self.tabulate(p) for p in facet_reference_points(self.tdim, s)])
        rev = np.stack([self.tabulate(p) for p in facet_reference_points(self.tdim, 1.0 - s)])
        self.phi_left = fwd[top.local[:, 0]]
        # The right cell runs the edge backwards (on S^1 its facet is its vertex 0 either way).
        self.phi_right = (fwd if self.tdim == 1 else rev)[top.local[:, 1]]
        # Per cell, the slots (facet, side) of its local facets, for a gather-sum of fluxes.
        n_local = self.tdim + 1
        slots = np.empty((self.mesh.n_cells, n_local), dtype=np.int64)
        nf = self.mesh.n_facets
        slots[top.cells[:, 0], top.local[:, 0]] = np.arange(nf)
        slots[top.cells[:, 1], top.local[:, 1]] = nf + np.arange(nf)
        self.facet_slots = slots
        vertices = reference_vertices(self.tdim)
        table = [self.phi, fwd.reshape(-1, self.n_basis), rev.reshape(-1, self.n_basis)]
        # Transposed once: the limiter computes all point values as one product c @ table.
        self.check_table = np.ascontiguousarray(np.vstack(table + [self.tabulate(vertices)]).T)

    # ------------------------------------------------------------------ sizes and points
    @property
    def n_basis(self) -> int:
        """Basis functions per cell: (p + 1) on S^1, (p + 1)(p + 2)/2 on S^2."""
        return self.element.dim

    @property
    def dim(self) -> int:
        """Ambient dimension d."""
        return self.mesh.dim

    @property
    def n_dofs(self) -> int:
        return self.mesh.n_cells * self.n_basis

    @property
    def quadrature_points(self) -> np.ndarray:
        """Volume quadrature points, flattened cell by cell, shape (n_cells * nq, d)."""
        return self.quadrature.points.reshape(-1, self.dim)

    @property
    def velocity_points(self) -> np.ndarray:
        """Every point where transport needs the velocity, shape (n_volume + n_facet, d).

        The volume quadrature points (as :attr:`quadrature_points`) followed by the facet
        quadrature points, each facet once, so both cells of a facet see the same velocity.
        """
        return np.concatenate([self.quadrature_points, self.facets.points.reshape(-1, self.dim)])

    @property
    def n_volume_points(self) -> int:
        return self.quadrature.weights.size

    @property
    def h_min(self) -> float:
        """Smallest cell size (see :attr:`SphereMesh.h`)."""
        return float(self.mesh.h.min())

    # ------------------------------------------------------------------ functions
    def density(self, coefficients) -> Density:
        """Wrap a coefficient array of shape (n_cells, n_basis) (or flat) as a Density."""
        c = np.array(coefficients, dtype=float)
        if c.size != self.n_dofs:
            raise ValueError(
                f"coefficients must have {self.n_dofs} entries ({self.mesh.n_cells} cells x "
                f"{self.n_basis} basis functions), got shape {c.shape}"
            )
        if not np.all(np.isfinite(c)):
            raise ValueError("coefficients must be finite, got NaN or inf")
        return Density(self, c.reshape(self.mesh.n_cells, self.n_basis))

    def interpolate(self, f, method: str = "l2") -> Density:
        r"""Approximate a function of points by a member of the space.

        Parameters
        ----------
        f : callable
            ``f(points)`` with points of shape (m, d) returning shape (m,).
        method : {"l2", "nodal"}
            ``"l2"``: the L2 projection :math:`M^{-1} \int f \phi` by quadrature (the mass of f
            is kept to quadrature accuracy, and the cell means of a non-negative f are
            non-negative); ``"nodal"``: Lagrange interpolation at the mapped nodes.

        Returns
        -------
        Density
        """
        choose(method, "method", ("l2", "nodal"))
        if method == "nodal":
            x = self.map_reference(self.element.points)
            x = x.reshape(-1, self.dim)
            vals = self._unknown_values(f, x)
            return Density(self, vals.reshape(self.mesh.n_cells, self.n_basis))
        vals = self._unknown_values(f, self.quadrature_points)
        b = np.einsum("kq,kq,qi->ki", self.quadrature.weights, vals.reshape(-1, self.phi.shape[0]),
                      self.phi)  # fmt: skip
        return Density(self, np.einsum("kij,kj->ki", self.mass_inverse, b))

    def _unknown_values(self, f, x: np.ndarray) -> np.ndarray:
        """Values of the space's unknown for the sphere density f at points x (m, d).

        On a zonal mesh a callable with a ``log_value`` method (the zonal densities of
        :mod:`meanfield.initial`) is combined with the weight in logarithms: its values
        themselves may exceed float64 near a pole in high dimension.
        """
        if self.mesh.kind == "zonal" and callable(getattr(f, "log_value", None)):
            logs = np.asarray(f.log_value(x), dtype=float) + self.mesh.log_weight(x)
            with np.errstate(under="ignore"):
                vals = np.exp(logs)
            if vals.shape != (x.shape[0],) or not np.all(np.isfinite(vals)):
                raise ValueError(f"f.log_value must return {x.shape[0]} values below +inf")
            return vals
        vals = function_values(f, x)
        if vals.ndim != 1:
            raise ValueError(f"f must return one value per point, got shape {vals.shape}")
        return self.from_sphere(vals, x)

    def from_sphere(self, values: np.ndarray, points: np.ndarray) -> np.ndarray:
        r"""Values of a sphere density at points (m, d) as values of the space's unknown.

        The identity on S^1 and S^2; on a zonal mesh the line density of the polar angle,
        :math:`g = \rho\, w_d(\theta)` (see :mod:`meanfield.sphere.zonal`).
        """
        return values * np.exp(self.mesh.log_weight(points))

    def to_sphere(self, coefficients: np.ndarray, cells: np.ndarray, xi: np.ndarray) -> np.ndarray:
        r"""Sphere density at reference points ``xi`` (m, t) of ``cells`` (m,) of the member of
        the space with ``coefficients`` (n_cells, n_basis): the inverse of
        :meth:`from_sphere`.

        On a zonal mesh :math:`\rho = g_h / w_h`, with :math:`w_h` the member of the space
        that approximates the weight (the line density of the uniform measure), so that the
        ratio is as accurate as g near the poles and exactly 1 for the uniform density. Where
        :math:`w_h \le 0` (its polynomial can dip near a pole) the cell's mass over its zone
        measure is returned; where that zone measure underflows (d of several hundred, near a
        pole) a positive mass gives ``inf``: :math:`\rho` itself exceeds float64 there.
        """
        phi = self.tabulate(xi)
        values = np.einsum("mi,mi->m", phi, coefficients[cells])
        if self.mesh.kind != "zonal":
            return values
        if self._weight is None:
            self._weight = self.interpolate(lambda x: np.ones(len(x))).coefficients
        w = np.einsum("mi,mi->m", phi, self._weight[cells])
        mass = np.sum(self.mean_rows[cells] * coefficients[cells], axis=1) * self.areas[cells]
        zone = self.mesh.zone_measures[cells]
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            fallback = np.where(mass <= 0, 0.0, mass / np.where(zone > 0, zone, 0.0))
            return np.where(w > 0, values / np.where(w > 0, w, 1.0), fallback)

    def map_reference(self, xi: np.ndarray) -> np.ndarray:
        """Physical points of reference points ``xi`` (m, t) in every cell, (n_cells, m, d)."""
        return cell_map(self.mesh, np.asarray(xi, dtype=float))[0]

    def locate(self, points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Cell index (m,) and reference coordinates (m, t) of points on the sphere."""
        if self._locator is None:
            # a zonal mesh locates by bisection of the polar angle
            self._locator = self.mesh if self.mesh.kind == "zonal" else PointLocator(self.mesh)
        return self._locator.locate(points)

    def __repr__(self) -> str:
        return f"DG(degree={self.degree}, {self.mesh!r})"


class Density:
    """A function of a :class:`DG` space: the (non-negative) density of a measure on the sphere.

    Parameters
    ----------
    space : DG
    coefficients : ndarray, shape (n_cells, n_basis)

    Notes
    -----
    Densities of the same space support ``+``, ``-``, and multiplication or division by a
    scalar; the result is a new Density.
    """

    def __init__(self, space: DG, coefficients: np.ndarray):
        self.space = space
        self.coefficients = coefficients

    # ------------------------------------------------------------------ values
    def quadrature_values(self) -> np.ndarray:
        """Density at the volume quadrature points, shape (n_cells, nq)."""
        return self.coefficients @ self.space.phi.T

    def quadrature_measure(self) -> tuple[np.ndarray, np.ndarray]:
        r"""The discrete measure :math:`\sum_q w_q \rho(x_q) \delta_{x_q}`.

        Returns
        -------
        points : ndarray, shape (n_cells * nq, d)
        weights : ndarray, shape (n_cells * nq,)
            :math:`w_q \rho(x_q)`; they sum to :meth:`integrate` ().
        """
        w = self.space.quadrature.weights * self.quadrature_values()
        return self.space.quadrature_points, w.ravel()

    def evaluate(self, points) -> np.ndarray:
        """Density at points on the sphere, shape (m, d) -> (m,).

        On a cell boundary the value of one of the two cells is returned.
        """
        x = as_points(points, "points", d=self.space.dim)
        cells, xi = self.space.locate(x)
        return self.space.to_sphere(self.coefficients, cells, xi)

    def integrate(self, f=None):
        r""":math:`\int f \rho \, dS` (the mass when ``f`` is None).

        Parameters
        ----------
        f : callable, optional
            ``f(points)`` for points (m, d) returning (m,) or (m, k).

        Returns
        -------
        float, or ndarray of shape (k,)
        """
        w = (self.space.quadrature.weights * self.quadrature_values()).ravel()
        if f is None:
            return float(w.sum())
        vals = function_values(f, self.space.quadrature_points)
        return float(w @ vals) if vals.ndim == 1 else w @ vals

    def sample(self, n, rng=None) -> np.ndarray:
        r"""Draw n tokens exactly from the probability measure :math:`\rho\,dS/\int\rho\,dS`.

        Rejection sampling against a per-cell bound of :math:`\rho\sqrt{g}` (Bernstein
        coefficients and the exact area factor of the curved map); see
        :mod:`meanfield.sampling`.

        Parameters
        ----------
        n : int
        rng : int, numpy.random.Generator or None

        Returns
        -------
        ndarray, shape (n, d)
        """
        if self.space.mesh.kind == "zonal":
            from .sampling import sample_zonal

            return sample_zonal(self, n, rng)
        from .sampling import sample_density

        return sample_density(self, n, rng)

    def cell_means(self) -> np.ndarray:
        """Mean density of each cell (its mass over its area), shape (n_cells,)."""
        return np.sum(self.space.mean_rows * self.coefficients, axis=1)

    def min_value(self) -> float:
        """Smallest value at the points the scheme uses (quadrature points and vertices)."""
        return float((self.coefficients @ self.space.check_table).min())

    def limit(self) -> Density:
        """A copy passed through the Zhang–Shu limiter (non-negative at the scheme's points)."""
        return Density(self.space, ZhangShuLimiter(self.space)(self.coefficients.copy()))

    def errors(self, exact, quadrature_degree=None) -> dict:
        r"""Relative L1, L2 and max errors against a function of points.

        :math:`\|\rho - f\|_1/\|f\|_1` and :math:`\|\rho - f\|_2/\|f\|_2` by a quadrature of
        degree ``quadrature_degree`` (default 2p + 4, finer than the scheme's), and the max
        error at those points over :math:`\max|f|`.
        """
        space = self.space
        deg = 2 * space.degree + 4 if quadrature_degree is None else quadrature_degree
        from ..sphere.quadrature import cell_quadrature

        q = cell_quadrature(space.mesh, as_int(deg, "quadrature_degree", min_value=0))
        rho = self.coefficients @ space.tabulate(q.reference_points).T
        x = q.points.reshape(-1, space.dim)
        f = space.from_sphere(function_values(exact, x, "exact"), x).reshape(rho.shape)
        e, W = rho - f, q.weights
        return {
            "l1": float(np.sum(W * np.abs(e)) / np.sum(W * np.abs(f))),
            "l2": float(np.sqrt(np.sum(W * e**2) / np.sum(W * f**2))),
            "linf": float(np.abs(e).max() / np.abs(f).max()),
        }

    def copy(self) -> Density:
        return Density(self.space, self.coefficients.copy())

    # ------------------------------------------------------------------ arithmetic
    def _other(self, other, op: str) -> np.ndarray:
        if not isinstance(other, Density):
            raise ValueError(f"{op} needs two Densities, got {type(other).__name__}")
        if other.space is not self.space:
            raise ValueError(f"{op} needs Densities of the same DG space")
        return other.coefficients

    def __add__(self, other) -> Density:
        return Density(self.space, self.coefficients + self._other(other, "+"))

    def __sub__(self, other) -> Density:
        return Density(self.space, self.coefficients - self._other(other, "-"))

    def __neg__(self) -> Density:
        return Density(self.space, -self.coefficients)

    def __mul__(self, a) -> Density:
        if isinstance(a, bool) or not isinstance(a, numbers.Real):
            return NotImplemented
        if not np.isfinite(a):
            raise ValueError(f"a Density can be multiplied by a finite real, got {a!r}")
        return Density(self.space, float(a) * self.coefficients)

    __rmul__ = __mul__

    def __truediv__(self, a) -> Density:
        if isinstance(a, bool) or not isinstance(a, numbers.Real) or not a or not np.isfinite(a):
            raise ValueError(f"a Density can be divided by a finite non-zero real, got {a!r}")
        return Density(self.space, self.coefficients / float(a))

    def __repr__(self) -> str:
        return f"Density({self.space!r}, mass={self.integrate():.6g})"
