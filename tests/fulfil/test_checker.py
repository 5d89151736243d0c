"""The independent plan checker (``fulfil.checker``) against hand-built plans (format version 2).

``tests/data/checker/tiny.toml`` is a small Changsha scenario.  ``build_plan`` below
writes a plan document for it from a compact *spec* (vehicle duties as trips, each trip a
stop sequence with the products handed over), timing every leg with
:class:`fulfil.travel.TravelModel` exactly as docs/plan_format.md prescribes — the test
builds, the checker verifies.  The valid spec must pass with zero violations; every other
test breaks one rule, either by building from a modified spec (times and KPIs stay
self-consistent, so the exact set of causes can be asserted) or by editing the built
document.  A duty spec with ``departure`` and ``stops`` is a duty of one trip; one with
``trips`` (each ``{"departure", "stops"}``) drives several.
"""

from __future__ import annotations

import copy
import inspect
import json
import math
import re
from collections import defaultdict
from pathlib import Path

import pytest

from fulfil.checker import CAUSES, Violation, check_plan, load_plan, summarize
from fulfil.errors import ScenarioError
from fulfil.plan_model import Plan, parse_plan
from fulfil.scenario.digest import scenario_digest
from fulfil.scenario.load import load_scenario
from fulfil.travel import TravelModel

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "tests" / "data" / "checker"
ZONES = ("frozen", "chilled", "ambient")


# --------------------------------------------------------------------------- #
# the plan builder (independent of the checker's code)
# --------------------------------------------------------------------------- #
@pytest.fixture(scope="module")
def scenario():
    return load_scenario(DATA / "tiny.toml")


@pytest.fixture(scope="module")
def tm(scenario):
    return TravelModel(scenario)


def valid_spec() -> dict:
    """Duties of a valid plan for tiny.toml, one trip each; P4's dumplings are short of stock."""
    return {
        "trunk": [
            {"id": "T-CW1-01", "vt": "CW1_reefer", "vehicle": 0, "depot": "CW1", "departure": 90.0,
             "stops": ["FW1", "FW2"], "zones": ("frozen", "chilled")},
            {"id": "T-CW1-02", "vt": "CW1_dry", "vehicle": 0, "depot": "CW1", "departure": 90.0,
             "stops": ["FW1", "FW2"], "zones": ("ambient",)},
        ],
        "last_mile": [
            {"id": "L-FW1-01", "vt": "FW1_reefer", "vehicle": 0, "depot": "FW1", "departure": 420.0,
             "stops": [("P1", {"dumplings": 20, "milk": 30, "rice": 10}),
                       ("P3", {"dumplings": 10, "milk": 25, "rice": 12})]},
            {"id": "L-FW1-02", "vt": "FW1_van", "vehicle": 0, "depot": "FW1", "departure": 420.0,
             "stops": [("P5", {"milk": 5, "rice": 6}), ("P2", {"milk": 12, "rice": 8})]},
            {"id": "L-FW2-01", "vt": "FW2_reefer", "vehicle": 0, "depot": "FW2", "departure": 420.0,
             "stops": [("P4", {"milk": 10, "rice": 5})]},
        ],
        "unserved": [("P4", "dumplings", 8, "stock_shortage")],
        "trunk_adjust": {},  # (forward warehouse, zone) → extra crates on the trunk
    }


def two_trip_spec(second_departure: float = 540.0) -> dict:
    """The valid spec with the van driving two trips: P5 at 07:00, back, reloaded, P2 at 09:00 (when it opens).
    The trunk delivers before either trip leaves."""
    spec = valid_spec()
    van = route(spec, "L-FW1-02")
    p5, p2 = van.pop("stops")
    van.pop("departure")
    van["trips"] = [{"departure": 420.0, "stops": [p5]}, {"departure": second_departure, "stops": [p2]}]
    return spec


def route(spec: dict, rid: str) -> dict:
    return next(r for r in spec["trunk"] + spec["last_mile"] if r["id"] == rid)


def trips_of(r: dict) -> list[dict]:
    return r["trips"] if "trips" in r else [{"departure": r["departure"], "stops": r["stops"]}]


def _r(x: float, nd: int = 2) -> float:
    return float(round(x, nd))


def _hhmm(m: float) -> str:
    m = int(round(m))
    return f"{m // 60:02d}:{m % 60:02d}"


def build_plan(s, tm: TravelModel, spec: dict) -> dict:
    """A plan document (format version 2) for ``spec``, every figure computed from the scenario."""
    pol = s.policies
    prods = {p.id: p for p in s.products}
    pps = {p.id: p for p in s.pickup_points}
    vts = {v.id: v for v in s.vehicle_types}

    def lm_stop(loc, units):
        c = {z: math.ceil(sum(q / prods[k].units_per_crate for k, q in units.items() if prods[k].zone == z))
             for z in ZONES}
        kg = {z: sum(q * prods[k].kg_per_unit for k, q in units.items() if prods[k].zone == z) for z in ZONES}
        c = {z: n for z, n in c.items() if n > 0}
        return loc, units, c, {z: kg[z] for z in c}

    # what each forward warehouse sends out: (fw, zone) → crates, kg
    out_c: dict[tuple[str, str], int] = defaultdict(int)
    out_kg: dict[tuple[str, str], float] = defaultdict(float)
    lm_trips = []
    for r in spec["last_mile"]:
        trips = []
        for tr in trips_of(r):
            stops = [lm_stop(loc, units) for loc, units in tr["stops"]]
            for _, _, c, kg in stops:
                for z in c:
                    out_c[(r["depot"], z)] += c[z]
                    out_kg[(r["depot"], z)] += kg[z]
            trips.append((tr["departure"], stops))
        lm_trips.append(trips)
    for key, extra in spec["trunk_adjust"].items():
        out_c[key] += extra

    def timed(r, tid, departure, stops, tier):
        vt = vts[r["vt"]]
        t, prev = departure, r["depot"]
        total_km = 0.0
        docs = []
        load_c = defaultdict(int)
        load_kg = defaultdict(float)
        for loc, units, c, kg in stops:
            for z in c:
                load_c[z] += c[z]
                load_kg[z] += kg[z]
        left_c, left_kg = dict(load_c), dict(load_kg)
        raw = []
        for loc, units, c, kg in stops:
            km, mins = tm.leg(tm.index[prev], tm.index[loc], t, vt.speed_profile)
            total_km += km
            arrival = t + mins
            n = sum(c.values())
            if tier == "trunk":
                open_ = pol.trunk_receiving.open
                service = pol.trunk_unload_fixed_min + pol.trunk_unload_per_crate_min * n
            elif pps[loc].kind == "locker":
                open_ = pps[loc].window.open
                service = pol.locker_fixed_min + pol.locker_per_cell_min * n
            else:
                open_ = pps[loc].window.open
                service = pol.service_fixed_min + pol.service_per_crate_min * n
            start = max(arrival, open_)
            dep = start + service
            elapsed = arrival - departure
            comp = {cp.zone for cp in vt.compartments}
            out = {z: (0.0 if (z in comp and (vt.refrigerated or z == "ambient")) else elapsed) for z in c}
            for z in c:
                left_c[z] -= c[z]
                left_kg[z] -= kg[z]
            doc = {
                "location": loc,
                "arrival": _r(arrival), "start": _r(start), "departure": _r(dep),
                "arrival_hhmm": _hhmm(arrival),
                "leg_km": _r(km, 3),
                "delivered": {z: {"crates": c[z], "kg": _r(kg[z], 3)} for z in c},
            }
            if tier == "last_mile":
                doc["products"] = dict(units)
            doc["load_after"] = {z: {"crates": left_c[z], "kg": _r(left_kg[z], 3)} for z in load_c}
            doc["minutes_out_of_zone"] = {z: _r(m) for z, m in out.items()}
            if tier == "last_mile":
                doc["minutes_since_cold_room"] = _r(elapsed)
            docs.append(doc)
            raw.append((loc, units, c, arrival, elapsed, out))
            t, prev = dep, loc
        km, mins = tm.leg(tm.index[prev], tm.index[r["depot"]], t, vt.speed_profile)
        total_km += km
        ret = t + mins
        dur = (ret - departure) / 60.0
        dist, time = vt.cost_per_km * total_km, vt.cost_per_hour * dur
        trip = {
            "id": tid, "departure": _r(departure), "departure_hhmm": _hhmm(departure),
            "return": _r(ret), "return_hhmm": _hhmm(ret),
            "distance_km": _r(total_km, 3), "return_leg_km": _r(km, 3), "duration_h": _r(dur, 4),
            "cost": {"distance": _r(dist), "time": _r(time), "total": _r(dist + time)},
            "load_at_departure": {z: {"crates": load_c[z], "kg": _r(load_kg[z], 3)} for z in load_c},
            "stops": docs,
        }
        return trip, raw, (total_km, dur, dist, time)

    def duty(r, tier, trips):
        vt = vts[r["vt"]]
        docs, raws, sums = [], [], []
        for k, (departure, stops) in enumerate(trips, start=1):
            trip, raw, figs = timed(r, f"{r['id']}.{k}", departure, stops, tier)
            docs.append(trip)
            raws.append(raw)
            sums.append(figs)
        km, dur, dist, time = (sum(x[i] for x in sums) for i in range(4))
        doc = {
            "id": r["id"], "tier": tier, "vehicle_type": vt.id, "vehicle": r["vehicle"], "depot": r["depot"],
            "distance_km": _r(km, 3), "duration_h": _r(dur, 4),
            "cost": {"fixed": _r(vt.fixed_cost), "distance": _r(dist), "time": _r(time),
                     "total": _r(vt.fixed_cost + dist + time)},
            "trips": docs,
        }
        return doc, raws, vt

    duties = []
    for r in spec["trunk"]:
        stops = []
        for fw in r["stops"]:
            c = {z: out_c[(fw, z)] for z in r["zones"] if out_c[(fw, z)] > 0}
            stops.append((fw, {}, c, {z: out_kg[(fw, z)] for z in c}))
        duties.append(duty(r, "trunk", [(r["departure"], stops)]))
    for r, trips in zip(spec["last_mile"], lm_trips):
        duties.append(duty(r, "last_mile", trips))

    # KPIs (docs/plan_format.md)
    delivered = defaultdict(int)
    on_time = n_stops = ok_crates = n_crates = 0
    sales = 0.0
    for doc, raws, vt in duties:
        if doc["tier"] != "last_mile":
            continue
        for raw in raws:
            for loc, units, c, arrival, elapsed, out in raw:
                n_stops += 1
                cold = any(z in c for z in ("frozen", "chilled"))
                on_time += arrival <= pps[loc].window.close and not (cold and elapsed > pol.promise_minutes)
                for k, q in units.items():
                    delivered[(loc, k)] += q
                    sales += q * prods[k].price
                for z, n in c.items():
                    limit = min(prods[k].max_minutes_out_of_zone for k in units if prods[k].zone == z)
                    if z == "chilled" and not vt.refrigerated:
                        limit = min(limit, vt.insulated_box_minutes)
                    n_crates += n
                    ok_crates += n if out[z] <= limit else 0
    orders_total = sum(d.orders for d in s.demand)
    served = sum(d.orders * sum(delivered[(d.pickup_point, k)] for k in d.items) / sum(d.items.values())
                 for d in s.demand)
    complete = sum(d.orders for d in s.demand if all(delivered[(d.pickup_point, k)] == q for k, q in d.items.items()))
    units_total = sum(sum(d.items.values()) for d in s.demand)
    units_served = sum(delivered.values())
    docs = [d for d, _, _ in duties]
    cost = sum(d["cost"]["total"] for d in docs)
    kpis = {
        "vehicles": len(docs),
        "trunk_vehicles": sum(d["tier"] == "trunk" for d in docs),
        "last_mile_vehicles": sum(d["tier"] == "last_mile" for d in docs),
        "trips": sum(len(d["trips"]) for d in docs),
        "trunk_trips": sum(len(d["trips"]) for d in docs if d["tier"] == "trunk"),
        "last_mile_trips": sum(len(d["trips"]) for d in docs if d["tier"] == "last_mile"),
        "distance_km": _r(sum(d["distance_km"] for d in docs), 3),
        "duration_h": _r(sum(d["duration_h"] for d in docs), 4),
        "cost": _r(cost),
        "orders_total": orders_total,
        "orders_served": _r(served, 4),
        "orders_complete": complete,
        "orders_unserved": _r(orders_total - served, 4),
        "cost_per_order": _r(cost / served, 4) if served else None,
        "units_total": units_total,
        "units_served": units_served,
        "units_unserved": sum(u[2] for u in spec["unserved"]),
        "fill_rate": _r(units_served / units_total, 6),
        "stops": n_stops,
        "two_hour_compliance": _r(on_time / n_stops, 6) if n_stops else 1.0,
        "cold_chain_compliance": _r(ok_crates / n_crates, 6) if n_crates else 1.0,
        "delivery_cost_share_of_sales": _r(cost / sales, 6) if sales else None,
    }
    assignment = {}
    for d in docs:
        if d["tier"] == "last_mile":
            for t in d["trips"]:
                for st in t["stops"]:
                    assignment.setdefault(st["location"], d["depot"])
    return {
        "format": "fulfil-plan", "format_version": 2, "code": 0, "scenario": s.name,
        "scenario_digest": scenario_digest(s), "seed": 0,
        "params": {"time_limit_s": 1.0, "solution_limit": None, "workers": 1, "engine": "ortools"},
        "kpis": kpis, "duties": docs,
        "unserved": [{"pickup_point": p, "product": k, "units": q, "reason": why, "detail": "test"}
                     for p, k, q, why in spec["unserved"]],
        "assignment": assignment, "stats": {},
    }


@pytest.fixture(scope="module")
def valid_plan(scenario, tm):
    return build_plan(scenario, tm, valid_spec())


def causes(vs: list[Violation]) -> set[str]:
    return {v.cause for v in vs}


def of(vs: list[Violation], cause: str) -> list[Violation]:
    return [v for v in vs if v.cause == cause]


def _duty(plan, did):
    return next(d for d in plan["duties"] if d["id"] == did)


def _trip(plan, tid):
    return next(t for d in plan["duties"] for t in d["trips"] if t["id"] == tid)


def _stop(plan, tid, j):
    return _trip(plan, tid)["stops"][j]


# --------------------------------------------------------------------------- #
# the valid plan
# --------------------------------------------------------------------------- #
def test_valid_plan_has_no_violations(scenario, valid_plan):
    """A plan obeying every rule (built from the scenario alone) yields no violation at all."""
    vs = check_plan(scenario, valid_plan)
    assert vs == [], summarize(vs)


def test_valid_plan_round_trips_through_a_file(scenario, valid_plan, tmp_path):
    """A valid plan written as JSON and read back with load_plan (a Plan model) still has no violation."""
    path = tmp_path / "plan.json"
    path.write_text(json.dumps(valid_plan), encoding="utf-8")
    plan = load_plan(path)
    assert isinstance(plan, Plan)
    assert check_plan(scenario, plan) == []


def test_valid_plan_is_not_trivial(valid_plan):
    """The valid plan really exercises the rules: it waits at a window, uses insulated boxes and a locker,
    and leaves something unserved."""
    van = _trip(valid_plan, "L-FW1-02.1")
    assert van["stops"][1]["start"] > van["stops"][1]["arrival"]  # P2 opens at 09:00
    assert van["stops"][1]["minutes_out_of_zone"]["chilled"] > 0  # milk in insulated boxes
    assert valid_plan["kpis"]["orders_served"] < valid_plan["kpis"]["orders_total"]
    assert valid_plan["kpis"]["orders_complete"] < valid_plan["kpis"]["orders_served"]
    assert all(t["stops"] for d in valid_plan["duties"] for t in d["trips"])


def test_orders_served_counts_order_equivalents(valid_plan):
    """orders_served counts order-equivalents: P4 misses 8 of its 23 units, so its 4 orders count 4 × 15/23,
    not 0 — a small shortfall moves the KPI a little; orders_complete counts only complete pickup points."""
    k = valid_plan["kpis"]
    assert k["orders_served"] == pytest.approx(28 - 4 * 8 / 23, abs=1e-4)
    assert k["orders_complete"] == 24
    assert k["fill_rate"] == pytest.approx(k["units_served"] / k["units_total"], abs=1e-6)
    assert k["units_total"] - k["units_served"] == k["units_unserved"] == 8


# --------------------------------------------------------------------------- #
# rules broken through the spec: times and KPIs stay self-consistent
# --------------------------------------------------------------------------- #
def _late_last_mile(spec):
    route(spec, "L-FW1-01")["departure"] = 690.0  # 11:30: P1 closes at 11:30


def _late_trunk(spec):
    route(spec, "T-CW1-02")["departure"] = 385.0  # 06:25: receiving closes 06:30


def _promise(spec):
    # P2 opens at 09:00, so P3 after it is reached > 120 min after the 07:00 departure
    lm = route(spec, "L-FW1-01")
    van = route(spec, "L-FW1-02")
    lm["stops"] = [lm["stops"][0], van["stops"][1], lm["stops"][1]]
    van["stops"] = van["stops"][:1]


def _out_of_zone(spec):
    # the van leaves at 06:00, waits for P5 to open at 07:00: milk in insulated boxes > 30 min by P2
    route(spec, "L-FW1-02")["departure"] = 360.0


def _over_capacity(spec):
    lm = route(spec, "L-FW1-01")
    van = route(spec, "L-FW1-02")
    lm["stops"] = lm["stops"] + van["stops"]  # 6 ambient crates > 5
    spec["last_mile"].remove(van)


def _wrong_zone(spec):
    lm = route(spec, "L-FW1-01")
    van = route(spec, "L-FW1-02")
    p3 = lm["stops"].pop(1)  # P3 gets dumplings (frozen) ...
    spec["last_mile"].append({"id": "L-FW1-03", "vt": "FW1_reefer", "vehicle": 1, "depot": "FW1",
                              "departure": 420.0, "stops": van["stops"]})
    van["stops"] = [p3]  # ... from the van, which has no frozen compartment


def _shift_open(spec):
    route(spec, "L-FW1-01")["departure"] = 350.0  # 05:50, shift opens 06:00


def _early_departure(spec):
    route(spec, "T-CW1-01")["departure"] = 70.0  # 01:10: inside the 01:00 shift, before the 01:30 trunk departure


def _shift_close(spec):
    van = route(spec, "L-FW1-02")
    van["departure"] = 670.0  # 11:10: back after 11:30
    van["stops"] = van["stops"][::-1]


def _no_unserved(spec):
    spec["unserved"] = []


def _oversold(spec):
    route(spec, "L-FW2-01")["stops"][0][1]["dumplings"] = 8
    spec["unserved"] = []


def _locker_cells(spec):
    lm = route(spec, "L-FW1-01")
    lm["stops"][1][1]["dumplings"] = 5
    spec["last_mile"].append({"id": "L-FW1-03", "vt": "FW1_reefer", "vehicle": 1, "depot": "FW1",
                              "departure": 420.0, "stops": [("P3", {"dumplings": 5})]})


def _warehouse_capacity(spec):
    van = route(spec, "L-FW1-02")
    van["stops"][1][1]["milk"] = 6
    spec["last_mile"].append({"id": "L-FW1-03", "vt": "FW1_reefer", "vehicle": 1, "depot": "FW1",
                              "departure": 420.0, "stops": [("P2", {"milk": 6})]})


def _pinned(spec):
    fw2 = route(spec, "L-FW2-01")
    van = route(spec, "L-FW1-02")
    p5 = van["stops"].pop(0)
    spec["last_mile"].append({"id": "L-FW1-03", "vt": "FW1_reefer", "vehicle": 1, "depot": "FW1",
                              "departure": 420.0, "stops": fw2["stops"]})  # P4 is pinned to FW2
    fw2["stops"] = [p5]


def _two_warehouses(spec):
    van = route(spec, "L-FW1-02")
    van["stops"][0][1]["rice"] = 3
    route(spec, "L-FW2-01")["stops"].append(("P5", {"rice": 3}))


def _reused(spec):
    van = route(spec, "L-FW1-02")
    van["vt"], van["vehicle"] = "FW1_reefer", 0


def _fleet(spec):
    route(spec, "L-FW1-02")["vehicle"] = 1  # FW1_van has count 1


def _foreign_type(spec):
    r = route(spec, "L-FW2-01")
    r["vt"], r["vehicle"] = "FW1_reefer", 1  # based at FW1, drives from FW2


def _trunk_with_last_mile_type(spec):
    r = route(spec, "T-CW1-01")
    r["vt"] = "FW1_reefer"
    r["vehicle"] = 1


def _shortfall(spec):
    spec["trunk_adjust"][("FW1", "chilled")] = -1


def _trunk_late(spec):
    route(spec, "T-CW1-02")["departure"] = 340.0  # 05:40: unloads at FW1 until ~06:13
    route(spec, "L-FW1-01")["departure"] = 365.0  # 06:05, carries ambient goods


SPEC_CASES = [
    # (mutation, expected causes, (duty, trip, stop) the first violation of the target cause names)
    (_late_last_mile, {"late"}, ("L-FW1-01", "L-FW1-01.1", 0)),
    (_late_trunk, {"late", "trunk_late"}, ("T-CW1-02", "T-CW1-02.1", 0)),
    (_promise, {"promise_exceeded"}, ("L-FW1-01", "L-FW1-01.1", 2)),
    (_out_of_zone, {"out_of_zone_limit"}, ("L-FW1-02", "L-FW1-02.1", 1)),
    (_over_capacity, {"over_capacity"}, ("L-FW1-01", "L-FW1-01.1", None)),
    (_wrong_zone, {"wrong_temperature_zone"}, ("L-FW1-02", "L-FW1-02.1", 0)),
    (_shift_open, {"shift_exceeded", "early_departure"}, ("L-FW1-01", "L-FW1-01.1", None)),
    (_early_departure, {"early_departure"}, ("T-CW1-01", "T-CW1-01.1", None)),
    (_shift_close, {"shift_exceeded"}, ("L-FW1-02", "L-FW1-02.1", None)),
    (_no_unserved, {"demand_mismatch"}, (None, None, None)),
    (_oversold, {"oversold"}, (None, None, None)),
    (_locker_cells, {"locker_cells_exceeded"}, ("L-FW1-01", "L-FW1-01.1", 1)),
    (_warehouse_capacity, {"warehouse_capacity"}, (None, None, None)),
    (_pinned, {"wrong_warehouse"}, ("L-FW1-03", "L-FW1-03.1", None)),
    (_two_warehouses, {"wrong_warehouse"}, (None, None, None)),
    (_reused, {"vehicle_reused"}, ("L-FW1-02", None, None)),
    (_fleet, {"fleet_exceeded"}, ("L-FW1-02", None, None)),
    (_foreign_type, {"wrong_depot"}, ("L-FW2-01", None, None)),
    (_trunk_with_last_mile_type, {"wrong_depot", "shift_exceeded"}, ("T-CW1-01", None, None)),
    (_shortfall, {"trunk_shortfall"}, (None, None, None)),
    (_trunk_late, {"trunk_late"}, ("L-FW1-01", "L-FW1-01.1", None)),
]
TARGET = {
    _late_last_mile: "late", _late_trunk: "late", _promise: "promise_exceeded", _out_of_zone: "out_of_zone_limit",
    _over_capacity: "over_capacity", _wrong_zone: "wrong_temperature_zone", _shift_open: "shift_exceeded",
    _early_departure: "early_departure",
    _shift_close: "shift_exceeded", _no_unserved: "demand_mismatch", _oversold: "oversold",
    _locker_cells: "locker_cells_exceeded", _warehouse_capacity: "warehouse_capacity", _pinned: "wrong_warehouse",
    _two_warehouses: "wrong_warehouse", _reused: "vehicle_reused", _fleet: "fleet_exceeded",
    _foreign_type: "wrong_depot", _trunk_with_last_mile_type: "wrong_depot", _shortfall: "trunk_shortfall",
    _trunk_late: "trunk_late",
}


def _located(v: Violation, where: tuple) -> bool:
    did, tid, stop = where
    return v.vehicle == did and v.trip == tid and v.stop == stop and (tid or did) in v.message


@pytest.mark.parametrize(("mutate", "expected", "where"), SPEC_CASES,
                         ids=[c[0].__name__.strip("_") for c in SPEC_CASES])
def test_broken_rule_is_reported(scenario, tm, mutate, expected, where):
    """A consistently built plan that breaks one rule is reported with exactly that rule's cause
    (plus the causes that rule necessarily entails), located at the offending duty, trip and stop;
    its KPIs, computed by the builder, agree with the checker's recomputation."""
    spec = valid_spec()
    mutate(spec)
    vs = check_plan(scenario, build_plan(scenario, tm, spec))
    assert causes(vs) == expected, summarize(vs)
    first = of(vs, TARGET[mutate])[0]
    if where[0] is not None:
        assert _located(first, where), first
    assert first.message


def test_late_and_promise_lower_the_two_hour_compliance(scenario, tm):
    """two_hour_compliance counts late and promise-breaking last-mile stops as failures (the builder's
    KPIs, agreed by the checker, are below 1)."""
    for mutate in (_late_last_mile, _promise):
        spec = valid_spec()
        mutate(spec)
        plan = build_plan(scenario, tm, spec)
        assert plan["kpis"]["two_hour_compliance"] < 1.0
        assert "kpi_mismatch" not in causes(check_plan(scenario, plan))
        plan["kpis"]["two_hour_compliance"] = 1.0
        assert "kpi_mismatch" in causes(check_plan(scenario, plan))


def test_out_of_zone_lowers_cold_chain_compliance(scenario, tm):
    """cold_chain_compliance counts the crates kept out of zone beyond their limit as failures."""
    spec = valid_spec()
    _out_of_zone(spec)
    plan = build_plan(scenario, tm, spec)
    assert plan["kpis"]["cold_chain_compliance"] < 1.0
    plan["kpis"]["cold_chain_compliance"] = 1.0
    assert "kpi_mismatch" in causes(check_plan(scenario, plan))


def test_nearest_central_supplies_a_forward_warehouse_without_one(scenario, tm):
    """A forward warehouse with no `central` is supplied by the nearest central warehouse: with a
    second, farther central holding plenty of stock, the shortage at the nearest one is still oversold."""
    from fulfil.scenario.schema import CentralWarehouse, Stock

    far = CentralWarehouse(id="CW9", lon=113.15, lat=28.30)
    s2 = scenario.model_copy(update={
        "central_warehouses": [*scenario.central_warehouses, far],
        "stock": [*scenario.stock, Stock(warehouse="CW9", product="dumplings", quantity=1000)],
    })
    spec = valid_spec()
    _oversold(spec)
    # FW2 (no `central`) is nearest to CW1, which has 30 dumplings for a demand of 38
    assert "oversold" in causes(check_plan(s2, build_plan(s2, TravelModel(s2), spec)))


# --------------------------------------------------------------------------- #
# a vehicle driving two trips
# --------------------------------------------------------------------------- #
def test_two_trip_duty_passes(scenario, tm):
    """The van drives P5 at 07:00, comes back, is reloaded and leaves for P2 at 09:00, inside its shift, the
    trunk supplying both trips: zero violations; the duty pays its fixed cost once."""
    plan = build_plan(scenario, tm, two_trip_spec())
    vs = check_plan(scenario, plan)
    assert vs == [], summarize(vs)
    van = _duty(plan, "L-FW1-02")
    assert [t["id"] for t in van["trips"]] == ["L-FW1-02.1", "L-FW1-02.2"]
    first, second = van["trips"]
    assert second["departure"] > first["return"] + scenario.policies.reload_fixed_min
    assert van["cost"]["total"] == pytest.approx(
        van["cost"]["fixed"] + first["cost"]["total"] + second["cost"]["total"], abs=0.011)
    assert plan["kpis"]["last_mile_vehicles"] == 3 and plan["kpis"]["last_mile_trips"] == 4


def _second_after_first(scenario, tm, gap_min: float) -> dict:
    """The two-trip plan with the second trip leaving ``gap_min`` after the first one's return."""
    first_return = _trip(build_plan(scenario, tm, two_trip_spec()), "L-FW1-02.1")["return"]
    return build_plan(scenario, tm, two_trip_spec(first_return + gap_min))


def test_overlapping_trips_are_named(scenario, tm):
    """The second trip leaving before the first is back is `trips_overlap`, at the second trip."""
    vs = check_plan(scenario, _second_after_first(scenario, tm, -5.0))
    assert causes(vs) == {"trips_overlap"}, summarize(vs)
    assert _located(vs[0], ("L-FW1-02", "L-FW1-02.2", None)), vs[0]


def test_reload_shorter_than_loading_time_is_named(scenario, tm):
    """Leaving 5 min after the return, when reloading 2 crates takes 15 + 0.05 × 2 min, is `reload_too_short`."""
    vs = check_plan(scenario, _second_after_first(scenario, tm, 5.0))
    assert causes(vs) == {"reload_too_short"}, summarize(vs)
    assert _located(vs[0], ("L-FW1-02", "L-FW1-02.2", None)), vs[0]
    assert "15.1 min" in vs[0].message
    # exactly the reload time is enough
    reload = scenario.policies.reload_fixed_min + 2 * scenario.policies.reload_per_crate_min
    assert check_plan(scenario, _second_after_first(scenario, tm, reload + 0.01)) == []


def test_second_trip_after_the_shift_is_named(scenario, tm):
    """A second trip reaching P2 before its window closes (11:30) but back after the van's shift closes
    (11:30) is `shift_exceeded`, at the second trip."""
    vs = check_plan(scenario, build_plan(scenario, tm, two_trip_spec(680.0)))  # 11:20: at P2 11:24, back 11:33
    assert causes(vs) == {"shift_exceeded"}, summarize(vs)
    assert _located(vs[0], ("L-FW1-02", "L-FW1-02.2", None)), vs[0]


def test_trips_listed_out_of_order_are_named(scenario, tm):
    """A duty's trips must be listed in time order."""
    plan = build_plan(scenario, tm, two_trip_spec())
    van = _duty(plan, "L-FW1-02")
    van["trips"].reverse()
    for k, t in enumerate(van["trips"], start=1):  # ids follow the listing (format_rule otherwise)
        t["id"] = f"L-FW1-02.{k}"
    vs = check_plan(scenario, plan)
    assert causes(vs) == {"time_mismatch"}, summarize(vs)
    assert _located(vs[0], ("L-FW1-02", "L-FW1-02.2", None)), vs[0]


def test_trunk_must_have_unloaded_what_each_trip_takes(scenario, tm):
    """trunk_late counts crates: the trunk unloading ambient goods at FW1 at ~06:13 is late for a van trip
    leaving at 06:00 with ambient goods."""
    spec = two_trip_spec()
    route(spec, "T-CW1-02")["departure"] = 340.0  # 05:40: unloads at FW1 until ~06:13
    route(spec, "L-FW1-02")["trips"][0]["departure"] = 360.0  # 06:00, P5 opens at 07:00
    vs = check_plan(scenario, build_plan(scenario, tm, spec))
    late = of(vs, "trunk_late")
    assert late and {v.trip for v in late} == {"L-FW1-02.1"}, summarize(vs)


# --------------------------------------------------------------------------- #
# the scenario the plan was made for
# --------------------------------------------------------------------------- #
def test_plan_for_another_scenario_is_one_violation(valid_plan):
    """Checked against another scenario, a plan yields exactly one violation, `wrong_scenario` — not a flood."""
    other = load_scenario(ROOT / "scenarios" / "demo_city.toml")
    vs = check_plan(other, valid_plan)
    assert [v.cause for v in vs] == ["wrong_scenario"], summarize(vs)
    assert "tiny" in vs[0].message and other.name in vs[0].message


def test_changed_scenario_is_said_first(scenario, valid_plan):
    """Same name, other fingerprint: `wrong_scenario` ("the scenario changed") comes first, then the checks go on."""
    hotter = scenario.model_copy(update={"weather": scenario.weather.model_copy(update={"hourly_c": [30.0] * 24})})
    vs = check_plan(hotter, valid_plan)
    assert [v.cause for v in vs] == ["wrong_scenario"], summarize(vs)
    assert "changed" in vs[0].message
    stricter = scenario.model_copy(update={"policies": scenario.policies.model_copy(update={"promise_minutes": 10.0})})
    vs = check_plan(stricter, valid_plan)
    assert vs[0].cause == "wrong_scenario" and "promise_exceeded" in causes(vs[1:]), summarize(vs)
    # a plan without a digest is checked on its name alone
    plan = copy.deepcopy(valid_plan)
    del plan["scenario_digest"]
    assert check_plan(hotter, plan) == []


# --------------------------------------------------------------------------- #
# rules broken by editing the document
# --------------------------------------------------------------------------- #
EDIT_CASES = [
    # (name, edit, cause, duty, trip, stop)
    ("arrival", lambda p: _stop(p, "L-FW1-01.1", 1).__setitem__("arrival", _stop(p, "L-FW1-01.1", 1)["arrival"] + 1),
     "time_mismatch", "L-FW1-01", "L-FW1-01.1", 1),
    ("start", lambda p: _stop(p, "L-FW1-02.1", 1).__setitem__("start", _stop(p, "L-FW1-02.1", 1)["start"] - 0.2),
     "time_mismatch", "L-FW1-02", "L-FW1-02.1", 1),
    ("stop_departure", lambda p: _stop(p, "T-CW1-01.1", 0).__setitem__("departure", 200.0),
     "time_mismatch", "T-CW1-01", "T-CW1-01.1", 0),
    ("return", lambda p: _trip(p, "L-FW2-01.1").__setitem__("return", _trip(p, "L-FW2-01.1")["return"] + 3),
     "time_mismatch", "L-FW2-01", "L-FW2-01.1", None),
    ("return_hhmm", lambda p: _trip(p, "L-FW2-01.1").__setitem__("return_hhmm", "23:59"),
     "time_mismatch", "L-FW2-01", "L-FW2-01.1", None),
    ("trip_duration", lambda p: _trip(p, "L-FW2-01.1").__setitem__("duration_h", 9.0),
     "time_mismatch", "L-FW2-01", "L-FW2-01.1", None),
    ("duty_duration", lambda p: _duty(p, "L-FW2-01").__setitem__("duration_h", 9.0),
     "time_mismatch", "L-FW2-01", None, None),
    ("minutes_since_cold_room", lambda p: _stop(p, "L-FW1-01.1", 0).__setitem__("minutes_since_cold_room", 0.0),
     "time_mismatch", "L-FW1-01", "L-FW1-01.1", 0),
    ("minutes_out_of_zone", lambda p: _stop(p, "L-FW1-02.1", 1)["minutes_out_of_zone"].__setitem__("chilled", 0.0),
     "time_mismatch", "L-FW1-02", "L-FW1-02.1", 1),
    ("delivered_kg", lambda p: _stop(p, "L-FW1-01.1", 0)["delivered"]["ambient"].__setitem__("kg", 30.0),
     "load_mismatch", "L-FW1-01", "L-FW1-01.1", 0),
    ("delivered_crates", lambda p: _stop(p, "L-FW1-01.1", 1)["delivered"]["chilled"].__setitem__("crates", 1),
     "load_mismatch", "L-FW1-01", "L-FW1-01.1", 1),
    ("zone_swapped", lambda p: _stop(p, "L-FW1-01.1", 0)["delivered"].update(
        {"chilled": {"crates": 4, "kg": 33.0}, "frozen": {"crates": 0, "kg": 0.0}}),
     "load_mismatch", "L-FW1-01", "L-FW1-01.1", 0),
    ("load_after", lambda p: _stop(p, "L-FW1-02.1", 0)["load_after"]["ambient"].__setitem__("crates", 2),
     "load_mismatch", "L-FW1-02", "L-FW1-02.1", 0),
    ("load_at_departure", lambda p: _trip(p, "T-CW1-02.1")["load_at_departure"]["ambient"].__setitem__("crates", 9),
     "load_mismatch", "T-CW1-02", "T-CW1-02.1", None),
    ("more_units", lambda p: _stop(p, "L-FW1-02.1", 0)["products"].__setitem__("rice", 7),
     "demand_mismatch", None, None, None),
    ("unserved_units", lambda p: p["unserved"][0].__setitem__("units", 5), "demand_mismatch", None, None, None),
    ("trip_cost_total",
     lambda p: _trip(p, "L-FW1-01.1")["cost"].__setitem__("total", _trip(p, "L-FW1-01.1")["cost"]["total"] + 1),
     "cost_mismatch", "L-FW1-01", "L-FW1-01.1", None),
    ("trip_cost_time", lambda p: _trip(p, "T-CW1-01.1")["cost"].__setitem__("time", 0.0),
     "cost_mismatch", "T-CW1-01", "T-CW1-01.1", None),
    ("trip_distance_km",
     lambda p: _trip(p, "L-FW1-02.1").__setitem__("distance_km", _trip(p, "L-FW1-02.1")["distance_km"] + 0.5),
     "cost_mismatch", "L-FW1-02", "L-FW1-02.1", None),
    ("return_leg_km", lambda p: _trip(p, "L-FW1-02.1").__setitem__("return_leg_km", 0.0),
     "cost_mismatch", "L-FW1-02", "L-FW1-02.1", None),
    ("duty_cost_fixed", lambda p: _duty(p, "L-FW1-01")["cost"].__setitem__("fixed", 0.0),
     "cost_mismatch", "L-FW1-01", None, None),
    ("duty_cost_total",
     lambda p: _duty(p, "T-CW1-02")["cost"].__setitem__("total", _duty(p, "T-CW1-02")["cost"]["total"] + 1),
     "cost_mismatch", "T-CW1-02", None, None),
    ("duty_distance_km",
     lambda p: _duty(p, "L-FW1-02").__setitem__("distance_km", _duty(p, "L-FW1-02")["distance_km"] + 0.5),
     "cost_mismatch", "L-FW1-02", None, None),
    ("leg_km", lambda p: _stop(p, "L-FW2-01.1", 0).__setitem__("leg_km", 0.5),
     "cost_mismatch", "L-FW2-01", "L-FW2-01.1", 0),
    ("unknown_location", lambda p: _stop(p, "L-FW1-02.1", 0).__setitem__("location", "P99"),
     "unknown_reference", "L-FW1-02", "L-FW1-02.1", 0),
    ("warehouse_as_pickup", lambda p: _stop(p, "L-FW1-02.1", 0).__setitem__("location", "FW2"),
     "unknown_reference", "L-FW1-02", "L-FW1-02.1", 0),
    ("unknown_product", lambda p: _stop(p, "L-FW1-02.1", 0)["products"].__setitem__("caviar", 1),
     "unknown_reference", "L-FW1-02", "L-FW1-02.1", 0),
    ("unknown_vehicle_type", lambda p: _duty(p, "L-FW2-01").__setitem__("vehicle_type", "ufo"),
     "unknown_reference", "L-FW2-01", None, None),
    ("unknown_depot", lambda p: _duty(p, "L-FW2-01").__setitem__("depot", "FW9"),
     "unknown_reference", "L-FW2-01", None, None),
    ("unknown_zone", lambda p: _stop(p, "T-CW1-02.1", 1)["delivered"].__setitem__("tepid", {"crates": 1, "kg": 1.0}),
     "unknown_reference", "T-CW1-02", "T-CW1-02.1", 1),
    ("unserved_pickup", lambda p: p["unserved"][0].__setitem__("pickup_point", "P99"),
     "unknown_reference", None, None, None),
    ("unserved_reason", lambda p: p["unserved"][0].__setitem__("reason", "bad_luck"),
     "unknown_reference", None, None, None),
    ("assignment_pickup", lambda p: p["assignment"].__setitem__("P99", "FW1"), "unknown_reference", None, None, None),
    ("assignment_pinned", lambda p: p["assignment"].__setitem__("P4", "FW1"), "wrong_warehouse", None, None, None),
    ("negative_vehicle", lambda p: _duty(p, "L-FW1-01").__setitem__("vehicle", -1),
     "fleet_exceeded", "L-FW1-01", None, None),
    ("depot_not_home", lambda p: _duty(p, "L-FW1-02").__setitem__("depot", "FW2"),
     "wrong_depot", "L-FW1-02", None, None),
]


@pytest.mark.parametrize(("name", "edit", "cause", "did", "tid", "stop"), EDIT_CASES, ids=[c[0] for c in EDIT_CASES])
def test_edited_plan_is_reported(scenario, valid_plan, name, edit, cause, did, tid, stop):
    """Editing one reported figure or reference of a valid plan is caught with the matching cause,
    located at the edited duty, trip and stop."""
    plan = copy.deepcopy(valid_plan)
    edit(plan)
    vs = check_plan(scenario, plan)
    hits = of(vs, cause)
    assert hits, summarize(vs)
    if did is not None:
        assert any(_located(v, (did, tid, stop)) for v in hits), hits


def test_other_scenario_name_is_the_only_violation(scenario, valid_plan):
    """A plan naming another scenario is `wrong_scenario`, alone, even when it is broken in other ways too."""
    plan = copy.deepcopy(valid_plan)
    plan["scenario"] = "demo_city"
    _stop(plan, "L-FW1-01.1", 1)["arrival"] += 10
    vs = check_plan(scenario, plan)
    assert [v.cause for v in vs] == ["wrong_scenario"]


def test_small_differences_are_tolerated(scenario, valid_plan):
    """Reported times within 0.05 min, kg within 0.01 and costs within 0.01 RMB of the recomputation
    are accepted (plans round their figures)."""
    plan = copy.deepcopy(valid_plan)
    st = _stop(plan, "L-FW1-01.1", 1)
    st["arrival"] += 0.04
    st["delivered"]["chilled"]["kg"] += 0.009
    _trip(plan, "L-FW1-01.1")["cost"]["total"] += 0.009
    assert check_plan(scenario, plan) == []


KPI_EDITS = {
    "vehicles": 1, "trunk_vehicles": 1, "last_mile_vehicles": -1, "trips": 1, "trunk_trips": -1,
    "last_mile_trips": 1, "distance_km": 0.5, "duration_h": 0.1, "cost": 1.0, "orders_total": 1,
    "orders_served": -0.5, "orders_complete": -1, "orders_unserved": 0.5, "cost_per_order": 0.5,
    "units_total": 1, "units_served": -1, "units_unserved": 1, "fill_rate": -0.01, "stops": 1,
    "two_hour_compliance": -0.01, "cold_chain_compliance": -0.01, "delivery_cost_share_of_sales": 0.01,
}


@pytest.mark.parametrize("key", sorted(KPI_EDITS))
def test_wrong_kpi_is_reported(scenario, valid_plan, key):
    """Each KPI is recomputed from the duties and the scenario; a wrong value is a kpi_mismatch naming it."""
    plan = copy.deepcopy(valid_plan)
    plan["kpis"][key] += KPI_EDITS[key]
    vs = check_plan(scenario, plan)
    assert causes(vs) == {"kpi_mismatch"}, summarize(vs)
    assert f"kpis.{key} " in vs[0].message


def test_every_kpi_of_the_model_is_edited():
    """KPI_EDITS covers every KPI of the plan model except the cold-chain ones (tested below)."""
    from fulfil.plan_model import Kpis

    cold = {"in_spec_share", "expected_spoilage_cost", "spoiled_crates"}
    assert set(KPI_EDITS) == set(Kpis.model_fields) - cold


def test_missing_kpi_is_a_structural_error(scenario, valid_plan):
    """A KPI the plan leaves out is a structural problem, located by its field path."""
    plan = copy.deepcopy(valid_plan)
    del plan["kpis"]["cold_chain_compliance"]
    with pytest.raises(ScenarioError, match=r"kpis\.cold_chain_compliance: missing key"):
        check_plan(scenario, plan)


def test_kpi_cost_per_order_null_when_nothing_served(scenario, valid_plan):
    """cost_per_order must be null when no order is served (and a number is then a mismatch)."""
    plan = copy.deepcopy(valid_plan)
    assert plan["kpis"]["cost_per_order"] is not None
    plan["kpis"]["cost_per_order"] = None
    assert "kpi_mismatch" in causes(check_plan(scenario, plan))


# --------------------------------------------------------------------------- #
# the cold chain: the checker re-runs the thermal model on its own recomputed times
# --------------------------------------------------------------------------- #
def _with_model(s, celsius: float | None = None):
    upd = {"policies": s.policies.model_copy(update={"cold_chain_model": True})}
    if celsius is not None:
        upd["weather"] = s.weather.model_copy(update={"hourly_c": [celsius] * 24})
    return s.model_copy(update=upd)


def annotate(s, plan: dict) -> dict:
    """The plan with the planner's thermal annotations (``fulfil.stages.cold_chain``, trip by trip, on the
    builder's own times) and the cold KPIs summed from them."""
    import numpy as np

    from fulfil.night import compile_night
    from fulfil.stages.cold_chain import trip_cold_chain
    from fulfil.stages.timing import TimedStop, TimedTrip
    from fulfil.stages.types import LAST_MILE, TRUNK, RoutedTrip

    night = compile_night(s)
    net, travel = night.net, night.travel
    kidx = {k: i for i, k in enumerate(net.product_ids)}
    vidx = {v: i for i, v in enumerate(net.vehicles.ids)}
    plan = copy.deepcopy(plan)
    ok = total = cost = spoiled = 0.0
    for d in plan["duties"]:
        tier = LAST_MILE if d["tier"] == "last_mile" else TRUNK
        for t in d["trips"]:
            stops = []
            for st in t["stops"]:
                site = travel.index[st["location"]]
                crates = np.array([st["delivered"].get(z, {}).get("crates", 0) for z in ZONES], dtype=np.int64)
                kg = np.array([st["delivered"].get(z, {}).get("kg", 0.0) for z in ZONES])
                units = {kidx[k]: q for k, q in (st.get("products") or {}).items()}
                stops.append(TimedStop(site, 0, st["arrival"], st["start"], st["departure"], st["leg_km"], crates,
                                       kg, units))
            rt = RoutedTrip(tier, vidx[d["vehicle_type"]], d["vehicle"], travel.index[d["depot"]], t["departure"], [])
            tt = TimedTrip(rt, t["departure"], t["return"], t["distance_km"], t["return_leg_km"], stops)
            block, per_stop = trip_cold_chain(night, tt)
            if block is not None:
                t["thermal"] = block
            for st, cc in zip(t["stops"], per_stop, strict=True):
                if cc:
                    st["cold_chain"] = cc
                if tier != LAST_MILE:
                    continue
                for z, c in cc.items():
                    n = st["delivered"][z]["crates"]
                    total += n
                    ok += n if c["in_spec"] else 0
                    cost += c["spoilage_cost"]
                    spoiled += c["spoiled_crates"]
    plan["kpis"].update(in_spec_share=round(ok / total, 6) if total else 1.0,
                        expected_spoilage_cost=round(cost, 2), spoiled_crates=round(spoiled, 3))
    plan["scenario_digest"] = scenario_digest(s)
    return plan


@pytest.fixture(scope="module")
def cold(scenario, tm):
    s = _with_model(scenario)
    return s, annotate(s, build_plan(s, tm, two_trip_spec()))


def test_thermal_predictions_are_rechecked(cold):
    """With the thermal model on, the planner's hand-over predictions (reefer and insulated-box trips, two
    trips of one van) agree with the checker's own run of the physics: no violation."""
    s, plan = cold
    vs = check_plan(s, plan)
    assert vs == [], summarize(vs)
    kinds = {c["kind"] for d in plan["duties"] for t in d["trips"] for c in t.get("thermal", {}).get("compartments",
                                                                                                         {}).values()}
    assert kinds == {"reefer", "insulated_box"}
    assert "cold_chain" in _stop(plan, "L-FW1-02.2", 0)


@pytest.mark.parametrize(("key", "delta"), [("handover_c", -3.0), ("quality", -0.01), ("in_spec", None),
                                            ("spoilage_cost", 5.0)])
def test_edited_handover_is_a_cold_chain_mismatch(cold, key, delta):
    """An edited hand-over value is `cold_chain_mismatch` at its trip and stop."""
    s, plan = cold
    plan = copy.deepcopy(plan)
    cc = _stop(plan, "L-FW1-01.1", 1)["cold_chain"]["chilled"]
    cc[key] = (not cc[key]) if delta is None else cc[key] + delta
    vs = check_plan(s, plan)
    hits = of(vs, "cold_chain_mismatch")
    assert hits and any(_located(v, ("L-FW1-01", "L-FW1-01.1", 1)) for v in hits), summarize(vs)
    assert causes(vs) <= {"cold_chain_mismatch", "kpi_mismatch"}


def test_missing_trace_and_handover_are_mismatches(cold):
    """A cold trip without its temperature trace, or a hand-over without its prediction, is named."""
    s, plan = cold
    plan = copy.deepcopy(plan)
    del _trip(plan, "L-FW1-02.2")["thermal"]
    del _stop(plan, "L-FW2-01.1", 0)["cold_chain"]
    hits = of(check_plan(s, plan), "cold_chain_mismatch")
    assert {(v.trip, v.stop) for v in hits} == {("L-FW1-02.2", None), ("L-FW2-01.1", 0)}


def test_hot_day_puts_handovers_out_of_spec(scenario, tm, cold):
    """The plan made for a mild day, checked on a 40 °C day: every minutes-based rule still holds, but the
    checker's thermal model puts hand-overs out of spec (`out_of_spec`, at their trip and stop)."""
    _, plan = cold
    hot = _with_model(scenario, 40.0)
    vs = check_plan(hot, plan)
    c = causes(vs)
    assert "out_of_spec" in c and "wrong_scenario" in c
    assert not ({"promise_exceeded", "out_of_zone_limit", "late", "time_mismatch"} & c)
    first = of(vs, "out_of_spec")[0]
    assert first.trip is not None and first.stop is not None and "°C" in first.message
    # the same plan annotated for the hot day reports the same verdicts, with the cold KPIs lowered
    hot_plan = annotate(hot, build_plan(hot, tm, two_trip_spec()))
    assert hot_plan["kpis"]["in_spec_share"] < 1.0
    assert causes(check_plan(hot, hot_plan)) == {"out_of_spec"}


@pytest.mark.parametrize("key", ["in_spec_share", "expected_spoilage_cost", "spoiled_crates"])
def test_wrong_cold_kpi_is_reported(cold, key):
    s, plan = cold
    plan = copy.deepcopy(plan)
    plan["kpis"][key] = plan["kpis"][key] + 0.5 if key != "in_spec_share" else 0.5
    vs = check_plan(s, plan)
    assert causes(vs) == {"kpi_mismatch"} and key in vs[0].message, summarize(vs)


def test_every_cause_is_covered():
    """The tests above break every cause listed in docs/plan_format.md at least once."""
    doc = (ROOT / "docs" / "plan_format.md").read_text(encoding="utf-8")
    listed = doc.split("Violation causes reported by `fulfil check`")[1].split("\n\n")[0]
    documented = set(re.findall(r"`([a-z_]+)`", listed))
    named_above = {"trips_overlap", "reload_too_short", "wrong_scenario", "out_of_spec", "cold_chain_mismatch",
                   "kpi_mismatch"}
    tampered = "".join((ROOT / "tests" / "fulfil" / name).read_text(encoding="utf-8")
                       for name in ("test_checker_tamper.py", "test_partial_service.py"))  # idle_fleet there
    tested = set(TARGET.values()) | {c[2] for c in EDIT_CASES} | named_above | {
        c for c in CAUSES if f'"{c}"' in tampered}
    assert documented == set(CAUSES)
    assert set(CAUSES) <= tested
    # the causes named above are each asserted by a test function of this module
    sources = [inspect.getsource(f) for name, f in globals().items() if name.startswith("test_") and callable(f)
               and f is not test_every_cause_is_covered]
    assert all(any(f'"{c}"' in src for src in sources) for c in named_above), named_above


# --------------------------------------------------------------------------- #
# reading plan files, the summary
# --------------------------------------------------------------------------- #
@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ('{"format": "fulfil-plan", ', "malformed JSON"),
        ('{"format": "something-else", "format_version": 2}', "fulfil-plan"),
        ('{"format": "fulfil-plan", "format_version": 2, "scenario": "x", "unserved": [], "kpis": {}}',
         "duties: missing key"),
        ('{"format": "fulfil-plan", "format_version": 2, "scenario": "x", "unserved": [], "kpis": {}, '
         '"duties": [{"id": "D", "trips": [{"id": "D.1"}]}]}', "duties[0].trips[0].stops: missing key"),
        ('{"format": "fulfil-plan", "format_version": 1, "routes": []}', "re-plan"),
        ('[1, 2]', "JSON object"),
    ],
    ids=["malformed", "format_tag", "no_duties", "trip_keys", "version_1", "not_object"],
)
def test_load_plan_rejects_bad_files(tmp_path, text, needle):
    """load_plan raises a ScenarioError naming the file and what is wrong with it, by field path."""
    path = tmp_path / "broken_plan.json"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ScenarioError) as exc:
        load_plan(path)
    assert "broken_plan.json" in str(exc.value)
    assert needle in str(exc.value)


def test_check_plan_rejects_a_non_plan(scenario, valid_plan):
    """check_plan refuses a document that is not structurally a plan instead of crashing."""
    plan = copy.deepcopy(valid_plan)
    del _trip(plan, "L-FW1-01.1")["stops"][0]["arrival"]
    with pytest.raises(ScenarioError, match=r"duties\[2\]\.trips\[0\]\.stops\[0\]\.arrival: missing key"):
        check_plan(scenario, plan)


def test_check_plan_takes_the_model_or_the_document(scenario, valid_plan):
    assert check_plan(scenario, parse_plan(valid_plan)) == check_plan(scenario, valid_plan) == []


def test_summarize_is_a_table():
    """summarize lists each cause once with its count and the first example's message."""
    assert summarize([]) == "no violations"
    vs = [Violation("late", "trip A.1 stop 1 (P1): late", "A", "A.1", 0), Violation("late", "second", "B", "B.1", 1),
          Violation("oversold", "CW1 dumplings")]
    text = summarize(vs)
    lines = text.splitlines()
    assert lines[0].split()[:2] == ["cause", "count"]
    late = next(line for line in lines if line.startswith("late"))
    assert " 2 " in late and "trip A.1 stop 1" in late and "second" not in text
    assert any(line.startswith("oversold") for line in lines)
    assert "3 violations" in lines[-1]
    assert vs[0].route == "A.1" and vs[2].route is None
