"""``POST /api/accounts/{account_id}/test`` for Azure and GCP, against the HTTPS simulator.

Every endpoint comes from settings (authority, ARM, token URI, API bases) and the
simulator's CA from ``CUDLY_CA_BUNDLE`` - the same code path as the real clouds.
"""

from __future__ import annotations

import json
import logging
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession

from api.config import Settings
from api.kit.crypto import get_key_ring
from api.models import AccountCredential, CloudAccount
from tests.cloudsim import SimServer, make_gcp_key
from tests.credentials.conftest import WIF_TOKEN_DIRS
from tests.credentials.fixtures import (
    CLIENT,
    PROJECT,
    SA,
    SUB,
    TENANT,
    add_account,
    cloudsim_settings,
)

AZURE_SECRET = "s3cret~azure~value~0123456789"
ARM_SCOPE = "https://management.azure.com/.default"


@pytest.fixture
def settings_overrides(cloudsim_server: SimServer) -> dict[str, object]:
    # Token files live in pytest's temporary directories (CUDLY_WIF_TOKEN_DIRS).
    return cloudsim_settings(cloudsim_server) | {"wif_token_dirs": WIF_TOKEN_DIRS}


async def store(client: httpx.AsyncClient, account: CloudAccount, body: dict[str, Any]) -> None:
    response = await client.post(f"/api/accounts/{account.id}/credentials", json=body)
    assert response.status_code == 204, response.text


async def run_test(client: httpx.AsyncClient, account: CloudAccount) -> dict[str, Any]:
    response = await client.post(f"/api/accounts/{account.id}/test")
    assert response.status_code == 200, response.text
    return dict(response.json())


# --- Azure -----------------------------------------------------------------------------------


async def test_azure_client_secret_ok(
    cloudsim: SimServer, admin_client: httpx.AsyncClient, session: AsyncSession
) -> None:
    cloudsim.state.add_azure_client(TENANT, CLIENT, AZURE_SECRET)
    cloudsim.state.add_subscription(SUB, TENANT, "Prod", granted_to=[CLIENT])
    account = await add_account(session, "azure")
    await store(
        admin_client, account, {"type": "azure_client_secret", "client_secret": AZURE_SECRET}
    )
    body = await run_test(admin_client, account)
    assert body == {"ok": True, "caller_identity": f"{CLIENT} (tenant {TENANT})"}
    (token_call,) = cloudsim.state.calls("POST", f"/{TENANT}/oauth2/v2.0/token")
    # The real ARM audience, whatever host ARM is reached at.
    assert token_call.form["scope"] == ARM_SCOPE
    assert token_call.form["client_id"] == CLIENT
    (arm_call,) = cloudsim.state.calls("GET", f"/subscriptions/{SUB}")
    assert arm_call.query == {"api-version": "2022-12-01"}
    assert arm_call.status == 200


async def test_azure_bad_secret(
    cloudsim: SimServer,
    admin_client: httpx.AsyncClient,
    session: AsyncSession,
    log_capture: pytest.LogCaptureFixture,
) -> None:
    cloudsim.state.add_azure_client(TENANT, CLIENT, AZURE_SECRET)
    cloudsim.state.add_subscription(SUB, TENANT, granted_to=[CLIENT])
    account = await add_account(session, "azure")
    wrong = "wrong~secret~value~000000000000"
    await store(admin_client, account, {"type": "azure_client_secret", "client_secret": wrong})
    body = await run_test(admin_client, account)
    assert body["ok"] is False
    assert "invalid_client" in body["error"] and "AADSTS7000215" in body["error"]
    assert "not its ID" in body["error"]
    assert cloudsim.state.count("GET", "/subscriptions/*") == 0
    assert wrong not in log_capture.text and wrong not in str(body)


async def test_azure_no_access_and_unknown_subscription(
    cloudsim: SimServer, admin_client: httpx.AsyncClient, session: AsyncSession
) -> None:
    cloudsim.state.add_azure_client(TENANT, CLIENT, AZURE_SECRET)
    cloudsim.state.add_subscription(SUB, TENANT)  # not granted
    account = await add_account(session, "azure")
    await store(
        admin_client, account, {"type": "azure_client_secret", "client_secret": AZURE_SECRET}
    )
    body = await run_test(admin_client, account)
    assert body["ok"] is False
    assert "AuthorizationFailed" in body["error"] and "Reader role" in body["error"]
    other = str(uuid.uuid4())
    missing = await add_account(session, "azure", external_id=other, azure_subscription_id=other)
    await store(
        admin_client, missing, {"type": "azure_client_secret", "client_secret": AZURE_SECRET}
    )
    body = await run_test(admin_client, missing)
    assert body["ok"] is False and "SubscriptionNotFound" in body["error"]


async def test_azure_workload_identity(
    cloudsim: SimServer, admin_client: httpx.AsyncClient, session: AsyncSession, tmp_path: Path
) -> None:
    cloudsim.state.add_azure_assertion(TENANT, CLIENT, "federated.jwt.value")
    cloudsim.state.add_subscription(SUB, TENANT, granted_to=[CLIENT])
    account = await add_account(session, "azure", azure_auth_mode="workload_identity_federation")
    await store(
        admin_client, account, {"type": "azure_wif", "client_assertion": "federated.jwt.value"}
    )
    assert (await run_test(admin_client, account))["ok"] is True
    (call,) = cloudsim.state.calls("POST", f"/{TENANT}/oauth2/v2.0/token")
    assert call.form["client_assertion_type"].endswith("client-assertion-type:jwt-bearer")
    token_file = tmp_path / "azure-token"
    token_file.write_text("other.jwt.value")
    await store(
        admin_client, account, {"type": "azure_wif", "federated_token_file": str(token_file)}
    )
    body = await run_test(admin_client, account)
    assert body["ok"] is False and "AADSTS700213" in body["error"]
    assert "federated" in body["error"]
    token_file.write_text("federated.jwt.value")
    assert (await run_test(admin_client, account))["ok"] is True


async def test_azure_without_the_ca_bundle_fails_closed(
    cloudsim: SimServer,
    app: FastAPI,
    settings: Settings,
    admin_client: httpx.AsyncClient,
    session: AsyncSession,
) -> None:
    cloudsim.state.add_azure_client(TENANT, CLIENT, AZURE_SECRET)
    account = await add_account(session, "azure")
    await store(
        admin_client, account, {"type": "azure_client_secret", "client_secret": AZURE_SECRET}
    )
    app.state.settings = settings.model_copy(update={"ca_bundle": None})
    body = await run_test(admin_client, account)
    assert body["ok"] is False
    assert "could not reach Entra ID" in body["error"] and "CUDLY_CA_BUNDLE" in body["error"]
    assert cloudsim.state.count() == 0


# --- GCP -------------------------------------------------------------------------------------


async def gcp_key_account(
    admin_client: httpx.AsyncClient, session: AsyncSession, key: dict[str, Any]
) -> CloudAccount:
    account = await add_account(session, "gcp")
    await store(
        admin_client,
        account,
        {"type": "gcp_service_account", "service_account_json": json.dumps(key)},
    )
    return account


async def test_gcp_service_account_ok(
    cloudsim: SimServer, settings: Settings, admin_client: httpx.AsyncClient, session: AsyncSession
) -> None:
    key = make_gcp_key(SA, settings.clouds.gcp_token_uri, state=cloudsim.state)
    cloudsim.state.add_project(PROJECT, "123456789", granted_to=[SA])
    account = await gcp_key_account(admin_client, session, key)
    assert await run_test(admin_client, account) == {"ok": True, "caller_identity": SA}
    (token_call,) = cloudsim.state.calls("POST", "/token")
    assert token_call.form["grant_type"] == "urn:ietf:params:oauth:grant-type:jwt-bearer"
    assert cloudsim.state.calls("GET", f"/v3/projects/{PROJECT}")[0].status == 200


async def test_gcp_bad_key(
    cloudsim: SimServer,
    settings: Settings,
    admin_client: httpx.AsyncClient,
    session: AsyncSession,
    log_capture: pytest.LogCaptureFixture,
) -> None:
    make_gcp_key(SA, settings.clouds.gcp_token_uri, state=cloudsim.state)  # the registered key
    unregistered = make_gcp_key(SA, settings.clouds.gcp_token_uri)
    cloudsim.state.add_project(PROJECT, "1", granted_to=[SA])
    account = await gcp_key_account(admin_client, session, unregistered)
    log_capture.set_level(logging.DEBUG)
    body = await run_test(admin_client, account)
    assert body["ok"] is False
    assert "invalid_grant" in body["error"] and "create a new key" in body["error"]
    pem_body = unregistered["private_key"].splitlines()[1]
    assert pem_body not in log_capture.text and pem_body not in str(body)


async def test_gcp_permission_denied_and_unknown_project(
    cloudsim: SimServer, settings: Settings, admin_client: httpx.AsyncClient, session: AsyncSession
) -> None:
    key = make_gcp_key(SA, settings.clouds.gcp_token_uri, state=cloudsim.state)
    cloudsim.state.add_project(PROJECT, "1")  # not granted
    account = await gcp_key_account(admin_client, session, key)
    body = await run_test(admin_client, account)
    assert body["ok"] is False
    assert "PERMISSION_DENIED" in body["error"] and SA in body["error"]
    cloudsim.state.projects.clear()
    body = await run_test(admin_client, account)
    assert body["ok"] is False and "NOT_FOUND" in body["error"]


async def test_gcp_stored_key_checked_again_at_use(
    cloudsim: SimServer,
    app: FastAPI,
    settings: Settings,
    admin_client: httpx.AsyncClient,
    session: AsyncSession,
) -> None:
    key = make_gcp_key(SA, settings.clouds.gcp_token_uri, state=cloudsim.state)
    account = await gcp_key_account(admin_client, session, key)
    # The operator later points CUDLY_GCP_TOKEN_URI elsewhere: the stored key's token_uri
    # no longer matches, and the server will not send it to the key's own URI.
    app.state.settings = settings.model_copy(
        update={"gcp_token_uri": "https://oauth2.googleapis.com/token"}
    )
    body = await run_test(admin_client, account)
    assert body["ok"] is False and "token_uri" in body["error"]
    assert cloudsim.state.count() == 0


async def test_gcp_workload_identity_federation(
    cloudsim: SimServer,
    settings: Settings,
    admin_client: httpx.AsyncClient,
    session: AsyncSession,
    tmp_path: Path,
) -> None:
    st = cloudsim.state
    st.add_gcp_subject_token("oidc-token-from-ci", "principal://ci")
    st.allow_gcp_impersonation("principal://ci", SA)
    st.add_project(PROJECT, "1", granted_to=[SA])
    token_file = tmp_path / "tok"
    token_file.write_text("oidc-token-from-ci")
    config = {
        "type": "external_account",
        "audience": "//iam.googleapis.com/projects/1/locations/global/workloadIdentityPools/p/providers/q",
        "subject_token_type": "urn:ietf:params:oauth:token-type:jwt",
        "token_url": settings.clouds.gcp_sts_token_uri,
        "service_account_impersonation_url": f"{settings.clouds.gcp_api_base_iamcredentials}/v1/projects/-/serviceAccounts/{SA}:generateAccessToken",
        "credential_source": {"file": str(token_file)},
    }
    account = await add_account(session, "gcp", gcp_auth_mode="workload_identity_federation")
    await store(
        admin_client, account, {"type": "gcp_wif", "external_account_json": json.dumps(config)}
    )
    assert await run_test(admin_client, account) == {"ok": True, "caller_identity": SA}
    assert st.count("POST", "/v1/token") == 1
    token_file.write_text("some-other-token")
    body = await run_test(admin_client, account)
    assert body["ok"] is False and "invalid_grant" in body["error"]


async def test_undecryptable_blob_is_reported_not_raised(
    cloudsim: SimServer,
    app: FastAPI,
    settings: Settings,
    admin_client: httpx.AsyncClient,
    session: AsyncSession,
) -> None:
    key = make_gcp_key(SA, settings.clouds.gcp_token_uri, state=cloudsim.state)
    victim = await add_account(
        session, "gcp", external_id="victim-project", gcp_project_id="victim-project"
    )
    source = await gcp_key_account(admin_client, session, key)
    # Copy the source's blob onto the victim's row: AAD binds it to the source account.
    ring = await get_key_ring(app)
    source_row = await session.get(AccountCredential, source.id)
    assert source_row is not None
    session.add(
        AccountCredential(
            cloud_account_id=victim.id,
            credential_type=source_row.credential_type,
            key_id=ring.active_key_id,
            blob=source_row.blob,
        )
    )
    await session.commit()
    body = await run_test(admin_client, victim)
    assert body["ok"] is False
    assert "failed the integrity check" in body["error"]
    assert cloudsim.state.count() == 0
