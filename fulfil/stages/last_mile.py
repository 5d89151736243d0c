"""Stage 4: solve every forward warehouse's last mile on the executor; trips and unserved lines.

A dropped stop with chilled or frozen goods whose thermal-model limit is tighter than the
promise is reported as ``thermal_limit`` (that limit, not the promise, kept it off the
trips); other dropped stops as ``routing_dropped``; the jobs of a subproblem not solved
before an interruption as ``interrupted``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from fulfil.night import CompiledNight
from fulfil.stages.types import RoutedTrip, Subproblem, UnservedLine

if TYPE_CHECKING:
    from fulfil.executor import Executor
    from fulfil.params import PlanParams


@dataclass
class Routed:
    """What a routing stage produced."""

    trips: list[RoutedTrip]
    unserved: list[UnservedLine]
    interrupted: bool


def routing_params(params: PlanParams, budgets: list[float | None]) -> list[Any]:
    from solvers.routing import RoutingParams

    return [RoutingParams(time_limit_s=b, solution_limit=params.solution_limit, seed=params.seed) for b in budgets]


def run_budgets(problems: list[Any], params: PlanParams) -> list[float | None] | None:
    """Seconds per engine run by size (``params.seconds_per_job``), or None when the budget is shared."""
    from fulfil.routing_tasks import MIN_BUDGET_S

    if params.seconds_per_job is None or params.engine == "nearest":
        return None
    return [max(MIN_BUDGET_S, params.seconds_per_job * p.n_jobs) for p in problems]


def stage_run_budgets(problems: list[Any], params: PlanParams, budget_s: float | None,
                      workers: int) -> list[float | None]:
    """Seconds per engine run of each problem: by size (``params.seconds_per_job``), or the stage's
    wall budget ``budget_s`` shared over ``workers``."""
    from fulfil.routing_tasks import stage_budgets

    return run_budgets(problems, params) or stage_budgets(problems, budget_s, workers, engine=params.engine)


def solve(subs: list[Subproblem], params: PlanParams, budget_s: float | None, label: str,
          executor: Executor) -> tuple[dict[int, Any], bool]:
    """Solutions by position in ``subs`` (those finished before an interruption) and whether one came."""
    from fulfil.routing_tasks import solve_subproblems

    problems = [sp.problem for sp in subs]
    budgets = stage_run_budgets(problems, params, budget_s, executor.workers)
    return solve_subproblems(problems, routing_params(params, budgets), params.engine, executor, label)


def collect(night: CompiledNight, sp: Subproblem, sol: Any) -> tuple[list[RoutedTrip], list[UnservedLine]]:
    """One solution's trips and the unserved lines of its dropped jobs (``sol`` None: interrupted)."""
    trips: list[RoutedTrip] = []
    unserved: list[UnservedLine] = []
    if sol is None:
        for j in sp.jobs:
            for k, q in j.units.items():
                unserved.append(UnservedLine(j.owner, k, q, "interrupted", "the solve was interrupted first"))
        return trips, unserved
    promise = night.policy.promise_minutes
    for jn in sol.dropped:
        j = sp.jobs[int(jn) - 1]
        tight = [lim for (t, z), lim in sp.cold_limits.items() if j.crates[z] > 0 and lim < promise]
        for k, q in j.units.items():
            if tight:
                unserved.append(UnservedLine(j.owner, k, q, "thermal_limit",
                                             f"tonight's heat lets cold goods ride at most {min(tight):.0f} min "
                                             "(thermal model) and no vehicle could reach this stop that fast"))
            else:
                unserved.append(UnservedLine(j.owner, k, q, "routing_dropped",
                                             "no vehicle could fit this stop inside its window, the promise "
                                             "and the fleet's capacity and shifts"))
    for a, r in enumerate(sol.routes):
        if len(r):
            t, k = sp.vehicles[a]
            trips.append(RoutedTrip(sp.tier, t, k, sp.depot, float(sp.problem.start_s[a]) / 60.0,
                                    [sp.jobs[int(n) - 1] for n in r]))
    return trips, unserved


def route_last_mile(night: CompiledNight, subs: list[Subproblem], params: PlanParams, budget_s: float | None,
                    executor: Executor) -> Routed:
    """Solve every subproblem, then once more with each stop's window pinned near its exact time and
    the arcs priced for those hours (:func:`~fulfil.stages.subproblems.retimed_subproblem`); of the
    two solutions of a warehouse, the one cheaper when both are timed exactly is kept.  A wall
    budget is shared: :data:`RETIME_SHARE` of it goes to the second solve."""
    first = None if budget_s is None else budget_s * (1.0 - RETIME_SHARE)
    sols, interrupted = solve(subs, params, first, "last mile", executor)
    if not interrupted:
        sols, interrupted = _retime(night, subs, sols, params, None if budget_s is None else budget_s - first,
                                    executor)
    out = Routed([], [], interrupted)
    for i, sp in enumerate(subs):
        trips, unserved = collect(night, sp, sols.get(i))
        out.trips += trips
        out.unserved += unserved
    return out


#: Share of the last-mile stage's wall budget that goes to the re-solve at exact times.
RETIME_SHARE = 0.4


def _retime(night: CompiledNight, subs: list[Subproblem], sols: dict[int, Any], params: PlanParams,
            budget_s: float | None, executor: Executor) -> tuple[dict[int, Any], bool]:
    """``sols`` with each subproblem's solution replaced by the re-solve of its re-timed problem where
    that is cheaper at exact times.  ``subs`` keeps the first problems: the re-solve's windows are
    narrower, so its solution fits them too (the cold-chain repair rebuilds from the jobs anyway)."""
    from fulfil.stages.subproblems import retimed_subproblem

    idx = [i for i, sp in enumerate(subs) if i in sols and any(len(r) for r in sols[i].routes)]
    again = [retimed_subproblem(night, subs[i], _service_starts(night, subs[i], sols[i])) for i in idx]
    if not again:
        return sols, False
    new, interrupted = solve(again, params, budget_s, "last mile at exact times", executor)
    out = dict(sols)
    for n, i in enumerate(idx):
        if n in new and exact_cost(night, subs[i], new[n]) < exact_cost(night, subs[i], sols[i]):
            out[i] = new[n]
    return out, interrupted


def _timed_routes(night: CompiledNight, sp: Subproblem, sol: Any) -> list[tuple[int, Any, list[float]]]:
    """``(routing vehicle, exactly timed trip, service start of each job on it)`` of every used route."""
    from fulfil.stages.timing import time_trip

    out = []
    for a, r in enumerate(sol.routes):
        if not len(r):
            continue
        t, k = sp.vehicles[a]
        jobs = [sp.jobs[int(n) - 1] for n in r]
        tt = time_trip(night, RoutedTrip(sp.tier, t, k, sp.depot, float(sp.problem.start_s[a]) / 60.0, jobs))
        starts: list[float] = []
        g = -1
        for n, j in enumerate(jobs):  # time_trip merges consecutive jobs at one site into one stop
            g += n == 0 or j.site != jobs[n - 1].site
            starts.append(tt.stops[g].start)
        out.append((a, tt, starts))
    return out


def _service_starts(night: CompiledNight, sp: Subproblem, sol: Any) -> dict[int, float]:
    """Job number → exact service start (clock minutes) of every job ``sol`` serves."""
    return {int(n): s for a, _, starts in _timed_routes(night, sp, sol) for n, s in zip(sol.routes[a], starts,
                                                                                            strict=True)}


def exact_cost(night: CompiledNight, sp: Subproblem, sol: Any) -> float:
    """The objective of ``sol`` in ``sp``'s cost units with every trip timed exactly: fixed costs,
    metres, route seconds, the arrival (spoilage) cost and the penalties of dropped jobs."""
    pr = sp.problem
    cost = float(pr.penalty[np.asarray(sol.dropped, dtype=np.int64)].sum())
    t0 = float(pr.start_s.min())
    for a, tt, starts in _timed_routes(night, sp, sol):
        r = np.asarray(sol.routes[a], dtype=np.int64)
        path = np.concatenate([[0], r, [0]])
        cost += float(pr.fixed_cost[a]) + float(pr.dist_m[path[:-1], path[1:]].sum()) * float(pr.cost_per_m[a])
        cost += (tt.ret - tt.departure) * 60.0 * float(pr.cost_per_s[a])
        if pr.arrival_cost_per_s.size:
            cost += float((pr.arrival_cost_per_s[r] * (np.asarray(starts) * 60.0 - t0)).sum())
    return cost


__all__ = ["Routed", "collect", "exact_cost", "route_last_mile", "routing_params", "run_budgets", "solve", "stage_run_budgets"]
