"""Time-dependent travel inside the search (issue 10, item 3).

The routing problems price each arc at its slowest exact traversal over the departures the problem
allows on it (:func:`fulfil.stages.subproblems.arc_travel_s`), not at the slowest hour between
dispatch and shift end; plans stay exactly timed and the checker re-times them.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from fulfil.checker import check_plan
from fulfil.executor import SerialBackend
from fulfil.feasibility import conservative_minutes
from fulfil.night import compile_night
from fulfil.pipeline import PlanParams, plan_night
from geo.matrices import travel_seconds, window_time_matrix_s

PARAMS = PlanParams(time_limit_s=None, solution_limit=30, workers=1, seed=1)
TINY = Path(__file__).resolve().parents[1] / "data" / "checker" / "tiny.toml"


@pytest.fixture(scope="module")
def tiny():
    """tiny.toml as shipped (several trips a vehicle)."""
    from fulfil.scenario import load_scenario

    return load_scenario(TINY)


@pytest.fixture(scope="module")
def edited():
    """``edited(scenario, fn)``: ``fn`` edits the scenario's dump in place; the re-validated scenario."""
    from fulfil.scenario.schema import Scenario

    def edit(scenario, fn):
        doc = scenario.model_dump()
        fn(doc)
        return Scenario.model_validate(doc)
    return edit


def test_window_bound_is_the_slowest_departure_that_arrives_in_time():
    """Against a fine grid of departures: never below a departure that arrives in time, and reached by one."""
    rng = np.random.default_rng(5)
    for _ in range(40):
        f = rng.choice([0.4, 0.5, 0.7, 0.9, 1.15], 24)
        free = rng.uniform(0.0, 5400.0, (2, 3))
        lo = rng.uniform(0.0, 86400.0, 2)
        hi = lo + rng.uniform(-600.0, 14400.0, 2)
        arr = rng.uniform(0.0, 120000.0, 3)
        b = window_time_matrix_s(free, f, lo, hi, arr)
        for i in range(2):
            for j in range(3):
                ds = np.linspace(lo[i], max(lo[i], hi[i]), 4001)
                t = np.array([travel_seconds(free[i, j], d, f) for d in ds])
                ok = ds + t <= arr[j]
                if not ok.any():
                    assert b[i, j] == pytest.approx(travel_seconds(free[i, j], lo[i], f))
                    continue
                assert b[i, j] >= t[ok].max() - 1e-6
                step = (ds[1] - ds[0]) if len(ds) > 1 else 0.0
                assert b[i, j] <= t[ok].max() + 4.0 * step + 1e-6  # attained between two grid points


def test_an_early_trip_is_priced_at_night_speed_a_late_one_at_the_peak():
    f = [1.15] * 6 + [0.9] + [0.5] * 2 + [0.7] * 8 + [0.5] * 3 + [0.85] * 3 + [1.15]
    free = np.array([[1200.0]])
    night = window_time_matrix_s(free, f, [5 * 3600.0], [5 * 3600.0], [6 * 3600.0])
    peak = window_time_matrix_s(free, f, [7 * 3600.0], [7 * 3600.0], [10 * 3600.0])
    assert night[0, 0] == pytest.approx(1200.0 / 1.15)
    assert peak[0, 0] == pytest.approx(2400.0)


def _trunk_0550(tiny, edited):
    """tiny with the trunk leaving at 05:50, received until 06:15, the last mile dispatched at 07:00, and a
    truck of each kind per forward warehouse (after one unloading, no truck reaches a second by 06:15)."""
    def edit(d):
        d["policies"].update(trunk_departure=350.0, trunk_receiving={"open": 120.0, "close": 375.0})
        for fw in d["forward_warehouses"]:
            fw["dispatch"] = 420.0
        for t in d["vehicle_types"]:
            if t["tier"] == "trunk":
                t["count"] = 2
    return edited(tiny, edit)


def test_trunk_leaving_at_0550_drops_nothing_when_its_exact_trip_fits(tiny, edited):
    """The issue's case: the slowest hour between departure and shift end (07:00–09:00, half speed)
    made the trunk miss the receiving window, although its exact trip, mostly at night speed, fits."""
    s = _trunk_0550(tiny, edited)
    night = compile_night(s)
    travel, net = night.travel, night.net
    v = net.vehicles
    prof = v.profile[0]
    cw = travel.central_index(0)
    for f in range(net.n_forward):
        fw = travel.forward_index(f)
        _, exact = travel.leg(cw, fw, 350.0, prof)
        slow = conservative_minutes(travel, np.array([cw]), np.array([fw]), [prof], 350.0,
                                    float(v.shift_close[0]))[0, 0]
        assert 350.0 + exact <= 375.0 < 350.0 + slow  # fits exactly, not at the slowest hour
    plan = plan_night(s, PARAMS, executor=SerialBackend())
    doc = plan.to_doc()
    assert not [u for u in doc["unserved"] if u["reason"] == "trunk_dropped"]
    trunk_stops = [st for d in doc["duties"] if d["tier"] == "trunk" for t in d["trips"] for st in t["stops"]]
    assert trunk_stops and all(st["arrival"] <= 375.0 + 1e-6 for st in trunk_stops)
    assert check_plan(s, doc) == []


def _dispatch(tiny, edited, at: float):
    """tiny, one trip a vehicle, the last mile dispatched at ``at`` (minutes), shifts and windows open from 04:00."""
    def edit(d):
        d["policies"]["max_trips"] = 1
        d["policies"].update(last_mile_dispatch=at, trunk_receiving={"open": 120.0, "close": 240.0})
        for fw in d["forward_warehouses"]:
            fw["dispatch"] = at
        for p in d["pickup_points"]:
            p["window"]["open"] = 240.0
        for t in d["vehicle_types"]:
            if t["tier"] == "last_mile":
                t["shift"]["open"] = 240.0
    return edited(tiny, edit)


def test_an_earlier_dispatch_into_faster_hours_prices_the_arcs_faster(tiny, edited):
    from fulfil.stages.allocate import allocate
    from fulfil.stages.jobs import last_mile_jobs
    from fulfil.stages.subproblems import last_mile_subproblems

    def problems(s):
        night = compile_night(s)
        alloc = allocate(night)
        jobs, _ = last_mile_jobs(night, alloc.assign, alloc.units)
        return night, last_mile_subproblems(night, jobs)

    # one wave: leaving at 04:30 with the promise kept by 06:30, the cold stops' arcs are night-priced
    (_, sub_late), (night_e, sub_early) = (problems(_dispatch(tiny, edited, 420.0)),
                                           problems(_dispatch(tiny, edited, 270.0)))
    for a, b in zip(sub_late, sub_early, strict=True):
        assert (b.problem.travel_s <= a.problem.travel_s).all()
        assert (b.problem.travel_s < a.problem.travel_s).any()
    # the slowest hour between dispatch and shift end is the same peak for both: the old matrix was identical
    sp = sub_early[0]
    sites = np.array([sp.depot] + [j.site for j in sp.jobs])
    v = night_e.net.vehicles
    prof = sorted({v.profile[t] for t, _ in sp.vehicles})
    old_e = conservative_minutes(night_e.travel, sites, sites, prof, 270.0, 960.0)
    old_l = conservative_minutes(night_e.travel, sites, sites, prof, 420.0, 960.0)
    assert np.array_equal(old_e, old_l)


def test_an_earlier_dispatch_into_faster_hours_changes_the_routes(small_city, edited):
    """The generated small city, one trip a vehicle, dispatched at 07:00 or at 05:00 (windows and shifts
    open by then): with the slowest hour between dispatch and shift end both nights routed alike (the same
    half-speed matrix, shifted by two hours); priced by departure time, the 05:00 night's 2-hour trips
    take more stops at night speed."""
    from fulfil.scenario import load_scenario

    base = load_scenario(small_city)

    def at(m: float):
        def edit(d):
            d["policies"].update(max_trips=1, last_mile_dispatch=m, trunk_receiving={"open": 120.0, "close": 240.0})
            for f in d["forward_warehouses"]:
                f["dispatch"] = None
            for p in d["pickup_points"]:
                p["window"]["open"] = min(p["window"]["open"], m)
            for t in d["vehicle_types"]:
                if t["tier"] == "last_mile":
                    t["shift"]["open"] = min(t["shift"]["open"], m)
        return edited(base, edit)

    def plan(s):
        doc = plan_night(s, PARAMS, executor=SerialBackend()).to_doc()
        assert check_plan(s, doc) == []
        assert not doc["unserved"]
        routes = sorted((d["vehicle_type"], tuple(st["location"] for st in t["stops"]))
                        for d in doc["duties"] if d["tier"] == "last_mile" for t in d["trips"])
        return routes, doc["kpis"]["cost"]

    (late, cost_late), (early, cost_early) = plan(at(420.0)), plan(at(300.0))
    assert early != late
    assert len(early) < len(late)  # fewer trips (one a vehicle) carry the same goods
    assert cost_early < cost_late


def test_the_re_solve_at_exact_times_keeps_inside_the_windows_and_is_kept_only_when_cheaper(small_city):
    """Several waves share one matrix; the re-solve pins stops near their exact times (inside the scenario's
    windows), prices the arcs for those hours, and replaces a warehouse's solution only when it costs less
    timed exactly."""
    from fulfil.scenario import load_scenario
    from fulfil.stages.allocate import allocate
    from fulfil.stages.jobs import last_mile_jobs
    from fulfil.stages.last_mile import _retime, _service_starts, exact_cost, solve
    from fulfil.stages.subproblems import last_mile_subproblems, retimed_subproblem

    night = compile_night(load_scenario(small_city))
    alloc = allocate(night)
    jobs, _ = last_mile_jobs(night, alloc.assign, alloc.units)
    subs = last_mile_subproblems(night, jobs)
    ex = SerialBackend()
    first, _ = solve(subs, PARAMS, None, "first", ex)
    for i, sp in enumerate(subs):
        again = retimed_subproblem(night, sp, _service_starts(night, sp, first[i]))
        a, b = sp.problem, again.problem
        assert (b.tw_open_s >= a.tw_open_s).all() and (b.tw_close_s <= a.tw_close_s).all()
        assert (b.tw_open_s <= b.tw_close_s).all()
        assert (b.travel_s <= a.travel_s).all()
    chosen, _ = _retime(night, subs, first, PARAMS, None, ex)
    for i, sp in enumerate(subs):
        assert chosen[i] is first[i] or exact_cost(night, sp, chosen[i]) < exact_cost(night, sp, first[i])


def test_a_later_wave_that_cannot_arrive_in_time_is_not_priced_at_an_earlier_waves_speed(tiny):
    """The depot row is shared by every vehicle: one leaving at 01:30 (night speed) and one at 07:30 (the
    peak).  A job the 07:30 departure reaches 30 s too late at exact times must be too late at the price
    too — it was priced at the 01:30 speed, so the engine let the late trip through and the checker
    found the trunk unloading after the last mile had left (``trunk_late``)."""
    from fulfil.stages.subproblems import arc_travel_s

    night = compile_night(tiny)
    depot, site = night.travel.forward_index(0), night.travel.n_central + night.net.n_forward
    uniq = np.array([depot, site])
    dist = night.travel.distance_m(uniq, uniq)
    prof = night.net.vehicles.profile[0]
    free = float(night.travel.free_flow_s(uniq, uniq, prof, dist)[0, 1])
    f = night.travel.hourly_factors(prof)
    early, late = 90 * 60.0, 450 * 60.0
    t_early, t_late = travel_seconds(free, early, f), travel_seconds(free, late, f)
    assert t_late > t_early + 60.0  # the peak is slower
    close = int(late + t_late - 30.0)  # the 07:30 departure misses it by 30 s, the 01:30 one makes it
    start = np.array([early, late]).astype(np.int64)
    price = arc_travel_s(night, uniq, np.array([0, 1]), dist, [prof], start, np.array([86400, 86400]),
                         np.array([0, 0]), np.array([86400, close]), np.zeros(2), np.ones((2, 2), dtype=bool),
                         np.full((2, 2), 86400))
    assert price[0, 1] >= t_early  # the early departure arrives in time and is priced at least at its speed
    assert late + price[0, 1] > close  # the late one is refused by the engine, as exact timing refuses it
