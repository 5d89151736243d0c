"""Reading a user's text file with errors that name it (never a traceback)."""

from __future__ import annotations

from pathlib import Path

from fulfil.errors import ScenarioError


def read_input_text(path: str | Path, what: str, encoding: str = "utf-8") -> str:
    """The text of ``path``; :class:`ScenarioError` ``"<path>: <what> not found"`` or naming the bad byte."""
    path = Path(path)
    if not path.is_file():
        raise ScenarioError(f"{path}: {what} not found")
    try:
        return path.read_text(encoding=encoding)
    except UnicodeDecodeError as exc:
        raise ScenarioError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
