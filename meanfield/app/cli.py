"""The ``meanfield`` command line.

Each subcommand is one function ``add_<name>(subparsers)`` that declares its arguments and sets
``handler`` to the function doing the work, ``handler(args) -> int``. Adding a subcommand
(``run``, ``validate``, ``plot``) means writing those two functions and listing the first in
:data:`SUBCOMMANDS`; :func:`main` does the rest.

Exit codes: 0 success; 2 bad input (ValueError, a missing file, invalid TOML, bad arguments)
or a file that cannot be written (a full disk), reported as one ``error: ...`` line on stderr
without a traceback; 1 an internal failure (traceback printed) or a missing optional
dependency.
"""

from __future__ import annotations

import argparse
import sys
import traceback

__all__ = ["main", "SUBCOMMANDS"]


class _UsageError(Exception):
    """Bad command-line arguments (argparse's own errors), reported as exit code 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # argparse would print usage and exit; we want one line
        raise _UsageError(f"{self.prog}: {message}")


def _line(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__


def _os_error(exc: OSError) -> str:
    """One line naming the file: ``cannot write 'PATH': File too large``."""
    import errno

    if not exc.filename:
        return _line(exc)
    full = (errno.EFBIG, errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES, errno.EPERM)
    verb = "cannot write" if exc.errno in full else "cannot use"
    return f"{verb} {str(exc.filename)!r}: {exc.strerror or _line(exc)}"


# ----------------------------------------------------------------------------------- sweep


def add_sweep(subparsers) -> None:
    """``meanfield sweep SWEEP.toml [--scheduler ADDRESS] [--out DIR] [--quiet]``."""
    p = subparsers.add_parser(
        "sweep",
        help="run a parameter sweep on Dask",
        description=(
            "Run every grid point of SWEEP.toml on a Dask cluster and append one row per point "
            "to OUT/results.csv; completed points are skipped on rerun."
        ),
    )
    p.add_argument("spec", metavar="SWEEP.toml", help="sweep specification (TOML)")
    p.add_argument(
        "--scheduler",
        metavar="ADDRESS",
        default=None,
        help="Dask scheduler address (default: start a LocalCluster on 127.0.0.1)",
    )
    p.add_argument(
        "--out", metavar="DIR", default=None, help="output directory (default: spec's out)"
    )
    p.add_argument("--workers", type=int, default=None, help="LocalCluster workers (default 2)")
    p.add_argument("--quiet", action="store_true", help="no progress bar or summary")
    p.set_defaults(handler=run_sweep)


def run_sweep(args) -> int:
    from .sweep import sweep

    if args.workers is not None and args.workers < 1:
        raise ValueError(f"--workers must be >= 1, got {args.workers}")
    summary = sweep(
        args.spec,
        out=args.out,
        scheduler=args.scheduler,
        progress=not args.quiet,
        n_workers=args.workers,
    )
    if not args.quiet:
        print(
            f"{summary.total} points: {summary.computed} computed "
            f"({summary.failed} failed), {summary.skipped} already done, "
            f"{summary.wall_s:.1f} s -> {summary.table}"
        )
    return 0


# ------------------------------------------------------------------------------------- run


def add_run(subparsers) -> None:
    """``meanfield run [CONFIG.toml] [--resume] [--quiet] [--out DIR]``."""
    p = subparsers.add_parser(
        "run",
        help="solve the mean-field PDE and a matching token run, write results and figures",
        description=(
            "Run a configuration (TOML; without one, the embedded default: S^2 icosphere, "
            "DG p = 1, beta = 9, uniform plus a seeded 50% perturbation, 20000 tokens) frame by "
            "frame into <output.root>/<name>/, checkpointing every frame. An existing directory is "
            "an error unless --resume is given. See docs/cli.md for every config key."
        ),
    )
    p.add_argument("config", metavar="CONFIG.toml", nargs="?", default=None,
                   help="run configuration (default: the embedded default run)")  # fmt: skip
    p.add_argument(
        "--resume", action="store_true", help="continue from the run directory's last frame"
    )
    p.add_argument("--out", metavar="DIR", default=None,
                   help="run directory (default: <output.root>/<name>)")  # fmt: skip
    p.add_argument("--quiet", action="store_true", help="no progress bars or summary")
    p.set_defaults(handler=run_run)


def agreement_text(a, tokens) -> str:
    """The summary line's verdict on PDE against tokens (see
    :func:`meanfield.app.rundir.agreement`); empty without one."""
    if not a:
        return ""
    if a["clusters"] == 0:
        verdict = "agree: no clusters" if a["counts_agree"] else "differ: tokens cluster"
        return f"; PDE and {tokens} tokens {verdict}"
    counts = (f"{a['clusters']} clusters at every output from t = {a['from_t']:g}"
              if a["counts_agree"] else "cluster counts differ at t = "
              + ", ".join(f"{t:g}" for t in a["count_mismatch_t"]))  # fmt: skip
    return (
        f"; PDE and {tokens} tokens {'agree' if a['agree'] else 'differ'}: {counts}, cluster "
        f"masses within {a['max_mass_gap']:.2g} (tolerance {a['tolerance']:g})"
    )


def run_run(args) -> int:
    from .config import load_config
    from .run import execute

    cfg = load_config(args.config)
    result = execute(cfg, out=args.out, resume=args.resume, progress=not args.quiet)
    if not args.quiet:
        s = result.summary
        final = s["final"]
        tokens = (
            f", tokens: {final['particle_clusters']} clusters, W1 to PDE {final['distance_w1']:.3g}"
            if "particle_clusters" in final
            else ""
        )
        print(
            f"{result.directory}: {s['frames_done']} frames ({result.computed} computed) to "
            f"t = {s['series']['t'][-1]:g}; PDE: {final['clusters']} clusters, mass drift "
            f"{s['mass_drift']:.2g}, min density {s['min_density']:.2g}{tokens}"
            + agreement_text(s.get("agreement"), s["tokens"])
        )
    return 0


# ------------------------------------------------------------------------------------ plot


def add_plot(subparsers) -> None:
    """``meanfield plot RUN_DIR [--format png|pdf|svg] [--width INCHES] [--quiet]``."""
    p = subparsers.add_parser(
        "plot",
        help="redraw the figures of a finished run",
        description="Redraw RUN_DIR/figures from the run's saved npz and json files.",
    )
    p.add_argument("run_dir", metavar="RUN_DIR", help="a directory written by meanfield run")
    p.add_argument("--format", choices=["png", "pdf", "svg"], default="png",
                   help="figure file format (pdf, svg: vector; default png)")  # fmt: skip
    p.add_argument("--width", type=float, default=None, metavar="INCHES",
                   help="width of every figure in inches (3.4 column, 7 page; "
                        "default 3.4, 7 for panel grids)")  # fmt: skip
    p.add_argument("--quiet", action="store_true", help="no progress bar or file list")
    p.set_defaults(handler=run_plot)


def run_plot(args) -> int:
    from .figures import plot_run

    if args.width is not None and not args.width > 0:
        raise ValueError(f"--width must be a positive number of inches, got {args.width:g}")
    paths = plot_run(args.run_dir, progress=not args.quiet, format=args.format, width=args.width)
    if not args.quiet:
        for path in paths:
            print(path)
    return 0


# -------------------------------------------------------------------------------- validate


def add_validate(subparsers) -> None:
    """``meanfield validate [--out DIR] [--quick] [--quiet]``."""
    p = subparsers.add_parser(
        "validate",
        help="growth-rate and mean-field-limit studies, written as a short report",
        description=(
            "Measure linear growth rates against theory and the particle-to-PDE distance "
            "against n, and write DIR/report.md with its figures. DIR must not exist or be "
            "empty."
        ),
    )
    p.add_argument("--out", metavar="DIR", default="validation",
                   help="report directory (default: ./validation)")  # fmt: skip
    p.add_argument("--quick", action="store_true", help="smaller studies (a minute or two)")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.set_defaults(handler=run_validate)


def run_validate(args) -> int:
    from pathlib import Path

    out = Path(args.out)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise ValueError(f"output directory {str(out)!r} exists and is not empty; choose another")
    from .report import write_report

    write_report(out, quick=args.quick, progress=not args.quiet)
    if not args.quiet:
        print(f"report: {out / 'report.md'}")
    return 0


#: Functions adding one subcommand each, in the order ``--help`` lists them.
SUBCOMMANDS = [add_run, add_plot, add_validate, add_sweep]


def build_parser() -> argparse.ArgumentParser:
    """The top-level parser with every subcommand of :data:`SUBCOMMANDS`."""
    from .. import __version__

    parser = _Parser(
        prog="meanfield",
        description="Transformers as interacting particle systems on the sphere.",
    )
    parser.add_argument("--version", action="version", version=f"meanfield {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True
    for add in SUBCOMMANDS:
        add(sub)
    return parser


def main(argv=None) -> int:
    """Run the command line; returns the exit code (0 ok, 1 internal failure, 2 bad input)."""
    try:
        args = build_parser().parse_args(argv)
        return int(args.handler(args))
    except SystemExit as exc:  # --help and --version
        return int(exc.code or 0)
    except (_UsageError, ValueError, FileNotFoundError, IsADirectoryError) as exc:
        print(f"error: {_line(exc)}", file=sys.stderr)
        return 2
    except OSError as exc:  # a full disk, a file-size limit, a vanished directory
        print(f"error: {_os_error(exc)}", file=sys.stderr)
        return 2
    except ImportError as exc:
        print(f"error: {_line(exc)}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # noqa: BLE001 - a bug: keep the traceback for the report
        traceback.print_exc()
        print(f"error: internal failure: {_line(exc)}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
