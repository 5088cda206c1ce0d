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
3. The Lagrangian density through the whole staircase (``lagrangian_part``): the four-arc
   start as a density (von Mises–Fisher bumps of width 0.1 with masses 4 : 1 : 1 : 3) followed
   by the flow-map solver (``solve_density(..., scheme="lagrangian")``), whose clusters
   collapse to points and drift at their true speed, so every merge happens; on S^1 for
   beta = 3..8 on 64 and 128 cells, and on S^2 from four caps (width 0.2) at the same
   longitudes, latitudes +-0.25, on icosphere(2) and (3). Merge times (``merge_times``: two
   clusters, followed through the particles that started in them, merge when their centres
   come within ``MERGE_GAP``; the same rule for quadrature points and tokens) and plateau
   energies on both meshes, against tokens drawn from the density with each bump's share
   fixed (mean and spread over seeds); a table says whether each density time is inside the
   tokens' spread.

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


#: Gap (radians) between two clusters' centres below which they count as merged (part 3).
MERGE_GAP = 0.05
#: The S^2 start of part 3: four caps with the staircase's shares, off one great circle (the
#: S^1 gaps 1.26, 1.87, 1.54 along the equator, latitudes alternating +-0.25 rad).
LATITUDES = (0.25, -0.25, 0.25, -0.25)


def staircase_centres(d: int) -> np.ndarray:
    """Centres of the four arcs (d = 2) or caps (d = 3) of part 3, shape (4, d)."""
    if d == 2:
        return np.stack([np.cos(CENTRES), np.sin(CENTRES)], axis=1)
    lat = np.array(LATITUDES)
    return np.stack([np.cos(lat) * np.cos(CENTRES), np.cos(lat) * np.sin(CENTRES), np.sin(lat)], 1)


def staircase_density(mesh, width: float = HALF_WIDTH):
    """The staircase start as a DG density (p = 1): vMF bumps of ``width``, masses 4:1:1:3.

    ``mesh`` is a SphereMesh, or an int: that many cells of the circle.
    """
    from meanfield.initial import VonMisesFisher

    if isinstance(mesh, int | np.integer):
        mesh = mf.SphereMesh.circle(int(mesh))
    bumps = VonMisesFisher(centres=staircase_centres(mesh.points.shape[1]),
                           kappa=[1.0 / width**2] * len(SHARES),
                           weights=np.array(SHARES) / sum(SHARES))  # fmt: skip
    return mf.DG(mesh, 1).interpolate(bumps)


def _group_centres(x, w, group, k):
    """Unit weighted means of the k groups (``group[i]`` the group of point i); (k, d)."""
    sums = np.stack([np.bincount(group, weights=w * x[:, j], minlength=k)
                     for j in range(x.shape[1])], axis=1)  # fmt: skip
    return sums / np.linalg.norm(sums, axis=1, keepdims=True)


def _closest_pair(c):
    """Indices and geodesic distance of the two closest unit vectors among the rows of c."""
    g = np.arccos(np.clip(c @ c.T, -1.0, 1.0))
    g[np.diag_indices_from(g)] = np.inf
    i, j = np.unravel_index(np.argmin(g), g.shape)
    return int(i), int(j), float(g[i, j])


def merge_times(t, frames, labels, gap: float = MERGE_GAP):
    r"""Merge times of clusters followed through their particles, the same rule for any measure.

    Tokens and a flow map's quadrature points are both Lagrangian: each keeps the label of the
    initial bump it started in (``labels``). A cluster is a union of labels, its centre the
    weighted mean of its particles (normalised). Two clusters merge when their centres come
    closer than ``gap``; the time is interpolated linearly in log(gap) between outputs. Unlike a
    cluster search at each output (single linkage), the centres do not depend on how many
    particles sit in the thin tails between two clusters: the flow map keeps its quadrature
    points there (masses down to 1e-40) and links two clusters long before their centres meet,
    and more tokens do the same (measured: the first merge at beta = 4 came at t = 3.85 on the
    density, 4.6-5.05 for 270 tokens, 4.20 for 2700, by linkage at 0.05; by the centres' gap
    4.65, 4.50-5.05 and 4.65-4.70).

    Parameters
    ----------
    t : ndarray, shape (T,)
    frames : sequence of (x, w)
        Points (n, d) and weights (n,) at every output; the same particles in the same order.
    labels : ndarray of int, shape (n,)
        Initial cluster 0..k-1 of every particle.
    gap : float
        Merging distance between centres, radians.

    Returns
    -------
    times : list of float
        The k - 1 merge times in order (nan: not by ``t[-1]``).
    formed : float
        First output at which every initial cluster's weighted RMS angular radius is below
        ``gap`` (nan if never).
    """
    k = int(labels.max()) + 1
    group = np.arange(k)  # current cluster of every label
    times, formed, previous = [], np.nan, None
    for ti, (x, w) in zip(t, frames, strict=True):
        if np.isnan(formed):
            c = _group_centres(x, w, labels, k)[labels]
            r2 = np.bincount(labels, weights=w * np.arccos(np.clip(np.sum(x * c, 1), -1, 1)) ** 2)
            if np.all(r2 / np.bincount(labels, weights=w) < gap**2):
                formed = float(ti)
        while True:
            ids = np.unique(group)
            if ids.size < 2:
                break
            remap = np.searchsorted(ids, group)[labels]
            i, j, g = _closest_pair(_group_centres(x, w, remap, ids.size))
            if g >= gap:
                break
            times.append(_crossing(previous, ti, g, ids[i], ids[j], group, labels, gap))
            group[group == ids[j]] = ids[i]
        previous = (ti, x, w)
    return times + [np.nan] * (k - 1 - len(times)), formed


def _crossing(previous, t1, g1, a, b, group, labels, gap):
    """Time at which the centres of clusters a and b crossed ``gap`` (log-linear in time)."""
    if previous is None:
        return float(t1)
    t0, x, w = previous
    sel = np.isin(group[labels], (a, b))
    two = (group[labels][sel] == b).astype(int)
    c = _group_centres(x[sel], w[sel], two, 2)
    g0 = float(np.arccos(np.clip(c[0] @ c[1], -1.0, 1.0)))
    if not g0 > gap:
        return float(t1)
    return float(t0 + (t1 - t0) * np.log(g0 / gap) / np.log(g0 / max(g1, 1e-300)))


def _plateau_energies(t, frames, beta, times, formed):
    """Normalised energy at the (geometric) middle of each plateau: from formation to merge 1,
    between merges, and at the last output for the last plateau (nan where undefined, and for
    the first plateau when the first merge comes before formation)."""
    ends = [formed, *times]
    # a plateau that has not begun before it ends (the first merge during formation) has none
    picks = [np.sqrt(a * b) if a < b else np.nan for a, b in zip(ends[:-1], ends[1:], strict=True)]
    picks.append(t[-1])
    picks[-1] = t[-1] if np.isfinite(ends[-1]) else np.nan
    out = []
    for s in picks:
        if not np.isfinite(s):
            out.append(np.nan)
            continue
        x, w = frames[int(np.argmin(np.abs(t - s)))]
        out.append(normalised_energy(x, beta, w))
    return out


def _labels(x, d):
    """Initial bump of every particle: the nearest centre."""
    return np.argmax(x @ staircase_centres(d).T, axis=1)


def stratified_sample(rho, n, rng):
    """n tokens from the density ``rho``, exactly ``n * SHARES[k] / sum(SHARES)`` (rounded) of
    them from bump k: draws from ``rho``, each assigned to its nearest bump centre, the first
    ones kept per bump (rejection sampling of rho restricted to each bump's region).

    Fixing the counts removes the multinomial noise of the bumps' masses (a light bump of 1/9
    holds 0.111 +- 0.019 of 270 i.i.d. tokens), which the merge times amplify; the positions
    within each bump stay a random sample of the density.
    """
    counts = np.round(n * np.array(SHARES) / sum(SHARES)).astype(int)
    counts[-1] = n - counts[:-1].sum()
    d, picked, have = rho.space.dim, [], np.zeros(len(SHARES), int)
    while np.any(have < counts):
        x = rho.sample(4 * n, rng)
        lab = _labels(x, d)
        for k in range(len(SHARES)):
            take = x[lab == k][: counts[k] - have[k]]
            picked.append(take)
            have[k] += take.shape[0]
    x = np.concatenate(picked)
    return x[np.argsort(_labels(x, d), kind="stable")]


def lagrangian_staircase(beta, meshes, n_tokens, seeds, t, method="dop853", dt=0.05,
                         width=HALF_WIDTH, stratified=True):  # fmt: skip
    """Merge times and plateau energies of the Lagrangian density on each mesh, and of tokens
    sampled from it (mean and spread over seeds).

    Parameters
    ----------
    meshes : sequence of SphereMesh or int
        Coarse to fine (an int: a circle with that many cells); the tokens are drawn from the
        density on the last one.
    method : {"dop853", "rk4"}
        Time scheme of both (adaptive DOP853 takes long steps on the plateaus; ``dt`` is RK4's
        step or DOP853's bound).

    Returns
    -------
    dict
        ``density``: merge times per mesh (a list in the order of ``meshes``); ``density_energy``:
        plateau energies per mesh; ``density_cpu_s``; ``tokens``: merge times per seed (nan:
        not by ``t[-1]``), ``token_mean``, ``token_std`` (over seeds) and
        ``token_energy_mean``, ``token_energy_std``; ``formed``: formation time on the
        finest mesh.
    """
    import time

    model = mf.Attention(beta)
    out = {"beta": beta, "density": [], "density_energy": [], "density_cpu_s": [], "tokens": []}
    for mesh in meshes:
        rho0 = staircase_density(mesh, width)
        d = rho0.space.dim
        cpu = time.process_time()
        sol = mf.solve_density(model, rho0, t, scheme="lagrangian", method=method, dt=dt)
        out["density_cpu_s"].append(time.process_time() - cpu)
        frames = [(x, w / w.sum()) for x, w in (r.quadrature_measure() for r in sol.densities)]
        times, formed = merge_times(t, frames, _labels(frames[0][0], d))
        out["density"].append(times)
        out["density_energy"].append(_plateau_energies(t, frames, beta, times, formed))
    out["formed"] = formed
    draw = stratified_sample if stratified else (lambda r, n, g: r.sample(n, g))
    x0 = np.stack([draw(rho0, n_tokens, np.random.default_rng([s, 7])) for s in seeds])
    cpu = time.process_time()
    opts = {"dt": dt} if method == "rk4" else {}
    traj = mf.solve_particles(model, x0, t, method=method, **opts)
    out["token_cpu_s"] = time.process_time() - cpu
    w = np.full(n_tokens, 1.0 / n_tokens)
    energies = []
    for b in range(len(seeds)):
        frames = [(x, w) for x in traj.x[:, b]]
        times, formed = merge_times(t, frames, _labels(frames[0][0], d))
        out["tokens"].append(times)
        energies.append(_plateau_energies(t, frames, beta, times, formed))
    tok, en = np.array(out["tokens"]), np.array(energies)
    out["token_mean"], out["token_std"] = tok.mean(axis=0).tolist(), tok.std(axis=0).tolist()
    out["token_energy_mean"], out["token_energy_std"] = en.mean(0).tolist(), en.std(0).tolist()
    return out


#: sum m_i^2 on the plateaus with 4, 3, 2, 1 clusters (shares 4:1:1:3, merge order as in part 1).
PLATEAU_SUM_M2 = (27 / 81, 35 / 81, 41 / 81, 1.0)
#: Part 3 final times per beta on S^1: about twice the tokens' last merge of part 1.
LAGRANGIAN_T_END = {3.0: 30.0, 4.0: 80.0, 5.0: 250.0, 6.0: 800.0, 7.0: 2600.0, 8.0: 9000.0}


def lagrangian_part(small: bool = False) -> list[dict]:
    """Part 3 runs: S^1 (circle 64 and 128 cells; small: 32 and 64) for beta = 3..8 (small:
    4), S^2 (icosphere 2 and 3, caps of width 0.2; small: 1 and 2, to t = 6) at beta = 4;
    tokens stratified by bump, 6 seeds (small: 2), 2700 tokens (small: 270)."""
    n, seeds = (270, range(2)) if small else (2700, range(6))
    runs = []
    for beta in [4.0] if small else [3.0, 4.0, 5.0, 6.0, 7.0, 8.0]:
        t_end = 45.0 if small else LAGRANGIAN_T_END[beta]
        t = np.concatenate(
            [np.arange(0.0, 10.0, 0.05), np.geomspace(10.0, t_end, 60 if small else 1200)]
        )
        meshes = (32, 64) if small else (64, 128)
        r = lagrangian_staircase(beta, meshes, n, seeds, t, method="rk4" if small else "dop853")
        runs.append({"sphere": "S^1", **r})
    # small: only to the first merge (the second comes at t ~ 9)
    levels, t_end = ((1, 2), 6.0) if small else ((2, 3), 150.0)
    t = np.arange(0.0, 10.0, 0.05)
    t = t[t <= t_end] if small else np.concatenate([t, np.geomspace(10.0, t_end, 200)])
    meshes = [mf.SphereMesh.icosphere(level) for level in levels]
    r = lagrangian_staircase(4.0, meshes, n, seeds, t, method="rk4", width=0.2)
    runs.append({"sphere": "S^2", **r})
    return runs


def merge_table(rows) -> list[dict]:
    """One line per (sphere, beta, merge): density times on two meshes, their relative
    difference, tokens mean +- std, and whether the fine density's time is inside the spread."""
    table = []
    for r in rows:
        coarse, fine = r["density"][0], r["density"][-1]
        for j, (a, b) in enumerate(zip(coarse, fine, strict=True)):
            m, s = r["token_mean"][j], r["token_std"][j]
            table.append({"sphere": r["sphere"], "beta": r["beta"], "merge": j + 1,
                          "coarse": a, "fine": b, "rel_diff": abs(a / b - 1.0),
                          "token_mean": m, "token_std": s,
                          "inside": bool(abs(b - m) <= s)})  # fmt: skip
    return table


def print_merge_table(table):
    print(f"{'sphere':>6} {'beta':>4} {'merge':>5} {'coarse':>9} {'fine':>9} {'rel.diff':>8} "
          f"{'tokens mean +- std':>20} inside")  # fmt: skip
    for row in table:
        print(f"{row['sphere']:>6} {row['beta']:>4g} {row['merge']:>5d} {row['coarse']:>9.4g} "
              f"{row['fine']:>9.4g} {row['rel_diff']:>8.2e} {row['token_mean']:>11.4g} +- "
              f"{row['token_std']:<7.3g} {'yes' if row['inside'] else 'NO'}")  # fmt: skip


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
    results["lagrangian"] = lagrangian_part(small)
    results["merge_table"] = merge_table(results["lagrangian"])
    print_merge_table(results["merge_table"])
    for r in results["lagrangian"]:
        print(f"{r['sphere']} beta = {r['beta']:g}: plateau energies, density "
              + ", ".join(f"{e:.4f}" for e in r["density_energy"][-1]) + "; tokens "
              + ", ".join(f"{m:.4f} +- {s:.4f}" for m, s in zip(r["token_energy_mean"],
                                                                r["token_energy_std"], strict=True))
              + f"; sum m_i^2 {', '.join(f'{v:.4f}' for v in PLATEAU_SUM_M2)}")  # fmt: skip
    _merge_figure(results["lagrangian"], out / "lagrangian_merges.png")
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


def _merge_figure(runs, path):
    """Merge times against beta: the Lagrangian density on both meshes (lines, markers) and the
    tokens' mean +- std over seeds (error bars), S^1 and S^2; one column."""
    with plot.print_style():
        fig = plot.figure(plot.COLUMN, aspect=1.05)
        ax = fig.subplots()
        for sphere, marker in (("S^1", "o"), ("S^2", "s")):
            rows = [r for r in runs if r["sphere"] == sphere]
            if not rows:
                continue
            betas = np.array([r["beta"] for r in rows])
            for j in range(len(SHARES) - 1):
                fine = np.array([r["density"][-1][j] for r in rows])
                coarse = np.array([r["density"][0][j] for r in rows])
                mean = np.array([r["token_mean"][j] for r in rows])
                std = np.array([r["token_std"][j] for r in rows])
                colour = f"C{j}"  # one colour per merge, one marker per sphere
                ax.plot(betas, fine, marker + "-", ms=3, mfc="none", color=colour,
                        label=f"${sphere}$, merge {j + 1}")  # fmt: skip
                ax.plot(betas, coarse, "x", ms=3, color=colour)
                ax.errorbar(betas + 0.06, mean, yerr=std, fmt=".", ms=2, capsize=1.5,
                            color=colour)  # fmt: skip
        ax.set_yscale("log")
        ax.set_xlabel(r"$\beta$")
        ax.set_ylabel("merge time")
        ax.set_title("density (fine: line, coarse: x), tokens (bars)")
        ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.2), ncol=2)
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
