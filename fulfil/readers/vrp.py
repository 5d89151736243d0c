"""Readers of the standard vehicle-routing benchmark formats, and solution files.

The files are parsed by the ``vrplib`` package (installed with PyVRP); this
module turns its dictionaries into :class:`VRPInstance` objects in the
project's conventions and checks what ``vrplib`` does not.

* :func:`read_solomon` — Solomon (100 customers) and Gehring–Homberger
  (200–1000 customers) VRPTW text files, through
  ``vrplib.read_instance(path, instance_format="solomon")``.
* :func:`read_vrplib` — VRPLIB files with ``EDGE_WEIGHT_TYPE : EUC_2D``,
  through ``vrplib.read_instance(path)``: CVRP (the Uchoa et al. "X" set),
  VRPTW in VRPLIB form (``TIME_WINDOW_SECTION``, ``SERVICE_TIME_SECTION`` or
  a ``SERVICE_TIME`` value) and the multi-trip VRPTW with release dates
  (``RELEASE_TIME_SECTION``, ``VEHICLES_RELOAD_DEPOT_SECTION``), returned as
  an :class:`MTVRPTWRInstance`.
* :func:`read_instance` — either, chosen from the file's name and content.
* :func:`write_solution` / :func:`read_solution` / :func:`format_solution` —
  the VRPLIB solution format (``Route #1: 3 5 7`` … ``Cost 1234.5``), through
  ``vrplib.write_solution`` / ``vrplib.read_solution``.

Every instance has node ``0`` = the depot and nodes ``1..n`` = the customers.
Solomon files already number their nodes that way (``CUST NO.`` 0 is the
depot). VRPLIB files number nodes ``1..DIMENSION`` with the depot (normally)
first; node ``k`` of the file is node ``k - 1`` here, which is also the
customer numbering of CVRPLIB solution files (customer ``1`` = the first node
after the depot). The file's own ids are kept in :attr:`VRPInstance.file_ids`.

Cost conventions are not applied here (coordinates are kept as read); see
:mod:`fulfil.bench.convert`: Solomon distance-only and the MTVRPTWR set
truncate every arc to one decimal (the MTVRPTWR ``bks.csv`` gives that total
×10), the hierarchical Solomon / Homberger tables use exact Euclidean
distances, the X set rounds every arc to the nearest integer.

Every malformed input raises :class:`ValueError` whose message starts with
the file, ``"<file>:<line>: "`` whenever the offending line is known (the
file is re-read only to name lines: ``vrplib`` drops line numbers, and the
node ids of each data row), else ``"<file>: "`` and the field.
"""

from __future__ import annotations

import math
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import vrplib

__all__ = [
    "VRPInstance",
    "MTVRPTWRInstance",
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
        Instance name (file stem for Solomon files, e.g. ``"C101"``; the
        ``NAME`` of a VRPLIB file, e.g. ``"X-n101-k25"``).
    kind : str
        ``"vrptw"`` (Solomon / Homberger, VRPTW in VRPLIB form), ``"cvrp"``
        (VRPLIB CVRP) or ``"mtvrptwr"`` (:class:`MTVRPTWRInstance`).
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
        """bool: ``True`` for instances with time windows (``"vrptw"``, ``"mtvrptwr"``)."""
        return self.kind in ("vrptw", "mtvrptwr")


@dataclass(frozen=True, eq=False, kw_only=True)
class MTVRPTWRInstance(VRPInstance):
    """A multi-trip VRPTW instance with release dates (``kind == "mtvrptwr"``).

    The base fields follow :class:`VRPInstance` (``vehicles``: the fleet,
    ``service``: the file's ``SERVICE_TIME`` for every customer, ``0`` at the
    depot). The format carries no limit on the duration or number of trips:
    only the depot's horizon ``due[0]`` bounds a vehicle's day.

    Attributes
    ----------
    release : numpy.ndarray of float64, shape (n+1,)
        Release date of every node: the goods of customer ``i`` can leave the
        depot at ``release[i]`` at the earliest (``0`` for the depot).
    reload_depots : numpy.ndarray of int64, shape (vehicles, k)
        Nodes (here always ``0``, the depot) where each vehicle may reload
        and start another trip; ``k == 0`` means single-trip vehicles.
    """

    release: np.ndarray
    reload_depots: np.ndarray


# ----------------------------------------------------------------- helpers
#: Errors ``vrplib`` raises on a malformed file (its own checks, numpy's and Python's conversions).
_VRPLIB_ERRORS = (RuntimeError, ValueError, IndexError, KeyError, TypeError)


class _Lines:
    """The file's lines as ``vrplib`` sees them: stripped, non-empty, not ``#`` comments, with line numbers.

    Used only to name the line of an error and to check the node ids that
    ``vrplib`` drops; ``vrplib`` does the parsing.
    """

    def __init__(self, path: Path):
        self.path = path
        try:
            text = path.read_text(encoding="utf-8", errors="strict")
        except UnicodeDecodeError as exc:
            raise ValueError(f"{path}:1: not a text file ({exc.reason})") from None
        except OSError as exc:
            raise ValueError(f"{path}: cannot read ({exc.strerror})") from None
        self.last = max(1, len(text.splitlines()))
        self.items: list[tuple[int, str]] = [
            (k, s) for k, line in enumerate(text.splitlines(), start=1) if (s := line.strip()) and not s.startswith("#")
        ]
        # section header → its index in items, found once (rows are looked up row by row)
        self._sections: dict[str, int] = {}
        for i, (_, s) in enumerate(self.items):
            self._sections.setdefault(s.strip(" :").upper(), i)

    def at(self, line: int | None) -> str:
        """``"<file>:<line>"``, or ``"<file>"`` when the line is unknown."""
        return f"{self.path}" if line is None else f"{self.path}:{line}"

    def spec(self, key: str) -> int | None:
        """Line of the ``KEY : VALUE`` specification ``key`` (case-insensitive)."""
        for ln, s in self.items:
            if ":" in s and "_SECTION" not in s and s.split(":", 1)[0].strip().upper() == key.upper():
                return ln
        return None

    def section_index(self, name: str) -> int | None:
        """Index in :attr:`items` of the ``<NAME>_SECTION`` header."""
        return self._sections.get(name.upper() + "_SECTION")

    def section(self, name: str) -> int | None:
        """Line of the ``<NAME>_SECTION`` header."""
        i = self.section_index(name)
        return None if i is None else self.items[i][0]

    def row(self, name: str, r: int) -> tuple[int | None, str]:
        """Line and text of data row ``r`` (0-based) of section ``name``, as ``vrplib`` groups it."""
        i = self.section_index(name)
        if i is None or i + 1 + r >= len(self.items):
            return None, ""
        return self.items[i + 1 + r]


def _fail(where: str, msg: str) -> ValueError:
    return ValueError(f"{where}: {msg}")


def _vrplib_read(path: Path, fmt: str) -> dict[str, Any]:
    """``vrplib.read_instance`` without edge weights (the bench computes its own per convention)."""
    return vrplib.read_instance(path, instance_format=fmt, compute_edge_weights=False)


def _number(v: Any) -> Any:
    """``v``, or the number a string cell holds (``vrplib`` leaves a section whose rows mix in a word as strings)."""
    if isinstance(v, str):
        for conv in (int, float):
            try:
                return conv(v)
            except ValueError:
                pass
    return v


def _integral(x: Any) -> bool:
    return isinstance(x, (int, np.integer)) or (isinstance(x, (float, np.floating)) and float(x).is_integer())


# ----------------------------------------------------------------- Solomon
#: Columns of a Solomon node row.
_SOLOMON_FIELDS = ("customer number", "x coordinate", "y coordinate", "demand", "ready time", "due date",
                   "service time")
#: Words ``vrplib`` requires in the column header line.
_SOLOMON_HEADERS = ("CUST", "NO.", "XCOORD.", "YCOORD.", "DEMAND", "READY", "DUE", "DATE", "SERVICE", "TIME")


def _diagnose_solomon(lines: _Lines) -> None:
    """Raise a ``file:line`` error for the first defect that makes ``vrplib`` reject a Solomon file."""
    it = lines.items
    if len(it) < 8:
        raise _fail(lines.at(lines.last), "unexpected end of file: a Solomon file has a name line, VEHICLE, "
                    "NUMBER CAPACITY, the two numbers, CUSTOMER, the column header line, the depot and customers")
    for idx, ok, what in ((1, "VEHICLE" in it[1][1], "the 'VEHICLE' line"),
                          (2, "NUMBER" in it[2][1] and "CAPACITY" in it[2][1], "the 'NUMBER CAPACITY' line"),
                          (4, "CUSTOMER" in it[4][1], "the 'CUSTOMER' line")):
        if not ok:
            raise _fail(lines.at(it[idx][0]), f"expected {what} (vrplib's Solomon layout), got {it[idx][1]!r}")
    toks = it[3][1].split()
    if len(toks) != 2:
        raise _fail(lines.at(it[3][0]), f"expected 2 numbers (vehicle number, capacity), got {len(toks)}")
    if not all(t.isdigit() for t in toks):
        raise _fail(lines.at(it[3][0]), f"expected 2 integers (vehicle number, capacity), got {it[3][1]!r}")
    for ln, s in it[6:]:
        if len(s.split()) != 7:
            raise _fail(lines.at(ln), "expected 7 numbers (CUST NO, X, Y, DEMAND, READY, DUE, SERVICE), "
                        f"got {len(s.split())}")
    missing = [h for h in _SOLOMON_HEADERS if h not in it[5][1]]
    if missing:
        raise _fail(lines.at(it[5][0]), f"the column header line lacks {', '.join(missing)} "
                    "(vrplib expects 'CUST NO. XCOORD. YCOORD. DEMAND READY TIME DUE DATE SERVICE TIME')")


def read_solomon(path: str | Path) -> VRPInstance:
    """Read a Solomon / Gehring–Homberger VRPTW file with ``vrplib``.

    Format (as ``vrplib`` requires it; blank lines ignored): a name line,
    ``VEHICLE``, ``NUMBER CAPACITY``, the two integers, ``CUSTOMER``, the
    column header line, then one row of 7 integers per node,
    ``CUST_NO X Y DEMAND READY DUE SERVICE``, the depot (number 0) first and
    the customers numbered ``1..n`` in order.

    Parameters
    ----------
    path : str or Path
        The file.

    Returns
    -------
    VRPInstance
        ``kind == "vrptw"``, ``name`` = the file stem, ``vehicles`` = the
        file's vehicle number.

    Raises
    ------
    ValueError
        On malformed input, naming the file and line.
    """
    path = Path(path)
    lines = _Lines(path)
    try:
        raw = _vrplib_read(path, "solomon")
    except _VRPLIB_ERRORS as exc:
        _diagnose_solomon(lines)
        raise _fail(lines.at(None), f"vrplib cannot read it as a Solomon file ({exc})") from exc
    it = lines.items
    veh_line = lines.at(it[3][0])
    vehicles, capacity = int(raw["vehicles"]), int(raw["capacity"])
    if vehicles < 1 or capacity < 1:
        raise _fail(veh_line, f"vehicle number and capacity must be >= 1, got {vehicles} and {capacity}")
    rows = it[6:]
    if len(rows) < 2:
        raise _fail(lines.at(lines.last), f"expected the depot and at least one customer, found {len(rows)} node(s)")
    table = np.column_stack([raw["node_coord"], raw["demand"], raw["time_window"], raw["service_time"]])
    for i, (ln, s) in enumerate(rows):
        w, toks = lines.at(ln), s.split()
        if toks[0] != str(i):
            raise _fail(w, f"customer number {toks[0]}, expected {i} (nodes must be 0, 1, 2, ...)")
        bad = np.flatnonzero(table[i] < 0)
        if bad.size:  # vrplib reads the rows as integers and leaves -1 for anything else
            c = int(bad[0]) + 1
            raise _fail(w, f"expected {_SOLOMON_FIELDS[c]} as a non-negative integer, got {toks[c]!r}")
        _x, _y, dem, ready, due, _serv = (int(v) for v in table[i])
        if due < ready:
            raise _fail(w, f"due date {due} before ready time {ready}")
        if i == 0 and dem != 0:
            raise _fail(w, f"the depot (customer 0) has demand {dem}, expected 0")
        if dem > capacity:
            raise _fail(w, f"demand {dem} of customer {i} exceeds the vehicle capacity {capacity}")
    data = table.astype(np.float64)
    return VRPInstance(
        name=path.stem,
        kind="vrptw",
        coords=data[:, 0:2].copy(),
        demand=table[:, 2].astype(np.int64),
        ready=data[:, 3].copy(),
        due=data[:, 4].copy(),
        service=data[:, 5].copy(),
        capacity=capacity,
        vehicles=vehicles,
        file_ids=np.arange(len(rows), dtype=np.int64),
        path=str(path),
    )


# ------------------------------------------------------------------ VRPLIB
#: TYPE values read, and the sections understood (``vrplib`` keys: section name lower-cased, no ``_SECTION``).
_TYPES = ("CVRP", "VRPTW", "CVRPTW", "MTVRPTWR")
_SECTIONS = ("node_coord", "demand", "depot", "time_window", "service_time", "release_time",
             "vehicles_reload_depot")


def _diagnose_vrplib(lines: _Lines, exc: Exception) -> ValueError:
    """A ``file:line`` error for the line ``vrplib`` rejected (its grouping rules), else ``file:`` and its message."""
    in_section: str | bool = False
    for ln, s in lines.items:
        if "EOF" in s:
            break
        if "_SECTION" in s:
            in_section = s.strip(" :").upper()
        elif in_section == "DEPOT_SECTION" and not all(t.lstrip("-").isdigit() for t in s.split()):
            return _fail(lines.at(ln), f"expected depot ids (then -1) in DEPOT_SECTION, got {s!r}")
        elif ":" in s and in_section:
            return _fail(lines.at(ln), f"specification {s!r} after a data section "
                         "(vrplib wants every 'KEY : VALUE' line before the sections)")
        elif ":" not in s and not in_section:
            return _fail(lines.at(ln), f"expected 'KEY : VALUE' or a section name, got {s!r}")
    return _fail(lines.at(None), f"vrplib cannot read it as a VRPLIB file ({exc})")


class _VRPLIBChecks:
    """Checks of one ``vrplib`` dictionary, each error naming the file and the line."""

    def __init__(self, raw: dict[str, Any], lines: _Lines):
        self.raw, self.lines = raw, lines

    def spec_int(self, key: str, minimum: int, required: bool = True) -> int | None:
        val = self.raw.get(key)
        w = self.lines.at(self.lines.spec(key))
        if val is None:
            if required:
                raise _fail(self.lines.at(None), f"no {key.upper()} line")
            return None
        if isinstance(val, np.ndarray | list):
            raise _fail(self.lines.at(self.lines.section(key)), f"{key.upper()} must be a 'KEY : VALUE' line")
        if not _integral(val):
            raise _fail(w, f"{key.upper()} must be an integer, got {val!r}")
        if int(val) < minimum:
            raise _fail(w, f"{key.upper()} must be >= {minimum}, got {val!r}")
        return int(val)

    def section(self, name: str, fields: tuple[str, ...], layout: str, dim: int, *, integer: bool = False,
                minimum: float | None = None) -> np.ndarray:
        """Section ``name`` (rows ``layout``, e.g. ``"id x y"``) as float64.

        Shape ``(dim,)`` for one field, else ``(dim, len(fields))``.
        """
        lines, sec = self.lines, name.upper() + "_SECTION"
        data = self.raw.get(name)
        if data is None:
            raise _fail(lines.at(None), f"no {sec}")
        rows = data if isinstance(data, list) else np.atleast_1d(np.asarray(data, dtype=object)).tolist()
        rows = [[_number(v) for v in (r if isinstance(r, list) else [r])] for r in rows]
        for r, vals in enumerate(rows):
            ln, text = lines.row(name, r)
            w = lines.at(ln)
            toks = text.split()
            if r >= dim:
                raise _fail(w, f"{sec} has more than DIMENSION {dim} rows")
            if toks and toks[0] != str(r + 1):
                raise _fail(w, f"node id {toks[0]} in {sec}, expected {r + 1} (vrplib takes the rows in order)")
            if len(vals) != len(fields):
                raise _fail(w, f"expected '{layout}' in {sec}, got {text!r}")
            for v, what in zip(vals, fields):
                ok = isinstance(v, (int, float, np.integer, np.floating)) and math.isfinite(float(v))
                if not ok or (integer and not _integral(v)):
                    raise _fail(w, f"expected {what}{' (an integer)' if integer else ''}, got {v!r}")
                if minimum is not None and float(v) < minimum:
                    raise _fail(w, f"{what} must be >= {minimum:g}, got {v!r}")
        if len(rows) < dim:
            missing = list(range(len(rows) + 1, dim + 1))
            raise _fail(lines.at(lines.section(name)), f"{sec} lacks node(s) {missing[:5]}"
                        f"{' ...' if len(missing) > 5 else ''} (DIMENSION {dim})")
        arr = np.array(rows, dtype=np.float64)
        return arr[:, 0] if len(fields) == 1 else arr


def read_vrplib(path: str | Path) -> VRPInstance:
    """Read a VRPLIB file with Euclidean coordinates (``EUC_2D``) with ``vrplib``.

    Specification lines ``KEY : VALUE`` (``NAME``, ``TYPE``, ``DIMENSION``,
    ``CAPACITY``, ``EDGE_WEIGHT_TYPE``, optional ``VEHICLES`` and
    ``SERVICE_TIME``), then the sections ``NODE_COORD_SECTION`` (``id x y``),
    ``DEMAND_SECTION`` (``id demand``), ``DEPOT_SECTION`` (one depot id, then
    ``-1``), and for time windows ``TIME_WINDOW_SECTION`` (``id ready due``),
    optional ``SERVICE_TIME_SECTION`` (``id service``), for the multi-trip set
    ``RELEASE_TIME_SECTION`` (``id release``) and
    ``VEHICLES_RELOAD_DEPOT_SECTION`` (``vehicle depot_id ...``); ``EOF``.
    Node rows must list ids ``1..DIMENSION`` in order (``vrplib`` drops them).

    Parameters
    ----------
    path : str or Path
        The file.

    Returns
    -------
    VRPInstance
        The depot becomes node 0 and the other nodes follow in file order;
        ``vehicles`` from ``VEHICLES``, else ``None`` (unlimited fleet).
        ``kind == "cvrp"`` without time windows (``0``, ``inf``, service
        ``0``); ``"vrptw"`` with a ``TIME_WINDOW_SECTION`` (a ``SERVICE_TIME``
        value applies to every customer, not the depot); an
        :class:`MTVRPTWRInstance` (``"mtvrptwr"``) when there is also a
        ``RELEASE_TIME_SECTION``.

    Raises
    ------
    ValueError
        On malformed or unsupported input (another edge-weight type, an
        unknown section, several depots, ...), naming the file and line.
    """
    path = Path(path)
    lines = _Lines(path)
    try:
        raw = _vrplib_read(path, "vrplib")
    except _VRPLIB_ERRORS as exc:
        raise _diagnose_vrplib(lines, exc) from exc
    chk = _VRPLIBChecks(raw, lines)

    typ = str(raw.get("type", "CVRP")).upper()
    if typ not in _TYPES:
        raise _fail(lines.at(lines.spec("type")), f"TYPE {typ} is not supported (only {', '.join(_TYPES)})")
    ewt = str(raw.get("edge_weight_type", "")).upper()
    if ewt != "EUC_2D":
        raise _fail(lines.at(lines.spec("edge_weight_type")),
                    f"EDGE_WEIGHT_TYPE {ewt or '(missing)'} is not supported (only EUC_2D)")
    for key, val in raw.items():
        if isinstance(val, np.ndarray | list) and key not in _SECTIONS:
            raise _fail(lines.at(lines.section(key)), f"{key.upper()}_SECTION is not supported by this reader")
    dim = chk.spec_int("dimension", 2)
    capacity = chk.spec_int("capacity", 1)
    vehicles = chk.spec_int("vehicles", 1, required=False)

    coords = chk.section("node_coord", ("x coordinate", "y coordinate"), "id x y", dim)
    demand = chk.section("demand", ("demand",), "id demand", dim, integer=True, minimum=0).astype(np.int64)
    depots = np.atleast_1d(np.asarray(raw.get("depot", []))).ravel()
    depot_at = lines.at(lines.section("depot"))
    if depots.size != 1:
        raise _fail(depot_at, f"expected exactly one depot in DEPOT_SECTION, got {depots.size}")
    if not _integral(depots[0]) or not 0 <= int(depots[0]) < dim:
        raise _fail(depot_at, f"depot id {depots[0] + 1} outside 1..{dim}")
    depot = int(depots[0])
    if demand[depot] != 0:
        raise _fail(lines.at(lines.row("demand", depot)[0]), f"the depot {depot + 1} has demand {demand[depot]}")
    over = np.flatnonzero(demand > capacity)
    if over.size:
        i = int(over[0])
        raise _fail(lines.at(lines.row("demand", i)[0]), f"demand {demand[i]} of node {i + 1} exceeds "
                    f"CAPACITY {capacity}")

    windows = "time_window" in raw
    multi = "release_time" in raw or "vehicles_reload_depot" in raw or typ == "MTVRPTWR"
    if (typ in ("VRPTW", "CVRPTW") or multi) and not windows:
        raise _fail(lines.at(None), f"no TIME_WINDOW_SECTION (TYPE {typ})")
    if not windows and "service_time" in raw:
        raise _fail(lines.at(lines.spec("service_time") or lines.section("service_time")),
                    "service times without a TIME_WINDOW_SECTION are not supported")
    if windows:
        tw = chk.section("time_window", ("ready time", "due date"), "id ready due", dim, minimum=0)
        late = np.flatnonzero(tw[:, 1] < tw[:, 0])
        if late.size:
            i = int(late[0])
            raise _fail(lines.at(lines.row("time_window", i)[0]),
                        f"due date {tw[i, 1]:g} before ready time {tw[i, 0]:g} (node {i + 1})")
        ready, due = tw[:, 0], tw[:, 1]
        serv = raw.get("service_time", 0)
        if isinstance(serv, np.ndarray | list):
            service = chk.section("service_time", ("service time",), "id service", dim, minimum=0)
        else:
            w = lines.at(lines.spec("service_time"))
            if not isinstance(serv, (int, float)) or not math.isfinite(serv) or serv < 0:
                raise _fail(w, f"SERVICE_TIME must be a finite number >= 0, got {serv!r}")
            service = np.full(dim, float(serv))
            service[depot] = 0.0
    else:
        ready, due, service = np.zeros(dim), np.full(dim, np.inf), np.zeros(dim)

    order = np.array([depot] + [i for i in range(dim) if i != depot], dtype=np.int64)
    name = str(raw.get("name") or path.stem)
    base = dict(coords=coords[order], demand=demand[order], ready=ready[order], due=due[order],
                service=service[order], capacity=capacity, vehicles=vehicles, file_ids=order + 1, path=str(path))
    if not multi:
        return VRPInstance(name=name, kind="vrptw" if windows else "cvrp", **base)

    if vehicles is None:
        raise _fail(lines.at(None), "no VEHICLES line (the multi-trip fleet)")
    release = chk.section("release_time", ("release time",), "id release", dim, minimum=0)[order]
    if release[0] != 0:
        raise _fail(lines.at(lines.row("release_time", depot)[0]), f"the depot {depot + 1} has release time "
                    f"{release[0]:g}, expected 0")
    reload = _reload_depots(raw, lines, vehicles, depot)
    return MTVRPTWRInstance(name=name, kind="mtvrptwr", release=release, reload_depots=reload, **base)


def _reload_depots(raw: dict[str, Any], lines: _Lines, vehicles: int, depot: int) -> np.ndarray:
    """``VEHICLES_RELOAD_DEPOT_SECTION`` as node indices, shape ``(vehicles, k)``; no section: ``k == 0``."""
    data = raw.get("vehicles_reload_depot")
    if data is None:
        return np.zeros((vehicles, 0), dtype=np.int64)
    rows = data if isinstance(data, list) else np.asarray(data, dtype=object).reshape(len(data), -1).tolist()
    if len(rows) != vehicles:
        raise _fail(lines.at(lines.section("vehicles_reload_depot")),
                    f"VEHICLES_RELOAD_DEPOT_SECTION has {len(rows)} rows, VEHICLES is {vehicles}")
    rows = [[_number(v) for v in r] for r in rows]
    width = {len(r) for r in rows}
    for r, vals in enumerate(rows):
        ln, text = lines.row("vehicles_reload_depot", r)
        if len(width) != 1 or any(not _integral(v) or int(v) != depot + 1 for v in vals):
            raise _fail(lines.at(ln), f"expected the vehicle's reload depot(s), all the depot {depot + 1}, "
                        f"got {text!r}")
    return np.zeros((vehicles, width.pop()), dtype=np.int64)  # the depot is node 0


def read_instance(path: str | Path) -> VRPInstance:
    """Read a Solomon/Homberger or VRPLIB file, whichever the content is.

    A file with a ``.vrp`` suffix, or a ``NODE_COORD_SECTION`` or
    ``EDGE_WEIGHT_TYPE`` in its first lines, is read with :func:`read_vrplib`,
    any other with :func:`read_solomon`.
    """
    path = Path(path)
    if path.suffix.lower() == ".vrp":
        return read_vrplib(path)
    head = "\n".join(s for _, s in _Lines(path).items[:40]).upper()
    if "NODE_COORD_SECTION" in head or "EDGE_WEIGHT_TYPE" in head:
        return read_vrplib(path)
    return read_solomon(path)


# --------------------------------------------------------------- solutions
def _cost_text(cost: float, decimals: int | None) -> str:
    if decimals is not None:
        return f"{float(cost):.{decimals}f}"
    c = float(cost)
    return str(int(round(c))) if abs(c - round(c)) < 1e-9 else f"{c:.4f}".rstrip("0").rstrip(".")


def write_solution(path: str | Path, routes: list[list[int]], cost: float, decimals: int | None = None) -> Path:
    """Write a solution in the VRPLIB format (``vrplib.write_solution``), then the ``Cost`` line.

    Parameters
    ----------
    path : str or Path
        The file (parent folders created; written to a temporary name first,
        then renamed).
    routes : list of list of int
        Customer numbers (``1..n``, depot excluded; ``0`` inside a route
        marks a reload in multi-trip solutions) per route; empty routes are
        skipped and the others numbered from 1.
    cost : float
        Total cost, written on the last line ``Cost <value>`` (CVRPLIB style,
        no colon).
    decimals : int, optional
        Decimals of the cost; by default an integral cost is written
        without decimals and any other with up to 4.

    Returns
    -------
    Path
        ``path``; its text is :func:`format_solution` of the same arguments.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    vrplib.write_solution(tmp, [[int(c) for c in r] for r in routes if len(r)])
    with tmp.open("a", encoding="ascii") as fh:
        fh.write(f"Cost {_cost_text(cost, decimals)}\n")
    tmp.replace(path)
    return path


def format_solution(routes: list[list[int]], cost: float, decimals: int | None = None) -> str:
    """Text that :func:`write_solution` writes: ``Route #1: 3 5 7`` lines then ``Cost 1234.5``, newline-terminated."""
    with tempfile.TemporaryDirectory() as d:
        return write_solution(Path(d) / "solution.sol", routes, cost, decimals).read_text(encoding="ascii")


def read_solution(path: str | Path, reloads: bool = False) -> tuple[list[list[int]], float | None]:
    """Read a VRPLIB solution file with ``vrplib.read_solution``.

    Parameters
    ----------
    path : str or Path
        The file: ``Route #k: c1 c2 ...`` lines and a ``Cost <value>`` (or
        ``Cost: <value>``) line; other ``key value`` lines (``Time``,
        ``Vehicles``, ...), blank lines and ``#`` comments are ignored.
    reloads : bool, optional
        Accept ``0`` (the depot) inside routes, the reload mark of
        multi-trip solutions; by default customers are ``>= 1``.

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
    lines = _Lines(path)
    route_lines = [(ln, s) for ln, s in lines.items if "Route" in s]  # vrplib's rule for a route line
    try:
        sol = vrplib.read_solution(path)
    except _VRPLIB_ERRORS as exc:
        for ln, s in route_lines:
            nums = s.split(":", 1)[1].split() if ":" in s else None
            if nums is None or not all(t.lstrip("-").isdigit() for t in nums):
                raise _fail(lines.at(ln), f"expected customer numbers after 'Route #<k>:', got {s!r}") from exc
        raise _fail(lines.at(None), f"vrplib cannot read it as a solution file ({exc})") from exc
    routes = [[int(c) for c in r] for r in sol["routes"]]
    lowest = 0 if reloads else 1
    for (ln, s), r in zip(route_lines, routes):
        if any(c < lowest for c in r):
            raise _fail(lines.at(ln), f"expected customer numbers >= {lowest}, got {s!r}")
    cost = sol.get("cost")
    if cost is not None:
        ln = next((k for k, s in lines.items if s.replace(":", " ").split()[0].lower() == "cost"), None)
        if isinstance(cost, bool) or not isinstance(cost, (int, float)) or not math.isfinite(cost):
            raise _fail(lines.at(ln), f"expected 'Cost <value>' with a finite number, got {cost!r}")
        cost = float(cost)
    return routes, cost
