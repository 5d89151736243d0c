"""Goods released by the trunk (fulfil/stages/release.py): when the trunk cannot unload a warehouse's
goods before its dispatch clock but the receiving window stays open, that warehouse's last mile leaves
once its goods are in, and an earlier trunk lets it leave earlier."""

from __future__ import annotations

import pytest

from fulfil.checker import check_plan
from fulfil.generate import GenerateConfig, write_scenario
from fulfil.pipeline import PlanParams, plan_night
from fulfil.scenario import load_scenario
from fulfil.units import parse_clock

PARAMS = PlanParams(time_limit_s=None, solution_limit=40, seed=1, workers=1)
DISPATCH = 7 * 60.0


@pytest.fixture(scope="module")
def city(tmp_path_factory):
    out = tmp_path_factory.mktemp("release")
    return write_scenario(GenerateConfig(name="release", seed=5, forward_warehouses=3, pickup_points=60,
                                         orders=3000), out)


def _late_trunk(path, departure: str, receiving_close: str):
    """The city with its trunks leaving at ``departure`` and received until ``receiving_close``."""
    doc = load_scenario(path).model_dump()
    doc["policies"].update(trunk_departure=parse_clock(departure),
                           trunk_receiving={"open": parse_clock(departure), "close": parse_clock(receiving_close)})
    for v in doc["vehicle_types"]:
        if v["tier"] == "trunk":
            v["shift"] = {"open": parse_clock("05:00"), "close": parse_clock("12:00")}
    from fulfil.scenario.schema import Scenario

    return Scenario.model_validate(doc)


def _first_departures(plan) -> dict[str, float]:
    out: dict[str, float] = {}
    for d in plan.duties:
        if d.tier == "last_mile":
            out[d.depot] = min(out.get(d.depot, 1e9), min(t.departure for t in d.trips))
    return out


def test_a_late_trunk_releases_the_goods_and_the_last_mile_waits_for_them(city):
    """Trunks leaving at 06:40 cannot unload before the 07:00 dispatch.  With receiving closing at 07:00
    their goods stay behind (trunk_dropped); received until 09:30, the goods are released later and the
    short warehouses' last mile leaves after them, serving far more.  Both plans check clean (the
    checker holds every last-mile departure to the crates unloaded by then)."""
    shut = _late_trunk(city, "06:40", "07:00")
    behind = plan_night(shut, PARAMS)
    assert check_plan(shut, behind) == []
    assert "trunk_dropped" in {u.reason for u in behind.unserved}
    assert "release_s" not in behind.stats  # nothing can be released later

    s = _late_trunk(city, "06:40", "09:30")
    plan = plan_night(s, PARAMS)
    assert check_plan(s, plan) == []
    assert plan.kpis.units_unserved < behind.kpis.units_unserved / 2
    late = {fw: t for fw, t in _first_departures(plan).items() if t > DISPATCH + 1}
    assert late, "some warehouse must wait for its trunk"
    unloaded: dict[str, float] = {}
    for d in plan.duties:
        if d.tier == "trunk":
            for t in d.trips:
                for st in t.stops:
                    unloaded[st.location] = max(unloaded.get(st.location, 0.0), st.departure)
    for fw, t in late.items():
        assert t >= unloaded[fw] - 0.01


def test_an_earlier_trunk_lets_the_first_wave_leave_earlier(city):
    early = plan_night(_late_trunk(city, "06:20", "09:30"), PARAMS)
    late = plan_night(_late_trunk(city, "06:40", "09:30"), PARAMS)
    a, b = _first_departures(early), _first_departures(late)
    waiting = [fw for fw in b if b[fw] > DISPATCH + 1]
    assert waiting
    assert all(a[fw] < b[fw] for fw in waiting if fw in a)
