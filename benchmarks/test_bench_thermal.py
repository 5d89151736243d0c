"""Benchmarks of :mod:`solvers.thermal` (pytest-benchmark; not unit tests).

Run with::

    python -m pytest benchmarks/test_bench_thermal.py -q

Every kernel is warmed up (compiled or loaded from the numba cache) before it
is timed.  The batched kernel is checked against the one-route API so the
table compares equal work.
"""

from __future__ import annotations

import numpy as np
import pytest
from numpy.testing import assert_allclose

from solvers.thermal import (
    BoxParams,
    chilled_compartment,
    frozen_compartment,
    max_route_minutes,
    service_minutes,
    simulate_compartment,
    simulate_insulated_box,
    simulate_routes,
)

DEP = 7 * 3600.0
HOURLY = 24.0 + 7.0 * np.sin((np.arange(24) - 9) / 24 * 2 * np.pi)  # warm day, peak ~15:00


def random_routes(n: int, m: int, seed: int):
    """``n`` seeded 20-stop-style routes: 8–20 min between arrivals, 1–12 crates per stop."""
    rng = np.random.default_rng(seed)
    arr = DEP + 1200.0 + np.cumsum(rng.uniform(8, 20, (n, m)) * 60.0, axis=1)
    crates = rng.integers(1, 13, (n, m)).astype(np.float64)
    serv = service_minutes(crates) * 60.0
    return np.full(n, DEP), arr, serv, crates


@pytest.fixture(scope="module")
def routes1000():
    return random_routes(1000, 20, seed=7)


@pytest.fixture(scope="module", autouse=True)
def warm():
    dep, arr, serv, cr = random_routes(2, 3, seed=0)
    p = chilled_compartment()
    simulate_compartment(p, HOURLY, dep[0], arr[0], serv[0], cr[0])
    simulate_routes(p, HOURLY, dep, arr, serv, cr)
    simulate_insulated_box(BoxParams(), 28.0, 0.0, 3600.0, 50.0)


# --------------------------------------------------------------------------- #
# one 20-stop route
# --------------------------------------------------------------------------- #
@pytest.mark.benchmark(group="thermal: one 20-stop route")
def test_route20_traced(benchmark, routes1000):
    """Full traces (dt 10 s) of one 20-stop chilled route."""
    dep, arr, serv, cr = routes1000
    p = chilled_compartment()
    r = benchmark(simulate_compartment, p, HOURLY, dep[0], arr[0], serv[0], cr[0])
    assert r.handover_c.shape == (20,) and np.all(np.isfinite(r.handover_c))


@pytest.mark.benchmark(group="thermal: one 20-stop route")
def test_route20_batch_of_one(benchmark, routes1000):
    """The same route through the batched kernel (hand-overs only)."""
    dep, arr, serv, cr = routes1000
    p = chilled_compartment()
    out = benchmark(simulate_routes, p, HOURLY, dep[:1], arr[:1], serv[:1], cr[:1])
    ref = simulate_compartment(p, HOURLY, dep[0], arr[0], serv[0], cr[0])
    assert_allclose(out["handover_c"][0], ref.handover_c, atol=1e-12)


# --------------------------------------------------------------------------- #
# 1,000 routes
# --------------------------------------------------------------------------- #
@pytest.mark.benchmark(group="thermal: 1000 routes x 20 stops")
def test_routes1000_batch(benchmark, routes1000):
    """1,000 frozen-compartment routes in one numba call."""
    dep, arr, serv, cr = routes1000
    p = frozen_compartment()
    out = benchmark(simulate_routes, p, HOURLY, dep, arr, serv, cr)
    assert out["handover_c"].shape == (1000, 20)
    for i in (0, 499, 999):
        ref = simulate_compartment(p, HOURLY, dep[i], arr[i], serv[i], cr[i])
        assert_allclose(out["handover_c"][i], ref.handover_c, atol=1e-12)


@pytest.mark.benchmark(group="thermal: 1000 routes x 20 stops")
def test_routes1000_batch_parallel(benchmark, routes1000):
    """The same 1,000 routes spread over threads (prange)."""
    dep, arr, serv, cr = routes1000
    p = frozen_compartment()
    ref = simulate_routes(p, HOURLY, dep, arr, serv, cr)
    simulate_routes(p, HOURLY, dep[:2], arr[:2], serv[:2], cr[:2], parallel=True)
    out = benchmark(simulate_routes, p, HOURLY, dep, arr, serv, cr, parallel=True)
    assert_allclose(out["handover_c"], ref["handover_c"], atol=1e-12)


@pytest.mark.benchmark(group="thermal: 1000 routes x 20 stops")
def test_routes1000_python_loop(benchmark, routes1000):
    """Comparator: a Python loop of simulate_compartment (with traces)."""
    dep, arr, serv, cr = routes1000
    p = frozen_compartment()

    def loop():
        return np.array([simulate_compartment(p, HOURLY, dep[i], arr[i], serv[i], cr[i]).handover_c
                         for i in range(dep.size)])

    res = benchmark.pedantic(loop, rounds=3, iterations=1)
    assert_allclose(res, simulate_routes(p, HOURLY, dep, arr, serv, cr)["handover_c"], atol=1e-12)


# --------------------------------------------------------------------------- #
# planner helpers
# --------------------------------------------------------------------------- #
@pytest.mark.benchmark(group="thermal: planner helpers")
def test_proxy_limit(benchmark):
    """Derived proxy limit (scan of 1..n-stop routes) for a frozen compartment at 35 °C."""
    p = frozen_compartment()
    lim = benchmark(max_route_minutes, p, 35.0, stops_per_hour=4, crates_per_stop=4)
    assert lim.max_stops > 0


@pytest.mark.benchmark(group="thermal: planner helpers")
def test_insulated_box_8h(benchmark):
    """8 h of an ice-pack e-trike box with 10 stops (dt 30 s)."""
    stops = 1800.0 * np.arange(1, 11)
    r = benchmark(simulate_insulated_box, BoxParams(), HOURLY, DEP, 8 * 3600.0, 120.0,
                  stop_s=DEP + stops, unload_kg=np.full(10, 10.0))
    assert np.all(np.isfinite(r.handover_c))
