"""``fulfil bench`` on the project's own scenario files: plan KPIs, stage times, peak memory, peers.

::

    fulfil bench SCENARIOS --time-limit S --out DIR [--instances A,B,...] [--seed N] [--workers N]
                 [--vs pyvrp,vroom,ortools-plain]

``SCENARIOS`` is one scenario file (``.toml``, ``.yaml``, ``.yml``, ``.json``) or a
folder of them (top level only: subfolders and files that parse but are not
scenarios, such as a rollout region, are skipped with a note). Every selected
scenario is validated first (as ``fulfil validate`` does); a bad one stops the
command before anything is written (exit 2, the file named).

Per scenario, a fresh child process (a one-worker :class:`fulfil.executor.ProcessPoolBackend`) loads the file, runs
:func:`fulfil.pipeline.plan_night` with ``--time-limit`` / ``--seed`` /
``--workers``, checks the plan with :func:`fulfil.checker.check_plan` and writes it
to ``DIR/ours/<scenario>/plan.json``; its row in ``DIR/results.csv`` has the plan
KPIs, the wall seconds of every stage (the plan's own ``stats`` plus loading,
checking and writing, measured in the child) and the child's peak resident memory
(``getrusage``: the child itself, and separately the largest of its own children,
e.g. routing workers). Scenarios run one after the other, so they neither share
memory nor compete for cores.

With ``--vs``, the child also rebuilds each forward warehouse's last-mile
subproblem exactly as ``plan_night`` builds it (same helpers, same allocation)
and hands the :class:`~solvers.routing.RoutingProblem` arrays back. Each one is
then solved, one solve at a time, by ours (:func:`solvers.routing.solve_routing`
with the plan's routing parameters, on the full problem; its OR-Tools and PyVRP
runs are two tasks of a two-process :class:`~fulfil.executor.Executor`, each with
the whole budget, so ours has two cores) and by every peer (one core) on a
*flattened* form it can express (:func:`flatten`): capacities per zone as load
dimensions, windows, the 2-hour promise and the cold limits folded into each
job's window close (the tightest over the vehicles that may carry the job), zone
compatibility, fixed and per-metre / per-second costs. Every solver gets the
same wall budget per subproblem: the share ``plan_night`` gave that subproblem
(``0.85 × time limit`` split in proportion to the number of jobs, times the
number of parallel workers). Every route set, ours included, is re-checked
against the **full** problem with :func:`solvers.routing.check.check_routes`
(vehicle-dependent deadlines, capacities, windows, shifts, compatibility) and
costed by the same function (fixed + distance + time costs, spoilage per second
when the scenario puts it in the objective, penalties of dropped jobs). A route
set that breaks a constraint is reported infeasible with its first violations
and never enters a cost sum. ``DIR/subproblems.csv`` has one row per
(scenario, warehouse, solver); the summary sums the costs over the subproblems
where both ours and the peer are feasible and gives the ratio ours / peer, and
``DIR/gaps.png`` shows each solver's cost above the cheapest one, per subproblem.

This module imports only the standard library at import time.
"""

from __future__ import annotations

import csv
import io
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fulfil.errors import FulfilError, UsageError

if TYPE_CHECKING:
    import numpy as np

    from solvers.routing import RoutingProblem

log = logging.getLogger("fulfil")

__all__ = [
    "PEER_NOTES", "RESULT_COLUMNS", "SCENARIO_SUFFIXES", "SUBPROBLEM_COLUMNS", "Flat", "ScenarioTask",
    "SubproblemCase", "cmd_bench_scenarios", "find_scenarios", "flatten", "is_scenario_path", "last_mile_subproblems",
    "recheck", "run_scenario", "solve_case", "subproblem_gaps", "summarize_subproblems",
]

#: Suffixes :func:`fulfil.scenario.load_scenario` reads.
SCENARIO_SUFFIXES = (".toml", ".yaml", ".yml", ".json")
#: Top-level keys of which a scenario document has at least one (a rollout region has none).
_SCENARIO_KEYS = ("vehicle_types", "pickup_points", "pickup_points_csv", "forward_warehouses")

STAGES = ["load_s", "compile_s", "allocation_s", "build_s", "last_mile_s", "cold_chain_s", "trunk_s", "routing_s",
          "assembly_s", "check_s", "write_s", "plan_total_s", "wall_s"]

RESULT_COLUMNS = [
    "scenario", "solver", "feasible", "violations", "first_violation", "status", "vehicles", "trunk_vehicles",
    "last_mile_vehicles", "trips", "trunk_trips", "last_mile_trips", "stops", "km", "duration_h", "cost",
    "cost_per_order", "orders_total", "orders_served", "orders_complete", "orders_unserved", "units_total",
    "units_served", "units_unserved", "fill_rate", "two_hour_compliance", "cold_chain_compliance", "in_spec_share",
    "expected_spoilage_cost", *STAGES, "peak_rss_mb", "peak_rss_children_mb", "time_limit_s", "seed", "workers",
    "forward_warehouses", "pickup_points", "plan",
]

SUBPROBLEM_COLUMNS = [
    "scenario", "warehouse", "solver", "jobs", "modelled_jobs", "vehicles", "vehicles_used", "served", "dropped",
    "feasible", "cost", "route_cost", "penalty", "violations", "seconds", "budget_s", "status", "notes",
]

#: What each solver is given, said once in the summary.
PEER_NOTES = {
    "ours": "solve_routing on the full problem (OR-Tools, plus PyVRP when it can express the full problem, each "
            "on its own worker process with the whole budget, at the same time: two cores; the better verified "
            "plan is kept)",
    "pyvrp": "PyVRP on the flattened problem: one vehicle type per (capacities, shift, costs, allowed set), one load "
             "dimension per used capacity dimension (allowed-vehicle sets as extra 0/1 dimensions), window close = "
             "folded deadline, site-merged hand-over time in the duration matrix, fixed departure when time is "
             "priced, optional clients with prize = penalty; MaxRuntime(budget), one core",
    "ortools-plain": "textbook OR-Tools model of the flattened problem: arc cost per vehicle, fixed costs, one "
                     "capacity dimension per used dimension, time dimension with windows and span cost, allowed "
                     "vehicles, disjunctions with the penalty; PATH_CHEAPEST_ARC + GUIDED_LOCAL_SEARCH, one core",
    "vroom": "pyvroom on the flattened problem: multi-dimensional amounts, skills for zone compatibility, one "
             "profile per cost rate with cost matrix = distance cost + travel-time cost (VROOM cannot price waiting "
             "or service time, nor penalties: it serves as many jobs as it can, then minimises cost), hand-over "
             "time as setup (charged once per consecutive visit of a site); exploration level 5, one thread, "
             "timeout = budget (checked between VROOM's phases: it may stop earlier or run over; seconds are "
             "measured)",
}


# ------------------------------------------------------------------ finding scenarios
def is_scenario_path(path: Path) -> bool:
    """A scenario file (by suffix), or a folder with a scenario-suffixed file at its top level."""
    if path.is_file():
        return path.suffix.lower() in SCENARIO_SUFFIXES
    if path.is_dir():
        return any(f.is_file() and f.suffix.lower() in SCENARIO_SUFFIXES for f in path.iterdir())
    return False


def _kind(path: Path) -> tuple[str, str]:
    """``("scenario", "")``, ``("other", why)`` for a document that is not a scenario, ``("bad", message)``."""
    from fulfil.errors import ScenarioError
    from fulfil.scenario.load import read_document

    try:
        doc = read_document(path)
    except ScenarioError as exc:
        return "bad", str(exc)
    if any(k in doc for k in _SCENARIO_KEYS):
        return "scenario", ""
    return "other", f"no {', '.join(_SCENARIO_KEYS[:2])} section: not a scenario"


def find_scenarios(path: Path, names: str | None) -> tuple[dict[str, Path], list[str]]:
    """The scenario files to bench, ``{name: path}`` in name order, and notes on what was skipped.

    Parameters
    ----------
    path : Path
        A scenario file or a folder of them.
    names : str or None
        ``--instances``: comma-separated names (file stems, case-insensitive); ``None`` = all.

    Raises
    ------
    UsageError
        A selected file does not parse or is not a scenario, an unknown name, or nothing to bench.
    """
    notes: list[str] = []
    if path.is_file():
        files = [path]
    else:
        files = sorted(f for f in path.iterdir() if f.is_file() and f.suffix.lower() in SCENARIO_SUFFIXES)
        subdirs = sorted(d.name for d in path.iterdir() if d.is_dir() and not d.name.startswith("."))
        if subdirs:
            notes.append(f"subfolder(s) not searched: {', '.join(subdirs)}")
    stems = [f.stem for f in files]
    by_name = {(f.stem if stems.count(f.stem) == 1 else f.name): f for f in files}
    if names:
        lower = {k.lower(): k for k in by_name}
        chosen, unknown = [], []
        for n in (s.strip() for s in names.split(",")):
            if not n:
                continue
            key = lower.get(n.lower()) or lower.get(Path(n).stem.lower()) or lower.get(Path(n).name.lower())
            if key is None:
                unknown.append(n)
            elif key not in chosen:
                chosen.append(key)
        if unknown:
            raise UsageError(f"--instances: unknown scenario(s) {', '.join(unknown)} in {path} "
                             f"(it has: {', '.join(sorted(by_name)) or 'none'})")
        if not chosen:
            raise UsageError("--instances: no scenario named")
        by_name = {k: by_name[k] for k in chosen}
    out: dict[str, Path] = {}
    for name, f in sorted(by_name.items()):
        kind, why = _kind(f)
        if kind == "bad":
            raise UsageError(why if f.name in why else f"{f}: {why}")
        if kind == "other":
            if names or path.is_file():
                raise UsageError(f"{f}: {why}")
            notes.append(f"{f.name} skipped ({why})")
            continue
        out[name] = f
    if not out:
        raise UsageError(f"{path}: no scenario file found (.toml, .yaml, .yml or .json with a vehicle_types or "
                         f"pickup_points section)")
    return out, notes


def validate_scenario(path: Path) -> tuple[int, int]:
    """Load, compile and pre-check ``path`` as ``fulfil validate`` does; returns (forward warehouses, pickups).

    Raises
    ------
    UsageError
        Naming the file, when the scenario is malformed or fails the feasibility pre-check.
    """
    from fulfil.feasibility import precheck
    from fulfil.night import compile_night
    from fulfil.scenario import load_scenario

    try:
        s = load_scenario(path)
        precheck(compile_night(s), path.name)
    except FulfilError as exc:
        msg = str(exc)
        raise UsageError(msg if path.name in msg else f"{path}: {msg}") from None
    return len(s.forward_warehouses), len(s.pickup_points)


# --------------------------------------------------------------------- one scenario
@dataclass(frozen=True)
class ScenarioTask:
    """One scenario run; plain data, so it can go to a child process."""

    name: str
    path: str
    time_limit_s: float | None
    seed: int
    workers: int
    out_dir: str
    subproblems: bool = False


@dataclass
class SubproblemCase:
    """One forward warehouse's last-mile routing problem, as ``plan_night`` built it."""

    warehouse: str
    problem: RoutingProblem
    budget_s: float | None


def _peak_mb() -> tuple[float, float]:
    """Peak resident memory (MB) of this process and of the largest of its finished children."""
    import resource
    import sys

    div = 1024.0 * 1024.0 if sys.platform == "darwin" else 1024.0  # bytes on macOS, KB on Linux
    return (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / div,
            resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / div)


def run_scenario(task: ScenarioTask) -> dict:
    """Plan, check and write one scenario; meant to run in a fresh child process.

    Returns
    -------
    dict
        ``{"row": results row, "cases": [SubproblemCase, ...] or None}``. Peak memory is
        measured right after the plan is written, before the subproblems are rebuilt.
    """
    from fulfil.checker import check_plan
    from fulfil.plan_model import CheckResult
    from fulfil.output import write_json_atomic
    from fulfil.pipeline import PlanParams, plan_night
    from fulfil.report.tables import plan_doc
    from fulfil.scenario import load_scenario

    t0 = time.perf_counter()
    path = Path(task.path)
    s = load_scenario(path)
    load_s = time.perf_counter() - t0
    params = PlanParams(time_limit_s=task.time_limit_s, seed=task.seed, workers=task.workers)
    plan = plan_night(s, params, source=path.name)
    t1 = time.perf_counter()
    violations = check_plan(s, plan)
    check_s = time.perf_counter() - t1
    plan = plan_doc(plan)  # the plan's JSON dict (plan_night gives a Plan model, format version 2)
    plan["check"] = CheckResult.of([v.cause for v in violations]).model_dump()
    t2 = time.perf_counter()
    plan_path = Path(task.out_dir) / "ours" / task.name / "plan.json"
    write_json_atomic(plan_path, plan)
    write_s = time.perf_counter() - t2
    wall_s = time.perf_counter() - t0
    peak, peak_children = _peak_mb()

    k, st = plan.get("kpis", {}), plan.get("stats", {})
    row: dict[str, Any] = {
        "scenario": task.name, "solver": "ours", "feasible": not violations and plan.get("code", 0) == 0,
        "violations": len(violations), "first_violation": (f"{violations[0].cause}: {violations[0].message}"
                                                            if violations else ""),
        "status": "ok" if plan.get("code", 0) == 0 else f"code {plan.get('code')}: {plan.get('error', '')}",
        "km": k.get("distance_km"),
        **{key: k.get(key) for key in ("vehicles", "trunk_vehicles", "last_mile_vehicles", "trips", "trunk_trips",
                                       "last_mile_trips", "stops", "duration_h", "cost", "cost_per_order",
                                       "orders_total", "orders_served", "orders_complete", "orders_unserved",
                                       "units_total", "units_served", "units_unserved", "fill_rate",
                                       "two_hour_compliance", "cold_chain_compliance", "in_spec_share",
                                       "expected_spoilage_cost")},
        **{key: st.get(key) for key in STAGES if key in st},
        "load_s": load_s, "check_s": check_s, "write_s": write_s, "plan_total_s": st.get("total_s"), "wall_s": wall_s,
        "peak_rss_mb": peak, "peak_rss_children_mb": peak_children, "time_limit_s": task.time_limit_s,
        "seed": task.seed, "workers": params.n_workers, "forward_warehouses": len(s.forward_warehouses),
        "pickup_points": len(s.pickup_points), "plan": str(plan_path),
    }
    cases = last_mile_subproblems(s, params) if task.subproblems else None
    return {"row": row, "cases": cases}


def last_mile_subproblems(scenario: Any, params: Any) -> list[SubproblemCase]:
    """Each forward warehouse's last-mile problem, built as :func:`fulfil.pipeline.plan_night` builds it.

    Same stages (compile, allocation, jobs, fleet, departure times, thermal proxy limits) and the
    same per-subproblem wall budget the plan gave it. Subproblems re-solved by the plan's
    cold-chain repair (tighter limits) are given in their first form.
    """
    from fulfil.night import compile_night
    from fulfil.stages.allocate import allocate
    from fulfil.stages.jobs import last_mile_jobs
    from fulfil.stages.last_mile import stage_run_budgets
    from fulfil.stages.subproblems import last_mile_subproblems as build

    night = compile_night(scenario)
    alloc = allocate(night)
    jobs_by_fw, _ = last_mile_jobs(night, alloc.assign, alloc.units)
    subs = build(night, jobs_by_fw)
    total, _ = params.budgets()
    budgets = stage_run_budgets([sp.problem for sp in subs], params, total, params.n_workers)
    return [SubproblemCase(str(night.net.forward_ids[sp.owner]), sp.problem, b)
            for sp, b in zip(subs, budgets, strict=True)]


# ------------------------------------------------------------------ flattening
@dataclass
class Flat:
    """The flattened form of a last-mile problem that the peers are given.

    ``problem`` has no vehicle-dependent deadlines (each job's window closes at the
    tightest deadline among the vehicles that may carry it) and no arrival cost;
    ``jobs`` are the jobs some vehicle can serve in it (the peers model only these);
    ``notes`` say what was lost.
    """

    problem: RoutingProblem
    jobs: np.ndarray
    notes: list[str] = field(default_factory=list)


def flatten(problem: RoutingProblem) -> Flat:
    """Fold what the peers cannot express into what they can.

    * deadlines (2-hour promise, insulated-box and thermal limits, per vehicle) → the job's
      window close: ``min(tw_close, deadline[v])`` over the vehicles allowed to and large enough
      to carry the job (conservative: a route set feasible here meets every vehicle's deadline);
    * cost per second of arrival (spoilage in the objective) → dropped from the peers'
      objective (still in the re-costing);
    * everything else is kept as is (the travel times are already the static, conservative
      matrix ``plan_night`` routes on).
    """
    import dataclasses

    import numpy as np

    from solvers.routing.model import compatible_vehicles
    from solvers.routing.problem import NO_DEADLINE_S

    p = problem
    n1 = p.n_nodes
    notes: list[str] = []
    fits = (np.all(p.demand[None, :, :] <= p.capacity[:, None, :], axis=2) if p.n_dims
            else np.ones((p.n_vehicles, n1), dtype=bool))
    can = p.allowed.astype(bool) & fits
    latest = np.minimum(p.deadline_s.astype(np.int64), p.tw_close_s.astype(np.int64)[None, :])
    close = p.tw_close_s.astype(np.int64).copy()
    folded = differ = 0
    for j in range(1, n1):
        lim = latest[can[:, j], j]
        if lim.size == 0:
            continue
        if lim.min() < close[j]:
            folded += 1
        if lim.min() != lim.max():
            differ += 1
        close[j] = int(lim.min())
    close = np.maximum(close, p.tw_open_s.astype(np.int64))  # an impossible job stays valid (and unservable)
    flat = dataclasses.replace(p, tw_close_s=close, deadline_s=np.full_like(p.deadline_s, NO_DEADLINE_S),
                               arrival_cost_per_s=np.zeros(0))
    compat = compatible_vehicles(flat, flat.transit_time_s())
    lim_ok = np.ones(n1, dtype=bool)
    for j in range(1, n1):
        lim = latest[can[:, j], j]
        lim_ok[j] = lim.size > 0 and lim.min() >= p.tw_open_s[j]
    servable = compat.any(axis=0) & lim_ok
    jobs = np.flatnonzero(servable[1:]).astype(np.int64) + 1
    if folded:
        notes.append("the 2-hour promise / cold limits folded into the jobs' window close")
    if differ:
        notes.append(f"{differ} job(s) with vehicle-dependent deadlines: the peer gets the tightest one")
    if p.arrival_cost_per_s.size and np.any(p.arrival_cost_per_s > 0):
        notes.append("spoilage cost per second of arrival not in the peer's objective (it is in the re-costing)")
    if jobs.size < n1 - 1:
        notes.append(f"{n1 - 1 - jobs.size} job(s) no vehicle can serve in time: not modelled (dropped, penalty "
                     f"counted)")
    return Flat(problem=flat, jobs=jobs, notes=notes)


# ------------------------------------------------------------------ re-check
def recheck(problem: RoutingProblem, routes: list | None, status: str = "") -> dict:
    """Re-check ``routes`` against the full ``problem`` and cost them (cost units → RMB).

    Returns
    -------
    dict
        ``feasible``, ``violations`` (messages), ``cost`` (the problem's objective: fixed +
        distance + time costs, arrival costs, penalties of dropped jobs; RMB), ``penalty``,
        ``route_cost`` (cost without the penalties), ``served``, ``dropped``, ``vehicles_used``.
        ``routes`` ``None`` (no solution) is infeasible.
    """
    import numpy as np

    from fulfil.units import COST_SCALE
    from solvers.routing.check import check_routes

    if routes is None:
        return {"feasible": False, "violations": [f"no solution ({status or 'none returned'})"], "cost": None,
                "penalty": None, "route_cost": None, "served": 0, "dropped": problem.n_jobs, "vehicles_used": 0}
    chk = check_routes(problem, routes)
    pen = int(problem.penalty[chk.dropped].astype(np.int64).clip(min=0).sum()) if chk.dropped.size else 0
    return {
        "feasible": bool(chk.ok), "violations": list(chk.violations), "cost": chk.objective / COST_SCALE,
        "penalty": pen / COST_SCALE, "route_cost": (chk.objective - pen) / COST_SCALE,
        "served": int(problem.n_jobs - chk.dropped.size), "dropped": int(chk.dropped.size),
        "vehicles_used": sum(1 for r in routes if len(r)),
    }


# -------------------------------------------------------------------- solvers
def _ours(case: SubproblemCase, flat: Flat, seed: int, submit: Any = None) -> tuple[list | None, str]:
    """``solve_routing`` on the full problem; with ``submit`` its engine runs are tasks, each with the budget."""
    from solvers.routing import RoutingParams, solve_routing

    sol = solve_routing(case.problem, RoutingParams(time_limit_s=case.budget_s, seed=seed), submit=submit)
    st = f"{sol.status}, {sol.engine}"
    runs = (sol.stats or {}).get("engines_run") or []
    if runs:
        st += f"; {'+'.join(runs)}" + (" in parallel" if (sol.stats or {}).get("parallel") else " in turn")
    return ([list(map(int, r)) for r in sol.routes] if sol.status == "ok" else None), st


def _budget(case: SubproblemCase) -> float:
    return 5.0 if case.budget_s is None else float(case.budget_s)


def _peer(name: str):
    """The peer ``name`` of :mod:`fulfil.bench.engines` on the flattened problem, its servable jobs only."""

    def solve(case: SubproblemCase, flat: Flat, seed: int) -> tuple[list | None, str]:
        from fulfil.bench.engines import ENGINES

        sol = ENGINES[name](flat.problem, _budget(case), seed, jobs=flat.jobs)
        status = sol.solver_status or sol.status
        if name == "pyvrp" and sol.solutions_found:
            status += f", {sol.solutions_found} iterations"
        return ([list(map(int, r)) for r in sol.routes] if sol.status == "ok" else None), status

    solve.__name__ = f"peer_{name.replace('-', '_')}"
    return solve


SOLVERS = {"ours": _ours, "pyvrp": _peer("pyvrp"), "ortools-plain": _peer("ortools-plain"),
           "vroom": _peer("vroom")}


def solve_case(case: SubproblemCase, solver: str, seed: int, flat: Flat | None = None, submit: Any = None) -> dict:
    """Solve one subproblem with ``solver``, re-check and cost the routes; returns its subproblems row.

    ``submit`` (an executor's) is given to ours only: its two engine runs then go to two worker
    processes at the same time, each with the subproblem's budget; a peer runs here, on one core.
    """
    flat = flat if flat is not None else flatten(case.problem)
    t0 = time.perf_counter()
    try:
        if solver == "ours":
            routes, status = SOLVERS[solver](case, flat, seed, submit=submit)
        else:
            routes, status = SOLVERS[solver](case, flat, seed)
    except Exception as exc:  # noqa: BLE001 - a peer's failure must not stop the benchmark
        routes, status = None, f"error: {type(exc).__name__}: {exc}"[:300]
    seconds = time.perf_counter() - t0
    verdict = recheck(case.problem, routes, status)
    v = verdict.pop("violations")
    return {
        "warehouse": case.warehouse, "solver": solver, "jobs": case.problem.n_jobs,
        "modelled_jobs": case.problem.n_jobs if solver == "ours" else int(flat.jobs.size),
        "vehicles": case.problem.n_vehicles, **verdict,
        "violations": "; ".join(v[:3]) + (f"; ... {len(v) - 3} more" if len(v) > 3 else ""),
        "seconds": seconds, "budget_s": case.budget_s, "status": status,
        "notes": "" if solver == "ours" else "; ".join(flat.notes),
    }


# -------------------------------------------------------------------- summaries
def summarize_subproblems(rows: list[dict], peers: list[str]) -> list[dict]:
    """Per (scenario, peer): subproblems, feasible / infeasible counts, cost sums where both are feasible, ratio.

    ``ratio`` is ``Σ cost(ours) / Σ cost(peer)`` over the subproblems where both route sets passed
    the re-check (below 1: ours is cheaper); ``None`` when there is no such subproblem.
    """
    out = []
    for scen in dict.fromkeys(r["scenario"] for r in rows):
        mine = [r for r in rows if r["scenario"] == scen]
        ours = {r["warehouse"]: r for r in mine if r["solver"] == "ours"}
        for peer in peers:
            theirs = {r["warehouse"]: r for r in mine if r["solver"] == peer}
            both = [w for w in theirs if w in ours and ours[w]["feasible"] and theirs[w]["feasible"]]
            c_ours = sum(ours[w]["cost"] for w in both)
            c_peer = sum(theirs[w]["cost"] for w in both)
            out.append({
                "scenario": scen, "peer": peer, "subproblems": len(theirs),
                "ours_feasible": sum(1 for w in theirs if w in ours and ours[w]["feasible"]),
                "peer_feasible": sum(1 for r in theirs.values() if r["feasible"]),
                "ours_infeasible": sum(1 for w in theirs if w in ours and not ours[w]["feasible"]),
                "peer_infeasible": sum(1 for r in theirs.values() if not r["feasible"]),
                "both_feasible": len(both), "ours_cost": c_ours if both else None,
                "peer_cost": c_peer if both else None,
                "ratio": (c_ours / c_peer) if both and c_peer > 0 else None,
                "ours_dropped": sum(ours[w]["dropped"] for w in both),
                "peer_dropped": sum(theirs[w]["dropped"] for w in both),
            })
    return out


def subproblem_gaps(rows: list[dict]) -> list[dict]:
    """Per subproblem row: ``subproblem`` (``scenario/warehouse``), ``solver`` and ``gap_pct``.

    The gap is the cost above the cheapest feasible solver of the same subproblem, in percent
    (``None`` for an infeasible route set), so that ``gaps.png`` shows ours against each peer.
    """
    best: dict[tuple, float] = {}
    for r in rows:
        if r["feasible"] and r.get("cost") is not None:
            k = (r["scenario"], r["warehouse"])
            best[k] = min(best.get(k, float(r["cost"])), float(r["cost"]))
    out = []
    for r in rows:
        b = best.get((r["scenario"], r["warehouse"]))
        gap = (100.0 * (float(r["cost"]) - b) / b if r["feasible"] and r.get("cost") is not None and b else None)
        out.append({"subproblem": f"{r['scenario']}/{r['warehouse']}", "solver": r["solver"], "gap_pct": gap})
    return out


def _fmt_csv(v: Any, key: str) -> str:
    if v is None:
        return ""
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, float):
        if key.endswith("_s") or key == "seconds":
            return f"{v:.3f}"
        if key.endswith("_mb"):
            return f"{v:.1f}"
        return f"{v:.4f}".rstrip("0").rstrip(".")
    return str(v)


def _csv_text(columns: list[str], rows: list[dict]) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(columns)
    for r in rows:
        w.writerow([_fmt_csv(r.get(k), k) for k in columns])
    return buf.getvalue()


def _pct(x: Any) -> str | None:
    return None if x is None else f"{100.0 * float(x):.1f}%"


def _num(x: Any, nd: int = 2) -> float | None:
    return None if x is None else round(float(x), nd)


def _mb(x: Any) -> int | None:
    return None if x is None else round(float(x))


def scenario_tables(rows: list[dict]) -> str:
    """The plan KPIs and the stage times / memory of every scenario, as text tables."""
    from fulfil.report.tables import table

    kp = []
    for r in rows:
        served = (f"{float(r['orders_served']):,.1f}/{r['orders_total']}"
                  if r.get("orders_total") is not None and r.get("orders_served") is not None else None)
        kp.append([r["scenario"], bool(r["feasible"]), r.get("vehicles"), r.get("trips"), _num(r.get("km"), 1),
                   _num(r.get("cost")), _num(r.get("cost_per_order"), 3), served, _pct(r.get("fill_rate")),
                   _pct(r.get("two_hour_compliance")), _pct(r.get("cold_chain_compliance")),
                   _pct(r.get("in_spec_share")), r.get("violations")])
    t1 = table(["scenario", "feasible", "vehicles", "trips", "km", "cost RMB", "RMB/order", "orders served",
                "fill rate", "2-hour", "cold chain", "in spec", "violations"], kp, align="llrrrrrrrrrrr")
    st = []
    for r in rows:
        st.append([r["scenario"]] + [_num(r.get(k), 2) for k in
                                     ("load_s", "compile_s", "allocation_s", "build_s", "last_mile_s", "cold_chain_s",
                                      "trunk_s", "assembly_s", "check_s", "plan_total_s", "wall_s")]
                  + [_mb(r.get("peak_rss_mb")), _mb(r.get("peak_rss_children_mb"))])
    t2 = table(["scenario", "load", "compile", "allocation", "build", "last mile", "cold chain", "trunk", "assembly",
                "check", "plan total", "wall", "peak MB", "children MB"], st, align="l" + "r" * 13)
    return ("Plans (ours; feasible = the independent checker found no violation):\n" + t1
            + "\n\nWall seconds per stage (plan total = plan_night; wall = load + plan + check + write) "
              "and peak resident memory:\n" + t2)


def subproblem_tables(rows: list[dict], solvers: list[str], summary: list[dict]) -> str:
    """Per-subproblem costs side by side, the per-scenario sums and ratios, and the notes."""
    from fulfil.report.tables import table

    keys = list(dict.fromkeys((r["scenario"], r["warehouse"]) for r in rows))
    body = []
    for scen, wh in keys:
        mine = {r["solver"]: r for r in rows if r["scenario"] == scen and r["warehouse"] == wh}
        first = next(iter(mine.values()))
        line: list[Any] = [scen, wh, first["jobs"], _num(first["budget_s"], 2)]
        for s in solvers:
            r = mine.get(s)
            if r is None:
                line.append(None)
            elif r["feasible"]:
                line.append(f"{r['cost']:,.2f} ({r['vehicles_used']}v" + (f", {r['dropped']} dropped)"
                                                                           if r["dropped"] else ")"))
            else:
                line.append("INFEASIBLE" if r["cost"] is not None else "no solution")
        body.append(line)
    t1 = table(["scenario", "warehouse", "jobs", "budget s", *solvers], body, align="llrr" + "r" * len(solvers))
    sb = [[s["scenario"], s["peer"], s["subproblems"], f"{s['ours_feasible']}/{s['peer_feasible']}",
           f"{s['ours_infeasible']}/{s['peer_infeasible']}", s["both_feasible"], _num(s["ours_cost"]),
           _num(s["peer_cost"]), None if s["ratio"] is None else f"{s['ratio']:.4f}",
           f"{s['ours_dropped']}/{s['peer_dropped']}"] for s in summary]
    t2 = table(["scenario", "peer", "subproblems", "feasible ours/peer", "infeasible ours/peer", "both feasible",
                "ours cost", "peer cost", "ours/peer", "dropped ours/peer"], sb, align="llrrrrrrrr")
    where: dict[str, list[str]] = {}
    for r in rows:
        for n in (r.get("notes") or "").split("; "):
            label = f"{r['scenario']} {r['warehouse']}"
            if n and label not in where.setdefault(n, []):
                where[n].append(label)
    head1 = ("Last-mile subproblems: cost in RMB = the RoutingProblem objective recomputed by "
             "solvers.routing.check from the routes (fixed + distance + time costs + penalties of dropped jobs), "
             "every route set re-checked against the full constraints; (Nv) = vehicles used:")
    head2 = ("Per scenario: cost sums over the subproblems where both ours and the peer are feasible "
             "(below 1 = ours cheaper):")
    parts = [head1, t1, "", head2, t2, "", "What each solver is given:"]
    parts += [f"  {s}: {PEER_NOTES[s]}" for s in solvers]
    from fulfil.pipeline import LAST_MILE_SHARE

    parts.append("  budget: every solver gets, per subproblem, the wall seconds plan_night gave it "
                 f"({LAST_MILE_SHARE:g} x time limit shared in proportion to jobs, x parallel workers)")
    parts.append("  travel times: the static, conservative matrix plan_night routes on, the same for every "
                 "solver; the plan's cold-chain re-solve rounds are not part of the comparison")
    if where:
        parts += ["Flattening (what the peers' form loses; the re-check still applies the full constraints):"]
        for n, labels in where.items():
            more = f" and {len(labels) - 6} more" if len(labels) > 6 else ""
            parts.append(f"  {n}: {', '.join(labels[:6])}{more}")
    bad = [r for r in rows if not r["feasible"] and r.get("violations")]
    if bad:
        parts += ["Infeasible route sets (first violations):"]
        parts += [f"  {r['scenario']} {r['warehouse']} {r['solver']}: {r['violations'][:200]}" for r in bad]
    return "\n".join(parts)


# ------------------------------------------------------------------------ command
def _progress(row: dict, k: int, total: int) -> None:
    if row["feasible"]:
        what = (f"feasible  {row.get('vehicles') or 0:3d} vehicles  {float(row.get('km') or 0):8.1f} km  "
                f"cost {float(row.get('cost') or 0):10.2f}  {float(row.get('cost_per_order') or 0):.3f}/order  "
                f"2-hour {_pct(row.get('two_hour_compliance'))}  peak {float(row.get('peak_rss_mb') or 0):.0f} MB")
    else:
        what = f"INFEASIBLE: {row.get('first_violation') or row.get('status')}"[:140]
    log.info("[%d/%d] %-16s ours  %s  %.1fs", k, total, row["scenario"], what, float(row.get("wall_s") or 0.0))


def _sub_progress(scen: str, row: dict, k: int, total: int) -> None:
    if row["feasible"]:
        what = f"feasible  {row['vehicles_used']:3d} vehicles  cost {row['cost']:10.2f}"
        if row["dropped"]:
            what += f"  {row['dropped']} dropped"
    else:
        what = f"INFEASIBLE: {row['violations'] or row['status']}"[:140]
    log.info("  [%d/%d] %s %-8s %-13s %s  %.1fs (budget %.1fs)", k, total, scen, row["warehouse"], row["solver"], what,
             row["seconds"], row["budget_s"] or 0.0)


def _run_child(task: ScenarioTask) -> dict:
    """``run_scenario`` in a fresh worker process (its own peak memory, nothing shared)."""
    from fulfil.executor import ProcessPoolBackend

    with ProcessPoolBackend(1) as ex:
        return ex.submit(run_scenario, task).result()


def _bench_scenarios(args: Any, files: dict[str, Path], sizes: dict, names: list[str], solvers: list[str], out: Path,
                     rows: list[dict], sub_rows: list[dict], sub_ex: Any) -> None:
    """Plan every scenario in a fresh process, then solve its subproblems (ours on ``sub_ex``); fills the rows."""
    from fulfil.output import write_text_atomic

    for k, name in enumerate(names, 1):
        task = ScenarioTask(name, str(files[name]), float(args.time_limit), int(args.seed), int(args.workers),
                            str(out), subproblems=len(solvers) > 1)
        t0 = time.perf_counter()
        try:
            res = _run_child(task)
        except Exception as exc:  # noqa: BLE001 - no plan (or the child died): a failed row, not a crash
            fw, pp = sizes[name]
            res = {"row": {"scenario": name, "solver": "ours", "feasible": False,
                           "status": f"error: {type(exc).__name__}: {exc}"[:300],
                           "wall_s": time.perf_counter() - t0, "time_limit_s": float(args.time_limit),
                           "seed": args.seed, "workers": args.workers, "forward_warehouses": fw,
                           "pickup_points": pp}, "cases": None}
        row = res["row"]
        rows.append(row)
        _progress(row, k, len(names))
        write_text_atomic(out / "results.csv", _csv_text(RESULT_COLUMNS, rows))
        cases = res["cases"] or []
        total = len(cases) * len(solvers)
        done = 0
        for case in cases:
            flat = flatten(case.problem)
            for s in solvers:
                r = solve_case(case, s, int(args.seed), flat, submit=sub_ex.submit)
                r["scenario"] = name
                sub_rows.append(r)
                done += 1
                _sub_progress(name, r, done, total)
                write_text_atomic(out / "subproblems.csv", _csv_text(SUBPROBLEM_COLUMNS, sub_rows))


def cmd_bench_scenarios(args: Any, path: Path) -> int:
    """``fulfil bench <scenario file or folder>`` (see the module docstring).

    Returns
    -------
    int
        ``0``; ``4`` when one of our plans fails the independent check or could not be made.
    """
    from fulfil.output import write_text_atomic

    if getattr(args, "objective", None):
        print("note: --objective applies to Solomon/Homberger sets; ignored for scenarios")
    from fulfil.bench.common import parse_peers

    peers = parse_peers(args.vs)
    files, notes = find_scenarios(path, args.instances)
    for n in notes:
        print(f"note: {n}")
    sizes = {name: validate_scenario(f) for name, f in files.items()}  # bad input: exit 2 before any output

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    solvers = ["ours", *peers]
    names = list(files)
    print(f"bench {path.name}: {len(names)} scenario(s) ({', '.join(names)}), time limit {args.time_limit:g} s, "
          f"{args.workers or 'one per core'} routing worker(s), seed {args.seed}; one scenario at a time, each in a "
          f"fresh process" + (f"; last-mile subproblems vs {', '.join(peers)}, one solve at a time (ours: its two "
                              f"engines on two worker processes; each peer one core)" if peers else ""))
    rows: list[dict] = []
    sub_rows: list[dict] = []
    from fulfil.executor import make_executor

    with make_executor(2 if peers else 1) as sub_ex:  # ours' two engine runs of a subproblem, at the same time
        _bench_scenarios(args, files, sizes, names, solvers, out, rows, sub_rows, sub_ex)

    text = scenario_tables(rows)
    if peers:
        summary = summarize_subproblems(sub_rows, peers)
        text += "\n\n" + subproblem_tables(sub_rows, solvers, summary)
    write_text_atomic(out / "summary.txt", text + "\n")
    from fulfil.bench.chart import GAPS_PNG, write_gap_chart

    write_gap_chart(out / GAPS_PNG, subproblem_gaps(sub_rows), solvers, key="subproblem",
                    title=f"{path.name}: last-mile subproblems, {args.time_limit:g} s"
                          + ("" if peers else " (no peer given: nothing to compare)"),
                    ylabel="cost above the best solver (%)")
    print(text)
    wrote = [out / "results.csv", out / "summary.txt", out / GAPS_PNG] + ([out / "subproblems.csv"] if peers else [])
    print(f"\nWrote {', '.join(map(str, wrote))} and the plans in {out / 'ours'}")
    bad = [r["scenario"] for r in rows if not r["feasible"]]
    if bad:
        print(f"\nours: {len(bad)} plan(s) failed the independent check or could not be made: {', '.join(bad)}")
        return 4
    return 0
