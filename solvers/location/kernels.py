"""Numba kernels of the facility-location engines: Lagrangian subproblems and local search.

Conventions: ``c[j, i]`` is the cost of serving customer ``j`` entirely from
site ``i``; ``reach[j, i]`` tells whether that is allowed; ``fix[i]`` is
``0`` (free), ``1`` (forced open) or ``-1`` (forced closed).
"""

from __future__ import annotations

import numba as nb
import numpy as np

# --------------------------------------------------------------------------- #
# CFLP: Lagrangian relaxation of the demand constraints sum_i x_ij = 1
# --------------------------------------------------------------------------- #


@nb.njit(cache=True)
def cflp_facility_values(c, reach, d, s, f, lam, xf, v):  # pragma: no cover - compiled
    """Per-site value of the relaxed problem (a continuous knapsack each).

    ``v[i] = f[i] + min sum_j (c[j,i] - lam[j]) x_j  s.t.  sum_j d_j x_j <= s_i, 0 <= x <= 1``;
    the minimiser is written to column ``i`` of ``xf``.
    """
    n, m = c.shape
    keys = np.empty(n)
    idx = np.empty(n, dtype=np.int64)
    for i in range(m):
        k = 0
        for j in range(n):
            xf[j, i] = 0.0
            if reach[j, i]:
                r = c[j, i] - lam[j]
                if r < 0.0:
                    idx[k] = j
                    keys[k] = r / d[j] if d[j] > 0.0 else -np.inf
                    k += 1
        order = np.argsort(keys[:k], kind="mergesort")
        left = s[i]
        val = f[i]
        for t in range(k):
            j = idx[order[t]]
            r = c[j, i] - lam[j]
            if d[j] <= 0.0:
                xf[j, i] = 1.0
                val += r
                continue
            if left <= 0.0:
                break
            q = left / d[j]
            if q > 1.0:
                q = 1.0
            xf[j, i] = q
            val += q * r
            left -= q * d[j]
        v[i] = val


@nb.njit(cache=True)
def min_cover(v, s, need, fix, y, node_limit):  # pragma: no cover - compiled
    """Exact ``min sum v_i y_i  s.t.  sum s_i y_i >= need``, ``y`` binary, honouring ``fix``.

    Sites with ``v_i <= 0`` (and not forced closed) are always opened. The rest
    is a 0-1 min-cost cover solved by depth-first branch and bound with the
    fractional (Dantzig) bound.

    Returns ``(value, exact)``; ``value`` is ``inf`` when infeasible. When the
    node limit is hit, ``value`` is the (valid) LP lower bound, ``exact`` is
    False and ``y`` holds the best feasible cover found.
    """
    m = v.shape[0]
    base_val = 0.0
    base_cap = 0.0
    for i in range(m):
        y[i] = 0
        if fix[i] == 1 or (fix[i] == 0 and v[i] <= 0.0):
            y[i] = 1
            base_val += v[i]
            base_cap += s[i]
    rem = need - base_cap
    if rem <= 1e-9 * max(1.0, need):
        return base_val, True
    # candidates: free, v > 0, s > 0, sorted by cost per unit of capacity
    cand = np.empty(m, dtype=np.int64)
    ratio = np.empty(m)
    K = 0
    total = 0.0
    for i in range(m):
        if fix[i] == 0 and v[i] > 0.0 and s[i] > 0.0:
            cand[K] = i
            ratio[K] = v[i] / s[i]
            K += 1
            total += s[i]
    if total < rem * (1.0 - 1e-12):
        return np.inf, True
    order = np.argsort(ratio[:K], kind="mergesort")
    cv = np.empty(K)
    cs = np.empty(K)
    for t in range(K):
        cv[t] = v[cand[order[t]]]
        cs[t] = s[cand[order[t]]]
    # suffix sums of capacity to detect hopeless branches fast
    suf = np.zeros(K + 1)
    for t in range(K - 1, -1, -1):
        suf[t] = suf[t + 1] + cs[t]
    # LP bound at the root = valid fallback
    lp_root = 0.0
    r = rem
    for t in range(K):
        if cs[t] >= r:
            lp_root += cv[t] * r / cs[t]
            break
        lp_root += cv[t]
        r -= cs[t]
    best = np.inf
    best_x = np.zeros(K, dtype=np.int8)
    x = np.zeros(K, dtype=np.int8)
    k = 0
    cap = 0.0
    cost = 0.0
    nodes = 0
    eps = 1e-12 * max(1.0, rem)
    while True:
        nodes += 1
        backtrack = False
        if cap >= rem - eps:
            if cost < best:
                best = cost
                best_x[:] = x
            backtrack = True
        elif k >= K or cap + suf[k] < rem - eps:
            backtrack = True
        else:
            # fractional bound from k on
            b = cost
            r = rem - cap
            for t in range(k, K):
                if cs[t] >= r:
                    b += cv[t] * r / cs[t]
                    break
                b += cv[t]
                r -= cs[t]
            if b >= best * (1.0 - 1e-12) - 1e-12:
                backtrack = True
            else:
                x[k] = 1
                cap += cs[k]
                cost += cv[k]
                k += 1
        if backtrack:
            t = k - 1
            while t >= 0 and x[t] == 0:
                t -= 1
            if t < 0:
                break
            x[t] = 0
            cap -= cs[t]
            cost -= cv[t]
            k = t + 1
        if nodes > node_limit:
            for t in range(K):
                if best_x[t]:
                    y[cand[order[t]]] = 1
            return base_val + lp_root, False
    for t in range(K):
        if best_x[t]:
            y[cand[order[t]]] = 1
    return base_val + best, True


# --------------------------------------------------------------------------- #
# p-median: Lagrangian relaxation of the assignment constraints
# --------------------------------------------------------------------------- #


@nb.njit(cache=True)
def pmedian_site_values(c, reach, lam, v):  # pragma: no cover - compiled
    """``v[i] = sum_j min(0, c[j, i] - lam[j])`` over reachable pairs."""
    n, m = c.shape
    for i in range(m):
        acc = 0.0
        for j in range(n):
            if reach[j, i]:
                r = c[j, i] - lam[j]
                if r < 0.0:
                    acc += r
        v[i] = acc


@nb.njit(cache=True)
def pmedian_subgradient(c, reach, lam, y, g):  # pragma: no cover - compiled
    """``g[j] = 1 - #{open i : c[j, i] < lam[j]}`` for the relaxed solution ``y``."""
    n, m = c.shape
    for j in range(n):
        cnt = 0
        for i in range(m):
            if y[i] and reach[j, i] and c[j, i] - lam[j] < 0.0:
                cnt += 1
        g[j] = 1.0 - cnt


@nb.njit(cache=True)
def assignment_cost(c, reach, y):  # pragma: no cover - compiled
    """Cost of serving every customer from its cheapest open reachable site (inf if none)."""
    n, m = c.shape
    tot = 0.0
    for j in range(n):
        b = np.inf
        for i in range(m):
            if y[i] and reach[j, i] and c[j, i] < b:
                b = c[j, i]
        tot += b
    return tot


@nb.njit(cache=True)
def pmedian_local_search(c, reach, y, fix, max_passes):  # pragma: no cover - compiled
    """First-improvement swap (Teitz–Bart) local search for the p-median, in place on ``y``.

    Uses the closest / second-closest open site of every customer to price a
    swap ``close a, open b`` in O(n). Sites with ``fix != 0`` never change.
    Returns the final cost.
    """
    n, m = c.shape
    big = np.inf
    cc = np.empty((n, m))
    for j in range(n):
        for i in range(m):
            cc[j, i] = c[j, i] if reach[j, i] else big
    d1 = np.empty(n)
    d2 = np.empty(n)
    a1 = np.empty(n, dtype=np.int64)

    def refresh():
        for j in range(n):
            b1 = big
            b2 = big
            i1 = -1
            for i in range(m):
                if y[i]:
                    v = cc[j, i]
                    if v < b1:
                        b2 = b1
                        b1 = v
                        i1 = i
                    elif v < b2:
                        b2 = v
            d1[j] = b1
            d2[j] = b2
            a1[j] = i1

    refresh()
    cost = 0.0
    for j in range(n):
        cost += d1[j]
    loss = np.empty(m)
    for _ in range(max_passes):
        improved = False
        for b in range(m):
            if y[b] or fix[b] != 0:
                continue
            # delta(close a, open b) = base(b) + loss_b(a), all a at once in O(n + m)
            base = 0.0
            for i in range(m):
                loss[i] = 0.0
            for j in range(n):
                nb_ = cc[j, b]
                if nb_ < d1[j]:
                    base += nb_ - d1[j]
                    # j moves to b whatever closes: no extra loss
                else:
                    new = d2[j] if d2[j] < nb_ else nb_
                    loss[a1[j]] += new - d1[j]
            best_delta = -1e-9 * max(1.0, abs(cost))
            best_a = -1
            for a in range(m):
                if y[a] and fix[a] == 0:
                    delta = base + loss[a]
                    if delta < best_delta:
                        best_delta = delta
                        best_a = a
            if best_a >= 0:
                y[best_a] = False
                y[b] = True
                refresh()
                cost = 0.0
                for j in range(n):
                    cost += d1[j]
                improved = True
        if not improved:
            break
    return cost
