"""Stage 5: re-solve the warehouses whose trips the thermal model rejects.

Every last-mile trip is timed exactly and run through the thermal model
(:mod:`.cold_chain`).  A warehouse with a hand-over out of specification is re-solved with
a tighter limit for that vehicle type and zone (10 minutes under the failing stop's time
out of the cold room); after ``rounds`` rounds, or when interrupted, the stops still
failing are taken off their trips and reported unserved (``thermal_limit``).
"""

from __future__ import annotations

import logging
import math
from dataclasses import replace
from typing import TYPE_CHECKING

from fulfil.night import CompiledNight
from fulfil.stages.last_mile import Routed, collect, routing_params, run_budgets
from fulfil.stages.subproblems import build_subproblem
from fulfil.stages.trip_work import TripWork
from fulfil.stages.types import LAST_MILE, RoutedTrip, Subproblem, UnservedLine

if TYPE_CHECKING:
    from fulfil.executor import Executor
    from fulfil.params import PlanParams

log = logging.getLogger("fulfil")
#: Margin (min) under a failing stop's time out of the cold room for the tightened limit.
MARGIN_MIN = 10.0
#: Never tighten a limit below this (min).
FLOOR_MIN = 5.0


def _failures(work: TripWork, trips: list[RoutedTrip]) -> dict[int, list[tuple[RoutedTrip, int, int, float]]]:
    """Forward index → (trip, stop index, zone, minutes since the cold room) of every failing hand-over."""
    out: dict[int, list] = {}
    for rt in trips:
        if rt.tier != LAST_MILE:
            continue
        tt = work.timed(rt)
        for i, z in work.out_of_spec(rt):
            f = rt.depot - work.night.travel.n_central
            out.setdefault(f, []).append((rt, i, z, tt.stops[i].arrival - tt.departure))
    return out


def repair_cold_chain(night: CompiledNight, subs: list[Subproblem], routed: Routed, params: PlanParams,
                      budget_s: float | None, executor: Executor, rounds: int = 3,
                      work: TripWork | None = None) -> Routed:
    """``routed`` with every last-mile hand-over in specification (``subs`` are updated in place);
    ``work`` keeps the trips' timing and cold chain for the assembly."""
    work = work or TripWork(night)
    from fulfil.routing_tasks import solve_subproblems

    pos = {sp.owner: i for i, sp in enumerate(subs)}
    trips, unserved = list(routed.trips), list(routed.unserved)
    interrupted = routed.interrupted
    for round_ in range(rounds):
        if interrupted:
            break
        bad = _failures(work, trips)
        if not bad:
            return Routed(trips, unserved, interrupted)
        log.info("cold chain: %d hand-over(s) out of spec at %d warehouse(s); re-solving with tighter limits "
                 "(round %d)", sum(len(v) for v in bad.values()), len(bad), round_ + 1)
        resubs: list[Subproblem] = []
        for f, items in sorted(bad.items()):
            old = subs[pos[f]]
            lims = dict(old.cold_limits)
            for rt, _, z, minutes in items:
                lims[(rt.vtype, z)] = min(lims.get((rt.vtype, z), math.inf), max(FLOOR_MIN, minutes - MARGIN_MIN))
            resubs.append(build_subproblem(night, LAST_MILE, f, old.jobs, old.depot, old.vehicles,
                                           old.problem.start_s / 60.0, lims, end_min=old.end_min,
                                           lead=old.lead))
        tl = None if budget_s is None else max(1.0, budget_s / max(1, len(subs)))
        budgets = run_budgets([sp.problem for sp in resubs], params) or [tl] * len(resubs)
        sols, interrupted = solve_subproblems([sp.problem for sp in resubs], routing_params(params, budgets),
                                              params.engine, executor, "cold-chain re-solve")
        for i, sp in enumerate(resubs):
            if i not in sols:  # interrupted before this one came back: keep what it had
                continue
            subs[pos[sp.owner]] = sp
            owners = {j.owner for j in sp.jobs}
            unserved = [u for u in unserved
                        if not (u.reason in ("routing_dropped", "thermal_limit") and u.pickup in owners)]
            trips = [rt for rt in trips if not (rt.tier == LAST_MILE and rt.depot == sp.depot)]
            new_trips, new_unserved = collect(night, sp, sols[i])
            trips += new_trips
            unserved += new_unserved
    # last resort: ship nothing the model rejects (taking a stop off changes the others' times and
    # loads, so re-check until the trip passes)
    kept: list[RoutedTrip] = []
    for rt in trips:
        cur = rt  # the trip itself while nothing comes off (its work is kept for the assembly)
        while cur.tier == LAST_MILE and cur.jobs:
            tt = work.timed(cur)
            failing = {tt.stops[i].site for i, _ in work.out_of_spec(cur)}
            if not failing:
                break
            for j in [j for j in cur.jobs if j.site in failing]:
                for k, q in j.units.items():
                    unserved.append(UnservedLine(j.owner, k, q, "thermal_limit",
                                                 "the thermal model predicts this stop's cold goods out of range"))
            cur = replace(rt, jobs=[j for j in cur.jobs if j.site not in failing])
        if cur.jobs:
            kept.append(cur)
    return Routed(kept, unserved, interrupted)
