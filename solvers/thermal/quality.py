"""First-order (Q10) product-quality model and temperature-zone specifications.

Model (DOMAIN.md §2.4, "Proposed model"): remaining quality ``q`` decays as

    dq/dt = -k_ref * Q10 ** ((T(t) - T_ref) / 10) * q,    q(0) = q0,

a first-order reaction whose rate follows the van 't Hoff Q10 rule (DOMAIN
§2.4 [S]: barnardhealth.us, postharvest.net.au; Saltveit, USDA Agriculture
Handbook 66 draft).  The product is saleable while ``q >= q_min``; ``k_ref``
is calibrated from the shelf life ``SL_ref`` at the reference temperature:

    k_ref = ln(q0 / q_min) / SL_ref.

(DOMAIN §2.4 prints the rate equation without the factor ``q`` but calls it
first-order and calibrates ``k_ref`` with a logarithm, which only holds for
``dq/dt = -k q``; the first-order form is used.)

Hence at constant ``T`` the shelf life is ``SL_ref / Q10 ** ((T - T_ref)/10)``
and one hour at ``T`` consumes ``Q10 ** ((T - T_ref)/10) / SL_ref`` of it.

Temperature traces are integrated exactly for *piecewise-linear* temperature
between samples (the integral of an exponential of a linear function), so
the result does not depend on a time step.

Everything here is plain numpy: arrays in, arrays out; no ``fulfil`` imports.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

__all__ = [
    "ProductClass",
    "PRODUCT_CLASSES",
    "ZoneSpec",
    "ZONES",
    "rate_factor",
    "k_ref",
    "shelf_life_h",
    "quality_trace",
    "quality_after",
    "remaining_shelf_life_h",
    "in_specification",
]


# --------------------------------------------------------------------------- #
# product classes
# --------------------------------------------------------------------------- #
@dataclass(frozen=True)
class ProductClass:
    """Q10 quality parameters of one product class.

    Attributes
    ----------
    name : str
        Label.
    shelf_life_h : float
        Shelf life ``SL_ref`` (hours) at ``t_ref`` from quality ``q0`` down to
        ``q_min``.
    t_ref : float
        Reference temperature (°C).
    q10 : float
        Rate multiplier per +10 K.
    q0 : float
        Quality of fresh product (the calibration start, 1.0 by default).
    q_min : float
        Sale limit.
    zone : str
        Key of :data:`ZONES` the product travels in.
    """

    name: str
    shelf_life_h: float
    t_ref: float
    q10: float
    q0: float = 1.0
    q_min: float = 0.6
    zone: str = "chilled"

    def __post_init__(self) -> None:
        if not (self.shelf_life_h > 0 and math.isfinite(self.shelf_life_h)):
            raise ValueError(f"shelf_life_h must be positive, got {self.shelf_life_h}")
        if not self.q10 > 0:
            raise ValueError(f"q10 must be positive, got {self.q10}")
        if not 0 < self.q_min < self.q0:
            raise ValueError(f"need 0 < q_min < q0, got q_min={self.q_min}, q0={self.q0}")
        if self.zone not in ZONES:
            raise ValueError(f"zone must be one of {sorted(ZONES)}, got {self.zone!r}")

    @property
    def k_ref(self) -> float:
        """Rate constant at ``t_ref`` (1/h): ``ln(q0/q_min) / SL_ref`` (DOMAIN §2.4)."""
        return math.log(self.q0 / self.q_min) / self.shelf_life_h


# --------------------------------------------------------------------------- #
# temperature zones
# --------------------------------------------------------------------------- #
@dataclass(frozen=True)
class ZoneSpec:
    """Temperature specification of a zone (DOMAIN §2.1).

    Attributes
    ----------
    name : str
        Label.
    lower : float
        Lowest allowed product temperature (°C); ``-inf`` if none.
    upper : float
        Nominal upper limit (°C): the zone's set range.
    handover_max : float
        Tolerated maximum during transport / at hand-over (°C): the
        DB31/T 388 rebound limit.  A product is "in specification" while its
        temperature stays ``<= handover_max``.
    reject : float
        Hard reject temperature (°C); ``inf`` if none.
    """

    name: str
    lower: float
    upper: float
    handover_max: float
    reject: float = math.inf


# DOMAIN §2.1 [S] DB31/T 388 (Shanghai 食品冷链物流技术与管理规范, summarised at
# m.777doc.com/doc-6976441.html): frozen <= -18 °C, transport rebound limit
# -15 °C, reject above -12 °C; chilled 0–4 °C with a transport / hand-over
# rebound limit of 7 °C.  The EU/UK QFF rule (legislation.gov.uk/nisr/2007/65)
# gives the same -15 °C tolerance "during local distribution".
# Ambient: DOMAIN §7 "ambient <= 25" (15–25 °C, §2.1 [S] systematicaircon.com).
ZONES: dict[str, ZoneSpec] = {
    "frozen": ZoneSpec("frozen", lower=-math.inf, upper=-18.0, handover_max=-15.0, reject=-12.0),
    "chilled": ZoneSpec("chilled", lower=0.0, upper=4.0, handover_max=7.0),
    "ambient": ZoneSpec("ambient", lower=-math.inf, upper=25.0, handover_max=25.0),
}
"""Zone specifications keyed by name (see :class:`ZoneSpec` for the sources)."""


# DOMAIN §2.4 "Product classes [E]": leafy veg SL 5 d @ 2 °C, Q10 3; fruit
# 10 d @ 4 °C, Q10 2.5; chilled meat 5 d @ 2 °C, Q10 3.5; dairy 10 d @ 4 °C,
# Q10 2.5; frozen 180 d @ -18 °C, Q10 5 (quality) with hard reject above
# -12 °C.  q0 = 1.0 and q_min = 0.6 are the ends of DOMAIN §2.4's ranges
# (q0 0.95–1.0, q_min 0.6–0.7).
PRODUCT_CLASSES: dict[str, ProductClass] = {
    "leafy_veg": ProductClass("leafy_veg", 5 * 24.0, 2.0, 3.0, zone="chilled"),
    "fruit": ProductClass("fruit", 10 * 24.0, 4.0, 2.5, zone="chilled"),
    "chilled_meat": ProductClass("chilled_meat", 5 * 24.0, 2.0, 3.5, zone="chilled"),
    "dairy": ProductClass("dairy", 10 * 24.0, 4.0, 2.5, zone="chilled"),
    "frozen": ProductClass("frozen", 180 * 24.0, -18.0, 5.0, zone="frozen"),
}
"""Default product classes of DOMAIN §2.4."""


# --------------------------------------------------------------------------- #
# kinetics
# --------------------------------------------------------------------------- #
def rate_factor(temps_c: object, product: ProductClass) -> np.ndarray:
    """Relative decay rate ``Q10 ** ((T - T_ref) / 10)`` (1 at ``T_ref``)."""
    t = np.asarray(temps_c, dtype=np.float64)
    return np.exp(math.log(product.q10) / 10.0 * (t - product.t_ref))


def k_ref(product: ProductClass) -> float:
    """``ln(q0 / q_min) / SL_ref`` in 1/h (DOMAIN §2.4)."""
    return product.k_ref


def shelf_life_h(product: ProductClass, temp_c: object) -> np.ndarray:
    """Full shelf life (h, from ``q0`` to ``q_min``) at constant temperature(s)."""
    return product.shelf_life_h / rate_factor(temp_c, product)


def _segment_integrals(times_h: np.ndarray, temps: np.ndarray, b: float) -> np.ndarray:
    """Exact ∫ exp(b·(T(t) − T_ref)) dt per segment, T linear in each segment.

    ``temps`` holds ``T − T_ref``; last axis is time.  Returns shape
    ``temps.shape[:-1] + (n - 1,)``.
    """
    dt = np.diff(times_h)
    ya = b * temps[..., :-1]
    yb = b * temps[..., 1:]
    dy = yb - ya
    small = np.abs(dy) < 1e-6
    safe = np.where(small, 1.0, dy)
    # (e^yb − e^ya)/(yb − ya) = e^ya · expm1(dy)/dy ; series for tiny dy
    ratio = np.where(small, 1.0 + 0.5 * dy + dy * dy / 6.0, np.expm1(safe) / safe)
    return dt * np.exp(ya) * ratio


def _prepare(times_h: object, temps_c: object) -> tuple[np.ndarray, np.ndarray]:
    t = np.asarray(times_h, dtype=np.float64)
    y = np.asarray(temps_c, dtype=np.float64)
    if t.ndim != 1:
        raise ValueError(f"times must be 1-d, got shape {t.shape}")
    if y.shape[-1:] != t.shape:
        raise ValueError(f"temps' last axis must match times ({t.shape[0]}), got {y.shape}")
    if t.size and np.any(np.diff(t) < 0):
        raise ValueError("times must be non-decreasing")
    if not np.all(np.isfinite(t)) or not np.all(np.isfinite(y)):
        raise ValueError("times and temps must be finite")
    return t, y


def quality_trace(
    times_h: object, temps_c: object, product: ProductClass, q_start: object = None
) -> np.ndarray:
    """Quality at every sample of a temperature trace.

    Parameters
    ----------
    times_h : array (n,)
        Sample times in **hours**, non-decreasing.
    temps_c : array (..., n)
        Temperatures (°C); linear between samples.  Leading axes are
        independent traces sharing the time grid.
    product : ProductClass
    q_start : float or array broadcastable to ``temps_c.shape[:-1]``
        Quality at ``times_h[0]`` (default ``product.q0``).

    Returns
    -------
    ndarray (..., n)
        ``q`` at each sample.
    """
    t, y = _prepare(times_h, temps_c)
    q0 = product.q0 if q_start is None else q_start
    q0 = np.asarray(q0, dtype=np.float64)
    b = math.log(product.q10) / 10.0
    if t.size < 2:
        return np.broadcast_to(q0[..., None] if q0.ndim else q0, y.shape).astype(np.float64)
    seg = _segment_integrals(t, y - product.t_ref, b)
    cum = np.concatenate([np.zeros(seg.shape[:-1] + (1,)), np.cumsum(seg, axis=-1)], axis=-1)
    return (q0[..., None] if q0.ndim else q0) * np.exp(-product.k_ref * cum)


def quality_after(
    times_h: object, temps_c: object, product: ProductClass, q_start: object = None
) -> np.ndarray:
    """Quality at the end of a temperature trace (see :func:`quality_trace`)."""
    return quality_trace(times_h, temps_c, product, q_start)[..., -1]


def remaining_shelf_life_h(q: object, product: ProductClass, temp_c: object = None) -> np.ndarray:
    """Hours until ``q`` decays to ``q_min`` at constant ``temp_c`` (default ``t_ref``).

    ``0`` if ``q <= q_min`` already.
    """
    qa = np.asarray(q, dtype=np.float64)
    rf = 1.0 if temp_c is None else rate_factor(temp_c, product)
    with np.errstate(divide="ignore", invalid="ignore"):
        life = np.log(qa / product.q_min) / (product.k_ref * rf)
    return np.maximum(life, 0.0)


def in_specification(
    temps_c: object,
    q: object,
    product: ProductClass,
    zone: ZoneSpec | None = None,
    *,
    handover_max: float | None = None,
) -> np.ndarray:
    """True where a product is within its zone's range **and** ``q >= q_min``.

    Parameters
    ----------
    temps_c : array
        Product temperature(s) to check — a hand-over temperature, or the
        maximum (and minimum) of a trace.
    q : array broadcastable with ``temps_c``
        Quality.
    product : ProductClass
    zone : ZoneSpec, optional
        Default ``ZONES[product.zone]``.
    handover_max : float, optional
        Override of the tolerated maximum (frozen: DB31/T 388 rebound limit
        -15 °C; chilled: hand-over tolerance 7 °C).  Pass ``zone.upper`` for
        the strict range.

    Returns
    -------
    ndarray of bool
        ``lower <= T <= min(handover_max, reject)`` and ``q >= q_min``.
    """
    z = ZONES[product.zone] if zone is None else zone
    hi = z.handover_max if handover_max is None else float(handover_max)
    hi = min(hi, z.reject)
    t = np.asarray(temps_c, dtype=np.float64)
    qa = np.asarray(q, dtype=np.float64)
    return (t >= z.lower) & (t <= hi) & (qa >= product.q_min)
