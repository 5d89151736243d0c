"""``ours`` in the hierarchical "vehicles" convention: fleet first, then distance
(:mod:`solvers.routing.fleet`)."""

from __future__ import annotations

import pytest

from fulfil.bench import benchdata_dir
from fulfil.bench.convert import to_routing_problem
from fulfil.bench.engines import ours
from fulfil.bench.verify import verify_routes
from fulfil.readers.vrp import read_instance
from solvers.routing.fleet import dominant_fixed_cost

pytest.importorskip("pyvrp")

SOLOMON = benchdata_dir() / "solomon"
needs_solomon = pytest.mark.skipif(not (SOLOMON / "C101.txt").is_file(),
                                   reason=f"shared benchmark data not found at {SOLOMON} (set FULFIL_BENCHDATA)")


def _check(inst, sol):
    routes = [[int(c) for c in r] for r in sol.routes if len(r)]
    verdict = verify_routes(inst, routes, "vehicles")
    assert verdict.feasible, verdict.violations[:3]
    ff = sol.stats["fleet_first"]
    # Never more vehicles than phase 1 found; the kept plan is one of the candidates.
    assert len(routes) <= ff["phase1_vehicles"]
    assert ff["kept"] in ("phase1", "phase2")
    return routes, verdict


@needs_solomon
def test_dominant_fixed_cost_detects_the_vehicles_convention_only():
    inst = read_instance(SOLOMON / "R101.txt")
    assert dominant_fixed_cost(to_routing_problem(inst, "vehicles"))
    assert not dominant_fixed_cost(to_routing_problem(inst, "distance"))


@needs_solomon
def test_ours_vehicles_wall_budget_passes_verify_and_keeps_the_fleet():
    inst = read_instance(SOLOMON / "R101.txt")
    sol = ours(to_routing_problem(inst, "vehicles"), 4.0, seed=0)
    assert sol.status == "ok" and len(sol.dropped) == 0
    _check(inst, sol)


@needs_solomon
def test_ours_vehicles_deterministic_budget_is_reproducible():
    inst = read_instance(SOLOMON / "C101.txt")
    problem = to_routing_problem(inst, "vehicles")
    a = ours(problem, None, seed=3, solution_limit=40)
    b = ours(problem, None, seed=3, solution_limit=40)
    routes_a, _ = _check(inst, a)
    routes_b, _ = _check(inst, b)
    assert routes_a == routes_b and a.objective == b.objective


@needs_solomon
def test_ours_distance_convention_is_plain_solve_routing():
    inst = read_instance(SOLOMON / "C101.txt")
    sol = ours(to_routing_problem(inst, "distance"), None, seed=0, solution_limit=20)
    assert sol.status == "ok" and "fleet_first" not in (sol.stats or {})
