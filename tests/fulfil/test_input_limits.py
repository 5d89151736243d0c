"""Bad input of every shape and size is a located error (exit 2), never a crash or a flood.

Each test here failed on the loader before issue 13: the input gave exit 1 (a traceback
caught as an internal error), passed validation although no plan could be made of it,
read files outside the scenario's folder, or printed one line per bad row.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import fulfil.scenario.load as load
from fulfil.cli import main
from fulfil.errors import ScenarioError
from fulfil.scenario import load_scenario
from fulfil.scenario.schema import MAX_VEHICLES_PER_TYPE

ROOT = Path(__file__).resolve().parents[2]
GOOD = ROOT / "tests" / "data" / "good"
MINI = (GOOD / "mini.toml").read_text()
MINI_CSV = (GOOD / "mini_csv.toml").read_text()


def _problems(path: Path, **kw) -> list[str]:
    with pytest.raises(ScenarioError) as info:
        load_scenario(path, **kw)
    assert info.value.exit_code == 2
    return info.value.problems


def _write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(text)
    return path


def _csv_copy(folder: Path, *replace: tuple[str, str]) -> Path:
    """mini_csv.toml and its tables in ``folder``, the TOML edited by ``replace``."""
    folder.mkdir(parents=True, exist_ok=True)
    for f in GOOD.glob("mini_*.csv"):
        shutil.copy(f, folder / f.name)
    text = MINI_CSV
    for old, new in replace:
        assert old in text
        text = text.replace(old, new)
    return _write(folder, "s.toml", text)


# --------------------------------------------------------------------------- documents


@pytest.mark.parametrize(("name", "text"), [
    ("deep.json", '{"format_version": 1, "x": ' + "[" * 100_000 + "]" * 100_000 + "}"),
    ("deep.toml", "x = " + "[" * 100_000 + "]" * 100_000 + "\n"),
    ("deep_tables.toml", "x = " + "{a = " * 5000 + "1" + "}" * 5000 + "\n"),
    ("deep.yaml", "x: " + "[" * 100_000 + "]" * 100_000 + "\n"),
    ("medium.json", '{"x": ' + "[" * 500 + "]" * 500 + "}"),  # parses, but deeper than any scenario
])
def test_deeply_nested_document_is_located(tmp_path: Path, name: str, text: str):
    (line,) = _problems(_write(tmp_path, name, text))
    assert line.startswith(f"{name}: ") and "nested" in line


@pytest.mark.parametrize(("name", "text", "where"), [
    ("digits.toml", MINI.replace("count = 1", "count = " + "1" * 5000, 1), "at line 60, column 9"),
    ("digits.json", '{"format_version": ' + "1" * 5000 + "}", "at line 1, column 20"),
    ("digits.yaml", "format_version: " + "1" * 5000 + "\n", "at line 1, column 17"),
])
def test_five_thousand_digit_integer_is_located(tmp_path: Path, name: str, text: str, where: str):
    (line,) = _problems(_write(tmp_path, name, text))
    assert line.startswith(f"{name}: malformed ") and where in line and "more than 4300 digits" in line


def test_yaml_aliases_expanding_without_end_are_refused(tmp_path: Path, monkeypatch):
    """A "billion laughs" document is refused while it is counted, before pydantic walks it."""
    monkeypatch.setattr(load, "MAX_VALUES", 10_000)
    lines = ["a0: &a0 [1, 1, 1, 1, 1, 1, 1, 1, 1, 1]"]
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]" for i in range(1, 8)]
    (line,) = _problems(_write(tmp_path, "bomb.yaml", "\n".join(lines) + "\n"))
    assert line.startswith("bomb.yaml: more than 10000 values")


@pytest.mark.parametrize(("old", "new", "expected"), [
    ("orders = 12", f"orders = {10**30}", "demand[0].orders: Input should be less than or equal to 100000"),
    ("milk = 10", f"milk = {2**62}", "demand[0].items.milk: Input should be less than or equal to 1000000"),
    ("units_per_crate = 16", "units_per_crate = 1e-300",
     "products[0].units_per_crate: Input should be greater than or equal to 0.01"),
    ("kg_per_unit = 0.9", "kg_per_unit = 1e30", "products[0].kg_per_unit: Input should be less than or equal to 1000"),
    ("kg_per_unit = 0.9", "kg_per_unit = inf", "products[0].kg_per_unit:"),
    ("count = 2", "count = 100000",
     f"vehicle_types[1].count: Input should be less than or equal to {MAX_VEHICLES_PER_TYPE}"),
    ("count = 2", "count = true", "vehicle_types[1].count: expected a number, not true"),
    ("format_version = 1", "format_version = true", "format_version: Input should be a valid integer (got True)"),
    ("format_version = 1", "format_version = 1.0", "format_version: Input should be a valid integer (got 1.0)"),
    ('window = ["07:00", "11:30"]', 'window = ["07:00", "' + "1" * 5000 + ':00"]',
     "pickup_points[0].window.close: expected a clock time like '07:30'"),
])
def test_absurd_number_is_refused_at_its_field(tmp_path: Path, old: str, new: str, expected: str):
    assert old in MINI
    problems = _problems(_write(tmp_path, "s.toml", MINI.replace(old, new, 1)))
    assert any(line.startswith("s.toml: " + expected) for line in problems), problems


def test_fleet_above_the_total_is_refused(tmp_path: Path, monkeypatch):
    import fulfil.scenario.schema as schema

    monkeypatch.setattr(schema, "MAX_VEHICLES", 2)
    (line,) = _problems(_write(tmp_path, "s.toml", MINI))
    assert line == "s.toml: vehicle_types: 3 vehicles in all; at most 2 are supported"


@pytest.mark.parametrize(("old", "new", "field"), [
    ('name = "mini"', 'name = "mini\\u001b[31mRED\\u001b[0m"', "name"),
    ('id = "milk"', 'id = "milk"\nname = "m\\u001b]0;title\\u0007"', "products[1].name"),
    ('name = "Changsha"', 'name = "Chang\\u202esha"', "region.name"),
    ('name = "mini"', 'name = "mini"\ndescription = "two\\nlines \\u009b31m"', "description"),
])
def test_control_characters_in_names_are_refused(tmp_path: Path, old: str, new: str, field: str):
    problems = _problems(_write(tmp_path, "s.toml", MINI.replace(old, new, 1)))
    assert any(line.startswith(f"s.toml: {field}: control character U+") for line in problems), problems
    assert not any("\x1b" in line or "\x9b" in line for line in problems)


def test_control_characters_in_keys_are_escaped_in_the_report(tmp_path: Path):
    problems = _problems(_write(tmp_path, "s.toml", MINI.replace("count = 2", 'count = 2\n"x\\u001b[2J" = 1')))
    assert problems == ["s.toml: vehicle_types[1].x\\x1b[2J: unknown field (check the spelling; see scenarios/README.md)"]


def test_unreadable_scenario_file_is_located(tmp_path: Path, monkeypatch):
    path = _write(tmp_path, "s.toml", MINI)

    def denied(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr("fulfil.textio.open", denied, raising=False)
    assert _problems(path) == [f"{path}: permission denied (cannot read it)"]


def test_scenario_path_that_is_no_file_is_located(tmp_path: Path):
    (tmp_path / "folder.toml").mkdir()
    assert _problems(tmp_path / "folder.toml") == [f"{tmp_path / 'folder.toml'}: is a folder, not a file"]
    os.symlink("loop.toml", tmp_path / "loop.toml")
    assert _problems(tmp_path / "loop.toml") == [f"{tmp_path / 'loop.toml'}: a symlink loop"]
    (line,) = _problems(tmp_path / ("a" * 5000 + ".toml"))
    assert "the path is 50" in line and len(line) < 400


# --------------------------------------------------------------------------- table references


@pytest.mark.parametrize(("ref", "expected"), [
    ("mini\\u0000demand.csv", "s.toml: demand_csv: the path holds a NUL byte"),
    ("a" * 5000 + ".csv", "s.toml: demand_csv: the path is 5004 characters long; at most 4096 are accepted"),
    ("loop.csv", "s.toml: demand_csv: CSV file 'loop.csv': a symlink loop"),
    ("sub", "s.toml: demand_csv: CSV file 'sub': is a folder, not a CSV file"),
    ("/proc/self/environ", "s.toml: demand_csv: CSV file '/proc/self/environ' lies outside the folder of this file"),
    ("../../../../../../../../etc/passwd", "s.toml: demand_csv: CSV file '../../../../../../../../etc/passwd' lies "
                                           "outside the folder of this file"),
    ("link_out.csv", "s.toml: demand_csv: CSV file 'link_out.csv' lies outside the folder of this file"),
])
def test_bad_table_reference_is_refused_without_opening_it(tmp_path: Path, monkeypatch, ref: str, expected: str):
    path = _csv_copy(tmp_path / "s", ('"mini_demand.csv"', f'"{ref}"'))
    os.symlink("loop.csv", tmp_path / "s" / "loop.csv")
    os.symlink("/etc/hostname", tmp_path / "s" / "link_out.csv")
    (tmp_path / "s" / "sub").mkdir()
    opened: list[str] = []
    real_open = Path.open

    def spy(self, *args, **kwargs):
        opened.append(self.name)
        return real_open(self, *args, **kwargs)

    monkeypatch.setattr(Path, "open", spy)
    problems = _problems(path)
    assert any(line.startswith(expected) for line in problems), problems
    assert opened == ["mini_pickup_points.csv", "mini_stock.csv"]


def test_files_outside_are_read_when_allowed_but_not_echoed(tmp_path: Path, monkeypatch):
    """With the opt-in, a file that is no table is refused by its header, quoting nothing of it."""
    secret = _write(tmp_path, "secret.txt", "password=hunter2,token\nroot:x:0:0\n")
    path = _csv_copy(tmp_path / "s", ('"mini_demand.csv"', f'"{secret}"'))
    problems = _problems(path, allow_outside=True)
    assert problems == ["secret.txt: row 1: not a demand table: the header has none of the columns pickup_point, orders"]
    monkeypatch.setenv(load.ALLOW_OUTSIDE_ENV, "1")
    assert _problems(path) == problems
    assert "outside the folder" in _problems(path, allow_outside=False)[0]


def test_unreadable_table_is_located(tmp_path: Path, monkeypatch):
    path = _csv_copy(tmp_path / "s")
    real_open = Path.open

    def denied(self, *args, **kwargs):
        if self.name == "mini_stock.csv":
            raise PermissionError(13, "Permission denied")
        return real_open(self, *args, **kwargs)

    monkeypatch.setattr(Path, "open", denied)
    assert _problems(path) == ["mini_stock.csv: cannot read it: permission denied (cannot read it)"]


# --------------------------------------------------------------------------- table headers and sizes


@pytest.mark.parametrize(("header", "expected"), [
    ("xx yy zz,\x01\x02,!!", ["mini_demand.csv: row 1: not a demand table: the header has none of the columns "
                              "pickup_point, orders"]),
    ("pickup_point,orders,milk,butter", ["mini_demand.csv: row 1: butter: unknown product 'butter'"]),
    ("pickup_point,milk", ["mini_demand.csv: row 1: orders: missing column"]),
])
def test_demand_header_is_checked_without_rows(tmp_path: Path, header: str, expected: list[str]):
    path = _csv_copy(tmp_path / "s")
    (tmp_path / "s" / "mini_demand.csv").write_text(header + "\n")
    problems = _problems(path)
    for fragment in expected:
        assert any(line.startswith(fragment) for line in problems), problems


def test_pickup_header_is_checked_without_rows(tmp_path: Path):
    path = _csv_copy(tmp_path / "s")
    (tmp_path / "s" / "mini_pickup_points.csv").write_text("id,lng,lat,open,close\n")
    problems = _problems(path)
    assert "mini_pickup_points.csv: row 1: lon: missing column" in problems
    assert "mini_pickup_points.csv: row 1: lng: unknown column (did you mean 'lon'?)" in problems


def test_table_longer_than_the_section_allows_is_refused(tmp_path: Path, monkeypatch):
    monkeypatch.setitem(load.TABLES, "demand", load.TABLES["demand"]._replace(max_rows=1))
    assert _problems(_csv_copy(tmp_path / "s")) == [
        "mini_demand.csv: more than 1 rows; at most 1 demand rows (one per pickup point) are supported"
    ]


def _demand_rows(folder: Path, ids: list[str]) -> Path:
    path = _csv_copy(folder)
    rows = "".join(f"{i},3,1,1,1\n" for i in ids)
    (folder / "mini_demand.csv").write_text("pickup_point,orders,dumplings,milk,rice\n" + rows)
    return path


def test_many_unknown_references_are_one_line(tmp_path: Path):
    """5,000 rows naming 5,000 unknown pickup points: one grouped line and a count, not 5,002 lines."""
    problems = _problems(_demand_rows(tmp_path / "s", [f"XX{i}" for i in range(5000)]))
    assert problems[0] == ("mini_demand.csv: rows 2, 3, 4 and 997 more: pickup_point: unknown pickup point "
                           "'XX0', 'XX1', 'XX2' and 997 other ids (defined: PP1, PP2)")
    assert problems[1] == "s.toml: 4000 more problems between records are not listed; fix the ones above first"
    assert len(problems) == 2


def test_few_unknown_references_keep_their_own_hint(tmp_path: Path):
    problems = _problems(_demand_rows(tmp_path / "s", ["PP1", "PP2", "PPX"]))
    assert problems == ["mini_demand.csv: row 4: pickup_point: unknown pickup point 'PPX' (did you mean 'PP2'?)"]


def test_many_bad_rows_are_described_up_to_a_bound(tmp_path: Path, monkeypatch):
    """Only the first MAX_DESCRIBED bad rows are described (one line each here); the rest are counted."""
    monkeypatch.setattr(load, "MAX_DESCRIBED", 50)
    path = _csv_copy(tmp_path / "s")
    rows = "".join(f"Q{i},leader_shop,112.98,{90 + i},07:00,11:30,,,,\n" for i in range(1, 3001))
    head = (GOOD / "mini_pickup_points.csv").read_text()
    (tmp_path / "s" / "mini_pickup_points.csv").write_text(head + rows)
    problems = _problems(path)
    assert len(problems) == 51
    assert problems[-1] == "mini_pickup_points.csv: 2950 more invalid rows not described; fix the ones above and " \
                           "validate again"


def test_report_lines_are_capped(tmp_path: Path):
    lines = load.render_problems([load.Problem("f.toml", None, f"x{i}", "bad") for i in range(250)])
    assert len(lines) == load.MAX_LINES + 1 and lines[-1].startswith("… and 150 more problems")


# --------------------------------------------------------------------------- matrix file


def _matrix_doc(tmp_path: Path, path: str) -> Path:
    return _write(tmp_path, "s.toml", MINI.replace("format_version = 1", "format_version = 1", 1)
                  + f'\n[matrix]\npath = "{path}"\nfree_flow_kmh = 30\n')


def test_matrix_outside_the_folder_is_refused_naming_the_scenario(tmp_path: Path):
    assert _problems(_matrix_doc(tmp_path, "/etc/passwd")) == [
        "s.toml: matrix.path: matrix file '/etc/passwd' lies outside the folder of this file; keep it there, "
        f"or allow files elsewhere with --allow-outside ({load.ALLOW_OUTSIDE_ENV}=1)"
    ]


def test_matrix_that_is_no_matrix_is_not_echoed(tmp_path: Path):
    _write(tmp_path, "m.csv", "root:x:0:0:root:/root:/bin/bash\n")
    (line,) = _problems(_matrix_doc(tmp_path, "m.csv"))
    assert line.startswith("s.toml: matrix.path: m.csv: row 1: missing column 'from'") and "root" not in line


def test_matrix_missing_a_site_names_the_scenario_file(tmp_path: Path):
    ids = ["CW1", "FW1", "PP1"]
    _write(tmp_path, "m.csv", "from,to,distance_km\n" + "".join(f"{a},{b},5\n" for a in ids for b in ids if a != b))
    assert _problems(_matrix_doc(tmp_path, "m.csv")) == [
        "s.toml: matrix.path: m.csv: 1 of the scenario's sites are missing from the matrix, e.g. 'PP2'"
    ]


# --------------------------------------------------------------------------- command line


@pytest.mark.parametrize(("name", "text"), [
    ("deep.json", "[" * 100_000 + "]" * 100_000),
    ("digits.toml", "format_version = " + "9" * 5000 + "\n"),
    ("ansi.toml", MINI.replace('name = "mini"', 'name = "\\u001b[31mred"')),
])
def test_validate_exits_2_on_bad_input(tmp_path: Path, capsys, name: str, text: str):
    assert main(["validate", str(_write(tmp_path, name, text))]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: {name}: ") and "\x1b" not in err


def test_commands_run_without_a_writable_cache_folder(tmp_path: Path):
    """With the package folder, HOME and NUMBA_CACHE_DIR all read-only, numba's cache moves to a temp folder."""
    pkg = tmp_path / "ro"
    for name in ("fulfil", "geo", "solvers"):
        shutil.copytree(ROOT / name, pkg / name, ignore=shutil.ignore_patterns("__pycache__"))
    (pkg / "cache").mkdir()
    for folder, _, files in os.walk(pkg):
        for f in files:
            os.chmod(os.path.join(folder, f), 0o444)
        os.chmod(folder, 0o555)
    prefix: list[str] = []
    if os.geteuid() == 0:  # root writes anywhere: drop the capabilities that let it
        setpriv = shutil.which("setpriv")
        if setpriv is None:
            pytest.skip("running as root without setpriv: cannot make a folder read-only")
        prefix = [setpriv, "--inh-caps=-all", "--bounding-set=-all"]
    temp = tmp_path / "tmp"
    temp.mkdir()
    env = {**os.environ, "HOME": str(pkg), "NUMBA_CACHE_DIR": str(pkg / "cache"), "XDG_CACHE_HOME": str(pkg),
           "TMPDIR": str(temp), "PYTHONPATH": str(pkg), "PYTHONDONTWRITEBYTECODE": "1"}
    try:
        run = subprocess.run([*prefix, sys.executable, "-m", "fulfil.cli", "-q", "validate", str(GOOD / "mini.toml")],
                             env=env, capture_output=True, text=True, timeout=600, cwd=tmp_path)
    finally:
        for folder, _, _ in os.walk(pkg):
            os.chmod(folder, 0o755)
    assert run.returncode == 0, run.stderr
    assert "mini.toml: valid" in run.stdout
    assert any(temp.glob("fulfil-numba-*/**/*.nbi"))
