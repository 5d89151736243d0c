"""Paired comparison of variants under common random numbers.

Every variant simulates the same days with the same seeds (the same community orders
and items, the same routing seed), so day ``t`` of variant A and day ``t`` of the
baseline form a pair and the per-day differences ``d_t = A_t − B_t`` remove the shared
day-to-day noise.  Two numpy-only tests on the differences:

* a **paired bootstrap** 95 % confidence interval of the mean difference (percentile
  method, ``B`` resamples of the days with a fixed seed);
* the **Wilcoxon signed-rank test** (two-sided, normal approximation with tie and zero
  corrections — Pratt's zero handling is not used: zero differences are dropped).

A difference is called **significant** when the bootstrap interval excludes 0 *and* the
Wilcoxon p-value is below ``alpha`` (0.05).  With only a handful of days neither test
has power, and nothing is called significant: the Wilcoxon normal approximation is not
used with fewer than 6 non-zero pairs (the p-value is then 1).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

ALPHA = 0.05
MIN_PAIRS = 6


def bootstrap_ci(diff: np.ndarray, *, n_boot: int = 4000, level: float = 0.95, seed: int = 0) -> tuple[float, float]:
    """Percentile bootstrap interval of the mean of ``diff`` (paired: resample whole days)."""
    d = np.asarray(diff, dtype=float)
    if len(d) == 0:
        return math.nan, math.nan
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, len(d), size=(n_boot, len(d)))
    means = d[idx].mean(axis=1)
    lo, hi = np.percentile(means, [100 * (1 - level) / 2, 100 * (1 + level) / 2])
    return float(lo), float(hi)


def _norm_sf(z: float) -> float:
    return 0.5 * math.erfc(z / math.sqrt(2.0))


def wilcoxon_signed_rank(diff: np.ndarray) -> tuple[float, float]:
    """``(W+, two-sided p)`` of the signed-rank test; zeros dropped, tied |d| share ranks."""
    d = np.asarray(diff, dtype=float)
    d = d[np.abs(d) > 1e-12 * max(1.0, float(np.abs(d).max(initial=0.0)))]
    n = len(d)
    if n < MIN_PAIRS:
        return math.nan, 1.0
    a = np.abs(d)
    order = np.argsort(a, kind="stable")
    ranks = np.empty(n)
    ranks[order] = np.arange(1, n + 1, dtype=float)
    tie_term = 0.0
    for v in np.unique(a):
        m = a == v
        t = int(m.sum())
        if t > 1:
            ranks[m] = ranks[m].mean()
            tie_term += t**3 - t
    w_plus = float(ranks[d > 0].sum())
    mean = n * (n + 1) / 4.0
    var = n * (n + 1) * (2 * n + 1) / 24.0 - tie_term / 48.0
    if var <= 0:
        return w_plus, 1.0
    z = (abs(w_plus - mean) - 0.5) / math.sqrt(var)  # continuity correction
    return w_plus, min(1.0, 2.0 * _norm_sf(max(z, 0.0)))


def paired_test(a: list[float] | np.ndarray, b: list[float] | np.ndarray, *, seed: int = 0,
                alpha: float = ALPHA) -> dict[str, Any]:
    """Compare paired samples (``a`` variant, ``b`` baseline, same days); nan pairs are dropped."""
    a = np.asarray(a, dtype=float)
    b = np.asarray(b, dtype=float)
    ok = np.isfinite(a) & np.isfinite(b)
    d = a[ok] - b[ok]
    lo, hi = bootstrap_ci(d, seed=seed)
    _, p = wilcoxon_signed_rank(d)
    mean = float(d.mean()) if len(d) else math.nan
    sig = bool(len(d) >= MIN_PAIRS and np.isfinite(lo) and (lo > 0 or hi < 0) and p < alpha)
    return dict(n=int(len(d)), mean_diff=mean, ci_low=lo, ci_high=hi, p_value=p, significant=sig)


def compare_variants(results: list[dict[str, Any]], baseline: str, kpis: list[str],
                     seed: int = 0) -> list[dict[str, Any]]:
    """One row per (phase, variant ≠ baseline, KPI): spreads of both and the paired test."""
    from fulfil.rollout.simulate import spread

    by: dict[tuple[str, str], dict[int, dict[str, Any]]] = {}
    for r in results:
        by.setdefault((r["variant"], r["phase"]), {})[r["day"]] = r
    variants = list(dict.fromkeys(r["variant"] for r in results))
    phases = list(dict.fromkeys(r["phase"] for r in results))
    rows = []
    for phase in phases:
        base = by.get((baseline, phase), {})
        for v in variants:
            if v == baseline or (v, phase) not in by:
                continue
            other = by[(v, phase)]
            days = sorted(set(base) & set(other))
            for key in kpis:
                a = [other[d][key] for d in days]
                b = [base[d][key] for d in days]
                sa, sb = spread(a), spread(b)
                t = paired_test(a, b, seed=seed)
                rows.append(dict(phase=phase, variant=v, baseline=baseline, kpi=key,
                                 variant_median=sa["median"], variant_p10=sa["p10"], variant_p90=sa["p90"],
                                 baseline_median=sb["median"], baseline_p10=sb["p10"], baseline_p90=sb["p90"], **t))
    return rows
