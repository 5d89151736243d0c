"""Numba kernels of :mod:`solvers.allocation` (private; call the wrappers in ``allocate``).

Inputs are assumed validated: contiguous arrays of the right dtype and shape.
"""

from __future__ import annotations

import numpy as np
from numba import njit


# --------------------------------------------------------------------------- #
# regret assignment
# --------------------------------------------------------------------------- #
@njit(cache=True)
def _fits(p, f, demand, remaining, unlimited):
    """True if pickup ``p``'s demand fits in the remaining capacity of ``f``."""
    for z in range(demand.shape[1]):
        d = demand[p, z]
        if d > 0 and not unlimited[f, z] and remaining[f, z] < d:
            return False
    return True


@njit(cache=True)
def _top_two(p, cost, reachable, demand, remaining, unlimited):
    """Cheapest and second-cheapest feasible warehouse of ``p`` (-1 if none)."""
    b1 = -1
    b2 = -1
    for f in range(cost.shape[1]):
        if not reachable[p, f] or not _fits(p, f, demand, remaining, unlimited):
            continue
        c = cost[p, f]
        if b1 < 0 or c < cost[p, b1]:
            b2 = b1
            b1 = f
        elif b2 < 0 or c < cost[p, b2]:
            b2 = f
    return b1, b2


@njit(cache=True)
def _before(a, b, key):
    """Heap order: larger regret first, then lower pickup index."""
    ka = key[a]
    kb = key[b]
    if ka > kb:
        return True
    if ka < kb:
        return False
    return a < b


@njit(cache=True)
def _sift_up(heap, pos, key, i):
    item = heap[i]
    while i > 0:
        parent = (i - 1) >> 1
        other = heap[parent]
        if not _before(item, other, key):
            break
        heap[i] = other
        pos[other] = i
        i = parent
    heap[i] = item
    pos[item] = i


@njit(cache=True)
def _sift_down(heap, pos, key, i, size):
    item = heap[i]
    while True:
        child = 2 * i + 1
        if child >= size:
            break
        right = child + 1
        if right < size and _before(heap[right], heap[child], key):
            child = right
        other = heap[child]
        if not _before(other, item, key):
            break
        heap[i] = other
        pos[other] = i
        i = child
    heap[i] = item
    pos[item] = i


@njit(cache=True)
def _heap_remove(heap, pos, key, i, size):
    """Remove the entry at heap slot ``i``; return the new size."""
    last = size - 1
    removed = heap[i]
    pos[removed] = -1
    if i != last:
        moved = heap[last]
        heap[i] = moved
        pos[moved] = i
        _sift_down(heap, pos, key, i, last)
        _sift_up(heap, pos, key, pos[moved])
    return last


@njit(cache=True)
def _regret(p, b1, b2, cost):
    if b2 < 0:
        return np.inf
    return cost[p, b2] - cost[p, b1]


@njit(cache=True)
def assign_regret_kernel(cost, reachable, demand, capacity, pinned):
    """Regret greedy with exact, incrementally maintained regrets.

    Every unassigned pickup keeps its two cheapest feasible warehouses
    (``best1``, ``best2``) and sits in an indexed max-heap keyed by regret.
    Capacities only shrink, so a warehouse leaves a pickup's top two only when
    it stops fitting; each warehouse keeps the list of pickups that have it in
    their top two and, after every assignment to it, only that list is
    re-checked.  Cost: O(P·F·Z) for the initial pass plus O(F·Z) per
    warehouse a pickup loses, plus O(log P) heap work per update.  Memory:
    the member lists take F·P int64, the size of the cost matrix.
    """
    P, F = cost.shape
    Z = demand.shape[1]
    assign = np.full(P, -1, dtype=np.int64)
    status = np.zeros(P, dtype=np.int8)
    unlimited = capacity < 0
    remaining = capacity.copy()

    # 1. pinned pickups, in index order
    done = np.zeros(P, dtype=np.bool_)
    for p in range(P):
        f = pinned[p]
        if f < 0:
            continue
        done[p] = True
        if not reachable[p, f]:
            status[p] = 3
            continue
        if not _fits(p, f, demand, remaining, unlimited):
            status[p] = 2  # its warehouse is full: unassigned, like any pickup that fits nowhere
            continue
        assign[p] = f
        for z in range(Z):
            remaining[f, z] -= demand[p, z]

    # 2. initial top two, heap and per-warehouse member lists
    best1 = np.full(P, -1, dtype=np.int64)
    best2 = np.full(P, -1, dtype=np.int64)
    key = np.zeros(P, dtype=np.float64)
    heap = np.empty(P, dtype=np.int64)
    pos = np.full(P, -1, dtype=np.int64)
    members = np.empty((F, P), dtype=np.int64)
    n_members = np.zeros(F, dtype=np.int64)
    size = np.int64(0)  # typed ints (not literals) keep the heap helpers to one signature
    top = np.int64(0)
    for p in range(P):
        if done[p]:
            continue
        any_reachable = False
        for f in range(F):
            if reachable[p, f]:
                any_reachable = True
                break
        if not any_reachable:
            status[p] = 1
            continue
        b1, b2 = _top_two(p, cost, reachable, demand, remaining, unlimited)
        if b1 < 0:
            status[p] = 4
            continue
        best1[p] = b1
        best2[p] = b2
        key[p] = _regret(p, b1, b2, cost)
        members[b1, n_members[b1]] = p
        n_members[b1] += 1
        if b2 >= 0:
            members[b2, n_members[b2]] = p
            n_members[b2] += 1
        heap[size] = p
        pos[p] = size
        size += 1
    for i in range(size // 2 - 1, -1, -1):
        _sift_down(heap, pos, key, np.int64(i), size)

    # 3. pop the largest regret, assign to its cheapest feasible warehouse
    while size > 0:
        p = heap[0]
        size = _heap_remove(heap, pos, key, top, size)
        f = best1[p]
        assign[p] = f
        consumed = False
        for z in range(Z):
            d = demand[p, z]
            if d > 0:
                remaining[f, z] -= d
                if not unlimited[f, z]:
                    consumed = True
        if not consumed:
            continue
        # re-check the pickups that count on f; compact the list as we go
        kept = 0
        for i in range(n_members[f]):
            q = members[f, i]
            if pos[q] < 0:
                continue  # assigned or dropped
            o1 = best1[q]
            o2 = best2[q]
            if o1 != f and o2 != f:
                continue  # stale entry
            if _fits(q, f, demand, remaining, unlimited):
                members[f, kept] = q
                kept += 1
                continue
            b1, b2 = _top_two(q, cost, reachable, demand, remaining, unlimited)
            if b1 < 0:
                status[q] = 4
                size = _heap_remove(heap, pos, key, pos[q], size)
                continue
            best1[q] = b1
            best2[q] = b2
            for b in (b1, b2):
                if b >= 0 and b != o1 and b != o2:
                    members[b, n_members[b]] = q
                    n_members[b] += 1
            old = key[q]
            key[q] = _regret(q, b1, b2, cost)
            if key[q] > old:
                _sift_up(heap, pos, key, pos[q])
            elif key[q] < old:
                _sift_down(heap, pos, key, pos[q], size)
        n_members[f] = kept
    return assign, status


# --------------------------------------------------------------------------- #
# stock allocation
# --------------------------------------------------------------------------- #
@njit(cache=True)
def allocate_stock_kernel(demand, order, starts, stock_units, unlimited):
    """Largest-remainder rationing per (pool, product).

    ``order`` lists pickups grouped by pool (increasing pickup index inside a
    group); group ``g`` is ``order[starts[g]:starts[g + 1]]``.
    """
    P, K = demand.shape
    G = starts.shape[0] - 1
    out = np.zeros((P, K), dtype=np.int64)
    for g in range(G):
        lo = starts[g]
        hi = starts[g + 1]
        n = hi - lo
        if n == 0:
            continue
        rem = np.empty(n, dtype=np.int64)
        for k in range(K):
            total = 0
            for i in range(lo, hi):
                total += demand[order[i], k]
            if unlimited[g, k] or total <= stock_units[g, k]:
                for i in range(lo, hi):
                    p = order[i]
                    out[p, k] = demand[p, k]
                continue
            s = stock_units[g, k]
            given = 0
            for i in range(n):
                p = order[lo + i]
                num = demand[p, k] * s
                share = num // total
                out[p, k] = share
                given += share
                rem[i] = num - share * total
            left = s - given
            if left <= 0:
                continue
            # one unique sort key: larger remainder first, then lower position
            # (= lower pickup index); rem < total <= 2**31 so no overflow
            for i in range(n):
                rem[i] = rem[i] * n + (n - 1 - i)
            keys = np.sort(rem)
            for r in range(left):
                i = n - 1 - keys[n - 1 - r] % n
                out[order[lo + i], k] += 1
    return out


# --------------------------------------------------------------------------- #
# loads and crates
# --------------------------------------------------------------------------- #
@njit(cache=True)
def trunk_load_kernel(assign, crates, kg, served, n_warehouses):
    Z = crates.shape[1]
    load_c = np.zeros((n_warehouses, Z), dtype=np.int64)
    load_kg = np.zeros((n_warehouses, Z), dtype=np.float64)
    for p in range(assign.shape[0]):
        f = assign[p]
        if f < 0 or not served[p]:
            continue
        for z in range(Z):
            load_c[f, z] += crates[p, z]
            load_kg[f, z] += kg[p, z]
    return load_c, load_kg


@njit(cache=True)
def crates_per_zone_kernel(units, units_per_crate, zone_of_product, kg_per_unit, n_zones, max_crates):
    P, K = units.shape
    crates = np.zeros((P, n_zones), dtype=np.int64)
    kg = np.zeros((P, n_zones), dtype=np.float64)
    frac = np.zeros(n_zones, dtype=np.float64)
    for p in range(P):
        frac[:] = 0.0
        for k in range(K):
            u = units[p, k]
            if u == 0:
                continue
            z = zone_of_product[k]
            frac[z] += u / units_per_crate[k]
            kg[p, z] += u * kg_per_unit[k]
        for z in range(n_zones):
            if frac[z] > 0.0:  # saturated before the cast: a float beyond int64 has no integer value
                crates[p, z] = np.int64(min(np.ceil(frac[z] - 1e-9), max_crates))
    return crates, kg
