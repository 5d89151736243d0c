"""The large city's whole path, stage by stage: seconds and peak memory per stage.

Usage::

    python benchmarks/large_city_profile.py [--time-limit 20] [--scenario scenarios/large_city.toml]
        [--solutions N] [--seed 0] [--workers 0] [--out DIR] [--charts 2] [--tracemalloc]
        [--cprofile FILE.prof] [--json FILE]

Runs what ``fulfil plan`` runs, in one process, timing each step separately: imports, loading
the scenario, :func:`fulfil.pipeline.plan_night` (with its own per-stage ``stats``: compile,
allocation, subproblem build, last-mile routing, cold-chain repair, trunk, assembly), the
independent check, and writing the outputs (:func:`fulfil.cli.write_plan_dir`, split into trip
sheets + loading lists, unserved/summary, map, thermal charts and plan.json).

Memory columns:

* ``rss_mb``    – resident set size of this process at the end of the stage (``/proc/self/statm``);
* ``peak_mb``   – peak RSS of this process so far (``getrusage(RUSAGE_SELF).ru_maxrss``; monotone,
  so a stage that raises it is the one that set the peak);
* ``py_peak_mb`` – with ``--tracemalloc``: peak of Python allocations *within* the stage
  (``tracemalloc.reset_peak``; slows the run by ~2x, so use it for memory, not for seconds).

The routing workers are separate processes: their peak is ``getrusage(RUSAGE_CHILDREN)``
(largest child that has ended), printed under the table.  ``--time-limit`` is the routing
budget (``fulfil plan --time-limit``); ``--time-limit 0 --solutions N`` is a deterministic budget.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import time
from pathlib import Path

T0 = time.perf_counter()


def _rss_mb() -> float:
    try:
        with open("/proc/self/statm") as fh:
            return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
    except OSError:
        return float("nan")


def _peak_mb(who: int = resource.RUSAGE_SELF) -> float:
    return resource.getrusage(who).ru_maxrss / 1024.0  # Linux: KiB


class Stages:
    def __init__(self, trace: bool):
        self.rows: list[dict] = []
        self.trace = trace
        self._t = time.perf_counter()
        if trace:
            import tracemalloc

            tracemalloc.start()

    def lap(self, name: str, seconds: float | None = None, indent: bool = False) -> None:
        now = time.perf_counter()
        row = {"stage": ("  " if indent else "") + name, "s": (now - self._t) if seconds is None else seconds,
               "rss_mb": _rss_mb(), "peak_mb": _peak_mb()}
        if self.trace and not indent:
            import tracemalloc

            row["py_peak_mb"] = tracemalloc.get_traced_memory()[1] / 2**20
            tracemalloc.reset_peak()
        self.rows.append(row)
        if not indent:
            self._t = time.perf_counter()

    def table(self) -> str:
        head = f"{'stage':<28s} {'seconds':>8s} {'rss_mb':>8s} {'peak_mb':>8s}" + (
            f" {'py_peak_mb':>10s}" if self.trace else "")
        lines = [head, "-" * len(head)]
        for r in self.rows:
            line = f"{r['stage']:<28s} {r['s']:8.2f} {r['rss_mb']:8.0f} {r['peak_mb']:8.0f}"
            if self.trace:
                line += f" {r['py_peak_mb']:10.0f}" if "py_peak_mb" in r else f" {'':>10s}"
            lines.append(line)
        return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--scenario", default="scenarios/large_city.toml")
    ap.add_argument("--time-limit", type=float, default=20.0, help="routing budget, s (0 = none: needs --solutions)")
    ap.add_argument("--solutions", type=int, default=None)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--workers", type=int, default=0)
    ap.add_argument("--out", default=None, help="output folder (default: a temporary folder, removed)")
    ap.add_argument("--charts", type=int, default=2, help="thermal charts as fulfil plan --charts (default 2)")
    ap.add_argument("--tracemalloc", action="store_true", help="Python-allocation peak per stage (slower)")
    ap.add_argument("--cprofile", default=None, help="write a cProfile of this process (not the workers) here")
    ap.add_argument("--json", default=None, help="also write the rows and the plan's stats as JSON here")
    args = ap.parse_args(argv)

    import logging
    import shutil
    import tempfile

    logging.basicConfig(level=logging.WARNING)
    st = Stages(args.tracemalloc)
    prof = None
    if args.cprofile:
        import cProfile

        prof = cProfile.Profile()
        prof.enable()

    from fulfil.checker import check_plan
    try:  # the plan folder writer (moved out of the CLI module)
        from fulfil.report.plan_dir import write_plan_dir
    except ImportError:
        from fulfil.cli import write_plan_dir
    from fulfil.pipeline import PlanParams, plan_night
    from fulfil.plan_model import CheckResult
    from fulfil.scenario import load_scenario

    st.lap("import")
    path = Path(args.scenario)
    s = load_scenario(path)
    st.lap("load")
    params = PlanParams(time_limit_s=args.time_limit or None, solution_limit=args.solutions, seed=args.seed,
                        workers=args.workers)
    plan = plan_night(s, params, source=path.name)
    st.lap("plan_night")
    stats = dict(plan.stats or {})
    for k in ("compile_s", "allocation_s", "build_s", "last_mile_s", "cold_chain_s", "trunk_s", "assembly_s"):
        if k in stats:
            st.lap(k[:-2], seconds=stats[k], indent=True)
    violations = check_plan(s, plan)
    plan = plan.model_copy(update={"check": CheckResult.of([v.cause for v in violations])})
    st.lap("check")
    out = Path(args.out) if args.out else Path(tempfile.mkdtemp(prefix="large_city_profile."))
    import fulfil.report.charts as charts_mod
    import fulfil.report.maps as maps_mod

    parts: dict[str, float] = {}

    def timed(mod, name):  # time the map and the charts inside write_plan_dir
        fn = getattr(mod, name)

        def wrap(*a, **kw):
            t = time.perf_counter()
            try:
                return fn(*a, **kw)
            finally:
                parts[name] = parts.get(name, 0.0) + time.perf_counter() - t
        setattr(mod, name, wrap)
        return fn

    orig = [(charts_mod, "write_thermal_charts", timed(charts_mod, "write_thermal_charts")),
            (maps_mod, "plot_plan_map", timed(maps_mod, "plot_plan_map"))]
    import fulfil.plan_model as pm

    orig.append((pm, "write_plan", timed(pm, "write_plan")))
    try:
        write_plan_dir(plan, out, s, charts=None if args.charts < 0 else args.charts)
    finally:
        for mod, name, fn in orig:
            setattr(mod, name, fn)
    st.lap("write_outputs")
    w = st.rows[-1]["s"]
    st.lap("sheets+lists+csv+summary", seconds=w - sum(parts.values()), indent=True)
    for name, label in (("plot_plan_map", "map.png"), ("write_thermal_charts", "thermal charts"),
                        ("write_plan", "plan.json")):
        st.lap(label, seconds=parts.get(name, 0.0), indent=True)
    if prof is not None:
        prof.disable()
        prof.dump_stats(args.cprofile)
    if not args.out:
        shutil.rmtree(out, ignore_errors=True)

    total = time.perf_counter() - T0
    outside = total - stats.get("last_mile_s", 0) - stats.get("cold_chain_s", 0) - stats.get("trunk_s", 0)
    print(f"{path.name}: time limit {args.time_limit} s, solutions {args.solutions}, seed {args.seed}, "
          f"workers {params.n_workers}")
    print(st.table())
    print("-" * 56)
    print(f"{'total (wall, this process)':<28s} {total:8.2f}")
    print(f"{'outside routing':<28s} {outside:8.2f}")
    print(f"peak RSS: this process {_peak_mb():.0f} MB, largest routing worker "
          f"{_peak_mb(resource.RUSAGE_CHILDREN):.0f} MB")
    k = plan.kpis
    print(f"cost {k.cost:,.2f}  trips {k.trips}  stops {k.stops}  orders served {k.orders_served:,.0f}"
          f"/{k.orders_total:,}  violations {len(violations)}")
    if args.json:
        Path(args.json).write_text(json.dumps({"rows": st.rows, "stats": stats, "cost": k.cost, "total_s": total,
                                               "outside_routing_s": outside, "violations": len(violations),
                                               "peak_mb": _peak_mb(),
                                               "peak_children_mb": _peak_mb(resource.RUSAGE_CHILDREN)}, indent=1))
    return 0 if not violations else 4


if __name__ == "__main__":
    sys.exit(main())
