"""Temperature and quality of a timed trip's chilled and frozen goods (planner side).

For each cold zone a trip hands over, the thermal model (:mod:`solvers.thermal.route`: a
two-node reefer compartment sized by the body share the zone takes, or an insulated box
with ice packs on an unrefrigerated vehicle) runs over the trip's own times under
tonight's hourly outside temperature; door openings happen at the stops that unload the
zone.  Each stop gets the goods' hand-over temperature, minutes above range, remaining
quality, whether they are in specification, and the expected spoilage
(docs/plan_format.md, "Cold chain").  The checker re-derives all of it independently.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from fulfil.night import CompiledNight
from fulfil.scenario.schema import ZONES
from fulfil.stages.timing import TimedTrip
from fulfil.stages.types import LAST_MILE, TRUNK

COLD = (0, 1)  # frozen, chilled


def body_split(night: CompiledNight, t: int, load_crates: np.ndarray) -> dict[int, int]:
    """Crates of each compartment on a trip: the fixed sizes, or the movable-partition split
    (each zone its load, the spare room shared in proportion to what each zone could still take)."""
    v = night.net.vehicles
    sizes = {z: int(v.crates[t, z]) for z in range(len(ZONES)) if v.crates[t, z] > 0}
    if not night.bodies.movable[t]:
        return sizes
    need = {z: int(load_crates[z]) for z in sizes}
    slack = int(v.total_crates[t]) - sum(need.values())
    room = {z: sizes[z] - need[z] for z in sizes}
    total_room = sum(room.values()) or 1
    return {z: need[z] + min(room[z], int(math.floor(max(slack, 0) * room[z] / total_room))) for z in sizes}


def trip_cold_chain(night: CompiledNight, tt: TimedTrip) -> tuple[dict | None, list[dict[str, dict]]]:
    """``(thermal block or None, per-stop {zone name: cold-chain values})`` of one trip."""
    from solvers.thermal.route import (STORAGE_C, body_compartment, handover_quality, readable_trace,
                                       simulate_zone, zone_limits)

    net = night.net
    t = tt.trip.vtype
    b = night.bodies
    refrigerated = bool(net.vehicles.refrigerated[t])
    stops = tt.stops
    per_stop: list[dict[str, dict]] = [{} for _ in stops]
    split = body_split(night, t, tt.load_crates)
    total_crates = sum(split.values()) or 1
    dep_s = tt.departure * 60.0
    end_h = night.policy.customer_pickup_end / 60.0
    blocks: dict[str, Any] = {}
    for z in COLD:
        zone = ZONES[z]
        idx = [i for i, s in enumerate(stops) if s.crates[z] > 0]
        if not idx:
            continue
        crates = np.array([stops[i].crates[z] for i in idx], dtype=np.float64)
        kg = np.array([stops[i].kg[z] for i in idx], dtype=np.float64)
        if tt.trip.tier == TRUNK:  # the checker re-runs a trunk stop on the kg the plan reports (to the gram)
            kg = np.round(kg, 3)
        start_s = np.array([stops[i].start * 60.0 for i in idx])
        serv_s = np.array([(stops[i].departure - stops[i].start) * 60.0 for i in idx])
        _, hand_max = zone_limits(zone)
        comp = None
        if refrigerated:
            comp = body_compartment(zone, split.get(z, 0) / total_crates, k_w_m2k=float(b.k_w_m2k[t]),
                                    area_m2=float(b.area_m2[t]), volume_m3=float(b.volume_m3[t]),
                                    unit_kw=float(b.unit_kw[t]), curtain=bool(b.curtain[t]))
        tr = simulate_zone(zone, night.weather_c, dep_s, start_s, serv_s, crates, kg, compartment=comp,
                           end_s=tt.ret * 60.0 if refrigerated else None)
        grid, air, prod = readable_trace(tr, start_s)
        # (quality, shelf life) of a class at every hand-over of the zone: one pass per class, not per product
        by_class: dict[int, tuple[np.ndarray, np.ndarray]] = {}
        blocks[zone] = {
            "kind": tr.kind,
            "crates": int(split.get(z, int(crates.sum()))),
            "t": [round(x / 60.0, 2) for x in grid],
            "air_c": [round(float(x), 2) for x in air],
            "product_c": [None if math.isnan(x) else round(float(x), 2) for x in prod],
            "limit_c": hand_max,
        }
        for j, i in enumerate(idx):
            st = stops[i]
            hc = float(tr.handover_c[j])
            if tt.trip.tier == LAST_MILE:
                prods = [k for k in st.units if int(net.product_zone[k]) == z]
            else:  # trunk stop: every product of the zone
                prods = [k for k in range(len(net.product_ids)) if int(net.product_zone[k]) == z]
            worst_q, worst_life, spoiled, cost = 1.0, math.inf, 0.0, 0.0
            in_range = hc <= hand_max + 1e-9
            all_q_ok = True
            needed_h = max(0.0, end_h - st.departure / 60.0)
            for k in prods:
                cls = night.product_class[k]
                ql = by_class.get(id(cls))
                if ql is None:
                    ql = by_class[id(cls)] = handover_quality(tr.t_s, tr.product_c, start_s, cls, STORAGE_C[zone])
                q, life = float(ql[0][j]), float(ql[1][j])
                worst_q, worst_life = min(worst_q, q), min(worst_life, life)
                all_q_ok = all_q_ok and q >= cls.q_min
                units = st.units.get(k, 0)
                if not in_range or q < cls.q_min or life < needed_h:
                    spoiled += units / float(net.product_per_crate[k])
                    cost += units * float(net.product_price[k])
            per_stop[i][zone] = {
                "handover_c": round(hc, 3),
                "minutes_out_of_range": round(float(tr.minutes_above[j]), 2),
                "quality": round(worst_q, 5),
                "remaining_shelf_life_h": round(worst_life, 1) if math.isfinite(worst_life) else None,
                "in_spec": bool(in_range and all_q_ok),
                "spoiled_crates": round(spoiled, 3),
                "spoilage_cost": round(cost, 2),
            }
    return ({"compartments": blocks} if blocks else None), per_stop


def out_of_spec_stops(night: CompiledNight, tt: TimedTrip) -> list[tuple[int, int]]:
    """``(stop index, zone)`` of every hand-over of ``tt`` the thermal model puts out of specification."""
    return failing_handovers(trip_cold_chain(night, tt)[1])


def failing_handovers(per_stop: list[dict[str, dict]]) -> list[tuple[int, int]]:
    """``(stop index, zone)`` of the hand-overs out of specification in :func:`trip_cold_chain`'s per-stop values."""
    return [(i, ZONES.index(zone)) for i, cc in enumerate(per_stop) for zone, c in cc.items() if not c["in_spec"]]
