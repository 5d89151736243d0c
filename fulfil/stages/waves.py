"""Stage 6b: put the trips of both tiers on real vehicles, several trips a vehicle (waves).

The routing stage plans one trip per routing vehicle; with ``policies.max_trips`` (last mile)
or ``policies.trunk_max_trips`` (trunk) above 1 those are a vehicle's waves
(:func:`fulfil.stages.subproblems.wave_fleet`, :func:`~fulfil.stages.subproblems.trunk_wave_fleet`).
Here each depot's trips of one vehicle type are chained onto as few vehicles as possible: a trip
can follow another when it leaves no sooner than that one's exact return plus the reload of
its own load (``policies.reload_fixed_min`` + ``reload_per_crate_min`` × crates), and a
vehicle makes at most its tier's number of trips.  Trips taken in order of when their reload must
begin, each on the free vehicle back the longest, need the fewest vehicles (interval
partitioning); the fixed cost is then paid once per vehicle by the assembly.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import replace

from fulfil.night import CompiledNight
from fulfil.stages.trip_work import TripWork
from fulfil.stages.types import TRUNK, RoutedTrip


def max_trips(night: CompiledNight, tier: int) -> int:
    """Trips a vehicle of ``tier`` may make a night."""
    return night.policy.trunk_max_trips if tier == TRUNK else night.policy.max_trips


def chain_trips(night: CompiledNight, trips: list[RoutedTrip], work: TripWork) -> list[RoutedTrip]:
    """``trips`` with every trip given its vehicle (``vindex``), several trips a vehicle.

    A tier whose number of trips is 1 keeps its trips as they are (one vehicle each, as routed).
    """
    groups: dict[tuple[int, int, int], list[RoutedTrip]] = defaultdict(list)
    out: list[RoutedTrip] = []
    for rt in trips:
        if max_trips(night, rt.tier) > 1:
            groups[(rt.tier, rt.depot, rt.vtype)].append(rt)
        else:
            out.append(rt)
    for key in sorted(groups):
        out += _chain(night, groups[key], work, max_trips(night, key[0]))
    return out


def _chain(night: CompiledNight, trips: list[RoutedTrip], work: TripWork, most: int) -> list[RoutedTrip]:
    """One depot's trips of one vehicle type on vehicles ``0, 1, …``, at most ``most`` trips each
    (interval partitioning)."""
    def reload_from(rt: RoutedTrip) -> float:  # when the vehicle must be back to load this trip
        tt = work.timed(rt)
        return tt.departure - night.reload_min(int(tt.load_crates.sum()))

    order = sorted(trips, key=lambda rt: (reload_from(rt), work.timed(rt).departure, rt.vindex))
    back: list[float] = []  # per vehicle: return of its last trip
    n_trips: list[int] = []
    out = []
    for rt in order:
        ready = reload_from(rt)
        free = [i for i, r in enumerate(back) if r <= ready and n_trips[i] < most]
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


__all__ = ["chain_trips", "max_trips"]
