"""The per-account replace, by every ingest method: upsert keeps ids, the rest is deleted."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select, text

from api.db import unit_of_work
from api.enums import Provider
from api.models import Recommendation
from api.recommendations.repository import (
    COPY_FROM_ROWS,
    IngestMethod,
    replace_account_recommendations,
)
from tests.collection.conftest import create_accounts
from tests.collection.fakes import rec


async def replace(
    app: FastAPI, account_id: uuid.UUID, items: list[Any], method: IngestMethod
) -> int:
    async with unit_of_work(app.state.sessionmaker) as session:
        return await replace_account_recommendations(
            session, account_id, Provider.aws, None, items, datetime.now(UTC), method=method
        )


async def ids(app: FastAPI, account_id: uuid.UUID) -> dict[str, uuid.UUID]:
    async with unit_of_work(app.state.sessionmaker) as session:
        rows = await session.execute(
            select(Recommendation).where(Recommendation.cloud_account_id == account_id)
        )
        return {r.resource_type: r.id for r in rows.scalars()}


@pytest.mark.parametrize("method", ["executemany", "copy", "unnest", "auto"])
async def test_replace_keeps_ids_and_deletes_keys_no_longer_returned(
    app: FastAPI, admin_client: httpx.AsyncClient, method: IngestMethod
) -> None:
    mine, other = (uuid.UUID(a["id"]) for a in await create_accounts(admin_client, 2))
    many = [rec(resource_type=f"m5.{n}xlarge", savings=str(n)) for n in range(150)]
    await replace(app, other, [rec()], method)

    assert await replace(app, mine, many, method) == 150
    first = await ids(app, mine)
    assert len(first) == 150
    assert await replace(app, mine, many[:100], method) == 100
    second = await ids(app, mine)
    assert second == {k: v for k, v in first.items() if k in second} and len(second) == 100
    assert len(await ids(app, other)) == 1  # another account's rows untouched
    async with unit_of_work(app.state.sessionmaker) as session:
        [row] = (
            await session.execute(
                select(Recommendation).where(
                    Recommendation.cloud_account_id == mine,
                    Recommendation.resource_type == "m5.7xlarge",
                )
            )
        ).scalars()
    assert row.estimated_monthly_savings == 7 and row.details == {"source": "fake"}


@pytest.mark.parametrize("size", [3, COPY_FROM_ROWS])  # "auto": one statement, then COPY
async def test_auto_picks_by_size_and_both_paths_keep_ids_and_delete_the_rest(
    app: FastAPI, admin_client: httpx.AsyncClient, size: int
) -> None:
    [mine] = (uuid.UUID(a["id"]) for a in await create_accounts(admin_client, 1))
    items = [rec(resource_type=f"r{n}", savings=str(n)) for n in range(size + 1)]
    await replace(app, mine, items, "auto")
    first = await ids(app, mine)
    changed = [rec(resource_type=f"r{n}", savings="99") for n in range(1, size + 1)]
    assert await replace(app, mine, changed, "auto") == size
    second = await ids(app, mine)
    assert second == {k: v for k, v in first.items() if k != "r0"}  # r0 gone, ids kept
    async with unit_of_work(app.state.sessionmaker) as session:
        savings = await session.execute(
            select(Recommendation.estimated_monthly_savings).where(
                Recommendation.cloud_account_id == mine
            )
        )
        assert set(savings.scalars()) == {99}
        # The COPY path leaves its staging table on the connection; the other never makes one.
        staged = await session.scalar(
            text("SELECT count(*) FROM pg_class WHERE relname = '_recommendations_in'")
        )
    assert bool(staged) is (size >= COPY_FROM_ROWS)


@pytest.mark.parametrize("method", ["copy", "unnest"])
async def test_two_replaces_of_one_account_at_once_are_serialised(
    app: FastAPI, admin_client: httpx.AsyncClient, method: IngestMethod
) -> None:
    [mine] = (uuid.UUID(a["id"]) for a in await create_accounts(admin_client, 1))
    first = [rec(resource_type=f"a{n}") for n in range(5)]
    second = [rec(resource_type=f"b{n}") for n in range(5)]
    replaced = asyncio.Event()

    async def slow_first() -> None:
        async with unit_of_work(app.state.sessionmaker) as session:
            await replace_account_recommendations(
                session, mine, Provider.aws, None, first, datetime.now(UTC), method=method
            )
            replaced.set()
            await asyncio.sleep(0.3)  # the second replace starts while this one is open

    async def then_second() -> None:
        await replaced.wait()
        await replace(app, mine, second, method)

    await asyncio.gather(slow_first(), then_second())
    # Unserialised, the second would not see the first's rows and both sets would remain.
    assert sorted(await ids(app, mine)) == [f"b{n}" for n in range(5)]
