"""``fulfil`` command line: plan, check, validate, generate.

Errors are caught once here: a :class:`FulfilError` prints one clear message and
exits with its code; anything else is an internal error (exit 1) with a one-line
hint, never a traceback (set ``FULFIL_DEBUG=1`` to see it).  Exit codes: see
:mod:`fulfil.errors` and the README.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from fulfil.errors import FulfilError, UsageError

log = logging.getLogger("fulfil")


class _Progress(logging.Handler):
    """Progress lines on stderr with elapsed seconds."""

    def __init__(self) -> None:
        super().__init__()
        self.t0 = time.perf_counter()

    def emit(self, record: logging.LogRecord) -> None:
        sys.stderr.write(f"[{time.perf_counter() - self.t0:6.1f}s] {record.getMessage()}\n")
        sys.stderr.flush()


def _setup_logging(quiet: bool) -> None:
    log.handlers.clear()
    log.addHandler(_Progress())
    log.setLevel(logging.WARNING if quiet else logging.INFO)
    log.propagate = False


def _cmd_validate(args: argparse.Namespace) -> int:
    from fulfil.feasibility import precheck
    from fulfil.night import compile_night
    from fulfil.scenario import load_scenario

    path = Path(args.scenario)
    s = load_scenario(path)
    night = compile_night(s)
    precheck(night, path.name)
    print(f"{path.name}: valid — {len(s.central_warehouses)} central, {len(s.forward_warehouses)} forward "
          f"warehouses, {len(s.pickup_points)} pickup points, {int(night.net.orders.sum())} orders, "
          f"{sum(v.count for v in s.vehicle_types)} vehicles")
    return 0


def _executor(args: argparse.Namespace):
    """The executor the command's parallel work runs on: ``--cluster`` (or FULFIL_CLUSTER), else a
    process pool of ``--workers``."""
    from fulfil.executor import cluster_from_env, make_executor

    cluster = getattr(args, "cluster", None) or cluster_from_env()
    return make_executor(args.workers, cluster=cluster)


def _plan_params(args: argparse.Namespace):
    from fulfil.params import PlanParams

    if args.time_limit is not None and args.time_limit < 0:
        raise UsageError("--time-limit must be positive (or 0 for no time limit, with --solutions)")
    if args.time_limit is None and args.solutions is None and getattr(args, "time_per_job", None) is None:
        raise UsageError("--time-limit 0 needs --solutions N (a deterministic budget)")
    if args.solutions is not None and args.solutions < 1:
        raise UsageError("--solutions must be at least 1")
    if args.workers < 0:
        raise UsageError("--workers must be 0 (one per core) or more")
    if getattr(args, "cities", 1) < 1:
        raise UsageError("--cities must be at least 1")
    per_job = getattr(args, "time_per_job", None)
    if per_job is not None and per_job <= 0:
        raise UsageError("--time-per-job must be positive")
    return PlanParams(time_limit_s=args.time_limit, solution_limit=args.solutions, seed=args.seed,
                      workers=args.workers, engine=args.engine, seconds_per_job=per_job)


def _cmd_plan(args: argparse.Namespace) -> int:
    paths = [Path(p) for p in args.scenario]
    if len(paths) > 1 or paths[0].is_dir():
        return _cmd_plan_national(args, paths)
    if args.resume:
        raise UsageError("--resume is for several cities (several scenario files or a folder of them)")
    from fulfil.pipeline import plan_night, stop_on_ctrl_c
    from fulfil.plan_model import CheckResult
    from fulfil.report.plan_dir import check_plan_folder, write_plan_dir
    from fulfil.report.tables import summary
    from fulfil.scenario import load_scenario

    path = paths[0]
    out = Path(args.out)
    params = _plan_params(args)
    check_plan_folder(out)  # a bad --out now, not after the solve
    t0 = time.perf_counter()
    log.info("loading %s", path)
    s = load_scenario(path)
    ex = _executor(args)
    with stop_on_ctrl_c(ex):  # from here Ctrl-C stops the searches; the plan is still checked and written
        try:
            plan = plan_night(s, params, source=path.name, executor=ex)
        except BaseException:
            ex.shutdown(cancel=True)
            raise
        ex.shutdown(cancel=ex.stop_level > 0)  # after a Ctrl-C: nothing left worth waiting for
        violations = []
        if not args.no_check:
            from fulfil.checker import check_plan

            log.info("checking the plan independently")
            violations = check_plan(s, plan)
            plan = plan.model_copy(update={"check": CheckResult.of([v.cause for v in violations])})
        write_plan_dir(plan, out, s, charts=None if args.charts < 0 else args.charts)
    with ignoring_ctrl_c():  # the plan is written: a Ctrl-C now must not change the outcome
        print(summary(plan))
        n_trips = sum(1 for _ in plan.trips())
        print(f"\nWrote {out / 'plan.json'}, {n_trips} trip sheets in {out / 'route_sheets'}, "
              f"{out / 'map.png'} ({time.perf_counter() - t0:.1f} s)")
        if violations:
            from fulfil.checker import summarize

            print("\nThe checker found violations:\n" + summarize(violations))
            return 4
        if not args.no_check:
            print("Independent check: no violation.")
        return plan.code


def _cmd_plan_national(args: argparse.Namespace, paths: list[Path]) -> int:
    from fulfil.national import plan_national, scenario_files
    from fulfil.pipeline import stop_on_ctrl_c

    files = scenario_files(paths)
    params = _plan_params(args)
    out = Path(args.out)
    t0 = time.perf_counter()
    ex = _executor(args)
    with stop_on_ctrl_c(ex), ex:  # Ctrl-C stops every city's searches; each city is still written
        results = plan_national(files, params, ex, out, resume=args.resume, concurrent=args.cities,
                                charts=None if args.charts < 0 else args.charts, check=not args.no_check)
    print((out / "national.txt").read_text(encoding="utf-8"))
    print(f"Wrote {len(results)} city folders and {out / 'national.csv'} ({time.perf_counter() - t0:.1f} s)")
    if any(r.status == "failed" for r in results):
        return 1
    if any(r.status == "violations" for r in results):
        return 4
    if any(r.status == "interrupted" for r in results):
        return 130
    return 0


def _cmd_check(args: argparse.Namespace) -> int:
    from fulfil.checker import check_plan, load_plan, summarize
    from fulfil.scenario import load_scenario

    s = load_scenario(Path(args.scenario))
    plan = load_plan(Path(args.plan))
    violations = check_plan(s, plan)
    if violations:
        print(summarize(violations))
        if args.verbose:
            for v in violations:
                where = f"{v.trip or v.vehicle or '-'}" + (f" stop {v.stop + 1}" if v.stop is not None else "")
                print(f"  {v.cause:24s} {where:20s} {v.message}")
        print(f"\n{len(violations)} violation(s).")
        return 4
    k = plan.kpis
    n_trips = sum(1 for _ in plan.trips())
    print(f"OK: {len(plan.duties)} vehicles, {n_trips} trips re-timed and re-loaded from the scenario; no violation. "
          f"2-hour compliance {k.two_hour_compliance}, cold-chain compliance {k.cold_chain_compliance}.")
    if plan.code == 130:  # the plan keeps every rule, but it is what the planner had when interrupted
        print("Note: the plan says its search was interrupted (code 130): it is the best plan found by then.")
    return 0


def _cmd_generate(args: argparse.Namespace) -> int:
    from fulfil.generate import GenerateConfig, write_scenario

    try:
        cfg = GenerateConfig(name=args.name, city=args.city, seed=args.seed, central_warehouses=args.central,
                             forward_warehouses=args.forward, pickup_points=args.pickups, orders=args.orders,
                             max_trips=args.max_trips)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    path = write_scenario(cfg, args.out)
    print(f"wrote {path} (+ CSV tables beside it)")
    return 0


def build_parser() -> argparse.ArgumentParser:
    from fulfil import __version__

    p = argparse.ArgumentParser(
        prog="fulfil",
        description="Nightly route plans for community group buying: central → forward warehouse → pickup point.",
        epilog="Exit codes: 0 ok; 1 internal error; 2 bad input; 4 check found violations; "
               "130 interrupted (best plan so far written).",
    )
    p.add_argument("-q", "--quiet", action="store_true", help="no progress lines")
    p.add_argument("--version", action="version", version=f"fulfil {__version__}")
    # Options every subcommand also takes after its name (`fulfil plan X -q`); SUPPRESS keeps a
    # subcommand from resetting what was given before it (`fulfil -q plan X`).
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("-q", "--quiet", action="store_true", default=argparse.SUPPRESS, help="no progress lines")
    # What the commands that read a scenario also take.
    reads = argparse.ArgumentParser(add_help=False, parents=[common])
    reads.add_argument("--allow-outside", action="store_true",
                       help="let the scenario's CSV tables and matrix file lie outside its folder "
                            "(also FULFIL_ALLOW_OUTSIDE=1)")
    sub = p.add_subparsers(dest="command", required=True)

    sp = sub.add_parser("plan", parents=[reads], help="plan one night and write DIR/plan.json + trip sheets; "
                                                        "several cities: one folder each + a national summary")
    sp.add_argument("scenario", nargs="+", help="a scenario file; or several, or folders of them (a national night)")
    sp.add_argument("--out", required=True,
                    help="output folder, replaced whole by the new plan (absent, empty or an earlier plan's); "
                         "several cities: OUT/<city>/ and OUT/national.csv")
    sp.add_argument("--time-limit", type=float, default=12.0, help="routing wall-clock budget, s (default 12)")
    sp.add_argument("--time-per-job", type=float, default=None, metavar="S",
                    help="search time by size instead of --time-limit: each subproblem's engine runs get "
                         "max(0.5, S x jobs) seconds (0.005 kept the large city within 0.2 %% of the cost of a "
                         "120 s plan, in about a minute)")
    sp.add_argument("--solutions", type=int, default=None,
                    help="deterministic budget: max solutions per routing subproblem; with --time-limit 0 "
                         "the plan depends only on scenario and seed")
    sp.add_argument("--seed", type=int, default=0)
    sp.add_argument("--workers", type=int, default=0, help="worker processes (0 = one per core)")
    sp.add_argument("--engine", default="ortools", choices=["ortools", "nearest"],
                    help="routing engine; 'nearest' is the naive nearest-neighbour dispatch baseline")
    sp.add_argument("--charts", type=int, default=2,
                    help="temperature charts for the first N routes in DIR/thermal/ (-1 = all; ~1 s each)")
    sp.add_argument("--no-check", action="store_true", help="skip the independent check at the end")
    sp.add_argument("--cluster", default=None,
                    help="run the routing on a Dask cluster: tcp://HOST:8786 (an existing scheduler) or local:N "
                         "(N workers on this machine); default: FULFIL_CLUSTER, else a process pool of --workers")
    sp.add_argument("--resume", action="store_true", help="several cities: skip those already planned in OUT")
    sp.add_argument("--cities", type=int, default=2, help="several cities: how many are planned at a time (default 2)")
    sp.set_defaults(func=_cmd_plan)

    sc = sub.add_parser("check", parents=[reads], help="re-verify a plan against its scenario (exit 0 only when clean)")
    sc.add_argument("scenario")
    sc.add_argument("plan")
    sc.add_argument("-v", "--verbose", action="store_true", help="list every violation")
    sc.set_defaults(func=_cmd_check)

    sv = sub.add_parser("validate", parents=[reads], help="validate a scenario file and exit")
    sv.add_argument("scenario")
    sv.set_defaults(func=_cmd_validate)

    sg = sub.add_parser("generate", parents=[common], help="write a synthetic scenario from a seed and size knobs")
    sg.add_argument("--out", required=True, help="folder for the scenario and its CSV tables")
    sg.add_argument("--name", default="generated")
    sg.add_argument("--city", default="changsha", help="changsha or shanghai")
    sg.add_argument("--seed", type=int, default=7)
    sg.add_argument("--central", type=int, default=1)
    sg.add_argument("--forward", type=int, default=8)
    sg.add_argument("--pickups", type=int, default=400)
    sg.add_argument("--orders", type=int, default=20_000)
    sg.add_argument("--max-trips", type=int, default=2,
                    help="trips a last-mile vehicle makes (policies.max_trips, 1-6); the fleets are sized for them")
    sg.set_defaults(func=_cmd_generate)

    from fulfil.bench.command import cmd_bench  # light module: heavy imports happen inside cmd_bench

    sb = sub.add_parser("bench", parents=[common],
                        help="run a standard instance set or scenario files; gap to best known, peers side by side")
    sb.add_argument("set_dir", metavar="SET_DIR",
                    help="folder of Solomon/Homberger .txt, VRPLIB .vrp, 2E-CVRP .dat or OR-Library facility "
                         "location files, or a folder name in the shared benchmark data (solomon, homberger_200, "
                         "cvrp_x, 2e_vrp/Set2a, mtvrptwr, facility_location/cflp, ...); or a scenario file or folder of "
                         "scenario files (plan KPIs, seconds per stage, peak memory; --vs re-solves each "
                         "warehouse's last mile with the peers)")
    sb.add_argument("--instances", default=None, help="comma-separated instance names (default: all)")
    sb.add_argument("--time-limit", type=float, required=True, help="wall-clock seconds per instance and solver "
                                                                          "(scenario files: the plan's routing budget)")
    sb.add_argument("--seed", type=int, default=0)
    sb.add_argument("--workers", type=int, default=0,
                    help="instances at a time; each uses 2 worker processes for ours, one for mtvrptwr "
                         "(0 = one per two cores)")
    sb.add_argument("--out", required=True, help="output folder: results.csv, summary.txt, gaps.png (gap per "
                                                 "instance, ours against each peer), <solver>/<instance>.sol")
    sb.add_argument("--vs", default="", help="comma-separated peers run with the same budget: "
                                             "ortools-plain, pyvrp, vroom (missing ones are skipped)")
    sb.add_argument("--objective", choices=["distance", "vehicles"], default=None,
                    help="Solomon/Homberger: 'distance' (arcs truncated to 0.1, bks_distance_only.csv; default "
                         "when available) or 'vehicles' (vehicles first, exact distance, bks.csv)")
    sb.set_defaults(func=cmd_bench)

    def cmd_rollout(args: argparse.Namespace) -> int:
        from fulfil.rollout.command import cmd_rollout as run

        return run(args)

    sro = sub.add_parser("rollout", parents=[common],
                         help="simulate a phased rollout of a region: siting, daily plans, KPIs, variants")
    sro.add_argument("region", metavar="REGION_SCENARIO", help="region TOML (with its GeoJSON boundary and CSV tables)")
    sro.add_argument("--days", type=int, default=None, help="simulated days per phase (default: the region's)")
    sro.add_argument("--out", required=True, help="output folder")
    sro.add_argument("--seed", type=int, default=None, help="demand and routing seed (default: the region's)")
    sro.add_argument("--workers", type=int, default=0, help="worker processes (0 = one per core)")
    sro.add_argument("--cluster", default=None,
                     help="simulate the days on a Dask cluster: tcp://HOST:8786 or local:N (default: FULFIL_CLUSTER)")
    sro.add_argument("--variants", default=None, help="comma-separated variants of the region file, the first is "
                                                      "the baseline (default: the region's simulation.variants)")
    sro.add_argument("--solutions", type=int, default=None,
                     help="deterministic routing budget per subproblem (default: the region's solution_limit)")
    sro.set_defaults(func=cmd_rollout)

    def _replay(args: argparse.Namespace) -> int:
        from fulfil.replay import cmd_replay

        return cmd_replay(args)

    sr = sub.add_parser("replay", parents=[common],
                        help="compare temperature-logger readings with the plan's predicted traces "
                             "(or --synthesize a logger file from them)",
                        usage="fulfil replay SCENARIO PLAN LOGGER_CSV [--out DIR]\n"
                              "       fulfil replay --synthesize OUT.csv SCENARIO PLAN [--seed N]")
    sr.add_argument("scenario", help="the scenario the plan was made for")
    sr.add_argument("plan", help="plan.json")
    sr.add_argument("logger", nargs="?", default=None, metavar="LOGGER_CSV",
                    help="CSV with columns vehicle, compartment, timestamp, temp_c")
    sr.add_argument("--out", default=None, help="folder for replay.csv (excursions) and replay_errors.csv")
    sr.add_argument("--synthesize", metavar="OUT.csv", default=None,
                    help="write a synthetic logger file from the plan's traces instead of replaying one")
    sr.add_argument("--seed", type=int, default=0, help="--synthesize: noise seed (default 0)")
    sr.add_argument("--bias-c", type=float, default=0.5, help="--synthesize: sensor bias, °C (default 0.5)")
    sr.add_argument("--noise-c", type=float, default=0.3, help="--synthesize: noise s.d., °C (default 0.3)")
    sr.add_argument("--every-min", type=float, default=2.0, help="--synthesize: logging interval, min (default 2)")
    sr.set_defaults(func=_replay)

    from fulfil.replan_cli import add_replan_parser
    from fulfil.service.cli import add_serve_parser

    add_replan_parser(sub, parents=[reads])
    add_serve_parser(sub, parents=[common])
    return p


@contextmanager
def ignoring_ctrl_c() -> Iterator[None]:
    """Within the block SIGINT is ignored (main thread only; the previous handler is restored)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, signal.default_int_handler if previous is None else previous)


def run() -> None:
    """The ``fulfil`` command: :func:`main`, then exit with its code; a Ctrl-C while the
    interpreter shuts down (everything is written by then) cannot turn that exit into a crash."""
    code = main()
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    sys.exit(code)


class _CtrlC:
    """Python's own Ctrl-C behaviour (raise KeyboardInterrupt) that also notes the Ctrl-C, so one that a
    library wraps in an error of its own (pydantic building a schema when the scenario model is first
    used) still ends as an interruption (130), not as an internal error."""

    seen = False

    def __call__(self, signum, frame) -> None:
        self.seen = True
        raise KeyboardInterrupt


@contextmanager
def _noting_ctrl_c() -> Iterator[_CtrlC]:
    """:class:`_CtrlC` as the SIGINT handler while the command runs (only where Python's default one is
    in place: the main thread, Ctrl-C not ignored); the previous handler is put back after."""
    ctrl_c = _CtrlC()
    mine = (threading.current_thread() is threading.main_thread()
            and signal.getsignal(signal.SIGINT) is signal.default_int_handler)
    if mine:
        signal.signal(signal.SIGINT, ctrl_c)
    try:
        yield ctrl_c
    finally:
        if mine and signal.getsignal(signal.SIGINT) is ctrl_c:
            signal.signal(signal.SIGINT, signal.default_int_handler)


def main(argv: list[str] | None = None) -> int:
    with _noting_ctrl_c() as ctrl_c:
        return _main(argv, ctrl_c)


def _main(argv: list[str] | None, ctrl_c: _CtrlC) -> int:
    try:
        parser = build_parser()
        args = parser.parse_args(argv)
        _setup_logging(args.quiet)
        if getattr(args, "time_limit", None) is not None and args.time_limit == 0:
            args.time_limit = None
        if getattr(args, "allow_outside", False):  # every loader this command runs (national cities too)
            from fulfil.scenario.load import ALLOW_OUTSIDE_ENV

            os.environ[ALLOW_OUTSIDE_ENV] = "1"
        return int(args.func(args))
    except FulfilError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:  # before any plan was found (later, Ctrl-C stops the searches instead)
        with ignoring_ctrl_c():  # a second Ctrl-C must not turn the exit into a crash
            print("interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # an internal error: keep it to one line unless debugging
        if ctrl_c.seen:  # a Ctrl-C that a library turned into its own error
            with ignoring_ctrl_c():
                print("interrupted", file=sys.stderr)
            return 130
        if os.environ.get("FULFIL_DEBUG"):
            raise
        print(f"internal error: {type(exc).__name__}: {exc} (set FULFIL_DEBUG=1 for details; please report)",
              file=sys.stderr)
        return 1


if __name__ == "__main__":
    run()
