"""Text tables and CSV trip sheets of a v2 plan (duties → trips → stops), from a hand-made plan."""

from __future__ import annotations

import csv
import io

import pytest

from fulfil.plan_model import parse_plan, trip_rows
from fulfil.report.tables import (
    SHEET_COLUMNS,
    loading_list_csv,
    read_trip_sheet,
    summary,
    trip_sheet_csv,
    trip_sheets,
    unserved_csv,
)
from fulfil.units import format_clock


def _load(**crates: int) -> dict:
    return {z: {"crates": c, "kg": 8.0 * c} for z, c in crates.items()}


def _stop(loc: str, arr: float, leg_km: float, delivered: dict, after: dict, since: float | None = None) -> dict:
    s = dict(location=loc, arrival=arr, start=arr, departure=arr + 6.0, leg_km=leg_km, delivered=_load(**delivered),
             load_after=_load(**after), minutes_out_of_zone={"chilled": 0.5})
    if since is not None:
        s.update(products={"P1": 2 * sum(delivered.values())}, minutes_since_cold_room=since)
    return s


def _trip(tid: str, dep: float, legs: list[tuple[str, float, dict]], back_km: float, since: bool) -> dict:
    """A trip leaving at ``dep`` over ``legs`` (location, km, crates delivered), 2 min per km, 6 min per stop."""
    onboard = {z: sum(d.get(z, 0) for _, _, d in legs) for z in ("chilled", "frozen")}
    t, stops = dep, []
    for loc, km, d in legs:
        t += 2.0 * km
        for z, c in d.items():
            onboard[z] -= c
        stops.append(_stop(loc, t, km, d, dict(onboard), round(t - dep, 2) if since else None))
        t += 6.0
    ret = t + 2.0 * back_km
    km = round(sum(k for _, k, _ in legs) + back_km, 3)
    dur = round((ret - dep) / 60.0, 4)
    return {"id": tid, "departure": dep, "return": ret, "distance_km": km, "return_leg_km": back_km,
            "duration_h": dur, "cost": {"distance": 2.0 * km, "time": 30.0 * dur, "total": 2.0 * km + 30.0 * dur},
            "load_at_departure": _load(**{z: sum(d.get(z, 0) for _, _, d in legs) for z in ("chilled", "frozen")}),
            "stops": stops}


def _duty(did: str, tier: str, vtype: str, vehicle: int, depot: str, trips: list[dict], fixed: float) -> dict:
    dist = sum(t["cost"]["distance"] for t in trips)
    tim = sum(t["cost"]["time"] for t in trips)
    return {"id": did, "tier": tier, "vehicle_type": vtype, "vehicle": vehicle, "depot": depot,
            "distance_km": round(sum(t["distance_km"] for t in trips), 3),
            "duration_h": round(sum(t["duration_h"] for t in trips), 4),
            "cost": {"fixed": fixed, "distance": dist, "time": tim, "total": fixed + dist + tim}, "trips": trips}


KPIS = dict(vehicles=2, trunk_vehicles=1, last_mile_vehicles=1, trips=3, trunk_trips=1, last_mile_trips=2,
            distance_km=91.7, duration_h=5.1, cost=612.0, orders_total=40, orders_served=38.75, orders_complete=37,
            orders_unserved=1.25, cost_per_order=15.79, units_total=200, units_served=196, units_unserved=4,
            fill_rate=0.98, stops=5, two_hour_compliance=1.0, cold_chain_compliance=1.0,
            delivery_cost_share_of_sales=0.05)


@pytest.fixture()
def plan():
    """A trunk truck CW1 → FW1 (one trip) and a van of FW1 driving two trips (2 stops, then 1)."""
    trunk = _duty("T-CW1-01", "trunk", "truck", 0, "CW1",
                  [_trip("T-CW1-01.1", 240.0, [("FW1", 30.0, {"chilled": 40, "frozen": 10})], 30.0, False)], 400.0)
    van = _duty("L-FW1-01", "last_mile", "reefer_van", 3, "FW1", [
        _trip("L-FW1-01.1", 360.0, [("PP01", 4.2, {"chilled": 3, "frozen": 1}), ("PP02", 2.35, {"chilled": 2})],
              5.15, True),
        _trip("L-FW1-01.2", 460.0, [("PP03", 6.0, {"chilled": 4, "frozen": 2})], 5.99, True),
    ], 100.0)
    doc = {"format": "fulfil-plan", "format_version": 2, "scenario": "unit", "seed": 7, "code": 0, "kpis": KPIS,
           "assignment": {"PP01": "FW1", "PP02": "FW1", "PP03": "FW1"},
           "duties": [trunk, van],
           "unserved": [{"pickup_point": "PP09", "product": "P1", "units": 4, "reason": "no_capacity",
                         "detail": "FW1 full"}]}
    return parse_plan(doc)


def test_two_trip_duty_gives_two_sheets_each_with_its_return_leg(plan):
    """One sheet per trip, named by trip id; each names its duty, vehicle and trip number, ends with the return leg
    to the depot (its km and the return time), and its `leg_km` adds up to the trip's `distance_km`."""
    sheets = trip_sheets(plan)
    assert list(sheets) == ["T-CW1-01.1.csv", "L-FW1-01.1.csv", "L-FW1-01.2.csv"]
    rows = {r["id"]: r for r in trip_rows(plan)}
    for number, tid in enumerate(("L-FW1-01.1", "L-FW1-01.2"), 1):
        meta, table = read_trip_sheet(sheets[f"{tid}.csv"])
        trip = rows[tid]
        assert meta["trip"] == tid and meta["duty"] == "L-FW1-01" and meta["vehicle"] == "reefer_van #3"
        assert meta["trip_number"] == f"{number} of 2"
        assert list(table[0]) == SHEET_COLUMNS
        assert [r["seq"] for r in table] == ["0", *map(str, range(1, len(trip["stops"]) + 1)), "return"]
        back = table[-1]
        assert back["location"] == "FW1" and float(back["leg_km"]) == trip["return_leg_km"]
        assert back["arrival"] == format_clock(trip["return"]) == {"L-FW1-01.1": "06:35", "L-FW1-01.2": "08:10"}[tid]
        assert sum(float(r["leg_km"]) for r in table) == pytest.approx(trip["distance_km"], abs=0.01)
    # the same from the plan's JSON dict, and for a single trip row
    assert trip_sheets(plan.to_doc()) == sheets
    assert trip_sheet_csv(rows["L-FW1-01.2"], 2, 2) == sheets["L-FW1-01.2.csv"]


def test_summary_shows_trips_fill_rate_and_a_row_per_depot(plan):
    """The KPI table has the trips (trunk + last mile), fill rate and orders served / complete; the depot table
    counts vehicles and trips separately (FW1: 1 vehicle, 2 trips, 3 stops)."""
    text = summary(plan)
    assert summary(plan.to_doc()) == text
    assert "trips (trunk + last mile)" in text and "3 (1 + 2)" in text
    assert "fill rate" in text and "98.00 %" in text
    assert "orders served complete" in text and "38.75" in text
    line = next(ln for ln in text.splitlines() if ln.startswith("last-mile"))
    assert line.split()[:6] == ["last-mile", "FW1", "1", "2", "3", "12"]
    assert "no_capacity" in text


def test_loading_list_and_unserved_csv(plan):
    """The loading list puts the last stop first; unserved.csv lists every unserved line."""
    trip = next(r for r in trip_rows(plan) if r["id"] == "L-FW1-01.1")
    rows = list(csv.reader(io.StringIO(loading_list_csv(trip))))
    assert [r[:3] for r in rows[1:3]] == [["1", "2", "PP02"], ["2", "1", "PP01"]]
    assert rows[-1][:5] == ["total", "", "FW1", "1", "5"]
    assert unserved_csv(plan).splitlines()[1] == "PP09,P1,4,no_capacity,FW1 full"
