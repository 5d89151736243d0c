"""Cold-chain charts and the plan map: per-trip temperature traces, in-spec share by forward warehouse, trips
coloured per vehicle duty.

Hand-built plans of format version 2 (duties → trips → stops), validated by fulfil.plan_model.
"""

from __future__ import annotations

import pytest

pytest.importorskip("matplotlib")

from fulfil.plan_model import parse_plan, trip_rows  # noqa: E402
from fulfil.report.charts import in_spec_by_warehouse, plot_trip_temperatures, write_thermal_charts  # noqa: E402

PNG = b"\x89PNG\r\n\x1a\n"


def _cc(handover: float, in_spec: bool) -> dict:
    return dict(handover_c=handover, minutes_out_of_range=0.0, quality=0.97, remaining_shelf_life_h=30.0,
                in_spec=in_spec, spoiled_crates=0.0 if in_spec else 2.0, spoilage_cost=0.0 if in_spec else 80.0)


def _stop(loc: str, arr: float, dep: float, delivered: dict, cold: dict | None) -> dict:
    s = dict(location=loc, arrival=arr, start=arr, departure=dep, arrival_hhmm="", leg_km=2.0,
             delivered={z: {"crates": c, "kg": 8.0 * c} for z, c in delivered.items()}, load_after={},
             minutes_out_of_zone={}, products={}, minutes_since_cold_room=0.0)
    if cold is not None:
        s["cold_chain"] = cold
    return s


def _trip(tid: str, dep: float, ret: float, stops: list[dict], load: dict, thermal: dict | None) -> dict:
    km = 2.0 * len(stops) + 4.0
    t = {"id": tid, "departure": dep, "return": ret, "distance_km": km, "return_leg_km": 4.0,
         "duration_h": round((ret - dep) / 60, 3), "cost": {"distance": km, "time": 10.0, "total": km + 10.0},
         "load_at_departure": {z: {"crates": c, "kg": 8.0 * c} for z, c in load.items()}, "stops": stops}
    if thermal is not None:
        t["thermal"] = thermal
    return t


def _duty(did: str, tier: str, vtype: str, vehicle: int, depot: str, trips: list[dict]) -> dict:
    dist = sum(t["cost"]["distance"] for t in trips)
    return {"id": did, "tier": tier, "vehicle_type": vtype, "vehicle": vehicle, "depot": depot,
            "distance_km": sum(t["distance_km"] for t in trips), "duration_h": sum(t["duration_h"] for t in trips),
            "cost": {"fixed": 50.0, "distance": dist, "time": 10.0 * len(trips),
                     "total": 50.0 + dist + 10.0 * len(trips)}, "trips": trips}


def _reefer_trip(tid: str, shift: float, bad_stop: bool) -> dict:
    t = [x + shift for x in (360.0, 365.0, 370.0, 378.0, 380.0, 385.0, 390.0, 398.0, 400.0, 405.0, 410.0, 415.0)]
    chilled_air = [2.0, 2.1, 2.2, 5.8, 3.0, 2.4, 2.3, 6.4, 3.1, 2.5, 2.4, 2.3]
    chilled_prod = [2.0, 2.05, 2.1, 2.3, 2.3, 2.35, 2.4, 7.9 if bad_stop else 2.6, None, None, None, None]
    frozen_air = [-20.0, -19.9, -19.8, -12.5, -17.0, -19.0, -19.5, -13.0, -17.5, -19.2, -19.6, -19.8]
    frozen_prod = [-20.0, -19.9, -19.9, -19.5, -19.4, -19.4, -19.3, -19.0, None, None, None, None]
    stops = [
        _stop("PP001", 376.0 + shift, 381.0 + shift, {"chilled": 3, "frozen": 1},
              {"chilled": _cc(2.3, True), "frozen": _cc(-19.5, True)}),
        _stop("PP002", 396.0 + shift, 402.0 + shift, {"chilled": 2, "frozen": 2},
              {"chilled": _cc(7.9 if bad_stop else 2.6, not bad_stop), "frozen": _cc(-19.0, True)}),
    ]
    return _trip(tid, 360.0 + shift, 415.0 + shift, stops, {"chilled": 5, "frozen": 3},
                 {"compartments": {
                     "chilled": dict(kind="reefer", crates=6, t=t, air_c=chilled_air, product_c=chilled_prod,
                                     limit_c=7.0),
                     "frozen": dict(kind="reefer", crates=4, t=t, air_c=frozen_air, product_c=frozen_prod,
                                    limit_c=-15.0)}})


def _box_trip() -> dict:
    t = [1430.0, 1440.0, 1450.0, 1460.0, 1465.0, 1475.0]  # across midnight: 23:50 → 24:35
    return _trip("L-FW02-01.1", 1430.0, 1475.0, [_stop("PP010", 1455.0, 1462.0, {"chilled": 4},
                                                       {"chilled": _cc(4.4, True)})], {"chilled": 4},
                 {"compartments": {"chilled": dict(kind="insulated_box", crates=4, t=t,
                                                   air_c=[-18.0, -2.0, 0.0, 0.0, 0.0, 0.0],
                                                   product_c=[2.0, 2.8, 3.5, 4.4, None, None], limit_c=7.0)}})


KPIS = dict(vehicles=3, trunk_vehicles=1, last_mile_vehicles=2, trips=4, trunk_trips=1, last_mile_trips=3,
            distance_km=30.0, duration_h=4.0, cost=300.0, orders_total=10, orders_served=10.0, orders_complete=10,
            orders_unserved=0.0, cost_per_order=30.0, units_total=50, units_served=50, units_unserved=0,
            fill_rate=1.0, stops=6, two_hour_compliance=1.0, cold_chain_compliance=1.0,
            delivery_cost_share_of_sales=0.05, in_spec_share=0.9)


@pytest.fixture()
def plan() -> dict:
    """A v2 plan: FW01's reefer van drives two trips (a clean one, then one with an out-of-spec chilled hand-over),
    FW02's e-trike one trip across midnight; plus a trunk trip without thermal.  Validated by the plan model."""
    trunk = _duty("T-CW1-01", "trunk", "truck", 0, "CW1",
                  [_trip("T-CW1-01.1", 200.0, 300.0, [_stop("FW01", 260.0, 280.0, {"chilled": 50}, None)],
                         {"chilled": 50}, None)])
    van = _duty("L-FW01-01", "last_mile", "reefer_van", 1, "FW01",
                [_reefer_trip("L-FW01-01.1", 0.0, False), _reefer_trip("L-FW01-01.2", 90.0, True)])
    trike = _duty("L-FW02-01", "last_mile", "etrike", 0, "FW02", [_box_trip()])
    doc = dict(format="fulfil-plan", format_version=2, scenario="unit", seed=0, code=0, kpis=KPIS, unserved=[],
               assignment={"PP001": "FW01", "PP002": "FW01", "PP010": "FW02"}, duties=[trunk, van, trike])
    return parse_plan(doc).to_doc()


def _trip_row(plan: dict, tid: str) -> dict:
    return next(r for r in trip_rows(plan) if r["id"] == tid)


def test_trip_chart_with_out_of_spec_handover_is_written(plan, tmp_path):
    """A trip whose chilled hand-over is out of spec (7.9 °C > 7 °C, product null once empty) is drawn without
    error to a non-trivial PNG."""
    path = tmp_path / "bad.png"
    plot_trip_temperatures(_trip_row(plan, "L-FW01-01.2"), path)
    data = path.read_bytes()
    assert data.startswith(PNG) and len(data) > 20_000


def test_trip_chart_draws_into_a_given_axes(plan, tmp_path):
    """With `ax` given the chart is drawn into it (title with trip id, duty and vehicle type, HH:MM ticks past
    24:00) and nothing is saved."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure()
    FigureCanvasAgg(fig)
    ax = fig.subplots()
    plot_trip_temperatures(_trip_row(plan, "L-FW02-01.1"), tmp_path / "never.png", ax=ax)
    fig.canvas.draw()
    title = ax.get_title()
    assert "L-FW02-01.1" in title and "duty L-FW02-01" in title and "etrike" in title
    labels = [t.get_text() for t in ax.get_xticklabels()]
    assert "24:00" in labels
    assert not (tmp_path / "never.png").exists()


def test_in_spec_counts_by_warehouse(plan):
    """Only last-mile chilled + frozen crates count (every trip of a duty), grouped by depot; a crate is in spec
    when its stop's zone is.  The Plan model gives the same as its dict."""
    assert in_spec_by_warehouse(plan) == {"FW01": (14.0, 16.0), "FW02": (4.0, 4.0)}
    assert in_spec_by_warehouse(parse_plan(plan)) == in_spec_by_warehouse(plan)


def test_write_thermal_charts_writes_every_trip_and_the_summary(plan, tmp_path):
    """One PNG per trip with `thermal` (named by trip id; both trips of the van) plus in_spec_by_warehouse.png, all
    non-trivial; `max_routes` caps the trip charts and stale PNGs of an earlier run are removed."""
    paths = write_thermal_charts(parse_plan(plan), tmp_path)
    names = sorted(p.name for p in paths)
    assert names == ["L-FW01-01.1.png", "L-FW01-01.2.png", "L-FW02-01.1.png", "in_spec_by_warehouse.png"]
    for p in paths:
        assert p.parent == tmp_path / "thermal" and p.read_bytes().startswith(PNG) and p.stat().st_size > 10_000
    paths = write_thermal_charts(plan, tmp_path, max_routes=1)
    assert sorted(p.name for p in (tmp_path / "thermal").iterdir()) == ["L-FW01-01.1.png",
                                                                        "in_spec_by_warehouse.png"]
    assert not list((tmp_path / "thermal").glob(".*.tmp"))


def test_plan_without_thermal_still_gets_a_summary_chart(plan, tmp_path):
    """A plan whose trips carry no `thermal` yields only the (empty) in-spec chart, no error."""
    for d in plan["duties"]:
        for t in d["trips"]:
            t.pop("thermal", None)
            for s in t["stops"]:
                s.pop("cold_chain", None)
    paths = write_thermal_charts(plan, tmp_path)
    assert [p.name for p in paths] == ["in_spec_by_warehouse.png"] and paths[0].stat().st_size > 5_000


def test_map_colours_trips_per_vehicle_duty(tmp_path):
    """On the map the two trips of one van share its colour, another van's trip has another, the trunk trip is
    grey dashed; the title counts vehicles and trips."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.colors import to_hex
    from matplotlib.figure import Figure

    from fulfil.report.maps import plot_plan_map

    fig = Figure()
    FigureCanvasAgg(fig)
    ax = fig.subplots()
    plot_plan_map(_mini_plan(), _mini_scenario(), tmp_path / "never.png", ax=ax)
    lines = ax.get_lines()
    assert len(lines) == 4  # trunk, van 1 trip 1, van 1 trip 2, van 2
    trunk, a1, a2, b = (to_hex(ln.get_color()) for ln in lines)
    assert a1 == a2 != b and lines[0].get_linestyle() == "--"
    assert "3 vehicles, 4 trips" in ax.get_title()
    assert not (tmp_path / "never.png").exists()


def test_charts_leave_the_callers_backend_and_pyplot_alone(plan, tmp_path):
    """Charting neither switches the caller's matplotlib backend nor opens pyplot figures."""
    import matplotlib
    import matplotlib.pyplot as plt

    before = matplotlib.get_backend()
    try:
        matplotlib.use("svg")
        figures = plt.get_fignums()
        written = write_thermal_charts(plan, tmp_path)
        written.append(_route_map(tmp_path / "map.png"))
        assert matplotlib.get_backend() == "svg"
        assert plt.get_fignums() == figures
        assert all(p.read_bytes().startswith(PNG) for p in written)
    finally:
        matplotlib.use(before)


def _mini_scenario():
    from pathlib import Path

    from fulfil.scenario import load_scenario

    return load_scenario(Path(__file__).resolve().parents[1] / "data" / "good" / "mini.toml")


def _mini_plan() -> dict:
    """A v2 plan on tests/data/good/mini.toml: a trunk trip CW1 → FW1, van 1 of FW1 driving two trips (PP1, then
    PP2), van 2 one trip (PP1); PP2 not fully served."""
    def stop(loc: str, t: float) -> dict:
        return _stop(loc, t, t + 5.0, {"chilled": 1}, None)

    trunk = _duty("T-CW1-01", "trunk", "trunk_reefer", 0, "CW1",
                  [_trip("T-CW1-01.1", 200.0, 320.0, [stop("FW1", 260.0)], {"chilled": 3}, None)])
    van1 = _duty("L-FW1-01", "last_mile", "van", 0, "FW1",
                 [_trip("L-FW1-01.1", 360.0, 400.0, [stop("PP1", 375.0)], {"chilled": 1}, None),
                  _trip("L-FW1-01.2", 420.0, 470.0, [stop("PP2", 440.0)], {"chilled": 1}, None)])
    van2 = _duty("L-FW1-02", "last_mile", "van", 1, "FW1",
                 [_trip("L-FW1-02.1", 360.0, 400.0, [stop("PP1", 380.0)], {"chilled": 1}, None)])
    doc = dict(format="fulfil-plan", format_version=2, scenario="mini", seed=0, code=0, kpis=KPIS,
               assignment={"PP1": "FW1", "PP2": "FW1"}, unserved=[dict(pickup_point="PP2", product="milk", units=1, reason="no_stock")],
               duties=[trunk, van1, van2])
    return parse_plan(doc).to_doc()


def _route_map(path):
    """The map of a small v2 plan (a van driving two trips) on tests/data/good/mini.toml, written to ``path``."""
    from fulfil.report.maps import plot_plan_map

    plot_plan_map(parse_plan(_mini_plan()), _mini_scenario(), path)
    return path
