"""`fulfil bench` on OR-Library facility-location folders."""

from __future__ import annotations

import csv

import pytest

from fulfil.cli import main
from fulfil.readers.orlib import benchdata_dir


@pytest.mark.parametrize(("folder", "names"), [("cflp", "cap71,cap101"), ("pmedian", "pmed1")])
def test_bench_reaches_known_optimum(tmp_path, folder, names):
    """`fulfil bench facility_location/<set>` solves the chosen instances to their known optimum (cost re-computed
    from the instance file) and writes the shared results.csv columns."""
    root = benchdata_dir() / "facility_location" / folder
    if not root.is_dir():
        pytest.skip(f"shared benchmark data not found at {root}")
    out = tmp_path / "o"
    assert main(["-q", "bench", str(root), "--instances", names, "--time-limit", "60", "--out", str(out)]) == 0
    rows = list(csv.DictReader((out / "results.csv").open()))
    assert [r["instance"] for r in rows] == names.split(",")
    for r in rows:
        assert r["feasible"] == "True"
        assert abs(float(r["cost"]) - float(r["bks"])) <= 1e-6 * float(r["bks"]) + 1e-3
        assert {"instance", "solver", "feasible", "routes", "cost", "bks", "gap_pct", "seconds"} <= set(r)
    assert (out / "gaps.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
