"""Regenerate the sample meshes of this folder (see README.md): ``python meshes/make_meshes.py``."""

from pathlib import Path

import numpy as np
from scipy.spatial import ConvexHull

import meanfield as mf

HERE = Path(__file__).parent


def uv_sphere(n_lon: int, n_lat: int):
    """Latitude-longitude sphere: n_lat - 1 rings of n_lon vertices, split quads, pole fans."""
    lat = np.pi / 2 - np.pi * np.arange(1, n_lat) / n_lat
    lon = 2 * np.pi * np.arange(n_lon) / n_lon
    ring = np.stack(
        [np.outer(np.cos(lat), np.cos(lon)), np.outer(np.cos(lat), np.sin(lon)),
         np.outer(np.sin(lat), np.ones(n_lon))], axis=-1,
    ).reshape(-1, 3)  # fmt: skip
    points = np.vstack([[0, 0, 1], ring, [0, 0, -1]])
    north, south = 0, len(points) - 1

    def idx(i, j):
        return 1 + i * n_lon + j % n_lon

    cells = [[north, idx(0, j), idx(0, j + 1)] for j in range(n_lon)]
    for i in range(n_lat - 2):
        for j in range(n_lon):
            cells += [[idx(i, j), idx(i + 1, j), idx(i + 1, j + 1)],
                      [idx(i, j), idx(i + 1, j + 1), idx(i, j + 1)]]  # fmt: skip
    cells += [[south, idx(n_lat - 2, j + 1), idx(n_lat - 2, j)] for j in range(n_lon)]
    return points, np.array(cells)


def hull(n: int, seed: int):
    """Convex hull of n uniform random points: an irregular triangulation."""
    points = mf.sample_sphere(n, 3, np.random.default_rng(seed))
    cells = ConvexHull(points).simplices
    v = points[cells]
    inward = np.einsum("ij,ij->i", v[:, 0], np.cross(v[:, 1], v[:, 2])) < 0
    cells[inward] = cells[inward][:, ::-1]  # qhull does not orient its facets
    return points, cells


def nonuniform_circle(n: int, seed: int):
    """n vertices at sorted random angles (gaps at least a fifth of the mean gap)."""
    rng = np.random.default_rng(seed)
    gaps = 0.2 + rng.random(n)
    theta = 2 * np.pi * np.cumsum(gaps) / gaps.sum()
    k = np.arange(n)
    return np.column_stack([np.cos(theta), np.sin(theta)]), np.column_stack([k, (k + 1) % n])


def main():
    for level in (1, 2, 3):
        mf.SphereMesh.icosphere(level).save(HERE / f"icosphere_{level}.vtu")
    mf.SphereMesh.from_arrays(*hull(300, seed=0)).save(HERE / "hull_300.ply")
    mf.SphereMesh.from_arrays(*uv_sphere(24, 12)).save(HERE / "uv_sphere_24x12.obj")
    mf.SphereMesh.circle(64).save(HERE / "circle_64.vtk")
    mf.SphereMesh.from_arrays(*nonuniform_circle(48, seed=1)).save(
        HERE / "circle_nonuniform_48.vtp"
    )


if __name__ == "__main__":
    main()
