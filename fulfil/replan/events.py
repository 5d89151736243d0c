"""The events of a re-plan (``events.json``): late orders, vehicles down, locks, closed points.

The file's shape is shared with the HTTP service::

    {"late_orders": [{"pickup_point": "P001", "product": "milk", "units": 12}],
     "vehicle_down": [{"duty": "L-FW01-02", "from": "08:00"}],
     "locks": [{"trip": "L-FW01-01.1"}, {"pickup_point": "P007", "duty": "L-FW01-03"}],
     "closed": ["P019"]}

Every key is optional.  Structure is checked by the pydantic models below; references (duty,
trip, pickup point, product ids) are checked against the previous plan and the scenario by
:func:`event_problems`.  Both report ``file: field.path: what is wrong``, all problems at once.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Annotated, Any

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from fulfil.errors import ScenarioError
from fulfil.units import format_clock, parse_clock

__all__ = ["Events", "LateOrder", "Lock", "VehicleDown", "load_events", "parse_events"]

Ref = Annotated[str, Field(min_length=1, max_length=200)]


class _Event(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True, str_strip_whitespace=True)


class LateOrder(_Event):
    """Units of one product ordered at one pickup point after the plan was made."""

    pickup_point: Ref
    product: Ref
    units: Annotated[int, Field(gt=0, le=10_000_000)]


class VehicleDown(_Event):
    """The vehicle of a duty of the previous plan cannot drive from ``from`` on (minutes since 00:00)."""

    duty: Ref
    from_: float = Field(alias="from")

    @field_validator("from_", mode="before")
    @classmethod
    def _clock(cls, value: object) -> float:
        return parse_clock(value)

    @property
    def from_hhmm(self) -> str:
        return format_clock(self.from_)


class Lock(_Event):
    """``{"trip": id}`` keeps a trip whole; ``{"pickup_point": id, "duty": id}`` keeps that point's
    stops on that duty's vehicle."""

    trip: Ref | None = None
    pickup_point: Ref | None = None
    duty: Ref | None = None

    @model_validator(mode="after")
    def _one_form(self) -> Lock:
        if self.trip is not None and (self.pickup_point is not None or self.duty is not None):
            raise ValueError("give either 'trip', or 'pickup_point' and 'duty', not both")
        if self.trip is None and (self.pickup_point is None or self.duty is None):
            raise ValueError("a lock needs 'trip', or both 'pickup_point' and 'duty'")
        return self


class Events(_Event):
    late_orders: list[LateOrder] = Field(default_factory=list)
    vehicle_down: list[VehicleDown] = Field(default_factory=list)
    locks: list[Lock] = Field(default_factory=list)
    closed: list[Ref] = Field(default_factory=list)

    @property
    def now(self) -> float | None:
        """The re-plan's "now": the earliest breakdown (None: before the night starts, nothing delivered yet)."""
        return min((d.from_ for d in self.vehicle_down), default=None)

    def to_doc(self) -> dict[str, Any]:
        return self.model_dump(mode="json", by_alias=True, exclude_none=True)


def _where(loc: tuple) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + ("from" if part == "from_" else str(part))
    return out or "(top level)"


def _what(err: dict) -> str:
    t = err.get("type", "")
    if t == "missing":
        return "missing key"
    if t == "extra_forbidden":
        return "unknown key (an events file has late_orders, vehicle_down, locks, closed)"
    return str(err.get("msg", "invalid")).removeprefix("Value error, ")


def parse_events(doc: object, source: str = "events") -> Events:
    """:class:`Events` from a parsed JSON document; :class:`ScenarioError` with every problem located."""
    if isinstance(doc, Events):
        return doc
    if not isinstance(doc, dict):
        raise ScenarioError(f"{source}: the top level must be a JSON object")
    try:
        return Events.model_validate(doc)
    except ValidationError as exc:
        raise ScenarioError([f"{source}: {_where(e['loc'])}: {_what(e)}" for e in exc.errors()]) from None


def load_events(path: str | Path) -> Events:
    """Read ``events.json``; :class:`ScenarioError` naming the file and field when it is not valid."""
    from fulfil.textio import read_input_text

    name = str(path)
    text = read_input_text(path, "events file")
    try:
        data = json.loads(text, parse_constant=lambda c: math.nan)
    except json.JSONDecodeError as exc:
        raise ScenarioError(f"{name}: malformed JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}") from None
    return parse_events(data, name)


def event_problems(events: Events, plan: Any, scenario: Any, source: str = "events") -> list[str]:
    """References the events make that the previous plan or the scenario does not know, and events
    that contradict each other (a lock on what a breakdown or a closure must change), located."""
    duties = {d.id: d for d in plan.duties}
    trips = {t.id: (d, t) for d, t in plan.trips()}
    pickups = {p.id for p in scenario.pickup_points}
    products = {p.id for p in scenario.products}
    closed = set(events.closed)
    down = {d.duty: d.from_ for d in events.vehicle_down}
    out: list[str] = []

    def bad(where: str, what: str) -> None:
        out.append(f"{source}: {where}: {what}")

    for i, o in enumerate(events.late_orders):
        if o.pickup_point not in pickups:
            bad(f"late_orders[{i}].pickup_point", f"unknown pickup point '{o.pickup_point}'")
        if o.product not in products:
            bad(f"late_orders[{i}].product", f"unknown product '{o.product}'")
    seen: set[str] = set()
    for i, d in enumerate(events.vehicle_down):
        if d.duty not in duties:
            bad(f"vehicle_down[{i}].duty", f"the plan has no duty '{d.duty}'")
        elif duties[d.duty].tier != "last_mile":
            bad(f"vehicle_down[{i}].duty", f"'{d.duty}' is a trunk duty; re-planning a trunk breakdown is not "
                                            "supported (re-plan the night)")
        if d.duty in seen:
            bad(f"vehicle_down[{i}].duty", f"'{d.duty}' is listed twice")
        seen.add(d.duty)
    for i, c in enumerate(events.closed):
        if c not in pickups:
            bad(f"closed[{i}]", f"unknown pickup point '{c}'")
    now = events.now
    for i, lk in enumerate(events.locks):
        if lk.trip is not None:
            if lk.trip not in trips:
                bad(f"locks[{i}].trip", f"the plan has no trip '{lk.trip}'")
                continue
            d, t = trips[lk.trip]
            if d.id in down:
                cut = [s for s in t.stops if s.departure > down[d.id]]
                if cut:
                    bad(f"locks[{i}].trip", f"trip {t.id} runs on duty {d.id}, which is down from "
                                            f"{format_clock(down[d.id])}: {len(cut)} of its stops come after that; "
                                            "drop the lock or the breakdown")
            hit = [s.location for s in t.stops if s.location in closed and (now is None or s.departure > now)]
            if hit:
                bad(f"locks[{i}].trip", f"trip {t.id} stops at closed pickup point {', '.join(sorted(set(hit)))}; "
                                        "drop the lock or reopen the point")
        else:
            if lk.duty not in duties:
                bad(f"locks[{i}].duty", f"the plan has no duty '{lk.duty}'")
                continue
            stops = [s for t in duties[lk.duty].trips for s in t.stops if s.location == lk.pickup_point]
            if not stops:
                bad(f"locks[{i}].pickup_point", f"duty {lk.duty} has no stop at '{lk.pickup_point}'")
            elif lk.pickup_point in closed:
                bad(f"locks[{i}].pickup_point", f"'{lk.pickup_point}' is closed (closed list); drop one of the two")
            elif lk.duty in down and any(s.departure > down[lk.duty] for s in stops):
                bad(f"locks[{i}].duty", f"duty {lk.duty} is down from {format_clock(down[lk.duty])}, before its stop at "
                                        f"'{lk.pickup_point}'; drop the lock or the breakdown")
    return out
