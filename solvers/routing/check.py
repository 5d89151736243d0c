"""Engine-independent re-check of a routing plan against the :class:`RoutingProblem` arrays.

Every plan returned by :func:`solvers.routing.solve_routing`, whichever engine
produced it (OR-Tools or PyVRP), goes through :func:`check_routes` before it
is accepted. The check shares no code with the model builders: it re-times
each route from the arrays (earliest service start = ``max(previous start +
transit, tw_open_s)``), checks every hard constraint and recomputes the
objective exactly as documented in :class:`RoutingProblem`:

* each job at most once, ``dropped`` = the complement, no mandatory job dropped;
* ``allowed[v, j]`` for every served job;
* load per capacity dimension ``<= capacity[v, d]``;
* service start ``<= tw_close_s[j]`` and ``<= deadline_s[v, j]``; a vehicle arriving in a gap between
  a job's windows (``tw_gaps_s``) waits for the next one, so its service starts inside a window;
* return to the depot ``<= end_max_s[v]``;
* a vehicle with ``needs_vehicle[v] >= 0`` used only together with that vehicle, which is then back
  by ``lead_back_by_s[v]`` when that is given;
* objective = fixed cost of used vehicles + ``round_half_up(dist_m * cost_per_m[v])``
  per arc + ``round_half_up(cost_per_s[v]) * (return - start_s[v])`` + penalties
  of every dropped job.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .problem import RoutingProblem

__all__ = ["RouteCheck", "check_routes"]


@dataclass
class RouteCheck:
    """Outcome of :func:`check_routes`.

    Attributes
    ----------
    ok : bool
        No violation found.
    objective : int
        Objective recomputed from the arrays (also when ``ok`` is False).
    violations : list of str
        Readable messages, at most 20.
    arrival_s : list of numpy.ndarray
        Earliest service start of every job, per vehicle.
    end_s : numpy.ndarray of int64, shape (V,)
        Earliest return to the depot (``start_s`` for unused vehicles).
    dropped : numpy.ndarray of int64
        Jobs not served, sorted.
    """

    ok: bool
    objective: int
    violations: list[str] = field(default_factory=list)
    arrival_s: list[np.ndarray] = field(default_factory=list)
    end_s: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    dropped: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))


def _round_half_up(x) -> np.ndarray:
    return np.floor(np.asarray(x, dtype=np.float64) + 0.5).astype(np.int64)


def check_routes(problem: RoutingProblem, routes) -> RouteCheck:
    """Check ``routes`` (one job sequence per vehicle, original numbering) against ``problem``.

    Parameters
    ----------
    problem : RoutingProblem
        A validated problem.
    routes : sequence of sequences of int
        ``routes[v]`` = jobs of vehicle ``v`` in visiting order. Must have
        exactly ``V`` entries.

    Returns
    -------
    RouteCheck
    """
    p = problem
    n1, V = p.n_nodes, p.n_vehicles
    bad: list[str] = []

    def fail(msg: str) -> None:
        if len(bad) < 20:
            bad.append(msg)

    routes = [np.asarray(r, dtype=np.int64).reshape(-1) for r in routes]
    if len(routes) != V:
        fail(f"{len(routes)} routes for {V} vehicles")
        routes = (routes + [np.zeros(0, dtype=np.int64)] * V)[:V]
    transit = p.transit_time_s()
    span = _round_half_up(p.cost_per_s)
    count = np.zeros(n1, dtype=np.int64)
    objective = 0
    arrivals: list[np.ndarray] = []
    end_s = p.start_s.astype(np.int64).copy()
    for v, r in enumerate(routes):
        if r.size == 0:
            arrivals.append(np.zeros(0, dtype=np.int64))
            continue
        if r.min() < 1 or r.max() >= n1:
            fail(f"vehicle {v}: unknown job index in {r.tolist()}")
            arrivals.append(np.zeros(r.size, dtype=np.int64))
            continue
        np.add.at(count, r, 1)
        if not p.allowed[v, r].all():
            fail(f"vehicle {v} serves forbidden job(s) {r[~p.allowed[v, r]].tolist()}")
        if p.n_dims:
            load = p.demand[r].astype(np.int64).sum(axis=0)
            over = load > p.capacity[v]
            if over.any():
                fail(f"vehicle {v} overloaded in dimension(s) {np.flatnonzero(over).tolist()}")
        t, prev = int(p.start_s[v]), 0
        arr = np.zeros(r.size, dtype=np.int64)
        for k, j in enumerate(r.tolist()):
            came = t + int(transit[prev, j])
            t = p.service_start_s(j, came)
            arr[k] = t
            waited = f" (arrived at {came}, in a gap between its windows)" if t > max(came, int(p.tw_open_s[j])) else ""
            if t > int(p.tw_close_s[j]):
                fail(f"vehicle {v}: job {j} served at {t} after its window closes at {int(p.tw_close_s[j])}")
            if t > int(p.deadline_s[v, j]):
                fail(f"vehicle {v}: job {j} served at {t}{waited} after its deadline {int(p.deadline_s[v, j])}")
            prev = j
        t += int(transit[prev, 0])
        end_s[v] = t
        if t > int(p.end_max_s[v]):
            fail(f"vehicle {v} back at {t} after its shift end {int(p.end_max_s[v])}")
        arrivals.append(arr)
        nodes = np.concatenate([[0], r, [0]])
        arcs = p.dist_m[nodes[:-1], nodes[1:]].astype(np.float64) * float(p.cost_per_m[v])
        objective += int(p.fixed_cost[v]) + int(_round_half_up(arcs).sum())
        objective += int(span[v]) * (t - int(p.start_s[v]))
        if p.arrival_cost_per_s.size:
            coef = np.round(p.arrival_cost_per_s[r]).astype(np.int64)
            objective += int((coef * np.maximum(arr - int(p.start_s.min()), 0)).sum())
    for v in np.flatnonzero(p.needs_vehicle >= 0) if p.needs_vehicle.size else []:
        lead = int(p.needs_vehicle[v])
        if routes[v].size and not routes[lead].size:
            fail(f"vehicle {v} is used without vehicle {lead}, which it needs")
        if routes[v].size and p.lead_back_by_s.size and end_s[lead] > int(p.lead_back_by_s[v]):
            fail(f"vehicle {v} is used but vehicle {lead}, which it needs, is back at {end_s[lead]}, "
                 f"after {int(p.lead_back_by_s[v])}")
    twice = np.flatnonzero(count > 1)
    if twice.size:
        fail(f"job(s) served more than once: {twice.tolist()[:10]}")
    dropped = np.flatnonzero(count[1:] == 0).astype(np.int64) + 1
    mandatory = dropped[p.penalty[dropped] < 0]
    if mandatory.size:
        fail(f"mandatory job(s) not served: {mandatory.tolist()[:10]}")
    objective += int(p.penalty[dropped].astype(np.int64).clip(min=0).sum())
    return RouteCheck(ok=not bad, objective=int(objective), violations=bad, arrival_s=arrivals,
                      end_s=end_s, dropped=dropped)
