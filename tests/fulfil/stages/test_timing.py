"""fulfil.stages.timing: exact, time-dependent times of a routed trip."""

from __future__ import annotations

import numpy as np
import pytest

from fulfil.feasibility import conservative_minutes
from fulfil.night import compile_night
from fulfil.stages.allocate import allocate
from fulfil.stages.jobs import last_mile_jobs
from fulfil.stages.timing import time_trip
from fulfil.stages.types import LAST_MILE, TRUNK, Job, RoutedTrip

REEFER = 2  # FW1_reefer
P1, P3, P5 = 0, 2, 4


def _jobs_by_owner(night):
    a = allocate(night)
    jobs, _ = last_mile_jobs(night, a.assign, a.units)
    out: dict[int, list[Job]] = {}
    for js in jobs.values():
        for j in js:
            out.setdefault(j.owner, []).append(j)
    return out


def _trip(night, jobs, departure=360.0, vtype=REEFER):
    return RoutedTrip(LAST_MILE, vtype, 0, night.travel.forward_index(0), departure, jobs)


def test_each_leg_is_timed_at_its_departure_and_service_follows_the_policy(tiny_night):
    night = tiny_night
    by = _jobs_by_owner(night)
    rt = _trip(night, [by[P3][0], by[P1][0], by[P5][0]])
    tt = time_trip(night, rt)
    prof = night.net.vehicles.profile[REEFER]
    assert [s.owner for s in tt.stops] == [P3, P1, P5]
    prev, cur = rt.depot, rt.departure_min
    for s in tt.stops:
        km, mins = night.travel.leg(prev, s.site, cur, prof)
        assert s.leg_km == pytest.approx(km)
        assert s.arrival == pytest.approx(cur + mins)
        assert s.arrival >= cur + mins - 1e-9 and mins > 0
        assert s.start == pytest.approx(max(s.arrival, night.window_open[s.site]))
        n = int(s.crates.sum())
        assert s.departure == pytest.approx(
            s.start + night.service_fixed_min[s.site] + night.service_per_crate_min[s.site] * n)
        prev, cur = s.site, s.departure
    assert tt.departure == rt.departure_min


def test_waiting_for_a_window_starts_service_at_the_opening(tiny_night):
    """Leaving at 06:00, P1 (opens 07:00) is reached early: the stop starts at 07:00, not at arrival."""
    night = tiny_night
    by = _jobs_by_owner(night)
    tt = time_trip(night, _trip(night, [by[P1][0]], departure=360.0))
    s = tt.stops[0]
    assert s.arrival < 420.0 and s.start == 420.0


def test_return_leg_is_included_in_the_distance(tiny_night):
    night = tiny_night
    by = _jobs_by_owner(night)
    rt = _trip(night, [by[P1][0], by[P5][0]])
    tt = time_trip(night, rt)
    last = tt.stops[-1]
    km, mins = night.travel.leg(last.site, rt.depot, last.departure, night.net.vehicles.profile[REEFER])
    assert tt.return_leg_km == pytest.approx(km) and km > 0
    assert tt.ret == pytest.approx(last.departure + mins)
    assert tt.km == pytest.approx(sum(s.leg_km for s in tt.stops) + tt.return_leg_km)


def test_consecutive_jobs_at_one_site_are_one_stop(tiny, edited):
    """P1 split into a cold and an ambient job (FW1's reefer without ambient room): back to back in one trip
    they make one stop, handing over the units of both, crates recomputed from the summed units, one service."""
    def edit(d):
        r = edited.find(d["vehicle_types"], "FW1_reefer")
        r["compartments"] = [c for c in r["compartments"] if c["zone"] != "ambient"]

    night = compile_night(edited(tiny, edit))
    by = _jobs_by_owner(night)
    cold, amb = sorted(by[P1], key=lambda j: j.zones)
    assert cold.zones != amb.zones
    tt = time_trip(night, _trip(night, [cold, amb, by[P5][0]]))
    assert len(tt.stops) == 2
    s = tt.stops[0]
    assert s.units == {**cold.units, **amb.units}
    assert (s.crates == cold.crates + amb.crates).all()
    assert np.allclose(s.kg, cold.kg + amb.kg)
    n = int(s.crates.sum())
    assert s.departure == pytest.approx(s.start + night.service_fixed_min[s.site]
                                        + night.service_per_crate_min[s.site] * n)
    # apart (another stop between them) they stay two stops
    tt2 = time_trip(night, _trip(night, [cold, by[P5][0], amb]))
    assert len(tt2.stops) == 3
    assert (tt.load_crates == tt2.load_crates).all()


def test_exact_legs_are_no_slower_than_the_solvers_conservative_times(tiny_night):
    """The solver's matrix is the slowest hourly speed; an exactly timed leg never takes longer."""
    night = tiny_night
    by = _jobs_by_owner(night)
    rt = _trip(night, [by[P3][0], by[P1][0], by[P5][0]])
    tt = time_trip(night, rt)
    prof = night.net.vehicles.profile[REEFER]
    sites = np.array([rt.depot] + [s.site for s in tt.stops])
    m = conservative_minutes(night.travel, sites, sites, [prof], 360.0, 960.0)
    prev, cur = 0, rt.departure_min
    for i, s in enumerate(tt.stops, start=1):
        assert s.arrival - cur <= m[prev, i] + 1e-6
        prev, cur = i, s.departure


def test_trunk_stop_hands_over_the_jobs_crates_and_unloading_time(tiny_night):
    """Trunk: crates are the jobs' own (no units), service is the receiving warehouse's unloading rule."""
    night = tiny_night
    fw1 = night.travel.forward_index(0)
    j1 = Job(site=fw1, owner=0, zones=(0, 1), crates=np.array([3, 5, 0]), kg=np.array([40.0, 50.0, 0.0]))
    j2 = Job(site=fw1, owner=0, zones=(0,), crates=np.array([2, 0, 0]), kg=np.array([20.0, 0.0, 0.0]))
    rt = RoutedTrip(TRUNK, 0, 0, night.travel.central_index(0), 90.0, [j1, j2])
    tt = time_trip(night, rt)
    assert len(tt.stops) == 1
    s = tt.stops[0]
    assert s.crates.tolist() == [5, 5, 0] and np.allclose(s.kg, [60.0, 50.0, 0.0]) and s.units == {}
    assert s.start == pytest.approx(max(s.arrival, night.window_open[fw1]))
    assert s.departure == pytest.approx(s.start + night.service_fixed_min[fw1] + night.service_per_crate_min[fw1] * 10)
