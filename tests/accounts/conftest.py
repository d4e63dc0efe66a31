"""Helpers for the accounts tests: valid bodies per provider and direct row inspection."""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from api.models import AuditEvent, CloudAccount

_counter = itertools.count(1)

TENANT = "11111111-2222-4333-8444-555555555555"


def aws_id() -> str:
    return f"{next(_counter) + 100_000_000_000:012d}"


def azure_id() -> str:
    return str(uuid.uuid4())


def gcp_id() -> str:
    return f"proj-{next(_counter):06d}"


def aws_body(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "name": f"aws {next(_counter)}",
        "provider": "aws",
        "external_id": aws_id(),
    }
    body.update(overrides)
    arn = body.get("aws_role_arn")
    if (
        isinstance(arn, str)
        and f":{DEFAULT_ROLE_ACCOUNT}:" in arn
        and "external_id" not in overrides
    ):
        # SPEC §3: the role lives in the account itself (role_arn() defaults to a placeholder).
        body["aws_role_arn"] = arn.replace(DEFAULT_ROLE_ACCOUNT, body["external_id"])
    return body


def azure_body(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "name": f"azure {next(_counter)}",
        "provider": "azure",
        "external_id": azure_id(),
        "azure_tenant_id": TENANT,
    }
    body.update(overrides)
    return body


def gcp_body(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "name": f"gcp {next(_counter)}",
        "provider": "gcp",
        "external_id": gcp_id(),
    }
    body.update(overrides)
    return body


DEFAULT_ROLE_ACCOUNT = "123456789012"


def role_arn(account: str = DEFAULT_ROLE_ACCOUNT, name: str = "CUDly") -> str:
    return f"arn:aws:iam::{account}:role/{name}"


CreateAccount = Callable[..., Awaitable[dict[str, Any]]]


@pytest.fixture
def create_account(admin_client: httpx.AsyncClient) -> CreateAccount:
    """``await create_account(aws_body(...))`` → the created account JSON (asserts 201)."""

    async def create(body: dict[str, Any] | None = None) -> dict[str, Any]:
        response = await admin_client.post("/api/accounts", json=body or aws_body())
        assert response.status_code == 201, response.text
        created: dict[str, Any] = response.json()
        return created

    return create


async def account_count(session: AsyncSession) -> int:
    return int((await session.execute(select(func.count()).select_from(CloudAccount))).scalar_one())


async def audit_events(session: AsyncSession, action: str) -> list[AuditEvent]:
    rows = await session.execute(
        select(AuditEvent)
        .where(AuditEvent.action == action)
        .order_by(AuditEvent.created_at)
        .execution_options(populate_existing=True)
    )
    return list(rows.scalars())


def field_names(response: httpx.Response) -> set[str]:
    body = response.json()
    return {f["field"] for f in body.get("fields") or []}
