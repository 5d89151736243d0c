"""TravelModel: one index over all sites, road distances, time-dependent leg times, user matrix files."""

from __future__ import annotations

import tomllib
from pathlib import Path

import numpy as np
import pytest

from fulfil.errors import ScenarioError
from fulfil.scenario import Scenario, load_scenario
from fulfil.travel import TravelModel

GOOD = Path(__file__).resolve().parent.parent / "data" / "good"


def _mini_doc() -> dict:
    return tomllib.loads((GOOD / "mini.toml").read_text())


def _two_of_each() -> dict:
    """mini.toml with a second central and forward warehouse, so each index block has two entries."""
    doc = _mini_doc()
    doc["central_warehouses"].append({"id": "CW2", "lon": 112.90, "lat": 28.30})
    doc["forward_warehouses"].append({"id": "FW2", "lon": 113.05, "lat": 28.12, "central": "CW2"})
    return doc


def test_index_layout():
    """Central warehouses first, then forward warehouses, then pickup points, each in scenario order."""
    s = load_scenario(_two_of_each())
    t = TravelModel(s)
    assert t.ids == ["CW1", "CW2", "FW1", "FW2", "PP1", "PP2"]
    assert (t.n_central, t.n_forward) == (2, 2)
    assert [t.central_index(c) for c in range(2)] == [t.index["CW1"], t.index["CW2"]]
    assert [t.forward_index(f) for f in range(2)] == [t.index["FW1"], t.index["FW2"]]
    assert [t.pickup_index(p) for p in range(2)] == [t.index["PP1"], t.index["PP2"]]
    assert t.lon[t.index["PP2"]] == 112.96 and t.lat[t.index["FW2"]] == 28.12


def test_distances_symmetric_and_longer_than_straight_line():
    """Road distances are symmetric, zero on the diagonal, and the straight line × a circuity factor in
    the policy's bands (1.25..1.40 by default)."""
    from geo.coords import haversine_m

    t = TravelModel(load_scenario(_two_of_each()))
    idx = np.arange(len(t.ids))
    d = t.distance_m(idx, idx)
    assert d.shape == (6, 6)
    assert np.allclose(d, d.T)
    assert np.all(np.diag(d) == 0)
    straight = haversine_m(t.lon[:, None], t.lat[:, None], t.lon[None, :], t.lat[None, :])
    off = ~np.eye(6, dtype=bool)
    ratio = d[off] / straight[off]
    assert np.all(ratio >= 1.25 - 1e-9) and np.all(ratio <= 1.40 + 1e-9)
    # a rectangular block is the same numbers as the full matrix
    assert np.allclose(t.distance_m(idx[:2], idx[4:]), d[:2, 4:])


def test_leg_is_slower_in_the_rush_hour_than_at_night():
    """The same leg takes longer departing in the morning peak (factor 0.5) than at 02:00 (factor 1.15), over
    the same distance; free-flow time is distance over the profile's free-flow speed."""
    t = TravelModel(load_scenario(_mini_doc()))
    a, b = t.index["CW1"], t.index["PP1"]
    km_night, min_night = t.leg(a, b, 2 * 60.0, "default")
    km_rush, min_rush = t.leg(a, b, 7 * 60 + 30.0, "default")
    assert km_night == km_rush > 5
    free_min = km_night / 40.0 * 60.0
    assert min_night == pytest.approx(free_min / 1.15, rel=1e-6)
    assert min_rush > 1.8 * min_night
    assert min_rush == pytest.approx(free_min / 0.5, rel=0.05)


def test_user_matrix_replaces_distances_and_times(tmp_path: Path):
    """A complete matrix file gives the distances (and free-flow minutes) of the file, in the model's site
    order whatever the file's order."""
    ids = ["PP2", "PP1", "FW1", "CW1"]  # not the model's order
    rows = ["from,to,distance_km,minutes"]
    for i, a in enumerate(ids):
        for j, b in enumerate(ids):
            if a != b:
                rows.append(f"{a},{b},{10 * (i + 1) + (j + 1)},{2 * (10 * (i + 1) + (j + 1))}")
    (tmp_path / "matrix.csv").write_text("\n".join(rows) + "\n")
    doc = _mini_doc()
    doc["matrix"] = {"path": "matrix.csv"}
    t = TravelModel(load_scenario(doc, base_dir=tmp_path))
    a, b = t.index["CW1"], t.index["PP2"]
    assert t.distance_m(np.array([a]), np.array([b]))[0, 0] == pytest.approx(41_000.0)  # CW1 is 4th, PP2 1st
    assert t.free_flow_s(np.array([a]), np.array([b]), "default")[0, 0] == pytest.approx(82 * 60.0)
    km, minutes = t.leg(a, b, 2 * 60.0, "default")
    assert km == pytest.approx(41.0) and minutes == pytest.approx(82 / 1.15, rel=0.02)


def test_user_matrix_missing_a_site_is_a_scenario_error(tmp_path: Path):
    """A matrix file without one of the scenario's sites is bad input naming matrix.path and the
    site: at load, and in TravelModel for a scenario built without the loader."""
    ids = ["CW1", "FW1", "PP1"]  # PP2 left out
    rows = ["from,to,distance_km"] + [f"{a},{b},5" for a in ids for b in ids if a != b]
    (tmp_path / "matrix.csv").write_text("\n".join(rows) + "\n")
    doc = _mini_doc()
    doc["matrix"] = {"path": "matrix.csv", "free_flow_kmh": 30}
    with pytest.raises(ScenarioError) as info:
        load_scenario(doc, base_dir=tmp_path)
    assert info.value.exit_code == 2
    (line,) = info.value.problems
    assert "matrix.path:" in line and "missing from the matrix" in line and "'PP2'" in line
    doc["matrix"]["path"] = str(tmp_path / "matrix.csv")
    with pytest.raises(ScenarioError) as info:
        TravelModel(Scenario.model_validate(doc))
    (line,) = info.value.problems
    assert line.startswith("matrix.path:") and "'PP2'" in line


def test_unreadable_matrix_file_is_a_scenario_error(tmp_path: Path):
    """A matrix file that is not there, or lacks a column, is reported under matrix.path at load."""
    doc = _mini_doc()
    doc["matrix"] = {"path": "nope.csv", "free_flow_kmh": 30}
    with pytest.raises(ScenarioError, match=r"matrix\.path: matrix file 'nope.csv' not found"):
        load_scenario(doc, base_dir=tmp_path)
    (tmp_path / "bad.csv").write_text("from,to,km\nCW1,FW1,3\n")
    doc["matrix"] = {"path": "bad.csv", "free_flow_kmh": 30}
    with pytest.raises(ScenarioError, match="missing column 'distance_km'"):
        load_scenario(doc, base_dir=tmp_path)
    (tmp_path / "bad.csv").write_text("from,to,km\nCW1,FW1,3\n")
    doc["matrix"] = {"path": "bad.csv", "free_flow_kmh": 30}
    with pytest.raises(ScenarioError, match="missing column 'distance_km'"):
        TravelModel(load_scenario(doc, base_dir=tmp_path))
