"""The field's Jacobian and surface divergence (field/moments.py) against finite differences."""

import numpy as np
import pytest

import meanfield as mf
from meanfield.field.direct import direct_field
from meanfield.field.kernels import normalize, tangent
from meanfield.field.moments import (
    MOMENT_EVALUATORS,
    direct_moments,
    divergence,
    field_divergence,
)


def _random_model(d, beta, normalized, seed):
    g = np.random.default_rng(seed)
    Q, K, V = (np.eye(d) + 0.5 * g.standard_normal((d, d)) for _ in range(3))
    return mf.Attention(beta, Q=Q, K=K, V=V, normalized=normalized)


def _points(n, d, seed):
    g = np.random.default_rng(seed)
    return normalize(g.standard_normal((n, d)))


def _fd_jacobian(model, x, y, w, h=1e-5):
    """Central differences of the ambient field in every ambient direction."""
    m, d = x.shape
    cols = []
    for b in range(d):
        e = np.zeros(d)
        e[b] = h
        cols.append((direct_field(model, x + e, y, w) - direct_field(model, x - e, y, w)) / (2 * h))
    return np.stack(cols, axis=2)


def _fd_divergence(model, x, y, w, h=1e-5):
    r"""Sum over a tangent orthonormal basis of :math:`e_i\cdot\partial_{e_i}\tilde X`, with the
    radially constant extension :math:`\tilde X(p) = P_u F(u)`, u = p/|p| (independent of the
    trace formula)."""

    def X(p):
        u = normalize(p)
        return tangent(u, direct_field(model, u, y, w))

    m, d = x.shape
    g = np.random.default_rng(7)
    total = np.zeros(m)
    for i in range(m):
        # tangent basis at x_i: orthonormal complement of x_i
        q, _ = np.linalg.qr(np.column_stack([x[i], g.standard_normal((d, d - 1))]))
        for e in q[:, 1:].T:
            dp = X(x[i : i + 1] + h * e) - X(x[i : i + 1] - h * e)
            total[i] += e @ dp[0] / (2 * h)
    return total


@pytest.mark.parametrize("d", [2, 3, 4])
@pytest.mark.parametrize("normalized", [True, False])
def test_direct_jacobian_and_divergence_match_finite_differences(d, normalized):
    model = _random_model(d, 3.0, normalized, seed=d)
    y = _points(40, d, 1)
    w = np.random.default_rng(2).uniform(0.1, 1.0, 40) / 40
    x = _points(9, d, 3)
    F, DF = direct_moments(model, x, y, w)
    np.testing.assert_allclose(F, direct_field(model, x, y, w), rtol=1e-12, atol=1e-13)
    J = _fd_jacobian(model, x, y, w)
    scale = np.abs(J).max()
    assert np.abs(DF - J).max() < 1e-8 * scale
    div_fd = _fd_divergence(model, x, y, w)
    div = divergence(x, F, DF)
    assert np.abs(div - div_fd).max() < 1e-8 * max(1.0, np.abs(div).max())


def test_divergence_of_identity_model_is_laplacian_of_potential():
    # Q = K = V = I, USA: X = grad_S (1/beta) sum_j w_j e^{beta <x, y_j>}, so div X is the
    # Laplace-Beltrami of that potential: for f = e^{beta <x,y>} on S^{d-1},
    # Delta f = beta^2 (1 - c^2) f - (d - 1) beta c f with c = <x, y>.
    beta, d = 2.5, 3
    y, x = _points(30, d, 4), _points(7, d, 5)
    w = np.full(30, 1 / 30)
    c = x @ y.T
    f = np.exp(beta * c)
    lap = (beta**2 * (1 - c**2) - (d - 1) * beta * c) * f / beta
    _, div = field_divergence(mf.Attention(beta, normalized=False), x, y, w, method="direct")
    np.testing.assert_allclose(div, lap @ w, rtol=1e-12)


def test_large_beta_stays_finite_and_chunking_does_not_change_results():
    model = mf.Attention(1000.0)
    y, x = _points(300, 3, 6), _points(50, 3, 7)
    w = np.full(300, 1 / 300)
    F1, D1 = direct_moments(model, x, y, w)
    F2, D2 = direct_moments(model, x, y, w, chunk_size=7, workers=1)
    assert np.all(np.isfinite(D1))
    np.testing.assert_allclose(F1, F2, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(D1, D2, rtol=1e-9, atol=1e-9 * np.abs(D1).max())


def test_usa_overflow_is_an_error():
    model = mf.Attention(1000.0, normalized=False)
    x = _points(5, 3, 8)
    with pytest.raises(OverflowError, match="overflows"):
        direct_moments(model, x, x, np.full(5, 0.2))


def test_field_divergence_validates_method():
    x = _points(4, 2, 9)
    with pytest.raises(ValueError, match="method"):
        field_divergence(mf.Attention(1.0), x, method="nope")
    assert set(MOMENT_EVALUATORS) == {"direct", "ducc", "auto"}


@pytest.mark.parametrize("normalized", [True, False])
@pytest.mark.parametrize("d", [2, 3])
def test_ducc_moments_match_direct(d, normalized):
    """ducc0's first and second moments: field and Jacobian within 1e-10 of direct summation,
    for Q = K = V = I (one radius) and random Q, K, V (Chebyshev terms in r), weighted sources
    with zeros and targets != sources; the fallback keeps tiny-denominator targets right."""
    g = np.random.default_rng([d, normalized, 14])
    y, x = _points(600, d, 1), _points(300, d, 2)
    w = g.random(600)
    w[:30] = 0.0
    for model in (mf.Attention(6.0, normalized=normalized), _random_model(d, 4.0, normalized, 3)):
        F, DF = direct_moments(model, x, y, w)
        G, DG = MOMENT_EVALUATORS["ducc"](model, x, y, w)
        assert np.abs(G - F).max() < 1e-10 * np.abs(F).max()
        assert np.abs(DG - DF).max() < 1e-10 * np.abs(DF).max()
    cap = normalize(np.eye(d)[0] + 0.05 * g.standard_normal((200, d)))
    model = mf.Attention(30.0, normalized=normalized)
    F, DF = direct_moments(model, x, cap, w[:200])
    G, DG = MOMENT_EVALUATORS["ducc"](model, x, cap, w[:200])
    far = x[:, 0] < -0.5
    assert np.abs(DG - DF)[far].max() < 1e-10 * np.abs(DF[far]).max()


def test_auto_moments_pick_ducc_for_many_points_and_direct_for_few():
    model = mf.Attention(9.0)
    x = _points(20000, 3, 4)
    w = np.full(20000, 1 / 20000)
    X, div = field_divergence(model, x, x, w, method="auto", epsilon=1e-12)
    sub = slice(0, 200)
    F, DF = direct_moments(model, x[sub], x, w)
    assert np.abs(X[sub] - tangent(x[sub], F)).max() < 1e-10 * np.abs(F).max()
    assert np.abs(div[sub] - divergence(x[sub], F, DF)).max() < 1e-10 * np.abs(DF).max()
    few = _points(30, 3, 5)
    a = MOMENT_EVALUATORS["auto"](model, few, few, np.full(30, 1 / 30), epsilon=1e-12)
    b = direct_moments(model, few, few, np.full(30, 1 / 30))
    np.testing.assert_array_equal(a[1], b[1])
