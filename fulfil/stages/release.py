"""Stage 5b: goods released by the trunk — a warehouse's last mile waits for its trunk.

The first pass plans the last mile from each warehouse's dispatch clock and asks the trunk to be
unloaded before it.  When the trunk fleet cannot do that (goods ``trunk_dropped``) while the
receiving window stays open after the dispatch (``policies.trunk_receiving`` closing later than
``last_mile_dispatch``), the clock is only a lower bound: a warehouse's goods are *released* when
the trunk carrying them has arrived and been unloaded, and its last mile leaves then.

This stage tries that, in three steps:

1. the trunk is routed again, for the warehouses that were short, against the close of the
   receiving window instead of the dispatch clock (the same last-mile loads);
2. each such warehouse's release is when its last trunk stop finishes unloading, and its last
   mile is re-planned leaving at ``max(dispatch clock, release)`` — an earlier trunk therefore
   lets the first wave leave earlier;
3. the trunk is routed once more against those departures.

The caller keeps the result only when it serves more (then costs less) than the first pass; the
checker verifies every last-mile departure against the crates the trunk has unloaded by then
(``trunk_late``).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

import numpy as np

from fulfil.night import CompiledNight
from fulfil.stages.last_mile import Routed
from fulfil.stages.types import TRUNK

if TYPE_CHECKING:
    from fulfil.executor import Executor
    from fulfil.params import PlanParams
    from fulfil.stages.trip_work import TripWork

#: Unserved reasons a later release can help with.
SHORT_REASONS = ("trunk_dropped",)


@dataclass
class Released:
    """The second pass: the night with its shifted dispatch clocks, the routed trips and their timing."""

    night: CompiledNight
    routed: Routed
    work: TripWork
    #: forward warehouse index → the minute its last mile now leaves (only the ones that moved)
    departures: dict[int, float]


def with_dispatch(night: CompiledNight, dispatch: np.ndarray) -> CompiledNight:
    """``night`` with the forward warehouses' last-mile dispatch clocks replaced (read-only copy)."""
    arr = np.array(dispatch, dtype=np.float64)
    arr.setflags(write=False)
    return replace(night, net=replace(night.net, fw_dispatch=arr))


def short_warehouses(night: CompiledNight, assign: np.ndarray, routed: Routed) -> list[int]:
    """Forward warehouses whose goods the trunk could not bring by their dispatch, where the receiving
    window stays open after that dispatch (so a later release can still bring them)."""
    close = night.policy.trunk_receiving_close
    fws = {int(assign[u.pickup]) for u in routed.unserved if u.reason in SHORT_REASONS and assign[u.pickup] >= 0}
    return sorted(f for f in fws if close > float(night.net.fw_dispatch[f]))


def release_times(night: CompiledNight, trunk_trips, work: TripWork) -> dict[int, float]:
    """Forward warehouse index → when its last trunk stop finishes unloading (minutes)."""
    out: dict[int, float] = {}
    for rt in trunk_trips:
        if rt.tier != TRUNK:
            continue
        for st in work.timed(rt).stops:
            out[int(st.owner)] = max(out.get(int(st.owner), 0.0), float(st.departure))
    return out


def release_pass(night: CompiledNight, assign: np.ndarray, jobs_by_fw: dict, last_mile: Routed, routed: Routed,
                 params: PlanParams, lm_budget: float | None, trunk_budget: float | None,
                 executor: Executor) -> Released | None:
    """The tiers planned again with the short warehouses' last mile leaving when the trunk has released
    their goods; None when no warehouse is short or none can be helped."""
    from fulfil.stages.cold_repair import repair_cold_chain
    from fulfil.stages.last_mile import route_last_mile
    from fulfil.stages.subproblems import last_mile_subproblems
    from fulfil.stages.trip_work import TripWork
    from fulfil.stages.trunk import route_trunk

    short = short_warehouses(night, assign, routed)
    if not short:
        return None
    net = night.net
    # 1. the trunk against the receiving close: a dispatch late enough that unloading never binds
    late = np.array(net.fw_dispatch, dtype=np.float64)
    late[short] = night.policy.trunk_receiving_close + 24 * 60.0
    night_a = with_dispatch(night, late)
    trunk_a = route_trunk(night_a, assign, last_mile, params, trunk_budget, executor)
    if trunk_a.interrupted:
        return None
    released = release_times(night_a, trunk_a.trips, TripWork(night_a))
    # 2. the short warehouses' last mile leaves at max(dispatch clock, release)
    new = np.array(net.fw_dispatch, dtype=np.float64)
    for f in short:
        if f in released:
            new[f] = max(new[f], float(np.ceil(released[f] * 100.0) / 100.0))
    moved = [f for f in short if new[f] > net.fw_dispatch[f]]
    if not moved:
        return None
    night_b = with_dispatch(night, new)
    subs = last_mile_subproblems(night_b, {f: jobs_by_fw[f] for f in moved if jobs_by_fw.get(f)})
    redone = route_last_mile(night_b, subs, params, lm_budget, executor)
    work = TripWork(night_b)
    if night.policy.cold_chain_model and not redone.interrupted:
        redone = repair_cold_chain(night_b, subs, redone, params, lm_budget, executor, work=work)
    depots = {night.travel.forward_index(f) for f in moved}
    kept = [rt for rt in last_mile.trips if rt.depot not in depots]
    kept_unserved = [u for u in last_mile.unserved if int(assign[u.pickup]) not in moved]
    lm_b = Routed(kept + redone.trips, kept_unserved + redone.unserved, redone.interrupted)
    # 3. the trunk against those departures
    routed_b = route_trunk(night_b, assign, lm_b, params, trunk_budget, executor)
    return Released(night_b, routed_b, work, {f: float(new[f]) for f in moved})


__all__ = ["Released", "release_pass", "release_times", "short_warehouses", "with_dispatch"]
