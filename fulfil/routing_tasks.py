"""Routing subproblems on an executor: every engine run a task, each problem combined when its runs are back.

A stage (the last mile of every forward warehouse, the trunk of every central warehouse)
is a list of independent :class:`~solvers.routing.RoutingProblem` s. :func:`solve_subproblems`
submits each problem's engine runs (:func:`solvers.routing.solve.engine_runs`: OR-Tools and,
when PyVRP can express the problem, PyVRP) to one :class:`~fulfil.executor.Executor` as
separate tasks, so the two engines of a problem and the problems themselves share the
workers, and combines a problem (verify both plans, keep the better:
:func:`solvers.routing.solve.combine`) as soon as all its runs are back.

Ctrl-C: every run is given the executor's stop file (:meth:`~fulfil.executor.Executor.request_stop`),
so on the first request the running searches hand back their best plan so far and the runs
not started yet make a quick nearest-neighbour plan: every problem still comes back, soon, and
the stage reports itself interrupted. On a second request (or a ``KeyboardInterrupt`` in this
process) it stops waiting and returns every problem combined so far.

:func:`stage_budgets` shares the stage's wall budget among the problems so that the whole
stage takes about ``total_s`` on the executor's workers.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from concurrent.futures import Future
from dataclasses import replace
from typing import TYPE_CHECKING

from solvers.routing.solve import RoutingParams, combine, engine_runs, run_engine

if TYPE_CHECKING:
    from fulfil.executor import Executor
    from solvers.routing import RoutingProblem, RoutingSolution

__all__ = ["ENGINES", "MIN_BUDGET_S", "share_budget", "solve_subproblems", "stage_budgets"]

#: ``engine`` values of :func:`solve_subproblems`.
ENGINES = ("ortools", "nearest")
#: Smallest wall budget given to one engine run.
MIN_BUDGET_S = 0.5


def _nearest(problem: RoutingProblem) -> RoutingSolution:
    from solvers.routing.baseline import nearest_neighbour

    return nearest_neighbour(problem)


def share_budget(sizes: Sequence[int], runs: Sequence[int], total_s: float | None, workers: int,
                 min_s: float = MIN_BUDGET_S) -> list[float | None]:
    """Wall seconds per engine run of each problem, so that the stage takes about ``total_s``.

    Problem ``i`` has ``sizes[i]`` jobs and ``runs[i]`` engine runs (tasks of one core each,
    all given the same budget ``b_i``). The budgets are proportional to the size and use
    the ``min(workers, Σ runs)`` cores fully::

        b_i = total_s * min(workers, R) * size_i / Σ_j runs_j * size_j,   R = Σ_j runs_j

    capped at ``total_s`` (one run never gets more than the stage) and at least ``min_s``.
    ``total_s=None`` (a deterministic budget) gives ``None`` for every problem.

    With one run per problem this is the rule the pipeline used before
    (``total × min(workers, n) × size / Σ size``); a problem whose PyVRP run used to
    run in a forked child beside the worker now counts as two runs.
    """
    if len(sizes) != len(runs):
        raise ValueError("share_budget: sizes and runs differ in length")
    if total_s is None:
        return [None] * len(sizes)
    weight = [max(1, int(s)) * max(1, int(r)) for s, r in zip(sizes, runs, strict=True)]
    if not weight:
        return []
    cores = min(max(1, int(workers)), sum(max(1, int(r)) for r in runs))
    out = []
    for s in sizes:
        b = total_s * cores * max(1, int(s)) / sum(weight)
        out.append(max(min_s, min(float(total_s), b)))
    return out


def stage_budgets(problems: Sequence[RoutingProblem], total_s: float | None, workers: int,
                  engine: str = "ortools", routing_engine: str = "auto") -> list[float | None]:
    """:func:`share_budget` for ``problems``: sizes = jobs, runs = what :func:`engine_runs` lists.

    ``workers`` is the executor's :attr:`~fulfil.executor.Executor.workers`; ``routing_engine``
    the ``RoutingParams.engine`` the problems will be solved with. ``engine="nearest"``
    needs no budget (``None`` for all).
    """
    if engine == "nearest" or total_s is None:
        return [None] * len(problems)
    probe = RoutingParams(time_limit_s=1.0, engine=routing_engine)
    runs = [max(1, len(engine_runs(p, probe))) for p in problems]
    return share_budget([p.n_jobs for p in problems], runs, total_s, workers)


def solve_subproblems(problems: Sequence[RoutingProblem], params_list: Sequence[RoutingParams | None],
                      engine: str, executor: Executor, label: str,
                      log: logging.Logger | None = None) -> tuple[dict[int, RoutingSolution], bool]:
    """Solve independent routing problems on ``executor``; keep what finished on Ctrl-C.

    Parameters
    ----------
    problems : sequence of RoutingProblem
        The stage's problems; results are keyed by position in this sequence.
    params_list : sequence of RoutingParams
        One per problem (e.g. with the budgets of :func:`stage_budgets`); ignored for
        ``engine="nearest"``.
    engine : {"ortools", "nearest"}
        ``"ortools"``: our optimiser (OR-Tools, plus PyVRP where it can express the problem;
        each engine run a task). ``"nearest"``: the nearest-neighbour dispatch
        (:func:`solvers.routing.baseline.nearest_neighbour`), one task per problem.
    executor : Executor
        Where the tasks run. Larger problems are submitted first.
    label : str
        Progress label, e.g. ``"last mile"``.
    log : logging.Logger, optional
        Progress lines ``"  <label> k/n solved (J jobs, V vehicles used)"`` at INFO; the
        ``fulfil`` logger when omitted.

    Returns
    -------
    (dict, bool)
        ``{index: RoutingSolution}`` and ``interrupted``. After ``executor.request_stop()``
        every problem still comes back (the searches cut short) with ``interrupted=True``. On
        ``KeyboardInterrupt`` (in this process, raised by a task of the serial backend, or by
        the executor's ``as_completed`` on a second stop request) every problem already
        combined is returned with ``interrupted=True``; the tasks not started are cancelled
        and the running ones are not waited for (call ``executor.shutdown(cancel=True)`` next).
    """
    if engine not in ENGINES:
        raise ValueError(f"solve_subproblems: engine {engine!r} is not one of {', '.join(ENGINES)}")
    if len(params_list) != len(problems):
        raise ValueError("solve_subproblems: one RoutingParams per problem is needed")
    log = log or logging.getLogger("fulfil")
    n = len(problems)
    out: dict[int, RoutingSolution] = {}
    order = sorted(range(n), key=lambda i: -problems[i].n_jobs)
    owner: dict[Future, int] = {}
    pending: dict[int, int] = {}
    outcomes: dict[int, list] = {}
    stop_file = executor.stop_file if engine != "nearest" else None
    params = [replace(RoutingParams() if p is None else p, stop_file=stop_file) for p in params_list]

    parallel = executor.workers > 1  # asked once: a cluster answers over the network

    def finish(i: int, sol: RoutingSolution) -> None:
        out[i] = sol
        log.info("  %s %d/%d solved (%d jobs, %d vehicles used)", label, len(out), n, problems[i].n_jobs,
                 sum(1 for r in sol.routes if len(r)))

    handled: set[Future] = set()

    def harvest(fut: Future) -> None:
        handled.add(fut)
        i = owner[fut]
        res = fut.result()
        if engine == "nearest":
            finish(i, res)
            return
        outcomes[i].append(res)
        pending[i] -= 1
        if pending[i] == 0:
            finish(i, combine(problems[i], params[i], outcomes[i], parallel=parallel))

    try:
        for i in order:
            if engine == "nearest":
                futs = [executor.submit(_nearest, problems[i])]
            else:
                runs = engine_runs(problems[i], params[i])
                outcomes[i] = []
                if not runs:  # nothing to search: combine answers alone
                    finish(i, combine(problems[i], params[i], []))
                    continue
                pending[i] = len(runs)
                futs = [executor.submit(run_engine, problems[i], r) for r in runs]
            for f in futs:
                owner[f] = i
            for f in futs:  # the serial backend's futures are already done
                if f.done():
                    harvest(f)
        for fut in executor.as_completed([f for f in owner if f not in handled]):
            harvest(fut)
    except KeyboardInterrupt:
        for fut in owner:
            fut.cancel()
        log.warning("interrupted: keeping the %d %s subproblem(s) solved so far", len(out), label)
        return out, True
    stopped = executor.stop_level > 0
    if stopped:
        log.warning("interrupted: the %d %s subproblem(s) keep their best plans so far", len(out), label)
    return out, stopped
