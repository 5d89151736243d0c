"""Scenario loading: good files load to the same model, bad files fail with located messages.

Bad files live in ``tests/data/bad/``, one defect each, named after the defect
(CSV files there are tables the scenario files point to).  Good files live in
``tests/data/good/``: ``mini.{toml,yaml,json}`` are one small scenario in three
formats and ``mini_csv.toml`` is the same scenario with CSV tables.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from pydantic import ValidationError

from fulfil.errors import ScenarioError
from fulfil.scenario import Scenario, load_scenario
from fulfil.scenario.schema import Policies

DATA = Path(__file__).resolve().parent.parent / "data"
GOOD = DATA / "good"
BAD = DATA / "bad"

#: Bad file → substrings that must each appear in one reported problem line.  Every
#: substring starts with the file the problem is in and the field path, so the test
#: checks the location as well as the message.
EXPECTED: dict[str, list[str]] = {
    # syntax and file type
    "malformed_toml.toml": ["malformed_toml.toml: malformed TOML:", "(at line 3"],
    "malformed_json.json": ["malformed_json.json: malformed JSON at line 4, column 3:"],
    "malformed_yaml.yaml": ["malformed_yaml.yaml: malformed YAML at line 18"],
    "duplicate_key_json.json": ["duplicate_key_json.json: malformed JSON: key 'name' appears twice"],
    "duplicate_key_yaml.yaml": ["duplicate_key_yaml.yaml: malformed YAML at line 4, column 1: duplicate key 'name'"],
    "unsupported_extension.ini": ["unsupported_extension.ini: unknown file type '.ini'; use .toml, .yaml, .yml or .json"],
    "wrong_format_version.toml": ["wrong_format_version.toml: format_version: format_version 2 is not supported"],
    # structure and types
    "unknown_top_level_field.toml": ["unknown_top_level_field.toml: vehicle_count: unknown field"],
    "unknown_vehicle_field.toml": [
        "unknown_vehicle_field.toml: vehicle_types[1].refridgerated: unknown field (did you mean 'refrigerated'?)"
    ],
    "top_level_key_after_table.toml": [
        "top_level_key_after_table.toml: region.description: unknown field; 'description' is a top-level key"
    ],
    "missing_required_field.toml": ["missing_required_field.toml: products[1].zone: required field is missing"],
    "wrong_type_string_for_number.toml": [
        "wrong_type_string_for_number.toml: vehicle_types[1].count: Input should be a valid integer",
        "(got 'two')",
    ],
    "unknown_zone.toml": ["unknown_zone.toml: products[0].zone: Input should be 'frozen', 'chilled' or 'ambient' (got 'frosen')"],
    "bad_id_characters.toml": ["bad_id_characters.toml: vehicle_types[0].id: ids may only use letters, digits"],
    # values
    "negative_capacity.toml": [
        "negative_capacity.toml: forward_warehouses[0].capacity.frozen: Input should be greater than or equal to 0 (got -5)"
    ],
    "zero_compartment_crates.toml": [
        "zero_compartment_crates.toml: vehicle_types[1].compartments[0].crates: Input should be greater than 0"
    ],
    "window_opens_after_close.toml": ["window_opens_after_close.toml: pickup_points[0].window: opens after it closes"],
    "bad_clock_string.toml": ["bad_clock_string.toml: pickup_points[0].window.close: '25:99' is not a valid clock time"],
    "latitude_out_of_range.toml": [
        "latitude_out_of_range.toml: central_warehouses[0].lat: Input should be less than or equal to 90 (got 95.0)"
    ],
    "swapped_lon_lat.toml": ["swapped_lon_lat.toml: pickup_points[0].lat:", "lon and lat look swapped"],
    "swapped_lon_lat_in_region.yaml": [
        "swapped_lon_lat_in_region.yaml: pickup_points[0]: (39.48, -0.38) lies outside region 'Valencia'",
        "lon and lat look swapped",
    ],
    "locker_without_cells.toml": ["locker_without_cells.toml: pickup_points[1]: a locker needs 'cells'"],
    # ids and references
    "duplicate_pickup_id.toml": [
        "duplicate_pickup_id.toml: pickup_points[2].id: duplicate id 'PP1' (first used at pickup_points[0])"
    ],
    "duplicate_product_id.toml": ["duplicate_product_id.toml: products[3].id: duplicate id 'milk'"],
    "id_reused_across_sections.toml": [
        "id_reused_across_sections.toml: pickup_points[2].id: id 'FW1' is also used in forward_warehouses"
    ],
    "unknown_vehicle_home.toml": ["unknown_vehicle_home.toml: vehicle_types[1].home:", "'FW9' is not one"],
    "unknown_pinned_forward_warehouse.toml": [
        "unknown_pinned_forward_warehouse.toml: pickup_points[1].forward_warehouse: unknown forward warehouse 'FW2'"
    ],
    "unknown_forward_central.toml": [
        "unknown_forward_central.toml: forward_warehouses[0].central: unknown central warehouse 'CW2'"
    ],
    "demand_unknown_pickup_point.toml": [
        "demand_unknown_pickup_point.toml: demand[1].pickup_point: unknown pickup point 'PP3'"
    ],
    "demand_unknown_product.toml": ["demand_unknown_product.toml: demand[1].items.butter: unknown product 'butter'"],
    "demand_twice_for_pickup_point.toml": [
        "demand_twice_for_pickup_point.toml: demand[1].pickup_point: second demand row for 'PP1'"
    ],
    "stock_unknown_warehouse.toml": ["stock_unknown_warehouse.toml: stock[0].warehouse: unknown central warehouse 'CW9'"],
    "unknown_speed_profile.toml": [
        "unknown_speed_profile.toml: vehicle_types[1].speed_profile: unknown speed profile 'fast'"
    ],
    # fleet and cold chain
    "product_zone_without_compartment.toml": [
        "product_zone_without_compartment.toml: products[0].zone: no trunk vehicle has a 'frozen' compartment",
        "product_zone_without_compartment.toml: products[0].zone: no last-mile vehicle has a 'frozen' compartment",
    ],
    "frozen_compartment_unrefrigerated.toml": [
        "frozen_compartment_unrefrigerated.toml: vehicle_types[1].compartments[0].zone:"
        " an unrefrigerated vehicle cannot carry frozen goods"
    ],
    "trunk_vehicle_at_forward_warehouse.toml": [
        "trunk_vehicle_at_forward_warehouse.toml: vehicle_types[0].home: trunk vehicles need a central warehouse home",
        "(it is a forward warehouse",
    ],
    "last_mile_vehicle_at_central_warehouse.toml": [
        "last_mile_vehicle_at_central_warehouse.toml: vehicle_types[1].home:"
        " last-mile vehicles need a forward warehouse home",
    ],
    # CSV tables
    "missing_csv_table.toml": [
        "missing_csv_table.toml: pickup_points_csv: CSV file 'missing_csv_table_pickup_points.csv' not found"
    ],
    "csv_bad_value.toml": ["csv_bad_value_pickup_points.csv: row 3: lat: Input should be a valid number", "(got '28.2x')"],
    "csv_bad_demand_quantity.toml": [
        "csv_bad_demand_quantity_demand.csv: row 3: milk: Input should be a valid integer",
        "(got 'six')",
    ],
    # several at once
    "three_independent_defects.toml": [
        "three_independent_defects.toml: pickup_points[0].window: opens after it closes",
        "three_independent_defects.toml: vehicle_types[1].speed_profile: unknown speed profile 'fast'",
        "three_independent_defects.toml: demand[1].items.butter: unknown product 'butter'",
    ],
}


def _problems(path: Path) -> list[str]:
    with pytest.raises(ScenarioError) as info:
        load_scenario(path)
    assert info.value.exit_code == 2
    return info.value.problems


def _bad_scenario_files() -> list[str]:
    return sorted(p.name for p in BAD.iterdir() if p.suffix != ".csv")


def test_every_bad_file_has_an_expectation():
    """Every scenario file in tests/data/bad/ is listed in EXPECTED, and every entry exists."""
    assert _bad_scenario_files() == sorted(EXPECTED)
    assert len(EXPECTED) >= 24


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_bad_file_reports_located_problem(name: str):
    """Each bad file raises ScenarioError whose lines name the file, the field path and what is wrong."""
    problems = _problems(BAD / name)
    assert problems, "a ScenarioError must carry at least one problem"
    for line in problems:
        assert ": " in line and line.split(": ", 1)[0].endswith((".toml", ".yaml", ".json", ".csv", ".ini")), line
    for fragment in EXPECTED[name]:
        assert any(fragment in line for line in problems), f"{fragment!r} not in {problems!r}"


def test_independent_problems_reported_at_once():
    """Three independent defects (one per-record, two cross-record) are all reported in one error, and
    the record left out for its own defect is not reported again as a dangling reference."""
    with pytest.raises(ScenarioError) as info:
        load_scenario(BAD / "three_independent_defects.toml")
    problems = info.value.problems
    assert len(problems) == 3, problems
    assert str(info.value).startswith("3 problems found:")
    for fragment in EXPECTED["three_independent_defects.toml"]:
        assert sum(fragment in line for line in problems) == 1


def test_missing_file_is_a_scenario_error(tmp_path: Path):
    """A path that does not exist is reported as bad input, naming the path."""
    problems = _problems(tmp_path / "nope.toml")
    assert problems == [f"{tmp_path / 'nope.toml'}: file not found"]


def test_toml_yaml_json_load_equal():
    """The TOML, YAML and JSON forms of the same scenario load to equal Scenario objects."""
    toml = load_scenario(GOOD / "mini.toml")
    assert isinstance(toml, Scenario)
    assert load_scenario(GOOD / "mini.yaml") == toml
    assert load_scenario(GOOD / "mini.json") == toml


def test_csv_tables_load():
    """Pickup points, demand and stock given as CSV tables load to the same records as inline sections."""
    csv_form = load_scenario(GOOD / "mini_csv.toml")
    assert csv_form == load_scenario(GOOD / "mini.toml")
    pp1, pp2 = csv_form.pickup_points
    assert (pp1.id, pp1.kind, pp1.cells, pp1.forward_warehouse) == ("PP1", "leader_shop", None, None)
    assert (pp2.kind, pp2.cells, pp2.forward_warehouse) == ("locker", {"frozen": 8, "chilled": 20, "ambient": 40}, "FW1")
    assert (pp2.window.open, pp2.window.close) == (6 * 60 + 30, 12 * 60)
    assert csv_form.demand[1].items == {"milk": 6}  # empty cells are no demand
    assert csv_form.stock[0].quantity == 500


def test_defaults_applied():
    """Fields left out get their documented defaults (policies, speed profile, product and vehicle fields)."""
    s = load_scenario(GOOD / "mini.toml")
    assert s.policies == Policies()
    assert s.policies.last_mile_dispatch == 7 * 60
    assert [p.id for p in s.speed_profiles] == ["default"]
    assert len(s.speed_profiles[0].hourly_factors) == 24
    assert all(v.speed_profile == "default" for v in s.vehicle_types)
    milk = s.products[1]
    assert (milk.kg_per_unit, milk.units_per_crate, milk.max_minutes_out_of_zone, milk.price) == (0.8, 15.0, 120.0, 0.0)
    assert s.pickup_points[0].kind == "leader_shop"
    assert s.vehicle_types[0].insulated_box_minutes == 0.0
    assert s.description == "" and s.matrix is None


def test_clock_times_become_minutes(tmp_path: Path):
    """Clock strings and unquoted TOML local times both load as minutes since midnight."""
    s = load_scenario(GOOD / "mini.toml")
    assert (s.pickup_points[0].window.open, s.pickup_points[0].window.close) == (420.0, 690.0)
    text = (GOOD / "mini.toml").read_text().replace('["07:00", "11:30"]', "[07:00:00, 11:30:00]")
    (tmp_path / "local_time.toml").write_text(text)
    assert load_scenario(tmp_path / "local_time.toml") == s


def test_model_is_frozen():
    """The loaded model is immutable: assigning to the scenario or a nested record raises."""
    s = load_scenario(GOOD / "mini.toml")
    with pytest.raises(ValidationError):
        s.name = "other"  # type: ignore[misc]
    with pytest.raises(ValidationError):
        s.pickup_points[0].lat = 0.0  # type: ignore[misc]
    with pytest.raises(ValidationError):
        s.policies.promise_minutes = 1.0  # type: ignore[misc]
    assert s.name == "mini" and s.pickup_points[0].lat == 28.16


def test_csv_problem_repeated_on_many_rows_is_one_line(tmp_path: Path):
    """A mistake repeated on every CSV row (a misspelt column) is reported once, with the rows it is on."""
    for name in ("mini_csv.toml", "mini_demand.csv", "mini_stock.csv"):
        shutil.copy(GOOD / name, tmp_path / name)
    rows = [f"PP{i},{112.9 + i / 100:.2f},28.1{i},07:00,11:30" for i in range(1, 7)]
    (tmp_path / "mini_pickup_points.csv").write_text("id,lng,lat,open,close\n" + "\n".join(rows) + "\n")
    problems = _problems(tmp_path / "mini_csv.toml")
    assert "mini_pickup_points.csv: rows 2, 3, 4 and 3 more: lng: unknown field (did you mean 'lon'?)" in problems
    assert "mini_pickup_points.csv: rows 2, 3, 4 and 3 more: lon: required field is missing" in problems


# --------------------------------------------------------------------------- Scenario built in code


def _mini_doc() -> dict:
    import tomllib

    return tomllib.loads((GOOD / "mini.toml").read_text())


def test_scenario_built_in_code_runs_cross_record_checks():
    """`Scenario(**doc)` and `Scenario.model_validate(doc)` run the cross-record checks the loader runs:
    every problem is one ValidationError entry located at its field, with the loader's message."""
    doc = _mini_doc()
    doc["pickup_points"][1]["forward_warehouse"] = "FW9"
    doc["demand"][1]["items"] = {"butter": 2}
    for build in (lambda d: Scenario(**d), Scenario.model_validate):
        with pytest.raises(ValidationError) as info:
            build(doc)
        errors = {(e["loc"], e["msg"]) for e in info.value.errors()}
        assert {e["type"] for e in info.value.errors()} == {"cross_record"}
        fw9 = "unknown forward warehouse 'FW9' (did you mean 'FW1'?)"
        assert (("pickup_points", 1, "forward_warehouse"), fw9) in errors
        assert (("demand", 1, "items", "butter"), "unknown product 'butter' (defined: dumplings, milk, rice)") in errors
        assert len(errors) == 2
        assert "pickup_points.1.forward_warehouse\n  unknown forward warehouse 'FW9'" in str(info.value)


def test_scenario_built_in_code_valid_document():
    """A valid document builds the same Scenario in code as through the loader."""
    assert Scenario(**_mini_doc()) == load_scenario(GOOD / "mini.toml")


# --------------------------------------------------------------------------- dict and text sources


def test_load_from_dict_equals_file_and_leaves_dict_alone():
    """A parsed document loads to the same Scenario as its file, and is not modified."""
    doc = _mini_doc()
    before = repr(doc)
    assert load_scenario(doc) == load_scenario(GOOD / "mini.toml")
    assert repr(doc) == before


def test_load_from_dict_resolves_csv_tables_against_base_dir(tmp_path: Path, monkeypatch):
    """CSV table references in a dict are relative to base_dir (default: the current directory)."""
    import tomllib

    doc = tomllib.loads((GOOD / "mini_csv.toml").read_text())
    want = load_scenario(GOOD / "mini_csv.toml")
    assert load_scenario(doc, base_dir=GOOD) == want
    assert load_scenario(doc, base_dir=str(GOOD)) == want
    monkeypatch.chdir(GOOD)
    assert load_scenario(doc) == want
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ScenarioError) as info:
        load_scenario(doc)
    assert any(
        line.startswith("<dict>: pickup_points_csv: CSV file 'mini_pickup_points.csv' not found")
        for line in info.value.problems
    ), info.value.problems


@pytest.mark.parametrize("fmt", ["toml", "yaml", "json", "TOML", "yml"])
def test_load_from_text_with_format(fmt: str):
    """Text with a format name loads to the same Scenario as the file of that format."""
    suffix = {"toml": "toml", "yaml": "yaml", "yml": "yaml", "json": "json"}[fmt.lower()]
    text = (GOOD / f"mini.{suffix}").read_text()
    assert load_scenario(text, format=fmt) == load_scenario(GOOD / "mini.toml")


def test_text_with_csv_tables_uses_base_dir():
    """CSV table references in text are relative to base_dir, like a dict's."""
    text = (GOOD / "mini_csv.toml").read_text()
    assert load_scenario(text, format="toml", base_dir=GOOD) == load_scenario(GOOD / "mini_csv.toml")


def test_dict_and_text_problems_name_their_source():
    """Without a file, problem lines name `<dict>` or `<text>` in its place, with the field path; per-record
    and cross-record problems are reported at once, as for a file."""
    doc = _mini_doc()
    doc["pickup_points"][0]["window"] = ["11:30", "07:00"]
    doc["vehicle_types"][1]["speed_profile"] = "fast"
    doc["demand"][1]["items"] = {"butter": 1}
    with pytest.raises(ScenarioError) as info:
        load_scenario(doc)
    assert info.value.exit_code == 2
    problems = info.value.problems
    assert len(problems) == 3, problems
    for fragment in (
        "<dict>: pickup_points[0].window: opens after it closes",
        "<dict>: vehicle_types[1].speed_profile: unknown speed profile 'fast'",
        "<dict>: demand[1].items.butter: unknown product 'butter'",
    ):
        assert sum(line.startswith(fragment) for line in problems) == 1, (fragment, problems)

    text = (GOOD / "mini.toml").read_text().replace('forward_warehouse = "FW1"', 'forward_warehouse = "FW2"')
    with pytest.raises(ScenarioError) as info:
        load_scenario(text, format="toml")
    assert [p.split(" (")[0] for p in info.value.problems] == [
        "<text>: pickup_points[1].forward_warehouse: unknown forward warehouse 'FW2'"
    ]


def test_text_syntax_errors_and_unknown_format_name_the_text():
    """Malformed text and an unknown format name are bad input located at `<text>`."""
    with pytest.raises(ScenarioError) as info:
        load_scenario('name = "x"\n[region\n', format="toml")
    assert info.value.problems[0].startswith("<text>: malformed TOML:")
    with pytest.raises(ScenarioError) as info:
        load_scenario('{"name": "a", "name": "b"}', format="json")
    assert info.value.problems == ["<text>: malformed JSON: key 'name' appears twice in one object"]
    with pytest.raises(ScenarioError) as info:
        load_scenario("a: [1", format="yaml")
    assert info.value.problems[0].startswith("<text>: malformed YAML")
    with pytest.raises(ScenarioError) as info:
        load_scenario("[1, 2]", format="json")
    assert info.value.problems == ["<text>: the top level must be a table/mapping of sections"]
    with pytest.raises(ScenarioError) as info:
        load_scenario("x = 1", format="ini")
    assert info.value.problems == ["<text>: unknown format 'ini'; use toml, yaml or json"]


def test_toml_text_keeps_the_top_level_key_hint():
    """The TOML-specific hint (a top-level key written after a [section] header) also applies to TOML text."""
    text = (BAD / "top_level_key_after_table.toml").read_text()
    with pytest.raises(ScenarioError) as info:
        load_scenario(text, format="toml")
    assert any(
        line.startswith("<text>: region.description: unknown field; 'description' is a top-level key")
        for line in info.value.problems
    ), info.value.problems


def test_load_scenario_rejects_a_format_with_a_path_or_a_dict():
    """`format=` only goes with text: with a path or a dict it is a programming error (TypeError)."""
    with pytest.raises(TypeError):
        load_scenario(GOOD / "mini.toml", format="toml")
    with pytest.raises(TypeError):
        load_scenario(_mini_doc(), format="toml")
    with pytest.raises(TypeError):
        load_scenario(42)  # type: ignore[arg-type]
