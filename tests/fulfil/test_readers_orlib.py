"""OR-Library readers: good files parse to the right arrays, bad ones fail naming file and line."""

from __future__ import annotations

import numpy as np
import pytest

from fulfil.readers import read_cflp, read_pmedian
from fulfil.readers.orlib import benchdata_dir, pmedian_distances, read_optimal_csv

FL = benchdata_dir() / "facility_location"
needs_data = pytest.mark.skipif(not (FL / "cflp").is_dir() or not (FL / "pmedian").is_dir(),
                                reason=f"shared OR-Library data not found at {FL} (set FULFIL_BENCHDATA)")

CFLP_SMALL = """ 2 3
 10 100.
 20 0.
 4
 1.5 2.5
 6 3 4.
 2 9
 10
"""


def write(tmp_path, text, name="inst.txt"):
    p = tmp_path / name
    p.write_text(text)
    return p


def test_read_cflp_small_wrapped_rows(tmp_path):
    """Costs wrapped over several lines are read in order; alloc_cost is (n, m)."""
    d = read_cflp(write(tmp_path, CFLP_SMALL))
    assert (d["m"], d["n"]) == (2, 3)
    assert d["capacity"].tolist() == [10, 20]
    assert d["fixed_cost"].tolist() == [100, 0]
    assert d["demand"].tolist() == [4, 6, 2]
    assert d["alloc_cost"].tolist() == [[1.5, 2.5], [3, 4], [9, 10]]


def test_read_cflp_capacity_placeholder(tmp_path):
    """The literal word 'capacity' needs capacity=...; given, it fills every site."""
    text = CFLP_SMALL.replace(" 10 100.", " capacity 100.").replace(" 20 0.", " capacity 0.")
    p = write(tmp_path, text)
    with pytest.raises(ValueError, match=rf"{p.name}:2: .*placeholder capacity 'capacity'; pass capacity="):
        read_cflp(p)
    assert read_cflp(p, capacity=8000)["capacity"].tolist() == [8000, 8000]


@pytest.mark.parametrize(
    ("text", "match"),
    [
        (CFLP_SMALL.replace(" 6 3 4.", " 6 x 4."), r":6: expected allocation cost of customer 2 to warehouse 1, got 'x'"),
        (CFLP_SMALL.replace(" 2 3\n", " 2 3.5\n"), r":1: number of customers n must be an integer"),
        (CFLP_SMALL.replace(" 20 0.", " 20 -1"), r":3: fixed cost of warehouse 2 must be >= 0"),
        (CFLP_SMALL.replace(" 2 9\n 10\n", " 2 9\n"), r"unexpected end of file, expected allocation cost of customer 3"),
        (CFLP_SMALL + " 7\n", r":9: unexpected trailing data '7' after 3 customers"),
        (CFLP_SMALL.replace(" 4\n", " nan\n"), r":4: demand of customer 1 must be finite"),
    ],
    ids=["bad-token", "non-integer-n", "negative-fixed", "truncated", "trailing", "nan"],
)
def test_read_cflp_errors_name_file_and_line(tmp_path, text, match):
    """Every malformed CFLP input raises ValueError starting with '<file>:<line>:'."""
    p = write(tmp_path, text)
    with pytest.raises(ValueError, match=match) as exc:
        read_cflp(p)
    assert str(exc.value).startswith(str(p))


def test_read_pmedian_small(tmp_path):
    """Header and edges are read; vertices become 0-based, file order is kept."""
    n, p, edges = read_pmedian(write(tmp_path, " 4 3 2\n 1 2 5\n 2 3 1\n 4 1 7\n"))
    assert (n, p) == (4, 2)
    assert edges.tolist() == [[0, 1, 5], [1, 2, 1], [3, 0, 7]]


@pytest.mark.parametrize(
    ("text", "match"),
    [
        (" 4 2 2\n 1 2 5\n 2 9 1\n", r":3: second vertex of edge 2 is 9, beyond n = 4"),
        (" 4 2 5\n 1 2 5\n 2 3 1\n", r":1: p = 5 exceeds the number of vertices 4"),
        (" 4 2 2\n 1 2 5\n 2 3\n", r"unexpected end of file, expected cost of edge 2"),
        (" 4 2 2\n 1 2 5\n 2 3 1.5\n", r":3: cost of edge 2 must be an integer"),
        (" 4 1 2\n 0 2 5\n", r":2: first vertex of edge 1 must be >= 1"),
    ],
    ids=["vertex-range", "p-too-big", "truncated", "fractional-cost", "zero-vertex"],
)
def test_read_pmedian_errors_name_file_and_line(tmp_path, text, match):
    """Every malformed p-median input raises ValueError starting with '<file>:<line>:'."""
    p = write(tmp_path, text)
    with pytest.raises(ValueError, match=match) as exc:
        read_pmedian(p)
    assert str(exc.value).startswith(str(p))


def test_pmedian_distances_last_duplicate_wins(tmp_path):
    """A repeated edge (here written reversed) keeps its last cost when building the matrix."""
    dist, p = pmedian_distances(write(tmp_path, " 3 3 1\n 1 2 5\n 2 3 1\n 2 1 2\n"))
    assert p == 1
    assert dist.tolist() == [[0, 2, 3], [2, 0, 1], [3, 1, 0]]


def test_read_optimal_csv_and_errors(tmp_path):
    """optimal.csv rows get float optima and capacities (None when blank); a bad value names the line."""
    good = write(tmp_path, "instance,file,capacity,optimal_value\na,a.txt,,1.5\nb,b.txt,8000,2\n", "opt.csv")
    rows = read_optimal_csv(good)
    assert [(r["instance"], r["capacity"], r["optimal_value"]) for r in rows] == [("a", None, 1.5), ("b", 8000.0, 2.0)]
    bad = write(tmp_path, "instance,optimal_value\na,1\nb,zz\n", "bad.csv")
    with pytest.raises(ValueError, match=r"bad.csv:3:"):
        read_optimal_csv(bad)


def test_benchdata_dir_env_override(monkeypatch, tmp_path):
    """FULFIL_BENCHDATA overrides the default <repo>/../shared/benchdata."""
    monkeypatch.setenv("FULFIL_BENCHDATA", str(tmp_path))
    assert benchdata_dir() == tmp_path
    monkeypatch.delenv("FULFIL_BENCHDATA")
    assert benchdata_dir().parts[-2:] == ("shared", "benchdata")


@needs_data
def test_real_files_shapes():
    """cap41 is 16 x 50, capa needs a capacity (100 x 1000), pmed1 has 100 vertices, 200 edges, p = 5."""
    d = read_cflp(FL / "cflp" / "cap41.txt")
    assert d["alloc_cost"].shape == (50, 16) and np.all(d["capacity"] == 5000)
    with pytest.raises(ValueError, match="capa.txt:2:"):
        read_cflp(FL / "cflp" / "capa.txt")
    assert read_cflp(FL / "cflp" / "capa.txt", capacity=8000)["alloc_cost"].shape == (1000, 100)
    n, p, edges = read_pmedian(FL / "pmedian" / "pmed1.txt")
    assert (n, p, edges.shape) == (100, 5, (200, 3))
