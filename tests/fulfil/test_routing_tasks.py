"""fulfil.routing_tasks: routing subproblems on an executor, budgets, Ctrl-C."""

from __future__ import annotations

import logging

import numpy as np
import pytest

import fulfil.routing_tasks as rt
from fulfil.executor import Executor, ProcessPoolBackend, SerialBackend
from fulfil.routing_tasks import share_budget, solve_subproblems, stage_budgets
from solvers.routing import RoutingParams, RoutingProblem, solve_routing
from solvers.routing.check import check_routes

START = 6 * 3600
NO_DL = 10 * 86400


def tiny(n: int, v: int, seed: int, *, zone_deadline: bool = False) -> RoutingProblem:
    """A small seeded problem built by hand: windows, one capacity dimension."""
    rng = np.random.default_rng(seed)
    xy = np.vstack([[0.0, 0.0], rng.uniform(-5000, 5000, (n, 2))])
    dist = np.rint(np.hypot(*(xy[:, None, :] - xy[None, :, :]).transpose(2, 0, 1))).astype(np.int64)
    open_ = np.concatenate([[0], START + rng.integers(0, 2 * 3600, n)]).astype(np.int64)
    deadline = np.full((v, n + 1), NO_DL, np.int64)
    if zone_deadline:  # vehicle-dependent deadline: PyVRP cannot express it, OR-Tools alone runs
        deadline[0, 1] = START + 4 * 3600
    return RoutingProblem(
        dist_m=dist, travel_s=np.rint(dist / 8.0).astype(np.int64), site=np.arange(n + 1, dtype=np.int64),
        service_fixed_s=np.full(n + 1, 120, np.int64), service_var_s=np.full(n + 1, 30, np.int64),
        tw_open_s=open_, tw_close_s=open_ + 4 * 3600,
        demand=np.vstack([[0], rng.integers(1, 6, (n, 1))]).astype(np.int64),
        capacity=np.full((v, 1), 25, np.int64), allowed=np.ones((v, n + 1), bool), deadline_s=deadline,
        start_s=np.full(v, START, np.int64), end_max_s=np.full(v, START + 10 * 3600, np.int64),
        fixed_cost=np.full(v, 2000, np.int64), cost_per_m=np.ones(v), cost_per_s=np.ones(v),
        penalty=np.full(n + 1, -1, np.int64),
    )


PROBLEMS = [tiny(14, 3, 1), tiny(9, 2, 2, zone_deadline=True), tiny(6, 2, 3)]
DET = RoutingParams(time_limit_s=None, solution_limit=60, seed=2)


def sig(sol) -> tuple:
    return [r.tolist() for r in sol.routes], sol.dropped.tolist(), sol.objective, sol.engine


def test_serial_and_process_pool_give_identical_solutions():
    params = [DET] * len(PROBLEMS)
    serial, i1 = solve_subproblems(PROBLEMS, params, "ortools", SerialBackend(), "test")
    with ProcessPoolBackend(2) as ex:
        pooled, i2 = solve_subproblems(PROBLEMS, params, "ortools", ex, "test")
    assert not i1 and not i2 and sorted(serial) == sorted(pooled) == [0, 1, 2]
    for i, p in enumerate(PROBLEMS):
        assert sig(serial[i]) == sig(pooled[i]) == sig(solve_routing(p, DET))
        assert check_routes(p, serial[i].routes).ok
    assert pooled[0].stats["parallel"] and not serial[0].stats["parallel"]
    assert sorted(serial[0].stats["engines_run"]) == ["ortools", "pyvrp"] or "pyvrp_skipped" in serial[0].stats
    assert serial[1].stats["engines_run"] == ["ortools"]


def test_nearest_engine():
    with ProcessPoolBackend(2) as ex:
        sols, interrupted = solve_subproblems(PROBLEMS, [None] * 3, "nearest", ex, "nn")
    assert not interrupted and sorted(sols) == [0, 1, 2]
    for i, p in enumerate(PROBLEMS):
        assert sols[i].status == "ok" and check_routes(p, sols[i].routes).ok


def test_keyboard_interrupt_in_a_task_keeps_the_finished_ones(monkeypatch, caplog):
    calls = {"n": 0}
    real = rt.run_engine

    def run_then_interrupt(problem, run):
        calls["n"] += 1
        if problem is PROBLEMS[2]:  # the smallest problem is submitted last
            raise KeyboardInterrupt
        return real(problem, run)

    monkeypatch.setattr(rt, "run_engine", run_then_interrupt)
    # the CLI may have set the "fulfil" logger not to propagate: listen to it directly
    monkeypatch.setattr(logging.getLogger("fulfil"), "handlers", [caplog.handler])
    sols, interrupted = solve_subproblems(PROBLEMS, [DET] * 3, "ortools", SerialBackend(), "lm")
    assert interrupted
    assert sorted(sols) == [0, 1]  # problems whose runs all came back before the interrupt
    assert sig(sols[0]) == sig(solve_routing(PROBLEMS[0], DET))
    assert "interrupted" in caplog.text


class _InterruptAfterFirst(Executor):
    """A process pool whose parent gets Ctrl-C once the first problem is combined."""

    def __init__(self):
        self.inner = ProcessPoolBackend(2)

    @property
    def workers(self):
        return self.inner.workers

    def submit(self, fn, /, *args, **kwargs):
        return self.inner.submit(fn, *args, **kwargs)

    def as_completed(self, futures):
        futures = list(futures)
        seen = 0
        for f in self.inner.as_completed(futures):
            yield f
            seen += 1
            if seen == 2:
                raise KeyboardInterrupt

    def shutdown(self, cancel=False):
        self.inner.shutdown(cancel)


def test_keyboard_interrupt_in_the_parent_returns_what_finished():
    ex = _InterruptAfterFirst()
    try:
        sols, interrupted = solve_subproblems(PROBLEMS, [DET] * 3, "ortools", ex, "lm")
    finally:
        ex.shutdown(cancel=True)
    assert interrupted and 1 <= len(sols) <= 2
    for i, sol in sols.items():
        assert sig(sol) == sig(solve_routing(PROBLEMS[i], DET))


def test_share_budget_rules():
    # one run per problem: the former pipeline rule total * min(workers, n) * size / sum(size)
    assert share_budget([30, 10], [1, 1], 8.0, 2) == pytest.approx([8.0, 4.0])
    # two runs each, two workers: the runs of both problems fill both cores for ~total
    b = share_budget([30, 10], [2, 2], 8.0, 2)
    assert b == pytest.approx([6.0, 2.0]) and sum(2 * x for x in b) / 2 == pytest.approx(8.0)
    # serial: the runs go one after the other
    b = share_budget([30, 10], [2, 1], 7.0, 1)
    assert 2 * b[0] + b[1] == pytest.approx(7.0)
    assert share_budget([5], [2], None, 4) == [None]
    assert share_budget([1000, 1], [1, 2], 4.0, 3)[0] == 4.0  # never more than the stage
    assert share_budget([1000, 1], [1, 1], 4.0, 2)[1] == rt.MIN_BUDGET_S


def test_stage_budgets_counts_engine_runs():
    b = stage_budgets(PROBLEMS, 6.0, 2)
    assert len(b) == 3 and all(x is not None and x > 0 for x in b)
    assert stage_budgets(PROBLEMS, None, 2) == [None] * 3
    assert stage_budgets(PROBLEMS, 6.0, 2, engine="nearest") == [None] * 3
