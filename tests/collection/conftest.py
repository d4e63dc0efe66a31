"""Fixtures for collection tests: accounts, a fake cloud plugged into the runner, run waiting."""

from __future__ import annotations

import asyncio
import itertools
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from tests.collection.fakes import FakeCloud
from tests.credentials.fixtures import aws, sts_proxy

__all__ = ["aws", "sts_proxy"]  # moto behind the counting STS proxy, for end-to-end tests

_counter = itertools.count(1)


def aws_external_id() -> str:
    return f"{next(_counter) + 300_000_000_000:012d}"


def role_arn_body(**overrides: Any) -> dict[str, Any]:
    """An AWS account in role_arn mode (no stored credentials needed)."""
    external_id = aws_external_id()
    body: dict[str, Any] = {
        "name": f"aws {external_id}",
        "provider": "aws",
        "external_id": external_id,
        "aws_auth_mode": "role_arn",
        "aws_role_arn": f"arn:aws:iam::{external_id}:role/CUDly",
    }
    body.update(overrides)
    return body


async def create_accounts(
    admin: httpx.AsyncClient, count: int, **overrides: Any
) -> list[dict[str, Any]]:
    created = []
    for _ in range(count):
        response = await admin.post("/api/accounts", json=role_arn_body(**overrides))
        assert response.status_code == 201, response.text
        created.append(response.json())
    return created


async def wait_for_run(
    client: httpx.AsyncClient, run_id: str, *, timeout_s: float = 30.0
) -> dict[str, Any]:
    """Poll the run until it is no longer running (bounded)."""
    async with asyncio.timeout(timeout_s):
        while True:
            response = await client.get(f"/api/collection-runs/{run_id}")
            assert response.status_code == 200, response.text
            run: dict[str, Any] = response.json()
            if run["status"] != "running":
                return run
            await asyncio.sleep(0.05)


async def refresh_and_wait(
    client: httpx.AsyncClient, body: dict[str, Any] | None = None, *, timeout_s: float = 30.0
) -> dict[str, Any]:
    response = await client.post("/api/recommendations/refresh", json=body or {})
    assert response.status_code == 202, response.text
    return await wait_for_run(client, response.json()["run_id"], timeout_s=timeout_s)


@pytest.fixture
def fake_cloud(app: FastAPI) -> FakeCloud:
    cloud = FakeCloud()
    app.state.collection.ctx.collector_for = cloud.collector_for
    return cloud
