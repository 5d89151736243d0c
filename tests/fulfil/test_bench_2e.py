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
    ref = load_2e_bks(SET2A)["Set2a_E-n22-k4-s10-14"]
    assert ref.value == pytest.approx(371.50) and ref.kind == "optimum"


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
    bks = load_2e_bks(SET2A)["Set2a_E-n22-k4-s10-14"].value
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


def test_bks_kinds_and_bounds(tmp_path: Path) -> None:
    """An upper bound is never read as an optimum or a lower bound; only those two make a result impossible."""
    from fulfil.bench.twoecho import bound_summary

    (tmp_path / "bks.csv").write_text(
        "instance,bks,optimal,source\n"
        "A,100.0,yes,LB=UB\n"
        "B,200.5,no,upper bound: the value of the tighter form\n"
        "C,300.25,unknown,Sheet2 BUB; best BLB 290.1; 2 decimals\n"
        "D,,unknown,none found\n", encoding="utf-8")
    bks = load_2e_bks(tmp_path)
    assert set(bks) == {"A", "B", "C"}
    assert (bks["A"].kind, bks["B"].kind, bks["C"].kind) == ("optimum", "upper bound", "best known")
    assert bks["B"].lower_bound is None and bks["C"].lower_bound == pytest.approx(290.1)
    assert not bks["A"].below_bound(99.995) and bks["A"].below_bound(99.8)  # one unit of the last decimal
    assert not bks["A"].below_value(99.96) and bks["A"].below_value(99.94)  # at the printed precision (0.1)
    assert not bks["B"].below_bound(150.0)  # below an upper bound: an improvement
    assert not bks["C"].below_bound(295.0) and bks["C"].below_bound(289.9)
    rows = [{"instance": "A", "feasible": True, "cost": 100.0}, {"instance": "B", "feasible": True, "cost": 190.0},
            {"instance": "C", "feasible": True, "cost": 289.0}]
    text = bound_summary(rows, bks)
    assert "Below the listed value: 2 (best known, upper bound)" in text
    assert "Below a proven optimum or a listed lower bound: 1 -- IMPOSSIBLE, check: C" in text
    (tmp_path / "bks.csv").write_text("instance,bks,optimal,source\nA,1O0,yes,x\n", encoding="utf-8")
    with pytest.raises(Exception, match="not a number"):
        load_2e_bks(tmp_path)


@needs_data
def test_set4b_values_are_upper_bounds() -> None:
    bks = load_2e_bks(benchdata_dir() / "2e_vrp" / "Set4b")
    set4b = {k: r for k, r in bks.items() if k.startswith("Set4b_")}
    assert len(set4b) == 54
    assert all(r.kind == "upper bound" and r.lower_bound is None for r in set4b.values())
    assert bks["Set4b_Instance50-49"].value == bks["Set4a_Instance50-49"].value


def _relaxation_pair(tmp_path: Path):
    """One tiny instance twice: at most 3 freighters per satellite, and at most 6 (= the total)."""
    near = ((5, 5), (10, -5), (-5, 10), (8, 12), (12, 3), (-3, -8), (0, 14), (15, -10), (-10, -2), (6, -14))
    cust = " ".join(f"{100 + dx},{dy},5" for dx, dy in near)  # ten customers around satellite 1, two a freighter
    text = "!trucks\n1,1000,1,0\n!freighters\n{per},6,10,1,0\n!stores\n0,0 100,0 100,50 50,0\n!customers\n" + cust
    out = []
    for name, per in (("Set2a_tight", 3), ("Set2a_relaxed", 6)):
        f = tmp_path / f"{name}.dat"
        f.write_text(text.format(per=per) + "\n", encoding="utf-8")
        out.append(read_2e(f))
    return out


def test_relaxation_never_comes_out_worse(tmp_path: Path) -> None:
    """Six freighters allowed per satellite instead of three: every tight solution is allowed, so the
    relaxed result is at most the tight one (its search starts with the tight one's)."""
    from solvers.routing.satellites import screening_cap

    tight, relaxed = _relaxation_pair(tmp_path)
    assert screening_cap(6, 6, 3) == 3 and screening_cap(3, 6, 3) == 3 and screening_cap(4, 4, 2) == 4
    rt, _ = solve_2e(tight, time_limit_s=3.0, seed=0)
    rr, _ = solve_2e(relaxed, time_limit_s=3.0, seed=0)
    assert rt.feasible and rr.feasible, (rt.violations, rr.violations)
    assert verify_2e(relaxed, rr.trunk_routes, rr.lm_routes)[0] == []
    assert rr.cost <= rt.cost + 1e-6, (rr.cost, rt.cost)
