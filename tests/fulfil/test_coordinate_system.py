"""A scenario's ``coordinate_system``: GCJ-02 and BD-09 files load to the WGS-84 model, the workbook and
re-plan's ``scenario.json`` write the declared system back, and nothing is converted twice.

Reference pairs are the published ones quoted in ``tests/geo/test_china.py``: coordtransform's
``wgs84togcj02(116.404, 39.915)`` and ``gcj02tobd09(116.404, 39.915)`` (given to 14 decimals; the
algorithm reproduces them to 1e-12), Amap's conversion-service example (its own server, which agrees
with the algorithm to a few 1e-7°) and Alibaba Cloud's ``TransferCoord`` example (6 decimals).
"""

from __future__ import annotations

import argparse
import copy
import csv
import io
import json
import tomllib
from pathlib import Path

import numpy as np
import pytest
from pydantic import ValidationError

from fulfil.errors import ScenarioError
from fulfil.scenario import Scenario, load_scenario
from fulfil.scenario.digest import scenario_digest
from fulfil.scenario.load import SITE_SECTIONS, scenario_document
from geo.china import from_wgs84

#: coordtransform: WGS-84 (116.404, 39.915) → GCJ-02, and GCJ-02 (116.404, 39.915) → BD-09.
CT_WGS, CT_GCJ = (116.404, 39.915), (116.41024449916938, 39.91640428150164)
CT_GCJ_B, CT_BD = (116.404, 39.915), (116.41036949371029, 39.92133699351021)
#: Amap's service: two WGS-84 points and their GCJ-02 (its server, a few 1e-7° from the algorithm).
AMAP = [((116.481499, 39.990475), (116.487585177952, 39.991754014757)),
        ((116.481499, 39.990375), (116.487585177952, 39.991653917101))]
#: Alibaba Cloud: GCJ-02 (120.026268, 30.279164) → BD-09, 6 decimals.
ALI_GCJ, ALI_BD = (120.026268, 30.279164), (120.032768, 30.285238)


def _doc(cw: tuple[float, float], fw: tuple[float, float], pp: tuple[float, float], system: str) -> dict:
    """A one-warehouse, one-point scenario with its three sites at the given positions."""
    return {
        "format_version": 1, "name": "coords", "coordinate_system": system,
        "products": [{"id": "milk", "zone": "chilled"}],
        "central_warehouses": [{"id": "CW1", "lon": cw[0], "lat": cw[1]}],
        "forward_warehouses": [{"id": "FW1", "lon": fw[0], "lat": fw[1], "central": "CW1"}],
        "pickup_points": [{"id": "PP1", "lon": pp[0], "lat": pp[1], "window": ["07:00", "11:30"]}],
        "vehicle_types": [
            {"id": "trunk", "tier": "trunk", "home": "CW1", "count": 1, "refrigerated": True,
             "compartments": [{"zone": "chilled", "crates": 100, "kg": 1000.0}], "shift": ["01:00", "09:00"]},
            {"id": "van", "tier": "last_mile", "home": "FW1", "count": 1, "refrigerated": True,
             "compartments": [{"zone": "chilled", "crates": 50, "kg": 500.0}], "shift": ["06:00", "16:00"]},
        ],
        "demand": [{"pickup_point": "PP1", "orders": 3, "items": {"milk": 5}}],
    }


def _sites(s: Scenario) -> np.ndarray:
    return np.array([[r.lon, r.lat] for section in SITE_SECTIONS for r in getattr(s, section)])


def _region(s: Scenario) -> np.ndarray:
    r = s.region
    return np.array([r.lon_min, r.lat_min, r.lon_max, r.lat_max])


def _without_coordinates(s: Scenario) -> dict:
    doc = s.model_dump(exclude={"coordinate_system", "region"})
    for section in SITE_SECTIONS:
        for rec in doc[section]:
            del rec["lon"], rec["lat"]
    return doc


# --------------------------------------------------------------------------- published reference pairs
def test_gcj02_file_loads_to_the_published_wgs84_positions():
    wgs = load_scenario(_doc(AMAP[0][0], AMAP[1][0], CT_WGS, "wgs84"))
    gcj = load_scenario(_doc(AMAP[0][1], AMAP[1][1], CT_GCJ, "gcj02"))
    assert gcj.coordinate_system == "gcj02" and wgs.coordinate_system == "wgs84"
    got, want = _sites(gcj), _sites(wgs)
    assert np.abs(got[2] - want[2]).max() <= 1e-7  # coordtransform's pair, 14 decimals
    assert np.abs(got[:2] - want[:2]).max() <= 1e-6  # Amap's own server: a few 1e-7° from the algorithm
    assert np.abs(got - [AMAP[0][1], AMAP[1][1], CT_GCJ]).min() > 1e-3  # really converted
    assert _without_coordinates(gcj) == _without_coordinates(wgs)


def test_bd09_file_loads_like_the_published_gcj02_positions():
    gcj = load_scenario(_doc(ALI_GCJ, ALI_GCJ, CT_GCJ_B, "gcj02"))
    bd = load_scenario(_doc(ALI_BD, ALI_BD, CT_BD, "bd09"))
    got, want = _sites(bd), _sites(gcj)
    assert np.abs(got[2] - want[2]).max() <= 1e-7  # coordtransform's pair
    assert np.abs(got[:2] - want[:2]).max() <= 1e-6  # Alibaba's example, given to 6 decimals
    assert np.abs(got - [ALI_BD, ALI_BD, CT_BD]).min() > 1e-3


# --------------------------------------------------------------------------- a whole city, CSV tables included
@pytest.fixture(scope="module")
def city(tmp_path_factory):
    """A small generated city (TOML + CSV) and the same city written in GCJ-02 and in BD-09."""
    from fulfil.generate import GenerateConfig, write_scenario

    out = tmp_path_factory.mktemp("coords")
    path = write_scenario(GenerateConfig(name="coords", seed=3, forward_warehouses=2, pickup_points=24,
                                         orders=900), out)
    return path, {system: _declared(path, system) for system in ("gcj02", "bd09")}


def _declared(path: Path, system: str) -> Path:
    """The scenario at ``path`` written again with every position in ``system`` (JSON plus its pickup-point
    CSV; the demand CSV is shared)."""
    doc = tomllib.loads(path.read_text(encoding="utf-8"))
    doc["coordinate_system"] = system
    for section in ("central_warehouses", "forward_warehouses"):
        for rec in doc[section]:
            x, y = from_wgs84(rec["lon"], rec["lat"], system)
            rec["lon"], rec["lat"] = float(x), float(y)
    r = doc["region"]
    for k_lon, k_lat in (("lon_min", "lat_min"), ("lon_max", "lat_max")):
        x, y = from_wgs84(r[k_lon], r[k_lat], system)
        r[k_lon], r[k_lat] = float(x), float(y)
    table = path.parent / doc["pickup_points_csv"]
    rows = list(csv.DictReader(io.StringIO(table.read_text(encoding="utf-8-sig"))))
    x, y = from_wgs84([float(row["lon"]) for row in rows], [float(row["lat"]) for row in rows], system)
    for row, px, py in zip(rows, x.tolist(), y.tolist(), strict=True):
        row["lon"], row["lat"] = repr(px), repr(py)
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=list(rows[0]), lineterminator="\n")
    w.writeheader()
    w.writerows(rows)
    doc["pickup_points_csv"] = f"{path.stem}_{system}_pickup_points.csv"
    (path.parent / doc["pickup_points_csv"]).write_text(buf.getvalue(), encoding="utf-8")
    out = path.with_name(f"{path.stem}_{system}.json")
    out.write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
    return out


@pytest.mark.parametrize("system", ["gcj02", "bd09"])
def test_a_city_in_each_system_loads_to_the_same_model(city, system):
    path, declared = city
    wgs, other = load_scenario(path), load_scenario(declared[system])
    assert other.coordinate_system == system
    assert np.abs(_sites(other) - _sites(wgs)).max() <= 1e-7
    assert np.abs(_region(other) - _region(wgs)).max() <= 1e-7
    assert _without_coordinates(other) == _without_coordinates(wgs)
    # the file's own numbers are hundreds of metres away: read as WGS-84 they would not pass the test above
    doc = json.loads(declared[system].read_text(encoding="utf-8"))
    naive = load_scenario(dict(doc, coordinate_system="wgs84"), base_dir=declared[system].parent)
    assert np.abs(_sites(naive) - _sites(wgs)).min() > 1e-3


def test_validating_a_model_again_does_not_convert_it(city):
    """National nights and re-plans dump a model and validate it again: no conversion there."""
    s = load_scenario(city[1]["gcj02"])
    again = Scenario.model_validate(s.model_dump())
    assert again == s and scenario_digest(again) == scenario_digest(s)


def test_a_document_in_its_own_system_loads_back_bit_for_bit(city):
    for system in ("gcj02", "bd09"):
        s = load_scenario(city[1][system])
        doc = json.loads(json.dumps(scenario_document(s)))
        assert doc["coordinate_system"] == system
        back = load_scenario(doc)
        assert back == s and scenario_digest(back) == scenario_digest(s)
        assert scenario_document(back) == doc  # and writing it again gives the same document
        # the document holds the declared system's values, not the model's WGS-84
        assert abs(doc["pickup_points"][0]["lon"] - s.pickup_points[0].lon) > 1e-3


# --------------------------------------------------------------------------- what is not converted
def test_invalid_csv_values_are_reported_as_written(tmp_path):
    doc = _doc(CT_GCJ, CT_GCJ, CT_GCJ, "gcj02")
    del doc["pickup_points"]
    doc["pickup_points_csv"] = "pp.csv"
    (tmp_path / "pp.csv").write_text("id,lon,lat,open,close\n"
                                     "PP1,116.41,39.91,07:00,11:30\n"
                                     "PP2,east,39.91,07:00,11:30\n"
                                     "PP3,116.41,95,07:00,11:30\n", encoding="utf-8")
    with pytest.raises(ScenarioError) as exc:
        load_scenario(doc, base_dir=tmp_path)
    text = str(exc.value)
    assert "pp.csv: row 3: lon: Input should be a valid number" in text and "(got 'east')" in text
    assert "pp.csv: row 4: lat: Input should be less than or equal to 90 (got '95')" in text
    assert "row 2" not in text


def test_an_unknown_system_is_a_located_error():
    with pytest.raises(ScenarioError) as exc:
        load_scenario(_doc(CT_GCJ, CT_GCJ, CT_GCJ, "utm"))
    assert "<dict>: coordinate_system: Input should be 'wgs84', 'gcj02' or 'bd09' (got 'utm')" in exc.value.problems
    with pytest.raises(ValidationError) as err:
        Scenario.model_validate(_doc(CT_GCJ, CT_GCJ, CT_GCJ, "GCJ-02"))
    assert [e["loc"] for e in err.value.errors()] == [("coordinate_system",)]


def test_a_position_without_a_wgs84_equivalent_is_an_error():
    """BD-09's shift takes a point on the date line past -180°: reported, not kept unconverted."""
    with pytest.raises(ScenarioError) as exc:
        load_scenario(_doc(CT_BD, CT_BD, (-180.0, 0.0), "bd09"))
    assert exc.value.problems == [("<dict>: pickup_points[0].lon: (-180.0, 0.0) in coordinate_system 'bd09' has no "
                                   "WGS-84 position within -180..180, -90..90")]


def test_region_corners_are_converted_and_a_site_on_its_edge_stays_inside():
    lon, lat = CT_GCJ
    doc = _doc((lon + 0.1, lat), (lon, lat + 0.1), (lon, lat), "gcj02")
    doc["region"] = {"name": "tight", "lon_min": lon, "lon_max": lon + 0.1, "lat_min": lat, "lat_max": lat + 0.1}
    s = load_scenario(doc)  # every site on the box's edge, on corners converted elsewhere
    assert s.region.lon_min == pytest.approx(CT_WGS[0], abs=1e-7)
    assert s.region.lat_min == pytest.approx(CT_WGS[1], abs=1e-7)
    far = copy.deepcopy(doc)
    far["pickup_points"][0]["lon"] = lon - 0.05
    with pytest.raises(ScenarioError) as exc:
        load_scenario(far)
    assert "<dict>: pickup_points[0]: (" in str(exc.value)
    assert "(WGS-84, converted from coordinate_system 'gcj02') lies outside region 'tight'" in str(exc.value)


# --------------------------------------------------------------------------- outputs
@pytest.fixture(scope="module")
def planned(city, tmp_path_factory):
    """The GCJ-02 city planned once with a deterministic budget, its plan written."""
    from fulfil.pipeline import PlanParams, plan_night
    from fulfil.plan_model import write_plan

    path = city[1]["gcj02"]
    s = load_scenario(path)
    plan = plan_night(s, PlanParams(time_limit_s=None, solution_limit=30, seed=0, workers=1))
    plan_path = tmp_path_factory.mktemp("planned") / "plan.json"
    write_plan(plan, plan_path)
    return path, s, plan, plan_path


def _file_positions(path: Path) -> dict[str, tuple[float, float]]:
    """Site id → (lon, lat) as the declared-system file gives them."""
    doc = json.loads(path.read_text(encoding="utf-8"))
    out = {r["id"]: (r["lon"], r["lat"]) for section in ("central_warehouses", "forward_warehouses")
           for r in doc[section]}
    rows = csv.DictReader(io.StringIO((path.parent / doc["pickup_points_csv"]).read_text(encoding="utf-8")))
    out.update({r["id"]: (float(r["lon"]), float(r["lat"])) for r in rows})
    return out


def test_workbook_writes_the_declared_system(planned):
    openpyxl = pytest.importorskip("openpyxl")
    from fulfil.report.geojson import plan_geojson
    from fulfil.report.workbook import plan_workbook

    path, s, plan, _ = planned
    book = openpyxl.load_workbook(io.BytesIO(plan_workbook(plan, s)))
    file_pos = _file_positions(path)
    model = {r.id: (r.lon, r.lat) for section in SITE_SECTIONS for r in getattr(s, section)}
    seen = 0
    for d, t in plan.trips():
        ws = book[t.id]
        header = [c.value for c in ws[5]]
        assert header[3:5] == ["lon (GCJ-02)", "lat (GCJ-02)"]
        for row in ws.iter_rows(min_row=6, values_only=True):
            loc, lon, lat = row[1], row[3], row[4]
            assert np.abs(np.subtract((lon, lat), file_pos[loc])).max() <= 1e-7  # what the dispatcher wrote
            assert np.abs(np.subtract((lon, lat), model[loc])).max() > 1e-3  # not the model's WGS-84
            seen += 1
    assert seen >= 2 * sum(1 for _ in plan.trips())
    assert "coordinates in GCJ-02" in book["Overview"]["A2"].value
    # GeoJSON stays WGS-84 (RFC 7946): the model's positions
    gj = plan_geojson(plan, s)
    stops = [f for f in gj["features"] if f["properties"]["feature"] == "stop"]
    assert stops
    for f in stops:
        lon, lat = f["geometry"]["coordinates"]
        assert np.abs(np.subtract((lon, lat), model[f["properties"]["location"]])).max() <= 1e-7


def _replan_cli(argv: list[str]) -> int:
    from fulfil.replan_cli import add_replan_parser

    p = argparse.ArgumentParser()
    add_replan_parser(p.add_subparsers())
    args = p.parse_args(argv)
    return args.func(args)


def test_replans_scenario_json_is_in_the_declared_system_and_not_converted_twice(planned, tmp_path):
    from fulfil.checker import check_plan
    from fulfil.plan_model import read_plan

    path, s, plan, plan_path = planned
    _, t = next((d, t) for d, t in plan.trips() if d.tier == "last_mile")
    st = t.stops[0]
    events = tmp_path / "events.json"
    events.write_text(json.dumps({"late_orders": [{"pickup_point": st.location, "product": min(st.products),
                                                   "units": 4}]}), encoding="utf-8")
    out = tmp_path / "out"
    assert _replan_cli(["replan", str(path), str(plan_path), str(events), "--out", str(out), "--time-limit", "0",
                        "--charts", "0"]) == 0
    doc = json.loads((out / "scenario.json").read_text(encoding="utf-8"))
    assert doc["coordinate_system"] == "gcj02"
    file_pos = _file_positions(path)
    for section in SITE_SECTIONS:
        for r in doc[section]:
            assert np.abs(np.subtract((r["lon"], r["lat"]), file_pos[r["id"]])).max() <= 1e-7
    again = load_scenario(out / "scenario.json")
    new = read_plan(out / "plan.json")
    assert np.array_equal(_sites(again), _sites(s))  # bit for bit: converted once, back, and once again
    assert new.scenario_digest == scenario_digest(again)
    assert check_plan(again, new) == []  # `fulfil check DIR/scenario.json DIR/plan.json` finds no change
    # the hazard this guards against: the model's dump read in its declared system moves every site
    naive = load_scenario(s.model_dump(mode="json", exclude_none=True))
    assert np.abs(_sites(naive) - _sites(s)).min() > 1e-3
