"""Stage 4: solve every forward warehouse's last mile on the executor; trips and unserved lines.

A dropped stop with chilled or frozen goods whose thermal-model limit is tighter than the
promise is reported as ``thermal_limit`` (that limit, not the promise, kept it off the
trips); other dropped stops as ``routing_dropped``; the jobs of a subproblem not solved
before an interruption as ``interrupted``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

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
    sols, interrupted = solve(subs, params, budget_s, "last mile", executor)
    out = Routed([], [], interrupted)
    for i, sp in enumerate(subs):
        trips, unserved = collect(night, sp, sols.get(i))
        out.trips += trips
        out.unserved += unserved
    return out


__all__ = ["Routed", "collect", "route_last_mile", "routing_params", "run_budgets", "solve", "stage_run_budgets"]
