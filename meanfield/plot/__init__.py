"""Figures as functions of data (:mod:`meanfield.plot`, also ``mf.plot``).

Every function takes arrays, densities, trajectories or study rows, draws into an ``ax`` you
pass (or a new figure of ``width`` inches: 3.4 for a column, 7 for a page) and returns the
Axes or Figure; :func:`save` writes PDF, SVG or PNG (vector text and lines, fonts >= 8 pt at
print size, only the density image rasterized). ``plot_*`` and ``render_*`` also write a file
in one call.

- maps of the whole sphere: :func:`density_map`, :func:`density_maps` (one colour bar);
- tokens: :func:`trajectories`, :func:`cosine_histograms`;
- curves: :func:`series`, :func:`cluster_counts`, :func:`phase_diagram`, :func:`staircase`,
  :func:`growth_rates`, :func:`mean_field_limit`;
- sphere renders (pyvista): :func:`render_density`, :func:`render_tokens`, :func:`animate`.

matplotlib and pyvista are imported inside the functions, so importing meanfield stays light.
"""

from .curves import (
    cluster_counts,
    figure_image,
    growth_rates,
    mean_field_limit,
    phase_diagram,
    plot_circle_density,
    plot_circle_trajectories,
    plot_series,
    save_gif,
    series,
    staircase,
)
from .maps import (
    colour_limits,
    density_map,
    density_maps,
    density_spacetime,
    from_lonlat,
    lonlat,
)
from .render import (
    VIEW,
    animate,
    camera_path,
    display_values,
    render_density,
    render_tokens,
    render_trajectories,
    sphere_image,
)
from .style import COLUMN, FONT_PT, PAGE, figure, print_style, save
from .tokens import cosine_histogram, cosine_histograms, trajectories

__all__ = [
    "COLUMN",
    "FONT_PT",
    "PAGE",
    "VIEW",
    "animate",
    "camera_path",
    "cluster_counts",
    "colour_limits",
    "cosine_histogram",
    "cosine_histograms",
    "density_map",
    "density_maps",
    "density_spacetime",
    "display_values",
    "figure",
    "figure_image",
    "from_lonlat",
    "growth_rates",
    "lonlat",
    "mean_field_limit",
    "phase_diagram",
    "plot_circle_density",
    "plot_circle_trajectories",
    "plot_series",
    "render_density",
    "render_tokens",
    "render_trajectories",
    "save",
    "save_gif",
    "series",
    "sphere_image",
    "print_style",
    "staircase",
    "trajectories",
]
