"""Several receiving windows per pickup point: the scenario format, the plan and the checker.

The scenario is ``tests/data/good/mini.toml`` with PP1's window replaced: its first window
closes before any van can get there, so the plan must serve it in the second, and ``fulfil
check`` must recompute the wait and refuse a service start inside the gap.
"""

from __future__ import annotations

import contextlib
import copy
import io
import json
from pathlib import Path

import pytest
import yaml

from fulfil.checker import check_plan
from fulfil.cli import main
from fulfil.errors import ScenarioError
from fulfil.night import compile_night
from fulfil.pipeline import PlanParams, plan_night
from fulfil.scenario import load_scenario

DATA = Path(__file__).resolve().parents[1] / "data" / "good"
MINI = (DATA / "mini.toml").read_text(encoding="utf-8")
PP1_WINDOW = 'window = ["07:00", "11:30"]'
#: Vans leave FW1 at 07:00 and need well over five minutes to PP1: its first window is out of reach.
TWO = 'windows = [["06:50", "07:05"], ["09:00", "11:30"]]'
BUDGET = PlanParams(time_limit_s=None, solution_limit=50, seed=0, workers=1)


def write(tmp_path: Path, text: str, name: str = "two.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def run_cli(*args: str) -> tuple[int, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        rc = main(list(args))
    return rc, out.getvalue() + err.getvalue()


def stops_at(plan: dict, site: str) -> list[dict]:
    return [st for d in plan["duties"] for t in d["trips"] for st in t["stops"] if st["location"] == site]


# --------------------------------------------------------------------------- the format
def test_windows_in_toml_json_yaml_and_csv_load_alike(tmp_path: Path):
    toml = load_scenario(write(tmp_path, MINI.replace(PP1_WINDOW, TWO)))
    pp1 = toml.pickup_points[0]
    assert pp1.receiving_windows == ((410.0, 425.0), (540.0, 690.0))
    assert (pp1.window.open, pp1.window.close) == (410.0, 690.0)  # the span, for readers of 'window'
    assert toml.pickup_points[1].receiving_windows == ((390.0, 720.0),)  # one window stays one window

    doc = json.loads((DATA / "mini.json").read_text(encoding="utf-8"))
    del doc["pickup_points"][0]["window"]
    doc["pickup_points"][0]["windows"] = [["06:50", "07:05"], ["09:00", "11:30"]]
    assert load_scenario(write(tmp_path, json.dumps(doc), "two.json")).pickup_points == toml.pickup_points
    assert load_scenario(write(tmp_path, yaml.safe_dump(doc), "two.yaml")).pickup_points == toml.pickup_points

    csv_toml = (DATA / "mini_csv.toml").read_text(encoding="utf-8")
    for name in ("mini_demand.csv", "mini_stock.csv"):
        write(tmp_path, (DATA / name).read_text(encoding="utf-8"), name)
    write(tmp_path, "id,kind,lon,lat,open,close,open_2,close_2,cells_frozen,cells_chilled,cells_ambient,"
                    "forward_warehouse\nPP1,leader_shop,112.98,28.16,06:50,07:05,09:00,11:30,,,,\n"
                    "PP2,locker,112.96,28.20,06:30,12:00,,,8,20,40,FW1\n", "mini_pickup_points.csv")
    from_csv = load_scenario(write(tmp_path, csv_toml, "mini_csv.toml"))
    assert from_csv.pickup_points == toml.pickup_points


@pytest.mark.parametrize(
    "windows, message",
    [
        ('[["09:00", "11:30"], ["06:50", "07:05"]]', "window 2 (06:50–07:05) does not start after window 1"),
        ('[["06:50", "09:30"], ["09:00", "11:30"]]', "window 2 (09:00–11:30) does not start after window 1"),
        ('[["06:50", "07:05"], ["07:05", "11:30"]]', "join touching ones into one"),
        ('[["07:00", "07:00"], ["09:00", "11:30"]]', "window 1 (07:00–07:00) is empty"),
        ('[["07:00", "06:00"]]', "opens after it closes"),
        ('[["06:00", "06:30"], ["07:00", "07:30"], ["08:00", "08:30"], ["09:00", "09:30"], ["10:00", "10:30"]]',
         "at most 4 items"),
        ('[]', "at least 1 item"),
        ('[["07:00"]]', "expected [open, close]"),
    ],
)
def test_bad_window_lists_exit_2_naming_file_and_field(tmp_path: Path, windows: str, message: str):
    path = write(tmp_path, MINI.replace(PP1_WINDOW, f"windows = {windows}"))
    rc, text = run_cli("validate", str(path))
    assert rc == 2
    assert "two.toml" in text and "pickup_points[0].windows" in text and message in text, text
    assert "Traceback" not in text


def test_window_and_windows_must_agree(tmp_path: Path):
    path = write(tmp_path, MINI.replace(PP1_WINDOW, f'{PP1_WINDOW}\n{TWO}'))
    with pytest.raises(ScenarioError, match=r"two.toml: pickup_points\[0\]: .*not the span of 'windows'"):
        load_scenario(path)
    agree = MINI.replace(PP1_WINDOW, f'window = ["06:50", "11:30"]\n{TWO}')
    assert load_scenario(write(tmp_path, agree)).pickup_points[0].receiving_windows[1] == (540.0, 690.0)


def test_csv_window_errors_name_the_row_and_columns(tmp_path: Path):
    for name in ("mini_csv.toml", "mini_demand.csv", "mini_stock.csv"):
        write(tmp_path, (DATA / name).read_text(encoding="utf-8"), name)
    write(tmp_path, "id,kind,lon,lat,open,close,open_2,close_2,cells_frozen,cells_chilled,cells_ambient\n"
                    "PP1,leader_shop,112.98,28.16,06:50,09:05,09:00,11:30,,,\n"
                    "PP2,locker,112.96,28.20,06:30,12:00,,9x,8,20,40\n", "mini_pickup_points.csv")
    rc, text = run_cli("validate", str(tmp_path / "mini_csv.toml"))
    assert rc == 2, text
    assert "mini_pickup_points.csv: row 2: open/close, open_2/close_2, …: window 2 (09:00–11:30)" in text
    assert "mini_pickup_points.csv: row 3: close_2:" in text


def test_closed_from_cuts_the_windows(tmp_path: Path):
    """Closed from 08:00 (in the gap): only the first window is left, so the point closes at 07:05;
    closed from 10:00: the second window is cut to 10:00 and the gap stays."""
    for cut, close, gaps in (("08:00", 425.0, 0), ("10:00", 600.0, 1)):
        text = MINI.replace(PP1_WINDOW, f'{TWO}\nclosed_from = "{cut}"')
        net = compile_night(load_scenario(write(tmp_path, text))).net
        assert net.pp_close[0] == close
        assert sum(1 for a, _ in net.pp_gaps[0] if a < float("inf")) == gaps


# --------------------------------------------------------------------------- the plan
@pytest.fixture(scope="module", params=[1, 2], ids=["one_trip", "waves"])
def planned(request, tmp_path_factory) -> tuple[Path, dict]:
    """``(scenario path, plan document)``: max_trips = 1 lets PyVRP run beside OR-Tools (it declines
    waves of one vehicle), the default 2 plans waves."""
    text = MINI.replace(PP1_WINDOW, TWO) + f"\n[policies]\nmax_trips = {request.param}\n"
    path = write(tmp_path_factory.mktemp("two_windows"), text)
    return path, plan_night(load_scenario(path), BUDGET).to_doc()


def test_unreachable_first_window_is_served_in_the_second(planned):
    path, plan = planned
    (stop,) = stops_at(plan, "PP1")
    assert stop["arrival"] > 425.0  # too late for the first window …
    assert stop["start"] == max(stop["arrival"], 540.0)  # … so it waits for the second
    # mini.toml stocks only milk: the rest is short at the central warehouse, not dropped by routing
    assert {u["reason"] for u in plan["unserved"] if u["pickup_point"] == "PP1"} <= {"stock_shortage"}
    assert stop["products"].get("milk", 0) > 0
    assert check_plan(load_scenario(path), plan) == []


def test_a_service_start_in_the_gap_is_refused(planned, tmp_path: Path):
    path, plan = planned
    bad = copy.deepcopy(plan)
    (stop,) = stops_at(bad, "PP1")
    shift = stop["start"] - 480.0  # start at 08:00, inside the gap
    stop["start"] -= shift
    stop["departure"] -= shift
    causes = {v.cause for v in check_plan(load_scenario(path), bad)}
    assert "between_windows" in causes and "time_mismatch" in causes
    plan_file = tmp_path / "plan.json"
    plan_file.write_text(json.dumps(bad), encoding="utf-8")
    rc, text = run_cli("check", str(path), str(plan_file), "-v")
    assert rc == 4 and "between_windows" in text and "service starts at 08:00, between its windows" in text
