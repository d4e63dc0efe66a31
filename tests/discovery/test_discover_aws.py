"""``POST /api/accounts/discover-org`` against moto's Organizations (SPEC §3; issue 6)."""

from __future__ import annotations

import asyncio
import logging
import uuid
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from api.models import AuditEvent, CloudAccount
from tests.credentials.fixtures import AwsEnv, add_account
from tests.fixtures.auth import MakeClient

ROOT_ID = "123456789012"  # moto's default account: the organisation's management account
ROOT_KEY = ("AKIAROOTDISCOVERY001", "root-discovery-secret-000000000000000000")


@pytest.fixture
def org(aws: AwsEnv, moto_url: str, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv("AWS_ENDPOINT_URL_ORGANIZATIONS", moto_url)
    client = aws.boto("organizations")
    client.create_organization(FeatureSet="ALL")
    return client


def add_members(org: Any, count: int) -> list[str]:
    ids = []
    for i in range(count):
        status = org.create_account(
            Email=f"m{i}-{uuid.uuid4().hex[:6]}@example.com", AccountName=f"member {i}"
        )
        ids.append(status["CreateAccountStatus"]["AccountId"])
    return ids


async def register_root(client: httpx.AsyncClient, **extra: Any) -> dict[str, Any]:
    body = {
        "name": "management",
        "provider": "aws",
        "external_id": ROOT_ID,
        "aws_auth_mode": "access_keys",
        "aws_is_org_root": True,
        "aws_external_id": "cudly-org-ext",
        "credentials": {"access_key_id": ROOT_KEY[0], "secret_access_key": ROOT_KEY[1]},
    } | extra
    response = await client.post("/api/accounts", json=body)
    assert response.status_code == 201, response.text
    return dict(response.json())


async def discover(client: httpx.AsyncClient, root_id: str) -> httpx.Response:
    return await client.post("/api/accounts/discover-org", json={"org_root_account_id": root_id})


async def test_discovers_members_and_is_idempotent(
    org: Any, admin_client: httpx.AsyncClient, session: AsyncSession
) -> None:
    members = add_members(org, 3)
    root = await register_root(admin_client)
    existing = await admin_client.post(
        "/api/accounts", json={"name": "already here", "provider": "aws", "external_id": members[0]}
    )
    assert existing.status_code == 201

    response = await discover(admin_client, root["id"])
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["discovered"], body["created"], body["skipped"]) == (3, 2, 1)
    assert {a["external_id"]: a["created"] for a in body["accounts"]} == {
        members[0]: False,
        members[1]: True,
        members[2]: True,
    }
    assert [i["reason"] for i in body["ignored"]] == ["the discovery root itself"]

    for member in members[1:]:
        account = (
            await session.execute(select(CloudAccount).where(CloudAccount.external_id == member))
        ).scalar_one()
        assert account.enabled is False
        assert account.aws_auth_mode == "bastion"
        assert str(account.aws_bastion_id) == root["id"]
        assert account.aws_role_arn == f"arn:aws:iam::{member}:role/CUDly"
        assert account.aws_external_id == "cudly-org-ext"
        assert account.name.startswith("member ")
    listed = (await admin_client.get("/api/accounts", params={"search": members[1]})).json()[
        "accounts"
    ]
    assert listed[0]["enabled"] is False

    again = (await discover(admin_client, root["id"])).json()
    assert (again["discovered"], again["created"], again["skipped"]) == (3, 0, 3)
    count = await session.scalar(select(func.count()).select_from(CloudAccount))
    assert count == 4  # root + 3 members, nothing twice

    actions = (await session.execute(select(AuditEvent.action))).scalars().all()
    assert actions.count("account.discover") == 2


async def test_more_members_than_one_page(org: Any, admin_client: httpx.AsyncClient) -> None:
    members = add_members(org, 23)  # ListAccounts returns at most 20 per page
    root = await register_root(admin_client)
    body = (await discover(admin_client, root["id"])).json()
    assert body["created"] == 23
    assert {a["external_id"] for a in body["accounts"]} == set(members)


async def test_concurrent_discoveries_never_duplicate(
    org: Any, admin_client: httpx.AsyncClient, session: AsyncSession
) -> None:
    add_members(org, 5)
    root = await register_root(admin_client)
    first, second = await asyncio.gather(
        discover(admin_client, root["id"]), discover(admin_client, root["id"])
    )
    assert first.status_code == second.status_code == 200
    assert first.json()["created"] + second.json()["created"] == 5
    assert await session.scalar(select(func.count()).select_from(CloudAccount)) == 6


async def test_a_root_in_bastion_mode_lends_its_own_bastion(
    org: Any, admin_client: httpx.AsyncClient, session: AsyncSession
) -> None:
    (member,) = add_members(org, 1)
    hub = await register_root(
        admin_client, name="hub", external_id="210987654321", aws_is_org_root=False
    )
    root = await register_root(
        admin_client,
        aws_auth_mode="bastion",
        aws_bastion_id=hub["id"],
        aws_role_arn=f"arn:aws:iam::{ROOT_ID}:role/OrgReader",
        credentials=None,
    )
    body = (await discover(admin_client, root["id"])).json()
    assert body["created"] == 1
    account = (
        await session.execute(select(CloudAccount).where(CloudAccount.external_id == member))
    ).scalar_one()
    assert str(account.aws_bastion_id) == hub["id"]  # never a chain through the root


async def test_only_admins_may_discover(
    org: Any, make_client: MakeClient, admin_client: httpx.AsyncClient
) -> None:
    root = await register_root(admin_client)
    user = await make_client(permissions=[{"action": "discover_org", "resource": "accounts"}])
    response = await discover(user, root["id"])
    assert response.status_code == 403
    assert response.json()["code"] == "admin_required"


async def test_unknown_root_is_404_and_a_non_root_is_400(
    admin_client: httpx.AsyncClient, session: AsyncSession
) -> None:
    assert (await discover(admin_client, str(uuid.uuid4()))).status_code == 404
    plain = await add_account(session)
    response = await discover(admin_client, str(plain.id))
    assert response.status_code == 400
    assert response.json()["code"] == "not_discovery_root"
    assert "aws_is_org_root" in response.json()["error"]
    assert (
        await admin_client.post("/api/accounts/discover-org", json={"org_root_account_id": "nope"})
    ).status_code == 400


async def test_root_without_credentials_is_400(
    admin_client: httpx.AsyncClient, session: AsyncSession
) -> None:
    root = await add_account(session, aws_is_org_root=True)
    response = await discover(admin_client, str(root.id))
    assert response.status_code == 400
    assert "no credentials" in response.json()["error"]


async def test_bad_root_credentials_name_the_cause_and_create_nothing(
    org: Any,
    aws: AwsEnv,
    admin_client: httpx.AsyncClient,
    session: AsyncSession,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    add_members(org, 2)
    root = await register_root(admin_client)
    aws.enable_iam_auth()  # moto now rejects the unknown root key as AWS would
    response = await discover(admin_client, root["id"])
    assert response.status_code == 502
    body = response.json()
    assert body["code"] == "discovery_failed"
    # moto answers this JSON API with an XML 403, real AWS with UnrecognizedClientException:
    # both name the root's credentials as the cause.
    assert (
        "credentials were refused" in body["error"]
        or "AWS rejected the access key" in body["error"]
    )
    assert "<?xml" not in body["error"]
    assert ROOT_KEY[1] not in response.text
    assert ROOT_KEY[1] not in caplog.text
    assert await session.scalar(select(func.count()).select_from(CloudAccount)) == 1


async def test_suspended_members_are_reported_not_created(
    org: Any, admin_client: httpx.AsyncClient
) -> None:
    active, closed = add_members(org, 2)
    org.close_account(AccountId=closed)
    root = await register_root(admin_client)
    body = (await discover(admin_client, root["id"])).json()
    assert (body["discovered"], body["created"], body["skipped"]) == (1, 1, 0)
    assert body["accounts"][0]["external_id"] == active
    assert {"external_id": closed, "reason": "state SUSPENDED"} in [
        {"external_id": i["external_id"], "reason": i["reason"]} for i in body["ignored"]
    ]
