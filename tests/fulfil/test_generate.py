"""The generator sizes last-mile fleets for the trips a vehicle makes (``max_trips``) and writes the policy."""

from __future__ import annotations

import pytest

from fulfil.checker import check_plan
from fulfil.generate import GenerateConfig, write_scenario
from fulfil.pipeline import PlanParams, plan_night
from fulfil.scenario import load_scenario


def _city(tmp_path, max_trips: int):
    cfg = GenerateConfig(name=f"waves{max_trips}", seed=3, forward_warehouses=2, pickup_points=60, orders=3000,
                         max_trips=max_trips)
    return load_scenario(write_scenario(cfg, tmp_path / str(max_trips)))


def test_two_trip_cities_get_fewer_vans_and_still_serve_everything(tmp_path):
    one, two = _city(tmp_path, 1), _city(tmp_path, 2)
    assert (one.policies.max_trips, two.policies.max_trips) == (1, 2)
    reefers = {s.name: sum(v.count for v in s.vehicle_types if v.tier == "last_mile" and v.refrigerated)
               for s in (one, two)}
    assert reefers["waves2"] < reefers["waves1"]
    plan = plan_night(two, PlanParams(time_limit_s=None, solution_limit=60, seed=1, workers=1))
    assert check_plan(two, plan) == []
    assert plan.unserved == []


@pytest.mark.parametrize("value", [0, 7])
def test_max_trips_outside_1_to_6_is_refused(value):
    with pytest.raises(ValueError, match="max_trips"):
        GenerateConfig(max_trips=value)
