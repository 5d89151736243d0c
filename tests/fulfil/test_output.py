"""Atomic file output: the target holds the old content or the new, never part of one."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from fulfil import output
from fulfil.output import write_bytes_atomic, write_json_atomic, write_text_atomic


def _leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.endswith(".tmp"))


def test_writes_and_replaces(tmp_path: Path):
    """A new file is written with its parent folders; a second write replaces it whole."""
    target = tmp_path / "a" / "b" / "plan.json"
    write_bytes_atomic(target, b"first")
    assert target.read_bytes() == b"first"
    write_bytes_atomic(str(target), b"second, longer than the first")
    assert target.read_bytes() == b"second, longer than the first"
    assert _leftovers(target.parent) == []


@pytest.mark.parametrize("exc", [OSError(28, "No space left on device"), KeyboardInterrupt()])
def test_failure_mid_write_keeps_the_old_file(tmp_path: Path, monkeypatch, exc: BaseException):
    """A failure after part of the data is written (disk full, Ctrl-C) leaves the old file untouched, removes
    the temporary file and raises the failure itself."""
    target = tmp_path / "summary.txt"
    write_text_atomic(target, "old summary\n")

    def fail(fd: int) -> None:  # called once the data is written, before the rename
        raise exc

    monkeypatch.setattr(output.os, "fsync", fail)
    with pytest.raises(type(exc)):
        write_text_atomic(target, "new summary that never lands\n")
    assert target.read_text() == "old summary\n"
    assert _leftovers(tmp_path) == []


def test_failure_writing_the_data_keeps_the_old_file(tmp_path: Path):
    """Data that cannot be encoded fails before anything reaches the target."""
    target = tmp_path / "plan.json"
    write_json_atomic(target, {"ok": True})
    with pytest.raises(TypeError):
        write_json_atomic(target, {"bad": object()})
    assert json.loads(target.read_text()) == {"ok": True}
    assert _leftovers(tmp_path) == []


def test_failed_rename_keeps_the_old_file(tmp_path: Path, monkeypatch):
    """When the final rename fails the old file stays and the temporary file is removed."""
    target = tmp_path / "map.png"
    write_bytes_atomic(target, b"old")

    def fail(src, dst):  # noqa: ANN001, ANN202
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(output.os, "replace", fail)
    with pytest.raises(PermissionError):
        write_bytes_atomic(target, b"new")
    assert target.read_bytes() == b"old"
    assert _leftovers(tmp_path) == []


@pytest.mark.skipif(os.name != "posix", reason="POSIX permission bits")
@pytest.mark.parametrize(("umask", "mode"), [(0o022, 0o644), (0o077, 0o600), (0o002, 0o664)])
def test_permissions_follow_the_umask(tmp_path: Path, umask: int, mode: int):
    """The file gets the permissions a plain open() would give (0o666 minus the umask), not mkstemp's 0o600,
    and the umask is left as it was."""
    old = os.umask(umask)
    try:
        target = tmp_path / f"route_{umask:o}.csv"
        write_text_atomic(target, "a,b\n")
        assert stat.S_IMODE(target.stat().st_mode) == mode
        assert os.umask(umask) == umask  # unchanged by the write
    finally:
        os.umask(old)


def test_text_and_json_are_utf8(tmp_path: Path):
    """Text is written as UTF-8; JSON keeps non-ASCII characters readable and ends with a newline."""
    write_text_atomic(tmp_path / "t.txt", "长沙 − 18 °C")
    assert (tmp_path / "t.txt").read_bytes() == "长沙 − 18 °C".encode()
    write_json_atomic(tmp_path / "p.json", {"city": "长沙", "n": [1, 2]})
    text = (tmp_path / "p.json").read_text(encoding="utf-8")
    assert "长沙" in text and text.endswith("\n")
    assert json.loads(text) == {"city": "长沙", "n": [1, 2]}


def _fill_with(files: dict[str, str]):
    def fill(tmp: Path) -> None:
        for name, text in files.items():
            (tmp / name).parent.mkdir(parents=True, exist_ok=True)
            (tmp / name).write_text(text)

    return fill


def _tree(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): p.read_text() for p in folder.rglob("*") if p.is_file()}


@pytest.mark.parametrize("exchange", [True, False], ids=["rename-exchange", "two-renames"])
def test_a_folder_is_replaced_whole(tmp_path: Path, monkeypatch, exchange: bool):
    """The new folder replaces the old one whole (files of the old one that the new one lacks are gone),
    with the one-step exchange and with the two-rename fallback; nothing is left beside it."""
    if not exchange:
        monkeypatch.setattr(output, "_exchange", lambda a, b: False)
    final = tmp_path / "plan"
    output.replace_folder_atomic(final, _fill_with({"plan.json": "old", "route_sheets/A.csv": "a"}))
    output.replace_folder_atomic(final, _fill_with({"plan.json": "new", "route_sheets/B.csv": "b"}))
    assert _tree(final) == {"plan.json": "new", "route_sheets/B.csv": "b"}
    assert [p.name for p in tmp_path.iterdir()] == ["plan"]


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="renameat2 is Linux's")
def test_the_exchange_swaps_two_folders_in_one_step(tmp_path: Path):
    """On Linux the two folders trade places (the old folder is never missing from its path)."""
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "x").write_text("a")
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "y").write_text("b")
    assert output._exchange(tmp_path / "a", tmp_path / "b")
    assert _tree(tmp_path / "a") == {"y": "b"} and _tree(tmp_path / "b") == {"x": "a"}


@pytest.mark.parametrize("exc", [OSError(28, "No space left on device"), KeyboardInterrupt()])
def test_a_failure_while_filling_keeps_the_old_folder(tmp_path: Path, exc: BaseException):
    """A failure while the new folder is filled leaves the old folder as it was and no temporary folder."""
    final = tmp_path / "plan"
    output.replace_folder_atomic(final, _fill_with({"plan.json": "old"}))

    def fill(tmp: Path) -> None:
        (tmp / "plan.json").write_text("new")
        raise exc

    with pytest.raises(type(exc)):
        output.replace_folder_atomic(final, fill)
    assert _tree(final) == {"plan.json": "old"}
    assert [p.name for p in tmp_path.iterdir()] == ["plan"]


def test_temporary_folders_of_a_killed_writer_are_removed_by_the_next_write(tmp_path: Path):
    """A hidden temporary folder left by a process that is gone is removed; one of a live process (a
    writer at work) and other hidden entries are left alone."""
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True,
                          text=True, check=True)
    dead = tmp_path / f".plan.{gone.stdout.strip()}.abc{output.TMP_SUFFIX}"
    live = tmp_path / f".plan.{os.getppid()}.def{output.TMP_SUFFIX}"
    other = tmp_path / ".plan.notes"
    for d in (dead, live, other):
        d.mkdir()
    output.replace_folder_atomic(tmp_path / "plan", _fill_with({"plan.json": "new"}))
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["plan", live.name, other.name])


def test_a_symlinked_folder_is_replaced_where_it_points(tmp_path: Path):
    """``final`` a symbolic link to a folder: the folder it points to is replaced, the link stays."""
    (tmp_path / "real").mkdir()
    (tmp_path / "real" / "plan.json").write_text("old")
    (tmp_path / "link").symlink_to(tmp_path / "real")
    output.replace_folder_atomic(tmp_path / "link", _fill_with({"plan.json": "new"}))
    assert (tmp_path / "link").is_symlink() and _tree(tmp_path / "real") == {"plan.json": "new"}
