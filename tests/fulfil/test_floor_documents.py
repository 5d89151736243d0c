"""Documents for the floor: plan.xlsx, routes.geojson and map.html, read back and compared with the plan.

A small generated city is planned once for the module with a deterministic budget (a solution
limit, one worker); some pickup points and the forward warehouses get Chinese names and one
product is short, so the documents carry non-ASCII text and unserved lines.
"""

from __future__ import annotations

import csv
import io
import json
import re
import shutil
import subprocess
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from fulfil.checker import check_plan
from fulfil.errors import ScenarioError
from fulfil.plan_model import parse_plan, trip_rows
from fulfil.report.floor import FLOOR_FILES, write_floor_documents
from fulfil.report.geojson import plan_geojson
from fulfil.report.html_map import map_html
from fulfil.report.tables import (
    CSV_BOM,
    loading_list_csv,
    read_trip_sheet,
    trip_sheets,
    unserved_csv,
)
from fulfil.report.workbook import HEADER_ROW, KPI_TARGETS, plan_workbook
from fulfil.units import format_clock

openpyxl = pytest.importorskip("openpyxl")


@pytest.fixture(scope="module")
def night(tmp_path_factory):
    """``(scenario, plan, folder, paths)``: the planned night and its documents written once."""
    from fulfil.generate import GenerateConfig, write_scenario
    from fulfil.pipeline import PlanParams, plan_night
    from fulfil.scenario import load_scenario
    from fulfil.scenario.schema import Stock

    out = tmp_path_factory.mktemp("floor")
    s = load_scenario(write_scenario(GenerateConfig(name="floor", seed=3, forward_warehouses=2, pickup_points=24,
                                                    orders=900), out))
    total: Counter[str] = Counter()
    for d in s.demand:
        total.update(d.items)
    stock = [Stock(warehouse=s.central_warehouses[0].id, product=k, quantity=q // 2 if k == "ice_cream" else q)
             for k, q in total.items()]
    pps = [p.model_copy(update={"name": f"团长店 {i}号"}) if i % 3 == 0 else p for i, p in enumerate(s.pickup_points)]
    fws = [f.model_copy(update={"name": f"前置仓 {f.id}"}) for f in s.forward_warehouses]
    s = s.model_copy(update={"stock": stock, "pickup_points": pps, "forward_warehouses": fws})
    plan = plan_night(s, PlanParams(time_limit_s=None, solution_limit=30, seed=0, workers=1))
    assert check_plan(s, plan) == []
    assert plan.unserved and any(d.tier == "last_mile" for d in plan.duties)
    folder = out / "docs"
    return s, plan, folder, write_floor_documents(plan, s, folder)


@pytest.fixture(scope="module")
def book(night):
    return openpyxl.load_workbook(night[2] / "plan.xlsx")


def _sites(s) -> dict:
    return {r.id: r for r in (*s.central_warehouses, *s.forward_warehouses, *s.pickup_points)}


def _table(ws) -> list[dict]:
    """Rows under the header row as column → value, up to the first empty row."""
    cols = [c.value for c in ws[HEADER_ROW]]
    out = []
    for row in ws.iter_rows(min_row=HEADER_ROW + 1, values_only=True):
        if all(v is None for v in row):
            break
        out.append(dict(zip(cols, row, strict=True)))
    return out


def test_writes_the_three_documents(night):
    _, _, folder, paths = night
    assert [p.name for p in paths] == list(FLOOR_FILES)
    assert all(p.parent == folder and p.stat().st_size > 1000 for p in paths)
    assert not [p for p in folder.iterdir() if p.name not in FLOOR_FILES]  # no temporary files left


# --------------------------------------------------------------------------- workbook
def test_workbook_has_an_overview_two_sheets_per_trip_and_the_unserved(night, book):
    _, plan, _, _ = night
    trips = [t.id for _, t in plan.trips()]
    assert book.sheetnames == ["Overview", *[n for t in trips for n in (t, f"{t} load")], "Unserved"]


def test_route_sheets_match_the_plan(night, book):
    """Stop order, names, WGS-84 coordinates, windows, ETAs, departures and crates per zone as planned."""
    s, plan, _, _ = night
    sites = _sites(s)
    for d, t in plan.trips():
        rows = _table(book[t.id])
        assert rows[0]["stop"] == 0 and rows[0]["location"] == d.depot and rows[0]["departs"] == format_clock(t.departure)
        assert rows[-1]["stop"] == "back" and rows[-1]["ETA"] == format_clock(t.return_)
        body = rows[1:-1]
        assert [r["location"] for r in body] == [st.location for st in t.stops]
        assert [r["stop"] for r in body] == list(range(1, len(t.stops) + 1))
        assert sum(r["leg km"] for r in rows) == pytest.approx(t.distance_km, abs=0.01)
        for r, st in zip(body, t.stops, strict=True):
            site = sites[st.location]
            assert (r["lon (WGS-84)"], r["lat (WGS-84)"]) == (round(site.lon, 7), round(site.lat, 7))
            assert r["name"] == (site.name or None)
            assert r["ETA"] == format_clock(st.arrival) and r["departs"] == format_clock(st.departure)
            for z in ("frozen", "chilled", "ambient"):
                assert r[f"{z} crates"] == (st.delivered[z].crates if z in st.delivered else 0)
            if d.tier == "last_mile":
                assert (r["window opens"], r["window closes"]) == (format_clock(site.window.open),
                                                                   format_clock(site.window.close))
                assert r["min since cold room"] == st.minutes_since_cold_room
                for p, q in st.products.items():
                    name = next(x.name for x in s.products if x.id == p)
                    assert f"{q} × {name}" in r["products"]
            else:
                assert r["window opens"] == format_clock(s.policies.trunk_receiving.open)


def test_chinese_names_survive_the_workbook(night, book):
    s, plan, _, _ = night
    named = {p.id: p.name for p in s.pickup_points if p.name}
    seen = {r["location"]: r["name"] for _, t in plan.trips() for r in _table(book[t.id])[1:-1] if r["location"] in named}
    assert seen and all(seen[k] == named[k] and "团长店" in seen[k] for k in seen)
    assert "前置仓" in book[next(t.id for d, t in plan.trips() if d.tier == "last_mile")]["A2"].value


def test_loading_lists_are_in_reverse_stop_order_and_their_totals_are_the_plans(night, book):
    """The last stop is loaded first; per product the pick total is the sum of the rows and the units the
    plan delivers on that trip; crates per zone add up to the trip's load at departure."""
    s, plan, _, _ = night
    name_of = {p.id: p.name or p.id for p in s.products}
    checked_units = 0
    for _, t in plan.trips():
        rows = _table(book[f"{t.id} load"])
        body, total = rows[:-1], rows[-1]
        assert total["load order"] == "pick total"
        assert [r["location"] for r in body] == [st.location for st in reversed(t.stops)]
        assert [r["stop"] for r in body] == list(range(len(t.stops), 0, -1))
        assert [r["load order"] for r in body] == list(range(1, len(t.stops) + 1))
        assert [r["ETA"] for r in body] == [format_clock(st.arrival) for st in reversed(t.stops)]
        for z in ("frozen", "chilled", "ambient"):
            want = t.load_at_departure[z].crates if z in t.load_at_departure else 0
            assert total[f"{z} crates"] == sum(r[f"{z} crates"] for r in body) == want
        planned: Counter[str] = Counter()
        for st in t.stops:
            planned.update(st.products or {})
        for p, units in planned.items():
            col = name_of[p]
            assert total[col] == sum(r[col] or 0 for r in body) == units
            for r, st in zip(body, reversed(t.stops), strict=True):
                assert (r[col] or 0) == (st.products or {}).get(p, 0)
        checked_units += sum(planned.values())
    assert checked_units == plan.kpis.units_served  # every delivered unit is on exactly one loading list


def test_overview_shows_kpis_against_targets_and_links_every_trip(night, book):
    _, plan, _, _ = night
    ws = book["Overview"]
    cells = {row[0]: row for row in ws.iter_rows(values_only=True) if row[0] is not None}
    k = plan.kpis.model_dump()
    for t in KPI_TARGETS:
        _, value, target, met = cells[t.label][:4]
        assert value == pytest.approx(k[t.key]) and target == t.text
        assert met == ("yes" if t.met(k[t.key]) else "NO")
    assert cells["units unserved"][1] == plan.kpis.units_unserved == sum(u.units for u in plan.unserved)
    reasons = Counter(u.reason for u in plan.unserved)
    for reason, lines in reasons.items():
        assert cells[reason][2] == lines
    links = [(c.value, c.hyperlink.location if c.hyperlink.location else c.hyperlink.target)
             for row in ws.iter_rows() for c in row if c.hyperlink is not None]
    assert len(links) == 2 * sum(1 for _ in plan.trips())
    for sheet, target in links:
        assert sheet in book.sheetnames and sheet in target


def test_unserved_sheet_lists_every_line(night, book):
    _, plan, _, _ = night
    rows = _table(book["Unserved"])
    assert [(r["pickup point"], r["units"], r["reason"]) for r in rows] == [(u.pickup_point, u.units, u.reason)
                                                                          for u in plan.unserved]


def test_sheets_are_set_up_to_print(night, book):
    for ws in book.worksheets:
        assert int(ws.page_setup.paperSize) == int(ws.PAPERSIZE_A4)  # 9 = A4
        assert ws.sheet_properties.pageSetUpPr.fitToPage and ws.page_setup.fitToWidth == 1
        assert ws.page_setup.fitToHeight == 0  # as many pages tall as needed
        assert ws.column_dimensions["A"].width > 0
        if ws.title != "Overview":
            assert ws.print_title_rows == f"${HEADER_ROW}:${HEADER_ROW}"
            assert ws.freeze_panes == f"A{HEADER_ROW + 1}"
    assert all(book[t].page_setup.orientation == "landscape" for t in book.sheetnames[1:-1:2])  # route sheets


def test_workbook_writes_coordinates_in_the_declared_system(night):
    """With GCJ-02 declared, the coordinate columns hold the GCJ-02 positions a Chinese map shows."""
    from geo.china import wgs84_to_gcj02

    s, plan, _, _ = night
    ws = openpyxl.load_workbook(io.BytesIO(plan_workbook(plan, s, coordinate_system="gcj02")))
    t = next(t for d, t in plan.trips() if d.tier == "last_mile")
    rows = _table(ws[t.id])[1:-1]
    sites = _sites(s)
    lon, lat = wgs84_to_gcj02([sites[r["location"]].lon for r in rows], [sites[r["location"]].lat for r in rows])
    got = np.array([[r["lon (GCJ-02)"], r["lat (GCJ-02)"]] for r in rows])
    assert np.abs(got - np.c_[lon, lat]).max() <= 5e-8
    assert np.abs(got[:, 0] - [sites[r["location"]].lon for r in rows]).min() > 1e-3  # really shifted


# --------------------------------------------------------------------------- GeoJSON
def _rounded(x: float) -> bool:
    return round(x, 7) == x


def test_geojson_is_rfc7946_and_holds_every_trip_once(night):
    s, plan, folder, _ = night
    gj = json.loads((folder / "routes.geojson").read_text(encoding="utf-8"))
    assert gj["type"] == "FeatureCollection" and "crs" not in gj
    assert set(gj) == {"type", "features"}
    kinds = Counter(f["properties"]["feature"] for f in gj["features"])
    for f in gj["features"]:
        assert set(f) == {"type", "id", "geometry", "properties"} and f["type"] == "Feature"
        g = f["geometry"]
        positions = g["coordinates"] if g["type"] == "LineString" else [g["coordinates"]]
        assert g["type"] in ("Point", "LineString") and (g["type"] == "Point" or len(positions) >= 2)
        for lon, lat in positions:  # lon first: the city is at 112.9 E, 28.2 N
            assert 112 < lon < 114 and 27 < lat < 29 and _rounded(lon) and _rounded(lat)
    assert len({f["id"] for f in gj["features"]}) == len(gj["features"])
    trips = [f for f in gj["features"] if f["properties"]["feature"] == "trip"]
    assert sorted(f["properties"]["trip"] for f in trips) == sorted(t.id for _, t in plan.trips())
    sites = _sites(s)
    by_id = {f["id"]: f for f in trips}
    for d, t in plan.trips():
        f = by_id[t.id]
        coords = f["geometry"]["coordinates"]
        depot = [round(sites[d.depot].lon, 7), round(sites[d.depot].lat, 7)]
        assert coords[0] == coords[-1] == depot and len(coords) == len(t.stops) + 2
        assert coords[1:-1] == [[round(sites[st.location].lon, 7), round(sites[st.location].lat, 7)] for st in t.stops]
        p = f["properties"]
        assert (p["duty"], p["tier"], p["departure"], p["return"], p["distance_km"], p["cost"]) == (
            d.id, d.tier, t.departure, t.return_, t.distance_km, t.cost.total)
    assert kinds["stop"] == sum(len(t.stops) for _, t in plan.trips())
    stops = [f["properties"] for f in gj["features"] if f["properties"]["feature"] == "stop"]
    assert [(p["trip"], p["location"], p["arrival"]) for p in stops] == [
        (t.id, st.location, st.arrival) for _, t in plan.trips() for st in t.stops]
    assert all(sum(p["delivered"].values()) > 0 for p in stops)
    assert kinds["site"] == len(s.central_warehouses) + len(s.forward_warehouses)
    unserved = {f["properties"]["location"]: f["properties"] for f in gj["features"]
                if f["properties"]["feature"] == "unserved"}
    assert set(unserved) == {u.pickup_point for u in plan.unserved}
    assert sum(p["units"] for p in unserved.values()) == sum(u.units for u in plan.unserved)
    assert all(p["reasons"] and all(line["reason"] in p["reasons"] for line in p["lines"]) for p in unserved.values())


def _split_first_last_mile_trip(plan):
    """The plan with one last-mile trip split into two trips of the same duty (a two-trip vehicle)."""
    doc = plan.to_doc()
    duty = next(d for d in doc["duties"] if d["tier"] == "last_mile" and len(d["trips"][0]["stops"]) >= 2)
    t = duty["trips"][0]
    half = len(t["stops"]) // 2
    first, second = dict(t, stops=t["stops"][:half]), dict(t, id=t["id"][:-1] + "9", stops=t["stops"][half:])
    duty["trips"][:1] = [first, second]
    return parse_plan(doc), len(duty["trips"]), (first["id"], second["id"])


def test_a_vehicles_trips_share_its_colour_and_are_numbered(night):
    s, plan, _, _ = night
    two, n, (a, b) = _split_first_last_mile_trip(plan)
    gj = plan_geojson(two, s)
    colour = {f["properties"]["trip"]: f["properties"]["stroke"] for f in gj["features"]
              if f["properties"]["feature"] == "trip"}
    assert colour[a] == colour[b]
    assert len(set(colour.values())) == len({d.id for d in two.duties})  # one colour per vehicle (< 16 here)
    ws = openpyxl.load_workbook(io.BytesIO(plan_workbook(two, s)))
    assert f"(2 of {n})" in ws[b]["A1"].value and f"(1 of {n})" in ws[a]["A1"].value


def test_a_plan_that_does_not_fit_the_scenario_writes_nothing(night, tmp_path):
    s, plan, _, _ = night
    doc = plan.to_doc()
    doc["duties"][-1]["trips"][0]["stops"][0]["location"] = "PP_NOT_THERE"
    with pytest.raises(ScenarioError, match=r"stops\[0\]\.location: 'PP_NOT_THERE' is not a site of the scenario"):
        write_floor_documents(parse_plan(doc), s, tmp_path / "docs")
    assert not (tmp_path / "docs").exists() or not list((tmp_path / "docs").iterdir())


# --------------------------------------------------------------------------- map.html
#: Every http(s) address map.html may contain, none of them fetched: the SVG namespace name Leaflet
#: passes to createElementNS, Leaflet's home page in its licence header comment, and two bug-tracker
#: links in comments of leaflet.css.
ALLOWED_URLS = {
    "http://www.w3.org/2000/svg",
    "https://leafletjs.com",
    "https://bugs.chromium.org/p/chromium/issues/detail?id=600120",
    "https://bugzilla.mozilla.org/show_bug.cgi?id=888319",
}


def test_map_html_works_offline(night):
    _, plan, folder, _ = night
    text = (folder / "map.html").read_text(encoding="utf-8")
    urls = set(re.findall(r"https?://[^\s\"'<>)]+", text))
    assert urls <= ALLOWED_URLS, urls - ALLOWED_URLS
    markup = re.sub(r"(<script[^>]*>).*?(</script>)", r"\1\2", text, flags=re.DOTALL)
    markup = re.sub(r"(<style>).*?(</style>)", r"\1\2", markup, flags=re.DOTALL)
    assert markup.count("<script") == 3 and "<script src" not in markup  # all inline
    assert not re.search(r"<link\b|<img\b|<iframe\b|<object\b|\b(?:src|href)\s*=", markup)
    styles = "".join(re.findall(r"<style>(.*?)</style>", text, re.DOTALL))
    assert [u for u in re.findall(r"url\(\s*['\"]?([^'\")]+)", styles) if not u.startswith(("data:", "#"))] == []
    assert "Leaflet 1.9.4" in text and "BSD 2-Clause License" in text  # inlined, with its licence
    page_js = text.split('id="fulfil-data"', 1)[1]
    assert "tileLayer" not in page_js  # no tiles, remote or otherwise
    data = json.loads(re.search(r'id="fulfil-data">(.*?)</script>', text, re.DOTALL).group(1))
    trips = [f for f in data["geojson"]["features"] if f["properties"]["feature"] == "trip"]
    assert len(trips) == sum(1 for _ in plan.trips())


def test_map_html_cannot_be_broken_by_names(night):
    """A name holding ``</script>`` stays data: the embedded JSON escapes every '<'."""
    s, plan, _, _ = night
    pps = [p.model_copy(update={"name": "</script><script>alert(1)</script>"}) for p in s.pickup_points]
    text = map_html(plan, s.model_copy(update={"pickup_points": pps}))
    assert text.count("</script>") == 3 and "alert(1)" in text


@pytest.mark.skipif(shutil.which("chromium") is None, reason="chromium is not installed")
def test_map_html_draws_every_trip_in_headless_chromium(night, tmp_path):
    """The page runs in a real browser from file:// with no network and draws every feature."""
    s, plan, folder, _ = night
    cmd = ["chromium", "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
           "--disable-background-networking", "--disable-component-update", "--disable-sync",
           f"--user-data-dir={tmp_path / 'profile'}", "--window-size=1200,900", "--virtual-time-budget=3000"]
    url = (folder / "map.html").resolve().as_uri()
    dom = subprocess.run([*cmd, "--dump-dom", url], capture_output=True, text=True, timeout=120, check=False).stdout
    attrs = dict(re.findall(r'data-drawn-(\w+)="(\d+)"', dom))
    assert attrs, "the page's script did not run"
    assert int(attrs["trip"]) == sum(1 for _ in plan.trips())
    assert int(attrs["stop"]) == sum(len(t.stops) for _, t in plan.trips())
    assert int(attrs["site"]) == len(s.central_warehouses) + len(s.forward_warehouses)
    assert int(attrs["unserved"]) == len({u.pickup_point for u in plan.unserved})
    shot = tmp_path / "map.png"
    subprocess.run([*cmd, f"--screenshot={shot}", url], capture_output=True, timeout=120, check=False)
    assert shot.stat().st_size > 20_000


# --------------------------------------------------------------------------- CSV for Excel
def test_csv_files_start_with_a_bom_and_read_back(night):
    """Excel opens a CSV file as UTF-8 only with a byte-order mark; Python's utf-8-sig reads it back."""
    plan = night[1]
    doc = plan.to_doc()
    doc["unserved"][0]["detail"] = "库存不足：冰淇淋"
    text = unserved_csv(doc)
    assert text.startswith(CSV_BOM) and text.count(CSV_BOM) == 1
    rows = list(csv.DictReader(io.StringIO(text.encode("utf-8").decode("utf-8-sig"))))
    assert list(rows[0]) == ["pickup_point", "product", "units", "reason", "detail"]
    assert rows[0]["detail"] == "库存不足：冰淇淋" and len(rows) == len(plan.unserved)
    sheets = trip_sheets(doc)
    assert all(t.startswith(CSV_BOM) for t in sheets.values())
    meta, _ = read_trip_sheet(next(iter(sheets.values())))
    assert "trip" in meta
    assert loading_list_csv(trip_rows(doc)[0]).startswith(CSV_BOM + "load_order,")


def test_floor_documents_are_deterministic(night, tmp_path):
    """Same plan, same bytes (the workbook's zip timestamps aside, compared through openpyxl)."""
    s, plan, folder, _ = night
    again = write_floor_documents(plan, s, tmp_path)
    for name in ("routes.geojson", "map.html"):
        assert (tmp_path / name).read_bytes() == (folder / name).read_bytes()
    a, b = (openpyxl.load_workbook(p) for p in (folder / "plan.xlsx", again[0]))
    assert a.sheetnames == b.sheetnames
    for ws in a.worksheets:
        assert list(ws.iter_rows(values_only=True)) == list(b[ws.title].iter_rows(values_only=True))


def test_floor_documents_accept_the_plans_dict(night, tmp_path):
    s, plan, _, _ = night
    assert plan_geojson(plan.to_doc(), s) == plan_geojson(plan, s)
    assert isinstance(Path(write_floor_documents(plan, s, tmp_path)[0]), Path)
