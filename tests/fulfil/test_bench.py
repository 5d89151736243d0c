"""Benchmarks on standard VRP sets: readers, conversion conventions, independent verifier,
solution files and the ``fulfil bench`` command."""

from __future__ import annotations

import csv
import math
from pathlib import Path

import numpy as np
import pytest

from fulfil.bench import benchdata_dir
from fulfil.bench.convert import to_routing_problem, truncated_tenths
from fulfil.bench.verify import verify_routes, verify_solution_file
from fulfil.readers.vrp import (
    VRPInstance,
    read_instance,
    read_solomon,
    read_solution,
    read_vrplib,
    write_solution,
)

DATA = benchdata_dir()
SOLOMON = DATA / "solomon"
XSET = DATA / "cvrp_x"
HOMBERGER = DATA / "homberger_200"
needs_solomon = pytest.mark.skipif(not (SOLOMON / "C101.txt").is_file(),
                                   reason=f"shared benchmark data not found at {SOLOMON} (set FULFIL_BENCHDATA)")
needs_x = pytest.mark.skipif(not (XSET / "X-n101-k25.vrp").is_file(),
                             reason=f"shared benchmark data not found at {XSET} (set FULFIL_BENCHDATA)")


def tiny(coords, demand, ready, due, service, capacity=10, vehicles=2, kind="vrptw") -> VRPInstance:
    """A hand-made instance (node 0 = depot)."""
    n1 = len(coords)
    return VRPInstance(
        name="tiny", kind=kind, coords=np.asarray(coords, dtype=float), demand=np.asarray(demand, dtype=np.int64),
        ready=np.asarray(ready, dtype=float), due=np.asarray(due, dtype=float),
        service=np.asarray(service, dtype=float), capacity=capacity, vehicles=vehicles,
        file_ids=np.arange(n1), path="tiny.txt",
    )


# A line: depot at 0, customers at x = 3, 6, 10 (arc 0-1 = 3, 1-2 = 3, 2-3 = 4, 3-0 = 10).
LINE = dict(coords=[(0, 0), (3, 0), (6, 0), (10, 0)], demand=[0, 4, 4, 4],
            ready=[0, 0, 0, 0], due=[100, 50, 50, 50], service=[0, 1, 1, 1], capacity=10, vehicles=2)


# ------------------------------------------------------------------ readers
@needs_solomon
def test_read_solomon_c101_values():
    """C101 parses to 101 nodes, 25 vehicles of capacity 200, and the documented first rows."""
    inst = read_solomon(SOLOMON / "C101.txt")
    assert inst.kind == "vrptw" and inst.n_customers == 100
    assert (inst.vehicles, inst.capacity) == (25, 200)
    assert inst.coords[0].tolist() == [40, 50] and inst.due[0] == 1236
    assert inst.coords[1].tolist() == [45, 68]
    assert (inst.demand[1], inst.ready[1], inst.due[1], inst.service[1]) == (10, 912, 967, 90)
    assert int(inst.demand.sum()) == 1810


@needs_x
def test_read_vrplib_x_values_and_depot_first():
    """X-n101-k25 parses to 101 nodes with the depot (file node 1) as node 0 and capacity 206."""
    inst = read_vrplib(XSET / "X-n101-k25.vrp")
    assert inst.kind == "cvrp" and inst.n_customers == 100 and inst.capacity == 206
    assert inst.coords[0].tolist() == [365, 689] and inst.coords[1].tolist() == [146, 180]
    assert inst.demand[0] == 0 and inst.vehicles is None and inst.file_ids[0] == 1
    assert not inst.has_windows and np.isinf(inst.due).all()


@needs_solomon
def test_read_instance_matches_vrplib_package_when_installed():
    """Our reader keeps vrplib's values on real files of each set (node order, windows, service times,
    capacity): the conventions it adds on top (node 0 = depot, ids) do not move a number."""
    vrplib = pytest.importorskip("vrplib", reason="vrplib not installed: cross-check skipped")
    for path in [SOLOMON / "R101.txt", HOMBERGER / "RC2_2_4.txt"]:
        if not path.is_file():
            continue
        ours, ref = read_instance(path), vrplib.read_instance(path, instance_format="solomon")
        assert np.allclose(ours.coords, ref["node_coord"]) and (ours.demand == ref["demand"]).all()
        assert np.allclose(np.c_[ours.ready, ours.due], ref["time_window"])
        assert np.allclose(ours.service, ref["service_time"]) and ours.capacity == ref["capacity"]
    path = XSET / "X-n157-k13.vrp"
    if path.is_file():
        ours, ref = read_instance(path), vrplib.read_instance(path)
        assert np.allclose(ours.coords, ref["node_coord"]) and (ours.demand == ref["demand"]).all()


def test_solomon_reader_names_file_and_line_on_bad_row(tmp_path):
    """A customer row with 6 fields or a non-number is a ValueError naming the file and its line."""
    good = ("X1\n\nVEHICLE\nNUMBER     CAPACITY\n  2         10\n\nCUSTOMER\n"
            "CUST NO.  XCOORD.   YCOORD.    DEMAND   READY TIME  DUE DATE   SERVICE   TIME\n\n"
            "0 0 0 0 0 100 0\n1 3 0 4 0 50 1\n")
    f = tmp_path / "bad.txt"
    f.write_text(good + "2 6 0 4 0 50\n")
    with pytest.raises(ValueError, match=r"bad\.txt:12: expected 7 numbers"):
        read_solomon(f)
    f.write_text(good + "2 6 zero 4 0 50 1\n")
    with pytest.raises(ValueError, match=r"bad\.txt:12: expected y coordinate"):
        read_solomon(f)
    f.write_text(good + "3 6 0 4 0 50 1\n")
    with pytest.raises(ValueError, match=r"bad\.txt:12: customer number 3, expected 2"):
        read_solomon(f)
    f.write_text(good.replace("  2         10", "  2"))
    with pytest.raises(ValueError, match=r"bad\.txt:5: expected 2 numbers"):
        read_solomon(f)


def test_vrplib_reader_rejects_unsupported_and_incomplete(tmp_path):
    """VRPLIB: another EDGE_WEIGHT_TYPE, a missing demand and a bad coordinate are ValueErrors with file:line."""
    head = "NAME : t\nTYPE : CVRP\nDIMENSION : 3\nEDGE_WEIGHT_TYPE : {ewt}\nCAPACITY : 5\n"
    body = "NODE_COORD_SECTION\n1 0 0\n2 3 4\n3 6 8\nDEMAND_SECTION\n1 0\n2 1\n{d3}DEPOT_SECTION\n1\n-1\nEOF\n"
    f = tmp_path / "t.vrp"
    f.write_text(head.format(ewt="EUC_2D") + body.format(d3="3 2\n"))
    inst = read_vrplib(f)
    assert inst.demand.tolist() == [0, 1, 2] and inst.coords[2].tolist() == [6, 8]
    f.write_text(head.format(ewt="GEO") + body.format(d3="3 2\n"))
    with pytest.raises(ValueError, match=r"t\.vrp:4: EDGE_WEIGHT_TYPE GEO is not supported"):
        read_vrplib(f)
    f.write_text(head.format(ewt="EUC_2D") + body.format(d3=""))
    with pytest.raises(ValueError, match=r"t\.vrp:10: DEMAND_SECTION lacks node\(s\) \[3\]"):
        read_vrplib(f)
    f.write_text(head.format(ewt="EUC_2D") + body.format(d3="3 2\n").replace("2 3 4", "2 3 x"))
    with pytest.raises(ValueError, match=r"t\.vrp:8: expected y coordinate"):
        read_vrplib(f)


# --------------------------------------------------------------- conversion
def test_distance_convention_truncates_to_tenths_by_hand():
    """Distance convention on 2 nodes: sqrt(2)=1.414 -> 14 tenths, sqrt(13)=3.606 -> 36 (truncated, not 37),
    3-4-5 -> exactly 50; travel time = arc length; windows and service x10; fleet from the file; no fixed cost."""
    assert truncated_tenths(np.array([[0, 0], [1, 1]]))[0, 1] == 14
    assert truncated_tenths(np.array([[0, 0], [2, 3]]))[0, 1] == 36
    assert truncated_tenths(np.array([[0, 0], [3, 4]]))[1, 0] == 50
    inst = tiny([(0, 0), (2, 3)], [0, 5], [0, 7], [100, 20], [0, 9], capacity=10, vehicles=3)
    p = to_routing_problem(inst, "distance")
    p.validate()
    assert p.dist_m[0, 1] == p.dist_m[1, 0] == 36 and p.travel_s[0, 1] == 36
    assert (p.tw_open_s[1], p.tw_close_s[1], p.service_var_s[1]) == (70, 200, 90)
    assert p.end_max_s.tolist() == [1000] * 3 and p.n_vehicles == 3
    assert (p.fixed_cost == 0).all() and (p.cost_per_m == 1).all() and (p.cost_per_s == 0).all()
    assert p.penalty[1] < 0


def test_vehicles_and_cvrp_conventions_by_hand():
    """Vehicles convention: arc x1000 rounded (1414 for sqrt 2), travel rounded up (1415), fixed cost above
    any total distance; CVRP: nearest-integer arcs (sqrt(2.5^2) style halves up) and a fleet bound >= k."""
    inst = tiny([(0, 0), (1, 1), (2, 0)], [0, 1, 1], [0, 0, 0], [50, 40, 40], [0, 1, 1], vehicles=4)
    p = to_routing_problem(inst, "vehicles")
    assert p.dist_m[0, 1] == 1414 and p.travel_s[0, 1] == 1415 and p.dist_m[0, 2] == p.travel_s[0, 2] == 2000
    assert p.fixed_cost[0] > (inst.n_customers + p.n_vehicles) * p.dist_m.max()
    cv = VRPInstance(name="X-n3-k2", kind="cvrp", coords=np.array([[0, 0], [1, 1], [0, 2.5]]),
                     demand=np.array([0, 3, 4]), ready=np.zeros(3), due=np.full(3, np.inf), service=np.zeros(3),
                     capacity=5, vehicles=None, file_ids=np.array([1, 2, 3]))
    q = to_routing_problem(cv, "cvrp")
    assert q.dist_m[0, 1] == 1 and q.dist_m[0, 2] == 3  # 1.414 -> 1, 2.5 -> 3
    assert q.n_vehicles >= max(math.ceil(1.3 * 2), math.ceil(7 / 5) + 2)


# ------------------------------------------------------------------- verify
def test_verify_accepts_a_correct_solution_with_its_exact_cost():
    """Routes 1-2 and 3 on the line are feasible; cost = (3+3+6) + (10+10) = 32 in every convention."""
    inst = tiny(**LINE)
    for conv in ("distance", "vehicles"):
        v = verify_routes(inst, [[1, 2], [3]], conv, claimed_cost=32.0)
        assert v.feasible, v.violations
        assert v.cost == pytest.approx(32.0) and v.routes == 2


def test_verify_catches_each_defect():
    """Missing customer, duplicate, unknown number, capacity, late arrival, late return, fleet and wrong cost
    are each reported (and make the solution infeasible)."""
    inst = tiny(**LINE)

    def msgs(routes, **kw):
        v = verify_routes(inst, routes, "distance", **kw)
        assert not v.feasible
        return " | ".join(v.violations)

    assert "1 customer(s) not served: [3]" in msgs([[1, 2]])
    assert "customer 2 is visited again" in msgs([[1, 2], [2, 3]])
    assert "unknown customer number" in msgs([[1, 2, 7], [3]])
    assert "load 12 exceeds the capacity 10" in msgs([[1, 2, 3]])
    late = tiny(**{**LINE, "due": [100, 50, 50, 5]})  # customer 3 due at 5, 10 away from the depot
    v = verify_routes(late, [[1, 2], [3]], "distance")
    assert not v.feasible and "customer 3 reached at 10, after its due date 5" in v.violations[0]
    back = tiny(**{**LINE, "due": [15, 50, 50, 50]})
    v = verify_routes(back, [[1, 2], [3]], "distance")
    assert v.violations == ["route 2: back at the depot at 21, after its due date 15"]
    assert "3 routes exceed the fleet of 2" in msgs([[1], [2], [3]])
    assert "stated cost 31 differs from the recomputed 32" in msgs([[1, 2], [3]], claimed_cost=31.0)


def test_verify_waits_for_ready_time_and_counts_service():
    """Arriving before the ready time waits (no violation); the wait and the service delay the next stop."""
    inst = tiny(**{**LINE, "ready": [0, 20, 0, 0], "due": [100, 50, 23, 50]})
    # customer 1: arrive 3, wait to 20, serve 1 -> leave 21, arrive at 2 at 24 > 23.
    v = verify_routes(inst, [[1, 2], [3]], "distance")
    assert not v.feasible and "customer 2 reached at 24" in v.violations[0]
    ok = tiny(**{**LINE, "ready": [0, 20, 0, 0], "due": [100, 50, 24, 50]})
    assert verify_routes(ok, [[1, 2], [3]], "distance").feasible


def test_verify_distance_convention_uses_truncated_arcs():
    """In the distance convention a sqrt(2) arc counts 1.4 and time uses the same truncated length."""
    inst = tiny([(0, 0), (1, 1)], [0, 1], [0, 0], [100, 1.4], [0, 0], vehicles=1)
    v = verify_routes(inst, [[1]], "distance")
    assert v.feasible and v.cost == pytest.approx(2.8)
    v = verify_routes(inst, [[1]], "vehicles")  # exact 1.41421 > 1.4: late in exact arithmetic
    assert not v.feasible and v.cost == pytest.approx(2 * math.sqrt(2))


# ---------------------------------------------------------- solution files
def test_solution_file_round_trip(tmp_path):
    """write_solution then read_solution gives back the routes (empty ones dropped) and the cost;
    the file passes verify_solution_file, and an edited Cost line is caught."""
    inst = tiny(**LINE)
    path = write_solution(tmp_path / "s" / "tiny.sol", [[1, 2], [], [3]], 32.0, decimals=1)
    text = path.read_text()
    assert text == "Route #1: 1 2\nRoute #2: 3\nCost 32.0\n"
    assert read_solution(path) == ([[1, 2], [3]], 32.0)
    assert verify_solution_file(inst, path, "distance").feasible
    path.write_text(text.replace("Cost 32.0", "Cost 30.0"))
    assert not verify_solution_file(inst, path, "distance").feasible
    path.write_text("Route #1: 1 x\nCost 3\n")
    with pytest.raises(ValueError, match=r"tiny\.sol:1: expected customer number"):
        read_solution(path)


# -------------------------------------------------------------------- engines
@needs_solomon
def test_engines_on_a_small_solomon_slice():
    """Ours and every installed peer return a solution of the first 25 customers of R101 that the
    independent verifier accepts (peers not installed are skipped)."""
    from fulfil.bench.engines import ENGINES, engine_missing

    full = read_solomon(SOLOMON / "R101.txt")
    k = 26
    inst = VRPInstance(name="R101-25", kind="vrptw", coords=full.coords[:k], demand=full.demand[:k],
                       ready=full.ready[:k], due=full.due[:k], service=full.service[:k], capacity=full.capacity,
                       vehicles=full.vehicles, file_ids=full.file_ids[:k])
    problem = to_routing_problem(inst, "distance")
    ran = []
    for name, engine in ENGINES.items():
        if name == "ortools-plain" or engine_missing(name):
            continue  # ortools-plain's path-cheapest-arc start may legitimately fail on R1 windows
        sol = engine(problem, 1.0, 0)
        v = verify_routes(inst, [list(r) for r in sol.routes], "distance")
        assert v.feasible, (name, v.violations)
        ran.append(name)
    assert "ours" in ran


def test_missing_peer_is_a_note_not_an_error(monkeypatch):
    """A peer whose package is not importable is reported by engine_missing with an install hint."""
    import importlib.util

    from fulfil.bench import engines

    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)
    assert "pyvrp is not installed" in engines.engine_missing("pyvrp")
    assert "pyvroom is not installed" in engines.engine_missing("vroom")
    assert engines.engine_missing("ortools-plain") is None and engines.engine_missing("ours") is None


def test_family_classes():
    """Families: C1..RC2 from Solomon and Homberger names; X set by DIMENSION class."""
    from fulfil.bench.command import family_of

    assert [family_of(n, "vrptw") for n in ("C101", "RC208", "R1_2_3", "C2_2_10")] == ["C1", "RC2", "R1", "C2"]
    assert [family_of(n, "cvrp") for n in ("X-n101-k25", "X-n150-k9", "X-n151-k2", "X-n251-k28")] == \
        ["n<=150", "n<=150", "151-250", ">250"]


# ------------------------------------------------------------------------ CLI
@needs_solomon
def test_cli_bench_smoke_solomon(tmp_path, capsys):
    """`fulfil bench <solomon> --instances C101,R101,RC101 --time-limit 2 --out tmp` exits 0 and writes
    results.csv with 3 feasible rows for ours with finite gaps, plus one .sol file per instance that the
    verifier accepts (the CI smoke run of the benchmark)."""
    from fulfil.cli import main

    out = tmp_path / "bench"
    rc = main(["bench", str(SOLOMON), "--instances", "C101,R101,RC101", "--time-limit", "2", "--out", str(out)])
    text = capsys.readouterr().out
    assert rc == 0, text
    with (out / "results.csv").open(newline="") as fh:
        rows = [r for r in csv.DictReader(fh) if r["solver"] == "ours"]
    assert [r["instance"] for r in rows] == ["C101", "R101", "RC101"]
    for r in rows:
        assert r["feasible"] == "yes", r
        gap = float(r["gap_pct"])
        assert math.isfinite(gap) and gap > -1e-9, r
        assert float(r["bks"]) > 0 and float(r["seconds"]) < 10
        # ours' two engines ran as two executor tasks at the same time, each with the whole budget
        assert "ortools+pyvrp in parallel" in r["status"], r["status"]
        assert "ortools 2.0 s budget" in r["status"] and "pyvrp 2.0 s budget" in r["status"], r["status"]
        inst = read_solomon(SOLOMON / f"{r['instance']}.txt")
        v = verify_solution_file(inst, out / "ours" / f"{r['instance']}.sol", "distance")
        assert v.feasible and v.cost == pytest.approx(float(r["cost"]))
    assert "Per family" in text and "mean gap %" in text
    assert (out / "summary.txt").is_file()
    assert (out / "gaps.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@needs_solomon
def test_cli_bench_bad_options_exit_2(tmp_path, capsys):
    """An unknown instance, an unknown peer or a missing folder is bad input: exit 2, nothing run."""
    from fulfil.cli import main

    base = ["bench", str(SOLOMON), "--time-limit", "1", "--out", str(tmp_path / "o")]
    assert main(base + ["--instances", "C999"]) == 2
    assert main(base + ["--instances", "C101", "--vs", "gurobi"]) == 2
    assert main(["bench", str(tmp_path / "nope"), "--time-limit", "1", "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert "C999" in err and "gurobi" in err
    assert not (tmp_path / "o" / "results.csv").exists()


def test_cli_bench_malformed_file_exits_2(tmp_path, capsys):
    """A malformed instance file in the set is reported as `file:line: ...` with exit 2."""
    from fulfil.cli import main

    (tmp_path / "set").mkdir()
    (tmp_path / "set" / "C101.txt").write_text(
        "C101\nVEHICLE\nNUMBER CAPACITY\n2 10\nCUSTOMER\nCUST NO. X Y\n0 0 0 0 0 100 0\n1 3 0 4 0 50\n")
    assert main(["bench", str(tmp_path / "set"), "--time-limit", "1", "--out", str(tmp_path / "o")]) == 2
    assert "C101.txt:8: expected 7 numbers" in capsys.readouterr().err


def test_benchdata_dir_env_override(monkeypatch, tmp_path):
    """FULFIL_BENCHDATA overrides the default <repo>/../shared/benchdata location."""
    monkeypatch.setenv("FULFIL_BENCHDATA", str(tmp_path))
    assert benchdata_dir() == tmp_path
    monkeypatch.delenv("FULFIL_BENCHDATA")
    assert benchdata_dir() == Path(__file__).resolve().parents[2].parent / "shared" / "benchdata"
