"""End to end: scenario → plan → independent checker."""

from __future__ import annotations

import json

import numpy as np
import pytest

from fulfil.checker import check_plan
from fulfil.pipeline import PlanParams, plan_night
from fulfil.scenario import load_scenario


def test_demo_city_is_fully_served_and_passes_the_checker(demo_plan):
    """The bundled demo city: nothing unserved, 100 % two-hour and cold-chain compliance, zero violations."""
    s, plan = demo_plan
    assert check_plan(s, plan) == []
    k = plan["kpis"]
    assert plan["unserved"] == []
    assert k["orders_unserved"] == 0
    assert k["orders_served"] == sum(d.orders for d in s.demand)
    assert k["two_hour_compliance"] == 1.0
    assert k["cold_chain_compliance"] == 1.0
    assert k["trunk_vehicles"] >= 1 and k["last_mile_vehicles"] >= len(s.forward_warehouses)


def test_demo_city_routes_respect_the_promise_as_reported(demo_plan):
    """Every last-mile stop with chilled or frozen goods is reached within the promise of leaving the cold room."""
    s, plan = demo_plan
    promise = s.policies.promise_minutes
    cold_stops = [st for r in plan["routes"] if r["tier"] == "last_mile" for st in r["stops"]
                  if {"frozen", "chilled"} & set(st["delivered"])]
    assert cold_stops
    assert max(st["minutes_since_cold_room"] for st in cold_stops) <= promise


def test_optimiser_beats_nearest_neighbour_baseline(small_city):
    """Same assignment, same constraints: the optimised plan costs less than naive nearest-neighbour dispatch,
    and both pass the checker."""
    s = load_scenario(small_city)
    opt = plan_night(s, PlanParams(time_limit_s=None, solution_limit=300, seed=0, workers=1))
    base = plan_night(s, PlanParams(time_limit_s=None, solution_limit=1, seed=0, workers=1, engine="nearest"))
    assert check_plan(s, opt) == []
    assert check_plan(s, base) == []
    assert opt["kpis"]["orders_unserved"] == base["kpis"]["orders_unserved"] == 0
    assert opt["kpis"]["cost"] < base["kpis"]["cost"]


def _strip_stats(plan: dict) -> dict:
    plan = json.loads(json.dumps(plan))
    plan.pop("stats", None)
    plan["params"].pop("workers", None)
    return plan


def test_same_seed_and_solution_budget_give_the_same_plan(small_city):
    """Determinism: same scenario + seed + solution limit → identical plan, with 1 worker or 2."""
    s = load_scenario(small_city)
    a = plan_night(s, PlanParams(time_limit_s=None, solution_limit=60, seed=5, workers=1))
    b = plan_night(s, PlanParams(time_limit_s=None, solution_limit=60, seed=5, workers=2))
    assert _strip_stats(a) == _strip_stats(b)
    assert check_plan(s, a) == []


def test_short_stock_is_shared_never_oversold(small_city, tmp_path):
    """With stock below demand the plan delivers at most the stock, lists each shortfall as stock_shortage,
    and the checker (which verifies overselling) stays clean."""
    s = load_scenario(small_city)
    from fulfil.scenario.schema import Stock

    total = {}
    for d in s.demand:
        for k, q in d.items.items():
            total[k] = total.get(k, 0) + q
    stock = [Stock(warehouse="CW1", product=k, quantity=(q // 2 if k == "ice_cream" else q)) for k, q in total.items()]
    s2 = s.model_copy(update={"stock": stock})
    plan = plan_night(s2, PlanParams(time_limit_s=None, solution_limit=30, seed=0, workers=1))
    assert check_plan(s2, plan) == []
    delivered = sum(st["products"].get("ice_cream", 0) for r in plan["routes"] if r["tier"] == "last_mile"
                    for st in r["stops"])
    assert delivered <= total["ice_cream"] // 2
    short = [u for u in plan["unserved"] if u["reason"] == "stock_shortage"]
    assert short and all(u["product"] == "ice_cream" for u in short)
    assert delivered + sum(u["units"] for u in short) == total["ice_cream"]


def test_too_small_fleet_reports_unserved_with_reason(small_city):
    """When the fleet cannot carry everything, the rest comes back unserved with a reason, and what is planned
    still passes the checker."""
    s = load_scenario(small_city)
    vts = [v.model_copy(update={"count": 1}) if v.tier == "last_mile" else v for v in s.vehicle_types]
    s2 = s.model_copy(update={"vehicle_types": vts})
    plan = plan_night(s2, PlanParams(time_limit_s=None, solution_limit=30, seed=0, workers=1))
    assert check_plan(s2, plan) == []
    assert plan["kpis"]["orders_unserved"] > 0
    reasons = {u["reason"] for u in plan["unserved"]}
    assert reasons <= {"routing_dropped", "trunk_dropped"} and reasons
    served = {st["location"] for r in plan["routes"] if r["tier"] == "last_mile" for st in r["stops"]}
    assert served, "the one vehicle per warehouse still serves someone"


@pytest.mark.parametrize("field", ["arrival", "departure"])
def test_plan_times_are_consistent_along_routes(demo_plan, field):
    """Stops are in time order along each route and every route returns after its last stop."""
    _, plan = demo_plan
    for r in plan["routes"]:
        t = [st[field] for st in r["stops"]]
        assert np.all(np.diff(t) >= 0)
        assert r["return"] >= r["stops"][-1]["departure"]


def test_interrupted_solve_keeps_its_best_plan(small_city, monkeypatch):
    """Ctrl-C during the last mile: the warehouses solved so far keep their routes, the rest is unserved with
    reason 'interrupted', the trunk still supplies what is routed, the plan says code 130 and passes the checker."""
    import fulfil.pipeline as pipeline

    real = pipeline._solve_one
    calls = {"n": 0}

    def flaky(sub, params, engine="ortools"):
        calls["n"] += 1
        if calls["n"] == 2:
            raise KeyboardInterrupt
        return real(sub, params, engine)

    monkeypatch.setattr(pipeline, "_solve_one", flaky)
    s = load_scenario(small_city)
    plan = plan_night(s, PlanParams(time_limit_s=None, solution_limit=20, seed=0, workers=1))
    assert plan["code"] == 130 and "interrupted" in plan["error"]
    assert any(u["reason"] == "interrupted" for u in plan["unserved"])
    assert any(r["tier"] == "last_mile" for r in plan["routes"])
    assert any(r["tier"] == "trunk" for r in plan["routes"])
    assert check_plan(s, plan) == []


def test_user_supplied_matrix_replaces_great_circle_distances(small_city, tmp_path):
    """With a `matrix` file the plan's legs are the file's distances (here: 2 × straight line), not the
    circuity estimate, and the plan still passes the checker."""
    import shutil

    from geo.coords import haversine_m

    folder = tmp_path / "m"
    shutil.copytree(small_city.parent, folder)
    s = load_scenario(folder / small_city.name)
    sites = [*s.central_warehouses, *s.forward_warehouses, *s.pickup_points]
    lon = np.array([x.lon for x in sites])
    lat = np.array([x.lat for x in sites])
    d = haversine_m(lon[:, None], lat[:, None], lon[None, :], lat[None, :]) * 2.0 / 1000.0
    rows = ["from,to,distance_km"] + [f"{a.id},{b.id},{d[i, j]:.6f}" for i, a in enumerate(sites)
                                        for j, b in enumerate(sites) if i != j]
    (folder / "matrix.csv").write_text("\n".join(rows) + "\n")
    toml = folder / small_city.name
    toml.write_text(toml.read_text().replace("[region]", '[matrix]\npath = "matrix.csv"\nfree_flow_kmh = 40.0\n\n[region]'))
    s2 = load_scenario(toml)
    plan = plan_night(s2, PlanParams(time_limit_s=None, solution_limit=20, seed=0, workers=1))
    assert check_plan(s2, plan) == []
    idx = {x.id: i for i, x in enumerate(sites)}
    r = next(r for r in plan["routes"] if r["tier"] == "last_mile")
    first = r["stops"][0]
    assert abs(first["leg_km"] - d[idx[r["depot"]], idx[first["location"]]]) < 1e-3
