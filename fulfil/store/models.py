"""Tables of the plan store as SQLAlchemy ORM classes: the schema the newest migration leaves.

Times are Unix seconds (float, UTC) so that SQLite and PostgreSQL store and return the same
values; documents (parameters, KPIs, check results, events) are JSON columns.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import JSON, Float, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

#: Every status a plan run can have.
STATUSES = ("queued", "running", "done", "failed", "cancelled", "interrupted")
#: Statuses after which a run never changes again.
FINAL = frozenset({"done", "failed", "cancelled", "interrupted"})


class Base(DeclarativeBase):
    pass


class ScenarioRow(Base):
    """One uploaded version of a scenario: its files live in ``folder`` (relative to the data directory)."""

    __tablename__ = "scenarios"
    __table_args__ = (UniqueConstraint("name", "version"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    version: Mapped[int] = mapped_column(Integer)
    #: sha256 over the uploaded files (names and bytes): the same upload twice is one version
    content_hash: Mapped[str] = mapped_column(String(64))
    folder: Mapped[str] = mapped_column(String(500))
    #: the scenario file inside ``folder``
    entry: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[float] = mapped_column(Float)
    created_by: Mapped[str | None] = mapped_column(String(100), nullable=True)


class RunRow(Base):
    """One plan (or re-plan) job: what was asked, what happened, where its files are."""

    __tablename__ = "plan_runs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    scenario_id: Mapped[int] = mapped_column(ForeignKey("scenarios.id"))
    #: ``plan`` or ``replan`` (added by migration 2)
    kind: Mapped[str] = mapped_column(String(20), default="plan")
    status: Mapped[str] = mapped_column(String(20))
    params: Mapped[dict[str, Any]] = mapped_column(JSON)
    seed: Mapped[int] = mapped_column(Integer)
    progress: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    kpis: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    check: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    #: the plan's own code (0, or 130 for the best plan found before an interruption)
    plan_code: Mapped[int | None] = mapped_column(Integer, nullable=True)
    exit_code: Mapped[int | None] = mapped_column(Integer, nullable=True)
    message: Mapped[str | None] = mapped_column(Text, nullable=True)
    #: the run's folder, relative to the data directory
    folder: Mapped[str] = mapped_column(String(500))
    created_at: Mapped[float] = mapped_column(Float)
    started_at: Mapped[float | None] = mapped_column(Float, nullable=True)
    finished_at: Mapped[float | None] = mapped_column(Float, nullable=True)
    created_by: Mapped[str | None] = mapped_column(String(100), nullable=True)


class EventRow(Base):
    """A line of a run's progress log or a user action (submit, cancel, re-plan)."""

    __tablename__ = "events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    run_id: Mapped[int | None] = mapped_column(ForeignKey("plan_runs.id"), nullable=True, index=True)
    kind: Mapped[str] = mapped_column(String(30))
    message: Mapped[str] = mapped_column(Text)
    data: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    actor: Mapped[str | None] = mapped_column(String(100), nullable=True)
    at: Mapped[float] = mapped_column(Float)


class ReplanRow(Base):
    """A re-plan: the run it started from, the dispatcher's events, who asked and when (migration 2)."""

    __tablename__ = "replans"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    parent_run_id: Mapped[int] = mapped_column(ForeignKey("plan_runs.id"))
    run_id: Mapped[int] = mapped_column(ForeignKey("plan_runs.id"))
    events: Mapped[dict[str, Any]] = mapped_column(JSON)
    actor: Mapped[str | None] = mapped_column(String(100), nullable=True)
    at: Mapped[float] = mapped_column(Float)
