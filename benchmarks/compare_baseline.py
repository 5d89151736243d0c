"""Optimised plan vs naive nearest-neighbour dispatch, side by side in one run.

Usage::

    python benchmarks/compare_baseline.py scenarios/demo_city.toml [--time-limit 12] [--seed 0]

Both plans use the same assignment of pickup points to forward warehouses, the same
fleet and constraints, and both are re-verified by the independent checker.
"""

from __future__ import annotations

import argparse
import sys
import time

from fulfil.checker import check_plan
from fulfil.pipeline import PlanParams, plan_night
from fulfil.report.tables import table
from fulfil.scenario import load_scenario


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("scenario")
    ap.add_argument("--time-limit", type=float, default=12.0)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    s = load_scenario(args.scenario)
    rows = []
    plans = {}
    for name, params in (
        ("nearest neighbour", PlanParams(time_limit_s=args.time_limit, seed=args.seed, engine="nearest")),
        ("fulfil (OR-Tools)", PlanParams(time_limit_s=args.time_limit, seed=args.seed)),
    ):
        t0 = time.perf_counter()
        plan = plan_night(s, params, source=args.scenario)
        wall = time.perf_counter() - t0
        v = check_plan(s, plan)
        k = plan.kpis.model_dump()
        plans[name] = plan
        rows.append([name, k["vehicles"], k["distance_km"], k["duration_h"], k["cost"], k["cost_per_order"],
                     k["orders_unserved"], len(v), round(wall, 1)])
    print(table(["engine", "vehicles", "km", "hours", "cost RMB", "RMB/order", "orders unserved",
                 "violations", "wall s"], rows))
    base, opt = plans["nearest neighbour"].kpis.model_dump(), plans["fulfil (OR-Tools)"].kpis.model_dump()
    print(f"\ncost ratio fulfil / nearest neighbour = {opt['cost'] / base['cost']:.4f}; "
          f"km ratio = {opt['distance_km'] / base['distance_km']:.4f}; "
          f"vehicles {opt['vehicles']} vs {base['vehicles']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
