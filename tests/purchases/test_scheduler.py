"""Scheduled plans are started by the scheduler under one lock (SPEC §6)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import httpx
from fastapi import FastAPI
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from api.models import PurchaseExecution, PurchasePlan
from api.purchases.runner import Runner
from tests.cloudsim.aws_purchases import AwsPurchaseSim
from tests.purchases.conftest import add_aws_account, make_plan, wait_for_runner


async def test_due_plan_starts_once_and_moves_its_next_run(
    app: FastAPI, admin_client: httpx.AsyncClient, session: AsyncSession, aws_sim: AwsPurchaseSim
) -> None:
    await add_aws_account(admin_client, aws_sim)
    plan = await make_plan(admin_client, schedule="0 3 * * *", dry_run=True)
    not_due = await make_plan(admin_client, schedule="0 3 * * *", dry_run=True)
    await session.execute(
        update(PurchasePlan)
        .where(PurchasePlan.id == plan["id"])
        .values(next_run_at=datetime.now(UTC) - timedelta(minutes=1))
    )
    await session.commit()
    runner: Runner = app.state.purchase_runner
    other = Runner(runner.maker, runner.settings, runner.key_ring, runner.clients)
    started = await asyncio.gather(runner.start_due_plans(), other.start_due_plans())
    assert sorted(started) == [0, 1]
    await wait_for_runner(app)
    for each in (runner, other):
        while each.tasks:
            await asyncio.gather(*list(each.tasks), return_exceptions=True)
    executions = (
        (await session.execute(select(PurchaseExecution).execution_options(populate_existing=True)))
        .scalars()
        .all()
    )
    assert [str(e.plan_id) for e in executions] == [plan["id"]]
    assert executions[0].triggered_by is None
    assert executions[0].status == "completed"
    refreshed = (await admin_client.get(f"/api/plans/{plan['id']}")).json()
    assert refreshed["next_run_at"] > datetime.now(UTC).isoformat()
    assert (await admin_client.get(f"/api/plans/{not_due['id']}")).json()["next_run_at"] == not_due[
        "next_run_at"
    ]
