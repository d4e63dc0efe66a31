"""The audit log (admin only), newest first, keyset-paginated."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from api.audit import repository
from api.auth.deps import AdminPrincipal
from api.auth.schemas import AuditEventOut, AuditList
from api.db import ReadSessionDep
from api.kit.pagination import decode_time_id_cursor, encode_cursor
from api.kit.types import IsoDateTime

router = APIRouter(prefix="/audit", tags=["audit"])


@router.get("", response_model=AuditList)
async def list_audit_events(
    _: AdminPrincipal,
    session: ReadSessionDep,
    target_id: Annotated[str | None, Query(max_length=128)] = None,
    actor: Annotated[str | None, Query(max_length=320, description="User id or email")] = None,
    since: IsoDateTime | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    cursor: Annotated[str | None, Query(max_length=512)] = None,
) -> AuditList:
    before = decode_time_id_cursor(cursor) if cursor else None
    rows = await repository.list_audit_events(
        session, target_id=target_id, actor=actor, since=since, before=before, limit=limit + 1
    )
    page = rows[:limit]
    next_cursor = encode_cursor(page[-1].created_at, page[-1].id) if len(rows) > limit else None
    return AuditList(
        events=[AuditEventOut.model_validate(r, from_attributes=True) for r in page],
        next_cursor=next_cursor,
    )
