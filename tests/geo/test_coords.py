"""Tests of geo.coords: validation, haversine, local projection."""

from __future__ import annotations

import math

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

from geo.coords import EARTH_RADIUS_M, check_lonlat, haversine_m, project_local_m

DEG_M = EARTH_RADIUS_M * math.pi / 180.0  # one degree of arc, ≈ 111 195 m


def test_one_degree_of_latitude():
    """One degree along a meridian is ≈ 111.2 km, anywhere on the sphere."""
    d = haversine_m([0.0, 116.4, -70.0], [0.0, 39.9, -45.0], [0.0, 116.4, -70.0], [1.0, 40.9, -44.0])
    assert_allclose(d, DEG_M, rtol=1e-12)
    assert abs(d[0] / 1000.0 - 111.2) < 0.05


def test_known_city_distance():
    """Beijing–Shanghai great-circle distance is about 1 067 km."""
    d = float(haversine_m(116.4074, 39.9042, 121.4737, 31.2304))
    assert 1060e3 < d < 1075e3


def test_quarter_equator_zero_and_symmetry():
    """90° along the equator is a quarter circumference; d(a,a)=0; d(a,b)=d(b,a)."""
    assert_allclose(haversine_m(0.0, 0.0, 90.0, 0.0), math.pi / 2 * EARTH_RADIUS_M, rtol=1e-12)
    assert haversine_m(121.5, 31.2, 121.5, 31.2) == 0.0
    rng = np.random.default_rng(3)
    lon1, lon2 = rng.uniform(-180, 180, (2, 50))
    lat1, lat2 = rng.uniform(-90, 90, (2, 50))
    assert_allclose(haversine_m(lon1, lat1, lon2, lat2), haversine_m(lon2, lat2, lon1, lat1), rtol=1e-12)


def test_antipodes_and_broadcasting():
    """Antipodal points are half a circumference apart; inputs broadcast like numpy."""
    assert_allclose(haversine_m(0.0, 0.0, 180.0, 0.0), math.pi * EARTH_RADIUS_M, rtol=1e-12)
    d = haversine_m(np.zeros((3, 1)), np.zeros((3, 1)), np.zeros((1, 4)), np.arange(4.0)[None, :])
    assert d.shape == (3, 4)
    assert_allclose(d[1], np.arange(4.0) * DEG_M, rtol=1e-12)


def test_check_lonlat_returns_contiguous_float64():
    """Integer lists and strided views come back as C-contiguous float64 of the same shape."""
    lon, lat = check_lonlat([1, 2, 3], [4, 5, 6])
    assert lon.dtype == np.float64 and lat.dtype == np.float64
    assert_array_equal(lon, [1.0, 2.0, 3.0])
    big = np.arange(24.0).reshape(4, 6)
    lon, lat = check_lonlat(big[:, ::2], big[:, 1::2])
    assert not big[:, ::2].flags.c_contiguous
    assert lon.flags.c_contiguous and lat.flags.c_contiguous and lon.shape == (4, 3)
    assert_array_equal(lat, big[:, 1::2])


@pytest.mark.parametrize(
    "lon, lat, pattern",
    [
        ([1.0, 2.0], [1.0], "same shape"),
        ([1.0, np.nan], [1.0, 2.0], r"lon\[1\] is not finite"),
        ([1.0, 2.0], [np.inf, 2.0], r"lat\[0\] is not finite"),
        ([0.0, 0.0, 181.0], [0.0, 0.0, 0.0], r"lon\[2\] = 181"),
        ([0.0, 0.0], [0.0, -90.5], r"lat\[1\] = -90.5"),
        (["a"], [0.0], "numeric"),
    ],
)
def test_check_lonlat_errors(lon, lat, pattern):
    """Mismatched shapes, non-finite and out-of-range values raise ValueError naming the index."""
    with pytest.raises(ValueError, match=pattern):
        check_lonlat(lon, lat)


def test_check_lonlat_accepts_bounds():
    """The closed ranges [-180, 180] and [-90, 90] are valid."""
    check_lonlat([-180.0, 180.0], [-90.0, 90.0])


def test_project_local_axes():
    """1° north maps to one degree of arc in y; 1° east at 60°N to half of that in x."""
    x, y = project_local_m([10.0, 10.0, 11.0], [60.0, 61.0, 60.0], 10.0, 60.0)
    assert_allclose(x, [0.0, 0.0, 0.5 * DEG_M], rtol=1e-12, atol=1e-9)
    assert_allclose(y, [0.0, DEG_M, 0.0], rtol=1e-12, atol=1e-9)


def test_project_local_matches_haversine_nearby_and_wraps():
    """Within a city the projection distance agrees with haversine to 0.1 %; the antimeridian wraps."""
    rng = np.random.default_rng(7)
    lon = 114.06 + rng.uniform(-0.2, 0.2, 100)
    lat = 22.54 + rng.uniform(-0.2, 0.2, 100)
    x, y = project_local_m(lon, lat, 114.06, 22.54)
    assert_allclose(np.hypot(x, y), haversine_m(114.06, 22.54, lon, lat), rtol=1e-3, atol=1.0)
    x, _ = project_local_m([-179.9], [0.0], 179.9, 0.0)
    assert_allclose(x, [0.2 * DEG_M], rtol=1e-9)
