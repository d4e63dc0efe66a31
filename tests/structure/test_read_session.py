"""``AsyncReadSession`` reads, and only reads: no write methods, and a ``READ ONLY`` transaction."""

from __future__ import annotations

import uuid

import pytest
from fastapi import FastAPI
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession

from api.db import AsyncReadSession
from api.models import User


def test_it_is_not_a_write_session() -> None:
    assert not issubclass(AsyncReadSession, AsyncSession)
    for write in ("add", "flush", "delete", "commit", "merge"):
        assert not hasattr(AsyncReadSession, write), write


async def test_its_transaction_refuses_writes_and_the_pool_forgets_it(app: FastAPI) -> None:
    async with app.state.read_sessionmaker() as raw:
        reader = AsyncReadSession(raw)
        assert (await reader.scalars(select(User))).all() == []
        with pytest.raises(DBAPIError, match="read-only transaction"):
            await reader.execute(
                text(
                    "INSERT INTO users (id, email, password_hash, role) VALUES (:i, 'x@y.z', 'h', 'user')"
                ),
                {"i": uuid.uuid4()},
            )
        await raw.rollback()
    # The same pooled connections serve writes afterwards: READ ONLY was per transaction.
    for _ in range(3):
        async with app.state.sessionmaker() as writer, writer.begin():
            await writer.execute(text("CREATE TEMP TABLE IF NOT EXISTS t (x int)"))
            await writer.execute(text("INSERT INTO t VALUES (1)"))
