"""Run configurations: a TOML schema as data, validation with errors that name the key.

A configuration is a nested dict ``{section: {key: value}}`` (plus the top-level ``name``).
:data:`SCHEMA` lists every section, key, type, default and allowed values; :func:`resolve`
checks a user's table against it, fills defaults and returns the resolved configuration,
which is what gets written next to the results.
"""

from __future__ import annotations

import copy
import numbers
import tomllib
from dataclasses import dataclass
from pathlib import Path

__all__ = ["SCHEMA", "DEFAULT_CONFIG", "resolve", "load_config", "dump_config", "Key"]


@dataclass(frozen=True)
class Key:
    """One configuration key: its type, default, and the values it may take."""

    kind: str  # "number" | "int" | "bool" | "str" | "times" | "matrix" | "points" | "list"
    default: object
    choices: tuple | None = None
    minimum: float | None = None
    positive: bool = False
    doc: str = ""


SCHEMA: dict[str, dict[str, Key]] = {
    "model": {
        "beta": Key("number", 9.0, minimum=0.0, doc="inverse temperature"),
        "normalized": Key("bool", True, doc="true: softmax attention (SA); false: USA"),
        "Q": Key("matrix", "identity", doc='"identity", a d x d matrix, or "random:SEED"'),
        "K": Key("matrix", "identity", doc="as Q"),
        "V": Key("matrix", "identity", doc="as Q"),
    },
    "mesh": {
        "kind": Key("str", "icosphere", choices=("icosphere", "circle", "file")),
        "level": Key("int", 3, minimum=0, doc="icosphere refinement level"),
        "cells": Key("int", 256, minimum=3, doc="number of circle cells"),
        "path": Key("str", "", doc="mesh file (kind = 'file'), any format pyvista reads"),
    },
    "initial": {
        "kind": Key("str", "white_noise", choices=("uniform", "mode", "vmf", "white_noise")),
        "amplitude": Key("number", 0.05, doc="perturbation size, |amplitude| < 1"),
        "ell": Key("int", 4, minimum=1, doc="harmonic degree (kind = 'mode')"),
        "m": Key("int", 0, doc="harmonic order (kind = 'mode')"),
        "ell_max": Key("int", 8, minimum=1, doc="highest degree (kind = 'white_noise')"),
        "seed": Key("int", 0, minimum=0, doc="white-noise seed"),
        "centres": Key("points", [[0.0, 0.0, 1.0]], doc="vMF mean directions (kind = 'vmf')"),
        "kappa": Key("number", 10.0, minimum=0.0, doc="vMF concentration"),
    },
    "solver": {
        "degree": Key("int", 1, choices=(0, 1, 2), doc="DG polynomial degree"),
        "cfl": Key("number", 0.5, minimum=0.0, positive=True),
        "dt_max": Key("number", 0.05, minimum=0.0, positive=True),
        "velocity": Key("str", "auto", choices=("auto", "direct", "spectral")),
        "scheme": Key("str", "ssprk3", choices=("ssprk2", "ssprk3")),
    },
    "particles": {
        "enabled": Key("bool", True),
        "n": Key("int", 2000, minimum=1, doc="number of tokens sampled from the initial density"),
        "seed": Key("int", 0, minimum=0),
        "method": Key("str", "rk4", choices=("rk4", "dop853")),
        "dt": Key("number", 0.01, minimum=0.0, positive=True, doc="RK4 step"),
    },
    "times": {
        "t_end": Key("number", 12.0, minimum=0.0, positive=True),
        "frames": Key(
            "int", 25, minimum=2, doc="equally spaced output times, 0 and t_end included"
        ),
    },
    "output": {
        "root": Key("str", "runs", doc="directory holding one folder per run name"),
        "render": Key("times", [0.0, 4.0, 12.0], doc="times at which the density is rendered"),
        "vtk": Key("bool", True),
        "gif": Key("bool", True),
        "cluster_radius": Key("number", 0.15, minimum=0.0, positive=True),
    },
}

#: The embedded default run: S^2, icosphere, DG p = 1, beta = 9, near-uniform start, particles.
DEFAULT_CONFIG = {"name": "default"}


def _fail(path, expected, value):
    raise ValueError(f"config key '{path}' must be {expected}, got {value!r}")


def _check_matrix(path, v):
    if v == "identity" or (isinstance(v, str) and v.startswith("random:") and v[7:].isdigit()):
        return v
    rows = v if isinstance(v, list) else None
    ok = rows and all(isinstance(r, list) and len(r) == len(rows) for r in rows)
    if not ok or not all(isinstance(a, numbers.Real) for r in rows for a in r):
        _fail(path, '"identity", "random:SEED" or a square matrix (list of equal-length rows)', v)
    return [[float(a) for a in r] for r in rows]


def _check(path, key: Key, v):
    kind = key.kind
    if kind == "bool":
        if not isinstance(v, bool):
            _fail(path, "true or false", v)
    elif kind == "int":
        if isinstance(v, bool) or not isinstance(v, int):
            _fail(path, "an integer", v)
    elif kind == "number":
        if isinstance(v, bool) or not isinstance(v, numbers.Real):
            _fail(path, "a number", v)
        v = float(v)
    elif kind == "str":
        if not isinstance(v, str):
            _fail(path, "a string", v)
    elif kind == "times":
        if not isinstance(v, list) or not all(
            isinstance(a, numbers.Real) and not isinstance(a, bool) for a in v
        ):
            _fail(path, "a list of numbers", v)
        v = [float(a) for a in v]
    elif kind == "matrix":
        v = _check_matrix(path, v)
    elif kind == "points":
        if not isinstance(v, list) or not v or not all(isinstance(r, list) for r in v):
            _fail(path, "a non-empty list of points (lists of numbers)", v)
    if key.choices is not None and v not in key.choices:
        _fail(path, f"one of {list(key.choices)}", v)
    if key.minimum is not None and kind in ("int", "number"):
        if v < key.minimum or (key.positive and v == key.minimum):
            _fail(path, f"{'>' if key.positive else '>='} {key.minimum:g}", v)
    return v


def resolve(table: dict) -> dict:
    """Validate a configuration table against :data:`SCHEMA` and fill in the defaults.

    Raises
    ------
    ValueError
        For an unknown section or key (listing the allowed ones), a wrong type, or a value
        outside the allowed range; the message names the key as ``section.key``.
    """
    if not isinstance(table, dict):
        raise ValueError(f"config must be a table, got {type(table).__name__}")
    out = {"name": DEFAULT_CONFIG["name"]}
    for section, body in table.items():
        if section == "name":
            if not isinstance(body, str) or not body or "/" in body or body.startswith("."):
                _fail("name", "a non-empty string without '/' (the run's folder name)", body)
            out["name"] = body
        elif section not in SCHEMA:
            allowed = ", ".join(["name"] + sorted(SCHEMA))
            raise ValueError(f"unknown config section '{section}'; allowed: {allowed}")
        elif not isinstance(body, dict):
            _fail(section, "a table", body)
        else:
            for k in body:
                if k not in SCHEMA[section]:
                    allowed = ", ".join(SCHEMA[section])
                    raise ValueError(
                        f"unknown config key '{section}.{k}'; allowed in [{section}]: {allowed}"
                    )
    for section, keys in SCHEMA.items():
        given = table.get(section, {})
        out[section] = {
            k: _check(f"{section}.{k}", key, given[k]) if k in given else copy.deepcopy(key.default)
            for k, key in keys.items()
        }
    _cross_checks(out)
    return out


def _cross_checks(cfg):
    mesh = cfg["mesh"]
    if mesh["kind"] == "file" and not mesh["path"]:
        raise ValueError("config key 'mesh.path' must name a mesh file when mesh.kind = 'file'")
    if mesh["kind"] == "file" and not Path(mesh["path"]).is_file():
        raise ValueError(f"config key 'mesh.path': no such file {mesh['path']!r}")
    d = {"icosphere": 3, "circle": 2}.get(mesh["kind"])
    for name in ("Q", "K", "V"):
        mat = cfg["model"][name]
        if d is not None and isinstance(mat, list) and len(mat) != d:
            shape = f"{len(mat)} x {len(mat[0])}"
            _fail(
                f"model.{name}", f"a {d} x {d} matrix for a {mesh['kind']} mesh, not {shape}", mat
            )
    if abs(cfg["initial"]["amplitude"]) >= 1:
        _fail("initial.amplitude", "a number with |amplitude| < 1", cfg["initial"]["amplitude"])
    t_end = cfg["times"]["t_end"]
    bad = [t for t in cfg["output"]["render"] if not 0 <= t <= t_end]
    if bad:
        _fail("output.render", f"times within [0, times.t_end = {t_end:g}]", bad)


def load_config(path=None) -> dict:
    """Read and resolve a TOML configuration; ``None`` gives the embedded default."""
    if path is None:
        return resolve(copy.deepcopy(DEFAULT_CONFIG))
    p = Path(path)
    if not p.is_file():
        raise ValueError(f"config file {str(p)!r} does not exist")
    try:
        table = tomllib.loads(p.read_text())
    except tomllib.TOMLDecodeError as exc:
        raise ValueError(f"config file {str(p)!r} is not valid TOML: {exc}") from None
    return resolve(table)


def dump_config(cfg: dict) -> str:
    """The resolved configuration as TOML text."""
    import tomli_w

    return tomli_w.dumps(cfg)
