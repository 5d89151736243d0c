"""One compiled night: everything the planning stages need, as read-only arrays.

:func:`compile_night` reads a validated :class:`~fulfil.scenario.schema.Scenario` once —
network, travel model, policies, weather, vehicle bodies, product quality classes,
service times and windows per site — and returns a :class:`CompiledNight`.  The stages in
:mod:`fulfil.stages` take that and arrays; none of them reads the pydantic scenario.

Sites are addressed by the global index of :class:`fulfil.travel.TravelModel`: central
warehouses, then forward warehouses, then pickup points.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from fulfil.network import Z, Network, compile_network
from fulfil.scenario.digest import scenario_digest
from fulfil.travel import TravelModel

if TYPE_CHECKING:
    from fulfil.scenario.schema import Scenario
    from solvers.thermal.quality import ProductClass



def _ro(a: object, dtype: object = None) -> np.ndarray:
    out = np.ascontiguousarray(np.asarray(a, dtype=dtype))
    out.setflags(write=False)
    return out


@dataclass(frozen=True)
class Policy:
    """The scenario's policies as plain numbers (minutes, clock minutes, RMB)."""

    trunk_receiving_open: float
    trunk_receiving_close: float
    trunk_departure: float
    last_mile_dispatch: float
    promise_minutes: float
    reload_fixed_min: float
    reload_per_crate_min: float
    max_trips: int
    trunk_max_trips: int
    customer_pickup_end: float
    cold_chain_model: bool
    spoilage_in_objective: bool
    unserved_penalty_per_crate: float


@dataclass(frozen=True)
class Bodies:
    """Insulated body of each vehicle type (one row per type), for the thermal model."""

    k_w_m2k: np.ndarray
    area_m2: np.ndarray
    volume_m3: np.ndarray
    curtain: np.ndarray  # bool
    unit_kw: np.ndarray
    movable: np.ndarray  # bool: movable partitions (the body total is shared by the zones)


@dataclass(frozen=True)
class CompiledNight:
    name: str
    digest: str
    net: Network
    travel: TravelModel
    policy: Policy
    #: outside air temperature per clock hour 0..23, °C
    weather_c: np.ndarray
    #: per global site: service minutes = fixed + per_crate × crates (pickup points: shop or
    #: locker rule; forward warehouses: trunk unloading; central warehouses: 0)
    service_fixed_min: np.ndarray
    service_per_crate_min: np.ndarray
    #: per global site: when goods may be handed over (pickup windows; trunk receiving)
    window_open: np.ndarray
    window_close: np.ndarray
    #: per global site: float64[n, G, 2] gaps ``(close, next open)`` between receiving windows
    #: (pickup points with several), padded with inf; nothing is handed over strictly inside one
    window_gaps: np.ndarray
    bodies: Bodies
    #: per product: its quality-decay class (None for ambient goods without one)
    product_class: tuple[ProductClass | None, ...]
    #: speed profile used where no vehicle names one
    default_profile: str

    @property
    def n_sites(self) -> int:
        return len(self.travel.ids)

    def service_start(self, site: int, arrival: float) -> float:
        """When service at ``site`` can start for a vehicle arriving at ``arrival`` (minutes): at the
        window's open if early, at the next window's open if it arrives in a gap between windows."""
        start = max(arrival, float(self.window_open[site]))
        for close, reopen in self.window_gaps[site]:
            if close < start < reopen:
                return float(reopen)
        return start

    def reload_min(self, crates: int) -> float:
        """Minutes to reload a vehicle at its depot for a trip carrying ``crates``."""
        return self.policy.reload_fixed_min + self.policy.reload_per_crate_min * crates


def compile_night(scenario: Scenario) -> CompiledNight:
    """Compile ``scenario`` once; the result holds no reference to the pydantic model."""
    from solvers.thermal.route import DEFAULT_CLASS, product_class

    s = scenario
    pol = s.policies
    travel = TravelModel(s)
    net = compile_network(s, travel)
    n_c, n_f, n_p = len(s.central_warehouses), len(s.forward_warehouses), len(s.pickup_points)
    n = n_c + n_f + n_p

    fixed = np.zeros(n)
    per = np.zeros(n)
    fixed[n_c:n_c + n_f] = pol.trunk_unload_fixed_min
    per[n_c:n_c + n_f] = pol.trunk_unload_per_crate_min
    locker = np.array([p.kind == "locker" for p in s.pickup_points], dtype=bool)
    fixed[n_c + n_f:] = np.where(locker, pol.locker_fixed_min, pol.service_fixed_min)
    per[n_c + n_f:] = np.where(locker, pol.locker_per_cell_min, pol.service_per_crate_min)

    w_open = np.zeros(n)
    w_close = np.full(n, np.inf)
    w_open[n_c:n_c + n_f] = pol.trunk_receiving.open
    w_close[n_c:n_c + n_f] = pol.trunk_receiving.close
    w_open[n_c + n_f:] = net.pp_open
    w_close[n_c + n_f:] = net.pp_close  # a closing time tonight shortens the window
    gaps = np.full((n, net.pp_gaps.shape[1], 2), np.inf)
    gaps[n_c + n_f:] = net.pp_gaps

    vt = s.vehicle_types
    bodies = Bodies(
        k_w_m2k=_ro([v.body.k_w_m2k for v in vt], float),
        area_m2=_ro([v.body.area_m2 for v in vt], float),
        volume_m3=_ro([v.body.volume_m3 for v in vt], float),
        curtain=_ro([v.body.curtain for v in vt], bool),
        unit_kw=_ro([v.body.unit_kw for v in vt], float),
        movable=_ro([v.movable_total is not None for v in vt], bool),
    )
    classes = []
    for p in s.products:
        # the zone's default class (chilled, frozen) unless the product names one; ambient: none
        known = p.quality_class is not None or p.zone in DEFAULT_CLASS
        classes.append(product_class(p.zone, p.quality_class) if known else None)

    policy = Policy(
        trunk_receiving_open=float(pol.trunk_receiving.open),
        trunk_receiving_close=float(pol.trunk_receiving.close),
        trunk_departure=float(pol.trunk_departure),
        last_mile_dispatch=float(pol.last_mile_dispatch),
        promise_minutes=float(pol.promise_minutes),
        reload_fixed_min=float(pol.reload_fixed_min),
        reload_per_crate_min=float(pol.reload_per_crate_min),
        max_trips=int(pol.max_trips),
        trunk_max_trips=int(pol.trunk_max_trips),
        customer_pickup_end=float(pol.customer_pickup_end),
        cold_chain_model=bool(pol.cold_chain_model),
        spoilage_in_objective=bool(pol.spoilage_in_objective),
        unserved_penalty_per_crate=float(pol.unserved_penalty_per_crate),
    )
    return CompiledNight(
        name=s.name,
        digest=scenario_digest(s),
        net=net,
        travel=travel,
        policy=policy,
        weather_c=_ro(s.weather.hourly_c, float),
        service_fixed_min=_ro(fixed),
        service_per_crate_min=_ro(per),
        window_open=_ro(w_open),
        window_close=_ro(w_close),
        window_gaps=_ro(gaps),
        bodies=bodies,
        product_class=tuple(classes),
        default_profile=s.speed_profiles[0].id,
    )


__all__ = ["Bodies", "CompiledNight", "Policy", "Z", "compile_night"]
