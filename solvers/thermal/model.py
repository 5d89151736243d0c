"""Lumped thermal models of a reefer compartment and of an ice-pack insulated box.

Arrays in, arrays out (no pydantic, no ``fulfil`` imports).  Times are
seconds since midnight of the route day (the convention of
:mod:`solvers.routing`); temperatures °C; outside temperature is given as 24
hourly values, constant within each hour.

Reefer compartment — two lumped nodes
-------------------------------------
``air`` (air + inner lining, heat capacity ``C_a``) and ``product`` (crates,
``C_p = m · c_p``; ``m`` falls at every stop)::

    C_a dT_a/dt = (UA + G_door(t)) (T_out(t) − T_a) + G (T_p − T_a) − Q_unit(t)
    C_p dT_p/dt = G (T_a − T_p),         G = h_product_air · m

* Walls: ``UA = K · area`` — the ATP definition K = Q / (A ΔT) (DOMAIN §2.2,
  §2.3: "Q = K · A · (T_out − T_in)").
* Door: while a door is open the unit is OFF (DOMAIN §2.2 [S] en.cqchui.com)
  and outside air is exchanged.  DOMAIN §2.3 gives the door heat of one stop
  as ``q0 + q1 · t_open`` (q0 ≈ 0.3 MJ, q1 ≈ 0.15 MJ/min, strip curtain
  halves q1) — derived there from an air exchange at ΔT ≈ 25 K.  It is
  implemented as an exchange *conductance* calibrated on that figure,
  ``G_door = q1 / ΔT_ref`` for the whole opening plus ``q0 / (t0 · ΔT_ref)``
  during its first ``t0`` (= 60 s, the initial "full air exchange"), so the
  stop receives exactly ``q0 + q1 · t_open`` when the inside air is
  ``ΔT_ref`` = 25 K below outside, proportionally more on a hotter day or
  for a frozen box, less once the air inside has warmed (it can never heat
  the box above outside air).
* Door-open minutes per stop: ``door_min_fixed + door_min_per_crate ·
  crates``, capped at ``door_min_cap`` and at the service time.
* Unit: an ideal capacity-limited thermostat — per step, the cooling that
  brings the air back to the set point at the end of the step,
  ``Q = min(unit_kw, needed)`` (never negative: no heating mode).
* Unloading: the goods of a stop leave when its door closes; their hand-over
  temperature is the product-node temperature at that moment.

Integration is *exact* for piecewise-constant inputs: every step solves the
linear 2×2 system in closed form (matrix exponential via its two real
eigenvalues); steps of ``dt_s`` are cut at arrivals, door events, the end of
the initial door exchange and hour boundaries.  The only discretisation is
the controller (its power is constant within a step).

Insulated box with ice / gel packs (unrefrigerated vehicle)
------------------------------------------------------------
Two nodes: ``interior`` (product + inner air/lining) and ``pack`` (enthalpy
model: sensible heat of the frozen pack, latent plateau at its melting point,
sensible heat of the melt)::

    C_i dT_i/dt = UA (T_amb − T_i) + G_pack (T_pack − T_i)
    dH_pack/dt  = G_pack (T_i − T_pack)

Opening the lid at a stop adds one air exchange of the box scaled by the
actual temperature difference (same derivation as DOMAIN §2.3); the unloaded
product leaves.

Sources of defaults are given next to every default below.  Numbers tagged
[E] in DOMAIN.md are estimates; they are marked the same way here.

What the model says against DOMAIN's estimates (defaults, 4.2 m reefer)
-----------------------------------------------------------------------
* One 2.5-min stop at 28 °C: air +4…+5 °C after 1–2 min (DOMAIN §2.3 [E]
  "+4…+10 °C") but recovery in ≈ 3 min (DOMAIN: 5–15 min) and a product
  rise of only ≈ 0.02–0.05 °C per stop (DOMAIN: 0.1–0.5 °C).  The 3.5 kW
  unit removes the door heat (≈ 0.6 MJ) in minutes, before much of it
  reaches goods with a ≈ 3 h time constant.
* Hence a pre-cooled chilled compartment with a working unit is not
  temperature-limited on realistic routes (:func:`max_route_minutes`
  reports ``reason="cap"``/``"load"``); the "15–25 chilled stops" of DOMAIN
  §2.3 [E] only appears with much weaker cooling.  Frozen compartments
  (larger ΔT, derated unit, lower c_p) are limited: e.g. 4 stops/h, 2 crates
  per stop → ≈ 21 stops at 30 °C and ≈ 8 at 35 °C, close to DOMAIN's
  "10–15 frozen stops"; with the unit off for the whole stop, 4–7 stops.
* Door heat as a share of door + wall heat on a 17-stop route: 0.57
  (4 stops/h) to 0.65 (6 stops/h), against ≈ 0.75 implied by the CENEX 2021
  figures (infiltration ≈ 70 %, transmission 20–25 %; DOMAIN §2.3 via
  brightec.nl).
* Not modelled: solar gain on the roof, product respiration heat, latent
  heat of the unfrozen water in frozen food, heat exchange across a bulkhead
  between compartments, unit heating mode, defrost cycles, the warming of
  the goods while carried from the door to the leader.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np
from numba import njit, prange

from .quality import ZONES

__all__ = [
    "CompartmentParams",
    "chilled_compartment",
    "frozen_compartment",
    "CompartmentResult",
    "simulate_compartment",
    "simulate_routes",
    "door_minutes",
    "BoxParams",
    "BoxResult",
    "simulate_insulated_box",
    "box_hold_hours",
    "ProxyLimit",
    "max_route_minutes",
    "proxy_limit_table",
    "service_minutes",
]

# Physical constants (standard handbook values, e.g. ASHRAE Handbook —
# Fundamentals, ch. 1 psychrometrics; DOMAIN §2.3 uses the same ρ = 1.2 kg/m³,
# c_p = 1.0 kJ/kgK for air).
RHO_AIR = 1.2  # kg/m³
CP_AIR = 1005.0  # J/(kg K)
LATENT_ICE = 334.0  # kJ/kg, latent heat of fusion of water
CP_ICE = 2.05  # kJ/(kg K)
CP_WATER = 4.18  # kJ/(kg K)

_MJ = 1.0e6


# --------------------------------------------------------------------------- #
# parameters
# --------------------------------------------------------------------------- #
@dataclass(frozen=True)
class CompartmentParams:
    """Parameters of one reefer compartment (defaults: 4.2 m reefer, chilled).

    Units are in the field names' docs; every default names its source.

    Attributes
    ----------
    K : float
        Wall heat-transfer coefficient, W/(m²·K).  Default 0.40: ATP heavy
        insulation IR (K ≤ 0.40, DOMAIN §2.2 [S] commercialmotor.com,
        hvacpr.pl) and DOMAIN §7 "4.2 m reefer … K = 0.40".
    area : float
        Inside wall area, m².  Default 45: DOMAIN §2.3 [E] "for a 4.2 m reefer
        box, inside area A ≈ 45 m²".  Scale with the bulkhead position for a
        partial compartment.
    volume : float
        Air volume, m³.  Default 16: DOMAIN §1.4 "4.2 m reefer ≈ 16 m³" [E].
    unit_kw : float
        Refrigeration-unit capacity, kW.  Default 3.5: DOMAIN §7 "4.2 m reefer
        … TRU 3.5 kW" (§2.3 [E] "3–4 kW unit").  No stored source gives the
        capacity derating at −20 °C; lower it for a frozen compartment if known.
    setpoint : float
        Air set point, °C.  Default 2 (middle of chilled 0–4 °C, DOMAIN §2.1
        [S] DB31/T 388).
    product_cp : float
        Specific heat of the load, kJ/(kg·K).  Default 3.5 (chilled; Siebel's
        equation c = 0.837 + 3.349·x_w for water mass fraction x_w ≈ 0.8 gives
        3.5; ASHRAE Handbook — Refrigeration, ch. 19 "Thermal properties of
        foods").  Frozen: see :func:`frozen_compartment`.
    h_product_air : float
        Product–air conductance per kg of load, W/(kg·K) (so ``G = h · m``;
        the product time constant ``c_p / h`` does not depend on the load).
        Default 0.30 [E], derived: retail packs of ≈ 0.8 kg / 2.0 L (DOMAIN
        §1.4) expose ≈ 0.06 m² per kg; convective h ≈ 10 W/(m²·K) in the
        circulated air of a reefer (handbook range 5–25 for forced air) and
        about half the pack surface reachable in a stacked crate give
        0.06 × 10 × 0.5 = 0.3.  Product time constant 3500/0.3 s ≈ 3.2 h,
        inside the 1–4 h of forced-air cooling of produce.  With it one stop
        raises the air +4…+7 °C within 2 min (DOMAIN §2.3 [E] "+4…+10 °C
        within 1–2 min") but the product only ≈ 0.02–0.05 °C per stop, below
        DOMAIN §2.3's [E] 0.1–0.5 °C — see the module notes.
    q0 : float
        Door heat per opening, MJ (initial air exchange).  Default 0.3:
        DOMAIN §2.3 [E].
    q1 : float
        Door heat per minute open, MJ/min.  Default 0.15: DOMAIN §2.3 [E]
        ("warm day, no strip curtain").
    door_min_fixed : float
        Door-open minutes per stop, fixed part.  Default 1.5: lower end of
        DOMAIN §7's "door-open time per stop U(1.5, 4) min".
    door_min_per_crate : float
        Door-open minutes per crate unloaded.  Default 0.10 [E]: 25 crates
        reach the upper end 4 min of DOMAIN §7's U(1.5, 4); the per-crate
        service time is 0.15 min (DOMAIN §3.3), of which the door is open
        for most.
    curtain : bool
        Strip curtain fitted: halves ``q1`` (DOMAIN §2.3).  Default False.
    door_min_cap : float
        Cap of door-open minutes per stop.  Default 5: DOMAIN §7 "cap 5 min"
        and §2.3 "per-stop door-open cap of 3–5 min".
    door_dT_ref : float
        Outside–inside difference at which ``q0 + q1·t`` holds, K.  Default 25:
        the ΔT of DOMAIN §2.3's air-exchange derivation
        ("ρ·V·c_p·ΔT ≈ 1.2·16·1.0·25").
    q0_seconds : float
        Duration over which ``q0`` enters, s.  Default 60 [E] (DOMAIN §2.3:
        air rises "within 1–2 min of an open door").
    lining : float
        Heat capacity of the inner lining lumped with the air, kJ/(m²·K).
        Default 2.4 [E]: 1 mm aluminium (2.7 kg/m² × 0.90 kJ/kgK, handbook
        values).
    kg_per_crate : float
        Product mass per crate when masses are not given, kg.  Default 10 [E]:
        a 40 L crate of 0.8 kg / 2.0 L items (DOMAIN §1.4) at ~60 % packing,
        below the §1.4 limit of 15 kg.
    upper_limit : float
        Zone upper limit used for "minutes above", °C.  Default 4 (chilled
        0–4 °C, DOMAIN §2.1).
    handover_max : float
        Tolerated hand-over maximum, °C.  Default 7 (DB31/T 388 chilled
        rebound limit, DOMAIN §2.1).
    zone : str
        Zone name (key of :data:`solvers.thermal.quality.ZONES`).
    unit_off_parked : bool
        Unit off for the whole stop, not only while the door is open (an
        engine-driven unit with the engine stopped).  Default False: DOMAIN
        §2.2 [S] (en.cqchui.com) only requires it off while the door is open.
    """

    K: float = 0.40
    area: float = 45.0
    volume: float = 16.0
    unit_kw: float = 3.5
    setpoint: float = 2.0
    product_cp: float = 3.5
    h_product_air: float = 0.30
    q0: float = 0.3
    q1: float = 0.15
    door_min_fixed: float = 1.5
    door_min_per_crate: float = 0.10
    curtain: bool = False
    door_min_cap: float = 5.0
    door_dT_ref: float = 25.0
    q0_seconds: float = 60.0
    lining: float = 2.4
    kg_per_crate: float = 10.0
    upper_limit: float = 4.0
    handover_max: float = 7.0
    zone: str = "chilled"
    unit_off_parked: bool = False

    def __post_init__(self) -> None:
        for name in ("K", "area", "volume", "unit_kw", "product_cp", "h_product_air", "q0", "q1",
                     "door_min_fixed", "door_min_per_crate", "door_min_cap", "lining", "kg_per_crate"):
            v = getattr(self, name)
            if not (math.isfinite(v) and v >= 0):
                raise ValueError(f"{name} must be finite and >= 0, got {v}")
        if not self.door_dT_ref > 0:
            raise ValueError(f"door_dT_ref must be > 0, got {self.door_dT_ref}")
        if not self.q0_seconds > 0:
            raise ValueError(f"q0_seconds must be > 0, got {self.q0_seconds}")
        if not self.product_cp > 0:
            raise ValueError("product_cp must be > 0")
        if self.air_capacity_j_k <= 0:
            raise ValueError("volume and lining give a zero air heat capacity")
        if self.zone not in ZONES:
            raise ValueError(f"zone must be one of {sorted(ZONES)}, got {self.zone!r}")

    def share(self, fraction: float, unit_fraction: float | None = None) -> "CompartmentParams":
        """Compartment taking ``fraction`` of the body (bulkhead position).

        Area and volume scale linearly with ``fraction`` (the bulkhead's own
        area and the fixed end walls are ignored — an approximation) and the
        unit capacity with ``unit_fraction`` (default ``fraction``).
        """
        if not 0 < fraction <= 1:
            raise ValueError(f"fraction must be in (0, 1], got {fraction}")
        uf = fraction if unit_fraction is None else float(unit_fraction)
        return replace(self, area=self.area * fraction, volume=self.volume * fraction,
                       unit_kw=self.unit_kw * uf)

    # derived quantities (SI) ------------------------------------------------
    @property
    def ua_w_k(self) -> float:
        """Wall conductance K·A, W/K."""
        return self.K * self.area

    @property
    def air_capacity_j_k(self) -> float:
        """Air + lining heat capacity, J/K."""
        return RHO_AIR * CP_AIR * self.volume + 1000.0 * self.lining * self.area

    @property
    def q1_effective_mj_min(self) -> float:
        """``q1``, halved by a strip curtain (DOMAIN §2.3)."""
        return self.q1 * (0.5 if self.curtain else 1.0)

    def _vector(self) -> np.ndarray:
        """Parameter vector of the numba kernels (SI units)."""
        return np.array(
            [
                self.ua_w_k,  # 0 UA W/K
                self.air_capacity_j_k,  # 1 C_air J/K
                self.unit_kw * 1000.0,  # 2 unit W
                self.setpoint,  # 3
                self.product_cp * 1000.0,  # 4 J/kgK
                self.h_product_air,  # 5 W/kgK
                self.q0 * _MJ / self.door_dT_ref,  # 6 q0 as J/K
                self.q1_effective_mj_min * _MJ / 60.0 / self.door_dT_ref,  # 7 G1 W/K
                self.q0_seconds,  # 8
                self.upper_limit,  # 9
                1.0 if self.unit_off_parked else 0.0,  # 10
            ],
            dtype=np.float64,
        )


def chilled_compartment(**overrides: object) -> CompartmentParams:
    """Chilled (0–4 °C) 4.2 m reefer compartment; see :class:`CompartmentParams`."""
    return CompartmentParams(**overrides)  # type: ignore[arg-type]


def frozen_compartment(**overrides: object) -> CompartmentParams:
    """Frozen compartment of a 4.2 m reefer.

    Defaults changed from :class:`CompartmentParams`:

    * ``setpoint`` −20 °C: multi-temperature frozen zone −18…−25 °C
      (DOMAIN §2.2 [S] coldchainsa.com, vantrucktrailer.com) and ATP class C
      (≤ −20 °C at +30 °C, DOMAIN §2.2).
    * ``product_cp`` 1.9 kJ/kgK: Siebel below freezing c = 0.837 + 1.256·x_w
      for x_w ≈ 0.85 (ASHRAE Handbook — Refrigeration ch. 19).  The latent
      heat of the still-unfrozen water (which raises the apparent c_p near
      −12 °C) is ignored — conservative (the product warms faster).
    * ``upper_limit`` −18 °C, ``handover_max`` −15 °C: DB31/T 388 frozen limit
      and transport rebound limit (DOMAIN §2.1).
    * ``unit_kw`` 2.05 kW: 3.5 kW (DOMAIN §7) × 0.59, the capacity ratio
      at −18 °C vs +2 °C box temperature of a published reefer specification
      (6,010 W vs 10,250 W; Shanghai Reefer Container Co., technical
      specification SS1WN1, 2009, vdocuments.site).  In a 2-zone body the
      unit is shared: give each compartment its share (:meth:`CompartmentParams.share`).
    * ``K`` stays 0.40: frozen bodies need IR (DOMAIN §2.2).
    """
    kw: dict[str, object] = dict(
        setpoint=-20.0, product_cp=1.9, unit_kw=3.5 * 6010.0 / 10250.0, upper_limit=-18.0,
        handover_max=-15.0, zone="frozen"
    )
    kw.update(overrides)
    return CompartmentParams(**kw)  # type: ignore[arg-type]


def door_minutes(params: CompartmentParams, crates: object) -> np.ndarray:
    """Door-open minutes per stop: ``fixed + per_crate · crates``, capped."""
    c = np.asarray(crates, dtype=np.float64)
    return np.minimum(params.door_min_fixed + params.door_min_per_crate * c, params.door_min_cap)


#: Default service (parked) minutes at a leader shop: 5 fixed + 0.15 per crate (DOMAIN §3.3/§7).
SERVICE_FIXED_MIN = 5.0
SERVICE_PER_CRATE_MIN = 0.15


def service_minutes(crates: object, fixed_min: float = SERVICE_FIXED_MIN,
                    per_crate_min: float = SERVICE_PER_CRATE_MIN) -> np.ndarray:
    """Service (parked) minutes at a pickup point: ``fixed_min + per_crate_min × crates``."""
    return fixed_min + per_crate_min * np.asarray(crates, dtype=np.float64)


# --------------------------------------------------------------------------- #
# numba kernels: exact step of the 2-node linear system
# --------------------------------------------------------------------------- #
@njit(cache=True, inline="always")
def _phi1(x, t):
    """(e^x − 1)/x · t  with x = λt  (∫_0^t e^{λs} ds)."""
    if abs(x) < 1e-8:
        return t * (1.0 + 0.5 * x)
    return t * math.expm1(x) / x


@njit(cache=True, inline="always")
def _phi2(x, t):
    """(e^x − 1 − x)/x² · t²  with x = λt  (∫_0^t ∫_0^s e^{λu} du ds)."""
    if abs(x) < 1e-3:
        return t * t * (0.5 + x / 6.0 + x * x / 24.0 + x * x * x / 120.0)
    return t * t * (math.expm1(x) - x) / (x * x)


@njit(cache=True)
def _coeffs(cp_tot, g, ua, ca, dt):
    """Step coefficients of C_a Ta' = ua(To − Ta) + g(Tp − Ta) − q ; C_p Tp' = g(Ta − Tp).

    With forcing ``c = (ua·To − q)/C_a`` constant over ``dt`` the exact
    solution is::

        Ta(dt) = eaa·Ta + eab·Tp + faa·c        ∫Ta = faa·Ta + fab·Tp + raa·c
        Tp(dt) = eba·Ta + ebb·Tp + fba·c

    (rows of exp(A·dt), ∫exp(A s) ds and ∫∫exp(A u) du ds).  ``cp_tot <= 0``
    or ``g <= 0`` means no coupled product node (Tp then stays put).
    Returns (eaa, eab, eba, ebb, faa, fab, fba, raa).
    """
    ca_inv = 1.0 / ca
    if cp_tot <= 0.0 or g <= 0.0:
        x = -ua * ca_inv * dt
        return math.exp(x), 0.0, 0.0, 1.0, _phi1(x, dt), 0.0, 0.0, _phi2(x, dt)
    a11 = -(ua + g) * ca_inv
    a12 = g * ca_inv
    a21 = g / cp_tot
    a22 = -a21
    tr = a11 + a22
    diff = a11 - a22
    s = math.sqrt(diff * diff + 4.0 * a12 * a21)
    if s < 1e-9 * abs(tr):
        s = 1e-9 * abs(tr)
    l2 = 0.5 * (tr - s)  # most negative eigenvalue
    l1 = (ua * g * ca_inv / cp_tot) / l2  # = det/l2 = (tr + s)/2 without cancellation
    x1 = l1 * dt
    x2 = l2 * dt
    ex1 = math.exp(x1)
    ex2 = math.exp(x2)
    f1a = _phi1(x1, dt)
    f1b = _phi1(x2, dt)
    f2a = _phi2(x1, dt)
    f2b = _phi2(x2, dt)
    d = l1 - l2
    # f(A) = p0·I + p1·A for two distinct real eigenvalues (Sylvester)
    e1 = (ex1 - ex2) / d
    e0 = (l1 * ex2 - l2 * ex1) / d
    p1 = (f1a - f1b) / d
    p0 = (l1 * f1b - l2 * f1a) / d
    r1 = (f2a - f2b) / d
    r0 = (l1 * f2b - l2 * f2a) / d
    return (e0 + e1 * a11, e1 * a12, e1 * a21, e0 + e1 * a22,
            p0 + p1 * a11, p1 * a12, p1 * a21, r0 + r1 * a11)


@njit(cache=True)
def _step(ta, tp, cp_tot, g, ua, ca, t_out, q_w, dt):
    """One exact step (see :func:`_coeffs`); returns (Ta_end, Tp_end, ∫Ta dt)."""
    eaa, eab, eba, ebb, faa, fab, fba, raa = _coeffs(cp_tot, g, ua, ca, dt)
    c = (ua * t_out - q_w) / ca
    return eaa * ta + eab * tp + faa * c, eba * ta + ebb * tp + fba * c, faa * ta + fab * tp + raa * c


# state vector layout of the route kernel
_S_T, _S_TA, _S_TP, _S_M, _S_COOL, _S_WALL, _S_DOOR, _S_ABOVE, _S_AMAX, _S_NREC = range(10)


@njit(cache=True)
def _advance(st, t_end, door_open, unit_on, door_t0_end, g0, pv, tout24, dt, rec_t, rec_a, rec_p, rec_q, record):
    """Advance the state ``st`` to ``t_end`` (door open or closed, unit on or off)."""
    ua_w = pv[0]
    ca = pv[1]
    unit_w = pv[2]
    setp = pv[3]
    cp = pv[4]
    h = pv[5]
    g1 = pv[7]
    lim = pv[9]
    # coefficient cache: (cp_tot, g, ua, step) repeat for most steps
    k_cp = -1.0
    k_g = -1.0
    k_ua = -1.0
    k_dt = -1.0
    eaa = eab = eba = ebb = faa = fab = fba = raa = 0.0
    while st[_S_T] < t_end - 1e-9:
        t = st[_S_T]
        hour_end = (math.floor(t / 3600.0 + 1e-12) + 1.0) * 3600.0
        step = min(dt, t_end - t, hour_end - t)
        gd = 0.0
        if door_open:
            gd = g1
            if t < door_t0_end - 1e-9:
                step = min(step, door_t0_end - t)
                gd += g0
        if step <= 1e-9:
            step = min(dt, t_end - t)
        hour = int(math.floor(t / 3600.0 + 1e-12)) % 24
        to = tout24[hour]
        m = st[_S_M]
        cp_tot = m * cp if m > 0.0 else 0.0
        g = h * m if m > 0.0 else 0.0
        ua = ua_w + gd
        if cp_tot != k_cp or g != k_g or ua != k_ua or step != k_dt:
            eaa, eab, eba, ebb, faa, fab, fba, raa = _coeffs(cp_tot, g, ua, ca, step)
            k_cp = cp_tot
            k_g = g
            k_ua = ua
            k_dt = step
        ta = st[_S_TA]
        tp = st[_S_TP] if cp_tot > 0.0 else 0.0
        c0 = ua * to / ca
        ta1 = eaa * ta + eab * tp + faa * c0
        q = 0.0
        if unit_on and unit_w > 0.0 and ta1 > setp and faa > 0.0:
            need = (ta1 - setp) * ca / faa
            q = unit_w if need > unit_w else need
        c = c0 - q / ca
        ta1 = eaa * ta + eab * tp + faa * c
        tp1 = eba * ta + ebb * tp + fba * c
        ita = faa * ta + fab * tp + raa * c
        st[_S_COOL] += q * step
        heat_in = to * step - ita
        st[_S_WALL] += ua_w * heat_in
        st[_S_DOOR] += gd * heat_in
        if cp_tot > 0.0:
            # time of the product node above the zone limit (linear in-step)
            if tp > lim and tp1 > lim:
                st[_S_ABOVE] += step
            elif tp > lim or tp1 > lim:
                hi = tp if tp > tp1 else tp1
                lo = tp1 if tp > tp1 else tp
                st[_S_ABOVE] += step * (hi - lim) / (hi - lo)
        st[_S_TA] = ta1
        st[_S_TP] = tp1 if cp_tot > 0.0 else math.nan
        if ta1 > st[_S_AMAX]:
            st[_S_AMAX] = ta1
        st[_S_T] = t + step
        if record:
            k = int(st[_S_NREC])
            if k < rec_t.shape[0]:
                rec_t[k] = t + step
                rec_a[k] = ta1
                rec_p[k] = tp1 if cp_tot > 0.0 else math.nan
                rec_q[k] = q
                st[_S_NREC] = k + 1


@njit(cache=True)
def _route(pv, tout24, t_dep, arr, door_s, serv_s, mass_out, extra_kg, air0, prod0, dt, t_final,
           record, rec_t, rec_a, rec_p, rec_q, handover, above_min, handover_t):
    """Simulate one route; fills ``handover``/``above_min``/``handover_t``; returns state."""
    st = np.zeros(10)
    m0 = extra_kg
    for i in range(arr.shape[0]):
        m0 += mass_out[i]
    st[_S_T] = t_dep
    st[_S_TA] = air0
    st[_S_TP] = prod0 if m0 > 0.0 else math.nan
    st[_S_M] = m0
    st[_S_AMAX] = air0
    if record:
        rec_t[0] = t_dep
        rec_a[0] = air0
        rec_p[0] = st[_S_TP]
        rec_q[0] = 0.0
        st[_S_NREC] = 1
    # one call site of _advance (keeps the compiled code small): per stop
    # phase 0 drive (door closed, unit on), 1 door open (unit off),
    # 2 hand-over then rest of the service; finally the run-out to t_final.
    m = arr.shape[0]
    parked_on = pv[10] == 0.0
    for j in range(3 * m + 1):
        i = j // 3
        ph = j - 3 * i
        door = False
        on = True
        t0_end = 0.0
        g0 = 0.0
        if i == m:
            target = t_final
        elif ph == 0:
            target = arr[i]
        elif ph == 1:
            d = door_s[i]
            target = st[_S_T] + d
            door = True
            on = False
            if d > 0.0:
                t0 = min(pv[8], d)
                g0 = pv[6] / t0
                t0_end = st[_S_T] + t0
        else:
            # hand-over: the goods of this stop leave now; goods without thermal mass (their
            # kg negligible, see the 1e-9 cut below) are at the air's temperature
            if st[_S_M] > 0.0:
                handover[i] = st[_S_TP]
            else:
                handover[i] = st[_S_TA]
            above_min[i] = st[_S_ABOVE] / 60.0
            handover_t[i] = st[_S_T]
            m_new = st[_S_M] - mass_out[i]
            if m_new <= 1e-9:
                m_new = 0.0
                st[_S_TP] = math.nan
            st[_S_M] = m_new
            target = arr[i] + serv_s[i]
            on = parked_on
        if target > st[_S_T]:
            _advance(st, target, door, on, t0_end, g0, pv, tout24, dt, rec_t, rec_a, rec_p, rec_q, record)
    return st


@njit(cache=True)
def _batch_one(r, pv, tout24, t_dep, arr, door_s, serv_s, mass_out, n_stops, extra_kg, air0, prod0, dt,
               handover, above_min, totals):
    """Route ``r`` of a padded batch (copies its row into contiguous arrays)."""
    k = n_stops[r]
    a = np.empty(k)
    ds = np.empty(k)
    ss = np.empty(k)
    ms = np.empty(k)
    for i in range(k):
        a[i] = arr[r, i]
        ds[i] = door_s[r, i]
        ss[i] = serv_s[r, i]
        ms[i] = mass_out[r, i]
    ho = np.full(k, np.nan)
    ab = np.zeros(k)
    ht = np.zeros(k)
    dummy = np.zeros(1)
    st = _route(pv, tout24, t_dep[r], a, ds, ss, ms, extra_kg[r], air0[r], prod0[r], dt, 0.0, False,
                dummy, dummy, dummy, dummy, ho, ab, ht)
    for i in range(k):
        handover[r, i] = ho[i]
        above_min[r, i] = ab[i]
    totals[r, 0] = st[_S_COOL]
    totals[r, 1] = st[_S_WALL]
    totals[r, 2] = st[_S_DOOR]
    totals[r, 3] = st[_S_AMAX]


@njit(cache=True)
def _routes_batch(pv, tout24, t_dep, arr, door_s, serv_s, mass_out, n_stops, extra_kg, air0, prod0, dt,
                  handover, above_min, totals):
    for r in range(arr.shape[0]):
        _batch_one(r, pv, tout24, t_dep, arr, door_s, serv_s, mass_out, n_stops, extra_kg, air0, prod0, dt,
                   handover, above_min, totals)


@njit(cache=True, parallel=True)
def _routes_batch_parallel(pv, tout24, t_dep, arr, door_s, serv_s, mass_out, n_stops, extra_kg, air0, prod0,
                           dt, handover, above_min, totals):
    for r in prange(arr.shape[0]):
        _batch_one(r, pv, tout24, t_dep, arr, door_s, serv_s, mass_out, n_stops, extra_kg, air0, prod0, dt,
                   handover, above_min, totals)


# --------------------------------------------------------------------------- #
# validation helpers
# --------------------------------------------------------------------------- #
def _f1(name: str, v: object, n: int | None = None) -> np.ndarray:
    a = np.ascontiguousarray(np.asarray(v, dtype=np.float64))
    if a.ndim != 1:
        raise ValueError(f"{name} must be 1-d, got shape {a.shape}")
    if n is not None and a.shape[0] != n:
        raise ValueError(f"{name} must have {n} values, got {a.shape[0]}")
    if not np.all(np.isfinite(a)):
        raise ValueError(f"{name} must be finite")
    return a


def _tout24(t_out: object) -> np.ndarray:
    a = np.asarray(t_out, dtype=np.float64)
    if a.ndim == 0:
        a = np.full(24, float(a))
    if a.shape != (24,):
        raise ValueError(f"outside temperature must be a scalar or 24 hourly values, got shape {a.shape}")
    if not np.all(np.isfinite(a)):
        raise ValueError("outside temperature must be finite")
    return np.ascontiguousarray(a)


# --------------------------------------------------------------------------- #
# public API: compartment
# --------------------------------------------------------------------------- #
@dataclass(frozen=True)
class CompartmentResult:
    """Output of :func:`simulate_compartment`.

    Attributes
    ----------
    t_s : ndarray (n,)
        Time grid, s since midnight (irregular: cut at events).
    air_c, product_c : ndarray (n,)
        Air and product-node temperatures (product NaN once empty).
    cooling_w : ndarray (n,)
        Unit cooling power over the step ending at ``t_s[k]`` (0 at k = 0).
    handover_c : ndarray (m,)
        Product temperature of the goods handed over at each stop (the air's for
        goods of negligible mass, which have no temperature of their own).
    handover_s : ndarray (m,)
        Hand-over time (door closes) per stop.
    minutes_above : ndarray (m,)
        Minutes the product spent above ``params.upper_limit`` from departure
        to each stop's hand-over.
    door_min : ndarray (m,)
        Door-open minutes used per stop.
    cooling_kj, wall_kj, door_kj : float
        Energy removed by the unit; heat gained through walls and doors.
    air_max_c : float
        Highest air temperature.
    """

    t_s: np.ndarray
    air_c: np.ndarray
    product_c: np.ndarray
    cooling_w: np.ndarray
    handover_c: np.ndarray
    handover_s: np.ndarray
    minutes_above: np.ndarray
    door_min: np.ndarray
    cooling_kj: float
    wall_kj: float
    door_kj: float
    air_max_c: float


def _stops(params, arrival_s, service_s, crates, mass_kg, door_min):
    arr = _f1("arrival_s", arrival_s)
    m = arr.shape[0]
    serv = _f1("service_s", service_s, m)
    cr = _f1("crates", crates, m)
    if np.any(serv < 0) or np.any(cr < 0):
        raise ValueError("service_s and crates must be >= 0")
    if m and np.any(np.diff(arr) < 0):
        raise ValueError("arrival_s must be non-decreasing")
    mass = cr * params.kg_per_crate if mass_kg is None else _f1("mass_kg", mass_kg, m)
    if np.any(mass < 0):
        raise ValueError("mass_kg must be >= 0")
    dm = door_minutes(params, cr) if door_min is None else _f1("door_min", door_min, m)
    if np.any(dm < 0):
        raise ValueError("door_min must be >= 0")
    door_s = np.minimum(dm * 60.0, serv)
    return arr, np.ascontiguousarray(door_s), serv, np.ascontiguousarray(mass), door_s / 60.0


def simulate_compartment(
    params: CompartmentParams,
    t_out_hourly: object,
    departure_s: float,
    arrival_s: object,
    service_s: object,
    crates: object,
    mass_kg: object = None,
    *,
    air0_c: float | None = None,
    product0_c: float | None = None,
    extra_mass_kg: float = 0.0,
    door_min: object = None,
    end_s: float | None = None,
    dt_s: float = 10.0,
) -> CompartmentResult:
    """Air and product temperature of one compartment along a route.

    Parameters
    ----------
    params : CompartmentParams
    t_out_hourly : float or array (24,)
        Outside temperature per hour of day (°C), constant within the hour.
    departure_s : float
        Departure from the cold room, s since midnight.
    arrival_s, service_s : array (m,)
        Arrival time at each stop (non-decreasing) and time parked there (s).
    crates : array (m,)
        Crates of this compartment unloaded at each stop (sets the door time).
    mass_kg : array (m,), optional
        Product mass unloaded per stop; default ``crates · kg_per_crate``.
    air0_c, product0_c : float, optional
        Air temperature at departure (pre-cooled box) and product temperature
        at loading; default ``params.setpoint`` for both.
    extra_mass_kg : float
        Product that stays aboard all route (thermal mass only).
    door_min : array (m,), optional
        Door-open minutes per stop, overriding :func:`door_minutes`.
    end_s : float, optional
        Keep simulating (door closed, unit on) until this time if it is after
        the last stop's departure — e.g. the empty return, or a closed-box run
        with no stops.
    dt_s : float
        Maximum step (s).

    Returns
    -------
    CompartmentResult
    """
    if not dt_s > 0:
        raise ValueError(f"dt_s must be > 0, got {dt_s}")
    tout = _tout24(t_out_hourly)
    arr, door_s, serv, mass, dmin = _stops(params, arrival_s, service_s, crates, mass_kg, door_min)
    t_dep = float(departure_s)
    if arr.size and arr[0] < t_dep:
        raise ValueError("first arrival is before departure")
    if not (math.isfinite(extra_mass_kg) and extra_mass_kg >= 0):
        raise ValueError(f"extra_mass_kg must be finite and >= 0, got {extra_mass_kg}")
    air0 = params.setpoint if air0_c is None else float(air0_c)
    prod0 = params.setpoint if product0_c is None else float(product0_c)
    if not (math.isfinite(air0) and math.isfinite(prod0) and math.isfinite(t_dep)):
        raise ValueError("departure_s, air0_c and product0_c must be finite")
    t_end = max(t_dep, float(np.max(arr + serv)) if arr.size else t_dep)
    if end_s is not None:
        t_end = max(t_end, float(end_s))
    cap = int(math.ceil((t_end - t_dep) / dt_s)) + 4 * arr.size + int((t_end - t_dep) // 3600) + 8
    rec_t = np.empty(cap)
    rec_a = np.empty(cap)
    rec_p = np.empty(cap)
    rec_q = np.empty(cap)
    m = arr.size
    ho = np.full(m, np.nan)
    ab = np.zeros(m)
    ht = np.zeros(m)
    st = _route(params._vector(), tout, t_dep, arr, door_s, serv, mass, float(extra_mass_kg), air0, prod0,
                float(dt_s), t_end, True, rec_t, rec_a, rec_p, rec_q, ho, ab, ht)
    n = int(st[_S_NREC])
    return CompartmentResult(
        t_s=rec_t[:n].copy(),
        air_c=rec_a[:n].copy(),
        product_c=rec_p[:n].copy(),
        cooling_w=rec_q[:n].copy(),
        handover_c=ho,
        handover_s=ht,
        minutes_above=ab,
        door_min=dmin,
        cooling_kj=st[_S_COOL] / 1000.0,
        wall_kj=st[_S_WALL] / 1000.0,
        door_kj=st[_S_DOOR] / 1000.0,
        air_max_c=st[_S_AMAX],
    )


def simulate_routes(
    params: CompartmentParams,
    t_out_hourly: object,
    departure_s: object,
    arrival_s: object,
    service_s: object,
    crates: object,
    mass_kg: object = None,
    n_stops: object = None,
    *,
    air0_c: object = None,
    product0_c: object = None,
    extra_mass_kg: object = 0.0,
    dt_s: float = 10.0,
    parallel: bool = False,
) -> dict[str, np.ndarray]:
    """Hand-over temperatures of many routes at once (numba, parallel; no traces).

    Parameters
    ----------
    departure_s : array (r,)
    arrival_s, service_s, crates : array (r, m)
        Stop data padded to ``m`` columns; only the first ``n_stops[r]`` are used.
    mass_kg : array (r, m), optional
        Default ``crates · kg_per_crate``.
    n_stops : array (r,) of int, optional
        Default ``m`` for every route.
    air0_c, product0_c, extra_mass_kg : float or array (r,)
    dt_s : float
        Maximum step (s).
    parallel : bool
        Spread routes over threads (numba ``prange``); its first call compiles
        a separate kernel (several seconds, then cached).

    Returns
    -------
    dict
        ``handover_c`` (r, m) NaN-padded, ``minutes_above`` (r, m),
        ``cooling_kj``, ``wall_kj``, ``door_kj``, ``air_max_c`` (r,).
    """
    if not dt_s > 0:
        raise ValueError(f"dt_s must be > 0, got {dt_s}")
    tout = _tout24(t_out_hourly)
    dep = _f1("departure_s", np.atleast_1d(departure_s))
    r = dep.shape[0]
    arr = np.ascontiguousarray(np.asarray(arrival_s, dtype=np.float64))
    if arr.ndim != 2 or arr.shape[0] != r:
        raise ValueError(f"arrival_s must have shape ({r}, m), got {arr.shape}")
    m = arr.shape[1]
    serv = np.ascontiguousarray(np.broadcast_to(np.asarray(service_s, dtype=np.float64), (r, m)))
    cr = np.ascontiguousarray(np.broadcast_to(np.asarray(crates, dtype=np.float64), (r, m)))
    ns = np.full(r, m, dtype=np.int64) if n_stops is None else np.asarray(n_stops, dtype=np.int64)
    if ns.shape != (r,) or np.any(ns < 0) or np.any(ns > m):
        raise ValueError(f"n_stops must be (r,) integers in [0, {m}]")
    mass = cr * params.kg_per_crate if mass_kg is None else np.broadcast_to(
        np.asarray(mass_kg, dtype=np.float64), (r, m))
    mass = np.ascontiguousarray(mass)
    door_s = np.ascontiguousarray(np.minimum(door_minutes(params, cr) * 60.0, serv))
    valid = np.arange(m)[None, :] < ns[:, None]
    for name, a in (("arrival_s", arr), ("service_s", serv), ("crates", cr), ("mass_kg", mass)):
        if not np.all(np.isfinite(a[valid])):
            raise ValueError(f"{name} must be finite for the used stops")
    if np.any(serv[valid] < 0) or np.any(cr[valid] < 0) or np.any(mass[valid] < 0):
        raise ValueError("service_s, crates and mass_kg must be >= 0")
    sp = params.setpoint
    air0 = np.ascontiguousarray(np.broadcast_to(np.asarray(sp if air0_c is None else air0_c, float), (r,)))
    prod0 = np.ascontiguousarray(
        np.broadcast_to(np.asarray(sp if product0_c is None else product0_c, float), (r,)))
    extra = np.ascontiguousarray(np.broadcast_to(np.asarray(extra_mass_kg, float), (r,)))
    handover = np.full((r, m), np.nan)
    above = np.full((r, m), np.nan)
    totals = np.zeros((r, 4))
    kernel = _routes_batch_parallel if parallel else _routes_batch
    kernel(params._vector(), tout, dep, arr, door_s, serv, mass, ns, extra, air0, prod0, float(dt_s),
           handover, above, totals)
    return {
        "handover_c": handover,
        "minutes_above": above,
        "cooling_kj": totals[:, 0] / 1000.0,
        "wall_kj": totals[:, 1] / 1000.0,
        "door_kj": totals[:, 2] / 1000.0,
        "air_max_c": totals[:, 3],
    }


# --------------------------------------------------------------------------- #
# derived proxy limits for the planner
# --------------------------------------------------------------------------- #
@dataclass(frozen=True)
class ProxyLimit:
    """Result of :func:`max_route_minutes`.

    Attributes
    ----------
    max_stops : int
        Largest number of stops ``n`` such that every route with ``1..n``
        stops of the given pattern keeps all hand-overs ``<= limit_c``.
    max_minutes : float
        Minutes from departure to the last hand-over of that route (the
        "minutes out of the cold room" proxy).
    limit_c : float
        Limit used.
    handover_c : ndarray
        Hand-over temperatures of the limiting (``max_stops``) route.
    first_violation_c : ndarray
        Hand-over temperatures of the first infeasible route (empty if none).
    reason : str
        What stopped the scan: ``"temperature"`` (a hand-over above the
        limit — a thermal proxy limit), ``"load"`` (one more stop would exceed
        ``max_load_kg``) or ``"cap"`` (``max_stops_cap`` reached); with the
        last two the route is not thermally limited.
    """

    max_stops: int
    max_minutes: float
    limit_c: float
    handover_c: np.ndarray
    first_violation_c: np.ndarray
    reason: str


def _pattern(n, stops_per_hour, crates_per_stop, departure_s, first_leg_min, service_fixed_min,
             service_per_crate_min):
    spacing = 3600.0 / stops_per_hour
    serv = float(service_minutes(crates_per_stop, service_fixed_min, service_per_crate_min)) * 60.0
    if serv > spacing:
        raise ValueError(
            f"service of {serv / 60:.1f} min per stop does not fit {stops_per_hour} stops/hour")
    arr = departure_s + first_leg_min * 60.0 + spacing * np.arange(n)
    return arr, np.full(n, serv), np.full(n, float(crates_per_stop))


def max_route_minutes(
    params: CompartmentParams,
    t_out_c: object,
    *,
    stops_per_hour: float,
    crates_per_stop: float,
    departure_s: float = 7 * 3600.0,
    first_leg_min: float = 20.0,
    service_fixed_min: float = SERVICE_FIXED_MIN,
    service_per_crate_min: float = SERVICE_PER_CRATE_MIN,
    limit_c: float | None = None,
    max_stops_cap: int = 80,
    max_load_kg: float | None = None,
    air0_c: float | None = None,
    product0_c: float | None = None,
    dt_s: float = 15.0,
) -> ProxyLimit:
    """Largest stops / minutes-out for which every hand-over stays in range.

    A synthetic route of the given pattern is simulated for ``n = 1, 2, …``
    stops: first arrival ``first_leg_min`` after departure (default 20 min
    [E]: a 5 km GW service radius, DOMAIN §7, at urban speeds §3.1), then one
    arrival every ``60 / stops_per_hour`` minutes; ``crates_per_stop`` crates
    (``kg_per_crate`` each) are unloaded at each stop, the door is open
    :func:`door_minutes` and the vehicle parked ``service_fixed_min +
    service_per_crate_min × crates`` (default 5 min + 0.15 min/crate, DOMAIN
    §3.3; the planner passes the scenario's service policy).  The load at departure is the sum
    of all stops' goods, so longer routes start with more thermal mass.

    Parameters
    ----------
    params : CompartmentParams
    t_out_c : float or array (24,)
        Outside temperature.
    stops_per_hour, crates_per_stop : float
        Stop pattern.
    service_fixed_min, service_per_crate_min : float
        Minutes parked at each stop: fixed plus per crate unloaded.
    limit_c : float, optional
        Hand-over limit; default ``params.handover_max`` (chilled 7 °C,
        frozen −15 °C — DB31/T 388, DOMAIN §2.1).
    max_stops_cap : int
        Largest ``n`` tried.
    max_load_kg : float, optional
        Stop the scan when the departure load ``n · crates_per_stop ·
        kg_per_crate`` would exceed it (e.g. the compartment's share of the
        1.8 t payload of a 4.2 m reefer, DOMAIN §1.4/§7).
    air0_c, product0_c : float, optional
        Pre-cooled air and product temperatures (default the set point).
    dt_s : float
        Maximum step (s).

    Returns
    -------
    ProxyLimit
    """
    if not stops_per_hour > 0 or not crates_per_stop >= 0:
        raise ValueError("stops_per_hour must be > 0 and crates_per_stop >= 0")
    lim = params.handover_max if limit_c is None else float(limit_c)
    tout = _tout24(t_out_c)
    pv = params._vector()
    air0 = params.setpoint if air0_c is None else float(air0_c)
    prod0 = params.setpoint if product0_c is None else float(product0_c)
    best_n, best_min, best_ho = 0, 0.0, np.empty(0)
    viol = np.empty(0)
    reason = "cap"
    dummy = np.zeros(1)
    for n in range(1, max_stops_cap + 1):
        if max_load_kg is not None and n * crates_per_stop * params.kg_per_crate > max_load_kg:
            reason = "load"
            break
        arr, serv, cr = _pattern(n, stops_per_hour, crates_per_stop, departure_s, first_leg_min,
                                 service_fixed_min, service_per_crate_min)
        mass = cr * params.kg_per_crate
        door_s = np.minimum(door_minutes(params, cr) * 60.0, serv)
        ho = np.full(n, np.nan)
        ab = np.zeros(n)
        ht = np.zeros(n)
        _route(pv, tout, float(departure_s), arr, door_s, serv, mass, 0.0, air0, prod0, float(dt_s), 0.0,
               False, dummy, dummy, dummy, dummy, ho, ab, ht)
        if not np.all(ho <= lim):
            viol = ho
            reason = "temperature"
            break
        best_n, best_min, best_ho = n, (ht[-1] - departure_s) / 60.0, ho
    return ProxyLimit(best_n, best_min, lim, best_ho, viol, reason)


def proxy_limit_table(
    params: CompartmentParams,
    t_out_values: object,
    stops_per_hour: object,
    crates_per_stop: object,
    **kw: object,
) -> dict[str, np.ndarray]:
    """:func:`max_route_minutes` over a grid (outside T × stops/h × crates/stop).

    Returns a dict of arrays with shape ``(len(t_out), len(sph), len(cps))``:
    ``max_stops``, ``max_minutes`` and ``thermal`` (True where the limit is a
    temperature violation rather than the load or the scan cap).
    """
    to = np.atleast_1d(np.asarray(t_out_values, dtype=float))
    sph = np.atleast_1d(np.asarray(stops_per_hour, dtype=float))
    cps = np.atleast_1d(np.asarray(crates_per_stop, dtype=float))
    ns = np.zeros((to.size, sph.size, cps.size), dtype=np.int64)
    mm = np.zeros((to.size, sph.size, cps.size))
    th = np.zeros((to.size, sph.size, cps.size), dtype=bool)
    for i, t in enumerate(to):
        for j, s in enumerate(sph):
            for k, c in enumerate(cps):
                p = max_route_minutes(params, float(t), stops_per_hour=float(s), crates_per_stop=float(c),
                                      **kw)  # type: ignore[arg-type]
                ns[i, j, k] = p.max_stops
                mm[i, j, k] = p.max_minutes
                th[i, j, k] = p.reason == "temperature"
    return {"max_stops": ns, "max_minutes": mm, "thermal": th}


# --------------------------------------------------------------------------- #
# insulated box with ice / gel packs
# --------------------------------------------------------------------------- #
@dataclass(frozen=True)
class BoxParams:
    """Insulated box with ice / gel packs on an unrefrigerated vehicle.

    Defaults: the e-trike box of DOMAIN §7 ("0.3 t, 1.2 m³ (insulated box +
    ice packs, 4 h hold)"), chilled goods.  With 120 kg of product loaded at
    2 °C the product stays ≤ 7 °C (the chilled hand-over tolerance, DOMAIN
    §2.1) for about 4–5 h at 25–30 °C (checked in the tests).

    Attributes
    ----------
    K : float
        Wall coefficient, W/(m²·K).  Default 1.1 [E]: a 30 mm expanded
        polystyrene (EPS) wall, k ≈ 0.035 W/(m·K) — tested R-values 10.2 and
        10.6 h·ft²·°F/Btu for 2.73 in and 2.52 in EPS boards, i.e.
        k = 0.039 and 0.034 W/(m·K) (SPI EPS Molders Group test report 1993,
        publicinfo.ci.orono.mn.us WebLink doc 17112) — plus surface films:
        1 / (0.030/0.035 + 0.1) ≈ 1.05.  Worse than the ATP limit of normal
        insulation IN, 0.70 (DOMAIN §2.2), as expected of a portable box.
    area : float
        Outside area, m².  Default 7.0 [E]: a 1.2 m³ box (DOMAIN §7) of about
        1.3 × 1.0 × 0.95 m.
    volume : float
        Inner volume, m³.  Default 1.2 (DOMAIN §7).
    pack_kg : float
        Mass of ice / gel packs, kg.  Default 2.0 [E]: chosen so that the
        default box with 120 kg of chilled goods (0.3 t e-trike payload ×
        40 % chilled share, DOMAIN §7) loaded at 2 °C holds ≤ 7 °C for
        ≈ 4.1–5.1 h at 30–25 °C: the "4 h hold" of DOMAIN §7.
    pack_latent : float
        Latent heat of the packs, kJ/kg.  Default 334 (water ice; water-based
        gel packs are ≈ water — handbook value).
    pack_melt_c : float
        Melting point of the packs, °C.  Default 0 (water).
    pack_cp_solid, pack_cp_liquid : float
        kJ/(kg·K).  Defaults 2.05 (ice) and 4.18 (water), handbook values.
    pack0_c : float
        Pack temperature at loading.  Default −18 (conditioned in a −18 °C
        freezer, the frozen-storage limit of DOMAIN §2.1).
    g_pack : float
        Pack–interior conductance, W/K.  Default 30 [E]: ≈ 1 m² of pack
        surface (five 0.4 kg packs, both faces) laid on the goods, contact
        plus convection ≈ 30 W/(m²·K).  It must exceed the wall ``K·A``
        several times for packs to hold the goods near their melting point,
        as they do in practice.
    product_cp : float
        kJ/(kg·K).  Default 3.5 (as :class:`CompartmentParams`).
    interior_kj_k : float
        Heat capacity of the inner air and lining, kJ/K.  Default 5.0 [E]
        (1.2 m³ of air ≈ 1.4 kJ/K plus a thin plastic liner).
    lid_dT_ref : float
        Reference ΔT of one lid opening's air exchange, K.  Default 25 (as
        DOMAIN §2.3).
    lid_exchange_factor : float
        Sensible + latent multiplier of one air exchange.  Default 1.4: DOMAIN
        §2.3 "(+ latent, ×1.3–1.5)".
    hold_limit_c : float
        Product temperature defining the hold time.  Default 7 (chilled
        hand-over tolerance, DOMAIN §2.1).
    """

    K: float = 1.1
    area: float = 7.0
    volume: float = 1.2
    pack_kg: float = 2.0
    pack_latent: float = LATENT_ICE
    pack_melt_c: float = 0.0
    pack_cp_solid: float = CP_ICE
    pack_cp_liquid: float = CP_WATER
    pack0_c: float = -18.0
    g_pack: float = 30.0
    product_cp: float = 3.5
    interior_kj_k: float = 5.0
    lid_dT_ref: float = 25.0
    lid_exchange_factor: float = 1.4
    hold_limit_c: float = 7.0

    def __post_init__(self) -> None:
        for name in ("K", "area", "volume", "pack_kg", "pack_latent", "pack_cp_solid", "pack_cp_liquid",
                     "g_pack", "product_cp", "lid_exchange_factor"):
            v = getattr(self, name)
            if not (math.isfinite(v) and v >= 0):
                raise ValueError(f"{name} must be finite and >= 0, got {v}")
        if not self.interior_kj_k > 0:
            raise ValueError("interior_kj_k must be > 0")
        if self.pack_kg > 0 and (self.pack_cp_solid <= 0 or self.pack_cp_liquid <= 0):
            raise ValueError("pack heat capacities must be > 0")

    @property
    def ua_w_k(self) -> float:
        """Wall conductance K·A, W/K."""
        return self.K * self.area

    @property
    def lid_j_per_k(self) -> float:
        """Heat of one lid opening per K of outside–inside difference, J/K."""
        return RHO_AIR * CP_AIR * self.volume * self.lid_exchange_factor


@njit(cache=True)
def _pack_temp(hh, mass, cs, cl, lat, tm):
    """Pack temperature from enthalpy ``hh`` (J, 0 = solid at the melting point)."""
    if mass <= 0.0:
        return tm
    if hh < 0.0:
        return tm + hh / (mass * cs)
    if hh <= mass * lat:
        return tm
    return tm + (hh - mass * lat) / (mass * cl)


@njit(cache=True)
def _box(bv, tout24, t0, t_end, stop_t, unload, m0, prod0, dt, rec_t, rec_i, rec_p, rec_f, handover):
    ua = bv[0]
    cint = bv[1]
    gp = bv[2]
    mass = bv[3]
    lat = bv[4] * 1000.0
    tm = bv[5]
    cs = bv[6] * 1000.0
    cl = bv[7] * 1000.0
    cpp = bv[8] * 1000.0
    lid = bv[9]
    # initial pack enthalpy
    tp0 = bv[10]
    if tp0 <= tm:
        hh = mass * cs * (tp0 - tm)
    else:
        hh = mass * lat + mass * cl * (tp0 - tm)
    ti = prod0
    m = m0
    t = t0
    k = 0
    rec_t[0] = t
    rec_i[0] = ti
    rec_p[0] = _pack_temp(hh, mass, cs, cl, lat, tm)
    rec_f[0] = min(max(hh / (mass * lat), 0.0), 1.0) if mass > 0.0 and lat > 0.0 else 0.0
    k = 1
    nstop = stop_t.shape[0]
    j = 0
    while t < t_end - 1e-9:
        nxt = t_end
        if j < nstop and stop_t[j] < nxt:
            nxt = stop_t[j]
        while t < nxt - 1e-9:
            hour_end = (math.floor(t / 3600.0 + 1e-12) + 1.0) * 3600.0
            step = min(dt, nxt - t, hour_end - t)
            to = tout24[int(math.floor(t / 3600.0 + 1e-12)) % 24]
            ci = cint + m * cpp
            tpk = _pack_temp(hh, mass, cs, cl, lat, tm)
            melting = mass > 0.0 and 0.0 <= hh <= mass * lat and lat > 0.0
            # one call site of _step: choose the linear system of this phase
            cpk = 0.0
            gk = 0.0
            ua_k = ua
            to_k = to
            if mass > 0.0 and gp > 0.0:
                if melting:
                    # pack fixed at tm: one node with conductances ua (to) and gp (tm)
                    ua_k = ua + gp
                    to_k = (ua * to + gp * tm) / ua_k
                else:
                    cpk = mass * (cs if hh < 0.0 else cl)
                    gk = gp
            ti1, tpk1, ita = _step(ti, tpk, cpk, gk, ua_k, ci, to_k, 0.0, step)
            if gk > 0.0:
                q_pack = cpk * (tpk1 - tpk)
            elif mass > 0.0 and gp > 0.0:
                q_pack = gp * (ita - tm * step)
            else:
                q_pack = 0.0
            hh += q_pack
            ti = ti1
            t += step
            if k < rec_t.shape[0]:
                rec_t[k] = t
                rec_i[k] = ti
                rec_p[k] = _pack_temp(hh, mass, cs, cl, lat, tm)
                rec_f[k] = min(max(hh / (mass * lat), 0.0), 1.0) if mass > 0.0 and lat > 0.0 else 0.0
                k += 1
        if j < nstop and t >= stop_t[j] - 1e-9 and stop_t[j] <= t_end:
            # lid opening: one air exchange, then the goods of this stop leave
            to = tout24[int(math.floor(t / 3600.0 + 1e-12)) % 24]
            ci = cint + m * cpp
            dq = lid * (to - ti)
            ti = ti + dq / ci
            handover[j] = ti
            m = m - unload[j]
            if m < 1e-9:
                m = 0.0
            j += 1
    return k


def _first_rise_above(ts: np.ndarray, y: np.ndarray, lim: float) -> float:
    """First time ``y`` rises above ``lim`` after having been ``<= lim`` (NaN if never).

    A trace that starts above ``lim`` (goods loaded warm) is counted from the
    moment it has been cooled to ``lim``; linear interpolation in the step.
    """
    ok = np.flatnonzero(y <= lim)
    if ok.size == 0:
        return math.nan
    after = np.flatnonzero(y[ok[0]:] > lim)
    if after.size == 0:
        return math.nan
    k = int(ok[0] + after[0])
    frac = (lim - y[k - 1]) / (y[k] - y[k - 1])
    return float(ts[k - 1] + frac * (ts[k] - ts[k - 1]))


@dataclass(frozen=True)
class BoxResult:
    """Output of :func:`simulate_insulated_box`.

    Attributes
    ----------
    t_s : ndarray (n,)
    product_c : ndarray (n,)
        Interior (product) temperature.
    pack_c : ndarray (n,)
        Pack temperature.
    melted : ndarray (n,)
        Melted fraction of the packs.
    handover_c : ndarray (m,)
        Product temperature at each stop (after the lid opening).
    hold_s : float
        Seconds from start until the product first rises above
        ``params.hold_limit_c`` (after having been at or below it, so goods
        loaded warm count once cooled); NaN if it never does.
    """

    t_s: np.ndarray
    product_c: np.ndarray
    pack_c: np.ndarray
    melted: np.ndarray
    handover_c: np.ndarray
    hold_s: float


def simulate_insulated_box(
    params: BoxParams,
    t_out_hourly: object,
    start_s: float,
    duration_s: float,
    product_kg: float,
    product0_c: float = 2.0,
    *,
    stop_s: object = None,
    unload_kg: object = None,
    dt_s: float = 30.0,
) -> BoxResult:
    """Product temperature in an ice-pack box over time.

    Parameters
    ----------
    params : BoxParams
    t_out_hourly : float or array (24,)
        Air temperature around the box, °C (hourly).
    start_s, duration_s : float
        Start time (s since midnight) and length of the simulation.
    product_kg : float
        Product mass loaded.
    product0_c : float
        Product temperature at loading (default 2 °C, chilled set point).
    stop_s, unload_kg : array (m,), optional
        Stop times (lid opened once) and product mass unloaded there.
    dt_s : float
        Maximum step.

    Returns
    -------
    BoxResult
    """
    if not dt_s > 0 or not duration_s >= 0 or not product_kg >= 0:
        raise ValueError("need dt_s > 0, duration_s >= 0, product_kg >= 0")
    tout = _tout24(t_out_hourly)
    if stop_s is None:
        st = np.zeros(0)
        un = np.zeros(0)
    else:
        st = _f1("stop_s", stop_s)
        un = np.zeros(st.size) if unload_kg is None else _f1("unload_kg", unload_kg, st.size)
        if np.any(np.diff(st) < 0) or (st.size and st[0] < start_s):
            raise ValueError("stop_s must be non-decreasing and not before start_s")
        if np.any(un < 0):
            raise ValueError("unload_kg must be >= 0")
    p = params
    bv = np.array([p.ua_w_k, p.interior_kj_k * 1000.0, p.g_pack, p.pack_kg, p.pack_latent, p.pack_melt_c,
                   p.pack_cp_solid, p.pack_cp_liquid, p.product_cp, p.lid_j_per_k, p.pack0_c])
    t0 = float(start_s)
    t1 = t0 + float(duration_s)
    cap = int(math.ceil(duration_s / dt_s)) + 2 * st.size + int(duration_s // 3600) + 8
    rec_t, rec_i, rec_p, rec_f = (np.empty(cap) for _ in range(4))
    ho = np.full(st.size, np.nan)
    n = _box(bv, tout, t0, t1, st, un, float(product_kg), float(product0_c), float(dt_s),
             rec_t, rec_i, rec_p, rec_f, ho)
    ts, ti = rec_t[:n].copy(), rec_i[:n].copy()
    hold = _first_rise_above(ts, ti, p.hold_limit_c) - t0
    return BoxResult(ts, ti, rec_p[:n].copy(), rec_f[:n].copy(), ho, hold)


def box_hold_hours(
    params: BoxParams, t_out_c: float, product_kg: float, product0_c: float = 2.0, max_hours: float = 72.0
) -> float:
    """Hours a closed box keeps ``product_kg`` at or below ``hold_limit_c`` (inf if beyond ``max_hours``)."""
    r = simulate_insulated_box(params, t_out_c, 0.0, max_hours * 3600.0, product_kg, product0_c)
    return math.inf if math.isnan(r.hold_s) else r.hold_s / 3600.0

