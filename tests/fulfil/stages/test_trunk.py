"""Stage 6 (fulfil.stages.trunk): trunk trips central → forward warehouses for what the last mile carries."""

from __future__ import annotations

import math

import numpy as np
import pytest

from fulfil.executor import SerialBackend
from fulfil.night import compile_night
from fulfil.pipeline import PlanParams
from fulfil.stages.trunk import chunk_crates, route_trunk, trunk_jobs, trunk_subproblems
from fulfil.stages.types import LAST_MILE, TRUNK

PARAMS = PlanParams(time_limit_s=None, solution_limit=30, workers=1)
FROZEN, CHILLED, AMBIENT = 0, 1, 2


def test_chunk_crates_full_truckload_by_crates_or_weight():
    assert chunk_crates(100, 1000.0, 40, 500.0) == 40  # 10 kg a crate: the crate limit binds
    assert chunk_crates(100, 2000.0, 40, 500.0) == 25  # 20 kg a crate: the weight binds
    assert chunk_crates(10, 0.0, 40, 500.0) == 40  # weightless goods
    assert chunk_crates(0, 0.0, 40, 500.0) == 40
    assert chunk_crates(5, 5000.0, 40, 500.0) == 1  # never less than one crate


def test_trunk_jobs_full_loads_first_then_the_remainder(tiny_night):
    """FW1 needs 100 frozen crates (1000 kg) and 10 chilled, FW2 30 ambient: the reefer (40 frozen / 500 kg)
    takes frozen 40, 40, then 20 with the chilled riding in the first chunk; ambient goes on the dry truck."""
    night = tiny_night
    F = night.net.n_forward
    load_c = np.zeros((F, 3), dtype=np.int64)
    load_kg = np.zeros((F, 3))
    load_c[0, FROZEN], load_kg[0, FROZEN] = 100, 1000.0
    load_c[0, CHILLED], load_kg[0, CHILLED] = 10, 50.0
    load_c[1, AMBIENT], load_kg[1, AMBIENT] = 30, 300.0
    jobs = trunk_jobs(night, 0, load_c, load_kg)
    fw1 = [j for j in jobs if j.owner == 0]
    fw2 = [j for j in jobs if j.owner == 1]
    assert [j.crates[FROZEN] for j in fw1] == [40, 40, 20]
    assert [j.crates[CHILLED] for j in fw1] == [10, 0, 0]
    assert all(j.zones == (FROZEN, CHILLED) and j.site == night.travel.forward_index(0) for j in fw1)
    assert sum(j.kg[FROZEN] for j in fw1) == pytest.approx(1000.0)
    assert [j.zones for j in fw2] == [(AMBIENT,)] and fw2[0].crates.tolist() == [0, 0, 30]
    v = night.net.vehicles
    for j in jobs:  # each chunk fits one trunk vehicle whole
        assert any(all(j.crates[z] <= v.crates[t, z] and j.kg[z] <= v.kg[t, z] + 1e-9 for z in j.zones)
                   for t in range(len(v.ids)) if v.tier[t] == TRUNK)


def test_trunk_subproblem_windows_leave_time_to_unload_before_dispatch(tiny_night, run_stages):
    """A trunk must arrive in the receiving window and be unloaded before the warehouse's last-mile dispatch."""
    night = tiny_night
    st = run_stages(night, trunk=False)
    groups, orphans = trunk_subproblems(night, st.alloc.assign, st.last_mile.trips)
    assert orphans == []
    assert len(groups) == 1
    subs = groups[0]  # the wave layouts of the one central; the first is one trip per truck
    assert all(sp.tier == TRUNK and sp.jobs == subs[0].jobs for sp in subs)
    pr = subs[0].problem
    for i, j in enumerate(subs[0].jobs, start=1):
        unload = night.service_fixed_min[j.site] + night.service_per_crate_min[j.site] * int(j.crates.sum())
        latest = min(night.window_close[j.site], night.net.fw_dispatch[j.owner] - unload)
        assert pr.tw_close_s[i] == math.floor(latest * 60)
        assert pr.tw_open_s[i] == math.floor(night.window_open[j.site] * 60)
    assert (pr.start_s == round(night.policy.trunk_departure * 60)).all()


def test_trunk_carries_exactly_what_the_last_mile_hands_over(tiny_night, run_stages):
    night = tiny_night
    st = run_stages(night)
    trunk = [rt for rt in st.routed.trips if rt.tier == TRUNK]
    lm = [rt for rt in st.routed.trips if rt.tier == LAST_MILE]
    assert trunk and lm and not st.routed.interrupted
    need = np.zeros((night.net.n_forward, 3), dtype=np.int64)
    for rt in lm:
        for j in rt.jobs:
            need[rt.depot - night.travel.n_central] += j.crates
    got = np.zeros_like(need)
    for rt in trunk:
        for j in rt.jobs:
            got[j.owner] += j.crates
    assert (got == need).all()
    assert not [u for u in st.routed.unserved if u.reason == "trunk_dropped"]


def test_no_reefer_trunk_drops_the_cold_last_mile_jobs(tiny, edited, run_stages):
    """Without the trunk reefer nothing frozen or chilled reaches the forward warehouses: every last-mile job
    holding such goods is taken off its trip as trunk_dropped (ambient on the dry truck still rides)."""
    night = compile_night(edited(tiny, lambda d: edited.find(d["vehicle_types"], "CW1_reefer").update(count=0)))
    st = run_stages(night, trunk=False)
    cold_routed = sum(q for rt in st.last_mile.trips for j in rt.jobs for k, q in j.units.items()
                      if night.net.product_zone[k] < 2)
    routed = route_trunk(night, st.alloc.assign, st.last_mile, PARAMS, None, SerialBackend())
    lm_jobs = [j for rt in routed.trips if rt.tier == LAST_MILE for j in rt.jobs]
    assert all(j.crates[FROZEN] == 0 and j.crates[CHILLED] == 0 for j in lm_jobs)
    dropped = [u for u in routed.unserved if u.reason == "trunk_dropped"]
    assert dropped and "could not bring" in dropped[0].detail
    assert cold_routed > 0
    assert sum(u.units for u in dropped if night.net.product_zone[u.product] < 2) == cold_routed
    assert all(rt.tier == LAST_MILE or set(j.zones) == {AMBIENT} for rt in routed.trips for j in rt.jobs)


def test_trunk_fleet_cut_to_zero_drops_every_last_mile_job(tiny, edited, run_stages):
    """No trunk vehicle at all: every last-mile job is unserved as trunk_dropped and no trip remains."""
    def edit(d):
        for v in d["vehicle_types"]:
            if v["tier"] == "trunk":
                v["count"] = 0

    night = compile_night(edited(tiny, edit))
    st = run_stages(night, trunk=False)
    routed_units = sum(q for rt in st.last_mile.trips for j in rt.jobs for q in j.units.values())
    out = route_trunk(night, st.alloc.assign, st.last_mile, PARAMS, None, SerialBackend())
    assert out.trips == []
    assert sum(u.units for u in out.unserved if u.reason == "trunk_dropped") == routed_units


def test_interrupted_last_mile_still_gets_a_trunk(tiny_night, run_stages):
    """When the run was interrupted the trunk is not optimised but dispatched quickly, so the plan stays whole."""
    from fulfil.stages.last_mile import Routed

    st = run_stages(tiny_night, trunk=False)
    lm = Routed(st.last_mile.trips, st.last_mile.unserved, True)
    out = route_trunk(tiny_night, st.alloc.assign, lm, PARAMS, None, SerialBackend())
    assert out.interrupted
    assert any(rt.tier == TRUNK for rt in out.trips)
    assert not [u for u in out.unserved if u.reason == "trunk_dropped"]
