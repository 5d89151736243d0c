"""One error hierarchy for the whole project; the CLI catches it once.

Exit codes (documented in the README):

* 0 — success (``check``: no violation)
* 1 — internal error (a bug: please report it)
* 2 — bad input (scenario, plan or option)
* 4 — ``fulfil check`` found violations
* 130 — interrupted; the best plan found so far was written
"""

from __future__ import annotations


class FulfilError(Exception):
    """Base class of every error fulfil raises on purpose."""

    exit_code = 1


class ScenarioError(FulfilError):
    """A scenario (or plan) file is malformed or inconsistent.

    ``problems`` holds every problem found, each already located as
    ``file: field.path: what is wrong``.
    """

    exit_code = 2

    def __init__(self, problems: list[str] | str):
        if isinstance(problems, str):
            problems = [problems]
        self.problems = list(problems)
        n = len(self.problems)
        head = f"{n} problem{'s' if n != 1 else ''} found" if n > 1 else self.problems[0]
        super().__init__(head if n == 1 else head + ":\n" + "\n".join("  " + p for p in self.problems))


class UsageError(FulfilError):
    """A command-line option is invalid."""

    exit_code = 2
