"""Temperature and quality along a planned route (the thermal model applied to plan routes).

For each chilled or frozen compartment of a route, the two-node compartment model
(:mod:`solvers.thermal.model`; an insulated box with ice packs on unrefrigerated
vehicles) is run over the route's own times under the scenario's hourly outside
temperature; door openings happen at the stops that unload that zone.  Each stop
then gets the goods' hand-over temperature, minutes above range, remaining quality
(first-order Q10 decay, :mod:`solvers.thermal.quality`), whether they are in
specification, and the expected spoilage.

Hand-over limits are DB31/T 388's (DOMAIN.md §2.1): chilled ≤ 7 °C, frozen ≤ −15 °C;
ranges chilled 0–4 °C, frozen ≤ −18 °C.  Goods leave the cold room at the zone's
set point (pre-cooled body and goods, DOMAIN.md §2.2).
"""

from __future__ import annotations

import math
from dataclasses import replace
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from fulfil.scenario.schema import Scenario, VehicleType

COLD = ("frozen", "chilled")
#: Storage temperature at the pickup point used for the remaining shelf life (°C):
#: chilled cells / leader fridge 4 °C, frozen cells −18 °C (DOMAIN.md §7 quality row).
STORAGE_C = {"chilled": 4.0, "frozen": -18.0}
DEFAULT_CLASS = {"chilled": "leafy_veg", "frozen": "frozen"}
TRACE_STEP_MIN = 5.0


def compartment_params(vt: VehicleType, zone: str, fraction: float):
    """Thermal parameters of ``zone``'s compartment taking ``fraction`` of the body."""
    from solvers.thermal.model import chilled_compartment, frozen_compartment

    b = vt.body
    base = dict(K=b.k_w_m2k, area=b.area_m2, volume=b.volume_m3, curtain=b.curtain)
    if zone == "frozen":
        # the unit delivers less cooling at a frozen set point (ratio from solvers.thermal.model)
        p = frozen_compartment(**base, unit_kw=b.unit_kw * 6010.0 / 10250.0)
    else:
        p = chilled_compartment(**base, unit_kw=b.unit_kw)
    f = min(1.0, max(fraction, 1e-3))
    # A compartment behind a bulkhead has its own, proportionally smaller door: DOMAIN.md
    # §2.3 derives q0 from one air exchange of the whole 16 m³ body, so both door terms
    # scale with the compartment's share of the body, like its walls, air and unit.
    return replace(p.share(f), q0=p.q0 * f, q1=p.q1 * f)


def limits(zone: str) -> tuple[float, float]:
    """``(upper end of range, hand-over limit)`` in °C."""
    return (-18.0, -15.0) if zone == "frozen" else (4.0, 7.0)


def product_class(scenario: Scenario, product_id: str):
    from solvers.thermal.quality import PRODUCT_CLASSES

    p = next(x for x in scenario.products if x.id == product_id)
    return PRODUCT_CLASSES[p.quality_class or DEFAULT_CLASS[p.zone]]


def body_split(vt: VehicleType, route: dict) -> dict[str, int]:
    """Crates of each compartment on this route: fixed sizes, or the movable-partition split."""
    sizes = {c.zone: c.crates for c in vt.compartments}
    if vt.movable_total is None:
        return sizes
    load = {z: v["crates"] for z, v in route.get("load_at_departure", {}).items()}
    need = {z: load.get(z, 0) for z in sizes}
    slack = vt.movable_total.crates - sum(need.values())
    room = {z: sizes[z] - need[z] for z in sizes}
    total_room = sum(room.values()) or 1
    return {z: need[z] + int(math.floor(max(slack, 0) * room[z] / total_room)) for z in sizes}


def route_cold_chain(scenario: Scenario, route: dict) -> tuple[dict | None, list[dict]]:
    """``(route thermal block or None, per-stop cold_chain dicts)`` for one plan route."""
    from solvers.thermal.model import BoxParams, simulate_compartment, simulate_insulated_box
    from solvers.thermal.quality import quality_after, remaining_shelf_life_h

    vt = next(v for v in scenario.vehicle_types if v.id == route["vehicle_type"])
    hourly = np.asarray(scenario.weather.hourly_c, dtype=np.float64)
    prices = {p.id: p.price for p in scenario.products}
    upc = {p.id: p.units_per_crate for p in scenario.products}
    zone_of = {p.id: p.zone for p in scenario.products}
    stops = route["stops"]
    per_stop: list[dict] = [{} for _ in stops]
    split = body_split(vt, route)
    total_crates = sum(split.values()) or 1
    dep_s = route["departure"] * 60.0
    end_h = scenario.policies.customer_pickup_end / 60.0
    blocks: dict[str, Any] = {}
    for zone in COLD:
        idx = [i for i, s in enumerate(stops) if s["delivered"].get(zone, {}).get("crates", 0) > 0]
        if not idx:
            continue
        crates = np.array([stops[i]["delivered"][zone]["crates"] for i in idx], dtype=np.float64)
        kg = np.array([stops[i]["delivered"][zone]["kg"] for i in idx], dtype=np.float64)
        start_s = np.array([stops[i]["start"] * 60.0 for i in idx])
        serv_s = np.array([(stops[i]["departure"] - stops[i]["start"]) * 60.0 for i in idx])
        upper, hand_max = limits(zone)
        if vt.refrigerated:
            params = compartment_params(vt, zone, split.get(zone, 0) / total_crates)
            res = simulate_compartment(params, hourly, dep_s, start_s, serv_s, crates, kg,
                                       end_s=route["return"] * 60.0)
            t, air, prod = res.t_s, res.air_c, res.product_c
            handover = res.handover_c
            above = res.minutes_above
            kind = "reefer"
        else:  # insulated boxes with ice packs
            box = BoxParams()
            dur = max(start_s[-1] + serv_s[-1] - dep_s, 60.0)
            res = simulate_insulated_box(box, hourly, dep_s, dur, float(kg.sum()), 2.0, stop_s=start_s,
                                         unload_kg=kg)
            t, air, prod = res.t_s, res.pack_c, res.product_c
            handover = res.handover_c
            above = np.array([_minutes_above(t, prod, upper, dep_s, h) for h in start_s])
            kind = "insulated_box"
        # a readable trace: every 5 minutes plus the hand-over instants
        grid = np.unique(np.concatenate([np.arange(t[0], t[-1], TRACE_STEP_MIN * 60.0), start_s, [t[-1]]]))
        prod_f = np.where(np.isnan(prod), np.nan, prod)
        blocks[zone] = {
            "kind": kind,
            "crates": int(split.get(zone, int(crates.sum()))),
            "t": [round(x / 60.0, 2) for x in grid],
            "air_c": [round(float(x), 2) for x in np.interp(grid, t, air)],
            "product_c": [None if math.isnan(x) else round(float(x), 2) for x in _interp_nan(grid, t, prod_f)],
            "limit_c": hand_max,
        }
        for j, i in enumerate(idx):
            hc = float(handover[j])
            mask = t <= start_s[j] + 1e-6
            th, tc = t[mask] / 3600.0, prod[mask]
            ok_t = ~np.isnan(tc)
            prods = [k for k in stops[i].get("products", {}) if zone_of.get(k) == zone]
            if not prods:  # trunk stop: the zone's most sensitive product
                prods = [p.id for p in scenario.products if p.zone == zone]
            worst_q, worst_life, spoiled, cost = 1.0, math.inf, 0.0, 0.0
            in_range = hc <= hand_max + 1e-9
            for k in prods:
                cls = product_class(scenario, k)
                q = float(quality_after(th[ok_t], tc[ok_t], cls)) if ok_t.sum() >= 2 else cls.q0
                life = float(remaining_shelf_life_h(q, cls, STORAGE_C[zone]))
                worst_q, worst_life = min(worst_q, q), min(worst_life, life)
                units = stops[i].get("products", {}).get(k, 0)
                needed_h = max(0.0, end_h - stops[i]["departure"] / 60.0)
                if not in_range or q < cls.q_min or life < needed_h:
                    spoiled += units / upc[k]
                    cost += units * prices[k]
            per_stop[i][zone] = {
                "handover_c": round(hc, 3),
                "minutes_out_of_range": round(float(above[j]), 2),
                "quality": round(worst_q, 5),
                "remaining_shelf_life_h": round(worst_life, 1) if math.isfinite(worst_life) else None,
                "in_spec": bool(in_range and all(worst_q >= product_class(scenario, k).q_min for k in prods)),
                "spoiled_crates": round(spoiled, 3),
                "spoilage_cost": round(cost, 2),
            }
    return ({"compartments": blocks} if blocks else None), per_stop


def _interp_nan(grid: np.ndarray, t: np.ndarray, y: np.ndarray) -> np.ndarray:
    ok = ~np.isnan(y)
    if ok.sum() < 2:
        return np.full(grid.shape, np.nan)
    out = np.interp(grid, t[ok], y[ok])
    out[grid > t[ok][-1] + 1e-6] = np.nan
    return out


def _minutes_above(t: np.ndarray, y: np.ndarray, limit: float, t0: float, t1: float) -> float:
    m = (t >= t0) & (t <= t1) & ~np.isnan(y)
    if m.sum() < 2:
        return 0.0
    tt, yy = t[m], y[m]
    over = (yy[1:] > limit) | (yy[:-1] > limit)
    return float(np.sum(np.diff(tt)[over]) / 60.0)


def annotate_plan(scenario: Scenario, routes: list[dict]) -> None:
    """Add ``thermal`` to routes and ``cold_chain`` to their stops, in place."""
    for r in routes:
        block, per_stop = route_cold_chain(scenario, r)
        if block is not None:
            r["thermal"] = block
        for st, cc in zip(r["stops"], per_stop, strict=True):
            if cc:
                st["cold_chain"] = cc


def failing_stops(routes: list[dict]) -> list[tuple[dict, int, str]]:
    """``(route, stop index, zone)`` of every hand-over out of specification."""
    out = []
    for r in routes:
        for i, st in enumerate(r["stops"]):
            for z, cc in st.get("cold_chain", {}).items():
                if not cc["in_spec"]:
                    out.append((r, i, z))
    return out


def cold_kpis(routes: list[dict]) -> dict[str, float | None]:
    ok = total = 0.0
    cost = spoiled = 0.0
    for r in routes:
        if r["tier"] != "last_mile":
            continue
        for st in r["stops"]:
            for z, cc in st.get("cold_chain", {}).items():
                n = st["delivered"][z]["crates"]
                total += n
                ok += n if cc["in_spec"] else 0
                cost += cc["spoilage_cost"]
                spoiled += cc["spoiled_crates"]
    return {
        "in_spec_share": round(ok / total, 6) if total else 1.0,
        "expected_spoilage_cost": round(cost, 2),
        "spoiled_crates": round(spoiled, 3),
    }
