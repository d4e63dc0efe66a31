"""The cloud answers 500 after it accepted a purchase: the line is reconciled as bought, never
bought again (SIGKILL after acceptance and two workers are tests/purchases/test_crash_safety.py)."""

from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

import tests.cloudsim.aws_purchases as aws_purchases
from api.models import PurchaseHistory
from tests.cloudsim.aws_purchases import AwsPurchase, AwsPurchaseSim
from tests.purchases.conftest import (
    add_aws_account,
    add_recommendation,
    aws_purchase_server,
    aws_sim,
    execute,
    make_plan,
    settings_overrides,
    wait_for_runner,
)

__all__ = ["aws_purchase_server", "aws_sim", "settings_overrides"]


async def test_a_500_after_acceptance_is_reconciled_not_rebought(
    app: FastAPI,
    admin_client: httpx.AsyncClient,
    session: AsyncSession,
    aws_sim: AwsPurchaseSim,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    accept = aws_purchases._accept

    async def accept_then_fail(sim: AwsPurchaseSim, purchase: AwsPurchase) -> None:
        await accept(sim, purchase)  # recorded: the cloud bought it
        raise RuntimeError("simulated 500 after the purchase was accepted")

    monkeypatch.setattr(aws_purchases, "_accept", accept_then_fail)
    account = await add_aws_account(admin_client, aws_sim, name="five-hundred")
    await add_recommendation(session, account, count=2)
    plan = await make_plan(admin_client)
    targets = await admin_client.put(
        f"/api/plans/{plan['id']}/accounts", json={"account_ids": [str(account.id)]}
    )
    assert targets.status_code == 200, targets.text

    _, executions = await execute(app, admin_client, plan["id"])
    (execution,) = executions
    (line,) = execution["lines"]
    bought = aws_sim.purchases_of(account.external_id)
    assert len(bought) == 1, f"bought {len(bought)} times: {execution}"
    assert line["status"] == "purchased", (execution["status"], execution["error"], line)
    assert line["provider_commitment_id"] == bought[0].commitment_id
    history = (await session.execute(select(PurchaseHistory))).scalars().all()
    assert len(history) == 1

    # A retry of the execution (or a later reconcile pass) does not buy it again.
    retry = await admin_client.post(f"/api/executions/{execution['id']}/retry")
    assert retry.status_code in {200, 202, 400, 409}, retry.text
    await wait_for_runner(app)
    assert len(aws_sim.purchases_of(account.external_id)) == 1
