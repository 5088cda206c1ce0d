"""Files: atomic writes, ``.npz`` arrays, and VTK time series (``.vtu`` frames + ``.pvd``).

Every writer goes through :func:`atomic_write`: the data is written to a temporary file in the
target directory and moved into place with ``os.replace``, so a crash never leaves a
half-written file behind and readers see either the old file or the new one.
"""

from __future__ import annotations

import json
from pathlib import Path
from xml.sax.saxutils import quoteattr

import numpy as np

from .._files import atomic_write
from ..eulerian.pieces import density_pieces

__all__ = [
    "atomic_write",
    "save_npz",
    "load_npz",
    "save_json",
    "write_vtu",
    "write_pvd",
    "write_density_vtu",
    "write_density_series",
]


def save_npz(path, **arrays) -> Path:
    """Save arrays to ``path`` (``.npz``) atomically; nothing is pickled."""
    clean = {k: np.asarray(v) for k, v in arrays.items()}
    for k, v in clean.items():
        if v.dtype == object:
            raise ValueError(f"array {k!r} has dtype object, which npz cannot store without pickle")

    def write(tmp):
        with open(tmp, "wb") as fh:
            np.savez_compressed(fh, **clean)

    return atomic_write(path, write)


def load_npz(path, required=(), what: str = "file") -> dict:
    """Load every array of an ``.npz`` file (``allow_pickle=False``).

    Parameters
    ----------
    path : str or Path
    required : sequence of str
        Arrays the file must hold.
    what : str
        What the file is, for the message (``"checkpoint"``, ``"run file"``).

    Raises
    ------
    ValueError
        Naming the file when it is not a readable npz archive (empty, truncated, random
        bytes), holds a pickled array, or lacks one of ``required``.
    """
    import zipfile

    path = Path(path)

    def damaged(why):
        return ValueError(f"{what} {str(path)!r} is damaged: {why}")

    if not zipfile.is_zipfile(path):
        raise damaged("not an npz archive (empty, truncated or overwritten)")
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {k: data[k] for k in data.files}
    except (OSError, EOFError, zipfile.BadZipFile, ValueError, KeyError) as exc:
        why = "it holds an object array" if "pickle" in str(exc) else " ".join(str(exc).split())
        raise damaged(why or type(exc).__name__) from None
    missing = [k for k in required if k not in arrays]
    if missing:
        raise damaged(f"array {missing[0]!r} is missing")
    return arrays


def save_json(path, obj) -> Path:
    """Write ``obj`` as indented JSON atomically."""

    def write(tmp):
        tmp.write_text(json.dumps(obj, indent=2, sort_keys=True, default=_jsonable) + "\n")

    return atomic_write(path, write)


def _jsonable(v):
    if isinstance(v, np.generic):
        return v.item()
    if isinstance(v, np.ndarray):
        return v.tolist()
    raise TypeError(f"cannot write {type(v).__name__} to JSON")


def write_vtu(path, points, cells, cell_type, point_data=None, cell_data=None) -> Path:
    """Write an unstructured grid (``.vtu``) with pyvista, atomically.

    Parameters
    ----------
    points : ndarray, shape (P, 3)
    cells : ndarray of int, shape (C, k)
        Vertex indices per cell.
    cell_type : int
        VTK cell type (e.g. ``pyvista.CellType.TRIANGLE``), the same for every cell.
    point_data, cell_data : dict of str -> ndarray, optional
    """
    import pyvista as pv

    cells = np.asarray(cells, dtype=np.int64)
    flat = np.hstack([np.full((cells.shape[0], 1), cells.shape[1]), cells]).ravel()
    grid = pv.UnstructuredGrid(flat, np.full(cells.shape[0], cell_type, np.uint8), points)
    for k, v in (point_data or {}).items():
        grid.point_data[k] = np.asarray(v)
    for k, v in (cell_data or {}).items():
        grid.cell_data[k] = np.asarray(v)
    return atomic_write(path, lambda tmp: grid.save(str(tmp), binary=True))


def write_pvd(path, frames) -> Path:
    """Write a ParaView collection file listing ``(time, file)`` frames (paths relative to it)."""
    rows = "\n".join(
        f'    <DataSet timestep="{float(t)!r}" group="" part="0" file={quoteattr(str(f))}/>'
        for t, f in frames
    )
    text = (
        '<?xml version="1.0"?>\n'
        '<VTKFile type="Collection" version="0.1" byte_order="LittleEndian">\n'
        f"  <Collection>\n{rows}\n  </Collection>\n</VTKFile>\n"
    )
    return atomic_write(path, lambda tmp: tmp.write_text(text))


def write_density_vtu(path, density, **cell_data) -> Path:
    """Write a density as a ``.vtu`` frame (see :func:`density_pieces`), atomically.

    Point data ``density`` (the values at each cell's own vertex copies) and cell data
    ``cell_mean`` (mass over area), plus any extra ``cell_data`` arrays of shape (n_cells,).
    A Lagrangian :class:`~meanfield.lagrangian.FlowMapDensity` is written as its moved mesh
    (quadratic cells, see :func:`meanfield.lagrangian.pieces.flow_map_pieces`), with cell
    data ``cell_mean``, ``mass``, ``distortion`` and ``stretch`` as well.
    """
    if hasattr(density, "state"):
        from ..lagrangian.pieces import flow_map_pieces

        points, cells, cell_type, values, cd = flow_map_pieces(density)
        cd.update(cell_data)
        return write_vtu(path, points, cells, cell_type, point_data={"density": values},
                         cell_data=cd)  # fmt: skip
    points, cells, cell_type, values = density_pieces(density)
    cd = {"cell_mean": density.cell_means(), **cell_data}
    return write_vtu(path, points, cells, cell_type, point_data={"density": values}, cell_data=cd)


def write_density_series(directory, times, densities, name: str = "density") -> Path:
    """Write densities as a ParaView time series: ``name_0000.vtu``... and ``name.pvd``.

    Parameters
    ----------
    directory : path
        Created if missing.
    times : array_like, shape (T,)
    densities : sequence of Density or FlowMapDensity, length T
        (the Lagrangian ones as their moved meshes, see :func:`write_density_vtu`).
    name : str

    Returns
    -------
    Path
        The ``.pvd`` file.
    """
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    if len(times) != len(densities):
        raise ValueError(
            f"times and densities must have the same length, got {len(times)} and {len(densities)}"
        )
    frames = []
    for k, (t, rho) in enumerate(zip(times, densities, strict=True)):
        f = f"{name}_{k:04d}.vtu"
        write_density_vtu(directory / f, rho)
        frames.append((float(t), f))
    return write_pvd(directory / f"{name}.pvd", frames)
