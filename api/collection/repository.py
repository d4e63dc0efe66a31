"""Every query on collection runs and their per-account rows."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import ColumnElement, case, func, literal_column, select, text, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from api.auth.permissions import AccountScope
from api.db import AsyncReadSession
from api.enums import PurchaseStatus, RunAccountStatus, RunStatus
from api.models import (
    CloudAccount,
    CollectionRun,
    CollectionRunAccount,
    Commitment,
    PurchaseHistory,
    Recommendation,
    SavingsSnapshot,
)

FINISHED = (
    RunAccountStatus.ok.value,
    RunAccountStatus.failed.value,
    RunAccountStatus.timeout.value,
    RunAccountStatus.skipped.value,
)
UNFINISHED = (RunAccountStatus.pending.value, RunAccountStatus.running.value)


@dataclass(frozen=True)
class RunAccountRef:
    """Which account a run row is for (a frozen copy, safe across transactions)."""

    cloud_account_id: uuid.UUID
    provider: str
    account_name: str


async def get_running_run(session: AsyncSession) -> CollectionRun | None:
    return (
        await session.execute(
            select(CollectionRun)
            .where(CollectionRun.status == RunStatus.running.value)
            .execution_options(populate_existing=True)
        )
    ).scalar_one_or_none()


async def insert_running_run(
    session: AsyncSession,
    *,
    trigger: str,
    requested_account_ids: list[uuid.UUID] | None,
    owner: str,
    created_by: uuid.UUID | None,
    now: datetime,
) -> uuid.UUID | None:
    """Insert a running run; None when another is running (the partial unique index)."""
    statement = (
        insert(CollectionRun)
        .values(
            trigger=trigger,
            status=RunStatus.running.value,
            requested_account_ids=requested_account_ids,
            owner=owner,
            heartbeat_at=now,
            created_by=created_by,
            started_at=now,
        )
        .on_conflict_do_nothing(
            index_elements=["status"],
            # A literal, not a bound parameter: once PostgreSQL switches the prepared statement
            # to a generic plan (after five runs on a connection) it can no longer match the
            # partial unique index to a parameter and fails with 42P10.
            index_where=text("status = 'running'"),
        )
        .returning(CollectionRun.id)
    )
    return (await session.execute(statement)).scalar_one_or_none()


async def target_accounts(
    session: AsyncSession, account_ids: Sequence[uuid.UUID] | None, scope: AccountScope
) -> list[CloudAccount]:
    """Accounts a run covers: the named ones (any state), else every enabled one in scope."""
    query = select(CloudAccount).where(scope.where(CloudAccount.id))
    if account_ids is not None:
        query = query.where(CloudAccount.id.in_(list(account_ids)))
    else:
        query = query.where(CloudAccount.enabled.is_(True))
    return list(
        (await session.execute(query.order_by(CloudAccount.name, CloudAccount.id))).scalars()
    )


async def accounts_by_id(
    session: AsyncSession, account_ids: Sequence[uuid.UUID]
) -> list[CloudAccount]:
    if not account_ids:
        return []
    query = select(CloudAccount).where(CloudAccount.id.in_(list(account_ids)))
    return list((await session.execute(query)).scalars())


async def add_run_accounts(
    session: AsyncSession,
    run_id: uuid.UUID,
    accounts: Sequence[CloudAccount],
    *,
    skipped: dict[uuid.UUID, str],
    now: datetime,
) -> None:
    """One row per account: ``pending``, or ``skipped`` with its reason."""
    if not accounts:
        return
    rows = [
        {
            "run_id": run_id,
            "cloud_account_id": account.id,
            "account_name": account.name,
            "account_external_id": account.external_id,
            "provider": account.provider,
            "status": (
                RunAccountStatus.skipped.value
                if account.id in skipped
                else RunAccountStatus.pending.value
            ),
            "error": skipped.get(account.id),
            "finished_at": now if account.id in skipped else None,
            "duration_ms": 0 if account.id in skipped else None,
        }
        for account in accounts
    ]
    await session.execute(insert(CollectionRunAccount), rows)
    await session.execute(
        update(CollectionRun).where(CollectionRun.id == run_id).values(accounts_total=len(rows))
    )


async def count_unfinished(session: AsyncSession, run_id: uuid.UUID) -> int:
    """Set the run's unfinished counter from its rows (once, when the rows are written)."""
    result = await session.execute(
        update(CollectionRun)
        .where(CollectionRun.id == run_id)
        .values(
            accounts_unfinished=select(func.count())
            .where(
                CollectionRunAccount.run_id == run_id,
                CollectionRunAccount.status.in_(UNFINISHED),
            )
            .scalar_subquery()
        )
        .returning(CollectionRun.accounts_unfinished)
    )
    return int(result.scalar_one())


async def count_down(session: AsyncSession, run_id: uuid.UUID) -> int | None:
    """One of the run's accounts finished: the unfinished count left, None if not running.

    The update locks the run's row, so concurrent finishes of the last accounts are
    serialised and exactly one of them sees 0.
    """
    result = await session.execute(
        update(CollectionRun)
        .where(CollectionRun.id == run_id, CollectionRun.status == RunStatus.running.value)
        .values(accounts_unfinished=CollectionRun.accounts_unfinished - 1)
        .returning(CollectionRun.accounts_unfinished)
    )
    remaining = result.scalar_one_or_none()
    return None if remaining is None else int(remaining)


@dataclass(frozen=True)
class ClaimedAccount:
    """A row this worker claimed: the finish write must carry ``token``."""

    run_id: uuid.UUID
    ref: RunAccountRef
    token: uuid.UUID
    attempt: int


async def running_run_ids(session: AsyncSession) -> list[uuid.UUID]:
    rows = await session.execute(
        select(CollectionRun.id).where(CollectionRun.status == RunStatus.running.value)
    )
    return list(rows.scalars())


async def in_flight(session: AsyncSession, fresh_after: datetime) -> tuple[int, dict[str, int]]:
    """Claimed rows whose worker is alive (fresh heartbeat), in all and per worker."""
    rows = await session.execute(
        select(CollectionRunAccount.claimed_by, func.count())
        .where(
            CollectionRunAccount.status == RunAccountStatus.running.value,
            CollectionRunAccount.heartbeat_at >= fresh_after,
        )
        .group_by(CollectionRunAccount.claimed_by)
    )
    per_worker = {str(worker): int(count) for worker, count in rows}
    return sum(per_worker.values()), per_worker


async def claim_accounts(
    session: AsyncSession,
    run_id: uuid.UUID,
    *,
    worker: str,
    limit: int,
    stale_before: datetime,
    now: datetime,
) -> list[ClaimedAccount]:
    """Claim up to ``limit`` rows of the run: stale claims first (their worker died), then
    pending rows in name order; rows another transaction holds are skipped, not waited for."""
    claimed: list[ClaimedAccount] = []
    condition: ColumnElement[bool]
    order: list[ColumnElement[Any]]
    for stale in (True, False):
        wanted = limit - len(claimed)
        if wanted <= 0:
            break
        if stale:
            condition = (CollectionRunAccount.status == RunAccountStatus.running.value) & (
                func.coalesce(CollectionRunAccount.heartbeat_at, CollectionRunAccount.started_at)
                < stale_before
            )
            order = [CollectionRunAccount.heartbeat_at.asc()]
        else:
            condition = CollectionRunAccount.status == RunAccountStatus.pending.value
            order = [
                CollectionRunAccount.account_name.asc(),
                CollectionRunAccount.cloud_account_id.asc(),
            ]
        candidates = (
            select(CollectionRunAccount.id)
            .where(
                CollectionRunAccount.run_id == run_id,
                CollectionRunAccount.cloud_account_id.is_not(None),
                condition,
            )
            .order_by(*order)
            .limit(wanted)
            .with_for_update(skip_locked=True)
            .scalar_subquery()
        )
        rows = await session.execute(
            update(CollectionRunAccount)
            .where(CollectionRunAccount.id.in_(candidates))
            .values(
                status=RunAccountStatus.running.value,
                claimed_by=worker,
                claim_token=func.gen_random_uuid(),
                claimed_at=now,
                heartbeat_at=now,
                started_at=now,
                attempts=CollectionRunAccount.attempts + 1,
            )
            .returning(
                CollectionRunAccount.cloud_account_id,
                CollectionRunAccount.provider,
                CollectionRunAccount.account_name,
                CollectionRunAccount.claim_token,
                CollectionRunAccount.attempts,
            )
        )
        claimed.extend(
            ClaimedAccount(run_id, RunAccountRef(r[0], r[1], r[2]), r[3], r[4])
            for r in rows
            if r[0] is not None and r[3] is not None
        )
    claimed.sort(key=lambda c: (c.ref.account_name, c.ref.cloud_account_id))
    return claimed


async def heartbeat_claims(
    session: AsyncSession, tokens: Sequence[uuid.UUID], now: datetime
) -> set[uuid.UUID]:
    """Refresh these claims; returns the tokens still held (a re-claimed row has a new one)."""
    if not tokens:
        return set()
    rows = await session.execute(
        update(CollectionRunAccount)
        .where(
            CollectionRunAccount.claim_token.in_(list(tokens)),
            CollectionRunAccount.status == RunAccountStatus.running.value,
        )
        .values(heartbeat_at=now)
        .returning(CollectionRunAccount.claim_token)
    )
    return {token for token in rows.scalars() if token is not None}


async def heartbeat_running_runs(session: AsyncSession, now: datetime) -> None:
    """Every live worker keeps running runs alive: a run goes stale only when none is left."""
    await session.execute(
        update(CollectionRun)
        .where(CollectionRun.status == RunStatus.running.value)
        .values(heartbeat_at=now)
    )


async def release_claims(session: AsyncSession, tokens: Sequence[uuid.UUID]) -> int:
    """Hand unfinished claims back to the queue (a worker shutting down)."""
    if not tokens:
        return 0
    result = await session.execute(
        update(CollectionRunAccount)
        .where(
            CollectionRunAccount.claim_token.in_(list(tokens)),
            CollectionRunAccount.status == RunAccountStatus.running.value,
        )
        .values(
            status=RunAccountStatus.pending.value,
            claimed_by=None,
            claim_token=None,
            heartbeat_at=None,
            started_at=None,
        )
        .returning(CollectionRunAccount.id)
    )
    return len(result.all())


async def pending_accounts(session: AsyncSession, run_id: uuid.UUID) -> list[RunAccountRef]:
    rows = await session.execute(
        select(
            CollectionRunAccount.cloud_account_id,
            CollectionRunAccount.provider,
            CollectionRunAccount.account_name,
        )
        .where(
            CollectionRunAccount.run_id == run_id,
            CollectionRunAccount.status == RunAccountStatus.pending.value,
            CollectionRunAccount.cloud_account_id.is_not(None),
        )
        .order_by(CollectionRunAccount.account_name, CollectionRunAccount.cloud_account_id)
    )
    return [RunAccountRef(r[0], r[1], r[2]) for r in rows if r[0] is not None]


async def mark_account_running(
    session: AsyncSession, run_id: uuid.UUID, account_id: uuid.UUID, now: datetime
) -> None:
    await session.execute(
        update(CollectionRunAccount)
        .where(
            CollectionRunAccount.run_id == run_id,
            CollectionRunAccount.cloud_account_id == account_id,
        )
        .values(status=RunAccountStatus.running.value, started_at=now)
    )


async def finish_account(
    session: AsyncSession,
    run_id: uuid.UUID,
    account_id: uuid.UUID,
    *,
    status: RunAccountStatus,
    error: str | None,
    warnings: list[str],
    duration_ms: int,
    recommendation_count: int = 0,
    commitment_count: int = 0,
    now: datetime,
    claim_token: uuid.UUID | None = None,
) -> bool:
    """Record an account's outcome unless it already has one; True when recorded.

    With ``claim_token`` only while that claim still holds the row: a worker whose claim
    went stale and was re-claimed by another finds nothing to update.
    """
    conditions = [
        CollectionRunAccount.run_id == run_id,
        CollectionRunAccount.cloud_account_id == account_id,
        CollectionRunAccount.status.in_(UNFINISHED),
    ]
    if claim_token is not None:
        conditions.append(CollectionRunAccount.claim_token == claim_token)
    result = await session.execute(
        update(CollectionRunAccount)
        .where(*conditions)
        .values(
            status=status.value,
            error=error,
            warnings=warnings,
            duration_ms=duration_ms,
            recommendation_count=recommendation_count,
            commitment_count=commitment_count,
            finished_at=now,
            started_at=func.coalesce(CollectionRunAccount.started_at, now),
            heartbeat_at=None,
        )
        .returning(CollectionRunAccount.id)
    )
    return result.first() is not None


async def heartbeat(session: AsyncSession, run_id: uuid.UUID, now: datetime) -> bool:
    """Refresh the run's heartbeat; False when it is no longer running."""
    result = await session.execute(
        update(CollectionRun)
        .where(CollectionRun.id == run_id, CollectionRun.status == RunStatus.running.value)
        .values(heartbeat_at=now)
        .returning(CollectionRun.id)
    )
    return result.first() is not None


async def close_run(
    session: AsyncSession,
    run_id: uuid.UUID,
    *,
    status: RunStatus,
    error: str | None,
    now: datetime,
) -> bool:
    """Finish a running run: unfinished accounts fail with ``error``, counts are totalled.

    True when this call closed it (False: it was no longer running).
    """
    if error is not None:
        await session.execute(
            update(CollectionRunAccount)
            .where(
                CollectionRunAccount.run_id == run_id,
                CollectionRunAccount.status.in_(UNFINISHED),
            )
            .values(
                status=RunAccountStatus.failed.value,
                error=error,
                finished_at=now,
                heartbeat_at=None,
            )
        )
    counts = (
        await session.execute(
            select(
                func.count(),
                func.count().filter(CollectionRunAccount.status == RunAccountStatus.ok.value),
                func.count().filter(
                    CollectionRunAccount.status.in_(
                        [RunAccountStatus.failed.value, RunAccountStatus.timeout.value]
                    )
                ),
                func.coalesce(func.sum(CollectionRunAccount.recommendation_count), 0),
            ).where(CollectionRunAccount.run_id == run_id)
        )
    ).one()
    closed = await session.execute(
        update(CollectionRun)
        .where(CollectionRun.id == run_id, CollectionRun.status == RunStatus.running.value)
        .values(
            status=status.value,
            error=error,
            finished_at=now,
            accounts_unfinished=0,
            accounts_total=counts[0],
            accounts_ok=counts[1],
            accounts_failed=counts[2],
            recommendation_count=counts[3],
        )
        .returning(CollectionRun.id)
    )
    return closed.first() is not None


async def stale_run_ids(session: AsyncSession, stale_before: datetime) -> list[uuid.UUID]:
    """Running runs whose process stopped heart-beating (locked, skipping ones being closed)."""
    rows = await session.execute(
        select(CollectionRun.id)
        .where(
            CollectionRun.status == RunStatus.running.value,
            func.coalesce(CollectionRun.heartbeat_at, CollectionRun.started_at) < stale_before,
        )
        .with_for_update(skip_locked=True)
    )
    return list(rows.scalars())


async def latest_run_started_at(session: AsyncSession) -> datetime | None:
    return (await session.execute(select(func.max(CollectionRun.started_at)))).scalar_one()


async def get_run(
    session: AsyncSession | AsyncReadSession, run_id: uuid.UUID
) -> CollectionRun | None:
    return (
        await session.execute(
            select(CollectionRun)
            .where(CollectionRun.id == run_id)
            .execution_options(populate_existing=True)
        )
    ).scalar_one_or_none()


async def list_runs(session: AsyncSession | AsyncReadSession, limit: int) -> list[CollectionRun]:
    return list(
        (
            await session.execute(
                select(CollectionRun)
                .order_by(CollectionRun.started_at.desc(), CollectionRun.id.desc())
                .limit(limit)
            )
        ).scalars()
    )


async def run_accounts(
    session: AsyncSession | AsyncReadSession,
    run_id: uuid.UUID,
    scope: AccountScope,
    *,
    finished_only: bool = False,
) -> list[CollectionRunAccount]:
    """The run's account rows inside ``scope``: finished ones in finishing order first."""
    query = select(CollectionRunAccount).where(
        CollectionRunAccount.run_id == run_id, scope.where(CollectionRunAccount.cloud_account_id)
    )
    if finished_only:
        query = query.where(CollectionRunAccount.status.in_(FINISHED))
    unfinished_last = case((CollectionRunAccount.finished_at.is_(None), 1), else_=0)
    query = query.order_by(
        unfinished_last,
        CollectionRunAccount.finished_at,
        CollectionRunAccount.account_name,
        CollectionRunAccount.id,
    ).execution_options(populate_existing=True)
    return list((await session.execute(query)).scalars())


SNAPSHOT_SERVICE = "all"  # one snapshot row per account (and currency) covers every service


async def write_savings_snapshot(
    session: AsyncSession,
    *,
    account_id: uuid.UUID,
    account_external_id: str,
    account_name: str,
    provider: str,
    captured_at: datetime,
) -> None:
    """One row per currency: the account's potential, committed and realised monthly figures.

    Computed from the rows the sweep just wrote (SPEC §7 definitions), so history shows
    exactly what the dashboard showed at that moment.
    """
    zero = Decimal(0)
    figures: dict[str, dict[str, Decimal | int]] = {}

    def slot(currency: str) -> dict[str, Decimal | int]:
        return figures.setdefault(
            currency, {"potential": zero, "committed": zero, "realized": zero, "active": 0}
        )

    potential = await session.execute(
        select(Recommendation.currency, func.sum(Recommendation.estimated_monthly_savings))
        .where(Recommendation.cloud_account_id == account_id)
        .group_by(Recommendation.currency)
    )
    for currency, total in potential:
        slot(currency)["potential"] = total or zero
    amortised = case(
        (Commitment.term > 0, Commitment.upfront_cost / (Commitment.term * 12)), else_=0
    )
    committed = await session.execute(
        select(
            Commitment.currency,
            func.sum(Commitment.recurring_monthly_cost + amortised),
            func.count(),
        )
        .where(Commitment.cloud_account_id == account_id, Commitment.state == "active")
        .group_by(Commitment.currency)
    )
    for currency, total, active in committed:
        entry = slot(currency)
        entry["committed"] = total or zero
        entry["active"] = active
    history_currency = func.coalesce(PurchaseHistory.currency, literal_column("'USD'"))
    realized = await session.execute(
        select(history_currency, func.sum(PurchaseHistory.estimated_monthly_savings))
        .where(
            PurchaseHistory.cloud_account_id == account_id,
            PurchaseHistory.status == PurchaseStatus.purchased.value,
            (PurchaseHistory.expires_at.is_(None)) | (PurchaseHistory.expires_at > captured_at),
        )
        .group_by(history_currency)
    )
    for currency, realized_total in realized:
        slot(currency)["realized"] = realized_total or zero
    if not figures:
        slot("USD")
    session.add_all(
        SavingsSnapshot(
            cloud_account_id=account_id,
            account_external_id=account_external_id,
            account_name=account_name,
            provider=provider,
            service=SNAPSHOT_SERVICE,
            captured_at=captured_at,
            potential_monthly_savings=Decimal(entry["potential"]),
            committed_monthly=Decimal(entry["committed"]),
            realized_monthly_savings=Decimal(entry["realized"]),
            active_commitment_count=int(entry["active"]),
            currency=currency,
        )
        for currency, entry in sorted(figures.items())
    )
    await session.flush()
