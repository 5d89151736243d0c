"""All-pairs shortest paths on a small undirected graph (numba Floyd–Warshall)."""

from __future__ import annotations

import numba as nb
import numpy as np

__all__ = ["shortest_path_matrix"]


@nb.njit(cache=True)
def _floyd_warshall(d: np.ndarray) -> None:  # pragma: no cover - compiled
    n = d.shape[0]
    for k in range(n):
        dk = d[k]
        for i in range(n):
            dik = d[i, k]
            if dik == np.inf:
                continue
            di = d[i]
            for j in range(n):
                v = dik + dk[j]
                if v < di[j]:
                    di[j] = v


def shortest_path_matrix(n: int, edges: np.ndarray, *, duplicate: str = "last") -> np.ndarray:
    """All-pairs shortest-path lengths of an undirected graph.

    Parameters
    ----------
    n : int
        Number of vertices (0-based ids ``0..n-1``).
    edges : array (E, 3)
        ``i, j, cost`` rows, 0-based vertices, cost >= 0.
    duplicate : {"last", "min"}
        How repeated edges ``{i, j}`` are merged: ``"last"`` (OR-Library
        p-median convention: the last row overwrites, in either direction) or
        ``"min"`` (keep the cheapest parallel edge).

    Returns
    -------
    ndarray (n, n) float64
        Symmetric; ``inf`` between disconnected vertices, 0 on the diagonal.
    """
    edges = np.asarray(edges)
    if edges.ndim != 2 or edges.shape[1] != 3:
        raise ValueError(f"edges must have shape (E, 3), got {edges.shape}")
    if duplicate not in ("last", "min"):
        raise ValueError(f"duplicate must be 'last' or 'min', got {duplicate!r}")
    ii = edges[:, 0].astype(np.int64)
    jj = edges[:, 1].astype(np.int64)
    cc = edges[:, 2].astype(np.float64)
    if len(ii) and (ii.min() < 0 or jj.min() < 0 or ii.max() >= n or jj.max() >= n):
        raise ValueError("edge endpoint out of range 0..n-1")
    if len(cc) and (cc.min() < 0 or not np.all(np.isfinite(cc))):
        raise ValueError("edge costs must be finite and >= 0")
    d = np.full((n, n), np.inf)
    if duplicate == "last":
        # the last row of each unordered pair {i, j} wins, whichever direction it is written in
        last: dict[tuple[int, int], int] = {}
        for e, (a, b) in enumerate(zip(np.minimum(ii, jj).tolist(), np.maximum(ii, jj).tolist())):
            last[(a, b)] = e
        sel = np.fromiter(last.values(), dtype=np.int64, count=len(last))
        d[ii[sel], jj[sel]] = cc[sel]
        d[jj[sel], ii[sel]] = cc[sel]
    else:
        np.minimum.at(d, (ii, jj), cc)
        np.minimum.at(d, (jj, ii), cc)
    np.fill_diagonal(d, 0.0)
    _floyd_warshall(d)
    return d
