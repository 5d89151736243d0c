"""Several trips per vehicle (``policies.max_trips``): the waves of fulfil.stages.subproblems, the
chaining of fulfil.stages.waves and the duties the assembly builds from them."""

from __future__ import annotations

import itertools
from dataclasses import replace

import numpy as np
import pydantic
import pytest

from fulfil.checker import check_plan
from fulfil.night import compile_night
from fulfil.pipeline import PlanParams
from fulfil.stages.assemble import assemble_plan
from fulfil.stages.subproblems import MIN_WAVE_MIN, fleet, wave_starts
from fulfil.stages.trip_work import TripWork
from fulfil.stages.types import LAST_MILE
from fulfil.stages.waves import chain_trips
from solvers.routing.check import check_routes

PARAMS = PlanParams(time_limit_s=None, solution_limit=30, workers=1)
P2 = 1  # opens at 09:00: one trip per vehicle leaving at 06:00 cannot wait for it within the promise
REEFER = 2  # FW1's reefer type in tiny.toml


@pytest.fixture(scope="module")
def waves_tiny(tiny, edited):
    return edited(tiny, lambda d: d["policies"].update(max_trips=2))


@pytest.fixture(scope="module")
def waves_stages(waves_tiny, run_stages):
    return run_stages(compile_night(waves_tiny), PARAMS)


def _plan(st):
    r = st.routed
    return assemble_plan(st.night, r.trips, st.alloc.unserved + st.job_unserved + r.unserved, st.alloc.assign,
                         PARAMS, False)


def test_a_second_trip_serves_what_one_trip_per_vehicle_drops(tiny_night, run_stages, waves_tiny, waves_stages):
    one = run_stages(tiny_night, PARAMS)  # the fixture: max_trips = 1
    assert (P2, "routing_dropped") in {(u.pickup, u.reason) for u in one.routed.unserved}
    plan = _plan(waves_stages)
    assert check_plan(waves_tiny, plan) == []
    duty = next(d for d in plan.duties if len(d.trips) == 2)
    assert [t.id for t in duty.trips] == [duty.id + ".1", duty.id + ".2"]
    assert "P2" in {s.location for s in duty.trips[1].stops}
    assert not [u for u in plan.unserved if u.pickup_point == "P2"]
    assert plan.kpis.last_mile_trips == plan.kpis.last_mile_vehicles + 1


def test_each_later_trip_leaves_after_the_return_and_its_reload(waves_tiny, waves_stages):
    plan = _plan(waves_stages)
    pol = waves_tiny.policies
    pairs = [(a, b) for d in plan.duties for a, b in zip(d.trips, d.trips[1:])]
    assert pairs
    for a, b in pairs:
        crates = sum(z.crates for z in b.load_at_departure.values())
        assert b.departure >= a.return_ + pol.reload_fixed_min + pol.reload_per_crate_min * crates - 1e-6


def test_a_trip_leaving_before_the_reload_is_done_goes_on_another_vehicle(waves_stages):
    """Chaining the same two trips: one vehicle when the second leaves exactly after the reload, two when
    it would leave a minute sooner."""
    night = waves_stages.night
    work = TripWork(night)
    first, second = sorted((rt for rt in waves_stages.last_mile.trips if rt.vtype == REEFER),
                           key=lambda rt: rt.departure_min)
    ready = work.timed(first).ret + night.reload_min(int(work.timed(second).load_crates.sum()))
    on_time = chain_trips(night, [first, replace(second, departure_min=ready)], work)
    assert len({rt.vindex for rt in on_time}) == 1
    too_soon = chain_trips(night, [first, replace(second, departure_min=ready - 1.0)], work)
    assert sorted(rt.vindex for rt in too_soon) == [0, 1]


def test_the_fixed_cost_is_paid_once_a_vehicle(waves_tiny, waves_stages):
    plan = _plan(waves_stages)
    vt = {v.id: v for v in waves_tiny.vehicle_types}
    for d in plan.duties:
        assert d.cost.fixed == vt[d.vehicle_type].fixed_cost
        assert d.cost.total == pytest.approx(d.cost.fixed + sum(t.cost.total for t in d.trips), abs=0.011)
    assert plan.kpis.cost == pytest.approx(sum(d.cost.total for d in plan.duties), abs=0.011)
    # the routing objective: only a vehicle's first wave carries the fixed cost; a later wave needs it
    sp = waves_stages.subs[0]
    pr = sp.problem
    n = len(sp.vehicles) // 2
    assert (pr.fixed_cost[:n] > 0).all() and (pr.fixed_cost[n:] == 0).all()
    assert pr.needs_vehicle.tolist() == [-1] * n + list(range(n))
    alone = [[] for _ in range(pr.n_vehicles)]
    alone[n] = [1]  # a second wave without its first
    assert any("needs" in m for m in check_routes(pr, alone).violations)


def test_the_first_wave_runs_to_the_shift_close_unless_a_later_wave_is_used(waves_tiny, waves_stages):
    """Waves never serve less than one trip a vehicle: a first wave may run to the shift's close, and only
    a used later wave makes it come back in time for that wave's full reload."""
    night = waves_stages.night
    sp = waves_stages.subs[0]
    pr = sp.problem
    n = len(sp.vehicles) // 2
    types = np.array([t for t, _ in sp.vehicles])
    assert (pr.end_max_s[:n] == np.floor(night.net.vehicles.shift_close[types[:n]] * 60)).all()
    full = np.array([night.reload_min(int(night.net.vehicles.total_crates[t])) for t in types[n:]])
    assert (pr.lead_back_by_s[n:] == pr.start_s[n:] - np.ceil(full * 60)).all()
    # the first wave back too late for the second: named only when the second is used
    late = int(pr.lead_back_by_s[n]) + 60  # a job whose window opens after the lead must be back
    j = 1
    pr2 = replace(pr, tw_open_s=np.where(np.arange(pr.n_nodes) == j, late, pr.tw_open_s))
    routes = [[] for _ in range(pr.n_vehicles)]
    routes[0] = [j]
    assert not [m for m in check_routes(pr2, routes).violations if "needs" in m]
    routes[n] = [k for k in range(1, pr.n_nodes) if k != j][:1]
    assert any("needs, is back at" in m for m in check_routes(pr2, routes).violations)


def test_waves_share_the_time_to_the_close_and_end_with_a_full_reload(tiny_night):
    v = tiny_night.net.vehicles
    full_reload = tiny_night.reload_min(int(v.total_crates[REEFER]))
    night3 = replace(tiny_night, policy=replace(tiny_night.policy, max_trips=3))
    waves = wave_starts(night3, REEFER, 360.0, 690.0)
    assert waves[0][0] == 360.0 and len(waves) == 3
    for (s0, e0), (s1, _) in itertools.pairwise(waves):
        assert e0 == s1 - full_reload and s1 > s0
    assert waves[-1][1] == float(v.shift_close[REEFER])
    # too little time for three waves of MIN_WAVE_MIN minutes each: fewer waves
    short = wave_starts(night3, REEFER, 360.0, 360.0 + 2 * (full_reload + MIN_WAVE_MIN))
    assert len(short) == 2


def test_one_trip_per_vehicle_keeps_the_fleet_and_the_trips(tiny_night, run_stages):
    """max_trips = 1: the routing vehicles are the fleet, back by the shift's close, each paying its fixed
    cost, no wave conditions; chaining leaves the trips as routed."""
    st = run_stages(tiny_night, PARAMS)
    v = tiny_night.net.vehicles
    for sp in st.subs:
        pr = sp.problem
        assert sp.vehicles == fleet(tiny_night, LAST_MILE, sp.depot)
        assert pr.needs_vehicle.size == 0 and sp.lead is None and sp.end_min is None
        types = np.array([t for t, _ in sp.vehicles])
        assert (pr.end_max_s == np.floor(v.shift_close[types] * 60)).all()
        assert (pr.fixed_cost > 0).all()
    trips = st.routed.trips
    lm = [rt for rt in trips if rt.tier == LAST_MILE]
    chained = [rt for rt in chain_trips(tiny_night, trips, TripWork(tiny_night)) if rt.tier == LAST_MILE]
    assert len(chained) == len(lm) and all(a is b for a, b in zip(chained, lm, strict=True))


@pytest.mark.parametrize("value", [0, 7, True, 1.5])
def test_max_trips_must_be_a_whole_number_from_1_to_6(tiny, edited, value):
    with pytest.raises(pydantic.ValidationError, match="max_trips"):
        edited(tiny, lambda d: d["policies"].update(max_trips=value))
