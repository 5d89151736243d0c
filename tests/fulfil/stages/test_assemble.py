"""Stage 7 (fulfil.stages.assemble): the typed plan from the routed trips — duties, costs, KPIs."""

from __future__ import annotations

import numpy as np
import pytest

from fulfil.checker import check_plan
from fulfil.night import compile_night
from fulfil.pipeline import PlanParams
from fulfil.plan_model import Plan
from fulfil.stages.assemble import assemble_plan
from fulfil.stages.timing import time_trip
from fulfil.stages.types import RoutedTrip

PARAMS = PlanParams(time_limit_s=None, solution_limit=30, workers=1)


def _plan(st, interrupted=False):
    r = st.routed
    return assemble_plan(st.night, r.trips, st.alloc.unserved + st.job_unserved + r.unserved, st.alloc.assign,
                         PARAMS, interrupted, {"x_s": 1.23456})


@pytest.fixture(scope="module")
def tiny_stages(tiny_night, run_stages):
    return run_stages(tiny_night)


def test_assembled_plan_passes_the_checker(tiny, tiny_stages):
    plan = _plan(tiny_stages)
    assert isinstance(plan, Plan)
    assert check_plan(tiny, plan) == []
    assert plan.code == 0 and plan.error is None
    assert plan.scenario == "tiny" and plan.scenario_digest == tiny_stages.night.digest
    assert plan.stats == {"x_s": 1.235}
    # P2 is assigned to FW1 but receives nothing: the assignment lists served pickup points only
    assert plan.assignment == {"P1": "FW1", "P3": "FW1", "P4": "FW2", "P5": "FW1"}


def test_duty_cost_is_fixed_once_plus_its_trips(tiny, tiny_stages):
    plan = _plan(tiny_stages)
    vt = {v.id: v for v in tiny.vehicle_types}
    assert plan.duties
    for d in plan.duties:
        assert d.cost.fixed == vt[d.vehicle_type].fixed_cost
        assert d.cost.total == pytest.approx(d.cost.fixed + sum(t.cost.total for t in d.trips), abs=0.011)
        assert d.cost.distance == pytest.approx(sum(t.cost.distance for t in d.trips), abs=0.011)
        assert d.distance_km == pytest.approx(sum(t.distance_km for t in d.trips), abs=1e-3)
        for t in d.trips:
            assert t.cost.distance == pytest.approx(vt[d.vehicle_type].cost_per_km * t.distance_km, abs=0.011)
            assert t.cost.total == pytest.approx(t.cost.distance + t.cost.time, abs=0.011)
    assert plan.kpis.cost == pytest.approx(sum(d.cost.total for d in plan.duties), abs=0.011)
    # trunk duties first, ids by depot
    tiers = [d.tier for d in plan.duties]
    assert tiers == sorted(tiers, key=lambda x: x != "trunk")
    assert all(t.id.startswith(d.id + ".") for d, t in plan.trips())


def test_trip_distance_includes_the_return_leg(tiny_stages):
    plan = _plan(tiny_stages)
    for _, t in plan.trips():
        assert t.return_leg_km > 0
        assert t.distance_km == pytest.approx(sum(s.leg_km for s in t.stops) + t.return_leg_km, abs=2e-3)
        assert t.return_ >= t.stops[-1].departure


def test_kpis_count_what_the_stops_hand_over(tiny, tiny_stages):
    """tiny: dumplings short and P2 dropped. Units served are the stops' products; orders served are each
    pickup point's orders × the share of its units delivered."""
    plan = _plan(tiny_stages)
    k = plan.kpis
    net = tiny_stages.night.net
    got = {}
    for d, t in plan.trips():
        if d.tier == "last_mile":
            for s in t.stops:
                got[s.location] = got.get(s.location, 0) + sum(s.products.values())
    assert k.units_served == sum(got.values())
    assert k.units_total == int(net.demand.sum())
    assert k.units_unserved == sum(u.units for u in plan.unserved) == k.units_total - k.units_served
    expect = sum(d.orders * got.get(d.pickup_point, 0) / sum(d.items.values()) for d in tiny.demand)
    assert k.orders_served == pytest.approx(expect, abs=1e-3)
    assert k.orders_total == 28 and k.orders_unserved == pytest.approx(28 - k.orders_served, abs=1e-3)
    assert k.cost_per_order == pytest.approx(k.cost / k.orders_served, rel=1e-3)
    assert k.vehicles == len(plan.duties) and k.trips == sum(1 for _ in plan.trips())


def test_orders_served_moves_a_little_when_one_product_is_two_percent_short(small, edited, run_stages):
    """One product 2 % short of demand: orders_served is about 98-100 % of the orders (each pickup point
    counts the share of its units delivered), not 0; cost per order stays near the fully served one."""
    total = {}
    for d in small.demand:
        for k, q in d.items.items():
            total[k] = total.get(k, 0) + q
    cut = "ice_cream"

    def edit(d):
        d["stock"] = [{"warehouse": "CW1", "product": k, "quantity": int(q * 0.98) if k == cut else q}
                      for k, q in total.items()]

    night = compile_night(edited(small, edit))
    st = run_stages(night, repair=True)
    k = _plan(st).kpis
    assert 0 < k.units_unserved < 0.02 * k.units_total
    assert k.orders_complete < k.orders_total
    assert 0.98 * k.orders_total <= k.orders_served < k.orders_total
    assert k.cost_per_order < 1.1 * k.cost / k.orders_total


def test_two_trips_of_one_vehicle_are_one_duty(tiny, tiny_night, tiny_stages, edited):
    """The same vehicle given a second trip after the first returns and reloads: one duty, two trips in time
    order, the fixed cost once; the checker accepts the reload gap where two trips a night are allowed, and
    names the duty where only one is."""
    night = tiny_night
    lm = [rt for rt in tiny_stages.routed.trips if rt.tier == 1]
    fw1 = next(rt for rt in lm if rt.depot == night.travel.forward_index(0) and len(rt.jobs) >= 2)
    first = RoutedTrip(fw1.tier, fw1.vtype, fw1.vindex, fw1.depot, fw1.departure_min, fw1.jobs[:1])
    tt = time_trip(night, first)
    reload = night.reload_min(int(sum(j.crates.sum() for j in fw1.jobs[1:])))
    second = RoutedTrip(fw1.tier, fw1.vtype, fw1.vindex, fw1.depot, tt.ret + reload + 1.0, fw1.jobs[1:])
    others = [rt for rt in tiny_stages.routed.trips if rt is not fw1]
    r = tiny_stages.routed
    plan = assemble_plan(night, [second, *others, first], tiny_stages.alloc.unserved + tiny_stages.job_unserved
                         + r.unserved, tiny_stages.alloc.assign, PARAMS, False)
    duty = next(d for d in plan.duties if len(d.trips) == 2)
    assert [t.id for t in duty.trips] == [duty.id + ".1", duty.id + ".2"]
    assert duty.trips[0].departure < duty.trips[1].departure
    assert duty.cost.total == pytest.approx(duty.cost.fixed + sum(t.cost.total for t in duty.trips), abs=0.011)
    assert plan.kpis.trips == plan.kpis.vehicles + 1
    two = edited(tiny, lambda d: d["policies"].update(max_trips=2))  # another scenario digest, by design
    assert [v for v in check_plan(two, plan) if v.cause != "wrong_scenario"] == []
    assert [(v.cause, v.vehicle) for v in check_plan(tiny, plan)] == [("too_many_trips", duty.id)]


def test_interrupted_plan_says_so(tiny_stages):
    plan = _plan(tiny_stages, interrupted=True)
    assert plan.code == 130 and "interrupted" in plan.error


def test_unserved_lines_are_sorted_and_named(tiny_stages):
    plan = _plan(tiny_stages)
    keys = [(u.pickup_point, u.product) for u in plan.unserved]
    assert keys == sorted(keys)
    assert {u.reason for u in plan.unserved} == {"stock_shortage", "routing_dropped"}
    assert np.all([u.units > 0 for u in plan.unserved])
