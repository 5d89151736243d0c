"""Stage 1: assign pickup points to forward warehouses and share out short stock.

Costs are round-trip road km × the warehouse fleet's mean cost per km; a pickup point can
only go to a warehouse that reaches it inside its window (and, with cold goods, inside the
promise) at the slowest speed of the dispatch wave (:func:`fulfil.feasibility.reach`).
A warehouse's capacity is a hard limit, for pinned pickup points too, counted as the checker
counts it: per pickup point and zone ``ceil(Σ units / units_per_crate)``, each zone handed
over in one stop.  A pickup point no warehouse has room for whole is not dropped whole: it goes
to the reachable warehouse with room for the most of it, zones and quantities kept by the
service priority (:func:`fulfil.stages.jobs.fill_by_priority`), the rest ``warehouse_capacity``.
The numba kernels in :mod:`solvers.allocation` do the assignment and the fair sharing.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from fulfil.feasibility import reach
from fulfil.network import Z
from fulfil.night import CompiledNight
from fulfil.scenario.schema import ZONES
from fulfil.stages.jobs import (
    crates_kg,
    fill_by_priority,
    priority_per_crate,
    weighted_crates,
)
from fulfil.stages.types import LAST_MILE, UnservedLine

_REASON = {1: "no_reachable_warehouse", 2: "warehouse_capacity", 3: "no_reachable_warehouse", 4: "warehouse_capacity"}
_DETAIL = {
    1: "no forward warehouse reaches it inside its window and the promise",
    2: "its pinned forward warehouse is full for tonight",
    3: "its pinned forward warehouse cannot reach it inside its window and the promise",
    4: "every forward warehouse that reaches it is full for tonight",
}


def _why(status: int, in_time: bool) -> tuple[str, str]:
    """Reason and detail of a pickup point the assignment left out (``status`` of
    :data:`solvers.allocation.ASSIGN_STATUS`)."""
    if status in (1, 3) and in_time:  # in time, but only from warehouses without a fleet on shift
        return "no_reachable_warehouse", ("its pinned forward warehouse has no" if status == 3 else
                                          "no forward warehouse that reaches it in time has a") + \
            " last-mile vehicle on shift after its dispatch"
    return _REASON.get(status, "no_reachable_warehouse"), _DETAIL.get(status, "unassigned")


@dataclass(frozen=True)
class Allocation:
    assign: np.ndarray  # int64[P]: forward warehouse index, -1 = none
    units: np.ndarray  # int64[P, K]: units to deliver
    unserved: list[UnservedLine]


def allocate(night: CompiledNight) -> Allocation:
    from solvers.allocation import allocate_stock, assign_pickups, crates_per_zone

    net, travel = night.net, night.travel
    r = reach(night)
    v = net.vehicles
    fw_cost_km = np.ones(net.n_forward)
    for f in range(net.n_forward):
        mask = (v.tier == LAST_MILE) & (v.home == travel.forward_index(f)) & (v.count > 0)
        if mask.any():
            fw_cost_km[f] = float(v.cost_per_km[mask].mean())
    cost = 2.0 * r.dist_km * fw_cost_km[None, :]
    full_crates, _ = crates_per_zone(net.demand, net.product_per_crate, net.product_zone, net.product_kg, Z)
    reachable = r.reachable & ~net.pp_closed[:, None]  # a point closed all night gets no warehouse
    assign, status = assign_pickups(cost, reachable, full_crates, net.fw_capacity, net.pp_pinned)
    wanted = net.demand.copy()
    unserved = _serve_what_fits(night, cost, reachable, full_crates, assign, status, wanted)
    for p in np.flatnonzero(assign < 0):
        pin = int(net.pp_pinned[p])
        if net.pp_closed[p]:
            reason, detail = "closed", "the pickup point is closed tonight before its window opens"
        else:
            reason, detail = _why(int(status[p]), bool(r.in_time[p, pin] if pin >= 0 else r.in_time[p].any()))
        for k in np.flatnonzero(net.demand[p] > 0):
            unserved.append(UnservedLine(int(p), int(k), int(net.demand[p, k]), reason, detail))
    pool = np.where(assign >= 0, net.fw_central[np.maximum(assign, 0)], -1).astype(np.int64)
    units = allocate_stock(wanted, pool, net.stock)
    short = (wanted - units) * (assign >= 0)[:, None]
    for p, k in zip(*np.nonzero(short > 0), strict=True):
        unserved.append(UnservedLine(int(p), int(k), int(short[p, k]), "stock_shortage",
                                     f"only {int(units[:, k].sum())} units of this product could be allocated "
                                     f"from the central warehouse's stock; shared fairly by share of demand"))
    units = units * (assign >= 0)[:, None]
    return Allocation(assign=assign, units=units, unserved=unserved)


def _serve_what_fits(night: CompiledNight, cost: np.ndarray, reachable: np.ndarray, full_crates: np.ndarray,
                     assign: np.ndarray, status: np.ndarray, wanted: np.ndarray) -> list[UnservedLine]:
    """Give each pickup point left out for capacity (``status`` 2 or 4) the warehouse it may use with room
    for the most of its goods by priority (ties: the cheaper), in pickup order; ``assign`` and ``wanted``
    (units still to allocate) are updated in place; the units cut are ``warehouse_capacity`` lines."""
    from solvers.allocation import MAX_CRATES

    net = night.net
    cap = np.where(net.fw_capacity < 0, MAX_CRATES, net.fw_capacity)
    left = cap - np.array([full_crates[assign == f].sum(axis=0) for f in range(net.n_forward)]).reshape(cap.shape)
    weight = priority_per_crate(net)
    out: list[UnservedLine] = []
    for p in np.flatnonzero((assign < 0) & np.isin(status, (2, 4))):
        pin = int(net.pp_pinned[p])
        cands = [f for f in (range(net.n_forward) if pin < 0 else [pin]) if reachable[p, f]]
        units = {int(k): int(wanted[p, k]) for k in np.flatnonzero(wanted[p] > 0)}
        best: tuple[float, float, int, dict[int, int]] | None = None
        for f in cands:
            kept = fill_by_priority(net, units, np.maximum(left[f], 0))
            key = (-weighted_crates(kept, net, weight), float(cost[p, f]), f, kept)
            if kept and (best is None or key[:3] < best[:3]):
                best = key
        if best is None:
            continue
        f, kept = best[2], best[3]
        assign[p] = f
        got, _ = crates_kg(kept, net)
        left[f] -= got
        for k, q in units.items():
            if kept.get(k, 0) < q:
                out.append(UnservedLine(int(p), k, q - kept.get(k, 0), "warehouse_capacity",
                                        f"{net.forward_ids[f]} has room for only part of this pickup point's "
                                        f"{ZONES[int(net.product_zone[k])]} goods tonight; what fits went by priority"))
            wanted[p, k] = kept.get(k, 0)
    return out
