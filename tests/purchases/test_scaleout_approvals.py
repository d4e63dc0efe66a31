"""An approval feeds the same work queue: a worker of another replica buys what was approved.

The test's app is an API-only replica whose runner never claims anything; a second app on the
same database, with the scheduler on, is the only worker (it listens, claims and polls). The
group is executed and approved through the API replica; the worker prepares it up to
``awaiting_approval`` and, after the approval moved it back to ``pending`` (and the trigger
announced it), claims it again and buys exactly the approved lines.
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from api.config import Settings
from api.main import create_app
from api.models import CollectionRun, PurchaseExecution
from api.purchases.runner import Runner
from tests.cloudsim.aws_purchases import AwsPurchaseSim
from tests.fixtures.auth import MakeClient
from tests.purchases.conftest import add_aws_account, add_recommendation, make_plan

APPROVE = {"action": "approve", "resource": "plans"}


@pytest.fixture
def settings_overrides() -> dict[str, object]:
    return {"purchases_enabled": True, "purchase_approval": "required"}


async def _until(session: AsyncSession, group_id: str, status: str) -> PurchaseExecution:
    async with asyncio.timeout(60):  # a hang guard, not a timing assertion
        while True:
            result = await session.execute(
                select(PurchaseExecution)
                .where(PurchaseExecution.execution_group_id == uuid.UUID(group_id))
                .execution_options(populate_existing=True)
            )
            (execution,) = result.scalars()
            await session.commit()
            if execution.status == status:
                return execution
            await asyncio.sleep(0.05)


async def test_an_approved_group_is_bought_by_a_worker_of_another_replica(
    app: FastAPI,
    admin_client: httpx.AsyncClient,
    make_client: MakeClient,
    session: AsyncSession,
    aws_sim: AwsPurchaseSim,
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    api_only: Runner = app.state.purchase_runner
    monkeypatch.setattr(api_only, "kick", lambda: None)
    account = await add_aws_account(admin_client, aws_sim)
    await add_recommendation(session, account, resource_type="m5.large", count=2)
    # A collection cycle just ran: the worker's collection scheduler has nothing due.
    session.add(
        CollectionRun(trigger="scheduled", status="completed", started_at=datetime.now(UTC))
    )
    await session.commit()
    plan = await make_plan(admin_client)
    worker_app = create_app(settings.model_copy(update={"scheduler_enabled": True}))
    async with worker_app.router.lifespan_context(worker_app):
        worker: Runner = worker_app.state.purchase_runner
        executed = await admin_client.post(f"/api/plans/{plan['id']}/execute")
        assert executed.status_code == 202, executed.text
        group_id = executed.json()["execution_group_id"]
        waiting = await _until(session, group_id, "awaiting_approval")
        assert waiting.claimed_by == worker.worker
        assert aws_sim.purchases_of() == []
        approver = await make_client(permissions=[APPROVE])
        approved = await approver.post(f"/api/executions/{group_id}/approve")
        assert approved.status_code == 200, approved.text
        done = await _until(session, group_id, "completed")
    assert done.claimed_by == worker.worker
    (bought,) = aws_sim.purchases_of()
    assert bought.count == "2"
