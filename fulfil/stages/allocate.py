"""Stage 1: assign pickup points to forward warehouses and share out short stock.

Costs are round-trip road km × the warehouse fleet's mean cost per km; a pickup point can
only go to a warehouse that reaches it inside its window (and, with cold goods, inside the
promise) at the slowest speed of the dispatch wave (:func:`fulfil.feasibility.reach`).
A warehouse's capacity is a hard limit, for pinned pickup points too, counted as the checker
counts it: per pickup point and zone ``ceil(Σ units / units_per_crate)``, each zone handed
over in one stop.
The numba kernels in :mod:`solvers.allocation` do the assignment and the fair sharing.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from fulfil.feasibility import reach
from fulfil.night import CompiledNight
from fulfil.network import Z
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
    unserved: list[UnservedLine] = []
    for p in np.flatnonzero(assign < 0):
        pin = int(net.pp_pinned[p])
        if net.pp_closed[p]:
            reason, detail = "closed", "the pickup point is closed tonight before its window opens"
        else:
            reason, detail = _why(int(status[p]), bool(r.in_time[p, pin] if pin >= 0 else r.in_time[p].any()))
        for k in np.flatnonzero(net.demand[p] > 0):
            unserved.append(UnservedLine(int(p), int(k), int(net.demand[p, k]), reason, detail))
    pool = np.where(assign >= 0, net.fw_central[np.maximum(assign, 0)], -1).astype(np.int64)
    units = allocate_stock(net.demand, pool, net.stock)
    short = (net.demand - units) * (assign >= 0)[:, None]
    for p, k in zip(*np.nonzero(short > 0), strict=True):
        unserved.append(UnservedLine(int(p), int(k), int(short[p, k]), "stock_shortage",
                                     f"only {int(units[:, k].sum())} units of this product could be allocated "
                                     f"from the central warehouse's stock; shared fairly by share of demand"))
    units = units * (assign >= 0)[:, None]
    return Allocation(assign=assign, units=units, unserved=unserved)
