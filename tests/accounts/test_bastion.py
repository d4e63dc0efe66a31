"""Bastion rules: the target exists, is AWS, is not itself a bastion, is not the account itself."""

from __future__ import annotations

import asyncio
import uuid

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from api.models import CloudAccount
from tests.accounts.conftest import (
    CreateAccount,
    account_count,
    aws_body,
    azure_body,
    field_names,
    role_arn,
)
from tests.fixtures.locks import wait_for_lock_waiter

CHAINING = "bastion chaining is not supported"


def bastion_body(bastion_id: str, **overrides: object) -> dict[str, object]:
    return aws_body(
        aws_auth_mode="bastion",
        aws_role_arn=role_arn(),
        aws_bastion_id=bastion_id,
        **overrides,
    )


@pytest.mark.parametrize(
    "bastion_mode",
    [
        {"aws_auth_mode": "access_keys"},
        {"aws_auth_mode": "role_arn", "aws_role_arn": role_arn()},
        {"aws_auth_mode": "workload_identity_federation", "aws_role_arn": role_arn()},
    ],
)
async def test_bastion_through_a_non_bastion_aws_account(
    admin_client: httpx.AsyncClient, create_account: CreateAccount, bastion_mode: dict[str, str]
) -> None:
    bastion = await create_account(aws_body(**bastion_mode))
    response = await admin_client.post("/api/accounts", json=bastion_body(bastion["id"]))
    assert response.status_code == 201, response.text
    assert response.json()["aws_bastion_id"] == bastion["id"]
    assert response.json()["aws_auth_mode"] == "bastion"


async def test_bastion_pointing_at_a_bastion_is_refused(
    admin_client: httpx.AsyncClient, create_account: CreateAccount, session: AsyncSession
) -> None:
    root = await create_account(aws_body())
    hop = await create_account(bastion_body(root["id"]))
    response = await admin_client.post("/api/accounts", json=bastion_body(hop["id"]))
    assert response.status_code == 400
    assert response.json()["error"] == CHAINING
    assert response.json()["fields"] == [{"field": "aws_bastion_id", "message": CHAINING}]
    assert await account_count(session) == 2


async def test_unknown_bastion_is_400(
    admin_client: httpx.AsyncClient, session: AsyncSession
) -> None:
    response = await admin_client.post("/api/accounts", json=bastion_body(str(uuid.uuid4())))
    assert response.status_code == 400
    assert field_names(response) == {"aws_bastion_id"}
    assert await account_count(session) == 0


async def test_bastion_must_be_aws(
    admin_client: httpx.AsyncClient, create_account: CreateAccount
) -> None:
    azure = await create_account(azure_body())
    response = await admin_client.post("/api/accounts", json=bastion_body(azure["id"]))
    assert response.status_code == 400
    assert field_names(response) == {"aws_bastion_id"}
    assert "AWS" in response.json()["fields"][0]["message"]


@pytest.mark.parametrize("mode", ["access_keys", "role_arn", "workload_identity_federation"])
async def test_bastion_id_outside_bastion_mode_is_400(
    admin_client: httpx.AsyncClient, create_account: CreateAccount, mode: str
) -> None:
    bastion = await create_account(aws_body())
    response = await admin_client.post(
        "/api/accounts",
        json=aws_body(aws_auth_mode=mode, aws_role_arn=role_arn(), aws_bastion_id=bastion["id"]),
    )
    assert response.status_code == 400
    assert field_names(response) == {"aws_bastion_id"}


async def test_an_account_cannot_be_its_own_bastion(
    admin_client: httpx.AsyncClient, create_account: CreateAccount
) -> None:
    account = await create_account(aws_body())
    response = await admin_client.put(
        f"/api/accounts/{account['id']}",
        json={
            "aws_auth_mode": "bastion",
            "aws_role_arn": role_arn(account["external_id"]),
            "aws_bastion_id": account["id"],
        },
    )
    assert response.status_code == 400
    assert field_names(response) == {"aws_bastion_id"}
    assert (await admin_client.get(f"/api/accounts/{account['id']}")).json()[
        "aws_auth_mode"
    ] == "access_keys"


async def test_update_to_point_at_a_bastion_is_refused(
    admin_client: httpx.AsyncClient, create_account: CreateAccount
) -> None:
    root = await create_account(aws_body())
    hop = await create_account(bastion_body(root["id"]))
    other = await create_account(bastion_body(root["id"]))
    response = await admin_client.put(
        f"/api/accounts/{other['id']}", json={"aws_bastion_id": hop["id"]}
    )
    assert response.status_code == 400
    assert response.json()["error"] == CHAINING


async def test_a_bastion_of_others_cannot_become_a_bastion_account(
    admin_client: httpx.AsyncClient, create_account: CreateAccount
) -> None:
    root = await create_account(aws_body())
    other_root = await create_account(aws_body())
    await create_account(bastion_body(root["id"]))
    response = await admin_client.put(
        f"/api/accounts/{root['id']}",
        json={
            "aws_auth_mode": "bastion",
            "aws_role_arn": role_arn(root["external_id"]),
            "aws_bastion_id": other_root["id"],
        },
    )
    assert response.status_code == 400
    assert response.json()["error"] == CHAINING
    assert field_names(response) == {"aws_auth_mode"}


async def test_a_bastion_can_switch_between_its_own_modes(
    admin_client: httpx.AsyncClient, create_account: CreateAccount
) -> None:
    root = await create_account(aws_body())
    await create_account(bastion_body(root["id"]))
    response = await admin_client.put(
        f"/api/accounts/{root['id']}",
        json={"aws_auth_mode": "role_arn", "aws_role_arn": role_arn(root["external_id"])},
    )
    assert response.status_code == 200, response.text


async def test_changing_the_bastion(
    admin_client: httpx.AsyncClient, create_account: CreateAccount
) -> None:
    first = await create_account(aws_body())
    second = await create_account(aws_body())
    account = await create_account(bastion_body(first["id"]))
    response = await admin_client.put(
        f"/api/accounts/{account['id']}", json={"aws_bastion_id": second["id"]}
    )
    assert response.status_code == 200, response.text
    assert response.json()["aws_bastion_id"] == second["id"]
    missing = await admin_client.put(
        f"/api/accounts/{account['id']}", json={"aws_bastion_id": str(uuid.uuid4())}
    )
    assert missing.status_code == 400
    assert field_names(missing) == {"aws_bastion_id"}
    cleared = await admin_client.put(
        f"/api/accounts/{account['id']}", json={"aws_bastion_id": None}
    )
    assert cleared.status_code == 400
    assert field_names(cleared) == {"aws_bastion_id"}


async def test_leaving_bastion_mode_drops_the_bastion(
    admin_client: httpx.AsyncClient, create_account: CreateAccount
) -> None:
    root = await create_account(aws_body())
    account = await create_account(bastion_body(root["id"]))
    response = await admin_client.put(
        f"/api/accounts/{account['id']}", json={"aws_auth_mode": "role_arn"}
    )
    assert response.status_code == 200, response.text
    assert response.json()["aws_bastion_id"] is None
    # root is no longer anybody's bastion: it can be deleted.
    assert (await admin_client.delete(f"/api/accounts/{root['id']}")).status_code == 204


async def test_leaving_bastion_mode_while_naming_a_bastion_is_400(
    admin_client: httpx.AsyncClient, create_account: CreateAccount
) -> None:
    root = await create_account(aws_body())
    account = await create_account(bastion_body(root["id"]))
    response = await admin_client.put(
        f"/api/accounts/{account['id']}",
        json={"aws_auth_mode": "access_keys", "aws_bastion_id": root["id"]},
    )
    assert response.status_code == 400
    assert field_names(response) == {"aws_bastion_id"}


async def test_a_bastion_turning_into_a_bastion_concurrently_is_seen(
    app: FastAPI, admin_client: httpx.AsyncClient, create_account: CreateAccount
) -> None:
    """Create share-locks the bastion, so an in-flight mode change to bastion is waited for."""
    root = await create_account(aws_body())
    candidate = await create_account(aws_body())
    async with app.state.sessionmaker() as other:
        await other.execute(
            update(CloudAccount)
            .where(CloudAccount.id == uuid.UUID(candidate["id"]))
            .values(
                aws_auth_mode="bastion",
                aws_role_arn=role_arn(),
                aws_bastion_id=uuid.UUID(root["id"]),
            )
        )  # uncommitted: the row is locked for update
        creating = asyncio.create_task(
            admin_client.post("/api/accounts", json=bastion_body(candidate["id"]))
        )
        await wait_for_lock_waiter(app.state.sessionmaker, creating)
        assert not creating.done()
        await other.commit()
    response = await asyncio.wait_for(creating, timeout=10)
    assert response.status_code == 400, response.text
    assert response.json()["error"] == CHAINING


async def test_a_dependant_created_concurrently_is_seen(
    app: FastAPI, admin_client: httpx.AsyncClient, create_account: CreateAccount
) -> None:
    """Update row-locks the account, so an in-flight create naming it as bastion is waited for."""
    root = await create_account(aws_body())
    other_root = await create_account(aws_body())
    async with app.state.sessionmaker() as other:
        locked = await other.execute(
            select(CloudAccount.id)
            .where(CloudAccount.id == uuid.UUID(root["id"]))
            .with_for_update(read=True)
        )
        assert locked.scalar_one()
        other.add(
            CloudAccount(
                **aws_body(
                    aws_auth_mode="bastion",
                    aws_role_arn=role_arn(),
                    aws_bastion_id=uuid.UUID(root["id"]),
                )
            )
        )
        await other.flush()
        updating = asyncio.create_task(
            admin_client.put(
                f"/api/accounts/{root['id']}",
                json={
                    "aws_auth_mode": "bastion",
                    "aws_role_arn": role_arn(root["external_id"]),
                    "aws_bastion_id": other_root["id"],
                },
            )
        )
        await wait_for_lock_waiter(app.state.sessionmaker, updating)
        assert not updating.done()
        await other.commit()
    response = await asyncio.wait_for(updating, timeout=10)
    assert response.status_code == 400, response.text
    assert response.json()["error"] == CHAINING
