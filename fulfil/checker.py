"""An independent checker of plan files (``fulfil check``).

It recomputes every time, load, limit, cost and KPI of a plan from the scenario and
the plan's route and stop *sequences* alone, with nothing but the scenario model and
:class:`fulfil.travel.TravelModel`.  It deliberately shares no code with the planning
pipeline (``solvers/``, ``fulfil.pipeline``, ``fulfil.plan``, ``fulfil.network``): a
bug there must not be able to hide itself here.

The contract is ``docs/plan_format.md``; every problem becomes a :class:`Violation`
whose ``cause`` is one of :data:`CAUSES`.
"""

from __future__ import annotations

import json
import math
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from fulfil.errors import ScenarioError
from fulfil.scenario.schema import ZONES

if TYPE_CHECKING:
    from fulfil.scenario.schema import Product, Scenario, VehicleType
    from fulfil.travel import TravelModel

__all__ = ["CAUSES", "Violation", "check_plan", "load_plan", "plan_problems", "summarize"]

CAUSES: tuple[str, ...] = (
    "late",
    "promise_exceeded",
    "out_of_zone_limit",
    "over_capacity",
    "wrong_temperature_zone",
    "shift_exceeded",
    "early_departure",
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
)

#: A limit (window close, promise, out-of-zone, shift) counts as broken when exceeded
#: by more than this many minutes: plan clock times are rounded to 0.01 min, and the
#: route departure the checker starts from is that rounded value.
LIMIT_TOL_MIN = 0.01
#: Reported times may differ from the recomputed ones by this much (minutes).
TIME_TOL_MIN = 0.05
KG_TOL = 0.01
KM_TOL = 0.01
RMB_TOL = 0.01
#: KPI tolerances: relative, absolute; shares (0–1) use a tighter absolute tolerance.
KPI_REL = 1e-6
KPI_ABS = 0.01
KPI_SHARE_ABS = 1e-4

PLAN_FORMAT = "fulfil-plan"
PLAN_FORMAT_VERSION = 1
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
    }
)

ROUTE_KEYS = (
    "id", "tier", "vehicle_type", "vehicle", "depot", "departure", "return",
    "distance_km", "duration_h", "cost", "load_at_departure", "stops",
)
STOP_KEYS = ("location", "arrival", "start", "departure", "leg_km", "delivered", "load_after", "minutes_out_of_zone")
LAST_MILE_STOP_KEYS = ("products", "minutes_since_cold_room")
COST_KEYS = ("fixed", "distance", "time", "total")
KPI_KEYS = (
    "vehicles", "trunk_vehicles", "last_mile_vehicles", "distance_km", "duration_h", "cost",
    "orders_total", "orders_served", "orders_unserved", "cost_per_order", "units_unserved",
    "two_hour_compliance", "cold_chain_compliance", "delivery_cost_share_of_sales",
)
SHARE_KPIS = frozenset({"two_hour_compliance", "cold_chain_compliance", "delivery_cost_share_of_sales"})


@dataclass(frozen=True)
class Violation:
    """One broken rule: ``cause`` (see :data:`CAUSES`), a sentence, and where.

    ``stop`` is the 0-based index into the route's ``stops``; messages are for people
    and number stops from 1, as the route sheets do.
    """

    cause: str
    message: str
    route: str | None = None
    stop: int | None = None  # 0-based index into the route's stops


# --------------------------------------------------------------------------- #
# reading and structural validation
# --------------------------------------------------------------------------- #
def _is_num(x: object) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)


def _is_int(x: object) -> bool:
    return isinstance(x, int) and not isinstance(x, bool)


def _loads_problems(obj: object, where: str) -> list[str]:
    if not isinstance(obj, dict):
        return [f"{where}: expected an object zone → {{crates, kg}}"]
    out = []
    for z, v in obj.items():
        if not isinstance(v, dict):
            out.append(f"{where}.{z}: expected {{crates, kg}}")
            continue
        for k in ("crates", "kg"):
            if k not in v:
                out.append(f"{where}.{z}: missing key '{k}'")
            elif not _is_num(v[k]):
                out.append(f"{where}.{z}.{k}: expected a number, got {v[k]!r}")
    return out


def plan_problems(plan: object) -> list[str]:
    """Structural problems of a plan document (missing keys, wrong types, wrong format tag)."""
    if not isinstance(plan, dict):
        return ["the top level must be a JSON object"]
    p: list[str] = []
    if plan.get("format") != PLAN_FORMAT:
        p.append(f"format: expected '{PLAN_FORMAT}', got {plan.get('format')!r} (is this a plan file?)")
    if "format_version" not in plan:
        p.append("format_version: missing key")
    elif plan["format_version"] != PLAN_FORMAT_VERSION:
        p.append(f"format_version: {plan['format_version']!r} is not supported; this checker reads {PLAN_FORMAT_VERSION}")
    for key, typ, name in (("routes", list, "a list"), ("unserved", list, "a list"), ("kpis", dict, "an object")):
        if key not in plan:
            p.append(f"{key}: missing key")
        elif not isinstance(plan[key], typ):
            p.append(f"{key}: expected {name}")
    if "assignment" in plan and not (
        isinstance(plan["assignment"], dict)
        and all(isinstance(v, str) for v in plan["assignment"].values())
    ):
        p.append("assignment: expected an object pickup point id → forward warehouse id")
    routes = plan.get("routes")
    if isinstance(routes, list):
        for i, r in enumerate(routes):
            p += _route_problems(r, i)
    unserved = plan.get("unserved")
    if isinstance(unserved, list):
        for i, u in enumerate(unserved):
            w = f"unserved[{i}]"
            if not isinstance(u, dict):
                p.append(f"{w}: expected an object")
                continue
            for k in ("pickup_point", "product", "reason"):
                if not isinstance(u.get(k), str):
                    p.append(f"{w}.{k}: missing or not a string")
            if not _is_int(u.get("units")):
                p.append(f"{w}.units: missing or not an integer")
    return p


def _route_problems(r: object, i: int) -> list[str]:
    w = f"routes[{i}]"
    if not isinstance(r, dict):
        return [f"{w}: expected an object"]
    if isinstance(r.get("id"), str):
        w = f"routes[{i}] ('{r['id']}')"
    p = [f"{w}: missing key '{k}'" for k in ROUTE_KEYS if k not in r]
    if p:
        return p
    for k in ("id", "tier", "vehicle_type", "depot"):
        if not isinstance(r[k], str):
            p.append(f"{w}.{k}: expected a string")
    if not _is_int(r["vehicle"]):
        p.append(f"{w}.vehicle: expected an integer")
    for k in ("departure", "return", "distance_km", "duration_h"):
        if not _is_num(r[k]):
            p.append(f"{w}.{k}: expected a number, got {r[k]!r}")
    cost = r["cost"]
    if not isinstance(cost, dict):
        p.append(f"{w}.cost: expected an object")
    else:
        for k in COST_KEYS:
            if not _is_num(cost.get(k)):
                p.append(f"{w}.cost.{k}: missing or not a number")
    p += _loads_problems(r["load_at_departure"], f"{w}.load_at_departure")
    if not isinstance(r["stops"], list):
        p.append(f"{w}.stops: expected a list")
        return p
    last_mile = r["tier"] == "last_mile"
    for j, s in enumerate(r["stops"]):
        ws = f"{w}.stops[{j}]"
        if not isinstance(s, dict):
            p.append(f"{ws}: expected an object")
            continue
        keys = STOP_KEYS + (LAST_MILE_STOP_KEYS if last_mile else ())
        missing = [k for k in keys if k not in s]
        if missing:
            p += [f"{ws}: missing key '{k}'" for k in missing]
            continue
        if not isinstance(s["location"], str):
            p.append(f"{ws}.location: expected a string")
        for k in ("arrival", "start", "departure", "leg_km") + (("minutes_since_cold_room",) if last_mile else ()):
            if not _is_num(s[k]):
                p.append(f"{ws}.{k}: expected a number, got {s[k]!r}")
        p += _loads_problems(s["delivered"], f"{ws}.delivered")
        p += _loads_problems(s["load_after"], f"{ws}.load_after")
        mz = s["minutes_out_of_zone"]
        if not isinstance(mz, dict) or not all(_is_num(v) for v in mz.values()):
            p.append(f"{ws}.minutes_out_of_zone: expected an object zone → minutes")
        if last_mile:
            prods = s["products"]
            if not isinstance(prods, dict) or not all(_is_int(v) for v in prods.values()):
                p.append(f"{ws}.products: expected an object product id → integer units")
    return p


def load_plan(path: str | Path) -> dict:
    """Read a plan JSON file; :class:`ScenarioError` naming the file when it is not a valid plan."""
    path = Path(path)
    name = str(path)
    if not path.is_file():
        raise ScenarioError(f"{name}: plan file not found")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise ScenarioError(f"{name}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ScenarioError(f"{name}: malformed JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}") from None
    problems = plan_problems(data)
    if problems:
        raise ScenarioError([f"{name}: {m}" for m in problems[:50]]
                            + ([f"{name}: ... and {len(problems) - 50} more"] if len(problems) > 50 else []))
    return data


# --------------------------------------------------------------------------- #
# recomputation
# --------------------------------------------------------------------------- #
@dataclass
class _Stop:
    plan: dict
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


@dataclass
class _Route:
    plan: dict
    id: str
    tier: str
    vt: VehicleType
    depot: str
    departure: float
    stops: list[_Stop]
    ret: float = 0.0
    km: float = 0.0

    @property
    def duration_h(self) -> float:
        return (self.ret - self.departure) / 60.0

    def cost(self) -> dict[str, float]:
        fixed = self.vt.fixed_cost
        dist = self.vt.cost_per_km * self.km
        time = self.vt.cost_per_hour * self.duration_h
        return {"fixed": fixed, "distance": dist, "time": time, "total": fixed + dist + time}

    def load(self) -> tuple[dict[str, int], dict[str, float]]:
        c: dict[str, int] = defaultdict(int)
        k: dict[str, float] = defaultdict(float)
        for s in self.stops:
            for z in ZONES:
                c[z] += s.crates.get(z, 0)
                k[z] += s.kg.get(z, 0.0)
        return dict(c), dict(k)


def _crates(units: float, per_crate: float) -> int:
    return int(math.ceil(units / per_crate - 1e-9)) if units > 0 else 0


def _n(n: int | float, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def _fmt(x: float) -> str:
    return f"{x:.2f}"


def _clock(minutes: float) -> str:
    total = int(round(minutes))
    return f"{total // 60:02d}:{total % 60:02d}"


class _Checker:
    def __init__(self, s: Scenario, plan: dict):
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
        self.routes: list[_Route] = []
        self._central_cache: dict[str, str] = {}
        self._delivered: dict[tuple[str, str], int] = {}

    # -- helpers --------------------------------------------------------------------
    def add(self, cause: str, message: str, route: str | None = None, stop: int | None = None) -> None:
        assert cause in CAUSES, cause
        self.out.append(Violation(cause, message, route, stop))

    @staticmethod
    def _where(r: _Route | str, j: int | None = None, loc: str | None = None) -> str:
        rid = r if isinstance(r, str) else r.id
        if j is None:
            return f"route {rid}"
        return f"route {rid} stop {j + 1} ({loc})"

    def _known_zones(self, obj: dict, rid: str, j: int | None, what: str) -> dict[str, Any]:
        ok = {}
        for z, v in obj.items():
            if z in ZONES:
                ok[z] = v
            else:
                where = f"route {rid} stop {j + 1}" if j is not None else self._where(rid)
                self.add("unknown_reference", f"{where}: {what} names unknown zone '{z}' (zones are {', '.join(ZONES)})",
                         rid, j)
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

    # -- stage 1: references, fleet, recomputation -------------------------------------
    def build_routes(self) -> None:
        used: dict[tuple[str, int], str] = {}
        for i, r in enumerate(self.plan["routes"]):
            rid = r["id"]
            tier = r["tier"]
            ok = True
            if tier not in ("trunk", "last_mile"):
                self.add("unknown_reference", f"route {rid}: unknown tier '{tier}' (use 'trunk' or 'last_mile')", rid)
                ok = False
            vt = self.vtypes.get(r["vehicle_type"])
            if vt is None:
                self.add("unknown_reference", f"route {rid}: unknown vehicle type '{r['vehicle_type']}'", rid)
                ok = False
            depot = r["depot"]
            if depot not in self.tm.index:
                self.add("unknown_reference", f"route {rid}: unknown depot '{depot}'", rid)
                ok = False
            if vt is not None:
                key = (vt.id, r["vehicle"])
                if r["vehicle"] < 0 or r["vehicle"] >= vt.count:
                    self.add("fleet_exceeded",
                             f"route {rid}: vehicle {r['vehicle']} of type '{vt.id}' does not exist "
                             f"(the type has {vt.count}, indices 0..{vt.count - 1})", rid)
                if key in used:
                    self.add("vehicle_reused",
                             f"route {rid}: vehicle {vt.id}#{r['vehicle']} already drives route {used[key]}", rid)
                else:
                    used[key] = rid
                if tier in ("trunk", "last_mile") and vt.tier != tier:
                    self.add("wrong_depot",
                             f"route {rid}: a {tier.replace('_', '-')} route driven by '{vt.id}', "
                             f"a {vt.tier.replace('_', '-')} vehicle type", rid)
                if depot != vt.home:
                    self.add("wrong_depot", f"route {rid}: starts at '{depot}' but '{vt.id}' is based at '{vt.home}'", rid)
            if ok:
                if tier == "trunk" and depot not in self.centrals:
                    self.add("wrong_depot", f"route {rid}: a trunk route must start at a central warehouse, not '{depot}'", rid)
                if tier == "last_mile" and depot not in self.forwards:
                    self.add("wrong_depot",
                             f"route {rid}: a last-mile route must start at a forward warehouse, not '{depot}'", rid)
            stops: list[_Stop] = []
            for j, st in enumerate(r["stops"]):
                loc = st["location"]
                if ok and tier == "trunk" and loc not in self.forwards:
                    what = "unknown site" if loc not in self.tm.index else "not a forward warehouse"
                    self.add("unknown_reference", f"{self._where(rid, j, loc)}: trunk stop at '{loc}': {what}", rid, j)
                    ok = False
                elif ok and tier == "last_mile" and loc not in self.pickups:
                    what = "unknown site" if loc not in self.tm.index else "not a pickup point"
                    self.add("unknown_reference", f"{self._where(rid, j, loc)}: last-mile stop at '{loc}': {what}", rid, j)
                    ok = False
                if ok:
                    stops.append(self._stop(rid, tier, j, st))
            if not ok:
                continue
            route = _Route(plan=r, id=rid, tier=tier, vt=vt, depot=depot, departure=float(r["departure"]), stops=stops)
            self._time(route)
            self.routes.append(route)

    def _stop(self, rid: str, tier: str, j: int, st: dict) -> _Stop:
        loc = st["location"]
        crates: dict[str, int] = {}
        kg: dict[str, float] = {}
        units: dict[str, int] = {}
        if tier == "last_mile":
            pp = self.pickups[loc]
            window = (pp.window.open, pp.window.close)
            u_zone: dict[str, float] = defaultdict(float)
            for pid, q in st["products"].items():
                prod = self.products.get(pid)
                if prod is None:
                    self.add("unknown_reference", f"{self._where(rid, j, loc)}: unknown product '{pid}'", rid, j)
                    continue
                if q < 0:
                    self.add("load_mismatch", f"{self._where(rid, j, loc)}: negative units ({q}) of '{pid}'", rid, j)
                    continue
                units[pid] = units.get(pid, 0) + q
            for pid, q in units.items():
                prod = self.products[pid]
                u_zone[prod.zone] += q / prod.units_per_crate
                kg[prod.zone] = kg.get(prod.zone, 0.0) + q * prod.kg_per_unit
            for z, c in u_zone.items():
                crates[z] = _crates(c, 1.0)
        else:
            window = (self.pol.trunk_receiving.open, self.pol.trunk_receiving.close)
            for z, v in self._known_zones(st["delivered"], rid, j, "delivered").items():
                if v["crates"] < 0 or v["kg"] < 0 or v["crates"] != int(v["crates"]):
                    self.add("load_mismatch",
                             f"{self._where(rid, j, loc)}: delivered {z} must be a whole, non-negative number of crates "
                             f"and non-negative kg, got {v['crates']} crates, {v['kg']} kg", rid, j)
                crates[z] = max(int(v["crates"]), 0)
                kg[z] = max(float(v["kg"]), 0.0)
        return _Stop(plan=st, loc=loc, site=self.tm.index[loc], window=window, crates=crates, kg=kg, units=units)

    def _service_min(self, tier: str, s: _Stop) -> float:
        n = sum(s.crates.values())
        pol = self.pol
        if tier == "trunk":
            return pol.trunk_unload_fixed_min + pol.trunk_unload_per_crate_min * n
        if self.pickups[s.loc].kind == "locker":
            return pol.locker_fixed_min + pol.locker_per_cell_min * n
        return pol.service_fixed_min + pol.service_per_crate_min * n

    def _time(self, r: _Route) -> None:
        tm, prof = self.tm, r.vt.speed_profile
        t, prev = r.departure, tm.index[r.depot]
        km_total = 0.0
        for s in r.stops:
            km, mins = tm.leg(prev, s.site, t, prof)
            s.leg_km = km
            km_total += km
            s.arrival = t + mins
            s.start = max(s.arrival, s.window[0])
            s.departure = s.start + self._service_min(r.tier, s)
            t, prev = s.departure, s.site
            self._out_of_zone(r, s)
        km, mins = tm.leg(prev, tm.index[r.depot], t, prof)
        r.km = km_total + km
        r.ret = t + mins

    def _out_of_zone(self, r: _Route, s: _Stop) -> None:
        comp = {c.zone for c in r.vt.compartments}
        boxes = (not r.vt.refrigerated) and r.vt.insulated_box_minutes > 0
        elapsed = s.arrival - r.departure
        for z, n in s.crates.items():
            if n <= 0:
                continue
            if r.tier == "last_mile":
                prods = [self.products[p] for p in s.units if self.products[p].zone == z and s.units[p] > 0]
            else:  # trunk stops do not list products: the strictest product of the zone
                prods = [p for p in self.s.products if p.zone == z]
            limit = min((p.max_minutes_out_of_zone for p in prods), default=math.inf)
            if z in comp and (r.vt.refrigerated or z == "ambient"):
                s.out_min[z] = 0.0
            elif z in comp and z == "chilled" and boxes:
                s.out_min[z] = elapsed
                limit = min(limit, r.vt.insulated_box_minutes)
            else:  # no compartment of that zone (or frozen goods on an unrefrigerated vehicle)
                s.out_min[z] = elapsed
            s.out_limit[z] = limit

    # -- stage 2: per-route checks --------------------------------------------------
    def check_route(self, r: _Route) -> None:
        rp = r.plan
        vt = r.vt
        rid = r.id
        # shift
        if r.departure < vt.shift.open - LIMIT_TOL_MIN:
            self.add("shift_exceeded",
                     f"route {rid}: departs at {_clock(r.departure)}, before the shift of '{vt.id}' opens "
                     f"({_clock(vt.shift.open)})", rid)
        if r.ret > vt.shift.close + LIMIT_TOL_MIN:
            self.add("shift_exceeded",
                     f"route {rid}: returns at {_clock(r.ret)} (recomputed), after the shift of '{vt.id}' closes "
                     f"({_clock(vt.shift.close)})", rid)
        # departure policy: trunk trucks leave at trunk_departure at the earliest; last-mile
        # vehicles when the warehouse dispatches (goods sorted, cold room opened)
        if r.tier == "trunk":
            earliest, what = self.pol.trunk_departure, "policies.trunk_departure"
        else:
            fw = self.forwards.get(rp["depot"])
            override = fw.dispatch if fw is not None else None
            earliest = override if override is not None else self.pol.last_mile_dispatch
            what = "the forward warehouse's dispatch time"
        if r.departure < earliest - LIMIT_TOL_MIN:
            self.add("early_departure",
                     f"route {rid}: departs at {_clock(r.departure)}, before {what} ({_clock(earliest)})", rid)
        # route-level times
        self._cmp_time(rid, None, "return", rp["return"], r.ret)
        if abs(rp["duration_h"] - r.duration_h) > TIME_TOL_MIN / 60.0:
            self.add("time_mismatch",
                     f"route {rid}: duration_h is {rp['duration_h']} but (return - departure) / 60 = {r.duration_h:.4f}",
                     rid)
        # distance and cost
        if abs(rp["distance_km"] - r.km) > KM_TOL:
            self.add("cost_mismatch", f"route {rid}: distance_km is {rp['distance_km']} but the legs sum to {r.km:.3f} km",
                     rid)
        cost = r.cost()
        for k in COST_KEYS:
            if abs(rp["cost"][k] - cost[k]) > RMB_TOL:
                self.add("cost_mismatch",
                         f"route {rid}: cost.{k} is {rp['cost'][k]} but should be {cost[k]:.2f} RMB "
                         f"(fixed {vt.fixed_cost:g} + {vt.cost_per_km:g}/km × {r.km:.3f} km + "
                         f"{vt.cost_per_hour:g}/h × {r.duration_h:.4f} h)", rid)
        # load and capacity
        load_c, load_kg = r.load()
        comp = {c.zone: c for c in vt.compartments}
        for z in ZONES:
            if load_c.get(z, 0) <= 0 and load_kg.get(z, 0.0) <= 0:
                continue
            c = comp.get(z)
            if c is None:
                continue  # reported per stop as wrong_temperature_zone
            if load_c[z] > c.crates:
                self.add("over_capacity",
                         f"route {rid}: leaves with {load_c[z]} {z} crates but '{vt.id}' holds {c.crates}", rid)
            if load_kg[z] > c.kg + KG_TOL:
                self.add("over_capacity",
                         f"route {rid}: leaves with {load_kg[z]:.1f} kg of {z} goods but '{vt.id}' takes {c.kg:g} kg", rid)
        mt = vt.movable_total
        if mt is not None:  # movable partitions: the zones together share the body
            tot_c, tot_kg = sum(load_c.values()), sum(load_kg.values())
            if tot_c > mt.crates:
                self.add("over_capacity", f"route {rid}: leaves with {tot_c} crates in all but the movable-partition "
                                          f"body of '{vt.id}' holds {mt.crates}", rid)
            if tot_kg > mt.kg + KG_TOL:
                self.add("over_capacity", f"route {rid}: leaves with {tot_kg:.1f} kg in all but '{vt.id}' takes "
                                          f"{mt.kg:g} kg", rid)
        kg_tol = KG_TOL if r.tier == "last_mile" else KG_TOL * max(1, len(r.stops))
        self._cmp_loads(rid, None, "", "load_at_departure", rp["load_at_departure"], load_c, load_kg, kg_tol)
        left_c, left_kg = dict(load_c), dict(load_kg)
        for j, s in enumerate(r.stops):
            for z in ZONES:
                left_c[z] = left_c.get(z, 0) - s.crates.get(z, 0)
                left_kg[z] = left_kg.get(z, 0.0) - s.kg.get(z, 0.0)
            self._check_stop(r, j, s)
            self._cmp_loads(rid, j, s.loc, "load_after", s.plan["load_after"], left_c, left_kg, kg_tol)

    def _cmp_time(self, rid: str, j: int | None, key: str, reported: float, expected: float, loc: str = "") -> None:
        if abs(reported - expected) > TIME_TOL_MIN:
            where = self._where(rid, j, loc)
            self.add("time_mismatch", f"{where}: {key} is {_fmt(reported)} but recomputes to {_fmt(expected)}", rid, j)

    def _cmp_loads(self, rid: str, j: int | None, loc: str, what: str, reported: dict, crates: dict, kg: dict,
                   kg_tol: float) -> None:
        rep = self._known_zones(reported, rid, j, what)
        where = self._where(rid, j, loc)
        for z in ZONES:
            rc = rep.get(z, {}).get("crates", 0)
            rk = rep.get(z, {}).get("kg", 0.0)
            ec, ek = crates.get(z, 0), kg.get(z, 0.0)
            if rc != ec:
                self.add("load_mismatch", f"{where}: {what} has {rc} {z} crates but the deliveries make {ec}", rid, j)
            elif abs(rk - ek) > kg_tol:
                self.add("load_mismatch", f"{where}: {what} has {rk} kg of {z} goods but the deliveries make {ek:.3f}",
                         rid, j)

    def _check_stop(self, r: _Route, j: int, s: _Stop) -> None:
        rid, sp, loc = r.id, s.plan, s.loc
        where = self._where(rid, j, loc)
        vt = r.vt
        # window
        if s.arrival > s.window[1] + LIMIT_TOL_MIN:
            what = "the trunk receiving window" if r.tier == "trunk" else "its window"
            self.add("late", f"{where}: arrives at {_clock(s.arrival)}, after {what} closes ({_clock(s.window[1])})",
                     rid, j)
        # reported times
        self._cmp_time(rid, j, "arrival", sp["arrival"], s.arrival, loc)
        self._cmp_time(rid, j, "start", sp["start"], s.start, loc)
        self._cmp_time(rid, j, "departure", sp["departure"], s.departure, loc)
        hhmm = sp.get("arrival_hhmm")
        if hhmm is not None:
            ok = isinstance(hhmm, str) and len(hhmm.split(":")) == 2 and all(x.isdigit() for x in hhmm.split(":"))
            if not ok or abs(int(hhmm.split(":")[0]) * 60 + int(hhmm.split(":")[1]) - s.arrival) > 1.0:
                self.add("time_mismatch", f"{where}: arrival_hhmm is {hhmm!r} but the arrival is {_clock(s.arrival)}",
                         rid, j)
        if abs(sp["leg_km"] - s.leg_km) > KM_TOL:
            self.add("cost_mismatch", f"{where}: leg_km is {sp['leg_km']} but recomputes to {s.leg_km:.3f}", rid, j)
        elapsed = s.arrival - r.departure
        if r.tier == "last_mile":
            self._cmp_time(rid, j, "minutes_since_cold_room", sp["minutes_since_cold_room"], elapsed, loc)
        rep_out = self._known_zones(sp["minutes_out_of_zone"], rid, j, "minutes_out_of_zone")
        for z, m in s.out_min.items():
            self._cmp_time(rid, j, f"minutes_out_of_zone.{z}", rep_out.get(z, 0.0), m, loc)
        # promise
        cold = any(s.crates.get(z, 0) > 0 for z in ("frozen", "chilled"))
        if r.tier == "last_mile" and cold and elapsed > self.pol.promise_minutes + LIMIT_TOL_MIN:
            self.add("promise_exceeded",
                     f"{where}: chilled/frozen goods arrive {elapsed:.1f} min after leaving the cold room "
                     f"(promise {self.pol.promise_minutes:g} min)", rid, j)
        # temperature zones
        comp = {c.zone for c in vt.compartments}
        for z, n in s.crates.items():
            if n <= 0:
                continue
            if z not in comp:
                self.add("wrong_temperature_zone",
                         f"{where}: delivers {_n(n, z + ' crate')} but '{vt.id}' has no {z} compartment", rid, j)
            elif z == "frozen" and not vt.refrigerated:
                self.add("wrong_temperature_zone",
                         f"{where}: delivers frozen goods from '{vt.id}', which is not refrigerated", rid, j)
            if s.out_min.get(z, 0.0) > s.out_limit.get(z, math.inf) + LIMIT_TOL_MIN:
                self.add("out_of_zone_limit",
                         f"{where}: {z} goods spent {s.out_min[z]:.1f} min out of their zone "
                         f"(limit {s.out_limit[z]:g} min)", rid, j)
        # delivered vs products (last mile)
        if r.tier == "last_mile":
            rep = self._known_zones(sp["delivered"], rid, j, "delivered")
            for z in ZONES:
                rc = rep.get(z, {}).get("crates", 0)
                rk = rep.get(z, {}).get("kg", 0.0)
                ec, ek = s.crates.get(z, 0), s.kg.get(z, 0.0)
                if rc != ec:
                    if ec == 0 and rc > 0:
                        why = f"none of the products handed over here is {z}"
                    else:
                        why = f"its {z} products make ceil(Σ units / units_per_crate) = {ec}"
                    self.add("load_mismatch", f"{where}: delivered has {rc} {z} crates but {why}", rid, j)
                elif abs(rk - ek) > KG_TOL:
                    self.add("load_mismatch",
                             f"{where}: delivered has {rk} kg of {z} goods but its products weigh {ek:.3f} kg", rid, j)

    # -- stage 3: cross-route checks ---------------------------------------------------
    def check_network(self) -> None:
        s = self.s
        delivered: dict[tuple[str, str], int] = defaultdict(int)  # (pickup, product) → units
        served_from: dict[str, dict[str, str]] = defaultdict(dict)  # pickup → fw → first route id
        cells_used: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
        cells_visits: dict[str, list[tuple[str, int, dict[str, int]]]] = defaultdict(list)
        fw_out: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
        trunk_in: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
        trunk_done: dict[str, list[tuple[str, float, str, int]]] = defaultdict(list)  # fw → (zone, end, route, stop)
        central_units: dict[tuple[str, str], int] = defaultdict(int)

        for r in self.routes:
            if r.tier == "trunk":
                for j, st in enumerate(r.stops):
                    for z, n in st.crates.items():
                        if n > 0:
                            trunk_in[st.loc][z] += n
                            trunk_done[st.loc].append((z, st.departure, r.id, j))
                    if r.depot in self.centrals and self.central_of(st.loc) != r.depot:
                        self.add("wrong_warehouse",
                                 f"{self._where(r, j, st.loc)}: '{st.loc}' is supplied by "
                                 f"'{self.central_of(st.loc)}', not by '{r.depot}'", r.id, j)
                continue
            fw = r.depot if r.depot in self.forwards else None
            for j, st in enumerate(r.stops):
                for pid, q in st.units.items():
                    delivered[(st.loc, pid)] += q
                    if fw is not None:
                        central_units[(self.central_of(fw), pid)] += q
                if fw is not None and st.units:
                    served_from[st.loc].setdefault(fw, r.id)
                    for z, n in st.crates.items():
                        fw_out[fw][z] += n
                if self.pickups[st.loc].kind == "locker":
                    for z, n in st.crates.items():
                        cells_used[st.loc][z] += n
                    cells_visits[st.loc].append((r.id, j, st.crates))

        # demand
        demand: dict[tuple[str, str], int] = defaultdict(int)
        for d in s.demand:
            for pid, q in d.items.items():
                demand[(d.pickup_point, pid)] += q
        unserved: dict[tuple[str, str], int] = defaultdict(int)
        for i, u in enumerate(self.plan["unserved"]):
            bad = False
            if u["pickup_point"] not in self.pickups:
                self.add("unknown_reference", f"unserved[{i}]: unknown pickup point '{u['pickup_point']}'")
                bad = True
            if u["product"] not in self.products:
                self.add("unknown_reference", f"unserved[{i}]: unknown product '{u['product']}'")
                bad = True
            if u["reason"] not in UNSERVED_REASONS:
                self.add("unknown_reference",
                         f"unserved[{i}]: unknown reason '{u['reason']}' (one of {', '.join(sorted(UNSERVED_REASONS))})")
            if u["units"] < 0:
                self.add("demand_mismatch", f"unserved[{i}]: negative units ({u['units']})")
                bad = True
            if not bad:
                unserved[(u["pickup_point"], u["product"])] += u["units"]
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

        # lockers
        for pp, used in cells_used.items():
            cells = self.pickups[pp].cells or {}
            for z, n in used.items():
                if n > cells.get(z, 0):
                    visits = [(rid, j, c[z]) for rid, j, c in cells_visits[pp] if c.get(z, 0) > 0]
                    listing = ", ".join(f"route {rid} stop {j + 1}: {k}" for rid, j, k in visits)
                    self.add("locker_cells_exceeded",
                             f"locker '{pp}': {_n(n, z + ' crate')} handed over ({listing}) but it has "
                             f"{_n(cells.get(z, 0), z + ' cell')}", visits[0][0], visits[0][1])

        # forward warehouse capacity and trunk supply
        for fw, zones in fw_out.items():
            cap = self.forwards[fw].capacity
            for z, n in zones.items():
                if z in cap and n > cap[z]:
                    self.add("warehouse_capacity",
                             f"forward warehouse '{fw}': its last-mile routes carry {n} {z} crates, capacity {cap[z]}")
                if n > trunk_in[fw].get(z, 0):
                    self.add("trunk_shortfall",
                             f"forward warehouse '{fw}': last-mile routes carry {n} {z} crates but trunk routes "
                             f"deliver {trunk_in[fw].get(z, 0)}")
        for r in self.routes:
            if r.tier != "last_mile" or r.depot not in self.forwards:
                continue
            zones = {z for st in r.stops for z, n in st.crates.items() if n > 0}
            late = [(z, end, tr, tj) for (z, end, tr, tj) in trunk_done[r.depot]
                    if z in zones and end > r.departure + LIMIT_TOL_MIN]
            if late:
                z, end, tr, tj = max(late, key=lambda x: x[1])
                self.add("trunk_late",
                         f"route {r.id}: departs at {_clock(r.departure)} but trunk route {tr} (stop {tj + 1}) finishes "
                         f"unloading {z} goods at '{r.depot}' only at {_clock(end)}", r.id)

        # pickup → forward warehouse
        assignment = self.plan.get("assignment") or {}
        for pp, fws in served_from.items():
            pin = self.pickups[pp].forward_warehouse
            if len(fws) > 1:
                listing = ", ".join(f"'{f}' (route {rid})" for f, rid in fws.items())
                self.add("wrong_warehouse", f"pickup point '{pp}' is served from several forward warehouses: {listing}")
            for f, rid in fws.items():
                if pin is not None and f != pin:
                    self.add("wrong_warehouse",
                             f"pickup point '{pp}' is pinned to '{pin}' but route {rid} serves it from '{f}'", rid)
            if pp in assignment and assignment[pp] not in fws:
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

        self._delivered = delivered

    # -- stage 4: KPIs -------------------------------------------------------------------
    def check_kpis(self) -> None:
        s, plan = self.s, self.plan
        routes = plan["routes"]
        rep = plan["kpis"]
        demand: dict[str, dict[str, int]] = defaultdict(dict)
        orders: dict[str, int] = defaultdict(int)
        for d in s.demand:
            orders[d.pickup_point] += d.orders
            for pid, q in d.items.items():
                demand[d.pickup_point][pid] = demand[d.pickup_point].get(pid, 0) + q
        delivered = self._delivered
        orders_total = sum(orders.values())
        orders_served = sum(
            n for pp, n in orders.items()
            if all(delivered.get((pp, pid), 0) >= q for pid, q in demand.get(pp, {}).items())
        )
        # sums over the plan's own route figures (each one is checked against the recomputation)
        cost = sum(r["cost"]["total"] for r in routes)
        stops = ok_stops = 0
        crates = ok_crates = 0
        sales = 0.0
        for r in self.routes:
            if r.tier != "last_mile":
                continue
            for st in r.stops:
                stops += 1
                elapsed = st.arrival - r.departure
                cold = any(st.crates.get(z, 0) > 0 for z in ("frozen", "chilled"))
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
        expected: dict[str, Any] = {
            "vehicles": len(routes),
            "trunk_vehicles": sum(r["tier"] == "trunk" for r in routes),
            "last_mile_vehicles": sum(r["tier"] == "last_mile" for r in routes),
            "distance_km": sum(r["distance_km"] for r in routes),
            "duration_h": sum(r["duration_h"] for r in routes),
            "cost": cost,
            "orders_total": orders_total,
            "orders_served": orders_served,
            "orders_unserved": orders_total - orders_served,
            "cost_per_order": cost / orders_served if orders_served else None,
            "units_unserved": sum(u["units"] for u in plan["unserved"]),
            "two_hour_compliance": ok_stops / stops if stops else 1.0,
            "cold_chain_compliance": ok_crates / crates if crates else 1.0,
            "delivery_cost_share_of_sales": cost / sales if sales > 0 else None,
        }
        for k in KPI_KEYS:
            exp = expected[k]
            if k not in rep:
                self.add("kpi_mismatch", f"kpis.{k} is missing (expected {exp!r})")
                continue
            got = rep[k]
            if exp is None or got is None or not _is_num(got):
                if not (exp is None and got is None):
                    self.add("kpi_mismatch", f"kpis.{k} is {got!r} but recomputes to {exp!r}")
                continue
            abs_tol = KPI_SHARE_ABS if k in SHARE_KPIS else KPI_ABS
            if not math.isclose(got, exp, rel_tol=KPI_REL, abs_tol=abs_tol):
                shown = f"{exp:.6g}" if isinstance(exp, float) else str(exp)
                self.add("kpi_mismatch", f"kpis.{k} is {got!r} but recomputes to {shown}")

    def run(self) -> list[Violation]:
        name = self.plan.get("scenario")
        if isinstance(name, str) and name != self.s.name:
            self.add("unknown_reference", f"the plan is for scenario '{name}', not '{self.s.name}'")
        self.build_routes()
        for r in self.routes:
            self.check_route(r)
        self.check_network()
        self.check_kpis()
        if self.s.policies.cold_chain_model:
            self.check_cold_chain()
        return self.out

    def check_cold_chain(self) -> None:
        """Re-run the thermal model on every route (times and loads as re-verified above) and
        hold each chilled/frozen hand-over to its limit; compare with what the plan reports."""
        from fulfil.coldchain import cold_kpis, route_cold_chain

        recomputed = []
        for rp in self.plan["routes"]:
            try:
                _, per_stop = route_cold_chain(self.s, rp)
            except (KeyError, StopIteration, ValueError, TypeError) as exc:
                self.add("cold_chain_mismatch", f"route {rp.get('id')}: cannot re-run the thermal model ({exc})",
                         rp.get("id"))
                continue
            copy = {"tier": rp["tier"], "stops": []}
            for i, (st, cc) in enumerate(zip(rp["stops"], per_stop, strict=True)):
                copy["stops"].append({"delivered": st["delivered"], "cold_chain": cc})
                rep = st.get("cold_chain", {})
                for z, c in cc.items():
                    where = f"route {rp['id']} stop {i + 1} ({st['location']})"
                    if not c["in_spec"]:
                        limit = -15.0 if z == "frozen" else 7.0
                        self.add("out_of_spec",
                                 f"{where}: {z} goods handed over at {c['handover_c']:.1f} °C (limit {limit:g} °C), "
                                 f"quality {c['quality']:.3f}", rp["id"], i)
                    got = rep.get(z)
                    if got is None or abs(got.get("handover_c", math.inf) - c["handover_c"]) > 0.05 \
                            or bool(got.get("in_spec")) != c["in_spec"]:
                        self.add("cold_chain_mismatch",
                                 f"{where}: the plan reports {z} hand-over "
                                 f"{None if got is None else got.get('handover_c')} °C but the thermal model gives "
                                 f"{c['handover_c']:.2f} °C", rp["id"], i)
            recomputed.append(copy)
        exp = cold_kpis(recomputed)
        rep = self.plan.get("kpis", {})
        for k, v in exp.items():
            got = rep.get(k)
            if not _is_num(got) or not math.isclose(got, v, rel_tol=1e-4, abs_tol=0.01 if k != "in_spec_share" else 1e-4):
                self.add("kpi_mismatch", f"kpis.{k} is {got!r} but the thermal model gives {v!r}")


def check_plan(scenario: Scenario, plan: dict) -> list[Violation]:
    """Every violation of ``plan`` against ``scenario`` (empty list: the plan is valid).

    Raises :class:`ScenarioError` when ``plan`` is not structurally a plan document
    (use :func:`load_plan` to read one from a file).
    """
    problems = plan_problems(plan)
    if problems:
        raise ScenarioError([f"plan: {m}" for m in problems])
    return _Checker(scenario, plan).run()


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
