"""Every dashboard query: aggregates grouped by (account, provider, currency), scoped in SQL.

Grouping by account keeps each query's result small (at most accounts x currencies rows)
however many recommendations exist; the service adds the groups up in ``Decimal``.
"""

from __future__ import annotations

import functools
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    Boolean,
    ColumnElement,
    CompoundSelect,
    Integer,
    Numeric,
    Select,
    String,
    and_,
    bindparam,
    case,
    cast,
    exists,
    func,
    literal_column,
    not_,
    null,
    or_,
    select,
    true,
    union_all,
)

from api.db import AsyncReadSession
from api.enums import Provider, PurchaseStatus
from api.history.repository import AccountFilter, AccountsShape, bound_account_conditions
from api.models import (
    CloudAccount,
    Commitment,
    PlanAccount,
    PurchaseHistory,
    PurchasePlan,
    Recommendation,
    SavingsSnapshot,
)

AnySelect = Select[*tuple[Any, ...]]
ACTIVE = "active"
SECONDS_PER_MONTH = 2_629_800  # 365.25 / 12 days


@dataclass(slots=True)
class Group:
    """One aggregate row: an account (None: rows of no account), its provider and a currency."""

    cloud_account_id: uuid.UUID | None
    provider: str
    currency: str
    amount: Decimal
    count: int


@dataclass(frozen=True)
class SummaryRows:
    potential: list[Group]
    committed: list[Group]
    realized: list[Group]
    accounts: list[Any]


# The summary in one statement built once per filter shape (which scope, accounts named or
# not, a provider or not), on the Core tables, with the ids, the provider and the time as
# bound parameters: one round trip and no per-request statement construction. The same four
# aggregates as the functions above, each grouped per (account, provider, currency), plus the
# filtered accounts, told apart by ``kind``.
POTENTIAL_KIND, COMMITTED_KIND, REALIZED_KIND, ACCOUNT_KIND = 0, 1, 2, 3
_RC = Recommendation.__table__.c
_CC = Commitment.__table__.c
_HC = PurchaseHistory.__table__.c
_AC = CloudAccount.__table__.c


def _kind(value: int) -> ColumnElement[int]:
    return literal_column(str(value), Integer).label("kind")


def _no_account_columns() -> tuple[ColumnElement[Any], ...]:
    return (
        cast(null(), String).label("name"),
        cast(null(), String).label("external_id"),
        cast(null(), Boolean).label("enabled"),
        cast(null(), String).label("sort_name"),
    )


def committed_monthly_expr() -> ColumnElement[Decimal]:
    """Recurring monthly cost + upfront ÷ term months (SPEC §7), at the storage scale.

    A commitment without a term spreads its upfront over its start..end span when known.
    """
    span_months = func.greatest(
        func.round(func.extract("epoch", _CC.end - _CC.start) / SECONDS_PER_MONTH), 1
    )
    upfront_monthly = case(
        (_CC.term > 0, _CC.upfront_cost / (_CC.term * 12)),
        (and_(_CC.start.is_not(None), _CC.end > _CC.start), _CC.upfront_cost / span_months),
        else_=literal_column("0"),
    )
    return func.round(_CC.recurring_monthly_cost + upfront_monthly, 6)


@functools.cache
def _summary_query(accounts: AccountsShape, provider: bool) -> CompoundSelect[Any]:
    now = bindparam("now", type_=_CC.end.type)
    potential = (
        select(
            _kind(POTENTIAL_KIND),
            _RC.cloud_account_id,
            _RC.provider,
            _RC.currency,
            func.sum(_RC.estimated_monthly_savings).label("amount"),
            func.count().label("count"),
            *_no_account_columns(),
        )
        .select_from(Recommendation.__table__)
        .join(CloudAccount.__table__, and_(_AC.id == _RC.cloud_account_id, _AC.enabled))
        .where(*bound_account_conditions(_RC.cloud_account_id, accounts))
        .group_by(_RC.cloud_account_id, _RC.provider, _RC.currency)
    )
    committed = (
        select(
            _kind(COMMITTED_KIND),
            _CC.cloud_account_id,
            _CC.provider,
            _CC.currency,
            func.sum(committed_monthly_expr()).label("amount"),
            func.count().label("count"),
            *_no_account_columns(),
        )
        .where(
            _CC.state == ACTIVE,
            or_(_CC.end.is_(None), _CC.end > now),
            *bound_account_conditions(_CC.cloud_account_id, accounts),
        )
        .group_by(_CC.cloud_account_id, _CC.provider, _CC.currency)
    )
    currency = func.coalesce(_HC.currency, literal_column("'USD'"))
    realized = (
        select(
            _kind(REALIZED_KIND),
            _HC.cloud_account_id,
            _HC.provider,
            currency.label("currency"),
            func.sum(func.coalesce(_HC.estimated_monthly_savings, literal_column("0"))).label(
                "amount"
            ),
            func.count().label("count"),
            *_no_account_columns(),
        )
        .where(
            _HC.status == PurchaseStatus.purchased.value,
            or_(_HC.expires_at.is_(None), _HC.expires_at > now),
            *bound_account_conditions(_HC.cloud_account_id, accounts),
        )
        .group_by(_HC.cloud_account_id, _HC.provider, currency)
    )
    listed = select(
        _kind(ACCOUNT_KIND),
        _AC.id.label("cloud_account_id"),
        _AC.provider,
        cast(null(), String).label("currency"),
        cast(null(), Numeric).label("amount"),
        cast(null(), Integer).label("count"),
        _AC.name,
        _AC.external_id,
        _AC.enabled,
        func.lower(_AC.name).label("sort_name"),
    ).where(*bound_account_conditions(_AC.id, accounts))
    parts = [potential, committed, realized, listed]
    if provider:
        columns = (_RC.provider, _CC.provider, _HC.provider, _AC.provider)
        parts = [
            part.where(column == bindparam("provider"))
            for part, column in zip(parts, columns, strict=True)
        ]
    # Only the accounts need an order (by name, as the list shows them); the groups are few.
    return union_all(*parts).order_by(
        literal_column("kind"), literal_column("sort_name"), literal_column("cloud_account_id")
    )


@dataclass(frozen=True, slots=True)
class _Account:
    id: uuid.UUID
    name: str
    external_id: str
    provider: str
    enabled: bool


async def summary_rows(
    session: AsyncReadSession, accounts: AccountFilter, provider: Provider | None, now: datetime
) -> SummaryRows:
    """The four aggregates of the dashboard summary, each grouped per account and currency."""
    params: dict[str, Any] = {"now": now, **accounts.bound_params()}
    if provider is not None:
        params["provider"] = provider.value
    result = await session.execute(_summary_query(accounts.shape, provider is not None), params)
    # Unpacked by position: at 1,000 accounts this loop sees ~4,000 rows.
    groups: tuple[list[Group], list[Group], list[Group]] = ([], [], [])
    listed: list[_Account] = []
    zero = Decimal(0)
    for kind, account_id, row_provider, currency, amount, count, *account, _ in result.all():
        if kind == ACCOUNT_KIND:
            name, external_id, enabled = account
            listed.append(_Account(account_id, name, external_id, row_provider, enabled))
        else:
            amount = amount if amount is not None else zero
            groups[kind].append(Group(account_id, row_provider, currency, amount, count))
    return SummaryRows(
        potential=groups[POTENTIAL_KIND],
        committed=groups[COMMITTED_KIND],
        realized=groups[REALIZED_KIND],
        accounts=listed,
    )


# --- upcoming -------------------------------------------------------------------------------


def _plan_visible(accounts: AccountFilter) -> ColumnElement[bool]:
    """A plan the caller may see (their scope covers every account the plan touches, as on
    /api/plans) that touches at least one account of the filter (unless it is "everything").

    A plan touches its explicit target accounts or, with none, every enabled account of its
    provider.
    """
    p = PurchasePlan
    explicit = exists().where(PlanAccount.plan_id == p.id)
    clauses: list[ColumnElement[bool]] = []
    scope = accounts.scope
    if not scope.unrestricted:
        explicit_outside = exists().where(
            PlanAccount.plan_id == p.id, not_(scope.where(PlanAccount.cloud_account_id))
        )
        implicit_outside = exists().where(
            CloudAccount.provider == p.provider,
            CloudAccount.enabled,
            not_(scope.where(CloudAccount.id)),
        )
        clauses.append(and_(not_(explicit_outside), or_(explicit, not_(implicit_outside))))
    if not accounts.everything:
        # ... and touches at least one account inside the scope and the named ones.
        touches_explicit = exists().where(
            PlanAccount.plan_id == p.id, accounts.where(PlanAccount.cloud_account_id)
        )
        touches_implicit = exists().where(
            CloudAccount.provider == p.provider,
            CloudAccount.enabled,
            accounts.where(CloudAccount.id),
        )
        clauses.append(or_(touches_explicit, and_(not_(explicit), touches_implicit)))
    return and_(true(), *clauses)


async def scheduled_plans(session: AsyncReadSession, accounts: AccountFilter) -> list[Any]:
    """Enabled plans with a schedule, visible to the caller."""
    p = PurchasePlan
    query = (
        select(p.id, p.name, p.provider, p.schedule, p.next_run_at, p.dry_run)
        .where(p.enabled, p.schedule.is_not(None), _plan_visible(accounts))
        .order_by(p.id)
    )
    return list(await session.execute(query))


def expiring_query(accounts: AccountFilter, now: datetime, days: int, limit: int) -> AnySelect:
    c = Commitment
    return (
        select(c, CloudAccount.name.label("account_name"))
        .join(CloudAccount, CloudAccount.id == c.cloud_account_id)
        .where(
            c.state == ACTIVE,
            c.end > now,
            c.end <= now + timedelta(days=days),
            accounts.where(c.cloud_account_id),
        )
        .order_by(c.end, c.id)
        .limit(limit)
    )


async def expiring_commitments(
    session: AsyncReadSession, accounts: AccountFilter, now: datetime, days: int, limit: int
) -> list[tuple[Commitment, str]]:
    """Active commitments ending within ``days``, soonest first."""
    rows = await session.execute(expiring_query(accounts, now, days, limit))
    return [(row[0], row[1]) for row in rows]


# --- savings over time ----------------------------------------------------------------------

_S = SavingsSnapshot
_SNAPSHOT_KEY = (_S.cloud_account_id, _S.account_external_id, _S.provider, _S.service, _S.currency)
UNITS = {"daily": "day", "weekly": "week", "monthly": "month"}


def _snapshot_filters(
    query: AnySelect, accounts: AccountFilter, provider: Provider | None
) -> AnySelect:
    query = query.where(accounts.where(_S.cloud_account_id))
    if provider is not None:
        query = query.where(_S.provider == provider.value)
    return query


def snapshots_per_bucket_query(
    accounts: AccountFilter,
    provider: Provider | None,
    interval: str,
    start: datetime,
    end: datetime,
) -> AnySelect:
    """Each account's (and service's) last snapshot in every bucket it has one."""
    unit: ColumnElement[str] = literal_column(f"'{UNITS[interval]}'")
    bucket = func.date_trunc(unit, _S.captured_at, literal_column("'UTC'"))
    query = (
        select(bucket.label("bucket"), *_snapshot_columns())
        .distinct(bucket, *_SNAPSHOT_KEY)
        .where(_S.captured_at >= start, _S.captured_at < end)
        .order_by(bucket, *_SNAPSHOT_KEY, _S.captured_at.desc())
    )
    return _snapshot_filters(query, accounts, provider)


def _snapshot_columns() -> tuple[Any, ...]:
    return (
        *_SNAPSHOT_KEY,
        _S.captured_at,
        _S.potential_monthly_savings,
        _S.committed_monthly,
        _S.realized_monthly_savings,
        _S.active_commitment_count,
    )


def snapshots_before_query(
    accounts: AccountFilter, provider: Provider | None, start: datetime, lookback: timedelta
) -> AnySelect:
    """Each account's (and service's) last snapshot shortly before ``start`` (carried in)."""
    query = (
        select(*_snapshot_columns())
        .distinct(*_SNAPSHOT_KEY)
        .where(_S.captured_at < start, _S.captured_at >= start - lookback)
        .order_by(*_SNAPSHOT_KEY, _S.captured_at.desc())
    )
    return _snapshot_filters(query, accounts, provider)


async def snapshots(
    session: AsyncReadSession,
    accounts: AccountFilter,
    provider: Provider | None,
    interval: str,
    start: datetime,
    end: datetime,
    lookback: timedelta,
) -> tuple[list[Any], list[Any]]:
    """(snapshots carried in from before ``start``, last snapshot per key and bucket)."""
    before = await session.execute(snapshots_before_query(accounts, provider, start, lookback))
    within = await session.execute(
        snapshots_per_bucket_query(accounts, provider, interval, start, end)
    )
    return list(before), list(within)
