"""Atomic file output: write to a temporary file (or folder) beside the target, then rename.

A crash, a kill or Ctrl-C mid-write leaves either the old file or folder or the new one, never
half of one, and never the files of two folders together:

* a file is written to a temporary file beside it and renamed over it;
* a folder (:func:`replace_folder_atomic`) is filled in a fresh temporary folder beside it, then
  swapped with the old one in one step (Linux ``renameat2(RENAME_EXCHANGE)``), and the old one,
  now under the temporary name, is removed. Where the exchange is not available (another
  system, a file system without it) the old folder is renamed away and the new one renamed in:
  between the two renames the folder is missing for a moment (never mixed).

A kill can leave a hidden temporary folder beside the target (``.NAME.PID.*.fulfil-tmp``);
the next write of the same target removes those whose process is gone.

:func:`check_output_folder` asks, before any work, whether a folder could be written there.
"""

from __future__ import annotations

import ctypes
import errno
import json
import os
import shutil
import stat
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from fulfil.errors import UsageError

#: Suffix of the temporary folders :func:`replace_folder_atomic` makes beside its target.
TMP_SUFFIX = ".fulfil-tmp"


def write_bytes_atomic(path: str | Path, data: bytes) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


def write_text_atomic(path: str | Path, text: str) -> None:
    write_bytes_atomic(path, text.encode("utf-8"))


def write_json_atomic(path: str | Path, data: Any) -> None:
    write_text_atomic(path, json.dumps(data, indent=1, ensure_ascii=False) + "\n")


_RENAME_EXCHANGE = 2
_AT_FDCWD = -100
_renameat2: Any = None  # the libc function, False when there is none


def _exchange(a: Path, b: Path) -> bool:
    """Swap the paths ``a`` and ``b`` in one step; False where the system or file system cannot."""
    global _renameat2
    if _renameat2 is None:
        try:
            fn = ctypes.CDLL(None, use_errno=True).renameat2
        except (AttributeError, OSError):  # not Linux, or a libc older than glibc 2.28
            _renameat2 = False
        else:
            fn.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
            fn.restype = ctypes.c_int
            _renameat2 = fn
    if _renameat2 is False:
        return False
    if _renameat2(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE) == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP):  # a kernel or file system without the flag
        return False
    raise OSError(err, os.strerror(err), str(a), None, str(b))


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # another user's process: alive
        return True
    return True


def _remove_stale(final: Path) -> None:
    """Remove the temporary folders a killed writer of ``final`` left beside it."""
    prefix = f".{final.name}."
    try:
        entries = list(os.scandir(final.parent))
    except OSError:
        return
    for e in entries:
        if not (e.name.startswith(prefix) and e.name.endswith(TMP_SUFFIX)):
            continue
        pid = e.name[len(prefix):].split(".", 1)[0]
        if pid.isdigit() and int(pid) != os.getpid() and not _alive(int(pid)):
            shutil.rmtree(e.path, ignore_errors=True)


def replace_folder_atomic(final: str | Path, fill: Callable[[Path], None]) -> None:
    """Build a folder with ``fill(tmp)`` in a fresh temporary folder beside ``final``, then put it
    at ``final`` whole, in one step where the system can (see the module docstring). A symbolic
    link at ``final`` is followed: the folder it points to is replaced."""
    final = Path(final)
    if final.is_symlink():
        final = Path(os.path.realpath(final))
    final.parent.mkdir(parents=True, exist_ok=True)
    _remove_stale(final)
    tmp = _temporary_beside(final)
    old: Path | None = None  # where the old folder is once the new one is in place
    try:
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o777 & ~umask)  # a plain mkdir's permissions, not mkdtemp's 0o700
        fill(tmp)
        if not final.exists():
            tmp.rename(final)
        elif _exchange(tmp, final):
            old = tmp
        else:
            old = _temporary_beside(final)
            final.replace(old)  # onto an empty folder: allowed
            try:
                tmp.rename(final)
            except BaseException:
                old.rename(final)
                raise
    except BaseException:
        if old is not tmp:
            shutil.rmtree(tmp, ignore_errors=True)
        raise
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def _temporary_beside(final: Path) -> Path:
    return Path(tempfile.mkdtemp(prefix=f".{final.name}.{os.getpid()}.", suffix=TMP_SUFFIX, dir=final.parent))


def _nearest_existing(path: Path) -> tuple[Path, list[str]]:
    """The nearest ancestor of ``path`` (itself included) that exists, and the names below it."""
    missing: list[str] = []
    cur = path
    while True:
        try:
            os.stat(cur)
            return cur, missing[::-1]
        except FileNotFoundError:
            if cur.parent == cur:
                return cur, missing[::-1]
            missing.append(cur.name)
            cur = cur.parent


def check_output_folder(path: str | Path, option: str = "--out", *, replaced: bool = True) -> Path:
    """Raise :class:`UsageError` (exit 2), naming ``option`` and the path, unless a folder can be
    written at ``path``; returns the path made absolute.

    Asked before any work, so that a bad ``--out`` is not found after the whole solve: the path
    and every parent must be folders (or not exist yet), their names allowed, and a temporary
    folder must be creatable where the writing will happen (tried, then removed: nothing is
    left behind). An existing folder must itself be writable; with ``replaced`` (it will be
    replaced whole by :func:`replace_folder_atomic`) it must also be neither a mount point nor
    the current folder or one above it, and the temporary folder is tried beside it, else in it.
    """
    raw = Path(path)
    where = f"{option} {_shown(raw)}"
    try:
        p = Path(os.path.abspath(raw))
        if raw.is_symlink():
            p = Path(os.path.realpath(raw))
        base, missing = _nearest_existing(p)
        st = os.stat(base)
    except OSError as exc:
        if exc.errno == errno.ENOTDIR:
            bad = _not_folder(p)
            raise UsageError(f"{where}: {_shown(bad)} {_what(bad)}") from None
        raise UsageError(f"{where}: {exc.strerror or exc}") from None
    except ValueError as exc:  # a NUL byte
        raise UsageError(f"{where}: {exc}") from None
    if not stat.S_ISDIR(st.st_mode):
        raise UsageError(f"{where}: {_shown(base)} {_what(base)}" if missing else f"{where}: {_what(base)}")
    if not missing:  # the folder exists
        if not os.access(p, os.W_OK | os.X_OK):
            raise UsageError(f"{where}: the folder is not writable")
        if replaced:
            if os.path.ismount(p):
                raise UsageError(f"{where}: is a mount point; name a folder inside it")
            cwd = Path(os.getcwd())
            if cwd == p or p in cwd.parents:
                raise UsageError(f"{where}: is the current folder or one above it; name another folder")
            base = p.parent
    try:
        probe = tempfile.mkdtemp(prefix=".fulfil-probe-", dir=base)
    except OSError as exc:
        raise UsageError(f"{where}: cannot write in {_shown(base)} ({exc.strerror or exc})") from None
    try:
        os.makedirs(os.path.join(probe, *missing), exist_ok=True)
    except OSError as exc:
        raise UsageError(f"{where}: cannot create it ({exc.strerror or exc})") from None
    finally:
        shutil.rmtree(probe, ignore_errors=True)
    return p


def _not_folder(path: Path) -> Path:
    """The first part of ``path`` that exists and is not a folder (``path`` itself if none is found)."""
    for a in [*reversed(path.parents), path]:
        if not os.path.isdir(a) and os.path.lexists(a):
            return a
    return path


def _what(path: Path) -> str:
    return "is a file, not a folder" if os.path.isfile(path) else "is not a folder"


def _shown(path: Path) -> str:
    """``path`` as text, quoted with escapes when it holds characters a terminal would act on."""
    text = str(path)
    return text if text.isprintable() else repr(text)
