"""Sweep tasks as data: parameter declarations and the task registry."""

from __future__ import annotations

import inspect
import numbers
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any

import numpy as np

from ..._checks import as_int, as_scalar, as_times, choose

_REQUIRED = object()


# --------------------------------------------------------------------------------------------
# parameters and tasks


def _as_float(v, name, choices):
    return as_scalar(v, name)


def _as_int(v, name, choices):
    return as_int(v, name)


def _as_bool(v, name, choices):
    if not isinstance(v, bool | np.bool_):
        raise ValueError(f"{name} must be true or false, got {type(v).__name__} {v!r}")
    return bool(v)


def _as_str(v, name, choices):
    if choices is not None:
        return choose(v, name, choices)
    if not isinstance(v, str):
        raise ValueError(f"{name} must be a string, got {type(v).__name__} {v!r}")
    return v


def _as_strs(v, name, choices):
    if not isinstance(v, list | tuple) or not v:
        raise ValueError(f"{name} must be a non-empty list of strings, got {v!r}")
    out = [_as_str(s, f"{name}[{i}]", choices) for i, s in enumerate(v)]
    if len(set(out)) != len(out):
        raise ValueError(f"{name} must not repeat an entry, got {out}")
    return out


def _as_time_grid(v, name, choices):
    """Times as a list, or a table ``{start = 0.0, stop = ..., num = ...}`` (linspace)."""
    if isinstance(v, Mapping):
        allowed = {"start", "stop", "num"}
        unknown = sorted(set(v) - allowed)
        if unknown:
            raise ValueError(
                f"{name}: unknown key {unknown[0]!r}; allowed keys are {sorted(allowed)}"
            )
        if "stop" not in v or "num" not in v:
            raise ValueError(
                f"{name} needs 'stop' and 'num' (and optionally 'start'), got {dict(v)}"
            )
        start = as_scalar(v.get("start", 0.0), f"{name}.start")
        stop = as_scalar(v["stop"], f"{name}.stop")
        num = as_int(v["num"], f"{name}.num", min_value=1)
        v = np.linspace(start, stop, num)
    elif not isinstance(v, list | tuple | np.ndarray):
        raise ValueError(
            f"{name} must be a list of times or a table {{start, stop, num}}, "
            f"got {type(v).__name__} {v!r}"
        )
    elif any(isinstance(s, bool) or not isinstance(s, numbers.Real) for s in v):
        raise ValueError(f"{name} must hold real numbers, got {list(v)!r}")
    t = as_times(np.asarray(v, dtype=float), name)
    if np.any(np.diff(t) <= 0):
        raise ValueError(f"{name} must be strictly increasing, got {t[:8]}...")
    return [float(s) for s in t]


#: Parameter kind -> coercion ``(value, name, choices) -> canonical value``.
PARAM_KINDS: dict[str, Callable | None] = {
    "float": _as_float,
    "int": _as_int,
    "bool": _as_bool,
    "str": _as_str,
    "strs": _as_strs,
    "times": _as_time_grid,
    "setting": None,  # checked by the configuration schema (Param.coerce)
}


@dataclass(frozen=True)
class Param:
    """Declaration of one task parameter.

    Attributes
    ----------
    kind : {"float", "int", "bool", "str", "strs", "times", "setting"}
        How values are checked and canonicalised (``"times"``: a strictly increasing list,
        or ``{start, stop, num}``; ``"strs"``: a list of strings; ``"setting"``: a key of the
        run configuration, see :func:`setting`).
    default : object
        Value when the spec omits the parameter; omitted means the parameter is required.
        ``None`` is allowed as a default (TOML cannot spell it, so a user cannot pass it).
    doc : str
    choices : tuple of str, optional
        Allowed values for ``"str"`` and ``"strs"``.
    setting : str, optional
        For kind ``"setting"``: the dotted configuration key (``"model.beta"``) whose checks
        apply.
    """

    kind: str
    default: Any = _REQUIRED
    doc: str = ""
    choices: tuple | None = None
    setting: str | None = None

    def __post_init__(self):
        choose(self.kind, "kind", PARAM_KINDS)

    @property
    def required(self) -> bool:
        return self.default is _REQUIRED

    def coerce(self, value, name: str):
        """The canonical value (floats as float, time grids as lists) or a ValueError."""
        if self.kind == "setting":
            from ..config import check_value

            return check_value(self.setting, value, where=name)
        return PARAM_KINDS[self.kind](value, name, self.choices)


def setting(dotted: str) -> Param:
    """The task parameter that is the run configuration key ``dotted`` (``"model.beta"``).

    Its name, default, documentation, limits and allowed values are those of
    :data:`meanfield.app.config.SCHEMA`, so a sweep and ``meanfield run`` read a setting the
    same way.
    """
    from ..config import dotted_keys

    key = dotted_keys().get(dotted)
    if key is None:
        raise ValueError(f"dotted must be a key of the run configuration, got {dotted!r}")
    return Param("setting", key.default, key.doc, key.choices, setting=dotted)


def settings(*dotted: str) -> dict:
    """``{name: setting(name)}`` for each dotted configuration key."""
    return {name: setting(name) for name in dotted}


@dataclass(frozen=True)
class Task:
    """A kind of grid-point computation.

    Attributes
    ----------
    name : str
    run : callable
        ``run(params: dict, artifacts: pathlib.Path) -> dict`` of scalar results, optionally
        with an ``"artifact"`` path. Must be a module-level function (it is pickled to workers).
    parameters : mapping of str to Param
    doc : str
    """

    name: str
    run: Callable[[dict, Path], dict]
    parameters: Mapping[str, Param]
    doc: str = ""


#: Task name -> Task. Add entries with :func:`register_task`.
TASKS: dict[str, Task] = {}


def register_task(name: str, parameters: Mapping[str, Param], *, replace: bool = False):
    """Decorator registering ``run(params, artifacts) -> dict`` as the task ``name``.

    Parameters
    ----------
    name : str
        Task name used in specs (``task = "name"``).
    parameters : mapping of str to Param
        Every parameter the task reads.
    replace : bool
        Allow overwriting an existing task of that name.
    """
    if not isinstance(name, str) or not name:
        raise ValueError(f"name must be a non-empty string, got {name!r}")
    if name in TASKS and not replace:
        raise ValueError(f"task {name!r} is already registered (pass replace=True to overwrite)")
    for key, p in parameters.items():
        if not isinstance(p, Param):
            raise ValueError(f"parameters[{key!r}] must be a Param, got {type(p).__name__}")

    def decorate(run):
        TASKS[name] = Task(name, run, MappingProxyType(dict(parameters)), inspect.getdoc(run) or "")
        return run

    return decorate
