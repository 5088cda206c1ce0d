"""Sweep specifications: a task, base parameters and grid axes, validated."""

from __future__ import annotations

import hashlib
import itertools
import json
import math
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from ..._checks import choose
from .registry import TASKS, Param

#: Spec keys at the top level.
SPEC_KEYS = ("task", "base", "grid", "out")
#: Most grid points one sweep may have (a larger grid is refused before anything is expanded).
MAX_POINTS = 1_000_000

# --------------------------------------------------------------------------------------------
# specs


@dataclass(frozen=True)
class SweepSpec:
    """A validated sweep: task, base parameters (defaults filled) and grid axes.

    Attributes
    ----------
    task : str
    base : dict
        Every task parameter that is not an axis, canonicalised.
    axes : dict of str to list
        Grid axes in spec order, each a non-empty list of distinct canonical values.
    out : pathlib.Path or None
        Output directory named by the spec (resolved against the spec file's folder).
    """

    task: str
    base: dict
    axes: dict
    out: Path | None = None

    @property
    def size(self) -> int:
        """Number of grid points."""
        return math.prod(len(v) for v in self.axes.values())

    def points(self) -> list[dict]:
        """Parameter dicts of all grid points, the last axis varying fastest."""
        names = list(self.axes)
        return [
            {**self.base, **dict(zip(names, values, strict=True))}
            for values in itertools.product(*self.axes.values())
        ]

    def to_dict(self) -> dict:
        """JSON-ready form (what is written to ``OUT/spec.json``)."""
        return {"task": self.task, "base": self.base, "grid": self.axes}


def _one_key(name: str, allowed) -> str:
    return f"unknown key {name!r}; allowed keys are {sorted(allowed)}"


def load_spec(spec) -> SweepSpec:
    """Read and validate a sweep specification.

    Parameters
    ----------
    spec : SweepSpec, mapping, str or path-like
        A spec, a dict of the TOML layout, or the path of a TOML file.

    Returns
    -------
    SweepSpec

    Raises
    ------
    ValueError
        Unknown keys, wrong types, empty or repeated axis values, missing required parameters,
        invalid TOML; the message names the key and the allowed values.
    FileNotFoundError
        If the file does not exist.
    """
    if isinstance(spec, SweepSpec):
        return spec
    root = Path.cwd()
    if isinstance(spec, str | os.PathLike):
        path = Path(spec)
        text = path.read_text(encoding="utf-8")  # FileNotFoundError propagates as is
        try:
            spec = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise ValueError(f"{path}: invalid TOML: {exc}") from None
        root = path.resolve().parent
    if not isinstance(spec, Mapping):
        raise ValueError(f"spec must be a mapping or a TOML path, got {type(spec).__name__}")
    for key in spec:
        if key not in SPEC_KEYS:
            raise ValueError(f"spec: {_one_key(key, SPEC_KEYS)}")
    if "task" not in spec:
        raise ValueError(f"spec: missing key 'task'; allowed tasks are {sorted(TASKS)}")
    task = TASKS[choose(spec["task"], "task", TASKS)]
    base_in = _table(spec.get("base", {}), "base")
    grid_in = _table(spec.get("grid", {}), "grid")
    params = task.parameters
    for section, table in (("base", base_in), ("grid", grid_in)):
        for key in table:
            if key not in params:
                raise ValueError(f"{section}: {_one_key(key, params)} (task {task.name!r})")
    size = math.prod(len(v) if isinstance(v, list | tuple) else 1 for v in grid_in.values())
    if size > MAX_POINTS:
        shape = " x ".join(f"{len(v)} {k}" for k, v in grid_in.items())
        raise ValueError(
            f"grid: {size} points ({shape}) is more than the {MAX_POINTS} one sweep may hold; "
            "split it into several sweeps"
        )
    both = sorted(set(base_in) & set(grid_in))
    if both:
        raise ValueError(f"parameter {both[0]!r} is given in both base and grid; keep one")
    axes = {key: _axis(params[key], values, f"grid.{key}") for key, values in grid_in.items()}
    base = {}
    for key, p in params.items():
        if key in axes:
            continue
        if key in base_in:
            base[key] = p.coerce(base_in[key], f"base.{key}")
        elif p.required:
            raise ValueError(
                f"base: missing required parameter {key!r} of task {task.name!r} "
                f"(give it in [base] or as a [grid] axis)"
            )
        else:
            base[key] = p.default
    out = spec.get("out")
    if out is not None:
        if not isinstance(out, str) or not out:
            raise ValueError(f"out must be a non-empty path string, got {out!r}")
        out = root / out
    return SweepSpec(task.name, base, axes, out)


def _table(value, name: str) -> dict:
    """The parameters of ``[base]`` or ``[grid]``; a sub-table named after a configuration
    section (TOML's ``model.beta = 1`` or ``[grid.model]``) gives dotted names."""
    from ..config import SCHEMA

    if not isinstance(value, Mapping):
        raise ValueError(f"{name} must be a table of parameters, got {type(value).__name__}")
    out = {}
    for key, v in value.items():
        if key in SCHEMA and isinstance(v, Mapping):
            out.update({f"{key}.{k}": w for k, w in v.items()})
        else:
            out[key] = v
    return out


def _axis(param: Param, values, name: str) -> list:
    if not isinstance(values, list | tuple) or len(values) == 0:
        raise ValueError(f"{name} must be a non-empty list of values, got {values!r}")
    out = [param.coerce(v, f"{name}[{i}]") for i, v in enumerate(values)]
    canon = [canonical(v) for v in out]
    if len(set(canon)) != len(canon):
        raise ValueError(f"{name} must not repeat a value, got {out}")
    return out


def canonical(value) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), allow_nan=False)


def point_key(task: str, params: Mapping) -> str:
    """Stable 16-hex-digit key of one grid point: SHA-256 of the task and all parameters."""
    blob = canonical({"task": task, "params": dict(params)})
    return hashlib.sha256(blob.encode()).hexdigest()[:16]
