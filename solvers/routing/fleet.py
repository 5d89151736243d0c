"""Fleet first, then distance: a two-phase search for problems whose fixed vehicle cost dominates.

When every vehicle's fixed cost is larger than any possible total arc cost
(e.g. the hierarchical "vehicles first, then distance" objective of the
Solomon / Gehring–Homberger tables, modelled by ``fulfil.bench.convert`` with
a huge fixed cost), one search on the combined objective leaves the distance
far from the best known even when the fleet is already minimal, and often
misses the minimal fleet too (Gehring–Homberger 200, 30 s, two cores:
R1_2_6 +8 %, RC1_2_1 +15 %, R2_2_6 +15 % at the best-known fleet). A
distance-only search on a capped fleet, and a cold PyVRP search for the first
feasible plan with one vehicle less, both do much better, hence:

1. **Fleet** (``phase1_share`` of the budget): :func:`solve_routing` on the
   problem as given (OR-Tools + PyVRP); its plan uses ``m`` vehicles.
2. **Distance** (the rest), PyVRP on the problem restricted to the vehicles
   in use with the fixed cost set to zero (pure distance; the fleet cap is
   a hard constraint), as independent *lanes* (:func:`run_lane`, a top-level
   function of plain data):

   * the reducing lane tries ``m - 1``, ``m - 2``, ... vehicles (cold start,
     stopped at the first feasible plan, at most ``reduce_share`` of the
     phase-2 time; only for a fleet of identical vehicles), then optimises
     the distance of its smallest fleet until the deadline;
   * given a ``submit`` callable and a wall budget, a second lane optimises
     the distance on the phase-1 fleet, warm-started from the phase-1 plan,
     at the same time (another seed).

   Without ``submit``, or with a deterministic budget, only the reducing lane
   runs (submitted when ``submit`` is given, else in this process). This
   module never starts a process itself.

Every plan is re-checked with :func:`solvers.routing.check.check_routes` on
the original problem and the one with the lowest original objective is kept
(fixed costs included, hence fewest vehicles first); the phase-1 plan is
always a candidate, so the result is never worse than phase 1.

Problems without a dominant fixed cost, with optional jobs, span or arrival
costs, or that PyVRP cannot express are solved by :func:`solve_routing`
alone with the whole budget.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from .check import check_routes
from .problem import RoutingProblem, RoutingSolution
from .solve import RoutingParams, solve_routing

__all__ = ["LaneResult", "dominant_fixed_cost", "run_lane", "solve_fleet_first"]

#: Per-vehicle arrays that :func:`_restrict` subsets.
_VEHICLE_FIELDS = ("capacity", "allowed", "deadline_s", "start_s", "end_max_s", "fixed_cost", "cost_per_m",
                   "cost_per_s")


def dominant_fixed_cost(problem: RoutingProblem) -> bool:
    """Whether ``problem`` is hierarchical: fleet size first, then arc cost.

    True when every job is mandatory, there is no span or arrival cost, and
    every vehicle's fixed cost exceeds ``(N + V) * max arc cost``, an upper
    bound of the arc cost of any plan (each job is left once, the depot at
    most ``V`` times). Then one vehicle less always beats any distance
    saving.
    """
    p = problem
    if p.n_jobs == 0 or np.any(p.penalty[1:] >= 0):
        return False
    if np.any(np.asarray(p.cost_per_s) != 0):
        return False
    if p.arrival_cost_per_s.size and np.any(p.arrival_cost_per_s != 0):
        return False
    rate = float(np.max(p.cost_per_m))
    max_arc = math.floor(float(p.dist_m.max()) * rate + 0.5)
    bound = (p.n_jobs + p.n_vehicles) * max(max_arc, 1)
    return int(np.min(p.fixed_cost)) > bound


def _restrict(problem: RoutingProblem, vehicles, zero_fixed: bool = True) -> RoutingProblem:
    """``problem`` with only ``vehicles`` (original indices, in that order), fixed cost zeroed."""
    idx = np.asarray(vehicles, dtype=np.int64)
    kw = {f: np.asarray(getattr(problem, f))[idx] for f in _VEHICLE_FIELDS}
    if zero_fixed:
        kw["fixed_cost"] = np.zeros(idx.size, dtype=np.int64)
    return replace(problem, **kw)


def _identical_fleet(problem: RoutingProblem) -> bool:
    return all(np.all(np.asarray(getattr(problem, f)) == np.asarray(getattr(problem, f))[:1])
               for f in _VEHICLE_FIELDS)


def _lower_bound(problem: RoutingProblem) -> int:
    """Vehicles needed by capacity alone (identical fleet)."""
    lb = 1
    for d in range(problem.n_dims):
        cap = int(problem.capacity[0, d])
        dem = int(problem.demand[1:, d].sum())
        if dem > 0:
            lb = max(lb, math.ceil(dem / max(cap, 1)))
    return lb


@dataclass
class LaneResult:
    """Plain, picklable outcome of one phase-2 lane."""

    routes: list[list[int]] | None  # per original vehicle; None: nothing better than the start
    vehicles: int                   # fleet the lane ended with
    log: list[str]
    iterations: int = 0
    error: str = ""


def _pyvrp(problem: RoutingProblem, vehicles: list[int], init: list[list[int]] | None, seed: int,
           deadline: float | None, iterations: int | None, first_feasible: bool = False):
    """PyVRP on ``problem`` restricted to ``vehicles`` (zero fixed cost).

    ``init``: start routes aligned with ``vehicles`` (original job numbers),
    or ``None`` for PyVRP's own random start. Returns ``(routes per original
    vehicle or None, iterations)``; ``None`` when no feasible plan was found.
    """
    import warnings

    from pyvrp import Route, Solution, solve
    from pyvrp.stop import FirstFeasible, MaxIterations, MaxRuntime, MultipleCriteria

    from .pyvrp_engine import translate, vehicle_routes

    sub = _restrict(problem, vehicles)
    tr = translate(sub)
    crit = []
    if first_feasible:
        crit.append(FirstFeasible())
    if iterations is not None:
        crit.append(MaxIterations(max(1, int(iterations))))
    if deadline is not None:
        crit.append(MaxRuntime(max(0.05, deadline - time.time())))
    stop = crit[0] if len(crit) == 1 else MultipleCriteria(crit)
    start = None
    if init is not None:
        client = {int(j): k for k, j in enumerate(tr.jobs.tolist())}
        type_of = {v: t for t, vs in enumerate(tr.type_vehicles) for v in vs}
        start = Solution(tr.data, [Route(tr.data, [client[int(j)] for j in r], type_of[k])
                                   for k, r in enumerate(init) if len(r)])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # PenaltyBoundWarning of a fleet that is too small
        res = solve(tr.data, stop, seed=int(seed), collect_stats=False, display=False, initial_solution=start)
    best = res.best
    iters = int(getattr(res, "num_iterations", 0))
    if not best.is_feasible() or not best.is_complete():
        return None, iters
    out: list[list[int]] = [[] for _ in range(problem.n_vehicles)]
    for k, r in enumerate(vehicle_routes(tr, best, len(vehicles))):
        out[vehicles[k]] = r
    return out, iters


def _lane(problem: RoutingProblem, vehicles: list[int], init: list[list[int]], seed: int, *,
          reduce_deadline: float | None, deadline: float | None, iterations: int | None,
          reduce: bool) -> LaneResult:
    """One phase-2 lane: optionally shrink the fleet, then minimise distance warm-started.

    ``init`` holds the start routes per original vehicle; ``vehicles`` the
    used ones (the fleet cap).
    """
    log: list[str] = []
    total_iters = 0
    try:
        best = [list(r) for r in init]
        fleet = list(vehicles)
        found_smaller = False
        if reduce and _identical_fleet(problem):
            lb = _lower_bound(problem)
            red_iters = None if iterations is None else max(1, iterations // 2)
            while len(fleet) > lb:
                if reduce_deadline is not None and reduce_deadline - time.time() < 0.2:
                    break
                try_fleet = fleet[:-1]
                routes, it = _pyvrp(problem, try_fleet, None, seed, reduce_deadline, red_iters, first_feasible=True)
                total_iters += it
                if routes is None:
                    log.append(f"{len(try_fleet)} vehicles: none found")
                    break
                used = [v for v in try_fleet if routes[v]]
                log.append(f"{len(try_fleet)} vehicles: feasible with {len(used)}")
                # Re-pack onto the first vehicles so that fleet[:k] are the used ones.
                packed = [[] for _ in range(problem.n_vehicles)]
                for k, v in enumerate(used):
                    packed[try_fleet[k]] = routes[v]
                best, fleet, found_smaller = packed, try_fleet[:len(used)], True
        start = [best[v] for v in fleet]
        routes, it = _pyvrp(problem, fleet, start, seed, deadline, iterations)
        total_iters += it
        if routes is None:
            log.append(f"distance on {len(fleet)} vehicles: no feasible plan")
            return LaneResult(best if found_smaller else None, len(fleet), log, total_iters)
        log.append(f"distance on {len(fleet)} vehicles: done")
        return LaneResult(routes, len(fleet), log, total_iters)
    except Exception as exc:  # noqa: BLE001 - a failed lane just contributes nothing
        return LaneResult(None, len(vehicles), log, total_iters, error=f"{type(exc).__name__}: {exc}")


def run_lane(problem: RoutingProblem, vehicles: list[int], init: list[list[int]], seed: int, *,
             reduce_s: float | None, total_s: float | None, iterations: int | None,
             reduce: bool) -> LaneResult:
    """One phase-2 lane (see the module docstring); a top-level function of plain data.

    ``reduce_s`` / ``total_s``: wall seconds, from the start of the call, for the fleet
    reduction and for the whole lane (``None``: no wall limit, ``iterations`` bounds
    every PyVRP run).
    """
    now = time.time()
    return _lane(problem, vehicles, init, seed, reduce_deadline=None if reduce_s is None else now + reduce_s,
                 deadline=None if total_s is None else now + total_s, iterations=iterations, reduce=reduce)


def _lane_log(lane: LaneResult) -> list[str]:
    return lane.log + ([f"error: {lane.error}"] if lane.error else [])


def solve_fleet_first(problem: RoutingProblem, params: RoutingParams | None = None,
                      phase1_share: float = 0.2, reduce_share: float = 0.5,
                      submit: Callable[..., Any] | None = None) -> RoutingSolution:
    """Solve ``problem``: fleet first, then distance (see the module docstring).

    Parameters
    ----------
    problem : RoutingProblem
        The problem.
    params : RoutingParams, optional
        Budget and seed; with a wall-clock ``time_limit_s`` the phases share
        it (``phase1_share`` for phase 1). With only ``solution_limit``
        (deterministic), phase 1 gets that budget and every PyVRP run of
        phase 2 ``params.effective_pyvrp_iterations`` iterations (half of it
        for each fleet-reduction attempt), so the result stays reproducible.
    phase1_share : float, default 0.2
        Share of the wall budget given to phase 1.
    reduce_share : float, default 0.5
        Largest share of the phase-2 time the reducing lane may spend on fleet
        reduction before it turns to distance.
    submit : callable, optional
        ``submit(fn, *args, **kwargs) -> future`` (e.g. ``fulfil.executor.Executor.submit``):
        phase 1's engine runs and the phase-2 lanes are submitted with it and run at the
        same time; without it everything runs here, one after the other.

    Returns
    -------
    RoutingSolution
        As :func:`solve_routing`; ``stats["fleet_first"]`` records the
        phases (``phase1_vehicles``, the lanes' logs and which plan was kept)
        when the two-phase search ran.
    """
    from .pyvrp_engine import expressible

    t0 = time.perf_counter()
    if params is None:
        params = RoutingParams()
    problem.validate()
    if params.engine == "ortools" or not dominant_fixed_cost(problem) or not expressible(problem)[0]:
        return solve_routing(problem, params, submit)

    T = params.time_limit_s
    p1 = replace(params, time_limit_s=None if T is None else T * phase1_share)
    start_wall = time.time()
    first = solve_routing(problem, p1, submit)
    info: dict = {"phase1_engine": first.engine, "phase1_vehicles": int(sum(1 for r in first.routes if len(r)))}
    if first.status != "ok" or len(first.dropped):
        first.stats = {**(first.stats or {}), "fleet_first": info}
        return first
    deadline = None if T is None else start_wall + T
    iterations = None if T is not None else params.effective_pyvrp_iterations
    if deadline is not None and deadline - time.time() < 0.5:
        first.stats = {**(first.stats or {}), "fleet_first": info}
        return first

    init = [[int(j) for j in r] for r in first.routes]
    used = [v for v, r in enumerate(init) if r]
    total_s = None if deadline is None else deadline - time.time()
    reduce_s = None if total_s is None else reduce_share * total_s
    lane_kw = {"reduce_s": reduce_s, "total_s": total_s, "iterations": iterations}
    candidates: list = []
    if submit is not None and total_s is not None:
        # two lanes at the same time: reduce the fleet (seed + 1), and distance on the phase-1 fleet
        f_red = submit(run_lane, problem, used, init, params.seed + 1, reduce=True, **lane_kw)
        f_dist = submit(run_lane, problem, used, init, params.seed, reduce=False, **lane_kw)
        red, dist = f_red.result(), f_dist.result()
        info["distance_log"] = _lane_log(dist)
        info["distance_iterations"] = dist.iterations
        candidates += [] if dist.routes is None else [dist.routes]
    elif submit is not None:
        red = submit(run_lane, problem, used, init, params.seed, reduce=True, **lane_kw).result()
    else:
        # no executor, or a deterministic budget: the reducing lane alone, here
        red = run_lane(problem, used, init, params.seed, reduce=True, **lane_kw)
    info["reduce_log"] = _lane_log(red)
    info["reduce_iterations"] = red.iterations
    candidates += [] if red.routes is None else [red.routes]

    best, kept = first, "phase1"
    chk0 = check_routes(problem, first.routes)
    best_obj = chk0.objective if chk0.ok else int(first.objective)
    discarded = 0
    for routes in candidates:
        chk = check_routes(problem, routes)
        if not chk.ok or len(chk.dropped):
            discarded += 1
            continue
        if chk.objective < best_obj:
            best_obj, kept = chk.objective, "phase2"
            best = RoutingSolution(
                routes=[np.asarray(r, dtype=np.int64) for r in routes],
                arrival_s=chk.arrival_s,
                dropped=chk.dropped,
                objective=chk.objective,
                status="ok",
                solutions_found=first.solutions_found + int(info.get("distance_iterations", 0))
                + int(info.get("reduce_iterations", 0)),
                wall_s=0.0,
                end_s=chk.end_s,
                solver_status="PYVRP_FEASIBLE",
                engine="pyvrp",
            )
    info["kept"] = kept
    info["discarded"] = discarded
    best.stats = {**(first.stats or {}), "fleet_first": info}
    best.wall_s = time.perf_counter() - t0
    return best
