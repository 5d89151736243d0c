"""Independent feasibility re-check and cost recomputation of a benchmark solution.

Takes routes as customer numbers (``1..n``, as in the instance and in VRPLIB
solution files) and re-derives everything from the instance's coordinates,
demands, windows and service times, in the set's own convention. It shares
no code with :mod:`fulfil.bench.convert` or any solver: its own distance
functions are plain Python (``math.isqrt`` / ``math.hypot``), so a bug in the
conversion or a wrong cost reported by a solver shows up here.

Conventions (see :mod:`fulfil.bench.convert`):

* ``"distance"`` — arcs truncated to one decimal (integer tenths), travel
  time = arc length, times checked exactly in tenths; cost in units, 1 decimal.
* ``"vehicles"`` — unrounded Euclidean arcs in double precision, times
  checked in floating point (1e-6 tolerance); cost = exact distance.
* ``"cvrp"`` — arcs rounded to the nearest integer, no windows, unlimited fleet.

Checks: every customer exactly once (no unknown number, no depot inside a
route, no duplicate, none missing), capacity of every route, arrival no later
than the due date (waiting for the ready time is allowed; service starts at
``max(arrival, ready)`` and lasts the service time), return to the depot by its
due date, number of routes within the fleet, and, when the solution states a
cost, that it matches the recomputed one.

Multi-trip instances with release dates (:func:`verify_multitrip`, the MTVRPTWR set) are
checked in the set's DIMACS convention: arcs truncated to one decimal, in integer tenths,
travel time = arc length, times ×10 and checked exactly; a route is one vehicle's day, its
trips separated by ``0`` (the reload at the depot). Each trip leaves the depot at the
earliest moment allowed -- after the previous trip is back (the first at the depot's
opening) and after the latest release date of the customers it carries -- and the check
goes on from there as above; the reload itself takes no time (the depot has no service
time in these instances). The cost is the sum of every arc driven, reload arcs included,
in tenths (the ``bks.csv`` integer).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

from fulfil.readers.vrp import VRPInstance, read_solution

__all__ = ["Verdict", "verify_routes", "verify_solution_file", "verify_multitrip", "verify_multitrip_file",
           "split_trips", "arc_length", "COST_TOLERANCE"]

#: Largest accepted difference between a stated and the recomputed cost.
COST_TOLERANCE: dict[str, float] = {"distance": 0.05, "vehicles": 0.01, "cvrp": 0.5}

_EPS = 1e-6


@dataclass
class Verdict:
    """Result of :func:`verify_routes`.

    Attributes
    ----------
    feasible : bool
        No violation.
    cost : float
        Total distance recomputed in the convention (over the routes as
        given, whatever their defects).
    routes : int
        Number of non-empty routes.
    violations : list of str
        One readable message per defect.
    """

    feasible: bool
    cost: float
    routes: int
    violations: list[str] = field(default_factory=list)


def arc_length(inst: VRPInstance, i: int, j: int, convention: str) -> float | int:
    """Length of arc ``i → j`` in the convention's own unit.

    ``"distance"``: integer tenths, ``floor(10 * d)`` (exact for integer
    coordinates); ``"vehicles"``: float ``d``; ``"cvrp"``: ``int(d + 0.5)``.
    """
    xi, yi = (float(v) for v in inst.coords[i])
    xj, yj = (float(v) for v in inst.coords[j])
    dx, dy = xi - xj, yi - yj
    if convention == "distance":
        if dx == int(dx) and dy == int(dy):
            return math.isqrt(100 * (int(dx) ** 2 + int(dy) ** 2))
        return int(math.floor(10.0 * math.hypot(dx, dy) + 1e-9))
    if convention == "vehicles":
        return math.hypot(dx, dy)
    if convention == "cvrp":
        return int(math.floor(math.hypot(dx, dy) + 0.5))
    raise ValueError(f"unknown convention {convention!r}")


def verify_routes(
    inst: VRPInstance,
    routes: list[list[int]],
    convention: str,
    *,
    max_vehicles: int | None = -1,
    claimed_cost: float | None = None,
) -> Verdict:
    """Re-check ``routes`` on ``inst`` and recompute their cost.

    Parameters
    ----------
    inst : VRPInstance
        The instance.
    routes : list of list of int
        Customer numbers per route, depot excluded; empty routes are ignored.
    convention : {"distance", "vehicles", "cvrp"}
        Distance and time convention of the set.
    max_vehicles : int or None, optional
        Fleet size. By default the file's vehicle number for Solomon /
        Homberger and no limit for CVRP (unless the file sets ``VEHICLES``);
        ``None``: no limit.
    claimed_cost : float, optional
        Cost stated by the solution (a ``Cost`` line, a solver's report);
        a violation when it differs from the recomputed cost by more than
        :data:`COST_TOLERANCE`.

    Returns
    -------
    Verdict
    """
    if convention not in COST_TOLERANCE:
        raise ValueError(f"unknown convention {convention!r}")
    if inst.kind not in ("vrptw", "cvrp"):
        raise ValueError(f"{inst.name}: cannot verify a {inst.kind} instance (release dates and reloads "
                         "are not checked yet)")
    if max_vehicles == -1:
        max_vehicles = inst.vehicles
    n = inst.n_customers
    windows = convention != "cvrp" and inst.kind == "vrptw"
    scale = 10 if convention == "distance" else 1
    eps = 0 if scale != 1 else _EPS

    def t(x: float) -> float:
        """A time in the convention's unit: integer tenths ("distance") or a float."""
        return int(round(float(x) * scale)) if scale != 1 else float(x)

    viol: list[str] = []
    seen: dict[int, int] = {}
    total: float = 0
    k = 0
    for r in routes:
        r = [int(c) for c in r]
        if not r:
            continue
        k += 1
        bad = [c for c in r if not 1 <= c <= n]
        if bad:
            viol.append(f"route {k}: unknown customer number(s) {bad[:5]} (customers are 1..{n}; 0 is the depot)")
            continue
        for c in r:
            if c in seen:
                viol.append(f"route {k}: customer {c} is visited again (already on route {seen[c]})")
            else:
                seen[c] = k
        load = sum(int(inst.demand[c]) for c in r)
        if load > inst.capacity:
            viol.append(f"route {k}: load {load} exceeds the capacity {inst.capacity}")
        path = [0, *r, 0]
        arcs = [arc_length(inst, a, b, convention) for a, b in zip(path[:-1], path[1:])]
        total += sum(arcs)
        if not windows:
            continue
        depart = t(inst.ready[0])
        for c, arc in zip(r, arcs[:-1]):
            arrive = depart + arc
            if arrive > t(inst.due[c]) + eps:
                viol.append(f"route {k}: customer {c} reached at {arrive / scale:g}, after its due date "
                            f"{float(inst.due[c]):g}")
            depart = max(arrive, t(inst.ready[c])) + t(inst.service[c])
        back = depart + arcs[-1]
        if back > t(inst.due[0]) + eps:
            viol.append(f"route {k}: back at the depot at {back / scale:g}, after its due date {float(inst.due[0]):g}")
    missing = [c for c in range(1, n + 1) if c not in seen]
    if missing:
        more = f" and {len(missing) - 10} more" if len(missing) > 10 else ""
        viol.append(f"{len(missing)} customer(s) not served: {missing[:10]}{more}")
    if max_vehicles is not None and k > max_vehicles:
        viol.append(f"{k} routes exceed the fleet of {max_vehicles} vehicles")
    cost = total / 10 if convention == "distance" else float(total)
    if claimed_cost is not None and abs(float(claimed_cost) - cost) > COST_TOLERANCE[convention]:
        viol.append(f"stated cost {claimed_cost:g} differs from the recomputed {cost:.4f}")
    return Verdict(feasible=not viol, cost=cost, routes=k, violations=viol)


def verify_solution_file(inst: VRPInstance, path: str | Path, convention: str, **kwargs) -> Verdict:
    """:func:`verify_routes` on a VRPLIB solution file, checking its ``Cost`` line too."""
    routes, cost = read_solution(path)
    return verify_routes(inst, routes, convention, claimed_cost=cost, **kwargs)


def split_trips(route: list[int]) -> list[list[int]]:
    """A multi-trip route (``0`` = reload) as its trips; an empty trip stays as ``[]``."""
    trips: list[list[int]] = [[]]
    for c in route:
        if int(c) == 0:
            trips.append([])
        else:
            trips[-1].append(int(c))
    return trips


def verify_multitrip(
    inst: VRPInstance,
    routes: list[list[int]],
    *,
    max_vehicles: int | None = -1,
    claimed_cost: float | None = None,
) -> Verdict:
    """Re-check a multi-trip solution with release dates and recompute its DIMACS cost.

    Parameters
    ----------
    inst : MTVRPTWRInstance
        The instance (``kind == "mtvrptwr"``: ``release`` and ``reload_depots`` are read).
    routes : list of list of int
        One list per vehicle: customer numbers ``1..n`` in order, ``0`` between two trips.
    max_vehicles : int or None, optional
        Fleet size; by default the file's ``VEHICLES``; ``None``: no limit.
    claimed_cost : float, optional
        Stated cost in tenths (the ``Cost`` line); a violation when it differs from the
        recomputed one at all.

    Returns
    -------
    Verdict
        ``cost`` in integer tenths (e.g. ``15006`` for 1500.6), ``routes`` the vehicles used.
    """
    if inst.kind != "mtvrptwr":
        raise ValueError(f"{inst.name}: {inst.kind} instance given to the multi-trip check")
    if max_vehicles == -1:
        max_vehicles = inst.vehicles
    n = inst.n_customers
    reloads_allowed = int(inst.reload_depots.shape[1]) > 0

    def t(x: float) -> int:
        return int(round(float(x) * 10))

    viol: list[str] = []
    seen: dict[int, int] = {}
    total = 0
    k = 0
    for r in routes:
        r = [int(c) for c in r]
        if not r:
            continue
        k += 1
        bad = [c for c in r if not 0 <= c <= n]
        if bad:
            viol.append(f"route {k}: unknown customer number(s) {bad[:5]} (customers are 1..{n}; 0 marks a reload)")
            continue
        trips = split_trips(r)
        if any(not tr for tr in trips):
            viol.append(f"route {k}: an empty trip (a 0 at either end of the route or two 0s in a row)")
        trips = [tr for tr in trips if tr]
        if len(trips) > 1 and not reloads_allowed:
            viol.append(f"route {k}: {len(trips)} trips, but the instance allows no reload")
        clock = t(inst.ready[0])  # when the vehicle is free at the depot
        for j, tr in enumerate(trips, start=1):
            where = f"route {k} trip {j}"
            for c in tr:
                if c in seen:
                    viol.append(f"{where}: customer {c} is visited again (already on route {seen[c]})")
                else:
                    seen[c] = k
            load = sum(int(inst.demand[c]) for c in tr)
            if load > inst.capacity:
                viol.append(f"{where}: load {load} exceeds the capacity {inst.capacity}")
            latest = max(tr, key=lambda c: float(inst.release[c]))
            release = t(inst.release[latest])
            depart = max(clock, release)
            why = (f"it leaves at {depart / 10:g}, the release date of customer {latest}" if release > clock
                   else f"it leaves at {depart / 10:g}")
            path = [0, *tr, 0]
            arcs = [int(arc_length(inst, a, b, "distance")) for a, b in zip(path[:-1], path[1:])]
            total += sum(arcs)
            for c, arc in zip(tr, arcs[:-1]):
                arrive = depart + arc
                if arrive > t(inst.due[c]):
                    viol.append(f"{where}: customer {c} reached at {arrive / 10:g}, after its due date "
                                f"{float(inst.due[c]):g} ({why})")
                depart = max(arrive, t(inst.ready[c])) + t(inst.service[c])
            clock = depart + arcs[-1]
            if clock > t(inst.due[0]):
                viol.append(f"{where}: back at the depot at {clock / 10:g}, after its due date "
                            f"{float(inst.due[0]):g} ({why})")
    missing = [c for c in range(1, n + 1) if c not in seen]
    if missing:
        more = f" and {len(missing) - 10} more" if len(missing) > 10 else ""
        viol.append(f"{len(missing)} customer(s) not served: {missing[:10]}{more}")
    if max_vehicles is not None and k > max_vehicles:
        viol.append(f"{k} routes exceed the fleet of {max_vehicles} vehicles")
    if claimed_cost is not None and float(claimed_cost) != float(total):
        viol.append(f"stated cost {claimed_cost:g} differs from the recomputed {total}")
    return Verdict(feasible=not viol, cost=float(total), routes=k, violations=viol)


def verify_multitrip_file(inst: VRPInstance, path: str | Path, **kwargs) -> Verdict:
    """:func:`verify_multitrip` on a VRPLIB solution file (``0`` = reload), checking its ``Cost`` line too."""
    routes, cost = read_solution(path, reloads=True)
    return verify_multitrip(inst, routes, claimed_cost=cost, **kwargs)
