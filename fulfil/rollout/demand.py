"""The demand model: expected orders per community and daily draws with common random numbers.

Expected orders of community ``c`` on day ``t`` in phase ``p``::

    λ_c,t = households_c × penetration[p] × competitor_factor(d_c) × orders_per_household_day
            × weekday_factor[weekday(t)] × month_factor[month(t)]

where ``d_c`` is the straight-line distance to the nearest competitor site, mapped to a
factor by distance band (``competitor_distance_km`` / ``competitor_factor``).

A day's draw (seeded by ``(seed, day)`` only, so every phase and every variant sees
the same "weather" on the same day — common random numbers):

1. a region-wide day shock ``S = exp(σ_d·Z − σ_d²/2)`` (mean 1);
2. per community noise ``N_c = exp(σ_c·Z_c − σ_c²/2)``;
3. orders ``O_c ~ Poisson(λ_c,t · S · N_c)`` — for *every* community of the region, so
   the random stream does not depend on which communities a phase serves;
4. items ``I_c = O_c + Poisson(O_c · (items_per_order · basket_factor_c − 1))``, split
   over zones by ``basket_mix`` and within a zone over products by their ``share``
   (multinomial).

Splitting a community's orders among its pickup points (a variant-dependent step) uses
a separate stream seeded by ``(seed, day, 1)``: orders multinomially by the siting's
shares, each order keeps at least one item, the remaining items follow the orders, and
items are dealt to pickup points product by product without replacement (multivariate
hypergeometric), so every split is consistent (no items without orders).

Product prices are the catalogue's ``base_price`` scaled so that the expected order is
worth ``average_order_value``.
"""

from __future__ import annotations

import datetime as _dt
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from fulfil.rollout.region import Region

ZONE_ORDER = ("frozen", "chilled", "ambient")


def competitor_factor(region: Region) -> np.ndarray:
    """Penetration multiplier of each community by distance to the nearest competitor."""
    dm = region.doc.demand
    band = np.searchsorted(np.asarray(dm.competitor_distance_km), region.competitor_km, side="right")
    return np.asarray(dm.competitor_factor)[band]


def expected_orders(region: Region, phase: str) -> np.ndarray:
    """Mean orders per day of each community in ``phase`` before calendar factors."""
    dm = region.doc.demand
    return region.households * dm.penetration[phase] * competitor_factor(region) * dm.orders_per_household_day


def calendar_factor(region: Region, day: int) -> float:
    dm = region.doc.demand
    date = region.doc.simulation.start_date + _dt.timedelta(days=day)
    return float(dm.weekday_factors[date.weekday()] * dm.month_factors[date.month - 1])


def day_date(region: Region, day: int) -> _dt.date:
    return region.doc.simulation.start_date + _dt.timedelta(days=day)


def product_prices(region: Region) -> np.ndarray:
    """RMB per unit of each catalogue product, scaled to the average order value."""
    dm = region.doc.demand
    prods = region.doc.products
    value = 0.0
    for z in ZONE_ORDER:
        ps = [p for p in prods if p.zone == z]
        tot = sum(p.share for p in ps)
        if tot > 0:
            value += dm.basket_mix.get(z, 0.0) * sum(p.share / tot * p.base_price for p in ps)
    scale = dm.average_order_value / (dm.items_per_order * value)
    return np.array([p.base_price * scale for p in prods])


def demand_arrays(region: Region, phase: str) -> dict:
    """Plain arrays that :func:`draw_day` needs (picklable, for worker processes)."""
    dm = region.doc.demand
    prods = region.doc.products
    zone_of = np.array([ZONE_ORDER.index(p.zone) for p in prods])
    share = np.array([p.share for p in prods], dtype=float)
    within = np.zeros(len(prods))
    for z in range(3):
        m = zone_of == z
        if m.any() and share[m].sum() > 0:
            within[m] = share[m] / share[m].sum()
    mix = np.array([dm.basket_mix.get(z, 0.0) for z in ZONE_ORDER])
    return {
        "lam": expected_orders(region, phase),
        "ipo": dm.items_per_order * np.array([c.basket_factor for c in region.communities]),
        "day_sigma": dm.day_sigma,
        "community_sigma": dm.community_sigma,
        "zone_mix": mix / mix.sum(),
        "zone_of": zone_of,
        "within_zone": within,
    }


def draw_day(arrays: dict, calendar: float, seed: int, day: int) -> tuple[np.ndarray, np.ndarray]:
    """Orders ``int64[C]`` and items ``int64[C, K]`` of every community on one day."""
    rng = np.random.default_rng([int(seed) & 0xFFFFFFFF, int(day), 0])
    sd, sc = arrays["day_sigma"], arrays["community_sigma"]
    lam = arrays["lam"]
    C = len(lam)
    shock = float(np.exp(sd * rng.standard_normal() - sd * sd / 2))
    noise = np.exp(sc * rng.standard_normal(C) - sc * sc / 2)
    orders = rng.poisson(lam * calendar * shock * noise).astype(np.int64)
    extra = rng.poisson(orders * np.maximum(0.0, arrays["ipo"] - 1.0)).astype(np.int64)
    n_items = orders + extra
    per_zone = rng.multinomial(n_items, arrays["zone_mix"])  # [C, 3]
    K = len(arrays["zone_of"])
    items = np.zeros((C, K), dtype=np.int64)
    for z in range(3):
        cols = np.flatnonzero(arrays["zone_of"] == z)
        if not len(cols):
            continue
        p = arrays["within_zone"][cols]
        items[:, cols] = rng.multinomial(per_zone[:, z], p / p.sum())
    return orders, items


def split_to_pickups(orders: np.ndarray, items: np.ndarray, alloc: list[tuple[int, int, float]],
                     seed: int, day: int) -> dict[int, tuple[int, np.ndarray]]:
    """Deal each community's orders and items to its pickup points; ``{pickup: (orders, items[K])}``."""
    rng = np.random.default_rng([int(seed) & 0xFFFFFFFF, int(day), 1])
    by_c: dict[int, list[tuple[int, float]]] = {}
    for c, p, s in alloc:
        by_c.setdefault(c, []).append((p, s))
    out: dict[int, list] = {}
    K = items.shape[1]
    for c in sorted(by_c):
        parts = by_c[c]
        o = int(orders[c])
        if o == 0:
            continue
        shares = np.array([s for _, s in parts])
        if shares.sum() <= 0:
            continue
        if len(parts) == 1:
            o_p = np.array([o])
            it = items[c][None, :].copy()
        else:
            o_p = rng.multinomial(o, shares / shares.sum())
            extra = int(items[c].sum()) - o
            e_p = rng.multinomial(extra, o_p / o) if extra > 0 else np.zeros(len(parts), np.int64)
            t_p = o_p + e_p
            left = items[c].copy()
            it = np.zeros((len(parts), K), dtype=np.int64)
            for i in range(len(parts) - 1):
                if t_p[i] > 0:
                    it[i] = rng.multivariate_hypergeometric(left, int(t_p[i]))
                    left -= it[i]
            it[-1] = left
        for (p, _), oo, ii in zip(parts, o_p, it, strict=True):
            if oo <= 0:
                continue
            cur = out.setdefault(p, [0, np.zeros(K, dtype=np.int64)])
            cur[0] += int(oo)
            cur[1] += ii
    return {p: (v[0], v[1]) for p, v in out.items()}
