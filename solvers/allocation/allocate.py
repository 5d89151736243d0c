"""Pickup → forward-warehouse assignment, stock rationing and load roll-ups.

Thin, validating wrappers around the numba kernels in
:mod:`solvers.allocation.kernels`.  Arrays in, arrays out; results are
deterministic (ties go to the lower index).
"""

from __future__ import annotations

import numpy as np

from .kernels import allocate_stock_kernel, assign_regret_kernel, crates_per_zone_kernel, trunk_load_kernel

__all__ = ["ASSIGN_STATUS", "MAX_CRATES", "assign_pickups", "allocate_stock", "trunk_load", "crates_per_zone"]

#: Crate counts saturate here (:func:`crates_per_zone`): a count of ``MAX_CRATES`` means at least
#: that many.  2**40 is also the routing engines' bound on a load, and a sum of up to 2**23 such
#: counts still fits int64.
MAX_CRATES = 2**40

ASSIGN_STATUS: dict[int, str] = {
    0: "ok",
    1: "unreachable",
    2: "pinned_over_capacity",
    3: "pinned_unreachable",
    4: "no_capacity",
}
"""Meaning of the ``status`` codes returned by :func:`assign_pickups`."""

_MAX_TOTAL = 2**31  # keeps demand * stock products of allocate_stock inside int64


# --------------------------------------------------------------------------- #
# validation helpers
# --------------------------------------------------------------------------- #
def _shape_msg(name: str, arr: np.ndarray, expected: str) -> str:
    return f"{name} must have shape {expected}, got {arr.shape}"


def _as_int(name: str, values: object, ndim: int) -> np.ndarray:
    """Coerce to contiguous int64; floats are accepted only if integral."""
    try:
        a = np.asarray(values)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name} must be an integer array: {exc}") from None
    if a.ndim != ndim:
        raise ValueError(f"{name} must be {ndim}-d, got shape {a.shape}")
    if a.dtype.kind in "biu":
        return np.ascontiguousarray(a, dtype=np.int64)
    if a.dtype.kind == "f":
        if not np.all(np.isfinite(a)) or np.any(a != np.round(a)):
            raise ValueError(f"{name} must hold integers, got non-integral or non-finite values")
        return np.ascontiguousarray(a, dtype=np.int64)
    raise ValueError(f"{name} must be an integer array, got dtype {a.dtype}")


def _as_float(name: str, values: object, ndim: int) -> np.ndarray:
    try:
        a = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name} must be a float array: {exc}") from None
    if a.ndim != ndim:
        raise ValueError(f"{name} must be {ndim}-d, got shape {a.shape}")
    return np.ascontiguousarray(a)


def _as_bool(name: str, values: object, ndim: int) -> np.ndarray:
    a = np.asarray(values)
    if a.ndim != ndim:
        raise ValueError(f"{name} must be {ndim}-d, got shape {a.shape}")
    if a.dtype != np.bool_:
        if a.dtype.kind not in "biu" or np.any((a != 0) & (a != 1)):
            raise ValueError(f"{name} must be boolean, got dtype {a.dtype}")
    return np.ascontiguousarray(a, dtype=np.bool_)


def _no_negative(name: str, a: np.ndarray) -> None:
    if a.size and a.min() < 0:
        idx = np.unravel_index(int(np.argmin(a)), a.shape)
        raise ValueError(f"{name}{list(map(int, idx))} = {a[idx]} is negative")


def _index_range(name: str, a: np.ndarray, n: int) -> None:
    """Values must be -1 (none) or a valid index below ``n``."""
    bad = (a < -1) | (a >= n)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise ValueError(f"{name}[{i}] = {a[i]} is not -1 or an index in [0, {n})")


# --------------------------------------------------------------------------- #
# public API
# --------------------------------------------------------------------------- #
def assign_pickups(
    cost: object,
    reachable: object,
    demand: object,
    capacity: object,
    pinned: object | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Assign pickup points to forward warehouses by regret greedy.

    Repeatedly takes the unassigned pickup with the largest *regret* — cost of
    its second-best minus its best feasible warehouse, given the capacity left;
    infinite when only one warehouse still fits — and gives it its cheapest
    feasible warehouse.  Ties go to the lower pickup (and warehouse) index.
    Regrets are kept exact as capacity runs out (see ``kernels.assign_regret_kernel``).

    Parameters
    ----------
    cost : array_like of float, shape (P, F)
        Estimated cost of serving pickup ``p`` from warehouse ``f``; must be
        finite where ``reachable``.
    reachable : array_like of bool, shape (P, F)
        ``f`` can serve ``p`` within the delivery promise.
    demand : array_like of int, shape (P, Z)
        Crates per temperature zone, ``>= 0``.
    capacity : array_like of int, shape (F, Z)
        Crates per zone a warehouse can handle; negative means unlimited.
    pinned : array_like of int, shape (P,), optional
        ``pinned[p] >= 0`` allows ``p`` only that warehouse (placed first, in
        index order); ``-1`` leaves it free.

    Returns
    -------
    assign : ndarray of int64, shape (P,)
        Warehouse index, ``-1`` when unassigned.
    status : ndarray of int8, shape (P,)
        Codes of :data:`ASSIGN_STATUS`: 0 ok, 1 unreachable (no reachable
        warehouse), 2 pinned_over_capacity (its warehouse is full; not assigned), 3
        pinned_unreachable (not assigned), 4 no_capacity (reachable warehouses
        are all full).

    Notes
    -----
    Capacity is never exceeded, by pinned pickups neither: a pin the
    warehouse cannot hold leaves the pickup unassigned (status 2).  A
    pickup with zero demand consumes nothing and goes to its cheapest
    reachable warehouse.
    """
    c = _as_float("cost", cost, 2)
    P, F = c.shape
    r = _as_bool("reachable", reachable, 2)
    if r.shape != (P, F):
        raise ValueError(_shape_msg("reachable", r, f"{(P, F)} like cost"))
    d = _as_int("demand", demand, 2)
    if d.shape[0] != P:
        raise ValueError(_shape_msg("demand", d, f"({P}, Z)"))
    Z = d.shape[1]
    cap = _as_int("capacity", capacity, 2)
    if cap.shape != (F, Z):
        raise ValueError(_shape_msg("capacity", cap, f"{(F, Z)}"))
    _no_negative("demand", d)
    bad = r & ~np.isfinite(c)
    if bad.any():
        p, f = (int(i) for i in np.argwhere(bad)[0])
        raise ValueError(f"cost[{p}, {f}] = {c[p, f]} is not finite although reachable")
    if pinned is None:
        pin = np.full(P, -1, dtype=np.int64)
    else:
        pin = _as_int("pinned", pinned, 1)
        if pin.shape != (P,):
            raise ValueError(_shape_msg("pinned", pin, f"({P},)"))
        if pin.size and pin.max() >= F:
            i = int(np.argmax(pin))
            raise ValueError(f"pinned[{i}] = {pin[i]} is not a warehouse index in [0, {F})")
        pin = np.where(pin < 0, -1, pin)
    return assign_regret_kernel(c, r, d, cap, pin)


def allocate_stock(demand: object, pool: object, stock: object) -> np.ndarray:
    """Ration stock among pickups, never overselling.

    Parameters
    ----------
    demand : array_like of int, shape (P, K)
        Units wanted per pickup and product, ``>= 0``.
    pool : array_like of int, shape (P,)
        Stock pool each pickup draws from (e.g. its central warehouse);
        ``-1`` draws nothing and gets 0.
    stock : array_like of float, shape (G, K)
        Units available per pool and product, ``>= 0``; ``np.inf`` is
        unlimited.  Fractional stock is floored.

    Returns
    -------
    ndarray of int64, shape (P, K)
        ``allocated <= demand`` and, per pool and product,
        ``sum(allocated) <= floor(stock)``.  When stock covers the pool's
        demand everybody gets their demand.  Otherwise each pickup gets
        ``floor(demand * S / total)`` and the ``S - sum`` leftover units go one
        each to the largest fractional remainders, ties to the lower pickup
        index, where ``S = floor(stock)``.
    """
    d = _as_int("demand", demand, 2)
    P, K = d.shape
    g_of = _as_int("pool", pool, 1)
    if g_of.shape != (P,):
        raise ValueError(_shape_msg("pool", g_of, f"({P},)"))
    s = _as_float("stock", stock, 2)
    if s.shape[1] != K:
        raise ValueError(_shape_msg("stock", s, f"(G, {K})"))
    G = s.shape[0]
    _no_negative("demand", d)
    _index_range("pool", g_of, G)
    bad = np.isnan(s) | (s < 0)
    if bad.any():
        g, k = (int(i) for i in np.argwhere(bad)[0])
        raise ValueError(f"stock[{g}, {k}] = {s[g, k]} must be >= 0 (inf = unlimited)")
    # products whose total could pass _MAX_TOTAL (summed in float: an int64 sum may wrap) are
    # rationed with Python's exact integers; the kernel takes the rest
    big = d.astype(np.float64).sum(axis=0) > _MAX_TOTAL / 2 if d.size else np.zeros(K, dtype=bool)
    unlimited = s >= float(_MAX_TOTAL)  # also catches inf: more than any total of the kernel's products
    units = np.floor(np.where(unlimited, 0.0, s)).astype(np.int64)
    members = np.flatnonzero(g_of >= 0)
    order = np.ascontiguousarray(members[np.argsort(g_of[members], kind="stable")], dtype=np.int64)
    counts = np.bincount(g_of[members], minlength=G)
    starts = np.zeros(G + 1, dtype=np.int64)
    np.cumsum(counts, out=starts[1:])
    out = allocate_stock_kernel(np.where(big[None, :], 0, d), order, starts, units, np.ascontiguousarray(unlimited))
    for k in np.flatnonzero(big):
        for g in range(G):
            group = order[starts[g]:starts[g + 1]]
            want = [int(x) for x in d[group, k]]
            out[group, k] = want if np.isinf(s[g, k]) else _ration(want, int(s[g, k]))
    return out


def _ration(want: list[int], stock: int) -> list[int]:
    """The kernel's largest-remainder rule in exact integers, for totals beyond its int64 range."""
    total = sum(want)
    if total <= stock:
        return want
    num = [w * stock for w in want]
    got = [n // total for n in num]
    by_remainder = sorted(range(len(want)), key=lambda i: (-(num[i] - got[i] * total), i))
    for i in by_remainder[:stock - sum(got)]:
        got[i] += 1
    return got


def trunk_load(
    assign: object, crates: object, kg: object, served: object, n_warehouses: int
) -> tuple[np.ndarray, np.ndarray]:
    """Sum crates and kilograms per warehouse and zone (the trunk-run load).

    Parameters
    ----------
    assign : array_like of int, shape (P,)
        Warehouse per pickup, ``-1`` for none.
    crates : array_like of int, shape (P, Z)
    kg : array_like of float, shape (P, Z)
    served : array_like of bool, shape (P,)
        Only served pickups count.
    n_warehouses : int
        Number of warehouses ``F``.

    Returns
    -------
    load_crates : ndarray of int64, shape (F, Z)
    load_kg : ndarray of float64, shape (F, Z)
    """
    if isinstance(n_warehouses, bool) or not isinstance(n_warehouses, (int, np.integer)) or n_warehouses < 0:
        raise ValueError(f"n_warehouses must be a non-negative int, got {n_warehouses!r}")
    a = _as_int("assign", assign, 1)
    P = a.shape[0]
    c = _as_int("crates", crates, 2)
    if c.shape[0] != P:
        raise ValueError(_shape_msg("crates", c, f"({P}, Z)"))
    w = _as_float("kg", kg, 2)
    if w.shape != c.shape:
        raise ValueError(_shape_msg("kg", w, f"{c.shape} like crates"))
    sv = _as_bool("served", served, 1)
    if sv.shape != (P,):
        raise ValueError(_shape_msg("served", sv, f"({P},)"))
    _index_range("assign", a, int(n_warehouses))
    return trunk_load_kernel(a, c, w, sv, int(n_warehouses))


def crates_per_zone(
    units: object,
    units_per_crate: object,
    zone_of_product: object,
    kg_per_unit: object,
    n_zones: int = 3,
) -> tuple[np.ndarray, np.ndarray]:
    """Crates and kilograms per pickup and temperature zone.

    Parameters
    ----------
    units : array_like of int, shape (P, K)
        Units per pickup and product, ``>= 0``.
    units_per_crate : array_like of float, shape (K,)
        ``> 0``; products of one zone share crates.
    zone_of_product : array_like of int, shape (K,)
        Zone index in ``[0, n_zones)``.
    kg_per_unit : array_like of float, shape (K,)
        ``>= 0``.
    n_zones : int, default 3
        Number of temperature zones ``Z``.

    Returns
    -------
    crates : ndarray of int64, shape (P, Z)
        ``ceil(sum_k units / units_per_crate - 1e-9)`` per zone (0 when empty), at most
        :data:`MAX_CRATES`.
    kg : ndarray of float64, shape (P, Z)
        ``sum_k units * kg_per_unit`` per zone.
    """
    if isinstance(n_zones, bool) or not isinstance(n_zones, (int, np.integer)) or n_zones < 1:
        raise ValueError(f"n_zones must be a positive int, got {n_zones!r}")
    u = _as_int("units", units, 2)
    K = u.shape[1]
    upc = _as_float("units_per_crate", units_per_crate, 1)
    zp = _as_int("zone_of_product", zone_of_product, 1)
    kpu = _as_float("kg_per_unit", kg_per_unit, 1)
    for name, arr in (("units_per_crate", upc), ("zone_of_product", zp), ("kg_per_unit", kpu)):
        if arr.shape != (K,):
            raise ValueError(_shape_msg(name, arr, f"({K},)"))
    _no_negative("units", u)
    if not np.all(np.isfinite(upc) & (upc > 0)):
        raise ValueError("units_per_crate must be finite and > 0")
    if not np.all(np.isfinite(kpu) & (kpu >= 0)):
        raise ValueError("kg_per_unit must be finite and >= 0")
    bad = (zp < 0) | (zp >= n_zones)
    if bad.any():
        k = int(np.flatnonzero(bad)[0])
        raise ValueError(f"zone_of_product[{k}] = {zp[k]} is not in [0, {n_zones})")
    return crates_per_zone_kernel(u, upc, zp, kpu, int(n_zones), float(MAX_CRATES))
