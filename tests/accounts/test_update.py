"""PUT /api/accounts/{id}: metadata only, immutability, the create rules on the merged account."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from api.models import CloudAccount
from tests.accounts.conftest import (
    TENANT,
    CreateAccount,
    audit_events,
    aws_body,
    azure_body,
    field_names,
    gcp_body,
    role_arn,
)


async def _stored(session: AsyncSession, account_id: str) -> CloudAccount:
    return (
        await session.execute(
            select(CloudAccount)
            .where(CloudAccount.id == uuid.UUID(account_id))
            .execution_options(populate_existing=True)
        )
    ).scalar_one()


async def test_rename_changes_only_the_name(
    admin_client: httpx.AsyncClient, create_account: CreateAccount
) -> None:
    account = await create_account(
        aws_body(description="keep me", contact_email="ops@example.com", enabled=False)
    )
    response = await admin_client.put(f"/api/accounts/{account['id']}", json={"name": "renamed"})
    assert response.status_code == 200, response.text
    updated = response.json()
    assert updated["name"] == "renamed"
    assert updated["updated_at"] > account["updated_at"]
    for key in set(account) - {"name", "updated_at"}:
        assert updated[key] == account[key], key
    assert (await admin_client.get(f"/api/accounts/{account['id']}")).json() == updated


async def test_every_metadata_field_can_change(
    admin_client: httpx.AsyncClient, create_account: CreateAccount
) -> None:
    account = await create_account(aws_body())
    changes = {
        "name": "new",
        "description": "desc",
        "contact_email": "finops@example.com",
        "enabled": False,
        "aws_auth_mode": "role_arn",
        "aws_role_arn": role_arn(account["external_id"]),
        "aws_external_id": "ext-id",
        "aws_is_org_root": True,
    }
    response = await admin_client.put(f"/api/accounts/{account['id']}", json=changes)
    assert response.status_code == 200, response.text
    for key, value in changes.items():
        assert response.json()[key] == value


async def test_explicit_null_clears_an_optional_field(
    admin_client: httpx.AsyncClient, create_account: CreateAccount
) -> None:
    account = await create_account(aws_body(description="old", contact_email="a@example.com"))
    response = await admin_client.put(
        f"/api/accounts/{account['id']}", json={"description": None, "contact_email": ""}
    )
    assert response.status_code == 200, response.text
    assert response.json()["description"] is None
    assert response.json()["contact_email"] is None


async def test_empty_body_changes_nothing(
    admin_client: httpx.AsyncClient, create_account: CreateAccount, session: AsyncSession
) -> None:
    account = await create_account(aws_body())
    response = await admin_client.put(f"/api/accounts/{account['id']}", json={})
    assert response.status_code == 200
    assert response.json()["name"] == account["name"]
    [event] = await audit_events(session, "account.update")
    assert event.changed_fields == []


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("provider", "aws"),  # even the current value
        ("provider", "gcp"),
        ("provider", None),
        ("external_id", "SAME"),
        ("external_id", "999999999999"),
    ],
)
async def test_provider_and_external_id_are_immutable(
    admin_client: httpx.AsyncClient,
    create_account: CreateAccount,
    session: AsyncSession,
    field: str,
    value: Any,
) -> None:
    account = await create_account(aws_body())
    if value == "SAME":
        value = account["external_id"]
    response = await admin_client.put(
        f"/api/accounts/{account['id']}", json={"name": "changed", field: value}
    )
    assert response.status_code == 400, response.text
    assert field_names(response) == {field}
    assert "immutable" in response.json()["error"]
    stored = await _stored(session, account["id"])
    assert stored.name == account["name"]
    assert (stored.provider, stored.external_id) == ("aws", account["external_id"])


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": None}, "name"),
        ({"name": ""}, "name"),
        ({"name": "x" * 256}, "name"),
        ({"enabled": None}, "enabled"),
        ({"enabled": "no"}, "enabled"),
        ({"aws_is_org_root": None}, "aws_is_org_root"),
        ({"contact_email": "nope"}, "contact_email"),
        ({"aws_auth_mode": "role_arn"}, "aws_role_arn"),
        ({"aws_auth_mode": "workload_identity_federation"}, "aws_role_arn"),
        ({"aws_auth_mode": "bastion", "aws_role_arn": role_arn()}, "aws_bastion_id"),
        ({"aws_role_arn": "arn:aws:iam::1:role/x"}, "aws_role_arn"),
        ({"aws_external_id": "x"}, "aws_external_id"),
        ({"aws_bastion_id": str(uuid.uuid4())}, "aws_bastion_id"),
        ({"azure_tenant_id": TENANT}, "azure_tenant_id"),
        ({"gcp_project_id": "my-project-01"}, "gcp_project_id"),
        ({"is_discovery_root": True}, "is_discovery_root"),
        ({"credentials": {"type": "aws_access_keys"}}, "credentials"),
        ({"id": str(uuid.uuid4())}, "id"),
        ({"colour": "blue"}, "colour"),
    ],
)
async def test_invalid_aws_update_is_400_and_changes_nothing(
    admin_client: httpx.AsyncClient,
    create_account: CreateAccount,
    session: AsyncSession,
    body: dict[str, Any],
    field: str,
) -> None:
    account = await create_account(aws_body(description="before"))
    response = await admin_client.put(
        f"/api/accounts/{account['id']}", json={"description": "after", **body}
    )
    assert response.status_code == 400, response.text
    assert field in field_names(response)
    stored = await _stored(session, account["id"])
    assert stored.description == "before"
    assert await audit_events(session, "account.update") == []


async def test_role_modes_keep_a_stored_role_arn(
    admin_client: httpx.AsyncClient, create_account: CreateAccount
) -> None:
    account = await create_account(aws_body(aws_auth_mode="role_arn", aws_role_arn=role_arn()))
    response = await admin_client.put(
        f"/api/accounts/{account['id']}", json={"aws_auth_mode": "workload_identity_federation"}
    )
    assert response.status_code == 200, response.text
    assert response.json()["aws_role_arn"] == account["aws_role_arn"]
    cleared = await admin_client.put(f"/api/accounts/{account['id']}", json={"aws_role_arn": None})
    assert cleared.status_code == 400
    assert field_names(cleared) == {"aws_role_arn"}


async def test_azure_update_rules(
    admin_client: httpx.AsyncClient, create_account: CreateAccount
) -> None:
    account = await create_account(azure_body())
    url = f"/api/accounts/{account['id']}"

    missing_tenant = await admin_client.put(url, json={"azure_tenant_id": None})
    assert missing_tenant.status_code == 400
    assert field_names(missing_tenant) == {"azure_tenant_id"}

    mismatch = await admin_client.put(url, json={"azure_subscription_id": str(uuid.uuid4())})
    assert mismatch.status_code == 400
    assert field_names(mismatch) == {"azure_subscription_id"}

    wrong_provider = await admin_client.put(url, json={"aws_role_arn": role_arn()})
    assert wrong_provider.status_code == 400
    assert field_names(wrong_provider) == {"aws_role_arn"}

    client_id = str(uuid.uuid4())
    ok = await admin_client.put(
        url,
        json={
            "azure_subscription_id": account["external_id"].upper(),
            "azure_client_id": client_id.upper(),
            "azure_auth_mode": "workload_identity_federation",
            "is_discovery_root": True,
        },
    )
    assert ok.status_code == 200, ok.text
    assert ok.json()["azure_client_id"] == client_id
    assert ok.json()["azure_subscription_id"] == account["external_id"]
    assert ok.json()["is_discovery_root"] is True

    # Clearing the subscription puts external_id back (it always equals external_id).
    reset = await admin_client.put(url, json={"azure_subscription_id": None})
    assert reset.status_code == 200
    assert reset.json()["azure_subscription_id"] == account["external_id"]


async def test_gcp_update_rules(
    admin_client: httpx.AsyncClient, create_account: CreateAccount
) -> None:
    account = await create_account(gcp_body())
    url = f"/api/accounts/{account['id']}"
    mismatch = await admin_client.put(url, json={"gcp_project_id": "another-project"})
    assert mismatch.status_code == 400
    assert field_names(mismatch) == {"gcp_project_id"}
    ok = await admin_client.put(
        url,
        json={
            "gcp_client_email": "sa@p.iam.gserviceaccount.com",
            "gcp_auth_mode": "workload_identity_federation",
        },
    )
    assert ok.status_code == 200, ok.text
    assert ok.json()["gcp_auth_mode"] == "workload_identity_federation"
    wrong = await admin_client.put(url, json={"azure_auth_mode": "client_secret"})
    assert wrong.status_code == 400
    assert field_names(wrong) == {"azure_auth_mode"}


async def test_update_is_audited_with_the_changed_field_names(
    admin_client: httpx.AsyncClient, create_account: CreateAccount, session: AsyncSession
) -> None:
    account = await create_account(aws_body(description="same"))
    response = await admin_client.put(
        f"/api/accounts/{account['id']}",
        json={"name": "secret-looking-name", "description": "same", "enabled": False},
    )
    assert response.status_code == 200
    [event] = await audit_events(session, "account.update")
    assert event.target_id == account["id"]
    assert event.changed_fields == ["enabled", "name"]  # description did not change
    assert "secret-looking-name" not in " ".join(event.changed_fields)


async def test_unknown_account_is_404(admin_client: httpx.AsyncClient) -> None:
    response = await admin_client.put(f"/api/accounts/{uuid.uuid4()}", json={"name": "x"})
    assert response.status_code == 404
    assert response.json()["code"] == "account_not_found"


async def test_malformed_id_is_400(admin_client: httpx.AsyncClient) -> None:
    response = await admin_client.put("/api/accounts/not-a-uuid", json={"name": "x"})
    assert response.status_code == 400
    assert field_names(response) == {"account_id"}
