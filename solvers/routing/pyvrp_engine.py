"""Second engine: PyVRP (MIT, iterated local search) on a :class:`RoutingProblem`.

Only used when PyVRP can express the problem **in full**
(:func:`expressible`); the result is always re-checked by
:func:`solvers.routing.check.check_routes` before it is accepted.

Translation
-----------
* Locations: one per node (depot + every job), no coordinates (explicit
  matrices are handed to :class:`pyvrp.ProblemData`).
* Time: the duration matrix is the problem's full *transit* matrix
  (:meth:`RoutingProblem.transit_time_s`: service of the origin + site-merged
  fixed service + travel) and every client's own service duration is 0. A
  service start in PyVRP is then exactly the earliest service start of the
  documented model, so the site-merged fixed service (charged only when the
  next job is at another site) is expressed exactly, shared sites included.
* Windows: client ``[tw_open_s, min(tw_close_s, deadline)]``; per-vehicle
  deadlines are folded in only when every vehicle that is allowed to and
  large enough to serve the job has the same deadline, otherwise the problem
  is not expressible.
* Vehicles: one vehicle type per distinct (capacity row, start, shift end,
  fixed cost, cost per metre, span cost coefficient, allowed pattern), with
  ``tw_early = start_late = start_s`` (fixed departure) and
  ``tw_late = end_max_s``; ``unit_duration_cost = round_half_up(cost_per_s)``.
* Distance cost: one PyVRP routing profile per distinct ``cost_per_m`` whose
  distance matrix is ``round_half_up(dist_m * rate)`` (unit cost 1), which is
  exactly the OR-Tools arc cost.
* Loads: every demand column that is not all zero becomes a PyVRP load
  dimension (multi-dimensional delivery).
* Allowed vehicles: restrictions already implied by capacity (the job does
  not fit) need nothing; the remaining ones are expressed with one extra
  0/1 load dimension per distinct set of allowed vehicles (demand 1 for the
  jobs with that set, capacity ``N`` for the vehicles in it, 0 for the
  others), up to :data:`MAX_ALLOWED_PATTERNS` sets.
* Optional jobs (``penalty >= 0``): ``required=False``, ``prize = penalty``.
* Several windows (``tw_gaps_s``): one client per window that the job's latest
  start leaves, all at the job's location, in a mutually exclusive
  :class:`pyvrp.ClientGroup` (required unless the job is optional; each
  member optional with the job's prize). A vehicle arriving in a gap can only
  serve the next window's client, waiting for it to open: the same start as
  the documented model.

Not expressible (then only OR-Tools runs): vehicle-dependent deadlines for
a job, vehicles used only together with another (``needs_vehicle``), more than :data:`MAX_ALLOWED_PATTERNS` allowed-vehicle sets not
implied by capacity, more than :data:`MAX_PROFILES` distinct
``cost_per_m`` rates.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from .problem import RoutingProblem

__all__ = ["MAX_ALLOWED_PATTERNS", "MAX_PROFILES", "NO_IMPROVEMENT_GUARD", "PyvrpResult", "available",
           "expressible", "solve_pyvrp", "translate", "vehicle_routes"]

#: Largest number of extra 0/1 load dimensions used for allowed-vehicle sets.
MAX_ALLOWED_PATTERNS = 6
#: Deterministic stall guard of an iteration budget: stop after this many
#: iterations without a new best solution (the analogue of OR-Tools'
#: ``failure_limit``; a problem with a single feasible plan never improves).
NO_IMPROVEMENT_GUARD = 5000
#: Largest number of distinct ``cost_per_m`` rates (one routing profile each).
MAX_PROFILES = 4


def available() -> bool:
    """bool: PyVRP can be imported."""
    import importlib.util

    return importlib.util.find_spec("pyvrp") is not None


def _round_half_up(x) -> np.ndarray:
    return np.floor(np.asarray(x, dtype=np.float64) + 0.5).astype(np.int64)


def _analyse(p: RoutingProblem):
    """(reason or None, used load columns, extra allowed patterns, per-job latest)."""
    n1 = p.n_nodes
    dims = [d for d in range(p.n_dims) if np.any(p.demand[1:, d] != 0)]
    if dims:
        fit = np.all(p.demand[None, :, dims] <= p.capacity[:, None, dims], axis=2)
    else:
        fit = np.ones((p.n_vehicles, n1), dtype=bool)
    allowed = p.allowed.astype(bool)
    can = allowed & fit  # vehicles that may serve each job at all
    # Allowed restrictions not implied by capacity.
    binding = (~allowed & fit)[:, 1:].any(axis=0)
    patterns: dict[bytes, int] = {}
    pattern_of = np.full(n1, -1, dtype=np.int64)
    for j in np.flatnonzero(binding) + 1:
        key = allowed[:, j].tobytes()
        pattern_of[j] = patterns.setdefault(key, len(patterns))
    if len(patterns) > MAX_ALLOWED_PATTERNS:
        return (f"allowed-vehicle restrictions form {len(patterns)} distinct vehicle sets not implied by "
                f"capacity (at most {MAX_ALLOWED_PATTERNS} expressible)", dims, None, None)
    # Deadlines: same latest start for every vehicle that can serve the job.
    close = p.tw_close_s.astype(np.int64)
    latest = np.minimum(p.deadline_s.astype(np.int64), close[None, :])
    job_latest = close.copy()
    for j in range(1, n1):
        vs = np.flatnonzero(can[:, j])
        if vs.size == 0:
            continue  # never servable; the caller drops it
        lim = latest[vs, j]
        if lim.min() != lim.max():
            return (f"job {j} has vehicle-dependent deadlines ({int(lim.min())}..{int(lim.max())}) among the "
                    f"vehicles allowed to serve it", dims, None, None)
        job_latest[j] = int(lim[0])
    rates = sorted(set(np.asarray(p.cost_per_m, dtype=np.float64).tolist()))
    if len(rates) > MAX_PROFILES:
        return f"{len(rates)} distinct cost_per_m rates (at most {MAX_PROFILES})", dims, None, None
    return None, dims, (pattern_of, [np.frombuffer(k, dtype=bool) for k in patterns]), job_latest


def expressible(problem: RoutingProblem) -> tuple[bool, str]:
    """Whether PyVRP can model ``problem`` exactly.

    Parameters
    ----------
    problem : RoutingProblem
        A validated problem.

    Returns
    -------
    (bool, str)
        ``(True, "")`` or ``(False, reason)``; the reason names the first
        feature PyVRP cannot express (see the module docstring). Also
        ``(False, ...)`` when PyVRP is not installed.
    """
    if not available():
        return False, "pyvrp is not installed"
    if problem.arrival_cost_per_s.size and problem.arrival_cost_per_s.any():
        return False, "costs per second of arrival (spoilage in the objective)"
    if problem.needs_vehicle.size and (problem.needs_vehicle >= 0).any():
        return False, "vehicles used only together with another (waves of one vehicle)"
    reason = _analyse(problem)[0]
    return (reason is None), (reason or "")


@dataclass
class Translation:
    """A :class:`pyvrp.ProblemData` plus the index maps back to the problem."""

    data: object
    jobs: np.ndarray                # client k <-> job jobs[k] (a job with several windows: several clients)
    type_vehicles: list[list[int]]  # vehicle type t <-> problem vehicles


def translate(problem: RoutingProblem, jobs: np.ndarray | None = None) -> Translation:
    """Build the PyVRP data of ``problem`` restricted to ``jobs`` (default: all).

    Raises
    ------
    ValueError
        When the problem is not expressible (see :func:`expressible`).
    """
    from pyvrp import Client, ClientGroup, Depot, Location, ProblemData, VehicleType

    p = problem
    reason, dims, pat, job_latest = _analyse(p)
    if reason is not None:
        raise ValueError(f"PyVRP cannot express this problem: {reason}")
    pattern_of, pattern_sets = pat
    jobs = np.arange(1, p.n_nodes, dtype=np.int64) if jobs is None else np.asarray(jobs, dtype=np.int64)
    nodes = np.concatenate([[0], jobs])
    n_extra = len(pattern_sets)
    big = max(1, int(jobs.size))

    locations = [Location(0, 0) for _ in range(nodes.size)]
    depots = [Depot(0)]
    clients, client_job, client_groups = [], [], []
    for k, j in enumerate(jobs.tolist()):
        load = [int(p.demand[j, d]) for d in dims] + [int(pattern_of[j] == e) for e in range(n_extra)]
        pen = int(p.penalty[j])
        spans = _windows(p, j, int(job_latest[j]))
        kw = dict(delivery=load)
        if pen >= 0 or len(spans) > 1:
            kw.update(required=False, prize=max(pen, 0))
        if len(spans) > 1:
            kw.update(group=len(client_groups))
            client_groups.append(ClientGroup(list(range(len(clients), len(clients) + len(spans))), required=pen < 0))
        for early, late in spans:
            clients.append(Client(k + 1, tw_early=early, tw_late=late, **kw))
            client_job.append(j)

    rates = sorted(set(np.asarray(p.cost_per_m, dtype=np.float64).tolist()))
    span = _round_half_up(p.cost_per_s)
    groups: dict[tuple, list[int]] = {}
    for v in range(p.n_vehicles):
        cap = tuple(int(p.capacity[v, d]) for d in dims) + tuple(big if s[v] else 0 for s in pattern_sets)
        key = (cap, int(p.start_s[v]), int(p.end_max_s[v]), int(p.fixed_cost[v]),
               rates.index(float(p.cost_per_m[v])), int(span[v]))
        groups.setdefault(key, []).append(v)
    vtypes = []
    for (cap, start, end, fixed, prof, sc), members in groups.items():
        vtypes.append(VehicleType(num_available=len(members), capacity=list(cap), fixed_cost=fixed,
                                  tw_early=start, start_late=start, tw_late=end, unit_distance_cost=1,
                                  unit_duration_cost=sc, profile=prof))

    sub = np.ix_(nodes, nodes)
    duration = np.ascontiguousarray(p.transit_time_s()[sub].astype(np.int64))
    np.fill_diagonal(duration, 0)
    dist = p.dist_m[sub].astype(np.float64)
    dmats = []
    for rate in rates:
        m = np.ascontiguousarray(_round_half_up(dist * rate))
        np.fill_diagonal(m, 0)
        dmats.append(m)
    data = ProblemData(locations, clients, depots, vtypes, dmats, [duration] * len(rates),
                       groups=client_groups)
    return Translation(data=data, jobs=np.array(client_job, dtype=np.int64), type_vehicles=list(groups.values()))


def _windows(p: RoutingProblem, j: int, latest: int) -> list[tuple[int, int]]:
    """Job ``j``'s windows ``(early, late)`` as service-start ranges, cut at its ``latest`` start
    (the first is kept, possibly empty, so a job no vehicle can reach in time stays one client)."""
    bounds = [int(p.tw_open_s[j]), *(t for gap in p.gaps(j) for t in gap), latest]
    spans = [(bounds[i], min(bounds[i + 1], latest)) for i in range(0, len(bounds) - 1, 2)]
    return [w for n, w in enumerate(spans) if n == 0 or w[0] <= w[1]]


@dataclass
class PyvrpResult:
    """Plain, picklable outcome of :func:`solve_pyvrp`."""

    routes: list[list[int]] | None  # one per problem vehicle, original job numbers; None: no feasible plan
    objective: int                  # PyVRP's own cost (information only)
    iterations: int
    wall_s: float
    error: str = ""


def vehicle_routes(tr, best, n_vehicles: int) -> list[list[int]]:
    """Job numbers per vehicle of the problem from a PyVRP solution of its translation ``tr``."""
    routes: list[list[int]] = [[] for _ in range(n_vehicles)]
    used = [0] * len(tr.type_vehicles)
    for route in best.routes():
        t = int(route.vehicle_type())
        v = tr.type_vehicles[t][used[t]]
        used[t] += 1
        routes[v] = [int(tr.jobs[a.idx]) for a in route if a.is_client()]
    return routes


class _StopWhen:
    """A PyVRP stopping criterion (called once per iteration with the best cost) around ``stop()``."""

    def __init__(self, stop: Callable[[], bool]):
        self.stop = stop

    def __call__(self, best_cost: float) -> bool:
        return bool(self.stop())


def solve_pyvrp(problem: RoutingProblem, jobs: np.ndarray | None, *, seed: int = 0,
                max_iterations: int | None = None, deadline: float | None = None,
                should_stop: Callable[[], bool] | None = None) -> PyvrpResult:
    """Solve with PyVRP.

    Parameters
    ----------
    problem : RoutingProblem
        An expressible, validated problem.
    jobs : numpy.ndarray or None
        Jobs to model (the others are treated as dropped).
    seed : int
        PyVRP seed.
    max_iterations : int, optional
        Deterministic budget (``pyvrp.stop.MaxIterations``), plus
        ``NoImprovement(NO_IMPROVEMENT_GUARD)`` when it is larger.
    deadline : float, optional
        Absolute ``time.time()`` at which to stop (``MaxRuntime`` of the
        remaining time). With both, whichever comes first.
    should_stop : callable, optional
        ``should_stop() -> bool`` asked every iteration, after the budget criteria (so
        that they count every iteration): True ends the search with its best
        solution so far.
    """
    t0 = time.perf_counter()
    try:
        from pyvrp import solve
        from pyvrp.stop import MaxIterations, MaxRuntime, MultipleCriteria, NoImprovement

        tr = translate(problem, jobs)
        crit = []
        if max_iterations is not None:
            crit.append(MaxIterations(int(max_iterations)))
            if max_iterations > NO_IMPROVEMENT_GUARD:
                crit.append(NoImprovement(NO_IMPROVEMENT_GUARD))
        if deadline is not None:
            crit.append(MaxRuntime(max(0.05, deadline - time.time())))
        if not crit:
            raise ValueError("solve_pyvrp needs max_iterations or deadline")
        if should_stop is not None:
            crit.append(_StopWhen(should_stop))
        stop = crit[0] if len(crit) == 1 else MultipleCriteria(crit)
        with warnings.catch_warnings():
            # "a penalty parameter has reached its maximum": PyVRP's way of saying the instance
            # is tight; an infeasible result is handled below, the warning would only reach stderr
            warnings.simplefilter("ignore", UserWarning)
            res = solve(tr.data, stop, seed=int(seed), collect_stats=False, display=False)
        best = res.best
        iters = int(getattr(res, "num_iterations", 0))
        if not best.is_feasible():
            return PyvrpResult(None, -1, iters, time.perf_counter() - t0)
        routes = vehicle_routes(tr, best, problem.n_vehicles)
        return PyvrpResult(routes, int(res.cost()), iters, time.perf_counter() - t0)
    except Exception as exc:  # noqa: BLE001 - any failure just means "no PyVRP result"
        return PyvrpResult(None, -1, 0, time.perf_counter() - t0, error=f"{type(exc).__name__}: {exc}")
