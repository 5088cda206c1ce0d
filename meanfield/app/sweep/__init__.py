r"""Parameter sweeps on Dask: a grid of runs, one tidy results table, resumable.

A sweep specification (a dict, or a ``SWEEP.toml`` file) names a *task*, a *base* parameter
table and *grid* axes; every point of the cartesian product of the axes (over the base values)
is one task run. For example::

    task = "particles"
    out = "results/phase"          # optional; relative to this file

    [base]
    particles.n = 32               # run settings: the dotted names of meanfield run's config
    starts = 64                    # random starts, advanced together as one batch
    t = { start = 0.0, stop = 30.0, num = 61 }

    [grid]
    "model.beta" = [0.0, 1.0, 4.0]
    d = [2, 3, 8, 32]

Parameters that are run settings (``setting("model.beta")``) have the names, defaults, limits
and allowed values of :data:`meanfield.app.config.SCHEMA`; in TOML write them dotted
(``model.beta = 1`` in ``[base]``, or a ``[grid.model]`` table). A task adds its own keys
(``t``, ``starts``, ...). A grid holds at most :data:`~meanfield.app.sweep.spec.MAX_POINTS`
points; a larger one is refused before anything is expanded or written.

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
        **settings("model.beta", "mesh.level", "solver.degree"),
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
other names with ``from meanfield.app.sweep import read_results, register_task, ...``.
"""

from . import tasks  # noqa: F401  (registers the built-in tasks)
from .registry import TASKS, Param, Task, register_task, setting, settings
from .runner import SweepSummary, local_cluster, sweep
from .spec import SweepSpec, load_spec, point_key
from .table import TABLE_NAME, ResultTable, read_results, time_series

__all__ = [
    "Param",
    "Task",
    "TASKS",
    "register_task",
    "setting",
    "settings",
    "SweepSpec",
    "load_spec",
    "point_key",
    "sweep",
    "local_cluster",
    "SweepSummary",
    "ResultTable",
    "read_results",
    "time_series",
    "TABLE_NAME",
]
