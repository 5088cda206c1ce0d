"""examples/noisy_transition.py in small mode: S^1, USA beta = 4, a jump with hysteresis."""

import pytest


def test_noisy_transition_small(tmp_path):
    import noisy_transition

    res = noisy_transition.main(small=True, out=tmp_path)
    c = res["classes"][2][4.0]
    print(res["classes"], res["token_classes"], res["width_beta4"], res["tricritical"])
    # beta = 4 > beta* = 2.45: clusters appear below D_c (at 0.9) and survive up to 1.03 D_c on
    # the way back (Gibbs branch fold 1.0589 D_c), uniform at 1.1 D_c both ways
    assert c["type"] == "jump" and c["on"] == 0.9 and c["off"] == 1.03
    assert c["jump_size"] > 0.8
    assert res["width_beta4"][2]["theory"] == pytest.approx(0.0589, abs=1e-3)
    cont, formula = res["tricritical"][2]
    assert cont == pytest.approx(2.447, abs=2e-3) and formula == pytest.approx(2.4469, abs=1e-4)
    # 300 noisy tokens (seeded) jump too, but earlier: they leave the uniform state already at
    # 1.03 D_c going down (finite-n fluctuations cross the small barrier near the fold) and
    # still hold |m| > 0.3 at 1.1 D_c after 5 + 5 units of 1/D_c going up (slow decay past the
    # fold)
    t = res["token_classes"][2][4.0]
    assert t["type"] == "jump" and t["on"] == 1.03 and t["off"] == 1.1
    assert (tmp_path / "noisy_transition.png").stat().st_size > 10_000
