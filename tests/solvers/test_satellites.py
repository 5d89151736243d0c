"""Satellite split of a two-echelon plan: trunk estimate and the multi-depot assignment."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from solvers.routing.satellites import assign_satellites, solve_multidepot, trunk_cost


def _brute_trunk(d_dep, d_ss, loads, cap):
    """Every assignment of the satellites to at most len(loads) unsplit truck tours (tiny cases)."""
    m = len(loads)
    best = math.inf
    for labels in itertools.product(range(m), repeat=m):
        cost = 0.0
        ok = True
        for t in set(labels):
            block = [k for k in range(m) if labels[k] == t and loads[k] > 0]
            if not block:
                continue
            if sum(loads[k] for k in block) > cap:
                ok = False
                break
            cost += min(d_dep[p[0]] + d_dep[p[-1]] + sum(d_ss[a, b] for a, b in zip(p, p[1:]))
                        for p in itertools.permutations(block))
        if ok:
            best = min(best, cost)
    return best


def test_trunk_cost_matches_enumeration_and_full_loads() -> None:
    rng = np.random.default_rng(3)
    pts = rng.uniform(0, 100, size=(5, 2))  # depot + 4 satellites
    d = np.hypot(*(pts[:, None, :] - pts[None, :, :]).transpose(2, 0, 1))
    d_dep, d_ss = d[0, 1:], d[1:, 1:]
    for _ in range(20):
        loads = rng.integers(0, 60, size=4).astype(float)
        assert trunk_cost(d_dep, d_ss, loads, 100.0) == pytest.approx(_brute_trunk(d_dep, d_ss, loads, 100.0))
    # whole truckloads go direct: 250 units at satellite 0 = two full trips + the 50 left
    got = trunk_cost(d_dep, d_ss, np.array([250.0, 0, 0, 0]), 100.0, cost_per_dist=2.0, fixed_cost=7.0)
    assert got == pytest.approx(3 * (2 * d_dep[0] * 2.0 + 7.0))
    assert trunk_cost(d_dep, d_ss, np.zeros(4), 100.0) == 0.0


def _instance(n=24, seed=0):
    rng = np.random.default_rng(seed)
    pts = np.vstack([[50, 50], [20, 20], [80, 80], rng.uniform(0, 100, size=(n, 2))])
    d = np.hypot(*(pts[:, None, :] - pts[None, :, :]).transpose(2, 0, 1))
    dem = np.concatenate([[0, 0, 0], rng.integers(1, 10, size=n)]).astype(float)
    return d, dem, [1, 2], list(range(3, 3 + n))


def test_multidepot_routes_respect_fleet_and_capacity() -> None:
    d, dem, sats, custs = _instance()
    routes = solve_multidepot(d, dem, sats, custs, [2, 3], 40.0, [0.0, 0.0], 0.3, seed=1)
    assert routes is not None
    served = sorted(k for _, seq in routes for k in seq)
    assert served == list(range(len(custs)))
    for s in range(2):
        assert sum(1 for t, _ in routes if t == s) <= [2, 3][s]
    assert all(sum(dem[custs[k]] for k in seq) <= 40.0 for _, seq in routes)


def test_split_prices_its_routes_and_keeps_the_total() -> None:
    d, dem, sats, custs = _instance(seed=2)
    total = dem.sum()
    cap = 40.0
    need = math.ceil(total / cap)
    split = assign_satellites(d, dem, 0, sats, custs, cf_capacity=cap, cf_per_sat=need, cf_total=need,
                              truck_capacity=total / 1.5, time_limit_s=1.5, seed=0)
    assert split is not None
    assert len(split.routes) <= need  # the global freighter total holds
    assert (split.satellite >= 0).all() and split.satellite.shape == (len(custs),)
    lm = 0.0
    loads = np.zeros(2)
    for s, seq in split.routes:
        path = [sats[s], *(custs[k] for k in seq), sats[s]]
        lm += sum(d[a, b] for a, b in zip(path, path[1:]))
        loads[s] += sum(dem[custs[k]] for k in seq)
        assert all(split.satellite[k] == s for k in seq)
    assert split.lm_cost == pytest.approx(lm)
    assert split.trunk_cost == pytest.approx(trunk_cost(d[0, sats], d[np.ix_(sats, sats)], loads, total / 1.5))


def test_screening_cap_only_where_the_limit_cannot_be_enumerated() -> None:
    from solvers.routing.satellites import MAX_SHARES, screening_cap

    assert screening_cap(6, 6, 3) == 3 and screening_cap(6, 6, 5) == 2  # Set 4b -> the Set 4a limits
    assert screening_cap(6, 6, 2) == 6  # 7 shares: all are tried under the file's own limit
    assert screening_cap(4, 4, 2) == 4 and screening_cap(3, 6, 3) == 3 and screening_cap(2, 6, 5) == 2
    assert screening_cap(5, 0, 4) == 5  # no global total: nothing to share
    assert MAX_SHARES < 28  # the 28 shares of 6 freighters among 3 satellites are too many to try


def test_loose_limit_screens_what_the_tight_limit_screens(monkeypatch) -> None:
    """Six freighters allowed per satellite (six in all) screens exactly the fleets of a limit of three first."""
    import solvers.routing.satellites as sat

    rng = np.random.default_rng(5)
    pts = np.vstack([[50, 50], [20, 20], [80, 80], [20, 80], rng.uniform(0, 100, size=(18, 2))])
    d = np.hypot(*(pts[:, None, :] - pts[None, :, :]).transpose(2, 0, 1))
    dem = np.concatenate([[0] * 4, rng.integers(1, 10, size=18)]).astype(float)
    sats, custs = [1, 2, 3], list(range(4, 22))
    fleets: list[tuple[int, ...]] = []
    real = sat.solve_multidepot

    def record(dist, demand, s, c, n_vehicles, *args, **kwargs):
        if not fleets or fleets[-1] != tuple(n_vehicles):  # a price retry repeats its fleet
            fleets.append(tuple(n_vehicles))
        return real(dist, demand, s, c, n_vehicles, *args, **kwargs)

    monkeypatch.setattr(sat, "solve_multidepot", record)
    seen = {}
    for per in (3, 6):
        fleets.clear()
        split = sat.assign_satellites(d, dem, 0, sats, custs, cf_capacity=40.0, cf_per_sat=per, cf_total=6,
                                      truck_capacity=200.0, time_limit_s=0.6, seed=0)
        assert split is not None and len(split.routes) <= 6
        seen[per] = list(fleets)
    # the screening tries each fleet once; its end is the first fleet tried again (step 2)
    n_screen = next((k for k, f in enumerate(seen[3]) if f in seen[3][:k]), len(seen[3]))
    assert n_screen >= 10  # at least the 10 shares of 6 freighters, at most 3 at a satellite
    assert seen[6][:n_screen] == seen[3][:n_screen]
    assert all(max(f) <= 3 for f in seen[6][:n_screen])
