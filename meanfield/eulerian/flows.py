r"""Prescribed flows with exact solutions that validate transport, and their initial data.

Solid-body rotation on S^1 and S^2 and the Nair–Lauritzen (2010) reversing deformations, with the
standard initial conditions of those tests (Gaussian hills, cosine bells, slotted cylinders).
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "SolidBodyRotation",
    "ReversingDeformation",
    "gaussian_hills",
    "cosine_bells",
    "slotted_cylinders",
]


# Reference flows with exact solutions (solid-body rotation, Nair–Lauritzen 2010) and the
# standard initial conditions of those tests.


def _lonlat(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Longitude in [0, 2 pi) and latitude of unit points (m, 3)."""
    lon = np.mod(np.arctan2(x[:, 1], x[:, 0]), 2.0 * np.pi)
    lat = np.arcsin(np.clip(x[:, 2], -1.0, 1.0))
    return lon, lat


def _rotate(x: np.ndarray, axis, angle: float) -> np.ndarray:
    """Rotate points (m, d) by ``angle`` about ``axis`` (d = 3) or about the origin (d = 2)."""
    c, s = np.cos(angle), np.sin(angle)
    if x.shape[1] == 2:
        return np.column_stack([c * x[:, 0] - s * x[:, 1], s * x[:, 0] + c * x[:, 1]])
    k = np.asarray(axis, dtype=float)
    return x * c + np.cross(k, x) * s + np.outer(x @ k, k) * (1.0 - c)


class SolidBodyRotation:
    r"""Rigid rotation :math:`u = \omega\, k \times x` (on S^1, :math:`u = \omega(-y, x)`).

    Parameters
    ----------
    axis : array_like, shape (3,), optional
        Rotation axis on S^2 (normalised); None on S^1.
    omega : float
        Angular speed; one revolution takes :math:`2\pi/\omega`.
    """

    def __init__(self, axis=None, omega: float = 1.0):
        self.axis = None if axis is None else np.asarray(axis, float) / np.linalg.norm(axis)
        self.omega = float(omega)

    def __call__(self, t, x: np.ndarray) -> np.ndarray:
        if x.shape[1] == 2:
            return self.omega * np.column_stack([-x[:, 1], x[:, 0]])
        return self.omega * np.cross(self.axis, x)

    def move(self, x: np.ndarray, t: float) -> np.ndarray:
        r"""Where the flow carries points ``x`` (m, d) in time t: :math:`R(\omega t)\,x`."""
        return _rotate(x, self.axis, self.omega * t)

    def exact(self, f, t: float):
        """The solution at time t from initial density ``f``: ``x -> f(R(-omega t) x)``."""
        return lambda x: f(self.move(x, -t))


class ReversingDeformation:
    r"""Nair–Lauritzen (2010) reversing deformational flows on the unit sphere.

    With longitude :math:`\lambda`, latitude :math:`\theta` and period T, case 1
    (:math:`k = 2.4`): :math:`u = k\sin^2\lambda\,\sin 2\theta\cos(\pi t/T)`,
    :math:`v = k\sin 2\lambda\,\cos\theta\cos(\pi t/T)`; case 2 (:math:`k = 2`):
    :math:`u = k\sin^2(\lambda/2)\sin 2\theta\cos(\pi t/T)`,
    :math:`v = (k/2)\sin\lambda\cos\theta\cos(\pi t/T)`; case 4 (:math:`k = 2.4`) is case 1 in
    longitude :math:`\lambda - 2\pi t/T` plus the zonal wind :math:`2\pi\cos\theta/T`. The flow
    reverses: at t = T the exact solution is the initial density (for any T).
    """

    def __init__(self, case: int = 4, period: float = 5.0):
        if case not in (1, 2, 4):
            raise ValueError(f"case must be 1, 2 or 4, got {case!r}")
        self.case = case
        self.period = float(period)
        self.k = 2.0 if case == 2 else 2.4

    def __call__(self, t, x: np.ndarray) -> np.ndarray:
        # Trigonometric functions of longitude and latitude straight from the coordinates
        # (angle-addition formulas, no arctan/sin per point); at the poles the field vanishes
        # whatever the longitude, which is then taken as 0.
        clat = np.hypot(x[:, 0], x[:, 1])
        slat = x[:, 2]
        pole = clat == 0
        safe = np.where(pole, 1.0, clat)
        clon = np.where(pole, 1.0, x[:, 0] / safe)
        slon = np.where(pole, 0.0, x[:, 1] / safe)
        T, k = self.period, self.k
        g = np.cos(np.pi * t / T)
        if self.case == 2:
            u = k * 0.5 * (1.0 - clon) * (2.0 * slat * clat) * g  # sin^2(lon/2) sin(2 lat)
            v = k / 2 * slon * clat * g
        else:
            s, c = slon, clon
            if self.case == 4:  # lon' = lon - 2 pi t / T
                a = 2 * np.pi * t / T
                s, c = slon * np.cos(a) - clon * np.sin(a), clon * np.cos(a) + slon * np.sin(a)
            u = k * s**2 * (2.0 * slat * clat) * g
            v = k * (2.0 * s * c) * clat * g
            if self.case == 4:
                u = u + 2 * np.pi * clat / T
        out = np.empty_like(x)
        out[:, 0] = -u * slon - v * slat * clon
        out[:, 1] = u * clon - v * slat * slon
        out[:, 2] = v * clat
        return out

    def exact(self, f, t: float):
        """The solution at the reversal time ``t = period`` (or 0) for initial density ``f``."""
        if t not in (0.0, self.period):
            raise ValueError(f"the exact solution is known at t = 0 and {self.period}, got {t}")
        return f


#: Centres (longitude, latitude) of the two features of the Nair–Lauritzen tests.
NL_CENTRES = ((5 * np.pi / 6, 0.0), (7 * np.pi / 6, 0.0))


def _centre(lon, lat):
    return np.array([np.cos(lat) * np.cos(lon), np.cos(lat) * np.sin(lon), np.sin(lat)])


def gaussian_hills(x: np.ndarray, height: float = 0.95, b0: float = 5.0) -> np.ndarray:
    r"""Two Gaussian hills :math:`h\,e^{-b_0|x - x_i|^2}` (smooth), points (m, 3) -> (m,)."""
    return sum(height * np.exp(-b0 * np.sum((x - _centre(*c)) ** 2, 1)) for c in NL_CENTRES)


def _distances(x, lon0, lat0):
    return np.arccos(np.clip(x @ _centre(lon0, lat0), -1.0, 1.0))


def cosine_bells(x, background: float = 0.1, amplitude: float = 0.9, radius: float = 0.5):
    r"""Two cosine bells of radius 1/2 (:math:`C^1`) on a constant background, (m, 3) -> (m,)."""
    h = np.zeros(len(x))
    for lon0, lat0 in NL_CENTRES:
        r = _distances(x, lon0, lat0)
        h += np.where(r < radius, 0.5 * (1 + np.cos(np.pi * r / radius)), 0.0)
    return background + amplitude * h


def slotted_cylinders(x, background: float = 0.1, height: float = 1.0, radius: float = 0.5):
    """Two slotted cylinders (discontinuous) on a constant background, (m, 3) -> (m,)."""
    lon, lat = _lonlat(x)
    h = np.full(len(x), background)
    for i, (lon0, lat0) in enumerate(NL_CENTRES):
        inside = _distances(x, lon0, lat0) <= radius
        dlat = lat - lat0
        slot = (np.abs(lon - lon0) < radius / 6) & (dlat > -5 * radius / 12 if i == 0 else
                                                     dlat < 5 * radius / 12)  # fmt: skip
        h = np.where(inside & ~slot, height, h)
    return h
