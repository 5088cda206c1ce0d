r"""Accuracy per CPU second: particles versus the mean-field PDE on S^1.

Both solvers approximate the same law mu_t at t = 2 (SA, Q = K = V = I, beta = 4) from a smooth
initial density, a mixture of three von Mises densities. The error is the exact W1 distance on
the circle (geodesic cost, POT's ``wasserstein_circle`` through :func:`meanfield.wasserstein`)
to a reference:

- **reference**: a fine PDE run (circle mesh of ``REF_CELLS`` cells, DG p = 2). Its own error
  is estimated by the distance to a second run with half the cells (with order >= 2 in h the
  reference's error is at most a quarter of that; the table only uses PDE runs whose error is
  more than ten times that distance).
- **particles**: n tokens drawn exactly from the reference's initial density
  (:meth:`Density.sample`), advanced by RK4 (:func:`meanfield.solve_particles`, default step,
  time error ~1e-9, far below the sampling error), error = W1(empirical measure, reference),
  mean over seeds; cost = sampling + solve.
- **PDE**: circle meshes of 8 ... 512 cells, DG p = 0, 1, 2, CFL 0.5 (the default); cost =
  interpolating rho0 + :func:`meanfield.solve_density`.
- **Lagrangian**: the flow-map solver (``scheme="lagrangian"``, RK4 at its default step) from
  the same DG initial densities (p = 1, 2, 8 ... 128 cells); its W1 is computed from its own
  refined quadrature measure (every moved cell cut into 32 arcs, masses exact), so no grid is
  needed; cost = interpolating rho0 + the solve.

W1 between a DG density and the reference is computed on a grid of ``BINS`` equal arcs aligned
with the cell boundaries (every mesh size divides it): each arc carries rho(midpoint) x length,
so the cumulative distribution is exact up to O(BINS^-2) and W1 to ~1e-9, below every error in
the table. Particles are compared with the same grid measure of the reference (moving each
reference mass by at most pi/BINS = 1.2e-5 changes W1 by at most that, below the smallest
particle error by two orders).

Cost is ``time.process_time()`` (CPU seconds of every thread of this process), so a loaded
machine inflates wall time but not the cost.

Output: a table, the particle fits (error ~ n^s, cost ~ n^r), the CPU ratio
particles/PDE at equal error for every PDE run (interpolated on the particle fit, marked
``extrap.`` below the smallest particle error measured), the crossover, and a log-log figure
``accuracy_per_cost.png`` (error vs CPU s).

Run::

    python benchmarks/accuracy_per_cost.py              # ~5 CPU minutes
    python benchmarks/accuracy_per_cost.py --quick      # smaller reference and n, ~1 minute
"""

from __future__ import annotations

import argparse
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


def lagrangian_run(cells, degree, t_end=T_END):
    """(W1-ready (points, weights) at t_end, CPU s) of the flow-map solver."""
    cpu = time.process_time()
    rho0 = mf.DG(mf.SphereMesh.circle(cells), degree).interpolate(initial_density())
    sol = mf.solve_density(mf.Attention(BETA), rho0, [0.0, t_end], scheme="lagrangian")
    cpu = time.process_time() - cpu
    x, w = sol.densities[-1].refined_measure(5)
    return (x / np.linalg.norm(x, axis=1, keepdims=True), w / w.sum()), cpu


def particle_run(rho0, n, seed, t_end=T_END):
    """(tokens at t_end (n, 2), CPU s): n tokens sampled from rho0, RK4 to t_end."""
    cpu = time.process_time()
    x0 = rho0.sample(n, np.random.default_rng(seed))
    x = mf.solve_particles(mf.Attention(BETA), x0, [0.0, t_end]).x[-1]
    return x, time.process_time() - cpu


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
    ns = [250, 1000, 4000, 16000] if quick else [250, 1000, 4000, 16000, 64000, 256000]
    seeds = range(3 if quick else 4)
    for n in ns:
        errs, cpus = [], []
        for seed in seeds:
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
    for p, sizes in {1: [8, 16, 32, 64, 128], 2: [8, 16, 32, 64]}.items():
        for cells in sizes if not quick else sizes[:4]:
            measure, cpu = lagrangian_run(cells, p)
            err = mf.wasserstein(measure, ref_grid)
            rows.append({"solver": "Lagrangian", "size": cells, "degree": p, "w1": err,
                         "w1_sd": 0.0, "cpu": cpu})  # fmt: skip
    return report(rows, ref_err, out)


def report(rows, ref_err, out):
    """Print the table, the fits, the ratios and the crossover; draw the figure."""
    part = [r for r in rows if r["solver"] == "particles"]
    pde = [r for r in rows if r["solver"] == "PDE"]
    n = np.array([r["size"] for r in part], float)
    s_err, a_err = fit(n, [r["w1"] for r in part])
    s_cpu, a_cpu = fit(n, [r["cpu"] for r in part])
    # particle cost at error e: n(e) from the error fit, then the cost fit
    exponent = s_cpu / s_err

    def particle_cpu(e):
        return float(np.exp(a_cpu) * (np.exp((np.log(e) - a_err) / s_err)) ** s_cpu)

    smallest = min(r["w1"] for r in part)
    print(f"{'solver':>10} {'n / cells':>9} {'p':>2} {'W1 at t=2':>11} {'sd':>9} {'CPU s':>9}"
          f" {'part/PDE CPU at equal W1':>25}")  # fmt: skip
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
            f"{r['solver']:>10} {r['size']:>9d} {p:>2} {r['w1']:11.3e} {r['w1_sd']:9.1e} "
            f"{r['cpu']:9.3f} {ratio:>25}"
        )
    print(
        f"\nparticles: W1 ~ n^{s_err:.3f}, CPU ~ n^{s_cpu:.3f}, so CPU ~ W1^{exponent:.2f} "
        f"(n from {int(n.min())} to {int(n.max())})"
    )
    valid = [r for r in pde if r["w1"] >= 10 * ref_err]
    print(f"largest negative mass clipped from a grid measure: {CLIPPED[0]:.1e} of the mass")
    crossover = summary_lines(valid, particle_cpu, smallest)
    lag = [r for r in rows if r["solver"] == "Lagrangian"]
    lag_valid = [r for r in lag if r["w1"] >= 10 * ref_err]
    if lag_valid:
        print("Lagrangian against particles:")
        crossover["lagrangian"] = summary_lines(lag_valid, particle_cpu, smallest)
    plot(part, pde + lag, particle_cpu, ref_err, out)
    return {
        "rows": rows,
        "ref_err": ref_err,
        "particle_error_slope": s_err,
        "particle_cpu_slope": s_cpu,
        **crossover,
    }


def summary_lines(pde, particle_cpu, smallest):
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
                f"  at W1 = {target:.0e}: particles {particle_cpu(target):.3g} CPU s, "
                f"cheapest PDE {c:.3g} CPU s, ratio {ratio:.3g}{tag}"
            )
    return out


def plot(part, pde, particle_cpu, ref_err, out):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.5, 4.8))
    ax.errorbar(
        [r["cpu"] for r in part],
        [r["w1"] for r in part],
        yerr=[r["w1_sd"] for r in part],
        fmt="ko-",
        label="particles (n = 250 ...)",
    )
    for p, mark in zip((0, 1, 2), "s^D", strict=True):
        rs = [r for r in pde if r["degree"] == p and r["solver"] == "PDE"]
        ax.loglog([r["cpu"] for r in rs], [r["w1"] for r in rs], mark + "-", label=f"PDE, p = {p}")
        rs = [r for r in pde if r["degree"] == p and r["solver"] == "Lagrangian"]
        if rs:
            ax.loglog([r["cpu"] for r in rs], [r["w1"] for r in rs], mark + "--",
                      label=f"Lagrangian, p = {p}")  # fmt: skip
    ax.axhline(ref_err, color="gray", ls=":", label="reference check distance")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("CPU seconds (process_time)")
    ax.set_ylabel(f"W1 error at t = {T_END:g}")
    ax.set_title(f"S^1, SA, beta = {BETA:g}: accuracy per cost")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out, dpi=120)
    plt.close(fig)
    print(f"figure: {out}")


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--quick", action="store_true")
    p.add_argument(
        "--out", type=Path, default=Path(__file__).resolve().parent / "accuracy_per_cost.png"
    )
    args = p.parse_args(argv)
    return run(args.quick, args.out)


if __name__ == "__main__":
    main()
