"""The independent plan checker (``fulfil.checker``) against a hand-built plan.

``tests/data/checker/tiny.toml`` is a small Changsha scenario.  ``build_plan`` below
writes a plan document for it from a compact *spec* (routes as stop sequences with
the products handed over), timing every leg with :class:`fulfil.travel.TravelModel`
exactly as docs/plan_format.md prescribes — the test builds, the checker verifies.
The valid spec must pass with zero violations; every other test breaks one rule,
either by building from a modified spec (times and KPIs stay self-consistent, so the
exact set of causes can be asserted) or by editing the built document.
"""

from __future__ import annotations

import ast
import copy
import json
import math
import re
from collections import defaultdict
from pathlib import Path

import pytest

from fulfil.checker import CAUSES, Violation, check_plan, load_plan, summarize
from fulfil.errors import ScenarioError
from fulfil.scenario.load import load_scenario
from fulfil.travel import TravelModel

DATA = Path(__file__).resolve().parents[1] / "data" / "checker"
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
    """Routes of a valid plan for tiny.toml; P4's dumplings are short of stock."""
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


def route(spec: dict, rid: str) -> dict:
    return next(r for r in spec["trunk"] + spec["last_mile"] if r["id"] == rid)


def _r(x: float, nd: int = 2) -> float:
    return float(round(x, nd))


def _hhmm(m: float) -> str:
    m = int(round(m))
    return f"{m // 60:02d}:{m % 60:02d}"


def build_plan(s, tm: TravelModel, spec: dict) -> dict:
    pol = s.policies
    prods = {p.id: p for p in s.products}
    pps = {p.id: p for p in s.pickup_points}
    vts = {v.id: v for v in s.vehicle_types}

    # what each forward warehouse sends out: (fw, zone) → crates, kg
    out_c: dict[tuple[str, str], int] = defaultdict(int)
    out_kg: dict[tuple[str, str], float] = defaultdict(float)
    lm_stops = []
    for r in spec["last_mile"]:
        stops = []
        for loc, units in r["stops"]:
            c = {z: math.ceil(sum(q / prods[k].units_per_crate for k, q in units.items() if prods[k].zone == z))
                 for z in ZONES}
            kg = {z: sum(q * prods[k].kg_per_unit for k, q in units.items() if prods[k].zone == z) for z in ZONES}
            c = {z: n for z, n in c.items() if n > 0}
            kg = {z: kg[z] for z in c}
            for z in c:
                out_c[(r["depot"], z)] += c[z]
                out_kg[(r["depot"], z)] += kg[z]
            stops.append((loc, units, c, kg))
        lm_stops.append(stops)
    for key, extra in spec["trunk_adjust"].items():
        out_c[key] += extra

    def timed(r, stops, tier):
        vt = vts[r["vt"]]
        t, prev = r["departure"], r["depot"]
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
            elapsed = arrival - r["departure"]
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
        dur = (ret - r["departure"]) / 60.0
        fixed, dist, time = vt.fixed_cost, vt.cost_per_km * total_km, vt.cost_per_hour * dur
        return {
            "id": r["id"], "tier": tier, "vehicle_type": vt.id, "vehicle": r["vehicle"], "depot": r["depot"],
            "departure": _r(r["departure"]), "return": _r(ret),
            "distance_km": _r(total_km, 3), "duration_h": _r(dur, 4),
            "cost": {"fixed": _r(fixed), "distance": _r(dist), "time": _r(time), "total": _r(fixed + dist + time)},
            "load_at_departure": {z: {"crates": load_c[z], "kg": _r(load_kg[z], 3)} for z in load_c},
            "stops": docs,
        }, raw, vt

    routes = []
    for r in spec["trunk"]:
        stops = []
        for fw in r["stops"]:
            c = {z: out_c[(fw, z)] for z in r["zones"] if out_c[(fw, z)] > 0}
            stops.append((fw, {}, c, {z: out_kg[(fw, z)] for z in c}))
        routes.append(timed(r, stops, "trunk"))
    for r, stops in zip(spec["last_mile"], lm_stops):
        routes.append(timed(r, stops, "last_mile"))

    # KPIs
    delivered = defaultdict(int)
    on_time = n_stops = ok_crates = n_crates = 0
    sales = 0.0
    for doc, raw, vt in routes:
        if doc["tier"] != "last_mile":
            continue
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
    served = sum(d.orders for d in s.demand if all(delivered[(d.pickup_point, k)] == q for k, q in d.items.items()))
    docs = [d for d, _, _ in routes]
    cost = sum(d["cost"]["total"] for d in docs)
    kpis = {
        "vehicles": len(docs),
        "trunk_vehicles": sum(d["tier"] == "trunk" for d in docs),
        "last_mile_vehicles": sum(d["tier"] == "last_mile" for d in docs),
        "distance_km": _r(sum(d["distance_km"] for d in docs), 3),
        "duration_h": _r(sum(d["duration_h"] for d in docs), 4),
        "cost": _r(cost),
        "orders_total": orders_total,
        "orders_served": served,
        "orders_unserved": orders_total - served,
        "cost_per_order": _r(cost / served, 4) if served else None,
        "units_unserved": sum(u[2] for u in spec["unserved"]),
        "two_hour_compliance": _r(on_time / n_stops, 6) if n_stops else 1.0,
        "cold_chain_compliance": _r(ok_crates / n_crates, 6) if n_crates else 1.0,
        "delivery_cost_share_of_sales": _r(cost / sales, 6) if sales else None,
    }
    assignment = {}
    for d in docs:
        if d["tier"] == "last_mile":
            for st in d["stops"]:
                assignment.setdefault(st["location"], d["depot"])
    return {
        "format": "fulfil-plan", "format_version": 1, "code": 0, "scenario": s.name, "seed": 0,
        "params": {"time_limit_s": 1.0}, "kpis": kpis, "routes": docs,
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


# --------------------------------------------------------------------------- #
# the valid plan
# --------------------------------------------------------------------------- #
def test_valid_plan_has_no_violations(scenario, valid_plan):
    """A plan obeying every rule (built from the scenario alone) yields no violation at all."""
    vs = check_plan(scenario, valid_plan)
    assert vs == [], summarize(vs)


def test_valid_plan_round_trips_through_a_file(scenario, valid_plan, tmp_path):
    """A valid plan written as JSON and read back with load_plan still has no violation."""
    path = tmp_path / "plan.json"
    path.write_text(json.dumps(valid_plan), encoding="utf-8")
    assert check_plan(scenario, load_plan(path)) == []


def test_valid_plan_is_not_trivial(valid_plan):
    """The valid plan really exercises the rules: it waits at a window, uses insulated boxes and a locker,
    and leaves something unserved."""
    van = next(r for r in valid_plan["routes"] if r["id"] == "L-FW1-02")
    assert van["stops"][1]["start"] > van["stops"][1]["arrival"]  # P2 opens at 09:00
    assert van["stops"][1]["minutes_out_of_zone"]["chilled"] > 0  # milk in insulated boxes
    assert valid_plan["kpis"]["orders_served"] < valid_plan["kpis"]["orders_total"]
    assert all(r["stops"] for r in valid_plan["routes"])


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
    # (mutation, expected causes, (route, stop) the first violation of the target cause names)
    (_late_last_mile, {"late"}, ("L-FW1-01", 0)),
    (_late_trunk, {"late", "trunk_late"}, ("T-CW1-02", 0)),
    (_promise, {"promise_exceeded"}, ("L-FW1-01", 2)),
    (_out_of_zone, {"out_of_zone_limit"}, ("L-FW1-02", 1)),
    (_over_capacity, {"over_capacity"}, ("L-FW1-01", None)),
    (_wrong_zone, {"wrong_temperature_zone"}, ("L-FW1-02", 0)),
    (_shift_open, {"shift_exceeded", "early_departure"}, ("L-FW1-01", None)),
    (_early_departure, {"early_departure"}, ("T-CW1-01", None)),
    (_shift_close, {"shift_exceeded"}, ("L-FW1-02", None)),
    (_no_unserved, {"demand_mismatch"}, (None, None)),
    (_oversold, {"oversold"}, (None, None)),
    (_locker_cells, {"locker_cells_exceeded"}, ("L-FW1-01", 1)),
    (_warehouse_capacity, {"warehouse_capacity"}, (None, None)),
    (_pinned, {"wrong_warehouse"}, ("L-FW1-03", None)),
    (_two_warehouses, {"wrong_warehouse"}, (None, None)),
    (_reused, {"vehicle_reused"}, ("L-FW1-02", None)),
    (_fleet, {"fleet_exceeded"}, ("L-FW1-02", None)),
    (_foreign_type, {"wrong_depot"}, ("L-FW2-01", None)),
    (_trunk_with_last_mile_type, {"wrong_depot", "shift_exceeded"}, ("T-CW1-01", None)),
    (_shortfall, {"trunk_shortfall"}, (None, None)),
    (_trunk_late, {"trunk_late"}, ("L-FW1-01", None)),
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


@pytest.mark.parametrize(("mutate", "expected", "where"), SPEC_CASES, ids=[c[0].__name__.strip("_") for c in SPEC_CASES])
def test_broken_rule_is_reported(scenario, tm, mutate, expected, where):
    """A consistently built plan that breaks one rule is reported with exactly that rule's cause
    (plus the causes that rule necessarily entails), located at the offending route and stop;
    its KPIs, computed by the builder, agree with the checker's recomputation."""
    spec = valid_spec()
    mutate(spec)
    vs = check_plan(scenario, build_plan(scenario, tm, spec))
    assert causes(vs) == expected, summarize(vs)
    first = of(vs, TARGET[mutate])[0]
    rid, stop = where
    if rid is not None:
        assert first.route == rid and first.stop == stop, first
        assert rid in first.message
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
# rules broken by editing the document
# --------------------------------------------------------------------------- #
def _stop(plan, rid, j):
    return next(r for r in plan["routes"] if r["id"] == rid)["stops"][j]


def _route(plan, rid):
    return next(r for r in plan["routes"] if r["id"] == rid)


EDIT_CASES = [
    # (name, edit, cause, route, stop)
    ("arrival", lambda p: _stop(p, "L-FW1-01", 1).__setitem__("arrival", _stop(p, "L-FW1-01", 1)["arrival"] + 1),
     "time_mismatch", "L-FW1-01", 1),
    ("start", lambda p: _stop(p, "L-FW1-02", 1).__setitem__("start", _stop(p, "L-FW1-02", 1)["start"] - 0.2),
     "time_mismatch", "L-FW1-02", 1),
    ("stop_departure", lambda p: _stop(p, "T-CW1-01", 0).__setitem__("departure", 200.0),
     "time_mismatch", "T-CW1-01", 0),
    ("return", lambda p: _route(p, "L-FW2-01").__setitem__("return", _route(p, "L-FW2-01")["return"] + 3),
     "time_mismatch", "L-FW2-01", None),
    ("minutes_since_cold_room", lambda p: _stop(p, "L-FW1-01", 0).__setitem__("minutes_since_cold_room", 0.0),
     "time_mismatch", "L-FW1-01", 0),
    ("minutes_out_of_zone", lambda p: _stop(p, "L-FW1-02", 1)["minutes_out_of_zone"].__setitem__("chilled", 0.0),
     "time_mismatch", "L-FW1-02", 1),
    ("delivered_kg", lambda p: _stop(p, "L-FW1-01", 0)["delivered"]["ambient"].__setitem__("kg", 30.0),
     "load_mismatch", "L-FW1-01", 0),
    ("delivered_crates", lambda p: _stop(p, "L-FW1-01", 1)["delivered"]["chilled"].__setitem__("crates", 1),
     "load_mismatch", "L-FW1-01", 1),
    ("zone_swapped", lambda p: _stop(p, "L-FW1-01", 0)["delivered"].update(
        {"chilled": {"crates": 4, "kg": 33.0}, "frozen": {"crates": 0, "kg": 0.0}}),
     "load_mismatch", "L-FW1-01", 0),
    ("load_after", lambda p: _stop(p, "L-FW1-02", 0)["load_after"]["ambient"].__setitem__("crates", 2),
     "load_mismatch", "L-FW1-02", 0),
    ("load_at_departure", lambda p: _route(p, "T-CW1-02")["load_at_departure"]["ambient"].__setitem__("crates", 9),
     "load_mismatch", "T-CW1-02", None),
    ("more_units", lambda p: _stop(p, "L-FW1-02", 0)["products"].__setitem__("rice", 7),
     "demand_mismatch", None, None),
    ("unserved_units", lambda p: p["unserved"][0].__setitem__("units", 5), "demand_mismatch", None, None),
    ("cost_total", lambda p: _route(p, "L-FW1-01")["cost"].__setitem__("total", _route(p, "L-FW1-01")["cost"]["total"] + 1),
     "cost_mismatch", "L-FW1-01", None),
    ("cost_time", lambda p: _route(p, "T-CW1-01")["cost"].__setitem__("time", 0.0), "cost_mismatch", "T-CW1-01", None),
    ("distance_km", lambda p: _route(p, "L-FW1-02").__setitem__("distance_km", _route(p, "L-FW1-02")["distance_km"] + 0.5),
     "cost_mismatch", "L-FW1-02", None),
    ("leg_km", lambda p: _stop(p, "L-FW2-01", 0).__setitem__("leg_km", 0.5), "cost_mismatch", "L-FW2-01", 0),
    ("unknown_location", lambda p: _stop(p, "L-FW1-02", 0).__setitem__("location", "P99"),
     "unknown_reference", "L-FW1-02", 0),
    ("warehouse_as_pickup", lambda p: _stop(p, "L-FW1-02", 0).__setitem__("location", "FW2"),
     "unknown_reference", "L-FW1-02", 0),
    ("unknown_product", lambda p: _stop(p, "L-FW1-02", 0)["products"].__setitem__("caviar", 1),
     "unknown_reference", "L-FW1-02", 0),
    ("unknown_vehicle_type", lambda p: _route(p, "L-FW2-01").__setitem__("vehicle_type", "ufo"),
     "unknown_reference", "L-FW2-01", None),
    ("unknown_depot", lambda p: _route(p, "L-FW2-01").__setitem__("depot", "FW9"), "unknown_reference", "L-FW2-01", None),
    ("unknown_zone", lambda p: _stop(p, "T-CW1-02", 1)["delivered"].__setitem__("tepid", {"crates": 1, "kg": 1.0}),
     "unknown_reference", "T-CW1-02", 1),
    ("unserved_pickup", lambda p: p["unserved"][0].__setitem__("pickup_point", "P99"), "unknown_reference", None, None),
    ("unserved_reason", lambda p: p["unserved"][0].__setitem__("reason", "bad_luck"), "unknown_reference", None, None),
    ("assignment_pickup", lambda p: p["assignment"].__setitem__("P99", "FW1"), "unknown_reference", None, None),
    ("other_scenario", lambda p: p.__setitem__("scenario", "demo_city"), "unknown_reference", None, None),
    ("assignment_pinned", lambda p: p["assignment"].__setitem__("P4", "FW1"), "wrong_warehouse", None, None),
    ("negative_vehicle", lambda p: _route(p, "L-FW1-01").__setitem__("vehicle", -1), "fleet_exceeded", "L-FW1-01", None),
    ("depot_not_home", lambda p: _route(p, "L-FW1-02").__setitem__("depot", "FW2"), "wrong_depot", "L-FW1-02", None),
]


@pytest.mark.parametrize(("name", "edit", "cause", "rid", "stop"), EDIT_CASES, ids=[c[0] for c in EDIT_CASES])
def test_edited_plan_is_reported(scenario, valid_plan, name, edit, cause, rid, stop):
    """Editing one reported figure or reference of a valid plan is caught with the matching cause,
    located at the edited route and stop."""
    plan = copy.deepcopy(valid_plan)
    edit(plan)
    vs = check_plan(scenario, plan)
    hits = of(vs, cause)
    assert hits, summarize(vs)
    if rid is not None:
        assert any(v.route == rid and v.stop == stop and rid in v.message for v in hits), hits


def test_small_differences_are_tolerated(scenario, valid_plan):
    """Reported times within 0.05 min, kg within 0.01 and costs within 0.01 RMB of the recomputation
    are accepted (plans round their figures)."""
    plan = copy.deepcopy(valid_plan)
    st = _stop(plan, "L-FW1-01", 1)
    st["arrival"] += 0.04
    st["delivered"]["chilled"]["kg"] += 0.009
    _route(plan, "L-FW1-01")["cost"]["total"] += 0.009
    assert check_plan(scenario, plan) == []


KPI_EDITS = {
    "vehicles": 1, "trunk_vehicles": 1, "last_mile_vehicles": -1, "distance_km": 0.5, "duration_h": 0.1,
    "cost": 1.0, "orders_total": 1, "orders_served": -1, "orders_unserved": 1, "cost_per_order": 0.5,
    "units_unserved": 1, "two_hour_compliance": -0.01, "cold_chain_compliance": -0.01,
    "delivery_cost_share_of_sales": 0.01,
}


@pytest.mark.parametrize("key", sorted(KPI_EDITS))
def test_wrong_kpi_is_reported(scenario, valid_plan, key):
    """Each KPI is recomputed from the routes and the scenario; a wrong value is a kpi_mismatch naming it."""
    plan = copy.deepcopy(valid_plan)
    plan["kpis"][key] += KPI_EDITS[key]
    vs = check_plan(scenario, plan)
    assert causes(vs) == {"kpi_mismatch"}, summarize(vs)
    assert key in vs[0].message


def test_missing_kpi_is_reported(scenario, valid_plan):
    """A KPI listed in docs/plan_format.md that the plan leaves out is a kpi_mismatch."""
    plan = copy.deepcopy(valid_plan)
    del plan["kpis"]["cold_chain_compliance"]
    assert "cold_chain_compliance" in of(check_plan(scenario, plan), "kpi_mismatch")[0].message


def test_kpi_cost_per_order_null_when_nothing_served(scenario, valid_plan):
    """cost_per_order must be null when no order is served (and a number is then a mismatch)."""
    plan = copy.deepcopy(valid_plan)
    assert plan["kpis"]["cost_per_order"] is not None
    plan["kpis"]["cost_per_order"] = None
    assert "kpi_mismatch" in causes(check_plan(scenario, plan))


def test_every_cause_is_covered():
    """The tests above break every cause listed in docs/plan_format.md at least once."""
    doc = (Path(__file__).resolve().parents[2] / "docs" / "plan_format.md").read_text(encoding="utf-8")
    listed = doc.split("Violation causes reported by `fulfil check`")[1].split("\n\n")[0]
    documented = set(re.findall(r"`([a-z_]+)`", listed))
    covered_elsewhere = {"out_of_spec", "cold_chain_mismatch"}  # tests/fulfil/test_coldchain.py
    tested = set(TARGET.values()) | {c[2] for c in EDIT_CASES} | {"kpi_mismatch"} | covered_elsewhere
    assert documented == set(CAUSES)
    assert set(CAUSES) <= tested


# --------------------------------------------------------------------------- #
# reading plan files, the summary, independence
# --------------------------------------------------------------------------- #
@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ('{"format": "fulfil-plan", ', "malformed JSON"),
        ('{"format": "something-else", "format_version": 1, "routes": [], "unserved": [], "kpis": {}}', "fulfil-plan"),
        ('{"format": "fulfil-plan", "format_version": 1, "unserved": [], "kpis": {}}', "routes"),
        ('{"format": "fulfil-plan", "format_version": 1, "routes": [{"id": "R1"}], "unserved": [], "kpis": {}}',
         "missing key 'stops'"),
        ('[1, 2]', "JSON object"),
    ],
    ids=["malformed", "format_tag", "no_routes", "route_keys", "not_object"],
)
def test_load_plan_rejects_bad_files(tmp_path, text, needle):
    """load_plan raises a ScenarioError naming the file and what is wrong with it."""
    path = tmp_path / "broken_plan.json"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ScenarioError) as exc:
        load_plan(path)
    assert "broken_plan.json" in str(exc.value)
    assert needle in str(exc.value)


def test_check_plan_rejects_a_non_plan(scenario):
    """check_plan refuses a document that is not structurally a plan instead of crashing."""
    with pytest.raises(ScenarioError, match="stops"):
        check_plan(scenario, {"format": "fulfil-plan", "format_version": 1, "routes": [{"id": "x"}],
                              "unserved": [], "kpis": {}})


def test_summarize_is_a_table(scenario, tm):
    """summarize lists each cause once with its count and the first example's message."""
    assert summarize([]) == "no violations"
    vs = [Violation("late", "route A stop 1 (P1): late", "A", 0), Violation("late", "second", "B", 1),
          Violation("oversold", "CW1 dumplings", None, None)]
    text = summarize(vs)
    lines = text.splitlines()
    assert lines[0].split()[:2] == ["cause", "count"]
    late = next(line for line in lines if line.startswith("late"))
    assert " 2 " in late and "route A stop 1" in late and "second" not in text
    assert any(line.startswith("oversold") for line in lines)
    assert "3 violations" in lines[-1]


def test_checker_is_independent_of_the_planner():
    """fulfil.checker imports nothing from solvers/ or the planning pipeline."""
    src = (Path(__file__).resolve().parents[2] / "fulfil" / "checker.py").read_text(encoding="utf-8")
    mods = set()
    for node in ast.walk(ast.parse(src)):
        if isinstance(node, ast.Import):
            mods |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            mods.add(node.module or "")
    banned = ("solvers", "fulfil.pipeline", "fulfil.plan", "fulfil.network", "fulfil.feasibility")
    assert not [m for m in mods if m.startswith(banned)], mods
