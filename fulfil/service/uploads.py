"""Request bodies and scenario uploads: a size limit enforced while the body streams in, a
multipart reader that keeps files in memory, and storage that never leaves the data directory.

An uploaded file's name is a relative path of plain segments (no ``..``, no absolute path, no
backslash, NUL or control character, no hidden names); files are created exclusively in a
fresh folder, so no link can redirect them; and the scenario's own references to CSV tables
and a matrix file must stay inside its folder whatever they say.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import tempfile
from collections.abc import Awaitable, Callable
from pathlib import Path, PurePosixPath
from typing import Any

from python_multipart.exceptions import FormParserError
from python_multipart.multipart import MultipartParser, parse_options_header
from fastapi import HTTPException

from fulfil.errors import ScenarioError
from fulfil.scenario.load import CSV_TABLES, FORMATS, SUFFIXES, parse_document

#: File name of a scenario sent as a JSON document (not as files).
JSON_ENTRY = "scenario.json"
MAX_FILES = 50
_BAD_CHARS = re.compile(r"[\x00-\x1f\x7f\\:]")


class BodyTooLarge(HTTPException):
    def __init__(self, limit: int):
        super().__init__(413, f"request body larger than the server's limit of {limit} bytes")


class BodyLimit:
    """ASGI middleware: 413 for a body over ``limit`` bytes — at once when Content-Length says so,
    else as soon as the streamed bytes pass it (the rest is never read)."""

    def __init__(self, app: Callable[..., Awaitable[None]], limit: int):
        self.app = app
        self.limit = limit

    async def __call__(self, scope: dict[str, Any], receive: Callable[[], Awaitable[dict]], send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.limit:
            await _plain_413(send, self.limit)
            return
        seen = 0
        started = False

        async def counted() -> dict:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.limit:
                    raise BodyTooLarge(self.limit)
            return message

        async def tracked(message: dict) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counted, tracked)
        except BodyTooLarge:
            if not started:
                await _plain_413(send, self.limit)


async def _plain_413(send, limit: int) -> None:
    body = json.dumps({"detail": BodyTooLarge(limit).detail}).encode()
    await send({"type": "http.response.start", "status": 413,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                            (b"connection", b"close")]})
    await send({"type": "http.response.body", "body": body})


class UploadRefused(Exception):
    """The upload cannot be stored or loaded; ``problems`` are ``file: field: what is wrong`` lines."""

    def __init__(self, problems: list[str]):
        super().__init__("; ".join(problems))
        self.problems = problems


def safe_name(raw: str) -> PurePosixPath:
    """``raw`` as a relative path of plain segments, or :class:`UploadRefused` saying why not."""
    shown = raw.replace("\x00", "\\0")
    if not raw or len(raw) > 255:
        raise UploadRefused([f"{shown or '<empty>'}: upload: a file name must have 1 to 255 characters"])
    if _BAD_CHARS.search(raw):
        raise UploadRefused([f"{shown}: upload: a file name may not hold NUL, control characters, '\\' or ':'"])
    if raw.startswith("/"):
        raise UploadRefused([f"{shown}: upload: absolute paths are refused; send names relative to the scenario"])
    parts = raw.split("/")
    if any(p in ("", ".", "..") or p.startswith(".") for p in parts):
        raise UploadRefused([f"{shown}: upload: '..', '.', empty and hidden path segments are refused"])
    return PurePosixPath(*parts)


async def read_multipart(content_type: str, chunks) -> tuple[dict[str, bytes], dict[str, str]]:
    """Files (by their sent name, unchecked) and plain fields of a ``multipart/form-data`` body."""
    _, params = parse_options_header(content_type)
    boundary = params.get(b"boundary")
    if not boundary:
        raise UploadRefused(["upload: multipart body without a boundary"])
    parts: list[tuple[dict[bytes, bytes], bytes]] = []
    cur: dict[str, Any] = {}

    def begin() -> None:
        cur.update(headers={}, data=bytearray(), field=b"", value=b"")

    def header_field(data: bytes, start: int, end: int) -> None:
        cur["field"] += data[start:end]

    def header_value(data: bytes, start: int, end: int) -> None:
        cur["value"] += data[start:end]

    def header_end() -> None:
        cur["headers"][cur["field"].lower()] = cur["value"]
        cur["field"], cur["value"] = b"", b""

    def part_data(data: bytes, start: int, end: int) -> None:
        cur["data"] += data[start:end]

    def part_end() -> None:
        parts.append((cur["headers"], bytes(cur["data"])))

    parser = MultipartParser(boundary, {"on_part_begin": begin, "on_header_field": header_field,
                                        "on_header_value": header_value, "on_header_end": header_end,
                                        "on_part_data": part_data, "on_part_end": part_end})
    try:
        async for chunk in chunks:
            parser.write(chunk)
            if len(parts) > MAX_FILES:
                raise UploadRefused([f"upload: more than {MAX_FILES} parts"])
        parser.finalize()
    except FormParserError as exc:
        raise UploadRefused([f"upload: malformed multipart body: {exc}"]) from None
    files: dict[str, bytes] = {}
    fields: dict[str, str] = {}
    for headers, data in parts:
        _, disp = parse_options_header(headers.get(b"content-disposition", b""))
        name = disp.get(b"name", b"").decode("utf-8", "replace")
        if b"filename" in disp:
            try:
                fname = disp[b"filename"].decode("utf-8")
            except UnicodeDecodeError:
                raise UploadRefused(["upload: a file name is not UTF-8"]) from None
            if fname in files:
                raise UploadRefused([f"{fname}: upload: sent twice"])
            files[fname] = data
        else:
            fields[name] = data.decode("utf-8", "replace")
    return files, fields


def entry_of(files: dict[str, bytes], chosen: str | None) -> str:
    """The scenario file among the uploaded ones: ``chosen``, else the only .toml/.yaml/.yml/.json."""
    if chosen:
        if chosen not in files:
            raise UploadRefused([f"{chosen}: upload: 'entry' names a file that was not sent"])
        return chosen
    candidates = [n for n in files if PurePosixPath(n).suffix.lower() in SUFFIXES]
    if len(candidates) != 1:
        what = "no scenario file (.toml, .yaml, .yml or .json)" if not candidates else \
            f"several scenario files ({', '.join(sorted(candidates))}); name one in the field 'entry'"
        raise UploadRefused([f"upload: {what}"])
    return candidates[0]


def content_hash(files: dict[str, bytes]) -> str:
    h = hashlib.sha256()
    for name in sorted(files):
        data = files[name]
        h.update(name.encode() + b"\0" + str(len(data)).encode() + b"\0" + data)
    return h.hexdigest()


def _ref_problems(doc: dict[str, Any], entry: str, folder: Path) -> list[str]:
    """References to files outside the scenario's folder (the loader would read them)."""
    refs = [(key, doc.get(key)) for key in CSV_TABLES if key in doc]
    matrix = doc.get("matrix")
    if isinstance(matrix, dict) and "path" in matrix:
        refs.append(("matrix.path", matrix["path"]))
    root = folder.resolve()
    out = []
    for key, ref in refs:
        if not isinstance(ref, str):
            continue  # the loader says what is wrong with it
        inside = "\x00" not in ref and not PurePosixPath(ref).is_absolute() and \
            (root / ref).resolve().is_relative_to(root)
        if not inside:
            out.append(f"{PurePosixPath(entry).name}: {key}: '{ref[:80]}' lies outside the scenario's folder; "
                       "refer to a file uploaded with the scenario")
    return out


def write_files(files: dict[str, bytes], folder: Path) -> None:
    """Create each file in the fresh ``folder``, exclusively and never through a link."""
    for raw, data in files.items():
        rel = safe_name(raw)
        target = folder.joinpath(*rel.parts)
        target.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o644)
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)


def stage_scenario(files: dict[str, bytes], entry: str, scenarios_root: Path) -> tuple[Path, Any]:
    """Write the upload to a temporary folder under ``scenarios_root``, check its references and
    load it; returns ``(temporary folder, Scenario)``.  On any problem the folder is removed and
    :class:`UploadRefused` lists what is wrong."""
    from fulfil.scenario import load_scenario

    if len(files) > MAX_FILES:
        raise UploadRefused([f"upload: more than {MAX_FILES} files"])
    for raw in files:
        safe_name(raw)
    scenarios_root.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".incoming-", dir=scenarios_root))
    try:
        write_files(files, tmp)
        path = tmp.joinpath(*safe_name(entry).parts)
        try:
            fmt = FORMATS[path.suffix.lower()[1:]] if path.suffix.lower() in SUFFIXES else None
            if fmt is not None:
                doc = parse_document(files[entry].decode("utf-8-sig"), fmt, path.name)
                outside = _ref_problems(doc, entry, path.parent)
                if outside:
                    raise UploadRefused(outside)
            scenario = load_scenario(path)
        except UnicodeDecodeError as exc:
            raise UploadRefused([f"{path.name}: not UTF-8 text ({exc.reason} at byte {exc.start})"]) from None
        except ScenarioError as exc:
            raise UploadRefused(exc.problems) from None
        return tmp, scenario
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def keep_staged(tmp: Path, final: Path) -> None:
    """Move a staged upload to its content-addressed folder (already there: the same upload)."""
    if final.exists():
        shutil.rmtree(tmp, ignore_errors=True)
    else:
        tmp.rename(final)
