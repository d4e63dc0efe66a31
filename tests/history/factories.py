"""Small factories for the read-side tests: rows inserted directly through a session."""

from __future__ import annotations

import itertools
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from api.models import (
    CloudAccount,
    Commitment,
    PlanAccount,
    PurchaseHistory,
    PurchasePlan,
    Recommendation,
    SavingsSnapshot,
)

_counter = itertools.count(1)


def _external_id(provider: str) -> str:
    n = next(_counter)
    if provider == "aws":
        return f"{200_000_000_000 + n:012d}"
    if provider == "azure":
        return str(uuid.uuid4())
    return f"proj-{n:06d}"


async def account(
    session: AsyncSession, name: str | None = None, *, provider: str = "aws", enabled: bool = True
) -> CloudAccount:
    row = CloudAccount(
        name=name or f"account {next(_counter)}",
        provider=provider,
        external_id=_external_id(provider),
        enabled=enabled,
    )
    session.add(row)
    await session.flush()
    return row


async def history(
    session: AsyncSession,
    account_row: CloudAccount | None = None,
    *,
    external_id: str = "999999999999",
    account_name: str = "legacy account",
    provider: str | None = None,
    purchased_at: datetime | None = None,
    status: str = "purchased",
    service: str = "ec2",
    region: str | None = "us-east-1",
    upfront: str = "0",
    monthly: str = "10",
    savings: str = "5",
    currency: str = "USD",
    term: int | None = 1,
    plan_id: uuid.UUID | None = None,
    expires_at: datetime | None = None,
) -> PurchaseHistory:
    """A purchase_history row; without ``account_row`` it has no account (legacy/deleted)."""
    row = PurchaseHistory(
        cloud_account_id=account_row.id if account_row else None,
        account_external_id=account_row.external_id if account_row else external_id,
        account_name=account_row.name if account_row else account_name,
        provider=provider or (account_row.provider if account_row else "aws"),
        plan_id=plan_id,
        service=service,
        region=region,
        resource_type="m5.large",
        count=Decimal(1),
        term=term,
        payment="no-upfront",
        upfront_cost=Decimal(upfront),
        monthly_cost=Decimal(monthly),
        estimated_monthly_savings=Decimal(savings),
        currency=currency,
        status=status,
        purchased_at=purchased_at or datetime.now(UTC) - timedelta(days=1),
        expires_at=expires_at,
        provider_commitment_id=f"ri-{uuid.uuid4().hex[:12]}",
    )
    session.add(row)
    await session.flush()
    return row


async def recommendation(
    session: AsyncSession,
    account_row: CloudAccount,
    *,
    savings: str = "10",
    currency: str = "USD",
    service: str = "ec2",
    **fields: Any,
) -> Recommendation:
    values: dict[str, Any] = {
        "cloud_account_id": account_row.id,
        "provider": account_row.provider,
        "service": service,
        "region": "us-east-1",
        "resource_type": f"m5.{next(_counter)}xlarge",
        "engine": "",
        "term": 1,
        "payment": "no-upfront",
        "count": Decimal(1),
        "upfront_cost": Decimal(0),
        "recurring_monthly_cost": Decimal(20),
        "on_demand_monthly_cost": Decimal(30),
        "estimated_monthly_savings": Decimal(savings),
        "savings_percent": Decimal(33),
        "currency": currency,
        "collected_at": datetime.now(UTC),
    }
    values.update(fields)
    row = Recommendation(**values)
    session.add(row)
    await session.flush()
    return row


async def commitment(
    session: AsyncSession,
    account_row: CloudAccount,
    *,
    ends_in_days: float | None = 200,
    state: str = "active",
    monthly: str = "100",
    upfront: str = "0",
    term: int | None = 1,
    currency: str = "USD",
    service: str = "ec2",
) -> Commitment:
    now = datetime.now(UTC)
    row = Commitment(
        cloud_account_id=account_row.id,
        provider=account_row.provider,
        service=service,
        provider_commitment_id=f"c-{uuid.uuid4().hex[:12]}",
        region="us-east-1",
        resource_type="m5.large",
        engine="",
        count=Decimal(2),
        term=term,
        payment="no-upfront",
        start=now - timedelta(days=100),
        end=None if ends_in_days is None else now + timedelta(days=ends_in_days),
        state=state,
        upfront_cost=Decimal(upfront),
        recurring_monthly_cost=Decimal(monthly),
        currency=currency,
        collected_at=now,
    )
    session.add(row)
    await session.flush()
    return row


async def plan(
    session: AsyncSession,
    *,
    name: str = "nightly",
    provider: str = "aws",
    schedule: str | None = "0 3 * * *",
    enabled: bool = True,
    accounts: list[CloudAccount] | None = None,
) -> PurchasePlan:
    row = PurchasePlan(
        name=name,
        provider=provider,
        services={f"{provider}:ec2": {}},
        schedule=schedule,
        enabled=enabled,
    )
    session.add(row)
    await session.flush()
    for target in accounts or []:
        session.add(PlanAccount(plan_id=row.id, cloud_account_id=target.id))
    await session.flush()
    return row


async def snapshot(
    session: AsyncSession,
    account_row: CloudAccount,
    *,
    captured_at: datetime,
    potential: str = "10",
    committed: str = "0",
    realized: str = "0",
    currency: str = "USD",
    service: str = "ec2",
) -> SavingsSnapshot:
    row = SavingsSnapshot(
        cloud_account_id=account_row.id,
        account_external_id=account_row.external_id,
        account_name=account_row.name,
        provider=account_row.provider,
        service=service,
        captured_at=captured_at,
        potential_monthly_savings=Decimal(potential),
        committed_monthly=Decimal(committed),
        realized_monthly_savings=Decimal(realized),
        active_commitment_count=0,
        currency=currency,
    )
    session.add(row)
    await session.flush()
    return row


def perm(accounts: list[uuid.UUID] | None = None) -> dict[str, Any]:
    """history:view, optionally constrained to ``accounts``."""
    permission: dict[str, Any] = {"action": "view", "resource": "history"}
    if accounts is not None:
        permission["constraints"] = {"accounts": [str(a) for a in accounts]}
    return permission
