"""Named PostgreSQL advisory locks, at transaction and at session level.

Names are hashed to a stable signed 64-bit key, so every process (and every release) that
names the same lock takes the same one. Transaction-level locks end with the transaction;
a session-level lock holds a dedicated connection for as long as the ``async with`` lasts —
if the process dies, PostgreSQL drops the connection and with it the lock.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

MIGRATIONS_LOCK = "cudly:migrations"

logger = logging.getLogger(__name__)


def lock_key(name: str) -> int:
    """A stable signed 64-bit key for ``name`` (PostgreSQL's bigint advisory-lock space)."""
    digest = hashlib.sha256(name.encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


async def try_xact_lock(session: AsyncSession, name: str) -> bool:
    """Take the lock for the rest of the session's transaction, or return False at once."""
    result = await session.execute(
        text("SELECT pg_try_advisory_xact_lock(:key)"), {"key": lock_key(name)}
    )
    return bool(result.scalar_one())


async def xact_lock(session: AsyncSession, name: str) -> None:
    """Wait for the lock; it is released when the session's transaction ends."""
    await session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": lock_key(name)})


@asynccontextmanager
async def session_lock(
    engine: AsyncEngine, name: str, *, wait: bool = False
) -> AsyncIterator[bool]:
    """Hold ``name`` on a dedicated connection while inside; yields False when not acquired.

    With ``wait=False`` another holder makes this yield False immediately. The connection
    runs in autocommit mode so it never sits "idle in transaction" while the lock is held.
    """
    key = lock_key(name)
    async with engine.connect() as connection:
        autocommit = await connection.execution_options(isolation_level="AUTOCOMMIT")
        if wait:
            await autocommit.execute(text("SELECT pg_advisory_lock(:key)"), {"key": key})
            acquired = True
        else:
            result = await autocommit.execute(
                text("SELECT pg_try_advisory_lock(:key)"), {"key": key}
            )
            acquired = bool(result.scalar_one())
        try:
            yield acquired
        finally:
            if acquired and not connection.invalidated:
                try:
                    await autocommit.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": key})
                except Exception:
                    # A broken connection has released the lock already.
                    logger.warning("could not release advisory lock %s", name, exc_info=True)
