"""Every query on recommendations: the per-account replace (collection) and the list (API)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import ColumnElement, delete, func, select, true, tuple_
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from api.auth.permissions import AccountScope
from api.db import AsyncReadSession
from api.enums import Provider, RunAccountStatus
from api.kit.locks import xact_lock
from api.models import CloudAccount, CollectionRunAccount, Recommendation
from api.providers.base import RecommendationData
from api.recommendations.schemas import RecommendationFilters

NATURAL_KEY = (
    "cloud_account_id",
    "provider",
    "service",
    "region",
    "resource_type",
    "engine",
    "term",
    "payment",
    "variant",
)
# Columns a repeated collection refreshes; the id (and so every link to it) stays.
REFRESHED = (
    "collection_run_id",
    "count",
    "upfront_cost",
    "recurring_monthly_cost",
    "on_demand_monthly_cost",
    "estimated_monthly_savings",
    "savings_percent",
    "currency",
    "collected_at",
    "details",
)
COLUMNS = NATURAL_KEY + REFRESHED

IngestMethod = Literal["auto", "executemany", "copy"]
# Measured in bench/bench_collection.py (docs/benchmarks.md): COPY + one merge was ~1.7x
# executemany at 20 and at 500 rows per account on the quieter run; under heavy machine load
# executemany edged ahead at 20 rows, so "auto" (executemany below COPY_FROM_ROWS) remains.
DEFAULT_INGEST: IngestMethod = "copy"
COPY_FROM_ROWS = 100
_STAGING = "_recommendations_in"


def _row(
    account_id: uuid.UUID,
    provider: Provider,
    run_id: uuid.UUID | None,
    item: RecommendationData,
    collected_at: datetime,
) -> dict[str, Any]:
    return {
        "cloud_account_id": account_id,
        "provider": provider.value,
        "service": item.service,
        "region": item.region,
        "resource_type": item.resource_type,
        "engine": item.engine,
        "term": item.term,
        "payment": item.payment,
        "variant": item.variant,
        "collection_run_id": run_id,
        "count": item.count,
        "upfront_cost": item.upfront_cost,
        "recurring_monthly_cost": item.recurring_monthly_cost,
        "on_demand_monthly_cost": item.on_demand_monthly_cost,
        "estimated_monthly_savings": item.estimated_monthly_savings,
        "savings_percent": item.savings_percent,
        "currency": item.currency,
        "collected_at": collected_at,
        "details": item.details,
    }


async def _upsert_executemany(session: AsyncSession, rows: list[dict[str, Any]]) -> None:
    statement = insert(Recommendation)
    statement = statement.on_conflict_do_update(
        constraint="uq_recommendations_natural_key",
        set_={name: statement.excluded[name] for name in REFRESHED},
    )
    await session.execute(statement, rows)


async def _upsert_copy(session: AsyncSession, rows: list[dict[str, Any]]) -> None:
    """COPY into a per-connection staging table, then one INSERT … SELECT … ON CONFLICT."""
    connection = await session.connection()
    raw = (await connection.get_raw_connection()).driver_connection
    assert raw is not None and raw.is_in_transaction()
    await raw.execute(
        f"CREATE TEMP TABLE IF NOT EXISTS {_STAGING} "
        "(LIKE recommendations INCLUDING DEFAULTS) ON COMMIT DELETE ROWS"
    )
    records = [
        tuple(json.dumps(row[c]) if c == "details" else row[c] for c in COLUMNS) for row in rows
    ]
    await raw.copy_records_to_table(_STAGING, records=records, columns=list(COLUMNS))
    names = ", ".join(COLUMNS)
    key = ", ".join(NATURAL_KEY)
    updates = ", ".join(f"{name} = EXCLUDED.{name}" for name in REFRESHED)
    # Every name here is a constant of this module: nothing user-supplied reaches the SQL.
    await raw.execute(
        f"INSERT INTO recommendations ({names}) SELECT {names} FROM {_STAGING} "  # noqa: S608
        f"ON CONFLICT ({key}) DO UPDATE SET {updates}"
    )
    await raw.execute(f"DELETE FROM {_STAGING}")  # noqa: S608


async def replace_account_recommendations(
    session: AsyncSession,
    account_id: uuid.UUID,
    provider: Provider,
    run_id: uuid.UUID | None,
    items: Sequence[RecommendationData],
    collected_at: datetime,
    *,
    method: IngestMethod = DEFAULT_INGEST,
) -> int:
    """Make ``items`` the account's recommendation set: upsert on the natural key, delete the rest.

    ``items`` must have distinct keys (sum them first). Rows keep their id while their key is
    returned; ``collected_at`` marks this sweep's rows, so the delete spares exactly them.
    """
    rows = [_row(account_id, provider, run_id, item, collected_at) for item in items]
    # One writer per account at a time. Also begins the transaction on the driver connection,
    # which the COPY path uses directly (outside one, its staging rows would vanish per
    # statement).
    await xact_lock(session, f"cudly:recommendations:{account_id}")
    if method == "auto":
        method = "copy" if len(rows) >= COPY_FROM_ROWS else "executemany"
    if rows:
        if method == "copy":
            await _upsert_copy(session, rows)
        else:
            await _upsert_executemany(session, rows)
    await session.execute(
        delete(Recommendation).where(
            Recommendation.cloud_account_id == account_id,
            Recommendation.collected_at != collected_at,
        )
    )
    return len(rows)


# --- the list ------------------------------------------------------------------------------

SortField = Literal["estimated_monthly_savings", "savings_percent", "upfront_cost", "collected_at"]
SORT_COLUMNS: dict[str, InstrumentedAttribute[Any]] = {
    "estimated_monthly_savings": Recommendation.estimated_monthly_savings,
    "savings_percent": Recommendation.savings_percent,
    "upfront_cost": Recommendation.upfront_cost,
    "collected_at": Recommendation.collected_at,
}


@dataclass(frozen=True)
class RecommendationRow:
    recommendation: Recommendation
    account_name: str
    account_external_id: str


def _visible(scope: AccountScope, filters: RecommendationFilters) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = [
        CloudAccount.enabled.is_(True),
        scope.where(Recommendation.cloud_account_id),
    ]
    if filters.provider is not None:
        conditions.append(Recommendation.provider == filters.provider.value)
    if filters.service is not None:
        conditions.append(Recommendation.service == filters.service)
    if filters.region is not None:
        conditions.append(Recommendation.region == filters.region)
    if filters.account_ids is not None:
        conditions.append(Recommendation.cloud_account_id.in_(list(filters.account_ids)))
    if filters.min_savings is not None:
        conditions.append(Recommendation.estimated_monthly_savings >= filters.min_savings)
    return conditions


async def list_recommendations(
    session: AsyncSession | AsyncReadSession,
    scope: AccountScope,
    filters: RecommendationFilters,
    *,
    sort: SortField,
    descending: bool,
    after: tuple[Any, uuid.UUID] | None,
    limit: int,
) -> list[RecommendationRow]:
    """One keyset page (``limit`` rows) under ``sort`` with id as tie-break; scoped in SQL."""
    column = SORT_COLUMNS[sort]
    query = (
        select(Recommendation, CloudAccount.name, CloudAccount.external_id)
        .join(CloudAccount, CloudAccount.id == Recommendation.cloud_account_id)
        .where(*_visible(scope, filters))
    )
    if after is not None:
        position = tuple_(column, Recommendation.id)
        query = query.where(position < after if descending else position > after)
    if descending:
        query = query.order_by(column.desc(), Recommendation.id.desc())
    else:
        query = query.order_by(column.asc(), Recommendation.id.asc())
    rows = await session.execute(query.limit(limit))
    return [RecommendationRow(r[0], r[1], r[2]) for r in rows]


@dataclass(frozen=True)
class Freshness:
    cloud_account_id: uuid.UUID
    account_name: str
    account_external_id: str
    provider: str
    last_collected_at: datetime | None
    last_status: str | None
    last_error: str | None
    last_finished_at: datetime | None
    recommendation_count: int


async def freshness(
    session: AsyncSession | AsyncReadSession,
    scope: AccountScope,
    *,
    provider: Provider | None,
    account_ids: Sequence[uuid.UUID] | None,
) -> list[Freshness]:
    """Per enabled account: its last successful collection and its latest outcome."""
    run = CollectionRunAccount
    last_ok = (
        select(func.max(run.finished_at))
        .where(run.cloud_account_id == CloudAccount.id, run.status == RunAccountStatus.ok.value)
        .scalar_subquery()
    )
    latest = (
        select(run.status, run.error, run.finished_at)
        .where(run.cloud_account_id == CloudAccount.id, run.finished_at.is_not(None))
        .order_by(run.finished_at.desc(), run.id.desc())
        .limit(1)
        .lateral()
    )
    count = (
        select(func.count())
        .where(Recommendation.cloud_account_id == CloudAccount.id)
        .scalar_subquery()
    )
    query = (
        select(
            CloudAccount.id,
            CloudAccount.name,
            CloudAccount.external_id,
            CloudAccount.provider,
            last_ok,
            latest.c.status,
            latest.c.error,
            latest.c.finished_at,
            count,
        )
        .outerjoin(latest, true())
        .where(CloudAccount.enabled.is_(True), scope.where(CloudAccount.id))
        .order_by(CloudAccount.name, CloudAccount.id)
    )
    if provider is not None:
        query = query.where(CloudAccount.provider == provider.value)
    if account_ids is not None:
        query = query.where(CloudAccount.id.in_(list(account_ids)))
    return [Freshness(*row) for row in await session.execute(query)]
