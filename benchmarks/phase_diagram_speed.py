"""The phase-diagram workload: default token solver against an Euler loop, at equal accuracy.

Workload (the authors' phase diagram, Geshkovski et al.): n = 32 tokens, 256 uniformly random
starts advanced together, SA with Q = K = V = I, output at 200 times in [0, 30], for
beta in {1, 4, 9} on S^1 and S^2. Compared, in CPU seconds (``time.process_time``: the machine
is shared; the load average is printed):

- ``euler``: the loop as the authors write it: ``x += dt * v(x); x /= |x|`` with their
  dt = 0.1, the field of all starts by one batched softmax (NumPy). The authors record the
  state at the first step past each checkpoint; here the step before a checkpoint is shortened
  to land on it, which only helps Euler's accuracy.
- ``euler @ equal accuracy``: the same loop with dt halved until both of its errors are at most
  the default's (at most 5 halvings; a ">" ratio means Euler had not got there).
- ``default``: ``meanfield.solve_particles(model, x0, t)`` with every default (adaptive
  Dormand–Prince 5(4), rtol/atol defaults, each start on its own steps, dense output).
- ``rk4 dt=1``: fixed RK4, dt = 1 (shortened to the checkpoints: 0.15).
- ``euler 0.1 contiguous``: the authors' loop with one change, a contiguous transposed copy
  for the (n, n) product (NumPy's stacked ``x @ x.transpose(0, 2, 1)`` misses the BLAS path):
  what the same loop costs written with that care.

Errors against SciPy's DOP853 at rtol 1e-12: ``pos`` the largest position error over tokens,
starts and outputs; ``frac`` the largest error of the diagram's observable, the fraction of
token pairs with <x_i, x_j> > 0.999, over outputs.

    python benchmarks/phase_diagram_speed.py            # d = 2, 3; beta = 1, 4, 9 (minutes)
    python benchmarks/phase_diagram_speed.py --quick    # 32 starts, t to 10, beta = 4
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np

import meanfield as mf

LEVEL = 0.999
#: Runs of the default and of the two Euler loops at dt = 0.1; the least CPU time is kept.
REPEAT = 3


def euler_loop(x0, beta, t_out, dt, contiguous=False):
    """The authors' loop: forward Euler on the ambient softmax field, then normalise.

    ``contiguous=True`` hands the (n, n) product a contiguous transposed copy: NumPy's stacked
    ``x @ x.transpose(0, 2, 1)`` does not take the BLAS path and is several times slower.
    """
    x = x0.copy()
    out = [x.copy()]
    t = float(t_out[0])
    for t_next in t_out[1:]:
        while t < t_next - 1e-12:
            h = min(dt, t_next - t)
            xt = np.ascontiguousarray(x.transpose(0, 2, 1)) if contiguous else x.transpose(0, 2, 1)
            logits = beta * (x @ xt)
            logits -= logits.max(axis=2, keepdims=True)
            a = np.exp(logits)
            a /= a.sum(axis=2, keepdims=True)
            F = a @ x
            v = F - x * np.sum(x * F, axis=2, keepdims=True)
            x = x + h * v
            x /= np.linalg.norm(x, axis=2, keepdims=True)
            t += h
        out.append(x.copy())
    return np.stack(out)


def fraction(x):
    """Fraction of distinct token pairs with <x_i, x_j> > LEVEL, averaged over starts."""
    n = x.shape[-2]
    ip = x @ np.swapaxes(x, -1, -2)
    return ((ip > LEVEL).sum(axis=(-2, -1)) - n).mean(axis=-1) / (n * (n - 1))


def errors(x, ref):
    return float(np.abs(x - ref).max()), float(np.abs(fraction(x) - fraction(ref)).max())


def cpu(fn, repeat=1):
    """The result of ``fn()`` and its CPU seconds, the least of ``repeat`` runs."""
    best = np.inf
    for _ in range(repeat):
        start = time.process_time()
        out = fn()
        best = min(best, time.process_time() - start)
    return out, best


def case(d, beta, starts, t_out, seed=0):
    rng = np.random.default_rng([seed, d, int(beta)])
    x0 = np.stack([mf.sample_sphere(32, d, rng) for _ in range(starts)])
    model = mf.Attention(beta)
    ref = mf.solve_particles(model, x0, t_out, method="dop853", field="direct").x
    traj, t_def = cpu(lambda: mf.solve_particles(model, x0, t_out), REPEAT)
    e_def = errors(traj.x, ref)
    xe, t_eu = cpu(lambda: euler_loop(x0, beta, t_out, 0.1), REPEAT)
    e_eu = errors(xe, ref)
    dt, t_eq, e_eq = 0.1, t_eu, e_eu
    for _ in range(5):
        if e_eq[0] <= e_def[0] and e_eq[1] <= e_def[1]:
            break
        dt /= 2
        xq, t_eq = cpu(lambda dt=dt: euler_loop(x0, beta, t_out, dt))
        e_eq = errors(xq, ref)
    reached = e_eq[0] <= e_def[0] and e_eq[1] <= e_def[1]
    r4, t_r4 = cpu(lambda: mf.solve_particles(model, x0, t_out, dt=1.0, method="rk4"))
    xc, t_ec = cpu(lambda: euler_loop(x0, beta, t_out, 0.1, contiguous=True), REPEAT)
    return {
        "euler contiguous": (t_ec, *errors(xc, ref)),
        "default": (t_def, *e_def, traj.stats),
        "euler": (t_eu, *e_eu),
        "equal": (dt, t_eq, *e_eq, reached),
        "rk4": (t_r4, *errors(r4.x, ref)),
    }


def main(quick=False):
    starts, t_out = (32, np.linspace(0, 10, 67)) if quick else (256, np.linspace(0, 30, 200))
    cases = [(2, 4.0)] if quick else [(d, b) for d in (2, 3) for b in (1.0, 4.0, 9.0)]
    print(f"load average {os.getloadavg()[0]:.2f} ({os.cpu_count()} CPUs); n = 32, "
          f"{starts} starts, {len(t_out)} outputs to t = {t_out[-1]:g}; CPU seconds")  # fmt: skip
    head = f"{'d':>2} {'beta':>4} | {'scheme':<22} {'cpu s':>7} {'pos err':>8} {'frac err':>8}"
    print(head + f" {'euler0.1/this':>13}")
    rows = []
    for d, beta in cases:
        r = case(d, beta, starts, t_out)
        t_eu = r["euler"][0]
        t_def, pe, fe, st = r["default"]
        dt, t_eq, pq, fq, reached = r["equal"]
        lines = [
            ("euler dt=0.1 (authors)", t_eu, r["euler"][1], r["euler"][2]),
            ("euler 0.1 contiguous", *r["euler contiguous"]),
            (f"euler dt={dt:g} (equal)", t_eq, pq, fq),
            ("default (dopri5)", t_def, pe, fe),
            ("rk4 dt=1", *r["rk4"]),
        ]
        for name, t, p, f in lines:
            print(f"{d:>2} {beta:>4g} | {name:<22} {t:>7.3f} {p:>8.1e} {f:>8.4f} {t_eu / t:>13.2f}")
        sign = "" if reached else ">"
        t_ec = r["euler contiguous"][0]
        print(f"{'':>8} default: {st.steps} system-steps, {st.rejected} rejected, {st.nfev} "
              f"calls; {t_eu / t_def:.2f}x the authors' Euler, {t_ec / t_def:.2f}x the "
              f"contiguous one, {sign}{t_eq / t_def:.1f}x Euler at equal accuracy")  # fmt: skip
        rows.append((d, beta, t_eu / t_def, t_eq / t_def, reached, pe, fe, r["euler"][1:]))
    return rows


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="32 starts, t to 10, beta = 4")
    main(parser.parse_args().quick)
