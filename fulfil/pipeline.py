"""The nightly plan: compiled night → allocation → last mile → cold-chain repair → trunk → waves → plan.

:func:`plan_night` is a short sequence of stage calls (:mod:`fulfil.stages`), with an
explicit seed and budget; independent routing subproblems run on one
:class:`~fulfil.executor.Executor`.  Same scenario + seed + a deterministic budget
(``solution_limit`` without a time limit) → the same plan, whatever the number of workers.
On Ctrl-C the plan keeps every subproblem solved so far, with the trunk that feeds it
(``code`` 130).

:func:`stop_on_ctrl_c` is how the command line takes Ctrl-C: the first asks the running
searches to stop and hand back their best plans so far (the subproblems not started get a
quick construction), a second stops waiting for searches that do not answer, and none aborts
the plan being finished, checked or written; the plan then says ``code`` 130.
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from fulfil.night import CompiledNight, compile_night
from fulfil.params import LAST_MILE_SHARE, PlanParams
from fulfil.scenario.schema import Scenario

if TYPE_CHECKING:
    from fulfil.executor import Executor
    from fulfil.plan_model import Plan

log = logging.getLogger("fulfil")

__all__ = ["LAST_MILE_SHARE", "PlanParams", "plan_night", "stop_on_ctrl_c"]


class _Clock:
    def __init__(self) -> None:
        self.t0 = time.perf_counter()
        self.stats: dict[str, float] = {}
        self._t = self.t0

    def lap(self, name: str) -> None:
        now = time.perf_counter()
        self.stats[name] = now - self._t
        self._t = now


@contextmanager
def stop_on_ctrl_c(executor: Executor) -> Iterator[None]:
    """Within the block, Ctrl-C (SIGINT) calls ``executor.request_stop()`` instead of raising.

    The first asks the searches to finish at once with their best plans so far; the second
    and later make the routing stages stop waiting for searches that do not answer within
    :data:`~fulfil.executor.STOP_GRACE_S`. No Ctrl-C can then abort the plan being
    assembled, checked or written: a ``KeyboardInterrupt`` at a random point of those would
    lose a plan already found (or leave no files at all). Outside the main thread (where no
    signal handler can be set) it does nothing.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def on_sigint(signum: int, frame: object) -> None:
        level = executor.request_stop()
        if level == 1:
            log.warning("Ctrl-C: stopping the searches; the best plan found so far will be written "
                        "(Ctrl-C again: leave out the searches that do not answer within a second)")
        elif level == 2:
            log.warning("Ctrl-C: leaving out the searches that do not answer within a second; the plan is "
                        "still finished and written")

    previous = signal.signal(signal.SIGINT, on_sigint)
    try:
        yield
    finally:  # None: the handler was not set from Python; Python's own then
        signal.signal(signal.SIGINT, signal.default_int_handler if previous is None else previous)


def plan_night(scenario: Scenario | CompiledNight, params: PlanParams | None = None, *, source: str = "scenario",
               executor: Executor | None = None) -> Plan:
    """Plan one night; returns the typed plan (docs/plan_format.md).

    ``scenario`` is a validated scenario or an already compiled night; ``executor`` runs the
    routing subproblems (default: a process pool of ``params.workers``, closed at the end).
    """
    from fulfil.executor import make_executor

    params = params or PlanParams()
    clock = _Clock()
    own = executor is None
    ex = make_executor(params.workers) if own else executor
    cancel = True  # an error or Ctrl-C: do not wait for the workers
    try:
        plan = _plan(scenario, params, source, ex, clock)
        cancel = plan.code != 0
        return plan
    finally:
        if own:
            ex.shutdown(cancel=cancel)


def _plan(scenario: Scenario | CompiledNight, params: PlanParams, source: str, ex: Executor,
          clock: _Clock) -> Plan:
    from fulfil.feasibility import precheck
    from fulfil.stages.allocate import allocate
    from fulfil.stages.assemble import assemble_plan
    from fulfil.stages.cold_repair import repair_cold_chain
    from fulfil.stages.jobs import last_mile_jobs
    from fulfil.stages.last_mile import route_last_mile
    from fulfil.stages.release import release_pass
    from fulfil.units import format_clock
    from fulfil.stages.subproblems import last_mile_subproblems
    from fulfil.stages.trip_work import TripWork
    from fulfil.stages.trunk import route_trunk
    from fulfil.stages.waves import chain_trips

    ex.warm_up()  # workers start while the night is compiled and the problems built
    night = scenario if isinstance(scenario, CompiledNight) else compile_night(scenario)
    precheck(night, source)
    clock.lap("compile_s")

    net = night.net
    log.info("allocating %d pickup points to %d forward warehouses", net.n_pickups, net.n_forward)
    alloc = allocate(night)
    jobs_by_fw, unserved = last_mile_jobs(night, alloc.assign, alloc.units)
    clock.lap("allocation_s")

    subs = last_mile_subproblems(night, jobs_by_fw)
    clock.lap("build_s")

    lm_budget, trunk_budget = params.budgets()
    log.info("routing last mile: %d forward warehouses, %d jobs, %d workers", len(subs),
             sum(len(sp.jobs) for sp in subs), ex.workers)
    last_mile = route_last_mile(night, subs, params, lm_budget, ex)
    clock.lap("last_mile_s")
    work = TripWork(night)  # each trip timed and run through the thermal model once
    if night.policy.cold_chain_model:  # after an interruption: no re-solve, failing stops come off
        last_mile = repair_cold_chain(night, subs, last_mile, params, lm_budget, ex, work=work)
        clock.lap("cold_chain_s")
    routed = route_trunk(night, alloc.assign, last_mile, params, trunk_budget, ex)
    interrupted = routed.interrupted
    clock.lap("trunk_s")
    clock.stats["routing_s"] = sum(clock.stats.get(k, 0.0) for k in ("last_mile_s", "cold_chain_s", "trunk_s"))

    released = None
    if not interrupted:  # a warehouse the trunk could not supply by its dispatch: wait for the goods?
        released = release_pass(night, alloc.assign, jobs_by_fw, last_mile, routed, params, lm_budget,
                                trunk_budget, ex)
        if released is not None:
            clock.lap("release_s")
            clock.stats["routing_s"] += clock.stats["release_s"]

    stats = dict(clock.stats)
    trips = chain_trips(night, routed.trips, work)  # several waves a vehicle, its fixed cost paid once
    plan = assemble_plan(night, trips, alloc.unserved + unserved + routed.unserved, alloc.assign, params,
                         interrupted, stats, work)
    if released is not None and not released.routed.interrupted:
        later = assemble_plan(released.night, chain_trips(released.night, released.routed.trips, released.work),
                              alloc.unserved + unserved + released.routed.unserved, alloc.assign, params,
                              False, stats, released.work)
        # kept when it serves more, or as much for less
        if (later.kpis.units_unserved, later.kpis.cost) < (plan.kpis.units_unserved, plan.kpis.cost):
            log.info("goods released by the trunk: the last mile of %s leaves then; %d more units served, "
                     "cost %+.2f RMB", ", ".join(f"{night.net.forward_ids[f]} at {format_clock(t)}"
                                                 for f, t in sorted(released.departures.items())),
                     plan.kpis.units_unserved - later.kpis.units_unserved, later.kpis.cost - plan.kpis.cost)
            plan = later
    clock.lap("assembly_s")
    stats["assembly_s"] = clock.stats["assembly_s"]
    stats["total_s"] = time.perf_counter() - clock.t0
    return plan.model_copy(update={"stats": {k: round(v, 3) for k, v in stats.items()}})
