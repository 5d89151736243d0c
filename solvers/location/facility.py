"""Exact facility-location engines: capacitated (CFLP) and p-median.

Both follow the same three steps:

1. **Lagrangian relaxation + subgradient** (numba kernels in
   :mod:`solvers.location.kernels`) gives a lower bound at least as strong as
   the strong LP relaxation (for the CFLP it also keeps the integrality of the
   aggregate-capacity knapsack ``sum_i s_i y_i >= sum_j d_j``), and the relaxed
   solutions seed a primal heuristic (transportation LP for the CFLP,
   swap local search for the p-median).
2. **Lagrangian variable fixing**: a site whose forced opening (closing) lifts
   the bound above the incumbent is closed (opened) for good.
3. A **MIP** over the sites left free (OR-Tools ``pywraplp``, SCIP by default)
   with the strong formulation: ``x_ij <= y_i`` for the CFLP, and for the
   p-median the compact "radius" formulation of Elloumi (2010) in its chained
   form (one ``z`` per customer and distinct distance, each site in one row
   per customer), warm-started with the incumbent.

``optimal=True`` is only reported when the returned solution's objective is
within ``GAP_TOL`` (relative) of a proven lower bound.

References: Beasley (1988, 1993) Lagrangian heuristics for location problems;
Elloumi (2010) "A tighter formulation of the p-median problem", J. Comb. Optim.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import numpy as np

from .kernels import (
    assignment_cost,
    cflp_facility_values,
    min_cover,
    pmedian_local_search,
    pmedian_site_values,
    pmedian_subgradient,
)

__all__ = ["FacilityResult", "solve_cflp", "solve_pmedian", "GAP_TOL"]

GAP_TOL = 1e-9
"""Relative gap under which a solution is reported as proven optimal."""

_KNAP_NODES = 2_000_000


@dataclass
class FacilityResult:
    """Outcome of :func:`solve_cflp` / :func:`solve_pmedian`.

    Attributes
    ----------
    open : ndarray bool (m,)
        Opened sites.
    alloc : ndarray float (n, m)
        Fraction of each customer's demand served by each site (rows sum to 1).
    objective : float
        Cost of the returned solution (``inf`` if none was found).
    optimal : bool
        True when ``objective`` is proven optimal within :data:`GAP_TOL`.
    bound : float
        Proven lower bound on the optimum.
    wall_s : float
        Wall-clock seconds spent.
    status : str
        ``"optimal"``, ``"feasible"`` (time limit, gap open), ``"infeasible"``
        or ``"no_solution"`` (time limit before any solution).
    stats : dict
        Diagnostics: Lagrangian iterations, sites fixed, MIP size and status...
    """

    open: np.ndarray
    alloc: np.ndarray
    objective: float
    optimal: bool
    bound: float
    wall_s: float
    status: str
    stats: dict = field(default_factory=dict)

    @property
    def gap(self) -> float:
        """Relative gap ``(objective - bound) / |objective|`` (0 when optimal, inf without solution)."""
        if not math.isfinite(self.objective):
            return math.inf
        return max(0.0, self.objective - self.bound) / max(1e-12, abs(self.objective))

    @property
    def assign(self) -> np.ndarray:
        """Main site of every customer (the one serving its largest share), int64 (n,)."""
        return np.argmax(self.alloc, axis=1).astype(np.int64)


# --------------------------------------------------------------------------- #
# helpers
# --------------------------------------------------------------------------- #
def _arr(name: str, a, ndim: int, dtype=np.float64) -> np.ndarray:
    try:
        out = np.ascontiguousarray(np.asarray(a, dtype=dtype))
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name}: {exc}") from None
    if out.ndim != ndim:
        raise ValueError(f"{name} must be {ndim}-d, got shape {out.shape}")
    return out


class _Clock:
    def __init__(self, limit: float | None):
        self.t0 = time.perf_counter()
        self.limit = limit

    def elapsed(self) -> float:
        return time.perf_counter() - self.t0

    def left(self) -> float:
        return math.inf if self.limit is None else self.limit - self.elapsed()


def _closed(ub: float, lb: float, integral: bool) -> bool:
    """Is the gap between ``ub`` and ``lb`` closed (within GAP_TOL, or < 1 for integral objectives)?"""
    if not math.isfinite(ub):
        return False
    if integral and lb > ub - 1.0 + 1e-6:
        return True
    return ub - lb <= GAP_TOL * max(1.0, abs(ub))


def _fix_threshold(ub: float, integral: bool) -> float:
    """A forced bound at or above this value cannot lead to a strictly better solution."""
    if integral:
        return ub - 1.0 + 1e-6
    return ub - 1e-9 * max(1.0, abs(ub))


def _new_solver(name: str, threads: int):
    from ortools.linear_solver import pywraplp

    solver = pywraplp.Solver.CreateSolver(name)
    if solver is None:
        raise ValueError(f"OR-Tools MIP backend {name!r} is not available")
    solver.SetNumThreads(max(1, int(threads)))
    return solver


def _hints_ok(engine: str) -> bool:
    """OR-Tools 9.15's pywraplp HiGHS interface crashes (segfault) on SetHint: skip hints there."""
    return engine.upper() not in ("HIGHS",)


def _solve_mip(solver, clock: _Clock, rel_gap: float = 1e-9):
    from ortools.linear_solver import pywraplp

    left = clock.left()
    if math.isfinite(left):
        solver.SetTimeLimit(max(1, int(left * 1000)))
    params = pywraplp.MPSolverParameters()
    params.SetDoubleParam(params.RELATIVE_MIP_GAP, rel_gap)
    status = solver.Solve(params)
    names = {
        pywraplp.Solver.OPTIMAL: "optimal",
        pywraplp.Solver.FEASIBLE: "feasible",
        pywraplp.Solver.INFEASIBLE: "infeasible",
        pywraplp.Solver.UNBOUNDED: "unbounded",
        pywraplp.Solver.ABNORMAL: "abnormal",
        pywraplp.Solver.NOT_SOLVED: "not_solved",
    }
    return names.get(status, str(status))


# --------------------------------------------------------------------------- #
# CFLP
# --------------------------------------------------------------------------- #
def _transport(c, reach, d, s, f, open_idx):
    """Cheapest allocation to the given open sites: ``(cost, alloc)`` or ``(inf, None)``.

    Multi-source: a transportation LP (GLOP). Sites left unused are closed
    (their fixed cost dropped).
    """
    from ortools.linear_solver import pywraplp

    n = c.shape[0]
    open_idx = np.asarray(open_idx, dtype=np.int64)
    if open_idx.size == 0:
        return math.inf, None
    if np.sum(s[open_idx]) < d.sum() * (1 - 1e-12):
        return math.inf, None
    sub_r = reach[:, open_idx]
    if not np.all(sub_r.any(axis=1)):
        return math.inf, None
    solver = pywraplp.Solver.CreateSolver("GLOP")
    jj, kk = np.nonzero(sub_r)
    xs = [solver.NumVar(0.0, 1.0, "") for _ in range(len(jj))]
    obj = solver.Objective()
    rows = [solver.Constraint(1.0, 1.0) for _ in range(n)]
    caps = [solver.Constraint(-solver.infinity(), float(s[i])) for i in open_idx]
    cost = c[jj, open_idx[kk]]
    for t in range(len(jj)):
        x = xs[t]
        obj.SetCoefficient(x, float(cost[t]))
        rows[jj[t]].SetCoefficient(x, 1.0)
        caps[kk[t]].SetCoefficient(x, float(d[jj[t]]))
    obj.SetMinimization()
    if solver.Solve() != pywraplp.Solver.OPTIMAL:
        return math.inf, None
    alloc = np.zeros(c.shape)
    alloc[jj, open_idx[kk]] = np.clip([x.solution_value() for x in xs], 0.0, 1.0)
    alloc /= alloc.sum(axis=1, keepdims=True)
    used = alloc.sum(axis=0) > 1e-12
    val = float(np.sum(alloc * np.where(reach, c, 0.0)) + f[used].sum())
    return val, alloc


def _cflp_lagrangian(c, reach, d, s, f, clock, budget, fix, integral, stats):
    """Subgradient on the demand constraints; fixes sites in ``fix`` in place.

    Returns ``(lb, ub, alloc)`` with the incumbent allocation (or None).
    """
    n, m = c.shape
    D = float(d.sum())
    big = np.where(reach, c, np.inf)
    lam = big.min(axis=1)
    lam = np.where(np.isfinite(lam), lam, 0.0)
    xf = np.zeros((n, m))
    v = np.zeros(m)
    y = np.zeros(m, dtype=np.bool_)
    ub, best_alloc = math.inf, None
    lb, best_lam = -math.inf, lam.copy()
    seen: set[bytes] = set()
    pi, stall, it = 2.0, 0, 0
    patience = 30
    t_end = clock.elapsed() + budget
    n_fix = 0

    def heuristic(yy):
        nonlocal ub, best_alloc
        key = np.packbits(yy).tobytes()
        if key in seen:
            return
        seen.add(key)
        val, alloc = _transport(c, reach, d, s, f, np.flatnonzero(yy))
        if alloc is not None and val < ub - 1e-9 * max(1.0, abs(val)):
            ub, best_alloc = val, alloc

    def fixing(vv, lam_sum):
        nonlocal n_fix
        thr = _fix_threshold(ub, integral)
        ytmp = np.zeros(m, dtype=np.bool_)
        base, _ = min_cover(vv, s, D, fix, ytmp, _KNAP_NODES)
        if lam_sum + base >= thr:
            return
        ycur = ytmp.copy()
        for i in range(m):
            if fix[i] != 0:
                continue
            fix[i] = -1 if ycur[i] else 1
            val, exact = min_cover(vv, s, D, fix, ytmp, _KNAP_NODES)
            if lam_sum + val >= thr:
                fix[i] = 1 if ycur[i] else -1  # the other value cannot beat the incumbent
                n_fix += 1
            else:
                fix[i] = 0

    # a first incumbent: every site open
    heuristic(reach.any(axis=0))
    max_iter = 5000
    while it < max_iter and clock.elapsed() < t_end:
        it += 1
        cflp_facility_values(c, reach, d, s, f, lam, xf, v)
        val, _exact = min_cover(v, s, D, fix, y, _KNAP_NODES)
        if not math.isfinite(val):  # the fixings leave too little capacity: nothing better than ub
            lb = max(lb, ub)
            break
        L = float(lam.sum() + val)
        if L > lb + 1e-12 * max(1.0, abs(L)):
            if L > lb + 1e-6 * max(1.0, abs(L)) * 1e-3:
                stall = 0
            lb, best_lam = L, lam.copy()
        else:
            stall += 1
        if it <= 5 or it % 5 == 0:
            heuristic(y.copy())
        if _closed(ub, lb, integral):
            break
        if it % 10 == 0 and math.isfinite(ub) and (ub - L) < 0.02 * abs(ub):
            fixing(v, float(lam.sum()))
        if stall >= patience:
            pi *= 0.5
            stall = 0
            lam = best_lam.copy()
            if pi < 1e-4:
                break
            continue
        g = 1.0 - (xf * y[None, :]).sum(axis=1)
        norm = float(g @ g)
        if norm <= 1e-18:
            # the relaxed solution is feasible: with complementary slackness it is optimal
            heuristic(y.copy())
            break
        target = ub if math.isfinite(ub) else 1.05 * abs(L) + 1.0
        step = pi * max(target - L, 1e-6 * max(1.0, abs(L))) / norm
        lam = lam + step * g
    # local search on the incumbent's open set (drop / add / swap, transportation LP per move):
    # a better incumbent makes the fixing below much more effective
    ls_moves = 0
    if best_alloc is not None and not _closed(ub, lb, integral):
        cflp_facility_values(c, reach, d, s, f, best_lam, xf, v)
        ls_end = clock.elapsed() + min(max(0.0, t_end - clock.elapsed()), 60.0)
        ls_moves = _cflp_local_search(v, s, d, fix, ls_end, clock, heuristic, lambda: (ub, best_alloc))
    # final fixing at the best multipliers
    if math.isfinite(ub) and not _closed(ub, lb, integral):
        cflp_facility_values(c, reach, d, s, f, best_lam, xf, v)
        fixing(v, float(best_lam.sum()))
    stats["ls_improvements"] = ls_moves
    stats.update(lr_iterations=it, lr_bound=lb, lr_incumbent=ub, sites_fixed=int(np.count_nonzero(fix)),
                 lr_transport_lps=len(seen))
    return lb, ub, best_alloc


def _cflp_local_search(v, s, d, fix, t_end, clock, evaluate, incumbent, n_swap=8):
    """First-improvement drop / add / swap over open sets; ``evaluate(mask)`` updates the incumbent.

    Candidates to open are ranked by their Lagrangian value ``v`` (cheapest first);
    swaps try the ``n_swap`` best closed candidates. Returns the number of improvements.
    """
    D = float(d.sum())
    improvements = 0
    while clock.elapsed() < t_end:
        ub0, alloc = incumbent()
        cur = alloc.sum(axis=0) > 1e-12
        closed = [i for i in np.argsort(v, kind="mergesort") if not cur[i] and fix[i] >= 0]
        opened = [i for i in np.flatnonzero(cur) if fix[i] <= 0]
        moves = [(i, None) for i in opened] + [(None, k) for k in closed]
        moves += [(i, k) for k in closed[:n_swap] for i in opened]
        better = False
        for out, inn in moves:
            if clock.elapsed() >= t_end:
                break
            trial = cur.copy()
            if out is not None:
                trial[out] = False
            if inn is not None:
                trial[inn] = True
            if s[trial].sum() < D * (1 - 1e-12):
                continue
            evaluate(trial)
            if incumbent()[0] < ub0:
                improvements += 1
                better = True
                break
        if not better:
            break
    return improvements


def _cflp_mip(c, reach, d, s, f, fix, single_source, hint_alloc, clock, engine, threads, stats):
    """Strong-formulation MIP over the sites not closed by ``fix``."""
    n, m = c.shape
    solver = _new_solver(engine, threads)
    sites = np.flatnonzero(fix >= 0)
    y = {}
    for i in sites:
        y[i] = solver.IntVar(1.0 if fix[i] == 1 else 0.0, 1.0, f"y{i}")
    obj = solver.Objective()
    for i in sites:
        obj.SetCoefficient(y[i], float(f[i]))
    caps = {i: solver.Constraint(-solver.infinity(), 0.0) for i in sites}
    for i in sites:
        caps[i].SetCoefficient(y[i], -float(s[i]))
    x = {}
    for j in range(n):
        row = solver.Constraint(1.0, 1.0)
        for i in sites:
            if not reach[j, i]:
                continue
            var = solver.IntVar(0.0, 1.0, "") if single_source else solver.NumVar(0.0, 1.0, "")
            x[j, i] = var
            obj.SetCoefficient(var, float(c[j, i]))
            row.SetCoefficient(var, 1.0)
            caps[i].SetCoefficient(var, float(d[j]))
            if fix[i] == 0:
                vb = solver.Constraint(-solver.infinity(), 0.0)
                vb.SetCoefficient(var, 1.0)
                vb.SetCoefficient(y[i], -1.0)
    agg = solver.Constraint(float(d.sum()), solver.infinity())
    for i in sites:
        agg.SetCoefficient(y[i], float(s[i]))
    obj.SetMinimization()
    if hint_alloc is not None and _hints_ok(engine):
        hv, hx = [], []
        used = hint_alloc.sum(axis=0) > 1e-12
        for i in sites:
            hv.append(y[i])
            hx.append(1.0 if used[i] else 0.0)
        for (j, i), var in x.items():
            hv.append(var)
            hx.append(float(hint_alloc[j, i]))
        solver.SetHint(hv, hx)
    stats.update(mip_sites=int(len(sites)), mip_free_sites=int(np.sum(fix[sites] == 0)),
                 mip_vars=solver.NumVariables(), mip_rows=solver.NumConstraints())
    status = _solve_mip(solver, clock)
    stats["mip_status"] = status
    if status not in ("optimal", "feasible"):
        return status, math.inf, -math.inf, None
    alloc = np.zeros((n, m))
    for (j, i), var in x.items():
        alloc[j, i] = var.solution_value()
    alloc = np.clip(alloc, 0.0, 1.0)
    alloc /= np.maximum(alloc.sum(axis=1, keepdims=True), 1e-300)
    used = alloc.sum(axis=0) > 1e-12
    val = float(np.sum(alloc * np.where(reach, c, 0.0)) + f[used].sum())
    bound = obj.BestBound() if status == "feasible" else obj.Value()
    if status == "optimal":
        # SCIP stops at rel_gap; the best bound it reports is the honest one
        bound = min(obj.BestBound(), val)
    return status, val, float(bound), alloc


def solve_cflp(
    fixed_cost,
    capacity,
    demand,
    alloc_cost,
    *,
    single_source: bool = False,
    time_limit_s: float | None = None,
    reachable=None,
    engine: str = "SCIP",
    threads: int = 1,
    lagrangian: bool = True,
) -> FacilityResult:
    """Solve the capacitated facility location problem to optimality.

    ``min sum_i f_i y_i + sum_ij c_ji x_ji`` s.t. ``sum_i x_ji = 1``,
    ``sum_j d_j x_ji <= s_i y_i``, ``x_ji <= y_i``, ``y`` binary, ``x`` in
    ``[0, 1]`` (or binary with ``single_source=True``).

    Parameters
    ----------
    fixed_cost : array (m,)
        Cost of opening each site.
    capacity : array (m,)
        Capacity of each site (same unit as ``demand``).
    demand : array (n,)
        Demand of each customer (>= 0).
    alloc_cost : array (n, m)
        ``alloc_cost[j, i]``: cost of serving *all* of customer ``j``'s demand
        from site ``i`` (OR-Library convention); a fraction ``x`` costs
        ``x * alloc_cost[j, i]``. ``inf`` marks a forbidden pair.
    single_source : bool
        Each customer served by exactly one site (binary ``x``).
    time_limit_s : float, optional
        Wall-clock budget; without it the solve runs to proven optimality.
    reachable : bool array (n, m), optional
        Allowed customer/site pairs (e.g. "within the 2-hour reach").
    engine : str
        OR-Tools ``pywraplp`` MIP backend: ``"SCIP"`` (default), ``"HIGHS"``, ``"CBC"``.
    threads : int
        Threads granted to the MIP backend.
    lagrangian : bool
        Run the Lagrangian bound / heuristic / site fixing before the MIP
        (multi-source only); False sends the full model to the MIP.

    Returns
    -------
    FacilityResult

    Raises
    ------
    ValueError
        On inconsistent shapes, negative data, or a customer with no reachable site.
    """
    clock = _Clock(time_limit_s)
    f = _arr("fixed_cost", fixed_cost, 1)
    s = _arr("capacity", capacity, 1)
    d = _arr("demand", demand, 1)
    c = _arr("alloc_cost", alloc_cost, 2)
    m, n = f.size, d.size
    if s.shape != (m,):
        raise ValueError(f"capacity must have shape ({m},), got {s.shape}")
    if c.shape != (n, m):
        raise ValueError(f"alloc_cost must have shape ({n}, {m}), got {c.shape}")
    for name, a in (("fixed_cost", f), ("capacity", s), ("demand", d)):
        if not np.all(np.isfinite(a)) or np.any(a < 0):
            raise ValueError(f"{name} must be finite and >= 0")
    if np.any(np.isnan(c)) or np.any(c < 0):
        raise ValueError("alloc_cost must be >= 0 (inf marks a forbidden pair)")
    reach = np.isfinite(c)
    if reachable is not None:
        r = np.asarray(reachable, dtype=bool)
        if r.shape != (n, m):
            raise ValueError(f"reachable must have shape ({n}, {m}), got {r.shape}")
        reach &= r
    reach = np.ascontiguousarray(reach)
    lost = np.flatnonzero(~reach.any(axis=1))
    if lost.size:
        raise ValueError(f"customers without any reachable site: {lost[:10].tolist()}")
    c = np.ascontiguousarray(np.where(reach, c, 0.0))
    stats: dict = {"engine": engine}
    fix = np.zeros(m, dtype=np.int8)
    lb, ub, alloc = -math.inf, math.inf, None
    if d.sum() > s[reach.any(axis=0)].sum() * (1 + 1e-12):
        return FacilityResult(np.zeros(m, bool), np.zeros((n, m)), math.inf, False, math.inf,
                              clock.elapsed(), "infeasible", stats)
    if lagrangian and not single_source:
        budget = clock.left() * 0.5 if math.isfinite(clock.left()) else math.inf
        lb, ub, alloc = _cflp_lagrangian(c, reach, d, s, f, clock, budget, fix, False, stats)
    if not (math.isfinite(ub) and _closed(ub, lb, False)):
        status, val, bound, mip_alloc = _cflp_mip(c, reach, d, s, f, fix, single_source, alloc, clock,
                                                  engine, threads, stats)
        if mip_alloc is not None and val < ub:
            ub, alloc = val, mip_alloc
        if status == "optimal":
            # optimal over the reduced problem; solutions outside it cannot beat the incumbent
            lb = max(lb, min(bound, ub))
        elif status == "infeasible" and math.isfinite(ub):
            lb = max(lb, ub)  # the fixings left nothing strictly better than the incumbent
        elif status == "infeasible":
            return FacilityResult(np.zeros(m, bool), np.zeros((n, m)), math.inf, False, math.inf,
                                  clock.elapsed(), "infeasible", stats)
        elif math.isfinite(bound):
            lb = max(lb, bound)
    if alloc is None:
        return FacilityResult(np.zeros(m, bool), np.zeros((n, m)), math.inf, False, lb, clock.elapsed(),
                              "no_solution", stats)
    opened = alloc.sum(axis=0) > 1e-12
    obj = float(np.sum(alloc * c) + f[opened].sum())
    lb = min(lb, obj)
    optimal = _closed(obj, lb, False)
    return FacilityResult(opened, alloc, obj, optimal, float(lb), clock.elapsed(),
                          "optimal" if optimal else "feasible", stats)


# --------------------------------------------------------------------------- #
# p-median
# --------------------------------------------------------------------------- #
def _greedy_pmedian(c, reach, p, fix):
    n, m = c.shape
    big = np.where(reach, c, np.inf)
    y = fix == 1
    d1 = np.where(y.any(), np.where(y[None, :], big, np.inf).min(axis=1), np.inf)
    while y.sum() < p:
        tot = np.minimum(d1[:, None], big)
        with np.errstate(invalid="ignore"):
            score = np.where(np.isfinite(tot).all(axis=0), tot.sum(axis=0), np.inf)
        if not np.isfinite(score).any():
            score = np.isinf(tot).sum(axis=0).astype(float) * -1.0
        score[y | (fix == -1)] = np.inf
        k = int(np.argmin(score))
        y[k] = True
        d1 = np.minimum(d1, big[:, k])
    return y


def _pmedian_lagrangian(c, reach, p, clock, budget, fix, integral, stats):
    n, m = c.shape
    big = np.where(reach, c, np.inf)
    fix0 = np.zeros(m, dtype=np.int8)
    y0 = _greedy_pmedian(c, reach, p, fix0)
    ub = pmedian_local_search(c, reach, y0, fix0, 50)
    best_y = y0.copy()
    lam = big.min(axis=1)
    lb, best_lam = -math.inf, lam.copy()
    v = np.zeros(m)
    g = np.zeros(n)
    pi, stall, it = 2.0, 0, 0
    patience = 40
    t_end = clock.elapsed() + budget
    seen: set[bytes] = set()

    def select(vv):
        """p cheapest sites honouring fix; returns (value, y, order of free sites)."""
        yy = fix == 1
        k = p - int(yy.sum())
        free = np.flatnonzero(fix == 0)
        order = free[np.argsort(vv[free], kind="mergesort")]
        yy[order[:k]] = True
        return float(vv[yy].sum()), yy, order, k

    def fixing(vv, lam_sum):
        thr = _fix_threshold(ub, integral)
        val, yy, order, k = select(vv)
        base = lam_sum + val
        if k <= 0 or k >= order.size:
            return
        v_in_last = vv[order[k - 1]]
        v_out_first = vv[order[k]]
        sel = order[:k]
        out = order[k:]
        # closing a selected site: replace it with the best unselected one
        fix[sel[base - vv[sel] + v_out_first >= thr]] = 1
        fix[out[base + vv[out] - v_in_last >= thr]] = -1

    max_iter = 4000
    while it < max_iter and clock.elapsed() < t_end:
        it += 1
        pmedian_site_values(c, reach, lam, v)
        val, y, order, k = select(v)
        L = float(lam.sum() + val)
        if L > lb + 1e-12 * max(1.0, abs(L)):
            if L > lb + 1e-9 * max(1.0, abs(L)):
                stall = 0
            lb, best_lam = L, lam.copy()
        else:
            stall += 1
        if it % 10 == 0:
            key = np.packbits(y).tobytes()
            if key not in seen:
                seen.add(key)
                yy = y.copy()
                cost = assignment_cost(c, reach, yy)
                if cost < ub * 1.05:
                    cost = pmedian_local_search(c, reach, yy, fix, 50)
                if cost < ub:
                    ub, best_y = cost, yy
        if _closed(ub, lb, integral):
            break
        if it % 5 == 0:
            fixing(v, float(lam.sum()))
            if int(np.sum(fix == 0)) == 0 or int(np.sum(fix == 1)) == p:
                break
        if stall >= patience:
            pi *= 0.5
            stall = 0
            lam = best_lam.copy()
            if pi < 1e-3:
                break
            continue
        pmedian_subgradient(c, reach, lam, y, g)
        norm = float(g @ g)
        if norm == 0.0:
            break
        target = ub if math.isfinite(ub) else 1.05 * abs(L) + 1.0
        step = pi * max(target - L, 1e-6 * max(1.0, abs(L))) / norm
        lam = lam + step * g
    if not _closed(ub, lb, integral):
        pmedian_site_values(c, reach, best_lam, v)
        fixing(v, float(best_lam.sum()))
    stats.update(lr_iterations=it, lr_bound=lb, lr_incumbent=ub, sites_fixed=int(np.count_nonzero(fix)),
                 sites_fixed_open=int(np.sum(fix == 1)))
    return lb, ub, best_y


def _pmedian_mip(c, reach, p, fix, hint_y, clock, engine, threads, stats):
    """Chained radius formulation over the sites not closed by ``fix``."""
    n, m = c.shape
    solver = _new_solver(engine, threads)
    sites = np.flatnonzero(fix >= 0)
    y = {int(i): solver.IntVar(1.0 if fix[i] == 1 else 0.0, 1.0, f"y{i}") for i in sites}
    card = solver.Constraint(p, p)
    for var in y.values():
        card.SetCoefficient(var, 1.0)
    obj = solver.Objective()
    const = 0.0
    forced = np.flatnonzero(fix == 1)
    zs = []
    for j in range(n):
        rs = sites[reach[j, sites]]
        dj = c[j, rs]
        cap = c[j, forced[reach[j, forced]]].min() if forced.size and reach[j, forced].any() else math.inf
        keep = dj < cap
        if math.isfinite(cap):
            rs, dj = rs[keep], dj[keep]
        order = np.argsort(dj, kind="mergesort")
        rs, dj = rs[order], dj[order]
        levels = np.unique(dj)
        if math.isfinite(cap):
            levels = np.append(levels, cap)
        if levels.size == 0:
            continue
        if not math.isfinite(cap) and not reach[j, sites].all():
            row = solver.Constraint(1.0, solver.infinity())  # some reachable site must open
            for i in rs:
                row.SetCoefficient(y[int(i)], 1.0)
        const += float(levels[0])
        # distance of j to the hint's closest open site (for a complete hint)
        near = dj[hint_y[rs]].min() if hint_y is not None and hint_y[rs].any() else math.inf
        prev = None  # z^{k-1}; None means the constant 1
        pos = 0
        for k in range(levels.size - 1):
            z = solver.NumVar(0.0, 1.0, "")
            zs.append((z, 1.0 if near > levels[k] else 0.0))
            obj.SetCoefficient(z, float(levels[k + 1] - levels[k]))
            # z^k >= z^{k-1} - sum_{i: d_ji == D^k} y_i
            row = solver.Constraint(0.0 if prev is not None else 1.0, solver.infinity())
            row.SetCoefficient(z, 1.0)
            if prev is not None:
                row.SetCoefficient(prev, -1.0)
            while pos < dj.size and dj[pos] == levels[k]:
                row.SetCoefficient(y[int(rs[pos])], 1.0)
                pos += 1
            prev = z
    obj.SetOffset(const)
    obj.SetMinimization()
    if hint_y is not None and _hints_ok(engine):
        solver.SetHint(list(y.values()) + [z for z, _ in zs], [1.0 if hint_y[i] else 0.0 for i in y] + [h for _, h in zs])
    stats.update(mip_sites=int(len(sites)), mip_free_sites=int(np.sum(fix[sites] == 0)),
                 mip_vars=solver.NumVariables(), mip_rows=solver.NumConstraints())
    status = _solve_mip(solver, clock)
    stats["mip_status"] = status
    if status not in ("optimal", "feasible"):
        return status, None, -math.inf
    yy = np.zeros(m, dtype=np.bool_)
    for i, var in y.items():
        yy[i] = var.solution_value() > 0.5
    bound = obj.BestBound()
    return status, yy, float(bound)


def solve_pmedian(
    dist,
    p: int,
    *,
    weights=None,
    time_limit_s: float | None = None,
    engine: str = "SCIP",
    threads: int = 1,
) -> FacilityResult:
    """Solve the p-median problem to optimality.

    Open exactly ``p`` sites minimising ``sum_j w_j * min_{open i} dist[j, i]``.

    Parameters
    ----------
    dist : array (n, m)
        Customer-to-candidate-site distances; ``n == m`` for the classic
        vertex p-median (``dist`` = all-pairs shortest paths). ``inf`` marks
        a forbidden pair.
    p : int
        Number of sites to open, ``1 <= p <= m``.
    weights : array (n,), optional
        Customer weights (demand); all ones by default.
    time_limit_s : float, optional
        Wall-clock budget; without it the solve runs to proven optimality.
    engine, threads
        OR-Tools ``pywraplp`` MIP backend and its threads (see :func:`solve_cflp`).

    Returns
    -------
    FacilityResult
        ``alloc`` is the 0/1 assignment of each customer to its closest open site.
    """
    clock = _Clock(time_limit_s)
    dist = _arr("dist", dist, 2)
    n, m = dist.shape
    if not (isinstance(p, (int, np.integer)) and 1 <= p <= m):
        raise ValueError(f"p must be an integer in 1..{m}, got {p!r}")
    if np.any(np.isnan(dist)) or np.any(dist < 0):
        raise ValueError("dist must be >= 0 (inf marks a forbidden pair)")
    w = np.ones(n) if weights is None else _arr("weights", weights, 1)
    if w.shape != (n,) or not np.all(np.isfinite(w)) or np.any(w < 0):
        raise ValueError(f"weights must be finite, >= 0, shape ({n},)")
    reach = np.ascontiguousarray(np.isfinite(dist))
    lost = np.flatnonzero(~reach.any(axis=1))
    if lost.size:
        raise ValueError(f"customers without any reachable site: {lost[:10].tolist()}")
    c = np.ascontiguousarray(np.where(reach, dist, 0.0) * w[:, None])
    integral = bool(np.all(c == np.round(c)))
    stats: dict = {"engine": engine, "integral": integral}
    fix = np.zeros(m, dtype=np.int8)
    budget = clock.left() * 0.5 if math.isfinite(clock.left()) else math.inf
    lb, ub, y = _pmedian_lagrangian(c, reach, int(p), clock, budget, fix, integral, stats)
    status = "lagrangian"
    if not _closed(ub, lb, integral):
        status, y_mip, bound = _pmedian_mip(c, reach, int(p), fix, y, clock, engine, threads, stats)
        if y_mip is not None:
            cost = assignment_cost(c, reach, y_mip)
            if cost < ub:
                ub, y = cost, y_mip
        if status == "optimal":
            lb = max(lb, min(bound, ub))
        elif status == "infeasible":
            lb = max(lb, ub)
        elif math.isfinite(bound):
            lb = max(lb, bound)
    if integral and math.isfinite(lb):
        lb = math.ceil(lb - 1e-6)
    big = np.where(reach, c, np.inf)
    big[:, ~y] = np.inf
    a = np.argmin(big, axis=1)
    alloc = np.zeros((n, m))
    alloc[np.arange(n), a] = 1.0
    obj = float(assignment_cost(c, reach, y))
    if not math.isfinite(obj):
        why = "infeasible" if status == "infeasible" else "no_solution"
        return FacilityResult(np.zeros(m, bool), np.zeros((n, m)), math.inf, False,
                              math.inf if why == "infeasible" else lb, clock.elapsed(), why, stats)
    lb = min(lb, obj)
    optimal = _closed(obj, lb, integral)
    return FacilityResult(y.copy(), alloc, obj, optimal, float(lb), clock.elapsed(),
                          "optimal" if optimal else "feasible", stats)
