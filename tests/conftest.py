"""Test configuration: render off-screen (no display here) and make examples importable."""

import sys
from pathlib import Path

import matplotlib
import pyvista

matplotlib.use("Agg")
pyvista.OFF_SCREEN = True

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
sys.path.insert(0, str(EXAMPLES))
