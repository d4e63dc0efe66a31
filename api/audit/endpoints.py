"""The audit log (admin only), newest first, keyset-paginated."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from api.audit import service
from api.audit.schemas import AuditList
from api.auth.deps import AdminPrincipal
from api.db import ReadSessionDep
from api.kit.types import IsoDateTime

router = APIRouter(prefix="/audit", tags=["audit"])


@router.get("", response_model=AuditList)
async def list_events(
    _: AdminPrincipal,
    session: ReadSessionDep,
    target_id: Annotated[str | None, Query(max_length=128)] = None,
    actor: Annotated[str | None, Query(max_length=320, description="User id or email")] = None,
    since: IsoDateTime | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    cursor: Annotated[str | None, Query(max_length=512)] = None,
) -> AuditList:
    """Audit events, newest first; filter by target, actor (id or email) and time."""
    return await service.list_events(
        session, target_id=target_id, actor=actor, since=since, limit=limit, cursor=cursor
    )
