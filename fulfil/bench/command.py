"""``fulfil bench``: run standard instance sets, gap to best known, peers side by side.

::

    fulfil bench SET_DIR [--instances A,B,...] --time-limit S [--seed N] [--workers N]
                 --out DIR [--vs PEER,...] [--objective distance|vehicles]

``SET_DIR`` is a folder of Solomon / Gehring–Homberger ``.txt`` files or of
VRPLIB ``.vrp`` files (the set type is detected from the files), or the name
of a folder of the shared benchmark data (``solomon``, ``homberger_200``,
``cvrp_x``, ``mtvrptwr``; see :func:`fulfil.bench.benchdata_dir`). VRPLIB
files with release dates go to :mod:`fulfil.bench.multitrip`. Every (instance, solver)
pair gets the same wall-clock budget. Everything runs on one
:class:`~fulfil.executor.Executor` of single-core tasks: a peer is one task
(the model is built inside the worker); ours is its engine runs
(:func:`solvers.routing.solve.engine_runs`: OR-Tools and PyVRP; in the
``"vehicles"`` convention also the two phase-2 lanes of
:func:`solvers.routing.fleet.solve_fleet_first`), submitted as separate tasks
that run at the same time, each with the whole budget, and combined here -- two
cores, as before the executor. ``--workers N`` means N instances at a time: the
executor has ``2 N`` processes (``--workers 0``: one process per core, half as
many instances), and a task is started only when a process is free for it
(ours takes two, a peer one), so every engine run has a core to itself;
``--workers 1`` on a two-core machine gives ours the two cores and each peer one.
Each solution is re-checked and re-costed by
:mod:`fulfil.bench.verify` from the instance file alone, written to
``DIR/<solver>/<instance>.sol`` (VRPLIB solution format) and added to
``DIR/results.csv``; at the end the table, the per-family mean / worst gap
and the cost ratio of ours to the peers are printed and written to
``DIR/summary.txt``, and the gap per instance of every solver is drawn to
``DIR/gaps.png`` (:mod:`fulfil.bench.chart`). Every other front end
(two-echelon, facility location, scenario files, multi-trip) writes the
same picture beside its ``results.csv``.

This module imports only the standard library at import time; everything
heavy is imported where it is used (and, in workers, inside the worker).
"""

from __future__ import annotations

import csv
import logging
import math
import re
import time
from dataclasses import dataclass
from pathlib import Path

from fulfil.bench.common import (
    CVRP_CLASSES, BenchSet, finish_bench, parse_peers, progress, results_table, select_instances,
    sorted_rows, summarize, write_results_csv,
)
from fulfil.errors import UsageError

log = logging.getLogger("fulfil")

__all__ = ["cmd_bench", "parse_peers", "Task", "run_task", "detect_set", "load_bks", "family_of", "summarize"]


def resolve_set_dir(arg: str) -> Path:
    """``arg`` as a folder, else as a folder name inside the shared benchmark data."""
    p = Path(arg)
    if p.is_dir():
        return p
    from fulfil.bench import benchdata_dir

    alt = benchdata_dir() / arg
    if alt.is_dir():
        return alt
    raise UsageError(f"{arg}: no such folder (nor {alt}); give a folder of Solomon .txt or VRPLIB .vrp files")


def detect_set(folder: Path) -> BenchSet:
    """Detect the set type of ``folder`` from its files.

    ``.vrp`` files make a CVRP set (VRPLIB); otherwise the ``.txt`` files
    whose content has a ``VEHICLE`` and a ``CUSTOMER`` section make a VRPTW
    set (Solomon / Homberger).
    """
    vrp = sorted(folder.glob("*.vrp"))
    if vrp:
        return BenchSet(folder, "cvrp", {f.stem: f for f in vrp})
    files = {}
    for f in sorted(folder.glob("*.txt")):
        head = f.read_text(encoding="ascii", errors="replace")[:2000].upper()
        if "VEHICLE" in head and "CUSTOMER" in head:
            files[f.stem] = f
    if not files:
        raise UsageError(f"{folder}: no instance found (expected VRPLIB .vrp files or Solomon-format .txt files)")
    return BenchSet(folder, "vrptw", files)


def load_bks(folder: Path, kind: str, convention: str) -> tuple[dict[str, tuple[int | None, float]], str | None]:
    """Best known solutions of the set in ``convention``: ``{instance: (vehicles, distance)}`` and the file used.

    VRPTW ``"distance"``: ``bks_distance_only.csv``; VRPTW ``"vehicles"``
    and CVRP: ``bks.csv``. Missing file: ``({}, None)``; empty values are
    skipped.
    """
    name = "bks_distance_only.csv" if (kind == "vrptw" and convention == "distance") else "bks.csv"
    path = folder / name
    if not path.is_file():
        return {}, None
    out: dict[str, tuple[int | None, float]] = {}
    with path.open(newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        cols = reader.fieldnames or []
        dist_col = "distance" if "distance" in cols else ("bks" if "bks" in cols else None)
        if "instance" not in cols or dist_col is None:
            raise UsageError(f"{path}:1: expected columns 'instance' and 'distance'")
        for ln, row in enumerate(reader, start=2):
            val = (row.get(dist_col) or "").strip()
            if not val:
                continue
            try:
                dist = float(val)
            except ValueError:
                raise UsageError(f"{path}:{ln}: distance {val!r} is not a number") from None
            veh = (row.get("vehicles") or "").strip()
            out[row["instance"].strip()] = (int(veh) if veh.isdigit() else None, dist)
    return out, name


def family_of(name: str, kind: str) -> str:
    """Family for the summary: C1 … RC2 for VRPTW; a size class of ``n`` (DIMENSION) for the X set."""
    if kind == "vrptw":
        m = re.match(r"^(RC|C|R)([12])", name.upper())
        return m.group(1) + m.group(2) if m else "other"
    m = re.search(r"-n(\d+)", name)
    if not m:
        return "other"
    n = int(m.group(1))
    return CVRP_CLASSES[0] if n <= 150 else CVRP_CLASSES[1] if n <= 250 else CVRP_CLASSES[2]


# ------------------------------------------------------------------- tasks
@dataclass(frozen=True)
class Task:
    """One (instance, solver) run; only plain data, so it can go to a worker process."""

    instance: str
    path: str
    solver: str
    convention: str
    time_limit_s: float
    seed: int
    out_dir: str


def run_task(task: Task, submit=None) -> dict:
    """Read, convert, solve, verify and write one solution; returns its results row (no gap yet).

    A peer runs inside a worker: every OR-Tools / PyVRP / VROOM object is created and
    dropped here. Ours is given ``submit`` (the executor's): this call then only waits
    for its engine runs, which are tasks of the executor, and combines them; ``status``
    names the runs, their budgets and wall seconds. An engine that raises gives a row
    with ``feasible`` false and the error in ``status``.
    """
    from fulfil.bench.convert import reported_cost, to_routing_problem
    from fulfil.bench.engines import ENGINES
    from fulfil.bench.verify import verify_routes, verify_solution_file
    from fulfil.readers.vrp import read_instance, write_solution

    inst = read_instance(task.path)
    problem = to_routing_problem(inst, task.convention)
    row = {"instance": task.instance, "solver": task.solver, "convention": task.convention}
    runs = _Runs(submit) if submit is not None else None
    t0 = time.perf_counter()
    try:
        if runs is not None:
            sol = ENGINES[task.solver](problem, task.time_limit_s, task.seed, submit=runs.submit)
        else:
            sol = ENGINES[task.solver](problem, task.time_limit_s, task.seed)
    except Exception as exc:  # a peer's failure must not stop the benchmark
        row.update(feasible=False, routes=0, cost=None, seconds=time.perf_counter() - t0, reported_cost=None,
                   status=f"error: {type(exc).__name__}: {exc}"[:300], violations="")
        return row
    seconds = time.perf_counter() - t0
    routes = [[int(c) for c in r] for r in sol.routes if len(r)]
    verdict = verify_routes(inst, routes, task.convention)
    violations = list(verdict.violations) if routes else [f"no solution ({sol.status}, {sol.solver_status})"]
    if routes:
        decimals = {"distance": 1, "vehicles": 4, "cvrp": 0}[task.convention]
        sol_path = Path(task.out_dir) / task.solver / f"{task.instance}.sol"
        write_solution(sol_path, routes, verdict.cost, decimals)
        again = verify_solution_file(inst, sol_path, task.convention)
        if again.feasible != verdict.feasible or abs(again.cost - verdict.cost) > 1e-6:
            violations.append(f"solution file {sol_path} does not read back identically")
    status = sol.status
    if sol.solver_status:
        status += f" ({sol.solver_status})"
    if runs is not None:
        status += runs.describe(sol)
    rep = reported_cost(problem, sol, task.convention)
    row.update(
        feasible=bool(routes) and not violations,
        routes=verdict.routes,
        cost=verdict.cost if routes else None,
        seconds=seconds,
        reported_cost=rep,
        status=status,
        violations="; ".join(violations[:3]) + (f"; ... {len(violations) - 3} more" if len(violations) > 3 else ""),
    )
    return row


class _Runs:
    """``submit`` of the executor, recording ours' tasks: what ran, with what budget, how long."""

    def __init__(self, submit):
        self._submit = submit
        self.tasks: list[tuple[str, float | None, object]] = []

    def submit(self, fn, *args, **kwargs):
        fut = self._submit(fn, *args, **kwargs)
        if fn.__name__ == "run_engine":  # run_engine(problem, EngineRun)
            self.tasks.append((args[1].engine, args[1].params.time_limit_s, fut))
        else:  # a phase-2 lane of solve_fleet_first
            self.tasks.append(("lane", kwargs.get("total_s"), fut))
        return fut

    def describe(self, sol) -> str:
        """``"; ortools+pyvrp in parallel: ortools 2.0 s budget / 2.0 s, ..."`` for the status column."""
        st = sol.stats or {}
        parts = []
        for name, budget, fut in self.tasks:
            wall = None
            if fut.done() and not fut.cancelled() and fut.exception() is None:
                wall = getattr(fut.result(), "wall_s", None)
            parts.append(f"{name} " + ("-" if budget is None else f"{budget:.1f}") + " s budget"
                         + ("" if wall is None else f" / {wall:.1f} s"))
        engines = "+".join(st.get("engines_run") or []) or "none"
        how = " in parallel" if st.get("parallel") else ""
        return f"; {engines}{how}: " + ", ".join(parts) if parts else f"; {engines}"


# ----------------------------------------------------------------- results
def _gap(row: dict, bks: dict[str, tuple[int | None, float]]) -> None:
    b = bks.get(row["instance"])
    row["bks"] = b[1] if b else None
    row["bks_routes"] = b[0] if b else None
    if b and row.get("feasible") and row.get("cost") is not None and b[1] > 0:
        row["gap_pct"] = 100.0 * (row["cost"] - b[1]) / b[1]
    else:
        row["gap_pct"] = None



def _row_of(fut, t: Task) -> dict:
    """The task's results row, or a failed row when the task itself died."""
    try:
        return fut.result()
    except Exception as exc:  # noqa: BLE001 - the worker itself died
        return {"instance": t.instance, "solver": t.solver, "convention": t.convention,
                "feasible": False, "routes": 0, "cost": None, "seconds": 0.0, "reported_cost": None,
                "status": f"error: {type(exc).__name__}: {exc}"[:300], "violations": ""}


#: Cores ours uses per instance: its OR-Tools and PyVRP runs (or two fleet-first lanes) at the same time.
OURS_CORES = 2


def run_tasks(tasks: list[Task], processes: int, done) -> None:
    """Run ``tasks`` on one executor of ``processes`` worker processes, calling ``done(row)`` as rows come in.

    A peer's task is submitted whole; ours is driven from a thread of this process that
    submits its engine runs to the same executor and waits for them (:func:`run_task` with
    ``submit``). Tasks start in order, each only when enough processes are free for it
    (ours :data:`OURS_CORES`, a peer one), so that nothing waits in the executor's queue:
    every engine run starts at once and has a core to itself, and the budgets mean wall time.
    """
    import concurrent.futures as cf
    from collections import deque

    from fulfil.executor import make_executor

    def cores(t: Task) -> int:
        return min(processes, OURS_CORES) if t.solver == "ours" else 1

    pending = deque(tasks)
    running: dict[cf.Future, tuple[Task, int]] = {}
    free = processes
    # threads that only wait for ours' engine runs (no computing, no process of their own)
    drivers = cf.ThreadPoolExecutor(max_workers=max(1, processes // OURS_CORES), thread_name_prefix="bench-ours")
    try:
        with make_executor(max(2, processes)) as ex:
            # start every worker before the first budget runs (a pool starts its processes lazily)
            for f in [ex.submit(int) for _ in range(ex.workers)]:
                f.result()
            while pending or running:
                while pending and cores(pending[0]) <= free:
                    t = pending.popleft()
                    fut = drivers.submit(run_task, t, ex.submit) if t.solver == "ours" else ex.submit(run_task, t)
                    running[fut] = (t, cores(t))
                    free -= cores(t)
                finished, _ = cf.wait(list(running), return_when=cf.FIRST_COMPLETED)
                for fut in [f for f in running if f in finished]:
                    t, c = running.pop(fut)
                    free += c
                    done(_row_of(fut, t))
    finally:
        drivers.shutdown(wait=False, cancel_futures=True)


def cmd_bench(args) -> int:
    """Entry point of ``fulfil bench`` (see the module docstring).

    Returns
    -------
    int
        ``0``; ``4`` when one of *our* solutions fails the independent check.
    """
    from fulfil.bench.convert import convention_for
    from fulfil.bench.engines import ENGINES
    from fulfil.readers.vrp import read_instance

    if args.time_limit is None or not (args.time_limit > 0) or not math.isfinite(args.time_limit):
        raise UsageError("--time-limit must be a positive number of seconds")
    if args.seed < 0:
        raise UsageError("--seed must be >= 0")
    if args.workers < 0:
        raise UsageError("--workers must be >= 0 (0 = one per core)")
    from fulfil.bench.scenarios import cmd_bench_scenarios, is_scenario_path

    if is_scenario_path(Path(args.set_dir)):  # the project's own scenario files (one file or a folder of them)
        return cmd_bench_scenarios(args, Path(args.set_dir))
    folder = resolve_set_dir(args.set_dir)
    from fulfil.bench.twoecho import cmd_bench_2e, is_2e_folder

    if is_2e_folder(folder):  # 2E-CVRP .dat files: solved through the two-tier pipeline
        return cmd_bench_2e(args, folder)
    from fulfil.bench.location import cmd_bench_location, is_location_folder

    kind = is_location_folder(folder)
    if kind is not None:  # OR-Library CFLP / p-median: the facility-location engine
        return cmd_bench_location(args, folder, kind)
    from fulfil.bench.multitrip import cmd_bench_multitrip, is_multitrip_folder

    if is_multitrip_folder(folder):  # multi-trip VRPTW with release dates: PyVRP's reload model
        return cmd_bench_multitrip(args, folder)
    bset = detect_set(folder)
    names = select_instances(bset, args.instances)

    solvers = ["ours", *parse_peers(args.vs)]

    try:
        first = read_instance(bset.files[names[0]])
        convention = convention_for(first, args.objective)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    if bset.kind == "vrptw" and args.objective is None and not (folder / "bks_distance_only.csv").is_file():
        convention = "vehicles"  # the only BKS this set has is the hierarchical one
    bks, bks_file = load_bks(folder, bset.kind, convention)
    for n in names:  # parse every file up front: a malformed one is bad input (exit 2), not a worker crash
        try:
            read_instance(bset.files[n])
        except ValueError as exc:
            raise UsageError(str(exc)) from None

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    tasks = [Task(n, str(bset.files[n]), s, convention, float(args.time_limit), int(args.seed), str(out))
             for n in names for s in solvers]
    from fulfil.executor import cpu_count

    at_once = args.workers or max(1, cpu_count() // OURS_CORES)  # instances at a time
    processes = OURS_CORES * at_once
    conv_text = {"distance": "pure distance, arcs truncated to 0.1",
                 "vehicles": "vehicles first, then exact Euclidean distance",
                 "cvrp": "distance, arcs rounded to integers"}[convention]
    print(f"bench {folder.name}: {len(names)} instance(s) x {len(solvers)} solver(s) ({', '.join(solvers)}), "
          f"{args.time_limit:g} s each, {at_once} instance(s) at a time on {processes} worker processes (ours: "
          f"{OURS_CORES} engine runs at once, each peer one); objective: {conv_text}; "
          f"bks: {bks_file or 'none found (no gaps)'}")
    assert all(s in ENGINES for s in solvers)

    rows: list[dict] = []

    def done(row: dict) -> None:
        row["family"] = family_of(row["instance"], bset.kind)
        _gap(row, bks)
        rows.append(row)
        progress(row, len(rows), len(tasks))
        write_results_csv(out / "results.csv", sorted_rows(rows, names, solvers))

    run_tasks(tasks, processes, done)

    rows = sorted_rows(rows, names, solvers)
    write_results_csv(out / "results.csv", rows)
    text = results_table(rows) + "\n\n" + summarize(rows, solvers, bset.kind, convention)
    return finish_bench(out, rows, text, solvers, f"{folder.name}: gap per instance, {args.time_limit:g} s")


