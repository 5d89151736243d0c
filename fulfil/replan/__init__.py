"""Re-optimisation: a new plan from the previous one and tonight's events (docs/replan.md).

:func:`replan` takes the scenario, the previous plan and the :class:`Events` (late orders,
vehicles down from a time, locked trips or stops, closed pickup points) and returns a
:class:`ReplanResult`: the new plan — assembled and timed by the planner's own stages, so the
independent checker verifies it like any plan — the scenario it is a plan of (the late orders
are demand lines of it), and what changed (:class:`~fulfil.replan.changes.PlanChanges`).
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict

from fulfil.errors import ScenarioError, UsageError
from fulfil.params import DEFAULT_MOVE_PENALTY
from fulfil.plan_model import CheckResult, Plan
from fulfil.replan.changes import PlanChanges, changes_text, plan_changes
from fulfil.replan.events import (
    Events,
    LateOrder,
    Lock,
    VehicleDown,
    event_problems,
    load_events,
    parse_events,
)
from fulfil.scenario.schema import Scenario

if TYPE_CHECKING:
    from fulfil.replan.engine import Outcome

__all__ = ["DEFAULT_MOVE_PENALTY", "Events", "LateOrder", "Lock", "PlanChanges", "ReplanParams", "ReplanResult",
           "VehicleDown", "amended_scenario", "changes_text", "load_events", "parse_events", "plan_changes",
           "replan"]



@dataclass(frozen=True)
class ReplanParams:
    """``move_penalty`` RMB per moved stop; ``seed`` orders the local search; ``time_limit_s``
    bounds it (None: it runs to a local optimum — deterministic)."""

    move_penalty: float = DEFAULT_MOVE_PENALTY
    seed: int = 0
    time_limit_s: float | None = None

    def __post_init__(self) -> None:
        if self.move_penalty < 0:
            raise UsageError("the move penalty must be 0 or more")
        if self.time_limit_s is not None and self.time_limit_s < 0:
            raise UsageError("the time limit must be positive (or none)")


class ReplanResult(BaseModel):
    """The new plan, the scenario it was made for (late orders added), and what changed."""

    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)

    plan: Plan
    scenario: Scenario
    changes: PlanChanges

    def to_doc(self) -> dict[str, Any]:
        return {"plan": self.plan.to_doc(), "changes": self.changes.to_doc()}


def amended_scenario(scenario: Scenario, events: Events) -> Scenario:
    """The scenario the new plan is a plan of: the late orders in its demand (each late order is one
    more order of its pickup point, its units added to the point's demand row — a scenario has one
    row per point), and each closed pickup point closed from "now" (``closed_from``: the earliest
    breakdown, or 00:00 when nothing has been delivered yet), so that the checker can hold the
    plan's ``closed`` lines and the deliveries there to it."""
    if not events.late_orders and not events.closed:
        return scenario
    from fulfil.scenario.schema import Demand

    update: dict = {}
    if events.late_orders:
        rows = {d.pickup_point: (d.orders, dict(d.items)) for d in scenario.demand}
        for o in events.late_orders:
            orders, items = rows.get(o.pickup_point, (0, {}))
            items[o.product] = items.get(o.product, 0) + o.units
            rows[o.pickup_point] = (orders + 1, items)
        update["demand"] = [Demand(pickup_point=p, orders=n, items=items) for p, (n, items) in rows.items()]
    if events.closed:
        closed, since = set(events.closed), events.now if events.now is not None else 0.0
        update["pickup_points"] = [p.model_copy(update={"closed_from": since}) if p.id in closed else p
                                   for p in scenario.pickup_points]
    return Scenario.model_validate(scenario.model_copy(update=update).model_dump())


def _check_inputs(scenario: Scenario, plan: Plan, events: Events, plan_source: str, events_source: str) -> None:
    from fulfil.scenario.digest import scenario_digest

    if plan.scenario != scenario.name:
        raise ScenarioError(f"{plan_source}: scenario: the plan is for scenario '{plan.scenario}', "
                            f"not '{scenario.name}'")
    if plan.scenario_digest is not None and plan.scenario_digest != scenario_digest(scenario):
        raise ScenarioError(f"{plan_source}: scenario_digest: the scenario changed since this plan was made; "
                            "re-plan the night")
    problems = event_problems(events, plan, scenario, events_source)
    if problems:
        raise ScenarioError(problems)


def replan(scenario: Scenario, plan: Plan, events: Events, params: ReplanParams | None = None, *,
           check: bool = True, plan_source: str = "plan", events_source: str = "events") -> ReplanResult:
    """Re-plan the night of ``plan`` after ``events``.

    Bad references in the events (unknown duty, trip, pickup point, product) and events that
    contradict a lock raise :class:`ScenarioError` with every problem located.  With ``check``
    the independent checker's verdict is stored in the plan's ``check``, as ``fulfil plan`` does.
    """
    from fulfil.night import compile_night
    from fulfil.params import PlanParams
    from fulfil.replan.engine import run
    from fulfil.stages.assemble import assemble_plan
    from fulfil.stages.trip_work import TripWork

    params = params or ReplanParams()
    t0 = time.perf_counter()
    _check_inputs(scenario, plan, events, plan_source, events_source)
    amended = amended_scenario(scenario, events)
    night = compile_night(amended)
    out = run(night, plan, events, params.move_penalty, params.seed, params.time_limit_s)
    t1 = time.perf_counter()
    assembled = assemble_plan(night, out.trips, out.unserved, out.assign,
                              PlanParams(time_limit_s=None, solution_limit=1, seed=params.seed, workers=1),
                              False, None, TripWork(night))
    doc = _keep_ids(assembled.to_doc(), plan, out, night.net.vehicles.ids)
    doc["seed"] = plan.seed
    # the routes are the previous run's, repaired: its solver settings stay (the re-plan's own are in stats)
    doc.pop("params", None)
    if plan.params is not None:
        doc["params"] = plan.params.model_dump(mode="json", exclude_none=True)
    doc["stats"] = {"replan_s": round(t1 - t0, 3), "assembly_s": round(time.perf_counter() - t1, 3),
                    "total_s": round(time.perf_counter() - t0, 3), "replan_move_penalty": params.move_penalty,
                    "replan_seed": params.seed}
    new = Plan.model_validate(doc)
    notes = list(out.notes) + _lock_notes(plan, new, events)
    if check:
        from fulfil.checker import check_plan

        violations = check_plan(amended, new)
        new = new.model_copy(update={"check": CheckResult.of([v.cause for v in violations])})
    return ReplanResult(plan=new, scenario=amended, changes=plan_changes(plan, new, notes))


def _keep_ids(doc: dict[str, Any], before: Plan, out: Outcome, vehicle_ids: tuple[str, ...]) -> dict[str, Any]:
    """Duty and trip ids of the previous plan kept for the same vehicle and trip; new ones numbered on."""
    prev = {(d.vehicle_type, d.vehicle): d.id for d in before.duties}
    used = {d.id for d in before.duties}
    trip_ids = {t.id for _, t in before.trips()}
    # the working trips of each vehicle in the order the assembly lists them (by departure)
    by_vehicle: dict[tuple[str, int], list] = {}
    for wt in out.origin:
        by_vehicle.setdefault((vehicle_ids[wt.vehicle[0]], wt.vehicle[1]), []).append(wt)
    for trips in by_vehicle.values():
        trips.sort(key=lambda wt: wt.departure)
    for d in doc["duties"]:
        key = (d["vehicle_type"], d["vehicle"])
        did = prev.get(key)
        if did is None:
            prefix = f"{d['id'].split('-', 1)[0]}-{d['depot']}-"
            n = 1 + max((int(m.group(1)) for u in used if (m := re.fullmatch(re.escape(prefix) + r"(\d+)", u))),
                        default=0)
            did = f"{prefix}{n:02d}"
        used.add(did)
        d["id"] = did
        for t, wt in zip(d["trips"], by_vehicle[key], strict=True):
            if wt.prev_id is not None:
                t["id"] = wt.prev_id
            else:
                n = 1 + max((int(m.group(1)) for u in trip_ids if (m := re.fullmatch(re.escape(did) + r"\.(\d+)", u))),
                            default=0)
                t["id"] = f"{did}.{n}"
            trip_ids.add(t["id"])
    return doc


def _lock_notes(before: Plan, after: Plan, events: Events) -> list[str]:
    """One sentence per locked trip: kept as it was, or which times moved (and by how much)."""
    old = {t.id: t for _, t in before.trips()}
    new = {t.id: t for _, t in after.trips()}
    notes = []
    for lk in events.locks:
        if lk.trip is None:
            continue
        a, b = old[lk.trip], new.get(lk.trip)
        if b is None or [s.location for s in a.stops] != [s.location for s in b.stops]:
            notes.append(f"locked trip {lk.trip}: its stops changed (this is a bug: please report it)")
            continue
        shift = max([abs(b.departure - a.departure), abs(b.return_ - a.return_)]
                    + [abs(x.arrival - y.arrival) for x, y in zip(a.stops, b.stops, strict=True)])
        notes.append(f"locked trip {lk.trip}: unchanged" if shift <= 0.011 else
                     f"locked trip {lk.trip}: same stops, times moved by up to {shift:.2f} min")
    return notes
