"""Several trips per trunk truck (``policies.trunk_max_trips``): the wave layouts of
fulfil.stages.subproblems, the choice among them in fulfil.stages.trunk and the checker's limit."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from fulfil.checker import check_plan
from fulfil.night import compile_night
from fulfil.pipeline import PlanParams
from fulfil.stages.assemble import assemble_plan
from fulfil.stages.subproblems import MIN_WAVE_MIN, fleet, trunk_wave_layouts
from fulfil.stages.types import TRUNK

PARAMS = PlanParams(time_limit_s=None, solution_limit=30, workers=1)


def _trunk_fleet(night):
    return fleet(night, TRUNK, night.travel.central_index(0), earliest=night.policy.trunk_departure)


def test_one_trip_per_truck_is_the_only_layout_with_trunk_max_trips_1(tiny_night):
    night = replace(tiny_night, policy=replace(tiny_night.policy, trunk_max_trips=1))
    veh = _trunk_fleet(night)
    [(routing, start, end, lead, crates)] = trunk_wave_layouts(night, veh)
    assert routing == veh and end is None and lead is None and crates is None
    assert np.all(start >= night.policy.trunk_departure)


def test_later_waves_leave_after_a_reload_and_before_the_receiving_window_closes(tiny_night):
    night = replace(tiny_night, policy=replace(tiny_night.policy, trunk_max_trips=3))
    veh = _trunk_fleet(night)
    layouts = trunk_wave_layouts(night, veh)
    assert layouts[0][0] == veh  # one trip per truck is always a candidate (ties keep it)
    assert len(layouts) > 1
    pol, v = night.policy, night.net.vehicles
    for routing, start, end, lead, crates in layouts[1:]:
        assert len(routing) > len(veh)
        for a, (t, _) in enumerate(routing):
            if lead[a] < 0:
                continue
            assert pol.trunk_departure < start[a] < pol.trunk_receiving_close
            assert routing[lead[a]][0] == t and lead[routing.index(routing[lead[a]])] < 0
            # the wave before is back in time to reload the load this layout assumes
            earlier = [b for b in range(len(routing)) if (b == lead[a] or lead[b] == lead[a]) and start[b] < start[a]]
            prev = max(earlier, key=lambda b: start[b])
            if lead[prev] >= 0:  # a first wave's bound is the problem's lead_back_by_s (it may run on alone)
                assert end[prev] <= start[a] - night.reload_min(int(crates[a])) + 1e-9
            assert start[a] - start[prev] >= night.reload_min(int(crates[a])) + MIN_WAVE_MIN - 1
            assert 0 < crates[a] <= v.total_crates[t]


def test_a_trunk_duty_over_trunk_max_trips_is_named(tiny, edited, run_stages):
    """A trunk duty given another trip: ``too_many_trips`` under trunk_max_trips = 1, not under 2."""
    one = edited(tiny, lambda d: d["policies"].update(trunk_max_trips=1))
    st = run_stages(compile_night(one), PARAMS)
    r = st.routed
    plan = assemble_plan(st.night, r.trips, st.alloc.unserved + st.job_unserved + r.unserved, st.alloc.assign,
                         PARAMS, False)
    assert check_plan(one, plan) == []
    doc = plan.model_dump(by_alias=True)
    duty = next(d for d in doc["duties"] if d["tier"] == "trunk")
    extra = dict(duty["trips"][0], id=duty["id"] + ".2")
    duty["trips"].append(extra)
    causes = {v.cause for v in check_plan(one, doc)}
    assert "too_many_trips" in causes
    two = edited(tiny, lambda d: d["policies"].update(trunk_max_trips=2))
    assert "too_many_trips" not in {v.cause for v in check_plan(two, doc)}


@pytest.mark.parametrize("value", [0, 7])
def test_trunk_max_trips_must_be_a_whole_number_from_1_to_6(tiny, edited, value):
    import pydantic

    with pytest.raises(pydantic.ValidationError, match="trunk_max_trips"):
        edited(tiny, lambda d: d["policies"].update(trunk_max_trips=value))
