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
"""

from __future__ import annotations

import csv
import difflib
import json
import re
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any, NamedTuple, get_args

from pydantic import BaseModel, ValidationError

from fulfil.errors import ScenarioError
from fulfil.scenario.schema import ALSO_KNOWN, CROSS_RECORD, FORMAT_VERSION, Scenario

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


class Problem(NamedTuple):
    """One problem found in a scenario (or region) document, before it is rendered as a line."""

    file: str
    row: int | None  # CSV row number (header = 1), or None
    field: str
    message: str


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
    """Parse the raw document; syntax errors become a located :class:`ScenarioError`."""
    name = path.name
    if not path.is_file():
        raise ScenarioError(f"{path}: file not found")
    suffix = path.suffix.lower()
    if suffix not in SUFFIXES:
        what = f"unknown file type '{suffix}'" if suffix else "no file extension"
        raise ScenarioError(f"{name}: {what}; use .toml, .yaml, .yml or .json")
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ScenarioError(f"{name}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    return parse_document(text, FORMATS[suffix[1:]], name)


def parse_document(text: str, fmt: str, name: str) -> dict[str, Any]:
    """Parse ``text`` in format ``fmt`` (``toml``, ``yaml`` or ``json``); ``name`` locates syntax errors."""
    text = text.removeprefix("\ufeff")
    if fmt == "toml":
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise ScenarioError(f"{name}: malformed TOML: {exc}") from None
    elif fmt == "json":
        try:
            data = json.loads(text, object_pairs_hook=_json_object)
        except json.JSONDecodeError as exc:
            raise ScenarioError(
                f"{name}: malformed JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}"
            ) from None
        except _DuplicateJsonKey as exc:
            raise ScenarioError(f"{name}: malformed JSON: key '{exc.key}' appears twice in one object") from None
    elif fmt == "yaml":
        import yaml

        try:
            data = yaml.load(text, Loader=_yaml_loader())  # noqa: S506 - a SafeLoader subclass
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
            raise ScenarioError(f"{name}: malformed YAML{where}: {getattr(exc, 'problem', None) or exc}") from None
    else:
        raise ValueError(f"unknown scenario format {fmt!r}; use toml, yaml or json")
    if not isinstance(data, dict):
        raise ScenarioError(f"{name}: the top level must be a table/mapping of sections")
    return data


# --------------------------------------------------------------------------- CSV tables


def _read_csv(path: Path, owner: str, key: str, ref: str) -> tuple[list[dict[str, str]], list[int], list[Problem]]:
    """Rows (as stripped strings), the line number of each row, and the problems found."""
    if not path.is_file():
        return [], [], [Problem(owner, None, key, f"CSV file '{ref}' not found (looked for {path.resolve()})")]
    name = path.name
    rows: list[dict[str, str]] = []
    lines: list[int] = []
    problems: list[Problem] = []
    try:
        with path.open(newline="", encoding="utf-8-sig") as fh:
            reader = csv.DictReader(fh)
            if not reader.fieldnames:
                return [], [], [Problem(name, None, "", "empty file, expected a header row")]
            header = [h.strip() for h in reader.fieldnames]
            for h in sorted({h for h in header if header.count(h) > 1}):
                problems.append(Problem(name, 1, h, "column appears twice in the header; keep one"))
            for row in reader:
                if None in row:
                    problems.append(
                        Problem(name, reader.line_num, "", f"{len(header) + len(row[None])} values but the header has {len(header)} columns")
                    )
                    del row[None]
                rows.append({k.strip(): (v.strip() if v is not None else "") for k, v in row.items()})
                lines.append(reader.line_num)
    except UnicodeDecodeError as exc:
        return [], [], [Problem(name, None, "", f"not UTF-8 text ({exc.reason} at byte {exc.start})")]
    except csv.Error as exc:
        return [], [], [Problem(name, None, "", f"malformed CSV: {exc}")]
    return rows, lines, problems


def _pickup_rows(rows: list[dict[str, str]]) -> list[dict[str, Any]]:
    out = []
    for row in rows:
        rec: dict[str, Any] = {}
        cells = {}
        for k, v in row.items():
            if v == "":
                continue
            if k.startswith("cells_"):
                cells[k[len("cells_"):]] = v
            elif k in ("open", "close"):
                continue
            else:
                rec[k] = v
        if "open" in row or "close" in row:
            rec["window"] = [row.get("open", ""), row.get("close", "")]
        if cells:
            rec["cells"] = cells
        out.append(rec)
    return out


def _demand_rows(rows: list[dict[str, str]]) -> list[dict[str, Any]]:
    out = []
    for row in rows:
        rec: dict[str, Any] = {"items": {}}
        for k, v in row.items():
            if k in ("pickup_point", "orders"):
                rec[k] = v
            elif v != "":
                rec["items"][k] = v
        out.append(rec)
    return out


def _csv_field(section: str, rest: tuple) -> str:
    """The CSV column a field of a CSV-loaded record came from."""
    if section == "pickup_points" and rest[:1] == ("window",):
        return str(rest[1]) if len(rest) >= 2 and rest[1] in ("open", "close") else "open/close"
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
    data: dict[str, Any], errors: list[dict], unusable: set[str]
) -> tuple[list[dict], dict[str, list[int]], set[str]] | None:
    """Cross-record errors of the valid part of ``data``, found despite invalid records.

    The valid records are validated again as a Scenario, told (in the validation context)
    the ids of the records left out.  Returns ``(cross-record errors located in the reduced
    document, kept original indices by section, path prefixes whose cross-record errors to
    ignore)``, or None when a whole section is unusable (its problems come first).
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
    known: dict[str, set[str]] = {}
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
        known[section] = ids or {"<invalid>"}
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


def render_problems(problems: list[Problem]) -> list[str]:
    """``file: [row N: ]field: message`` lines; one CSV problem repeated on many rows is one line."""
    groups: dict[tuple[str, str, str], list[int]] = {}
    for p in problems:
        if p.row is not None:
            groups.setdefault((p.file, p.field, p.message), []).append(p.row)
    out: list[str] = []
    done: set[tuple[str, str, str]] = set()
    for p in problems:
        key = (p.file, p.field, p.message)
        field = f": {p.field}" if p.field else ""
        if p.row is None:
            out.append(f"{p.file}{field}: {p.message}")
        elif len(groups[key]) <= _COLLAPSE_ROWS:
            out.append(f"{p.file}: row {p.row}{field}: {p.message}")
        elif key not in done:
            done.add(key)
            rows = groups[key]
            shown = ", ".join(str(r) for r in rows[:_COLLAPSE_ROWS])
            out.append(f"{p.file}: rows {shown} and {len(rows) - _COLLAPSE_ROWS} more{field}: {p.message}")
    return out


# --------------------------------------------------------------------------- entry point


def read_table_ref(data: dict, key: str, path: Path, problems: list[Problem]):
    """Pop ``data[key]`` (a CSV path relative to the file ``path``) and read that table.

    Returns ``(rows, line numbers, CSV file name)``, or ``None`` when the reference or the
    table is unusable; what is wrong is appended to ``problems``.
    """
    return _table_ref(data, key, path.name, path.parent, "this file", problems)


def _table_ref(data: dict, key: str, owner: str, base: Path, base_name: str, problems: list[Problem]):
    """:func:`read_table_ref` with the CSV path relative to the folder ``base`` (called ``base_name``)."""
    ref = data.pop(key)
    if not isinstance(ref, str) or not ref.strip():
        problems.append(Problem(owner, None, key, f"expected a CSV file path (a string, relative to {base_name})"))
        return None
    csv_path = base / ref
    rows, lines, csv_problems = _read_csv(csv_path, owner, key, ref)
    problems += csv_problems
    if not lines and csv_problems:
        return None
    return rows, lines, csv_path.name


def load_scenario(
    source: str | Path | Mapping[str, Any],
    *,
    format: str | None = None,  # noqa: A002 - the name callers expect
    base_dir: str | Path | None = None,
) -> Scenario:
    """Load and validate a scenario; raise :class:`ScenarioError` listing every problem.

    ``source`` is one of

    * a path to a ``.toml``, ``.yaml``/``.yml`` or ``.json`` file (CSV tables and
      ``matrix.path`` are relative to the file's folder);
    * a parsed document (a mapping, as the file would parse to; it is not modified);
    * text, with ``format="toml"``, ``"yaml"`` or ``"json"``.

    For a mapping or text, CSV tables and ``matrix.path`` are relative to ``base_dir``
    (default: the current directory), and problem lines name ``<dict>`` or ``<text>``
    where they would name the file.
    """
    if isinstance(source, Mapping):
        if format is not None:
            raise TypeError("load_scenario: format= is for text; a mapping is already parsed")
        fname, fmt, data = DICT_SOURCE, None, dict(source)
        base, base_name = Path(base_dir) if base_dir is not None else Path.cwd(), "base_dir"
    elif isinstance(source, str) and format is not None:
        fmt = FORMATS.get(str(format).lower().lstrip("."))
        if fmt is None:
            raise ScenarioError(f"{TEXT_SOURCE}: unknown format '{format}'; use toml, yaml or json")
        fname = TEXT_SOURCE
        data = parse_document(source, fmt, fname)
        base, base_name = Path(base_dir) if base_dir is not None else Path.cwd(), "base_dir"
    elif isinstance(source, (str, Path)):
        if format is not None:
            raise TypeError("load_scenario: format= is for text; a file's format comes from its extension")
        path = Path(source)
        data = read_document(path)
        fname, fmt = path.name, FORMATS[path.suffix.lower()[1:]]
        base, base_name = (path.parent, "this file") if base_dir is None else (Path(base_dir), "base_dir")
    else:
        raise TypeError(
            f"load_scenario takes a path, a mapping or text with format=, not {type(source).__name__}"
        )
    return _validate(data, fname, fmt, base, base_name)


def _validate(data: dict[str, Any], fname: str, fmt: str | None, base: Path, base_name: str) -> Scenario:
    """The document ``data`` (modified) as a Scenario; problem lines name ``fname``."""
    problems: list[Problem] = []
    provenance: dict[str, tuple[str, list[int]]] = {}
    unusable: set[str] = set()  # sections whose CSV table could not be read
    for key, section in CSV_TABLES.items():
        if key not in data:
            continue
        ref = data[key]
        if section in data and isinstance(ref, str) and ref.strip():
            del data[key]
            problems.append(Problem(fname, None, key, f"give either '{section}' or '{key}', not both"))
            continue
        table = _table_ref(data, key, fname, base, base_name, problems)
        if table is None:
            unusable.add(section)
            continue
        rows, lines, csv_name = table
        if section == "pickup_points":
            data[section] = _pickup_rows(rows)
        elif section == "demand":
            data[section] = _demand_rows(rows)
        else:
            data[section] = rows
        provenance[section] = (csv_name, lines)
    if isinstance(data.get("matrix"), dict) and isinstance(data["matrix"].get("path"), str):
        data["matrix"] = dict(data["matrix"], path=str((base / data["matrix"]["path"]).resolve()))

    scenario: Scenario | None = None
    errors: list[dict] = []
    try:
        scenario = Scenario.model_validate(data)
    except ValidationError as exc:
        errors = exc.errors(include_url=False)
    # Cross-record errors come only when every record is valid (pydantic runs the model's
    # "after" validator last); otherwise they are looked for among the valid records.
    record_errors = [err for err in errors if err["type"] != CROSS_RECORD]
    cross_errors = [err for err in errors if err["type"] == CROSS_RECORD]
    for err in record_errors:
        loc = tuple(err["loc"])
        if loc and loc[0] in unusable:
            continue  # already reported: its CSV table could not be read
        problems.append(_locate(loc, _message(err, fmt, data), fname, provenance))

    kept: dict[str, list[int]] = {}
    ignore: set[str] = set()
    if record_errors:
        salvaged = _salvage(data, record_errors, unusable)
        if salvaged is not None:
            cross_errors, kept, ignore = salvaged
    for err in cross_errors:
        loc = tuple(err["loc"])
        if loc and loc[0] in ignore:
            continue
        message = _remap_message(err["msg"], kept, provenance)
        problems.append(_locate(_remap_loc(loc, kept), message, fname, provenance))

    if problems:
        raise ScenarioError(render_problems(problems))
    assert scenario is not None
    return scenario

