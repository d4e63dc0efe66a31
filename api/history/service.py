"""Purchase history rules: scope checks, time ranges, zero-filled buckets, per-currency totals."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from api.auth.permissions import AccountScope
from api.db import AsyncReadSession
from api.enums import Provider, PurchaseStatus
from api.errors import ValidationFailed
from api.history import repository
from api.history.repository import AccountFilter, HistoryFilters
from api.history.schemas import (
    Analytics,
    Breakdown,
    BreakdownItem,
    Bucket,
    CurrencySeries,
    Dimension,
    HistoryPage,
    Interval,
)
from api.kit.pagination import decode_time_id_cursor, encode_cursor

DEFAULT_LIMIT = 50
MAX_BUCKETS = 1000
# Time series stay well inside datetime's range (bucket arithmetic never overflows).
MIN_YEAR, MAX_YEAR = 1970, 9000
MONEY_PLACES = Decimal("0.000001")
ZERO = Decimal(0).quantize(MONEY_PLACES)
# When no start is given, the series covers this much before ``end``.
DEFAULT_SPAN = {Interval.daily: 30, Interval.weekly: 12, Interval.monthly: 12}


def money(value: Decimal | None) -> Decimal:
    """A money value at the storage scale (6 places); None is zero."""
    return ZERO if value is None else Decimal(value).quantize(MONEY_PLACES)


def account_filter(scope: AccountScope, account_ids: Sequence[uuid.UUID]) -> AccountFilter:
    """The filter for ``account_ids``; 403 when any of them is outside ``scope`` (SPEC §2)."""
    scope.require(account_ids)
    return AccountFilter(scope=scope, account_ids=tuple(account_ids))


def as_utc(value: datetime | None) -> datetime | None:
    """A time without an offset is UTC."""
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def check_range(start: datetime | None, end: datetime | None) -> None:
    if start is not None and end is not None and end <= start:
        raise ValidationFailed.for_field("end", "must be after start")


async def list_history(
    session: AsyncReadSession,
    scope: AccountScope,
    *,
    account_ids: Sequence[uuid.UUID],
    provider: Provider | None,
    plan_id: uuid.UUID | None,
    status: PurchaseStatus | None,
    start: datetime | None,
    end: datetime | None,
    limit: int,
    cursor: str | None,
) -> HistoryPage:
    """One page of purchase history, newest first, inside the caller's scope."""
    start, end = as_utc(start), as_utc(end)
    check_range(start, end)
    filters = HistoryFilters(
        accounts=account_filter(scope, account_ids),
        provider=provider,
        plan_id=plan_id,
        status=status.value if status is not None else None,
        start=start,
        end=end,
    )
    after = decode_time_id_cursor(cursor) if cursor else None
    rows = await repository.history_page(session, filters, limit=limit, after=after)
    next_cursor = None
    if len(rows) > limit:
        rows = rows[:limit]
        next_cursor = encode_cursor(rows[-1]["purchased_at"], rows[-1]["id"])
    # Validated once as a page (faster than one model per row).
    return HistoryPage.model_validate({"history": rows, "next_cursor": next_cursor})


def bucket_start(moment: datetime, interval: Interval) -> datetime:
    """The UTC start of the bucket holding ``moment`` (weeks start on Monday, as date_trunc)."""
    day = moment.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    if interval is Interval.weekly:
        return day - timedelta(days=day.weekday())
    if interval is Interval.monthly:
        return day.replace(day=1)
    return day


def next_bucket(start: datetime, interval: Interval) -> datetime:
    if interval is Interval.daily:
        return start + timedelta(days=1)
    if interval is Interval.weekly:
        return start + timedelta(weeks=1)
    return (start.replace(day=28) + timedelta(days=4)).replace(day=1)


def bucket_starts(start: datetime, end: datetime, interval: Interval) -> list[datetime]:
    """Every bucket start from the one holding ``start`` up to (not including) ``end``."""
    starts: list[datetime] = []
    current = bucket_start(start, interval)
    while current < end:
        starts.append(current)
        if len(starts) > MAX_BUCKETS:
            raise ValidationFailed.for_field(
                "start", f"the range holds more than {MAX_BUCKETS} {interval.value} buckets"
            )
        current = next_bucket(current, interval)
    return starts


def series_range(
    interval: Interval, start: datetime | None, end: datetime | None, now: datetime
) -> tuple[datetime, datetime]:
    """The (first bucket start, exclusive end) a time series covers; defaults end at now."""
    end = as_utc(end) or now
    start = as_utc(start)
    for name, value in (("start", start), ("end", end)):
        if value is not None and not MIN_YEAR <= value.year <= MAX_YEAR:
            raise ValidationFailed.for_field(name, f"must be between {MIN_YEAR} and {MAX_YEAR}")
    if start is None:
        start = bucket_start(end, interval)
        for _ in range(DEFAULT_SPAN[interval] - 1):
            start = bucket_start(start - timedelta(days=1), interval)
    check_range(start, end)
    return bucket_start(start, interval), end


def _empty_bucket(at: datetime) -> Bucket:
    return Bucket(
        bucket_start=at,
        purchase_count=0,
        upfront_cost=ZERO,
        monthly_cost=ZERO,
        committed_spend=ZERO,
        estimated_monthly_savings=ZERO,
    )


async def analytics(
    session: AsyncReadSession,
    scope: AccountScope,
    *,
    interval: Interval,
    account_ids: Sequence[uuid.UUID],
    provider: Provider | None,
    status: PurchaseStatus,
    start: datetime | None,
    end: datetime | None,
    now: datetime | None = None,
) -> Analytics:
    """Committed spend and estimated savings per bucket and currency, empty buckets as zeros."""
    first, last = series_range(interval, start, end, now or datetime.now(UTC))
    starts = bucket_starts(first, last, interval)
    filters = HistoryFilters(
        accounts=account_filter(scope, account_ids),
        provider=provider,
        status=status.value,
        start=first,
        end=last,
    )
    rows = await repository.analytics(session, filters, interval.value)
    per_currency: dict[str, dict[datetime, dict[str, Any]]] = {}
    for row in rows:
        per_currency.setdefault(row["currency"], {})[row["bucket"].astimezone(UTC)] = row
    series = []
    for currency in sorted(per_currency):
        found = per_currency[currency]
        buckets = []
        for at in starts:
            hit = found.get(at)
            buckets.append(_empty_bucket(at) if hit is None else _bucket(at, hit))
        series.append(CurrencySeries(currency=currency, buckets=buckets))
    return Analytics(interval=interval, start=first, end=last, status=status, series=series)


def _bucket(at: datetime, row: dict[str, Any]) -> Bucket:
    return Bucket(
        bucket_start=at,
        purchase_count=row["purchase_count"],
        upfront_cost=money(row["upfront_cost"]),
        monthly_cost=money(row["monthly_cost"]),
        committed_spend=money(row["committed_spend"]),
        estimated_monthly_savings=money(row["estimated_monthly_savings"]),
    )


async def breakdown(
    session: AsyncReadSession,
    scope: AccountScope,
    *,
    dimension: Dimension,
    account_ids: Sequence[uuid.UUID],
    provider: Provider | None,
    status: PurchaseStatus,
    start: datetime | None,
    end: datetime | None,
) -> Breakdown:
    """Purchase totals per service, region, account or provider, and per currency."""
    start, end = as_utc(start), as_utc(end)
    check_range(start, end)
    filters = HistoryFilters(
        accounts=account_filter(scope, account_ids),
        provider=provider,
        status=status.value,
        start=start,
        end=end,
    )
    rows = await repository.breakdown(session, filters, dimension.value)
    items = []
    for row in rows:
        account_id = row.get("cloud_account_id")
        key = row["key"] if dimension is not Dimension.account else account_id
        items.append(
            BreakdownItem(
                key=None if key is None else str(key),
                cloud_account_id=account_id,
                account_name=row.get("account_name"),
                account_external_id=row.get("account_external_id"),
                provider=row.get("provider") if dimension is Dimension.account else None,
                currency=row["currency"],
                purchase_count=row["purchase_count"],
                upfront_cost=money(row["upfront_cost"]),
                monthly_cost=money(row["monthly_cost"]),
                committed_spend=money(row["committed_spend"]),
                estimated_monthly_savings=money(row["estimated_monthly_savings"]),
            )
        )
    return Breakdown(dimension=dimension, status=status, breakdown=items)
