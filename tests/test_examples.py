"""Each example runs in small mode; one or two of its numbers are pinned."""

import numpy as np
import pytest


def test_particle_clustering(tmp_path):
    import particle_clustering

    res = particle_clustering.main(small=True, out=tmp_path)
    # S^2, beta = 1: full collapse (d >= 3 collapses to one point); S^1, beta = 9: a few
    # clusters, as theory's
    # fastest mode (l = 4 at beta = 9) predicts for the first ones, some merged by t = 10
    assert res["sphere_clusters"] == 1
    assert 2 <= res["circle_clusters"] <= 5
    # one point mass has E = e^beta / (2 beta) = e / 2 at beta = 1; a uniform start about
    # sinh(1) / 2 plus the diagonal's e / (2n)
    assert res["sphere_energy_end"] == pytest.approx(np.e / 2, rel=1e-4)
    assert res["sphere_energy_start"] == pytest.approx(np.sinh(1) / 2 + np.e / 128, rel=0.05)
    for name in ["circle_tokens.png", "sphere_tokens_start.png", "sphere_tokens_end.png"]:
        assert (tmp_path / name).stat().st_size > 10_000


def test_mode_selection(tmp_path):
    import mode_selection

    res = mode_selection.main(small=True, out=tmp_path)
    # SA growth-rate table (d = 2): fastest mode 3 at beta = 4 and 4 at beta = 9
    assert res["fastest_mode"] == [3, 4]
    assert res["clusters"] == res["fastest_mode"]
    assert (tmp_path / "mode_selection.png").stat().st_size > 10_000


def test_high_dimension(tmp_path):
    import high_dimension

    res = high_dimension.main(small=True, out=tmp_path)
    # Gegenbauer modes at the theory's rates (d = 3, 8, 128; l = 1, 2): measured 5e-6
    assert res["growth_worst_error"] < 1e-4
    # a cap at mean polar angle 0.55 collapses toward the pole by t = 2 at beta = 9 (PDE
    # 0.099, 0.091, 0.086 for d = 3, 8, 128), tokens in R^d beside it
    for d in (3, 8, 128):
        assert res["final_angle_pde"][d] < 0.12
        assert abs(res["final_angle_tokens"][d] - res["final_angle_pde"][d]) < 0.03
        assert res["final_w1"][d] < 0.01
    assert res["mass_drift"] < 1e-12 and res["min_density"] >= 0.0
    for name in ("growth.png", "collapse.png"):
        assert (tmp_path / name).stat().st_size > 10_000


def test_first_plateau_skips_transients():
    from mode_selection import first_plateau

    assert first_plateau([1, 1, 4, 6, 6, 3, 3, 3, 3]) == 3
    assert first_plateau([1, 1, 2, 2]) == 2  # never holds 3 frames: the last count


@pytest.mark.parametrize(
    "name",
    ["clustering", "high_dimension", "metastable_staircase", "mode_selection", "noisy_transition",
     "particle_clustering", "particles_vs_pde", "phase_diagram", "transport_rotation"],
)  # fmt: skip
def test_every_example_accepts_small(name):
    import subprocess
    import sys
    from pathlib import Path

    script = Path(__file__).parents[1] / "examples" / f"{name}.py"
    res = subprocess.run([sys.executable, str(script), "--help"], capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    assert "--small" in res.stdout
