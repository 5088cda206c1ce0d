"""Running a sweep on a Dask cluster, resumably, one row per point."""

from __future__ import annotations

import contextlib
import json
import numbers
import os
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..._checks import as_int
from .registry import TASKS
from .spec import load_spec, point_key
from .table import TABLE_NAME, ResultTable

#: Columns every row has, in this order, before the parameters and the results.
META_COLUMNS = ("key", "task", "status", "error", "elapsed_s", "artifact")
#: Longest error message kept in the table.
ERROR_CHARS = 300


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


#: Seconds to wait for a scheduler given by address.
CONNECT_TIMEOUT = 10.0


@contextlib.contextmanager
def _connected(scheduler):
    """A Client for a scheduler address (connected before anything is written), else as is."""
    if not isinstance(scheduler, str):
        yield scheduler
        return
    distributed = _require_distributed()
    try:
        client = distributed.Client(scheduler, timeout=CONNECT_TIMEOUT)
    except (OSError, TimeoutError) as exc:
        raise ValueError(f"scheduler: cannot connect to {scheduler!r} ({exc})") from None
    with client:
        yield client


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
    with _connected(scheduler) as scheduler:  # an unreachable scheduler: nothing written
        return _sweep(spec, task, points, out, scheduler, progress, n_workers, processes,
                      retry_failed, wall)  # fmt: skip


def _sweep(spec, task, points, out, scheduler, progress, n_workers, processes, retry_failed, wall):
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
