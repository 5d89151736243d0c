"""Benchmarks of the routing engine on fixed Solomon instances (pytest-benchmark).

Run with::

    python -m pytest benchmarks/test_bench_routing_sets.py -q -s

Each instance is converted in the pure-distance convention (arcs truncated
to 0.1, see :mod:`fulfil.bench.convert`) and solved by
:func:`fulfil.bench.engines.ours` with a deterministic ``solution_limit``
budget, so the printed cost and gap are reproducible and only the timing
varies between machines. The cost is recomputed by
:mod:`fulfil.bench.verify`, never taken from the solver. Skipped when the
shared benchmark data is missing (set ``FULFIL_BENCHDATA``).
"""

from __future__ import annotations

import csv

import pytest

from fulfil.bench import benchdata_dir
from fulfil.bench.convert import to_routing_problem
from fulfil.bench.engines import ours
from fulfil.bench.verify import verify_routes
from fulfil.readers.vrp import read_solomon

SOLOMON = benchdata_dir() / "solomon"
SOLUTION_LIMIT = 200

pytestmark = pytest.mark.skipif(not (SOLOMON / "C101.txt").is_file(),
                                reason=f"shared benchmark data not found at {SOLOMON} (set FULFIL_BENCHDATA)")


def _bks(name: str) -> float:
    with (SOLOMON / "bks_distance_only.csv").open(newline="") as fh:
        return next(float(r["distance"]) for r in csv.DictReader(fh) if r["instance"] == name)


@pytest.mark.parametrize("name", ["C101", "R101", "RC101"])
def test_bench_solomon_instance(benchmark, name):
    """Time one deterministic solve of a Solomon instance; its solution is feasible and within 25 % of the BKS."""
    inst = read_solomon(SOLOMON / f"{name}.txt")
    problem = to_routing_problem(inst, "distance")
    sol = benchmark.pedantic(ours, args=(problem, None, 0, SOLUTION_LIMIT), rounds=1, iterations=1)
    verdict = verify_routes(inst, [list(r) for r in sol.routes if len(r)], "distance")
    bks = _bks(name)
    gap = 100.0 * (verdict.cost - bks) / bks
    print(f"\n[{name} solution_limit={SOLUTION_LIMIT}] feasible={verdict.feasible} routes={verdict.routes} "
          f"cost={verdict.cost:.1f} bks={bks} gap={gap:+.2f}% solutions={sol.solutions_found} wall={sol.wall_s:.2f}s")
    benchmark.extra_info.update(cost=verdict.cost, bks=bks, gap_pct=round(gap, 3), routes=verdict.routes)
    assert verdict.feasible, verdict.violations
    assert gap < 25.0
