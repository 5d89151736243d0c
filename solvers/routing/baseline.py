"""Naive dispatch baseline: nearest-neighbour routes, one vehicle after another.

What a dispatcher without an optimiser does: take the next free vehicle, drive to the
nearest stop it may still serve (capacity, zone compatibility, window, deadline,
shift), repeat until nothing fits, then take the next vehicle.  Used to show what
the optimiser saves; it obeys the same :class:`RoutingProblem` constraints, so its
plans pass the same checker.
"""

from __future__ import annotations

import time

import numpy as np

from solvers.routing.problem import RoutingProblem, RoutingSolution


def nearest_neighbour(problem: RoutingProblem) -> RoutingSolution:
    """Greedy nearest-neighbour routes for ``problem`` (deterministic; ties by lower index)."""
    t0 = time.perf_counter()
    p = problem
    n = p.dist_m.shape[0]
    V = p.capacity.shape[0]
    todo = np.ones(n, dtype=bool)
    todo[0] = False
    routes: list[np.ndarray] = []
    arrivals: list[np.ndarray] = []
    objective = 0
    for v in range(V):
        load = np.zeros(p.capacity.shape[1], dtype=np.int64)
        cur, t = 0, int(p.start_s[v])
        route: list[int] = []
        arr: list[int] = []
        dist = 0
        while True:
            best, best_d, best_start = -1, None, 0
            for j in np.flatnonzero(todo):
                if not p.allowed[v, j] or np.any(load + p.demand[j] > p.capacity[v]):
                    continue
                fixed = p.service_fixed_s[cur] if (cur == 0 or p.site[cur] != p.site[j]) else 0
                leave = t + (fixed + p.service_var_s[cur] if cur != 0 else 0)
                arrive = leave + int(p.travel_s[cur, j])
                start = p.service_start_s(int(j), int(arrive))  # waits for a window, the next after a gap
                if start > p.tw_close_s[j] or start > p.deadline_s[v, j]:
                    continue
                back = start + int(p.service_fixed_s[j] + p.service_var_s[j] + p.travel_s[j, 0])
                if back > p.end_max_s[v]:
                    continue
                d = int(p.dist_m[cur, j])
                if best_d is None or d < best_d:
                    best, best_d, best_start = int(j), d, start
            if best < 0:
                break
            todo[best] = False
            load += p.demand[best]
            dist += best_d
            route.append(best)
            arr.append(best_start)
            cur, t = best, best_start
        if route:
            end = t + int(p.service_fixed_s[cur] + p.service_var_s[cur] + p.travel_s[cur, 0])
            dist += int(p.dist_m[cur, 0])
            objective += int(p.fixed_cost[v]) + round(dist * p.cost_per_m[v]) + round(
                (end - int(p.start_s[v])) * p.cost_per_s[v]
            )
        routes.append(np.array(route, dtype=np.int64))
        arrivals.append(np.array(arr, dtype=np.int64))
        if not todo.any():
            routes += [np.zeros(0, dtype=np.int64)] * (V - v - 1)
            arrivals += [np.zeros(0, dtype=np.int64)] * (V - v - 1)
            break
    dropped = np.flatnonzero(todo).astype(np.int64)
    objective += int(p.penalty[dropped].clip(min=0).sum())
    return RoutingSolution(routes=routes, arrival_s=arrivals, dropped=dropped, objective=objective, status="ok",
                           solutions_found=1, wall_s=time.perf_counter() - t0)
