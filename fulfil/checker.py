"""An independent checker of plan files (``fulfil check``), plan format version 2.

It recomputes every time, load, limit, cost, cold-chain value and KPI of a plan from the
scenario and the plan's duty, trip and stop *sequences* alone: each trip is re-timed from
its reported departure with :class:`fulfil.travel.TravelModel`, its loads are re-derived
from the products handed over, and the thermal model (the physics in
:mod:`solvers.thermal`) is re-run on those recomputed times and loads.

It shares no code with the planner: it imports neither the pipeline (``fulfil.pipeline``),
the stages with the plan assembly and the planner's cold chain (``fulfil.stages``),
``fulfil.network`` nor ``fulfil.feasibility`` — directly or through anything it imports
(``tests/fulfil/test_checker_imports.py`` walks the imports) — so a bug there cannot hide
itself here.  It reads the plan through :mod:`fulfil.plan_model`, which checks structure and
types only.

The contract is ``docs/plan_format.md``; every problem becomes a :class:`Violation` whose
``cause`` is one of :data:`CAUSES`, located at its vehicle duty, trip and stop.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass, field
from itertools import pairwise
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from fulfil.plan_model import (
    LIMIT_TOL_MIN,
    CheckResult,
    Duty,
    Plan,
    Stop,
    Trip,
    parse_plan,
    read_plan,
)
from fulfil.scenario.schema import ZONES
from fulfil.units import format_clock, parse_clock

if TYPE_CHECKING:
    from fulfil.plan_model import ZoneLoad
    from fulfil.scenario.schema import Product, Scenario, VehicleType
    from fulfil.travel import TravelModel

__all__ = ["CAUSES", "Violation", "check_plan", "load_plan", "summarize"]

CAUSES: tuple[str, ...] = (
    "wrong_scenario",
    "late",
    "promise_exceeded",
    "out_of_zone_limit",
    "over_capacity",
    "wrong_temperature_zone",
    "shift_exceeded",
    "early_departure",
    "trips_overlap",
    "too_many_trips",
    "reload_too_short",
    "time_mismatch",
    "load_mismatch",
    "demand_mismatch",
    "oversold",
    "locker_cells_exceeded",
    "warehouse_capacity",
    "wrong_warehouse",
    "unknown_reference",
    "vehicle_reused",
    "fleet_exceeded",
    "wrong_depot",
    "trunk_shortfall",
    "trunk_late",
    "cost_mismatch",
    "out_of_spec",
    "cold_chain_mismatch",
    "kpi_mismatch",
    "format_rule",
    "code_mismatch",
    "reason_mismatch",
    "check_mismatch",
    "closed_point",
    "idle_fleet",
    "between_windows",
)

#: Reported times may differ from the recomputed ones by this much (minutes).
TIME_TOL_MIN = 0.05
KG_TOL = 0.01
KM_TOL = 0.01
RMB_TOL = 0.01
#: KPI tolerances: relative, absolute; shares (0–1) use a tighter absolute tolerance.
KPI_REL = 1e-6
KPI_ABS = 0.01
KPI_SHARE_ABS = 1e-4
#: Reported cold-chain values against the thermal model re-run on the recomputed times.
HANDOVER_TOL_C = 0.05
ABOVE_TOL_MIN = 0.5
QUALITY_TOL = 1e-3
LIFE_TOL_H = 0.2
COLD_KPI_REL = 1e-4
#: A reported temperature trace sample may differ from the model's trace by this much (°C) from the
#: lowest to the highest value the model takes within TIME_TOL_MIN of the sample's time.
TRACE_TOL_C = 0.05
#: The thermal model is not run on a trip longer than this (minutes): no shift is; such a trip
#: already breaks a rule, and its cold-chain values are reported unverifiable.
MAX_TRIP_MIN = 48 * 60.0

UNSERVED_REASONS = frozenset(
    {
        "stock_shortage",
        "no_reachable_warehouse",
        "warehouse_capacity",
        "locker_cells_exceeded",
        "no_compatible_vehicle",
        "routing_dropped",
        "thermal_limit",
        "trunk_dropped",
        "interrupted",
        "closed",
    }
)
TIERS = ("trunk", "last_mile")
COLD = ("frozen", "chilled")

#: KPIs that are counts (compared exactly).
COUNT_KPIS = frozenset({
    "vehicles", "trunk_vehicles", "last_mile_vehicles", "trips", "trunk_trips", "last_mile_trips",
    "orders_total", "orders_complete", "units_total", "units_served", "units_unserved", "stops",
})
SHARE_KPIS = frozenset({
    "two_hour_compliance", "cold_chain_compliance", "delivery_cost_share_of_sales", "fill_rate", "in_spec_share",
})


@dataclass(frozen=True)
class Violation:
    """One broken rule: ``cause`` (see :data:`CAUSES`), a sentence, and where.

    ``vehicle`` is the duty id, ``trip`` the trip id and ``stop`` the 0-based index into the
    trip's ``stops`` (each ``None`` when the rule is not about one); messages are for people
    and number stops from 1, as the route sheets do.
    """

    cause: str
    message: str
    vehicle: str | None = None  # duty id
    trip: str | None = None  # trip id
    stop: int | None = None  # 0-based index into the trip's stops

    @property
    def route(self) -> str | None:
        """Where, for one-line listings: the trip id, else the duty id."""
        return self.trip if self.trip is not None else self.vehicle


def load_plan(path: str | Path) -> Plan:
    """Read a plan JSON file (:func:`fulfil.plan_model.read_plan`); :class:`ScenarioError`
    naming the file and every structural problem as ``field.path: what is wrong``."""
    return read_plan(path)


# --------------------------------------------------------------------------- #
# recomputation
# --------------------------------------------------------------------------- #
@dataclass
class _Stop:
    plan: Stop
    loc: str
    site: int
    window: tuple[float, float]
    crates: dict[str, int]  # recomputed (last mile: from products; trunk: as given)
    kg: dict[str, float]
    units: dict[str, int]  # last mile, known products only
    arrival: float = 0.0
    start: float = 0.0
    departure: float = 0.0
    leg_km: float = 0.0
    out_min: dict[str, float] = field(default_factory=dict)  # recomputed minutes out of zone
    out_limit: dict[str, float] = field(default_factory=dict)
    #: ``(close, next open)`` between the receiving windows of a pickup point with several
    gaps: tuple[tuple[float, float], ...] = ()


@dataclass
class _Duty:
    plan: Duty
    id: str
    tier: str
    vt: VehicleType
    depot: str
    trips: list[_Trip] = field(default_factory=list)


@dataclass
class _Trip:
    plan: Trip
    id: str
    duty: _Duty
    departure: float
    stops: list[_Stop]
    ret: float = 0.0
    km: float = 0.0
    back_km: float = 0.0

    @property
    def tier(self) -> str:
        return self.duty.tier

    @property
    def vt(self) -> VehicleType:
        return self.duty.vt

    @property
    def depot(self) -> str:
        return self.duty.depot

    @property
    def duration_h(self) -> float:
        return (self.ret - self.departure) / 60.0

    def cost(self) -> dict[str, float]:
        dist = self.vt.cost_per_km * self.km
        time = self.vt.cost_per_hour * self.duration_h
        return {"distance": dist, "time": time, "total": dist + time}

    def load(self) -> tuple[dict[str, int], dict[str, float]]:
        c: dict[str, int] = defaultdict(int)
        k: dict[str, float] = defaultdict(float)
        for s in self.stops:
            for z in ZONES:
                c[z] += s.crates.get(z, 0)
                k[z] += s.kg.get(z, 0.0)
        return dict(c), dict(k)

    def split(self) -> dict[str, int]:
        """Crates of each compartment on this trip: fixed sizes, or the reported movable split."""
        sizes = {c.zone: c.crates for c in self.vt.compartments}
        if self.vt.movable_total is not None and self.plan.compartments:
            return {z: int(self.plan.compartments.get(z, 0)) for z in sizes}
        return sizes


def _crates(units: float) -> int:
    return int(math.ceil(units - 1e-9)) if units > 0 else 0


def _n(n: int | float, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def _fmt(x: float) -> str:
    return f"{x:.2f}"


def _hhmm_minutes(text: str) -> float | None:
    """Minutes of an ``HH:MM`` text (None when it is not one)."""
    if len(text.split(":")) != 2:
        return None
    try:
        return parse_clock(text)
    except ValueError:
        return None


def _trip_where(tid: str, j: int | None = None, loc: str | None = None) -> str:
    return f"trip {tid}" if j is None else f"trip {tid} stop {j + 1} ({loc})"


class _Checker:
    def __init__(self, s: Scenario, plan: Plan):
        from fulfil.travel import TravelModel

        self.s = s
        self.plan = plan
        self.pol = s.policies
        self.tm: TravelModel = TravelModel(s)
        self.products: dict[str, Product] = {p.id: p for p in s.products}
        self.centrals = {c.id: c for c in s.central_warehouses}
        self.forwards = {f.id: f for f in s.forward_warehouses}
        self.pickups = {p.id: p for p in s.pickup_points}
        self.vtypes = {v.id: v for v in s.vehicle_types}
        self.out: list[Violation] = []
        self.duties: list[_Duty] = []
        self._central_cache: dict[str, str] = {}
        self._delivered: dict[tuple[str, str], int] = {}

    # -- helpers --------------------------------------------------------------------
    def add(self, cause: str, message: str, vehicle: str | None = None, trip: str | None = None,
            stop: int | None = None) -> None:
        assert cause in CAUSES, cause
        self.out.append(Violation(cause, message, vehicle, trip, stop))

    def add_at(self, cause: str, message: str, t: _Trip, j: int | None = None) -> None:
        self.add(cause, message, t.duty.id, t.id, j)

    def _known_zones(self, obj: dict[str, Any], where: str, duty: str | None, trip: str | None, j: int | None,
                     what: str) -> dict[str, Any]:
        ok = {}
        for z, v in obj.items():
            if z in ZONES:
                ok[z] = v
            else:
                self.add("unknown_reference",
                         f"{where}: {what} names unknown zone '{z}' (zones are {', '.join(ZONES)})", duty, trip, j)
        return ok

    def central_of(self, fw: str) -> str:
        f = self.forwards[fw]
        if f.central is not None:
            return f.central
        cache = self._central_cache
        if fw not in cache:
            tm = self.tm
            d = tm.distance_m(np.arange(tm.n_central), np.array([tm.index[fw]]))[:, 0]
            cache[fw] = self.s.central_warehouses[int(np.argmin(d))].id
        return cache[fw]

    # -- stage 0: which scenario -------------------------------------------------------
    def check_scenario(self) -> bool:
        """False when the plan is for another scenario (then nothing else is checked)."""
        from fulfil.scenario.digest import scenario_digest

        name = self.plan.scenario
        if name != self.s.name:
            self.add("wrong_scenario",
                     f"the plan is for scenario '{name}', not '{self.s.name}': check it against its own scenario "
                     f"(nothing else was checked)")
            return False
        digest = self.plan.scenario_digest
        if digest is not None:
            now = scenario_digest(self.s)
            if digest != now:
                self.add("wrong_scenario",
                         f"the scenario changed since this plan was made (plan made for scenario digest {digest}, "
                         f"'{self.s.name}' now has {now}): the violations below may come from the change")
        return True

    # -- stage 0b: rules of the format the plan model cannot express --------------------
    def check_format(self) -> None:
        """Ids that locate every violation, no empty duty, trip or stop, the keys of a stop's tier,
        and ``code``/``error`` against the unserved lines."""
        seen: set[str] = set()
        for d in self.plan.duties:
            if d.id in seen:
                self.add("format_rule", f"duty {d.id}: the id of another duty (duty ids are unique)", d.id)
            seen.add(d.id)
            if not d.trips:
                self.add("format_rule", f"duty {d.id}: has no trip (a duty is a vehicle that works tonight)", d.id)
            for k, t in enumerate(d.trips, start=1):
                if t.id != f"{d.id}.{k}":
                    self.add("format_rule", f"trip {t.id}: trip {k} of duty {d.id} must have the id '{d.id}.{k}'",
                             d.id, t.id)
                if not t.stops:
                    self.add("format_rule", f"trip {t.id}: has no stop", d.id, t.id)
                for j, st in enumerate(t.stops):
                    self._stop_format(d, t, j, st)
        self.check_code()

    def _stop_format(self, d: Duty, t: Trip, j: int, st: Stop) -> None:
        where = _trip_where(t.id, j, st.location)
        if d.tier == "trunk":
            for key in ("products", "minutes_since_cold_room"):
                if getattr(st, key) is not None:
                    self.add("format_rule", f"{where}: a trunk stop has no '{key}' (last-mile stops only)",
                             d.id, t.id, j)
            empty = not any(v.crates > 0 or v.kg > 0 for v in st.delivered.values())
        else:
            empty = not any(q > 0 for q in (st.products or {}).values())
        if empty:
            self.add("format_rule", f"{where}: hands nothing over (a stop delivers goods)", d.id, t.id, j)

    def check_code(self) -> None:
        """``code`` 130 says the search was interrupted: it carries an ``error``, and only such a plan
        may list goods left ``interrupted``; ``code`` 0 carries no ``error``."""
        plan = self.plan
        if plan.code == 130 and not (plan.error or "").strip():
            self.add("code_mismatch", "code is 130 (interrupted) but the plan gives no 'error' saying so")
        if plan.code == 0 and plan.error is not None:
            self.add("code_mismatch", f"code is 0 (complete) but the plan gives an error: {plan.error[:80]!r}")
        cut = [u for u in plan.unserved if u.reason == "interrupted"]
        if cut and plan.code != 130:
            self.add("code_mismatch",
                     f"code is {plan.code} but {_n(len(cut), 'unserved line')} give the reason 'interrupted' "
                     f"(first: '{cut[0].pickup_point}', '{cut[0].product}'); an interrupted plan has code 130")

    # -- stage 1: references, fleet, recomputation -------------------------------------
    def build(self) -> None:
        used: dict[tuple[str, int], str] = {}
        for d in self.plan.duties:
            did, tier = d.id, d.tier
            where = f"duty {did}"
            ok = True
            if tier not in TIERS:
                self.add("unknown_reference", f"{where}: unknown tier '{tier}' (use 'trunk' or 'last_mile')", did)
                ok = False
            vt = self.vtypes.get(d.vehicle_type)
            if vt is None:
                self.add("unknown_reference", f"{where}: unknown vehicle type '{d.vehicle_type}'", did)
                ok = False
            depot = d.depot
            if depot not in self.tm.index:
                self.add("unknown_reference", f"{where}: unknown depot '{depot}'", did)
                ok = False
            if vt is not None:
                key = (vt.id, d.vehicle)
                if d.vehicle < 0 or d.vehicle >= vt.count:
                    self.add("fleet_exceeded",
                             f"{where}: vehicle {d.vehicle} of type '{vt.id}' does not exist "
                             f"(the type has {vt.count}, indices 0..{vt.count - 1})", did)
                if key in used:
                    self.add("vehicle_reused",
                             f"{where}: vehicle {vt.id}#{d.vehicle} already works duty {used[key]} (one duty per "
                             f"vehicle; several trips go into one duty)", did)
                else:
                    used[key] = did
                if tier in TIERS and vt.tier != tier:
                    self.add("wrong_depot",
                             f"{where}: a {tier.replace('_', '-')} duty driven by '{vt.id}', "
                             f"a {vt.tier.replace('_', '-')} vehicle type", did)
                if depot != vt.home:
                    self.add("wrong_depot", f"{where}: starts at '{depot}' but '{vt.id}' is based at '{vt.home}'", did)
            if ok:
                if tier == "trunk" and depot not in self.centrals:
                    self.add("wrong_depot", f"{where}: a trunk duty must start at a central warehouse, not '{depot}'",
                             did)
                if tier == "last_mile" and depot not in self.forwards:
                    self.add("wrong_depot",
                             f"{where}: a last-mile duty must start at a forward warehouse, not '{depot}'", did)
            self.check_duty_sums(d, vt)
            if not ok:
                continue
            duty = _Duty(plan=d, id=did, tier=tier, vt=vt, depot=depot)
            for t in d.trips:
                trip = self._trip(duty, t)
                if trip is not None:
                    self._time(trip)
                    duty.trips.append(trip)
            self.duties.append(duty)

    def _trip(self, duty: _Duty, t: Trip) -> _Trip | None:
        tid, tier = t.id, duty.tier
        trip = _Trip(plan=t, id=tid, duty=duty, departure=float(t.departure), stops=[])
        for j, st in enumerate(t.stops):
            loc = st.location
            if tier == "trunk" and loc not in self.forwards:
                what = "unknown site" if loc not in self.tm.index else "not a forward warehouse"
                self.add_at("unknown_reference", f"{_trip_where(tid, j, loc)}: trunk stop at '{loc}': {what}", trip, j)
                return None
            if tier == "last_mile" and loc not in self.pickups:
                what = "unknown site" if loc not in self.tm.index else "not a pickup point"
                self.add_at("unknown_reference", f"{_trip_where(tid, j, loc)}: last-mile stop at '{loc}': {what}",
                            trip, j)
                return None
            trip.stops.append(self._stop(trip, j, st))
        return trip

    def _stop(self, trip: _Trip, j: int, st: Stop) -> _Stop:
        loc = st.location
        where = _trip_where(trip.id, j, loc)
        crates: dict[str, int] = {}
        kg: dict[str, float] = {}
        units: dict[str, int] = {}
        if trip.tier == "last_mile":
            pp = self.pickups[loc]
            window = (pp.window.open, pp.window.close)
            spans = pp.receiving_windows
            gaps = tuple((a[1], b[0]) for a, b in pairwise(spans))
            if st.products is None:
                self.add_at("load_mismatch", f"{where}: a last-mile stop must list the products handed over", trip, j)
            u_zone: dict[str, float] = defaultdict(float)
            for pid, q in (st.products or {}).items():
                prod = self.products.get(pid)
                if prod is None:
                    self.add_at("unknown_reference", f"{where}: unknown product '{pid}'", trip, j)
                    continue
                if q < 0:
                    self.add_at("load_mismatch", f"{where}: negative units ({q}) of '{pid}'", trip, j)
                    continue
                units[pid] = units.get(pid, 0) + q
            for pid, q in units.items():
                prod = self.products[pid]
                u_zone[prod.zone] += q / prod.units_per_crate
                kg[prod.zone] = kg.get(prod.zone, 0.0) + q * prod.kg_per_unit
            for z, c in u_zone.items():
                crates[z] = _crates(c)
        else:
            window = (self.pol.trunk_receiving.open, self.pol.trunk_receiving.close)
            gaps = ()
            for z, v in self._known_zones(st.delivered, where, trip.duty.id, trip.id, j, "delivered").items():
                if v.crates < 0 or v.kg < 0:
                    self.add_at("load_mismatch",
                                f"{where}: delivered {z} must be a non-negative number of crates and kg, got "
                                f"{v.crates} crates, {v.kg} kg", trip, j)
                crates[z] = max(int(v.crates), 0)
                kg[z] = max(float(v.kg), 0.0)
        return _Stop(plan=st, loc=loc, site=self.tm.index[loc], window=window, crates=crates, kg=kg, units=units,
                     gaps=gaps)

    def _service_min(self, tier: str, s: _Stop) -> float:
        n = sum(s.crates.values())
        pol = self.pol
        if tier == "trunk":
            return pol.trunk_unload_fixed_min + pol.trunk_unload_per_crate_min * n
        if self.pickups[s.loc].kind == "locker":
            return pol.locker_fixed_min + pol.locker_per_cell_min * n
        return pol.service_fixed_min + pol.service_per_crate_min * n

    def _time(self, t: _Trip) -> None:
        tm, prof = self.tm, t.vt.speed_profile
        now, depot = t.departure, tm.index[t.depot]
        dist_m, free_s = tm.path_legs([depot, *(s.site for s in t.stops), depot], prof)  # every leg at once
        km_total = 0.0
        for n, s in enumerate(t.stops):
            km, mins = dist_m[n] / 1000.0, tm.travel_min(free_s[n], now, prof)
            s.leg_km = km
            km_total += km
            s.arrival = now + mins
            s.start = max(s.arrival, s.window[0])
            s.start = next((b for a, b in s.gaps if a < s.start < b), s.start)  # in a gap: the next window
            s.departure = s.start + self._service_min(t.tier, s)
            now = s.departure
            self._out_of_zone(t, s)
        km, mins = dist_m[-1] / 1000.0, tm.travel_min(free_s[-1], now, prof)
        t.back_km = km
        t.km = km_total + km
        t.ret = now + mins

    def _out_of_zone(self, t: _Trip, s: _Stop) -> None:
        vt = t.vt
        comp = {c.zone for c in vt.compartments}
        boxes = (not vt.refrigerated) and vt.insulated_box_minutes > 0
        elapsed = s.arrival - t.departure
        for z, n in s.crates.items():
            if n <= 0:
                continue
            if t.tier == "last_mile":
                prods = [self.products[p] for p in s.units if self.products[p].zone == z and s.units[p] > 0]
            else:  # trunk stops do not list products: the strictest product of the zone
                prods = [p for p in self.s.products if p.zone == z]
            limit = min((p.max_minutes_out_of_zone for p in prods), default=math.inf)
            if z in comp and (vt.refrigerated or z == "ambient"):
                s.out_min[z] = 0.0
            elif z in comp and z == "chilled" and boxes:
                s.out_min[z] = elapsed
                limit = min(limit, vt.insulated_box_minutes)
            else:  # no compartment of that zone (or frozen goods on an unrefrigerated vehicle)
                s.out_min[z] = elapsed
            s.out_limit[z] = limit

    # -- stage 2: per duty -----------------------------------------------------------------
    def check_duty_sums(self, d: Duty, vt: VehicleType | None) -> None:
        """A duty's figures are its trips' figures summed, its fixed cost paid once."""
        did = d.id
        n = max(1, len(d.trips))
        km = sum(t.distance_km for t in d.trips)
        if abs(d.distance_km - km) > KM_TOL * n:
            self.add("cost_mismatch", f"duty {did}: distance_km is {d.distance_km} but its trips sum to {km:.3f} km",
                     did)
        hours = sum(t.duration_h for t in d.trips)
        if abs(d.duration_h - hours) > TIME_TOL_MIN / 60.0 * n:
            self.add("time_mismatch", f"duty {did}: duration_h is {d.duration_h} but its trips sum to {hours:.4f} h",
                     did)
        exp = {
            "distance": sum(t.cost.distance for t in d.trips),
            "time": sum(t.cost.time for t in d.trips),
        }
        if vt is not None:
            exp["fixed"] = vt.fixed_cost
            exp["total"] = vt.fixed_cost + sum(t.cost.total for t in d.trips)
        for k, v in exp.items():
            got = getattr(d.cost, k)
            if abs(got - v) > RMB_TOL * (1 if k == "fixed" else n):
                why = (f"the fixed cost of '{vt.id}', paid once per duty" if k == "fixed"
                       else ("the fixed cost + its trips' totals" if k == "total" else f"its trips' cost.{k} summed"))
                self.add("cost_mismatch", f"duty {did}: cost.{k} is {got} but should be {v:.2f} RMB ({why})", did)

    def check_duty(self, d: _Duty) -> None:
        """Trips of one vehicle: in time order, never overlapping, a reload between two, in the shift."""
        reported = d.trips
        for a, b in zip(reported, reported[1:]):
            if b.departure < a.departure:
                self.add_at("time_mismatch",
                            f"duty {d.id}: trip {b.id} (departs {format_clock(b.departure)}) is listed after trip {a.id} "
                            f"(departs {format_clock(a.departure)}); list a duty's trips in time order", b)
        pol = self.pol
        if d.tier == "last_mile" and len(reported) > pol.max_trips:
            self.add("too_many_trips", f"duty {d.id}: {len(reported)} trips, but a last-mile vehicle makes at most "
                                       f"policies.max_trips = {pol.max_trips} a night", d.id)
        if d.tier == "trunk" and len(reported) > pol.trunk_max_trips:
            self.add("too_many_trips", f"duty {d.id}: {len(reported)} trips, but a trunk truck makes at most "
                                       f"policies.trunk_max_trips = {pol.trunk_max_trips} a night", d.id)
        ordered = sorted(reported, key=lambda t: t.departure)
        for a, b in zip(ordered, ordered[1:]):
            crates = sum(b.load()[0].values())
            reload = pol.reload_fixed_min + pol.reload_per_crate_min * crates
            if b.departure < a.ret - LIMIT_TOL_MIN:
                self.add_at("trips_overlap",
                            f"trip {b.id}: departs at {format_clock(b.departure)} but the vehicle is back from trip {a.id} "
                            f"only at {format_clock(a.ret)} (recomputed)", b)
            elif b.departure < a.ret + reload - LIMIT_TOL_MIN:
                self.add_at("reload_too_short",
                            f"trip {b.id}: departs at {format_clock(b.departure)}, {b.departure - a.ret:.1f} min after trip "
                            f"{a.id} returns ({format_clock(a.ret)}), but reloading {_n(crates, 'crate')} takes "
                            f"{reload:.1f} min (policies.reload_fixed_min {pol.reload_fixed_min:g} + "
                            f"reload_per_crate_min {pol.reload_per_crate_min:g} × crates)", b)

    # -- stage 3: per trip -------------------------------------------------------------
    def check_trip(self, t: _Trip) -> None:
        tp = t.plan
        vt = t.vt
        tid = t.id
        where = _trip_where(tid)
        # shift
        if t.departure < vt.shift.open - LIMIT_TOL_MIN:
            self.add_at("shift_exceeded",
                        f"{where}: departs at {format_clock(t.departure)}, before the shift of '{vt.id}' opens "
                        f"({format_clock(vt.shift.open)})", t)
        if t.ret > vt.shift.close + LIMIT_TOL_MIN:
            self.add_at("shift_exceeded",
                        f"{where}: returns at {format_clock(t.ret)} (recomputed), after the shift of '{vt.id}' closes "
                        f"({format_clock(vt.shift.close)})", t)
        # departure policy: trunk trucks leave at trunk_departure at the earliest; last-mile
        # vehicles when the warehouse dispatches (goods sorted, cold room opened)
        if t.tier == "trunk":
            earliest, what = self.pol.trunk_departure, "policies.trunk_departure"
        else:
            fw = self.forwards.get(t.depot)
            override = fw.dispatch if fw is not None else None
            earliest = override if override is not None else self.pol.last_mile_dispatch
            what = "the forward warehouse's dispatch time"
        if t.departure < earliest - LIMIT_TOL_MIN:
            self.add_at("early_departure",
                        f"{where}: departs at {format_clock(t.departure)}, before {what} ({format_clock(earliest)})", t)
        # trip-level times
        self._cmp_time(t, None, "return", tp.return_, t.ret)
        for key, text, value in (("departure_hhmm", tp.departure_hhmm, t.departure),
                                 ("return_hhmm", tp.return_hhmm, t.ret)):
            if text is not None:
                m = _hhmm_minutes(text)
                if m is None or abs(m - value) > 1.0:
                    self.add_at("time_mismatch", f"{where}: {key} is {text!r} but the time is {format_clock(value)}", t)
        if abs(tp.duration_h - t.duration_h) > TIME_TOL_MIN / 60.0:
            self.add_at("time_mismatch",
                        f"{where}: duration_h is {tp.duration_h} but (return - departure) / 60 = {t.duration_h:.4f}", t)
        # distance and cost
        if abs(tp.distance_km - t.km) > KM_TOL:
            self.add_at("cost_mismatch",
                        f"{where}: distance_km is {tp.distance_km} but the legs (the way back included) sum to "
                        f"{t.km:.3f} km", t)
        if abs(tp.return_leg_km - t.back_km) > KM_TOL:
            self.add_at("cost_mismatch",
                        f"{where}: return_leg_km is {tp.return_leg_km} but the way back to '{t.depot}' is "
                        f"{t.back_km:.3f} km", t)
        cost = t.cost()
        for k in ("distance", "time", "total"):
            got = getattr(tp.cost, k)
            if abs(got - cost[k]) > RMB_TOL:
                self.add_at("cost_mismatch",
                            f"{where}: cost.{k} is {got} but should be {cost[k]:.2f} RMB "
                            f"({vt.cost_per_km:g}/km × {t.km:.3f} km + {vt.cost_per_hour:g}/h × "
                            f"{t.duration_h:.4f} h; the fixed cost is the duty's)", t)
        # load and capacity
        load_c, load_kg = t.load()
        self._check_capacity(t, load_c, load_kg)
        kg_tol = KG_TOL if t.tier == "last_mile" else KG_TOL * max(1, len(t.stops))
        self._cmp_loads(t, None, "", "load_at_departure", tp.load_at_departure, load_c, load_kg, kg_tol)
        carried = {z for z in ZONES if load_c.get(z, 0) > 0}
        self._zone_keys(t, None, "", "load_at_departure", tp.load_at_departure, carried)
        left_c, left_kg = dict(load_c), dict(load_kg)
        for j, s in enumerate(t.stops):
            for z in ZONES:
                left_c[z] = left_c.get(z, 0) - s.crates.get(z, 0)
                left_kg[z] = left_kg.get(z, 0.0) - s.kg.get(z, 0.0)
            self._check_stop(t, j, s)
            self._cmp_loads(t, j, s.loc, "load_after", s.plan.load_after, left_c, left_kg, kg_tol)
            self._zone_keys(t, j, s.loc, "load_after", s.plan.load_after, carried)
            self._zone_keys(t, j, s.loc, "minutes_out_of_zone", s.plan.minutes_out_of_zone,
                            {z for z in ZONES if s.crates.get(z, 0) > 0})

    def _zone_keys(self, t: _Trip, j: int | None, loc: str, what: str, reported: dict, want: set[str]) -> None:
        """A per-zone field lists exactly its zones (a load: every zone the trip carries, empty ones
        too; minutes out of zone: the zones handed over at the stop), so that leaving one out is
        not a silent claim of 0."""
        got = {z for z in reported if z in ZONES}
        if got != want:
            miss, extra = sorted(want - got, key=ZONES.index), sorted(got - want, key=ZONES.index)
            self.add_at("format_rule", f"{_trip_where(t.id, j, loc)}: {what} lists zones {sorted(got, key=ZONES.index)} "
                                       f"but should list {sorted(want, key=ZONES.index)}"
                                       + (f" (missing {', '.join(miss)})" if miss else "")
                                       + (f" (not carried: {', '.join(extra)})" if extra else ""), t, j)

    def _check_capacity(self, t: _Trip, load_c: dict[str, int], load_kg: dict[str, float]) -> None:
        vt, where = t.vt, _trip_where(t.id)
        comp = {c.zone: c for c in vt.compartments}
        for z in ZONES:
            if load_c.get(z, 0) <= 0 and load_kg.get(z, 0.0) <= 0:
                continue
            c = comp.get(z)
            if c is None:
                continue  # reported per stop as wrong_temperature_zone
            if load_c[z] > c.crates:
                self.add_at("over_capacity",
                            f"{where}: leaves with {load_c[z]} {z} crates but '{vt.id}' holds {c.crates}", t)
            if load_kg[z] > c.kg + KG_TOL:
                self.add_at("over_capacity",
                            f"{where}: leaves with {load_kg[z]:.1f} kg of {z} goods but '{vt.id}' takes {c.kg:g} kg", t)
        mt = vt.movable_total
        if mt is None:
            if t.plan.compartments is not None:
                self.add_at("format_rule", f"{where}: reports a compartments split but '{vt.id}' has fixed "
                                           f"compartments (only movable-partition types report one)", t)
            return
        # movable partitions: the zones together share the body, split as the trip reports
        tot_c, tot_kg = sum(load_c.values()), sum(load_kg.values())
        if tot_c > mt.crates:
            self.add_at("over_capacity", f"{where}: leaves with {tot_c} crates in all but the movable-partition "
                                         f"body of '{vt.id}' holds {mt.crates}", t)
        if tot_kg > mt.kg + KG_TOL:
            self.add_at("over_capacity", f"{where}: leaves with {tot_kg:.1f} kg in all but '{vt.id}' takes "
                                         f"{mt.kg:g} kg", t)
        split = t.plan.compartments
        if split is None:
            self.add_at("load_mismatch", f"{where}: '{vt.id}' has movable partitions but the trip reports no "
                                         f"compartments split", t)
            return
        split = self._known_zones(split, where, t.duty.id, t.id, None, "compartments")
        for z, n in split.items():
            if z not in comp or n < 0:
                why = f"'{vt.id}' has no {z} compartment" if z not in comp else "a negative number of crates"
                self.add_at("format_rule", f"{where}: the compartments split gives {z} {n} crates: {why}", t)
        if sum(split.values()) > mt.crates:
            self.add_at("over_capacity", f"{where}: the compartments split takes {sum(split.values())} crates but the "
                                         f"body of '{vt.id}' holds {mt.crates}", t)
        for z, n in load_c.items():
            if n > 0 and z in comp and n > split.get(z, 0):
                self.add_at("over_capacity", f"{where}: leaves with {n} {z} crates but its {z} compartment is split "
                                             f"to {split.get(z, 0)}", t)

    def _cmp_time(self, t: _Trip, j: int | None, key: str, reported: float | None, expected: float,
                  loc: str = "") -> None:
        where = _trip_where(t.id, j, loc)
        if reported is None:
            self.add_at("time_mismatch", f"{where}: {key} is missing (recomputes to {_fmt(expected)})", t, j)
        elif abs(reported - expected) > TIME_TOL_MIN:
            self.add_at("time_mismatch", f"{where}: {key} is {_fmt(reported)} but recomputes to {_fmt(expected)}", t, j)

    def _cmp_loads(self, t: _Trip, j: int | None, loc: str, what: str, reported: dict[str, ZoneLoad],
                   crates: dict[str, int], kg: dict[str, float], kg_tol: float) -> None:
        where = _trip_where(t.id, j, loc)
        rep = self._known_zones(reported, where, t.duty.id, t.id, j, what)
        for z in ZONES:
            rc = rep[z].crates if z in rep else 0
            rk = rep[z].kg if z in rep else 0.0
            ec, ek = crates.get(z, 0), kg.get(z, 0.0)
            if rc != ec:
                self.add_at("load_mismatch", f"{where}: {what} has {rc} {z} crates but the deliveries make {ec}", t, j)
            elif abs(rk - ek) > kg_tol:
                self.add_at("load_mismatch", f"{where}: {what} has {rk} kg of {z} goods but the deliveries make "
                                             f"{ek:.3f}", t, j)

    def _check_stop(self, t: _Trip, j: int, s: _Stop) -> None:
        sp, loc = s.plan, s.loc
        where = _trip_where(t.id, j, loc)
        vt = t.vt
        closed = self.pickups[loc].closed_from if t.tier != "trunk" and loc in self.pickups else None
        if closed is not None and s.start >= closed + LIMIT_TOL_MIN:  # the start: it may wait for a later window
            self.add_at("closed_point", f"{where}: delivers at {format_clock(s.start)}, but the pickup point is "
                                        f"closed from {format_clock(closed)}", t, j)
        # window
        if s.arrival > s.window[1] + LIMIT_TOL_MIN:
            what = "the trunk receiving window" if t.tier == "trunk" else "its window"
            self.add_at("late", f"{where}: arrives at {format_clock(s.arrival)}, after {what} closes ({format_clock(s.window[1])})",
                        t, j)
        gap = next(((a, b) for a, b in s.gaps if a + LIMIT_TOL_MIN < sp.start < b - LIMIT_TOL_MIN), None)
        if gap is not None:
            self.add_at("between_windows", f"{where}: service starts at {format_clock(sp.start)}, between its windows "
                                           f"(one closes at {format_clock(gap[0])}, the next opens at "
                                           f"{format_clock(gap[1])})", t, j)
        # reported times
        self._cmp_time(t, j, "arrival", sp.arrival, s.arrival, loc)
        self._cmp_time(t, j, "start", sp.start, s.start, loc)
        self._cmp_time(t, j, "departure", sp.departure, s.departure, loc)
        if sp.arrival_hhmm is not None:
            m = _hhmm_minutes(sp.arrival_hhmm)
            if m is None or abs(m - s.arrival) > 1.0:
                self.add_at("time_mismatch", f"{where}: arrival_hhmm is {sp.arrival_hhmm!r} but the arrival is "
                                             f"{format_clock(s.arrival)}", t, j)
        if abs(sp.leg_km - s.leg_km) > KM_TOL:
            self.add_at("cost_mismatch", f"{where}: leg_km is {sp.leg_km} but recomputes to {s.leg_km:.3f}", t, j)
        elapsed = s.arrival - t.departure
        if t.tier == "last_mile":
            self._cmp_time(t, j, "minutes_since_cold_room", sp.minutes_since_cold_room, elapsed, loc)
        rep_out = self._known_zones(sp.minutes_out_of_zone, where, t.duty.id, t.id, j, "minutes_out_of_zone")
        for z in sorted(set(s.out_min) | set(rep_out), key=ZONES.index):  # a zone left out means 0
            self._cmp_time(t, j, f"minutes_out_of_zone.{z}", rep_out.get(z, 0.0), s.out_min.get(z, 0.0), loc)
        # promise: from this trip's departure from the cold room
        cold = any(s.crates.get(z, 0) > 0 for z in COLD)
        if t.tier == "last_mile" and cold and elapsed > self.pol.promise_minutes + LIMIT_TOL_MIN:
            self.add_at("promise_exceeded",
                        f"{where}: chilled/frozen goods arrive {elapsed:.1f} min after the trip left the cold room "
                        f"(promise {self.pol.promise_minutes:g} min)", t, j)
        # temperature zones
        comp = {c.zone for c in vt.compartments}
        for z, n in s.crates.items():
            if n <= 0:
                continue
            if z not in comp:
                self.add_at("wrong_temperature_zone",
                            f"{where}: delivers {_n(n, z + ' crate')} but '{vt.id}' has no {z} compartment", t, j)
            elif z == "frozen" and not vt.refrigerated:
                self.add_at("wrong_temperature_zone",
                            f"{where}: delivers frozen goods from '{vt.id}', which is not refrigerated", t, j)
            if s.out_min.get(z, 0.0) > s.out_limit.get(z, math.inf) + LIMIT_TOL_MIN:
                self.add_at("out_of_zone_limit",
                            f"{where}: {z} goods spent {s.out_min[z]:.1f} min out of their zone "
                            f"(limit {s.out_limit[z]:g} min)", t, j)
        # delivered vs products (last mile)
        if t.tier == "last_mile":
            rep = self._known_zones(sp.delivered, where, t.duty.id, t.id, j, "delivered")
            for z in ZONES:
                rc = rep[z].crates if z in rep else 0
                rk = rep[z].kg if z in rep else 0.0
                ec, ek = s.crates.get(z, 0), s.kg.get(z, 0.0)
                if rc != ec:
                    if ec == 0 and rc > 0:
                        why = f"none of the products handed over here is {z}"
                    else:
                        why = f"its {z} products make ceil(Σ units / units_per_crate) = {ec}"
                    self.add_at("load_mismatch", f"{where}: delivered has {rc} {z} crates but {why}", t, j)
                elif abs(rk - ek) > KG_TOL:
                    self.add_at("load_mismatch",
                                f"{where}: delivered has {rk} kg of {z} goods but its products weigh {ek:.3f} kg", t, j)

    # -- stage 4: across trips ---------------------------------------------------------
    def trips(self) -> list[_Trip]:
        return [t for d in self.duties for t in d.trips]

    def check_network(self) -> None:
        s = self.s
        delivered: dict[tuple[str, str], int] = defaultdict(int)  # (pickup, product) → units
        served_from: dict[str, dict[str, str]] = defaultdict(dict)  # pickup → fw → first trip id
        cells_used: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
        cells_visits: dict[str, list[tuple[_Trip, int, dict[str, int]]]] = defaultdict(list)
        fw_out: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
        trunk_in: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
        # fw → zone → [(end of unloading, crates, trip, stop)]
        trunk_done: dict[str, dict[str, list[tuple[float, int, _Trip, int]]]] = defaultdict(lambda: defaultdict(list))
        # fw → zone → [(departure, crates, trip)]
        lm_out: dict[str, dict[str, list[tuple[float, int, _Trip]]]] = defaultdict(lambda: defaultdict(list))
        central_units: dict[tuple[str, str], int] = defaultdict(int)

        for t in self.trips():
            if t.tier == "trunk":
                for j, st in enumerate(t.stops):
                    for z, n in st.crates.items():
                        if n > 0:
                            trunk_in[st.loc][z] += n
                            trunk_done[st.loc][z].append((st.departure, n, t, j))
                    if t.depot in self.centrals and self.central_of(st.loc) != t.depot:
                        self.add_at("wrong_warehouse",
                                    f"{_trip_where(t.id, j, st.loc)}: '{st.loc}' is supplied by "
                                    f"'{self.central_of(st.loc)}', not by '{t.depot}'", t, j)
                continue
            fw = t.depot if t.depot in self.forwards else None
            trip_c: dict[str, int] = defaultdict(int)
            for j, st in enumerate(t.stops):
                for pid, q in st.units.items():
                    delivered[(st.loc, pid)] += q
                    if fw is not None:
                        central_units[(self.central_of(fw), pid)] += q
                if fw is not None and any(q > 0 for q in st.units.values()):
                    served_from[st.loc].setdefault(fw, t.id)
                for z, n in st.crates.items():
                    trip_c[z] += n
                    if fw is not None:
                        fw_out[fw][z] += n
                if self.pickups[st.loc].kind == "locker":
                    for z, n in st.crates.items():
                        cells_used[st.loc][z] += n
                    cells_visits[st.loc].append((t, j, st.crates))
            if fw is not None:
                for z, n in trip_c.items():
                    if n > 0:
                        lm_out[fw][z].append((t.departure, n, t))

        # demand
        demand: dict[tuple[str, str], int] = defaultdict(int)
        for d in s.demand:
            for pid, q in d.items.items():
                demand[(d.pickup_point, pid)] += q
        unserved: dict[tuple[str, str], int] = defaultdict(int)
        for i, u in enumerate(self.plan.unserved):
            bad = False
            if u.pickup_point not in self.pickups:
                self.add("unknown_reference", f"unserved[{i}]: unknown pickup point '{u.pickup_point}'")
                bad = True
            if u.product not in self.products:
                self.add("unknown_reference", f"unserved[{i}]: unknown product '{u.product}'")
                bad = True
            if u.reason not in UNSERVED_REASONS:
                self.add("unknown_reference",
                         f"unserved[{i}]: unknown reason '{u.reason}' (one of {', '.join(sorted(UNSERVED_REASONS))})")
            elif not bad:
                self._check_reason(i, u.reason, u.pickup_point)
            if u.units <= 0:
                self.add("demand_mismatch", f"unserved[{i}]: {u.units} units (an unserved line names the units "
                                            f"missing, at least 1)")
                bad = True
            if not bad:
                unserved[(u.pickup_point, u.product)] += u.units
        for key in sorted(set(demand) | set(delivered) | set(unserved)):
            want, got, miss = demand.get(key, 0), delivered.get(key, 0), unserved.get(key, 0)
            if got + miss != want:
                self.add("demand_mismatch",
                         f"pickup point '{key[0]}', product '{key[1]}': {got} units delivered + {miss} unserved "
                         f"≠ {want} ordered")

        # stock
        if s.stock is not None:
            stock: dict[tuple[str, str], int] = defaultdict(int)
            for st in s.stock:
                stock[(st.warehouse, st.product)] += st.quantity
            for (cw, pid), q in sorted(central_units.items()):
                if q > stock.get((cw, pid), 0):
                    self.add("oversold",
                             f"central warehouse '{cw}', product '{pid}': {q} units delivered but only "
                             f"{stock.get((cw, pid), 0)} in stock")

        # lockers: cells over all visits that night
        for pp, used in cells_used.items():
            cells = self.pickups[pp].cells or {}
            for z, n in used.items():
                if n > cells.get(z, 0):
                    visits = [(t, j, c[z]) for t, j, c in cells_visits[pp] if c.get(z, 0) > 0]
                    listing = ", ".join(f"trip {t.id} stop {j + 1}: {k}" for t, j, k in visits)
                    self.add_at("locker_cells_exceeded",
                                f"locker '{pp}': {_n(n, z + ' crate')} handed over ({listing}) but it has "
                                f"{_n(cells.get(z, 0), z + ' cell')}", visits[0][0], visits[0][1])

        # forward warehouse capacity and trunk supply
        for fw, zones in fw_out.items():
            cap = self.forwards[fw].capacity
            for z, n in zones.items():
                if z in cap and n > cap[z]:
                    self.add("warehouse_capacity",
                             f"forward warehouse '{fw}': its last-mile trips carry {n} {z} crates, capacity {cap[z]}")
                if n > trunk_in[fw].get(z, 0):
                    self.add("trunk_shortfall",
                             f"forward warehouse '{fw}': last-mile trips carry {n} {z} crates but trunk trips "
                             f"deliver {trunk_in[fw].get(z, 0)}")
        self._check_trunk_late(trunk_done, lm_out)

        self._check_assignment(served_from)

        self._delivered = delivered

    def check_idle_fleet(self) -> None:
        """A complete plan that hands nothing over at all, while a trunk trip has brought goods of an unserved
        line's zone to a forward warehouse (one its pickup point may be served from) and a last-mile vehicle
        of that warehouse, not used tonight, could leave at the dispatch and be there inside the point's
        window and its own shift (and the promise, for cold goods) and back by the shift's close: serving
        nothing is then never the most a plan can do (``idle_fleet``, reported once, with one witness)."""
        if self.plan.code != 0 or any(q > 0 for q in self._delivered.values()):
            return
        brought: dict[str, set[str]] = defaultdict(set)  # forward → zones a trunk trip hands over there
        for t in self.trips():
            if t.tier == "trunk":
                for st in t.stops:
                    brought[st.loc].update(z for z, n in st.crates.items() if n > 0)
        used: dict[str, int] = defaultdict(int)
        for d in self.duties:
            used[d.vt.id] += 1
        stock = None
        if self.s.stock is not None:
            stock = defaultdict(int)
            for row in self.s.stock:
                stock[(row.warehouse, row.product)] += row.quantity
        for u in self.plan.unserved:
            pp, prod = self.pickups.get(u.pickup_point), self.products.get(u.product)
            if pp is None or prod is None:
                continue
            for fw in sorted(brought):
                if prod.zone not in brought[fw] or pp.forward_warehouse not in (None, fw) or (
                        stock is not None and stock[(self.central_of(fw), prod.id)] <= 0):
                    continue
                for vt in self.s.vehicle_types:
                    if vt.tier != "last_mile" or vt.home != fw or used[vt.id] >= vt.count:
                        continue
                    at = self._reach(vt, fw, pp, prod)
                    if at is not None:
                        self.add("idle_fleet",
                                 f"the plan hands nothing over, but '{vt.id}' at '{fw}' stands idle "
                                 f"({used[vt.id]} of {vt.count} used), trunk trips brought {prod.zone} goods there, "
                                 f"and it could hand '{prod.id}' to '{pp.id}' at {format_clock(at)}, inside its "
                                 f"window and the vehicle's shift")
                        return

    def _reach(self, vt: VehicleType, fw: str, pp: Any, prod: Product) -> float | None:
        """Arrival of one vehicle of ``vt`` sent from ``fw`` straight to ``pp`` with a unit of ``prod`` (None:
        it has no fitting compartment, or misses the window, the closing, the promise or its shift)."""
        comp = {c.zone: c for c in vt.compartments}.get(prod.zone)
        if comp is None or comp.kg < prod.kg_per_unit or (prod.zone == "frozen" and not vt.refrigerated):
            return None
        dispatch = self.forwards[fw].dispatch
        dep = max(self.pol.last_mile_dispatch if dispatch is None else dispatch, vt.shift.open)
        tm, prof = self.tm, vt.speed_profile
        _, free_s = tm.path_legs([tm.index[fw], tm.index[pp.id], tm.index[fw]], prof)
        arrival = dep + tm.travel_min(free_s[0], dep, prof)
        pol = self.pol  # one crate handed over, at the slower of the two kinds of stop
        done = max(arrival, pp.window.open) + max(pol.service_fixed_min + pol.service_per_crate_min,
                                                  pol.locker_fixed_min + pol.locker_per_cell_min)
        back = done + tm.travel_min(free_s[1], done, prof)
        late = arrival > pp.window.close or (pp.closed_from is not None and arrival >= pp.closed_from)
        cold = prod.zone in COLD and arrival - dep > self.pol.promise_minutes
        return None if late or cold or back > vt.shift.close else arrival

    def _check_reason(self, i: int, reason: str, pp: str) -> None:
        """The reasons the scenario itself rules out (``interrupted`` is held to ``code``)."""
        if reason == "stock_shortage" and self.s.stock is None:
            self.add("reason_mismatch", f"unserved[{i}]: reason 'stock_shortage' but the scenario gives no stock "
                                        f"(stock is unlimited)")
        if reason == "closed" and self.pickups[pp].closed_from is None:
            self.add("reason_mismatch", f"unserved[{i}]: reason 'closed' but the scenario does not close '{pp}'")
        if reason == "locker_cells_exceeded" and self.pickups[pp].kind != "locker":
            self.add("reason_mismatch", f"unserved[{i}]: reason 'locker_cells_exceeded' but '{pp}' is not a locker")

    def _check_assignment(self, served_from: dict[str, dict[str, str]]) -> None:
        """``assignment`` lists exactly the pickup points the last-mile trips deliver to, each with the
        forward warehouse whose trips serve it (and its pin)."""
        assignment = self.plan.assignment
        by_id = {t.id: t for t in self.trips()}
        for pp, fws in served_from.items():
            pin = self.pickups[pp].forward_warehouse
            if len(fws) > 1:
                listing = ", ".join(f"'{f}' (trip {tid})" for f, tid in fws.items())
                self.add("wrong_warehouse", f"pickup point '{pp}' is served from several forward warehouses: {listing}")
            for f, tid in fws.items():
                if pin is not None and f != pin:
                    self.add_at("wrong_warehouse",
                                f"pickup point '{pp}' is pinned to '{pin}' but trip {tid} serves it from '{f}'",
                                by_id[tid])
            if pp not in assignment:
                f, tid = next(iter(fws.items()))
                self.add_at("wrong_warehouse", f"assignment does not list pickup point '{pp}', which trip {tid} "
                                               f"serves from '{f}'", by_id[tid])
            elif assignment[pp] not in fws:
                self.add("wrong_warehouse",
                         f"assignment says pickup point '{pp}' → '{assignment[pp]}' but it is served from "
                         f"{', '.join(repr(f) for f in fws)}")
        for pp, fw in assignment.items():
            if pp not in self.pickups:
                self.add("unknown_reference", f"assignment: unknown pickup point '{pp}'")
            elif fw not in self.forwards:
                self.add("unknown_reference", f"assignment: '{pp}' → unknown forward warehouse '{fw}'")
            elif self.pickups[pp].forward_warehouse not in (None, fw):
                self.add("wrong_warehouse",
                         f"assignment: '{pp}' → '{fw}' but it is pinned to '{self.pickups[pp].forward_warehouse}'")
            elif pp not in served_from:
                self.add("wrong_warehouse", f"assignment: '{pp}' → '{fw}' but no last-mile trip delivers to '{pp}' "
                                            f"(assignment lists the pickup points served)")

    def _check_trunk_late(self, trunk_done: dict, lm_out: dict) -> None:
        """By each last-mile departure, the trunk must have unloaded at the warehouse at least the
        crates of each zone that its last-mile trips have taken out so far (up to what the trunk
        delivers at all: a plain shortage is ``trunk_shortfall``)."""
        for fw, zones in lm_out.items():
            for z, outs in zones.items():
                ins = sorted(trunk_done[fw][z], key=lambda x: x[0])
                total_in = sum(n for _, n, _, _ in ins)
                outs = sorted(outs, key=lambda x: x[0])
                taken = arrived = 0
                n_out = n_in = 0  # departures counted into taken, unloadings into arrived (one pass each)
                for dep, _, t in outs:
                    while n_out < len(outs) and outs[n_out][0] <= dep + LIMIT_TOL_MIN:
                        taken += outs[n_out][1]
                        n_out += 1
                    while n_in < len(ins) and ins[n_in][0] <= dep + LIMIT_TOL_MIN:
                        arrived += ins[n_in][1]
                        n_in += 1
                    if min(taken, total_in) <= arrived:
                        continue
                    later = ins[n_in] if n_in < len(ins) else None
                    tail = ""
                    if later is not None:
                        tail = (f" (trunk trip {later[2].id} stop {later[3] + 1} finishes unloading {later[1]} more at "
                                f"{format_clock(later[0])})")
                    self.add_at("trunk_late",
                                f"trip {t.id}: departs at {format_clock(dep)} with {z} goods, but by then trunk trips have "
                                f"unloaded {arrived} {z} crates at '{fw}' and its last-mile trips take {taken}{tail}",
                                t)

    # -- stage 5: KPIs -------------------------------------------------------------------
    def expected_kpis(self) -> dict[str, Any]:
        s, plan = self.s, self.plan
        duties = plan.duties
        orders: dict[str, int] = defaultdict(int)
        ordered: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
        for d in s.demand:
            orders[d.pickup_point] += d.orders
            for pid, q in d.items.items():
                ordered[d.pickup_point][pid] += q
        delivered = self._delivered
        orders_total = sum(orders.values())
        orders_served = 0.0
        orders_complete = 0
        for pp, n in orders.items():
            want = ordered.get(pp, {})
            units = sum(want.values())
            got = sum(min(delivered.get((pp, pid), 0), q) for pid, q in want.items())
            orders_served += n * (got / units if units else 1.0)
            if all(delivered.get((pp, pid), 0) >= q for pid, q in want.items()):
                orders_complete += n
        units_total = sum(q for want in ordered.values() for q in want.values())
        units_served = sum(delivered.values())
        # sums over the plan's own duty figures (each one is checked against its trips)
        cost = sum(d.cost.total for d in duties)
        stops = ok_stops = 0
        crates = ok_crates = 0
        sales = 0.0
        for t in self.trips():
            if t.tier != "last_mile":
                continue
            for st in t.stops:
                stops += 1
                elapsed = st.arrival - t.departure
                cold = any(st.crates.get(z, 0) > 0 for z in COLD)
                if st.arrival <= st.window[1] + LIMIT_TOL_MIN and not (
                    cold and elapsed > self.pol.promise_minutes + LIMIT_TOL_MIN
                ):
                    ok_stops += 1
                for z, n in st.crates.items():
                    crates += n
                    if st.out_min.get(z, 0.0) <= st.out_limit.get(z, math.inf) + LIMIT_TOL_MIN:
                        ok_crates += n
                for pid, q in st.units.items():
                    sales += q * self.products[pid].price
        n_trips = {tier: sum(len(d.trips) for d in duties if d.tier == tier) for tier in TIERS}
        return {
            "vehicles": len(duties),
            "trunk_vehicles": sum(d.tier == "trunk" for d in duties),
            "last_mile_vehicles": sum(d.tier == "last_mile" for d in duties),
            "trips": sum(len(d.trips) for d in duties),
            "trunk_trips": n_trips["trunk"],
            "last_mile_trips": n_trips["last_mile"],
            "distance_km": sum(d.distance_km for d in duties),
            "duration_h": sum(d.duration_h for d in duties),
            "cost": cost,
            "orders_total": orders_total,
            "orders_served": orders_served,
            "orders_complete": orders_complete,
            "orders_unserved": orders_total - orders_served,
            "cost_per_order": cost / orders_served if orders_served > 0 else None,
            "units_total": units_total,
            "units_served": units_served,
            "units_unserved": sum(u.units for u in plan.unserved),
            "fill_rate": units_served / units_total if units_total else 1.0,
            "stops": stops,
            "two_hour_compliance": ok_stops / stops if stops else 1.0,
            "cold_chain_compliance": ok_crates / crates if crates else 1.0,
            "delivery_cost_share_of_sales": cost / sales if sales > 0 else None,
        }

    def check_kpis(self) -> None:
        rep = self.plan.kpis
        for k, exp in self.expected_kpis().items():
            self._cmp_kpi(k, getattr(rep, k), exp)

    def _cmp_kpi(self, k: str, got: float | None, exp: float | None, rel: float = KPI_REL, how: str = "") -> None:
        if exp is None or got is None:
            if not (exp is None and got is None):
                self.add("kpi_mismatch", f"kpis.{k} is {got!r} but recomputes to {exp!r}{how}")
            return
        if k in COUNT_KPIS:
            ok = got == exp
        else:
            ok = math.isclose(got, exp, rel_tol=rel, abs_tol=KPI_SHARE_ABS if k in SHARE_KPIS else KPI_ABS)
        if not ok:
            shown = f"{exp:.6g}" if isinstance(exp, float) else str(exp)
            self.add("kpi_mismatch", f"kpis.{k} is {got!r} but recomputes to {shown}{how}")

    # -- stage 6: cold chain -------------------------------------------------------------
    def check_cold_chain(self) -> None:
        """Re-run the thermal model on every trip with the times and loads recomputed above, hold each
        chilled/frozen hand-over to its limit and sale quality, and compare with what the plan reports."""
        from solvers.thermal.route import (
            STORAGE_C,
            body_compartment,
            handover_quality,
            product_class,
            simulate_zone,
            zone_limits,
        )

        hourly = np.asarray(self.s.weather.hourly_c, dtype=np.float64)
        end_h = self.pol.customer_pickup_end / 60.0
        ok_crates = all_crates = 0
        spoiled_total = cost_total = 0.0
        for t in self.trips():
            vt = t.vt
            split = t.split()
            body = sum(split.values()) or 1
            model: dict[int, dict[str, dict[str, Any]]] = defaultdict(dict)
            traced: dict[str, tuple[Any, np.ndarray, int]] = {}  # zone → (trace, hand-over starts s, crates)
            if t.ret - t.departure > MAX_TRIP_MIN:
                self._unverifiable(t, f"it lasts {(t.ret - t.departure) / 60.0:.0f} h (recomputed), beyond any shift")
                continue
            for zone in COLD:
                idx = [j for j, st in enumerate(t.stops) if st.crates.get(zone, 0) > 0]
                if not idx:
                    continue
                stops = [t.stops[j] for j in idx]
                start_s = np.array([st.start * 60.0 for st in stops])
                serv_s = np.array([(st.departure - st.start) * 60.0 for st in stops])
                crates = np.array([st.crates[zone] for st in stops], dtype=np.float64)
                kg = np.array([st.kg.get(zone, 0.0) for st in stops], dtype=np.float64)
                comp = None
                if vt.refrigerated:
                    b = vt.body
                    comp = body_compartment(zone, split.get(zone, 0) / body, k_w_m2k=b.k_w_m2k, area_m2=b.area_m2,
                                            volume_m3=b.volume_m3, unit_kw=b.unit_kw, curtain=b.curtain)
                try:
                    tr = simulate_zone(zone, hourly, t.departure * 60.0, start_s, serv_s, crates, kg,
                                       compartment=comp, end_s=t.ret * 60.0)
                except ValueError as exc:
                    self.add_at("cold_chain_mismatch", f"trip {t.id}: cannot run the thermal model ({exc})", t)
                    continue
                traced[zone] = (tr, start_s, split.get(zone, int(crates.sum())))
                _, limit = zone_limits(zone)
                by_class: dict[int, tuple[np.ndarray, np.ndarray]] = {}  # id(class) → (q, life) per hand-over
                for n, (j, st) in enumerate(zip(idx, stops, strict=True)):
                    hc = float(tr.handover_c[n])
                    in_range = hc <= limit + 1e-9
                    if st.units:
                        prods = {k: q for k, q in st.units.items() if self.products[k].zone == zone}
                    else:  # trunk stop: every product of the zone, none handed over to customers
                        prods = {p.id: 0 for p in self.s.products if p.zone == zone}
                    worst_q, worst_life, good, spoiled, cost = 1.0, math.inf, True, 0.0, 0.0
                    needed_h = max(0.0, end_h - st.departure / 60.0)
                    for k, units in prods.items():
                        p = self.products[k]
                        cls = product_class(p.zone, p.quality_class)
                        ql = by_class.get(id(cls))
                        if ql is None:  # one pass per quality class over all the zone's hand-overs
                            ql = by_class[id(cls)] = handover_quality(tr.t_s, tr.product_c, start_s, cls,
                                                                      STORAGE_C[zone])
                        q, life = float(ql[0][n]), float(ql[1][n])
                        worst_q, worst_life = min(worst_q, q), min(worst_life, life)
                        good = good and q >= cls.q_min
                        if not in_range or q < cls.q_min or life < needed_h:
                            spoiled += units / p.units_per_crate
                            cost += units * p.price
                    in_spec = in_range and good
                    model[j][zone] = {
                        "handover_c": hc, "minutes_out_of_range": float(tr.minutes_above[n]), "quality": worst_q,
                        "remaining_shelf_life_h": worst_life if math.isfinite(worst_life) else None,
                        "in_spec": in_spec, "spoiled_crates": spoiled, "spoilage_cost": cost, "limit": limit,
                    }
                    if t.tier == "last_mile":
                        all_crates += st.crates[zone]
                        ok_crates += st.crates[zone] if in_spec else 0
                        spoiled_total += spoiled
                        cost_total += cost
            self._cmp_thermal(t, traced)
            for j, st in enumerate(t.stops):
                self._cmp_cold_stop(t, j, st, model.get(j, {}))
        exp = {
            "in_spec_share": ok_crates / all_crates if all_crates else 1.0,
            "expected_spoilage_cost": cost_total,
            "spoiled_crates": spoiled_total,
        }
        rep = self.plan.kpis
        for k, v in exp.items():
            self._cmp_kpi(k, getattr(rep, k), v, rel=COLD_KPI_REL, how=" (thermal model)")

    def _unverifiable(self, t: _Trip, why: str) -> None:
        """A cold trip the thermal model is not run on: each cold-chain value it reports is unverified."""
        if t.plan.thermal is not None or any(st.plan.cold_chain for st in t.stops):
            self.add_at("cold_chain_mismatch", f"trip {t.id}: its cold-chain values cannot be verified: {why}", t)

    def _cmp_thermal(self, t: _Trip, traced: dict[str, tuple[Any, np.ndarray, int]]) -> None:
        """A trip carrying chilled or frozen goods reports a trace per such zone — of the right kind,
        compartment size and limit, sampled as the model's trace is — and no other."""
        from solvers.thermal.route import zone_limits

        block = t.plan.thermal
        have = block.compartments if block is not None else {}
        for zone in sorted(set(have) - set(traced)):
            self.add_at("cold_chain_mismatch", f"trip {t.id}: reports a {zone} temperature trace but carries no "
                                               f"{zone if zone in COLD else 'chilled or frozen'} goods the thermal "
                                               f"model follows", t)
        for zone, (tr, start_s, size) in traced.items():
            got = have.get(zone)
            if got is None:
                self.add_at("cold_chain_mismatch", f"trip {t.id}: carries {zone} goods but reports no {zone} "
                                                   f"temperature trace (thermal.compartments.{zone})", t)
                continue
            diffs = []
            if got.kind != tr.kind:
                diffs.append(f"kind '{got.kind}' but '{t.vt.id}' carries {zone} goods in a '{tr.kind}'")
            if got.crates != size:
                diffs.append(f"crates {got.crates} but the {zone} compartment holds {size} on this trip")
            limit = zone_limits(zone)[1]
            if got.limit_c != limit:
                diffs.append(f"limit_c {got.limit_c:g} but the {zone} hand-over limit is {limit:g} °C")
            diffs += _trace_diffs(got, tr, start_s)
            if diffs:
                self.add_at("cold_chain_mismatch", f"trip {t.id}: the {zone} trace differs from the thermal model on "
                                                   f"the recomputed times: " + "; ".join(diffs), t)

    def check_no_cold_chain(self) -> None:
        """With ``policies.cold_chain_model`` off nothing was modelled: a plan reports no trace, no
        hand-over prediction and no cold-chain KPI."""
        for t in self.trips():
            if t.plan.thermal is not None:
                self.add_at("cold_chain_mismatch", f"trip {t.id}: reports temperature traces but the scenario's "
                                                   f"policies.cold_chain_model is off", t)
            for j, st in enumerate(t.stops):
                if st.plan.cold_chain is not None:
                    self.add_at("cold_chain_mismatch", f"{_trip_where(t.id, j, st.loc)}: reports cold-chain "
                                                       f"predictions but policies.cold_chain_model is off", t, j)
        for k in ("in_spec_share", "expected_spoilage_cost", "spoiled_crates"):
            self._cmp_kpi(k, getattr(self.plan.kpis, k), None, how=" (policies.cold_chain_model is off)")

    def _cmp_cold_stop(self, t: _Trip, j: int, st: _Stop, model: dict[str, dict[str, Any]]) -> None:
        where = _trip_where(t.id, j, st.loc)
        rep = st.plan.cold_chain or {}
        for z in sorted(set(rep) - set(model)):
            self.add_at("cold_chain_mismatch", f"{where}: reports a {z} hand-over but the trip hands over no "
                                               f"chilled or frozen goods of zone '{z}' here", t, j)
        for z, c in model.items():
            if not c["in_spec"]:
                self.add_at("out_of_spec",
                            f"{where}: {z} goods handed over at {c['handover_c']:.1f} °C (limit {c['limit']:g} °C), "
                            f"quality {c['quality']:.3f}", t, j)
            got = rep.get(z)
            if got is None:
                self.add_at("cold_chain_mismatch", f"{where}: no cold_chain.{z} reported; the thermal model gives a "
                                                   f"hand-over at {c['handover_c']:.2f} °C", t, j)
                continue
            diffs = []
            if abs(got.handover_c - c["handover_c"]) > HANDOVER_TOL_C:
                diffs.append(f"handover_c {got.handover_c} vs {c['handover_c']:.2f} °C")
            if abs(got.minutes_out_of_range - c["minutes_out_of_range"]) > ABOVE_TOL_MIN:
                diffs.append(f"minutes_out_of_range {got.minutes_out_of_range} vs {c['minutes_out_of_range']:.2f}")
            if abs(got.quality - c["quality"]) > QUALITY_TOL:
                diffs.append(f"quality {got.quality} vs {c['quality']:.5f}")
            life, rl = c["remaining_shelf_life_h"], got.remaining_shelf_life_h
            if (life is None) != (rl is None) or (life is not None and abs(rl - life) > max(LIFE_TOL_H, 1e-3 * life)):
                diffs.append(f"remaining_shelf_life_h {rl} vs {life if life is None else round(life, 1)}")
            if got.in_spec != c["in_spec"]:
                diffs.append(f"in_spec {got.in_spec} vs {c['in_spec']}")
            if abs(got.spoiled_crates - c["spoiled_crates"]) > KPI_ABS:
                diffs.append(f"spoiled_crates {got.spoiled_crates} vs {c['spoiled_crates']:.3f}")
            if abs(got.spoilage_cost - c["spoilage_cost"]) > RMB_TOL:
                diffs.append(f"spoilage_cost {got.spoilage_cost} vs {c['spoilage_cost']:.2f}")
            if diffs:
                self.add_at("cold_chain_mismatch",
                            f"{where}: the plan's {z} hand-over differs from the thermal model on the recomputed "
                            f"times: " + "; ".join(diffs), t, j)

    # -- all -------------------------------------------------------------------------------
    def run(self) -> list[Violation]:
        if not self.check_scenario():
            return self.out
        self.check_format()
        self.build()
        for d in self.duties:
            self.check_duty(d)
            for t in d.trips:
                self.check_trip(t)
        self.check_network()
        self.check_idle_fleet()
        self.check_kpis()
        if self.pol.cold_chain_model:
            self.check_cold_chain()
        else:
            self.check_no_cold_chain()
        self.check_recorded()
        return self.out

    def check_recorded(self) -> None:
        """The plan's ``check`` (what the checker said when the plan was written) is what it says now."""
        rec = self.plan.check
        if rec is None:
            return
        now = CheckResult.of([v.cause for v in self.out])
        if (rec.violations, rec.by_cause) != (now.violations, now.by_cause):
            said = ", ".join(f"{c} {n}" for c, n in sorted(rec.by_cause.items())) or "none"
            found = ", ".join(f"{c} {n}" for c, n in sorted(now.by_cause.items())) or "none"
            self.add("check_mismatch", f"check says {_n(rec.violations, 'violation')} ({said}) but this check finds "
                                       f"{now.violations} ({found})")


def _band(t_s: np.ndarray, y: np.ndarray, at_s: np.ndarray, half_s: float) -> tuple[np.ndarray, np.ndarray]:
    """Lowest and highest value a piecewise-linear trace ``(t_s, y)`` takes within ``half_s`` of each
    instant of ``at_s`` (its values at both ends of the window and at every sample inside)."""
    lo_t, hi_t = at_s - half_s, at_s + half_s
    ends = np.stack([np.interp(lo_t, t_s, y), np.interp(hi_t, t_s, y)])
    lo, hi = ends.min(axis=0), ends.max(axis=0)
    first = np.searchsorted(t_s, lo_t, side="left")
    last = np.searchsorted(t_s, hi_t, side="right")
    for i in np.flatnonzero(last > first):  # the few windows holding samples of the trace
        seg = y[first[i]:last[i]]
        lo[i], hi[i] = min(lo[i], seg.min()), max(hi[i], seg.max())
    return lo, hi


def _trace_diffs(got: Any, tr: Any, start_s: np.ndarray) -> list[str]:
    """How a reported compartment trace differs from the model's trace ``tr``: sampled from the
    departure to the model's end at least every ``TRACE_STEP_S`` and at every hand-over, each
    air and product value within :data:`TRACE_TOL_C` of the model's near that instant, the product
    null exactly once the zone is empty."""
    from solvers.thermal.route import TRACE_STEP_S

    n = len(got.t)
    if not (n == len(got.air_c) == len(got.product_c)) or n == 0:
        return [(f"t, air_c and product_c must have one value per sample (got {n}, {len(got.air_c)}, "
                 f"{len(got.product_c)})")]
    t = np.asarray(got.t, dtype=np.float64) * 60.0
    half = TIME_TOL_MIN * 60.0
    out = []
    if np.any(np.diff(t) < 0) or np.any(np.diff(t) > TRACE_STEP_S + half):
        out.append(f"t must rise in steps of at most {TRACE_STEP_S / 60:g} min")
    if abs(t[0] - tr.t_s[0]) > half or abs(t[-1] - tr.t_s[-1]) > half:
        out.append(f"t runs {t[0] / 60:.2f}..{t[-1] / 60:.2f} but the model runs {tr.t_s[0] / 60:.2f}.."
                   f"{tr.t_s[-1] / 60:.2f}")
    missing = [h for h in start_s if not np.any(np.abs(t - h) <= half)]
    if missing:
        out.append(f"no sample at the hand-over starting {missing[0] / 60:.2f}")
    lo, hi = _band(tr.t_s, tr.air_c, t, half)
    air = np.asarray(got.air_c, dtype=np.float64)
    bad = np.flatnonzero((air < lo - TRACE_TOL_C) | (air > hi + TRACE_TOL_C))
    if bad.size:
        i = int(bad[0])
        out.append(f"air_c {air[i]:g} at {t[i] / 60:.2f} but the model has {lo[i]:.2f}..{hi[i]:.2f} °C "
                   f"({_n(bad.size, 'sample')} off)")
    ok = ~np.isnan(tr.product_c)
    if ok.sum() >= 2:
        t_ok, y_ok = tr.t_s[ok], tr.product_c[ok]
        end = t_ok[-1]
    else:
        t_ok, y_ok, end = tr.t_s[:1], np.zeros(1), -math.inf
    rep = np.array([math.nan if v is None else v for v in got.product_c], dtype=np.float64)
    gone = np.isnan(rep)
    wrong_null = np.flatnonzero((gone & (t < end - half)) | (~gone & (t > end + half)))
    if wrong_null.size:
        i = int(wrong_null[0])
        out.append(f"product_c is {'null' if gone[i] else f'{rep[i]:g}'} at {t[i] / 60:.2f} but the zone is "
                   f"{'not yet' if gone[i] else 'already'} empty then")
    lo, hi = _band(t_ok, y_ok, t, half)
    bad = np.flatnonzero(~gone & (t <= end + half) & ((rep < lo - TRACE_TOL_C) | (rep > hi + TRACE_TOL_C)))
    if bad.size:
        i = int(bad[0])
        out.append(f"product_c {rep[i]:g} at {t[i] / 60:.2f} but the model has {lo[i]:.2f}..{hi[i]:.2f} °C "
                   f"({_n(bad.size, 'sample')} off)")
    return out


def check_plan(scenario: Scenario, plan: Plan | dict) -> list[Violation]:
    """Every violation of ``plan`` against ``scenario`` (empty list: the plan is valid).

    ``plan`` is a :class:`fulfil.plan_model.Plan` or its JSON document; a document that is
    not structurally a plan raises :class:`ScenarioError` listing ``field.path: what is wrong``
    (use :func:`load_plan` to read one from a file).  A plan made for another scenario yields
    the single violation ``wrong_scenario``.
    """
    return _Checker(scenario, parse_plan(plan)).run()


def summarize(violations: list[Violation]) -> str:
    """A readable table: cause, count, first example."""
    if not violations:
        return "no violations"
    by: dict[str, list[Violation]] = {}
    for v in violations:
        by.setdefault(v.cause, []).append(v)
    order = sorted(by, key=lambda c: (CAUSES.index(c) if c in CAUSES else len(CAUSES), c))
    w_cause = max(len("cause"), *(len(c) for c in order))
    w_n = max(len("count"), *(len(str(len(by[c]))) for c in order))
    lines = [f"{'cause':<{w_cause}}  {'count':>{w_n}}  first example", f"{'-' * w_cause}  {'-' * w_n}  {'-' * 13}"]
    for c in order:
        msg = by[c][0].message
        if len(msg) > 160:
            msg = msg[:157] + "..."
        lines.append(f"{c:<{w_cause}}  {len(by[c]):>{w_n}}  {msg}")
    n = len(violations)
    lines.append(f"{n} violation{'s' if n != 1 else ''} of {len(by)} kind{'s' if len(by) != 1 else ''}")
    return "\n".join(lines)
