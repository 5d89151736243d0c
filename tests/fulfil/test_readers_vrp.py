"""VRP readers on vrplib: Solomon, Homberger, X, VRPTW in VRPLIB form, the multi-trip set with release
dates, solution files; malformed files fail with a ValueError naming the file (and the line where known)."""

from __future__ import annotations

import csv
import re

import numpy as np
import pytest

from fulfil.readers.orlib import benchdata_dir
from fulfil.readers.vrp import (
    MTVRPTWRInstance,
    VRPInstance,
    format_solution,
    read_instance,
    read_solomon,
    read_solution,
    read_vrplib,
    write_solution,
)

DATA = benchdata_dir()
SOLOMON, HOMBERGER, XSET, MTVRPTWR = (DATA / d for d in ("solomon", "homberger_200", "cvrp_x", "mtvrptwr"))


def needs(path):
    return pytest.mark.skipif(not path.exists(), reason=f"shared benchmark data not found at {path} "
                                                        "(set FULFIL_BENCHDATA)")


def write(tmp_path, text, name):
    p = tmp_path / name
    p.write_text(text)
    return p


def fails(path, pattern, reader=read_instance, **kw):
    """``reader(path)`` raises a ValueError whose message starts with the file and matches ``pattern``."""
    with pytest.raises(ValueError) as err:
        reader(path, **kw)
    msg = str(err.value)
    assert msg.startswith(str(path)), msg
    assert re.search(pattern, msg), msg
    return msg


# ------------------------------------------------------------------ good files
@needs(SOLOMON / "C101.txt")
def test_solomon_c101():
    """C101: 100 customers, 25 vehicles of 200, the documented first rows, node i = CUST NO. i."""
    inst = read_instance(SOLOMON / "C101.txt")
    assert type(inst) is VRPInstance and inst.kind == "vrptw" and inst.has_windows and inst.name == "C101"
    assert inst.n_customers == 100 and (inst.vehicles, inst.capacity) == (25, 200)
    assert inst.coords[0].tolist() == [40, 50] and (inst.ready[0], inst.due[0]) == (0, 1236)
    assert (inst.demand[1], inst.ready[1], inst.due[1], inst.service[1]) == (10, 912, 967, 90)
    assert inst.demand[0] == 0 and int(inst.demand.sum()) == 1810 and inst.service[0] == 0
    assert inst.file_ids.tolist() == list(range(101))
    assert inst.coords.dtype == np.float64 and inst.demand.dtype == np.int64


@needs(HOMBERGER / "C1_2_1.txt")
def test_homberger_c1_2_1_crlf_and_name_from_the_file_stem():
    """C1_2_1 (CRLF, lower-case name inside): 200 customers, 50 vehicles of 200, named by the file stem."""
    inst = read_instance(HOMBERGER / "C1_2_1.txt")
    assert inst.name == "C1_2_1" and inst.kind == "vrptw" and inst.n_customers == 200
    assert (inst.vehicles, inst.capacity) == (50, 200)
    assert inst.coords[0].tolist() == [70, 70] and inst.due[0] == 1351
    assert inst.coords[1].tolist() == [33, 78] and (inst.demand[1], inst.ready[1], inst.due[1]) == (20, 750, 809)
    assert (inst.due >= inst.ready).all() and (inst.service[1:] == 90).all()


@needs(XSET / "X-n101-k25.vrp")
def test_x_n101_k25_depot_first_no_windows():
    """X-n101-k25: depot (file node 1) is node 0, capacity 206, no fleet limit, no windows."""
    inst = read_vrplib(XSET / "X-n101-k25.vrp")
    assert inst.name == "X-n101-k25" and inst.kind == "cvrp" and not inst.has_windows
    assert inst.n_customers == 100 and inst.capacity == 206 and inst.vehicles is None
    assert inst.coords[0].tolist() == [365, 689] and inst.coords[1].tolist() == [146, 180]
    assert inst.demand[0] == 0 and inst.demand[1] == 38 and inst.file_ids.tolist() == list(range(1, 102))
    assert (inst.ready == 0).all() and np.isinf(inst.due).all() and (inst.service == 0).all()


VRPTW_VRPLIB = """NAME : tiny-tw
TYPE : VRPTW
DIMENSION : 4
EDGE_WEIGHT_TYPE : EUC_2D
CAPACITY : 10
VEHICLES : 2
NODE_COORD_SECTION
1 3 0
2 0 0
3 6 0
4 10 0
DEMAND_SECTION
1 4
2 0
3 5
4 6
TIME_WINDOW_SECTION
1 0 50
2 0 100
3 10 60
4 20 80
SERVICE_TIME_SECTION
1 1
2 0
3 2
4 3
DEPOT_SECTION
2
-1
EOF
"""


def test_vrptw_in_vrplib_form_depot_moved_first(tmp_path):
    """TIME_WINDOW_SECTION + SERVICE_TIME_SECTION: a vrptw instance; the depot (file node 2) becomes node 0,
    the others follow in file order and keep their ids in file_ids."""
    inst = read_instance(write(tmp_path, VRPTW_VRPLIB, "tiny.vrp"))
    assert type(inst) is VRPInstance and inst.kind == "vrptw" and inst.has_windows and inst.name == "tiny-tw"
    assert inst.file_ids.tolist() == [2, 1, 3, 4] and (inst.vehicles, inst.capacity) == (2, 10)
    assert inst.coords[:, 0].tolist() == [0, 3, 6, 10] and inst.demand.tolist() == [0, 4, 5, 6]
    assert inst.ready.tolist() == [0, 0, 10, 20] and inst.due.tolist() == [100, 50, 60, 80]
    assert inst.service.tolist() == [0, 1, 2, 3]
    # a SERVICE_TIME value instead of the section applies to the customers, not the depot
    text = VRPTW_VRPLIB.replace("VEHICLES : 2\n", "VEHICLES : 2\nSERVICE_TIME : 7\n")
    text = text[:text.index("SERVICE_TIME_SECTION")] + text[text.index("DEPOT_SECTION"):]
    assert read_instance(write(tmp_path, text, "t2.txt")).service.tolist() == [0, 7, 7, 7]


@needs(MTVRPTWR / "C201R0.5.vrp")
def test_every_mtvrptwr_file_parses_with_release_dates_in_the_horizon():
    """All 81 multi-trip files: 100 clients, 8 vehicles of 100 reloading at the depot, release dates in
    [0, depot horizon], one per bks.csv row; the set is read but not benchmarked yet."""
    files = sorted(MTVRPTWR.glob("*.vrp"))
    with (MTVRPTWR / "bks.csv").open(newline="") as fh:
        assert sorted(r["instance"] for r in csv.DictReader(fh)) == sorted(f.stem for f in files)
    assert len(files) == 81
    for f in files:
        inst = read_instance(f)
        assert isinstance(inst, MTVRPTWRInstance) and inst.kind == "mtvrptwr" and inst.has_windows, f
        assert inst.name == f.stem and inst.n_customers == 100 and (inst.vehicles, inst.capacity) == (8, 100)
        assert inst.release.shape == (101,) and inst.release.dtype == np.float64
        assert inst.release[0] == 0 and (inst.release >= 0).all() and (inst.release <= inst.due[0]).all(), f
        assert inst.reload_depots.shape == (8, 1) and (inst.reload_depots == 0).all()
        assert inst.service[0] == 0 and len(set(inst.service[1:].tolist())) == 1
        assert inst.demand[0] == 0 and (inst.demand <= inst.capacity).all()
        assert inst.file_ids[0] == 1 and (inst.due >= inst.ready).all()
    c201 = read_instance(MTVRPTWR / "C201R0.5.vrp")
    assert c201.due[0] == 3390 and c201.service[1] == 90 and c201.release.max() > 0
    from fulfil.bench.convert import convention_for

    with pytest.raises(ValueError, match="multi-trip front end"):
        convention_for(c201, None)


# ------------------------------------------------------------------ solutions
def test_solution_round_trip(tmp_path):
    """write_solution drops empty routes, writes format_solution's text; read_solution gives it back;
    depot reloads (0 inside a route) are read only when asked; 'Cost:' and no Cost line are read too."""
    path = write_solution(tmp_path / "s" / "a.sol", [[1, 2], [], [3]], 32.0, decimals=1)
    assert path.read_text() == "Route #1: 1 2\nRoute #2: 3\nCost 32.0\n" == format_solution([[1, 2], [3]], 32, 1)
    assert read_solution(path) == ([[1, 2], [3]], 32.0)
    assert format_solution([[4]], 1234.56789) == "Route #1: 4\nCost 1234.5679\n"
    assert format_solution([[4]], 15006.0) == "Route #1: 4\nCost 15006\n"
    multi = write_solution(tmp_path / "m.sol", [[5, 3, 0, 7, 9]], 15006)
    assert read_solution(multi, reloads=True) == ([[5, 3, 0, 7, 9]], 15006.0)
    fails(multi, r"m\.sol:1: expected customer numbers >= 1", reader=read_solution)
    p = write(tmp_path, "# comment\nRoute #1: 2 1\nVehicles: 1\nCost: 27.5\n", "c.sol")
    assert read_solution(p) == ([[2, 1]], 27.5)
    p = write(tmp_path, "Route #1: 2 1\n", "n.sol")
    assert read_solution(p) == ([[2, 1]], None)


# ------------------------------------------------------------------ malformed
SOLOMON_GOOD = ("X1\n\nVEHICLE\nNUMBER     CAPACITY\n  2         10\n\nCUSTOMER\n"
                "CUST NO.  XCOORD.   YCOORD.    DEMAND   READY TIME  DUE DATE   SERVICE   TIME\n\n"
                "0 0 0 0 0 100 0\n1 3 0 4 0 50 1\n")


@pytest.mark.parametrize("text, pattern", [
    (SOLOMON_GOOD + "2 6 0 4 0 50\n", r":12: expected 7 numbers"),
    (SOLOMON_GOOD + "2 6 zero 4 0 50 1\n", r":12: expected y coordinate as a non-negative integer, got 'zero'"),
    (SOLOMON_GOOD + "2 6.5 0 4 0 50 1\n", r":12: expected x coordinate .*'6\.5'"),
    (SOLOMON_GOOD + "3 6 0 4 0 50 1\n", r":12: customer number 3, expected 2"),
    (SOLOMON_GOOD + "2 6 0 4 60 50 1\n", r":12: due date 50 before ready time 60"),
    (SOLOMON_GOOD + "2 6 0 11 0 50 1\n", r":12: demand 11 of customer 2 exceeds the vehicle capacity 10"),
    (SOLOMON_GOOD.replace("  2         10", "  2"), r":5: expected 2 numbers \(vehicle number, capacity\)"),
    (SOLOMON_GOOD.replace("  2         10", "  2  ten"), r":5: expected 2 integers"),
    (SOLOMON_GOOD.replace("VEHICLE", "FLEET"), r":3: expected the 'VEHICLE' line"),
    (SOLOMON_GOOD.replace("XCOORD.", "X"), r":8: the column header line lacks XCOORD\."),
    (SOLOMON_GOOD.replace("0 0 0 0 0 100 0", "0 0 0 3 0 100 0"), r":10: the depot .* has demand 3"),
    ("X1\nVEHICLE\nNUMBER CAPACITY\n2 10\nCUSTOMER\n", r":5: unexpected end of file"),
])
def test_malformed_solomon_names_file_and_line(tmp_path, text, pattern):
    """Each defect of a Solomon file is a ValueError naming the file and the line."""
    fails(write(tmp_path, text, "bad.txt"), r"bad\.txt" + pattern, reader=read_solomon)


CVRP = ("NAME : t\nTYPE : CVRP\nDIMENSION : 3\nEDGE_WEIGHT_TYPE : {ewt}\nCAPACITY : 5\n"
        "NODE_COORD_SECTION\n1 0 0\n2 3 4\n3 6 8\nDEMAND_SECTION\n1 0\n2 1\n3 2\nDEPOT_SECTION\n1\n-1\nEOF\n")
GOOD = CVRP.format(ewt="EUC_2D")


@pytest.mark.parametrize("text, pattern", [
    (CVRP.format(ewt="GEO"), r":4: EDGE_WEIGHT_TYPE GEO is not supported"),
    (GOOD.replace("3 2\n", ""), r":10: DEMAND_SECTION lacks node\(s\) \[3\]"),
    (GOOD.replace("2 3 4", "2 3 x"), r":8: expected y coordinate, got 'x'"),
    (GOOD.replace("2 3 4", "2 3"), r":8: expected 'id x y' in NODE_COORD_SECTION"),
    (GOOD.replace("2 3 4\n3 6 8", "3 6 8\n2 3 4"), r":8: node id 3 in NODE_COORD_SECTION, expected 2"),
    (GOOD.replace("2 1\n", "2 1.5\n"), r":12: expected demand \(an integer\), got 1\.5"),
    (GOOD.replace("3 2\n", "3 9\n"), r":13: demand 9 of node 3 exceeds CAPACITY 5"),
    (GOOD.replace("TYPE : CVRP", "TYPE : PDPTW"), r":2: TYPE PDPTW is not supported"),
    (GOOD.replace("CAPACITY : 5", "CAPACITY : five"), r":5: CAPACITY must be an integer"),
    (GOOD.replace("CAPACITY : 5\n", ""), r": no CAPACITY line"),
    (GOOD.replace("1\n-1", "1\n2\n-1"), r":14: expected exactly one depot in DEPOT_SECTION, got 2"),
    (GOOD.replace("1\n-1", "x\n-1"), r":15: expected depot ids \(then -1\) in DEPOT_SECTION, got 'x'"),
    (GOOD.replace("EOF", "BACKHAUL_SECTION\n2 1\nEOF"), r":17: BACKHAUL_SECTION is not supported"),
    (GOOD.replace("DEPOT_SECTION", "VEHICLES : 2\nDEPOT_SECTION"), r":14: specification 'VEHICLES : 2' after"),
    (GOOD.replace("CAPACITY : 5", "CAPACITY 5"), r":5: expected 'KEY : VALUE' or a section name"),
    (GOOD.replace("TYPE : CVRP", "TYPE : VRPTW"), r": no TIME_WINDOW_SECTION"),
])
def test_malformed_vrplib_names_file_and_line(tmp_path, text, pattern):
    """Each defect of a VRPLIB file is a ValueError naming the file (and the line where it is known)."""
    path = write(tmp_path, text, "t.vrp")
    fails(path, r"t\.vrp" + pattern)


def test_malformed_vrptw_and_multitrip_fields(tmp_path):
    """VRPTW / multi-trip fields: a window closing before it opens, a negative service time, a release
    date at the depot, a reload depot that is not the depot."""
    fails(write(tmp_path, VRPTW_VRPLIB.replace("3 10 60", "3 70 60"), "w.vrp"), r"w\.vrp:20: due date 60 before")
    fails(write(tmp_path, VRPTW_VRPLIB.replace("4 3\n", "4 -3\n"), "s.vrp"), r"s\.vrp:26: service time must be")
    multi = VRPTW_VRPLIB.replace("TYPE : VRPTW", "TYPE : MTVRPTWR").replace(
        "DEPOT_SECTION", "RELEASE_TIME_SECTION\n1 5\n2 0\n3 0\n4 9\n"
        "VEHICLES_RELOAD_DEPOT_SECTION\n1 2\n2 2\nDEPOT_SECTION")
    inst = read_instance(write(tmp_path, multi, "m.vrp"))
    assert isinstance(inst, MTVRPTWRInstance) and inst.release.tolist() == [0, 5, 0, 9]
    assert inst.reload_depots.tolist() == [[0], [0]]
    fails(write(tmp_path, multi.replace("2 0\n3 0", "2 4\n3 0"), "r.vrp"), r"r\.vrp:\d+: the depot 2 has release")
    fails(write(tmp_path, multi.replace("2 2\nDEPOT", "2 3\nDEPOT"), "d.vrp"), r"d\.vrp:\d+: expected the vehicle")


def test_unreadable_files_and_bad_solutions(tmp_path):
    """A missing or binary file and a malformed solution line are ValueErrors naming the file."""
    fails(tmp_path / "nope.txt", r"nope\.txt: cannot read")
    (tmp_path / "bin.vrp").write_bytes(b"NAME : \xff\xfe\n")
    fails(tmp_path / "bin.vrp", r"bin\.vrp:1: not a text file")
    fails(write(tmp_path, "Route #1: 1 x\nCost 3\n", "a.sol"), r"a\.sol:1: expected customer number",
          reader=read_solution)
    fails(write(tmp_path, "Route #1: 1 2\nCost abc\n", "b.sol"), r"b\.sol:2: expected 'Cost <value>'",
          reader=read_solution)
    fails(write(tmp_path, "Route #1: 1 -2\n", "c.sol"), r"c\.sol:1: expected customer numbers >= 1",
          reader=read_solution)
