"""Assemble the plan document from routed vehicles, with exact time-dependent times.

The solver worked on conservative integer matrices; here every route is re-timed
with the exact traversal of each leg at its departure time (earlier or equal, so
windows and deadlines the solver met still hold), loads and minutes out of zone are
computed per stop, and the KPIs are summed.  The layout is docs/plan_format.md.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np

from fulfil.coldchain import cold_kpis
from fulfil.network import Z
from fulfil.scenario.schema import ZONES
from fulfil.units import format_clock

if TYPE_CHECKING:
    from fulfil.pipeline import NightState, PlanParams, RoutedVehicle


def _r(x: float, nd: int = 2) -> float:
    return float(round(x, nd))


def _zone_obj(crates: np.ndarray, kg: np.ndarray) -> dict[str, dict[str, float]]:
    return {ZONES[z]: {"crates": int(crates[z]), "kg": _r(kg[z], 3)} for z in range(Z) if crates[z] > 0 or kg[z] > 0}


def route_doc(s: Any, net: Any, travel: Any, rv: RoutedVehicle, route_id: str) -> dict[str, Any]:
    """One route of the plan, re-timed exactly (no cold-chain annotation yet)."""
    pol = s.policies
    v = net.vehicles
    t = rv.vtype
    profile = v.profile[t]
    # merge consecutive jobs at the same site into one stop
    stops: list[list] = []
    for j in rv.jobs:
        if stops and stops[-1][0] == j.site:
            stops[-1][1].append(j)
        else:
            stops.append([j.site, [j]])

    dep = rv.departure_min
    cur, prev = dep, rv.depot
    total_km = 0.0
    out_stops = []
    deliveries = []
    for site, jobs in stops:
        km, mins = travel.leg(prev, site, cur, profile)
        total_km += km
        arrival = cur + mins
        owner = jobs[0].owner
        if rv.tier == "last_mile":
            units: dict[int, int] = {}
            for j in jobs:
                for k, q in j.units.items():
                    units[k] = units.get(k, 0) + q
            crates = np.zeros(Z)
            kg = np.zeros(Z)
            for k, q in units.items():
                z = int(net.product_zone[k])
                crates[z] += q / float(net.product_per_crate[k])
                kg[z] += q * float(net.product_kg[k])
            crates = np.ceil(crates - 1e-9).astype(np.int64)
            locker = bool(net.pp_locker[owner])
            fixed = pol.locker_fixed_min if locker else pol.service_fixed_min
            per = pol.locker_per_cell_min if locker else pol.service_per_crate_min
            open_ = float(net.pp_open[owner])
        else:
            units = {}
            crates = sum(j.crates for j in jobs)
            kg = sum(j.kg for j in jobs)
            fixed, per = pol.trunk_unload_fixed_min, pol.trunk_unload_per_crate_min
            open_ = pol.trunk_receiving.open
        start = max(arrival, open_)
        departure = start + fixed + per * int(crates.sum())
        out_of_zone = {}
        for z in range(Z):
            if crates[z] == 0:
                continue
            m = arrival - dep if (z == 1 and not v.refrigerated[t]) else 0.0
            out_of_zone[ZONES[z]] = _r(m)
        stop = {
            "location": travel.ids[site],
            "arrival": _r(arrival),
            "start": _r(start),
            "departure": _r(departure),
            "arrival_hhmm": format_clock(arrival),
            "leg_km": _r(km, 3),
            "delivered": _zone_obj(crates, kg),
        }
        if rv.tier == "last_mile":
            stop["products"] = {net.product_ids[k]: int(q) for k, q in sorted(units.items())}
        stop["minutes_out_of_zone"] = out_of_zone
        if rv.tier == "last_mile":
            stop["minutes_since_cold_room"] = _r(arrival - dep)
        out_stops.append(stop)
        deliveries.append((crates, np.asarray(kg, dtype=float)))
        cur, prev = departure, site
    km, mins = travel.leg(prev, rv.depot, cur, profile)
    total_km += km
    ret = cur + mins
    load_c = sum(c for c, _ in deliveries)
    load_kg = sum(k for _, k in deliveries)
    left_c, left_kg = load_c.copy(), load_kg.copy()
    for stop, (c, k) in zip(out_stops, deliveries, strict=True):
        left_c = left_c - c
        left_kg = np.maximum(left_kg - k, 0.0)
        stop["load_after"] = {ZONES[z]: {"crates": int(left_c[z]), "kg": _r(left_kg[z], 3)}
                              for z in range(Z) if load_c[z] > 0}
    duration_h = (ret - dep) / 60.0
    fixed_cost = float(v.fixed_cost[t])
    dist_cost = float(v.cost_per_km[t]) * total_km
    time_cost = float(v.cost_per_hour[t]) * duration_h
    doc = {
        "id": route_id,
        "tier": rv.tier,
        "vehicle_type": v.ids[t],
        "vehicle": int(rv.vindex),
        "depot": travel.ids[rv.depot],
        "departure": _r(dep),
        "departure_hhmm": format_clock(dep),
        "return": _r(ret),
        "return_hhmm": format_clock(ret),
        "distance_km": _r(total_km, 3),
        "duration_h": _r(duration_h, 4),
        "cost": {"fixed": _r(fixed_cost), "distance": _r(dist_cost), "time": _r(time_cost),
                 "total": _r(fixed_cost + dist_cost + time_cost)},
        "load_at_departure": _zone_obj(load_c, load_kg),
        "stops": out_stops,
    }
    vt = s.vehicle_types[t]
    if vt.movable_total is not None:  # the split chosen for this route
        from fulfil.coldchain import body_split

        doc["compartments"] = body_split(vt, doc)
    return doc


def kpis(s: Any, net: Any, routes: list[dict], unserved: list[dict]) -> dict[str, Any]:
    """KPIs of a plan document (docs/plan_format.md)."""
    pol = s.policies
    pidx = {k: i for i, k in enumerate(net.pickup_ids)}
    kidx = {k: i for i, k in enumerate(net.product_ids)}
    delivered = np.zeros_like(net.demand)
    on_time = served_stops = 0
    crates_ok = crates_all = 0
    sales = 0.0
    vt = {vid: i for i, vid in enumerate(net.vehicles.ids)}
    for r in routes:
        if r["tier"] != "last_mile":
            continue
        t = vt[r["vehicle_type"]]
        for st in r["stops"]:
            p = pidx[st["location"]]
            served_stops += 1
            cold = any(z in st["delivered"] for z in ("frozen", "chilled"))
            ok = st["arrival"] <= net.pp_close[p] + 1e-6
            if cold:
                ok = ok and st["minutes_since_cold_room"] <= pol.promise_minutes + 1e-6
            on_time += ok
            for name, q in st["products"].items():
                delivered[p, kidx[name]] += q
                sales += q * float(net.product_price[kidx[name]])
            for zname, load in st["delivered"].items():
                z = ZONES.index(zname)
                prods = [kidx[n] for n in st["products"] if int(net.product_zone[kidx[n]]) == z]
                limit = min((float(net.product_max_out[k]) for k in prods), default=math.inf)
                if z == 1 and not net.vehicles.refrigerated[t]:
                    limit = min(limit, float(net.vehicles.box_minutes[t]))
                crates_all += load["crates"]
                crates_ok += load["crates"] if st["minutes_out_of_zone"].get(zname, 0.0) <= limit + 1e-6 else 0
    full = (delivered == net.demand).all(axis=1) & (net.orders > 0)
    orders_total = int(net.orders.sum())
    orders_served = int(net.orders[full].sum())
    cost = sum(r["cost"]["total"] for r in routes)
    return {
        "vehicles": len(routes),
        "trunk_vehicles": sum(r["tier"] == "trunk" for r in routes),
        "last_mile_vehicles": sum(r["tier"] == "last_mile" for r in routes),
        "distance_km": _r(sum(r["distance_km"] for r in routes), 3),
        "duration_h": _r(sum(r["duration_h"] for r in routes), 4),
        "cost": _r(cost),
        "orders_total": orders_total,
        "orders_served": orders_served,
        "orders_unserved": orders_total - orders_served,
        "cost_per_order": _r(cost / orders_served, 4) if orders_served else None,
        "units_unserved": int(sum(u["units"] for u in unserved)),
        "stops": served_stops,
        "two_hour_compliance": _r(on_time / served_stops, 6) if served_stops else 1.0,
        "cold_chain_compliance": _r(crates_ok / crates_all, 6) if crates_all else 1.0,
        "delivery_cost_share_of_sales": _r(cost / sales, 6) if sales > 0 else None,
        **(cold_kpis(routes) if s.policies.cold_chain_model else {}),
    }


def assemble_plan(state: NightState, params: PlanParams) -> dict[str, Any]:
    net = state.net
    routed = sorted(state.routed, key=lambda rv: (rv.tier != "trunk", rv.depot, rv.vtype, rv.vindex))
    routes = []
    counters: dict[str, int] = {}
    for rv in routed:
        depot = state.travel.ids[rv.depot]
        counters[depot] = counters.get(depot, 0) + 1
        rid = f"{'T' if rv.tier == 'trunk' else 'L'}-{depot}-{counters[depot]:02d}"
        routes.append(route_doc(state.scenario, net, state.travel, rv, rid))
    if state.scenario.policies.cold_chain_model:
        from fulfil.coldchain import annotate_plan

        annotate_plan(state.scenario, routes)
    unserved = [
        {"pickup_point": net.pickup_ids[u.pickup], "product": net.product_ids[u.product], "units": int(u.units),
         "reason": u.reason, "detail": u.detail}
        for u in sorted(state.unserved, key=lambda u: (u.pickup, u.product, u.reason))
    ]
    doc: dict[str, Any] = {
        "format": "fulfil-plan",
        "format_version": 1,
        "code": 130 if state.interrupted else 0,
    }
    if state.interrupted:
        doc["error"] = "interrupted: this is the best plan found before the interruption"
    doc.update({
        "scenario": state.scenario.name,
        "seed": params.seed,
        "params": {"time_limit_s": params.time_limit_s, "solution_limit": params.solution_limit,
                   "workers": params.n_workers, "engine": params.engine},
        "kpis": kpis(state.scenario, net, routes, unserved),
        "routes": routes,
        "unserved": unserved,
        "assignment": {net.pickup_ids[p]: net.forward_ids[int(f)] for p, f in enumerate(state.assign) if f >= 0},
    })
    return doc
