"""The plan store on SQLite, and on PostgreSQL when FULFIL_TEST_POSTGRES_URL names a database
(FULFIL_REQUIRE_POSTGRES=1 makes its absence a failure): the same tests, the same results."""

from __future__ import annotations

import os
import time

import pytest
from sqlalchemy import inspect, text

from fulfil.store import Store, open_store
from fulfil.store.migrations import LATEST, current_version, upgrade
from fulfil.store.models import Base
from fulfil.store.session import make_engine

POSTGRES = os.environ.get("FULFIL_TEST_POSTGRES_URL")


def _empty_postgres(url: str) -> str:
    engine = make_engine(url)
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    engine.dispose()
    return url


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request, tmp_path) -> str:
    """An empty database of each kind."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'store.sqlite'}"
    if not POSTGRES:
        if os.environ.get("FULFIL_REQUIRE_POSTGRES"):
            pytest.fail("FULFIL_REQUIRE_POSTGRES is set but FULFIL_TEST_POSTGRES_URL is not")
        pytest.skip("set FULFIL_TEST_POSTGRES_URL to run the store's tests on PostgreSQL")
    return _empty_postgres(POSTGRES)


@pytest.fixture
def store(db_url):
    s = open_store(db_url)
    yield s
    s.close()


def _columns(engine) -> dict[str, set[str]]:
    insp = inspect(engine)
    return {t: {c["name"] for c in insp.get_columns(t)} for t in insp.get_table_names()}


def test_an_empty_database_is_migrated_to_the_models_schema(db_url):
    engine = make_engine(db_url)
    assert upgrade(engine) == list(range(1, LATEST + 1))
    assert upgrade(engine) == []  # nothing left to do
    with engine.connect() as conn:
        assert current_version(conn) == LATEST
    have = _columns(engine)
    for table in Base.metadata.sorted_tables:
        assert {c.name for c in table.columns} == have[table.name], table.name
    engine.dispose()


def test_a_version_1_database_keeps_its_rows_through_the_upgrade(db_url):
    engine = make_engine(db_url)
    assert upgrade(engine, target=1) == [1]
    assert "replans" not in _columns(engine) and "kind" not in _columns(engine)["plan_runs"]
    now = time.time()
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO scenarios (name, version, content_hash, folder, entry, created_at) "
                          "VALUES ('demo', 1, 'abc', 'scenarios/abc', 'demo.toml', :t)"), {"t": now})
        conn.execute(text("INSERT INTO plan_runs (scenario_id, status, params, seed, folder, created_at) "
                          "VALUES (1, 'running', '{\"time_limit_s\": 5}', 7, 'runs/1', :t)"), {"t": now})
    assert upgrade(engine) == list(range(2, LATEST + 1))
    s = Store(engine)
    run = s.run(1)
    assert (run["kind"], run["status"], run["params"], run["seed"]) == ("plan", "running", {"time_limit_s": 5}, 7)
    assert s.scenario(1)["name"] == "demo"
    assert s.add_replan(1, 1, {"closed": ["P1"]}, "ops")["events"] == {"closed": ["P1"]}
    s.close()


def test_scenario_versions_by_name_and_content(store):
    a, new_a = store.add_scenario("demo", "h1", "scenarios/h1", "demo.toml", "ops")
    again, new_again = store.add_scenario("demo", "h1", "scenarios/h1", "demo.toml", "ops")
    b, _ = store.add_scenario("demo", "h2", "scenarios/h2", "demo.toml", None)
    other, _ = store.add_scenario("other", "h3", "scenarios/h3", "other.json", None)
    assert (new_a, new_again, again["id"]) == (True, False, a["id"])
    assert [(r["name"], r["version"]) for r in store.scenarios()] == [("demo", 1), ("demo", 2), ("other", 1)]
    assert (b["version"], other["version"], store.scenario(a["id"])["created_by"]) == (2, 1, "ops")
    assert store.scenario(999) is None


def test_runs_events_and_replans(store):
    sid = store.add_scenario("demo", "h1", "scenarios/h1", "demo.toml")[0]["id"]
    run = store.add_run(sid, {"time_limit_s": 5.0, "solutions": None}, 3, lambda i: f"runs/{i}", actor="ops")
    assert (run["status"], run["folder"], run["kind"]) == ("queued", f"runs/{run['id']}", "plan")
    assert store.start_run(run["id"]) and not store.start_run(run["id"])
    store.update_run(run["id"], status="done", kpis={"cost": 12.5, "stops": 4}, check={"violations": 0},
                     plan_code=0, finished_at=time.time())
    got = store.run(run["id"])
    assert got["kpis"] == {"cost": 12.5, "stops": 4} and got["check"] == {"violations": 0}
    assert got["params"] == {"time_limit_s": 5.0, "solutions": None}
    for i in range(3):
        store.add_event(run["id"], "log", f"line {i}")
    events = store.events(run["id"])
    assert [e["kind"] for e in events] == ["submitted", "log", "log", "log"] and events[0]["actor"] == "ops"
    assert [e["message"] for e in store.events(run["id"], after=events[1]["id"])] == ["line 1", "line 2"]
    child = store.add_run(sid, {"time_limit_s": 5.0}, 0, lambda i: f"runs/{i}", kind="replan", actor="ops")
    store.add_replan(run["id"], child["id"], {"vehicle_down": [{"duty": "L-1", "from": "08:00"}]}, "ops")
    replan = store.replan_of(child["id"])
    assert (replan["parent_run_id"], replan["actor"]) == (run["id"], "ops")
    assert replan["events"]["vehicle_down"][0]["from"] == "08:00"
    assert store.replan_of(run["id"]) is None
    assert [r["id"] for r in store.runs("queued")] == [child["id"]]


def test_after_a_restart_running_runs_are_interrupted_and_queued_ones_come_back(store):
    sid = store.add_scenario("demo", "h1", "scenarios/h1", "demo.toml")[0]["id"]
    ids = [store.add_run(sid, {}, 0, lambda i: f"runs/{i}")["id"] for _ in range(4)]
    store.start_run(ids[0])
    store.start_run(ids[1])
    store.update_run(ids[1], status="done")
    assert store.cancel_queued(ids[3], "ops") and not store.cancel_queued(ids[1], "ops")
    assert store.recover() == [ids[2]]
    assert [store.run(i)["status"] for i in ids] == ["interrupted", "done", "queued", "cancelled"]
    assert store.run(ids[0])["finished_at"] is not None
    assert store.events(ids[0])[-1]["kind"] == "interrupted"
    assert store.recover() == [ids[2]]  # nothing more to mark
