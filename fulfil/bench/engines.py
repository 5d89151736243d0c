"""Routing engines compared by ``fulfil bench``: ours and the peers, behind one signature.

Every engine is ``engine(problem, time_limit_s, seed) -> RoutingSolution``
on the same :class:`~solvers.routing.RoutingProblem` built by
:func:`fulfil.bench.convert.to_routing_problem`: same integer matrices, same
windows, same fleet. The peers read only what a benchmark problem uses (a
homogeneous fleet, one capacity dimension, ``service_var_s`` as the service
time, arc cost = ``dist_m``, travel time = ``travel_s``, fixed cost per used
vehicle). Routes come back as node indices (= customer numbers); the
benchmark never trusts an engine's cost and re-checks every solution with
:mod:`fulfil.bench.verify`.

Engines
-------
``ours``
    :func:`solvers.routing.fleet.solve_fleet_first` with a wall-clock limit
    and ``engine="auto"``: :func:`solvers.routing.solve_routing` (OR-Tools +
    PyVRP in a child process, two cores), and, when the fixed vehicle cost
    dominates (the hierarchical ``"vehicles"`` convention), a second,
    distance-only phase on the fleet found first (see that module).
``ortools-plain``
    The textbook OR-Tools model anyone writes in an afternoon from the
    OR-Tools guides: Python transit callbacks, arc cost = distance, a time
    dimension with waiting slack (VRPTW) and a capacity dimension,
    ``PATH_CHEAPEST_ARC`` first solution, ``GUIDED_LOCAL_SEARCH``, the time
    limit. Every customer mandatory.
``pyvrp``
    PyVRP (>= 0.14) hybrid genetic search, ``MaxRuntime(time_limit_s)``,
    given the explicit integer matrices through ``Model.add_edge``.
``vroom``
    pyvroom (>= 1.15), explicit integer cost and duration matrices,
    exploration level 5, one thread, ``timeout = time_limit_s``. VROOM is a
    fixed-effort heuristic: it usually stops well before the limit.

OR-Tools, PyVRP and VROOM objects are created inside the call (each call is
meant to run in its own worker process) and nothing but numpy leaves it.
"""

from __future__ import annotations

import importlib.util
import time
from collections.abc import Callable

import numpy as np

from solvers.routing import RoutingParams, RoutingProblem, RoutingSolution

__all__ = ["ENGINES", "PEERS", "ours", "ortools_plain", "pyvrp_engine", "vroom_engine", "engine_missing"]


# ------------------------------------------------------------------- ours
def ours(problem: RoutingProblem, time_limit_s: float | None, seed: int = 0,
         solution_limit: int | None = None) -> RoutingSolution:
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

    Notes
    -----
    Runs the product path, ``engine="auto"``: OR-Tools in this process and,
    when PyVRP can express the problem in full, PyVRP in a child process
    with the same budget; the better plan verified against the problem
    arrays is kept. It therefore uses two cores (run ``fulfil bench`` with
    ``--workers 1`` on a two-core machine for a fair comparison).

    When the problem itself says the objective is hierarchical -- every
    vehicle's fixed cost exceeds any possible total arc cost, every job is
    mandatory and nothing else is priced
    (:func:`solvers.routing.fleet.dominant_fixed_cost`; the ``"vehicles"``
    convention of :mod:`fulfil.bench.convert` builds exactly that) -- the
    search is split (:func:`solvers.routing.fleet.solve_fleet_first`): a
    fifth of the budget for the fleet with the call above, then the rest
    with PyVRP on the fleet it used, fixed cost dropped (pure distance),
    warm-started from that plan in this process while a child process looks
    for a plan with fewer vehicles (this process switches to it when found).
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
                                                    seed=seed, engine="auto"))


# --------------------------------------------------------------- helpers
def _homogeneous(problem: RoutingProblem, who: str) -> None:
    p = problem
    for name in ("capacity", "start_s", "end_max_s", "fixed_cost"):
        a = getattr(p, name)
        if not np.all(a == a[0]):
            raise ValueError(f"{who}: needs a homogeneous fleet ({name} differs between vehicles)")
    if p.n_dims != 1:
        raise ValueError(f"{who}: needs exactly one capacity dimension, got {p.n_dims}")


def _has_windows(problem: RoutingProblem) -> bool:
    """False when the windows and the shift cannot bind (the CVRP models)."""
    p = problem
    longest = int(p.travel_s.max()) * (p.n_nodes + 1) + int(p.service_var_s.sum())
    wide = np.all(p.tw_open_s[1:] <= p.start_s[0]) and np.all(p.tw_close_s[1:] >= p.start_s[0] + longest)
    return not (wide and int(p.end_max_s[0]) >= int(p.start_s[0]) + longest)


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
def ortools_plain(problem: RoutingProblem, time_limit_s: float, seed: int = 0) -> RoutingSolution:
    """The textbook OR-Tools VRPTW / CVRP model (see the module docstring).

    ``seed`` is unused: the textbook model has no randomness to seed.
    """
    from ortools.constraint_solver import pywrapcp, routing_enums_pb2

    t0 = time.perf_counter()
    _homogeneous(problem, "ortools-plain")
    p = problem
    n, V = p.n_nodes, p.n_vehicles
    dist = p.dist_m.astype(np.int64).tolist()
    travel = p.travel_s.astype(np.int64).tolist()
    service = p.service_var_s.astype(np.int64).tolist()
    demand = p.demand[:, 0].astype(np.int64).tolist()

    manager = pywrapcp.RoutingIndexManager(n, V, 0)
    routing = pywrapcp.RoutingModel(manager)

    def distance_callback(from_index, to_index):
        return dist[manager.IndexToNode(from_index)][manager.IndexToNode(to_index)]

    transit_index = routing.RegisterTransitCallback(distance_callback)
    routing.SetArcCostEvaluatorOfAllVehicles(transit_index)
    if int(p.fixed_cost[0]):
        routing.SetFixedCostOfAllVehicles(int(p.fixed_cost[0]))

    def demand_callback(from_index):
        return demand[manager.IndexToNode(from_index)]

    demand_index = routing.RegisterUnaryTransitCallback(demand_callback)
    routing.AddDimensionWithVehicleCapacity(demand_index, 0, [int(c) for c in p.capacity[:, 0]], True, "Capacity")

    if _has_windows(p):
        def time_callback(from_index, to_index):
            i, j = manager.IndexToNode(from_index), manager.IndexToNode(to_index)
            return service[i] + travel[i][j]

        time_index = routing.RegisterTransitCallback(time_callback)
        horizon = int(p.end_max_s.max())
        routing.AddDimension(time_index, horizon, horizon, False, "Time")
        time_dimension = routing.GetDimensionOrDie("Time")
        for node in range(1, n):
            index = manager.NodeToIndex(node)
            time_dimension.CumulVar(index).SetRange(int(p.tw_open_s[node]), int(min(p.tw_close_s[node], horizon)))
        for v in range(V):
            time_dimension.CumulVar(routing.Start(v)).SetRange(int(p.start_s[v]), int(p.end_max_s[v]))
            time_dimension.CumulVar(routing.End(v)).SetRange(int(p.start_s[v]), int(p.end_max_s[v]))
            routing.AddVariableMinimizedByFinalizer(time_dimension.CumulVar(routing.Start(v)))
            routing.AddVariableMinimizedByFinalizer(time_dimension.CumulVar(routing.End(v)))

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
            r.append(manager.IndexToNode(index))
            index = solution.Value(routing.NextVar(index))
        routes.append(r)
    return _solution(p, routes, solution.ObjectiveValue(), t0, solutions=routing.solver().Solutions(),
                     solver_status=status)


# ------------------------------------------------------------------ pyvrp
def pyvrp_engine(problem: RoutingProblem, time_limit_s: float, seed: int = 0) -> RoutingSolution:
    """PyVRP 0.14 on the problem's integer matrices (``MaxRuntime(time_limit_s)``)."""
    from pyvrp import Model
    from pyvrp.stop import MaxRuntime

    t0 = time.perf_counter()
    _homogeneous(problem, "pyvrp")
    p = problem
    n, V = p.n_nodes, p.n_vehicles
    windows = _has_windows(p)
    m = Model()
    # Coordinates are irrelevant (explicit edges below); 0, 0 for every location.
    locs = [m.add_location(0, 0) for _ in range(n)]
    if windows:
        depot = m.add_depot(locs[0], tw_early=int(p.start_s[0]), tw_late=int(p.end_max_s[0]))
    else:
        depot = m.add_depot(locs[0])
    for j in range(1, n):
        if windows:
            m.add_client(locs[j], delivery=int(p.demand[j, 0]), service_duration=int(p.service_var_s[j]),
                         tw_early=int(p.tw_open_s[j]), tw_late=int(p.tw_close_s[j]))
        else:
            m.add_client(locs[j], delivery=int(p.demand[j, 0]))
    vt = dict(num_available=V, capacity=int(p.capacity[0, 0]), start_depot=depot, end_depot=depot,
              fixed_cost=int(p.fixed_cost[0]))
    if windows:
        vt.update(tw_early=int(p.start_s[0]), tw_late=int(p.end_max_s[0]))
    m.add_vehicle_type(**vt)
    dist = p.dist_m.astype(np.int64)
    travel = p.travel_s.astype(np.int64) if windows else np.zeros_like(dist)
    for i in range(n):
        for j in range(n):
            if i != j:
                m.add_edge(locs[i], locs[j], int(dist[i, j]), int(travel[i, j]))
    result = m.solve(MaxRuntime(float(time_limit_s)), seed=int(seed), display=False)
    best = result.best
    routes = [[a.idx + 1 for a in route if a.is_client()] for route in best.routes()]
    status = "ok" if best.is_feasible() else "infeasible"
    return _solution(p, routes, int(result.cost()) if best.is_feasible() else -1, t0, status=status,
                     solutions=int(getattr(result, "num_iterations", 0)),
                     solver_status="feasible" if best.is_feasible() else "infeasible")


# ------------------------------------------------------------------ vroom
def vroom_engine(problem: RoutingProblem, time_limit_s: float, seed: int = 0) -> RoutingSolution:
    """pyvroom 1.15 with explicit integer matrices (cost = ``dist_m``, duration = ``travel_s``).

    ``seed`` is unused (VROOM is deterministic).
    """
    from datetime import timedelta

    import vroom

    t0 = time.perf_counter()
    _homogeneous(problem, "vroom")
    p = problem
    n, V = p.n_nodes, p.n_vehicles
    windows = _has_windows(p)
    inp = vroom.Input()
    dist = p.dist_m.astype(np.uint32)
    inp.set_durations_matrix("car", p.travel_s.astype(np.uint32) if windows else dist)
    inp.set_costs_matrix("car", dist)
    for j in range(1, n):
        kw = dict(location=j, delivery=[int(p.demand[j, 0])])
        if windows:
            kw.update(default_service=int(p.service_var_s[j]),
                      time_windows=[vroom.TimeWindow(int(p.tw_open_s[j]), int(p.tw_close_s[j]))])
        inp.add_job(vroom.Job(j, **kw))
    for v in range(V):
        kw = dict(start=0, end=0, capacity=[int(p.capacity[v, 0])],
                  costs=vroom.VehicleCosts(fixed=int(p.fixed_cost[v])))
        if windows:
            kw["time_window"] = vroom.TimeWindow(int(p.start_s[v]), int(p.end_max_s[v]))
        inp.add_vehicle(vroom.Vehicle(v, **kw))
    sol = inp.solve(exploration_level=5, nb_threads=1, timeout=timedelta(seconds=float(time_limit_s)))
    df = sol.routes
    routes: list[list[int]] = [[] for _ in range(V)]
    jobs = df[df["type"] == "job"]
    for vid, jid in zip(jobs["vehicle_id"].tolist(), jobs["id"].tolist()):
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

    Returns a note such as ``"pyvrp is not installed (pip install 'fulfil[peers]')"``;
    does not import the package.
    """
    if name not in ENGINES:
        return f"unknown engine {name!r}; choose from {', '.join(ENGINES)}"
    mod = _MODULES.get(name)
    if mod and importlib.util.find_spec(mod) is None:
        pkg = "pyvroom" if mod == "vroom" else mod
        return f"{name}: {pkg} is not installed (pip install 'fulfil[peers]' or pip install {pkg}); skipped"
    return None
