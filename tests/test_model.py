import numpy as np
import pytest

import meanfield as mf


def test_identity_defaults_and_repr():
    m = mf.Attention(2.0)
    assert m.is_identity and m.dim is None and m.normalized
    np.testing.assert_array_equal(m.interaction(4), 2.0 * np.eye(4))
    assert "SA" in repr(m) and "USA" in repr(mf.Attention(1.0, normalized=False))


def test_interaction_is_beta_KT_Q():
    rng = np.random.default_rng(0)
    Q, K = rng.standard_normal((2, 3, 3))
    m = mf.Attention(0.7, Q=Q, K=K)
    np.testing.assert_allclose(m.interaction(3), 0.7 * K.T @ Q)
    assert m.dim == 3


def test_immutable_and_copies_inputs():
    Q = np.eye(3)
    m = mf.Attention(1.0, Q=Q)
    Q[0, 0] = 5.0
    assert m.Q[0, 0] == 1.0
    with pytest.raises(AttributeError):
        m.beta = 3.0
    with pytest.raises(ValueError):
        m.Q[0, 0] = 2.0  # read-only array


def test_equality():
    assert mf.Attention(1.0) == mf.Attention(1.0)
    assert mf.Attention(1.0) != mf.Attention(1.0, normalized=False)
    assert mf.Attention(1.0, V=np.eye(2)) != mf.Attention(1.0)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"beta": float("nan")}, "beta must be finite"),
        ({"beta": float("inf")}, "beta must be finite"),
        ({"beta": -1.0}, "beta must be >= 0"),
        ({"beta": "4"}, "beta must be a real number"),
        ({"beta": 1.0, "Q": np.eye(3)[:2]}, "Q must be a square"),
        ({"beta": 1.0, "K": np.ones(3)}, "K must be a 2-D array"),
        ({"beta": 1.0, "V": [[np.nan, 0], [0, 1]]}, "V must be finite"),
        ({"beta": 1.0, "Q": np.eye(2), "V": np.eye(3)}, "share one dimension"),
        ({"beta": 1.0, "normalized": "yes"}, "normalized must be True or False"),
    ],
)
def test_bad_construction(kwargs, match):
    with pytest.raises(ValueError, match=match):
        mf.Attention(**kwargs)
