r"""Parameter sweeps on Dask: a grid of runs, one tidy results table, resumable.

A sweep specification (a dict, or a ``SWEEP.toml`` file) names a *task*, a *base* parameter
table and *grid* axes; every point of the cartesian product of the axes (over the base values)
is one task run. For example::

    task = "particles"
    out = "results/phase"          # optional; relative to this file

    [base]
    n = 32
    starts = 64                    # random starts, advanced together as one batch
    t = { start = 0.0, stop = 30.0, num = 61 }

    [grid]
    beta = [0.0, 1.0, 4.0]
    d = [2, 3, 8, 32]

Runs are submitted to a ``dask.distributed`` cluster (a loopback-only ``LocalCluster`` by
default, or any scheduler address) and their rows are appended to ``OUT/results.csv`` as they
arrive. Each row holds the point's key (a hash of the task name and every parameter value),
``status`` (``ok`` or ``failed``), a one-line ``error``, the run time, an optional artifact
path, one column per parameter and one per scalar result. Rerunning the same sweep skips every
point whose key already has an ``ok`` row (failed points are retried), so an interrupted sweep
resumes where it stopped. The table is plain CSV: ``pandas.read_csv`` reads it and
``.set_index([...]).to_xarray()`` turns it into labelled arrays; :func:`read_results` and
:func:`time_series` read it without pandas.

Tasks
-----
Tasks are data in the registry :data:`TASKS` (name -> :class:`Task`). A task is one function
``run(params, artifacts) -> dict`` plus a declaration of its parameters; registering one is a
decorator on that function::

    @register_task("density", parameters={
        "beta": Param("float", doc="inverse temperature"),
        "level": Param("int", 3, doc="icosphere refinement level"),
        "degree": Param("int", 1, doc="DG degree"),
        "t": Param("times", {"start": 0.0, "stop": 10.0, "num": 11}, doc="output times"),
    })
    def density_task(params, artifacts):
        ...                                  # solve_density, diagnostics
        return {"mass@t=10": ..., "artifact": str(path)}

``params`` holds every declared parameter, validated and with defaults filled; ``artifacts`` is
a per-point directory (not created in advance) for files the task wants to keep, whose path it
may return under the ``"artifact"`` key. Every other returned value must be a scalar
(int, float, bool or str).

Registered tasks: ``"particles"`` (batched token ensembles from uniform random starts),
``"density"`` (one mean-field PDE run: mass drift, minimum density, energy, clusters) and
``"both"`` (the density run plus tokens drawn from its initial density, with the columns
prefixed ``density.`` and ``particles.`` and the particle-vs-PDE distance ``w1@t=..``); its
parameter table is the density task's plus the token parameters.
Changing a task's parameters (adding one with a default included) changes the keys, so old rows
are then recomputed rather than silently reused.

Note: ``meanfield.sweep`` is the function (re-exported by the package); import this module's
other names with ``from meanfield.sweep import read_results, register_task, ...``.
"""

from __future__ import annotations

import contextlib
import csv
import hashlib
import inspect
import io
import itertools
import json
import math
import numbers
import os
import time
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

import numpy as np

from ._checks import as_int, as_scalar, as_times, choose
from .diagnostics import density_clusters  # noqa: F401  (re-exported: older scripts import it here)

__all__ = [
    "Param",
    "Task",
    "TASKS",
    "register_task",
    "SweepSpec",
    "load_spec",
    "point_key",
    "sweep",
    "local_cluster",
    "SweepSummary",
    "ResultTable",
    "read_results",
    "time_series",
]

#: Name of the results table inside the output directory.
TABLE_NAME = "results.csv"
#: Columns every row has, in this order, before the parameters and the results.
META_COLUMNS = ("key", "task", "status", "error", "elapsed_s", "artifact")
#: Spec keys at the top level.
SPEC_KEYS = ("task", "base", "grid", "out")
#: Longest error message kept in the table.
ERROR_CHARS = 300

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
PARAM_KINDS: dict[str, Callable] = {
    "float": _as_float,
    "int": _as_int,
    "bool": _as_bool,
    "str": _as_str,
    "strs": _as_strs,
    "times": _as_time_grid,
}


@dataclass(frozen=True)
class Param:
    """Declaration of one task parameter.

    Attributes
    ----------
    kind : {"float", "int", "bool", "str", "strs", "times"}
        How values are checked and canonicalised (``"times"``: a strictly increasing list,
        or ``{start, stop, num}``; ``"strs"``: a list of strings).
    default : object
        Value when the spec omits the parameter; omitted means the parameter is required.
        ``None`` is allowed as a default (TOML cannot spell it, so a user cannot pass it).
    doc : str
    choices : tuple of str, optional
        Allowed values for ``"str"`` and ``"strs"``.
    """

    kind: str
    default: Any = _REQUIRED
    doc: str = ""
    choices: tuple | None = None

    def __post_init__(self):
        choose(self.kind, "kind", PARAM_KINDS)

    @property
    def required(self) -> bool:
        return self.default is _REQUIRED

    def coerce(self, value, name: str):
        """The canonical value (floats as float, time grids as lists) or a ValueError."""
        return PARAM_KINDS[self.kind](value, name, self.choices)


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
    if not isinstance(value, Mapping):
        raise ValueError(f"{name} must be a table of parameters, got {type(value).__name__}")
    return dict(value)


def _axis(param: Param, values, name: str) -> list:
    if not isinstance(values, list | tuple) or len(values) == 0:
        raise ValueError(f"{name} must be a non-empty list of values, got {values!r}")
    out = [param.coerce(v, f"{name}[{i}]") for i, v in enumerate(values)]
    canon = [_canonical(v) for v in out]
    if len(set(canon)) != len(canon):
        raise ValueError(f"{name} must not repeat a value, got {out}")
    return out


def _canonical(value) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), allow_nan=False)


def point_key(task: str, params: Mapping) -> str:
    """Stable 16-hex-digit key of one grid point: SHA-256 of the task and all parameters."""
    blob = _canonical({"task": task, "params": dict(params)})
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


# --------------------------------------------------------------------------------------------
# the results table


def _cell(value) -> str:
    """One CSV cell: numbers as repr (round-trips), lists as JSON, no line breaks."""
    if value is None:
        return ""
    if isinstance(value, bool | np.bool_):
        return "true" if value else "false"
    if isinstance(value, numbers.Integral):
        return str(int(value))
    if isinstance(value, numbers.Real):
        return repr(float(value))
    if isinstance(value, list | tuple | dict):
        return _canonical(value)
    return " ".join(str(value).split())


class ResultTable:
    """The tidy CSV table of a sweep, appended one whole row at a time.

    Rows are written with a single ``write`` on an append-mode descriptor and flushed to disk;
    a torn last line (a crash mid-write) is cut off when the table is next opened. When a row
    brings a column the header lacks, the file is rewritten under a new name and atomically
    renamed over the old one.

    Parameters
    ----------
    path : path-like
        The CSV file (created on first write).
    """

    def __init__(self, path):
        self.path = Path(path)
        self.columns: list[str] = []
        self.rows: list[dict[str, str]] = []
        if self.path.exists():
            self._repair()
            with self.path.open(newline="", encoding="utf-8") as fh:
                reader = csv.DictReader(fh)
                self.columns = list(reader.fieldnames or [])
                self.rows = [dict(r) for r in reader]

    def _repair(self):
        data = self.path.read_bytes()
        cut = data.rfind(b"\n") + 1
        if cut < len(data):
            with self.path.open("r+b") as fh:
                fh.truncate(cut)

    def keys(self, status: str | None = None) -> set[str]:
        """Keys of the rows (with the given status)."""
        return {r["key"] for r in self.rows if status is None or r.get("status") == status}

    def append(self, row: Mapping[str, Any]):
        """Write one row; columns it brings are added to the header."""
        cells = {k: _cell(v) for k, v in row.items()}
        new = [k for k in cells if k not in self.columns]
        self.rows.append(cells)
        if new or not self.path.exists():
            self.columns += new
            self._rewrite()
            return
        line = self._format([cells.get(c, "") for c in self.columns])
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND)
        try:
            os.write(fd, line.encode("utf-8"))
            os.fsync(fd)
        finally:
            os.close(fd)

    def drop(self, keys):
        """Remove the rows with these keys (rewrites the file)."""
        keys = set(keys)
        if not any(r["key"] in keys for r in self.rows):
            return
        self.rows = [r for r in self.rows if r["key"] not in keys]
        self._rewrite()

    @staticmethod
    def _format(cells) -> str:
        buf = io.StringIO()
        csv.writer(buf, lineterminator="\n").writerow(cells)
        return buf.getvalue()

    def _rewrite(self):
        tmp = self.path.with_name(self.path.name + ".tmp")
        text = self._format(self.columns) + "".join(
            self._format([r.get(c, "") for c in self.columns]) for r in self.rows
        )
        with tmp.open("w", encoding="utf-8", newline="") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, self.path)


def _parse(cell: str):
    if cell == "":
        return None
    if cell in ("true", "false"):
        return cell == "true"
    if cell[0] in "[{":
        with contextlib.suppress(ValueError):
            return json.loads(cell)
    for convert in (int, float):
        with contextlib.suppress(ValueError):
            return convert(cell)
    return cell


def read_results(out) -> list[dict]:
    """Rows of a sweep's table with values parsed (numbers, booleans, lists; empty -> None).

    Parameters
    ----------
    out : path-like
        The sweep's output directory, or the CSV file itself.

    Returns
    -------
    list of dict
    """
    path = Path(out)
    if path.is_dir():
        path = path / TABLE_NAME
    if not path.exists():
        raise FileNotFoundError(f"no sweep results at {path}")
    return [{k: _parse(v) for k, v in r.items()} for r in ResultTable(path).rows]


def time_series(row: Mapping, name: str) -> tuple[np.ndarray, np.ndarray]:
    """The per-time result ``name`` of one row: columns ``name@t=...`` sorted by time.

    Returns
    -------
    t : ndarray, shape (T,)
    values : ndarray, shape (T,)
        NaN where the row has no value (a failed point).
    """
    prefix = f"{name}@t="
    items = sorted((float(k[len(prefix) :]), v) for k, v in row.items() if k.startswith(prefix))
    if not items:
        raise ValueError(f"name must be a per-time result of the row, got {name!r}")
    t = np.array([s for s, _ in items])
    v = np.array([np.nan if x is None else float(x) for _, x in items])
    return t, v


def time_column(name: str, t: float) -> str:
    """Column name of a per-time result: ``name@t=<t>`` (t to 12 significant digits)."""
    return f"{name}@t={float(t):.12g}"


# --------------------------------------------------------------------------------------------
# running


@dataclass(frozen=True)
class SweepSummary:
    """What a call to :func:`sweep` did.

    Attributes
    ----------
    table : pathlib.Path
        The results CSV.
    total, computed, skipped, failed : int
        Grid points; runs done now; points already complete; runs that failed now.
    wall_s : float
        Wall time of the call.
    """

    table: Path
    total: int
    computed: int
    skipped: int
    failed: int
    wall_s: float
    keys: tuple = field(default=(), repr=False)


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    msg = f"{type(exc).__name__}: {text}" if text else type(exc).__name__
    return msg if len(msg) <= ERROR_CHARS else msg[: ERROR_CHARS - 3] + "..."


def _scalar_results(result) -> dict:
    if not isinstance(result, Mapping):
        raise TypeError(f"task must return a dict of scalars, got {type(result).__name__}")
    out = {}
    for k, v in result.items():
        if not isinstance(k, str) or k in META_COLUMNS[:-1]:
            raise TypeError(f"task returned a reserved or non-string column name {k!r}")
        if isinstance(v, np.generic):
            v = v.item()
        if not isinstance(v, bool | numbers.Real | str):
            raise TypeError(f"task result {k!r} must be a scalar, got {type(v).__name__}")
        out[k] = v
    return out


def _execute(run, params: dict, artifacts: str) -> dict:
    """Run one grid point (on a worker); never raises, a failure becomes a status."""
    start = time.perf_counter()
    try:
        results = _scalar_results(run(dict(params), Path(artifacts)))
        status, error = "ok", ""
    except Exception as exc:  # noqa: BLE001 - every failure is recorded per point
        results, status, error = {}, "failed", _one_line(exc)
    artifact = results.pop("artifact", "")
    meta = {"status": status, "error": error, "elapsed_s": time.perf_counter() - start}
    return {**meta, "artifact": artifact, **results}


def _require_distributed():
    try:
        import distributed
    except ImportError as exc:
        raise ImportError(
            "meanfield.sweep needs dask.distributed; install it with pip install 'meanfield[sweep]'"
        ) from exc
    return distributed


def local_cluster(n_workers: int | None = None, processes: bool = True):
    """A ``dask.distributed.LocalCluster`` reachable from this machine only.

    Scheduler, workers and dashboard listen on 127.0.0.1 (the dashboard on a free port), over
    TCP even for thread workers.

    Parameters
    ----------
    n_workers : int, optional
        Default min(2, CPUs); one thread each.
    processes : bool
        Workers as processes (True) or as threads of this process (False, starts faster).

    Returns
    -------
    distributed.LocalCluster
        Use it as a context manager to shut it down.
    """
    distributed = _require_distributed()
    workers = n_workers if n_workers is not None else max(1, min(2, os.cpu_count() or 1))
    return distributed.LocalCluster(
        n_workers=as_int(workers, "n_workers", min_value=1),
        threads_per_worker=1,
        processes=bool(processes),
        host="127.0.0.1",
        protocol="tcp",  # thread workers would otherwise use inproc://
        dashboard_address="127.0.0.1:0",  # None would still open one, on port 8787
        silence_logs=40,
    )


@contextlib.contextmanager
def _client(scheduler, n_workers, processes):
    """A distributed Client: a new loopback LocalCluster, an address, or one given."""
    distributed = _require_distributed()
    if isinstance(scheduler, distributed.Client):
        yield scheduler
        return
    if scheduler is None:
        with local_cluster(n_workers, processes) as cluster, distributed.Client(cluster) as client:
            yield client
        return
    if isinstance(scheduler, distributed.deploy.Cluster):
        with distributed.Client(scheduler) as client:
            yield client
        return
    if isinstance(scheduler, str):
        try:
            client = distributed.Client(scheduler)
        except (OSError, TimeoutError) as exc:
            raise ValueError(f"scheduler: cannot connect to {scheduler!r} ({exc})") from None
        with client:
            yield client
        return
    raise ValueError(
        "scheduler must be None (start a LocalCluster), an address string, a "
        f"distributed.Client or a Cluster, got {type(scheduler).__name__}"
    )


def sweep(
    spec,
    out=None,
    scheduler=None,
    progress: bool = True,
    *,
    n_workers: int | None = None,
    processes: bool = True,
    retry_failed: bool = True,
) -> SweepSummary:
    """Run every grid point of a sweep on Dask and append the rows to ``OUT/results.csv``.

    Parameters
    ----------
    spec : SweepSpec, dict or path-like
        The sweep (see the module docstring and :func:`load_spec`).
    out : path-like, optional
        Output directory; default the spec's ``out``. Holds ``results.csv``, ``spec.json``
        (the last validated spec) and ``artifacts/<key>/`` (files tasks chose to keep; with a
        remote scheduler they are written on the workers, so ``out`` should then be on
        storage the workers share).
    scheduler : None, str, distributed.Client or Cluster
        ``None`` starts a ``LocalCluster`` bound to 127.0.0.1 (no dashboard) for the duration
        of the call; a string is a scheduler address (``tcp://host:8786``).
    progress : bool
        Show a tqdm bar of points done / total.
    n_workers : int, optional
        Workers of the LocalCluster (default min(2, CPUs)); one thread each.
    processes : bool
        LocalCluster workers as processes (True) or threads of this process (False).
    retry_failed : bool
        Rerun points whose last row failed (their old row is dropped first).

    Returns
    -------
    SweepSummary
    """
    wall = time.perf_counter()
    spec = load_spec(spec)
    out = out if out is not None else spec.out
    if out is None:
        raise ValueError("out must be given (an output directory) when the spec names none")
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise ValueError(f"out must be a directory, got the file {out}")
    task = TASKS[spec.task]
    points = {point_key(spec.task, p): p for p in spec.points()}
    out.mkdir(parents=True, exist_ok=True)
    table = ResultTable(out / TABLE_NAME)
    done = table.keys("ok") & set(points)
    todo = {k: p for k, p in points.items() if k not in done}
    if not retry_failed:
        todo = {k: p for k, p in todo.items() if k not in table.keys()}
    table.drop(set(todo) & table.keys())
    (out / "spec.json").write_text(json.dumps(spec.to_dict(), indent=2) + "\n", encoding="utf-8")
    names = list(spec.axes) + list(spec.base)
    failed = 0
    if todo:
        failed = _run_points(
            task, todo, names, out, table, scheduler, progress, len(points), n_workers, processes
        )
    return SweepSummary(
        table=table.path,
        total=len(points),
        computed=len(todo),
        skipped=len(points) - len(todo),
        failed=failed,
        wall_s=time.perf_counter() - wall,
        keys=tuple(points),
    )


def _run_points(task, todo, names, out, table, scheduler, progress, total, n_workers, processes):
    from tqdm.auto import tqdm

    failed = 0
    bar = tqdm(
        total=total,
        initial=total - len(todo),
        unit="pt",
        desc=f"sweep {task.name}",
        disable=not progress,
    )
    with _client(scheduler, n_workers, processes) as client:
        import distributed

        futures = {}
        for key, params in todo.items():
            fut = client.submit(
                _execute, task.run, params, str(out / "artifacts" / key), pure=False
            )
            futures[fut] = key
        try:
            for fut in distributed.as_completed(futures):
                key = futures[fut]
                try:
                    record = fut.result()
                except Exception as exc:  # noqa: BLE001 - a lost worker fails one point only
                    record = {"status": "failed", "error": _one_line(exc), "elapsed_s": None}
                params = todo[key]
                record["artifact"] = _relative(record.get("artifact"), out)
                row = {"key": key, "task": task.name, **record}
                row = {
                    **{c: row.get(c) for c in META_COLUMNS},
                    **{n: params[n] for n in names},
                    **row,
                }
                table.append(row)
                failed += record["status"] != "ok"
                bar.update(1)
                bar.set_postfix(failed=failed)
                fut.release()
        finally:
            client.cancel(list(futures))
            bar.close()
    return failed


def _relative(path, out: Path) -> str:
    """Artifact paths inside ``out`` are stored relative to it, so the folder can move."""
    if not path:
        return ""
    with contextlib.suppress(ValueError):
        return str(Path(path).resolve().relative_to(out.resolve()))
    return str(path)


# --------------------------------------------------------------------------------------------
# the particles task

#: Metrics the particles task can report at every output time.
PARTICLE_METRICS = ("fraction_above", "clusters", "energy")


@register_task(
    "particles",
    parameters={
        "beta": Param("float", doc="inverse temperature"),
        "n": Param("int", 32, doc="tokens per ensemble"),
        "d": Param("int", 3, doc="ambient dimension (sphere S^{d-1})"),
        "starts": Param("int", 16, doc="independent uniform random starts, run as one batch"),
        "seed": Param("int", 0, doc="seed of the random starts"),
        "t": Param("times", {"start": 0.0, "stop": 10.0, "num": 11}, doc="output times"),
        "normalized": Param("bool", True, doc="SA (true) or USA (false)"),
        "dt": Param("float", None, doc="RK4 step; default auto_dt * dt_scale"),
        "dt_scale": Param("float", 1.0, doc="factor on the automatic RK4 step"),
        "threshold": Param("float", 0.999, doc="cosine above which a pair is 'together'"),
        "radius": Param("float", 0.05, doc="cluster radius (geodesic) for the cluster count"),
        "metrics": Param(
            "strs", list(PARTICLE_METRICS), doc="reported metrics", choices=PARTICLE_METRICS
        ),
        "save": Param("bool", False, doc="keep the trajectory as artifacts/<key>/trajectory.npz"),
    },
)
def particles_task(params: dict, artifacts: Path) -> dict:
    r"""Batched token ensembles from uniform random starts (Q = K = V = I).

    ``starts`` ensembles of ``n`` tokens on :math:`S^{d-1}`, drawn as
    ``sample_sphere(starts * n, d, seed).reshape(starts, n, d)``, are advanced together by
    :func:`meanfield.solve_particles`. At every output time :math:`t` it reports the mean over
    starts of

    - ``fraction_above@t=..``: the fraction of pairs :math:`i<j` with
      :math:`\langle x_i, x_j\rangle >` ``threshold``;
    - ``clusters@t=..``: the cluster count (:func:`meanfield.diagnostics.find_clusters`);
    - ``energy@t=..``: :math:`E_\beta` (:func:`meanfield.diagnostics.energy`);

    and ``steps``, the RK4 steps taken.
    """
    from .diagnostics import energy, find_clusters, pairwise_cosines
    from .model import Attention
    from .particles import auto_dt, sample_sphere
    from .solve import solve_particles

    n = as_int(params["n"], "n", min_value=2)
    d = as_int(params["d"], "d", min_value=2)
    starts = as_int(params["starts"], "starts", min_value=1)
    model = Attention(params["beta"], normalized=params["normalized"])
    dt = params["dt"]
    if dt is None:
        dt = auto_dt(model, d) * as_scalar(params["dt_scale"], "dt_scale", min_value=0, strict=True)
    x0 = sample_sphere(starts * n, d, params["seed"]).reshape(starts, n, d)
    traj = solve_particles(model, x0, params["t"], dt=dt)
    metrics = {
        "fraction_above": lambda x: pairwise_cosines(x, params["threshold"])["fraction_above"],
        "clusters": lambda x: find_clusters(x, radius=params["radius"]).count,
        "energy": lambda x: energy(x, model.beta),
    }
    row = {"steps": int(traj.stats.get("steps", 0))}
    for name in params["metrics"]:
        for k, t in enumerate(traj.t):
            row[time_column(name, t)] = float(np.mean([metrics[name](x) for x in traj.x[k]]))
    if params["save"]:
        artifacts.mkdir(parents=True, exist_ok=True)
        path = artifacts / "trajectory.npz"
        np.savez_compressed(path, t=traj.t, x=traj.x)
        row["artifact"] = str(path)
    return row


# --------------------------------------------------------------------------------------------
# the density and both tasks

#: Initial densities of the density task (see :mod:`meanfield.initial`).
INITIAL_KINDS = ("uniform", "mode", "vmf", "white_noise")

#: Parameters of the mean-field PDE run (shared by the density and both tasks).
DENSITY_PARAMETERS = {
    "beta": Param("float", doc="inverse temperature"),
    "d": Param("int", 3, doc="ambient dimension: 2 (circle mesh) or 3 (icosphere)"),
    "level": Param("int", 2, doc="icosphere refinement level (d = 3)"),
    "cells": Param("int", 128, doc="circle cells (d = 2)"),
    "degree": Param("int", 1, doc="DG degree (0, 1 or 2)"),
    "initial": Param("str", "white_noise", doc="initial density", choices=INITIAL_KINDS),
    "amplitude": Param("float", 0.05, doc="perturbation size (mode, white_noise), |.| < 1"),
    "ell": Param("int", 4, doc="harmonic degree (mode)"),
    "m": Param("int", 0, doc="harmonic order (mode)"),
    "ell_max": Param("int", 8, doc="highest degree (white_noise)"),
    "initial_seed": Param("int", 0, doc="white-noise seed"),
    "kappa": Param("float", 10.0, doc="concentration of the vMF density centred at e_d (vmf)"),
    "t": Param("times", {"start": 0.0, "stop": 10.0, "num": 11}, doc="output times"),
    "normalized": Param("bool", True, doc="SA (true) or USA (false)"),
    "cfl": Param("float", 0.5, doc="CFL number"),
    "dt_max": Param("float", 0.05, doc="largest time step"),
    "velocity": Param("str", "auto", doc="field evaluator", choices=("auto", "direct", "spectral")),
    "cluster_level": Param(
        "float", 4.0, doc="cluster points: density above this multiple of the uniform density"
    ),
    "cluster_cells": Param("float", 3.0, doc="cluster chaining radius, in mesh resolutions"),
    "cluster_min_mass": Param("float", 0.01, doc="lighter clusters (mass fraction) not counted"),
    "save": Param("bool", False, doc="keep the DG coefficients as artifacts/<key>/density.npz"),
}


def _initial_density(params: dict):
    from . import initial

    d, kind = params["d"], params["initial"]
    if kind == "uniform":
        return initial.Uniform(d)
    if kind == "mode":
        return initial.ModePerturbation(d, params["ell"], params["amplitude"], params["m"])
    if kind == "vmf":
        return initial.VonMisesFisher(np.eye(d)[-1:], params["kappa"])
    return initial.WhiteNoise(d, params["amplitude"], params["ell_max"], params["initial_seed"])


def _mesh(params: dict):
    from .mesh import SphereMesh

    d = as_int(params["d"], "d")
    if d == 2:
        return SphereMesh.circle(as_int(params["cells"], "cells", min_value=3))
    if d == 3:
        return SphereMesh.icosphere(as_int(params["level"], "level", min_value=0))
    raise ValueError(f"d must be 2 (circle) or 3 (icosphere) for a density run, got {d}")


def _run_density(params: dict):
    """(solution, model, row) of the PDE part: invariants, energy and clusters per time."""
    from .dg import DG
    from .diagnostics import energy
    from .model import Attention
    from .solve import solve_density

    cpu = time.process_time()
    model = Attention(params["beta"], normalized=params["normalized"])
    rho0 = DG(_mesh(params), params["degree"]).interpolate(_initial_density(params))
    sol = solve_density(
        model,
        rho0,
        params["t"],
        cfl=params["cfl"],
        dt_max=params["dt_max"],
        velocity_method=params["velocity"],
    )
    solve_cpu = time.process_time() - cpu
    m0 = sol.mass[0]
    clusters = [
        density_clusters(
            rho, params["cluster_level"], params["cluster_cells"], params["cluster_min_mass"]
        )
        for rho in sol.densities
    ]
    energies = [energy(rho, model.beta) for rho in sol.densities]
    row = {
        "mass_drift": float(np.max(np.abs(sol.mass - m0)) / m0),
        "min_density": float(min(rho.min_value() for rho in sol.densities)),
        "energy_final": float(energies[-1]),
        "energy_max_decrease": float(
            max(0.0, np.max(-np.diff(energies) / np.abs(energies[:-1]), initial=0.0))
        ),
        "clusters_final": int(clusters[-1].count),
        "cluster_mass_final": float(clusters[-1].masses.sum() / m0),
        "steps": int(sol.stats["steps"]),
        "rejected": int(sol.stats["rejected"]),
        "solve_cpu_s": float(solve_cpu),
    }
    for k, t in enumerate(sol.t):
        row[time_column("clusters", t)] = int(clusters[k].count)
        row[time_column("energy", t)] = float(energies[k])
    return sol, model, row


def _save_density(sol, artifacts: Path) -> str:
    artifacts.mkdir(parents=True, exist_ok=True)
    path = artifacts / "density.npz"
    coefficients = np.stack([rho.coefficients for rho in sol.densities])
    np.savez_compressed(path, t=sol.t, coefficients=coefficients, mass=sol.mass)
    return str(path)


@register_task("density", parameters=DENSITY_PARAMETERS)
def density_task(params: dict, artifacts: Path) -> dict:
    r"""One mean-field PDE run (:func:`meanfield.solve_density`, Q = K = V = I).

    The initial density (``initial``: uniform, a harmonic ``mode``, a ``vmf`` bump at
    :math:`e_d`, or seeded ``white_noise``; see :mod:`meanfield.initial`) is interpolated on a
    circle mesh (d = 2, ``cells``) or an icosphere (d = 3, ``level``) with DG ``degree`` and
    advanced to the output times ``t``. The row holds

    - ``mass_drift``: :math:`\max_t |M(t) - M(0)| / M(0)`;
    - ``min_density``: the smallest :meth:`Density.min_value` over the output times;
    - ``energy_final`` (:math:`E_\beta` at the last time) and ``energy_max_decrease``, the
      largest relative decrease of :math:`E_\beta` between consecutive output times (0 when it
      never decreases);
    - ``clusters_final`` and ``cluster_mass_final`` (the mass fraction they hold), from
      :func:`density_clusters`;
    - ``clusters@t=..`` and ``energy@t=..`` at every output time;
    - ``steps``, ``rejected`` (halved steps), ``solve_cpu_s`` and ``cpu_s``: CPU seconds
      (``time.process_time``) of the solve and of the whole point. They count every thread of
      the worker's process, so they are this point's own only with process workers.
    """
    cpu = time.process_time()
    sol, _, row = _run_density(params)
    if params["save"]:
        row["artifact"] = _save_density(sol, artifacts)
    row["cpu_s"] = float(time.process_time() - cpu)
    return row


@register_task(
    "both",
    parameters={
        **DENSITY_PARAMETERS,
        "n": Param("int", 2000, doc="tokens per ensemble, drawn from the initial density"),
        "starts": Param("int", 1, doc="independent token draws, run as one batch"),
        "seed": Param("int", 0, doc="seed of the token draws"),
        "dt": Param("float", None, doc="RK4 step; default auto_dt * dt_scale"),
        "dt_scale": Param("float", 1.0, doc="factor on the automatic RK4 step"),
        "radius": Param("float", 0.05, doc="cluster radius (geodesic) for the token clusters"),
    },
)
def both_task(params: dict, artifacts: Path) -> dict:
    r"""The PDE run of the ``density`` task and tokens drawn from its initial density.

    ``starts`` ensembles of ``n`` tokens are drawn exactly from the (limited) initial DG density
    (:meth:`Density.sample`, one generator seeded with ``seed``) and advanced together by
    :func:`meanfield.solve_particles` (RK4) to the same output times. Columns:

    - ``density.*``: every column of the density task;
    - ``particles.clusters@t=..`` and ``particles.energy@t=..``: the token cluster count
      (:func:`meanfield.diagnostics.find_clusters` with ``radius``) and :math:`E_\beta`, means
      over starts; ``particles.steps`` and ``particles.cpu_s``;
    - ``w1@t=..`` and ``w1_final``: the Wasserstein-1 distance (:func:`meanfield.wasserstein`)
      between each token ensemble and the PDE density normalised to a probability measure,
      mean over starts. On S^2 the PDE's
      quadrature measure is binned onto 3000 points beyond that support size (see
      :func:`meanfield.wasserstein`), which adds up to about 0.07 rad.
    - ``cpu_s``: CPU seconds of the whole point.
    """
    from .compare import wasserstein
    from .diagnostics import energy, find_clusters
    from .particles import auto_dt
    from .solve import solve_particles

    cpu = time.process_time()
    sol, model, density_row = _run_density(params)
    row = {f"density.{k}": v for k, v in density_row.items()}
    part_cpu = time.process_time()
    n = as_int(params["n"], "n", min_value=2)
    starts = as_int(params["starts"], "starts", min_value=1)
    d = sol.densities[0].space.dim
    dt = params["dt"]
    if dt is None:
        dt = auto_dt(model, d) * as_scalar(params["dt_scale"], "dt_scale", min_value=0, strict=True)
    x0 = sol.densities[0].sample(starts * n, np.random.default_rng(params["seed"]))
    traj = solve_particles(model, x0.reshape(starts, n, d), sol.t, dt=dt)
    row["particles.steps"] = int(traj.stats.get("steps", 0))
    row["particles.cpu_s"] = float(time.process_time() - part_cpu)
    w1 = []
    for k, t in enumerate(sol.t):
        xs = traj.x[k]
        row[time_column("particles.clusters", t)] = float(
            np.mean([find_clusters(x, radius=params["radius"]).count for x in xs])
        )
        row[time_column("particles.energy", t)] = float(
            np.mean([energy(x, model.beta) for x in xs])
        )
        # as probability measures: the PDE's mass is 1 only up to the interpolation's quadrature
        pts, w = sol.densities[k].quadrature_measure()
        w = np.clip(w, 0.0, None)
        w1.append(float(np.mean([wasserstein(x, (pts, w / w.sum())) for x in xs])))
        row[time_column("w1", t)] = w1[-1]
    row["w1_final"] = w1[-1]
    if params["save"]:
        row["artifact"] = _save_density(sol, artifacts)
        np.savez_compressed(Path(row["artifact"]).with_name("tokens.npz"), t=traj.t, x=traj.x)
    row["cpu_s"] = float(time.process_time() - cpu)
    return row
