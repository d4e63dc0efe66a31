"""approvals

Four-eyes approval of real execution groups: the purchase_approvals table (what was
approved, by whom, its totals), executions' new statuses and approval flag, history rows
linked to their approval, and plans' last editor (a scheduled run's trigger).

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Frozen copies: a migration must not change when api.enums grows.
EXECUTION_STATUSES = (
    "awaiting_approval",
    "pending",
    "running",
    "completed",
    "failed",
    "partial",
    "rejected",
    "expired",
)
OLD_EXECUTION_STATUSES = ("pending", "running", "completed", "failed", "partial")
APPROVAL_STATUSES = ("awaiting", "approved", "rejected", "expired")


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN (" + ", ".join(f"'{v}'" for v in values) + ")"


def upgrade() -> None:
    op.create_table(
        "purchase_approvals",
        sa.Column("id", sa.UUID(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("execution_group_id", sa.UUID(), nullable=False),
        sa.Column("plan_id", sa.UUID(), nullable=True),
        sa.Column("status", sa.String(length=16), server_default="awaiting", nullable=False),
        sa.Column("triggered_by", sa.UUID(), nullable=True),
        sa.Column("decided_by", sa.UUID(), nullable=True),
        sa.Column("decided_by_email", sa.String(length=320), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column(
            "totals", postgresql.JSONB(astext_type=sa.Text()), server_default="{}", nullable=False
        ),
        sa.Column(
            "pinned", postgresql.JSONB(astext_type=sa.Text()), server_default="{}", nullable=False
        ),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False
        ),
        sa.CheckConstraint(
            _in("status", APPROVAL_STATUSES), name=op.f("ck_purchase_approvals_status_valid")
        ),
        sa.ForeignKeyConstraint(
            ["plan_id"],
            ["purchase_plans.id"],
            name=op.f("fk_purchase_approvals_plan_id_purchase_plans"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["triggered_by"],
            ["users.id"],
            name=op.f("fk_purchase_approvals_triggered_by_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["decided_by"],
            ["users.id"],
            name=op.f("fk_purchase_approvals_decided_by_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_purchase_approvals")),
        sa.UniqueConstraint(
            "execution_group_id", name=op.f("uq_purchase_approvals_execution_group_id")
        ),
    )
    op.create_index(
        op.f("ix_purchase_approvals_plan_id"), "purchase_approvals", ["plan_id"], unique=False
    )
    op.create_index(
        op.f("ix_purchase_approvals_expires_at"), "purchase_approvals", ["expires_at"], unique=False
    )

    op.alter_column(
        "purchase_executions",
        "status",
        existing_type=sa.String(length=16),
        type_=sa.String(length=32),
        existing_nullable=False,
    )
    op.drop_constraint(
        op.f("ck_purchase_executions_status_valid"), "purchase_executions", type_="check"
    )
    op.create_check_constraint(
        op.f("ck_purchase_executions_status_valid"),
        "purchase_executions",
        _in("status", EXECUTION_STATUSES),
    )
    op.add_column(
        "purchase_executions",
        sa.Column("approval_required", sa.Boolean(), server_default="false", nullable=False),
    )

    op.add_column("purchase_history", sa.Column("approval_id", sa.UUID(), nullable=True))
    op.create_foreign_key(
        op.f("fk_purchase_history_approval_id_purchase_approvals"),
        "purchase_history",
        "purchase_approvals",
        ["approval_id"],
        ["id"],
        ondelete="SET NULL",
    )
    op.create_index(
        op.f("ix_purchase_history_approval_id"), "purchase_history", ["approval_id"], unique=False
    )

    op.add_column("purchase_plans", sa.Column("updated_by", sa.UUID(), nullable=True))
    op.create_foreign_key(
        op.f("fk_purchase_plans_updated_by_users"),
        "purchase_plans",
        "users",
        ["updated_by"],
        ["id"],
        ondelete="SET NULL",
    )


def downgrade() -> None:
    op.drop_constraint(op.f("fk_purchase_plans_updated_by_users"), "purchase_plans", type_="foreignkey")
    op.drop_column("purchase_plans", "updated_by")

    op.drop_index(op.f("ix_purchase_history_approval_id"), table_name="purchase_history")
    op.drop_constraint(
        op.f("fk_purchase_history_approval_id_purchase_approvals"),
        "purchase_history",
        type_="foreignkey",
    )
    op.drop_column("purchase_history", "approval_id")

    op.drop_column("purchase_executions", "approval_required")
    # Rows in the new states cannot exist under the old CHECK: close them as failed.
    op.execute(
        "UPDATE purchase_executions SET status = 'failed' "
        "WHERE status IN ('awaiting_approval', 'rejected', 'expired')"
    )
    op.drop_constraint(
        op.f("ck_purchase_executions_status_valid"), "purchase_executions", type_="check"
    )
    op.create_check_constraint(
        op.f("ck_purchase_executions_status_valid"),
        "purchase_executions",
        _in("status", OLD_EXECUTION_STATUSES),
    )
    op.alter_column(
        "purchase_executions",
        "status",
        existing_type=sa.String(length=32),
        type_=sa.String(length=16),
        existing_nullable=False,
    )

    op.drop_index(op.f("ix_purchase_approvals_expires_at"), table_name="purchase_approvals")
    op.drop_index(op.f("ix_purchase_approvals_plan_id"), table_name="purchase_approvals")
    op.drop_table("purchase_approvals")
