"""Numbered schema migrations and the ``schema_version`` table that records which ran.

Each migration is a function of a connection, written against the tables as they were at
its version (never against the ORM classes of :mod:`fulfil.store.models`, which follow the
newest schema), so that a database of any age reaches the same newest schema.  A migration
never changes once released: a change of schema is a new entry at the end of :data:`MIGRATIONS`.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from sqlalchemy import (
    JSON,
    Column,
    Connection,
    Engine,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    inspect,
    select,
    text,
)

from fulfil.errors import FulfilError

VERSION_TABLE = "schema_version"


def _v1_initial(conn: Connection) -> None:
    """Scenarios, plan runs and their events."""
    md = MetaData()
    Table("scenarios", md,
          Column("id", Integer, primary_key=True),
          Column("name", String(200), nullable=False),
          Column("version", Integer, nullable=False),
          Column("content_hash", String(64), nullable=False),
          Column("folder", String(500), nullable=False),
          Column("entry", String(200), nullable=False),
          Column("created_at", Float, nullable=False),
          Column("created_by", String(100)),
          UniqueConstraint("name", "version"))
    Table("plan_runs", md,
          Column("id", Integer, primary_key=True),
          Column("scenario_id", Integer, ForeignKey("scenarios.id"), nullable=False),
          Column("status", String(20), nullable=False),
          Column("params", JSON, nullable=False),
          Column("seed", Integer, nullable=False),
          Column("progress", JSON),
          Column("kpis", JSON),
          Column("check", JSON),
          Column("plan_code", Integer),
          Column("exit_code", Integer),
          Column("message", Text),
          Column("folder", String(500), nullable=False),
          Column("created_at", Float, nullable=False),
          Column("started_at", Float),
          Column("finished_at", Float),
          Column("created_by", String(100)))
    events = Table("events", md,
                   Column("id", Integer, primary_key=True),
                   Column("run_id", Integer, ForeignKey("plan_runs.id")),
                   Column("kind", String(30), nullable=False),
                   Column("message", Text, nullable=False),
                   Column("data", JSON),
                   Column("actor", String(100)),
                   Column("at", Float, nullable=False))
    Index("ix_events_run_id", events.c.run_id)
    md.create_all(conn)


def _v2_replans(conn: Connection) -> None:
    """Re-plans (parent run, the dispatcher's events, who and when) and each run's kind."""
    conn.execute(text("ALTER TABLE plan_runs ADD COLUMN kind VARCHAR(20) NOT NULL DEFAULT 'plan'"))
    md = MetaData()
    Table("plan_runs", md, Column("id", Integer, primary_key=True))
    Table("replans", md,
          Column("id", Integer, primary_key=True),
          Column("parent_run_id", Integer, ForeignKey("plan_runs.id"), nullable=False),
          Column("run_id", Integer, ForeignKey("plan_runs.id"), nullable=False),
          Column("events", JSON, nullable=False),
          Column("actor", String(100)),
          Column("at", Float, nullable=False))
    md.tables["replans"].create(conn)


#: ``MIGRATIONS[i]`` brings a database from version ``i`` to ``i + 1``.
MIGRATIONS: list[Callable[[Connection], None]] = [_v1_initial, _v2_replans]
LATEST = len(MIGRATIONS)

_version_md = MetaData()
_version = Table(VERSION_TABLE, _version_md,
                 Column("version", Integer, primary_key=True),
                 Column("applied_at", Float, nullable=False))


def current_version(conn: Connection) -> int:
    """The database's schema version (0: empty, nothing migrated yet)."""
    if not inspect(conn).has_table(VERSION_TABLE):
        return 0
    return int(conn.execute(select(_version.c.version).order_by(_version.c.version.desc()).limit(1)).scalar() or 0)


def upgrade(engine: Engine, target: int = LATEST) -> list[int]:
    """Run the migrations the database lacks, up to ``target``, each in its own transaction
    with its row in ``schema_version``; returns the versions applied."""
    if not 0 <= target <= LATEST:
        raise ValueError(f"schema version {target} does not exist (newest: {LATEST})")
    with engine.begin() as conn:
        _version_md.create_all(conn)
        now = current_version(conn)
    if now > LATEST:
        raise FulfilError(f"the database has schema version {now}, newer than this fulfil knows ({LATEST}); "
                           "upgrade fulfil")
    applied = []
    for v in range(now + 1, target + 1):
        with engine.begin() as conn:
            MIGRATIONS[v - 1](conn)
            conn.execute(_version.insert().values(version=v, applied_at=time.time()))
        applied.append(v)
    return applied
