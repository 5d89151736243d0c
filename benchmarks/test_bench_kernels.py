"""Benchmarks of the hot kernels (run with ``pytest benchmarks/``; not unit tests).

Every kernel is warmed up (compiled or loaded from the numba cache) before it is
timed.  Where a plain-numpy (or serial) version is meaningful it is benchmarked
in the same group and checked to give the same answer, so the table shows what
numba buys.
"""

from __future__ import annotations

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

from geo.matrices import (
    _road_distance_numpy,
    conservative_time_matrix_s,
    free_flow_seconds,
    road_distance_matrix_m,
    travel_seconds_array,
)
from solvers.allocation import allocate_stock, assign_pickups, trunk_load

BREAKS_M = np.array([2000.0, 10000.0])
FACTORS = np.array([1.40, 1.33, 1.25])
HOURLY = np.array(
    [1.2] * 5 + [1.0, 0.9, 0.45, 0.5, 0.8] + [0.85] * 7 + [0.55, 0.6, 0.8] + [1.0] * 4,
    dtype=np.float64,
)


def city_points(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """``n`` seeded random points over a ~60 x 45 km city."""
    rng = np.random.default_rng(seed)
    return 113.8 + rng.uniform(0, 0.6, n), 22.4 + rng.uniform(0, 0.4, n)


# --------------------------------------------------------------------------- #
# pure-numpy comparators
# --------------------------------------------------------------------------- #
def travel_seconds_numpy(free_s: np.ndarray, depart_s: float, factors: np.ndarray) -> np.ndarray:
    """Vectorised inverse of the cumulative free-flow integral."""
    cum = np.concatenate([[0.0], np.cumsum(factors) * 3600.0])
    day_cap = cum[-1]
    days, r = divmod(depart_s, 86400.0)
    h = int(r // 3600.0)
    start = days * day_cap + cum[h] + (r - h * 3600.0) * factors[h]
    target = start + free_s
    n, rem = np.divmod(target, day_cap)
    hour = np.clip(np.searchsorted(cum, rem, side="right") - 1, 0, 23)
    t = n * 86400.0 + hour * 3600.0 + (rem - cum[hour]) / factors[hour]
    return np.where(free_s > 0, t - depart_s, 0.0)


def allocate_stock_numpy(demand: np.ndarray, pool: np.ndarray, stock: np.ndarray) -> np.ndarray:
    """Largest-remainder rationing with numpy, one vectorised pass per pool."""
    out = np.zeros_like(demand)
    for g in range(stock.shape[0]):
        rows = np.flatnonzero(pool == g)
        if rows.size == 0:
            continue
        d = demand[rows]
        total = d.sum(axis=0)
        unlimited = np.isinf(stock[g])
        s = np.floor(np.where(unlimited, 0.0, stock[g])).astype(np.int64)
        short = ~unlimited & (total > s)
        safe_total = np.maximum(total, 1)
        num = d * s
        share = num // safe_total
        rem = num - share * safe_total
        left = s - share.sum(axis=0)
        order = np.argsort(-rem, axis=0, kind="stable")
        rank = np.empty_like(order)
        np.put_along_axis(rank, order, np.arange(rows.size)[:, None], axis=0)
        out[rows] = np.where(short, share + (rank < left), d)
    return out


def trunk_load_numpy(assign, crates, kg, served, n_warehouses):
    """Loads via ``np.add.at``."""
    ok = (assign >= 0) & served
    load_c = np.zeros((n_warehouses, crates.shape[1]), dtype=np.int64)
    load_kg = np.zeros((n_warehouses, crates.shape[1]), dtype=np.float64)
    np.add.at(load_c, assign[ok], crates[ok])
    np.add.at(load_kg, assign[ok], kg[ok])
    return load_c, load_kg


# --------------------------------------------------------------------------- #
# fixtures
# --------------------------------------------------------------------------- #
@pytest.fixture(scope="module")
def square400():
    lon, lat = city_points(400, seed=1)
    return lon, lat, lon, lat


@pytest.fixture(scope="module")
def rect6000x60():
    lon_p, lat_p = city_points(6000, seed=2)
    lon_w, lat_w = city_points(60, seed=3)
    return lon_p, lat_p, lon_w, lat_w


@pytest.fixture(scope="module")
def assignment_instance(rect6000x60):
    rng = np.random.default_rng(4)
    dist = road_distance_matrix_m(*rect6000x60)
    free = free_flow_seconds(dist, 35.0)
    reachable = free <= 1800.0
    cost = dist / 1000.0 * 2.6 + rng.uniform(0.0, 0.5, dist.shape)
    demand = rng.integers(0, 9, (6000, 3))
    capacity = np.full((60, 3), int(demand.sum() / 3 / 60 * 1.05))
    capacity[::7, 2] = -1
    return cost, reachable, demand, capacity


@pytest.fixture(scope="module")
def stock_instance():
    rng = np.random.default_rng(5)
    demand = rng.integers(0, 6, (6000, 50))
    pool = rng.integers(-1, 3, 6000)
    totals = np.stack([demand[pool == g].sum(axis=0) for g in range(3)])
    stock = totals * rng.uniform(0.6, 1.2, totals.shape)
    stock[:, ::10] = np.inf
    return demand, pool, stock


@pytest.fixture(scope="module")
def load_instance():
    rng = np.random.default_rng(6)
    P, F, Z = 6000, 60, 3
    assign = rng.integers(-1, F, P)
    crates = rng.integers(0, 12, (P, Z))
    kg = crates * rng.uniform(5.0, 15.0, (P, Z))
    served = rng.random(P) < 0.95
    return assign, crates, kg, served, F


# --------------------------------------------------------------------------- #
# road distance matrices
# --------------------------------------------------------------------------- #
@pytest.mark.benchmark(group="distance 400x400")
def test_distance_400_numba_parallel(benchmark, square400):
    ref = road_distance_matrix_m(*square400, parallel=False)
    road_distance_matrix_m(*square400, parallel=True)
    res = benchmark(road_distance_matrix_m, *square400, parallel=True)
    assert_array_equal(res, ref)


@pytest.mark.benchmark(group="distance 400x400")
def test_distance_400_numba_serial(benchmark, square400):
    road_distance_matrix_m(*square400, parallel=False)
    benchmark(road_distance_matrix_m, *square400, parallel=False)


@pytest.mark.benchmark(group="distance 400x400")
def test_distance_400_numpy(benchmark, square400):
    res = benchmark(_road_distance_numpy, *square400, BREAKS_M, FACTORS)
    assert_allclose(res, road_distance_matrix_m(*square400), rtol=1e-12, atol=1e-6)


@pytest.mark.benchmark(group="distance 6000x60")
def test_distance_6000x60_numba_parallel(benchmark, rect6000x60):
    ref = road_distance_matrix_m(*rect6000x60, parallel=False)
    road_distance_matrix_m(*rect6000x60, parallel=True)
    res = benchmark(road_distance_matrix_m, *rect6000x60, parallel=True)
    assert_array_equal(res, ref)


@pytest.mark.benchmark(group="distance 6000x60")
def test_distance_6000x60_numba_serial(benchmark, rect6000x60):
    road_distance_matrix_m(*rect6000x60, parallel=False)
    benchmark(road_distance_matrix_m, *rect6000x60, parallel=False)


@pytest.mark.benchmark(group="distance 6000x60")
def test_distance_6000x60_numpy(benchmark, rect6000x60):
    res = benchmark(_road_distance_numpy, *rect6000x60, BREAKS_M, FACTORS)
    assert_allclose(res, road_distance_matrix_m(*rect6000x60), rtol=1e-12, atol=1e-6)


# --------------------------------------------------------------------------- #
# travel-time matrices (400 x 400)
# --------------------------------------------------------------------------- #
@pytest.fixture(scope="module")
def free400(square400):
    return free_flow_seconds(road_distance_matrix_m(*square400), 35.0)


@pytest.mark.benchmark(group="travel time 400x400")
def test_travel_matrix_numba(benchmark, free400):
    depart = 7.75 * 3600.0  # crosses the 08:00 and 09:00 boundaries
    travel_seconds_array(free400, depart, HOURLY)
    res = benchmark(travel_seconds_array, free400, depart, HOURLY)
    assert res.shape == free400.shape


@pytest.mark.benchmark(group="travel time 400x400")
def test_travel_matrix_numpy(benchmark, free400):
    depart = 7.75 * 3600.0
    res = benchmark(travel_seconds_numpy, free400, depart, HOURLY)
    assert_allclose(res, travel_seconds_array(free400, depart, HOURLY), rtol=1e-9, atol=1e-6)


@pytest.mark.benchmark(group="travel time 400x400")
def test_conservative_matrix(benchmark, free400):
    res = benchmark(conservative_time_matrix_s, free400, HOURLY, 5 * 3600.0, 9 * 3600.0)
    assert res.dtype == np.int64


@pytest.mark.benchmark(group="travel time 400x400")
def test_free_flow_matrix(benchmark, square400):
    dist = road_distance_matrix_m(*square400)
    res = benchmark(free_flow_seconds, dist, 35.0)
    assert res.shape == dist.shape


# --------------------------------------------------------------------------- #
# allocation
# --------------------------------------------------------------------------- #
@pytest.mark.benchmark(group="assign 6000x60")
def test_assign_pickups_regret(benchmark, assignment_instance):
    assign_pickups(*assignment_instance)
    assign, status = benchmark(assign_pickups, *assignment_instance)
    cost, reachable, demand, capacity = assignment_instance
    load = np.zeros_like(capacity)
    ok = assign >= 0
    np.add.at(load, assign[ok], demand[ok])
    assert np.all((load <= capacity) | (capacity < 0))
    assert ok.sum() > 5000


@pytest.mark.benchmark(group="stock 6000x50")
def test_allocate_stock_numba(benchmark, stock_instance):
    allocate_stock(*stock_instance)
    res = benchmark(allocate_stock, *stock_instance)
    assert_array_equal(res, allocate_stock_numpy(*stock_instance))


@pytest.mark.benchmark(group="stock 6000x50")
def test_allocate_stock_numpy(benchmark, stock_instance):
    benchmark(allocate_stock_numpy, *stock_instance)


@pytest.mark.benchmark(group="trunk load 6000x60")
def test_trunk_load_numba(benchmark, load_instance):
    trunk_load(*load_instance)
    res = benchmark(trunk_load, *load_instance)
    ref = trunk_load_numpy(*load_instance)
    assert_array_equal(res[0], ref[0])
    assert_allclose(res[1], ref[1], rtol=1e-12)


@pytest.mark.benchmark(group="trunk load 6000x60")
def test_trunk_load_numpy(benchmark, load_instance):
    benchmark(trunk_load_numpy, *load_instance)
