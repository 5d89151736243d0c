"""Synthetic scenarios from a seed and a few size knobs, with numbers from DOMAIN.md §7.

The generator places pickup points around density centres of a real city, puts the
forward warehouses at the centres of k-means clusters of the pickup points, puts the
central warehouses on the city edge, draws tonight's orders, and sizes every fleet
with head-room.  It is *feasible by construction*:

* every pickup point lies within ``max_radius_km`` of its cluster's forward
  warehouse, so one direct trip at the slowest (peak) speed plus service fits the
  2-hour promise with a wide margin;
* every last-mile fleet gets about 1.6 × the routes a 2-hour wave needs (estimated
  from cluster size and spread), shared by the waves a vehicle makes: ``max_trips``
  (written into the scenario's policies; default 2), of which at most two fit between
  the 07:00 dispatch and the shops' 11:30 close, so a two-trip city gets about half the
  vans of a one-trip city; every forward warehouse 1.6 × its expected load
  as capacity, and the trunk fleet 1.5 × the trunk load in truck-loads;
* no pickup point orders more than one compartment holds, and every locker gets at
  least as many cells per zone as its crates need.

The same seed and knobs give the same files byte for byte.
"""

from __future__ import annotations

import io
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from fulfil.scenario.schema import DEFAULT_HOURLY_FACTORS

KM_PER_DEG_LAT = 111.195


#: 2-hour waves between the 07:00 dispatch and the shops' 11:30 close, each after a reload
WAVES_THAT_FIT = 2


@dataclass(frozen=True)
class City:
    name: str
    lon: float
    lat: float
    width_km: float
    height_km: float
    #: (lon, lat, weight, sigma_km) density centres
    centres: tuple[tuple[float, float, float, float], ...]
    #: (lon, lat) candidate central-warehouse sites on the edge
    central_sites: tuple[tuple[float, float], ...]


#: Changsha (Hunan): centres at the old town (Wuyi Square), Yuelu, Kaifu, Yuhua,
#: Tianxin and Xingsha (approximate coordinates).  Central warehouse in the east,
#: toward the airport logistics zone.
CHANGSHA = City(
    name="Changsha",
    lon=112.98,
    lat=28.20,
    width_km=26.0,
    height_km=26.0,
    centres=(
        (112.977, 28.196, 1.0, 2.2),
        (112.935, 28.225, 0.6, 2.5),
        (113.000, 28.255, 0.7, 2.4),
        (113.020, 28.140, 0.7, 2.6),
        (112.975, 28.130, 0.5, 2.2),
        (113.075, 28.240, 0.4, 2.5),
    ),
    central_sites=((113.105, 28.195),),
)

#: Shanghai: Huangpu, Jing'an, Xujiahui, Lujiazui/Pudong, Yangpu, Putuo, Minhang,
#: Baoshan, Jiading, Songjiang, Zhangjiang, Hongqiao (approximate coordinates).
SHANGHAI = City(
    name="Shanghai",
    lon=121.47,
    lat=31.22,
    width_km=60.0,
    height_km=50.0,
    centres=(
        (121.485, 31.230, 1.0, 3.0),
        (121.445, 31.228, 0.9, 2.8),
        (121.437, 31.190, 0.8, 3.0),
        (121.530, 31.225, 0.9, 3.5),
        (121.520, 31.280, 0.7, 3.0),
        (121.400, 31.250, 0.6, 3.0),
        (121.390, 31.110, 0.6, 4.0),
        (121.480, 31.370, 0.5, 4.0),
        (121.250, 31.370, 0.4, 4.0),
        (121.220, 31.030, 0.4, 4.5),
        (121.600, 31.200, 0.5, 4.0),
        (121.330, 31.200, 0.5, 3.5),
    ),
    central_sites=((121.250, 31.300), (121.640, 31.300), (121.400, 31.030)),
)

CITIES = {"changsha": CHANGSHA, "shanghai": SHANGHAI}

#: Product catalogue: id, name, zone, minutes allowed out of zone, kg/unit,
#: units/crate, price (RMB), share of the zone's items.  Limits follow DOMAIN.md
#: §2.1/§2.4 (ice cream and chilled meat are the most sensitive).
PRODUCTS = (
    ("leafy_veg", "leafy vegetables", "chilled", 120, 0.5, 16, 4.5, 0.30),
    ("fruit", "cut and soft fruit", "chilled", 120, 0.9, 12, 9.0, 0.25),
    ("chilled_meat", "chilled pork and poultry", "chilled", 60, 0.6, 14, 18.0, 0.20),
    ("dairy", "fresh milk and yoghurt", "chilled", 90, 0.5, 20, 6.0, 0.25),
    ("dumplings", "frozen dumplings", "frozen", 45, 0.9, 16, 15.0, 0.45),
    ("ice_cream", "ice cream", "frozen", 20, 0.3, 24, 8.0, 0.25),
    ("frozen_seafood", "frozen shrimp and fish", "frozen", 45, 0.8, 16, 25.0, 0.30),
    ("rice_oil", "rice, flour, oil", "ambient", 1440, 2.5, 8, 20.0, 0.25),
    ("snacks", "snacks and drinks", "ambient", 1440, 0.6, 15, 5.0, 0.45),
    ("household", "tissue and household", "ambient", 1440, 0.7, 10, 7.0, 0.30),
)
ZONE_SHARE = {"ambient": 0.45, "chilled": 0.40, "frozen": 0.15}


@dataclass(frozen=True)
class GenerateConfig:
    """Size knobs; defaults are the demo city of DOMAIN.md §7."""

    name: str = "demo_city"
    city: str = "changsha"
    seed: int = 7
    central_warehouses: int = 1
    forward_warehouses: int = 8
    pickup_points: int = 400
    locker_share: float = 0.125
    orders: int = 20_000
    orders_sigma: float = 0.6
    orders_cap: int = 400
    max_radius_km: float = 7.0
    description: str = ""
    #: trips a last-mile vehicle may make (``policies.max_trips``); the fleet is sized for them
    max_trips: int = 2
    zone_share: dict[str, float] = field(default_factory=lambda: dict(ZONE_SHARE))

    def __post_init__(self) -> None:
        if self.city not in CITIES:
            raise ValueError(f"unknown city '{self.city}'; choose from {', '.join(CITIES)}")
        if self.central_warehouses < 1 or self.forward_warehouses < 1 or self.pickup_points < 1:
            raise ValueError("need at least one central warehouse, forward warehouse and pickup point")
        if self.forward_warehouses > self.pickup_points:
            raise ValueError("more forward warehouses than pickup points")
        if self.central_warehouses > len(CITIES[self.city].central_sites):
            raise ValueError(
                f"{self.city} has {len(CITIES[self.city].central_sites)} central-warehouse sites"
            )
        if not 0 <= self.locker_share <= 1:
            raise ValueError("locker_share must be within 0..1")
        if self.orders < self.pickup_points:
            raise ValueError("need at least one order per pickup point")
        if not 1 <= self.max_trips <= 6:
            raise ValueError("max_trips must be within 1..6")


def _km_to_deg(lat: float) -> tuple[float, float]:
    return 1.0 / (KM_PER_DEG_LAT * math.cos(math.radians(lat))), 1.0 / KM_PER_DEG_LAT


def _kmeans(xy: np.ndarray, k: int, rng: np.random.Generator, iters: int = 40) -> np.ndarray:
    """Plain Lloyd's k-means with k-means++ seeding; returns labels."""
    n = len(xy)
    centres = [xy[rng.integers(n)]]
    d2 = ((xy - centres[0]) ** 2).sum(1)
    for _ in range(1, k):
        idx = rng.choice(n, p=d2 / d2.sum()) if d2.sum() > 0 else rng.integers(n)
        centres.append(xy[idx])
        d2 = np.minimum(d2, ((xy - xy[idx]) ** 2).sum(1))
    c = np.array(centres)
    labels = np.zeros(n, dtype=np.int64)
    for _ in range(iters):
        dist = ((xy[:, None, :] - c[None, :, :]) ** 2).sum(2)
        labels = dist.argmin(1)
        new = np.array([xy[labels == j].mean(0) if (labels == j).any() else c[j] for j in range(k)])
        if np.allclose(new, c):
            break
        c = new
    return labels


def generate(cfg: GenerateConfig) -> dict[str, str]:
    """Return ``{file name: text}`` for the scenario file and its CSV tables."""
    rng = np.random.default_rng(cfg.seed)
    city = CITIES[cfg.city]
    dlon, dlat = _km_to_deg(city.lat)
    half_w, half_h = city.width_km / 2, city.height_km / 2

    # --- pickup points around density centres (km coordinates relative to centre)
    weights = np.array([c[2] for c in city.centres])
    which = rng.choice(len(city.centres), size=cfg.pickup_points, p=weights / weights.sum())
    pts = np.empty((cfg.pickup_points, 2))
    for i, c in enumerate(which):
        lon0, lat0, _, sigma = city.centres[c]
        while True:
            x = (lon0 - city.lon) / dlon + rng.normal(0, sigma)
            y = (lat0 - city.lat) / dlat + rng.normal(0, sigma)
            if abs(x) <= half_w and abs(y) <= half_h:
                break
        pts[i] = (x, y)

    labels = _kmeans(pts, cfg.forward_warehouses, rng)
    fw_xy = np.array([pts[labels == j].mean(0) for j in range(cfg.forward_warehouses)])
    # pull far-flung points inside the service radius of their warehouse
    for i in range(cfg.pickup_points):
        v = pts[i] - fw_xy[labels[i]]
        r = float(np.hypot(*v))
        if r > cfg.max_radius_km:
            pts[i] = fw_xy[labels[i]] + v * (cfg.max_radius_km * rng.uniform(0.6, 1.0) / r)

    is_locker = np.zeros(cfg.pickup_points, dtype=bool)
    n_lockers = int(round(cfg.locker_share * cfg.pickup_points))
    is_locker[rng.choice(cfg.pickup_points, size=n_lockers, replace=False)] = True

    # --- orders per pickup point: lognormal, capped, scaled to the total
    raw = rng.lognormal(0.0, cfg.orders_sigma, cfg.pickup_points) * np.where(is_locker, 0.5, 1.0)
    orders = np.maximum(1, np.minimum(cfg.orders_cap, np.round(raw / raw.sum() * cfg.orders))).astype(np.int64)
    diff = cfg.orders - int(orders.sum())
    order_idx = np.argsort(-orders, kind="stable")
    k = 0
    while diff != 0 and k < 10 * cfg.pickup_points:
        i = order_idx[k % cfg.pickup_points]
        step = 1 if diff > 0 else -1
        if 1 <= orders[i] + step <= cfg.orders_cap:
            orders[i] += step
            diff -= step
        k += 1

    # --- items per order 1 + Poisson(1.2), split over zones and products
    prod_ids = [p[0] for p in PRODUCTS]
    items = np.zeros((cfg.pickup_points, len(PRODUCTS)), dtype=np.int64)
    zone_names = list(cfg.zone_share)
    zone_p = np.array([cfg.zone_share[z] for z in zone_names])
    zone_p = zone_p / zone_p.sum()
    for i in range(cfg.pickup_points):
        n_items = int(orders[i] + rng.poisson(1.2 * orders[i]))
        per_zone = rng.multinomial(n_items, zone_p)
        for z, nz in zip(zone_names, per_zone, strict=True):
            cols = [j for j, p in enumerate(PRODUCTS) if p[2] == z]
            share = np.array([PRODUCTS[j][7] for j in cols])
            items[i, cols] += rng.multinomial(nz, share / share.sum())

    crates = np.zeros((cfg.pickup_points, 3))
    zidx = {"frozen": 0, "chilled": 1, "ambient": 2}
    for j, p in enumerate(PRODUCTS):
        crates[:, zidx[p[2]]] += items[:, j] / p[5]
    crates = np.ceil(crates - 1e-9)

    # --- positions → lon/lat
    def lonlat(xy: np.ndarray) -> tuple[float, float]:
        return round(city.lon + xy[0] * dlon, 6), round(city.lat + xy[1] * dlat, 6)

    pp_ll = [lonlat(p) for p in pts]
    fw_ll = [lonlat(p) for p in fw_xy]
    cw_ll = list(city.central_sites[: cfg.central_warehouses])
    cw_xy = np.array([((lo - city.lon) / dlon, (la - city.lat) / dlat) for lo, la in cw_ll])
    fw_central = [int(np.argmin(((cw_xy - f) ** 2).sum(1))) for f in fw_xy]

    # --- fleets sized from the clusters (see module docstring)
    lm_types = []
    trunk_load = np.zeros((cfg.central_warehouses, 3))
    fw_capacity = []
    for j in range(cfg.forward_warehouses):
        members = np.flatnonzero(labels == j)
        load = crates[members].sum(0)
        trunk_load[fw_central[j]] += load
        fw_capacity.append({z: int(math.ceil(load[zidx[z]] * 1.6 + 20)) for z in ("frozen", "chilled", "ambient")})
        spread = float(np.mean(np.hypot(*(pts[members] - fw_xy[j]).T))) if len(members) else 1.0
        # a 2-hour wave at peak speed (~20 km/h road, circuity 1.35): out-and-back
        # plus ~6.5 min service and ~1.6 km hops between neighbours per stop
        hop_min = 60 * 1.35 * max(0.8, 1.6 * spread / max(1.0, math.sqrt(len(members)) / 2)) / 20
        reach_min = 60 * 1.35 * spread / 20
        stops_per_route = max(3, int((120 - reach_min) / (6.5 + hop_min)))
        routes = math.ceil(len(members) / stops_per_route)
        waves = min(cfg.max_trips, WAVES_THAT_FIT)
        fw_id = f"FW{j + 1:02d}"
        lm_types.append(dict(
            id=f"{fw_id}_reefer", name="4.2 m reefer, 3 zones", tier="last_mile", home=fw_id,
            count=int(math.ceil(routes * 1.6 / waves)) + 1,
            compartments=[dict(zone="frozen", crates=60, kg=500.0), dict(zone="chilled", crates=120, kg=800.0),
                          dict(zone="ambient", crates=120, kg=900.0)],
            refrigerated=True, fixed_cost=750.0, cost_per_km=1.5, cost_per_hour=8.0,
            shift=["06:00", "16:00"], speed_profile="light_truck",
        ))
        lm_types.append(dict(
            id=f"{fw_id}_van", name="van with insulated boxes", tier="last_mile", home=fw_id, count=2,
            compartments=[dict(zone="chilled", crates=30, kg=300.0), dict(zone="ambient", crates=60, kg=500.0)],
            refrigerated=False, insulated_box_minutes=240.0, fixed_cost=350.0, cost_per_km=0.8,
            cost_per_hour=0.0, shift=["06:00", "16:00"], speed_profile="light_truck",
        ))

    trunk_types = []
    for c in range(cfg.central_warehouses):
        cw_id = f"CW{c + 1}"
        cold = trunk_load[c, 0] + trunk_load[c, 1]
        n_fw_c = sum(1 for f in fw_central if f == c)
        trunk_types.append(dict(
            id=f"{cw_id}_reefer", name="9.6 m reefer, 2 zones", tier="trunk", home=cw_id,
            count=max(2, int(math.ceil(cold / 900 * 1.5)), int(math.ceil(n_fw_c / 3 * 1.5))),
            compartments=[dict(zone="frozen", crates=400, kg=5000.0), dict(zone="chilled", crates=700, kg=7000.0)],
            refrigerated=True, fixed_cost=1500.0, cost_per_km=3.5, cost_per_hour=10.0,
            shift=["01:00", "09:00"], speed_profile="trunk_night",
        ))
        trunk_types.append(dict(
            id=f"{cw_id}_dry", name="9.6 m box truck", tier="trunk", home=cw_id,
            count=max(2, int(math.ceil(trunk_load[c, 2] / 1100 * 1.5)), int(math.ceil(n_fw_c / 3 * 1.5))),
            compartments=[dict(zone="ambient", crates=1100, kg=12000.0)],
            refrigerated=False, fixed_cost=1200.0, cost_per_km=3.0, cost_per_hour=0.0,
            shift=["01:00", "09:00"], speed_profile="trunk_night",
        ))

    # --- documents
    r = dict(
        name=city.name,
        lon_min=round(city.lon - (city.width_km / 2 + 8) * dlon, 4),
        lon_max=round(city.lon + (city.width_km / 2 + 8) * dlon, 4),
        lat_min=round(city.lat - (city.height_km / 2 + 8) * dlat, 4),
        lat_max=round(city.lat + (city.height_km / 2 + 8) * dlat, 4),
    )
    pp_file = f"{cfg.name}_pickup_points.csv"
    dm_file = f"{cfg.name}_demand.csv"
    total_orders = int(orders.sum())
    desc = cfg.description or (
        f"{city.name}: {cfg.central_warehouses} central, {cfg.forward_warehouses} forward warehouses, "
        f"{cfg.pickup_points} pickup points, {total_orders} orders (fulfil generate, seed {cfg.seed})"
    )
    doc: list[str] = [
        "# Generated by `fulfil generate`; numbers from shared DOMAIN.md section 7.",
        f"# Regenerate: fulfil generate --city {cfg.city} --seed {cfg.seed} --central {cfg.central_warehouses} "
        f"--forward {cfg.forward_warehouses} --pickups {cfg.pickup_points} --orders {cfg.orders} "
        f"--max-trips {cfg.max_trips} --name {cfg.name}",
        "format_version = 1",
        f"name = {_q(cfg.name)}",
        f"description = {_q(desc)}",
        f"pickup_points_csv = {_q(pp_file)}",
        f"demand_csv = {_q(dm_file)}",
        "",
        "[region]",
        *[f"{k} = {_v(v)}" for k, v in r.items()],
        "",
        "[policies]",
        'trunk_departure = "01:30"',
        'trunk_receiving = ["02:00", "06:00"]',
        'last_mile_dispatch = "07:00"',
        "promise_minutes = 120",
        f"max_trips = {cfg.max_trips}",
        "service_fixed_min = 5.0",
        "service_per_crate_min = 0.15",
        "locker_fixed_min = 4.0",
        "locker_per_cell_min = 0.3",
        "trunk_unload_fixed_min = 20.0",
        "trunk_unload_per_crate_min = 0.05",
        "unserved_penalty_per_crate = 2000.0",
        "",
        "[[speed_profiles]]",
        'id = "light_truck"',
        "free_flow_kmh = 40.0",
        "hourly_factors = " + _v(list(DEFAULT_HOURLY_FACTORS)),
        "",
        "[[speed_profiles]]",
        'id = "trunk_night"',
        "free_flow_kmh = 50.0",
        "hourly_factors = " + _v(list(DEFAULT_HOURLY_FACTORS)),
        "",
    ]
    for p in PRODUCTS:
        doc += ["[[products]]", f"id = {_q(p[0])}", f"name = {_q(p[1])}", f"zone = {_q(p[2])}",
                f"max_minutes_out_of_zone = {p[3]}", f"kg_per_unit = {p[4]}", f"units_per_crate = {p[5]}",
                f"price = {p[6]}", ""]
    for c, (lo, la) in enumerate(cw_ll):
        doc += ["[[central_warehouses]]", f'id = "CW{c + 1}"', f"lon = {lo}", f"lat = {la}", ""]
    for j, (lo, la) in enumerate(fw_ll):
        doc += ["[[forward_warehouses]]", f'id = "FW{j + 1:02d}"', f"lon = {lo}", f"lat = {la}",
                f'central = "CW{fw_central[j] + 1}"', f"capacity = {_v(fw_capacity[j])}", ""]
    for t in trunk_types + lm_types:
        doc.append("[[vehicle_types]]")
        doc += [f"{k} = {_v(v)}" for k, v in t.items()]
        doc.append("")

    pp = io.StringIO()
    pp.write("id,kind,lon,lat,open,close,cells_frozen,cells_chilled,cells_ambient\n")
    for i in range(cfg.pickup_points):
        lo, la = pp_ll[i]
        if is_locker[i]:
            cells = [max(int(crates[i, z]) + 2, base) for z, base in ((0, 8), (1, 20), (2, 40))]
            pp.write(f"PP{i + 1:05d},locker,{lo},{la},06:30,12:00,{cells[0]},{cells[1]},{cells[2]}\n")
        else:
            pp.write(f"PP{i + 1:05d},leader_shop,{lo},{la},07:00,11:30,,,\n")
    dm = io.StringIO()
    dm.write("pickup_point,orders," + ",".join(prod_ids) + "\n")
    for i in range(cfg.pickup_points):
        dm.write(f"PP{i + 1:05d},{orders[i]}," + ",".join(str(int(q)) for q in items[i]) + "\n")
    return {f"{cfg.name}.toml": "\n".join(doc), pp_file: pp.getvalue(), dm_file: dm.getvalue()}


def _q(s: str) -> str:
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _v(v: object) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, str):
        return _q(v)
    if isinstance(v, (int, float)):
        return repr(v)
    if isinstance(v, list):
        return "[" + ", ".join(_v(x) for x in v) + "]"
    if isinstance(v, dict):
        return "{" + ", ".join(f"{k} = {_v(x)}" for k, x in v.items()) + "}"
    raise TypeError(type(v))


def write_scenario(cfg: GenerateConfig, out_dir: str | Path) -> Path:
    """Write the generated files into ``out_dir`` atomically; return the scenario path."""
    from fulfil.output import write_text_atomic

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    files = generate(cfg)
    for name, text in files.items():
        write_text_atomic(out / name, text)
    return out / f"{cfg.name}.toml"
