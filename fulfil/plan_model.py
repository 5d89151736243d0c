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
import stat
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

#: Bounds of what a plan file may hold, so that every figure stays an exact, finite float64
#: through the checker's arithmetic (sums, products with prices and rates) and nothing a
#: reader prints can grow without limit.  A plan breaking one is refused as a structural error.
MAX_PLAN_BYTES = 256 * 1024 * 1024  # the large city's plan is about 13 MB
MAX_DEPTH = 32  # a plan nests 10 deep
MAX_ABS_NUMBER = 1e9
MAX_ABS_INT = 2**53
MAX_ID_CHARS = 200
MAX_TEXT_CHARS = 2000

Num = Annotated[float, Field(allow_inf_nan=False, ge=-MAX_ABS_NUMBER, le=MAX_ABS_NUMBER)]
Int = Annotated[int, Field(ge=-MAX_ABS_INT, le=MAX_ABS_INT)]
#: ids and names: no control characters (they reach terminals and reports)
Id = Annotated[str, Field(max_length=MAX_ID_CHARS, pattern=r"^[^\x00-\x1f\x7f]*$")]
Text = Annotated[str, Field(max_length=MAX_TEXT_CHARS, pattern=r"^[^\x00-\x1f\x7f]*$")]


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True, strict=True)


class ZoneLoad(_Model):
    """Crates and kilograms of one temperature zone."""

    crates: Int
    kg: Num


#: zone name → load; zone names are checked by the checker (an unknown zone is a violation).
Loads = dict[Id, ZoneLoad]


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
    location: Id
    arrival: Num
    start: Num
    departure: Num
    arrival_hhmm: Id | None = None
    leg_km: Num
    delivered: Loads
    #: last mile only: product id → units handed over
    products: dict[Id, Int] | None = None
    load_after: Loads
    minutes_out_of_zone: dict[Id, Num]
    #: last mile only: arrival − the trip's departure from the cold room (the promise clock)
    minutes_since_cold_room: Num | None = None
    cold_chain: dict[Id, StopColdChain] | None = None


class CompartmentTrace(_Model):
    kind: Literal["reefer", "insulated_box"]
    crates: Int
    t: list[Num]
    air_c: list[Num]
    product_c: list[Num | None]
    limit_c: Num


class Thermal(_Model):
    compartments: dict[Id, CompartmentTrace]


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
    id: Id
    departure: Num
    departure_hhmm: Id | None = None
    return_: Num = Field(alias="return")
    return_hhmm: Id | None = None
    #: sum of the legs, the way back to the depot included
    distance_km: Num
    #: the way back from the last stop to the depot
    return_leg_km: Num
    duration_h: Num
    cost: TripCost
    load_at_departure: Loads
    #: movable-partition vehicle types only: zone → crates of the split chosen for this trip
    compartments: dict[Id, Int] | None = None
    thermal: Thermal | None = None
    stops: list[Stop]


class Duty(_Model):
    """One vehicle's work tonight: its trips in time order."""

    id: Id
    tier: Id
    vehicle_type: Id
    vehicle: Int
    depot: Id
    distance_km: Num
    duration_h: Num
    cost: DutyCost
    trips: list[Trip]


class Unserved(_Model):
    pickup_point: Id
    product: Id
    units: Int
    reason: Id
    #: a sentence for people (not a figure: the checker does not read it)
    detail: Text = ""


class Kpis(_Model):
    """The night's KPIs; docs/plan_format.md defines each one and the checker recomputes them."""

    vehicles: Int
    trunk_vehicles: Int
    last_mile_vehicles: Int
    trips: Int
    trunk_trips: Int
    last_mile_trips: Int
    distance_km: Num
    duration_h: Num
    cost: Num
    orders_total: Int
    orders_served: Num
    orders_complete: Int
    orders_unserved: Num
    cost_per_order: Num | None = None
    units_total: Int
    units_served: Int
    units_unserved: Int
    fill_rate: Num
    stops: Int
    two_hour_compliance: Num
    cold_chain_compliance: Num
    delivery_cost_share_of_sales: Num | None = None
    in_spec_share: Num | None = None
    expected_spoilage_cost: Num | None = None
    spoiled_crates: Num | None = None


class CheckResult(_Model):
    """What the independent checker said when the plan was written."""

    violations: Int
    by_cause: dict[Id, Int] = Field(default_factory=dict)

    @classmethod
    def of(cls, causes: list[str]) -> CheckResult:
        """From the causes of the checker's violations, one per violation."""
        by: dict[str, int] = {}
        for c in causes:
            by[c] = by.get(c, 0) + 1
        return cls(violations=len(causes), by_cause=by)


class Params(_Model):
    """How the plan was searched for (provenance: not a claim about the night, so the checker
    cannot recompute it; the model holds each value to the range :class:`fulfil.params.PlanParams`
    accepts)."""

    time_limit_s: Annotated[Num, Field(gt=0)] | None = None
    solution_limit: Annotated[Int, Field(ge=1)] | None = None
    #: worker processes used (``--workers 0`` is written as the number it stood for)
    workers: Annotated[Int, Field(ge=1)]
    #: :data:`fulfil.params.ENGINES`
    engine: Literal["ortools", "nearest"]
    #: search time per job of a subproblem (when the budget was set by size, not shared)
    seconds_per_job: Annotated[Num, Field(gt=0)] | None = None


class Plan(_Model):
    format: Literal["fulfil-plan"]
    format_version: int
    #: 0 ok, 130 interrupted (the best plan found so far); the checker holds it to ``error`` and
    #: to the ``interrupted`` unserved lines
    code: Int
    #: only with code 130: what happened, for people
    error: Text | None = None
    scenario: Id
    #: sha256 of the scenario as the planner read it (``fulfil check`` warns when it differs)
    scenario_digest: Id | None = None
    #: provenance: the seed the search used
    seed: Int = 0
    params: Params | None = None
    kpis: Kpis
    duties: list[Duty]
    unserved: list[Unserved]
    #: pickup point id → the forward warehouse whose trips serve it, for every pickup point
    #: something is delivered to (and no other)
    assignment: dict[Id, Id]
    check: CheckResult | None = None
    #: provenance: wall seconds per stage and peak memory (measurements of the run)
    stats: dict[Id, Annotated[Num, Field(ge=0)]] = Field(default_factory=dict)

    @field_validator("code")
    @classmethod
    def _code(cls, v: int) -> int:
        if v not in (0, 130):
            raise ValueError(f"code {v} is not a plan's code: 0 (complete) or 130 (interrupted, the best plan so far)")
        return v

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
def _clip(text: str, n: int = 60) -> str:
    """``text`` safe to print: control characters escaped, at most ``n`` characters."""
    out = "".join(c if c.isprintable() else repr(c)[1:-1] for c in text[: n + 1])
    return out if len(out) <= n else out[: n - 3] + "..."


def _loc(err: dict) -> str:
    out = ""
    for part in err.get("loc", ()):
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + _clip(str(part))
    return out or "(top level)"


def _message(err: dict) -> str:
    t = err.get("type", "")
    if t == "missing":
        return "missing key"
    if t == "extra_forbidden":
        return "unknown key (not part of the plan format)"
    if t == "literal_error" and err.get("loc", ())[:1] == ("format",):
        return f"expected '{FORMAT}', got {_clip(repr(err.get('input')))} (is this a plan file?)"
    if t == "string_pattern_mismatch":
        return "contains a control character"
    if t in ("greater_than_equal", "less_than_equal") and not isinstance(err.get("input"), bool):
        return f"{_clip(str(err.get('msg')))} (a plan's numbers stay within ±{MAX_ABS_NUMBER:g}, its integers within ±2**53)"
    msg = err.get("msg", "invalid")
    return _clip(msg.removeprefix("Value error, "), 300)


def _depth(doc: object) -> int:
    """How deeply ``doc``'s lists and objects nest (without recursion: a hostile file may nest 100,000 deep)."""
    deepest = 0
    stack = [(doc, 1)]
    while stack:
        x, k = stack.pop()
        if isinstance(x, dict):
            x = list(x.values())
        if isinstance(x, list):
            deepest = max(deepest, k)
            if k > MAX_DEPTH:
                break
            stack.extend((v, k + 1) for v in x if isinstance(v, (dict, list)))
    return deepest


def _validate(doc: object) -> tuple[Plan | None, list[str]]:
    """``(plan, [])`` or ``(None, structural problems as "field.path: what is wrong")`` — one validation."""
    if not isinstance(doc, dict):
        return None, ["the top level must be a JSON object"]
    if _depth(doc) > MAX_DEPTH:
        return None, [f"(top level): lists and objects nest more than {MAX_DEPTH} deep (a plan nests 10 deep)"]
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


class _DuplicateKey(ValueError):
    """A JSON object names the same key twice."""


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """A JSON object, refusing a key given twice (readers disagree on which one counts)."""
    out = dict(pairs)
    if len(out) != len(pairs):
        seen: set[str] = set()
        twice = next(k for k, _ in pairs if k in seen or seen.add(k))
        raise _DuplicateKey(f"key '{_clip(twice)}' appears twice in one object")
    return out


def _read_bytes(path: Path, name: str) -> bytes:
    """The file's bytes, at most :data:`MAX_PLAN_BYTES`; :class:`ScenarioError` naming it otherwise."""
    try:
        info = path.stat()
        if stat.S_ISDIR(info.st_mode):
            raise ScenarioError(f"{name}: plan file is a folder, not a file")
        if not stat.S_ISREG(info.st_mode):
            raise ScenarioError(f"{name}: plan file is not a regular file")
        if info.st_size > MAX_PLAN_BYTES:
            raise ScenarioError(f"{name}: plan file has {info.st_size / 2**20:.0f} MB; a plan file may have at most "
                                f"{MAX_PLAN_BYTES // 2**20} MB")
        with path.open("rb") as f:
            data = f.read(MAX_PLAN_BYTES + 1)
    except FileNotFoundError:
        raise ScenarioError(f"{name}: plan file not found") from None
    except PermissionError:
        raise ScenarioError(f"{name}: plan file cannot be read (permission denied)") from None
    except (OSError, ValueError) as exc:  # a NUL byte, a name too long, a symlink loop, an I/O error
        raise ScenarioError(f"{name}: plan file cannot be read ({_clip(str(exc), 120)})") from None
    if len(data) > MAX_PLAN_BYTES:  # grew while being read
        raise ScenarioError(f"{name}: plan file has more than {MAX_PLAN_BYTES // 2**20} MB")
    return data


def read_plan(path: str | Path) -> Plan:
    """Read ``plan.json``; :class:`ScenarioError` naming the file when it cannot be read or is not a
    valid plan — never another exception, whatever the file holds (too big, not UTF-8, nested too
    deep, numbers beyond float64, keys given twice)."""
    name = _clip(str(path), 300)
    data = _read_bytes(Path(path), name)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ScenarioError(f"{name}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    try:
        doc = json.loads(text, parse_constant=lambda c: math.nan, object_pairs_hook=_unique_keys)
    except json.JSONDecodeError as exc:
        raise ScenarioError(f"{name}: malformed JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}") from None
    except RecursionError:
        raise ScenarioError(f"{name}: lists and objects nest more than {MAX_DEPTH} deep (a plan nests 10 deep)") from None
    except _DuplicateKey as exc:
        raise ScenarioError(f"{name}: {exc}") from None
    except ValueError:  # Python refuses to convert integers of more than 4,300 digits
        raise ScenarioError(f"{name}: holds an integer too long to read (a plan's integers stay within ±2**53)") from None
    return parse_plan(doc, name)


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
