"""The token right-hand side (field/tokens.py): "auto" resolved once per token count, the
batched direct path, and agreement with the validated entry point."""

import numpy as np
import pytest

import meanfield as mf
from meanfield.field import registry, tokens
from meanfield.field.direct import direct_field
from meanfield.field.kernels import normalize


def test_auto_is_resolved_once_per_token_count(monkeypatch):
    calls = []
    real = registry.cheapest

    def counting(model, x, y):
        calls.append(x.shape[0])
        return real(model, x, y)

    monkeypatch.setattr(tokens, "cheapest", counting)
    model = mf.Attention(9.0)
    f = tokens.token_rhs(model, "auto", epsilon=1e-12)  # a ducc option, dropped for direct
    for n in (20, 3000):
        x = mf.sample_sphere(n, 2, n)
        for _ in range(3):
            v = f(x + 1e-3)  # off the sphere: f evaluates at x / |x|
        u = normalize(x + 1e-3)
        assert np.abs(v - model.velocity(u, method="direct")).max() < 1e-10
    assert calls == [20, 3000]


def test_batched_states_match_one_system_at_a_time():
    """SA and USA, identity and general Q, K, V, a logit bound past the fixed shift (beta 400)."""
    g = np.random.default_rng(2)
    Q, K, V = np.eye(3) + 0.3 * g.standard_normal((3, 3, 3))
    models = [
        mf.Attention(4.0),
        mf.Attention(3.0, normalized=False),
        mf.Attention(2.0, Q=Q, K=K, V=V),
        mf.Attention(400.0),
    ]
    x = np.stack([mf.sample_sphere(16, 3, s) for s in range(5)])
    for model in models:
        for field in ("auto", "direct", "ducc"):
            v = tokens.token_rhs(model, field)(x)
            ref = np.stack([model.velocity(xi, method="direct") for xi in x])
            assert np.abs(v - ref).max() < 1e-10 * np.abs(ref).max()


def _batch(d=3, B=5, n=16):
    return np.stack([mf.sample_sphere(n, d, 10 + s) for s in range(B)])


def test_a_batch_is_integrated_token_last_with_the_same_field():
    """token_ode: a batch that takes the batched direct evaluator is stored (B, d, n); its
    right-hand side, projection and restore give token_rhs's values in (B, n, d), off the
    sphere too (Runge–Kutta stages). Single systems and other evaluators keep the layout."""
    g = np.random.default_rng(4)
    Q, K, V = np.eye(3) + 0.3 * g.standard_normal((3, 3, 3))
    x = _batch() * (1 + 1e-3 * g.standard_normal((5, 16, 1)))
    for model in (mf.Attention(4.0), mf.Attention(3.0, Q=Q, K=K, V=V, normalized=False)):
        ode = tokens.token_ode(model, x)
        assert ode.y0.shape == (5, 3, 16) and ode.y0.flags.c_contiguous
        np.testing.assert_array_equal(ode.restore(ode.y0[None]), x[None])
        ref = tokens.token_rhs(model, "direct")(x)
        v = ode.restore(ode.rhs(ode.y0))
        assert np.abs(v - ref).max() < 1e-13 * np.abs(ref).max()
        np.testing.assert_allclose(ode.restore(ode.project(ode.y0)), normalize(x), atol=1e-15)
    for x0, field in ((x[0], "auto"), (x, "spectral")):
        ode = tokens.token_ode(mf.Attention(4.0), x0, field)
        assert ode.y0 is x0 and ode.project is normalize


@pytest.mark.parametrize(
    ("normalized", "scale"), [(True, 1.0), (True, 15.0), (False, 1.0), (False, 10.0)]
)
def test_column_field_matches_direct_with_and_without_the_shift(normalized, scale):
    """Logit bound beta r^2 = 4 (no shift needed), 900 (SA: e^900 overflows unshifted) and
    400 (USA past FIXED_SHIFT_MAX: shifted by each target's maximum, multiplied back): all
    equal the direct evaluator."""
    model = mf.Attention(4.0, normalized=normalized)
    x = scale * _batch()
    F = tokens.column_field(model, np.ascontiguousarray(np.swapaxes(x, 1, 2)))
    w = np.full(16, 1 / 16)
    ref = np.stack([direct_field(model, xi, xi, w) for xi in x])
    assert np.abs(np.swapaxes(F, 1, 2) - ref).max() < 1e-12 * np.abs(ref).max()
