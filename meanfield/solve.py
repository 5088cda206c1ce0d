"""The solve verbs: :func:`solve_particles` (tokens) and :func:`solve_density` (mean-field PDE).

Each verb validates its inputs, builds the right-hand side and hands it to a time-stepping scheme
from a registry; the schemes themselves hold no state of the solution.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ._checks import as_scalar, as_times, choose
from .dg import Density, ZhangShuLimiter
from .model import Attention
from .particles import Trajectory, solve_particles
from .timestep import SSP_METHODS, cfl_step, integrate
from .transport import UpwindTransport
from .velocity import EVALUATORS, tangent

__all__ = ["DensitySolution", "Trajectory", "attention_field", "solve_density", "solve_particles"]

#: Default CFL number of :func:`solve_density` (see :func:`meanfield.timestep.cfl_step`). With
#: :math:`h_K = 4|K|/|\partial K|` a forward-Euler upwind step keeps a triangle's mean
#: non-negative when :math:`\Delta t\,|u|\,|\partial K|/2 \le |K|`, i.e. cfl <= 1/2 for p = 0;
#: for p = 1, 2 SSP-RK3 stays stable up to about cfl = 1.3 on icospheres (measured), so 1/2
#: leaves a margin. Steps that would still make a mean negative are halved and redone.
DEFAULT_CFL = 0.5


@dataclass(frozen=True)
class DensitySolution:
    """Result of :func:`solve_density`.

    Attributes
    ----------
    t : ndarray, shape (T,)
        Output times.
    densities : list of Density
        The density at each output time (the first is the limited initial density).
    mass : ndarray, shape (T,)
        Total mass at each output time.
    method : str
        Time-stepping scheme.
    stats : dict
        ``steps``, ``rejected`` (halved steps), ``nfev`` (velocity evaluations, one per stage),
        ``dt_min``, ``dt_max``.
    """

    t: np.ndarray
    densities: list
    mass: np.ndarray
    method: str
    stats: dict = field(default_factory=dict)

    def __getitem__(self, k) -> Density:
        """Density at output index ``k``."""
        return self.densities[k]

    def __len__(self) -> int:
        return len(self.densities)


def prescribed_field(velocity, space):
    """``field(t, c) -> u`` at ``space.velocity_points`` from a callable ``velocity(t, x)``.

    The velocity is called once per stage with every point the scheme needs; its normal
    component is discarded.
    """
    if not callable(velocity):
        raise ValueError(
            f"velocity must be a callable (t, points (m, d)) -> (m, d), got "
            f"{type(velocity).__name__}"
        )
    x = space.velocity_points

    def field(t, c):
        u = np.asarray(velocity(t, x), dtype=float)
        if u.shape != x.shape:
            raise ValueError(
                f"velocity must return shape {x.shape} for points of shape {x.shape}, got {u.shape}"
            )
        if not np.all(np.isfinite(u)):
            raise ValueError(f"velocity returned NaN or inf at time t = {t:g}")
        return tangent(x, u)

    return field


def attention_field(model, space, method: str = "auto", **options):
    r"""``field(t, c) -> u``: the attention field of the density with coefficients c itself.

    The density is seen as the weighted point measure :math:`\sum_q w_q \rho(x_q)
    \delta_{x_q}` of its volume quadrature (the measure whose moments the scheme conserves), and
    the field is evaluated at :attr:`DG.velocity_points` by the same evaluators the particles
    use. Weights are clipped at 0: the limiter leaves values of order -1e-16 at worst.

    Parameters
    ----------
    model : Attention
    space : DG
    method : {"auto", "direct", "spectral"}
        Velocity evaluator (see :data:`meanfield.velocity.EVALUATORS`).
    **options
        Passed to the evaluator.
    """
    if model.dim is not None and model.dim != space.dim:
        raise ValueError(
            f"model acts in dimension d = {model.dim} but the mesh lies in R^{space.dim}"
        )
    choose(method, "velocity_method", EVALUATORS)
    evaluator = EVALUATORS[method]
    x = space.velocity_points

    def field(t, c):
        y, w = Density(space, c).quadrature_measure()
        return tangent(x, evaluator(model, x, y, np.maximum(w, 0.0), **options))

    return field


def _progress(show, total):
    if not show:
        return None
    from tqdm.auto import tqdm

    return tqdm(total=total, unit="t", desc="density", leave=False)


def solve_density(
    velocity,
    rho0,
    t_eval,
    cfl=DEFAULT_CFL,
    dt_max=None,
    method: str = "ssprk3",
    limiter: bool = True,
    progress: bool = False,
    velocity_method: str = "auto",
) -> DensitySolution:
    r"""Transport a density on the sphere: :math:`\partial_t\rho + \mathrm{div}_S(\rho u) = 0`.

    With an :class:`Attention` model, :math:`u = X[\rho]` is the attention field of the density
    itself (the mean-field equation); with a callable, u is prescribed.

    Upwind DG in space (:class:`meanfield.transport.UpwindTransport`), an SSP Runge–Kutta
    scheme in time with the Zhang–Shu limiter after every stage, and the step
    :math:`\Delta t = \min(\mathrm{cfl}\, h_{min} / ((2p+1)\max|u|),\ \Delta t_{max})`
    shortened to land on every output time. Mass is conserved to round-off; with the limiter the
    density is non-negative at every quadrature point and vertex.

    Parameters
    ----------
    velocity : Attention or callable
        The model whose field :math:`X[\rho]` moves the density (see
        :func:`attention_field`), or ``velocity(t, x)`` for points x of shape (m, d) returning
        the tangent field (m, d), called once per stage with all the points the scheme needs.
    rho0 : Density
        Initial density at ``t_eval[0]`` (limited before the first step when ``limiter``).
    t_eval : array_like, shape (T,)
        Non-decreasing output times.
    cfl : float
        CFL number (> 0).
    dt_max : float, optional
        Upper bound on the step.
    method : {"auto", "ssprk3", "ssprk2", "euler", "direct", "spectral"}
        Scheme from :data:`meanfield.timestep.SSP_METHODS`; "auto" is "ssprk3". For symmetry
        with :meth:`Attention.velocity`, "direct" and "spectral" mean SSP-RK3 with that
        velocity evaluator.
    limiter : bool
        Apply the positivity limiter (requires non-negative cell means in ``rho0``).
    progress : bool
        Show a tqdm progress bar.
    velocity_method : {"auto", "direct", "spectral"}
        Evaluator of the attention field (ignored for a callable): "auto" takes the spectral
        expansion on S^1/S^2 whenever it is cheaper, which is every mesh past a few hundred
        quadrature points.

    Returns
    -------
    DensitySolution
        ``.t`` (T,), ``.densities`` (list of T Densities), ``.mass`` (T,).
    """
    if not isinstance(rho0, Density):
        raise ValueError(f"rho0 must be a meanfield.Density, got {type(rho0).__name__}")
    t = as_times(t_eval)
    cfl = as_scalar(cfl, "cfl", min_value=0, strict=True)
    if dt_max is not None:
        dt_max = as_scalar(dt_max, "dt_max", min_value=0, strict=True)
    choose(method, "method", [*SSP_METHODS, "auto", "direct", "spectral"])
    if method in ("direct", "spectral"):
        method, velocity_method = "ssprk3", method
    method = "ssprk3" if method == "auto" else method
    if not isinstance(limiter, bool):
        raise ValueError(f"limiter must be True or False, got {limiter!r}")
    space = rho0.space
    if isinstance(velocity, Attention):
        field_at = attention_field(velocity, space, velocity_method)
    else:
        field_at = prescribed_field(velocity, space)
    operator = UpwindTransport(space)

    def rhs(time, c):
        u = field_at(time, c)
        return operator(c, u), operator.max_speed(u)

    c0 = rho0.coefficients.copy()
    limit = None
    admissible = None
    if limiter:
        limit = ZhangShuLimiter(space)
        if not limit.admissible(c0):
            raise ValueError(
                f"rho0 has a negative cell mean ({rho0.cell_means().min():.3g}); a density must "
                "be non-negative (pass limiter=False to transport a signed field)"
            )
        c0 = limit(c0)
        admissible = limit.admissible
    h_min, p = space.h_min, space.degree

    def step_size(speed):
        return cfl_step(speed, h_min, p, cfl, dt_max)

    bar = _progress(progress, float(t[-1] - t[0]))
    try:
        cs, stats = integrate(
            SSP_METHODS[method], rhs, c0, t, step_size, limit, admissible, progress=bar
        )
    finally:
        if bar is not None:
            bar.close()
    densities = [Density(space, c) for c in cs]
    mass = np.array([d.integrate() for d in densities])
    return DensitySolution(t=t, densities=densities, mass=mass, method=method, stats=stats)
