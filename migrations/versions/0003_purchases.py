"""purchases

Plan caps, execution trigger/note and one execution per (group, account), purchase-line
variant and skip reason, history engine/variant (the grace-window key), and the CHECK
constraints for term/payment/service still missing on recommendations, lines and history.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Frozen copies: a migration must not change when api.enums grows.
SERVICES = (
    "cloudsql",
    "compute",
    "cosmosdb",
    "ec2",
    "elasticache",
    "memorydb",
    "opensearch",
    "rds",
    "redis",
    "redshift",
    "savings-plans",
    "sql",
    "vm",
)
PAYMENTS = ("no-upfront", "partial-upfront", "all-upfront")
SERVICE_CHECK = "service IN (" + ", ".join(f"'{s}'" for s in SERVICES) + ")"
PAYMENT_CHECK = "payment IN (" + ", ".join(f"'{p}'" for p in PAYMENTS) + ")"
TERM_CHECK = "term IN (1, 3)"


def upgrade() -> None:
    op.add_column("purchase_plans", sa.Column("max_upfront", sa.Numeric(18, 6), nullable=True))
    op.add_column(
        "purchase_plans", sa.Column("max_monthly_commitment", sa.Numeric(18, 6), nullable=True)
    )
    op.create_check_constraint(
        op.f("ck_purchase_plans_max_upfront_positive"), "purchase_plans", "max_upfront >= 0"
    )
    op.create_check_constraint(
        op.f("ck_purchase_plans_max_monthly_commitment_positive"),
        "purchase_plans",
        "max_monthly_commitment >= 0",
    )

    op.add_column("purchase_executions", sa.Column("note", sa.Text(), nullable=True))
    op.add_column(
        "purchase_executions",
        sa.Column(
            "plan_snapshot",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default="{}",
            nullable=False,
        ),
    )
    op.add_column("purchase_executions", sa.Column("triggered_by", sa.UUID(), nullable=True))
    op.create_foreign_key(
        op.f("fk_purchase_executions_triggered_by_users"),
        "purchase_executions",
        "users",
        ["triggered_by"],
        ["id"],
        ondelete="SET NULL",
    )
    op.create_unique_constraint(
        op.f("uq_purchase_executions_execution_group_id_cloud_account_id"),
        "purchase_executions",
        ["execution_group_id", "cloud_account_id"],
    )

    op.add_column(
        "purchase_lines",
        sa.Column("variant", sa.Text(), server_default="", nullable=False),
    )
    op.add_column("purchase_lines", sa.Column("reason", sa.Text(), nullable=True))
    op.create_check_constraint(op.f("ck_purchase_lines_service_valid"), "purchase_lines", SERVICE_CHECK)
    op.create_check_constraint(op.f("ck_purchase_lines_term_valid"), "purchase_lines", TERM_CHECK)

    op.add_column("purchase_history", sa.Column("engine", sa.String(length=128), nullable=True))
    op.add_column(
        "purchase_history",
        sa.Column("variant", sa.Text(), server_default="", nullable=False),
    )
    op.create_check_constraint(
        op.f("ck_purchase_history_service_valid"), "purchase_history", SERVICE_CHECK
    )
    op.create_check_constraint(op.f("ck_purchase_history_term_valid"), "purchase_history", TERM_CHECK)
    op.create_check_constraint(
        op.f("ck_purchase_history_payment_valid"), "purchase_history", PAYMENT_CHECK
    )

    op.create_check_constraint(
        op.f("ck_recommendations_service_valid"), "recommendations", SERVICE_CHECK
    )
    op.create_check_constraint(op.f("ck_recommendations_term_valid"), "recommendations", TERM_CHECK)


def downgrade() -> None:
    op.drop_constraint(op.f("ck_recommendations_term_valid"), "recommendations", type_="check")
    op.drop_constraint(op.f("ck_recommendations_service_valid"), "recommendations", type_="check")

    op.drop_constraint(op.f("ck_purchase_history_payment_valid"), "purchase_history", type_="check")
    op.drop_constraint(op.f("ck_purchase_history_term_valid"), "purchase_history", type_="check")
    op.drop_constraint(op.f("ck_purchase_history_service_valid"), "purchase_history", type_="check")
    op.drop_column("purchase_history", "variant")
    op.drop_column("purchase_history", "engine")

    op.drop_constraint(op.f("ck_purchase_lines_term_valid"), "purchase_lines", type_="check")
    op.drop_constraint(op.f("ck_purchase_lines_service_valid"), "purchase_lines", type_="check")
    op.drop_column("purchase_lines", "reason")
    op.drop_column("purchase_lines", "variant")

    op.drop_constraint(
        op.f("uq_purchase_executions_execution_group_id_cloud_account_id"),
        "purchase_executions",
        type_="unique",
    )
    op.drop_constraint(
        op.f("fk_purchase_executions_triggered_by_users"), "purchase_executions", type_="foreignkey"
    )
    op.drop_column("purchase_executions", "triggered_by")
    op.drop_column("purchase_executions", "plan_snapshot")
    op.drop_column("purchase_executions", "note")

    op.drop_constraint(
        op.f("ck_purchase_plans_max_monthly_commitment_positive"), "purchase_plans", type_="check"
    )
    op.drop_constraint(op.f("ck_purchase_plans_max_upfront_positive"), "purchase_plans", type_="check")
    op.drop_column("purchase_plans", "max_monthly_commitment")
    op.drop_column("purchase_plans", "max_upfront")
