"""Dashboard rules: the SPEC §7 figures per currency, upcoming runs and expiries, savings trend.

Decisions where the SPEC is silent (also in docs/behaviour.md):
- Money figures are maps ``{currency: Decimal}``; two currencies are never added together.
- Purchase-history rows of no account (legacy or deleted) count towards the totals and
  ``by_provider`` only when no accounts are named and the caller is unrestricted (as for
  ``GET /api/history``); ``by_account`` lists accounts only.
- ``by_account`` lists every filtered account, also those with nothing to show (zeros), and
  disabled ones (their commitments and purchases are real; their recommendations are hidden).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from croniter import croniter

from api.auth.permissions import AccountScope
from api.dashboard import repository
from api.dashboard.repository import Group
from api.dashboard.schemas import (
    ExpiringCommitment,
    SavingsOverTime,
    SavingsPoint,
    SavingsSeries,
    ScheduledRun,
    Summary,
    Upcoming,
)
from api.db import AsyncReadSession
from api.enums import Provider
from api.history.schemas import Interval
from api.history.service import account_filter, bucket_start, bucket_starts, money, series_range

DEFAULT_UPCOMING_DAYS = 90
SNAPSHOT_LOOKBACK = timedelta(days=31)


# Index of each figure in a _Figures' money and counts.
POTENTIAL, COMMITTED, REALIZED = 0, 1, 2


class _Figures:
    """Running sums of one total, provider or account: money per currency, and counts."""

    __slots__ = ("counts", "money")

    def __init__(self) -> None:
        self.money: tuple[dict[str, Decimal], dict[str, Decimal], dict[str, Decimal]] = (
            {},
            {},
            {},
        )
        self.counts = [0, 0, 0]

    def currencies(self) -> set[str]:
        return set(self.money[POTENTIAL]) | set(self.money[COMMITTED]) | set(self.money[REALIZED])

    def fields(self) -> dict[str, Any]:
        # The database sums at the storage scale (6 places), and so does Decimal addition.
        def per_currency(values: dict[str, Decimal]) -> dict[str, Decimal]:
            return values if len(values) < 2 else {c: values[c] for c in sorted(values)}

        return {
            "potential_monthly_savings": per_currency(self.money[POTENTIAL]),
            "committed_monthly": per_currency(self.money[COMMITTED]),
            "realized_monthly_savings": per_currency(self.money[REALIZED]),
            "recommendation_count": self.counts[POTENTIAL],
            "active_commitment_count": self.counts[COMMITTED],
        }


def _add_up(
    kinds: Sequence[Sequence[Group]],
) -> tuple[_Figures, dict[str, _Figures], dict[uuid.UUID, _Figures]]:
    """The total, per-provider and per-account sums of the grouped rows (one pass, no calls
    per row: at 1,000 accounts this loop is most of the request's Python time)."""
    total = _Figures()
    per_provider: dict[str, _Figures] = {}
    per_account: dict[uuid.UUID, _Figures] = {}
    for kind, groups in enumerate(kinds):
        for group in groups:
            provider_figures = per_provider.get(group.provider)
            if provider_figures is None:
                provider_figures = per_provider[group.provider] = _Figures()
            targets = [total, provider_figures]
            if group.cloud_account_id is not None:
                account_figures = per_account.get(group.cloud_account_id)
                if account_figures is None:
                    account_figures = per_account[group.cloud_account_id] = _Figures()
                targets.append(account_figures)
            currency, amount = group.currency, group.amount
            for figures in targets:
                sums = figures.money[kind]
                sums[currency] = sums[currency] + amount if currency in sums else amount
                figures.counts[kind] += group.count
    return total, per_provider, per_account


async def summary(
    session: AsyncReadSession,
    scope: AccountScope,
    *,
    account_ids: Sequence[uuid.UUID],
    provider: Provider | None,
    now: datetime | None = None,
) -> Summary:
    """The SPEC §7 figures over exactly the filtered accounts, in total, per provider and account."""
    accounts = account_filter(scope, account_ids)
    rows = await repository.summary_rows(session, accounts, provider, now or datetime.now(UTC))
    total, per_provider, per_account = _add_up((rows.potential, rows.committed, rows.realized))
    nothing = _Figures().fields()
    by_account = []
    for row in rows.accounts:
        if row.provider not in per_provider:
            per_provider[row.provider] = _Figures()
        figures = per_account.get(row.id)
        by_account.append(
            {
                "cloud_account_id": row.id,
                "account_name": row.name,
                "account_external_id": row.external_id,
                "provider": row.provider,
                "enabled": row.enabled,
                **(figures.fields() if figures is not None else nothing),
            }
        )
    # Validated once, as a whole (faster than a model per account).
    return Summary.model_validate(
        {
            **total.fields(),
            "currencies": sorted(total.currencies()),
            "by_provider": {
                name: figures.fields() for name, figures in sorted(per_provider.items())
            },
            "by_account": by_account,
        }
    )


def next_run(schedule: str, after: datetime) -> datetime | None:
    """When the five-field cron ``schedule`` next fires after ``after`` (UTC); None if invalid."""
    if not croniter.is_valid(schedule):
        return None
    fired: datetime = croniter(schedule, after).get_next(datetime)
    return fired.astimezone(UTC)


async def upcoming(
    session: AsyncReadSession,
    scope: AccountScope,
    *,
    account_ids: Sequence[uuid.UUID],
    days: int,
    limit: int,
    now: datetime | None = None,
) -> Upcoming:
    """Each scheduled plan's next run, and active commitments expiring within ``days``."""
    now = now or datetime.now(UTC)
    accounts = account_filter(scope, account_ids)
    runs = []
    for plan in await repository.scheduled_plans(session, accounts):
        runs.append(
            ScheduledRun(
                plan_id=plan.id,
                plan_name=plan.name,
                provider=plan.provider,
                schedule=plan.schedule,
                next_run_at=next_run(plan.schedule, now) or plan.next_run_at,
                dry_run=plan.dry_run,
            )
        )
    far_future = datetime.max.replace(tzinfo=UTC)
    runs.sort(key=lambda run: (run.next_run_at or far_future, run.plan_name, run.plan_id))
    expiring = []
    for commitment, account_name in await repository.expiring_commitments(
        session, accounts, now, days, limit
    ):
        assert commitment.end is not None
        expiring.append(
            ExpiringCommitment.model_validate(
                {
                    **{
                        name: getattr(commitment, name)
                        for name in ExpiringCommitment.model_fields
                        if name not in {"account_name", "days_until_expiry"}
                    },
                    "account_name": account_name,
                    "days_until_expiry": (commitment.end - now).days,
                }
            )
        )
    return Upcoming(days=days, scheduled_runs=runs, expiring_commitments=expiring)


def _key(row: Any) -> tuple[Any, ...]:
    return (row.cloud_account_id, row.account_external_id, row.provider, row.service)


async def savings_over_time(
    session: AsyncReadSession,
    scope: AccountScope,
    *,
    interval: Interval,
    account_ids: Sequence[uuid.UUID],
    provider: Provider | None,
    start: datetime | None,
    end: datetime | None,
    now: datetime | None = None,
) -> SavingsOverTime:
    """Potential, committed and realised savings over time from the collection snapshots.

    Each bucket sums, per currency, every account's latest snapshot up to the bucket's end;
    an account not collected in a bucket keeps its previous value (carried forward).
    """
    first, last = series_range(interval, start, end, now or datetime.now(UTC))
    starts = bucket_starts(first, last, interval)
    accounts = account_filter(scope, account_ids)
    before, within = await repository.snapshots(
        session, accounts, provider, interval.value, first, last, SNAPSHOT_LOOKBACK
    )
    # latest[currency][account key] = that account's snapshot values so far
    latest: dict[str, dict[tuple[Any, ...], Any]] = {}
    for row in before:
        latest.setdefault(row.currency, {})[_key(row)] = row
    per_bucket: dict[datetime, list[Any]] = {}
    for row in within:
        per_bucket.setdefault(bucket_start(row.bucket, interval), []).append(row)
    points: dict[str, list[SavingsPoint]] = {currency: [] for currency in latest}
    for at in starts:
        for row in per_bucket.get(at, []):
            if row.currency not in latest:
                latest[row.currency] = {}
                points[row.currency] = [_zero_point(s) for s in starts if s < at]
            latest[row.currency][_key(row)] = row
        for currency, snapshots in latest.items():
            points[currency].append(_point(at, list(snapshots.values())))
    return SavingsOverTime(
        interval=interval,
        start=first,
        end=last,
        series=[
            SavingsSeries(currency=currency, points=points[currency]) for currency in sorted(points)
        ],
    )


def _zero_point(at: datetime) -> SavingsPoint:
    return _point(at, [])


def _point(at: datetime, snapshots: list[Any]) -> SavingsPoint:
    return SavingsPoint(
        bucket_start=at,
        potential_monthly_savings=money(
            sum((s.potential_monthly_savings for s in snapshots), Decimal(0))
        ),
        committed_monthly=money(sum((s.committed_monthly for s in snapshots), Decimal(0))),
        realized_monthly_savings=money(
            sum((s.realized_monthly_savings for s in snapshots), Decimal(0))
        ),
        active_commitment_count=sum(s.active_commitment_count for s in snapshots),
        account_count=len({(s.cloud_account_id, s.account_external_id) for s in snapshots}),
    )
