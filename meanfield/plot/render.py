"""Off-screen pyvista renders of densities and tokens on :math:`S^2`.

pyvista is imported inside the functions, so importing meanfield stays light.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .._checks import as_real_array

__all__ = ["render_density", "render_tokens", "save_image", "sphere_image"]


def render_tokens(x, path, color=None, window=(800, 800)) -> Path:
    r"""Render tokens on :math:`S^2` as points on a translucent sphere, off-screen.

    Parameters
    ----------
    x : array_like, shape (n, 3)
    path : str or Path
        PNG file to write.
    color : array_like, shape (n,), optional
        Scalar per token (default: its z coordinate).
    """
    import pyvista as pv

    pv.OFF_SCREEN = True
    x = as_real_array(x, "x", ndim=2)
    if x.shape[1] != 3:
        raise ValueError(f"x must have shape (n, 3) to render on S^2, got {x.shape}")
    cloud = pv.PolyData(1.01 * x)
    cloud["value"] = x[:, 2] if color is None else np.asarray(color, float)
    plotter = pv.Plotter(off_screen=True, window_size=list(window))
    plotter.add_mesh(
        pv.Sphere(radius=1.0, theta_resolution=60, phi_resolution=60), color="w", opacity=0.35
    )
    plotter.add_mesh(
        cloud,
        scalars="value",
        point_size=8,
        render_points_as_spheres=True,
        cmap="viridis",
        show_scalar_bar=False,
    )
    centre = x.mean(axis=0)
    if np.linalg.norm(centre) > 0.1:  # look at where the tokens are
        plotter.camera.position = tuple(5.5 * centre / np.linalg.norm(centre))
        plotter.camera.focal_point = (0.0, 0.0, 0.0)
    else:
        plotter.camera_position = "iso"
    plotter.screenshot(str(path))
    plotter.close()
    return Path(path)


# ------------------------------------------------------------------------------- densities
def sphere_image(density, tokens=None, title: str | None = None, window=(1000, 500)):
    """RGB image (H, W, 3) of a density on S^2, with the tokens beside it when given.

    Log colour scale over three decades below the maximum (clusters are sharp peaks); the
    camera looks at the densest cell, the same view for both panels.
    """
    import pyvista as pv

    from ..eulerian.pieces import density_pieces

    pv.OFF_SCREEN = True
    points, cells, _, values = density_pieces(density)
    faces = np.column_stack([np.full(cells.shape[0], 3), cells]).ravel()
    surf = pv.PolyData(points, faces=faces)
    top = float(values.max())
    floor = max(float(values.min()), 1e-3 * top)
    surf.point_data["density"] = np.maximum(values, floor)
    means = density.cell_means()
    centre = np.asarray(density.space.mesh.points)[density.space.mesh.cells[np.argmax(means)]]
    view = centre.mean(axis=0)
    view = 4.0 * view / np.linalg.norm(view)
    up = (0.0, 0.0, 1.0) if abs(view[2]) < 3.9 else (0.0, 1.0, 0.0)
    camera = [tuple(view), (0.0, 0.0, 0.0), up]
    shape = (1, 1) if tokens is None else (1, 2)
    size = list(window) if tokens is not None else [window[1], window[1]]
    plotter = pv.Plotter(off_screen=True, shape=shape, window_size=size)
    bar = {"title": "density", "n_labels": 3, "fmt": "%.2g"}
    clim = [floor, max(top, floor * (1 + 1e-9))]
    plotter.add_mesh(surf, scalars="density", cmap="viridis", log_scale=top > floor, clim=clim,
                     scalar_bar_args=bar)  # fmt: skip
    plotter.add_text("PDE density" if title is None else f"PDE density, {title}", font_size=10)
    plotter.camera_position = camera
    if tokens is not None:
        plotter.subplot(0, 1)
        plotter.add_mesh(pv.Sphere(radius=0.995, theta_resolution=60, phi_resolution=60),
                         color="lightgray")  # fmt: skip
        cloud = pv.PolyData(1.005 * np.asarray(tokens, dtype=float))
        plotter.add_mesh(cloud, color="tab:red", point_size=5, render_points_as_spheres=True)
        plotter.add_text(f"{len(tokens)} tokens", font_size=10)
        plotter.camera_position = camera
    img = plotter.screenshot(return_img=True)
    plotter.close()
    return img


def save_image(img, path) -> Path:
    from PIL import Image

    from .._files import atomic_write

    return atomic_write(path, lambda tmp: Image.fromarray(np.asarray(img)).save(tmp))


def render_density(density, path, tokens=None, title: str | None = None) -> Path:
    r"""Render a density on :math:`S^2` off-screen (pyvista), tokens beside it if given.

    The DG polynomial is drawn per cell from its vertex values (discontinuities visible),
    with a linear colour scale from the image's own minimum to maximum.

    Parameters
    ----------
    density : Density
        On an S^2 mesh.
    path : str or Path
        PNG file, written atomically.
    tokens : array_like, shape (n, 3), optional
        Drawn in a second view with the same camera.
    title : str, optional
    """
    if density.space.dim != 3:
        raise ValueError(f"density must live on S^2 to render, got points in R^{density.space.dim}")
    return save_image(sphere_image(density, tokens, title), path)
