"""Solve OR-Library facility-location sets and compare with the known optima.

Usage::

    python benchmarks/run_facility_location.py cflp               # the 49 CFLP problems
    python benchmarks/run_facility_location.py pmedian            # pmed1..pmed40
    python benchmarks/run_facility_location.py all --time-limit 300 --out results/fl
    python benchmarks/run_facility_location.py cflp --instances cap71,capa_8000

Data: ``$FULFIL_BENCHDATA/facility_location`` or ``<repo>/../shared/benchdata/facility_location``
(never copied into the repo). Prints a table (instance, optimum, ours, gap %,
proven optimal, seconds) and, with ``--out DIR``, writes ``DIR/results.csv``
with the shared ``fulfil bench`` columns
``instance, solver, feasible, routes, cost, bks, gap_pct, seconds``
(``routes`` is 0: there are no routes in a location problem).
"""

from __future__ import annotations

import argparse
import csv
import math
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from fulfil.readers.orlib import benchdata_dir, pmedian_distances, read_cflp, read_optimal_csv  # noqa: E402
from solvers.location import solve_cflp, solve_pmedian  # noqa: E402

CSV_COLUMNS = ["instance", "solver", "feasible", "routes", "cost", "bks", "gap_pct", "seconds"]


def instances(kind: str, root: Path) -> list[dict]:
    """Rows of ``<root>/facility_location/<kind>/optimal.csv`` with ``kind`` and ``path`` added."""
    folder = root / "facility_location" / kind
    rows = read_optimal_csv(folder / "optimal.csv")
    for r in rows:
        r["kind"] = kind
        r["path"] = folder / r["file"]
    return rows


def solve_one(row: dict, time_limit: float | None, engine: str):
    """Read and solve one instance; returns ``(result, read_seconds)``."""
    t0 = time.perf_counter()
    if row["kind"] == "cflp":
        data = read_cflp(row["path"], capacity=row["capacity"])
        t_read = time.perf_counter() - t0
        res = solve_cflp(data["fixed_cost"], data["capacity"], data["demand"], data["alloc_cost"],
                         time_limit_s=time_limit, engine=engine)
    else:
        dist, p = pmedian_distances(row["path"])
        t_read = time.perf_counter() - t0
        res = solve_pmedian(dist, p, time_limit_s=time_limit, engine=engine)
    return res, t_read


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("set", choices=["cflp", "pmedian", "all"])
    ap.add_argument("--instances", default="", help="comma-separated instance names (default: the whole set)")
    ap.add_argument("--time-limit", type=float, default=300.0, help="seconds per instance (0 = none)")
    ap.add_argument("--engine", default="SCIP", help="OR-Tools MIP backend: SCIP, HIGHS, CBC")
    ap.add_argument("--out", type=Path, default=None, help="write DIR/results.csv")
    ap.add_argument("--verbose", "-v", action="store_true", help="print the engine's statistics per instance")
    ap.add_argument("--data", type=Path, default=None, help="benchdata folder (default: FULFIL_BENCHDATA or ../shared/benchdata)")
    args = ap.parse_args(argv)
    root = args.data or benchdata_dir()
    if not (root / "facility_location").is_dir():
        print(f"error: no facility_location data under {root}", file=sys.stderr)
        return 2
    kinds = ["cflp", "pmedian"] if args.set == "all" else [args.set]
    rows = [r for k in kinds for r in instances(k, root)]
    if args.instances:
        wanted = [w.strip() for w in args.instances.split(",") if w.strip()]
        known = {r["instance"] for r in rows}
        missing = [w for w in wanted if w not in known]
        if missing:
            print(f"error: unknown instances {missing}", file=sys.stderr)
            return 2
        rows = [r for r in rows if r["instance"] in wanted]
    limit = args.time_limit if args.time_limit > 0 else None
    solver_name = f"fulfil-location/{args.engine}"
    out_rows, table = [], []
    writer = None
    if args.out:
        args.out.mkdir(parents=True, exist_ok=True)
        fh = (args.out / "results.csv").open("w", newline="")
        writer = csv.DictWriter(fh, fieldnames=CSV_COLUMNS)
        writer.writeheader()
    header = f"{'instance':<12} {'optimum':>16} {'ours':>16} {'gap %':>9} {'bound gap %':>11} {'proven':>6} {'seconds':>8}"
    print(header)
    print("-" * len(header), flush=True)
    for r in rows:
        res, t_read = solve_one(r, limit, args.engine)
        secs = res.wall_s + t_read
        bks = r["optimal_value"]
        feasible = math.isfinite(res.objective)
        gap = 100.0 * (res.objective - bks) / bks if feasible else math.inf
        bgap = 100.0 * res.gap
        line = (f"{r['instance']:<12} {bks:>16.3f} {res.objective:>16.3f} {gap:>9.5f} {bgap:>11.5f} "
                f"{'yes' if res.optimal else 'NO':>6} {secs:>8.2f}")
        print(line, flush=True)
        if args.verbose:
            st = {k: (round(v, 3) if isinstance(v, float) else v) for k, v in res.stats.items()}
            print(f"    {st}", flush=True)
        rec = {"instance": r["instance"], "solver": solver_name, "feasible": feasible, "routes": 0,
               "cost": round(res.objective, 6) if feasible else "", "bks": bks,
               "gap_pct": round(gap, 6) if feasible else "", "seconds": round(secs, 3)}
        out_rows.append(rec)
        table.append((r["instance"], gap, res.optimal, secs))
        if writer:
            writer.writerow(rec)
            fh.flush()
    if writer:
        fh.close()
    n = len(table)
    at_opt = sum(1 for _, g, _, _ in table if abs(g) <= 1e-4)  # 1e-6 relative, in percent
    proven = sum(1 for _, _, o, _ in table if o)
    secs = sorted(t for *_, t in table)
    if n:
        print("-" * len(header))
        print(f"{n} instances: {at_opt} at the known optimum (|gap| <= 1e-6 rel), {proven} proven optimal; "
              f"seconds median {secs[n // 2] if n % 2 else 0.5 * (secs[n // 2 - 1] + secs[n // 2]):.2f}, "
              f"max {secs[-1]:.2f}, total {sum(secs):.1f}")
        worse = [(i, g) for i, g, _, _ in table if g > 1e-4]
        if worse:
            print("above the optimum: " + ", ".join(f"{i} (+{g:.4f}%)" for i, g in worse))
        better = [(i, g) for i, g, _, _ in table if g < -1e-4]
        if better:
            print("BELOW the published optimum (check the data / model): " + ", ".join(f"{i} ({g:.4f}%)" for i, g in better))
    if args.out:
        print(f"wrote {args.out / 'results.csv'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
