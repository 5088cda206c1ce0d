"""Input validation shared by the public functions.

Every check raises ``ValueError`` naming the argument, what was expected and what was received,
so that user mistakes never surface as a NumPy broadcasting error deep inside a solver.
"""

from __future__ import annotations

import numbers

import numpy as np

#: Points farther than this from the unit sphere are rejected (relative to radius 1).
SPHERE_TOL = 1e-6


def _describe(a) -> str:
    if isinstance(a, np.ndarray):
        return f"array of shape {a.shape} and dtype {a.dtype}"
    return f"{type(a).__name__} {a!r}"[:120]


def as_real_array(a, name: str, ndim: int | tuple[int, ...] | None = None) -> np.ndarray:
    """Convert ``a`` to a finite float64 array with the given number of dimensions."""
    if np.iscomplexobj(a):
        raise ValueError(f"{name} must be real, got a complex {_describe(a)}")
    try:
        arr = np.asarray(a, dtype=float)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a real array, got {_describe(a)}") from None
    dims = (ndim,) if isinstance(ndim, int) else ndim
    if dims is not None and arr.ndim not in dims:
        want = " or ".join(f"{k}-D" for k in dims)
        raise ValueError(f"{name} must be a {want} array, got shape {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} must be finite, got NaN or inf in an array of shape {arr.shape}")
    return arr


def as_points(a, name: str, d: int | None = None, batched: bool = False) -> np.ndarray:
    """Validate points on the unit sphere: shape (m, d) (or (B, m, d) when ``batched``)."""
    arr = as_real_array(a, name, ndim=(2, 3) if batched else 2)
    if arr.shape[-1] < 2:
        raise ValueError(f"{name} must have d >= 2 columns (points in R^d), got shape {arr.shape}")
    if d is not None and arr.shape[-1] != d:
        raise ValueError(f"{name} must have {d} columns to match the model, got shape {arr.shape}")
    if arr.shape[-2] == 0:
        raise ValueError(f"{name} must hold at least one point, got shape {arr.shape}")
    norms = np.linalg.norm(arr, axis=-1)
    dev = np.abs(norms - 1.0)
    if dev.max() > SPHERE_TOL:
        k = np.unravel_index(int(np.argmax(dev)), dev.shape)
        raise ValueError(
            f"{name} must lie on the unit sphere (|x| = 1 within {SPHERE_TOL:g}); "
            f"point {tuple(int(i) for i in k)} has |x| = {float(norms[k]):.6g}"
        )
    return arr


def as_scalar(a, name: str, *, min_value: float | None = None, strict: bool = False) -> float:
    """A finite real scalar, optionally bounded below (``strict`` makes the bound exclusive)."""
    if isinstance(a, bool) or not isinstance(a, numbers.Real | np.ndarray | np.generic):
        raise ValueError(f"{name} must be a real number, got {_describe(a)}")
    arr = np.asarray(a)
    if arr.ndim != 0 or not np.isrealobj(arr):
        raise ValueError(f"{name} must be a real scalar, got {_describe(a)}")
    v = float(arr)
    if not np.isfinite(v):
        raise ValueError(f"{name} must be finite, got {v}")
    if min_value is not None and (v < min_value or (strict and v == min_value)):
        op = ">" if strict else ">="
        raise ValueError(f"{name} must be {op} {min_value:g}, got {v:g}")
    return v


def as_int(a, name: str, *, min_value: int | None = None) -> int:
    """An integer (Python or NumPy), optionally bounded below."""
    if isinstance(a, bool) or not isinstance(a, numbers.Integral):
        raise ValueError(f"{name} must be an integer, got {_describe(a)}")
    v = int(a)
    if min_value is not None and v < min_value:
        raise ValueError(f"{name} must be >= {min_value}, got {v}")
    return v


def as_times(t, name: str = "t_eval") -> np.ndarray:
    """Output times: a non-empty, finite, non-decreasing 1-D array."""
    arr = as_real_array(np.atleast_1d(t) if np.ndim(t) == 0 else t, name, ndim=1)
    if arr.size == 0:
        raise ValueError(f"{name} must hold at least one time, got an empty array")
    if np.any(np.diff(arr) < 0):
        raise ValueError(f"{name} must be non-decreasing, got {arr[:8]}...")
    return arr


def choose(value, name: str, allowed) -> str:
    """A string option among ``allowed``."""
    if not isinstance(value, str) or value not in allowed:
        raise ValueError(f"{name} must be one of {sorted(allowed)}, got {value!r}")
    return value


def as_rng(rng, name: str = "rng") -> np.random.Generator:
    """A ``numpy.random.Generator`` from a seed, a Generator or None (fresh entropy)."""
    if isinstance(rng, np.random.Generator):
        return rng
    if isinstance(rng, numbers.Integral) and not isinstance(rng, bool) and rng < 0:
        raise ValueError(f"{name} must be a non-negative int seed, got {int(rng)}")
    if rng is None or (isinstance(rng, numbers.Integral) and not isinstance(rng, bool)):
        return np.random.default_rng(rng)
    raise ValueError(
        f"{name} must be an int seed, a numpy.random.Generator or None, got {_describe(rng)}"
    )
