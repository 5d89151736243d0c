"""How much search time does a last-mile subproblem need? Time-to-quality curves on the large city.

Usage::

    python benchmarks/time_to_quality.py [--scenario scenarios/large_city.toml] [--sample 8]
        [--budgets 0.25,0.5,1,2,4,8,16] [--plan-time-limit 120] [--seeds 0] [--workers 2]
        [--csv out.csv]

The subproblems are built as :func:`fulfil.bench.scenarios.last_mile_subproblems` builds them
(``compile_night`` → ``allocate`` → ``last_mile_jobs`` → ``last_mile_subproblems``: the plan's
own first-round problems, thermal proxy limits included). ``--sample`` of them, spread over the
range of sizes (jobs), are solved with :func:`solvers.routing.solve_routing` as the plan solves
them — every engine run (OR-Tools, and PyVRP where it can express the problem) on its own worker
process with the whole budget — at each budget in ``--budgets`` and at the budget a
``--plan-time-limit`` plan gives that subproblem (``fulfil.routing_tasks.stage_budgets`` with
the last-mile share and ``--workers``). One solve runs at a time, so ``--workers`` processes
(default 2: the two engine runs) have the machine to themselves.

Printed: per subproblem, the objective (routing + fixed + span costs + penalties of dropped jobs)
relative to the best found for that subproblem over all budgets and seeds, and the wall seconds
of each solve; then, per budget, the sample's summed objective relative to the summed objective
at the plan's budget (negative: better than the 120 s plan), and what budget rules of the form
``max(floor, seconds_per_job × jobs)`` would cost in quality and in wall time for the whole city.
"""

from __future__ import annotations

import argparse
import csv
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path


def build_cases(scenario_path: str, plan_time_limit: float, workers: int):
    from fulfil.night import compile_night
    from fulfil.params import PlanParams
    from fulfil.routing_tasks import stage_budgets
    from fulfil.scenario import load_scenario
    from fulfil.stages.allocate import allocate
    from fulfil.stages.jobs import last_mile_jobs
    from fulfil.stages.subproblems import last_mile_subproblems

    s = load_scenario(Path(scenario_path))
    night = compile_night(s)
    alloc = allocate(night)
    jobs_by_fw, _ = last_mile_jobs(night, alloc.assign, alloc.units)
    subs = last_mile_subproblems(night, jobs_by_fw)
    lm_budget, _ = PlanParams(time_limit_s=plan_time_limit, workers=workers).budgets()
    budgets = stage_budgets([sp.problem for sp in subs], lm_budget, workers)
    names = [str(night.net.forward_ids[sp.owner]) for sp in subs]
    return names, [sp.problem for sp in subs], budgets


def sample(sizes: list[int], k: int) -> list[int]:
    """``k`` indices spread evenly over the sizes (smallest and largest included)."""
    order = sorted(range(len(sizes)), key=lambda i: (sizes[i], i))
    if k >= len(order):
        return order
    picks = sorted({order[round(q * (len(order) - 1) / (k - 1))] for q in range(k)}, key=lambda i: sizes[i])
    return picks


def runs_of(problem) -> int:
    from solvers.routing.solve import RoutingParams, engine_runs

    return max(1, len(engine_runs(problem, RoutingParams(time_limit_s=1.0))))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--scenario", default="scenarios/large_city.toml")
    ap.add_argument("--sample", type=int, default=8)
    ap.add_argument("--budgets", default="0.25,0.5,1,2,4,8,16")
    ap.add_argument("--plan-time-limit", type=float, default=120.0)
    ap.add_argument("--seeds", default="0", help="comma-separated routing seeds (each one more solve per budget)")
    ap.add_argument("--workers", type=int, default=2, help="processes for one solve's engine runs (default 2)")
    ap.add_argument("--csv", default=None, help="write one row per solve here")
    args = ap.parse_args(argv)

    from solvers.routing import solve_routing
    from solvers.routing.solve import RoutingParams

    t0 = time.perf_counter()
    names, problems, plan_b = build_cases(args.scenario, args.plan_time_limit, args.workers)
    sizes = [p.n_jobs for p in problems]
    runs = [runs_of(p) for p in problems]
    print(f"{Path(args.scenario).name}: {len(problems)} last-mile subproblems, {sum(sizes)} jobs "
          f"(min {min(sizes)}, median {sorted(sizes)[len(sizes) // 2]}, max {max(sizes)}); engine runs per "
          f"subproblem: {sorted(set(runs))}; the {args.plan_time_limit:g} s plan gives each engine run "
          f"{min(plan_b):.2f}-{max(plan_b):.2f} s ({1000 * plan_b[0] / sizes[0]:.1f} ms/job); built in "
          f"{time.perf_counter() - t0:.1f} s", flush=True)
    picks = sample(sizes, args.sample)
    budgets = [float(x) for x in args.budgets.split(",")]
    seeds = [int(x) for x in args.seeds.split(",")]
    rows: list[dict] = []
    with ProcessPoolExecutor(args.workers) as pool:
        for i in picks:
            for b, tag in [*((b, f"{b:g}") for b in budgets), (plan_b[i], "plan")]:
                for seed in seeds:
                    t = time.perf_counter()
                    sol = solve_routing(problems[i], RoutingParams(time_limit_s=b, seed=seed), submit=pool.submit)
                    wall = time.perf_counter() - t
                    rows.append({"warehouse": names[i], "jobs": sizes[i], "runs": runs[i], "budget": tag,
                                 "budget_s": round(b, 3), "seed": seed, "objective": int(sol.objective),
                                 "dropped": int(len(sol.dropped)), "status": sol.status,
                                 "engine": getattr(sol, "engine", ""), "wall_s": round(wall, 2)})
                    print(f"  {names[i]:>8s} {sizes[i]:4d} jobs  budget {tag:>5s} ({b:5.2f} s) seed {seed}: "
                          f"objective {sol.objective:>12,d}  dropped {len(sol.dropped):3d}  wall {wall:5.1f} s",
                          flush=True)
    if args.csv:
        with open(args.csv, "w", newline="") as fh:
            w = csv.DictWriter(fh, fieldnames=list(rows[0]))
            w.writeheader()
            w.writerows(rows)

    tags = [f"{b:g}" for b in budgets] + ["plan"]
    by = {(r["warehouse"], r["budget"], r["seed"]): r for r in rows}
    best = {names[i]: min(r["objective"] for r in rows if r["warehouse"] == names[i] and r["objective"] >= 0)
            for i in picks}

    def rel(i: int, tag: str) -> float:  # mean over seeds, % above the best found
        vals = [by[(names[i], tag, s)]["objective"] for s in seeds]
        return 100.0 * (sum(vals) / len(vals) / best[names[i]] - 1.0)

    print("\nObjective relative to the best found for the subproblem (%, mean over seeds); wall s of the solve")
    head = f"{'warehouse':>9s} {'jobs':>5s} {'plan_b':>6s} " + " ".join(f"{t:>7s}" for t in tags)
    print(head)
    print("-" * len(head))
    for i in picks:
        print(f"{names[i]:>9s} {sizes[i]:5d} {plan_b[i]:6.2f} " + " ".join(f"{rel(i, t):7.2f}" for t in tags))
    print(f"{'wall s':>9s} {'':5s} {'':6s} " + " ".join(
        f"{sum(by[(names[i], t, s)]['wall_s'] for i in picks for s in seeds) / len(picks) / len(seeds):7.2f}"
        for t in tags))

    def total(tag: str) -> float:
        return sum(by[(names[i], tag, s)]["objective"] for i in picks for s in seeds)

    ref = total("plan")
    print(f"\nSample total vs the {args.plan_time_limit:g} s plan's budget (%): " + ", ".join(
        f"{t}: {100 * (total(t) / ref - 1):+.2f}" for t in tags))

    # budget rules b = max(floor, c * jobs): quality from the curves (piecewise-linear in log budget), wall
    # for the whole city = sum over subproblems of runs * b / workers
    import math

    def interp(i: int, b: float) -> float:
        pts = sorted((float(by[(names[i], t, seeds[0])]["budget_s"]),
                      sum(by[(names[i], t, s)]["objective"] for s in seeds) / len(seeds)) for t in tags)
        if b <= pts[0][0]:
            return pts[0][1]
        for (b0, y0), (b1, y1) in zip(pts, pts[1:], strict=False):
            if b <= b1:
                w = (math.log(b) - math.log(b0)) / (math.log(b1) - math.log(b0)) if b1 > b0 else 1.0
                return y0 + w * (y1 - y0)
        return pts[-1][1]

    print("\nBudget rules b = max(floor, s_per_job * jobs) per engine run (quality interpolated on the sample; "
          f"routing wall for all {len(problems)} subproblems = sum(runs * b) / {args.workers} workers):")
    print(f"{'floor':>6s} {'ms/job':>6s} {'sample vs plan %':>16s} {'city last-mile wall s':>22s}")
    plan_wall = sum(r * b for r, b in zip(runs, plan_b, strict=True)) / args.workers
    print(f"{'plan':>6s} {'':>6s} {0.0:16.2f} {plan_wall:22.1f}")
    for floor in (0.25, 0.5, 1.0):
        for ms in (2.5, 5.0, 10.0, 20.0):
            q = sum(interp(i, max(floor, ms / 1000 * sizes[i])) for i in picks)
            ref1 = sum(interp(i, plan_b[i]) for i in picks)
            wall = sum(r * max(floor, ms / 1000 * n) for r, n in zip(runs, sizes, strict=True)) / args.workers
            print(f"{floor:6.2f} {ms:6.1f} {100 * (q / ref1 - 1):16.2f} {wall:22.1f}")
    print(f"\ntotal {time.perf_counter() - t0:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
