"""``POST /api/accounts/{account_id}/credentials``: validated, encrypted, write-only."""

from __future__ import annotations

import json
import uuid
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from api.config import Settings
from api.credentials.schemas import (
    CREDENTIALS_ADAPTER,
    AwsAccessKeysIn,
    parse_inline_credentials,
)
from api.errors import ValidationFailed
from api.kit.crypto import KeyRing, key_id_for
from api.models import AccountCredential, AuditEvent, CloudAccount
from tests.cloudsim import make_gcp_key
from tests.conftest import TEST_KEY
from tests.credentials.fixtures import SA, add_account
from tests.fixtures.auth import MakeClient

SECRET_KEY = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYzEXAMPLEKEY"
ACCESS_KEY = "AKIAIOSFODNN7EXAMPLE"
AZURE_SECRET = "azure~client~secret~value~1234567890"


def aws_keys(**extra: Any) -> dict[str, Any]:
    return {
        "type": "aws_access_keys",
        "access_key_id": ACCESS_KEY,
        "secret_access_key": SECRET_KEY,
        **extra,
    }


async def post(client: httpx.AsyncClient, account_id: uuid.UUID, body: Any) -> httpx.Response:
    return await client.post(f"/api/accounts/{account_id}/credentials", json=body)


async def stored(session: AsyncSession, account_id: uuid.UUID) -> AccountCredential | None:
    return (
        await session.execute(
            select(AccountCredential)
            .where(AccountCredential.cloud_account_id == account_id)
            .execution_options(populate_existing=True)
        )
    ).scalar_one_or_none()


def decrypt(row: AccountCredential) -> dict[str, Any]:
    ring = KeyRing(bytes.fromhex(TEST_KEY))
    return dict(
        json.loads(
            ring.decrypt(
                row.blob, account_id=row.cloud_account_id, credential_type=row.credential_type
            )
        )
    )


async def test_store_encrypts_and_audits_field_names_only(
    admin_client: httpx.AsyncClient, session: AsyncSession, log_capture: pytest.LogCaptureFixture
) -> None:
    account = await add_account(session)
    response = await post(admin_client, account.id, aws_keys())
    assert response.status_code == 204, response.text
    assert response.content == b""
    row = await stored(session, account.id)
    assert row is not None
    assert row.credential_type == "aws_access_keys"
    assert row.key_id == key_id_for(bytes.fromhex(TEST_KEY))
    assert row.blob.startswith(f"v1:{row.key_id}:")
    assert SECRET_KEY not in row.blob and ACCESS_KEY not in row.blob
    assert decrypt(row) == aws_keys()
    (event,) = (
        (await session.execute(select(AuditEvent).where(AuditEvent.target_id == str(account.id))))
        .scalars()
        .all()
    )
    assert event.action == "credentials.update"
    assert event.target_type == "cloud_account"
    assert event.changed_fields == ["access_key_id", "secret_access_key", "type"]
    assert SECRET_KEY not in log_capture.text


async def test_store_replaces_the_one_row(
    admin_client: httpx.AsyncClient, session: AsyncSession
) -> None:
    account = await add_account(session)
    assert (await post(admin_client, account.id, aws_keys())).status_code == 204
    first = await stored(session, account.id)
    assert first is not None
    first_blob = first.blob
    body = aws_keys(
        secret_access_key="another-secret-key-of-forty-characters!!", session_token="tok" * 10
    )
    assert (await post(admin_client, account.id, body)).status_code == 204
    await session.commit()  # a new snapshot: see the API's committed write
    rows = (
        (
            await session.execute(
                select(AccountCredential)
                .where(AccountCredential.cloud_account_id == account.id)
                .execution_options(populate_existing=True)
            )
        )
        .scalars()
        .all()
    )
    assert len(rows) == 1
    assert rows[0].blob != first_blob
    assert decrypt(rows[0])["secret_access_key"] == "another-secret-key-of-forty-characters!!"


async def test_unknown_account_is_404(admin_client: httpx.AsyncClient) -> None:
    response = await post(admin_client, uuid.uuid4(), aws_keys())
    assert response.status_code == 404
    assert response.json()["code"] == "account_not_found"
    assert SECRET_KEY not in response.text


async def test_scoped_permission(make_client: MakeClient, session: AsyncSession) -> None:
    mine = await add_account(session)
    other = await add_account(session)
    client = await make_client(
        permissions=[
            {
                "action": "manage_credentials",
                "resource": "accounts",
                "constraints": {"accounts": [str(mine.id)]},
            }
        ]
    )
    assert (await post(client, mine.id, aws_keys())).status_code == 204
    response = await post(client, other.id, aws_keys())
    assert response.status_code == 403
    assert await stored(session, other.id) is None
    viewer = await make_client(permissions=[{"action": "view", "resource": "accounts"}])
    assert (await post(viewer, mine.id, aws_keys())).status_code == 403


@pytest.mark.parametrize(
    ("provider", "fields", "body", "message"),
    [
        (
            "aws",
            {},
            {"type": "azure_client_secret", "client_secret": AZURE_SECRET},
            "send type aws_access_keys",
        ),
        ("azure", {}, aws_keys(), "send type azure_client_secret"),
        (
            "azure",
            {"azure_auth_mode": "workload_identity_federation"},
            {"type": "azure_client_secret", "client_secret": AZURE_SECRET},
            "send type azure_wif",
        ),
        (
            "aws",
            {
                "aws_auth_mode": "workload_identity_federation",
                "aws_role_arn": "arn:aws:iam::123456789012:role/R",
            },
            aws_keys(),
            "send type aws_wif",
        ),
        (
            "aws",
            {"aws_auth_mode": "role_arn", "aws_role_arn": "arn:aws:iam::123456789012:role/R"},
            aws_keys(),
            "no credentials are stored",
        ),
    ],
)
async def test_type_must_fit_provider_and_mode(
    admin_client: httpx.AsyncClient,
    session: AsyncSession,
    provider: str,
    fields: dict[str, Any],
    body: dict[str, Any],
    message: str,
) -> None:
    account = await add_account(session, provider, **fields)
    response = await post(admin_client, account.id, body)
    assert response.status_code == 400, response.text
    assert response.json()["fields"][0]["field"] == "type"
    assert message in response.json()["error"]
    assert SECRET_KEY not in response.text and AZURE_SECRET not in response.text
    assert await stored(session, account.id) is None


async def test_bastion_mode_stores_nothing(
    admin_client: httpx.AsyncClient, session: AsyncSession
) -> None:
    bastion = await add_account(session)
    account = await add_account(
        session,
        aws_auth_mode="bastion",
        aws_role_arn="arn:aws:iam::123456789012:role/R",
        aws_bastion_id=bastion.id,
    )
    response = await post(admin_client, account.id, aws_keys())
    assert response.status_code == 400
    assert "bastion mode" in response.json()["error"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"access_key_id": ACCESS_KEY, "secret_access_key": SECRET_KEY}, "type"),
        ({**aws_keys(), "type": "nope"}, "type"),
        ({"type": "aws_access_keys", "access_key_id": ACCESS_KEY}, "secret_access_key"),
        (aws_keys(access_key_id="not a key id"), "access_key_id"),
        (aws_keys(secret_access_key="x" * 129), "secret_access_key"),
        (aws_keys(extra=SECRET_KEY), "extra"),
        (
            {"type": "aws_access_keys", "access_key_id": SECRET_KEY, "secret_access_key": 5},
            "secret_access_key",
        ),
    ],
)
async def test_invalid_bodies_name_the_field_and_never_echo(
    admin_client: httpx.AsyncClient,
    session: AsyncSession,
    body: dict[str, Any],
    field: str,
) -> None:
    account = await add_account(session)
    response = await post(admin_client, account.id, body)
    assert response.status_code == 400, response.text
    assert field in [f["field"] for f in response.json()["fields"]]
    assert SECRET_KEY not in response.text
    assert await stored(session, account.id) is None


@pytest.mark.parametrize(
    "body",
    [
        {"type": "aws_wif"},
        {"type": "aws_wif", "web_identity_token": "tok-123", "web_identity_token_file": "/t"},
        {"type": "aws_wif", "web_identity_token_file": "relative/token"},
        {"type": "aws_wif", "web_identity_token_file": "/var/../etc/passwd"},
    ],
)
async def test_aws_wif_needs_exactly_one_source(
    admin_client: httpx.AsyncClient, session: AsyncSession, body: dict[str, Any]
) -> None:
    account = await add_account(
        session,
        aws_auth_mode="workload_identity_federation",
        aws_role_arn="arn:aws:iam::123456789012:role/R",
    )
    response = await post(admin_client, account.id, body)
    assert response.status_code == 400, response.text
    assert "tok-123" not in response.text
    ok = await post(
        admin_client, account.id, {"type": "aws_wif", "web_identity_token_file": "/var/run/token"}
    )
    assert ok.status_code == 204


# --- GCP ------------------------------------------------------------------------------------


async def gcp_account(session: AsyncSession, **fields: Any) -> CloudAccount:
    return await add_account(session, "gcp", **fields)


async def test_gcp_key_stored(
    admin_client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    account = await gcp_account(session)
    key = make_gcp_key(SA, settings.clouds.gcp_token_uri)
    text = json.dumps(key)
    response = await post(
        admin_client, account.id, {"type": "gcp_service_account", "service_account_json": text}
    )
    assert response.status_code == 204, response.text
    row = await stored(session, account.id)
    assert row is not None and key["private_key"][40:80] not in row.blob
    assert json.loads(decrypt(row)["service_account_json"]) == key
    # A JSON object is accepted too.
    response = await post(
        admin_client, account.id, {"type": "gcp_service_account", "service_account_json": key}
    )
    assert response.status_code == 204


async def test_gcp_token_uri_must_be_the_configured_one(
    admin_client: httpx.AsyncClient, session: AsyncSession, log_capture: pytest.LogCaptureFixture
) -> None:
    account = await gcp_account(session)
    key = make_gcp_key(SA, "https://attacker.example/token")
    response = await post(
        admin_client,
        account.id,
        {"type": "gcp_service_account", "service_account_json": json.dumps(key)},
    )
    assert response.status_code == 400
    body = response.json()
    assert body["fields"][0]["field"] == "service_account_json"
    assert "token_uri must be https://oauth2.googleapis.com/token" in body["error"]
    assert "attacker.example" not in response.text
    assert key["private_key"][40:80] not in response.text
    assert key["private_key"][40:80] not in log_capture.text
    assert await stored(session, account.id) is None


def _key_variant(settings: Settings, **changes: Any) -> str:
    key = make_gcp_key(SA, settings.clouds.gcp_token_uri)
    for name, value in changes.items():
        if value is None:
            key.pop(name)
        else:
            key[name] = value
    return json.dumps(key)


@pytest.mark.parametrize(
    ("variant", "message"),
    [
        ({"type": "authorized_user"}, "must be a service-account key"),
        ({"client_email": None}, "no client_email"),
        ({"private_key": None}, "no private_key"),
        ({"token_uri": None}, "no token_uri"),
        ({"private_key": "-----BEGIN PRIVATE KEY-----\nnope\n-----END PRIVATE KEY-----\n"}, "PEM"),
        ({"client_email": "not an email"}, "not an email"),
        ({"universe_domain": "evil.example"}, "universe_domain"),
    ],
)
async def test_gcp_key_must_be_a_service_account_key(
    admin_client: httpx.AsyncClient,
    session: AsyncSession,
    settings: Settings,
    variant: dict[str, Any],
    message: str,
) -> None:
    account = await gcp_account(session)
    text = _key_variant(settings, **variant)
    response = await post(
        admin_client, account.id, {"type": "gcp_service_account", "service_account_json": text}
    )
    assert response.status_code == 400, response.text
    assert response.json()["fields"][0]["field"] == "service_account_json"
    assert message in response.text
    assert "PRIVATE KEY" not in response.text or message == "PEM"
    assert text not in response.text


async def test_gcp_key_must_parse_and_be_small(
    admin_client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    account = await gcp_account(session)
    for text, message in [
        ("{not json", "not valid JSON"),
        ("[1, 2]", "JSON object"),
        (_key_variant(settings, padding="x" * 70_000), "65536"),
    ]:
        response = await post(
            admin_client, account.id, {"type": "gcp_service_account", "service_account_json": text}
        )
        assert response.status_code == 400, response.text
        assert message in response.text
    # Past the server's body limit: 413 before any parsing.
    huge = _key_variant(settings, padding="x" * 1_100_000)
    response = await post(
        admin_client, account.id, {"type": "gcp_service_account", "service_account_json": huge}
    )
    assert response.status_code == 413
    assert await stored(session, account.id) is None


def external_account(settings: Settings, **changes: Any) -> dict[str, Any]:
    config: dict[str, Any] = {
        "type": "external_account",
        "audience": "//iam.googleapis.com/projects/1/locations/global/workloadIdentityPools/p/providers/q",
        "subject_token_type": "urn:ietf:params:oauth:token-type:jwt",
        "token_url": settings.clouds.gcp_sts_token_uri,
        "service_account_impersonation_url": f"{settings.clouds.gcp_api_base_iamcredentials}/v1/projects/-/serviceAccounts/{SA}:generateAccessToken",
        "credential_source": {"file": "/var/run/secrets/token"},
    }
    config.update(changes)
    return config


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"token_url": "https://attacker.example/v1/token"}, "token_url must be"),
        (
            {"service_account_impersonation_url": "https://attacker.example/v1/x"},
            "service_account_impersonation_url must be",
        ),
        ({"credential_source": {"url": "http://169.254.169.254/token"}}, "credential_source"),
        ({"credential_source": {"executable": {"command": "/bin/sh"}}}, "credential_source"),
        ({"credential_source": {"file": "relative"}}, "absolute path"),
        ({"type": "service_account"}, "external_account"),
        ({"token_info_url": "https://attacker.example"}, "unsupported keys"),
    ],
)
async def test_gcp_wif_config_is_restricted(
    admin_client: httpx.AsyncClient,
    session: AsyncSession,
    settings: Settings,
    changes: dict[str, Any],
    message: str,
) -> None:
    account = await gcp_account(session, gcp_auth_mode="workload_identity_federation")
    response = await post(
        admin_client,
        account.id,
        {
            "type": "gcp_wif",
            "external_account_json": json.dumps(external_account(settings, **changes)),
        },
    )
    assert response.status_code == 400, response.text
    assert message in response.text
    ok = await post(
        admin_client,
        account.id,
        {"type": "gcp_wif", "external_account_json": external_account(settings)},
    )
    assert ok.status_code == 204, ok.text


async def test_azure_secret_and_wif(admin_client: httpx.AsyncClient, session: AsyncSession) -> None:
    account = await add_account(session, "azure")
    body = {"type": "azure_client_secret", "client_secret": AZURE_SECRET}
    assert (await post(admin_client, account.id, body)).status_code == 204
    wif = await add_account(
        session,
        "azure",
        external_id=str(uuid.uuid4()),
        azure_auth_mode="workload_identity_federation",
    )
    for bad in [
        {"type": "azure_wif"},
        {"type": "azure_wif", "client_assertion": "a.b.c", "federated_token_file": "/f"},
    ]:
        assert (await post(admin_client, wif.id, bad)).status_code == 400
    response = await post(admin_client, wif.id, {"type": "azure_wif", "client_assertion": "a.b.c"})
    assert response.status_code == 204


async def test_never_in_logs(
    admin_client: httpx.AsyncClient, session: AsyncSession, log_capture: pytest.LogCaptureFixture
) -> None:
    account = await add_account(session)
    await post(admin_client, account.id, aws_keys())
    await post(admin_client, account.id, aws_keys(access_key_id="bad id", extra=1))
    await post(admin_client, uuid.uuid4(), aws_keys())
    assert SECRET_KEY not in log_capture.text


# --- schema objects ---------------------------------------------------------------------------


def test_credential_models_render_redacted(settings: Settings) -> None:
    key = make_gcp_key(SA, settings.clouds.gcp_token_uri)
    bodies = [
        aws_keys(session_token="session-token-value"),
        {"type": "aws_wif", "web_identity_token": "web-identity-token"},
        {"type": "azure_client_secret", "client_secret": AZURE_SECRET},
        {"type": "azure_wif", "client_assertion": "client-assertion-jwt"},
        {"type": "gcp_service_account", "service_account_json": json.dumps(key)},
        {"type": "gcp_wif", "external_account_json": json.dumps(external_account(settings))},
    ]
    for body in bodies:
        model = CREDENTIALS_ADAPTER.validate_python(body)
        for text in (repr(model), str(model), f"{model}", f"{model!r}", repr([model])):
            assert "[REDACTED]" in text
            for value in body.values():
                if value != body["type"]:
                    assert str(value) not in text
        assert key["private_key"][40:80] not in repr(model.model_dump())


def test_parse_inline_credentials(settings: Settings) -> None:
    parsed = parse_inline_credentials(
        "aws", "access_keys", {"access_key_id": ACCESS_KEY, "secret_access_key": SECRET_KEY}
    )
    assert isinstance(parsed, AwsAccessKeysIn)
    # The provider's default mode applies when none is given.
    assert parse_inline_credentials("aws", None, aws_keys()).type.value == "aws_access_keys"
    with pytest.raises(ValidationFailed) as exc:
        parse_inline_credentials("aws", "access_keys", {"access_key_id": ACCESS_KEY})
    assert [f.field for f in exc.value.fields or []] == ["credentials.secret_access_key"]
    with pytest.raises(ValidationFailed) as exc:
        parse_inline_credentials("azure", "client_secret", aws_keys())
    assert [f.field for f in exc.value.fields or []] == ["credentials.type"]
    with pytest.raises(ValidationFailed) as exc:
        parse_inline_credentials("aws", "role_arn", aws_keys())
    assert "no credentials are stored" in exc.value.message
    with pytest.raises(ValidationFailed) as exc:
        parse_inline_credentials("aws", "access_keys", aws_keys(secret_access_key="long!" * 40))
    assert "long!" not in str(exc.value) and SECRET_KEY not in str(exc.value)
    # Stand-in keys (moto's "testing") are accepted: only the characters are checked.
    testing = {"access_key_id": "testing", "secret_access_key": "testing"}
    assert parse_inline_credentials("aws", "access_keys", testing).type.value == "aws_access_keys"
    bad_uri = make_gcp_key(SA, "https://elsewhere.example/token")
    raw = {"service_account_json": json.dumps(bad_uri)}
    assert parse_inline_credentials("gcp", None, raw).type.value == "gcp_service_account"
    with pytest.raises(ValidationFailed) as exc:
        parse_inline_credentials("gcp", None, raw, settings=settings)
    assert [f.field for f in exc.value.fields or []] == ["credentials.service_account_json"]
