"""Every query on ``account_credentials`` (one encrypted blob per account)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from api.models import AccountCredential


async def get_credential(session: AsyncSession, account_id: uuid.UUID) -> AccountCredential | None:
    """The account's credential row, if any."""
    return (
        await session.execute(
            select(AccountCredential)
            .where(AccountCredential.cloud_account_id == account_id)
            # An upsert bypasses the identity map: always read the row as stored.
            .execution_options(populate_existing=True)
        )
    ).scalar_one_or_none()


async def upsert_credential(
    session: AsyncSession, account_id: uuid.UUID, credential_type: str, key_id: str, blob: str
) -> None:
    """Insert the account's row or replace its type, key id and blob (one row per account)."""
    statement = insert(AccountCredential).values(
        cloud_account_id=account_id, credential_type=credential_type, key_id=key_id, blob=blob
    )
    statement = statement.on_conflict_do_update(
        index_elements=[AccountCredential.cloud_account_id],
        set_={
            "credential_type": statement.excluded.credential_type,
            "key_id": statement.excluded.key_id,
            "blob": statement.excluded.blob,
            "updated_at": func.now(),
        },
    )
    await session.execute(statement)


async def lock_all_credentials(session: AsyncSession) -> Sequence[AccountCredential]:
    """Every credential row, locked ``FOR UPDATE`` until the transaction ends (rekey)."""
    return (
        (
            await session.execute(
                select(AccountCredential)
                .order_by(AccountCredential.cloud_account_id)
                .with_for_update()
            )
        )
        .scalars()
        .all()
    )
