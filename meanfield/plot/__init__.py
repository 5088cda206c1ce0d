"""Figures as functions of data: matplotlib curves and densities on the circle, pyvista renders
on the sphere. Heavy libraries are imported inside the functions."""

from .curves import plot_circle_density, plot_circle_trajectories, plot_series, save_gif
from .render import render_density, render_tokens

__all__ = [
    "plot_circle_density",
    "plot_circle_trajectories",
    "plot_series",
    "render_density",
    "render_tokens",
    "save_gif",
]
