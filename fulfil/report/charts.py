"""Cold-chain charts of a plan as PNG (matplotlib, imported lazily; atomic writes).

Figures are ``matplotlib.figure.Figure`` objects drawn on their own Agg canvas, never
through pyplot, so charting leaves the caller's backend and pyplot state alone.

Reads only the plan document, format version 2 (a :class:`fulfil.plan_model.Plan` or its dict;
``docs/plan_format.md``, "Cold chain (thermal model)"): each trip's ``thermal.compartments[zone]``
traces and stop ``cold_chain[zone]`` hand-overs.  Charts are per trip (a vehicle duty may drive several).
"""

from __future__ import annotations

import io
import math
import re
from collections import defaultdict
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fulfil.plan_model import trip_rows
from fulfil.report.tables import plan_doc
from fulfil.units import format_clock

if TYPE_CHECKING:
    from fulfil.plan_model import Plan

IN_SPEC_TARGET = 0.98  # practice target for the share of chilled + frozen crates handed over in spec
COLD_ZONES = ("frozen", "chilled")
ZONE_COLOR = {"frozen": "tab:blue", "chilled": "tab:green", "ambient": "tab:brown"}
# allowed range (lo, hi) and hand-over limit per zone, °C (DB31/T 388; solvers.thermal.ZONES)
ZONE_RANGE = {"frozen": (-math.inf, -18.0), "chilled": (0.0, 4.0)}
ZONE_LIMIT = {"frozen": -15.0, "chilled": 7.0}


def new_figure(figsize: tuple[float, float], dpi: float) -> Any:
    """A ``Figure`` on its own Agg canvas: not registered with pyplot, no backend switched."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=figsize, dpi=dpi)
    FigureCanvasAgg(fig)
    return fig


def save_figure(fig: Any, path: str | Path) -> None:
    """Lay out ``fig`` and write it as a PNG atomically (the figure is not pyplot's: nothing to close)."""
    from fulfil.output import write_bytes_atomic

    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    write_bytes_atomic(path, buf.getvalue())


def _floats(values: Any) -> list[float]:
    return [math.nan if v is None else float(v) for v in (values or [])]


def _limit(zone: str, tr: dict[str, Any]) -> float | None:
    v = tr.get("limit_c")
    return ZONE_LIMIT.get(zone) if v is None else float(v)


def _tick_step(span_min: float) -> float:
    for step in (5, 10, 15, 30, 60, 120, 180, 240, 360):
        if span_min / step <= 10:
            return step
    return 720


def plot_trip_temperatures(trip: dict[str, Any], path: str | Path, ax: Any = None) -> None:
    """Air (thin) and product (thick) temperature of each compartment of ``trip`` vs clock time.

    ``trip`` is a row of :func:`fulfil.plan_model.trip_rows` (a trip with its duty's vehicle, depot
    and duty id).

    Stops are vertical lines labelled with their location, their [arrival, departure] span
    shaded; each zone's allowed range is shaded and its hand-over limit drawn; a marker sits
    at every hand-over temperature (red when ``in_spec`` is false).  Saved to ``path`` unless
    ``ax`` is given (then drawn into it and not saved).
    """
    from matplotlib.ticker import FuncFormatter, MultipleLocator

    route = trip
    own = ax is None
    if own:
        fig = new_figure((11, 5.5), 100)
        ax = fig.subplots()
    else:
        fig = ax.figure
    comps: dict[str, dict[str, Any]] = (route.get("thermal") or {}).get("compartments", {})
    stops = route.get("stops", [])
    lo_t, hi_t, lo_y, hi_y = math.inf, -math.inf, math.inf, -math.inf
    for zone, tr in comps.items():
        t = _floats(tr.get("t"))
        air = _floats(tr.get("air_c"))
        prod = _floats(tr.get("product_c"))
        color = ZONE_COLOR.get(zone, "0.3")
        box = tr.get("kind") == "insulated_box"
        n = min(len(t), len(air))
        ax.plot(t[:n], air[:n], color=color, lw=0.9, alpha=0.8, ls="--" if box else "-",
                label=f"{zone} {'ice pack' if box else 'air'}")
        m = min(len(t), len(prod))
        if m:
            ax.plot(t[:m], prod[:m], color=color, lw=2.6, label=f"{zone} product")
        for v in (*t, *(route.get(k) for k in ("departure", "return"))):
            if v is not None and math.isfinite(v):
                lo_t, hi_t = min(lo_t, v), max(hi_t, v)
        for v in (*air[:n], *prod[:m]):
            if math.isfinite(v):
                lo_y, hi_y = min(lo_y, v), max(hi_y, v)
        limit = _limit(zone, tr)
        if limit is not None:
            lo_y, hi_y = min(lo_y, float(limit)), max(hi_y, float(limit))
        if zone in ZONE_RANGE:
            lo, hi = ZONE_RANGE[zone]
            lo_y = min(lo_y, hi - 4.0 if not math.isfinite(lo) else lo)
            hi_y = max(hi_y, hi)
    for s in stops:
        for zone, cc in (s.get("cold_chain") or {}).items():
            v = cc.get("handover_c")
            if v is not None and math.isfinite(v):
                lo_y, hi_y = min(lo_y, v), max(hi_y, v)
        lo_t, hi_t = min(lo_t, s["arrival"]), max(hi_t, s["departure"])
    if not math.isfinite(lo_t):
        lo_t, hi_t = 0.0, 60.0
    if not math.isfinite(lo_y):
        lo_y, hi_y = 0.0, 10.0
    pad = max(1.0, 0.08 * (hi_y - lo_y))
    y0, y1 = lo_y - pad, hi_y + 2.2 * pad  # headroom for the stop labels
    ax.set_ylim(y0, y1)
    ax.set_xlim(lo_t - 5, hi_t + 5)

    # zone bands and hand-over limits
    for zone, tr in comps.items():
        color = ZONE_COLOR.get(zone, "0.3")
        if zone in ZONE_RANGE:
            lo, hi = ZONE_RANGE[zone]
            ax.axhspan(max(lo, y0), hi, color=color, alpha=0.10, lw=0,
                       label=f"{zone} range ({'≤ ' if not math.isfinite(lo) else f'{lo:g} to '}{hi:g} °C)")
        limit = _limit(zone, tr)
        if limit is not None:
            ax.axhline(float(limit), color=color, lw=1.1, ls=":", label=f"{zone} hand-over limit {float(limit):g} °C")

    # stops: service spans, lines, labels, hand-over markers
    from matplotlib.transforms import blended_transform_factory

    trans = blended_transform_factory(ax.transData, ax.transAxes)
    small = len(stops) > 25
    for i, s in enumerate(stops):
        arr, dep = float(s["arrival"]), float(s["departure"])
        ax.axvspan(arr, dep, color="0.6", alpha=0.18, lw=0, label="at stop (door open / service)" if i == 0 else None)
        ax.axvline(arr, color="0.45", lw=0.6, alpha=0.7)
        ax.text(arr, 0.985, f"{i + 1} {s['location']}", transform=trans, rotation=90, ha="right", va="top",
                fontsize=5 if small else 6.5, color="0.25", clip_on=True)
        for zone, cc in (s.get("cold_chain") or {}).items():
            v = cc.get("handover_c")
            if v is None or not math.isfinite(v):
                continue
            bad = cc.get("in_spec") is False
            ax.scatter([float(s.get("start", arr))], [float(v)], s=42 if bad else 26, zorder=5,
                       marker="X" if bad else "o", c="red" if bad else ZONE_COLOR.get(zone, "0.3"),
                       edgecolors="k", linewidths=0.5)
    # legend entries for the hand-over markers
    if any(s.get("cold_chain") for s in stops):
        ax.scatter([], [], marker="o", c="0.6", edgecolors="k", linewidths=0.5, s=26, label="hand-over, in spec")
        if any(cc.get("in_spec") is False for s in stops for cc in (s.get("cold_chain") or {}).values()):
            ax.scatter([], [], marker="X", c="red", edgecolors="k", linewidths=0.5, s=42,
                       label="hand-over, out of spec")

    step = _tick_step(hi_t - lo_t + 10)
    ax.xaxis.set_major_locator(MultipleLocator(step))
    ax.xaxis.set_major_formatter(FuncFormatter(lambda x, _pos: format_clock(x)))
    ax.set_xlabel("clock time (delivery day)")
    ax.set_ylabel("temperature, °C")
    vt = route.get("vehicle_type", "?")
    veh = f" #{route['vehicle']}" if route.get("vehicle") is not None else ""
    kinds = sorted({str(tr.get("kind", "")) for tr in comps.values()} - {""})
    duty = f" (duty {route['duty']})" if route.get("duty") not in (None, route.get("id")) else ""
    ax.set_title(f"{route.get('id', '?')}{duty} — {vt}{veh} ({', '.join(kinds) or 'no thermal trace'}), "
                 f"{len(stops)} stops from {route.get('depot', '?')}", fontsize=10)
    if not comps:
        ax.text(0.5, 0.5, "no thermal trace on this trip", transform=ax.transAxes, ha="center", va="center")
    ax.grid(alpha=0.2)
    ax.legend(loc="center left", bbox_to_anchor=(1.01, 0.5), fontsize=7, framealpha=0.9)
    if own:
        save_figure(fig, path)


def in_spec_by_warehouse(plan: Plan | dict[str, Any]) -> dict[str, tuple[float, float]]:
    """Forward warehouse → (chilled + frozen crates handed over in spec, all such crates), last-mile trips."""
    agg: dict[str, list[float]] = defaultdict(lambda: [0.0, 0.0])
    for r in trip_rows(plan):
        if r.get("tier") != "last_mile":
            continue
        for s in r.get("stops", []):
            for zone, cc in (s.get("cold_chain") or {}).items():
                if zone not in COLD_ZONES:
                    continue
                crates = float(((s.get("delivered") or {}).get(zone) or {}).get("crates", 0) or 0)
                a = agg[str(r.get("depot"))]
                a[1] += crates
                if cc.get("in_spec"):
                    a[0] += crates
    return {k: (v[0], v[1]) for k, v in sorted(agg.items())}


def plot_in_spec_by_warehouse(plan: Plan | dict[str, Any], path: str | Path, ax: Any = None) -> None:
    """Bar per forward warehouse: share of chilled + frozen crates handed over in spec; counts annotated;
    the 98 % practice target drawn.  Saved to ``path`` unless ``ax`` is given."""
    own = ax is None
    plan = plan_doc(plan)
    data = in_spec_by_warehouse(plan)
    if own:
        fig = new_figure((max(6.0, 0.7 * len(data) + 3.0), 4.8), 100)
        ax = fig.subplots()
    else:
        fig = ax.figure
    names = list(data)
    shares = [100.0 * ok / tot if tot > 0 else 0.0 for ok, tot in data.values()]
    colors = ["tab:green" if sh >= 100 * IN_SPEC_TARGET - 1e-9 else "tab:red" for sh in shares]
    bars = ax.bar(range(len(names)), shares, color=colors, edgecolor="k", lw=0.5, width=0.7)
    for b, (ok, tot), sh in zip(bars, data.values(), shares, strict=True):
        inside = sh > 25
        ax.text(b.get_x() + b.get_width() / 2, sh - 2 if inside else sh + 1, f"{sh:.1f} %\n{ok:g}/{tot:g}",
                ha="center", va="top" if inside else "bottom", fontsize=7, color="white" if inside else "k")
    ax.axhline(100 * IN_SPEC_TARGET, color="k", ls="--", lw=1.0, label=f"target {100 * IN_SPEC_TARGET:g} %")
    ax.set_xticks(range(len(names)))
    ax.set_xticklabels(names, rotation=45 if len(names) > 8 else 0, ha="right" if len(names) > 8 else "center",
                       fontsize=8)
    ax.set_ylim(0, 108)
    ax.set_ylabel("chilled + frozen crates handed over in spec, %")
    ax.set_xlabel("forward warehouse (last-mile trips)")
    k = plan.get("kpis", {})
    tot_ok = sum(v[0] for v in data.values())
    tot = sum(v[1] for v in data.values())
    share = k.get("in_spec_share", tot_ok / tot if tot else None)
    overall = f"{100 * share:.1f} %" if share is not None else "n/a"
    ax.set_title(f"{plan.get('scenario', '?')}: in-spec hand-overs by forward warehouse "
                 f"(overall {overall}, {tot_ok:g}/{tot:g} crates)", fontsize=10)
    if not data:
        ax.text(0.5, 0.5, "no chilled or frozen crates handed over with a cold-chain prediction",
                transform=ax.transAxes, ha="center", va="center", fontsize=9)
    ax.legend(loc="lower right", fontsize=8, framealpha=0.9)
    ax.grid(axis="y", alpha=0.2)
    if own:
        save_figure(fig, path)


def _safe_name(trip_id: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]", "_", trip_id) or "trip"


def write_thermal_charts(plan: Plan | dict[str, Any], out_dir: str | Path, max_routes: int | None = None
                         ) -> list[Path]:
    """Write ``out_dir/thermal/<trip id>.png`` per trip with ``thermal`` (the first ``max_routes`` of them)
    and ``out_dir/thermal/in_spec_by_warehouse.png``; each file written atomically.  Other ``.png`` files
    left in ``out_dir/thermal`` by an earlier plan are removed.  Returns the paths written."""
    folder = Path(out_dir) / "thermal"
    folder.mkdir(parents=True, exist_ok=True)
    plan = plan_doc(plan)
    routes = [r for r in trip_rows(plan) if (r.get("thermal") or {}).get("compartments")]
    if max_routes is not None:
        routes = routes[: max(0, int(max_routes))]
    written: list[Path] = []
    used: set[str] = set()
    for r in routes:
        name = _safe_name(str(r.get("id", "trip")))
        base, k = name, 2
        while name in used or name == "in_spec_by_warehouse":
            name, k = f"{base}_{k}", k + 1
        used.add(name)
        p = folder / f"{name}.png"
        plot_trip_temperatures(r, p)
        written.append(p)
    p = folder / "in_spec_by_warehouse.png"
    plot_in_spec_by_warehouse(plan, p)
    written.append(p)
    keep = {q.name for q in written}
    for old in folder.glob("*.png"):
        if old.name not in keep:
            old.unlink(missing_ok=True)
    return written
