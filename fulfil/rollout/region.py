"""The rollout region: a TOML file plus a GeoJSON boundary and CSV tables.

Layout of a region folder (see ``scenarios/rollout_region/README.md`` for every field):

* ``region.toml`` — name, the central warehouse, demand model, products, fleet
  templates, phasing and siting rules, simulation budget, nightly policies, variants;
* ``boundary.geojson`` — the region boundary (a Polygon or MultiPolygon, WGS 84);
* ``communities.csv`` — residential communities (points with households and area);
* ``forward_sites.csv`` — candidate forward (grid) warehouses: daily fixed cost, capacity;
* ``pickup_sites.csv`` — candidate pickup points: leader shops and locker sites;
* ``competitors.csv`` — competitors' pickup points / stores (optional).

Every record is a frozen pydantic model that forbids unknown fields.  Problems are
collected and raised together as one :class:`~fulfil.errors.ScenarioError`, each
located as ``file: field.path: what is wrong`` (CSV rows as ``file: row N: column:
what is wrong``), exactly like the nightly scenario loader.

Geometry: all areas, buffers and walking radii are computed with shapely in a local
azimuthal-equidistant-like metric frame (equirectangular about the boundary's
centroid, :func:`geo.coords.project_local_m`): x metres east, y metres north.  Over a
district (tens of km) its distance error is a fraction of a percent.
"""

from __future__ import annotations

import datetime as _dt
import difflib
import json
import math
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Annotated, Any, Literal

import numpy as np
from pydantic import BaseModel, Field, ValidationError, field_validator, model_validator

from fulfil.errors import ScenarioError
from fulfil.scenario.load import Problem, read_document, read_table_ref, render_problems
from fulfil.scenario.schema import (
    Clock,
    Compartment,
    Id,
    Lat,
    Lon,
    NonNeg,
    Policies,
    Pos,
    Record,
    SpeedProfile,
    Window,
    Zone,
)

FORMAT_VERSION = 1
PHASES: tuple[str, ...] = ("pilot", "surrounding", "full")
Phase = Literal["pilot", "surrounding", "full"]
Share = Annotated[float, Field(ge=0, le=1, allow_inf_nan=False)]

#: CSV tables named in the TOML, the list they fill, and whether they are required.
TABLES = {
    "communities_csv": ("communities", True),
    "forward_sites_csv": ("forward_sites", True),
    "pickup_sites_csv": ("pickup_sites", True),
    "competitors_csv": ("competitors", False),
}


# --------------------------------------------------------------------------- CSV records


class Community(Record):
    """A residential community (小区 / 居住街坊): a point with its households."""

    id: Id
    name: str = ""
    lon: Lon
    lat: Lat
    households: Annotated[int, Field(gt=0)]
    #: Built-up area in hectares (density = households / area).
    area_ha: Pos
    #: Relative basket size (items per order × this); 1 = region average.
    basket_factor: Annotated[float, Field(gt=0, le=5, allow_inf_nan=False)] = 1.0


class ForwardSite(Record):
    """A candidate forward (grid) warehouse site."""

    id: Id
    name: str = ""
    lon: Lon
    lat: Lat
    #: Rent + staff + utilities per day, RMB (DOMAIN.md §4: 80–200 k RMB/month).
    fixed_cost_day: NonNeg
    #: Orders per day it can sort (DOMAIN.md §1.3: 3,000–8,000).
    capacity_orders: Annotated[int, Field(gt=0)]
    #: Crates per zone it can hold tonight; a zone left out is derived from capacity_orders.
    capacity: dict[Zone, Annotated[int, Field(ge=0)]] = Field(default_factory=dict)


class PickupSite(Record):
    """A candidate pickup point: a group leader's shop or a locker site."""

    id: Id
    name: str = ""
    kind: Literal["leader_shop", "locker"]
    lon: Lon
    lat: Lat
    #: Daily cost, RMB: a leader's fridge subsidy and management (commission is a share
    #: of sales, not a logistics cost); a locker's amortised capex, power and site fee.
    cost_day: NonNeg
    #: Orders per day it can hand out.
    capacity_orders: Annotated[int, Field(gt=0)]
    #: Lockers only: cells per zone (one crate each).
    cells: dict[Zone, Annotated[int, Field(ge=0)]] | None = None

    @model_validator(mode="after")
    def _cells(self) -> PickupSite:
        if self.kind == "locker" and self.cells is None:
            raise ValueError("a locker needs cells per zone (columns cells_frozen, cells_chilled, cells_ambient)")
        if self.kind == "leader_shop" and self.cells is not None:
            raise ValueError("cells are only for kind = 'locker'")
        return self


class Competitor(Record):
    """A competitor's pickup point or store (lowers penetration nearby)."""

    id: Id
    name: str = ""
    lon: Lon
    lat: Lat
    kind: str = ""


# --------------------------------------------------------------------------- TOML sections


class CentralSite(Record):
    id: Id
    name: str = ""
    lon: Lon
    lat: Lat


def _phase_table(value: dict[str, float], what: str) -> dict[str, float]:
    missing = [p for p in PHASES if p not in value]
    if missing:
        raise ValueError(f"{what} needs a value for every phase; missing: {', '.join(missing)}")
    return value


class DemandModel(Record):
    """How many orders a community places on a given day (see :mod:`fulfil.rollout.demand`)."""

    #: Share of households that are customers, by phase (the brand matures as it rolls out).
    penetration: dict[Phase, Share]
    #: Band edges (km) of the distance to the nearest competitor, increasing.
    competitor_distance_km: Annotated[list[Pos], Field(min_length=1)] = Field(
        default_factory=lambda: [0.5, 1.0, 2.0])
    #: Penetration multiplier per band (one more entry than the edges).
    competitor_factor: Annotated[list[Annotated[float, Field(gt=0, le=2)]], Field(min_length=2)] = Field(
        default_factory=lambda: [0.6, 0.75, 0.9, 1.0])
    #: Orders per customer household per day (DOMAIN.md §1.3: 20–40 % of ~200 households a day).
    orders_per_household_day: Annotated[float, Field(gt=0, le=5)] = 0.3
    #: Monday..Sunday factors.
    weekday_factors: Annotated[list[Pos], Field(min_length=7, max_length=7)] = Field(
        default_factory=lambda: [0.95, 0.95, 0.95, 1.0, 1.05, 1.1, 1.0])
    #: January..December factors.
    month_factors: Annotated[list[Pos], Field(min_length=12, max_length=12)] = Field(
        default_factory=lambda: [1.15, 1.2, 1.0, 0.95, 0.95, 1.0, 1.05, 1.05, 1.0, 1.0, 1.05, 1.1])
    #: Log-normal σ of a region-wide day shock (weather, promotions) shared by every community.
    day_sigma: Annotated[float, Field(ge=0, le=2)] = 0.08
    #: Log-normal σ of each community's own day-to-day noise (on top of Poisson counts).
    community_sigma: Annotated[float, Field(ge=0, le=2)] = 0.15
    #: Share of items by temperature zone (sums to 1).
    basket_mix: dict[Zone, Share] = Field(default_factory=lambda: {"frozen": 0.15, "chilled": 0.40, "ambient": 0.45})
    #: Mean items per order (DOMAIN.md §1.3: 1.5–3, mean 2.2).
    items_per_order: Annotated[float, Field(ge=1, le=20)] = 2.2
    #: Average order value, RMB (DOMAIN.md §1.3: ~9–15); product prices are scaled to it.
    average_order_value: Pos = 12.0

    @field_validator("penetration")
    @classmethod
    def _all_phases(cls, v: dict[str, float]) -> dict[str, float]:
        return _phase_table(v, "penetration")

    @field_validator("basket_mix")
    @classmethod
    def _mix(cls, v: dict[str, float]) -> dict[str, float]:
        total = sum(v.values())
        if abs(total - 1.0) > 0.01:
            raise ValueError(f"shares must sum to 1 (they sum to {total:.3f})")
        return v

    @model_validator(mode="after")
    def _bands(self) -> DemandModel:
        if len(self.competitor_factor) != len(self.competitor_distance_km) + 1:
            raise ValueError("competitor_factor needs one more entry than competitor_distance_km")
        if sorted(self.competitor_distance_km) != list(self.competitor_distance_km):
            raise ValueError("competitor_distance_km must be increasing")
        return self


class ProductSpec(Record):
    """A product of the catalogue; ``share`` is its share of its zone's items."""

    id: Id
    name: str = ""
    zone: Zone
    share: Pos
    max_minutes_out_of_zone: NonNeg = 120.0
    kg_per_unit: Pos = 0.8
    units_per_crate: Pos = 15.0
    #: Relative price; prices are scaled so the mean order is worth ``average_order_value``.
    base_price: Pos = 10.0


def _default_products() -> list[ProductSpec]:
    from fulfil.generate import PRODUCTS

    return [ProductSpec(id=p[0], name=p[1], zone=p[2], max_minutes_out_of_zone=p[3], kg_per_unit=p[4],
                        units_per_crate=p[5], base_price=p[6], share=p[7]) for p in PRODUCTS]


class FleetVehicle(Record):
    """A vehicle type template; the simulator gives each warehouse ``count`` of them.

    ``count = max(min_count, ceil(per_pickup_point × pickup points served))`` for the last
    mile (per forward warehouse), ``max(min_count, ceil(per_forward_warehouse × open
    forward warehouses))`` for the trunk fleet at the central warehouse.  Unused vehicles
    cost nothing (fixed cost is paid only when a vehicle drives).
    """

    id: Id
    name: str = ""
    compartments: Annotated[list[Compartment], Field(min_length=1)]
    refrigerated: bool
    insulated_box_minutes: NonNeg = 0.0
    fixed_cost: NonNeg = 0.0
    cost_per_km: NonNeg = 0.0
    cost_per_hour: NonNeg = 0.0
    shift: Window
    speed_profile: Id = "default"
    min_count: Annotated[int, Field(ge=0)] = 1
    per_pickup_point: NonNeg = 0.0
    per_forward_warehouse: NonNeg = 0.0

    @model_validator(mode="after")
    def _zones(self) -> FleetVehicle:
        zones = [c.zone for c in self.compartments]
        if len(set(zones)) != len(zones):
            raise ValueError("two compartments of the same zone: merge them into one")
        if not self.refrigerated and "frozen" in zones:
            raise ValueError("an unrefrigerated vehicle cannot carry frozen goods")
        if not self.refrigerated and "chilled" in zones and self.insulated_box_minutes <= 0:
            raise ValueError("an unrefrigerated vehicle with a chilled compartment needs insulated_box_minutes > 0")
        if self.refrigerated and self.insulated_box_minutes > 0:
            raise ValueError("insulated_box_minutes is only for unrefrigerated vehicles")
        return self

    def count_for(self, pickup_points: int = 0, forward_warehouses: int = 0) -> int:
        need = max(self.per_pickup_point * pickup_points, self.per_forward_warehouse * forward_warehouses)
        return max(self.min_count, int(math.ceil(need - 1e-9)))


class ScoreWeights(Record):
    """Weights of the pilot score (see :func:`fulfil.rollout.phasing.community_scores`)."""

    density: NonNeg = 0.5
    basket: NonNeg = 0.2
    competition: NonNeg = 0.3

    @model_validator(mode="after")
    def _some(self) -> ScoreWeights:
        if self.density + self.basket + self.competition <= 0:
            raise ValueError("at least one weight must be positive")
        return self


class Phasing(Record):
    """Pilot → surrounding → full coverage (DOMAIN.md §5 rollout stages)."""

    #: The pilot is a compact core: its communities lie within this radius of the pilot seed.
    pilot_radius_km: Pos = 3.0
    #: At most this many communities in the pilot (the best-scored within the radius).
    pilot_communities: Annotated[int, Field(ge=1)] = 40
    #: Surrounding phase: every community within this distance of a pilot forward warehouse.
    surrounding_radius_km: Pos = 5.0
    score_weights: ScoreWeights = ScoreWeights()


class Siting(Record):
    """Siting rules and the cost approximation used by the location models."""

    #: Every covered household is within this walking (straight-line) distance of its pickup point.
    walk_radius_m: Annotated[float, Field(gt=0, le=5000)] = 500.0
    #: A community / pickup point is reachable from a forward warehouse when the direct drive at the
    #: slowest (peak) speed of the dispatch wave takes at most this many minutes; the rest of the
    #: promise is left for the other stops of the route.
    reach_minutes: Pos = 45.0
    #: Sites are sized for expected demand × this factor (weekday / season / noise peaks).
    design_peak_factor: Annotated[float, Field(ge=1, le=3)] = 1.25
    #: Minutes per stop (service + parking) and per hop between neighbouring stops (route-cost model).
    stop_minutes: Pos = 6.5
    hop_minutes: Pos = 4.0
    #: Walking inconvenience, RMB per order·km, a tie-breaker between pickup points in reach.
    walk_cost_per_order_km: NonNeg = 0.5
    #: Wall-clock limit of each location model (proven optimal well before on the bundled region).
    time_limit_s: Pos = 60.0


class PickupWindows(Record):
    leader_shop: Window = Window(open=420.0, close=690.0)
    locker: Window = Window(open=390.0, close=720.0)


class Simulation(Record):
    days: Annotated[int, Field(ge=1, le=3650)] = 30
    start_date: _dt.date = _dt.date(2024, 3, 4)
    #: Deterministic routing budget per subproblem (solutions found by the search).
    solution_limit: Annotated[int, Field(ge=1)] = 30
    seed: int = 1
    #: Variants run when the command names none (default: every variant, in file order);
    #: the first is the baseline of the comparison.
    variants: list[Id] | None = None


class Variant(Record):
    """A what-if variant; fields left out keep the baseline."""

    description: str = ""
    #: Allow locker sites as pickup points.
    lockers: bool = True
    #: Open this many forward warehouses more than the baseline in every phase.
    extra_forward_warehouses: Annotated[int, Field(ge=0, le=20)] = 0
    #: Name of the last-mile fleet template (a key of ``fleets``).
    fleet: Id = "default"
    last_mile_dispatch: Clock | None = None
    trunk_departure: Clock | None = None
    trunk_receiving: Window | None = None
    leader_window: Window | None = None
    locker_window: Window | None = None


class RegionDoc(Record):
    """The region TOML."""

    format_version: int
    name: Annotated[str, Field(min_length=1)]
    description: str = ""
    city: str = ""
    boundary: Annotated[str, Field(min_length=1)]
    central_warehouse: CentralSite
    products: Annotated[list[ProductSpec], Field(min_length=1)] = Field(default_factory=_default_products)
    demand: DemandModel
    phasing: Phasing = Phasing()
    siting: Siting = Siting()
    windows: PickupWindows = PickupWindows()
    simulation: Simulation = Simulation()
    policies: Policies = Policies()
    speed_profiles: list[SpeedProfile] = Field(default_factory=lambda: [SpeedProfile(id="default")])
    trunk_fleet: Annotated[list[FleetVehicle], Field(min_length=1)]
    fleets: dict[Id, Annotated[list[FleetVehicle], Field(min_length=1)]]
    variants: dict[Id, Variant] = Field(default_factory=lambda: {"lockers": Variant(description="baseline")})

    @field_validator("format_version")
    @classmethod
    def _version(cls, value: int) -> int:
        if value != FORMAT_VERSION:
            raise ValueError(f"format_version {value} is not supported; this fulfil reads format_version = 1")
        return value


class Tables(BaseModel):
    communities: Annotated[list[Community], Field(min_length=1)]
    forward_sites: Annotated[list[ForwardSite], Field(min_length=1)]
    pickup_sites: Annotated[list[PickupSite], Field(min_length=1)]
    competitors: list[Competitor] = Field(default_factory=list)


# --------------------------------------------------------------------------- geometry


@dataclass(frozen=True)
class Projection:
    """Local equirectangular frame in metres about ``(lon0, lat0)``."""

    lon0: float
    lat0: float

    def to_xy(self, lon: Any, lat: Any) -> np.ndarray:
        from geo.coords import project_local_m

        x, y = project_local_m(np.asarray(lon, float), np.asarray(lat, float), self.lon0, self.lat0)
        return np.stack([np.asarray(x, float), np.asarray(y, float)], axis=-1)

    def to_lonlat(self, x: Any, y: Any) -> tuple[np.ndarray, np.ndarray]:
        from geo.coords import EARTH_RADIUS_M

        x = np.asarray(x, float)
        y = np.asarray(y, float)
        lon = self.lon0 + np.degrees(x / (EARTH_RADIUS_M * math.cos(math.radians(self.lat0))))
        lat = self.lat0 + np.degrees(y / EARTH_RADIUS_M)
        return lon, lat

    def geom_to_lonlat(self, geom: Any) -> Any:
        import shapely

        return shapely.transform(geom, lambda c: np.stack(self.to_lonlat(c[:, 0], c[:, 1]), axis=-1))

    def geom_to_xy(self, geom: Any) -> Any:
        import shapely

        return shapely.transform(geom, lambda c: self.to_xy(c[:, 0], c[:, 1]).reshape(-1, 2))


@dataclass(frozen=True)
class Region:
    """A validated region: the TOML document, its tables, and the boundary in both frames."""

    path: Path
    doc: RegionDoc
    communities: tuple[Community, ...]
    forward_sites: tuple[ForwardSite, ...]
    pickup_sites: tuple[PickupSite, ...]
    competitors: tuple[Competitor, ...]
    boundary_ll: Any  # shapely (Multi)Polygon, lon/lat degrees
    proj: Projection

    @cached_property
    def boundary(self) -> Any:
        """The boundary in local metres."""
        return self.proj.geom_to_xy(self.boundary_ll)

    @cached_property
    def community_xy(self) -> np.ndarray:
        return self.proj.to_xy([c.lon for c in self.communities], [c.lat for c in self.communities])

    @cached_property
    def forward_xy(self) -> np.ndarray:
        return self.proj.to_xy([f.lon for f in self.forward_sites], [f.lat for f in self.forward_sites])

    @cached_property
    def pickup_xy(self) -> np.ndarray:
        return self.proj.to_xy([p.lon for p in self.pickup_sites], [p.lat for p in self.pickup_sites])

    @cached_property
    def competitor_xy(self) -> np.ndarray:
        if not self.competitors:
            return np.zeros((0, 2))
        return self.proj.to_xy([c.lon for c in self.competitors], [c.lat for c in self.competitors])

    @cached_property
    def central_xy(self) -> np.ndarray:
        cw = self.doc.central_warehouse
        return self.proj.to_xy([cw.lon], [cw.lat])[0]

    @property
    def households(self) -> np.ndarray:
        return np.array([c.households for c in self.communities], dtype=np.int64)

    @cached_property
    def density_hh_per_ha(self) -> np.ndarray:
        return np.array([c.households / c.area_ha for c in self.communities])

    @cached_property
    def competitor_km(self) -> np.ndarray:
        """Straight-line km from each community to its nearest competitor (inf when none)."""
        if not len(self.competitor_xy):
            return np.full(len(self.communities), np.inf)
        d = np.hypot(*(self.community_xy[:, None, :] - self.competitor_xy[None, :, :]).transpose(2, 0, 1))
        return d.min(axis=1) / 1000.0

    @property
    def area_km2(self) -> float:
        return float(self.boundary.area) / 1e6


# --------------------------------------------------------------------------- messages


from fulfil.scenario.load import describe_error, dotted, record_type  # noqa: E402 - one message format for every loader


def _fields_at(root: type[BaseModel], loc: tuple) -> list[str]:
    model: type[BaseModel] | None = root
    for item in loc[:-1]:
        if isinstance(item, int) or model is None:
            continue
        field = model.model_fields.get(item)
        if field is None:
            continue  # a dict key (e.g. a fleet or variant name)
        model = record_type(field.annotation)
    if model is None:
        return []
    names = list(model.model_fields)
    return names + list(TABLES) if model is RegionDoc else names


def _message(err: dict, root: type[BaseModel], raw: Any = None) -> str:
    loc = tuple(err.get("loc", ()))
    return describe_error(err, _fields_at(root, loc), "scenarios/rollout_region/README.md", raw)


def _csv_rows(rows: list[dict[str, str]]) -> list[dict[str, Any]]:
    """CSV strings → record dicts: empty cells are 'not given'; ``cells_*`` / ``capacity_*`` become tables."""
    out = []
    for row in rows:
        rec: dict[str, Any] = {}
        for k, v in row.items():
            if v == "":
                continue
            for prefix in ("cells_", "capacity_"):
                if k.startswith(prefix) and k != "capacity_orders":
                    rec.setdefault(prefix[:-1], {})[k[len(prefix):]] = v
                    break
            else:
                rec[k] = v
        out.append(rec)
    return out


def _csv_column(rest: tuple) -> str:
    if len(rest) >= 2 and rest[0] in ("cells", "capacity"):
        return f"{rest[0]}_{rest[1]}"
    return dotted(rest)


# --------------------------------------------------------------------------- GeoJSON


def _read_boundary(path: Path, ref: str, owner: str) -> tuple[Any, list[Problem]]:
    """The boundary polygon (lon/lat) or problems located in the GeoJSON file."""
    from shapely.geometry import shape
    from shapely.validation import explain_validity

    if not path.is_file():
        return None, [Problem(owner, None, "boundary",
                               f"GeoJSON file '{ref}' not found (looked for {path.resolve()})")]
    name = path.name
    try:
        data = json.loads(path.read_text(encoding="utf-8-sig"))
    except UnicodeDecodeError as exc:
        return None, [Problem(name, None, "", f"not UTF-8 text ({exc.reason} at byte {exc.start})")]
    except json.JSONDecodeError as exc:
        return None, [Problem(name, None, "", f"malformed JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}")]
    where = ""
    geom = data
    if isinstance(data, dict) and data.get("type") == "FeatureCollection":
        feats = data.get("features")
        if not isinstance(feats, list) or len(feats) != 1:
            n = len(feats) if isinstance(feats, list) else 0
            return None, [Problem(name, None, "features",
                                   f"expected exactly one Feature (the region boundary), found {n}")]
        geom, where = feats[0], "features[0]"
    if isinstance(geom, dict) and geom.get("type") == "Feature":
        geom = geom.get("geometry")
        where = (where + "." if where else "") + "geometry"
    if not isinstance(geom, dict) or geom.get("type") not in ("Polygon", "MultiPolygon"):
        got = geom.get("type") if isinstance(geom, dict) else type(geom).__name__
        return None, [Problem(name, None, where or "type",
                               f"expected a Polygon or MultiPolygon boundary (got {got!r})")]
    try:
        poly = shape(geom)
    except Exception as exc:  # noqa: BLE001 - shapely raises many kinds on bad coordinates
        return None, [Problem(name, None, (where + "." if where else "") + "coordinates", f"not a polygon: {exc}")]
    problems = []
    xs, ys = poly.bounds[0::2], poly.bounds[1::2]
    if not (-180 <= min(xs) and max(xs) <= 180 and -90 <= min(ys) and max(ys) <= 90):
        problems.append(Problem(name, None, (where + "." if where else "") + "coordinates",
                                 "coordinates must be [longitude, latitude] in degrees (lon -180..180, lat -90..90)"))
    elif poly.is_empty or poly.area <= 0:
        problems.append(Problem(name, None, (where + "." if where else "") + "coordinates", "the polygon has no area"))
    elif not poly.is_valid:
        problems.append(Problem(name, None, (where + "." if where else "") + "coordinates",
                                 f"invalid polygon: {explain_validity(poly)}"))
    return (None if problems else poly), problems


# --------------------------------------------------------------------------- loader


def load_region(path: str | Path) -> Region:
    """Load and validate a region (TOML + GeoJSON + CSV); raise :class:`ScenarioError` listing every problem."""
    path = Path(path)
    data = read_document(path)
    fname = path.name
    problems: list[Problem] = []
    provenance: dict[str, tuple[str, list[int]]] = {}
    tables: dict[str, Any] = {}
    unusable: set[str] = set()
    for key, (section, required) in TABLES.items():
        if key not in data:
            if required:
                problems.append(Problem(fname, None, key, "required field is missing (a CSV file path)"))
                unusable.add(section)
            continue
        table = read_table_ref(data, key, path, problems)
        if table is None:
            unusable.add(section)
            continue
        rows, lines, csv_name = table
        tables[section] = _csv_rows(rows)
        provenance[section] = (csv_name, lines)

    doc: RegionDoc | None = None
    try:
        doc = RegionDoc.model_validate(data)
    except ValidationError as exc:
        for err in exc.errors(include_url=False):
            problems.append(Problem(fname, None, dotted(tuple(err["loc"])), _message(err, RegionDoc)))

    # rows are validated one by one so the valid ones can still be cross-checked
    tab: Tables | None = None
    kept: dict[str, list[Any]] = {}
    for section, (csv_name, lines) in provenance.items():
        model = Tables.model_fields[section].annotation
        record = record_type(model)
        assert record is not None
        good, good_lines = [], []
        for i, row in enumerate(tables[section]):
            try:
                good.append(record.model_validate(row))
                good_lines.append(lines[i])
            except ValidationError as exc:
                for err in exc.errors(include_url=False):
                    problems.append(Problem(csv_name, lines[i], _csv_column(tuple(err["loc"])),
                                             _message(err, record, row)))
        if not tables[section] and TABLES[next(k for k, v in TABLES.items() if v[0] == section)][1]:
            problems.append(Problem(csv_name, None, "", "the table has no rows"))
        kept[section] = good
        provenance[section] = (csv_name, good_lines)
    if not unusable - {"competitors"}:
        tab = Tables.model_construct(**{sec: kept.get(sec, []) for sec in Tables.model_fields})

    boundary = None
    if isinstance(data.get("boundary"), str) and data["boundary"].strip():
        boundary, bprob = _read_boundary(path.parent / data["boundary"], data["boundary"], fname)
        problems += bprob

    if tab is not None and boundary is not None:
        problems += _check_tables(tab, boundary, doc, provenance)
    if doc is not None:
        problems += _check_doc(doc, tab, fname)
    if problems:
        raise ScenarioError(render_problems(problems))
    assert doc is not None and tab is not None
    c = boundary.centroid
    return Region(path=path, doc=doc, communities=tuple(tab.communities), forward_sites=tuple(tab.forward_sites),
                  pickup_sites=tuple(tab.pickup_sites), competitors=tuple(tab.competitors), boundary_ll=boundary,
                  proj=Projection(lon0=round(c.x, 6), lat0=round(c.y, 6)))


def _check_tables(tab: Tables, boundary: Any, doc: RegionDoc | None,
                  provenance: dict[str, tuple[str, list[int]]]) -> list[Problem]:
    """Rules across the CSV tables: unique ids and geography (points inside the boundary)."""
    from shapely.geometry import Point

    out: list[Problem] = []

    def at(section: str, i: int, field: str, msg: str) -> None:
        csv_name, lines = provenance[section]
        out.append(Problem(csv_name, lines[i] if i < len(lines) else i + 2, field, msg))

    seen: dict[str, str] = {doc.central_warehouse.id: "central_warehouse"} if doc is not None else {}
    for section in ("communities", "forward_sites", "pickup_sites", "competitors"):
        first: dict[str, int] = {}
        for i, r in enumerate(getattr(tab, section)):
            if r.id in first:
                at(section, i, "id", f"duplicate id '{r.id}' (first on row {provenance[section][1][first[r.id]]})")
            elif r.id in seen:
                at(section, i, "id", f"id '{r.id}' is also used in {seen[r.id]}")
            first.setdefault(r.id, i)
        for k in first:
            seen.setdefault(k, section)

    c = boundary.centroid
    proj = Projection(c.x, c.y)
    area_m = proj.geom_to_xy(boundary)
    slack = {"communities": 0.0, "pickup_sites": 250.0, "forward_sites": 15_000.0, "competitors": 5_000.0}
    for section, tol in slack.items():
        shape = area_m.buffer(tol) if tol else area_m
        for i, r in enumerate(getattr(tab, section)):
            x, y = proj.to_xy(r.lon, r.lat)
            if shape.covers(Point(float(x), float(y))):
                continue
            swapped = False
            if abs(r.lon) <= 90:
                sx, sy = proj.to_xy(r.lat, r.lon)
                swapped = shape.covers(Point(float(sx), float(sy)))
            where = "inside the boundary" if not tol else f"within {tol / 1000:g} km of the boundary"
            hint = " — lon and lat look swapped; exchange them" if swapped else "; check the coordinates"
            at(section, i, "lon/lat", f"({r.lon}, {r.lat}) is not {where}{hint}")

    return out


def _check_doc(doc: RegionDoc, tab: Tables | None, fname: str) -> list[Problem]:
    """Rules across the TOML sections: products and zones, fleets, variants, policies."""
    out: list[Problem] = []

    zones_sold = {p.zone for p in doc.products}
    for z, share in doc.demand.basket_mix.items():
        if share > 0 and z not in zones_sold:
            out.append(Problem(fname, None, f"demand.basket_mix.{z}", f"share {share} but no product has zone '{z}'"))
    first_p: dict[str, int] = {}
    for i, p in enumerate(doc.products):
        if p.id in first_p:
            out.append(Problem(fname, None, f"products[{i}].id", f"duplicate id '{p.id}'"))
        first_p.setdefault(p.id, i)

    profiles = {p.id for p in doc.speed_profiles}
    if "default" not in doc.fleets:
        out.append(Problem(fname, None, "fleets", "a fleet template named 'default' is required (the baseline)"))
    groups = [("trunk_fleet", doc.trunk_fleet)] + [(f"fleets.{k}", v) for k, v in doc.fleets.items()]
    for where, fleet in groups:
        ids: set[str] = set()
        for i, v in enumerate(fleet):
            if v.speed_profile not in profiles:
                close = difflib.get_close_matches(v.speed_profile, sorted(profiles), n=1)
                hint = f" (did you mean '{close[0]}'?)" if close else f" (defined: {', '.join(sorted(profiles))})"
                out.append(Problem(fname, None, f"{where}[{i}].speed_profile",
                                    f"unknown speed profile '{v.speed_profile}'{hint}"))
            if v.id in ids:
                out.append(Problem(fname, None, f"{where}[{i}].id", f"duplicate id '{v.id}'"))
            ids.add(v.id)
        carried = {c.zone for v in fleet for c in v.compartments}
        for z in sorted(zones_sold - carried):
            out.append(Problem(fname, None, where,
                                f"no vehicle has a '{z}' compartment, so '{z}' products cannot move"))
    for name, var in doc.variants.items():
        if var.fleet not in doc.fleets:
            out.append(Problem(fname, None, f"variants.{name}.fleet",
                                f"unknown fleet template '{var.fleet}' (defined: {', '.join(sorted(doc.fleets))})"))
    for i, name in enumerate(doc.simulation.variants or []):
        if name not in doc.variants:
            close = difflib.get_close_matches(name, sorted(doc.variants), n=1)
            hint = f" (did you mean '{close[0]}'?)" if close else f" (defined: {', '.join(doc.variants)})"
            out.append(Problem(fname, None, f"simulation.variants[{i}]", f"unknown variant '{name}'{hint}"))
    if not doc.variants:
        out.append(Problem(fname, None, "variants", "define at least one variant (the baseline)"))
    if (tab is not None and not any(p.kind == "leader_shop" for p in tab.pickup_sites)
            and any(not v.lockers for v in doc.variants.values())):
        out.append(Problem(fname, None, "variants", "a variant has lockers = false but there is no leader_shop site"))
    pol = doc.policies
    if pol.trunk_departure > pol.trunk_receiving.close:
        out.append(Problem(fname, None, "policies.trunk_departure",
                            "trunk trucks would leave after the receiving window closes"))
    return out


__all__ = [
    "PHASES", "Community", "Competitor", "DemandModel", "FleetVehicle", "ForwardSite", "PickupSite",
    "Projection", "Region", "RegionDoc", "Variant", "load_region",
]
