"""Chinese map coordinate systems: WGS-84 ⇄ GCJ-02 (Amap, Tencent) ⇄ BD-09 (Baidu).

Maps published in mainland China do not show WGS-84 coordinates.  Amap and Tencent use
**GCJ-02**, WGS-84 shifted by a non-linear offset of a few hundred metres; Baidu uses **BD-09**,
a further shift and rotation of GCJ-02.  A point copied from one of those maps and taken as
WGS-84 lands 300–700 m off, enough to put a pickup point on the wrong side of a river.  fulfil
computes distances in WGS-84 only, so a scenario written in a Chinese system is converted on
load and written back in its own system where a Chinese map tool will read it.

The forward transforms are the algorithm published in many open-source projects (the offsets
are computed on the Krasovsky 1940 ellipsoid, ``a = 6378245.0`` m, ``e² = 0.00669342162296594323``;
BD-09 adds ``0.0065``/``0.006`` degrees and a small rotation); they reproduce Amap's coordinate
conversion service to about 5e-7° (5 cm).  Neither has a closed-form inverse: the usual
one-step "subtract the offset" inverse is off by up to ~1e-5° (about a metre), so the inverses
here iterate ``x ← x − (forward(x) − target)`` until the forward image is within
:data:`INVERSE_TOL_DEG` of the target (the offset varies slowly, so each step gains about three
digits and a few steps suffice).

**Limitation, the customary bounding box**: GCJ-02 applies only "inside China", and the
common test for that (used here) is the box lon 72.004–137.8347, lat 0.8293–55.8271.  The box
is generous: it also covers Taiwan, Hong Kong, Macau, the Korean peninsula, most of Japan,
Mongolia and parts of South-East Asia, where Amap itself does not shift.  Points outside it
are returned unchanged by the GCJ-02 transforms; for points in the covered areas outside the
mainland the result is the shifted one, which is wrong for those places.  BD-09's own shift
applies everywhere (Baidu applies it worldwide).  Within ~0.01° of the box's edge a point and
its image may fall on different sides, so a round trip there is not exact; every such place is
at sea or in remote border country.

Everything is numpy: arrays in, arrays out (shapes kept), angles in degrees.
"""

from __future__ import annotations

from typing import Literal

import numpy as np

from .coords import check_lonlat

__all__ = [
    "INVERSE_TOL_DEG",
    "SYSTEMS",
    "CoordSystem",
    "bd09_to_gcj02",
    "bd09_to_wgs84",
    "convert",
    "from_wgs84",
    "gcj02_to_bd09",
    "gcj02_to_wgs84",
    "in_china_box",
    "to_wgs84",
    "wgs84_to_bd09",
    "wgs84_to_gcj02",
]

CoordSystem = Literal["wgs84", "gcj02", "bd09"]
#: The coordinate systems a scenario may declare.
SYSTEMS: tuple[str, ...] = ("wgs84", "gcj02", "bd09")

#: Semi-major axis (m) and first eccentricity squared of the Krasovsky 1940 ellipsoid, on
#: which GCJ-02's offsets are expressed.
_A = 6378245.0
_EE = 0.00669342162296594323
#: BD-09's rotation scale: π × 3000 / 180.
_X_PI = np.pi * 3000.0 / 180.0
_BD_DLON = 0.0065
_BD_DLAT = 0.006

#: The customary "inside China" box of GCJ-02 (see the module docstring for its limits).
_BOX_LON = (72.004, 137.8347)
_BOX_LAT = (0.8293, 55.8271)

#: The inverses stop when the forward image of their result is this close to the input, in
#: degrees (1e-9° ≈ 0.1 mm), well below the 1e-7° the plan files need.
INVERSE_TOL_DEG = 1e-9
_MAX_STEPS = 40


def in_china_box(lon: object, lat: object) -> np.ndarray:
    """``True`` where GCJ-02's customary box applies (see the module docstring: it is generous)."""
    lon_a, lat_a = check_lonlat(lon, lat)
    return (lon_a >= _BOX_LON[0]) & (lon_a <= _BOX_LON[1]) & (lat_a >= _BOX_LAT[0]) & (lat_a <= _BOX_LAT[1])


def _lat_offset(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """The published latitude offset polynomial in x = lon − 105, y = lat − 35 (metres-ish units)."""
    out = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * np.sqrt(np.abs(x))
    out += (20.0 * np.sin(6.0 * x * np.pi) + 20.0 * np.sin(2.0 * x * np.pi)) * 2.0 / 3.0
    out += (20.0 * np.sin(y * np.pi) + 40.0 * np.sin(y / 3.0 * np.pi)) * 2.0 / 3.0
    out += (160.0 * np.sin(y / 12.0 * np.pi) + 320.0 * np.sin(y * np.pi / 30.0)) * 2.0 / 3.0
    return out


def _lon_offset(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """The published longitude offset polynomial in x = lon − 105, y = lat − 35."""
    out = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * np.sqrt(np.abs(x))
    out += (20.0 * np.sin(6.0 * x * np.pi) + 20.0 * np.sin(2.0 * x * np.pi)) * 2.0 / 3.0
    out += (20.0 * np.sin(x * np.pi) + 40.0 * np.sin(x / 3.0 * np.pi)) * 2.0 / 3.0
    out += (150.0 * np.sin(x / 12.0 * np.pi) + 300.0 * np.sin(x / 30.0 * np.pi)) * 2.0 / 3.0
    return out


def _gcj_shift(lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """GCJ-02's (Δlon, Δlat) in degrees at a WGS-84 point, ignoring the box."""
    x, y = lon - 105.0, lat - 35.0
    rad = np.radians(lat)
    magic = 1.0 - _EE * np.sin(rad) ** 2
    sqrt_magic = np.sqrt(magic)
    dlat = _lat_offset(x, y) * 180.0 / ((_A * (1.0 - _EE)) / (magic * sqrt_magic) * np.pi)
    dlon = _lon_offset(x, y) * 180.0 / (_A / sqrt_magic * np.cos(rad) * np.pi)
    return dlon, dlat


def _gcj_forward(lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    dlon, dlat = _gcj_shift(lon, lat)
    return lon + dlon, lat + dlat


def _bd_forward(lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    z = np.hypot(lon, lat) + 0.00002 * np.sin(lat * _X_PI)
    theta = np.arctan2(lat, lon) + 0.000003 * np.cos(lon * _X_PI)
    return z * np.cos(theta) + _BD_DLON, z * np.sin(theta) + _BD_DLAT


def _invert(forward, lon: np.ndarray, lat: np.ndarray, what: str) -> tuple[np.ndarray, np.ndarray]:
    """The point whose ``forward`` image is (lon, lat), by fixed-point iteration from (lon, lat)."""
    x, y = lon.copy(), lat.copy()
    for _ in range(_MAX_STEPS):
        fx, fy = forward(x, y)
        ex, ey = fx - lon, fy - lat
        if max(float(np.max(np.abs(ex), initial=0.0)), float(np.max(np.abs(ey), initial=0.0))) < INVERSE_TOL_DEG:
            return x, y
        x, y = x - ex, y - ey
    raise ArithmeticError(f"{what}: the inverse did not converge to {INVERSE_TOL_DEG:g}° in {_MAX_STEPS} steps")


def wgs84_to_gcj02(lon: object, lat: object) -> tuple[np.ndarray, np.ndarray]:
    """GCJ-02 (Amap, Tencent) coordinates of WGS-84 points; points outside the box are unchanged."""
    lon_a, lat_a = check_lonlat(lon, lat)
    glon, glat = _gcj_forward(lon_a, lat_a)
    inside = in_china_box(lon_a, lat_a)
    return np.where(inside, glon, lon_a), np.where(inside, glat, lat_a)


def gcj02_to_wgs84(lon: object, lat: object) -> tuple[np.ndarray, np.ndarray]:
    """WGS-84 coordinates of GCJ-02 points, iterated until the forward image is within
    :data:`INVERSE_TOL_DEG` of the input; points outside the box are unchanged."""
    lon_a, lat_a = check_lonlat(lon, lat)
    inside = in_china_box(lon_a, lat_a)
    wlon, wlat = lon_a.copy(), lat_a.copy()  # outside the box GCJ-02 is WGS-84: nothing to invert there
    wlon[inside], wlat[inside] = _invert(_gcj_forward, lon_a[inside], lat_a[inside], "GCJ-02 → WGS-84")
    return wlon, wlat


def gcj02_to_bd09(lon: object, lat: object) -> tuple[np.ndarray, np.ndarray]:
    """BD-09 (Baidu) coordinates of GCJ-02 points."""
    return _bd_forward(*check_lonlat(lon, lat))


def bd09_to_gcj02(lon: object, lat: object) -> tuple[np.ndarray, np.ndarray]:
    """GCJ-02 coordinates of BD-09 points, the exact inverse of :func:`gcj02_to_bd09` (iterated)."""
    return _invert(_bd_forward, *check_lonlat(lon, lat), "BD-09 → GCJ-02")


def wgs84_to_bd09(lon: object, lat: object) -> tuple[np.ndarray, np.ndarray]:
    """BD-09 coordinates of WGS-84 points (through GCJ-02)."""
    return gcj02_to_bd09(*wgs84_to_gcj02(lon, lat))


def bd09_to_wgs84(lon: object, lat: object) -> tuple[np.ndarray, np.ndarray]:
    """WGS-84 coordinates of BD-09 points (through GCJ-02)."""
    return gcj02_to_wgs84(*bd09_to_gcj02(lon, lat))


def _system(name: str) -> str:
    key = str(name).lower().replace("-", "").replace("_", "")
    if key not in SYSTEMS:
        raise ValueError(f"unknown coordinate system {name!r}; expected one of {', '.join(SYSTEMS)}")
    return key


def to_wgs84(lon: object, lat: object, system: str) -> tuple[np.ndarray, np.ndarray]:
    """WGS-84 coordinates of points given in ``system`` (``wgs84``, ``gcj02`` or ``bd09``)."""
    s = _system(system)
    if s == "gcj02":
        return gcj02_to_wgs84(lon, lat)
    if s == "bd09":
        return bd09_to_wgs84(lon, lat)
    return check_lonlat(lon, lat)


def from_wgs84(lon: object, lat: object, system: str) -> tuple[np.ndarray, np.ndarray]:
    """Coordinates in ``system`` of WGS-84 points: the inverse of :func:`to_wgs84`."""
    s = _system(system)
    if s == "gcj02":
        return wgs84_to_gcj02(lon, lat)
    if s == "bd09":
        return wgs84_to_bd09(lon, lat)
    return check_lonlat(lon, lat)


def convert(lon: object, lat: object, source: str, target: str) -> tuple[np.ndarray, np.ndarray]:
    """Points from one system to another (through WGS-84 unless one of them is WGS-84 already)."""
    s, t = _system(source), _system(target)
    if s == t:
        return check_lonlat(lon, lat)
    if {s, t} == {"gcj02", "bd09"}:
        return gcj02_to_bd09(lon, lat) if s == "gcj02" else bd09_to_gcj02(lon, lat)
    return from_wgs84(*to_wgs84(lon, lat, s), t)
