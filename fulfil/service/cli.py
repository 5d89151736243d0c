"""``fulfil serve``: its options, and starting uvicorn on the app (loopback only unless told)."""

from __future__ import annotations

import argparse
import socket
import sys
from pathlib import Path

from fulfil.errors import UsageError

DEFAULT_PORT = 8765


def add_serve_parser(subparsers: argparse._SubParsersAction, parents: list | None = None) -> argparse.ArgumentParser:
    """Add ``serve`` to the command line's subcommands."""
    sp = subparsers.add_parser("serve", parents=parents or [],
                               help="run the HTTP API (and console) over a data folder: upload scenarios, "
                                    "queue plans, fetch plans and documents; OpenAPI at /docs")
    sp.add_argument("--data-dir", default="fulfil-data",
                    help="folder for everything the server stores: scenarios, runs, the SQLite database, "
                         "the token (default ./fulfil-data)")
    sp.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1: this machine only)")
    sp.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"port (default {DEFAULT_PORT}; 0 = any free one)")
    sp.add_argument("--db", default=None, metavar="URL",
                    help="database URL, e.g. postgresql+psycopg://user:pw@host/db (default: SQLite in --data-dir)")
    sp.add_argument("--token-file", default=None,
                    help="file holding the access token (default: FULFIL_TOKEN, else DATA_DIR/token, "
                         "generated and printed on first start)")
    sp.add_argument("--max-body-mb", type=float, default=50.0, help="largest request body, MB (default 50)")
    sp.add_argument("--max-jobs", type=int, default=2, help="plans that run at once; the rest queue (default 2)")
    sp.add_argument("--max-job-seconds", type=float, default=900.0,
                    help="a plan still running after this is stopped like Ctrl-C, keeping its best plan (default 900)")
    sp.add_argument("--job-workers", type=int, default=1, help="routing worker processes per plan (default 1)")
    sp.set_defaults(func=run_serve)
    return sp


def _settings(args: argparse.Namespace):
    from fulfil.service.auth import resolve_token
    from fulfil.service.settings import Settings

    data = Path(args.data_dir).resolve()
    try:
        data.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError(f"--data-dir {data}: cannot create it ({exc.strerror})") from None
    token, generated = resolve_token(data, args.token_file)
    if args.job_workers < 1:
        raise UsageError("--job-workers must be at least 1")
    try:
        settings = Settings(data_dir=data, token=token, db_url=args.db, max_body_bytes=int(args.max_body_mb * 2**20),
                            max_concurrent_jobs=args.max_jobs, max_job_seconds=args.max_job_seconds,
                            job_workers=args.job_workers)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    return settings, generated


def _check_database(url: str) -> None:
    """Open and migrate the database now, so a wrong URL is one clear error before serving."""
    from sqlalchemy.exc import SQLAlchemyError

    from fulfil.store import open_store

    try:
        open_store(url).close()
    except (SQLAlchemyError, ImportError) as exc:
        raise UsageError(f"--db: cannot open the database: {str(exc).splitlines()[0]}") from None


def run_serve(args: argparse.Namespace) -> int:
    """Serve until Ctrl-C; running jobs are then stopped like Ctrl-C and keep their best plan."""
    from importlib.util import find_spec

    missing = [m for m in ("fastapi", "uvicorn", "sqlalchemy", "multipart") if find_spec(m) is None]
    if missing:
        raise UsageError(f"fulfil serve needs {', '.join(missing)}: pip install \"fulfil[service]\" "
                         "(from a checkout: pip install -e \".[service]\")")
    import uvicorn

    from fulfil.service.app import create_app

    settings, generated = _settings(args)
    _check_database(settings.database_url)
    sock = socket.socket(socket.AF_INET6 if ":" in args.host else socket.AF_INET)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((args.host, args.port))
    except OSError as exc:
        raise UsageError(f"cannot listen on {args.host}:{args.port} ({exc.strerror})") from None
    sock.listen(2048)  # connections wait in the backlog from now on, so the printed address works at once
    port = sock.getsockname()[1]
    if generated:
        print(f"access token (stored in {settings.data_dir / 'token'}, shown once): {settings.token}")
    if args.host not in ("127.0.0.1", "localhost", "::1"):
        print(f"warning: listening on {args.host}, not only this machine; anyone with the token can use it",
              file=sys.stderr)
    print(f"fulfil serving {settings.data_dir} on http://{args.host}:{port} (API docs at /docs)", flush=True)
    server = uvicorn.Server(uvicorn.Config(create_app(settings), log_level="warning"))
    try:
        server.run(sockets=[sock])
    except KeyboardInterrupt:  # uvicorn re-raises the Ctrl-C it shut down on; the stop was clean
        pass
    print("fulfil serve stopped", flush=True)
    return 0
