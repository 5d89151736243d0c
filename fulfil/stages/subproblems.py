"""Stage 3: routing problems as arrays (depot = node 0, jobs 1..N) for :mod:`solvers.routing`.

Travel times depend on when an arc can be driven: each arc is priced at its slowest exact
time-dependent traversal over the departures the problem allows on it (:func:`arc_travel_s`),
so every window the solver meets still holds when :mod:`.assemble` re-times the trips exactly,
and a trip that must be over before the morning peak is priced at night speeds
(docs/travel_time.md).  The promise, the insulated-box limit and the thermal model's proxy
limits become per-vehicle deadlines.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field, replace

import numpy as np

from fulfil.feasibility import on_shift
from fulfil.network import Z
from fulfil.night import CompiledNight
from fulfil.stages.jobs import priority_per_crate, weighted_crates
from fulfil.stages.types import LAST_MILE, TRUNK, Job, Subproblem
from fulfil.units import BIG_TIME_S, COST_SCALE

#: Set points used to price a minute of transit for cold goods (DOMAIN.md §2.2/§2.4).
SETPOINT_C = {0: -20.0, 1: 2.0}
#: Assumed stop rate of the synthetic route behind a thermal proxy limit (stops per hour).
PROXY_STOPS_PER_HOUR = 5.0
#: How far a re-solve may move a stop from the service start a first solve found, minutes
#: (:func:`retimed_subproblem`): wide enough to reorder a trip, narrow enough to price its hour.
RETIME_SLACK_MIN = 30.0
#: Shortest wave of a vehicle's night worth planning, minutes on the road (its reload excluded).
MIN_WAVE_MIN = 45.0


def fleet(night: CompiledNight, tier: int, depot: int, earliest: float | None = None,
          limit: int | None = None) -> list[tuple[int, int]]:
    """Every vehicle ``(type, index)`` of ``tier`` based at global site ``depot``; with ``earliest``,
    only types still on shift when they can leave (:func:`~fulfil.feasibility.on_shift`); with
    ``limit``, at most that many of a type (a routing problem of ``limit`` jobs never uses more
    identical vehicles, and a count of millions would only fill memory)."""
    v = night.net.vehicles
    return [(t, k) for t in range(len(v.ids)) if v.tier[t] == tier and int(v.home[t]) == depot
            and (earliest is None or on_shift(night.net, t, earliest))
            for k in range(int(v.count[t]) if limit is None else min(int(v.count[t]), limit))]


def spoilage_cost_per_s(night: CompiledNight, jobs: list[Job]) -> np.ndarray:
    """Cost units per second of transit for each job: value × shelf life consumed per second
    at the zone's set point (chilled 2 °C, frozen −20 °C)."""
    from solvers.thermal.quality import shelf_life_h

    net = night.net
    rate = {}
    for k in range(len(net.product_ids)):
        z = int(net.product_zone[k])
        cls = night.product_class[k]
        if z in SETPOINT_C and cls is not None:
            life_s = float(shelf_life_h(cls, SETPOINT_C[z])) * 3600.0
            rate[k] = float(net.product_price[k]) / life_s * COST_SCALE
    out = np.zeros(len(jobs) + 1)
    for i, j in enumerate(jobs, start=1):
        out[i] = sum(q * rate[k] for k, q in j.units.items() if k in rate)
    return out


def _ints(x: np.ndarray) -> np.ndarray:
    """``x`` (non-negative) rounded to int64 for the routing engines, clipped to their bound."""
    from solvers.routing.problem import MAX_MAGNITUDE

    return np.minimum(np.round(np.asarray(x, dtype=np.float64)), float(MAX_MAGNITUDE)).astype(np.int64)


def _seconds(minutes: np.ndarray | float, up: bool = False) -> np.ndarray:
    """Minutes → whole seconds (rounded down, or up for durations), clipped to
    :data:`~fulfil.units.BIG_TIME_S`: whatever takes longer never happens tonight anyway."""
    s = np.asarray(minutes, dtype=np.float64) * 60.0
    s = np.ceil(s - 1e-9) if up else np.floor(s)
    return np.minimum(s, float(BIG_TIME_S)).astype(np.int64)


def _scaled_costs(night: CompiledNight, tier: int, vehicles: list[tuple[int, int]], jobs: list[Job],
                  penalty_rmb: np.ndarray, max_dist_m: float, horizon_s: float,
                  lead: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """Fixed costs (only on the vehicles that lead, when ``lead`` is given), rates, penalties and
    arrival costs in cost units, scaled down together when the largest term one arc, vehicle, job or route second can
    cost would pass the engines' bound (the ranking of plans stays the same; the plan's own costs are
    recomputed from the scenario)."""
    from solvers.routing.problem import MAX_MAGNITUDE

    v = night.net.vehicles
    t = np.array([a for a, _ in vehicles], dtype=np.int64)
    fixed = v.fixed_cost[t] * COST_SCALE * (1.0 if lead is None else (lead < 0))
    per_m = v.cost_per_km[t] * COST_SCALE / 1000.0
    per_s = v.cost_per_hour[t] * COST_SCALE / 3600.0
    penalty = penalty_rmb * COST_SCALE
    arrival = (spoilage_cost_per_s(night, jobs) if tier == LAST_MILE and night.policy.spoilage_in_objective
               else np.zeros(0))
    peak = max([float(fixed.max(initial=0.0)), float(penalty.max(initial=0.0)),
                max_dist_m * float(per_m.max(initial=0.0)),
                horizon_s * float(per_s.max(initial=0.0)), horizon_s * float(arrival.max(initial=0.0))])
    scale = min(1.0, MAX_MAGNITUDE / 4 / peak) if peak > 0 else 1.0
    return {"fixed_cost": _ints(fixed * scale), "cost_per_m": per_m * scale, "cost_per_s": per_s * scale,
            "penalty": _ints(penalty * scale), "arrival_cost_per_s": arrival * scale}


def build_subproblem(night: CompiledNight, tier: int, owner: int, jobs: list[Job], depot: int,
                     vehicles: list[tuple[int, int]], start_min: np.ndarray,
                     cold_limits: dict[tuple[int, int], float] | None = None, *,
                     end_min: np.ndarray | None = None, lead: np.ndarray | None = None,
                     reload_crates: np.ndarray | None = None) -> Subproblem:
    """The routing problem of one depot's jobs and fleet, vehicles leaving at ``start_min`` and back
    by ``end_min`` (default: their shift's close).  With ``lead`` (:func:`wave_fleet`), a routing
    vehicle whose ``lead`` is another is a later wave of that one: used only with it, which must then
    be back in time to be reloaded with a full body before the wave leaves, and only the lead pays
    the fixed cost, once a night.

    Every number stays inside the engines' bounds whatever the scenario holds: loads and
    capacities are clipped (a job goes only to vehicles whose unclipped capacity holds it),
    times past ten days mean "never", and a trunk job that cannot be unloaded before its
    warehouse's dispatch is allowed no vehicle.  ``reload_crates``
    (per routing vehicle) is the load a later wave's reload is timed for (default: a full body)."""
    from solvers.routing import RoutingProblem

    net, travel, pol = night.net, night.travel, night.policy
    v = net.vehicles
    N, V = len(jobs), len(vehicles)
    sites = np.array([depot] + [j.site for j in jobs], dtype=np.int64)
    uniq, inv = np.unique(sites, return_inverse=True)
    dist_u = travel.distance_m(uniq, uniq)
    tvec = np.array([a for a, _ in vehicles], dtype=np.int64)
    profiles = sorted({v.profile[t] for t in tvec}) or [night.default_profile]
    dist = _ints(dist_u[np.ix_(inv, inv)])

    site_id = np.concatenate([[-1], inv[1:]]).astype(np.int64)
    fixed_s = np.zeros(N + 1, dtype=np.int64)
    var_s = np.zeros(N + 1, dtype=np.int64)
    tw_open = np.zeros(N + 1, dtype=np.int64)
    tw_close = np.full(N + 1, BIG_TIME_S, dtype=np.int64)
    # dimensions: crates per zone, kg per zone, then the body totals (movable partitions); whole
    # units as floats first, so a job too big for a vehicle is caught before the clipping
    need = np.zeros((N + 1, 2 * Z + 2))
    penalty_rmb = np.zeros(N + 1)
    never = np.zeros(N + 1, dtype=bool)  # jobs no vehicle may take
    weight = priority_per_crate(net)  # dropping perishable, valuable goods costs more (docs: who is served first)
    for i, j in enumerate(jobs, start=1):
        n_crates = float(j.crates.sum())
        fixed_min = float(night.service_fixed_min[j.site])
        per = float(night.service_per_crate_min[j.site])
        tw_open[i] = _seconds(night.window_open[j.site])
        if tier == LAST_MILE:
            tw_close[i] = _seconds(night.window_close[j.site])
        else:  # arrive in the receiving window and be unloaded before the last-mile dispatch
            latest = min(night.window_close[j.site], net.fw_dispatch[j.owner] - fixed_min - per * n_crates)
            tw_close[i] = _seconds(max(latest, 0.0))
            never[i] = tw_close[i] < tw_open[i]
            tw_close[i] = max(tw_close[i], tw_open[i])
        fixed_s[i] = _seconds(fixed_min, up=True)
        var_s[i] = _seconds(per * n_crates, up=True)
        need[i, :Z] = j.crates
        need[i, Z:2 * Z] = np.ceil(j.kg - 1e-9)
        need[i, 2 * Z] = n_crates
        need[i, 2 * Z + 1] = np.ceil(j.kg.sum() - 1e-9)
        penalty_rmb[i] = pol.unserved_penalty_per_crate * max(1.0, n_crates, weighted_crates(j.units, net, weight))

    room = np.zeros((V, 2 * Z + 2))
    allowed = np.zeros((V, N + 1), dtype=bool)
    deadline = np.full((V, N + 1), BIG_TIME_S, dtype=np.int64)
    start_s = np.round(start_min * 60).astype(np.int64)
    end_s = _seconds(v.shift_close[tvec] if end_min is None else end_min)
    no_limit = BIG_TIME_S / 60.0
    chilled_min_out = float(net.product_max_out[net.product_zone == 1].min()) if (net.product_zone == 1).any() \
        else no_limit
    # which jobs a vehicle type may carry and the minutes each may ride: the same for every vehicle of a type
    by_type: dict[int, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}
    for a, (t, _) in enumerate(vehicles):
        room[a, :Z] = v.crates[t]
        room[a, Z:2 * Z] = np.floor(v.kg[t] + 1e-9)
        room[a, 2 * Z] = v.total_crates[t]
        room[a, 2 * Z + 1] = np.floor(v.total_kg[t] + 1e-9)
        if t not in by_type:
            by_type[t] = _type_limits(night, tier, t, jobs, cold_limits, no_limit, chilled_min_out)
        allow_row, lim_idx, lim_min = by_type[t]
        allowed[a, 1:] = allow_row & np.all(need[1:] <= room[a], axis=1) & ~never[1:]
        if lim_idx.size:
            deadline[a, lim_idx] = np.minimum(np.floor(start_s[a] + lim_min * 60), BIG_TIME_S).astype(np.int64)
    travel_s = arc_travel_s(night, uniq, inv, dist_u, profiles, start_s, end_s, tw_open, tw_close, fixed_s + var_s,
                            allowed, deadline)
    costs = _scaled_costs(night, tier, vehicles, jobs, penalty_rmb, float(dist.max(initial=0)),
                          float(end_s.max(initial=0)), lead)
    problem = RoutingProblem(
        dist_m=dist, travel_s=travel_s, site=site_id, service_fixed_s=fixed_s, service_var_s=var_s,
        tw_open_s=tw_open, tw_close_s=tw_close, demand=_ints(need), capacity=_ints(room), allowed=allowed,
        deadline_s=deadline, start_s=start_s, end_max_s=end_s, **costs,
        tw_gaps_s=_window_gaps_s(night, tier, jobs, tw_close),
        needs_vehicle=np.zeros(0, dtype=np.int64) if lead is None else np.asarray(lead, dtype=np.int64),
        lead_back_by_s=np.zeros(0, dtype=np.int64) if lead is None else np.array(
            [0 if ld < 0 else max(0, int(start_s[a]) - _seconds(night.reload_min(
                int(v.total_crates[tvec[a]] if reload_crates is None else reload_crates[a])), up=True))
             for a, ld in enumerate(lead)], dtype=np.int64),
    )
    return Subproblem(tier=tier, owner=owner, depot=depot, jobs=jobs, vehicles=vehicles, problem=problem,
                      cold_limits=dict(cold_limits or {}), end_min=end_min, lead=lead)


def _window_gaps_s(night: CompiledNight, tier: int, jobs: list[Job], tw_close: np.ndarray) -> np.ndarray:
    """int64[N+1, G, 2]: the gaps between the last-mile jobs' receiving windows, in seconds, widened
    to whole seconds (close rounded down, reopen up, so a start the solver finds lies in a window);
    empty when no job has more than one window."""
    gaps = night.window_gaps[[j.site for j in jobs]] if tier == LAST_MILE and jobs else np.zeros((0, 0, 2))
    real = np.isfinite(gaps[..., 0])
    if not real.any():
        return np.zeros((0, 0, 2), dtype=np.int64)
    out = np.zeros((len(jobs) + 1, gaps.shape[1], 2), dtype=np.int64)  # (0, 0): padding
    close = _seconds(np.where(real, gaps[..., 0], 0.0))
    reopen = np.minimum(_seconds(np.where(real, gaps[..., 1], 0.0), up=True), tw_close[1:, None])
    for k in range(gaps.shape[1]):  # a window shorter than a second leaves no whole second: gaps merge
        if k:
            close[:, k] = np.maximum(close[:, k], reopen[:, k - 1])
        reopen[:, k] = np.maximum(reopen[:, k], close[:, k])
    out[1:, :, 0] = np.where(real, close, 0)
    out[1:, :, 1] = np.where(real, reopen, 0)
    return out


def arc_travel_s(night: CompiledNight, uniq: np.ndarray, inv: np.ndarray, dist_u: np.ndarray, profiles: list[str],
                 start_s: np.ndarray, end_s: np.ndarray, tw_open: np.ndarray, tw_close: np.ndarray,
                 leave_s: np.ndarray, allowed: np.ndarray, deadline: np.ndarray) -> np.ndarray:
    """Travel seconds of every arc of the routing problem: the slowest exact time-dependent traversal
    over the departures the problem allows on that arc (:func:`geo.matrices.window_time_matrix_s`).

    A job is left between its window's opening (or the first vehicle's departure) plus its service
    and its latest arrival plus its service; the depot at one of the vehicles' departures; an arc
    must arrive by the latest time its head can be reached (window, the promise or the thermal
    limit of the vehicles allowed there, their shift).  Each arc is priced at the slowest of those
    departures, so a trip that must be over before the morning peak sees night speeds, while every
    time the engine meets still holds when :mod:`.timing` re-times the trip exactly (a departure
    slower than the price arrives too late, which the engine refuses anyway).
    """
    from geo.matrices import window_time_matrix_s

    n = len(inv)
    if not len(start_s):  # no vehicle: no arc is used
        return np.zeros((n, n), dtype=np.int64)
    usable = allowed.copy()
    usable[:, 0] = True
    latest = np.minimum(tw_close, np.where(usable, deadline, 0).max(axis=0)).astype(np.float64)
    latest = np.minimum(latest, np.where(usable, end_s[:, None], 0).max(axis=0))
    latest[0] = float(end_s.max())
    earliest = np.maximum(tw_open, start_s.min()).astype(np.float64)
    lo = earliest + leave_s
    hi = np.maximum(latest, earliest) + leave_s
    starts = np.unique(start_s).astype(np.float64)
    k = len(starts)
    out = np.zeros((n, n))
    for prof in profiles:
        free = night.travel.free_flow_s(uniq, uniq, prof, dist_u)[np.ix_(inv, inv)]
        rows = np.concatenate([np.repeat(free[:1], k, axis=0), free[1:]])
        t = window_time_matrix_s(rows, night.travel.hourly_factors(prof), np.concatenate([starts, lo[1:]]),
                                 np.concatenate([starts, hi[1:]]), latest)
        # the depot row: the slowest of the vehicles' departures that arrive in time (the first's if none
        # does), and at least long enough that a departure arriving too late at exact times arrives too
        # late at the price as well (one second past the time it has left): the matrix is shared by
        # all vehicles, so a later wave priced at an earlier wave's speed would otherwise be let through
        fits = starts[:, None] + t[:k] <= latest[None, :]
        depot = np.where(fits.any(axis=0), np.where(fits, t[:k], -np.inf).max(axis=0), t[0])
        late = np.where(fits, -np.inf, np.minimum(t[:k], latest[None, :] - starts[:, None] + 1.0))
        depot = np.maximum(depot, late.max(axis=0))
        np.maximum(out, np.concatenate([depot[None, :], t[k:]]), out=out)
    return _seconds(out / 60.0, up=True)


def retimed_subproblem(night: CompiledNight, sp: Subproblem, start_min: dict[int, float]) -> Subproblem:
    """``sp`` with windows narrowed around the exact service starts of a first solve (``start_min``: job
    number → clock minutes) and every arc priced again (:func:`arc_travel_s`) for the departures the
    narrowed windows allow.

    One matrix serves all vehicles and waves, so an arc the first wave may drive in the peak and a
    later wave after it is priced at the peak.  A stop served in faster hours than the slowest of its
    window is pinned to within :data:`RETIME_SLACK_MIN` of its start on the side where the slower
    hours lie (a later wave's stop may no longer be reached before the peak ends, a stop served
    before the peak no longer after it starts), so its arcs see the speeds of its own hours; the
    other stops keep their windows and may still move between trips.  The narrowed windows lie
    inside the scenario's, so whatever the re-solve meets holds too.
    """
    pr = sp.problem
    v = night.net.vehicles
    profiles = sorted({v.profile[t] for t, _ in sp.vehicles}) or [night.default_profile]
    factors = np.min([night.travel.hourly_factors(p) for p in profiles], axis=0)

    def slowest(a_s: float, b_s: float) -> float:
        """Slowest factor of the clock hours overlapping ``[a_s, b_s]`` (the fastest one when empty)."""
        if b_s < a_s:
            return float(factors.max())
        h = np.arange(math.floor(a_s / 3600.0), max(math.ceil(b_s / 3600.0), math.floor(a_s / 3600.0) + 1))
        return float(factors[h % 24].min())

    tw_open = pr.tw_open_s.copy()
    tw_close = pr.tw_close_s.copy()
    slack = RETIME_SLACK_MIN * 60.0
    for n, m in start_min.items():
        s, o, c = m * 60.0, float(tw_open[n]), float(min(tw_close[n], pr.end_max_s.max()))
        own = slowest(max(o, s - slack), min(c, s + slack))
        if own <= slowest(o, c):
            continue
        if slowest(o, s - slack) < own:
            tw_open[n] = max(int(tw_open[n]), math.floor(s - slack))
        if slowest(s + slack, c) < own:
            tw_close[n] = max(int(tw_open[n]), min(int(tw_close[n]), math.floor(s + slack)))
    sites = np.array([sp.depot] + [j.site for j in sp.jobs], dtype=np.int64)
    uniq, inv = np.unique(sites, return_inverse=True)
    travel_s = arc_travel_s(night, uniq, inv, night.travel.distance_m(uniq, uniq), profiles, pr.start_s,
                            pr.end_max_s, tw_open, tw_close, pr.service_fixed_s + pr.service_var_s, pr.allowed,
                            pr.deadline_s)
    return replace(sp, problem=replace(pr, tw_open_s=tw_open, tw_close_s=tw_close, travel_s=travel_s))


def _type_limits(night: CompiledNight, tier: int, t: int, jobs: list[Job],
                 cold_limits: dict[tuple[int, int], float] | None, no_limit: float,
                 chilled_min_out: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(allowed[N], job numbers with a ride limit, those limits in minutes)`` of vehicle type ``t``."""
    net, pol = night.net, night.policy
    v = net.vehicles
    allow = np.zeros(len(jobs), dtype=bool)
    idx: list[int] = []
    mins: list[float] = []
    for i, j in enumerate(jobs, start=1):
        allow[i - 1] = all(v.crates[t, z] > 0 for z in j.zones)
        if not allow[i - 1]:
            continue
        limit = no_limit
        if tier == LAST_MILE and (j.crates[0] > 0 or j.crates[1] > 0):
            limit = pol.promise_minutes
        if not v.refrigerated[t] and j.crates[1] > 0:
            chilled = [k for k in j.units if int(net.product_zone[k]) == 1]
            prod_lim = min((float(net.product_max_out[k]) for k in chilled), default=no_limit)
            if tier == TRUNK:
                prod_lim = chilled_min_out
            limit = min(limit, float(v.box_minutes[t]), prod_lim)
        if cold_limits:  # proxy limits derived from the thermal model, per (vehicle type, zone)
            for z in (0, 1):
                if j.crates[z] > 0 and (t, z) in cold_limits:
                    limit = min(limit, cold_limits[(t, z)])
        if limit < no_limit:
            idx.append(i)
            mins.append(float(limit))
    return allow, np.asarray(idx, dtype=np.int64), np.asarray(mins, dtype=np.float64)


@dataclass
class ProxyLimits:
    """Thermal proxy limits, memoised for one planning run (no module-level cache)."""

    night: CompiledNight
    memo: dict[tuple, float | None] = field(default_factory=dict)

    def for_warehouse(self, f: int, jobs: list[Job], vehicles: list[tuple[int, int]]) -> dict[tuple[int, int], float]:
        """Minutes out of the cold room each refrigerated type's frozen/chilled goods may ride,
        derived from the thermal model for this warehouse's stop pattern and tonight's weather."""
        night = self.night
        v = night.net.vehicles
        out: dict[tuple[int, int], float] = {}
        hour = int(night.net.fw_dispatch[f] // 60) % 24
        t_out = float(max(night.weather_c[hour:hour + 3].tolist() or night.weather_c[:1].tolist()))
        sites = np.array([j.site for j in jobs], dtype=np.int64)
        # the stop pattern parks as long as tonight's stops do on average (shops and lockers)
        service = (round(float(night.service_fixed_min[sites].mean()), 2),
                   round(float(night.service_per_crate_min[sites].mean()), 3))
        for t in sorted({t for t, _ in vehicles}):
            if not v.refrigerated[t]:
                continue
            total = int(v.total_crates[t])
            for z in (0, 1):
                with_zone = [j.crates[z] for j in jobs if j.crates[z] > 0]
                if v.crates[t, z] <= 0 or not with_zone:
                    continue
                lim = self._limit(t, z, int(v.crates[t, z]) / total, t_out, round(float(np.mean(with_zone)), 1),
                                  service)
                if lim is not None:
                    out[(t, z)] = lim
        return out

    def _limit(self, t: int, z: int, frac: float, t_out: float, crates_per_stop: float,
               service: tuple[float, float]) -> float | None:
        from solvers.thermal.model import max_route_minutes

        b = self.night.bodies
        body = (float(b.k_w_m2k[t]), float(b.area_m2[t]), float(b.volume_m3[t]), bool(b.curtain[t]),
                float(b.unit_kw[t]))
        key = (body, z, round(frac, 3), t_out, crates_per_stop, service)
        if key not in self.memo:
            park_min = service[0] + service[1] * crates_per_stop
            # the synthetic trip stops every 12 min, or less often when parking takes longer
            per_hour = min(PROXY_STOPS_PER_HOUR, 60.0 / (park_min + 2.0))
            res = max_route_minutes(compartment_params(self.night, t, z, frac), t_out,
                                    stops_per_hour=per_hour, crates_per_stop=crates_per_stop,
                                    service_fixed_min=service[0], service_per_crate_min=service[1])
            self.memo[key] = float(res.max_minutes) if res.reason == "temperature" else None
        return self.memo[key]


def compartment_params(night: CompiledNight, t: int, z: int, fraction: float):
    """Thermal parameters of vehicle type ``t``'s zone-``z`` compartment taking ``fraction`` of the body."""
    from solvers.thermal.route import body_compartment

    b = night.bodies
    return body_compartment("frozen" if z == 0 else "chilled", fraction, k_w_m2k=float(b.k_w_m2k[t]),
                            area_m2=float(b.area_m2[t]), volume_m3=float(b.volume_m3[t]),
                            unit_kw=float(b.unit_kw[t]), curtain=bool(b.curtain[t]))


def wave_starts(night: CompiledNight, t: int, first: float, close: float) -> list[tuple[float, float]]:
    """``(departure, latest return)`` of each wave of a vehicle of type ``t``, clock minutes.

    The waves share the time from ``first`` (the first departure) to ``close`` (when most of the
    warehouse's stops stop receiving) evenly, each followed by a full reload: a trip of one wave is
    back in time to reload the vehicle with a full body for the next, so any trip of a wave can
    follow any trip of the wave before on one vehicle of its type.  Fewer waves when one would be
    shorter than :data:`MIN_WAVE_MIN` of driving; the last wave may run to the shift's close.
    """
    v = night.net.vehicles
    reload = night.reload_min(int(v.total_crates[t]))
    shift_close = float(v.shift_close[t])
    m = night.policy.max_trips
    while m > 1 and (close - first + reload) / m < reload + MIN_WAVE_MIN:
        m -= 1
    length = (close - first + reload) / m
    starts = [float(first + math.floor(s * length)) for s in range(m)]
    starts = [d for d in starts if d < shift_close]
    ends = [d - reload for d in starts[1:]] + [shift_close]
    return list(zip(starts, ends, strict=True))


def wave_fleet(night: CompiledNight, f: int, jobs: list[Job], veh: list[tuple[int, int]]
               ) -> tuple[list[tuple[int, int]], np.ndarray, np.ndarray | None, np.ndarray | None]:
    """Routing vehicles of forward warehouse ``f``: ``(vehicles, start, end, lead)``.

    With ``policies.max_trips`` 1, the fleet itself (leaving at the dispatch, back by the shift's
    close).  Otherwise one routing vehicle per vehicle and wave (:func:`wave_starts`), numbered
    ``wave × n + index`` among the ``n`` of its type; each later wave's ``lead`` is the routing
    vehicle of the same vehicle's first wave (``-1`` for the first), so the objective pays the
    fixed cost once per vehicle.  The first wave may run to the shift's close when no later wave
    of its vehicle is used (the problem's ``lead_back_by_s``), so waves never serve less than one
    trip per vehicle would.  :func:`fulfil.stages.waves.chain_trips` then puts the trips
    on vehicles.
    """
    net = night.net
    v = net.vehicles
    first = {t: max(float(net.fw_dispatch[f]), float(v.shift_open[t])) for t, _ in veh}
    if night.policy.max_trips == 1:
        return veh, np.array([first[t] for t, _ in veh]), None, None
    sites = np.array([j.site for j in jobs], dtype=np.int64)
    waves = {t: wave_starts(night, t, first[t], float(np.median(np.minimum(night.window_close[sites],
                                                                           v.shift_close[t]))))
             for t in first}
    return _wave_vehicles(night, veh, waves)


#: Where a trunk's last wave leaves, as a share of the time from its departure to the close of the
#: receiving window (earlier waves evenly before it): trunk trips are long against that window
#: (unloading a warehouse takes half an hour or more), so no one split suits every night and the
#: trunk stage solves each and keeps the best.
TRUNK_LAST_WAVE_AT = (0.35, 0.45, 0.55, 0.65, 0.75)
#: Loads (shares of a full body) a trunk's later wave is assumed to reload, one layout each: a
#: full body is always safe, half a body leaves the first wave longer; the trunk stage keeps a
#: layout only when every later trip's real reload fits.
TRUNK_RELOAD_FILL = (1.0, 0.5)


def trunk_wave_layouts(night: CompiledNight, veh: list[tuple[int, int]]) -> list[tuple]:
    """Candidate routing fleets ``(vehicles, start, end, lead, reload_crates)`` of one central warehouse's
    trunk trucks ``veh``.

    The first is one trip per truck, leaving at ``policies.trunk_departure`` (or the shift's
    opening); with ``policies.trunk_max_trips`` above 1, then every number of waves up to it with
    the last wave leaving at each share of :data:`TRUNK_LAST_WAVE_AT` of the time to the receiving
    window's close.  Each wave of a truck must be back in time to reload a full body before its
    next (as :func:`wave_fleet` leads them; or, in a second layout of each, half a body:
    :data:`TRUNK_RELOAD_FILL`), and a later wave still reaches its warehouses inside the receiving
    window.
    """
    net, pol = night.net, night.policy
    v = net.vehicles
    first = {t: max(pol.trunk_departure, float(v.shift_open[t])) for t, _ in veh}
    out: list[tuple] = [(veh, np.array([first[t] for t, _ in veh]), None, None, None)]
    for m, share, fill in itertools.product(range(2, pol.trunk_max_trips + 1), TRUNK_LAST_WAVE_AT, TRUNK_RELOAD_FILL):
        waves = {}
        for t, f0 in first.items():
            close = min(pol.trunk_receiving_close, float(v.shift_close[t]))
            reload = night.reload_min(math.ceil(fill * int(v.total_crates[t])))
            last = f0 + share * (close - f0)
            starts = [f0] + [float(math.floor(f0 + (last - f0) * s / (m - 1))) for s in range(1, m)]
            if any(b - a < reload + MIN_WAVE_MIN for a, b in zip(starts, starts[1:])) or last >= close:
                starts = [f0]  # too short to be worth a reload: one trip
            waves[t] = list(zip(starts, [d - reload for d in starts[1:]] + [float(v.shift_close[t])], strict=True))
        if all(len(w) == 1 for w in waves.values()):
            continue
        routing_veh, start, end, lead = _wave_vehicles(night, veh, waves)
        crates = np.array([math.ceil(fill * int(v.total_crates[t])) for t, _ in routing_veh], dtype=np.int64)
        out.append((routing_veh, start, end, lead, crates))
    return out


def _wave_vehicles(night: CompiledNight, veh: list[tuple[int, int]], waves: dict[int, list[tuple[float, float]]]
                   ) -> tuple[list[tuple[int, int]], np.ndarray, np.ndarray, np.ndarray]:
    """One routing vehicle per vehicle of ``veh`` and wave of its type (``waves``), as :func:`wave_fleet`
    numbers and leads them."""
    v = night.net.vehicles
    n_of = {t: sum(1 for a, _ in veh if a == t) for t in waves}
    out: list[tuple[int, int]] = []
    start: list[float] = []
    end: list[float] = []
    lead: list[int] = []
    for s in range(max(len(w) for w in waves.values())):
        for a, (t, k) in enumerate(veh):
            if s < len(waves[t]):
                out.append((t, s * n_of[t] + k))
                start.append(waves[t][s][0])
                end.append(waves[t][s][1] if s else float(v.shift_close[t]))  # see lead_back_by_s
                lead.append(-1 if s == 0 else a)  # the first wave's vehicles come first, in fleet order
    return out, np.array(start), np.array(end), np.array(lead, dtype=np.int64)


def last_mile_subproblems(night: CompiledNight, jobs_by_fw: dict[int, list[Job]],
                          proxy: ProxyLimits | None = None) -> list[Subproblem]:
    """Each forward warehouse's last-mile subproblem (warehouses without jobs are left out)."""
    net, travel = night.net, night.travel
    proxy = proxy or ProxyLimits(night)
    subs = []
    for f, jobs in jobs_by_fw.items():
        if not jobs:
            continue
        depot = travel.forward_index(f)
        real = fleet(night, LAST_MILE, depot, earliest=float(net.fw_dispatch[f]), limit=len(jobs))
        veh, start, end, lead = wave_fleet(night, f, jobs, real)
        limits = proxy.for_warehouse(f, jobs, real) if night.policy.cold_chain_model else {}
        subs.append(build_subproblem(night, LAST_MILE, f, jobs, depot, veh, start, limits, end_min=end,
                                     lead=lead))
    return subs
