"""Parallelism far above the connection pool: accounts queue for a database slot instead of
exhausting the pool, and requests are still served while the run goes on."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from api.models import CloudAccount
from tests.collection.conftest import aws_external_id, wait_for_run
from tests.collection.fakes import Behaviour, FakeCloud

ACCOUNTS = 60


@pytest.fixture
def settings_overrides() -> dict[str, object]:
    # Two pooled connections (plus two overflow) against up to 1000 accounts at once.
    return {"db_pool_size": 2, "max_account_parallelism": 1000, "account_timeout_s": 120}


async def test_a_thousand_way_run_on_a_tiny_pool_never_exhausts_it(
    admin_client: httpx.AsyncClient, fake_cloud: FakeCloud, session: AsyncSession
) -> None:
    for _ in range(ACCOUNTS):
        external_id = aws_external_id()
        session.add(
            CloudAccount(
                name=f"pool {external_id}",
                provider="aws",
                external_id=external_id,
                aws_auth_mode="role_arn",
                aws_role_arn=f"arn:aws:iam::{external_id}:role/CUDly",
            )
        )
    await session.commit()
    # Each sweep returns only once all of them are in flight together: were a sweep holding
    # a connection, the pool (2 + 2 overflow) would run out long before and the run stall.
    fake_cloud.default = Behaviour(barrier=ACCOUNTS)

    started = await admin_client.post("/api/recommendations/refresh", json={})
    assert started.status_code == 202
    # While every account is in flight, the API still answers.
    during = await asyncio.gather(*(admin_client.get("/api/collection-runs") for _ in range(5)))
    assert all(r.status_code == 200 for r in during)
    run = await wait_for_run(admin_client, started.json()["run_id"], timeout_s=300)

    assert run["accounts_ok"] == ACCOUNTS, [a["error"] for a in run["accounts"] if a["error"]]
    assert fake_cloud.peak == ACCOUNTS
