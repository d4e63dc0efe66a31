"""The inventory of commitments an account already holds (RIs, Savings Plans, reservations, CUDs).

Written by collection (each completed sweep replaces that account's rows), read by the
commitments endpoint, the dashboard and plan sizing.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Numeric,
    SmallInteger,
    String,
    UniqueConstraint,
)
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlalchemy.orm import Mapped, mapped_column

from api.enums import Payment, Provider
from api.models.base import MONEY, Base, check_in, uuid_pk


class Commitment(Base):
    __tablename__ = "commitments"
    __table_args__ = (
        # The provider's own id: a commitment keeps its row (and its id) across sweeps.
        UniqueConstraint("cloud_account_id", "provider", "provider_commitment_id"),
        check_in("provider", Provider),
        check_in("payment", Payment),
        Index("ix_commitments_provider_service", "provider", "service"),
        Index("ix_commitments_end", "end"),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    cloud_account_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True),
        ForeignKey("cloud_accounts.id", ondelete="CASCADE"),
        nullable=False,
        index=True,
    )
    provider: Mapped[str] = mapped_column(String(16), nullable=False)
    service: Mapped[str] = mapped_column(String(32), nullable=False)
    provider_commitment_id: Mapped[str] = mapped_column(String(255), nullable=False)
    region: Mapped[str] = mapped_column(String(64), nullable=False, server_default="")
    resource_type: Mapped[str] = mapped_column(String(128), nullable=False, server_default="")
    engine: Mapped[str] = mapped_column(String(128), nullable=False, server_default="")
    count: Mapped[Decimal] = mapped_column(Numeric(18, 4), nullable=False, server_default="0")
    term: Mapped[int | None] = mapped_column(SmallInteger)
    payment: Mapped[str | None] = mapped_column(String(32))
    start: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    end: Mapped[datetime | None] = mapped_column("end", DateTime(timezone=True))
    state: Mapped[str] = mapped_column(String(32), nullable=False)
    upfront_cost: Mapped[Decimal] = mapped_column(MONEY, nullable=False, server_default="0")
    recurring_monthly_cost: Mapped[Decimal] = mapped_column(
        MONEY, nullable=False, server_default="0"
    )
    currency: Mapped[str] = mapped_column(String(8), nullable=False, server_default="USD")
    utilization_percent: Mapped[Decimal | None] = mapped_column(Numeric(7, 3))
    # Set by purchases (linked through purchase_history.provider_commitment_id); a sweep
    # never clears it.
    purchased_by_cudly: Mapped[bool] = mapped_column(
        Boolean, nullable=False, server_default="false"
    )
    details: Mapped[dict[str, Any]] = mapped_column(JSONB, nullable=False, server_default="{}")
    collected_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
