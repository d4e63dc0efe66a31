"""The per-account replace, by both ingest methods: upsert keeps ids, the rest is deleted."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select

from api.db import unit_of_work
from api.enums import Provider
from api.models import Recommendation
from api.recommendations.repository import IngestMethod, replace_account_recommendations
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
