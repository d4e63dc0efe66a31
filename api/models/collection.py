"""Recommendations, collection runs (one row per run, one per account in it), savings snapshots."""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    DateTime,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, UUID
from sqlalchemy.orm import Mapped, mapped_column

from api.enums import (
    ALL_SERVICES,
    Payment,
    Provider,
    RunAccountStatus,
    RunStatus,
    RunTrigger,
    Term,
)
from api.models.base import MONEY, Base, check_in, check_values, created_at_column, uuid_pk


class Recommendation(Base):
    __tablename__ = "recommendations"
    __table_args__ = (
        # The natural key: two terms or two accounts never overwrite each other.
        UniqueConstraint(
            "cloud_account_id",
            "provider",
            "service",
            "region",
            "resource_type",
            "engine",
            "term",
            "payment",
            "variant",
            name="uq_recommendations_natural_key",
        ),
        check_in("provider", Provider),
        check_in("payment", Payment),
        check_values("service", sorted(ALL_SERVICES), "service_valid"),
        check_in("term", Term),
        Index("ix_recommendations_provider_service", "provider", "service"),
        Index("ix_recommendations_savings_id", "estimated_monthly_savings", "id"),
        # Keyset pagination under each sort the list offers (id is the tie-break).
        Index("ix_recommendations_savings_percent_id", "savings_percent", "id"),
        Index("ix_recommendations_upfront_cost_id", "upfront_cost", "id"),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    cloud_account_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True),
        ForeignKey("cloud_accounts.id", ondelete="CASCADE"),
        nullable=False,
        index=True,
    )
    collection_run_id: Mapped[uuid.UUID | None] = mapped_column(
        UUID(as_uuid=True), ForeignKey("collection_runs.id", ondelete="SET NULL")
    )
    provider: Mapped[str] = mapped_column(String(16), nullable=False)
    service: Mapped[str] = mapped_column(String(32), nullable=False)
    region: Mapped[str] = mapped_column(String(64), nullable=False, server_default="")
    resource_type: Mapped[str] = mapped_column(String(128), nullable=False, server_default="")
    engine: Mapped[str] = mapped_column(String(128), nullable=False, server_default="")
    term: Mapped[int] = mapped_column(SmallInteger, nullable=False)
    payment: Mapped[str] = mapped_column(String(32), nullable=False)
    # What else makes a different purchase (EC2 platform/tenancy/offering class, Savings Plans
    # type and family, RDS deployment, Azure scope); "" when nothing does.
    variant: Mapped[str] = mapped_column(Text, nullable=False, server_default="")
    count: Mapped[Decimal] = mapped_column(Numeric(18, 4), nullable=False)
    upfront_cost: Mapped[Decimal] = mapped_column(MONEY, nullable=False, server_default="0")
    recurring_monthly_cost: Mapped[Decimal] = mapped_column(
        MONEY, nullable=False, server_default="0"
    )
    on_demand_monthly_cost: Mapped[Decimal] = mapped_column(
        MONEY, nullable=False, server_default="0"
    )
    estimated_monthly_savings: Mapped[Decimal] = mapped_column(
        MONEY, nullable=False, server_default="0"
    )
    savings_percent: Mapped[Decimal] = mapped_column(
        Numeric(7, 3), nullable=False, server_default="0"
    )
    currency: Mapped[str] = mapped_column(String(8), nullable=False, server_default="USD")
    collected_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), nullable=False, index=True
    )
    details: Mapped[dict[str, Any]] = mapped_column(JSONB, nullable=False, server_default="{}")


class CollectionRun(Base):
    __tablename__ = "collection_runs"
    __table_args__ = (
        check_in("status", RunStatus),
        check_in("trigger", RunTrigger),
        # At most one run in flight: a second refresh finds and returns it.
        Index(
            "uq_collection_runs_one_running",
            "status",
            unique=True,
            postgresql_where=text("status = 'running'"),
        ),
        Index("ix_collection_runs_started_at", "started_at"),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    trigger: Mapped[str] = mapped_column(String(16), nullable=False)
    status: Mapped[str] = mapped_column(String(16), nullable=False, server_default="running")
    requested_account_ids: Mapped[list[uuid.UUID] | None] = mapped_column(ARRAY(UUID(as_uuid=True)))
    accounts_total: Mapped[int] = mapped_column(Integer, nullable=False, server_default="0")
    accounts_ok: Mapped[int] = mapped_column(Integer, nullable=False, server_default="0")
    accounts_failed: Mapped[int] = mapped_column(Integer, nullable=False, server_default="0")
    recommendation_count: Mapped[int] = mapped_column(Integer, nullable=False, server_default="0")
    # Rows still pending or running: whoever finishes the last one closes the run (0008).
    accounts_unfinished: Mapped[int] = mapped_column(Integer, nullable=False, server_default="0")
    owner: Mapped[str | None] = mapped_column(String(128))
    heartbeat_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    error: Mapped[str | None] = mapped_column(Text)
    created_by: Mapped[uuid.UUID | None] = mapped_column(
        UUID(as_uuid=True), ForeignKey("users.id", ondelete="SET NULL")
    )
    started_at: Mapped[datetime] = created_at_column()
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class CollectionRunAccount(Base):
    __tablename__ = "collection_run_accounts"
    __table_args__ = (
        UniqueConstraint("run_id", "cloud_account_id"),
        check_in("status", RunAccountStatus),
        Index("ix_collection_run_accounts_account_finished", "cloud_account_id", "finished_at"),
        # The work queue (0008): a run's pending rows in claiming order; the rows in flight.
        Index(
            "ix_collection_run_accounts_claimable",
            "run_id",
            "account_name",
            "cloud_account_id",
            postgresql_where=text("status = 'pending'"),
        ),
        Index(
            "ix_collection_run_accounts_in_flight",
            "heartbeat_at",
            postgresql_where=text("status = 'running'"),
        ),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    run_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("collection_runs.id", ondelete="CASCADE"), nullable=False
    )
    cloud_account_id: Mapped[uuid.UUID | None] = mapped_column(
        UUID(as_uuid=True), ForeignKey("cloud_accounts.id", ondelete="SET NULL")
    )
    account_name: Mapped[str] = mapped_column(String(255), nullable=False)
    account_external_id: Mapped[str] = mapped_column(String(64), nullable=False)
    provider: Mapped[str] = mapped_column(String(16), nullable=False)
    status: Mapped[str] = mapped_column(String(16), nullable=False, server_default="pending")
    error: Mapped[str | None] = mapped_column(Text)
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    duration_ms: Mapped[int | None] = mapped_column(Integer)
    recommendation_count: Mapped[int] = mapped_column(Integer, nullable=False, server_default="0")
    commitment_count: Mapped[int] = mapped_column(Integer, nullable=False, server_default="0")
    # Problems that did not fail the sweep (e.g. an inventory call the credentials may not make).
    warnings: Mapped[list[str]] = mapped_column(JSONB, nullable=False, server_default="[]")
    # The claim (docs/operations.md, scaling): which worker sweeps the row, the token its
    # finish write must match, and its heartbeat; a stale heartbeat lets another re-claim it.
    claimed_by: Mapped[str | None] = mapped_column(String(128))
    claim_token: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    claimed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    heartbeat_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    attempts: Mapped[int] = mapped_column(Integer, nullable=False, server_default="0")


class SavingsSnapshot(Base):
    __tablename__ = "savings_snapshots"
    __table_args__ = (
        check_in("provider", Provider),
        Index("ix_savings_snapshots_provider_service", "provider", "service"),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    cloud_account_id: Mapped[uuid.UUID | None] = mapped_column(
        UUID(as_uuid=True), ForeignKey("cloud_accounts.id", ondelete="SET NULL"), index=True
    )
    account_external_id: Mapped[str] = mapped_column(String(64), nullable=False)
    account_name: Mapped[str] = mapped_column(String(255), nullable=False)
    provider: Mapped[str] = mapped_column(String(16), nullable=False)
    service: Mapped[str] = mapped_column(String(32), nullable=False)
    captured_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), nullable=False, index=True
    )
    committed_monthly: Mapped[Decimal] = mapped_column(MONEY, nullable=False, server_default="0")
    realized_monthly_savings: Mapped[Decimal] = mapped_column(
        MONEY, nullable=False, server_default="0"
    )
    potential_monthly_savings: Mapped[Decimal] = mapped_column(
        MONEY, nullable=False, server_default="0"
    )
    active_commitment_count: Mapped[int] = mapped_column(
        Integer, nullable=False, server_default="0"
    )
    currency: Mapped[str] = mapped_column(String(8), nullable=False, server_default="USD")
    created_at: Mapped[datetime] = created_at_column()
