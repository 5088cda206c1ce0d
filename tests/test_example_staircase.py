"""examples/metastable_staircase.py in small mode: pairwise merges, plateaus lengthen with beta."""

import numpy as np
import pytest


def test_metastable_staircase_small(tmp_path):
    import metastable_staircase

    res = metastable_staircase.main(small=True, out=tmp_path)
    assert res["beta"] == [4.0, 5.0]
    assert res["n_tokens"] == 18  # 2 tokens per share, shares 4 : 1 : 1 : 3
    # four clusters form, then merge one pair at a time at both beta
    assert res["plateau_counts"] == [[4, 3, 2, 1], [4, 3, 2, 1]]
    # the cluster masses on the plateaus, by hand from the shares 4, 1, 1, 3 (of 9) and the merge
    # order heavy + light (gap 1.26), then light + 3-share (gap 1.54), then the two halves:
    # (16 + 1 + 1 + 9) / 81, (25 + 1 + 9) / 81, (25 + 16) / 81, 1
    by_hand = np.array([27.0, 35.0, 41.0, 81.0]) / 81.0
    for sum_m2 in res["step_sum_m2"]:
        np.testing.assert_allclose(sum_m2, by_hand, rtol=1e-9)
    # the normalised energy on each plateau approaches sum m_i^2 as beta grows (the cross terms
    # 2 m_i m_j e^{-beta(1 - cos gap)} shrink): measured deviations 0.095, 0.056, 0.005 at
    # beta = 4 and 0.030, 0.005, 0.0007 at beta = 5
    dev = np.abs(np.array(res["step_energy"]) - np.array(res["step_sum_m2"]))
    assert np.all(dev[1, :3] < dev[0, :3])
    assert np.all(dev[1, 1:3] < 0.01)
    assert res["energy_vs_sum_m2"] < 0.15
    # every plateau is longer at beta = 5; the last merge (two halves at a wide gap) slows most:
    # measured last merge at t = 34.9 (beta = 4) and 114 (beta = 5), its plateau 3.8x longer
    lengths = np.array(res["plateau_lengths"])
    assert np.all(lengths[1] > lengths[0])
    assert 25 < res["merge_times"][0][-1] < 50
    assert 2.5 < lengths[1, -1] / lengths[0, -1] < 6
    assert res["plateau_slopes"][0] < res["plateau_slopes"][1] < res["plateau_slopes"][2]
    # PDE and tokens sampled from it agree through formation at beta = 3: two clusters each,
    # normalised energies (about 1/2 for two equal clusters) within 1%
    assert res["pde_clusters"] == res["token_clusters"] == 2
    assert res["pde_energy"] == pytest.approx(res["token_energy"], rel=0.01)
    assert res["pde_energy"] == pytest.approx(0.5, abs=0.02)
    # part 3: the Lagrangian density makes every merge (the Eulerian PDE pins the clusters).
    # Merges are read from the clusters' centres (merge_times), the same rule for the density's
    # quadrature points and for tokens. Measured (small): 32 and 64 cells 4.620 / 4.628,
    # 8.412 / 8.378, 36.20 / 36.51; the point-cluster model (9 tokens at the four centres)
    # 4.682, 8.511, 36.83; 270 tokens per seed (stratified) 4.763, 7.887, 37.70 and 4.598,
    # 9.642, 33.80
    s1, s2 = res["lagrangian"]
    assert s1["sphere"] == "S^1" and s2["sphere"] == "S^2"
    coarse, fine = (np.array(v) for v in s1["density"])
    assert np.all(np.isfinite(coarse)) and np.all(np.isfinite(fine))
    np.testing.assert_allclose(coarse, fine, rtol=0.01)
    np.testing.assert_allclose(fine, [4.628, 8.378, 36.51], rtol=0.01)
    np.testing.assert_allclose(fine, point_cluster_merges(4.0, 2), rtol=0.03)
    tokens = np.array(s1["tokens"])
    assert tokens.shape == (2, 3)
    np.testing.assert_allclose(tokens[:, 0], fine[0], atol=0.3)
    np.testing.assert_allclose(tokens[:, 2], fine[2], rtol=0.15)
    # plateau energies of density and tokens (measured 0.4333, 0.4912, 0.5102, 1 and 0.4315,
    # 0.4821, 0.5106, 1); the last plateau is one cluster
    np.testing.assert_allclose(s1["density_energy"][-1], s1["token_energy_mean"], atol=0.02)
    assert s1["density_energy"][-1][-1] == pytest.approx(1.0, abs=1e-6)
    # S^2 (small: icosphere 1 and 2, to t = 6): the first merge, measured 4.784 and 4.835, and
    # 4.795 and 4.378 for the two token seeds
    (a2, b2) = (s2["density"][0][0], s2["density"][1][0])
    assert 4.5 < a2 < 5.2 and abs(a2 / b2 - 1.0) < 0.02
    assert np.isnan(s2["density"][1][1])  # the second merge comes after t = 6
    np.testing.assert_allclose(np.array(s2["tokens"])[:, 0], b2, atol=0.6)
    table = res["merge_table"]
    assert [(r["sphere"], r["merge"]) for r in table][:4] == [("S^1", 1), ("S^1", 2), ("S^1", 3),
                                                              ("S^2", 1)]  # fmt: skip
    for name in ["staircase.png", "pde_vs_tokens.png", "lagrangian_merges.png"]:
        assert (tmp_path / name).stat().st_size > 10_000, name


def point_cluster_merges(beta, d):
    """Merge times of the reduced model: the four clusters as point masses (4, 1, 1, 3 tokens
    at the four centres), advanced by DOP853."""
    import metastable_staircase as ms

    import meanfield as mf

    labels = np.repeat(np.arange(4), ms.SHARES)
    t = np.concatenate([np.arange(0.0, 10.0, 0.05), np.geomspace(10.0, 100.0, 100)])
    traj = mf.solve_particles(mf.Attention(beta), ms.staircase_centres(d)[labels], t,
                              method="dop853")  # fmt: skip
    w = np.full(labels.size, 1.0 / labels.size)
    return ms.merge_times(t, [(x, w) for x in traj.x], labels)[0]


def test_merge_times_interpolate_an_exponential_approach():
    """Two groups whose centres close as gap(t) = e^{-t} cross 0.05 at t = ln 20 exactly (the
    interpolation is linear in log gap); a third group far away never merges."""
    import metastable_staircase as ms

    t = np.arange(0.0, 6.0, 0.5)
    labels = np.array([0, 0, 1, 2])
    frames = []
    for s in t:
        a = np.array([0.0, 0.0, np.exp(-s), 2.5])
        frames.append((np.stack([np.cos(a), np.sin(a)], 1), np.full(4, 0.25)))
    times, formed = ms.merge_times(t, frames, labels, gap=0.05)
    assert times[0] == pytest.approx(np.log(20.0), rel=1e-12)
    assert np.isnan(times[1]) and formed == 0.0


def test_merge_times_follow_particles_not_tails():
    """A light tail of points bridging two clusters does not merge them (single linkage at
    0.05 would): the centres stay 0.5 apart."""
    import metastable_staircase as ms

    a = np.concatenate([np.zeros(10), np.full(10, 0.5), np.linspace(0.0, 0.5, 200)])
    x = np.stack([np.cos(a), np.sin(a)], 1)
    w = np.concatenate([np.full(20, 0.05), np.full(200, 1e-9)])
    labels = np.concatenate([np.zeros(10, int), np.ones(10, int), (a[20:] > 0.25).astype(int)])
    times, _ = ms.merge_times(np.array([0.0, 1.0]), [(x, w), (x, w)], labels)
    assert np.isnan(times[0])
    from meanfield.diagnostics import find_clusters

    assert find_clusters(x, w, radius=0.05).count == 1  # what linkage sees
