"""Stopping a ``fulfil plan`` at an exact point of its file writes, and at a random moment.

:func:`run_with_fault` forks; the child runs the command line with every file-system change
(open for writing, rename, replace, unlink, mkdir, rmdir) counted, and at the ``k``-th one
either dies on the spot (``os._exit``: what SIGKILL leaves, no cleanup runs) or raises
``KeyboardInterrupt`` (Ctrl-C; ``"int2"`` raises it again at the next change: a second Ctrl-C).
Deterministic, so every point of the write sequence can be tried.  :func:`run_killed` is the
real thing for the benchmark: a child process sent SIGKILL or SIGINT after a delay.
"""

from __future__ import annotations

import builtins
import io
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from fuzzing.harness import BOOT, Outcome, cli_env

KILLED = 137  # the child's status when it "died" at the fault


def _hooks(k: int, mode: str, counter: list[int]) -> None:
    """Replace the file-system functions in this (child) process by counting ones."""

    def event() -> None:
        counter[0] += 1
        n = counter[0]
        if mode == "kill" and n == k:
            os._exit(KILLED)
        if mode.startswith("int") and (n == k or (mode == "int2" and n == k + 1)):
            raise KeyboardInterrupt

    def wrap(fn, writes=lambda *a, **kw: True):
        def hooked(*args, **kwargs):
            if writes(*args, **kwargs):
                event()
            return fn(*args, **kwargs)
        return hooked

    def open_writes(file, mode="r", *a, **kw) -> bool:
        return any(c in str(mode) for c in "wax+")

    def os_open_writes(path, flags, *a, **kw) -> bool:
        return bool(flags & (os.O_WRONLY | os.O_RDWR | os.O_CREAT))

    hooked_open = wrap(builtins.open, open_writes)
    builtins.open = hooked_open
    io.open = hooked_open
    os.open = wrap(os.open, os_open_writes)
    for name in ("replace", "rename", "unlink", "remove", "mkdir", "rmdir"):
        setattr(os, name, wrap(getattr(os, name)))


def run_with_fault(argv: list[str], k: int, mode: str, timeout_s: float = 120.0) -> tuple[int, int]:
    """Run ``fulfil.cli.main(argv)`` in a forked child with a fault at the ``k``-th file-system
    change (``mode``: ``"kill"``, ``"int"``, ``"int2"``; ``"count"``: no fault).  Returns the
    child's exit status and, for ``"count"``, how many changes it made (else -1)."""
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: never returns into the caller's code
        status = 1
        try:
            os.close(r)
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, 1)
            os.dup2(devnull, 2)
            counter = [0]
            _hooks(k, mode, counter)
            from fulfil.cli import main

            status = main(list(argv))
            os.write(w, str(counter[0]).encode())
        finally:
            os._exit(status)
    os.close(w)
    deadline = time.monotonic() + timeout_s
    while True:
        done, st = os.waitpid(pid, os.WNOHANG)
        if done:
            break
        if time.monotonic() > deadline:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            os.close(r)
            return -signal.SIGKILL, -1
        time.sleep(0.02)
    data = os.read(r, 64)
    os.close(r)
    return os.waitstatus_to_exitcode(st), int(data) if data else -1


def run_killed(argv: list[str], sig: int, delay_s: float, second_after_s: float | None = None,
               timeout_s: float = 120.0) -> Outcome:
    """The real CLI in a child process, sent ``sig`` ``delay_s`` after it printed its first progress
    line (so the signal never lands in Python's start-up), and again ``second_after_s`` later."""
    t0 = time.perf_counter()
    p = subprocess.Popen([sys.executable, "-c", BOOT, *argv], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         env=cli_env())
    first = p.stderr.readline() if p.stderr else b""  # "[   0.0s] loading ..."
    time.sleep(delay_s)
    if p.poll() is None:
        p.send_signal(sig)
        if second_after_s is not None:
            time.sleep(second_after_s)
            if p.poll() is None:
                p.send_signal(sig)
    try:
        out, err = p.communicate(timeout=timeout_s)
        rc: int | None = p.returncode
    except subprocess.TimeoutExpired:
        p.kill()
        out, err = p.communicate()
        rc = None
    return Outcome(list(argv), rc, out.decode("utf-8", "replace"), (first + err).decode("utf-8", "replace"),
                   time.perf_counter() - t0)


def restore(backup: Path, out: Path) -> None:
    """Put the folder ``out`` back as ``backup`` holds it (the older plan)."""
    import shutil

    if out.exists():
        shutil.rmtree(out)
    for stray in out.parent.glob(f".{out.name}*"):
        shutil.rmtree(stray, ignore_errors=True) if stray.is_dir() else stray.unlink()
    shutil.copytree(backup, out)
