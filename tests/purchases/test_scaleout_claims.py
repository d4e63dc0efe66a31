"""The execution queue's claim and wake-up rules, against the database (issue 20).

``repository.claim_next`` is what every worker process runs; here several claimers run it
concurrently on their own connections, as processes would.
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

import asyncpg
from fastapi import FastAPI
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from api.db import unit_of_work
from api.enums import ExecutionStatus
from api.models import PurchaseExecution
from api.purchases import repository
from api.purchases.listen import CHANNEL


async def _executions(session: AsyncSession, count: int, **fields: object) -> list[uuid.UUID]:
    group_id = uuid.uuid4()
    values: dict[str, object] = {"provider": "aws", "status": "pending", **fields}
    rows = [
        PurchaseExecution(
            execution_group_id=group_id,
            account_external_id=f"{n:012d}",
            account_name=f"acct-{n}",
            **values,
        )
        for n in range(count)
    ]
    session.add_all(rows)
    await session.commit()
    return [row.id for row in rows]


async def _claim_until_none(app: FastAPI, worker: str, parallelism: int) -> list[uuid.UUID]:
    claimed: list[uuid.UUID] = []
    while True:
        async with unit_of_work(app.state.sessionmaker) as session:
            found = await repository.claim_next(
                session, worker, stale_after_s=300, parallelism=parallelism
            )
        if found is None:
            return claimed
        claimed.append(found)


async def test_concurrent_claimers_never_exceed_the_global_bound(
    app: FastAPI, session: AsyncSession
) -> None:
    ids = await _executions(session, 12)
    claims = await asyncio.gather(*(_claim_until_none(app, f"w{n}", 5) for n in range(4)))
    taken = [i for claimed in claims for i in claimed]
    assert len(taken) == 5 == len(set(taken))
    assert set(taken) <= set(ids)
    # Oldest first (one transaction made them all: then by id).
    assert sorted(map(str, taken)) == sorted(map(str, ids))[:5]
    # A finished execution frees its slot for whoever claims next.
    await session.execute(
        update(PurchaseExecution).where(PurchaseExecution.id == taken[0]).values(status="completed")
    )
    await session.commit()
    assert len(await _claim_until_none(app, "w9", 5)) == 1


async def test_a_stale_claim_is_taken_over_but_never_from_the_worker_still_running_it(
    app: FastAPI, session: AsyncSession
) -> None:
    (execution_id,) = await _executions(
        session,
        1,
        status="running",
        claimed_by="dead:1:aa",
        heartbeat_at=datetime.now(UTC) - timedelta(seconds=301),
    )
    async with unit_of_work(app.state.sessionmaker) as db:
        mine = await repository.claim_next(
            db, "dead:1:aa", stale_after_s=300, parallelism=10, holding=[execution_id]
        )
    assert mine is None  # its own worker still holds it: a late heartbeat is not death
    async with unit_of_work(app.state.sessionmaker) as db:
        taken = await repository.claim_next(db, "alive:2:bb", stale_after_s=300, parallelism=10)
    assert taken == execution_id
    async with unit_of_work(app.state.sessionmaker) as db:
        again = await repository.claim_next(db, "third:3:cc", stale_after_s=300, parallelism=10)
        assert not await repository.heartbeat(db, execution_id, "dead:1:aa")  # it lost it
    assert again is None  # fresh heartbeat now: in flight, not claimable


async def test_status_changes_notify_the_group_but_the_claim_does_not(
    app: FastAPI, session: AsyncSession, database_url: str
) -> None:
    heard: asyncio.Queue[str] = asyncio.Queue()
    listener = await asyncpg.connect(database_url.replace("postgresql+asyncpg://", "postgresql://"))
    try:
        await listener.add_listener(CHANNEL, lambda *args: heard.put_nowait(args[3]))
        (execution_id,) = await _executions(session, 1)
        row = await session.get(PurchaseExecution, execution_id)
        assert row is not None
        group = str(row.execution_group_id)
        async with asyncio.timeout(30):  # a hang guard
            assert await heard.get() == group  # new work
        async with unit_of_work(app.state.sessionmaker) as db:
            assert await repository.claim_next(db, "w", stale_after_s=300, parallelism=1)
        async with unit_of_work(app.state.sessionmaker) as db:
            assert await repository.finish_execution(db, execution_id, "w", ExecutionStatus.failed)
        async with asyncio.timeout(30):
            assert await heard.get() == group  # the finish: a slot freed, the stream's news
        # Notifications arrive in commit order: had the claim sent one, it would be here first.
        assert heard.empty()
    finally:
        await listener.close()
