"""Stage 6b: put the last mile's trips on real vehicles, several trips a vehicle (waves).

The routing stage plans one trip per routing vehicle; with ``policies.max_trips`` above 1
those are a vehicle's waves (:func:`fulfil.stages.subproblems.wave_fleet`).  Here each
warehouse's trips of one vehicle type are chained onto as few vehicles as possible: a trip
can follow another when it leaves no sooner than that one's exact return plus the reload of
its own load (``policies.reload_fixed_min`` + ``reload_per_crate_min`` × crates), and a
vehicle makes at most ``max_trips`` trips.  Trips taken in order of when their reload must
begin, each on the free vehicle back the longest, need the fewest vehicles (interval
partitioning); the fixed cost is then paid once per vehicle by the assembly.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import replace

from fulfil.night import CompiledNight
from fulfil.stages.trip_work import TripWork
from fulfil.stages.types import LAST_MILE, RoutedTrip


def chain_trips(night: CompiledNight, trips: list[RoutedTrip], work: TripWork) -> list[RoutedTrip]:
    """``trips`` with every last-mile trip given its vehicle (``vindex``), several trips a vehicle.

    With ``max_trips`` 1 the trips are returned as they are (one vehicle each, as routed).
    """
    if night.policy.max_trips == 1:
        return trips
    groups: dict[tuple[int, int], list[RoutedTrip]] = defaultdict(list)
    out: list[RoutedTrip] = []
    for rt in trips:
        if rt.tier == LAST_MILE:
            groups[(rt.depot, rt.vtype)].append(rt)
        else:
            out.append(rt)
    for key in sorted(groups):
        out += _chain(night, groups[key], work)
    return out


def _chain(night: CompiledNight, trips: list[RoutedTrip], work: TripWork) -> list[RoutedTrip]:
    """One depot's trips of one vehicle type on vehicles ``0, 1, …`` (interval partitioning)."""
    def reload_from(rt: RoutedTrip) -> float:  # when the vehicle must be back to load this trip
        tt = work.timed(rt)
        return tt.departure - night.reload_min(int(tt.load_crates.sum()))

    order = sorted(trips, key=lambda rt: (reload_from(rt), work.timed(rt).departure, rt.vindex))
    back: list[float] = []  # per vehicle: return of its last trip
    n_trips: list[int] = []
    out = []
    for rt in order:
        ready = reload_from(rt)
        free = [i for i, r in enumerate(back) if r <= ready and n_trips[i] < night.policy.max_trips]
        if free:
            i = min(free, key=lambda i: (back[i], i))
            n_trips[i] += 1
        else:
            i = len(back)
            back.append(0.0)
            n_trips.append(1)
        back[i] = work.timed(rt).ret
        out.append(rt if rt.vindex == i else replace(rt, vindex=i))
    return out


__all__ = ["chain_trips"]
