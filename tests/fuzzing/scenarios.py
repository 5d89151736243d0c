"""Scenario mutations: a small bundled scenario copied into a folder, then broken in one way.

The base is ``tests/data/good/mini_csv.toml`` (1 central, 1 forward warehouse, 2 pickup
points, cold chain on) with its three CSV tables, plus a complete distance matrix of its sites
(``matrix.csv``, unused until a mutation points ``matrix.path`` at it).  Each mutation returns a
:class:`Case`: the scenario file to run, the file names an error may name, and what the
mutation expects beyond the common invariants (a reference leading outside the folder must not
validate).  Mutations come in categories (:data:`CATEGORIES`); ``heavy`` ones (FIFOs,
``/dev/zero``, memory bombs, huge tables) only run in a child process with limits.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
import shutil
import tomllib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fuzzing.harness import ROOT, Chooser

GOOD = ROOT / "tests" / "data" / "good"
BASE_NAME = "mini_csv.toml"
CSV_REFS = ("pickup_points_csv", "demand_csv", "stock_csv")
#: Written outside the scenario's folder; must never show up in any output.
CANARY = "CANARY7F3A"
OUTSIDE = "reference outside the scenario folder accepted"


class BigInt:
    """An integer written digit by digit (``str(int)`` refuses more than 4300 digits)."""

    def __init__(self, digits: str):
        self.digits = digits

    def __repr__(self) -> str:
        return f"BigInt({len(self.digits)} digits)"


class Deep:
    """A value nested ``depth`` lists deep, written as text (a dict that deep would not dump)."""

    def __init__(self, depth: int):
        self.depth = depth

    def __repr__(self) -> str:
        return f"Deep({self.depth})"


#: Values a field should not hold (or holds at the edge of what the arrays can take).
NASTY: tuple[Any, ...] = (
    None, True, False, "", "x", "\x1b[31mred\x1b[0m", "a\x00b", "\u202eevil", "\u00e9\u4e2d\U0001f600",
    "x" * 5000, "07:00", "25:99", "-1", "1e400", 0, 1, -1, 2**31, 2**62, 2**63, 2**64, 10**30, -(10**30),
    BigInt("9" * 5000), 0.5, -0.5, 1e-300, 1e308, float("nan"), float("inf"), float("-inf"),
    [], {}, [1, 2], {"a": 1}, ["07:00", "06:00"], Deep(60), Deep(5000),
)


@dataclass
class Case:
    """One mutated scenario, ready to run."""

    category: str
    label: str  # what was done (the reproduction note)
    folder: Path
    scenario: Path
    names: set[str] = field(default_factory=set)  # an exit-2 message must name one of these
    reject: str = ""  # when set, validate must refuse the scenario; the failure class if it does not
    heavy: bool = False  # run only in a child process with limits


# --------------------------------------------------------------------------- base scenario


def _haversine_km(a: tuple[float, float], b: tuple[float, float]) -> float:
    lon1, lat1, lon2, lat2 = map(math.radians, (*a, *b))
    h = math.sin((lat2 - lat1) / 2) ** 2 + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    return 2 * 6371.0 * math.asin(math.sqrt(h))


def make_base(folder: Path) -> Path:
    """Copy the base scenario and its tables into ``folder``; add ``matrix.csv``; return the TOML."""
    folder.mkdir(parents=True, exist_ok=True)
    for f in GOOD.glob("mini_*.csv"):
        shutil.copy(f, folder / f.name)
    shutil.copy(GOOD / BASE_NAME, folder / BASE_NAME)
    doc = tomllib.loads((folder / BASE_NAME).read_text())
    sites = {r["id"]: (r["lon"], r["lat"]) for sec in ("central_warehouses", "forward_warehouses") for r in doc[sec]}
    with open(folder / "mini_pickup_points.csv", newline="") as fh:
        sites.update({r["id"]: (float(r["lon"]), float(r["lat"])) for r in csv.DictReader(fh)})
    lines = ["from,to,distance_km,minutes"]
    for a, pa in sites.items():
        for b, pb in sites.items():
            if a != b:
                km = 1.3 * _haversine_km(pa, pb)
                lines.append(f"{a},{b},{km:.3f},{km * 1.5:.2f}")
    (folder / "matrix.csv").write_text("\n".join(lines) + "\n")
    return folder / BASE_NAME


def base_doc(folder: Path) -> dict[str, Any]:
    return tomllib.loads((folder / BASE_NAME).read_text())


# --------------------------------------------------------------------------- emitters


def _json_value(v: Any) -> str:
    if isinstance(v, BigInt):
        return v.digits
    if isinstance(v, Deep):
        return "[" * v.depth + "1" + "]" * v.depth
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        return "NaN" if math.isnan(v) else ("Infinity" if v > 0 else "-Infinity") if math.isinf(v) else repr(v)
    if isinstance(v, str):
        return json.dumps(v, ensure_ascii=False)
    if isinstance(v, list):
        return "[" + ", ".join(_json_value(x) for x in v) + "]"
    return "{" + ", ".join(f"{json.dumps(str(k), ensure_ascii=False)}: {_json_value(x)}" for k, x in v.items()) + "}"


def _toml_value(v: Any) -> str:
    if isinstance(v, float) and not math.isfinite(v):
        return "nan" if math.isnan(v) else ("inf" if v > 0 else "-inf")
    if isinstance(v, list):
        return "[" + ", ".join(_toml_value(x) for x in v if x is not None) + "]"
    if isinstance(v, dict):
        return "{" + ", ".join(f"{json.dumps(str(k), ensure_ascii=False)} = {_toml_value(x)}"
                               for k, x in v.items() if x is not None) + "}"
    return _json_value(v)


def emit(doc: dict[str, Any], fmt: str) -> str:
    """``doc`` as TOML (a ``null`` is left out: TOML has none), JSON or YAML (flow style)."""
    if fmt == "toml":
        return "".join(f"{json.dumps(str(k), ensure_ascii=False)} = {_toml_value(v)}\n"
                       for k, v in doc.items() if v is not None)
    return _json_value(doc) + "\n"


# --------------------------------------------------------------------------- walking a document


def paths(doc: Any, prefix: tuple = ()) -> list[tuple]:
    """Every node's path below ``doc`` (dict keys and list indexes), the root excluded."""
    out: list[tuple] = []
    items = doc.items() if isinstance(doc, dict) else enumerate(doc) if isinstance(doc, list) else ()
    for k, v in items:
        out.append((*prefix, k))
        out.extend(paths(v, (*prefix, k)))
    return out


def _parent(doc: Any, path: tuple) -> Any:
    for k in path[:-1]:
        doc = doc[k]
    return doc


def _dotted(path: tuple) -> str:
    return "".join(f"[{k}]" if isinstance(k, int) else f".{k}" for k in path).lstrip(".")


# --------------------------------------------------------------------------- mutations


def _write(folder: Path, doc: dict[str, Any], fmt: str) -> Path:
    ext = {"toml": ".toml", "json": ".json", "yaml": ".yaml"}[fmt]
    (folder / BASE_NAME).unlink(missing_ok=True)
    path = folder / f"scenario{ext}"
    path.write_text(emit(doc, fmt), encoding="utf-8")
    return path


def doc_value(folder: Path, c: Chooser, heavy: bool) -> Case:
    """One node of the document replaced by a value it should not hold."""
    doc = base_doc(folder)
    path = c.pick(paths(doc), "node")
    value = c.pick(NASTY, "value")
    _parent(doc, path)[path[-1]] = value
    fmt = c.pick(("toml", "json", "yaml"), "format")
    f = _write(folder, doc, fmt)
    return Case("doc-value", f"{fmt}: {_dotted(path)} = {value!r:.80}", folder, f, {f.name})


def doc_structure(folder: Path, c: Chooser, heavy: bool) -> Case:
    """A key deleted or added, a record duplicated, a list emptied, a reference renamed."""
    doc = base_doc(folder)
    how = c.pick(("delete", "add key", "duplicate record", "empty list", "unknown reference", "swap types"), "how")
    if how == "delete":
        path = c.pick(paths(doc), "node")
        del _parent(doc, path)[path[-1]]
        what = f"deleted {_dotted(path)}"
    elif how == "add key":
        tables = [(), *(p for p in paths(doc) if isinstance(_get(doc, p), dict))]
        path = c.pick(tables, "table")
        key = c.pick(("extra", "ID", "id ", "format_version", "\x1b[2J", "a" * 300), "key")
        _get(doc, path)[key] = c.pick(NASTY[:12], "value")
        what = f"added {key!r} to {_dotted(path) or 'top level'}"
    elif how in ("duplicate record", "empty list"):
        lists = [p for p in paths(doc) if isinstance(_get(doc, p), list) and _get(doc, p)]
        path = c.pick(lists, "list")
        lst = _get(doc, path)
        if how == "duplicate record":
            lst.append(json.loads(json.dumps(lst[c.integer(0, len(lst) - 1, "record")])))
        else:
            lst.clear()
        what = f"{how}: {_dotted(path)}"
    elif how == "unknown reference":
        refs = [p for p in paths(doc) if p[-1] in ("central", "home", "zone", "speed_profile", "forward_warehouse")]
        path = c.pick(refs, "reference")
        _parent(doc, path)[path[-1]] = c.pick(("NOPE", "cw1", "", "FW1 "), "name")
        what = f"renamed reference {_dotted(path)}"
    else:
        sec = c.pick([k for k, v in doc.items() if isinstance(v, (list, dict))], "section")
        doc[sec] = {"0": doc[sec]} if isinstance(doc[sec], list) else [doc[sec]]
        what = f"{sec}: list and table swapped"
    fmt = c.pick(("toml", "json", "yaml"), "format")
    f = _write(folder, doc, fmt)
    return Case("doc-structure", f"{fmt}: {what}", folder, f, {f.name})


def _get(doc: Any, path: tuple) -> Any:
    for k in path:
        doc = doc[k]
    return doc


def doc_text(folder: Path, c: Chooser, heavy: bool) -> Case:
    """The file's bytes damaged: truncated, a NUL or BOM, another encoding, deep nesting, empty, ..."""
    fmt = c.pick(("toml", "json", "yaml"), "format")
    f = _write(folder, base_doc(folder), fmt)
    data = f.read_bytes()
    how = c.pick(("truncate", "nul", "bom", "utf16", "latin1", "empty", "flip byte", "crlf", "deep nesting",
                  "deep nesting 100k", "yaml alias bomb", "yaml python tag", "long line", "toml huge int"), "how")
    if how == "truncate":
        data = data[: c.integer(0, len(data) - 1, "at")]
    elif how == "nul":
        at = c.integer(0, len(data), "at")
        data = data[:at] + b"\x00" + data[at:]
    elif how == "bom":
        data = b"\xef\xbb\xbf" + data
    elif how == "utf16":
        data = data.decode().encode("utf-16")
    elif how == "latin1":
        data = data.replace(b'"mini"', '"mini\u00e9"'.encode("latin-1"))
    elif how == "empty":
        data = b""
    elif how == "flip byte":
        at = c.integer(0, len(data) - 1, "at")
        data = data[:at] + bytes([data[at] ^ (1 << c.integer(0, 7, "bit"))]) + data[at + 1:]
    elif how == "crlf":
        data = data.replace(b"\n", b"\r\n")
    elif how.startswith("deep nesting"):
        depth = 100_000 if how.endswith("100k") else c.pick((200, 1000, 3000), "depth")
        nest = ("[" * depth + "]" * depth).encode()
        data = (b'"x" = ' + nest + b"\n" + data) if fmt == "toml" else data.replace(b'"mini"', nest, 1)
    elif how == "yaml alias bomb":
        f = f.with_suffix(".yaml")
        lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
        lines += [f"a{i}: &a{i} [{', '.join(['*a' + str(i - 1)] * 10)}]" for i in range(1, 9)]
        data = ("\n".join(lines) + "\n").encode()
    elif how == "yaml python tag":
        f = f.with_suffix(".yaml")
        data = b"format_version: !!python/object/apply:os.system ['true']\nname: x\n"
    elif how == "long line":
        data = data.replace(b'"mini"', b'"' + b"m" * 200_000 + b'"', 1)
    else:
        data = data.replace(b'"format_version" = 1', b'"format_version" = ' + b"1" * 5000) if fmt == "toml" \
            else data.replace(b'"format_version": 1', b'"format_version": ' + b"1" * 5000)
    for old in folder.glob("scenario.*"):
        old.unlink()
    f.write_bytes(data)
    return Case("doc-text", f"{f.suffix[1:]}: {how}", folder, f, {f.name})


def _csv_rows(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text)))


def _csv_text(rows: list[list[str]]) -> str:
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerows(rows)
    return buf.getvalue()


CSV_VALUES = ("", "abc", "-1", "0", "1e400", "nan", "inf", "-inf", "1e-300", "9" * 5000, "9" * 30, str(2**62),
              "4611686018427387904", "07:00", "25:00", "\x1b[31m", "a\x00b", "=cmd()", " 5 ", "5.5", "PP1", "NOPE")


def csv_content(folder: Path, c: Chooser, heavy: bool) -> Case:
    """One CSV table damaged: header, cells, duplicate or unknown ids, encodings, sizes."""
    f = folder / c.pick(("mini_pickup_points.csv", "mini_demand.csv", "mini_stock.csv"), "table")
    rows = _csv_rows(f.read_text())
    hows = ["garbage header", "garbage header no rows", "header only", "drop column", "duplicate row", "cell",
            "unknown id", "extra cells", "short row", "empty", "bom", "latin1", "nul", "truncate", "quote",
            "blank lines", "many unknown rows"]
    how = c.pick(hows + (["huge table"] if heavy else []), "how")
    text: str | bytes
    if how.startswith("garbage header"):
        rows[0] = [c.pick(("\x00", "id;lon;lat", "\ufeffid", "", "a b", "é"), "col")] * len(rows[0])
        text = _csv_text(rows if how == "garbage header" else rows[:1])
    elif how == "header only":
        text = _csv_text(rows[:1])
    elif how == "drop column":
        k = c.integer(0, len(rows[0]) - 1, "column")
        text = _csv_text([r[:k] + r[k + 1:] for r in rows])
    elif how == "duplicate row":
        text = _csv_text([*rows, rows[c.integer(1, len(rows) - 1, "row")]])
    elif how in ("cell", "unknown id"):
        i = c.integer(1, len(rows) - 1, "row")
        k = 0 if how == "unknown id" else c.integer(0, len(rows[i]) - 1, "column")
        rows[i][k] = "NOPE" if how == "unknown id" else c.pick(CSV_VALUES, "value")
        text = _csv_text(rows)
    elif how == "extra cells":
        rows[1] = [*rows[1], "x", "y"]
        text = _csv_text(rows)
    elif how == "short row":
        rows[1] = rows[1][:1]
        text = _csv_text(rows)
    elif how == "empty":
        text = ""
    elif how == "bom":
        text = "\ufeff" + _csv_text(rows)
    elif how == "latin1":
        rows[1][0] = rows[1][0] + "\u00e9"
        text = _csv_text(rows).encode("latin-1")
    elif how == "nul":
        text = _csv_text(rows).replace(",", ",\x00", 1)
    elif how == "truncate":
        t = _csv_text(rows)
        text = t[: c.integer(0, len(t) - 1, "at")]
    elif how == "quote":
        text = _csv_text(rows) + '"unterminated,' + "x" * 10 + "\n"
    elif how == "blank lines":
        text = "\n\n" + _csv_text(rows).replace("\n", "\n\n")
    else:  # many rows naming unknown ids, or a huge table of them
        n = 200_000 if how == "huge table" else 3000
        body = [[f"X{i}", *rows[1][1:]] for i in range(n)]
        if "lon" in rows[0]:  # new pickup points are not unknown: make each row bad instead
            for r in body:
                r[rows[0].index("lon")] = "east"
        text = _csv_text([rows[0], *body])
    if isinstance(text, str):
        f.write_text(text, encoding="utf-8")
    else:
        f.write_bytes(text)
    scenario = folder / BASE_NAME
    names = {p.name for p in folder.glob("mini_*.csv")} | {scenario.name}
    return Case("csv-content", f"{f.name}: {how}", folder, scenario, names, heavy=how == "huge table")


def file_refs(folder: Path, c: Chooser, heavy: bool) -> Case:
    """A CSV table or the matrix reference pointing somewhere it should not."""
    outside = folder.parent / "outside_table.csv"
    outside.write_text(f"id,{CANARY}\n{CANARY},1\n")
    key = c.pick((*CSV_REFS, "matrix.path", "scenario itself"), "reference")
    targets = ["../outside_table.csv", str(outside), "../../../../../../etc/passwd", "/etc/passwd",
               "/proc/self/environ", "/proc/self/status", ".", "..", "sub", "link_out.csv", "loop.csv",
               "dangling.csv", "nope.csv", "x" * 5000 + ".csv", "a\x00b.csv", "", "  ", "~/x.csv",
               "link_in.csv", "unreadable.csv"]
    if heavy:
        targets += ["/dev/zero", "fifo.csv", "/dev/urandom"]
    target = c.pick(targets, "target")
    (folder / "sub").mkdir(exist_ok=True)
    for name, to in (("link_out.csv", outside), ("loop.csv", folder / "loop2.csv"), ("loop2.csv", folder / "loop.csv"),
                     ("dangling.csv", folder / "gone.csv"), ("link_in.csv", folder / "mini_stock.csv")):
        if not os.path.lexists(folder / name):
            os.symlink(to, folder / name)
    if target == "unreadable.csv":
        shutil.copy(folder / "mini_stock.csv", folder / "unreadable.csv")
        os.chmod(folder / "unreadable.csv", 0)
    if target == "fifo.csv" and not (folder / "fifo.csv").exists():
        os.mkfifo(folder / "fifo.csv")
    escapes = target in ("../outside_table.csv", str(outside), "link_out.csv", "/etc/passwd", "/proc/self/environ",
                         "/proc/self/status", "..", "~/x.csv", "/dev/zero", "/dev/urandom") or target.startswith("../")
    doc = base_doc(folder)
    scenario = folder / BASE_NAME
    if key == "scenario itself":
        scenario = folder / c.pick(("loop.toml", "dir.toml", "link_out.toml", "unreadable.toml", "fifo.toml"
                                    if heavy else "dir.toml"), "scenario")
        if scenario.name == "loop.toml":
            os.symlink(folder / "loop.toml", scenario)
        elif scenario.name == "dir.toml":
            scenario.mkdir()
        elif scenario.name == "link_out.toml":
            (folder.parent / "outside.toml").write_text((folder / BASE_NAME).read_text())
            os.symlink(folder.parent / "outside.toml", scenario)
        elif scenario.name == "unreadable.toml":
            shutil.copy(folder / BASE_NAME, scenario)
            os.chmod(scenario, 0)
        else:
            os.mkfifo(scenario)
        return Case("file-refs", f"scenario file is {scenario.name}", folder, scenario, {scenario.name},
                    heavy=scenario.name == "fifo.toml")
    if key == "matrix.path":
        doc["matrix"] = {"path": target, "free_flow_kmh": 40.0}
    else:
        doc[key] = target
    fmt = c.pick(("toml", "json"), "format")
    f = _write(folder, doc, fmt)
    names = {f.name} | ({Path(target).name} if len(Path(target).name.strip()) >= 3 else set())
    return Case("file-refs", f"{fmt}: {key} = {target[:60]!r}", folder, f, names,
                reject=OUTSIDE if escapes else "", heavy=target in ("/dev/zero", "fifo.csv", "/dev/urandom"))


def matrix_content(folder: Path, c: Chooser, heavy: bool) -> Case:
    """``matrix.path`` set to the folder's matrix, and the matrix damaged (or left whole)."""
    doc = base_doc(folder)
    doc["matrix"] = {"path": "matrix.csv", "free_flow_kmh": 40.0}
    m = folder / "matrix.csv"
    rows = _csv_rows(m.read_text())
    how = c.pick(("intact", "cell", "drop row", "drop site", "header", "empty", "nul", "duplicate row",
                  "no minutes column", "nan", "negative", "huge"), "how")
    if how == "cell":
        i, k = c.integer(1, len(rows) - 1, "row"), c.integer(0, 3, "column")
        rows[i][k] = c.pick(CSV_VALUES, "value")
    elif how == "drop row":
        del rows[c.integer(1, len(rows) - 1, "row")]
    elif how == "drop site":
        site = rows[1][0]
        rows = [r for r in rows if site not in r[:2]]
    elif how == "header":
        rows[0] = ["a", "b", "c", "d"]
    elif how == "empty":
        rows = []
    elif how == "duplicate row":
        rows.append(rows[1])
    elif how == "no minutes column":
        rows = [r[:3] for r in rows]
        if c.pick((True, False), "drop speed"):
            del doc["matrix"]["free_flow_kmh"]
    elif how in ("nan", "negative", "huge"):
        rows[1][2] = {"nan": "nan", "negative": "-5", "huge": "1e300"}[how]
    text = _csv_text(rows)
    if how == "nul":
        text = text.replace(",", "\x00,", 1)
    m.write_text(text)
    fmt = c.pick(("toml", "json"), "format")
    f = _write(folder, doc, fmt)
    return Case("matrix", f"{fmt}: matrix {how}", folder, f, {f.name, "matrix.csv"})


#: Values inside the ranges the schema allows that the issue found crashing the planner.
#: (label, change, heavy); a label starting with "refuse:" must not validate.
EDGE_CASES: tuple[tuple[str, Callable[[dict[str, Any]], None], bool], ...] = (
    ("last-mile shift of one minute", lambda d: d["vehicle_types"][1].__setitem__("shift", ["06:00", "06:01"]), False),
    ("product quantity 2**62 (stock)", lambda d: d.__setitem__("stock", [{"warehouse": "CW1", "product": "milk",
                                                                          "quantity": 2**62}]), False),
    ("units_per_crate = 1e-300", lambda d: d["products"][0].__setitem__("units_per_crate", 1e-300), False),
    ("forward warehouse capacity 0 in every zone",
     lambda d: d["forward_warehouses"][0].__setitem__("capacity", {"frozen": 0, "chilled": 0, "ambient": 0}), False),
    ("refuse: format_version = true", lambda d: d.__setitem__("format_version", True), False),
    ("refuse: format_version = 1.0", lambda d: d.__setitem__("format_version", 1.0), False),
    ("ANSI escape in the name", lambda d: d.__setitem__("name", "mini\x1b[2J\x1b[31m"), False),
    ("kg_per_unit = 1e308", lambda d: d["products"][0].__setitem__("kg_per_unit", 1e308), False),
    ("compartment of 2**62 crates", lambda d: d["vehicle_types"][1]["compartments"][0].__setitem__("crates", 2**62),
     False),
    ("promise of 1e-300 minutes", lambda d: d.setdefault("policies", {}).__setitem__("promise_minutes", 1e-300),
     False),
    ("vehicle count 100000", lambda d: d["vehicle_types"][1].__setitem__("count", 100_000), True),
    ("vehicle count 2**62", lambda d: d["vehicle_types"][1].__setitem__("count", 2**62), True),
)


def edge_case(folder: Path, c: Chooser, heavy: bool) -> Case:
    """A value inside the schema's ranges at an edge the arrays or the planner may not hold."""
    cases = [e for e in EDGE_CASES if heavy or not e[2]]
    label = c.pick([e[0] for e in cases], "edge case")
    _, change, is_heavy = next(e for e in cases if e[0] == label)
    doc = base_doc(folder)
    change(doc)
    fmt = c.pick(("toml", "json"), "format")
    f = _write(folder, doc, fmt)
    reject = "format_version other than the integer 1 accepted" if label.startswith("refuse:") else ""
    return Case("edge-values", label, folder, f, {f.name}, reject=reject, heavy=is_heavy)


CATEGORIES: dict[str, Callable[[Path, Chooser, bool], Case]] = {
    "doc-value": doc_value,
    "doc-structure": doc_structure,
    "doc-text": doc_text,
    "csv-content": csv_content,
    "file-refs": file_refs,
    "matrix": matrix_content,
    "edge-values": edge_case,
}


def make_case(category: str, folder: Path, c: Chooser, heavy: bool = False) -> Case:
    """A fresh base in ``folder`` broken by one mutation of ``category``."""
    make_base(folder)
    return CATEGORIES[category](folder, c, heavy)
