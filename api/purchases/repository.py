"""Every query of executions, purchase lines and purchase history.

State changes are compare-and-set ``UPDATE … WHERE status = … RETURNING``: two workers (or a
worker and a retry) can never both move one row out of the same state.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from api.auth.permissions import AccountScope
from api.db import Readable
from api.enums import ApprovalStatus, ExecutionStatus, PurchaseLineStatus, PurchaseStatus
from api.kit.locks import xact_lock
from api.models import (
    CloudAccount,
    PurchaseApproval,
    PurchaseExecution,
    PurchaseHistory,
    PurchaseLine,
    PurchasePlan,
    Recommendation,
)

ACTIVE = (ExecutionStatus.pending.value, ExecutionStatus.running.value)
FINISHED = (
    ExecutionStatus.completed.value,
    ExecutionStatus.failed.value,
    ExecutionStatus.partial.value,
    ExecutionStatus.rejected.value,
    ExecutionStatus.expired.value,
)


# --- executions --------------------------------------------------------------------------------


async def add_executions(session: AsyncSession, executions: Sequence[PurchaseExecution]) -> None:
    session.add_all(executions)
    await session.flush()
    for execution in executions:
        await session.refresh(execution)


async def get_execution(session: Readable, execution_id: uuid.UUID) -> PurchaseExecution | None:
    result = await session.execute(
        select(PurchaseExecution)
        .where(PurchaseExecution.id == execution_id)
        .execution_options(populate_existing=True)
    )
    return result.scalar_one_or_none()


async def group_executions(session: Readable, group_id: uuid.UUID) -> list[PurchaseExecution]:
    result = await session.execute(
        select(PurchaseExecution)
        .where(PurchaseExecution.execution_group_id == group_id)
        .order_by(PurchaseExecution.account_name, PurchaseExecution.id)
        .execution_options(populate_existing=True)
    )
    return list(result.scalars())


async def list_executions(
    session: Readable,
    scope: AccountScope,
    *,
    plan_id: uuid.UUID | None = None,
    group_id: uuid.UUID | None = None,
    account_ids: Sequence[uuid.UUID] | None = None,
    status: str | None = None,
    limit: int = 500,
) -> list[PurchaseExecution]:
    """Newest first. A scoped caller sees only executions of accounts in scope (rows whose
    account was deleted have no account left to be scoped by: admins and unscoped only)."""
    query = select(PurchaseExecution).where(scope.where(PurchaseExecution.cloud_account_id))
    if plan_id is not None:
        query = query.where(PurchaseExecution.plan_id == plan_id)
    if group_id is not None:
        query = query.where(PurchaseExecution.execution_group_id == group_id)
    if account_ids:
        query = query.where(PurchaseExecution.cloud_account_id.in_(list(account_ids)))
    if status is not None:
        query = query.where(PurchaseExecution.status == status)
    query = query.order_by(PurchaseExecution.created_at.desc(), PurchaseExecution.id).limit(limit)
    result = await session.execute(query.execution_options(populate_existing=True))
    return list(result.scalars())


async def lines_of(
    session: Readable, execution_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, list[PurchaseLine]]:
    found: dict[uuid.UUID, list[PurchaseLine]] = {i: [] for i in execution_ids}
    if not execution_ids:
        return found
    result = await session.execute(
        select(PurchaseLine)
        .where(PurchaseLine.execution_id.in_(list(execution_ids)))
        .order_by(PurchaseLine.estimated_monthly_savings.desc().nulls_last(), PurchaseLine.id)
        .execution_options(populate_existing=True)
    )
    for line in result.scalars():
        found[line.execution_id].append(line)
    return found


async def claim_execution(
    session: AsyncSession, execution_id: uuid.UUID, worker: str, stale_after_s: float
) -> bool:
    """pending → running for ``worker``; or take over a running one whose heartbeat is stale."""
    stale = func.now() - timedelta(seconds=stale_after_s)
    result = await session.execute(
        update(PurchaseExecution)
        .where(
            PurchaseExecution.id == execution_id,
            or_(
                PurchaseExecution.status == ExecutionStatus.pending.value,
                and_(
                    PurchaseExecution.status == ExecutionStatus.running.value,
                    or_(
                        PurchaseExecution.heartbeat_at.is_(None),
                        PurchaseExecution.heartbeat_at < stale,
                    ),
                ),
            ),
        )
        .values(
            status=ExecutionStatus.running.value,
            claimed_by=worker,
            heartbeat_at=func.now(),
            started_at=func.coalesce(PurchaseExecution.started_at, func.now()),
        )
        .returning(PurchaseExecution.id)
    )
    return result.scalar_one_or_none() is not None


CLAIM_LOCK = "purchases.claim"


def _stale(stale_after_s: float) -> Any:
    return or_(
        PurchaseExecution.heartbeat_at.is_(None),
        PurchaseExecution.heartbeat_at < func.now() - timedelta(seconds=stale_after_s),
    )


async def claim_next(
    session: AsyncSession,
    worker: str,
    *,
    stale_after_s: float,
    parallelism: int,
    holding: Sequence[uuid.UUID] = (),
) -> uuid.UUID | None:
    """Claim the oldest claimable execution for ``worker`` — or None when there is none, or
    when ``parallelism`` executions are already in flight across every process.

    Claimable: ``pending``, or ``running`` with a stale heartbeat (its worker died: the
    claimer reconciles its in-flight lines first) — never one in ``holding``, which this
    worker is still running (its heartbeat may lag under load, but it is alive). In flight:
    ``running`` with a fresh heartbeat. The count and the claim happen under one transaction advisory lock, so two
    claimers can never both take the last free slot; ``FOR UPDATE SKIP LOCKED`` passes over
    rows another transaction is changing (a heartbeat, a finish) instead of waiting for them.
    """
    await xact_lock(session, CLAIM_LOCK)
    in_flight = await session.execute(
        select(func.count())
        .select_from(PurchaseExecution)
        .where(
            PurchaseExecution.status == ExecutionStatus.running.value,
            ~_stale(stale_after_s),
        )
    )
    if int(in_flight.scalar_one()) >= parallelism:
        return None
    candidate_query = (
        select(PurchaseExecution.id)
        .where(
            or_(
                PurchaseExecution.status == ExecutionStatus.pending.value,
                and_(
                    PurchaseExecution.status == ExecutionStatus.running.value,
                    _stale(stale_after_s),
                ),
            )
        )
        .order_by(PurchaseExecution.created_at, PurchaseExecution.id)
        .limit(1)
        .with_for_update(skip_locked=True)
    )
    if holding:
        candidate_query = candidate_query.where(PurchaseExecution.id.not_in(list(holding)))
    candidate = await session.execute(candidate_query)
    execution_id = candidate.scalar_one_or_none()
    if execution_id is None:
        return None
    await session.execute(
        update(PurchaseExecution)
        .where(PurchaseExecution.id == execution_id)
        .values(
            status=ExecutionStatus.running.value,
            claimed_by=worker,
            heartbeat_at=func.now(),
            # The moment of the claim (after the count), not the transaction's start.
            started_at=func.coalesce(PurchaseExecution.started_at, func.clock_timestamp()),
        )
    )
    return execution_id


async def heartbeat(session: AsyncSession, execution_id: uuid.UUID, worker: str) -> bool:
    """Refresh the claim; False when another worker has taken the execution over."""
    result = await session.execute(
        update(PurchaseExecution)
        .where(
            PurchaseExecution.id == execution_id,
            PurchaseExecution.claimed_by == worker,
            PurchaseExecution.status == ExecutionStatus.running.value,
        )
        .values(heartbeat_at=func.now())
        .returning(PurchaseExecution.id)
    )
    return result.scalar_one_or_none() is not None


async def finish_execution(
    session: AsyncSession,
    execution_id: uuid.UUID,
    worker: str,
    status: ExecutionStatus,
    *,
    error: str | None = None,
    note: str | None = None,
) -> bool:
    result = await session.execute(
        update(PurchaseExecution)
        .where(
            PurchaseExecution.id == execution_id,
            PurchaseExecution.claimed_by == worker,
            PurchaseExecution.status == ExecutionStatus.running.value,
        )
        .values(status=status.value, error=error, note=note, finished_at=func.now())
        .returning(PurchaseExecution.id)
    )
    return result.scalar_one_or_none() is not None


async def reopen_execution(session: AsyncSession, execution_id: uuid.UUID) -> bool:
    """A finished partial/failed execution back to pending (retry); its failed lines too."""
    result = await session.execute(
        update(PurchaseExecution)
        .where(
            PurchaseExecution.id == execution_id,
            PurchaseExecution.status.in_(
                [ExecutionStatus.partial.value, ExecutionStatus.failed.value]
            ),
        )
        .values(status=ExecutionStatus.pending.value, error=None, finished_at=None)
        .returning(PurchaseExecution.id)
    )
    if result.scalar_one_or_none() is None:
        return False
    await session.execute(
        update(PurchaseLine)
        .where(
            PurchaseLine.execution_id == execution_id,
            PurchaseLine.status == PurchaseLineStatus.failed.value,
        )
        .values(status=PurchaseLineStatus.pending.value, error=None)
    )
    return True


# --- inputs of line building -------------------------------------------------------------------


async def get_plan(session: Readable, plan_id: uuid.UUID) -> PurchasePlan | None:
    return await session.get(PurchasePlan, plan_id)


async def get_account(session: AsyncSession, account_id: uuid.UUID) -> CloudAccount | None:
    result = await session.execute(
        select(CloudAccount)
        .where(CloudAccount.id == account_id)
        .execution_options(populate_existing=True)
    )
    return result.scalar_one_or_none()


async def recommendations_for(
    session: Readable, account_id: uuid.UUID, provider: str, services: Sequence[str]
) -> list[Recommendation]:
    result = await session.execute(
        select(Recommendation)
        .where(
            Recommendation.cloud_account_id == account_id,
            Recommendation.provider == provider,
            Recommendation.service.in_(list(services)),
        )
        .order_by(Recommendation.estimated_monthly_savings.desc(), Recommendation.id)
    )
    return list(result.scalars())


UsageKey = tuple[str, str, str, str, str]


async def bought_since(
    session: Readable, provider: str, external_id: str, since: datetime
) -> dict[UsageKey, Decimal]:
    """Count bought per (service, region, resource type, engine, variant) since ``since``."""
    result = await session.execute(
        select(
            PurchaseHistory.service,
            func.coalesce(PurchaseHistory.region, ""),
            func.coalesce(PurchaseHistory.resource_type, ""),
            func.coalesce(PurchaseHistory.engine, ""),
            PurchaseHistory.variant,
            func.sum(PurchaseHistory.count),
        )
        .where(
            PurchaseHistory.provider == provider,
            PurchaseHistory.account_external_id == external_id,
            PurchaseHistory.status == PurchaseStatus.purchased.value,
            PurchaseHistory.purchased_at >= since,
        )
        .group_by(
            PurchaseHistory.service,
            PurchaseHistory.region,
            PurchaseHistory.resource_type,
            PurchaseHistory.engine,
            PurchaseHistory.variant,
        )
    )
    found: dict[UsageKey, Decimal] = {}
    for service, region, resource_type, engine, variant, count in result.tuples():
        key = (service, region, resource_type, engine, variant)
        found[key] = found.get(key, Decimal(0)) + Decimal(count or 0)
    return found


async def group_commitment(session: AsyncSession, group_id: uuid.UUID) -> tuple[Decimal, Decimal]:
    """(upfront, monthly) of the lines the group will buy or has bought (not skipped/failed)."""
    result = await session.execute(
        select(
            func.coalesce(func.sum(PurchaseLine.upfront_cost), 0),
            func.coalesce(func.sum(PurchaseLine.recurring_monthly_cost), 0),
        )
        .join(PurchaseExecution, PurchaseExecution.id == PurchaseLine.execution_id)
        .where(
            PurchaseExecution.execution_group_id == group_id,
            PurchaseLine.status.not_in(
                [PurchaseLineStatus.skipped.value, PurchaseLineStatus.failed.value]
            ),
        )
    )
    upfront, monthly = result.one()
    return Decimal(upfront or 0), Decimal(monthly or 0)


async def known_commitment_ids(
    session: Readable, provider: str, external_id: str, service: str
) -> list[str]:
    """Commitment ids already attributed to a purchase of this account (EC2 reconcile)."""
    result = await session.execute(
        select(PurchaseLine.provider_commitment_id)
        .join(PurchaseExecution, PurchaseExecution.id == PurchaseLine.execution_id)
        .where(
            PurchaseExecution.provider == provider,
            PurchaseExecution.account_external_id == external_id,
            PurchaseLine.service == service,
            PurchaseLine.provider_commitment_id.is_not(None),
        )
    )
    return [str(i) for i in result.scalars()]


# --- lines -------------------------------------------------------------------------------------


async def add_lines(session: AsyncSession, lines: Sequence[PurchaseLine]) -> None:
    session.add_all(lines)
    await session.flush()


async def set_line_status(
    session: AsyncSession,
    line_id: uuid.UUID,
    *,
    expected: Sequence[PurchaseLineStatus],
    **values: Any,
) -> PurchaseLine | None:
    """Compare-and-set: change the line only while its status is one of ``expected``."""
    result = await session.execute(
        update(PurchaseLine)
        .where(PurchaseLine.id == line_id, PurchaseLine.status.in_([s.value for s in expected]))
        .values(**values)
        .returning(PurchaseLine)
        .execution_options(populate_existing=True)
    )
    return result.scalar_one_or_none()


async def claim_line(session: AsyncSession, line_id: uuid.UUID) -> PurchaseLine | None:
    """pending → purchasing (the durable intent, committed before the cloud call)."""
    return await set_line_status(
        session,
        line_id,
        expected=[PurchaseLineStatus.pending],
        status=PurchaseLineStatus.purchasing.value,
        attempts=PurchaseLine.attempts + 1,
        claimed_at=func.now(),
        error=None,
    )


async def add_history(session: AsyncSession, row: PurchaseHistory) -> None:
    session.add(row)
    await session.flush()


async def active_execution_count(session: Readable, account_id: uuid.UUID) -> int:
    result = await session.execute(
        select(func.count())
        .select_from(PurchaseExecution)
        .where(
            PurchaseExecution.cloud_account_id == account_id,
            PurchaseExecution.status.in_(ACTIVE),
        )
    )
    return int(result.scalar_one())


# --- approvals ---------------------------------------------------------------------------------


async def add_approval(session: AsyncSession, approval: PurchaseApproval) -> None:
    session.add(approval)
    await session.flush()


async def approval_of_group(
    session: Readable, group_id: uuid.UUID, *, for_update: bool = False
) -> PurchaseApproval | None:
    query = select(PurchaseApproval).where(PurchaseApproval.execution_group_id == group_id)
    if for_update:
        query = query.with_for_update()
    result = await session.execute(query.execution_options(populate_existing=True))
    return result.scalar_one_or_none()


async def approvals_of_groups(
    session: Readable, group_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, PurchaseApproval]:
    if not group_ids:
        return {}
    result = await session.execute(
        select(PurchaseApproval).where(PurchaseApproval.execution_group_id.in_(list(group_ids)))
    )
    return {a.execution_group_id: a for a in result.scalars()}


async def decide_approval(
    session: AsyncSession, approval_id: uuid.UUID, status: ApprovalStatus, **values: Any
) -> bool:
    """Compare-and-set ``awaiting → status``: exactly one decision wins."""
    result = await session.execute(
        update(PurchaseApproval)
        .where(
            PurchaseApproval.id == approval_id,
            PurchaseApproval.status == ApprovalStatus.awaiting.value,
        )
        .values(status=status.value, decided_at=func.now(), **values)
        .returning(PurchaseApproval.id)
    )
    return result.scalar_one_or_none() is not None


async def move_group_executions(
    session: AsyncSession,
    group_id: uuid.UUID,
    *,
    source: Sequence[ExecutionStatus],
    target: ExecutionStatus,
) -> list[uuid.UUID]:
    """Every execution of the group in one of ``source`` → ``target`` (compare-and-set)."""
    finished = target in (ExecutionStatus.rejected, ExecutionStatus.expired)
    result = await session.execute(
        update(PurchaseExecution)
        .where(
            PurchaseExecution.execution_group_id == group_id,
            PurchaseExecution.status.in_([s.value for s in source]),
        )
        .values(
            status=target.value,
            **({"finished_at": func.now()} if finished else {}),
        )
        .returning(PurchaseExecution.id)
    )
    return list(result.scalars())


async def await_approval(session: AsyncSession, execution_id: uuid.UUID, worker: str) -> bool:
    """running → awaiting_approval, by the worker holding the execution."""
    result = await session.execute(
        update(PurchaseExecution)
        .where(
            PurchaseExecution.id == execution_id,
            PurchaseExecution.claimed_by == worker,
            PurchaseExecution.status == ExecutionStatus.running.value,
        )
        .values(status=ExecutionStatus.awaiting_approval.value)
        .returning(PurchaseExecution.id)
    )
    return result.scalar_one_or_none() is not None


async def expire_due_approvals(session: AsyncSession) -> list[PurchaseApproval]:
    result = await session.execute(
        update(PurchaseApproval)
        .where(
            PurchaseApproval.status == ApprovalStatus.awaiting.value,
            PurchaseApproval.expires_at < func.now(),
        )
        .values(status=ApprovalStatus.expired.value, decided_at=func.now())
        .returning(PurchaseApproval)
    )
    return list(result.scalars())
