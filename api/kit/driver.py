"""The asyncpg connection under a session, for the few hot statements that skip SQLAlchemy.

The collection writes every account's result and claims its work with fixed SQL strings run
directly on asyncpg (prepared once per connection by asyncpg's statement cache): SQLAlchemy's
per-statement work — building, cache-key generation, result wrapping — was most of the CPU
each collected account cost (docs/benchmarks.md, Collection). Such statements run inside the
session's transaction, so ``unit_of_work`` still commits or rolls back all of it.
"""

from __future__ import annotations

from typing import Any

import asyncpg
from sqlalchemy.ext.asyncio import AsyncSession


async def driver_connection(session: AsyncSession, opening: str, *args: Any) -> asyncpg.Connection:
    """Run ``opening`` (positional ``$n`` parameters) through the session, then hand back the
    session's asyncpg connection, inside the session's transaction.

    The opening statement goes through SQLAlchemy because its asyncpg adapter begins the
    driver's transaction lazily, on the first statement it runs: a statement sent to asyncpg
    before that would commit on its own.
    """
    connection = await session.connection()
    await connection.exec_driver_sql(opening, args)
    raw = (await connection.get_raw_connection()).driver_connection
    assert raw is not None and raw.is_in_transaction()
    driver: asyncpg.Connection = raw
    return driver


XACT_LOCK_SQL = "SELECT pg_advisory_xact_lock($1)"  # with api.kit.locks.lock_key(name)


async def in_transaction(session: AsyncSession) -> asyncpg.Connection:
    """The session's asyncpg connection inside its transaction (begun with a no-op statement
    when nothing has run on it yet)."""
    connection = await session.connection()
    raw = (await connection.get_raw_connection()).driver_connection
    assert raw is not None
    if not raw.is_in_transaction():
        await connection.exec_driver_sql("SELECT 1")
    driver: asyncpg.Connection = raw
    return driver
