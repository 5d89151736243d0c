"""Tests of solvers.location: CFLP and p-median engines, shortest paths, OR-Library optima."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from fulfil.readers.orlib import benchdata_dir, pmedian_distances, read_cflp, read_optimal_csv
from solvers.location import FacilityResult, shortest_path_matrix, solve_cflp, solve_pmedian

FL = benchdata_dir() / "facility_location"
needs_data = pytest.mark.skipif(
    not (FL / "cflp" / "optimal.csv").is_file() or not (FL / "pmedian" / "optimal.csv").is_file(),
    reason=f"shared OR-Library data not found at {FL} (set FULFIL_BENCHDATA to the benchdata folder)",
)


# --------------------------------------------------------------------------- #
# helpers
# --------------------------------------------------------------------------- #
def brute_single_source(f, s, d, c):
    """Exhaustive single-source CFLP: try every assignment of customers to sites."""
    n, m = c.shape
    best = math.inf
    for assign in itertools.product(range(m), repeat=n):
        load = np.zeros(m)
        for j, i in enumerate(assign):
            load[i] += d[j]
        if np.any(load > s + 1e-9):
            continue
        used = sorted(set(assign))
        best = min(best, f[used].sum() + sum(c[j, i] for j, i in enumerate(assign)))
    return best


def brute_pmedian(dist, p):
    """Exhaustive p-median over all p-subsets of sites."""
    return min(dist[:, list(S)].min(axis=1).sum() for S in itertools.combinations(range(dist.shape[1]), p))


def check_cflp_solution(res: FacilityResult, f, s, d, c):
    """The allocation is a feasible CFLP solution whose cost is the reported objective."""
    assert np.allclose(res.alloc.sum(axis=1), 1.0)
    assert np.all(res.alloc >= -1e-9)
    assert np.all(res.alloc[:, ~res.open] <= 1e-9)
    assert np.all(res.alloc.T @ d <= s + 1e-6)
    cost = f[res.open].sum() + float(np.sum(res.alloc * c))
    assert cost == pytest.approx(res.objective, rel=1e-9)
    assert res.bound <= res.objective + 1e-6


# --------------------------------------------------------------------------- #
# CFLP, hand-checkable
# --------------------------------------------------------------------------- #
def test_cflp_split_demand_hand_checked():
    """One customer of demand 8 and two sites of capacity 5: both open, 5/8 to the cheap site.

    Cost = 1 + 1 + 10 * 5/8 + 20 * 3/8 = 15.75.
    """
    res = solve_cflp([1.0, 1.0], [5.0, 5.0], [8.0], [[10.0, 20.0]])
    assert res.optimal and res.status == "optimal"
    assert res.objective == pytest.approx(15.75)
    assert res.open.tolist() == [True, True]
    assert res.alloc[0] == pytest.approx([5 / 8, 3 / 8])


def test_cflp_fixed_cost_tradeoff_hand_checked():
    """Two customers, a cheap-to-open far site and a dear near one: opening only the far site wins.

    Site 0: fixed 100, costs 1 and 1; site 1: fixed 5, costs 20 and 20 -> 5 + 40 = 45 < 100 + 2.
    """
    f = np.array([100.0, 5.0])
    res = solve_cflp(f, [10.0, 10.0], [1.0, 1.0], [[1.0, 20.0], [1.0, 20.0]])
    assert res.optimal
    assert res.objective == pytest.approx(45.0)
    assert res.open.tolist() == [False, True]


def test_cflp_reachable_mask_is_honoured():
    """A customer barred from its cheap site pays the dear one, and never uses a barred pair."""
    c = np.array([[1.0, 50.0], [1.0, 50.0]])
    reach = np.array([[True, True], [False, True]])
    res = solve_cflp([0.0, 0.0], [10.0, 10.0], [1.0, 1.0], c, reachable=reach)
    assert res.optimal
    assert res.objective == pytest.approx(51.0)
    assert res.alloc[1, 0] == 0.0


def test_cflp_inf_cost_means_forbidden():
    """``inf`` in alloc_cost forbids the pair exactly like ``reachable=False``."""
    c = np.array([[1.0, 50.0], [np.inf, 50.0]])
    res = solve_cflp([0.0, 0.0], [10.0, 10.0], [1.0, 1.0], c)
    assert res.objective == pytest.approx(51.0)


def test_cflp_infeasible_capacity_reported():
    """Total capacity below total demand yields status 'infeasible', not an exception or a fake plan."""
    res = solve_cflp([1.0], [3.0], [2.0, 2.0], [[1.0], [1.0]])
    assert res.status == "infeasible" and not res.optimal and math.isinf(res.objective)


def test_cflp_unreachable_customer_raises():
    """A customer with no reachable site is an input error naming the customer."""
    with pytest.raises(ValueError, match=r"customers without any reachable site: \[1\]"):
        solve_cflp([1.0, 1.0], [5.0, 5.0], [1.0, 1.0], [[1.0, 1.0], [1.0, 1.0]],
                   reachable=[[True, True], [False, False]])


def test_cflp_shape_errors():
    """Inconsistent shapes and negative data are rejected with ValueError."""
    with pytest.raises(ValueError, match="alloc_cost must have shape"):
        solve_cflp([1.0, 1.0], [5.0, 5.0], [1.0], [[1.0, 1.0, 1.0]])
    with pytest.raises(ValueError, match="demand must be finite"):
        solve_cflp([1.0], [5.0], [-1.0], [[1.0]])


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_cflp_single_source_matches_brute_force(seed):
    """Single-source optimum equals exhaustive enumeration, and multi-source is never dearer."""
    rng = np.random.default_rng(seed)
    n, m = 6, 3
    f = rng.uniform(5, 30, m)
    s = rng.uniform(6, 14, m)
    d = rng.integers(1, 6, n).astype(float)
    c = rng.uniform(1, 20, (n, m)) * d[:, None]
    ss = solve_cflp(f, s, d, c, single_source=True)
    best = brute_single_source(f, s, d, c)
    if math.isinf(best):
        assert ss.status == "infeasible"
        return
    assert ss.optimal
    assert ss.objective == pytest.approx(best, rel=1e-9)
    assert np.all((ss.alloc < 1e-9) | (ss.alloc > 1 - 1e-9))
    ms = solve_cflp(f, s, d, c)
    assert ms.optimal and ms.objective <= ss.objective + 1e-9
    check_cflp_solution(ms, f, s, d, c)


@pytest.mark.parametrize("seed", [3, 4])
def test_cflp_lagrangian_agrees_with_plain_mip(seed):
    """The Lagrangian bound + site fixing + MIP pipeline finds the same optimum as the plain strong MIP."""
    rng = np.random.default_rng(seed)
    n, m = 40, 10
    f = rng.uniform(200, 600, m)
    s = rng.uniform(40, 120, m)
    d = rng.integers(1, 12, n).astype(float)
    xy_c, xy_s = rng.uniform(0, 100, (n, 2)), rng.uniform(0, 100, (m, 2))
    c = np.hypot(*(xy_c[:, None, :] - xy_s[None, :, :]).transpose(2, 0, 1)) * d[:, None]
    a = solve_cflp(f, s, d, c)
    b = solve_cflp(f, s, d, c, lagrangian=False)
    assert a.optimal and b.optimal
    assert a.objective == pytest.approx(b.objective, rel=1e-7)
    assert a.bound <= a.objective + 1e-6
    check_cflp_solution(a, f, s, d, c)


# --------------------------------------------------------------------------- #
# p-median and shortest paths
# --------------------------------------------------------------------------- #
def test_pmedian_path_graph_hand_checked():
    """Path 0-1-2-3-4 with unit edges, p=2: open {1, 3}, total distance 1 + 0 + 1 + 0 + 1 = 3."""
    edges = np.array([[0, 1, 1], [1, 2, 1], [2, 3, 1], [3, 4, 1]])
    dist = shortest_path_matrix(5, edges)
    res = solve_pmedian(dist, 2)
    assert res.optimal and res.objective == 3.0
    assert res.open.sum() == 2
    # the allocation sends each vertex to a closest open site
    assert np.all(res.alloc.sum(axis=1) == 1.0)
    assert np.all(dist[np.arange(5), res.assign] == dist[:, res.open].min(axis=1))


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_pmedian_matches_brute_force(seed):
    """Random 12-vertex instances: the optimum equals enumeration over all p-subsets."""
    rng = np.random.default_rng(seed)
    n, p = 12, 1 + seed % 4
    xy = rng.uniform(0, 100, (n, 2))
    dist = np.rint(np.hypot(*(xy[:, None, :] - xy[None, :, :]).transpose(2, 0, 1)))
    res = solve_pmedian(dist, p)
    assert res.optimal
    assert res.objective == brute_pmedian(dist, p)
    assert res.open.sum() == p


def test_pmedian_weights_and_candidate_sites():
    """A rectangular (customers x candidates) matrix with weights: the heavy customer pulls the site."""
    dist = np.array([[0.0, 10.0], [10.0, 0.0], [10.0, 0.0]])
    res = solve_pmedian(dist, 1, weights=[5.0, 1.0, 1.0])
    assert res.open.tolist() == [True, False] and res.objective == 20.0


def test_pmedian_bad_p():
    """p outside 1..m is rejected."""
    with pytest.raises(ValueError, match="p must be an integer"):
        solve_pmedian(np.zeros((3, 3)), 4)


def test_shortest_path_duplicate_edges_last_wins():
    """OR-Library rule: a repeated edge keeps its last cost, in either direction; 'min' keeps the cheapest."""
    edges = np.array([[0, 1, 5], [1, 0, 2], [1, 2, 4], [1, 2, 9]])
    last = shortest_path_matrix(3, edges)
    assert last[0, 1] == 2 and last[1, 2] == 9 and last[0, 2] == 11
    low = shortest_path_matrix(3, edges, duplicate="min")
    assert low[1, 2] == 4 and low[0, 2] == 6


def test_shortest_path_matches_relaxation_reference():
    """Floyd–Warshall equals a plain Bellman–Ford style relaxation on a random sparse graph; symmetric, zero diagonal."""
    rng = np.random.default_rng(7)
    n = 25
    edges = np.array([[i, (i + 1) % n, rng.integers(1, 20)] for i in range(n)]
                     + [[rng.integers(n), rng.integers(n), rng.integers(1, 50)] for _ in range(30)])
    d = shortest_path_matrix(n, edges, duplicate="min")
    ref = np.full((n, n), np.inf)
    np.fill_diagonal(ref, 0)
    for _ in range(n):
        for i, j, w in edges:
            for a, b in ((i, j), (j, i)):
                ref[:, b] = np.minimum(ref[:, b], ref[:, a] + w)
    assert np.array_equal(d, ref)
    assert np.array_equal(d, d.T)


def test_shortest_path_disconnected_is_inf():
    """Vertices in different components are at distance inf."""
    d = shortest_path_matrix(3, np.array([[0, 1, 3]]))
    assert d[0, 1] == 3 and np.isinf(d[0, 2])


# --------------------------------------------------------------------------- #
# real OR-Library instances (shared data)
# --------------------------------------------------------------------------- #
def _optimum(kind: str, name: str) -> dict:
    return next(r for r in read_optimal_csv(FL / kind / "optimal.csv") if r["instance"] == name)


@needs_data
@pytest.mark.parametrize("name", ["cap71", "cap101", "cap134"])
def test_orlib_cflp_known_optimum(name):
    """Beasley's capNN: proven optimal objective within 1e-6 relative of the published optimum."""
    row = _optimum("cflp", name)
    data = read_cflp(FL / "cflp" / row["file"], capacity=row["capacity"])
    res = solve_cflp(data["fixed_cost"], data["capacity"], data["demand"], data["alloc_cost"], time_limit_s=60)
    assert res.optimal
    assert res.objective == pytest.approx(row["optimal_value"], rel=1e-6)
    check_cflp_solution(res, data["fixed_cost"], data["capacity"], data["demand"], data["alloc_cost"])


@needs_data
@pytest.mark.parametrize("name", ["pmed1", "pmed2", "pmed5"])
def test_orlib_pmedian_known_optimum(name):
    """Beasley's pmedNN (last duplicate edge wins): proven optimal, equal to the published optimum."""
    row = _optimum("pmedian", name)
    dist, p = pmedian_distances(FL / "pmedian" / row["file"])
    res = solve_pmedian(dist, p, time_limit_s=60)
    assert res.optimal
    assert res.objective == pytest.approx(row["optimal_value"], rel=1e-6)
    assert res.open.sum() == p


def test_pmedian_reachability_infeasible_reported():
    """Two customers that each reach a different single site cannot share p = 1 site: status 'infeasible'."""
    dist = np.array([[0.0, np.inf], [np.inf, 0.0], [1.0, 1.0]])
    res = solve_pmedian(dist, 1)
    assert res.status == "infeasible" and not res.optimal and math.isinf(res.objective)
    ok = solve_pmedian(dist, 2)
    assert ok.optimal and ok.objective == 1.0


@pytest.mark.parametrize("engine", ["HIGHS", "CBC"])
def test_cflp_mip_backends_agree(engine):
    """Other OR-Tools MIP backends reach the same optimum as SCIP on the full strong formulation."""
    rng = np.random.default_rng(11)
    n, m = 20, 6
    f = rng.uniform(100, 300, m)
    s = rng.uniform(30, 60, m)
    d = rng.integers(1, 10, n).astype(float)
    c = rng.uniform(1, 30, (n, m)) * d[:, None]
    ref = solve_cflp(f, s, d, c, lagrangian=False)
    other = solve_cflp(f, s, d, c, lagrangian=False, engine=engine)
    assert ref.optimal and other.optimal
    assert other.objective == pytest.approx(ref.objective, rel=1e-6)
