"""scaleout collection: a run's per-account rows are the work queue of every server process

Each row carries its claim (who, since when, a token the finish write must match) and the
claimer's heartbeat; a run counts its unfinished rows so the process that finishes the last
one closes it, exactly once.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("collection_run_accounts", sa.Column("claimed_by", sa.String(128)))
    op.add_column(
        "collection_run_accounts", sa.Column("claim_token", postgresql.UUID(as_uuid=True))
    )
    op.add_column("collection_run_accounts", sa.Column("claimed_at", sa.DateTime(timezone=True)))
    op.add_column("collection_run_accounts", sa.Column("heartbeat_at", sa.DateTime(timezone=True)))
    op.add_column(
        "collection_run_accounts",
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
    )
    op.add_column(
        "collection_runs",
        sa.Column("accounts_unfinished", sa.Integer(), server_default="0", nullable=False),
    )
    # A run in progress during the upgrade keeps going: count what it has left.
    op.execute(
        """
        UPDATE collection_runs r SET accounts_unfinished = (
            SELECT count(*) FROM collection_run_accounts a
            WHERE a.run_id = r.id AND a.status IN ('pending', 'running')
        ) WHERE r.status = 'running'
        """
    )
    # The claim's scan: a run's pending rows in claiming order, without a sort.
    op.create_index(
        "ix_collection_run_accounts_claimable",
        "collection_run_accounts",
        ["run_id", "account_name", "cloud_account_id"],
        postgresql_where=sa.text("status = 'pending'"),
    )
    # In flight (the global bound), stale claims, and a worker's heartbeat of its own rows.
    op.create_index(
        "ix_collection_run_accounts_in_flight",
        "collection_run_accounts",
        ["heartbeat_at"],
        postgresql_where=sa.text("status = 'running'"),
    )


def downgrade() -> None:
    op.drop_index("ix_collection_run_accounts_in_flight", table_name="collection_run_accounts")
    op.drop_index("ix_collection_run_accounts_claimable", table_name="collection_run_accounts")
    op.drop_column("collection_runs", "accounts_unfinished")
    for column in ("attempts", "heartbeat_at", "claimed_at", "claim_token", "claimed_by"):
        op.drop_column("collection_run_accounts", column)
