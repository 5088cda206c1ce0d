import numpy as np
import pytest
from scipy.optimize import linear_sum_assignment
from scipy.spatial import cKDTree

import meanfield as mf
from meanfield.compare import fibonacci_sphere, geodesic_cost, wasserstein


def _circle_pts(theta):
    theta = np.asarray(theta, float)
    return np.stack([np.cos(theta), np.sin(theta)], 1)


def test_diracs():
    assert wasserstein(_circle_pts([0.3]), _circle_pts([2.0])) == pytest.approx(1.7)
    # the short way round the circle
    assert wasserstein(_circle_pts([0.1]), _circle_pts([6.0]), p=2) == pytest.approx(
        2 * np.pi - 5.9, rel=1e-6
    )
    a, b = np.array([[0, 0, 1.0]]), np.array([[np.sin(1.0), 0, np.cos(1.0)]])
    assert wasserstein(a, b) == pytest.approx(1.0)


@pytest.mark.parametrize("d", [2, 3])
@pytest.mark.parametrize("p", [1, 2])
def test_equal_weights_match_assignment_problem(d, p):
    """With n equal weights on each side the OT plan is a permutation (Birkhoff)."""
    x, y = mf.sample_sphere(40, d, 1), mf.sample_sphere(40, d, 2)
    C = geodesic_cost(x, y, p)
    r, c = linear_sum_assignment(C)
    expect = C[r, c].mean() ** (1 / p)
    assert wasserstein(x, y, p=p) == pytest.approx(expect, rel=1e-6)


def test_weighted_pairs_and_symmetry():
    rng = np.random.default_rng(3)
    x, y = mf.sample_sphere(30, 3, rng), mf.sample_sphere(50, 3, rng)
    wx, wy = rng.random(30), rng.random(50)
    wy *= wx.sum() / wy.sum()
    assert wasserstein((x, wx), (y, wy)) == pytest.approx(wasserstein((y, wy), (x, wx)), rel=1e-9)
    assert wasserstein((x, wx), (x, wx)) == pytest.approx(0.0, abs=1e-12)


def test_binning_error_within_twice_the_covering_radius():
    x, y = mf.sample_sphere(1500, 3, 4), mf.sample_sphere(1500, 3, 5)
    exact = wasserstein(x, y)
    grid = fibonacci_sphere(300)
    probe = mf.sample_sphere(200_000, 3, 6)
    h = np.arccos(np.clip(1 - cKDTree(grid).query(probe)[0] ** 2 / 2, -1, 1)).max()
    approx = wasserstein(x, y, max_support=300)
    assert abs(approx - exact) <= 2 * h
    assert approx != exact  # the binned path really ran


def test_circle_handles_large_supports_exactly():
    theta = np.random.default_rng(7).random(200_000)  # in an arc of 1 radian
    a = _circle_pts(theta)
    b = _circle_pts(theta + 0.01)  # within an arc OT is a line problem: a shift costs 0.01
    assert wasserstein(a, b) == pytest.approx(0.01, rel=1e-6)


@pytest.mark.parametrize(
    "args, match",
    [
        ((np.eye(2), np.eye(3)), "same S"),
        (((np.eye(3), [1, 1, 1]), np.eye(3)), "equal positive mass"),
        (((np.eye(3), [1, 1]), np.eye(3)), "weights"),
        ((np.eye(3), np.eye(3), 0.5), "p must be >= 1"),
        ((np.ones((2, 3)), np.eye(3)), "a must lie on the unit sphere"),
    ],
)
def test_bad_input(args, match):
    with pytest.raises(ValueError, match=match):
        wasserstein(*args)


def test_binned_w1_from_the_difference_equals_the_full_transport():
    import ot

    rng = np.random.default_rng(8)
    x = mf.sample_sphere(4000, 3, rng)
    y = np.concatenate(
        [mf.sample_sphere(2000, 3, rng), x[:2500] + 0.05 * rng.standard_normal((2500, 3))]
    )
    y /= np.linalg.norm(y, axis=1, keepdims=True)
    grid = fibonacci_sphere(500)
    tree = cKDTree(grid)
    ma = np.bincount(tree.query(x)[1], minlength=500) / x.shape[0]
    mb = np.bincount(tree.query(y)[1], minlength=500) / y.shape[0]
    ka, kb = ma > 0, mb > 0
    full = ot.emd2(ma[ka], mb[kb], geodesic_cost(grid[ka], grid[kb]), numItermax=10_000_000)
    assert wasserstein(x, y, max_support=500) == pytest.approx(full, rel=1e-9)
    assert wasserstein(x, x, max_support=500) == 0.0
