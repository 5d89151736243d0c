"""Rollout outputs: KPI tables (CSV and text), maps per phase (PNG + GeoJSON layers), KPI charts."""

from __future__ import annotations

import csv
import io
import json
import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from fulfil.output import write_text_atomic
from fulfil.report.tables import table
from fulfil.rollout.region import PHASES
from fulfil.rollout.simulate import KPIS

if TYPE_CHECKING:
    from fulfil.rollout.phasing import PhasePlan
    from fulfil.rollout.region import Region

SHARE_KPIS = {k for k, _, u in KPIS if u == "share"}
#: KPIs shown in the printed tables and charts (key, short label).
SHOWN = (
    ("cost_per_order", "cost/order RMB"),
    ("cost_share_of_sales", "cost/sales"),
    ("two_hour_compliance", "2-h compliance"),
    ("vehicle_utilisation", "vehicle util."),
    ("warehouse_utilisation", "warehouse util."),
    ("unserved_share", "unserved"),
)
TROUBLE_SHARE = 0.15


def _f(key: str, v: float) -> str:
    if v is None or not np.isfinite(v):
        return "-"
    if key in SHARE_KPIS:
        return f"{100 * v:.1f}%"
    if abs(v) >= 1000:
        return f"{v:,.0f}"
    return f"{v:.2f}"


def _spread(key: str, row: dict[str, Any]) -> str:
    return f"{_f(key, row['median'])} [{_f(key, row['p10'])}–{_f(key, row['p90'])}]"


def _csv(rows: list[dict[str, Any]], columns: list[str]) -> str:
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=columns, extrasaction="ignore", lineterminator="\n")
    w.writeheader()
    for r in rows:
        w.writerow({k: (round(v, 6) if isinstance(v, float) and np.isfinite(v) else
                        ("" if isinstance(v, float) else v)) for k, v in r.items()})
    return buf.getvalue()


def kpi_csv(agg: list[dict[str, Any]]) -> str:
    return _csv(agg, ["variant", "phase", "kpi", "label", "unit", "median", "p10", "p90", "mean", "n"])


def days_csv(results: list[dict[str, Any]]) -> str:
    """Every simulated day; dict columns (reasons, causes) as ``key=count;...``."""
    cols = list(results[0]) if results else []
    rows = [{k: (";".join(f"{a}={b}" for a, b in sorted(v.items())) if isinstance(v, dict) else v)
             for k, v in r.items()} for r in results]
    return _csv(rows, cols)


def trouble_line(results: list[dict[str, Any]], variant: str) -> str:
    """Days on which the delivery cost exceeded 15 % of sales, per phase."""
    parts = []
    for p in PHASES:
        rs = [r for r in results if r["variant"] == variant and r["phase"] == p]
        if rs:
            shares = [r["cost_share_of_sales"] for r in rs]
            bad = sum(1 for x in shares if np.isfinite(x) and x > TROUBLE_SHARE)
            parts.append(f"{p} {bad}/{len(rs)} days")
    return f"Delivery cost above {100 * TROUBLE_SHARE:.0f} % of sales (trouble): " + ", ".join(parts)


def comparison_csv(rows: list[dict[str, Any]]) -> str:
    cols = ["phase", "variant", "baseline", "kpi", "variant_median", "variant_p10", "variant_p90",
            "baseline_median", "baseline_p10", "baseline_p90", "n", "mean_diff", "ci_low", "ci_high",
            "p_value", "significant"]
    return _csv(rows, cols)


def phase_table(agg: list[dict[str, Any]], variant: str) -> str:
    """KPI × phase for one variant: median [p10–p90] over the simulated days."""
    by = {(r["phase"], r["kpi"]): r for r in agg if r["variant"] == variant}
    phases = [p for p in PHASES if any(k[0] == p for k in by)]
    rows = []
    for key, label, unit in KPIS:
        rows.append([f"{label}" + ("" if unit in ("share", "count") else f", {unit}")]
                    + [_spread(key, by[(p, key)]) if (p, key) in by else "-" for p in phases])
    rows.append(["checker violations (all days)"] + [str(int(by[(p, "violations")]["mean"])) for p in phases])
    return table(["KPI (median [p10–p90])", *phases], rows, align="l" * (1 + len(phases)))


def variants_table(agg: list[dict[str, Any]], comp: list[dict[str, Any]], variants: list[str]) -> str:
    """Variants side by side per phase; ``*`` marks a significant paired difference from the baseline."""
    by = {(r["variant"], r["phase"], r["kpi"]): r for r in agg}
    sig = {(c["variant"], c["phase"], c["kpi"]): c["significant"] for c in comp}
    rows = []
    for p in PHASES:
        for v in variants:
            if (v, p, "cost_per_order") not in by:
                continue
            cells = []
            for key, _ in SHOWN:
                r = by[(v, p, key)]
                mark = " *" if sig.get((v, p, key)) else ""
                cells.append(_spread(key, r) + mark)
            rows.append([p, v, *cells])
    return table(["phase", "variant", *[s for _, s in SHOWN]], rows, align="l" * (2 + len(SHOWN)))


def change_lines(results: list[dict[str, Any]], baseline: str) -> list[str]:
    """What each variant changed against ``baseline``, phase by phase, over the days both simulated:
    on how many days the routes differ, and the mean change per day in driving, in the part of it
    lost to traffic (a variant driving in faster hours saves there), in vehicles and in cost."""
    by = {(r["variant"], r["phase"], r["day"]): r for r in results}
    variants = list(dict.fromkeys(r["variant"] for r in results if r["variant"] != baseline))
    out = []
    for p in PHASES:
        for v in variants:
            days = sorted(d for (v2, p2, d) in by if v2 == v and p2 == p and (baseline, p, d) in by)
            if not days:
                continue
            pairs = [(by[(v, p, d)], by[(baseline, p, d)]) for d in days]

            def mean(key: str, pairs: list = pairs) -> float:
                return float(np.mean([a[key] - b[key] for a, b in pairs]))

            differ = sum(a["routes"] != b["routes"] for a, b in pairs)
            out.append(f"  {p:<11s} {v} − {baseline}: routes differ on {differ}/{len(days)} days; driving "
                       f"{mean('driving_h'):+.2f} h/day, of which lost to traffic {mean('traffic_h'):+.2f} h/day; "
                       f"vehicles {mean('vehicles'):+.2f}; cost {mean('cost_total'):+,.0f} RMB/day")
    return out


def significant_lines(comp: list[dict[str, Any]]) -> list[str]:
    out = []
    for c in comp:
        if not c["significant"]:
            continue
        k = c["kpi"]
        scale, unit = (100.0, " pp") if k in SHARE_KPIS else (1.0, "")
        out.append(f"  {c['phase']:<11s} {c['variant']} − {c['baseline']}: {k} {scale * c['mean_diff']:+.3f}{unit} "
                   f"(95% CI {scale * c['ci_low']:+.3f}..{scale * c['ci_high']:+.3f}, Wilcoxon p={c['p_value']:.2g})")
    return out


# --------------------------------------------------------------------------- geometry layers


def _feature(geom: Any, props: dict[str, Any]) -> dict[str, Any]:
    from shapely.geometry import mapping

    return {"type": "Feature", "properties": props, "geometry": mapping(geom)}


def layers(region: Region, plan: PhasePlan) -> dict[str, dict[str, Any]]:
    """GeoJSON FeatureCollections (lon/lat): sites, service areas and 2-hour reach polygons."""
    from shapely.geometry import MultiPoint, Point
    from shapely.ops import unary_union

    from fulfil.rollout.siting import peak_kmh, reach_radius_m

    proj = region.proj
    st = region.doc.siting
    target = set(int(c) for c in plan.communities)
    served_share: dict[int, float] = {}
    for c, _, s in plan.alloc:
        served_share[c] = served_share.get(c, 0.0) + s
    sites = []
    cw = region.doc.central_warehouse
    sites.append(_feature(Point(cw.lon, cw.lat), {"layer": "central_warehouse", "id": cw.id, "name": cw.name}))
    for f in plan.open_fw:
        s = region.forward_sites[f]
        sites.append(_feature(Point(s.lon, s.lat), {
            "layer": "forward_warehouse", "id": s.id, "name": s.name, "fixed_cost_day": s.fixed_cost_day,
            "capacity_orders": s.capacity_orders, "extra": int(f) in plan.extra_fw,
            "pickup_points": sum(1 for v in plan.pp_fw.values() if v == f)}))
    for p in plan.open_pp:
        s = region.pickup_sites[p]
        sites.append(_feature(Point(s.lon, s.lat), {
            "layer": "pickup_point", "id": s.id, "kind": s.kind, "cost_day": s.cost_day,
            "capacity_orders": s.capacity_orders,
            "forward_warehouse": region.forward_sites[plan.pp_fw[p]].id if p in plan.pp_fw else None}))
    for i, c in enumerate(region.communities):
        sites.append(_feature(Point(c.lon, c.lat), {
            "layer": "community", "id": c.id, "households": c.households, "in_phase": i in target,
            "served_share": round(served_share.get(i, 0.0), 4) if i in target else 0.0,
            "design_orders": round(float(plan.design_orders[i]), 2) if i in target else 0.0,
            "unserved_reason": plan.uncovered_reason.get(i, "")}))
    for k in region.competitors:
        sites.append(_feature(Point(k.lon, k.lat), {"layer": "competitor", "id": k.id, "kind": k.kind}))

    areas = []
    boundary = region.boundary
    for p in plan.open_pp:
        disc = Point(*region.pickup_xy[p]).buffer(st.walk_radius_m, 32).intersection(boundary)
        areas.append(_feature(proj.geom_to_lonlat(disc), {"layer": "walk_radius", "id": region.pickup_sites[p].id,
                                                          "radius_m": st.walk_radius_m}))
    for f in plan.open_fw:
        pps = [p for p, ff in plan.pp_fw.items() if ff == f]
        comms = {c for c, p, _ in plan.alloc if p in pps}
        pts = [tuple(region.pickup_xy[p]) for p in pps] + [tuple(region.community_xy[c]) for c in comms]
        if not pts:
            continue
        hull = MultiPoint(pts).convex_hull.buffer(st.walk_radius_m).intersection(boundary)
        areas.append(_feature(proj.geom_to_lonlat(hull), {
            "layer": "service_area", "id": region.forward_sites[f].id, "pickup_points": len(pps),
            "communities": len(comms)}))
    reach = []
    kmh = peak_kmh(region)
    promise = region.doc.policies.promise_minutes
    r2 = reach_radius_m(region, promise, kmh)
    r1 = reach_radius_m(region, st.reach_minutes, kmh)
    for f in plan.open_fw:
        c = Point(*region.forward_xy[f])
        for minutes, r, name in ((promise, r2, "promise_reach"), (st.reach_minutes, r1, "siting_reach")):
            reach.append(_feature(proj.geom_to_lonlat(c.buffer(r, 64)), {
                "layer": name, "id": region.forward_sites[f].id, "minutes": minutes, "peak_kmh": round(kmh, 2),
                "radius_km": round(r / 1000.0, 3)}))
    if len(plan.open_fw):
        union = unary_union([Point(*region.forward_xy[f]).buffer(r2, 64) for f in plan.open_fw])
        reach.append(_feature(proj.geom_to_lonlat(union.intersection(boundary)),
                              {"layer": "promise_reach_in_region", "minutes": promise}))
    fc = lambda feats: {"type": "FeatureCollection", "features": feats}  # noqa: E731
    return {"sites": fc(sites), "service_areas": fc(areas), "reach": fc(reach)}


def write_layers(out: Path, tag: str, region: Region, plan: PhasePlan) -> None:
    for name, doc in layers(region, plan).items():
        write_text_atomic(out / f"{tag}_{name}.geojson", json.dumps(doc, ensure_ascii=False) + "\n")


# --------------------------------------------------------------------------- maps and charts


def plot_phase_map(region: Region, plan: PhasePlan, path: Path, title: str) -> None:
    """Boundary, communities (red: unserved), sites, service areas and 2-hour reach of one phase."""
    import matplotlib
    from shapely.geometry import shape

    from fulfil.report.charts import new_figure, save_figure

    lay = layers(region, plan)
    fig = new_figure((12, 9.5), 100)
    ax = fig.subplots()
    cmap = matplotlib.colormaps["tab10"]

    def draw(geom: Any, **kw: Any) -> None:
        polys = getattr(geom, "geoms", [geom])
        for g in polys:
            if g.is_empty or not hasattr(g, "exterior"):
                continue
            x, y = g.exterior.xy
            if kw.get("fill", True):
                ax.fill(x, y, **kw)
            else:
                ax.plot(x, y, **{k: v for k, v in kw.items() if k != "fill"})

    draw(region.boundary_ll, fill=False, color="0.2", lw=1.2)
    fw_color = {region.forward_sites[f].id: cmap(i % 10) for i, f in enumerate(plan.open_fw)}
    for feat in lay["service_areas"]["features"]:
        if feat["properties"]["layer"] == "service_area":
            draw(shape(feat["geometry"]), color=fw_color[feat["properties"]["id"]], alpha=0.12, lw=0)
    for feat in lay["reach"]["features"]:
        if feat["properties"]["layer"] == "siting_reach":
            draw(shape(feat["geometry"]), fill=False, color=fw_color[feat["properties"]["id"]], lw=0.8, ls="--")
    comm = [f["properties"] | {"xy": f["geometry"]["coordinates"]} for f in lay["sites"]["features"]
            if f["properties"]["layer"] == "community"]
    hh = np.array([c["households"] for c in comm], dtype=float)
    size = 4 + 20 * hh / hh.max()
    col = ["0.8" if not c["in_phase"] else ("tab:red" if c["served_share"] < 0.999 else "tab:green") for c in comm]
    ax.scatter([c["xy"][0] for c in comm], [c["xy"][1] for c in comm], s=size, c=col, lw=0, zorder=3,
               label="communities (green served, red partly/un-served, grey later phase)")
    comp = [f["geometry"]["coordinates"] for f in lay["sites"]["features"] if f["properties"]["layer"] == "competitor"]
    if comp:
        ax.scatter(*zip(*comp, strict=True), marker="x", s=18, c="0.35", lw=0.8, zorder=3, label="competitor")
    for kind, color, marker in (("leader_shop", "tab:blue", "o"), ("locker", "tab:orange", "s")):
        pts = [(f["geometry"]["coordinates"], f["properties"]["forward_warehouse"]) for f in lay["sites"]["features"]
               if f["properties"]["layer"] == "pickup_point" and f["properties"]["kind"] == kind]
        if pts:
            ax.scatter([p[0][0] for p in pts], [p[0][1] for p in pts], s=14, c=color, marker=marker,
                       edgecolors="k", linewidths=0.3, zorder=4, label=kind.replace("_", " "))
    cand = [(s.lon, s.lat) for i, s in enumerate(region.forward_sites) if i not in set(plan.open_fw.tolist())]
    if cand:
        ax.scatter(*zip(*cand, strict=True), marker="s", s=40, facecolors="none", edgecolors="0.4", zorder=4,
                   label="candidate forward site")
    for f in plan.open_fw:
        s = region.forward_sites[f]
        ax.scatter([s.lon], [s.lat], marker="s", s=90, c=[fw_color[s.id]], edgecolors="k", zorder=5)
        ax.annotate(s.id, (s.lon, s.lat), xytext=(4, 4), textcoords="offset points", fontsize=8, zorder=6)
    cw = region.doc.central_warehouse
    ax.scatter([cw.lon], [cw.lat], marker="*", s=200, c="k", zorder=5, label=f"central warehouse {cw.id}")
    x0, y0, x1, y1 = region.boundary_ll.bounds
    x0, x1 = min(x0, cw.lon), max(x1, cw.lon)
    y0, y1 = min(y0, cw.lat), max(y1, cw.lat)
    pad = 0.04 * max(x1 - x0, y1 - y0)
    ax.set_xlim(x0 - pad, x1 + pad)
    ax.set_ylim(y0 - pad, y1 + pad)
    ax.set_aspect(1.0 / math.cos(math.radians(region.proj.lat0)))
    reach_min = region.doc.siting.reach_minutes
    ax.plot([], [], color="0.3", lw=0.8, ls="--", label=f"{reach_min:g}-min peak drive (siting reach)")
    ax.fill([], [], color="0.5", alpha=0.15, label="service area")
    ax.set_title(title, fontsize=10)
    ax.set_xlabel("longitude")
    ax.set_ylabel("latitude")
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8, framealpha=0.9)
    save_figure(fig, path)


def plot_kpis(agg: list[dict[str, Any]], variants: list[str], path: Path) -> None:
    """Median and 10–90 % range of the main KPIs by phase, one series per variant."""
    from fulfil.report.charts import new_figure, save_figure

    by = {(r["variant"], r["phase"], r["kpi"]): r for r in agg}
    phases = [p for p in PHASES if any(k[1] == p for k in by)]
    fig = new_figure((13, 7.5), 100)
    axes = fig.subplots(2, 3)
    x0 = np.arange(len(phases))
    width = 0.6 / max(1, len(variants))
    for ax, (key, label) in zip(axes.ravel(), SHOWN, strict=True):
        for i, v in enumerate(variants):
            rows = [by.get((v, p, key)) for p in phases]
            med = np.array([r["median"] if r else np.nan for r in rows], dtype=float)
            lo = np.array([r["p10"] if r else np.nan for r in rows], dtype=float)
            hi = np.array([r["p90"] if r else np.nan for r in rows], dtype=float)
            scale = 100.0 if key in SHARE_KPIS else 1.0
            xs = x0 + (i - (len(variants) - 1) / 2) * width
            ax.errorbar(xs, med * scale, yerr=[np.maximum(0, (med - lo) * scale), np.maximum(0, (hi - med) * scale)],
                        fmt="o-", capsize=3, ms=4, lw=1, label=v)
        if key == "cost_share_of_sales":
            ax.axhline(100 * TROUBLE_SHARE, color="tab:red", ls="--", lw=1, label="15 % trouble line")
        ax.set_xticks(x0, phases)
        ax.set_title(label + (" (%)" if key in SHARE_KPIS else ""), fontsize=10)
        ax.grid(alpha=0.3)
    axes[0, 0].legend(fontsize=7)
    fig.suptitle("KPIs by phase: median with 10th–90th percentile over the simulated days", fontsize=11)
    save_figure(fig, path)


def sites_csv(region: Region, plans: dict[str, list[PhasePlan]]) -> str:
    """Every open site per (variant, phase)."""
    rows = []
    for v, ps in plans.items():
        for plan in ps:
            for f in plan.open_fw:
                s = region.forward_sites[f]
                rows.append(dict(variant=v, phase=plan.phase, kind="forward_warehouse", id=s.id, lon=s.lon, lat=s.lat,
                                 cost_day=s.fixed_cost_day, capacity_orders=s.capacity_orders, forward_warehouse=""))
            for p in plan.open_pp:
                s = region.pickup_sites[p]
                rows.append(dict(variant=v, phase=plan.phase, kind=s.kind, id=s.id, lon=s.lon, lat=s.lat,
                                 cost_day=s.cost_day, capacity_orders=s.capacity_orders,
                                 forward_warehouse=region.forward_sites[plan.pp_fw[p]].id if p in plan.pp_fw else ""))
    return _csv(rows, ["variant", "phase", "kind", "id", "lon", "lat", "cost_day", "capacity_orders",
                       "forward_warehouse"])
