"""DELETE /api/accounts/{id}: 409 while executions run or others use it as bastion; else cascade/SET NULL."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from api.models import (
    AccountCredential,
    AccountServiceOverride,
    CloudAccount,
    CollectionRun,
    CollectionRunAccount,
    PlanAccount,
    PurchaseExecution,
    PurchaseHistory,
    PurchasePlan,
    Recommendation,
    SavingsSnapshot,
)
from tests.accounts.conftest import CreateAccount, audit_events, aws_body, role_arn
from tests.fixtures.locks import wait_for_lock_waiter


def _execution(account: dict[str, str], status: str) -> PurchaseExecution:
    return PurchaseExecution(
        execution_group_id=uuid.uuid4(),
        cloud_account_id=uuid.UUID(account["id"]),
        account_external_id=account["external_id"],
        account_name=account["name"],
        provider="aws",
        status=status,
    )


async def _count(session: AsyncSession, model: type, **where: object) -> int:
    query = select(func.count()).select_from(model)
    for column, value in where.items():
        query = query.where(getattr(model, column) == value)
    return int((await session.execute(query)).scalar_one())


async def test_delete_is_204_then_gone(
    admin_client: httpx.AsyncClient, create_account: CreateAccount, session: AsyncSession
) -> None:
    account = await create_account(aws_body())
    response = await admin_client.delete(f"/api/accounts/{account['id']}")
    assert response.status_code == 204
    assert response.content == b""
    assert (await admin_client.get(f"/api/accounts/{account['id']}")).status_code == 404
    assert (await admin_client.delete(f"/api/accounts/{account['id']}")).status_code == 404
    [event] = await audit_events(session, "account.delete")
    assert event.target_id == account["id"]
    assert event.target_type == "cloud_account"


async def test_unknown_account_is_404(admin_client: httpx.AsyncClient) -> None:
    response = await admin_client.delete(f"/api/accounts/{uuid.uuid4()}")
    assert response.status_code == 404
    assert response.json()["code"] == "account_not_found"


@pytest.mark.parametrize("status", ["pending", "running"])
async def test_active_executions_block_delete(
    admin_client: httpx.AsyncClient,
    create_account: CreateAccount,
    session: AsyncSession,
    status: str,
) -> None:
    account = await create_account(aws_body())
    executions = [_execution(account, status), _execution(account, status)]
    finished = _execution(account, "completed")
    session.add_all([*executions, finished])
    await session.commit()

    response = await admin_client.delete(f"/api/accounts/{account['id']}")
    assert response.status_code == 409, response.text
    body = response.json()
    assert body["code"] == "account_has_active_executions"
    assert body["error"]
    assert sorted(body["executions"]) == sorted(str(e.id) for e in executions)
    assert await _count(session, CloudAccount, id=uuid.UUID(account["id"])) == 1
    assert await audit_events(session, "account.delete") == []


@pytest.mark.parametrize("status", ["completed", "failed", "partial"])
async def test_finished_executions_keep_their_rows(
    admin_client: httpx.AsyncClient,
    create_account: CreateAccount,
    session: AsyncSession,
    status: str,
) -> None:
    account = await create_account(aws_body())
    execution = _execution(account, status)
    session.add(execution)
    await session.commit()
    assert (await admin_client.delete(f"/api/accounts/{account['id']}")).status_code == 204
    row = (
        await session.execute(
            select(PurchaseExecution)
            .where(PurchaseExecution.id == execution.id)
            .execution_options(populate_existing=True)
        )
    ).scalar_one()
    assert row.cloud_account_id is None
    assert (row.account_name, row.account_external_id) == (account["name"], account["external_id"])


async def test_a_bastion_with_dependants_cannot_be_deleted(
    admin_client: httpx.AsyncClient, create_account: CreateAccount, session: AsyncSession
) -> None:
    root = await create_account(aws_body())
    dependants = [
        await create_account(
            aws_body(
                name=f"dependant {i}",
                aws_auth_mode="bastion",
                aws_role_arn=role_arn(),
                aws_bastion_id=root["id"],
            )
        )
        for i in range(2)
    ]
    response = await admin_client.delete(f"/api/accounts/{root['id']}")
    assert response.status_code == 409, response.text
    body = response.json()
    assert body["code"] == "account_is_bastion"
    assert body["dependants"] == [{"id": d["id"], "name": d["name"]} for d in dependants]
    assert await _count(session, CloudAccount) == 3

    for dependant in dependants:
        assert (await admin_client.delete(f"/api/accounts/{dependant['id']}")).status_code == 204
    assert (await admin_client.delete(f"/api/accounts/{root['id']}")).status_code == 204


async def test_delete_cascades_and_keeps_history(
    admin_client: httpx.AsyncClient, create_account: CreateAccount, session: AsyncSession
) -> None:
    account = await create_account(aws_body(name="doomed"))
    other = await create_account(aws_body(name="survivor"))
    account_id, other_id = uuid.UUID(account["id"]), uuid.UUID(other["id"])
    now = datetime.now(UTC)

    plan = PurchasePlan(name="plan", provider="aws")
    run = CollectionRun(trigger="manual", status="completed")
    session.add_all([plan, run])
    await session.flush()
    for target in (account_id, other_id):
        session.add_all(
            [
                AccountCredential(
                    cloud_account_id=target,
                    credential_type="aws_access_keys",
                    key_id="0123456789abcdef",
                    blob="v1:0123456789abcdef:x.y",
                ),
                AccountServiceOverride(
                    cloud_account_id=target, provider="aws", service="ec2", term=1
                ),
                PlanAccount(plan_id=plan.id, cloud_account_id=target),
                Recommendation(
                    cloud_account_id=target,
                    provider="aws",
                    service="ec2",
                    term=1,
                    payment="no-upfront",
                    count=Decimal(1),
                    collected_at=now,
                ),
            ]
        )
    history = PurchaseHistory(
        cloud_account_id=account_id,
        account_external_id=account["external_id"],
        account_name="doomed",
        provider="aws",
        service="ec2",
        count=Decimal(1),
        status="purchased",
        purchased_at=now,
    )
    snapshot = SavingsSnapshot(
        cloud_account_id=account_id,
        account_external_id=account["external_id"],
        account_name="doomed",
        provider="aws",
        service="ec2",
        captured_at=now,
    )
    run_account = CollectionRunAccount(
        run_id=run.id,
        cloud_account_id=account_id,
        account_name="doomed",
        account_external_id=account["external_id"],
        provider="aws",
        status="ok",
        finished_at=now,
    )
    execution = _execution(account, "completed")
    session.add_all([history, snapshot, run_account, execution])
    await session.commit()

    assert (await admin_client.delete(f"/api/accounts/{account['id']}")).status_code == 204

    cascaded: tuple[type[Any], ...] = (
        AccountCredential,
        AccountServiceOverride,
        PlanAccount,
        Recommendation,
    )
    for model in cascaded:
        assert await _count(session, model, cloud_account_id=account_id) == 0, model
        assert await _count(session, model, cloud_account_id=other_id) == 1, model
    kept_rows: tuple[tuple[type[Any], uuid.UUID], ...] = (
        (PurchaseHistory, history.id),
        (SavingsSnapshot, snapshot.id),
        (CollectionRunAccount, run_account.id),
        (PurchaseExecution, execution.id),
    )
    for model, row_id in kept_rows:
        kept = (
            await session.execute(
                select(model).where(model.id == row_id).execution_options(populate_existing=True)
            )
        ).scalar_one()
        assert kept.cloud_account_id is None, model
        assert kept.account_name == "doomed", model
        assert kept.account_external_id == account["external_id"], model
    assert await _count(session, PurchasePlan, id=plan.id) == 1
    assert (await admin_client.get(f"/api/accounts/{other['id']}")).status_code == 200


async def test_an_execution_inserted_concurrently_is_seen(
    app: FastAPI, admin_client: httpx.AsyncClient, create_account: CreateAccount
) -> None:
    """The row lock makes delete wait for an in-flight execution insert, then refuse."""
    account = await create_account(aws_body())
    async with app.state.sessionmaker() as other:
        other.add(_execution(account, "pending"))
        await other.flush()  # uncommitted: holds a key-share lock on the account row
        deleting = asyncio.create_task(admin_client.delete(f"/api/accounts/{account['id']}"))
        await wait_for_lock_waiter(app.state.sessionmaker, deleting)
        assert not deleting.done()
        await other.commit()
    response = await asyncio.wait_for(deleting, timeout=10)
    assert response.status_code == 409, response.text
    assert response.json()["code"] == "account_has_active_executions"
