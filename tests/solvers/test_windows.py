"""Several arrival windows per job (``RoutingProblem.tw_gaps_s``) in both engines and in ``check_routes``.

The instances are tiny lines whose only feasible service times are known by hand: a job's
first window closes before any vehicle can arrive, so a plan must serve it in the second,
waiting for it to open when the vehicle arrives in the gap.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from solvers.routing import RoutingParams, RoutingProblem, solve_routing
from solvers.routing.check import check_routes
from solvers.routing.pyvrp_engine import available, expressible, solve_pyvrp

START = 3600
NO_DL = 10 * 86400
DET = RoutingParams(time_limit_s=None, solution_limit=200)


def line(x: list[int], *, gaps: list[list[tuple[int, int]]], close: list[int], penalty: int = -1,
         deadline: int = NO_DL, end: int = START + 12 * 3600) -> RoutingProblem:
    """One vehicle at 10 m/s on a line of jobs at ``x`` (the depot at 0), no service time."""
    pos = np.array([0, *x])
    dist = np.abs(pos[:, None] - pos[None, :]).astype(np.int64)
    n1 = pos.size
    g = max(len(r) for r in gaps)
    tw_gaps = np.zeros((n1, g, 2), dtype=np.int64)
    for j, rows in enumerate(gaps, start=1):
        for k, gap in enumerate(rows):
            tw_gaps[j, k] = gap
    deadlines = np.full((1, n1), deadline, dtype=np.int64)
    return RoutingProblem(
        dist_m=dist, travel_s=dist // 10, site=np.arange(n1), service_fixed_s=np.zeros(n1, np.int64),
        service_var_s=np.zeros(n1, np.int64), tw_open_s=np.full(n1, START, np.int64),
        tw_close_s=np.array([NO_DL, *close], np.int64), demand=np.zeros((n1, 1), np.int64),
        capacity=np.full((1, 1), 10, np.int64), allowed=np.ones((1, n1), bool), deadline_s=deadlines,
        start_s=np.array([START]), end_max_s=np.array([end]), fixed_cost=np.zeros(1, np.int64),
        cost_per_m=np.ones(1), cost_per_s=np.zeros(1), penalty=np.full(n1, penalty, np.int64),
        tw_gaps_s=tw_gaps,
    )


def first_window_unreachable() -> RoutingProblem:
    """Job 1 at 2 km (200 s away): windows [START, START+100] and [START+500, START+900]; job 2 at
    3 km with one window. The first window of job 1 closes before anyone arrives, so job 1 starts at
    START+500 (the vehicle waits 300 s in the gap); 1 → 2 then reaches job 2 at START+600."""
    return line([2000, 3000], gaps=[[(START + 100, START + 500)], [(0, 0)]], close=[START + 900, NO_DL])


def test_ortools_serves_in_the_second_window():
    p = first_window_unreachable()
    p.validate()
    sol = solve_routing(p, dataclasses.replace(DET, engine="ortools"))
    assert sol.status == "ok" and sol.dropped.size == 0
    assert sol.routes[0].tolist() == [1, 2]
    assert sol.arrival_s[0].tolist() == [START + 500, START + 600]  # waited for the second window
    chk = check_routes(p, sol.routes)
    assert chk.ok, chk.violations
    assert chk.arrival_s[0].tolist() == [START + 500, START + 600]


def test_ortools_keeps_out_of_a_gap_it_could_use():
    """Job 1 nearer (1 km, 100 s) with the gap (START+50, START+400): going 1 → 2 would serve job 1
    at START+400 and job 2 at START+600; 2 → 1 serves job 2 at START+300 and is back at job 1 at
    START+500. With job 2 closing at START+350 only 2 → 1 is feasible — and no start in a gap."""
    p = line([1000, 3000], gaps=[[(START + 50, START + 400)], [(0, 0)]], close=[START + 900, START + 350])
    sol = solve_routing(p, dataclasses.replace(DET, engine="ortools"))
    assert sol.status == "ok" and sol.dropped.size == 0
    assert sol.routes[0].tolist() == [2, 1]
    chk = check_routes(p, sol.routes)
    assert chk.ok, chk.violations
    for j, t in zip(sol.routes[0].tolist(), sol.arrival_s[0].tolist()):
        assert not any(a < t < b for a, b in p.gaps(j))


@pytest.mark.skipif(not available(), reason="pyvrp not installed")
def test_pyvrp_serves_in_the_second_window():
    p = first_window_unreachable()
    assert expressible(p) == (True, "")
    res = solve_pyvrp(p, None, seed=1, max_iterations=200)
    assert res.routes is not None, res.error
    assert res.routes[0] == [1, 2]
    chk = check_routes(p, res.routes)
    assert chk.ok, chk.violations
    assert chk.arrival_s[0].tolist() == [START + 500, START + 600]


@pytest.mark.skipif(not available(), reason="pyvrp not installed")
def test_pyvrp_optional_job_only_in_its_windows():
    """Optional jobs: the group is optional too, and a job whose windows are both out of reach
    (deadline before the second opens) is dropped, never served in the gap."""
    p = line([2000], gaps=[[(START + 100, START + 500)]], close=[START + 900], penalty=10**6,
             deadline=START + 400)
    res = solve_pyvrp(p, None, seed=1, max_iterations=100)
    assert res.routes == [[]]
    ok = line([2000], gaps=[[(START + 100, START + 500)]], close=[START + 900], penalty=10**6)
    res = solve_pyvrp(ok, None, seed=1, max_iterations=100)
    assert res.routes == [[1]]


def test_both_engines_under_auto_agree_with_the_check():
    p = first_window_unreachable()
    sol = solve_routing(p, dataclasses.replace(DET, engine="auto"))
    assert sol.status == "ok" and sol.routes[0].tolist() == [1, 2]
    assert sol.stats.get("discarded", 0) == 0


def test_check_routes_refuses_a_service_that_would_start_in_a_gap():
    """A route that an engine blind to the gap would accept (service at START+200, inside job 1's
    first... gap) waits until START+500 and so breaks the deadline or the shift: refused, named."""
    late = line([2000], gaps=[[(START + 100, START + 500)]], close=[START + 900], deadline=START + 300)
    chk = check_routes(late, [[1]])
    assert not chk.ok
    assert any("in a gap between its windows" in v and "deadline" in v for v in chk.violations)
    short = line([2000], gaps=[[(START + 100, START + 500)]], close=[START + 900], end=START + 600)
    chk = check_routes(short, [[1]])
    assert not chk.ok and any("shift end" in v for v in chk.violations)
    without_gap = dataclasses.replace(short, tw_gaps_s=np.zeros((0, 0, 2), np.int64))
    assert check_routes(without_gap, [[1]]).ok  # the same route with one window is fine


@pytest.mark.parametrize(
    "gaps, match",
    [
        (np.zeros((2, 1, 2), np.int64), r"shape \(N\+1, G, 2\)"),
        (np.array([[[0, 0]], [[START + 500, START + 100]], [[0, 0]]]), "before it starts"),
        (np.array([[[0, 0]], [[START - 10, START + 100]], [[0, 0]]]), "outside its window"),
        (np.array([[[0, 0]], [[START + 100, NO_DL + 1]], [[0, 0]]]), "outside its window"),
        (np.array([[[0, 0], [0, 0]], [[START + 300, START + 400], [START + 350, START + 500]],
                   [[0, 0], [0, 0]]]), "overlaps an earlier gap"),
        (np.zeros((3, 1, 2)), "integers"),
    ],
)
def test_gaps_are_validated(gaps, match):
    p = dataclasses.replace(first_window_unreachable(), tw_gaps_s=gaps)
    with pytest.raises(ValueError, match=match):
        p.validate()
