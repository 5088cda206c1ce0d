"""examples/metastable_staircase.py in small mode: the plateau lengthens with beta."""

import pytest


def test_metastable_staircase_small(tmp_path):
    import metastable_staircase

    res = metastable_staircase.main(small=True, out=tmp_path)
    assert res["beta"] == [3.0, 4.0]
    # three clusters form at both beta, then collapse to one; the collapse comes later at the
    # larger beta (merging slows like e^{beta(1 - cos gap)}): measured 18.5 and 41.7
    assert res["plateau_clusters"] == [3, 3]
    t3, t4 = res["collapse_time"]
    assert 10 < t3 < 30 and 1.5 < t4 / t3 < 4
    # on the plateau the normalised energy is close to the sum of squared cluster masses
    # (the rest: cross terms e^{beta(cos gap - 1)} and the clusters' width)
    assert res["energy_vs_sum_m2"] < 0.05
    # PDE and tokens sampled from it agree through formation at beta = 3: two clusters each,
    # normalised energies (about 1/2 for two equal clusters) within 1%
    assert res["pde_clusters"] == res["token_clusters"] == 2
    assert res["pde_energy"] == pytest.approx(res["token_energy"], rel=0.01)
    assert res["pde_energy"] == pytest.approx(0.5, abs=0.02)
    for name in ["staircase.png", "pde_vs_tokens.png"]:
        assert (tmp_path / name).stat().st_size > 10_000, name
