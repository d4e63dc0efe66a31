"""Every purchase-history query. Account scoping is part of each WHERE clause.

Rows whose account is gone (``cloud_account_id IS NULL``: written before the account was
registered, or kept after it was deleted) match only an unrestricted caller who names no
accounts — a filter naming no accounts behaves as before accounts existed (SPEC §7).
"""

from __future__ import annotations

import functools
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any, Literal

from sqlalchemy import (
    ColumnElement,
    Select,
    and_,
    bindparam,
    false,
    func,
    literal_column,
    select,
    tuple_,
)
from sqlalchemy.dialects.postgresql import ARRAY, UUID
from sqlalchemy.orm import InstrumentedAttribute

from api.auth.permissions import AccountScope
from api.db import AsyncReadSession
from api.enums import Provider
from api.models import CloudAccount, PurchaseHistory

DEFAULT_CURRENCY = "USD"

AnySelect = Select[*tuple[Any, ...]]


@dataclass(frozen=True)
class AccountFilter:
    """The caller's scope plus the ``account_ids`` they named (already checked inside it)."""

    scope: AccountScope
    account_ids: Sequence[uuid.UUID] = ()

    def where(
        self, column: InstrumentedAttribute[uuid.UUID] | InstrumentedAttribute[uuid.UUID | None]
    ) -> ColumnElement[bool]:
        """``column`` (a cloud account id) inside the scope and, when named, the accounts."""
        clause = self.scope.where(column)
        if self.account_ids:
            ids = bindparam(
                "account_ids",
                list(self.account_ids),
                type_=ARRAY(UUID(as_uuid=True)),
                unique=True,
            )
            clause = and_(clause, column == func.any(ids))
        return clause

    @property
    def everything(self) -> bool:
        """No scope limit and no accounts named: rows of unknown accounts are included too."""
        return self.scope.unrestricted and not self.account_ids

    @property
    def shape(self) -> AccountsShape:
        """What a statement built once (:func:`bound_account_conditions`) must know of it."""
        scope: ScopeShape = "all"
        if not self.scope.unrestricted:
            scope = "some" if self.scope.account_ids else "none"
        return scope, bool(self.account_ids)

    def bound_params(self) -> dict[str, Any]:
        """The values of the parameters :func:`bound_account_conditions` names."""
        params: dict[str, Any] = {}
        if not self.scope.unrestricted and self.scope.account_ids:
            params["scope_ids"] = sorted(self.scope.account_ids)
        if self.account_ids:
            params["account_ids"] = list(self.account_ids)
        return params


# all: unrestricted; none: a constrained scope reaching no account; some: a list of accounts.
ScopeShape = Literal["all", "none", "some"]
AccountsShape = tuple[ScopeShape, bool]  # (scope, whether accounts are named)
_UUIDS = ARRAY(UUID(as_uuid=True))


def bound_account_conditions(
    column: ColumnElement[uuid.UUID] | ColumnElement[uuid.UUID | None], shape: AccountsShape
) -> list[ColumnElement[bool]]:
    """:meth:`AccountFilter.where` for a statement built once: the ids are the bound
    parameters ``scope_ids`` and ``account_ids`` (:meth:`AccountFilter.bound_params`)."""
    scope, named = shape
    conditions: list[ColumnElement[bool]] = []
    if scope == "none":
        conditions.append(false())
    elif scope == "some":
        conditions.append(column == func.any(bindparam("scope_ids", type_=_UUIDS)))
    if named:
        conditions.append(column == func.any(bindparam("account_ids", type_=_UUIDS)))
    return conditions


@dataclass(frozen=True)
class HistoryFilters:
    accounts: AccountFilter
    provider: Provider | None = None
    plan_id: uuid.UUID | None = None
    status: str | None = None
    start: datetime | None = None
    end: datetime | None = None


_H = PurchaseHistory


def _filtered(query: AnySelect, filters: HistoryFilters) -> AnySelect:
    query = query.where(filters.accounts.where(_H.cloud_account_id))
    if filters.provider is not None:
        query = query.where(_H.provider == filters.provider.value)
    if filters.plan_id is not None:
        query = query.where(_H.plan_id == filters.plan_id)
    if filters.status is not None:
        query = query.where(_H.status == filters.status)
    if filters.start is not None:
        query = query.where(_H.purchased_at >= filters.start)
    if filters.end is not None:
        query = query.where(_H.purchased_at < filters.end)
    return query


def _account_name() -> ColumnElement[str]:
    # The current name while the account exists (renames show), else the recorded one.
    return func.coalesce(CloudAccount.name, _H.account_name)


HISTORY_COLUMNS = (
    _H.id,
    _H.cloud_account_id,
    _H.account_external_id,
    _H.provider,
    _H.plan_id,
    _H.execution_id,
    _H.service,
    _H.region,
    _H.resource_type,
    _H.engine,
    _H.variant,
    _H.count,
    _H.term,
    _H.payment,
    _H.upfront_cost,
    _H.monthly_cost,
    _H.estimated_monthly_savings,
    _H.currency,
    _H.status,
    _H.purchased_at,
    _H.expires_at,
    _H.provider_commitment_id,
)


# The page statement on the Core tables, one per filter shape, built once with bound
# parameters: a request binds values only (no construction, no cache-key walk, no ORM path).
_PH = PurchaseHistory.__table__.c
_CA = CloudAccount.__table__.c


@dataclass(frozen=True)
class _PageShape:
    accounts: AccountsShape
    provider: bool
    plan_id: bool
    status: bool
    start: bool
    end: bool
    after: bool


@functools.cache
def _page_query(shape: _PageShape) -> AnySelect:
    conditions = bound_account_conditions(_PH.cloud_account_id, shape.accounts)
    if shape.provider:
        conditions.append(_PH.provider == bindparam("provider"))
    if shape.plan_id:
        conditions.append(_PH.plan_id == bindparam("plan_id"))
    if shape.status:
        conditions.append(_PH.status == bindparam("status"))
    if shape.start:
        conditions.append(_PH.purchased_at >= bindparam("start"))
    if shape.end:
        conditions.append(_PH.purchased_at < bindparam("end"))
    if shape.after:
        conditions.append(
            tuple_(_PH.purchased_at, _PH.id)
            < tuple_(
                bindparam("after_at", type_=_PH.purchased_at.type),
                bindparam("after_id", type_=_PH.id.type),
            )
        )
    columns = [_PH[column.key] for column in HISTORY_COLUMNS]
    # The current name while the account exists (renames show), else the recorded one.
    name = func.coalesce(_CA.name, _PH.account_name).label("account_name")
    return (
        select(*columns, name)
        .select_from(PurchaseHistory.__table__)
        .outerjoin(CloudAccount.__table__, _CA.id == _PH.cloud_account_id)
        .where(*conditions)
        .order_by(_PH.purchased_at.desc(), _PH.id.desc())
        .limit(bindparam("limit"))
    )


def history_page_query(
    filters: HistoryFilters, *, limit: int, after: tuple[datetime, uuid.UUID] | None
) -> tuple[AnySelect, dict[str, Any]]:
    """Newest first, keyset on (purchased_at, id); ``limit + 1`` rows to know if more exist.

    The statement and its parameters; scoped in SQL (rows of no account only for an
    unrestricted caller naming no accounts).
    """
    params: dict[str, Any] = {"limit": limit + 1, **filters.accounts.bound_params()}
    values = {
        "provider": filters.provider.value if filters.provider is not None else None,
        "plan_id": filters.plan_id,
        "status": filters.status,
        "start": filters.start,
        "end": filters.end,
    }
    params.update((key, value) for key, value in values.items() if value is not None)
    if after is not None:
        params["after_at"], params["after_id"] = after
    shape = _PageShape(
        accounts=filters.accounts.shape,
        provider="provider" in params,
        plan_id="plan_id" in params,
        status="status" in params,
        start="start" in params,
        end="end" in params,
        after=after is not None,
    )
    return _page_query(shape), params


async def history_page(
    session: AsyncReadSession,
    filters: HistoryFilters,
    *,
    limit: int,
    after: tuple[datetime, uuid.UUID] | None,
) -> list[dict[str, Any]]:
    query, params = history_page_query(filters, limit=limit, after=after)
    result = await session.execute(query, params)
    keys = list(result.keys())  # zip per row: cheaper than Row._asdict()
    return [dict(zip(keys, row, strict=True)) for row in result]


# --- aggregates -----------------------------------------------------------------------------


# Constants are inlined (not bound): a GROUP BY expression must repeat the SELECT's exactly.
_ZERO: ColumnElement[Decimal] = literal_column("0")
UNITS = {"daily": "day", "weekly": "week", "monthly": "month"}


def _money(column: Any) -> ColumnElement[Decimal]:
    return func.coalesce(column, _ZERO)


def _committed_spend() -> ColumnElement[Decimal]:
    """Upfront plus the monthly cost over the whole term (years x 12); no term: upfront only."""
    return _money(_H.upfront_cost) + _money(_H.monthly_cost) * 12 * func.coalesce(_H.term, 0)


def _currency() -> ColumnElement[str]:
    return func.coalesce(_H.currency, literal_column(f"'{DEFAULT_CURRENCY}'"))


def _totals() -> tuple[ColumnElement[Any], ...]:
    return (
        func.count().label("purchase_count"),
        func.sum(_money(_H.upfront_cost)).label("upfront_cost"),
        func.sum(_money(_H.monthly_cost)).label("monthly_cost"),
        func.sum(_committed_spend()).label("committed_spend"),
        func.sum(_money(_H.estimated_monthly_savings)).label("estimated_monthly_savings"),
    )


def analytics_query(filters: HistoryFilters, interval: str) -> AnySelect:
    """Totals per (UTC bucket, currency); ``interval`` is daily, weekly or monthly."""
    unit: ColumnElement[str] = literal_column(f"'{UNITS[interval]}'")
    bucket = func.date_trunc(unit, _H.purchased_at, literal_column("'UTC'")).label("bucket")
    currency = _currency().label("currency")
    query = select(bucket, currency, *_totals())
    return _filtered(query, filters).group_by(bucket, currency).order_by(bucket, currency)


async def analytics(
    session: AsyncReadSession, filters: HistoryFilters, interval: str
) -> list[dict[str, Any]]:
    rows = await session.execute(analytics_query(filters, interval))
    return [dict(row._mapping) for row in rows]


def breakdown_query(filters: HistoryFilters, dimension: str) -> AnySelect:
    """Totals per (dimension value, currency)."""
    currency = _currency().label("currency")
    if dimension == "account":
        keys: tuple[Any, ...] = (
            _H.cloud_account_id.label("cloud_account_id"),
            _H.account_external_id.label("account_external_id"),
            _H.provider.label("provider"),
        )
        query = select(
            *keys, func.max(_account_name()).label("account_name"), currency, *_totals()
        ).outerjoin(CloudAccount, CloudAccount.id == _H.cloud_account_id)
        group: tuple[Any, ...] = (*keys, currency)
    else:
        column = {"service": _H.service, "region": _H.region, "provider": _H.provider}[dimension]
        key = column.label("key")
        query = select(key, currency, *_totals())
        group = (key, currency)
    query = _filtered(query, filters).group_by(*group)
    return query.order_by(func.sum(_money(_H.estimated_monthly_savings)).desc(), *group)


async def breakdown(
    session: AsyncReadSession, filters: HistoryFilters, dimension: str
) -> list[dict[str, Any]]:
    rows = await session.execute(breakdown_query(filters, dimension))
    return [dict(row._mapping) for row in rows]
