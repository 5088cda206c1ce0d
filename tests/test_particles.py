"""Token solver: two-token oracle, RK4 order, invariants, clustering, general Q/K/V."""

import numpy as np
import pytest

import meanfield as mf
from meanfield.diagnostics import energy, find_clusters


def _angle(a, b):
    return np.arctan2(np.linalg.norm(np.cross(a, b), axis=-1), np.sum(a * b, -1))


def test_sample_sphere_is_uniform_and_seeded():
    x = mf.sample_sphere(20_000, 3, 0)
    np.testing.assert_allclose(np.linalg.norm(x, axis=1), 1.0, atol=1e-15)
    assert np.abs(x.mean(0)).max() < 4 / np.sqrt(20_000)  # mean of a uniform law is 0
    np.testing.assert_allclose((x**2).mean(0), 1 / 3, atol=0.02)  # second moment is I/d
    np.testing.assert_array_equal(mf.sample_sphere(5, 4, 1), mf.sample_sphere(5, 4, 1))
    g = np.random.default_rng(1)
    np.testing.assert_array_equal(mf.sample_sphere(5, 4, g).shape, (5, 4))


@pytest.mark.parametrize("normalized", [True, False])
@pytest.mark.parametrize("beta", [0.5, 2.0, 5.0])
def test_two_tokens_follow_angle_ode(normalized, beta):
    theta0 = 0.7
    x0 = np.array([[1.0, 0.0, 0.0], [np.cos(theta0), 0.0, np.sin(theta0)]])
    t = np.linspace(0.0, 2.0, 5)
    model = mf.Attention(beta, normalized=normalized)
    dt = 2e-3 if normalized else 2e-3 * np.exp(-beta / 2)
    traj = mf.solve_particles(model, x0, t, dt=dt)
    theta = _angle(traj.x[:, 0], traj.x[:, 1])
    expect = mf.theory.two_token_angle(theta0, t, beta, normalized)
    np.testing.assert_allclose(theta, expect, atol=1e-8, rtol=0)
    assert expect[-1] < 0.9 * theta0  # the check is not vacuous: the angle really moved


def test_rk4_order():
    rng = np.random.default_rng(0)
    x0 = mf.sample_sphere(12, 3, rng)
    model = mf.Attention(2.0, V=np.eye(3) + 0.3 * rng.standard_normal((3, 3)))
    t = [0.0, 1.0]
    ref = mf.solve_particles(model, x0, t, method="dop853").x[-1]
    dts = np.array([0.2, 0.1, 0.05, 0.025])
    err = [np.abs(mf.solve_particles(model, x0, t, dt=h).x[-1] - ref).max() for h in dts]
    slope = np.polyfit(np.log(dts), np.log(err), 1)[0]
    print(f"RK4 fitted order: {slope:.3f} (errors {err})")
    assert 3.7 <= slope <= 4.3


@pytest.mark.parametrize("normalized", [True, False])
def test_energy_non_decreasing(normalized):
    x0 = mf.sample_sphere(60, 3, 1)
    beta = 3.0
    traj = mf.solve_particles(mf.Attention(beta, normalized=normalized), x0, np.linspace(0, 4, 41))
    E = np.array([energy(x, beta) for x in traj.x])
    assert np.all(np.diff(E) >= -1e-12 * E[:-1])
    assert E[-1] > 1.05 * E[0]


def test_collapse_to_one_cluster_d3():
    x0 = mf.sample_sphere(100, 3, 2)
    traj = mf.solve_particles(mf.Attention(1.0), x0, [0.0, 30.0])
    assert find_clusters(traj.x[0], radius=0.05).count > 50
    c = find_clusters(traj.x[-1], radius=0.05)
    assert c.count == 1 and c.masses[0] == pytest.approx(1.0)


def test_general_qkv_rk4_matches_dop853_d5():
    rng = np.random.default_rng(5)
    Q, K, V = rng.standard_normal((3, 5, 5)) / np.sqrt(5)
    model = mf.Attention(1.0, Q=Q, K=K, V=V)
    x0 = mf.sample_sphere(20, 5, rng)
    t = np.linspace(0.0, 2.0, 3)
    a = mf.solve_particles(model, x0, t, dt=5e-3)
    b = mf.solve_particles(model, x0, t, method="dop853")
    assert np.abs(a.x - b.x).max() < 1e-7
    assert np.abs(a.x[-1] - x0).max() > 1e-2  # tokens moved
    assert a.x.shape == (3, 20, 5) and b.t.shape == (3,)


def test_output_times_are_hit_and_initial_state_kept():
    x0 = mf.sample_sphere(10, 2, 3)
    traj = mf.solve_particles(mf.Attention(1.0), x0, [0.0, 0.0, 0.3, 1.0])
    np.testing.assert_array_equal(traj.x[0], x0)
    np.testing.assert_array_equal(traj.x[1], x0)
    assert traj.t.tolist() == [0.0, 0.0, 0.3, 1.0]
    np.testing.assert_allclose(np.linalg.norm(traj.x, axis=-1), 1.0, atol=1e-14)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"x0": np.ones((4, 3))}, "x0 must lie on the unit sphere"),
        ({"x0": np.eye(3)[:, :1]}, "x0 must have d >= 2"),
        ({"t_eval": [1.0, 0.0]}, "t_eval must be non-decreasing"),
        ({"t_eval": [0.0, np.nan]}, "t_eval must be finite"),
        ({"dt": -0.1}, "dt must be > 0"),
        ({"method": "euler"}, "method must be one of"),
        ({"field": "fmm"}, "field must be one of"),
        ({"model": "attention"}, "model must be a meanfield.Attention"),
    ],
)
def test_bad_input(kwargs, match):
    args = {"model": mf.Attention(1.0), "x0": np.eye(3), "t_eval": [0.0, 1.0]} | kwargs
    with pytest.raises(ValueError, match=match):
        mf.solve_particles(**args)


@pytest.mark.parametrize(
    "args, match",
    [((0, 3, 1), "n must be >= 1"), ((5, 1, 1), "d must be >= 2"), ((5, 3, "x"), "rng must be")],
)
def test_sample_sphere_bad_input(args, match):
    with pytest.raises(ValueError, match=match):
        mf.sample_sphere(*args)


@pytest.mark.parametrize("normalized", [True, False])
def test_batched_matches_one_by_one(normalized):
    rng = np.random.default_rng(8)
    x0 = mf.sample_sphere(5 * 16, 3, rng).reshape(5, 16, 3)
    V = np.eye(3) + 0.2 * rng.standard_normal((3, 3))
    model = mf.Attention(3.0, V=V, normalized=normalized)
    t = [0.0, 0.5, 1.0]
    batched = mf.solve_particles(model, x0, t, dt=0.01)
    assert batched.x.shape == (3, 5, 16, 3)
    for b in range(5):
        single = mf.solve_particles(model, x0[b], t, dt=0.01)
        np.testing.assert_allclose(batched.x[:, b], single.x, rtol=0, atol=1e-13)
    assert np.abs(batched.x[-1] - x0).max() > 1e-2


def test_batched_dop853_and_memory_grouping(monkeypatch):
    """Groups of the batch are processed separately when the logits block would be too big."""
    import meanfield.field.tokens as P

    x0 = mf.sample_sphere(4 * 10, 2, 9).reshape(4, 10, 2)
    model = mf.Attention(2.0)
    ref = mf.solve_particles(model, x0, [0.0, 1.0], method="dop853")
    monkeypatch.setattr(P, "BATCH_TILE", 100)  # one member (10 x 10 logits) per group
    grouped = mf.solve_particles(model, x0, [0.0, 1.0], dt=0.01)
    np.testing.assert_allclose(grouped.x, ref.x, atol=1e-8)


# ------------------------------------------------------------------ noisy tokens
def test_noisy_tokens_reproducible_from_rng_and_batched():
    model = mf.Attention(2.0)
    x0 = mf.sample_sphere(40, 3, 0)
    t = np.linspace(0.0, 0.5, 3)
    a = mf.solve_particles(model, x0, t, dt=0.01, diffusion=0.2, rng=7)
    b = mf.solve_particles(model, x0, t, dt=0.01, diffusion=0.2, rng=np.random.default_rng(7))
    c = mf.solve_particles(model, x0, t, dt=0.01, diffusion=0.2, rng=8)
    np.testing.assert_array_equal(a.x, b.x)
    assert np.abs(a.x - c.x).max() > 1e-2
    np.testing.assert_allclose(np.linalg.norm(a.x, axis=-1), 1.0, atol=1e-14)
    assert a.method == "rk4-em"
    xb = np.stack([x0, mf.sample_sphere(40, 3, 1)])
    em = mf.solve_particles(
        model, xb, t, dt=0.01, method="em", diffusion=0.2, rng=3, field="direct"
    )
    assert em.x.shape == (3, 2, 40, 3) and em.method == "em"


def test_noise_spreads_a_cluster_at_the_brownian_rate():
    """Zero field (V = 0): E<x_t, x_0> = exp(-(d - 1) D t) in d = 4 (any d works)."""
    d, D, t = 4, 0.3, 0.5
    model = mf.Attention(1.0, V=np.zeros((d, d)))
    x0 = np.zeros((20000, 1, d))
    x0[..., 0] = 1.0
    traj = mf.solve_particles(model, x0, [0.0, t], dt=t / 64, method="em", diffusion=D, rng=0)
    s = traj.x[-1, :, 0, 0]
    assert s.mean() == pytest.approx(
        np.exp(-(d - 1) * D * t), abs=5 * s.std() / np.sqrt(s.size) + 0.01
    )


@pytest.mark.parametrize("bad", [-0.1, float("nan"), "x"])
def test_bad_token_diffusion_named(bad):
    with pytest.raises(ValueError, match="diffusion"):
        mf.solve_particles(mf.Attention(1.0), mf.sample_sphere(5, 3, 0), [0, 1], diffusion=bad)


def test_dop853_refuses_noise_and_zero_noise_changes_nothing():
    model = mf.Attention(1.0)
    x0 = mf.sample_sphere(8, 3, 0)
    with pytest.raises(ValueError, match="dop853"):
        mf.solve_particles(model, x0, [0, 1], method="dop853", diffusion=0.1)
    a = mf.solve_particles(model, x0, [0, 1], dt=0.1)
    b = mf.solve_particles(model, x0, [0, 1], dt=0.1, diffusion=0.0, rng=1)
    np.testing.assert_array_equal(a.x, b.x)
