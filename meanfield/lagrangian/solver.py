r"""The Lagrangian (flow-map) density solver (DESIGN.md §2c).

The continuity equation :math:`\partial_t\mu + \mathrm{div}_S(\mu X[\mu]) = 0` is solved along
characteristics: the quadrature points :math:`x_q` of :math:`\rho_0` (masses :math:`m_q`) and
the cells' geometric nodes :math:`X_a` obey

.. math::
    \dot x_q = X[\mu^h_t](x_q), \qquad \dot X_a = X[\mu^h_t](X_a), \qquad
    \frac{d}{dt}\log J_q = (\mathrm{div}_S X[\mu^h_t])(x_q),
    \qquad \mu^h_t = \sum_q m_q \delta_{x_q(t)},

the weighted token system plus passive targets, with the divergence from the field's
attention-weighted covariance (:mod:`meanfield.field.moments`). For a prescribed velocity
``u(t, x)`` the same points move with u, and :math:`J` comes from the moved cells' geometry.
"""

from __future__ import annotations

from dataclasses import dataclass
from dataclasses import field as dataclass_field

import numpy as np

from ..field.kernels import normalize, tangent
from ..field.moments import MOMENT_EVALUATORS, divergence
from ..field.registry import EVALUATORS
from ..field.zonal import ZonalFlow
from ..schemes import SCHEMES, Problem, Stats
from ..sphere.zonal import meridian, meridian_tangent
from .density import FlowMapDensity
from .state import FlowMap
from .zonal import ZonalFlowMap, ZonalFlowMapDensity

__all__ = [
    "DISTORTED",
    "FlowStats",
    "default_step",
    "flow_rhs",
    "solve_lagrangian",
    "zonal_flow_rhs",
]


def flow_rhs(state: FlowMap, model, field: str = "auto", moments: str = "auto", **options):
    r"""Right-hand side ``rhs(t, y) -> (dy/dt, speed)`` of the flow-map ODE on ``state.pack()``.

    Parameters
    ----------
    state : FlowMap
        Fixes the layout of y and the masses.
    model : Attention or callable
        The attention model (mean-field flow) or a prescribed velocity ``u(t, x)`` for points
        (m, d) returning (m, d) (its normal part is dropped).
    field : str
        Evaluator of the field at the passive nodes (see :data:`meanfield.field.EVALUATORS`);
        ``"auto"`` evaluates them in the same direct pass as the points' moments.
    moments : str
        Evaluator of the field and its Jacobian at the quadrature points
        (:data:`meanfield.field.moments.MOMENT_EVALUATORS`).
    **options
        Passed to the field evaluator.

    Returns
    -------
    callable
        The speed is the largest :math:`|X|` over all moving points.
    """
    if isinstance(state, ZonalFlowMap):
        return zonal_flow_rhs(state, model, field, moments, **options)
    masses = state.masses.ravel()
    P = masses.size
    d = state.dim
    prescribed = not hasattr(model, "interaction")
    if prescribed:
        if not callable(model):
            raise ValueError(
                "model must be a meanfield.Attention or a callable velocity(t, points (m, d)) "
                f"-> (m, d), got {type(model).__name__}"
            )
    else:
        evaluator = EVALUATORS[field]
        moment_evaluator = MOMENT_EVALUATORS[moments]
        keep = masses > 0
        opts = dict(options)
        # with "auto" and direct moments the nodes ride along as extra targets of the moments
        # pass (the exponentials dominate; the Jacobian columns cost little)
        joint = field == "auto" and moments in ("auto", "direct") and not opts

    def rhs(t, y):
        pts, nodes, _ = state.unpack(y)
        x, nd = normalize(pts), normalize(nodes)
        out = np.empty_like(y)
        if prescribed:
            allx = np.concatenate([x, nd])
            v = tangent(allx, prescribed_velocity(model, t, allx))
            out[: v.size] = v.ravel()
            out[v.size :] = 0.0
        else:
            src, w = x[keep], masses[keep]
            if joint:  # one pass: the nodes' field comes with the points' moments
                F, DF = moment_evaluator(model, np.concatenate([x, nd]), src, w)
                vp, vn = tangent(x, F[:P]), tangent(nd, F[P:])
                F, DF = F[:P], DF[:P]
            else:
                F, DF = moment_evaluator(model, x, src, w)
                vp = tangent(x, F)
                vn = tangent(nd, evaluator(model, nd, src, w, **opts))
            out[: P * d] = vp.ravel()
            out[P * d : P * d + vn.size] = vn.ravel()
            out[P * d + vn.size :] = divergence(x, F, DF)
            v = np.concatenate([vp, vn])
        speed = float(np.sqrt(np.einsum("ij,ij->i", v, v).max())) if v.size else 0.0
        return out, speed

    return rhs


def prescribed_velocity(velocity, t: float, x: np.ndarray) -> np.ndarray:
    """``velocity(t, x)`` for points x (m, d), checked: shape (m, d), finite."""
    u = np.asarray(velocity(t, x), dtype=float)
    if u.shape != x.shape:
        raise ValueError(
            f"velocity must return shape {x.shape} for points of shape {x.shape}, got {u.shape}"
        )
    if not np.all(np.isfinite(u)):
        raise ValueError(f"velocity returned NaN or inf at time t = {t:g}")
    return u


#: Evaluators the zonal flow map accepts (its field is the closed form of field/zonal.py).
ZONAL_FIELDS = ("auto", "direct")


def zonal_flow_rhs(state: ZonalFlowMap, model, field: str = "auto", moments: str = "auto",
                   **options):  # fmt: skip
    r"""Right-hand side of the zonal flow-map ODE on ``state.pack()`` (polar angles).

    :math:`\dot\theta = u(\theta)` at the points and nodes, :math:`\frac{d}{dt}\log J_q =
    \partial_\theta u(\theta_q)` at the points (:class:`meanfield.field.zonal.ZonalFlow`, the
    measure :math:`\sum_q m_q\delta_{\theta_q}` of rings). A prescribed ``velocity(t, x)`` is
    called at the meridian points and its component along :math:`dx/d\theta` taken (log J
    then comes from the moved cells). The speed is the largest :math:`|\dot\theta|`.

    Parameters
    ----------
    state : ZonalFlowMap
    model : Attention or callable
    field, moments : {"auto", "direct"}
        The closed-form zonal field is the only evaluator; others are refused.
    **options
        None accepted (a ValueError names them).
    """
    for name, value in (("field", field), ("moments", moments)):
        if value not in ZONAL_FIELDS:
            raise ValueError(
                f"{name} must be 'auto' or 'direct' on a zonal mesh (the closed-form zonal "
                f"field of Bessel functions), got {value!r}"
            )
    if options:
        raise ValueError(
            f"options {sorted(options)} are not understood on a zonal mesh (the closed-form "
            "zonal field takes none)"
        )
    d = state.dim
    masses = state.masses.ravel()
    P = masses.size
    prescribed = not hasattr(model, "interaction")
    if prescribed and not callable(model):
        raise ValueError(
            "model must be a meanfield.Attention or a callable velocity(t, points (m, d)) "
            f"-> (m, d), got {type(model).__name__}"
        )
    flow = None if prescribed else ZonalFlow(model, d)

    def rhs(t, y):
        pts, nodes, _ = state.unpack(y)
        theta = np.clip(np.concatenate([pts, nodes]), 0.0, np.pi)
        out = np.empty_like(y)
        if prescribed:
            u = prescribed_velocity(model, t, meridian(theta, d))
            v = np.einsum("md,md->m", u, meridian_tangent(theta, d))
            out[: v.size], out[v.size :] = v, 0.0
        else:
            v, dv = flow(theta, theta[:P], masses, jacobian=P)
            out[: v.size], out[v.size :] = v, dv
        return out, float(np.abs(v).max()) if v.size else 0.0

    return rhs


def default_step(model, d: int, tol: float) -> float:
    r"""RK4 step from a tolerance: :math:`\Delta t = \min(0.05,\ 10\,\mathrm{tol}^{1/4} / L)`.

    L is the a priori bound on the field's Lipschitz constant of
    :func:`meanfield.schemes.auto_dt` (SA :math:`\|V\|(1 + \beta\|K^TQ\|)`, USA times
    :math:`e^{\beta\|K^TQ\|}`): RK4's local error is about :math:`(L\Delta t)^5`, so the
    global error per unit time is about :math:`L(L\Delta t)^4 \approx` tol. ``tol = 1e-8``
    gives the tokens' default step :math:`0.1/L`.
    """
    a, v = _norm2(model.interaction(d)), _norm2(model.value(d))
    rate = max(v, 1e-300) * (1.0 + a)
    if not model.normalized:
        rate *= np.exp(min(a, 700.0))
    return min(0.05, 10.0 * tol**0.25 / rate)


def _norm2(m: np.ndarray) -> float:
    """Spectral norm; a diagonal matrix (the zonal models, d up to 1024) without an SVD."""
    m = np.asarray(m, dtype=float)
    diag = np.diagonal(m)
    if np.count_nonzero(m) == np.count_nonzero(diag):
        return float(np.abs(diag).max())
    return float(np.linalg.norm(m, 2))


@dataclass
class FlowStats(Stats):
    """:class:`meanfield.schemes.Stats` of a Lagrangian run, plus the cells' distortion.

    Attributes
    ----------
    splits : int
        Reference cells split (each into 2 on S^1, 4 on S^2).
    max_distortion : ndarray, shape (T,)
        Largest cell distortion at every output (see :meth:`FlowMap.distortion`).
    max_stretch : ndarray, shape (T,)
        Largest cell anisotropy at every output (see :meth:`FlowMap.stretch`).
    distorted_mass : ndarray, shape (T,)
        Mass fraction in cells distorted beyond the threshold, at every output.
    cells : ndarray of int, shape (T,)
        Cells at every output.
    threshold : float
        The distortion threshold of ``distorted_mass`` (and of splitting, when on).
    """

    splits: int = 0
    max_distortion: np.ndarray = dataclass_field(default_factory=lambda: np.zeros(0))
    max_stretch: np.ndarray = dataclass_field(default_factory=lambda: np.zeros(0))
    distorted_mass: np.ndarray = dataclass_field(default_factory=lambda: np.zeros(0))
    cells: np.ndarray = dataclass_field(default_factory=lambda: np.zeros(0, dtype=int))
    threshold: float = 1.0

    def add(self, other: Stats) -> None:
        """Accumulate the step counts and times of one output interval's run."""
        self.rejected += other.rejected
        self.nfev += other.nfev
        self.wall += other.wall
        self.cpu += other.cpu
        if other.steps:
            self.steps += other.steps
            self.dt_min = other.dt_min if not self.dt_min <= other.dt_min else self.dt_min
            self.dt_max = other.dt_max if not self.dt_max >= other.dt_max else self.dt_max


def _project(state: FlowMap):
    """Positions back on the sphere after a step (log J untouched)."""
    n = (state.masses.size + state.nodes.shape[0]) * state.dim

    def project(y):
        y = y.copy()
        pos = y[:n].reshape(-1, state.dim)
        pos /= np.linalg.norm(pos, axis=1, keepdims=True)
        return y

    return project


def project_positions(state: FlowMap):
    """``project(y)``: positions of a state vector back on the sphere (log J untouched; a
    zonal flow map's angles back in [0, pi])."""
    if isinstance(state, ZonalFlowMap):
        return state.position_projector()
    n = (state.masses.size + state.nodes.shape[0]) * state.dim

    def project(y):
        y = np.array(y, dtype=float)  # (..., size): one state or stacked outputs
        pos = y[..., :n].reshape(y.shape[:-1] + (-1, state.dim))
        pos /= np.linalg.norm(pos, axis=-1, keepdims=True)
        y[..., :n] = pos.reshape(y.shape[:-1] + (n,))
        return y

    return project


#: Distortion above which a cell counts as distorted in the per-output report when no
#: splitting threshold is given.
DISTORTED = 1.0


def solve_lagrangian(model, rho0, t_eval, method="rk4", dt=None, field="auto", split=None,
                     progress=None, moments="auto", state=None, **options):  # fmt: skip
    r"""Move the flow map of ``rho0`` through the output times ``t_eval`` (inputs validated).

    Every output interval is one run of the time scheme ``SCHEMES[method]`` on the packed
    state (positions projected on the sphere after every step); between intervals, cells more
    distorted than ``split`` are split.

    Parameters
    ----------
    model : Attention or callable
    rho0 : Density
    t_eval : ndarray, shape (T,)
    method : str
        A scheme of :data:`meanfield.schemes.SCHEMES` ("rk4", "dop853").
    dt : float, optional
        The step (RK4) or its bound; default :math:`0.1/\max|u(t_0)|` for a prescribed
        velocity (an Attention model needs one, see :func:`default_step`).
    field, moments : str
        Evaluators of the field at the nodes and of field + Jacobian at the points.
    split : float, optional
        Split every cell whose distortion exceeds this at an output time.
    progress : tqdm-like, optional
    state : FlowMap, optional
        Start from this flow map (copied) at ``t_eval[0]`` instead of the identity map of
        ``rho0``: a run continued from an earlier output.

    Returns
    -------
    densities : list of FlowMapDensity
    stats : FlowStats
    """
    if state is None:
        zonal = rho0.space.mesh.kind == "zonal"
        state = (ZonalFlowMap if zonal else FlowMap).from_density(rho0)
    else:
        state = state.copy()
    snapshot = ZonalFlowMapDensity if isinstance(state, ZonalFlowMap) else FlowMapDensity
    prescribed = not hasattr(model, "interaction")
    scheme = SCHEMES[method]
    if dt is None:
        if not prescribed:
            raise ValueError("dt must be given for an Attention model (see default_step)")
        _, speed = flow_rhs(state, model)(float(t_eval[0]), state.pack())
        dt = 0.1 / max(speed, 1e-300)
    stats = FlowStats(threshold=DISTORTED if split is None else float(split))
    out, dist_max, dist_mass, cells, stretch = [], [], [], [], []

    def record(time):
        dist = state.distortion()
        m = state.cell_masses()
        dist_max.append(float(dist.max()))
        stretch.append(float(state.stretch().max()))
        dist_mass.append(float(m[dist > stats.threshold].sum() / m.sum()))
        cells.append(state.n_cells)
        out.append(snapshot(state, time))

    record(float(t_eval[0]))
    for t0, t1 in zip(t_eval[:-1], t_eval[1:], strict=True):
        if t1 > t0:
            rhs = flow_rhs(state, model, field, moments, **options)
            problem = Problem(rhs=rhs, y0=state.pack(), dt=dt, project=project_positions(state))
            ys, run = scheme.integrate(problem, np.array([t0, t1], dtype=float), progress)
            stats.add(run)
            state.load(ys[-1], log_jacobian=not prescribed)
            if prescribed:
                state.log_jacobian = state.geometric_log_jacobian()
        if split is not None:
            stats.splits += state.split(np.flatnonzero(state.distortion() > split))
        record(float(t1))
    stats.max_distortion = np.array(dist_max)
    stats.distorted_mass = np.array(dist_mass)
    stats.max_stretch = np.array(stretch)
    stats.cells = np.array(cells)
    return out, stats
