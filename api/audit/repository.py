"""Every query on ``audit_events``."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import func, select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from api.db import Readable
from api.models import AuditEvent


async def add_event(session: AsyncSession, event: AuditEvent) -> None:
    """Insert the event in the caller's transaction."""
    session.add(event)
    await session.flush()


async def list_audit_events(
    session: Readable,
    *,
    target_id: str | None,
    actor: str | None,
    since: datetime | None,
    before: tuple[datetime, uuid.UUID] | None,
    limit: int,
) -> list[AuditEvent]:
    """Newest first; ``actor`` is a user id or an email (case-insensitive)."""
    query = (
        select(AuditEvent).order_by(AuditEvent.created_at.desc(), AuditEvent.id.desc()).limit(limit)
    )
    if target_id is not None:
        query = query.where(AuditEvent.target_id == target_id)
    if actor is not None:
        try:
            actor_uuid = uuid.UUID(actor)
        except ValueError:
            query = query.where(func.lower(AuditEvent.actor_email) == actor.lower())
        else:
            query = query.where(AuditEvent.actor_id == actor_uuid)
    if since is not None:
        query = query.where(AuditEvent.created_at >= since)
    if before is not None:
        query = query.where(tuple_(AuditEvent.created_at, AuditEvent.id) < tuple_(*before))
    return list((await session.execute(query)).scalars())
