"""Cloud-account rules."""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from api.accounts import repository
from api.auth.permissions import AccountScope
from api.errors import NotFound
from api.models import CloudAccount


async def load_account(
    session: AsyncSession, account_id: uuid.UUID, scope: AccountScope
) -> CloudAccount:
    """The account named in a request: 404 when unknown, 403 when outside the caller's scope."""
    account = await repository.get_account(session, account_id)
    if account is None:
        raise NotFound("cloud account not found", code="account_not_found")
    scope.require([account.id])
    return account
