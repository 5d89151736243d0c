"""``fulfil bench`` on OR-Library facility-location sets (capacitated CFLP, p-median).

A folder holding ``optimal.csv`` and ``cap*.txt`` / ``pmed*.txt`` files is solved
instance by instance with :mod:`solvers.location`; every solution is re-costed from the
instance file (fixed costs of open sites + allocation costs, or the sum of each vertex's
distance to its nearest open median) before its gap to the known optimum is written to
``DIR/results.csv`` with the shared columns (``routes`` is 0: there are no routes), and drawn
per instance to ``DIR/gaps.png``.
"""

from __future__ import annotations

import math
import time
from pathlib import Path

from fulfil.output import write_text_atomic

CSV_COLUMNS = ["instance", "solver", "feasible", "routes", "cost", "bks", "gap_pct", "seconds", "proven_optimal"]
SOLVER = "fulfil-location"


def is_location_folder(folder: Path) -> str | None:
    """``"cflp"``, ``"pmedian"`` or ``None`` for a benchmark folder."""
    if not (folder / "optimal.csv").is_file():
        return None
    if any(folder.glob("pmed*.txt")):
        return "pmedian"
    if any(folder.glob("cap*.txt")):
        return "cflp"
    return None


def instances(kind: str, folder: Path) -> list[dict]:
    """Rows of ``optimal.csv`` with ``kind`` and ``path`` added."""
    from fulfil.readers.orlib import read_optimal_csv

    rows = read_optimal_csv(folder / "optimal.csv")
    for r in rows:
        r["kind"] = kind
        r["path"] = folder / r["file"]
    return rows


def solve_one(row: dict, time_limit: float | None, engine: str = "SCIP"):
    """Read, solve and re-cost one instance; returns ``(result, recomputed cost, read seconds)``."""
    import numpy as np

    from fulfil.readers.orlib import pmedian_distances, read_cflp
    from solvers.location import solve_cflp, solve_pmedian

    t0 = time.perf_counter()
    if row["kind"] == "cflp":
        d = read_cflp(row["path"], capacity=row["capacity"])
        t_read = time.perf_counter() - t0
        res = solve_cflp(d["fixed_cost"], d["capacity"], d["demand"], d["alloc_cost"], time_limit_s=time_limit,
                         engine=engine)
        alloc = np.asarray(res.alloc, dtype=float)
        feasible = (np.allclose(alloc.sum(axis=1), 1.0, atol=1e-6) and bool(np.all(alloc >= -1e-9))
                    and np.all((alloc * d["demand"][:, None]).sum(axis=0) <= d["capacity"] * res.open + 1e-6))
        cost = float(d["fixed_cost"] @ res.open + (alloc * d["alloc_cost"]).sum())
    else:
        dist, p = pmedian_distances(row["path"])
        t_read = time.perf_counter() - t0
        res = solve_pmedian(dist, p, time_limit_s=time_limit, engine=engine)
        med = np.flatnonzero(res.open)
        feasible = len(med) == p
        cost = float(dist[:, med].min(axis=1).sum())
    return res, (cost if feasible else math.nan), t_read


def cmd_bench_location(args, folder: Path, kind: str) -> int:
    """Solve the set (or ``--instances``) and write ``results.csv``; prints progress and a table."""
    import sys

    from fulfil.errors import UsageError
    from fulfil.report.tables import table

    rows = instances(kind, folder)
    if args.instances:
        wanted = [x.strip() for x in args.instances.split(",") if x.strip()]
        known = {r["instance"] for r in rows}
        missing = [w for w in wanted if w not in known]
        if missing:
            raise UsageError(f"unknown instance(s) in {folder.name}: {', '.join(missing)}")
        rows = [r for r in rows if r["instance"] in wanted]
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    table_rows, records = [], []
    for i, row in enumerate(rows, 1):
        t0 = time.perf_counter()
        res, cost, _ = solve_one(row, args.time_limit)
        secs = time.perf_counter() - t0
        bks = float(row["optimal_value"])
        gap = 100.0 * (cost - bks) / bks if math.isfinite(cost) else math.nan
        records.append([row["instance"], SOLVER, math.isfinite(cost), 0, f"{cost:.6f}", bks, f"{gap:.6f}",
                        f"{secs:.3f}", bool(res.optimal)])
        table_rows.append([row["instance"], bks, round(cost, 3), round(gap, 4), bool(res.optimal), round(secs, 1)])
        print(f"[{i}/{len(rows)}] {row['instance']}: gap {gap:+.4f} %, {'proven' if res.optimal else 'not proven'}, "
              f"{secs:.1f} s", file=sys.stderr, flush=True)
    buf = [",".join(CSV_COLUMNS)] + [",".join(str(x) for x in r) for r in records]
    write_text_atomic(out / "results.csv", "\n".join(buf) + "\n")
    from fulfil.bench.chart import GAPS_PNG, write_gap_chart

    write_gap_chart(out / GAPS_PNG, [{"instance": r[0], "solver": SOLVER, "gap_pct": r[3] if math.isfinite(r[3])
                                      else None} for r in table_rows], [SOLVER],
                    title=f"{folder.name}: gap to the optimum per instance", ylabel="gap to the optimum (%)")
    print(table(["instance", "optimum", "ours", "gap %", "proven", "seconds"], table_rows))
    at_opt = sum(1 for r in table_rows if math.isfinite(r[3]) and abs(r[3]) < 1e-6)
    print(f"\n{at_opt}/{len(table_rows)} at the known optimum, {sum(r[4] for r in table_rows)} proven; "
          f"wrote {out / 'results.csv'} and {out / GAPS_PNG}")
    return 0


