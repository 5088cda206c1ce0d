r"""Validation studies of the zonal reduction (DESIGN.md §2d): growth of Gegenbauer modes.

A zonal perturbation :math:`\rho = 1 + \varepsilon\,\tilde C_\ell(s)` of the uniform measure
on :math:`S^{d-1}` (:math:`\tilde C_\ell` the Gegenbauer polynomial normalised to 1 at s = 1,
:func:`meanfield.harmonics.gegenbauer`) grows as :math:`e^{\gamma_\ell t}` with the rate of
:func:`meanfield.theory.growth_rate`. The measured rate is
:math:`\log(a(T)/a(0))/T` for the odd part :math:`a = (M_+ - M_-)/2` of the moments
:math:`M_\pm = \int \tilde C_\ell\, d\mu_t` of the runs from :math:`\pm\varepsilon` (the odd part
cancels the drift of the discrete uniform state and all even orders in :math:`\varepsilon`).

Choice of T and :math:`\varepsilon`: :math:`T = \min(1/\gamma_\ell, 10/\gamma_{max})`, so the
mode grows by at most e and faster modes, fed at third order, stay small;
:math:`\varepsilon = \min(0.5, 10^{-4}\sqrt{N_\ell})` (:math:`N_\ell` the number of harmonics
of degree :math:`\ell`): the perturbation where the mass lies is then
:math:`\varepsilon/\sqrt{N_\ell} \le 10^{-4}`, linear, while its sup norm (at the poles, where a
high-dimensional sphere has no mass) stays below 1/2. The round-off floor of the odd part is
about :math:`10^{-16}\sqrt{N_\ell}/\varepsilon` relative, so a rate is measurable to 1% only
when :math:`\gamma_\ell T` exceeds about 100 times that: for d = 1024, :math:`\ell = 5` and
:math:`\beta \le 4` (:math:`\gamma_5 = 4.5\cdot 10^{-12}` and :math:`1.1\cdot 10^{-9}`) it is
not, and the table says so.
"""

from __future__ import annotations

import time

import numpy as np

from .._checks import as_int, as_scalar
from ..eulerian.dg import DG
from ..harmonics import gegenbauer, harmonic_dimension
from ..model import Attention
from ..solve import solve_density
from ..sphere.mesh import SphereMesh
from ..theory import growth_rate

__all__ = [
    "GROWTH_DIMENSIONS",
    "growth_breakpoints",
    "measure_zonal_growth",
    "zonal_growth_study",
    "zonal_growth_table",
    "expected_sampling_distance",
    "summarize_zonal_mean_field",
    "zonal_mean_field",
    "zonal_mean_field_setup",
    "zonal_mean_field_table",
    "zonal_token_run",
    "zonal_schemes",
]

#: Dimensions of the zonal growth table of issue 15.
GROWTH_DIMENSIONS = (3, 4, 8, 32, 128, 1024)
#: Round-off of the odd part, relative, per unit of sqrt(N_l) / epsilon.
ROUND_OFF = 1e-16


def growth_breakpoints(d: int, cells: int) -> np.ndarray | int:
    r"""Cells for a density near uniform on :math:`S^{d-1}`: uniform for d <= 8; otherwise
    ``cells`` uniform cells within :math:`8/\sqrt d` of the equator (where the weight
    :math:`\sin^{d-2}\theta` lives, width :math:`1/\sqrt d`) and cells of about
    :math:`\pi/20` elsewhere."""
    d = as_int(d, "d", min_value=2)
    cells = as_int(cells, "cells", min_value=2)
    if d <= 8:
        return cells
    w = min(np.pi / 2, 8.0 / np.sqrt(d))
    fine = np.linspace(np.pi / 2 - w, np.pi / 2 + w, cells + 1)
    coarse = np.linspace(0.0, np.pi, 21)
    keep = (coarse < fine[0] - 1e-9) | (coarse > fine[-1] + 1e-9)
    return np.unique(np.concatenate([coarse[keep], fine]))


def measure_zonal_growth(
    d, beta, ell, normalized=True, cells=32, degree=2, steps=20, ell_max=5, diffusion=0.0,
    scheme="eulerian",
) -> dict:  # fmt: skip
    r"""Measured and predicted growth rate of the Gegenbauer mode of degree ``ell``.

    Parameters
    ----------
    d : int
        Ambient dimension.
    beta : float
        Inverse temperature (> 0).
    ell : int
        Degree, >= 1.
    normalized : bool
        SA or USA.
    cells : int
        Cells of :func:`growth_breakpoints`.
    degree : int
        DG degree.
    steps : int
        Time steps over [0, T] (``dt_max = T / steps``).
    ell_max : int
        Largest degree whose rate bounds T (see the module docstring).
    diffusion : float
        Noise D >= 0 (Fokker–Planck, IMEX scheme): the rate is
        ``growth_rate(..., diffusion=D)``, negative above the critical noise; the step is also
        capped at a fifth of :math:`1/\max(\gamma_0, \ell(\ell+d-2)D)` (:math:`\gamma_0` the
        noiseless rate), so that both the transport and the diffusion rate are resolved.
    scheme : {"eulerian", "lagrangian"}
        Density scheme (:data:`meanfield.solve.DENSITY_SCHEMES`); the Lagrangian flow map
        (RK4 at the same step, ``dt``) has no diffusion.

    Returns
    -------
    dict
        ``d, beta, ell, model, theory, measured, rel_error, T, eps, resolvable, seconds``;
        ``resolvable`` is False where the round-off floor of the odd part exceeds 1% of
        :math:`\gamma_\ell T`.
    """
    start = time.perf_counter()
    ell = as_int(ell, "ell", min_value=1)
    D = as_scalar(diffusion, "diffusion", min_value=0.0)
    ells = np.arange(1, max(ell, ell_max) + 1)
    rates = np.abs(growth_rate(ells, beta, d, normalized, diffusion=D))
    gamma = float(growth_rate(ell, beta, d, normalized, diffusion=D))
    T = min(1.0 / abs(gamma), 10.0 / float(rates.max()))
    fastest = max(float(growth_rate(ell, beta, d, normalized)), ell * (ell + d - 2) * D)
    dt_max = min(T / steps, 0.2 / fastest)
    n_ell = harmonic_dimension(ell, d)
    eps = min(0.5, 1e-4 * np.sqrt(n_ell))
    space = DG(SphereMesh.zonal(d, growth_breakpoints(d, cells)), degree)
    model = Attention(beta, normalized=normalized)

    def mode(x):
        return gegenbauer(ell, d, x[:, -1])

    moments = []
    for sign in (1.0, -1.0):
        rho0 = space.interpolate(lambda x, sign=sign: 1.0 + sign * eps * mode(x))
        step = {"dt": dt_max} if scheme == "lagrangian" else {"dt_max": dt_max}
        sol = solve_density(model, rho0, [0.0, T], scheme=scheme, diffusion=D, **step)
        moments.append(np.array([r.integrate(mode) for r in sol.densities]))
    odd = 0.5 * (moments[0] - moments[1])
    measured = float(np.log(odd[1] / odd[0]) / T)
    floor = ROUND_OFF * np.sqrt(n_ell) / eps
    return {
        "d": d,
        "beta": float(beta),
        "ell": ell,
        "model": "SA" if normalized else "USA",
        "scheme": scheme,
        "theory": gamma,
        "measured": measured,
        "rel_error": measured / gamma - 1.0,
        "T": T,
        "eps": eps,
        "resolvable": bool(100.0 * floor < abs(gamma) * T),
        "seconds": time.perf_counter() - start,
    }


def zonal_growth_study(
    dims=GROWTH_DIMENSIONS, betas=(1.0, 4.0, 9.0), ells=range(1, 6), normalized=(True, False),
    **options,
) -> list[dict]:  # fmt: skip
    """Rows of :func:`measure_zonal_growth` over the whole table (options passed on)."""
    return [
        measure_zonal_growth(d, b, ell, n, **options)
        for d in dims
        for b in betas
        for n in normalized
        for ell in ells
    ]


def zonal_growth_table(rows) -> str:
    """A plain-text table: one line per (d, beta, model), relative errors for each degree."""
    keys = sorted({(r["d"], r["beta"], r["model"]) for r in rows})
    ells = sorted({r["ell"] for r in rows})
    head = f"{'d':>5} {'beta':>4} {'model':>5} " + " ".join(f"{'l=' + str(e):>17}" for e in ells)
    lines = [head, "     (each entry: theory gamma_l, measured/theory - 1; * = below floor)"]
    for d, b, m in keys:
        cells = []
        for e in ells:
            r = next(r for r in rows if (r["d"], r["beta"], r["model"], r["ell"]) == (d, b, m, e))
            mark = " " if r["resolvable"] else "*"
            cells.append(f"{r['theory']:8.2e} {r['rel_error']:+.1e}{mark}")
        lines.append(f"{d:>5} {b:>4g} {m:>5} " + " ".join(cells))
    return "\n".join(lines)


if __name__ == "__main__":  # python -m meanfield.studies.zonal [lagrangian]
    import sys

    table = zonal_growth_study(scheme=sys.argv[1] if len(sys.argv) > 1 else "eulerian")
    print(zonal_growth_table(table))
    ok = [r for r in table if r["resolvable"]]
    worst = max(abs(r["rel_error"]) for r in ok)
    print(f"worst |error| over {len(ok)} resolvable entries: {worst:.2e}; ", end="")
    print(f"{len(table) - len(ok)} below the floor")


# ------------------------------------------------------------------ zonal against a full mesh
def comparison_density(d: int, surface: bool):
    r"""Two caps of unequal mass at the poles plus a band: 0.8 of
    :class:`~meanfield.initial.ZonalCaps` (:math:`\kappa = 8`, 70% north) and 0.2 of a band at
    :math:`\theta_0 = 1.9` (:math:`\kappa = 30`). d = 2: an even density of the circle."""
    from ..initial import ZonalBand, ZonalCaps, ZonalMixture

    parts = (ZonalCaps(d, 8.0, 0.7, surface), ZonalBand(d, 1.9, 30.0, surface))
    return ZonalMixture(parts, (0.8, 0.2))


def zonal_vs_mesh(
    d=3, zonal_cells=(8, 16, 32, 64), meshes=(2, 3, 4), beta=4.0, times=(1.0, 2.0, 4.0),
    degree=1, normalized=True, scheme="eulerian", mesh_scheme="eulerian",
) -> list[dict]:  # fmt: skip
    r"""Distance between the zonal solver and the S^2 (d = 3) or circle (d = 2) solver.

    Both start from :func:`comparison_density` and run SA (or USA) to ``times``; the distance
    is the exact :math:`W_1` of the laws of :math:`s = x_d`
    (:func:`meanfield.compare.polar_wasserstein`). ``meshes`` are icosphere levels (d = 3) or
    circle cell counts (d = 2). ``scheme`` and ``mesh_scheme`` are the density schemes of the
    zonal and of the full-mesh solve ("eulerian" or "lagrangian").

    Returns
    -------
    list of dict
        ``d, zonal_cells, mesh, t, distance``, plus ``mass_zonal``, ``mass_mesh`` (final).
    """
    from ..compare import polar_wasserstein

    if d not in (2, 3):
        raise ValueError(f"d must be 2 (circle) or 3 (S^2) to compare with a full mesh, got {d}")
    model = Attention(beta, normalized=normalized)
    t = [0.0, *times]
    zonal = {}
    for n in zonal_cells:
        rho0 = DG(SphereMesh.zonal(d, n), degree).interpolate(comparison_density(d, False))
        zonal[n] = solve_density(model, rho0, t, scheme=scheme)
    rows = []
    for m in meshes:
        mesh = SphereMesh.icosphere(m) if d == 3 else SphereMesh.circle(m)
        rho_mesh = DG(mesh, degree).interpolate(comparison_density(d, True))
        full = solve_density(model, rho_mesh, t, scheme=mesh_scheme)
        for n, z in zonal.items():
            for k, time_k in enumerate(times, start=1):
                rows.append({
                    "d": d, "zonal_cells": n, "mesh": m, "t": time_k,
                    "distance": polar_wasserstein(z[k], full[k]),
                    "mass_zonal": float(z.mass[-1]), "mass_mesh": float(full.mass[-1]),
                })  # fmt: skip
    return rows


def comparison_table(rows) -> str:
    """Distances as a table: one line per (mesh, zonal cells), one column per time."""
    times = sorted({r["t"] for r in rows})
    name = "level" if rows[0]["d"] == 3 else "cells"
    lines = [f"{name:>6} {'zonal':>6} " + " ".join(f"{'t=' + format(t, 'g'):>9}" for t in times)]
    for m in sorted({r["mesh"] for r in rows}):
        for n in sorted({r["zonal_cells"] for r in rows}):
            ds = [next(r["distance"] for r in rows if (r["mesh"], r["zonal_cells"], r["t"]) ==
                       (m, n, t)) for t in times]  # fmt: skip
            lines.append(f"{m:>6} {n:>6} " + " ".join(f"{x:9.2e}" for x in ds))
    return "\n".join(lines)


# ------------------------------------------------------------------ the two density schemes
def zonal_schemes(
    d=8, cells=(8, 16, 32, 64), beta=4.0, times=(1.0, 2.0), degree=1, normalized=True,
) -> list[dict]:  # fmt: skip
    r"""The Lagrangian against the Eulerian density on the same zonal meshes.

    Both start from :func:`comparison_density` (two caps and a band) on
    ``SphereMesh.zonal(d, n)``; at each time the rows give the exact :math:`W_1` of the laws
    of s between them and the :math:`L^1` distance of their cell masses on the mesh, the
    Lagrangian density deposited on the Eulerian space (:meth:`FlowMapDensity.project`):
    :math:`\sum_K |\bar g^L_K - \bar g^E_K|\,\Delta\theta_K`.

    Returns
    -------
    list of dict
        ``d, cells, t, w1, l1_cell_means, mass_error`` (largest over both schemes and times).
    """
    from ..compare import polar_wasserstein

    model = Attention(beta, normalized=normalized)
    t = [0.0, *times]
    rows = []
    for n in cells:
        space = DG(SphereMesh.zonal(d, n), degree)
        rho0 = space.interpolate(comparison_density(d, False))
        eul = solve_density(model, rho0, t)
        lag = solve_density(model, rho0, t, scheme="lagrangian")
        error = max(np.abs(eul.mass - eul.mass[0]).max(), np.abs(lag.mass - lag.mass[0]).max())
        for k, tk in enumerate(times, start=1):
            dep = lag[k].project(space)
            l1 = float(np.abs(dep.cell_means() - eul[k].cell_means()) @ space.areas)
            rows.append({
                "d": d, "cells": n, "t": tk, "w1": polar_wasserstein(lag[k], eul[k]),
                "l1_cell_means": l1, "mass_error": float(error),
            })  # fmt: skip
    return rows


# ------------------------------------------------------------------ mean-field limit in R^d
def zonal_mean_field_setup(
    d, times=(1.0, 2.0), beta=4.0, cells=200, degree=2, kappa=None, north=0.7
) -> dict:
    r"""The PDE side of the mean-field study: initial density and zonal PDE at ``times``.

    The initial density is :class:`~meanfield.initial.ZonalCaps` (:math:`\kappa` = d by
    default, so the caps sit at a polar angle near 1 in every dimension; ``north`` of the mass
    about :math:`+e_d`) interpolated on ``cells`` uniform zonal cells of degree ``degree``;
    the model is SA with ``beta``.

    Returns
    -------
    dict
        ``d, model, times`` (0 first), ``rho0`` (Density), ``pde`` (DensitySolution at
        ``times``).
    """
    from ..initial import ZonalCaps

    model = Attention(beta)
    kappa = float(d) if kappa is None else float(kappa)
    rho0 = DG(SphereMesh.zonal(d, cells), degree).interpolate(ZonalCaps(d, kappa, north))
    t = [0.0, *times]
    return {"d": d, "model": model, "times": t, "rho0": rho0, "pde": solve_density(model, rho0, t)}


def zonal_token_run(setup, n, seed, dt=0.25, workers=None) -> list[dict]:
    r"""One token run of the mean-field study and its distances to the zonal PDE.

    n tokens are drawn from the DG initial density (:meth:`Density.sample`, generator
    ``np.random.default_rng([seed, n])``, so every (seed, n) is an independent sample), moved
    in :math:`\mathbb{R}^d` by :func:`meanfield.solve_particles` (RK4, step ``dt``, direct field
    with ``workers`` threads) and compared with the PDE by the exact :math:`W_1` of the laws of
    :math:`s = x_d` (:func:`meanfield.compare.polar_wasserstein`) at every time, t = 0 (pure
    sampling) included.

    Returns
    -------
    list of dict
        One per time: ``d, n, seed, t, distance``, ``mean_s`` (tokens) and ``pde_mean_s`` (the
        PDE's mean of s, whose difference to ``mean_s`` averages to the finite-n bias), and
        ``seconds`` (wall time of the run, on the first row).
    """
    from ..compare import polar_wasserstein
    from ..diagnostics import first_moment
    from ..solve import solve_particles

    n = as_int(n, "n", min_value=2)
    start = time.perf_counter()
    x0 = setup["rho0"].sample(n, np.random.default_rng([as_int(seed, "seed", min_value=0), n]))
    options = {} if workers is None else {"workers": workers}
    traj = solve_particles(
        setup["model"], x0, setup["times"], dt=dt, method="rk4", field="direct", **options
    )
    rows = []
    for k, tk in enumerate(setup["times"]):
        rows.append({
            "d": setup["d"], "n": n, "seed": int(seed), "t": float(tk),
            "distance": polar_wasserstein(traj.x[k], setup["pde"][k]),
            "mean_s": float(traj.x[k][:, -1].mean()),
            "pde_mean_s": float(first_moment(setup["pde"][k])[-1]),
        })  # fmt: skip
    rows[0]["seconds"] = time.perf_counter() - start
    return rows


def expected_sampling_distance(density, n, points=20000) -> float:
    r"""Exact mean :math:`W_1` (in s) between n i.i.d. tokens of a zonal density and itself.

    :math:`n F_n(s)` is binomial, so (de Moivre's mean absolute deviation)

    .. math::
        \mathbb{E} W_1 = \int_{-1}^{1} \mathbb{E}|F_n - F|\,ds
            = \int_0^\pi 2 G(1-G)\, b_{n-1,G}(\lfloor nG\rfloor)\,\sin\theta\,d\theta,

    :math:`G(\theta)` the mass below the polar angle θ and :math:`b_{m,p}` the binomial
    probability mass function; it tends to :math:`\sqrt{2/(\pi n)}\int\sqrt{G(1-G)}\sin\theta
    \,d\theta`. The integral is a midpoint rule on ``points`` angles (the integrand jumps
    where nG crosses an integer, so the rule is first order: ``points`` >> n is not needed
    for 1e-3 relative, the jumps being O(1/n) of the integrand).

    Parameters
    ----------
    density : Density
        Zonal, mass 1.
    n : int
        Tokens, >= 1.
    points : int
        Midpoints in :math:`[0, \pi]`.

    Returns
    -------
    float
    """
    from scipy.stats import binom

    from ..eulerian.zonal import polar_cdf

    n = as_int(n, "n", min_value=1)
    points = as_int(points, "points", min_value=10)
    theta = (np.arange(points) + 0.5) * (np.pi / points)
    g = np.clip(polar_cdf(density, theta) / polar_cdf(density, [np.pi])[0], 0.0, 1.0)
    mad = 2.0 * g * (1.0 - g) * binom.pmf(np.floor(n * g), n - 1, g)
    return float(np.sum(mad * np.sin(theta)) * (np.pi / points))


def zonal_mean_field(
    d=8, ns=(250, 500, 1000, 2000, 4000, 8000, 16000), seeds=(0, 1, 2), times=(1.0, 2.0),
    beta=4.0, cells=200, degree=2, dt=0.25, kappa=None, north=0.7, workers=None,
) -> dict:  # fmt: skip
    r"""Tokens in :math:`\mathbb{R}^d` sampled from a zonal density against the zonal PDE.

    :func:`zonal_mean_field_setup` (the PDE) and :func:`zonal_token_run` for every n and seed.

    Parameters
    ----------
    seeds : iterable of int, or dict
        The same seeds for every n, or ``{n: seeds}`` (more seeds where n is small and runs
        are cheap).

    Returns
    -------
    dict
        ``rows`` (:func:`zonal_token_run`, t = 0 included), ``slopes`` {t: fitted exponent of
        the mean distance over seeds against n, :func:`~meanfield.studies.mean_field.fit_slope`},
        ``pde_mass`` (final).
    """
    setup = zonal_mean_field_setup(d, times, beta, cells, degree, kappa, north)
    per_n = seeds if isinstance(seeds, dict) else {n: seeds for n in ns}
    rows = []
    for n in ns:
        for seed in per_n[n]:
            rows += zonal_token_run(setup, n, seed, dt, workers)
    slopes = {t: s["slope"] for t, s in summarize_zonal_mean_field(rows)["slopes"][d].items()}
    return {"rows": rows, "slopes": slopes, "pde_mass": float(setup["pde"].mass[-1])}


def _group_by_seed(rows):
    """{(d, n): {t: {seed: row}}}."""
    groups = {}
    for r in rows:
        groups.setdefault((r["d"], r["n"]), {}).setdefault(r["t"], {})[r["seed"]] = r
    return groups


def _pooled_coefficient(per_n) -> float:
    r"""Regression coefficient of :math:`\sqrt n W_t` on :math:`\sqrt n W_0`, pooled over n
    (each n centred on its own means); 0 if undefined."""
    num = den = 0.0
    for n, (w, w0, _) in per_n.items():
        if w.size > 1:
            u, v = np.sqrt(n) * (w - w.mean()), np.sqrt(n) * (w0 - w0.mean())
            num, den = num + u @ v, den + v @ v
    return num / den if den > 0 else 0.0


def _controlled(per_n, b) -> dict:
    r"""{n: (control-variate mean :math:`\bar W_t - b(\bar W_0 - \mathbb{E}W_0)`, its
    standard error)}."""
    out = {}
    for n, (w, w0, e0) in per_n.items():
        resid = w - b * w0
        out[n] = (w.mean() - b * (w0.mean() - e0), _se(resid))
    return out


def summarize_zonal_mean_field(rows, bootstrap=0, rng=None, expected=None) -> dict:
    r"""Mean distance per (d, t, n) with its standard error, and the fitted slopes.

    Besides the plain mean over seeds, where ``expected`` gives the exact mean t = 0 distance
    (:func:`expected_sampling_distance`) for every n, the control-variate mean
    :math:`\bar W_t - b(\bar W_0 - \mathbb{E}W_0)` is given too: :math:`W_0` is the same
    seed's t = 0 distance and b the regression coefficient of :math:`\sqrt n W_t` on
    :math:`\sqrt n W_0` pooled over all n (one b per d and t, so that a few seeds at large n
    do not have to estimate it). For any fixed b it is unbiased like the plain mean, with the
    variance reduced by :math:`1 - r^2` (r the correlation), because most of a run's distance
    is the sampling error it starts with (chiefly the split of the mass between the caps). The
    mean signed error of the mean of s, :math:`\overline{\langle s\rangle_n -
    \langle s\rangle_\rho}`, estimates the finite-n bias of the token system.

    Parameters
    ----------
    rows : list of dict
        :func:`zonal_token_run` rows (any d, n, seeds, times).
    bootstrap : int
        Resamples of the seeds (independently per n, b refitted each time) for the slopes'
        standard errors; 0: none.
    rng : int, numpy.random.Generator or None
        For the bootstrap.
    expected : dict, optional
        ``{(d, n): exact mean t = 0 distance}``.

    Returns
    -------
    dict
        ``table``: list of ``d, t, n, seeds, mean, se`` (se = sample std / sqrt(seeds)),
        ``cv_mean, cv_se`` (NaN without ``expected`` or at t = 0), ``bias, bias_se`` (mean of
        s); ``slopes``: {d: {t: {"slope", "se", "cv_slope", "cv_se", "b"}}}, fitted by
        ``np.polyfit`` to log mean distance against log n, se the bootstrap standard deviation
        (NaN without).
    """
    from .mean_field import fit_slope

    rng = np.random.default_rng(rng)
    expected = {} if expected is None else expected
    groups = _group_by_seed(rows)
    samples = {}  # (d, t) -> {n: (w, w0, expected0)}
    table = []
    for (d, n), by_t in sorted(groups.items()):
        for t, by_seed in sorted(by_t.items()):
            seeds = sorted(by_seed)
            w = np.array([by_seed[k]["distance"] for k in seeds])
            w0 = np.array([by_t[0.0][k]["distance"] for k in seeds]) if 0.0 in by_t else w
            bias = np.array([by_seed[k]["mean_s"] - by_seed[k]["pde_mean_s"] for k in seeds])
            table.append({"d": d, "t": t, "n": n, "seeds": w.size, "mean": w.mean(),
                          "se": _se(w), "cv_mean": np.nan, "cv_se": np.nan,
                          "bias": bias.mean(), "bias_se": _se(bias)})  # fmt: skip
            samples.setdefault((d, t), {})[n] = (w, w0, expected.get((d, n)))
    slopes = {}
    for (d, t), per_n in sorted(samples.items()):
        controlled = t != 0.0 and all(e0 is not None for _, _, e0 in per_n.values())
        b = _pooled_coefficient(per_n) if controlled else np.nan
        if controlled:
            for r in table:
                if (r["d"], r["t"]) == (d, t):
                    r["cv_mean"], r["cv_se"] = _controlled(per_n, b)[r["n"]]
        if len(per_n) < 2:
            continue
        ns = sorted(per_n)
        out = {"slope": fit_slope(ns, [per_n[n][0].mean() for n in ns]), "se": np.nan,
               "cv_slope": np.nan, "cv_se": np.nan, "b": b}  # fmt: skip
        if controlled:
            cv = _controlled(per_n, b)
            out["cv_slope"] = fit_slope(ns, [cv[n][0] for n in ns])
        boots, cv_boots = [], []
        for _ in range(bootstrap):
            picks = {n: rng.integers(0, per_n[n][0].size, per_n[n][0].size) for n in ns}
            resample = {n: (w[picks[n]], w0[picks[n]], e0) for n, (w, w0, e0) in per_n.items()}
            boots.append(fit_slope(ns, [resample[n][0].mean() for n in ns]))
            if controlled:
                cv = _controlled(resample, _pooled_coefficient(resample))
                if min(m for m, _ in cv.values()) > 0:
                    cv_boots.append(fit_slope(ns, [cv[n][0] for n in ns]))
        if bootstrap > 1:
            out["se"] = float(np.std(boots, ddof=1))
        if len(cv_boots) > 1:
            out["cv_se"] = float(np.std(cv_boots, ddof=1))
        slopes.setdefault(d, {})[t] = out
    return {"table": table, "slopes": slopes}


def _se(x) -> float:
    return float(np.std(x, ddof=1) / np.sqrt(x.size)) if x.size > 1 else np.nan


def zonal_mean_field_table(summary) -> str:
    """Plain-text table of :func:`summarize_zonal_mean_field`: one line per (d, t, n)."""
    lines = [f"{'d':>5} {'t':>4} {'n':>6} {'seeds':>5} {'mean W1':>9} {'s.e.':>8} {'rel':>5} "
             f"{'W1 sqrt n':>9} {'cv mean':>9} {'cv s.e.':>8} {'rel':>5} "
             f"{'bias <s>':>9} {'s.e.':>8}"]  # fmt: skip
    for r in summary["table"]:
        lines.append(
            f"{r['d']:>5} {r['t']:>4g} {r['n']:>6} {r['seeds']:>5} {r['mean']:9.3e} "
            f"{r['se']:8.1e} {r['se'] / r['mean']:5.1%} {r['mean'] * np.sqrt(r['n']):9.4f} "
            f"{r['cv_mean']:9.3e} {r['cv_se']:8.1e} {r['cv_se'] / r['cv_mean']:5.1%} "
            f"{r['bias']:+9.1e} {r['bias_se']:8.1e}"
        )
    for d, by_t in summary["slopes"].items():
        for t, s in by_t.items():
            lines.append(f"d = {d}, t = {t:g}: slope {s['slope']:+.3f} +- {s['se']:.3f}; "
                         f"control variate {s['cv_slope']:+.3f} +- {s['cv_se']:.3f} "
                         f"(b = {s['b']:.2f})")  # fmt: skip
    return "\n".join(lines)
