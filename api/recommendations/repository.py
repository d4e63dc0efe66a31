"""Every query on recommendations: the per-account replace (collection) and the list (API)."""

from __future__ import annotations

import functools
import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

import asyncpg
from sqlalchemy import ColumnElement, Select, bindparam, func, select, true, tuple_
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from api.auth.permissions import AccountScope
from api.db import AsyncReadSession
from api.enums import Provider, RunAccountStatus
from api.history.repository import AccountFilter, AccountsShape, bound_account_conditions
from api.kit.driver import XACT_LOCK_SQL, driver_connection
from api.kit.locks import lock_key
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

IngestMethod = Literal["auto", "executemany", "copy", "unnest"]
# Measured in bench/bench_collection.py (docs/benchmarks.md, Collection): one statement over
# typed arrays (``unnest``: upsert and delete together) costs one round trip and no staging
# table, the fastest for the few dozen rows an account usually has; COPY into a staging
# table + merge wins from a few hundred rows. "auto" picks by row count.
DEFAULT_INGEST: IngestMethod = "auto"
COPY_FROM_ROWS = 200
_STAGING = "_recommendations_in"
_KEY = ", ".join(NATURAL_KEY)
_UPDATES = ", ".join(f"{name} = EXCLUDED.{name}" for name in REFRESHED)
_KEY_MATCH = " AND ".join(f"i.{name} = r.{name}" for name in NATURAL_KEY[2:])
# The whole replace in one statement: the incoming set as typed arrays, upserted on the natural
# key (ids stay), and the account's rows whose key is not in it deleted. The two parts touch
# disjoint rows (a deleted key is by definition not upserted), so one statement is safe.
# $1 account, $2 provider, $3 run, $4 collected_at, $5.. one array per column.
_REPLACE_UNNEST = f"""
WITH incoming AS (
    SELECT * FROM unnest(
        $5::text[], $6::text[], $7::text[], $8::text[], $9::smallint[], $10::text[],
        $11::text[], $12::numeric[], $13::numeric[], $14::numeric[], $15::numeric[],
        $16::numeric[], $17::numeric[], $18::text[], $19::text[]
    ) AS i(service, region, resource_type, engine, term, payment, variant, count,
           upfront_cost, recurring_monthly_cost, on_demand_monthly_cost,
           estimated_monthly_savings, savings_percent, currency, details)
), upserted AS (
    INSERT INTO recommendations ({", ".join(COLUMNS)})
    SELECT $1, $2, service, region, resource_type, engine, term, payment, variant, $3, count,
           upfront_cost, recurring_monthly_cost, on_demand_monthly_cost,
           estimated_monthly_savings, savings_percent, currency, $4, details::jsonb
    FROM incoming
    ON CONFLICT ({_KEY}) DO UPDATE SET {_UPDATES}
    RETURNING 1
)
DELETE FROM recommendations r
WHERE r.cloud_account_id = $1
  AND NOT (r.provider = $2 AND EXISTS (SELECT 1 FROM incoming i WHERE {_KEY_MATCH}))
"""  # noqa: S608 - every name is a constant of this module
_DELETE_NOT_COLLECTED = (
    "DELETE FROM recommendations WHERE cloud_account_id = $1 AND collected_at <> $2"
)


def _record(
    account_id: uuid.UUID,
    provider: Provider,
    run_id: uuid.UUID | None,
    item: RecommendationData,
    collected_at: datetime,
) -> tuple[Any, ...]:
    """One row in ``COLUMNS`` order (``details`` as JSON text)."""
    values = _columns(item)  # the item's own values: 7 of the key, 7 figures, details
    return (
        account_id,
        provider.value,
        *values[:7],
        run_id,
        *values[7:14],
        collected_at,
        values[14],
    )


def _row(record: tuple[Any, ...]) -> dict[str, Any]:
    row = dict(zip(COLUMNS, record, strict=True))
    row["details"] = json.loads(row["details"])
    return row


async def _upsert_executemany(session: AsyncSession, records: list[tuple[Any, ...]]) -> None:
    statement = insert(Recommendation)
    statement = statement.on_conflict_do_update(
        constraint="uq_recommendations_natural_key",
        set_={name: statement.excluded[name] for name in REFRESHED},
    )
    await session.execute(statement, [_row(record) for record in records])


async def _upsert_copy(driver: asyncpg.Connection, records: list[tuple[Any, ...]]) -> None:
    """COPY into a per-connection staging table, then one INSERT … SELECT … ON CONFLICT."""
    await driver.execute(
        f"CREATE TEMP TABLE IF NOT EXISTS {_STAGING} "
        "(LIKE recommendations INCLUDING DEFAULTS) ON COMMIT DELETE ROWS"
    )
    await driver.copy_records_to_table(_STAGING, records=records, columns=list(COLUMNS))
    names = ", ".join(COLUMNS)
    # Every name here is a constant of this module: nothing user-supplied reaches the SQL.
    await driver.execute(
        f"INSERT INTO recommendations ({names}) SELECT {names} FROM {_STAGING} "  # noqa: S608
        f"ON CONFLICT ({_KEY}) DO UPDATE SET {_UPDATES}"
    )
    await driver.execute(f"DELETE FROM {_STAGING}")  # noqa: S608


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
    returned; ``collected_at`` marks this sweep's rows.
    """
    # One writer per account at a time (taken first: it also begins the driver's transaction).
    driver = await driver_connection(
        session, XACT_LOCK_SQL, lock_key(f"cudly:recommendations:{account_id}")
    )
    if method == "auto":
        method = "copy" if len(items) >= COPY_FROM_ROWS else "unnest"
    if method == "unnest":
        columns = list(zip(*(_columns(item) for item in items), strict=True)) or [()] * 15
        await driver.execute(
            _REPLACE_UNNEST, account_id, provider.value, run_id, collected_at, *map(list, columns)
        )
        return len(items)
    records = [_record(account_id, provider, run_id, item, collected_at) for item in items]
    if records:
        if method == "copy":
            await _upsert_copy(driver, records)
        else:
            await _upsert_executemany(session, records)
    await driver.execute(_DELETE_NOT_COLLECTED, account_id, collected_at)
    return len(records)


def _columns(item: RecommendationData) -> tuple[Any, ...]:
    """The per-row values of ``_REPLACE_UNNEST``'s arrays, in its order."""
    return (
        item.service,
        item.region,
        item.resource_type,
        item.engine,
        item.term,
        item.payment,
        item.variant,
        item.count,
        item.upfront_cost,
        item.recurring_monthly_cost,
        item.on_demand_monthly_cost,
        item.estimated_monthly_savings,
        item.savings_percent,
        item.currency,
        json.dumps(item.details),
    )


# --- the list ------------------------------------------------------------------------------
# Core columns of the tables (no ORM entities): the page's rows go straight into the response
# models. Each statement shape is built once with bound parameters, so a request only binds
# values: no per-request construction or cache-key walk (docs/benchmarks.md, dashboard).

SortField = Literal["estimated_monthly_savings", "savings_percent", "upfront_cost", "collected_at"]
_R = Recommendation.__table__.c
_A = CloudAccount.__table__.c
LIST_COLUMNS = (
    _R.id,
    _R.cloud_account_id,
    _A.name.label("account_name"),
    _A.external_id.label("account_external_id"),
    _R.provider,
    _R.service,
    _R.region,
    _R.resource_type,
    _R.engine,
    _R.term,
    _R.payment,
    _R.variant,
    _R.count,
    _R.upfront_cost,
    _R.recurring_monthly_cost,
    _R.on_demand_monthly_cost,
    _R.estimated_monthly_savings,
    _R.savings_percent,
    _R.currency,
    _R.collected_at,
    _R.details,
)


@dataclass(frozen=True)
class _PageShape:
    """What distinguishes one page statement from another; the values are bound parameters."""

    sort: SortField
    descending: bool
    after: bool
    accounts: AccountsShape
    provider: bool
    service: bool
    region: bool
    min_savings: bool


@functools.cache
def _page_query(shape: _PageShape) -> Select[*tuple[Any, ...]]:
    column = _R[shape.sort]
    conditions: list[ColumnElement[bool]] = [
        _A.enabled.is_(True),
        *bound_account_conditions(_R.cloud_account_id, shape.accounts),
    ]
    if shape.provider:
        conditions.append(_R.provider == bindparam("provider"))
    if shape.service:
        conditions.append(_R.service == bindparam("service"))
    if shape.region:
        conditions.append(_R.region == bindparam("region"))
    if shape.min_savings:
        conditions.append(_R.estimated_monthly_savings >= bindparam("min_savings"))
    if shape.after:
        position = tuple_(column, _R.id)
        bound = tuple_(
            bindparam("after_value", type_=column.type), bindparam("after_id", type_=_R.id.type)
        )
        conditions.append(position < bound if shape.descending else position > bound)
    order = (column.desc(), _R.id.desc()) if shape.descending else (column.asc(), _R.id.asc())
    return (
        select(*LIST_COLUMNS)
        .select_from(Recommendation.__table__)
        .join(CloudAccount.__table__, _A.id == _R.cloud_account_id)
        .where(*conditions)
        .order_by(*order)
        .limit(bindparam("limit"))
    )


async def list_recommendations(
    session: AsyncSession | AsyncReadSession,
    scope: AccountScope,
    filters: RecommendationFilters,
    *,
    sort: SortField,
    descending: bool,
    after: tuple[Any, uuid.UUID] | None,
    limit: int,
) -> list[dict[str, Any]]:
    """One keyset page (``limit`` rows) under ``sort`` with id as tie-break; scoped in SQL.

    Each row a dict of :data:`LIST_COLUMNS` by name.
    """
    accounts = AccountFilter(scope, tuple(filters.account_ids or ()))
    params: dict[str, Any] = {"limit": limit, **accounts.bound_params()}
    if filters.provider is not None:
        params["provider"] = filters.provider.value
    if filters.service is not None:
        params["service"] = filters.service
    if filters.region is not None:
        params["region"] = filters.region
    if filters.min_savings is not None:
        params["min_savings"] = filters.min_savings
    if after is not None:
        params["after_value"], params["after_id"] = after
    shape = _PageShape(
        sort=sort,
        descending=descending,
        after=after is not None,
        accounts=accounts.shape,
        provider=filters.provider is not None,
        service=filters.service is not None,
        region=filters.region is not None,
        min_savings=filters.min_savings is not None,
    )
    result = await session.execute(_page_query(shape), params)
    keys = list(result.keys())  # zip per row: cheaper than Row._asdict()
    return [dict(zip(keys, row, strict=True)) for row in result]


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
