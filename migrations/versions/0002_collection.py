"""collection

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-01

Recommendations get a `variant` in their natural key (EC2 platform, SP type …); run-account
rows get warnings and a commitment count; the `commitments` inventory table.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OLD_KEY = (
    "cloud_account_id",
    "provider",
    "service",
    "region",
    "resource_type",
    "engine",
    "term",
    "payment",
)


def upgrade() -> None:
    op.add_column(
        "recommendations",
        sa.Column("variant", sa.Text(), server_default="", nullable=False),
    )
    op.drop_constraint("uq_recommendations_natural_key", "recommendations", type_="unique")
    op.create_unique_constraint(
        "uq_recommendations_natural_key", "recommendations", [*OLD_KEY, "variant"]
    )
    op.create_index(
        "ix_recommendations_savings_percent_id",
        "recommendations",
        ["savings_percent", "id"],
        unique=False,
    )
    op.create_index(
        "ix_recommendations_upfront_cost_id",
        "recommendations",
        ["upfront_cost", "id"],
        unique=False,
    )

    op.add_column(
        "collection_run_accounts",
        sa.Column("commitment_count", sa.Integer(), server_default="0", nullable=False),
    )
    op.add_column(
        "collection_run_accounts",
        sa.Column(
            "warnings",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'[]'::jsonb"),
            nullable=False,
        ),
    )

    op.create_table(
        "commitments",
        sa.Column("id", sa.UUID(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("cloud_account_id", sa.UUID(), nullable=False),
        sa.Column("provider", sa.String(length=16), nullable=False),
        sa.Column("service", sa.String(length=32), nullable=False),
        sa.Column("provider_commitment_id", sa.String(length=255), nullable=False),
        sa.Column("region", sa.String(length=64), server_default="", nullable=False),
        sa.Column("resource_type", sa.String(length=128), server_default="", nullable=False),
        sa.Column("engine", sa.String(length=128), server_default="", nullable=False),
        sa.Column("count", sa.Numeric(precision=18, scale=4), server_default="0", nullable=False),
        sa.Column("term", sa.SmallInteger(), nullable=True),
        sa.Column("payment", sa.String(length=32), nullable=True),
        sa.Column("start", sa.DateTime(timezone=True), nullable=True),
        sa.Column("end", sa.DateTime(timezone=True), nullable=True),
        sa.Column("state", sa.String(length=32), nullable=False),
        sa.Column(
            "upfront_cost", sa.Numeric(precision=18, scale=6), server_default="0", nullable=False
        ),
        sa.Column(
            "recurring_monthly_cost",
            sa.Numeric(precision=18, scale=6),
            server_default="0",
            nullable=False,
        ),
        sa.Column("currency", sa.String(length=8), server_default="USD", nullable=False),
        sa.Column("utilization_percent", sa.Numeric(precision=7, scale=3), nullable=True),
        sa.Column("purchased_by_cudly", sa.Boolean(), server_default="false", nullable=False),
        sa.Column(
            "details", postgresql.JSONB(astext_type=sa.Text()), server_default="{}", nullable=False
        ),
        sa.Column("collected_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "payment IN ('no-upfront', 'partial-upfront', 'all-upfront')",
            name=op.f("ck_commitments_payment_valid"),
        ),
        sa.CheckConstraint(
            "provider IN ('aws', 'azure', 'gcp')", name=op.f("ck_commitments_provider_valid")
        ),
        sa.ForeignKeyConstraint(
            ["cloud_account_id"],
            ["cloud_accounts.id"],
            name=op.f("fk_commitments_cloud_account_id_cloud_accounts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_commitments")),
        sa.UniqueConstraint(
            "cloud_account_id",
            "provider",
            "provider_commitment_id",
            name=op.f("uq_commitments_cloud_account_id_provider_provider_commitment_id"),
        ),
    )
    op.create_index(
        op.f("ix_commitments_cloud_account_id"), "commitments", ["cloud_account_id"], unique=False
    )
    op.create_index("ix_commitments_provider_service", "commitments", ["provider", "service"])
    op.create_index("ix_commitments_end", "commitments", ["end"])


def downgrade() -> None:
    op.drop_index("ix_commitments_end", table_name="commitments")
    op.drop_index("ix_commitments_provider_service", table_name="commitments")
    op.drop_index(op.f("ix_commitments_cloud_account_id"), table_name="commitments")
    op.drop_table("commitments")

    op.drop_column("collection_run_accounts", "warnings")
    op.drop_column("collection_run_accounts", "commitment_count")

    op.drop_index("ix_recommendations_upfront_cost_id", table_name="recommendations")
    op.drop_index("ix_recommendations_savings_percent_id", table_name="recommendations")
    op.drop_constraint("uq_recommendations_natural_key", "recommendations", type_="unique")
    # Rows that differed only by variant would collide under the old key: keep one of each.
    same_key = " AND ".join(f"r.{column} = o.{column}" for column in OLD_KEY)
    op.execute(
        f"DELETE FROM recommendations r USING recommendations o WHERE {same_key} AND r.id > o.id"
    )
    op.create_unique_constraint("uq_recommendations_natural_key", "recommendations", list(OLD_KEY))
    op.drop_column("recommendations", "variant")
