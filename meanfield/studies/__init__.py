"""Validation studies that turn the theory into measured numbers; each returns plain rows."""

from .growth import growth_rate_study, measure_growth_rate
from .mean_field import fit_slope, mean_field_study

__all__ = ["fit_slope", "growth_rate_study", "mean_field_study", "measure_growth_rate"]
