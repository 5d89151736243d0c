"""The plan as an Excel workbook for the warehouse floor and the dispatcher (openpyxl, imported lazily).

Sheets, each set up to print on A4 (print titles repeat the table header on every page, fit to
the page width, landscape where the table is wide, header rows frozen on screen):

* **Overview** — the KPIs against their targets, the night's counts, unserved units by reason and an
  index of every trip with links to its two sheets;
* **one route sheet per trip** (named by the trip id) — the depot, then each stop in driving order
  with its name, coordinates, window, ETA and departure, crates per zone and products, then the
  way back;
* **one loading sheet per trip** (``<trip> load``) — the stops in *reverse* order (the last stop's
  goods are loaded first, deepest in the body) with crates per zone and units per product, closed
  by the pick totals;
* **Unserved** — every unserved line with its reason.

Coordinates are written in the scenario's declared coordinate system (WGS-84, GCJ-02 or BD-09:
the one a dispatcher pastes into a Chinese map tool); times are ``HH:MM`` text, exactly as in the
trip sheets and the plan's ``*_hhmm`` fields.
"""

from __future__ import annotations

import io
import re
from collections import Counter, defaultdict
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from fulfil.report.charts import IN_SPEC_TARGET
from fulfil.report.geojson import Site, require_sites, site_index
from fulfil.report.tables import ZONE_ORDER, plan_doc
from fulfil.units import format_clock

if TYPE_CHECKING:
    from fulfil.plan_model import Plan
    from fulfil.scenario.schema import Scenario

#: Header row of every table sheet (rows above it hold the title block); frozen and printed on each page.
HEADER_ROW = 5
SYSTEM_LABEL = {"wgs84": "WGS-84", "gcj02": "GCJ-02", "bd09": "BD-09"}


@dataclass(frozen=True)
class KpiTarget:
    """A KPI and the value it should reach (``at_least``) or stay below."""

    key: str
    label: str
    at_least: bool
    value: float

    def met(self, v: float | None) -> bool | None:
        if v is None:
            return None
        return v >= self.value if self.at_least else v < self.value

    @property
    def text(self) -> str:
        return f"{'≥' if self.at_least else '<'} {100 * self.value:g} %"


#: The night's targets (DOMAIN.md §7, "Target KPIs", and the operating claims at its top): stops on
#: time within the 2-hour promise, chilled and frozen goods handed over in spec, and the delivery cost
#: share of sales under the 15 % line that flags a failing region.
KPI_TARGETS = (
    KpiTarget("two_hour_compliance", "2-hour compliance (stops on time)", True, 0.98),
    KpiTarget("in_spec_share", "cold goods in spec at hand-over", True, IN_SPEC_TARGET),
    KpiTarget("delivery_cost_share_of_sales", "delivery cost / sales", False, 0.15),
)


def kpi_checks(kpis: dict[str, Any]) -> list[tuple[KpiTarget, float | None, bool | None]]:
    """``(target, value, met)`` per target; value and met are ``None`` when the plan has no value
    (``in_spec_share`` without the thermal model, the cost share without sales)."""
    out = []
    for t in KPI_TARGETS:
        v = kpis.get(t.key)
        out.append((t, v, t.met(v)))
    return out


def declared_system(scenario: Scenario) -> str:
    """The coordinate system the scenario was written in (``wgs84`` for scenarios that declare none):
    the one its dispatcher copies coordinates from and pastes them back into."""
    return scenario.coordinate_system


def declared_positions(sites: dict[str, Site], system: str) -> dict[str, tuple[float, float]]:
    """Site id → (lon, lat) in ``system``, converted back from the WGS-84 the scenario holds."""
    from geo.china import from_wgs84

    ids = list(sites)
    lon, lat = from_wgs84([sites[i].lon for i in ids], [sites[i].lat for i in ids], system)
    return {i: (round(float(x), 7), round(float(y), 7)) for i, x, y in zip(ids, lon, lat, strict=True)}


# --------------------------------------------------------------------------- sheet helpers
_BAD_SHEET_CHARS = re.compile(r"[\[\]:*?/\\]")


def _sheet_name(base: str, used: set[str]) -> str:
    """An Excel-legal sheet name (≤ 31 characters, none of ``[]:*?/\\``), unique ignoring case."""
    name = _BAD_SHEET_CHARS.sub("_", base).strip("'")[:31] or "sheet"
    k = 2
    while name.lower() in used:
        suffix = f"~{k}"
        name = _BAD_SHEET_CHARS.sub("_", base).strip("'")[: 31 - len(suffix)] + suffix
        k += 1
    used.add(name.lower())
    return name


def _styles():
    from openpyxl.styles import Alignment, Border, Font, PatternFill, Side

    thin = Side(style="thin", color="999999")
    return {
        "title": Font(bold=True, size=14),
        "bold": Font(bold=True),
        "header_fill": PatternFill("solid", fgColor="DDE4EE"),
        "total_fill": PatternFill("solid", fgColor="F2F2F2"),
        "ok_fill": PatternFill("solid", fgColor="C6EFCE"),
        "bad_fill": PatternFill("solid", fgColor="FFC7CE"),
        "border": Border(bottom=thin),
        "wrap": Alignment(wrap_text=True, vertical="top"),
        "header_align": Alignment(wrap_text=True, vertical="bottom"),
        "link": Font(color="0563C1", underline="single"),
    }


def _title_block(ws, st, lines: list[str]) -> None:
    """Up to four title lines above :data:`HEADER_ROW`; the first in the title font."""
    for i, text in enumerate(lines[: HEADER_ROW - 1], 1):
        ws.cell(row=i, column=1, value=text).font = st["title"] if i == 1 else st["bold"]


def _header(ws, st, row: int, names: list[str]) -> None:
    for j, name in enumerate(names, 1):
        c = ws.cell(row=row, column=j, value=name)
        c.font, c.fill, c.alignment, c.border = st["bold"], st["header_fill"], st["header_align"], st["border"]


def _print_setup(ws, widths: list[float], *, header_row: int | None, landscape: bool, footer: str) -> None:
    """Column widths, A4, fit to one page wide (any number of pages tall), repeated header, frozen panes."""
    from openpyxl.utils import get_column_letter

    for j, w in enumerate(widths, 1):
        ws.column_dimensions[get_column_letter(j)].width = w
    ws.page_setup.paperSize = ws.PAPERSIZE_A4
    ws.page_setup.orientation = "landscape" if landscape else "portrait"
    ws.sheet_properties.pageSetUpPr.fitToPage = True
    ws.page_setup.fitToWidth = 1
    ws.page_setup.fitToHeight = 0
    ws.print_options.horizontalCentered = True
    ws.page_margins.left = ws.page_margins.right = 0.4
    ws.page_margins.top = ws.page_margins.bottom = 0.5
    if header_row is not None:
        ws.print_title_rows = f"{header_row}:{header_row}"
        ws.freeze_panes = ws.cell(row=header_row + 1, column=1)
    ws.oddFooter.left.text = footer
    ws.oddFooter.right.text = "page &P of &N"


def _write_row(ws, row: int, values: list[Any], formats: dict[int, str] | None = None) -> None:
    for j, v in enumerate(values, 1):
        c = ws.cell(row=row, column=j, value=v)
        if formats and j in formats and isinstance(v, (int, float)):
            c.number_format = formats[j]


def _crates(loads: dict[str, Any], zone: str) -> int:
    return loads.get(zone, {}).get("crates", 0)


# --------------------------------------------------------------------------- context
@dataclass
class _Night:
    """What every sheet needs: the plan's dict, sites, declared positions, product names and zones."""

    doc: dict[str, Any]
    scenario_name: str
    sites: dict[str, Site]
    pos: dict[str, tuple[float, float]]
    system: str
    zones: tuple[str, ...]
    product_names: dict[str, str]
    product_order: dict[str, int]
    receiving: tuple[float, float]

    def name(self, loc: str) -> str:
        s = self.sites.get(loc)
        return s.name if s else ""

    def label(self, loc: str) -> str:
        """``id name``, or the id alone for a site without a name."""
        return f"{loc} {self.name(loc)}".rstrip()

    def window(self, loc: str, tier: str) -> tuple[str, str]:
        s = self.sites.get(loc)
        w = s.window if s is not None and s.window is not None else (self.receiving if tier == "trunk" else None)
        return (format_clock(w[0]), format_clock(w[1])) if w else ("", "")

    def products_text(self, products: dict[str, int] | None) -> str:
        return "; ".join(f"{q} × {self.product_names.get(p, p)}" for p, q in
                         sorted((products or {}).items(), key=lambda kv: self.product_order.get(kv[0], 1 << 30)))


def _night(plan: Plan | dict[str, Any], scenario: Scenario, system: str) -> _Night:
    sites = site_index(scenario)
    doc = plan_doc(plan)
    require_sites(doc, sites)
    used = {p.zone for p in scenario.products}
    return _Night(
        doc=doc, scenario_name=scenario.name, sites=sites, pos=declared_positions(sites, system),
        system=system, zones=tuple(z for z in ZONE_ORDER if z in used),
        product_names={p.id: p.name or p.id for p in scenario.products},
        product_order={p.id: i for i, p in enumerate(scenario.products)},
        receiving=(scenario.policies.trunk_receiving.open, scenario.policies.trunk_receiving.close),
    )


# --------------------------------------------------------------------------- sheets
def _route_sheet(ws, st, night: _Night, duty: dict[str, Any], trip: dict[str, Any], number: int, of: int) -> None:
    last_mile = duty["tier"] == "last_mile"
    sysname = SYSTEM_LABEL.get(night.system, night.system)
    cols = (["stop", "location", "name", f"lon ({sysname})", f"lat ({sysname})", "window opens", "window closes",
             "ETA", "departs", "leg km"] + [f"{z} crates" for z in night.zones]
            + (["min since cold room", "products"] if last_mile else []))
    depot = duty["depot"]
    loads = trip["load_at_departure"]
    _title_block(ws, st, [
        (f"Trip {trip['id']} ({number} of {of}) — vehicle {duty['vehicle_type']} #{duty['vehicle']}, "
         f"{duty['tier'].replace('_', '-')}"),
        (f"Depot {night.label(depot)} · departs {format_clock(trip['departure'])} · back "
         f"{format_clock(trip['return'])} · {trip['distance_km']:.1f} km · {len(trip['stops'])} stops · "
         f"cost {trip['cost']['total']:.2f} RMB"),
        "Loaded: " + ", ".join(f"{z} {_crates(loads, z)} crates" for z in night.zones),
    ])
    _header(ws, st, HEADER_ROW, cols)
    fmt = {4: "0.0000000", 5: "0.0000000", 10: "0.00", 11 + len(night.zones): "0.0"}
    row = HEADER_ROW + 1
    dlon, dlat = night.pos[depot]
    _write_row(ws, row, [0, depot, night.name(depot), dlon, dlat, "", "", "", format_clock(trip["departure"]), 0.0]
               + [_crates(loads, z) for z in night.zones], fmt)
    for i, s in enumerate(trip["stops"], 1):
        row += 1
        lon, lat = night.pos[s["location"]]
        w_open, w_close = night.window(s["location"], duty["tier"])
        values = ([i, s["location"], night.name(s["location"]), lon, lat, w_open, w_close,
                   format_clock(s["arrival"]), format_clock(s["departure"]), s["leg_km"]]
                  + [_crates(s["delivered"], z) for z in night.zones])
        if last_mile:
            values += [s.get("minutes_since_cold_room"), night.products_text(s.get("products"))]
        _write_row(ws, row, values, fmt)
        if last_mile:
            ws.cell(row=row, column=len(cols)).alignment = st["wrap"]
    row += 1
    _write_row(ws, row, ["back", depot, night.name(depot), dlon, dlat, "", "", format_clock(trip["return"]), "",
                         trip["return_leg_km"]], fmt)
    for j in range(1, len(cols) + 1):
        ws.cell(row=row, column=j).fill = st["total_fill"]
    widths = [6, 11, 22, 12, 12, 8, 8, 7, 7, 7] + [8] * len(night.zones) + ([9, 60] if last_mile else [])
    _print_setup(ws, widths, header_row=HEADER_ROW, landscape=True,
                 footer=f"{night.scenario_name} · route of trip {trip['id']}")


def _trip_products(night: _Night, trip: dict[str, Any]) -> list[str]:
    seen = {p for s in trip["stops"] for p in (s.get("products") or {})}
    return sorted(seen, key=lambda p: (night.product_order.get(p, 1 << 30), p))


def _loading_sheet(ws, st, night: _Night, duty: dict[str, Any], trip: dict[str, Any]) -> None:
    products = _trip_products(night, trip)
    cols = (["load order", "stop", "location", "name", "ETA"] + [f"{z} crates" for z in night.zones] + ["kg"]
            + [night.product_names.get(p, p) for p in products])
    _title_block(ws, st, [
        f"Loading list — trip {trip['id']}, vehicle {duty['vehicle_type']} #{duty['vehicle']}",
        f"Depot {night.label(duty['depot'])} · departs {format_clock(trip['departure'])}",
        "Load in this order: the last stop's goods first (deepest in the body), the first stop's last (at the door).",
    ])
    _header(ws, st, HEADER_ROW, cols)
    n_zones = len(night.zones)
    fmt = {6 + n_zones: "0.0"}
    row = HEADER_ROW
    stops = list(enumerate(trip["stops"], 1))
    for k, (i, s) in enumerate(reversed(stops), 1):
        row += 1
        d = s["delivered"]
        units = s.get("products") or {}
        _write_row(ws, row, [k, i, s["location"], night.name(s["location"]), format_clock(s["arrival"])]
                   + [_crates(d, z) for z in night.zones] + [round(sum(v["kg"] for v in d.values()), 1)]
                   + [units.get(p, 0) or None for p in products], fmt)
    row += 1
    totals = (["pick total", "", f"{len(stops)} stops", "", ""]
              + [sum(_crates(s["delivered"], z) for _, s in stops) for z in night.zones]
              + [round(sum(v["kg"] for _, s in stops for v in s["delivered"].values()), 1)]
              + [sum((s.get("products") or {}).get(p, 0) for _, s in stops) for p in products])
    _write_row(ws, row, totals, fmt)
    for j in range(1, len(cols) + 1):
        c = ws.cell(row=row, column=j)
        c.font, c.fill = st["bold"], st["total_fill"]
    widths = [7, 6, 11, 22, 7] + [8] * n_zones + [8] + [10] * len(products)
    _print_setup(ws, widths, header_row=HEADER_ROW, landscape=len(cols) > 10,
                 footer=f"{night.scenario_name} · loading list of trip {trip['id']}")


def _unserved_sheet(ws, st, night: _Night) -> None:
    sysname = SYSTEM_LABEL.get(night.system, night.system)
    cols = ["pickup point", "name", f"lon ({sysname})", f"lat ({sysname})", "product", "units", "reason", "detail"]
    lines = night.doc["unserved"]
    _title_block(ws, st, [f"Unserved lines — {night.scenario_name}",
                          f"{len(lines)} lines, {sum(u['units'] for u in lines)} units"])
    _header(ws, st, HEADER_ROW, cols)
    for r, u in enumerate(lines, HEADER_ROW + 1):
        lon, lat = night.pos.get(u["pickup_point"], (None, None))
        _write_row(ws, r, [u["pickup_point"], night.name(u["pickup_point"]), lon, lat,
                           night.product_names.get(u["product"], u["product"]), u["units"], u["reason"],
                           u.get("detail", "")], {3: "0.0000000", 4: "0.0000000"})
        ws.cell(row=r, column=8).alignment = st["wrap"]
    if lines:
        ws.auto_filter.ref = f"A{HEADER_ROW}:H{HEADER_ROW + len(lines)}"
    _print_setup(ws, [11, 22, 12, 12, 18, 7, 18, 60], header_row=HEADER_ROW, landscape=True,
                 footer=f"{night.scenario_name} · unserved lines")


def _overview(ws, st, night: _Night, index: list[tuple[dict, dict, str, str]]) -> None:
    doc, k = night.doc, night.doc["kpis"]
    check = doc.get("check")
    status = {0: "complete", 130: "interrupted: the best plan found so far"}.get(doc.get("code", 0), f"code {doc.get('code')}")
    _title_block(ws, st, [
        f"Plan for '{doc['scenario']}' (seed {doc.get('seed', 0)})",
        f"{status} · checker: " + ("not run" if check is None else f"{check['violations']} violations")
        + f" · coordinates in {SYSTEM_LABEL.get(night.system, night.system)}",
    ])
    row = 4
    _header(ws, st, row, ["KPI", "value", "target", "met"])
    for t, v, met in kpi_checks(k):
        row += 1
        ws.cell(row=row, column=1, value=t.label)
        c = ws.cell(row=row, column=2, value=v if v is not None else "not computed")
        if v is not None:
            c.number_format = "0.00%"
        ws.cell(row=row, column=3, value=t.text)
        m = ws.cell(row=row, column=4, value={True: "yes", False: "NO", None: "–"}[met])
        if met is not None:
            m.fill = st["ok_fill"] if met else st["bad_fill"]
    row += 2
    _header(ws, st, row, ["count", "value"])
    counts = [
        ("vehicles (trunk + last mile)", f"{k['vehicles']} ({k['trunk_vehicles']} + {k['last_mile_vehicles']})"),
        ("trips (trunk + last mile)", f"{k['trips']} ({k['trunk_trips']} + {k['last_mile_trips']})"),
        ("last-mile stops", k["stops"]), ("distance, km", k["distance_km"]), ("cost, RMB", k["cost"]),
        ("orders", k["orders_total"]), ("orders served complete", k["orders_complete"]),
        ("units ordered", k["units_total"]), ("units served", k["units_served"]),
        ("units unserved", k["units_unserved"]), ("fill rate", k["fill_rate"]),
        ("cold-chain compliance (time out of zone)", k["cold_chain_compliance"]),
    ]
    for label, v in counts:
        row += 1
        ws.cell(row=row, column=1, value=label)
        c = ws.cell(row=row, column=2, value=v)
        if label in ("fill rate", "cold-chain compliance (time out of zone)"):
            c.number_format = "0.00%"
        elif isinstance(v, float):
            c.number_format = "#,##0.0"
    row += 2
    _header(ws, st, row, ["unserved: reason", "pickup points", "lines", "units"])
    by: dict[str, list] = defaultdict(lambda: [set(), 0, 0])
    for u in doc["unserved"]:
        a = by[u["reason"]]
        a[0].add(u["pickup_point"])
        a[1] += 1
        a[2] += u["units"]
    for reason in sorted(by):
        row += 1
        _write_row(ws, row, [reason, len(by[reason][0]), by[reason][1], by[reason][2]])
    if not by:
        row += 1
        ws.cell(row=row, column=1, value="every ordered unit is planned for delivery")
    row += 2
    _header(ws, st, row, ["trip", "vehicle", "tier", "depot", "departs", "back", "stops", "crates", "km",
                          "cost RMB", "route sheet", "loading sheet"])
    for duty, trip, route, load in index:
        row += 1
        crates = sum(v["crates"] for v in trip["load_at_departure"].values())
        _write_row(ws, row, [trip["id"], f"{duty['vehicle_type']} #{duty['vehicle']}", duty["tier"], duty["depot"],
                             format_clock(trip["departure"]), format_clock(trip["return"]), len(trip["stops"]), crates,
                             trip["distance_km"], trip["cost"]["total"], route, load], {9: "0.0", 10: "#,##0.00"})
        for col, target in ((11, route), (12, load)):
            c = ws.cell(row=row, column=col)
            c.hyperlink = f"#'{target}'!A1"
            c.font = st["link"]
    _print_setup(ws, [40, 16, 12, 10, 8, 8, 7, 8, 8, 10, 16, 18], header_row=None, landscape=True,
                 footer=f"{night.scenario_name} · overview")


# --------------------------------------------------------------------------- the workbook
def plan_workbook(plan: Plan | dict[str, Any], scenario: Scenario, coordinate_system: str | None = None) -> bytes:
    """The ``.xlsx`` file's bytes.  ``coordinate_system`` (``wgs84``, ``gcj02``, ``bd09``) overrides the
    scenario's declared one for the coordinate columns."""
    from openpyxl import Workbook

    night = _night(plan, scenario, coordinate_system or declared_system(scenario))
    st = _styles()
    wb = Workbook()
    overview = wb.active
    overview.title = "Overview"
    used = {"overview", "unserved"}
    index = []
    per_duty = Counter(d["id"] for d in night.doc.get("duties", []) for _ in d["trips"])
    for d in night.doc.get("duties", []):
        for n, t in enumerate(d["trips"], 1):
            route = _sheet_name(str(t["id"]), used)
            load = _sheet_name(f"{t['id']} load", used)
            _route_sheet(wb.create_sheet(route), st, night, d, t, n, per_duty[d["id"]])
            _loading_sheet(wb.create_sheet(load), st, night, d, t)
            index.append((d, t, route, load))
    _unserved_sheet(wb.create_sheet("Unserved"), st, night)
    _overview(overview, st, night, index)
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()
