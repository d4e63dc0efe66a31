"""Discovery of Azure subscriptions and GCP projects against the simulator (issue 6)."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from api.config import Settings
from api.models import CloudAccount
from tests.cloudsim import SimServer, make_gcp_key
from tests.credentials.fixtures import CLIENT, SA, TENANT, cloudsim_settings

ROOT_SUB = "aaaaaaaa-0000-4000-8000-000000000000"
SECRET = "azure-discovery-secret-0123456789"


@pytest.fixture
def settings_overrides(cloudsim_server: SimServer) -> dict[str, object]:
    return cloudsim_settings(cloudsim_server)


def sub(i: int) -> str:
    return f"aaaaaaaa-0000-4000-8000-{i:012d}"


async def discover(client: httpx.AsyncClient, root_id: str) -> httpx.Response:
    return await client.post("/api/accounts/discover-org", json={"org_root_account_id": root_id})


async def azure_root(client: httpx.AsyncClient, secret: str = SECRET) -> dict[str, Any]:
    response = await client.post(
        "/api/accounts",
        json={
            "name": "tenant root",
            "provider": "azure",
            "external_id": ROOT_SUB,
            "azure_tenant_id": TENANT,
            "azure_client_id": CLIENT,
            "is_discovery_root": True,
            "credentials": {"client_secret": secret},
        },
    )
    assert response.status_code == 201, response.text
    return dict(response.json())


async def test_azure_subscriptions_every_page(
    cloudsim: SimServer, admin_client: httpx.AsyncClient, session: AsyncSession
) -> None:
    state = cloudsim.state
    state.arm_page_size = 2
    state.add_azure_client(TENANT, CLIENT, SECRET)
    state.add_subscription(ROOT_SUB, TENANT, "Root", granted_to=[CLIENT])
    for i in range(1, 6):
        state.add_subscription(sub(i), TENANT, f"Sub {i}", granted_to=[CLIENT])
    state.add_subscription(sub(9), TENANT, "Gone", state="Disabled", granted_to=[CLIENT])
    state.add_subscription(sub(10), TENANT, "Not ours")  # not granted: invisible
    root = await azure_root(admin_client)
    await admin_client.post(
        "/api/accounts",
        json={
            "name": "known",
            "provider": "azure",
            "external_id": sub(1),
            "azure_tenant_id": TENANT,
        },
    )

    body = (await discover(admin_client, root["id"])).json()
    assert (body["discovered"], body["created"], body["skipped"]) == (5, 4, 1)
    assert {i["reason"] for i in body["ignored"]} == {"the discovery root itself", "state Disabled"}
    assert len(state.calls("GET", "/subscriptions")) == 4  # 7 visible, 2 per page

    created = (
        await session.execute(select(CloudAccount).where(CloudAccount.external_id == sub(3)))
    ).scalar_one()
    assert created.enabled is False
    assert created.name == "Sub 3"
    assert (created.azure_subscription_id, created.azure_tenant_id, created.azure_client_id) == (
        sub(3),
        TENANT,
        CLIENT,
    )
    assert created.azure_auth_mode == "client_secret"
    listed = (await admin_client.get(f"/api/accounts/{created.id}")).json()
    assert listed["credentials_configured"] is False  # the secret is never copied

    again = (await discover(admin_client, root["id"])).json()
    assert again["created"] == 0


async def test_azure_bad_secret_is_a_clear_error(
    cloudsim: SimServer, admin_client: httpx.AsyncClient, session: AsyncSession
) -> None:
    cloudsim.state.add_azure_client(TENANT, CLIENT, SECRET)
    cloudsim.state.add_subscription(sub(1), TENANT, "Sub", granted_to=[CLIENT])
    root = await azure_root(admin_client, secret="wrong-secret-value-000000")
    response = await discover(admin_client, root["id"])
    assert response.status_code == 502
    assert "client secret" in response.json()["error"]
    assert "wrong-secret-value-000000" not in response.text
    rows = (await session.execute(select(CloudAccount.external_id))).scalars().all()
    assert rows == [ROOT_SUB]


async def test_gcp_projects_of_the_organisation_every_page(
    cloudsim: SimServer, admin_client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    state = cloudsim.state
    state.gcp_page_size = 2
    key = make_gcp_key(SA, settings.clouds.gcp_token_uri, state=state)
    state.add_project("root-project", "100", parent="organizations/42", granted_to=[SA])
    for i in range(1, 5):
        state.add_project(
            f"team-project-{i}",
            str(100 + i),
            display_name=f"Team {i}",
            parent="organizations/42",
            granted_to=[SA],
        )
    state.add_project("other-org-project", "200", parent="organizations/7", granted_to=[SA])
    state.add_project(
        "deleted-project",
        "300",
        parent="organizations/42",
        state="DELETE_REQUESTED",
        granted_to=[SA],
    )
    response = await admin_client.post(
        "/api/accounts",
        json={
            "name": "gcp root",
            "provider": "gcp",
            "external_id": "root-project",
            "gcp_client_email": SA,
            "is_discovery_root": True,
            "credentials": {"service_account_json": json.dumps(key)},
        },
    )
    assert response.status_code == 201, response.text
    root = response.json()

    body = (await discover(admin_client, root["id"])).json()
    assert (body["discovered"], body["created"], body["skipped"]) == (4, 4, 0)
    assert sorted(a["external_id"] for a in body["accounts"]) == [
        f"team-project-{i}" for i in range(1, 5)
    ]
    created = (
        await session.execute(
            select(CloudAccount).where(CloudAccount.external_id == "team-project-2")
        )
    ).scalar_one()
    assert (created.enabled, created.name, created.gcp_project_id) == (
        False,
        "Team 2",
        "team-project-2",
    )
    assert (created.gcp_client_email, created.gcp_auth_mode) == (SA, "service_account_key")
    searches = state.calls("GET", "/v3/projects:search")
    assert searches[0].query["query"] == "parent:organizations/42 state:ACTIVE"
    assert len(searches) >= 2
