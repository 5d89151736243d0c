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
   a hard constraint), on two cores when a child process can be started:

   * a child process tries ``m - 1``, ``m - 2``, ... vehicles (cold start,
     stopped at the first feasible plan, at most ``reduce_share`` of the
     phase-2 time; only for a fleet of identical vehicles) and sends every
     smaller fleet it finds to this process, then optimises the distance
     of its smallest fleet with another seed until the deadline;
   * this process optimises the distance on the current fleet, warm-started
     from the phase-1 plan, and switches (warm-started from the child's
     plan) as soon as the child reports a smaller fleet.

   Without a second core, inside a daemonic process or with a
   deterministic budget, only the child's work runs, in this process.

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
from dataclasses import dataclass, replace

import numpy as np

from .check import check_routes
from .problem import RoutingProblem, RoutingSolution
from .solve import RoutingParams, close_child, solve_routing

__all__ = ["dominant_fixed_cost", "solve_fleet_first"]

#: Per-vehicle arrays that :func:`_restrict` subsets.
_VEHICLE_FIELDS = ("capacity", "allowed", "deadline_s", "start_s", "end_max_s", "fixed_cost", "cost_per_m",
                   "cost_per_s")
#: Extra seconds granted to the phase-2 child beyond the deadline before it is killed.
_CHILD_GRACE_S = 5.0


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
class _LaneResult:
    """Plain, picklable outcome of one phase-2 lane."""

    routes: list[list[int]] | None  # per original vehicle; None: nothing better than the start
    vehicles: int                   # fleet the lane ended with
    log: list[str]
    iterations: int = 0
    error: str = ""


class _Interrupt:
    """PyVRP stopping criterion: true once ``conn`` has a message waiting."""

    def __init__(self, conn):
        self.conn = conn
        self.fired = False

    def __call__(self, best_cost) -> bool:
        if not self.fired and self.conn.poll(0):
            self.fired = True
        return self.fired


def _pyvrp(problem: RoutingProblem, vehicles: list[int], init: list[list[int]] | None, seed: int,
           deadline: float | None, iterations: int | None, first_feasible: bool = False, interrupt=None):
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
    if interrupt is not None:
        crit.append(interrupt)
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
          reduce: bool, report=None) -> _LaneResult:
    """One phase-2 lane: optionally shrink the fleet, then minimise distance warm-started.

    ``init`` holds the start routes per original vehicle; ``vehicles`` the
    used ones (the fleet cap). ``report(routes, fleet)`` is called with every
    smaller fleet found.
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
                if report is not None:
                    report(best, fleet)
        start = [best[v] for v in fleet]
        routes, it = _pyvrp(problem, fleet, start, seed, deadline, iterations)
        total_iters += it
        if routes is None:
            log.append(f"distance on {len(fleet)} vehicles: no feasible plan")
            return _LaneResult(best if found_smaller else None, len(fleet), log, total_iters)
        log.append(f"distance on {len(fleet)} vehicles: done")
        return _LaneResult(routes, len(fleet), log, total_iters)
    except Exception as exc:  # noqa: BLE001 - a failed lane just contributes nothing
        return _LaneResult(None, len(vehicles), log, total_iters, error=f"{type(exc).__name__}: {exc}")


def _lane_child(conn, *args, **kwargs) -> None:
    """Child process: a reducing lane that reports every smaller fleet, then its final result."""
    try:
        res = _lane(*args, report=lambda routes, fleet: conn.send(("fleet", routes, fleet)), **kwargs)
    except BaseException as exc:  # noqa: BLE001
        res = _LaneResult(None, 0, [], 0, error=f"{type(exc).__name__}: {exc}")
    try:
        conn.send(("done", res))
    finally:
        conn.close()


def _start_lane_child(args, kwargs):
    import multiprocessing as mp
    import sys
    import threading

    from .solve import _can_fork_child

    if not _can_fork_child():
        return None
    method = "fork" if sys.platform == "linux" and threading.active_count() == 1 else "spawn"
    try:
        ctx = mp.get_context(method)
        recv, send = ctx.Pipe(duplex=False)
        proc = ctx.Process(target=_lane_child, args=(send, *args), kwargs=kwargs, daemon=True)
        proc.start()
        send.close()
        return proc, recv
    except Exception:  # noqa: BLE001 - fall back to one lane in this process
        return None


def _parallel_phase2(problem: RoutingProblem, used: list[int], init: list[list[int]], seed: int,
                     reduce_deadline: float, deadline: float, child) -> tuple[list, dict]:
    """Distance here, fleet reduction in ``child``; switch to every smaller fleet the child reports.

    Returns ``(candidate plans per original vehicle, info)``.
    """
    proc, recv = child
    candidates: list[list[list[int]]] = []
    info: dict = {"distance_log": [], "distance_iterations": 0}
    fleet, start = list(used), [init[v] for v in used]
    child_final: _LaneResult | None = None
    try:
        while deadline - time.time() > 0.1:
            watch = _Interrupt(recv) if child_final is None else None
            routes, it = _pyvrp(problem, fleet, start, seed, deadline, None, interrupt=watch)
            info["distance_iterations"] += it
            if routes is not None:
                candidates.append(routes)
                start = [routes[v] for v in fleet]
            info["distance_log"].append(f"distance on {len(fleet)} vehicles: {it} iterations")
            if watch is None or not watch.fired:
                break
            try:
                msg = recv.recv()
            except (EOFError, OSError) as exc:  # the child died: keep optimising here
                child_final = _LaneResult(None, 0, [], 0, error=f"phase-2 child died: {exc!r}")
                continue
            if msg[0] == "fleet":
                _, croutes, cfleet = msg
                candidates.append(croutes)
                if len(cfleet) < len(fleet):
                    fleet, start = list(cfleet), [croutes[v] for v in cfleet]
            else:
                child_final = msg[1]
        while child_final is None:
            if not recv.poll(max(0.0, deadline - time.time()) + _CHILD_GRACE_S):
                child_final = _LaneResult(None, 0, [], 0, error="phase-2 child did not answer in time")
                break
            msg = recv.recv()
            if msg[0] == "fleet":
                candidates.append(msg[1])
            else:
                child_final = msg[1]
    except (EOFError, OSError) as exc:
        child_final = _LaneResult(None, 0, [], 0, error=f"phase-2 child died: {exc!r}")
    finally:
        close_child(recv, proc)
    info["reduce_log"] = child_final.log + ([f"error: {child_final.error}"] if child_final.error else [])
    info["reduce_iterations"] = child_final.iterations
    if child_final.routes is not None:
        candidates.append(child_final.routes)
    return candidates, info


def solve_fleet_first(problem: RoutingProblem, params: RoutingParams | None = None,
                      phase1_share: float = 0.2, reduce_share: float = 0.5) -> RoutingSolution:
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
        Largest share of the phase-2 time the child lane may spend on fleet
        reduction before it turns to distance.

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
        return solve_routing(problem, params)

    T = params.time_limit_s
    p1 = replace(params, time_limit_s=None if T is None else T * phase1_share)
    start_wall = time.time()
    first = solve_routing(problem, p1)
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
    reduce_deadline = None if deadline is None else time.time() + reduce_share * (deadline - time.time())
    child_kw = {"reduce_deadline": reduce_deadline, "deadline": deadline, "iterations": iterations, "reduce": True}
    child = None if deadline is None else _start_lane_child((problem, used, init, params.seed + 1), child_kw)
    if child is not None:
        candidates, lane_info = _parallel_phase2(problem, used, init, params.seed, reduce_deadline, deadline, child)
        info.update(lane_info)
    else:
        # One core, a daemonic worker, or a deterministic budget: the reducing lane alone, here.
        lane = _lane(problem, used, init, params.seed, **child_kw)
        info["reduce_log"] = lane.log + ([f"error: {lane.error}"] if lane.error else [])
        info["reduce_iterations"] = lane.iterations
        candidates = [] if lane.routes is None else [lane.routes]

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
