"""Response models for executions and their purchase lines (SPEC §6)."""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, StringConstraints

from api.enums import ApprovalStatus, ExecutionStatus, Provider, PurchaseLineStatus
from api.plans.schemas import Money


class PurchaseLineRead(BaseModel):
    id: uuid.UUID
    recommendation_id: uuid.UUID | None
    idempotency_key: str
    status: PurchaseLineStatus
    service: str
    region: str | None
    resource_type: str | None
    engine: str | None
    variant: str
    term: int | None
    payment: str | None
    count: Decimal
    offering_id: str | None
    upfront_cost: Money | None
    recurring_monthly_cost: Money | None
    estimated_monthly_savings: Money | None
    currency: str | None
    provider_commitment_id: str | None
    attempts: int
    error: str | None
    reason: str | None


class ApprovalRead(BaseModel):
    """A group's four-eyes approval; ``totals`` per currency (upfront, monthly, savings) are
    what was approved, or while awaiting what would be bought."""

    id: uuid.UUID
    execution_group_id: uuid.UUID
    status: ApprovalStatus
    triggered_by: uuid.UUID | None
    decided_by: uuid.UUID | None
    decided_by_email: str | None
    decided_at: datetime | None
    reason: str | None
    expires_at: datetime
    totals: dict[str, dict[str, str]]


class RejectBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: Annotated[str, StringConstraints(max_length=2000)] | None = None


class ExecutionRead(BaseModel):
    id: uuid.UUID
    execution_group_id: uuid.UUID
    plan_id: uuid.UUID | None
    cloud_account_id: uuid.UUID | None
    account_name: str
    account_external_id: str
    provider: Provider
    triggered_by: uuid.UUID | None
    status: ExecutionStatus
    dry_run: bool
    error: str | None
    note: str | None
    started_at: datetime | None
    finished_at: datetime | None
    created_at: datetime
    approval: ApprovalRead | None = None
    lines: list[PurchaseLineRead]


class ExecutionList(BaseModel):
    executions: list[ExecutionRead]


class ExecuteResponse(BaseModel):
    execution_group_id: uuid.UUID
    executions: list[ExecutionRead]


class GroupSummary(BaseModel):
    """The final ``group`` event of ``GET /api/executions/{group_id}/events``."""

    execution_group_id: uuid.UUID
    status: str
    executions: int
    completed: int
    partial: int
    failed: int


def line_read(line: Any) -> PurchaseLineRead:
    return PurchaseLineRead.model_validate(line, from_attributes=True)


def approval_read(approval: Any, totals: dict[str, dict[str, str]] | None = None) -> ApprovalRead:
    data = {name: getattr(approval, name) for name in ApprovalRead.model_fields if name != "totals"}
    return ApprovalRead(**data, totals=approval.totals if totals is None else totals)


def execution_read(
    execution: Any, lines: list[Any], approval: ApprovalRead | None = None
) -> ExecutionRead:
    data = {
        name: getattr(execution, name)
        for name in ExecutionRead.model_fields
        if name not in ("lines", "approval")
    }
    return ExecutionRead(**data, approval=approval, lines=[line_read(line) for line in lines])
