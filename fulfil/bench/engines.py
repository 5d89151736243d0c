"""Routing engines compared by ``fulfil bench``: ours and the peers, behind one signature.

Every engine is ``engine(problem, time_limit_s, seed) -> RoutingSolution`` on a
:class:`~solvers.routing.RoutingProblem`: for the standard sets the one built by
:func:`fulfil.bench.convert.to_routing_problem` (same integer matrices, windows and fleet for
every engine), for the project's scenario files a warehouse's last-mile subproblem flattened
by :func:`fulfil.bench.scenarios.flatten`. Routes come back as node indices (= customer
numbers); the benchmark never trusts an engine's cost and re-checks every solution
(:mod:`fulfil.bench.verify`, or :func:`solvers.routing.check.check_routes` for scenarios).

The peers are written once, for both uses, and take ``jobs=`` (the jobs to model; the
others come back dropped). From the problem's data they model: a heterogeneous fleet (per
vehicle capacities, shift, fixed cost, cost per metre and per second), every load dimension
some job uses, allowed vehicles, the time dimension only when a window, a shift or a time cost
can bind (the CVRP models have none), service at the job (``service_var_s``) and the
site-merged hand-over time (``service_fixed_s``, charged when the next job is at another
site), and optional jobs (``penalty >= 0``) where the peer can price a dropped job. What no
peer can express -- a cost per second of arrival, deadlines that differ between vehicles -- is
refused with a ``ValueError`` (``flatten`` folds it into the windows first). On the
homogeneous CVRP / VRPTW instances of the standard sets every peer builds exactly the model it
always built.

Engines
-------
``ours``
    :func:`solvers.routing.fleet.solve_fleet_first` with a wall-clock limit
    and ``engine="auto"``: :func:`solvers.routing.solve_routing` (OR-Tools +
    PyVRP), and, when the fixed vehicle cost dominates (the hierarchical
    ``"vehicles"`` convention), a second, distance-only phase on the fleet
    found first (see that module). Given ``submit`` (an executor's), its
    engine runs are tasks of that executor, each with the whole budget, at
    the same time: two cores. ``fulfil bench`` runs it so.
``ortools-plain``
    The textbook OR-Tools model anyone writes in an afternoon from the
    OR-Tools guides: Python transit callbacks, arc cost = distance (times the
    vehicle's rate), fixed costs, one capacity dimension per load column, a
    time dimension with waiting slack and span costs when time can bind,
    allowed vehicles, a disjunction with the penalty for an optional job,
    ``PATH_CHEAPEST_ARC`` first solution, ``GUIDED_LOCAL_SEARCH``, the time
    limit. One core.
``pyvrp``
    PyVRP (>= 0.14) hybrid genetic search through its ``Model``, given the
    explicit integer matrices with ``add_edge`` (one routing profile per
    cost rate), one vehicle type per distinct vehicle, allowed-vehicle sets as
    extra 0/1 load dimensions, optional clients with prize = penalty,
    ``MaxRuntime(time_limit_s)``. One core.
``vroom``
    pyvroom (>= 1.15), explicit integer cost and duration matrices (one
    profile per cost rate), one location per site with the hand-over time as
    setup, skills for allowed vehicles, exploration level 5, one thread,
    ``timeout = time_limit_s``. VROOM cannot price a dropped job: it serves
    what it can. A fixed-effort heuristic: it usually stops well before the
    limit.

OR-Tools, PyVRP and VROOM objects are created inside the call (each call is
meant to run in its own worker process) and nothing but numpy leaves it.
"""

from __future__ import annotations

import importlib.util
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from solvers.routing import RoutingParams, RoutingProblem, RoutingSolution

__all__ = ["ENGINES", "PEERS", "ours", "ortools_plain", "pyvrp_engine", "vroom_engine", "engine_missing"]


# ------------------------------------------------------------------- ours
def ours(problem: RoutingProblem, time_limit_s: float | None, seed: int = 0,
         solution_limit: int | None = None, submit: Callable[..., Any] | None = None) -> RoutingSolution:
    """The project's engine: :func:`solvers.routing.solve_routing`, fleet first when that matters.

    Parameters
    ----------
    problem : RoutingProblem
        The problem.
    time_limit_s : float or None
        Wall-clock budget of the search.
    seed : int, default 0
        Search seed.
    solution_limit : int, optional
        Deterministic budget (number of solutions) instead of, or on top of,
        the time limit.
    submit : callable, optional
        ``submit(fn, *args, **kwargs) -> future`` of an executor
        (:meth:`fulfil.executor.Executor.submit`): every engine run (and
        every phase-2 lane) is a task of it, each with the whole budget, at
        the same time -- two cores, as ``fulfil bench`` runs it. Without it,
        everything runs here on one core, one after the other (a wall budget
        halved between OR-Tools and PyVRP).

    Notes
    -----
    Runs the product path, ``engine="auto"``: OR-Tools and, when PyVRP can
    express the problem in full, PyVRP; the better plan verified against the
    problem arrays is kept (``stats["engines_run"]``, ``stats["parallel"]``).
    No process is started here.

    When the problem itself says the objective is hierarchical -- every
    vehicle's fixed cost exceeds any possible total arc cost, every job is
    mandatory and nothing else is priced
    (:func:`solvers.routing.fleet.dominant_fixed_cost`; the ``"vehicles"``
    convention of :mod:`fulfil.bench.convert` builds exactly that) -- the
    search is split (:func:`solvers.routing.fleet.solve_fleet_first`): a
    fifth of the budget for the fleet with the call above, then the rest
    with PyVRP on the fleet it used, fixed cost dropped (pure distance),
    after first looking for a plan with fewer vehicles.
    The plan with the lowest original objective is
    kept, so never more vehicles than the first phase found. Measured on six
    200-customer Gehring-Homberger instances at 30 s (``--workers 1``, a
    loaded two-core machine): mean gap +8.2 % -> +2.4 %, e.g. R1_2_6 +8.1 ->
    +4.4 %, R2_2_6 +15.2 -> +0.2 %, RC1_2_1 +15.4 -> +11.3 %, fleets equal.
    Other problems (``"distance"`` and ``"cvrp"`` conventions) are solved by
    ``solve_routing`` alone, unchanged.
    """
    from solvers.routing.fleet import solve_fleet_first

    return solve_fleet_first(problem, RoutingParams(time_limit_s=time_limit_s, solution_limit=solution_limit,
                                                    seed=seed, engine="auto"), submit=submit)


# --------------------------------------------------------------- helpers
@dataclass(frozen=True)
class _Model:
    """What a peer models of a problem, decided from the problem's data alone.

    ``nodes`` is ``[0, *jobs]`` (model node ``k`` is problem node ``nodes[k]``); ``dims`` the
    load columns; ``timed``: windows, shifts or time costs can bind, so time is modelled
    (the CVRP models skip it); ``fixed_start``: time is priced, so vehicles leave at their
    ``start_s`` (otherwise at any time of the shift, as in the textbook VRPTW models);
    ``merged``: some job has a site-merged hand-over time (``service_fixed_s``), charged only
    when the next job is at another site; ``patterns``: the allowed-vehicle sets not implied by
    capacity, one per distinct set (``pattern_of[j]`` its index, ``-1`` for none).
    """

    nodes: np.ndarray
    dims: list[int]
    timed: bool
    fixed_start: bool
    merged: bool
    pattern_of: np.ndarray
    patterns: list[np.ndarray]


def _time_binds(p: RoutingProblem, jobs: np.ndarray) -> bool:
    """False when no window, shift or time cost can bind (the CVRP models): time is then not modelled."""
    if np.any(np.asarray(p.cost_per_s) != 0):
        return True
    longest = (int(p.travel_s.max()) * (p.n_nodes + 1) + int(p.service_var_s.sum())
               + int(p.service_fixed_s.sum()))
    first, last = int(p.start_s.min()), int(p.start_s.max())
    wide = bool(np.all(p.tw_open_s[jobs] <= first) and np.all(p.tw_close_s[jobs] >= last + longest))
    return not (wide and bool(np.all(p.end_max_s.astype(np.int64) >= p.start_s.astype(np.int64) + longest)))


def _model(problem: RoutingProblem, jobs, who: str) -> _Model:
    """The peers' common reading of ``problem`` restricted to ``jobs`` (default: every job).

    Raises
    ------
    ValueError
        For what no peer can express: costs per second of arrival, or a job whose
        deadline differs between the vehicles that may carry it and binds before its window
        closes (fold such deadlines into the windows first, as
        :func:`fulfil.bench.scenarios.flatten` does).
    """
    p = problem
    jobs = (np.arange(1, p.n_nodes, dtype=np.int64) if jobs is None else np.asarray(jobs, dtype=np.int64))
    if p.arrival_cost_per_s.size and np.any(p.arrival_cost_per_s != 0):
        raise ValueError(f"{who}: costs per second of arrival cannot be modelled (flatten the problem first)")
    dims = [d for d in range(p.n_dims) if np.any(p.demand[jobs, d] != 0)] or ([0] if p.n_dims else [])
    fits = (np.all(p.demand[None, :, dims] <= p.capacity[:, None, dims], axis=2) if dims
            else np.ones((p.n_vehicles, p.n_nodes), dtype=bool))
    allowed = p.allowed.astype(bool)
    can = allowed & fits
    early = np.asarray(p.deadline_s, dtype=np.int64) < np.asarray(p.tw_close_s, dtype=np.int64)[None, :]
    if np.any((can & early)[:, jobs]):
        j = int(jobs[np.flatnonzero((can & early)[:, jobs].any(axis=0))[0]])
        raise ValueError(f"{who}: job {j} has a vehicle deadline before its window closes; fold the deadlines "
                         "into the windows first (flatten the problem)")
    pattern_of = np.full(p.n_nodes, -1, dtype=np.int64)
    patterns: dict[bytes, int] = {}
    for j in jobs[(~allowed & fits)[:, jobs].any(axis=0)].tolist():
        pattern_of[j] = patterns.setdefault(allowed[:, j].tobytes(), len(patterns))
    return _Model(
        nodes=np.concatenate([[0], jobs]).astype(np.int64), dims=dims, timed=_time_binds(p, jobs),
        fixed_start=bool(np.any(np.asarray(p.cost_per_s) != 0)),
        merged=bool(np.any(p.service_fixed_s[jobs] != 0)), pattern_of=pattern_of,
        patterns=[np.frombuffer(k, dtype=bool) for k in patterns],
    )


def _arc_costs(dist_m: np.ndarray, rate: float) -> np.ndarray:
    """Integer arc costs ``round_half_up(dist_m * rate)`` (the distance itself at rate 1)."""
    from solvers.routing.model import round_half_up

    if rate == 1.0:
        return np.asarray(dist_m, dtype=np.int64)
    return np.asarray(round_half_up(np.asarray(dist_m, dtype=np.float64) * rate), dtype=np.int64)


def _span(p: RoutingProblem) -> np.ndarray:
    """Integer cost per second of route duration of every vehicle."""
    from solvers.routing.model import round_half_up

    return np.asarray(round_half_up(np.asarray(p.cost_per_s, dtype=np.float64)), dtype=np.int64)


def _solution(problem: RoutingProblem, routes: list[list[int]], objective: int, t0: float, status: str = "ok",
              solutions: int = 0, solver_status: str = "") -> RoutingSolution:
    """A :class:`RoutingSolution` from plain routes (arrival times recomputed, earliest start)."""
    p = problem
    V = p.n_vehicles
    routes = list(routes) + [[] for _ in range(max(0, V - len(routes)))]
    arr_list, end_s = [], np.zeros(len(routes), dtype=np.int64)
    transit = p.transit_time_s()
    for v, r in enumerate(routes):
        t = int(p.start_s[min(v, V - 1)])
        prev, arr = 0, []
        for j in r:
            t = max(t + int(transit[prev, j]), int(p.tw_open_s[j]))
            arr.append(t)
            prev = j
        end_s[v] = t + int(transit[prev, 0]) if r else int(p.start_s[min(v, V - 1)])
        arr_list.append(np.asarray(arr, dtype=np.int64))
    served = np.zeros(p.n_nodes, dtype=bool)
    for r in routes:
        served[np.asarray(r, dtype=np.int64)] = True
    return RoutingSolution(
        routes=[np.asarray(r, dtype=np.int64) for r in routes],
        arrival_s=arr_list,
        dropped=np.flatnonzero(~served[1:]).astype(np.int64) + 1,
        objective=int(objective),
        status=status,
        solutions_found=int(solutions),
        wall_s=time.perf_counter() - t0,
        end_s=end_s,
        solver_status=solver_status,
    )


# --------------------------------------------------------- ortools-plain
def ortools_plain(problem: RoutingProblem, time_limit_s: float, seed: int = 0,
                  jobs: np.ndarray | None = None) -> RoutingSolution:
    """The textbook OR-Tools model (see the module docstring); ``jobs``: the jobs to model (default all).

    ``seed`` is unused: the textbook model has no randomness to seed.
    """
    from ortools.constraint_solver import pywrapcp, routing_enums_pb2

    t0 = time.perf_counter()
    mdl = _model(problem, jobs, "ortools-plain")
    p = problem
    V, nodes = p.n_vehicles, mdl.nodes
    n = int(nodes.size)
    if n == 1:
        return _solution(p, [], 0, t0, solver_status="no job to route")
    sub = np.ix_(nodes, nodes)
    dist = p.dist_m[sub]

    manager = pywrapcp.RoutingIndexManager(n, V, 0)
    routing = pywrapcp.RoutingModel(manager)

    arc_index: dict[float, int] = {}
    for v in range(V):
        rate = float(p.cost_per_m[v])
        if rate not in arc_index:
            m = _arc_costs(dist, rate).tolist()

            def distance_callback(from_index, to_index, m=m):
                return m[manager.IndexToNode(from_index)][manager.IndexToNode(to_index)]

            arc_index[rate] = routing.RegisterTransitCallback(distance_callback)
        routing.SetArcCostEvaluatorOfVehicle(arc_index[rate], v)
        if int(p.fixed_cost[v]):
            routing.SetFixedCostOfVehicle(int(p.fixed_cost[v]), v)

    for d in mdl.dims:
        dem = p.demand[nodes, d].astype(np.int64).tolist()

        def demand_callback(from_index, dem=dem):
            return dem[manager.IndexToNode(from_index)]

        demand_index = routing.RegisterUnaryTransitCallback(demand_callback)
        routing.AddDimensionWithVehicleCapacity(demand_index, 0, [int(c) for c in p.capacity[:, d]], True,
                                                "Capacity" if len(mdl.dims) == 1 else f"Capacity{d}")

    if mdl.timed:
        transit = p.transit_time_s()[sub].astype(np.int64).tolist()  # service at the origin + travel

        def time_callback(from_index, to_index):
            return transit[manager.IndexToNode(from_index)][manager.IndexToNode(to_index)]

        time_index = routing.RegisterTransitCallback(time_callback)
        horizon = int(p.end_max_s.max())
        routing.AddDimension(time_index, horizon, horizon, False, "Time")
        time_dimension = routing.GetDimensionOrDie("Time")
        for k in range(1, n):
            j = int(nodes[k])
            time_dimension.CumulVar(manager.NodeToIndex(k)).SetRange(int(p.tw_open_s[j]),
                                                                   int(min(p.tw_close_s[j], horizon)))
        span = _span(p)
        for v in range(V):
            start, end = routing.Start(v), routing.End(v)
            latest_start = int(p.start_s[v]) if mdl.fixed_start else int(p.end_max_s[v])
            time_dimension.CumulVar(start).SetRange(int(p.start_s[v]), latest_start)
            time_dimension.CumulVar(end).SetRange(int(p.start_s[v]), int(p.end_max_s[v]))
            if span[v]:
                time_dimension.SetSpanCostCoefficientForVehicle(int(span[v]), v)
            if not mdl.fixed_start:
                routing.AddVariableMinimizedByFinalizer(time_dimension.CumulVar(start))
            routing.AddVariableMinimizedByFinalizer(time_dimension.CumulVar(end))

    for k in range(1, n):
        j = int(nodes[k])
        index = manager.NodeToIndex(k)
        forbidden = [v for v in range(V) if not p.allowed[v, j]]
        if forbidden:  # SetAllowedVehiclesForIndex does not take Python lists in OR-Tools 9.15
            routing.VehicleVar(index).RemoveValues(forbidden)
        if p.penalty[j] >= 0:  # optional job: dropped at its penalty
            routing.AddDisjunction([index], int(p.penalty[j]))

    params = pywrapcp.DefaultRoutingSearchParameters()
    params.first_solution_strategy = routing_enums_pb2.FirstSolutionStrategy.PATH_CHEAPEST_ARC
    params.local_search_metaheuristic = routing_enums_pb2.LocalSearchMetaheuristic.GUIDED_LOCAL_SEARCH
    params.time_limit.FromMilliseconds(max(1, int(round(time_limit_s * 1000))))

    solution = routing.SolveWithParameters(params)
    status = routing_enums_pb2.RoutingSearchStatus.Value.Name(routing.status())
    if solution is None:
        return _solution(p, [], -1, t0, status="no_solution", solver_status=status)
    routes = []
    for v in range(V):
        index = solution.Value(routing.NextVar(routing.Start(v)))
        r = []
        while not routing.IsEnd(index):
            r.append(int(nodes[manager.IndexToNode(index)]))
            index = solution.Value(routing.NextVar(index))
        routes.append(r)
    return _solution(p, routes, solution.ObjectiveValue(), t0, solutions=routing.solver().Solutions(),
                     solver_status=status)


# ------------------------------------------------------------------ pyvrp
def pyvrp_engine(problem: RoutingProblem, time_limit_s: float, seed: int = 0,
                 jobs: np.ndarray | None = None) -> RoutingSolution:
    """PyVRP 0.14 through its ``Model`` on the problem's integer matrices (``MaxRuntime(time_limit_s)``).

    ``jobs``: the jobs to model (default all; the others come back dropped).
    """
    from pyvrp import Model
    from pyvrp.stop import MaxRuntime

    t0 = time.perf_counter()
    mdl = _model(problem, jobs, "pyvrp")
    p = problem
    V, nodes = p.n_vehicles, mdl.nodes
    n = int(nodes.size)
    if n == 1:
        return _solution(p, [], 0, t0, solver_status="no job to route")
    timed = mdl.timed
    m = Model()
    # Coordinates are irrelevant (explicit edges below); 0, 0 for every location.
    locs = [m.add_location(0, 0) for _ in range(n)]
    if timed:
        depot = m.add_depot(locs[0], tw_early=int(p.start_s.min()), tw_late=int(p.end_max_s.max()))
    else:
        depot = m.add_depot(locs[0])
    big = max(1, n - 1)
    n_extra = len(mdl.patterns)
    for k in range(1, n):
        j = int(nodes[k])
        load = [int(p.demand[j, d]) for d in mdl.dims] + [int(mdl.pattern_of[j] == e) for e in range(n_extra)]
        kw: dict = {"delivery": load}
        if timed:
            # a site-merged hand-over time lives in the duration matrix (the transit), not in the client
            kw.update(service_duration=0 if mdl.merged else int(p.service_var_s[j]),
                      tw_early=int(p.tw_open_s[j]), tw_late=int(p.tw_close_s[j]))
        if p.penalty[j] >= 0:  # optional job: a prize worth its penalty
            kw.update(required=False, prize=int(p.penalty[j]))
        m.add_client(locs[k], **kw)

    rates = list(dict.fromkeys(float(r) for r in p.cost_per_m))
    profiles = [None] + [m.add_profile() for _ in rates[1:]]
    span = _span(p)
    groups: dict[tuple, list[int]] = {}
    for v in range(V):
        cap = tuple(int(p.capacity[v, d]) for d in mdl.dims) + tuple(big if s[v] else 0 for s in mdl.patterns)
        key = (cap, int(p.start_s[v]), int(p.end_max_s[v]), int(p.fixed_cost[v]),
               rates.index(float(p.cost_per_m[v])), int(span[v]))
        groups.setdefault(key, []).append(v)
    type_vehicles = []
    for (cap, start, end, fixed, prof, sc), members in groups.items():
        vt: dict = {"num_available": len(members), "capacity": list(cap), "start_depot": depot, "end_depot": depot,
                    "fixed_cost": fixed}
        if timed:
            vt.update(tw_early=start, tw_late=end)
            if mdl.fixed_start:
                vt["start_late"] = start
        if sc:
            vt["unit_duration_cost"] = sc
        if profiles[prof] is not None:
            vt["profile"] = profiles[prof]
        m.add_vehicle_type(**vt)
        type_vehicles.append(members)

    sub = np.ix_(nodes, nodes)
    if not timed:
        duration = np.zeros((n, n), dtype=np.int64)
    elif mdl.merged:
        duration = p.transit_time_s()[sub].astype(np.int64)
    else:
        duration = p.travel_s[sub].astype(np.int64)
    for prof, rate in zip(profiles, rates, strict=True):
        dist = _arc_costs(p.dist_m[sub], rate)
        for i in range(n):
            for j in range(n):
                if i != j:
                    m.add_edge(locs[i], locs[j], int(dist[i, j]), int(duration[i, j]), profile=prof)
    result = m.solve(MaxRuntime(float(time_limit_s)), seed=int(seed), display=False)
    best = result.best
    routes: list[list[int]] = [[] for _ in range(V)]
    used = [0] * len(type_vehicles)
    for route in best.routes():
        t = int(route.vehicle_type())
        routes[type_vehicles[t][used[t]]] = [int(nodes[a.idx + 1]) for a in route if a.is_client()]
        used[t] += 1
    status = "ok" if best.is_feasible() else "infeasible"
    return _solution(p, routes, int(result.cost()) if best.is_feasible() else -1, t0, status=status,
                     solutions=int(getattr(result, "num_iterations", 0)),
                     solver_status="feasible" if best.is_feasible() else "infeasible")


# ------------------------------------------------------------------ vroom
def vroom_engine(problem: RoutingProblem, time_limit_s: float, seed: int = 0,
                 jobs: np.ndarray | None = None) -> RoutingSolution:
    """pyvroom 1.15 with explicit integer cost and duration matrices (see the module docstring).

    ``jobs``: the jobs to model (default all). ``seed`` is unused (VROOM is deterministic).
    """
    from datetime import timedelta

    import vroom

    t0 = time.perf_counter()
    mdl = _model(problem, jobs, "vroom")
    p = problem
    V, timed = p.n_vehicles, mdl.timed
    job_list = mdl.nodes[1:].tolist()
    if not job_list:
        return _solution(p, [], 0, t0, solver_status="no job to route")
    # one VROOM location per physical site, so that VROOM's setup (charged once per consecutive
    # visit of a location) is the site-merged hand-over time
    rep, loc_of, site_loc = [0], {}, {}
    for j in job_list:
        s = int(p.site[j])
        if s not in site_loc:
            site_loc[s] = len(rep)
            rep.append(j)
        loc_of[j] = site_loc[s]
    sub = np.ix_(rep, rep)
    travel = p.travel_s[sub].astype(np.int64)
    span = _span(p)
    inp = vroom.Input()
    profile_of: dict[tuple[float, int], str] = {}
    for v in range(V):
        key = (float(p.cost_per_m[v]), int(span[v]))
        if key not in profile_of:
            name = "car" if not profile_of else f"car{len(profile_of)}"
            profile_of[key] = name
            cost = _arc_costs(p.dist_m[sub], key[0]) + key[1] * travel
            duration = travel if timed else cost  # without windows VROOM's durations are the costs
            if int(cost.max()) >= 2**32 or int(duration.max()) >= 2**32:
                raise ValueError("vroom: arc costs or travel times do not fit VROOM's 32-bit matrices")
            inp.set_durations_matrix(name, duration.astype(np.uint32))
            inp.set_costs_matrix(name, cost.astype(np.uint32))
    skill_of: dict[int, int] = {}
    patterns: dict[bytes, int] = {}
    if not p.allowed[:, job_list].all():  # zone compatibility as skills
        for j in job_list:
            skill_of[j] = patterns.setdefault(p.allowed[:, j].astype(bool).tobytes(), len(patterns))
    for j in job_list:
        kw: dict = {"location": loc_of[j], "delivery": [int(p.demand[j, d]) for d in mdl.dims]}
        if timed:
            kw.update(default_service=int(p.service_var_s[j]),
                      time_windows=[vroom.TimeWindow(int(p.tw_open_s[j]), int(p.tw_close_s[j]))])
            if int(p.service_fixed_s[j]):
                kw["default_setup"] = int(p.service_fixed_s[j])
        if skill_of:
            kw["skills"] = {skill_of[j]}
        inp.add_job(vroom.Job(int(j), **kw))
    sets = [np.frombuffer(k, dtype=bool) for k in patterns]
    for v in range(V):
        kw = {"start": 0, "end": 0, "capacity": [int(p.capacity[v, d]) for d in mdl.dims],
              "costs": vroom.VehicleCosts(fixed=int(p.fixed_cost[v]))}
        if len(profile_of) > 1:
            kw["profile"] = profile_of[(float(p.cost_per_m[v]), int(span[v]))]
        if timed:
            kw["time_window"] = vroom.TimeWindow(int(p.start_s[v]), int(p.end_max_s[v]))
        if skill_of:
            kw["skills"] = {k for k, s in enumerate(sets) if s[v]}
        inp.add_vehicle(vroom.Vehicle(v, **kw))
    sol = inp.solve(exploration_level=5, nb_threads=1, timeout=timedelta(seconds=float(time_limit_s)))
    df = sol.routes
    routes: list[list[int]] = [[] for _ in range(V)]
    done = df[df["type"] == "job"]
    for vid, jid in zip(done["vehicle_id"].tolist(), done["id"].tolist(), strict=True):
        routes[int(vid)].append(int(jid))
    return _solution(p, routes, int(sol.summary.cost), t0, solver_status=f"unassigned={int(sol.summary.unassigned)}")


# -------------------------------------------------------------- registry
#: Every engine by its CLI name.
ENGINES: dict[str, Callable[[RoutingProblem, float, int], RoutingSolution]] = {
    "ours": ours,
    "ortools-plain": ortools_plain,
    "pyvrp": pyvrp_engine,
    "vroom": vroom_engine,
}

#: Peers accepted by ``--vs``.
PEERS: tuple[str, ...] = ("ortools-plain", "pyvrp", "vroom")

_MODULES = {"pyvrp": "pyvrp", "vroom": "vroom"}


def engine_missing(name: str) -> str | None:
    """Why engine ``name`` cannot run here, or ``None`` when it can.

    Returns a note such as ``"vroom: pyvroom is not installed (pip install 'fulfil[peers]' ...)"``;
    does not import the package. PyVRP is one of fulfil's own dependencies (ours uses it), so
    its note asks for fulfil's installation; the ``peers`` extra is pyvroom alone.
    """
    if name not in ENGINES:
        return f"unknown engine {name!r}; choose from {', '.join(ENGINES)}"
    mod = _MODULES.get(name)
    if mod and importlib.util.find_spec(mod) is None:
        if mod == "vroom":
            return f"{name}: pyvroom is not installed (pip install -e '.[peers]' or pip install pyvroom); skipped"
        return (f"{name}: {mod} is not installed, though fulfil depends on it (pip install -e . installs it); "
                "skipped")
    return None
