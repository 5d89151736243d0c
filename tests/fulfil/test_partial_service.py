"""Partial service (issue 10, item 4): split visits, a priority when goods run short, and no plan that
serves nothing while a vehicle that could serve someone stands idle.

The small-trunk city is the issue's case: a generated 100-pickup city whose trunk compartments hold a
tenth of the default, so no forward warehouse gets all of any zone.  Today's trunk stage drops every
last-mile job of a zone a warehouse lacks in part (0 orders served); with the trunk's goods rationed to
the last mile by priority (:func:`fulfil.stages.jobs.ration_to_supply`, wired here as the trunk stage is
to call it) the plan serves what arrived, and the checker passes it.
"""

from __future__ import annotations

import copy
from pathlib import Path

import numpy as np
import pytest

from fulfil.checker import check_plan
from fulfil.generate import GenerateConfig, write_scenario
from fulfil.night import compile_night
from fulfil.pipeline import PlanParams, plan_night
from fulfil.scenario import load_scenario
from fulfil.stages.allocate import allocate
from fulfil.stages.jobs import (
    crates_kg,
    last_mile_jobs,
    priority_per_crate,
    ration_to_supply,
    vehicle_fits,
)
from fulfil.stages.types import LAST_MILE, RoutedTrip

ROOT = Path(__file__).resolve().parents[2]
BUDGET = PlanParams(time_limit_s=None, solution_limit=30, seed=1, workers=1)
SHRINK = {  # the generator's trunk compartments → a tenth
    '{zone = "frozen", crates = 400, kg = 5000.0}, {zone = "chilled", crates = 700, kg = 7000.0}':
        '{zone = "frozen", crates = 40, kg = 500.0}, {zone = "chilled", crates = 70, kg = 700.0}',
    '{zone = "ambient", crates = 1100, kg = 12000.0}': '{zone = "ambient", crates = 110, kg = 1200.0}',
}


@pytest.fixture(scope="module")
def small_trunks(tmp_path_factory):
    """The generated 100-pickup city with trunk compartments a tenth of the default."""
    out = tmp_path_factory.mktemp("small_trunks")
    path = write_scenario(GenerateConfig(name="small_trunks", pickup_points=100, forward_warehouses=3, orders=5000),
                          out)
    text = path.read_text(encoding="utf-8")
    for old, new in SHRINK.items():
        assert old in text
        text = text.replace(old, new)
    path.write_text(text, encoding="utf-8")
    return load_scenario(path)


def _why(f: int, z: int) -> tuple[str, str]:
    return "trunk_dropped", "the trunk fleet brought only part of this zone's goods; rationed by priority"


def test_small_trunks_serve_what_arrives_and_the_checker_passes(small_trunks):
    """Every forward warehouse is short of every zone, yet the plan serves orders (0 before) and is clean."""
    plan = plan_night(small_trunks, BUDGET)
    assert plan.kpis.orders_served > 0
    assert plan.kpis.units_unserved > 0  # the trunks really are too small for the night
    assert check_plan(small_trunks, plan) == []
    reasons = {u.reason for u in plan.unserved}
    assert "trunk_dropped" in reasons


def test_ration_keeps_within_supply_by_priority(small_trunks):
    """Each forward warehouse's trips cut to 30 % of their crates per zone: never more crates than supplied
    (counted per stop and zone as the checker does), every unit kept or reported, and in each short zone
    the most valuable product keeps at least the share of the least valuable."""
    night = compile_night(small_trunks)
    net = night.net
    a = allocate(night)
    jobs, _ = last_mile_jobs(night, a.assign, a.units)
    trips = [RoutedTrip(LAST_MILE, 0, i, night.travel.forward_index(f), 420.0, [j])
             for f, js in jobs.items() for i, j in enumerate(js)]
    need = np.zeros((net.n_forward, 3), dtype=np.int64)
    for rt in trips:
        need[rt.depot - night.travel.n_central] += rt.jobs[0].crates
    supply = (need * 3) // 10
    kept, lines = ration_to_supply(night, trips, supply, _why)
    got = np.zeros_like(need)
    units = np.zeros_like(net.demand)
    for rt in kept:
        for j in rt.jobs:
            c, kg = crates_kg(j.units, net)
            assert (c == j.crates).all() and np.allclose(kg, j.kg)
            got[rt.depot - night.travel.n_central] += j.crates
            for k, q in j.units.items():
                units[j.owner, k] += q
    assert (got <= supply).all() and got.sum() > 0
    for u in lines:
        units[u.pickup, u.product] += u.units
    assert (units == a.units).all()
    weight = priority_per_crate(net)
    for z in range(3):
        prods = [k for k in range(len(net.product_ids)) if net.product_zone[k] == z and a.units[:, k].sum() > 0]
        if len(prods) < 2:
            continue
        share = {k: (a.units[:, k].sum() - sum(u.units for u in lines if u.product == k)) / a.units[:, k].sum()
                 for k in prods}
        top, low = max(prods, key=lambda k: weight[k]), min(prods, key=lambda k: weight[k])
        assert share[top] >= share[low]


def test_ration_returns_trips_untouched_when_supply_suffices(small_trunks):
    night = compile_night(small_trunks)
    a = allocate(night)
    jobs, _ = last_mile_jobs(night, a.assign, a.units)
    trips = [RoutedTrip(LAST_MILE, 0, 0, night.travel.forward_index(0), 420.0, jobs[0][:5])]
    need = sum(j.crates for j in jobs[0][:5])
    supply = np.zeros((night.net.n_forward, 3), dtype=np.int64)
    supply[0] = need
    kept, lines = ration_to_supply(night, trips, supply, _why)
    assert lines == [] and kept[0] is trips[0]


def test_priority_ranks_perishability_then_value(small_trunks):
    net = compile_night(small_trunks).net
    w = priority_per_crate(net)
    zone = np.asarray(net.product_zone)
    assert (w >= 1).all()
    assert w[zone == 1].min() >= w[zone == 0].max() - 1e-9  # chilled before frozen
    assert w[zone == 0].min() >= w[zone == 2].max() - 1e-9  # frozen before ambient


def test_a_zone_larger_than_any_vehicle_is_split_by_quantity(small_trunks):
    """One pickup point orders five times a reefer's frozen compartment: its frozen goods become several
    visits each one vehicle carries, none unserved."""
    doc = small_trunks.model_dump()
    pp = doc["demand"][0]
    frozen = [p["id"] for p in doc["products"] if p["zone"] == "frozen"]
    per = {p["id"]: p["units_per_crate"] for p in doc["products"]}
    pp["items"] = {**pp["items"], frozen[0]: int(300 * per[frozen[0]])}
    for fw in doc["forward_warehouses"]:  # room at the warehouse, so the point is assigned
        fw["capacity"]["frozen"] += 400
    s = type(small_trunks).model_validate(doc)
    night = compile_night(s)
    net = night.net
    p = net.pickup_ids.index(pp["pickup_point"])
    a = allocate(night)
    assert a.assign[p] >= 0
    jobs, unserved = last_mile_jobs(night, a.assign, a.units)
    mine = [j for j in jobs[int(a.assign[p])] if j.owner == p]
    k = net.product_ids.index(frozen[0])
    assert sum(j.units.get(k, 0) for j in mine) == a.units[p, k]
    assert not [u for u in unserved if u.pickup == p]
    v = net.vehicles
    types = [t for t in range(len(v.ids)) if v.tier[t] == LAST_MILE
             and int(v.home[t]) == night.travel.forward_index(int(a.assign[p]))]
    assert len([j for j in mine if 0 in j.zones]) >= 5
    for j in mine:
        assert any(vehicle_fits(net, t, j.zones, j.crates, j.kg) for t in types)


# --------------------------------------------------------------------------- the checker's idle_fleet rule
@pytest.fixture(scope="module")
def sized():
    s = load_scenario(ROOT / "scenarios" / "sizes" / "size_0100.toml")
    return s, plan_night(s, PlanParams(time_limit_s=None, solution_limit=20, seed=0, workers=1)).to_doc()


def _nothing_served(doc: dict, keep_trunk: bool = True) -> dict:
    """``doc`` with every last-mile duty taken off and what it delivered reported as routing_dropped."""
    p = copy.deepcopy(doc)
    lines = {}
    for d in p["duties"]:
        if d["tier"] == "last_mile":
            for t in d["trips"]:
                for st in t["stops"]:
                    for prod, q in st["products"].items():
                        lines[(st["location"], prod)] = lines.get((st["location"], prod), 0) + q
    p["duties"] = [d for d in p["duties"] if d["tier"] == "trunk" and keep_trunk]
    p["unserved"] += [{"pickup_point": pp, "product": prod, "units": q, "reason": "routing_dropped", "detail": "x"}
                      for (pp, prod), q in sorted(lines.items())]
    p["assignment"] = {}
    p["check"] = None
    return p


def test_a_real_plan_is_not_idle(sized):
    s, doc = sized
    assert "idle_fleet" not in {v.cause for v in check_plan(s, doc)}


def test_serving_nothing_with_goods_in_and_vans_idle_is_idle_fleet(sized):
    s, doc = sized
    vs = [v for v in check_plan(s, _nothing_served(doc)) if v.cause == "idle_fleet"]
    assert len(vs) == 1 and "stands idle" in vs[0].message


def test_serving_nothing_when_no_trunk_brought_goods_is_not_idle_fleet(sized):
    """Without goods at the forward warehouses an idle van could hand nothing over."""
    s, doc = sized
    assert "idle_fleet" not in {v.cause for v in check_plan(s, _nothing_served(doc, keep_trunk=False))}
