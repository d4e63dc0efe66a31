"""No double purchase across crashes and concurrent workers (SPEC §6).

A real-purchase execution runs in a separate process that is SIGKILLed — half the trials
right after the cloud accepted a purchase (the simulator holds its answer back), half at a
random moment after the worker's first cloud call — then the survivors (a fresh runner)
reconcile and finish it. Every trial, the simulator's purchases must equal the planned lines,
one each. ``CUDLY_CRASH_TRIALS`` sets the number of trials: 10 in ``make test`` (five of each
kind), 200 in ``make soak``.
"""

from __future__ import annotations

import asyncio
import os
import random
import signal
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator
from decimal import Decimal
from typing import IO

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from api.config import Settings
from api.db import unit_of_work
from api.models import PurchaseHistory, PurchaseLine, PurchasePlan
from api.purchases import service
from api.purchases.runner import Runner
from tests.cloudsim.aws_purchases import AwsPurchaseServer, AwsPurchaseSim
from tests.purchases.conftest import add_aws_account, add_recommendation, make_plan

TRIALS = int(os.environ.get("CUDLY_CRASH_TRIALS", "10"))
LINES = 3


@pytest.fixture
def settings_overrides() -> dict[str, object]:
    return {"purchases_enabled": True, "purchase_grace_days": 0}


class Zygote:
    """The forking parent of the worker processes (see tests/purchases/crash_worker.py)."""

    def __init__(self, process: subprocess.Popen[str]) -> None:
        self.process = process

    def start(self, execution_ids: list[uuid.UUID], stale_s: float = 300.0) -> int:
        stdin: IO[str] | None = self.process.stdin
        stdout: IO[str] | None = self.process.stdout
        assert stdin is not None and stdout is not None
        stdin.write(f"{stale_s} {','.join(map(str, execution_ids))}\n")
        stdin.flush()
        return int(stdout.readline())


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


async def _gone(pid: int) -> None:
    while _alive(pid):  # noqa: ASYNC110 - another process: nothing to await but time
        await asyncio.sleep(0.02)


@pytest.fixture
async def zygote(
    database_url: str, aws_purchase_server: AwsPurchaseServer, aws_sim: AwsPurchaseSim
) -> AsyncIterator[Zygote]:
    env = {**os.environ, **aws_purchase_server.env(), "CUDLY_CRASH_DATABASE_URL": database_url}
    process = subprocess.Popen(  # noqa: ASYNC220 - started once, before the loop matters
        [sys.executable, "-m", "tests.purchases.crash_worker"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env=env,
    )
    try:
        yield Zygote(process)
    finally:
        assert process.stdin is not None
        process.stdin.close()
        process.wait(timeout=30)


async def _new_group(app: FastAPI, plan_id: str) -> list[uuid.UUID]:
    async with unit_of_work(app.state.sessionmaker) as session:
        plan = await session.get(PurchasePlan, uuid.UUID(plan_id))
        assert plan is not None
        executions = await service.create_group(session, plan, None, app.state.settings)
        return [e.id for e in executions]


def _survivor(app: FastAPI) -> Runner:
    settings: Settings = app.state.settings.model_copy(update={"execution_stale_after_s": 0.001})
    runner: Runner = app.state.purchase_runner
    return Runner(runner.maker, settings, runner.key_ring, runner.clients)


async def _lines(session: AsyncSession, execution_ids: list[uuid.UUID]) -> list[PurchaseLine]:
    result = await session.execute(
        select(PurchaseLine)
        .where(PurchaseLine.execution_id.in_(execution_ids))
        .execution_options(populate_existing=True)
    )
    return list(result.scalars())


async def _arrange(
    admin_client: httpx.AsyncClient, session: AsyncSession, aws_sim: AwsPurchaseSim
) -> str:
    """One account, three lines: EC2 (no token), RDS (reservation id), Savings Plans (token)."""
    account = await add_aws_account(admin_client, aws_sim)
    await add_recommendation(session, account, resource_type="m5.large", count=2)
    await add_recommendation(
        session, account, service="rds", resource_type="db.r5.large", engine="postgresql"
    )
    await add_recommendation(
        session,
        account,
        service="savings-plans",
        resource_type="m5",
        count=Decimal("1.5"),
        details={"offering_id": "sp-offering-1"},
    )
    plan = await make_plan(
        admin_client,
        services={"aws:ec2": {}, "aws:rds": {}, "aws:savings-plans": {}},
    )
    for key in ("aws:ec2", "aws:rds", "aws:savings-plans"):
        plan["services"][key] = {"coverage": 100}
    updated = await admin_client.put(
        f"/api/plans/{plan['id']}", json={"services": plan["services"]}
    )
    assert updated.status_code == 200
    return str(plan["id"])


async def _check(
    session: AsyncSession, aws_sim: AwsPurchaseSim, ids: list[uuid.UUID], before: int, trial: str
) -> None:
    lines = await _lines(session, ids)
    assert len(lines) == LINES, trial
    assert [line.status for line in lines] == ["purchased"] * LINES, trial
    bought = aws_sim.purchases_of()[before:]
    assert len(bought) == LINES, (trial, bought)
    assert sorted(p.commitment_id for p in bought) == sorted(
        str(line.provider_commitment_id) for line in lines
    ), trial
    history = await session.execute(
        select(PurchaseHistory.purchase_line_id).where(PurchaseHistory.execution_id.in_(ids))
    )
    assert sorted(map(str, history.scalars())) == sorted(str(line.id) for line in lines), trial


async def test_sigkill_at_random_points_never_buys_twice(
    app: FastAPI,
    admin_client: httpx.AsyncClient,
    session: AsyncSession,
    aws_sim: AwsPurchaseSim,
    zygote: Zygote,
) -> None:
    plan_id = await _arrange(admin_client, session, aws_sim)
    rng = random.Random(os.environ.get("CUDLY_CRASH_SEED", "13"))
    for trial in range(TRIALS):
        ids = await _new_group(app, plan_id)
        before = len(aws_sim.purchases_of())
        calls_before = len(aws_sim.calls_of())
        after_accept = trial % 2 == 0
        if after_accept:
            aws_sim.arm_hang()
        pid = zygote.start(ids)
        if after_accept:
            # Which purchase is held back varies: the worker buys lines in savings order.
            accepted = await asyncio.to_thread(aws_sim.accepted.wait, 60)
            assert accepted, f"trial {trial}: the worker never bought"
        else:
            while len(aws_sim.calls_of()) == calls_before and _alive(pid):  # noqa: ASYNC110
                await asyncio.sleep(0.005)
            await asyncio.sleep(rng.uniform(0, 0.3))
        os.kill(pid, signal.SIGKILL)
        await _gone(pid)
        aws_sim.release()
        await _survivor(app).recover()
        await _check(session, aws_sim, ids, before, f"trial {trial}")


async def test_two_processes_executing_one_group_buy_each_line_once(
    app: FastAPI,
    admin_client: httpx.AsyncClient,
    session: AsyncSession,
    aws_sim: AwsPurchaseSim,
    zygote: Zygote,
) -> None:
    plan_id = await _arrange(admin_client, session, aws_sim)
    aws_sim.call_delay_s = 0.05
    for trial in range(3):
        ids = await _new_group(app, plan_id)
        before = len(aws_sim.purchases_of())
        first, second = zygote.start(ids), zygote.start(ids)
        await _gone(first)
        await _gone(second)
        await _check(session, aws_sim, ids, before, f"trial {trial}")
