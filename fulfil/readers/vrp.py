"""Readers of the standard vehicle-routing benchmark formats, and solution files.

* :func:`read_solomon` — Solomon (100 customers) and Gehring–Homberger
  (200–1000 customers) VRPTW text files.
* :func:`read_vrplib` — VRPLIB / TSPLIB CVRP files with
  ``EDGE_WEIGHT_TYPE : EUC_2D`` (the Uchoa et al. "X" set).
* :func:`read_instance` — either, chosen from the file's content.
* :func:`write_solution` / :func:`read_solution` — the VRPLIB solution
  format (``Route #1: 3 5 7`` … ``Cost 1234.5``).

Both instance readers return a :class:`VRPInstance` whose node ``0`` is the
depot and nodes ``1..n`` the customers. Solomon files already number their
nodes that way (``CUST NO.`` 0 is the depot). VRPLIB files number nodes
``1..DIMENSION`` with the depot (normally) first; node ``k`` of the file is
node ``k - 1`` here, which is also the customer numbering of CVRPLIB
solution files (customer ``1`` = the first node after the depot). The file's
own ids are kept in :attr:`VRPInstance.file_ids`.

Nothing here depends on ``vrplib``: the parsers are written from the format
descriptions. Every malformed input raises :class:`ValueError` whose message
starts with ``"<file>:<line>: "``.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

__all__ = [
    "VRPInstance",
    "read_instance",
    "read_solomon",
    "read_vrplib",
    "read_solution",
    "write_solution",
    "format_solution",
]


@dataclass(frozen=True, eq=False)
class VRPInstance:
    """One benchmark instance, node ``0`` = depot, nodes ``1..n`` = customers.

    Attributes
    ----------
    name : str
        Instance name (file stem, e.g. ``"C101"``, ``"X-n101-k25"``).
    kind : str
        ``"vrptw"`` (Solomon / Homberger) or ``"cvrp"`` (VRPLIB).
    coords : numpy.ndarray of float64, shape (n+1, 2)
        x, y of every node.
    demand : numpy.ndarray of int64, shape (n+1,)
        Demand; ``demand[0] == 0``.
    ready, due, service : numpy.ndarray of float64, shape (n+1,)
        Time window and service time of every node (``ready[0]``/``due[0]``:
        the depot's opening and latest return). For CVRP: ``0``, ``inf``, ``0``.
    capacity : int
        Vehicle capacity (homogeneous fleet).
    vehicles : int or None
        Fleet size given by the file (Solomon ``VEHICLE NUMBER``, VRPLIB
        ``VEHICLES``); ``None`` when the file does not limit the fleet.
    file_ids : numpy.ndarray of int64, shape (n+1,)
        Node id used in the file for every node.
    path : str
        The file read.
    """

    name: str
    kind: str
    coords: np.ndarray
    demand: np.ndarray
    ready: np.ndarray
    due: np.ndarray
    service: np.ndarray
    capacity: int
    vehicles: int | None
    file_ids: np.ndarray
    path: str = ""

    @property
    def n_customers(self) -> int:
        """int: Number of customers ``n`` (depot excluded)."""
        return int(self.coords.shape[0]) - 1

    @property
    def has_windows(self) -> bool:
        """bool: ``True`` for VRPTW instances."""
        return self.kind == "vrptw"


# ----------------------------------------------------------------- helpers
def _read_lines(path: Path) -> list[str]:
    try:
        text = path.read_text(encoding="ascii", errors="strict")
    except UnicodeDecodeError as exc:
        raise ValueError(f"{path}:1: not an ASCII text file ({exc.reason})") from None
    except OSError as exc:
        raise ValueError(f"{path}: cannot read ({exc.strerror})") from None
    return text.splitlines()


def _num(tok: str, where: str, what: str, minimum: float | None = None, *, integer: bool = False) -> float:
    """``tok`` as a finite number (an integer when asked, at least ``minimum``); errors name ``where``."""
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


def _int(tok: str, where: str, what: str, minimum: int | None = None) -> int:
    return int(_num(tok, where, what, minimum, integer=True))


def _is_number(tok: str) -> bool:
    try:
        float(tok)
    except ValueError:
        return False
    return True


# ----------------------------------------------------------------- Solomon
def read_solomon(path: str | Path) -> VRPInstance:
    """Read a Solomon / Gehring–Homberger VRPTW file.

    Format: a name line; a ``VEHICLE`` block whose first all-numeric line is
    ``NUMBER CAPACITY``; a ``CUSTOMER`` block with one line of 7 numbers per
    node, ``CUST_NO X Y DEMAND READY DUE SERVICE``, the depot (number 0) first
    and the customers numbered ``1..n`` in order. Blank lines and CRLF line
    ends are accepted.

    Parameters
    ----------
    path : str or Path
        The file.

    Returns
    -------
    VRPInstance
        ``kind == "vrptw"``, ``vehicles`` = the file's vehicle number.

    Raises
    ------
    ValueError
        On malformed input, naming the file and line.
    """
    path = Path(path)
    lines = _read_lines(path)
    i = 0
    n_lines = len(lines)

    def where(k: int) -> str:
        return f"{path}:{k + 1}"

    # the VEHICLE block
    while i < n_lines and lines[i].strip().upper() != "VEHICLE":
        i += 1
    if i == n_lines:
        raise ValueError(f"{path}:{n_lines}: no 'VEHICLE' section header (is this a Solomon file?)")
    i += 1
    while i < n_lines and not (lines[i].split() and all(_is_number(t) for t in lines[i].split())):
        if lines[i].strip().upper() == "CUSTOMER":
            raise ValueError(f"{where(i)}: 'CUSTOMER' section before the vehicle NUMBER CAPACITY line")
        i += 1
    if i == n_lines:
        raise ValueError(f"{path}:{n_lines}: unexpected end of file, expected the vehicle NUMBER CAPACITY line")
    toks = lines[i].split()
    if len(toks) != 2:
        raise ValueError(f"{where(i)}: expected 2 numbers (vehicle number, capacity), got {len(toks)}")
    vehicles = _int(toks[0], where(i), "vehicle number", minimum=1)
    capacity = _int(toks[1], where(i), "vehicle capacity", minimum=1)
    i += 1

    # the CUSTOMER block
    while i < n_lines and lines[i].strip().upper() != "CUSTOMER":
        i += 1
    if i == n_lines:
        raise ValueError(f"{path}:{n_lines}: no 'CUSTOMER' section header")
    i += 1
    rows: list[tuple[int, list[float]]] = []
    for k in range(i, n_lines):
        toks = lines[k].split()
        if not toks:
            continue
        if not rows and not _is_number(toks[0]):
            continue  # the column header line(s)
        if len(toks) != 7:
            raise ValueError(
                f"{where(k)}: expected 7 numbers (CUST NO, X, Y, DEMAND, READY, DUE, SERVICE), got {len(toks)}"
            )
        cust = _int(toks[0], where(k), "customer number", minimum=0)
        if cust != len(rows):
            raise ValueError(f"{where(k)}: customer number {cust}, expected {len(rows)} (nodes must be 0, 1, 2, ...)")
        x = _num(toks[1], where(k), "x coordinate")
        y = _num(toks[2], where(k), "y coordinate")
        dem = _int(toks[3], where(k), "demand", minimum=0)
        ready = _num(toks[4], where(k), "ready time")
        due = _num(toks[5], where(k), "due date")
        serv = _num(toks[6], where(k), "service time")
        if ready < 0 or serv < 0:
            raise ValueError(f"{where(k)}: ready time and service time must be >= 0")
        if due < ready:
            raise ValueError(f"{where(k)}: due date {toks[5]} before ready time {toks[4]}")
        if cust == 0 and dem != 0:
            raise ValueError(f"{where(k)}: the depot (customer 0) has demand {dem}, expected 0")
        if dem > capacity:
            raise ValueError(f"{where(k)}: demand {dem} of customer {cust} exceeds the vehicle capacity {capacity}")
        rows.append((k, [x, y, dem, ready, due, serv]))
    if len(rows) < 2:
        raise ValueError(f"{path}:{n_lines}: expected the depot and at least one customer, found {len(rows)} node(s)")
    data = np.array([r for _, r in rows], dtype=np.float64)
    name = path.stem
    return VRPInstance(
        name=name,
        kind="vrptw",
        coords=data[:, 0:2].copy(),
        demand=data[:, 2].astype(np.int64),
        ready=data[:, 3].copy(),
        due=data[:, 4].copy(),
        service=data[:, 5].copy(),
        capacity=capacity,
        vehicles=vehicles,
        file_ids=np.arange(len(rows), dtype=np.int64),
        path=str(path),
    )


# ------------------------------------------------------------------ VRPLIB
_SECTIONS = ("NODE_COORD_SECTION", "DEMAND_SECTION", "DEPOT_SECTION")


def read_vrplib(path: str | Path) -> VRPInstance:
    """Read a VRPLIB CVRP file with Euclidean coordinates (``EUC_2D``).

    Specification lines ``KEY : VALUE`` (``NAME``, ``TYPE``, ``DIMENSION``,
    ``CAPACITY``, ``EDGE_WEIGHT_TYPE``, optional ``VEHICLES``), then the
    ``NODE_COORD_SECTION`` (``id x y``), ``DEMAND_SECTION`` (``id demand``)
    and ``DEPOT_SECTION`` (one depot id, then ``-1``), then ``EOF``.

    Parameters
    ----------
    path : str or Path
        The file.

    Returns
    -------
    VRPInstance
        ``kind == "cvrp"``; the depot becomes node 0 and the other nodes
        follow in file order; no time windows; ``vehicles`` from the optional
        ``VEHICLES`` key, else ``None`` (unlimited fleet).

    Raises
    ------
    ValueError
        On malformed or unsupported input (another edge-weight type, several
        depots, ...), naming the file and line.
    """
    path = Path(path)
    lines = _read_lines(path)
    spec: dict[str, tuple[str, int]] = {}
    coords: dict[int, tuple[float, float]] = {}
    demands: dict[int, int] = {}
    depots: list[int] = []
    section: str | None = None
    section_line: dict[str, int] = {}
    dim: int | None = None
    for k, raw in enumerate(lines):
        w = f"{path}:{k + 1}"
        s = raw.strip()
        if not s:
            continue
        head = s.split()[0].rstrip(":").upper()
        if head == "EOF":
            break
        if head in _SECTIONS:
            section = head
            section_line[head] = k + 1
            if dim is None:
                if "DIMENSION" not in spec:
                    raise ValueError(f"{w}: {head} before the DIMENSION line")
                dim = _int(spec["DIMENSION"][0], f"{path}:{spec['DIMENSION'][1]}", "DIMENSION", minimum=2)
            continue
        if section is None or (":" in s and not _is_number(s.split(":")[0].strip())):
            if ":" not in s:
                raise ValueError(f"{w}: expected 'KEY : VALUE' or a section name, got {s!r}")
            key, _, value = s.partition(":")
            spec[key.strip().upper()] = (value.strip().strip('"').strip(), k + 1)
            section = None
            continue
        toks = s.split()
        if section == "NODE_COORD_SECTION":
            if len(toks) != 3:
                raise ValueError(f"{w}: expected 'id x y' in NODE_COORD_SECTION, got {s!r}")
            nid = _int(toks[0], w, "node id", minimum=1)
            if dim is not None and nid > dim:
                raise ValueError(f"{w}: node id {nid} beyond DIMENSION {dim}")
            if nid in coords:
                raise ValueError(f"{w}: node {nid} listed twice in NODE_COORD_SECTION")
            coords[nid] = (_num(toks[1], w, "x coordinate"), _num(toks[2], w, "y coordinate"))
        elif section == "DEMAND_SECTION":
            if len(toks) != 2:
                raise ValueError(f"{w}: expected 'id demand' in DEMAND_SECTION, got {s!r}")
            nid = _int(toks[0], w, "node id", minimum=1)
            if dim is not None and nid > dim:
                raise ValueError(f"{w}: node id {nid} beyond DIMENSION {dim}")
            if nid in demands:
                raise ValueError(f"{w}: node {nid} listed twice in DEMAND_SECTION")
            demands[nid] = _int(toks[1], w, "demand", minimum=0)
        elif section == "DEPOT_SECTION":
            for tok in toks:
                v = _int(tok, w, "depot id")
                if v == -1:
                    section = "DEPOT_DONE"
                    break
                if v < 1 or (dim is not None and v > dim):
                    raise ValueError(f"{w}: depot id {v} outside 1..{dim}")
                depots.append(v)
        else:
            raise ValueError(f"{w}: unexpected data {s!r} outside any section")

    def spec_line(key: str) -> str:
        return f"{path}:{spec[key][1]}" if key in spec else f"{path}:1"

    typ = spec.get("TYPE", ("CVRP", 0))[0].upper()
    if typ != "CVRP":
        raise ValueError(f"{spec_line('TYPE')}: TYPE {typ} is not supported (only CVRP)")
    ewt = spec.get("EDGE_WEIGHT_TYPE", ("", 0))[0].upper()
    if ewt != "EUC_2D":
        raise ValueError(f"{spec_line('EDGE_WEIGHT_TYPE')}: EDGE_WEIGHT_TYPE {ewt or '(missing)'} is not supported "
                         "(only EUC_2D)")
    if dim is None:
        if "DIMENSION" not in spec:
            raise ValueError(f"{path}:1: no DIMENSION line")
        dim = _int(spec["DIMENSION"][0], spec_line("DIMENSION"), "DIMENSION", minimum=2)
    if "CAPACITY" not in spec:
        raise ValueError(f"{path}:1: no CAPACITY line")
    capacity = _int(spec["CAPACITY"][0], spec_line("CAPACITY"), "CAPACITY", minimum=1)
    vehicles = None
    if "VEHICLES" in spec:
        vehicles = _int(spec["VEHICLES"][0], spec_line("VEHICLES"), "VEHICLES", minimum=1)
    for sec, got in (("NODE_COORD_SECTION", coords), ("DEMAND_SECTION", demands)):
        missing = [i for i in range(1, dim + 1) if i not in got]
        if missing:
            at = section_line.get(sec)
            raise ValueError(f"{path}:{at or len(lines)}: {sec} "
                             f"{'is missing' if at is None else 'lacks node(s) ' + str(missing[:5])}"
                             f"{'' if len(missing) <= 5 else ' ...'} (DIMENSION {dim})")
    if len(depots) != 1:
        at = section_line.get("DEPOT_SECTION", len(lines))
        raise ValueError(f"{path}:{at}: expected exactly one depot in DEPOT_SECTION, got {len(depots)}")
    depot = depots[0]
    if demands[depot] != 0:
        raise ValueError(f"{path}:{section_line['DEMAND_SECTION']}: the depot {depot} has demand {demands[depot]}")
    order = [depot] + [i for i in range(1, dim + 1) if i != depot]
    for i in order[1:]:
        if demands[i] > capacity:
            raise ValueError(f"{path}:{section_line['DEMAND_SECTION']}: demand {demands[i]} of node {i} exceeds "
                             f"CAPACITY {capacity}")
    n1 = len(order)
    name = spec.get("NAME", (path.stem, 0))[0] or path.stem
    return VRPInstance(
        name=name,
        kind="cvrp",
        coords=np.array([coords[i] for i in order], dtype=np.float64),
        demand=np.array([demands[i] for i in order], dtype=np.int64),
        ready=np.zeros(n1),
        due=np.full(n1, np.inf),
        service=np.zeros(n1),
        capacity=capacity,
        vehicles=vehicles,
        file_ids=np.array(order, dtype=np.int64),
        path=str(path),
    )


def read_instance(path: str | Path) -> VRPInstance:
    """Read a Solomon/Homberger or VRPLIB file, whichever the content is.

    A file with a ``NODE_COORD_SECTION`` or a ``.vrp`` suffix is read with
    :func:`read_vrplib`, any other with :func:`read_solomon`.
    """
    path = Path(path)
    if path.suffix.lower() == ".vrp":
        return read_vrplib(path)
    head = "\n".join(_read_lines(path)[:40]).upper()
    if "NODE_COORD_SECTION" in head or "EDGE_WEIGHT_TYPE" in head:
        return read_vrplib(path)
    return read_solomon(path)


# --------------------------------------------------------------- solutions
_ROUTE_RE = re.compile(r"^\s*Route\s*#\s*(\d+)\s*:(.*)$", re.IGNORECASE)


def format_solution(routes: list[list[int]], cost: float, decimals: int | None = None) -> str:
    """Text of a solution in the VRPLIB format.

    Parameters
    ----------
    routes : list of list of int
        Customer numbers (``1..n``, depot excluded) per route; empty routes
        are skipped and the others numbered from 1.
    cost : float
        Total cost, written on the last line ``Cost <value>``.
    decimals : int, optional
        Decimals of the cost; by default an integral cost is written
        without decimals and any other with up to 4.

    Returns
    -------
    str
        ``Route #1: 3 5 7`` lines then ``Cost 1234.5``, newline-terminated.
    """
    out = []
    k = 0
    for r in routes:
        if len(r) == 0:
            continue
        k += 1
        out.append(f"Route #{k}: " + " ".join(str(int(c)) for c in r))
    if decimals is None:
        c = float(cost)
        text = str(int(round(c))) if abs(c - round(c)) < 1e-9 else f"{c:.4f}".rstrip("0").rstrip(".")
    else:
        text = f"{float(cost):.{decimals}f}"
    out.append(f"Cost {text}")
    return "\n".join(out) + "\n"


def write_solution(path: str | Path, routes: list[list[int]], cost: float, decimals: int | None = None) -> Path:
    """Write :func:`format_solution` to ``path`` (parent folders created); returns the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(format_solution(routes, cost, decimals), encoding="ascii")
    tmp.replace(path)
    return path


def read_solution(path: str | Path) -> tuple[list[list[int]], float | None]:
    """Read a VRPLIB solution file.

    Parameters
    ----------
    path : str or Path
        The file: ``Route #k: c1 c2 ...`` lines and a ``Cost <value>`` line;
        other ``key value`` lines (``Time``, ``Vehicles``, ...) and blank
        lines are ignored.

    Returns
    -------
    (routes, cost)
        Routes as lists of customer numbers in file order; the cost, or
        ``None`` when there is no ``Cost`` line.

    Raises
    ------
    ValueError
        On a malformed route or cost line, naming the file and line.
    """
    path = Path(path)
    routes: list[list[int]] = []
    cost: float | None = None
    for k, line in enumerate(_read_lines(path), start=1):
        w = f"{path}:{k}"
        m = _ROUTE_RE.match(line)
        if m:
            routes.append([_int(t, w, "customer number", minimum=1) for t in m.group(2).split()])
            continue
        toks = line.split()
        if toks and toks[0].lower() == "cost":
            if len(toks) != 2:
                raise ValueError(f"{w}: expected 'Cost <value>', got {line.strip()!r}")
            cost = _num(toks[1], w, "cost")
        elif toks and toks[0].lower().startswith("route"):
            raise ValueError(f"{w}: expected 'Route #<k>: <customers>', got {line.strip()!r}")
    return routes, cost
