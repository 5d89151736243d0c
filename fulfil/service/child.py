"""What a job's subprocess runs: the fulfil command line itself, after asking Linux to kill it when
the server's thread that started it dies, so a server killed outright leaves no job running unseen.

    python -m fulfil.service.child plan SCENARIO --out DIR ...      # = fulfil plan ...
"""

from __future__ import annotations

import ctypes
import signal
import sys

_PR_SET_PDEATHSIG = 1


def die_with_parent() -> None:
    """``prctl(PR_SET_PDEATHSIG, SIGKILL)`` on Linux; elsewhere nothing (the job may outlive a
    killed server there, and is marked interrupted on the next start all the same)."""
    if not sys.platform.startswith("linux"):
        return
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    except (OSError, AttributeError):
        pass


def main(argv: list[str]) -> int:
    die_with_parent()
    from fulfil.cli import main as cli_main

    return cli_main(argv)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
