"""The job queue: each plan runs as a subprocess of the real command line, a few at a time.

A job is ``fulfil plan SCENARIO --out DIR`` (or ``fulfil replan``) started in its own process
group; its stderr progress lines become the run's progress and events; a cancel, the server's
per-job time limit and the server's shutdown are each a Ctrl-C (SIGINT) to that group, after
which the command line writes the best plan found so far and exits 130 — and if it has not
ended ``stop_grace_seconds`` later, the group is killed and whatever was written is kept.
When the job has ended, the independent checker runs on its plan (in the server: a check takes
a fraction of the plan's time, and needs no second interpreter start).
"""

from __future__ import annotations

import json
import logging
import os
import queue
import re
import signal
import subprocess
import sys
import threading
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

import fulfil
from fulfil.service.settings import Settings
from fulfil.store import Store

log = logging.getLogger("fulfil.service")

_LINE = re.compile(r"^\[\s*([0-9.]+)s\]\s?(.*)$")
_SOLVED = re.compile(r"(last mile|trunk)\b.*? (\d+)/(\d+) solved")
#: Share of the job a phase starts at (the last mile and the trunk advance with their subproblems).
_PHASES = (("loading ", "loading", 0.02), ("allocating ", "allocating", 0.05),
           ("routing last mile:", "last_mile", 0.10), ("cold chain:", "cold_chain", 0.80),
           ("checking the plan", "checking", 0.92))
_SPAN = {"last mile": ("last_mile", 0.10, 0.70), "trunk": ("trunk", 0.80, 0.10)}
#: Where the package lives: the job's interpreter imports this same fulfil whatever its folder.
_ROOT = Path(fulfil.__file__).resolve().parents[1]


def read_progress(line: str, progress: dict[str, Any]) -> dict[str, Any]:
    """``progress`` updated by one stderr line of ``fulfil plan`` (phase, fraction, elapsed seconds)."""
    m = _LINE.match(line.rstrip("\n"))
    if m is None:
        return {**progress, "line": line.strip()[:300]}
    out = {**progress, "elapsed_s": float(m.group(1)), "line": m.group(2).strip()[:300]}
    text = out["line"]
    solved = _SOLVED.search(text)
    if solved:
        phase, start, span = _SPAN[solved.group(1)]
        done, total = int(solved.group(2)), int(solved.group(3))
        out.update(phase=phase, fraction=round(start + span * done / max(total, 1), 3))
        out[phase] = [done, total]
        return out
    for prefix, phase, fraction in _PHASES:
        if text.startswith(prefix):
            out.update(phase=phase, fraction=max(fraction, progress.get("fraction", 0.0)))
    return out


def _child_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "FULFIL_TOKEN"}
    env["PYTHONPATH"] = os.pathsep.join([str(_ROOT), *filter(None, [env.get("PYTHONPATH")])])
    env["PYTHONUNBUFFERED"] = "1"
    return env


def _signal_group(proc: subprocess.Popen, sig: int) -> None:
    try:
        os.killpg(proc.pid, sig)
    except ProcessLookupError:
        pass


class JobManager:
    """Runs queued plan runs on ``settings.max_concurrent_jobs`` threads, each watching one subprocess."""

    def __init__(self, store: Store, settings: Settings):
        self.store = store
        self.settings = settings
        self._queue: queue.Queue[int | None] = queue.Queue()
        self._lock = threading.Lock()
        self._procs: dict[int, subprocess.Popen] = {}
        self._stop_reason: dict[int, str] = {}  # run id → "cancel", "time_limit" or "shutdown"
        self._shutting_down = False
        self._threads: list[threading.Thread] = []

    # ----------------------------------------------------------------- life cycle
    def start(self) -> None:
        """Mark runs a dead server left running as interrupted, queue the queued ones again, start."""
        for run_id in self.store.recover():
            self._queue.put(run_id)
        for i in range(self.settings.max_concurrent_jobs):
            t = threading.Thread(target=self._work, name=f"fulfil-job-{i}", daemon=True)
            t.start()
            self._threads.append(t)

    def shutdown(self) -> None:
        """Stop taking jobs; Ctrl-C the running ones and wait for them to write what they have."""
        with self._lock:
            self._shutting_down = True
            for run_id, proc in self._procs.items():
                self._stop_reason.setdefault(run_id, "shutdown")
                _signal_group(proc, signal.SIGINT)
        for _ in self._threads:
            self._queue.put(None)
        for t in self._threads:
            t.join(self.settings.stop_grace_seconds + 30)

    def submit(self, run_id: int) -> None:
        self._queue.put(run_id)

    def cancel(self, run_id: int, actor: str | None) -> str:
        """Cancel a run: a queued one at once, a running one by Ctrl-C (its best plan is kept).
        Returns what happened: ``cancelled``, ``cancelling`` or the run's final status."""
        if self.store.cancel_queued(run_id, actor):
            return "cancelled"
        with self._lock:
            proc = self._procs.get(run_id)
            if proc is not None and run_id not in self._stop_reason:
                self._stop_reason[run_id] = "cancel"
                self.store.add_event(run_id, "cancel", "cancel requested: the job keeps the best plan so far",
                                     actor=actor)
                _signal_group(proc, signal.SIGINT)
                return "cancelling"
            if proc is not None:
                return "cancelling"
        run = self.store.run(run_id)
        return run["status"] if run is not None else "unknown"

    # ----------------------------------------------------------------- one job
    def _work(self) -> None:
        while True:
            run_id = self._queue.get()
            if run_id is None or self._shutting_down:
                return
            try:
                self._run(run_id)
            except Exception as exc:  # a job's failure must not end the worker thread
                log.exception("job %s", run_id)
                self.store.update_run(run_id, status="failed", finished_at=time.time(),
                                      message=f"internal error of the server: {type(exc).__name__}: {exc}")

    def command(self, run: dict[str, Any], scenario_file: Path, out: Path) -> list[str]:
        """The job's command line (``fulfil plan`` or ``fulfil replan``) from the run's parameters."""
        p = run["params"]
        args = [sys.executable, "-m", "fulfil.service.child"]
        if run["kind"] == "replan":
            folder = self.settings.data_dir / run["folder"]
            args += ["replan", str(scenario_file), str(folder / "previous_plan.json"), str(folder / "events.json")]
        else:
            args += ["plan", str(scenario_file)]
        args += ["--out", str(out), "--time-limit", str(p.get("time_limit_s") or 0), "--seed", str(run["seed"])]
        if run["kind"] == "plan":
            if p.get("solutions") is not None:
                args += ["--solutions", str(p["solutions"])]
            args += ["--workers", str(self.settings.job_workers), "--engine", p.get("engine", "ortools"),
                     "--charts", "0"]
        return args

    def _run(self, run_id: int) -> None:
        if not self.store.start_run(run_id):
            return  # cancelled while it waited
        run = self.store.run(run_id)
        scenario = self.store.scenario(run["scenario_id"])
        data = self.settings.data_dir
        folder = data / run["folder"]
        out = folder / "out"
        scenario_file = data / scenario["folder"] / scenario["entry"]
        if (folder / "previous_scenario.json").is_file():  # a re-plan of a plan that took late orders
            scenario_file = folder / "previous_scenario.json"
        folder.mkdir(parents=True, exist_ok=True)
        self.store.add_event(run_id, "started", "job started")
        with open(folder / "log.txt", "w", encoding="utf-8") as log_file, \
                open(folder / "stdout.txt", "w", encoding="utf-8") as stdout_file:
            proc = subprocess.Popen(self.command(run, scenario_file, out), cwd=folder, env=_child_env(),
                                    stdin=subprocess.DEVNULL, stdout=stdout_file, stderr=subprocess.PIPE,
                                    text=True, encoding="utf-8", errors="replace", start_new_session=True)
            with self._lock:
                self._procs[run_id] = proc
                if self._shutting_down:
                    self._stop_reason[run_id] = "shutdown"
                    _signal_group(proc, signal.SIGINT)
            lines: list[str] = []
            reader = threading.Thread(target=self._read, args=(run_id, proc, log_file, lines), daemon=True)
            reader.start()
            self._watch(run_id, proc)
            reader.join(30)
        with self._lock:
            self._procs.pop(run_id, None)
            reason = self._stop_reason.pop(run_id, None)
        self._finish(run_id, scenario_file, out, proc.returncode, reason, lines)

    def _read(self, run_id: int, proc: subprocess.Popen, log_file, lines: list[str]) -> None:
        progress: dict[str, Any] = {"phase": "starting", "fraction": 0.0}
        for line in proc.stderr:
            log_file.write(line)
            log_file.flush()
            lines.append(line)
            progress = read_progress(line, progress)
            self.store.update_run(run_id, progress=progress)
            self.store.add_event(run_id, "log", line.rstrip("\n")[:2000])

    def _watch(self, run_id: int, proc: subprocess.Popen) -> None:
        """Wait for the job; Ctrl-C it at the time limit; kill its group when a Ctrl-C goes unheeded."""
        started = time.monotonic()
        interrupted_at: float | None = None
        while True:
            try:
                proc.wait(timeout=0.2)
                return
            except subprocess.TimeoutExpired:
                pass
            now = time.monotonic()
            with self._lock:
                if now - started > self.settings.max_job_seconds and run_id not in self._stop_reason:
                    self._stop_reason[run_id] = "time_limit"
                    self.store.add_event(run_id, "time_limit", f"the job ran past the server's limit of "
                                         f"{self.settings.max_job_seconds:g} s; stopping it like Ctrl-C")
                    _signal_group(proc, signal.SIGINT)
                asked = run_id in self._stop_reason
            if asked and interrupted_at is None:
                interrupted_at = now
            if interrupted_at is not None and now - interrupted_at > self.settings.stop_grace_seconds:
                self.store.add_event(run_id, "killed", f"no exit {self.settings.stop_grace_seconds:g} s after "
                                     "Ctrl-C; killed")
                _signal_group(proc, signal.SIGKILL)
                proc.wait()
                return

    def _finish(self, run_id: int, scenario_file: Path, out: Path, rc: int, reason: str | None,
                lines: list[str]) -> None:
        plan_file = out / "plan.json"
        values: dict[str, Any] = {"exit_code": rc, "finished_at": time.time()}
        has_plan = plan_file.is_file()
        if has_plan:
            doc = json.loads(plan_file.read_text(encoding="utf-8"))
            values.update(kpis=doc.get("kpis"), plan_code=doc.get("code"), check=self._check(scenario_file, out))
        status, message = _outcome(rc, reason, has_plan, values.get("check"), lines, self.settings.max_job_seconds)
        progress = (self.store.run(run_id) or {}).get("progress") or {}
        values.update(status=status, message=message,
                      progress={**progress, "phase": status, "fraction": 1.0 if status == "done" else
                                progress.get("fraction", 0.0)})
        self.store.update_run(run_id, **values)
        self.store.add_event(run_id, status, message or status, data={"exit_code": rc, "plan": has_plan})

    def _check(self, scenario_file: Path, out: Path) -> dict[str, Any]:
        """The independent checker's verdict on the job's plan, every violation in ``out/check.json``;
        its summary (count, count by cause) for the store."""
        from fulfil.checker import check_plan, load_plan
        from fulfil.errors import FulfilError
        from fulfil.output import write_json_atomic
        from fulfil.plan_model import CheckResult
        from fulfil.scenario import load_scenario

        try:
            violations = check_plan(load_scenario(plan_scenario(scenario_file, out)), load_plan(out / "plan.json"))
        except FulfilError as exc:
            return {"error": str(exc)}
        summary = CheckResult.of([v.cause for v in violations]).model_dump()
        write_json_atomic(out / "check.json", {**summary, "details": [asdict(v) for v in violations]})
        return summary


def plan_scenario(scenario_file: Path, out: Path) -> Path:
    """The scenario a job's plan belongs to: a re-plan that added late orders writes its own
    ``scenario.json`` beside the plan; otherwise the uploaded scenario."""
    own = out / "scenario.json"
    return own if own.is_file() else scenario_file


def _outcome(rc: int, reason: str | None, has_plan: bool, check: dict | None, lines: list[str],
             limit_s: float) -> tuple[str, str | None]:
    """``(status, message)`` of a finished job."""
    kept = " (the best plan found so far is kept)" if has_plan else " (no plan was written)"
    if reason == "shutdown":
        return "interrupted", "the server was stopped while this job ran" + kept
    if reason == "cancel":
        return "cancelled", "cancelled" + kept
    if reason == "time_limit":
        return "cancelled", f"stopped at the server's job time limit of {limit_s:g} s" + kept
    if has_plan and rc in (0, 4):
        bad = (check or {}).get("violations")
        return "done", (f"the checker found {bad} violation(s)" if bad else None)
    if has_plan and rc == 130:
        return "interrupted", "the job was interrupted from outside the server" + kept
    errors = [ln.strip() for ln in lines if ln.startswith(("error:", "internal error:"))]
    return "failed", errors[-1] if errors else f"the job ended with exit code {rc}" + kept
