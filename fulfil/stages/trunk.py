"""Stage 6: trunk trips central → forward warehouses, carrying what the last mile hands over.

Each forward warehouse's load per zone is cut into chunks one trunk vehicle can carry whole
(full truckloads first, the remainder last, so it can ride with another warehouse's load);
trunks must arrive inside the receiving window and be unloaded before the warehouse's
last-mile dispatch.  A trunk truck may make up to ``policies.trunk_max_trips`` trips, reloading at
its central warehouse: each wave layout (one trip per truck first) is solved and the best kept.
Goods a trunk cannot bring make the last-mile jobs that needed them
unserved (``trunk_dropped``); so do the hand-overs the thermal model puts out of specification
(``thermal_limit``: taken off their trunk trips, as the checker would refuse them).  When the run
was interrupted, unsolved centrals get the quick nearest-neighbour dispatch so the plan stays whole.
"""

from __future__ import annotations

import math
from dataclasses import replace
from typing import TYPE_CHECKING

import numpy as np

from fulfil.feasibility import on_shift
from fulfil.network import Z
from fulfil.night import CompiledNight
from fulfil.scenario.schema import ZONES
from fulfil.stages.jobs import PARTITIONS, ration_to_supply, supply_brought
from fulfil.stages.last_mile import Routed, solve
from fulfil.stages.subproblems import build_subproblem, fleet, trunk_wave_layouts
from fulfil.stages.types import TRUNK, Job, RoutedTrip, Subproblem

if TYPE_CHECKING:
    from fulfil.executor import Executor
    from fulfil.params import PlanParams


#: Why a forward warehouse lacks a zone's goods (``short`` of :func:`route_trunk`).
NOT_BROUGHT, TOO_WARM = 1, 2


def chunk_crates(total: int, kg: float, cap_crates: int, cap_kg: float) -> int:
    """Crates of one full truckload of a zone: the crate limit, or fewer when weight binds first."""
    if total <= 0:
        return max(1, cap_crates)
    per_crate = kg / total
    by_kg = math.floor(cap_kg / per_crate + 1e-9) if per_crate > 0 else cap_crates
    return max(1, min(cap_crates, by_kg))


def trunk_jobs(night: CompiledNight, c: int, load_crates: np.ndarray, load_kg: np.ndarray) -> list[Job]:
    """Chunks of each forward warehouse's load (supplied by central ``c``) one trunk vehicle carries whole."""
    net, travel = night.net, night.travel
    v = net.vehicles
    types = [t for t in range(len(v.ids)) if v.tier[t] == TRUNK and int(v.home[t]) == c
             and on_shift(net, t, night.policy.trunk_departure)]
    jobs: list[Job] = []
    for f in np.flatnonzero(net.fw_central == c):
        present = tuple(z for z in range(Z) if load_crates[f, z] > 0)
        if not present:
            continue
        for part in PARTITIONS:
            groups = [g2 for g2 in (tuple(z for z in g if z in present) for g in part) if g2]
            if all(any(all(v.crates[t, z] > 0 for z in g) for t in types) for g in groups):
                break
        for g in groups:
            best: tuple[int, dict[int, int]] | None = None
            for t in types:
                if not all(v.crates[t, z] > 0 for z in g):
                    continue
                per = {z: chunk_crates(int(load_crates[f, z]), float(load_kg[f, z]), int(v.crates[t, z]),
                                       float(v.kg[t, z])) for z in g}
                n = max(math.ceil(load_crates[f, z] / per[z]) for z in g)
                if best is None or n < best[0]:
                    best = (n, per)
            n, per = best if best is not None else (1, {z: max(1, int(load_crates[f, z])) for z in g})
            for part_i in range(n):
                crates = np.zeros(Z, dtype=np.int64)
                kg = np.zeros(Z)
                for z in g:
                    total = int(load_crates[f, z])
                    crates[z] = max(0, min(per[z], total - part_i * per[z]))
                    kg[z] = load_kg[f, z] * (crates[z] / total) if total else 0.0
                if crates.any():
                    jobs.append(Job(site=travel.forward_index(int(f)), owner=int(f), zones=g, crates=crates, kg=kg))
    return jobs


def trunk_subproblems(night: CompiledNight, assign: np.ndarray,
                      lm_trips: list[RoutedTrip]) -> tuple[list[list[Subproblem]], list[Job]]:
    """Per central warehouse with loads to carry and trunk vehicles to carry them, its candidate
    problems (one per wave layout, :func:`~fulfil.stages.subproblems.trunk_wave_layouts`: trunk trucks
    make up to ``policies.trunk_max_trips`` trips); and the loads of centrals without any (no trunk
    brings those)."""
    from solvers.allocation import trunk_load

    net, travel = night.net, night.travel
    lm_crates = np.zeros((net.n_pickups, Z), dtype=np.int64)
    lm_kg = np.zeros((net.n_pickups, Z))
    for rt in lm_trips:
        for j in rt.jobs:
            lm_crates[j.owner] += j.crates
            lm_kg[j.owner] += j.kg
    load_c, load_kg = trunk_load(assign, lm_crates, lm_kg, np.ones(net.n_pickups, dtype=bool), net.n_forward)
    subs = []
    orphans: list[Job] = []
    for c in range(len(net.central_ids)):
        jobs = trunk_jobs(night, c, load_c, load_kg)
        if not jobs:
            continue
        depot = travel.central_index(c)
        veh = fleet(night, TRUNK, depot, earliest=night.policy.trunk_departure, limit=len(jobs))
        if not veh:
            orphans += jobs
            continue
        subs.append([build_subproblem(night, TRUNK, c, jobs, depot, routing_veh, start, end_min=end, lead=lead,
                                      reload_crates=crates)
                     for routing_veh, start, end, lead, crates in trunk_wave_layouts(night, veh)])
    return subs, orphans


def route_trunk(night: CompiledNight, assign: np.ndarray, last_mile: Routed, params: PlanParams,
                budget_s: float | None, executor: Executor) -> Routed:
    """Trunk trips for ``last_mile``'s trips; last-mile jobs whose goods no trunk brings become unserved."""
    from fulfil.routing_tasks import solve_subproblems

    groups, orphans = trunk_subproblems(night, assign, last_mile.trips)
    subs = [sp for g in groups for sp in g]
    sols: dict = {}
    interrupted = last_mile.interrupted
    if not interrupted and subs:
        sols, interrupted = solve(subs, params, budget_s, "trunk", executor)
    if interrupted:
        from fulfil.executor import SerialBackend

        missing = [i for i in range(len(subs)) if i not in sols]
        quick, _ = solve_subproblems([subs[i].problem for i in missing], [None] * len(missing), "nearest",
                                     SerialBackend(), "trunk (quick dispatch)")
        sols.update({missing[i]: s for i, s in quick.items()})
    short = np.zeros((night.net.n_forward, Z), dtype=np.int8)  # NOT_BROUGHT / TOO_WARM per (forward, zone)
    for j in orphans:
        short[j.owner, list(j.zones)] = NOT_BROUGHT
    trips: list[RoutedTrip] = []
    for i, sp in _best_layouts(night, groups, sols):
        sol = sols.get(i)
        dropped = sol.dropped if sol is not None else range(1, len(sp.jobs) + 1)
        for n in dropped:
            j = sp.jobs[int(n) - 1]
            short[j.owner, list(j.zones)] = NOT_BROUGHT
        if sol is None:
            continue
        for a, r in enumerate(sol.routes):
            if len(r):
                t, k = sp.vehicles[a]
                trips.append(RoutedTrip(TRUNK, t, k, sp.depot, float(sp.problem.start_s[a]) / 60.0,
                                        [sp.jobs[int(n) - 1] for n in r]))
    if night.policy.cold_chain_model:
        trips = _in_spec(night, trips, short)
    # the last mile keeps what the trunk trips bring, by priority; the rest is unserved with its reason
    lm_kept, unserved = ration_to_supply(night, last_mile.trips, supply_brought(night, trips),
                                         _shortfall(night, short))
    return Routed(trips + lm_kept, last_mile.unserved + unserved, interrupted)


def _best_layouts(night: CompiledNight, groups: list[list[Subproblem]], sols: dict) -> list[tuple[int, Subproblem]]:
    """Per central warehouse, ``(position in the flat list, problem)`` of the wave layout whose solution
    has the lowest objective among those whose trips can be chained (the layouts share jobs, penalties
    and costs, so the objectives compare; ties and a central without any: the first, one trip per truck)."""
    out = []
    i = 0
    for g in groups:
        solved = [k for k in range(len(g)) if sols.get(i + k) is not None and _reloads_fit(night, g[k], sols[i + k])]
        best = min(solved, key=lambda k: (sols[i + k].objective, k), default=0)
        out.append((i + best, g[best]))
        i += len(g)
    return out


def _reloads_fit(night: CompiledNight, sp: Subproblem, sol) -> bool:
    """Whether each later wave a solution uses leaves after its truck's previous used wave is back (the
    solver's conservative return) and reloaded with that wave's real load (a layout may assume less
    than a full body)."""
    if sp.lead is None:
        return True
    p = sp.problem
    if sol.end_s.size == 0:  # no return times to check against: only a plan without later waves
        return all(not len(r) for a, r in enumerate(sol.routes) if sp.lead[a] >= 0)
    by_truck: dict[int, list[int]] = {}
    for a, r in enumerate(sol.routes):
        if len(r):
            by_truck.setdefault(a if sp.lead[a] < 0 else int(sp.lead[a]), []).append(a)
    for waves in by_truck.values():
        waves.sort(key=lambda a: int(p.start_s[a]))
        for a, b in zip(waves, waves[1:]):
            crates = int(sum(sp.jobs[int(n) - 1].crates.sum() for n in sol.routes[b]))
            if int(sol.end_s[a]) > int(p.start_s[b]) - math.ceil(night.reload_min(crates) * 60 - 1e-9):
                return False
    return True


def _in_spec(night: CompiledNight, trips: list[RoutedTrip], short: np.ndarray) -> list[RoutedTrip]:
    """``trips`` without the hand-overs the thermal model puts out of specification (a trip is re-checked
    until it passes: a stop taken off changes the others' times); their zones are marked TOO_WARM in ``short``."""
    from fulfil.stages.cold_chain import out_of_spec_stops
    from fulfil.stages.timing import time_trip

    kept = []
    for rt in trips:
        cur = rt
        while cur.jobs:
            tt = time_trip(night, cur)
            failing = {tt.stops[i].site for i, _ in out_of_spec_stops(night, tt)}
            if not failing:
                break
            for j in cur.jobs:
                if j.site in failing:
                    short[j.owner, list(j.zones)] = TOO_WARM
            cur = replace(cur, jobs=[j for j in cur.jobs if j.site not in failing])
        if cur.jobs:
            kept.append(cur)
    return kept


def _shortfall(night: CompiledNight, short: np.ndarray):
    """``why(f, z)`` of the last-mile goods the trunk trips could not bring: reason and detail."""
    net = night.net

    def why(f: int, z: int) -> tuple[str, str]:
        goods = f"{net.forward_ids[f]}'s {ZONES[z]} goods"
        if short[f, z] == TOO_WARM:
            return "thermal_limit", f"the thermal model puts the trunk's hand-over of {goods} out of range"
        return "trunk_dropped", (f"the trunk fleet could not bring all of {goods} in time; what it brought "
                                 "went to the most perishable and valuable lines first")
    return why
