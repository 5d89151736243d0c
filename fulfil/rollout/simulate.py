"""Simulation: each simulated day becomes a nightly :class:`~fulfil.scenario.schema.Scenario`, planned and checked.

For every (variant, phase, day):

1. draw the communities' orders and items (:func:`fulfil.rollout.demand.draw_day`, seeded by
   ``(seed, day)`` only — common random numbers across phases and variants);
2. deal them to the phase's pickup points (the share a siting could not cover is unserved);
   a pickup point takes at most ``capacity_orders`` and a forward warehouse at most its
   ``capacity_orders`` — the rest is turned away and counted as unserved;
3. build the nightly scenario in memory: the central warehouse, the phase's forward
   warehouses, its pickup points pinned to their forward warehouse, the variant's fleets
   (template counts scaled to the pickup points / warehouses served), policies and windows;
4. ``plan_night`` with a deterministic budget (``solution_limit``, one worker, seed from
   the day) and ``check_plan`` on the result — every violation is counted.

Days are independent tasks on a :class:`fulfil.executor.Executor` (``make_executor(workers)``);
each task is plain data in (a phase network dict + a day number) and plain data out (a
metrics dict).

Costs per day: vehicles (the plan's route costs, trunk and last mile) + facilities (the open
forward warehouses' ``fixed_cost_day`` and the open pickup points' ``cost_day``).  The
central warehouse serves the whole city and is not charged to the region.
"""

from __future__ import annotations

import logging
import math
import time
from collections import Counter
from typing import TYPE_CHECKING, Any

import numpy as np

from fulfil.rollout.demand import calendar_factor, demand_arrays, draw_day, product_prices, split_to_pickups

if TYPE_CHECKING:
    from fulfil.rollout.phasing import PhasePlan
    from fulfil.rollout.region import Region, Variant

log = logging.getLogger("fulfil")

#: KPIs aggregated per (variant, phase), in report order: key, label, unit.
KPIS: tuple[tuple[str, str, str], ...] = (
    ("orders_demand", "orders demanded", "orders/day"),
    ("orders_served", "orders served", "orders/day"),
    ("cost_per_order", "cost per order", "RMB"),
    ("cost_share_of_sales", "delivery cost / sales", "share"),
    ("two_hour_compliance", "2-hour compliance", "share"),
    ("vehicle_utilisation", "vehicle utilisation (crates / capacity)", "share"),
    ("warehouse_utilisation", "warehouse utilisation (orders / capacity)", "share"),
    ("unserved_share", "unserved demand", "share"),
    ("vehicles", "vehicles used", "count"),
    ("driving_h", "driving time (waiting and stops excluded)", "h/day"),
    ("traffic_h", "driving time lost to traffic (over free flow)", "h/day"),
    ("cost_total", "cost per day (vehicles + facilities)", "RMB"),
)


# --------------------------------------------------------------------------- phase network


def phase_network(region: Region, plan: PhasePlan, variant: Variant, variant_name: str, *,
                  days: int, seed: int, solution_limit: int) -> dict[str, Any]:
    """Everything a worker needs to build and plan any day of this phase: plain picklable data."""
    doc = region.doc
    cw = doc.central_warehouse
    prices = product_prices(region)
    products = [
        dict(id=p.id, name=p.name, zone=p.zone, max_minutes_out_of_zone=p.max_minutes_out_of_zone,
             kg_per_unit=p.kg_per_unit, units_per_crate=p.units_per_crate, price=round(float(prices[k]), 4))
        for k, p in enumerate(doc.products)
    ]
    fw_ids = [region.forward_sites[f].id for f in plan.open_fw]
    n_pp_of = Counter(plan.pp_fw[p] for p in plan.open_pp if p in plan.pp_fw)
    forwards = []
    for f in plan.open_fw:
        site = region.forward_sites[f]
        rec: dict[str, Any] = dict(id=site.id, name=site.name, lon=site.lon, lat=site.lat, central=cw.id)
        if site.capacity:
            rec["capacity"] = dict(site.capacity)
        forwards.append(rec)
    lw = variant.leader_window or doc.windows.leader_shop
    kw = variant.locker_window or doc.windows.locker
    pickups, pp_index = [], []
    for p in plan.open_pp:
        if p not in plan.pp_fw:
            continue
        site = region.pickup_sites[p]
        rec = dict(id=site.id, name=site.name, lon=site.lon, lat=site.lat, kind=site.kind,
                   forward_warehouse=region.forward_sites[plan.pp_fw[p]].id)
        w = kw if site.kind == "locker" else lw
        rec["window"] = [w.open, w.close]
        if site.cells is not None:
            rec["cells"] = dict(site.cells)
        pickups.append(rec)
        pp_index.append(int(p))
    vtypes = []
    for v in doc.trunk_fleet:
        vtypes.append(_vehicle(v, f"{cw.id}_{v.id}", "trunk", cw.id, v.count_for(forward_warehouses=len(fw_ids))))
    for f in plan.open_fw:
        fid = region.forward_sites[f].id
        for v in doc.fleets[variant.fleet]:
            vtypes.append(_vehicle(v, f"{fid}_{v.id}", "last_mile", fid, v.count_for(pickup_points=n_pp_of[int(f)])))
    pol = doc.policies.model_dump()
    for key in ("last_mile_dispatch", "trunk_departure", "trunk_receiving"):
        val = getattr(variant, key)
        if val is not None:
            pol[key] = val.model_dump() if hasattr(val, "model_dump") else val
    base = dict(
        format_version=1, name=f"{doc.name}-{variant_name}-{plan.phase}",
        description=f"rollout day of {doc.name}, variant {variant_name}, phase {plan.phase}",
        products=products, central_warehouses=[dict(id=cw.id, name=cw.name, lon=cw.lon, lat=cw.lat)],
        forward_warehouses=forwards, pickup_points=pickups, vehicle_types=vtypes,
        speed_profiles=[p.model_dump() for p in doc.speed_profiles], policies=pol,
    )
    # the uncovered share of each target community goes to pseudo pickup -1 (unserved)
    alloc = list(plan.alloc)
    target = np.zeros(len(region.communities), dtype=bool)
    target[plan.communities] = True
    for c in plan.communities:
        u = float(plan.uncovered_share[c])
        if u > 1e-9:
            alloc.append((int(c), -1, u))
    return dict(
        variant=variant_name, phase=plan.phase, base=base, alloc=alloc, target=target,
        pp_index=pp_index, pp_ids=[r["id"] for r in pickups],
        pp_capacity=np.array([region.pickup_sites[p].capacity_orders for p in pp_index], dtype=np.int64),
        pp_cost=float(sum(region.pickup_sites[p].cost_day for p in pp_index)),
        pp_fw=[fw_ids.index(region.forward_sites[plan.pp_fw[p]].id) for p in pp_index],
        fw_ids=fw_ids,
        fw_capacity=np.array([region.forward_sites[f].capacity_orders for f in plan.open_fw], dtype=np.int64),
        fw_cost=float(sum(region.forward_sites[f].fixed_cost_day for f in plan.open_fw)),
        demand=demand_arrays(region, plan.phase),
        calendar=[calendar_factor(region, d) for d in range(days)],
        product_ids=[p["id"] for p in products], prices=np.array([p["price"] for p in products]),
        seed=int(seed), solution_limit=int(solution_limit),
    )


def _vehicle(v: Any, vid: str, tier: str, home: str, count: int) -> dict[str, Any]:
    d = v.model_dump(exclude={"min_count", "per_pickup_point", "per_forward_warehouse"})
    d.update(id=vid, tier=tier, home=home, count=int(count))
    d["shift"] = [v.shift.open, v.shift.close]
    return d


# --------------------------------------------------------------------------- one day


def day_demand(net: dict[str, Any], day: int) -> dict[str, Any]:
    """The day's demand rows at pickup points and what was turned away before planning."""
    orders, items = draw_day(net["demand"], net["calendar"][day], net["seed"], day)
    orders = np.where(net["target"], orders, 0)
    items = np.where(net["target"][:, None], items, 0)
    demand_orders = int(orders.sum())
    split = split_to_pickups(orders, items, net["alloc"], net["seed"], day)
    uncovered = split.pop(-1, (0, None))[0]
    pos = {p: i for i, p in enumerate(net["pp_index"])}
    n = len(net["pp_index"])
    K = items.shape[1]
    o = np.zeros(n, dtype=np.int64)
    it = np.zeros((n, K), dtype=np.int64)
    for p, (oo, ii) in split.items():
        o[pos[p]] += oo
        it[pos[p]] += ii
    # pickup capacity: orders beyond capacity_orders are turned away
    cap = net["pp_capacity"]
    over = o > cap
    pp_turned = int((o - cap)[over].sum())
    it[over] = np.floor(it[over] * (cap[over] / o[over])[:, None]).astype(np.int64)
    o = np.minimum(o, cap)
    # forward-warehouse capacity: thin every pickup point of an overloaded warehouse
    fw_turned = 0
    pp_fw = np.asarray(net["pp_fw"], dtype=np.int64)
    for f, capf in enumerate(net["fw_capacity"]):
        m = pp_fw == f
        tot = int(o[m].sum())
        if tot > capf:
            frac = capf / tot
            new = np.floor(o[m] * frac).astype(np.int64)
            fw_turned += int(o[m].sum() - new.sum())
            it[m] = np.floor(it[m] * frac).astype(np.int64)
            o[m] = new
    it[o == 0] = 0
    rows = []
    for i in np.flatnonzero(o > 0):
        rows.append(dict(pickup_point=net["pp_ids"][i], orders=int(o[i]),
                         items={net["product_ids"][k]: int(q) for k, q in enumerate(it[i]) if q > 0}))
    return dict(rows=rows, demand_orders=demand_orders, uncovered=int(uncovered), pp_turned=pp_turned,
                fw_turned=fw_turned, orders_at_pickups=o, fw_of_pickup=pp_fw)


def day_scenario(net: dict[str, Any], day: int) -> tuple[Any, dict[str, Any]]:
    """The nightly Scenario of one simulated day (validated by the nightly schema) and its demand facts."""
    from fulfil.scenario.schema import Scenario

    dem = day_demand(net, day)
    doc = dict(net["base"], demand=dem["rows"], name=f"{net['base']['name']}-day{day + 1:03d}")
    return Scenario.model_validate(doc), dem


def run_day(net: dict[str, Any], day: int) -> dict[str, Any]:
    """Plan and check one day; plain metrics out (runs in a worker process)."""
    from fulfil.checker import check_plan
    from fulfil.pipeline import PlanParams, plan_night

    t0 = time.perf_counter()
    s, dem = day_scenario(net, day)
    seed = (net["seed"] * 1000 + day) % (2**31 - 1)
    level = log.level
    log.setLevel(max(level, logging.WARNING))  # the nightly pipeline's own progress lines would drown ours
    try:
        if dem["rows"]:
            params = PlanParams(time_limit_s=None, solution_limit=net["solution_limit"], seed=seed, workers=1)
            plan = plan_night(s, params, source=s.name)
            violations = check_plan(s, plan)
        else:
            plan, violations = None, []
    finally:
        log.setLevel(level)
    return day_metrics(net, day, s, plan, dem, violations, time.perf_counter() - t0)


def day_metrics(net: dict[str, Any], day: int, s: Any, plan: Any, dem: dict[str, Any],
                violations: list, wall_s: float) -> dict[str, Any]:
    """Metrics of one day; ``plan`` is a :class:`fulfil.plan_model.Plan`, its dict, or None (no demand)."""
    from fulfil.plan_model import trip_rows
    from fulfil.report.tables import plan_doc

    plan = None if plan is None else plan_doc(plan)
    zones = ("frozen", "chilled", "ambient")
    price = dict(zip(net["product_ids"], net["prices"], strict=True))
    sales = 0.0
    crates = cap = 0.0
    served_fw = np.zeros(len(net["fw_ids"]))
    lm = tr = 0
    vcost = 0.0
    driving_h = traffic_h = 0.0
    routes = ""
    k: dict[str, Any] = {}
    if plan is not None:
        k = plan["kpis"]
        vcost = float(k["cost"])
        vt = {v.id: v for v in s.vehicle_types}
        tr = sum(1 for d in plan["duties"] if d["tier"] != "last_mile")
        lm = sum(1 for d in plan["duties"] if d["tier"] == "last_mile")
        driving_h, traffic_h, routes = driving(plan, s)
        for r in trip_rows(plan):  # utilisation: crates loaded per trip over the body's crates
            if r["tier"] != "last_mile":
                continue
            comp = {c.zone: c.crates for c in vt[r["vehicle_type"]].compartments}
            for z in zones:
                if z in comp:
                    crates += r["load_at_departure"].get(z, {}).get("crates", 0)
                    cap += comp[z]
            for st in r["stops"]:
                sales += sum(q * price[p] for p, q in (st.get("products") or {}).items())
        unserved_pp = {u["pickup_point"] for u in plan["unserved"]}
        for i, pid in enumerate(net["pp_ids"]):
            if pid not in unserved_pp:
                served_fw[dem["fw_of_pickup"][i]] += dem["orders_at_pickups"][i]
    served = float(k.get("orders_served", 0))  # order-equivalents (format version 2)
    facility = net["fw_cost"] + net["pp_cost"]
    total = vcost + facility
    demand = dem["demand_orders"]
    fw_util = served_fw / np.maximum(1, net["fw_capacity"])
    return dict(
        variant=net["variant"], phase=net["phase"], day=day,
        orders_demand=demand, orders_served=served, orders_unserved=demand - served,
        uncovered=dem["uncovered"], pickup_turned_away=dem["pp_turned"], warehouse_turned_away=dem["fw_turned"],
        plan_unserved=float(k.get("orders_unserved", 0)),
        cost_vehicles=round(vcost, 2), cost_facilities=round(facility, 2), cost_total=round(total, 2),
        sales=round(sales, 2),
        cost_per_order=(total / served) if served else math.nan,
        cost_share_of_sales=(total / sales) if sales > 0 else math.nan,
        two_hour_compliance=float(k.get("two_hour_compliance", 1.0)),
        cold_chain_compliance=float(k.get("cold_chain_compliance", 1.0)),
        vehicle_utilisation=(crates / cap) if cap else math.nan,
        warehouse_utilisation=float(fw_util.mean()) if len(fw_util) else math.nan,
        unserved_share=(demand - served) / demand if demand else 0.0,
        vehicles=lm + tr, last_mile_vehicles=lm, trunk_vehicles=tr,
        driving_h=round(driving_h, 3), traffic_h=round(traffic_h, 3), routes=routes,
        pickup_points=len(net["pp_ids"]), forward_warehouses=len(net["fw_ids"]),
        plan_unserved_reasons=dict(Counter(u["reason"] for u in plan["unserved"])) if plan is not None else {},
        violations=len(violations), violation_causes=dict(Counter(v.cause for v in violations)),
        wall_s=round(wall_s, 3),
    )


def driving(plan: dict[str, Any], s: Any) -> tuple[float, float, str]:
    """``(hours driven, hours of it lost to traffic, digest of the routes)`` of a plan's dict.

    Driving is each trip's duration less its time parked at stops (waiting and service); traffic
    is driving less the same kilometres at the vehicle's free-flow speed, so a variant that drives
    in faster hours shows it here.  The digest names the stop sequences of all trips: two days
    with equal digests drove the same routes.
    """
    import hashlib

    kmh = {p.id: p.free_flow_kmh for p in s.speed_profiles}
    profile = {v.id: v.speed_profile for v in s.vehicle_types}
    drive = free = 0.0
    seqs = []
    for d in plan["duties"]:
        for t in d["trips"]:
            parked = sum(st["departure"] - st["arrival"] for st in t["stops"])
            drive += t["return"] - t["departure"] - parked
            free += t["distance_km"] / kmh[profile[d["vehicle_type"]]] * 60.0
            seqs.append(f"{d['vehicle_type']}:" + ">".join(st["location"] for st in t["stops"]))
    digest = hashlib.sha256("|".join(sorted(seqs)).encode()).hexdigest()[:12]
    return drive / 60.0, (drive - free) / 60.0, digest


# --------------------------------------------------------------------------- many days


def simulate(nets: list[dict[str, Any]], days: int, workers: int = 1,
             cluster: str | None = None) -> list[dict[str, Any]]:
    """Run ``days`` days of every phase network (on ``cluster`` when given, else ``workers``
    processes); results sorted by (network order, day)."""
    tasks = [(i, d) for i in range(len(nets)) for d in range(days)]
    out: dict[tuple[int, int], dict[str, Any]] = {}
    t0 = time.perf_counter()
    done = Counter()

    def note(i: int, d: int, m: dict[str, Any]) -> None:
        out[(i, d)] = m
        done[i] += 1
        cpo = m["cost_per_order"]
        n, left = len(out), len(tasks) - len(out)
        eta = (time.perf_counter() - t0) / n * left
        log.info("  %s / %s day %d (%d/%d): %d orders, %s RMB/order, %d violation(s), %.1f s%s",
                 m["variant"], m["phase"], d + 1, done[i], days, m["orders_demand"],
                 "-" if math.isnan(cpo) else f"{cpo:.2f}", m["violations"], m["wall_s"],
                 f"; {n}/{len(tasks)} plans, about {eta:.0f} s left" if left else "")

    from fulfil.executor import make_executor

    with make_executor(max(1, workers), cluster=cluster) as ex:
        futs = {}
        for i, d in tasks:
            fut = ex.submit(run_day, nets[i], d)
            futs[fut] = (i, d)
            if fut.done():  # the serial backend: report as it goes
                note(i, d, fut.result())
        for fut in ex.as_completed([f for f in futs if (futs[f] not in out)]):
            i, d = futs[fut]
            note(i, d, fut.result())
    log.info("simulated %d plans in %.1f s", len(tasks), time.perf_counter() - t0)
    return [out[k] for k in sorted(out)]


# --------------------------------------------------------------------------- aggregation


def spread(values: list[float] | np.ndarray) -> dict[str, float]:
    """median, 10th and 90th percentile and mean of the finite values (nan when none)."""
    a = np.asarray([v for v in values if v is not None and np.isfinite(v)], dtype=float)
    if not len(a):
        return dict(median=math.nan, p10=math.nan, p90=math.nan, mean=math.nan, n=0)
    return dict(median=float(np.median(a)), p10=float(np.percentile(a, 10)), p90=float(np.percentile(a, 90)),
                mean=float(a.mean()), n=int(len(a)))


def aggregate(results: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per (variant, phase, KPI) with its spread over the days."""
    groups: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for r in results:
        groups.setdefault((r["variant"], r["phase"]), []).append(r)
    rows = []
    for (v, p), rs in groups.items():
        for key, label, unit in KPIS:
            sp = spread([r[key] for r in rs])
            rows.append(dict(variant=v, phase=p, kpi=key, label=label, unit=unit, **sp))
        rows.append(dict(variant=v, phase=p, kpi="violations", label="checker violations (all days)", unit="count",
                         median=float(np.median([r["violations"] for r in rs])), p10=math.nan, p90=math.nan,
                         mean=float(sum(r["violations"] for r in rs)), n=len(rs)))
    return rows
