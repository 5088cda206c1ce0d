"""The ducc0 evaluator (S^1: NUFFT, S^2: spherical-harmonic transforms) against direct
summation and the NumPy spectral evaluator; its Chebyshev expansion in r, fallback, errors,
and the "auto" choice between evaluators."""

import numpy as np
import pytest
from helpers import random_model, rel

import meanfield as mf
from meanfield.field import UnnormalizedOverflowError, direct_field
from meanfield.field.ducc import MAX_RADIAL_TERMS, ducc_cost, ducc_field, radial_terms
from meanfield.field.registry import EVALUATORS, cheapest
from meanfield.field.spectral import spectral_field


@pytest.mark.parametrize("normalized", [True, False])
@pytest.mark.parametrize("beta", [0.5, 4.0, 20.0, 100.0])
@pytest.mark.parametrize("d", [2, 3])
def test_random_qkv_weighted_sources_other_targets(d, beta, normalized):
    """Random Q, K, V (radii spread: Chebyshev terms in r), weighted sources with zeros,
    targets != sources: relative max-norm error <= 1e-10, with and without the fallback."""
    rng = np.random.default_rng([d, int(beta), normalized, 14])
    model = random_model(d, beta, normalized, rng)
    x, y = mf.sample_sphere(150, d, rng), mf.sample_sphere(400, d, rng)
    w = rng.random(400)
    w[:20] = 0.0
    ref = direct_field(model, x, y, w)
    assert rel(ducc_field(model, x, y, w, fallback=None), ref) < 1e-10
    assert rel(ducc_field(model, x, y, w), ref) < 1e-10
    v = model.velocity(x, y, w, method="ducc")
    assert rel(v, model.velocity(x, y, w, method="direct")) < 1e-10
    assert np.abs(np.sum(v * x, axis=1)).max() < 1e-13 * np.abs(v).max()  # tangent


@pytest.mark.parametrize("normalized", [True, False])
@pytest.mark.parametrize("d", [2, 3])
def test_identity_tokens_one_radius(d, normalized):
    """Q = K = V = I, targets are the sources (one NUFFT plan on S^1): one radial term,
    agreement with direct and with the NumPy spectral evaluator."""
    rng = np.random.default_rng([d, normalized, 1])
    model = mf.Attention(9.0, normalized=normalized)
    x = mf.sample_sphere(2000, d, rng)
    w = np.full(2000, 1 / 2000)
    assert radial_terms(model, x, 30) == 1
    F = ducc_field(model, x, x, w)
    assert rel(F, direct_field(model, x, x, w)) < 1e-10
    assert rel(F, spectral_field(model, x, x, w)) < 1e-10


@pytest.mark.parametrize("d", [2, 3])
def test_value_matrix_and_off_sphere_targets(d):
    """Only V (Q = K = I, one radius on the sphere) and targets of several lengths (radii
    spread by |x|): both agree with direct."""
    rng = np.random.default_rng([d, 2])
    V = rng.standard_normal((d, d))
    model = mf.Attention(6.0, V=V)
    y = mf.sample_sphere(500, d, rng)
    w = rng.random(500)
    x = mf.sample_sphere(200, d, rng)
    assert rel(ducc_field(model, x, y, w), direct_field(model, x, y, w)) < 1e-10
    x_off = x * rng.uniform(0.3, 1.7, (200, 1))
    assert radial_terms(model, x_off, 30) > 1
    assert rel(ducc_field(model, x_off, y, w), direct_field(model, x_off, y, w)) < 1e-10


@pytest.mark.parametrize("d", [2, 3])
def test_zero_radii_beta_zero_and_singular_interaction(d):
    """beta = 0 gives the weighted mean of V y everywhere; a rank-one Q makes A x = 0 on a
    great circle/pair of points of targets, mixed with A x != 0 elsewhere."""
    rng = np.random.default_rng([d, 3])
    y = mf.sample_sphere(300, d, rng)
    w = rng.random(300)
    x = mf.sample_sphere(100, d, rng)
    V = rng.standard_normal((d, d))
    F0 = ducc_field(mf.Attention(0.0, V=V), x, y, w)
    np.testing.assert_allclose(F0, np.tile(V @ (w @ y) / w.sum(), (100, 1)), atol=1e-14)
    Q = np.zeros((d, d))
    Q[0, 0] = 1.0
    x[:10, 0] = 0.0  # A x = 0 exactly at these targets
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    model = mf.Attention(5.0, Q=Q, V=V)
    assert rel(ducc_field(model, x, y, w), direct_field(model, x, y, w)) < 1e-10


@pytest.mark.parametrize("d", [2, 3])
def test_fallback_where_denominator_is_tiny(d):
    """Sources in a narrow cap at beta = 30: opposite targets see D~ ~ e^{-60} W, far below the
    transforms' absolute error; the fallback recomputes them and the result still agrees."""
    rng = np.random.default_rng([d, 4])
    e = np.eye(d)[0]
    y = e + 0.05 * rng.standard_normal((300, d))
    y /= np.linalg.norm(y, axis=1, keepdims=True)
    w = rng.random(300)
    x = mf.sample_sphere(200, d, rng)
    model = mf.Attention(30.0)
    ref = direct_field(model, x, y, w)
    F = ducc_field(model, x, y, w)
    far = x @ e < -0.5
    assert far.sum() > 10
    assert np.abs(F - ref)[far].max() / np.abs(ref[far]).max() < 1e-10
    assert rel(F, ref) < 1e-10
    loose = ducc_field(model, x, y, w, fallback=None)
    assert np.abs(loose - ref)[far].max() / np.abs(ref[far]).max() > 1e-10  # needed it


def test_unnormalized_overflow_is_an_error():
    x = mf.sample_sphere(50, 3, 0)
    with pytest.raises(UnnormalizedOverflowError, match="overflows float64"):
        ducc_field(mf.Attention(800.0, normalized=False), x, x, np.full(50, 0.02))


def test_bad_input():
    x = mf.sample_sphere(10, 4, 0)
    with pytest.raises(ValueError, match="R\\^2 or R\\^3"):
        mf.Attention(1.0).velocity(x, method="ducc")
    x3 = mf.sample_sphere(10, 3, 0)
    with pytest.raises(ValueError, match="epsilon must be in"):
        mf.Attention(1.0).velocity(x3, method="ducc", epsilon=1e-15)
    with pytest.raises(ValueError, match="tol must be"):
        mf.Attention(1.0).velocity(x3, method="ducc", tol=2.0)
    with pytest.raises(ValueError, match="fallback must be"):
        mf.Attention(1.0).velocity(x3, method="ducc", fallback=-1.0)
    with pytest.raises(ValueError, match="workers must be"):
        mf.Attention(1.0).velocity(x3, method="ducc", workers=0)


def test_radii_too_spread_go_to_spectral():
    """Radii from ~0 to 400 need more than MAX_RADIAL_TERMS polynomials: the NumPy expansion
    takes the call, and the answer is still right."""
    rng = np.random.default_rng(5)
    model = mf.Attention(60.0, V=rng.standard_normal((2, 2)))
    y = mf.sample_sphere(300, 2, rng)
    x = mf.sample_sphere(100, 2, rng) * np.linspace(0.01, 6.0, 100)[:, None]
    assert radial_terms(model, x, 153) == MAX_RADIAL_TERMS + 1
    w = rng.random(300)
    assert rel(ducc_field(model, x, y, w), direct_field(model, x, y, w)) < 1e-10


def test_auto_picks_by_cost_and_passes_own_options():
    rng = np.random.default_rng(6)
    model = mf.Attention(9.0)
    small = mf.sample_sphere(20, 3, rng)
    assert cheapest(model, small, small) == "direct"
    big = mf.sample_sphere(20000, 3, rng)
    assert cheapest(model, big, big) == "ducc"
    assert cheapest(model, mf.sample_sphere(20000, 5, rng), big[:, :2].repeat(1, 0)) == "direct"
    # general Q and K: many radial terms, so the NumPy expansion wins
    spread = random_model(3, 9.0, True, rng)
    assert cheapest(spread, big, big) == "spectral"
    assert ducc_cost(3, 20000, 20000, 30, 20) > ducc_cost(3, 20000, 20000, 30, 1)
    x = big[:3000]
    w = np.full(3000, 1 / 3000)
    # a ducc option reaches ducc and is dropped for direct
    auto = EVALUATORS["auto"](model, x, x, w, epsilon=1e-12)
    assert rel(auto, direct_field(model, x, x, w)) < 1e-10
    tiny = EVALUATORS["auto"](model, small, small, np.full(20, 0.05), epsilon=1e-12)
    np.testing.assert_array_equal(tiny, direct_field(model, small, small, np.full(20, 0.05)))
