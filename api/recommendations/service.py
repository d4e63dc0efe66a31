"""Recommendation listing rules: sorting, keyset cursors, freshness."""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any, cast

from sqlalchemy.ext.asyncio import AsyncSession

from api.auth.permissions import AccountScope
from api.db import AsyncReadSession
from api.enums import Provider, RunAccountStatus
from api.errors import ValidationFailed
from api.kit.pagination import decode_cursor, encode_cursor
from api.recommendations import repository
from api.recommendations.repository import SortField
from api.recommendations.schemas import (
    FreshnessOut,
    RecommendationFilters,
    RecommendationList,
    RecommendationSort,
)

_BAD_CURSOR = "invalid cursor: use next_cursor from a previous page with the same sort"


def _cursor_position(cursor: str, sort: SortField) -> tuple[Any, uuid.UUID]:
    named_sort, value, ident = decode_cursor(cursor, 3)
    if named_sort != sort:
        raise ValidationFailed.for_field("cursor", _BAD_CURSOR)
    try:
        position: Any = datetime.fromisoformat(value) if sort == "collected_at" else Decimal(value)
        return position, uuid.UUID(ident)
    except (ValueError, InvalidOperation):
        raise ValidationFailed.for_field("cursor", _BAD_CURSOR) from None


async def list_recommendations(
    session: AsyncSession | AsyncReadSession,
    scope: AccountScope,
    filters: RecommendationFilters,
    *,
    sort: RecommendationSort,
    limit: int,
    cursor: str | None,
) -> RecommendationList:
    """One page of the visible recommendations (enabled accounts inside ``scope``)."""
    if filters.account_ids is not None:
        scope.require(filters.account_ids)
    descending = sort.value.startswith("-")
    field = cast(SortField, sort.value.removeprefix("-"))
    after = _cursor_position(cursor, field) if cursor else None
    rows = await repository.list_recommendations(
        session, scope, filters, sort=field, descending=descending, after=after, limit=limit + 1
    )
    more = len(rows) > limit
    rows = rows[:limit]
    next_cursor = None
    if more and rows:
        last = rows[-1]
        next_cursor = encode_cursor(field, last[field], last["id"])
    # Validated once as a page, straight from the row mappings (faster than one model per row).
    return RecommendationList.model_validate({"recommendations": rows, "next_cursor": next_cursor})


async def freshness(
    session: AsyncSession | AsyncReadSession,
    scope: AccountScope,
    *,
    provider: Provider | None,
    account_ids: list[uuid.UUID] | None,
) -> list[FreshnessOut]:
    """Per visible account: when it was last collected and how its latest collection ended."""
    if account_ids is not None:
        scope.require(account_ids)
    rows = await repository.freshness(session, scope, provider=provider, account_ids=account_ids)
    return [
        FreshnessOut(
            cloud_account_id=row.cloud_account_id,
            account_name=row.account_name,
            account_external_id=row.account_external_id,
            provider=Provider(row.provider),
            last_collected_at=row.last_collected_at,
            last_status=RunAccountStatus(row.last_status) if row.last_status else None,
            last_error=row.last_error,
            # Stale: never collected, or the latest attempt did not complete.
            stale=row.last_collected_at is None or row.last_status != RunAccountStatus.ok.value,
            recommendation_count=row.recommendation_count,
        )
        for row in rows
    ]
