"""Siting: pickup points by capacitated covering, forward warehouses by capacitated facility location.

Both models go to :func:`solvers.location.solve_cflp` (Lagrangian bound + MIP, proven
optimal on the bundled region well inside the time limit).

**Pickup points** (a capacitated covering / location model).  Customers are the
communities to cover, with design demand ``expected orders × design_peak_factor``;
sites are the candidate leader shops and lockers (lockers left out in a no-locker
variant).  A community may only be served by a site within the walking radius
(``reachable`` mask, straight-line metres in the local frame via a shapely STRtree
``dwithin`` query), its demand may be split among several sites, and a site serves at
most ``capacity_orders``.  A site's fixed cost is its daily cost plus the last-mile
cost of one more stop (see :func:`stop_cost`); allocation costs the walking
inconvenience ``orders × km × walk_cost_per_order_km``.  A dummy site that every
community reaches at 1,000 RMB per order absorbs what no real site can cover, so the
model is always feasible and the uncovered share is explicit.  Locker or leader shop
is therefore chosen by cost and capacity.

**Forward warehouses** (CFLP; each pickup point then goes whole to the warehouse serving
the largest share of it, as a nightly plan pins one warehouse per pickup point — the
split customers of an optimal multi-source solution are few, and the design peak factor
absorbs the rounding).  Customers are the open pickup points with the demand allocated
to them; sites are the candidate forward warehouses with
``capacity_orders``.  A pickup point may only be served by a warehouse that reaches
it *and every community it serves* by a direct drive of at most ``reach_minutes`` at
the slowest (peak) speed of the dispatch wave, so the 2-hour promise keeps room for a
multi-stop route.  Allocation cost is the continuous-approximation route cost of one
stop (:func:`stop_cost`: a vehicle's day cost shared by the stops a 2-hour wave fits at
that distance); fixed cost is the site's daily cost plus a trunk round trip from the
central warehouse.  A dummy site (1,000 RMB per order) again keeps the model feasible.

In both models the sites opened in an earlier phase have zero fixed cost and stay
open: phases reuse and extend the previous phase's sites.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from fulfil.rollout.region import FleetVehicle, Region, Variant

#: Cost per order of leaving demand to the dummy site, RMB (far above any real cost).
UNCOVERED_COST_PER_ORDER = 1000.0
MAX_STOPS_PER_ROUTE = 25


@dataclass
class LocationStats:
    """What a location model did: for the report."""

    status: str
    objective: float
    bound: float
    optimal: bool
    wall_s: float
    sites_opened: int


def road_km(region: Region, a_ll: np.ndarray, b_ll: np.ndarray) -> np.ndarray:
    """Road km between lon/lat point sets (great circle × circuity band of the nightly policies)."""
    from geo.matrices import road_distance_matrix_m

    pol = region.doc.policies
    return road_distance_matrix_m(a_ll[:, 0], a_ll[:, 1], b_ll[:, 0], b_ll[:, 1],
                                  pol.circuity_breaks_km, pol.circuity_factors) / 1000.0


def peak_kmh(region: Region, variant: Variant | None = None) -> float:
    """Slowest speed of the last-mile fleet over the dispatch wave ``[dispatch, dispatch + promise]``."""
    doc = region.doc
    fleet = doc.fleets.get(variant.fleet if variant else "default", doc.fleets["default"])
    dispatch = (variant.last_mile_dispatch if variant and variant.last_mile_dispatch is not None
                else doc.policies.last_mile_dispatch)
    promise = doc.policies.promise_minutes
    h0, h1 = int(dispatch // 60), int(math.ceil((dispatch + promise) / 60.0))
    profiles = {p.id: p for p in doc.speed_profiles}
    speeds = []
    for v in fleet:
        p = profiles[v.speed_profile]
        f = min(p.hourly_factors[h % 24] for h in range(h0, max(h1, h0 + 1)))
        speeds.append(p.free_flow_kmh * f)
    return min(speeds)


def reference_vehicle(region: Region) -> FleetVehicle:
    """The baseline fleet's main vehicle (the first refrigerated one, else the first)."""
    fleet = region.doc.fleets["default"]
    return next((v for v in fleet if v.refrigerated), fleet[0])


def stop_cost(region: Region, minutes_out: np.ndarray, km_out: np.ndarray) -> np.ndarray:
    """Continuous approximation of the last-mile cost of one stop, RMB/day.

    A cold route must reach all its stops within the promise, so a stop ``t`` minutes
    out (direct, at peak speed) leaves ``promise - t`` minutes for the route's stops:
    ``stops = clip((promise - t) / (stop_minutes + hop_minutes), 1, 25)``.  The route
    costs the reference vehicle's fixed cost + km (out, back and the hops at peak speed)
    + hours; one stop pays ``route cost / stops``.
    """
    v = reference_vehicle(region)
    st = region.doc.siting
    promise = region.doc.policies.promise_minutes
    stops = np.clip(np.floor((promise - minutes_out) / (st.stop_minutes + st.hop_minutes)), 1, MAX_STOPS_PER_ROUTE)
    kmh = peak_kmh(region)
    hop_km = st.hop_minutes / 60.0 * kmh
    hours = (2 * minutes_out + stops * (st.stop_minutes + st.hop_minutes)) / 60.0
    route = v.fixed_cost + v.cost_per_km * (2 * km_out + stops * hop_km) + v.cost_per_hour * hours
    return route / stops


def walk_pairs(region: Region, community_idx: np.ndarray, site_idx: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Pairs (i into community_idx, j into site_idx) within the walking radius (shapely STRtree)."""
    from shapely import STRtree, points

    if not len(community_idx) or not len(site_idx):
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    tree = STRtree(points(region.pickup_xy[site_idx]))
    q = tree.query(points(region.community_xy[community_idx]), predicate="dwithin",
                   distance=region.doc.siting.walk_radius_m)
    return q[0].astype(np.int64), q[1].astype(np.int64)


def reach_minutes(region: Region, fw_idx: np.ndarray, xy_ll: np.ndarray) -> np.ndarray:
    """Direct drive minutes at peak speed, forward site → points, shape ``(len(points), len(fw_idx))``."""
    fw_ll = np.array([[region.forward_sites[i].lon, region.forward_sites[i].lat] for i in fw_idx]).reshape(-1, 2)
    return road_km(region, xy_ll, fw_ll) / peak_kmh(region) * 60.0


def community_ll(region: Region) -> np.ndarray:
    return np.array([[c.lon, c.lat] for c in region.communities])


def pickup_ll(region: Region) -> np.ndarray:
    return np.array([[p.lon, p.lat] for p in region.pickup_sites])


@dataclass
class PickupSiting:
    open: np.ndarray  # int64 indices into region.pickup_sites (sorted)
    #: (community index, pickup index, share of the community's demand), shares of a community sum ≤ 1
    alloc: list[tuple[int, int, float]]
    uncovered_share: np.ndarray  # float[C]: share of each community's demand no site takes
    stats: LocationStats


def site_pickups(region: Region, communities: np.ndarray, demand: np.ndarray, *, previous: np.ndarray,
                 lockers: bool, usable: np.ndarray | None = None) -> PickupSiting:
    """Capacitated covering of ``communities`` (design ``demand`` orders each) by pickup sites.

    ``previous`` pickup sites stay open at no fixed cost; ``usable`` masks candidate
    sites (e.g. those some forward warehouse reaches).
    """
    from solvers.location import solve_cflp

    C = len(region.communities)
    st = region.doc.siting
    cand = np.array([j for j, p in enumerate(region.pickup_sites)
                     if (lockers or p.kind != "locker") and (usable is None or usable[j])], dtype=np.int64)
    cand = np.union1d(cand, previous).astype(np.int64)
    communities = np.asarray(communities, dtype=np.int64)
    ci, sj = walk_pairs(region, communities, cand)
    n, m = len(communities), len(cand)
    reach = np.zeros((n, m + 1), dtype=bool)
    reach[ci, sj] = True
    reach[:, m] = True  # the dummy "uncovered" site
    walk_km = np.hypot(*(region.community_xy[communities][:, None, :] - region.pickup_xy[cand][None, :, :])
                       .transpose(2, 0, 1)) / 1000.0
    d = np.asarray(demand, dtype=float)
    alloc_cost = np.zeros((n, m + 1))
    alloc_cost[:, :m] = d[:, None] * walk_km * st.walk_cost_per_order_km
    alloc_cost[:, m] = d * UNCOVERED_COST_PER_ORDER
    # fixed cost: daily site cost + one more last-mile stop from the nearest candidate warehouse
    fw_all = np.arange(len(region.forward_sites))
    mins = reach_minutes(region, fw_all, pickup_ll(region)[cand])
    kms = mins / 60.0 * peak_kmh(region)
    nearest = mins.argmin(axis=1)
    stop = stop_cost(region, mins[np.arange(m), nearest], kms[np.arange(m), nearest])
    fixed = np.array([region.pickup_sites[j].cost_day for j in cand]) + stop
    fixed[np.isin(cand, previous)] = 0.0
    fixed = np.append(fixed, 0.0)
    cap = np.append([float(region.pickup_sites[j].capacity_orders) for j in cand], max(1.0, d.sum()))
    res = solve_cflp(fixed, cap, d, alloc_cost, reachable=reach, time_limit_s=st.time_limit_s)
    if res.status in ("infeasible", "no_solution"):
        raise RuntimeError(f"pickup-point siting failed: {res.status}")
    opened = np.union1d(cand[res.open[:m]], previous).astype(np.int64)
    alloc = []
    unc = np.zeros(C)
    for i, c in enumerate(communities):
        for j in np.flatnonzero(res.alloc[i, :m] > 1e-9):
            alloc.append((int(c), int(cand[j]), float(res.alloc[i, j])))
        unc[c] = float(res.alloc[i, m]) if d[i] > 0 else (0.0 if reach[i, :m].any() else 1.0)
    stats = LocationStats(res.status, float(res.objective), float(res.bound), bool(res.optimal), float(res.wall_s),
                          int(len(opened)))
    return PickupSiting(open=opened, alloc=alloc, uncovered_share=unc, stats=stats)


@dataclass
class ForwardSiting:
    open: np.ndarray  # int64 indices into region.forward_sites (sorted)
    pp_fw: dict[int, int]  # pickup index → forward index; pickups left out are unserved
    stats: LocationStats
    extra: list[int] = field(default_factory=list)  # forward sites added by extra_forward_warehouses


def forward_fixed_cost(region: Region) -> np.ndarray:
    """Daily cost of each candidate: its fixed cost + one trunk round trip from the central warehouse."""
    cw = region.doc.central_warehouse
    fw_ll = np.array([[f.lon, f.lat] for f in region.forward_sites])
    km = road_km(region, np.array([[cw.lon, cw.lat]]), fw_ll)[0]
    trunk = region.doc.trunk_fleet[0]
    return np.array([f.fixed_cost_day for f in region.forward_sites]) + 2 * km * trunk.cost_per_km


def pp_reach(region: Region, pickups: np.ndarray, alloc: list[tuple[int, int, float]]) -> np.ndarray:
    """bool[len(pickups), F]: the warehouse reaches the pickup point and every community it serves."""
    F = len(region.forward_sites)
    lim = region.doc.siting.reach_minutes
    ok = reach_minutes(region, np.arange(F), pickup_ll(region)[pickups]) <= lim
    c_ok = reach_minutes(region, np.arange(F), community_ll(region)) <= lim
    pos = {int(p): i for i, p in enumerate(pickups)}
    for c, p, _ in alloc:
        if p in pos:
            ok[pos[p]] &= c_ok[c]
    return ok


def site_forwards(region: Region, pickups: np.ndarray, pp_demand: np.ndarray, reach: np.ndarray, *,
                  previous: np.ndarray, n_at_least: int = 0) -> ForwardSiting:
    """CFLP of pickup points (design demand ``pp_demand``) to forward sites.

    ``previous`` sites stay open at no fixed cost.  When fewer than ``n_at_least`` sites
    are open afterwards, the candidates that most reduce the allocation cost are added
    greedily and the pickups re-assigned (the "one more forward warehouse" variant).
    """
    from solvers.location import solve_cflp

    st = region.doc.siting
    F = len(region.forward_sites)
    n = len(pickups)
    mins = reach_minutes(region, np.arange(F), pickup_ll(region)[pickups])
    kms = mins / 60.0 * peak_kmh(region)
    cost = np.zeros((n, F + 1))
    cost[:, :F] = stop_cost(region, mins, kms)
    d = np.maximum(np.asarray(pp_demand, dtype=float), 1e-3)
    cost[:, F] = d * UNCOVERED_COST_PER_ORDER
    r = np.zeros((n, F + 1), dtype=bool)
    r[:, :F] = reach
    r[:, F] = True
    fixed = np.append(forward_fixed_cost(region), 0.0)
    fixed[previous] = 0.0
    cap = np.append([float(f.capacity_orders) for f in region.forward_sites], d.sum() + 1.0)

    def solve(fixed_: np.ndarray, allowed: np.ndarray) -> object:
        rr = r & allowed[None, :]
        return solve_cflp(fixed_, cap, d, cost, reachable=rr, time_limit_s=st.time_limit_s)

    allowed = np.ones(F + 1, dtype=bool)
    res = solve(fixed, allowed)
    if res.status in ("infeasible", "no_solution"):
        raise RuntimeError(f"forward-warehouse siting failed: {res.status}")
    opened = set(np.flatnonzero(res.open[:F]).tolist()) | set(int(x) for x in previous)
    extra: list[int] = []
    while len(opened) < n_at_least:
        cur = np.where(r[:, :F] & np.isin(np.arange(F), sorted(opened))[None, :], cost[:, :F], np.inf).min(axis=1)
        best, gain = -1, -1.0
        for f in range(F):
            if f in opened or not r[:, f].any():
                continue
            new = np.where(r[:, f], cost[:, f], np.inf)
            g = float(np.sum(np.maximum(0.0, np.where(np.isfinite(cur), cur, cost[:, F]) - new)))
            g -= 1e-6 * fixed[f]  # tie-break: cheaper site
            if g > gain:
                best, gain = f, g
        if best < 0:
            break
        opened.add(best)
        extra.append(best)
    if extra:
        allowed = np.zeros(F + 1, dtype=bool)
        allowed[sorted(opened)] = True
        allowed[F] = True
        f2 = fixed.copy()
        f2[sorted(opened)] = 0.0
        res2 = solve(f2, allowed)
        if res2.status not in ("infeasible", "no_solution"):
            res = res2
    assign = res.assign
    pp_fw = {int(pickups[i]): int(assign[i]) for i in range(n) if assign[i] < F}
    opened_arr = np.array(sorted(opened), dtype=np.int64)
    stats = LocationStats(res.status, float(res.objective), float(res.bound), bool(res.optimal), float(res.wall_s),
                          int(len(opened_arr)))
    return ForwardSiting(open=opened_arr, pp_fw=pp_fw, stats=stats, extra=extra)


def reach_radius_m(region: Region, minutes: float, kmh: float | None = None) -> float:
    """Largest straight-line radius whose road distance is driven within ``minutes`` at peak speed."""
    pol = region.doc.policies
    kmh = peak_kmh(region) if kmh is None else kmh
    road = minutes / 60.0 * kmh
    s = np.linspace(0.0, max(road, 0.01), 4001)
    band = np.searchsorted(np.asarray(pol.circuity_breaks_km), s, side="right")
    fac = np.asarray(pol.circuity_factors)[band]
    ok = s * fac <= road + 1e-9
    return float(s[ok].max()) * 1000.0
