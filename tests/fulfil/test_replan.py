"""Re-planning after events: locks kept, broken vehicles relieved, late orders, closures, few moves."""

from __future__ import annotations

import argparse
import json

import pytest

from fulfil.checker import check_plan
from fulfil.errors import ScenarioError
from fulfil.pipeline import PlanParams, plan_night
from fulfil.replan import ReplanParams, parse_events, replan
from fulfil.replan_cli import add_replan_parser
from fulfil.scenario import load_scenario
from fulfil.units import format_clock

#: Stops the relocate search may move besides those an event forces to move (docs/replan.md).
SLACK = 2


@pytest.fixture(scope="module")
def night(tmp_path_factory):
    """2 forward warehouses with 3-4 working vehicles each, planned once with a deterministic budget."""
    from fulfil.generate import GenerateConfig, write_scenario
    from fulfil.plan_model import write_plan

    out = tmp_path_factory.mktemp("replan")
    path = write_scenario(GenerateConfig(name="small_city", seed=3, forward_warehouses=2, pickup_points=60,
                                         orders=3000), out)
    s = load_scenario(path)
    plan = plan_night(s, PlanParams(time_limit_s=None, solution_limit=60, seed=5, workers=1))
    assert check_plan(s, plan) == []
    write_plan(plan, out / "plan.json")
    return s, plan, path, out / "plan.json"


def _body(plan) -> dict:
    doc = plan.to_doc()
    for k in ("stats", "check", "params"):
        doc.pop(k, None)
    return doc


def _busiest_warehouse(plan):
    by: dict[str, list] = {}
    for d in plan.duties:
        if d.tier == "last_mile":
            by.setdefault(d.depot, []).append(d)
    return max(by.values(), key=len)


def test_no_events_give_the_same_plan(night):
    s, plan, _, _ = night
    r = replan(s, plan, parse_events({}), ReplanParams())
    assert _body(r.plan) == _body(plan)
    assert r.changes.moved == [] and r.changes.added == [] and r.changes.removed == []
    assert r.changes.cost_delta == 0 and r.plan.check.violations == 0


def test_breakdown_mid_route_keeps_the_lock_and_relieves_the_vehicle(night):
    s, plan, _, _ = night
    duties = _busiest_warehouse(plan)
    locked, broken = duties[0], duties[1]
    trip = broken.trips[0]
    T = round((trip.departure + trip.return_) / 2)  # mid-route
    lost = [st.location for st in trip.stops if st.departure > T]
    assert lost, "the breakdown must leave stops to re-plan"
    ev = parse_events({"locks": [{"trip": locked.trips[0].id}],
                       "vehicle_down": [{"duty": broken.id, "from": format_clock(T)}]})
    r = replan(s, plan, ev, ReplanParams(seed=1))
    assert check_plan(r.scenario, r.plan) == []
    new = {d.id: d for d in r.plan.duties}
    # the locked trip: same duty, same stops in the same order, same times
    kept = next(t for t in new[locked.id].trips if t.id == locked.trips[0].id)
    assert kept.model_dump() == locked.trips[0].model_dump()
    # the broken vehicle: nothing after T, what it did before T unchanged
    after = new.get(broken.id)
    done = [st.location for st in trip.stops if st.departure <= T]
    assert [st.location for t in (after.trips if after else []) for st in t.stops] == done
    assert all(st.departure <= T for t in (after.trips if after else []) for st in t.stops)
    # its other stops are on other duties (or unserved with a reason)
    served_elsewhere = {st.location for d in r.plan.duties if d.id != broken.id for _, st in
                        ((t, st) for t in d.trips for st in t.stops)}
    unserved = {u.pickup_point for u in r.plan.unserved}
    assert all(loc in served_elsewhere or loc in unserved for loc in lost)
    moved = {m.location for m in r.changes.moved}
    assert set(lost) - unserved <= moved
    assert len(r.changes.moved) <= len(lost) + SLACK
    # new trips leave no earlier than the breakdown
    old_ids = {t.id for _, t in plan.trips()}
    assert all(t.departure >= T for _, t in r.plan.trips() if t.id not in old_ids)


def test_late_orders_at_a_served_point(night):
    s, plan, _, _ = night
    _, t = next((d, t) for d, t in plan.trips() if d.tier == "last_mile")
    st = t.stops[1]
    products = sorted(st.products)[:2]
    ev = parse_events({"late_orders": [{"pickup_point": st.location, "product": k, "units": 20} for k in products]})
    r = replan(s, plan, ev, ReplanParams())
    assert check_plan(r.scenario, r.plan) == []
    delivered = {k: 0 for k in products}
    for _, tt in r.plan.trips():
        for x in tt.stops:
            if x.location == st.location:
                for k in products:
                    delivered[k] += (x.products or {}).get(k, 0)
    for k in products:
        short = [u for u in r.plan.unserved if u.pickup_point == st.location and u.product == k]
        assert delivered[k] + sum(u.units for u in short) == st.products[k] + 20
        assert all(u.reason and u.detail for u in short)
    assert r.changes.moved == [] or len(r.changes.moved) <= SLACK
    assert r.plan.kpis.orders_total == plan.kpis.orders_total + len(products)


def test_closed_point_lines_are_unserved_as_closed(night):
    s, plan, _, _ = night
    _, t = next((d, t) for d, t in plan.trips() if d.tier == "last_mile")
    loc = t.stops[0].location
    r = replan(s, plan, parse_events({"closed": [loc]}), ReplanParams())
    assert check_plan(r.scenario, r.plan) == []
    assert all(x.location != loc for _, tt in r.plan.trips() for x in tt.stops)
    lines = [u for u in r.plan.unserved if u.pickup_point == loc]
    assert lines and all(u.reason == "closed" for u in lines)
    assert sum(u.units for u in lines) == sum(t.stops[0].products.values())
    assert [x.location for x in r.changes.removed] == [loc] and r.changes.moved == []


def test_same_inputs_same_plan(night):
    s, plan, _, _ = night
    broken = _busiest_warehouse(plan)[1]
    ev = {"vehicle_down": [{"duty": broken.id, "from": format_clock(broken.trips[0].departure + 30)}],
          "closed": [plan.duties[-1].trips[0].stops[-1].location]}
    a = replan(s, plan, parse_events(ev), ReplanParams(seed=3))
    b = replan(s, plan, parse_events(ev), ReplanParams(seed=3))
    assert _body(a.plan) == _body(b.plan)
    assert a.changes == b.changes


def _cli(argv: list[str]) -> int:
    p = argparse.ArgumentParser()
    add_replan_parser(p.add_subparsers())
    args = p.parse_args(argv)
    return args.func(args)


def test_bad_events_file_is_refused_with_located_messages(night, tmp_path):
    _, plan, scenario_path, plan_path = night
    bad = tmp_path / "events.json"
    bad.write_text(json.dumps({"late_orders": [{"pickup_point": "PP00001", "product": "caviar", "units": 3}],
                               "vehicle_down": [{"duty": "nobody", "from": "08:00"}],
                               "locks": [{"duty": plan.duties[-1].id}]}), encoding="utf-8")
    out = tmp_path / "out"
    with pytest.raises(ScenarioError) as exc:
        _cli(["replan", str(scenario_path), str(plan_path), str(bad), "--out", str(out)])
    assert exc.value.exit_code == 2
    text = str(exc.value)
    assert f"{bad}: locks[0]: a lock needs 'trip'" in text
    bad.write_text(json.dumps({"late_orders": [{"pickup_point": "PP00001", "product": "caviar", "units": 3}],
                               "vehicle_down": [{"duty": "nobody", "from": "08:00"}]}), encoding="utf-8")
    with pytest.raises(ScenarioError) as exc:
        _cli(["replan", str(scenario_path), str(plan_path), str(bad), "--out", str(out)])
    text = str(exc.value)
    assert f"{bad}: late_orders[0].product: unknown product 'caviar'" in text
    assert f"{bad}: vehicle_down[0].duty: the plan has no duty 'nobody'" in text
    assert not out.exists()


def test_cli_writes_the_plan_folder_and_the_changes(night, tmp_path):
    s, plan, scenario_path, plan_path = night
    broken = _busiest_warehouse(plan)[0]
    ev = tmp_path / "events.json"
    ev.write_text(json.dumps({"vehicle_down": [{"duty": broken.id, "from": "08:00"}]}), encoding="utf-8")
    out = tmp_path / "out"
    code = _cli(["replan", str(scenario_path), str(plan_path), str(ev), "--out", str(out), "--time-limit", "0",
                 "--charts", "0"])
    assert code == 0
    from fulfil.plan_model import read_plan

    new = read_plan(out / "plan.json")
    assert check_plan(s, new) == [] and new.check.violations == 0
    changes = json.loads((out / "changes.json").read_text(encoding="utf-8"))
    assert len(changes["moved"]) == sum(1 for t in broken.trips for st in t.stops if st.departure > 480)
    assert "stops moved" in (out / "changes.txt").read_text(encoding="utf-8")


def test_replan_keeps_to_one_trip_a_vehicle_where_the_policy_says_so(night):
    """With ``policies.max_trips = 1`` a broken vehicle's stops go into other trips or to idle vehicles,
    never as a second trip of a vehicle (the checker names that ``too_many_trips``)."""
    from fulfil.scenario.schema import Scenario

    s0, _, _, _ = night
    doc = s0.model_dump()
    doc["policies"]["max_trips"] = 1
    s = Scenario.model_validate(doc)
    plan = plan_night(s, PlanParams(time_limit_s=None, solution_limit=60, seed=5, workers=1))
    assert check_plan(s, plan) == []
    broken = _busiest_warehouse(plan)[0]
    trip = broken.trips[0]
    ev = parse_events({"vehicle_down": [{"duty": broken.id, "from": format_clock(trip.departure + 1)}]})
    r = replan(s, plan, ev, ReplanParams(seed=1))
    assert check_plan(r.scenario, r.plan) == []
    assert all(len(d.trips) == 1 for d in r.plan.duties if d.tier == "last_mile")
    assert r.changes.moved, "the broken vehicle's stops must have gone somewhere"
