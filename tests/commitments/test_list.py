"""GET /api/commitments: the inventory with its filters, expiry window, cursor and scoping."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession

from api.commitments.repository import replace_account_commitments
from api.db import unit_of_work
from api.enums import Provider
from api.models import Commitment
from api.providers.base import CommitmentData
from tests.collection.conftest import create_accounts
from tests.collection.fakes import commitment
from tests.fixtures.auth import MakeClient

NOW = datetime.now(UTC)


async def store(app: FastAPI, account: dict[str, Any], items: list[CommitmentData]) -> None:
    async with unit_of_work(app.state.sessionmaker) as session:
        await replace_account_commitments(
            session,
            uuid.UUID(account["id"]),
            Provider(account["provider"]),
            items,
            datetime.now(UTC),
        )


@pytest.fixture
async def inventory(app: FastAPI, admin_client: httpx.AsyncClient) -> list[dict[str, Any]]:
    accounts = await create_accounts(admin_client, 2)
    await store(
        app,
        accounts[0],
        [
            replace(commitment("ri-soon"), end=NOW + timedelta(days=10)),
            replace(commitment("ri-later"), end=NOW + timedelta(days=200)),
            replace(commitment("sp-1", service="savings-plans"), end=None, payment="No Upfront"),
            replace(commitment("ri-old", state="Expired"), end=NOW - timedelta(days=5)),
        ],
    )
    await store(app, accounts[1], [replace(commitment("ri-b"), end=NOW + timedelta(days=30))])
    return accounts


async def ids(client: httpx.AsyncClient, query: str = "") -> list[str]:
    response = await client.get(f"/api/commitments?{query}")
    assert response.status_code == 200, response.text
    return [c["provider_commitment_id"] for c in response.json()["commitments"]]


async def test_list_is_ordered_by_end_and_filters_apply(
    admin_client: httpx.AsyncClient, inventory: list[dict[str, Any]]
) -> None:
    assert await ids(admin_client) == ["ri-old", "ri-soon", "ri-b", "ri-later", "sp-1"]
    assert await ids(admin_client, "state=active") == ["ri-soon", "ri-b", "ri-later", "sp-1"]
    assert await ids(admin_client, "state=expired") == ["ri-old"]  # states are lower-case
    assert await ids(admin_client, "service=savings-plans") == ["sp-1"]
    assert await ids(admin_client, "expiring_within_days=90") == ["ri-soon", "ri-b"]
    assert await ids(admin_client, f"account_ids={inventory[1]['id']}") == ["ri-b"]
    assert await ids(admin_client, "provider=azure") == []
    body = (await admin_client.get("/api/commitments?service=savings-plans")).json()
    [plan] = body["commitments"]
    assert plan["payment"] is None and plan["details"]["payment_option"] == "No Upfront"
    assert plan["utilization_percent"] is None and plan["purchased_by_cudly"] is False
    assert plan["account_name"] == inventory[0]["name"]


async def test_cursor_pages_through_everything(
    admin_client: httpx.AsyncClient, inventory: list[dict[str, Any]]
) -> None:
    seen: list[str] = []
    cursor = None
    for _ in range(10):
        query = "limit=2" + (f"&cursor={cursor}" if cursor else "")
        body = (await admin_client.get(f"/api/commitments?{query}")).json()
        seen += [c["provider_commitment_id"] for c in body["commitments"]]
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert seen == await ids(admin_client)
    assert (await admin_client.get("/api/commitments?cursor=nope")).status_code == 400


async def test_a_sweep_replaces_the_inventory_keeping_ids_and_the_cudly_link(
    app: FastAPI,
    admin_client: httpx.AsyncClient,
    inventory: list[dict[str, Any]],
    session: AsyncSession,
) -> None:
    account = inventory[0]
    before = {
        c["provider_commitment_id"]: c["id"]
        for c in (await admin_client.get(f"/api/commitments?account_ids={account['id']}")).json()[
            "commitments"
        ]
    }
    # Raw SQL: only the columns this link needs (the purchases model grows independently).
    await session.execute(
        text(
            "INSERT INTO purchase_history (cloud_account_id, account_external_id, account_name,"
            " provider, service, count, status, purchased_at, provider_commitment_id)"
            " VALUES (:account, :external, :name, 'aws', 'ec2', 1, 'purchased', now(), 'ri-later')"
        ),
        {
            "account": uuid.UUID(account["id"]),
            "external": account["external_id"],
            "name": account["name"],
        },
    )
    await session.commit()

    await store(app, account, [commitment("ri-later"), commitment("ri-new")])

    rows = (
        await session.execute(
            select(Commitment)
            .where(Commitment.cloud_account_id == uuid.UUID(account["id"]))
            .execution_options(populate_existing=True)
        )
    ).scalars()
    now = {row.provider_commitment_id: row for row in rows}
    assert set(now) == {"ri-later", "ri-new"}
    assert str(now["ri-later"].id) == before["ri-later"]
    assert now["ri-later"].purchased_by_cudly is True and now["ri-new"].purchased_by_cudly is False
    # Another account's inventory is untouched.
    assert await ids(admin_client, f"account_ids={inventory[1]['id']}") == ["ri-b"]


async def test_scoping_and_permission(
    make_client: MakeClient, inventory: list[dict[str, Any]]
) -> None:
    a, b = (account["id"] for account in inventory)
    scoped = await make_client(
        permissions=[{"action": "view", "resource": "history", "constraints": {"accounts": [b]}}]
    )
    assert await ids(scoped) == ["ri-b"]
    assert (await scoped.get(f"/api/commitments?account_ids={a}")).status_code == 403
    assert (await scoped.get("/api/commitments?account_ids=zzz")).status_code == 400
    other = await make_client(permissions=[{"action": "view", "resource": "recommendations"}])
    assert (await other.get("/api/commitments")).status_code == 403
