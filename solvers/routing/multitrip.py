"""Multi-trip VRPTW with release dates on PyVRP: arrays in, trips out.

A homogeneous fleet leaves one depot; a vehicle may come back, reload and leave again
(several *trips* in its day), and client ``i``'s goods may leave the depot at
``release[i]`` at the earliest, so a trip departs no earlier than the latest release of the
clients it carries. This is PyVRP's own model (``VehicleType.reload_depots`` /
``max_reloads``, ``Client.release_time``), built here from plain integer arrays, so the
caller decides the units and rounding.

Node ``0`` is the depot, nodes ``1..n`` the clients. A solution is one list per used
vehicle of nodes in visiting order, ``0`` between two trips (the reload), never at either
end: ``[5, 3, 0, 7, 9]`` is the trips ``0-5-3-0`` and ``0-7-9-0``.

Nothing here imports ``fulfil``; no process is started.
"""

from __future__ import annotations

import itertools
import time
from dataclasses import dataclass, field

import numpy as np

__all__ = [
    "PLAIN",
    "TUNED",
    "MultiTripInstance",
    "MultiTripParams",
    "MultiTripResult",
    "solve_multitrip",
    "trip_cost",
]


@dataclass(frozen=True)
class MultiTripInstance:
    """One instance, every time and length an integer in the caller's unit.

    Attributes
    ----------
    dist, travel : numpy.ndarray of int64, shape (n+1, n+1)
        Arc cost and travel time, node 0 = the depot.
    demand : numpy.ndarray of int64, shape (n+1,)
        Load of each client (``demand[0] == 0``).
    ready, due, service, release : numpy.ndarray of int64, shape (n+1,)
        Time window (service starts inside it; waiting is allowed), service duration and
        release date of every node; ``ready[0]`` / ``due[0]`` is the depot's horizon (every
        vehicle leaves at or after the first and is back by the second).
    capacity : int
        Load limit of one trip.
    vehicles : int
        Fleet size.
    max_reloads : int or None
        Reloads per vehicle (trips - 1); ``None``: no limit but the horizon.
    """

    dist: np.ndarray
    travel: np.ndarray
    demand: np.ndarray
    ready: np.ndarray
    due: np.ndarray
    service: np.ndarray
    release: np.ndarray
    capacity: int
    vehicles: int
    max_reloads: int | None = None

    @property
    def n(self) -> int:
        """int: Number of clients."""
        return int(self.dist.shape[0]) - 1


@dataclass(frozen=True)
class MultiTripParams:
    """How the search is set up.

    Attributes
    ----------
    history_length : int
        Length of the late-acceptance history of PyVRP's iterated local search (its
        default is 300). A shorter history accepts fewer worse solutions: better in short
        runs, where the default spends most of its iterations wandering.
    num_neighbours : int
        Granular neighbourhood size (PyVRP default 50).
    weight_wait_time : float
        Weight of waiting time in the proximity that defines the neighbourhood (PyVRP
        default 0.2).
    max_perturbations : int
        Largest number of perturbation moves per iteration (PyVRP default 25).
    """

    history_length: int = 300
    num_neighbours: int = 50
    weight_wait_time: float = 0.2
    max_perturbations: int = 25


#: PyVRP's own defaults (the plain peer's configuration).
PLAIN = MultiTripParams()
#: The project's setup: a late-acceptance history of 40 instead of 300 and at most 10 instead of
#: 25 perturbation moves, so that a short run accepts fewer worse solutions and gets through
#: more iterations. Measured at 5 s on one core, 8 instances (C201R0.5, C205R0.25, R201R0.75,
#: R205R0.5, R209R0.25, RC201R0.5, RC205R0.75, RC208R0.25), mean gap to the best known: PyVRP's
#: defaults 5.2 %, history 100 4.4 %, history 40 3.1 %, history 40 + 10 perturbations 2.7 %;
#: a greedy start in release order instead of PyVRP's made it worse (5.9 %). Not tuned for
#: long runs (see ``docs/benchmarks.md``, MTVRPTWR).
TUNED = MultiTripParams(history_length=40, max_perturbations=10)


@dataclass
class MultiTripResult:
    """Best solution found.

    Attributes
    ----------
    routes : list of list of int
        Per used vehicle, nodes in order with ``0`` marking a reload (see the module
        docstring).
    cost : int
        Sum of ``dist`` over every arc driven, reload arcs included; ``-1`` when the best
        solution is infeasible.
    feasible : bool
        PyVRP's own verdict (a caller re-checks it anyway).
    iterations : int
        Iterations of the search.
    wall_s : float
        Seconds spent in this call.
    stats : dict
        What ran (for a status column).
    """

    routes: list[list[int]]
    cost: int
    feasible: bool
    iterations: int
    wall_s: float
    stats: dict = field(default_factory=dict)


def trip_cost(dist: np.ndarray, route: list[int]) -> int:
    """Cost of one vehicle's day ``0 → route → 0`` (a ``0`` inside it is a reload arc)."""
    path = [0, *route, 0]
    return int(sum(int(dist[a, b]) for a, b in itertools.pairwise(path)))


def problem_data(inst: MultiTripInstance):
    """``pyvrp.ProblemData`` of ``inst``: one depot that is also every vehicle's reload depot."""
    import pyvrp

    n = inst.n
    locations = [pyvrp.Location(0.0, 0.0) for _ in range(n + 1)]
    depot = pyvrp.Depot(0, tw_early=int(inst.ready[0]), tw_late=int(inst.due[0]))
    clients = [pyvrp.Client(location=i, delivery=[int(inst.demand[i])], service_duration=int(inst.service[i]),
                            tw_early=int(inst.ready[i]), tw_late=int(inst.due[i]),
                            release_time=int(inst.release[i]))
               for i in range(1, n + 1)]
    kw = {} if inst.max_reloads is None else {"max_reloads": int(inst.max_reloads)}
    vt = pyvrp.VehicleType(num_available=int(inst.vehicles), capacity=[int(inst.capacity)], start_depot=0,
                           end_depot=0, tw_early=int(inst.ready[0]), tw_late=int(inst.due[0]), reload_depots=[0],
                           **kw)
    return pyvrp.ProblemData(locations, clients, [depot], [vt],
                             [np.asarray(inst.dist, dtype=np.int64)], [np.asarray(inst.travel, dtype=np.int64)])


def routes_of(solution) -> list[list[int]]:
    """A ``pyvrp.Solution``'s routes as node lists with ``0`` at every reload (empty trips dropped)."""
    out: list[list[int]] = []
    for route in solution.routes():
        trips: list[list[int]] = [[]]
        acts = list(route)
        for a in acts[1:-1]:
            if a.is_depot():
                trips.append([])
            else:
                trips[-1].append(int(a.idx) + 1)
        nodes: list[int] = []
        for t in (t for t in trips if t):
            nodes += ([0] if nodes else []) + t
        if nodes:
            out.append(nodes)
    return out


def solve_multitrip(inst: MultiTripInstance, time_limit_s: float, seed: int = 0,
                    params: MultiTripParams = TUNED) -> MultiTripResult:
    """Solve ``inst`` for ``time_limit_s`` wall seconds on one core.

    Parameters
    ----------
    inst : MultiTripInstance
        The instance.
    time_limit_s : float
        Wall-clock budget of the search (building the model is counted in it).
    seed : int, default 0
        Search seed: same instance, seed and params -> same search (the time limit still
        decides where it stops).
    params : MultiTripParams, default TUNED
        Search setup; :data:`PLAIN` is PyVRP's defaults.

    Returns
    -------
    MultiTripResult
    """
    import pyvrp
    from pyvrp.search import NeighbourhoodParams, PerturbationParams
    from pyvrp.stop import MaxRuntime

    t0 = time.perf_counter()
    data = problem_data(inst)
    sp = pyvrp.SolveParams(
        ils=pyvrp.IteratedLocalSearchParams(history_length=params.history_length),
        neighbourhood=NeighbourhoodParams(weight_wait_time=params.weight_wait_time,
                                          num_neighbours=min(params.num_neighbours, max(1, inst.n - 1))),
        perturbation=PerturbationParams(max_perturbations=params.max_perturbations),
    )
    left = max(0.01, float(time_limit_s) - (time.perf_counter() - t0))
    res = pyvrp.solve(data, MaxRuntime(left), seed=int(seed), collect_stats=False, params=sp)
    best = res.best
    routes = routes_of(best)
    feasible = bool(best.is_feasible())
    return MultiTripResult(routes=routes, cost=sum(trip_cost(inst.dist, r) for r in routes) if feasible else -1,
                           feasible=feasible, iterations=int(res.num_iterations), wall_s=time.perf_counter() - t0,
                           stats={"history_length": params.history_length, "num_neighbours": params.num_neighbours,
                                  "weight_wait_time": params.weight_wait_time,
                                  "max_perturbations": params.max_perturbations})
