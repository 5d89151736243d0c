"""Tests of geo.matrices: road distance bands, time-dependent travel times, CSV matrices."""

from __future__ import annotations

import math

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

from geo.coords import EARTH_RADIUS_M, haversine_m
from geo.matrices import (
    DEFAULT_CIRCUITY_BREAKS_KM,
    DEFAULT_CIRCUITY_FACTORS,
    conservative_time_matrix_s,
    free_flow_seconds,
    read_matrix_csv,
    road_distance_matrix_m,
    travel_seconds,
    travel_seconds_array,
)

DEG_M = EARTH_RADIUS_M * math.pi / 180.0
FLAT = np.ones(24)


def rush_hour_profile() -> np.ndarray:
    """Hourly speed factors with a slow morning and evening peak."""
    f = np.ones(24)
    f[7:9] = 0.45
    f[17:19] = 0.55
    f[0:5] = 1.2
    return f


# --------------------------------------------------------------------------- #
# road distance
# --------------------------------------------------------------------------- #
def test_defaults():
    """The documented default bands are 2/10 km with factors 1.40/1.33/1.25."""
    assert DEFAULT_CIRCUITY_BREAKS_KM == (2.0, 10.0)
    assert DEFAULT_CIRCUITY_FACTORS == (1.40, 1.33, 1.25)


def test_circuity_band_selection():
    """Straight 1 km, 5 km and 20 km hops get factors 1.40, 1.33 and 1.25."""
    lat_b = np.array([1.0, 5.0, 20.0]) * 1000.0 / DEG_M + 30.0
    lon_b = np.full(3, 120.0)
    d = road_distance_matrix_m([120.0], [30.0], lon_b, lat_b)
    assert d.shape == (1, 3)
    assert_allclose(d[0], [1400.0, 6650.0, 25000.0], rtol=1e-9)


def test_custom_bands():
    """Custom breaks/factors are honoured, including a single band (no breaks)."""
    lat_b = np.array([0.5, 3.0]) * 1000.0 / DEG_M
    d = road_distance_matrix_m([0.0], [0.0], [0.0, 0.0], lat_b, breaks_km=(1.0,), factors=(2.0, 1.0))
    assert_allclose(d[0], [1000.0, 3000.0], rtol=1e-9)
    d = road_distance_matrix_m([0.0], [0.0], [0.0, 0.0], lat_b, breaks_km=(), factors=(1.1,))
    assert_allclose(d[0], [550.0, 3300.0], rtol=1e-9)


def test_kernel_matches_numpy_reference_rectangular():
    """The numba matrix equals haversine × band factor computed with plain numpy; diagonal is 0."""
    rng = np.random.default_rng(11)
    lon = 113.9 + rng.uniform(0, 0.4, 30)
    lat = 22.5 + rng.uniform(0, 0.3, 30)
    d = road_distance_matrix_m(lon, lat, lon[:7], lat[:7])
    assert d.shape == (30, 7) and d.dtype == np.float64
    straight = haversine_m(lon[:, None], lat[:, None], lon[None, :7], lat[None, :7])
    factor = np.where(straight < 2000.0, 1.40, np.where(straight < 10000.0, 1.33, 1.25))
    assert_allclose(d, straight * factor, rtol=1e-12, atol=1e-6)
    assert_array_equal(np.diag(d[:7]), 0.0)
    assert {1.40, 1.33, 1.25} <= set(np.round(factor.ravel(), 2))  # all bands exercised
    for parallel in (True, False):  # threaded and serial kernels agree bit for bit
        assert_array_equal(road_distance_matrix_m(lon, lat, lon[:7], lat[:7], parallel=parallel), d)


@pytest.mark.parametrize(
    "kwargs, pattern",
    [
        ({"breaks_km": (2.0, 10.0), "factors": (1.4, 1.3)}, "len"),
        ({"breaks_km": (10.0, 2.0), "factors": (1.4, 1.3, 1.2)}, "increasing"),
        ({"breaks_km": (2.0,), "factors": (1.4, 0.0)}, "> 0"),
    ],
)
def test_band_validation(kwargs, pattern):
    """Inconsistent band definitions raise ValueError."""
    with pytest.raises(ValueError, match=pattern):
        road_distance_matrix_m([0.0], [0.0], [0.0], [1.0], **kwargs)


def test_coordinate_validation():
    """2-d or out-of-range coordinates raise ValueError."""
    with pytest.raises(ValueError, match="1-d"):
        road_distance_matrix_m([[0.0]], [[0.0]], [0.0], [0.0])
    with pytest.raises(ValueError, match=r"lat\[0\]"):
        road_distance_matrix_m([0.0], [95.0], [0.0], [0.0])


def test_free_flow_seconds():
    """1 km at 36 km/h takes 100 s; shape is kept; a per-column speed broadcasts."""
    d = np.array([[0.0, 1000.0], [2500.0, 0.0]])
    assert_allclose(free_flow_seconds(d, 36.0), [[0.0, 100.0], [250.0, 0.0]])
    assert_allclose(free_flow_seconds(d, np.array([36.0, 72.0])), [[0.0, 50.0], [250.0, 0.0]])
    with pytest.raises(ValueError, match="dist_m"):
        free_flow_seconds([-1.0], 30.0)
    with pytest.raises(ValueError, match="free_flow_kmh"):
        free_flow_seconds([1.0], 0.0)
    with pytest.raises(ValueError, match="broadcast"):
        free_flow_seconds([1.0], [30.0, 40.0])


# --------------------------------------------------------------------------- #
# time-dependent travel
# --------------------------------------------------------------------------- #
def oracle_travel(f: float, depart: float, factors: np.ndarray) -> float:
    """Independent reference: invert the cumulative free-flow integral by bisection."""
    day = 3600.0 * factors.sum()
    cum = np.concatenate([[0.0], np.cumsum(factors) * 3600.0])

    def integral(t: float) -> float:  # ∫_0^t factor
        days, r = divmod(t, 86400.0)
        h = int(r // 3600.0)
        return days * day + cum[h] + (r - h * 3600.0) * factors[h]

    target = integral(depart) + f
    lo, hi = 0.0, f / factors.min() + 1.0
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        if integral(depart + mid) < target:
            lo = mid
        else:
            hi = mid
    return 0.5 * (lo + hi)


def test_travel_within_one_hour():
    """Inside a single hour the time is free-flow / factor."""
    f = FLAT.copy()
    f[3] = 0.5
    assert travel_seconds(600.0, 3 * 3600.0 + 10.0, f) == pytest.approx(1200.0, abs=1e-9)
    assert travel_seconds(600.0, 0.0, FLAT) == pytest.approx(600.0, abs=1e-9)


def test_travel_across_hour_boundary_by_hand():
    """Factors 1.0 then 0.5: leaving at 00:50 with 1200 s free-flow takes 600 + 1200 = 1800 s."""
    f = FLAT.copy()
    f[1] = 0.5
    assert travel_seconds(1200.0, 3000.0, f) == pytest.approx(1800.0, abs=1e-9)
    # the other way round: slow hour then fast hour
    g = FLAT.copy()
    g[0] = 0.5
    assert travel_seconds(1200.0, 3000.0, g) == pytest.approx(600.0 + 900.0, abs=1e-9)


def test_travel_across_midnight_by_hand():
    """23:50 at factor 0.5, then 00:00 at factor 2: 600 s uses 300, the other 600 take 300 s."""
    f = FLAT.copy()
    f[23] = 0.5
    f[0] = 2.0
    assert travel_seconds(900.0, 86400.0 - 600.0, f) == pytest.approx(900.0, abs=1e-9)
    # clock times on the next day behave the same (profile repeats)
    assert travel_seconds(900.0, 2 * 86400.0 - 600.0, f) == pytest.approx(900.0, abs=1e-9)


def test_travel_zero_and_infinite():
    """Zero free-flow time costs nothing; an infinite one stays infinite."""
    assert travel_seconds(0.0, 12345.0, rush_hour_profile()) == 0.0
    assert math.isinf(travel_seconds(math.inf, 0.0, FLAT))


def test_travel_matches_oracle_random():
    """Random arcs, departures (up to day 3) and profiles agree with the bisection oracle."""
    rng = np.random.default_rng(5)
    for _ in range(8):
        factors = rng.uniform(0.2, 1.5, 24)
        free = np.concatenate([rng.uniform(0, 7200, 40), rng.uniform(1e5, 4e5, 3)])
        depart = float(rng.uniform(0, 3 * 86400))
        got = travel_seconds_array(free, depart, factors)
        want = [oracle_travel(float(x), depart, factors) for x in free]
        assert_allclose(got, want, rtol=1e-9, atol=1e-6)
        assert travel_seconds(float(free[0]), depart, factors) == got[0]


def test_travel_array_keeps_shape():
    """travel_seconds_array returns the input's shape, elementwise equal to travel_seconds."""
    prof = rush_hour_profile()
    free = np.arange(12.0).reshape(3, 4) * 400.0
    got = travel_seconds_array(free, 7.5 * 3600.0, prof)
    assert got.shape == (3, 4)
    for idx in np.ndindex(free.shape):
        assert got[idx] == travel_seconds(float(free[idx]), 7.5 * 3600.0, prof)


def test_travel_is_fifo():
    """Leaving later never gets you there earlier (depart + travel is non-decreasing)."""
    prof = rush_hour_profile()
    departs = np.linspace(5 * 3600.0, 20 * 3600.0, 400)
    arrive = np.array([d + travel_seconds(2400.0, d, prof) for d in departs])
    assert np.all(np.diff(arrive) >= -1e-9)


def test_travel_validation():
    """Bad profiles, negative or non-scalar free time and non-finite departures raise ValueError."""
    with pytest.raises(ValueError, match="shape"):
        travel_seconds(10.0, 0.0, np.ones(23))
    with pytest.raises(ValueError, match=r"hourly_factors\[5\]"):
        bad = FLAT.copy()
        bad[5] = 0.0
        travel_seconds(10.0, 0.0, bad)
    with pytest.raises(ValueError, match=">= 0"):
        travel_seconds(-1.0, 0.0, FLAT)
    with pytest.raises(ValueError, match="scalar"):
        travel_seconds([1.0, 2.0], 0.0, FLAT)
    with pytest.raises(ValueError, match="depart_s"):
        travel_seconds(1.0, math.nan, FLAT)


# --------------------------------------------------------------------------- #
# conservative matrix
# --------------------------------------------------------------------------- #
def test_conservative_hand_cases():
    """Min factor over overlapping hours; an hour that only touches t_to is ignored."""
    f = FLAT.copy()
    f[1] = 0.1
    f[2] = 0.5
    free = np.array([[0.0, 100.0], [101.0, 3.3]])
    out = conservative_time_matrix_s(free, f, 0.0, 3600.0)
    assert out.dtype == np.int64
    assert_array_equal(out, [[0, 100], [101, 4]])
    assert_array_equal(conservative_time_matrix_s(free, f, 7200.0, 7300.0), [[0, 200], [202, 7]])
    assert_array_equal(conservative_time_matrix_s(free, f, 0.0, 3601.0), [[0, 1000], [1010, 33]])
    # 24 h or more: global minimum, whatever the start
    assert conservative_time_matrix_s([10.0], f, 5000.0, 5000.0 + 86400.0)[0] == 100
    with pytest.raises(ValueError, match="t_to_s"):
        conservative_time_matrix_s(free, f, 10.0, 5.0)
    with pytest.raises(ValueError, match="finite"):
        conservative_time_matrix_s([np.inf], f, 0.0, 10.0)


def test_conservative_bound_holds_random():
    """For departures in [t_from, t_to] arriving by t_to, travel time <= conservative value."""
    rng = np.random.default_rng(2024)
    checked = 0
    for _ in range(30):
        factors = rng.uniform(0.2, 1.6, 24)
        t_from = float(rng.uniform(0, 2 * 86400))
        t_to = t_from + float(rng.uniform(0, 6 * 3600))
        free = rng.uniform(0, 3 * 3600, 60)
        bound = conservative_time_matrix_s(free, factors, t_from, t_to)
        for depart in rng.uniform(t_from, t_to, 15):
            travel = travel_seconds_array(free, depart, factors)
            inside = depart + travel <= t_to
            checked += int(inside.sum())
            assert np.all(travel[inside] <= bound[inside] + 1e-6)
    assert checked > 1000  # the property was actually exercised


# --------------------------------------------------------------------------- #
# CSV matrices
# --------------------------------------------------------------------------- #
def write(tmp_path, text, name="m.csv"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_read_matrix_good_with_minutes(tmp_path):
    """Ids in first-appearance order, omitted diagonal 0, both matrices filled."""
    path = write(
        tmp_path,
        "from,to,distance_km,minutes\n"
        "W1,P7,3.5,9\n"
        "P7,W1,3.7,10\n"
        "W1,P2,1.0,4.5\n"
        "P2,W1,1.1,5\n"
        "\n"
        "P7,P2,2.0,6\n"
        "P2,P7,2.5,7\n"
        "P2,P2,0,0\n",
    )
    ids, dist, minutes = read_matrix_csv(path)
    assert ids == ["W1", "P7", "P2"]
    assert_allclose(dist, [[0.0, 3.5, 1.0], [3.7, 0.0, 2.0], [1.1, 2.5, 0.0]])
    assert_allclose(minutes, [[0.0, 9.0, 4.5], [10.0, 0.0, 6.0], [5.0, 7.0, 0.0]])


def test_read_matrix_good_without_minutes(tmp_path):
    """Without a minutes column the third result is None; column order and case are free."""
    path = write(tmp_path, "To, FROM ,distance_km\nb,a,1\na,b,2\n")
    ids, dist, minutes = read_matrix_csv(str(path))
    assert ids == ["a", "b"]
    assert_allclose(dist, [[0.0, 1.0], [2.0, 0.0]])  # row "b,a,1" is a -> b under this header
    assert minutes is None


@pytest.mark.parametrize(
    "text, pattern",
    [
        ("from,to,minutes\na,b,1\n", r"row 1: missing column 'distance_km'"),
        ("from,distance_km\na,1\n", r"row 1: missing column 'to'"),
        ("from,to,distance_km\na,b,1\nb,a,x1\n", r"row 3: distance_km 'x1' is not a number"),
        ("from,to,distance_km\na,b,-1\nb,a,1\n", r"row 2: distance_km -1 is negative"),
        ("from,to,distance_km,minutes\na,b,1,\nb,a,1,2\n", r"row 2: minutes '' is not a number"),
        ("from,to,distance_km\na,b,1\nb,a,nan\n", r"row 3: distance_km 'nan' is not finite"),
        ("from,to,distance_km\na,b,1\nb,a,1\na,b,3\n", r"row 4: duplicate pair \(a -> b\), first given on row 2"),
        ("from,to,distance_km\na,b,1\nb,a,1\nb,c,1\nc,a,1\n", r"missing pair \(a -> c\); 2 ordered pairs missing"),
        ("", r"row 1: empty file"),
        ("from,to,distance_km\n", r"no data rows"),
        ("from,to,distance_km\na,,1\n", r"row 2: empty location id"),
    ],
)
def test_read_matrix_errors(tmp_path, text, pattern):
    """Each malformed file raises ValueError naming the file, the row and the problem."""
    path = write(tmp_path, text, name="bad_matrix.csv")
    with pytest.raises(ValueError, match=pattern) as info:
        read_matrix_csv(path)
    assert "bad_matrix.csv" in str(info.value)


@pytest.mark.parametrize(("cell", "column"), [("1e300", "distance_km"), ("5000.5", "distance_km"),
                                              ("20000", "minutes")])
def test_matrix_leg_beyond_a_weeks_drive_is_refused(tmp_path, cell, column):
    """A leg longer than any night's drive is a typing error (it overflowed the plan's bounded
    numbers and made `fulfil plan` exit 1): refused naming the row and column."""
    rows = ["from,to,distance_km,minutes", "A,B,5,10", "B,A,5,10"]
    a, b, km, mins = rows[1].split(",")
    rows[1] = ",".join([a, b, cell if column == "distance_km" else km, cell if column == "minutes" else mins])
    path = tmp_path / "m.csv"
    path.write_text("\n".join(rows) + "\n")
    with pytest.raises(ValueError, match=rf"row 2: {column} .* is over"):
        read_matrix_csv(path)
