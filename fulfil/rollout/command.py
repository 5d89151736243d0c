"""``fulfil rollout``: site every phase, simulate the days, compare variants, write the outputs.

    fulfil rollout REGION_SCENARIO --days N --out DIR [--seed S] [--workers N]
                   [--variants lockers,no_lockers,...] [--solutions N]

Writes into DIR: ``kpis.csv`` (KPI spreads per variant and phase), ``days.csv`` (every
simulated day), ``comparison.csv`` (paired tests against the first variant, when more
than one runs), ``sites.csv``, ``summary.txt`` (the printed tables), ``kpis_by_phase.png``,
and per variant siting and phase ``maps/<variant>_<phase>.png`` with GeoJSON layers
``geojson/<variant>_<phase>_{sites,service_areas,reach}.geojson``.

Exit code 0 when every daily plan passed the checker, 4 otherwise.
"""

from __future__ import annotations

import argparse
import logging
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fulfil.errors import UsageError

if TYPE_CHECKING:
    from fulfil.rollout.phasing import PhasePlan
    from fulfil.rollout.region import Region

log = logging.getLogger("fulfil")

#: KPIs tested in the paired comparison.
COMPARED = ("cost_per_order", "cost_share_of_sales", "two_hour_compliance", "vehicle_utilisation",
            "warehouse_utilisation", "unserved_share", "vehicles")


@dataclass
class RolloutResult:
    region: Region
    variants: list[str]
    plans: dict[str, list[PhasePlan]]  # variant → phase plans
    results: list[dict[str, Any]]  # one per (variant, phase, day)
    aggregate: list[dict[str, Any]]
    comparison: list[dict[str, Any]]
    siting_s: float
    simulation_s: float

    @property
    def violations(self) -> int:
        return sum(r["violations"] for r in self.results)


def site_variants(region: Region, variants: list[str]) -> dict[str, list[PhasePlan]]:
    """Phase plans of every variant; variants that site alike share one siting."""
    from fulfil.rollout.phasing import plan_phases

    doc = region.doc
    cache: dict[tuple[bool, int], list[PhasePlan]] = {}

    def get(lockers: bool, extra: int) -> list[PhasePlan]:
        key = (lockers, extra)
        if key not in cache:
            from fulfil.rollout.region import Variant

            var = Variant(lockers=lockers, extra_forward_warehouses=extra)
            base = get(lockers, 0) if extra else None
            log.info("siting (%s, %s)", "lockers" if lockers else "no lockers",
                     f"+{extra} forward warehouse(s)" if extra else "baseline forward warehouses")
            cache[key] = plan_phases(region, var, base)
        return cache[key]

    return {v: get(doc.variants[v].lockers, doc.variants[v].extra_forward_warehouses) for v in variants}


def run_rollout(region: Region, *, variants: list[str] | None = None, days: int | None = None,
                seed: int | None = None, workers: int = 1, solution_limit: int | None = None,
                cluster: str | None = None) -> RolloutResult:
    """Site, simulate and compare; the first variant is the baseline of the comparison."""
    from fulfil.rollout.compare import compare_variants
    from fulfil.rollout.simulate import aggregate, phase_network, simulate

    doc = region.doc
    variants = list(variants or doc.simulation.variants or doc.variants)
    unknown = [v for v in variants if v not in doc.variants]
    if unknown:
        raise UsageError(f"unknown variant(s) {', '.join(unknown)}; the region defines {', '.join(doc.variants)}")
    days = days or doc.simulation.days
    seed = doc.simulation.seed if seed is None else seed
    solution_limit = solution_limit or doc.simulation.solution_limit
    t0 = time.perf_counter()
    plans = site_variants(region, variants)
    siting_s = time.perf_counter() - t0
    nets = [phase_network(region, plan, doc.variants[v], v, days=days, seed=seed, solution_limit=solution_limit)
            for v in variants for plan in plans[v]]
    log.info("simulating %d variant(s) × %d phases × %d days = %d nightly plans on %d worker(s)",
             len(variants), len(plans[variants[0]]), days, len(nets) * days, workers)
    t1 = time.perf_counter()
    results = simulate(nets, days, workers, cluster=cluster)
    sim_s = time.perf_counter() - t1
    agg = aggregate(results)
    comp = compare_variants(results, variants[0], list(COMPARED), seed=seed) if len(variants) > 1 else []
    return RolloutResult(region, variants, plans, results, agg, comp, siting_s, sim_s)


def write_outputs(res: RolloutResult, out: Path) -> str:
    """Write every output file; return the summary text."""
    from fulfil.rollout import outputs as o

    out.mkdir(parents=True, exist_ok=True)
    region = res.region
    text = [f"Rollout of {region.doc.name} ({len(region.communities)} communities, "
            f"{len(region.forward_sites)} candidate forward sites, {len(region.pickup_sites)} candidate pickup sites, "
            f"{region.area_km2:.0f} km²): {len(res.results)} nightly plans, "
            f"{res.violations} checker violation(s)."]
    for v in res.variants:
        desc = region.doc.variants[v].description
        text += ["", f"Variant '{v}'" + (f" — {desc}" if desc else "") + ":"]
        for plan in res.plans[v]:
            n_lock = sum(region.pickup_sites[p].kind == "locker" for p in plan.open_pp)
            text.append(f"  {plan.phase:<11s} {len(plan.communities):4d} communities, {len(plan.open_pp):4d} pickup "
                        f"points ({n_lock} lockers), forward warehouses "
                        f"{', '.join(region.forward_sites[f].id for f in plan.open_fw)}")
    base = res.variants[0]
    text += ["", f"KPIs by phase, variant '{base}' (median [10th–90th percentile] over the days):",
             o.phase_table(res.aggregate, base), o.trouble_line(res.results, base)]
    if res.comparison:
        text += ["", f"Variants side by side (* = paired difference from '{base}' significant: bootstrap 95% CI "
                     "excludes 0 and Wilcoxon p < 0.05):",
                 o.variants_table(res.aggregate, res.comparison, res.variants)]
        text += ["", f"What changed against '{base}' (mean per day over the days both simulated):",
                 *o.change_lines(res.results, base)]
        lines = o.significant_lines(res.comparison)
        text += ["", "Significant differences (mean of the per-day differences, variant − baseline):"]
        text += lines or ["  none"]
    summary = "\n".join(text)
    o.write_text_atomic(out / "kpis.csv", o.kpi_csv(res.aggregate))
    o.write_text_atomic(out / "days.csv", o.days_csv(res.results))
    o.write_text_atomic(out / "sites.csv", o.sites_csv(region, res.plans))
    if res.comparison:
        o.write_text_atomic(out / "comparison.csv", o.comparison_csv(res.comparison))
    try:
        o.plot_kpis(res.aggregate, res.variants, out / "kpis_by_phase.png")
    except ImportError:  # pragma: no cover - matplotlib is a core dependency
        log.warning("matplotlib not installed: no charts")
    seen: dict[int, str] = {}
    for v in res.variants:
        plans = res.plans[v]
        if id(plans) in seen:
            continue
        seen[id(plans)] = v
        for plan in plans:
            tag = f"{v}_{plan.phase}"
            o.write_layers(out / "geojson", tag, region, plan)
            try:
                o.plot_phase_map(region, plan, out / "maps" / f"{tag}.png",
                                 f"{region.doc.name}: {plan.phase} phase, siting of variant '{v}'")
            except ImportError:  # pragma: no cover
                pass
    o.write_text_atomic(out / "summary.txt", summary + "\n")
    return summary


def cmd_rollout(args: argparse.Namespace) -> int:
    from fulfil.rollout.region import load_region

    t0 = time.perf_counter()
    if args.days is not None and args.days < 1:
        raise UsageError("--days must be at least 1")
    if args.workers < 0:
        raise UsageError("--workers must be 0 (one per core) or more")
    if args.solutions is not None and args.solutions < 1:
        raise UsageError("--solutions must be at least 1")
    variants = [v.strip() for v in args.variants.split(",") if v.strip()] if args.variants else None
    path = Path(args.region)
    log.info("loading %s", path)
    region = load_region(path)
    workers = args.workers or (os.cpu_count() or 1)
    from fulfil.executor import cluster_from_env

    res = run_rollout(region, variants=variants, days=args.days, seed=args.seed, workers=workers,
                      solution_limit=args.solutions, cluster=args.cluster or cluster_from_env())
    out = Path(args.out)
    summary = write_outputs(res, out)
    print(summary)
    print(f"\nWrote {out}/kpis.csv, days.csv, sites.csv{', comparison.csv' if res.comparison else ''}, "
          f"summary.txt, kpis_by_phase.png, maps/ and geojson/ "
          f"(siting {res.siting_s:.1f} s, simulation {res.simulation_s:.1f} s, total {time.perf_counter() - t0:.1f} s)")
    if res.violations:
        print(f"\nThe checker found {res.violations} violation(s) in the daily plans (see days.csv).")
        return 4
    print("Independent check: every daily plan passed.")
    return 0
