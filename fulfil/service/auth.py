"""The server's access token: where it comes from, and the check every endpoint but ``/health`` makes."""

from __future__ import annotations

import hmac
import os
import secrets
from pathlib import Path

from fulfil.errors import UsageError

TOKEN_ENV = "FULFIL_TOKEN"
TOKEN_FILE = "token"


def resolve_token(data_dir: Path, token_file: str | None = None) -> tuple[str, bool]:
    """``(token, generated)``: from ``FULFIL_TOKEN``, else ``token_file``, else the data directory's
    ``token`` file, else a new random one written there with mode 0600 (``generated`` True: the
    caller prints it, once)."""
    env = os.environ.get(TOKEN_ENV, "").strip()
    if env:
        return env, False
    if token_file is not None:
        path = Path(token_file)
        try:
            token = path.read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise UsageError(f"--token-file {path}: cannot read it ({exc.strerror})") from None
        if not token:
            raise UsageError(f"--token-file {path}: the file is empty")
        return token, False
    path = data_dir / TOKEN_FILE
    if path.is_file():
        token = path.read_text(encoding="utf-8").strip()
        if token:
            return token, False
    token = secrets.token_urlsafe(32)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(token + "\n")
    os.chmod(path, 0o600)
    return token, True


def token_matches(header: str | None, token: str) -> bool:
    """Whether an ``Authorization`` header carries ``Bearer <token>`` (compared in constant time)."""
    if not header:
        return False
    scheme, _, given = header.partition(" ")
    if scheme.lower() != "bearer":
        return False
    return hmac.compare_digest(given.strip().encode(), token.encode())
