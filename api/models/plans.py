"""Purchase plans and their target accounts."""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Boolean, CheckConstraint, DateTime, ForeignKey, Numeric, String, Text
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlalchemy.orm import Mapped, mapped_column

from api.enums import Provider
from api.models.base import Base, check_in, created_at_column, updated_at_column, uuid_pk


class PurchasePlan(Base):
    __tablename__ = "purchase_plans"
    __table_args__ = (
        check_in("provider", Provider),
        CheckConstraint("max_upfront >= 0", name="max_upfront_positive"),
        CheckConstraint("max_monthly_commitment >= 0", name="max_monthly_commitment_positive"),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    name: Mapped[str] = mapped_column(String(255), nullable=False)
    description: Mapped[str | None] = mapped_column(Text)
    enabled: Mapped[bool] = mapped_column(Boolean, nullable=False, server_default="true")
    # Derived from the service keys ("aws:ec2" …); a plan never mixes providers.
    provider: Mapped[str | None] = mapped_column(String(16), index=True)
    services: Mapped[dict[str, Any]] = mapped_column(JSONB, nullable=False, server_default="{}")
    schedule: Mapped[str | None] = mapped_column(String(255))
    next_run_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), index=True)
    dry_run: Mapped[bool] = mapped_column(Boolean, nullable=False, server_default="true")
    # Caps per execution group (SPEC §6 Guardrails); NULL = no plan cap.
    max_upfront: Mapped[Decimal | None] = mapped_column(Numeric(18, 6))
    max_monthly_commitment: Mapped[Decimal | None] = mapped_column(Numeric(18, 6))
    created_by: Mapped[uuid.UUID | None] = mapped_column(
        UUID(as_uuid=True), ForeignKey("users.id", ondelete="SET NULL")
    )
    # The last user who changed the plan: a scheduled run's "trigger" for four-eyes approval.
    updated_by: Mapped[uuid.UUID | None] = mapped_column(
        UUID(as_uuid=True), ForeignKey("users.id", ondelete="SET NULL")
    )
    created_at: Mapped[datetime] = created_at_column()
    updated_at: Mapped[datetime] = updated_at_column()


class PlanAccount(Base):
    __tablename__ = "plan_accounts"

    plan_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("purchase_plans.id", ondelete="CASCADE"), primary_key=True
    )
    cloud_account_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True),
        ForeignKey("cloud_accounts.id", ondelete="CASCADE"),
        primary_key=True,
        index=True,
    )
