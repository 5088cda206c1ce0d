"""One look for every matplotlib figure: print sizes, fonts of at least 8 pt, vector files.

Figures are built at their printed size (``width`` in inches, 3.4 for one journal column, 7 for
the page), so a font of 8 pt in the figure is 8 pt on paper. :func:`save` writes PDF, SVG or
PNG from the file suffix (or ``format``): in PDF and SVG the text stays text (TrueType in PDF,
``<text>`` in SVG) and lines stay paths; only artists drawn with ``rasterized=True`` (the
density image of a map) become one embedded raster at ``dpi``.
"""

from __future__ import annotations

import functools
from pathlib import Path

__all__ = ["FONT_PT", "COLUMN", "PAGE", "FORMATS", "print_style", "figure", "finish", "save"]

#: smallest font on any figure, in points (at the printed size)
FONT_PT = 8.0
#: one journal column and the full page width, inches
COLUMN, PAGE = 3.4, 7.0
FORMATS = ("pdf", "svg", "png")

_RC = {
    "font.size": FONT_PT,
    "axes.titlesize": FONT_PT + 1,
    "axes.labelsize": FONT_PT,
    "xtick.labelsize": FONT_PT,
    "ytick.labelsize": FONT_PT,
    "legend.fontsize": FONT_PT,
    "legend.title_fontsize": FONT_PT,
    "figure.titlesize": FONT_PT + 1,
    "axes.linewidth": 0.6,
    "lines.linewidth": 1.0,
    "xtick.major.width": 0.6,
    "ytick.major.width": 0.6,
    "legend.frameon": False,
    "pdf.fonttype": 42,  # TrueType: text is selectable and searchable in the PDF
    "ps.fonttype": 42,
    "svg.fonttype": "none",  # text as <text>, not outlines
    "savefig.bbox": None,  # keep the printed size exactly
    "mathtext.fontset": "dejavusans",
}


def print_style():
    """Context in which figures get the package's print style (fonts >= 8 pt, vector text)."""
    import matplotlib

    return matplotlib.rc_context(_RC)


def figure(width: float = COLUMN, height: float | None = None, aspect: float = 0.62, **kwargs):
    """A new constrained-layout figure of ``width`` x ``height`` inches (height = aspect * width).

    Parameters
    ----------
    width : float
        Printed width in inches (3.4: one column, 7: page).
    height : float, optional
    aspect : float
        Height over width when ``height`` is not given.
    **kwargs
        Passed to :class:`matplotlib.figure.Figure`.
    """
    width = _positive(width, "width")
    height = width * aspect if height is None else _positive(height, "height")
    with print_style():
        return _print_figure_class()(figsize=(width, height), layout="constrained", **kwargs)


@functools.lru_cache(maxsize=1)
def _print_figure_class():
    """A bare Figure (no pyplot: no global state, no GUI backend, nothing to close) whose axes,
    colour bars, titles and drawing all happen in :func:`print_style`, so axes added by the caller
    (``fig.subplots``) get the print fonts too."""
    from matplotlib.figure import Figure

    def styled(name):
        method = getattr(Figure, name)

        def call(self, *args, **kwargs):
            with print_style():
                return method(self, *args, **kwargs)

        call.__name__, call.__doc__ = name, method.__doc__
        return call

    names = ["add_subplot", "add_axes", "subplots", "colorbar", "suptitle", "legend", "draw"]
    return type("PrintFigure", (Figure,), {n: styled(n) for n in names})


def finish(ax) -> None:
    """Fix the style on an axes we own (tick labels are created lazily, after rc_context)."""
    ax.tick_params(labelsize=FONT_PT, width=0.6)


def save(fig, path, format: str | None = None, dpi: float = 300) -> Path:
    """Write ``fig`` to ``path`` atomically, as PDF, SVG or PNG.

    Parameters
    ----------
    fig : matplotlib.figure.Figure
    path : str or Path
        Target file; its suffix gives the format unless ``format`` is given (then the suffix is
        replaced).
    format : {"pdf", "svg", "png"}, optional
    dpi : float
        Resolution of PNG files and of the rasterized artists inside PDF/SVG.

    Returns
    -------
    Path
    """
    from .._files import atomic_write

    path = Path(path)
    fmt = (format or path.suffix.lstrip(".")).lower()
    if fmt not in FORMATS:
        raise ValueError(f"format must be one of {FORMATS}, got {fmt!r} (from {path.name!r})")
    path = path.with_suffix("." + fmt)
    dpi = _positive(dpi, "dpi")
    with print_style():
        return atomic_write(path, lambda tmp: fig.savefig(tmp, format=fmt, dpi=dpi))


def _positive(value, name):
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a positive number, got {value!r}") from None
    if not v > 0:
        raise ValueError(f"{name} must be a positive number, got {value!r}")
    return v
