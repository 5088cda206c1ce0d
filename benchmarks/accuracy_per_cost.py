r"""Accuracy per CPU second: tokens, the Eulerian PDE and the Lagrangian flow map, S^1 and S^2.

**S^1.** The solvers approximate the same law mu_t at t = 2 (SA, Q = K = V = I, beta = 4) from
a smooth initial density, a mixture of three von Mises densities. The error is the exact W1
distance on the circle (geodesic cost, POT's ``wasserstein_circle`` through
:func:`meanfield.wasserstein`) to a reference:

- **reference**: a fine PDE run (circle mesh of ``REF_CELLS`` cells, DG p = 2). Its own error
  is estimated by the distance to a second run with half the cells (with order >= 2 in h the
  reference's error is at most a quarter of that; the table only uses runs whose error is
  more than ten times that distance).
- **particles**: n = 1000 ... 1024000 tokens (quick: ... 256000) drawn exactly from the
  reference's initial density
  (:meth:`Density.sample`), advanced by :func:`meanfield.solve_particles` at its defaults
  (adaptive dopri5, rtol 1e-3); error = W1(empirical measure, reference), mean over seeds;
  cost = sampling + solve. The time error of these steps is printed (W1 between the default
  run and a DOP853 run of the same tokens at the largest n): it is far below the sampling error.
- **particles, field = spectral / ducc**: the same tokens (seed 0, the two largest n) with the
  NumPy Fourier field and ducc0's NUFFT field: the CPU ratio of the field evaluators at equal
  error.
- **PDE**: circle meshes of 8 ... 512 cells, DG p = 0, 1, 2, CFL 0.5 (the default); cost =
  interpolating rho0 + :func:`meanfield.solve_density`.
- **Lagrangian**: the flow-map solver (``scheme="lagrangian"``, RK4 at its default step, tol
  1e-8, and at ``tol=1e-5``) from the same DG initial densities (p = 1, 2, 8 ... 128 cells); its
  W1 is computed on a grid of
  ``LAG_BINS`` equal arcs: the flow-map density's exact mass in every arc
  (:meth:`FlowMapDensity.project` onto DG(circle(LAG_BINS), 0), read-out map through nodes and
  quadrature points) against the reference's grid masses summed into the same arcs. Both sit
  at the same arc midpoints, so the binned W1 is a Riemann sum of the exact one, off by at most
  (arc length) x (L1 distance), below 1e-3 of every error in the table. (The version before
  used the refined quadrature measure, 32 arcs per cell with 2 or 3 point masses each: its own
  distance to the density, ~ h / 512, was a floor that made p = 2 look like O(h^2).)
- cost = interpolating rho0 + the solve.

W1 between a DG density and the reference is computed on a grid of ``BINS`` equal arcs aligned
with the cell boundaries (every mesh size divides it): each arc carries rho(midpoint) x length,
so the cumulative distribution is exact up to O(BINS^-2) and W1 to ~1e-9, below every error in
the table. Particles are compared with the same grid measure of the reference (moving each
reference mass by at most pi/BINS = 1.2e-5 changes W1 by at most that, below the smallest
particle error by two orders).

**S^2** (``--sphere 2``). The same question at t = 2 (SA, beta = 4) from three von Mises–Fisher
bumps; the error is the spherical sliced distance SSW1 (:class:`meanfield.compare.SlicedMetric`,
64 fixed great circles, ``SSW_BINS`` bins per circle) to a fine Lagrangian reference
(icosphere(4), p = 2; quick: icosphere(3), p = 2), its own error estimated by the distance to
a coarser Lagrangian run (icosphere(4) p = 1; quick: icosphere(3) p = 1). Measures: tokens as
they are; Lagrangian runs by their refined quadrature measure (every moved cell cut by
midpoint subdivision down to the size of an icosphere(7) cell, quick icosphere(6), read-out
map through nodes and quadrature points, masses exact); Eulerian runs by the same subdivision
of their own cells (curved map, rho at the points, clipped at 0). Every measure thus has atoms
of the same spacing; the reference's distance to its own measure cut once less is printed
(the atoms' discreteness, an upper bound of their share in every row). Rows:

- **particles** (n = 4000 ... 1024000, quick 1000 ... 256000; 3 seeds, 2 at 10^6) at the
  default field (``"auto"``) and, for the same tokens at two sizes, ``field="ducc"`` and
  ``field="spectral"`` (the field is the cost; the error is the same to 1e-10); the time
  error of the default steps is printed (SSW1 to DOP853);
- **PDE** on icosphere(1 ... 3) p = 1 with ``field="spectral"`` and ``field="ducc"``;
- **Lagrangian** on icosphere(1 ... 3), p = 1 and 2, at the default RK4 step (tol 1e-8) and
  at ``tol=1e-5`` (three times longer steps; the SSW1 between the two is printed: the time
  error).

Cost is ``time.process_time()`` (CPU seconds of every thread of this process), so a loaded
machine inflates wall time but not the cost; the load average is printed.

Output: per sphere a table, the particle fits over the three largest n (error ~ n^s, cost ~
n^r; at small n a fixed overhead flattens the cost and would make extrapolated tokens too
cheap), the CPU ratio
particles/solver at equal error for every PDE and Lagrangian run (interpolated on the particle
fit, marked ``extrap.`` below the smallest particle error measured), the ratios at W1 = 1e-2 ...
1e-4 and a log-log figure ``accuracy_per_cost.png`` (S^2: ``accuracy_per_cost_s2.png``).

Run::

    python benchmarks/accuracy_per_cost.py              # both spheres (~45 min wall at load 8)
    python benchmarks/accuracy_per_cost.py --quick      # smaller references and n (~10 min)
    python benchmarks/accuracy_per_cost.py --sphere 2 --quick
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import numpy as np

import meanfield as mf
from meanfield import initial

BETA = 4.0
T_END = 2.0
#: Reference mesh (cells, DG degree 2) and the number of grid arcs used for W1.
REF_CELLS = 2048
BINS = 2**18
#: RK4 tolerance of the extra, cheaper Lagrangian rows (the default is 1e-8).
LOOSE_TOL = 1e-5
#: Particle sizes (the largest) that the error and cost fits use.
FIT_POINTS = 3
#: Arcs of the exact-mass grid on which a Lagrangian density's W1 is computed.
LAG_BINS = 2**13
#: Initial density: three von Mises bumps (angles, concentrations, weights).
ANGLES = (0.0, 2.2, 4.1)
KAPPAS = (5.0, 8.0, 3.0)
WEIGHTS = (0.45, 0.3, 0.25)


def initial_density():
    """The smooth initial law: a von Mises mixture on S^1."""
    centres = np.column_stack([np.cos(ANGLES), np.sin(ANGLES)])
    return initial.VonMisesFisher(centres=centres, kappa=np.array(KAPPAS), weights=WEIGHTS)


#: Largest mass fraction removed by clipping negative grid values (see grid_measure).
CLIPPED = [0.0]


def grid_points(bins=BINS):
    """Midpoints of ``bins`` equal arcs starting at angle 0, shape (bins, 2)."""
    theta = (np.arange(bins) + 0.5) * (2.0 * np.pi / bins)
    return np.column_stack([np.cos(theta), np.sin(theta)])


def grid_measure(rho, bins=BINS):
    """(points, weights): rho at the arc midpoints times the arc length, mass normalised."""
    if bins % rho.space.mesh.n_cells:
        raise ValueError(f"bins = {bins} must be a multiple of the cells ({rho.space.mesh})")
    x = grid_points(bins)
    w = rho.evaluate(x) * (2.0 * np.pi / bins)
    # the limiter makes rho >= 0 at the scheme's points only; a p = 2 polynomial can dip
    # below 0 between them (by ~1e-6 on the coarsest meshes): that mass is dropped
    CLIPPED[0] = max(CLIPPED[0], float(-w[w < 0].sum() / w.sum()))
    w = np.clip(w, 0.0, None)
    return x, w / w.sum()


def pde_run(cells, degree, t_end=T_END):
    """(density at t_end, CPU s) for a circle mesh of ``cells`` cells and DG ``degree``."""
    cpu = time.process_time()
    rho0 = mf.DG(mf.SphereMesh.circle(cells), degree).interpolate(initial_density())
    sol = mf.solve_density(mf.Attention(BETA), rho0, [0.0, t_end])
    return sol.densities[-1], time.process_time() - cpu, rho0


def lagrangian_run(cells, degree, t_end=T_END, **options):
    """(flow-map density at t_end, CPU s) of the Lagrangian solver."""
    cpu = time.process_time()
    rho0 = mf.DG(mf.SphereMesh.circle(cells), degree).interpolate(initial_density())
    sol = mf.solve_density(mf.Attention(BETA), rho0, [0.0, t_end], scheme="lagrangian", **options)
    return sol.densities[-1], time.process_time() - cpu


def arc_masses(flow, bins=LAG_BINS):
    """Exact mass of a flow-map density in ``bins`` equal arcs from angle 0, normalised."""
    space = mf.DG(mf.SphereMesh.circle(bins), 0)
    start = space.mesh.points[space.mesh.cells[:, 0]]
    angle = np.arctan2(start[:, 1], start[:, 0]) % (2 * np.pi)
    if not np.allclose(angle, np.arange(bins) * (2 * np.pi / bins), atol=1e-9):
        raise ValueError("circle mesh cells must run counterclockwise from angle 0")
    m = flow.project(space, limit=False).cell_means() * space.mesh.areas
    return m / m.sum()


def binned_w1(a, b):
    """Exact circular W1 between two measures on the same equal arcs (masses (K,) each)."""
    h = np.cumsum(a - b)
    return float(np.abs(h - np.median(h)).sum() * (2.0 * np.pi / a.size))


def particle_run(rho0, n, seed, t_end=T_END, field="auto"):
    """(tokens at t_end (n, 2), CPU s): n tokens sampled from rho0, default steps to t_end."""
    cpu = time.process_time()
    x0 = rho0.sample(n, np.random.default_rng(seed))
    x = mf.solve_particles(mf.Attention(BETA), x0, [0.0, t_end], field=field).x[-1]
    return x, time.process_time() - cpu


def print_step_error(x0, beta, distance, name):
    """Print the tokens' time error: default steps against DOP853 from the same start."""
    default = mf.solve_particles(mf.Attention(beta), x0, [0.0, T_END]).x[-1]
    tight = mf.solve_particles(mf.Attention(beta), x0, [0.0, T_END], method="dop853").x[-1]
    print(
        f"time error of the tokens' default steps (n = {len(x0)}): {name}(default, DOP853) = "
        f"{distance(default, tight):.1e}, largest position error "
        f"{np.abs(default - tight).max():.1e}\n"
    )


def fit(x, y):
    """Slope and intercept of log y against log x."""
    s, a = np.polyfit(np.log(x), np.log(y), 1)
    return float(s), float(a)


def run(quick=False, out=None):
    out = Path(__file__).resolve().parent / "accuracy_per_cost.png" if out is None else out
    ref_cells = REF_CELLS // 4 if quick else REF_CELLS
    print(f"S^1, SA, beta = {BETA:g}, t = {T_END:g}; W1 on {BINS} arcs")
    ref, ref_cpu, ref0 = pde_run(ref_cells, 2)
    check, check_cpu, _ = pde_run(ref_cells // 2, 2)
    ref_grid = grid_measure(ref)
    ref_err = mf.wasserstein(grid_measure(check), ref_grid)
    print(
        f"reference: {ref_cells} cells p = 2 ({ref_cpu:.1f} CPU s); W1 to {ref_cells // 2} "
        f"cells p = 2: {ref_err:.2e} (bounds the reference's own error)\n"
    )
    rows = []
    ns = [1000, 4000, 16000, 64000, 256000]
    ns += [] if quick else [1024000]
    for n in ns:
        errs, cpus = [], []
        for seed in range(3 if quick or n > 10**6 else 4):
            x, cpu = particle_run(ref0, n, seed)
            errs.append(mf.wasserstein(x, ref_grid))
            cpus.append(cpu)
        rows.append(
            {
                "solver": "particles",
                "size": n,
                "degree": None,
                "w1": float(np.mean(errs)),
                "w1_sd": float(np.std(errs)),
                "cpu": float(np.mean(cpus)),
            }
        )
    for n in ns[-2:]:
        for field in ("spectral", "ducc"):
            x, cpu = particle_run(ref0, n, 0, field=field)
            rows.append({"solver": "particles", "size": n, "degree": None, "field": field,
                         "w1": mf.wasserstein(x, ref_grid), "w1_sd": 0.0, "cpu": cpu})  # fmt: skip
    print_step_error(ref0.sample(ns[-1], np.random.default_rng(0)), BETA, mf.wasserstein, "W1")
    cells_of = {
        0: [8, 16, 32, 64, 128, 256, 512],
        1: [8, 16, 32, 64, 128, 256],
        2: [8, 16, 32, 64, 128],
    }
    for p, sizes in cells_of.items():
        for cells in sizes if not quick else sizes[:5]:
            rho, cpu, _ = pde_run(cells, p)
            err = mf.wasserstein(grid_measure(rho), ref_grid)
            rows.append(
                {"solver": "PDE", "size": cells, "degree": p, "w1": err, "w1_sd": 0.0, "cpu": cpu}
            )
    ref_arcs = ref_grid[1].reshape(LAG_BINS, -1).sum(axis=1)
    for p, sizes in {1: [8, 16, 32, 64, 128], 2: [8, 16, 32, 64]}.items():
        for cells in sizes if not quick else sizes[:4]:
            for tol in (None, LOOSE_TOL):
                opts = {} if tol is None else {"tol": tol}
                flow, cpu = lagrangian_run(cells, p, **opts)
                err = binned_w1(arc_masses(flow), ref_arcs)
                rows.append({"solver": "Lagrangian", "size": cells, "degree": p, "w1": err,
                             "variant": None if tol is None else f"tol {tol:g}",
                             "w1_sd": 0.0, "cpu": cpu})  # fmt: skip
    return report(rows, ref_err, out)


def report(rows, ref_err, out, metric="W1", title=f"S^1, SA, beta = {BETA:g}"):
    """Print the table, the fits, the ratios and the crossover; draw the figure.

    Rows carry ``solver`` ("particles", "PDE", "Lagrangian"), ``size``, ``degree``, ``field``
    (None: the default), ``w1``, ``w1_sd`` and ``cpu``. The particle fits use the default-field
    particle rows.
    """
    part = [r for r in rows if r["solver"] == "particles" and r.get("field") is None]
    # fit the largest FIT_POINTS sizes only: at small n a fixed overhead dominates the cost,
    # and its flatter slope would make extrapolated token costs too cheap
    part = sorted(part, key=lambda r: r["size"])[-FIT_POINTS:]
    n = np.array([r["size"] for r in part], float)
    s_err, a_err = fit(n, [r["w1"] for r in part])
    s_cpu, a_cpu = fit(n, [r["cpu"] for r in part])
    # particle cost at error e: n(e) from the error fit, then the cost fit
    exponent = s_cpu / s_err

    def particle_cpu(e):
        return float(np.exp(a_cpu) * (np.exp((np.log(e) - a_err) / s_err)) ** s_cpu)

    smallest = min(r["w1"] for r in part)
    print(f"{'solver':>10} {'variant':>9} {'n / cells':>9} {'p':>2} {metric + ' at t=2':>11} "
          f"{'sd':>9} {'CPU s':>9} {'part/solver CPU at equal ' + metric:>28}")  # fmt: skip
    for r in rows:
        ratio = ""
        if r["solver"] in ("PDE", "Lagrangian"):
            if r["w1"] < 10 * ref_err:
                ratio = "(below 10x reference error)"
            else:
                ratio = f"{particle_cpu(r['w1']) / r['cpu']:.3g}"
                ratio += " extrap." if r["w1"] < smallest else ""
        p = "" if r["degree"] is None else str(r["degree"])
        print(
            f"{r['solver']:>10} {variant(r):>9} {r['size']:>9d} {p:>2} "
            f"{r['w1']:11.3e} {r['w1_sd']:9.1e} {r['cpu']:9.3f} {ratio:>28}"
        )
    print(
        f"\nparticles: {metric} ~ n^{s_err:.3f}, CPU ~ n^{s_cpu:.3f}, so CPU ~ {metric}^"
        f"{exponent:.2f} (n from {int(n.min())} to {int(n.max())})"
    )
    print(f"largest negative mass clipped from a grid measure: {CLIPPED[0]:.1e} of the mass")
    crossover = {}
    groups = {}
    for r in rows:
        if r["solver"] != "particles" and r["w1"] >= 10 * ref_err:
            groups.setdefault((r["solver"], variant(r)), []).append(r)
    for (solver, var), group in groups.items():
        label = solver + ("" if var == "default" else f" ({var})")
        print(f"{label} against particles:")
        key = solver.lower() + ("" if var == "default" else f"_{var}")
        crossover[key] = summary_lines(group, particle_cpu, smallest, metric)
    field_ratios(rows, metric)
    plot(rows, ref_err, out, metric, title)
    return {
        "rows": rows,
        "ref_err": ref_err,
        "particle_error_slope": s_err,
        "particle_cpu_slope": s_cpu,
        **crossover,
    }


def variant(row):
    """A row's variant: its field evaluator, another labelled setting, or "default"."""
    return row.get("variant") or row.get("field") or "default"


def field_ratios(rows, metric):
    """CPU of the same run with field="spectral" over field="ducc" (and their error change)."""
    by = {}
    for r in rows:
        if r.get("field") in ("spectral", "ducc"):
            by.setdefault((r["solver"], r["size"], r["degree"]), {})[r["field"]] = r
    pairs = [(k, v) for k, v in by.items() if len(v) == 2]
    if not pairs:
        return
    print("same runs, field = spectral vs ducc (CPU s; the errors agree):")
    for (solver, size, degree), v in pairs:
        sp, du = v["spectral"], v["ducc"]
        p = "" if degree is None else f" p = {degree}"
        print(
            f"  {solver} {size}{p}: spectral {sp['cpu']:.3f}, ducc {du['cpu']:.3f}, ratio "
            f"{sp['cpu'] / du['cpu']:.2f}; {metric} {sp['w1']:.3e} vs {du['w1']:.3e}"
        )


def summary_lines(pde, particle_cpu, smallest, metric="W1"):
    """Crossover: the coarsest W1 at which the cheapest PDE run reaching it beats particles."""

    def front(e):
        ok = [r["cpu"] for r in pde if r["w1"] <= e]
        return min(ok) if ok else np.inf

    levels = sorted({r["w1"] for r in pde}, reverse=True)
    beats = [e for e in levels if front(e) < particle_cpu(e)]
    loses = [e for e in levels if front(e) >= particle_cpu(e)]
    out = {"pde_beats_below": beats[0] if beats else None, "pde_loses_at": loses}
    if beats:
        print(
            f"crossover: the PDE is cheaper than particles at every PDE error level <= "
            f"{beats[0]:.2e}" + (f" (particles cheaper at {', '.join(f'{e:.1e}' for e in loses)})"
                                 if loses else " (and at every level measured)")
        )  # fmt: skip
    for target in (1e-2, 3e-3, 1e-3, 1e-4, 1e-6):
        c = front(target)
        if np.isfinite(c):
            tag = " (particle cost extrapolated)" if target < smallest else ""
            ratio = particle_cpu(target) / c
            out[f"ratio@{target:g}"] = ratio
            print(
                f"  at {metric} = {target:.0e}: particles {particle_cpu(target):.3g} CPU s, "
                f"cheapest PDE {c:.3g} CPU s, ratio {ratio:.3g}{tag}"
            )
    return out


def plot(rows, ref_err, out, metric, title):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.5, 4.8))
    part = [r for r in rows if r["solver"] == "particles" and r.get("field") is None]
    ax.errorbar(
        [r["cpu"] for r in part],
        [r["w1"] for r in part],
        yerr=[r["w1_sd"] for r in part],
        fmt="ko-",
        label=f"particles (n = {part[0]['size']} ...)",
    )
    style = {"PDE": "-", "Lagrangian": "--"}
    for solver in ("PDE", "Lagrangian"):
        for var in sorted({variant(r) for r in rows if r["solver"] == solver}):
            for p, mark in zip((0, 1, 2), "s^D", strict=True):
                rs = [r for r in rows if r["solver"] == solver and r["degree"] == p
                      and variant(r) == var]  # fmt: skip
                if rs:
                    tag = "" if var == "default" else f", {var}"
                    ax.loglog([r["cpu"] for r in rs], [r["w1"] for r in rs],
                              mark + style[solver], label=f"{solver}, p = {p}{tag}")  # fmt: skip
    ax.axhline(ref_err, color="gray", ls=":", label="reference check distance")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("CPU seconds (process_time)")
    ax.set_ylabel(f"{metric} error at t = {T_END:g}")
    ax.set_title(f"{title}: accuracy per cost")
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(out, dpi=120)
    plt.close(fig)
    print(f"figure: {out}")


# --------------------------------------------------------------------------- S^2
BETA2 = 4.0
#: S^2 initial density: three von Mises-Fisher bumps (centres, concentrations, weights).
CENTRES2 = ((0.0, 0.0, 1.0), (1.0, 0.0, 0.0), (0.0, 0.8, -0.6))
KAPPAS2 = (5.0, 8.0, 3.0)
#: Bins per great circle of the sliced distance on S^2, and subdivisions of the cells whose
#: quadrature carries a density there.
SSW_BINS = 2**18
REFINE2 = 3
#: Every S^2 measure is cut to the atom spacing of icosphere(EQUIVALENT) (quick: one less).
EQUIVALENT = 7


def initial_density_s2():
    """The smooth initial law on S^2: a von Mises-Fisher mixture."""
    c = np.array(CENTRES2)
    c /= np.linalg.norm(c, axis=1, keepdims=True)
    return initial.VonMisesFisher(centres=c, kappa=np.array(KAPPAS2), weights=WEIGHTS)


def subdivided_rule(refine, degree):
    """A basix rule of ``degree`` on each of the 4^refine midpoint sub-triangles."""
    import basix

    xi, w = basix.make_quadrature(basix.CellType.triangle, degree)
    tris = np.array([[[0.0, 0.0], [1.0, 0.0], [0.0, 1.0]]])
    for _ in range(refine):
        a, b, c = tris[:, 0], tris[:, 1], tris[:, 2]
        ab, bc, ca = (a + b) / 2, (b + c) / 2, (c + a) / 2
        tris = np.concatenate([np.stack(t, axis=1) for t in
                               ((a, ab, ca), (ab, b, bc), (ca, bc, c), (bc, ca, ab))])  # fmt: skip
    B = np.swapaxes(tris[:, 1:] - tris[:, :1], 1, 2)
    pts = tris[:, None, 0] + np.einsum("kst,mt->kms", B, xi)
    return pts.reshape(-1, 2), np.tile(w, tris.shape[0]) / tris.shape[0]


def dg_measure(rho, refine=REFINE2):
    """(points, weights) of a DG density on S^2: rho on every cell's subdivided rule."""
    from meanfield.sphere.geometry import cell_map, metric_determinant

    space = rho.space
    xi, w = subdivided_rule(refine, space.degree + 1)
    x, J = cell_map(space.mesh, xi)
    vals = rho.coefficients @ space.tabulate(xi).T
    m = np.clip(vals, 0.0, None) * metric_determinant(J) * w
    CLIPPED[0] = max(CLIPPED[0], float(-np.minimum(vals, 0).sum() / np.abs(vals).sum()))
    return x.reshape(-1, 3), m.ravel() / m.sum()


def refine_for(level, quick):
    """Subdivisions that give every measure the atoms of icosphere(EQUIVALENT) cells: the
    same spacing, so the same (small) discreteness in every row."""
    return (EQUIVALENT - (1 if quick else 0)) - level


def flow_measure(flow, refine=REFINE2):
    """(points, weights) of a flow-map density: its refined quadrature measure."""
    x, w = flow.refined_measure(refine)
    return x / np.linalg.norm(x, axis=1, keepdims=True), w / w.sum()


def lagrangian_run_s2(level, degree, **options):
    """(flow-map density at T_END, CPU s) on icosphere(level)."""
    cpu = time.process_time()
    rho0 = mf.DG(mf.SphereMesh.icosphere(level), degree).interpolate(initial_density_s2())
    sol = mf.solve_density(mf.Attention(BETA2), rho0, [0.0, T_END], scheme="lagrangian", **options)
    return sol.densities[-1], time.process_time() - cpu, rho0


def pde_run_s2(level, degree, field):
    """(Eulerian density at T_END, CPU s) on icosphere(level) with the given field evaluator."""
    cpu = time.process_time()
    rho0 = mf.DG(mf.SphereMesh.icosphere(level), degree).interpolate(initial_density_s2())
    sol = mf.solve_density(mf.Attention(BETA2), rho0, [0.0, T_END], field=field)
    return sol.densities[-1], time.process_time() - cpu


def particle_run_s2(rho0, n, seed, field="auto"):
    """(tokens at T_END, CPU s): n tokens from rho0 at the default steps."""
    cpu = time.process_time()
    x0 = rho0.sample(n, np.random.default_rng(seed))
    x = mf.solve_particles(mf.Attention(BETA2), x0, [0.0, T_END], field=field).x[-1]
    return x, time.process_time() - cpu


def run_s2(quick=False, out=None):
    """The S^2 table: tokens, Eulerian (spectral and ducc field) and Lagrangian runs."""
    from meanfield.compare import SlicedMetric

    out = Path(__file__).resolve().parent / "accuracy_per_cost_s2.png" if out is None else out
    metric = SlicedMetric(3, bins=SSW_BINS)
    level = 3 if quick else 4
    print(f"S^2, SA, beta = {BETA2:g}, t = {T_END:g}; SSW1 on {len(metric.frames)} great "
          f"circles of {SSW_BINS} bins; measures cut to icosphere("
          f"{EQUIVALENT - (1 if quick else 0)}) atoms")  # fmt: skip
    ref, ref_cpu, ref0 = lagrangian_run_s2(level, 2)
    check, check_cpu, _ = lagrangian_run_s2(level, 1)
    r = refine_for(level, quick)
    H = metric.histograms(*flow_measure(ref, r))
    ref_err = metric.between(metric.histograms(*flow_measure(check, r)), H)
    floor = metric.between(metric.histograms(*flow_measure(ref, r - 1)), H)
    print(
        f"reference: Lagrangian icosphere({level}) p = 2 ({ref_cpu:.1f} CPU s); SSW1 to p = 1: "
        f"{ref_err:.2e} (its own error is below that); its measure cut 4^{r - 1} instead of "
        f"4^{r}: {floor:.1e} (the atoms' discreteness)\n"
    )
    rows = []
    ns = [1000, 4000, 16000, 64000, 256000] if quick else [4000, 16000, 64000, 256000, 1024000]
    for n in ns:
        errs, cpus = [], []
        for seed in range(3 if n < 10**6 else 2):
            x, cpu = particle_run_s2(ref0, n, seed)
            errs.append(metric.between(metric.histograms(x), H))
            cpus.append(cpu)
        rows.append({"solver": "particles", "size": n, "degree": None, "w1": float(np.mean(errs)),
                     "w1_sd": float(np.std(errs)), "cpu": float(np.mean(cpus))})  # fmt: skip
    for n in ns[-3:-1]:
        for field in ("spectral", "ducc"):
            x, cpu = particle_run_s2(ref0, n, 0, field)
            rows.append({"solver": "particles", "size": n, "degree": None, "field": field,
                         "w1": metric.between(metric.histograms(x), H), "w1_sd": 0.0,
                         "cpu": cpu})  # fmt: skip
    print_step_error(ref0.sample(ns[-3], np.random.default_rng(0)), BETA2, metric, "SSW1")
    for lev in (1, 2) if quick else (1, 2, 3):
        for field in ("spectral", "ducc"):
            rho, cpu = pde_run_s2(lev, 1, field)
            err = metric.between(metric.histograms(*dg_measure(rho, refine_for(lev, quick))), H)
            rows.append({"solver": "PDE", "size": rho.space.mesh.n_cells, "degree": 1,
                         "field": field, "w1": err, "w1_sd": 0.0, "cpu": cpu})  # fmt: skip
    time_errors = []
    for p in (1, 2):
        for lev in (1, 2) if quick else (1, 2, 3):
            h_default = None
            for tol in (None, LOOSE_TOL):
                opts = {} if tol is None else {"tol": tol}
                flow, cpu, _ = lagrangian_run_s2(lev, p, **opts)
                h = metric.histograms(*flow_measure(flow, refine_for(lev, quick)))
                rows.append({"solver": "Lagrangian", "size": flow.n_cells, "degree": p,
                             "variant": None if tol is None else f"tol {tol:g}",
                             "w1": metric.between(h, H), "w1_sd": 0.0, "cpu": cpu})  # fmt: skip
                if tol is None:
                    h_default = h
                else:
                    time_errors.append((lev, p, metric.between(h_default, h)))
            del h, h_default  # 64 x SSW_BINS floats each
    for lev, p, e in time_errors:
        print(f"Lagrangian icosphere({lev}) p = {p}: SSW1 between the tol 1e-8 and {LOOSE_TOL:g} "
              f"runs {e:.1e} (time error)")  # fmt: skip
    return report(rows, ref_err, out, metric="SSW1", title=f"S^2, SA, beta = {BETA2:g}")


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--quick", action="store_true")
    p.add_argument("--sphere", choices=("1", "2", "both"), default="both")
    p.add_argument("--out", type=Path, default=None, help="figure (S^1; S^2 adds _s2)")
    args = p.parse_args(argv)
    print(f"load average (1, 5, 15 min): {' '.join(f'{v:.2f}' for v in os.getloadavg())}")
    out = {}
    if args.sphere in ("1", "both"):
        out["s1"] = run(args.quick, args.out)
    if args.sphere in ("2", "both"):
        s2 = None if args.out is None else args.out.with_name(args.out.stem + "_s2.png")
        out["s2"] = run_s2(args.quick, s2)
    print(f"load average (1, 5, 15 min): {' '.join(f'{v:.2f}' for v in os.getloadavg())}")
    return out


if __name__ == "__main__":
    main()
