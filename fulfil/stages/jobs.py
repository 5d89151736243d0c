"""Stage 2: the jobs of each forward warehouse — what one vehicle visit hands over.

A pickup point's goods are split into as few visits as a vehicle of its warehouse can
carry whole: one visit if any vehicle takes every zone, else cold goods together and
ambient apart, and so on (:data:`PARTITIONS`); a zone larger than any one vehicle's
compartment is cut by quantity into several visits.  Lockers get no more crates than cells;
a zone no vehicle can carry is unserved with the reason.

When goods run short (:func:`ration_to_supply`), what is served goes by
:func:`priority_per_crate`: perishability first, then value (docs/plan_format.md, *Who is
served first*).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import replace

import numpy as np

from fulfil.feasibility import on_shift
from fulfil.network import Network, Z
from fulfil.night import CompiledNight
from fulfil.scenario.schema import ZONES
from fulfil.stages.types import LAST_MILE, Job, RoutedTrip, UnservedLine
from solvers.allocation import MAX_CRATES

#: Ways to split a stop's zones into jobs, tried in order.
PARTITIONS = (
    ((0, 1, 2),),
    ((0, 1), (2,)),
    ((0,), (1, 2)),
    ((0, 2), (1,)),
    ((0,), (1,), (2,)),
)
#: Perishability of a zone in the service priority: chilled goods spoil within days, frozen goods
#: thaw on a warm night, ambient goods keep.
ZONE_PRIORITY = (2.0, 3.0, 1.0)


def priority_per_crate(net: Network) -> np.ndarray:
    """Weight of one crate of each product when not everything can be served (float64[K], at least 1):
    its zone's :data:`ZONE_PRIORITY` plus its value per crate as a share of the most valuable product's,
    so perishability ranks first and value breaks ties within a zone."""
    value = np.asarray(net.product_price, dtype=np.float64) * np.asarray(net.product_per_crate, dtype=np.float64)
    top = float(value.max(initial=0.0))
    share = value / top if top > 0 else np.zeros_like(value)
    return np.array([ZONE_PRIORITY[int(z)] for z in net.product_zone]) + share


def weighted_crates(units: dict[int, int], net: Network, weight: np.ndarray) -> float:
    """Crates of ``units`` weighted by priority: per zone, the zone's crates (:func:`crates_kg`) times the
    mean weight of its products there (by crate share), so never less than the plain crates."""
    crates, _ = crates_kg(units, net)
    out = 0.0
    for z in range(Z):
        share = {k: q / float(net.product_per_crate[k]) for k, q in units.items() if int(net.product_zone[k]) == z}
        total = sum(share.values())
        if total > 0:
            out += float(crates[z]) * sum(c * float(weight[k]) for k, c in share.items()) / total
    return out


def zone_units(units_row: np.ndarray, net: Network, zones: tuple[int, ...]) -> dict[int, int]:
    """Product index → units of ``units_row`` whose zone is in ``zones``."""
    return {int(k): int(units_row[k]) for k in np.flatnonzero(units_row > 0) if int(net.product_zone[k]) in zones}


def crates_kg(units: dict[int, int], net: Network) -> tuple[np.ndarray, np.ndarray]:
    """Crates (ceil per zone, the checker's rule; saturated at :data:`MAX_CRATES`) and kg per zone of
    a product → units map."""
    crates = np.zeros(Z)
    kg = np.zeros(Z)
    for k, q in units.items():
        z = int(net.product_zone[k])
        crates[z] += q / float(net.product_per_crate[k])
        kg[z] += q * float(net.product_kg[k])
    return np.minimum(np.ceil(crates - 1e-9), float(MAX_CRATES)).astype(np.int64), kg


def too_big(crates: np.ndarray, kg: np.ndarray, z: int) -> bool:
    """A zone's load beyond what the planner puts on one vehicle: sums of such loads could leave
    int64 and the routing engines' bounds, whatever vehicle the scenario describes."""
    return bool(crates[z] >= MAX_CRATES or not kg[z] < MAX_CRATES)


def vehicle_fits(net: Network, t: int, zones: tuple[int, ...], crates: np.ndarray, kg: np.ndarray) -> bool:
    v = net.vehicles
    return (all(v.crates[t, z] >= crates[z] and v.kg[t, z] >= kg[z] - 1e-9 and v.crates[t, z] > 0
                and not too_big(crates, kg, z) for z in zones)
            and sum(crates[z] for z in zones) <= v.total_crates[t]
            and sum(kg[z] for z in zones) <= v.total_kg[t] + 1e-9)


def _no_vehicle(fw: str, z: int, crates: np.ndarray, kg: np.ndarray, any_on_shift: bool) -> str:
    """Detail of a zone's goods no last-mile vehicle of warehouse ``fw`` can take."""
    load = f"{crates[z]} {ZONES[z]} crates / {kg[z]:.0f} kg"
    if too_big(crates, kg, z):
        return f"{load} is more than the planner loads on one vehicle ({MAX_CRATES} crates or kg)"
    if not any_on_shift:
        return f"no last-mile vehicle at {fw} is on shift after its dispatch"
    return f"no last-mile vehicle at {fw} has a {ZONES[z]} compartment that holds {load}"


def last_mile_jobs(night: CompiledNight, assign: np.ndarray,
                   units: np.ndarray) -> tuple[dict[int, list[Job]], list[UnservedLine]]:
    """Jobs per forward warehouse, and the lines no vehicle or locker can take."""
    net, travel = night.net, night.travel
    v = net.vehicles
    jobs: dict[int, list[Job]] = {f: [] for f in range(net.n_forward)}
    unserved: list[UnservedLine] = []
    lm_types = [t for t in range(len(v.ids)) if v.tier[t] == LAST_MILE]
    types_at: dict[int, list[int]] = {}  # forward index → its last-mile vehicle types
    for p in np.flatnonzero(assign >= 0):
        f = int(assign[p])
        row = units[p].copy()
        if net.pp_locker[p]:
            crates, _ = crates_kg(zone_units(row, net, (0, 1, 2)), net)
            for z in range(Z):
                if crates[z] > net.pp_cells[p, z]:
                    for k in np.flatnonzero((row > 0) & (net.product_zone == z)):
                        unserved.append(UnservedLine(int(p), int(k), int(row[k]), "locker_cells_exceeded",
                                                     f"{crates[z]} {ZONES[z]} crates but only {net.pp_cells[p, z]} cells"))
                        row[k] = 0
        present = tuple(z for z in range(Z) if (row[net.product_zone == z] > 0).any())
        if not present:
            continue
        types = types_at.get(f)
        if types is None:
            types = types_at[f] = [t for t in lm_types if int(v.home[t]) == travel.forward_index(f)
                                   and on_shift(net, t, float(net.fw_dispatch[f]))]
        chosen = None
        for part in PARTITIONS:
            groups = [g for g in (tuple(z for z in g0 if z in present) for g0 in part) if g]
            if all(any(vehicle_fits(net, t, g, *crates_kg(zone_units(row, net, g), net)) for t in types)
                   for g in groups):
                chosen = groups
                break
        parts: list[dict[int, int]] = []
        if chosen is not None:
            parts = [zone_units(row, net, g) for g in chosen]
        else:  # zone by zone, a zone larger than any vehicle cut by quantity; the rest has no vehicle
            for z in present:
                u = zone_units(row, net, (z,))
                c, kg = crates_kg(u, net)
                if any(vehicle_fits(net, t, (z,), c, kg) for t in types):
                    parts.append(u)
                    continue
                pieces = _by_quantity(net, types, z, u)
                if pieces:
                    parts += pieces
                else:
                    why = _no_vehicle(net.forward_ids[f], z, c, kg, bool(types))
                    for k, q in u.items():
                        unserved.append(UnservedLine(int(p), k, q, "no_compatible_vehicle", why))
        for u in parts:
            c, kg = crates_kg(u, net)
            g = tuple(z for z in range(Z) if c[z] > 0)
            jobs[f].append(Job(site=travel.pickup_index(int(p)), owner=int(p), zones=g, crates=c, kg=kg, units=u))
    return jobs, unserved


def _by_quantity(net: Network, types: list[int], z: int, units: dict[int, int]) -> list[dict[int, int]]:
    """Zone ``z``'s ``units`` of one pickup point cut into loads the roomiest vehicle type of ``types``
    carries whole (most crates of zone ``z`` it takes alone), filled product by product; [] when no type
    takes even one unit of every product."""
    v = net.vehicles
    cap = [t for t in types if vehicle_fits(net, t, (z,), *crates_kg({k: 1 for k in units}, net))]
    if not cap:
        return []
    t = max(cap, key=lambda t: (min(int(v.crates[t, z]), int(v.total_crates[t])), -t))
    pieces: list[dict[int, int]] = []
    cur: dict[int, int] = {}
    for k, q in sorted(units.items()):
        while q > 0:
            take = _most_that_fit(net, t, z, cur, k, q)
            if take == 0:
                pieces.append(cur)
                cur = {}
                continue
            cur[k] = cur.get(k, 0) + take
            q -= take
    return pieces + ([cur] if cur else [])


def _most_that_fit(net: Network, t: int, z: int, load: dict[int, int], k: int, q: int) -> int:
    """Most units (up to ``q``) of product ``k`` that can join ``load`` on one vehicle of type ``t``."""
    lo, hi = 0, q
    while lo < hi:  # fitting is monotone in the units added
        mid = (lo + hi + 1) // 2
        if vehicle_fits(net, t, (z,), *crates_kg({**load, k: load.get(k, 0) + mid}, net)):
            lo = mid
        else:
            hi = mid - 1
    return lo


def supply_brought(night: CompiledNight, trunk_trips: list[RoutedTrip]) -> np.ndarray:
    """Crates of each zone the trunk trips hand over at each forward warehouse (int64[F, Z])."""
    out = np.zeros((night.net.n_forward, Z), dtype=np.int64)
    for rt in trunk_trips:
        if rt.tier != LAST_MILE:
            for j in rt.jobs:
                out[j.owner] += np.asarray(j.crates, dtype=np.int64)
    return out


def ration_to_supply(night: CompiledNight, trips: list[RoutedTrip], supply: np.ndarray,
                     why: Callable[[int, int], tuple[str, str]]) -> tuple[list[RoutedTrip], list[UnservedLine]]:
    """Last-mile ``trips`` cut to the ``supply[f, z]`` crates their forward warehouses hold, and the units
    cut as unserved lines (``why(f, z)`` → reason and detail).

    Where a warehouse holds fewer crates of a zone than its trips take out, the units kept go by
    :func:`priority_per_crate` (then trip and stop order): each product line keeps as many units as
    the crates left allow, counted as the checker counts crates (per stop and zone, ceil of
    Σ units / units per crate).  Other zones of the same stops stay; stops left with nothing and trips
    left without stops come off.  Trips not cut are returned as they are.
    """
    net, nc = night.net, night.travel.n_central
    need = np.zeros_like(supply)
    for rt in trips:
        for j in rt.jobs:
            need[rt.depot - nc] += j.crates
    short = need > supply
    if not short.any():
        return trips, []
    weight = priority_per_crate(net)
    left = supply.astype(np.int64).copy()
    kept: dict[tuple[int, int], dict[int, int]] = {}
    lines: list[tuple[float, int, int, int]] = []
    for a, rt in enumerate(trips):
        for b, j in enumerate(rt.jobs):
            kept[(a, b)] = {}
            lines += [(-float(weight[k]), a, b, k) for k in j.units]
    unserved: list[UnservedLine] = []
    for _, a, b, k in sorted(lines):
        j = trips[a].jobs[b]
        f, z, q = trips[a].depot - nc, int(net.product_zone[k]), j.units[k]
        cur = kept[(a, b)]
        before = int(crates_kg(cur, net)[0][z])
        take = q if not short[f, z] else _units_within(net, cur, k, q, before + int(left[f, z]), z)
        if take:
            cur[k] = take
            left[f, z] -= int(crates_kg(cur, net)[0][z]) - before
        if take < q:
            reason, detail = why(f, z)
            unserved.append(UnservedLine(j.owner, k, q - take, reason, detail))
    out: list[RoutedTrip] = []
    for a, rt in enumerate(trips):
        jobs = [j if kept[(a, b)] == j.units else _job_of(j, kept[(a, b)], net)
                for b, j in enumerate(rt.jobs) if kept[(a, b)]]
        if len(jobs) == len(rt.jobs) and all(x is y for x, y in zip(jobs, rt.jobs, strict=True)):
            out.append(rt)  # unchanged: its timing and cold chain are reused
        elif jobs:
            out.append(replace(rt, jobs=jobs))
    return out, unserved


def fill_by_priority(net: Network, units: dict[int, int], room: np.ndarray) -> dict[int, int]:
    """The part of ``units`` (product → units) kept within ``room[z]`` crates of each zone, product lines
    by :func:`priority_per_crate` (heaviest first, then product order), each as many units as fit."""
    weight = priority_per_crate(net)
    kept: dict[int, int] = {}
    for k in sorted(units, key=lambda k: (-float(weight[k]), k)):
        z = int(net.product_zone[k])
        take = _units_within(net, kept, k, units[k], int(min(room[z], MAX_CRATES)), z)
        if take:
            kept[k] = take
    return kept


def _units_within(net: Network, load: dict[int, int], k: int, q: int, crates: int, z: int) -> int:
    """Most units (up to ``q``) of product ``k`` that keep ``load``'s zone-``z`` crates within ``crates``."""
    frac = sum(u / float(net.product_per_crate[p]) for p, u in load.items() if int(net.product_zone[p]) == z)
    take = min(q, max(0, math.floor((crates - frac) * float(net.product_per_crate[k]) + 1e-6)))
    while take > 0 and crates_kg({**load, k: take}, net)[0][z] > crates:  # float edge of the ceiling
        take -= 1
    return take


def _job_of(j: Job, units: dict[int, int], net: Network) -> Job:
    """``j`` handing over ``units`` instead (its zones those with goods left)."""
    c, kg = crates_kg(units, net)
    return Job(site=j.site, owner=j.owner, zones=tuple(z for z in j.zones if c[z] > 0), crates=c, kg=kg,
               units=dict(units))
