r"""Long mean-field runs at beta = 9: near-uniform start, cluster formation, merging, collapse.

The density starts as a small seeded white-noise perturbation of the uniform measure
(:class:`meanfield.initial.WhiteNoise`, amplitude 0.05, degrees 1..8) and is advanced by
:func:`meanfield.solve_density` (SA, Q = K = V = I, upwind DG p = 1, SSP-RK3, Zhang–Shu limiter)
on S^1 (circle mesh) and S^2 (icosphere). Every ``every`` time units the script prints

    t, cluster count, cluster masses, E_beta, min rho (Density.min_value), relative mass drift,
    steps so far, CPU seconds so far (time.process_time, all threads)

and at the end a summary: time of cluster formation (first output where clusters hold >= 90%
of the mass), time of collapse (one cluster holding >= 90%), final count, max relative mass
drift, min density, largest relative energy decrease between outputs.

Clusters are merged on a time scale that grows like e^{beta(1 - cos theta)} with the gap theta,
so full collapse from the metastable state can lie far beyond an affordable PDE run. The script
therefore also integrates the *reduced model* from the last PDE state: each cluster becomes one
weighted point (centre, mass), the weighted-token ODE is integrated with DOP853 and clusters
closer than the cluster radius are merged (mass added, centre the weighted mean), until one is
left. That predicts the collapse time the PDE would need.

With ``--scheme lagrangian`` the same start is followed by the flow-map solver (quadrature
points and cell nodes moved along characteristics, RK4 at its default step): nothing is pinned,
so the run goes on through merging to the final collapse (defaults t_end = 1000 on S^1 and 200
on S^2); the rows also show the largest cell distortion and stretch, and min rho is the
smallest value at the moved quadrature points.

Run::

    python benchmarks/long_runs.py                 # S^1 and S^2 (about 15 CPU minutes)
    python benchmarks/long_runs.py --scheme lagrangian
    python benchmarks/long_runs.py --sphere s1 --t-end 400
    python benchmarks/long_runs.py --quick         # coarse meshes, short: under a minute
"""

from __future__ import annotations

import argparse
import time
from dataclasses import dataclass, field

import numpy as np

import meanfield as mf
from meanfield import initial
from meanfield.diagnostics import density_clusters, energy

#: Cluster detection (see meanfield.diagnostics.density_clusters): density above 4x uniform, chained
#: over 3 mesh resolutions, clusters lighter than 1% of the mass not counted.
CLUSTER_CELLS = 3.0


@dataclass
class LongRun:
    """Rows of a long run and its summary numbers."""

    label: str
    rows: list = field(default_factory=list)
    final: object = None  # last Density

    def summary(self, mass_fraction=0.9) -> dict:
        t = np.array([r["t"] for r in self.rows])
        held = np.array([sum(r["masses"]) for r in self.rows])
        count = np.array([r["clusters"] for r in self.rows])
        e = np.array([r["energy"] for r in self.rows])
        formed = np.flatnonzero(held >= mass_fraction)
        collapsed = np.flatnonzero((count == 1) & (held >= mass_fraction))
        rel_drop = np.maximum(0.0, (e[:-1] - e[1:]) / e[:-1])
        return {
            "t_formation": float(t[formed[0]]) if formed.size else None,
            "t_collapse": float(t[collapsed[0]]) if collapsed.size else None,
            "final_count": int(count[-1]),
            "t_end": float(t[-1]),
            "max_mass_drift": float(max(r["mass_drift"] for r in self.rows)),
            "min_density": float(min(r["min_rho"] for r in self.rows)),
            "max_energy_decrease": float(rel_drop.max()) if rel_drop.size else 0.0,
            "energy_gain": float(e[-1] / e[0]),
            "any_nan": bool(any(not np.isfinite(r["energy"]) for r in self.rows)),
            "steps": int(self.rows[-1]["steps"]),
            "cpu_s": float(self.rows[-1]["cpu_s"]),
        }


def long_run(rho0, beta, t_end, every, dt_max=0.1, label="", echo=True) -> LongRun:
    """Advance ``rho0`` to ``t_end`` in segments of length ``every``, recording diagnostics.

    Each segment is one :func:`meanfield.solve_density` call started from the previous
    segment's end state (already limited, so re-limiting it changes nothing).
    """
    model = mf.Attention(beta)
    run = LongRun(label)
    rho, m0, steps, cpu0 = rho0.limit(), rho0.integrate(), 0, time.process_time()
    times = np.arange(0.0, t_end + 0.5 * every, every)
    for k, t in enumerate(times):
        if k:
            sol = mf.solve_density(model, rho, [times[k - 1], t], dt_max=dt_max)
            rho, steps = sol.densities[-1], steps + sol.stats.steps
        cl = density_clusters(rho)
        row = {
            "t": float(t),
            "clusters": cl.count,
            "masses": [float(m) for m in cl.masses / m0],
            "centres": cl.centres,
            "energy": energy(rho, beta),
            "min_rho": rho.min_value(),
            "mass_drift": abs(rho.integrate() - m0) / m0,
            "steps": steps,
            "cpu_s": time.process_time() - cpu0,
        }
        run.rows.append(row)
        if echo:
            print(_format_row(row), flush=True)
    run.final = rho
    return run


def long_run_lagrangian(rho0, beta, t_end, every, dt=None, label="", echo=True) -> LongRun:
    """One Lagrangian :func:`meanfield.solve_density` run through all outputs, with the rows
    of :func:`long_run` plus ``distortion`` and ``stretch`` (largest over the cells)."""
    model = mf.Attention(beta)
    run = LongRun(label)
    m0, cpu0 = rho0.integrate(), time.process_time()
    times = np.arange(0.0, t_end + 0.5 * every, every)
    options = {} if dt is None else {"dt": dt}
    sol = mf.solve_density(model, rho0, times, scheme="lagrangian", **options)
    cpu = time.process_time() - cpu0
    for k, rho in enumerate(sol.densities):
        cl = density_clusters(rho)
        row = {
            "t": float(times[k]),
            "clusters": cl.count,
            "masses": [float(m) for m in cl.masses / m0],
            "centres": cl.centres,
            "energy": energy(rho, beta),
            "min_rho": float(rho.quadrature_values().min()),
            "mass_drift": abs(rho.integrate() - m0) / m0,
            "steps": int(round(sol.stats.steps * times[k] / max(times[-1], 1e-300))),
            "cpu_s": cpu * times[k] / max(times[-1], 1e-300),
            "distortion": float(sol.stats.max_distortion[k]),
            "stretch": float(sol.stats.max_stretch[k]),
            "finite": bool(
                np.all(np.isfinite(rho.state.points))
                and np.all(np.isfinite(rho.state.log_jacobian))
            ),  # fmt: skip
        }
        run.rows.append(row)
        if echo:
            print(_format_row(row) + f"  distortion {row['distortion']:.3g} stretch "
                  f"{row['stretch']:.3g}", flush=True)  # fmt: skip
    run.final = sol.densities[-1]
    return run


HEADER = (
    f"{'t':>7} {'clusters':>8} {'energy':>12} {'min rho':>10} {'mass drift':>10} "
    f"{'steps':>7} {'CPU s':>7}  cluster masses"
)


def _format_row(r):
    masses = " ".join(f"{m:.3f}" for m in r["masses"][:8]) + (
        " ..." if len(r["masses"]) > 8 else ""
    )
    return (
        f"{r['t']:7.1f} {r['clusters']:8d} {r['energy']:12.6f} {r['min_rho']:10.2e} "
        f"{r['mass_drift']:10.1e} {r['steps']:7d} {r['cpu_s']:7.1f}  {masses}"
    )


def reduced_collapse_time(centres, masses, beta, t0, merge_radius, t_max=1e9):
    r"""Collapse time of clusters seen as weighted tokens (SA, Q = K = V = I).

    :math:`\dot c_i = P_{c_i} \sum_j m_j e^{\beta\langle c_i,c_j\rangle} c_j / \sum_j m_j
    e^{\beta\langle c_i,c_j\rangle}`, integrated with DOP853 (rtol 1e-10); two clusters closer
    than ``merge_radius`` (geodesic) merge. Integration runs in log time so that merges at
    t ~ 10^6 cost no more than merges at t ~ 10.

    Returns
    -------
    list of (time, count)
        Every merge event, from ``(t0, len(masses))`` to the last merge (count 1), or up to
        ``t_max``.
    """
    from scipy.integrate import solve_ivp

    c, m = np.array(centres, float), np.array(masses, float)
    m = m / m.sum()
    model = mf.Attention(beta)
    events = [(float(t0), len(m))]
    t = float(t0)
    while len(m) > 1 and t < t_max:
        d = c.shape[1]

        def rhs(s, y, m=m, d=d):
            # s = log(1 + t - t0_seg): dt/ds = e^s
            x = y.reshape(-1, d)
            x = x / np.linalg.norm(x, axis=1, keepdims=True)
            return (np.exp(s) * model.velocity(x, x, m, method="direct")).ravel()

        def close(s, y, m=m, d=d):
            x = y.reshape(-1, d)
            x = x / np.linalg.norm(x, axis=1, keepdims=True)
            g = np.clip(x @ x.T, -1, 1)
            np.fill_diagonal(g, -1)
            return np.cos(merge_radius) - g.max()

        close.terminal = True
        s_max = np.log1p(t_max - t)
        sol = solve_ivp(rhs, (0.0, s_max), c.ravel(), "DOP853", events=close, rtol=1e-10,
                        atol=1e-12)  # fmt: skip
        x = sol.y[:, -1].reshape(-1, d)
        x /= np.linalg.norm(x, axis=1, keepdims=True)
        t = t + np.expm1(sol.t[-1])
        if sol.status != 1:
            break
        g = x @ x.T
        np.fill_diagonal(g, -2)
        i, j = np.unravel_index(np.argmax(g), g.shape)
        merged = m[i] * x[i] + m[j] * x[j]
        keep = [k for k in range(len(m)) if k not in (i, j)]
        c = np.vstack([x[keep], merged / np.linalg.norm(merged)])
        m = np.append(m[keep], m[i] + m[j])
        events.append((float(t), len(m)))
    return events


def _centre_drift(a, b):
    """Largest geodesic distance from a centre in ``a`` to the nearest centre in ``b``."""
    if len(a) == 0 or len(b) == 0:
        return float("nan")
    return float(np.arccos(np.clip(a @ b.T, -1, 1)).min(axis=1).max())


def print_summary(run: LongRun, beta, merge_radius):
    """Print the summary; with several clusters left, compare with the reduced model.

    The reduced model is started twice: from the first output where the final clusters hold
    90% of the mass (what the PDE should have done since) and from the last output (what it
    would still take).
    """
    s = run.summary()
    print(f"\nsummary {run.label}")
    for k, v in s.items():
        print(f"  {k:22s} {v}")
    rows, last = run.rows, run.rows[-1]
    if last["clusters"] <= 1:
        return s
    start = (
        next(r for r in rows if r["clusters"] == last["clusters"] and sum(r["masses"]) >= 0.9)
        if sum(last["masses"]) >= 0.9
        else last
    )
    s["centre_drift"] = _centre_drift(start["centres"], last["centres"])
    print(
        f"  cluster centres moved at most {s['centre_drift']:.3g} rad between t = "
        f"{start['t']:g} and t = {last['t']:g}"
    )
    for label, r in [("formation", start), ("last", last)]:
        events = reduced_collapse_time(r["centres"], r["masses"], beta, r["t"], merge_radius)
        s[f"reduced_from_{label}"] = events
        merges = ", ".join(f"{n} at t = {t:.4g}" for t, n in events[1:])
        print(f"  reduced model from the {label} state (t = {r['t']:g}): clusters {merges}")
    return s


CASES = {
    # label: (mesh factory (quick, size) -> SphereMesh, degree, d)
    "s1": (lambda q, n: mf.SphereMesh.circle(n or (64 if q else 128)), 1, 2),
    "s1p2": (lambda q, n: mf.SphereMesh.circle(n or (32 if q else 64)), 2, 2),
    "s2": (lambda q, n: mf.SphereMesh.icosphere(1 if q else (2 if n is None else n)), 1, 3),
}


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--sphere", choices=[*CASES, "all"], default="all")
    p.add_argument("--beta", type=float, default=9.0)
    p.add_argument("--t-end", type=float, default=None, help="default: s1 300, s2 60")
    p.add_argument("--every", type=float, default=None, help="output interval (default t_end/30)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--size", type=int, default=None, help="circle cells or icosphere level")
    p.add_argument("--quick", action="store_true")
    p.add_argument("--scheme", choices=["eulerian", "lagrangian"], default="eulerian")
    p.add_argument("--dt", type=float, default=None, help="Lagrangian RK4 step")
    args = p.parse_args(argv)
    names = list(CASES) if args.sphere == "all" else [args.sphere]
    out = {}
    for name in names:
        make, degree, d = CASES[name]
        mesh = make(args.quick, args.size)
        lag = args.scheme == "lagrangian"
        t_end = args.t_end or (30.0 if args.quick else {2: 300.0, 3: 60.0}[d])
        if lag and not (args.t_end or args.quick):
            t_end = {2: 1000.0, 3: 200.0}[d]
        every = args.every or t_end / 30
        rho0 = mf.DG(mesh, degree).interpolate(
            initial.WhiteNoise(d=d, amplitude=0.05, ell_max=8, seed=args.seed)
        )
        label = (
            f"{name}: {mesh!r}, p = {degree}, beta = {args.beta:g}, seed = {args.seed}, "
            f"{args.scheme}"
        )
        print(f"\n{label}\n{HEADER}")
        if lag:
            run = long_run_lagrangian(rho0, args.beta, t_end, every, args.dt, label=label)
        else:
            run = long_run(rho0, args.beta, t_end, every, label=label)
        out[name] = print_summary(run, args.beta, CLUSTER_CELLS * mesh.resolution)
    return out


if __name__ == "__main__":
    main()
