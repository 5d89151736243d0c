"""Stage 5 (fulfil.stages.cold_repair): re-solve warehouses whose trips the thermal model rejects."""

from __future__ import annotations

from collections import Counter

import pytest

from fulfil.executor import Executor, SerialBackend
from fulfil.night import compile_night
from fulfil.pipeline import PlanParams
from fulfil.stages.allocate import allocate
from fulfil.stages.cold_chain import out_of_spec_stops
from fulfil.stages.cold_repair import repair_cold_chain
from fulfil.stages.jobs import last_mile_jobs
from fulfil.stages.last_mile import Routed, route_last_mile
from fulfil.stages.subproblems import build_subproblem, last_mile_subproblems
from fulfil.stages.timing import time_trip
from fulfil.stages.types import LAST_MILE

PARAMS = PlanParams(time_limit_s=None, solution_limit=30, workers=1)


class NoSolve(Executor):
    """Fails the test if anything is submitted."""

    @property
    def workers(self) -> int:
        return 1

    def submit(self, fn, /, *args, **kwargs):
        raise AssertionError("nothing should be re-solved")

    def shutdown(self, cancel: bool = False) -> None:
        return None


@pytest.fixture(scope="module")
def hot_night(small, edited):
    return compile_night(edited(small, lambda d: d["weather"].update(hourly_c=[40.0] * 24)))


def _routed(night, *, proxies: bool = False):
    """The last mile of ``night``, routed without the thermal proxy limits (so that the model rejects some
    hand-overs: an artificially tight situation for the repair)."""
    a = allocate(night)
    jobs, _ = last_mile_jobs(night, a.assign, a.units)
    subs = last_mile_subproblems(night, jobs)
    if not proxies:
        subs = [build_subproblem(night, sp.tier, sp.owner, sp.jobs, sp.depot, sp.vehicles, sp.problem.start_s / 60.0)
                for sp in subs]
    return subs, route_last_mile(night, subs, PARAMS, None, SerialBackend())


def _failing(night, trips):
    return [(rt, i, z) for rt in trips if rt.tier == LAST_MILE for i, z in out_of_spec_stops(night, time_trip(night, rt))]


def _units(trips, unserved):
    out = Counter()
    for rt in trips:
        for j in rt.jobs:
            for k, q in j.units.items():
                out[(j.owner, k)] += q
    for u in unserved:
        out[(u.pickup, u.product)] += u.units
    return out


def test_repair_returns_only_in_spec_trips_and_loses_no_unit(hot_night):
    subs, routed = _routed(hot_night)
    before = _units(routed.trips, routed.unserved)
    assert _failing(hot_night, routed.trips), "the situation must be tight: some hand-over out of spec"
    out = repair_cold_chain(hot_night, subs, routed, PARAMS, None, SerialBackend())
    assert not out.interrupted
    assert _failing(hot_night, out.trips) == []
    assert _units(out.trips, out.unserved) == before
    assert {u.reason for u in out.unserved} <= {"thermal_limit", "routing_dropped"}
    # the re-solved warehouses carry tighter limits than they had
    assert any(sp.cold_limits for sp in subs)


def test_last_resort_takes_failing_stops_off_as_thermal_limit(hot_night):
    """No re-solve round (rounds=0): every failing stop leaves its trip and its units are unserved as
    thermal_limit (and any stop that fails once the trip is shorter, too); no unit is lost."""
    subs, routed = _routed(hot_night)
    failing = _failing(hot_night, routed.trips)
    failing_sites = {(id(rt), time_trip(hot_night, rt).stops[i].site) for rt, i, _ in failing}
    lost = sum(q for rt in routed.trips for j in rt.jobs if (id(rt), j.site) in failing_sites for q in j.units.values())
    kept_before = sum(len(rt.jobs) for rt in routed.trips) - sum(
        1 for rt in routed.trips for j in rt.jobs if (id(rt), j.site) in failing_sites)
    before = _units(routed.trips, routed.unserved)
    out = repair_cold_chain(hot_night, subs, routed, PARAMS, None, NoSolve(), rounds=0)
    thermal = [u for u in out.unserved if u.reason == "thermal_limit"]
    assert lost > 0 and sum(u.units for u in thermal) >= lost
    assert 0 < sum(len(rt.jobs) for rt in out.trips) <= kept_before
    still = {(rt.depot, rt.vtype, rt.vindex, j.site) for rt in out.trips for j in rt.jobs}
    assert not {(rt.depot, rt.vtype, rt.vindex, time_trip(hot_night, rt).stops[i].site)
                for rt, i, _ in failing} & still
    assert _units(out.trips, out.unserved) == before


def test_last_resort_ships_nothing_out_of_spec(hot_night):
    subs, routed = _routed(hot_night)
    out = repair_cold_chain(hot_night, subs, routed, PARAMS, None, NoSolve(), rounds=0)
    assert _failing(hot_night, out.trips) == []


def test_nothing_to_repair_changes_nothing(small_night):
    subs, routed = _routed(small_night, proxies=True)
    assert _failing(small_night, routed.trips) == []
    jobs_before = [[id(j) for j in rt.jobs] for rt in routed.trips]
    out = repair_cold_chain(small_night, subs, routed, PARAMS, None, NoSolve())
    assert [[id(j) for j in rt.jobs] for rt in out.trips] == jobs_before
    assert out.unserved == routed.unserved


def test_interrupted_run_is_not_re_solved_but_still_ships_nothing_out_of_spec(hot_night):
    subs, routed = _routed(hot_night)
    assert _failing(hot_night, routed.trips)
    interrupted = Routed(routed.trips, routed.unserved, True)
    out = repair_cold_chain(hot_night, subs, interrupted, PARAMS, None, NoSolve())
    assert out.interrupted
    assert {u.reason for u in out.unserved} == {"thermal_limit"}
    assert _failing(hot_night, out.trips) == []
