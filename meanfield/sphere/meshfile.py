"""Reading mesh files without letting a damaged file take the process down.

VTK's readers crash on some damaged files (a truncated binary ``.ply`` is a segmentation
fault) and print pages of log on others. :func:`read_arrays` therefore parses the file with
pyvista in a child Python process, with VTK's log silenced, and gets the vertices and cells
back as an ``.npz``; a crash or a failed read of the child becomes one ``ValueError`` naming
the file.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

__all__ = ["READ_TIMEOUT", "arrays_from_blocks", "read_arrays"]

#: Seconds the child process may take to read one mesh file.
READ_TIMEOUT = 120.0

# The child: read with pyvista (VTK's log off), write points and each cell block to an npz;
# on failure print one line and exit 3. It imports only numpy and pyvista.
_CHILD = r"""
import sys
import numpy as np
import pyvista as pv
from vtkmodules.vtkCommonCore import vtkLogger, vtkObject

vtkObject.GlobalWarningDisplayOff()
vtkLogger.SetStderrVerbosity(vtkLogger.VERBOSITY_OFF)
path, out = sys.argv[1], sys.argv[2]
try:
    grid = pv.read(path).cast_to_unstructured_grid()
    arrays = {f"cells_{int(k)}": np.asarray(v) for k, v in grid.cells_dict.items()}
    arrays["points"] = np.asarray(grid.points, dtype=float)
except Exception as err:
    print(" ".join(str(err).split()) or type(err).__name__)
    sys.exit(3)
np.savez(out, **arrays)
"""


def read_arrays(path) -> tuple[np.ndarray, np.ndarray]:
    """Vertices and cells of a mesh file, parsed in a child process.

    Parameters
    ----------
    path : str or Path
        Any format pyvista reads (.vtu, .vtk, .vtp, .ply, .stl, .obj, ...).

    Returns
    -------
    points : ndarray, shape (n_vertices, 3) or (n_vertices, 2)
        (2 columns for a circle: lines in the plane z = 0.)
    cells : ndarray of int, shape (n_cells, 3) or (n_cells, 2)

    Raises
    ------
    ValueError
        Naming the file when it is missing, unreadable, crashes the reader, or holds cells
        other than triangles (polygons are fan-triangulated) or line segments.
    """
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"path must be an existing mesh file, got {str(path)!r}")
    with tempfile.TemporaryDirectory(prefix="meanfield-mesh-") as tmp:
        out = Path(tmp) / "mesh.npz"
        try:
            proc = subprocess.run(
                [sys.executable, "-c", _CHILD, str(path.resolve()), str(out)],
                capture_output=True,
                text=True,
                timeout=READ_TIMEOUT,
                env={**os.environ, "PYVISTA_OFF_SCREEN": "true"},
            )
        except subprocess.TimeoutExpired:
            raise ValueError(
                f"path {str(path)!r}: reading the mesh took over {READ_TIMEOUT:g} s"
            ) from None
        if proc.returncode < 0:
            raise ValueError(
                f"path {str(path)!r} crashed the VTK reader (signal {-proc.returncode}); "
                "the file is damaged or not a mesh"
            )
        if proc.returncode != 0 or not out.is_file():
            why = (proc.stdout.strip().splitlines() or ["the reader failed"])[-1]
            raise ValueError(f"path {str(path)!r} could not be read as a mesh: {why}")
        with np.load(out, allow_pickle=False) as data:
            points = data["points"]
            blocks = {int(k[6:]): data[k] for k in data.files if k.startswith("cells_")}
    return arrays_from_blocks(points, blocks, path)


def arrays_from_blocks(points, blocks: dict, path) -> tuple[np.ndarray, np.ndarray]:
    """Triangles or line segments from VTK cell blocks ``{vtk cell type: connectivity}``."""
    triangles, lines = [], []
    for kind, conn in blocks.items():
        if kind == 5:  # VTK_TRIANGLE
            triangles.append(conn)
        elif kind in (7, 9):  # VTK_POLYGON, VTK_QUAD: fan-triangulate
            for j in range(1, conn.shape[1] - 1):
                triangles.append(conn[:, [0, j, j + 1]])
        elif kind == 3:  # VTK_LINE
            lines.append(conn)
        elif kind == 1:  # VTK_VERTEX: ignore point cells
            continue
        else:
            raise ValueError(
                f"path {str(path)!r} holds cells of VTK type {kind}; expected triangles "
                "(a sphere) or line segments (a circle)"
            )
    if triangles and lines:
        raise ValueError(f"path {str(path)!r} mixes triangles and lines; expected one kind")
    if triangles:
        return points, np.concatenate(triangles)
    if lines:
        if points.shape[1] == 3 and np.any(points[:, 2] != 0):
            raise ValueError(
                f"path {str(path)!r} holds lines with z != 0; a circle mesh must lie in z = 0"
            )
        return points[:, :2], np.concatenate(lines)
    raise ValueError(f"path {str(path)!r} holds no triangles or line segments")
