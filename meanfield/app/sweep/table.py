"""The tidy results table of a sweep (plain CSV) and readers for it."""

from __future__ import annotations

import contextlib
import csv
import io
import json
import numbers
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from .spec import canonical

#: Name of the results table inside the output directory.
TABLE_NAME = "results.csv"

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
        return canonical(value)
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
