"""Choosers, command runners and the invariants every command's outcome must keep.

A *failure* here is a short class label (``"traceback"``, ``"exit 1"``, ...) plus a detail; the
tests assert there are none and the benchmark counts them per class.
"""

from __future__ import annotations

import contextlib
import io
import os
import random
import re
import resource
import subprocess
import sys
import time
import traceback
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, TypeVar

ROOT = Path(__file__).resolve().parents[2]
T = TypeVar("T")

#: Exit codes of the CLI (README): 0 ok, 1 internal error, 2 bad input, 4 violations, 130 interrupted.
OK, INTERNAL, BAD_INPUT, VIOLATIONS, INTERRUPTED = 0, 1, 2, 4, 130

#: An error report longer than this is not "one clear message" (issue 13: 19 MB of lines).
MAX_ERR_BYTES = 64_000

#: Escape and other control characters that must never reach a terminal from input data.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\x9b]")


class Chooser(Protocol):
    """Where a mutation gets its random choices from."""

    def pick(self, options: Sequence[T], label: str = "") -> T: ...

    def integer(self, lo: int, hi: int, label: str = "") -> int: ...


class RandomChooser:
    """Choices from a seeded :class:`random.Random` (the benchmark)."""

    def __init__(self, rng: random.Random):
        self.rng = rng

    def pick(self, options: Sequence[T], label: str = "") -> T:
        return options[self.rng.randrange(len(options))]

    def integer(self, lo: int, hi: int, label: str = "") -> int:
        return self.rng.randint(lo, hi)


class HypothesisChooser:
    """Choices drawn from Hypothesis's ``data()`` (the tests): failures shrink to simple choices."""

    def __init__(self, data: Any):
        self.data = data

    def pick(self, options: Sequence[T], label: str = "") -> T:
        from hypothesis import strategies as st

        return self.data.draw(st.sampled_from(list(options)), label=label or None)

    def integer(self, lo: int, hi: int, label: str = "") -> int:
        from hypothesis import strategies as st

        return self.data.draw(st.integers(lo, hi), label=label or None)


class RecordingChooser(RandomChooser):
    """A :class:`RandomChooser` that keeps its choices (option indexes and integers) so a failing
    case can be replayed with :class:`ReplayChooser`."""

    def __init__(self, rng: random.Random):
        super().__init__(rng)
        self.script: list[int] = []

    def pick(self, options: Sequence[T], label: str = "") -> T:
        i = self.rng.randrange(len(options))
        self.script.append(i)
        return options[i]

    def integer(self, lo: int, hi: int, label: str = "") -> int:
        v = self.rng.randint(lo, hi)
        self.script.append(v)
        return v


class ReplayChooser:
    """Replays a :class:`RecordingChooser` script."""

    def __init__(self, script: Sequence[int]):
        self.script = list(script)

    def pick(self, options: Sequence[T], label: str = "") -> T:
        return options[self.script.pop(0)]

    def integer(self, lo: int, hi: int, label: str = "") -> int:
        return self.script.pop(0)


class NamedChooser:
    """Choices named by label (``{"target": "/etc/passwd"}``); any other choice is the first
    option, or ``lo``.  For readable regression cases."""

    def __init__(self, **choices: Any):
        self.choices = choices

    def pick(self, options: Sequence[T], label: str = "") -> T:
        if label in self.choices:
            want = self.choices[label]
            for o in options:
                if o is want or (type(o) is type(want) and repr(o) == repr(want)):
                    return o
            raise ValueError(f"{label}: {want!r} is not one of the options")
        return options[0]

    def integer(self, lo: int, hi: int, label: str = "") -> int:
        return int(self.choices.get(label, lo))


@dataclass
class Outcome:
    """What one command did."""

    argv: list[str]
    rc: int | None  # None: timed out; negative: killed by that signal
    out: str
    err: str
    seconds: float


class _TimedOut(BaseException):
    """Raised in the main thread by the alarm of :func:`run_inprocess`."""


def run_inprocess(argv: list[str], timeout_s: float = 60.0) -> Outcome:
    """``fulfil.cli.main(argv)`` in this process, stdout and stderr captured, stopped after
    ``timeout_s`` (a SIGALRM; main thread only) and then reported as a timeout (rc None).

    An exception escaping ``main`` (or ``SystemExit`` from argparse) is turned into an outcome
    the invariants judge like a subprocess's: rc 1 and the traceback in ``err``.
    """
    import signal

    from fulfil.cli import main

    def alarm(signum, frame):
        raise _TimedOut

    out, err = io.StringIO(), io.StringIO()
    t0 = time.perf_counter()
    previous = signal.signal(signal.SIGALRM, alarm)
    signal.setitimer(signal.ITIMER_REAL, timeout_s)
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            rc: int | None = main(list(argv))
        except _TimedOut:
            rc = None
        except SystemExit as exc:
            rc = exc.code if isinstance(exc.code, int) else 2
        except BaseException:  # noqa: BLE001 - recorded as the failure it is
            err.write(traceback.format_exc())
            rc = INTERNAL
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, previous)
    return Outcome(list(argv), rc, out.getvalue(), err.getvalue(), time.perf_counter() - t0)


#: How a subprocess starts the CLI: the checkout's package, whatever the installed copy says.
#: What the installed ``fulfil`` command runs.
BOOT = "from fulfil.cli import run; run()"


def cli_env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT) + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    env.pop("FULFIL_DEBUG", None)
    return env


def _limit_memory(mb: int):
    def apply() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (mb << 20, mb << 20))

    return apply


def run_subprocess(argv: list[str], timeout_s: float = 120.0, memory_mb: int = 3072) -> Outcome:
    """The real CLI in a child process, with a wall-clock and an address-space limit."""
    t0 = time.perf_counter()
    try:
        p = subprocess.run([sys.executable, "-c", BOOT, *argv], capture_output=True, timeout=timeout_s,
                           env=cli_env(), preexec_fn=_limit_memory(memory_mb), check=False)
    except subprocess.TimeoutExpired as exc:
        return Outcome(list(argv), None, _text(exc.stdout), _text(exc.stderr), time.perf_counter() - t0)
    return Outcome(list(argv), p.returncode, _text(p.stdout), _text(p.stderr), time.perf_counter() - t0)


def _text(b: bytes | str | None) -> str:
    if b is None:
        return ""
    return b if isinstance(b, str) else b.decode("utf-8", "replace")


def common_failures(o: Outcome, allowed: frozenset[int]) -> list[tuple[str, str]]:
    """Failures any command can have: a traceback, exit 1, an exit code not in ``allowed``, a
    timeout or a crash, control characters from the input reaching the terminal, a flood of lines."""
    found: list[tuple[str, str]] = []
    if o.rc is None:
        found.append(("timeout", f"no exit after {o.seconds:.0f} s"))
    elif o.rc < 0:
        found.append(("crash", f"killed by signal {-o.rc}"))
    elif o.rc == INTERNAL:
        found.append(("exit 1", _last_line(o.err)))
    elif o.rc not in allowed:
        found.append((f"exit {o.rc}", _last_line(o.err) or _last_line(o.out)))
    if "Traceback (most recent call last)" in o.err or "Traceback (most recent call last)" in o.out:
        found.append(("traceback", _last_line(o.err)))
    both = o.out + o.err
    if _CONTROL.search(both):
        ch = _CONTROL.search(both).group()  # type: ignore[union-attr]
        found.append(("control character in output", f"{ch!r} printed"))
    if len(o.err.encode("utf-8", "replace")) > MAX_ERR_BYTES:
        found.append(("error report too long", f"{len(o.err)} characters, {o.err.count(chr(10))} lines on stderr"))
    return found


def _last_line(text: str) -> str:
    lines = [ln for ln in text.strip().splitlines() if ln.strip()]
    return lines[-1][:300] if lines else ""


def describe(failures: list[tuple[str, str]]) -> str:
    return "; ".join(f"{k}: {v}" for k, v in failures)
