"""fulfil.stages.cold_chain: hand-over temperature and quality of a timed trip's cold goods."""

from __future__ import annotations

import numpy as np
import pytest

from fulfil.night import compile_night
from fulfil.stages.allocate import allocate
from fulfil.stages.cold_chain import body_split, out_of_spec_stops, trip_cold_chain
from fulfil.stages.jobs import last_mile_jobs
from fulfil.stages.timing import time_trip
from fulfil.stages.types import LAST_MILE, RoutedTrip

REEFER, VAN = 2, 3  # FW1's types in tiny.toml
P1, P5 = 0, 4


def _weather(tiny, edited, celsius):
    return compile_night(edited(tiny, lambda d: d["weather"].update(hourly_c=[celsius] * 24)))


def _timed(night, owner, vtype, departure=400.0):
    a = allocate(night)
    jobs, _ = last_mile_jobs(night, a.assign, a.units)
    job = next(j for j in jobs[0] if j.owner == owner)
    return time_trip(night, RoutedTrip(LAST_MILE, vtype, 0, night.travel.forward_index(0), departure, [job]))


def test_hot_day_unrefrigerated_chilled_is_warmer_than_refrigerated(tiny, edited):
    """40 °C all day: P5's milk handed over from FW1's van (insulated box) is warmer than from FW1's reefer."""
    hot = _weather(tiny, edited, 40.0)
    _, van = trip_cold_chain(hot, _timed(hot, P5, VAN))
    block, reefer = trip_cold_chain(hot, _timed(hot, P5, REEFER))
    assert van[0]["chilled"]["handover_c"] > reefer[0]["chilled"]["handover_c"]
    assert block["compartments"]["chilled"]["kind"] == "reefer"
    assert "frozen" not in van[0] and "ambient" not in van[0]


def test_the_same_trip_is_warmer_on_a_hot_day(tiny, edited):
    mild = _weather(tiny, edited, 10.0)
    hot = _weather(tiny, edited, 40.0)
    block, cold_day = trip_cold_chain(mild, _timed(mild, P5, VAN))
    _, hot_day = trip_cold_chain(hot, _timed(hot, P5, VAN))
    assert hot_day[0]["chilled"]["handover_c"] > cold_day[0]["chilled"]["handover_c"]
    assert block["compartments"]["chilled"]["kind"] == "insulated_box"


def test_values_per_stop_and_trace(tiny_night):
    """A reefer trip with frozen and chilled goods: one entry per cold zone it hands over, quality in (0, 1],
    a trace covering the stop times, and the limits of DOMAIN's zones."""
    block, per_stop = trip_cold_chain(tiny_night, _timed(tiny_night, P1, REEFER))
    cc = per_stop[0]
    assert set(cc) == {"frozen", "chilled"}
    for zone, c in cc.items():
        assert 0.0 < c["quality"] <= 1.0
        assert c["minutes_out_of_range"] >= 0.0
        if c["in_spec"]:
            assert c["handover_c"] <= block["compartments"][zone]["limit_c"]
        tr = block["compartments"][zone]
        assert len(tr["t"]) == len(tr["air_c"]) == len(tr["product_c"]) and tr["t"] == sorted(tr["t"])
    assert cc["frozen"]["handover_c"] < cc["chilled"]["handover_c"]
    assert block["compartments"]["frozen"]["limit_c"] < block["compartments"]["chilled"]["limit_c"]


def test_out_of_spec_stops_match_the_in_spec_flags(tiny, edited):
    """At 40 °C with a late, long van trip the milk leaves specification; out_of_spec_stops names exactly the
    (stop, zone) pairs whose in_spec is false."""
    hot = _weather(tiny, edited, 40.0)
    seen: set = set()
    for vtype, dep in ((VAN, 400.0), (REEFER, 400.0), (VAN, 600.0)):
        tt = _timed(hot, P5, vtype, dep)
        _, per_stop = trip_cold_chain(hot, tt)
        flagged = [(i, z) for i, cc in enumerate(per_stop) for z, c in cc.items() if not c["in_spec"]]
        assert out_of_spec_stops(hot, tt) == [(i, ("frozen", "chilled", "ambient").index(z)) for i, z in flagged]
        seen.update(flagged)
    assert seen, "the hot van trips put some milk out of specification"


def test_no_cold_goods_no_thermal_block(tiny_night):
    net = tiny_night.net
    a = allocate(tiny_night)
    jobs, _ = last_mile_jobs(tiny_night, a.assign, a.units)
    j = next(j for j in jobs[0] if j.owner == P5)
    amb = type(j)(site=j.site, owner=j.owner, zones=(2,), crates=np.array([0, 0, j.crates[2]]),
                  kg=np.array([0.0, 0.0, j.kg[2]]), units={k: q for k, q in j.units.items() if net.product_zone[k] == 2})
    tt = time_trip(tiny_night, RoutedTrip(LAST_MILE, REEFER, 0, tiny_night.travel.forward_index(0), 400.0, [amb]))
    block, per_stop = trip_cold_chain(tiny_night, tt)
    assert block is None and per_stop == [{}]


def test_body_split_fixed_and_movable(tiny, edited):
    """Fixed compartments: their sizes. Movable partitions: each zone at least its load, never above its
    maximum, the body total never exceeded."""
    night = compile_night(tiny)
    v = night.net.vehicles
    assert body_split(night, REEFER, np.array([1, 1, 1])) == {0: 4, 1: 8, 2: 5}
    assert body_split(night, VAN, np.array([0, 2, 1])) == {1: 6, 2: 8}

    def edit(d):
        edited.find(d["vehicle_types"], "FW1_reefer")["movable_total"] = {"crates": 12, "kg": 200.0}

    mov = compile_night(edited(tiny, edit))
    assert mov.bodies.movable[REEFER] and not mov.bodies.movable[VAN]
    for load in ([2, 3, 1], [4, 8, 0], [0, 0, 0], [1, 6, 5]):
        split = body_split(mov, REEFER, np.array(load))
        assert all(split[z] >= load[z] for z in range(3)), (load, split)
        assert all(split[z] <= v.crates[REEFER, z] for z in range(3)), (load, split)
        assert sum(split.values()) <= 12


@pytest.mark.parametrize("celsius", [10.0, 40.0])
def test_trunk_stop_values_cover_every_product_of_the_zone(tiny, edited, celsius):
    """A trunk reefer stop with frozen crates: one frozen entry, quality judged over every frozen product."""
    from fulfil.stages.types import TRUNK, Job

    night = _weather(tiny, edited, celsius)
    fw1 = night.travel.forward_index(0)
    job = Job(site=fw1, owner=0, zones=(0,), crates=np.array([5, 0, 0]), kg=np.array([70.0, 0.0, 0.0]))
    tt = time_trip(night, RoutedTrip(TRUNK, 0, 0, night.travel.central_index(0), 90.0, [job]))
    block, per_stop = trip_cold_chain(night, tt)
    assert set(per_stop[0]) == {"frozen"} and block["compartments"]["frozen"]["kind"] == "reefer"
    assert per_stop[0]["frozen"]["spoilage_cost"] == 0.0  # a trunk stop hands over no units
