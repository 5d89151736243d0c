"""Property tests: tampered plans never pass ``fulfil check``, and plan folders never mix
(issue 13, item 5).

A small scenario is planned once (deterministic budget).  Hypothesis changes one node of its
``plan.json`` at a time (``tests/fuzzing/plans.py``): ``check`` must exit 4 (or 2 when the file is
no longer a plan) unless the change is within a documented tolerance or in the list of values
the checker need not verify (``fuzzing.plans.ACCEPTED``, each with its reason); never 1.

Then the writes: a folder holding one plan is overwritten by another plan that is killed (or
interrupted once or twice) at every point of its file-system changes; the folder must hold
files of one plan only, and a plan after an interrupt.
"""

from __future__ import annotations

import json
import shutil
import sys
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

sys.path.insert(0, str(Path(__file__).parent))

from fuzzing.harness import HypothesisChooser, Outcome, describe, run_inprocess
from fuzzing.invariants import (
    PLAN_ARGS,
    check_failures,
    folder_failures,
    interrupted_failures,
)
from fuzzing.plans import PlanMutation, judge, mutate_plan
from fuzzing.scenarios import make_base
from fuzzing.writes import KILLED, restore, run_with_fault

TINY = Path(__file__).parent / "data" / "checker" / "tiny.toml"


@pytest.fixture(scope="module")
def planned(tmp_path_factory) -> tuple[Path, Path, dict, dict[str, int]]:
    """``(scenario, plan.json, plan document, vehicles per type)`` of the base scenario, planned once."""
    from fulfil.scenario import load_scenario

    folder = tmp_path_factory.mktemp("fuzz_plan")
    scenario = make_base(folder / "s")
    out = folder / "out"
    o = run_inprocess(["-q", "plan", str(scenario), "--out", str(out), *PLAN_ARGS])
    assert o.rc == 0, o.err
    counts = {v.id: v.count for v in load_scenario(scenario).vehicle_types}
    return scenario, out / "plan.json", json.loads((out / "plan.json").read_text()), counts


def _check(scenario: Path, m: PlanMutation) -> list[tuple[str, str]]:
    with tempfile.TemporaryDirectory() as tmp:
        f = Path(tmp) / "plan.json"
        f.write_bytes(m.text.encode("utf-16" if "UTF-16" in m.label else "utf-8"))
        return check_failures(m, run_inprocess(["check", str(scenario), str(f)]))


def test_the_untouched_plan_checks_clean(planned):
    """The baseline the mutations are judged against: exit 0."""
    scenario, plan, _, _ = planned
    assert run_inprocess(["-q", "check", str(scenario), str(plan)]).rc == 0


@settings(max_examples=60, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(data=st.data())
def test_tampered_plan_is_never_accepted(planned, data):
    """One node changed (scaled, negated, NaN, 10**30, emptied, dropped, duplicated, retyped, ...):
    exit 4 or 2, or 0 only when the change is tolerated (see fuzzing.plans)."""
    scenario, _, doc, counts = planned
    m = mutate_plan(doc, HypothesisChooser(data), counts)
    failures = _check(scenario, m)
    assert not failures, f"{m.label} (expected {m.expect}: {m.why}): {describe(failures)}"


def _set(doc: dict, path: tuple, value) -> dict:
    d = json.loads(json.dumps(doc))
    node = d
    for k in path[:-1]:
        node = node[k]
    if value is _DELETE:
        del node[path[-1]]
    else:
        node[path[-1]] = value
    return d


_DELETE = object()


def _cold_stop(doc: dict) -> tuple:
    """The path of the first last-mile stop with a chilled hand-over."""
    for i, d in enumerate(doc["duties"]):
        for j, t in enumerate(d["trips"]):
            for s, stop in enumerate(t["stops"]):
                if d["tier"] == "last_mile" and "chilled" in (stop.get("cold_chain") or {}):
                    return ("duties", i, "trips", j, "stops", s)
    raise AssertionError("the base plan has no chilled last-mile hand-over")


#: Tampering issue 13 found accepted: (name, path from the cold stop or the top, value).
ISSUE_CASES = [
    ("quality 0.05", "stop", ("cold_chain", "chilled", "quality"), 0.05),
    ("quality 1.5", "stop", ("cold_chain", "chilled", "quality"), 1.5),
    ("minutes_out_of_range 500", "stop", ("cold_chain", "chilled", "minutes_out_of_range"), 500.0),
    ("negative shelf life", "stop", ("cold_chain", "chilled", "remaining_shelf_life_h"), -5.0),
    ("spoiled crates changed", "stop", ("cold_chain", "chilled", "spoiled_crates"), 3.0),
    ("spoilage cost changed", "stop", ("cold_chain", "chilled", "spoilage_cost"), 99.0),
    ("assignment empty", "top", ("assignment",), {}),
    ("assignment missing", "top", ("assignment",), _DELETE),
    ("code 130", "top", ("code",), 130),
    ("code '0'", "top", ("code",), "0"),
    ("code missing", "top", ("code",), _DELETE),
    ("kpis.stops changed", "top", ("kpis", "stops"), 7),
]


@pytest.mark.parametrize(("name", "where", "path", "value"), ISSUE_CASES, ids=[c[0] for c in ISSUE_CASES])
def test_issue13_tampering_is_caught(planned, name, where, path, value):
    scenario, _, doc, counts = planned
    full = (*_cold_stop(doc), *path) if where == "stop" else path
    after = _set(doc, full, value)
    expect, why = judge(doc, after, full, counts)
    assert expect == "reject", why
    failures = _check(scenario, PlanMutation(name, json.dumps(after), full, expect))
    assert not failures, describe(failures)


def test_thirty_degree_air_all_route_long_is_caught(planned):
    """Every point of every chilled air trace set to 30 degC: the trace is recomputed, exit 4."""
    scenario, _, doc, _ = planned
    after = json.loads(json.dumps(doc))
    for d in after["duties"]:
        for t in d["trips"]:
            for comp in (t.get("thermal") or {}).get("compartments", {}).values():
                comp["air_c"] = [30.0] * len(comp["air_c"])
    failures = _check(scenario, PlanMutation("air 30 C", json.dumps(after), None, "reject"))
    assert not failures, describe(failures)


def test_plan_nested_100000_deep_is_exit_2(planned):
    scenario, _, doc, _ = planned
    text = json.dumps(doc).replace('"unserved": [', '"unserved": ' + "[" * 100_000 + "]" * 100_000 + ', "x": [', 1)
    failures = _check(scenario, PlanMutation("nested 100000 deep", text, None, "reject"))
    assert not failures, describe(failures)


# --------------------------------------------------------------------------- writes


@pytest.fixture(scope="module")
def two_plans(tmp_path_factory) -> tuple[Path, Path, Path, dict[str, Path]]:
    """A folder holding plan A (tiny.toml), a backup of it, and scenario B (mini) to overwrite it with."""
    folder = tmp_path_factory.mktemp("fuzz_writes")
    scenario_b = make_base(folder / "b")
    scenario_a = folder / "a" / "tiny.toml"
    scenario_a.parent.mkdir()
    shutil.copy(TINY, scenario_a)
    out = folder / "out"
    assert run_inprocess(["-q", "plan", str(scenario_a), "--out", str(out), *PLAN_ARGS]).rc == 0
    assert folder_failures(out) == []
    backup = folder / "backup"
    shutil.copytree(out, backup)
    return out, backup, scenario_b, {"tiny": scenario_a, "mini": scenario_b}


def _points(n: int, most: int = 10) -> list[int]:
    """Up to ``most`` fault points spread over 1..n, the first and last included."""
    return sorted({1, n, *(1 + round(i * (n - 1) / (most - 1)) for i in range(most))}) if n > 1 else [1]


def test_kill_at_any_write_never_mixes_two_plans(two_plans):
    """SIGKILL-like death at spread points of the second plan's file-system changes: the folder holds
    plan A whole or plan B whole (a manifest, when written, must agree), never parts of both."""
    out, backup, scenario_b, _ = two_plans
    argv = ["-q", "plan", str(scenario_b), "--out", str(out), *PLAN_ARGS]
    restore(backup, out)
    rc, n = run_with_fault(argv, 0, "count")
    assert rc == 0 and n > 0
    problems = []
    for k in _points(n):
        restore(backup, out)
        rc, _ = run_with_fault(argv, k, "kill")
        assert rc in (KILLED, 0)
        problems += [f"kill at change {k}/{n}: {c}: {d}" for c, d in folder_failures(out)]
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("mode", ["int", "int2"])
def test_ctrl_c_at_any_write_keeps_one_whole_plan(two_plans, mode):
    """Ctrl-C (once, or twice in a row) at spread points of the writes: exit 130 (or 0), the folder
    holds one plan, and that plan checks clean against its scenario."""
    out, backup, scenario_b, scenarios = two_plans
    argv = ["-q", "plan", str(scenario_b), "--out", str(out), *PLAN_ARGS]
    restore(backup, out)
    _, n = run_with_fault(argv, 0, "count")
    problems = []
    for k in _points(n, most=6):
        restore(backup, out)
        rc, _ = run_with_fault(argv, k, mode)
        o = Outcome(argv, rc, "", "", 0.0)
        name = json.loads((out / "plan.json").read_text()).get("scenario") if (out / "plan.json").is_file() else "mini"
        problems += [f"{mode} at change {k}/{n}: {c}: {d}"
                     for c, d in interrupted_failures(o, out, run_inprocess, scenarios.get(name, scenario_b), True)]
    assert not problems, "\n".join(problems)
