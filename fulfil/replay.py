"""Monitoring replay: compare temperature-logger readings with the plan's predicted traces.

A logger file is a CSV with the columns ``vehicle, compartment, timestamp, temp_c``
(any order, extra columns ignored):

* ``vehicle`` — the vehicle duty id of the plan (``"L-FW03-02"``, which is also the route id a
  format-version-1 plan gave the vehicle) or ``vehicle_type:index`` (``"ev_van:2"``); a trip id
  (``"L-FW03-02.1"``) names one trip of the vehicle;
* ``compartment`` — a zone name (``frozen``, ``chilled``, ``ambient``);
* ``timestamp`` — ``HH:MM[:SS]`` on the delivery-day clock (values ≥ 24:00 reach into
  the next day, as in scenario files) or ISO ``YYYY-MM-DDTHH:MM[:SS]``; ISO times become
  minutes since 00:00 of the first date seen in the file (or of ``delivery_date``);
* ``temp_c`` — the measured air temperature (the ice-pack temperature for an insulated box).

:func:`replay` reads a plan of format version 2 (a :class:`fulfil.plan_model.Plan` or its
dict): a vehicle duty drives one or more trips, and each reading is matched with the trip of
its vehicle whose [departure, return] holds the reading's time.  It interpolates that trip's
predicted ``air_c`` trace (``trip["thermal"]["compartments"][zone]``, see
``docs/plan_format.md``) at the reading times and reports bias, MAE, RMSE and the largest
error per trip/compartment and overall, plus the readings above the zone's hand-over limit
(``limit_c``), attributed to the stop they happened at (or the leg driven to it, or the way
back).

:func:`synthesize_logger` makes a logger file from the plan's own traces (bias + Gaussian
noise, optionally a planted excursion) for demos and tests.
"""

from __future__ import annotations

import csv
import io
import math
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from fulfil.errors import ScenarioError, UsageError
from fulfil.plan_model import trip_rows
from fulfil.report.tables import plan_doc
from fulfil.units import format_clock, parse_clock

if TYPE_CHECKING:
    from fulfil.plan_model import Plan

COLUMNS = ("vehicle", "compartment", "timestamp", "temp_c")
ZONE_NAMES = ("frozen", "chilled", "ambient")
# hand-over limits (°C) when a trace lacks limit_c (DB31/T 388; same as solvers.thermal.ZONES)
DEFAULT_LIMIT_C = {"frozen": -15.0, "chilled": 7.0, "ambient": 25.0}
TEMP_RANGE_C = (-80.0, 100.0)  # anything outside is not a temperature a logger reports
MAX_PROBLEMS = 50

# reasons a reading is not compared with a prediction
UNKNOWN_VEHICLE = "unknown vehicle"
NO_TRACE = "no predicted trace for this compartment"
OUTSIDE_SPAN = "outside the vehicle's trips"


# --------------------------------------------------------------------------- #
# reading the logger file
# --------------------------------------------------------------------------- #
@dataclass(frozen=True)
class Reading:
    """One logger reading; ``t`` in minutes since 00:00 of the delivery day."""

    vehicle: str
    compartment: str
    t: float
    temp_c: float
    line: int = 0  # line in the source file (1 = header), 0 when made in memory


def read_logger_csv(path: str | Path, *, delivery_date: date | str | None = None) -> list[Reading]:
    """Read a logger CSV file; :class:`ScenarioError` naming file and line for every bad row.

    ``delivery_date`` (a :class:`datetime.date` or ``"YYYY-MM-DD"``) anchors ISO timestamps;
    by default the date of the first ISO timestamp in the file is the delivery day.
    """
    from fulfil.textio import read_input_text

    path = Path(path)
    name = str(path)
    text = read_input_text(path, "logger file", encoding="utf-8-sig")
    day0: date | None
    if delivery_date is None or isinstance(delivery_date, date):
        day0 = delivery_date
    else:
        try:
            day0 = date.fromisoformat(str(delivery_date))
        except ValueError:
            raise UsageError(f"delivery date '{delivery_date}' is not YYYY-MM-DD") from None
    return parse_logger_text(text, name, day0)


def parse_logger_text(text: str, name: str = "<logger>", delivery_date: date | None = None) -> list[Reading]:
    """Parse logger CSV text (see :func:`read_logger_csv`); ``name`` is used in messages."""
    rows = csv.reader(io.StringIO(text))
    header: list[str] | None = None
    header_line = 0
    for row in rows:
        header_line = rows.line_num
        if any(c.strip() for c in row):
            header = [c.strip().lower() for c in row]
            break
    if header is None:
        raise ScenarioError(f"{name}: empty file; expected a header line '{','.join(COLUMNS)}'")
    missing = [c for c in COLUMNS if c not in header]
    if missing:
        raise ScenarioError(f"{name}: line {header_line}: missing column(s) {', '.join(missing)} "
                            f"(expected {','.join(COLUMNS)}; found {','.join(header)})")
    dup = sorted({c for c in COLUMNS if header.count(c) > 1})
    if dup:
        raise ScenarioError(f"{name}: line {header_line}: column(s) {', '.join(dup)} given more than once")
    idx = {c: header.index(c) for c in COLUMNS}
    need = max(idx.values()) + 1
    day0 = delivery_date
    out: list[Reading] = []
    problems: list[str] = []
    for row in rows:
        ln = rows.line_num
        if not any(c.strip() for c in row):
            continue
        where = f"{name}: line {ln}"
        if len(row) < need:
            problems.append(f"{where}: {len(row)} field(s), expected at least {need} ({','.join(header)})")
            continue
        vehicle = row[idx["vehicle"]].strip()
        zone = row[idx["compartment"]].strip().lower()
        stamp = row[idx["timestamp"]].strip()
        raw_temp = row[idx["temp_c"]].strip()
        bad: list[str] = []
        if not vehicle:
            bad.append("vehicle: empty (expected a vehicle duty id or vehicle_type:index)")
        if zone not in ZONE_NAMES:
            bad.append(f"compartment: '{row[idx['compartment']].strip()}' is not a zone "
                       f"({', '.join(ZONE_NAMES)})")
        t = math.nan
        try:
            t, day0 = _parse_timestamp(stamp, day0)
        except ValueError as exc:
            bad.append(f"timestamp: {exc}")
        try:
            temp = float(raw_temp)
        except ValueError:
            temp = math.nan
            bad.append(f"temp_c: '{raw_temp}' is not a number")
        else:
            if not (TEMP_RANGE_C[0] <= temp <= TEMP_RANGE_C[1]):  # also catches nan / inf
                bad.append(f"temp_c: {raw_temp} is not a plausible temperature "
                           f"({TEMP_RANGE_C[0]:g}..{TEMP_RANGE_C[1]:g} °C)")
        if bad:
            problems += [f"{where}: {b}" for b in bad]
            continue
        out.append(Reading(vehicle, zone, t, temp, ln))
    if problems:
        extra = len(problems) - MAX_PROBLEMS
        raise ScenarioError(problems[:MAX_PROBLEMS] + ([f"{name}: ... and {extra} more"] if extra > 0 else []))
    return out


def _parse_timestamp(stamp: str, day0: date | None) -> tuple[float, date | None]:
    """Minutes since 00:00 of the delivery day, and the (possibly newly fixed) delivery day."""
    if not stamp:
        raise ValueError("empty (expected HH:MM[:SS] or YYYY-MM-DDTHH:MM[:SS])")
    if "T" in stamp or " " in stamp or (len(stamp) >= 10 and stamp[4] == "-"):
        try:
            dt = datetime.fromisoformat(stamp)
        except ValueError:
            raise ValueError(f"'{stamp}' is not an ISO time like 2024-06-01T05:30:00") from None
        if day0 is None:
            day0 = dt.date()
        days = (dt.date() - day0).days
        minutes = days * 1440.0 + dt.hour * 60.0 + dt.minute + (dt.second + dt.microsecond / 1e6) / 60.0
        return minutes, day0
    try:
        return parse_clock(stamp), day0
    except ValueError as exc:
        raise ValueError(str(exc).replace("'07:30'", "'05:30' or '05:30:15'")) from None


# --------------------------------------------------------------------------- #
# replay
# --------------------------------------------------------------------------- #
@dataclass(frozen=True)
class ErrorStats:
    """Measured − predicted air temperature over the matched readings of one group."""

    trip: str  # trip id; "" for the overall row
    compartment: str
    kind: str
    n: int
    bias_c: float
    mae_c: float
    rmse_c: float
    max_abs_c: float
    max_abs_t: float  # clock minutes of the largest error (nan when n == 0)

    @staticmethod
    def of(trip: str, compartment: str, kind: str, t: np.ndarray, err: np.ndarray) -> "ErrorStats":
        if err.size == 0:
            return ErrorStats(trip, compartment, kind, 0, math.nan, math.nan, math.nan, math.nan, math.nan)
        k = int(np.argmax(np.abs(err)))
        return ErrorStats(trip, compartment, kind, int(err.size), float(err.mean()), float(np.abs(err).mean()),
                          float(np.sqrt(np.mean(err * err))), float(abs(err[k])), float(t[k]))


@dataclass(frozen=True)
class Excursion:
    """Readings above the zone's hand-over limit during one stop, one leg or the way back.

    ``stop`` is the 1-based stop number (``None`` on the way back to the depot or before
    departure); ``where`` is ``"at stop"`` (within the stop's [arrival, departure]),
    ``"leg to"`` (driving to that stop), ``"return"`` or ``"before departure"``.
    ``on_board`` tells whether goods of the zone were still on board; ``predicted_c`` is the
    predicted air temperature at the peak reading and ``expected`` whether the plan itself
    predicted air above the limit then (e.g. a door opening in a frozen compartment): an
    excursion that is not expected is a surprise worth a look.
    """

    trip: str
    duty: str
    vehicle_type: str
    compartment: str
    stop: int | None
    location: str
    where: str
    t_first: float
    t_last: float
    t_peak: float
    peak_c: float
    limit_c: float
    readings: int
    on_board: bool
    predicted_c: float
    expected: bool


@dataclass
class ReplayReport:
    readings: int
    matched: int
    unmatched_by_reason: dict[str, int]
    errors: list[ErrorStats]  # per trip/compartment, plan order
    overall: ErrorStats
    excursions: list[Excursion]
    trips_with_traces: int = 0
    unknown_vehicles: list[str] = field(default_factory=list)

    @property
    def unmatched(self) -> int:
        return sum(self.unmatched_by_reason.values())

    def summary(self) -> str:
        from fulfil.report.tables import table

        lines = [f"Replay of {self.readings} logger reading(s) against the plan's predicted air temperatures: "
                 f"{self.matched} matched, {self.unmatched} unmatched."]
        if self.trips_with_traces == 0:
            lines.append("The plan carries no thermal traces (trip key 'thermal'): nothing to compare.")
        for reason, n in sorted(self.unmatched_by_reason.items()):
            lines.append(f"  unmatched, {reason}: {n}")
        if self.unknown_vehicles:
            shown = ", ".join(self.unknown_vehicles[:10])
            more = f" and {len(self.unknown_vehicles) - 10} more" if len(self.unknown_vehicles) > 10 else ""
            lines.append(f"  vehicles not in the plan: {shown}{more}")
        if self.errors:
            rows = [[e.trip, e.compartment, e.kind, e.n, _r(e.bias_c), _r(e.mae_c), _r(e.rmse_c), _r(e.max_abs_c),
                     format_clock(e.max_abs_t) if e.n else None] for e in self.errors]
            o = self.overall
            rows.append(["all", "", "", o.n, _r(o.bias_c), _r(o.mae_c), _r(o.rmse_c), _r(o.max_abs_c),
                         format_clock(o.max_abs_t) if o.n else None])
            lines += ["", "Measured − predicted air temperature, °C:",
                      table(["trip", "compartment", "kind", "n", "bias", "MAE", "RMSE", "max |err|", "at"], rows,
                            align="lllrrrrrr")]
        lines.append("")
        if self.excursions:
            # air spikes the plan itself predicts (doors open at a stop) are listed in the CSV only;
            # the table shows the surprises
            surprises = [x for x in self.excursions if not x.expected]
            lines.append(f"{len(self.excursions)} excursion(s) above the hand-over limit, "
                         f"{len(self.excursions) - len(surprises)} of them door-opening spikes the plan predicts "
                         f"(all in replay.csv); {len(surprises)} not predicted:")
            rows = [[x.trip, x.compartment, x.stop, x.location, x.where, format_clock(x.t_first),
                     format_clock(x.t_last), _r(x.peak_c), _r(x.predicted_c), _r(x.limit_c), x.readings,
                     x.on_board, x.expected] for x in surprises]
            lines.append(table(["trip", "compartment", "stop", "location", "where", "from", "to", "peak °C",
                                "predicted °C", "limit °C", "readings", "goods on board", "predicted too"], rows,
                               align="llrllllrrrrll"))
            n_new = sum(1 for x in self.excursions if not x.expected and x.on_board)
            lines.append(f"{n_new} of them with goods on board where the plan predicted air within the limit.")
        else:
            lines.append("No reading above a hand-over limit.")
        return "\n".join(lines)

    def excursions_csv(self) -> str:
        buf = io.StringIO()
        w = csv.writer(buf)
        w.writerow(["trip", "duty", "vehicle_type", "compartment", "stop", "location", "where", "first", "last",
                    "peak_at", "first_min", "last_min", "peak_c", "predicted_c", "limit_c", "readings", "on_board",
                    "expected"])
        for x in self.excursions:
            w.writerow([x.trip, x.duty, x.vehicle_type, x.compartment, "" if x.stop is None else x.stop, x.location,
                        x.where, format_clock(x.t_first), format_clock(x.t_last), format_clock(x.t_peak),
                        round(x.t_first, 2), round(x.t_last, 2), round(x.peak_c, 2), round(x.predicted_c, 2),
                        x.limit_c, x.readings, int(x.on_board), int(x.expected)])
        return buf.getvalue()

    def errors_csv(self) -> str:
        buf = io.StringIO()
        w = csv.writer(buf)
        w.writerow(["trip", "compartment", "kind", "n", "bias_c", "mae_c", "rmse_c", "max_abs_c", "max_abs_at"])
        for e in [*self.errors, self.overall]:
            w.writerow([e.trip or "all", e.compartment, e.kind, e.n,
                        *("" if math.isnan(v) else round(v, 4) for v in (e.bias_c, e.mae_c, e.rmse_c, e.max_abs_c)),
                        format_clock(e.max_abs_t) if e.n else ""])
        return buf.getvalue()


def _r(v: float) -> float | None:
    return None if v is None or math.isnan(v) else round(float(v), 2)


def _trace(tr: dict[str, Any]) -> tuple[np.ndarray, np.ndarray]:
    """Finite (t, air) points of a compartment trace, sorted by time."""
    t = np.array([math.nan if v is None else float(v) for v in tr.get("t", [])])
    a = np.array([math.nan if v is None else float(v) for v in tr.get("air_c", [])])
    n = min(t.size, a.size)
    t, a = t[:n], a[:n]
    ok = np.isfinite(t) & np.isfinite(a)
    t, a = t[ok], a[ok]
    order = np.argsort(t, kind="stable")
    return t[order], a[order]


def _vehicle_index(trips: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """Duty id, ``vehicle_type:index`` and trip id → the trips (rows of :func:`trip_rows`) the name covers,
    in time order."""
    duties: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in trips:
        duties[str(r["duty"])].append(r)
    by: dict[str, list[dict[str, Any]]] = {}
    for rs in duties.values():
        rs.sort(key=lambda r: float(r.get("departure", 0.0)))
        by.setdefault(f"{rs[0].get('vehicle_type')}:{rs[0].get('vehicle')}", rs)
    by.update(duties)  # duty ids win over the vehicle form
    for r in trips:
        by.setdefault(str(r["id"]), [r])
    return by


def _trip_at(trips: list[dict[str, Any]], zone: str, t: float) -> tuple[dict[str, Any] | None, str]:
    """The trip of a vehicle whose [departure, return] holds ``t`` and that has a ``zone`` trace, or
    (None, reason)."""
    traced = {id(r) for r in trips if (r.get("thermal") or {}).get("compartments", {}).get(zone)}
    if not traced:
        return None, NO_TRACE
    for r in trips:
        if float(r.get("departure", -math.inf)) <= t <= float(r.get("return", math.inf)):
            return (r, "") if id(r) in traced else (None, NO_TRACE)
    return None, OUTSIDE_SPAN


def _crates(loads: dict[str, Any] | None, zone: str) -> float:
    if not isinstance(loads, dict):
        return math.nan
    v = loads.get(zone)
    return float(v.get("crates", 0)) if isinstance(v, dict) else 0.0


def _segment(trip: dict[str, Any], zone: str, t: float) -> tuple[int | None, str, str, bool]:
    """(1-based stop, location, where, goods of the zone on board) for clock time ``t``."""
    stops = trip.get("stops", [])
    prev_dep = float(trip.get("departure", -math.inf))
    load = _crates(trip.get("load_at_departure"), zone)
    if t < prev_dep:
        return None, str(trip.get("depot", "")), "before departure", not load == 0
    for i, s in enumerate(stops):
        arr, dep = float(s["arrival"]), float(s["departure"])
        if arr <= t <= dep:
            return i + 1, str(s["location"]), "at stop", not load == 0
        if prev_dep < t < arr:
            return i + 1, str(s["location"]), "leg to", not load == 0
        prev_dep = dep
        load = _crates(s.get("load_after"), zone)
    return None, str(trip.get("depot", "")), "return", not load == 0


def replay(plan: Plan | dict[str, Any], readings: list[Reading]) -> ReplayReport:
    """Compare logger readings with the plan's predicted air-temperature traces.

    A reading is matched with the trip of its vehicle (duty id, ``vehicle_type:index`` or trip id)
    whose [departure, return] holds its time, then compared with that trip's trace of its compartment.
    """
    trips = trip_rows(plan_doc(plan))
    vehicles = _vehicle_index(trips)
    unmatched: Counter[str] = Counter()
    unknown: dict[str, None] = {}
    groups: dict[tuple[str, str], list[Reading]] = defaultdict(list)
    for rd in readings:
        rs = vehicles.get(rd.vehicle)
        if rs is None:
            unmatched[UNKNOWN_VEHICLE] += 1
            unknown.setdefault(rd.vehicle)
            continue
        r, reason = _trip_at(rs, rd.compartment, rd.t)
        if r is None:
            unmatched[reason] += 1
            continue
        groups[(str(r["id"]), rd.compartment)].append(rd)

    errors: list[ErrorStats] = []
    all_t: list[np.ndarray] = []
    all_e: list[np.ndarray] = []
    excursions: list[Excursion] = []
    matched = 0
    with_traces = 0
    for r in trips:
        comps = (r.get("thermal") or {}).get("compartments", {})
        if comps:
            with_traces += 1
        for zone, tr in comps.items():
            rs = groups.get((str(r["id"]), zone))
            if not rs:
                continue
            tt, air = _trace(tr)
            t = np.array([x.t for x in rs])
            y = np.array([x.temp_c for x in rs])
            inside = (t >= tt[0]) & (t <= tt[-1]) if tt.size else np.zeros(t.size, bool)
            unmatched[OUTSIDE_SPAN] += int((~inside).sum())
            t, y = t[inside], y[inside]
            order = np.argsort(t, kind="stable")
            t, y = t[order], y[order]
            matched += int(t.size)
            if t.size == 0:
                continue
            err = y - np.interp(t, tt, air)
            kind = str(tr.get("kind", ""))
            errors.append(ErrorStats.of(str(r["id"]), zone, kind, t, err))
            all_t.append(t)
            all_e.append(err)
            limit = tr.get("limit_c")
            limit = DEFAULT_LIMIT_C.get(zone, math.inf) if limit is None else float(limit)
            excursions += _excursions(r, zone, limit, t, y, y - err)
    t_all = np.concatenate(all_t) if all_t else np.zeros(0)
    e_all = np.concatenate(all_e) if all_e else np.zeros(0)
    overall = ErrorStats.of("", "", "", t_all, e_all)
    return ReplayReport(readings=len(readings), matched=matched,
                        unmatched_by_reason={k: v for k, v in unmatched.items() if v},
                        errors=errors, overall=overall, excursions=excursions, trips_with_traces=with_traces,
                        unknown_vehicles=list(unknown))


def _excursions(trip: dict[str, Any], zone: str, limit: float, t: np.ndarray, y: np.ndarray,
                pred: np.ndarray) -> list[Excursion]:
    """One :class:`Excursion` per stop / leg / return with readings above ``limit`` (t sorted)."""
    out: dict[tuple[int | None, str], dict[str, Any]] = {}
    for k in np.flatnonzero(y > limit):
        ti, yi = float(t[k]), float(y[k])
        stop, loc, where, on_board = _segment(trip, zone, ti)
        key = (stop, where)
        e = out.get(key)
        if e is None:
            out[key] = dict(stop=stop, location=loc, where=where, t_first=ti, t_last=ti, t_peak=ti, peak_c=yi,
                            readings=1, on_board=on_board, predicted_c=float(pred[k]))
        else:
            e["t_last"] = ti
            e["readings"] += 1
            e["on_board"] = e["on_board"] or on_board
            if yi > e["peak_c"]:
                e["t_peak"], e["peak_c"], e["predicted_c"] = ti, yi, float(pred[k])
    return [Excursion(trip=str(trip["id"]), duty=str(trip.get("duty", "")),
                      vehicle_type=str(trip.get("vehicle_type", "")), compartment=zone,
                      limit_c=limit, expected=e["predicted_c"] > limit, **e)
            for e in sorted(out.values(), key=lambda e: e["t_first"])]


# --------------------------------------------------------------------------- #
# synthetic logger files
# --------------------------------------------------------------------------- #
@dataclass(frozen=True)
class PlantedExcursion:
    """Force readings above the hand-over limit during one stop's [arrival, departure].

    ``trip`` is the trip id; ``stop`` is the 1-based stop number or the stop's location id;
    ``zone`` defaults to the first compartment delivering goods at that stop.
    """

    trip: str
    stop: int | str
    zone: str | None = None
    above_c: float = 3.0


def synthesize_logger(
    plan: Plan | dict[str, Any],
    *,
    seed: int = 0,
    bias_c: float = 0.5,
    noise_c: float = 0.3,
    every_min: float = 2.0,
    excursion: PlantedExcursion | tuple | None = None,
    vehicle_key: str = "duty",
    iso_date: date | str | None = None,
) -> str:
    """A logger CSV (text) from the plan's air traces: ``air + bias_c + N(0, noise_c)``.

    Readings every ``every_min`` minutes over each compartment trace's span, to 0.01 °C and the
    whole second.  ``vehicle_key`` ``"duty"`` names vehicles by their duty id, ``"vehicle"`` as
    ``vehicle_type:index`` (a vehicle's trips share its name; nothing is logged between trips).
    With ``iso_date`` the timestamps are ISO on that delivery day, else ``HH:MM:SS`` on the
    delivery-day clock.  ``excursion`` plants readings
    ``above_c`` above the limit during one stop (one of them at the middle of the stop).
    """
    if not (every_min > 0 and math.isfinite(every_min)):
        raise UsageError(f"every_min must be > 0, got {every_min}")
    if not (noise_c >= 0 and math.isfinite(noise_c) and math.isfinite(bias_c)):
        raise UsageError("noise_c must be >= 0 and bias_c finite")
    if vehicle_key not in ("duty", "vehicle"):
        raise UsageError(f"vehicle_key must be 'duty' or 'vehicle', got {vehicle_key!r}")
    day0 = date.fromisoformat(iso_date) if isinstance(iso_date, str) else iso_date
    trips = trip_rows(plan_doc(plan))
    plant = _resolve_plant(trips, excursion)
    rng = np.random.default_rng(seed)
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(COLUMNS)
    for r in trips:
        comps = (r.get("thermal") or {}).get("compartments", {})
        name = str(r["duty"]) if vehicle_key == "duty" else f"{r['vehicle_type']}:{r['vehicle']}"
        for zone, tr in comps.items():
            tt, air = _trace(tr)
            if tt.size == 0:
                continue
            s0, s1 = math.ceil(tt[0] * 60 - 1e-6), math.floor(tt[-1] * 60 + 1e-6)
            sec = np.unique(np.round(np.arange(s0, s1 + 1e-9, every_min * 60.0)))
            planted_span = None
            if plant is not None and plant[0] == r["id"] and plant[1] == zone:
                _, _, a, d, level = plant
                mid = round((a + d) / 2 * 60)
                sec = np.unique(np.concatenate([sec, [mid]]))
                planted_span = (a * 60, d * 60, level)
            sec = sec[(sec >= s0) & (sec <= s1)]
            t = sec / 60.0
            y = np.interp(t, tt, air) + bias_c + rng.normal(0.0, noise_c, t.size)
            if planted_span is not None:
                a_s, d_s, level = planted_span
                m = (sec >= a_s) & (sec <= d_s)
                y[m] = np.maximum(y[m], level + np.abs(rng.normal(0.0, noise_c, int(m.sum()))))
            for si, yi in zip(sec, y, strict=True):
                w.writerow([name, zone, _stamp(int(si), day0), f"{yi:.2f}"])
    return buf.getvalue()


def _stamp(sec: int, day0: date | None) -> str:
    if day0 is None:
        return f"{sec // 3600:02d}:{sec // 60 % 60:02d}:{sec % 60:02d}"
    return (datetime.combine(day0, datetime.min.time()) + timedelta(seconds=sec)).strftime("%Y-%m-%dT%H:%M:%S")


def _resolve_plant(trips: list[dict[str, Any]], ex: PlantedExcursion | tuple | None):
    """(trip id, zone, arrival, departure, planted level °C) or None."""
    if ex is None:
        return None
    if not isinstance(ex, PlantedExcursion):
        ex = PlantedExcursion(*ex)
    trip = next((r for r in trips if r.get("id") == ex.trip), None)
    if trip is None:
        raise UsageError(f"planted excursion: no trip '{ex.trip}' in the plan")
    comps = (trip.get("thermal") or {}).get("compartments", {})
    if not comps:
        raise UsageError(f"planted excursion: trip '{ex.trip}' has no thermal traces")
    stops = trip.get("stops", [])
    if isinstance(ex.stop, int) and not isinstance(ex.stop, bool):
        if not 1 <= ex.stop <= len(stops):
            raise UsageError(f"planted excursion: trip '{ex.trip}' has stops 1..{len(stops)}, not {ex.stop}")
        s = stops[ex.stop - 1]
    else:
        s = next((x for x in stops if x.get("location") == ex.stop), None)
        if s is None:
            raise UsageError(f"planted excursion: trip '{ex.trip}' does not stop at '{ex.stop}'")
    zone = ex.zone
    if zone is None:
        delivered = [z for z in comps if _crates(s.get("delivered"), z) > 0]
        zone = (delivered or list(comps))[0]
    if zone not in comps:
        raise UsageError(f"planted excursion: trip '{ex.trip}' has no '{zone}' trace ({', '.join(comps)})")
    limit = comps[zone].get("limit_c")
    limit = DEFAULT_LIMIT_C.get(zone, 0.0) if limit is None else float(limit)
    return ex.trip, zone, float(s["arrival"]), float(s["departure"]), limit + ex.above_c


# --------------------------------------------------------------------------- #
# command line
# --------------------------------------------------------------------------- #
def cmd_replay(args: Any) -> int:
    """``fulfil replay SCENARIO PLAN LOGGER_CSV [--out DIR]`` and
    ``fulfil replay --synthesize OUT.csv SCENARIO PLAN [--seed N]``."""
    from fulfil.output import write_text_atomic
    from fulfil.plan_model import read_plan
    from fulfil.scenario import load_scenario

    if args.synthesize and args.logger:
        raise UsageError("replay: give either LOGGER_CSV or --synthesize OUT.csv, not both")
    if not args.synthesize and not args.logger:
        raise UsageError("replay: give LOGGER_CSV to replay, or --synthesize OUT.csv to write a synthetic one")
    s = load_scenario(Path(args.scenario))
    plan = read_plan(Path(args.plan)).to_doc()
    _check_plan_matches(s, plan, str(args.plan))
    n_thermal = sum(1 for r in trip_rows(plan) if (r.get("thermal") or {}).get("compartments"))
    if args.synthesize:
        text = synthesize_logger(plan, seed=args.seed, bias_c=args.bias_c, noise_c=args.noise_c,
                                 every_min=args.every_min)
        write_text_atomic(args.synthesize, text)
        n = text.count("\n") - 1
        print(f"wrote {args.synthesize}: {n} synthetic reading(s) from {n_thermal} trip(s) with thermal traces "
              f"(bias {args.bias_c} °C, noise {args.noise_c} °C, every {args.every_min} min, seed {args.seed})")
        if n_thermal == 0:
            print("note: the plan carries no thermal traces (trip key 'thermal'); the file has only a header")
        return 0
    readings = read_logger_csv(args.logger)
    report = replay(plan, readings)
    print(report.summary())
    if args.out:
        out = Path(args.out)
        write_text_atomic(out / "replay_errors.csv", report.errors_csv())
        write_text_atomic(out / "replay.csv", report.excursions_csv())
        print(f"\nWrote {out / 'replay.csv'} ({len(report.excursions)} excursion(s)) and {out / 'replay_errors.csv'}")
    return 0


def _check_plan_matches(scenario: Any, plan: dict[str, Any], plan_name: str) -> None:
    if plan.get("scenario") != scenario.name:
        raise ScenarioError(f"{plan_name}: the plan was made for scenario '{plan.get('scenario')}', "
                            f"not '{scenario.name}'")
    known = {x.id for x in (*scenario.central_warehouses, *scenario.forward_warehouses, *scenario.pickup_points)}
    problems = []
    for i, d in enumerate(plan["duties"]):
        if d["depot"] not in known:
            problems.append(f"{plan_name}: duties[{i}] ('{d['id']}').depot: '{d['depot']}' is not in scenario "
                            f"'{scenario.name}'")
        for k, r in enumerate(d["trips"]):
            for j, st in enumerate(r["stops"]):
                if st["location"] not in known:
                    problems.append(f"{plan_name}: duties[{i}].trips[{k}] ('{r['id']}').stops[{j}].location: "
                                    f"'{st['location']}' is not in scenario '{scenario.name}'")
    if problems:
        raise ScenarioError(problems[:MAX_PROBLEMS])
