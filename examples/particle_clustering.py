"""Tokens clustering on the circle S^1 and the sphere S^2 under self-attention.

Runs the token ODE from uniformly random starts, reports the number of clusters at the end, and
saves figures: token angles against time on S^1 and before/after renders on S^2.

    python examples/particle_clustering.py
"""

from pathlib import Path

import numpy as np

import meanfield as mf
from meanfield.diagnostics import energy, find_clusters
from meanfield.plot import plot_circle_trajectories, plot_series, render_tokens


def main(small: bool = False, out: str | Path = "out/particle_clustering") -> dict:
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    n = 64 if small else 400
    results = {}

    # S^1 at beta = 9: about sqrt(2 beta) ~ 4 clusters form first, then merge slowly
    beta1 = 9.0
    t1 = np.linspace(0.0, 10.0 if small else 40.0, 201)
    traj1 = mf.solve_particles(mf.Attention(beta1), mf.sample_sphere(n, 2, 0), t1)
    plot_circle_trajectories(
        t1, traj1.x, out / "circle_tokens.png", title=f"{n} tokens on S^1, beta = {beta1:g}"
    )
    results["circle_clusters"] = find_clusters(traj1.x[-1], radius=0.05).count

    # S^2 at beta = 1: almost every start collapses to a single cluster
    beta2 = 1.0
    t2 = np.linspace(0.0, 15.0 if small else 30.0, 61)
    traj2 = mf.solve_particles(mf.Attention(beta2), mf.sample_sphere(n, 3, 1), t2)
    render_tokens(traj2.x[0], out / "sphere_tokens_start.png")
    render_tokens(traj2.x[-1], out / "sphere_tokens_end.png")
    E = [energy(x, beta2) for x in traj2.x]
    plot_series(t2, {"E_beta": E}, out / "sphere_energy.png", ylabel="interaction energy")
    results["sphere_clusters"] = find_clusters(traj2.x[-1], radius=0.05).count
    results["sphere_energy_start"] = E[0]
    results["sphere_energy_end"] = E[-1]
    for key, value in results.items():
        print(f"{key}: {value}")
    return results


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", action="store_true", help="a small, quick version (seconds)")
    parser.add_argument("--out", default="out/particle_clustering", help="output directory")
    args = parser.parse_args()
    main(small=args.small, out=args.out)
