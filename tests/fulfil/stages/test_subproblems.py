"""Stage 3 (fulfil.stages.subproblems): routing problems as arrays, one per forward warehouse."""

from __future__ import annotations

import math

import numpy as np
import pytest

from fulfil.feasibility import conservative_minutes
from fulfil.night import compile_night
from fulfil.stages.allocate import allocate
from fulfil.stages.jobs import last_mile_jobs
from fulfil.stages.subproblems import ProxyLimits, fleet, last_mile_subproblems
from fulfil.stages.types import LAST_MILE, TRUNK
from fulfil.units import BIG_TIME_S

FROZEN, CHILLED, AMBIENT = 0, 1, 2
REEFER, VAN = 2, 3  # FW1's last-mile vehicle types in tiny.toml


def _subs(night, proxy=None):
    a = allocate(night)
    jobs, _ = last_mile_jobs(night, a.assign, a.units)
    return jobs, last_mile_subproblems(night, jobs, proxy)


def test_one_subproblem_per_warehouse_with_jobs_and_its_own_fleet(tiny_night):
    jobs, subs = _subs(tiny_night)
    travel = tiny_night.travel
    assert [sp.owner for sp in subs] == [f for f, js in jobs.items() if js]
    for sp in subs:
        assert sp.tier == LAST_MILE and sp.depot == travel.forward_index(sp.owner)
        assert sp.vehicles == fleet(tiny_night, LAST_MILE, sp.depot)
        assert sp.problem.n_jobs == len(sp.jobs)
    assert subs[0].vehicles == [(REEFER, 0), (REEFER, 1), (VAN, 0)]
    assert fleet(tiny_night, TRUNK, travel.central_index(0)) == [(0, 0), (1, 0)]


def test_windows_service_and_starts_equal_the_nights_arrays(tiny_night):
    """Node i (job i-1): window and service seconds from the night's per-site arrays; node 0 is the depot
    (no window, no service); vehicles leave at max(dispatch, shift open)."""
    night = tiny_night
    _, subs = _subs(night)
    for sp in subs:
        pr = sp.problem
        assert pr.site[0] == -1 and pr.tw_open_s[0] == 0 and pr.tw_close_s[0] == BIG_TIME_S
        assert pr.service_fixed_s[0] == 0 and pr.service_var_s[0] == 0
        for i, j in enumerate(sp.jobs, start=1):
            n = int(j.crates.sum())
            assert pr.tw_open_s[i] == math.floor(night.window_open[j.site] * 60)
            assert pr.tw_close_s[i] == math.floor(night.window_close[j.site] * 60)
            assert pr.service_fixed_s[i] == math.ceil(night.service_fixed_min[j.site] * 60 - 1e-9)
            assert pr.service_var_s[i] == math.ceil(night.service_per_crate_min[j.site] * n * 60 - 1e-9)
            assert (pr.demand[i, :3] == j.crates).all()
        v = night.net.vehicles
        for a, (t, _) in enumerate(sp.vehicles):
            assert pr.start_s[a] == round(max(night.net.fw_dispatch[sp.owner], v.shift_open[t]) * 60)
            assert pr.end_max_s[a] == math.floor(v.shift_close[t] * 60)
            assert (pr.capacity[a, :3] == v.crates[t]).all()


def test_travel_times_never_exceed_the_conservative_matrix(tiny_night):
    """Each arc is priced over its own departures (tests/fulfil/test_time_dependent.py), never above the
    slowest hour between dispatch and shift end."""
    night = tiny_night
    _, subs = _subs(night)
    sp = subs[0]
    sites = np.array([sp.depot] + [j.site for j in sp.jobs])
    v = night.net.vehicles
    t_to = float(v.shift_close[[t for t, _ in sp.vehicles]].max())
    profiles = sorted({v.profile[t] for t, _ in sp.vehicles})
    m = conservative_minutes(night.travel, sites, sites, profiles, float(sp.problem.start_s.min()) / 60.0, t_to)
    assert (sp.problem.travel_s <= np.ceil(m * 60.0 - 1e-9).astype(np.int64)).all()
    assert (sp.problem.dist_m == np.round(night.travel.distance_m(sites, sites))).all()


def test_service_policy_of_the_scenario_reaches_the_problem(tiny, edited):
    """policies.service_fixed_min 5 → 9 min and service_per_crate_min 0.15 → 0.5: shop nodes change by exactly
    that, the locker (locker_fixed_min / locker_per_cell_min) does not."""
    def edit(d):
        d["policies"]["service_fixed_min"] = 9.0
        d["policies"]["service_per_crate_min"] = 0.5

    base = compile_night(tiny)
    slow = compile_night(edited(tiny, edit))
    _, subs_a = _subs(base)
    _, subs_b = _subs(slow)
    locker = base.travel.pickup_index(2)  # P3
    changed = 0
    for sa, sb in zip(subs_a, subs_b, strict=True):
        for i, j in enumerate(sa.jobs, start=1):
            n = int(j.crates.sum())
            if j.site == locker:
                assert sb.problem.service_fixed_s[i] == sa.problem.service_fixed_s[i]
                assert sb.problem.service_var_s[i] == sa.problem.service_var_s[i]
            else:
                assert sa.problem.service_fixed_s[i] == 300 and sb.problem.service_fixed_s[i] == 540
                assert sb.problem.service_var_s[i] == math.ceil(0.5 * n * 60 - 1e-9)
                changed += 1
    assert changed >= 3


def test_deadlines_promise_box_and_product_limits(tiny_night):
    """Refrigerated vehicle with cold goods: the promise. Unrefrigerated van with milk: the tightest of the
    promise, the insulated box (100 min) and milk's 30 min out of zone. Ambient only: no deadline.
    The van may not take a job with frozen goods at all."""
    night = tiny_night
    _, subs = _subs(night)
    sp = subs[0]
    pr = sp.problem
    promise = night.policy.promise_minutes
    for a, (t, _) in enumerate(sp.vehicles):
        for i, j in enumerate(sp.jobs, start=1):
            if not pr.allowed[a, i]:
                assert t == VAN and j.crates[FROZEN] > 0
                continue
            cold = j.crates[FROZEN] > 0 or j.crates[CHILLED] > 0
            if t == REEFER:
                expect = pr.start_s[a] + promise * 60 if cold else BIG_TIME_S
            else:
                expect = pr.start_s[a] + 30 * 60 if j.crates[CHILLED] > 0 else BIG_TIME_S
            assert pr.deadline_s[a, i] == expect, (t, i)
    van = sp.vehicles.index((VAN, 0))
    assert not pr.allowed[van, 1:].all() and pr.allowed[: van, 1:].all()


def test_no_thermal_proxies_without_the_cold_chain_model(tiny_night):
    assert tiny_night.policy.cold_chain_model is False
    _, subs = _subs(tiny_night)
    assert all(sp.cold_limits == {} for sp in subs)


def test_proxy_limits_are_memoised_per_run_object(small_night, monkeypatch):
    """The thermal proxy limits are cached on the ProxyLimits object of one run (no module-level cache): the
    same object answers again without the thermal model, a new object asks the model again, and the limits
    end up in the subproblems' cold_limits and tighten their deadlines."""
    import solvers.thermal.model as model

    calls = {"n": 0}
    real = model.max_route_minutes

    def counting(*args, **kwargs):
        calls["n"] += 1
        return real(*args, **kwargs)

    monkeypatch.setattr(model, "max_route_minutes", counting)
    proxy = ProxyLimits(small_night)
    jobs, subs = _subs(small_night, proxy)
    first = calls["n"]
    assert first >= 1 and len(proxy.memo) == first
    again = last_mile_subproblems(small_night, jobs, proxy)
    assert calls["n"] == first  # answered from this run's memo
    assert [sp.cold_limits for sp in again] == [sp.cold_limits for sp in subs]
    last_mile_subproblems(small_night, jobs, ProxyLimits(small_night))
    assert calls["n"] == 2 * first  # a new run computes afresh
    for sp in subs:
        expect = proxy.for_warehouse(sp.owner, sp.jobs, sp.vehicles)
        assert sp.cold_limits == expect


def test_hot_night_tightens_the_proxy_deadlines(small, edited):
    """At 40 °C the thermal model limits some refrigerated type's cold goods below the promise, and every
    deadline of a job with that zone on that type is at most start + that limit."""
    hot = compile_night(edited(small, lambda d: d["weather"].update(hourly_c=[40.0] * 24)))
    _, subs = _subs(hot)
    limits = {k: v for sp in subs for k, v in sp.cold_limits.items()}
    assert limits and min(limits.values()) < hot.policy.promise_minutes
    for sp in subs:
        pr = sp.problem
        for (t, z), lim in sp.cold_limits.items():
            for a, (ta, _) in enumerate(sp.vehicles):
                if ta != t:
                    continue
                for i, j in enumerate(sp.jobs, start=1):
                    if j.crates[z] > 0 and pr.allowed[a, i]:
                        assert pr.deadline_s[a, i] <= pr.start_s[a] + lim * 60


@pytest.mark.parametrize("spoilage", [False, True])
def test_spoilage_in_objective_adds_arrival_costs(tiny, edited, spoilage):
    night = compile_night(edited(tiny, lambda d: d["policies"].update(spoilage_in_objective=spoilage)))
    _, subs = _subs(night)
    arr = subs[0].problem.arrival_cost_per_s
    if spoilage:
        assert len(arr) == len(subs[0].jobs) + 1 and arr[0] == 0 and (arr[1:] > 0).any()
    else:
        assert len(arr) == 0
