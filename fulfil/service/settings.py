"""What one server is configured with: where its data lives, its limits, its database."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Settings:
    #: Everything the server reads or writes lives under this folder.
    data_dir: Path
    token: str
    #: SQLAlchemy URL; default: SQLite file ``store.sqlite`` in ``data_dir``
    db_url: str | None = None
    #: Largest request body accepted, bytes (an upload of scenario files included)
    max_body_bytes: int = 50 * 1024 * 1024
    #: Jobs that run at once; the rest wait in the queue
    max_concurrent_jobs: int = 2
    #: A job still running after this many seconds is stopped like Ctrl-C (what it wrote is kept)
    max_job_seconds: float = 900.0
    #: After the Ctrl-C, seconds to wait before the job's processes are killed
    stop_grace_seconds: float = 60.0
    #: Worker processes of each job's routing (``fulfil plan --workers``)
    job_workers: int = 1

    @property
    def database_url(self) -> str:
        return self.db_url or f"sqlite:///{self.data_dir / 'store.sqlite'}"

    def __post_init__(self) -> None:
        if self.max_body_bytes < 1024:
            raise ValueError("the body limit must be at least 1024 bytes")
        if self.max_concurrent_jobs < 1:
            raise ValueError("at least one job must be able to run")
        if self.max_job_seconds <= 0:
            raise ValueError("the job time limit must be positive")
