"""Account-scoped permissions (SPEC §2): lists filtered in the query, 403 naming other accounts."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from api.models import CloudAccount
from tests.accounts.conftest import CreateAccount, account_count, aws_body, role_arn
from tests.fixtures.auth import MakeClient


def perm(action: str, accounts: list[str] | None = None) -> dict[str, Any]:
    permission: dict[str, Any] = {"action": action, "resource": "accounts"}
    if accounts is not None:
        permission["constraints"] = {"accounts": accounts}
    return permission


@pytest.fixture
async def two_accounts(create_account: CreateAccount) -> tuple[dict[str, Any], dict[str, Any]]:
    return await create_account(aws_body(name="mine")), await create_account(
        aws_body(name="theirs")
    )


async def test_constrained_view_sees_only_its_accounts(
    make_client: MakeClient, two_accounts: tuple[dict[str, Any], dict[str, Any]]
) -> None:
    mine, theirs = two_accounts
    client = await make_client(permissions=[perm("view", [mine["id"]])])

    listed = await client.get("/api/accounts")
    assert [a["id"] for a in listed.json()["accounts"]] == [mine["id"]]
    searched = await client.get("/api/accounts", params={"search": "theirs"})
    assert searched.json() == {"accounts": []}

    assert (await client.get(f"/api/accounts/{mine['id']}")).status_code == 200
    denied = await client.get(f"/api/accounts/{theirs['id']}")
    assert denied.status_code == 403
    assert denied.json()["code"] == "account_out_of_scope"
    assert "theirs" not in denied.text


async def test_constraints_of_several_permissions_add_up(
    make_client: MakeClient, two_accounts: tuple[dict[str, Any], dict[str, Any]]
) -> None:
    mine, theirs = two_accounts
    client = await make_client(
        permissions=[perm("view", [mine["id"]]), perm("view", [theirs["id"]])]
    )
    listed = await client.get("/api/accounts")
    assert {a["id"] for a in listed.json()["accounts"]} == {mine["id"], theirs["id"]}


@pytest.mark.parametrize("accounts", [[], [str(uuid.uuid4())]])
async def test_empty_or_unknown_constraint_sees_nothing(
    make_client: MakeClient,
    two_accounts: tuple[dict[str, Any], dict[str, Any]],
    accounts: list[str],
) -> None:
    mine, _ = two_accounts
    client = await make_client(permissions=[perm("view", accounts)])
    assert (await client.get("/api/accounts")).json() == {"accounts": []}
    assert (await client.get(f"/api/accounts/{mine['id']}")).status_code == 403


async def test_renaming_changes_nothing(
    admin_client: httpx.AsyncClient,
    make_client: MakeClient,
    create_account: CreateAccount,
    two_accounts: tuple[dict[str, Any], dict[str, Any]],
) -> None:
    mine, theirs = two_accounts
    client = await make_client(permissions=[perm("view", [mine["id"]])])
    # The other account takes "mine"'s name; scoping is by UUID, never by name.
    await admin_client.put(f"/api/accounts/{mine['id']}", json={"name": "renamed"})
    await admin_client.put(f"/api/accounts/{theirs['id']}", json={"name": "mine"})
    await create_account(aws_body(name="mine"))
    listed = (await client.get("/api/accounts")).json()["accounts"]
    assert [(a["id"], a["name"]) for a in listed] == [(mine["id"], "renamed")]


async def test_unknown_account_is_still_404_for_a_scoped_user(make_client: MakeClient) -> None:
    client = await make_client(permissions=[perm("view", [str(uuid.uuid4())])])
    assert (await client.get(f"/api/accounts/{uuid.uuid4()}")).status_code == 404


async def test_update_outside_scope_is_403_and_changes_nothing(
    make_client: MakeClient,
    session: AsyncSession,
    two_accounts: tuple[dict[str, Any], dict[str, Any]],
) -> None:
    mine, theirs = two_accounts
    client = await make_client(permissions=[perm("update", [mine["id"]])])
    assert (
        await client.put(f"/api/accounts/{mine['id']}", json={"description": "ok"})
    ).status_code == 200
    denied = await client.put(f"/api/accounts/{theirs['id']}", json={"description": "no"})
    assert denied.status_code == 403
    assert denied.json()["code"] == "account_out_of_scope"
    stored = (
        await session.execute(
            select(CloudAccount.description).where(CloudAccount.id == uuid.UUID(theirs["id"]))
        )
    ).scalar_one()
    assert stored is None


async def test_delete_outside_scope_is_403(
    make_client: MakeClient,
    session: AsyncSession,
    two_accounts: tuple[dict[str, Any], dict[str, Any]],
) -> None:
    mine, theirs = two_accounts
    client = await make_client(permissions=[perm("delete", [mine["id"]])])
    assert (await client.delete(f"/api/accounts/{theirs['id']}")).status_code == 403
    assert await account_count(session) == 2
    assert (await client.delete(f"/api/accounts/{mine['id']}")).status_code == 204
    assert await account_count(session) == 1


async def test_bastion_outside_the_create_scope_is_403(
    make_client: MakeClient,
    session: AsyncSession,
    two_accounts: tuple[dict[str, Any], dict[str, Any]],
) -> None:
    mine, theirs = two_accounts
    client = await make_client(permissions=[perm("create", [mine["id"]])])
    body = {"aws_auth_mode": "bastion", "aws_role_arn": role_arn()}
    denied = await client.post("/api/accounts", json=aws_body(aws_bastion_id=theirs["id"], **body))
    assert denied.status_code == 403
    assert denied.json()["code"] == "account_out_of_scope"
    # Not even whether a named account exists leaks.
    unknown = await client.post(
        "/api/accounts", json=aws_body(aws_bastion_id=str(uuid.uuid4()), **body)
    )
    assert unknown.status_code == 403
    assert await account_count(session) == 2

    allowed = await client.post("/api/accounts", json=aws_body(aws_bastion_id=mine["id"], **body))
    assert allowed.status_code == 201, allowed.text
    assert (await client.post("/api/accounts", json=aws_body())).status_code == 201


async def test_empty_create_constraint_grants_nothing(
    make_client: MakeClient, session: AsyncSession
) -> None:
    client = await make_client(permissions=[perm("create", [])])
    response = await client.post("/api/accounts", json=aws_body())
    assert response.status_code == 403
    assert await account_count(session) == 0


async def test_bastion_outside_the_update_scope_is_403(
    make_client: MakeClient,
    create_account: CreateAccount,
    two_accounts: tuple[dict[str, Any], dict[str, Any]],
) -> None:
    mine, theirs = two_accounts
    client = await make_client(permissions=[perm("update", [mine["id"]])])
    response = await client.put(
        f"/api/accounts/{mine['id']}",
        json={
            "aws_auth_mode": "bastion",
            "aws_role_arn": role_arn(mine["external_id"]),
            "aws_bastion_id": theirs["id"],
        },
    )
    assert response.status_code == 403
    assert response.json()["code"] == "account_out_of_scope"


async def test_view_permission_does_not_allow_changes(
    make_client: MakeClient, two_accounts: tuple[dict[str, Any], dict[str, Any]]
) -> None:
    mine, _ = two_accounts
    client = await make_client(permissions=[perm("view")])
    assert (await client.get(f"/api/accounts/{mine['id']}")).status_code == 200
    assert (await client.put(f"/api/accounts/{mine['id']}", json={"name": "x"})).json()[
        "code"
    ] == "permission_denied"
    assert (await client.delete(f"/api/accounts/{mine['id']}")).status_code == 403
    assert (await client.post("/api/accounts", json=aws_body())).status_code == 403
