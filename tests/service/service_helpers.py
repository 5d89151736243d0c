"""Helpers of the service tests: the token, the mini scenario's files, waiting for a job."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

GOOD = Path(__file__).resolve().parents[1] / "data" / "good"
TOKEN = "test-token-0123456789"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
#: A deterministic budget that plans the mini scenario in about two seconds.
FAST = {"time_limit_s": 0, "solutions": 20}


def mini_files() -> list[tuple[str, tuple[str, bytes]]]:
    """The mini scenario with its CSV tables, as a multipart ``files`` list."""
    names = ["mini_csv.toml", "mini_pickup_points.csv", "mini_demand.csv", "mini_stock.csv"]
    return [("files", (n, (GOOD / n).read_bytes())) for n in names]


def wait_for(client, job_id: int, until: Callable[[dict], bool], timeout: float = 120.0) -> dict:
    """Poll a job until ``until(job)``; the last job document."""
    deadline = time.monotonic() + timeout
    while True:
        job = client.get(f"/api/jobs/{job_id}").json()
        if until(job):
            return job
        assert time.monotonic() < deadline, f"job {job_id} never got there: {job}"
        time.sleep(0.2)


def finished(job: dict) -> bool:
    return job["status"] not in ("queued", "running")
