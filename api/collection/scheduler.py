"""The process's collection runner: its worker, refreshes, the periodic loop, stale runs.

Every process runs a :class:`~api.collection.worker.CollectionWorker` that claims accounts
of running runs from the database, whichever process or replica started them. A refresh
records the run, claims this process's first batch at once, then notifies the others.

Periodic runs: every replica ticks; a tick first closes runs whose heartbeat went stale (a
replica died mid-run), then, under a session advisory lock so exactly one replica decides,
starts a scheduled run when the latest run of any trigger began ``CUDLY_COLLECT_INTERVAL``
ago or more. The decision is the database's, so replicas agree on when the next cycle is
due; the partial unique index keeps a cycle from starting while any run is in progress.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Coroutine, Sequence
from datetime import timedelta
from typing import Any

from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncEngine

from api.auth.permissions import AccountScope
from api.collection import repository
from api.collection.service import (
    CollectionContext,
    CollectionWorker,
    StartedRun,
    close_stale_runs,
    start_run,
    utcnow,
)
from api.db import unit_of_work
from api.enums import RunTrigger
from api.kit.crypto import KeyRing, get_key_ring
from api.kit.locks import session_lock
from api.kit.tasks import cancel_all, raise_if_stopping
from api.providers import registry
from api.telemetry import metrics

logger = logging.getLogger(__name__)

CYCLE_LOCK = "cudly:collection:cycle"


class CollectionRunner:
    """Owns the background tasks of collection in this process."""

    def __init__(self, ctx: CollectionContext, engine: AsyncEngine) -> None:
        self.ctx = ctx
        self.engine = engine
        self.worker = CollectionWorker(ctx)
        self._tasks: set[asyncio.Task[None]] = set()

    def _spawn(self, coroutine: Coroutine[Any, Any, None], name: str) -> None:
        task = asyncio.create_task(coroutine, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def refresh(
        self,
        *,
        trigger: RunTrigger,
        account_ids: Sequence[uuid.UUID] | None,
        scope: AccountScope,
        created_by: uuid.UUID | None,
    ) -> StartedRun:
        """Start a run (worked on by every process), or return the one in progress.

        This process claims its share in the run's own transaction; the others are woken
        by the ``start`` notification when it commits.
        """
        started = await start_run(
            self.ctx.maker,
            self.ctx.settings,
            trigger=trigger,
            account_ids=account_ids,
            scope=scope,
            created_by=created_by,
            owner=self.ctx.owner,
            first_claim=self.worker.first_claim,
        )
        await self.worker.adopt_first()
        return started

    async def wait_closed(self, run_id: uuid.UUID) -> None:
        """Until the run is no longer running (woken by its ``closed`` notification)."""
        waker = self.worker.listener.waker(lambda payload: payload == f"closed:{run_id}")
        try:
            while True:
                async with unit_of_work(self.ctx.maker) as session:
                    run = await repository.get_run(session, run_id)
                if run is None or run.status != "running":
                    return
                await waker.wait(1.0)
        finally:
            self.worker.listener.forget(waker)

    async def cycle_once(self) -> uuid.UUID | None:
        """One scheduler tick; returns the id of the scheduled run it executed, if any."""
        settings = self.ctx.settings
        await close_stale_runs(self.ctx.maker, settings)
        async with session_lock(self.engine, CYCLE_LOCK) as acquired:
            if not acquired:
                return None  # another replica is deciding right now
            async with unit_of_work(self.ctx.maker) as session:
                latest = await repository.latest_run_started_at(session)
            due = latest is None or utcnow() - latest >= timedelta(
                seconds=settings.scheduler.collect_interval
            )
            if not due:
                return None
            started = await start_run(
                self.ctx.maker,
                settings,
                trigger=RunTrigger.scheduled,
                account_ids=None,
                scope=AccountScope.everything(),
                owner=self.ctx.owner,
                first_claim=self.worker.first_claim,
            )
            await self.worker.adopt_first()
        if not started.created:
            return None
        logger.info("scheduled collection run %s started", started.run_id)
        metrics.set_scheduler_leader(True)  # this replica leads the cycle until its run ends
        try:
            await self.wait_closed(started.run_id)
        finally:
            metrics.set_scheduler_leader(False)
        return started.run_id

    async def _loop(self) -> None:
        settings = self.ctx.settings
        tick = max(
            0.2,
            min(settings.scheduler.collect_interval, settings.scheduler.collect_stale_after_s / 2),
        )
        while True:
            try:
                await self.cycle_once()
            except asyncio.CancelledError:
                raise
            except Exception:
                raise_if_stopping()
                logger.exception("collection scheduler tick failed")
            await asyncio.sleep(tick)

    def start_scheduler(self) -> None:
        self._spawn(self._loop(), "collection-scheduler")

    async def stop(self) -> None:
        """Cancel the background tasks; the worker hands its claims back (and, the last
        worker standing, closes running runs as failed)."""
        await cancel_all(list(self._tasks))
        await self.worker.stop()


async def _start(app: FastAPI) -> None:
    async def key_ring() -> KeyRing:
        return await get_key_ring(app)

    ctx = CollectionContext(
        maker=app.state.sessionmaker,
        settings=app.state.settings,
        clients=app.state.provider_clients,
        key_ring=key_ring,
        collector_for=getattr(app.state, "collector_for", registry.collector),
    )
    runner = CollectionRunner(ctx, app.state.engine)
    app.state.collection = runner
    await runner.worker.start()
    if app.state.settings.scheduler.enabled:
        runner.start_scheduler()


async def _stop(app: FastAPI) -> None:
    runner: CollectionRunner | None = getattr(app.state, "collection", None)
    if runner is not None:
        await runner.stop()


def install(app: FastAPI) -> None:
    """Wire the runner into the app's lifespan (started after the key ring and the admin)."""
    app.state.startup_hooks.append(_start)
    app.state.shutdown_hooks.insert(0, _stop)
