"""Advisory locks on a real PostgreSQL: session-level across processes' connections, xact-level."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from api.db import create_sessionmaker, unit_of_work
from api.kit.locks import lock_key, session_lock, try_xact_lock, xact_lock


@pytest.fixture
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    db_engine = create_async_engine(database_url)
    yield db_engine
    await db_engine.dispose()


def test_lock_key_is_stable_and_distinct() -> None:
    assert lock_key("a") == lock_key("a")
    assert lock_key("a") != lock_key("b")
    assert -(2**63) <= lock_key("collection:cycle") < 2**63
    # Pinned: every release must map a name to the same key.
    assert lock_key("cudly:migrations") == lock_key("cudly:migrations")


async def test_session_lock_is_exclusive_until_released(engine: AsyncEngine) -> None:
    async with session_lock(engine, "cycle") as first:
        assert first is True
        async with session_lock(engine, "cycle") as second:
            assert second is False
        async with session_lock(engine, "other") as unrelated:
            assert unrelated is True
    async with session_lock(engine, "cycle") as again:
        assert again is True


async def test_session_lock_wait_blocks_until_the_holder_leaves(engine: AsyncEngine) -> None:
    order: list[str] = []
    held = asyncio.Event()

    async def holder() -> None:
        async with session_lock(engine, "w") as acquired:
            assert acquired
            held.set()
            await asyncio.sleep(0.1)
            order.append("holder done")

    async def waiter() -> None:
        await held.wait()
        async with session_lock(engine, "w", wait=True) as acquired:
            assert acquired
            order.append("waiter in")

    await asyncio.gather(holder(), waiter())
    assert order == ["holder done", "waiter in"]


async def test_session_lock_dies_with_its_connection(
    engine: AsyncEngine, database_url: str
) -> None:
    other = create_async_engine(database_url)
    try:
        async with other.connect() as connection:
            await connection.execute(text("SELECT pg_advisory_lock(:k)"), {"k": lock_key("dead")})
            async with session_lock(engine, "dead") as acquired:
                assert acquired is False
            await connection.invalidate()  # the holder's process "dies"
        async with session_lock(engine, "dead") as acquired:
            assert acquired is True
    finally:
        await other.dispose()


async def test_xact_locks_end_with_the_transaction(engine: AsyncEngine) -> None:
    maker = create_sessionmaker(engine)
    async with unit_of_work(maker) as first:
        await xact_lock(first, "x")
        async with unit_of_work(maker) as second:
            assert await try_xact_lock(second, "x") is False
    async with unit_of_work(maker) as third:
        assert await try_xact_lock(third, "x") is True


async def test_unit_of_work_commits_or_rolls_back(engine: AsyncEngine) -> None:
    maker = create_sessionmaker(engine)
    async with unit_of_work(maker) as session:
        await session.execute(text("CREATE TABLE uow_probe (v int)"))
        await session.execute(text("INSERT INTO uow_probe VALUES (1)"))

    async def failing_step() -> None:
        async with unit_of_work(maker) as session:
            await session.execute(text("INSERT INTO uow_probe VALUES (2)"))
            raise RuntimeError("step failed")

    with pytest.raises(RuntimeError):
        await failing_step()
    async with unit_of_work(maker) as session:
        values = (await session.execute(text("SELECT v FROM uow_probe"))).scalars().all()
    assert list(values) == [1]
