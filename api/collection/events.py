"""Server-sent events of a run (SPEC §5), fed from the database so any replica can serve them.

On connect: one ``account`` event per account already finished; then one per account as it
finishes; then a final ``run`` event and the stream ends. A finished run replays and closes
at once. The rows are the only source, whichever process or replica finished an account:
the stream re-reads them when the run's ``account``/``closed`` notification arrives on this
process's LISTEN connection, and every ``POLL_S`` in case one is missed.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from api.auth.permissions import AccountScope
from api.collection import repository
from api.collection.schemas import RunAccountOut, RunSummaryOut
from api.collection.service import close_stale_runs
from api.config import Settings
from api.enums import RunStatus
from api.kit.claims import Listener, Waker

POLL_S = 0.25  # without a listener (or while it reconnects) this is the latency
LISTENING_POLL_S = 1.0
KEEPALIVE_S = 15.0


def sse(event: str, data: str) -> str:
    return f"event: {event}\ndata: {data}\n\n"


async def run_events(
    read_maker: async_sessionmaker[AsyncSession],
    write_maker: async_sessionmaker[AsyncSession],
    settings: Settings,
    run_id: uuid.UUID,
    scope: AccountScope,
    listener: Listener | None = None,
) -> AsyncIterator[str]:
    """The event stream of one run (the caller has checked it exists)."""
    suffix = f":{run_id}"
    waker = listener.waker(lambda payload: payload.endswith(suffix)) if listener else None
    try:
        async for chunk in _events(
            read_maker, write_maker, settings, run_id, scope, listener, waker
        ):
            yield chunk
    finally:
        if listener is not None and waker is not None:
            listener.forget(waker)


async def _events(
    read_maker: async_sessionmaker[AsyncSession],
    write_maker: async_sessionmaker[AsyncSession],
    settings: Settings,
    run_id: uuid.UUID,
    scope: AccountScope,
    listener: Listener | None,
    waker: Waker | None = None,
) -> AsyncIterator[str]:
    sent: set[uuid.UUID] = set()
    last_output = time.monotonic()
    last_stale_check = time.monotonic()
    while True:
        # Closing (not rolling back) keeps the loaded rows readable after the session.
        async with read_maker() as raw:
            # The run's status first: when it is finished, every row read after it is too.
            run = await repository.get_run(raw, run_id)
            rows = await repository.run_accounts(raw, run_id, scope, finished_only=True)
        if run is None:
            return
        for row in rows:
            if row.id in sent:
                continue
            sent.add(row.id)
            last_output = time.monotonic()
            yield sse("account", RunAccountOut.model_validate(row).model_dump_json())
        if run.status != RunStatus.running.value:
            yield sse("run", RunSummaryOut.model_validate(run).model_dump_json())
            return
        now = time.monotonic()
        if now - last_output >= KEEPALIVE_S:
            last_output = now
            yield ": keep-alive\n\n"
        if now - last_stale_check >= settings.scheduler.collect_stale_after_s / 2:
            last_stale_check = now
            await close_stale_runs(write_maker, settings)  # its runner may have died
        if waker is not None and listener is not None and listener.connected.is_set():
            await waker.wait(LISTENING_POLL_S)
        else:
            await asyncio.sleep(POLL_S)
