"""Benchmarks of :func:`solvers.routing.solve_routing` (pytest-benchmark).

Run with::

    python -m pytest benchmarks/test_bench_routing.py -q -s

The budget is a deterministic ``solution_limit`` (no wall clock), so the
printed objective is reproducible and only the timing varies between
machines. The instance generator mirrors the one of
``tests/solvers/test_routing.py``: shared sites, two capacity dimensions
(half of the fleet without freezer), zones, arrival windows and per-vehicle
deadlines on half of the fleet.
"""

from __future__ import annotations

import numpy as np
import pytest

from solvers.routing import RoutingParams, RoutingProblem, solve_routing

NO_DL = 10 * 86400
START = 6 * 3600


def random_problem(n: int, seed: int) -> RoutingProblem:
    """Seeded last-mile style instance with ``n`` jobs and ``n // 6`` vehicles.

    Parameters
    ----------
    n : int
        Number of jobs.
    seed : int
        Seed of :func:`numpy.random.default_rng`.

    Returns
    -------
    RoutingProblem
        A valid problem.
    """
    rng = np.random.default_rng(seed)
    v = max(2, n // 6)
    n_sites = max(1, int(n * 0.8))
    xy_sites = rng.uniform(-12000, 12000, size=(n_sites, 2))
    job_site = rng.integers(0, n_sites, size=n)
    xy = np.vstack([[0.0, 0.0], xy_sites[job_site]])
    site = np.concatenate([[-1], job_site]).astype(np.int64)
    diff = xy[:, None, :] - xy[None, :, :]
    dist = np.rint(1.3 * np.hypot(diff[..., 0], diff[..., 1])).astype(np.int64)
    travel = np.rint(dist / 8.0).astype(np.int64)
    same = site[:, None] == site[None, :]
    dist[same] = 0
    travel[same] = 0
    open_ = np.concatenate([[0], START + rng.integers(0, 3 * 3600, n)]).astype(np.int64)
    close = (open_ + rng.integers(2 * 3600, 4 * 3600, n + 1)).astype(np.int64)
    demand = np.vstack([np.zeros((1, 2)), rng.integers(1, 8, (n, 2))]).astype(np.int64)
    demand[1 + n // 2 :, 1] = 0
    cap = np.tile([50, 30], (v, 1)).astype(np.int64)
    cap[v // 2 :, 1] = 0
    deadline = np.full((v, n + 1), NO_DL, np.int64)
    deadline[: v // 2] = START + 2 * 3600 + rng.integers(0, 3600, (v // 2, n + 1))
    return RoutingProblem(
        dist_m=dist,
        travel_s=travel,
        site=site,
        service_fixed_s=np.concatenate([[0], rng.integers(120, 300, n)]).astype(np.int64),
        service_var_s=np.concatenate([[0], rng.integers(10, 60, n)]).astype(np.int64),
        tw_open_s=open_,
        tw_close_s=close,
        demand=demand,
        capacity=cap,
        allowed=rng.random((v, n + 1)) < 0.75,
        deadline_s=deadline,
        start_s=np.full(v, START, np.int64),
        end_max_s=np.full(v, START + 8 * 3600, np.int64),
        fixed_cost=np.full(v, 5000, np.int64),
        cost_per_m=np.where(np.arange(v) % 2 == 0, 1.0, 1.25),
        cost_per_s=np.ones(v),
        penalty=np.full(n + 1, 300000, np.int64),
    )


@pytest.mark.parametrize(("n_jobs", "solution_limit"), [(50, 200), (100, 200)])
def test_bench_solve_routing(benchmark, n_jobs, solution_limit):
    """Time one solve with a deterministic budget and print its objective."""
    problem = random_problem(n_jobs, seed=2024)
    params = RoutingParams(time_limit_s=None, solution_limit=solution_limit, seed=0)
    sol = benchmark.pedantic(solve_routing, args=(problem, params), rounds=3, iterations=1)
    served = sum(len(r) for r in sol.routes)
    used = sum(len(r) > 0 for r in sol.routes)
    print(
        f"\n[routing n={n_jobs} solution_limit={solution_limit}] objective={sol.objective} "
        f"served={served} dropped={sol.dropped.size} vehicles_used={used} "
        f"solutions={sol.solutions_found} wall={sol.wall_s:.2f}s"
    )
    benchmark.extra_info.update(objective=sol.objective, dropped=int(sol.dropped.size))
    assert sol.status == "ok"
    assert sol.solutions_found == solution_limit
