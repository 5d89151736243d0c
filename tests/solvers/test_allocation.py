"""Tests of solvers.allocation: regret assignment, stock rationing, loads, crates."""

from __future__ import annotations

import numpy as np
import pytest
from numpy.testing import assert_array_equal, assert_allclose

from solvers.allocation import (
    ASSIGN_STATUS,
    MAX_CRATES,
    allocate_stock,
    assign_pickups,
    crates_per_zone,
    trunk_load,
)


# --------------------------------------------------------------------------- #
# helpers
# --------------------------------------------------------------------------- #
def naive_regret(cost, reachable, demand, capacity, pinned=None):
    """Slow reference: recompute every regret from scratch at every step."""
    P, F = cost.shape
    unlimited = capacity < 0
    rem = capacity.astype(np.int64).copy()
    assign = np.full(P, -1, dtype=np.int64)
    status = np.zeros(P, dtype=np.int8)
    open_ = set(range(P))
    if pinned is not None:
        for p in range(P):
            f = int(pinned[p])
            if f < 0:
                continue
            open_.discard(p)
            if not reachable[p, f]:
                status[p] = 3
                continue
            if np.any((demand[p] > 0) & ~unlimited[f] & (rem[f] < demand[p])):
                status[p] = 2
                continue
            assign[p] = f
            rem[f] -= demand[p]
    for p in list(open_):
        if not reachable[p].any():
            status[p] = 1
            open_.discard(p)

    def feasible(p):
        return [
            f
            for f in range(F)
            if reachable[p, f] and not np.any((demand[p] > 0) & ~unlimited[f] & (rem[f] < demand[p]))
        ]

    while open_:
        best = None
        for p in sorted(open_):
            fs = feasible(p)
            if not fs:
                status[p] = 4
                continue
            fs.sort(key=lambda f: (cost[p, f], f))
            regret = np.inf if len(fs) == 1 else cost[p, fs[1]] - cost[p, fs[0]]
            if best is None or regret > best[0]:
                best = (regret, p, fs[0])
        open_ = {p for p in open_ if status[p] != 4}
        if best is None:
            break
        _, p, f = best
        assign[p] = f
        rem[f] -= demand[p]
        open_.discard(p)
    return assign, status


def load_of(assign, demand, F):
    load = np.zeros((F, demand.shape[1]), dtype=np.int64)
    ok = assign >= 0
    np.add.at(load, assign[ok], demand[ok])
    return load


def random_instance(seed, P=40, F=6, Z=3, tight=0.5):
    rng = np.random.default_rng(seed)
    cost = rng.uniform(1.0, 50.0, (P, F)).round(1)
    reachable = rng.random((P, F)) < 0.6
    demand = rng.integers(0, 6, (P, Z))
    capacity = np.ceil(demand.sum(axis=0) * tight / F * rng.uniform(0.5, 1.5, (F, Z))).astype(np.int64)
    capacity[rng.random((F, Z)) < 0.1] = -1
    return cost, reachable, demand, capacity


# --------------------------------------------------------------------------- #
# assign_pickups
# --------------------------------------------------------------------------- #
def test_regret_beats_greedy_by_index():
    """Serving the pickup that loses most first gives a cheaper plan than index order."""
    cost = np.array([[1.0, 2.0], [1.0, 10.0]])
    reachable = np.ones((2, 2), dtype=bool)
    demand = np.array([[1], [1]])
    capacity = np.array([[1], [1]])
    assign, status = assign_pickups(cost, reachable, demand, capacity)
    assert_array_equal(assign, [1, 0])
    assert_array_equal(status, [0, 0])
    regret_total = cost[np.arange(2), assign].sum()
    greedy_by_index_total = cost[0, 0] + cost[1, 1]  # 1 + 10
    assert regret_total == 3.0 < greedy_by_index_total


def test_single_option_has_infinite_regret():
    """A pickup with one feasible warehouse is served before pickups that have a fallback."""
    cost = np.array([[1.0, 1.5], [100.0, 1.0]])
    reachable = np.array([[True, True], [True, False]])
    demand = np.array([[2], [2]])
    capacity = np.array([[2], [5]])
    assign, status = assign_pickups(cost, reachable, demand, capacity)
    assert_array_equal(assign, [1, 0])
    assert_array_equal(status, [0, 0])


def test_equal_regret_tie_goes_to_lower_index():
    """Two identical pickups competing for one slot: the lower index wins it."""
    cost = np.array([[1.0, 5.0], [1.0, 5.0], [1.0, 5.0]])
    reachable = np.ones((3, 2), dtype=bool)
    demand = np.ones((3, 1), dtype=np.int64)
    capacity = np.array([[1], [2]])
    assign, _ = assign_pickups(cost, reachable, demand, capacity)
    assert_array_equal(assign, [0, 1, 1])


def test_unreachable_and_no_capacity_status():
    """No reachable warehouse → status 1; reachable but all full → status 4; both unassigned."""
    cost = np.array([[1.0, 2.0], [1.0, 2.0], [3.0, 1.0]])
    reachable = np.array([[True, False], [True, False], [False, False]])
    demand = np.array([[3, 0], [2, 1], [1, 1]])
    capacity = np.array([[4, 9], [9, 9]])
    assign, status = assign_pickups(cost, reachable, demand, capacity)
    assert_array_equal(assign, [0, -1, -1])
    assert_array_equal(status, [0, 4, 1])
    assert ASSIGN_STATUS[int(status[1])] == "no_capacity"
    assert ASSIGN_STATUS[int(status[2])] == "unreachable"


def test_capacity_is_per_zone_and_unlimited_when_negative():
    """Only zones with demand consume capacity; a negative capacity never blocks."""
    cost = np.array([[1.0, 9.0], [1.0, 9.0], [1.0, 9.0]])
    reachable = np.ones((3, 2), dtype=bool)
    demand = np.array([[5, 0, 1], [0, 4, 0], [5, 0, 0]])
    capacity = np.array([[5, 4, -1], [0, 0, 0]])
    assign, status = assign_pickups(cost, reachable, demand, capacity)
    # Warehouse 1 has no room, so each pickup has one option (infinite regret) and
    # index order decides: 0 fills zone 0, 1 still fits (zone 1 only), 2 does not.
    assert_array_equal(assign, [0, 0, -1])
    assert_array_equal(status, [0, 0, 4])
    assert np.all(load_of(assign, demand, 2)[:, :2] <= capacity[:, :2])


def test_pinned_over_capacity_is_not_assigned_and_consumes_nothing():
    """A pin its warehouse cannot hold leaves the pickup unassigned with status 2 (the warehouse's capacity
    is a hard limit: the checker holds the plan to it), and the room stays for the others."""
    cost = np.array([[5.0, 1.0], [1.0, 2.0], [1.0, 2.0]])
    reachable = np.ones((3, 2), dtype=bool)
    demand = np.array([[4], [1], [1]])
    capacity = np.array([[3], [1]])
    assign, status = assign_pickups(cost, reachable, demand, capacity, pinned=[0, -1, -1])
    assert_array_equal(assign, [-1, 0, 0])
    assert_array_equal(status, [2, 0, 0])
    assert ASSIGN_STATUS[2] == "pinned_over_capacity"


def test_pin_to_a_warehouse_of_capacity_zero():
    """Capacity 0 in every zone holds no pinned pickup with goods; one with nothing to deliver is kept."""
    cost = np.ones((2, 1))
    reachable = np.ones((2, 1), dtype=bool)
    demand = np.array([[0, 1, 0], [0, 0, 0]])
    assign, status = assign_pickups(cost, reachable, demand, np.zeros((1, 3), dtype=np.int64), pinned=[0, 0])
    assert_array_equal(assign, [-1, 0])
    assert_array_equal(status, [2, 0])


def test_pinned_unreachable_is_not_assigned():
    """A pin to an unreachable warehouse yields status 3, assign -1 and consumes nothing."""
    cost = np.array([[1.0, 1.0], [1.0, 2.0]])
    reachable = np.array([[True, False], [True, True]])
    demand = np.array([[1], [1]])
    capacity = np.array([[1], [1]])
    assign, status = assign_pickups(cost, reachable, demand, capacity, pinned=[1, -1])
    assert_array_equal(assign, [-1, 0])
    assert_array_equal(status, [3, 0])


@pytest.mark.parametrize("seed", range(8))
def test_matches_naive_reference_and_respects_capacity(seed):
    """The incremental kernel equals a from-scratch regret greedy and never overfills."""
    cost, reachable, demand, capacity = random_instance(seed, tight=0.6 + 0.1 * seed)
    pinned = None
    if seed % 2:
        pinned = np.full(cost.shape[0], -1)
        pinned[[1, 7, 11]] = [0, 3, 5]
    assign, status = assign_pickups(cost, reachable, demand, capacity, pinned)
    ref_assign, ref_status = naive_regret(cost, reachable, demand, capacity, pinned)
    assert_array_equal(assign, ref_assign)
    assert_array_equal(status, ref_status)
    over = (load_of(assign, demand, cost.shape[1]) > capacity) & (capacity >= 0)
    assert not over.any()
    assert np.all(assign[status != 0] == -1)
    ok = assign >= 0
    assert np.all(reachable[np.flatnonzero(ok), assign[ok]])
    assert set(np.unique(status)) <= set(ASSIGN_STATUS)


def test_validation_errors():
    """Bad shapes, out-of-range pins and non-finite reachable costs raise ValueError."""
    cost = np.ones((2, 2))
    reach = np.ones((2, 2), dtype=bool)
    demand = np.ones((2, 3), dtype=np.int64)
    cap = np.ones((2, 3), dtype=np.int64)
    with pytest.raises(ValueError, match="reachable"):
        assign_pickups(cost, reach[:1], demand, cap)
    with pytest.raises(ValueError, match="capacity"):
        assign_pickups(cost, reach, demand, cap[:, :2])
    with pytest.raises(ValueError, match="pinned"):
        assign_pickups(cost, reach, demand, cap, pinned=[2, -1])
    with pytest.raises(ValueError, match="negative"):
        assign_pickups(cost, reach, -demand, cap)
    bad = cost.copy()
    bad[1, 0] = np.nan
    with pytest.raises(ValueError, match=r"cost\[1, 0\]"):
        assign_pickups(bad, reach, demand, cap)


# --------------------------------------------------------------------------- #
# allocate_stock
# --------------------------------------------------------------------------- #
def test_allocation_equals_demand_when_stock_suffices():
    """Enough (or unlimited) stock → every pickup gets exactly its demand; pool -1 gets 0."""
    demand = np.array([[3, 0, 5], [2, 7, 1], [4, 4, 4]])
    pool = np.array([0, 0, -1])
    stock = np.array([[5.0, np.inf, 6.0]])
    out = allocate_stock(demand, pool, stock)
    assert out.dtype == np.int64
    assert_array_equal(out, [[3, 0, 5], [2, 7, 1], [0, 0, 0]])


def test_largest_remainder_hand_case():
    """demand 5,3,2 with 7 in stock: floors 3,2,1 and the spare unit goes to remainder .5."""
    out = allocate_stock(np.array([[5], [3], [2]]), np.array([0, 0, 0]), np.array([[7.0]]))
    assert_array_equal(out[:, 0], [4, 2, 1])


def test_largest_remainder_ties_go_to_lower_index():
    """Equal remainders: spare units go to the lowest pickup indices of the pool."""
    demand = np.ones((5, 1), dtype=np.int64)
    pool = np.array([1, 0, 1, 0, 0])
    out = allocate_stock(demand, pool, np.array([[2.0], [1.0]]))
    assert_array_equal(out[:, 0], [1, 1, 0, 1, 0])


def test_fractional_stock_is_floored():
    """2.9 units on hand can ship 2."""
    out = allocate_stock(np.array([[2], [2]]), np.array([0, 0]), np.array([[2.9]]))
    assert out.sum() == 2
    assert_array_equal(out[:, 0], [1, 1])


@pytest.mark.parametrize("seed", range(6))
def test_never_oversells_random(seed):
    """Random shortages: allocated <= demand, pool sums <= floor(stock), and a short pool ships all of it."""
    rng = np.random.default_rng(100 + seed)
    P, K, G = 200, 7, 3
    demand = rng.integers(0, 12, (P, K))
    pool = rng.integers(-1, G, P)
    stock = rng.uniform(0, 1.2, (G, K)) * np.maximum(demand.sum(axis=0), 1) / G
    stock[rng.random((G, K)) < 0.15] = np.inf
    out = allocate_stock(demand, pool, stock)
    assert np.all(out >= 0) and np.all(out <= demand)
    assert np.all(out[pool < 0] == 0)
    for g in range(G):
        sent = out[pool == g].sum(axis=0)
        want = demand[pool == g].sum(axis=0)
        cap = np.where(np.isinf(stock[g]), want, np.floor(np.where(np.isinf(stock[g]), 0, stock[g])))
        assert np.all(sent <= cap)
        assert_array_equal(sent, np.minimum(want, cap))
        # proportional: nobody is more than one unit away from the exact share
        share = demand[pool == g] * (np.minimum(want, cap) / np.maximum(want, 1))
        assert np.all(np.abs(out[pool == g] - share) < 1.0)


def largest_remainder(want: list[int], stock: int) -> list[int]:
    """Reference: floor(d · S / total) each, the spare units to the largest remainders (ties: lower index)."""
    total = sum(want)
    if total <= stock:
        return list(want)
    got = [d * stock // total for d in want]
    rem = [d * stock - g * total for d, g in zip(want, got, strict=True)]
    for i in sorted(range(len(want)), key=lambda i: (-rem[i], i))[:stock - sum(got)]:
        got[i] += 1
    return got


def test_totals_beyond_int64_products_are_rationed_exactly():
    """A product whose demand passes 2**31 units (the kernel's headroom for demand × stock in int64) is rationed
    by the same largest-remainder rule in exact integers; it raised 'total demand exceeds' before (issue 13)."""
    big = 10**6 * 20_000  # the schema's largest quantity at its largest number of pickup points
    demand = np.array([[big, 5], [3 * big, 7], [big + 1, 0], [7, 1]], dtype=np.int64)
    stock = np.array([[2 * big + 3, 6.0]])
    out = allocate_stock(demand, np.zeros(4, dtype=np.int64), stock)
    assert out[:, 0].tolist() == largest_remainder(demand[:, 0].tolist(), 2 * big + 3)
    assert out[:, 1].tolist() == largest_remainder(demand[:, 1].tolist(), 6)  # the kernel's column
    assert_array_equal(allocate_stock(demand, np.zeros(4, dtype=np.int64), [[np.inf, np.inf]]), demand)
    assert_array_equal(allocate_stock(demand, np.zeros(4, dtype=np.int64), [[10.0 * big, 20.0]]), demand)


def test_allocate_validation():
    """Negative/NaN stock, pool out of range and shape mismatches raise ValueError."""
    d = np.ones((2, 2), dtype=np.int64)
    with pytest.raises(ValueError, match="stock"):
        allocate_stock(d, [0, 0], [[1.0, -1.0]])
    with pytest.raises(ValueError, match="stock"):
        allocate_stock(d, [0, 0], [[1.0, np.nan]])
    with pytest.raises(ValueError, match="pool"):
        allocate_stock(d, [0, 1], [[1.0, 1.0]])
    with pytest.raises(ValueError, match="stock"):
        allocate_stock(d, [0, 0], [[1.0]])
    with pytest.raises(ValueError, match="integers"):
        allocate_stock(d * 0.5, [0, 0], [[1.0, 1.0]])


# --------------------------------------------------------------------------- #
# trunk_load and crates_per_zone
# --------------------------------------------------------------------------- #
def test_trunk_load_sums_served_assigned_only():
    """Loads add up crates and kg of served, assigned pickups per warehouse and zone."""
    assign = np.array([0, 1, 0, -1, 1])
    served = np.array([True, True, True, True, False])
    crates = np.array([[1, 2], [3, 4], [5, 6], [7, 8], [9, 10]])
    kg = crates * 2.5
    load_c, load_kg = trunk_load(assign, crates, kg, served, 3)
    assert_array_equal(load_c, [[6, 8], [3, 4], [0, 0]])
    assert_allclose(load_kg, [[15.0, 20.0], [7.5, 10.0], [0.0, 0.0]])
    assert load_c.dtype == np.int64 and load_kg.dtype == np.float64
    with pytest.raises(ValueError, match="assign"):
        trunk_load(assign, crates, kg, served, 1)


def test_crates_rounding_and_kg():
    """Crates round up per zone but float noise (3.0000000000000004) does not add a crate."""
    units = np.array([[1, 27, 2, 0], [0, 0, 0, 0], [1, 0, 0, 5]])
    upc = np.array([10.0, 10.0, 10.0, 4.0])
    zone = np.array([0, 0, 0, 2])
    kpu = np.array([1.0, 0.5, 2.0, 0.25])
    crates, kg = crates_per_zone(units, upc, zone, kpu)
    assert_array_equal(crates, [[3, 0, 0], [0, 0, 0], [1, 0, 2]])
    assert_allclose(kg, [[1.0 + 13.5 + 4.0, 0, 0], [0, 0, 0], [1.0, 0, 1.25]])
    with pytest.raises(ValueError, match="zone_of_product"):
        crates_per_zone(units, upc, np.array([0, 0, 0, 3]), kpu)
    with pytest.raises(ValueError, match="units_per_crate"):
        crates_per_zone(units, upc * 0, zone, kpu)


def test_crate_counts_saturate_instead_of_overflowing():
    """10**6 units at 1e-300 units per crate is 1e306 crates: the int64 cast gave a negative count (issue 13);
    the count now stops at MAX_CRATES, which the planner reads as 'no vehicle can take it'."""
    crates, _ = crates_per_zone(np.array([[10**6, 1]]), np.array([1e-300, 1.0]), np.array([1, 0]), np.ones(2))
    assert_array_equal(crates, [[1, MAX_CRATES, 0]])
