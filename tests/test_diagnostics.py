import numpy as np
import pytest

import meanfield as mf
from meanfield.diagnostics import energy, find_clusters, first_moment, pairwise_cosines


def test_energy_matches_dense_sum():
    rng = np.random.default_rng(0)
    x = mf.sample_sphere(300, 3, rng)
    w = rng.random(300)
    beta = 2.5
    dense = (w[:, None] * w[None, :] * np.exp(beta * x @ x.T)).sum() / (2 * beta)
    assert energy(x, beta, w) == pytest.approx(dense, rel=1e-12)
    assert energy(x, 0.0) == pytest.approx(0.5 * np.sum(x.mean(0) ** 2))


def test_energy_at_large_beta():
    x = np.tile([[0.0, 0.0, 1.0]], (4, 1))  # a single cluster: E = e^beta / (2 beta)
    assert energy(x, 500.0) == pytest.approx(np.exp(500.0) / 1000.0, rel=1e-12)
    with pytest.raises(ValueError, match="energy overflows"):
        energy(x, 1000.0)


def test_pairwise_cosines_match_brute_force():
    x = mf.sample_sphere(257, 4, 1)
    c = x @ x.T
    iu = np.triu_indices(257, 1)
    s = pairwise_cosines(x, threshold=0.5)
    assert s["min"] == pytest.approx(c[iu].min())
    assert s["max"] == pytest.approx(c[iu].max())
    assert s["mean"] == pytest.approx(c[iu].mean())
    assert s["fraction_above"] == pytest.approx(np.mean(c[iu] > 0.5))


def test_clusters_of_known_configuration():
    rng = np.random.default_rng(2)
    centres = np.array([[1.0, 0, 0], [0, 1.0, 0], [0, 0, -1.0]])
    sizes = [50, 30, 20]
    pts = np.concatenate(
        [c + 0.005 * rng.standard_normal((s, 3)) for c, s in zip(centres, sizes, strict=True)]
    )
    pts /= np.linalg.norm(pts, axis=1, keepdims=True)
    cl = find_clusters(pts, radius=0.1)
    assert cl.count == 3
    np.testing.assert_allclose(cl.masses, [0.5, 0.3, 0.2])
    np.testing.assert_allclose(cl.centres, centres, atol=0.01)
    assert np.all(cl.labels[:50] == 0) and np.all(cl.labels[-20:] == 2)
    # a generous radius merges nothing here (clusters are pi/2 apart) but pi merges all
    assert find_clusters(pts, radius=np.pi).count == 1
    light = find_clusters(pts, radius=0.1, min_mass=0.25)
    assert light.count == 2 and np.all(light.labels[-20:] == -1)


def test_chain_of_leaders_merges():
    """Points spaced 0.8*radius along an arc form one cluster (leaders closer than radius merge)."""
    r = 0.1
    s = np.arange(30) * 0.8 * r
    pts = np.stack([np.cos(s), np.sin(s)], 1)
    assert find_clusters(pts, radius=r).count == 1


def test_first_moment():
    x = np.array([[1.0, 0.0], [0.0, 1.0]])
    np.testing.assert_allclose(first_moment(x, [0.25, 0.75]), [0.25, 0.75])


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: find_clusters(np.eye(3), radius=0.0), "radius must be > 0"),
        (lambda: find_clusters(np.eye(3), weights=[1.0]), "weights must have shape"),
        (lambda: pairwise_cosines(np.eye(3)[:1]), "at least 2 points"),
        (lambda: energy(2 * np.eye(3), 1.0), "x must lie on the unit sphere"),
    ],
)
def test_bad_input(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_moments_and_mode_amplitude():
    rng = np.random.default_rng(9)
    x = mf.sample_sphere(50, 3, rng)
    w = rng.random(50)
    from meanfield.diagnostics import mode_amplitude, second_moment

    np.testing.assert_allclose(second_moment(x, w), np.einsum("i,ij,ik->jk", w, x, x))
    # Y_10 = sqrt(3 / 4 pi) z
    assert mode_amplitude(x, 1, 0, w) == pytest.approx(np.sqrt(3 / (4 * np.pi)) * (w @ x[:, 2]))


def _three_bumps():
    centres = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, -1.0]])
    return centres, lambda x: 0.02 + sum(np.exp(30.0 * (x @ c - 1.0)) for c in centres)


def test_measure_clusters_uniform_has_none():
    from meanfield.diagnostics import measure_clusters

    rng = np.random.default_rng(1)
    for d, n in [(2, 2000), (3, 5000)]:
        assert measure_clusters(mf.sample_sphere(n, d, rng)).count == 0
    flat = mf.DG(mf.SphereMesh.icosphere(3), 1).interpolate(lambda x: 1.0 + 0.3 * x[:, 2])
    assert measure_clusters(flat, radius=0.25).count == 0


def test_measure_clusters_known_masses():
    from meanfield.diagnostics import measure_clusters

    rng = np.random.default_rng(2)
    centres, _ = _three_bumps()
    parts = [c + 0.03 * rng.standard_normal((500, 3)) for c in centres]
    x = np.concatenate(parts + [mf.sample_sphere(500, 3, rng)])
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    found = measure_clusters(x)
    assert found.count == 3
    # each cluster holds its 500 tokens (a quarter) plus the few noise tokens that fall on it
    np.testing.assert_allclose(found.masses, 0.25, atol=0.01)
    np.testing.assert_allclose(np.abs(found.centres @ centres.T).max(axis=1), 1.0, atol=1e-3)
    assert np.all(found.labels[:1500].reshape(3, 500) == found.labels[:1500:500, None])


def test_measure_clusters_same_rule_for_density_and_its_tokens():
    from meanfield.diagnostics import measure_clusters

    centres, f = _three_bumps()
    rho = mf.DG(mf.SphereMesh.icosphere(3), 1).interpolate(f)
    pde = measure_clusters(rho, radius=0.25)
    tok = measure_clusters(rho.sample(3000, 0), radius=0.25)
    assert pde.count == tok.count == 3
    np.testing.assert_allclose(np.sort(tok.masses), np.sort(pde.masses), atol=0.03)
    circle = mf.DG(mf.SphereMesh.circle(128), 1).interpolate(
        lambda x: 0.02 + np.exp(40.0 * (x[:, 0] - 1.0)) + np.exp(40.0 * (-x[:, 0] - 1.0))
    )
    assert measure_clusters(circle).count == measure_clusters(circle.sample(2000, 1)).count == 2


@pytest.mark.parametrize(
    "kwargs, match",
    [({"radius": 3.5}, "radius"), ({"level": 0.0}, "level"), ({"min_mass": -1.0}, "min_mass")],
)
def test_measure_clusters_bad_input(kwargs, match):
    from meanfield.diagnostics import measure_clusters

    with pytest.raises(ValueError, match=match):
        measure_clusters(mf.sample_sphere(10, 3, 0), **kwargs)


def _dense_log_energy(x, w, beta):
    from scipy.special import logsumexp

    logw = np.log(w)
    return logsumexp(beta * x @ x.T + logw[:, None] + logw[None, :]) - np.log(2 * beta)


@pytest.mark.parametrize("d", [2, 3])
def test_log_energy_by_transforms_matches_the_double_sum(d):
    from meanfield.diagnostics import _transformed_pair_sum, log_energy

    rng = np.random.default_rng(3)
    # three tight clusters and a uniform background: the case the run meets after clustering
    c = mf.sample_sphere(3, d, rng)
    x = np.concatenate([c[k] + 0.05 * rng.standard_normal((300, d)) for k in range(3)]
                       + [mf.sample_sphere(600, d, rng)])  # fmt: skip
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    w = rng.random(x.shape[0])
    for beta in (1.0, 9.0, 40.0):
        assert _transformed_pair_sum(x, w, beta) is not None  # the fast path runs
        dense = _dense_log_energy(x, w, beta)
        assert log_energy(x, beta, w) == pytest.approx(dense, rel=1e-11, abs=1e-11)
        assert log_energy(x, beta) == pytest.approx(
            _dense_log_energy(x, np.full(x.shape[0], 1 / x.shape[0]), beta), rel=1e-11, abs=1e-11
        )


def test_log_energy_off_the_sphere_takes_the_double_sum():
    from meanfield.diagnostics import _transformed_pair_sum, log_energy

    # 1e-9 off the sphere is accepted as a point; the transforms would see only directions
    x = (1 + 1e-9) * mf.sample_sphere(2000, 3, 0)
    assert _transformed_pair_sum(x, np.full(2000, 1 / 2000), 2.0) is None
    assert log_energy(x[:500], 2.0) == pytest.approx(
        _dense_log_energy(x[:500], np.full(500, 1 / 500), 2.0), rel=1e-12
    )


def test_measure_clusters_counting_path_equals_the_weighted_one():
    from meanfield.diagnostics import measure_clusters

    rng = np.random.default_rng(5)
    c = mf.sample_sphere(4, 3, rng)
    sizes = (1500, 800, 300, 10)
    x = np.concatenate([c[k] + 0.02 * rng.standard_normal((m, 3)) for k, m in enumerate(sizes)])
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    n = x.shape[0]
    counted = measure_clusters(x, radius=0.15)
    # weights differing in the last bits force the general (listing) path
    w = np.full(n, 1.0 / n) * (1 + 1e-14 * rng.random(n))
    listed = measure_clusters(x, w, radius=0.15)
    assert counted.count == listed.count == 3  # the 10-token satellite is below min_mass
    np.testing.assert_allclose(counted.masses, listed.masses, rtol=1e-12)
    np.testing.assert_allclose(counted.masses, np.array(sizes[:3]) / n, rtol=1e-12)
    assert np.array_equal(counted.labels, listed.labels)


def test_cluster_mass_gap():
    from meanfield.diagnostics import Clusters, cluster_mass_gap

    e = np.eye(3)

    def clusters(centres, masses):
        c = np.asarray(centres, float)
        c /= np.linalg.norm(c, axis=1, keepdims=True)
        return Clusters(len(masses), c, np.asarray(masses, float), np.zeros(0, int))

    a = clusters(e[:2], [0.6, 0.4])
    assert cluster_mass_gap(a, a, 0.1) == 0.0
    near = clusters([[1, 0.05, 0], [0, 1, 0.05]], [0.55, 0.43])
    assert cluster_mass_gap(a, near, 0.1) == pytest.approx(0.05)
    # a satellite the other side lacks counts with its own mass
    extra = clusters([[1, 0, 0], [0, 1, 0], [0, 0, 1]], [0.58, 0.4, 0.02])
    assert cluster_mass_gap(a, extra, 0.1) == pytest.approx(0.02)
    assert cluster_mass_gap(extra, a, 0.1) == pytest.approx(0.02)
    # centres farther apart than the radius do not pair: both clusters count whole
    far = clusters([[1, 0.5, 0], [0, 1, 0]], [0.6, 0.4])
    assert cluster_mass_gap(a, far, 0.1) == pytest.approx(0.6)
    none = Clusters(0, np.zeros((0, 3)), np.zeros(0), np.zeros(0, int))
    assert cluster_mass_gap(a, none, 0.1) == pytest.approx(0.6)
    assert cluster_mass_gap(none, none, 0.1) == 0.0
    with pytest.raises(ValueError, match="radius"):
        cluster_mass_gap(a, a, 0.0)
