"""Plan mutations: a valid ``plan.json`` changed in one place, and what ``fulfil check`` must say.

Every reported value is either recomputed by the checker (then a change beyond the documented
tolerance must give exit 4, or 2 when the file is no longer a plan) or listed in
:data:`ACCEPTED` with the reason the checker cannot or need not verify it.  A change that leaves
the document equal (``0 × 2``) must still pass.
"""

from __future__ import annotations

import copy
import json
import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from fuzzing.harness import Chooser
from fuzzing.scenarios import BigInt, Deep, _json_value, paths

#: Documented tolerances (docs/plan_format.md, "How fulfil check reads these rules"): a change of a
#: number at most this large may pass or fail.  Keys are matched against the dotted path with
#: list indexes as ``[*]``; the tolerance is a function of the original value.
TOLERANCES: tuple[tuple[str, Callable[[float], float], str], ...] = (
    (r"(\.arrival|\.start|\.departure|\.return|minutes_since_cold_room|minutes_out_of_zone\.\w+)$",
     lambda x: 0.05, "reported times may differ from the recomputed ones by 0.05 min"),
    (r"duration_h$", lambda x: 0.05 / 60, "a trip's duration_h from its times (duty: x trips)"),
    (r"\.kg$", lambda x: 0.01, "kg by 0.01 (a trunk trip's by 0.01 per stop)"),
    (r"(distance_km|leg_km|return_leg_km)$", lambda x: 0.01, "km by 0.01"),
    (r"\.cost\.\w+$", lambda x: 0.01, "cost fields by 0.01 RMB"),
    (r"kpis\.(two_hour_compliance|cold_chain_compliance|fill_rate|in_spec_share|delivery_cost_share_of_sales)$",
     lambda x: 1e-4, "shares within 1e-4"),
    (r"kpis\.(expected_spoilage_cost|spoiled_crates)$", lambda x: max(0.01, 1e-4 * abs(x)),
     "cold-chain KPIs 1e-4 relative"),
    (r"kpis\.(distance_km|duration_h|cost|orders_served|orders_unserved|cost_per_order)$",
     lambda x: max(0.01, 1e-6 * abs(x)), "other KPIs 1e-6 relative or 0.01 absolute"),
    (r"handover_c$", lambda x: 0.05, "cold chain: handover_c by 0.05 degC"),
    (r"minutes_out_of_range$", lambda x: 0.5, "cold chain: minutes_out_of_range by 0.5 min"),
    (r"\.quality$", lambda x: 1e-3, "cold chain: quality by 0.001"),
    (r"remaining_shelf_life_h$", lambda x: max(0.2, 1e-3 * abs(x)), "cold chain: shelf life by 0.2 h or 0.1 %"),
    (r"cold_chain\.\w+\.(spoiled_crates|spoilage_cost)$", lambda x: 0.01, "cold chain: spoilage by 0.01"),
    (r"thermal\.compartments\.\w+\.(t|air_c|product_c)\[\*\]$", lambda x: 0.05,
     "trace points: assumed like hand-over values (0.05 min / 0.05 degC); not yet documented"),
)

#: Reported values the checker does not have to verify, and why.  A mutation here may pass.
ACCEPTED: tuple[tuple[str, str], ...] = (
    (r"^stats(\.|$)", "wall seconds and memory of the run that made the plan: not a fact about the night"),
    (r"^params(\.|$)", "the search settings used; the checker cannot re-run the search"),
    (r"^seed$", "the search seed used; same reason as params"),
    (r"^check(\.|$)", "what the checker said when the plan was written; `fulfil check` recomputes it anyway"),
    (r"^error$", "prose describing a non-zero code"),
    (r"^unserved\[\*\]\.detail$", "prose for people"),
    (r"^unserved\[\*\]\.reason$", "the planner's diagnosis; only a known reason can be checked (swaps pass)"),
    (r"^duties\[\*\]\.id$|^duties\[\*\]\.trips\[\*\]\.id$", "labels: nothing in the night depends on them"),
    (r"_hhmm$", "display copies of a time: checked within a minute, optional (see hhmm rule)"),
)

#: Keys a plan may leave out (plan_model: optional, no claim made by leaving them out).
OPTIONAL = re.compile(r"(^scenario_digest$|^params$|^check$|^stats$|^error$|_hhmm$|^params\.\w+$)")

#: The unordered lists: their order carries no claim.
UNORDERED = re.compile(r"^unserved$")


def norm(path: tuple) -> str:
    """``('duties', 0, 'trips', 1, 'id')`` → ``'duties[*].trips[*].id'``."""
    return "".join("[*]" if isinstance(k, int) else f".{k}" for k in path).lstrip(".")


def same(a: Any, b: Any) -> bool:
    """Equal as the checker reads JSON: same types (int is not float), equal values."""
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    return a == b


@dataclass
class PlanMutation:
    """One change of a plan document."""

    label: str
    text: str  # the file's new content
    path: tuple | None  # the node changed (None: the whole file)
    expect: str  # "pass" (unchanged), "either" (tolerated), "reject" (exit 2 or 4)
    why: str = ""


def _get(doc: Any, path: tuple) -> Any:
    for k in path:
        doc = doc[k]
    return doc


def _clock_min(text: Any) -> float | None:
    m = re.fullmatch(r"(\d{1,2}):(\d{2})", text) if isinstance(text, str) else None
    return int(m[1]) * 60 + int(m[2]) if m and int(m[2]) < 60 else None


def judge(before: dict[str, Any], after: dict[str, Any], path: tuple | None, counts: dict[str, int]) -> tuple[str, str]:
    """What ``fulfil check`` must do with ``after`` (changed at ``path``): pass, either or reject."""
    if same(before, after):
        return "pass", "the document is unchanged"
    if path is None:
        return "reject", "not a plan any more"
    key = norm(path)
    for pattern, why in ACCEPTED:
        if re.search(pattern, key):
            if key.endswith("_hhmm"):
                old, new = _clock_min(_get(before, path)), _get_or_none(after, path)
                if new is None or (_clock_min(new) is not None and old is not None and abs(_clock_min(new) - old) <= 1):
                    return "either", why
                return "reject", "an HH:MM more than a minute off, or not a clock"
            return "either", why
    if _get_or_none(after, path) is None and OPTIONAL.search(key) and not _has(after, path):
        return "either", "an optional key left out"
    if key.endswith("duties[*].vehicle"):
        new, duty = _get_or_none(after, path), _get(after, path[:-1])
        others = [d["vehicle"] for i, d in enumerate(after["duties"]) if i != path[1]
                  and d.get("vehicle_type") == duty.get("vehicle_type")]
        if type(new) is int and 0 <= new < counts.get(duty.get("vehicle_type"), 0) and new not in others:
            return "either", "another idle vehicle of the same type: an equivalent plan"
    if UNORDERED.search(key) and _has(after, path) and _sorted_json(_get(before, path)) == _sorted_json(_get(after, path)):
        return "either", "the same entries in another order"
    old, new = _get_or_none(before, path), _get_or_none(after, path)
    # a float field written as an int (500.0 → 500) is the same number to the plan model
    if _is_num(old) and _is_num(new) and (type(old) is type(new) or isinstance(old, float)) and math.isfinite(new):
        for pattern, tol, why in TOLERANCES:
            if re.search(pattern, key) and abs(new - old) <= tol(old) + 1e-12:
                return "either", f"within tolerance: {why}"
    return "reject", "a reported value changed"


def _is_num(x: Any) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool)


def _has(doc: Any, path: tuple) -> bool:
    try:
        _get(doc, path)
    except (KeyError, IndexError, TypeError):
        return False
    return True


def _get_or_none(doc: Any, path: tuple) -> Any:
    try:
        return _get(doc, path)
    except (KeyError, IndexError, TypeError):
        return None


def _sorted_json(x: Any) -> list[str] | None:
    return sorted(json.dumps(e, sort_keys=True) for e in x) if isinstance(x, list) else None


NUMBER_OPS: tuple[tuple[str, Callable[[Any], Any]], ...] = (
    ("x2", lambda v: v * 2), ("x0.5", lambda v: v * 0.5), ("negate", lambda v: -v), ("x10", lambda v: v * 10),
    ("+1", lambda v: v + 1), ("-1", lambda v: v - 1), ("+0.004", lambda v: v + 0.004), ("-0.004", lambda v: v - 0.004),
    ("+100", lambda v: v + 100), ("=0", lambda v: 0 if isinstance(v, int) else 0.0), ("=1e6", lambda v: 1e6),
    ("=10**30", lambda v: 10**30), ("=2**63", lambda v: 2**63), ("=5000 digits", lambda v: BigInt("7" * 5000)),
    ("=NaN", lambda v: math.nan), ("=inf", lambda v: math.inf), ("=-inf", lambda v: -math.inf),
    ("=true", lambda v: True), ("=string", lambda v: str(v)), ("=null", lambda v: None),
    ("as float", lambda v: float(v)), ("=1e-300", lambda v: 1e-300), ("=0.05", lambda v: 0.05), ("=1.5", lambda v: 1.5),
    ("=30", lambda v: 30.0 if isinstance(v, float) else 30), ("=500", lambda v: 500),
)
STRING_VALUES = ("", "x", "FW1", "CW1", "PP1", "PP2", "milk", "chilled", "frozen", "ambient", "trunk", "last_mile",
                 "reefer", "insulated_box", "07:00", "99:99", "\x1b[2J", "a\x00b", "z" * 5000, "0", "130")


def mutate_node(doc: dict[str, Any], c: Chooser) -> tuple[str, tuple]:
    """Change one node of ``doc`` in place; return what was done and where."""
    path = c.pick(paths(doc), "node")
    parent, key = (_get(doc, path[:-1]), path[-1])
    value = parent[key]
    if isinstance(value, bool):
        op = c.pick(("flip", "=1", "=\"true\"", "=null"), "bool op")
        parent[key] = {"flip": not value, "=1": 1, "=\"true\"": "true", "=null": None}[op]
    elif _is_num(value):
        op, f = c.pick(NUMBER_OPS, "number op")
        parent[key] = f(value)
    elif isinstance(value, str):
        op = c.pick(("=other", "+suffix", "=number", "=null"), "string op")
        parent[key] = {"=other": c.pick(STRING_VALUES, "string"), "+suffix": value + "X", "=number": 7,
                       "=null": None}[op]
        op = f"{op} {parent[key]!r:.30}"
    elif isinstance(value, list):
        op = c.pick(("empty", "drop", "duplicate", "reverse", "append {}", "=object", "deep"), "list op")
        if op == "empty":
            value.clear()
        elif op in ("drop", "duplicate") and value:
            k = c.integer(0, len(value) - 1, "item")
            if op == "drop":
                del value[k]
            else:
                value.insert(k, copy.deepcopy(value[k]))
        elif op == "reverse":
            value.reverse()
        elif op == "append {}":
            value.append({})
        elif op == "=object":
            parent[key] = {}
        elif op == "deep":
            parent[key] = Deep(c.pick((100, 5000, 100_000), "depth"))
    elif isinstance(value, dict):
        op = c.pick(("drop key", "add key", "empty", "add zone", "=list"), "dict op")
        if op == "drop key" and value:
            del value[c.pick(sorted(value), "key")]
        elif op == "add key":
            value[c.pick(("extra", "id", "frozen", "\x1b"), "new key")] = c.pick((1, "x", None, {}), "new value")
        elif op == "empty":
            value.clear()
        elif op == "add zone":
            value[c.pick(("frozen", "chilled", "ambient", "tepid"), "zone")] = {"crates": 1, "kg": 1.0}
        elif op == "=list":
            parent[key] = []
    else:  # null
        op = c.pick(("=0", "=string", "=1.5"), "null op")
        parent[key] = {"=0": 0, "=string": "x", "=1.5": 1.5}[op]
    if c.pick((False, False, False, True), "delete instead") and isinstance(parent, dict):
        parent.pop(key, None)
        op = "delete"
    return f"{norm(path)} ({'.'.join(map(str, path))}): {op}", path


WHOLE_FILE = ("truncate", "nul byte", "bom", "empty", "not json", "top-level list", "deep 100k", "deep 1000",
              "5000-digit number", "utf16", "trailing garbage", "duplicate key", "NaN literal")


def mutate_file(text: str, c: Chooser) -> tuple[str, str]:
    """Damage the file's text as a whole; return (new text, what was done)."""
    how = c.pick(WHOLE_FILE, "file op")
    if how == "truncate":
        return text[: c.integer(0, len(text) - 1, "at")], how
    if how == "nul byte":
        at = c.integer(0, len(text), "at")
        return text[:at] + "\x00" + text[at:], how
    if how == "bom":
        return "\ufeff" + text, how
    if how == "empty":
        return "", how
    if how == "not json":
        return "format = 'fulfil-plan'\n", how
    if how == "top-level list":
        return "[" + text + "]", how
    if how.startswith("deep"):
        n = 100_000 if how.endswith("100k") else 1000
        return text.replace('"unserved": [', '"unserved": ' + "[" * n + "]" * n + ", \"x\": [", 1), how
    if how == "5000-digit number":
        return text.replace('"code": 0', '"code": ' + "1" * 5000, 1), how
    if how == "utf16":
        return text, how  # written as UTF-16 by the caller
    if how == "trailing garbage":
        return text + "\n}}", how
    if how == "duplicate key":
        return text.replace('"code": 0,', '"code": 0, "code": 130,', 1), how
    return text.replace('"code": 0', '"code": NaN', 1), how


def mutate_plan(doc: dict[str, Any], c: Chooser, counts: dict[str, int]) -> PlanMutation:
    """One mutation of the plan document ``doc`` (not modified) and the verdict it must get."""
    if c.pick((False,) * 5 + (True,), "whole file"):
        text = json.dumps(doc, indent=1, ensure_ascii=False)
        new, how = mutate_file(text, c)
        try:
            changed = json.loads(new)
        except (ValueError, RecursionError):
            changed = None
        if how == "utf16":
            return PlanMutation("file: utf16 (UTF-16)", new, None, "either", "the same document in UTF-16")
        if changed is not None and same(doc, changed):
            return PlanMutation(f"file: {how}", new, None, "pass", "the same document")
        return PlanMutation(f"file: {how}", new, None, "reject", "not a plan any more")
    after = copy.deepcopy(doc)
    label, path = mutate_node(after, c)
    expect, why = judge(doc, after, path, counts) if not _contains_marker(after) else ("reject", "not JSON-able")
    return PlanMutation(label, _json_value(after), path, expect, why)


def _contains_marker(x: Any) -> bool:
    if isinstance(x, (BigInt, Deep)):
        return True
    if isinstance(x, dict):
        return any(_contains_marker(v) for v in x.values())
    if isinstance(x, list):
        return any(_contains_marker(v) for v in x)
    return False
