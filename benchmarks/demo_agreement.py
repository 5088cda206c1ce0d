r"""How many tokens the default demo needs for its clusters to match the density's.

The default run (``meanfield run``: icosphere 3, DG p = 1, beta = 9, white-noise start, t = 6)
is solved once for the density; then tokens sampled from the same initial density
(:meth:`Density.sample`, seeds 0, 1, ...) are advanced as the run advances them (RK4 at
``particles.dt``). At every output both measures get the run's one cluster rule
(:func:`meanfield.diagnostics.measure_clusters`) and the table prints, per token count and seed,
the token cluster counts and the largest :func:`meanfield.diagnostics.cluster_mass_gap` over
the outputs from the first at which the density's count reaches its final value (what the
run's summary line reports against :data:`meanfield.app.rundir.AGREEMENT_TOL`).

Measured on 2 shared cores (gap over t >= 3; the density has 4 clusters from t = 3):
1500 tokens 0.17 (7 clusters), 10 000: 0.048 / 0.019 / 0.028 (seeds 0-2), 20 000: 0.027 /
0.024 / 0.022 / 0.019 / 0.018 (seeds 0-4), 40 000: 0.023 (seed 0).

Run::

    python benchmarks/demo_agreement.py            # n = 1500, 10 000, 20 000, 40 000; 3 seeds
    python benchmarks/demo_agreement.py --quick    # n = 1500 and 20 000, seed 0 (a few minutes)
"""

from __future__ import annotations

import argparse
import time

from meanfield.app.builders import cluster_radius, density_options, particle_options
from meanfield.app.config import load_config
from meanfield.app.run import prepare
from meanfield.app.rundir import agreement
from meanfield.diagnostics import cluster_mass_gap, measure_clusters
from meanfield.solve import solve_density, solve_particles


def _rule(cfg, setup):
    o = cfg["output"]
    return {"radius": cluster_radius(cfg, setup.space), "level": o["cluster_level"],
            "min_mass": o["cluster_min_mass"]}  # fmt: skip


def density_clusters(cfg):
    """The default run's density at its output times and its clusters there."""
    setup = prepare(cfg)
    sol = solve_density(setup.model, setup.rho0, setup.times, **density_options(cfg))
    rule = _rule(cfg, setup)
    return setup, [measure_clusters(rho, **rule) for rho in sol.densities]


def token_row(cfg, setup, pde, n, seed):
    """Counts and gaps of n tokens (seed) against the density's clusters ``pde``."""
    x0 = setup.rho0.sample(n, seed)  # as the run samples particles.n tokens with its seed
    cpu = time.process_time()
    traj = solve_particles(setup.model, x0, setup.times, **particle_options(cfg))
    cpu = time.process_time() - cpu
    rule = _rule(cfg, setup)
    found = [measure_clusters(x, **rule) for x in traj.x]
    series = {
        "clusters": [c.count for c in pde],
        "particle_clusters": [c.count for c in found],
        "cluster_mass_gap": [
            cluster_mass_gap(a, b, rule["radius"]) for a, b in zip(pde, found, strict=True)
        ],
    }
    return agreement(list(setup.times), series), series, cpu


def main(ns=(1500, 10_000, 20_000, 40_000), seeds=(0, 1, 2)):
    cfg = load_config()
    setup, pde = density_clusters(cfg)
    print(f"density: clusters {[c.count for c in pde]} at t = {setup.times.tolist()}")
    print("| tokens | seed | token clusters per output | from t | counts agree | max gap | CPU s |")
    print("|---|---|---|---|---|---|---|")
    for n in ns:
        for seed in seeds:
            a, s, cpu = token_row(cfg, setup, pde, n, seed)
            row = [n, seed, s["particle_clusters"], f"{a['from_t']:g}", a["counts_agree"],
                   f"{a['max_mass_gap']:.3f}", f"{cpu:.1f}"]  # fmt: skip
            print("| " + " | ".join(str(v) for v in row) + " |", flush=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="n = 1500 and 20 000, seed 0")
    args = parser.parse_args()
    if args.quick:
        main(ns=(1500, 20_000), seeds=(0,))
    else:
        main()
