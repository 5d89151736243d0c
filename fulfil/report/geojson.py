"""The plan's routes as GeoJSON (RFC 7946): what GIS tools, web maps and ``map.html`` draw.

One ``FeatureCollection`` with four kinds of feature, told apart by the ``feature`` property:

* ``trip`` — a ``LineString`` depot → stops → depot per trip (duty, vehicle, tier, times, km, cost);
* ``stop`` — a ``Point`` per visit (location, arrival, crates delivered, the trip it belongs to);
* ``site`` — a ``Point`` per central and forward warehouse;
* ``unserved`` — a ``Point`` per pickup point with unserved lines, the lines and their reasons.

Coordinates are WGS-84 longitude, latitude (RFC 7946 §3.1.1 and §4: no ``crs`` member), rounded
to 7 decimals (about 1 cm; §11.2 advises against false precision) whatever system the scenario
was written in.  Trips and their stops carry ``stroke`` / ``marker-color`` (the simplestyle
convention many viewers honour) in their vehicle's colour: one colour per duty, so a vehicle's
trips share it.
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from fulfil.errors import ScenarioError
from fulfil.report.tables import ZONE_ORDER, plan_doc
from fulfil.units import format_clock

if TYPE_CHECKING:
    from fulfil.plan_model import Plan
    from fulfil.scenario.schema import Scenario

#: Decimals of a written coordinate (1e-7° ≈ 1 cm).
DECIMALS = 7

#: Vehicle colours (colour-blind-safe first, then distinct extras); duty ``i`` gets ``PALETTE[i % n]``.
PALETTE = ("#0072b2", "#e69f00", "#009e73", "#cc79a7", "#56b4e9", "#d55e00", "#332288", "#117733",
           "#882255", "#44aa99", "#999933", "#aa4499", "#6699cc", "#994f00", "#3b7a57", "#b8860b")


@dataclass(frozen=True)
class Site:
    """A place of the scenario: its kind, name and WGS-84 position."""

    id: str
    kind: str  # central_warehouse | forward_warehouse | leader_shop | locker
    #: as the scenario gives it ("" when it gives none)
    name: str
    lon: float
    lat: float
    #: pickup points only: the delivery window, minutes since 00:00
    window: tuple[float, float] | None = None


def site_index(scenario: Scenario) -> dict[str, Site]:
    """Every warehouse and pickup point of the scenario by id (coordinates as the scenario holds them,
    which is WGS-84 once loaded)."""
    out: dict[str, Site] = {}
    for c in scenario.central_warehouses:
        out[c.id] = Site(c.id, "central_warehouse", c.name, c.lon, c.lat)
    for f in scenario.forward_warehouses:
        out[f.id] = Site(f.id, "forward_warehouse", f.name, f.lon, f.lat)
    for p in scenario.pickup_points:
        out[p.id] = Site(p.id, p.kind, p.name, p.lon, p.lat, (p.window.open, p.window.close))
    return out


def duty_colours(plan: Plan | dict[str, Any]) -> dict[str, str]:
    """Duty id → its colour, in plan order."""
    return {d["id"]: PALETTE[i % len(PALETTE)] for i, d in enumerate(plan_doc(plan).get("duties", []))}


def _pos(site: Site) -> list[float]:
    return [round(site.lon, DECIMALS), round(site.lat, DECIMALS)]


def _point(fid: str, site: Site, props: dict[str, Any]) -> dict[str, Any]:
    return {"type": "Feature", "id": fid, "geometry": {"type": "Point", "coordinates": _pos(site)},
            "properties": props}


def _crates(loads: dict[str, Any]) -> dict[str, int]:
    return {z: loads[z]["crates"] for z in ZONE_ORDER if z in loads}


def require_sites(doc: dict[str, Any], sites: dict[str, Site], source: str = "plan") -> None:
    """Every place the plan names is a site of the scenario, or :class:`ScenarioError` listing each one
    that is not (``source: duties[0].trips[1].stops[2].location: ...``): a plan read beside another
    scenario than its own is refused before any document is written."""
    problems = []
    for i, d in enumerate(doc.get("duties", [])):
        if d["depot"] not in sites:
            problems.append(f"{source}: duties[{i}].depot: '{d['depot']}' is not a site of the scenario")
        for j, t in enumerate(d["trips"]):
            for k, st in enumerate(t["stops"]):
                if st["location"] not in sites:
                    problems.append(f"{source}: duties[{i}].trips[{j}].stops[{k}].location: '{st['location']}' "
                                    "is not a site of the scenario")
    for i, u in enumerate(doc["unserved"]):
        if u["pickup_point"] not in sites:
            problems.append(f"{source}: unserved[{i}].pickup_point: '{u['pickup_point']}' is not a site of the scenario")
    if problems:
        shown = problems[:20] + ([f"... and {len(problems) - 20} more"] if len(problems) > 20 else [])
        raise ScenarioError(shown + ["(was the plan made from another scenario?)"])


def _trip_features(duty: dict[str, Any], trip: dict[str, Any], sites: dict[str, Site], colour: str,
                   number: int) -> list[dict[str, Any]]:
    depot = sites[duty["depot"]]
    stops = [sites[s["location"]] for s in trip["stops"]]
    vehicle = f"{duty['vehicle_type']} #{duty['vehicle']}"
    line = {
        "type": "Feature", "id": trip["id"],
        "geometry": {"type": "LineString", "coordinates": [_pos(depot), *(_pos(s) for s in stops), _pos(depot)]},
        "properties": {
            "feature": "trip", "trip": trip["id"], "trip_number": number, "duty": duty["id"], "tier": duty["tier"],
            "vehicle": vehicle, "vehicle_type": duty["vehicle_type"], "depot": duty["depot"],
            "departure": trip["departure"], "departure_hhmm": format_clock(trip["departure"]),
            "return": trip["return"], "return_hhmm": format_clock(trip["return"]),
            "distance_km": trip["distance_km"], "cost": trip["cost"]["total"], "stops": len(trip["stops"]),
            "crates": _crates(trip["load_at_departure"]), "stroke": colour,
        },
    }
    out = [line]
    for i, (s, site) in enumerate(zip(trip["stops"], stops, strict=True), 1):
        props = {
            "feature": "stop", "location": s["location"], "name": site.name, "site_kind": site.kind,
            "trip": trip["id"], "duty": duty["id"], "tier": duty["tier"], "vehicle": vehicle, "seq": i,
            "arrival": s["arrival"], "arrival_hhmm": format_clock(s["arrival"]),
            "departure_hhmm": format_clock(s["departure"]), "delivered": _crates(s["delivered"]),
            "marker-color": colour,
        }
        if site.window is not None:
            props["window"] = [format_clock(site.window[0]), format_clock(site.window[1])]
        if s.get("products"):
            props["products"] = s["products"]
        if s.get("minutes_since_cold_room") is not None:
            props["minutes_since_cold_room"] = s["minutes_since_cold_room"]
        out.append(_point(f"{trip['id']}/{i}", site, props))
    return out


def plan_geojson(plan: Plan | dict[str, Any], scenario: Scenario) -> dict[str, Any]:
    """The plan as an RFC 7946 ``FeatureCollection`` (a dict ready for ``json.dumps``)."""
    doc = plan_doc(plan)
    sites = site_index(scenario)
    require_sites(doc, sites)
    colours = duty_colours(doc)
    features: list[dict[str, Any]] = []
    for d in doc.get("duties", []):
        for k, t in enumerate(d["trips"], 1):
            features += _trip_features(d, t, sites, colours[d["id"]], k)
    for s in sites.values():
        if s.kind in ("central_warehouse", "forward_warehouse"):
            features.append(_point(f"site/{s.id}", s, {"feature": "site", "id": s.id, "name": s.name,
                                                         "site_kind": s.kind}))
    lines: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for u in doc["unserved"]:
        lines[u["pickup_point"]].append({k: u[k] for k in ("product", "units", "reason")}
                                        | ({"detail": u["detail"]} if u.get("detail") else {}))
    for pp, ls in lines.items():
        site = sites[pp]
        features.append(_point(f"unserved/{pp}", site, {
            "feature": "unserved", "location": pp, "name": site.name, "site_kind": site.kind,
            "units": sum(x["units"] for x in ls), "reasons": sorted({x["reason"] for x in ls}), "lines": ls}))
    return {"type": "FeatureCollection", "features": features}


def geojson_text(plan: Plan | dict[str, Any], scenario: Scenario) -> str:
    """:func:`plan_geojson` as UTF-8 JSON text (compact: a city's file stays small)."""
    return json.dumps(plan_geojson(plan, scenario), ensure_ascii=False, separators=(",", ":"), allow_nan=False) + "\n"
