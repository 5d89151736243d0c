"""The invariants: what ``validate``/``plan``/``check`` must do with a mutated input, and what a
plan folder must look like after any write, interrupted or killed.

Each function returns a list of ``(failure class, detail)``; empty means the invariant holds.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable
from pathlib import Path

from fuzzing.harness import (
    BAD_INPUT,
    INTERRUPTED,
    OK,
    VIOLATIONS,
    Outcome,
    common_failures,
)
from fuzzing.plans import PlanMutation
from fuzzing.scenarios import CANARY, Case

Runner = Callable[[list[str]], Outcome]
Failures = list[tuple[str, str]]

#: The planning budget of a fuzzed scenario: deterministic and small.
PLAN_ARGS = ["--time-limit", "0", "--solutions", "10", "--charts", "0", "--workers", "1"]


def input_failures(case: Case, run: Runner, plan: bool = True) -> tuple[Failures, list[Outcome]]:
    """``validate`` exits 0 or 2; a 2 names the file; nothing from outside the folder is read or
    echoed; what validates plans (exit 0) and its plan checks clean."""
    v = run(["-q", "validate", str(case.scenario)])
    found = common_failures(v, frozenset({OK, BAD_INPUT}))
    outcomes = [v]
    if CANARY in v.out + v.err:
        found.append(("content of a file outside the folder echoed", CANARY))
    # the scenario's own tables count: a problem found in its demand table names that table
    names = set(case.names) | {f.name for f in case.scenario.parent.iterdir() if f.suffix == ".csv"}
    if v.rc == BAD_INPUT and not any(n and n in v.err for n in names):
        found.append(("error does not name the file", f"expected one of {sorted(case.names)[:3]}: {v.err[:200]!r}"))
    if v.rc == OK and case.reject:
        found.append((case.reject, case.label))
    if v.rc != OK or not plan:
        return found, outcomes
    out = case.folder / "out"
    p = run(["-q", "plan", str(case.scenario), "--out", str(out), *PLAN_ARGS])
    outcomes.append(p)
    found += [(f"plan: {k}", d) for k, d in common_failures(p, frozenset({OK}))]
    if p.rc == VIOLATIONS:
        found.append(("plan: checker violation of the planner's own making", _tail(p.out)))
    if p.rc == BAD_INPUT:
        found.append(("plan: refuses what validate accepted", _tail(p.err)))
    if p.rc == OK:
        c = run(["-q", "check", str(case.scenario), str(out / "plan.json")])
        outcomes.append(c)
        found += [(f"check of own plan: {k}", d) for k, d in common_failures(c, frozenset({OK}))]
        found += [(f"plan folder: {k}", d) for k, d in folder_failures(out)]
    return found, outcomes


def _tail(text: str, n: int = 3) -> str:
    return " | ".join(text.strip().splitlines()[-n:])[:300]


def check_failures(m: PlanMutation, o: Outcome) -> Failures:
    """``check`` on a mutated plan: 0, 2 or 4 only; 0 only for an unchanged or tolerated change;
    an unchanged plan must pass."""
    found = common_failures(o, frozenset({OK, BAD_INPUT, VIOLATIONS}))
    if m.expect == "reject" and o.rc == OK:
        found.append(("tampered plan accepted", m.label))
    if m.expect == "pass" and o.rc in (BAD_INPUT, VIOLATIONS):
        found.append(("unchanged plan rejected", f"{m.label}: {_tail(o.out + o.err, 2)}"))
    return found


# --------------------------------------------------------------------------- plan folders


def folder_failures(out: Path) -> Failures:
    """Every file in a plan folder belongs to the plan in its ``plan.json``.

    A folder without ``plan.json`` must hold nothing (``plan.json`` comes last: its absence
    means the rest is not a plan).  With it: a manifest, when the writer leaves one
    (``manifest.json``: a ``plan_id`` and ``files``), must name every file and the plan's id;
    every route sheet and loading list is a trip of the plan with the plan's figures,
    ``unserved.csv`` has the plan's rows and ``summary.txt`` names its scenario and seed.
    Temporary files left inside the folder count as leftovers.
    """
    if not out.exists():
        return []
    files = sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file())
    found: Failures = []
    leftovers = [f for f in files if any(part.startswith(".") for part in f.split("/"))]
    if leftovers:
        found.append(("leftover temporary files in the plan folder", ", ".join(leftovers[:3])))
    if "plan.json" not in files:
        if [f for f in files if f not in leftovers]:
            found.append(("half-written folder (files but no plan.json)", ", ".join(files[:4])))
        return found
    try:
        doc = json.loads((out / "plan.json").read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as exc:
        return [*found, ("plan.json unreadable", str(exc)[:200])]
    trips = {t["id"]: t for d in doc.get("duties", []) for t in d.get("trips", [])}
    found += _manifest_failures(out, doc, files)
    for folder in ("route_sheets", "loading_lists"):
        stems = {f[len(folder) + 1:-4] for f in files if f.startswith(folder + "/") and f.endswith(".csv")}
        if stems != set(trips):
            extra, missing = sorted(stems - set(trips)), sorted(set(trips) - stems)
            found.append(("mixed folder: trip files of another plan",
                          f"{folder}: extra {extra[:3]}, missing {missing[:3]}"))
    for tid, t in trips.items():
        sheet = out / "route_sheets" / f"{tid}.csv"
        if sheet.is_file():
            head = dict(r[:2] for r in csv.reader(io.StringIO(sheet.read_text(encoding="utf-8"))) if len(r) >= 2)
            if head.get("distance_km") not in (None, str(t.get("distance_km"))) or head.get("stops") not in (
                    None, str(len(t.get("stops", [])))):
                found.append(("mixed folder: a route sheet of another plan", f"{tid}: {head.get('distance_km')} km"))
    if (out / "unserved.csv").is_file():
        n = sum(1 for _ in csv.DictReader(io.StringIO((out / "unserved.csv").read_text(encoding="utf-8"))))
        if n != len(doc.get("unserved", [])):
            found.append(("mixed folder: unserved.csv of another plan", f"{n} rows, plan has {len(doc['unserved'])}"))
    if (out / "summary.txt").is_file():
        first = (out / "summary.txt").read_text(encoding="utf-8").split("\n", 1)[0]
        if f"'{doc.get('scenario')}'" not in first or f"seed {doc.get('seed')}" not in first:
            found.append(("mixed folder: summary.txt of another plan", first[:120]))
    return found


def _manifest_failures(out: Path, doc: dict, files: list[str]) -> Failures:
    man = out / "manifest.json"
    if not man.is_file():
        return []
    try:
        m = json.loads(man.read_text(encoding="utf-8"))
    except ValueError as exc:
        return [("manifest unreadable", str(exc)[:200])]
    found: Failures = []
    pid = m.get("plan_id")
    if pid is not None and doc.get("plan_id", doc.get("id")) not in (None, pid):
        found.append(("mixed folder: manifest of another plan", f"manifest {pid}, plan.json {doc.get('plan_id')}"))
    listed = set(m.get("files", []))
    if listed:
        unlisted = [f for f in files if f not in listed and f not in ("manifest.json",) and not f.startswith(".")]
        if unlisted:
            found.append(("mixed folder: files the manifest does not name", ", ".join(unlisted[:3])))
    return found


def interrupted_failures(o: Outcome, out: Path, run: Runner, scenario: Path, had_plan: bool) -> Failures:
    """After Ctrl-C (once or twice): exit 130 (0 when it had finished), one plan in the folder and,
    when there was one before or a new one was written, a plan that checks clean."""
    found = common_failures(o, frozenset({OK, INTERRUPTED}))
    found += folder_failures(out)
    if not (out / "plan.json").is_file():
        if had_plan:
            found.append(("interrupt lost the plan that was there", str(out)))
        elif o.rc == INTERRUPTED:
            found.append(("interrupt left no plan", _tail(o.err, 2)))
        return found
    c = run(["-q", "check", str(scenario), str(out / "plan.json")])
    if c.rc not in (OK,):
        found.append(("plan kept after an interrupt fails check", f"exit {c.rc}: {_tail(c.out + c.err, 2)}"))
    return found
