"""End to end: scenario → plan → independent checker."""

from __future__ import annotations

import json

import numpy as np
import pytest

from fulfil.checker import check_plan
from fulfil.pipeline import PlanParams, plan_night
from fulfil.plan_model import Plan
from fulfil.scenario import load_scenario


def test_demo_city_is_fully_served_and_passes_the_checker(demo_plan):
    """The bundled demo city: nothing unserved, 100 % two-hour and cold-chain compliance, zero violations."""
    s, plan = demo_plan
    assert isinstance(plan, Plan)
    assert check_plan(s, plan) == []
    k = plan.kpis
    assert plan.unserved == []
    assert k.orders_unserved == 0
    assert k.orders_served == k.orders_total == sum(d.orders for d in s.demand)
    assert k.orders_complete == k.orders_total and k.fill_rate == 1.0
    assert k.two_hour_compliance == 1.0
    assert k.cold_chain_compliance == 1.0
    assert k.trunk_vehicles >= 1 and k.last_mile_vehicles >= len(s.forward_warehouses)


def test_demo_city_routes_respect_the_promise_as_reported(demo_plan):
    """Every last-mile stop with chilled or frozen goods is reached within the promise of leaving the cold room."""
    s, plan = demo_plan
    promise = s.policies.promise_minutes
    cold_stops = [(t, st) for d, t in plan.trips() if d.tier == "last_mile" for st in t.stops
                  if {"frozen", "chilled"} & set(st.delivered)]
    assert cold_stops
    assert max(st.minutes_since_cold_room for _, st in cold_stops) <= promise
    for t, st in cold_stops:  # the promise clock starts when the trip leaves the cold room
        assert st.minutes_since_cold_room == pytest.approx(st.arrival - t.departure, abs=0.011)


def test_optimiser_beats_nearest_neighbour_baseline(small_city):
    """Same assignment, same constraints: the optimised plan costs less than naive nearest-neighbour dispatch,
    and both pass the checker."""
    s = load_scenario(small_city)
    opt = plan_night(s, PlanParams(time_limit_s=None, solution_limit=300, seed=0, workers=1))
    base = plan_night(s, PlanParams(time_limit_s=None, solution_limit=1, seed=0, workers=1, engine="nearest"))
    assert check_plan(s, opt) == []
    assert check_plan(s, base) == []
    assert opt.kpis.orders_unserved == base.kpis.orders_unserved == 0
    assert opt.kpis.cost < base.kpis.cost


def _strip_stats(plan: Plan) -> dict:
    plan = json.loads(json.dumps(plan.to_doc()))
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
    delivered = sum(st.products.get("ice_cream", 0) for d, t in plan.trips() if d.tier == "last_mile"
                    for st in t.stops)
    assert delivered <= total["ice_cream"] // 2
    short = [u for u in plan.unserved if u.reason == "stock_shortage"]
    assert short and all(u.product == "ice_cream" for u in short)
    assert delivered + sum(u.units for u in short) == total["ice_cream"]
    # a shortfall of one product moves orders_served a little, it does not zero whole pickup points
    k = plan.kpis
    assert k.orders_complete < k.orders_served < k.orders_total


def test_too_small_fleet_reports_unserved_with_reason(small_city):
    """When the fleet cannot carry everything, the rest comes back unserved with a reason, and what is planned
    still passes the checker."""
    s = load_scenario(small_city)
    vts = [v.model_copy(update={"count": 1}) if v.tier == "last_mile" else v for v in s.vehicle_types]
    s2 = s.model_copy(update={"vehicle_types": vts})
    plan = plan_night(s2, PlanParams(time_limit_s=None, solution_limit=30, seed=0, workers=1))
    assert check_plan(s2, plan) == []
    assert plan.kpis.orders_unserved > 0
    reasons = {u.reason for u in plan.unserved}
    assert reasons <= {"routing_dropped", "trunk_dropped"} and reasons
    served = {st.location for d, t in plan.trips() if d.tier == "last_mile" for st in t.stops}
    assert served, "the one vehicle per warehouse still serves someone"


@pytest.mark.parametrize("field", ["arrival", "departure"])
def test_plan_times_are_consistent_along_routes(demo_plan, field):
    """Stops are in time order along each trip, every trip returns after its last stop, and the trips of
    one duty are in time order."""
    _, plan = demo_plan
    for d in plan.duties:
        for trip in d.trips:
            t = [getattr(st, field) for st in trip.stops]
            assert np.all(np.diff(t) >= 0)
            assert trip.departure <= trip.stops[0].arrival
            assert trip.return_ >= trip.stops[-1].departure
        assert [tr.departure for tr in d.trips] == sorted(tr.departure for tr in d.trips)


def test_interrupted_solve_keeps_its_best_plan(small_city, monkeypatch):
    """Ctrl-C during the last mile: the warehouses solved so far keep their routes, the rest is unserved with
    reason 'interrupted', the trunk still supplies what is routed, the plan says code 130 and passes the checker."""
    import fulfil.routing_tasks as routing_tasks

    real = routing_tasks.run_engine
    first: list[int] = []

    def flaky(problem, params):
        """Ctrl-C as the engine starts on the second warehouse's problem (the first one's runs all finish)."""
        if first and id(problem) != first[0]:
            raise KeyboardInterrupt
        first.append(id(problem))
        return real(problem, params)

    monkeypatch.setattr(routing_tasks, "run_engine", flaky)
    s = load_scenario(small_city)
    plan = plan_night(s, PlanParams(time_limit_s=None, solution_limit=20, seed=0, workers=1))
    assert plan.code == 130 and "interrupted" in plan.error
    assert any(u.reason == "interrupted" for u in plan.unserved)
    assert any(d.tier == "last_mile" for d in plan.duties)
    assert any(d.tier == "trunk" for d in plan.duties)
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
    duty, trip = next((du, t) for du, t in plan.trips() if du.tier == "last_mile")
    first = trip.stops[0]
    assert abs(first.leg_km - d[idx[duty.depot], idx[first.location]]) < 1e-3
    last = trip.stops[-1]
    assert abs(trip.return_leg_km - d[idx[last.location], idx[duty.depot]]) < 1e-3
