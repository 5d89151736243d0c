"""2E-CVRP bench: reader, scenario mapping, and one solve through the two-tier pipeline."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from fulfil.bench import benchdata_dir
from fulfil.bench.twoecho import (
    build_scenario, load_2e_bks, read_2e, solve_2e, verify_2e, write_2e_solution,
)

SET2A = benchdata_dir() / "2e_vrp" / "Set2a"
SMALL = SET2A / "Set2a_E-n22-k4-s10-14.dat"

needs_data = pytest.mark.skipif(not SMALL.is_file(), reason="shared 2E-CVRP benchmark data not available")


def test_reader_synthetic(tmp_path: Path) -> None:
    f = tmp_path / "Set4a_tiny.dat"
    f.write_text("!c\n2,100,1,0\n!c\n2,3,50,1,0\n0,0 100,0 0,100\n!c\n100,100,10 200,0,20\n", encoding="utf-8")
    inst = read_2e(f)
    assert (inst.trucks, inst.truck_cap, inst.cf_per_sat, inst.cf_total, inst.cf_cap) == (2, 100, 2, 3, 50)
    assert inst.satellites == [(100.0, 0.0), (0.0, 100.0)]
    assert inst.customers == [(100.0, 100.0, 10.0), (200.0, 0.0, 20.0)]
    assert inst.scale == 100.0 and math.isclose(inst.dist("D0", "S1"), 1.0)
    bad = tmp_path / "bad.dat"
    bad.write_text("1,2,3,4\n", encoding="utf-8")
    with pytest.raises(ValueError):
        read_2e(bad)


def test_verify_2e_catches_defects(tmp_path: Path) -> None:
    f = tmp_path / "Set2a_tiny.dat"
    f.write_text("2,100,1,0\n2,3,50,1,0\n0,0 10,0 0,10\n10,10,10 20,0,20 0,20,45\n", encoding="utf-8")
    inst = read_2e(f)
    ok, tc, lc = verify_2e(inst, [[(1, 30), (2, 45)]], [(1, [1, 2]), (2, [3])])
    assert ok == [] and math.isclose(tc, 10 + math.hypot(10, 10) + 10)
    bad, _, _ = verify_2e(inst, [[(1, 30)]], [(1, [1, 2]), (1, [1])])
    assert any("twice" in b for b in bad) and any("not served" in b for b in bad)


@needs_data
def test_reader_real_file() -> None:
    inst = read_2e(SMALL)
    assert inst.n == 21 and len(inst.satellites) == 2
    assert (inst.trucks, inst.truck_cap, inst.cf_per_sat, inst.cf_total, inst.cf_cap) == (3, 15000, 4, 4, 6000)
    assert inst.scale == 1.0
    assert load_2e_bks(SET2A)["Set2a_E-n22-k4-s10-14"] == pytest.approx(371.50)


@needs_data
def test_scenario_validates(tmp_path: Path) -> None:
    from fulfil.scenario.schema import cross_check
    from fulfil.travel import TravelModel

    inst = read_2e(SMALL)
    s = build_scenario(inst, tmp_path / "m.csv")
    assert cross_check(s) == []
    assert len(s.pickup_points) == 21 and len(s.forward_warehouses) == 2
    tm = TravelModel(s)
    import numpy as np

    d = tm.distance_m(np.array([0]), np.array([1]))[0, 0] / 1000.0
    assert d == pytest.approx(inst.dist("D0", "S1"), abs=1e-9)


@needs_data
def test_small_instance_solves(tmp_path: Path) -> None:
    inst = read_2e(SMALL)
    res, plan = solve_2e(inst, time_limit_s=3.0, seed=0)
    assert res.checker_violations == 0
    assert res.unserved_units == 0
    assert res.feasible, res.violations
    bks = load_2e_bks(SET2A)["Set2a_E-n22-k4-s10-14"]
    gap = 100.0 * (res.cost - bks) / bks
    assert math.isfinite(gap) and gap > -0.01  # 371.50 is optimal
    write_2e_solution(tmp_path / "x.sol", res)
    assert (tmp_path / "x.sol").read_text().strip().endswith(f"{res.cost:.4f}")


@needs_data
def test_cli_bench_2e_smoke(tmp_path: Path, capsys) -> None:
    """`fulfil bench <folder of one 2E file>` writes a feasible row with the gap to bks.csv and a .sol."""
    import csv
    import shutil

    from fulfil.cli import main

    folder = tmp_path / "Set2a"
    folder.mkdir()
    shutil.copy(SMALL, folder / SMALL.name)
    (folder / "bks.csv").write_text("instance,bks,optimal,source\nSet2a_E-n22-k4-s10-14,371.50,yes,test\n",
                                    encoding="utf-8")
    out = tmp_path / "out"
    rc = main(["bench", str(folder), "--time-limit", "3", "--workers", "1", "--out", str(out)])
    text = capsys.readouterr().out
    assert rc == 0, text
    with (out / "results.csv").open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == 1 and rows[0]["feasible"] == "yes" and rows[0]["cf_total_ok"] == "yes"
    assert float(rows[0]["gap_pct"]) > -0.01  # 371.50 is optimal: nothing valid can be cheaper
    sol = (out / "ours" / f"{SMALL.stem}.sol").read_text()
    assert sol.startswith("Trunk #1:") and f"{float(rows[0]['cost']):.4f}" in sol
    assert (out / "gaps.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
