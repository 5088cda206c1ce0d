"""Run configurations: a TOML schema as data, validation with errors that name the key.

A configuration is a nested dict ``{section: {key: value}}`` (plus the top-level ``name``).
:data:`SCHEMA` lists every section, key, type, default and allowed values; :func:`resolve`
checks a user's table against it, fills defaults and returns the resolved configuration,
which is what gets written next to the results.
"""

from __future__ import annotations

import copy
import math
import numbers
import tomllib
from dataclasses import dataclass, replace
from pathlib import Path

from ..eulerian.dg import DEGREES
from ..field.registry import EVALUATORS
from ..solve import DENSITY_SCHEMES, EULERIAN_METHODS, LAGRANGIAN_METHODS, PARTICLE_METHODS

__all__ = [
    "SCHEMA",
    "DEFAULT_CONFIG",
    "resolve",
    "check_dimension",
    "load_config",
    "dump_config",
    "reference_markdown",
    "Key",
    "check_path_text",
    "check_value",
    "dotted_keys",
    "from_dotted",
    "stored_bytes",
]


#: Documented size limits (they keep a mistyped size from allocating terabytes or hanging).
MAX_CIRCLE_CELLS = 1_000_000
MAX_TOKENS = 10_000_000
MAX_FRAMES = 10_000
MAX_DEGREE_ELL = 64
#: Largest total size of the stored frames (density coefficients and tokens), in bytes.
MAX_STORED_BYTES = 16 * 2**30
#: Longest file-name component most file systems accept, in bytes.
MAX_NAME_BYTES = 255


def _registry_choices():
    """Allowed mesh and initial kinds, read from the builders' registries (never retyped)."""
    from .builders import INITIAL_KINDS, MESH_KINDS

    return {"mesh.kind": tuple(MESH_KINDS), "initial.kind": tuple(INITIAL_KINDS)}


@dataclass(frozen=True)
class Key:
    """One configuration key: its type, default, and the values it may take."""

    kind: str  # "number" | "int" | "bool" | "str" | "times" | "matrix" | "points"
    default: object
    choices: tuple | None = None
    minimum: float | None = None
    positive: bool = False
    doc: str = ""
    maximum: float | None = None


SCHEMA: dict[str, dict[str, Key]] = {
    "model": {
        "beta": Key("number", 9.0, minimum=0.0, doc="inverse temperature"),
        "normalized": Key("bool", True, doc="true: softmax attention (SA); false: USA"),
        "diffusion": Key(
            "number",
            0.0,
            minimum=0.0,
            doc="noise D >= 0: noisy tokens and the Fokker-Planck density (eulerian scheme, "
            "IMEX time stepping)",
        ),
        "Q": Key(
            "matrix",
            "identity",
            doc='"identity", a d x d matrix (list of rows), or "random:SEED" '
            "(i.i.d. normal entries of variance 1/d from numpy's default_rng(SEED))",
        ),
        "K": Key("matrix", "identity", doc="key matrix, as Q"),
        "V": Key("matrix", "identity", doc="value matrix, as Q"),
    },
    "mesh": {
        "kind": Key(
            "str",
            "icosphere",
            doc="S^2 icosphere, S^1 circle, a mesh file, or zonal (the polar angle of "
            "S^{d-1}, for densities of x_d)",
        ),
        "level": Key(
            "int",
            3,
            minimum=0,
            maximum=8,
            doc="icosphere refinement level (20 * 4**level triangles)",
        ),
        "cells": Key(
            "int",
            256,
            minimum=3,
            maximum=MAX_CIRCLE_CELLS,
            doc="number of equal circle cells (kind = 'circle'), or of equal polar-angle cells "
            "(kind = 'zonal')",
        ),
        "d": Key("int", 8, minimum=2, maximum=1 << 14, doc="ambient dimension (kind = 'zonal')"),
        "path": Key(
            "str",
            "",
            doc="mesh file (kind = 'file'), any format pyvista reads; relative to the "
            "working directory",
        ),
    },
    "initial": {
        "kind": Key(
            "str",
            "white_noise",
            doc="uniform; uniform plus one harmonic; von Mises-Fisher mixture; uniform plus "
            "seeded noise on all harmonics up to ell_max",
        ),
        "amplitude": Key(
            "number", 0.5, doc="perturbation size relative to uniform, |amplitude| < 1"
        ),
        "ell": Key(
            "int", 4, minimum=1, maximum=MAX_DEGREE_ELL, doc="harmonic degree (kind = 'mode')"
        ),
        "m": Key(
            "int",
            0,
            doc="harmonic order (kind = 'mode'): -ell..ell on S^2; on S^1 m >= 0 is cos, "
            "m < 0 is sin",
        ),
        "ell_max": Key(
            "int",
            4,
            minimum=1,
            maximum=MAX_DEGREE_ELL,
            doc="highest degree (kind = 'white_noise')",
        ),
        "seed": Key("int", 0, minimum=0, doc="white-noise seed"),
        "centres": Key(
            "points",
            [[0.0, 0.0, 1.0]],
            doc="vMF mean directions, one list of d numbers each, normalised (kind = 'vmf')",
        ),
        "kappa": Key("number", 10.0, minimum=0.0, doc="vMF concentration (kind = 'vmf')"),
    },
    "solver": {
        "degree": Key("int", 1, choices=DEGREES, doc="DG polynomial degree"),
        "cfl": Key("number", 0.5, minimum=0.0, positive=True, doc="CFL number"),
        "dt_max": Key("number", 0.05, minimum=0.0, positive=True, doc="largest time step"),
        "field": Key(
            "str",
            "auto",
            choices=tuple(EVALUATORS),
            doc="attention-field evaluator (PDE and particles)",
        ),
        "scheme": Key(
            "str", "eulerian", choices=tuple(DENSITY_SCHEMES), doc="density solver (spatial scheme)"
        ),
        "method": Key(
            "str",
            "ssprk3",
            choices=EULERIAN_METHODS + LAGRANGIAN_METHODS,
            doc="time scheme of the density solver (lagrangian: rk4 or dop853; an Eulerian "
            "name means rk4)",
        ),
    },
    "particles": {
        "enabled": Key("bool", True, doc="run tokens beside the density"),
        "n": Key(
            "int",
            20000,
            minimum=1,
            maximum=MAX_TOKENS,
            doc="number of tokens sampled from the initial density",
        ),
        "seed": Key("int", 0, minimum=0, doc="seed of the token sample"),
        "method": Key("str", "rk4", choices=PARTICLE_METHODS, doc="token time stepping"),
        "dt": Key(
            "number",
            0.05,
            minimum=0.0,
            positive=True,
            doc="RK4 step (at beta = 9 the default run's tokens move by at most 8e-6 from "
            "those at dt = 0.02; lower it for larger beta)",
        ),
    },
    "times": {
        "t_end": Key("number", 6.0, minimum=0.0, positive=True, doc="final time"),
        "frames": Key(
            "int",
            13,
            minimum=2,
            maximum=MAX_FRAMES,
            doc="equally spaced output times, 0 and t_end included (render times are added)",
        ),
    },
    "output": {
        "root": Key(
            "str",
            "runs",
            doc="directory holding one folder per run name (relative to the working directory)",
        ),
        "render": Key(
            "times",
            [0.0, 3.0, 6.0],
            doc="times at which the density and tokens are drawn (added to the output times)",
        ),
        "vtk": Key("bool", True, doc="write the VTK series (density.pvd + one .vtu per frame)"),
        "gif": Key("bool", True, doc="write figures/animation.gif"),
        "figures": Key("bool", True, doc="draw the figures at the end of the run"),
        "cluster_radius": Key(
            "number",
            0.15,
            minimum=0.0,
            positive=True,
            doc="geodesic merging radius of the token cluster count",
        ),
        "cluster_min_mass": Key(
            "number",
            0.01,
            minimum=0.0,
            maximum=1.0,
            doc="clusters lighter than this fraction of the mass are not counted",
        ),
        "cluster_level": Key(
            "number",
            4.0,
            minimum=0.0,
            positive=True,
            doc="density clusters: regions above this multiple of the uniform density",
        ),
        "cluster_cells": Key(
            "number",
            3.0,
            minimum=0.0,
            positive=True,
            doc="density clusters: chaining radius, in mesh resolutions",
        ),
    },
}


def _with_registry_choices(schema):
    for dotted, choices in _registry_choices().items():
        section, name = dotted.split(".")
        schema[section][name] = replace(schema[section][name], choices=choices)
    return schema


SCHEMA = _with_registry_choices(SCHEMA)

#: The embedded default run (the SCHEMA defaults): S^2 icosphere level 3 (1280 cells), DG p = 1,
#: beta = 9, uniform plus seeded noise of relative size 0.5 on the harmonics of degree <= 4,
#: 20 000 tokens sampled from it (enough for their four clusters to match the density's), 13
#: frames to t = 6, when about four clusters have formed.
DEFAULT_CONFIG = {"name": "default"}


def _fail(path, expected, value):
    raise ValueError(f"config key '{path}' must be {expected}, got {value!r}")


def _real(a) -> bool:
    return isinstance(a, numbers.Real) and not isinstance(a, bool)


def _finite(path, v):
    if not math.isfinite(v):
        _fail(path, "a finite number", v)
    return v


def _check_matrix(path, v):
    if v == "identity" or (isinstance(v, str) and v.startswith("random:") and v[7:].isdigit()):
        return v
    rows = v if isinstance(v, list) else None
    ok = rows and all(isinstance(r, list) and len(r) == len(rows) for r in rows)
    if not ok or not all(_real(a) for r in rows for a in r):
        _fail(path, '"identity", "random:SEED" or a square matrix (list of equal-length rows)', v)
    if not all(math.isfinite(a) for r in rows for a in r):
        _fail(path, "a matrix of finite numbers", v)
    return [[float(a) for a in r] for r in rows]


def check_path_text(path: str, v: str, component: bool) -> str:
    """A name or path a file system can hold: no control characters, no component longer
    than :data:`MAX_NAME_BYTES`; ``component``: one folder name (no '/', not '.' or '..')."""
    if not isinstance(v, str) or not v:
        _fail(path, "a non-empty string", v)
    if any(ord(c) < 32 or ord(c) == 127 for c in v):
        _fail(path, "a string without control characters (NUL, newline, tab, ...)", v)
    if component and ("/" in v or "\\" in v or v.startswith(".")):
        _fail(path, "a folder name without '/' or '\\' that does not start with '.'", v)
    long = [part for part in v.split("/") if len(part.encode("utf-8")) > MAX_NAME_BYTES]
    if long:
        _fail(path, f"path components of at most {MAX_NAME_BYTES} bytes", long[0][:40] + "...")
    return v


def _bound(v) -> str:
    return str(int(v)) if float(v).is_integer() and abs(v) >= 1e5 else f"{v:g}"


def _check(path, key: Key, v):
    kind = key.kind
    if kind == "bool":
        if not isinstance(v, bool):
            _fail(path, "true or false", v)
    elif kind == "int":
        if isinstance(v, bool) or not isinstance(v, int):
            _fail(path, "an integer", v)
    elif kind == "number":
        if not _real(v):
            _fail(path, "a number", v)
        v = _finite(path, float(v))
    elif kind == "str":
        if not isinstance(v, str):
            _fail(path, "a string", v)
    elif kind == "times":
        if not isinstance(v, list) or not all(_real(a) for a in v):
            _fail(path, "a list of numbers", v)
        v = [_finite(path, float(a)) for a in v]
    elif kind == "matrix":
        v = _check_matrix(path, v)
    elif kind == "points":
        if not isinstance(v, list) or not v or not all(isinstance(r, list) for r in v):
            _fail(path, "a non-empty list of points (lists of numbers)", v)
        if not all(_real(a) and math.isfinite(a) for r in v for a in r):
            _fail(path, "points of finite numbers", v)
    if key.choices is not None and v not in key.choices:
        _fail(path, f"one of {list(key.choices)}", v)
    if key.minimum is not None and kind in ("int", "number"):
        if v < key.minimum or (key.positive and v == key.minimum):
            _fail(path, f"{'>' if key.positive else '>='} {_bound(key.minimum)}", v)
    if key.maximum is not None and kind in ("int", "number") and v > key.maximum:
        _fail(path, f"<= {_bound(key.maximum)} (a documented limit)", v)
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
            out["name"] = check_path_text("name", body, component=True)
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
    d = {"icosphere": 3, "circle": 2, "zonal": mesh["d"]}.get(mesh["kind"])
    if d is not None:
        check_dimension(cfg, d)
    if abs(cfg["initial"]["amplitude"]) >= 1:
        _fail("initial.amplitude", "a number with |amplitude| < 1", cfg["initial"]["amplitude"])
    t_end = cfg["times"]["t_end"]
    bad = [t for t in cfg["output"]["render"] if not 0 <= t <= t_end]
    if bad:
        _fail("output.render", f"times within [0, times.t_end = {t_end:g}]", bad)
    check_path_text("output.root", cfg["output"]["root"], component=False)
    _check_stored_size(cfg)


def stored_bytes(cfg: dict) -> int | None:
    """Bytes of the frames a run keeps (in memory and in density.npz / particles.npz):
    ``8 * frames * (cells * basis + n * d)``; None when the mesh is a file (read later)."""
    mesh, p = cfg["mesh"], cfg["solver"]["degree"]
    if mesh["kind"] == "icosphere":
        cells, basis, d = 20 * 4 ** mesh["level"], (p + 1) * (p + 2) // 2, 3
    elif mesh["kind"] == "circle":
        cells, basis, d = mesh["cells"], p + 1, 2
    elif mesh["kind"] == "zonal":
        cells, basis, d = mesh["cells"], p + 1, mesh["d"]
    else:
        return None
    frames = cfg["times"]["frames"] + len(cfg["output"]["render"])
    tokens = cfg["particles"]["n"] * d if cfg["particles"]["enabled"] else 0
    return 8 * frames * (cells * basis + tokens)


def _check_stored_size(cfg):
    size = stored_bytes(cfg)
    if size is not None and size > MAX_STORED_BYTES:
        raise ValueError(
            f"config keys 'times.frames', 'particles.n' and the mesh size: the run would keep "
            f"{size / 2**30:.3g} GiB of frames, more than the {MAX_STORED_BYTES / 2**30:g} GiB "
            "allowed; use fewer frames, tokens or cells"
        )


def check_dimension(cfg: dict, d: int) -> None:
    """Checks that need the ambient dimension d of the mesh (2 on S^1, 3 on S^2).

    Called by :func:`resolve` when ``mesh.kind`` fixes d, and by the run once a mesh file is
    read. Raises ``ValueError`` naming the key.
    """
    kind = cfg["mesh"]["kind"]
    where = f"a {kind} mesh" if kind != "file" else f"the mesh file (d = {d})"
    for name in ("Q", "K", "V"):
        mat = cfg["model"][name]
        if isinstance(mat, list) and len(mat) != d:
            shape = f"{len(mat)} x {len(mat[0])}"
            _fail(f"model.{name}", f"a {d} x {d} matrix for {where}, not {shape}", mat)
    init = cfg["initial"]
    if init["kind"] == "vmf":
        for c in init["centres"]:
            ok = len(c) == d and all(
                isinstance(a, numbers.Real) and not isinstance(a, bool) for a in c
            )
            if not ok or not any(c):
                _fail("initial.centres", f"non-zero points of {d} numbers for {where}", c)
    if init["kind"] == "mode" and d == 3 and abs(init["m"]) > init["ell"]:
        _fail("initial.m", f"an order with |m| <= initial.ell = {init['ell']}", init["m"])


def load_config(path=None) -> dict:
    """Read and resolve a TOML configuration; ``None`` gives the embedded default."""
    if path is None:
        return resolve(copy.deepcopy(DEFAULT_CONFIG))
    p = Path(path)
    if p.is_dir():
        raise ValueError(f"config file {str(p)!r} is a directory, not a TOML file")
    if not p.is_file():
        raise ValueError(f"config file {str(p)!r} does not exist")
    try:
        text = p.read_bytes().decode("utf-8")
    except UnicodeDecodeError:
        raise ValueError(f"config file {str(p)!r} is not UTF-8 text (a binary file?)") from None
    except OSError as exc:
        raise ValueError(f"config file {str(p)!r} cannot be read: {exc.strerror}") from None
    try:
        table = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ValueError(f"config file {str(p)!r} is not valid TOML: {exc}") from None
    return resolve(table)


def dump_config(cfg: dict) -> str:
    """The resolved configuration as TOML text."""
    import tomli_w

    return tomli_w.dumps(cfg)


_TYPE_NAMES = {
    "number": "float",
    "int": "integer",
    "bool": "boolean",
    "str": "string",
    "times": "list of floats",
    "matrix": "string or matrix",
    "points": "list of points",
}


def dotted_keys() -> dict[str, Key]:
    """Every key of :data:`SCHEMA` by its dotted name, ``"section.key"`` (what sweeps use)."""
    return {
        f"{section}.{name}": key for section, keys in SCHEMA.items() for name, key in keys.items()
    }


def check_value(dotted: str, value, where: str | None = None):
    """One setting checked (and canonicalised) exactly as :func:`resolve` checks it; errors
    name ``where`` (default the dotted key)."""
    section, name = dotted.split(".", 1)
    return _check(where or dotted, SCHEMA[section][name], value)


def from_dotted(values: dict) -> dict:
    """A resolved configuration from ``{"section.key": value}`` (the other keys at their
    defaults); the cross-key checks of :func:`resolve` apply."""
    table: dict = {}
    for dotted, v in values.items():
        section, name = dotted.split(".", 1)
        table.setdefault(section, {})[name] = v
    return resolve(table)


def _toml_value(v) -> str:
    """A default as one line of TOML (the values here are numbers, strings, bools, lists)."""
    import json

    return json.dumps(v)


def _allowed(key: Key) -> str:
    if key.choices is not None:
        return ", ".join(f"`{_toml_value(c)}`" for c in key.choices)
    parts = []
    if key.minimum is not None:
        parts.append(f"{'>' if key.positive else '>='} {_bound(key.minimum)}")
    if key.maximum is not None:
        parts.append(f"<= {_bound(key.maximum)}")
    return " and ".join(parts)


def reference_markdown() -> str:
    """The configuration reference as Markdown: one table per section, generated from SCHEMA.

    ``docs/cli.md`` holds this text between ``<!-- config-reference:start -->`` and
    ``<!-- config-reference:end -->``; a test checks that it is up to date.
    """
    out = [
        'Top level: `name` (string, default `"default"`): the run\'s folder name under '
        "`output.root`.",
        "",
    ]
    for section, keys in SCHEMA.items():
        out += [f"### [{section}]", "", "| key | type | default | allowed | meaning |"]
        out.append("|---|---|---|---|---|")
        for name, key in keys.items():
            doc = key.doc.replace("|", "\\|")
            row = [f"`{name}`", _TYPE_NAMES[key.kind], f"`{_toml_value(key.default)}`"]
            out.append("| " + " | ".join(row + [_allowed(key), doc]) + " |")
        out.append("")
    return "\n".join(out)


_MARKERS = ("<!-- config-reference:start -->\n", "<!-- config-reference:end -->")


def update_docs(path) -> bool:
    """Rewrite the config reference between the markers of a Markdown file; True if changed."""
    p = Path(path)
    text = p.read_text()
    start, end = _MARKERS
    if start not in text or end not in text:
        raise ValueError(f"{str(p)!r} lacks the markers {start.strip()} ... {end}")
    head, rest = text.split(start, 1)
    tail = rest.split(end, 1)[1]
    new = f"{head}{start}\n{reference_markdown().strip()}\n\n{end}{tail}"
    if new != text:
        p.write_text(new)
    return new != text


if __name__ == "__main__":  # python -m meanfield.app.config --update-docs docs/cli.md
    import sys

    if len(sys.argv) != 3 or sys.argv[1] != "--update-docs":
        sys.exit("usage: python -m meanfield.app.config --update-docs FILE.md")
    print("updated" if update_docs(sys.argv[2]) else "up to date", sys.argv[2])
