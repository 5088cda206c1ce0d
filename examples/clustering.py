"""Clustering on S^1 and S^2: the mean-field density and tokens sampled from it, side by side.

A near-uniform density (uniform plus a seeded perturbation on the low harmonics) is advanced
by the mean-field PDE (DG p = 1) at beta = 9; n tokens drawn from the same initial density
(``Density.sample``) follow the token ODE. Both form clusters, about as many as the
fastest-growing harmonic of the linearised flow predicts (l* = 4 at beta = 9 by the SA
growth rates).

Figures (in ``out``):

- ``circle_spacetime.png``: the S^1 density against angle and time next to the token angles
  (coloured by the cluster they end in);
- ``circle_final.png``: the S^1 density at the end with a histogram of the tokens;
- ``sphere_maps.png``: equal-area maps of the whole S^2 at the output times, tokens on top;
- ``sphere_t*.png``: the S^2 density from a fixed camera and its antipode (pyvista), tokens on
  the surface, one colour range for all times.

    python examples/clustering.py
"""

from pathlib import Path

import numpy as np

import meanfield as mf
from meanfield import plot
from meanfield.diagnostics import density_clusters, find_clusters
from meanfield.initial import WhiteNoise
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
    ax = plot.density_map(sol.densities[-1], tokens=traj.x[-1],
                          title=rf"$S^1$, $\beta = {BETA:g}$, $t = {t_end:g}$")  # fmt: skip
    plot.save(ax.figure, out / "circle_final.png")
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
    plot.save(plot.density_maps(sol, t, tokens=traj), out / "sphere_maps.png")
    lo, hi = plot.colour_limits([plot.display_values(r) for r in sol.densities])
    for k, tk in enumerate(t):
        fig = plot.render_density(sol.densities[k], tokens=traj.x[k], vmin=lo, vmax=hi,
                                  title=f"$t = {tk:.1f}$")  # fmt: skip
        plot.save(fig, out / f"sphere_t{tk:.1f}.png")
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
    """The S^1 density over (t, angle) beside the token angles, one page wide."""
    fig = plot.figure(plot.PAGE, aspect=0.36)
    a, b = fig.subplots(1, 2, sharey=True)
    plot.density_spacetime(sol, ax=a, colorbar=False)
    a.set_title(rf"density, $\beta = {BETA:g}$")
    plot.trajectories(traj, ax=b, max_tokens=400)
    b.set_title(f"{min(400, traj.x.shape[1])} of {traj.x.shape[1]} tokens")
    b.set_ylabel("")
    plot.maps.style_colorbar(fig.colorbar(a.collections[0], ax=[a, b], pad=0.01))
    plot.save(fig, path)


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", action="store_true", help="a small, quick version (seconds)")
    parser.add_argument("--out", default="out/clustering", help="output directory")
    args = parser.parse_args()
    main(small=args.small, out=args.out)
