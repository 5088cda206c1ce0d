r"""Validation of sphere meshes: each failure a ValueError naming the cell, edge or vertex.

A valid mesh is closed and 2-manifold (each edge in exactly two cells; each vertex in two cells
on :math:`S^1`), consistently and outwardly oriented (a mesh inward everywhere is flipped), one
sheet covering the sphere once, with no degenerate, duplicate or coincident cells or vertices.
"""

from __future__ import annotations

import warnings

import numpy as np
from scipy.spatial import cKDTree

from .topology import spherical_areas, topology

__all__ = ["validate"]

#: Vertices farther than this from the unit sphere are projected with a warning.
PROJECTION_WARN = 1e-6
#: Cells whose sine of the smallest corner angle is below this are degenerate.
DEGENERATE_SINE = 1e-10
#: Vertices closer than this (after projection) coincide.
COINCIDENT = 1e-12
#: Allowed relative deviation of the total cell area from the sphere's.
COVERAGE_TOL = 1e-8
_MAX_LISTED = 5


def _listing(ids) -> str:
    ids = [int(i) for i in np.ravel(ids)]
    more = f" and {len(ids) - _MAX_LISTED} more" if len(ids) > _MAX_LISTED else ""
    return ", ".join(map(str, ids[:_MAX_LISTED])) + more


def validate(points, cells):
    p = _check_points(points)
    c = _check_cells(cells, p.shape)
    _check_distinct(p, c)
    if p.shape[1] == 3:
        _check_edges_manifold(c)
    else:
        _check_vertices_manifold(c, p.shape[0])
    c = _orient(p, c)
    _check_consistent(c, p.shape[1])
    used = np.zeros(p.shape[0], bool)
    used[c.ravel()] = True
    if not used.all():
        raise ValueError(
            f"points: vertex {_listing(np.flatnonzero(~used))} belongs to no cell; "
            "remove unused vertices"
        )
    _check_sheet(p, c)
    return p, c


#: Vertices whose distances to the origin vary by more than this factor are not a sphere
#: about 0 (a unit sphere centred at (5, 0, 0) has 1.5); radial projection would crush them.
OFF_CENTRE_RATIO = 1.25


def _check_points(points) -> np.ndarray:
    if np.iscomplexobj(points):
        raise ValueError("points must be real, got a complex array")
    try:
        p = np.array(points, dtype=float)
    except (TypeError, ValueError):
        raise ValueError(f"points must be a real array, got {type(points).__name__}") from None
    if p.ndim != 2 or p.shape[1] not in (2, 3):
        raise ValueError(
            f"points must have shape (n_vertices, 2) for S^1 or (n_vertices, 3) for S^2, "
            f"got shape {p.shape}"
        )
    if p.shape[0] == 0:
        raise ValueError(f"points must hold at least one vertex, got shape {p.shape}")
    bad = np.flatnonzero(~np.all(np.isfinite(p), axis=1))
    if bad.size:
        raise ValueError(
            f"points: vertex {bad[0]} has non-finite coordinates {p[bad[0]].tolist()} "
            f"({bad.size} such vertices)"
        )
    # |x| as s |x / s| with s = max |x_i|: no overflow for a mesh scaled by 1e300
    s = np.max(np.abs(p), axis=1)
    if np.any(s == 0):
        raise ValueError(
            f"points: vertex {int(np.argmin(s))} is the origin; it cannot be projected on "
            "the sphere"
        )
    r = s * np.linalg.norm(p / s[:, None], axis=1)
    _check_centred(p, r)
    off = np.abs(r - 1.0)
    if off.max() > PROJECTION_WARN:
        warnings.warn(
            f"points: {int(np.sum(off > PROJECTION_WARN))} vertices were off the unit sphere "
            f"(largest | |x| - 1 | = {off.max():.3g}); projected radially",
            stacklevel=4,
        )
    return p / r[:, None]


def _check_centred(p, radii):
    """Vertices must lie at about one distance from the origin; a sphere centred elsewhere
    would be crushed by the radial projection."""
    top = radii.max()
    if top > OFF_CENTRE_RATIO * radii.min():
        # to 6 digits of the mesh's size (round-off of a zero coordinate shows as 0.0)
        centre = [float(f"{c:.4g}") + 0.0 for c in np.round((p / top).mean(axis=0), 6) * top]
        raise ValueError(
            "points must surround the origin (a sphere mesh centred at 0, projected radially); "
            f"their distances to 0 vary by a factor {top / radii.min():.3g} (at most "
            f"{OFF_CENTRE_RATIO:g}) and their centroid is at {centre}"
        )


def _check_cells(cells, shape) -> np.ndarray:
    n_vertices, d = shape
    raw = np.asarray(cells)
    if raw.dtype.kind not in "iu":
        if raw.dtype.kind == "f" and raw.size and np.all(raw == np.round(raw)):
            raw = raw.astype(np.int64)
        else:
            raise ValueError(f"cells must be an integer array, got dtype {raw.dtype}")
    kind = "intervals (n_cells, 2)" if d == 2 else "triangles (n_cells, 3)"
    if raw.ndim != 2 or raw.shape[1] != d or raw.shape[0] == 0:
        raise ValueError(
            f"cells must be {kind} to match points of dimension {d}, got shape {raw.shape}"
        )
    c = raw.astype(np.int64)
    bad = np.flatnonzero(np.any((c < 0) | (c >= n_vertices), axis=1))
    if bad.size:
        raise ValueError(
            f"cells: cell {bad[0]} = {c[bad[0]].tolist()} refers to a vertex outside "
            f"0..{n_vertices - 1}"
        )
    s = np.sort(c, axis=1)
    rep = np.flatnonzero(np.any(s[:, 1:] == s[:, :-1], axis=1))
    if rep.size:
        raise ValueError(
            f"cells: cell {rep[0]} = {c[rep[0]].tolist()} repeats a vertex (degenerate cell)"
        )
    _, first, counts = np.unique(s, axis=0, return_index=True, return_counts=True)
    if np.any(counts > 1):
        key = s[first[np.argmax(counts > 1)]]
        dup = np.flatnonzero(np.all(s == key, axis=1))
        raise ValueError(
            f"cells: cells {_listing(dup)} are duplicates (the same vertices {key.tolist()})"
        )
    return c


def _check_distinct(p, c):
    pairs = cKDTree(p).query_pairs(COINCIDENT, output_type="ndarray")
    if len(pairs):
        i, j = pairs[0]
        raise ValueError(
            f"points: vertices {i} and {j} coincide at {p[i].round(12).tolist()}; "
            "merge them (a mesh with duplicated vertices is not closed)"
        )
    v = p[c]
    if p.shape[1] == 2:
        sine = np.abs(v[:, 0, 0] * v[:, 1, 1] - v[:, 0, 1] * v[:, 1, 0])
        bad = np.flatnonzero((sine < DEGENERATE_SINE) & (np.sum(v[:, 0] * v[:, 1], 1) < 0))
        if bad.size:
            raise ValueError(
                f"cells: cell {bad[0]} = {c[bad[0]].tolist()} joins antipodal vertices; "
                "the arc between them is ambiguous"
            )
        return
    e = np.stack([v[:, 1] - v[:, 0], v[:, 2] - v[:, 1], v[:, 0] - v[:, 2]], axis=1)
    le = np.linalg.norm(e, axis=2)
    det = np.einsum("ij,ij->i", v[:, 0], np.cross(v[:, 1], v[:, 2]))
    sine = np.abs(det) / np.max(le[:, [0, 1, 2]] * le[:, [1, 2, 0]], axis=1)
    bad = np.flatnonzero(sine < DEGENERATE_SINE)
    if bad.size:
        raise ValueError(
            f"cells: cell {bad[0]} = {c[bad[0]].tolist()} is degenerate (its vertices lie on "
            f"one great circle; sine of its flattest angle {sine[bad[0]]:.2g})"
        )


def _check_edges_manifold(c):
    directed = np.concatenate([c[:, [0, 1]], c[:, [1, 2]], c[:, [2, 0]]])
    owner = np.tile(np.arange(c.shape[0]), 3)
    keys = np.sort(directed, axis=1)
    uniq, inv, counts = np.unique(keys, axis=0, return_inverse=True, return_counts=True)
    inv = inv.ravel()
    for test, what in ((counts > 2, "non-manifold"), (counts < 2, "boundary")):
        bad = np.flatnonzero(test)
        if not bad.size:
            continue
        k = bad[0]
        in_cells = owner[inv == k]
        edge = tuple(int(x) for x in uniq[k])
        if what == "non-manifold":
            raise ValueError(
                f"cells: non-manifold edge {edge} is shared by {counts[k]} cells "
                f"({_listing(in_cells)}); each edge must belong to exactly two cells"
            )
        raise ValueError(
            f"cells: the mesh is not closed: edge {edge} belongs to one cell only "
            f"(cell {in_cells[0]}); {bad.size} boundary edges in all (a hemisphere or a hole?)"
        )


def _check_vertices_manifold(c, n_vertices):
    counts = np.bincount(c.ravel(), minlength=n_vertices)
    bad = np.flatnonzero(counts > 2)
    if bad.size:
        cells = np.flatnonzero(np.any(c == bad[0], axis=1))
        raise ValueError(
            f"cells: non-manifold vertex {bad[0]} is in {counts[bad[0]]} cells "
            f"({_listing(cells)}); on S^1 each vertex must end one cell and start the next"
        )
    bad = np.flatnonzero(counts == 1)
    if bad.size:
        cell = int(np.flatnonzero(np.any(c == bad[0], axis=1))[0])
        raise ValueError(
            f"cells: the mesh is not closed: vertex {bad[0]} is in one cell only (cell "
            f"{cell}); {bad.size} open ends in all (an arc, not the whole circle?)"
        )


def _orientation(p, c) -> np.ndarray:
    v = p[c]
    if p.shape[1] == 2:
        return v[:, 0, 0] * v[:, 1, 1] - v[:, 0, 1] * v[:, 1, 0]
    return np.einsum("ij,ij->i", v[:, 0], np.cross(v[:, 1], v[:, 2]))


def _orient(p, c):
    det = _orientation(p, c)
    neg = det < 0
    if neg.all():
        return c[:, ::-1].copy()
    if neg.any():
        minority = np.flatnonzero(neg) if neg.sum() <= (~neg).sum() else np.flatnonzero(~neg)
        way = "clockwise" if neg.sum() <= (~neg).sum() else "counterclockwise"
        which = f"cell {minority[0]} is" if minority.size == 1 else "cells are"
        raise ValueError(
            f"cells: {which} flipped: its vertices run {way} seen from outside, unlike the "
            f"other {c.shape[0] - minority.size} cells (flipped: {_listing(minority)})"
        )
    return c


def _check_consistent(c, d):
    top = topology(c, d)
    if d == 2:
        return
    f, cells = top.facets, top.cells
    right = c[cells[:, 1]]
    l = top.local[:, 1]
    start, end = right[np.arange(len(l)), l], right[np.arange(len(l)), (l + 1) % 3]
    bad = np.flatnonzero(~((start == f[:, 1]) & (end == f[:, 0])))
    if bad.size:
        k = bad[0]
        raise ValueError(
            f"cells: cells {cells[k, 0]} and {cells[k, 1]} run edge {tuple(f[k].tolist())} in "
            "the same direction: the orientation is inconsistent (a folded mesh?)"
        )


def _check_sheet(p, c):
    d = p.shape[1]
    if d == 3:
        n_edges = 3 * c.shape[0] // 2
        chi = p.shape[0] - n_edges + c.shape[0]
        if chi != 2:
            raise ValueError(
                f"cells: Euler characteristic V - E + F = {chi}, expected 2 for one sphere "
                "(several components, handles or a pinched vertex?)"
            )
    else:
        _check_single_cycle(c, p.shape[0])
    full = 4.0 * np.pi if d == 3 else 2.0 * np.pi
    total = spherical_areas(p, c).sum()
    if abs(total - full) > COVERAGE_TOL * full:
        raise ValueError(
            f"cells: total cell measure {total:.10g} differs from the sphere's {full:.10g}; "
            f"the cells cover it {total / full:.3g} times (overlapping or folded cells)"
        )


def _check_single_cycle(c, n_vertices):
    nxt = np.full(n_vertices, -1)
    nxt[c[:, 0]] = c[:, 1]
    if np.any(nxt[c[:, 0]] < 0) or len(np.unique(c[:, 0])) != c.shape[0]:
        raise ValueError("cells: the orientation is inconsistent: a vertex starts two cells")
    v, steps = c[0, 0], 0
    while True:
        v = nxt[v]
        steps += 1
        if v == c[0, 0] or steps > c.shape[0]:
            break
    if steps != c.shape[0]:
        raise ValueError(
            f"cells: the circle mesh has several loops (the one through vertex {c[0, 0]} "
            f"has {steps} of {c.shape[0]} cells)"
        )
