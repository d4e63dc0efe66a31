"""Response models of the commitments inventory (SPEC §7)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from pydantic import BaseModel

from api.enums import Provider


class CommitmentOut(BaseModel):
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
    payment: str | None
    start: datetime | None
    end: datetime | None
    state: str
    upfront_cost: Decimal
    recurring_monthly_cost: Decimal
    currency: str
    utilization_percent: Decimal | None
    purchased_by_cudly: bool
    collected_at: datetime
    details: dict[str, Any]


class CommitmentList(BaseModel):
    commitments: list[CommitmentOut]
    next_cursor: str | None


# Query filters, shared by the service and the repository that builds the SQL.
@dataclass(frozen=True)
class CommitmentFilters:
    provider: Provider | None = None
    service: str | None = None
    account_ids: Sequence[uuid.UUID] | None = None
    state: str | None = None
    expiring_before: datetime | None = None
