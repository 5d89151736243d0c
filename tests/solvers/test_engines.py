"""Second routing engine (PyVRP) behind :func:`solvers.routing.solve_routing`.

Covers :func:`solvers.routing.pyvrp_engine.expressible`, the exactness of
the translation (PyVRP's own cost equals the objective recomputed from the
arrays), the re-check of every engine result, ``engine="auto"`` keeping the
better verified plan, and determinism of ``"auto"`` under a deterministic
budget.
"""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("pyvrp")

from solvers.routing import RoutingParams, RoutingProblem, solve_routing  # noqa: E402
from solvers.routing import solve as solve_mod  # noqa: E402
from solvers.routing.check import check_routes  # noqa: E402
from solvers.routing.pyvrp_engine import (  # noqa: E402
    MAX_ALLOWED_PATTERNS,
    PyvrpResult,
    expressible,
    solve_pyvrp,
)

START = 6 * 3600
NO_DL = 10 * 86400


def problem(n=30, v=4, seed=0, *, shared_sites=False, optional=False, hetero=False) -> RoutingProblem:
    """A seeded expressible problem: windows, 2 load dimensions, costs per metre / second."""
    rng = np.random.default_rng(seed)
    xy = np.vstack([[0.0, 0.0], rng.uniform(-8000, 8000, (n, 2))])
    site = np.arange(n + 1, dtype=np.int64)
    if shared_sites:
        site[1:] = 1 + rng.integers(0, max(1, int(0.7 * n)), n)
        for j in range(1, n + 1):  # co-located jobs share coordinates
            first = int(np.flatnonzero(site == site[j])[0])
            xy[j] = xy[first]
    dist = np.rint(np.hypot(*(xy[:, None, :] - xy[None, :, :]).transpose(2, 0, 1))).astype(np.int64)
    travel = np.rint(dist / 8.0).astype(np.int64)
    same = site[:, None] == site[None, :]
    dist[same] = 0
    travel[same] = 0
    open_ = np.concatenate([[0], START + rng.integers(0, 3 * 3600, n)]).astype(np.int64)
    close = (open_ + rng.integers(2 * 3600, 5 * 3600, n + 1)).astype(np.int64)
    demand = np.vstack([np.zeros((1, 2)), rng.integers(1, 6, (n, 2))]).astype(np.int64)
    cap = np.tile([40, 40], (v, 1)).astype(np.int64)
    start = np.full(v, START, np.int64)
    fixed = np.full(v, 3000, np.int64)
    per_m = np.ones(v)
    if hetero:
        cap[v // 2:] = [25, 60]
        start[v // 2:] = START + 1800
        fixed[v // 2:] = 1000
        per_m[v // 2:] = 1.3
    pen = np.full(n + 1, 40000 if optional else -1, np.int64)
    pen[0] = 0
    return RoutingProblem(
        dist_m=dist, travel_s=travel, site=site,
        service_fixed_s=np.concatenate([[0], rng.integers(60, 240, n)]).astype(np.int64),
        service_var_s=np.concatenate([[0], rng.integers(10, 60, n)]).astype(np.int64),
        tw_open_s=open_, tw_close_s=close, demand=demand, capacity=cap,
        allowed=np.ones((v, n + 1), bool), deadline_s=np.full((v, n + 1), NO_DL, np.int64),
        start_s=start, end_max_s=np.full(v, START + 10 * 3600, np.int64), fixed_cost=fixed,
        cost_per_m=per_m, cost_per_s=np.full(v, 1.0), penalty=pen,
    )


def with_(p: RoutingProblem, **changes) -> RoutingProblem:
    d = {k: getattr(p, k) for k in p.__dataclass_fields__}
    d.update(changes)
    q = RoutingProblem(**d)
    q.validate()
    return q


# ------------------------------------------------------------ expressible
def test_expressible_plain_and_shared_sites():
    assert expressible(problem()) == (True, "")
    # Site-merged fixed service is expressed exactly through the duration matrix.
    assert expressible(problem(shared_sites=True))[0]


def test_vehicle_dependent_deadline_not_expressible():
    p = problem(v=4)
    dl = p.deadline_s.copy()
    dl[0, 5] = START + 3600  # vehicle 0 only, job 5
    ok, why = expressible(with_(p, deadline_s=dl))
    assert not ok and "job 5" in why and "deadline" in why


def test_shared_deadline_is_folded_into_window():
    p = problem(v=4)
    dl = p.deadline_s.copy()
    dl[:, 5] = START + 3 * 3600  # the same for every vehicle
    q = with_(p, deadline_s=dl)
    assert expressible(q)[0]
    r = solve_pyvrp(q, None, seed=0, max_iterations=300)
    assert r.routes is not None and check_routes(q, r.routes).ok


def test_deadline_of_vehicle_that_cannot_carry_the_job_is_ignored():
    p = problem(v=4)
    dem, cap, dl = p.demand.copy(), p.capacity.copy(), p.deadline_s.copy()
    dem[5, 1] = 50
    cap[0] = [40, 60]       # only vehicle 0 can carry job 5 ...
    dl[1:, 5] = START       # ... so the others' deadlines do not matter
    assert expressible(with_(p, demand=dem, capacity=cap, deadline_s=dl))[0]


def test_allowed_restrictions():
    p = problem(v=4)
    cap, allowed = p.capacity.copy(), p.allowed.copy()
    # Implied by capacity: vehicle 3 has no room in dimension 1 and is not allowed anywhere there.
    cap[3, 1] = 0
    allowed[3, 1:] = False
    assert expressible(with_(p, capacity=cap, allowed=allowed))[0]
    # A few vehicle sets not implied by capacity: extra 0/1 load dimensions.
    allowed = p.allowed.copy()
    allowed[0, 1:10] = False
    allowed[1, 10:20] = False
    q = with_(p, allowed=allowed)
    assert expressible(q)[0]
    r = solve_pyvrp(q, None, seed=1, max_iterations=300)
    chk = check_routes(q, r.routes)
    assert chk.ok, chk.violations
    # Too many distinct sets: not expressible.
    rng = np.random.default_rng(3)
    allowed = rng.random(p.allowed.shape) < 0.7
    allowed[:, 0] = True
    ok, why = expressible(with_(p, allowed=allowed))
    assert not ok and "allowed" in why and str(MAX_ALLOWED_PATTERNS) in why


def test_many_cost_rates_not_expressible():
    p = problem(v=6)
    ok, why = expressible(with_(p, cost_per_m=np.array([1.0, 1.1, 1.2, 1.3, 1.4, 1.5])))
    assert not ok and "cost_per_m" in why


# ---------------------------------------------------------- translation
@pytest.mark.parametrize("kw", [dict(), dict(shared_sites=True), dict(optional=True, hetero=True)])
def test_translation_cost_matches_arrays(kw):
    """PyVRP's own cost of its plan equals the objective recomputed from the arrays."""
    p = problem(n=25, v=4, seed=7, **kw)
    r = solve_pyvrp(p, None, seed=0, max_iterations=400)
    assert r.routes is not None, r.error
    chk = check_routes(p, r.routes)
    assert chk.ok, chk.violations
    assert r.objective == chk.objective


def test_engine_pyvrp_result_is_verified_and_complete():
    p = problem(n=25, v=4, seed=2, hetero=True, shared_sites=True)
    sol = solve_routing(p, RoutingParams(time_limit_s=None, solution_limit=300, engine="pyvrp"))
    assert sol.engine == "pyvrp" and sol.status == "ok"
    chk = check_routes(p, sol.routes)
    assert chk.ok and chk.objective == sol.objective == sol.stats["pyvrp_objective"]
    assert [a.tolist() for a in sol.arrival_s] == [a.tolist() for a in chk.arrival_s]
    assert sol.stats["engines_run"] == ["pyvrp"]


def test_not_expressible_runs_ortools_only():
    p = problem(v=4)
    dl = p.deadline_s.copy()
    dl[0, 5] = START + 3600
    q = with_(p, deadline_s=dl)
    sol = solve_routing(q, RoutingParams(time_limit_s=None, solution_limit=50, engine="auto"))
    assert sol.engine == "ortools" and sol.stats["engines_run"] == ["ortools"]
    assert "deadline" in sol.stats["pyvrp_skipped"]


# ------------------------------------------------------------------ auto
def test_auto_keeps_better_verified_and_is_deterministic():
    p = problem(n=40, v=6, seed=4)
    params = RoutingParams(time_limit_s=None, solution_limit=150, seed=3, engine="auto")
    a = solve_routing(p, params)
    b = solve_routing(p, params)
    assert sorted(a.stats["engines_run"]) == ["ortools", "pyvrp"]
    objs = [a.stats["ortools_objective"], a.stats["pyvrp_objective"]]
    assert a.objective == min(o for o in objs if o is not None)
    assert check_routes(p, a.routes).ok and check_routes(p, a.routes).objective == a.objective
    sig = lambda s: ([r.tolist() for r in s.routes], s.objective, s.engine)  # noqa: E731
    assert sig(a) == sig(b)
    # Engine runs submitted to an executor (here a thread pool standing in for it) give the same plan.
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(2) as pool:
        c = solve_routing(p, params, submit=pool.submit)
    assert c.stats["parallel"] and not a.stats["parallel"] and sig(c) == sig(a)
    # The pieces: engine_runs -> run_engine -> combine.
    runs = solve_mod.engine_runs(p, params)
    assert [r.engine for r in runs] == ["ortools", "pyvrp"]
    outcomes = [solve_mod.run_engine(p, r) for r in reversed(runs)]
    assert sig(solve_mod.combine(p, params, outcomes)) == sig(a)
    # A wall budget is halved only when the runs go one after the other.
    wall = RoutingParams(time_limit_s=4.0, engine="auto")
    assert [r.params.time_limit_s for r in solve_mod.engine_runs(p, wall)] == [4.0, 4.0]
    assert [r.params.time_limit_s for r in solve_mod.engine_runs(p, wall, sequential=True)] == [2.0, 2.0]


def test_auto_discards_an_engine_result_that_fails_the_check(monkeypatch):
    """A PyVRP plan that breaks windows / capacity is discarded (and counted), even when cheaper."""
    p = problem(n=12, v=3, seed=5)
    all_on_one = [list(range(1, 13)), [], []]  # overloaded, but fewer vehicles = cheaper
    monkeypatch.setattr(solve_mod, "_run_pyvrp", lambda *a, **k: PyvrpResult(all_on_one, 0, 1, 0.0))
    sol = solve_routing(p, RoutingParams(time_limit_s=None, solution_limit=50, engine="auto"))
    assert sol.engine == "ortools" and sol.stats["discarded"] == 1
    assert sol.stats["violations"] and all(m.startswith("pyvrp: ") for m in sol.stats["violations"])
    assert check_routes(p, sol.routes).ok


def test_auto_prefers_cheaper_verified_plan(monkeypatch):
    """When PyVRP returns a feasible plan cheaper than OR-Tools', it is kept."""
    p = problem(n=12, v=3, seed=5)
    ort = solve_routing(p, RoutingParams(time_limit_s=None, solution_limit=1, engine="ortools",
                                         warm_start=False))
    best = solve_routing(p, RoutingParams(time_limit_s=None, solution_limit=300, engine="pyvrp"))
    assert best.objective <= ort.objective
    plan = [r.tolist() for r in best.routes]
    monkeypatch.setattr(solve_mod, "_run_pyvrp", lambda *a, **k: PyvrpResult(plan, 0, 1, 0.0))
    sol = solve_routing(p, RoutingParams(time_limit_s=None, solution_limit=1, engine="auto", warm_start=False))
    if best.objective < ort.objective:
        assert sol.engine == "pyvrp" and sol.objective == best.objective
    else:  # tie: OR-Tools kept
        assert sol.engine == "ortools" and sol.objective == ort.objective


def test_engine_param_validation():
    with pytest.raises(ValueError, match="engine"):
        RoutingParams(engine="gurobi")
    with pytest.raises(ValueError, match="pyvrp_iterations"):
        RoutingParams(pyvrp_iterations=0)
    assert RoutingParams(engine="PyVRP").engine == "pyvrp"
