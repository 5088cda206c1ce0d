"""The token right-hand side (field/tokens.py): "auto" resolved once per token count, the
batched direct path, and agreement with the validated entry point."""

import numpy as np

import meanfield as mf
from meanfield.field import registry, tokens
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
