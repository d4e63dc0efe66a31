"""The audit writer: one row per change, in the same transaction as the change (SPEC §2).

Callers pass field *names* only; values never reach the audit log.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable

from sqlalchemy.ext.asyncio import AsyncSession

from api.auth.permissions import Principal
from api.logging import request_id_var
from api.models import AuditEvent


async def record(
    session: AsyncSession,
    actor: Principal | None,
    action: str,
    target_type: str,
    target_id: uuid.UUID | str | None,
    changed_fields: Iterable[str] = (),
) -> None:
    """Add an audit event for ``action`` (e.g. ``account.update``) on the target."""
    session.add(
        AuditEvent(
            actor_id=actor.user_id if actor else None,
            actor_email=actor.email if actor else None,
            action=action,
            target_type=target_type,
            target_id=str(target_id) if target_id is not None else None,
            changed_fields=sorted(set(changed_fields)),
            request_id=request_id_var.get(),
        )
    )
    await session.flush()
