"""An execution group is a work queue that every server process claims from (issue 20).

Two real server processes (``uvicorn --factory api.main:app_factory``, see
``scaleout_servers.py``) on one database and one AWS purchase simulator:

- a group over 20 accounts is split between them — both claim some, every line is bought
  exactly once, and ``CUDLY_MAX_ACCOUNT_PARALLELISM`` bounds the executions in flight across
  both processes (and is reached);
- one of them is SIGKILLed while the cloud holds its purchase answers: the other re-claims
  its executions once their heartbeat is stale, reconciles the line left ``purchasing`` with
  the cloud, and finishes the group — nothing bought twice, nothing lost, nothing left running.

The servers are forked from one pre-warmed parent per session (``scaleout_servers.py``);
the groups are the smallest the issue asks for (20 accounts, 40 lines).
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from api.models import CollectionRun, PurchaseExecution, PurchaseHistory, PurchaseLine
from tests.cloudsim.aws_purchases import AwsPurchaseServer, AwsPurchaseSim
from tests.fixtures.auth import create_user_with_token
from tests.purchases.conftest import SimAccount, add_aws_account, add_recommendation, make_plan
from tests.purchases.scaleout_servers import (
    ServerProcess,
    ServerZygote,
    server_processes,
    server_zygote,
)

PARALLELISM = 10  # the split test: two waves over 20 executions
KILL_PARALLELISM = 6  # the kill test: some executions still pending when one process dies


@pytest.fixture(scope="session")
def zygote() -> Iterator[ServerZygote]:
    with server_zygote() as parent:
        yield parent


@pytest.fixture
def settings_overrides() -> dict[str, object]:
    return {"purchases_enabled": True, "purchase_grace_days": 0}


async def _arrange(
    admin_client: httpx.AsyncClient, session: AsyncSession, sim: AwsPurchaseSim, accounts: int
) -> tuple[str, list[SimAccount]]:
    """``accounts`` AWS accounts with two lines each: EC2 (no token: reconciled by describe)
    and a Savings Plan (clientToken); a real plan over all of them."""
    made = [await add_aws_account(admin_client, sim) for _ in range(accounts)]
    for account in made:
        await add_recommendation(session, account, count=1)
        await add_recommendation(
            session,
            account,
            service="savings-plans",
            resource_type="m5",
            count=Decimal("0.5"),
            estimated_monthly_savings=Decimal(50),
            details={"offering_id": "sp-offering-1"},
        )
    # A collection cycle just ran: the servers' collection schedulers have nothing due.
    now = datetime.now(UTC)
    session.add(CollectionRun(trigger="scheduled", status="completed", started_at=now))
    await session.commit()
    plan = await make_plan(
        admin_client,
        services={"aws:ec2": {"coverage": 100}, "aws:savings-plans": {"coverage": 100}},
    )
    return str(plan["id"]), made


async def _execute(app: FastAPI, server: ServerProcess, plan_id: str) -> uuid.UUID:
    _, token = await create_user_with_token(app, role="admin")
    async with httpx.AsyncClient(
        base_url=server.url, headers={"Authorization": f"Bearer {token}"}, timeout=30
    ) as http:
        response = await http.post(f"/api/plans/{plan_id}/execute")
    assert response.status_code == 202, response.text
    return uuid.UUID(response.json()["execution_group_id"])


async def _executions(session: AsyncSession, group_id: uuid.UUID) -> list[PurchaseExecution]:
    result = await session.execute(
        select(PurchaseExecution)
        .where(PurchaseExecution.execution_group_id == group_id)
        .execution_options(populate_existing=True)
    )
    executions = list(result.scalars())
    await session.commit()  # nothing written: ends the snapshot, keeps the loaded values
    return executions


async def _finished(session: AsyncSession, group_id: uuid.UUID) -> list[PurchaseExecution]:
    async with asyncio.timeout(180):  # a hang guard, not a timing assertion
        while True:
            executions = await _executions(session, group_id)
            if all(e.finished_at is not None for e in executions):
                return executions
            await asyncio.sleep(0.2)


def _pid(execution: PurchaseExecution) -> int:
    assert execution.claimed_by is not None
    return int(execution.claimed_by.split(":")[-2])


async def _bought_exactly_once(
    session: AsyncSession,
    sim: AwsPurchaseSim,
    executions: list[PurchaseExecution],
    accounts: list[SimAccount],
) -> None:
    assert [e.status for e in executions] == ["completed"] * len(accounts), [
        (e.status, e.error) for e in executions
    ]
    ids = [e.id for e in executions]
    lines = list(
        (
            await session.execute(
                select(PurchaseLine)
                .where(PurchaseLine.execution_id.in_(ids))
                .execution_options(populate_existing=True)
            )
        ).scalars()
    )
    assert len(lines) == 2 * len(accounts)  # no line lost
    assert {line.status for line in lines} == {"purchased"}, [(x.status, x.error) for x in lines]
    bought = sim.purchases_of()
    # Each line bought exactly once: one cloud purchase per line, the very one it records.
    assert sorted(p.commitment_id for p in bought) == sorted(
        str(line.provider_commitment_id) for line in lines
    )
    for account in accounts:
        assert len(sim.purchases_of(account.external_id)) == 2, account.external_id
    history = await session.execute(
        select(PurchaseHistory.purchase_line_id).where(PurchaseHistory.execution_id.in_(ids))
    )
    assert sorted(map(str, history.scalars())) == sorted(str(line.id) for line in lines)


def _peak_in_flight(executions: list[PurchaseExecution]) -> int:
    """The most executions running at one moment, from their claim and finish times: a
    claim's time is taken after it counted the executions in flight, a finish's before its
    commit freed the slot, so these intervals overlap only where both really ran."""
    moments: list[tuple[datetime, int]] = []
    for execution in executions:
        assert execution.started_at is not None and execution.finished_at is not None
        moments += [(execution.started_at, 1), (execution.finished_at, -1)]
    peak = running = 0
    for _, change in sorted(moments):  # a finish sorts before a claim at the same instant
        running += change
        peak = max(peak, running)
    return peak


async def test_a_group_split_over_two_processes_buys_every_line_once(
    app: FastAPI,
    admin_client: httpx.AsyncClient,
    session: AsyncSession,
    aws_sim: AwsPurchaseSim,
    aws_purchase_server: AwsPurchaseServer,
    database_url: str,
    zygote: ServerZygote,
) -> None:
    plan_id, accounts = await _arrange(admin_client, session, aws_sim, 20)
    with server_processes(
        zygote,
        database_url,
        aws_purchase_server,
        2,
        CUDLY_MAX_ACCOUNT_PARALLELISM=str(PARALLELISM),
    ) as servers:
        group_id = await _execute(app, servers[0], plan_id)
        executions = await _finished(session, group_id)
    await _bought_exactly_once(session, aws_sim, executions, accounts)
    claimed = [_pid(e) for e in executions]
    assert {s.pid for s in servers} == set(claimed), claimed  # both processes claimed some
    assert _peak_in_flight(executions) == PARALLELISM  # the global bound held, and was reached


async def test_sigkill_one_process_mid_group_the_other_reclaims_and_finishes(
    app: FastAPI,
    admin_client: httpx.AsyncClient,
    session: AsyncSession,
    aws_sim: AwsPurchaseSim,
    aws_purchase_server: AwsPurchaseServer,
    database_url: str,
    zygote: ServerZygote,
) -> None:
    plan_id, accounts = await _arrange(admin_client, session, aws_sim, 20)
    by_account = {a.external_id: a for a in accounts}
    with server_processes(
        zygote,
        database_url,
        aws_purchase_server,
        2,
        CUDLY_MAX_ACCOUNT_PARALLELISM=str(KILL_PARALLELISM),
        CUDLY_EXECUTION_STALE_AFTER_S="4",
    ) as servers:
        # The cloud accepts every purchase and holds its answer: each execution in flight
        # stops with its first line `purchasing`, bought in the cloud.
        aws_sim.arm_hang()
        group_id = await _execute(app, servers[0], plan_id)
        async with asyncio.timeout(180):  # a hang guard
            while len(aws_sim.purchases_of()) < KILL_PARALLELISM:  # noqa: ASYNC110
                await asyncio.sleep(0.05)
        holder = {
            e.cloud_account_id: _pid(e)
            for e in await _executions(session, group_id)
            if e.status == "running"
        }
        first = by_account[aws_sim.purchases_of()[0].account].id
        victim = next(s for s in servers if s.pid == holder[first])
        survivor = next(s for s in servers if s is not victim)
        orphaned = {account for account, pid in holder.items() if pid == victim.pid}
        victim.kill()
        aws_sim.release()
        assert not victim.alive()
        executions = await _finished(session, group_id)
    await _bought_exactly_once(session, aws_sim, executions, accounts)
    assert not [e for e in executions if e.status == "running"]
    # The victim's executions were re-claimed and finished by the survivor.
    assert orphaned
    for execution in executions:
        if execution.cloud_account_id in orphaned:
            assert _pid(execution) == survivor.pid
