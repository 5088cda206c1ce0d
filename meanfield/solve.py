r"""The solve verbs and their result types.

- :func:`solve_particles`: n tokens on :math:`S^{d-1}`, :math:`\dot x_i = X[\mu_n](x_i)`.
- :func:`solve_density`: a density on a sphere mesh,
  :math:`\partial_t\rho + \mathrm{div}_S(\rho u) = 0` with :math:`u = X[\rho]` (the mean-field
  equation) or a prescribed u.

Each verb validates its inputs, builds a :class:`meanfield.schemes.Problem` and hands it to a
scheme of :data:`meanfield.schemes.SCHEMES`; a density solve first picks a spatial scheme from
:data:`DENSITY_SCHEMES` (``"eulerian"``: upwind DG on the fixed mesh).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ._checks import as_points, as_rng, as_scalar, as_times, choose
from .eulerian.dg import Density
from .eulerian.diffusion import laplacian
from .eulerian.limiter import ZhangShuLimiter
from .eulerian.transport import UpwindTransport
from .field.kernels import normalize, tangent
from .field.registry import EVALUATORS
from .field.tokens import TokenODE, token_ode, token_rhs
from .field.zonal import ZonalField
from .lagrangian.solver import prescribed_velocity
from .model import Attention
from .schemes import SCHEMES, Problem, Stats, cfl_step
from .sphere.zonal import meridian_tangent, polar_angle

__all__ = [
    "DENSITY_SCHEMES",
    "DensitySolution",
    "ADAPTIVE_METHODS",
    "PARTICLE_METHODS",
    "Trajectory",
    "attention_field",
    "auto_dt",
    "solve_density",
    "solve_particles",
]

#: Default CFL number of the Eulerian scheme (see :func:`meanfield.schemes.cfl_step`). With
#: :math:`h_K = 4|K|/|\partial K|` a forward-Euler upwind step keeps a triangle's mean
#: non-negative when :math:`\Delta t\,|u|\,|\partial K|/2 \le |K|`, i.e. cfl <= 1/2 for p = 0;
#: for p = 1, 2 SSP-RK3 stays stable up to about cfl = 1.3 on icospheres (measured), so 1/2
#: leaves a margin. Steps that would still make a mean negative are halved and redone.
DEFAULT_CFL = 0.5

#: Time schemes each verb accepts (names in :data:`meanfield.schemes.SCHEMES`).
PARTICLE_METHODS = ("auto", "dopri5", "bs3", "rk4", "dop853", "em")
#: Adaptive token schemes (they take ``rtol``/``atol``).
ADAPTIVE_METHODS = ("dopri5", "bs3")
EULERIAN_METHODS = ("ssprk3", "ssprk2", "euler", "imex")


@dataclass(frozen=True)
class Trajectory:
    """Result of :func:`solve_particles`.

    Attributes
    ----------
    t : ndarray, shape (T,)
        Output times.
    x : ndarray, shape (T, n, d) or (T, B, n, d)
        Token positions at the output times (B ensembles when batched).
    method : str
        Time-stepping scheme used.
    stats : Stats
        What the scheme did (steps, rejected, nfev, dt_min, dt_max, wall, cpu).
    """

    t: np.ndarray
    x: np.ndarray
    method: str
    stats: Stats = field(default_factory=Stats)

    def __getitem__(self, k) -> np.ndarray:
        """Positions at output index ``k``, shape (n, d)."""
        return self.x[k]


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
    stats : Stats
        What the scheme did (steps, rejected, nfev, dt_min, dt_max, wall, cpu).
    scheme : str
        Spatial scheme (a key of :data:`DENSITY_SCHEMES`).
    """

    t: np.ndarray
    densities: list
    mass: np.ndarray
    method: str
    stats: Stats = field(default_factory=Stats)
    scheme: str = "eulerian"

    def __getitem__(self, k) -> Density:
        """Density at output index ``k``."""
        return self.densities[k]

    def __len__(self) -> int:
        return len(self.densities)


def _progress(show, total, desc):
    if not show:
        return None
    from tqdm.auto import tqdm

    return tqdm(total=total, unit="t", desc=desc, leave=False)


def _run(scheme, problem, t, progress, desc):
    bar = _progress(progress, float(t[-1] - t[0]), desc)
    try:
        return scheme.integrate(problem, t, bar)
    finally:
        if bar is not None:
            bar.close()


# --- tokens -------------------------------------------------------------------------------


def auto_dt(model, d: int) -> float:
    r"""Default RK4 step from a bound on the field's Lipschitz constant.

    SA: :math:`L \approx \|V\|(1 + \beta\|K^TQ\|)`; USA multiplies by :math:`e^{\beta\|K^TQ\|}`,
    the size its weights reach once tokens cluster. Returns :math:`\min(0.05, 0.1/L)`.
    """
    a = float(np.linalg.norm(model.interaction(d), 2))
    v = float(np.linalg.norm(model.value(d), 2))
    # in logs: (1 + a) e^a overflows for a huge beta; the step then underflows to 0, which
    # callers refuse (see meanfield.app.builders.token_step)
    log_rate = np.log(max(v, 1e-300)) + np.log1p(a) + (0.0 if model.normalized else a)
    return float(min(0.05, 0.1 * np.exp(-log_rate)))


def solve_particles(
    model: Attention,
    x0,
    t_eval,
    dt=None,
    method: str = "auto",
    field: str = "auto",
    progress: bool = False,
    diffusion=0.0,
    rng=None,
    rtol=None,
    atol=None,
    **field_options,
) -> Trajectory:
    r"""Evolve n tokens on :math:`S^{d-1}` under self-attention, optionally with noise.

    Solves :math:`\dot x_i = X[\mu_n](x_i)`, :math:`\mu_n = \frac1n\sum_j\delta_{x_j}`, or
    with noise D > 0 the SDE :math:`dX_i = X[\mu_n](X_i)\,dt + \sqrt{2D}\,dW_S` (Brownian
    motion on the sphere, generator :math:`D\Delta_S`; the density of the tokens then follows
    :math:`\partial_t\rho + \mathrm{div}_S(\rho X[\rho]) = D\Delta_S\rho`). The noise step is
    the geodesic random walk :math:`x \mapsto \exp_x(\sqrt{2Dh}\,P_x\xi)`,
    :math:`\xi \sim N(0, I_d)` drawn from ``rng`` (:func:`brownian_increment`), then the
    projection :math:`x \mapsto x/|x|` (:class:`meanfield.schemes.EulerMaruyama`: weak order 1,
    strong order 1/2; exact Brownian motion on :math:`S^1`).

    Parameters
    ----------
    model : Attention
    x0 : array_like, shape (n, d) or (B, n, d)
        Initial tokens on the unit sphere, at time ``t_eval[0]``. A leading axis holds B
        independent ensembles, advanced together (vectorised).
    t_eval : array_like, shape (T,)
        Non-decreasing output times; the first is the initial time.
    dt : float, optional
        Fixed step of "rk4"/"em" (``None``: :func:`auto_dt`); first step of the adaptive
        schemes (``None``: chosen from the field); ignored by ``"dop853"``.
    method : {"auto", "dopri5", "bs3", "rk4", "dop853", "em"}
        "auto": "dopri5" without ``dt`` and noise, else "rk4". "dopri5"/"bs3": adaptive
        Dormand–Prince 5(4) / Bogacki–Shampine 3(2) with projection and dense output
        (:class:`meanfield.schemes.EmbeddedRK`), each system of a batch on its own steps.
        "rk4": fixed-step RK4 with projection; "dop853": SciPy's DOP853 at tight tolerances
        (the reference); "em": projected Euler (order 1). With ``diffusion > 0``: "em" is
        Euler–Maruyama and "rk4" the Lie splitting of an RK4 drift step and the noise step
        (scheme "rk4-em"); "dop853" and the adaptive schemes are refused.
    field : {"auto", "direct", "spectral"}
        Field evaluator (:data:`meanfield.field.EVALUATORS`).
    progress : bool
        Show a tqdm progress bar.
    diffusion : float
        Noise strength :math:`D \ge 0`.
    rng : int, numpy.random.Generator or None
        Source of the noise (a seed makes the run reproducible; None draws fresh entropy).
    rtol, atol : float, optional
        Tolerances of the adaptive schemes (defaults ``1e-3``, ``1e-6``, SciPy's: on the
        phase-diagram workload positions to a few 1e-2 and the clustered-pair fraction to
        ~1e-3 over t = 30, see benchmarks/phase_diagram_speed.py; ``rtol=1e-6, atol=1e-8``
        for quantitative trajectories); an error with any other method.
    **field_options
        Passed to the evaluator.

    Returns
    -------
    Trajectory
        ``.t`` (T,), ``.x`` (T, n, d), or (T, B, n, d) for batched ``x0``.
    """
    if not isinstance(model, Attention):
        raise ValueError(f"model must be a meanfield.Attention, got {type(model).__name__}")
    choose(method, "method", PARTICLE_METHODS)
    choose(field, "field", EVALUATORS)
    x0 = as_points(x0, "x0", d=model.dim, batched=True)
    t = as_times(t_eval)
    diffusion = as_scalar(diffusion, "diffusion", min_value=0.0)
    if method == "auto":
        method = "dopri5" if dt is None and diffusion == 0 else "rk4"
    adaptive = method in ADAPTIVE_METHODS
    if not adaptive and (rtol is not None or atol is not None):
        raise ValueError(
            f"rtol and atol are tolerances of the adaptive methods {ADAPTIVE_METHODS}; "
            f"method {method!r} does not take them"
        )
    if dt is None:
        step = None if adaptive else auto_dt(model, x0.shape[-1])
    else:
        step = as_scalar(dt, "dt", min_value=0, strict=True)
    noise = None
    if diffusion > 0:
        if method == "dop853" or adaptive:
            raise ValueError(
                f"method {method!r} is a deterministic integrator; with diffusion > 0 use "
                "method='em' (Euler–Maruyama) or 'rk4' (RK4 drift split with the noise step)"
            )
        method = "rk4-em" if method == "rk4" else method
        noise = brownian_increment(diffusion, as_rng(rng))
    scheme = SCHEMES[method]
    if adaptive:
        scheme = scheme.with_tolerances(rtol, atol)
    if noise is None:
        ode = token_ode(model, x0, field, **field_options)  # a batch is integrated token-last
    else:
        ode = TokenODE(x0, token_rhs(model, field, **field_options), normalize, lambda ys: ys)
    problem = Problem(
        rhs=lambda _t, y: (ode.rhs(y), 0.0),
        y0=ode.y0,
        dt=step,
        project=ode.project,
        noise=noise,
        independent=x0.ndim == 3,
    )
    xs, stats = _run(scheme, problem, t, progress, "tokens")
    return Trajectory(t=t, x=ode.restore(xs), method=method, stats=stats)


def brownian_increment(diffusion: float, rng: np.random.Generator):
    r"""``noise(x, h) -> dW``: a geodesic random-walk step of Brownian motion on the sphere.

    With :math:`v = \sqrt{2Dh}\,P_x\xi`, :math:`\xi \sim N(0, I_d)` (the tangent Gaussian
    step), the increment is :math:`\exp_x(v) - x = (\cos|v| - 1)\,x + \sin|v|\,v/|v|`: the
    point moves along the great circle of v by the angle |v|. On :math:`S^1` that is exact
    Brownian motion; in general it is weak order 1 with a smaller error constant than the
    projected step :math:`x + v` (:math:`E\langle x_{n+1}, x_n\rangle = E\cos(\sqrt{2Dh}
    \chi_{d-1}) = 1 - (d-1)Dh + (d^2-1)(Dh)^2/6 + \dots` against :math:`e^{-(d-1)Dh}`).
    :math:`\xi` has the shape of x (any leading axes, e.g. (B, n, d)) and is drawn from ``rng``
    in one call per step, so a run is reproducible from the generator's seed.
    """

    def noise(x, h):
        v = np.sqrt(2.0 * diffusion * h) * tangent(x, rng.standard_normal(x.shape))
        r = np.linalg.norm(v, axis=-1, keepdims=True)
        sinc = np.sinc(r / np.pi)  # sin(r)/r, 1 at r = 0
        return (np.cos(r) - 1.0) * x + sinc * v

    return noise


# --- densities ----------------------------------------------------------------------------


def prescribed_field(velocity, space):
    """``field(t, c) -> u`` at ``space.velocity_points`` from a callable ``velocity(t, x)``.

    The velocity is called once per stage with every point the scheme needs; its normal
    component is discarded.
    """
    if not callable(velocity):
        raise ValueError(
            "model must be a meanfield.Attention or a callable velocity (t, points (m, d)) -> "
            f"(m, d), got {type(velocity).__name__}"
        )
    x = space.velocity_points

    def at(t, c):
        return tangent(x, prescribed_velocity(velocity, t, x))

    return at


def attention_field(model, space, field: str = "auto", **options):
    r"""``field(t, c) -> u``: the attention field of the density with coefficients c itself.

    The density is seen as the weighted point measure :math:`\sum_q w_q \rho(x_q)
    \delta_{x_q}` of its volume quadrature (the measure whose moments the scheme conserves), and
    the field is evaluated at :attr:`DG.velocity_points` by the same evaluators the particles
    use. Weights are clipped at 0: the limiter leaves values of order -1e-16 at worst.

    Parameters
    ----------
    model : Attention
    space : DG
    field : {"auto", "direct", "spectral"}
        Evaluator (see :data:`meanfield.field.EVALUATORS`).
    **options
        Passed to the evaluator.
    """
    if space.mesh.kind == "zonal":
        return zonal_attention_field(model, space, field)
    if model.dim is not None and model.dim != space.dim:
        raise ValueError(
            f"model acts in dimension d = {model.dim} but the mesh lies in R^{space.dim}"
        )
    choose(field, "field", EVALUATORS)
    evaluator = EVALUATORS[field]
    x = space.velocity_points

    def at(t, c):
        y, w = Density(space, c).quadrature_measure()
        return tangent(x, evaluator(model, x, y, np.maximum(w, 0.0), **options))

    return at


def zonal_attention_field(model, space, field: str = "auto"):
    r"""``field(t, c) -> u`` on a zonal mesh: the closed-form field of DESIGN §2d.

    The density's quadrature measure is a law of the polar angle (each atom a ring), so the
    field comes from :class:`meanfield.field.zonal.ZonalField` (kernel tables built once for
    the fixed quadrature and velocity points) and is returned as the ambient tangent vector
    :math:`\dot\theta\, dx/d\theta` at :attr:`DG.velocity_points`.
    """
    if field not in ("auto", "direct"):
        raise ValueError(
            f"field must be 'auto' or 'direct' on a zonal mesh (the closed-form zonal field of "
            f"Bessel functions; no spectral expansion there), got {field!r}"
        )
    d = space.mesh.d
    x = space.velocity_points
    theta = polar_angle(x)
    tangent_dir = meridian_tangent(theta, d)
    zonal = ZonalField(model, d, theta, polar_angle(space.quadrature_points))

    def at(t, c):
        _, w = Density(space, c).quadrature_measure()
        return zonal(np.maximum(w, 0.0))[:, None] * tangent_dir

    return at


def _eulerian(model, rho0, t, method, field, progress, cfl=DEFAULT_CFL, dt_max=None,
              limiter=True, diffusion=0.0):  # fmt: skip
    """Upwind DG on the fixed mesh, SSP Runge–Kutta, Zhang–Shu limiter after every stage.

    With diffusion D > 0 the SIPG Laplacian (:mod:`meanfield.eulerian.diffusion`) is taken
    implicitly in the Strang IMEX scheme "imex" (SSP-RK3 transport, SDIRK2 diffusion).
    """
    choose(method, "method", EULERIAN_METHODS)
    if diffusion > 0 and method not in ("ssprk3", "imex"):
        raise ValueError(
            f"with diffusion > 0 the time scheme is 'imex' (SSP-RK3 transport, implicit "
            f"diffusion), got method={method!r}"
        )
    method = "imex" if diffusion > 0 else method
    cfl = as_scalar(cfl, "cfl", min_value=0, strict=True)
    if dt_max is not None:
        dt_max = as_scalar(dt_max, "dt_max", min_value=0, strict=True)
    if not isinstance(limiter, bool):
        raise ValueError(f"limiter must be True or False, got {limiter!r}")
    space = rho0.space
    if isinstance(model, Attention):
        field_at = attention_field(model, space, field)
    else:
        field_at = prescribed_field(model, space)
    operator = UpwindTransport(space)

    def rhs(time, c):
        u = field_at(time, c)
        return operator(c, u), operator.max_speed(u)

    c0 = rho0.coefficients.copy()
    limit = admissible = None
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
    resolvent = None
    if diffusion > 0:
        lap = laplacian(space)

        def resolvent(c, tau):
            return lap.solve(tau * diffusion, c)

    problem = Problem(
        rhs=rhs,
        y0=c0,
        dt=dt_max,
        step_size=lambda speed: cfl_step(speed, h_min, p, cfl),
        limit=limit,
        admissible=admissible,
        resolvent=resolvent,
    )
    cs, stats = _run(SCHEMES[method], problem, t, progress, "density")
    densities = [Density(space, c) for c in cs]
    mass = np.array([d.integrate() for d in densities])
    return DensitySolution(t=t, densities=densities, mass=mass, method=method, stats=stats)


def _lagrangian(model, rho0, t, method, field, progress, dt=None, dt_max=None, tol=1e-8,
                split=None, moments="auto"):  # fmt: skip
    """Flow map: quadrature points and cell nodes moved along characteristics, log J from the
    field's divergence (or the moved cells' geometry for a prescribed velocity). On a zonal
    mesh the points are polar angles moving with the zonal field, and log J is the stretch of
    the polar angle (:mod:`meanfield.lagrangian.zonal`)."""
    from .field.moments import MOMENT_EVALUATORS
    from .lagrangian import default_step, solve_lagrangian
    from .lagrangian.solver import ZONAL_FIELDS

    choose(method, "method", LAGRANGIAN_METHODS)
    tol = as_scalar(tol, "tol", min_value=0, strict=True)
    if dt is not None:
        dt = as_scalar(dt, "dt", min_value=0, strict=True)
    if dt_max is not None:
        dt_max = as_scalar(dt_max, "dt_max", min_value=0, strict=True)
    if split is not None:
        split = as_scalar(split, "split", min_value=0.0, strict=True)
    zonal = rho0.space.mesh.kind == "zonal"
    if zonal and split is not None:
        raise ValueError("split is not available on a zonal mesh (its cells are not split)")
    if isinstance(model, Attention):
        if model.dim is not None and model.dim != rho0.space.dim:
            raise ValueError(
                f"model acts in dimension d = {model.dim} but the mesh lies in R^{rho0.space.dim}"
            )
        # a zonal mesh has one field, the closed form of meanfield.field.zonal
        choose(field, "field", ZONAL_FIELDS if zonal else EVALUATORS)
        choose(moments, "moments", ZONAL_FIELDS if zonal else MOMENT_EVALUATORS)
        if dt is None:
            dt = default_step(model, rho0.space.dim, tol)
    elif not callable(model):
        raise ValueError(
            "model must be a meanfield.Attention or a callable velocity (t, points (m, d)) -> "
            f"(m, d), got {type(model).__name__}"
        )
    if dt is not None and dt_max is not None:
        dt = min(dt, dt_max)
    if rho0.quadrature_values().min() < 0:
        # the masses w_q rho0(y_q) must be non-negative: limit as the Eulerian scheme does
        if not ZhangShuLimiter(rho0.space).admissible(rho0.coefficients):
            raise ValueError(
                f"rho0 has a negative cell mean ({rho0.cell_means().min():.3g}); a density must "
                "be non-negative"
            )
        rho0 = rho0.limit()
    bar = _progress(progress, float(t[-1] - t[0]), "flow map")
    try:
        densities, stats = solve_lagrangian(model, rho0, t, method, dt, field, split, bar, moments)
    finally:
        if bar is not None:
            bar.close()
    mass = np.array([d.mass for d in densities])
    return DensitySolution(t=t, densities=densities, mass=mass, method=method, stats=stats,
                           scheme="lagrangian")  # fmt: skip


#: Time schemes of the Lagrangian density scheme.
LAGRANGIAN_METHODS = ("rk4", "dop853")

#: Spatial scheme name -> (solver, its default time scheme, the options it understands).
DENSITY_SCHEMES = {
    "eulerian": (_eulerian, "ssprk3", ("cfl", "dt_max", "limiter", "diffusion")),
    "lagrangian": (_lagrangian, "rk4", ("dt", "dt_max", "tol", "split", "moments")),
}


def solve_density(
    model,
    rho0,
    t_eval,
    scheme: str = "eulerian",
    method: str | None = None,
    field: str = "auto",
    progress: bool = False,
    diffusion=0.0,
    **options,
) -> DensitySolution:
    r"""Transport a density on the sphere: :math:`\partial_t\rho + \mathrm{div}_S(\rho u) = 0`.

    With an :class:`Attention` model, :math:`u = X[\rho]` is the attention field of the density
    itself (the mean-field equation); with a callable, u is prescribed. With noise D > 0 the
    equation is the Fokker–Planck equation
    :math:`\partial_t\rho + \mathrm{div}_S(\rho u) = D\Delta_S\rho` of noisy tokens.

    Scheme ``"eulerian"``: upwind DG in space (:class:`meanfield.eulerian.UpwindTransport`), an
    SSP Runge–Kutta scheme in time with the Zhang–Shu limiter after every stage, and the step
    :math:`\Delta t = \min(\mathrm{cfl}\, h_{min} / ((2p+1)\max|u|),\ \Delta t_{max})`
    shortened to land on every output time. Mass is conserved to round-off; with the limiter the
    density is non-negative at every quadrature point and vertex.

    Parameters
    ----------
    model : Attention or callable
        The model whose field :math:`X[\rho]` moves the density (see
        :func:`attention_field`), or ``velocity(t, x)`` for points x of shape (m, d) returning
        the tangent field (m, d), called once per stage with all the points the scheme needs.
    rho0 : Density
        Initial density at ``t_eval[0]`` (limited before the first step when ``limiter``;
        Lagrangian: limited when it is negative at a quadrature point).
    t_eval : array_like, shape (T,)
        Non-decreasing output times.
    scheme : {"eulerian", "lagrangian"}
        Spatial scheme (:data:`DENSITY_SCHEMES`). ``"lagrangian"`` moves the quadrature points
        of ``rho0`` (masses :math:`w_q\rho_0(y_q)`, exact and constant) and its cells' nodes
        along the characteristics, with :math:`\log J` from the field's divergence (or the
        moved cells' geometry for a prescribed velocity); ``sol.densities`` are then
        :class:`meanfield.lagrangian.FlowMapDensity` (``integrate``, ``quadrature_measure``,
        ``cell_means`` on the moved cells, ``evaluate``, ``sample``, ``project(space)``), and
        ``sol.stats`` a :class:`meanfield.lagrangian.FlowStats` with the cells' distortion.
        On a zonal mesh the points' polar angles move with the closed-form zonal field and
        log J is the stretch of the polar angle (:mod:`meanfield.lagrangian.zonal`; the
        densities are :class:`~meanfield.lagrangian.ZonalFlowMapDensity`, field "auto" or
        "direct", no ``split``).
    method : str, optional
        Time scheme; ``None`` is the spatial scheme's default. Eulerian: "ssprk3" (default),
        "ssprk2", "euler". Lagrangian: "rk4" (default; positions projected on the sphere
        after every step), "dop853" (SciPy, tight tolerances: the reference).
    field : {"auto", "direct", "spectral"}
        Evaluator of the attention field (ignored for a callable): "auto" takes the spectral
        expansion on S^1/S^2 whenever it is cheaper, which is every mesh past a few hundred
        quadrature points.
    progress : bool
        Show a tqdm progress bar.
    **options
        Options of the spatial scheme; one it does not understand is a ValueError. Eulerian:
        ``cfl`` (float > 0, default :data:`DEFAULT_CFL`), ``dt_max`` (upper bound on the step),
        ``limiter`` (bool, default True: requires non-negative cell means in ``rho0``).
        Lagrangian: ``dt`` (RK4 step; default from ``tol`` by
        :func:`meanfield.lagrangian.default_step` for a model, :math:`0.1/\max|u(t_0)|` for a
        velocity), ``dt_max`` (cap on it), ``tol`` (default 1e-8), ``split`` (distortion above
        which a cell is split at an output; default None, no splitting), ``moments`` (evaluator
        of the field's Jacobian, :data:`meanfield.field.moments.MOMENT_EVALUATORS`).

    diffusion : float
        Noise strength :math:`D \ge 0`. Eulerian: a symmetric interior-penalty DG Laplacian
        (:class:`meanfield.eulerian.diffusion.SIPGLaplacian`; on a zonal mesh its weighted form
        :class:`~meanfield.eulerian.diffusion.ZonalLaplacian`) taken implicitly in the Strang
        IMEX scheme ``method="imex"`` (SSP-RK3 transport, L-stable SDIRK2 diffusion, second
        order; the default whenever D > 0). A scheme without diffusion refuses D > 0.

    Returns
    -------
    DensitySolution
        ``.t`` (T,), ``.densities`` (list of T Densities), ``.mass`` (T,), ``.stats``.
    """
    choose(scheme, "scheme", DENSITY_SCHEMES)
    solver, default_method, accepted = DENSITY_SCHEMES[scheme]
    diffusion = as_scalar(diffusion, "diffusion", min_value=0.0)
    if "diffusion" in accepted:
        options["diffusion"] = diffusion
    elif diffusion > 0:
        raise ValueError(
            f"scheme {scheme!r} has no diffusion (it moves mass along characteristics only); "
            f"diffusion={diffusion:g} needs scheme='eulerian'"
        )
    for name in options:
        if name not in accepted:
            raise ValueError(
                f"option {name!r} is not understood by scheme {scheme!r} (it takes "
                f"{', '.join(accepted)})"
            )
    if not isinstance(rho0, Density):
        raise ValueError(f"rho0 must be a meanfield.Density, got {type(rho0).__name__}")
    t = as_times(t_eval)
    method = default_method if method is None else method
    sol = solver(model, rho0, t, method, field, progress, **options)
    return sol
