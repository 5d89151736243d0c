"""The thermal model applied to one trip's zone: arrays in, arrays out.

The glue between the physics (:mod:`.model`, :mod:`.quality`) and a delivery trip, shared
by the planner (``fulfil.coldchain``) and the independent checker (``fulfil.checker``):
neither side's bookkeeping lives here, only what the physics says for given numbers.

* :func:`body_compartment` — parameters of one zone's compartment from the vehicle body's
  numbers and the share of the body it takes;
* :func:`simulate_zone` — one zone's goods along a trip (a reefer compartment, or an
  insulated box with ice packs on an unrefrigerated vehicle): the temperature trace, the
  hand-over temperature and the minutes above the zone's range at every stop;
* :func:`handover_quality` — remaining quality and shelf life of a product class at each
  hand-over, from the product-temperature trace;
* :func:`readable_trace` — the trace resampled every few minutes and at given instants
  (what a plan shows).

Times are seconds since 00:00 of the delivery day, temperatures °C, masses kg.  Constants:
hand-over limits and ranges of DB31/T 388 (:data:`.quality.ZONES`), the storage temperature
at the pickup point used for the remaining shelf life (:data:`STORAGE_C`), the default
product class of a zone (:data:`DEFAULT_CLASS`).  No pydantic, no ``fulfil`` imports.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from .model import (
    BoxParams,
    CompartmentParams,
    chilled_compartment,
    frozen_compartment,
    simulate_compartment,
    simulate_insulated_box,
)
from .quality import PRODUCT_CLASSES, ZONES, ProductClass, quality_after, remaining_shelf_life_h

__all__ = [
    "COLD_ZONES",
    "DEFAULT_CLASS",
    "FROZEN_UNIT_RATIO",
    "STORAGE_C",
    "TRACE_STEP_S",
    "ZoneTrace",
    "body_compartment",
    "handover_quality",
    "minutes_above",
    "product_class",
    "readable_trace",
    "simulate_zone",
    "zone_limits",
]

#: Zones the thermal model follows (ambient goods are not modelled).
COLD_ZONES = ("frozen", "chilled")
#: Storage temperature at the pickup point used for the remaining shelf life (°C): chilled
#: cells / leader fridge 4 °C, frozen cells −18 °C (DOMAIN.md §7 quality row).
STORAGE_C = {"chilled": 4.0, "frozen": -18.0}
#: Product class of a product that names none, by zone (DOMAIN.md §2.4).
DEFAULT_CLASS = {"chilled": "leafy_veg", "frozen": "frozen"}
#: A refrigeration unit's capacity at a frozen set point relative to its chilled rating
#: (6,010 W vs 10,250 W, see :func:`.model.frozen_compartment`).
FROZEN_UNIT_RATIO = 6010.0 / 10250.0
#: Step of a readable trace (s).
TRACE_STEP_S = 300.0
#: Product temperature at loading into an insulated box (°C, the chilled set point).
BOX_PRODUCT0_C = 2.0


def zone_limits(zone: str) -> tuple[float, float]:
    """``(upper end of the zone's range, hand-over limit)`` in °C: chilled (4, 7), frozen (−18, −15)."""
    z = ZONES[zone]
    return float(z.upper), float(z.handover_max)


def product_class(zone: str, quality_class: str | None = None) -> ProductClass:
    """The :class:`ProductClass` named ``quality_class``, or the zone's default one."""
    return PRODUCT_CLASSES[quality_class or DEFAULT_CLASS[zone]]


def body_compartment(
    zone: str,
    fraction: float,
    *,
    k_w_m2k: float,
    area_m2: float,
    volume_m3: float,
    unit_kw: float,
    curtain: bool = False,
) -> CompartmentParams:
    """Thermal parameters of ``zone``'s compartment taking ``fraction`` of a reefer body.

    ``k_w_m2k``, ``area_m2``, ``volume_m3`` describe the whole body, ``unit_kw`` the unit's
    capacity at a chilled set point (derated by :data:`FROZEN_UNIT_RATIO` for a frozen
    compartment).  Walls, air, unit and both door terms scale with the share of the body: a
    compartment behind a bulkhead has its own, proportionally smaller door (DOMAIN.md §2.3
    derives the door heat from one air exchange of the whole body).  ``fraction`` is clipped
    to [0.001, 1].
    """
    base = dict(K=k_w_m2k, area=area_m2, volume=volume_m3, curtain=curtain)
    if zone == "frozen":
        p = frozen_compartment(**base, unit_kw=unit_kw * FROZEN_UNIT_RATIO)
    else:
        p = chilled_compartment(**base, unit_kw=unit_kw)
    f = min(1.0, max(float(fraction), 1e-3))
    return replace(p.share(f), q0=p.q0 * f, q1=p.q1 * f)


@dataclass(frozen=True)
class ZoneTrace:
    """One zone's goods along a trip (output of :func:`simulate_zone`).

    ``t_s``/``air_c``/``product_c`` are the model's own (irregular) grid; ``air_c`` is the
    pack temperature for an insulated box and ``product_c`` is NaN once the zone is empty.
    ``handover_c`` and ``minutes_above`` have one entry per stop given to the simulation.
    """

    kind: str  # "reefer" or "insulated_box"
    t_s: np.ndarray
    air_c: np.ndarray
    product_c: np.ndarray
    handover_c: np.ndarray
    minutes_above: np.ndarray


def minutes_above(t_s: np.ndarray, y: np.ndarray, limit: float, t0_s: float, t1_s: float) -> float:
    """Minutes within ``[t0_s, t1_s]`` of the steps of a sampled trace touching values above ``limit``."""
    t = np.asarray(t_s, dtype=np.float64)
    yy = np.asarray(y, dtype=np.float64)
    m = (t >= t0_s) & (t <= t1_s) & ~np.isnan(yy)
    if m.sum() < 2:
        return 0.0
    tt, vv = t[m], yy[m]
    over = (vv[1:] > limit) | (vv[:-1] > limit)
    return float(np.sum(np.diff(tt)[over]) / 60.0)


def simulate_zone(
    zone: str,
    hourly_c: object,
    departure_s: float,
    start_s: object,
    service_s: object,
    crates: object,
    kg: object,
    *,
    compartment: CompartmentParams | None,
    end_s: float | None = None,
    box: BoxParams | None = None,
) -> ZoneTrace:
    """One zone's goods from ``departure_s`` to the last hand-over (or ``end_s``).

    Parameters
    ----------
    zone : "chilled" or "frozen"
    hourly_c : array (24,)
        Outside temperature per clock hour.
    departure_s : float
        Departure from the cold room.
    start_s, service_s : array (m,)
        Service start at each stop that hands over goods of this zone, and the time
        parked there (door events; the goods leave when the stop's service ends).
    crates, kg : array (m,)
        Crates and kilograms of this zone handed over at each of those stops.
    compartment : CompartmentParams or None
        The reefer compartment (:func:`body_compartment`); ``None`` for an insulated box
        with ice packs on an unrefrigerated vehicle (:class:`.model.BoxParams`, ``box``).
    end_s : float, optional
        Reefer only: keep simulating (door closed, unit on) until then, e.g. the return.
    """
    start = np.asarray(start_s, dtype=np.float64)
    serv = np.asarray(service_s, dtype=np.float64)
    cr = np.asarray(crates, dtype=np.float64)
    mass = np.asarray(kg, dtype=np.float64)
    dep = float(departure_s)
    if compartment is not None:
        res = simulate_compartment(compartment, hourly_c, dep, start, serv, cr, mass, end_s=end_s)
        return ZoneTrace("reefer", res.t_s, res.air_c, res.product_c, np.asarray(res.handover_c),
                         np.asarray(res.minutes_above))
    upper, _ = zone_limits(zone)
    b = BoxParams() if box is None else box
    last = float(start[-1] + serv[-1]) if start.size else dep
    dur = max(last - dep, 60.0)
    res = simulate_insulated_box(b, hourly_c, dep, dur, float(mass.sum()), BOX_PRODUCT0_C, stop_s=start,
                                 unload_kg=mass)
    above = np.array([minutes_above(res.t_s, res.product_c, upper, dep, h) for h in start])
    return ZoneTrace("insulated_box", res.t_s, res.pack_c, res.product_c, np.asarray(res.handover_c), above)


def handover_quality(
    t_s: np.ndarray, product_c: np.ndarray, handover_s: object, cls: ProductClass, storage_c: float
) -> tuple[np.ndarray, np.ndarray]:
    """``(quality, remaining shelf life h)`` of ``cls`` at each hand-over instant.

    Quality decays (first-order Q10) over the product-temperature trace from its start up
    to the instant (samples where the zone is empty are skipped; fewer than two samples:
    the class's fresh quality ``q0``); the remaining shelf life is the hours that quality
    keeps above the sale limit at ``storage_c``.
    """
    t = np.asarray(t_s, dtype=np.float64)
    y = np.asarray(product_c, dtype=np.float64)
    at = np.atleast_1d(np.asarray(handover_s, dtype=np.float64))
    q = np.empty(at.shape)
    life = np.empty(at.shape)
    for j, h in enumerate(at):
        mask = t <= h + 1e-6
        th, tc = t[mask] / 3600.0, y[mask]
        ok = ~np.isnan(tc)
        qj = float(quality_after(th[ok], tc[ok], cls)) if ok.sum() >= 2 else cls.q0
        q[j] = qj
        life[j] = float(remaining_shelf_life_h(qj, cls, storage_c))
    return q, life


def _interp_nan(grid: np.ndarray, t: np.ndarray, y: np.ndarray) -> np.ndarray:
    ok = ~np.isnan(y)
    if ok.sum() < 2:
        return np.full(grid.shape, np.nan)
    out = np.interp(grid, t[ok], y[ok])
    out[grid > t[ok][-1] + 1e-6] = np.nan
    return out


def readable_trace(trace: ZoneTrace, marks_s: object, step_s: float = TRACE_STEP_S
                   ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(t_s, air_c, product_c)`` every ``step_s`` and at ``marks_s`` (e.g. the hand-overs);
    the product is NaN once the zone is empty."""
    t = trace.t_s
    marks = np.asarray(marks_s, dtype=np.float64)
    grid = np.unique(np.concatenate([np.arange(t[0], t[-1], step_s), marks, [t[-1]]]))
    air = np.interp(grid, t, trace.air_c)
    prod = _interp_nan(grid, t, trace.product_c)
    return grid, air, prod
