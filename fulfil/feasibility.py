"""Which forward warehouse can reach which pickup point inside the promise.

Used twice: by ``fulfil validate`` / ``fulfil plan`` as the third validation layer
(a pickup point with cold goods that *no* forward warehouse reaches within the
promise is a scenario error), and by the allocation stage as its ``reachable``
matrix.  Times are conservative (slowest hourly factor over the dispatch wave), so
whatever is reachable here is reachable under the exact time-dependent times.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from fulfil.errors import ScenarioError

if TYPE_CHECKING:
    from fulfil.network import Network
    from fulfil.night import CompiledNight
    from fulfil.travel import TravelModel


@dataclass(frozen=True)
class Reach:
    dist_km: np.ndarray  # float64[P, F] road km forward warehouse → pickup point
    minutes: np.ndarray  # float64[P, F] conservative minutes from dispatch
    #: bool[P, F]: in time (window, and the promise for cold goods) from the warehouse's dispatch
    in_time: np.ndarray
    #: bool[P, F]: in time, and the warehouse has a last-mile vehicle on shift at its dispatch
    reachable: np.ndarray
    cold: np.ndarray  # bool[P] the pickup point ordered chilled or frozen goods


def last_mile_profiles(net: Network) -> list[str]:
    v = net.vehicles
    return sorted({v.profile[t] for t in range(len(v.ids)) if v.tier[t] == 1 and v.count[t] > 0})


def on_shift(net: Network, t: int, earliest: float) -> bool:
    """Whether vehicle type ``t`` has vehicles that can leave at ``earliest`` (or at their shift's
    opening, if later) and still be inside their shift: a shift that closes by then is no fleet."""
    v = net.vehicles
    return bool(v.count[t] > 0 and v.shift_close[t] > max(earliest, float(v.shift_open[t])))


def conservative_minutes(
    travel: TravelModel, a: np.ndarray, b: np.ndarray, profiles: list[str], t_from: float, t_to: float,
    dist_m: np.ndarray | None = None,
) -> np.ndarray:
    """Elementwise max over ``profiles`` of the conservative travel minutes in ``[t_from, t_to]``."""
    from geo.matrices import conservative_time_matrix_s

    d = travel.distance_m(a, b) if dist_m is None else dist_m
    out = np.zeros(d.shape)
    for prof in profiles:
        free = travel.free_flow_s(a, b, prof, d)
        t = conservative_time_matrix_s(free, travel.hourly_factors(prof), t_from * 60.0, t_to * 60.0)
        np.maximum(out, t / 60.0, out=out)
    return out


def reach(night: CompiledNight) -> Reach:
    net, travel = night.net, night.travel
    P, F = net.n_pickups, net.n_forward
    cold_zone = net.product_zone < 2
    cold = (net.demand[:, cold_zone] > 0).any(axis=1)
    fw = np.array([travel.forward_index(f) for f in range(F)], dtype=np.int64)
    pp = np.array([travel.pickup_index(p) for p in range(P)], dtype=np.int64)
    dist = travel.distance_m(fw, pp).T  # [P, F]
    profiles = last_mile_profiles(net) or [night.default_profile]
    promise = night.policy.promise_minutes
    minutes = np.empty((P, F))
    v = net.vehicles
    has_fleet = np.zeros(F, dtype=bool)
    for t in range(len(v.ids)):
        f = int(v.home[t]) - travel.n_central
        if v.tier[t] == 1 and on_shift(net, t, float(net.fw_dispatch[f])):
            has_fleet[f] = True
    for f in range(F):
        d0 = float(net.fw_dispatch[f])
        minutes[:, f] = conservative_minutes(
            travel, fw[f : f + 1], pp, profiles, d0, d0 + max(promise, float(net.pp_close.max() - d0)),
            dist_m=dist[:, f][None, :],
        )[0]
    arrival = net.fw_dispatch[None, :] + minutes
    in_time = (arrival <= net.pp_close[:, None]) & (~cold[:, None] | (minutes <= promise))
    return Reach(dist_km=dist / 1000.0, minutes=minutes, in_time=in_time, reachable=in_time & has_fleet[None, :],
                 cold=cold)


def precheck(night: CompiledNight, source: str) -> Reach:
    """Raise :class:`ScenarioError` for pickup points no forward warehouse reaches in time.

    Only time and place count here: a warehouse without a vehicle on shift is a planning
    outcome (its pickup points come back unserved with the reason), not an input error."""
    r = reach(night)
    net = night.net
    problems = []
    has_demand = (net.demand > 0).any(axis=1)
    promise = night.policy.promise_minutes
    closing = np.isfinite(net.pp_closed_from)  # closed tonight: what cannot be reached is unserved, not an error
    for p in np.flatnonzero(has_demand & ~closing & ~r.in_time.any(axis=1)):
        f = int(np.argmin(r.minutes[p]))
        what = (
            f"the {promise:g}-minute promise" if r.cold[p] else "its window"
        )
        problems.append(
            f"{source}: pickup_points[{p}] ('{net.pickup_ids[p]}'): no forward warehouse can reach it within "
            f"{what}; the nearest, '{net.forward_ids[f]}', needs {r.minutes[p, f]:.0f} min at the slowest "
            f"speed of the dispatch wave — move it, add a forward warehouse nearby, or widen the window"
        )
    if problems:
        raise ScenarioError(problems)
    return r
