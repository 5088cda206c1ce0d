"""Mode selection: the number of clusters that first form is the fastest-growing harmonic.

Tokens start equally spaced on the circle with a small seeded jitter. Linearised around the
uniform measure, the degree-l Fourier mode grows at gamma_l (meanfield.theory.growth_rate); the
fastest one wins, so about argmax_l gamma_l clusters form first, before they slowly merge.
For each beta we record the first plateau of the cluster count (the first clusters, before
they merge) and compare it with theory's fastest l.

    python examples/mode_selection.py
"""

from pathlib import Path

import numpy as np

import meanfield as mf
from meanfield.diagnostics import find_clusters
from meanfield.theory import fastest_mode, growth_rate


def first_plateau(counts, hold=3):
    """First count > 1 that stays unchanged for ``hold`` frames (transients while forming skip).

    While tokens are still spread out the finder chains them into one group, hence ``> 1``.
    """
    for k in range(len(counts) - hold + 1):
        window = counts[k : k + hold]
        if window[0] > 1 and all(c == window[0] for c in window):
            return window[0]
    return counts[-1]


def first_cluster_count(beta, n, jitter=1e-3, seed=0, frames=31):
    """Number of clusters (mass > 1%) that first form, and theory's fastest mode."""
    rng = np.random.default_rng(seed)
    s = 2 * np.pi * (np.arange(n) + 0.5) / n + jitter * rng.standard_normal(n)
    x0 = np.stack([np.cos(s), np.sin(s)], axis=1)
    ell = fastest_mode(beta, 2)
    # the jitter's modes need about log(1/jitter)/gamma to reach O(1); run well past that
    t_end = 4.5 * np.log(1.0 / jitter) / growth_rate(ell, beta, 2)
    traj = mf.solve_particles(mf.Attention(beta), x0, np.linspace(0.0, t_end, frames), dt=0.05)
    counts = [find_clusters(x, radius=0.05, min_mass=0.01).count for x in traj.x]
    return first_plateau(counts), ell


def main(small: bool = False, out: str | Path = "out/mode_selection") -> dict:
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    betas = [4.0, 9.0] if small else [1.0, 4.0, 9.0, 16.0, 25.0, 36.0]
    n = 300 if small else 1000
    rows = [(beta, *first_cluster_count(beta, n)) for beta in betas]
    for beta, seen, ell in rows:
        print(f"beta = {beta:5.1f}: clusters formed = {seen:2d}, fastest mode l* = {ell}")
    _figure(rows, out / "mode_selection.png")
    return {"beta": betas, "clusters": [r[1] for r in rows], "fastest_mode": [r[2] for r in rows]}


def _figure(rows, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    b = np.linspace(0.5, max(r[0] for r in rows) * 1.1, 200)
    fig, ax = plt.subplots(figsize=(6, 4), dpi=120)
    ax.step(b, [fastest_mode(x, 2) for x in b], where="mid", label="theory: argmax gamma_l")
    ax.plot([r[0] for r in rows], [r[1] for r in rows], "o", label="tokens: clusters formed")
    ax.plot(b, np.sqrt(2 * b), ":", label="sqrt(2 beta)")
    ax.set_xlabel("beta")
    ax.set_ylabel("number of clusters")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", action="store_true", help="a small, quick version (seconds)")
    parser.add_argument("--out", default="out/mode_selection", help="output directory")
    args = parser.parse_args()
    main(small=args.small, out=args.out)
