"""Cold chain: temperatures per stop in the plan, the thermal guarantee, and the checker's thermal causes."""

from __future__ import annotations

import copy
from collections import Counter
from pathlib import Path

import pytest

from fulfil.checker import check_plan
from fulfil.pipeline import PlanParams, plan_night
from fulfil.plan_model import trip_rows
from fulfil.scenario import load_scenario

SCENARIOS = Path(__file__).resolve().parents[2] / "scenarios"


def _doc(plan) -> dict:
    return plan.to_doc() if hasattr(plan, "to_doc") else plan


def _hot(scenario, celsius):
    return scenario.model_copy(update={"weather": scenario.weather.model_copy(update={"hourly_c": [celsius] * 24})})


@pytest.fixture(scope="module")
def small_plan(small_city):
    s = load_scenario(small_city)
    return s, plan_night(s, PlanParams(time_limit_s=None, solution_limit=40, seed=0, workers=1))


def test_demo_reports_temperature_per_stop_and_all_in_spec(demo_plan):
    """Every chilled/frozen hand-over of the demo carries a predicted temperature, all in spec (100 %),
    frozen at or below -15 °C and chilled at or below 7 °C, and each cold route has a trace."""
    s, plan = demo_plan
    doc = _doc(plan)
    assert doc["kpis"]["in_spec_share"] == 1.0
    n = 0
    for r in trip_rows(doc):
        cold = [z for z in ("frozen", "chilled") if z in r["load_at_departure"]]
        if cold:
            assert set(cold) <= set(r["thermal"]["compartments"])
        for st in r["stops"]:
            for z in ("frozen", "chilled"):
                if z in st["delivered"]:
                    cc = st["cold_chain"][z]
                    n += 1
                    assert cc["in_spec"]
                    assert cc["handover_c"] <= (-15.0 if z == "frozen" else 7.0)
    assert n > 400


def test_hot_day_route_passes_minutes_proxy_but_thermal_model_rejects_it(small_plan):
    """A plan made for a mild night, driven on a 40 °C day: every minutes-based rule (promise, minutes out of
    zone, windows) still holds, but the thermal model puts some hand-overs out of range and the checker names
    them `out_of_spec` at their route and stop."""
    s, plan = small_plan
    assert check_plan(s, plan) == []
    v = check_plan(_hot(s, 40.0), plan)
    causes = Counter(x.cause for x in v)
    assert causes["out_of_spec"] >= 1
    assert not ({"promise_exceeded", "out_of_zone_limit", "late", "time_mismatch"} & set(causes))
    first = next(x for x in v if x.cause == "out_of_spec")
    assert first.route is not None and first.stop is not None and "°C" in first.message


def test_planning_on_the_hot_day_keeps_every_handover_in_spec(small_city):
    """Planned for the 40 °C day itself, the optimiser derives tighter limits from the model and repairs what
    the model rejects: the checker finds no violation, and anything left out is unserved with a reason."""
    s = _hot(load_scenario(small_city), 40.0)
    plan = plan_night(s, PlanParams(time_limit_s=None, solution_limit=40, seed=0, workers=1))
    assert check_plan(s, plan) == []
    assert plan.kpis.in_spec_share == 1.0
    assert {u.reason for u in plan.unserved} <= {"thermal_limit", "routing_dropped"}


def test_reported_temperature_is_rechecked(small_plan):
    """A plan whose reported hand-over temperature was edited is caught as `cold_chain_mismatch`."""
    s, plan = small_plan
    bad = copy.deepcopy(_doc(plan))
    st = next(st for d in bad["duties"] if d["tier"] == "last_mile" for t in d["trips"] for st in t["stops"]
              if "cold_chain" in st)
    zone = next(iter(st["cold_chain"]))
    st["cold_chain"][zone]["handover_c"] -= 3.0
    assert "cold_chain_mismatch" in {v.cause for v in check_plan(s, bad)}


def test_summer_demo_is_in_spec_or_unserved_with_reason():
    """The 35 °C summer variant of the demo city: every hand-over the plan ships is in spec per the checker;
    demand it cannot protect comes back unserved with a reason."""
    s = load_scenario(SCENARIOS / "demo_city_summer.toml")
    plan = plan_night(s, PlanParams(time_limit_s=6.0, seed=0))
    assert check_plan(s, plan) == []
    assert plan.kpis.in_spec_share == 1.0
    assert {u.reason for u in plan.unserved} <= {"thermal_limit", "routing_dropped"}


def test_movable_partitions_plan_checks_and_reports_the_split(small_city):
    """With movable bulkheads the plan reports each route's chosen split (within the zone maxima, summing to
    at most the body), passes the checker, and a route overloaded beyond the body total is `over_capacity`."""
    import importlib.util
    import sys

    path = Path(__file__).resolve().parents[2] / "benchmarks" / "partition_saving.py"
    spec = importlib.util.spec_from_file_location("partition_saving", path)
    mod = importlib.util.module_from_spec(spec)
    sys.modules["partition_saving"] = mod
    spec.loader.exec_module(mod)
    s = load_scenario(small_city)
    _, movable = mod.variants(s, 0.25, 0.75)
    plan = plan_night(movable, PlanParams(time_limit_s=None, solution_limit=30, seed=0, workers=1))
    assert check_plan(movable, plan) == []
    vts = {v.id: v for v in movable.vehicle_types}
    moved = [r for r in trip_rows(plan) if vts[r["vehicle_type"]].movable_total is not None]
    assert moved
    for r in moved:
        vt = vts[r["vehicle_type"]]
        assert sum(r["compartments"].values()) <= vt.movable_total.crates
        for z, load in r["load_at_departure"].items():
            assert load["crates"] <= r["compartments"][z]
    bad = _doc(plan)
    tight = {k: (v.model_copy(update={"movable_total": v.movable_total.model_copy(update={"crates": 1})})
                 if v.movable_total else v) for k, v in vts.items()}
    squeezed = movable.model_copy(update={"vehicle_types": list(tight.values())})
    assert "over_capacity" in {v.cause for v in check_plan(squeezed, bad)}


def test_spoilage_in_objective_brings_perishable_value_forward(small_city):
    """With expected spoilage in the objective, the value-weighted minutes chilled and frozen goods ride before
    hand-over fall (the most perishable, valuable stops are served earlier) and the plan still passes the checker."""
    s = load_scenario(small_city)
    price = {p.id: p.price for p in s.products}
    zone = {p.id: p.zone for p in s.products}

    def weighted_minutes(plan):
        w = m = 0.0
        for r in trip_rows(plan):
            for st in r["stops"] if r["tier"] == "last_mile" else []:
                v = sum(q * price[k] for k, q in st["products"].items() if zone[k] != "ambient")
                w += v
                m += v * st["minutes_since_cold_room"]
        return m / w

    out = {}
    for flag in (False, True):
        s2 = s.model_copy(update={"policies": s.policies.model_copy(update={"spoilage_in_objective": flag})})
        plan = plan_night(s2, PlanParams(time_limit_s=None, solution_limit=60, seed=0, workers=1))
        assert check_plan(s2, plan) == []
        out[flag] = weighted_minutes(plan)
    assert out[True] < out[False]
