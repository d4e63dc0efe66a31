"""Listing the commitments inventory: filters, expiry window, keyset cursor."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from api.auth.permissions import AccountScope
from api.commitments import repository
from api.commitments.schemas import CommitmentFilters, CommitmentList, CommitmentOut
from api.db import AsyncReadSession
from api.enums import Provider
from api.kit.pagination import decode_time_id_cursor, encode_cursor


async def list_commitments(
    session: AsyncSession | AsyncReadSession,
    scope: AccountScope,
    filters: CommitmentFilters,
    *,
    expiring_within_days: int | None,
    limit: int,
    cursor: str | None,
) -> CommitmentList:
    """One page of the inventory of the enabled accounts you may see, soonest expiry first."""
    if filters.account_ids is not None:
        scope.require(filters.account_ids)
    if expiring_within_days is not None:
        filters = CommitmentFilters(
            provider=filters.provider,
            service=filters.service,
            account_ids=filters.account_ids,
            state=filters.state,
            expiring_before=datetime.now(UTC) + timedelta(days=expiring_within_days),
        )
    after = decode_time_id_cursor(cursor) if cursor else None
    rows = await repository.list_commitments(session, scope, filters, after=after, limit=limit + 1)
    more = len(rows) > limit
    rows = rows[:limit]
    items = [
        CommitmentOut(
            id=row.commitment.id,
            cloud_account_id=row.commitment.cloud_account_id,
            account_name=row.account_name,
            provider=Provider(row.commitment.provider),
            service=row.commitment.service,
            provider_commitment_id=row.commitment.provider_commitment_id,
            region=row.commitment.region,
            resource_type=row.commitment.resource_type,
            engine=row.commitment.engine,
            count=row.commitment.count,
            term=row.commitment.term,
            payment=row.commitment.payment,
            start=row.commitment.start,
            end=row.commitment.end,
            state=row.commitment.state,
            upfront_cost=row.commitment.upfront_cost,
            recurring_monthly_cost=row.commitment.recurring_monthly_cost,
            currency=row.commitment.currency,
            utilization_percent=row.commitment.utilization_percent,
            purchased_by_cudly=row.commitment.purchased_by_cudly,
            collected_at=row.commitment.collected_at,
            details=row.commitment.details,
        )
        for row in rows
    ]
    next_cursor = None
    if more and rows:
        last = rows[-1].commitment
        next_cursor = encode_cursor(last.end or repository.NO_END, last.id)
    return CommitmentList(commitments=items, next_cursor=next_cursor)
