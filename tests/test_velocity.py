"""The direct evaluator: exact facts (two tokens, beta = 0, uniform measure), invariances,
stability and bad input."""

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

import meanfield as mf
from meanfield.field import UnnormalizedOverflowError, direct_field


def brute(model, x, y, w):
    """Textbook formula with a dense kernel (small sizes only)."""
    d = x.shape[1]
    E = np.exp(x @ model.interaction(d).T @ y.T) * w
    F = E @ (y @ model.value(d).T)
    if model.normalized:
        F = F / E.sum(1, keepdims=True)
    return F - x * np.sum(x * F, 1, keepdims=True)


@pytest.mark.parametrize("normalized", [True, False])
@pytest.mark.parametrize("d", [2, 3, 5])
def test_direct_matches_dense_formula_general_qkv(normalized, d):
    rng = np.random.default_rng(d)
    Q, K, V = rng.standard_normal((3, d, d))
    model = mf.Attention(1.5, Q=Q, K=K, V=V, normalized=normalized)
    x, y = mf.sample_sphere(37, d, rng), mf.sample_sphere(53, d, rng)
    w = rng.random(53)
    got = model.velocity(x, y, w, method="direct", chunk_size=64)  # forces many tiles
    np.testing.assert_allclose(got, brute(model, x, y, w), rtol=1e-12, atol=1e-12)


def test_tangent_to_sphere():
    rng = np.random.default_rng(1)
    x = mf.sample_sphere(300, 4, rng)
    v = mf.Attention(3.0, V=rng.standard_normal((4, 4))).velocity(x, method="direct")
    assert np.abs(np.sum(v * x, 1)).max() < 1e-14


def test_beta_zero_moves_toward_mean():
    rng = np.random.default_rng(2)
    x, y = mf.sample_sphere(20, 3, rng), mf.sample_sphere(40, 3, rng)
    w = rng.random(40)
    v = mf.Attention(0.0).velocity(x, y, w, method="direct")
    m = (w / w.sum()) @ y
    np.testing.assert_allclose(v, m - x * (x @ m)[:, None], atol=1e-15)


def _icosahedron():
    p = (1 + 5**0.5) / 2
    v = [(0, s1, s2 * p) for s1 in (-1, 1) for s2 in (-1, 1)]
    v = [c for a in v for c in (a, (a[1], a[2], a[0]), (a[2], a[0], a[1]))]
    v = np.array(v, float)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


@pytest.mark.parametrize("beta", [0.5, 4.0, 30.0])
@pytest.mark.parametrize("normalized", [True, False])
def test_symmetric_configurations_are_stationary(beta, normalized):
    """Uniform measure stationary: the field of a symmetric (uniform) point set vanishes."""
    model = mf.Attention(beta, normalized=normalized)
    circle = np.stack(
        [np.cos(2 * np.pi * np.arange(11) / 11), np.sin(2 * np.pi * np.arange(11) / 11)], 1
    )
    for pts in (circle, _icosahedron()):
        v = model.velocity(pts, method="direct")
        scale = 1.0 if normalized else np.exp(beta)
        assert np.abs(v).max() < 1e-13 * scale


def test_rotation_and_permutation_equivariance():
    rng = np.random.default_rng(3)
    x = mf.sample_sphere(80, 3, rng)
    model = mf.Attention(5.0)
    v = model.velocity(x, method="direct")
    R = Rotation.random(random_state=4).as_matrix()
    np.testing.assert_allclose(model.velocity(x @ R.T, method="direct"), v @ R.T, atol=1e-14)
    perm = rng.permutation(80)
    np.testing.assert_allclose(model.velocity(x[perm], method="direct"), v[perm], atol=1e-15)


def test_large_beta_is_finite_and_correct():
    """beta = 1000, two tokens at angle theta: each moves at sin(theta)/(1+e^{beta(1-cos)})."""
    theta = 0.05
    x = np.array([[1.0, 0.0, 0.0], [np.cos(theta), np.sin(theta), 0.0]])
    v = mf.Attention(1000.0).velocity(x, method="direct")
    assert np.all(np.isfinite(v))
    expect = np.sin(theta) / (1.0 + np.exp(1000.0 * (1 - np.cos(theta))))
    np.testing.assert_allclose(np.linalg.norm(v, axis=1), expect, rtol=1e-12)
    # on a random cloud: no overflow or invalid operation (underflow to 0 is the point)
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        x = mf.sample_sphere(500, 3, 5)
        assert np.all(np.isfinite(mf.Attention(1000.0).velocity(x, method="direct")))


def test_usa_overflow_is_a_clear_error():
    x = mf.sample_sphere(10, 3, 0)
    with pytest.raises(UnnormalizedOverflowError, match="overflows float64"):
        mf.Attention(1000.0, normalized=False).velocity(x, method="direct")
    assert issubclass(UnnormalizedOverflowError, ValueError)


def test_zero_weight_sources_are_ignored():
    rng = np.random.default_rng(6)
    x, y = mf.sample_sphere(5, 3, rng), mf.sample_sphere(8, 3, rng)
    w = rng.random(8)
    w[[0, 3]] = 0.0
    m = mf.Attention(50.0)
    np.testing.assert_allclose(
        m.velocity(x, y, w, method="direct"), m.velocity(x, y[w > 0], w[w > 0], method="direct")
    )


def test_direct_memory_is_bounded():
    """n = 50 000 targets and sources: peak far below the 20 GB an n x n array would take."""
    import tracemalloc

    x = mf.sample_sphere(50_000, 3, 7)[:2000]
    y = mf.sample_sphere(50_000, 3, 8)
    tracemalloc.start()
    direct_field(mf.Attention(1.0), x, y, np.full(50_000, 2e-5))
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 50e6


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda m: m.velocity(np.ones((3, 3))), "x must lie on the unit sphere"),
        (lambda m: m.velocity(np.array([[1.0, 0, np.nan]])), "x must be finite"),
        (lambda m: m.velocity(np.array([1.0, 0, 0])), "x must be a 2-D array"),
        (lambda m: m.velocity(np.eye(3), y=np.eye(2)), "y must have 3 columns"),
        (lambda m: m.velocity(np.eye(3), weights=[1, 2]), r"weights must have shape \(3,\)"),
        (lambda m: m.velocity(np.eye(3), weights=[1, -2, 1]), "weights must be non-negative"),
        (lambda m: m.velocity(np.eye(3), method="fast"), "method must be one of"),
        (lambda m: mf.Attention(1.0, Q=np.eye(4)).velocity(np.eye(3)), "x must have 4 columns"),
    ],
)
def test_bad_input(call, match):
    with pytest.raises(ValueError, match=match):
        call(mf.Attention(1.0))
