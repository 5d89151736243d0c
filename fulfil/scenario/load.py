"""Read a scenario (TOML, YAML or JSON, plus optional CSV tables) into a :class:`Scenario`.

The scenario comes from a file, from an already parsed document (a dict) or from
text with a format name (see :func:`load_scenario`).  Every problem is collected
and raised together as one :class:`ScenarioError`, each line located as
``file: field.path: what is wrong`` (``<dict>`` or ``<text>`` stands for the file
when there is none).  Rows that came from a CSV table are located by that CSV file
and its row number (the header is row 1), and their fields by the CSV column name.

Checking happens in two layers, and both always run: the pydantic model checks
each record on its own, then its cross-record validator (:func:`cross_check`)
checks how records relate (ids, references, zones, fleet).  When some records are
invalid, the valid ones are validated again with the ids of the invalid ones in
the validation context, so one bad record does not hide the other problems nor
show up again as a dangling reference.

Every input path is bounded, so bad input of any size is a located error (exit 2), never a
crash: documents by size, nesting and number of values; numbers by the schema's bounds;
CSV tables by size and rows, their header checked even when they have no rows; records
are checked one at a time and only the first :data:`MAX_DESCRIBED` errors are described
(the rest are counted), so a table of 200,000 bad rows costs linear time and bounded
memory; a report has at most :data:`MAX_LINES` lines, unknown ids grouped by kind.

Coordinates written in GCJ-02 or BD-09 (``coordinate_system``) are converted to WGS-84 here,
once, before validation (:func:`_convert_coordinates`); :func:`scenario_document` writes a
scenario back in its own system, and loading that document gives the same model again.

CSV tables and the matrix file must be regular files inside the scenario's folder (the
base folder for a dict or text) unless the caller allows otherwise (``allow_outside``, or
the environment variable :data:`ALLOW_OUTSIDE_ENV` set to 1); a reference is checked
without opening the file, and nothing of a file's content is echoed before its header
shows it is the table it claims to be.
"""

from __future__ import annotations

import csv
import difflib
import json
import os
import re
import sys
import tomllib
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, NamedTuple, get_args

import numpy as np
from pydantic import BaseModel, TypeAdapter, ValidationError

from fulfil.errors import ScenarioError
from fulfil.scenario.schema import (
    ALSO_KNOWN,
    CROSS_RECORD,
    FORMAT_VERSION,
    MAX_PICKUP_POINTS,
    MAX_PRODUCTS,
    MAX_STOCK_ROWS,
    MAX_WINDOWS,
    ZONES,
    Lat,
    Lon,
    Scenario,
)
from fulfil.textio import NOT_FOUND, os_problem, path_problem, read_input_bytes, regular_file_problem, shown
from geo.china import from_wgs84, to_wgs84

#: Top-level keys naming CSV tables, and the section each one fills.
CSV_TABLES = {"pickup_points_csv": "pickup_points", "demand_csv": "demand", "stock_csv": "stock"}

#: Top-level sections that are lists of records.
LIST_SECTIONS = (
    "products",
    "central_warehouses",
    "forward_warehouses",
    "pickup_points",
    "vehicle_types",
    "speed_profiles",
    "demand",
    "stock",
)

SUFFIXES = (".toml", ".yaml", ".yml", ".json")

#: Format names :func:`load_scenario` takes with text, and the parser each one means.
FORMATS = {"toml": "toml", "yaml": "yaml", "yml": "yaml", "json": "json"}

#: Stand-ins for the file name in problem lines when the scenario did not come from a file.
DICT_SOURCE = "<dict>"
TEXT_SOURCE = "<text>"

#: More CSV rows than this with the same problem are reported as one line.
_COLLAPSE_ROWS = 3

#: Largest scenario document read, bytes (the large city's TOML is 0.1 MB: its tables are CSV).
MAX_DOCUMENT_BYTES = 32 * 2**20
#: Deepest nesting of a document (a scenario needs 4: ``vehicle_types[0].compartments[0].zone``)
#: and most values in it (YAML aliases inside aliases would otherwise expand without end).
MAX_DEPTH = 32
MAX_VALUES = 5_000_000
#: Largest CSV table, bytes, and most columns in its header (a demand table: one per product).
MAX_TABLE_BYTES = 256 * 2**20
MAX_COLUMNS = MAX_PRODUCTS + 20
#: Largest matrix file, bytes, and its rows (every ordered pair of 2,000 sites).
MAX_MATRIX_BYTES = 512 * 2**20
MAX_MATRIX_ROWS = 4_000_000
#: Longest CSV or matrix file reference, characters.
MAX_REF_CHARS = 1024
#: Record errors described in detail; invalid records past these are only counted.
MAX_DESCRIBED = 1_000
#: Lines in one report; the rest are counted in its last line.
MAX_LINES = 100
#: Set to 1 to let CSV tables and the matrix file lie outside the scenario's folder.
ALLOW_OUTSIDE_ENV = "FULFIL_ALLOW_OUTSIDE"


class _Table(NamedTuple):
    """What a scenario's CSV table must look like."""

    required: tuple[str, ...]
    #: Other columns it may have; None: any, each a product id (checked against the products).
    optional: frozenset[str] | None
    max_rows: int
    #: What one row is, in "at most N <rows>".
    rows: str


TABLES = {
    "pickup_points": _Table(
        ("id", "lon", "lat", "open", "close"),
        frozenset({"name", "kind", "forward_warehouse", *(f"cells_{z}" for z in ZONES),
                   *(f"{end}_{n}" for n in range(2, MAX_WINDOWS + 1) for end in ("open", "close"))}),
        MAX_PICKUP_POINTS,
        "pickup points",
    ),
    "demand": _Table(("pickup_point", "orders"), None, MAX_PICKUP_POINTS, "demand rows (one per pickup point)"),
    "stock": _Table(("warehouse", "product", "quantity"), frozenset(), MAX_STOCK_ROWS, "stock rows"),
}


class Problem(NamedTuple):
    """One problem found in a scenario (or region) document, before it is rendered as a line."""

    file: str
    row: int | None  # CSV row number (header = 1), or None
    field: str
    message: str
    #: ``(kind, id, what is defined)`` when the problem is an unknown id (grouped in a report).
    unknown: tuple[str, str, str] | None = None


def allowed_outside(allow_outside: bool | None) -> bool:
    """``allow_outside``, or when None whether :data:`ALLOW_OUTSIDE_ENV` is set to 1."""
    if allow_outside is not None:
        return allow_outside
    return os.environ.get(ALLOW_OUTSIDE_ENV, "").strip().lower() in ("1", "true", "yes")


# --------------------------------------------------------------------------- documents


class _DuplicateJsonKey(Exception):
    def __init__(self, key: str):
        self.key = key


def _json_object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in pairs:
        if k in out:
            raise _DuplicateJsonKey(k)
        out[k] = v
    return out


def _yaml_loader() -> type:
    """A safe YAML loader that rejects duplicate keys and keeps ``11:30`` a string.

    Plain YAML 1.1 reads ``11:30`` as the base-60 integer 690 and silently keeps only
    the last of two equal keys (losing, say, half of ``vehicle_types``).  Built on each
    call (microseconds) rather than kept in module state.
    """
    import yaml

    class Loader(yaml.SafeLoader):
        def construct_mapping(self, node, deep=False):  # noqa: ANN001, ANN202
            seen: dict[Any, int] = {}
            if isinstance(node, yaml.MappingNode):
                for key_node, _ in node.value:
                    if key_node.tag == "tag:yaml.org,2002:merge":
                        continue
                    key = self.construct_object(key_node, deep=True)
                    try:
                        hash(key)
                    except TypeError:
                        continue
                    if key in seen:
                        raise yaml.constructor.ConstructorError(
                            "while constructing a mapping",
                            node.start_mark,
                            f"duplicate key '{key}' (first at line {seen[key] + 1}); give each key once",
                            key_node.start_mark,
                        )
                    seen[key] = key_node.start_mark.line
            return super().construct_mapping(node, deep=deep)

    Loader.yaml_implicit_resolvers = {k: list(v) for k, v in yaml.SafeLoader.yaml_implicit_resolvers.items()}
    clock = re.compile(r"^[0-9]+:[0-5]?[0-9](?::[0-5]?[0-9])*$")
    for ch in "0123456789":
        Loader.yaml_implicit_resolvers.setdefault(ch, []).insert(0, ("tag:yaml.org,2002:str", clock))
    return Loader


def read_document(path: Path) -> dict[str, Any]:
    """Parse the raw document; unreadable files and syntax errors become a located :class:`ScenarioError`."""
    suffix = path.suffix.lower()
    raw = read_input_bytes(path, "file", MAX_DOCUMENT_BYTES)
    name = shown(path.name)
    if suffix not in SUFFIXES:
        what = f"unknown file type '{shown(suffix)}'" if suffix else "no file extension"
        raise ScenarioError(f"{name}: {what}; use .toml, .yaml, .yml or .json")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ScenarioError(f"{name}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    return parse_document(text, FORMATS[suffix[1:]], name)


def _long_number(text: str) -> str:
    """Where the first number too long for Python's int conversion is, as `` at line L, column C``."""
    m = re.search(r"[0-9_]{%d,}" % (sys.get_int_max_str_digits() + 1), text)
    if m is None:
        return ""
    start = m.start()
    line_start = text.rfind("\n", 0, start) + 1
    return f" at line {text.count(chr(10), 0, start) + 1}, column {start - line_start + 1}"


def _parse(text: str, fmt: str, name: str) -> Any:
    """The parsed document; what no parser reports as a syntax error (nesting, huge integers) too."""
    if fmt not in ("toml", "json", "yaml"):
        raise ValueError(f"unknown scenario format {fmt!r}; use toml, yaml or json")
    kind = fmt.upper()
    try:
        return _parse_syntax(text, fmt, name)
    except RecursionError:
        raise ScenarioError(f"{name}: malformed {kind}: nested too deeply; a scenario nests at most {MAX_DEPTH} levels") from None
    except ValueError as exc:
        if "digits" in str(exc):
            raise ScenarioError(
                f"{name}: malformed {kind}{_long_number(text)}: a number with more than"
                f" {sys.get_int_max_str_digits()} digits; no value in a scenario needs more than 20"
            ) from None
        raise ScenarioError(f"{name}: malformed {kind}: {shown(str(exc))}") from None


def _parse_syntax(text: str, fmt: str, name: str) -> Any:
    if fmt == "toml":
        try:
            return tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise ScenarioError(f"{name}: malformed TOML: {exc}") from None
    if fmt == "json":
        try:
            return json.loads(text, object_pairs_hook=_json_object)
        except json.JSONDecodeError as exc:
            raise ScenarioError(
                f"{name}: malformed JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}"
            ) from None
        except _DuplicateJsonKey as exc:
            raise ScenarioError(
                f"{name}: malformed JSON: key '{shown(exc.key, 64)}' appears twice in one object"
            ) from None
    import yaml

    try:
        return yaml.load(text, Loader=_yaml_loader())  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        what = shown(str(getattr(exc, "problem", None) or exc))
        raise ScenarioError(f"{name}: malformed YAML{where}: {what}") from None


def _check_shape(data: Any, name: str) -> None:
    """Refuse a document nested deeper than :data:`MAX_DEPTH` or holding more than :data:`MAX_VALUES` values.

    Iterative, so it cannot itself run out of stack; YAML aliases are counted at every use.
    """
    stack: list[tuple[Any, int]] = [(data, 1)]
    count = 0
    while stack:
        node, depth = stack.pop()
        count += 1
        if count > MAX_VALUES:
            raise ScenarioError(f"{name}: more than {MAX_VALUES} values; move large tables to CSV files")
        if isinstance(node, dict):
            children = node.values()
        elif isinstance(node, list):
            children = node
        else:
            continue
        if depth > MAX_DEPTH:
            raise ScenarioError(f"{name}: nested more than {MAX_DEPTH} levels deep; a scenario nests at most 4")
        stack.extend((child, depth + 1) for child in children)


def parse_document(text: str, fmt: str, name: str) -> dict[str, Any]:
    """Parse ``text`` in format ``fmt`` (``toml``, ``yaml`` or ``json``); ``name`` locates syntax errors."""
    if len(text) > MAX_DOCUMENT_BYTES:
        raise ScenarioError(f"{name}: {len(text)} characters; a scenario document may have at most {MAX_DOCUMENT_BYTES}")
    data = _parse(text.removeprefix("\ufeff"), fmt, name)
    if not isinstance(data, dict):
        raise ScenarioError(f"{name}: the top level must be a table/mapping of sections")
    _check_shape(data, name)
    return data


# --------------------------------------------------------------------------- CSV tables


def _window_columns(n: int) -> tuple[str, str]:
    """The CSV columns of a pickup point's ``n``-th window (1-based): ``open``/``close``, then ``open_2``/``close_2``…"""
    return ("open", "close") if n == 1 else (f"open_{n}", f"close_{n}")


def _pickup_row(row: dict[str, str]) -> dict[str, Any]:
    """A pickup-point CSV row as the record it stands for (``open``/``close`` → ``window``, ``cells_*`` → ``cells``;
    ``open_2``/``close_2``… filled in → ``windows``, the first one from ``open``/``close``)."""
    rec: dict[str, Any] = {}
    cells = {}
    columns = {c for n in range(1, MAX_WINDOWS + 1) for c in _window_columns(n)}
    for k, v in row.items():
        if v == "":
            continue
        if k.startswith("cells_"):
            cells[k[len("cells_"):]] = v
        elif k not in columns:
            rec[k] = v
    if "open" in row or "close" in row:
        rec["window"] = [row.get("open", ""), row.get("close", "")]
    more = [n for n in range(2, MAX_WINDOWS + 1) if any(row.get(c, "") != "" for c in _window_columns(n))]
    if more:
        rec["windows"] = [[row.get(c, "") for c in _window_columns(n)] for n in range(1, max(more) + 1)]
        del rec["window"]
    if cells:
        rec["cells"] = cells
    return rec


def _demand_row(row: dict[str, str]) -> dict[str, Any]:
    """A demand CSV row as the record it stands for (product columns → ``items``; empty cells: no demand)."""
    rec: dict[str, Any] = {"items": {}}
    for k, v in row.items():
        if k in ("pickup_point", "orders"):
            rec[k] = v
        elif v != "":
            rec["items"][k] = v
    return rec


_CONVERT: dict[str, Callable[[dict[str, str]], dict[str, Any]]] = {"pickup_points": _pickup_row, "demand": _demand_row}


def _header_problems(
    header: list[str], section: str, name: str, products: set[str] | None
) -> tuple[list[Problem], list[Problem]]:
    """``(problems that make the table unusable, problems of a table without rows)`` of a header.

    A header with none of the required columns is not this table: it is refused without
    naming any of its columns (it may be any file).  Columns missing or unknown are reported
    from the header only when the table has no rows; rows report them otherwise, each
    at its field.
    """
    spec = TABLES[section]
    label = section.replace("_", " ")
    present = set(header)
    if not present & set(spec.required):
        return [Problem(name, 1, "", f"not a {label} table: the header has none of the columns "
                                     f"{', '.join(spec.required)}")], []
    empty = [Problem(name, 1, c, "missing column") for c in spec.required if c not in present]
    for col in header:
        if col in spec.required or (spec.optional is not None and col in spec.optional):
            continue
        if spec.optional is None:
            if products is not None and col not in products:
                empty.append(Problem(name, 1, shown(col, 64), f"unknown product '{shown(col, 64)}' (no product has this id)"))
            continue
        allowed = [*spec.required, *sorted(spec.optional)]
        close = difflib.get_close_matches(col, allowed, n=1, cutoff=0.6)
        hint = f" (did you mean '{close[0]}'?)" if close else f" (columns: {', '.join(allowed)})"
        empty.append(Problem(name, 1, shown(col, 64), "unknown column" + hint))
    return [], empty


def _read_csv(
    path: Path, section: str | None = None, products: set[str] | None = None
) -> tuple[list[dict[str, Any]], list[int], list[Problem]]:
    """Rows (as stripped strings, or as records for a scenario ``section``), their line numbers, problems.

    With ``section``, the header is checked (see :func:`_header_problems`), the rows are
    limited to the section's maximum and each is converted as it is read.
    """
    name = path.name
    rows: list[dict[str, Any]] = []
    lines: list[int] = []
    problems: list[Problem] = []
    empty_table: list[Problem] = []
    convert = _CONVERT.get(section or "", dict)
    spec = TABLES[section] if section else None
    reader = None
    try:
        with path.open(newline="", encoding="utf-8-sig") as fh:
            reader = csv.DictReader(fh)
            if not reader.fieldnames:
                return [], [], [Problem(name, None, "", "empty file, expected a header row")]
            if len(reader.fieldnames) > MAX_COLUMNS:
                return [], [], [Problem(name, 1, "", f"{len(reader.fieldnames)} columns; a table has at most {MAX_COLUMNS}")]
            header = [h.strip() for h in reader.fieldnames]
            if section is not None:
                refused, empty_table = _header_problems(header, section, name, products)
                if refused:
                    return [], [], refused
            for h in sorted({h for h in header if header.count(h) > 1}):
                problems.append(Problem(name, 1, shown(h, 64), "column appears twice in the header; keep one"))
            for row in reader:
                if spec is not None and len(rows) >= spec.max_rows:
                    return [], [], [Problem(name, None, "", f"more than {spec.max_rows} rows; at most {spec.max_rows} "
                                                            f"{spec.rows} are supported")]
                if None in row:
                    problems.append(
                        Problem(name, reader.line_num, "", f"{len(header) + len(row[None])} values but the header has {len(header)} columns")
                    )
                    del row[None]
                rows.append(convert({k.strip(): (v.strip() if v is not None else "") for k, v in row.items()}))
                lines.append(reader.line_num)
    except OSError as exc:
        return [], [], [Problem(name, None, "", f"cannot read it: {os_problem(exc)}")]
    except UnicodeDecodeError as exc:
        return [], [], [Problem(name, None, "", f"not UTF-8 text ({exc.reason} at byte {exc.start})")]
    except csv.Error as exc:
        where = f" at row {reader.line_num}" if reader is not None and reader.line_num else ""
        return [], [], [Problem(name, None, "", f"malformed CSV{where}: {exc}")]
    return rows, lines, problems + (empty_table if not rows else [])


def _referenced_file(
    ref: object, key: str, owner: str, base: Path, base_name: str, what: str, allow_outside: bool, max_bytes: int
) -> Path | Problem:
    """The regular file ``ref`` names (relative to the folder ``base``), or the problem with it.

    Checked without opening the file: a reference must be a string naming a regular file of
    at most ``max_bytes``, and unless ``allow_outside`` it must lie inside ``base`` (after
    following symlinks), so a scenario cannot make fulfil read ``/etc/passwd`` or ``/proc``.
    """
    if not isinstance(ref, str) or not ref.strip():
        return Problem(owner, None, key, f"expected a {what} path (a string, relative to {base_name})")
    problem = path_problem(Path(ref))
    if problem is not None:
        return Problem(owner, None, key, problem)
    target = base / ref
    if not allow_outside:
        try:
            inside = target.resolve().is_relative_to(base.resolve())
        except (OSError, RuntimeError) as exc:  # RuntimeError: a symlink loop (Python 3.11)
            why = os_problem(exc) if isinstance(exc, OSError) else "a symlink loop"
            return Problem(owner, None, key, f"{what} '{shown(ref)}': {why}")
        if not inside:
            return Problem(owner, None, key, f"{what} '{shown(ref)}' lies outside the folder of {base_name}; keep it "
                                             f"there, or allow files elsewhere with --allow-outside ({ALLOW_OUTSIDE_ENV}=1)")
    problem = regular_file_problem(target, what, max_bytes)
    if problem == NOT_FOUND:
        return Problem(owner, None, key, f"{what} '{shown(ref)}' not found (looked for {shown(os.path.abspath(target))})")
    if problem is not None:
        return Problem(owner, None, key, f"{what} '{shown(ref)}': {problem}")
    return target


def _csv_field(section: str, rest: tuple) -> str:
    """The CSV column a field of a CSV-loaded record came from."""
    if section == "pickup_points" and rest[:1] == ("window",):
        return str(rest[1]) if len(rest) >= 2 and rest[1] in ("open", "close") else "open/close"
    if section == "pickup_points" and rest[:1] == ("windows",):
        if len(rest) >= 2 and isinstance(rest[1], int):
            pair = _window_columns(rest[1] + 1)
            return pair[("open", "close").index(rest[2])] if len(rest) >= 3 and rest[2] in ("open", "close") else "/".join(pair)
        return "open/close, open_2/close_2, …"
    if section == "pickup_points" and rest[:1] == ("cells",):
        return f"cells_{rest[1]}" if len(rest) >= 2 else "cells_*"
    if section == "demand" and rest[:1] == ("items",) and len(rest) >= 2:
        return str(rest[1])
    return dotted(rest)


# --------------------------------------------------------------------------- messages


def dotted(loc: tuple) -> str:
    """A pydantic ``loc`` as a field path: ``('a', 3, 'b')`` → ``'a[3].b'``."""
    parts: list[str] = []
    for item in loc:
        if item == "[key]":
            continue
        if isinstance(item, int):
            parts.append(f"[{item}]")
        else:
            parts.append(("." if parts else "") + str(item))
    return "".join(parts)


def _locate(loc: tuple, message: str, fname: str, provenance: dict[str, tuple[str, list[int]]]) -> Problem:
    if len(loc) >= 2 and loc[0] in provenance and isinstance(loc[1], int):
        csv_name, lines = provenance[loc[0]]
        row = lines[loc[1]] if loc[1] < len(lines) else loc[1] + 2
        return Problem(csv_name, row, _csv_field(loc[0], loc[2:]), message)
    return Problem(fname, None, dotted(loc), message)


def record_type(tp: Any) -> type[BaseModel] | None:
    """The pydantic model inside an annotation (``list[Product] | None`` → ``Product``), or None."""
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        return tp
    for arg in get_args(tp):
        found = record_type(arg)
        if found is not None:
            return found
    return None


def _fields_at(loc: tuple) -> list[str]:
    """Field names allowed in the record that holds ``loc[-1]``."""
    model: type[BaseModel] | None = Scenario
    for item in loc[:-1]:
        if isinstance(item, int):
            continue
        field = model.model_fields.get(item) if model is not None else None
        if field is None:
            return []
        model = record_type(field.annotation)
    if model is None:
        return []
    names = list(model.model_fields)
    return names + list(CSV_TABLES) if model is Scenario else names


def _raw_at(data: Any, loc: tuple) -> Any:
    for item in loc:
        try:
            data = data[item]
        except (KeyError, IndexError, TypeError):
            return None
    return data


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _got(value: Any) -> str:
    if isinstance(value, (str, int, float, bool)) or value is None:
        text = repr(value)
        return f" (got {text[:40] + '…' if len(text) > 40 else text})"
    return f" (got a {type(value).__name__})"


def describe_error(err: dict, field_names: list[str], readme: str, record: Any = None) -> str:
    """One pydantic error as a sentence for people (shared by every loader of the project).

    ``field_names`` are the fields allowed where the error sits (for "did you mean"),
    ``readme`` the format document to point at, ``record`` the raw record holding the
    field (to spot swapped lon/lat).
    """
    kind = err.get("type", "")
    msg = err.get("msg", "")
    loc = tuple(err.get("loc", ()))
    if kind == "extra_forbidden":
        close = difflib.get_close_matches(str(loc[-1]) if loc else "", field_names, n=1, cutoff=0.6)
        if close:
            return f"unknown field (did you mean '{close[0]}'?)"
        return f"unknown field (check the spelling; see {readme})"
    if kind == "missing":
        return "required field is missing"
    if msg.startswith("Value error, "):
        return msg[len("Value error, "):]
    if kind == "model_type" or kind == "model_attributes_type":
        msg = "expected a table/mapping of fields"
    elif kind == "string_pattern_mismatch":
        msg = "ids may only use letters, digits, '_', '.' and '-'"
    if loc and loc[-1] == "[key]":
        msg = "invalid key: " + msg
    msg += _got(err.get("input"))
    if loc and loc[-1] == "lat" and kind in ("less_than_equal", "greater_than_equal"):
        msg += "; latitude must be within -90..90"
        lon = _number(record.get("lon")) if isinstance(record, dict) else None
        if lon is not None and -90 <= lon <= 90:
            msg += " — lon and lat look swapped; exchange them"
    elif loc and loc[-1] == "lon" and kind in ("less_than_equal", "greater_than_equal"):
        msg += "; longitude must be within -180..180"
    return msg


def _message(err: dict, fmt: str | None, data: dict) -> str:
    loc = tuple(err.get("loc", ()))
    if err.get("type") == "extra_forbidden":
        name = str(loc[-1]) if loc else ""
        top = set(Scenario.model_fields) | set(CSV_TABLES)
        if len(loc) > 1 and name in top and fmt == "toml":
            return (
                f"unknown field; '{name}' is a top-level key: in TOML it must come before the first"
                " [section] header, or it belongs to that section"
            )
    return describe_error(err, _fields_at(loc), "scenarios/README.md", _raw_at(data, loc[:-1]))


# --------------------------------------------------------------------------- cross-check on what is valid


def _salvage(
    data: dict[str, Any], errors: list[dict], unusable: set[str], also_known: dict[str, set[str]] | None = None
) -> tuple[list[dict], dict[str, list[int]], set[str]] | None:
    """Cross-record errors of the valid part of ``data``, found despite invalid records.

    The valid records are validated again as a Scenario, told (in the validation context)
    the ids of the records left out.  Returns ``(cross-record errors located in the reduced
    document, kept original indices by section, path prefixes whose cross-record errors to
    ignore)``, or None when a whole section is unusable (its problems come first).
    ``also_known`` are ids of records already left out of ``data``.
    """
    cleaned = dict(data)
    bad_items: dict[str, set[int]] = {}
    ignore: set[str] = set()
    for section in unusable:
        if section == "pickup_points":
            return None
        cleaned[section] = [] if section == "demand" else None
    for err in errors:
        loc = tuple(err.get("loc", ()))
        if not loc:
            return None
        top = loc[0]
        if top in unusable:
            continue
        if top in LIST_SECTIONS:
            if len(loc) >= 2 and isinstance(loc[1], int) and isinstance(cleaned.get(top), list):
                bad_items.setdefault(top, set()).add(loc[1])
            else:
                return None
        elif top == "format_version":
            cleaned[top] = FORMAT_VERSION
        elif top == "name":
            cleaned[top] = "scenario"
        else:  # region, policies, matrix, description, unknown keys
            cleaned.pop(top, None)
            ignore.add(str(top))
    known = {k: set(v) for k, v in (also_known or {}).items()}
    kept: dict[str, list[int]] = {}
    for section, bad in bad_items.items():
        items = cleaned[section]
        kept[section] = [i for i in range(len(items)) if i not in bad]
        cleaned[section] = [items[i] for i in kept[section]]
        ids = {
            str(items[i]["id"]).strip()
            for i in bad
            if isinstance(items[i], dict) and isinstance(items[i].get("id"), (str, int))
        }
        known[section] = known.get(section, set()) | (ids or {"<invalid>"})
    try:
        Scenario.model_validate(cleaned, context={ALSO_KNOWN: known})
    except ValidationError as exc:
        cross = exc.errors(include_url=False)
        if any(err["type"] != CROSS_RECORD for err in cross):
            return None
        return cross, kept, ignore
    return [], kept, ignore


_REF = re.compile(r"\b(" + "|".join(LIST_SECTIONS) + r")\[(\d+)\]")


def _remap_loc(loc: tuple, kept: dict[str, list[int]]) -> tuple:
    if len(loc) >= 2 and loc[0] in kept and isinstance(loc[1], int):
        return (loc[0], kept[loc[0]][loc[1]]) + loc[2:]
    return loc


def _remap_message(msg: str, kept: dict[str, list[int]], provenance: dict[str, tuple[str, list[int]]]) -> str:
    def sub(m: re.Match) -> str:
        section, i = m.group(1), int(m.group(2))
        if section in kept:
            i = kept[section][i]
        if section in provenance:
            csv_name, lines = provenance[section]
            return f"{csv_name} row {lines[i] if i < len(lines) else i + 2}"
        return f"{section}[{i}]"

    return _REF.sub(sub, msg)


_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def _printable(line: str) -> str:
    """``line`` with control characters written as escapes, so no input can drive the terminal."""
    return _CONTROL.sub(lambda m: repr(m.group())[1:-1], line)


def _group_key(p: Problem, i: int) -> tuple:
    if p.unknown is not None:
        field = p.field if p.row is not None else re.sub(r"\[\d+\]", "[*]", p.field)
        return ("unknown", p.file, field, p.unknown[0])
    if p.row is not None:
        return ("rows", p.file, p.field, p.message)
    return ("one", i)


def _render_one(p: Problem) -> str:
    field = f": {p.field}" if p.field else ""
    if p.row is None:
        return f"{p.file}{field}: {p.message}"
    return f"{p.file}: row {p.row}{field}: {p.message}"


def _render_group(key: tuple, group: list[Problem]) -> str:
    """One line for many rows with the same problem, or for many unknown ids of one kind."""
    p = group[0]
    more = f" and {len(group) - _COLLAPSE_ROWS} more"
    if p.row is not None:
        where = f"rows {', '.join(str(q.row) for q in group[:_COLLAPSE_ROWS])}{more}: {p.field}"
    else:
        where = ", ".join(q.field for q in group[:_COLLAPSE_ROWS]) + more
    if key[0] == "rows":
        return f"{p.file}: {where}: {p.message}"
    assert p.unknown is not None
    kind, _, general = p.unknown
    values = list(dict.fromkeys(q.unknown[1] for q in group if q.unknown is not None))
    named = ", ".join(f"'{shown(v, 64)}'" for v in values[:_COLLAPSE_ROWS])
    if len(values) > _COLLAPSE_ROWS:
        named += f" and {len(values) - _COLLAPSE_ROWS} other ids"
    return f"{p.file}: {where}: unknown {kind} {named}{general}"


def render_problems(problems: list[Problem], limit: int | None = MAX_LINES) -> list[str]:
    """``file: [row N: ]field: message`` lines, at most ``limit`` of them (the rest counted in a last line).

    One problem repeated on many CSV rows is one line, and so are many unknown ids of one
    kind in one field (a demand table naming 200,000 unknown pickup points is one line).
    Control characters are escaped.
    """
    groups: dict[tuple, list[Problem]] = {}
    for i, p in enumerate(problems):
        groups.setdefault(_group_key(p, i), []).append(p)
    out: list[str] = []
    for key, group in groups.items():
        if len(group) > _COLLAPSE_ROWS:
            out.append(_render_group(key, group))
        else:
            out += [_render_one(p) for p in group]
    out = [_printable(line) for line in out]
    if limit is not None and len(out) > limit:
        out = out[:limit] + [f"… and {len(out) - limit} more problems not listed; fix these and validate again"]
    return out


# --------------------------------------------------------------------------- coordinate systems

#: Sections whose records have a position (``lon``, ``lat``); ``region`` has two corners besides.
SITE_SECTIONS = ("central_warehouses", "forward_warehouses", "pickup_points")
#: Decimals a converted coordinate keeps: 1e-7° (about 1 cm), as the plan's documents write them.
#: The inverse transforms land within ~1e-9° of the exact point, far inside half a step, so a
#: scenario written back in its own system (:func:`scenario_document`) loads again to bit-identical
#: values, and to the same :func:`~fulfil.scenario.digest.scenario_digest` its plans record.
COORD_DECIMALS = 7
#: The region's corners as ``(lon key, lat key)`` pairs, converted as points.
_CORNERS = (("lon_min", "lat_min"), ("lon_max", "lat_max"))

_LON, _LAT = TypeAdapter(Lon), TypeAdapter(Lat)


def _degrees(value: Any, adapter: TypeAdapter) -> float | None:
    """``value`` as validation will read it (a CSV cell is a string), or None when validation will refuse it."""
    try:
        return adapter.validate_python(value)
    except ValidationError:
        return None


def _positions(data: dict[str, Any]) -> list[tuple[tuple, str, str, float, float]]:
    """``(loc of the record, lon key, lat key, lon, lat)`` of every position in ``data`` whose lon and lat
    are both valid: the sites' and the region's corners.  The rest are left to validation to report."""
    found = []
    for section in SITE_SECTIONS:
        items = data.get(section)
        found += [((section, i), rec, "lon", "lat") for i, rec in enumerate(items if isinstance(items, list) else [])
                  if isinstance(rec, dict)]
    region = data.get("region")
    if isinstance(region, dict):
        found += [(("region",), region, k_lon, k_lat) for k_lon, k_lat in _CORNERS]
    out = []
    for loc, rec, k_lon, k_lat in found:
        lon, lat = _degrees(rec.get(k_lon), _LON), _degrees(rec.get(k_lat), _LAT)
        if lon is not None and lat is not None:
            out.append((loc, k_lon, k_lat, lon, lat))
    return out


def _wgs84(lon: list[float], lat: list[float], system: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(lon, lat, converted)``: the points in WGS-84, rounded to :data:`COORD_DECIMALS`, and where the
    conversion gave a position (a BD-09 point near the date line or a pole may have none)."""
    x, y = np.asarray(lon, dtype=float), np.asarray(lat, dtype=float)
    # overflow at a pole is caught below, as a point without a position, not printed as a warning
    with np.errstate(over="ignore", invalid="ignore"):
        try:
            wx, wy = to_wgs84(x, y, system)
        except (ValueError, ArithmeticError):  # a point without a position: convert one at a time
            pairs = []
            for px, py in zip(x, y, strict=True):
                try:
                    pairs.append(tuple(float(v) for v in to_wgs84(px, py, system)))
                except (ValueError, ArithmeticError):
                    pairs.append((np.nan, np.nan))
            wx, wy = (np.array(v, dtype=float) for v in zip(*pairs, strict=True))
    ok = np.isfinite(wx) & np.isfinite(wy) & (np.abs(wx) <= 180) & (np.abs(wy) <= 90)
    return np.round(wx, COORD_DECIMALS), np.round(wy, COORD_DECIMALS), ok


def _convert_coordinates(
    data: dict[str, Any], fname: str, provenance: dict[str, tuple[str, list[int]]], problems: list[Problem]
) -> None:
    """Replace, in ``data``, every valid position written in a Chinese ``coordinate_system`` by its WGS-84.

    Only positions validation will accept are converted (a CSV's numbers are still strings here);
    the rest, and an unknown system, are left for validation to report.  Records are copied, not
    changed: ``data`` may share them with the caller's document.  A position that has no WGS-84
    equivalent is a problem of its own.
    """
    system = data.get("coordinate_system")
    if system not in ("gcj02", "bd09"):
        return
    where = _positions(data)
    if not where:
        return
    copies = {loc: dict(_raw_at(data, loc)) for loc, *_ in where}
    wx, wy, ok = _wgs84([w[3] for w in where], [w[4] for w in where], system)
    for (loc, k_lon, k_lat, x0, y0), x, y, good in zip(where, wx.tolist(), wy.tolist(), ok.tolist(), strict=True):
        if good:
            copies[loc][k_lon], copies[loc][k_lat] = x, y
        else:
            problems.append(_locate((*loc, k_lon), f"({x0}, {y0}) in coordinate_system '{system}' has no WGS-84 "
                                                   "position within -180..180, -90..90", fname, provenance))
    for section in {loc[0] for loc in copies if len(loc) == 2}:
        data[section] = list(data[section])
    for loc, rec in copies.items():
        if len(loc) == 2:
            data[loc[0]][loc[1]] = rec
        else:
            data[loc[0]] = rec


def scenario_document(s: Scenario) -> dict[str, Any]:
    """``s`` as a JSON-ready document in its own ``coordinate_system``, which :func:`load_scenario` reads
    back to the same model (the same values, bit for bit: see :data:`COORD_DECIMALS`).

    Write a scenario to a file with this, not with ``model_dump``: the model holds WGS-84, and a
    GCJ-02 or BD-09 scenario dumped as it is would be converted a second time when loaded.
    """
    doc = s.model_dump(mode="json", exclude_none=True)
    if s.coordinate_system == "wgs84":
        return doc
    where = _positions(doc)
    x, y = from_wgs84([w[3] for w in where], [w[4] for w in where], s.coordinate_system)
    for (loc, k_lon, k_lat, _, _), px, py in zip(where, x.tolist(), y.tolist(), strict=True):
        rec = _raw_at(doc, loc)
        rec[k_lon], rec[k_lat] = px, py
    return doc


# --------------------------------------------------------------------------- entry point


def read_table_ref(data: dict, key: str, path: Path, problems: list[Problem]):
    """Pop ``data[key]`` (a CSV path relative to the file ``path``) and read that table.

    Returns ``(rows, line numbers, CSV file name)``, or ``None`` when the reference or the
    table is unusable; what is wrong is appended to ``problems``.  The table must lie in the
    file's folder unless :data:`ALLOW_OUTSIDE_ENV` allows otherwise.
    """
    return _table_ref(data, key, path.name, path.parent, "this file", problems, allowed_outside(None))


def _table_ref(
    data: dict,
    key: str,
    owner: str,
    base: Path,
    base_name: str,
    problems: list[Problem],
    allow_outside: bool,
    section: str | None = None,
    products: set[str] | None = None,
):
    """:func:`read_table_ref` with the CSV path relative to the folder ``base`` (called ``base_name``).

    With ``section``, the table is checked and converted as that scenario section (see :func:`_read_csv`).
    """
    found = _referenced_file(data.pop(key), key, owner, base, base_name, "CSV file", allow_outside, MAX_TABLE_BYTES)
    if isinstance(found, Problem):
        problems.append(found)
        return None
    rows, lines, csv_problems = _read_csv(found, section, products)
    problems += csv_problems
    if not lines and csv_problems:
        return None
    return rows, lines, found.name


def load_scenario(
    source: str | Path | Mapping[str, Any],
    *,
    format: str | None = None,  # noqa: A002 - the name callers expect
    base_dir: str | Path | None = None,
    allow_outside: bool | None = None,
) -> Scenario:
    """Load and validate a scenario; raise :class:`ScenarioError` listing every problem.

    ``source`` is one of

    * a path to a ``.toml``, ``.yaml``/``.yml`` or ``.json`` file (CSV tables and
      ``matrix.path`` are relative to the file's folder);
    * a parsed document (a mapping, as the file would parse to; it is not modified);
    * text, with ``format="toml"``, ``"yaml"`` or ``"json"``.

    For a mapping or text, CSV tables and ``matrix.path`` are relative to ``base_dir``
    (default: the current directory), and problem lines name ``<dict>`` or ``<text>``
    where they would name the file.  Those files must lie inside that folder unless
    ``allow_outside`` is true (default: whether :data:`ALLOW_OUTSIDE_ENV` is set to 1).
    """
    if isinstance(source, Mapping):
        if format is not None:
            raise TypeError("load_scenario: format= is for text; a mapping is already parsed")
        fname, fmt, data = DICT_SOURCE, None, dict(source)
        base, base_name = Path(base_dir) if base_dir is not None else Path.cwd(), "base_dir"
    elif isinstance(source, str) and format is not None:
        fmt = FORMATS.get(str(format).lower().lstrip("."))
        if fmt is None:
            raise ScenarioError(f"{TEXT_SOURCE}: unknown format '{shown(str(format), 40)}'; use toml, yaml or json")
        fname = TEXT_SOURCE
        data = parse_document(source, fmt, fname)
        base, base_name = Path(base_dir) if base_dir is not None else Path.cwd(), "base_dir"
    elif isinstance(source, (str, Path)):
        if format is not None:
            raise TypeError("load_scenario: format= is for text; a file's format comes from its extension")
        path = Path(source)
        data = read_document(path)
        fname, fmt = shown(path.name), FORMATS[path.suffix.lower()[1:]]
        base, base_name = (path.parent, "this file") if base_dir is None else (Path(base_dir), "base_dir")
    else:
        raise TypeError(
            f"load_scenario takes a path, a mapping or text with format=, not {type(source).__name__}"
        )
    return _validate(data, fname, fmt, base, base_name, allowed_outside(allow_outside))


def _raw_ids(items: Any) -> set[str] | None:
    """The ids of a raw list section (to check a CSV header against), or None when it is not a list."""
    if not isinstance(items, list):
        return None
    return {str(r["id"]).strip() for r in items if isinstance(r, dict) and isinstance(r.get("id"), (str, int))}


def _max_length(section: str) -> int | None:
    """The section's list length limit (pydantic keeps ``max_length`` as a metadata object)."""
    for meta in Scenario.model_fields[section].metadata:
        limit = getattr(meta, "max_length", None)
        if isinstance(limit, int):
            return limit
    return None


def _record_errors(data: dict[str, Any], skip: set[str]) -> tuple[list[dict], dict[str, list[int]], dict[str, int]]:
    """Errors of the records of every list section, each record validated on its own.

    Returns ``(errors located in data, indices of the invalid records by section, invalid
    records not described by section)``: only the errors of the first :data:`MAX_DESCRIBED`
    invalid records are kept, later ones are counted, so a table of 200,000 bad rows costs
    linear time and bounded memory.  A section longer than its maximum is left to the
    whole-document validation (which reports its length alone).
    """
    errors: list[dict] = []
    bad: dict[str, list[int]] = {}
    untold: dict[str, int] = {}
    n_bad = 0
    for section in LIST_SECTIONS:
        items = data.get(section)
        limit = _max_length(section)
        if section in skip or not isinstance(items, list) or (limit is not None and len(items) > limit):
            continue
        model = record_type(Scenario.model_fields[section].annotation)
        assert model is not None
        for i, item in enumerate(items):
            try:
                model.model_validate(item)
            except ValidationError as exc:
                bad.setdefault(section, []).append(i)
                n_bad += 1
                if n_bad <= MAX_DESCRIBED:
                    errors += [dict(err, loc=(section, i, *err["loc"])) for err in exc.errors(include_url=False)]
                else:
                    untold[section] = untold.get(section, 0) + 1
    return errors, bad, untold


def _without(
    data: dict[str, Any], bad: dict[str, list[int]]
) -> tuple[dict[str, Any], dict[str, list[int]], dict[str, set[str]]]:
    """``(data without the invalid records, kept original indices by section, ids of the left-out records)``."""
    cleaned = dict(data)
    kept: dict[str, list[int]] = {}
    known: dict[str, set[str]] = {}
    for section, indices in bad.items():
        items = data[section]
        left_out = set(indices)
        kept[section] = [i for i in range(len(items)) if i not in left_out]
        cleaned[section] = [items[i] for i in kept[section]]
        known[section] = _raw_ids([items[i] for i in indices]) or {"<invalid>"}
    return cleaned, kept, known


def _compose(first: dict[str, list[int]], then: dict[str, list[int]]) -> dict[str, list[int]]:
    """Index maps applied one after the other (``then`` maps into the list ``first`` maps from)."""
    out = dict(first)
    for section, idx in then.items():
        outer = first.get(section)
        out[section] = idx if outer is None else [outer[i] for i in idx]
    return out


def _matrix_ref(data: dict[str, Any], fname: str, base: Path, base_name: str, allow_outside: bool,
                problems: list[Problem]) -> None:
    """Resolve ``matrix.path`` in ``data`` to an absolute path, or report it and drop the matrix section."""
    matrix = data.get("matrix")
    if not isinstance(matrix, dict) or "path" not in matrix:
        return
    found = _referenced_file(matrix["path"], "matrix.path", fname, base, base_name, "matrix file", allow_outside,
                             MAX_MATRIX_BYTES)
    if isinstance(found, Problem):
        problems.append(found)
        del data["matrix"]
        return
    data["matrix"] = dict(matrix, path=str(found.resolve()))


def _matrix_problems(s: Scenario, fname: str) -> list[Problem]:
    """What is wrong with the scenario's matrix file: its content, or sites it lacks."""
    from geo.matrices import read_matrix_csv

    assert s.matrix is not None
    path = Path(s.matrix.path)
    try:
        ids, _, minutes = read_matrix_csv(path, name=path.name, max_rows=MAX_MATRIX_ROWS)
    except ValueError as exc:
        return [Problem(fname, None, "matrix.path", str(exc))]
    except OSError as exc:
        return [Problem(fname, None, "matrix.path", f"{path.name}: cannot read it: {os_problem(exc)}")]
    have = set(ids)
    missing = [r.id for r in (*s.central_warehouses, *s.forward_warehouses, *s.pickup_points) if r.id not in have]
    out = []
    if missing:
        out.append(Problem(fname, None, "matrix.path", f"{path.name}: {len(missing)} of the scenario's sites are "
                                                       f"missing from the matrix, e.g. '{missing[0]}'"))
    if minutes is None and s.matrix.free_flow_kmh is None:
        out.append(Problem(fname, None, "matrix.free_flow_kmh", "needed when the matrix file has no minutes column"))
    return out


def _problem(err: dict, loc: tuple, message: str, fname: str, provenance: dict[str, tuple[str, list[int]]]) -> Problem:
    """:func:`_locate` keeping an unknown id's parts (from the error's ``ctx``) for grouping."""
    p = _locate(loc, message, fname, provenance)
    unknown = (err.get("ctx") or {}).get("unknown")
    return p._replace(unknown=tuple(unknown)) if unknown else p


def _validate(
    data: dict[str, Any], fname: str, fmt: str | None, base: Path, base_name: str, allow_outside: bool
) -> Scenario:
    """The document ``data`` (modified) as a Scenario; problem lines name ``fname``.

    Records are validated one at a time first (:func:`_record_errors`); the document without
    the invalid ones is then validated whole, their ids in the context, so the cross-record
    problems of the rest are found too.
    """
    problems: list[Problem] = []
    provenance: dict[str, tuple[str, list[int]]] = {}
    unusable: set[str] = set()  # sections whose CSV table could not be read
    products = _raw_ids(data.get("products"))
    for key, section in CSV_TABLES.items():
        if key not in data:
            continue
        ref = data[key]
        if section in data and isinstance(ref, str) and ref.strip():
            del data[key]
            problems.append(Problem(fname, None, key, f"give either '{section}' or '{key}', not both"))
            continue
        table = _table_ref(data, key, fname, base, base_name, problems, allow_outside, section, products)
        if table is None:
            unusable.add(section)
            continue
        data[section], lines, csv_name = table
        provenance[section] = (csv_name, lines)
    _matrix_ref(data, fname, base, base_name, allow_outside, problems)
    _convert_coordinates(data, fname, provenance, problems)

    described, bad, untold = _record_errors(data, unusable)
    for err in described:
        problems.append(_locate(tuple(err["loc"]), _message(err, fmt, data), fname, provenance))
    for section, n in untold.items():
        where = provenance[section][0] if section in provenance else fname
        problems.append(Problem(where, None, "" if section in provenance else section,
                                f"{n} more invalid {'rows' if section in provenance else 'records'} not described;"
                                " fix the ones above and validate again"))

    cleaned, kept, known = _without(data, bad)
    scenario: Scenario | None = None
    errors: list[dict] = []
    try:
        scenario = Scenario.model_validate(cleaned, context={ALSO_KNOWN: known})
    except ValidationError as exc:
        errors = exc.errors(include_url=False)
    # Cross-record errors come only when every record is valid (pydantic runs the model's
    # "after" validator last); otherwise they are looked for among the valid records.
    # A section whose every record was invalid is empty now: its records are reported, not its length.
    record_errors = [
        err for err in errors
        if err["type"] != CROSS_RECORD and not (err["type"] == "too_short" and len(err["loc"]) == 1 and err["loc"][0] in bad)
    ]
    cross_errors = [err for err in errors if err["type"] == CROSS_RECORD]
    for err in record_errors:
        loc = _remap_loc(tuple(err["loc"]), kept)
        if loc and loc[0] in unusable:
            continue  # already reported: its CSV table could not be read
        problems.append(_locate(loc, _message(err, fmt, data), fname, provenance))

    ignore: set[str] = set()
    if record_errors:
        salvaged = _salvage(cleaned, record_errors, unusable, known)
        if salvaged is not None:
            cross_errors, kept_after, ignore = salvaged
            kept = _compose(kept, kept_after)
    for err in cross_errors:
        loc = tuple(err["loc"])
        if loc and loc[0] in ignore:
            continue
        message = _remap_message(err["msg"], kept, provenance)
        problems.append(_problem(err, _remap_loc(loc, kept), message, fname, provenance))

    if not problems and scenario is not None and scenario.matrix is not None:
        problems = _matrix_problems(scenario, fname)
    if problems:
        raise ScenarioError(render_problems(problems))
    assert scenario is not None
    return scenario
