"""Every query on the commitments inventory: the per-account replace and the list."""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import ColumnElement, func, literal, select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from api.auth.permissions import AccountScope
from api.commitments.schemas import CommitmentFilters
from api.db import AsyncReadSession
from api.enums import Payment, Provider
from api.kit.driver import in_transaction
from api.models import CloudAccount, Commitment
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


_UPDATES = ", ".join(f'"{name}" = EXCLUDED."{name}"' for name in REFRESHED)  # "end" is reserved
# The whole replace in one statement: the incoming inventory as typed arrays, upserted on
# (account, provider, commitment id) so rows keep their id, linked to what CUDly bought (its
# purchase history names the provider's commitment id; a link once made stays), and the
# account's rows not returned deleted — disjoint rows, so one statement is safe.
# $1 account, $2 provider, $3 collected_at, $4.. one array per column.
_REPLACE = f"""
WITH incoming AS (
    SELECT * FROM unnest(
        $4::text[], $5::text[], $6::text[], $7::text[], $8::text[], $9::numeric[],
        $10::smallint[], $11::text[], $12::timestamptz[], $13::timestamptz[], $14::text[],
        $15::numeric[], $16::numeric[], $17::text[], $18::numeric[], $19::text[]
    ) AS i(provider_commitment_id, service, region, resource_type, engine, count, term,
           payment, start, "end", state, upfront_cost, recurring_monthly_cost, currency,
           utilization_percent, details)
), upserted AS (
    INSERT INTO commitments (cloud_account_id, provider, provider_commitment_id, service,
        region, resource_type, engine, count, term, payment, start, "end", state,
        upfront_cost, recurring_monthly_cost, currency, utilization_percent, details,
        collected_at, purchased_by_cudly)
    SELECT $1, $2, i.provider_commitment_id, i.service, i.region, i.resource_type, i.engine,
        i.count, i.term, i.payment, i.start, i."end", i.state, i.upfront_cost,
        i.recurring_monthly_cost, i.currency, i.utilization_percent, i.details::jsonb, $3,
        EXISTS (SELECT 1 FROM purchase_history h WHERE h.cloud_account_id = $1
                AND h.provider_commitment_id = i.provider_commitment_id)
    FROM incoming i
    ON CONFLICT (cloud_account_id, provider, provider_commitment_id) DO UPDATE SET {_UPDATES},
        purchased_by_cudly = commitments.purchased_by_cudly OR EXCLUDED.purchased_by_cudly
    RETURNING 1
)
DELETE FROM commitments c
WHERE c.cloud_account_id = $1 AND NOT (c.provider = $2 AND c.provider_commitment_id = ANY($4))
"""  # noqa: S608 - every name is a constant of this module


def _columns(item: CommitmentData) -> tuple[Any, ...]:
    """One commitment's values for ``_REPLACE``'s arrays, in its order."""
    payment = item.payment if item.payment in _PAYMENTS else None
    details = dict(item.details)
    if item.payment is not None and payment is None:
        details.setdefault("payment_option", item.payment)
    return (
        item.provider_commitment_id,
        item.service,
        item.region,
        item.resource_type,
        item.engine,
        item.count,
        item.term,
        payment,
        item.start,
        item.end,
        item.state.lower(),
        item.upfront_cost,
        item.recurring_monthly_cost,
        item.currency,
        item.utilization_percent,
        json.dumps(details),
    )


async def replace_account_commitments(
    session: AsyncSession,
    account_id: uuid.UUID,
    provider: Provider,
    items: Sequence[CommitmentData],
    collected_at: datetime,
) -> int:
    """Make ``items`` the account's inventory (rows keep their id and ``purchased_by_cudly``).

    Call inside the account's replace transaction (after its recommendations' lock).
    """
    distinct = {item.provider_commitment_id: item for item in items}
    columns = list(zip(*(_columns(item) for item in distinct.values()), strict=True))
    driver = await in_transaction(session)
    await driver.execute(
        _REPLACE,
        account_id,
        provider.value,
        collected_at,
        *(map(list, columns) if columns else [[]] * 16),
    )
    return len(distinct)


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
