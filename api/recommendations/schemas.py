"""Response models of recommendations (SPEC §5). Money is Decimal, rendered as a string."""

from __future__ import annotations

import enum
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from pydantic import BaseModel

from api.enums import Provider, RunAccountStatus


class RecommendationSort(enum.StrEnum):
    """A sort field, ``-`` for descending; keyset cursors follow it (id breaks ties)."""

    estimated_monthly_savings = "estimated_monthly_savings"
    estimated_monthly_savings_desc = "-estimated_monthly_savings"
    savings_percent = "savings_percent"
    savings_percent_desc = "-savings_percent"
    upfront_cost = "upfront_cost"
    upfront_cost_desc = "-upfront_cost"
    collected_at = "collected_at"
    collected_at_desc = "-collected_at"


class RecommendationOut(BaseModel):
    id: uuid.UUID
    cloud_account_id: uuid.UUID
    account_name: str
    account_external_id: str
    provider: Provider
    service: str
    region: str
    resource_type: str
    engine: str
    term: int
    payment: str
    variant: str
    count: Decimal
    upfront_cost: Decimal
    recurring_monthly_cost: Decimal
    on_demand_monthly_cost: Decimal
    estimated_monthly_savings: Decimal
    savings_percent: Decimal
    currency: str
    collected_at: datetime
    details: dict[str, Any]


class RecommendationList(BaseModel):
    recommendations: list[RecommendationOut]
    next_cursor: str | None


class FreshnessOut(BaseModel):
    cloud_account_id: uuid.UUID
    account_name: str
    account_external_id: str
    provider: Provider
    last_collected_at: datetime | None
    last_status: RunAccountStatus | None
    last_error: str | None
    stale: bool
    recommendation_count: int


class FreshnessList(BaseModel):
    accounts: list[FreshnessOut]


# Query filters, shared by the service and the repository that builds the SQL.
@dataclass(frozen=True)
class RecommendationFilters:
    provider: Provider | None = None
    service: str | None = None
    region: str | None = None
    account_ids: Sequence[uuid.UUID] | None = None
    min_savings: Decimal | None = None
