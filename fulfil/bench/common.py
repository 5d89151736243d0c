"""What every ``fulfil bench`` front end shares: instance selection, result rows, tables, peers.

:mod:`fulfil.bench.command` (VRPTW / CVRP sets), :mod:`fulfil.bench.twoecho` (2E-CVRP) and
:mod:`fulfil.bench.scenarios` (scenario files) import from here and never from each other.
Only the standard library is imported at import time.
"""

from __future__ import annotations

import csv
import logging
import re
from dataclasses import dataclass
from pathlib import Path

from fulfil.errors import UsageError

log = logging.getLogger("fulfil")

__all__ = ["CVRP_CLASSES", "RESULT_COLUMNS", "BenchSet", "fmt_csv", "natural", "parse_peers", "progress",
           "results_table", "select_instances", "sorted_rows", "summarize", "write_results_csv"]

RESULT_COLUMNS = [
    "instance", "family", "solver", "convention", "feasible", "routes", "cost", "bks", "bks_routes",
    "gap_pct", "seconds", "reported_cost", "status", "violations",
]

_VRPTW_FAMILIES = ("C1", "C2", "R1", "R2", "RC1", "RC2")
CVRP_CLASSES = ("n<=150", "151-250", ">250")


# ----------------------------------------------------------------- the set
@dataclass(frozen=True)
class BenchSet:
    """A folder of instances: ``kind`` ("vrptw" or "cvrp") and ``{name: path}`` in name order."""

    folder: Path
    kind: str
    files: dict[str, Path]

def select_instances(bset: BenchSet, names: str | None) -> list[str]:
    """The instances named in ``--instances`` (comma separated, case-insensitive), or all."""
    if not names:
        return natural(list(bset.files))
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
        some = ", ".join(natural(list(bset.files))[:6])
        raise UsageError(f"--instances: unknown instance(s) {', '.join(unknown)} in {bset.folder} "
                         f"(it has {len(bset.files)}: {some}, ...)")
    if not out:
        raise UsageError("--instances: no instance named")
    return out


def natural(names: list[str]) -> list[str]:
    def key(s: str):
        return [int(t) if t.isdigit() else t.lower() for t in re.split(r"(\d+)", s)]

    return sorted(names, key=key)


def fmt_csv(v, key: str) -> str:
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
            w.writerow([fmt_csv(r.get(k), k) for k in RESULT_COLUMNS])
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

    order = list(_VRPTW_FAMILIES if kind == "vrptw" else CVRP_CLASSES)
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
def progress(row: dict, k: int, total: int) -> None:
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


def run_each(executor, fn, tasks: list, on_done) -> None:
    """Submit ``fn(task)`` for every task and call ``on_done(future, task)`` as each finishes (at once,
    in order, on the serial backend, whose futures are done when submitted)."""
    futs, reported = {}, set()
    for t in tasks:
        fut = executor.submit(fn, t)
        futs[fut] = t
        if fut.done():
            reported.add(fut)
            on_done(fut, t)
    for fut in executor.as_completed([f for f in futs if f not in reported]):
        on_done(fut, futs[fut])


def finish_bench(out: Path, rows: list[dict], text: str, solvers: list[str], title: str) -> int:
    """Write ``summary.txt`` (atomically) and ``gaps.png`` beside ``results.csv``, print the summary and
    the files, and return the exit code: 4 when one of ours failed the independent check."""
    from fulfil.bench.chart import GAPS_PNG, write_gap_chart
    from fulfil.output import write_text_atomic

    write_text_atomic(out / "summary.txt", text + "\n")
    write_gap_chart(out / GAPS_PNG, rows, solvers, title=title)
    print(text)
    print(f"\nWrote {out / 'results.csv'}, {out / 'summary.txt'}, {out / GAPS_PNG} and the solutions in "
          f"{', '.join(str(out / s) for s in solvers)}")
    bad = [r["instance"] for r in rows if r["solver"] == "ours" and not r["feasible"]]
    if bad:
        print(f"\nours: {len(bad)} solution(s) failed the independent check or were not found: {', '.join(bad)}")
        return 4
    return 0


def sorted_rows(rows: list[dict], names: list[str], solvers: list[str]) -> list[dict]:
    pos = {n: i for i, n in enumerate(names)}
    spos = {s: i for i, s in enumerate(solvers)}
    return sorted(rows, key=lambda r: (pos.get(r["instance"], 1 << 30), spos.get(r["solver"], 1 << 30)))
