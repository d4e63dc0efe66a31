"""Every query on the commitments inventory: the per-account replace and the list."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import ColumnElement, delete, func, literal, select, tuple_, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from api.auth.permissions import AccountScope
from api.commitments.schemas import CommitmentFilters
from api.db import AsyncReadSession
from api.enums import Payment, Provider
from api.models import CloudAccount, Commitment, PurchaseHistory
from api.providers.base import CommitmentData

REFRESHED = (
    "service",
    "region",
    "resource_type",
    "engine",
    "count",
    "term",
    "payment",
    "start",
    "end",
    "state",
    "upfront_cost",
    "recurring_monthly_cost",
    "currency",
    "utilization_percent",
    "details",
    "collected_at",
)
# Sorting by end date puts open-ended commitments last (keyset needs a non-null value).
NO_END = datetime(9999, 12, 31, tzinfo=UTC)
_PAYMENTS = {p.value for p in Payment}


def _row(
    account_id: uuid.UUID, provider: Provider, item: CommitmentData, collected_at: datetime
) -> dict[str, Any]:
    payment = item.payment if item.payment in _PAYMENTS else None
    details = dict(item.details)
    if item.payment is not None and payment is None:
        details.setdefault("payment_option", item.payment)
    return {
        "cloud_account_id": account_id,
        "provider": provider.value,
        "provider_commitment_id": item.provider_commitment_id,
        "service": item.service,
        "region": item.region,
        "resource_type": item.resource_type,
        "engine": item.engine,
        "count": item.count,
        "term": item.term,
        "payment": payment,
        "start": item.start,
        "end": item.end,
        "state": item.state.lower(),
        "upfront_cost": item.upfront_cost,
        "recurring_monthly_cost": item.recurring_monthly_cost,
        "currency": item.currency,
        "utilization_percent": item.utilization_percent,
        "details": details,
        "collected_at": collected_at,
    }


async def replace_account_commitments(
    session: AsyncSession,
    account_id: uuid.UUID,
    provider: Provider,
    items: Sequence[CommitmentData],
    collected_at: datetime,
) -> int:
    """Make ``items`` the account's inventory (rows keep their id and ``purchased_by_cudly``)."""
    distinct = {item.provider_commitment_id: item for item in items}
    rows = [_row(account_id, provider, item, collected_at) for item in distinct.values()]
    if rows:
        statement = insert(Commitment)
        statement = statement.on_conflict_do_update(
            index_elements=["cloud_account_id", "provider", "provider_commitment_id"],
            set_={name: statement.excluded[name] for name in REFRESHED},
        )
        await session.execute(statement, rows)
    await session.execute(
        delete(Commitment).where(
            Commitment.cloud_account_id == account_id, Commitment.collected_at != collected_at
        )
    )
    # Link what CUDly bought (its purchase history names the provider's commitment id).
    bought = (
        select(literal(1))
        .where(
            PurchaseHistory.cloud_account_id == Commitment.cloud_account_id,
            PurchaseHistory.provider_commitment_id == Commitment.provider_commitment_id,
        )
        .exists()
    )
    await session.execute(
        update(Commitment)
        .where(
            Commitment.cloud_account_id == account_id,
            Commitment.purchased_by_cudly.is_(False),
            bought,
        )
        .values(purchased_by_cudly=True)
    )
    return len(rows)


@dataclass(frozen=True)
class CommitmentRow:
    commitment: Commitment
    account_name: str


def _end_key() -> ColumnElement[datetime]:
    return func.coalesce(Commitment.end, literal(NO_END))


async def list_commitments(
    session: AsyncSession | AsyncReadSession,
    scope: AccountScope,
    filters: CommitmentFilters,
    *,
    after: tuple[datetime, uuid.UUID] | None,
    limit: int,
) -> list[CommitmentRow]:
    """One keyset page ordered by end date (soonest first), id as tie-break; scoped in SQL."""
    end_key = _end_key()
    query = (
        select(Commitment, CloudAccount.name)
        .join(CloudAccount, CloudAccount.id == Commitment.cloud_account_id)
        .where(CloudAccount.enabled.is_(True), scope.where(Commitment.cloud_account_id))
    )
    if filters.provider is not None:
        query = query.where(Commitment.provider == filters.provider.value)
    if filters.service is not None:
        query = query.where(Commitment.service == filters.service)
    if filters.account_ids is not None:
        query = query.where(Commitment.cloud_account_id.in_(list(filters.account_ids)))
    if filters.state is not None:
        query = query.where(Commitment.state == filters.state)
    if filters.expiring_before is not None:
        query = query.where(
            Commitment.end.is_not(None),
            Commitment.end <= filters.expiring_before,
            Commitment.end >= func.now(),  # already ended is not "expiring"
        )
    if after is not None:
        query = query.where(tuple_(end_key, Commitment.id) > tuple_(literal(after[0]), after[1]))
    query = query.order_by(end_key, Commitment.id).limit(limit)
    return [CommitmentRow(r[0], r[1]) for r in await session.execute(query)]
