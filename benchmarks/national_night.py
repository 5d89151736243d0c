"""A national night of generated cities: process pool against a local Dask cluster, side by side.

Usage::

    python benchmarks/national_night.py [--cities 8] [--solutions 40] [--rounds 2] [--workers 2]

Generates ``--cities`` small cities (seeded), then plans them ``--rounds`` times on each
executor in turn (pool, Dask, pool, Dask, …) under a deterministic budget, and prints the
wall time of each run, the median ratio Dask / pool, whether every city's plan is identical
on both, and the per-city and per-subproblem times a capacity estimate needs.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path


def plans(out: Path) -> dict[str, dict]:
    got = {}
    for d in sorted(p for p in out.iterdir() if p.is_dir() and not p.name.startswith(".")):
        doc = json.loads((d / "plan.json").read_text(encoding="utf-8"))
        doc.pop("stats")
        doc["params"].pop("workers")
        got[d.name] = doc
    return got


def main(argv: list[str] | None = None) -> int:
    from fulfil.executor import make_executor
    from fulfil.generate import GenerateConfig, write_scenario
    from fulfil.national import plan_national, scenario_files
    from fulfil.params import PlanParams
    from fulfil.report.tables import table

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cities", type=int, default=8)
    ap.add_argument("--solutions", type=int, default=40)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--workers", type=int, default=2)
    args = ap.parse_args(argv)

    root = Path(tempfile.mkdtemp(prefix="national-"))
    src = root / "cities"
    src.mkdir()
    for i in range(args.cities):
        write_scenario(GenerateConfig(name=f"city{i:02d}", seed=100 + i, forward_warehouses=2 + i % 3,
                                      pickup_points=60 + 20 * (i % 4), orders=3000 + 600 * (i % 4)), src)
    files = scenario_files([src])
    params = PlanParams(time_limit_s=None, solution_limit=args.solutions, seed=1, workers=args.workers)
    walls: dict[str, list[float]] = {"pool": [], "dask": []}
    rows = []
    last: dict[str, Path] = {}
    for r in range(args.rounds):
        for name, cluster in (("pool", None), ("dask", f"local:{args.workers}")):
            with make_executor(args.workers, cluster=cluster) as ex:
                ex.warm_up()
                out = root / f"{name}{r}"
                t0 = time.perf_counter()
                res = plan_national(files, params, ex, out, concurrent=2)
                wall = time.perf_counter() - t0
            walls[name].append(wall)
            last[name] = out
            rows.append([r + 1, name, round(wall, 2), sum(x.status == "ok" for x in res), len(res)])
            print(f"round {r + 1} {name}: {wall:.2f} s", file=sys.stderr)
    same = plans(last["pool"]) == plans(last["dask"])
    print(table(["round", "executor", "wall s", "cities ok", "cities"], rows))
    ratio = statistics.median(d / p for d, p in zip(walls["dask"], walls["pool"], strict=True))
    print(f"\nmedian wall: pool {statistics.median(walls['pool']):.2f} s, dask {statistics.median(walls['dask']):.2f} s;"
          f" median ratio dask/pool {ratio:.3f}; identical plans: {same}")
    city = [json.loads((last["pool"] / f.stem / "plan.json").read_text(encoding="utf-8"))["stats"] for f in files]
    print(f"per city (pool, last round): plan {statistics.median(c['total_s'] for c in city):.2f} s median, "
          f"of which routing {statistics.median(c['routing_s'] for c in city):.2f} s")
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
