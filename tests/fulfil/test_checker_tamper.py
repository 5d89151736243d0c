"""Tampered plans: a real plan, one value edited, and the checker must name the right cause.

``scenarios/sizes/size_0100.toml`` is planned once per module with a deterministic budget
(the planner's own plan, thermal traces and all, not a hand-built one).  Each case edits one
reported value — every kind of field of docs/plan_format.md's table "Every field and how
`fulfil check` verifies it" — and asserts the violation's cause.  File-level damage (nesting,
size, numbers, keys, paths) must be a located error with exit 2 from ``fulfil check``, never a
traceback or exit 1.
"""

from __future__ import annotations

import contextlib
import copy
import io
import json
import math
import re
from pathlib import Path

import pytest

from fulfil.checker import check_plan, summarize
from fulfil.cli import main
from fulfil.errors import ScenarioError
from fulfil.pipeline import PlanParams, plan_night
from fulfil.plan_model import Kpis, Plan, read_plan
from fulfil.scenario import load_scenario

ROOT = Path(__file__).resolve().parents[2]
SMALL = ROOT / "scenarios" / "sizes" / "size_0100.toml"
BUDGET = PlanParams(time_limit_s=None, solution_limit=20, seed=0, workers=1)


@pytest.fixture(scope="module")
def small() -> tuple:
    """``(scenario, plan document)`` of the small bundled scenario, planned once."""
    s = load_scenario(SMALL)
    return s, plan_night(s, BUDGET).to_doc()


@pytest.fixture(scope="module")
def plan_file(small, tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("tamper") / "plan.json"
    path.write_text(json.dumps(small[1]), encoding="utf-8")
    return path


def causes(vs) -> set[str]:
    return {v.cause for v in vs}


# --------------------------------------------------------------------------- where to edit
def lm_trip(p: dict, zone: str = "chilled") -> dict:
    """The first last-mile trip that hands over goods of ``zone``."""
    return next(t for d in p["duties"] if d["tier"] == "last_mile" for t in d["trips"]
                if any(zone in (st.get("cold_chain") or {}) for st in t["stops"]))


def cold_stop(p: dict, zone: str = "chilled") -> dict:
    return next(st for st in lm_trip(p, zone)["stops"] if zone in (st.get("cold_chain") or {}))


def trace(p: dict, zone: str = "chilled") -> dict:
    return lm_trip(p, zone)["thermal"]["compartments"][zone]


def trunk_stop(p: dict) -> dict:
    return next(d for d in p["duties"] if d["tier"] == "trunk")["trips"][0]["stops"][0]


def trunk_load(p: dict) -> dict:
    """The first zone's load delivered at the first trunk stop."""
    return next(iter(trunk_stop(p)["delivered"].values()))


def lm_duty(p: dict) -> dict:
    return next(d for d in p["duties"] if d["tier"] == "last_mile")


def cc(key: str, value):
    def edit(p):
        cold_stop(p)["cold_chain"]["chilled"][key] = value(cold_stop(p)["cold_chain"]["chilled"][key])
    return edit


def _set(path: list, value):
    def edit(p):
        obj = p
        for k in path[:-1]:
            obj = obj[k]
        obj[path[-1]] = value(obj[path[-1]]) if callable(value) else value
    return edit


def _first_pickup(p: dict) -> str:
    return lm_duty(p)["trips"][0]["stops"][0]["location"]


def _interrupted_line(p: dict) -> None:
    st = lm_duty(p)["trips"][0]["stops"][0]
    k = next(iter(st["products"]))
    st["products"][k] -= 1
    p["unserved"].append({"pickup_point": st["location"], "product": k, "units": 1, "reason": "interrupted"})


def _ambient_trace(p: dict) -> None:
    t = lm_trip(p)
    t["thermal"]["compartments"]["ambient"] = copy.deepcopy(t["thermal"]["compartments"]["chilled"])


def _sparse_trace(p: dict) -> None:
    tr = trace(p)
    keep = [0, len(tr["t"]) - 1]
    for k in ("t", "air_c", "product_c"):
        tr[k] = [tr[k][i] for i in keep]


def _hot_air(p: dict) -> None:
    tr = trace(p)
    tr["air_c"] = [30.0] * len(tr["air_c"])


def _hot_goods(p: dict) -> None:
    tr = trace(p)
    tr["product_c"] = [None if v is None else 30.0 for v in tr["product_c"]]


def _goods_gone_early(p: dict) -> None:
    tr = trace(p)
    tr["product_c"] = [None] * len(tr["product_c"])


def _duplicate_duty_id(p: dict) -> None:
    lm = [d for d in p["duties"] if d["tier"] == "last_mile"]
    lm[1]["id"] = lm[0]["id"]
    for k, t in enumerate(lm[1]["trips"], start=1):
        t["id"] = f"{lm[0]['id']}.{k}"


def _trunk_products(p: dict) -> None:
    trunk_stop(p)["products"] = {"x": 1}


def _fixed_split(p: dict) -> None:
    lm_duty(p)["trips"][0]["compartments"] = {"chilled": 10}


def _stock_shortage(p: dict) -> None:
    st = lm_duty(p)["trips"][0]["stops"][0]
    k = next(iter(st["products"]))
    st["products"][k] -= 1
    p["unserved"].append({"pickup_point": st["location"], "product": k, "units": 1, "reason": "stock_shortage"})


def _out_of_zone_extra(p: dict) -> None:
    """500 minutes out of zone for a zone the stop does not list (and receives nothing of)."""
    st, z = next((st, z) for d in p["duties"] for t in d["trips"] for st in t["stops"]
                 for z in ("frozen", "chilled", "ambient") if z not in st["minutes_out_of_zone"])
    st["minutes_out_of_zone"][z] = 500.0


def _unassigned_listed(p: dict) -> None:
    p["assignment"].pop(_first_pickup(p))


#: (name, edit, cause): each edit is one tampering of the planner's own plan
CASES = [
    # the cold chain: every value of a hand-over, and the trace
    ("quality_0.05", cc("quality", lambda v: 0.05), "cold_chain_mismatch"),
    ("quality_1.5", cc("quality", lambda v: 1.5), "cold_chain_mismatch"),
    ("minutes_out_of_range_500", cc("minutes_out_of_range", lambda v: 500.0), "cold_chain_mismatch"),
    ("shelf_life_negative", cc("remaining_shelf_life_h", lambda v: -5.0), "cold_chain_mismatch"),
    ("spoiled_crates", cc("spoiled_crates", lambda v: v + 2.0), "cold_chain_mismatch"),
    ("spoilage_cost", cc("spoilage_cost", lambda v: v + 50.0), "cold_chain_mismatch"),
    ("handover_c", cc("handover_c", lambda v: v + 1.0), "cold_chain_mismatch"),
    ("in_spec", cc("in_spec", lambda v: not v), "cold_chain_mismatch"),
    ("trace_air_30C", _hot_air, "cold_chain_mismatch"),
    ("trace_goods_30C", _hot_goods, "cold_chain_mismatch"),
    ("trace_goods_gone", _goods_gone_early, "cold_chain_mismatch"),
    ("trace_two_samples", _sparse_trace, "cold_chain_mismatch"),
    ("trace_crates", lambda p: trace(p).update(crates=trace(p)["crates"] + 1), "cold_chain_mismatch"),
    ("trace_limit_c", lambda p: trace(p).update(limit_c=25.0), "cold_chain_mismatch"),
    ("trace_kind", lambda p: trace(p).update(kind="insulated_box"), "cold_chain_mismatch"),
    ("trace_of_ambient", _ambient_trace, "cold_chain_mismatch"),
    # code, error, check, assignment, unserved
    ("code_130", _set(["code"], 130), "code_mismatch"),
    ("error_with_code_0", _set(["error"], "all fine"), "code_mismatch"),
    ("interrupted_line_code_0", _interrupted_line, "code_mismatch"),
    ("stock_shortage_without_stock", _stock_shortage, "reason_mismatch"),
    ("check_block", _set(["check"], {"violations": 0, "by_cause": {}}), None),  # consistent: clean
    ("check_block_wrong", _set(["check"], {"violations": 3, "by_cause": {"late": 3}}), "check_mismatch"),
    ("assignment_empty", _set(["assignment"], {}), "wrong_warehouse"),
    ("assignment_one_left_out", _unassigned_listed, "wrong_warehouse"),
    # ids and the keys of a tier or body
    ("duty_id_twice", _duplicate_duty_id, "format_rule"),
    ("trip_id", lambda p: lm_duty(p)["trips"][0].update(id="X.1"), "format_rule"),
    ("duty_without_trips", lambda p: lm_duty(p).update(trips=[]), "format_rule"),
    ("trip_without_stops", lambda p: lm_duty(p)["trips"][0].update(stops=[]), "format_rule"),
    ("trunk_stop_products", _trunk_products, "format_rule"),
    ("trunk_stop_promise_clock", lambda p: trunk_stop(p).update(minutes_since_cold_room=1.0), "format_rule"),
    ("split_on_fixed_body", _fixed_split, "format_rule"),
    ("out_of_zone_unlisted_zone", _out_of_zone_extra, "time_mismatch"),
]


def test_untampered_plan_is_clean(small):
    """The planner's plan, as written, keeps every rule (every case below starts from it)."""
    s, doc = small
    vs = check_plan(s, doc)
    assert vs == [], summarize(vs)
    assert doc["assignment"] and any(st.get("cold_chain") for d in doc["duties"] for t in d["trips"]
                                     for st in t["stops"])


@pytest.mark.parametrize(("name", "edit", "cause"), CASES, ids=[c[0] for c in CASES])
def test_tampered_value_is_named(small, name, edit, cause):
    s, doc = small
    p = copy.deepcopy(doc)
    edit(p)
    assert p != doc
    vs = check_plan(s, p)
    if cause is None:
        assert vs == [], summarize(vs)
    else:
        assert cause in causes(vs), summarize(vs)


@pytest.mark.parametrize("key", sorted(Kpis.model_fields))
def test_every_kpi_is_recomputed(small, key):
    """Each KPI of the model, edited, is a `kpi_mismatch` naming it."""
    s, doc = small
    p = copy.deepcopy(doc)
    v = p["kpis"].get(key)
    p["kpis"][key] = 1 if v is None else (v + 1 if isinstance(v, int) else v * 1.1 + 0.5)
    vs = check_plan(s, p)
    assert "kpi_mismatch" in causes(vs) and any(key in x.message for x in vs), summarize(vs)


def test_cold_chain_values_without_the_model_are_named(small):
    """Checked against the same night with policies.cold_chain_model off, the traces, hand-over
    predictions and cold KPIs are values nothing computed: each is named."""
    s, doc = small
    off = s.model_copy(update={"policies": s.policies.model_copy(update={"cold_chain_model": False})})
    vs = check_plan(off, doc)
    assert {"cold_chain_mismatch", "kpi_mismatch"} <= causes(vs), summarize(vs)
    assert {v.message.split(" is ")[0] for v in vs if v.cause == "kpi_mismatch"} == {
        "kpis.in_spec_share", "kpis.expected_spoilage_cost", "kpis.spoiled_crates"}


@pytest.mark.parametrize(("name", "edit", "needle"), [
    ("code_string", _set(["code"], "0"), "code: Input should be a valid integer"),
    ("code_2", _set(["code"], 2), "code: code 2 is not a plan's code"),
    ("code_missing", lambda p: p.pop("code"), "code: missing key"),
    ("assignment_missing", lambda p: p.pop("assignment"), "assignment: missing key"),
    ("crates_beyond_2_53", lambda p: trunk_load(p).update(crates=2**60), "2**53"),
    ("id_with_escape", lambda p: lm_duty(p).update(id="\x1b[31mL"), "control character"),
    ("engine", _set(["params", "engine"], "magic"), "params.engine"),
], ids=lambda x: x if isinstance(x, str) else "")
def test_structural_tampering_is_a_located_error(small, name, edit, needle):
    s, doc = small
    p = copy.deepcopy(doc)
    edit(p)
    with pytest.raises(ScenarioError, match=needle.replace("*", r"\*")):
        check_plan(s, p)


# --------------------------------------------------------------------------- files
def _check_cli(path: Path | str) -> tuple[int, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        rc = main(["check", str(SMALL), str(path)])
    return rc, out.getvalue() + err.getvalue()


def _text(plan_file: Path) -> str:
    return plan_file.read_text(encoding="utf-8")


FILES = [
    ("nested_100000", lambda t: "[" * 100_000 + "]" * 100_000, "nest more than"),
    ("nested_inside_plan", lambda t: t[:-1] + ', "stats": {"x": ' + "[" * 100_000 + "]" * 100_000 + "}}",
     "nest more than"),
    ("integer_5000_digits", lambda t: t.replace('"seed": 0', '"seed": ' + "9" * 5000), "integer too long"),
    ("integer_10_30", lambda t: t.replace('"seed": 0', '"seed": ' + "1" + "0" * 30), "seed"),
    ("nan", lambda t: t.replace('"seed": 0', '"seed": NaN'), "seed"),
    ("infinity", lambda t: t.replace('"cost": ', '"cost": Infinity, "c": ', 1), "finite"),
    ("float_1e400", lambda t: re.sub(r'"fill_rate": [-0-9.e+]+', '"fill_rate": 1e400', t), "kpis.fill_rate"),
    ("key_twice", lambda t: t[:-1] + ', "code": 130}', "appears twice"),
    ("not_utf8", lambda t: "\udcff", "not UTF-8"),
]


@pytest.mark.parametrize(("name", "make", "needle"), FILES, ids=[f[0] for f in FILES])
def test_damaged_file_is_exit_2_with_a_located_error(plan_file, tmp_path, name, make, needle):
    path = tmp_path / f"{name}.json"
    path.write_bytes(make(_text(plan_file)).encode("utf-8", "surrogateescape"))
    rc, text = _check_cli(path)
    assert rc == 2, text
    assert needle in text and path.name in text and "Traceback" not in text and "internal error" not in text


def test_huge_file_is_refused_before_it_is_read(tmp_path):
    """A sparse 300 MB file: refused by its size, not read into memory."""
    path = tmp_path / "huge.json"
    with path.open("wb") as f:
        f.truncate(300 * 2**20)
    with pytest.raises(ScenarioError, match="at most 256 MB"):
        read_plan(path)
    assert _check_cli(path)[0] == 2


@pytest.mark.parametrize("where", ["folder", "nul_byte", "long_name", "symlink_loop"])
def test_unreadable_path_is_exit_2(tmp_path, where):
    if where == "folder":
        path: str = str(tmp_path)
    elif where == "nul_byte":
        path = str(tmp_path / "a\x00b.json")
    elif where == "long_name":
        path = str(tmp_path / ("a" * 5000))
    else:
        (tmp_path / "l1").symlink_to(tmp_path / "l2")
        (tmp_path / "l2").symlink_to(tmp_path / "l1")
        path = str(tmp_path / "l1")
    with pytest.raises(ScenarioError, match="plan file"):
        read_plan(path)
    rc, text = _check_cli(path)
    assert rc == 2 and "internal error" not in text, text


def test_extreme_values_are_violations_not_crashes(small):
    """Values at the model's bounds — a departure of 1e9 minutes, 2**53 units, 2**53 crates at a trunk
    stop — run through every recomputation (travel, loads, thermal model) and end as violations."""
    s, doc = small
    edits = [
        lambda p: lm_trip(p).update(departure=1e9),
        lambda p: lm_trip(p).update(departure=-1e9),
        lambda p: cold_stop(p)["products"].update({k: 2**53 for k in cold_stop(p)["products"]}),
        lambda p: trunk_load(p).update(crates=2**53, kg=1e9),
    ]
    for edit in edits:
        p = copy.deepcopy(doc)
        edit(p)
        vs = check_plan(s, p)
        assert vs and all(math.isfinite(len(v.message)) for v in vs)


def test_clean_plans_of_the_bundled_scenarios_stay_clean(small, plan_file, tmp_path):
    """The small plan through its file (exit 0), a plan written with its check block, and the checker's
    own tiny scenario and the demo city planned with the same deterministic budget: no violation."""
    assert _check_cli(plan_file)[0] == 0
    s, doc = small
    with_check = dict(doc, check={"violations": 0, "by_cause": {}})
    assert check_plan(s, with_check) == []
    for scenario in (ROOT / "tests" / "data" / "checker" / "tiny.toml", ROOT / "scenarios" / "demo_city.toml"):
        sc = load_scenario(scenario)
        plan = plan_night(sc, BUDGET)
        assert isinstance(plan, Plan)
        vs = check_plan(sc, plan.to_doc())
        assert vs == [], f"{scenario.name}: {summarize(vs)}"


# --------------------------------------------------------------------------- closed pickup points
def _closing(s, pp: str, since: float):
    """The scenario with pickup point ``pp`` closed from ``since`` (what ``fulfil replan`` writes)."""
    from fulfil.scenario import Scenario

    points = [p.model_copy(update={"closed_from": since}) if p.id == pp else p for p in s.pickup_points]
    return Scenario.model_validate(s.model_copy(update={"pickup_points": points}).model_dump())


def test_a_delivery_after_a_points_closing_time_is_named(small):
    s, p = small
    stop = lm_duty(p)["trips"][0]["stops"][0]
    closed = _closing(s, stop["location"], stop["arrival"] - 1.0)
    found = [v for v in check_plan(closed, p) if v.cause == "closed_point"]
    assert len(found) == 1 and stop["location"] in found[0].message
    # closed only after the delivery: the plan keeps every rule (a re-plan's already delivered stop)
    assert "closed_point" not in causes(check_plan(_closing(s, stop["location"], stop["arrival"] + 1.0), p))


def test_closed_as_a_reason_needs_the_scenario_to_close_the_point(small):
    s, p = small
    p = copy.deepcopy(p)
    stop = lm_duty(p)["trips"][0]["stops"][0]
    p["unserved"].append({"pickup_point": stop["location"], "product": next(iter(stop["products"])),
                          "units": 1, "reason": "closed", "detail": ""})
    assert "reason_mismatch" in causes(check_plan(s, p))
    closed = _closing(s, stop["location"], stop["arrival"] + 1.0)
    assert "reason_mismatch" not in causes(check_plan(closed, p))


@pytest.mark.parametrize("field", ["load_after", "minutes_out_of_zone", "load_at_departure"])
def test_a_zone_left_out_of_a_per_zone_field_is_named(small, field):
    """Found by the fuzz run: a zone left out of `load_after` (at the last stop, where it is 0) or of
    `minutes_out_of_zone` (where it is 0) read as 0 and passed. Per-zone fields list their zones
    exactly, so leaving one out is `format_rule`."""
    s, p = small
    p = copy.deepcopy(p)
    trip = lm_trip(p)
    obj = trip[field] if field == "load_at_departure" else trip["stops"][-1][field]
    assert obj, field
    del obj[sorted(obj)[0]]
    assert "format_rule" in causes(check_plan(s, p))


def test_more_trips_than_max_trips_is_named(small):
    """A last-mile duty with more trips than policies.max_trips allows: `too_many_trips` (another
    vehicle's trip moved onto a vehicle of the same type and depot that already makes as many trips as
    max_trips allows; max_trips set to the plan's largest number of trips a vehicle)."""
    from fulfil.scenario import Scenario

    s, p = small
    p = copy.deepcopy(p)
    lm = [d for d in p["duties"] if d["tier"] == "last_mile"]
    most = max(len(d["trips"]) for d in lm)
    one = Scenario.model_validate(s.model_copy(update={"policies": s.policies.model_copy(
        update={"max_trips": most})}).model_dump())
    a, b = next((a, b) for a in lm for b in lm if a is not b and len(a["trips"]) == most
                and (a["depot"], a["vehicle_type"]) == (b["depot"], b["vehicle_type"]))
    assert "too_many_trips" not in causes(check_plan(one, p))
    moved = b["trips"].pop(0)
    moved["id"] = f"{a['id']}.{len(a['trips']) + 1}"
    a["trips"].append(moved)
    assert "too_many_trips" in causes(check_plan(one, p))


def test_service_start_between_windows_is_named(small):
    """A stop's pickup point given two windows with a gap around the stop's reported start (the
    scenario edited, not the plan): the start lies between the windows, `between_windows`."""
    from fulfil.scenario import Scenario

    s, p = small
    pps = {pp.id: pp for pp in s.pickup_points}
    st = next(st for t in lm_duty(p)["trips"] for st in t["stops"]
              if pps[st["location"]].window.open + 20 < st["start"] < pps[st["location"]].window.close - 20)
    w = pps[st["location"]].window
    two = [[w.open, st["start"] - 10], [st["start"] + 10, w.close]]
    edited = Scenario.model_validate({**s.model_dump(), "pickup_points": [
        {**pp.model_dump(), "windows": two} if pp.id == st["location"] else pp.model_dump()
        for pp in s.pickup_points]})
    assert "between_windows" not in causes(check_plan(s, p))
    assert "between_windows" in causes(check_plan(edited, p))
