"""examples/particles_vs_pde.py in small mode (S^1 n <= 1000, S^2 n <= 500, t <= 2)."""

import pytest


def test_particles_vs_pde_small(tmp_path):
    import particles_vs_pde

    res = particles_vs_pde.main(small=True, out=tmp_path)
    print(res["slopes"], res["mesh_errors"])
    assert (tmp_path / "particles_vs_pde.png").stat().st_size > 10_000
    assert res["mass_drift"] <= 1e-12
    # W1 between circle(16) and circle(32) PDE solutions at t = 2 (measured 7.62e-3): the
    # p = 1 mesh error, which sets the floor of the coarse level
    assert res["mesh_errors"][2]["circle(16)"][2.0] == pytest.approx(7.62e-3, rel=0.1)
    # seed-averaged W1 of 1000 exact samples against the initial density (measured 0.0431):
    # the n^-1/2 sampling error, c / sqrt(n) with c about 1.36
    assert res["floors"][2]["circle(32)"][0.0] == pytest.approx(0.0431, rel=0.1)
    # both decay with n at every time on both spheres (fits over 3 and 2 sizes only)
    for d in (2, 3):
        assert all(s < -0.15 for s in res["slopes"][d].values())
