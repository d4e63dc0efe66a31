"""The periodic scheduler: one cycle across replicas, stale runs closed by a survivor."""

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
from api.models import CollectionRun
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


async def test_two_server_processes_one_cycle_and_a_killed_runner_is_closed_by_the_other(
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
        runs = await _until(session, lambda rs: any(r.status == "running" for r in rs))
        await asyncio.sleep(3)  # several ticks of both replicas
        assert all(p.poll() is None for p in replicas)
        runs = await all_runs(session)
        assert len(runs) == 1 and runs[0].trigger == "scheduled"
        [run] = runs
        assert run.owner is not None
        owner_pid = int(run.owner.rsplit(":", 1)[1])
        [runner] = [p for p in replicas if p.pid == owner_pid]
        [survivor] = [p for p in replicas if p.pid != owner_pid]

        runner.send_signal(signal.SIGKILL)
        runner.wait(timeout=10)

        runs = await _until(session, lambda rs: rs[0].status != "running")
        assert survivor.poll() is None
        [closed] = runs  # closed, and no second cycle started (not due yet)
        assert closed.status == "failed" and "no heartbeat" in (closed.error or "")
    finally:
        for process in replicas:
            if process.poll() is None:
                process.terminate()
                try:
                    process.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait(timeout=5)
