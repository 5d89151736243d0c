"""The nightly plan: scenario → allocation → last-mile and trunk routing → plan.

``plan_night`` is a plain function with an explicit seed and budget.  Stages:

1. compile the scenario to arrays and pre-check reachability (``feasibility``);
2. assign pickup points to forward warehouses and allocate short stock (numba kernels);
3. per forward warehouse, build a last-mile routing problem (zones grouped into jobs a
   vehicle can carry whole; promise and out-of-zone limits as per-vehicle deadlines)
   and solve them in worker processes;
4. per central warehouse, build the trunk problem from what the last mile will carry
   (loads larger than a truck are split into chunks) and solve it;
5. assemble the plan with exact time-dependent times (``fulfil.plan``).

Same scenario + seed + a deterministic budget (``solution_limit`` without a time limit)
→ the same plan, whatever the number of workers.
"""

from __future__ import annotations

import logging
import math
import os
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from fulfil.errors import UsageError
from fulfil.network import Z, Network, compile_network
from fulfil.scenario.schema import ZONES
from fulfil.units import BIG_TIME_S, COST_SCALE

if TYPE_CHECKING:
    from fulfil.scenario.schema import Scenario
    from fulfil.travel import TravelModel

log = logging.getLogger("fulfil")

#: Ways to split a stop's zones into jobs, tried in order: one visit if any vehicle
#: can carry everything, else cold goods together and ambient apart, and so on.
PARTITIONS = (
    ((0, 1, 2),),
    ((0, 1), (2,)),
    ((0,), (1, 2)),
    ((0, 2), (1,)),
    ((0,), (1,), (2,)),
)


ENGINES = ("ortools", "nearest")


@dataclass(frozen=True)
class PlanParams:
    """Budget and knobs of one nightly plan.

    ``time_limit_s`` is the wall-clock budget of the whole routing stage, shared among
    subproblems in proportion to their size; ``solution_limit`` bounds the number of
    solutions each subproblem's search may find (a deterministic budget).
    """

    time_limit_s: float | None = 12.0
    solution_limit: int | None = None
    seed: int = 0
    workers: int = 0  # 0 = one per core
    #: ``"ortools"`` (the optimiser) or ``"nearest"`` (naive nearest-neighbour dispatch baseline)
    engine: str = "ortools"

    def __post_init__(self) -> None:
        if self.engine not in ENGINES:
            raise UsageError(f"unknown engine '{self.engine}'; choose from {', '.join(ENGINES)}")
        if self.time_limit_s is None and self.solution_limit is None:
            raise UsageError("give a time limit or a solution limit (or both)")
        if self.time_limit_s is not None and self.time_limit_s <= 0:
            raise UsageError("--time-limit must be positive")
        if self.solution_limit is not None and self.solution_limit < 1:
            raise UsageError("--solutions must be at least 1")
        if self.workers < 0:
            raise UsageError("--workers must be 0 (one per core) or more")

    @property
    def n_workers(self) -> int:
        return self.workers or (os.cpu_count() or 1)


@dataclass
class Job:
    """One routing node: what a vehicle hands over at one site in one visit."""

    site: int  # global site index
    owner: int  # pickup index (last mile) or forward index (trunk)
    zones: tuple[int, ...]
    crates: np.ndarray  # int64[Z]
    kg: np.ndarray  # float64[Z]
    units: dict[int, int] = field(default_factory=dict)  # product index → units (last mile)


@dataclass
class Unserved:
    pickup: int
    product: int
    units: int
    reason: str
    detail: str


@dataclass
class Subproblem:
    key: tuple[str, int]  # ("last_mile", forward index) or ("trunk", central index)
    jobs: list[Job]
    vehicles: list[tuple[int, int]]  # (vehicle type, index within type)
    problem: Any  # solvers.routing.RoutingProblem


@dataclass
class RoutedVehicle:
    tier: str
    vtype: int
    vindex: int
    depot: int  # global site index
    departure_min: float
    jobs: list[Job]


@dataclass
class NightState:
    """Everything the plan assembly needs (plain data, no solver objects)."""

    scenario: Scenario
    net: Network
    travel: TravelModel
    assign: np.ndarray
    routed: list[RoutedVehicle]
    unserved: list[Unserved]
    stats: dict[str, float]
    interrupted: bool = False


# --------------------------------------------------------------------------- stages
def allocate(s: Scenario, net: Network, travel: TravelModel) -> tuple[np.ndarray, np.ndarray, list[Unserved]]:
    """Assign pickups to forward warehouses and allocate stock; returns (assign, units, unserved)."""
    from fulfil.feasibility import reach
    from solvers.allocation import allocate_stock, assign_pickups, crates_per_zone

    r = reach(s, net, travel)
    v = net.vehicles
    fw_cost_km = np.ones(net.n_forward)
    for f in range(net.n_forward):
        mask = (v.tier == 1) & (v.home == travel.forward_index(f)) & (v.count > 0)
        if mask.any():
            fw_cost_km[f] = float(v.cost_per_km[mask].mean())
    cost = 2.0 * r.dist_km * fw_cost_km[None, :]
    full_crates, _ = crates_per_zone(net.demand, net.product_per_crate, net.product_zone, net.product_kg, Z)
    assign, status = assign_pickups(cost, r.reachable, full_crates, net.fw_capacity, net.pp_pinned)
    unserved: list[Unserved] = []
    reason = {1: "no_reachable_warehouse", 3: "no_reachable_warehouse", 4: "warehouse_capacity"}
    detail = {
        1: "no forward warehouse reaches it inside its window and the promise",
        3: "its pinned forward warehouse cannot reach it inside its window and the promise",
        4: "every forward warehouse that reaches it is full for tonight",
    }
    for p in np.flatnonzero(assign < 0):
        for k in np.flatnonzero(net.demand[p] > 0):
            st = int(status[p])
            unserved.append(Unserved(int(p), int(k), int(net.demand[p, k]), reason.get(st, "no_reachable_warehouse"),
                                     detail.get(st, "unassigned")))
    pool = np.where(assign >= 0, net.fw_central[np.maximum(assign, 0)], -1).astype(np.int64)
    units = allocate_stock(net.demand, pool, net.stock)
    short = (net.demand - units) * (assign >= 0)[:, None]
    for p, k in zip(*np.nonzero(short > 0), strict=True):
        unserved.append(Unserved(int(p), int(k), int(short[p, k]), "stock_shortage",
                                 f"only {int(units[:, k].sum())} units of this product could be allocated "
                                 f"from the central warehouse's stock; shared fairly by share of demand"))
    units = units * (assign >= 0)[:, None]
    return assign, units, unserved


def _zones_units(units_row: np.ndarray, net: Network, zones: tuple[int, ...]) -> dict[int, int]:
    return {int(k): int(units_row[k]) for k in np.flatnonzero(units_row > 0) if int(net.product_zone[k]) in zones}


def _crates_kg(units: dict[int, int], net: Network) -> tuple[np.ndarray, np.ndarray]:
    crates = np.zeros(Z)
    kg = np.zeros(Z)
    for k, q in units.items():
        z = int(net.product_zone[k])
        crates[z] += q / float(net.product_per_crate[k])
        kg[z] += q * float(net.product_kg[k])
    return np.ceil(crates - 1e-9).astype(np.int64), kg


def _vehicle_fits(net: Network, t: int, zones: tuple[int, ...], crates: np.ndarray, kg: np.ndarray) -> bool:
    v = net.vehicles
    return (all(v.crates[t, z] >= crates[z] and v.kg[t, z] >= kg[z] - 1e-9 and v.crates[t, z] > 0 for z in zones)
            and sum(crates[z] for z in zones) <= v.total_crates[t]
            and sum(kg[z] for z in zones) <= v.total_kg[t] + 1e-9)


def last_mile_jobs(
    s: Scenario, net: Network, travel: TravelModel, assign: np.ndarray, units: np.ndarray
) -> tuple[dict[int, list[Job]], list[Unserved]]:
    """Jobs per forward warehouse; lockers over their cells and loads no vehicle fits go unserved."""
    v = net.vehicles
    jobs: dict[int, list[Job]] = {f: [] for f in range(net.n_forward)}
    unserved: list[Unserved] = []
    for p in np.flatnonzero(assign >= 0):
        f = int(assign[p])
        row = units[p].copy()
        if net.pp_locker[p]:
            crates, _ = _crates_kg(_zones_units(row, net, (0, 1, 2)), net)
            for z in range(Z):
                if crates[z] > net.pp_cells[p, z]:
                    for k in np.flatnonzero((row > 0) & (net.product_zone == z)):
                        unserved.append(Unserved(int(p), int(k), int(row[k]), "locker_cells_exceeded",
                                                 f"{crates[z]} {ZONES[z]} crates but only {net.pp_cells[p, z]} cells"))
                        row[k] = 0
        present = tuple(z for z in range(Z) if (row[net.product_zone == z] > 0).any())
        if not present:
            continue
        types = [t for t in range(len(v.ids)) if v.tier[t] == 1 and v.count[t] > 0
                 and int(v.home[t]) == travel.forward_index(f)]
        chosen = None
        for part in PARTITIONS:
            groups = [tuple(z for z in g if z in present) for g in part]
            groups = [g for g in groups if g]
            ok = True
            for g in groups:
                u = _zones_units(row, net, g)
                c, kg = _crates_kg(u, net)
                if not any(_vehicle_fits(net, t, g, c, kg) for t in types):
                    ok = False
                    break
            if ok:
                chosen = groups
                break
        if chosen is None:  # serve what fits zone by zone; the rest has no vehicle
            chosen = []
            for z in present:
                u = _zones_units(row, net, (z,))
                c, kg = _crates_kg(u, net)
                if any(_vehicle_fits(net, t, (z,), c, kg) for t in types):
                    chosen.append((z,))
                else:
                    for k, q in u.items():
                        unserved.append(Unserved(int(p), k, q, "no_compatible_vehicle",
                                                 f"no last-mile vehicle at {net.forward_ids[f]} has a {ZONES[z]} "
                                                 f"compartment that holds {c[z]} crates / {kg[z]:.0f} kg"))
        for g in chosen:
            u = _zones_units(row, net, g)
            c, kg = _crates_kg(u, net)
            jobs[f].append(Job(site=travel.pickup_index(int(p)), owner=int(p), zones=g, crates=c, kg=kg, units=u))
    return jobs, unserved


def _cost_arrays(net: Network, vehicles: list[tuple[int, int]]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    v = net.vehicles
    t = np.array([a for a, _ in vehicles], dtype=np.int64)
    fixed = np.round(v.fixed_cost[t] * COST_SCALE).astype(np.int64)
    per_m = v.cost_per_km[t] * COST_SCALE / 1000.0
    per_s = v.cost_per_hour[t] * COST_SCALE / 3600.0
    return fixed, per_m, per_s


def build_subproblem(
    s: Scenario, net: Network, travel: TravelModel, key: tuple[str, int], jobs: list[Job], depot: int,
    vehicles: list[tuple[int, int]], start_min: np.ndarray,
    cold_limits: dict[tuple[int, int], float] | None = None,
) -> Subproblem:
    """Arrays of one routing problem (depot = node 0, jobs 1..N)."""
    from fulfil.feasibility import conservative_minutes
    from solvers.routing import RoutingProblem

    pol = s.policies
    v = net.vehicles
    tier = key[0]
    N, V = len(jobs), len(vehicles)
    sites = np.array([depot] + [j.site for j in jobs], dtype=np.int64)
    uniq, inv = np.unique(sites, return_inverse=True)
    dist_u = travel.distance_m(uniq, uniq)
    tvec = np.array([a for a, _ in vehicles], dtype=np.int64)
    t_from = float(start_min.min()) if V else 0.0
    t_to = float(v.shift_close[tvec].max()) if V else 1.0
    profiles = sorted({v.profile[t] for t in tvec}) or [s.speed_profiles[0].id]
    minutes_u = conservative_minutes(travel, uniq, uniq, profiles, t_from, max(t_to, t_from + 1), dist_m=dist_u)
    dist = np.round(dist_u[np.ix_(inv, inv)]).astype(np.int64)
    travel_s = np.ceil(minutes_u[np.ix_(inv, inv)] * 60.0 - 1e-9).astype(np.int64)

    site_id = np.concatenate([[-1], inv[1:]]).astype(np.int64)
    fixed_s = np.zeros(N + 1, dtype=np.int64)
    var_s = np.zeros(N + 1, dtype=np.int64)
    tw_open = np.zeros(N + 1, dtype=np.int64)
    tw_close = np.full(N + 1, BIG_TIME_S, dtype=np.int64)
    # dimensions: crates per zone, kg per zone, then the body totals (movable partitions)
    demand = np.zeros((N + 1, 2 * Z + 2), dtype=np.int64)
    penalty = np.zeros(N + 1, dtype=np.int64)
    for i, j in enumerate(jobs, start=1):
        n_crates = int(j.crates.sum())
        if tier == "last_mile":
            locker = bool(net.pp_locker[j.owner])
            fixed_min = pol.locker_fixed_min if locker else pol.service_fixed_min
            per = pol.locker_per_cell_min if locker else pol.service_per_crate_min
            tw_open[i] = int(math.floor(net.pp_open[j.owner] * 60))
            tw_close[i] = int(math.floor(net.pp_close[j.owner] * 60))
        else:
            fixed_min, per = pol.trunk_unload_fixed_min, pol.trunk_unload_per_crate_min
            tw_open[i] = int(math.floor(pol.trunk_receiving.open * 60))
            # arrive in the receiving window and be unloaded before the last-mile dispatch
            latest = min(pol.trunk_receiving.close, net.fw_dispatch[j.owner] - fixed_min - per * n_crates)
            tw_close[i] = int(math.floor(latest * 60))
        fixed_s[i] = int(math.ceil(fixed_min * 60 - 1e-9))
        var_s[i] = int(math.ceil(per * n_crates * 60 - 1e-9))
        demand[i, :Z] = j.crates
        demand[i, Z:2 * Z] = np.ceil(j.kg - 1e-9).astype(np.int64)
        demand[i, 2 * Z] = j.crates.sum()
        demand[i, 2 * Z + 1] = int(np.ceil(j.kg.sum() - 1e-9))
        penalty[i] = int(round(pol.unserved_penalty_per_crate * max(1, n_crates) * COST_SCALE))

    capacity = np.zeros((V, 2 * Z + 2), dtype=np.int64)
    allowed = np.zeros((V, N + 1), dtype=bool)
    deadline = np.full((V, N + 1), BIG_TIME_S, dtype=np.int64)
    start_s = np.round(start_min * 60).astype(np.int64)
    end_s = np.floor(v.shift_close[tvec] * 60).astype(np.int64)
    for a, (t, _) in enumerate(vehicles):
        capacity[a, :Z] = v.crates[t]
        capacity[a, Z:2 * Z] = np.floor(v.kg[t] + 1e-9).astype(np.int64)
        capacity[a, 2 * Z] = v.total_crates[t]
        capacity[a, 2 * Z + 1] = int(np.floor(v.total_kg[t] + 1e-9))
        for i, j in enumerate(jobs, start=1):
            allowed[a, i] = all(v.crates[t, z] > 0 for z in j.zones)
            if not allowed[a, i]:
                continue
            limit = BIG_TIME_S / 60.0
            if tier == "last_mile" and (j.crates[0] > 0 or j.crates[1] > 0):
                limit = pol.promise_minutes
            if not v.refrigerated[t] and j.crates[1] > 0:
                chilled = [k for k in j.units if int(net.product_zone[k]) == 1]
                prod_lim = min((float(net.product_max_out[k]) for k in chilled), default=BIG_TIME_S / 60.0)
                if tier == "trunk":
                    prod_lim = float(net.product_max_out[net.product_zone == 1].min())
                limit = min(limit, float(v.box_minutes[t]), prod_lim)
            if cold_limits:  # proxy limits derived from the thermal model, per (vehicle type, zone)
                for z in (0, 1):
                    if j.crates[z] > 0 and (t, z) in cold_limits:
                        limit = min(limit, cold_limits[(t, z)])
            if limit < BIG_TIME_S / 60.0:
                deadline[a, i] = int(math.floor(start_s[a] + limit * 60))
    fixed, per_m, per_s = _cost_arrays(net, vehicles)
    arrival_cost = (spoilage_cost_per_s(s, net, jobs) if tier == "last_mile" and pol.spoilage_in_objective
                    else np.zeros(0))
    problem = RoutingProblem(
        dist_m=dist, travel_s=travel_s, site=site_id, service_fixed_s=fixed_s, service_var_s=var_s,
        tw_open_s=tw_open, tw_close_s=tw_close, demand=demand, capacity=capacity, allowed=allowed,
        deadline_s=deadline, start_s=start_s, end_max_s=end_s, fixed_cost=fixed, cost_per_m=per_m,
        cost_per_s=per_s, penalty=penalty, arrival_cost_per_s=arrival_cost,
    )
    return Subproblem(key=key, jobs=jobs, vehicles=vehicles, problem=problem)


def spoilage_cost_per_s(s: Scenario, net: Network, jobs: list[Job]) -> np.ndarray:
    """Cost units per second of transit for each job: value × shelf life consumed per second
    at the zone's set point (chilled 2 °C, frozen −20 °C; DOMAIN.md §2.2/§2.4)."""
    from fulfil.coldchain import product_class
    from solvers.thermal.quality import shelf_life_h

    setpoint = {0: -20.0, 1: 2.0}
    rate = {}
    for k, pid in enumerate(net.product_ids):
        z = int(net.product_zone[k])
        if z in setpoint:
            life_s = float(shelf_life_h(product_class(s, pid), setpoint[z])) * 3600.0
            rate[k] = float(net.product_price[k]) / life_s * COST_SCALE
    out = np.zeros(len(jobs) + 1)
    for i, j in enumerate(jobs, start=1):
        out[i] = sum(q * rate[k] for k, q in j.units.items() if k in rate)
    return out


def fleet(net: Network, travel: TravelModel, tier: int, depot: int) -> list[tuple[int, int]]:
    v = net.vehicles
    return [(t, k) for t in range(len(v.ids)) if v.tier[t] == tier and int(v.home[t]) == depot
            for k in range(int(v.count[t]))]


def trunk_jobs(net: Network, travel: TravelModel, c: int, load_crates: np.ndarray,
               load_kg: np.ndarray) -> list[Job]:
    """Chunks of each forward warehouse's load that one trunk vehicle can carry whole."""
    v = net.vehicles
    types = [t for t in range(len(v.ids)) if v.tier[t] == 0 and v.count[t] > 0 and int(v.home[t]) == c]
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
            # the type that carries this group in the fewest truckloads; full loads first, the
            # remainder last (it can ride with another warehouse's load; equal halves could not)
            best: tuple[int, dict[int, int]] | None = None
            for t in types:
                if not all(v.crates[t, z] > 0 for z in g):
                    continue
                per = {z: _chunk_crates(int(load_crates[f, z]), float(load_kg[f, z]), int(v.crates[t, z]),
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


def _chunk_crates(total: int, kg: float, cap_crates: int, cap_kg: float) -> int:
    """Crates of one full truckload of a zone: the crate limit, or fewer when weight binds first."""
    if total <= 0:
        return max(1, cap_crates)
    per_crate = kg / total
    by_kg = math.floor(cap_kg / per_crate + 1e-9) if per_crate > 0 else cap_crates
    return max(1, min(cap_crates, by_kg))


def _collect(sp: Subproblem, sol: Any, travel: TravelModel, routed: list[RoutedVehicle],
             unserved: list[Unserved], cold_limits: dict[tuple[int, int], float] | None = None,
             promise: float = math.inf) -> None:
    """Turn one last-mile solution into routed vehicles and unserved lines.

    A dropped stop with chilled or frozen goods whose thermal-model limit is tighter than the
    promise is reported as ``thermal_limit``: that limit, not the promise, kept it off the routes.
    """
    if sol is None:
        for j in sp.jobs:
            for k, q in j.units.items():
                unserved.append(Unserved(j.owner, k, q, "interrupted", "the solve was interrupted first"))
        return
    for jn in sol.dropped:
        j = sp.jobs[int(jn) - 1]
        tight = [lim for (t, z), lim in (cold_limits or {}).items() if j.crates[z] > 0 and lim < promise]
        for k, q in j.units.items():
            if tight:
                unserved.append(Unserved(j.owner, k, q, "thermal_limit",
                                         f"tonight's heat lets cold goods ride at most {min(tight):.0f} min "
                                         "(thermal model) and no vehicle could reach this stop that fast"))
            else:
                unserved.append(Unserved(j.owner, k, q, "routing_dropped",
                                         "no vehicle could fit this stop inside its window, the promise "
                                         "and the fleet's capacity and shifts"))
    for a, r in enumerate(sol.routes):
        if len(r):
            t, k = sp.vehicles[a]
            routed.append(RoutedVehicle("last_mile", t, k, travel.forward_index(sp.key[1]),
                                        float(sp.problem.start_s[a]) / 60.0, [sp.jobs[int(n) - 1] for n in r]))


def model_proxy_limits(s: Scenario, net: Network, f: int, jobs: list[Job],
                       vehicles: list[tuple[int, int]]) -> dict[tuple[int, int], float]:
    """Minutes out of the cold room each refrigerated type's frozen/chilled goods may ride,
    derived from the thermal model for this warehouse's stop pattern and tonight's weather."""

    out: dict[tuple[int, int], float] = {}
    hour = int(net.fw_dispatch[f] // 60) % 24
    t_out = float(max(s.weather.hourly_c[hour:hour + 3] or s.weather.hourly_c[:1]))
    for t in sorted({t for t, _ in vehicles}):
        vt = s.vehicle_types[t]
        if not vt.refrigerated:
            continue
        total = sum(c.crates for c in vt.compartments) if vt.movable_total is None else vt.movable_total.crates
        for z, zone in ((0, "frozen"), (1, "chilled")):
            comp = next((c for c in vt.compartments if c.zone == zone), None)
            with_zone = [j.crates[z] for j in jobs if j.crates[z] > 0]
            if comp is None or not with_zone:
                continue
            lim = _proxy_cache(vt, zone, comp.crates / total, t_out, round(float(np.mean(with_zone)), 1))
            if lim is not None:
                out[(t, z)] = lim
    return out


_PROXY: dict[tuple, float | None] = {}


def _proxy_cache(vt: Any, zone: str, frac: float, t_out: float, crates_per_stop: float) -> float | None:
    from fulfil.coldchain import compartment_params
    from solvers.thermal.model import max_route_minutes

    key = (vt.body, zone, round(frac, 3), t_out, crates_per_stop)
    if key not in _PROXY:
        res = max_route_minutes(compartment_params(vt, zone, frac), t_out, stops_per_hour=5.0,
                                crates_per_stop=crates_per_stop)
        _PROXY[key] = float(res.max_minutes) if res.reason == "temperature" else None
    return _PROXY[key]


def _thermal_repair(s: Scenario, net: Network, travel: TravelModel, subs: list[Subproblem],
                    cold_limits: dict[int, dict[tuple[int, int], float]], routed: list[RoutedVehicle],
                    unserved: list[Unserved], params: PlanParams, budget: float | None,
                    rounds: int = 3) -> list[RoutedVehicle]:
    """Simulate every last-mile route; re-solve warehouses whose routes the model rejects with
    tighter limits, and as a last resort take the failing stops off (unserved, 'thermal_limit')."""
    from fulfil.coldchain import route_cold_chain
    from fulfil.plan import route_doc
    from solvers.routing import RoutingParams

    by_key = {sp.key: sp for sp in subs}

    def failures(rvs: list[RoutedVehicle]) -> dict[int, list[tuple[RoutedVehicle, int, int, float]]]:
        out: dict[int, list] = {}
        for rv in rvs:
            if rv.tier != "last_mile":
                continue
            doc = route_doc(s, net, travel, rv, "tmp")
            _, per_stop = route_cold_chain(s, doc)
            for i, cc in enumerate(per_stop):
                for zname, c in cc.items():
                    if not c["in_spec"]:
                        z = ZONES.index(zname)
                        out.setdefault(rv.depot - travel.n_central, []).append(
                            (rv, i, z, doc["stops"][i]["minutes_since_cold_room"]))
        return out

    for round_ in range(rounds):
        bad = failures(routed)
        if not bad:
            return routed
        log.info("cold chain: %d hand-over(s) out of spec at %d warehouse(s); re-solving with tighter limits "
                 "(round %d)", sum(len(v) for v in bad.values()), len(bad), round_ + 1)
        for f, items in bad.items():
            lims = cold_limits.setdefault(f, {})
            for rv, _, z, minutes in items:
                lims[(rv.vtype, z)] = min(lims.get((rv.vtype, z), math.inf), max(5.0, minutes - 10.0))
            old = by_key[("last_mile", f)]
            sp = build_subproblem(s, net, travel, old.key, old.jobs, travel.forward_index(f),
                                  old.vehicles, old.problem.start_s / 60.0, lims)
            by_key[old.key] = sp
            owners = {j.owner for j in sp.jobs}
            unserved[:] = [u for u in unserved
                           if not (u.reason in ("routing_dropped", "thermal_limit") and u.pickup in owners)]
            routed = [rv for rv in routed if not (rv.tier == "last_mile" and rv.depot == travel.forward_index(f))]
            tl = None if budget is None else max(1.0, budget / max(1, len(subs)))
            _, sol = _solve_one(sp, RoutingParams(time_limit_s=tl, solution_limit=params.solution_limit,
                                                  seed=params.seed), params.engine)
            _collect(sp, sol, travel, routed, unserved, lims, s.policies.promise_minutes)
    # last resort: ship nothing the model rejects
    drop: dict[int, set[int]] = {}
    for items in failures(routed).values():
        for rv, i, _, _ in items:
            drop.setdefault(id(rv), set()).add(_stop_sites(rv)[i])
    for rv in routed:
        sites = drop.get(id(rv), set())
        for j in [j for j in rv.jobs if j.site in sites]:
            for k, q in j.units.items():
                unserved.append(Unserved(j.owner, k, q, "thermal_limit",
                                         "the thermal model predicts this stop's cold goods out of range"))
        rv.jobs = [j for j in rv.jobs if j.site not in sites]
    return [rv for rv in routed if rv.jobs]


def _stop_sites(rv: RoutedVehicle) -> list[int]:
    sites: list[int] = []
    for j in rv.jobs:
        if not sites or sites[-1] != j.site:
            sites.append(j.site)
    return sites


def _solve_one(sub: Subproblem, params: Any, engine: str = "ortools") -> tuple[tuple[str, int], Any]:
    if engine == "nearest":
        from solvers.routing.baseline import nearest_neighbour

        return sub.key, nearest_neighbour(sub.problem)
    from solvers.routing import solve_routing

    return sub.key, solve_routing(sub.problem, params)


def _budgets(subs: list[Subproblem], total_s: float | None, workers: int) -> list[float | None]:
    if total_s is None:
        return [None] * len(subs)
    sizes = np.array([max(1, len(sp.jobs)) for sp in subs], dtype=float)
    share = total_s * min(workers, len(subs)) * sizes / sizes.sum()
    return [max(0.5, float(x)) for x in share]


def solve_all(subs: list[Subproblem], params: PlanParams, total_s: float | None, label: str,
              pool: ProcessPoolExecutor | None) -> tuple[dict, bool]:
    """Solve subproblems (in worker processes when a pool is given); keep what finished on Ctrl-C."""
    from solvers.routing import RoutingParams

    budgets = _budgets(subs, total_s, params.n_workers)
    rp = [RoutingParams(time_limit_s=b, solution_limit=params.solution_limit, seed=params.seed) for b in budgets]
    out: dict = {}
    order = sorted(range(len(subs)), key=lambda i: -len(subs[i].jobs))
    try:
        if pool is None:
            for n, i in enumerate(order, 1):
                key, sol = _solve_one(subs[i], rp[i], params.engine)
                out[key] = sol
                log.info("  %s %d/%d solved (%s %d: %d jobs, %d vehicles used)", label, n, len(subs), key[0], key[1],
                         len(subs[i].jobs), sum(1 for r in sol.routes if len(r)))
        else:
            futs = [pool.submit(_solve_one, subs[i], rp[i], params.engine) for i in order]
            for n, fut in enumerate(futs, 1):
                key, sol = fut.result()
                out[key] = sol
                log.info("  %s %d/%d solved", label, n, len(subs))
    except KeyboardInterrupt:
        log.warning("interrupted: keeping the %d subproblem(s) solved so far", len(out))
        return out, True
    return out, False


#: Share of the routing budget given to the last mile; the trunk gets the rest.
LAST_MILE_SHARE = 0.85


def last_mile_subproblems(s: Scenario, net: Network, travel: TravelModel, jobs_by_fw: dict) -> tuple[list[Subproblem], dict]:
    """Each forward warehouse's last-mile subproblem, and its thermal proxy limits.

    Returns ``(subproblems, {forward index: limits})``; warehouses without jobs are left out.
    """
    subs = []
    cold_limits: dict[int, dict[tuple[int, int], float]] = {}
    for f, jobs in jobs_by_fw.items():
        if not jobs:
            continue
        depot = travel.forward_index(f)
        veh = fleet(net, travel, 1, depot)
        start = np.array([max(net.fw_dispatch[f], net.vehicles.shift_open[t]) for t, _ in veh])
        cold_limits[f] = model_proxy_limits(s, net, f, jobs, veh) if s.policies.cold_chain_model else {}
        subs.append(build_subproblem(s, net, travel, ("last_mile", f), jobs, depot, veh, start, cold_limits[f]))
    return subs, cold_limits


def plan_night(scenario: Scenario, params: PlanParams | None = None, *, source: str = "scenario") -> dict:
    """Plan one night; returns the plan document (see docs/plan_format.md)."""
    from fulfil.feasibility import precheck
    from fulfil.plan import assemble_plan
    from fulfil.travel import TravelModel
    from solvers.allocation import trunk_load

    params = params or PlanParams()
    s = scenario
    stats: dict[str, float] = {}
    t0 = time.perf_counter()
    travel = TravelModel(s)
    net = compile_network(s, travel)
    precheck(s, net, travel, source)
    stats["compile_s"] = time.perf_counter() - t0

    t1 = time.perf_counter()
    log.info("allocating %d pickup points to %d forward warehouses", net.n_pickups, net.n_forward)
    assign, units, unserved = allocate(s, net, travel)
    jobs_by_fw, more = last_mile_jobs(s, net, travel, assign, units)
    unserved += more
    stats["allocation_s"] = time.perf_counter() - t1

    t2 = time.perf_counter()
    subs, cold_limits = last_mile_subproblems(s, net, travel, jobs_by_fw)
    stats["build_s"] = time.perf_counter() - t2

    total = params.time_limit_s
    lm_budget = None if total is None else LAST_MILE_SHARE * total
    tr_budget = None if total is None else (1.0 - LAST_MILE_SHARE) * total
    t3 = time.perf_counter()
    interrupted = False
    routed: list[RoutedVehicle] = []
    pool = ProcessPoolExecutor(max_workers=params.n_workers) if params.n_workers > 1 and len(subs) > 1 else None
    try:
        log.info("routing last mile: %d forward warehouses, %d jobs, %d workers", len(subs),
                 sum(len(sp.jobs) for sp in subs), params.n_workers)
        sols, interrupted = solve_all(subs, params, lm_budget, "last mile", pool)
        stats["last_mile_s"] = time.perf_counter() - t3
        for sp in subs:
            _collect(sp, sols.get(sp.key), travel, routed, unserved, cold_limits.get(sp.key[1]),
                     s.policies.promise_minutes)
        if s.policies.cold_chain_model and not interrupted:
            t_cc = time.perf_counter()
            routed = _thermal_repair(s, net, travel, subs, cold_limits, routed, unserved, params, lm_budget)
            stats["cold_chain_s"] = time.perf_counter() - t_cc

        # trunk: carry what the last mile will hand over
        t4 = time.perf_counter()
        lm_crates = np.zeros((net.n_pickups, Z), dtype=np.int64)
        lm_kg = np.zeros((net.n_pickups, Z))
        for rv in routed:
            for j in rv.jobs:
                lm_crates[j.owner] += j.crates
                lm_kg[j.owner] += j.kg
        load_c, load_kg = trunk_load(assign, lm_crates, lm_kg, np.ones(net.n_pickups, dtype=bool), net.n_forward)
        tsubs = []
        for c in range(len(net.central_ids)):
            jobs = trunk_jobs(net, travel, c, load_c, load_kg)
            if not jobs:
                continue
            veh = fleet(net, travel, 0, travel.central_index(c))
            start = np.array([max(s.policies.trunk_departure, net.vehicles.shift_open[t]) for t, _ in veh])
            tsubs.append(build_subproblem(s, net, travel, ("trunk", c), jobs, travel.central_index(c), veh, start))
        tsols: dict = {}
        if not interrupted and tsubs:
            log.info("routing trunk: %d central warehouses, %d loads", len(tsubs), sum(len(sp.jobs) for sp in tsubs))
            tsols, interrupted = solve_all(tsubs, params, tr_budget, "trunk", pool if len(tsubs) > 1 else None)
        if interrupted:
            # keep the plan whole: trucks for what the routed last mile needs, by the quick
            # nearest-neighbour dispatch (milliseconds), for every central not solved yet
            from solvers.routing.baseline import nearest_neighbour

            for sp in tsubs:
                if sp.key not in tsols:
                    tsols[sp.key] = nearest_neighbour(sp.problem)
        stats["trunk_s"] = time.perf_counter() - t4
    finally:
        if pool is not None:
            pool.shutdown(wait=not interrupted, cancel_futures=True)

    # goods a trunk cannot bring: the last-mile jobs that needed them are unserved
    short = np.zeros((net.n_forward, Z), dtype=bool)
    for sp in tsubs:
        sol = tsols.get(sp.key)
        dropped = [sp.jobs[int(n) - 1] for n in (sol.dropped if sol is not None else range(1, len(sp.jobs) + 1))]
        for j in dropped:
            for z in j.zones:
                short[j.owner, z] = True
        if sol is None:
            continue
        for a, r in enumerate(sol.routes):
            if len(r):
                t, k = sp.vehicles[a]
                routed.append(RoutedVehicle("trunk", t, k, travel.central_index(sp.key[1]),
                                            float(sp.problem.start_s[a]) / 60.0, [sp.jobs[int(n) - 1] for n in r]))
    if short.any():
        keep: list[RoutedVehicle] = []
        for rv in routed:
            if rv.tier == "last_mile":
                f = rv.depot - travel.n_central
                kept = []
                for j in rv.jobs:
                    if any(short[f, z] for z in j.zones):
                        for k, q in j.units.items():
                            unserved.append(Unserved(j.owner, k, q, "trunk_dropped",
                                                     f"the trunk fleet could not bring {net.forward_ids[f]}'s "
                                                     f"{'/'.join(ZONES[z] for z in j.zones)} goods in time"))
                    else:
                        kept.append(j)
                rv.jobs = kept
            if rv.jobs:
                keep.append(rv)
        routed = keep

    stats["routing_s"] = time.perf_counter() - t3
    state = NightState(scenario=s, net=net, travel=travel, assign=assign, routed=routed, unserved=unserved,
                       stats=stats, interrupted=interrupted)
    t5 = time.perf_counter()
    doc = assemble_plan(state, params)
    stats["assembly_s"] = time.perf_counter() - t5
    stats["total_s"] = time.perf_counter() - t0
    doc["stats"] = {k: round(v, 3) for k, v in stats.items()}
    return doc
