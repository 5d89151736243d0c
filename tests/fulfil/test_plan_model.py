"""fulfil.plan_model: the plan document (format version 2) as frozen pydantic models."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
from pydantic import ValidationError

from fulfil.errors import ScenarioError
from fulfil.pipeline import PlanParams, plan_night
from fulfil.plan_model import (FORMAT_VERSION, Duty, Plan, Trip, parse_plan, plan_json_schema, read_plan, trip_rows,
                               write_plan)
from fulfil.scenario import load_scenario

TINY = Path(__file__).resolve().parents[1] / "data" / "checker" / "tiny.toml"
PARAMS = PlanParams(time_limit_s=None, solution_limit=30, workers=1)


@pytest.fixture(scope="module")
def tiny_plan() -> Plan:
    return plan_night(load_scenario(TINY), PARAMS)


@pytest.fixture(scope="module")
def cold_plan(small_city) -> Plan:
    """A plan with the thermal model on: cold-chain values per stop and temperature traces."""
    return plan_night(load_scenario(small_city), PARAMS)


def _problems(doc) -> list[str]:
    with pytest.raises(ScenarioError) as info:
        parse_plan(doc, "p.json")
    return info.value.problems


@pytest.mark.parametrize("which", ["tiny_plan", "cold_plan"])
def test_round_trip_plan_json_read_plan(which, request, tmp_path):
    plan = request.getfixturevalue(which)
    path = tmp_path / "plan.json"
    write_plan(plan, path)
    back = read_plan(path)
    assert back == plan
    assert back.to_doc() == json.loads(path.read_text(encoding="utf-8"))
    assert parse_plan(json.loads(path.read_text())) == plan
    write_plan(back, tmp_path / "again.json")
    assert (tmp_path / "again.json").read_bytes() == path.read_bytes()


def test_cold_plan_carries_cold_chain_and_traces(cold_plan):
    stops = [s for d, t in cold_plan.trips() if d.tier == "last_mile" for s in t.stops if s.cold_chain]
    assert stops
    assert any(t.thermal is not None for _, t in cold_plan.trips())
    assert cold_plan.kpis.in_spec_share is not None


def test_document_uses_the_published_names(tiny_plan):
    doc = tiny_plan.to_doc()
    assert doc["format"] == "fulfil-plan" and doc["format_version"] == FORMAT_VERSION == 2
    trip = doc["duties"][0]["trips"][0]
    assert "return" in trip and "return_" not in trip
    assert "routes" not in doc
    assert all(v is not None for v in doc["kpis"].values())  # None values are left out of the document


def test_trips_and_trip_rows(tiny_plan):
    pairs = list(tiny_plan.trips())
    assert pairs and all(isinstance(d, Duty) and isinstance(t, Trip) for d, t in pairs)
    assert [t.id for _, t in pairs] == [t.id for d in tiny_plan.duties for t in d.trips]
    rows = trip_rows(tiny_plan)
    assert rows == trip_rows(tiny_plan.to_doc())
    assert [r["id"] for r in rows] == [t.id for _, t in pairs]
    for (d, t), r in zip(pairs, rows, strict=True):
        assert (r["duty"], r["tier"], r["vehicle_type"], r["vehicle"], r["depot"]) == (
            d.id, d.tier, d.vehicle_type, d.vehicle, d.depot)
        assert r["return"] == t.return_ and len(r["stops"]) == len(t.stops)


def test_models_are_frozen(tiny_plan):
    with pytest.raises(ValidationError):
        tiny_plan.kpis.cost = 0.0  # type: ignore[misc]
    with pytest.raises(ValidationError):
        tiny_plan.duties[0].trips[0].stops[0].arrival = 1.0  # type: ignore[misc]


def test_structural_error_is_located_by_field_path(tiny_plan, tmp_path):
    doc = tiny_plan.to_doc()
    assert len(doc["duties"][0]["trips"][0]["stops"]) >= 2
    doc["duties"][0]["trips"][0]["stops"][1]["arrival"] = "late"
    problems = _problems(doc)
    assert len(problems) == 1
    assert problems[0].startswith("p.json: duties[0].trips[0].stops[1].arrival: ")
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(doc))
    with pytest.raises(ScenarioError, match=r"bad\.json: duties\[0\]\.trips\[0\]\.stops\[1\]\.arrival"):
        read_plan(path)


def test_every_problem_is_listed_with_its_path(tiny_plan):
    doc = copy.deepcopy(tiny_plan.to_doc())
    del doc["duties"][0]["trips"][0]["return"]
    doc["duties"][-1]["vehicle"] = "two"
    doc["kpis"]["extra_kpi"] = 1
    doc["unserved"][0]["units"] = float("nan")
    problems = _problems(doc)
    last = len(doc["duties"]) - 1
    assert "p.json: duties[0].trips[0].return: missing key" in problems
    assert any(p.startswith(f"p.json: duties[{last}].vehicle: ") for p in problems)
    assert "p.json: kpis.extra_kpi: unknown key (not part of the plan format)" in problems
    assert any(p.startswith("p.json: unserved[0].units: ") for p in problems)
    assert len(problems) == 4


def test_nan_and_infinity_are_refused(tiny_plan, tmp_path):
    doc = tiny_plan.to_doc()
    doc["duties"][0]["trips"][0]["stops"][0]["departure"] = float("inf")
    assert any("stops[0].departure" in p for p in _problems(doc))
    doc = tiny_plan.to_doc()
    doc["kpis"]["cost"] = float("nan")
    path = tmp_path / "nan.json"
    path.write_text(json.dumps(doc))  # the JSON constant NaN: read as nan, then refused
    with pytest.raises(ScenarioError, match=r"kpis\.cost"):
        read_plan(path)


def test_version_1_plan_is_refused_with_a_clear_message(tiny_plan):
    doc = tiny_plan.to_doc()
    old = {k: v for k, v in doc.items() if k != "duties"}
    old["format_version"] = 1
    old["routes"] = [{"id": "L-FW1-01", "tier": "last_mile", "stops": []}]
    problems = _problems(old)
    v = [p for p in problems if p.startswith("p.json: format_version: ")]
    assert v and "format_version 1 is not supported" in v[0] and "re-plan" in v[0] and "routes" in v[0]
    with pytest.raises(ScenarioError, match="format_version 3 is not supported"):
        parse_plan({**doc, "format_version": 3})


def test_not_a_plan(tmp_path):
    assert _problems([1, 2]) == ["p.json: the top level must be a JSON object"]
    problems = _problems({"format": "something-else", "format_version": 2})
    assert any("format: expected 'fulfil-plan'" in p and "is this a plan file?" in p for p in problems)
    with pytest.raises(ScenarioError, match="plan file not found"):
        read_plan(tmp_path / "missing.json")
    bad = tmp_path / "broken.json"
    bad.write_text('{"format": ')
    with pytest.raises(ScenarioError, match=r"broken\.json: malformed JSON at line 1"):
        read_plan(bad)


def test_a_plan_is_not_re_validated_when_passed_through(tiny_plan):
    assert parse_plan(tiny_plan) is tiny_plan


def test_json_schema_describes_the_document(tiny_plan):
    schema = plan_json_schema()
    assert schema["title"] == "fulfil plan, format version 2"
    assert {"format", "format_version", "kpis", "duties", "unserved", "scenario"} <= set(schema["required"])
    assert "return" in schema["$defs"]["Trip"]["properties"]
    assert schema["additionalProperties"] is False
    assert set(tiny_plan.to_doc()) <= set(schema["properties"])


# --------------------------------------------------------------------------- the published JSON Schema
DOCS = Path(__file__).resolve().parents[2] / "docs"


def _validator():
    jsonschema = pytest.importorskip("jsonschema")
    schema = json.loads((DOCS / "plan_schema.json").read_text(encoding="utf-8"))
    cls = jsonschema.validators.validator_for(schema)
    cls.check_schema(schema)
    return cls(schema)


def _schema_errors(doc) -> list[str]:
    return [f"{e.json_path}: {e.message[:200]}" for e in _validator().iter_errors(doc)]


def test_committed_schema_is_the_generated_one():
    """docs/plan_schema.json is what docs/make_plan_schema.py writes from the models (regenerate it with
    ``python docs/make_plan_schema.py`` after changing fulfil/plan_model.py)."""
    committed = (DOCS / "plan_schema.json").read_text(encoding="utf-8")
    assert committed == json.dumps(plan_json_schema(), indent=1, sort_keys=True) + "\n"


def test_tiny_plan_written_by_the_planner_validates_against_the_schema(tmp_path):
    from fulfil.cli import main

    out = tmp_path / "tiny"
    rc = main(["-q", "plan", str(TINY), "--out", str(out), "--time-limit", "0", "--solutions", "30",
               "--workers", "1", "--charts", "0"])
    assert rc == 0
    doc = json.loads((out / "plan.json").read_text(encoding="utf-8"))
    assert doc["unserved"] and "check" in doc
    assert _schema_errors(doc) == []


def test_demo_city_plan_validates_against_the_schema(demo_plan, tmp_path):
    """The demo city planned with a short budget (the session's demo_plan), written as `fulfil plan` writes it
    (with the checker's result), validates; a value of the wrong type is located by the schema as well."""
    from fulfil.plan_model import CheckResult

    _, plan = demo_plan
    plan = plan.model_copy(update={"check": CheckResult(violations=0, by_cause={})})
    write_plan(plan, tmp_path / "plan.json")
    doc = json.loads((tmp_path / "plan.json").read_text(encoding="utf-8"))
    assert any("cold_chain" in s for d in doc["duties"] for t in d["trips"] for s in t["stops"])
    assert _schema_errors(doc) == []
    doc["duties"][0]["trips"][0]["stops"][0]["arrival"] = "late"
    errors = _schema_errors(doc)
    assert len(errors) == 1 and errors[0].startswith("$.duties[0].trips[0].stops[0].arrival")


def test_schema_rejects_what_the_model_rejects(tiny_plan):
    doc = tiny_plan.to_doc()
    doc["routes"] = []
    del doc["duties"][0]["trips"][0]["return"]
    errors = _schema_errors(doc)
    assert any("'routes'" in e for e in errors) and any("'return'" in e for e in errors)


def test_booleans_and_numeric_strings_are_not_numbers(tiny_plan):
    """The model is strict, as the published schema: ``true`` is not one crate, ``"1.5"`` is not 1.5 kg."""
    doc = tiny_plan.to_doc()
    stop = doc["duties"][0]["trips"][0]["stops"][0]
    zone = next(iter(stop["delivered"]))
    stop["delivered"][zone] = {"crates": True, "kg": "1.5"}
    problems = _problems(doc)
    assert any(p.endswith(f"delivered.{zone}.crates: Input should be a valid integer") for p in problems), problems
    assert any(f"delivered.{zone}.kg:" in p for p in problems), problems
