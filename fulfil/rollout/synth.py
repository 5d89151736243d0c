"""Synthesise a rollout region (the bundled ``scenarios/rollout_region`` and small test regions).

The bundled region is the urban part of **Yuelu District, Changsha** (west bank of the
Xiang River) with *approximate* real coordinates: the boundary follows the river on the
east and the western ring roads on the west; Yuelu Mountain, Meixi Lake and the Yanghu
wetland are kept free of communities; density centres sit at Yinpenling/Guanshaling,
Wangchengpo/Xianjiahu, the university town, Meixi Lake new town, Lugu, Yanghu, Pingtang
and Jinxing.  The communities, sites and competitors are synthetic, drawn from a fixed
seed with numbers from DOMAIN.md (§1.3, §4, §5, §7); see the folder's README.

Run ``python -m fulfil.rollout.synth OUT_DIR`` to rewrite the bundled files (same seed →
same files byte for byte).
"""

from __future__ import annotations

import json
import math
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

KM_PER_DEG_LAT = 111.195

#: Yuelu District urban area (approximate; lon, lat).
YUELU_BOUNDARY = (
    (112.963, 28.268), (112.958, 28.235), (112.956, 28.205), (112.955, 28.178), (112.958, 28.150),
    (112.962, 28.118), (112.966, 28.090), (112.930, 28.086), (112.895, 28.092), (112.860, 28.110),
    (112.830, 28.135), (112.805, 28.170), (112.803, 28.215), (112.825, 28.250), (112.860, 28.268),
    (112.910, 28.272),
)
#: (lon, lat, radius km): Yuelu Mountain scenic area, Meixi Lake, Yanghu wetland.
YUELU_EXCLUDED = ((112.937, 28.185, 1.4), (112.853, 28.196, 0.8), (112.928, 28.113, 0.7))
#: (lon, lat, weight, sigma km, basket factor)
YUELU_CENTRES = (
    (112.948, 28.225, 1.0, 1.4, 1.00),  # Yinpenling / Guanshaling / Wangyue
    (112.902, 28.208, 1.0, 1.5, 1.00),  # Wangchengpo / Xianjiahu
    (112.944, 28.158, 0.7, 1.2, 0.90),  # university town / Lushan South Road
    (112.852, 28.185, 0.7, 1.4, 1.15),  # Meixi Lake new town
    (112.868, 28.232, 0.6, 1.5, 1.05),  # Lugu high-tech zone
    (112.925, 28.128, 0.6, 1.5, 1.05),  # Yanghu / Xiangjiang New Area south
    (112.898, 28.150, 0.4, 1.7, 0.95),  # Pingtang / Hanwangling
    (112.918, 28.250, 0.5, 1.3, 1.00),  # Jinxing north
)
#: The central warehouse: Wangcheng economic development zone, north of the district.
YUELU_CENTRAL = (112.885, 28.330)


@dataclass(frozen=True)
class SynthConfig:
    name: str = "yuelu_rollout"
    seed: int = 2024
    communities: int = 300
    forward_sites: int = 20
    competitors: int = 30
    #: scale the demand (tests use small regions)
    households_mean: float = 800.0
    pilot_communities: int = 40
    days: int = 30
    solution_limit: int = 30


def _in_poly(pt: tuple[float, float], poly) -> bool:  # noqa: ANN001
    from shapely.geometry import Point

    return poly.contains(Point(*pt))


def synthesise(cfg: SynthConfig = SynthConfig()) -> dict[str, str]:
    """``{file name: text}`` of a region folder."""
    from shapely.geometry import Point, Polygon

    rng = np.random.default_rng(cfg.seed)
    lat0 = 28.18
    dlon = 1.0 / (KM_PER_DEG_LAT * math.cos(math.radians(lat0)))
    dlat = 1.0 / KM_PER_DEG_LAT
    poly = Polygon(YUELU_BOUNDARY)
    inner = poly.buffer(-0.004)
    excluded = [Point(lo, la).buffer(r * dlat * 1.05) for lo, la, r in YUELU_EXCLUDED]

    def ok(lo: float, la: float) -> bool:
        p = Point(lo, la)
        return inner.contains(p) and not any(e.contains(p) for e in excluded)

    # --- communities around density centres
    w = np.array([c[2] for c in YUELU_CENTRES])
    comm = []
    while len(comm) < cfg.communities:
        k = int(rng.choice(len(YUELU_CENTRES), p=w / w.sum()))
        lo0, la0, _, sig, basket = YUELU_CENTRES[k]
        lo = lo0 + rng.normal(0, sig) * dlon
        la = la0 + rng.normal(0, sig) * dlat
        if not ok(lo, la):
            continue
        if any(abs(lo - c[0]) < 0.0025 and abs(la - c[1]) < 0.0022 for c in comm):
            continue  # keep communities ~250 m apart
        dist_km = math.hypot((lo - lo0) / dlon, (la - la0) / dlat)
        hh = int(np.clip(rng.lognormal(math.log(cfg.households_mean) - 0.125, 0.5), 200, 3000))
        dens = float(np.clip(rng.normal(170 - 25 * dist_km, 25), 50, 250))  # households per hectare
        bf = float(np.clip(basket * rng.lognormal(0, 0.1), 0.6, 1.6))
        comm.append((round(lo, 6), round(la, 6), hh, round(hh / dens, 2), round(bf, 3), k))

    # --- candidate pickup sites: leader shops near gates, locker sites
    pps = []
    for i, (lo, la, hh, _, _, _) in enumerate(comm):
        new_highrise = rng.random() < 0.2
        n_shop = 0 if new_highrise else int(np.clip(rng.poisson(1.3), 1, 3))
        n_locker = 1 if (new_highrise or rng.random() < 0.35) else 0
        for kind, n in (("leader_shop", n_shop), ("locker", n_locker)):
            for _ in range(n):
                for _try in range(20):
                    r = rng.uniform(60, 380)
                    a = rng.uniform(0, 2 * math.pi)
                    plo, pla = lo + r * 1e-3 * math.cos(a) * dlon, la + r * 1e-3 * math.sin(a) * dlat
                    if inner.contains(Point(plo, pla)):
                        break
                if kind == "leader_shop":
                    cap = int(np.clip(rng.lognormal(math.log(200), 0.3), 120, 400))
                    cost = round(float(rng.uniform(8, 20)), 1)
                    cells = ("", "", "")
                else:
                    cap = int(rng.integers(150, 251))
                    cost = round(float(rng.uniform(60, 110)), 1)
                    cells = (int(rng.integers(8, 13)), int(rng.integers(20, 31)), int(rng.integers(40, 61)))
                pps.append((kind, round(plo, 6), round(pla, 6), cost, cap, cells, i))

    # --- candidate forward-warehouse sites: ring-road edge (cheaper) and inner mixed-use (dearer)
    fws = []
    cen = np.array(poly.centroid.coords[0])
    ring = poly.exterior
    n_edge = int(round(cfg.forward_sites * 0.6))
    for j in range(cfg.forward_sites):
        for _try in range(200):
            if j < n_edge:
                p = ring.interpolate(float(rng.uniform(0, 1)), normalized=True)
                lo, la = p.x + (cen[0] - p.x) * 0.08, p.y + (cen[1] - p.y) * 0.08
            else:
                c = comm[int(rng.integers(len(comm)))]
                lo, la = c[0] + rng.normal(0, 1.2) * dlon, c[1] + rng.normal(0, 1.2) * dlat
            if ok(lo, la) and all(math.hypot((lo - f[0]) / dlon, (la - f[1]) / dlat) > 1.5 for f in fws):
                break
        edge = j < n_edge
        month = rng.uniform(80_000, 140_000) if edge else rng.uniform(120_000, 200_000)
        cap = int(round(rng.uniform(3000, 8000) / 500) * 500)
        fws.append((round(lo, 6), round(la, 6), round(month / 30.0, 0), cap, edge))

    # --- competitors: other platforms' pickup points near dense communities
    dens_w = np.array([c[2] / c[3] for c in comm])
    comp = []
    for _ in range(cfg.competitors):
        c = comm[int(rng.choice(len(comm), p=dens_w / dens_w.sum()))]
        comp.append((round(c[0] + rng.normal(0, 0.35) * dlon, 6), round(c[1] + rng.normal(0, 0.35) * dlat, 6)))

    files: dict[str, str] = {}
    files["boundary.geojson"] = json.dumps({
        "type": "FeatureCollection",
        "features": [{"type": "Feature", "properties": {"name": "Yuelu District (urban area, approximate)"},
                      "geometry": {"type": "Polygon", "coordinates": [[list(p) for p in
                                                                        (*YUELU_BOUNDARY, YUELU_BOUNDARY[0])]]}}],
    }, indent=1) + "\n"
    lines = ["id,name,lon,lat,households,area_ha,basket_factor"]
    for i, (lo, la, hh, area, bf, k) in enumerate(comm):
        lines.append(f"C{i + 1:03d},,{lo},{la},{hh},{area},{bf}")
    files["communities.csv"] = "\n".join(lines) + "\n"
    lines = ["id,name,lon,lat,fixed_cost_day,capacity_orders"]
    for j, (lo, la, cost, cap, edge) in enumerate(fws):
        lines.append(f"FW{j + 1:02d},{'ring-road edge' if edge else 'inner mixed-use'},{lo},{la},{cost:.0f},{cap}")
    files["forward_sites.csv"] = "\n".join(lines) + "\n"
    lines = ["id,kind,lon,lat,cost_day,capacity_orders,cells_frozen,cells_chilled,cells_ambient"]
    n_l = n_k = 0
    for kind, lo, la, cost, cap, cells, _ in pps:
        if kind == "leader_shop":
            n_l += 1
            pid = f"LS{n_l:04d}"
        else:
            n_k += 1
            pid = f"LK{n_k:04d}"
        lines.append(f"{pid},{kind},{lo},{la},{cost},{cap},{cells[0]},{cells[1]},{cells[2]}")
    files["pickup_sites.csv"] = "\n".join(lines) + "\n"
    lines = ["id,lon,lat,kind"]
    for i, (lo, la) in enumerate(comp):
        lines.append(f"K{i + 1:02d},{lo},{la},competitor pickup point")
    files["competitors.csv"] = "\n".join(lines) + "\n"
    files["region.toml"] = _toml(cfg)
    return files


def _toml(cfg: SynthConfig) -> str:
    return f'''# Rollout region: Yuelu District, Changsha (urban west bank; approximate real coordinates).
# Written by `python -m fulfil.rollout.synth` (seed {cfg.seed}); numbers from shared DOMAIN.md, see README.md.
format_version = 1
name = "{cfg.name}"
city = "Changsha"
description = "Yuelu District rollout: {cfg.communities} communities, {cfg.forward_sites} candidate grid-warehouse sites"
boundary = "boundary.geojson"
communities_csv = "communities.csv"
forward_sites_csv = "forward_sites.csv"
pickup_sites_csv = "pickup_sites.csv"
competitors_csv = "competitors.csv"

[central_warehouse]            # Wangcheng economic development zone (approximate)
id = "CW1"
name = "Changsha central warehouse (Wangcheng)"
lon = {YUELU_CENTRAL[0]}
lat = {YUELU_CENTRAL[1]}

[demand]
penetration = {{ pilot = 0.15, surrounding = 0.22, full = 0.28 }}   # share of households that buy
competitor_distance_km = [0.5, 1.0, 2.0]
competitor_factor = [0.6, 0.75, 0.9, 1.0]
orders_per_household_day = 0.3    # a customer household orders on ~30 % of days (DOMAIN 1.3: 20-40 %)
weekday_factors = [0.95, 0.95, 0.95, 1.0, 1.05, 1.1, 1.0]          # Mon..Sun
month_factors = [1.15, 1.2, 1.0, 0.95, 0.95, 1.0, 1.05, 1.05, 1.0, 1.0, 1.05, 1.1]
day_sigma = 0.08
community_sigma = 0.15
basket_mix = {{ frozen = 0.15, chilled = 0.40, ambient = 0.45 }}    # DOMAIN 7
items_per_order = 2.2                                                # DOMAIN 1.3
average_order_value = 12.0                                           # RMB, DOMAIN 7

[phasing]
pilot_radius_km = 3.0
pilot_communities = {cfg.pilot_communities}
surrounding_radius_km = 5.0
score_weights = {{ density = 0.5, basket = 0.2, competition = 0.3 }}

[siting]
walk_radius_m = 500.0          # 10-minute life circle (DOMAIN 5)
reach_minutes = 45.0           # direct drive at peak speed; the rest of the 2-hour promise is for the route
design_peak_factor = 1.25
stop_minutes = 6.5
hop_minutes = 4.0
walk_cost_per_order_km = 0.5
time_limit_s = 60.0

[windows]
leader_shop = ["07:00", "11:30"]
locker = ["06:30", "12:00"]

[simulation]
days = {cfg.days}
variants = ["lockers", "no_lockers"]     # run when --variants is not given; the first is the baseline
start_date = 2024-03-04
solution_limit = {cfg.solution_limit}
seed = 1

[policies]
trunk_departure = "01:30"
trunk_receiving = ["02:00", "06:00"]
last_mile_dispatch = "07:00"
promise_minutes = 120

[[speed_profiles]]
id = "light_truck"             # DOMAIN 3.1
free_flow_kmh = 40.0
hourly_factors = [1.15, 1.15, 1.15, 1.15, 1.15, 1.15, 0.9, 0.5, 0.5, 0.7, 0.7, 0.7, 0.7, 0.7, 0.7, 0.7, 0.7, 0.5, 0.5, 0.5, 0.85, 0.85, 0.85, 1.15]

[[speed_profiles]]
id = "trunk_night"
free_flow_kmh = 50.0
hourly_factors = [1.15, 1.15, 1.15, 1.15, 1.15, 1.15, 0.9, 0.5, 0.5, 0.7, 0.7, 0.7, 0.7, 0.7, 0.7, 0.7, 0.7, 0.5, 0.5, 0.5, 0.85, 0.85, 0.85, 1.15]

[[trunk_fleet]]
id = "reefer96"
name = "9.6 m reefer, 2 zones"
compartments = [{{ zone = "frozen", crates = 400, kg = 5000.0 }}, {{ zone = "chilled", crates = 700, kg = 7000.0 }}]
refrigerated = true
fixed_cost = 1500.0
cost_per_km = 3.5
cost_per_hour = 10.0
shift = ["00:30", "09:00"]
speed_profile = "trunk_night"
min_count = 2
per_forward_warehouse = 1.0

[[trunk_fleet]]
id = "dry96"
name = "9.6 m box truck"
compartments = [{{ zone = "ambient", crates = 1100, kg = 12000.0 }}]
refrigerated = false
fixed_cost = 1200.0
cost_per_km = 3.0
shift = ["00:30", "09:00"]
speed_profile = "trunk_night"
min_count = 2
per_forward_warehouse = 1.0

[[fleets.default]]
id = "reefer42"
name = "4.2 m reefer, 3 zones"
compartments = [{{ zone = "frozen", crates = 60, kg = 500.0 }}, {{ zone = "chilled", crates = 120, kg = 800.0 }}, {{ zone = "ambient", crates = 120, kg = 900.0 }}]
refrigerated = true
fixed_cost = 750.0
cost_per_km = 1.5
cost_per_hour = 8.0
shift = ["05:00", "15:00"]
speed_profile = "light_truck"
min_count = 2
per_pickup_point = 0.2

[[fleets.default]]
id = "van"
name = "van with insulated boxes"
compartments = [{{ zone = "chilled", crates = 30, kg = 300.0 }}, {{ zone = "ambient", crates = 60, kg = 500.0 }}]
refrigerated = false
insulated_box_minutes = 240.0
fixed_cost = 350.0
cost_per_km = 0.8
shift = ["05:00", "15:00"]
speed_profile = "light_truck"
min_count = 1
per_pickup_point = 0.03

[[fleets.split]]
id = "reefer42c"
name = "4.2 m reefer, frozen + chilled"
compartments = [{{ zone = "frozen", crates = 80, kg = 600.0 }}, {{ zone = "chilled", crates = 160, kg = 1100.0 }}]
refrigerated = true
fixed_cost = 750.0
cost_per_km = 1.5
cost_per_hour = 8.0
shift = ["05:00", "15:00"]
speed_profile = "light_truck"
min_count = 2
per_pickup_point = 0.2

[[fleets.split]]
id = "dry42"
name = "4.2 m ambient truck"
compartments = [{{ zone = "ambient", crates = 200, kg = 1600.0 }}]
refrigerated = false
fixed_cost = 550.0
cost_per_km = 1.1
shift = ["05:00", "15:00"]
speed_profile = "light_truck"
min_count = 1
per_pickup_point = 0.08

[variants.lockers]
description = "baseline: leader shops and lockers, 07:00 dispatch, 4.2 m reefers + vans"

[variants.no_lockers]
description = "leader shops only"
lockers = false

[variants.off_peak]
description = "off-peak delivery: dispatch 05:30 before the morning peak (leaders receive at dawn)"
last_mile_dispatch = "05:30"
trunk_departure = "00:30"
trunk_receiving = ["01:00", "05:00"]
leader_window = ["05:30", "11:30"]
locker_window = ["05:00", "12:00"]

[variants.extra_fw]
description = "one more forward warehouse than the baseline in every phase"
extra_forward_warehouses = 1

[variants.split_fleet]
description = "fleet mix: 2-zone reefers for cold goods, cheaper ambient trucks free of the 2-hour promise"
fleet = "split"
'''


def write_region(out_dir: str | Path, cfg: SynthConfig = SynthConfig()) -> Path:
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    for name, text in synthesise(cfg).items():
        (out / name).write_text(text, encoding="utf-8")
    return out / "region.toml"


if __name__ == "__main__":  # pragma: no cover
    if len(sys.argv) != 2:
        sys.exit("usage: python -m fulfil.rollout.synth OUT_DIR")
    print(write_region(sys.argv[1]))
