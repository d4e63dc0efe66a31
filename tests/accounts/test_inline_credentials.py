"""POST /api/accounts with inline ``credentials``: stored encrypted, never shown, never logged."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from api.models import AccountCredential, AuditEvent
from tests.accounts.conftest import (
    CreateAccount,
    account_count,
    aws_body,
    azure_body,
    field_names,
    role_arn,
)
from tests.fixtures.auth import MakeClient

ACCESS_KEY_ID = "AKIAINLINETEST000001"
SECRET_KEY = "inline-SECRET-access-key-0123456789abcdef"
AZURE_SECRET = "azure-inline-SECRET-client-secret-value"
SECRETS = (SECRET_KEY, AZURE_SECRET)


def aws_keys(**overrides: Any) -> dict[str, Any]:
    keys: dict[str, Any] = {"access_key_id": ACCESS_KEY_ID, "secret_access_key": SECRET_KEY}
    keys.update(overrides)
    return keys


async def _credential_rows(session: AsyncSession) -> list[AccountCredential]:
    rows = await session.execute(select(AccountCredential))
    return list(rows.scalars())


def _assert_no_secret(*texts: str) -> None:
    for text in texts:
        for secret in SECRETS:
            assert secret not in text


@pytest.mark.parametrize("keys", [aws_keys(), aws_keys(type="aws_access_keys")])
async def test_aws_keys_are_stored_encrypted(
    admin_client: httpx.AsyncClient,
    session: AsyncSession,
    log_capture: pytest.LogCaptureFixture,
    keys: dict[str, Any],
) -> None:
    response = await admin_client.post("/api/accounts", json=aws_body(credentials=keys))
    assert response.status_code == 201, response.text
    account = response.json()
    assert account["credentials_configured"] is True
    assert "credentials" not in account
    [row] = await _credential_rows(session)
    assert row.cloud_account_id == uuid.UUID(account["id"])
    assert row.credential_type == "aws_access_keys"
    assert row.blob.startswith("v1:")
    fetched = await admin_client.get(f"/api/accounts/{account['id']}")
    listed = await admin_client.get("/api/accounts")
    audit = (await session.execute(select(AuditEvent))).scalars().all()
    _assert_no_secret(
        response.text,
        fetched.text,
        listed.text,
        row.blob,
        log_capture.text,
        repr([(e.action, e.changed_fields) for e in audit]),
    )
    assert ACCESS_KEY_ID not in fetched.text
    create_event = next(e for e in audit if e.action == "account.create")
    assert "credentials" in create_event.changed_fields


async def test_azure_client_secret_inline(
    admin_client: httpx.AsyncClient, log_capture: pytest.LogCaptureFixture
) -> None:
    response = await admin_client.post(
        "/api/accounts",
        json=azure_body(
            azure_client_id=str(uuid.uuid4()), credentials={"client_secret": AZURE_SECRET}
        ),
    )
    assert response.status_code == 201, response.text
    assert response.json()["credentials_configured"] is True
    _assert_no_secret(response.text, log_capture.text)


async def test_null_credentials_are_no_credentials(
    admin_client: httpx.AsyncClient, session: AsyncSession
) -> None:
    response = await admin_client.post("/api/accounts", json=aws_body(credentials=None))
    assert response.status_code == 201
    assert response.json()["credentials_configured"] is False
    assert await _credential_rows(session) == []


@pytest.mark.parametrize(
    ("body", "field_prefix"),
    [
        (aws_body(credentials=aws_keys(type="azure_client_secret")), "credentials"),
        (aws_body(credentials=aws_keys(type="nonsense")), "credentials"),
        (aws_body(credentials={"access_key_id": ACCESS_KEY_ID}), "credentials"),
        (aws_body(credentials=aws_keys(secret_access_key="x" * 129)), "credentials"),
        (aws_body(credentials=aws_keys(extra=SECRET_KEY)), "credentials"),
        (aws_body(credentials="AKIA" + SECRET_KEY), "credentials"),
        (
            aws_body(aws_auth_mode="role_arn", aws_role_arn=role_arn(), credentials=aws_keys()),
            "credentials",
        ),
        (azure_body(credentials=aws_keys()), "credentials"),
        # The account itself is invalid: nothing is stored either.
        (aws_body(external_id="1", credentials=aws_keys()), "external_id"),
    ],
)
async def test_bad_credentials_create_nothing(
    admin_client: httpx.AsyncClient,
    session: AsyncSession,
    log_capture: pytest.LogCaptureFixture,
    body: dict[str, Any],
    field_prefix: str,
) -> None:
    response = await admin_client.post("/api/accounts", json=body)
    assert response.status_code == 400, response.text
    assert any(f.startswith(field_prefix) for f in field_names(response)), response.text
    assert await account_count(session) == 0
    assert await _credential_rows(session) == []
    _assert_no_secret(response.text, log_capture.text)


async def test_duplicate_with_credentials_stores_nothing(
    admin_client: httpx.AsyncClient, create_account: CreateAccount, session: AsyncSession
) -> None:
    existing = await create_account(aws_body())
    response = await admin_client.post(
        "/api/accounts",
        json=aws_body(external_id=existing["external_id"], credentials=aws_keys()),
    )
    assert response.status_code == 409
    assert await _credential_rows(session) == []


async def test_inline_credentials_need_manage_credentials(
    make_client: MakeClient, session: AsyncSession
) -> None:
    create_only = await make_client(permissions=[{"action": "create", "resource": "accounts"}])
    response = await create_only.post("/api/accounts", json=aws_body(credentials=aws_keys()))
    assert response.status_code == 403
    assert response.json()["code"] == "permission_denied"
    assert await account_count(session) == 0

    # Without inline credentials the same user may create.
    assert (await create_only.post("/api/accounts", json=aws_body())).status_code == 201

    both = await make_client(
        permissions=[
            {"action": "create", "resource": "accounts"},
            {"action": "manage_credentials", "resource": "accounts"},
        ]
    )
    created = await both.post("/api/accounts", json=aws_body(credentials=aws_keys()))
    assert created.status_code == 201, created.text
    count = (
        await session.execute(select(func.count()).select_from(AccountCredential))
    ).scalar_one()
    assert count == 1


async def test_empty_manage_credentials_constraint_grants_nothing(
    make_client: MakeClient, session: AsyncSession
) -> None:
    client = await make_client(
        permissions=[
            {"action": "create", "resource": "accounts"},
            {
                "action": "manage_credentials",
                "resource": "accounts",
                "constraints": {"accounts": []},
            },
        ]
    )
    response = await client.post("/api/accounts", json=aws_body(credentials=aws_keys()))
    assert response.status_code == 403
    assert await account_count(session) == 0
