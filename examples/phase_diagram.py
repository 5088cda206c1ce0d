r"""Phase diagram of clustering: the fraction of token pairs together, over the (t, β) plane.

For n = 32 tokens from uniformly random starts on :math:`S^{d-1}` (SA, Q = K = V = I), the
fraction of pairs with :math:`\langle x_i, x_j\rangle > 0.999`, averaged over many starts, is
computed on a (β, t) grid for d in {2, 3, 8, 32} (more with ``--extra-d``). Every (β, d) is one
grid point of a :func:`meanfield.sweep` (one batched ensemble run each), so the diagram runs on
any Dask cluster and resumes if interrupted.

Overlaid: the equiangular curve. If all pairwise cosines equal c, they stay equal, and
(from the SA field of two groups with :math:`Z = e^\beta + (n-1)e^{\beta c}`)

.. math::
    \dot c = 2\langle \dot x_i, x_k\rangle
           = \frac{2 e^{\beta c}(1-c)(1+(n-1)c)}{e^\beta + (n-1)e^{\beta c}}
           = \frac{2(1-c)(1+(n-1)c)}{e^{\beta(1-c)} + n - 1},

the last form free of overflow. The curve is the time at which c(t), started from c(0) = 0 (the
typical cosine of random starts in high dimension), first exceeds 0.999:

.. math::
    t_*(\beta) = \int_{c_0}^{0.999} \frac{dc}{\dot c}
      = e^{\beta(1-c_0)} \int_{c_0}^{0.999}
        \frac{e^{-\beta(c-c_0)}\,dc}{2(1-c)(1+(n-1)c)}
      + \frac{n-1}{2n}\Big[\log\frac{1+(n-1)c}{1-c}\Big]_{c_0}^{0.999}.

    python examples/phase_diagram.py [--small] [--extra-d 64 128] [--scheduler ADDRESS]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
from scipy.integrate import quad, solve_ivp

import meanfield as mf
from meanfield.app.sweep import read_results, time_series

LEVEL = 0.999  # "together": cosine above this


def equiangular_rhs(c, beta, n):
    r""":math:`\dot c` of n equiangular tokens (SA, Q = K = V = I), overflow-free form."""
    c = np.asarray(c, dtype=float)
    with np.errstate(over="ignore"):  # e^{beta(1-c)} = inf gives the right limit 0
        return 2.0 * (1.0 - c) * (1.0 + (n - 1) * c) / (np.exp(beta * (1.0 - c)) + n - 1)


def equiangular_cosine(t, beta, n, c0=0.0):
    """Common cosine c(t) of n equiangular tokens from c(0) = c0, DOP853 at tight tolerance."""
    t = np.asarray(t, dtype=float)
    sol = solve_ivp(
        lambda _, c: equiangular_rhs(c, beta, n),
        (t[0], t[-1]),
        [c0],
        method="DOP853",
        t_eval=t,
        rtol=1e-12,
        atol=1e-14,
    )
    return sol.y[0]


def equiangular_time(beta, n, level=LEVEL, c0=0.0):
    """First time the common cosine reaches ``level`` from ``c0`` (c increases monotonically).

    Returns ``inf`` once the time exceeds the float range (beta of several hundred).
    """
    if not -1.0 / (n - 1) < c0 < level < 1.0:
        raise ValueError(f"need -1/(n-1) < c0 < level < 1, got c0 = {c0}, level = {level}")

    def weight(c):
        return np.exp(-beta * (c - c0)) / (2.0 * (1.0 - c) * (1.0 + (n - 1) * c))

    # the integrand decays on the scale 1/beta: tell quad where
    breaks = [c0 + k / beta for k in (1.0, 4.0, 16.0) if beta > 0 and c0 + k / beta < level]
    peaked, _ = quad(weight, c0, level, points=breaks or None, limit=200, epsabs=0, epsrel=1e-11)

    def log_ratio(c):
        return np.log((1.0 + (n - 1) * c) / (1.0 - c))

    with np.errstate(over="ignore"):
        scale = np.exp(beta * (1.0 - c0))
    return float(scale * peaked + (n - 1) / (2.0 * n) * (log_ratio(level) - log_ratio(c0)))


def grid(small: bool):
    """The (d, beta, t) grid and ensemble size."""
    if small:
        return {
            "d": [2, 3],
            "beta": [0.0, 1.0, 4.0],
            "t": {"start": 0.0, "stop": 10.0, "num": 11},
            "starts": 8,
        }
    return {
        "d": [2, 3, 8, 32],
        "beta": [float(b) for b in np.linspace(0.0, 8.0, 17)],
        "t": {"start": 0.0, "stop": 40.0, "num": 81},
        "starts": 128,
    }


def sweep_spec(small: bool, extra_d=()) -> dict:
    """The sweep behind the figure: one batched ensemble per (d, beta)."""
    g = grid(small)
    return {
        "task": "particles",
        "base": {
            "particles.n": 32,
            "starts": g["starts"],
            "particles.seed": 0,
            "t": g["t"],
            "metrics": ["fraction_above"],
            "threshold": LEVEL,
            # 4x the automatic RK4 step: on 64 starts at beta = 1 and 8, d = 2 and 32, the
            # fractions agree with the 1x step to 4 digits at every output time
            "dt_scale": 4.0,
        },
        "grid": {"d": g["d"] + [int(d) for d in extra_d], "model.beta": g["beta"]},
    }


def collect(rows, keys, ds, betas):
    """Fractions as an array (d, beta, t) from the sweep rows, NaN for failed points."""
    by = {(r["d"], r["model.beta"]): r for r in rows if r["key"] in keys}
    series = {
        (i, j): time_series(by[(d, b)], "fraction_above")
        for i, d in enumerate(ds)
        for j, b in enumerate(betas)
        if by[(d, b)]["status"] == "ok"
    }
    if not series:
        raise RuntimeError("every grid point of the phase diagram failed")
    t = next(iter(series.values()))[0]
    frac = np.full((len(ds), len(betas), t.size), np.nan)
    for (i, j), (_, f) in series.items():
        frac[i, j] = f
    return t, frac


def plot(t, betas, ds, frac, n, path):
    """One panel per d (t on x, beta on y, as the authors draw it), the equiangular-start
    curve dashed in each, one colour bar; a page wide."""
    fine = np.linspace(betas[0], betas[-1], 400)
    curve = np.array([equiangular_time(b, n) for b in fine])
    fig = mf.plot.figure(mf.plot.PAGE, height=2.3)
    axes = fig.subplots(1, len(ds), sharey=True, squeeze=False)[0]
    for k, (ax, d, f) in enumerate(zip(axes, ds, frac, strict=True)):
        table = {"t": t, "beta": np.asarray(betas, float), "fraction": f}
        mf.plot.phase_diagram(table, ax=ax, boundary=(fine, curve), colorbar=False,
                              title=f"$d = {d}$")  # fmt: skip
        if k:
            ax.set_ylabel("")
            ax.get_legend().remove()
    bar = fig.colorbar(axes[0].collections[0], ax=list(axes), pad=0.01)
    bar.set_label(rf"pairs with $\langle x_i, x_j\rangle > {LEVEL}$")
    fig.suptitle(f"$n = {n}$ tokens, SA, $Q = K = V = I$")
    mf.plot.save(fig, path)


def main(
    small: bool = False,
    out: str | Path = "out/phase_diagram",
    extra_d=(),
    scheduler=None,
    n_workers=None,
    progress: bool = True,
) -> dict:
    """Run the sweep, draw the figure, return key numbers.

    Returns
    -------
    dict
        ``grid`` (d, beta, t sizes), ``points``, ``starts``, ``computed`` (points run now),
        ``wall_s``, ``t_star_beta0`` (equiangular time at beta = 0), and for each d
        ``fraction_t0[d]`` (t = 0, mean over beta) and ``fraction_end_beta0[d]``.
    """
    start = time.perf_counter()
    out = Path(out)
    spec = sweep_spec(small, extra_d)
    summary = mf.sweep(
        spec, out / "sweep", scheduler=scheduler, progress=progress, n_workers=n_workers
    )
    ds, betas = spec["grid"]["d"], spec["grid"]["model.beta"]
    t, frac = collect(read_results(out / "sweep"), set(summary.keys), ds, betas)
    n = spec["base"]["particles.n"]
    plot(t, np.array(betas), ds, frac, n, out / "phase_diagram.png")
    results = {
        "grid": (len(ds), len(betas), len(t)),
        "points": summary.total,
        "starts": spec["base"]["starts"],
        "computed": summary.computed,
        "failed": summary.failed,
        "wall_s": time.perf_counter() - start,
        "t_star_beta0": equiangular_time(0.0, n),
        "fraction_t0": {d: float(np.nanmean(frac[i, :, 0])) for i, d in enumerate(ds)},
        "fraction_end_beta0": {d: float(frac[i, betas.index(0.0), -1]) for i, d in enumerate(ds)},
        "figure": str(out / "phase_diagram.png"),
    }
    for key, value in results.items():
        print(f"{key}: {value}")
    return results


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", action="store_true", help="a small, quick grid")
    parser.add_argument("--extra-d", type=int, nargs="*", default=[], help="more dimensions")
    parser.add_argument("--scheduler", default=None, help="Dask scheduler address")
    parser.add_argument("--out", default="out/phase_diagram")
    args = parser.parse_args()
    main(small=args.small, out=args.out, extra_d=args.extra_d, scheduler=args.scheduler)
