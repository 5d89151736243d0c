"""``fulfil bench``: run standard instance sets, gap to best known, peers side by side.

::

    fulfil bench SET_DIR [--instances A,B,...] --time-limit S [--seed N] [--workers N]
                 --out DIR [--vs PEER,...] [--objective distance|vehicles]

``SET_DIR`` is a folder of Solomon / Gehring–Homberger ``.txt`` files or of
VRPLIB ``.vrp`` files (the set type is detected from the files), or the name
of a folder of the shared benchmark data (``solomon``, ``homberger_200``,
``cvrp_x``; see :func:`fulfil.bench.benchdata_dir`). Every (instance, solver)
pair runs in a worker process with the same wall-clock budget; the model is
built inside the worker. Each solution is re-checked and re-costed by
:mod:`fulfil.bench.verify` from the instance file alone, written to
``DIR/<solver>/<instance>.sol`` (VRPLIB solution format) and added to
``DIR/results.csv``; at the end the table, the per-family mean / worst gap
and the cost ratio of ours to the peers are printed and written to
``DIR/summary.txt``.

This module imports only the standard library at import time; everything
heavy is imported where it is used (and, in workers, inside the worker).
"""

from __future__ import annotations

import csv
import logging
import math
import os
import re
import time
from dataclasses import dataclass
from pathlib import Path

from fulfil.errors import UsageError

log = logging.getLogger("fulfil")

__all__ = ["cmd_bench", "parse_peers", "Task", "run_task", "detect_set", "load_bks", "family_of", "summarize"]

RESULT_COLUMNS = [
    "instance", "family", "solver", "convention", "feasible", "routes", "cost", "bks", "bks_routes",
    "gap_pct", "seconds", "reported_cost", "status", "violations",
]

_VRPTW_FAMILIES = ("C1", "C2", "R1", "R2", "RC1", "RC2")
_CVRP_CLASSES = ("n<=150", "151-250", ">250")


# ----------------------------------------------------------------- the set
@dataclass(frozen=True)
class BenchSet:
    """A folder of instances: ``kind`` ("vrptw" or "cvrp") and ``{name: path}`` in name order."""

    folder: Path
    kind: str
    files: dict[str, Path]


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


def select_instances(bset: BenchSet, names: str | None) -> list[str]:
    """The instances named in ``--instances`` (comma separated, case-insensitive), or all."""
    if not names:
        return _natural(list(bset.files))
    by_lower = {k.lower(): k for k in bset.files}
    out, unknown = [], []
    for n in (s.strip() for s in names.split(",")):
        if not n:
            continue
        key = by_lower.get(n.lower()) or by_lower.get(Path(n).stem.lower())
        if key is None:
            unknown.append(n)
        elif key not in out:
            out.append(key)
    if unknown:
        some = ", ".join(_natural(list(bset.files))[:6])
        raise UsageError(f"--instances: unknown instance(s) {', '.join(unknown)} in {bset.folder} "
                         f"(it has {len(bset.files)}: {some}, ...)")
    if not out:
        raise UsageError("--instances: no instance named")
    return out


def _natural(names: list[str]) -> list[str]:
    def key(s: str):
        return [int(t) if t.isdigit() else t.lower() for t in re.split(r"(\d+)", s)]

    return sorted(names, key=key)


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
    return _CVRP_CLASSES[0] if n <= 150 else _CVRP_CLASSES[1] if n <= 250 else _CVRP_CLASSES[2]


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


def run_task(task: Task) -> dict:
    """Read, convert, solve, verify and write one solution; returns its results row (no gap yet).

    Runs inside the worker: every OR-Tools / PyVRP / VROOM object is created
    and dropped here. An engine that raises gives a row with ``feasible``
    false and the error in ``status``.
    """
    from fulfil.bench.convert import reported_cost, to_routing_problem
    from fulfil.bench.engines import ENGINES
    from fulfil.bench.verify import verify_routes, verify_solution_file
    from fulfil.readers.vrp import read_instance, write_solution

    inst = read_instance(task.path)
    problem = to_routing_problem(inst, task.convention)
    row = {"instance": task.instance, "solver": task.solver, "convention": task.convention}
    t0 = time.perf_counter()
    try:
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


# ----------------------------------------------------------------- results
def _gap(row: dict, bks: dict[str, tuple[int | None, float]]) -> None:
    b = bks.get(row["instance"])
    row["bks"] = b[1] if b else None
    row["bks_routes"] = b[0] if b else None
    if b and row.get("feasible") and row.get("cost") is not None and b[1] > 0:
        row["gap_pct"] = 100.0 * (row["cost"] - b[1]) / b[1]
    else:
        row["gap_pct"] = None


def _fmt_csv(v, key: str) -> str:
    if v is None:
        return ""
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, float):
        if key == "gap_pct":
            return f"{v:.3f}"
        if key == "seconds":
            return f"{v:.2f}"
        return f"{v:.4f}".rstrip("0").rstrip(".")
    return str(v)


def write_results_csv(path: Path, rows: list[dict]) -> None:
    """Write ``rows`` to ``path`` atomically (columns :data:`RESULT_COLUMNS`)."""
    tmp = path.with_name(path.name + ".tmp")
    with tmp.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(RESULT_COLUMNS)
        for r in rows:
            w.writerow([_fmt_csv(r.get(k), k) for k in RESULT_COLUMNS])
    tmp.replace(path)


def _mean(xs: list[float]) -> float | None:
    return sum(xs) / len(xs) if xs else None


def _better(a: dict, b: dict, convention: str) -> bool:
    """``a`` beats ``b``: fewer routes first in the vehicles convention, then lower cost."""
    if convention == "vehicles" and a["routes"] != b["routes"]:
        return a["routes"] < b["routes"]
    return a["cost"] < b["cost"]


def summarize(rows: list[dict], solvers: list[str], kind: str, convention: str) -> str:
    """Per-family tables: mean / worst gap per solver, feasible counts, ratio of ours to the peers.

    The ratio columns are the mean over instances of ``cost(ours) / cost(peer)``
    where both are feasible (below 1: ours is shorter); "best peer" takes,
    per instance, the best feasible peer (fewest routes first in the vehicles
    convention).
    """
    from fulfil.report.tables import table

    order = list(_VRPTW_FAMILIES if kind == "vrptw" else _CVRP_CLASSES)
    fams = [f for f in order if any(r["family"] == f for r in rows)]
    fams += sorted({r["family"] for r in rows} - set(fams))
    groups = [(f, [r for r in rows if r["family"] == f]) for f in fams] + [("all", rows)]
    vehicles = convention == "vehicles"

    head = ["family", "solver", "instances", "feasible", "mean gap %", "worst gap %"]
    if vehicles:
        head += ["routes", "bks routes", "above bks routes"]
    align = "llrrrr" + ("rrr" if vehicles else "")
    body = []
    for fam, rs in groups:
        for s in solvers:
            mine = [r for r in rs if r["solver"] == s]
            if not mine:
                continue
            gaps = [r["gap_pct"] for r in mine if r.get("gap_pct") is not None]
            line = [fam, s, len(mine), sum(bool(r["feasible"]) for r in mine),
                    None if not gaps else f"{_mean(gaps):+.2f}", None if not gaps else f"{max(gaps):+.2f}"]
            if vehicles:
                feas = [r for r in mine if r["feasible"]]
                line += [sum(r["routes"] for r in feas),
                         sum(r["bks_routes"] or 0 for r in feas),
                         sum(1 for r in feas if r["bks_routes"] is not None and r["routes"] > r["bks_routes"])]
            body.append(line)
    parts = ["Per family (gaps over feasible solutions; gap = 100 (cost - bks) / bks):", table(head, body, align)]

    peers = [s for s in solvers if s != "ours"]
    if "ours" in solvers and peers:
        head2 = ["family"] + [f"ours/{p}" for p in peers] + ["ours/best peer", "ours better", "ties", "peer better"]
        body2 = []
        for fam, rs in groups:
            by_inst: dict[str, dict[str, dict]] = {}
            for r in rs:
                if r["feasible"] and r.get("cost"):
                    by_inst.setdefault(r["instance"], {})[r["solver"]] = r
            line: list = [fam]
            for p in peers:
                ratios = [d["ours"]["cost"] / d[p]["cost"] for d in by_inst.values() if "ours" in d and p in d]
                line.append(None if not ratios else f"{_mean(ratios):.4f} ({len(ratios)})")
            ratios, win, tie, lose = [], 0, 0, 0
            for d in by_inst.values():
                cands = [d[p] for p in peers if p in d]
                if "ours" not in d or not cands:
                    continue
                best = cands[0]
                for c in cands[1:]:
                    if _better(c, best, convention):
                        best = c
                ratios.append(d["ours"]["cost"] / best["cost"])
                o = d["ours"]
                if _better(o, best, convention):
                    win += 1
                elif _better(best, o, convention):
                    lose += 1
                else:
                    tie += 1
            line += [None if not ratios else f"{_mean(ratios):.4f} ({len(ratios)})", win, tie, lose]
            body2.append(line)
        parts += ["", "Ours vs peers: mean cost ratio on instances where both are feasible (count); "
                      "below 1 = ours shorter" + ("; better = fewer routes, then shorter" if vehicles else ""),
                  table(head2, body2, align="l" + "r" * (len(head2) - 1))]
    return "\n".join(parts)


def results_table(rows: list[dict]) -> str:
    """All rows as a printed table."""
    from fulfil.report.tables import table

    body = []
    for r in rows:
        bks = r.get("bks")
        body.append([r["instance"], r["solver"], bool(r["feasible"]), r["routes"],
                     None if r.get("cost") is None else round(float(r["cost"]), 2),
                     None if bks is None else (f"{bks:g}" + (f" ({r['bks_routes']})" if r.get("bks_routes") else "")),
                     None if r.get("gap_pct") is None else f"{r['gap_pct']:+.2f}",
                     round(float(r["seconds"]), 1)])
    return table(["instance", "solver", "feasible", "routes", "cost", "bks (routes)", "gap %", "seconds"], body,
                 align="llrrrrrr")


# -------------------------------------------------------------------- CLI
def _progress(row: dict, k: int, total: int) -> None:
    if row["feasible"]:
        gap = "gap n/a (no bks)" if row.get("gap_pct") is None else f"gap {row['gap_pct']:+6.2f}%"
        what = f"{row['routes']:3d} routes  cost {row['cost']:10.2f}  {gap}"
    else:
        why = row.get("violations") or row.get("status") or ""
        what = (why if why.startswith("no solution") else f"INFEASIBLE: {why}")[:120]
    log.info("[%d/%d] %-12s %-13s %s  %.1fs", k, total, row["instance"], row["solver"], what, row["seconds"])


def parse_peers(vs: str | None) -> list[str]:
    """The peers named by ``--vs`` in order, without ours or repeats; a missing one is skipped with a note.

    Raises :class:`UsageError` for a name that is not a peer.
    """
    from fulfil.bench.engines import PEERS, engine_missing

    out: list[str] = []
    for p in (s.strip() for s in (vs or "").split(",")):
        if not p or p == "ours" or p in out:
            continue
        if p not in PEERS:
            raise UsageError(f"--vs: unknown peer {p!r}; choose from {', '.join(PEERS)}")
        missing = engine_missing(p)
        if missing:
            print(f"note: {missing}")
            continue
        out.append(p)
    return out


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
    workers = args.workers or os.cpu_count() or 1
    workers = max(1, min(workers, len(tasks)))
    conv_text = {"distance": "pure distance, arcs truncated to 0.1",
                 "vehicles": "vehicles first, then exact Euclidean distance",
                 "cvrp": "distance, arcs rounded to integers"}[convention]
    print(f"bench {folder.name}: {len(names)} instance(s) x {len(solvers)} solver(s) ({', '.join(solvers)}), "
          f"{args.time_limit:g} s each, {workers} worker(s); objective: {conv_text}; "
          f"bks: {bks_file or 'none found (no gaps)'}")
    assert all(s in ENGINES for s in solvers)

    rows: list[dict] = []

    def done(row: dict) -> None:
        row["family"] = family_of(row["instance"], bset.kind)
        _gap(row, bks)
        rows.append(row)
        _progress(row, len(rows), len(tasks))
        write_results_csv(out / "results.csv", _sorted(rows, names, solvers))

    if workers == 1:
        for t in tasks:
            done(run_task(t))
    else:
        import multiprocessing as mp
        from concurrent.futures import ProcessPoolExecutor, as_completed

        pool = ProcessPoolExecutor(max_workers=workers, mp_context=mp.get_context("spawn"))
        try:
            futures = {pool.submit(run_task, t): t for t in tasks}
            for fut in as_completed(futures):
                t = futures[fut]
                try:
                    row = fut.result()
                except Exception as exc:  # the worker itself died
                    row = {"instance": t.instance, "solver": t.solver, "convention": t.convention,
                           "feasible": False, "routes": 0, "cost": None, "seconds": 0.0, "reported_cost": None,
                           "status": f"error: {type(exc).__name__}: {exc}"[:300], "violations": ""}
                done(row)
        except BaseException:
            pool.shutdown(wait=False, cancel_futures=True)
            raise
        pool.shutdown()

    rows = _sorted(rows, names, solvers)
    write_results_csv(out / "results.csv", rows)
    text = results_table(rows) + "\n\n" + summarize(rows, solvers, bset.kind, convention)
    (out / "summary.txt").write_text(text + "\n", encoding="utf-8")
    print(text)
    print(f"\nWrote {out / 'results.csv'}, {out / 'summary.txt'} and the solutions in "
          f"{', '.join(str(out / s) for s in solvers)}")
    bad = [r["instance"] for r in rows if r["solver"] == "ours" and not r["feasible"]]
    if bad:
        print(f"\nours: {len(bad)} solution(s) failed the independent check or were not found: {', '.join(bad)}")
        return 4
    return 0


def _sorted(rows: list[dict], names: list[str], solvers: list[str]) -> list[dict]:
    pos = {n: i for i, n in enumerate(names)}
    spos = {s: i for i, s in enumerate(solvers)}
    return sorted(rows, key=lambda r: (pos.get(r["instance"], 1 << 30), spos.get(r["solver"], 1 << 30)))
