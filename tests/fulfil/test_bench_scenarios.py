"""``fulfil bench`` on the project's own scenario files (fulfil/bench/scenarios.py)."""

from __future__ import annotations

import argparse
import csv
import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from fulfil.bench import scenarios as S
from fulfil.errors import UsageError


def _copy(small_city: Path, dest: Path) -> Path:
    dest.mkdir(parents=True, exist_ok=True)
    for f in small_city.parent.iterdir():
        if f.is_file():
            shutil.copy(f, dest / f.name)
    return dest


def _rows(path: Path) -> list[dict]:
    with path.open(newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


@pytest.fixture(scope="module")
def bench_run(small_city, tmp_path_factory) -> tuple[int, Path]:
    """The command run once on a folder holding the small city, with ``--vs pyvrp``: ``(exit code, out dir)``."""
    from fulfil.cli import main

    root = tmp_path_factory.mktemp("bench_scen")
    folder = _copy(small_city, root / "set")
    out = root / "out"
    rc = main(["bench", str(folder), "--time-limit", "2", "--workers", "1", "--vs", "pyvrp", "--out", str(out)])
    return rc, out


@pytest.fixture(scope="module")
def case(small_city) -> S.SubproblemCase:
    """The small city's first last-mile subproblem, rebuilt as plan_night builds it."""
    from fulfil.pipeline import PlanParams
    from fulfil.scenario import load_scenario

    cases = S.last_mile_subproblems(load_scenario(small_city), PlanParams(time_limit_s=2.0, workers=1))
    assert cases and all(c.budget_s and c.budget_s > 0 for c in cases)
    return cases[0]


def test_results_row_has_kpis_stage_times_and_memory(bench_run) -> None:
    """One feasible row per scenario with measured stage times, peak memory and the plan written."""
    rc, out = bench_run
    assert rc == 0
    rows = _rows(out / "results.csv")
    assert [r["scenario"] for r in rows] == ["small_city"]
    r = rows[0]
    assert r["solver"] == "ours" and r["feasible"] == "yes" and r["violations"] == "0"
    for key in ("compile_s", "allocation_s", "build_s", "last_mile_s", "trunk_s", "assembly_s", "check_s",
                "plan_total_s", "wall_s"):
        assert float(r[key]) > 0, key
    assert float(r["wall_s"]) >= float(r["plan_total_s"])
    assert float(r["peak_rss_mb"]) > 0
    assert int(r["vehicles"]) > 0 and float(r["km"]) > 0 and float(r["cost"]) > 0
    # orders_served / orders_unserved are order-equivalents (floats); they add up to the orders
    assert float(r["orders_served"]) + float(r["orders_unserved"]) == pytest.approx(float(r["orders_total"]), abs=1e-3)
    assert int(r["orders_complete"]) <= float(r["orders_served"]) + 1e-9
    plan = json.loads(Path(r["plan"]).read_text(encoding="utf-8"))
    assert Path(r["plan"]) == out / "ours" / "small_city" / "plan.json"
    assert plan["check"] == {"violations": 0, "by_cause": {}} and plan["kpis"]["cost"] == pytest.approx(float(r["cost"]))
    assert "Wall seconds per stage" in (out / "summary.txt").read_text(encoding="utf-8")


def test_subproblems_compared_with_pyvrp(bench_run) -> None:
    """Every warehouse has a row for ours and for pyvrp, re-checked and costed; the summary has the ratio."""
    _, out = bench_run
    rows = _rows(out / "subproblems.csv")
    assert (out / "gaps.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    whs = sorted({r["warehouse"] for r in rows})
    assert len(whs) == 2
    assert sorted((r["warehouse"], r["solver"]) for r in rows) == sorted((w, s) for w in whs for s in ("ours", "pyvrp"))
    for r in rows:
        assert float(r["budget_s"]) > 0 and float(r["seconds"]) > 0
        assert r["feasible"] == "yes", r["violations"]
        assert float(r["cost"]) > 0 and int(r["served"]) + int(r["dropped"]) == int(r["jobs"])
    text = (out / "summary.txt").read_text(encoding="utf-8")
    assert "ours/peer" in text and "pyvrp" in text and "re-checked against the full constraints" in text


def test_broken_peer_routes_are_reported_infeasible(case, monkeypatch) -> None:
    """A peer's route set that breaks a constraint is infeasible in its row and left out of the cost sums."""
    p = case.problem
    overloaded = [[] for _ in range(p.n_vehicles)]
    overloaded[0] = list(range(1, p.n_nodes))  # every job on one vehicle
    v = S.recheck(p, overloaded)
    assert not v["feasible"] and any("overloaded" in m for m in v["violations"])
    broken = [[] for _ in range(p.n_vehicles)]
    broken[0], broken[1] = [1], [1]  # job 1 twice
    v = S.recheck(p, broken)
    assert not v["feasible"] and any("more than once" in m for m in v["violations"])

    monkeypatch.setitem(S.SOLVERS, "pyvrp", lambda c, flat, seed: (broken, "test"))
    row = S.solve_case(case, "pyvrp", 0)
    assert row["feasible"] is False and "more than once" in row["violations"]
    ours = {"warehouse": case.warehouse, "solver": "ours", "feasible": True, "cost": 1.0, "dropped": 0}
    summary = S.summarize_subproblems([{**ours, "scenario": "x"}, {**row, "scenario": "x"}], ["pyvrp"])
    assert summary[0]["peer_infeasible"] == 1 and summary[0]["both_feasible"] == 0 and summary[0]["ratio"] is None


def test_no_routes_is_infeasible(case) -> None:
    """A solver that returns nothing is infeasible, never costed."""
    v = S.recheck(case.problem, None, "no_solution")
    assert not v["feasible"] and v["cost"] is None and "no_solution" in v["violations"][0]


def test_flattened_problem_is_conservative(case) -> None:
    """The flat form has no per-vehicle deadlines, and routes feasible in it are feasible in the full problem."""
    from solvers.routing.baseline import nearest_neighbour
    from solvers.routing.check import check_routes
    from solvers.routing.problem import NO_DEADLINE_S

    p = case.problem
    flat = S.flatten(p)
    f = flat.problem
    f.validate()
    assert np.all(f.deadline_s == NO_DEADLINE_S) and f.arrival_cost_per_s.size == 0
    fits = np.all(p.demand[None, :, :] <= p.capacity[:, None, :], axis=2) & p.allowed
    for j in flat.jobs:
        assert f.tw_close_s[j] <= p.tw_close_s[j]
        assert np.all(f.tw_close_s[j] <= p.deadline_s[fits[:, j], j])
    routes = nearest_neighbour(f).routes
    assert check_routes(f, routes).ok
    assert check_routes(p, routes).ok


def test_bad_scenario_file_exits_2_and_writes_nothing(small_city, tmp_path, capsys) -> None:
    """A scenario that fails validation stops the command before any output, naming the file."""
    from fulfil.cli import main

    folder = _copy(small_city, tmp_path / "set")
    text = (folder / "small_city.toml").read_text(encoding="utf-8")
    (folder / "broken.toml").write_text(text.replace("promise_minutes = ", "promise_minutes = -"), encoding="utf-8")
    out = tmp_path / "out"
    assert main(["bench", str(folder), "--time-limit", "2", "--out", str(out)]) == 2
    assert "broken.toml" in capsys.readouterr().err
    assert not out.exists()
    (folder / "broken.toml").write_text("name = 'x'\n[[vehicle_types]\n", encoding="utf-8")
    assert main(["bench", str(folder), "--time-limit", "2", "--out", str(out)]) == 2
    assert "broken.toml: malformed TOML" in capsys.readouterr().err
    assert not out.exists()


def test_unknown_peer_is_a_usage_error(small_city, tmp_path) -> None:
    """``--vs`` with a peer we do not know is bad input."""
    from fulfil.bench.command import cmd_bench

    args = argparse.Namespace(set_dir=str(small_city), instances=None, time_limit=2.0, seed=0, workers=1,
                              out=str(tmp_path / "out"), vs="pyvrp,gurobi", objective=None)
    with pytest.raises(UsageError, match="gurobi"):
        cmd_bench(args)
    assert not (tmp_path / "out").exists()


def test_finding_scenarios_skips_other_documents_and_subfolders(small_city, tmp_path) -> None:
    """Subfolders and documents that are not scenarios are skipped with a note; --instances selects by stem."""
    folder = _copy(small_city, tmp_path / "set")
    (folder / "region.toml").write_text('format_version = 1\nname = "r"\ncommunities_csv = "c.csv"\n',
                                        encoding="utf-8")
    (folder / "rollout").mkdir()
    assert S.is_scenario_path(folder) and S.is_scenario_path(folder / "small_city.toml")
    assert not S.is_scenario_path(tmp_path / "missing")
    files, notes = S.find_scenarios(folder, None)
    assert list(files) == ["small_city"]
    assert any("region.toml skipped" in n for n in notes) and any("rollout" in n for n in notes)
    assert list(S.find_scenarios(folder, "SMALL_CITY")[0]) == ["small_city"]
    with pytest.raises(UsageError, match="unknown scenario"):
        S.find_scenarios(folder, "nope")
    with pytest.raises(UsageError, match="not a scenario"):
        S.find_scenarios(folder, "region")
