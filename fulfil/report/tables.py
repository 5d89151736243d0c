"""Plain-text tables and CSV route sheets for a plan document."""

from __future__ import annotations

import csv
import io
from collections import Counter, defaultdict
from typing import Any

from fulfil.units import format_clock

ZONE_ORDER = ("frozen", "chilled", "ambient")


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


def kpi_table(kpis: dict[str, Any]) -> str:
    labels = [
        ("vehicles", "vehicles (trunk + last mile)"),
        ("distance_km", "distance, km"),
        ("duration_h", "driving + service, h"),
        ("cost", "cost, RMB"),
        ("orders_served", "orders served"),
        ("orders_unserved", "orders not fully served"),
        ("cost_per_order", "cost per order, RMB"),
        ("two_hour_compliance", "2-hour compliance"),
        ("cold_chain_compliance", "cold-chain compliance"),
        ("delivery_cost_share_of_sales", "delivery cost / sales"),
        ("in_spec_share", "cold goods in spec at hand-over"),
        ("expected_spoilage_cost", "expected spoilage, RMB"),
        ("units_unserved", "units unserved"),
    ]
    rows = []
    for key, label in labels:
        v = kpis.get(key)
        if key not in kpis:
            continue
        if key in ("two_hour_compliance", "cold_chain_compliance", "delivery_cost_share_of_sales",
                   "in_spec_share") and v is not None:
            v = f"{100 * v:.2f} %"
        elif key == "vehicles":
            v = f"{kpis['vehicles']} ({kpis.get('trunk_vehicles', 0)} + {kpis.get('last_mile_vehicles', 0)})"
        rows.append([label, v])
    return table(["KPI", "value"], rows, align="lr")


def depot_table(plan: dict[str, Any]) -> str:
    agg: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    for r in plan["routes"]:
        a = agg[(r["tier"], r["depot"])]
        a["routes"] += 1
        a["stops"] += len(r["stops"])
        a["km"] += r["distance_km"]
        a["cost"] += r["cost"]["total"]
        a["crates"] += sum(v["crates"] for v in r["load_at_departure"].values())
        a["last"] = max(a["last"], max((s["arrival"] for s in r["stops"]), default=0.0))
        a["worst"] = max(a["worst"], max((s.get("minutes_since_cold_room", 0.0) for s in r["stops"]), default=0.0))
    rows = []
    for (tier, depot), a in sorted(agg.items(), key=lambda kv: (kv[0][0] != "trunk", kv[0][1])):
        rows.append([tier.replace("_", "-"), depot, int(a["routes"]), int(a["stops"]), int(a["crates"]),
                     round(a["km"], 1), round(a["cost"], 0), format_clock(a["last"]),
                     round(a["worst"], 1) if tier == "last_mile" else None])
    return table(["tier", "depot", "routes", "stops", "crates", "km", "cost RMB", "last arrival",
                  "max min since cold room"], rows)


def unserved_table(plan: dict[str, Any]) -> str:
    by = Counter()
    units = Counter()
    pps: dict[str, set] = defaultdict(set)
    for u in plan["unserved"]:
        by[u["reason"]] += 1
        units[u["reason"]] += u["units"]
        pps[u["reason"]].add(u["pickup_point"])
    rows = [[reason, len(pps[reason]), by[reason], units[reason]] for reason in sorted(by)]
    return table(["reason", "pickup points", "lines", "units"], rows)


def summary(plan: dict[str, Any]) -> str:
    parts = [f"Plan for '{plan['scenario']}' (seed {plan['seed']})", "", kpi_table(plan["kpis"]), "",
             depot_table(plan)]
    if plan["unserved"]:
        parts += ["", "Not served:", unserved_table(plan)]
    else:
        parts += ["", "Every ordered unit is planned for delivery."]
    return "\n".join(parts)


def route_sheet_csv(route: dict[str, Any]) -> str:
    """One vehicle's route sheet: a row per stop with ETAs and loads per compartment."""
    buf = io.StringIO()
    w = csv.writer(buf)
    head = ["seq", "location", "arrival", "start", "departure", "leg_km"]
    head += [f"deliver_{z}_crates" for z in ZONE_ORDER] + [f"deliver_{z}_kg" for z in ZONE_ORDER]
    head += [f"after_{z}_crates" for z in ZONE_ORDER]
    head += ["minutes_since_cold_room", "chilled_minutes_out_of_zone", "products"]
    w.writerow(head)
    w.writerow([0, route["depot"], "", "", route["departure_hhmm"], 0] + [""] * 6
               + [route["load_at_departure"].get(z, {}).get("crates", 0) for z in ZONE_ORDER] + ["", "", ""])
    for i, s in enumerate(route["stops"], 1):
        d = s["delivered"]
        w.writerow(
            [i, s["location"], format_clock(s["arrival"]), format_clock(s["start"]), format_clock(s["departure"]),
             s["leg_km"]]
            + [d.get(z, {}).get("crates", 0) for z in ZONE_ORDER]
            + [d.get(z, {}).get("kg", 0) for z in ZONE_ORDER]
            + [s["load_after"].get(z, {}).get("crates", 0) for z in ZONE_ORDER]
            + [s.get("minutes_since_cold_room", ""), s["minutes_out_of_zone"].get("chilled", ""),
               " ".join(f"{k}:{q}" for k, q in s.get("products", {}).items())]
        )
    w.writerow(["end", route["depot"], route["return_hhmm"], "", "", ""] + [""] * 12)
    return buf.getvalue()


def unserved_csv(plan: dict[str, Any]) -> str:
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(["pickup_point", "product", "units", "reason", "detail"])
    for u in plan["unserved"]:
        w.writerow([u["pickup_point"], u["product"], u["units"], u["reason"], u["detail"]])
    return buf.getvalue()
