"""Benchmarks of :mod:`solvers.location` on quick OR-Library instances (pytest-benchmark).

Run with::

    python -m pytest benchmarks/test_bench_location.py -q -s

Each benchmark solves to proven optimality and checks the published optimum,
so only the timing varies between machines. Skipped when the shared data
folder (``$FULFIL_BENCHDATA`` or ``<repo>/../shared/benchdata``) is missing.
"""

from __future__ import annotations

import pytest

from fulfil.readers.orlib import benchdata_dir, pmedian_distances, read_cflp, read_optimal_csv
from solvers.location import solve_cflp, solve_pmedian

FL = benchdata_dir() / "facility_location"
pytestmark = pytest.mark.skipif(not (FL / "cflp" / "optimal.csv").is_file(),
                                reason=f"shared OR-Library data not found at {FL}")


def _row(kind: str, name: str) -> dict:
    return next(r for r in read_optimal_csv(FL / kind / "optimal.csv") if r["instance"] == name)


@pytest.mark.parametrize("name", ["cap71", "cap134"])
def test_bench_cflp(benchmark, name):
    """Multi-source CFLP solved to the known optimum."""
    row = _row("cflp", name)
    d = read_cflp(FL / "cflp" / row["file"], capacity=row["capacity"])
    res = benchmark.pedantic(solve_cflp, args=(d["fixed_cost"], d["capacity"], d["demand"], d["alloc_cost"]),
                             rounds=3, iterations=1, warmup_rounds=1)
    assert res.optimal and res.objective == pytest.approx(row["optimal_value"], rel=1e-6)
    print(f"\n{name}: objective {res.objective:.3f} (optimum {row['optimal_value']:.3f})")


def test_bench_pmedian(benchmark):
    """pmed1 (100 vertices, p = 5) solved to the known optimum."""
    row = _row("pmedian", "pmed1")
    dist, p = pmedian_distances(FL / "pmedian" / row["file"])
    res = benchmark.pedantic(solve_pmedian, args=(dist, p), rounds=3, iterations=1, warmup_rounds=1)
    assert res.optimal and res.objective == row["optimal_value"]
    print(f"\npmed1: objective {res.objective:.0f} (optimum {row['optimal_value']:.0f})")
