"""The connectivity test and discovery hold no transaction and no pooled connection while the
cloud answers (issue 10): a slow cloud must not pin the database pool.

The cloud is moto behind a gate that keeps the request waiting until the test has looked at
the pool and at ``pg_stat_activity``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import Any

import asyncpg
import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession

from tests.credentials.fixtures import AwsEnv, add_account
from tests.structure.gate import Gate, run_gate


async def _held_state(app: FastAPI, database_url: str) -> tuple[int, list[str]]:
    """Connections checked out of the app's pool, and the states of the app's backends."""
    connection = await asyncpg.connect(
        database_url.replace("postgresql+asyncpg://", "postgresql://")
    )
    try:
        rows = await connection.fetch(
            "SELECT state FROM pg_stat_activity"
            " WHERE datname = current_database() AND application_name = 'cudly'"
        )
    finally:
        await connection.close()
    return app.state.engine.pool.checkedout(), [str(row["state"]) for row in rows]


async def _while_the_cloud_waits(
    gate: Gate, call: Awaitable[httpx.Response], app: FastAPI, database_url: str
) -> tuple[httpx.Response, int, list[str]]:
    task: asyncio.Task[httpx.Response] = asyncio.ensure_future(call)
    try:
        assert await asyncio.to_thread(gate.arrived.wait, 30), "the cloud was never called"
        checked_out, states = await _held_state(app, database_url)
    finally:
        gate.opened.set()
    return await task, checked_out, states


async def test_connectivity_test_releases_the_connection_during_the_cloud_call(
    aws: AwsEnv,
    app: FastAPI,
    admin_client: httpx.AsyncClient,
    session: AsyncSession,
    database_url: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    arn, key_id, secret = aws.iam_user()
    account = await add_account(session)
    stored = await admin_client.post(
        f"/api/accounts/{account.id}/credentials",
        json={"type": "aws_access_keys", "access_key_id": key_id, "secret_access_key": secret},
    )
    assert stored.status_code == 204, stored.text
    with run_gate(aws.proxy.url) as gate:
        monkeypatch.setenv("AWS_ENDPOINT_URL_STS", gate.url)
        response, checked_out, states = await _while_the_cloud_waits(
            gate, admin_client.post(f"/api/accounts/{account.id}/test"), app, database_url
        )
    assert response.status_code == 200, response.text
    assert response.json() == {"ok": True, "caller_identity": arn}
    assert checked_out == 0
    assert not [s for s in states if s.startswith("idle in transaction")], states


async def test_discovery_releases_the_connection_during_the_cloud_call(
    aws: AwsEnv,
    moto_url: str,
    app: FastAPI,
    admin_client: httpx.AsyncClient,
    database_url: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL_ORGANIZATIONS", moto_url)
    organizations: Any = aws.boto("organizations")
    organizations.create_organization(FeatureSet="ALL")
    member = organizations.create_account(Email="m@example.com", AccountName="member")
    member_id = member["CreateAccountStatus"]["AccountId"]
    root = await admin_client.post(
        "/api/accounts",
        json={
            "name": "management",
            "provider": "aws",
            "external_id": "123456789012",
            "aws_auth_mode": "access_keys",
            "aws_is_org_root": True,
            "credentials": {"access_key_id": "AKIAROOTGATE00000001", "secret_access_key": "x" * 40},
        },
    )
    assert root.status_code == 201, root.text
    with run_gate(moto_url) as gate:
        monkeypatch.setenv("AWS_ENDPOINT_URL_ORGANIZATIONS", gate.url)
        call = admin_client.post(
            "/api/accounts/discover-org", json={"org_root_account_id": root.json()["id"]}
        )
        response, checked_out, states = await _while_the_cloud_waits(gate, call, app, database_url)
    assert response.status_code == 200, response.text
    assert [a["external_id"] for a in response.json()["accounts"]] == [member_id]
    assert checked_out == 0
    assert not [s for s in states if s.startswith("idle in transaction")], states
