"""The mean-field PDE in high dimension: the zonal reduction on S^{d-1}, d = 3 ... 1024.

For Q = K = V = I a density of s = <x, e_d> stays one, and the continuity equation is a 1-D
problem in the polar angle for every d (``SphereMesh.zonal``). Two experiments:

- growth: Gegenbauer modes C_l^{(d/2-1)} of the uniform measure grow at the rates of
  ``theory.growth_rate`` (SA, beta = 4), measured from the PDE;
- collapse: a von Mises-Fisher cap about e_d (mean polar angle about 0.55 in every d) collapses
  onto the pole at beta = 9; tokens in R^d drawn from the same density (``Density.sample``)
  follow the token ODE beside it, compared by the exact W1 of the laws of s.

Figures (in ``out``): ``growth.png`` (measured over predicted rates), ``collapse.png`` (mean
polar angle against time, PDE lines and token markers, one colour per d).

    python examples/high_dimension.py [--small]
"""

from pathlib import Path

import numpy as np

import meanfield as mf
from meanfield import plot
from meanfield.initial import ZonalCaps
from meanfield.studies.zonal import measure_zonal_growth


def polar(x):
    return np.arctan2(np.linalg.norm(x[:, :-1], axis=1), x[:, -1])


def growth(dims, ells, beta=4.0):
    """Rows of measured and predicted rates."""
    return [measure_zonal_growth(d, beta, ell) for d in dims for ell in ells]


def collapse(d, n, t, h, beta=9.0, seed=0):
    """PDE and tokens from a cap about e_d; mean polar angles and the W1 distance per time."""
    fine = np.arange(0.0, 1.2 + h / 2, h)
    cells = np.concatenate([fine, np.linspace(1.2, np.pi, 16)[1:]])
    rho0 = mf.DG(mf.SphereMesh.zonal(d, cells), 1).interpolate(ZonalCaps(d, 3.0 * d, 1.0))
    model = mf.Attention(beta)
    sol = mf.solve_density(model, rho0, t)
    traj = mf.solve_particles(model, rho0.sample(n, seed), t, dt=0.05, field="direct")
    return {
        "pde_angle": [float(r.integrate(polar) / r.integrate()) for r in sol.densities],
        "token_angle": [float(polar(x).mean()) for x in traj.x],
        "w1": [float(mf.wasserstein(x, r)) for x, r in zip(traj.x, sol.densities, strict=True)],
        "mass_drift": float(np.ptp(sol.mass)),
        "min_density": float(min(r.min_value() for r in sol.densities)),
    }


def main(small: bool = False, out: str | Path = "out/high_dimension") -> dict:
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    dims = (3, 8, 128) if small else (3, 8, 32, 128, 1024)
    ells = (1, 2) if small else (1, 2, 3, 4)
    rows = growth(dims, ells)
    t = np.linspace(0.0, 2.0 if small else 4.0, 5 if small else 9)
    runs = {d: collapse(d, 200 if small else 1000, t, 0.02 if small else 0.01) for d in dims}
    _figures(rows, runs, t, out)
    results = {
        "growth_worst_error": max(abs(r["rel_error"]) for r in rows),
        "final_angle_pde": {d: r["pde_angle"][-1] for d, r in runs.items()},
        "final_angle_tokens": {d: r["token_angle"][-1] for d, r in runs.items()},
        "final_w1": {d: r["w1"][-1] for d, r in runs.items()},
        "mass_drift": max(r["mass_drift"] for r in runs.values()),
        "min_density": min(r["min_density"] for r in runs.values()),
    }
    for r in rows:
        print(f"d = {r['d']:5d}  l = {r['ell']}  gamma = {r['theory']:.4e}  "
              f"measured/theory - 1 = {r['rel_error']:+.1e}")  # fmt: skip
    for key, value in results.items():
        print(f"{key}: {value}")
    return results


def _figures(rows, runs, t, out):
    fig = plot.figure(plot.COLUMN)
    ax = fig.add_subplot()
    for d in sorted({r["d"] for r in rows}):
        sub = [r for r in rows if r["d"] == d]
        ax.semilogy([r["ell"] for r in sub], [r["theory"] for r in sub], "-", label=f"d = {d}")
        ax.semilogy([r["ell"] for r in sub], [r["measured"] for r in sub], "k.")
    ax.set_xlabel(r"degree $\ell$")
    ax.set_ylabel(r"growth rate $\gamma_\ell$")
    ax.set_title("lines: theory; dots: PDE", fontsize="small")
    ax.legend(fontsize="small")
    plot.save(fig, out / "growth.png")
    fig = plot.figure(plot.COLUMN)
    ax = fig.add_subplot()
    for d, r in runs.items():
        (line,) = ax.plot(t, r["pde_angle"], label=f"d = {d}")
        ax.plot(t, r["token_angle"], "o", color=line.get_color(), markersize=3)
    ax.set_xlabel("$t$")
    ax.set_ylabel("mean polar angle")
    ax.set_title("lines: PDE; dots: tokens", fontsize="small")
    ax.legend(fontsize="small")
    plot.save(fig, out / "collapse.png")


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", action="store_true", help="a small, quick version (seconds)")
    parser.add_argument("--out", default="out/high_dimension", help="output directory")
    args = parser.parse_args()
    main(small=args.small, out=args.out)
