"""Readers of Beasley's OR-Library facility-location files.

* :func:`read_cflp` — capacitated warehouse location (``capNN``, ``capa/b/c``).
* :func:`read_pmedian` — uncapacitated p-median (``pmedNN``), as an edge list;
  :func:`pmedian_distances` turns it into the all-pairs shortest-path matrix.

Every malformed input raises :class:`ValueError` whose message starts with
``"<file>:<line>: "`` so the culprit can be found at once.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from pathlib import Path

import numpy as np

__all__ = ["read_cflp", "read_pmedian", "pmedian_distances", "benchdata_dir", "read_optimal_csv", "parse_number"]


def parse_number(tok: str, where: str, what: str, minimum: float | None = None, *, integer: bool = False) -> float:
    """``tok`` as a finite number (an integer when asked, at least ``minimum``).

    Parameters
    ----------
    tok : str
        The token.
    where : str
        ``"<file>:<line>"``, the start of every error message.
    what : str
        What the token is, for the messages (``"demand of customer 3"``).
    minimum : float, optional
        Smallest accepted value.
    integer : bool, optional
        Require an integral value.

    Raises
    ------
    ValueError
        ``"<where>: expected <what>, got '<tok>'"`` and the like.
    """
    try:
        val = float(tok)
    except ValueError:
        raise ValueError(f"{where}: expected {what}, got {tok!r}") from None
    if not math.isfinite(val):
        raise ValueError(f"{where}: {what} must be finite, got {tok!r}")
    if integer and val != int(val):
        raise ValueError(f"{where}: {what} must be an integer, got {tok!r}")
    if minimum is not None and val < minimum:
        raise ValueError(f"{where}: {what} must be >= {minimum:g}, got {tok!r}")
    return val


class _Tokens:
    """Whitespace-separated tokens of a text file, each with its 1-based line number."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        try:
            text = self.path.read_text(encoding="ascii", errors="strict")
        except UnicodeDecodeError as exc:
            raise ValueError(f"{self.path}: not an ASCII text file ({exc.reason})") from None
        self._items: list[tuple[str, int]] = [
            (tok, ln) for ln, line in enumerate(text.splitlines(), start=1) for tok in line.split()
        ]
        self._pos = 0
        self._last_line = text.count("\n") + 1

    def where(self, line: int | None = None) -> str:
        return f"{self.path}:{line if line is not None else self._last_line}"

    def next(self, what: str) -> tuple[str, int]:
        if self._pos >= len(self._items):
            raise ValueError(f"{self.where()}: unexpected end of file, expected {what}")
        item = self._items[self._pos]
        self._pos += 1
        return item

    def number(self, what: str, *, integer: bool = False, minimum: float | None = None) -> float:
        tok, ln = self.next(what)
        return parse_number(tok, self.where(ln), what, minimum, integer=integer)

    def rest(self) -> Iterator[tuple[str, int]]:
        while self._pos < len(self._items):
            yield self.next("")


def read_cflp(path: str | Path, capacity: float | None = None) -> dict:
    """Read an OR-Library capacitated warehouse location file.

    Format: ``m n``; ``m`` lines ``capacity fixed_cost``; then for every
    customer its ``demand`` followed by ``m`` allocation costs (the cost of
    serving *all* of that customer's demand from each warehouse), wrapped over
    any number of lines.

    Parameters
    ----------
    path : str or Path
        The data file.
    capacity : float, optional
        Capacity of every warehouse. Required for ``capa/capb/capc``, whose
        capacity field is the literal word ``capacity``; when given it also
        overrides numeric capacities.

    Returns
    -------
    dict
        ``m``, ``n`` (ints), ``capacity[m]``, ``fixed_cost[m]``, ``demand[n]``
        and ``alloc_cost[n, m]`` (float64 arrays).

    Raises
    ------
    ValueError
        On malformed input, naming the file and line.
    """
    tk = _Tokens(path)
    m = int(tk.number("number of warehouses m", integer=True, minimum=1))
    n = int(tk.number("number of customers n", integer=True, minimum=1))
    cap = np.empty(m)
    fixed = np.empty(m)
    for i in range(m):
        tok, ln = tk.next(f"capacity of warehouse {i + 1}")
        if tok.lower() == "capacity":
            if capacity is None:
                raise ValueError(
                    f"{tk.where(ln)}: warehouse {i + 1} has the placeholder capacity 'capacity'; "
                    "pass capacity=... (capa: 8000/10000/12000/14000, capb: 5000-8000, capc: 5000-7250)"
                )
            cap[i] = capacity
        else:
            try:
                cap[i] = float(tok)
            except ValueError:
                raise ValueError(f"{tk.where(ln)}: expected capacity of warehouse {i + 1}, got {tok!r}") from None
            if not math.isfinite(cap[i]) or cap[i] < 0:
                raise ValueError(f"{tk.where(ln)}: capacity of warehouse {i + 1} must be finite and >= 0, got {tok!r}")
            if capacity is not None:
                cap[i] = capacity
        fixed[i] = tk.number(f"fixed cost of warehouse {i + 1}", minimum=0)
    demand = np.empty(n)
    alloc = np.empty((n, m))
    for j in range(n):
        demand[j] = tk.number(f"demand of customer {j + 1}", minimum=0)
        for i in range(m):
            alloc[j, i] = tk.number(f"allocation cost of customer {j + 1} to warehouse {i + 1}", minimum=0)
    for tok, ln in tk.rest():
        raise ValueError(f"{tk.where(ln)}: unexpected trailing data {tok!r} after {n} customers")
    return {"m": m, "n": n, "capacity": cap, "fixed_cost": fixed, "demand": demand, "alloc_cost": alloc}


def read_pmedian(path: str | Path) -> tuple[int, int, np.ndarray]:
    """Read an OR-Library p-median file.

    Format: ``n_vertices n_edges p``, then ``n_edges`` lines ``i j cost``
    (1-based vertices, undirected).

    Returns
    -------
    (n, p, edges)
        ``edges`` is an int64 array of shape ``(n_edges, 3)`` with **0-based**
        vertex ids and the cost, in file order (order matters: in the
        OR-Library convention the last occurrence of an edge wins, see
        :func:`pmedian_distances`).

    Raises
    ------
    ValueError
        On malformed input, naming the file and line.
    """
    tk = _Tokens(path)
    n = int(tk.number("number of vertices", integer=True, minimum=1))
    n_edges = int(tk.number("number of edges", integer=True, minimum=0))
    p = int(tk.number("p", integer=True, minimum=1))
    if p > n:
        raise ValueError(f"{tk.where(1)}: p = {p} exceeds the number of vertices {n}")
    edges = np.empty((n_edges, 3), dtype=np.int64)
    for e in range(n_edges):
        for k, what in enumerate(("first vertex", "second vertex", "cost")):
            tok_line = tk._items[tk._pos][1] if tk._pos < len(tk._items) else None
            v = tk.number(f"{what} of edge {e + 1}", integer=True, minimum=0 if k == 2 else 1)
            if k < 2 and v > n:
                raise ValueError(f"{tk.where(tok_line)}: {what} of edge {e + 1} is {int(v)}, beyond n = {n}")
            edges[e, k] = int(v) - (1 if k < 2 else 0)
    for tok, ln in tk.rest():
        raise ValueError(f"{tk.where(ln)}: unexpected trailing data {tok!r} after {n_edges} edges")
    return n, p, edges


def pmedian_distances(path: str | Path) -> tuple[np.ndarray, int]:
    """Read a p-median file and return ``(dist[n, n], p)``, the shortest-path matrix.

    Duplicate edges follow the OR-Library convention: the last occurrence wins
    (it overwrites the earlier cost, whichever direction it is written in).
    """
    from solvers.location import shortest_path_matrix

    n, p, edges = read_pmedian(path)
    return shortest_path_matrix(n, edges, duplicate="last"), p


def benchdata_dir() -> Path:
    """The shared benchmark folder: ``$FULFIL_BENCHDATA`` or ``<repo>/../shared/benchdata``."""
    import os

    env = os.environ.get("FULFIL_BENCHDATA")
    if env:
        return Path(env)
    repo_root = Path(__file__).resolve().parents[2]
    return repo_root.parent / "shared" / "benchdata"


def read_optimal_csv(path: str | Path) -> list[dict]:
    """Rows of an ``optimal.csv`` (``instance``, ``optimal_value`` as float, ``capacity`` as float or None, ...)."""
    import csv

    path = Path(path)
    rows = []
    with path.open(newline="") as fh:
        reader = csv.DictReader(fh)
        if reader.fieldnames is None or "instance" not in reader.fieldnames or "optimal_value" not in reader.fieldnames:
            raise ValueError(f"{path}:1: expected a header with 'instance' and 'optimal_value'")
        for ln, row in enumerate(reader, start=2):
            try:
                row["optimal_value"] = float(row["optimal_value"])
                cap = (row.get("capacity") or "").strip()
                row["capacity"] = float(cap) if cap else None
            except ValueError as exc:
                raise ValueError(f"{path}:{ln}: {exc}") from None
            row.setdefault("file", row["instance"] + ".txt")
            if not row.get("file"):
                row["file"] = row["instance"] + ".txt"
            rows.append(row)
    return rows
