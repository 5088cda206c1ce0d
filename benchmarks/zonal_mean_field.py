r"""Mean-field limit in R^d (issue 15): tokens sampled from a zonal density against the zonal PDE.

For d = 8 and d = 128, n tokens drawn from a two-cap zonal density (SA, beta = 4) are run with
the token solver (RK4, direct field in R^d) and compared with the zonal PDE (200 cells, p = 2)
by the exact W1 of the laws of s = x_d at t = 0, 1, 2 (see
:func:`meanfield.studies.zonal.zonal_token_run`). Prints, per (d, t, n), the number of seeds,
the mean W1 with its standard error and W1 sqrt(n), the slopes fitted to log mean W1 against
log n with their bootstrap standard errors, and three checks of what else could move the
slope: the PDE's own error (200 against 400 cells), the token time step (W1 between runs at dt
and dt / 2, an upper bound on its effect on every distance by the triangle inequality) and the
t = 0 distance against its exact expectation (binomial; the pure-sampling reference).

Runs are scheduled round-robin over seeds (pass k runs seed k for every (d, n) that asks for
more than k seeds, small n first), each appended to a JSON-lines log as it finishes, so a run
cut short still has balanced seeds, and running again with the same ``--log`` continues it.

    OMP_NUM_THREADS=1 nice python benchmarks/zonal_mean_field.py --log zonal_mf.jsonl
    python benchmarks/zonal_mean_field.py --log zonal_mf.jsonl --summary   # table only
    python benchmarks/zonal_mean_field.py --quick                          # ~10 s
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np

from meanfield.compare import polar_wasserstein
from meanfield.solve import solve_particles
from meanfield.studies.mean_field import fit_slope
from meanfield.studies.zonal import (
    expected_sampling_distance,
    summarize_zonal_mean_field,
    zonal_mean_field_setup,
    zonal_mean_field_table,
    zonal_token_run,
)

#: Seeds per n, per d (the cost of a run grows like n^2 d; more seeds where it is cheap).
SEEDS = {
    8: {250: 32, 500: 32, 1000: 32, 2000: 32, 4000: 16, 8000: 16, 16000: 16},
    128: {250: 24, 500: 24, 1000: 24, 2000: 16, 4000: 8, 8000: 6, 16000: 6},
}
#: RK4 step per d (its effect on W1 is printed by the time-step check).
DT = {8: 0.25, 128: 0.5}
QUICK = {8: {250: 8, 500: 8, 1000: 8}}


def schedule(seeds):
    """(d, n, seed) in round-robin order over seeds, small n first within a pass."""
    depth = max(c for per_n in seeds.values() for c in per_n.values())
    return [
        (d, n, k)
        for k in range(depth)
        for n in sorted({n for per_n in seeds.values() for n in per_n})
        for d in sorted(seeds)
        if seeds[d].get(n, 0) > k
    ]


def read_log(path):
    try:
        with open(path) as f:
            return [json.loads(line) for line in f if line.strip()]
    except FileNotFoundError:
        return []


def checks(setups, dt, n_dt=4000):
    """PDE resolution, time step and t = 0 expectation (printed)."""
    for d, setup in setups.items():
        fine = zonal_mean_field_setup(d, setup["times"][1:], cells=400)
        for k, t in enumerate(setup["times"][1:], start=1):
            dist = polar_wasserstein(setup["pde"][k], fine["pde"][k])
            print(f"d = {d}, t = {t:g}: W1(PDE 200 cells, 400 cells) = {dist:.2e}", flush=True)
        x0 = setup["rho0"].sample(n_dt, np.random.default_rng([0, n_dt]))
        runs = [
            solve_particles(setup["model"], x0, setup["times"], dt=h, method="rk4",
                            field="direct", workers=1)
            for h in (dt[d], dt[d] / 2)
        ]  # fmt: skip
        for k, t in enumerate(setup["times"][1:], start=1):
            step = polar_wasserstein(runs[0].x[k], runs[1].x[k])
            pde = polar_wasserstein(runs[1].x[k], setup["pde"][k])
            print(
                f"d = {d}, t = {t:g}, n = {n_dt}: W1(tokens dt = {dt[d]:g}, dt/2) = "
                f"{step:.2e} (their W1 to the PDE {pde:.2e})",
                flush=True,
            )


def local_slopes(summary):
    """Slopes of the control-variate means between consecutive n (does it tend to -1/2?)."""
    for d, t in sorted({(r["d"], r["t"]) for r in summary["table"] if r["t"] != 0.0}):
        rs = [r for r in summary["table"] if (r["d"], r["t"]) == (d, t)]
        pairs = zip(rs[:-1], rs[1:], strict=False)
        local = [np.log(b["cv_mean"] / a["cv_mean"]) / np.log(b["n"] / a["n"]) for a, b in pairs]
        print(f"d = {d}, t = {t:g}: local slopes " + " ".join(f"{x:+.3f}" for x in local))


def sampling_reference(expected, summary):
    """Mean W1 at t = 0 against its exact expectation, and the exact t = 0 slope."""
    for d in sorted({d for d, _ in expected}):
        ns = sorted(n for dd, n in expected if dd == d)
        if len(ns) > 1:
            slope = fit_slope(ns, [expected[(d, n)] for n in ns])
            print(f"d = {d}: exact mean t = 0 W1 falls like n^{slope:.4f} over n = {ns}")
    for r in summary["table"]:
        if r["t"] == 0.0:
            exact = expected[(r["d"], r["n"])]
            z = (r["mean"] - exact) / r["se"]
            print(f"d = {r['d']:>3}, n = {r['n']:>5}: t = 0 mean W1 {r['mean']:.4e}, exact "
                  f"{exact:.4e} ({z:+.1f} s.e.)")  # fmt: skip


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--log", default="zonal_mean_field.jsonl")
    parser.add_argument("--summary", action="store_true", help="summarise the log, run nothing")
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--checks", action="store_true", help="also run the three checks")
    parser.add_argument("--bootstrap", type=int, default=2000)
    parser.add_argument("--workers", type=int, default=1, help="threads of the direct field")
    args = parser.parse_args(argv)
    seeds = QUICK if args.quick else SEEDS
    times = () if args.summary else (1.0, 2.0)  # the summary needs only rho0
    setups = {d: zonal_mean_field_setup(d, times) for d in seeds}
    rows = read_log(args.log)
    done = {(r["d"], r["n"], r["seed"]) for r in rows}
    if not args.summary:
        if args.checks:
            checks(setups, DT)
        for d, n, seed in schedule(seeds):
            if (d, n, seed) in done:
                continue
            start = time.perf_counter()
            new = zonal_token_run(setups[d], n, seed, DT[d], workers=args.workers)
            with open(args.log, "a") as f:
                f.writelines(json.dumps(r) + "\n" for r in new)
            rows += new
            print(f"d = {d} n = {n} seed = {seed}: "
                  + " ".join(f"{r['distance']:.3e}" for r in new)
                  + f" ({time.perf_counter() - start:.1f} s)", flush=True)  # fmt: skip
    expected = {
        (d, n): expected_sampling_distance(setups[d]["rho0"], n)
        for d, n in {(r["d"], r["n"]) for r in rows}
    }
    summary = summarize_zonal_mean_field(rows, args.bootstrap, 0, expected)
    print(zonal_mean_field_table(summary))
    local_slopes(summary)
    sampling_reference(expected, summary)
    return summary


if __name__ == "__main__":
    main()
