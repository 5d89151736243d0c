"""Compile a validated :class:`Scenario` into plain, read-only numpy arrays.

Ids live outside, indices inside: the :class:`Network` keeps the id ↔ index maps and
everything the allocation and routing stages need as contiguous arrays.  Zones are
indexed in :data:`fulfil.scenario.schema.ZONES` order (frozen, chilled, ambient).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from fulfil.scenario.schema import ZONES

if TYPE_CHECKING:
    from fulfil.scenario.schema import Scenario
    from fulfil.travel import TravelModel

Z = len(ZONES)
ZONE_INDEX = {z: i for i, z in enumerate(ZONES)}


def _float_at_most(n: int) -> float:
    """``n`` as a float that is never more than ``n`` (beyond 2**53 a float rounds to the nearest,
    which could be one above the stock; beyond any int64 total it is as good as unlimited)."""
    if n >= 2**1000:
        return math.inf
    x = float(n)
    return math.nextafter(x, 0.0) if x > n else x


def _ro(a: np.ndarray) -> np.ndarray:
    a = np.ascontiguousarray(a)
    a.setflags(write=False)
    return a


@dataclass(frozen=True)
class VehicleArrays:
    """One row per vehicle type."""

    ids: tuple[str, ...]
    tier: np.ndarray  # int8: 0 trunk, 1 last mile
    home: np.ndarray  # int64 global site index
    count: np.ndarray  # int64
    crates: np.ndarray  # int64[T, Z]; 0 = no compartment of that zone (movable: the zone's maximum)
    kg: np.ndarray  # float64[T, Z]
    total_crates: np.ndarray  # int64[T]: the body (sum of compartments, or the movable-partition total)
    total_kg: np.ndarray  # float64[T]
    refrigerated: np.ndarray  # bool
    box_minutes: np.ndarray  # float64
    fixed_cost: np.ndarray
    cost_per_km: np.ndarray
    cost_per_hour: np.ndarray
    shift_open: np.ndarray  # minutes
    shift_close: np.ndarray
    profile: tuple[str, ...]


@dataclass(frozen=True)
class Network:
    central_ids: tuple[str, ...]
    forward_ids: tuple[str, ...]
    pickup_ids: tuple[str, ...]
    product_ids: tuple[str, ...]
    fw_central: np.ndarray  # int64[F] central index supplying each forward warehouse
    fw_capacity: np.ndarray  # int64[F, Z]; -1 = unlimited
    fw_dispatch: np.ndarray  # float64[F] minutes
    pp_open: np.ndarray  # float64[P]
    #: the window's close, or the point's closing time tonight (``closed_from``) when earlier
    pp_close: np.ndarray
    #: float64[P]: the point's closing time tonight (``closed_from``), inf when it stays open
    pp_closed_from: np.ndarray
    #: float64[P, G, 2]: the gaps ``(close, next open)`` between a point's receiving windows left
    #: tonight, in time order, padded with ``(inf, inf)``; G = 0 when every point has one window
    pp_gaps: np.ndarray
    pp_locker: np.ndarray  # bool[P]
    pp_cells: np.ndarray  # int64[P, Z]; -1 = not a locker
    pp_pinned: np.ndarray  # int64[P]; -1 = free
    product_zone: np.ndarray  # int64[K]
    product_kg: np.ndarray  # float64[K]
    product_per_crate: np.ndarray  # float64[K]
    product_max_out: np.ndarray  # float64[K]
    product_price: np.ndarray  # float64[K]
    demand: np.ndarray  # int64[P, K] units
    orders: np.ndarray  # int64[P]
    stock: np.ndarray  # float64[C, K]; inf = unlimited
    vehicles: VehicleArrays

    @property
    def n_pickups(self) -> int:
        return len(self.pickup_ids)

    @property
    def pp_closed(self) -> np.ndarray:
        """bool[P]: closed tonight before its window opens: nothing can be delivered there."""
        return self.pp_closed_from <= self.pp_open

    @property
    def n_forward(self) -> int:
        return len(self.forward_ids)


def open_windows(windows: tuple[tuple[float, float], ...], closed_from: float) -> list[tuple[float, float]]:
    """The receiving windows left tonight: those opening before ``closed_from``, the last cut at it.

    A point closed before its first window opens keeps that window closing at ``closed_from``
    (it ends before it opens: :attr:`Network.pp_closed`).
    """
    left = [(o, min(c, closed_from)) for o, c in windows if o < closed_from]
    return left or [(windows[0][0], min(windows[0][1], closed_from))]


def window_gaps(windows: list[list[tuple[float, float]]]) -> np.ndarray:
    """float64[P, G, 2]: the gaps between each point's consecutive ``windows``, padded with inf."""
    g = max((len(w) - 1 for w in windows), default=0)
    gaps = np.full((len(windows), g, 2), np.inf)
    for i, w in enumerate(windows):
        for k in range(len(w) - 1):
            gaps[i, k] = (w[k][1], w[k + 1][0])
    return gaps


def compile_network(s: Scenario, travel: TravelModel) -> Network:
    """Arrays for the solvers; ``travel`` resolves the default central of each forward warehouse."""
    C, F, P, K = len(s.central_warehouses), len(s.forward_warehouses), len(s.pickup_points), len(s.products)
    cidx = {c.id: i for i, c in enumerate(s.central_warehouses)}
    fidx = {f.id: i for i, f in enumerate(s.forward_warehouses)}
    pidx = {p.id: i for i, p in enumerate(s.pickup_points)}
    kidx = {p.id: i for i, p in enumerate(s.products)}

    fw_central = np.empty(F, dtype=np.int64)
    if any(f.central is None for f in s.forward_warehouses):
        d = travel.distance_m(
            np.arange(C) + 0, np.array([travel.forward_index(i) for i in range(F)], dtype=np.int64)
        )
    for i, f in enumerate(s.forward_warehouses):
        fw_central[i] = cidx[f.central] if f.central is not None else int(np.argmin(d[:, i]))
    fw_capacity = np.full((F, Z), -1, dtype=np.int64)
    fw_dispatch = np.empty(F)
    for i, f in enumerate(s.forward_warehouses):
        for z, cap in f.capacity.items():
            fw_capacity[i, ZONE_INDEX[z]] = cap
        fw_dispatch[i] = f.dispatch if f.dispatch is not None else s.policies.last_mile_dispatch

    pp_cells = np.full((P, Z), -1, dtype=np.int64)
    pp_pinned = np.full(P, -1, dtype=np.int64)
    for i, p in enumerate(s.pickup_points):
        if p.cells is not None:
            pp_cells[i] = 0
            for z, n in p.cells.items():
                pp_cells[i, ZONE_INDEX[z]] = n
        if p.forward_warehouse is not None:
            pp_pinned[i] = fidx[p.forward_warehouse]

    demand = np.zeros((P, K), dtype=np.int64)
    orders = np.zeros(P, dtype=np.int64)
    for d in s.demand:
        i = pidx[d.pickup_point]
        orders[i] += d.orders
        for k, q in d.items.items():
            demand[i, kidx[k]] += q

    stock = np.full((C, K), np.inf)
    if s.stock is not None:
        stock[:] = 0.0  # stock given: anything not listed is out of stock
        for st in s.stock:
            stock[cidx[st.warehouse], kidx[st.product]] = _float_at_most(st.quantity)

    vt = s.vehicle_types
    crates = np.zeros((len(vt), Z), dtype=np.int64)
    kg = np.zeros((len(vt), Z))
    for t, v in enumerate(vt):
        for c in v.compartments:
            crates[t, ZONE_INDEX[c.zone]] = c.crates
            kg[t, ZONE_INDEX[c.zone]] = c.kg
    home = np.array(
        [travel.index[v.home] for v in vt], dtype=np.int64
    )
    vehicles = VehicleArrays(
        ids=tuple(v.id for v in vt),
        tier=_ro(np.array([0 if v.tier == "trunk" else 1 for v in vt], dtype=np.int8)),
        home=_ro(home),
        count=_ro(np.array([v.count for v in vt], dtype=np.int64)),
        crates=_ro(crates),
        kg=_ro(kg),
        total_crates=_ro(np.array([v.movable_total.crates if v.movable_total else crates[t].sum()
                                   for t, v in enumerate(vt)], dtype=np.int64)),
        total_kg=_ro(np.array([v.movable_total.kg if v.movable_total else kg[t].sum() for t, v in enumerate(vt)])),
        refrigerated=_ro(np.array([v.refrigerated for v in vt], dtype=bool)),
        box_minutes=_ro(np.array([v.insulated_box_minutes for v in vt])),
        fixed_cost=_ro(np.array([v.fixed_cost for v in vt])),
        cost_per_km=_ro(np.array([v.cost_per_km for v in vt])),
        cost_per_hour=_ro(np.array([v.cost_per_hour for v in vt])),
        shift_open=_ro(np.array([v.shift.open for v in vt])),
        shift_close=_ro(np.array([v.shift.close for v in vt])),
        profile=tuple(v.speed_profile for v in vt),
    )
    closed_from = np.array([np.inf if p.closed_from is None else p.closed_from for p in s.pickup_points])
    windows = [open_windows(p.receiving_windows, cut) for p, cut in zip(s.pickup_points, closed_from)]
    return Network(
        central_ids=tuple(c.id for c in s.central_warehouses),
        forward_ids=tuple(f.id for f in s.forward_warehouses),
        pickup_ids=tuple(p.id for p in s.pickup_points),
        product_ids=tuple(p.id for p in s.products),
        fw_central=_ro(fw_central),
        fw_capacity=_ro(fw_capacity),
        fw_dispatch=_ro(fw_dispatch),
        pp_open=_ro(np.array([w[0][0] for w in windows])),
        pp_close=_ro(np.array([w[-1][1] for w in windows])),
        pp_closed_from=_ro(closed_from),
        pp_gaps=_ro(window_gaps(windows)),
        pp_locker=_ro(np.array([p.kind == "locker" for p in s.pickup_points], dtype=bool)),
        pp_cells=_ro(pp_cells),
        pp_pinned=_ro(pp_pinned),
        product_zone=_ro(np.array([ZONE_INDEX[p.zone] for p in s.products], dtype=np.int64)),
        product_kg=_ro(np.array([p.kg_per_unit for p in s.products])),
        product_per_crate=_ro(np.array([p.units_per_crate for p in s.products])),
        product_max_out=_ro(np.array([p.max_minutes_out_of_zone for p in s.products])),
        product_price=_ro(np.array([p.price for p in s.products])),
        demand=_ro(demand),
        orders=_ro(orders),
        stock=_ro(stock),
        vehicles=vehicles,
    )
