"""Plain-text tables and CSV trip sheets for a plan document (format version 2).

Every function takes a :class:`fulfil.plan_model.Plan` or its JSON dict (``plan.to_doc()``).
Every CSV text starts with :data:`CSV_BOM`, so that Excel opens it as UTF-8.
"""

from __future__ import annotations

import csv
import io
import re
from collections import Counter, defaultdict
from typing import TYPE_CHECKING, Any

from fulfil.plan_model import trip_rows
from fulfil.units import format_clock

if TYPE_CHECKING:
    from fulfil.plan_model import Plan

ZONE_ORDER = ("frozen", "chilled", "ambient")
#: The byte-order mark every CSV text starts with.  Excel decodes a CSV file as UTF-8 only when it
#: begins with one; without it, Excel in a Chinese locale reads the file as GBK and garbles every
#: non-ASCII name.  Python's ``utf-8-sig`` codec (the scenario loader's) and pandas skip it.
CSV_BOM = "\ufeff"


def plan_doc(plan: Plan | dict[str, Any]) -> dict[str, Any]:
    """The plan's JSON dict: ``plan.to_doc()`` for a :class:`Plan`, the dict itself otherwise."""
    to_doc = getattr(plan, "to_doc", None)
    return to_doc() if callable(to_doc) else plan


def table(headers: list[str], rows: list[list[Any]], align: str | None = None) -> str:
    """Render a fixed-width table; numbers right-aligned."""
    cells = [[_fmt(c) for c in r] for r in rows]
    widths = [max(len(h), *(len(r[i]) for r in cells)) if cells else len(h) for i, h in enumerate(headers)]
    right = [all(isinstance(r[i], (int, float)) or r[i] is None for r in rows) if rows else False
             for i in range(len(headers))]
    if align:
        right = [a == "r" for a in align]

    def line(vals: list[str]) -> str:
        return "  ".join(v.rjust(w) if r else v.ljust(w) for v, w, r in zip(vals, widths, right, strict=True)).rstrip()

    sep = "  ".join("-" * w for w in widths)
    return "\n".join([line(headers), sep, *(line(r) for r in cells)])


def _fmt(v: Any) -> str:
    if v is None:
        return "-"
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, float):
        return f"{v:,.2f}" if abs(v) >= 100 else f"{v:.3g}" if abs(v) < 1 else f"{v:.2f}"
    if isinstance(v, int):
        return f"{v:,}"
    return str(v)


_PERCENT = ("two_hour_compliance", "cold_chain_compliance", "delivery_cost_share_of_sales", "in_spec_share",
            "fill_rate")


def kpi_table(kpis: dict[str, Any]) -> str:
    """The KPI table (docs/plan_format.md defines each KPI); KPIs missing from ``kpis`` are left out."""
    labels = [
        ("vehicles", "vehicles (trunk + last mile)"),
        ("trips", "trips (trunk + last mile)"),
        ("distance_km", "distance, km"),
        ("duration_h", "driving + service, h"),
        ("cost", "cost, RMB"),
        ("orders_total", "orders"),
        ("orders_served", "orders served (order-equivalents)"),
        ("orders_complete", "orders served complete"),
        ("orders_unserved", "orders not served (order-equivalents)"),
        ("cost_per_order", "cost per order, RMB"),
        ("fill_rate", "fill rate (units served / ordered)"),
        ("two_hour_compliance", "2-hour compliance"),
        ("cold_chain_compliance", "cold-chain compliance"),
        ("delivery_cost_share_of_sales", "delivery cost / sales"),
        ("in_spec_share", "cold goods in spec at hand-over"),
        ("expected_spoilage_cost", "expected spoilage, RMB"),
        ("units_served", "units served"),
        ("units_unserved", "units unserved"),
    ]
    rows = []
    for key, label in labels:
        if key not in kpis:
            continue
        v = kpis.get(key)
        if key in _PERCENT and v is not None:
            v = f"{100 * v:.2f} %"
        elif key == "vehicles":
            v = f"{kpis['vehicles']} ({kpis.get('trunk_vehicles', 0)} + {kpis.get('last_mile_vehicles', 0)})"
        elif key == "trips":
            v = f"{kpis['trips']} ({kpis.get('trunk_trips', 0)} + {kpis.get('last_mile_trips', 0)})"
        elif key in ("orders_served", "orders_unserved") and isinstance(v, float):
            v = f"{v:,.2f}"
        rows.append([label, v])
    return table(["KPI", "value"], rows, align="lr")


def depot_table(plan: Plan | dict[str, Any]) -> str:
    """One row per (tier, depot): vehicles, trips, stops, crates loaded, km, cost (fixed costs included), last
    arrival, and for the last mile the longest time a stop waited since the cold room."""
    doc = plan_doc(plan)
    agg: dict[tuple[str, str], dict[str, float]] = defaultdict(lambda: defaultdict(float))
    for d in doc.get("duties", []):
        a = agg[(d["tier"], d["depot"])]
        a["vehicles"] += 1
        a["km"] += d["distance_km"]
        a["cost"] += d["cost"]["total"]
        for t in d["trips"]:
            a["trips"] += 1
            a["stops"] += len(t["stops"])
            a["crates"] += sum(v["crates"] for v in t["load_at_departure"].values())
            a["last"] = max(a["last"], max((s["arrival"] for s in t["stops"]), default=0.0))
            a["worst"] = max(a["worst"], max((s.get("minutes_since_cold_room") or 0.0 for s in t["stops"]),
                                             default=0.0))
    rows = []
    for (tier, depot), a in sorted(agg.items(), key=lambda kv: (kv[0][0] != "trunk", kv[0][1])):
        rows.append([tier.replace("_", "-"), depot, int(a["vehicles"]), int(a["trips"]), int(a["stops"]),
                     int(a["crates"]), round(a["km"], 1), round(a["cost"], 0), format_clock(a["last"]),
                     round(a["worst"], 1) if tier == "last_mile" else None])
    return table(["tier", "depot", "vehicles", "trips", "stops", "crates", "km", "cost RMB", "last arrival",
                  "max min since cold room"], rows)


def unserved_table(plan: Plan | dict[str, Any]) -> str:
    doc = plan_doc(plan)
    by = Counter()
    units = Counter()
    pps: dict[str, set] = defaultdict(set)
    for u in doc["unserved"]:
        by[u["reason"]] += 1
        units[u["reason"]] += u["units"]
        pps[u["reason"]].add(u["pickup_point"])
    rows = [[reason, len(pps[reason]), by[reason], units[reason]] for reason in sorted(by)]
    return table(["reason", "pickup points", "lines", "units"], rows)


def summary(plan: Plan | dict[str, Any]) -> str:
    """The KPI table, the table per depot and what was not served, as text."""
    doc = plan_doc(plan)
    parts = [f"Plan for '{doc['scenario']}' (seed {doc.get('seed', 0)})", "", kpi_table(doc["kpis"]), "",
             depot_table(doc)]
    if doc["unserved"]:
        parts += ["", "Not served:", unserved_table(doc)]
    else:
        parts += ["", "Every ordered unit is planned for delivery."]
    return "\n".join(parts)


# --------------------------------------------------------------------------- trip sheets
SHEET_COLUMNS = (["seq", "location", "arrival", "start", "departure", "leg_km"]
                 + [f"deliver_{z}_crates" for z in ZONE_ORDER] + [f"deliver_{z}_kg" for z in ZONE_ORDER]
                 + [f"after_{z}_crates" for z in ZONE_ORDER]
                 + ["minutes_since_cold_room", "chilled_minutes_out_of_zone", "products"])


def _csv_writer() -> tuple[io.StringIO, Any]:
    """A buffer that already holds :data:`CSV_BOM`, and a CSV writer on it."""
    buf = io.StringIO()
    buf.write(CSV_BOM)
    return buf, csv.writer(buf)


def _hhmm(trip: dict[str, Any], key: str) -> str:
    v = trip.get(f"{key}_hhmm")
    return v if v else format_clock(trip[key])


def trip_sheet_csv(trip: dict[str, Any], trip_number: int | None = None, trips_of_duty: int | None = None) -> str:
    """One trip's sheet for the driver: header rows naming the trip, its vehicle duty and the trip's number
    among the duty's trips, a blank row, then the table (:data:`SHEET_COLUMNS`): the depot at departure
    (loads per compartment), a row per stop with ETAs and loads, and the **return leg** to the depot (its km
    and the return time), so ``leg_km`` adds up to the trip's ``distance_km``.

    ``trip`` is a row of :func:`fulfil.plan_model.trip_rows` (a trip with its duty's keys); the trip number
    is taken from the trip id (``L-FW1-01.2`` → 2) unless given.
    """
    if trip_number is None:
        m = re.search(r"\.(\d+)$", str(trip.get("id", "")))
        trip_number = int(m.group(1)) if m else None
    depot = trip.get("depot", "")
    buf, w = _csv_writer()
    number = "" if trip_number is None else str(trip_number)
    if number and trips_of_duty:
        number += f" of {trips_of_duty}"
    vehicle = f"{trip.get('vehicle_type', '')} #{trip.get('vehicle', '')}"
    for key, value in (("trip", trip.get("id", "")), ("duty", trip.get("duty", "")), ("vehicle", vehicle),
                       ("trip_number", number), ("tier", trip.get("tier", "")), ("depot", depot),
                       ("departure", _hhmm(trip, "departure")), ("return", _hhmm(trip, "return")),
                       ("distance_km", trip.get("distance_km", "")), ("stops", len(trip["stops"]))):
        w.writerow([key, value])
    w.writerow([])
    w.writerow(SHEET_COLUMNS)
    w.writerow([0, depot, "", "", _hhmm(trip, "departure"), 0] + [""] * 6
               + [trip["load_at_departure"].get(z, {}).get("crates", 0) for z in ZONE_ORDER] + ["", "", ""])
    for i, s in enumerate(trip["stops"], 1):
        d = s["delivered"]
        w.writerow(
            [i, s["location"], format_clock(s["arrival"]), format_clock(s["start"]), format_clock(s["departure"]),
             s["leg_km"]]
            + [d.get(z, {}).get("crates", 0) for z in ZONE_ORDER]
            + [d.get(z, {}).get("kg", 0) for z in ZONE_ORDER]
            + [s["load_after"].get(z, {}).get("crates", 0) for z in ZONE_ORDER]
            + [s.get("minutes_since_cold_room", ""), s["minutes_out_of_zone"].get("chilled", ""),
               " ".join(f"{k}:{q}" for k, q in (s.get("products") or {}).items())]
        )
    last = trip["stops"][-1]["load_after"] if trip["stops"] else trip["load_at_departure"]
    w.writerow(["return", depot, _hhmm(trip, "return"), "", "", trip.get("return_leg_km", "")] + [""] * 6
               + [last.get(z, {}).get("crates", 0) for z in ZONE_ORDER] + ["", "", ""])
    return buf.getvalue()


def read_trip_sheet(text: str) -> tuple[dict[str, str], list[dict[str, str]]]:
    """(header rows as key → value, table rows as column → value) of a :func:`trip_sheet_csv` text."""
    rows = list(csv.reader(io.StringIO(text.removeprefix(CSV_BOM))))
    blank = next(i for i, r in enumerate(rows) if not r)
    meta = {r[0]: r[1] for r in rows[:blank] if len(r) >= 2}
    cols = rows[blank + 1]
    return meta, [dict(zip(cols, r, strict=True)) for r in rows[blank + 2:] if r]


def _file_name(trip_id: str) -> str:
    return (re.sub(r"[^A-Za-z0-9._-]", "_", trip_id) or "trip") + ".csv"


def trip_sheets(plan: Plan | dict[str, Any]) -> dict[str, str]:
    """File name (``<trip id>.csv``) → :func:`trip_sheet_csv` text, one per trip in plan order."""
    rows = trip_rows(plan_doc(plan))
    per_duty = Counter(r["duty"] for r in rows)
    seen: Counter[str] = Counter()
    out: dict[str, str] = {}
    for r in rows:
        seen[r["duty"]] += 1
        name, base, k = _file_name(str(r["id"])), _file_name(str(r["id"]))[:-4], 2
        while name in out:
            name, k = f"{base}_{k}.csv", k + 1
        out[name] = trip_sheet_csv(r, seen[r["duty"]], per_duty[r["duty"]])
    return out


def loading_list_csv(trip: dict[str, Any]) -> str:
    """What to load first: the trip's stops in reverse order of delivery (the last stop's goods go in first,
    deepest in the body), with crates per zone and the products of each stop."""
    buf, w = _csv_writer()
    w.writerow(["load_order", "stop_seq", "location"] + [f"{z}_crates" for z in ZONE_ORDER] + ["products"])
    stops = trip["stops"]
    for k, (i, s) in enumerate(reversed(list(enumerate(stops, 1))), 1):
        d = s["delivered"]
        w.writerow([k, i, s["location"]] + [d.get(z, {}).get("crates", 0) for z in ZONE_ORDER]
                   + [" ".join(f"{p}:{q}" for p, q in (s.get("products") or {}).items())])
    tot = trip["load_at_departure"]
    w.writerow(["total", "", trip.get("depot", "")] + [tot.get(z, {}).get("crates", 0) for z in ZONE_ORDER] + [""])
    return buf.getvalue()


def unserved_csv(plan: Plan | dict[str, Any]) -> str:
    doc = plan_doc(plan)
    buf, w = _csv_writer()
    w.writerow(["pickup_point", "product", "units", "reason", "detail"])
    for u in doc["unserved"]:
        w.writerow([u["pickup_point"], u["product"], u["units"], u["reason"], u.get("detail", "")])
    return buf.getvalue()
