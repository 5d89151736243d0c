"""A real ``fulfil serve`` (uvicorn on a free loopback port) killed outright and started again."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest
from service_helpers import AUTH, FAST, TOKEN, finished, mini_files, wait_for

import fulfil

ROOT = Path(fulfil.__file__).resolve().parents[1]
#: ``fulfil serve`` without the main command line (the service module's own parser and runner).
SERVE = ("import argparse, sys\n"
         "from fulfil.service.cli import add_serve_parser\n"
         "p = argparse.ArgumentParser(); add_serve_parser(p.add_subparsers())\n"
         "a = p.parse_args(sys.argv[1:]); sys.exit(a.func(a))\n")


def _serve(data: Path) -> tuple[subprocess.Popen, httpx.Client]:
    log = (data.parent / "server.err").open("a")  # what the server said, for a failing test's report
    env = {**os.environ, "FULFIL_TOKEN": TOKEN,
           "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    proc = subprocess.Popen([sys.executable, "-c", SERVE, "serve", "--data-dir", str(data), "--port", "0",
                             "--max-jobs", "1"], stdout=subprocess.PIPE, stderr=log, text=True,
                            env=env, start_new_session=True)
    log.close()  # the server has its own copy
    first: list[str] = []
    reader = threading.Thread(target=lambda: first.append(proc.stdout.readline()), daemon=True)
    reader.start()
    reader.join(60)
    m = re.search(r"on http://127\.0\.0\.1:(\d+) ", first[0] if first else "")
    if m is None:
        proc.kill()
        pytest.fail(f"the server did not start: {first} {(data.parent / 'server.err').read_text()}")
    return proc, httpx.Client(base_url=f"http://127.0.0.1:{m.group(1)}", headers=AUTH, timeout=30)


def _processes_mentioning(text: str) -> list[int]:
    out = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if text.encode() in (entry / "cmdline").read_bytes():
                    out.append(int(entry.name))
            except OSError:
                continue
    return out


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="kills a process group; reads /proc")
def test_a_restart_keeps_jobs_and_plans_and_marks_the_running_job_interrupted(tmp_path, small_city):
    data = tmp_path / "data"
    server, client = _serve(data)
    try:
        assert client.get("/health").json()["status"] == "ok"
        sid = client.post("/api/scenarios", files=mini_files()).json()["id"]
        done = wait_for(client, client.post("/api/jobs", json={"scenario_id": sid, **FAST}).json()["id"], finished)
        assert done["status"] == "done"
        plan = client.get(f"/api/jobs/{done['id']}/plan").content

        files = [("files", (p.name, p.read_bytes())) for p in sorted(small_city.parent.iterdir()) if p.is_file()]
        big = client.post("/api/scenarios", files=files, data={"entry": small_city.name}).json()["id"]
        running = client.post("/api/jobs", json={"scenario_id": big, "time_limit_s": 60}).json()["id"]
        queued = client.post("/api/jobs", json={"scenario_id": sid, **FAST, "seed": 5}).json()["id"]
        wait_for(client, running, lambda j: (j["progress"] or {}).get("phase") == "last_mile")
        assert client.get(f"/api/jobs/{queued}").json()["status"] == "queued"
    finally:
        os.killpg(server.pid, signal.SIGKILL)  # the server dies outright: no shutdown of any kind
        server.wait(30)
        client.close()

    job_folder = str(data / "runs" / str(running))
    deadline = time.monotonic() + 10
    while _processes_mentioning(job_folder) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not _processes_mentioning(job_folder), "the job outlived its server"

    server, client = _serve(data)
    try:
        jobs = {j["id"]: j for j in client.get("/api/jobs").json()}
        assert set(jobs) == {done["id"], running, queued}
        assert jobs[done["id"]]["status"] == "done" and jobs[done["id"]]["kpis"] == done["kpis"]
        assert client.get(f"/api/jobs/{done['id']}/plan").content == plan
        assert jobs[running]["status"] == "interrupted" and jobs[running]["timings"]["finished_at"]
        assert client.get(f"/api/jobs/{running}/plan").status_code == 404
        assert jobs[queued]["status"] in ("queued", "running", "done")  # queued again, not lost
        assert wait_for(client, queued, finished)["status"] == "done"
        assert client.get(f"/api/jobs/{queued}/plan").json()["seed"] == 5
        assert [s["id"] for s in client.get("/api/scenarios").json()] == [sid, big]
    finally:
        client.close()
        server.send_signal(signal.SIGINT)  # a clean stop this time
        assert server.wait(60) == 0

