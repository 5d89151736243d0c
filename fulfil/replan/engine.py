"""The re-plan engine: the previous plan's trips as working state, repaired around the events.

Design (docs/replan.md explains it for people):

1. The previous plan's duties become working trips of the planner's own types
   (:class:`~fulfil.stages.types.Job`, :class:`~fulfil.stages.types.RoutedTrip`): one job per
   stop, its products as units.  A trip is *frozen* (its stops and departure stay) when it is
   locked, when it left the depot before "now" (the earliest breakdown), or when its vehicle is
   down; only frozen trips on the road may still lose a stop at a closed point.
2. Events: a broken vehicle keeps the stops it finished before the breakdown (the trip ends
   there and goes back); its later stops and trips become *orphans*.  Closed points' stops that
   are not delivered yet come off (unserved, ``closed``).  Late orders become new jobs with the
   planner's own job rules (:func:`fulfil.stages.jobs.last_mile_jobs`), capped by stock and
   locker cells.
3. Orphans, then late jobs, go in by cheapest feasible insertion into trips that have not left
   yet, or as a new trip of a vehicle of the same warehouse (after its last trip and a reload,
   never before "now", and only while the vehicle makes fewer than ``policies.max_trips``).  A candidate is timed with the planner's :func:`~fulfil.stages.timing.time_trip`
   and must keep every rule of the night (windows, promise, capacity, shift, reload, minutes out
   of zone, the thermal model's hand-over spec via :func:`~fulfil.stages.cold_chain.trip_cold_chain`).
4. Late goods need the trunk to bring them: a trunk stop at the warehouse that has not left yet
   takes the extra crates if it can still unload before the warehouse's dispatch; otherwise
   those late jobs are unserved (``trunk_dropped``).  Warehouse capacity likewise.
5. A relocate local search over the stops of the trips the events touched: a stop moves when
   the cost it saves exceeds the move penalty (per stop that leaves its previous trip).  Locked
   trips are frozen and a locked stop only moves within its vehicle, so no lock is ever broken.
"""

from __future__ import annotations

import math
import random
import time
from dataclasses import dataclass, field, replace

import numpy as np

from fulfil.network import Z
from fulfil.night import CompiledNight
from fulfil.plan_model import Plan
from fulfil.replan.events import Events
from fulfil.scenario.schema import ZONES
from fulfil.stages.cold_chain import failing_handovers, trip_cold_chain
from fulfil.stages.jobs import crates_kg, last_mile_jobs, vehicle_fits
from fulfil.stages.subproblems import fleet
from fulfil.stages.timing import TimedTrip, time_trip
from fulfil.stages.types import LAST_MILE, TRUNK, Job, RoutedTrip, UnservedLine
from fulfil.units import format_clock

#: Our own rule checks keep half the checker's tolerance (0.01 min) in reserve.
TOL = 0.005
#: Exactly evaluated insertion positions per stop (the cheapest by added km, plus every new-trip option).
POSITIONS = 12
#: Passes of the relocate search when no time limit stops it first.
MAX_PASSES = 20


@dataclass(eq=False)
class Item:
    """One stop's goods (a :class:`Job`) and where they came from."""

    job: Job
    #: trip id in the previous plan (None: a late order)
    origin: str | None
    kind: str  # "kept", "orphan", "late"
    #: a stop lock: the vehicle ``(type, index)`` it must stay on
    pin: tuple[int, int] | None = None


@dataclass(eq=False)
class WTrip:
    vehicle: tuple[int, int]
    tier: int
    depot: int
    departure: float
    items: list[Item]
    prev_id: str | None = None
    #: stops and departure stay (locked, on the road, or on a broken vehicle)
    frozen: bool = False
    locked: bool = False
    #: its stops changed in this re-plan
    touched: bool = False

    def routed(self, departure: float | None = None) -> RoutedTrip:
        t, k = self.vehicle
        return RoutedTrip(self.tier, t, k, self.depot, self.departure if departure is None else departure,
                          [it.job for it in self.items])


@dataclass
class Outcome:
    trips: list[RoutedTrip]
    unserved: list[UnservedLine]
    assign: np.ndarray
    #: working trip of each routed trip (by position), for the ids
    origin: list[WTrip]
    notes: list[str] = field(default_factory=list)


def _ceil2(x: float) -> float:
    return math.ceil(x * 100.0 - 1e-6) / 100.0


class Replanner:
    def __init__(self, night: CompiledNight, plan: Plan, events: Events, move_penalty: float):
        self.night = night
        self.net = night.net
        self.v = night.net.vehicles
        self.events = events
        self.penalty = move_penalty
        self.now = events.now
        self.notes: list[str] = []
        self.unserved: list[UnservedLine] = []
        self.duties: dict[tuple[int, int], list[WTrip]] = {}
        self.duty_id: dict[tuple[int, int], str] = {}
        self.down: dict[tuple[int, int], float] = {}
        # caches keyed by the jobs' identities; each entry keeps its jobs, so an id is never reused
        self._timed: dict[tuple, tuple[list[Job], TimedTrip]] = {}
        self._cold_ok: dict[tuple, tuple[list[Job], bool]] = {}
        site = {sid: i for i, sid in enumerate(night.travel.ids)}
        self.site = site
        self.pidx = {pid: i for i, pid in enumerate(self.net.pickup_ids)}
        self.kidx = {pid: i for i, pid in enumerate(self.net.product_ids)}
        self.fidx = {fid: i for i, fid in enumerate(self.net.forward_ids)}
        vt = {vid: i for i, vid in enumerate(self.v.ids)}
        self.assign = np.full(self.net.n_pickups, -1, dtype=np.int64)
        for pp, fw in plan.assignment.items():
            self.assign[self.pidx[pp]] = self.fidx[fw]
        for u in plan.unserved:
            self.unserved.append(UnservedLine(self.pidx[u.pickup_point], self.kidx[u.product], u.units, u.reason,
                                              u.detail))
        for d in plan.duties:
            key = (vt[d.vehicle_type], d.vehicle)
            self.duty_id[key] = d.id
            tier = TRUNK if d.tier == "trunk" else LAST_MILE
            self.duties[key] = [WTrip(key, tier, site[d.depot], t.departure,
                                      [Item(self._job(tier, s), t.id, "kept") for s in t.stops], t.id)
                                for t in d.trips]
        # the previous plan's stop departures, to tell what was delivered before a breakdown
        self.stop_done = {id(it): s.departure for d in plan.duties for t, wt in zip(d.trips, self.duties[
            (vt[d.vehicle_type], d.vehicle)], strict=True) for s, it in zip(t.stops, wt.items, strict=True)}

    # ----------------------------------------------------------------------------- state
    def _job(self, tier: int, s) -> Job:
        net = self.net
        site = self.site[s.location]
        if tier == LAST_MILE:
            units = {self.kidx[k]: q for k, q in (s.products or {}).items() if q > 0}
            crates, kg = crates_kg(units, net)
            return Job(site, self.pidx[s.location], tuple(z for z in range(Z) if crates[z] > 0), crates, kg, units)
        crates = np.zeros(Z, dtype=np.int64)
        kg = np.zeros(Z)
        for zname, load in s.delivered.items():
            crates[ZONES.index(zname)] = load.crates
            kg[ZONES.index(zname)] = load.kg
        return Job(site, self.fidx[s.location], tuple(z for z in range(Z) if crates[z] > 0), crates, kg)

    def _lines(self, job: Job, reason: str, detail: str) -> None:
        for k, q in sorted(job.units.items()):
            self.unserved.append(UnservedLine(job.owner, k, q, reason, detail))

    def all_trips(self) -> list[WTrip]:
        return [t for key in sorted(self.duties) for t in self.duties[key]]

    # ----------------------------------------------------------------------------- timing and rules
    def timed(self, wt: WTrip, departure: float) -> TimedTrip:
        jobs = [it.job for it in wt.items]
        key = (wt.vehicle[0], wt.tier, wt.depot, departure, tuple(map(id, jobs)))
        hit = self._timed.get(key)
        if hit is None:
            hit = self._timed[key] = (jobs, time_trip(self.night, wt.routed(departure)))
        return hit[1]

    def cold_ok(self, wt: WTrip, tt: TimedTrip) -> bool:
        if not self.night.policy.cold_chain_model:
            return True
        jobs = [it.job for it in wt.items]
        key = (wt.vehicle[0], tt.departure, tuple(map(id, jobs)))
        hit = self._cold_ok.get(key)
        if hit is None:
            hit = self._cold_ok[key] = (jobs, not failing_handovers(trip_cold_chain(self.night, tt)[1]))
        return hit[1]

    def trip_ok(self, t: int, tier: int, tt: TimedTrip) -> bool:
        """The rules of one trip the checker applies (besides the cold chain): shift, dispatch,
        capacity, windows, promise, minutes out of zone; trunk stops unloaded before dispatch."""
        night, net, v = self.night, self.net, self.v
        if tt.departure < v.shift_open[t] - TOL or tt.ret > v.shift_close[t] + TOL:
            return False
        f = tt.trip.depot - night.travel.n_central
        if tt.departure < (net.fw_dispatch[f] if tier == LAST_MILE else night.policy.trunk_departure) - TOL:
            return False
        load_c, load_kg = tt.load_crates, tt.load_kg
        zones = tuple(z for z in range(Z) if load_c[z] > 0 or load_kg[z] > 0)
        if not vehicle_fits(net, t, zones, load_c, load_kg):
            return False
        promise = night.policy.promise_minutes
        for st in tt.stops:
            if st.arrival > night.window_close[st.site] + TOL:
                return False
            ride = st.arrival - tt.departure
            if tier == LAST_MILE and (st.crates[0] > 0 or st.crates[1] > 0) and ride > promise + TOL:
                return False
            if tier == TRUNK and st.departure > net.fw_dispatch[st.owner] + TOL:
                return False
            for z in range(Z):
                if st.crates[z] <= 0 or (v.crates[t, z] > 0 and (z == 2 or v.refrigerated[t])):
                    continue
                prods = ([k for k in st.units if net.product_zone[k] == z] if tier == LAST_MILE
                         else list(np.flatnonzero(net.product_zone == z)))
                limit = min((float(net.product_max_out[k]) for k in prods), default=math.inf)
                if z == 1 and not v.refrigerated[t]:
                    limit = min(limit, float(v.box_minutes[t]))
                if ride > limit + TOL:
                    return False
        return True

    def eval_duty(self, key: tuple[int, int], trips: list[WTrip],
                  check_cold: bool = False) -> tuple[float, list[float]] | None:
        """``(cost, departures)`` of a vehicle's night made of ``trips``, or None when a rule breaks.

        Trips keep their order; a trip that is not frozen leaves later when the reload after the
        previous one needs it (departures are rounded up to 0.01 min, as the plan writes them)."""
        t = key[0]
        v = self.v
        if not trips:
            return 0.0, []
        if trips[0].tier == LAST_MILE and len(trips) > self.night.policy.max_trips:
            return None
        cost = float(v.fixed_cost[t])
        prev_ret = None
        deps = []
        for wt in trips:
            dep = wt.departure
            tt = self.timed(wt, dep)
            if prev_ret is not None:
                need = prev_ret + self.night.reload_min(int(tt.load_crates.sum()))
                if need > dep + TOL:
                    if wt.frozen:
                        return None
                    dep = _ceil2(need)
                    tt = self.timed(wt, dep)
            if (not wt.frozen or wt.touched) and (not self.trip_ok(t, wt.tier, tt)
                                                  or (check_cold and not self.cold_ok(wt, tt))):
                return None
            cost += float(v.cost_per_km[t]) * tt.km + float(v.cost_per_hour[t]) * (tt.ret - dep) / 60.0
            prev_ret = tt.ret
            deps.append(dep)
        return cost, deps

    def duty_cost(self, key: tuple[int, int]) -> float:
        res = self.eval_duty(key, self.duties.get(key, []))
        return res[0] if res is not None else math.inf

    def _commit(self, key: tuple[int, int], trips: list[WTrip], deps: list[float]) -> None:
        for wt, dep in zip(trips, deps, strict=True):
            wt.departure = dep
        self.duties[key] = trips

    # ----------------------------------------------------------------------------- events
    def apply_events(self, plan: Plan) -> list[Item]:
        """Locks, breakdowns and closures; returns the orphans (stops to re-plan) in plan order."""
        ev = self.events
        vt = {vid: i for i, vid in enumerate(self.v.ids)}
        by_id = {d.id: (vt[d.vehicle_type], d.vehicle) for d in plan.duties}
        locked = {lk.trip for lk in ev.locks if lk.trip is not None}
        for lk in ev.locks:
            if lk.trip is None:
                key = by_id[lk.duty]
                for wt in self.duties[key]:
                    for it in wt.items:
                        if self.net.pickup_ids[it.job.owner] == lk.pickup_point and wt.tier == LAST_MILE:
                            it.pin = key
        for d in ev.vehicle_down:
            self.down[by_id[d.duty]] = d.from_
        now = self.now
        closed = {self.pidx[c] for c in ev.closed}
        orphans: list[Item] = []
        for key in sorted(self.duties):
            kept_trips = []
            T = self.down.get(key)
            for wt in self.duties[key]:
                wt.locked = wt.prev_id in locked
                on_road = now is not None and wt.departure < now
                wt.frozen = wt.locked or on_road or T is not None
                keep = []
                for it in wt.items:
                    done_at = self.stop_done[id(it)]
                    delivered = now is not None and done_at <= (T if T is not None else now)
                    if wt.tier == LAST_MILE and it.job.owner in closed and not delivered and not wt.locked:
                        self._lines(it.job, "closed", "the pickup point was closed before this delivery (re-plan)")
                        continue
                    if T is not None and done_at > T and wt.tier == LAST_MILE:
                        it.kind = "orphan"
                        orphans.append(it)
                        continue
                    keep.append(it)
                if len(keep) != len(wt.items):
                    wt.touched = True
                    if T is not None and wt.departure >= T:
                        self.notes.append(f"{self.duty_id[key]} down from {format_clock(T)}: trip {wt.prev_id} "
                                          f"leaves after that; its {len(wt.items)} stop(s) are re-planned")
                    elif T is not None:
                        self.notes.append(
                            f"{self.duty_id[key]} down from {format_clock(T)}: trip {wt.prev_id} "
                            + (f"ends after stop {len(keep)} ({self.net.pickup_ids[keep[-1].job.owner]})"
                               if keep else "had delivered nothing and is dropped")
                            + f"; {len(wt.items) - len(keep)} stop(s) to re-plan")
                wt.items = keep
                if keep:
                    kept_trips.append(wt)
            self.duties[key] = kept_trips
        for key in [k for k, trips in self.duties.items() if not trips]:
            del self.duties[key]
        return orphans

    def late_items(self, late: np.ndarray) -> list[Item]:
        """Jobs of the late orders (``late[p, k]`` units), after closures, stock and locker cells."""
        net, night = self.net, self.night
        closed = {self.pidx[c] for c in self.events.closed}
        late = late.copy()
        for p, k in zip(*np.nonzero(late), strict=True):
            if p in closed:
                self.unserved.append(UnservedLine(int(p), int(k), int(late[p, k]), "closed",
                                                  "late order at a pickup point closed tonight"))
                late[p, k] = 0
        need = np.flatnonzero((late > 0).any(axis=1) & (self.assign < 0))
        if need.size:  # points the previous plan did not serve: the planner's allocation picks the warehouse
            from fulfil.stages.allocate import allocate

            alloc = allocate(night)
            for p in need:
                self.assign[p] = alloc.assign[p]
        for p in np.flatnonzero((late > 0).any(axis=1) & (self.assign < 0)):
            for k in np.flatnonzero(late[p]):
                self.unserved.append(UnservedLine(int(p), int(k), int(late[p, k]), "no_reachable_warehouse",
                                                  "late order: no forward warehouse reaches this point in time"))
            late[p] = 0
        # stock left at each central warehouse after what the plan delivers
        used = np.zeros_like(net.stock)
        for wt in self.all_trips():
            if wt.tier == LAST_MILE:
                c = int(net.fw_central[wt.depot - night.travel.n_central])
                for it in wt.items:
                    for k, q in it.job.units.items():
                        used[c, k] += q
        left = net.stock - used
        for p, k in zip(*np.nonzero(late), strict=True):
            c = int(net.fw_central[self.assign[p]])
            ok = int(min(late[p, k], max(0.0, left[c, k])))
            if ok < late[p, k]:
                self.unserved.append(UnservedLine(int(p), int(k), int(late[p, k] - ok), "stock_shortage",
                                                  f"late order: {net.central_ids[c]} has no more of this product "
                                                  "after tonight's plan"))
            left[c, k] -= ok
            late[p, k] = ok
        jobs_by_fw, lines = last_mile_jobs(night, self.assign, late)
        self.unserved += lines
        # locker cells over every visit tonight
        cells_used = np.zeros((net.n_pickups, Z), dtype=np.int64)
        for wt in self.all_trips():
            if wt.tier == LAST_MILE:
                for it in wt.items:
                    cells_used[it.job.owner] += it.job.crates
        out = []
        for f in sorted(jobs_by_fw):
            for j in jobs_by_fw[f]:
                p = j.owner
                if net.pp_locker[p] and any(cells_used[p, z] + j.crates[z] > net.pp_cells[p, z] for z in j.zones):
                    self._lines(j, "locker_cells_exceeded", "late order: the locker has no free cells left tonight")
                    continue
                cells_used[p] += j.crates
                out.append(Item(j, None, "late"))
        return out

    # ----------------------------------------------------------------------------- insertion
    def _depot_of(self, it: Item) -> int:
        return self.night.travel.forward_index(int(self.assign[it.job.owner]))

    def _options(self, it: Item, depot: int) -> list[tuple[float, tuple[int, int], int, int]]:
        """``(estimated added cost, vehicle, trip index or -1 for a new trip, position)``: the cheapest
        positions by added km in trips that may change, and a new trip on each usable vehicle."""
        v, travel = self.v, self.night.travel
        x = it.job.site
        est: list[tuple[float, tuple[int, int], int, int]] = []
        new: list[tuple[float, tuple[int, int], int, int]] = []
        idle_seen: set[int] = set()
        for key in fleet(self.night, LAST_MILE, depot):
            t = key[0]
            if key in self.down or (it.pin is not None and it.pin != key):
                continue
            if not vehicle_fits(self.net, t, it.job.zones, it.job.crates, it.job.kg):
                continue
            trips = self.duties.get(key, [])
            if not trips:
                if t in idle_seen:  # idle vehicles of one type are alike: the first one stands for all
                    continue
                idle_seen.add(t)
            if len(trips) < self.night.policy.max_trips:
                new.append((float(v.fixed_cost[t]) if not trips else 0.0, key, -1, 0))
            for n, wt in enumerate(trips):
                if wt.frozen:
                    continue
                tt = self.timed(wt, wt.departure)
                sites = np.array([wt.depot, *(s.site for s in tt.stops)], dtype=np.int64)
                to_x = travel.distance_m(sites, np.array([x]))[:, 0]
                from_x = travel.distance_m(np.array([x]), np.append(sites[1:], wt.depot))[0]
                legs = np.array([s.leg_km for s in tt.stops] + [tt.return_leg_km]) * 1000.0
                delta = (to_x + from_x - legs) / 1000.0 * float(v.cost_per_km[t])
                # positions are between stops; a stop of several jobs is one position
                bounds = np.cumsum([0] + [len(self._jobs_at(wt, i)) for i in range(len(tt.stops))])
                for i, d in enumerate(delta):
                    est.append((float(d), key, n, int(bounds[i])))
        est.sort(key=lambda e: e[0])
        return est[:POSITIONS] + new

    def _jobs_at(self, wt: WTrip, stop: int) -> list[Item]:
        """Items of the ``stop``-th stop of ``wt`` (consecutive items at one site make one stop)."""
        groups: list[list[Item]] = []
        for it in wt.items:
            if groups and groups[-1][0].job.site == it.job.site:
                groups[-1].append(it)
            else:
                groups.append([it])
        return groups[stop]

    def _variant(self, it: Item, key: tuple[int, int], n: int, pos: int) -> list[WTrip]:
        """The vehicle's trips with ``it`` inserted (``n`` -1: as a new last trip)."""
        trips = list(self.duties.get(key, []))
        if n < 0:
            t = key[0]
            earliest = max(float(self.net.fw_dispatch[self.assign[it.job.owner]]), float(self.v.shift_open[t]),
                           self.now if self.now is not None else -math.inf)
            if trips:
                last = trips[-1]
                tt = self.timed(last, last.departure)
                crates = int(it.job.crates.sum())
                earliest = max(earliest, tt.ret + self.night.reload_min(crates))
            trips.append(WTrip(key, LAST_MILE, self._depot_of(it), _ceil2(earliest), [it], touched=True))
        else:
            old = trips[n]
            items = list(old.items)
            items.insert(pos, it)
            trips[n] = replace(old, items=items, touched=True)
        return trips

    def _moved(self, it: Item, wt: WTrip) -> int:
        return int(it.origin is not None and wt.prev_id != it.origin)

    def insert(self, it: Item, extra: float = 0.0) -> tuple[float, tuple[int, int], list[WTrip], list[float]] | None:
        """The cheapest feasible insertion of ``it``: ``(added objective, vehicle, trips, departures)``."""
        depot = self._depot_of(it)
        best = None
        scored = []
        for _, key, n, pos in self._options(it, depot):
            trips = self._variant(it, key, n, pos)
            res = self.eval_duty(key, trips)
            if res is None:
                continue
            host = trips[n] if n >= 0 else trips[-1]
            delta = res[0] - self.duty_cost(key) + self.penalty * self._moved(it, host) + extra
            scored.append((delta, key, n, pos, trips))
        scored.sort(key=lambda s: (s[0], s[1], s[2], s[3]))
        for delta, key, _, _, trips in scored:
            res = self.eval_duty(key, trips, check_cold=True)
            if res is not None:
                best = (delta, key, trips, res[1])
                break
        return best

    def place(self, items: list[Item], why: str) -> list[Item]:
        """Insert ``items`` one by one; those no vehicle can take are unserved (``routing_dropped``)."""
        placed = []
        for it in items:
            best = self.insert(it) if self.assign[it.job.owner] >= 0 else None
            if best is None:
                self._lines(it.job, "routing_dropped", f"{why}: no vehicle of the warehouse could take this stop "
                                                       "inside its window, the promise and the fleet's capacity "
                                                       "and shifts")
                continue
            _, key, trips, deps = best
            self._commit(key, trips, deps)
            placed.append(it)
        return placed

    # ----------------------------------------------------------------------------- warehouse and trunk
    def lm_out(self) -> tuple[np.ndarray, np.ndarray]:
        """Crates and kg per (forward warehouse, zone) the last-mile trips take out, as timed."""
        net = self.net
        c = np.zeros((net.n_forward, Z), dtype=np.int64)
        kg = np.zeros((net.n_forward, Z))
        for wt in self.all_trips():
            if wt.tier == LAST_MILE:
                tt = self.timed(wt, wt.departure)
                f = wt.depot - self.night.travel.n_central
                c[f] += tt.load_crates
                kg[f] += tt.load_kg
        return c, kg

    def _drop_late(self, f: int, z: int, reason: str, detail: str) -> None:
        for key in sorted(self.duties):
            trips = self.duties[key]
            for wt in trips:
                if wt.depot - self.night.travel.n_central != f:
                    continue
                gone = [it for it in wt.items if it.kind == "late" and it.job.crates[z] > 0]
                for it in gone:
                    self._lines(it.job, reason, detail)
                if gone:
                    wt.items = [it for it in wt.items if it not in gone]
                    wt.touched = True
            self.duties[key] = [wt for wt in trips if wt.items]
            res = self.eval_duty(key, self.duties[key])
            if res is not None:
                self._commit(key, self.duties[key], res[1])
        for key in [k for k, trips in self.duties.items() if not trips]:
            del self.duties[key]

    def settle_supply(self) -> None:
        """Late goods within each warehouse's capacity and brought by a trunk trip that has not left."""
        net = self.net
        out_c, _ = self.lm_out()
        for f, z in zip(*np.nonzero((net.fw_capacity >= 0) & (out_c > net.fw_capacity)), strict=True):
            self._drop_late(int(f), int(z), "warehouse_capacity",
                            f"late order: {net.forward_ids[f]} holds no more {ZONES[z]} crates tonight")
        out_c, out_kg = self.lm_out()
        in_c = np.zeros((net.n_forward, Z), dtype=np.int64)
        in_kg = np.zeros((net.n_forward, Z))
        for wt in self.all_trips():
            if wt.tier == TRUNK:
                for it in wt.items:
                    in_c[it.job.owner] += it.job.crates
                    in_kg[it.job.owner] += it.job.kg
        for f, z in zip(*np.nonzero(out_c > in_c), strict=True):
            f, z = int(f), int(z)
            extra_c = int(out_c[f, z] - in_c[f, z])
            extra_kg = float(max(0.0, out_kg[f, z] - in_kg[f, z]))
            if not self._extend_trunk(f, z, extra_c, extra_kg):
                self._drop_late(f, z, "trunk_dropped",
                                f"late order: no trunk trip can still bring {net.forward_ids[f]}'s extra "
                                f"{ZONES[z]} goods before its dispatch")

    def _extend_trunk(self, f: int, z: int, crates: int, kg: float) -> bool:
        """Add ``crates``/``kg`` of zone ``z`` to a trunk stop at warehouse ``f`` that may still change."""
        for key in sorted(self.duties):
            trips = self.duties[key]
            for n, wt in enumerate(trips):
                if wt.tier != TRUNK or wt.frozen:
                    continue
                for i, it in enumerate(wt.items):
                    if it.job.owner != f or self.v.crates[key[0], z] <= 0:
                        continue
                    c = it.job.crates.copy()
                    w = it.job.kg.copy()
                    c[z] += crates
                    w[z] += kg
                    job = replace(it.job, crates=c, kg=w, zones=tuple(q for q in range(Z) if c[q] > 0))
                    items = list(wt.items)
                    items[i] = Item(job, it.origin, it.kind)
                    variant = list(trips)
                    variant[n] = replace(wt, items=items, touched=True)
                    res = self.eval_duty(key, variant, check_cold=True)
                    if res is not None:
                        self._commit(key, variant, res[1])
                        self.notes.append(f"trunk trip {wt.prev_id} brings {crates} more {ZONES[z]} crates to "
                                          f"{self.net.forward_ids[f]} for late orders")
                        return True
        return False

    # ----------------------------------------------------------------------------- improvement
    def improve(self, seed: int, deadline: float | None) -> int:
        """Relocate stops of the touched trips while that lowers cost + move penalties; returns moves made."""
        rng = random.Random(seed)
        made = 0
        for _ in range(MAX_PASSES):
            pool = [(key, it) for key in sorted(self.duties) for wt in self.duties[key]
                    if wt.touched and not wt.frozen and wt.tier == LAST_MILE for it in wt.items]
            rng.shuffle(pool)
            better = False
            for key, it in pool:
                if deadline is not None and time.perf_counter() > deadline:
                    return made
                if self._relocate(key, it):
                    better = True
                    made += 1
            if not better:
                break
        return made

    def _relocate(self, key: tuple[int, int], it: Item) -> bool:
        trips = self.duties[key]
        n = next(i for i, wt in enumerate(trips) if it in wt.items)
        host = trips[n]
        without = list(trips)
        rest = [x for x in host.items if x is not it]
        if rest:
            without[n] = replace(host, items=rest, touched=True)
        else:
            del without[n]
        res = self.eval_duty(key, without, check_cold=True)
        if res is None:
            return False
        saved = self.duty_cost(key) - res[0] + self.penalty * self._moved(it, host)
        # insert into the state without the stop, keeping the original to restore
        self.duties[key] = without
        best = self.insert(it)
        if best is None or best[0] - saved > -0.01:
            self.duties[key] = trips
            return False
        for wt, dep in zip(without, res[1], strict=True):
            wt.departure = dep
        _, bkey, btrips, bdeps = best
        if bkey == key:
            self._commit(key, btrips, bdeps)
        else:
            self._commit(key, without, res[1])
            self._commit(bkey, btrips, bdeps)
        if not self.duties[key]:
            del self.duties[key]
        return True

    # ----------------------------------------------------------------------------- result
    def outcome(self) -> Outcome:
        trips, origin = [], []
        for wt in self.all_trips():
            trips.append(wt.routed())
            origin.append(wt)
        return Outcome(trips, self.unserved, self.assign, origin, self.notes)


def late_units(night: CompiledNight, events: Events) -> np.ndarray:
    """``units[p, k]`` of the late orders (several lines for one pair add up)."""
    net = night.net
    out = np.zeros((net.n_pickups, len(net.product_ids)), dtype=np.int64)
    pidx = {pid: i for i, pid in enumerate(net.pickup_ids)}
    kidx = {pid: i for i, pid in enumerate(net.product_ids)}
    for o in events.late_orders:
        out[pidx[o.pickup_point], kidx[o.product]] += o.units
    return out


def run(night: CompiledNight, plan: Plan, events: Events, move_penalty: float, seed: int,
        time_limit_s: float | None) -> Outcome:
    deadline = None if not time_limit_s else time.perf_counter() + time_limit_s
    r = Replanner(night, plan, events, move_penalty)
    orphans = r.apply_events(plan)
    placed = r.place(orphans, "re-plan after a breakdown")
    late = r.late_items(late_units(night, events))
    placed_late = r.place(late, "late order")
    if placed_late:
        r.settle_supply()
    moves = r.improve(seed, deadline)
    if orphans:
        r.notes.append(f"{len(placed)} of {len(orphans)} stop(s) of broken vehicles re-planned on other vehicles")
    if late:
        r.notes.append(f"late orders: {len(placed_late)} new job(s) placed of {len(late)}")
    if moves:
        r.notes.append(f"local search: {moves} relocation(s), each saving more than the move penalty")
    return r.outcome()


__all__ = ["Item", "Outcome", "Replanner", "WTrip", "late_units", "run"]
