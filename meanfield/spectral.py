"""Spectral (Fourier / spherical-harmonic) evaluator of the attention field, d = 2 and 3.

Not implemented yet: it lands with the spectral-field issue. Until then ``method="auto"``
uses the direct evaluator and ``method="spectral"`` raises ``NotImplementedError``.
"""

from __future__ import annotations


def prefer_spectral(model, x, y) -> bool:
    """Whether ``method="auto"`` should pick the spectral evaluator (never, for now)."""
    return False


def spectral_field(model, x, y, w, **options):
    raise NotImplementedError("the spectral evaluator is not implemented yet; use method='direct'")
