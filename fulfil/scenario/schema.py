"""The scenario model: frozen pydantic records validated once at the boundary.

Units (stated once, see ``scenarios/README.md``): clock times are ``"HH:MM"`` on the
delivery day (stored as minutes since 00:00), durations in minutes, distances in
km, masses in kg, money in RMB, speeds in km/h, quantities in units of a product,
capacities in crates.

Field rules live on the records; rules that relate records (ids, references,
zones, fleet) live in :func:`cross_check`, which returns every problem it finds
as ``(field path, message)`` pairs instead of stopping at the first.  Building a
:class:`Scenario` in any way (``Scenario(**doc)``, ``Scenario.model_validate(doc)``,
the file loader) runs :func:`cross_check` once every record is valid and raises a
pydantic ``ValidationError`` holding one error of type :data:`CROSS_RECORD` per
problem, located at its field (``loc == ("pickup_points", 3, "forward_warehouse")``).
"""

from __future__ import annotations

import datetime as _dt
import difflib
from collections.abc import Iterable, Mapping
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from fulfil.units import format_clock, parse_clock

FORMAT_VERSION = 1
ZONES: tuple[str, ...] = ("frozen", "chilled", "ambient")
Zone = Literal["frozen", "chilled", "ambient"]

#: Product temperature ranges per zone in °C (DOMAIN.md §2.1: frozen ≤ −18 °C,
#: chilled 0–4 °C, ambient 15–25 °C).
ZONE_RANGE_C = {"frozen": (-60.0, -18.0), "chilled": (0.0, 4.0), "ambient": (15.0, 25.0)}

#: pydantic error type of a problem found by :func:`cross_check`.
CROSS_RECORD = "cross_record"
#: Validation-context key: ids of records left out of the document because they are invalid
#: themselves, by section (see ``also_known`` of :func:`cross_check`).
ALSO_KNOWN = "also_known"


def _clock(value: object) -> float:
    """``"HH:MM"``, minutes, or a TOML/YAML local time (``07:30:00`` unquoted)."""
    if isinstance(value, _dt.time):
        return value.hour * 60.0 + value.minute + value.second / 60.0
    return parse_clock(value)


Clock = Annotated[float, BeforeValidator(_clock)]
Id = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.\-]+$")]
NonNeg = Annotated[float, Field(ge=0, allow_inf_nan=False)]
Pos = Annotated[float, Field(gt=0, allow_inf_nan=False)]
Lon = Annotated[float, Field(ge=-180, le=180, allow_inf_nan=False)]
Lat = Annotated[float, Field(ge=-90, le=90, allow_inf_nan=False)]


class Record(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", str_strip_whitespace=True)


class Window(Record):
    """A clock window ``[open, close]`` in minutes since 00:00; written ``["07:00", "11:30"]``."""

    open: Clock
    close: Clock

    @model_validator(mode="before")
    @classmethod
    def _from_pair(cls, value: object) -> object:
        if isinstance(value, (list, tuple)):
            if len(value) != 2:
                raise ValueError("expected [open, close], e.g. ['07:00', '11:30']")
            return {"open": value[0], "close": value[1]}
        return value

    @model_validator(mode="after")
    def _ordered(self) -> Window:
        if self.open > self.close:
            raise ValueError(
                f"opens after it closes ({format_clock(self.open)} > {format_clock(self.close)});"
                " write [open, close], e.g. ['07:00', '11:30']"
            )
        return self


class Region(Record):
    """Bounding box of the scenario's geography, used to catch swapped lon/lat."""

    name: str = ""
    lon_min: Lon
    lon_max: Lon
    lat_min: Lat
    lat_max: Lat

    @model_validator(mode="after")
    def _ordered(self) -> Region:
        if self.lon_min >= self.lon_max or self.lat_min >= self.lat_max:
            raise ValueError("lon_min/lat_min must be below lon_max/lat_max")
        return self


class Product(Record):
    id: Id
    name: str = ""
    zone: Zone
    #: Minutes the goods may spend outside a compartment of their zone (e.g. in an
    #: insulated box on an unrefrigerated vehicle).
    max_minutes_out_of_zone: NonNeg = 120.0
    kg_per_unit: Pos = 0.8
    units_per_crate: Pos = 15.0
    price: NonNeg = 0.0
    #: Quality-decay class (DOMAIN.md §2.4: shelf life at a reference temperature, Q10,
    #: sale limit); default by zone: chilled → leafy_veg, frozen → frozen, ambient → none.
    quality_class: Literal["leafy_veg", "fruit", "chilled_meat", "dairy", "frozen"] | None = None


class CentralWarehouse(Record):
    id: Id
    name: str = ""
    lon: Lon
    lat: Lat


class ForwardWarehouse(Record):
    id: Id
    name: str = ""
    lon: Lon
    lat: Lat
    #: Central warehouse that supplies it; default: the nearest one.
    central: Id | None = None
    #: Crates per zone it can sort and hold tonight; a zone left out is unlimited.
    capacity: dict[Zone, Annotated[int, Field(ge=0)]] = Field(default_factory=dict)
    #: Last-mile dispatch time override (default: ``policies.last_mile_dispatch``).
    dispatch: Clock | None = None


class PickupPoint(Record):
    id: Id
    name: str = ""
    lon: Lon
    lat: Lat
    kind: Literal["leader_shop", "locker"] = "leader_shop"
    window: Window
    #: Lockers only: cells per zone (one crate per cell).
    cells: dict[Zone, Annotated[int, Field(ge=0)]] | None = None
    #: Pin to a forward warehouse (default: chosen by the allocation).
    forward_warehouse: Id | None = None

    @model_validator(mode="after")
    def _cells(self) -> PickupPoint:
        if self.kind == "locker" and self.cells is None:
            raise ValueError("a locker needs 'cells' per zone, e.g. {ambient = 40, chilled = 20}")
        if self.kind == "leader_shop" and self.cells is not None:
            raise ValueError("'cells' is only for kind = 'locker'")
        return self


class Compartment(Record):
    zone: Zone
    crates: Annotated[int, Field(gt=0)]
    kg: Pos


class SpeedProfile(Record):
    id: Id
    free_flow_kmh: Pos = 40.0
    #: Speed factor for each clock hour 0..23 (DOMAIN.md §3.1).
    hourly_factors: Annotated[list[Pos], Field(min_length=24, max_length=24)] = Field(
        default_factory=lambda: list(DEFAULT_HOURLY_FACTORS)
    )


#: Light-truck urban profile from DOMAIN.md §3.1 (night 1.15, 06–07 0.9, AM peak
#: 0.5, day 0.7, PM peak 0.5, evening 0.85).
DEFAULT_HOURLY_FACTORS = (
    [1.15] * 6 + [0.9] + [0.5] * 2 + [0.7] * 8 + [0.5] * 3 + [0.85] * 3 + [1.15]
)


class Body(Record):
    """Thermal body of a refrigerated vehicle (defaults: 4.2 m reefer, DOMAIN.md §2.2, §7)."""

    #: ATP heat-transfer coefficient, W/m²K (heavy insulation IR ≤ 0.40).
    k_w_m2k: Pos = 0.40
    #: Inside surface, m² (4.2 m box ≈ 45 m², DOMAIN.md §2.3).
    area_m2: Pos = 45.0
    volume_m3: Pos = 16.0
    #: Refrigeration unit capacity at a chilled set point, kW (4.2 m reefer 3.5 kW).
    unit_kw: NonNeg = 3.5
    #: Strip curtain at the door halves the door-opening heat gain (DOMAIN.md §2.3).
    curtain: bool = False


class MovableTotal(Record):
    """Movable partitions: compartments' ``crates``/``kg`` are each zone's maximum; this is the body total."""

    crates: Annotated[int, Field(gt=0)]
    kg: Pos


class VehicleType(Record):
    id: Id
    name: str = ""
    tier: Literal["trunk", "last_mile"]
    #: Warehouse id the vehicles start and end at (central for trunk, forward for last mile).
    home: Id
    count: Annotated[int, Field(ge=0)]
    compartments: Annotated[list[Compartment], Field(min_length=1)]
    refrigerated: bool
    #: Unrefrigerated only: minutes insulated boxes keep chilled goods in range (0 = none).
    insulated_box_minutes: NonNeg = 0.0
    fixed_cost: NonNeg = 0.0
    cost_per_km: NonNeg = 0.0
    cost_per_hour: NonNeg = 0.0
    shift: Window
    speed_profile: Id = "default"
    body: Body = Body()
    #: Movable partitions: the optimiser chooses each route's split within the zones' maxima.
    movable_total: MovableTotal | None = None

    @model_validator(mode="after")
    def _zones(self) -> VehicleType:
        zones = [c.zone for c in self.compartments]
        if len(set(zones)) != len(zones):
            raise ValueError("two compartments of the same zone: merge them into one")
        if self.movable_total is not None:
            if self.movable_total.crates < max(c.crates for c in self.compartments):
                raise ValueError("movable_total.crates is smaller than one compartment's maximum")
        return self


class Demand(Record):
    """Tonight's orders at one pickup point."""

    pickup_point: Id
    orders: Annotated[int, Field(ge=0)]
    #: Units per product id.
    items: dict[str, Annotated[int, Field(ge=0)]]


class Stock(Record):
    """Units of a product available at a central warehouse tonight."""

    warehouse: Id
    product: Id
    quantity: Annotated[int, Field(ge=0)]


class Policies(Record):
    #: Arrival window of trunk trucks at forward warehouses (night receiving).
    trunk_receiving: Window = Window(open=120.0, close=360.0)
    #: Departure of trunk trucks from the central warehouse.
    trunk_departure: Clock = 90.0
    #: Departure of last-mile vehicles from the forward warehouse's cold room.
    last_mile_dispatch: Clock = 420.0
    #: The promise: chilled and frozen goods reach the pickup point within this many
    #: minutes of leaving the forward warehouse's cold room.
    promise_minutes: Pos = 120.0
    service_fixed_min: NonNeg = 5.0
    service_per_crate_min: NonNeg = 0.15
    locker_fixed_min: NonNeg = 4.0
    locker_per_cell_min: NonNeg = 0.3
    trunk_unload_fixed_min: NonNeg = 20.0
    trunk_unload_per_crate_min: NonNeg = 0.05
    #: Reloading a vehicle at its depot between two trips of one night: fixed minutes plus
    #: minutes per crate loaded for the next trip (DOMAIN.md §5: dock turnaround 15–25 min).
    reload_fixed_min: NonNeg = 15.0
    reload_per_crate_min: NonNeg = 0.05
    #: Customers collect until this time; goods whose remaining shelf life ends earlier spoil.
    customer_pickup_end: Clock = 1260.0
    #: Check every route with the thermal model and repair routes it rejects.
    cold_chain_model: bool = True
    #: Add expected spoilage to the routing objective: each minute a stop's chilled or frozen
    #: goods ride costs their value × the share of shelf life a minute at the compartment's
    #: set point consumes (Q10 model), so routes reach the most perishable, valuable goods first.
    spoilage_in_objective: bool = False
    #: Objective: cost of leaving one crate undelivered (keeps dropping a last resort).
    unserved_penalty_per_crate: NonNeg = 2000.0
    #: Road distance = straight-line × factor, by straight-line distance band.
    circuity_breaks_km: Annotated[list[Pos], Field(min_length=1)] = Field(
        default_factory=lambda: [2.0, 10.0]
    )
    circuity_factors: Annotated[list[Annotated[float, Field(ge=1, le=3)]], Field(min_length=2)] = (
        Field(default_factory=lambda: [1.40, 1.33, 1.25])
    )

    @model_validator(mode="after")
    def _bands(self) -> Policies:
        if len(self.circuity_factors) != len(self.circuity_breaks_km) + 1:
            raise ValueError("circuity_factors needs one more entry than circuity_breaks_km")
        if sorted(self.circuity_breaks_km) != list(self.circuity_breaks_km):
            raise ValueError("circuity_breaks_km must be increasing")
        return self


#: A mild spring day in central China, °C per clock hour (used when a scenario gives no weather).
DEFAULT_HOURLY_C = [16.0, 15.5, 15.0, 15.0, 15.0, 15.5, 16.5, 18.0, 19.5, 21.0, 22.5, 23.5,
                    24.0, 24.5, 24.5, 24.0, 23.0, 22.0, 20.5, 19.5, 18.5, 18.0, 17.0, 16.5]


class Weather(Record):
    #: Outside air temperature for each clock hour 0..23, °C.
    hourly_c: Annotated[list[Annotated[float, Field(ge=-50, le=60)]], Field(min_length=24, max_length=24)] = (
        Field(default_factory=lambda: list(DEFAULT_HOURLY_C))
    )


class MatrixFile(Record):
    """A user-supplied distance (and optionally time) matrix replacing great-circle estimates."""

    path: str
    #: When the file has no minutes column: free-flow time from distance at this speed.
    free_flow_kmh: Pos | None = None


class Scenario(Record):
    format_version: int
    name: Annotated[str, Field(min_length=1)]
    description: str = ""
    region: Region | None = None
    products: Annotated[list[Product], Field(min_length=1)]
    central_warehouses: Annotated[list[CentralWarehouse], Field(min_length=1)]
    forward_warehouses: Annotated[list[ForwardWarehouse], Field(min_length=1)]
    pickup_points: Annotated[list[PickupPoint], Field(min_length=1)]
    vehicle_types: Annotated[list[VehicleType], Field(min_length=1)]
    speed_profiles: list[SpeedProfile] = Field(default_factory=lambda: [SpeedProfile(id="default")])
    demand: list[Demand]
    stock: list[Stock] | None = None
    policies: Policies = Policies()
    weather: Weather = Weather()
    matrix: MatrixFile | None = None

    # A field validator (not a model validator) so a wrong version is reported
    # together with every other problem instead of only once all else is valid.
    @field_validator("format_version")
    @classmethod
    def _version(cls, value: int) -> int:
        if value != FORMAT_VERSION:
            raise ValueError(f"format_version {value} is not supported; this fulfil reads format_version = {FORMAT_VERSION}")
        return value

    # Runs only once every record is valid (pydantic skips "after" validators otherwise); the
    # file loader then validates the valid records again, their left-out ids in the context
    # under ALSO_KNOWN, so that invalid records do not hide the cross-record problems.
    @model_validator(mode="after")
    def _cross_records(self, info: ValidationInfo) -> Scenario:
        context = info.context if isinstance(info.context, Mapping) else {}
        problems = cross_check(self, also_known=context.get(ALSO_KNOWN))
        if problems:
            raise cross_check_error(self, problems)
        return self


def parse_path(text: str) -> tuple:
    """``'a[3].b'`` → ``('a', 3, 'b')``, the form of a pydantic error's ``loc``."""
    out: list[Any] = []
    for part in text.split("."):
        while "[" in part:
            head, _, rest = part.partition("[")
            if head:
                out.append(head)
            idx, _, part = rest.partition("]")
            out.append(int(idx))
        if part:
            out.append(part)
    return tuple(out)


def _value_at(obj: Any, loc: tuple) -> Any:
    for item in loc:
        try:
            obj = obj[item] if isinstance(item, int) or isinstance(obj, Mapping) else getattr(obj, item)
        except (AttributeError, IndexError, KeyError, TypeError):
            return None
    return obj


def cross_check_error(s: Scenario, problems: list[tuple[str, str]]) -> ValidationError:
    """``problems`` of :func:`cross_check` as one ``ValidationError``, each error at its field's ``loc``."""
    return ValidationError.from_exception_data(
        "Scenario",
        [
            {
                "type": PydanticCustomError(CROSS_RECORD, "{message}", {"message": message}),
                "loc": parse_path(path),
                "input": _value_at(s, parse_path(path)),
            }
            for path, message in problems
        ],
    )


def _dupes(items: list, key: str, section: str) -> list[tuple[str, str]]:
    seen: dict[str, int] = {}
    out = []
    for i, item in enumerate(items):
        k = getattr(item, key)
        if k in seen:
            out.append((f"{section}[{i}].{key}", f"duplicate id '{k}' (first used at {section}[{seen[k]}])"))
        else:
            seen[k] = i
    return out


def _unknown(kind: str, value: str, known: Iterable[str]) -> str:
    """``unknown <kind> 'x'`` plus what to write instead (a close match, or the ids there are)."""
    known = sorted(set(known))
    close = difflib.get_close_matches(value, known, n=1, cutoff=0.6)
    if close:
        hint = f" (did you mean '{close[0]}'?)"
    elif not known:
        hint = f" (no {kind} is defined)"
    elif len(known) <= 6:
        hint = f" (defined: {', '.join(known)})"
    else:
        hint = f" ({len(known)} are defined, e.g. {', '.join(known[:3])})"
    return f"unknown {kind} '{value}'{hint}"


def cross_check(
    s: Scenario, *, also_known: Mapping[str, Iterable[str]] | None = None
) -> list[tuple[str, str]]:
    """Rules that relate records; returns every ``(field path, message)`` found.

    ``also_known`` maps a section name to ids of records that exist in the file but
    were left out of ``s`` because they are invalid themselves (the loader uses this
    to keep checking the rest without reporting references to them as dangling).
    If it names ``vehicle_types``, the per-zone fleet coverage check is skipped.
    """
    extra = {k: set(v) for k, v in (also_known or {}).items()}
    problems: list[tuple[str, str]] = []
    for section, key in (
        ("products", "id"),
        ("central_warehouses", "id"),
        ("forward_warehouses", "id"),
        ("pickup_points", "id"),
        ("vehicle_types", "id"),
        ("speed_profiles", "id"),
    ):
        problems += _dupes(getattr(s, section), key, section)
    sites = {}
    for section in ("central_warehouses", "forward_warehouses", "pickup_points"):
        for i, r in enumerate(getattr(s, section)):
            if r.id in sites and sites[r.id] != section:
                problems.append((f"{section}[{i}].id", f"id '{r.id}' is also used in {sites[r.id]}"))
            sites.setdefault(r.id, section)

    centrals = {c.id for c in s.central_warehouses} | extra.get("central_warehouses", set())
    forwards = {f.id for f in s.forward_warehouses} | extra.get("forward_warehouses", set())
    pickups = {p.id for p in s.pickup_points} | extra.get("pickup_points", set())
    products = {p.id for p in s.products} | extra.get("products", set())
    profiles = {p.id for p in s.speed_profiles} | extra.get("speed_profiles", set())

    if s.region is not None:
        r = s.region
        for section in ("central_warehouses", "forward_warehouses", "pickup_points"):
            for i, rec in enumerate(getattr(s, section)):
                inside = r.lon_min <= rec.lon <= r.lon_max and r.lat_min <= rec.lat <= r.lat_max
                if inside:
                    continue
                swapped = r.lon_min <= rec.lat <= r.lon_max and r.lat_min <= rec.lon <= r.lat_max
                hint = " — lon and lat look swapped; exchange them" if swapped else "; check the coordinates"
                problems.append(
                    (f"{section}[{i}]", f"({rec.lon}, {rec.lat}) lies outside region '{r.name}'"
                     f" [{r.lon_min}..{r.lon_max}] x [{r.lat_min}..{r.lat_max}]{hint}")
                )

    for i, f in enumerate(s.forward_warehouses):
        if f.central is not None and f.central not in centrals:
            problems.append((f"forward_warehouses[{i}].central", _unknown("central warehouse", f.central, centrals)))
    for i, p in enumerate(s.pickup_points):
        if p.forward_warehouse is not None and p.forward_warehouse not in forwards:
            problems.append(
                (f"pickup_points[{i}].forward_warehouse", _unknown("forward warehouse", p.forward_warehouse, forwards))
            )

    zones_anywhere: dict[str, set[str]] = {"trunk": set(), "last_mile": set()}
    for i, v in enumerate(s.vehicle_types):
        if v.tier == "trunk" and v.home not in centrals:
            where = (
                " (it is a forward warehouse; use tier = 'last_mile' or a central warehouse home)"
                if v.home in forwards
                else f": {_unknown('central warehouse', v.home, centrals)}"
            )
            problems.append((f"vehicle_types[{i}].home", f"trunk vehicles need a central warehouse home; '{v.home}' is not one{where}"))
        if v.tier == "last_mile" and v.home not in forwards:
            where = (
                " (it is a central warehouse; use tier = 'trunk' or a forward warehouse home)"
                if v.home in centrals
                else f": {_unknown('forward warehouse', v.home, forwards)}"
            )
            problems.append((f"vehicle_types[{i}].home", f"last-mile vehicles need a forward warehouse home; '{v.home}' is not one{where}"))
        if v.speed_profile not in profiles:
            problems.append((f"vehicle_types[{i}].speed_profile", _unknown("speed profile", v.speed_profile, profiles)))
        for j, c in enumerate(v.compartments):
            if not v.refrigerated and c.zone == "frozen":
                problems.append(
                    (f"vehicle_types[{i}].compartments[{j}].zone",
                     "an unrefrigerated vehicle cannot carry frozen goods; set refrigerated = true or remove the compartment")
                )
            if not v.refrigerated and c.zone == "chilled" and v.insulated_box_minutes <= 0:
                problems.append(
                    (f"vehicle_types[{i}].insulated_box_minutes",
                     "an unrefrigerated vehicle with a chilled compartment needs insulated_box_minutes > 0")
                )
            zones_anywhere[v.tier].add(c.zone)
        if v.refrigerated and v.insulated_box_minutes > 0:
            problems.append((f"vehicle_types[{i}].insulated_box_minutes", "only for unrefrigerated vehicles"))

    for i, p in enumerate(s.products):
        if extra.get("vehicle_types"):
            break  # the zones of the invalid vehicle types are unknown
        for tier in ("trunk", "last_mile"):
            if p.zone not in zones_anywhere[tier]:
                problems.append(
                    (f"products[{i}].zone",
                     f"no {tier.replace('_', '-')} vehicle has a '{p.zone}' compartment, so '{p.id}' cannot be moved;"
                     f" add a '{p.zone}' compartment to a {tier.replace('_', '-')} vehicle type")
                )

    seen_demand: dict[str, int] = {}
    for i, d in enumerate(s.demand):
        if d.pickup_point not in pickups:
            problems.append((f"demand[{i}].pickup_point", _unknown("pickup point", d.pickup_point, pickups)))
        if d.pickup_point in seen_demand:
            problems.append(
                (f"demand[{i}].pickup_point",
                 f"second demand row for '{d.pickup_point}' (first at demand[{seen_demand[d.pickup_point]}]); merge them")
            )
        seen_demand.setdefault(d.pickup_point, i)
        for k in d.items:
            if k not in products:
                problems.append((f"demand[{i}].items.{k}", _unknown("product", k, products)))
        if d.orders == 0 and any(q > 0 for q in d.items.values()):
            problems.append((f"demand[{i}].orders", "items are ordered but orders is 0"))

    if s.stock is not None:
        seen_stock: set[tuple[str, str]] = set()
        for i, st in enumerate(s.stock):
            if st.warehouse not in centrals:
                problems.append((f"stock[{i}].warehouse", _unknown("central warehouse", st.warehouse, centrals)))
            if st.product not in products:
                problems.append((f"stock[{i}].product", _unknown("product", st.product, products)))
            if (st.warehouse, st.product) in seen_stock:
                problems.append((f"stock[{i}]", f"duplicate stock row for ({st.warehouse}, {st.product})"))
            seen_stock.add((st.warehouse, st.product))

    pol = s.policies
    if pol.trunk_departure > pol.trunk_receiving.close:
        problems.append(("policies.trunk_departure", "trunk trucks would leave after the receiving window closes"))
    if pol.trunk_receiving.close > pol.last_mile_dispatch:
        problems.append(("policies.trunk_receiving", "closes after last-mile dispatch; goods would leave before they arrive"))
    return problems
