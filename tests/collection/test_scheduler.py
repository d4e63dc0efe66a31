"""The periodic scheduler: one cycle across replicas; a run no worker is left on is closed by
whoever sees it; a killed worker's account is re-claimed by a survivor."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from api.config import Settings
from api.main import create_app
from api.models import CollectionRun, CollectionRunAccount
from tests.collection.conftest import create_accounts
from tests.collection.fakes import FakeCloud
from tests.conftest import TEST_KEY

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
async def second_app(settings: Settings) -> AsyncIterator[FastAPI]:
    """Another server on the same database (a second replica, in this process)."""
    application = create_app(settings)
    async with application.router.lifespan_context(application):
        yield application


async def all_runs(session: AsyncSession) -> list[CollectionRun]:
    rows = await session.execute(
        select(CollectionRun)
        .order_by(CollectionRun.started_at)
        .execution_options(populate_existing=True)
    )
    return list(rows.scalars())


async def test_two_replicas_ticking_at_once_run_one_cycle(
    app: FastAPI,
    second_app: FastAPI,
    admin_client: httpx.AsyncClient,
    session: AsyncSession,
) -> None:
    await create_accounts(admin_client, 2)
    cloud = FakeCloud()
    for replica in (app, second_app):
        replica.state.collection.ctx.collector_for = cloud.collector_for

    results = await asyncio.gather(
        app.state.collection.cycle_once(), second_app.state.collection.cycle_once()
    )

    assert sorted(r is not None for r in results) == [False, True]
    [run] = await all_runs(session)
    assert run.trigger == "scheduled" and run.status == "completed" and run.accounts_ok == 2
    assert len(cloud.calls) == 2
    # The next cycle is not due before CUDLY_COLLECT_INTERVAL has passed.
    assert await app.state.collection.cycle_once() is None
    assert await second_app.state.collection.cycle_once() is None
    await session.execute(
        update(CollectionRun).values(started_at=datetime.now(UTC) - timedelta(days=1))
    )
    await session.commit()
    assert await second_app.state.collection.cycle_once() is not None


async def test_a_stale_run_is_closed_by_whoever_sees_it(
    app: FastAPI, admin_client: httpx.AsyncClient, session: AsyncSession
) -> None:
    session.add(
        CollectionRun(
            trigger="scheduled",
            status="running",
            owner="gone:1",
            heartbeat_at=datetime.now(UTC) - timedelta(hours=1),
        )
    )
    await session.commit()
    app.state.collection.ctx.collector_for = FakeCloud().collector_for

    response = await admin_client.post("/api/recommendations/refresh", json={})

    assert response.json()["created"] is True
    stale, fresh = await all_runs(session)
    assert stale.status == "failed" and "no heartbeat" in (stale.error or "")
    assert stale.finished_at is not None
    assert fresh.trigger == "manual" and fresh.id == uuid.UUID(response.json()["run_id"])


def _replica_env(database_url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CUDLY_")}
    env.update(
        {
            "DATABASE_URL": database_url,
            "CREDENTIAL_ENCRYPTION_KEY": TEST_KEY,
            "CUDLY_ENV": "test",
            "CUDLY_RUN_MIGRATIONS": "false",
            "CUDLY_SCHEDULER_ENABLED": "true",
            "CUDLY_COLLECT_INTERVAL": "1h",
            "CUDLY_COLLECT_HEARTBEAT_S": "0.3",
            "CUDLY_COLLECT_STALE_AFTER_S": "3",
            "CUDLY_LOG_LEVEL": "WARNING",
        }
    )
    return env


async def _until(
    session: AsyncSession, check: Callable[[list[CollectionRun]], bool], timeout_s: float = 90
) -> list[CollectionRun]:
    async with asyncio.timeout(timeout_s):
        while True:
            runs = await all_runs(session)  # READ COMMITTED: each query sees the latest commits
            if check(runs):
                return runs
            await asyncio.sleep(0.2)


async def run_rows(session: AsyncSession) -> list[CollectionRunAccount]:
    rows = await session.execute(
        select(CollectionRunAccount).execution_options(populate_existing=True)
    )
    return list(rows.scalars())


async def test_two_server_processes_one_cycle_and_a_killed_workers_account_is_reclaimed(
    admin_client: httpx.AsyncClient, session: AsyncSession, database_url: str
) -> None:
    await create_accounts(admin_client, 1)  # its sweep never answers: the run stays running
    env = _replica_env(database_url)
    replicas = [
        subprocess.Popen(  # noqa: ASYNC220 - long-lived children, reaped below
            [sys.executable, "-m", "tests.collection.replica"], cwd=ROOT, env=env
        )
        for _ in range(2)
    ]
    try:
        await _until(session, lambda rs: any(r.status == "running" for r in rs))
        await asyncio.sleep(3)  # several ticks of both replicas
        assert all(p.poll() is None for p in replicas)
        runs = await all_runs(session)
        assert len(runs) == 1 and runs[0].trigger == "scheduled"
        [row] = await run_rows(session)
        assert row.status == "running" and row.claimed_by is not None and row.attempts == 1
        claimer_pid = int(row.claimed_by.split(":")[1])
        [claimer] = [p for p in replicas if p.pid == claimer_pid]
        [survivor] = [p for p in replicas if p.pid != claimer_pid]

        claimer.send_signal(signal.SIGKILL)
        claimer.wait(timeout=10)

        # The survivor re-claims the dead worker's account once its heartbeat is stale, and
        # keeps the run alive (it is not closed as abandoned while a worker works on it).
        async with asyncio.timeout(90):
            while True:
                [row] = await run_rows(session)
                if row.attempts == 2:
                    break
                await asyncio.sleep(0.2)
        assert row.status == "running" and row.claimed_by is not None
        assert int(row.claimed_by.split(":")[1]) == survivor.pid
        await asyncio.sleep(4)  # past the stale limit: the run's heartbeat is the survivor's
        [run] = await all_runs(session)
        assert survivor.poll() is None and run.status == "running"
    finally:
        for process in replicas:
            if process.poll() is None:
                process.terminate()
                try:
                    process.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait(timeout=5)
