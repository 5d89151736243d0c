"""``fulfil bench mtvrptwr``: the multi-trip check catches each defect; a tiny run writes every output."""

from __future__ import annotations

import csv
import itertools

import numpy as np
import pytest

from fulfil.bench import benchdata_dir
from fulfil.bench.verify import verify_multitrip, verify_multitrip_file
from fulfil.readers.vrp import MTVRPTWRInstance, read_instance, write_solution

MT = benchdata_dir() / "mtvrptwr"
needs_mt = pytest.mark.skipif(not (MT / "C201R0.5.vrp").is_file(),
                              reason=f"shared benchmark data not found at {MT} (set FULFIL_BENCHDATA)")


def tiny(due2: float = 100.0, release2: float = 20.0, horizon: float = 1000.0, vehicles: int = 1,
         reloads: bool = True) -> MTVRPTWRInstance:
    """Depot at (0, 0); customer 1 at (3, 0), customer 2 at (0, 4); demand 6 each, capacity 10.

    ``[1, 0, 2]``: trip 1 leaves at 0, serves 1 at 3 (service 1), back at 7; trip 2 waits for
    customer 2's release (20), serves 2 at 24, back at 29. Cost 3 + 3 + 4 + 4 = 14.0 = 140 tenths.
    """
    return MTVRPTWRInstance(
        name="tiny", kind="mtvrptwr", coords=np.array([(0, 0), (3, 0), (0, 4)], dtype=float),
        demand=np.array([0, 6, 6], dtype=np.int64), ready=np.zeros(3), due=np.array([horizon, 100.0, due2]),
        service=np.array([0.0, 1.0, 1.0]), capacity=10, vehicles=vehicles, file_ids=np.arange(1, 4),
        path="tiny.vrp", release=np.array([0.0, 0.0, release2]),
        reload_depots=np.zeros((vehicles, 1 if reloads else 0), dtype=np.int64))


def test_multitrip_check_accepts_the_hand_computed_solution():
    v = verify_multitrip(tiny(), [[1, 0, 2]], claimed_cost=140)
    assert v.feasible and v.cost == 140 and v.routes == 1, v.violations


def test_multitrip_check_trip_leaves_after_the_release_date():
    """Customer 2 due at 22: reachable at 11 if trip 2 left when the vehicle is back (7), but its goods
    are released at 20, so it arrives at 24 -- late. Without the release date the same routes pass."""
    v = verify_multitrip(tiny(due2=22.0), [[1, 0, 2]])
    assert not v.feasible
    assert any("customer 2 reached at 24" in m and "release date of customer 2" in m for m in v.violations), v
    assert verify_multitrip(tiny(due2=22.0, release2=0.0), [[1, 0, 2]]).feasible


def test_multitrip_check_catches_each_defect():
    inst = tiny()
    over = verify_multitrip(inst, [[1, 2]])  # one trip, load 12
    assert any("load 12 exceeds the capacity 10" in m for m in over.violations), over
    fleet = verify_multitrip(inst, [[1], [2]])  # the same trips without a reload need two vehicles
    assert any("2 routes exceed the fleet of 1" in m for m in fleet.violations), fleet
    cost = verify_multitrip(inst, [[1, 0, 2]], claimed_cost=141)
    assert any("stated cost 141 differs from the recomputed 140" in m for m in cost.violations), cost
    late = verify_multitrip(tiny(horizon=25.0), [[1, 0, 2]])
    assert any("back at the depot at 29" in m for m in late.violations), late
    single = verify_multitrip(tiny(reloads=False), [[1, 0, 2]])
    assert any("allows no reload" in m for m in single.violations), single
    twice = verify_multitrip(inst, [[1, 0, 1, 2]])
    assert any("customer 1 is visited again" in m for m in twice.violations), twice
    missing = verify_multitrip(inst, [[1]])
    assert any("not served: [2]" in m for m in missing.violations), missing
    empty = verify_multitrip(inst, [[0, 1, 0, 2]])
    assert any("empty trip" in m for m in empty.violations), empty


def test_multitrip_solution_file_marks_reloads_with_0(tmp_path):
    path = write_solution(tmp_path / "tiny.sol", [[1, 0, 2]], 140, 0)
    assert path.read_text().splitlines() == ["Route #1: 1 0 2", "Cost 140"]
    assert verify_multitrip_file(tiny(), path).feasible
    path.write_text("Route #1: 1 0 2\nCost 139\n")
    assert not verify_multitrip_file(tiny(), path).feasible


@needs_mt
def test_tampered_real_solution_fails(tmp_path):
    """Ours on C201R0.5 (1 s) passes the check; its trips moved around do not."""
    from fulfil.bench.convert import to_multitrip
    from solvers.routing.multitrip import solve_multitrip

    inst = read_instance(MT / "C201R0.5.vrp")
    res = solve_multitrip(to_multitrip(inst), 1.0, seed=0)
    ok = verify_multitrip(inst, res.routes, claimed_cost=res.cost)
    assert ok.feasible and res.feasible, ok.violations
    # every trip on a vehicle of its own: more routes than VEHICLES (8)
    trips = [t for r in res.routes for t in " ".join(map(str, r)).split(" 0 ")]
    assert len(trips) > inst.vehicles
    split = verify_multitrip(inst, [[int(c) for c in t.split()] for t in trips])
    assert any("exceed the fleet" in m for m in split.violations)
    # two consecutive trips of a vehicle merged (the reload between them dropped): over capacity
    from fulfil.bench.verify import split_trips

    load = {i: int(inst.demand[i]) for i in range(inst.n_customers + 1)}
    merged = [(k, j) for k, r in enumerate(res.routes)
              for j, (a, b) in enumerate(itertools.pairwise(split_trips(r)))
              if sum(load[c] for c in a + b) > inst.capacity]
    assert merged, "no two consecutive trips exceed the capacity together"
    k, j = merged[0]
    trips_k = split_trips(res.routes[k])
    joined = trips_k[:j] + [trips_k[j] + trips_k[j + 1]] + trips_k[j + 2:]
    tampered = [r if i != k else [c for t in joined for c in [0, *t]][1:] for i, r in enumerate(res.routes)]
    over = verify_multitrip(inst, tampered)
    assert any(f"route {k + 1} trip {j + 1}: load" in m and "exceeds the capacity" in m for m in over.violations)
    assert not verify_multitrip(inst, res.routes, claimed_cost=res.cost + 1).feasible


@needs_mt
def test_cli_bench_mtvrptwr_tiny_run(tmp_path, capsys):
    """Two instances, 1 s, ours vs PyVRP: results.csv, verified .sol files with reload marks, gaps.png."""
    from fulfil.cli import main

    out = tmp_path / "mt"
    rc = main(["bench", str(MT), "--instances", "C201R0.5,R201R0.25", "--time-limit", "1", "--workers", "1",
               "--vs", "pyvrp", "--out", str(out)])
    text = capsys.readouterr().out
    assert rc == 0, text
    rows = list(csv.DictReader((out / "results.csv").open(newline="")))
    assert [(r["instance"], r["solver"]) for r in rows] == [
        ("C201R0.5", "ours"), ("C201R0.5", "pyvrp"), ("R201R0.25", "ours"), ("R201R0.25", "pyvrp")]
    for r in rows:
        assert r["feasible"] == "yes", r
        assert float(r["gap_pct"]) >= 0 and r["family"] in ("C2 R0.5", "R2 R0.25"), r
        sol = out / r["solver"] / f"{r['instance']}.sol"
        v = verify_multitrip_file(read_instance(MT / f"{r['instance']}.vrp"), sol)
        assert v.feasible and v.cost == float(r["cost"]), v.violations
    assert any(" 0 " in ln for ln in (out / "ours" / "C201R0.5.sol").read_text().splitlines()), "no reload used"
    assert (out / "gaps.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "by Solomon class and by release level" in (out / "summary.txt").read_text()


def test_subproblem_gaps_are_above_the_cheapest_feasible_solver():
    """The scenario bench's picture: each solver's cost above the cheapest feasible one of the same subproblem."""
    from fulfil.bench.scenarios import subproblem_gaps

    rows = [{"scenario": "s", "warehouse": "w1", "solver": "ours", "feasible": True, "cost": 100.0},
            {"scenario": "s", "warehouse": "w1", "solver": "pyvrp", "feasible": True, "cost": 110.0},
            {"scenario": "s", "warehouse": "w2", "solver": "ours", "feasible": True, "cost": 60.0},
            {"scenario": "s", "warehouse": "w2", "solver": "pyvrp", "feasible": False, "cost": 50.0}]
    got = [(g["subproblem"], g["solver"], g["gap_pct"]) for g in subproblem_gaps(rows)]
    assert got == [("s/w1", "ours", 0.0), ("s/w1", "pyvrp", pytest.approx(10.0)), ("s/w2", "ours", 0.0),
                   ("s/w2", "pyvrp", None)]
