"""Entry point: solve one :class:`RoutingProblem` with OR-Tools (and PyVRP).

Engines
-------
``RoutingParams.engine`` selects OR-Tools, PyVRP
(:mod:`solvers.routing.pyvrp_engine`, only when it can express the problem
in full) or ``"auto"`` (default): both, the better plan kept. Every plan, from
either engine, is re-checked against the problem arrays by
:func:`solvers.routing.check.check_routes` (windows, deadlines, shifts,
capacity per dimension, allowed vehicles, objective recomputed); a plan that
fails is discarded and counted in ``RoutingSolution.stats["discarded"]``.

Pieces
------
"Both engines, the better kept" is three plain functions, so that a caller
with an executor can run the engine searches of many problems at once:

* :func:`engine_runs` ``(problem, params) -> [EngineRun]``: which engines the
  problem needs and with what budget;
* :func:`run_engine` ``(problem, run) -> EngineOutcome``: one search, a
  top-level function of picklable data (OR-Tools / PyVRP objects are created
  and destroyed inside the call);
* :func:`combine` ``(problem, params, outcomes) -> RoutingSolution``: verify,
  keep the better.

:func:`solve_routing` chains them: with a ``submit`` callable (e.g.
``fulfil.executor.Executor.submit``) the runs are submitted and may run at
the same time; without, they run one after the other here. This package
never starts processes itself.

Determinism
-----------
With ``RoutingParams(time_limit_s=None, solution_limit=K)`` the search is a
pure function of ``(problem, seed, K, strategies)``: OR-Tools stops after
``K`` solutions, or earlier when the deterministic failure guard
(``RoutingParams.failure_limit``) detects a stalled search, whatever the
machine speed or load. Checked across processes with different hash seeds
running concurrently.

The routing search has one wall-clock sub-limit, ``lns_time_limit``
(default 100 ms), which bounds the completion search run for every accepted
neighbour (and the constraint-programming LNS operators). It is used even
with those operators off: on a 60-job instance, setting it to 1 ms changed
the result and 1 us stalled the search at the first solution. A loaded
machine could therefore change results at the default value, so it is
raised to one hour here, and the constraint-programming LNS operators
(``path_lns``, ``full_path_lns``, ``tsp_lns``, ``inactive_lns``) are kept
off. If a wall-clock ``time_limit_s`` is given as well, it acts as a safety
net; a run that hits it is no longer reproducible.

Stopping early
--------------
``RoutingParams.stop_file`` names a file whose appearance asks every search
given it to stop and hand back its best plan so far: OR-Tools looks at the
solutions it accepts, PyVRP at its iterations (at most every
:data:`STOP_POLL_S` either), and a run that starts when the file is already
there returns the nearest-neighbour plan at once. A file, because the searches
run in other processes (or machines sharing the folder) and this package
neither starts processes nor knows who asks; the poll does not change the
search while the file is absent, so the determinism above holds.

Seeds
-----
The seed permutes the jobs before they are handed to OR-Tools, which only
changes tie-breaking. Cheapest-insertion constructions are largely
insensitive to it, so different seeds often share their first solutions
and diverge later in the local search.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
from ortools.constraint_solver import pywrapcp, routing_enums_pb2

from .model import build_model, compatible_vehicles, job_order
from .check import check_routes
from .problem import RoutingProblem, RoutingSolution

__all__ = [
    "AUTO_FIRST_SOLUTION",
    "ENGINES",
    "FIRST_SOLUTION_STRATEGIES",
    "METAHEURISTICS",
    "STOP_POLL_S",
    "EngineOutcome",
    "EngineRun",
    "RoutingParams",
    "StopCheck",
    "combine",
    "engine_runs",
    "run_engine",
    "search_parameters",
    "solve_routing",
]

_FSS = routing_enums_pb2.FirstSolutionStrategy
_LSM = routing_enums_pb2.LocalSearchMetaheuristic

#: Valid ``RoutingParams.first_solution`` names (lower case) besides "auto".
FIRST_SOLUTION_STRATEGIES: tuple[str, ...] = tuple(
    name.lower() for name in _FSS.Value.keys() if name not in ("UNSET",)
)
#: Valid ``RoutingParams.metaheuristic`` names (lower case).
METAHEURISTICS: tuple[str, ...] = tuple(
    name.lower() for name in _LSM.Value.keys() if name not in ("UNSET",)
)
#: Strategy used for ``first_solution="auto"``. Chosen by measurement on ten
#: seeded 50- and 100-job instances with windows, zones, two capacity
#: dimensions and per-vehicle deadlines (a generator close to the one of
#: ``benchmarks/test_bench_routing.py``), followed by guided local search:
#: mean objective relative to the best strategy per instance was, after 3 s /
#: after 150 solutions, parallel_cheapest_insertion 1.107 / 1.034,
#: sequential_cheapest_insertion 1.150 / 1.076, path_cheapest_arc
#: 1.220 / 1.458, local_cheapest_insertion 1.324 / 1.228 (OR-Tools'
#: own AUTOMATIC picks path_cheapest_arc here). As a pure construction
#: (1 solution) parallel cheapest insertion was best on 5 of 6 instances.
AUTO_FIRST_SOLUTION = "parallel_cheapest_insertion"

# Wall-clock limit for OR-Tools' per-neighbour completion search; large on
# purpose so that it never binds (see the module docstring).
_LNS_TIME_LIMIT_S = 3600

#: Valid ``RoutingParams.engine`` values.
ENGINES: tuple[str, ...] = ("auto", "ortools", "pyvrp")
#: Shortest interval between two looks for ``RoutingParams.stop_file`` (a PyVRP
#: iteration can take well under a millisecond; a look is a ``stat`` call).
STOP_POLL_S = 0.02


class StopCheck:
    """Calling it answers whether ``path`` exists (``path`` None: never), looking at most every
    ``every_s`` seconds (the answer in between is the last one); once True it stays True."""

    def __init__(self, path: str | None, every_s: float = STOP_POLL_S):
        self.path = path
        self.every_s = every_s
        self._next = 0.0
        self.seen = False

    def __call__(self) -> bool:
        if self.seen or self.path is None:
            return self.seen
        now = time.monotonic()
        if now >= self._next:
            self._next = now + self.every_s
            self.seen = os.path.exists(self.path)
        return self.seen


@dataclass
class RoutingParams:
    """Search budget and strategy of :func:`solve_routing`.

    Parameters
    ----------
    time_limit_s : float or None, default 5.0
        Wall-clock limit of the search in seconds; ``None`` for none.
    solution_limit : int or None, default None
        Maximum number of solutions OR-Tools may go through (first solution
        and accepted local-search neighbours included). This budget is
        deterministic: with ``time_limit_s=None`` (or a limit that is never
        reached) the result is identical across runs and machines for the
        same problem and seed.
    seed : int, default 0
        Seed of the permutation applied to the jobs before they are handed
        to OR-Tools; different seeds explore differently, the same seed
        reproduces the same search.
    first_solution : str, default "auto"
        ``"auto"`` (= :data:`AUTO_FIRST_SOLUTION`) or a lower-case
        ``routing_enums_pb2.FirstSolutionStrategy`` name, e.g.
        ``"path_cheapest_arc"``, ``"local_cheapest_insertion"``.
    metaheuristic : str, default "guided_local_search"
        Lower-case ``routing_enums_pb2.LocalSearchMetaheuristic`` name:
        ``"guided_local_search"``, ``"greedy_descent"``,
        ``"simulated_annealing"``, ``"tabu_search"``, ...
    failure_limit : int or None, default None
        Deterministic stall guard: stop after this many constraint-solver
        failures (candidate moves rejected by propagation, dead ends of the
        local search). Guided local search never stops by itself, and when no
        neighbour is feasible (e.g. a problem with a single feasible
        solution) it finds no new solution either, so a ``solution_limit``
        alone would never be reached. ``None`` means
        ``50 * solution_limit + 1000`` when ``solution_limit`` is given (a
        normal search uses about 4 failures per solution, so the guard only
        binds on stalls) and no guard otherwise.
    log_search : bool, default False
        Let OR-Tools log the search on stderr.
    warm_start : bool, default True
        Also build nearest-neighbour routes (:mod:`solvers.routing.baseline`)
        and start the local search from them when OR-Tools' own first
        solution costs more; the search then never returns anything worse
        than the naive dispatch.
    engine : {"auto", "ortools", "pyvrp"}, default "auto"
        ``"ortools"``: OR-Tools only (the historical behaviour).
        ``"pyvrp"``: PyVRP only when it can express the problem in full
        (:func:`solvers.routing.pyvrp_engine.expressible`), else OR-Tools.
        ``"auto"``: both when PyVRP can express the problem (same wall budget /
        same deterministic budget), and the better *verified* plan is kept
        (ties go to OR-Tools). Given a ``submit`` callable,
        :func:`solve_routing` runs the two at the same time; without one, one
        after the other, a wall budget split in halves.
    pyvrp_iterations : int or None, default None
        Deterministic PyVRP budget (``pyvrp.stop.MaxIterations``); ``None``
        means ``solution_limit``. PyVRP is deterministic for a given seed
        and iteration budget, so ``engine="auto"`` stays deterministic under
        ``time_limit_s=None``.
    stop_file : str or None, default None
        A path whose existence asks the search to stop at once and return its
        best plan so far (see "Stopping early" in the module docstring);
        ``None``: the budget alone stops it.

    Raises
    ------
    ValueError
        When both limits are ``None``, a limit is not positive, the seed is
        negative or a strategy name is unknown (the message lists the valid
        names).
    """

    time_limit_s: float | None = 5.0
    solution_limit: int | None = None
    seed: int = 0
    first_solution: str = "auto"
    metaheuristic: str = "guided_local_search"
    failure_limit: int | None = None
    log_search: bool = False
    warm_start: bool = True
    engine: str = "auto"
    pyvrp_iterations: int | None = None
    stop_file: str | None = None

    def __post_init__(self) -> None:
        if self.time_limit_s is None and self.solution_limit is None:
            raise ValueError(
                "RoutingParams: time_limit_s and solution_limit cannot both be None "
                "(guided local search never stops on its own)"
            )
        if self.time_limit_s is not None:
            t = float(self.time_limit_s)
            if not np.isfinite(t) or t <= 0:
                raise ValueError(
                    f"RoutingParams.time_limit_s must be a positive number or None, "
                    f"got {self.time_limit_s!r}"
                )
            self.time_limit_s = t
        if self.solution_limit is not None:
            if isinstance(self.solution_limit, bool) or int(self.solution_limit) != self.solution_limit:
                raise ValueError(
                    f"RoutingParams.solution_limit must be an integer, got {self.solution_limit!r}"
                )
            if int(self.solution_limit) < 1:
                raise ValueError(
                    f"RoutingParams.solution_limit must be >= 1, got {self.solution_limit!r}"
                )
            self.solution_limit = int(self.solution_limit)
        if self.failure_limit is not None:
            if (
                isinstance(self.failure_limit, bool)
                or int(self.failure_limit) != self.failure_limit
                or int(self.failure_limit) < 1
            ):
                raise ValueError(
                    f"RoutingParams.failure_limit must be an integer >= 1 or None, "
                    f"got {self.failure_limit!r}"
                )
            self.failure_limit = int(self.failure_limit)
        if isinstance(self.seed, bool) or int(self.seed) != self.seed or int(self.seed) < 0:
            raise ValueError(f"RoutingParams.seed must be an integer >= 0, got {self.seed!r}")
        self.seed = int(self.seed)
        fs = str(self.first_solution).lower()
        if fs != "auto" and fs not in FIRST_SOLUTION_STRATEGIES:
            raise ValueError(
                f"RoutingParams.first_solution {self.first_solution!r} is not valid; "
                f"choose 'auto' or one of {', '.join(FIRST_SOLUTION_STRATEGIES)}"
            )
        self.first_solution = fs
        mh = str(self.metaheuristic).lower()
        if mh not in METAHEURISTICS:
            raise ValueError(
                f"RoutingParams.metaheuristic {self.metaheuristic!r} is not valid; "
                f"choose one of {', '.join(METAHEURISTICS)}"
            )
        self.metaheuristic = mh
        eng = str(self.engine).lower()
        if eng not in ENGINES:
            raise ValueError(f"RoutingParams.engine {self.engine!r} is not valid; choose one of {', '.join(ENGINES)}")
        self.engine = eng
        if self.pyvrp_iterations is not None:
            if (
                isinstance(self.pyvrp_iterations, bool)
                or int(self.pyvrp_iterations) != self.pyvrp_iterations
                or int(self.pyvrp_iterations) < 1
            ):
                raise ValueError(
                    f"RoutingParams.pyvrp_iterations must be an integer >= 1 or None, got {self.pyvrp_iterations!r}"
                )
            self.pyvrp_iterations = int(self.pyvrp_iterations)

    @property
    def effective_pyvrp_iterations(self) -> int | None:
        """int or None: Deterministic PyVRP budget (``pyvrp_iterations``, else ``solution_limit``)."""
        if self.pyvrp_iterations is not None:
            return self.pyvrp_iterations
        return self.solution_limit

    @property
    def effective_failure_limit(self) -> int | None:
        """int or None: Failure budget actually applied (see ``failure_limit``)."""
        if self.failure_limit is not None:
            return self.failure_limit
        if self.solution_limit is not None:
            return 50 * self.solution_limit + 1000
        return None

    @property
    def deterministic(self) -> bool:
        """bool: ``True`` when only the solution budget limits the search."""
        return self.solution_limit is not None and self.time_limit_s is None


def search_parameters(params: RoutingParams):
    """OR-Tools search parameters for ``params``.

    Parameters
    ----------
    params : RoutingParams
        Validated parameters.

    Returns
    -------
    RoutingSearchParameters
        A fresh protobuf message (create it in the process that solves).
    """
    sp = pywrapcp.DefaultRoutingSearchParameters()
    fs = AUTO_FIRST_SOLUTION if params.first_solution == "auto" else params.first_solution
    sp.first_solution_strategy = _FSS.Value.Value(fs.upper())
    sp.local_search_metaheuristic = _LSM.Value.Value(params.metaheuristic.upper())
    if params.time_limit_s is not None:
        sp.time_limit.FromMilliseconds(max(1, int(round(params.time_limit_s * 1000))))
    if params.solution_limit is not None:
        sp.solution_limit = int(params.solution_limit)
    # Determinism: no wall-clock sub-limit, no CP-completion LNS operators.
    sp.lns_time_limit.FromSeconds(_LNS_TIME_LIMIT_S)
    ops = sp.local_search_operators
    ops.use_path_lns = pywrapcp.BOOL_FALSE
    ops.use_full_path_lns = pywrapcp.BOOL_FALSE
    ops.use_tsp_lns = pywrapcp.BOOL_FALSE
    ops.use_inactive_lns = pywrapcp.BOOL_FALSE
    sp.secondary_ls_time_limit_ratio = 0.0
    sp.log_search = bool(params.log_search)
    return sp


def _status_name(code: int) -> str:
    try:
        return routing_enums_pb2.RoutingSearchStatus.Value.Name(code)
    except ValueError:  # pragma: no cover - future status codes
        return str(code)


def _empty_solution(
    problem: RoutingProblem, status: str, t0: float, solver_status: str, solutions: int = 0
) -> RoutingSolution:
    n_veh = problem.n_vehicles
    return RoutingSolution(
        routes=[np.zeros(0, dtype=np.int64) for _ in range(n_veh)],
        arrival_s=[np.zeros(0, dtype=np.int64) for _ in range(n_veh)],
        dropped=np.arange(1, problem.n_nodes, dtype=np.int64),
        objective=-1,
        status=status,
        solutions_found=solutions,
        wall_s=time.perf_counter() - t0,
        end_s=np.full(n_veh, -1, dtype=np.int64),
        solver_status=solver_status,
    )


def _warm_start(p: RoutingProblem, built, sp):
    """Nearest-neighbour routes as the search's start assignment, or ``None``.

    ``None`` when the routes cannot be read into the model (e.g. a job the
    pre-filter dropped); the caller then lets OR-Tools build its own start.
    """
    from .baseline import nearest_neighbour

    node_of = {int(j): k for k, j in enumerate(built.order)}
    nn = nearest_neighbour(p)
    if any(int(j) not in node_of for r in nn.routes for j in r):
        return None
    routes = [[built.manager.NodeToIndex(node_of[int(j)]) for j in r] for r in nn.routes]
    built.routing.CloseModelWithParameters(sp)
    return built.routing.ReadAssignmentFromRoutes(routes, True)


# ------------------------------------------------------------ the pieces
@dataclass(frozen=True)
class EngineRun:
    """One engine search a problem needs: plain data, so it can be submitted anywhere.

    Attributes
    ----------
    engine : {"ortools", "pyvrp"}
        The engine.
    params : RoutingParams
        Budget and seed of this run; ``params.time_limit_s`` is this run's own wall
        budget (the problem's budget, or half of it when the runs go one after the other).
    """

    engine: str
    params: RoutingParams


@dataclass
class EngineOutcome:
    """Plain, picklable result of :func:`run_engine`.

    ``solution`` is OR-Tools' :class:`RoutingSolution` (``engine == "ortools"``);
    ``pyvrp`` the :class:`~solvers.routing.pyvrp_engine.PyvrpResult` of a PyVRP run;
    ``stopped``: the run's stop file appeared, so the search ended before its budget.
    """

    engine: str
    solution: RoutingSolution | None = None
    pyvrp: object | None = None
    wall_s: float = 0.0
    stopped: bool = False  # ``run.params.stop_file`` appeared: the search ended early (or never started)


@dataclass
class _Prepared:
    """What every piece derives from the problem alone (cheap, deterministic)."""

    compat: np.ndarray
    kept: np.ndarray
    pre_dropped: np.ndarray
    pre_penalty: int
    infeasible: bool


def _prepare(p: RoutingProblem) -> _Prepared:
    compat = compatible_vehicles(p, p.transit_time_s())
    jobs = np.arange(1, p.n_nodes, dtype=np.int64)
    servable = compat[:, 1:].any(axis=0)
    infeasible = bool(np.any(~servable & (p.penalty[1:] < 0)))
    pre_dropped = jobs[~servable]
    return _Prepared(compat, jobs[servable], pre_dropped, int(p.penalty[pre_dropped].astype(np.int64).sum()),
                     infeasible)


def _pyvrp_plan(p: RoutingProblem, params: RoutingParams) -> tuple[bool, bool, str]:
    """``(run OR-Tools, run PyVRP, why PyVRP is skipped or "")``."""
    ok_pv, why = (False, "engine='ortools'") if params.engine == "ortools" else _pyvrp_expressible(p)
    run_ortools = not (params.engine == "pyvrp" and ok_pv)
    run_pyvrp = ok_pv and params.engine in ("pyvrp", "auto")
    return run_ortools, run_pyvrp, ("" if ok_pv else why)


def engine_runs(problem: RoutingProblem, params: RoutingParams | None = None, *,
                sequential: bool = False) -> list[EngineRun]:
    """The engine searches ``problem`` needs under ``params`` (see ``RoutingParams.engine``).

    Parameters
    ----------
    problem : RoutingProblem
        The problem; validated here.
    params : RoutingParams, optional
        ``RoutingParams()`` when omitted.
    sequential : bool, default False
        The runs will go one after the other on one core: a wall budget is then halved
        between two runs. ``False``: every run gets the whole budget (they run at the
        same time). A deterministic budget is never split.

    Returns
    -------
    list of EngineRun
        OR-Tools first, then PyVRP; empty when there is nothing to search (a mandatory
        job no vehicle can serve, or no servable job): :func:`combine` then answers alone.
    """
    params = RoutingParams() if params is None else params
    problem.validate()
    prep = _prepare(problem)
    if prep.infeasible or prep.kept.size == 0:
        return []
    run_ortools, run_pyvrp, _ = _pyvrp_plan(problem, params)
    run_params = params
    if sequential and run_ortools and run_pyvrp and params.time_limit_s is not None:
        run_params = replace(params, time_limit_s=params.time_limit_s / 2.0)
    runs = []
    if run_ortools:
        runs.append(EngineRun("ortools", run_params))
    if run_pyvrp:
        runs.append(EngineRun("pyvrp", run_params))
    return runs


def run_engine(problem: RoutingProblem, run: EngineRun) -> EngineOutcome:
    """Run one engine search; a top-level function of picklable data (submit it anywhere).

    OR-Tools and PyVRP objects are created and dropped inside the call. When
    ``run.params.stop_file`` exists already, no search runs: OR-Tools answers with the
    nearest-neighbour plan, PyVRP with none.
    """
    t0 = time.perf_counter()
    if run.engine not in ("ortools", "pyvrp"):
        raise ValueError(f"run_engine: unknown engine {run.engine!r}")
    stop = StopCheck(run.params.stop_file, every_s=0.0)
    if stop():
        return _stopped_before_start(problem, run.engine, t0)
    stop.every_s = STOP_POLL_S
    prep = _prepare(problem)
    if run.engine == "ortools":
        sol = _solve_ortools(problem, run.params, prep.compat, prep.kept, prep.pre_penalty, t0, stop)
        return EngineOutcome("ortools", solution=sol, wall_s=time.perf_counter() - t0, stopped=stop.seen)
    res = _run_pyvrp(problem, prep.kept, run.params, run.params.time_limit_s, stop)
    return EngineOutcome("pyvrp", pyvrp=res, wall_s=time.perf_counter() - t0, stopped=stop.seen)


def _stopped_before_start(problem: RoutingProblem, engine: str, t0: float) -> EngineOutcome:
    """A run asked to stop before it began: the quick nearest-neighbour plan (OR-Tools), nothing (PyVRP)."""
    if engine == "pyvrp":
        from .pyvrp_engine import PyvrpResult

        res = PyvrpResult(None, -1, 0, 0.0, error="stopped before it started")
        return EngineOutcome("pyvrp", pyvrp=res, wall_s=time.perf_counter() - t0, stopped=True)
    from .baseline import nearest_neighbour

    sol = nearest_neighbour(problem)
    sol.solver_status = "STOPPED_BEFORE_START"
    return EngineOutcome("ortools", solution=sol, wall_s=time.perf_counter() - t0, stopped=True)


def combine(problem: RoutingProblem, params: RoutingParams | None, outcomes: list[EngineOutcome], *,
            parallel: bool = False) -> RoutingSolution:
    """Verify every engine's plan with :func:`check_routes` and keep the better one.

    Parameters
    ----------
    problem, params
        As given to :func:`engine_runs`.
    outcomes : list of EngineOutcome
        The results of :func:`run_engine` for every run :func:`engine_runs` listed (any
        order).
    parallel : bool, default False
        Recorded as ``stats["parallel"]`` (the engines ran at the same time).

    Returns
    -------
    RoutingSolution
        The better verified plan (ties go to OR-Tools), with ``stats`` as documented in
        :class:`RoutingSolution`; a plan failing the check is discarded and counted.
    """
    t0 = time.perf_counter()
    params = RoutingParams() if params is None else params
    p = problem
    n_veh = p.n_vehicles
    prep = _prepare(p)
    if prep.infeasible:
        return _empty_solution(p, "infeasible_input", t0, "NOT_RUN")
    if prep.kept.size == 0:
        return RoutingSolution(
            routes=[np.zeros(0, dtype=np.int64) for _ in range(n_veh)],
            arrival_s=[np.zeros(0, dtype=np.int64) for _ in range(n_veh)],
            dropped=prep.pre_dropped,
            objective=prep.pre_penalty,
            status="ok",
            solutions_found=0,
            wall_s=time.perf_counter() - t0,
            end_s=p.start_s.astype(np.int64).copy(),
            solver_status="NOT_RUN",
        )
    _, _, why = _pyvrp_plan(p, params)
    by_engine = {o.engine: o for o in outcomes}
    ort = by_engine.get("ortools")
    pvo = by_engine.get("pyvrp")
    ort_sol = ort.solution if ort is not None else None
    pv_result = pvo.pyvrp if pvo is not None else None
    stats: dict = {"engines_run": [], "discarded": 0, "violations": [],
                   "parallel": bool(parallel and ort is not None and pvo is not None)}
    if any(o.stopped for o in outcomes):
        stats["stopped"] = sorted(o.engine for o in outcomes if o.stopped)
    if why:
        stats["pyvrp_skipped"] = why
    if ort is not None:
        stats["engines_run"].append("ortools")
    if pvo is not None:
        stats["engines_run"].append("pyvrp")
        stats["pyvrp_iterations"] = pv_result.iterations
        stats["pyvrp_wall_s"] = round(pv_result.wall_s, 3)
        if pv_result.error:
            stats["pyvrp_error"] = pv_result.error

    best: RoutingSolution | None = None
    if ort_sol is not None:
        stats["ortools_objective"] = None
        if ort_sol.status == "ok":
            chk = check_routes(p, ort_sol.routes)
            if chk.ok:
                stats["ortools_objective"] = chk.objective
                if chk.objective != ort_sol.objective:
                    stats["ortools_reported_objective"] = ort_sol.objective
                    ort_sol.objective = chk.objective
                best = ort_sol
            else:
                stats["discarded"] += 1
                stats["violations"] += ["ortools: " + m for m in chk.violations[:5]]
    if pvo is not None:
        stats["pyvrp_objective"] = None
        if pv_result.routes is not None:
            chk = check_routes(p, pv_result.routes)
            if chk.ok:
                stats["pyvrp_objective"] = chk.objective
                if best is None or chk.objective < best.objective:
                    best = RoutingSolution(
                        routes=[np.asarray(r, dtype=np.int64) for r in pv_result.routes],
                        arrival_s=chk.arrival_s,
                        dropped=chk.dropped,
                        objective=chk.objective,
                        status="ok",
                        solutions_found=(ort_sol.solutions_found if ort_sol is not None
                                         else int(pv_result.iterations)),
                        wall_s=0.0,
                        end_s=chk.end_s,
                        solver_status="PYVRP_FEASIBLE",
                        engine="pyvrp",
                    )
            else:
                stats["discarded"] += 1
                stats["violations"] += ["pyvrp: " + m for m in chk.violations[:5]]
    if best is None:
        if ort_sol is not None and ort_sol.status != "ok":
            best = ort_sol
        else:
            best = _empty_solution(p, "no_solution", t0, ort_sol.solver_status if ort_sol is not None
                                   else "NOT_RUN", ort_sol.solutions_found if ort_sol is not None else 0)
    best.stats = stats
    walls = [o.wall_s for o in outcomes]
    best.wall_s = (max(walls) if parallel else sum(walls)) + (time.perf_counter() - t0) if walls else 0.0
    return best


def solve_routing(problem: RoutingProblem, params: RoutingParams | None = None,
                  submit: Callable[..., Any] | None = None) -> RoutingSolution:
    """Solve one single-depot routing problem: :func:`engine_runs`, :func:`run_engine`, :func:`combine`.

    Parameters
    ----------
    problem : RoutingProblem
        The problem; :meth:`RoutingProblem.validate` is called first.
    params : RoutingParams, optional
        Search budget and strategies; ``RoutingParams()`` when omitted.
    submit : callable, optional
        ``submit(fn, *args) -> future`` (e.g. ``fulfil.executor.Executor.submit``): the
        engine runs are submitted with it and may run at the same time, each with the
        whole budget. Without it they run one after the other in this process, a wall
        budget halved between them. This module never starts a process itself.

    Returns
    -------
    RoutingSolution
        Routes in original job numbering. Never raises for an infeasible
        problem: ``status`` is ``"no_solution"`` (search failed) or
        ``"infeasible_input"`` (a mandatory job has no compatible vehicle)
        and every job is reported as dropped.

    Raises
    ------
    ValueError
        If ``problem`` is malformed (see :meth:`RoutingProblem.validate`).

    Notes
    -----
    Before the search, each job's vehicle set is reduced to the vehicles
    that are allowed, large enough and able to serve it on a dedicated
    route in time (:func:`~solvers.routing.model.compatible_vehicles`).
    Optional jobs left without any vehicle are dropped up-front and their
    penalty is added to ``objective``, so ``objective`` always equals
    routing cost + fixed costs + span costs + penalties of every dropped
    job.
    """
    t0 = time.perf_counter()
    params = RoutingParams() if params is None else params
    runs = engine_runs(problem, params, sequential=submit is None)
    if submit is None:
        outcomes = [run_engine(problem, r) for r in runs]
    else:
        futures = [submit(run_engine, problem, r) for r in runs]
        outcomes = [f.result() for f in futures]
    best = combine(problem, params, outcomes, parallel=submit is not None)
    best.wall_s = time.perf_counter() - t0
    return best


# ---------------------------------------------------------------- engines
def _pyvrp_expressible(p: RoutingProblem) -> tuple[bool, str]:
    from .pyvrp_engine import expressible

    return expressible(p)


def _run_pyvrp(p: RoutingProblem, kept: np.ndarray, params: RoutingParams, wall_budget: float | None,
               stop: Callable[[], bool] | None = None):
    from .pyvrp_engine import solve_pyvrp

    deadline = None if wall_budget is None else time.time() + wall_budget
    return solve_pyvrp(p, kept, seed=params.seed, max_iterations=params.effective_pyvrp_iterations,
                       deadline=deadline, should_stop=stop)


def _solve_ortools(p: RoutingProblem, params: RoutingParams, compat: np.ndarray, kept: np.ndarray,
                   pre_penalty: int, t0: float, stop: Callable[[], bool] | None = None) -> RoutingSolution:
    """The OR-Tools search on the servable jobs ``kept``; ``stop()`` True at a solution ends it there."""
    n_veh = p.n_vehicles
    order = job_order(kept, params.seed)
    built = build_model(p, order, compat, p.transit_time_s())
    routing, manager, time_dim = built.routing, built.manager, built.time_dim

    failure_limit = params.effective_failure_limit
    if failure_limit is not None:
        guard = routing.solver().FailuresLimit(failure_limit)
        routing.AddSearchMonitor(guard)
    raised: list[BaseException] = []
    if stop is not None and params.stop_file is not None:
        # at a solution, not in a search limit: a limit is asked millions of times a search (17 % slower,
        # measured), a solution callback a few hundred; the search then returns this solution as its best
        def at_solution() -> None:
            try:
                if stop():
                    routing.CancelSearch()
            except BaseException as exc:  # noqa: BLE001 - OR-Tools would drop it (a Ctrl-C here): end, raise after
                raised.append(exc)
                routing.CancelSearch()

        routing.AddAtSolutionCallback(at_solution)
    sp = search_parameters(params)
    start = _warm_start(p, built, sp) if params.warm_start else None
    if start is not None:
        assignment = routing.SolveFromAssignmentWithParameters(start, sp)
    else:
        assignment = routing.SolveWithParameters(sp)
    if raised:
        raise raised[0]
    solver_status = _status_name(routing.status())
    n_solutions = int(routing.solver().Solutions())
    if assignment is None:
        return _empty_solution(p, "no_solution", t0, solver_status, n_solutions)

    routes: list[np.ndarray] = []
    arrivals: list[np.ndarray] = []
    end_s = np.zeros(n_veh, dtype=np.int64)
    for v in range(n_veh):
        route: list[int] = []
        arr: list[int] = []
        index = assignment.Value(routing.NextVar(routing.Start(v)))
        while not routing.IsEnd(index):
            route.append(int(order[manager.IndexToNode(index)]))
            arr.append(int(assignment.Min(time_dim.CumulVar(index))))
            index = assignment.Value(routing.NextVar(index))
        end_s[v] = assignment.Min(time_dim.CumulVar(routing.End(v)))
        routes.append(np.asarray(route, dtype=np.int64))
        arrivals.append(np.asarray(arr, dtype=np.int64))

    served = np.zeros(p.n_nodes, dtype=bool)
    for r in routes:
        served[r] = True
    dropped = np.flatnonzero(~served[1:]).astype(np.int64) + 1

    return RoutingSolution(
        routes=routes,
        arrival_s=arrivals,
        dropped=dropped,
        objective=int(assignment.ObjectiveValue()) + pre_penalty,
        status="ok",
        solutions_found=n_solutions,
        wall_s=time.perf_counter() - t0,
        end_s=end_s,
        solver_status=solver_status,
    )
