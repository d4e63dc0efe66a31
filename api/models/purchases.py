"""Executions (one per plan x account), their purchase lines, and the purchase history.

Executions and history keep the raw provider account id and the account name, so they
stay readable after the account row is deleted (``cloud_account_id`` becomes NULL).
"""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlalchemy.orm import Mapped, mapped_column

from api.enums import (
    ALL_SERVICES,
    ApprovalStatus,
    ExecutionStatus,
    Payment,
    Provider,
    PurchaseLineStatus,
    PurchaseStatus,
    Term,
)
from api.models.base import (
    MONEY,
    Base,
    check_in,
    check_values,
    created_at_column,
    updated_at_column,
    uuid_pk,
)


def _service_check() -> CheckConstraint:
    return check_values("service", sorted(ALL_SERVICES), "service_valid")


def _term_check() -> CheckConstraint:
    return check_in("term", Term)


class PurchaseExecution(Base):
    __tablename__ = "purchase_executions"
    __table_args__ = (
        check_in("status", ExecutionStatus),
        check_in("provider", Provider),
        Index("ix_purchase_executions_status_created", "status", "created_at"),
        # One execution per account in a group, so a retry never mixes accounts' lines.
        UniqueConstraint("execution_group_id", "cloud_account_id"),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    execution_group_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), nullable=False, index=True
    )
    plan_id: Mapped[uuid.UUID | None] = mapped_column(
        UUID(as_uuid=True), ForeignKey("purchase_plans.id", ondelete="SET NULL"), index=True
    )
    cloud_account_id: Mapped[uuid.UUID | None] = mapped_column(
        UUID(as_uuid=True), ForeignKey("cloud_accounts.id", ondelete="SET NULL"), index=True
    )
    account_external_id: Mapped[str] = mapped_column(String(64), nullable=False)
    account_name: Mapped[str] = mapped_column(String(255), nullable=False)
    provider: Mapped[str] = mapped_column(String(16), nullable=False)
    status: Mapped[str] = mapped_column(String(32), nullable=False, server_default="pending")
    dry_run: Mapped[bool] = mapped_column(Boolean, nullable=False, server_default="true")
    error: Mapped[str | None] = mapped_column(Text)
    # Set when the group was created needing a second person's approval (SPEC §6).
    approval_required: Mapped[bool] = mapped_column(Boolean, nullable=False, server_default="false")
    # Why a real plan bought nothing (e.g. purchases disabled on the server); not an error.
    note: Mapped[str | None] = mapped_column(Text)
    # The plan as it was when triggered (services, caps): later edits never change a run.
    plan_snapshot: Mapped[dict[str, Any]] = mapped_column(
        JSONB, nullable=False, server_default="{}"
    )
    triggered_by: Mapped[uuid.UUID | None] = mapped_column(
        UUID(as_uuid=True), ForeignKey("users.id", ondelete="SET NULL")
    )
    claimed_by: Mapped[str | None] = mapped_column(String(128))
    heartbeat_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = created_at_column()
    updated_at: Mapped[datetime] = updated_at_column()


class PurchaseLine(Base):
    """One thing to buy. Claimed atomically (pending -> purchasing) before any cloud call."""

    __tablename__ = "purchase_lines"
    __table_args__ = (
        check_in("status", PurchaseLineStatus),
        check_in("payment", Payment),
        _service_check(),
        _term_check(),
        Index("ix_purchase_lines_status", "status"),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    execution_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True),
        ForeignKey("purchase_executions.id", ondelete="CASCADE"),
        nullable=False,
        index=True,
    )
    recommendation_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    idempotency_key: Mapped[str] = mapped_column(String(128), nullable=False, unique=True)
    status: Mapped[str] = mapped_column(String(16), nullable=False, server_default="pending")
    service: Mapped[str] = mapped_column(String(32), nullable=False)
    region: Mapped[str | None] = mapped_column(String(64))
    resource_type: Mapped[str | None] = mapped_column(String(128))
    engine: Mapped[str | None] = mapped_column(String(128))
    variant: Mapped[str] = mapped_column(Text, nullable=False, server_default="")
    term: Mapped[int | None] = mapped_column(SmallInteger)
    payment: Mapped[str | None] = mapped_column(String(32))
    count: Mapped[Decimal] = mapped_column(Numeric(18, 4), nullable=False, server_default="0")
    offering_id: Mapped[str | None] = mapped_column(String(255))
    upfront_cost: Mapped[Decimal | None] = mapped_column(MONEY)
    recurring_monthly_cost: Mapped[Decimal | None] = mapped_column(MONEY)
    estimated_monthly_savings: Mapped[Decimal | None] = mapped_column(MONEY)
    currency: Mapped[str | None] = mapped_column(String(8))
    provider_commitment_id: Mapped[str | None] = mapped_column(String(255))
    attempts: Mapped[int] = mapped_column(Integer, nullable=False, server_default="0")
    error: Mapped[str | None] = mapped_column(Text)
    # Why a guardrail skipped the line (grace window, cap, purchases disabled).
    reason: Mapped[str | None] = mapped_column(Text)
    claimed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    details: Mapped[dict[str, Any]] = mapped_column(JSONB, nullable=False, server_default="{}")
    created_at: Mapped[datetime] = created_at_column()
    updated_at: Mapped[datetime] = updated_at_column()


class PurchaseHistory(Base):
    __tablename__ = "purchase_history"
    __table_args__ = (
        check_in("status", PurchaseStatus),
        check_in("provider", Provider),
        check_in("payment", Payment),
        _service_check(),
        _term_check(),
        Index("ix_purchase_history_provider_service", "provider", "service"),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    cloud_account_id: Mapped[uuid.UUID | None] = mapped_column(
        UUID(as_uuid=True), ForeignKey("cloud_accounts.id", ondelete="SET NULL"), index=True
    )
    account_external_id: Mapped[str] = mapped_column(String(64), nullable=False)
    account_name: Mapped[str] = mapped_column(String(255), nullable=False)
    provider: Mapped[str] = mapped_column(String(16), nullable=False)
    plan_id: Mapped[uuid.UUID | None] = mapped_column(
        UUID(as_uuid=True), ForeignKey("purchase_plans.id", ondelete="SET NULL"), index=True
    )
    execution_id: Mapped[uuid.UUID | None] = mapped_column(
        UUID(as_uuid=True), ForeignKey("purchase_executions.id", ondelete="SET NULL"), index=True
    )
    purchase_line_id: Mapped[uuid.UUID | None] = mapped_column(
        UUID(as_uuid=True), ForeignKey("purchase_lines.id", ondelete="SET NULL"), unique=True
    )
    service: Mapped[str] = mapped_column(String(32), nullable=False)
    region: Mapped[str | None] = mapped_column(String(64))
    resource_type: Mapped[str | None] = mapped_column(String(128))
    engine: Mapped[str | None] = mapped_column(String(128))
    variant: Mapped[str] = mapped_column(Text, nullable=False, server_default="")
    count: Mapped[Decimal] = mapped_column(Numeric(18, 4), nullable=False)
    term: Mapped[int | None] = mapped_column(SmallInteger)
    payment: Mapped[str | None] = mapped_column(String(32))
    upfront_cost: Mapped[Decimal | None] = mapped_column(MONEY)
    monthly_cost: Mapped[Decimal | None] = mapped_column(MONEY)
    estimated_monthly_savings: Mapped[Decimal | None] = mapped_column(MONEY)
    currency: Mapped[str | None] = mapped_column(String(8))
    status: Mapped[str] = mapped_column(String(16), nullable=False)
    purchased_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), nullable=False, index=True
    )
    expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), index=True)
    provider_commitment_id: Mapped[str | None] = mapped_column(String(255))
    approval_id: Mapped[uuid.UUID | None] = mapped_column(
        UUID(as_uuid=True), ForeignKey("purchase_approvals.id", ondelete="SET NULL"), index=True
    )
    created_at: Mapped[datetime] = created_at_column()


class PurchaseApproval(Base):
    """The four-eyes sign-off of one real execution group; ``pinned`` is what was approved."""

    __tablename__ = "purchase_approvals"
    __table_args__ = (check_in("status", ApprovalStatus),)

    id: Mapped[uuid.UUID] = uuid_pk()
    execution_group_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), nullable=False, unique=True
    )
    plan_id: Mapped[uuid.UUID | None] = mapped_column(
        UUID(as_uuid=True), ForeignKey("purchase_plans.id", ondelete="SET NULL"), index=True
    )
    status: Mapped[str] = mapped_column(String(16), nullable=False, server_default="awaiting")
    # Who may not approve: the trigger (a scheduled run: the plan's last editor).
    triggered_by: Mapped[uuid.UUID | None] = mapped_column(
        UUID(as_uuid=True), ForeignKey("users.id", ondelete="SET NULL")
    )
    decided_by: Mapped[uuid.UUID | None] = mapped_column(
        UUID(as_uuid=True), ForeignKey("users.id", ondelete="SET NULL")
    )
    decided_by_email: Mapped[str | None] = mapped_column(String(320))
    decided_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    reason: Mapped[str | None] = mapped_column(Text)
    totals: Mapped[dict[str, Any]] = mapped_column(JSONB, nullable=False, server_default="{}")
    pinned: Mapped[dict[str, Any]] = mapped_column(JSONB, nullable=False, server_default="{}")
    expires_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), nullable=False, index=True
    )
    created_at: Mapped[datetime] = created_at_column()
