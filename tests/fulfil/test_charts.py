"""Cold-chain charts: per-route temperature traces and in-spec share by forward warehouse.

Hand-built plan dicts following docs/plan_format.md ("Cold chain (thermal model)").
"""

from __future__ import annotations

import pytest

pytest.importorskip("matplotlib")

from fulfil.report.charts import in_spec_by_warehouse, plot_route_temperatures, write_thermal_charts  # noqa: E402

PNG = b"\x89PNG\r\n\x1a\n"


def _cc(handover: float, in_spec: bool) -> dict:
    return dict(handover_c=handover, minutes_out_of_range=0.0, quality=0.97, remaining_shelf_life_h=30.0,
                in_spec=in_spec, spoiled_crates=0.0 if in_spec else 2.0, spoilage_cost=0.0 if in_spec else 80.0)


def _stop(loc: str, arr: float, dep: float, delivered: dict, cold: dict) -> dict:
    return dict(location=loc, arrival=arr, start=arr, departure=dep, arrival_hhmm="", leg_km=2.0,
                delivered={z: {"crates": c, "kg": 8.0 * c} for z, c in delivered.items()}, load_after={},
                minutes_out_of_zone={}, products={}, minutes_since_cold_room=0.0, cold_chain=cold)


def _reefer_route(rid: str, depot: str, bad_stop: bool) -> dict:
    t = [360.0, 365.0, 370.0, 378.0, 380.0, 385.0, 390.0, 398.0, 400.0, 405.0, 410.0, 415.0]
    chilled_air = [2.0, 2.1, 2.2, 5.8, 3.0, 2.4, 2.3, 6.4, 3.1, 2.5, 2.4, 2.3]
    chilled_prod = [2.0, 2.05, 2.1, 2.3, 2.3, 2.35, 2.4, 7.9 if bad_stop else 2.6, None, None, None, None]
    frozen_air = [-20.0, -19.9, -19.8, -12.5, -17.0, -19.0, -19.5, -13.0, -17.5, -19.2, -19.6, -19.8]
    frozen_prod = [-20.0, -19.9, -19.9, -19.5, -19.4, -19.4, -19.3, -19.0, None, None, None, None]
    stops = [
        _stop("PP001", 376.0, 381.0, {"chilled": 3, "frozen": 1},
              {"chilled": _cc(2.3, True), "frozen": _cc(-19.5, True)}),
        _stop("PP002", 396.0, 402.0, {"chilled": 2, "frozen": 2},
              {"chilled": _cc(7.9 if bad_stop else 2.6, not bad_stop), "frozen": _cc(-19.0, True)}),
    ]
    return dict(id=rid, tier="last_mile", vehicle_type="reefer_van", vehicle=1, depot=depot, departure=360.0,
                **{"return": 415.0}, distance_km=12.0, duration_h=0.92, stops=stops,
                load_at_departure={"chilled": {"crates": 5, "kg": 40.0}, "frozen": {"crates": 3, "kg": 24.0}},
                thermal={"compartments": {
                    "chilled": dict(kind="reefer", crates=6, t=t, air_c=chilled_air, product_c=chilled_prod,
                                    limit_c=7.0),
                    "frozen": dict(kind="reefer", crates=4, t=t, air_c=frozen_air, product_c=frozen_prod,
                                   limit_c=-15.0)}})


def _box_route() -> dict:
    t = [1430.0, 1440.0, 1450.0, 1460.0, 1465.0, 1475.0]  # across midnight: 23:50 → 24:35
    return dict(id="L-FW02-01", tier="last_mile", vehicle_type="etrike", vehicle=0, depot="FW02", departure=1430.0,
                **{"return": 1475.0}, stops=[_stop("PP010", 1455.0, 1462.0, {"chilled": 4}, {"chilled": _cc(4.4, True)})],
                load_at_departure={"chilled": {"crates": 4, "kg": 32.0}},
                thermal={"compartments": {"chilled": dict(kind="insulated_box", crates=4, t=t,
                                                          air_c=[-18.0, -2.0, 0.0, 0.0, 0.0, 0.0],
                                                          product_c=[2.0, 2.8, 3.5, 4.4, None, None], limit_c=7.0)}})


@pytest.fixture()
def plan() -> dict:
    """Two forward warehouses: FW01 with a clean route and one with an out-of-spec chilled hand-over, FW02 with
    an e-trike route; plus a trunk route without thermal."""
    trunk = dict(id="T-CW1-01", tier="trunk", vehicle_type="truck", vehicle=0, depot="CW1", departure=200.0,
                 stops=[_stop("FW01", 260.0, 280.0, {"chilled": 50}, {})])
    return dict(format="fulfil-plan", format_version=1, scenario="unit", seed=0, kpis={}, unserved=[],
                routes=[trunk, _reefer_route("L-FW01-01", "FW01", False), _reefer_route("L-FW01-02", "FW01", True),
                        _box_route()])


def test_route_chart_with_out_of_spec_handover_is_written(plan, tmp_path):
    """A route whose chilled hand-over is out of spec (7.9 °C > 7 °C, product null once empty) is drawn without
    error to a non-trivial PNG."""
    path = tmp_path / "bad.png"
    plot_route_temperatures(plan["routes"][2], path)
    data = path.read_bytes()
    assert data.startswith(PNG) and len(data) > 20_000


def test_route_chart_draws_into_a_given_axes(plan, tmp_path):
    """With `ax` given the chart is drawn into it (title with route id and vehicle type, HH:MM ticks past 24:00)
    and nothing is saved."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots()
    try:
        plot_route_temperatures(plan["routes"][3], tmp_path / "never.png", ax=ax)
        fig.canvas.draw()
        assert "L-FW02-01" in ax.get_title() and "etrike" in ax.get_title()
        labels = [t.get_text() for t in ax.get_xticklabels()]
        assert "24:00" in labels
    finally:
        plt.close(fig)
    assert not (tmp_path / "never.png").exists()


def test_in_spec_counts_by_warehouse(plan):
    """Only last-mile chilled + frozen crates count, grouped by depot; a crate is in spec when its stop's zone is."""
    assert in_spec_by_warehouse(plan) == {"FW01": (14.0, 16.0), "FW02": (4.0, 4.0)}


def test_write_thermal_charts_writes_every_route_and_the_summary(plan, tmp_path):
    """One PNG per route with `thermal` plus in_spec_by_warehouse.png, all non-trivial; `max_routes` caps the route
    charts and stale PNGs of an earlier run are removed."""
    paths = write_thermal_charts(plan, tmp_path)
    names = sorted(p.name for p in paths)
    assert names == ["L-FW01-01.png", "L-FW01-02.png", "L-FW02-01.png", "in_spec_by_warehouse.png"]
    for p in paths:
        assert p.parent == tmp_path / "thermal" and p.read_bytes().startswith(PNG) and p.stat().st_size > 10_000
    paths = write_thermal_charts(plan, tmp_path, max_routes=1)
    assert sorted(p.name for p in (tmp_path / "thermal").iterdir()) == ["L-FW01-01.png", "in_spec_by_warehouse.png"]
    assert not list((tmp_path / "thermal").glob(".*.tmp"))


def test_plan_without_thermal_still_gets_a_summary_chart(plan, tmp_path):
    """A plan whose routes carry no `thermal` (today's plans) yields only the (empty) in-spec chart, no error."""
    for r in plan["routes"]:
        r.pop("thermal", None)
        for s in r["stops"]:
            s.pop("cold_chain", None)
    paths = write_thermal_charts(plan, tmp_path)
    assert [p.name for p in paths] == ["in_spec_by_warehouse.png"] and paths[0].stat().st_size > 5_000
