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
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

from fulfil.readers.vrp import VRPInstance, read_solution

__all__ = ["Verdict", "verify_routes", "verify_solution_file", "arc_length", "COST_TOLERANCE"]

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
