"""Clustering on S^1 and S^2: the mean-field density and tokens sampled from it, side by side.

A near-uniform density (uniform plus a seeded perturbation on the low harmonics) is advanced
by the mean-field PDE (DG p = 1) at beta = 9; n tokens drawn from the same initial density
(``Density.sample``) follow the token ODE. Both form clusters, about as many as the
fastest-growing harmonic of the linearised flow predicts (l* = 4 at beta = 9 by the SA
growth rates).

Figures (in ``out``):

- ``circle_spacetime.png``: the S^1 density against angle and time next to the token angles;
- ``circle_final.png``: the S^1 density at the end with a histogram of the tokens;
- ``sphere_t*.png``: the S^2 density rendered off-screen (pyvista) beside the tokens.

    python examples/clustering.py
"""

from pathlib import Path

import numpy as np

import meanfield as mf
from meanfield.diagnostics import density_clusters, find_clusters
from meanfield.initial import WhiteNoise
from meanfield.plot import plot_circle_density, render_density
from meanfield.theory import fastest_mode

BETA = 9.0


def run_pair(mesh, init, n, t, seed=0, dt=0.05, dt_max=0.05):
    """Density and tokens from the same initial density; returns (solution, trajectory)."""
    model = mf.Attention(BETA)
    rho0 = mf.DG(mesh, 1).interpolate(init).limit()
    sol = mf.solve_density(model, rho0, t, dt_max=dt_max)
    traj = mf.solve_particles(model, rho0.sample(n, seed), t, dt=dt)
    return sol, traj


def counts(sol, traj, radius=0.1):
    """Cluster counts of the density (regions above 4x uniform) and of the tokens."""
    pde = density_clusters(sol.densities[-1]).count
    tokens = find_clusters(traj.x[-1], radius=radius, min_mass=0.01).count
    return pde, tokens


def circle(small, out):
    cells, n, t_end = (96, 200, 10.0) if small else (512, 2000, 25.0)
    t = np.linspace(0.0, t_end, 41 if small else 101)
    sol, traj = run_pair(mf.SphereMesh.circle(cells), WhiteNoise(2, 0.3, 8, 0), n, t)
    _spacetime(sol, traj, out / "circle_spacetime.png")
    plot_circle_density(sol.densities[-1], out / "circle_final.png", tokens=traj.x[-1],
                        title=f"S^1, beta = {BETA:g}, t = {t_end:g}")  # fmt: skip
    pde, tokens = counts(sol, traj)
    return {
        "circle_clusters_pde": pde,
        "circle_clusters_tokens": tokens,
        "circle_mass_drift": float(np.ptp(sol.mass) / sol.mass[0]),
        "circle_min_density": float(min(d.min_value() for d in sol.densities)),
    }


def sphere(small, out):
    level, n, t_end = (2, 300, 4.5) if small else (4, 4000, 8.0)
    t = np.linspace(0.0, t_end, 3)
    sol, traj = run_pair(mf.SphereMesh.icosphere(level), WhiteNoise(3, 0.5, 4, 0), n, t)
    for k, tk in enumerate(t):
        render_density(sol.densities[k], out / f"sphere_t{tk:.1f}.png", tokens=traj.x[k],
                       title=f"t = {tk:.1f}")  # fmt: skip
    pde, tokens = counts(sol, traj, radius=0.15)
    return {
        "sphere_clusters_pde": pde,
        "sphere_clusters_tokens": tokens,
        "sphere_mass_drift": float(np.ptp(sol.mass) / sol.mass[0]),
        "sphere_min_density": float(min(d.min_value() for d in sol.densities)),
    }


def main(small: bool = False, out: str | Path = "out/clustering") -> dict:
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    results = {"fastest_mode_circle": fastest_mode(BETA, 2), "fastest_mode_sphere": None}
    results["fastest_mode_sphere"] = fastest_mode(BETA, 3)
    results.update(circle(small, out))
    results.update(sphere(small, out))
    for key, value in results.items():
        print(f"{key}: {value}")
    return results


def _spacetime(sol, traj, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    theta = np.linspace(-np.pi, np.pi, 721)
    pts = np.column_stack([np.cos(theta), np.sin(theta)])
    rho = np.array([d.evaluate(pts) for d in sol.densities])
    fig, (a, b) = plt.subplots(1, 2, figsize=(10, 4), dpi=110, sharey=True)
    a.pcolormesh(sol.t, theta, np.log10(np.maximum(rho, 1e-4)).T, shading="auto", cmap="magma")
    a.set_title("PDE density (log10)")
    a.set_xlabel("t")
    a.set_ylabel("angle (rad)")
    ang = np.arctan2(traj.x[..., 1], traj.x[..., 0])
    ang = np.where(np.abs(np.diff(ang, axis=0, prepend=ang[:1])) > np.pi, np.nan, ang)
    b.plot(traj.t, ang, lw=0.4, color="tab:blue", alpha=0.5)
    b.set_title(f"{traj.x.shape[1]} tokens sampled from the initial density")
    b.set_xlabel("t")
    fig.suptitle(f"Clustering on S^1, beta = {BETA:g}")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", action="store_true", help="a small, quick version (seconds)")
    parser.add_argument("--out", default="out/clustering", help="output directory")
    args = parser.parse_args()
    main(small=args.small, out=args.out)
