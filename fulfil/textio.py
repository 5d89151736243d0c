"""Reading a user's file with errors that name it (never a traceback).

Every way a path can fail — missing, a folder, a FIFO or device, a symlink loop, too long,
holding a NUL byte, unreadable, larger than the reader takes — becomes a
:class:`ScenarioError` naming the path and what is wrong, so the command exits 2.
"""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path

from fulfil.errors import ScenarioError

#: Largest text file read by default, bytes (a plan of the large city is ~30 MB).
MAX_TEXT_BYTES = 256 * 2**20
#: Longest path accepted, characters (Linux's PATH_MAX is 4096).
MAX_PATH_CHARS = 4096
#: What :func:`regular_file_problem` says of a path that does not exist.
NOT_FOUND = "not found"


def shown(text: str | os.PathLike, limit: int = 200) -> str:
    """``text`` fit for an error line: control characters escaped, the middle of a long one cut."""
    text = os.fspath(text)
    if not text.isprintable():
        text = repr(text)[1:-1]
    if len(text) > limit:
        text = f"{text[: limit // 2]}…{text[-limit // 4:]} ({len(text)} characters)"
    return text


def path_problem(path: Path) -> str | None:
    """What makes ``path`` unusable as a name (NUL byte, control character, length), or None."""
    text = str(path)
    if "\x00" in text:
        return "the path holds a NUL byte"
    if not text.isprintable():
        return "the path holds a control character"
    if len(text) > MAX_PATH_CHARS:
        return f"the path is {len(text)} characters long; at most {MAX_PATH_CHARS} are accepted"
    return None


def os_problem(exc: OSError) -> str:
    """An ``OSError`` from touching a path as a few words (never the path again)."""
    if isinstance(exc, (FileNotFoundError, NotADirectoryError)):
        return NOT_FOUND
    if isinstance(exc, PermissionError):
        return "permission denied (cannot read it)"
    if exc.errno == errno.ELOOP:
        return "a symlink loop"
    if exc.errno == errno.ENAMETOOLONG:
        return "the path is too long"
    return exc.strerror or type(exc).__name__


def regular_file_problem(path: Path, what: str, max_bytes: int) -> str | None:
    """Why ``path`` is not a regular file of at most ``max_bytes`` that can be opened, or None."""
    problem = path_problem(path)
    if problem is not None:
        return problem
    try:
        st = os.stat(path)
    except OSError as exc:
        return os_problem(exc)
    except RuntimeError:  # pathlib's symlink-loop error on some Pythons
        return "a symlink loop"
    if stat.S_ISDIR(st.st_mode):
        return f"is a folder, not a {what}"
    if not stat.S_ISREG(st.st_mode):
        return f"not a regular file (a device, pipe or socket cannot be a {what})"
    if st.st_size > max_bytes:
        return f"{st.st_size} bytes; a {what} may have at most {max_bytes}"
    return None


def read_input_bytes(path: str | Path, what: str, max_bytes: int = MAX_TEXT_BYTES) -> bytes:
    """The bytes of the regular file ``path``; :class:`ScenarioError` ``"<path>: <problem>"`` otherwise.

    The size is checked again while reading: files under ``/proc`` report 0 bytes.
    """
    path = Path(path)
    problem = regular_file_problem(path, what, max_bytes)
    if problem == NOT_FOUND:
        raise ScenarioError(f"{shown(path)}: {what} not found")
    if problem is not None:
        raise ScenarioError(f"{shown(path)}: {problem}")
    try:
        with open(path, "rb") as fh:
            data = fh.read(max_bytes + 1)
    except OSError as exc:
        raise ScenarioError(f"{shown(path)}: {os_problem(exc)}") from None
    if len(data) > max_bytes:
        raise ScenarioError(f"{shown(path)}: more than {max_bytes} bytes; a {what} may have at most {max_bytes}")
    return data


def read_input_text(path: str | Path, what: str, encoding: str = "utf-8", max_bytes: int = MAX_TEXT_BYTES) -> str:
    """The text of ``path``; :class:`ScenarioError` ``"<path>: <what> not found"``, naming the bad byte, etc."""
    data = read_input_bytes(path, what, max_bytes)
    try:
        return data.decode(encoding)
    except UnicodeDecodeError as exc:
        raise ScenarioError(f"{shown(path)}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
