"""Response models of the purchase-history API (SPEC §6 purchase_history fields, §7)."""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from enum import StrEnum

from pydantic import BaseModel, Field

from api.enums import Payment, Provider, PurchaseStatus


class Interval(StrEnum):
    daily = "daily"
    weekly = "weekly"
    monthly = "monthly"


class Dimension(StrEnum):
    service = "service"
    region = "region"
    account = "account"
    provider = "provider"


class HistoryRead(BaseModel):
    """One purchase (or dry-run / failed attempt) as recorded at the time."""

    id: uuid.UUID
    cloud_account_id: uuid.UUID | None = Field(
        description="null when the row predates the account or the account was deleted"
    )
    account_external_id: str = Field(description="The provider's account id, as recorded")
    account_name: str = Field(
        description="The account's current name, or the recorded one when it no longer exists"
    )
    provider: Provider
    plan_id: uuid.UUID | None
    execution_id: uuid.UUID | None
    service: str
    region: str | None
    resource_type: str | None
    engine: str | None
    variant: str = Field(description="What else made it a different purchase; empty when nothing")
    count: Decimal
    term: int | None = Field(description="Years")
    payment: Payment | None
    upfront_cost: Decimal | None
    monthly_cost: Decimal | None
    estimated_monthly_savings: Decimal | None
    currency: str | None
    status: PurchaseStatus
    purchased_at: datetime
    expires_at: datetime | None
    provider_commitment_id: str | None


class HistoryPage(BaseModel):
    history: list[HistoryRead]
    next_cursor: str | None = Field(
        description="Pass as `cursor` for the next page; null at the end"
    )


class Totals(BaseModel):
    """Money of purchases in one currency (Decimal, never summed across currencies)."""

    currency: str
    purchase_count: int
    upfront_cost: Decimal
    monthly_cost: Decimal
    committed_spend: Decimal = Field(
        description="upfront + monthly cost over the term (term years x 12); a row without a term adds its upfront only"
    )
    estimated_monthly_savings: Decimal


class Bucket(BaseModel):
    bucket_start: datetime = Field(description="Start of the bucket (UTC); weeks start on Monday")
    purchase_count: int
    upfront_cost: Decimal
    monthly_cost: Decimal
    committed_spend: Decimal
    estimated_monthly_savings: Decimal


class CurrencySeries(BaseModel):
    currency: str
    buckets: list[Bucket] = Field(description="Every bucket from start to end, empty ones as zeros")


class Analytics(BaseModel):
    interval: Interval
    start: datetime = Field(description="Start of the first bucket")
    end: datetime = Field(description="Exclusive end of the range")
    status: PurchaseStatus
    series: list[CurrencySeries] = Field(
        description="One series per currency, never summed together"
    )


class BreakdownItem(Totals):
    key: str | None = Field(
        description="The dimension's value: service, region, provider, or the cloud account id (null for deleted/unknown accounts)"
    )
    cloud_account_id: uuid.UUID | None = Field(default=None, description="dimension=account only")
    account_name: str | None = Field(default=None, description="dimension=account only")
    account_external_id: str | None = Field(default=None, description="dimension=account only")
    provider: Provider | None = Field(default=None, description="dimension=account only")


class Breakdown(BaseModel):
    dimension: Dimension
    status: PurchaseStatus
    breakdown: list[BreakdownItem] = Field(description="Per dimension value and currency")
