"""scaleout purchases: every execution status change is announced with NOTIFY

An execution group's executions are a work queue that every server process of every replica
claims from (``api/purchases/runner.py``). A trigger announces each change of an execution's
status on the ``cudly_executions`` channel (payload: the group id) in the transaction that
makes it, so idle processes wake when work appears or a slot frees, and every replica's
event stream re-reads the group when it changes. The claim itself (``→ running``) is not
announced: nobody waits for it.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

CHANNEL = "cudly_executions"


def upgrade() -> None:
    op.execute(
        f"""
        CREATE FUNCTION cudly_notify_execution() RETURNS trigger
        LANGUAGE plpgsql AS $$
        BEGIN
            IF NEW.status <> 'running'
               AND (TG_OP = 'INSERT' OR NEW.status IS DISTINCT FROM OLD.status) THEN
                PERFORM pg_notify('{CHANNEL}', NEW.execution_group_id::text);
            END IF;
            RETURN NULL;
        END
        $$
        """
    )
    op.execute(
        """
        CREATE TRIGGER purchase_executions_notify
        AFTER INSERT OR UPDATE OF status ON purchase_executions
        FOR EACH ROW EXECUTE FUNCTION cudly_notify_execution()
        """
    )


def downgrade() -> None:
    op.execute("DROP TRIGGER IF EXISTS purchase_executions_notify ON purchase_executions")
    op.execute("DROP FUNCTION IF EXISTS cudly_notify_execution()")
