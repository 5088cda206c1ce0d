"""Token figures (meanfield.plot.tokens): paths coloured by cluster, pairwise-cosine laws."""

from types import SimpleNamespace

import numpy as np
import pytest

import meanfield as mf
from meanfield.plot import tokens


def _two_clusters_on_circle():
    """Tokens gathering at angles 3 and -2 (paths crossing the pi/-pi seam)."""
    t = np.linspace(0.0, 1.0, 21)
    start = np.linspace(-np.pi, np.pi, 40, endpoint=False)
    target = np.where(np.abs(start - 3.0) < np.abs(start + 2.0), 3.0, -2.0)
    ang = start[None, :] + (target - start)[None, :] * t[:, None]
    ang = np.angle(np.exp(1j * ang))
    return SimpleNamespace(t=t, x=np.stack([np.cos(ang), np.sin(ang)], -1)), target


def test_circle_paths_coloured_by_final_cluster_and_broken_at_the_seam():
    traj, _ = _two_clusters_on_circle()
    ax = tokens.trajectories(traj, radius=0.2)
    lines = ax.get_lines()
    assert len(lines) == 40
    colours = {ln.get_color() for ln in lines}
    assert len(colours) == 2
    ends = {}
    for ln in lines:
        ends.setdefault(ln.get_color(), set()).add(round(float(ln.get_ydata()[-1]), 6))
    # one colour per final cluster: all paths of a colour end at the same angle
    assert sorted(v.pop() for v in ends.values()) == [-2.0, 3.0]
    for ln in lines:
        y = ln.get_ydata()
        assert np.nanmax(np.abs(np.diff(y))) < np.pi  # no streak across the plot


def test_sphere_paths_on_a_map():
    rng = np.random.default_rng(0)
    t = np.linspace(0.0, 6.0, 13)
    traj = mf.solve_particles(mf.Attention(9.0), mf.sample_sphere(60, 3, rng), t)
    ax = tokens.trajectories(traj, max_tokens=30)
    assert ax.name == "mollweide"
    assert sum(ln.get_ydata().shape[0] == 13 for ln in ax.get_lines()) == 30
    with pytest.raises(ValueError, match="batch"):
        tokens.trajectories(SimpleNamespace(t=t, x=traj.x[:, None]), batch=2)


def test_cosine_histogram_exact_laws():
    # on S^2 the cosine of two independent uniform points is uniform on [-1, 1] (Archimedes)
    flat = mf.DG(mf.SphereMesh.icosphere(3), 1).interpolate(lambda x: 1.0 + 0.0 * x[:, 0])
    edges, h = tokens.cosine_histogram(flat, bins=10)
    np.testing.assert_allclose(h, 0.5, atol=0.02)
    assert np.sum(h * np.diff(edges)) == pytest.approx(1.0)
    # two antipodal point clusters of equal size: pairs at 1 and at -1
    x = np.array([[0.0, 0.0, 1.0]] * 5 + [[0.0, 0.0, -1.0]] * 5)
    edges, h = tokens.cosine_histogram(x, bins=4)
    mass = h * np.diff(edges)
    np.testing.assert_allclose(mass, [5 * 5 * 2 / 90, 0, 0, 4 * 5 * 2 / 90])
    with pytest.raises(ValueError, match="at least 2 points"):
        tokens.cosine_histogram(x[:1])


def test_cosine_histograms_tokens_and_density():
    space = mf.DG(mf.SphereMesh.icosphere(2), 1)
    rho = space.interpolate(lambda x: 0.05 + np.exp(20.0 * (x[:, 2] - 1.0)))
    sol = SimpleNamespace(t=np.array([0.0, 1.0]), densities=[rho, rho])
    traj = SimpleNamespace(t=np.array([0.0, 1.0]), x=np.stack([rho.sample(300, 0)] * 2))
    fig = tokens.cosine_histograms(traj, [0.0, 1.0], density=sol)
    assert len(fig.axes) == 2
    assert [a.get_title() for a in fig.axes] == ["$t = 0$", "$t = 1$"]
    with pytest.raises(ValueError, match="neither"):
        tokens.cosine_histograms(None, [0.0])


def test_cosine_histogram_counts_every_pair_once_per_order():
    from meanfield.plot.tokens import cosine_histogram

    rng = np.random.default_rng(2)
    x = mf.sample_sphere(300, 3, rng)
    w = rng.random(300)
    c = x @ x.T
    i, j = np.nonzero(~np.eye(300, dtype=bool))  # all ordered pairs i != j
    brute, _ = np.histogram(c[i, j], bins=40, range=(-1, 1), weights=w[i] * w[j], density=True)
    edges, h = cosine_histogram(x, w, bins=40)
    np.testing.assert_allclose(edges, np.linspace(-1, 1, 41))
    np.testing.assert_allclose(h, brute, rtol=1e-10, atol=1e-12)
