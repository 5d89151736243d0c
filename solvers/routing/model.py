"""Translation of a :class:`~solvers.routing.problem.RoutingProblem` into an
OR-Tools routing model.

Everything in here creates OR-Tools objects, which are neither picklable nor
safe to share between processes: call these helpers inside the worker that
runs the search and never return the objects across a process boundary.

Model summary
-------------
* Arc cost: one transit matrix ``round(dist_m * cost_per_m[v])`` per
  *distinct* ``cost_per_m`` value (all matrices live on the C++ side, there
  is no Python callback in the search loop).
* Dimension ``"time"``: transit = variable service + fixed service when the
  next node is at another site + travel; waiting (slack) allowed up to the
  horizon; start cumul fixed to ``start_s[v]``, end cumul ``<= end_max_s[v]``;
  job cumul in ``[tw_open_s, tw_close_s]`` less the gaps between its windows
  (``tw_gaps_s``, removed from the cumul's domain); span cost
  ``round(cost_per_s[v])`` per vehicle.
* Per-vehicle deadlines: folded into the cumul upper bound when every
  compatible vehicle has the same deadline, otherwise a constraint
  ``cumul(j) <= Element([H] + deadlines, vehicle(j) + 1)`` (``vehicle = -1``
  for an unperformed job selects ``H``, the horizon), plus up to
  ``MAX_DEADLINE_MIRRORS`` relaxation dimensions that let the local-search
  filters see those deadlines (see ``_add_deadline_mirrors``).
* Dimensions ``"load_<d>"`` for every demand column that is not all zero.
* Allowed vehicles per job (vehicle variable domains), fixed cost per vehicle, a penalty disjunction
  for every job with ``penalty >= 0``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from ortools.constraint_solver import pywrapcp

from .problem import RoutingProblem

__all__ = [
    "TIME_DIMENSION",
    "BuiltModel",
    "build_model",
    "compatible_vehicles",
    "horizon_s",
    "job_order",
    "round_half_up",
]

#: Name of the time dimension in the OR-Tools model.
TIME_DIMENSION = "time"

#: Maximum number of deadline mirror dimensions (one per group of vehicles
#: sharing the same vehicle-specific deadlines).
MAX_DEADLINE_MIRRORS = 8


def round_half_up(x: np.ndarray | float) -> np.ndarray:
    """Round to the nearest integer, halves away from zero (for ``x >= 0``).

    Parameters
    ----------
    x : array_like of float
        Non-negative values.

    Returns
    -------
    numpy.ndarray of int64
        ``floor(x + 0.5)``. Unlike :func:`numpy.rint` (banker's rounding) the
        result does not depend on the parity of the integer part.
    """
    return np.floor(np.asarray(x, dtype=np.float64) + 0.5).astype(np.int64)


def horizon_s(problem: RoutingProblem) -> int:
    """Upper bound of every time cumul.

    Parameters
    ----------
    problem : RoutingProblem
        A validated problem.

    Returns
    -------
    int
        ``max(end_max_s, tw_close_s[1:]) + 1`` with the windows clipped to
        ``max(end_max_s)`` first: no job can be served after the last
        vehicle's shift end, so the clipping loses nothing and keeps huge
        "no limit" closings from overflowing.
    """
    end_max = int(problem.end_max_s.max())
    close = problem.tw_close_s[1:]
    close_max = int(min(int(close.max()), end_max)) if close.size else 0
    return max(end_max, close_max) + 1


def compatible_vehicles(problem: RoutingProblem, transit: np.ndarray) -> np.ndarray:
    """Vehicles that can serve each job on a route visiting only that job.

    A vehicle is compatible with job ``j`` when it is ``allowed``, it has
    room for ``demand[j]`` in every dimension, it reaches ``j`` (leaving the
    depot at ``start_s``) by ``min(tw_close_s[j], deadline_s[v, j])`` and it
    can then be back at the depot by ``end_max_s[v]``. These are necessary
    conditions, so removing incompatible vehicles never removes a feasible
    solution; it only shrinks the search space.

    Parameters
    ----------
    problem : RoutingProblem
        A validated problem.
    transit : numpy.ndarray of int64, shape (N+1, N+1)
        Time transit matrix (:meth:`RoutingProblem.transit_time_s`).

    Returns
    -------
    numpy.ndarray of bool, shape (V, N+1)
        Column 0 (depot) is ``False``.
    """
    p = problem
    compat = p.allowed.astype(bool).copy()
    if p.demand.shape[1]:
        fits = np.all(p.demand[None, :, :] <= p.capacity[:, None, :], axis=2)
        compat &= fits
    # Earliest service start of j on a dedicated route of v.
    arrive = p.start_s[:, None].astype(np.int64) + transit[0][None, :]
    begin = np.maximum(arrive, p.tw_open_s[None, :].astype(np.int64))
    latest = np.minimum(p.tw_close_s[None, :], p.deadline_s).astype(np.int64)
    compat &= begin <= latest
    back = begin + transit[:, 0][None, :]
    compat &= back <= p.end_max_s[:, None]
    compat[:, 0] = False
    return compat


def job_order(jobs: np.ndarray, seed: int) -> np.ndarray:
    """Seeded permutation of the jobs that enter the model.

    Parameters
    ----------
    jobs : numpy.ndarray of int64
        Original job indices (``1..N``) to include, in any order.
    seed : int
        Seed of :func:`numpy.random.default_rng`.

    Returns
    -------
    numpy.ndarray of int64
        ``order`` with ``order[0] == 0`` (the depot) followed by a seeded
        permutation of the sorted ``jobs``: OR-Tools node ``k`` is original
        node ``order[k]``.
    """
    jobs = np.sort(np.asarray(jobs, dtype=np.int64))
    perm = np.random.default_rng(seed).permutation(jobs.size)
    return np.concatenate([np.zeros(1, dtype=np.int64), jobs[perm]])


@dataclass(eq=False)
class BuiltModel:
    """OR-Tools objects of one model plus the node mapping.

    Not picklable: keep it inside the process that built it.

    Attributes
    ----------
    manager : pywrapcp.RoutingIndexManager
        Index manager (must outlive ``routing``; kept here for that reason).
    routing : pywrapcp.RoutingModel
        The model.
    time_dim : pywrapcp.RoutingDimension
        The ``"time"`` dimension.
    order : numpy.ndarray of int64
        ``order[k]`` = original node of OR-Tools node ``k``.
    n_element_constraints : int
        Number of jobs whose deadline depends on the vehicle (Element path).
    n_deadline_mirrors : int
        Number of filter-visible relaxation dimensions added for those
        deadlines (see :func:`_add_deadline_mirrors`).
    """

    manager: pywrapcp.RoutingIndexManager
    routing: pywrapcp.RoutingModel
    time_dim: pywrapcp.RoutingDimension
    order: np.ndarray
    n_element_constraints: int
    n_deadline_mirrors: int = 0


def build_model(
    problem: RoutingProblem,
    order: np.ndarray,
    compat: np.ndarray,
    transit: np.ndarray,
) -> BuiltModel:
    """Build the OR-Tools routing model of ``problem`` restricted to ``order``.

    Parameters
    ----------
    problem : RoutingProblem
        A validated problem.
    order : numpy.ndarray of int64
        Output of :func:`job_order`: depot then the jobs to model, in the
        (seeded) order in which OR-Tools will see them. Every job in it must
        have at least one compatible vehicle.
    compat : numpy.ndarray of bool, shape (V, N+1)
        Output of :func:`compatible_vehicles`.
    transit : numpy.ndarray of int64, shape (N+1, N+1)
        Time transit matrix (:meth:`RoutingProblem.transit_time_s`).

    Returns
    -------
    BuiltModel
        The model, ready for ``SolveWithParameters``.
    """
    p = problem
    order = np.asarray(order, dtype=np.int64)
    n_model = int(order.size)
    n_veh = p.n_vehicles
    horizon = horizon_s(p)
    sub = np.ix_(order, order)

    manager = pywrapcp.RoutingIndexManager(n_model, n_veh, 0)
    routing = pywrapcp.RoutingModel(manager)
    solver = routing.solver()

    # ---------------------------------------------------------------- costs
    dist = p.dist_m[sub].astype(np.float64)
    rates = p.cost_per_m.astype(np.float64)
    distinct = sorted(set(rates.tolist()))
    for rate in distinct:
        cost = round_half_up(dist * rate)
        cb = routing.RegisterTransitMatrix(cost.tolist())
        if len(distinct) == 1:
            routing.SetArcCostEvaluatorOfAllVehicles(cb)
        else:
            for v in np.flatnonzero(rates == rate):
                routing.SetArcCostEvaluatorOfVehicle(cb, int(v))
    for v in range(n_veh):
        routing.SetFixedCostOfVehicle(int(p.fixed_cost[v]), v)
    for v in np.flatnonzero(p.needs_vehicle >= 0) if p.needs_vehicle.size else []:
        lead = int(p.needs_vehicle[v])
        solver.Add(routing.ActiveVehicleVar(int(v)) <= routing.ActiveVehicleVar(lead))

    # ----------------------------------------------------------------- time
    time_cb = routing.RegisterTransitMatrix(transit[sub].astype(np.int64).tolist())
    routing.AddDimension(time_cb, horizon, horizon, False, TIME_DIMENSION)
    time_dim = routing.GetDimensionOrDie(TIME_DIMENSION)
    for v in np.flatnonzero(p.needs_vehicle >= 0) if p.lead_back_by_s.size else []:
        # used, v's lead is back by lead_back_by_s[v]; unused, the bound is lifted by the horizon
        back = time_dim.CumulVar(routing.End(int(p.needs_vehicle[v])))
        solver.Add(back <= int(p.lead_back_by_s[v]) + horizon * (1 - routing.ActiveVehicleVar(int(v))))
    if p.arrival_cost_per_s.size:  # cost per second served after the earliest start (e.g. spoilage)
        ub = int(p.start_s.min())
        for k in range(1, len(order)):
            coef = int(round(float(p.arrival_cost_per_s[int(order[k])])))
            if coef > 0:
                time_dim.SetCumulVarSoftUpperBound(manager.NodeToIndex(k), ub, coef)
    span_coef = round_half_up(p.cost_per_s)
    for v in range(n_veh):
        time_dim.CumulVar(routing.Start(v)).SetValue(int(p.start_s[v]))
        time_dim.CumulVar(routing.End(v)).SetMax(int(p.end_max_s[v]))
        if span_coef[v] > 0:
            time_dim.SetSpanCostCoefficientForVehicle(int(span_coef[v]), v)

    # ------------------------------------------------------------- capacity
    for d in range(p.n_dims):
        col = p.demand[order, d].astype(np.int64)
        if not np.any(col):
            continue
        load_cb = routing.RegisterUnaryTransitVector(col.tolist())
        routing.AddDimensionWithVehicleCapacity(
            load_cb, 0, p.capacity[:, d].astype(np.int64).tolist(), True, f"load_{d}"
        )

    # ------------------------------------------------- jobs: windows, etc.
    n_element = 0
    # Per-vehicle deadline tighter than the job's loosest one, by vehicle:
    # {vehicle: [(model index, limit), ...]} (feeds the mirror dimensions).
    tight: dict[int, list[tuple[int, int]]] = {}
    windows: list[tuple[int, int, int]] = []  # (model index, open, close)
    for k in range(1, n_model):
        j = int(order[k])
        index = manager.NodeToIndex(k)
        vehicles = np.flatnonzero(compat[:, j])
        if vehicles.size == 0:  # pragma: no cover - caller guarantees this
            raise ValueError(f"job {j} has no compatible vehicle")
        if vehicles.size < n_veh:
            # RoutingModel.SetAllowedVehiclesForIndex does not accept Python
            # sequences in the OR-Tools 9.15 wrapper (absl::Span typemap), so
            # restrict the vehicle variable instead; the routing library's
            # VehicleVarFilter makes heuristics and local search honour it.
            forbidden = np.flatnonzero(~compat[:, j])
            routing.VehicleVar(index).RemoveValues([int(v) for v in forbidden])

        close = min(int(p.tw_close_s[j]), horizon)
        latest = np.minimum(p.deadline_s[vehicles, j].astype(np.int64), close)
        cumul = time_dim.CumulVar(index)
        cumul.SetRange(int(p.tw_open_s[j]), int(latest.max()))
        for a, b in p.gaps(j):  # no service strictly inside a gap between windows: wait for the next
            if b - a >= 2 and a + 1 <= int(latest.max()):
                cumul.RemoveInterval(a + 1, b - 1)
        windows.append((int(index), int(p.tw_open_s[j]), int(latest.max())))
        if latest.min() != latest.max():
            # Vehicle-dependent deadline: Element over [H] + per-vehicle
            # limits, indexed by vehicle + 1 so that an unperformed job
            # (vehicle -1) reads H and is never constrained.
            limits = np.full(n_veh + 1, horizon, dtype=np.int64)
            limits[vehicles + 1] = latest
            shifted = (routing.VehicleVar(index) + 1).Var()
            solver.Add(cumul <= solver.Element(limits.tolist(), shifted))
            n_element += 1
            for v, lim in zip(vehicles.tolist(), latest.tolist()):
                if lim < latest.max():
                    tight.setdefault(int(v), []).append((int(index), int(lim)))

        pen = int(p.penalty[j])
        if pen >= 0:
            routing.AddDisjunction([index], pen)

    n_mirror = _add_deadline_mirrors(routing, time_cb, tight, windows, p.start_s, horizon, n_model)

    return BuiltModel(
        manager=manager,
        routing=routing,
        time_dim=time_dim,
        order=order,
        n_element_constraints=n_element,
        n_deadline_mirrors=n_mirror,
    )


def _add_deadline_mirrors(
    routing: pywrapcp.RoutingModel,
    time_cb: int,
    tight: dict[int, list[tuple[int, int]]],
    windows: list[tuple[int, int, int]],
    start_s: np.ndarray,
    horizon: int,
    n_model: int,
) -> int:
    """Make vehicle-dependent deadlines visible to the local-search filters.

    The ``cumul <= Element(...)`` constraints are exact but live in the CP
    solver only: OR-Tools' filters accept moves that break them and those
    moves then fail one by one in propagation, which made the search more
    than 20x slower per solution on the benchmark instances.

    For every group of vehicles sharing the same tight deadlines this adds a
    "mirror" dimension. For the group's vehicles it is an exact copy of the
    time dimension (same transits, departure, waiting slack and windows)
    whose node upper bounds are additionally lowered to the group's
    deadlines. Every other vehicle gets a transit of ``-H`` with up to
    ``2H`` slack, so its cumul may move freely in ``[0, H]`` from node to
    node and the mirror never constrains it (negative transits are
    supported by OR-Tools, as for delivery loads). The mirror therefore
    accepts a route exactly when the route meets the group's deadlines, and
    the filters reject violating moves before they reach the CP solver. The
    Element constraints are kept: they also pin the reported time cumuls
    and cover the groups beyond :data:`MAX_DEADLINE_MIRRORS`.

    Parameters
    ----------
    routing : pywrapcp.RoutingModel
        The model under construction.
    time_cb : int
        Registered time transit callback.
    tight : dict
        ``{vehicle: [(index, limit), ...]}``: deadlines tighter than the
        loosest deadline of the job.
    windows : list of tuple
        ``(index, open, close)`` of every job node, ``close`` already
        combined with the loosest deadline.
    start_s : numpy.ndarray of int64
        Departure time of every vehicle.
    horizon : int
        Cumul upper bound ``H``.
    n_model : int
        Number of nodes in the model.

    Returns
    -------
    int
        Number of mirror dimensions added.
    """
    groups: dict[tuple[tuple[int, int], ...], list[int]] = {}
    for v in sorted(tight):
        groups.setdefault(tuple(sorted(tight[v])), []).append(v)
    if not groups:
        return 0
    # Groups covering the most (vehicle, job) pairs first.
    ranked = sorted(groups.items(), key=lambda kv: (-len(kv[0]) * len(kv[1]), kv[1][0]))
    free_cb = routing.RegisterUnaryTransitVector([-horizon] * n_model)
    n_veh = routing.vehicles()
    added = 0
    for bounds, members in ranked[:MAX_DEADLINE_MIRRORS]:
        member = set(members)
        cbs = [time_cb if v in member else free_cb for v in range(n_veh)]
        name = f"deadline_mirror_{added}"
        routing.AddDimensionWithVehicleTransits(cbs, 2 * horizon, horizon, False, name)
        dim = routing.GetDimensionOrDie(name)
        for v in range(n_veh):
            dim.CumulVar(routing.Start(v)).SetValue(int(start_s[v]) if v in member else 0)
        for index, open_s, close_s in windows:
            dim.CumulVar(index).SetRange(open_s, close_s)
        for index, limit in bounds:
            dim.CumulVar(index).SetMax(limit)
        added += 1
    return added
