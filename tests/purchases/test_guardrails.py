"""Partial + retry, the grace window, caps, services with their own tokens, account deletion,
and the events stream (SPEC §6)."""

from __future__ import annotations

import json
import uuid
from decimal import Decimal

import httpx
from fastapi import FastAPI
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from api.credentials.service import resolve_account_auth
from api.models import CloudAccount, PurchaseExecution, PurchaseHistory, PurchaseLine
from api.providers.aws.purchase import AwsPurchaser
from api.purchases.runner import Runner
from tests.cloudsim.aws_purchases import AwsPurchaseSim
from tests.purchases.conftest import (
    add_aws_account,
    add_recommendation,
    execute,
    executions_of,
    make_plan,
    wait_for_runner,
)


async def test_partial_then_retry_buys_only_the_rest_under_the_same_keys(
    app: FastAPI, admin_client: httpx.AsyncClient, session: AsyncSession, aws_sim: AwsPurchaseSim
) -> None:
    account = await add_aws_account(admin_client, aws_sim)
    ok = await add_recommendation(session, account, resource_type="m5.large", count=2)
    broken = await add_recommendation(session, account, resource_type="c5.large", count=1)
    aws_sim.fail(account.external_id, "c5.large")
    plan = await make_plan(admin_client)

    group_id, (run,) = await execute(app, admin_client, plan["id"])
    assert run["status"] == "partial"
    lines = {line["resource_type"]: line for line in run["lines"]}
    assert lines["m5.large"]["status"] == "purchased"
    assert lines["c5.large"]["status"] == "failed"
    assert "InsufficientCapacity" in lines["c5.large"]["error"]
    keys = {line["recommendation_id"]: line["idempotency_key"] for line in run["lines"]}
    assert set(keys) == {str(ok.id), str(broken.id)}

    aws_sim.failing.clear()
    retried = await admin_client.post(f"/api/executions/{run['id']}/retry")
    assert retried.status_code == 202, retried.text
    await wait_for_runner(app)
    (run,) = await executions_of(admin_client, group_id)
    assert run["status"] == "completed"
    assert {line["recommendation_id"]: line["idempotency_key"] for line in run["lines"]} == keys
    assert all(line["status"] == "purchased" for line in run["lines"])
    bought = aws_sim.purchases_of(account.external_id)
    assert sorted(p.resource_type for p in bought) == ["c5.large", "m5.large"]
    again = await admin_client.post(f"/api/executions/{run['id']}/retry")
    assert again.status_code == 409
    history = (await session.execute(select(PurchaseHistory))).scalars().all()
    assert len(history) == 2


async def test_grace_window_buys_once_when_run_twice(
    app: FastAPI, admin_client: httpx.AsyncClient, session: AsyncSession, aws_sim: AwsPurchaseSim
) -> None:
    account = await add_aws_account(admin_client, aws_sim)
    await add_recommendation(session, account, count=3)  # the cloud keeps recommending it
    plan = await make_plan(admin_client)
    _, (first,) = await execute(app, admin_client, plan["id"])
    _, (second,) = await execute(app, admin_client, plan["id"])
    assert first["lines"][0]["status"] == "purchased"
    assert second["status"] == "completed"
    (line,) = second["lines"]
    assert line["status"] == "skipped"
    assert "grace window" in line["reason"]
    assert len(aws_sim.purchases_of()) == 1


async def test_caps_take_lines_by_savings_until_the_next_would_cross(
    app: FastAPI, admin_client: httpx.AsyncClient, session: AsyncSession, aws_sim: AwsPurchaseSim
) -> None:
    account = await add_aws_account(admin_client, aws_sim)
    for savings in (300, 200, 100, 50):
        await add_recommendation(
            session,
            account,
            count=1,
            upfront_cost=Decimal(100),
            estimated_monthly_savings=Decimal(savings),
        )
    plan = await make_plan(admin_client, max_upfront="250")
    _, (run,) = await execute(app, admin_client, plan["id"])
    by_savings = sorted(
        run["lines"], key=lambda line: Decimal(line["estimated_monthly_savings"]), reverse=True
    )
    assert [line["status"] for line in by_savings] == [
        "purchased",
        "purchased",
        "skipped",
        "skipped",
    ]
    assert all("250" in line["reason"] for line in by_savings[2:])
    assert len(aws_sim.purchases_of()) == 2


async def test_server_cap_bounds_every_group(
    app: FastAPI, admin_client: httpx.AsyncClient, session: AsyncSession, aws_sim: AwsPurchaseSim
) -> None:
    app.state.settings.purchases.max_upfront = Decimal(50)
    account = await add_aws_account(admin_client, aws_sim)
    await add_recommendation(session, account, count=1, upfront_cost=Decimal(100))
    plan = await make_plan(admin_client)
    _, (run,) = await execute(app, admin_client, plan["id"])
    assert run["lines"][0]["status"] == "skipped"
    assert aws_sim.purchases_of() == []


async def test_rds_and_savings_plans_use_their_own_tokens(
    app: FastAPI, admin_client: httpx.AsyncClient, session: AsyncSession, aws_sim: AwsPurchaseSim
) -> None:
    account = await add_aws_account(admin_client, aws_sim)
    await add_recommendation(
        session, account, service="rds", resource_type="db.r5.large", engine="postgresql", count=2
    )
    await add_recommendation(
        session,
        account,
        service="savings-plans",
        resource_type="m5",
        count=Decimal("2.5"),
        details={"offering_id": "sp-offering-1"},
    )
    plan = await make_plan(
        admin_client,
        services={"aws:rds": {"coverage": 100}, "aws:savings-plans": {"coverage": 100}},
    )
    _, (run,) = await execute(app, admin_client, plan["id"])
    assert run["status"] == "completed", run
    lines = {line["service"]: line for line in run["lines"]}
    bought = {p.service: p for p in aws_sim.purchases_of()}
    assert bought["savings-plans"].token == lines["savings-plans"]["idempotency_key"]
    assert bought["savings-plans"].count == "2.5"
    assert lines["rds"]["provider_commitment_id"] == f"cudly-{lines['rds']['idempotency_key']}"
    assert bought["rds"].token == lines["rds"]["provider_commitment_id"]


async def test_delete_account_with_active_execution_is_409_then_history_keeps_it(
    app: FastAPI, admin_client: httpx.AsyncClient, session: AsyncSession, aws_sim: AwsPurchaseSim
) -> None:
    account = await add_aws_account(admin_client, aws_sim, name="doomed")
    await add_recommendation(session, account)
    plan = await make_plan(admin_client)
    _, (done,) = await execute(app, admin_client, plan["id"])
    assert done["status"] == "completed"
    await session.execute(
        update(PurchaseExecution)
        .where(PurchaseExecution.id == done["id"])
        .values(status="running", finished_at=None)
    )
    await session.commit()
    conflict = await admin_client.delete(f"/api/accounts/{account.id}")
    assert conflict.status_code == 409
    assert done["id"] in json.dumps(conflict.json())
    await session.execute(
        update(PurchaseExecution)
        .where(PurchaseExecution.id == done["id"])
        .values(status="completed")
    )
    await session.commit()
    assert (await admin_client.delete(f"/api/accounts/{account.id}")).status_code == 204
    (row,) = (
        (await session.execute(select(PurchaseHistory).execution_options(populate_existing=True)))
        .scalars()
        .all()
    )
    assert row.cloud_account_id is None
    assert (row.account_external_id, row.account_name) == (account.external_id, "doomed")


async def test_events_replay_a_finished_group_and_close(
    app: FastAPI, admin_client: httpx.AsyncClient, session: AsyncSession, aws_sim: AwsPurchaseSim
) -> None:
    a = await add_aws_account(admin_client, aws_sim, name="a")
    b = await add_aws_account(admin_client, aws_sim, name="b", valid_key=False)
    await add_recommendation(session, a)
    plan = await make_plan(admin_client)
    group_id, _ = await execute(app, admin_client, plan["id"])
    response = await admin_client.get(f"/api/executions/{group_id}/events")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/event-stream")
    events = [
        (block.split("\n")[0].removeprefix("event: "), json.loads(block.split("\n")[1][6:]))
        for block in response.text.strip().split("\n\n")
    ]
    assert [name for name, _ in events] == ["execution", "execution", "group"]
    assert {data["cloud_account_id"] for _, data in events[:2]} == {str(a.id), str(b.id)}
    assert events[2][1]["status"] == "partial"
    assert events[2][1]["executions"] == 2
    assert (
        await admin_client.get("/api/executions/00000000-0000-4000-8000-000000000000/events")
    ).status_code == 404
    lines = (await session.execute(select(PurchaseLine))).scalars().all()
    assert len(lines) == 1


async def test_elasticache_and_memorydb_reservation_ids_make_repeats_harmless(
    app: FastAPI, admin_client: httpx.AsyncClient, session: AsyncSession, aws_sim: AwsPurchaseSim
) -> None:
    account = await add_aws_account(admin_client, aws_sim)
    await add_recommendation(
        session, account, service="elasticache", resource_type="cache.r6g.large", engine="redis"
    )
    await add_recommendation(session, account, service="memorydb", resource_type="db.r6g.large")
    plan = await make_plan(
        admin_client,
        services={"aws:elasticache": {"coverage": 100}, "aws:memorydb": {"coverage": 100}},
    )
    _, (run,) = await execute(app, admin_client, plan["id"])
    assert run["status"] == "completed", (run["error"], [line["error"] for line in run["lines"]])
    lines = {line["service"]: line for line in run["lines"]}
    assert {p.service for p in aws_sim.purchases_of()} == {"elasticache", "memorydb"}
    runner: Runner = app.state.purchase_runner
    async with app.state.sessionmaker() as db:
        row = await db.get(CloudAccount, account.id)
        assert row is not None
        auth = await resolve_account_auth(db, runner.key_ring, row)
    purchaser = AwsPurchaser()
    for service, line in lines.items():
        assert line["provider_commitment_id"] == f"cudly-{line['idempotency_key']}"
        (stored,) = (
            await session.execute(
                select(PurchaseLine)
                .where(PurchaseLine.id == line["id"])
                .execution_options(populate_existing=True)
            )
        ).scalars()
        request = runner._request(stored)
        # A repeat after a lost answer: the cloud says the reservation exists; nothing new.
        repeat = await purchaser.purchase(auth, request, runner.settings, runner.clients)
        assert repeat.provider_commitment_id == line["provider_commitment_id"], service
        found = await purchaser.reconcile(auth, request, runner.settings, runner.clients)
        assert found is not None and found.provider_commitment_id == line["provider_commitment_id"]
    assert len(aws_sim.purchases_of()) == 2


async def test_opensearch_reservation_name_makes_a_repeat_buy_nothing(
    app: FastAPI, admin_client: httpx.AsyncClient, session: AsyncSession, aws_sim: AwsPurchaseSim
) -> None:
    account = await add_aws_account(admin_client, aws_sim)
    await add_recommendation(
        session, account, service="opensearch", resource_type="r6g.large.search", count=2
    )
    plan = await make_plan(admin_client, services={"aws:opensearch": {"coverage": 100}})
    _, (run,) = await execute(app, admin_client, plan["id"])
    assert run["status"] == "completed", (run["error"], [x["error"] for x in run["lines"]])
    (line,) = run["lines"]
    (bought,) = aws_sim.purchases_of()
    assert bought.token == f"cudly-{line['idempotency_key']}"
    assert bought.commitment_id == line["provider_commitment_id"]
    assert bought.count == "2"
    runner: Runner = app.state.purchase_runner
    async with app.state.sessionmaker() as db:
        row = await db.get(CloudAccount, account.id)
        assert row is not None
        auth = await resolve_account_auth(db, runner.key_ring, row)
        stored = await db.get(PurchaseLine, uuid.UUID(line["id"]))
        assert stored is not None
    request = runner._request(stored)
    purchaser = AwsPurchaser()
    repeat = await purchaser.purchase(auth, request, runner.settings, runner.clients)
    assert repeat.provider_commitment_id == bought.commitment_id
    found = await purchaser.reconcile(auth, request, runner.settings, runner.clients)
    assert found is not None and found.provider_commitment_id == bought.commitment_id
    assert len(aws_sim.purchases_of()) == 1


async def test_redshift_without_a_token_is_reconciled_by_describe(
    app: FastAPI, admin_client: httpx.AsyncClient, session: AsyncSession, aws_sim: AwsPurchaseSim
) -> None:
    account = await add_aws_account(admin_client, aws_sim)
    await add_recommendation(
        session, account, service="redshift", resource_type="ra3.xlplus", count=2
    )
    plan = await make_plan(admin_client, services={"aws:redshift": {"coverage": 100}})
    _, (run,) = await execute(app, admin_client, plan["id"])
    assert run["status"] == "completed", (run["error"], [x["error"] for x in run["lines"]])
    (line,) = run["lines"]
    (bought,) = aws_sim.purchases_of()
    assert bought.commitment_id == line["provider_commitment_id"]
    runner: Runner = app.state.purchase_runner
    async with app.state.sessionmaker() as db:
        row = await db.get(CloudAccount, account.id)
        assert row is not None
        auth = await resolve_account_auth(db, runner.key_ring, row)
        stored = await db.get(PurchaseLine, uuid.UUID(line["id"]))
        assert stored is not None
    purchaser = AwsPurchaser()
    # The node bought is found for its line, and not for another line once attributed.
    found = await purchaser.reconcile(
        auth, runner._request(stored), runner.settings, runner.clients
    )
    assert found is not None and found.provider_commitment_id == bought.commitment_id
    attributed = runner._request(stored, known_commitment_ids=[bought.commitment_id])
    assert await purchaser.reconcile(auth, attributed, runner.settings, runner.clients) is None
