"""WGS-84 ⇄ GCJ-02 ⇄ BD-09 against published reference conversions, and round trips.

Reference pairs (published values, quoted with the decimals their source gives):

* **Amap Web Service API**, coordinate conversion (lbs.amap.com/api/webservice/guide/api/convert,
  the response example of ``locations=116.481499,39.990475|116.481499,39.990375&coordsys=gps``):
  ``116.487585177952,39.991754014757;116.487585177952,39.991653917101``.  This is Amap's own
  server, not the open algorithm: it agrees with it to a few 1e-7°.
* **wandergis/coordtransform** (MIT), ``test/app.js`` / README results for (116.404, 39.915):
  wgs84togcj02 → [116.41024449916938, 39.91640428150164]; gcj02tobd09 →
  [116.41036949371029, 39.92133699351021]; bd09togcj02 → [116.39762729119315, 39.90865673957631]
  and gcj02towgs84 → [116.39775550083061, 39.91359571849836], both one-step approximations.
* **Alibaba Cloud address purification**, ``TransferCoord`` (help.aliyun.com, developer reference
  "coordinate-system-conversion"), response example for GCJ02 ``120.026268,30.279164``:
  WGS84 ``120.021519,30.281543``, BD09 ``120.032768,30.285238`` (6 decimals; its WGS84 value is
  the one-step approximation, see the test).
"""

from __future__ import annotations

import numpy as np
import pytest

from geo.china import (
    INVERSE_TOL_DEG,
    bd09_to_gcj02,
    bd09_to_wgs84,
    convert,
    from_wgs84,
    gcj02_to_bd09,
    gcj02_to_wgs84,
    in_china_box,
    to_wgs84,
    wgs84_to_bd09,
    wgs84_to_gcj02,
)


def _pt(pair) -> tuple[float, float]:
    return float(pair[0]), float(pair[1])


def test_wgs84_to_gcj02_matches_amaps_conversion_service():
    """Amap's documented response to within 1e-6° (0.1 m): the open algorithm is Amap's."""
    lon, lat = wgs84_to_gcj02([116.481499, 116.481499], [39.990475, 39.990375])
    assert lon == pytest.approx([116.487585177952, 116.487585177952], abs=1e-6)
    assert lat == pytest.approx([39.991754014757, 39.991653917101], abs=1e-6)
    # the shift itself is ~500 m east and ~140 m north: a test that could not pass unconverted
    assert lon[0] - 116.481499 > 0.006 and lat[0] - 39.990475 > 0.001


def test_forward_transforms_match_coordtransform_to_the_last_digits():
    assert _pt(wgs84_to_gcj02(116.404, 39.915)) == pytest.approx((116.41024449916938, 39.91640428150164), abs=1e-12)
    assert _pt(gcj02_to_bd09(116.404, 39.915)) == pytest.approx((116.41036949371029, 39.92133699351021), abs=1e-12)


def test_inverses_agree_with_the_published_one_step_values_and_improve_on_them():
    """The published inverses subtract the offset once; ours iterate.  Both land within ~1 m of each
    other, but only ours maps back onto the input exactly."""
    one_step_wgs = (116.39775550083061, 39.91359571849836)
    ours = _pt(gcj02_to_wgs84(116.404, 39.915))
    assert ours == pytest.approx(one_step_wgs, abs=1e-5)
    assert _pt(wgs84_to_gcj02(*ours)) == pytest.approx((116.404, 39.915), abs=INVERSE_TOL_DEG)
    miss = np.abs(np.subtract(_pt(wgs84_to_gcj02(*one_step_wgs)), (116.404, 39.915))).max()
    assert miss > 1e-7  # the one-step value does not map back onto the input

    one_step_gcj = (116.39762729119315, 39.90865673957631)
    ours = _pt(bd09_to_gcj02(116.404, 39.915))
    assert ours == pytest.approx(one_step_gcj, abs=1e-6)
    assert _pt(gcj02_to_bd09(*ours)) == pytest.approx((116.404, 39.915), abs=INVERSE_TOL_DEG)


def test_alibaba_cloud_example():
    gcj = (120.026268, 30.279164)
    assert _pt(gcj02_to_bd09(*gcj)) == pytest.approx((120.032768, 30.285238), abs=1e-6)
    wgs = _pt(gcj02_to_wgs84(*gcj))
    # Alibaba's WGS84 is the one-step value: ~1e-5° (about a metre) from the exact inverse ...
    assert wgs == pytest.approx((120.021519, 30.281543), abs=2e-5)
    # ... and the exact inverse is the one whose GCJ-02 image is the given point
    assert _pt(wgs84_to_gcj02(*wgs)) == pytest.approx(gcj, abs=1e-8)
    assert np.abs(np.subtract(_pt(wgs84_to_gcj02(120.021519, 30.281543)), gcj)).max() > 5e-6


def test_round_trips_over_mainland_china_are_below_1e_7_degrees():
    rng = np.random.default_rng(11)
    lon = rng.uniform(73.5, 134.5, 5000).reshape(50, 100)
    lat = rng.uniform(18.2, 53.5, 5000).reshape(50, 100)
    for there, back in ((wgs84_to_gcj02, gcj02_to_wgs84), (wgs84_to_bd09, bd09_to_wgs84),
                        (gcj02_to_bd09, bd09_to_gcj02)):
        x, y = there(lon, lat)
        assert x.shape == lon.shape  # arrays in, arrays out, shape kept
        assert np.abs(x - lon).max() > 1e-3  # it moved ...
        rx, ry = back(x, y)
        assert np.abs(rx - lon).max() < 1e-7 and np.abs(ry - lat).max() < 1e-7  # ... and came back
        fx, fy = there(*back(lon, lat))  # the other way round too
        assert np.abs(fx - lon).max() < 1e-7 and np.abs(fy - lat).max() < 1e-7


def test_shift_is_hundreds_of_metres_in_china():
    from geo.coords import haversine_m

    lon, lat = np.array([112.98, 121.47, 104.07, 87.6]), np.array([28.19, 31.23, 30.67, 43.8])
    d = haversine_m(lon, lat, *wgs84_to_gcj02(lon, lat))
    assert np.all((d > 100) & (d < 1000))
    d_bd = haversine_m(lon, lat, *wgs84_to_bd09(lon, lat))
    assert np.all(d_bd > d)


def test_points_outside_the_box_are_unchanged_by_gcj02():
    lon = np.array([-0.1276, 151.2093, 13.4, 140.0, 72.0])  # London, Sydney, Berlin, east of box, west edge
    lat = np.array([51.5072, -33.8688, 52.5, 35.0, 40.0])
    assert not in_china_box(lon, lat).any()
    for f in (wgs84_to_gcj02, gcj02_to_wgs84):
        x, y = f(lon, lat)
        np.testing.assert_array_equal(x, lon)
        np.testing.assert_array_equal(y, lat)
    # BD-09 shifts everywhere (Baidu applies it worldwide) and still round-trips
    x, y = gcj02_to_bd09(lon, lat)
    assert np.abs(x - lon).min() > 1e-3
    bx, by = bd09_to_gcj02(x, y)
    assert np.abs(bx - lon).max() < 1e-7 and np.abs(by - lat).max() < 1e-7


def test_system_dispatch_and_names():
    p = (112.98, 28.19)
    assert _pt(to_wgs84(*p, "wgs84")) == p
    assert _pt(from_wgs84(*to_wgs84(*p, "gcj02"), "GCJ-02")) == pytest.approx(p, abs=1e-8)
    assert _pt(convert(*p, "bd09", "gcj02")) == _pt(bd09_to_gcj02(*p))
    assert _pt(convert(*p, "gcj02", "bd09")) == _pt(gcj02_to_bd09(*p))
    assert _pt(convert(*p, "bd09", "wgs84")) == _pt(bd09_to_wgs84(*p))
    with pytest.raises(ValueError, match="unknown coordinate system 'utm'"):
        to_wgs84(*p, "utm")
    with pytest.raises(ValueError, match=r"lat\[0\]"):
        wgs84_to_gcj02([112.0], [95.0])
