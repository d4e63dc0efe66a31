"""Cloud accounts, their encrypted credentials, and sparse per-account service overrides."""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    ForeignKey,
    Index,
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
    AwsAuthMode,
    AzureAuthMode,
    CredentialType,
    GcpAuthMode,
    Payment,
    Provider,
    Term,
)
from api.models.base import (
    Base,
    check_in,
    check_values,
    created_at_column,
    updated_at_column,
    uuid_pk,
)


class CloudAccount(Base):
    __tablename__ = "cloud_accounts"
    __table_args__ = (
        UniqueConstraint("provider", "external_id"),
        check_in("provider", Provider),
        check_in("aws_auth_mode", AwsAuthMode),
        check_in("azure_auth_mode", AzureAuthMode),
        check_in("gcp_auth_mode", GcpAuthMode),
        CheckConstraint("aws_bastion_id IS NULL OR aws_bastion_id <> id", name="no_self_bastion"),
        Index("ix_cloud_accounts_name_lower", text("lower(name)")),
        Index("ix_cloud_accounts_provider_enabled", "provider", "enabled"),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    name: Mapped[str] = mapped_column(String(255), nullable=False)
    description: Mapped[str | None] = mapped_column(Text)
    contact_email: Mapped[str | None] = mapped_column(String(320))
    enabled: Mapped[bool] = mapped_column(Boolean, nullable=False, server_default="true")
    provider: Mapped[str] = mapped_column(String(16), nullable=False)
    external_id: Mapped[str] = mapped_column(String(64), nullable=False)

    aws_auth_mode: Mapped[str | None] = mapped_column(String(64))
    aws_role_arn: Mapped[str | None] = mapped_column(String(512))
    aws_external_id: Mapped[str | None] = mapped_column(String(1224))
    # RESTRICT: the API answers 409 listing dependants before the database has to refuse.
    aws_bastion_id: Mapped[uuid.UUID | None] = mapped_column(
        UUID(as_uuid=True), ForeignKey("cloud_accounts.id", ondelete="RESTRICT"), index=True
    )
    aws_is_org_root: Mapped[bool] = mapped_column(Boolean, nullable=False, server_default="false")

    azure_subscription_id: Mapped[str | None] = mapped_column(String(64))
    azure_tenant_id: Mapped[str | None] = mapped_column(String(64))
    azure_client_id: Mapped[str | None] = mapped_column(String(64))
    azure_auth_mode: Mapped[str | None] = mapped_column(String(64))

    gcp_project_id: Mapped[str | None] = mapped_column(String(64))
    gcp_client_email: Mapped[str | None] = mapped_column(String(320))
    gcp_auth_mode: Mapped[str | None] = mapped_column(String(64))

    is_discovery_root: Mapped[bool] = mapped_column(Boolean, nullable=False, server_default="false")

    created_at: Mapped[datetime] = created_at_column()
    updated_at: Mapped[datetime] = updated_at_column()
    created_by: Mapped[uuid.UUID | None] = mapped_column(
        UUID(as_uuid=True), ForeignKey("users.id", ondelete="SET NULL")
    )


class AccountCredential(Base):
    """One encrypted credential blob per account (``v1:<key_id>:<nonce>.<ciphertext>``)."""

    __tablename__ = "account_credentials"
    __table_args__ = (check_in("credential_type", CredentialType),)

    cloud_account_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("cloud_accounts.id", ondelete="CASCADE"), primary_key=True
    )
    credential_type: Mapped[str] = mapped_column(String(64), nullable=False)
    key_id: Mapped[str] = mapped_column(String(64), nullable=False, index=True)
    blob: Mapped[str] = mapped_column(Text, nullable=False)
    created_at: Mapped[datetime] = created_at_column()
    updated_at: Mapped[datetime] = updated_at_column()


SERVICE_LIST_FIELDS = (
    "include_regions",
    "exclude_regions",
    "include_types",
    "exclude_types",
    "include_engines",
    "exclude_engines",
)


class ServiceConfig(Base):
    """Global defaults per (provider, service); seeded by the initial migration."""

    __tablename__ = "service_configs"
    __table_args__ = (
        check_in("provider", Provider),
        check_values("service", sorted(ALL_SERVICES), "service_valid"),
        check_in("payment", Payment),
        check_in("term", Term),
        CheckConstraint("coverage >= 0 AND coverage <= 100", name="coverage_range"),
    )

    provider: Mapped[str] = mapped_column(String(16), primary_key=True)
    service: Mapped[str] = mapped_column(String(32), primary_key=True)
    enabled: Mapped[bool] = mapped_column(Boolean, nullable=False, server_default="true")
    term: Mapped[int] = mapped_column(SmallInteger, nullable=False, server_default="3")
    payment: Mapped[str] = mapped_column(String(32), nullable=False, server_default="no-upfront")
    coverage: Mapped[Decimal] = mapped_column(Numeric(5, 2), nullable=False, server_default="80")
    ramp_schedule: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    include_regions: Mapped[list[str]] = mapped_column(
        ARRAY(Text), nullable=False, server_default="{}"
    )
    exclude_regions: Mapped[list[str]] = mapped_column(
        ARRAY(Text), nullable=False, server_default="{}"
    )
    include_types: Mapped[list[str]] = mapped_column(
        ARRAY(Text), nullable=False, server_default="{}"
    )
    exclude_types: Mapped[list[str]] = mapped_column(
        ARRAY(Text), nullable=False, server_default="{}"
    )
    include_engines: Mapped[list[str]] = mapped_column(
        ARRAY(Text), nullable=False, server_default="{}"
    )
    exclude_engines: Mapped[list[str]] = mapped_column(
        ARRAY(Text), nullable=False, server_default="{}"
    )
    updated_at: Mapped[datetime] = updated_at_column()


class AccountServiceOverride(Base):
    """Sparse per-account override: every NULL field inherits the global default."""

    __tablename__ = "account_service_overrides"
    __table_args__ = (
        UniqueConstraint("cloud_account_id", "provider", "service"),
        check_in("provider", Provider),
        check_values("service", sorted(ALL_SERVICES), "service_valid"),
        check_in("payment", Payment),
        check_in("term", Term),
        CheckConstraint("coverage >= 0 AND coverage <= 100", name="coverage_range"),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    cloud_account_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("cloud_accounts.id", ondelete="CASCADE"), nullable=False
    )
    provider: Mapped[str] = mapped_column(String(16), nullable=False)
    service: Mapped[str] = mapped_column(String(32), nullable=False)
    enabled: Mapped[bool | None] = mapped_column(Boolean)
    term: Mapped[int | None] = mapped_column(SmallInteger)
    payment: Mapped[str | None] = mapped_column(String(32))
    coverage: Mapped[Decimal | None] = mapped_column(Numeric(5, 2))
    ramp_schedule: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    include_regions: Mapped[list[str] | None] = mapped_column(ARRAY(Text))
    exclude_regions: Mapped[list[str] | None] = mapped_column(ARRAY(Text))
    include_types: Mapped[list[str] | None] = mapped_column(ARRAY(Text))
    exclude_types: Mapped[list[str] | None] = mapped_column(ARRAY(Text))
    include_engines: Mapped[list[str] | None] = mapped_column(ARRAY(Text))
    exclude_engines: Mapped[list[str] | None] = mapped_column(ARRAY(Text))
    created_at: Mapped[datetime] = created_at_column()
    updated_at: Mapped[datetime] = updated_at_column()
