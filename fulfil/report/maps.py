"""A trip map of the plan as PNG (matplotlib, imported lazily; no tiles, works offline).

Drawn on a ``Figure`` with its own Agg canvas, never through pyplot: the caller's matplotlib
backend and pyplot state are left alone.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fulfil.report.tables import plan_doc

if TYPE_CHECKING:
    from fulfil.plan_model import Plan
    from fulfil.scenario.schema import Scenario


def plot_plan_map(plan: Plan | dict[str, Any], scenario: Scenario, path: str | Path, ax: Any = None) -> None:
    """Draw warehouses, pickup points (unserved in red) and every trip; save to ``path``.

    Trunk trips are grey dashed lines; last-mile trips are coloured per vehicle duty, so the
    trips of one vehicle share its colour.  ``plan`` is a :class:`fulfil.plan_model.Plan` or its dict.
    """
    import matplotlib

    from fulfil.report.charts import new_figure, save_figure

    pos = {r.id: (r.lon, r.lat) for r in (*scenario.central_warehouses, *scenario.forward_warehouses,
                                           *scenario.pickup_points)}
    own = ax is None
    if own:
        fig = new_figure((10, 9), 110)
        ax = fig.subplots()
    else:
        fig = ax.figure
    cmap = matplotlib.colormaps["tab20"]
    plan = plan_doc(plan)
    for i, d in enumerate(plan.get("duties", [])):
        for t in d["trips"]:
            pts = [pos[d["depot"]], *(pos[s["location"]] for s in t["stops"]), pos[d["depot"]]]
            xs, ys = zip(*pts, strict=True)
            if d["tier"] == "trunk":
                ax.plot(xs, ys, color="0.25", lw=1.6, ls="--", alpha=0.8, zorder=2)
            else:
                ax.plot(xs, ys, color=cmap(i % 20), lw=0.9, alpha=0.85, zorder=2)
    unserved = {u["pickup_point"] for u in plan["unserved"]}
    lockers = [p for p in scenario.pickup_points if p.kind == "locker"]
    shops = [p for p in scenario.pickup_points if p.kind != "locker"]
    ax.scatter([p.lon for p in shops], [p.lat for p in shops], s=7, c="tab:blue", label="leader shop", zorder=3)
    ax.scatter([p.lon for p in lockers], [p.lat for p in lockers], s=12, marker="s", c="tab:green",
               label="locker", zorder=3)
    if unserved:
        ax.scatter([pos[u][0] for u in unserved], [pos[u][1] for u in unserved], s=30, facecolors="none",
                   edgecolors="red", lw=1.2, label="not fully served", zorder=4)
    ax.scatter([f.lon for f in scenario.forward_warehouses], [f.lat for f in scenario.forward_warehouses],
               s=90, marker="^", c="tab:orange", edgecolors="k", label="forward warehouse", zorder=5)
    ax.scatter([c.lon for c in scenario.central_warehouses], [c.lat for c in scenario.central_warehouses],
               s=160, marker="*", c="gold", edgecolors="k", label="central warehouse", zorder=5)
    for f in scenario.forward_warehouses:
        ax.annotate(f.id, (f.lon, f.lat), xytext=(4, 4), textcoords="offset points", fontsize=7)
    k = plan["kpis"]
    trips = k.get("trips", sum(len(d["trips"]) for d in plan.get("duties", [])))
    ax.set_title(f"{plan['scenario']}: {k['vehicles']} vehicles, {trips} trips, {k['distance_km']:.0f} km, "
                 f"{k['cost']:.0f} RMB, 2-h compliance {100 * k['two_hour_compliance']:.1f} %", fontsize=10)
    ax.set_xlabel("longitude")
    ax.set_ylabel("latitude")
    mean_lat = sum(p.lat for p in scenario.pickup_points) / len(scenario.pickup_points)
    ax.set_aspect(1.0 / max(0.2, math.cos(math.radians(mean_lat))))
    ax.legend(loc="lower left", fontsize=7, framealpha=0.9)
    ax.grid(alpha=0.2)
    if own:
        save_figure(fig, path)
