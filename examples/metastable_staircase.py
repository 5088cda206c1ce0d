r"""The metastable staircase on the circle: clusters form fast, then merge one pair at a time.

Tokens on S^1 under SA (Q = K = V = I) first gather into a few clusters on an O(1) time scale;
the clusters then sit almost still and merge pairwise on time scales that grow exponentially
with beta (a pair at gap theta attracts at a rate ~ e^{-beta (1 - cos theta)}). The normalised
interaction energy

.. math::  e(t) = \frac{E_\beta(\mu_t)}{E_\beta(\delta)}
           = \iint e^{\beta(\langle x,y\rangle - 1)}\,d\mu_t\,d\mu_t
           \approx \sum_i m_i^2 + 2\sum_{i<j} m_i m_j e^{-\beta(1 - \cos\theta_{ij})}

is then a staircase: on each plateau it is close to the sum of the squared cluster masses
(the cross terms are small once beta (1 - cos theta) is a few units), and it jumps at every merge.

Two parts:

1. Tokens from one seeded start for beta = 3..8, to t = 8000 (log-spaced output). The start is
   four arcs of tokens (half-width 0.1) at unequal gaps 1.26, 1.87, 1.54 (and 1.61 across the
   wrap) holding 4 : 1 : 1 : 3 of the tokens. At every beta four clusters form by t ~ 2 and then
   merge one pair at a time: heavy + light first (gap 1.26), then the other light one with the
   3-share (gap 1.54), then the two halves, so the cluster count goes 4 -> 3 -> 2 -> 1 and the
   plateau values of e(t) are sum m_i^2 = 27/81, 35/81, 41/81, 1 (``staircase.png``: e(t),
   cluster count on a linear axis, and plateau length against beta). Reported: each merge
   time, e against sum m_i^2 at the (geometric) middle of every plateau, and the fitted slope
   of log(plateau length) against beta for every step. The later steps grow faster with beta
   (wider gaps); the first plateau grows least, since a light cluster next to a heavy one is
   pulled in quickly. At beta = 3 the steps crowd together and e(t) never settles on the
   later plateaus (e = 0.76 where sum m_i^2 = 0.51, measured); from beta = 5 on, e is within
   0.02 of sum m_i^2 on every plateau, from beta = 6 on within 0.004.
2. PDE and tokens side by side at beta = 3 through cluster formation and the first plateau:
   the density (DG p = 1 on a circle mesh) and tokens sampled from it (``pde_vs_tokens.png``).
   The PDE is not run to the merges: once clusters are narrower than a cell, distant clusters
   are pinned by the grid (see tests/test_long_runs.py).
3. The Lagrangian density through the whole staircase (``lagrangian_staircase``): the
   four-arc start as a density (von Mises–Fisher bumps of width 0.1 with masses 4 : 1 : 1 : 3)
   followed by the flow-map solver (``solve_density(..., scheme="lagrangian")``), whose
   clusters collapse to points and drift at their true speed, so every merge happens. Its
   merge times on two meshes are compared with each other and with tokens sampled from the
   same density (mean and spread over seeds).

    python examples/metastable_staircase.py
"""

from pathlib import Path

import numpy as np

import meanfield as mf
from meanfield import plot
from meanfield.diagnostics import energy, find_clusters, measure_clusters
from meanfield.initial import WhiteNoise

RADIUS, MIN_MASS = 0.05, 0.02
#: Arc centres (radians) and token shares of the staircase start: gaps 1.26, 1.87, 1.54, 1.61.
CENTRES = np.cumsum([0.0, 1.26, 1.87, 1.54])
SHARES = (4, 1, 1, 3)
HALF_WIDTH = 0.1


def normalised_energy(x, beta, weights=None) -> float:
    r""":math:`E_\beta(\mu) / E_\beta(\delta)` with :math:`E_\beta(\delta) = e^\beta / 2\beta`."""
    return energy(x, beta, weights) * 2.0 * beta / np.exp(beta)


def staircase_start(per_share, seed=0):
    """Tokens in four arcs at unequal gaps, ``per_share * SHARES[k]`` tokens in arc k.

    Returns
    -------
    x : ndarray, shape (per_share * sum(SHARES), 2)
        Uniform in each arc of half-width ``HALF_WIDTH`` (seeded).
    """
    rng = np.random.default_rng(seed)
    arcs = zip(CENTRES, SHARES, strict=True)
    a = np.concatenate([c + HALF_WIDTH * rng.uniform(-1.0, 1.0, per_share * s) for c, s in arcs])
    return np.stack([np.cos(a), np.sin(a)], axis=1)


def token_staircase(beta, x0, t):
    """Counts, normalised energies and cluster masses of one token run.

    DOP853 (adaptive) takes long steps on the plateaus, where the tokens barely move; the start
    goes in as a batch of one, whose field evaluation has less per-call overhead for small n.
    """
    traj = mf.solve_particles(mf.Attention(beta), x0[None], t, method="dop853")
    xs = traj.x[:, 0]
    found = [find_clusters(x, radius=RADIUS, min_mass=MIN_MASS) for x in xs]
    return {
        "counts": np.array([c.count for c in found]),
        "energy": np.array([normalised_energy(x, beta) for x in xs]),
        "sum_m2": np.array([float(np.sum(c.masses**2)) for c in found]),
        "held": np.array([float(np.sum(c.masses)) for c in found]),
    }


def steps(t, run, k0):
    """Formation time, merge times and plateau midpoints of one run with k0 clusters formed.

    Formation: first output with ``k0`` clusters holding 99% of the mass. Merge j: first later
    output with at most ``k0 - j`` clusters (None if never). The plateau with ``k0 - j``
    clusters runs from merge j (or formation) to merge j + 1; its midpoint is the output
    nearest to the geometric mean of its ends.
    """
    counts, held = run["counts"], run["held"]
    formed = np.flatnonzero((counts == k0) & (held >= 0.99))
    if not formed.size:
        return None, [None] * (k0 - 1), []
    k_form = formed[0]
    merges = []
    for j in range(1, k0):
        later = np.flatnonzero((counts <= k0 - j) & (np.arange(len(t)) > k_form))
        merges.append(int(later[0]) if later.size else None)
    ends = [k_form] + merges
    mids = []
    for a, b in zip(ends[:-1], ends[1:], strict=True):
        if b is None:
            break
        mids.append(int(np.argmin(np.abs(np.log(t[1:]) - 0.5 * np.log(t[a] * t[b])))) + 1)
    if merges[-1] is not None:
        mids.append(len(t) - 1)  # the last plateau (one cluster) lasts for ever
    return k_form, merges, mids


def _fit_slopes(betas, lengths):
    """Slope of log(plateau length) against beta for every step (None: fewer than 2 betas)."""
    slopes = []
    for j in range(len(lengths[0])):
        pts = [(b, ln[j]) for b, ln in zip(betas, lengths, strict=True) if ln[j] is not None]
        if len(pts) < 2:
            slopes.append(None)
            continue
        bs, ls = zip(*pts, strict=True)
        slopes.append(float(np.polyfit(bs, np.log(ls), 1)[0]))
    return slopes


def pde_and_tokens(beta, cells, n, t):
    """Density and tokens from one initial density: counts and normalised energies."""
    model = mf.Attention(beta)
    rho0 = mf.DG(mf.SphereMesh.circle(cells), 1).interpolate(WhiteNoise(2, 0.3, 8, 0)).limit()
    sol = mf.solve_density(model, rho0, t, dt_max=0.1)
    traj = mf.solve_particles(model, rho0.sample(n, 1), t, dt=0.05)
    # one cluster rule for both, at a radius of at least 2.5 cells
    radius = max(RADIUS, 2.5 * rho0.space.mesh.resolution)
    return (
        sol,
        traj,
        {
            "pde_counts": [
                measure_clusters(d, radius=radius, min_mass=MIN_MASS).count for d in sol.densities
            ],
            "token_counts": [
                measure_clusters(x, radius=radius, min_mass=MIN_MASS).count for x in traj.x
            ],
            "pde_energy": [normalised_energy(d, beta) for d in sol.densities],
            "token_energy": [normalised_energy(x, beta) for x in traj.x],
        },
    )


def staircase_density(cells):
    """The four-arc start as a DG density (p = 1): vMF bumps of width ~0.1, masses 4:1:1:3."""
    from meanfield.initial import VonMisesFisher

    centres = np.stack([np.cos(CENTRES), np.sin(CENTRES)], axis=1)
    bumps = VonMisesFisher(centres=centres, kappa=[1.0 / HALF_WIDTH**2] * len(SHARES),
                           weights=np.array(SHARES) / sum(SHARES))  # fmt: skip
    return mf.DG(mf.SphereMesh.circle(cells), 1).interpolate(bumps)


def _clusters_of(x, w, beta):
    """Counts, held mass, normalised energy and sum m_i^2 of one weighted configuration.

    Points lighter than 1e-3 of the mean mass are left out of the cluster search: the flow map
    has quadrature points wherever the initial mesh had cells, also in the gaps where the
    initial density is ~1e-40, and such massless points would chain two clusters together
    before they merge (tokens are never there).
    """
    w = w / w.sum()
    heavy = w > 1e-3 / w.size
    c = find_clusters(x[heavy], w[heavy], radius=RADIUS, min_mass=MIN_MASS)
    return c.count, float(c.masses.sum()), normalised_energy(x, beta, w), float(np.sum(c.masses**2))


def _staircase_run(configurations, beta):
    rows = [_clusters_of(x, w, beta) for x, w in configurations]
    counts, held, e, m2 = (np.array(v) for v in zip(*rows, strict=True))
    return {"counts": counts, "held": held, "energy": e, "sum_m2": m2}


def lagrangian_staircase(beta, cells_list, n_tokens, seeds, t, dt=0.05):
    """Merge times of the Lagrangian density on each mesh and of tokens sampled from it.

    Returns
    -------
    dict
        ``density``: {cells: merge times}; ``tokens``: merge times per seed (the tokens are
        drawn from the density on the finest mesh and advanced by RK4 with the same dt);
        ``token_mean`` and ``token_std`` per merge; ``density_cpu_s`` per mesh.
    """
    import time

    k0 = len(SHARES)
    out = {"beta": beta, "density": {}, "density_cpu_s": {}, "tokens": []}
    for cells in cells_list:
        rho0 = staircase_density(cells)
        cpu = time.process_time()
        sol = mf.solve_density(mf.Attention(beta), rho0, t, scheme="lagrangian", dt=dt)
        out["density_cpu_s"][cells] = time.process_time() - cpu
        run = _staircase_run([r.quadrature_measure() for r in sol.densities], beta)
        _, merges, _ = steps(t, run, k0)
        out["density"][cells] = [None if k is None else float(t[k]) for k in merges]
    x0 = np.stack([rho0.sample(n_tokens, np.random.default_rng([s, 7])) for s in seeds])
    traj = mf.solve_particles(mf.Attention(beta), x0, t, dt=dt)
    w = np.full(n_tokens, 1.0 / n_tokens)
    for b in range(len(seeds)):
        run = _staircase_run([(x, w) for x in traj.x[:, b]], beta)
        _, merges, _ = steps(t, run, k0)
        out["tokens"].append([np.nan if k is None else float(t[k]) for k in merges])
    tok = np.array(out["tokens"])
    out["token_mean"], out["token_std"] = tok.mean(axis=0).tolist(), tok.std(axis=0).tolist()
    return out


def main(small: bool = False, out: str | Path = "out/metastable_staircase") -> dict:
    """Run both parts; small mode: beta = 4, 5 with 18 tokens to t = 250, a coarse PDE to t = 12.

    Returns a dict with, per beta, ``formation_time``, ``merge_times`` (one per step),
    ``plateau_lengths``, ``plateau_counts``, ``step_energy`` and ``step_sum_m2`` (plateau
    middles), plus ``plateau_slopes`` (per step, over beta) and the PDE-vs-tokens numbers.
    """
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    betas = [4.0, 5.0] if small else [3.0, 4.0, 5.0, 6.0, 7.0, 8.0]
    per_share, t_max = (2, 250.0) if small else (6, 8000.0)
    t = np.concatenate([[0.0], np.geomspace(0.1, t_max, 160 if small else 400)])
    x0 = staircase_start(per_share, seed=0)
    k0 = len(SHARES)
    runs = {beta: token_staircase(beta, x0, t) for beta in betas}
    results = {"beta": betas, "n_tokens": x0.shape[0], "formation_time": [], "merge_times": []}
    results.update(plateau_lengths=[], plateau_counts=[], step_energy=[], step_sum_m2=[])
    for beta, r in runs.items():
        k_form, merges, mids = steps(t, r, k0)
        ends = [k_form] + merges
        results["formation_time"].append(None if k_form is None else float(t[k_form]))
        results["merge_times"].append([None if k is None else float(t[k]) for k in merges])
        results["plateau_lengths"].append(
            [
                None if a is None or b is None else float(t[b] - t[a])
                for a, b in zip(ends[:-1], ends[1:], strict=True)
            ]
        )
        results["plateau_counts"].append([int(r["counts"][k]) for k in mids])
        results["step_energy"].append([float(r["energy"][k]) for k in mids])
        results["step_sum_m2"].append([float(r["sum_m2"][k]) for k in mids])
        merged = ", ".join("never" if m is None else f"{m:.3g}" for m in results["merge_times"][-1])
        stair = ", ".join(
            f"{e:.4f}/{s:.4f}"
            for e, s in zip(results["step_energy"][-1], results["step_sum_m2"][-1], strict=True)
        )
        print(
            f"beta = {beta:g}: {k0} clusters at t = {results['formation_time'][-1]}, "
            f"merges at t = {merged}; plateaus e / sum m^2 = {stair}"
        )
    results["plateau_slopes"] = _fit_slopes(betas, results["plateau_lengths"])
    print(
        "fitted d log(plateau length) / d beta, plateau with "
        + ", ".join(f"{k0 - j} clusters: {s:.3f}" for j, s in enumerate(results["plateau_slopes"]))
    )
    gaps = [
        abs(e - s)
        for es, ss in zip(results["step_energy"], results["step_sum_m2"], strict=True)
        for e, s in zip(es, ss, strict=True)
    ]
    results["energy_vs_sum_m2"] = float(max(gaps)) if gaps else None

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
    _staircase_figure(t, runs, results, out / "staircase.png")
    _side_by_side(sol, traj, side, beta_pde, out / "pde_vs_tokens.png")

    # part 3: the Lagrangian density through every merge, on two meshes, against tokens
    lag_betas, meshes, n_tok, seeds = (
        ([4.0], (32, 64), 30, range(2)) if small else ([4.0, 5.0], (64, 128), 270, range(6))
    )
    results["lagrangian"] = []
    for beta in lag_betas:
        t_end = (45.0 if small else 60.0) if beta <= 4 else 200.0
        tl = np.concatenate([np.arange(0.0, 10.0, 0.02), np.arange(10.0, t_end + 0.1, 0.1)])
        r = lagrangian_staircase(beta, meshes, n_tok, seeds, tl)
        results["lagrangian"].append(r)
        dens = "; ".join(
            f"{c} cells: " + ", ".join(f"{m:.3f}" for m in r["density"][c]) for c in meshes
        )
        tok = ", ".join(f"{m:.3f} +- {s:.3f}" for m, s in zip(r["token_mean"], r["token_std"],
                                                                strict=True))  # fmt: skip
        print(f"beta = {beta:g}, Lagrangian density merges at t = {dens}; tokens ({n_tok}, "
              f"{len(seeds)} seeds) {tok}")  # fmt: skip
    return results


def _staircase_figure(t, runs, results, path):
    """Normalised energy (plateaus at sum m_i^2), cluster counts and plateau lengths; a page."""
    with plot.print_style():  # print fonts for the plain matplotlib calls below too
        fig = plot.figure(plot.PAGE, aspect=0.34)
        a, b, c = fig.subplots(1, 3)
        # the plateau values the energy should sit at: sums of squared cluster masses
        levels = sorted({round(s, 3) for ss in results["step_sum_m2"] for s in ss})
        names = {beta: f"${beta:g}$" for beta in runs}  # on the curves, at each last merge
        plot.staircase(t, {names[b]: r["energy"] for b, r in runs.items()}, plateaus=levels,
                       ax=a, title=r"tokens, curves labelled by $\beta$")  # fmt: skip
        colours = [line.get_color() for line in a.get_lines()[-len(runs) :]]
        plot.cluster_counts(t[1:], {names[b]: r["counts"][1:] for b, r in runs.items()}, ax=b,
                            colours=colours)  # fmt: skip
        b.set_xscale("log")
        b.get_legend().remove()
        k0 = len(SHARES)
        lengths = np.array(
            [[np.nan if v is None else v for v in row] for row in results["plateau_lengths"]]
        )
        for j, slope in enumerate(results["plateau_slopes"]):
            label = f"{k0 - j} clusters" + ("" if slope is None else f": slope {slope:.2f}")
            c.plot(results["beta"], lengths[:, j], "o-", ms=3, label=label)
        c.set_yscale("log")
        c.set_xlabel(r"$\beta$")
        c.set_ylabel("plateau length")
        c.legend(loc="upper left")
    plot.save(fig, path)


def _side_by_side(sol, traj, side, beta, path):
    """PDE and tokens from one start: density over (t, angle), token paths, counts, energy."""
    fig = plot.figure(plot.PAGE, aspect=0.62)
    (a, b), (c, d) = fig.subplots(2, 2, sharex=True)
    plot.density_spacetime(sol, ax=a)
    a.set_title(rf"density, $\beta = {beta:g}$")
    plot.trajectories(traj, ax=b)
    b.set_title(f"{traj.x.shape[1]} tokens sampled from the initial density")
    plot.cluster_counts(sol.t, {"density": side["pde_counts"], "tokens": side["token_counts"]},
                        ax=c)  # fmt: skip
    plot.series(sol.t, {"density": side["pde_energy"], "tokens": side["token_energy"]}, ax=d,
                ylabel=r"$E_\beta / E_\beta(\delta_x)$")  # fmt: skip
    plot.save(fig, path)


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", action="store_true", help="a small, quick version (seconds)")
    parser.add_argument("--out", default="out/metastable_staircase", help="output directory")
    args = parser.parse_args()
    main(small=args.small, out=args.out)
