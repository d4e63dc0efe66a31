"""Request and response models for plans and their target accounts (SPEC §6).

Wire conventions: ``services`` maps ``"<provider>:<service>"`` to sparse settings that are
layered over each account's effective config (absent field = the account's value);
``max_upfront``/``max_monthly_commitment`` are money (a JSON number or numeric string in,
a fixed-scale string out); ``schedule`` is a five-field cron expression (UTC).
"""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PlainSerializer,
    StrictBool,
    StringConstraints,
)

from api.enums import Payment, Provider
from api.service_config.schemas import Coverage, LabelList, Term

MAX_PLAN_SERVICES = 50
MAX_PLAN_ACCOUNTS = 200


def money_json(value: Decimal) -> str:
    """Money as a fixed-scale string (two decimals), never a binary float."""
    return format(value.quantize(Decimal("0.01")), "f")


Money = Annotated[Decimal, PlainSerializer(money_json, return_type=str, when_used="json")]
MoneyIn = Annotated[
    Decimal,
    Field(ge=0, allow_inf_nan=False, max_digits=18, decimal_places=6),
    PlainSerializer(money_json, return_type=str, when_used="json"),
]
Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=255)]
Description = Annotated[str, StringConstraints(max_length=4000)]
Schedule = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=255)]
ServiceKey = Annotated[str, StringConstraints(min_length=3, max_length=64)]


class PlanServiceSettings(BaseModel):
    """Sparse settings for one service; an absent field keeps the account's effective value."""

    model_config = ConfigDict(extra="forbid")

    enabled: StrictBool | None = None
    term: Term | None = None
    payment: Payment | None = None
    coverage: Coverage | None = None
    include_regions: LabelList | None = None
    exclude_regions: LabelList | None = None
    include_types: LabelList | None = None
    exclude_types: LabelList | None = None
    include_engines: LabelList | None = None
    exclude_engines: LabelList | None = None


Services = Annotated[
    dict[ServiceKey, PlanServiceSettings],
    Field(min_length=1, max_length=MAX_PLAN_SERVICES, description='e.g. {"aws:ec2": {"term": 1}}'),
]


class PlanCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Name
    description: Description | None = None
    enabled: StrictBool = True
    services: Services
    schedule: Schedule | None = Field(default=None, description="Cron expression (UTC), optional")
    dry_run: StrictBool = Field(default=True, description="Record what would be bought only")
    max_upfront: MoneyIn | None = None
    max_monthly_commitment: MoneyIn | None = None


class PlanUpdate(BaseModel):
    """``PUT /api/plans/{id}``: the fields present replace the stored ones; ``null`` clears
    ``description``, ``schedule`` and the caps."""

    model_config = ConfigDict(extra="forbid")

    id: uuid.UUID | None = Field(default=None, description="Read-only; must match the path")
    name: Name | None = None
    description: Description | None = None
    enabled: StrictBool | None = None
    services: Services | None = None
    schedule: Schedule | None = None
    dry_run: StrictBool | None = None
    max_upfront: MoneyIn | None = None
    max_monthly_commitment: MoneyIn | None = None


class PlanTargets(BaseModel):
    """Which accounts the plan executes on: ``all`` enabled accounts of its provider, or a list."""

    all: bool
    count: int
    names: list[str]


class PlanRead(BaseModel):
    id: uuid.UUID
    name: str
    description: str | None
    enabled: bool
    provider: Provider | None
    services: dict[str, dict[str, Any]]
    schedule: str | None
    next_run_at: datetime | None
    dry_run: bool
    max_upfront: Money | None
    max_monthly_commitment: Money | None
    target_accounts: PlanTargets
    created_at: datetime
    updated_at: datetime


class PlanList(BaseModel):
    plans: list[PlanRead]


class PlanAccountsUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    account_ids: Annotated[list[uuid.UUID], Field(max_length=MAX_PLAN_ACCOUNTS)]


class PlanAccountRead(BaseModel):
    id: uuid.UUID
    name: str
    provider: Provider
    external_id: str


class PlanAccounts(BaseModel):
    """The explicit target set; empty means all enabled accounts of the plan's provider."""

    account_ids: list[uuid.UUID]
    accounts: list[PlanAccountRead]
