"""history

Indexes for the read side: history pages per account, the dashboard's per-account
potential-savings aggregate (index-only), savings over time per account. Their models are
in api/models/read_indexes.py.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

INDEXES = (
    (
        "ix_purchase_history_account_purchased_at",
        "purchase_history",
        ["cloud_account_id", "purchased_at", "id"],
    ),
    (
        "ix_recommendations_account_currency_savings",
        "recommendations",
        ["cloud_account_id", "provider", "currency", "estimated_monthly_savings"],
    ),
    (
        "ix_savings_snapshots_account_captured_at",
        "savings_snapshots",
        ["cloud_account_id", "captured_at"],
    ),
)


def upgrade() -> None:
    for name, table, columns in INDEXES:
        op.create_index(name, table, columns, unique=False)


def downgrade() -> None:
    for name, table, _ in reversed(INDEXES):
        op.drop_index(name, table_name=table)
