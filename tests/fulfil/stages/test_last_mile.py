"""Stage 4 (fulfil.stages.last_mile): solve each warehouse's problem, collect trips and unserved lines."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from fulfil.executor import SerialBackend
from fulfil.pipeline import PlanParams
from fulfil.stages.allocate import allocate
from fulfil.stages.jobs import last_mile_jobs
from fulfil.stages.last_mile import collect, route_last_mile, routing_params
from fulfil.stages.subproblems import last_mile_subproblems
from fulfil.stages.types import LAST_MILE

PARAMS = PlanParams(time_limit_s=None, solution_limit=30, workers=1)
P2 = 1


def _subs(night):
    a = allocate(night)
    jobs, _ = last_mile_jobs(night, a.assign, a.units)
    return a, last_mile_subproblems(night, jobs)


def test_collect_without_solution_reports_every_job_interrupted(tiny_night):
    _, subs = _subs(tiny_night)
    sp = subs[0]
    trips, unserved = collect(tiny_night, sp, None)
    assert trips == []
    assert {u.reason for u in unserved} == {"interrupted"}
    expect = sorted((j.owner, k, q) for j in sp.jobs for k, q in j.units.items())
    assert sorted((u.pickup, u.product, u.units) for u in unserved) == expect


def test_collect_maps_routes_to_trips_and_drops_to_routing_dropped(tiny_night):
    """A hand-made solution: vehicle 0 serves nodes 2, 1; vehicle 1 nothing; node 3 dropped."""
    _, subs = _subs(tiny_night)
    sp = subs[0]
    assert len(sp.jobs) >= 3
    sol = SimpleNamespace(routes=[np.array([2, 1]), np.array([], dtype=np.int64), np.array([], dtype=np.int64)],
                          dropped=np.array([3]))
    trips, unserved = collect(tiny_night, sp, sol)
    assert len(trips) == 1
    rt = trips[0]
    assert rt.tier == LAST_MILE and (rt.vtype, rt.vindex) == sp.vehicles[0] and rt.depot == sp.depot
    assert rt.jobs == [sp.jobs[1], sp.jobs[0]]
    assert rt.departure_min == sp.problem.start_s[0] / 60.0
    j3 = sp.jobs[2]
    assert {u.reason for u in unserved} == {"routing_dropped"}
    assert sorted((u.pickup, u.product, u.units) for u in unserved) == sorted((j3.owner, k, q) for k, q in j3.units.items())


def test_dropped_job_under_a_tight_thermal_limit_is_thermal_limit(tiny_night):
    """A job with cold goods dropped where the subproblem had a thermal proxy limit under the promise."""
    _, subs = _subs(tiny_night)
    sp = subs[0]
    i = next(n for n, j in enumerate(sp.jobs, start=1) if j.crates[1] > 0)
    sp.cold_limits = {(sp.vehicles[0][0], 1): 40.0}
    sol = SimpleNamespace(routes=[np.array([], dtype=np.int64)] * len(sp.vehicles), dropped=np.array([i]))
    _, unserved = collect(tiny_night, sp, sol)
    assert unserved and {u.reason for u in unserved} == {"thermal_limit"}
    assert "40 min" in unserved[0].detail


def test_route_last_mile_on_tiny(tiny_night):
    """tiny: P2 opens at 09:00 but FW1 dispatches at 06:00 with a 120-min promise for its milk, so it is
    dropped (routing_dropped); every other job rides exactly once, from its own warehouse."""
    a, subs = _subs(tiny_night)
    out = route_last_mile(tiny_night, subs, PARAMS, None, SerialBackend())
    assert not out.interrupted
    assert {(u.pickup, u.reason) for u in out.unserved} == {(P2, "routing_dropped")}
    ridden = [j for rt in out.trips for j in rt.jobs]
    all_jobs = [j for sp in subs for j in sp.jobs]
    assert len(ridden) == len({id(j) for j in ridden}) == len(all_jobs) - sum(j.owner == P2 for j in all_jobs)
    for rt in out.trips:
        assert rt.tier == LAST_MILE
        assert all(a.assign[j.owner] == rt.depot - tiny_night.travel.n_central for j in rt.jobs)


def test_routing_params_carry_seed_and_solution_limit():
    ps = routing_params(PlanParams(time_limit_s=None, solution_limit=7, seed=3, workers=1), [None, 2.0])
    assert [(p.time_limit_s, p.solution_limit, p.seed) for p in ps] == [(None, 7, 3), (2.0, 7, 3)]


def test_keyboard_interrupt_keeps_solved_warehouses(small_night, monkeypatch):
    """Ctrl-C while the second warehouse is being solved: the first keeps its trips, the second's jobs are all
    `interrupted`, and the stage says it was interrupted."""
    import fulfil.routing_tasks as rt_mod

    real = rt_mod.run_engine
    seen: list[int] = []

    def flaky(problem, params):
        if seen and id(problem) != seen[0]:
            raise KeyboardInterrupt
        seen.append(id(problem))
        return real(problem, params)

    monkeypatch.setattr(rt_mod, "run_engine", flaky)
    a, subs = _subs(small_night)
    assert len(subs) == 2
    out = route_last_mile(small_night, subs, PARAMS, None, SerialBackend())
    assert out.interrupted
    solved_depots = {rt.depot for rt in out.trips}
    assert len(solved_depots) == 1
    lost = next(sp for sp in subs if sp.depot not in solved_depots)
    assert {u.reason for u in out.unserved} == {"interrupted"}
    assert sum(u.units for u in out.unserved) == sum(q for j in lost.jobs for q in j.units.values())


def test_search_time_by_size_gives_each_run_its_share_of_jobs():
    """``seconds_per_job``: every engine run gets max(floor, seconds × jobs), whatever the wall budget."""
    from types import SimpleNamespace

    from fulfil.params import PlanParams
    from fulfil.routing_tasks import MIN_BUDGET_S
    from fulfil.stages.last_mile import run_budgets

    problems = [SimpleNamespace(n_jobs=n) for n in (10, 200, 1000)]
    assert run_budgets(problems, PlanParams()) is None  # a shared wall budget
    got = run_budgets(problems, PlanParams(time_limit_s=None, seconds_per_job=0.005))
    assert got == [MIN_BUDGET_S, 1.0, 5.0]
    assert PlanParams(seconds_per_job=0.005).budgets() == (None, None)
    with pytest.raises(Exception, match="per job"):
        PlanParams(seconds_per_job=0.0)
