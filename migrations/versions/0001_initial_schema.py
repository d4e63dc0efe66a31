"""initial schema

Revision ID: 0001
Revises:
Create Date: 2026-11-27

The whole schema the spec needs, so later work adds behaviour rather than churn.
`updated_at` is maintained by a trigger; `service_configs` is seeded with SPEC §4 defaults.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Frozen copies: a migration must not change when api.enums grows.
UPDATED_AT_TABLES = (
    "users",
    "groups",
    "cloud_accounts",
    "account_credentials",
    "service_configs",
    "account_service_overrides",
    "purchase_plans",
    "purchase_executions",
    "purchase_lines",
)
SEEDED_SERVICES = {
    "aws": ("ec2", "rds", "elasticache", "opensearch", "redshift", "memorydb", "savings-plans"),
    "azure": ("vm", "sql", "cosmosdb", "redis"),
    "gcp": ("compute", "cloudsql"),
}


def upgrade() -> None:
    op.create_table(
        "groups",
        sa.Column("id", sa.UUID(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column(
            "permissions",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default="[]",
            nullable=False,
        ),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_groups")),
        sa.UniqueConstraint("name", name=op.f("uq_groups_name")),
    )
    op.create_table(
        "rate_limit_windows",
        sa.Column("bucket", sa.String(length=255), nullable=False),
        sa.Column("window_start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("count", sa.Integer(), server_default="0", nullable=False),
        sa.PrimaryKeyConstraint("bucket", name=op.f("pk_rate_limit_windows")),
    )
    op.create_table(
        "service_configs",
        sa.Column("provider", sa.String(length=16), nullable=False),
        sa.Column("service", sa.String(length=32), nullable=False),
        sa.Column("enabled", sa.Boolean(), server_default="true", nullable=False),
        sa.Column("term", sa.SmallInteger(), server_default="3", nullable=False),
        sa.Column("payment", sa.String(length=32), server_default="no-upfront", nullable=False),
        sa.Column(
            "coverage", sa.Numeric(precision=5, scale=2), server_default="80", nullable=False
        ),
        sa.Column("ramp_schedule", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column(
            "include_regions", postgresql.ARRAY(sa.Text()), server_default="{}", nullable=False
        ),
        sa.Column(
            "exclude_regions", postgresql.ARRAY(sa.Text()), server_default="{}", nullable=False
        ),
        sa.Column(
            "include_types", postgresql.ARRAY(sa.Text()), server_default="{}", nullable=False
        ),
        sa.Column(
            "exclude_types", postgresql.ARRAY(sa.Text()), server_default="{}", nullable=False
        ),
        sa.Column(
            "include_engines", postgresql.ARRAY(sa.Text()), server_default="{}", nullable=False
        ),
        sa.Column(
            "exclude_engines", postgresql.ARRAY(sa.Text()), server_default="{}", nullable=False
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "payment IN ('no-upfront', 'partial-upfront', 'all-upfront')",
            name=op.f("ck_service_configs_payment_valid"),
        ),
        sa.CheckConstraint(
            "provider IN ('aws', 'azure', 'gcp')", name=op.f("ck_service_configs_provider_valid")
        ),
        sa.CheckConstraint(
            "service IN ('cloudsql', 'compute', 'cosmosdb', 'ec2', 'elasticache', 'memorydb', 'opensearch', 'rds', 'redis', 'redshift', 'savings-plans', 'sql', 'vm')",
            name=op.f("ck_service_configs_service_valid"),
        ),
        sa.CheckConstraint(
            "coverage >= 0 AND coverage <= 100", name=op.f("ck_service_configs_coverage_range")
        ),
        sa.CheckConstraint("term IN (1, 3)", name=op.f("ck_service_configs_term_valid")),
        sa.PrimaryKeyConstraint("provider", "service", name=op.f("pk_service_configs")),
    )
    op.create_table(
        "users",
        sa.Column("id", sa.UUID(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("password_hash", sa.Text(), nullable=False),
        sa.Column("role", sa.String(length=16), server_default="user", nullable=False),
        sa.Column("is_active", sa.Boolean(), server_default="true", nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint("role IN ('admin', 'user')", name=op.f("ck_users_role_valid")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_users")),
    )
    op.create_index(
        "uq_users_email_lower", "users", [sa.text("lower(email)")], unique=True
    )
    op.create_table(
        "api_keys",
        sa.Column("id", sa.UUID(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("user_id", sa.UUID(), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("prefix", sa.String(length=32), nullable=False),
        sa.Column("key_hash", sa.String(length=128), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_used_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_api_keys_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_keys")),
        sa.UniqueConstraint("key_hash", name=op.f("uq_api_keys_key_hash")),
    )
    op.create_index(op.f("ix_api_keys_user_id"), "api_keys", ["user_id"], unique=False)
    op.create_table(
        "audit_events",
        sa.Column("id", sa.UUID(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("actor_id", sa.UUID(), nullable=True),
        sa.Column("actor_email", sa.String(length=320), nullable=True),
        sa.Column("action", sa.String(length=64), nullable=False),
        sa.Column("target_type", sa.String(length=64), nullable=False),
        sa.Column("target_id", sa.String(length=128), nullable=True),
        sa.Column(
            "changed_fields",
            postgresql.ARRAY(sa.String(length=128)),
            server_default="{}",
            nullable=False,
        ),
        sa.Column("request_id", sa.String(length=128), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["actor_id"],
            ["users.id"],
            name=op.f("fk_audit_events_actor_id_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_events")),
    )
    op.create_index(op.f("ix_audit_events_actor_id"), "audit_events", ["actor_id"], unique=False)
    op.create_index(
        op.f("ix_audit_events_created_at"), "audit_events", ["created_at"], unique=False
    )
    op.create_index(op.f("ix_audit_events_target_id"), "audit_events", ["target_id"], unique=False)
    op.create_table(
        "cloud_accounts",
        sa.Column("id", sa.UUID(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("contact_email", sa.String(length=320), nullable=True),
        sa.Column("enabled", sa.Boolean(), server_default="true", nullable=False),
        sa.Column("provider", sa.String(length=16), nullable=False),
        sa.Column("external_id", sa.String(length=64), nullable=False),
        sa.Column("aws_auth_mode", sa.String(length=64), nullable=True),
        sa.Column("aws_role_arn", sa.String(length=512), nullable=True),
        sa.Column("aws_external_id", sa.String(length=1224), nullable=True),
        sa.Column("aws_bastion_id", sa.UUID(), nullable=True),
        sa.Column("aws_is_org_root", sa.Boolean(), server_default="false", nullable=False),
        sa.Column("azure_subscription_id", sa.String(length=64), nullable=True),
        sa.Column("azure_tenant_id", sa.String(length=64), nullable=True),
        sa.Column("azure_client_id", sa.String(length=64), nullable=True),
        sa.Column("azure_auth_mode", sa.String(length=64), nullable=True),
        sa.Column("gcp_project_id", sa.String(length=64), nullable=True),
        sa.Column("gcp_client_email", sa.String(length=320), nullable=True),
        sa.Column("gcp_auth_mode", sa.String(length=64), nullable=True),
        sa.Column("is_discovery_root", sa.Boolean(), server_default="false", nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("created_by", sa.UUID(), nullable=True),
        sa.CheckConstraint(
            "aws_auth_mode IN ('access_keys', 'role_arn', 'bastion', 'workload_identity_federation')",
            name=op.f("ck_cloud_accounts_aws_auth_mode_valid"),
        ),
        sa.CheckConstraint(
            "azure_auth_mode IN ('client_secret', 'workload_identity_federation')",
            name=op.f("ck_cloud_accounts_azure_auth_mode_valid"),
        ),
        sa.CheckConstraint(
            "gcp_auth_mode IN ('service_account_key', 'workload_identity_federation')",
            name=op.f("ck_cloud_accounts_gcp_auth_mode_valid"),
        ),
        sa.CheckConstraint(
            "provider IN ('aws', 'azure', 'gcp')", name=op.f("ck_cloud_accounts_provider_valid")
        ),
        sa.CheckConstraint(
            "aws_bastion_id IS NULL OR aws_bastion_id <> id",
            name=op.f("ck_cloud_accounts_no_self_bastion"),
        ),
        sa.ForeignKeyConstraint(
            ["aws_bastion_id"],
            ["cloud_accounts.id"],
            name=op.f("fk_cloud_accounts_aws_bastion_id_cloud_accounts"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["created_by"],
            ["users.id"],
            name=op.f("fk_cloud_accounts_created_by_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_cloud_accounts")),
        sa.UniqueConstraint(
            "provider", "external_id", name=op.f("uq_cloud_accounts_provider_external_id")
        ),
    )
    op.create_index(
        op.f("ix_cloud_accounts_aws_bastion_id"), "cloud_accounts", ["aws_bastion_id"], unique=False
    )
    op.create_index(
        "ix_cloud_accounts_name_lower",
        "cloud_accounts",
        [sa.text("lower(name)")],
        unique=False,
    )
    op.create_index(
        "ix_cloud_accounts_provider_enabled",
        "cloud_accounts",
        ["provider", "enabled"],
        unique=False,
    )
    op.create_table(
        "collection_runs",
        sa.Column("id", sa.UUID(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("trigger", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), server_default="running", nullable=False),
        sa.Column("requested_account_ids", postgresql.ARRAY(sa.UUID()), nullable=True),
        sa.Column("accounts_total", sa.Integer(), server_default="0", nullable=False),
        sa.Column("accounts_ok", sa.Integer(), server_default="0", nullable=False),
        sa.Column("accounts_failed", sa.Integer(), server_default="0", nullable=False),
        sa.Column("recommendation_count", sa.Integer(), server_default="0", nullable=False),
        sa.Column("owner", sa.String(length=128), nullable=True),
        sa.Column("heartbeat_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("created_by", sa.UUID(), nullable=True),
        sa.Column(
            "started_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "status IN ('running', 'completed', 'failed')",
            name=op.f("ck_collection_runs_status_valid"),
        ),
        sa.CheckConstraint(
            "trigger IN ('manual', 'scheduled', 'cli')",
            name=op.f("ck_collection_runs_trigger_valid"),
        ),
        sa.ForeignKeyConstraint(
            ["created_by"],
            ["users.id"],
            name=op.f("fk_collection_runs_created_by_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_collection_runs")),
    )
    op.create_index(
        "ix_collection_runs_started_at", "collection_runs", ["started_at"], unique=False
    )
    op.create_index(
        "uq_collection_runs_one_running",
        "collection_runs",
        ["status"],
        unique=True,
        postgresql_where=sa.text("status = 'running'"),
    )
    op.create_table(
        "purchase_plans",
        sa.Column("id", sa.UUID(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("enabled", sa.Boolean(), server_default="true", nullable=False),
        sa.Column("provider", sa.String(length=16), nullable=True),
        sa.Column(
            "services", postgresql.JSONB(astext_type=sa.Text()), server_default="{}", nullable=False
        ),
        sa.Column("schedule", sa.String(length=255), nullable=True),
        sa.Column("next_run_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("dry_run", sa.Boolean(), server_default="true", nullable=False),
        sa.Column("created_by", sa.UUID(), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "provider IN ('aws', 'azure', 'gcp')", name=op.f("ck_purchase_plans_provider_valid")
        ),
        sa.ForeignKeyConstraint(
            ["created_by"],
            ["users.id"],
            name=op.f("fk_purchase_plans_created_by_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_purchase_plans")),
    )
    op.create_index(
        op.f("ix_purchase_plans_next_run_at"), "purchase_plans", ["next_run_at"], unique=False
    )
    op.create_index(
        op.f("ix_purchase_plans_provider"), "purchase_plans", ["provider"], unique=False
    )
    op.create_table(
        "sessions",
        sa.Column("id", sa.UUID(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("user_id", sa.UUID(), nullable=False),
        sa.Column("token_hash", sa.String(length=128), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("ip", sa.String(length=64), nullable=True),
        sa.Column("user_agent", sa.String(length=512), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_sessions_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sessions")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_sessions_token_hash")),
    )
    op.create_index(op.f("ix_sessions_expires_at"), "sessions", ["expires_at"], unique=False)
    op.create_index(op.f("ix_sessions_user_id"), "sessions", ["user_id"], unique=False)
    op.create_table(
        "user_groups",
        sa.Column("user_id", sa.UUID(), nullable=False),
        sa.Column("group_id", sa.UUID(), nullable=False),
        sa.ForeignKeyConstraint(
            ["group_id"],
            ["groups.id"],
            name=op.f("fk_user_groups_group_id_groups"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_user_groups_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("user_id", "group_id", name=op.f("pk_user_groups")),
    )
    op.create_index(op.f("ix_user_groups_group_id"), "user_groups", ["group_id"], unique=False)
    op.create_table(
        "account_credentials",
        sa.Column("cloud_account_id", sa.UUID(), nullable=False),
        sa.Column("credential_type", sa.String(length=64), nullable=False),
        sa.Column("key_id", sa.String(length=64), nullable=False),
        sa.Column("blob", sa.Text(), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "credential_type IN ('aws_access_keys', 'aws_wif', 'azure_client_secret', 'azure_wif', 'gcp_service_account', 'gcp_wif')",
            name=op.f("ck_account_credentials_credential_type_valid"),
        ),
        sa.ForeignKeyConstraint(
            ["cloud_account_id"],
            ["cloud_accounts.id"],
            name=op.f("fk_account_credentials_cloud_account_id_cloud_accounts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("cloud_account_id", name=op.f("pk_account_credentials")),
    )
    op.create_index(
        op.f("ix_account_credentials_key_id"), "account_credentials", ["key_id"], unique=False
    )
    op.create_table(
        "account_service_overrides",
        sa.Column("id", sa.UUID(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("cloud_account_id", sa.UUID(), nullable=False),
        sa.Column("provider", sa.String(length=16), nullable=False),
        sa.Column("service", sa.String(length=32), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=True),
        sa.Column("term", sa.SmallInteger(), nullable=True),
        sa.Column("payment", sa.String(length=32), nullable=True),
        sa.Column("coverage", sa.Numeric(precision=5, scale=2), nullable=True),
        sa.Column("ramp_schedule", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("include_regions", postgresql.ARRAY(sa.Text()), nullable=True),
        sa.Column("exclude_regions", postgresql.ARRAY(sa.Text()), nullable=True),
        sa.Column("include_types", postgresql.ARRAY(sa.Text()), nullable=True),
        sa.Column("exclude_types", postgresql.ARRAY(sa.Text()), nullable=True),
        sa.Column("include_engines", postgresql.ARRAY(sa.Text()), nullable=True),
        sa.Column("exclude_engines", postgresql.ARRAY(sa.Text()), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "payment IN ('no-upfront', 'partial-upfront', 'all-upfront')",
            name=op.f("ck_account_service_overrides_payment_valid"),
        ),
        sa.CheckConstraint(
            "provider IN ('aws', 'azure', 'gcp')",
            name=op.f("ck_account_service_overrides_provider_valid"),
        ),
        sa.CheckConstraint(
            "service IN ('cloudsql', 'compute', 'cosmosdb', 'ec2', 'elasticache', 'memorydb', 'opensearch', 'rds', 'redis', 'redshift', 'savings-plans', 'sql', 'vm')",
            name=op.f("ck_account_service_overrides_service_valid"),
        ),
        sa.CheckConstraint(
            "coverage >= 0 AND coverage <= 100",
            name=op.f("ck_account_service_overrides_coverage_range"),
        ),
        sa.CheckConstraint("term IN (1, 3)", name=op.f("ck_account_service_overrides_term_valid")),
        sa.ForeignKeyConstraint(
            ["cloud_account_id"],
            ["cloud_accounts.id"],
            name=op.f("fk_account_service_overrides_cloud_account_id_cloud_accounts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_account_service_overrides")),
        sa.UniqueConstraint(
            "cloud_account_id",
            "provider",
            "service",
            name=op.f("uq_account_service_overrides_cloud_account_id_provider_service"),
        ),
    )
    op.create_table(
        "collection_run_accounts",
        sa.Column("id", sa.UUID(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("run_id", sa.UUID(), nullable=False),
        sa.Column("cloud_account_id", sa.UUID(), nullable=True),
        sa.Column("account_name", sa.String(length=255), nullable=False),
        sa.Column("account_external_id", sa.String(length=64), nullable=False),
        sa.Column("provider", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), server_default="pending", nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("duration_ms", sa.Integer(), nullable=True),
        sa.Column("recommendation_count", sa.Integer(), server_default="0", nullable=False),
        sa.CheckConstraint(
            "status IN ('pending', 'running', 'ok', 'failed', 'timeout', 'skipped')",
            name=op.f("ck_collection_run_accounts_status_valid"),
        ),
        sa.ForeignKeyConstraint(
            ["cloud_account_id"],
            ["cloud_accounts.id"],
            name=op.f("fk_collection_run_accounts_cloud_account_id_cloud_accounts"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["run_id"],
            ["collection_runs.id"],
            name=op.f("fk_collection_run_accounts_run_id_collection_runs"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_collection_run_accounts")),
        sa.UniqueConstraint(
            "run_id",
            "cloud_account_id",
            name=op.f("uq_collection_run_accounts_run_id_cloud_account_id"),
        ),
    )
    op.create_index(
        "ix_collection_run_accounts_account_finished",
        "collection_run_accounts",
        ["cloud_account_id", "finished_at"],
        unique=False,
    )
    op.create_table(
        "plan_accounts",
        sa.Column("plan_id", sa.UUID(), nullable=False),
        sa.Column("cloud_account_id", sa.UUID(), nullable=False),
        sa.ForeignKeyConstraint(
            ["cloud_account_id"],
            ["cloud_accounts.id"],
            name=op.f("fk_plan_accounts_cloud_account_id_cloud_accounts"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["plan_id"],
            ["purchase_plans.id"],
            name=op.f("fk_plan_accounts_plan_id_purchase_plans"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("plan_id", "cloud_account_id", name=op.f("pk_plan_accounts")),
    )
    op.create_index(
        op.f("ix_plan_accounts_cloud_account_id"),
        "plan_accounts",
        ["cloud_account_id"],
        unique=False,
    )
    op.create_table(
        "purchase_executions",
        sa.Column("id", sa.UUID(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("execution_group_id", sa.UUID(), nullable=False),
        sa.Column("plan_id", sa.UUID(), nullable=True),
        sa.Column("cloud_account_id", sa.UUID(), nullable=True),
        sa.Column("account_external_id", sa.String(length=64), nullable=False),
        sa.Column("account_name", sa.String(length=255), nullable=False),
        sa.Column("provider", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), server_default="pending", nullable=False),
        sa.Column("dry_run", sa.Boolean(), server_default="true", nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("claimed_by", sa.String(length=128), nullable=True),
        sa.Column("heartbeat_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "provider IN ('aws', 'azure', 'gcp')",
            name=op.f("ck_purchase_executions_provider_valid"),
        ),
        sa.CheckConstraint(
            "status IN ('pending', 'running', 'completed', 'failed', 'partial')",
            name=op.f("ck_purchase_executions_status_valid"),
        ),
        sa.ForeignKeyConstraint(
            ["cloud_account_id"],
            ["cloud_accounts.id"],
            name=op.f("fk_purchase_executions_cloud_account_id_cloud_accounts"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["plan_id"],
            ["purchase_plans.id"],
            name=op.f("fk_purchase_executions_plan_id_purchase_plans"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_purchase_executions")),
    )
    op.create_index(
        op.f("ix_purchase_executions_cloud_account_id"),
        "purchase_executions",
        ["cloud_account_id"],
        unique=False,
    )
    op.create_index(
        op.f("ix_purchase_executions_execution_group_id"),
        "purchase_executions",
        ["execution_group_id"],
        unique=False,
    )
    op.create_index(
        op.f("ix_purchase_executions_plan_id"), "purchase_executions", ["plan_id"], unique=False
    )
    op.create_index(
        "ix_purchase_executions_status_created",
        "purchase_executions",
        ["status", "created_at"],
        unique=False,
    )
    op.create_table(
        "recommendations",
        sa.Column("id", sa.UUID(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("cloud_account_id", sa.UUID(), nullable=False),
        sa.Column("collection_run_id", sa.UUID(), nullable=True),
        sa.Column("provider", sa.String(length=16), nullable=False),
        sa.Column("service", sa.String(length=32), nullable=False),
        sa.Column("region", sa.String(length=64), server_default="", nullable=False),
        sa.Column("resource_type", sa.String(length=128), server_default="", nullable=False),
        sa.Column("engine", sa.String(length=128), server_default="", nullable=False),
        sa.Column("term", sa.SmallInteger(), nullable=False),
        sa.Column("payment", sa.String(length=32), nullable=False),
        sa.Column("count", sa.Numeric(precision=18, scale=4), nullable=False),
        sa.Column(
            "upfront_cost", sa.Numeric(precision=18, scale=6), server_default="0", nullable=False
        ),
        sa.Column(
            "recurring_monthly_cost",
            sa.Numeric(precision=18, scale=6),
            server_default="0",
            nullable=False,
        ),
        sa.Column(
            "on_demand_monthly_cost",
            sa.Numeric(precision=18, scale=6),
            server_default="0",
            nullable=False,
        ),
        sa.Column(
            "estimated_monthly_savings",
            sa.Numeric(precision=18, scale=6),
            server_default="0",
            nullable=False,
        ),
        sa.Column(
            "savings_percent", sa.Numeric(precision=7, scale=3), server_default="0", nullable=False
        ),
        sa.Column("currency", sa.String(length=8), server_default="USD", nullable=False),
        sa.Column("collected_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column(
            "details", postgresql.JSONB(astext_type=sa.Text()), server_default="{}", nullable=False
        ),
        sa.CheckConstraint(
            "payment IN ('no-upfront', 'partial-upfront', 'all-upfront')",
            name=op.f("ck_recommendations_payment_valid"),
        ),
        sa.CheckConstraint(
            "provider IN ('aws', 'azure', 'gcp')", name=op.f("ck_recommendations_provider_valid")
        ),
        sa.ForeignKeyConstraint(
            ["cloud_account_id"],
            ["cloud_accounts.id"],
            name=op.f("fk_recommendations_cloud_account_id_cloud_accounts"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["collection_run_id"],
            ["collection_runs.id"],
            name=op.f("fk_recommendations_collection_run_id_collection_runs"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_recommendations")),
        sa.UniqueConstraint(
            "cloud_account_id",
            "provider",
            "service",
            "region",
            "resource_type",
            "engine",
            "term",
            "payment",
            name="uq_recommendations_natural_key",
        ),
    )
    op.create_index(
        op.f("ix_recommendations_cloud_account_id"),
        "recommendations",
        ["cloud_account_id"],
        unique=False,
    )
    op.create_index(
        op.f("ix_recommendations_collected_at"), "recommendations", ["collected_at"], unique=False
    )
    op.create_index(
        "ix_recommendations_provider_service",
        "recommendations",
        ["provider", "service"],
        unique=False,
    )
    op.create_index(
        "ix_recommendations_savings_id",
        "recommendations",
        ["estimated_monthly_savings", "id"],
        unique=False,
    )
    op.create_table(
        "savings_snapshots",
        sa.Column("id", sa.UUID(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("cloud_account_id", sa.UUID(), nullable=True),
        sa.Column("account_external_id", sa.String(length=64), nullable=False),
        sa.Column("account_name", sa.String(length=255), nullable=False),
        sa.Column("provider", sa.String(length=16), nullable=False),
        sa.Column("service", sa.String(length=32), nullable=False),
        sa.Column("captured_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column(
            "committed_monthly",
            sa.Numeric(precision=18, scale=6),
            server_default="0",
            nullable=False,
        ),
        sa.Column(
            "realized_monthly_savings",
            sa.Numeric(precision=18, scale=6),
            server_default="0",
            nullable=False,
        ),
        sa.Column(
            "potential_monthly_savings",
            sa.Numeric(precision=18, scale=6),
            server_default="0",
            nullable=False,
        ),
        sa.Column("active_commitment_count", sa.Integer(), server_default="0", nullable=False),
        sa.Column("currency", sa.String(length=8), server_default="USD", nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "provider IN ('aws', 'azure', 'gcp')", name=op.f("ck_savings_snapshots_provider_valid")
        ),
        sa.ForeignKeyConstraint(
            ["cloud_account_id"],
            ["cloud_accounts.id"],
            name=op.f("fk_savings_snapshots_cloud_account_id_cloud_accounts"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_savings_snapshots")),
    )
    op.create_index(
        op.f("ix_savings_snapshots_captured_at"), "savings_snapshots", ["captured_at"], unique=False
    )
    op.create_index(
        op.f("ix_savings_snapshots_cloud_account_id"),
        "savings_snapshots",
        ["cloud_account_id"],
        unique=False,
    )
    op.create_index(
        "ix_savings_snapshots_provider_service",
        "savings_snapshots",
        ["provider", "service"],
        unique=False,
    )
    op.create_table(
        "purchase_lines",
        sa.Column("id", sa.UUID(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("execution_id", sa.UUID(), nullable=False),
        sa.Column("recommendation_id", sa.UUID(), nullable=True),
        sa.Column("idempotency_key", sa.String(length=128), nullable=False),
        sa.Column("status", sa.String(length=16), server_default="pending", nullable=False),
        sa.Column("service", sa.String(length=32), nullable=False),
        sa.Column("region", sa.String(length=64), nullable=True),
        sa.Column("resource_type", sa.String(length=128), nullable=True),
        sa.Column("engine", sa.String(length=128), nullable=True),
        sa.Column("term", sa.SmallInteger(), nullable=True),
        sa.Column("payment", sa.String(length=32), nullable=True),
        sa.Column("count", sa.Numeric(precision=18, scale=4), server_default="0", nullable=False),
        sa.Column("offering_id", sa.String(length=255), nullable=True),
        sa.Column("upfront_cost", sa.Numeric(precision=18, scale=6), nullable=True),
        sa.Column("recurring_monthly_cost", sa.Numeric(precision=18, scale=6), nullable=True),
        sa.Column("estimated_monthly_savings", sa.Numeric(precision=18, scale=6), nullable=True),
        sa.Column("currency", sa.String(length=8), nullable=True),
        sa.Column("provider_commitment_id", sa.String(length=255), nullable=True),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("claimed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "details", postgresql.JSONB(astext_type=sa.Text()), server_default="{}", nullable=False
        ),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "payment IN ('no-upfront', 'partial-upfront', 'all-upfront')",
            name=op.f("ck_purchase_lines_payment_valid"),
        ),
        sa.CheckConstraint(
            "status IN ('pending', 'purchasing', 'purchased', 'simulated', 'failed', 'skipped')",
            name=op.f("ck_purchase_lines_status_valid"),
        ),
        sa.ForeignKeyConstraint(
            ["execution_id"],
            ["purchase_executions.id"],
            name=op.f("fk_purchase_lines_execution_id_purchase_executions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_purchase_lines")),
        sa.UniqueConstraint("idempotency_key", name=op.f("uq_purchase_lines_idempotency_key")),
    )
    op.create_index(
        op.f("ix_purchase_lines_execution_id"), "purchase_lines", ["execution_id"], unique=False
    )
    op.create_index("ix_purchase_lines_status", "purchase_lines", ["status"], unique=False)
    op.create_table(
        "purchase_history",
        sa.Column("id", sa.UUID(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("cloud_account_id", sa.UUID(), nullable=True),
        sa.Column("account_external_id", sa.String(length=64), nullable=False),
        sa.Column("account_name", sa.String(length=255), nullable=False),
        sa.Column("provider", sa.String(length=16), nullable=False),
        sa.Column("plan_id", sa.UUID(), nullable=True),
        sa.Column("execution_id", sa.UUID(), nullable=True),
        sa.Column("purchase_line_id", sa.UUID(), nullable=True),
        sa.Column("service", sa.String(length=32), nullable=False),
        sa.Column("region", sa.String(length=64), nullable=True),
        sa.Column("resource_type", sa.String(length=128), nullable=True),
        sa.Column("count", sa.Numeric(precision=18, scale=4), nullable=False),
        sa.Column("term", sa.SmallInteger(), nullable=True),
        sa.Column("payment", sa.String(length=32), nullable=True),
        sa.Column("upfront_cost", sa.Numeric(precision=18, scale=6), nullable=True),
        sa.Column("monthly_cost", sa.Numeric(precision=18, scale=6), nullable=True),
        sa.Column("estimated_monthly_savings", sa.Numeric(precision=18, scale=6), nullable=True),
        sa.Column("currency", sa.String(length=8), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("purchased_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("provider_commitment_id", sa.String(length=255), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "provider IN ('aws', 'azure', 'gcp')", name=op.f("ck_purchase_history_provider_valid")
        ),
        sa.CheckConstraint(
            "status IN ('purchased', 'simulated', 'failed')",
            name=op.f("ck_purchase_history_status_valid"),
        ),
        sa.ForeignKeyConstraint(
            ["cloud_account_id"],
            ["cloud_accounts.id"],
            name=op.f("fk_purchase_history_cloud_account_id_cloud_accounts"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["execution_id"],
            ["purchase_executions.id"],
            name=op.f("fk_purchase_history_execution_id_purchase_executions"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["plan_id"],
            ["purchase_plans.id"],
            name=op.f("fk_purchase_history_plan_id_purchase_plans"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["purchase_line_id"],
            ["purchase_lines.id"],
            name=op.f("fk_purchase_history_purchase_line_id_purchase_lines"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_purchase_history")),
        sa.UniqueConstraint("purchase_line_id", name=op.f("uq_purchase_history_purchase_line_id")),
    )
    op.create_index(
        op.f("ix_purchase_history_cloud_account_id"),
        "purchase_history",
        ["cloud_account_id"],
        unique=False,
    )
    op.create_index(
        op.f("ix_purchase_history_execution_id"), "purchase_history", ["execution_id"], unique=False
    )
    op.create_index(
        op.f("ix_purchase_history_expires_at"), "purchase_history", ["expires_at"], unique=False
    )
    op.create_index(
        op.f("ix_purchase_history_plan_id"), "purchase_history", ["plan_id"], unique=False
    )
    op.create_index(
        "ix_purchase_history_provider_service",
        "purchase_history",
        ["provider", "service"],
        unique=False,
    )
    op.create_index(
        op.f("ix_purchase_history_purchased_at"), "purchase_history", ["purchased_at"], unique=False
    )
    op.execute(
        """
        CREATE FUNCTION set_updated_at() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            NEW.updated_at = now();
            RETURN NEW;
        END;
        $$
        """
    )
    for table in UPDATED_AT_TABLES:
        op.execute(
            f"CREATE TRIGGER trg_{table}_updated_at BEFORE UPDATE ON {table} "
            "FOR EACH ROW EXECUTE FUNCTION set_updated_at()"
        )
    service_configs = sa.table("service_configs", sa.column("provider"), sa.column("service"))
    op.bulk_insert(
        service_configs,
        [
            {"provider": provider, "service": service}
            for provider, services in SEEDED_SERVICES.items()
            for service in services
        ],
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_purchase_history_purchased_at"), table_name="purchase_history")
    op.drop_index("ix_purchase_history_provider_service", table_name="purchase_history")
    op.drop_index(op.f("ix_purchase_history_plan_id"), table_name="purchase_history")
    op.drop_index(op.f("ix_purchase_history_expires_at"), table_name="purchase_history")
    op.drop_index(op.f("ix_purchase_history_execution_id"), table_name="purchase_history")
    op.drop_index(op.f("ix_purchase_history_cloud_account_id"), table_name="purchase_history")
    op.drop_table("purchase_history")
    op.drop_index("ix_purchase_lines_status", table_name="purchase_lines")
    op.drop_index(op.f("ix_purchase_lines_execution_id"), table_name="purchase_lines")
    op.drop_table("purchase_lines")
    op.drop_index("ix_savings_snapshots_provider_service", table_name="savings_snapshots")
    op.drop_index(op.f("ix_savings_snapshots_cloud_account_id"), table_name="savings_snapshots")
    op.drop_index(op.f("ix_savings_snapshots_captured_at"), table_name="savings_snapshots")
    op.drop_table("savings_snapshots")
    op.drop_index("ix_recommendations_savings_id", table_name="recommendations")
    op.drop_index("ix_recommendations_provider_service", table_name="recommendations")
    op.drop_index(op.f("ix_recommendations_collected_at"), table_name="recommendations")
    op.drop_index(op.f("ix_recommendations_cloud_account_id"), table_name="recommendations")
    op.drop_table("recommendations")
    op.drop_index("ix_purchase_executions_status_created", table_name="purchase_executions")
    op.drop_index(op.f("ix_purchase_executions_plan_id"), table_name="purchase_executions")
    op.drop_index(
        op.f("ix_purchase_executions_execution_group_id"), table_name="purchase_executions"
    )
    op.drop_index(op.f("ix_purchase_executions_cloud_account_id"), table_name="purchase_executions")
    op.drop_table("purchase_executions")
    op.drop_index(op.f("ix_plan_accounts_cloud_account_id"), table_name="plan_accounts")
    op.drop_table("plan_accounts")
    op.drop_index(
        "ix_collection_run_accounts_account_finished", table_name="collection_run_accounts"
    )
    op.drop_table("collection_run_accounts")
    op.drop_table("account_service_overrides")
    op.drop_index(op.f("ix_account_credentials_key_id"), table_name="account_credentials")
    op.drop_table("account_credentials")
    op.drop_index(op.f("ix_user_groups_group_id"), table_name="user_groups")
    op.drop_table("user_groups")
    op.drop_index(op.f("ix_sessions_user_id"), table_name="sessions")
    op.drop_index(op.f("ix_sessions_expires_at"), table_name="sessions")
    op.drop_table("sessions")
    op.drop_index(op.f("ix_purchase_plans_provider"), table_name="purchase_plans")
    op.drop_index(op.f("ix_purchase_plans_next_run_at"), table_name="purchase_plans")
    op.drop_table("purchase_plans")
    op.drop_index(
        "uq_collection_runs_one_running",
        table_name="collection_runs",
        postgresql_where=sa.text("status = 'running'"),
    )
    op.drop_index("ix_collection_runs_started_at", table_name="collection_runs")
    op.drop_table("collection_runs")
    op.drop_index("ix_cloud_accounts_provider_enabled", table_name="cloud_accounts")
    op.drop_index("ix_cloud_accounts_name_lower", table_name="cloud_accounts")
    op.drop_index(op.f("ix_cloud_accounts_aws_bastion_id"), table_name="cloud_accounts")
    op.drop_table("cloud_accounts")
    op.drop_index(op.f("ix_audit_events_target_id"), table_name="audit_events")
    op.drop_index(op.f("ix_audit_events_created_at"), table_name="audit_events")
    op.drop_index(op.f("ix_audit_events_actor_id"), table_name="audit_events")
    op.drop_table("audit_events")
    op.drop_index(op.f("ix_api_keys_user_id"), table_name="api_keys")
    op.drop_table("api_keys")
    op.drop_index("uq_users_email_lower", table_name="users")
    op.drop_table("users")
    op.drop_table("service_configs")
    op.drop_table("rate_limit_windows")
    op.drop_table("groups")
    op.execute("DROP FUNCTION set_updated_at()")
