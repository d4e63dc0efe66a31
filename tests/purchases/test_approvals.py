"""Four-eyes approval of real execution groups (SPEC §6 Guardrails → Approval)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from api.models import AuditEvent, PurchaseApproval, PurchaseHistory
from api.purchases import events
from api.purchases.events import ExecutionEvent
from api.purchases.runner import Runner
from tests.cloudsim.aws_purchases import AwsPurchaseSim
from tests.fixtures.auth import MakeClient
from tests.purchases.conftest import (
    SimAccount,
    add_aws_account,
    add_recommendation,
    executions_of,
    make_plan,
    wait_for_runner,
)

APPROVE = {"action": "approve", "resource": "plans"}
VIEW = {"action": "view", "resource": "plans"}
EXECUTE = {"action": "execute", "resource": "plans"}


@pytest.fixture
def settings_overrides() -> dict[str, object]:
    return {"purchases_enabled": True, "purchase_approval": "required"}


@pytest.fixture
def published() -> Any:
    seen: list[ExecutionEvent] = []

    async def collect(event: ExecutionEvent) -> None:
        seen.append(event)

    unsubscribe = events.subscribe(collect)
    yield seen
    unsubscribe()


async def _waiting_group(
    app: FastAPI,
    trigger: httpx.AsyncClient,
    admin_client: httpx.AsyncClient,
    session: AsyncSession,
    aws_sim: AwsPurchaseSim,
    accounts: int = 1,
) -> tuple[str, list[SimAccount]]:
    created = [
        await add_aws_account(admin_client, aws_sim, name=f"acct{i}") for i in range(accounts)
    ]
    for account in created:
        await add_recommendation(session, account, resource_type="m5.large", count=2)
        await add_recommendation(session, account, resource_type="c5.large", count=1)
    plan = await make_plan(admin_client)
    response = await trigger.post(f"/api/plans/{plan['id']}/execute")
    assert response.status_code == 202, response.text
    await wait_for_runner(app)
    return response.json()["execution_group_id"], created


async def test_real_group_waits_then_a_second_person_approves_exactly_the_pinned_lines(
    app: FastAPI,
    admin_client: httpx.AsyncClient,
    make_client: MakeClient,
    session: AsyncSession,
    aws_sim: AwsPurchaseSim,
    published: list[ExecutionEvent],
) -> None:
    group_id, (account,) = await _waiting_group(app, admin_client, admin_client, session, aws_sim)
    (run,) = await executions_of(admin_client, group_id)
    assert run["status"] == "awaiting_approval"
    assert all(line["status"] == "pending" and line["offering_id"] for line in run["lines"])
    assert aws_sim.calls_of("PurchaseReservedInstancesOffering") == []
    assert run["approval"]["status"] == "awaiting"
    assert run["approval"]["totals"] == {
        "USD": {"upfront": "0.00", "monthly": "200.00", "estimated_monthly_savings": "200.00"}
    }
    waiting = await admin_client.get("/api/executions", params={"status": "awaiting_approval"})
    assert [e["id"] for e in waiting.json()["executions"]] == [run["id"]]

    url = f"/api/executions/{group_id}/approve"
    own = await admin_client.post(url)
    assert own.status_code == 403 and own.json()["code"] == "four_eyes"
    no_permission = await make_client(permissions=[VIEW, EXECUTE])
    assert (await no_permission.post(url)).status_code == 403
    approver = await make_client(permissions=[APPROVE, VIEW])
    approved = await approver.post(url)
    assert approved.status_code == 200, approved.text
    assert approved.json()["status"] == "approved"
    await wait_for_runner(app)

    (run,) = await executions_of(admin_client, group_id)
    assert run["status"] == "completed"
    assert sorted(line["status"] for line in run["lines"]) == ["purchased", "purchased"]
    assert len(aws_sim.purchases_of(account.external_id)) == 2
    approval = (await session.execute(select(PurchaseApproval))).scalar_one()
    assert set(approval.pinned) == {line["id"] for line in run["lines"]}
    history = (await session.execute(select(PurchaseHistory))).scalars().all()
    assert {h.approval_id for h in history} == {approval.id}
    audit = (
        await session.execute(
            select(AuditEvent).where(AuditEvent.action == "execution.approval.approved")
        )
    ).scalar_one()
    assert "totals.USD.monthly=200.00" in audit.changed_fields
    assert (await approver.post(url)).status_code == 409

    names = [e.name for e in published]
    assert names[:2] == ["execution.awaiting_approval", "execution.approved"]
    assert names[-1] == "execution.completed"
    secrets = [
        admin_client.headers["Authorization"].split()[1],
        approver.headers["Authorization"].split()[1],
        account.access_key_id,
        *(line["idempotency_key"] for line in run["lines"]),
    ]
    for event in published:
        assert not any(secret in repr(event) for secret in secrets)


async def test_api_key_of_the_trigger_and_a_partial_scope_are_refused(
    app: FastAPI,
    admin_client: httpx.AsyncClient,
    make_client: MakeClient,
    session: AsyncSession,
    aws_sim: AwsPurchaseSim,
) -> None:
    trigger = await make_client(permissions=[VIEW, EXECUTE, APPROVE])
    group_id, (first, _second) = await _waiting_group(
        app, trigger, admin_client, session, aws_sim, accounts=2
    )
    key = await trigger.post("/api/api-keys", json={"name": "ci"})
    assert key.status_code == 201, key.text
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(
        transport=transport, base_url="http://testserver", headers={"X-API-Key": key.json()["key"]}
    ) as script:
        refused = await script.post(f"/api/executions/{group_id}/approve")
    assert refused.status_code == 403 and refused.json()["code"] == "four_eyes"
    partial = await make_client(
        permissions=[{**APPROVE, "constraints": {"accounts": [str(first.id)]}}]
    )
    assert (await partial.post(f"/api/executions/{group_id}/approve")).status_code == 403
    assert aws_sim.calls_of("PurchaseReservedInstancesOffering") == []


async def test_reject_buys_nothing_and_cannot_be_retried_or_approved(
    app: FastAPI,
    admin_client: httpx.AsyncClient,
    make_client: MakeClient,
    session: AsyncSession,
    aws_sim: AwsPurchaseSim,
) -> None:
    group_id, _ = await _waiting_group(app, admin_client, admin_client, session, aws_sim)
    approver = await make_client(permissions=[APPROVE, VIEW, EXECUTE])
    rejected = await approver.post(
        f"/api/executions/{group_id}/reject", json={"reason": "too expensive"}
    )
    assert rejected.status_code == 200, rejected.text
    assert rejected.json()["reason"] == "too expensive"
    (run,) = await executions_of(admin_client, group_id)
    assert run["status"] == "rejected"
    assert (await approver.post(f"/api/executions/{run['id']}/retry")).status_code == 409
    assert (await approver.post(f"/api/executions/{group_id}/approve")).status_code == 409
    await wait_for_runner(app)
    assert aws_sim.purchases_of() == []


async def test_unapproved_group_expires_after_the_ttl(
    app: FastAPI,
    admin_client: httpx.AsyncClient,
    make_client: MakeClient,
    session: AsyncSession,
    aws_sim: AwsPurchaseSim,
) -> None:
    group_id, _ = await _waiting_group(app, admin_client, admin_client, session, aws_sim)
    await session.execute(
        update(PurchaseApproval).values(expires_at=datetime.now(UTC) - timedelta(seconds=1))
    )
    await session.commit()
    runner: Runner = app.state.purchase_runner
    assert await runner.expire_approvals() == 1
    (run,) = await executions_of(admin_client, group_id)
    assert run["status"] == "expired"
    assert run["approval"]["status"] == "expired"
    approver = await make_client(permissions=[APPROVE])
    assert (await approver.post(f"/api/executions/{group_id}/approve")).status_code == 409
    assert aws_sim.purchases_of() == []


async def test_two_concurrent_approvals_start_the_group_once(
    app: FastAPI,
    admin_client: httpx.AsyncClient,
    make_client: MakeClient,
    session: AsyncSession,
    aws_sim: AwsPurchaseSim,
) -> None:
    group_id, _ = await _waiting_group(app, admin_client, admin_client, session, aws_sim)
    first = await make_client(permissions=[APPROVE])
    second = await make_client(permissions=[APPROVE])
    url = f"/api/executions/{group_id}/approve"
    answers = await asyncio.gather(first.post(url), second.post(url))
    assert sorted(a.status_code for a in answers) == [200, 409]
    await wait_for_runner(app)
    assert len(aws_sim.purchases_of()) == 2


@pytest.mark.parametrize(
    ("settings_overrides", "dry_run"),
    [
        ({"purchases_enabled": True, "purchase_approval": "required"}, True),
        ({"purchases_enabled": True, "purchase_approval": "none"}, False),
    ],
)
async def test_dry_runs_and_approval_none_never_wait(
    app: FastAPI,
    admin_client: httpx.AsyncClient,
    session: AsyncSession,
    aws_sim: AwsPurchaseSim,
    dry_run: bool,
) -> None:
    account = await add_aws_account(admin_client, aws_sim)
    await add_recommendation(session, account)
    plan = await make_plan(admin_client, dry_run=dry_run)
    response = await admin_client.post(f"/api/plans/{plan['id']}/execute")
    await wait_for_runner(app)
    (run,) = await executions_of(admin_client, response.json()["execution_group_id"])
    assert run["status"] == "completed"
    assert run["approval"] is None
    assert len(aws_sim.purchases_of()) == (0 if dry_run else 1)
