"""Convergence study of the DG transport solver on flows with exact solutions.

Cases (smooth data; relative L1/L2 errors at the final time, rates fitted with np.polyfit on
log(error) against log(resolution), resolution = sqrt(4 pi / n_cells) on S^2, 2 pi / n on S^1):

- ``s1``: rotation on S^1, one revolution, von Mises profile exp(2 (x_1 - 1)).
- ``s2``: solid-body rotation on S^2 about (1, 0, 1)/sqrt 2, one revolution, Gaussian hills.
- ``nl``: Nair–Lauritzen case 4 (deformation + zonal wind, T = 5), Gaussian hills.
- ``p0``: p = 0 on short runs (rotation by pi/4, Nair–Lauritzen case 1 with T = 1), where first
  order is in its asymptotic range on affordable meshes.

Also printed: relative mass drift over the run, the smallest value at the scheme's points,
steps, rejected steps and wall time. This is the full-size counterpart of the small rates pinned
in tests/test_transport.py.

    python benchmarks/transport_convergence.py            # everything (long: ~1 h on 1 core)
    python benchmarks/transport_convergence.py s1 s2      # some cases
    python benchmarks/transport_convergence.py --small    # the small versions the tests pin
"""

from __future__ import annotations

import sys
import time

import numpy as np

import meanfield as mf
from meanfield.eulerian.flows import ReversingDeformation, SolidBodyRotation, gaussian_hills


def von_mises(x):
    return np.exp(2.0 * (x[:, 0] - 1.0))


def run(mesh, degree, flow, f0, t_end, exact, cfl=mf.solve.DEFAULT_CFL):
    """One solve; returns the row of the table."""
    space = mf.DG(mesh, degree)
    start = time.perf_counter()
    sol = mf.solve_density(flow, space.interpolate(f0), [0.0, t_end], cfl=cfl)
    wall = time.perf_counter() - start
    err = sol[-1].errors(exact)
    drift = float(np.max(np.abs(sol.mass - sol.mass[0])) / sol.mass[0])
    return {
        "h": mesh.resolution,
        "cells": mesh.n_cells,
        "l1": err["l1"],
        "l2": err["l2"],
        "drift": drift,
        "min": min(d.min_value() for d in sol.densities),
        "steps": sol.stats.steps,
        "rejected": sol.stats.rejected,
        "wall": wall,
    }


def rate(rows, key):
    h = np.log([r["h"] for r in rows])
    return float(np.polyfit(h, np.log([r[key] for r in rows]), 1)[0])


def study(name, meshes_by_degree, flow, f0, t_end, exact, cfl=mf.solve.DEFAULT_CFL):
    """Run every degree on its meshes, print the table, return {degree: (rows, r1, r2)}."""
    out = {}
    print(f"\n== {name} (t_end = {t_end:.4g}, cfl = {cfl}) ==")
    print(f"{'p':>2} {'cells':>7} {'h':>8} {'L1':>10} {'L2':>10} {'mass drift':>11} "
          f"{'min':>10} {'steps':>6} {'rej':>4} {'wall s':>7}")  # fmt: skip
    for p, meshes in meshes_by_degree.items():
        rows = []
        for mesh in meshes:
            r = run(mesh, p, flow, f0, t_end, exact, cfl)
            rows.append(r)
            print(f"{p:>2} {r['cells']:>7} {r['h']:8.4f} {r['l1']:10.3e} {r['l2']:10.3e} "
                  f"{r['drift']:11.2e} {r['min']:10.2e} {r['steps']:>6} {r['rejected']:>4} "
                  f"{r['wall']:7.1f}", flush=True)  # fmt: skip
        r1, r2 = rate(rows, "l1"), rate(rows, "l2")
        print(f"   p = {p}: fitted rate L1 {r1:.2f}, L2 {r2:.2f} (target >= "
              f"{0.8 if p == 0 else p + 0.7:.1f})", flush=True)  # fmt: skip
        out[p] = (rows, r1, r2)
    return out


def icospheres(levels):
    return [mf.SphereMesh.icosphere(k) for k in levels]


def circles(ns):
    return [mf.SphereMesh.circle(n) for n in ns]


def case_s1(small=False):
    flow = SolidBodyRotation()
    t_end = np.pi / 2 if small else 2 * np.pi
    meshes = (
        {0: circles([80, 160, 320]), 1: circles([10, 20, 40]), 2: circles([10, 20, 40])}
        if small
        else {
            0: circles([160, 320, 640, 1280]),
            1: circles([20, 40, 80, 160]),
            2: circles([20, 40, 80, 160]),
        }  # fmt: skip
    )
    return study("rotation on S^1", meshes, flow, von_mises, t_end, flow.exact(von_mises, t_end))


def case_s2(small=False):
    flow = SolidBodyRotation([1.0, 0.0, 1.0])
    t_end = np.pi / 4 if small else 2 * np.pi
    meshes = (
        {0: icospheres([2, 3, 4]), 1: icospheres([1, 2, 3]), 2: icospheres([1, 2, 3])}
        if small
        else {
            0: icospheres([3, 4, 5, 6]),
            1: icospheres([2, 3, 4]),
            2: icospheres([2, 3, 4]),
        }  # fmt: skip
    )
    exact = flow.exact(gaussian_hills, t_end)
    return study("solid-body rotation on S^2", meshes, flow, gaussian_hills, t_end, exact)


def case_nl(small=False):
    period = 1.0 if small else 5.0
    flow = ReversingDeformation(case=4, period=period)
    meshes = (
        {0: icospheres([2, 3, 4]), 1: icospheres([1, 2, 3]), 2: icospheres([1, 2, 3])}
        if small
        else {0: icospheres([3, 4, 5, 6]), 1: icospheres([3, 4, 5]), 2: icospheres([3, 4, 5])}
    )
    return study(
        f"Nair-Lauritzen case 4 (T = {period:g})", meshes, flow, gaussian_hills, period,
        gaussian_hills,
    )  # fmt: skip


def case_p0(small=False):
    """First order in its asymptotic range: short runs on fine meshes (p = 0 only).

    Over one revolution (``s2``) or the full Nair-Lauritzen period (``nl``) the upwind scheme's
    numerical diffusion h |u| t is still comparable to the hills' width at 82k cells, so those
    rates are pre-asymptotic; here t |u| is short enough for the h^1 regime.
    """
    levels = [2, 3, 4] if small else [3, 4, 5, 6]
    rot = SolidBodyRotation([1.0, 0.0, 1.0])
    t_rot = np.pi / 4
    nl = ReversingDeformation(case=1, period=1.0)
    return {
        "rotation": study("p = 0, rotation by pi/4", {0: icospheres(levels)}, rot,
                          gaussian_hills, t_rot, rot.exact(gaussian_hills, t_rot)),
        "nl1": study("p = 0, Nair-Lauritzen case 1 (T = 1)", {0: icospheres(levels)}, nl,
                     gaussian_hills, 1.0, gaussian_hills),
    }  # fmt: skip


CASES = {"s1": case_s1, "s2": case_s2, "nl": case_nl, "p0": case_p0}


def main(argv=None):
    args = sys.argv[1:] if argv is None else argv
    small = "--small" in args
    names = [a for a in args if not a.startswith("--")] or list(CASES)
    return {name: CASES[name](small) for name in names}


if __name__ == "__main__":
    main()
