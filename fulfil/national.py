"""A national night: many cities planned on one executor, one plan folder per city.

``fulfil plan A.toml B.toml …`` (or a folder of scenario files) plans every city, checks it
and writes ``OUT/<city>/`` — plan.json, sheets, map, everything ``fulfil plan`` writes for
one city — as each city finishes, then rewrites the national summary
(``OUT/national.csv`` and ``OUT/national.txt``: KPIs per city, totals, the slowest city).

* Every scenario is loaded and pre-checked before anything is planned, and the output folder
  and every city's folder in it are checked writable (a city's folder absent, empty or an
  earlier plan's): a bad file or folder stops the run with every problem listed and nothing
  written.
* A few cities at a time (``concurrent``).  On a Dask cluster each city is a task on a worker
  (:func:`plan_city_task`: compile, allocation, assembly and check run there) whose routing
  subproblems go to the same cluster; with a process pool the cities' light stages run in
  this process and their subproblems in the pool.  Either way a big city's subproblems spread
  over the workers, and each city's routing budget is shared as if it had ``workers /
  concurrent`` workers to itself.  This process writes every city's folder.
* A city's folder is written into a temporary folder and swapped into place whole
  (:func:`fulfil.report.plan_dir.write_plan_dir`): a run killed at any moment leaves each
  city either complete (the new plan or the old one) or absent, and ``resume`` skips the
  cities whose complete plan is already there for the same scenario (by its digest).
* Progress: a line per finished city with the estimated time left.
"""

from __future__ import annotations

import csv
import io
import json
import logging
import threading
import time
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fulfil.errors import ScenarioError
from fulfil.executor import Executor

if TYPE_CHECKING:
    from fulfil.params import PlanParams

log = logging.getLogger("fulfil")

SCENARIO_SUFFIXES = (".toml", ".yaml", ".yml", ".json")
SUMMARY_COLUMNS = ["city", "status", "violations", "vehicles", "trips", "cost", "orders_total", "orders_served",
                   "cost_per_order", "fill_rate", "two_hour_compliance", "cold_chain_compliance",
                   "delivery_cost_share_of_sales", "plan_s", "wall_s"]


def scenario_files(args: list[str | Path]) -> list[Path]:
    """The scenario files named by ``args``: files as given, folders by their scenario files (sorted).

    A file in a folder counts as a scenario when it is TOML/YAML/JSON with a top-level
    ``format_version`` and ``pickup_points`` (the CSV tables beside it are not scenarios).
    """
    out: list[Path] = []
    for a in args:
        p = Path(a)
        if p.is_dir():
            found = [f for f in sorted(p.iterdir()) if f.suffix in SCENARIO_SUFFIXES and _looks_like_scenario(f)]
            if not found:
                raise ScenarioError(f"{p}: no scenario files (TOML/YAML/JSON with pickup_points) in this folder")
            out += found
        elif p.is_file():
            out.append(p)
        else:
            raise ScenarioError(f"{p}: no such scenario file or folder")
    names = [f.stem for f in out]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise ScenarioError([f"{f}: another scenario file has the same name '{f.stem}' (one folder per city)"
                             for f in out if f.stem in dupes])
    return out


def _looks_like_scenario(path: Path) -> bool:
    try:
        head = path.read_text(encoding="utf-8", errors="replace")[:20000]
    except OSError:
        return False
    return "format_version" in head and "pickup_points" in head


@dataclass
class CityResult:
    city: str
    path: str
    status: str  # "ok", "violations", "interrupted", "failed", "resumed"
    row: dict[str, Any] = field(default_factory=dict)
    error: str = ""


class _Slice(Executor):
    """The shared executor as one city sees it: the same workers, budgets shared as for ``workers``."""

    def __init__(self, inner: Executor, workers: int):
        self._inner = inner
        self._workers = max(1, workers)

    @property
    def workers(self) -> int:
        return self._workers

    def submit(self, fn, /, *args, **kwargs):  # type: ignore[override]
        return self._inner.submit(fn, *args, **kwargs)

    def as_completed(self, futures):  # type: ignore[override]
        return self._inner.as_completed(futures)

    def stop_request(self):  # type: ignore[override]
        return self._inner.stop_request()  # a Ctrl-C stops every city's searches

    def shutdown(self, cancel: bool = False) -> None:  # the owner shuts the shared executor down
        return None


def _row(city: str, status: str, plan_doc: dict | None, plan_s: float, wall_s: float, violations: int) -> dict:
    k = (plan_doc or {}).get("kpis", {})
    return {"city": city, "status": status, "violations": violations, "vehicles": k.get("vehicles"),
            "trips": k.get("trips"), "cost": k.get("cost"), "orders_total": k.get("orders_total"),
            "orders_served": k.get("orders_served"), "cost_per_order": k.get("cost_per_order"),
            "fill_rate": k.get("fill_rate"), "two_hour_compliance": k.get("two_hour_compliance"),
            "cold_chain_compliance": k.get("cold_chain_compliance"),
            "delivery_cost_share_of_sales": k.get("delivery_cost_share_of_sales"),
            "plan_s": round(plan_s, 2), "wall_s": round(wall_s, 2)}


def _done_plan(folder: Path, digest: str) -> dict | None:
    """The plan already written in ``folder`` for the scenario with ``digest`` (None: plan it)."""
    path = folder / "plan.json"
    if not path.is_file():
        return None
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return None
    return doc if doc.get("scenario_digest") == digest and doc.get("code") == 0 else None


def plan_city(path: Path, scenario: Any, params: PlanParams, executor: Executor, out_root: Path,
              charts: int | None = 0, check: bool = True) -> CityResult:
    """Plan, check and write one city into ``out_root/<city>/`` (atomically, as a whole folder).

    On a Dask cluster the city is planned by a task on a worker (:func:`plan_city_task`); else here,
    with its routing on ``executor``.  The folder is written in this process either way.
    """
    from fulfil.plan_model import parse_plan

    t0 = time.perf_counter()
    inner = executor._inner if isinstance(executor, _Slice) else executor
    if getattr(inner, "client", None) is not None:  # a Dask cluster
        got = inner.submit(plan_city_task, scenario.model_dump(mode="json"), params, executor.workers,
                           check).result()
        plan, causes, plan_s = parse_plan(got["plan"]), got["causes"], got["plan_s"]
    else:
        plan, causes, plan_s = _plan_and_check(scenario, params, path.name, executor, check)
    return _write_city(path.stem, path, scenario, plan, causes, plan_s, t0, out_root, charts, check)


def plan_city_task(scenario_doc: dict, params: PlanParams, workers: int, check: bool) -> dict:
    """A city as one task on a Dask worker: the plan is made there, its routing subproblems go to the
    same cluster (the task leaves its worker slot while it waits), and plain data comes back."""
    from dask.distributed import worker_client

    from fulfil.executor import DaskBackend
    from fulfil.scenario.schema import Scenario

    s = Scenario.model_validate(scenario_doc)
    with worker_client() as client:
        plan, causes, plan_s = _plan_and_check(s, params, s.name, _Slice(DaskBackend(client), workers), check)
    return {"plan": plan.to_doc(), "causes": causes, "plan_s": plan_s}


def _plan_and_check(scenario: Any, params: PlanParams, source: str, executor: Executor,
                    check: bool) -> tuple[Any, list[str], float]:
    """``(plan, causes of its violations, seconds planning)``."""
    from fulfil.pipeline import plan_night

    t0 = time.perf_counter()
    plan = plan_night(scenario, params, source=source, executor=executor)
    plan_s = time.perf_counter() - t0
    causes: list[str] = []
    if check:
        from fulfil.checker import check_plan

        causes = [v.cause for v in check_plan(scenario, plan)]
    return plan, causes, plan_s


def _write_city(city: str, path: Path, scenario: Any, plan: Any, causes: list[str], plan_s: float, t0: float,
                out_root: Path, charts: int | None, check: bool) -> CityResult:
    from fulfil.plan_model import CheckResult
    from fulfil.report.plan_dir import write_plan_dir

    if check:
        plan = plan.model_copy(update={"check": CheckResult.of(causes)})
    write_plan_dir(plan, out_root / city, scenario, charts=charts)
    status = "interrupted" if plan.code == 130 else ("violations" if causes else "ok")
    return CityResult(city, str(path), status, _row(city, status, plan.to_doc(), plan_s,
                                                    time.perf_counter() - t0, len(causes)))


def summary_csv(results: list[CityResult]) -> str:
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(SUMMARY_COLUMNS)
    for r in results:
        w.writerow(["" if r.row.get(c) is None else r.row.get(c) for c in SUMMARY_COLUMNS])
    return buf.getvalue()


def summary_text(results: list[CityResult], total: int, elapsed_s: float) -> str:
    from fulfil.report.tables import table

    rows = [[r.city, r.status, r.row.get("vehicles"), r.row.get("trips"), r.row.get("cost"),
             r.row.get("orders_total"), r.row.get("orders_served"), r.row.get("cost_per_order"),
             r.row.get("fill_rate"), r.row.get("two_hour_compliance"), r.row.get("cold_chain_compliance"),
             r.row.get("wall_s")] for r in results]
    done = [r for r in results if r.row.get("cost") is not None]
    cost = sum(r.row["cost"] for r in done)
    orders = sum(r.row.get("orders_total") or 0 for r in done)
    served = sum(r.row.get("orders_served") or 0 for r in done)
    rows.append(["total", f"{len(results)}/{total}", sum(r.row.get("vehicles") or 0 for r in done),
                 sum(r.row.get("trips") or 0 for r in done), round(cost, 2), orders, round(served, 2),
                 round(cost / served, 4) if served else None, None, None, None, round(elapsed_s, 1)])
    text = table(["city", "status", "vehicles", "trips", "cost RMB", "orders", "served", "RMB/order", "fill rate",
                  "2-hour", "cold chain", "wall s"], rows)
    timed = [r for r in results if r.row.get("wall_s") is not None and r.status != "resumed"]
    if timed:
        slow = max(timed, key=lambda r: r.row["wall_s"])
        text += f"\n\nslowest city: {slow.city} ({slow.row['wall_s']:.1f} s)"
    bad = [r for r in results if r.status in ("failed", "violations", "interrupted")]
    for r in bad:
        text += f"\n{r.city}: {r.status}" + (f" — {r.error}" if r.error else "")
    return text + "\n"


def plan_national(paths: list[Path], params: PlanParams, executor: Executor, out_root: Path, *,
                  resume: bool = False, concurrent: int = 2, charts: int | None = 0,
                  check: bool = True) -> list[CityResult]:
    """Plan every city of ``paths`` (validated first) on ``executor``; see the module docstring."""
    from fulfil.feasibility import precheck
    from fulfil.night import compile_night
    from fulfil.output import check_output_folder, write_text_atomic
    from fulfil.report.plan_dir import check_plan_folder
    from fulfil.scenario import load_scenario
    from fulfil.scenario.digest import scenario_digest

    check_output_folder(out_root, replaced=False)
    for p in paths:
        check_plan_folder(out_root / p.stem, f"--out {out_root}, city folder")
    executor.warm_up()  # workers get ready while the cities are validated
    # every city valid before anything is planned
    scenarios: dict[str, Any] = {}
    problems: list[str] = []
    for p in paths:
        try:
            s = load_scenario(p)
            precheck(compile_night(s), p.name)
            scenarios[p.stem] = s
        except ScenarioError as exc:
            problems += exc.problems
    if problems:
        raise ScenarioError(problems)

    out_root.mkdir(parents=True, exist_ok=True)
    results: dict[str, CityResult] = {}
    todo: list[Path] = []
    for p in paths:
        s = scenarios[p.stem]
        doc = _done_plan(out_root / p.stem, scenario_digest(s)) if resume else None
        if doc is not None:
            results[p.stem] = CityResult(p.stem, str(p), "resumed",
                                         _row(p.stem, "resumed", doc, 0.0, 0.0, int((doc.get("check") or {})
                                                                                       .get("violations", 0))))
        else:
            todo.append(p)
    if results:
        log.info("resuming: %d of %d cities already planned", len(results), len(paths))

    t0 = time.perf_counter()
    lock = threading.Lock()
    k = max(1, min(concurrent, len(todo) or 1))
    share = _Slice(executor, executor.workers // k)

    def write_summary() -> None:
        ordered = [results[p.stem] for p in paths if p.stem in results]
        write_text_atomic(out_root / "national.csv", summary_csv(ordered))
        write_text_atomic(out_root / "national.txt", summary_text(ordered, len(paths), time.perf_counter() - t0))

    def run(p: Path) -> CityResult:
        return plan_city(p, scenarios[p.stem], params, share, out_root, charts=charts, check=check)

    log.info("national night: %d cities to plan, %d at a time, %d workers", len(todo), k, executor.workers)
    finished = 0
    city_s: list[float] = []
    with ThreadPoolExecutor(max_workers=k, thread_name_prefix="city") as cities:
        futs: dict[Future, Path] = {cities.submit(run, p): p for p in todo}
        pending = set(futs)
        try:
            while pending:
                done, pending = wait(pending, timeout=0.5, return_when=FIRST_COMPLETED)
                for fut in done:
                    p = futs[fut]
                    try:
                        res = fut.result()
                    except ScenarioError as exc:
                        res = CityResult(p.stem, str(p), "failed", _row(p.stem, "failed", None, 0, 0, 0), str(exc))
                    except Exception as exc:  # noqa: BLE001 - one city's failure must not lose the others
                        res = CityResult(p.stem, str(p), "failed", _row(p.stem, "failed", None, 0, 0, 0),
                                         f"{type(exc).__name__}: {exc}")
                    with lock:
                        results[p.stem] = res
                        finished += 1
                        city_s.append(res.row.get("wall_s") or 0.0)
                        write_summary()
                    left = len(todo) - finished
                    eta = (time.perf_counter() - t0) / finished * left
                    log.info("city %d/%d %s: %s (%.1f s)%s", finished, len(todo), p.stem, res.status,
                             res.row.get("wall_s") or 0.0, f"; about {eta:.0f} s left" if left else "")
        except KeyboardInterrupt:
            for f in pending:
                f.cancel()
            executor.shutdown(cancel=True)
            for f, p in futs.items():
                if p.stem not in results:
                    results[p.stem] = CityResult(p.stem, str(p), "interrupted",
                                                 _row(p.stem, "interrupted", None, 0, 0, 0),
                                                 "the run was interrupted before this city was written")
            write_summary()
            raise
    write_summary()
    return [results[p.stem] for p in paths]
