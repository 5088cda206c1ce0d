r"""The metastable staircase on the circle: clusters form fast, then merge ever more slowly.

Tokens on S^1 under SA (Q = K = V = I) first gather into a few clusters on an O(1) time scale;
the clusters then sit almost still and merge pairwise on time scales that grow exponentially
with beta (a pair at gap theta attracts at a rate ~ e^{-beta (1 - cos theta)}). The normalised
interaction energy

.. math::  e(t) = E_\beta(\mu_t) / E_\beta(\delta) = \frac{\iint e^{\beta(\langle x,y\rangle - 1)}
           d\mu\,d\mu}{1} \approx \sum_i m_i^2

is then a staircase: on each plateau it equals the sum of the squared cluster masses, and it
jumps at every merge. The plateaus lengthen with beta.

Two parts:

1. Tokens from one start for several beta, to long times (log-spaced output): n tokens equally
   spaced, displaced by a mode-3 and a mode-1 wave, so that three unequal clusters form at
   every beta. Cluster count and e(t) against t (``staircase.png``), the collapse time (one
   cluster left) against beta and the fitted slope of log(collapse time) against beta.
2. PDE and tokens side by side at beta = 3 through cluster formation and the first plateau:
   the density (DG p = 1 on a circle mesh) and tokens sampled from it (``pde_vs_tokens.png``).
   The PDE is not run to the merges: once clusters are narrower than a cell, distant clusters
   are pinned by the grid (see tests/test_long_runs.py), so the long-time staircase is
   measured on tokens.

    python examples/metastable_staircase.py
"""

from pathlib import Path

import numpy as np

import meanfield as mf
from meanfield.diagnostics import density_clusters, energy, find_clusters
from meanfield.initial import WhiteNoise

RADIUS, MIN_MASS = 0.05, 0.02


def normalised_energy(x, beta, weights=None) -> float:
    r""":math:`E_\beta(\mu) / E_\beta(\delta)` with :math:`E_\beta(\delta) = e^\beta / 2\beta`."""
    return energy(x, beta, weights) * 2.0 * beta / np.exp(beta)


def collapse_time(t, counts, held):
    """First output time with one cluster holding 99% of the mass (None if never)."""
    done = np.flatnonzero((np.asarray(counts) == 1) & (np.asarray(held) >= 0.99))
    return float(t[done[0]]) if done.size else None


def three_wave_start(n):
    """n tokens equally spaced on S^1, displaced by -0.3 sin(3s) - 0.3 sin(s): 3 clusters."""
    s = 2 * np.pi * (np.arange(n) + 0.5) / n
    a = s - 0.3 * np.sin(3 * s) - 0.3 * np.sin(s)
    return np.stack([np.cos(a), np.sin(a)], axis=1)


def token_staircase(beta, n, t):
    """Counts, normalised energies and cluster masses of one token run."""
    model = mf.Attention(beta)
    traj = mf.solve_particles(model, three_wave_start(n), t, dt=min(0.1, 0.5 / beta))
    found = [find_clusters(x, radius=RADIUS, min_mass=MIN_MASS) for x in traj.x]
    return {
        "counts": [c.count for c in found],
        "energy": [normalised_energy(x, beta) for x in traj.x],
        "sum_m2": [float(np.sum(c.masses**2)) for c in found],
        "held": [float(np.sum(c.masses)) for c in found],
    }


def pde_and_tokens(beta, cells, n, t):
    """Density and tokens from one initial density: counts and normalised energies."""
    model = mf.Attention(beta)
    rho0 = mf.DG(mf.SphereMesh.circle(cells), 1).interpolate(WhiteNoise(2, 0.3, 8, 0)).limit()
    sol = mf.solve_density(model, rho0, t, dt_max=0.1)
    traj = mf.solve_particles(model, rho0.sample(n, 1), t, dt=0.05)
    return (
        sol,
        traj,
        {
            "pde_counts": [density_clusters(d, min_mass=MIN_MASS).count for d in sol.densities],
            "token_counts": [
                find_clusters(x, radius=RADIUS, min_mass=MIN_MASS).count for x in traj.x
            ],
            "pde_energy": [normalised_energy(d, beta) for d in sol.densities],
            "token_energy": [normalised_energy(x, beta) for x in traj.x],
        },
    )


def main(small: bool = False, out: str | Path = "out/metastable_staircase") -> dict:
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    betas = [3.0, 4.0] if small else [2.0, 3.0, 4.0, 5.0, 6.0, 7.0]
    n, t_max = (30, 150.0) if small else (60, 5000.0)
    t = np.concatenate([[0.0], np.geomspace(0.5, t_max, 50 if small else 120)])
    runs = {beta: token_staircase(beta, n, t) for beta in betas}
    collapse = [collapse_time(t, r["counts"], r["held"]) for r in runs.values()]
    results = {"beta": betas, "collapse_time": collapse}
    plateau = {}
    for beta, r in runs.items():
        # the middle of the metastable phase: a few tight clusters holding all the mass
        mid = [k for k in range(len(t)) if 1 < r["counts"][k] <= 5 and r["held"][k] >= 0.99]
        plateau[beta] = mid[len(mid) // 2] if mid else None
    results["plateau_clusters"] = [
        None if k is None else runs[b]["counts"][k] for b, k in plateau.items()
    ]
    for beta, tc, k in zip(betas, collapse, results["plateau_clusters"], strict=True):
        print(f"beta = {beta:g}: {k} clusters on the plateau, one left at t = {tc}")
    done = [(b, tc) for b, tc in zip(betas, collapse, strict=True) if tc is not None]
    if len(done) >= 2:
        slope = np.polyfit([b for b, _ in done], np.log([tc for _, tc in done]), 1)[0]
        results["log_collapse_slope"] = float(slope)
        print(f"fitted d log(collapse time) / d beta = {slope:.3f}")
    # on the plateau (tight clusters) the normalised energy is the sum of squared cluster masses
    gaps = [
        abs(runs[b]["energy"][k] - runs[b]["sum_m2"][k])
        for b, k in plateau.items()
        if k is not None
    ]
    results["energy_vs_sum_m2"] = float(max(gaps))

    beta_pde = 3.0
    cells, m, t_end = (64, 128, 12.0) if small else (256, 1000, 40.0)
    tp = np.linspace(0.0, t_end, 49 if small else 161)
    sol, traj, side = pde_and_tokens(beta_pde, cells, m, tp)
    results.update(
        pde_clusters=side["pde_counts"][-1],
        token_clusters=side["token_counts"][-1],
        pde_energy=side["pde_energy"][-1],
        token_energy=side["token_energy"][-1],
    )
    print(
        f"beta = {beta_pde:g}, t = {t_end:g}: PDE {results['pde_clusters']} clusters "
        f"(e = {results['pde_energy']:.4f}), tokens {results['token_clusters']} clusters "
        f"(e = {results['token_energy']:.4f})"
    )
    _staircase_figure(t, runs, out / "staircase.png")
    _side_by_side(sol, traj, side, beta_pde, out / "pde_vs_tokens.png")
    return results


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _staircase_figure(t, runs, path):
    plt = _pyplot()
    fig, (a, b) = plt.subplots(1, 2, figsize=(11, 4), dpi=110)
    for beta, r in runs.items():
        a.plot(t[1:], r["energy"][1:], label=f"beta = {beta:g}")
        b.step(t[1:], r["counts"][1:], where="post", label=f"beta = {beta:g}")
    a.set_ylabel("E_beta / E_beta(one point)")
    b.set_ylabel("number of clusters")
    for ax in (a, b):
        ax.set_xscale("log")
        ax.set_xlabel("t")
        ax.legend()
    b.set_yscale("log")
    fig.suptitle("Metastable clusters on S^1: the plateau lengthens with beta (tokens)")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def _side_by_side(sol, traj, side, beta, path):
    plt = _pyplot()
    theta = np.linspace(-np.pi, np.pi, 541)
    pts = np.column_stack([np.cos(theta), np.sin(theta)])
    rho = np.array([d.evaluate(pts) for d in sol.densities])
    fig, ax = plt.subplots(2, 2, figsize=(11, 7), dpi=100, sharex=True)
    ax[0, 0].pcolormesh(sol.t, theta, np.log10(np.maximum(rho, 1e-4)).T, shading="auto",
                        cmap="magma")  # fmt: skip
    ax[0, 0].set_title(f"PDE density (log10), beta = {beta:g}")
    ang = np.arctan2(traj.x[..., 1], traj.x[..., 0])
    ang = np.where(np.abs(np.diff(ang, axis=0, prepend=ang[:1])) > np.pi, np.nan, ang)
    ax[0, 1].plot(traj.t, ang, lw=0.4, alpha=0.5)
    ax[0, 1].set_title(f"{traj.x.shape[1]} tokens sampled from the initial density")
    ax[1, 0].plot(sol.t, side["pde_counts"], label="PDE")
    ax[1, 0].plot(traj.t, side["token_counts"], "--", label="tokens")
    ax[1, 0].set_ylabel("clusters")
    ax[1, 1].plot(sol.t, side["pde_energy"], label="PDE")
    ax[1, 1].plot(traj.t, side["token_energy"], "--", label="tokens")
    ax[1, 1].set_ylabel("E_beta / E_beta(one point)")
    for a in ax[1]:
        a.set_xlabel("t")
        a.legend()
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


if __name__ == "__main__":
    main()
