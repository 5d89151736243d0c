"""Reach and the feasibility pre-check: which forward warehouse reaches which pickup point in time."""

from __future__ import annotations

import tomllib
from pathlib import Path

import numpy as np
import pytest

from fulfil.errors import ScenarioError
from fulfil.feasibility import precheck, reach
from fulfil.night import compile_night
from fulfil.scenario import load_scenario

GOOD = Path(__file__).resolve().parent.parent / "data" / "good"


def _doc(**pp1: object) -> dict:
    """mini.toml without its region box (so sites may move far), PP1's fields updated with ``pp1``."""
    doc = tomllib.loads((GOOD / "mini.toml").read_text())
    del doc["region"]
    doc["pickup_points"][0].update(pp1)
    return doc


def _night(doc: dict):  # noqa: ANN202
    return compile_night(load_scenario(doc))


def test_reach_of_the_mini_city():
    """Both pickup points of mini.toml (a few km from FW1) are reachable; both ordered cold goods; distances
    are the travel model's road distances and minutes cover at least the free-flow time."""
    night = _night(_doc())
    r = precheck(night, "mini.toml")
    assert r.reachable.shape == (2, 1) and r.reachable.all()
    assert r.cold.tolist() == [True, True]
    t = night.travel
    d = t.distance_m(np.array([t.forward_index(0)]), np.array([t.pickup_index(0), t.pickup_index(1)]))[0] / 1000
    assert np.allclose(r.dist_km[:, 0], d)
    assert np.all(r.minutes[:, 0] >= d / 40.0 * 60.0 / 1.15 - 1e-9)
    assert np.all(r.minutes <= night.policy.promise_minutes)


def test_unreachable_pickup_point_with_cold_goods_is_named():
    """A pickup point with chilled and frozen goods ~80 road-km from the only forward warehouse breaks the
    2-hour promise: a ScenarioError (exit 2) naming the source, the pickup point and the nearest warehouse."""
    night = _night(_doc(lat=28.76))
    with pytest.raises(ScenarioError) as info:
        precheck(night, "far.toml")
    assert info.value.exit_code == 2
    (line,) = info.value.problems
    assert line.startswith(
        "far.toml: pickup_points[0] ('PP1'): no forward warehouse can reach it within the 120-minute promise;"
        " the nearest, 'FW1', needs"
    ), line
    assert not reach(night).reachable[0].any() and reach(night).reachable[1].all()


def test_ambient_only_pickup_point_is_held_to_its_window_not_the_promise():
    """Ambient goods are not bound by the promise: a pickup point ordering only rice is fine as long as the
    van arrives before its window closes, and named ("its window") when it cannot."""
    ambient_only = {"pickup_point": "PP1", "orders": 3, "items": {"rice": 3}}
    doc = _doc(lat=28.76)  # beyond the promise, inside the window (07:00 dispatch, closes 11:30)
    doc["demand"][0] = ambient_only
    r = precheck(_night(doc), "x.toml")
    assert not r.cold[0] and r.reachable[0, 0]
    assert r.minutes[0, 0] > 120

    doc = _doc(lat=29.26, window=["07:00", "09:00"])  # beyond the window as well
    doc["demand"][0] = ambient_only
    with pytest.raises(ScenarioError) as info:
        precheck(_night(doc), "x.toml")
    (line,) = info.value.problems
    assert "('PP1'): no forward warehouse can reach it within its window" in line


def test_unreachable_pickup_point_without_demand_is_not_an_error():
    """Nothing ordered, nothing to deliver: an unreachable pickup point without demand passes the pre-check."""
    doc = _doc(lat=29.26, window=["07:00", "09:00"])  # beyond its window
    doc["demand"][0] = {"pickup_point": "PP1", "orders": 0, "items": {}}
    r = precheck(_night(doc), "x.toml")
    assert not r.reachable[0].any()


def test_forward_warehouse_without_last_mile_fleet_reaches_nothing():
    """A forward warehouse with no last-mile vehicle based there cannot serve any pickup point, however near."""
    doc = _doc()
    doc["forward_warehouses"].append({"id": "FW2", "lon": 112.98, "lat": 28.161, "central": "CW1"})
    r = precheck(_night(doc), "x.toml")
    assert r.reachable[:, 0].all() and not r.reachable[:, 1].any()
    assert r.minutes[0, 1] < r.minutes[0, 0]  # FW2 is next door to PP1, yet not a way to serve it
