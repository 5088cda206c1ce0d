r"""Eulerian and Lagrangian densities before pinning: agreement and errors under refinement.

The same smooth start (a seeded 5% white-noise perturbation of the uniform density, degrees
1..8) is run to ``t_end`` at beta = 4 on S^1 by both density schemes of
:func:`meanfield.solve_density` (p = 1): the Eulerian upwind DG on a fixed mesh of n cells and
the Lagrangian flow map of the same initial DG density. The reference is the Lagrangian run
on the finest mesh ``4 * n_max`` cells with p = 2. Every density is compared on the n-cell
mesh by its cell means (the Lagrangian ones through the mass-conservative deposit
:meth:`FlowMapDensity.project`, which puts exactly the mass of the moved cells into the fixed
cells): :math:`\sum_K |\bar\rho_K - \bar\rho^{ref}_K|\,|K|` (L1 of the projected cell means,
relative to the mass). Printed per n: the Eulerian error, the Lagrangian error, their
difference, and the fitted rates in h.

Run::

    python benchmarks/lagrangian_vs_eulerian.py          # n = 32..256, t_end = 3
    python benchmarks/lagrangian_vs_eulerian.py --small  # n = 16..64
"""

from __future__ import annotations

import argparse

import numpy as np

import meanfield as mf
from meanfield import initial


def _l1(a, b, mesh):
    return float(np.sum(np.abs(a.cell_means() - b.cell_means()) * mesh.areas) / b.integrate())


def compare(ns, t_end=3.0, beta=4.0, degree=1, seed=0):
    """Rows {n, eulerian, lagrangian, difference} and the fitted rates in h."""
    f0 = initial.WhiteNoise(d=2, amplitude=0.05, ell_max=8, seed=seed)
    model = mf.Attention(beta)
    t = [0.0, t_end]
    fine = mf.DG(mf.SphereMesh.circle(4 * max(ns)), 2).interpolate(f0)
    ref = mf.solve_density(model, fine, t, scheme="lagrangian", dt=0.01).densities[-1]
    rows = []
    for n in ns:
        space = mf.DG(mf.SphereMesh.circle(n), degree)
        rho0 = space.interpolate(f0)
        eul = mf.solve_density(model, rho0, t, dt_max=0.01).densities[-1]
        lag = mf.solve_density(model, rho0, t, scheme="lagrangian", dt=0.01).densities[-1]
        r = ref.project(space, limit=False)
        lag_fixed = lag.project(space, limit=False)
        rows.append({
            "n": n,
            "eulerian": _l1(eul, r, space.mesh),
            "lagrangian": _l1(lag_fixed, r, space.mesh),
            "difference": _l1(lag_fixed, eul, space.mesh),
        })  # fmt: skip
    h = 2 * np.pi / np.array(ns, float)
    rates = {
        k: float(np.polyfit(np.log(h), np.log([r[k] for r in rows]), 1)[0])
        for k in ("eulerian", "lagrangian")
    }
    return rows, rates


def main(small=False, argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--small", action="store_true")
    p.add_argument("--t-end", type=float, default=3.0)
    args = p.parse_args(argv if argv is not None else [])
    small = small or args.small
    ns = (16, 32, 64) if small else (32, 64, 128, 256)
    rows, rates = compare(ns, t_end=args.t_end)
    print(f"{'cells':>6} {'Eulerian L1':>12} {'Lagrangian L1':>14} {'|E - L| L1':>11}")
    for r in rows:
        print(f"{r['n']:6d} {r['eulerian']:12.3e} {r['lagrangian']:14.3e} {r['difference']:11.3e}")
    print(
        f"fitted rates in h: Eulerian {rates['eulerian']:.2f}, Lagrangian {rates['lagrangian']:.2f}"
    )
    return rows, rates


if __name__ == "__main__":
    import sys

    main(argv=sys.argv[1:])
