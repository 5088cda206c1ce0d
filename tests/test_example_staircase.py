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
    # part 3: the Lagrangian density makes every merge (the Eulerian PDE pins the clusters),
    # and its merge times hardly move when the mesh is refined: measured last merge at
    # t = 36.3 (32 cells) and 36.6 (64 cells), the middle one at 7.92 and 7.82
    (lag,) = res["lagrangian"]
    coarse, fine = lag["density"][32], lag["density"][64]
    assert None not in coarse and None not in fine
    assert 30.0 < fine[-1] < 42.0
    assert abs(coarse[-1] / fine[-1] - 1.0) < 0.02 and abs(coarse[1] / fine[1] - 1.0) < 0.03
    assert len(lag["tokens"]) == 2 and len(lag["token_mean"]) == 3
    for name in ["staircase.png", "pde_vs_tokens.png"]:
        assert (tmp_path / name).stat().st_size > 10_000, name
