"""A national night: several cities on one executor, a folder each, a summary, resume, faults."""

from __future__ import annotations

import json
import os
import threading
import time
from pathlib import Path

import pytest

from fulfil.errors import ScenarioError
from fulfil.executor import SerialBackend, make_executor
from fulfil.national import plan_national, scenario_files
from fulfil.params import PlanParams

DET = PlanParams(time_limit_s=None, solution_limit=25, seed=1, workers=2)


@pytest.fixture(scope="module")
def cities(tmp_path_factory) -> Path:
    """Three small generated cities in one folder (CSV tables beside them)."""
    from fulfil.generate import GenerateConfig, write_scenario

    folder = tmp_path_factory.mktemp("cities")
    for i, (fw, pp) in enumerate(((2, 40), (3, 60), (2, 30))):
        write_scenario(GenerateConfig(name=f"city{i}", seed=11 + i, forward_warehouses=fw, pickup_points=pp,
                                      orders=40 * pp), folder)
    return folder


def _plans(out: Path) -> dict[str, dict]:
    out_plans = {}
    for d in sorted(p for p in out.iterdir() if p.is_dir() and not p.name.startswith(".")):
        doc = json.loads((d / "plan.json").read_text(encoding="utf-8"))
        doc.pop("stats")
        doc["params"].pop("workers")
        out_plans[d.name] = doc
    return out_plans


def test_scenario_files_finds_the_scenarios_not_their_tables(cities):
    files = scenario_files([cities])
    assert [f.stem for f in files] == ["city0", "city1", "city2"]
    with pytest.raises(ScenarioError, match="no such"):
        scenario_files([cities / "nope.toml"])


def test_every_city_gets_a_checked_folder_and_the_summary(cities, tmp_path):
    out = tmp_path / "night"
    with make_executor(2) as ex:
        res = plan_national(scenario_files([cities]), DET, ex, out)
    assert [r.status for r in res] == ["ok", "ok", "ok"]
    rows = (out / "national.csv").read_text(encoding="utf-8").splitlines()
    assert rows[0].startswith("city,status") and len(rows) == 4
    text = (out / "national.txt").read_text(encoding="utf-8")
    assert "total" in text and "slowest city" in text
    for r in res:
        doc = json.loads((out / r.city / "plan.json").read_text(encoding="utf-8"))
        assert doc["check"]["violations"] == 0 and doc["scenario"] == r.city
        assert (out / r.city / "route_sheets").is_dir()
    assert not [p for p in out.iterdir() if p.name.startswith(".")]  # no temporary folder left


def test_same_plans_on_the_pool_and_in_process(cities, tmp_path):
    """Under a deterministic budget the executor does not change any city's plan."""
    files = scenario_files([cities])
    with make_executor(2) as ex:
        plan_national(files, DET, ex, tmp_path / "pool", concurrent=2)
    plan_national(files, DET, SerialBackend(), tmp_path / "serial", concurrent=1)
    assert _plans(tmp_path / "pool") == _plans(tmp_path / "serial")


def test_resume_skips_the_cities_already_written(cities, tmp_path, caplog):
    files = scenario_files([cities])
    out = tmp_path / "night"
    plan_national(files[:2], DET, SerialBackend(), out)
    before = {f.stem: (out / f.stem / "plan.json").stat().st_mtime_ns for f in files[:2]}
    time.sleep(0.01)
    res = plan_national(files, DET, SerialBackend(), out, resume=True)
    assert [r.status for r in res] == ["resumed", "resumed", "ok"]
    assert {f.stem: (out / f.stem / "plan.json").stat().st_mtime_ns for f in files[:2]} == before
    assert "city2" in (out / "national.csv").read_text(encoding="utf-8")


def test_a_bad_city_stops_the_run_before_anything_is_written(cities, tmp_path):
    bad = tmp_path / "in"
    bad.mkdir()
    for f in cities.iterdir():
        (bad / f.name).write_bytes(f.read_bytes())
    text = (bad / "city1.toml").read_text(encoding="utf-8").replace("format_version = 1", "format_version = 9")
    (bad / "city1.toml").write_text(text, encoding="utf-8")
    out = tmp_path / "night"
    with pytest.raises(ScenarioError, match="city1.toml"):
        plan_national(scenario_files([bad]), DET, SerialBackend(), out)
    assert not out.exists()


def test_cli_plans_a_folder_and_resumes(cities, tmp_path, capsys):
    from fulfil.cli import main

    out = tmp_path / "night"
    args = ["plan", str(cities), "--out", str(out), "--time-limit", "0", "--solutions", "20", "--workers", "1",
            "--charts", "0", "-q"]
    assert main(args) == 0
    assert "national" in capsys.readouterr().out
    assert main(args + ["--resume"]) == 0
    assert "resumed" in (out / "national.csv").read_text(encoding="utf-8")


# --------------------------------------------------------------------------- on a Dask cluster
@pytest.fixture(scope="module")
def dask_cluster():
    pytest.importorskip("distributed")
    ex = make_executor(0, cluster="local:2")
    yield ex
    ex.shutdown()


def test_dask_cluster_gives_the_same_plans_as_the_pool(cities, tmp_path, dask_cluster):
    files = scenario_files([cities])
    with make_executor(2) as ex:
        plan_national(files, DET, ex, tmp_path / "pool")
    plan_national(files, DET, dask_cluster, tmp_path / "dask")
    assert _plans(tmp_path / "pool") == _plans(tmp_path / "dask")


def test_a_worker_killed_mid_run_loses_no_city(cities, tmp_path, dask_cluster):
    """One of the two Dask workers is killed while the cities are routed: its tasks run on the other
    (or on the restarted one) and every city comes back complete and checker-clean."""
    import signal

    client = dask_cluster.client
    files = scenario_files([cities])
    params = PlanParams(time_limit_s=4.0, seed=0, workers=2)
    pids = client.run(os.getpid)

    def kill_one() -> None:
        time.sleep(3.0)
        victim = sorted(pids.values())[0]
        try:
            os.kill(victim, signal.SIGKILL)
        except ProcessLookupError:
            pass

    killer = threading.Thread(target=kill_one)
    killer.start()
    t0 = time.perf_counter()
    res = plan_national(files, params, dask_cluster, tmp_path / "night")
    elapsed = time.perf_counter() - t0
    killer.join()
    assert elapsed > 3.5, "the worker must die while the cities are being planned"
    assert sorted(pids.values())[0] not in client.run(os.getpid).values()  # it was killed (and replaced)
    assert [r.status for r in res] == ["ok", "ok", "ok"], [r.error for r in res]
    from fulfil.checker import check_plan, load_plan
    from fulfil.scenario import load_scenario

    for f in files:
        assert check_plan(load_scenario(f), load_plan(tmp_path / "night" / f.stem / "plan.json")) == []
