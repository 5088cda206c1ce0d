"""Spectral evaluator (S^1, S^2) against direct summation and independent references; the
direct evaluator's large-beta accuracy, memory bound and the "auto" choice."""

import numpy as np
import pytest
from helpers import random_model, rel
from scipy.special import eval_legendre, ive, sph_harm_y

import meanfield as mf
from meanfield.field import UnnormalizedOverflowError, direct_field
from meanfield.field.spectral import (
    prefer_spectral,
    schmidt_harmonics,
    spectral_field,
    truncation,
    zonal_weights,
)

# --------------------------------------------------------------------------- agreement


@pytest.mark.parametrize("normalized", [True, False])
@pytest.mark.parametrize("beta", [0.5, 4.0, 20.0, 100.0])
@pytest.mark.parametrize("d", [2, 3])
def test_spectral_matches_direct(d, beta, normalized):
    """Random Q, K, V, weighted sources, targets != sources: relative max-norm error <= 1e-10.

    Checked with the direct fallback off (the expansion alone) and on (the default).
    """
    rng = np.random.default_rng([d, int(beta), normalized])
    model = random_model(d, beta, normalized, rng)
    x, y = mf.sample_sphere(150, d, rng), mf.sample_sphere(400, d, rng)
    w = rng.random(400)
    ref = direct_field(model, x, y, w)
    assert np.all(np.isfinite(ref))
    assert rel(spectral_field(model, x, y, w, fallback=None), ref) < 1e-10
    assert rel(spectral_field(model, x, y, w), ref) < 1e-10
    # through the public API (tangent projection included)
    v = model.velocity(x, y, w, method="spectral")
    assert rel(v, model.velocity(x, y, w, method="direct")) < 1e-10


def test_usa_large_but_finite_and_overflow_error():
    """USA at beta = 100 reaches e^100 (finite) and agrees; at beta = 1000 both refuse."""
    rng = np.random.default_rng(1)
    x = mf.sample_sphere(200, 3, rng)
    usa = mf.Attention(100.0, normalized=False)
    F = spectral_field(usa, x, x, np.full(200, 1 / 200))
    assert np.abs(F).max() > 1e40
    assert rel(F, direct_field(usa, x, x, np.full(200, 1 / 200))) < 1e-10
    for method in ("spectral", "direct"):
        with pytest.raises(UnnormalizedOverflowError, match="overflows float64"):
            mf.Attention(1000.0, normalized=False).velocity(x, method=method)


def test_fallback_rescues_targets_facing_away_from_the_sources():
    """Sources in a cap, z pointing away: the scaled denominator is ~e^{-2 beta}, far below the
    expansion's round-off, so the expansion alone is wrong and the fallback must take over."""
    rng = np.random.default_rng(2)
    y = mf.sample_sphere(2000, 3, rng)
    y = y[y[:, 2] > 0.8]
    w = rng.random(y.shape[0])
    x = np.vstack([[[0.0, 0.0, -1.0], [0.6, 0.0, -0.8]], mf.sample_sphere(50, 3, rng)])
    model = mf.Attention(60.0)
    ref = direct_field(model, x, y, w)
    assert rel(spectral_field(model, x, y, w, fallback=None), ref) > 1e-8  # needs the fallback
    assert rel(spectral_field(model, x, y, w), ref) < 1e-10


def test_stable_at_beta_200_clustered_tokens():
    """SA at beta = 200 on two tight clusters (targets = sources): finite and exact to 1e-10."""
    rng = np.random.default_rng(3)
    c = np.array([[1.0, 0, 0], [0, 0.6, 0.8]])
    x = c[rng.integers(0, 2, 600)] + 0.05 * rng.standard_normal((600, 3))
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    model = mf.Attention(200.0)
    w = np.full(600, 1 / 600)
    with np.errstate(over="raise", invalid="raise"):
        F = spectral_field(model, x, x, w, fallback=None)
    assert rel(F, direct_field(model, x, x, w)) < 1e-10


def test_beta_zero_is_the_mean_and_zero_weights_are_ignored():
    """beta = 0: the SA field is P_x m with m the weighted mean (mass moves toward the mean)."""
    rng = np.random.default_rng(4)
    for d in (2, 3):
        x, y = mf.sample_sphere(30, d, rng), mf.sample_sphere(80, d, rng)
        w = rng.random(80)
        w[::3] = 0.0
        m = (w / w.sum()) @ y
        v = mf.Attention(0.0).velocity(x, y, w, method="spectral")
        np.testing.assert_allclose(v, m - x * (x @ m)[:, None], atol=1e-14)


def test_particle_solver_uses_the_spectral_field():
    rng = np.random.default_rng(5)
    x0 = mf.sample_sphere(300, 3, rng)
    model = mf.Attention(4.0, V=np.eye(3) + 0.3 * rng.standard_normal((3, 3)))
    t = [0.0, 1.0]
    a = mf.solve_particles(model, x0, t, dt=0.05, field="spectral")
    b = mf.solve_particles(model, x0, t, dt=0.05, field="direct")
    assert np.abs(a.x[-1] - b.x[-1]).max() < 1e-10
    assert np.abs(a.x[-1] - x0).max() > 0.1  # tokens really moved


# --------------------------------------------------------------------------- building blocks


def test_schmidt_harmonics_against_scipy_and_addition_theorem():
    rng = np.random.default_rng(6)
    a = mf.sample_sphere(40, 3, rng)
    b = mf.sample_sphere(40, 3, rng)
    a[0], b[1] = (0, 0, 1), (0, 0, -1)  # poles
    L = 80
    Sa, Sb = schmidt_harmonics(a, L), schmidt_harmonics(b, L)
    for ell in (0, 1, 5, 33, 80):
        lhs = np.sum((Sa[:, ell] * np.conj(Sb[:, ell])).real, axis=1)
        np.testing.assert_allclose(lhs, eval_legendre(ell, np.sum(a * b, 1)), atol=1e-13)
    theta, phi = np.arccos(a[:, 2]), np.arctan2(a[:, 1], a[:, 0])
    for ell, m in [(2, 0), (3, 1), (10, 7), (40, 33), (60, 2)]:
        # scipy: orthonormal, Condon-Shortley phase; ours: Schmidt, no phase
        f = np.sqrt((2 * ell + 1) / (4 * np.pi)) * (1.0 if m == 0 else (-1) ** m / np.sqrt(2))
        np.testing.assert_allclose(f * Sa[:, ell, m], sph_harm_y(ell, m, theta, phi), atol=1e-13)


@pytest.mark.parametrize("d", [2, 3])
def test_zonal_weights_and_truncation_against_scipy(d):
    r = np.array([0.0, 1e-9, 0.3, 4.0, 37.0, 200.0, 1000.0])
    for tol in (1e-15, 1e-8):
        L = truncation(r.max(), d, tol)
        ell = np.arange(L + 1)
        if d == 2:
            exact = np.where(ell == 0, 1.0, 2.0)[:, None] * ive(ell[:, None], r)
        else:
            with np.errstate(divide="ignore", invalid="ignore"):
                exact = (2 * ell + 1)[:, None] * ive(ell[:, None] + 0.5, r) * np.sqrt(np.pi / 2 / r)
            exact[:, 0] = ell == 0
        np.testing.assert_allclose(zonal_weights(r, d, L), exact, rtol=1e-12, atol=1e-280)
        # the neglected tail at the largest radius is below tol, and L is the smallest such
        big = ive(np.arange(L + 1, L + 400) + (0.0 if d == 2 else 0.5), r.max())
        fac = 2.0 if d == 2 else (2 * np.arange(L + 1, L + 400) + 1) * np.sqrt(np.pi / 2 / r.max())
        assert np.sum(fac * big) <= tol < np.sum(fac * big) + exact[L, -1]


# --------------------------------------------------------------------------- errors, auto


def test_bad_input():
    x = mf.sample_sphere(10, 4, 0)
    with pytest.raises(ValueError, match="R\\^2 or R\\^3"):
        mf.Attention(1.0).velocity(x, method="spectral")
    assert not prefer_spectral(mf.Attention(1.0), x, x)
    x3 = mf.sample_sphere(10, 3, 0)
    with pytest.raises(ValueError, match="tol must be"):
        mf.Attention(1.0).velocity(x3, method="spectral", tol=2.0)
    with pytest.raises(ValueError, match="fallback must be"):
        mf.Attention(1.0).velocity(x3, method="spectral", fallback=-1.0)
    with pytest.raises(ValueError, match="use method='direct'"):
        mf.Attention(1e5).velocity(x3, method="spectral")


def test_auto_matches_direct_and_picks_by_cost():
    rng = np.random.default_rng(7)
    model = mf.Attention(4.0)
    small = mf.sample_sphere(20, 3, rng)
    assert not prefer_spectral(model, small, small)
    x = mf.sample_sphere(3000, 3, rng)
    assert prefer_spectral(model, x, x)  # so "auto" below runs the spectral evaluator
    auto = model.velocity(x, method="auto", tol=1e-15)  # a spectral option passes through
    assert rel(auto, model.velocity(x, method="direct")) < 1e-10
    np.testing.assert_array_equal(
        model.velocity(small, method="auto", tol=1e-15), model.velocity(small, method="direct")
    )


# --------------------------------------------------------------------------- direct evaluator


def test_direct_beta_1000_two_sources_analytic():
    r"""Two weighted sources: F = V (y_1 + rho y_2)/(1 + rho), rho = (w_2/w_1) e^{<Ax, y_2-y_1>}.

    At beta = 1000 the logits reach 1000 (e^1000 overflows); the closed form needs only their
    difference."""
    rng = np.random.default_rng(8)
    model = random_model(3, 1000.0, True, rng)
    y = mf.sample_sphere(2, 3, rng)
    w = np.array([0.3, 0.7])
    x = mf.sample_sphere(50, 3, rng)
    gap = x @ model.interaction(3).T @ (y[1] - y[0])
    with np.errstate(over="ignore"):
        rho = (w[1] / w[0]) * np.exp(gap)
    inf = np.isinf(rho)
    mix = np.where(inf[:, None], y[1], (y[0] + rho[:, None] * y[1]) / (1 + rho[:, None]))
    expect = mix @ model.value(3).T
    assert np.abs(x @ model.interaction(3).T @ y.T).max() > 710  # e^logit overflows float64
    with np.errstate(over="raise", invalid="raise"):
        got = direct_field(model, x, y, w)
    np.testing.assert_allclose(got, expect, rtol=1e-11, atol=1e-13)


def test_direct_beta_1000_matches_mpmath():
    """Random Q, K, V at beta = 1000 against 40-digit arithmetic."""
    mpmath = pytest.importorskip("mpmath")
    mp = mpmath.mp.clone()
    mp.dps = 40
    rng = np.random.default_rng(9)
    model = random_model(3, 1000.0, True, rng)
    x, y = mf.sample_sphere(4, 3, rng), mf.sample_sphere(25, 3, rng)
    w = rng.random(25)
    A, V = model.interaction(3), model.value(3)
    got = direct_field(model, x, y, w)
    for i in range(4):
        z = [mp.fsum(mp.mpf(A[a, b]) * mp.mpf(x[i, b]) for b in range(3)) for a in range(3)]
        e = [
            mp.mpf(w[j]) * mp.exp(mp.fsum(z[a] * mp.mpf(y[j, a]) for a in range(3)))
            for j in range(25)
        ]
        den = mp.fsum(e)
        mean = [mp.fsum(e[j] * mp.mpf(y[j, k]) for j in range(25)) / den for k in range(3)]
        ref = [float(mp.fsum(mp.mpf(V[a, k]) * mean[k] for k in range(3))) for a in range(3)]
        np.testing.assert_allclose(got[i], ref, rtol=1e-12, atol=1e-14)


def test_memory_is_bounded():
    """n = 50 000 sources in R^3: an n x n array would be 20 GB; both evaluators stay far below
    100 MB. Direct's buffers do not depend on the target count (one tile per worker), so 4000
    targets keep the test short."""
    import tracemalloc

    y = mf.sample_sphere(50_000, 3, 10)
    w = np.full(50_000, 2e-5)
    model = mf.Attention(4.0)
    tracemalloc.start()
    direct_field(model, y[:4000], y, w)
    direct_peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.reset_peak()
    spectral_field(model, y, y, w)
    spectral_peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert direct_peak < 20e6
    assert spectral_peak < 100e6


@pytest.mark.parametrize("beta", [1.0, 340.0])
def test_direct_fixed_shift_matches_online_max_shift(beta, monkeypatch):
    """Logits bounded by |z| <= 350 are shifted by the bound; the online running-max path
    (forced here) gives the same field, also at beta = 340 where e^{-2 beta} is near the
    smallest normal double."""
    import meanfield.field.direct as velocity

    rng = np.random.default_rng(11)
    model = random_model(3, beta, True, rng)
    x, y = mf.sample_sphere(300, 3, rng), mf.sample_sphere(500, 3, rng)
    w = rng.random(500)
    fixed = direct_field(model, x, y, w, chunk_size=4096)
    monkeypatch.setattr(velocity, "FIXED_SHIFT_MAX", -1.0)
    online = direct_field(model, x, y, w, chunk_size=4096)
    np.testing.assert_allclose(fixed, online, rtol=1e-12, atol=1e-13)
