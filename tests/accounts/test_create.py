"""POST /api/accounts: every field rule of SPEC §3, positive and negative, duplicates, audit."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from api.models import CloudAccount
from tests.accounts.conftest import (
    TENANT,
    CreateAccount,
    account_count,
    audit_events,
    aws_body,
    azure_body,
    azure_id,
    field_names,
    gcp_body,
    role_arn,
)
from tests.fixtures.auth import create_user_with_token

ACCOUNT_KEYS = {
    "id",
    "name",
    "description",
    "contact_email",
    "enabled",
    "provider",
    "external_id",
    "aws_auth_mode",
    "aws_role_arn",
    "aws_external_id",
    "aws_bastion_id",
    "aws_is_org_root",
    "azure_subscription_id",
    "azure_tenant_id",
    "azure_client_id",
    "azure_auth_mode",
    "gcp_project_id",
    "gcp_client_email",
    "gcp_auth_mode",
    "is_discovery_root",
    "credentials_configured",
    "last_collected_at",
    "last_collection_error",
    "created_at",
    "updated_at",
    "created_by",
}


# --- accepted ---------------------------------------------------------------------------------


async def test_minimal_aws_account_gets_the_defaults(admin_client: httpx.AsyncClient) -> None:
    body = aws_body(name="prod payer")
    response = await admin_client.post("/api/accounts", json=body)
    assert response.status_code == 201, response.text
    account = response.json()
    assert set(account) == ACCOUNT_KEYS
    assert account["name"] == "prod payer"
    assert account["provider"] == "aws"
    assert account["external_id"] == body["external_id"]
    assert account["enabled"] is True
    assert account["aws_auth_mode"] == "access_keys"
    assert account["aws_is_org_root"] is False
    assert account["is_discovery_root"] is False
    assert account["credentials_configured"] is False
    assert account["last_collected_at"] is None
    assert account["last_collection_error"] is None
    assert account["azure_subscription_id"] is None
    assert account["gcp_project_id"] is None
    uuid.UUID(account["id"])
    assert account["created_at"] and account["updated_at"]

    fetched = await admin_client.get(f"/api/accounts/{account['id']}")
    assert fetched.status_code == 200
    assert fetched.json() == account


async def test_created_by_is_the_caller(app: FastAPI) -> None:
    user_id, token = await create_user_with_token(
        app, permissions=[{"action": "create", "resource": "accounts"}]
    )
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(
        transport=transport, base_url="http://t", headers={"Authorization": f"Bearer {token}"}
    ) as http:
        response = await http.post("/api/accounts", json=aws_body())
    assert response.status_code == 201, response.text
    assert response.json()["created_by"] == str(user_id)


@pytest.mark.parametrize(
    "overrides",
    [
        {"aws_auth_mode": "access_keys"},
        {"aws_auth_mode": "access_keys", "aws_role_arn": role_arn(), "aws_external_id": "ab"},
        {"aws_auth_mode": "role_arn", "aws_role_arn": role_arn()},
        {"aws_auth_mode": "role_arn", "aws_role_arn": role_arn(name="path/to/Role+=,.@-_9")},
        {"aws_auth_mode": "role_arn", "aws_role_arn": role_arn(), "aws_external_id": "x" * 1224},
        {"aws_auth_mode": "role_arn", "aws_role_arn": role_arn(), "aws_external_id": " !~:/=@"},
        {"aws_auth_mode": "workload_identity_federation", "aws_role_arn": role_arn()},
        {"aws_role_arn": "arn:aws:iam::123456789012:role/" + "r" * (512 - 31)},
        {"aws_is_org_root": True},
        {"enabled": False},
        {"description": "line one\nline two\ttabbed", "contact_email": "team@example.com"},
        {"name": "x" * 255},
        {"description": "d" * 10_000},
        # Other providers' fields without a value are harmless.
        {"azure_tenant_id": None, "gcp_project_id": None, "is_discovery_root": False},
        # Empty form fields count as absent.
        {"aws_role_arn": "", "aws_external_id": "", "contact_email": "", "aws_bastion_id": ""},
    ],
)
async def test_valid_aws_accounts(
    admin_client: httpx.AsyncClient, overrides: dict[str, Any]
) -> None:
    body = aws_body(**overrides)
    response = await admin_client.post("/api/accounts", json=body)
    assert response.status_code == 201, response.text
    account = response.json()
    for key, value in overrides.items():
        if key in account and value not in ("", None):
            assert account[key] == body[key], key  # aws_body puts the role in the account


async def test_name_and_external_id_are_trimmed(admin_client: httpx.AsyncClient) -> None:
    response = await admin_client.post(
        "/api/accounts", json=aws_body(name="  spaced  ", external_id=" 210987654321 ")
    )
    assert response.status_code == 201, response.text
    assert response.json()["name"] == "spaced"
    assert response.json()["external_id"] == "210987654321"


async def test_azure_defaults_and_subscription_from_external_id(
    admin_client: httpx.AsyncClient,
) -> None:
    subscription = azure_id()
    response = await admin_client.post("/api/accounts", json=azure_body(external_id=subscription))
    assert response.status_code == 201, response.text
    account = response.json()
    assert account["azure_subscription_id"] == subscription
    assert account["azure_tenant_id"] == TENANT
    assert account["azure_auth_mode"] == "client_secret"
    assert account["aws_auth_mode"] is None
    assert account["gcp_auth_mode"] is None


async def test_azure_ids_are_normalised_to_lower_case(admin_client: httpx.AsyncClient) -> None:
    subscription = azure_id()
    client_id = str(uuid.uuid4())
    response = await admin_client.post(
        "/api/accounts",
        json=azure_body(
            external_id=subscription,
            azure_subscription_id=subscription.upper(),
            azure_tenant_id=TENANT.upper(),
            azure_client_id=client_id.upper(),
            azure_auth_mode="workload_identity_federation",
            is_discovery_root=True,
        ),
    )
    assert response.status_code == 201, response.text
    account = response.json()
    assert account["external_id"] == subscription
    assert account["azure_subscription_id"] == subscription
    assert account["azure_tenant_id"] == TENANT
    assert account["azure_client_id"] == client_id
    assert account["azure_auth_mode"] == "workload_identity_federation"
    assert account["is_discovery_root"] is True


async def test_azure_subscription_matching_in_another_case_is_accepted(
    admin_client: httpx.AsyncClient,
) -> None:
    subscription = azure_id()
    response = await admin_client.post(
        "/api/accounts",
        json=azure_body(external_id=subscription, azure_subscription_id=subscription.upper()),
    )
    assert response.status_code == 201, response.text
    assert response.json()["azure_subscription_id"] == subscription


@pytest.mark.parametrize(
    "overrides",
    [
        {},
        {"gcp_project_id": "my-project-01", "external_id": "my-project-01"},
        {"gcp_client_email": "cudly@my-project-01.iam.gserviceaccount.com"},
        {"gcp_auth_mode": "workload_identity_federation", "is_discovery_root": True},
        {"external_id": "abcdef"},
        {"external_id": "a" + "b" * 29},
    ],
)
async def test_valid_gcp_accounts(
    admin_client: httpx.AsyncClient, overrides: dict[str, Any]
) -> None:
    body = gcp_body(**overrides)
    response = await admin_client.post("/api/accounts", json=body)
    assert response.status_code == 201, response.text
    account = response.json()
    assert account["gcp_project_id"] == body["external_id"]
    assert account["gcp_auth_mode"] == overrides.get("gcp_auth_mode", "service_account_key")
    assert account["is_discovery_root"] is overrides.get("is_discovery_root", False)


# --- refused: 400 naming the field, nothing created ------------------------------------------

LONG_EMAIL = "a" * 64 + "@" + ".".join(["b" * 60] * 4) + ".com"

INVALID: list[tuple[str, dict[str, Any], str]] = [
    # name
    ("name missing", {"name": None, "_drop": "name"}, "name"),
    ("name null", {"name": None}, "name"),
    ("name empty", {"name": ""}, "name"),
    ("name blank", {"name": "   "}, "name"),
    ("name too long", {"name": "x" * 256}, "name"),
    ("name not a string", {"name": 42}, "name"),
    ("name with NUL", {"name": "a\x00b"}, "name"),
    ("name with newline", {"name": "a\nb"}, "name"),
    ("description too long", {"description": "d" * 10_001}, "description"),
    ("description with NUL", {"description": "a\x00b"}, "description"),
    ("contact_email invalid", {"contact_email": "not-an-email"}, "contact_email"),
    ("contact_email no domain", {"contact_email": "x@"}, "contact_email"),
    ("contact_email too long", {"contact_email": LONG_EMAIL}, "contact_email"),
    ("enabled as string", {"enabled": "true"}, "enabled"),
    ("enabled null", {"enabled": None}, "enabled"),
    # provider / external_id
    ("provider missing", {"_drop": "provider"}, "provider"),
    ("provider unknown", {"provider": "oracle"}, "provider"),
    ("external_id missing", {"_drop": "external_id"}, "external_id"),
    ("external_id number", {"external_id": 123456789012}, "external_id"),
    ("aws id 11 digits", {"external_id": "12345678901"}, "external_id"),
    ("aws id 13 digits", {"external_id": "1234567890123"}, "external_id"),
    ("aws id letters", {"external_id": "12345678901a"}, "external_id"),
    ("aws id unicode digits", {"external_id": "١٢٣٤٥٦٧٨٩٠١٢"}, "external_id"),
    ("external_id too long", {"external_id": "1" * 65}, "external_id"),
    # aws_auth_mode / role ARN
    ("aws_auth_mode unknown", {"aws_auth_mode": "password"}, "aws_auth_mode"),
    ("role_arn mode without ARN", {"aws_auth_mode": "role_arn"}, "aws_role_arn"),
    (
        "wif mode without ARN",
        {"aws_auth_mode": "workload_identity_federation"},
        "aws_role_arn",
    ),
    (
        "bastion mode without ARN",
        {"aws_auth_mode": "bastion", "aws_bastion_id": str(uuid.uuid4())},
        "aws_role_arn",
    ),
    ("ARN 11-digit account", {"aws_role_arn": "arn:aws:iam::12345678901:role/x"}, "aws_role_arn"),
    ("ARN of a user", {"aws_role_arn": "arn:aws:iam::123456789012:user/x"}, "aws_role_arn"),
    (
        "ARN other partition",
        {"aws_role_arn": "arn:aws-cn:iam::123456789012:role/x"},
        "aws_role_arn",
    ),
    ("ARN without name", {"aws_role_arn": "arn:aws:iam::123456789012:role/"}, "aws_role_arn"),
    ("ARN with space", {"aws_role_arn": "arn:aws:iam::123456789012:role/a b"}, "aws_role_arn"),
    ("ARN non-ASCII", {"aws_role_arn": "arn:aws:iam::123456789012:role/é"}, "aws_role_arn"),
    (
        "ARN trailing newline",
        {"aws_role_arn": "arn:aws:iam::123456789012:role/x\n"},
        "aws_role_arn",
    ),
    ("ARN is a URL", {"aws_role_arn": "https://evil.example/role"}, "aws_role_arn"),
    (
        "ARN too long",
        {"aws_role_arn": "arn:aws:iam::123456789012:role/" + "r" * (513 - 31)},
        "aws_role_arn",
    ),
    # aws_external_id
    ("external id 1 char", {"aws_external_id": "a"}, "aws_external_id"),
    ("external id 1225 chars", {"aws_external_id": "a" * 1225}, "aws_external_id"),
    ("external id non-ASCII", {"aws_external_id": "abé"}, "aws_external_id"),
    ("external id control char", {"aws_external_id": "ab\tcd"}, "aws_external_id"),
    ("external id not a string", {"aws_external_id": 1234}, "aws_external_id"),
    # bastion id shape and mode
    ("bastion id not a uuid", {"aws_bastion_id": "abc"}, "aws_bastion_id"),
    (
        "bastion id outside bastion mode",
        {"aws_auth_mode": "access_keys", "aws_bastion_id": str(uuid.uuid4())},
        "aws_bastion_id",
    ),
    (
        "bastion mode without bastion",
        {"aws_auth_mode": "bastion", "aws_role_arn": role_arn()},
        "aws_bastion_id",
    ),
    ("org root as string", {"aws_is_org_root": "yes"}, "aws_is_org_root"),
    # other providers' fields on an AWS account
    ("azure tenant on aws", {"azure_tenant_id": TENANT}, "azure_tenant_id"),
    ("azure mode on aws", {"azure_auth_mode": "client_secret"}, "azure_auth_mode"),
    ("gcp project on aws", {"gcp_project_id": "my-project-01"}, "gcp_project_id"),
    ("gcp email on aws", {"gcp_client_email": "a@example.com"}, "gcp_client_email"),
    ("gcp mode on aws", {"gcp_auth_mode": "service_account_key"}, "gcp_auth_mode"),
    ("discovery root on aws", {"is_discovery_root": True}, "is_discovery_root"),
    # unknown or read-only fields
    ("unknown field", {"colour": "blue"}, "colour"),
    ("id is read-only", {"id": str(uuid.uuid4())}, "id"),
    ("derived field", {"credentials_configured": True}, "credentials_configured"),
    ("created_by", {"created_by": str(uuid.uuid4())}, "created_by"),
]

INVALID_AZURE: list[tuple[str, dict[str, Any], str]] = [
    ("subscription not a uuid", {"external_id": "not-a-uuid"}, "external_id"),
    ("subscription in braces", {"external_id": "{" + str(uuid.uuid4()) + "}"}, "external_id"),
    ("subscription without hyphens", {"external_id": uuid.uuid4().hex}, "external_id"),
    ("subscription is an aws id", {"external_id": "123456789012"}, "external_id"),
    ("tenant missing", {"_drop": "azure_tenant_id"}, "azure_tenant_id"),
    ("tenant null", {"azure_tenant_id": None}, "azure_tenant_id"),
    ("tenant not a uuid", {"azure_tenant_id": "contoso.onmicrosoft.com"}, "azure_tenant_id"),
    ("client not a uuid", {"azure_client_id": "app"}, "azure_client_id"),
    (
        "subscription mismatch",
        {"azure_subscription_id": str(uuid.uuid4())},
        "azure_subscription_id",
    ),
    ("subscription field invalid", {"azure_subscription_id": "x"}, "azure_subscription_id"),
    ("azure mode unknown", {"azure_auth_mode": "service_account_key"}, "azure_auth_mode"),
    ("aws role on azure", {"aws_role_arn": role_arn()}, "aws_role_arn"),
    ("aws mode on azure", {"aws_auth_mode": "access_keys"}, "aws_auth_mode"),
    ("aws external id on azure", {"aws_external_id": "abcd"}, "aws_external_id"),
    ("aws bastion on azure", {"aws_bastion_id": str(uuid.uuid4())}, "aws_bastion_id"),
    ("aws org root on azure", {"aws_is_org_root": True}, "aws_is_org_root"),
    ("gcp email on azure", {"gcp_client_email": "a@example.com"}, "gcp_client_email"),
    ("gcp mode on azure", {"gcp_auth_mode": "workload_identity_federation"}, "gcp_auth_mode"),
]

INVALID_GCP: list[tuple[str, dict[str, Any], str]] = [
    ("project upper-case", {"external_id": "My-Project-01"}, "external_id"),
    ("project starts with digit", {"external_id": "1project"}, "external_id"),
    ("project too short", {"external_id": "short"}, "external_id"),
    ("project too long", {"external_id": "a" * 31}, "external_id"),
    ("project underscore", {"external_id": "my_project"}, "external_id"),
    ("project mismatch", {"gcp_project_id": "other-project"}, "gcp_project_id"),
    ("project field invalid", {"gcp_project_id": "BAD"}, "gcp_project_id"),
    ("client email invalid", {"gcp_client_email": "nope"}, "gcp_client_email"),
    ("gcp mode unknown", {"gcp_auth_mode": "client_secret"}, "gcp_auth_mode"),
    ("azure client on gcp", {"azure_client_id": str(uuid.uuid4())}, "azure_client_id"),
    ("azure mode on gcp", {"azure_auth_mode": "client_secret"}, "azure_auth_mode"),
    ("aws org root on gcp", {"aws_is_org_root": True}, "aws_is_org_root"),
]


def _apply(body: dict[str, Any], overrides: dict[str, Any]) -> dict[str, Any]:
    overrides = dict(overrides)
    drop = overrides.pop("_drop", None)
    body.update(overrides)
    if drop:
        body.pop(drop, None)
    return body


async def _assert_refused(
    admin_client: httpx.AsyncClient, session: AsyncSession, body: dict[str, Any], field: str
) -> None:
    response = await admin_client.post("/api/accounts", json=body)
    assert response.status_code == 400, response.text
    error = response.json()
    assert error["code"] == "validation_error"
    assert isinstance(error["error"], str) and error["error"]
    assert field in field_names(response), error
    assert await account_count(session) == 0


@pytest.mark.parametrize(
    ("overrides", "field"), [c[1:] for c in INVALID], ids=[c[0] for c in INVALID]
)
async def test_invalid_aws_field_is_400_naming_it(
    admin_client: httpx.AsyncClient, session: AsyncSession, overrides: dict[str, Any], field: str
) -> None:
    await _assert_refused(admin_client, session, _apply(aws_body(), overrides), field)


@pytest.mark.parametrize(
    ("overrides", "field"), [c[1:] for c in INVALID_AZURE], ids=[c[0] for c in INVALID_AZURE]
)
async def test_invalid_azure_field_is_400_naming_it(
    admin_client: httpx.AsyncClient, session: AsyncSession, overrides: dict[str, Any], field: str
) -> None:
    await _assert_refused(admin_client, session, _apply(azure_body(), overrides), field)


@pytest.mark.parametrize(
    ("overrides", "field"), [c[1:] for c in INVALID_GCP], ids=[c[0] for c in INVALID_GCP]
)
async def test_invalid_gcp_field_is_400_naming_it(
    admin_client: httpx.AsyncClient, session: AsyncSession, overrides: dict[str, Any], field: str
) -> None:
    await _assert_refused(admin_client, session, _apply(gcp_body(), overrides), field)


async def test_every_invalid_field_is_named_at_once(admin_client: httpx.AsyncClient) -> None:
    response = await admin_client.post(
        "/api/accounts",
        json=aws_body(
            external_id="123",
            aws_auth_mode="role_arn",
            azure_tenant_id=TENANT,
            gcp_auth_mode="service_account_key",
        ),
    )
    assert response.status_code == 400
    assert {"external_id", "aws_role_arn", "azure_tenant_id", "gcp_auth_mode"} <= field_names(
        response
    )


async def test_wrong_provider_field_message_names_the_provider(
    admin_client: httpx.AsyncClient,
) -> None:
    response = await admin_client.post("/api/accounts", json=azure_body(aws_role_arn=role_arn()))
    assert response.status_code == 400
    [field] = response.json()["fields"]
    assert field["field"] == "aws_role_arn"
    assert "Azure" in field["message"]


async def test_rejected_values_are_not_echoed(admin_client: httpx.AsyncClient) -> None:
    secret = "AKIA-not-a-name-SECRET-value-\x00"
    response = await admin_client.post("/api/accounts", json=aws_body(name=secret))
    assert response.status_code == 400
    assert "SECRET" not in response.text


@pytest.mark.parametrize("body", [{}, [], "account", 42, None])
async def test_body_must_be_an_object(
    admin_client: httpx.AsyncClient, session: AsyncSession, body: Any
) -> None:
    response = await admin_client.post("/api/accounts", json=body)
    assert response.status_code == 400, response.text
    assert response.json()["code"] in {"validation_error", "invalid_json"}
    assert await account_count(session) == 0


async def test_malformed_json_is_400(
    admin_client: httpx.AsyncClient, session: AsyncSession
) -> None:
    response = await admin_client.post(
        "/api/accounts",
        content=b'{"name": "x", "provider": "aws",',
        headers={"Content-Type": "application/json"},
    )
    assert response.status_code == 400
    assert response.json()["code"] == "invalid_json"
    assert await account_count(session) == 0


async def test_huge_body_is_413(admin_client: httpx.AsyncClient, session: AsyncSession) -> None:
    body = aws_body(description="d" * 2_000_000)
    response = await admin_client.post("/api/accounts", json=body)
    assert response.status_code == 413
    assert response.json()["code"] == "payload_too_large"
    assert await account_count(session) == 0


# --- duplicates --------------------------------------------------------------------------------


async def test_duplicate_provider_and_external_id_is_409(
    admin_client: httpx.AsyncClient, session: AsyncSession, create_account: CreateAccount
) -> None:
    first = await create_account(aws_body(external_id="555555555555"))
    response = await admin_client.post(
        "/api/accounts", json=aws_body(name="another name", external_id="555555555555")
    )
    assert response.status_code == 409, response.text
    assert response.json()["code"] == "account_exists"
    assert "555555555555" in response.json()["error"]
    assert await account_count(session) == 1
    assert (await admin_client.get(f"/api/accounts/{first['id']}")).json()["name"] == first["name"]


async def test_upper_case_azure_external_id_is_refused(
    admin_client: httpx.AsyncClient, create_account: CreateAccount
) -> None:
    """SPEC §3: the Azure external id is the lower-case UUID; the error shows that form."""
    subscription = azure_id()
    await create_account(azure_body(external_id=subscription))
    response = await admin_client.post(
        "/api/accounts", json=azure_body(external_id=subscription.upper())
    )
    assert response.status_code == 400
    assert response.json()["fields"][0]["field"] == "external_id"
    assert subscription in response.json()["error"]


async def test_concurrent_duplicate_creates_one_wins(
    admin_client: httpx.AsyncClient, session: AsyncSession
) -> None:
    bodies = [aws_body(name=f"racer {i}", external_id="777777777777") for i in range(4)]
    responses = await asyncio.gather(
        *(admin_client.post("/api/accounts", json=body) for body in bodies)
    )
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [201, 409, 409, 409], [r.text for r in responses]
    assert await account_count(session) == 1


async def test_the_two_halves_of_a_concurrent_pair(
    admin_client: httpx.AsyncClient, session: AsyncSession
) -> None:
    body = gcp_body(external_id="racing-project")
    first, second = await asyncio.gather(
        admin_client.post("/api/accounts", json=body),
        admin_client.post("/api/accounts", json=body),
    )
    assert sorted([first.status_code, second.status_code]) == [201, 409]
    loser = first if first.status_code == 409 else second
    assert loser.json()["code"] == "account_exists"
    rows = (await session.execute(select(CloudAccount.external_id))).scalars().all()
    assert rows == ["racing-project"]


# --- audit -------------------------------------------------------------------------------------


async def test_create_is_audited_with_field_names_only(
    admin_client: httpx.AsyncClient, session: AsyncSession
) -> None:
    body = aws_body(
        name="audited-name-value",
        description="audited description value",
        aws_auth_mode="role_arn",
        aws_role_arn=role_arn(),
        aws_external_id="external-id-value",
    )
    response = await admin_client.post("/api/accounts", json=body)
    assert response.status_code == 201
    [event] = await audit_events(session, "account.create")
    assert event.target_type == "cloud_account"
    assert event.target_id == response.json()["id"]
    assert event.actor_id is not None
    assert set(event.changed_fields) == set(body)
    flat = " ".join(event.changed_fields)
    assert "audited-name-value" not in flat and "external-id-value" not in flat


async def test_refused_create_writes_no_audit(
    admin_client: httpx.AsyncClient, session: AsyncSession
) -> None:
    response = await admin_client.post("/api/accounts", json=aws_body(external_id="1"))
    assert response.status_code == 400
    assert await audit_events(session, "account.create") == []
