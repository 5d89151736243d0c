"""What changed between two plans of one night: stops moved, added, removed, and the KPI deltas.

A stop is identified by its pickup point and the trip that serves it.  A point served by the
same trip id in both plans is *kept* (its units may have changed); otherwise each stop the
point lost is paired, in plan order, with a stop it gained: that is a *move* (from duty/trip
→ to duty/trip).  What is left unpaired was *removed* (its units are unserved now) or *added*.
The comparison reads only the two plans, so it describes any pair of plans, not just re-plans.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from fulfil.plan_model import Plan

__all__ = ["PlanChanges", "StopChange", "StopMove", "StopRef", "changes_text", "plan_changes"]


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class StopRef(_Model):
    location: str
    duty: str
    trip: str
    units: int


class StopMove(_Model):
    location: str
    from_duty: str
    from_trip: str
    to_duty: str
    to_trip: str
    units_before: int
    units_after: int


class StopChange(_Model):
    """A stop that stayed on its trip but hands over a different number of units."""

    location: str
    duty: str
    trip: str
    units_before: int
    units_after: int


class PlanChanges(_Model):
    moved: list[StopMove] = Field(default_factory=list)
    added: list[StopRef] = Field(default_factory=list)
    removed: list[StopRef] = Field(default_factory=list)
    changed: list[StopChange] = Field(default_factory=list)
    stops_before: int
    stops_after: int
    cost_before: float
    cost_after: float
    cost_delta: float
    vehicles_before: int
    vehicles_after: int
    vehicles_delta: int
    units_unserved_before: int
    units_unserved_after: int
    units_unserved_delta: int
    orders_unserved_before: float
    orders_unserved_after: float
    orders_unserved_delta: float
    #: what the re-plan did about each event, one sentence each (filled by :func:`fulfil.replan.replan`)
    notes: list[str] = Field(default_factory=list)

    def to_doc(self) -> dict[str, Any]:
        return self.model_dump(mode="json")


def _stops(plan: Plan) -> dict[str, list[tuple[str, str, int]]]:
    """pickup point → [(duty, trip, units)] over the last-mile stops, in plan order."""
    out: dict[str, list[tuple[str, str, int]]] = defaultdict(list)
    for d, t in plan.trips():
        if d.tier != "last_mile":
            continue
        for s in t.stops:
            out[s.location].append((d.id, t.id, sum((s.products or {}).values())))
    return out


def plan_changes(before: Plan, after: Plan, notes: list[str] | None = None) -> PlanChanges:
    old, new = _stops(before), _stops(after)
    moved, added, removed, changed = [], [], [], []
    for loc in sorted(set(old) | set(new)):
        a, b = list(old.get(loc, [])), list(new.get(loc, []))
        for x in list(a):  # same trip in both: kept
            same = next((y for y in b if y[1] == x[1]), None)
            if same is not None:
                a.remove(x)
                b.remove(same)
                if same[2] != x[2]:
                    changed.append(StopChange(location=loc, duty=same[0], trip=same[1], units_before=x[2],
                                              units_after=same[2]))
        for x, y in zip(a, b, strict=False):
            moved.append(StopMove(location=loc, from_duty=x[0], from_trip=x[1], to_duty=y[0], to_trip=y[1],
                                  units_before=x[2], units_after=y[2]))
        removed += [StopRef(location=loc, duty=x[0], trip=x[1], units=x[2]) for x in a[len(b):]]
        added += [StopRef(location=loc, duty=y[0], trip=y[1], units=y[2]) for y in b[len(a):]]
    kb, ka = before.kpis, after.kpis
    return PlanChanges(
        moved=moved, added=added, removed=removed, changed=changed,
        stops_before=kb.stops, stops_after=ka.stops,
        cost_before=kb.cost, cost_after=ka.cost, cost_delta=round(ka.cost - kb.cost, 2),
        vehicles_before=kb.vehicles, vehicles_after=ka.vehicles, vehicles_delta=ka.vehicles - kb.vehicles,
        units_unserved_before=kb.units_unserved, units_unserved_after=ka.units_unserved,
        units_unserved_delta=ka.units_unserved - kb.units_unserved,
        orders_unserved_before=kb.orders_unserved, orders_unserved_after=ka.orders_unserved,
        orders_unserved_delta=round(ka.orders_unserved - kb.orders_unserved, 3),
        notes=list(notes or []),
    )


def changes_text(c: PlanChanges) -> str:
    """The changes as a text table for people (``changes.txt``, the CLI)."""
    lines = ["Re-plan: what changed", "",
             f"{'':24s}{'before':>12s}{'after':>12s}{'delta':>12s}",
             f"{'last-mile stops':24s}{c.stops_before:>12d}{c.stops_after:>12d}{c.stops_after - c.stops_before:>+12d}",
             f"{'vehicles':24s}{c.vehicles_before:>12d}{c.vehicles_after:>12d}{c.vehicles_delta:>+12d}",
             f"{'cost (RMB)':24s}{c.cost_before:>12.2f}{c.cost_after:>12.2f}{c.cost_delta:>+12.2f}",
             (f"{'units unserved':24s}{c.units_unserved_before:>12d}{c.units_unserved_after:>12d}"
              f"{c.units_unserved_delta:>+12d}"),
             (f"{'orders unserved':24s}{c.orders_unserved_before:>12.2f}{c.orders_unserved_after:>12.2f}"
              f"{c.orders_unserved_delta:>+12.2f}"),
             "",
             (f"stops moved {len(c.moved)}, added {len(c.added)}, removed {len(c.removed)}, "
              f"units changed {len(c.changed)}")]
    if c.moved:
        lines += ["", f"{'moved stop':16s}{'from trip':22s}{'to trip':22s}{'units':>8s}"]
        lines += [f"{m.location:16s}{m.from_trip:22s}{m.to_trip:22s}{m.units_after:>8d}" for m in c.moved]
    for title, refs in (("added stop", c.added), ("removed stop", c.removed)):
        if refs:
            lines += ["", f"{title:16s}{'trip':22s}{'units':>8s}"]
            lines += [f"{r.location:16s}{r.trip:22s}{r.units:>8d}" for r in refs]
    if c.changed:
        lines += ["", f"{'changed stop':16s}{'trip':22s}{'before':>8s}{'after':>8s}"]
        lines += [f"{r.location:16s}{r.trip:22s}{r.units_before:>8d}{r.units_after:>8d}" for r in c.changed]
    if c.notes:
        lines += ["", "Notes:"] + [f"  - {n}" for n in c.notes]
    return "\n".join(lines) + "\n"
