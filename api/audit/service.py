"""The audit writer: one row per change, in the same transaction as the change (SPEC §2).

Callers pass field *names* only; values never reach the audit log. The writer sits below every
domain (auth included), so it names its actor by shape (:class:`Actor`) instead of importing
the auth package's ``Principal``.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import datetime
from typing import Protocol

from sqlalchemy.ext.asyncio import AsyncSession

from api.audit import repository
from api.audit.schemas import AuditEventOut, AuditList
from api.db import Readable
from api.kit.pagination import decode_time_id_cursor, encode_cursor
from api.logging import request_id_var
from api.models import AuditEvent


class Actor(Protocol):
    """Who made a change (``api.auth.permissions.Principal`` is one)."""

    @property
    def user_id(self) -> uuid.UUID: ...
    @property
    def email(self) -> str: ...


async def record(
    session: AsyncSession,
    actor: Actor | None,
    action: str,
    target_type: str,
    target_id: uuid.UUID | str | None,
    changed_fields: Iterable[str] = (),
) -> None:
    """Add an audit event for ``action`` (e.g. ``account.update``) on the target."""
    await repository.add_event(
        session,
        AuditEvent(
            actor_id=actor.user_id if actor else None,
            actor_email=actor.email if actor else None,
            action=action,
            target_type=target_type,
            target_id=str(target_id) if target_id is not None else None,
            changed_fields=sorted(set(changed_fields)),
            request_id=request_id_var.get(),
        ),
    )


async def list_events(
    session: Readable,
    *,
    target_id: str | None,
    actor: str | None,
    since: datetime | None,
    limit: int,
    cursor: str | None,
) -> AuditList:
    """One page of the log, newest first, with the cursor of the next page (or None)."""
    before = decode_time_id_cursor(cursor) if cursor else None
    rows = await repository.list_audit_events(
        session, target_id=target_id, actor=actor, since=since, before=before, limit=limit + 1
    )
    page = rows[:limit]
    next_cursor = encode_cursor(page[-1].created_at, page[-1].id) if len(rows) > limit else None
    return AuditList(
        events=[AuditEventOut.model_validate(row) for row in page], next_cursor=next_cursor
    )
