"""``fulfil replan SCENARIO PLAN EVENTS --out DIR``: re-plan the night after tonight's events.

Writes the new plan folder as ``fulfil plan`` does (:func:`fulfil.report.plan_dir.write_plan_dir`),
plus ``changes.json`` / ``changes.txt`` (what moved, cost and vehicle deltas) and, when late
orders changed the demand, ``scenario.json`` — the scenario the new plan is a plan of, for
``fulfil check``, written in the scenario's own ``coordinate_system`` (so it loads back to the same
model and digest, its GCJ-02 or BD-09 coordinates not converted twice).  Exit codes as ``fulfil plan``'s: 0 ok, 2 bad input (nothing written),
4 the checker found violations, 1 internal error.
"""

from __future__ import annotations

import argparse
import json
import logging
import time
from pathlib import Path

from fulfil.errors import UsageError

log = logging.getLogger("fulfil")

__all__ = ["add_replan_parser", "run_replan"]


def add_replan_parser(subparsers: argparse._SubParsersAction, parents: list[argparse.ArgumentParser] | None = None
                      ) -> argparse.ArgumentParser:
    """Add the ``replan`` subcommand (``parents``: the options every subcommand takes, e.g. ``-q``)."""
    from fulfil.params import DEFAULT_MOVE_PENALTY

    sp = subparsers.add_parser(
        "replan", parents=parents or [],
        help="re-plan a night after events (late orders, a vehicle down, locks, closed points); "
             "moves as few stops as it needs",
        description="Re-plan from PLAN after the events in EVENTS (JSON: late_orders, vehicle_down, locks, closed; "
                    "docs/replan.md). Writes DIR/plan.json and the trip sheets as `fulfil plan` does, plus "
                    "DIR/changes.json and DIR/changes.txt.")
    sp.add_argument("scenario", help="the scenario the plan was made for")
    sp.add_argument("plan", help="the previous plan.json")
    sp.add_argument("events", help="events JSON file")
    sp.add_argument("--out", required=True, help="output folder for the new plan")
    sp.add_argument("--seed", type=int, default=0, help="order of the local search (default 0)")
    sp.add_argument("--time-limit", type=float, default=10.0,
                    help="wall-clock seconds for the local search (default 10; 0 = run it to a local optimum, "
                         "deterministic)")
    sp.add_argument("--move-penalty", type=float, default=DEFAULT_MOVE_PENALTY,
                    help=f"RMB per stop that leaves its previous trip (default {DEFAULT_MOVE_PENALTY:g})")
    sp.add_argument("--charts", type=int, default=2,
                    help="temperature charts for the first N routes in DIR/thermal/ (-1 = all)")
    sp.set_defaults(func=run_replan)
    return sp


def run_replan(args: argparse.Namespace) -> int:
    from fulfil.checker import check_plan, summarize
    from fulfil.plan_model import CheckResult, read_plan
    from fulfil.replan import ReplanParams, changes_text, load_events, replan
    from fulfil.report.tables import summary
    from fulfil.scenario import load_scenario
    from fulfil.report.plan_dir import check_plan_folder, write_plan_dir
    from fulfil.scenario.load import scenario_document

    if args.time_limit is not None and args.time_limit < 0:
        raise UsageError("--time-limit must be 0 (run to a local optimum) or more")
    if args.move_penalty < 0:
        raise UsageError("--move-penalty must be 0 or more")
    out = Path(args.out)
    check_plan_folder(out)  # before any work: a bad --out is not found after the re-plan
    t0 = time.perf_counter()
    scenario_path, plan_path, events_path = Path(args.scenario), Path(args.plan), Path(args.events)
    log.info("loading %s, %s and %s", scenario_path, plan_path, events_path)
    s = load_scenario(scenario_path)
    before = read_plan(plan_path)
    events = load_events(events_path)
    params = ReplanParams(move_penalty=args.move_penalty, seed=args.seed, time_limit_s=args.time_limit or None)
    log.info("re-planning: %d late order(s), %d vehicle(s) down, %d lock(s), %d closed point(s)",
             len(events.late_orders), len(events.vehicle_down), len(events.locks), len(events.closed))
    result = replan(s, before, events, params, check=False, plan_source=str(plan_path),
                    events_source=str(events_path))
    log.info("checking the new plan independently")
    violations = check_plan(result.scenario, result.plan)
    plan = result.plan.model_copy(update={"check": CheckResult.of([v.cause for v in violations])})
    text = changes_text(result.changes)
    extra = {"changes.json": json.dumps(result.changes.to_doc(), indent=1, ensure_ascii=False) + "\n",
             "changes.txt": text}
    if result.scenario is not s:
        extra["scenario.json"] = json.dumps(scenario_document(result.scenario), indent=1, ensure_ascii=False) + "\n"
    write_plan_dir(plan, out, result.scenario, None if args.charts < 0 else args.charts, extra=extra)
    print(summary(plan))
    print("\n" + text)
    print(f"Wrote {out / 'plan.json'}, {out / 'changes.txt'} ({time.perf_counter() - t0:.1f} s)")
    if violations:
        print("\nThe checker found violations:\n" + summarize(violations))
        return 4
    print("Independent check: no violation.")
    return 0
