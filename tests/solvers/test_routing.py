"""Tests of :mod:`solvers.routing` (OR-Tools VRPTW wrapper).

Every check of a solution is made against the input arrays only: the helper
:func:`check_solution` re-times each route with the documented transit
formula and recomputes the objective, so a modelling mistake in
``solvers/routing/model.py`` shows up as a failed assertion here.
"""

from __future__ import annotations

import dataclasses
import multiprocessing
import pickle
from concurrent.futures import ProcessPoolExecutor

import numpy as np
import pytest

from solvers.routing import RoutingParams, RoutingProblem, RoutingSolution, solve_routing
from solvers.routing.model import compatible_vehicles

NO_DL = 10 * 86400
START = 6 * 3600

# Deterministic budget used by most tests: no wall clock involved.
DET = RoutingParams(time_limit_s=None, solution_limit=200)


# ----------------------------------------------------------------- helpers
def make_problem(
    dist_m,
    *,
    n_vehicles=1,
    speed_mps=10.0,
    site=None,
    service_fixed_s=None,
    service_var_s=None,
    tw_open_s=None,
    tw_close_s=None,
    demand=None,
    capacity=None,
    allowed=None,
    deadline_s=None,
    start_s=START,
    end_max_s=START + 12 * 3600,
    fixed_cost=0,
    cost_per_m=1.0,
    cost_per_s=0.0,
    penalty=-1,
) -> RoutingProblem:
    """Problem with sensible defaults; scalars are broadcast."""
    dist = np.asarray(dist_m, dtype=np.int64)
    n1, v = dist.shape[0], n_vehicles

    def vec(x, n, dtype=np.int64):
        return np.broadcast_to(np.asarray(x, dtype=dtype), (n,)).copy()

    travel = np.rint(dist / speed_mps).astype(np.int64)
    site = np.arange(n1) if site is None else np.asarray(site)
    demand = np.zeros((n1, 1), np.int64) if demand is None else np.asarray(demand, np.int64)
    if capacity is None:
        capacity = np.full((v, demand.shape[1]), 10**6, np.int64)
    return RoutingProblem(
        dist_m=dist,
        travel_s=travel,
        site=np.asarray(site, np.int64),
        service_fixed_s=vec(0 if service_fixed_s is None else service_fixed_s, n1),
        service_var_s=vec(0 if service_var_s is None else service_var_s, n1),
        tw_open_s=vec(0 if tw_open_s is None else tw_open_s, n1),
        tw_close_s=vec(NO_DL if tw_close_s is None else tw_close_s, n1),
        demand=demand,
        capacity=np.asarray(capacity, np.int64),
        allowed=np.ones((v, n1), bool) if allowed is None else np.asarray(allowed, bool),
        deadline_s=np.full((v, n1), NO_DL, np.int64) if deadline_s is None else np.asarray(deadline_s, np.int64),
        start_s=vec(start_s, v),
        end_max_s=vec(end_max_s, v),
        fixed_cost=vec(fixed_cost, v),
        cost_per_m=vec(cost_per_m, v, np.float64),
        cost_per_s=vec(cost_per_s, v, np.float64),
        penalty=vec(penalty, n1),
    )


def line_dist(x) -> np.ndarray:
    """Distance matrix of points on a line."""
    x = np.asarray(x, dtype=np.int64)
    return np.abs(x[:, None] - x[None, :])


def random_problem(n: int, seed: int, n_vehicles: int | None = None) -> RoutingProblem:
    """Seeded instance with shared sites, windows, zones and deadlines."""
    rng = np.random.default_rng(seed)
    v = n_vehicles or max(2, n // 6)
    n_sites = max(1, int(n * 0.8))
    xy_sites = rng.uniform(-12000, 12000, size=(n_sites, 2))
    job_site = rng.integers(0, n_sites, size=n)
    xy = np.vstack([[0.0, 0.0], xy_sites[job_site]])
    site = np.concatenate([[-1], job_site]).astype(np.int64)
    dist = np.rint(1.3 * np.hypot(*(xy[:, None, :] - xy[None, :, :]).transpose(2, 0, 1))).astype(np.int64)
    travel = np.rint(dist / 8.0).astype(np.int64)
    same = site[:, None] == site[None, :]
    dist[same] = 0
    travel[same] = 0
    open_ = np.concatenate([[0], START + rng.integers(0, 3 * 3600, n)]).astype(np.int64)
    close = (open_ + rng.integers(2 * 3600, 4 * 3600, n + 1)).astype(np.int64)
    demand = np.vstack([np.zeros((1, 2)), rng.integers(1, 8, (n, 2))]).astype(np.int64)
    demand[1 + n // 2 :, 1] = 0  # second dimension (e.g. frozen) on half the jobs
    cap = np.tile([50, 30], (v, 1)).astype(np.int64)
    cap[v // 2 :, 1] = 0  # half the fleet has no freezer
    allowed = rng.random((v, n + 1)) < 0.75
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
        allowed=allowed,
        deadline_s=deadline,
        start_s=np.full(v, START, np.int64),
        end_max_s=np.full(v, START + 8 * 3600, np.int64),
        fixed_cost=np.full(v, 5000, np.int64),
        cost_per_m=np.where(np.arange(v) % 2 == 0, 1.0, 1.25),
        cost_per_s=np.ones(v),
        penalty=np.full(n + 1, 300000, np.int64),
    )


def transit(p: RoutingProblem, i: int, j: int) -> int:
    """The documented time transit, written independently of the package."""
    fixed = p.service_fixed_s[i] if p.site[i] != p.site[j] else 0
    return int(p.service_var_s[i] + fixed + p.travel_s[i, j])


def check_solution(p: RoutingProblem, sol: RoutingSolution) -> int:
    """Assert every hard constraint from the arrays; return the recomputed objective.

    Re-times each route from scratch (earliest service start = max(previous
    + transit, window opening)) and checks windows, per-vehicle deadlines,
    shift ends, capacities, allowed vehicles, that every job is served at
    most once and that ``dropped`` is exactly the complement. Also checks
    that the solver's reported cumuls are consistent (never earlier than the
    earliest possible start, inside the window and the deadline).
    """
    assert sol.status == "ok"
    assert len(sol.routes) == p.n_vehicles == len(sol.arrival_s)
    seen = np.concatenate([np.asarray(r, np.int64) for r in sol.routes] + [sol.dropped])
    assert sorted(seen.tolist()) == list(range(1, p.n_nodes)), "each job exactly once"
    obj = 0
    for v, route in enumerate(sol.routes):
        assert len(route) == len(sol.arrival_s[v])
        if len(route) == 0:
            continue
        assert p.allowed[v, route].all(), f"vehicle {v} serves a forbidden job"
        assert np.all(p.demand[route].sum(axis=0) <= p.capacity[v]), f"vehicle {v} overloaded"
        t, prev = int(p.start_s[v]), 0
        for j, reported in zip(route, sol.arrival_s[v]):
            t = max(t + transit(p, prev, j), int(p.tw_open_s[j]))
            assert t <= p.tw_close_s[j], f"job {j} served at {t} after close {p.tw_close_s[j]}"
            assert t <= p.deadline_s[v, j], f"job {j} misses vehicle {v}'s deadline"
            assert t <= reported <= min(p.tw_close_s[j], p.deadline_s[v, j])
            assert reported >= p.tw_open_s[j]
            prev = int(j)
        t += transit(p, prev, 0)
        assert t <= p.end_max_s[v], f"vehicle {v} back at {t} after {p.end_max_s[v]}"
        nodes = np.concatenate([[0], route, [0]])
        arc_cost = np.floor(p.dist_m[nodes[:-1], nodes[1:]] * p.cost_per_m[v] + 0.5).sum()
        obj += int(p.fixed_cost[v]) + int(arc_cost)
        obj += int(np.floor(p.cost_per_s[v] + 0.5)) * (t - int(p.start_s[v]))
    obj += int(p.penalty[sol.dropped].sum())
    return obj


# ------------------------------------------------------------------- tests
def test_tiny_line_order_and_objective():
    """1 vehicle, 3 jobs on a line: the windows of the two nearest jobs force
    the outward order 2 -> 3 -> 1 (2 -> 1 -> 3 would also be 6000 m long)
    and the objective is 6000 m + 100 fixed + 2 * 600 s of span cost = 7300."""
    # node:      depot  job1  job2  job3
    x = np.array([0, 3000, 1000, 2000])
    close = [0, NO_DL, START + 150, START + 250]  # only 2 -> 3 -> 1 fits
    p = make_problem(line_dist(x), tw_close_s=close, fixed_cost=100, cost_per_s=2.0)
    sol = solve_routing(p, DET)
    assert sol.status == "ok"
    assert sol.routes[0].tolist() == [2, 3, 1]
    assert sol.arrival_s[0].tolist() == [START + 100, START + 200, START + 300]
    assert sol.end_s.tolist() == [START + 600]
    assert sol.dropped.size == 0
    assert sol.objective == 6000 + 100 + 2 * 600 == check_solution(p, sol)


def test_stalled_search_stops_on_failure_guard():
    """With a single feasible solution guided local search never finds a
    second one, so solution_limit alone would run forever; the deterministic
    failure guard stops it quickly with the optimum, identically each run."""
    x = np.array([0, 3000, 1000, 2000])
    p = make_problem(line_dist(x), tw_close_s=[0, NO_DL, START + 150, START + 250])
    params = RoutingParams(time_limit_s=None, solution_limit=10**6, failure_limit=2000)
    a, b = solve_routing(p, params), solve_routing(p, params)
    assert a.routes[0].tolist() == b.routes[0].tolist() == [2, 3, 1]
    assert a.solutions_found == b.solutions_found < 10
    assert a.wall_s < 5.0


def test_capacity_forces_two_vehicles_and_windows_hold():
    """Six mandatory jobs of 4 units with capacity 12 per vehicle need both
    vehicles; the re-timed routes respect every window and the objective is
    reproduced from the arrays."""
    rng = np.random.default_rng(3)
    xy = np.vstack([[0, 0], rng.uniform(-5000, 5000, (6, 2))])
    dist = np.rint(np.hypot(*(xy[:, None] - xy[None]).transpose(2, 0, 1))).astype(np.int64)
    opens = np.concatenate([[0], START + rng.integers(0, 1800, 6)])
    p = make_problem(
        dist,
        n_vehicles=2,
        service_fixed_s=120,
        service_var_s=30,
        tw_open_s=opens,
        tw_close_s=opens + 2400,
        demand=np.array([[0]] + [[4]] * 6),
        capacity=[[12], [12]],
        fixed_cost=1000,
        cost_per_s=1.0,
    )
    sol = solve_routing(p, DET)
    assert sol.status == "ok"
    assert sorted(len(r) for r in sol.routes) == [3, 3]
    assert sol.dropped.size == 0
    assert check_solution(p, sol) == sol.objective


def test_allowed_matrix_and_dropped_jobs():
    """Vehicles only serve allowed jobs; a job allowed on no vehicle and a
    job whose window closes before any vehicle can reach it are dropped
    (penalty paid) and reported in ``dropped``; the rest is served."""
    rng = np.random.default_rng(7)
    n, v = 12, 3
    xy = np.vstack([[0, 0], rng.uniform(-4000, 4000, (n, 2))])
    dist = np.rint(np.hypot(*(xy[:, None] - xy[None]).transpose(2, 0, 1))).astype(np.int64)
    allowed = rng.random((v, n + 1)) < 0.5
    allowed[:, 1:][:, ~allowed[:, 1:].any(axis=0)] = True  # everyone has a vehicle...
    allowed[:, 5] = False  # ...except job 5
    close = np.full(n + 1, NO_DL)
    close[8] = START + int(dist[0, 8] / 10) - 1  # unreachable in time
    p = make_problem(
        dist, n_vehicles=v, allowed=allowed, tw_close_s=close, penalty=10**6, fixed_cost=10
    )
    sol = solve_routing(p, DET)
    assert sol.dropped.tolist() == [5, 8]
    assert sol.objective == check_solution(p, sol)
    for vv, route in enumerate(sol.routes):
        assert allowed[vv, route].all()


def test_mandatory_job_without_vehicle_is_infeasible_input():
    """A mandatory job that no vehicle may serve makes the whole problem
    infeasible: status ``infeasible_input``, all jobs dropped, no raise."""
    p = make_problem(line_dist([0, 100, 200]), allowed=[[True, True, False]])
    sol = solve_routing(p, DET)
    assert sol.status == "infeasible_input"
    assert sol.dropped.tolist() == [1, 2]
    assert all(len(r) == 0 for r in sol.routes)


def test_no_servable_job_returns_empty_routes_and_penalties():
    """With no job at all, or only optional jobs nobody may serve, the result
    is ``ok`` with empty routes and the objective is the sum of penalties."""
    empty = make_problem(np.zeros((1, 1)), n_vehicles=2)
    sol = solve_routing(empty, DET)
    assert sol.status == "ok" and sol.objective == 0 and sol.dropped.size == 0
    p = make_problem(line_dist([0, 100, 200]), allowed=[[True, False, False]], penalty=[0, 7, 11])
    sol = solve_routing(p, DET)
    assert sol.status == "ok" and sol.dropped.tolist() == [1, 2]
    assert sol.objective == 18 and sol.routes[0].size == 0


def test_conflicting_mandatory_windows_give_no_solution():
    """Two mandatory jobs on opposite sides of the depot, each reachable alone
    but not both by the single vehicle: OR-Tools finds nothing and the result
    is ``no_solution`` with every job dropped (no exception)."""
    close = [0, START + 100, START + 100]
    p = make_problem(line_dist([0, 1000, -1000]), tw_close_s=close)
    sol = solve_routing(p, DET)
    assert sol.status == "no_solution"
    assert sol.dropped.tolist() == [1, 2]
    # Control: with a second vehicle the same jobs are served.
    p2 = make_problem(line_dist([0, 1000, -1000]), tw_close_s=close, n_vehicles=2)
    sol2 = solve_routing(p2, DET)
    assert sol2.status == "ok" and sol2.dropped.size == 0


def test_per_vehicle_deadline():
    """Job B has a tight deadline on vehicle 0 only (reachable directly, not
    after A, and A must come first). Without it the cheap vehicle 0 does A, B
    (cost 5000); with it the optimum moves both jobs to vehicle 1 (9000).
    The deadline is not removable by pre-filtering, so this exercises the
    vehicle-dependent constraints (Element + deadline mirror dimension)."""
    dist = np.array([[0, 1000, 2000], [1000, 0, 1000], [2000, 1000, 0]])
    kwargs = dict(
        n_vehicles=2,
        service_var_s=[0, 100, 0],
        tw_close_s=[0, START + 150, NO_DL],  # A can only be first
        fixed_cost=1000,
        cost_per_m=[1.0, 2.0],
    )
    relaxed = make_problem(dist, **kwargs)
    sol = solve_routing(relaxed, DET)
    assert sol.routes[0].tolist() == [1, 2] and sol.objective == 5000

    deadline = np.full((2, 3), NO_DL)
    deadline[0, 2] = START + 250  # direct: 200 s (ok); after A: 300 s (late)
    p = make_problem(dist, deadline_s=deadline, **kwargs)
    # The deadline must not be handled by pre-filtering: vehicle 0 stays
    # compatible with B, so the Element constraint is what forbids A -> B.
    assert compatible_vehicles(p, p.transit_time_s())[0, 2]
    sol = solve_routing(p, DET)
    assert sol.routes[0].size == 0 and sol.routes[1].tolist() == [1, 2]
    assert sol.objective == 9000 == check_solution(p, sol)


def test_same_site_fixed_service_charged_once():
    """Three jobs at one site: 100 s out + 3*60 s variable + 600 s fixed once
    + 100 s back = 980 s fits a 1000 s shift. Charging the fixed part per job
    (2180 s) would not: the same jobs on distinct sites are infeasible."""
    dist = np.array([[0, 1000, 1000, 1000]] + [[1000, 0, 0, 0]] * 3)
    kwargs = dict(service_fixed_s=[0, 600, 600, 600], service_var_s=[0, 60, 60, 60], end_max_s=START + 1000)
    p = make_problem(dist, site=[9, 4, 4, 4], **kwargs)
    sol = solve_routing(p, DET)
    assert sol.status == "ok" and sol.dropped.size == 0
    assert sol.arrival_s[0].tolist() == [START + 100, START + 160, START + 220]
    assert sol.end_s[0] == START + 980
    check_solution(p, sol)
    # Control: three different sites at the same place -> fixed part 3 times.
    q = make_problem(dist, site=[9, 4, 5, 6], **kwargs)
    assert solve_routing(q, DET).status == "no_solution"


def test_random_instance_is_feasible_and_objective_matches():
    """A seeded 40-job instance with zones, two capacity dimensions, shared
    sites, windows and per-vehicle deadlines: every hard constraint holds on
    re-timing and the reported objective equals the recomputed one."""
    p = random_problem(40, seed=1)
    sol = solve_routing(p, RoutingParams(time_limit_s=None, solution_limit=100, seed=3))
    assert check_solution(p, sol) == sol.objective
    assert sol.dropped.size < 40 // 2
    assert sol.solutions_found == 100


def _solve_signature(args):
    problem, params = args
    sol = solve_routing(problem, params)
    return [r.tolist() for r in sol.routes], sol.dropped.tolist(), sol.objective, sol.solutions_found


def test_determinism_under_solution_limit():
    """Same problem + seed + solution_limit -> identical routes, drops and
    objective: twice in this process and once in a freshly spawned worker
    process (as used by the caller's ProcessPoolExecutor)."""
    p = random_problem(60, seed=11)
    params = RoutingParams(time_limit_s=None, solution_limit=100, seed=5)
    first = _solve_signature((p, params))
    assert first[3] == 100
    assert _solve_signature((p, params)) == first
    ctx = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=1, mp_context=ctx) as pool:
        assert pool.submit(_solve_signature, (p, params)).result() == first


def test_problem_and_solution_pickle():
    """Problem, params and solution survive a pickle round trip (they cross
    process boundaries)."""
    p = make_problem(line_dist([0, 100, 200]), penalty=5)
    sol = solve_routing(p, DET)
    p2, params2, sol2 = pickle.loads(pickle.dumps((p, DET, sol)))
    assert np.array_equal(p2.dist_m, p.dist_m) and params2 == DET
    assert [r.tolist() for r in sol2.routes] == [r.tolist() for r in sol.routes]
    assert sol2.objective == sol.objective


def _base():
    return make_problem(line_dist([0, 100, 200]), n_vehicles=2)


@pytest.mark.parametrize(
    ("change", "match"),
    [
        (dict(dist_m=np.zeros((3, 4), np.int64)), "dist_m: shape"),
        (dict(travel_s=-np.ones((3, 3), np.int64)), "travel_s: negative"),
        (dict(tw_open_s=np.array([0, 500, 0]), tw_close_s=np.array([0, 400, 10])), "job 1 opens at 500"),
        (dict(demand=np.ones((3, 1), np.int64)), "demand: the depot row"),
        (dict(allowed=np.ones((2, 3), np.int64)), "allowed: expected a bool"),
        (dict(site=np.array([1, 1, 2])), "site: the depot site 1 is shared with job 1"),
        (dict(site=np.array([0, 1, 1])), r"travel_s: nodes 1 and 2 share site"),
        (dict(end_max_s=np.array([START - 1, START])), "end_max_s: vehicle 0"),
        (dict(capacity=np.ones((2, 2), np.int64)), "demand: shape"),
        (dict(cost_per_m=np.array([1.0, np.nan])), "cost_per_m: contains NaN"),
        (dict(penalty=np.ones((3, 1), np.int64)), "penalty: expected a 1-d array"),
        (dict(dist_m=np.full((3, 3), 2**41, np.int64)), "dist_m: values larger"),
    ],
)
def test_validate_errors(change, match):
    """validate() (and solve_routing) raise ValueError naming the array and
    the problem for each kind of malformed input."""
    bad = dataclasses.replace(_base(), **change)
    with pytest.raises(ValueError, match=match):
        bad.validate()
    with pytest.raises(ValueError, match=match):
        solve_routing(bad, DET)


def test_validate_accepts_base_problem():
    """The baseline used for the error cases is itself valid (so each error
    case fails for the reason it names)."""
    _base().validate()


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        (dict(time_limit_s=None, solution_limit=None), "cannot both be None"),
        (dict(time_limit_s=0.0), "time_limit_s must be a positive"),
        (dict(solution_limit=0), "solution_limit must be >= 1"),
        (dict(seed=-1), "seed must be an integer >= 0"),
        (dict(failure_limit=0), "failure_limit must be an integer >= 1"),
        (dict(first_solution="fastest"), "parallel_cheapest_insertion"),
        (dict(metaheuristic="annealing"), "guided_local_search"),
    ],
)
def test_params_validation(kwargs, match):
    """RoutingParams rejects bad budgets, seeds and unknown strategy names;
    the strategy errors list the valid options."""
    with pytest.raises(ValueError, match=match):
        RoutingParams(**kwargs)


def test_params_accept_strategy_names_case_insensitively():
    """Upper-case OR-Tools enum names are accepted and normalised."""
    prm = RoutingParams(first_solution="PATH_CHEAPEST_ARC", metaheuristic="TABU_SEARCH")
    assert (prm.first_solution, prm.metaheuristic) == ("path_cheapest_arc", "tabu_search")
