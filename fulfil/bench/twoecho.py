"""2E-CVRP benchmark (Sets 2, 3, 4) solved through the project's own two-tier pipeline.

The instance is mapped onto a :class:`~fulfil.scenario.schema.Scenario`:

* depot → one central warehouse ``D0``; satellites → forward warehouses ``S1..Sm``;
  customers → leader-shop pickup points ``C1..Cn``;
* one ambient product ``P`` with ``units_per_crate = 1`` (and 1 kg per unit), the
  customer's demand as its units;
* trucks → one trunk vehicle type (count, capacity as one ambient compartment,
  cost per distance, fixed cost); city freighters → one last-mile vehicle type per
  satellite with ``count = min(max per satellite, total)``.  The pipeline has no
  fleet limit *across* forward warehouses, so the file's global total of city
  freighters is not a model constraint; it is checked afterwards (column
  ``cf_total_ok``) and a solution above it is reported infeasible;
* no time windows: wide shifts (00:00–47:59), zero service times, the cold-chain model
  off, a large promise, trunk receiving 00:00–10:00 and last-mile dispatch at 10:00;
* distances: a temporary matrix CSV with the exact (unrounded) Euclidean distances,
  one coordinate unit = 1 km (Set 4: divided by 100, the literature scale); a
  free-flow speed fast enough that time never binds.  lon/lat are the coordinates
  mapped into a dummy box (unused when a matrix is given, but they must validate).

The plan from :func:`fulfil.pipeline.plan_night` is re-checked with
:func:`fulfil.checker.check_plan` and, independently, against the 2E-CVRP rules
from the instance alone (:func:`verify_2e`): every customer served once, city
freighter and truck capacities, per-satellite and total fleets, and flow
conservation at the satellites (what the trucks bring = what the city freighters
take out).  The cost is recomputed in floating point from the coordinates.
"""

from __future__ import annotations

import csv
import logging
import math
import os
import re
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from fulfil.errors import UsageError

log = logging.getLogger("fulfil")

__all__ = ["TwoEInstance", "read_2e", "build_scenario", "solve_2e", "verify_2e", "write_2e_solution",
           "Reference", "load_2e_bks", "bound_summary", "is_2e_folder", "cmd_bench_2e"]


# ------------------------------------------------------------------ reading
@dataclass(frozen=True)
class TwoEInstance:
    name: str
    trucks: int
    truck_cap: float
    truck_cost: float
    truck_fixed: float
    cf_per_sat: int
    cf_total: int
    cf_cap: float
    cf_cost: float
    cf_fixed: float
    depot: tuple[float, float]
    satellites: list[tuple[float, float]]
    customers: list[tuple[float, float, float]]  # x, y, demand
    #: coordinates are stored ×scale (Set 4: 100); distances are divided by it
    scale: float = 1.0

    @property
    def n(self) -> int:
        return len(self.customers)

    def point(self, key: str) -> tuple[float, float]:
        """``"D0"``, ``"S<k>"`` (1-based) or ``"C<i>"`` (1-based) → (x, y) in coordinate units."""
        if key == "D0":
            return self.depot
        if key[0] == "S":
            return self.satellites[int(key[1:]) - 1]
        c = self.customers[int(key[1:]) - 1]
        return (c[0], c[1])

    def dist(self, a: str, b: str) -> float:
        (xa, ya), (xb, yb) = self.point(a), self.point(b)
        return math.hypot(xa - xb, ya - yb) / self.scale


def _nums(line: str) -> list[float]:
    return [float(t) for t in re.split(r"[,\s]+", line.strip()) if t]


def read_2e(path: str | os.PathLike) -> TwoEInstance:
    """Read a Breunig et al. 2E-CVRP ``.dat`` file (``!`` comments, 4 data lines)."""
    p = Path(path)
    lines = [ln for ln in p.read_text(encoding="utf-8", errors="replace").splitlines()
             if ln.strip() and not ln.lstrip().startswith("!")]
    if len(lines) != 4:
        raise ValueError(f"{p}: expected 4 data lines (trucks, city freighters, stores, customers), got {len(lines)}")
    try:
        tr, cf, st, cu = (_nums(ln) for ln in lines)
    except ValueError as exc:
        raise ValueError(f"{p}: not a number: {exc}") from None
    if len(tr) != 4:
        raise ValueError(f"{p}: trucks line needs 4 values (total, capacity, cost/dist, fixcost), got {len(tr)}")
    if len(cf) != 5:
        raise ValueError(f"{p}: city-freighter line needs 5 values (max/sat, total, cap, cost/dist, fixcost)")
    if len(st) < 4 or len(st) % 2:
        raise ValueError(f"{p}: stores line needs the depot and at least one satellite as x,y pairs")
    if not cu or len(cu) % 3:
        raise ValueError(f"{p}: customers line needs x,y,demand triples ({len(cu)} values)")
    name = p.stem
    scale = 100.0 if name.lower().startswith("set4") else 1.0
    return TwoEInstance(
        name=name, trucks=int(tr[0]), truck_cap=tr[1], truck_cost=tr[2], truck_fixed=tr[3],
        cf_per_sat=int(cf[0]), cf_total=int(cf[1]), cf_cap=cf[2], cf_cost=cf[3], cf_fixed=cf[4],
        depot=(st[0], st[1]), satellites=[(st[i], st[i + 1]) for i in range(2, len(st), 2)],
        customers=[(cu[i], cu[i + 1], cu[i + 2]) for i in range(0, len(cu), 3)], scale=scale,
    )


# ---------------------------------------------------------------- scenario
def _ids(inst: TwoEInstance) -> list[str]:
    return ["D0"] + [f"S{k + 1}" for k in range(len(inst.satellites))] + [f"C{i + 1}" for i in range(inst.n)]


def write_matrix(inst: TwoEInstance, path: str | os.PathLike) -> None:
    """Long-format ``from,to,distance_km`` with exact Euclidean distances (repr floats)."""
    ids = _ids(inst)
    with open(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["from", "to", "distance_km"])
        for a in ids:
            for b in ids:
                if a != b:
                    w.writerow([a, b, repr(inst.dist(a, b))])


def build_scenario(inst: TwoEInstance, matrix_path: str | os.PathLike, pins: dict[int, int] | None = None,
                   cf_counts: list[int] | None = None):
    """The in-memory scenario of ``inst``; writes its distance matrix to ``matrix_path``.

    ``pins`` (customer → satellite, 1-based) pins pickup points to forward warehouses and
    ``cf_counts`` overrides the number of city freighters per satellite (the total-fleet repair).
    """
    from fulfil.scenario.schema import (
        CentralWarehouse, Compartment, Demand, ForwardWarehouse, MatrixFile, PickupPoint, Policies,
        Product, Scenario, VehicleType, Window,
    )

    write_matrix(inst, matrix_path)
    pts = [inst.depot, *inst.satellites, *((c[0], c[1]) for c in inst.customers)]
    xs, ys = [p[0] for p in pts], [p[1] for p in pts]
    x0, y0 = min(xs), min(ys)
    span = max(max(xs) - x0, max(ys) - y0, 1e-9)

    def ll(x: float, y: float) -> tuple[float, float]:  # dummy box lon 100..110, lat 20..30
        return 100.0 + 10.0 * (x - x0) / span, 20.0 + 10.0 * (y - y0) / span

    maxd = max(math.hypot(a[0] - b[0], a[1] - b[1]) for a in pts for b in pts) / inst.scale
    # slowest hourly factor is 0.5: the longest conceivable tour takes at most ~5 hours
    kmh = max(60.0, (len(pts) + 2) * max(maxd, 1e-6) / 2.5)
    shift = Window(open="00:00", close="47:59")
    cap_t = max(1, int(round(inst.truck_cap)))
    cap_c = max(1, int(round(inst.cf_cap)))
    vts = [VehicleType(id="TRUCK", tier="trunk", home="D0", count=inst.trucks,
                       compartments=[Compartment(zone="ambient", crates=cap_t, kg=float(cap_t))],
                       refrigerated=False, fixed_cost=inst.truck_fixed, cost_per_km=inst.truck_cost, shift=shift)]
    per_sat = min(inst.cf_per_sat, inst.cf_total) if inst.cf_total > 0 else inst.cf_per_sat
    for k in range(len(inst.satellites)):
        vts.append(VehicleType(id=f"CF_S{k + 1}", tier="last_mile", home=f"S{k + 1}",
                               count=per_sat if cf_counts is None else cf_counts[k],
                               compartments=[Compartment(zone="ambient", crates=cap_c, kg=float(cap_c))],
                               refrigerated=False, fixed_cost=inst.cf_fixed, cost_per_km=inst.cf_cost,
                               shift=shift))
    lx, ly = ll(*inst.depot)
    return Scenario(
        format_version=1, name=re.sub(r"[^A-Za-z0-9_.\-]", "_", inst.name),
        description=f"2E-CVRP instance {inst.name} (fulfil bench)",
        products=[Product(id="P", zone="ambient", units_per_crate=1.0, kg_per_unit=1.0)],
        central_warehouses=[CentralWarehouse(id="D0", lon=lx, lat=ly)],
        forward_warehouses=[ForwardWarehouse(id=f"S{k + 1}", lon=ll(*s)[0], lat=ll(*s)[1], central="D0")
                            for k, s in enumerate(inst.satellites)],
        pickup_points=[PickupPoint(id=f"C{i + 1}", lon=ll(c[0], c[1])[0], lat=ll(c[0], c[1])[1],
                                   kind="leader_shop", window=Window(open="00:00", close="47:59"),
                                   forward_warehouse=None if not pins or (i + 1) not in pins
                                   else f"S{pins[i + 1]}")
                       for i, c in enumerate(inst.customers)],
        vehicle_types=vts,
        demand=[Demand(pickup_point=f"C{i + 1}", orders=1 if c[2] > 0 else 0, items={"P": int(round(c[2]))})
                for i, c in enumerate(inst.customers)],
        policies=Policies(
            trunk_receiving=Window(open="00:00", close="10:00"), trunk_departure=0.0, last_mile_dispatch=600.0,
            promise_minutes=2880.0, service_fixed_min=0.0, service_per_crate_min=0.0,
            trunk_unload_fixed_min=0.0, trunk_unload_per_crate_min=0.0, cold_chain_model=False,
            customer_pickup_end=2879.0,
        ),
        matrix=MatrixFile(path=str(matrix_path), free_flow_kmh=kmh),
    )


# ------------------------------------------------------------------- solve
@dataclass
class Result2E:
    instance: str
    feasible: bool
    cost: float | None
    trunk_cost: float
    lm_cost: float
    trunk_routes: list[list[tuple[int, int]]]  # per truck: (satellite 1-based, quantity)
    lm_routes: list[tuple[int, list[int]]]  # (satellite 1-based, customers 1-based)
    violations: list[str] = field(default_factory=list)
    checker_violations: int = 0
    unserved_units: int = 0
    seconds: float = 0.0
    status: str = ""

    @property
    def routes(self) -> int:
        return len(self.trunk_routes) + len(self.lm_routes)


def verify_2e(inst: TwoEInstance, trunk: list[list[tuple[int, int]]], lm: list[tuple[int, list[int]]]
              ) -> tuple[list[str], float, float]:
    """2E-CVRP rules from the instance alone; returns (violations, trunk cost, last-mile cost)."""
    bad: list[str] = []
    ns = len(inst.satellites)
    seen: dict[int, int] = {}
    out_of_sat = [0.0] * (ns + 1)
    lm_cost = 0.0
    per_sat = [0] * (ns + 1)
    for r, (s, custs) in enumerate(lm):
        if not 1 <= s <= ns:
            bad.append(f"last-mile route {r + 1}: unknown satellite {s}")
            continue
        per_sat[s] += 1
        load = 0.0
        prev = f"S{s}"
        for c in custs:
            if not 1 <= c <= inst.n:
                bad.append(f"last-mile route {r + 1}: unknown customer {c}")
                continue
            if c in seen:
                bad.append(f"customer {c} served twice")
            seen[c] = r
            load += inst.customers[c - 1][2]
            lm_cost += inst.cf_cost * inst.dist(prev, f"C{c}")
            prev = f"C{c}"
        lm_cost += inst.cf_cost * inst.dist(prev, f"S{s}") + (inst.cf_fixed if custs else 0.0)
        out_of_sat[s] += load
        if load > inst.cf_cap + 1e-9:
            bad.append(f"last-mile route {r + 1}: load {load:g} > city-freighter capacity {inst.cf_cap:g}")
    missing = [c for c in range(1, inst.n + 1) if c not in seen and inst.customers[c - 1][2] > 0]
    if missing:
        bad.append(f"{len(missing)} customer(s) not served, e.g. {missing[0]}")
    for s in range(1, ns + 1):
        if per_sat[s] > inst.cf_per_sat:
            bad.append(f"satellite {s}: {per_sat[s]} city freighters > {inst.cf_per_sat} allowed per satellite")
    if inst.cf_total > 0 and len(lm) > inst.cf_total:
        bad.append(f"{len(lm)} city freighters > {inst.cf_total} in total (the pipeline cannot limit the total)")
    into_sat = [0.0] * (ns + 1)
    trunk_cost = 0.0
    for r, stops in enumerate(trunk):
        load = 0.0
        prev = "D0"
        for s, q in stops:
            if not 1 <= s <= ns:
                bad.append(f"trunk route {r + 1}: unknown satellite {s}")
                continue
            into_sat[s] += q
            load += q
            trunk_cost += inst.truck_cost * inst.dist(prev, f"S{s}")
            prev = f"S{s}"
        trunk_cost += inst.truck_cost * inst.dist(prev, "D0") + (inst.truck_fixed if stops else 0.0)
        if load > inst.truck_cap + 1e-9:
            bad.append(f"trunk route {r + 1}: load {load:g} > truck capacity {inst.truck_cap:g}")
    if len(trunk) > inst.trucks:
        bad.append(f"{len(trunk)} trucks > {inst.trucks} available")
    for s in range(1, ns + 1):
        if abs(into_sat[s] - out_of_sat[s]) > 1e-6:
            bad.append(f"satellite {s}: trucks bring {into_sat[s]:g} but city freighters take {out_of_sat[s]:g}")
    return bad, trunk_cost, lm_cost


def _repair_total(inst: TwoEInstance, lm: list[tuple[int, list[int]]]) -> tuple[dict[int, int], list[int]] | None:
    """Pins and per-satellite counts that fit the global city-freighter total, or None.

    Moves the customers of the satellite whose last vehicle is least full to satellites with
    spare room in the vehicles they need anyway (cheapest distance change first), until the
    sum of ``ceil(load / capacity)`` is within the total.
    """
    ns, cap = len(inst.satellites), inst.cf_cap
    assign = {c: s for s, custs in lm for c in custs}
    dem = {c: inst.customers[c - 1][2] for c in assign}

    def loads() -> list[float]:
        out = [0.0] * (ns + 1)
        for c, s in assign.items():
            out[s] += dem[c]
        return out

    def need(x: float) -> int:
        return int(math.ceil(x / cap - 1e-9))

    for _ in range(ns * 4):
        ld = loads()
        nd = [need(x) for x in ld]
        if sum(nd[1:]) <= inst.cf_total:
            break
        moved = False
        for s in sorted((s for s in range(1, ns + 1) if nd[s] > 0), key=lambda s: ld[s] - cap * (nd[s] - 1)):
            excess = ld[s] - cap * (nd[s] - 1)
            spare = {t: cap * nd[t] - ld[t] for t in range(1, ns + 1) if t != s}
            trial = dict(assign)
            custs = sorted((c for c, a in assign.items() if a == s),
                           key=lambda c: min((inst.dist(f"C{c}", f"S{t}") - inst.dist(f"C{c}", f"S{s}")
                                              for t in spare), default=math.inf))
            for c in custs:
                if excess <= 1e-9:
                    break
                ts = sorted((t for t in spare if spare[t] >= dem[c] - 1e-9),
                            key=lambda t: inst.dist(f"C{c}", f"S{t}"))
                if ts:
                    trial[c] = ts[0]
                    spare[ts[0]] -= dem[c]
                    excess -= dem[c]
            if excess <= 1e-9:
                assign = trial
                moved = True
                break
        if not moved:
            return None
    ld = loads()
    nd = [need(x) for x in ld]
    if sum(nd[1:]) > inst.cf_total:
        return None
    counts = [min(max(nd[s], 0), inst.cf_per_sat) for s in range(1, ns + 1)]
    slack = inst.cf_total - sum(counts)
    for s in sorted(range(1, ns + 1), key=lambda s: -(ld[s] / max(nd[s], 1))):  # fullest fleets get the slack
        while slack > 0 and counts[s - 1] < inst.cf_per_sat and ld[s] > 0:
            counts[s - 1] += 1
            slack -= 1
            break
    return assign, counts


def solve_2e(inst: TwoEInstance, time_limit_s: float, seed: int = 0, solution_limit: int | None = None,
             workdir: str | None = None, split_share: float = 0.7, executor=None) -> tuple[Result2E, dict]:
    """Plan ``inst`` through ``plan_night`` and re-check it; returns (result, plan).

    ``executor`` (a :class:`fulfil.executor.Executor`) runs the plan's routing: with two
    workers every subproblem's OR-Tools and PyVRP runs go at the same time, each with the
    subproblem's whole budget (as ``fulfil bench`` runs it); without one, ``plan_night`` routes
    in this process, one engine after the other.

    1. *Split*: :func:`solvers.routing.satellites.assign_satellites` decides which
       satellite serves which customer by solving the last mile as one multi-depot VRP
       per subset of satellites, with the trunk priced per unit (``split_share`` of the
       budget).
    2. *Plan*: the customers are pinned to their satellites (``forward_warehouse`` of the
       pickup point), the per-satellite fleets set to the split's route counts when the
       file's global freighter total binds, and the night is planned by ``plan_night``
       with the rest of the budget — last mile per satellite, then trunk loads routed —
       and checked.
    3. Without a split, or when the pinned plan fails, the pipeline's own allocation
       plans the night (and, above the freighter total, :func:`_repair_total` re-balances
       and re-plans); the better valid result is kept.
    """
    t0 = time.perf_counter()
    res = plan = None
    split = None
    if split_share > 0:
        split = _split(inst, split_share * time_limit_s, seed)
    if split is not None:
        ns = len(inst.satellites)
        pins = {i + 1: int(split.satellite[i]) + 1 for i in range(inst.n) if split.satellite[i] >= 0}
        per_sat = min(inst.cf_per_sat, inst.cf_total) if inst.cf_total > 0 else inst.cf_per_sat
        counts = None
        if inst.cf_total > 0 and per_sat * ns > inst.cf_total:
            counts = [sum(1 for s, _ in split.routes if s == k) for k in range(ns)]
        # what is left, less ~0.5 s for building the scenario and the independent check
        left = max(0.5, time_limit_s - (time.perf_counter() - t0) - 0.5)
        res, plan = _solve_once(inst, left, seed, solution_limit, workdir, pins, counts, executor)
        res.status = (res.status + f" split({split.candidates} models, est. {split.cost:.2f})").strip()
    if res is None or not res.feasible:
        left = max(0.5, time_limit_s - (time.perf_counter() - t0))
        res0, plan0 = _solve_pipeline_allocation(inst, left, seed, solution_limit, workdir, executor)
        if res is None or res0.feasible:
            res, plan = res0, plan0
    res.seconds = time.perf_counter() - t0
    return res, plan


def _split(inst: TwoEInstance, budget: float, seed: int):
    """The satellite split of :mod:`solvers.routing.satellites` on the instance's arrays."""
    import numpy as np

    from solvers.routing.satellites import assign_satellites

    pts = np.array([inst.depot, *inst.satellites, *((c[0], c[1]) for c in inst.customers)], dtype=float)
    dist = np.hypot(pts[:, None, 0] - pts[None, :, 0], pts[:, None, 1] - pts[None, :, 1]) / inst.scale
    ns = len(inst.satellites)
    demand = np.array([0.0] * (1 + ns) + [c[2] for c in inst.customers])
    custs = [1 + ns + i for i in range(inst.n) if inst.customers[i][2] > 0]
    split = assign_satellites(dist, demand, 0, list(range(1, ns + 1)), custs, inst.cf_cap, inst.cf_per_sat,
                              inst.cf_total, inst.truck_cap, inst.truck_cost, inst.cf_cost, inst.truck_fixed,
                              inst.cf_fixed, time_limit_s=budget, seed=seed)
    return split if len(custs) == inst.n else None  # zero-demand customers: leave them to the pipeline


def _solve_pipeline_allocation(inst: TwoEInstance, time_limit_s: float, seed: int, solution_limit: int | None,
                               workdir: str | None, executor=None) -> tuple[Result2E, dict]:
    """The pipeline's own allocation, with the freighter-total repair when the plan exceeds it."""
    t0 = time.perf_counter()
    res, plan = _solve_once(inst, time_limit_s, seed, solution_limit, workdir, executor=executor)
    if (not res.feasible and inst.cf_total > 0 and len(res.lm_routes) > inst.cf_total
            and not res.unserved_units):
        rep = _repair_total(inst, res.lm_routes)
        if rep is not None:
            res2, plan2 = _solve_once(inst, time_limit_s, seed, solution_limit, workdir, *rep, executor)
            res2.status = (res2.status + " total-fleet repair").strip()
            if res2.feasible:
                res, plan = res2, plan2
            else:
                res.violations.append("total-fleet repair failed: " + "; ".join(res2.violations[:2]))
    res.seconds = time.perf_counter() - t0
    return res, plan


def _solve_once(inst: TwoEInstance, time_limit_s: float, seed: int, solution_limit: int | None,
                workdir: str | None, pins: dict[int, int] | None = None, counts: list[int] | None = None,
                executor=None) -> tuple[Result2E, dict]:
    from fulfil.checker import check_plan
    from fulfil.pipeline import PlanParams, plan_night

    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="fulfil2e_", dir=workdir) as tmp:
        scen = build_scenario(inst, Path(tmp) / "matrix.csv", pins, counts)
        plan = plan_night(scen, PlanParams(time_limit_s=time_limit_s, solution_limit=solution_limit, seed=seed,
                                           workers=1 if executor is None else executor.workers),
                          executor=executor)
        viol = check_plan(scen, plan)
    seconds = time.perf_counter() - t0
    from fulfil.report.tables import plan_doc

    doc = plan_doc(plan)  # a Plan model or its dict (format version 2): duties -> trips -> stops
    trunk: list[list[tuple[int, int]]] = []
    lm: list[tuple[int, list[int]]] = []
    fixed = {"trunk": 0.0, "last_mile": 0.0}  # the plan's fixed costs: once per vehicle (its duty)
    duties = {"trunk": 0, "last_mile": 0}
    plan_km = 0.0
    n_trips = 0
    for d in doc.get("duties", []):
        tier = "trunk" if d["tier"] == "trunk" else "last_mile"
        trips = [t for t in d.get("trips", []) if t.get("stops")]
        if not trips:
            continue
        duties[tier] += 1
        fixed[tier] += float(d["cost"]["fixed"])
        for t in trips:  # a 2E route is one trip
            n_trips += 1
            plan_km += float(t["distance_km"])
            if tier == "trunk":
                trunk.append([(int(st["location"][1:]), int(sum(int(z["crates"]) for z in st["delivered"].values())))
                              for st in t["stops"]])
            else:
                lm.append((int(d["depot"][1:]), [int(st["location"][1:]) for st in t["stops"]]))
    bad, tc, lc = verify_2e(inst, trunk, lm)
    # verify_2e charges the instance's fixed cost on every route; a vehicle pays it once, on its duty
    tc += fixed["trunk"] - inst.truck_fixed * len(trunk)
    lc += fixed["last_mile"] - inst.cf_fixed * len(lm)
    for tier, each in (("trunk", inst.truck_fixed), ("last_mile", inst.cf_fixed)):
        if abs(fixed[tier] - each * duties[tier]) > 0.01 * max(1, duties[tier]):
            bad.append(f"{tier} duties' fixed costs {fixed[tier]:.2f} differ from {duties[tier]} x {each:g} "
                       f"of the instance")
    unserved = int(sum(int(u.get("units", 0)) for u in doc.get("unserved", [])))
    if unserved:
        bad.insert(0, f"{unserved} units unserved by the plan")
    if viol:
        bad.insert(0, f"check_plan: {len(viol)} violation(s), first: {viol[0].message}")
    # cross-check with the plan's own distances (scale-free: the matrix is already in literature units)
    distance = tc + lc - fixed["trunk"] - fixed["last_mile"]
    if inst.truck_cost == inst.cf_cost == 1 and abs(plan_km - distance) > 0.01 * max(1, n_trips):
        bad.append(f"plan distance {plan_km:.3f} differs from the recomputed {distance:.3f}")
    res = Result2E(instance=inst.name, feasible=not bad, cost=tc + lc, trunk_cost=tc, lm_cost=lc,
                   trunk_routes=trunk, lm_routes=lm, violations=bad, checker_violations=len(viol),
                   unserved_units=unserved, seconds=seconds,
                   status=str(doc.get("status", doc.get("error") or "")))
    return res, plan


def write_2e_solution(path: str | os.PathLike, res: Result2E) -> None:
    """VRPLIB-like: trunk routes (satellite:quantity), then last-mile routes per satellite, then the cost."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    lines = []
    for k, stops in enumerate(res.trunk_routes, start=1):
        lines.append(f"Trunk #{k}: " + " ".join(f"S{s}:{q}" for s, q in stops))
    for k, (s, custs) in enumerate(res.lm_routes, start=1):
        lines.append(f"Route #{k} (S{s}): " + " ".join(str(c) for c in custs))
    lines.append(f"Cost {res.cost:.4f}")
    p.write_text("\n".join(lines) + "\n", encoding="utf-8")


# ------------------------------------------------------------------- bench
def is_2e_folder(folder: Path) -> bool:
    return any(folder.glob("*.dat"))


@dataclass(frozen=True)
class Reference:
    """One row of ``bks.csv``: the listed value and what kind of bound it is.

    ``kind`` comes from the ``optimal`` column: ``yes`` → ``"optimum"`` (a proven optimum),
    ``no`` → ``"upper bound"`` (a value known not to be the optimum's, e.g. Set 4b's, which
    are the Set 4a values of the same instances), anything else → ``"best known"`` (a
    feasible value, optimality unknown). ``lower_bound`` is a bound the ``source`` text
    states as ``best LB x`` / ``best BLB x``. The tolerances are one unit of the last
    decimal printed for each (the sources print 1–2 decimals, sometimes truncated).
    """

    value: float
    kind: str
    lower_bound: float | None = None
    tolerance: float = 0.01
    lb_tolerance: float = 0.01

    def below_value(self, cost: float) -> bool:
        """``cost`` is below the listed value at the value's printed precision."""
        return cost < self.value - self.tolerance / 2

    def below_bound(self, cost: float) -> bool:
        """``cost`` lies below what no feasible solution can: a proven optimum or a lower bound."""
        if self.kind == "optimum" and cost < self.value - self.tolerance:
            return True
        return self.lower_bound is not None and cost < self.lower_bound - self.lb_tolerance


_LOWER_BOUND = re.compile(r"\bbest B?LB (\d+(?:\.\d+)?)")


def _decimals_unit(text: str) -> float:
    """One unit of the last decimal printed in ``text`` (``"1407.6"`` → 0.1, ``"371"`` → 1)."""
    return 10.0 ** -len(text.partition(".")[2])


def load_2e_bks(folder: Path) -> dict[str, Reference]:
    """``{instance: Reference}`` from ``bks.csv`` in the folder or its parent (empty values skipped).

    Raises :class:`UsageError` for a value that is not a number.
    """
    for cand in (folder / "bks.csv", folder.parent / "bks.csv"):
        if cand.is_file():
            out = {}
            with cand.open(newline="", encoding="utf-8") as fh:
                for ln, row in enumerate(csv.DictReader(fh), start=2):
                    v = (row.get("bks") or row.get("distance") or "").strip()
                    if not v:
                        continue
                    try:
                        value = float(v)
                    except ValueError:
                        raise UsageError(f"{cand}:{ln}: bks {v!r} is not a number") from None
                    opt = (row.get("optimal") or "").strip().lower()
                    kind = {"yes": "optimum", "no": "upper bound"}.get(opt, "best known")
                    m = _LOWER_BOUND.search(row.get("source") or "")
                    lb, lb_tol = (float(m.group(1)), _decimals_unit(m.group(1))) if m else (None, 0.01)
                    out[row["instance"].strip()] = Reference(value, kind, lb, _decimals_unit(v), lb_tol)
            return out
    return {}


def _family(name: str) -> str:
    m = re.search(r"(E-n\d+|Instance\d+)", name)
    return m.group(1) if m else "other"


def run_2e_task(args: tuple[str, str, float, int, str]) -> dict:
    """One instance in a worker: solve, verify, write the .sol; returns its results row (no gap yet)."""
    name, path, limit, seed, out = args
    row = {"instance": name, "solver": "ours", "convention": "2e_distance"}
    t0 = time.perf_counter()
    level = log.level
    log.setLevel(max(level, logging.WARNING))  # the pipeline's own progress lines would drown the bench's
    try:
        inst = read_2e(path)
        from fulfil.executor import make_executor

        # ours' two cores: every subproblem's OR-Tools and PyVRP runs at the same time, each with its budget
        with make_executor(ROUTING_PROCESSES) as ex:
            ex.warm_up()  # the workers start while the satellite split runs here
            res, _ = solve_2e(inst, limit, seed, executor=ex)
    except Exception as exc:
        row.update(feasible=False, routes=0, cost=None, seconds=time.perf_counter() - t0,
                   status=f"error: {type(exc).__name__}: {exc}"[:300], violations="")
        return row
    finally:
        log.setLevel(level)
    write_2e_solution(Path(out) / "ours" / f"{name}.sol", res)
    v = res.violations
    row.update(feasible=res.feasible, routes=res.routes, cost=res.cost, seconds=res.seconds,
               reported_cost=None, status=res.status,
               violations="; ".join(v[:3]) + (f"; ... {len(v) - 3} more" if len(v) > 3 else ""),
               trunk_routes=len(res.trunk_routes), lm_routes=len(res.lm_routes),
               trunk_cost=res.trunk_cost, lm_cost=res.lm_cost, checker_violations=res.checker_violations,
               cf_total_ok=(inst.cf_total <= 0 or len(res.lm_routes) <= inst.cf_total))
    return row


#: Worker processes of one instance's routing: ours' OR-Tools and PyVRP runs at the same time.
ROUTING_PROCESSES = 2

EXTRA_COLUMNS = ["trunk_routes", "lm_routes", "trunk_cost", "lm_cost", "checker_violations", "cf_total_ok",
                 "bks_kind", "lower_bound", "below_bound"]


def bound_summary(rows: list[dict], bks: dict[str, Reference]) -> str:
    """How the feasible results stand against the listed values, by the kind of each value.

    A result below a ``"best known"`` or ``"upper bound"`` value is an improvement; below a
    proven optimum or a listed lower bound it is impossible, so it names the instances.
    """
    feas = [r for r in rows if r.get("feasible") and r.get("cost") is not None and r["instance"] in bks]
    kinds: dict[str, int] = {}
    for r in feas:
        k = bks[r["instance"]].kind
        kinds[k] = kinds.get(k, 0) + 1
    below = [r for r in feas if bks[r["instance"]].below_value(r["cost"])]
    wrong = [r["instance"] for r in feas if bks[r["instance"]].below_bound(r["cost"])]
    n_lb = sum(1 for r in feas if bks[r["instance"]].lower_bound is not None)
    by_kind = ", ".join(f"{n} {k}" for k, n in sorted(kinds.items()))
    lines = [(f"Listed values of the {len(feas)} feasible result(s) with one: {by_kind or 'none'}; "
              f"{n_lb} with a lower bound."),
             f"Below the listed value: {len(below)}"
             + (f" ({', '.join(sorted({bks[r['instance']].kind for r in below}))})" if below else "") + ".",
             f"Below a proven optimum or a listed lower bound: {len(wrong)}"
             + (f" -- IMPOSSIBLE, check: {', '.join(wrong)}" if wrong else "") + "."]
    return "\n".join(lines)


def cmd_bench_2e(args, folder: Path) -> int:
    """``fulfil bench <folder of 2E .dat files>``: same results.csv columns (+ 2E extras).

    ``--workers N``: N instances at a time (``0``: one per two cores); each instance's routing
    runs on its own :data:`ROUTING_PROCESSES` worker processes, every subproblem's OR-Tools and
    PyVRP runs at the same time with the whole budget, so ``--workers 1`` gives ours two cores.
    """
    from fulfil.bench.common import RESULT_COLUMNS, BenchSet, fmt_csv, progress, results_table, select_instances
    from fulfil.bench.common import run_each, sorted_rows, summarize
    from fulfil.executor import make_executor

    if args.vs:
        print("note: --vs peers are not available for the 2E-CVRP; running ours only")
    files = {f.stem: f for f in sorted(folder.glob("*.dat"))}
    bset = BenchSet(folder, "2e", files)
    names = select_instances(bset, args.instances)
    for n in names:
        try:
            read_2e(files[n])
        except ValueError as exc:
            raise UsageError(str(exc)) from None
    bks = load_2e_bks(folder)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    from fulfil.executor import cpu_count

    # --workers N: N instances at a time, each routing on its own ROUTING_PROCESSES worker processes
    workers = max(1, min(args.workers or max(1, cpu_count() // ROUTING_PROCESSES), len(names)))
    print(f"bench {folder.name} (2E-CVRP through plan_night): {len(names)} instance(s), {args.time_limit:g} s each, "
          f"{workers} instance(s) at a time, each routing on {ROUTING_PROCESSES} worker processes (OR-Tools and "
          f"PyVRP at once); objective: exact Euclidean distance (Set 4: /100); "
          f"bks: {'bks.csv' if bks else 'none found (no gaps)'}")
    cols = RESULT_COLUMNS + [c for c in EXTRA_COLUMNS if c not in RESULT_COLUMNS]
    rows: list[dict] = []

    def write() -> None:
        tmp = out / "results.csv.tmp"
        with tmp.open("w", newline="", encoding="utf-8") as fh:
            w = csv.writer(fh)
            w.writerow(cols)
            for r in sorted_rows(rows, names, ["ours"]):
                w.writerow([fmt_csv(r.get(k), k) for k in cols])
        tmp.replace(out / "results.csv")

    def done(row: dict) -> None:
        row["family"] = _family(row["instance"])
        ref = bks.get(row["instance"])
        ok = ref is not None and bool(row.get("feasible")) and row.get("cost") is not None
        row["bks"], row["bks_routes"] = (ref.value if ref else None), None
        # against an upper bound or a best-known value a negative gap is an improvement, not an error
        row["gap_pct"] = 100.0 * (row["cost"] - ref.value) / ref.value if ok and ref.value > 0 else None
        row["bks_kind"] = ref.kind if ref else None
        row["lower_bound"] = ref.lower_bound if ref else None
        row["below_bound"] = ref.below_bound(row["cost"]) if ok else None
        rows.append(row)
        progress(row, len(rows), len(names))
        write()

    tasks = [(n, str(files[n]), float(args.time_limit), int(args.seed), str(out)) for n in names]
    def row_of(fut, t: tuple) -> dict:
        try:
            return fut.result()
        except Exception as exc:  # noqa: BLE001 - the worker itself died
            return {"instance": t[0], "solver": "ours", "feasible": False, "routes": 0, "cost": None,
                    "seconds": 0.0, "status": f"error: {type(exc).__name__}: {exc}"[:300]}

    with make_executor(workers) as ex:
        run_each(ex, run_2e_task, tasks, lambda fut, t: done(row_of(fut, t)))
    rows = sorted_rows(rows, names, ["ours"])
    write()
    text = (results_table(rows) + "\n\n" + summarize(rows, ["ours"], "2e", "distance") + "\n\n"
            + bound_summary(rows, bks))
    (out / "summary.txt").write_text(text + "\n", encoding="utf-8")
    from fulfil.bench.chart import GAPS_PNG, write_gap_chart

    write_gap_chart(out / GAPS_PNG, rows, ["ours"], title=f"{folder.name}: gap per instance, {args.time_limit:g} s")
    print(text)
    print(f"\nWrote {out / 'results.csv'}, {out / 'summary.txt'}, {out / GAPS_PNG} and the solutions in {out / 'ours'}")
    bad = [r["instance"] for r in rows if not r["feasible"]]
    if bad:
        print(f"\nours: {len(bad)} solution(s) failed the check or were not found: {', '.join(bad)}")
        return 4
    return 0
