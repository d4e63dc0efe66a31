"""Every cloud-account query. Scoping is applied inside the query (never after fetching)."""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from api.auth.permissions import AccountScope
from api.models import CloudAccount


async def get_account(session: AsyncSession, account_id: uuid.UUID) -> CloudAccount | None:
    """The account by id, whatever the caller's scope (callers check scope first)."""
    return await session.get(CloudAccount, account_id)


async def get_scoped_account(
    session: AsyncSession, account_id: uuid.UUID, scope: AccountScope
) -> CloudAccount | None:
    """The account when it exists and is inside ``scope``; else None."""
    return (
        await session.execute(
            select(CloudAccount).where(CloudAccount.id == account_id, scope.where(CloudAccount.id))
        )
    ).scalar_one_or_none()
