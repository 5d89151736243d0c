"""Stage 7: the typed plan (:class:`fulfil.plan_model.Plan`) from the routed trips.

Trips are timed exactly (:mod:`.timing`) and grouped into one duty per vehicle, in time
order; a vehicle's fixed cost is paid once, on its duty.  Loads, minutes out of zone, the
cold chain of each hand-over (:mod:`.cold_chain`) and the KPIs are computed here; the
definitions are docs/plan_format.md's and the checker recomputes every one of them.
"""

from __future__ import annotations

import math
from collections import defaultdict
from typing import TYPE_CHECKING, Any

import numpy as np

from fulfil.network import Z
from fulfil.night import CompiledNight
from fulfil.plan_model import FORMAT, FORMAT_VERSION, LIMIT_TOL_MIN, Plan
from fulfil.scenario.schema import ZONES
from fulfil.stages.cold_chain import body_split, trip_cold_chain
from fulfil.stages.timing import TimedTrip
from fulfil.stages.trip_work import TripWork
from fulfil.stages.types import LAST_MILE, TIER_NAME, TRUNK, RoutedTrip, UnservedLine
from fulfil.units import format_clock

if TYPE_CHECKING:
    from fulfil.params import PlanParams


def _r(x: float, nd: int = 2) -> float:
    return float(round(x, nd))


def _loads(crates: np.ndarray, kg: np.ndarray) -> dict[str, dict[str, float]]:
    return {ZONES[z]: {"crates": int(crates[z]), "kg": _r(kg[z], 3)} for z in range(Z) if crates[z] > 0 or kg[z] > 0}


def trip_doc(night: CompiledNight, tt: TimedTrip, trip_id: str,
             cold: tuple[dict | None, list[dict[str, dict]]] | None = None) -> dict[str, Any]:
    """One trip of the plan document (docs/plan_format.md, Trip)."""
    net, travel = night.net, night.travel
    v = net.vehicles
    rt = tt.trip
    t = rt.vtype
    dep = tt.departure
    load_c, load_kg = tt.load_crates, tt.load_kg
    left_c, left_kg = load_c.copy(), load_kg.copy()
    stops = []
    for st in tt.stops:
        left_c = left_c - st.crates
        left_kg = np.maximum(left_kg - st.kg, 0.0)
        # out of its zone from the trip's departure: cold goods on an unrefrigerated vehicle (chilled in
        # insulated boxes) and goods the vehicle has no compartment for (docs/plan_format.md)
        out_of_zone = {ZONES[z]: _r(st.arrival - dep if (v.crates[t, z] == 0 or (z < 2 and not v.refrigerated[t]))
                                    else 0.0)
                       for z in range(Z) if st.crates[z] > 0}
        stop: dict[str, Any] = {
            "location": travel.ids[st.site],
            "arrival": _r(st.arrival),
            "start": _r(st.start),
            "departure": _r(st.departure),
            "arrival_hhmm": format_clock(st.arrival),
            "leg_km": _r(st.leg_km, 3),
            "delivered": _loads(st.crates, st.kg),
            "load_after": {ZONES[z]: {"crates": int(left_c[z]), "kg": _r(left_kg[z], 3)}
                           for z in range(Z) if load_c[z] > 0},
            "minutes_out_of_zone": out_of_zone,
        }
        if rt.tier == LAST_MILE:
            stop["products"] = {net.product_ids[k]: int(q) for k, q in sorted(st.units.items())}
            stop["minutes_since_cold_room"] = _r(st.arrival - dep)
        stops.append(stop)
    duration_h = (tt.ret - dep) / 60.0
    dist_cost = float(v.cost_per_km[t]) * tt.km
    time_cost = float(v.cost_per_hour[t]) * duration_h
    doc: dict[str, Any] = {
        "id": trip_id,
        "departure": _r(dep),
        "departure_hhmm": format_clock(dep),
        "return": _r(tt.ret),
        "return_hhmm": format_clock(tt.ret),
        "distance_km": _r(tt.km, 3),
        "return_leg_km": _r(tt.return_leg_km, 3),
        "duration_h": _r(duration_h, 4),
        "cost": {"distance": _r(dist_cost), "time": _r(time_cost), "total": _r(dist_cost + time_cost)},
        "load_at_departure": _loads(load_c, load_kg),
        "stops": stops,
    }
    if night.bodies.movable[t]:
        doc["compartments"] = {ZONES[z]: n for z, n in body_split(night, t, load_c).items()}
    if night.policy.cold_chain_model:
        block, per_stop = cold if cold is not None else trip_cold_chain(night, tt)
        if block is not None:
            doc["thermal"] = block
        for stop, cc in zip(stops, per_stop, strict=True):
            if cc:
                stop["cold_chain"] = cc
    return doc


def duties(night: CompiledNight, trips: list[RoutedTrip], work: TripWork | None = None) -> list[dict[str, Any]]:
    """One duty per vehicle (trunk first, then by depot, type and index), its trips in time order."""
    work = work or TripWork(night)
    v = night.net.vehicles
    by_vehicle: dict[tuple[int, int, int], list[RoutedTrip]] = defaultdict(list)
    for rt in trips:
        by_vehicle[(rt.tier, rt.vtype, rt.vindex)].append(rt)
    order = sorted(by_vehicle, key=lambda k: (k[0] != TRUNK, int(v.home[k[1]]), k[1], k[2]))
    out = []
    counters: dict[str, int] = defaultdict(int)
    for tier, t, k in order:
        depot = night.travel.ids[int(v.home[t])]
        counters[depot] += 1
        did = f"{'T' if tier == TRUNK else 'L'}-{depot}-{counters[depot]:02d}"
        ordered = sorted(by_vehicle[(tier, t, k)], key=lambda rt: work.timed(rt).departure)
        tdocs = [trip_doc(night, work.timed(rt), f"{did}.{n}",
                          work.cold_chain(rt) if night.policy.cold_chain_model else None)
                 for n, rt in enumerate(ordered, start=1)]
        fixed = float(v.fixed_cost[t])
        dist = sum(d["cost"]["distance"] for d in tdocs)
        time = sum(d["cost"]["time"] for d in tdocs)
        trips_total = sum(d["cost"]["total"] for d in tdocs)
        out.append({
            "id": did, "tier": TIER_NAME[tier], "vehicle_type": v.ids[t], "vehicle": int(k), "depot": depot,
            "distance_km": _r(sum(d["distance_km"] for d in tdocs), 3),
            "duration_h": _r(sum(d["duration_h"] for d in tdocs), 4),
            "cost": {"fixed": _r(fixed), "distance": _r(dist), "time": _r(time), "total": _r(fixed + trips_total)},
            "trips": tdocs,
        })
    return out


def kpis(night: CompiledNight, duty_docs: list[dict], unserved: list[dict]) -> dict[str, Any]:
    """The KPIs of docs/plan_format.md from the plan's own duties and unserved lines."""
    net, pol = night.net, night.policy
    pidx = {k: i for i, k in enumerate(net.pickup_ids)}
    kidx = {k: i for i, k in enumerate(net.product_ids)}
    vt = {vid: i for i, vid in enumerate(net.vehicles.ids)}
    delivered = np.zeros_like(net.demand)
    on_time = served_stops = 0
    crates_ok = crates_all = 0
    sales = 0.0
    cold_ok = cold_all = spoil_cost = spoiled = 0.0
    trips = [(d, tr) for d in duty_docs for tr in d["trips"]]
    for d, tr in trips:
        if d["tier"] != "last_mile":
            continue
        t = vt[d["vehicle_type"]]
        for st in tr["stops"]:
            p = pidx[st["location"]]
            served_stops += 1
            cold = any(z in st["delivered"] for z in ("frozen", "chilled"))
            ok = st["arrival"] <= net.pp_close[p] + LIMIT_TOL_MIN
            if cold:
                ok = ok and st["minutes_since_cold_room"] <= pol.promise_minutes + LIMIT_TOL_MIN
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
                crates_ok += load["crates"] if st["minutes_out_of_zone"].get(zname, 0.0) <= limit + LIMIT_TOL_MIN else 0
            for zname, cc in (st.get("cold_chain") or {}).items():
                n = st["delivered"][zname]["crates"]
                cold_all += n
                cold_ok += n if cc["in_spec"] else 0
                spoil_cost += cc["spoilage_cost"]
                spoiled += cc["spoiled_crates"]
    ordered = net.demand.sum(axis=1)
    got = np.minimum(delivered, net.demand).sum(axis=1)  # a product counts up to what was ordered
    share = np.where(ordered > 0, got / np.maximum(ordered, 1), 1.0)
    orders_total = int(net.orders.sum())
    orders_served = float((net.orders * share).sum())
    complete = (delivered >= net.demand).all(axis=1)
    units_total = int(net.demand.sum())
    units_served = int(delivered.sum())
    cost = sum(d["cost"]["total"] for d in duty_docs)
    out: dict[str, Any] = {
        "vehicles": len(duty_docs),
        "trunk_vehicles": sum(d["tier"] == "trunk" for d in duty_docs),
        "last_mile_vehicles": sum(d["tier"] == "last_mile" for d in duty_docs),
        "trips": len(trips),
        "trunk_trips": sum(d["tier"] == "trunk" for d, _ in trips),
        "last_mile_trips": sum(d["tier"] == "last_mile" for d, _ in trips),
        "distance_km": _r(sum(d["distance_km"] for d in duty_docs), 3),
        "duration_h": _r(sum(d["duration_h"] for d in duty_docs), 4),
        "cost": _r(cost),
        "orders_total": orders_total,
        "orders_served": _r(orders_served, 3),
        "orders_complete": int(net.orders[complete].sum()),
        "orders_unserved": _r(orders_total - orders_served, 3),
        "cost_per_order": _r(cost / orders_served, 4) if orders_served > 0 else None,
        "units_total": units_total,
        "units_served": units_served,
        "units_unserved": int(sum(u["units"] for u in unserved)),
        "fill_rate": _r(units_served / units_total, 6) if units_total else 1.0,
        "stops": served_stops,
        "two_hour_compliance": _r(on_time / served_stops, 6) if served_stops else 1.0,
        "cold_chain_compliance": _r(crates_ok / crates_all, 6) if crates_all else 1.0,
        "delivery_cost_share_of_sales": _r(cost / sales, 6) if sales > 0 else None,
    }
    if pol.cold_chain_model:
        out.update(in_spec_share=_r(cold_ok / cold_all, 6) if cold_all else 1.0,
                   expected_spoilage_cost=_r(spoil_cost), spoiled_crates=_r(spoiled, 3))
    return out


def assignment(night: CompiledNight, duty_docs: list[dict], assign: np.ndarray) -> dict[str, str]:
    """Pickup point → forward warehouse, for the pickup points the last-mile trips deliver to: what
    the checker can hold to the trips (an assigned pickup point that gets nothing is not listed)."""
    net = night.net
    served = {st["location"] for d in duty_docs if d["tier"] == "last_mile" for tr in d["trips"] for st in tr["stops"]
              if any(q > 0 for q in st["products"].values())}
    return {pp: net.forward_ids[int(f)] for pp, f in zip(net.pickup_ids, assign, strict=True) if f >= 0 and pp in served}


def assemble_plan(night: CompiledNight, trips: list[RoutedTrip], unserved: list[UnservedLine], assign: np.ndarray,
                  params: PlanParams, interrupted: bool, stats: dict[str, float] | None = None,
                  work: TripWork | None = None) -> Plan:
    net = night.net
    duty_docs = duties(night, trips, work)
    unserved_docs = [
        {"pickup_point": net.pickup_ids[u.pickup], "product": net.product_ids[u.product], "units": int(u.units),
         "reason": u.reason, "detail": u.detail}
        for u in sorted(unserved, key=lambda u: (u.pickup, u.product, u.reason))
    ]
    doc: dict[str, Any] = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "code": 130 if interrupted else 0,
        "error": "interrupted: this is the best plan found before the interruption" if interrupted else None,
        "scenario": night.name,
        "scenario_digest": night.digest,
        "seed": params.seed,
        "params": {"time_limit_s": None if params.seconds_per_job is not None else params.time_limit_s,
                   "solution_limit": params.solution_limit, "workers": params.n_workers, "engine": params.engine,
                   "seconds_per_job": params.seconds_per_job},
        "kpis": kpis(night, duty_docs, unserved_docs),
        "duties": duty_docs,
        "unserved": unserved_docs,
        "assignment": assignment(night, duty_docs, assign),
        "stats": {k: round(v, 3) for k, v in (stats or {}).items()},
    }
    return Plan.model_validate(doc)
