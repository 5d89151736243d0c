"""Phasing: pilot (strongest core communities) → surrounding → full coverage.

**Community score** (:func:`community_scores`), each term a percentile rank in [0, 1]
over the region's communities, combined with ``phasing.score_weights``::

    score_c = (w_density · rank(households / area)
               + w_basket · rank(basket_factor)             # basket value per order
               + w_competition · rank(km to nearest competitor)) / Σ w

**Pilot** (DOMAIN.md §5 stage 1: one grid warehouse and 30–60 pickup points in the
densest circles): the *seed* is the community whose ``pilot_radius_km`` neighbourhood
has the largest household-weighted score ``Σ households · score``; the pilot is the
``pilot_communities`` best-scored communities within that radius of the seed.

**Surrounding** (stage 2): the pilot plus every community within
``surrounding_radius_km`` of a forward warehouse opened in the pilot.

**Full coverage** (stage 3): every community of the region.

Each phase sites pickup points, then forward warehouses (:mod:`fulfil.rollout.siting`)
for its communities at that phase's penetration, with every site of the previous phase
kept open at no fixed cost — so phases are nested.  Communities no candidate can serve
(no pickup site within the walking radius, or no forward site within reach) are kept
in the phase and counted as unserved demand, with the reason.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from fulfil.rollout.demand import expected_orders
from fulfil.rollout.region import PHASES
from fulfil.rollout.siting import (
    LocationStats,
    community_ll,
    pickup_ll,
    pp_reach,
    reach_minutes,
    site_forwards,
    site_pickups,
)

if TYPE_CHECKING:
    from fulfil.rollout.region import Region, Variant


def _rank(x: np.ndarray) -> np.ndarray:
    """Percentile rank in [0, 1] (ties share their mean rank)."""
    x = np.asarray(x, dtype=float)
    if len(x) <= 1:
        return np.ones(len(x))
    order = np.argsort(x, kind="stable")
    ranks = np.empty(len(x))
    ranks[order] = np.arange(len(x), dtype=float)
    for v in np.unique(x):
        m = x == v
        if m.sum() > 1:
            ranks[m] = ranks[m].mean()
    return ranks / (len(x) - 1)


def community_scores(region: Region) -> np.ndarray:
    """The documented pilot score of every community (see module docstring)."""
    w = region.doc.phasing.score_weights
    comp = np.minimum(region.competitor_km, 10.0)
    basket = np.array([c.basket_factor for c in region.communities])
    s = (w.density * _rank(region.density_hh_per_ha) + w.basket * _rank(basket)
         + w.competition * _rank(comp))
    return s / (w.density + w.basket + w.competition)


def pilot_communities(region: Region, eligible: np.ndarray | None = None) -> tuple[int, np.ndarray]:
    """``(seed community, pilot community indices)``."""
    ph = region.doc.phasing
    score = community_scores(region)
    if eligible is None:
        eligible = np.ones(len(score), dtype=bool)
    xy = region.community_xy
    d = np.hypot(*(xy[:, None, :] - xy[None, :, :]).transpose(2, 0, 1))
    near = d <= ph.pilot_radius_km * 1000.0
    weighted = np.where(eligible, region.households * score, 0.0)
    core = (near * weighted[None, :]).sum(axis=1)
    core[~eligible] = -1
    seed = int(np.argmax(core))
    cand = np.flatnonzero(near[seed] & eligible)
    best = cand[np.argsort(-score[cand], kind="stable")][: ph.pilot_communities]
    return seed, np.sort(best)


@dataclass
class PhasePlan:
    """The network of one phase of one variant (plain data once built)."""

    phase: str
    communities: np.ndarray  # int64: the phase's target communities
    open_pp: np.ndarray  # int64 into region.pickup_sites
    open_fw: np.ndarray  # int64 into region.forward_sites
    pp_fw: dict[int, int]  # pickup → forward warehouse
    #: (community, pickup, share); only pickups with a forward warehouse appear
    alloc: list[tuple[int, int, float]]
    #: share of each community's demand left unserved by the siting, and why
    uncovered_share: np.ndarray
    uncovered_reason: dict[int, str]
    design_orders: np.ndarray  # float[C] design demand (expected × peak factor) in this phase
    pp_stats: LocationStats
    fw_stats: LocationStats
    seed_community: int = -1
    extra_fw: list[int] = field(default_factory=list)


def plan_phases(region: Region, variant: Variant, base: list[PhasePlan] | None = None) -> list[PhasePlan]:
    """Site every phase for ``variant``.

    ``base`` (the plans of the same variant without extra forward warehouses) fixes the
    phase areas and the forward-warehouse count that ``extra_forward_warehouses`` adds to.
    """
    import logging

    log = logging.getLogger("fulfil")
    st = region.doc.siting
    C = len(region.communities)
    F = len(region.forward_sites)
    # which candidates can work at all: a pickup site some forward site reaches, a community reachable
    pp_ok = (reach_minutes(region, np.arange(F), pickup_ll(region)) <= st.reach_minutes).any(axis=1)
    c_ok = (reach_minutes(region, np.arange(F), community_ll(region)) <= st.reach_minutes).any(axis=1)
    seed, pilot = pilot_communities(region, eligible=c_ok)

    plans: list[PhasePlan] = []
    prev_pp = np.zeros(0, dtype=np.int64)
    prev_fw = np.zeros(0, dtype=np.int64)
    prev_set = np.zeros(0, dtype=np.int64)
    t_start = time.perf_counter()
    sited = 0
    for k, phase in enumerate(PHASES):
        if base is not None:
            target = base[k].communities  # same phase areas as the baseline, for a like-for-like comparison
        elif phase == "pilot":
            target = pilot
        elif phase == "surrounding":
            fw_xy = region.forward_xy[prev_fw]
            d = np.hypot(*(region.community_xy[:, None, :] - fw_xy[None, :, :]).transpose(2, 0, 1)).min(axis=1)
            target = np.union1d(prev_set, np.flatnonzero(d <= region.doc.phasing.surrounding_radius_km * 1000.0))
        else:
            target = np.arange(C)
        target = np.union1d(target, prev_set).astype(np.int64)
        design = expected_orders(region, phase) * st.design_peak_factor
        reason: dict[int, str] = {}
        servable = target[c_ok[target]]
        for c in target[~c_ok[target]]:
            reason[int(c)] = "no forward warehouse site within reach"
        t_phase = time.perf_counter()
        log.info("  %s (phase %d/%d): siting pickup points for %d communities ...", phase, k + 1, len(PHASES),
                 len(target))
        pps = site_pickups(region, servable, design[servable], previous=prev_pp, lockers=variant.lockers,
                           usable=pp_ok)
        log.info("  %s: %d pickup points open (%.1f s); siting forward warehouses ...", phase, len(pps.open),
                 time.perf_counter() - t_phase)
        unc = pps.uncovered_share.copy()
        unc[target[~c_ok[target]]] = 1.0
        for c in servable:
            if unc[c] >= 1.0 - 1e-9:
                reason.setdefault(int(c), "no pickup site within the walking radius" if not any(
                    a[0] == c for a in pps.alloc) else "pickup capacity")
            elif unc[c] > 1e-9:
                reason.setdefault(int(c), "pickup capacity (part)")
        pp_dem = np.zeros(len(region.pickup_sites))
        for c, p, s in pps.alloc:
            pp_dem[p] += design[c] * s
        opened_pp = pps.open
        reach = pp_reach(region, opened_pp, pps.alloc)
        n_at_least = 0
        if variant.extra_forward_warehouses and base is not None:
            n_at_least = len(base[k].open_fw) + variant.extra_forward_warehouses
        fws = site_forwards(region, opened_pp, pp_dem[opened_pp], reach, previous=prev_fw, n_at_least=n_at_least)
        # pickups without a forward warehouse: their communities' shares become uncovered
        alloc = []
        for c, p, s in pps.alloc:
            if p in fws.pp_fw:
                alloc.append((c, p, s))
            else:
                unc[c] += s
                reason.setdefault(int(c), "no forward warehouse within reach of its pickup point")
        plan = PhasePlan(
            phase=phase, communities=target, open_pp=opened_pp, open_fw=fws.open,
            pp_fw={p: f for p, f in fws.pp_fw.items()}, alloc=alloc, uncovered_share=np.minimum(unc, 1.0),
            uncovered_reason=reason, design_orders=design, pp_stats=pps.stats, fw_stats=fws.stats,
            seed_community=seed, extra_fw=list(fws.extra),
        )
        spent = time.perf_counter() - t_start
        sited += len(target)
        left = sum(C if ph == "full" else len(target) for ph in PHASES[k + 1:])  # later phases are no smaller
        log.info("  %s: %d communities, %d pickup points (%d lockers), %d forward warehouses; "
                 "siting %s/%s in %.1f s%s", phase, len(target), len(opened_pp),
                 sum(region.pickup_sites[p].kind == "locker" for p in opened_pp), len(fws.open),
                 pps.stats.status, fws.stats.status, pps.stats.wall_s + fws.stats.wall_s,
                 f"; about {spent / max(sited, 1) * left:.0f} s of siting left" if left else "")
        plans.append(plan)
        prev_pp, prev_fw, prev_set = opened_pp, fws.open, target
    return plans
