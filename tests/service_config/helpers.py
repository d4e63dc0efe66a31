"""Arrange helpers for service-config tests: accounts inserted directly, audit rows read back."""

from __future__ import annotations

import itertools
import uuid
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession

from api.models import AuditEvent, CloudAccount

_counter = itertools.count(1)

_EXTERNAL_IDS = {
    "aws": lambda n: f"{100000000000 + n}",
    "azure": lambda n: str(uuid.UUID(int=n)),
    "gcp": lambda n: f"project-{n:06d}",
}


async def make_account(session: AsyncSession, provider: str = "aws", **fields: Any) -> CloudAccount:
    """Insert and commit a cloud account of ``provider``."""
    n = next(_counter) + uuid.uuid4().int % 10_000_000
    account = CloudAccount(
        name=fields.pop("name", f"{provider}-account-{n}"),
        provider=provider,
        external_id=_EXTERNAL_IDS[provider](n),
        **fields,
    )
    session.add(account)
    await session.commit()
    return account


async def audit_events(session: AsyncSession, action: str) -> list[AuditEvent]:
    """Audit rows with ``action``, oldest first (fresh from the database)."""
    rows = await session.execute(
        select(AuditEvent)
        .where(AuditEvent.action == action)
        .order_by(AuditEvent.created_at)
        .execution_options(populate_existing=True)
    )
    return list(rows.scalars())


async def table_snapshot(session: AsyncSession) -> list[Any]:
    """Every global and override row, for "nothing changed" assertions."""
    globals_ = (
        await session.execute(text("SELECT * FROM service_configs ORDER BY provider, service"))
    ).all()
    overrides = (
        await session.execute(
            text(
                "SELECT * FROM account_service_overrides ORDER BY cloud_account_id, provider, service"
            )
        )
    ).all()
    return [tuple(row) for row in globals_] + [tuple(row) for row in overrides]
