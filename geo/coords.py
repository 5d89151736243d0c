"""Longitude/latitude helpers: validation, great-circle distance, local projection.

Everything here is plain numpy: arrays in, arrays out.  Angles are WGS84 degrees,
distances metres.
"""

from __future__ import annotations

import numpy as np

__all__ = ["EARTH_RADIUS_M", "check_lonlat", "haversine_m", "project_local_m"]

EARTH_RADIUS_M = 6_371_008.8
"""Mean Earth radius (IUGG) in metres."""


def _first_bad(mask: np.ndarray) -> object:
    """Index of the first ``True`` in ``mask`` (an int for 1-d, a tuple otherwise)."""
    flat = int(np.flatnonzero(mask.ravel())[0])
    if mask.ndim <= 1:
        return flat
    return tuple(int(i) for i in np.unravel_index(flat, mask.shape))


def _as_float(name: str, values: object) -> np.ndarray:
    try:
        return np.asarray(values, dtype=np.float64, order="C")
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name} must be numeric: {exc}") from None


def check_lonlat(lon: object, lat: object) -> tuple[np.ndarray, np.ndarray]:
    """Validate coordinates and return them as contiguous float64 arrays.

    Parameters
    ----------
    lon, lat : array_like
        Longitudes and latitudes in degrees, same shape.

    Returns
    -------
    lon, lat : ndarray of float64
        C-contiguous copies (or views) of the inputs, shape unchanged.

    Raises
    ------
    ValueError
        If the shapes differ, a value is not finite, a longitude is outside
        [-180, 180] or a latitude outside [-90, 90].  The message names the
        first offending index.
    """
    lon_a = _as_float("lon", lon)
    lat_a = _as_float("lat", lat)
    if lon_a.shape != lat_a.shape:
        raise ValueError(f"lon and lat must have the same shape, got {lon_a.shape} and {lat_a.shape}")
    for name, arr in (("lon", lon_a), ("lat", lat_a)):
        bad = ~np.isfinite(arr)
        if bad.any():
            i = _first_bad(bad)
            raise ValueError(f"{name}[{i}] is not finite ({arr[i] if arr.ndim else arr})")
    for name, arr, limit in (("lon", lon_a, 180.0), ("lat", lat_a, 90.0)):
        bad = np.abs(arr) > limit
        if bad.any():
            i = _first_bad(bad)
            value = arr[i] if arr.ndim else float(arr)
            raise ValueError(f"{name}[{i}] = {value} is outside [-{limit:g}, {limit:g}]")
    return lon_a, lat_a


def haversine_m(lon1: object, lat1: object, lon2: object, lat2: object) -> np.ndarray:
    """Great-circle distance in metres, elementwise with numpy broadcasting.

    Parameters
    ----------
    lon1, lat1, lon2, lat2 : array_like
        Degrees.  Inputs are not range-checked (use :func:`check_lonlat`).

    Returns
    -------
    ndarray of float64
        Distance on a sphere of radius :data:`EARTH_RADIUS_M`; exactly 0 for
        identical points.

    Examples
    --------
    >>> round(float(haversine_m(0.0, 0.0, 0.0, 1.0)) / 1000, 1)
    111.2
    """
    phi1 = np.radians(np.asarray(lat1, dtype=np.float64))
    phi2 = np.radians(np.asarray(lat2, dtype=np.float64))
    dphi = phi2 - phi1
    dlmb = np.radians(np.asarray(lon2, dtype=np.float64) - np.asarray(lon1, dtype=np.float64))
    a = np.sin(dphi * 0.5) ** 2 + np.cos(phi1) * np.cos(phi2) * np.sin(dlmb * 0.5) ** 2
    return 2.0 * EARTH_RADIUS_M * np.arcsin(np.sqrt(np.clip(a, 0.0, 1.0)))


def project_local_m(lon: object, lat: object, lon0: float, lat0: float) -> tuple[np.ndarray, np.ndarray]:
    """Equirectangular projection around a reference point.

    Good to a fraction of a percent over a city (tens of km); meant for plots
    and clustering, not for distances that feed costs.

    Parameters
    ----------
    lon, lat : array_like
        Degrees, same shape.
    lon0, lat0 : float
        Reference point (maps to ``(0, 0)``).

    Returns
    -------
    x_m, y_m : ndarray of float64
        Metres east and north of the reference point.  Longitude differences
        are wrapped to [-180, 180) so points across the antimeridian stay close.
    """
    lon_a, lat_a = check_lonlat(lon, lat)
    ref_lon, ref_lat = check_lonlat(lon0, lat0)
    dlon = np.mod(lon_a - ref_lon + 180.0, 360.0) - 180.0
    x = EARTH_RADIUS_M * np.radians(dlon) * np.cos(np.radians(ref_lat))
    y = EARTH_RADIUS_M * np.radians(lat_a - ref_lat)
    return x, y
