"""The plan document (``plan.json``, format version 2) as frozen pydantic models.

A plan is a list of **vehicle duties** (one per vehicle that works tonight); a duty is a
list of **trips** (leave the depot loaded, visit stops, come back); a trip is a list of
**stops**.  A vehicle may drive several trips in one night: each trip has its own
departure, loads and return, the vehicle's fixed cost is paid once per duty, and between
two trips the vehicle is reloaded at its depot (``policies.reload_fixed_min +
reload_per_crate_min × crates loaded``).  docs/plan_format.md describes every field;
``docs/plan_schema.json`` is the JSON Schema generated from these models.

The planner builds a :class:`Plan` and writes it with :func:`write_plan`; ``fulfil check``
reads it back through :func:`parse_plan` / :func:`read_plan`, which report structural
problems as ``field.path: what is wrong``.  The models check structure and types only:
every rule of the night (times, loads, limits, sums) is the checker's business, so a plan
that breaks one is still read and then reported with the broken rule's cause.

This module imports nothing of the planner: the checker depends on it.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from fulfil.errors import ScenarioError

__all__ = [
    "FORMAT",
    "FORMAT_VERSION",
    "CheckResult",
    "Duty",
    "Kpis",
    "Plan",
    "Stop",
    "Trip",
    "Unserved",
    "ZoneLoad",
    "parse_plan",
    "plan_json_schema",
    "read_plan",
    "trip_rows",
    "write_plan",
]

FORMAT = "fulfil-plan"
FORMAT_VERSION = 2
#: A limit (window close, promise, out-of-zone, shift, reload) counts as broken when exceeded by
#: more than this many minutes: plan clock times are rounded to 0.01 min.  The planner's KPIs and
#: the checker use the same tolerance.
LIMIT_TOL_MIN = 0.01

Num = Annotated[float, Field(allow_inf_nan=False)]


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True, strict=True)


class ZoneLoad(_Model):
    """Crates and kilograms of one temperature zone."""

    crates: int
    kg: Num


#: zone name → load; zone names are checked by the checker (an unknown zone is a violation).
Loads = dict[str, ZoneLoad]


class StopColdChain(_Model):
    """Predicted state of one zone's goods when handed over (thermal model)."""

    handover_c: Num
    minutes_out_of_range: Num
    quality: Num
    remaining_shelf_life_h: Num | None = None
    in_spec: bool
    spoiled_crates: Num
    spoilage_cost: Num


class Stop(_Model):
    location: str
    arrival: Num
    start: Num
    departure: Num
    arrival_hhmm: str | None = None
    leg_km: Num
    delivered: Loads
    #: last mile only: product id → units handed over
    products: dict[str, int] | None = None
    load_after: Loads
    minutes_out_of_zone: dict[str, Num]
    #: last mile only: arrival − the trip's departure from the cold room (the promise clock)
    minutes_since_cold_room: Num | None = None
    cold_chain: dict[str, StopColdChain] | None = None


class CompartmentTrace(_Model):
    kind: Literal["reefer", "insulated_box"]
    crates: int
    t: list[Num]
    air_c: list[Num]
    product_c: list[Num | None]
    limit_c: Num


class Thermal(_Model):
    compartments: dict[str, CompartmentTrace]


class TripCost(_Model):
    """RMB of one trip: ``cost_per_km × distance_km`` + ``cost_per_hour × duration_h``."""

    distance: Num
    time: Num
    total: Num


class DutyCost(_Model):
    """RMB of one vehicle's night: its fixed cost once, plus its trips' costs."""

    fixed: Num
    distance: Num
    time: Num
    total: Num


class Trip(_Model):
    id: str
    departure: Num
    departure_hhmm: str | None = None
    return_: Num = Field(alias="return")
    return_hhmm: str | None = None
    #: sum of the legs, the way back to the depot included
    distance_km: Num
    #: the way back from the last stop to the depot
    return_leg_km: Num
    duration_h: Num
    cost: TripCost
    load_at_departure: Loads
    #: movable-partition vehicle types only: zone → crates of the split chosen for this trip
    compartments: dict[str, int] | None = None
    thermal: Thermal | None = None
    stops: list[Stop]


class Duty(_Model):
    """One vehicle's work tonight: its trips in time order."""

    id: str
    tier: str
    vehicle_type: str
    vehicle: int
    depot: str
    distance_km: Num
    duration_h: Num
    cost: DutyCost
    trips: list[Trip]


class Unserved(_Model):
    pickup_point: str
    product: str
    units: int
    reason: str
    detail: str = ""


class Kpis(_Model):
    """The night's KPIs; docs/plan_format.md defines each one and the checker recomputes them."""

    vehicles: int
    trunk_vehicles: int
    last_mile_vehicles: int
    trips: int
    trunk_trips: int
    last_mile_trips: int
    distance_km: Num
    duration_h: Num
    cost: Num
    orders_total: int
    orders_served: Num
    orders_complete: int
    orders_unserved: Num
    cost_per_order: Num | None = None
    units_total: int
    units_served: int
    units_unserved: int
    fill_rate: Num
    stops: int
    two_hour_compliance: Num
    cold_chain_compliance: Num
    delivery_cost_share_of_sales: Num | None = None
    in_spec_share: Num | None = None
    expected_spoilage_cost: Num | None = None
    spoiled_crates: Num | None = None


class CheckResult(_Model):
    """What the independent checker said when the plan was written."""

    violations: int
    by_cause: dict[str, int] = Field(default_factory=dict)

    @classmethod
    def of(cls, causes: list[str]) -> CheckResult:
        """From the causes of the checker's violations, one per violation."""
        by: dict[str, int] = {}
        for c in causes:
            by[c] = by.get(c, 0) + 1
        return cls(violations=len(causes), by_cause=by)


class Params(_Model):
    time_limit_s: Num | None = None
    solution_limit: int | None = None
    workers: int
    engine: str
    #: search time per job of a subproblem (when the budget was set by size, not shared)
    seconds_per_job: Num | None = None


class Plan(_Model):
    format: Literal["fulfil-plan"]
    format_version: int
    #: 0 ok, 130 interrupted (the best plan found so far)
    code: int = 0
    error: str | None = None
    scenario: str
    #: sha256 of the scenario as the planner read it (``fulfil check`` warns when it differs)
    scenario_digest: str | None = None
    seed: int = 0
    params: Params | None = None
    kpis: Kpis
    duties: list[Duty]
    unserved: list[Unserved]
    #: pickup point id → forward warehouse id (assigned ones only)
    assignment: dict[str, str] = Field(default_factory=dict)
    check: CheckResult | None = None
    stats: dict[str, Num] = Field(default_factory=dict)

    @field_validator("format_version")
    @classmethod
    def _version(cls, v: int) -> int:
        if v != FORMAT_VERSION:
            raise ValueError(f"format_version {v} is not supported; this fulfil reads format_version {FORMAT_VERSION}"
                             + (" (plans of version 1 have 'routes'; re-plan to get duties and trips)" if v == 1 else ""))
        return v

    def trips(self) -> Iterator[tuple[Duty, Trip]]:
        """Every trip with its duty, in the plan's order."""
        for d in self.duties:
            for t in d.trips:
                yield d, t

    def to_doc(self) -> dict[str, Any]:
        """The JSON document (plain dicts and lists)."""
        return self.model_dump(mode="json", by_alias=True, exclude_none=True)


# --------------------------------------------------------------------------- reading, writing
def _loc(err: dict) -> str:
    out = ""
    for part in err.get("loc", ()):
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out or "(top level)"


def _message(err: dict) -> str:
    t = err.get("type", "")
    if t == "missing":
        return "missing key"
    if t == "extra_forbidden":
        return "unknown key (not part of the plan format)"
    if t == "literal_error" and err.get("loc", ())[:1] == ("format",):
        return f"expected '{FORMAT}', got {err.get('input')!r} (is this a plan file?)"
    msg = err.get("msg", "invalid")
    return msg.removeprefix("Value error, ")


def _validate(doc: object) -> tuple[Plan | None, list[str]]:
    """``(plan, [])`` or ``(None, structural problems as "field.path: what is wrong")`` — one validation."""
    if not isinstance(doc, dict):
        return None, ["the top level must be a JSON object"]
    try:
        return Plan.model_validate(doc), []
    except ValidationError as exc:
        return None, [f"{_loc(e)}: {_message(e)}" for e in exc.errors()]


def plan_problems(doc: object) -> list[str]:
    """Structural problems of a plan document, each ``field.path: what is wrong``."""
    return _validate(doc)[1]


def parse_plan(doc: object, source: str = "plan") -> Plan:
    """A :class:`Plan` from a parsed JSON document; :class:`ScenarioError` listing every
    structural problem as ``source: field.path: what is wrong``."""
    if isinstance(doc, Plan):
        return doc
    plan, problems = _validate(doc)
    if plan is None:
        shown = problems[:50] + ([f"... and {len(problems) - 50} more"] if len(problems) > 50 else [])
        raise ScenarioError([f"{source}: {p}" for p in shown])
    return plan


def read_plan(path: str | Path) -> Plan:
    """Read ``plan.json``; :class:`ScenarioError` naming the file when it is not a valid plan."""
    from fulfil.textio import read_input_text

    name = str(path)
    text = read_input_text(path, "plan file")
    try:
        data = json.loads(text, parse_constant=lambda c: math.nan)
    except json.JSONDecodeError as exc:
        raise ScenarioError(f"{name}: malformed JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}") from None
    return parse_plan(data, name)


def plan_text(plan: Plan) -> str:
    return json.dumps(plan.to_doc(), indent=1, ensure_ascii=False) + "\n"


def write_plan(plan: Plan, path: str | Path) -> None:
    """Write ``plan.json`` atomically."""
    from fulfil.output import write_text_atomic

    write_text_atomic(path, plan_text(plan))


def plan_json_schema() -> dict[str, Any]:
    """The JSON Schema of the plan document (published as docs/plan_schema.json)."""
    schema = Plan.model_json_schema(by_alias=True, mode="serialization")
    schema["$id"] = "https://fulfil.invalid/plan_schema.json"
    schema["title"] = "fulfil plan, format version 2"
    return schema


def trip_rows(plan: Plan | dict) -> list[dict[str, Any]]:
    """One flat dict per trip — the trip's own keys plus its duty's ``tier``, ``vehicle_type``,
    ``vehicle``, ``depot`` and ``duty`` (the duty id) — for reports that list trips."""
    doc = plan.to_doc() if isinstance(plan, Plan) else plan
    rows = []
    for d in doc.get("duties", []):
        for t in d.get("trips", []):
            row = dict(t)
            row.update(duty=d["id"], tier=d["tier"], vehicle_type=d["vehicle_type"], vehicle=d["vehicle"],
                       depot=d["depot"])
            rows.append(row)
    return rows
