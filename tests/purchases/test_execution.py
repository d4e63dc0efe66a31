"""Plan execution across accounts (SPEC §6): concurrency, identity, targets, dry run, gating."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from api.models import PurchaseHistory
from tests.cloudsim.aws_purchases import AwsPurchaseSim
from tests.purchases.conftest import (
    add_aws_account,
    add_recommendation,
    execute,
    make_plan,
)


async def test_two_accounts_run_concurrently_each_with_its_account(
    app: FastAPI, admin_client: httpx.AsyncClient, session: AsyncSession, aws_sim: AwsPurchaseSim
) -> None:
    a = await add_aws_account(admin_client, aws_sim, name="a")
    b = await add_aws_account(admin_client, aws_sim, name="b")
    for account in (a, b):
        await add_recommendation(session, account, count=3)
    aws_sim.call_delay_s = 0.2  # each execution takes a while: the windows must overlap
    plan = await make_plan(admin_client)
    url = f"/api/plans/{plan['id']}/accounts"
    assert (
        await admin_client.put(url, json={"account_ids": [str(a.id), str(b.id)]})
    ).status_code == 200

    _, executions = await execute(app, admin_client, plan["id"])
    assert [e["cloud_account_id"] for e in executions] == [str(a.id), str(b.id)]
    assert [e["status"] for e in executions] == ["completed", "completed"]
    assert executions[0]["started_at"] < executions[1]["finished_at"]
    assert executions[1]["started_at"] < executions[0]["finished_at"]
    for execution, account in zip(executions, (a, b), strict=True):
        (line,) = execution["lines"]
        assert line["status"] == "purchased"
        bought = aws_sim.purchases_of(account.external_id)
        assert [p.commitment_id for p in bought] == [line["provider_commitment_id"]]
        assert bought[0].access_key_id == account.access_key_id
    history = (await session.execute(select(PurchaseHistory))).scalars().all()
    assert sorted(h.account_external_id for h in history) == sorted([a.external_id, b.external_id])


async def test_bad_credentials_fail_only_that_account(
    app: FastAPI, admin_client: httpx.AsyncClient, session: AsyncSession, aws_sim: AwsPurchaseSim
) -> None:
    good = await add_aws_account(admin_client, aws_sim, name="good")
    bad = await add_aws_account(admin_client, aws_sim, name="bad", valid_key=False)
    await add_recommendation(session, good)
    plan = await make_plan(admin_client)

    _, (bad_run, good_run) = await execute(app, admin_client, plan["id"])
    assert good_run["status"] == "completed"
    assert bad_run["status"] == "failed"
    assert "InvalidClientTokenId" in bad_run["error"]
    assert bad_run["lines"] == []
    # Every call was signed with one of the two accounts' own keys; the bad one only asked who it is.
    keys = {good.access_key_id: good.external_id, bad.access_key_id: None}
    for call in aws_sim.calls_of():
        assert call.access_key_id in keys
        assert call.account == keys[call.access_key_id]
    assert {c.action for c in aws_sim.calls_of() if c.access_key_id == bad.access_key_id} == {
        "GetCallerIdentity"
    }


async def test_identity_of_another_account_fails(
    app: FastAPI, admin_client: httpx.AsyncClient, session: AsyncSession, aws_sim: AwsPurchaseSim
) -> None:
    account = await add_aws_account(admin_client, aws_sim)
    aws_sim.keys[account.access_key_id] = "999999999999"  # the key acts as someone else
    await add_recommendation(session, account)
    plan = await make_plan(admin_client)
    _, (run,) = await execute(app, admin_client, plan["id"])
    assert run["status"] == "failed"
    assert "999999999999" in run["error"] and account.external_id in run["error"]
    assert aws_sim.purchases_of() == []


async def test_no_plan_accounts_means_every_enabled_account_of_the_provider(
    app: FastAPI, admin_client: httpx.AsyncClient, session: AsyncSession, aws_sim: AwsPurchaseSim
) -> None:
    enabled = [await add_aws_account(admin_client, aws_sim, name=f"e{i}") for i in range(3)]
    disabled = await add_aws_account(admin_client, aws_sim, name="off", enabled=False)
    azure = await admin_client.post(
        "/api/accounts",
        json={
            "name": "az",
            "provider": "azure",
            "external_id": "0b0b0b0b-1111-4222-8333-444444444444",
            "azure_tenant_id": "11111111-2222-4333-8444-555555555555",
        },
    )
    assert azure.status_code == 201
    plan = await make_plan(admin_client)
    _, executions = await execute(app, admin_client, plan["id"])
    assert sorted(e["cloud_account_id"] for e in executions) == sorted(str(a.id) for a in enabled)

    # A disabled account listed explicitly is not executed.
    url = f"/api/plans/{plan['id']}/accounts"
    listed = {"account_ids": [str(disabled.id), str(enabled[0].id)]}
    assert (await admin_client.put(url, json=listed)).status_code == 200
    _, executions = await execute(app, admin_client, plan["id"])
    assert [e["cloud_account_id"] for e in executions] == [str(enabled[0].id)]


async def test_dry_run_buys_nothing_and_records_the_lines(
    app: FastAPI, admin_client: httpx.AsyncClient, session: AsyncSession, aws_sim: AwsPurchaseSim
) -> None:
    account = await add_aws_account(admin_client, aws_sim)
    await add_recommendation(session, account, count=4)
    plan = await make_plan(admin_client, dry_run=True, services={"aws:ec2": {"coverage": 50}})
    _, (run,) = await execute(app, admin_client, plan["id"])
    assert run["status"] == "completed" and run["dry_run"] is True
    (line,) = run["lines"]
    assert line["status"] == "simulated"
    assert line["count"] == "2.0000" or float(line["count"]) == 2
    assert line["offering_id"].startswith("ri-")
    assert aws_sim.purchases_of() == []


@pytest.mark.parametrize("settings_overrides", [{"purchases_enabled": False}])
async def test_without_purchases_enabled_nothing_is_bought_and_it_says_why(
    app: FastAPI, admin_client: httpx.AsyncClient, session: AsyncSession, aws_sim: AwsPurchaseSim
) -> None:
    account = await add_aws_account(admin_client, aws_sim)
    await add_recommendation(session, account)
    plan = await make_plan(admin_client, dry_run=False)
    _, (run,) = await execute(app, admin_client, plan["id"])
    assert run["status"] == "completed"
    assert "CUDLY_PURCHASES_ENABLED" in run["note"]
    (line,) = run["lines"]
    assert line["status"] == "skipped"
    assert "CUDLY_PURCHASES_ENABLED" in line["reason"]
    assert aws_sim.purchases_of() == []
    assert aws_sim.calls_of("PurchaseReservedInstancesOffering") == []


async def test_execute_needs_targets_and_permission(
    app: FastAPI, admin_client: httpx.AsyncClient, make_client: Any, aws_sim: AwsPurchaseSim
) -> None:
    plan = await make_plan(admin_client)
    empty = await admin_client.post(f"/api/plans/{plan['id']}/execute")
    assert empty.status_code == 400
    assert empty.json()["code"] == "no_target_accounts"
    viewer = await make_client(permissions=[{"action": "view", "resource": "plans"}])
    assert (await viewer.post(f"/api/plans/{plan['id']}/execute")).status_code == 403
