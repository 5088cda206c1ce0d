"""The validation report: runs the studies and writes markdown tables and figures."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from ..studies.growth import growth_rate_cases, growth_rate_study, mesh_name
from ..studies.mean_field import (
    fit_slope,
    mean_field_study,
    metric_scaling,
    summarize_mean_field,
)

__all__ = ["growth_table", "mean_field_tables", "plot_growth", "plot_mean_field", "write_report"]


def plot_mean_field(results, path) -> Path:
    """Distance vs n (log-log) at the last study time, one panel per study: every seed, the
    mean, the fitted slope and n^-1/2 (:func:`meanfield.plot.mean_field_limit`)."""
    from .. import plot

    fig = plot.figure(plot.PAGE if len(results) > 1 else plot.COLUMN, aspect=0.36)
    axes = fig.subplots(1, len(results), squeeze=False)[0]
    for ax, res in zip(axes, results, strict=True):
        fine = res["levels"][-1]
        title = (rf"$S^{res['d'] - 1}$, $\beta = {res['beta']:g}$, $t = {res['times'][-1]:g}$, "
                 f"ref. {mesh_name(res['d'], fine)}")  # fmt: skip
        plot.mean_field_limit(res, ax=ax, title=title)
    return plot.save(fig, path)


def plot_growth(rows, path) -> Path:
    """Relative error of the measured growth rates against l, one series per case
    (:func:`meanfield.plot.growth_rates`)."""
    from .. import plot

    return plot.save(plot.growth_rates(rows).figure, path)


def growth_table(rows) -> list[str]:
    out = [
        "| d | beta | model | ell | measured | theory | rel. error | mesh | degree |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        out.append(
            f"| {r['d']} | {r['beta']:g} | {'SA' if r['normalized'] else 'USA'} | {r['ell']} "
            f"| {r['measured']:.6g} | {r['theory']:.6g} | {r['rel_error']:.2e} | {r['mesh']} "
            f"| {r['degree']} |"
        )
    return out


def mean_field_tables(res) -> list[str]:
    s = summarize_mean_field(res)
    fine = mesh_name(res["d"], res["levels"][-1])
    out = [
        f"### S^{res['d'] - 1}: {res['metric']}, beta = {res['beta']:g}, "
        f"{'SA' if res['normalized'] else 'USA'}, reference mesh {fine} p = {res['degree']}",
        "",
        f"n = {res['ns'][0]} ... {res['ns'][-1]} ({len(res['ns'])} values), "
        f"{len(res['seeds'])} seeds; PDE mass drift {res['mass_drift']:.1e}; CPU s: "
        + ", ".join(f"{k} {v:.1f}" for k, v in res["cpu_s"].items()),
        "",
        "| t | slope (distance) | slope (first moment) | distance at n min | at n max "
        "| moment error at n max |",
        "|---|---|---|---|---|---|",
    ]
    for r in s["slopes"]:
        out.append(
            f"| {r['t']:g} | {r['slope']:.3f} | {r['moment_slope']:.3f} | {r['first']:.3e} "
            f"| {r['last']:.3e} | {r['moment_last']:.3e} |"
        )
    out += [
        "",
        f"Floors per mesh level (plateau: seed-averaged distance at n = {res['ns'][-1]}; "
        f"mesh error: distance to the {fine} PDE solution):",
        "",
        "| t | mesh | plateau | mesh error |",
        "|---|---|---|---|",
    ]
    for r in s["floors"]:
        err = "reference" if r["mesh_error"] is None else f"{r['mesh_error']:.3e}"
        out.append(f"| {r['t']:g} | {r['mesh']} | {r['plateau']:.3e} | {err} |")
    return out + [""]


def _scaling_summary(rows) -> dict:
    ns = sorted({r["n"] for r in rows})
    w1 = [np.mean([r["w1"] for r in rows if r["n"] == n]) for n in ns]
    sl = [np.mean([r["sliced"] for r in rows if r["n"] == n]) for n in ns]
    return {"ns": ns, "w1": w1, "sliced": sl, "w1_slope": fit_slope(ns, w1),
            "sliced_slope": fit_slope(ns, sl)}  # fmt: skip


def write_report(directory, quick=False, progress=False) -> dict:
    """Run both studies and write ``report.md`` and PNG figures into ``directory``.

    Parameters
    ----------
    directory : str or Path
        Created if missing; ``report.md``, ``growth_rates.png`` and ``mean_field.png`` are
        (over)written atomically.
    quick : bool
        A reduced run (tens of seconds): part of the growth table, n <= 4000, few seeds and
        coarse meshes. The default (a few minutes on 2 cores) is the must-show configuration.
    progress : bool
        Print progress lines.

    Returns
    -------
    dict
        ``growth_max_rel_error``, ``growth_cases``, ``slopes`` {d: {t: slope}},
        ``moment_slopes`` {d: {t: slope}}, ``floors`` {d: {mesh: {t: plateau}}},
        ``mesh_errors`` {d: {mesh: {t: distance}}}, ``w1_slope_s2``, ``sliced_slope_s2``,
        ``files`` and ``cpu_s``.
    """
    from .io import atomic_write

    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    cpu = time.process_time()
    if quick:
        cases = growth_rate_cases(((2, 4.0, (3,)), (3, 4.0, (2,))))
        mf_args = {
            2: {"ns": (250, 1000), "seeds": range(3), "levels": (8, 64)},
            3: {"ns": (250, 1000), "seeds": range(2), "levels": (1, 2), "density_points": 20_000},
        }
        scaling = {"ns": (250, 500), "seeds": range(2)}
    else:
        cases = growth_rate_cases()
        mf_args = {2: {"seeds": range(16)}, 3: {"seeds": range(8)}}
        scaling = {"ns": (250, 500, 1000, 2000, 3000), "seeds": range(4)}
    growth = growth_rate_study(cases, progress=progress)
    studies = [mean_field_study(d, progress=progress, **mf_args[d]) for d in (2, 3)]
    metric = _scaling_summary(metric_scaling(3, **scaling))
    files = [
        plot_growth(growth, directory / "growth_rates.png"),
        plot_mean_field(studies, directory / "mean_field.png"),
    ]
    lines = _report_lines(growth, studies, metric, quick)
    files.append(atomic_write(directory / "report.md", lambda p: p.write_text("\n".join(lines))))
    return _report_numbers(growth, studies, metric, files, time.process_time() - cpu)


def _report_lines(growth, studies, metric, quick) -> list[str]:
    worst = max(r["rel_error"] for r in growth)
    lines = [
        "# meanfield validation report" + (" (quick)" if quick else ""),
        "",
        "## Linear growth of harmonic perturbations (Q = K = V = I)",
        "",
        f"{len(growth)} cases, largest relative error {worst:.2e}. Rate fitted on the odd part "
        f"(a(+eps) - a(-eps))/2 of the mode amplitude, eps = {growth[0]['eps']:g}, over "
        "gamma t in [0.5, 2.5].",
        "",
        *growth_table(growth),
        "",
        "![growth rates](growth_rates.png)",
        "",
        "## Mean-field limit: tokens vs PDE",
        "",
        "Distance: exact circular W1 on S^1 (both measures binned on 2^16 arcs, error < 1e-4); "
        "spherical sliced W1 (64 fixed great circles, 2^14 bins each) on S^2, the density "
        "carried by a weighted Fibonacci lattice. Slopes are fitted (np.polyfit, log-log) on "
        "seed-averaged distances at the finest mesh.",
        "",
    ]
    for res in studies:
        lines += mean_field_tables(res)
    lines += [
        "![distance vs n](mean_field.png)",
        "",
        "## Why sliced W1 on S^2: the distances between two independent n-samples",
        "",
        "| n | W1 (exact emd) | SSW1 |",
        "|---|---|---|",
        *(
            f"| {n} | {w:.4e} | {s:.4e} |"
            for n, w, s in zip(metric["ns"], metric["w1"], metric["sliced"], strict=True)
        ),
        "",
        f"Fitted slopes: W1 {metric['w1_slope']:.3f} (expected sqrt(log n / n) on a 2-D "
        f"manifold), SSW1 {metric['sliced_slope']:.3f} (expected -1/2). Exact W1 needs O(n^2) "
        "memory and is limited to a few thousand points.",
        "",
    ]
    return lines


def _report_numbers(growth, studies, metric, files, cpu) -> dict:
    slopes, moments, floors, errors = {}, {}, {}, {}
    for res in studies:
        s, d = summarize_mean_field(res), res["d"]
        slopes[d] = {r["t"]: r["slope"] for r in s["slopes"]}
        moments[d] = {r["t"]: r["moment_slope"] for r in s["slopes"]}
        floors[d], errors[d] = {}, {}
        for r in s["floors"]:
            floors[d].setdefault(r["mesh"], {})[r["t"]] = r["plateau"]
            if r["mesh_error"] is not None:
                errors[d].setdefault(r["mesh"], {})[r["t"]] = r["mesh_error"]
    return {
        "growth_max_rel_error": max(r["rel_error"] for r in growth),
        "growth_cases": len(growth),
        "slopes": slopes,
        "moment_slopes": moments,
        "floors": floors,
        "mesh_errors": errors,
        "w1_slope_s2": metric["w1_slope"],
        "sliced_slope_s2": metric["sliced_slope"],
        "files": [str(f) for f in files],
        "cpu_s": cpu,
    }
