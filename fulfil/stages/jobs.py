"""Stage 2: the jobs of each forward warehouse — what one vehicle visit hands over.

A pickup point's goods are split into as few visits as a vehicle of its warehouse can
carry whole: one visit if any vehicle takes every zone, else cold goods together and
ambient apart, and so on (:data:`PARTITIONS`).  Lockers get no more crates than cells; a
zone no vehicle can carry is unserved with the reason.
"""

from __future__ import annotations

import numpy as np

from fulfil.feasibility import on_shift
from fulfil.network import Z, Network
from fulfil.night import CompiledNight
from fulfil.scenario.schema import ZONES
from fulfil.stages.types import LAST_MILE, Job, UnservedLine
from solvers.allocation import MAX_CRATES

#: Ways to split a stop's zones into jobs, tried in order.
PARTITIONS = (
    ((0, 1, 2),),
    ((0, 1), (2,)),
    ((0,), (1, 2)),
    ((0, 2), (1,)),
    ((0,), (1,), (2,)),
)


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
        if chosen is None:  # serve what fits zone by zone; the rest has no vehicle
            chosen = []
            for z in present:
                u = zone_units(row, net, (z,))
                c, kg = crates_kg(u, net)
                if any(vehicle_fits(net, t, (z,), c, kg) for t in types):
                    chosen.append((z,))
                else:
                    why = _no_vehicle(net.forward_ids[f], z, c, kg, bool(types))
                    for k, q in u.items():
                        unserved.append(UnservedLine(int(p), k, q, "no_compatible_vehicle", why))
        for g in chosen:
            u = zone_units(row, net, g)
            c, kg = crates_kg(u, net)
            jobs[f].append(Job(site=travel.pickup_index(int(p)), owner=int(p), zones=g, crates=c, kg=kg, units=u))
    return jobs, unserved
