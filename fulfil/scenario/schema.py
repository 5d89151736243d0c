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

Every number has an upper bound and every list a maximum length (the ``MAX_*`` constants
below, listed in ``scenarios/README.md``).  Each bound lies far above the largest network
in DOMAIN.md §1.3 and §4 (a tier-1 city: 3 central and 60 forward warehouses, 6,000 pickup
points, 400,000 orders, 1,260 vehicles), so no real scenario meets one; what they keep out
are values no array of the planner can hold (a quantity of 2**62, a crate of 1e-300 units,
100,000 vehicles of one type), which would otherwise pass validation and crash the plan.

Every lon/lat in a validated :class:`Scenario` is WGS-84.  ``coordinate_system`` records the
system the file was written in (GCJ-02 from Amap or Tencent, BD-09 from Baidu); the file loader
converts on load, the model never does, so a model dumped and validated again (a national
night's cities, a re-plan) is not converted twice.  Reports read the field to write coordinates
back in the file's system where a Chinese map tool reads them.
"""

from __future__ import annotations

import datetime as _dt
import difflib
import unicodedata
from collections.abc import Iterable, Mapping
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    AfterValidator,
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
from geo.china import CoordSystem

FORMAT_VERSION = 1
ZONES: tuple[str, ...] = ("frozen", "chilled", "ambient")
Zone = Literal["frozen", "chilled", "ambient"]

#: Product temperature ranges per zone in °C (DOMAIN.md §2.1: frozen ≤ −18 °C,
#: chilled 0–4 °C, ambient 15–25 °C).
ZONE_RANGE_C = {"frozen": (-60.0, -18.0), "chilled": (0.0, 4.0), "ambient": (15.0, 25.0)}

#: Longest list per section (one scenario is one city's night; see the module docstring).
MAX_CENTRAL_WAREHOUSES = 50
MAX_FORWARD_WAREHOUSES = 1_000
MAX_PICKUP_POINTS = 20_000
#: Products in one night (DOMAIN.md §1.2: a full fresh assortment is ~2,000 SKUs).  Demand is a
#: pickup point × product array, so this and MAX_PICKUP_POINTS bound it to 4e7 cells.
MAX_PRODUCTS = 2_000
MAX_VEHICLE_TYPES = 2_000
MAX_SPEED_PROFILES = 200
MAX_STOCK_ROWS = MAX_CENTRAL_WAREHOUSES * MAX_PRODUCTS
#: Vehicles of one type, and of all types together (the large city has 37 and 1,260).
MAX_VEHICLES_PER_TYPE = 1_000
MAX_VEHICLES = 20_000
#: Orders at one pickup point (DOMAIN.md §1.3: 800 on the busiest days) and units of one product there.
MAX_ORDERS = 100_000
MAX_UNITS = 1_000_000
#: Units of one product in stock at one central warehouse.
MAX_STOCK_UNITS = 10_000_000_000
#: Crates of one compartment or vehicle body, and its kg (a 4.2 m reefer carries ~300 crates,
#: a 9.6 m truck ~1,100; the bound leaves room for benchmark instances mapped onto crates).
MAX_VEHICLE_CRATES = 100_000
MAX_VEHICLE_KG = 1_000_000.0
#: Crates a forward warehouse sorts per zone, and locker cells per zone.
MAX_WAREHOUSE_CRATES = 10_000_000
MAX_CELLS = 10_000
#: A product's units per crate: 0.01 (one unit fills 100 crates) to 10,000 (sachets).
MIN_UNITS_PER_CRATE = 0.01
MAX_UNITS_PER_CRATE = 10_000.0
MAX_KG_PER_UNIT = 1_000.0
#: Money bounds, RMB: price of one unit; a cost or penalty item.
MAX_PRICE = 100_000.0
MAX_COST = 10_000_000.0
#: Durations in minutes (the planning clock spans 48 hours).
MAX_MINUTES = 2_880.0
#: Road speeds, km/h; factors of a speed profile.
MAX_KMH = 300.0
MIN_SPEED_FACTOR = 0.05
MAX_SPEED_FACTOR = 10.0
#: A matrix file's free-flow speed may be in the file's own distance unit per hour (benchmark
#: instances use abstract units), so it is bounded only against overflow.
MAX_MATRIX_KMH = 100_000.0
#: Display names and the description, characters.
MAX_NAME = 200
MAX_DESCRIPTION = 10_000
#: Receiving windows of one pickup point (before and after the morning peak is two).
MAX_WINDOWS = 4

#: How far, in degrees, a site of a GCJ-02 or BD-09 scenario may lie outside its converted region.
#: The loader converts the region's corners as points, but the offset varies across a box: by up to
#: 0.011° over the whole of China (measured on a 1,500 × 1,500 grid of the GCJ-02 box), so a site
#: inside the box the file gives may land just outside the converted corners.
CONVERTED_REGION_TOLERANCE_DEG = 0.012

#: Problems of :func:`cross_check` raised as errors; the rest are counted in one more error
#: (10,000 rows naming unknown ids must not become 10,000 error objects).
MAX_CROSS_ERRORS = 1_000

#: pydantic error type of a problem found by :func:`cross_check`.
CROSS_RECORD = "cross_record"
#: Validation-context key: ids of records left out of the document because they are invalid
#: themselves, by section (see ``also_known`` of :func:`cross_check`).
ALSO_KNOWN = "also_known"


def _clock(value: object) -> float:
    """``"HH:MM"``, minutes, or a TOML/YAML local time (``07:30:00`` unquoted)."""
    if isinstance(value, _dt.time):
        return value.hour * 60.0 + value.minute + value.second / 60.0
    if isinstance(value, str) and (len(value) > 12 or not value.isascii()):
        raise ValueError("expected a clock time like '07:30'")
    return parse_clock(value)


def _not_bool(value: object) -> object:
    """Refuse ``true``/``false`` where a number belongs (pydantic would read them as 1 and 0)."""
    if isinstance(value, bool):
        raise ValueError(f"expected a number, not {str(value).lower()}")
    return value


#: Bidirectional-text controls: they reorder what a terminal shows without being visible.
_BIDI = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


def _visible(text: str, allowed: str = "") -> str:
    """``text`` unless it holds a control character (an ANSI escape, NUL, a bidi override …).

    Names reach the terminal, ``summary.txt`` and route sheets; a control character there
    could rewrite what a reader sees, so it is refused where the name enters.
    """
    for i, ch in enumerate(text):
        if ch in allowed:
            continue
        if unicodedata.category(ch) == "Cc" or ch in _BIDI:
            raise ValueError(
                f"control character U+{ord(ch):04X} at position {i + 1}; names may hold only visible text"
            )
    return text


def _description(text: str) -> str:
    return _visible(text, allowed="\n\t")


def _bounded(lo: float, hi: float, *, lo_open: bool = False) -> Any:
    """A finite float within ``lo``..``hi`` (``lo`` excluded when ``lo_open``); not a bool."""
    low = {"gt": lo} if lo_open else {"ge": lo}
    return Annotated[float, BeforeValidator(_not_bool), Field(le=hi, allow_inf_nan=False, **low)]


def _whole(lo: int, hi: int, *, lo_open: bool = False) -> Any:
    """An integer within ``lo``..``hi`` (``lo`` excluded when ``lo_open``); not a bool."""
    low = {"gt": lo} if lo_open else {"ge": lo}
    return Annotated[int, BeforeValidator(_not_bool), Field(le=hi, **low)]


Clock = Annotated[float, BeforeValidator(_clock)]
Id = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.\-]+$")]
Name = Annotated[str, Field(max_length=MAX_NAME), AfterValidator(_visible)]
#: Unbounded above: kept for the region loader, whose own fields bound them where it matters.
NonNeg = Annotated[float, Field(ge=0, allow_inf_nan=False)]
Pos = Annotated[float, Field(gt=0, allow_inf_nan=False)]
Lon = Annotated[float, BeforeValidator(_not_bool), Field(ge=-180, le=180, allow_inf_nan=False)]
Lat = Annotated[float, BeforeValidator(_not_bool), Field(ge=-90, le=90, allow_inf_nan=False)]
Minutes = _bounded(0, MAX_MINUTES)
Money = _bounded(0, MAX_COST)


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


def _shown(w: Window) -> str:
    return f"{format_clock(w.open)}–{format_clock(w.close)}"


class Region(Record):
    """Bounding box of the scenario's geography, used to catch swapped lon/lat."""

    name: Name = ""
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
    name: Name = ""
    zone: Zone
    #: Minutes the goods may spend outside a compartment of their zone (e.g. in an
    #: insulated box on an unrefrigerated vehicle).
    max_minutes_out_of_zone: Minutes = 120.0
    kg_per_unit: _bounded(0, MAX_KG_PER_UNIT, lo_open=True) = 0.8
    units_per_crate: _bounded(MIN_UNITS_PER_CRATE, MAX_UNITS_PER_CRATE) = 15.0
    price: _bounded(0, MAX_PRICE) = 0.0
    #: Quality-decay class (DOMAIN.md §2.4: shelf life at a reference temperature, Q10,
    #: sale limit); default by zone: chilled → leafy_veg, frozen → frozen, ambient → none.
    quality_class: Literal["leafy_veg", "fruit", "chilled_meat", "dairy", "frozen"] | None = None


class CentralWarehouse(Record):
    id: Id
    name: Name = ""
    lon: Lon
    lat: Lat


class ForwardWarehouse(Record):
    id: Id
    name: Name = ""
    lon: Lon
    lat: Lat
    #: Central warehouse that supplies it; default: the nearest one.
    central: Id | None = None
    #: Crates per zone it can sort and hold tonight; a zone left out is unlimited.
    capacity: dict[Zone, _whole(0, MAX_WAREHOUSE_CRATES)] = Field(default_factory=dict)
    #: Last-mile dispatch time override (default: ``policies.last_mile_dispatch``).
    dispatch: Clock | None = None


class PickupPoint(Record):
    id: Id
    name: Name = ""
    lon: Lon
    lat: Lat
    kind: Literal["leader_shop", "locker"] = "leader_shop"
    #: The receiving window; with ``windows`` given it is their span (filled in when left out).
    window: Window
    #: Several receiving windows, sorted and apart (e.g. before and after the morning peak):
    #: nothing is handed over between them. None: the one ``window`` (left out of dumps, so a
    #: scenario without it keeps its digest).
    windows: Annotated[list[Window], Field(min_length=1, max_length=MAX_WINDOWS)] | None = Field(
        default=None, exclude_if=lambda w: w is None
    )
    #: Lockers only: cells per zone (one crate per cell).
    cells: dict[Zone, _whole(0, MAX_CELLS)] | None = None
    #: Pin to a forward warehouse (default: chosen by the allocation).
    forward_warehouse: Id | None = None
    #: Closed tonight from this clock time (set by a re-plan's closure, or by hand): nothing is
    #: delivered there at or after it, and what it still needs is unserved as ``closed``.
    closed_from: Clock | None = None

    @model_validator(mode="before")
    @classmethod
    def _span(cls, value: object) -> object:
        """``window`` from ``windows`` when only they are written, so readers of ``window`` see the span."""
        if not isinstance(value, dict) or value.get("windows") is None or "window" in value:
            return value
        try:
            first = Window.model_validate(value["windows"][0])
            last = Window.model_validate(value["windows"][-1])
        except (ValidationError, TypeError, KeyError, IndexError):
            # ``windows`` is malformed and fails on its own errors; a stand-in span keeps a second,
            # misleading "window: field required" out of the report
            return {**value, "window": [0, 0]}
        return {**value, "window": [first.open, last.close]}

    @field_validator("windows")
    @classmethod
    def _apart(cls, windows: list[Window] | None) -> list[Window] | None:
        for i, w in enumerate(windows or ()):
            if w.open >= w.close:
                raise ValueError(f"window {i + 1} ({_shown(w)}) is empty; each window must open before it closes")
            if i and w.open <= windows[i - 1].close:
                raise ValueError(
                    f"window {i + 1} ({_shown(w)}) does not start after window {i} ({_shown(windows[i - 1])})"
                    " closes; list windows in time order, apart (join touching ones into one)"
                )
        return windows

    @model_validator(mode="after")
    def _one_span(self) -> PickupPoint:
        if self.windows is not None and (self.window.open, self.window.close) != (
            self.windows[0].open, self.windows[-1].close
        ):
            raise ValueError(
                f"'window' ({_shown(self.window)}) is not the span of 'windows'"
                f" ({_shown(self.windows[0])} … {_shown(self.windows[-1])}); write one of them"
            )
        return self

    @property
    def receiving_windows(self) -> tuple[tuple[float, float], ...]:
        """The ``(open, close)`` windows in minutes, in time order (one unless ``windows`` is given)."""
        return tuple((w.open, w.close) for w in (self.windows or [self.window]))

    @model_validator(mode="after")
    def _cells(self) -> PickupPoint:
        if self.kind == "locker" and self.cells is None:
            raise ValueError("a locker needs 'cells' per zone, e.g. {ambient = 40, chilled = 20}")
        if self.kind == "leader_shop" and self.cells is not None:
            raise ValueError("'cells' is only for kind = 'locker'")
        return self


class Compartment(Record):
    zone: Zone
    crates: _whole(0, MAX_VEHICLE_CRATES, lo_open=True)
    kg: _bounded(0, MAX_VEHICLE_KG, lo_open=True)


class SpeedProfile(Record):
    id: Id
    free_flow_kmh: _bounded(1, MAX_KMH) = 40.0
    #: Speed factor for each clock hour 0..23 (DOMAIN.md §3.1).
    hourly_factors: Annotated[
        list[_bounded(MIN_SPEED_FACTOR, MAX_SPEED_FACTOR)], Field(min_length=24, max_length=24)
    ] = Field(
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
    k_w_m2k: _bounded(0, 10, lo_open=True) = 0.40
    #: Inside surface, m² (4.2 m box ≈ 45 m², DOMAIN.md §2.3).
    area_m2: _bounded(0, 1_000, lo_open=True) = 45.0
    volume_m3: _bounded(0, 1_000, lo_open=True) = 16.0
    #: Refrigeration unit capacity at a chilled set point, kW (4.2 m reefer 3.5 kW).
    unit_kw: _bounded(0, 1_000) = 3.5
    #: Strip curtain at the door halves the door-opening heat gain (DOMAIN.md §2.3).
    curtain: bool = False


class MovableTotal(Record):
    """Movable partitions: compartments' ``crates``/``kg`` are each zone's maximum; this is the body total."""

    crates: _whole(0, MAX_VEHICLE_CRATES, lo_open=True)
    kg: _bounded(0, MAX_VEHICLE_KG, lo_open=True)


class VehicleType(Record):
    id: Id
    name: Name = ""
    tier: Literal["trunk", "last_mile"]
    #: Warehouse id the vehicles start and end at (central for trunk, forward for last mile).
    home: Id
    count: _whole(0, MAX_VEHICLES_PER_TYPE)
    compartments: Annotated[list[Compartment], Field(min_length=1, max_length=len(ZONES))]
    refrigerated: bool
    #: Unrefrigerated only: minutes insulated boxes keep chilled goods in range (0 = none).
    insulated_box_minutes: Minutes = 0.0
    fixed_cost: Money = 0.0
    cost_per_km: Money = 0.0
    cost_per_hour: Money = 0.0
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
    orders: _whole(0, MAX_ORDERS)
    #: Units per product id.
    items: Annotated[dict[Id, _whole(0, MAX_UNITS)], Field(max_length=MAX_PRODUCTS)]


class Stock(Record):
    """Units of a product available at a central warehouse tonight."""

    warehouse: Id
    product: Id
    quantity: _whole(0, MAX_STOCK_UNITS)


class Policies(Record):
    #: Arrival window of trunk trucks at forward warehouses (night receiving).
    trunk_receiving: Window = Window(open=120.0, close=360.0)
    #: Departure of trunk trucks from the central warehouse.
    trunk_departure: Clock = 90.0
    #: Departure of last-mile vehicles from the forward warehouse's cold room.
    last_mile_dispatch: Clock = 420.0
    #: The promise: chilled and frozen goods reach the pickup point within this many
    #: minutes of leaving the forward warehouse's cold room.
    promise_minutes: _bounded(0, MAX_MINUTES, lo_open=True) = 120.0
    service_fixed_min: Minutes = 5.0
    service_per_crate_min: Minutes = 0.15
    locker_fixed_min: Minutes = 4.0
    locker_per_cell_min: Minutes = 0.3
    trunk_unload_fixed_min: Minutes = 20.0
    trunk_unload_per_crate_min: Minutes = 0.05
    #: Reloading a vehicle at its depot between two trips of one night: fixed minutes plus
    #: minutes per crate loaded for the next trip (DOMAIN.md §5: dock turnaround 15–25 min).
    reload_fixed_min: Minutes = 15.0
    reload_per_crate_min: Minutes = 0.05
    #: Trips a last-mile vehicle may make in its shift (waves); its fixed cost is paid once a
    #: night.  ``1`` plans one trip per vehicle (DOMAIN.md §1: 1–2 waves per vehicle are normal).
    max_trips: _whole(1, 6) = 2
    #: Trips a trunk truck may make from its central warehouse in its shift, reloading there
    #: between two (``reload_fixed_min`` + ``reload_per_crate_min`` × crates); its fixed cost is
    #: paid once a night.  ``1`` plans one trip per trunk truck.
    trunk_max_trips: _whole(1, 6) = 2
    #: Customers collect until this time; goods whose remaining shelf life ends earlier spoil.
    customer_pickup_end: Clock = 1260.0
    #: Check every route with the thermal model and repair routes it rejects.
    cold_chain_model: bool = True
    #: Add expected spoilage to the routing objective: each minute a stop's chilled or frozen
    #: goods ride costs their value × the share of shelf life a minute at the compartment's
    #: set point consumes (Q10 model), so routes reach the most perishable, valuable goods first.
    spoilage_in_objective: bool = False
    #: Objective: cost of leaving one crate undelivered (keeps dropping a last resort).
    unserved_penalty_per_crate: Money = 2000.0
    #: Road distance = straight-line × factor, by straight-line distance band.
    circuity_breaks_km: Annotated[list[_bounded(0, 20_000, lo_open=True)], Field(min_length=1, max_length=50)] = (
        Field(default_factory=lambda: [2.0, 10.0])
    )
    circuity_factors: Annotated[list[_bounded(1, 3)], Field(min_length=2, max_length=51)] = (
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
    hourly_c: Annotated[list[_bounded(-50, 60)], Field(min_length=24, max_length=24)] = (
        Field(default_factory=lambda: list(DEFAULT_HOURLY_C))
    )


class MatrixFile(Record):
    """A user-supplied distance (and optionally time) matrix replacing great-circle estimates."""

    path: Annotated[str, Field(min_length=1, max_length=4096), AfterValidator(_visible)]
    #: When the file has no minutes column: free-flow time from distance at this speed.
    free_flow_kmh: _bounded(0, MAX_MATRIX_KMH, lo_open=True) | None = None


class Scenario(Record):
    #: Strict: ``true`` or ``1.0`` is not the version 1.
    format_version: Annotated[int, Field(strict=True)]
    name: Annotated[str, Field(min_length=1, max_length=MAX_NAME), AfterValidator(_visible)]
    description: Annotated[str, Field(max_length=MAX_DESCRIPTION), AfterValidator(_description)] = ""
    #: The system the file's coordinates are written in; the model's own lon/lat are WGS-84 always
    #: (see the module docstring).
    coordinate_system: CoordSystem = "wgs84"
    region: Region | None = None
    products: Annotated[list[Product], Field(min_length=1, max_length=MAX_PRODUCTS)]
    central_warehouses: Annotated[list[CentralWarehouse], Field(min_length=1, max_length=MAX_CENTRAL_WAREHOUSES)]
    forward_warehouses: Annotated[list[ForwardWarehouse], Field(min_length=1, max_length=MAX_FORWARD_WAREHOUSES)]
    pickup_points: Annotated[list[PickupPoint], Field(min_length=1, max_length=MAX_PICKUP_POINTS)]
    vehicle_types: Annotated[list[VehicleType], Field(min_length=1, max_length=MAX_VEHICLE_TYPES)]
    speed_profiles: Annotated[list[SpeedProfile], Field(max_length=MAX_SPEED_PROFILES)] = Field(
        default_factory=lambda: [SpeedProfile(id="default")]
    )
    demand: Annotated[list[Demand], Field(max_length=MAX_PICKUP_POINTS)]
    stock: Annotated[list[Stock], Field(max_length=MAX_STOCK_ROWS)] | None = None
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


class UnknownRef(str):
    """An ``unknown <kind> '<id>' (<hint>)`` message that keeps its parts.

    A report of thousands of rows naming unknown ids groups them by ``kind`` into one line,
    with ``general`` (what is defined) in place of each id's own hint.
    """

    kind: str
    value: str
    general: str

    def __new__(cls, kind: str, value: str, hint: str, general: str) -> UnknownRef:
        self = super().__new__(cls, f"unknown {kind} {_quoted(value)}{hint}")
        self.kind, self.value, self.general = kind, value, general
        return self


def cross_check_error(s: Scenario, problems: list[tuple[str, str]]) -> ValidationError:
    """``problems`` of :func:`cross_check` as one ``ValidationError``, each error at its field's ``loc``.

    An :class:`UnknownRef` message also puts ``(kind, value, general)`` in the error's ``ctx``
    under ``"unknown"``.
    """

    def ctx(message: str) -> dict[str, Any]:
        if isinstance(message, UnknownRef):
            return {"message": str(message), "unknown": (message.kind, message.value, message.general)}
        return {"message": message}

    errors = [
        {
            "type": PydanticCustomError(CROSS_RECORD, "{message}", ctx(message)),
            "loc": parse_path(path),
            "input": _value_at(s, parse_path(path)),
        }
        for path, message in problems[:MAX_CROSS_ERRORS]
    ]
    if len(problems) > MAX_CROSS_ERRORS:
        more = len(problems) - MAX_CROSS_ERRORS
        errors.append({
            "type": PydanticCustomError(CROSS_RECORD, "{message}", {
                "message": f"{more} more problems between records are not listed; fix the ones above first"
            }),
            "loc": (),
            "input": None,
        })
    return ValidationError.from_exception_data("Scenario", errors)


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


def _quoted(value: str, limit: int = 64) -> str:
    """``value`` in quotes for a message, shortened and with control characters escaped."""
    text = value if len(value) <= limit else value[:limit] + "…"
    if text.isprintable():
        return f"'{text}'"
    return repr(text)


class _Known:
    """The ids of one kind, for ``unknown <kind>`` messages in linear time.

    The ids are sorted once; a close match ("did you mean") is looked up for the first
    :attr:`CLOSE_LOOKUPS` unknown values only (one lookup scans every id), the rest get
    the general hint.
    """

    CLOSE_LOOKUPS = 20

    def __init__(self, kind: str, ids: Iterable[str]):
        self.kind = kind
        self.ids = set(ids)
        self._sorted: list[str] | None = None
        self._lookups = 0
        self._hints: dict[str, str] = {}

    def __contains__(self, value: object) -> bool:
        return value in self.ids

    def general(self) -> str:
        if self._sorted is None:
            self._sorted = sorted(self.ids)
        known = self._sorted
        if not known:
            return f" (no {self.kind} is defined)"
        if len(known) <= 6:
            return f" (defined: {', '.join(known)})"
        return f" ({len(known)} are defined, e.g. {', '.join(known[:3])})"

    def unknown(self, value: str) -> UnknownRef:
        """``unknown <kind> 'x'`` plus what to write instead (a close match, or the ids there are)."""
        general = self.general()
        hint = self._hints.get(value)
        if hint is None:
            hint = general
            if self._lookups < self.CLOSE_LOOKUPS:
                self._lookups += 1
                close = difflib.get_close_matches(value, self._sorted or [], n=1, cutoff=0.6)
                if close:
                    hint = f" (did you mean '{close[0]}'?)"
            self._hints[value] = hint
        return UnknownRef(self.kind, value, hint, general)


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

    centrals = _Known("central warehouse", {c.id for c in s.central_warehouses} | extra.get("central_warehouses", set()))
    forwards = _Known("forward warehouse", {f.id for f in s.forward_warehouses} | extra.get("forward_warehouses", set()))
    pickups = _Known("pickup point", {p.id for p in s.pickup_points} | extra.get("pickup_points", set()))
    products = _Known("product", {p.id for p in s.products} | extra.get("products", set()))
    profiles = _Known("speed profile", {p.id for p in s.speed_profiles} | extra.get("speed_profiles", set()))

    if s.region is not None:
        r = s.region
        converted = s.coordinate_system != "wgs84"
        tol = CONVERTED_REGION_TOLERANCE_DEG if converted else 0.0
        system = f" (WGS-84, converted from coordinate_system '{s.coordinate_system}')" if converted else ""
        for section in ("central_warehouses", "forward_warehouses", "pickup_points"):
            for i, rec in enumerate(getattr(s, section)):
                inside = (r.lon_min - tol <= rec.lon <= r.lon_max + tol
                          and r.lat_min - tol <= rec.lat <= r.lat_max + tol)
                if inside:
                    continue
                swapped = r.lon_min <= rec.lat <= r.lon_max and r.lat_min <= rec.lon <= r.lat_max
                hint = " — lon and lat look swapped; exchange them" if swapped else "; check the coordinates"
                problems.append(
                    (f"{section}[{i}]", f"({rec.lon}, {rec.lat}){system} lies outside region '{r.name}'"
                     f" [{r.lon_min}..{r.lon_max}] x [{r.lat_min}..{r.lat_max}]{hint}")
                )

    for i, f in enumerate(s.forward_warehouses):
        if f.central is not None and f.central not in centrals:
            problems.append((f"forward_warehouses[{i}].central", centrals.unknown(f.central)))
    for i, p in enumerate(s.pickup_points):
        if p.forward_warehouse is not None and p.forward_warehouse not in forwards:
            problems.append(
                (f"pickup_points[{i}].forward_warehouse", forwards.unknown(p.forward_warehouse))
            )

    fleet = sum(v.count for v in s.vehicle_types)
    if fleet > MAX_VEHICLES:
        problems.append(("vehicle_types", f"{fleet} vehicles in all; at most {MAX_VEHICLES} are supported"))

    zones_anywhere: dict[str, set[str]] = {"trunk": set(), "last_mile": set()}
    for i, v in enumerate(s.vehicle_types):
        if v.tier == "trunk" and v.home not in centrals:
            where = (
                " (it is a forward warehouse; use tier = 'last_mile' or a central warehouse home)"
                if v.home in forwards
                else f": {centrals.unknown(v.home)}"
            )
            problems.append((f"vehicle_types[{i}].home", f"trunk vehicles need a central warehouse home; '{v.home}' is not one{where}"))
        if v.tier == "last_mile" and v.home not in forwards:
            where = (
                " (it is a central warehouse; use tier = 'trunk' or a forward warehouse home)"
                if v.home in centrals
                else f": {forwards.unknown(v.home)}"
            )
            problems.append((f"vehicle_types[{i}].home", f"last-mile vehicles need a forward warehouse home; '{v.home}' is not one{where}"))
        if v.speed_profile not in profiles:
            problems.append((f"vehicle_types[{i}].speed_profile", profiles.unknown(v.speed_profile)))
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
            problems.append((f"demand[{i}].pickup_point", pickups.unknown(d.pickup_point)))
        if d.pickup_point in seen_demand:
            problems.append(
                (f"demand[{i}].pickup_point",
                 f"second demand row for '{d.pickup_point}' (first at demand[{seen_demand[d.pickup_point]}]); merge them")
            )
        seen_demand.setdefault(d.pickup_point, i)
        for k in d.items:
            if k not in products:
                problems.append((f"demand[{i}].items.{k}", products.unknown(k)))
        if d.orders == 0 and any(q > 0 for q in d.items.values()):
            problems.append((f"demand[{i}].orders", "items are ordered but orders is 0"))

    if s.stock is not None:
        seen_stock: set[tuple[str, str]] = set()
        for i, st in enumerate(s.stock):
            if st.warehouse not in centrals:
                problems.append((f"stock[{i}].warehouse", centrals.unknown(st.warehouse)))
            if st.product not in products:
                problems.append((f"stock[{i}].product", products.unknown(st.product)))
            if (st.warehouse, st.product) in seen_stock:
                problems.append((f"stock[{i}]", f"duplicate stock row for ({st.warehouse}, {st.product})"))
            seen_stock.add((st.warehouse, st.product))

    pol = s.policies
    if pol.trunk_departure > pol.trunk_receiving.close:
        problems.append(("policies.trunk_departure", "trunk trucks would leave after the receiving window closes"))
    return problems
