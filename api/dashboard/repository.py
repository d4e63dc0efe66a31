"""Every dashboard query: aggregates grouped by (account, provider, currency), scoped in SQL.

Grouping by account keeps each query's result small (at most accounts x currencies rows)
however many recommendations exist; the service adds the groups up in ``Decimal``.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Select,
    and_,
    case,
    exists,
    func,
    literal_column,
    not_,
    or_,
    select,
    true,
)

from api.db import AsyncReadSession
from api.enums import Provider, PurchaseStatus
from api.history.repository import AccountFilter
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


def _groups(rows: Any) -> list[Group]:
    return [
        Group(
            cloud_account_id=row.cloud_account_id,
            provider=row.provider,
            currency=row.currency,
            amount=row.amount if row.amount is not None else Decimal(0),
            count=row.count,
        )
        for row in rows
    ]


def potential_savings_query(accounts: AccountFilter, provider: Provider | None) -> AnySelect:
    """Σ estimated monthly savings and count of visible recommendations (enabled accounts only)."""
    r = Recommendation
    query = (
        select(
            r.cloud_account_id,
            r.provider,
            r.currency,
            func.sum(r.estimated_monthly_savings).label("amount"),
            func.count().label("count"),
        )
        .join(CloudAccount, and_(CloudAccount.id == r.cloud_account_id, CloudAccount.enabled))
        .where(accounts.where(r.cloud_account_id))
        .group_by(r.cloud_account_id, r.provider, r.currency)
    )
    if provider is not None:
        query = query.where(r.provider == provider.value)
    return query


def committed_monthly_expr() -> ColumnElement[Decimal]:
    """Recurring monthly cost + upfront ÷ term months (SPEC §7), at the storage scale.

    A commitment without a term spreads its upfront over its start..end span when known.
    """
    c = Commitment
    span_months = func.greatest(
        func.round(func.extract("epoch", c.end - c.start) / SECONDS_PER_MONTH), 1
    )
    upfront_monthly = case(
        (c.term > 0, c.upfront_cost / (c.term * 12)),
        (and_(c.start.is_not(None), c.end > c.start), c.upfront_cost / span_months),
        else_=literal_column("0"),
    )
    return func.round(c.recurring_monthly_cost + upfront_monthly, 6)


def _active_commitment(now: datetime) -> ColumnElement[bool]:
    c = Commitment
    return and_(c.state == ACTIVE, or_(c.end.is_(None), c.end > now))


def committed_query(accounts: AccountFilter, provider: Provider | None, now: datetime) -> AnySelect:
    """Σ committed monthly and count of active inventory rows."""
    c = Commitment
    query = (
        select(
            c.cloud_account_id,
            c.provider,
            c.currency,
            func.sum(committed_monthly_expr()).label("amount"),
            func.count().label("count"),
        )
        .where(_active_commitment(now), accounts.where(c.cloud_account_id))
        .group_by(c.cloud_account_id, c.provider, c.currency)
    )
    if provider is not None:
        query = query.where(c.provider == provider.value)
    return query


def realized_query(accounts: AccountFilter, provider: Provider | None, now: datetime) -> AnySelect:
    """Σ estimated monthly savings of purchases still active (bought, not yet expired)."""
    h = PurchaseHistory
    currency = func.coalesce(h.currency, literal_column("'USD'")).label("currency")
    query = (
        select(
            h.cloud_account_id,
            h.provider,
            currency,
            func.sum(func.coalesce(h.estimated_monthly_savings, literal_column("0"))).label(
                "amount"
            ),
            func.count().label("count"),
        )
        .where(
            h.status == PurchaseStatus.purchased.value,
            or_(h.expires_at.is_(None), h.expires_at > now),
            accounts.where(h.cloud_account_id),
        )
        .group_by(h.cloud_account_id, h.provider, currency)
    )
    if provider is not None:
        query = query.where(h.provider == provider.value)
    return query


def accounts_query(accounts: AccountFilter, provider: Provider | None) -> AnySelect:
    a = CloudAccount
    query = select(a.id, a.name, a.external_id, a.provider, a.enabled).where(accounts.where(a.id))
    if provider is not None:
        query = query.where(a.provider == provider.value)
    return query.order_by(func.lower(a.name), a.id)


@dataclass(frozen=True)
class SummaryRows:
    potential: list[Group]
    committed: list[Group]
    realized: list[Group]
    accounts: list[Any]


async def summary_rows(
    session: AsyncReadSession, accounts: AccountFilter, provider: Provider | None, now: datetime
) -> SummaryRows:
    """The four aggregates of the dashboard summary, each grouped per account and currency."""
    potential = await session.execute(potential_savings_query(accounts, provider))
    committed = await session.execute(committed_query(accounts, provider, now))
    realized = await session.execute(realized_query(accounts, provider, now))
    listed = await session.execute(accounts_query(accounts, provider))
    return SummaryRows(
        potential=_groups(potential),
        committed=_groups(committed),
        realized=_groups(realized),
        accounts=list(listed),
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
