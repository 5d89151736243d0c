"""Ctrl-C: the searches stop and hand back their best plans, the plan written holds them and checks clean.

The first Ctrl-C asks every running search (in the worker processes too) to stop at once with
its incumbent; the subproblems not started get a quick construction. Further Ctrl-Cs, right
after or while the plan is checked and written, cannot abort it: a complete plan folder is there.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

BUDGET_S = 40.0


@pytest.fixture(scope="module")
def four_warehouses(tmp_path_factory) -> Path:
    from fulfil.generate import GenerateConfig, write_scenario

    out = tmp_path_factory.mktemp("four_fw")
    return write_scenario(GenerateConfig(name="four_fw", seed=5, forward_warehouses=4, pickup_points=120,
                                         orders=5000), out)


def _plan_then_ctrl_c(scenario: Path, out: Path, after_s: float, every_s: float | None) -> tuple[int, str, float]:
    """Run ``fulfil plan`` in a subprocess and send SIGINT ``after_s`` seconds into the last-mile routing,
    then every ``every_s`` seconds until the plan folder is in place (``None``: once); ``(exit code,
    progress log, seconds from the first SIGINT to the exit)``."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "fulfil.cli", "plan", str(scenario), "--out", str(out),
         "--time-limit", str(BUDGET_S), "--workers", "2", "--charts", "0"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    lines: list[str] = []
    started = threading.Event()

    def read() -> None:
        for line in proc.stderr:
            lines.append(line)
            if "routing last mile" in line:
                started.set()

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    assert started.wait(120), "".join(lines)
    time.sleep(after_s)
    t0 = time.perf_counter()
    proc.send_signal(signal.SIGINT)
    while every_s is not None:
        time.sleep(every_s)
        if proc.poll() is not None or (out / "plan.json").exists():
            break
        proc.send_signal(signal.SIGINT)
    proc.wait(timeout=120)  # stderr is the reader's alone (communicate() would take lines from it)
    waited = time.perf_counter() - t0
    reader.join(5)
    stdout = proc.stdout.read()
    return proc.returncode, "".join(lines) + stdout, waited


def _assert_complete_plan(scenario: Path, out: Path, log: str) -> dict:
    """The folder holds one whole plan: code 130, a sheet per trip, a trunk, the checker finds nothing."""
    from fulfil.checker import check_plan, load_plan
    from fulfil.scenario import load_scenario

    doc = json.loads((out / "plan.json").read_text(encoding="utf-8"))
    assert doc["code"] == 130, log
    trips = sorted(t["id"] for d in doc["duties"] for t in d["trips"])
    assert sorted(p.stem for p in (out / "route_sheets").glob("*.csv")) == trips
    assert (out / "summary.txt").is_file() and (out / "unserved.csv").is_file()
    assert any(d["tier"] == "trunk" for d in doc["duties"]), log  # the trunk feeds what is served
    assert check_plan(load_scenario(scenario), load_plan(out / "plan.json")) == []
    return doc


@pytest.mark.skipif(sys.platform == "win32", reason="SIGINT semantics")
def test_ctrl_c_before_any_subproblem_finishes_keeps_every_searchs_best_plan(four_warehouses, tmp_path):
    """Ctrl-C 1.5 s into a 40 s routing budget, when no subproblem has finished (each engine run has about
    10 s): the searches stop within seconds and every forward warehouse has routes (not a plan with 0
    routes); the trunk feeds them and the checker accepts the plan."""
    out = tmp_path / "plan"
    code, log, waited = _plan_then_ctrl_c(four_warehouses, out, 1.5, every_s=None)
    assert code == 130, log
    doc = _assert_complete_plan(four_warehouses, out, log)
    lm_depots = {d["depot"] for d in doc["duties"] if d["tier"] == "last_mile"}
    assert len(lm_depots) == 4, (lm_depots, log)
    assert doc["kpis"]["fill_rate"] > 0.9, log
    assert "Ctrl-C: stopping the searches" in log
    assert waited < 0.5 * BUDGET_S, f"the searches did not stop early ({waited:.1f} s):\n{log}"


@pytest.mark.skipif(sys.platform == "win32", reason="SIGINT semantics")
def test_ctrl_c_again_and_again_still_writes_a_complete_plan(four_warehouses, tmp_path):
    """SIGINT 1.5 s into the routing, then every 0.1 s until the plan folder is in place (the second right
    after the first, the others while the plan is finished, checked and written): none aborts it; the
    folder holds one complete plan that checks clean, with the searches' plans kept."""
    out = tmp_path / "plan"
    code, log, _ = _plan_then_ctrl_c(four_warehouses, out, 1.5, every_s=0.1)
    assert code == 130, log
    assert "interrupted" in log and "Traceback" not in log
    doc = _assert_complete_plan(four_warehouses, out, log)
    assert any(d["tier"] == "last_mile" for d in doc["duties"]), log


def _problem(n: int, v: int, seed: int):
    """A seeded problem PyVRP can express (one capacity dimension, windows)."""
    from solvers.routing import RoutingProblem

    start, no_dl = 6 * 3600, 10 * 86400
    rng = np.random.default_rng(seed)
    xy = np.vstack([[0.0, 0.0], rng.uniform(-6000, 6000, (n, 2))])
    dist = np.rint(np.hypot(*(xy[:, None, :] - xy[None, :, :]).transpose(2, 0, 1))).astype(np.int64)
    open_ = np.concatenate([[0], start + rng.integers(0, 2 * 3600, n)]).astype(np.int64)
    return RoutingProblem(
        dist_m=dist, travel_s=np.rint(dist / 8.0).astype(np.int64), site=np.arange(n + 1, dtype=np.int64),
        service_fixed_s=np.full(n + 1, 120, np.int64), service_var_s=np.full(n + 1, 30, np.int64),
        tw_open_s=open_, tw_close_s=open_ + 4 * 3600,
        demand=np.vstack([[0], rng.integers(1, 6, (n, 1))]).astype(np.int64),
        capacity=np.full((v, 1), 30, np.int64), allowed=np.ones((v, n + 1), bool),
        deadline_s=np.full((v, n + 1), no_dl, np.int64), start_s=np.full(v, start, np.int64),
        end_max_s=np.full(v, start + 10 * 3600, np.int64), fixed_cost=np.full(v, 2000, np.int64),
        cost_per_m=np.ones(v), cost_per_s=np.ones(v), penalty=np.full(n + 1, -1, np.int64),
    )


def test_a_stop_request_reaches_the_searches_in_worker_processes():
    """``request_stop`` while both engines search in worker processes with a budget of minutes: both come
    back within seconds with a verified plan; a run submitted afterwards answers at once with the
    nearest-neighbour plan."""
    from fulfil.executor import ProcessPoolBackend
    from solvers.routing.check import check_routes
    from solvers.routing.solve import EngineRun, RoutingParams, combine, run_engine

    p = _problem(60, 8, 1)
    with ProcessPoolBackend(2) as ex:
        params = RoutingParams(time_limit_s=300.0, stop_file=ex.stop_file)
        futs = [ex.submit(run_engine, p, EngineRun(e, params)) for e in ("ortools", "pyvrp")]
        time.sleep(2.0)
        assert not any(f.done() for f in futs)
        t0 = time.perf_counter()
        assert ex.request_stop() == 1
        outcomes = [f.result(timeout=30) for f in futs]
        assert time.perf_counter() - t0 < 10.0
        late = ex.submit(run_engine, p, EngineRun("ortools", params)).result(timeout=30)
    assert all(o.stopped for o in outcomes)
    ort, pv = outcomes
    assert ort.solution.status == "ok" and ort.solution.solutions_found > 1
    assert pv.pyvrp.iterations > 0
    best = combine(p, params, outcomes, parallel=True)
    assert best.status == "ok" and check_routes(p, best.routes).ok and best.stats["stopped"] == ["ortools", "pyvrp"]
    assert late.stopped and late.solution.solver_status == "STOPPED_BEFORE_START"
    assert check_routes(p, late.solution.routes).ok


def test_solve_subproblems_after_a_stop_request_returns_every_problem_interrupted():
    """A stop requested while a stage's problems are queued behind long searches: every problem still
    comes back (the ones not started as quick constructions), and the stage reports the interruption."""
    from fulfil.executor import ProcessPoolBackend
    from fulfil.routing_tasks import solve_subproblems
    from solvers.routing import RoutingParams
    from solvers.routing.check import check_routes

    problems = [_problem(50, 6, s) for s in range(5)]
    params = [RoutingParams(time_limit_s=300.0, engine="ortools")] * len(problems)
    with ProcessPoolBackend(2) as ex:
        threading.Timer(2.0, ex.request_stop).start()
        t0 = time.perf_counter()
        sols, interrupted = solve_subproblems(problems, params, "ortools", ex, "test")
        assert time.perf_counter() - t0 < 30.0
    assert interrupted and sorted(sols) == list(range(len(problems)))
    for i, p in enumerate(problems):
        assert sols[i].status == "ok" and check_routes(p, sols[i].routes).ok
        assert sols[i].stats["stopped"] == ["ortools"]


def test_a_second_stop_request_stops_waiting_for_a_task_that_does_not_answer():
    """After two stop requests the executor's wait gives up on a task that ignores them, one grace period
    after the last result, with ``KeyboardInterrupt`` (which the routing stages catch)."""
    from fulfil.executor import STOP_GRACE_S, ProcessPoolBackend

    ex = ProcessPoolBackend(2)
    try:
        quick, stuck = ex.submit(time.sleep, 0.0), ex.submit(time.sleep, 60.0)
        quick.result(timeout=30)
        ex.request_stop()
        ex.request_stop()
        t0 = time.perf_counter()
        waiting = ex.as_completed([quick, stuck])
        assert next(waiting) is quick
        with pytest.raises(KeyboardInterrupt):
            next(waiting)
        assert STOP_GRACE_S <= time.perf_counter() - t0 < STOP_GRACE_S + 3.0
    finally:
        ex.shutdown(cancel=True)


def test_without_a_stop_request_the_search_is_unchanged():
    """The stop file given but never created: the deterministic search gives the very same plan."""
    from solvers.routing.solve import RoutingParams, solve_routing

    p = _problem(30, 4, 2)
    plain = RoutingParams(time_limit_s=None, solution_limit=80, seed=3)
    watched = RoutingParams(time_limit_s=None, solution_limit=80, seed=3, stop_file="/nonexistent/fulfil-stop")
    a, b = solve_routing(p, plain), solve_routing(p, watched)
    assert [r.tolist() for r in a.routes] == [r.tolist() for r in b.routes]
    assert a.objective == b.objective and a.solutions_found == b.solutions_found and "stopped" not in b.stats


@pytest.mark.parametrize("after_s", [0.0, 0.1, 0.3, 0.6])
def test_ctrl_c_twice_at_any_moment_never_kills_the_command(tmp_path, after_s):
    """Found by the fuzz run: two Ctrl-Cs while the command line was still being parsed, or after
    the plan was written, killed the process by SIGINT. The command (its ``run`` entry point, once
    imported) exits 130 (or 0 when the plan was already complete), with a complete plan or none."""
    scenario = Path(__file__).resolve().parent / "data" / "good" / "mini.toml"
    out = tmp_path / "out"
    boot = "import sys; from fulfil.cli import run; print('ready', file=sys.stderr, flush=True); run()"
    p = subprocess.Popen([sys.executable, "-c", boot, "-q", "plan", str(scenario), "--out", str(out),
                          "--time-limit", "0", "--solutions", "10", "--charts", "0", "--workers", "1"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert p.stderr.readline().strip() == b"ready"
    time.sleep(after_s)
    p.send_signal(signal.SIGINT)
    time.sleep(0.05)
    if p.poll() is None:
        p.send_signal(signal.SIGINT)
    _, err = p.communicate(timeout=120)
    assert p.returncode in (0, 130), err.decode()
    assert "Traceback" not in err.decode()
    if out.exists():
        assert (out / "plan.json").is_file() and not [f for f in out.parent.iterdir() if f.name.startswith(".out")]
