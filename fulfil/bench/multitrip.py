"""``fulfil bench`` on the multi-trip VRPTW with release dates (MTVRPTWR).

::

    fulfil bench mtvrptwr --time-limit S --out DIR [--instances A,B,...] [--seed N] [--workers N] [--vs pyvrp]

A folder of VRPLIB ``.vrp`` files with a ``RELEASE_TIME_SECTION`` (the shared
``mtvrptwr`` set: 81 Solomon-based instances, ``bks.csv`` in the DIMACS convention,
see its README). Every instance is converted once to integer tenths
(:func:`fulfil.bench.convert.to_multitrip`: arcs truncated to one decimal, travel time =
arc length, windows, service and release dates ×10).

Solvers, one process each, the same wall budget:

``ours``
    :func:`solvers.routing.multitrip.solve_multitrip` with
    :data:`~solvers.routing.multitrip.TUNED`: PyVRP's multi-trip model (reload depot,
    release dates) with the project's search setup (a shorter late-acceptance history),
    built from the converted arrays.
``pyvrp`` (``--vs pyvrp``)
    Plain PyVRP as its users run it: ``pyvrp.read(file, round_func="dimacs")`` and
    ``pyvrp.solve`` with the default parameters and ``MaxRuntime``. The other peers cannot
    model reloads or release dates and are skipped with a note.

``--workers N``: N instances at a time, each with one process per solver (``--workers 1
--vs pyvrp``: two processes, ours and PyVRP of the same instance side by side).

Every solution is re-checked from the instance alone by
:func:`fulfil.bench.verify.verify_multitrip` (customers once, trips split at the
reloads, capacity per trip, departure after the previous trip and the trip's latest release
date, windows, depot horizon, fleet, DIMACS cost), written to ``DIR/<solver>/<instance>.sol``
(VRPLIB, ``0`` marking a reload, ``Cost`` in tenths as in ``bks.csv``), read back and
checked again, and added to ``DIR/results.csv``. At the end the table, the gaps per family
(C2 / R2 / RC2 × release level 0.25 / 0.5 / 0.75) and per class and per level are printed
and written to ``DIR/summary.txt``, and ``DIR/gaps.png`` shows the gap per instance.
"""

from __future__ import annotations

import csv
import re
import time
from dataclasses import dataclass
from pathlib import Path

from fulfil.errors import UsageError

__all__ = ["MT_PEERS", "MTTask", "cmd_bench_multitrip", "family", "is_multitrip_folder", "load_mt_bks",
           "pyvrp_plain", "run_mt_task"]

#: Peers that can model reloads and release dates.
MT_PEERS = ("pyvrp",)
#: Name of the convention in ``results.csv``.
CONVENTION = "dimacs"


def is_multitrip_folder(folder: Path) -> bool:
    """True when the folder's first ``.vrp`` file has release dates (``RELEASE_TIME_SECTION``)."""
    files = sorted(folder.glob("*.vrp"))
    if not files:
        return False
    head = files[0].read_text(encoding="ascii", errors="replace").upper()
    return "RELEASE_TIME_SECTION" in head or "MTVRPTWR" in head[:400]


def family(name: str) -> str:
    """``C201R0.5`` -> ``"C2 R0.5"`` (Solomon class and release level); ``"other"`` otherwise."""
    m = re.match(r"^(RC|C|R)(\d)\d*R(\d*\.?\d+)$", name.upper())
    return f"{m.group(1)}{m.group(2)} R{m.group(3)}" if m else "other"


def load_mt_bks(folder: Path) -> dict[str, tuple[int | None, float]]:
    """``bks.csv`` (``instance,cost,optimal,source``; cost in tenths) as ``{instance: (None, cost)}``."""
    path = folder / "bks.csv"
    if not path.is_file():
        return {}
    out: dict[str, tuple[int | None, float]] = {}
    with path.open(newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        if "instance" not in (reader.fieldnames or []) or "cost" not in (reader.fieldnames or []):
            raise UsageError(f"{path}:1: expected columns 'instance' and 'cost'")
        for ln, row in enumerate(reader, start=2):
            val = (row.get("cost") or "").strip()
            if not val:
                continue
            try:
                out[row["instance"].strip()] = (None, float(val))
            except ValueError:
                raise UsageError(f"{path}:{ln}: cost {val!r} is not a number") from None
    return out


@dataclass(frozen=True)
class MTTask:
    """One (instance, solver) run; plain data for a worker process."""

    instance: str
    path: str
    solver: str
    time_limit_s: float
    seed: int
    out_dir: str


def pyvrp_plain(path: str, time_limit_s: float, seed: int) -> tuple[list[list[int]], int | None, str]:
    """Plain PyVRP on the file: its own reader (DIMACS rounding), default parameters.

    Returns the routes (``0`` = reload), PyVRP's own distance (``None`` when infeasible) and a
    status text.
    """
    import pyvrp
    from pyvrp.stop import MaxRuntime

    from solvers.routing.multitrip import routes_of

    data = pyvrp.read(path, round_func="dimacs")
    res = pyvrp.solve(data, MaxRuntime(float(time_limit_s)), seed=int(seed), display=False)
    ok = bool(res.best.is_feasible())
    return routes_of(res.best), (int(res.best.distance()) if ok else None), (
        f"{'feasible' if ok else 'infeasible'}; {res.num_iterations} iterations; default parameters")


def run_mt_task(task: MTTask) -> dict:
    """Read, solve, verify and write one solution; its results row (no gap yet)."""
    from fulfil.bench.convert import to_multitrip
    from fulfil.bench.verify import verify_multitrip, verify_multitrip_file
    from fulfil.readers.vrp import read_instance, write_solution

    inst = read_instance(task.path)
    row = {"instance": task.instance, "solver": task.solver, "convention": CONVENTION}
    t0 = time.perf_counter()
    try:
        if task.solver == "ours":
            from solvers.routing.multitrip import TUNED, solve_multitrip

            res = solve_multitrip(to_multitrip(inst), task.time_limit_s, task.seed, TUNED)
            routes, reported = res.routes, (res.cost if res.feasible else None)
            status = (f"{'feasible' if res.feasible else 'infeasible'}; {res.iterations} iterations; "
                      f"history {res.stats['history_length']}, perturbations <= {res.stats['max_perturbations']}")
        else:
            routes, reported, status = pyvrp_plain(task.path, task.time_limit_s, task.seed)
    except Exception as exc:  # noqa: BLE001 - a solver's failure must not stop the benchmark
        row.update(feasible=False, routes=0, cost=None, seconds=time.perf_counter() - t0, reported_cost=None,
                   status=f"error: {type(exc).__name__}: {exc}"[:300], violations="")
        return row
    seconds = time.perf_counter() - t0
    verdict = verify_multitrip(inst, routes)
    violations = list(verdict.violations) if routes else ["no solution"]
    if routes:
        sol_path = Path(task.out_dir) / task.solver / f"{task.instance}.sol"
        write_solution(sol_path, routes, verdict.cost, 0)
        again = verify_multitrip_file(inst, sol_path)
        if again.feasible != verdict.feasible or again.cost != verdict.cost:
            violations.append(f"solution file {sol_path} does not read back identically")
    if reported is not None and routes and reported != verdict.cost:
        violations.append(f"the solver reports cost {reported}, the check recomputes {verdict.cost:g}")
    trips = sum(1 + sum(1 for c in r if c == 0) for r in routes)
    row.update(feasible=bool(routes) and not violations, routes=verdict.routes,
               cost=verdict.cost if routes else None, seconds=seconds, reported_cost=reported,
               status=f"{status}; {trips} trips",
               violations="; ".join(violations[:3]) + (f"; ... {len(violations) - 3} more"
                                                        if len(violations) > 3 else ""))
    return row


def _group_table(rows: list[dict], solvers: list[str]) -> str:
    """Mean gap per Solomon class and per release level (over feasible solutions)."""
    from fulfil.report.tables import table

    def cls(r: dict) -> str:
        return r["family"].split(" ")[0]

    def level(r: dict) -> str:
        return r["family"].split(" ")[-1]

    body = []
    for what, key in (("class", cls), ("release", level)):
        for g in sorted({key(r) for r in rows}):
            line: list = [what, g]
            for s in solvers:
                gaps = [r["gap_pct"] for r in rows if r["solver"] == s and key(r) == g and r.get("gap_pct") is not None]
                n = sum(1 for r in rows if r["solver"] == s and key(r) == g)
                line.append(None if not gaps else f"{sum(gaps) / len(gaps):+.2f} ({len(gaps)}/{n})")
            body.append(line)
    return ("Mean gap % by Solomon class and by release level (feasible / instances):\n"
            + table(["by", "group", *solvers], body, align="ll" + "r" * len(solvers)))


def cmd_bench_multitrip(args, folder: Path) -> int:
    """``fulfil bench <MTVRPTWR folder>`` (see the module docstring); ``4`` when one of ours fails the check."""
    from fulfil.bench.common import (
        BenchSet,
        finish_bench,
        progress,
        results_table,
        run_each,
        select_instances,
        sorted_rows,
        summarize,
        write_results_csv,
    )
    from fulfil.executor import cpu_count, make_executor
    from fulfil.readers.vrp import read_instance

    if getattr(args, "objective", None):
        print("note: --objective does not apply to the MTVRPTWR set (distance, DIMACS convention); ignored")
    peers: list[str] = []
    for p in (s.strip() for s in (args.vs or "").split(",")):
        if not p or p == "ours" or p in peers:
            continue
        if p not in MT_PEERS:
            from fulfil.bench.engines import PEERS

            if p not in PEERS:
                raise UsageError(f"--vs: unknown peer {p!r}; choose from {', '.join(PEERS)}")
            print(f"note: {p} cannot model reloads and release dates; skipped for the MTVRPTWR set")
            continue
        peers.append(p)
    files = {f.stem: f for f in sorted(folder.glob("*.vrp"))}
    bset = BenchSet(folder, "mtvrptwr", files)
    names = select_instances(bset, args.instances)
    for n in names:  # bad input: exit 2 before anything runs
        try:
            inst = read_instance(files[n])
        except ValueError as exc:
            raise UsageError(str(exc)) from None
        if inst.kind != "mtvrptwr":
            raise UsageError(f"{files[n]}: not a multi-trip instance with release dates (no RELEASE_TIME_SECTION)")
    bks = load_mt_bks(folder)
    solvers = ["ours", *peers]
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    at_once = args.workers or max(1, cpu_count() // len(solvers))
    processes = at_once * len(solvers)
    print(f"bench {folder.name} (MTVRPTWR): {len(names)} instance(s) x {len(solvers)} solver(s) "
          f"({', '.join(solvers)}), {args.time_limit:g} s each, {at_once} instance(s) at a time on {processes} "
          f"process(es), one per solver; objective: distance, arcs truncated to 0.1 (DIMACS, cost x10); "
          f"bks: {'bks.csv' if bks else 'none found (no gaps)'}")
    tasks = [MTTask(n, str(files[n]), s, float(args.time_limit), int(args.seed), str(out))
             for n in names for s in solvers]
    rows: list[dict] = []

    def done(row: dict) -> None:
        row["family"] = family(row["instance"])
        b = bks.get(row["instance"])
        row["bks"], row["bks_routes"] = (b[1] if b else None), None
        row["gap_pct"] = (100.0 * (row["cost"] - b[1]) / b[1]
                          if b and b[1] > 0 and row.get("feasible") and row.get("cost") is not None else None)
        rows.append(row)
        progress(row, len(rows), len(tasks))
        write_results_csv(out / "results.csv", sorted_rows(rows, names, solvers))

    def row_of(fut, t: MTTask) -> dict:
        try:
            return fut.result()
        except Exception as exc:  # noqa: BLE001 - the worker itself died
            return {"instance": t.instance, "solver": t.solver, "convention": CONVENTION, "feasible": False,
                    "routes": 0, "cost": None, "seconds": 0.0, "reported_cost": None,
                    "status": f"error: {type(exc).__name__}: {exc}"[:300], "violations": ""}

    with make_executor(processes) as ex:
        run_each(ex, run_mt_task, tasks, lambda fut, t: done(row_of(fut, t)))

    rows = sorted_rows(rows, names, solvers)
    write_results_csv(out / "results.csv", rows)
    text = (results_table(rows) + "\n\n" + summarize(rows, solvers, "mtvrptwr", "distance") + "\n\n"
            + _group_table(rows, solvers))
    return finish_bench(out, rows, text, solvers, f"{folder.name}: gap per instance, {args.time_limit:g} s")
