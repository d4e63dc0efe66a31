"""Response models of the dashboard (SPEC §7). Money maps are keyed by currency code."""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal

from pydantic import BaseModel, Field

from api.enums import Payment, Provider
from api.history.schemas import Interval

PerCurrency = dict[str, Decimal]


class Figures(BaseModel):
    """The dashboard figures, defined once (SPEC §7); each money figure per currency."""

    potential_monthly_savings: PerCurrency = Field(
        description="Σ estimated_monthly_savings of the visible recommendations, per currency"
    )
    committed_monthly: PerCurrency = Field(
        description="Σ over active commitments of recurring monthly cost + upfront ÷ term months"
    )
    realized_monthly_savings: PerCurrency = Field(
        description="Σ estimated monthly savings of active (bought, unexpired) purchases in history"
    )
    recommendation_count: int
    active_commitment_count: int


class AccountFigures(Figures):
    cloud_account_id: uuid.UUID
    account_name: str
    account_external_id: str
    provider: Provider
    enabled: bool


class Summary(Figures):
    currencies: list[str] = Field(description="Every currency appearing in the figures")
    by_provider: dict[Provider, Figures]
    by_account: list[AccountFigures] = Field(
        description="Exactly the filtered accounts (all you may see when none are named), by name"
    )


class ScheduledRun(BaseModel):
    plan_id: uuid.UUID
    plan_name: str
    provider: Provider | None
    schedule: str
    next_run_at: datetime | None = Field(description="Next time the cron fires (UTC)")
    dry_run: bool


class ExpiringCommitment(BaseModel):
    id: uuid.UUID
    cloud_account_id: uuid.UUID
    account_name: str
    provider: Provider
    service: str
    provider_commitment_id: str
    region: str
    resource_type: str
    engine: str
    count: Decimal
    term: int | None
    payment: Payment | None
    start: datetime | None
    end: datetime
    state: str
    upfront_cost: Decimal
    recurring_monthly_cost: Decimal
    currency: str
    utilization_percent: Decimal | None
    purchased_by_cudly: bool
    days_until_expiry: int = Field(description="Whole days from now until `end`")


class Upcoming(BaseModel):
    days: int = Field(description="The window for expiring commitments")
    scheduled_runs: list[ScheduledRun] = Field(
        description="Each enabled scheduled plan's next run, soonest first"
    )
    expiring_commitments: list[ExpiringCommitment] = Field(
        description="Active commitments ending within `days`, soonest first"
    )


class SavingsPoint(BaseModel):
    bucket_start: datetime
    potential_monthly_savings: Decimal
    committed_monthly: Decimal
    realized_monthly_savings: Decimal
    active_commitment_count: int
    account_count: int = Field(description="Accounts with a snapshot so far")


class SavingsSeries(BaseModel):
    currency: str
    points: list[SavingsPoint]


class SavingsOverTime(BaseModel):
    interval: Interval
    start: datetime
    end: datetime
    series: list[SavingsSeries] = Field(
        description=(
            "Per currency: in each bucket, the sum over accounts of each account's latest "
            "collection snapshot up to the bucket's end (carried forward between collections)"
        )
    )
