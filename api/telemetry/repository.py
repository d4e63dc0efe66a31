"""The queries behind the scrape-time gauges and the readiness check (read-only: the callers
hand in a session from the read-only session maker)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ColumnElement, distinct, func, select, text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from api.enums import ApprovalStatus, PurchaseLineStatus, RunStatus
from api.models import (
    CloudAccount,
    CollectionRun,
    CollectionRunAccount,
    PurchaseApproval,
    PurchaseLine,
)


async def ping(engine: AsyncEngine) -> None:
    """``SELECT 1`` on a fresh connection, as /api/health does (not api.db's: importing it
    from telemetry would close an import cycle)."""
    async with engine.connect() as connection:
        await connection.execute(text("SELECT 1"))


def _age_s(
    column: ColumnElement[datetime] | InstrumentedAttribute[datetime],
) -> ColumnElement[float]:
    """Seconds since the oldest value of ``column``, by the database clock; 0 when none."""
    return func.coalesce(func.extract("epoch", func.now() - func.min(column)), 0)


async def purchase_lines_by_status(session: AsyncSession) -> dict[str, int]:
    rows = await session.execute(
        select(PurchaseLine.status, func.count()).group_by(PurchaseLine.status)
    )
    return {status: count for status, count in rows.tuples()}


async def oldest_purchasing_age_s(session: AsyncSession) -> float:
    claimed = func.coalesce(PurchaseLine.claimed_at, PurchaseLine.updated_at)
    value = await session.scalar(
        select(_age_s(claimed)).where(PurchaseLine.status == PurchaseLineStatus.purchasing.value)
    )
    return float(value or 0)


async def approval_backlog(session: AsyncSession) -> tuple[int, float]:
    """(execution groups awaiting approval, seconds the oldest has waited)."""
    row = (
        await session.execute(
            select(
                func.count(distinct(PurchaseApproval.execution_group_id)),
                _age_s(PurchaseApproval.created_at),
            ).where(PurchaseApproval.status == ApprovalStatus.awaiting.value)
        )
    ).one()
    return int(row[0]), float(row[1] or 0)


async def running_runs(session: AsyncSession) -> tuple[int, float]:
    """(collection runs in ``running``, age in seconds of the oldest)."""
    row = (
        await session.execute(
            select(func.count(), _age_s(CollectionRun.started_at)).where(
                CollectionRun.status == RunStatus.running.value
            )
        )
    ).one()
    return int(row[0]), float(row[1] or 0)


async def enabled_account_count(session: AsyncSession) -> int:
    value = await session.scalar(
        select(func.count()).select_from(CloudAccount).where(CloudAccount.enabled.is_(True))
    )
    return int(value or 0)


async def last_finished_run_accounts(session: AsyncSession) -> dict[str, int]:
    """Account statuses of the most recently finished collection run (empty before any)."""
    last = (
        select(CollectionRun.id)
        .where(CollectionRun.status != RunStatus.running.value)
        .order_by(CollectionRun.finished_at.desc().nulls_last(), CollectionRun.started_at.desc())
        .limit(1)
        .scalar_subquery()
    )
    rows = await session.execute(
        select(CollectionRunAccount.status, func.count())
        .where(CollectionRunAccount.run_id == last)
        .group_by(CollectionRunAccount.status)
    )
    return {status: count for status, count in rows.tuples()}


async def migration_revisions(session: AsyncSession) -> set[str]:
    """The revisions recorded in ``alembic_version`` (empty when the table is missing)."""
    exists = await session.scalar(text("SELECT to_regclass('alembic_version') IS NOT NULL"))
    if not exists:
        return set()
    rows = await session.execute(text("SELECT version_num FROM alembic_version"))
    return {str(value) for value in rows.scalars()}
