"""Exact times of a routed trip: every leg timed at its departure time (time-dependent speeds).

The solvers worked on conservative integer matrices; :func:`time_trip` re-times a trip with
the exact traversal of each leg (earlier or equal, so windows and deadlines the solver met
still hold: an earlier arrival in a gap between windows waits for the next one, which opens no
later than the start the solver found), merges consecutive jobs at one site into one stop and sums what is handed over.
Used by the cold-chain repair and by the assembly of the plan.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from fulfil.network import Z
from fulfil.night import CompiledNight
from fulfil.stages.jobs import crates_kg
from fulfil.stages.types import LAST_MILE, RoutedTrip


@dataclass
class TimedStop:
    site: int
    owner: int
    arrival: float
    start: float
    departure: float
    leg_km: float
    crates: np.ndarray  # int64[Z] handed over
    kg: np.ndarray  # float64[Z]
    units: dict[int, int] = field(default_factory=dict)  # last mile: product index → units


@dataclass
class TimedTrip:
    trip: RoutedTrip
    departure: float
    ret: float
    km: float
    return_leg_km: float
    stops: list[TimedStop]

    @property
    def load_crates(self) -> np.ndarray:
        return sum((s.crates for s in self.stops), np.zeros(Z, dtype=np.int64))

    @property
    def load_kg(self) -> np.ndarray:
        return sum((s.kg for s in self.stops), np.zeros(Z))


def time_trip(night: CompiledNight, rt: RoutedTrip) -> TimedTrip:
    net, travel = night.net, night.travel
    profile = net.vehicles.profile[rt.vtype]
    groups: list[list] = []
    for j in rt.jobs:
        if groups and groups[-1][0] == j.site:
            groups[-1][1].append(j)
        else:
            groups.append([j.site, [j]])
    # distances and free-flow times of all legs at once; each leg timed at its own departure
    dist_m, free_s = travel.path_legs([rt.depot, *(g[0] for g in groups), rt.depot], profile)
    cur = rt.departure_min
    total_km = 0.0
    stops: list[TimedStop] = []
    for n, (site, jobs) in enumerate(groups):
        km, mins = dist_m[n] / 1000.0, travel.travel_min(free_s[n], cur, profile)
        total_km += km
        arrival = cur + mins
        units: dict[int, int] = {}
        if rt.tier == LAST_MILE:
            for j in jobs:
                for k, q in j.units.items():
                    units[k] = units.get(k, 0) + q
            crates, kg = crates_kg(units, net)
        else:
            crates = np.sum([j.crates for j in jobs], axis=0).astype(np.int64)
            kg = np.sum([j.kg for j in jobs], axis=0).astype(float)
        start = night.service_start(site, arrival)  # waits for the window, or the next one after a gap
        departure = start + float(night.service_fixed_min[site]) + float(night.service_per_crate_min[site]) * int(
            crates.sum())
        stops.append(TimedStop(site, jobs[0].owner, arrival, start, departure, km, crates, np.asarray(kg, float),
                               units))
        cur = departure
    km, mins = dist_m[-1] / 1000.0, travel.travel_min(free_s[-1], cur, profile)
    return TimedTrip(rt, rt.departure_min, cur + mins, total_km + km, km, stops)
