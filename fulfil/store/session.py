"""The store's one entry point: :class:`Store` opens a database, migrates it, and reads and
writes scenarios, runs, events and re-plans as plain dicts (no ORM object leaves a session)."""

from __future__ import annotations

import time
from typing import Any

from sqlalchemy import create_engine, event, func, select, update
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from fulfil.store.migrations import upgrade
from fulfil.store.models import FINAL, EventRow, ReplanRow, RunRow, ScenarioRow


def _row(obj: Any) -> dict[str, Any]:
    return {c.key: getattr(obj, c.key) for c in obj.__table__.columns}


def make_engine(url: str) -> Engine:
    """An engine for ``url``; SQLite is shared by the server's threads and waits for locks."""
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_conn, _record) -> None:
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA journal_mode=WAL")  # readers do not wait for the job threads' writes
            cur.close()

        return engine
    return create_engine(url, pool_pre_ping=True)


class Store:
    """Scenarios, plan runs, events and re-plans in one database (see :mod:`fulfil.store.models`)."""

    def __init__(self, engine: Engine):
        self.engine = engine
        self._session = sessionmaker(engine, expire_on_commit=False)

    def session(self) -> Session:
        return self._session.begin()  # type: ignore[return-value]

    def close(self) -> None:
        self.engine.dispose()

    # ----------------------------------------------------------------- scenarios
    def add_scenario(self, name: str, content_hash: str, folder: str, entry: str,
                     actor: str | None = None) -> tuple[dict[str, Any], bool]:
        """Record a scenario version; ``(row, created)``.  The same name and content again is the
        version already stored (``created`` False)."""
        with self.session() as s:
            same = s.scalars(select(ScenarioRow).where(ScenarioRow.name == name,
                                                       ScenarioRow.content_hash == content_hash)).first()
            if same is not None:
                return _row(same), False
            last = s.scalar(select(func.max(ScenarioRow.version)).where(ScenarioRow.name == name)) or 0
            row = ScenarioRow(name=name, version=last + 1, content_hash=content_hash, folder=folder, entry=entry,
                              created_at=time.time(), created_by=actor)
            s.add(row)
            s.flush()
            return _row(row), True

    def scenario(self, scenario_id: int) -> dict[str, Any] | None:
        with self.session() as s:
            row = s.get(ScenarioRow, scenario_id)
            return _row(row) if row is not None else None

    def scenarios(self) -> list[dict[str, Any]]:
        with self.session() as s:
            return [_row(r) for r in s.scalars(select(ScenarioRow).order_by(ScenarioRow.id))]

    # ----------------------------------------------------------------- runs
    def add_run(self, scenario_id: int, params: dict[str, Any], seed: int, folder_of, kind: str = "plan",
                actor: str | None = None) -> dict[str, Any]:
        """A new queued run; ``folder_of(run id)`` names its folder (the id is known only after insert)."""
        with self.session() as s:
            row = RunRow(scenario_id=scenario_id, kind=kind, status="queued", params=params, seed=seed,
                         folder="", created_at=time.time(), created_by=actor)
            s.add(row)
            s.flush()
            row.folder = folder_of(row.id)
            s.add(EventRow(run_id=row.id, kind="submitted", message=f"{kind} submitted", data=params, actor=actor,
                           at=row.created_at))
            s.flush()
            return _row(row)

    def run(self, run_id: int) -> dict[str, Any] | None:
        with self.session() as s:
            row = s.get(RunRow, run_id)
            return _row(row) if row is not None else None

    def runs(self, status: str | None = None) -> list[dict[str, Any]]:
        with self.session() as s:
            q = select(RunRow).order_by(RunRow.id)
            if status is not None:
                q = q.where(RunRow.status == status)
            return [_row(r) for r in s.scalars(q)]

    def update_run(self, run_id: int, **values: Any) -> None:
        with self.session() as s:
            s.execute(update(RunRow).where(RunRow.id == run_id).values(**values))

    def start_run(self, run_id: int) -> bool:
        """queued → running; False when the run is no longer queued (cancelled meanwhile)."""
        with self.session() as s:
            done = s.execute(update(RunRow).where(RunRow.id == run_id, RunRow.status == "queued")
                             .values(status="running", started_at=time.time()))
            return done.rowcount == 1

    def cancel_queued(self, run_id: int, actor: str | None) -> bool:
        """queued → cancelled at once; False when the run is not queued."""
        with self.session() as s:
            done = s.execute(update(RunRow).where(RunRow.id == run_id, RunRow.status == "queued")
                             .values(status="cancelled", finished_at=time.time(),
                                     message="cancelled before it started"))
            if done.rowcount == 1:
                s.add(EventRow(run_id=run_id, kind="cancelled", message="cancelled while queued", actor=actor,
                               at=time.time()))
            return done.rowcount == 1

    def recover(self) -> list[int]:
        """After a restart: runs left ``running`` by a dead server become ``interrupted``; returns
        the ids of the queued runs, oldest first, to queue again."""
        now = time.time()
        with self.session() as s:
            dead = list(s.scalars(select(RunRow.id).where(RunRow.status == "running")))
            if dead:
                s.execute(update(RunRow).where(RunRow.id.in_(dead)).values(
                    status="interrupted", finished_at=now, message="the server stopped while this job ran"))
                s.add_all(EventRow(run_id=i, kind="interrupted", message="the server stopped while this job ran",
                                   at=now) for i in dead)
            return list(s.scalars(select(RunRow.id).where(RunRow.status == "queued").order_by(RunRow.id)))

    def is_final(self, run_id: int) -> bool:
        run = self.run(run_id)
        return run is not None and run["status"] in FINAL

    # ----------------------------------------------------------------- events, re-plans
    def add_event(self, run_id: int | None, kind: str, message: str, data: dict[str, Any] | None = None,
                  actor: str | None = None) -> None:
        with self.session() as s:
            s.add(EventRow(run_id=run_id, kind=kind, message=message, data=data, actor=actor, at=time.time()))

    def events(self, run_id: int, after: int = 0, limit: int = 1000) -> list[dict[str, Any]]:
        with self.session() as s:
            q = (select(EventRow).where(EventRow.run_id == run_id, EventRow.id > after)
                 .order_by(EventRow.id).limit(limit))
            return [_row(r) for r in s.scalars(q)]

    def add_replan(self, parent_run_id: int, run_id: int, events: dict[str, Any], actor: str | None) -> dict[str, Any]:
        with self.session() as s:
            row = ReplanRow(parent_run_id=parent_run_id, run_id=run_id, events=events, actor=actor, at=time.time())
            s.add(row)
            s.flush()
            return _row(row)

    def replan_of(self, run_id: int) -> dict[str, Any] | None:
        """The re-plan that created run ``run_id``, if it is one."""
        with self.session() as s:
            row = s.scalars(select(ReplanRow).where(ReplanRow.run_id == run_id)).first()
            return _row(row) if row is not None else None


def open_store(url: str) -> Store:
    """Open (and migrate to the newest schema) the database at ``url``."""
    engine = make_engine(url)
    upgrade(engine)
    return Store(engine)
