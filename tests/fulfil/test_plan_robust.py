"""Whatever validates is planned (issue 13, item 3): every scenario below passes validation, and
the plan comes back, with what it cannot deliver unserved with a reason, and the independent
checker finds nothing wrong with it.  Each case but the one-minute shift after dispatch (its
companion) crashed the planner, or made it write a plan its own checker refused, before the fix
its docstring names."""

from __future__ import annotations

import tomllib
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from fulfil.checker import check_plan
from fulfil.feasibility import precheck
from fulfil.night import compile_night
from fulfil.pipeline import PlanParams, plan_night
from fulfil.scenario import load_scenario

MINI = Path(__file__).resolve().parents[1] / "data" / "good" / "mini.toml"
#: A deterministic budget, one worker: the same plan on every run and machine.
PARAMS = PlanParams(time_limit_s=None, solution_limit=20, seed=0, workers=1)


def _mini(edit: Callable[[dict[str, Any]], Any]) -> dict[str, Any]:
    """tests/data/good/mini.toml without its stock list (every product in stock), edited."""
    doc = tomllib.loads(MINI.read_text())
    del doc["stock"]
    edit(doc)
    return doc


def _vehicle(doc: dict[str, Any], tier: str) -> dict[str, Any]:
    return next(v for v in doc["vehicle_types"] if v["tier"] == tier)


def _plan(doc: dict[str, Any]):
    """Validate like ``fulfil validate`` (schema, cross-record rules, reachability), plan, check."""
    s = load_scenario(doc)
    precheck(compile_night(s), "mini.toml")
    plan = plan_night(s, PARAMS)
    assert check_plan(s, plan) == []
    ordered = sum(q for d in s.demand for q in d.items.values())
    delivered = sum(q for d, t in plan.trips() if d.tier == "last_mile" for st in t.stops
                    for q in st.products.values())
    assert delivered + sum(u.units for u in plan.unserved) == ordered
    return s, plan


def _reasons(plan) -> Counter:
    return Counter(u.reason for u in plan.unserved)


def test_pinned_pickup_point_at_a_warehouse_of_capacity_zero():
    """The issue's case: FW1 sorts nothing tonight (capacity 0 in every zone) and PP2 is pinned to it.  The
    pin was honoured over capacity and the checker found 'warehouse_capacity' (1 chilled crate over); now a
    pin never overrides capacity, and nothing can be delivered."""
    s, plan = _plan(_mini(lambda d: d["forward_warehouses"][0].update(capacity={"frozen": 0, "chilled": 0,
                                                                                 "ambient": 0})))
    assert plan.duties == []
    assert set(_reasons(plan)) == {"warehouse_capacity"}
    assert any("pinned" in u.detail for u in plan.unserved if u.pickup_point == "PP2")


def test_last_mile_shift_closing_before_dispatch():
    """A last-mile shift of one minute, 06:00-06:01, over before the 07:00 dispatch: the routing problem
    got vehicles returning before they left (exit 1).  A shift that is over is no fleet."""
    s, plan = _plan(_mini(lambda d: _vehicle(d, "last_mile").update(shift=["06:00", "06:01"])))
    assert plan.duties == []
    assert set(_reasons(plan)) == {"no_reachable_warehouse"}
    assert all("on shift" in u.detail for u in plan.unserved)


def test_last_mile_shift_of_one_minute_after_dispatch():
    """07:00-07:01: on shift, but no stop fits in a minute; everything is dropped by the routing."""
    _, plan = _plan(_mini(lambda d: _vehicle(d, "last_mile").update(shift=["07:00", "07:01"])))
    assert plan.duties == [] and set(_reasons(plan)) == {"routing_dropped"}


def test_trunk_shift_closing_before_departure():
    """The trunk's shift ends at 01:00, before the 01:30 departure (exit 1 before): no trunk brings the goods."""
    _, plan = _plan(_mini(lambda d: _vehicle(d, "trunk").update(shift=["00:00", "01:00"])))
    assert [d for d in plan.duties if d.tier == "trunk"] == []
    assert set(_reasons(plan)) == {"trunk_dropped"}


@pytest.mark.parametrize("policy", [{"trunk_unload_fixed_min": 1000.0}, {"trunk_unload_per_crate_min": 2880.0}])
def test_unloading_longer_than_the_night(policy):
    """Unloading that cannot end before the last-mile dispatch made the trunk job's window close before it
    opened, or at a negative time (exit 1); such a job is now allowed no vehicle."""
    _, plan = _plan(_mini(lambda d: d.setdefault("policies", {}).update(policy)))
    assert set(_reasons(plan)) == {"trunk_dropped"}


def test_largest_money_values():
    """Costs, penalty and prices at the schema's bounds, spoilage in the objective, 100 crates a stop: the
    penalty alone (1e7 RMB × 100 crates × 1e4 cost units) passed the routing engines' 2**40 bound (exit 1).
    Costs are now scaled down together when they would, which keeps the ranking of plans: PP1's 325 crates
    are worth their trip and are served; PP2's one crate, weighed against kilometres at 1e7 RMB each, may
    go either way (its penalty is weighted by perishability and value), and only as `routing_dropped`."""
    def edit(d):
        d.setdefault("policies", {}).update(unserved_penalty_per_crate=1e7, spoilage_in_objective=True)
        for v in d["vehicle_types"]:
            v.update(fixed_cost=1e7, cost_per_km=1e7, cost_per_hour=1e7,
                     compartments=[{"zone": z, "crates": 1000, "kg": 10_000.0} for z in ("frozen", "chilled", "ambient")])
        d["forward_warehouses"][0].pop("capacity")
        for p in d["products"]:
            p.update(price=1e5)
        d["demand"][0]["items"] = {"dumplings": 1600, "milk": 1500, "rice": 800}

    _, plan = _plan(_mini(edit))
    assert {(u.pickup_point, u.reason) for u in plan.unserved} <= {("PP2", "routing_dropped")}


def test_products_weighing_next_to_nothing():
    """kg_per_unit = 1e-300: the thermal model gave the goods no temperature (NaN hand-overs, exit 4 with
    'out_of_spec at nan °C').  Goods without thermal mass now take the air's temperature."""
    _plan(_mini(lambda d: [p.update(kg_per_unit=1e-300) for p in d["products"]]))


def test_trunk_hand_over_out_of_spec_is_taken_off():
    """60 °C all night and a poorly insulated trunk reefer without a working unit: the trunk's goods reach
    FW1 out of range.  The last mile was repaired but the trunk was not, and the checker found 'out_of_spec'; now
    the thermal model's verdict takes the trunk hand-over off and its goods are unserved as thermal_limit."""
    def edit(d):
        d["weather"] = {"hourly_c": [60.0] * 24}
        _vehicle(d, "trunk")["body"] = {"unit_kw": 0.0, "k_w_m2k": 10.0, "area_m2": 1000.0}

    _, plan = _plan(_mini(edit))
    assert plan.unserved and {u.reason for u in plan.unserved} == {"thermal_limit"}
    assert all("trunk" in u.detail for u in plan.unserved)


def test_a_thousand_vehicles_of_a_type_make_a_routing_problem_the_size_of_its_jobs():
    """1,000 vans (the schema's bound per type) at FW1 and two stops to serve: the routing problem holds no
    more vans than jobs, each with its waves (it held all 1,000, and 100,000 took 6 GB)."""
    from fulfil.stages.allocate import allocate
    from fulfil.stages.jobs import last_mile_jobs
    from fulfil.stages.subproblems import last_mile_subproblems

    s = load_scenario(_mini(lambda d: _vehicle(d, "last_mile").update(count=1000)))
    night = compile_night(s)
    a = allocate(night)
    jobs, _ = last_mile_jobs(night, a.assign, a.units)
    (sp,) = last_mile_subproblems(night, jobs)
    first_waves = int((sp.problem.needs_vehicle < 0).sum()) if sp.problem.needs_vehicle.size else sp.problem.n_vehicles
    assert 1 <= first_waves == len(sp.jobs) <= 3
    assert sp.problem.n_vehicles <= first_waves * night.policy.max_trips
    _, plan = _plan(_mini(lambda d: _vehicle(d, "last_mile").update(count=1000)))
    assert plan.unserved == []


def test_a_point_closed_all_night_is_unserved_as_closed():
    """A pickup point the scenario closes before its window opens (what `fulfil replan` writes for a
    closure before the night starts) gets no warehouse, and all it ordered is unserved as `closed`;
    the checker accepts `closed` there."""
    s, plan = _plan(_mini(lambda d: d["pickup_points"][0].update(closed_from="00:00")))
    pp = s.pickup_points[0].id
    assert all(st.location != pp for _, t in plan.trips() for st in t.stops)
    assert {u.reason for u in plan.unserved if u.pickup_point == pp} == {"closed"}
    assert pp not in plan.assignment


def test_a_point_closing_inside_its_window_is_served_before_it_closes():
    """Open, PP1 (window 07:00-11:30) is reached after 07:45; closing at 07:45 shortens its window, and
    whatever reaches it arrives before then (the checker names any later delivery `closed_point`)."""
    def arrivals(s, plan):
        return [st.arrival for _, t in plan.trips() for st in t.stops if st.location == s.pickup_points[0].id]

    assert max(arrivals(*_plan(_mini(lambda d: None)))) > 7 * 60 + 45
    s, plan = _plan(_mini(lambda d: d["pickup_points"][0].update(closed_from="07:45")))
    got = arrivals(s, plan)
    assert got and max(got) < 7 * 60 + 45
