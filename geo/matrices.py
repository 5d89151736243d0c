"""Distance and travel-time matrices.

Road distance
    great-circle distance times a *circuity factor* chosen by straight-line
    distance band (road ≈ straight × factor).  The defaults follow the detour
    index measured for Chinese cities (Annals of GIS, 2021: 1.324 on average),
    higher for short hops inside a neighbourhood, lower for arterial trips.

Travel time
    every arc has a free-flow time ``f`` in seconds.  At clock time ``t``
    (seconds since 00:00 of the delivery day, may exceed 86400) the vehicle
    moves at ``factor[int(t // 3600) % 24]`` times free-flow speed, i.e. it
    consumes free-flow seconds at that rate.  The real traversal time ``T`` of
    an arc departing at ``t`` solves ``∫_t^{t+T} factor(τ) dτ = f``.  The model
    is FIFO: leaving later never means arriving earlier.

Everything takes and returns numpy arrays; the hot loops are numba kernels.
"""

from __future__ import annotations

import csv
import math
import os
from collections.abc import Sequence

import numba
import numpy as np
from numba import njit, prange

from .coords import check_lonlat

__all__ = [
    "DEFAULT_CIRCUITY_BREAKS_KM",
    "DEFAULT_CIRCUITY_FACTORS",
    "PARALLEL_MIN_CELLS",
    "road_distance_matrix_m",
    "free_flow_seconds",
    "travel_seconds",
    "travel_seconds_array",
    "TravelClock",
    "conservative_time_matrix_s",
    "window_time_matrix_s",
    "read_matrix_csv",
]

DEFAULT_CIRCUITY_BREAKS_KM: tuple[float, ...] = (2.0, 10.0)
"""Straight-line distance band edges in km (band ``i`` is ``[breaks[i-1], breaks[i])``)."""

DEFAULT_CIRCUITY_FACTORS: tuple[float, ...] = (1.40, 1.33, 1.25)
"""Road/straight ratio per band: < 2 km, 2–10 km, ≥ 10 km."""

PARALLEL_MIN_CELLS = 1_000_000
"""Matrix size from which :func:`road_distance_matrix_m` uses threads by default."""

_HOUR_S = 3600.0
_EARTH_RADIUS_M = 6_371_008.8  # same value as geo.coords.EARTH_RADIUS_M
#: A matrix file's longest leg: a week's drive, far beyond any night's trip (larger values are
#: typing errors, and would overflow the plan's bounded numbers).
MAX_LEG_KM = 5_000.0
MAX_LEG_MIN = 10_080.0


# --------------------------------------------------------------------------- #
# numba kernels (private)
# --------------------------------------------------------------------------- #
@njit(cache=True)
def _circuity(d_m, breaks_m, factors):
    band = 0
    for k in range(breaks_m.shape[0]):
        if d_m >= breaks_m[k]:
            band = k + 1
    return d_m * factors[band]


@njit(cache=True)
def _road_row(out, i, lon_a, lat_a, lam_b, phi_b, cos_b, breaks_m, factors):
    rad = math.pi / 180.0
    phi_a = lat_a[i] * rad
    lam_a = lon_a[i] * rad
    cos_a = math.cos(phi_a)
    for j in range(lam_b.shape[0]):
        s1 = math.sin((phi_b[j] - phi_a) * 0.5)
        s2 = math.sin((lam_b[j] - lam_a) * 0.5)
        a = s1 * s1 + cos_a * cos_b[j] * s2 * s2
        if a > 1.0:
            a = 1.0
        d = 2.0 * _EARTH_RADIUS_M * math.asin(math.sqrt(a))
        out[i, j] = _circuity(d, breaks_m, factors)


@njit(cache=True, parallel=True)
def _road_distance_parallel(lon_a, lat_a, lon_b, lat_b, breaks_m, factors):
    rad = math.pi / 180.0
    phi_b = lat_b * rad
    lam_b = lon_b * rad
    cos_b = np.cos(phi_b)
    out = np.empty((lon_a.shape[0], lon_b.shape[0]), dtype=np.float64)
    for i in prange(lon_a.shape[0]):
        _road_row(out, i, lon_a, lat_a, lam_b, phi_b, cos_b, breaks_m, factors)
    return out


@njit(cache=True)
def _road_distance_serial(lon_a, lat_a, lon_b, lat_b, breaks_m, factors):
    rad = math.pi / 180.0
    phi_b = lat_b * rad
    lam_b = lon_b * rad
    cos_b = np.cos(phi_b)
    out = np.empty((lon_a.shape[0], lon_b.shape[0]), dtype=np.float64)
    for i in range(lon_a.shape[0]):
        _road_row(out, i, lon_a, lat_a, lam_b, phi_b, cos_b, breaks_m, factors)
    return out


def _road_distance_numpy(lon_a, lat_a, lon_b, lat_b, breaks_m, factors):
    """Pure-numpy reference of the road-distance kernel (tests and benchmarks)."""
    from .coords import haversine_m

    d = haversine_m(lon_a[:, None], lat_a[:, None], lon_b[None, :], lat_b[None, :])
    band = np.searchsorted(breaks_m, d, side="right")
    return d * factors[band]


@njit(cache=True)
def _travel_from(free_s, hour, span, factors, day_capacity):
    """Traversal time when the clock is in ``hour`` (0-23) with ``span`` s left in it."""
    if not (free_s > 0.0):
        return 0.0
    if free_s == np.inf:
        return np.inf
    rem = free_s
    fac = factors[hour]
    cap = span * fac
    if rem <= cap:
        return rem / fac
    rem -= cap
    elapsed = span
    # now on an hour boundary: jump over whole days, then walk hour by hour
    n_days = math.floor(rem / day_capacity) - 1.0
    if n_days >= 1.0:
        rem -= n_days * day_capacity
        elapsed += n_days * 86400.0
    while True:
        hour += 1
        if hour == 24:
            hour = 0
        fac = factors[hour]
        cap = _HOUR_S * fac
        if rem <= cap:
            return elapsed + rem / fac
        rem -= cap
        elapsed += _HOUR_S


@njit(cache=True)
def _clock(depart_s):
    """Clock hour (0-23) of ``depart_s`` and the seconds left in that hour."""
    h = depart_s // _HOUR_S
    return int(h) % 24, (h + 1.0) * _HOUR_S - depart_s


@njit(cache=True)
def _travel_one(free_s, depart_s, factors, day_capacity):
    hour, span = _clock(depart_s)
    return _travel_from(free_s, hour, span, factors, day_capacity)


@njit(cache=True)
def _travel_many(free_s, depart_s, factors, day_capacity):
    hour, span = _clock(depart_s)
    out = np.empty(free_s.shape[0], dtype=np.float64)
    for i in range(free_s.shape[0]):
        out[i] = _travel_from(free_s[i], hour, span, factors, day_capacity)
    return out


@njit(cache=True)
def _latest_departure(free_s, arrive_s, factors, day_capacity):
    """Departure that arrives exactly at ``arrive_s`` (the arrival function is strictly increasing)."""
    if not (free_s > 0.0):
        return arrive_s
    rem = free_s
    h = math.ceil(arrive_s / _HOUR_S) - 1.0  # the hour just before the arrival instant
    fac = factors[(int(h) % 24 + 24) % 24]
    cap = (arrive_s - h * _HOUR_S) * fac
    if rem <= cap:
        return arrive_s - rem / fac
    rem -= cap
    t = h * _HOUR_S
    n_days = math.floor(rem / day_capacity) - 1.0
    if n_days >= 1.0:
        rem -= n_days * day_capacity
        t -= n_days * 86400.0
    while True:
        h = t / _HOUR_S - 1.0
        fac = factors[(int(h) % 24 + 24) % 24]
        cap = _HOUR_S * fac
        if rem <= cap:
            return t - rem / fac
        rem -= cap
        t -= _HOUR_S


@njit(cache=True)
def _slowest_departure(free_s, lo, hi, factors, day_capacity):
    """Largest traversal time of departures in ``[lo, hi]`` (``T(lo)`` when ``hi < lo``).

    The arrival time is piecewise linear in the departure time, with breaks where the
    departure or the arrival crosses an hour, so the largest traversal is at ``lo``, ``hi``
    or one of those breaks; the profile repeats daily, so one day of departures covers all.
    """
    t_lo = _travel_one(free_s, lo, factors, day_capacity)
    if not (hi > lo) or not (free_s > 0.0):
        return t_lo
    hi = min(hi, lo + 86400.0)
    t_hi = _travel_one(free_s, hi, factors, day_capacity)
    best = max(t_lo, t_hi)
    k = math.floor(lo / _HOUR_S) + 1.0
    while k * _HOUR_S < hi:
        best = max(best, _travel_one(free_s, k * _HOUR_S, factors, day_capacity))
        k += 1.0
    k = math.floor((lo + t_lo) / _HOUR_S) + 1.0
    while k * _HOUR_S < hi + t_hi:
        best = max(best, k * _HOUR_S - _latest_departure(free_s, k * _HOUR_S, factors, day_capacity))
        k += 1.0
    return best


@njit(cache=True)
def _window_bound_matrix(free_s, dep_lo, dep_hi, arr_hi, factors, day_capacity):
    out = np.empty(free_s.shape, dtype=np.float64)
    for i in range(free_s.shape[0]):
        for j in range(free_s.shape[1]):
            f = free_s[i, j]
            hi = min(dep_hi[i], _latest_departure(f, arr_hi[j], factors, day_capacity))
            out[i, j] = _slowest_departure(f, dep_lo[i], hi, factors, day_capacity)
    return out


# --------------------------------------------------------------------------- #
# validation helpers
# --------------------------------------------------------------------------- #
def _check_bands(breaks_km: Sequence[float], factors: Sequence[float]) -> tuple[np.ndarray, np.ndarray]:
    b = np.ascontiguousarray(np.asarray(breaks_km, dtype=np.float64).ravel())
    f = np.ascontiguousarray(np.asarray(factors, dtype=np.float64).ravel())
    if f.shape[0] != b.shape[0] + 1:
        raise ValueError(f"need len(factors) == len(breaks_km) + 1, got {f.shape[0]} factors for {b.shape[0]} breaks")
    if not np.all(np.isfinite(b)) or np.any(b <= 0.0) or np.any(np.diff(b) <= 0.0):
        raise ValueError(f"breaks_km must be finite, positive and strictly increasing, got {b.tolist()}")
    if not np.all(np.isfinite(f)) or np.any(f <= 0.0):
        raise ValueError(f"circuity factors must be finite and > 0, got {f.tolist()}")
    return b * 1000.0, f


def _check_hourly(hourly_factors: object) -> np.ndarray:
    f = np.ascontiguousarray(np.asarray(hourly_factors, dtype=np.float64))
    if f.shape != (24,):
        raise ValueError(f"hourly_factors must have shape (24,), got {f.shape}")
    bad = ~(np.isfinite(f) & (f > 0.0))
    if bad.any():
        h = int(np.flatnonzero(bad)[0])
        raise ValueError(f"hourly_factors[{h}] = {f[h]} must be finite and > 0")
    return f


def _check_time(name: str, value: object) -> float:
    try:
        v = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a number of seconds, got {value!r}") from None
    if not math.isfinite(v):
        raise ValueError(f"{name} must be finite, got {v}")
    return v


def _check_free(free_s: object, allow_inf: bool) -> np.ndarray:
    try:
        f = np.asarray(free_s, dtype=np.float64, order="C")
    except (TypeError, ValueError):
        raise ValueError(f"free-flow seconds must be numeric, got {free_s!r}") from None
    bad = np.isnan(f) | (f < 0.0)
    if not allow_inf:
        bad |= np.isinf(f)
    if bad.any():
        i = int(np.flatnonzero(bad.ravel())[0])
        what = "finite and >= 0" if not allow_inf else ">= 0 (inf allowed)"
        raise ValueError(f"free-flow seconds must be {what}; flat index {i} is {f.ravel()[i]}")
    return f


# --------------------------------------------------------------------------- #
# public API
# --------------------------------------------------------------------------- #
def road_distance_matrix_m(
    lon_a: object,
    lat_a: object,
    lon_b: object,
    lat_b: object,
    breaks_km: Sequence[float] = DEFAULT_CIRCUITY_BREAKS_KM,
    factors: Sequence[float] = DEFAULT_CIRCUITY_FACTORS,
    *,
    parallel: bool | None = None,
) -> np.ndarray:
    """Estimated road distance between two point sets.

    Parameters
    ----------
    lon_a, lat_a : array_like, shape (A,)
        Origins in degrees.
    lon_b, lat_b : array_like, shape (B,)
        Destinations in degrees.
    breaks_km : sequence of float
        Strictly increasing straight-line band edges in km.  A distance ``d``
        falls in band ``i`` = number of edges ``<= d``.
    factors : sequence of float
        ``len(breaks_km) + 1`` circuity factors, one per band.
    parallel : bool, optional
        Spread rows over numba threads (``prange``).  Default: only for
        matrices of at least :data:`PARALLEL_MIN_CELLS` cells and when numba
        has more than one thread.  Results are identical either way.

    Returns
    -------
    ndarray of float64, shape (A, B)
        Great-circle metres × factor of the band; 0 where the points coincide.

    Notes
    -----
    Threading pays off only for big matrices on otherwise idle cores: on a
    busy 2-core box the parallel kernel was several times *slower* than the
    serial one for 400 × 400 (see ``benchmarks/test_bench_kernels.py``),
    hence the size threshold.  The banding makes the
    estimate jump at band edges (e.g. 1.999 km → 2.80 km, 2.0 km → 2.66 km);
    that is inherent to the band model.
    """
    la, pa = check_lonlat(lon_a, lat_a)
    lb, pb = check_lonlat(lon_b, lat_b)
    if la.ndim != 1 or lb.ndim != 1:
        raise ValueError(f"coordinates must be 1-d arrays, got shapes {la.shape} and {lb.shape}")
    breaks_m, fac = _check_bands(breaks_km, factors)
    if parallel is None:
        parallel = la.shape[0] * lb.shape[0] >= PARALLEL_MIN_CELLS and numba.get_num_threads() > 1
    kernel = _road_distance_parallel if parallel else _road_distance_serial
    return kernel(la, pa, lb, pb, breaks_m, fac)


def free_flow_seconds(dist_m: object, free_flow_kmh: object) -> np.ndarray:
    """Free-flow traversal time of arcs.

    Parameters
    ----------
    dist_m : array_like
        Distances in metres, ``>= 0`` (``inf`` gives ``inf``).
    free_flow_kmh : float or array_like
        Free-flow speed in km/h, ``> 0``; must broadcast to ``dist_m``'s shape.

    Returns
    -------
    ndarray of float64
        Seconds, same shape as ``dist_m``.
    """
    d = np.ascontiguousarray(np.asarray(dist_m, dtype=np.float64))
    v = np.asarray(free_flow_kmh, dtype=np.float64)
    bad_d = np.isnan(d) | (d < 0.0)
    if bad_d.any():
        i = int(np.flatnonzero(bad_d.ravel())[0])
        raise ValueError(f"dist_m must be >= 0; flat index {i} is {d.ravel()[i]}")
    if not np.all(np.isfinite(v) & (v > 0.0)):
        raise ValueError("free_flow_kmh must be finite and > 0")
    try:
        out = d * 3.6 / v
    except ValueError:
        raise ValueError(f"free_flow_kmh shape {v.shape} does not broadcast to dist_m shape {d.shape}") from None
    if out.shape != d.shape:
        raise ValueError(f"free_flow_kmh shape {v.shape} does not broadcast to dist_m shape {d.shape}")
    return np.ascontiguousarray(out)


def travel_seconds(free_s: float, depart_s: float, hourly_factors: object) -> float:
    """Exact time-dependent traversal time of one arc.

    Parameters
    ----------
    free_s : float
        Free-flow time of the arc in seconds, ``>= 0`` (``inf`` gives ``inf``).
    depart_s : float
        Departure clock time, seconds since 00:00 of the delivery day (may be
        beyond 86400; the 24-hour profile repeats).
    hourly_factors : array_like, shape (24,)
        Speed factor per clock hour, ``> 0`` (1 = free flow, 0.5 = half speed).

    Returns
    -------
    float
        Real seconds ``T`` with ``∫_depart^{depart+T} factor = free_s``.

    Examples
    --------
    >>> f = [1.0] * 24; f[1] = 0.5
    >>> travel_seconds(600.0, 3300.0, f)   # 300 s at full speed, 300 s of work at half speed
    900.0
    """
    fac = _check_hourly(hourly_factors)
    f_arr = _check_free(free_s, allow_inf=True)
    if f_arr.ndim != 0:
        raise ValueError(f"free_s must be a scalar, got shape {f_arr.shape} (use travel_seconds_array)")
    f = float(f_arr)
    t = _check_time("depart_s", depart_s)
    return float(_travel_one(f, t, fac, float(fac.sum()) * _HOUR_S))


class TravelClock:
    """:func:`travel_seconds` for one speed profile, its factors validated once.

    For timing many legs one after another (each leaving when the previous stop is done),
    where :func:`travel_seconds` would re-validate the 24 factors on every leg.  Gives the
    same numbers as ``travel_seconds(free_s, depart_s, hourly_factors)``.
    """

    __slots__ = ("factors", "day_capacity")

    def __init__(self, hourly_factors: object):
        self.factors = _check_hourly(hourly_factors)
        self.day_capacity = float(self.factors.sum()) * _HOUR_S

    def __call__(self, free_s: float, depart_s: float) -> float:
        f = float(free_s)
        t = float(depart_s)
        if not (f >= 0.0):
            raise ValueError(f"free-flow seconds must be >= 0 (inf allowed), got {free_s!r}")
        if not math.isfinite(t):
            raise ValueError(f"depart_s must be finite, got {t}")
        return float(_travel_one(f, t, self.factors, self.day_capacity))


def travel_seconds_array(free_s_array: object, depart_s: float, hourly_factors: object) -> np.ndarray:
    """:func:`travel_seconds` for many arcs that leave at the same time.

    Parameters
    ----------
    free_s_array : array_like
        Free-flow seconds, any shape, ``>= 0`` (``inf`` allowed).
    depart_s : float
        Common departure clock time in seconds.
    hourly_factors : array_like, shape (24,)
        Speed factor per clock hour.

    Returns
    -------
    ndarray of float64
        Real traversal seconds, same shape as ``free_s_array``.
    """
    fac = _check_hourly(hourly_factors)
    f = _check_free(free_s_array, allow_inf=True)
    t = _check_time("depart_s", depart_s)
    out = _travel_many(f.ravel(), t, fac, float(fac.sum()) * _HOUR_S)
    return out.reshape(f.shape)


def conservative_time_matrix_s(
    free_s: object, hourly_factors: object, t_from_s: float, t_to_s: float
) -> np.ndarray:
    """Time-independent upper bound of travel times within a time window.

    Parameters
    ----------
    free_s : array_like
        Free-flow seconds, any shape, finite and ``>= 0``.
    hourly_factors : array_like, shape (24,)
        Speed factor per clock hour.
    t_from_s, t_to_s : float
        The window ``[t_from_s, t_to_s]`` in clock seconds, ``t_from_s <= t_to_s``.

    Returns
    -------
    ndarray of int64
        ``ceil(free_s / m)`` where ``m`` is the smallest factor of any clock
        hour overlapping the window (an hour that only touches ``t_to_s`` at
        its start does not count).  Any trip that departs and arrives inside the
        window takes at most this many seconds.
    """
    fac = _check_hourly(hourly_factors)
    f = _check_free(free_s, allow_inf=False)
    t0 = _check_time("t_from_s", t_from_s)
    t1 = _check_time("t_to_s", t_to_s)
    if t1 < t0:
        raise ValueError(f"t_to_s ({t1}) must be >= t_from_s ({t0})")
    h0 = int(t0 // _HOUR_S)
    h1 = int(t1 // _HOUR_S)
    if h1 > h0 and t1 == h1 * _HOUR_S:
        h1 -= 1  # [t0, t1] only touches hour h1 at its first instant
    if h1 - h0 >= 23:
        fmin = float(fac.min())
    else:
        fmin = float(fac[np.arange(h0, h1 + 1) % 24].min())
    bound = np.ceil(f / fmin)
    if bound.size and bound.max() >= 2.0**62:
        raise ValueError("conservative travel time does not fit in int64")
    return bound.astype(np.int64)


def window_time_matrix_s(
    free_s: object, hourly_factors: object, depart_from_s: object, depart_to_s: object, arrive_by_s: object
) -> np.ndarray:
    """Slowest time-dependent traversal of every arc over the departures that can happen on it.

    Parameters
    ----------
    free_s : array_like, shape (A, B)
        Free-flow seconds, finite and ``>= 0``.
    hourly_factors : array_like, shape (24,)
        Speed factor per clock hour.
    depart_from_s, depart_to_s : array_like, shape (A,)
        Earliest and latest departure from each origin, clock seconds.
    arrive_by_s : array_like, shape (B,)
        Latest arrival at each destination, clock seconds.

    Returns
    -------
    ndarray of float64, shape (A, B)
        ``out[i, j]`` = the largest exact traversal time of arc ``(i, j)`` over the departures
        ``d`` in ``[depart_from_s[i], depart_to_s[i]]`` that arrive by ``arrive_by_s[j]``
        (the traversal at ``depart_from_s[i]`` when none does).

    Notes
    -----
    A schedule that prices the arc at ``out[i, j]`` (or more) and requires
    ``d + out[i, j] <= arrive_by_s[j]`` for a departure ``d`` in the origin's interval never
    underestimates: a departure whose exact traversal is longer arrives after ``arrive_by_s[j]``
    and is excluded by the same requirement.  Unlike :func:`conservative_time_matrix_s`, which
    takes the slowest hour of one common window, each arc sees only its own departures, so a
    trip that must be over before the morning peak is priced at night speeds.
    """
    fac = _check_hourly(hourly_factors)
    f = _check_free(free_s, allow_inf=False)
    if f.ndim != 2:
        raise ValueError(f"free_s must be 2-d, got shape {f.shape}")
    lo, hi, arr = (np.ascontiguousarray(np.asarray(x, dtype=np.float64)) for x in (depart_from_s, depart_to_s,
                                                                                    arrive_by_s))
    if lo.shape != (f.shape[0],) or hi.shape != (f.shape[0],) or arr.shape != (f.shape[1],):
        raise ValueError(f"need depart_from_s and depart_to_s of shape ({f.shape[0]},) and arrive_by_s of shape "
                         f"({f.shape[1]},), got {lo.shape}, {hi.shape} and {arr.shape}")
    if not (np.isfinite(lo).all() and np.isfinite(hi).all() and np.isfinite(arr).all()):
        raise ValueError("departure and arrival times must be finite")
    return _window_bound_matrix(f, lo, hi, arr, fac, float(fac.sum()) * _HOUR_S)


def read_matrix_csv(
    path: str | os.PathLike, *, name: str | None = None, max_rows: int | None = None
) -> tuple[list[str], np.ndarray, np.ndarray | None]:
    """Read a long-format distance (and optional time) matrix.

    Parameters
    ----------
    path : str or path-like
        CSV with header ``from,to,distance_km`` and optionally ``minutes``
        (any column order, names case-insensitive, extra columns ignored).
    name : str, optional
        The file as problems name it (default: ``path``).
    max_rows : int, optional
        Refuse a file with more data rows than this (the arrays are N × N).

    Returns
    -------
    ids : list of str
        Location ids in first-appearance order (``from`` before ``to``, row by row).
    dist_km : ndarray of float64, shape (N, N)
        Distances; an omitted diagonal is 0.
    minutes : ndarray of float64, shape (N, N), or None
        Travel minutes when the file has a ``minutes`` column.

    Raises
    ------
    ValueError
        Naming the file, the row (header = row 1) and the problem: missing
        column, empty id, non-numeric / non-finite / negative value, duplicate
        pair, missing off-diagonal pair (one is named, plus the count), too
        many rows, or malformed CSV / text.  Nothing of the file is quoted
        before its header shows it is a matrix (it could be any file).
    """
    name = os.fspath(path) if name is None else name
    try:
        return _read_matrix_rows(path, name, max_rows)
    except csv.Error as exc:
        raise ValueError(f"{name}: malformed CSV: {exc}") from None
    except UnicodeDecodeError as exc:
        raise ValueError(f"{name}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None


def _read_matrix_rows(
    path: str | os.PathLike, name: str, max_rows: int | None
) -> tuple[list[str], np.ndarray, np.ndarray | None]:
    with open(path, newline="", encoding="utf-8-sig") as fh:
        reader = csv.reader(fh)
        header = next(reader, None)
        if header is None:
            raise ValueError(f"{name}: row 1: empty file, expected header 'from,to,distance_km[,minutes]'")
        cols = [c.strip().lower() for c in header]
        for col in ("from", "to", "distance_km"):
            if col not in cols:
                raise ValueError(f"{name}: row 1: missing column '{col}'; "
                                 "expected a header 'from,to,distance_km[,minutes]'")
        for col in set(cols):
            if col and cols.count(col) > 1 and col in ("from", "to", "distance_km", "minutes"):
                raise ValueError(f"{name}: row 1: column '{col}' appears twice")
        i_from, i_to, i_dist = cols.index("from"), cols.index("to"), cols.index("distance_km")
        i_min = cols.index("minutes") if "minutes" in cols else -1
        need = max(i_from, i_to, i_dist, i_min) + 1

        index: dict[str, int] = {}
        src: list[int] = []
        dst: list[int] = []
        dist: list[float] = []
        mins: list[float] = []
        rows: list[int] = []

        def number(text: str, col: str, row: int) -> float:
            cell = text.strip() if len(text.strip()) <= 40 else text.strip()[:40] + "…"
            cell = f"'{cell}'" if cell.isprintable() else repr(cell)
            try:
                v = float(text)
            except ValueError:
                raise ValueError(f"{name}: row {row}: {col} {cell} is not a number") from None
            if not math.isfinite(v):
                raise ValueError(f"{name}: row {row}: {col} {cell} is not finite")
            if v < 0.0:
                raise ValueError(f"{name}: row {row}: {col} {v:g} is negative")
            limit, unit = (MAX_LEG_KM, "km") if col == "distance_km" else (MAX_LEG_MIN, "min")
            if v > limit:
                raise ValueError(f"{name}: row {row}: {col} {v:g} is over {limit:g} {unit}, longer than any leg "
                                 "a night's vehicle can drive")
            return v

        for rec in reader:
            row = reader.line_num
            if not any(field.strip() for field in rec):
                continue
            if len(rec) < need:
                raise ValueError(f"{name}: row {row}: expected at least {need} fields, got {len(rec)}")
            if max_rows is not None and len(rows) >= max_rows:
                raise ValueError(f"{name}: row {row}: more than {max_rows} rows; at most {max_rows} are read")
            a, b = rec[i_from].strip(), rec[i_to].strip()
            if not a or not b:
                raise ValueError(f"{name}: row {row}: empty location id")
            d = number(rec[i_dist], "distance_km", row)
            m = number(rec[i_min], "minutes", row) if i_min >= 0 else 0.0
            src.append(index.setdefault(a, len(index)))
            dst.append(index.setdefault(b, len(index)))
            dist.append(d)
            mins.append(m)
            rows.append(row)

    if not rows:
        raise ValueError(f"{name}: row 2: no data rows")
    ids = list(index)
    n = len(ids)
    s = np.asarray(src, dtype=np.int64)
    t = np.asarray(dst, dtype=np.int64)
    key = s * n + t
    order = np.argsort(key, kind="stable")
    sk = key[order]
    dup = np.flatnonzero(sk[1:] == sk[:-1])
    if dup.size:
        second = order[dup + 1]
        k = int(np.argmin(second))
        r_first, r_second = rows[int(order[dup[k]])], rows[int(second[k])]
        a, b = ids[int(s[second[k]])], ids[int(t[second[k]])]
        raise ValueError(f"{name}: row {r_second}: duplicate pair ({a} -> {b}), first given on row {r_first}")

    present = np.zeros((n, n), dtype=bool)
    present[s, t] = True
    np.fill_diagonal(present, True)
    missing = np.flatnonzero(~present.ravel())
    if missing.size:
        i, j = divmod(int(missing[0]), n)
        raise ValueError(
            f"{name}: row {rows[-1] + 1} (end of file): missing pair ({ids[i]} -> {ids[j]}); "
            f"{missing.size} ordered pair{'s' if missing.size != 1 else ''} missing in total"
        )
    dist_km = np.zeros((n, n), dtype=np.float64)
    dist_km[s, t] = np.asarray(dist, dtype=np.float64)
    minutes = None
    if i_min >= 0:
        minutes = np.zeros((n, n), dtype=np.float64)
        minutes[s, t] = np.asarray(mins, dtype=np.float64)
    return ids, dist_km, minutes
