"""API keys for scripts: any user manages their own; admins may list and revoke all."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Response, status

from api.auth import service
from api.auth.deps import CurrentPrincipal
from api.auth.schemas import ApiKeyCreate, ApiKeyCreated, ApiKeyList, ApiKeyOut
from api.db import ReadSessionDep, SessionDep

router = APIRouter(prefix="/api-keys", tags=["api-keys"])


@router.post("", response_model=ApiKeyCreated, status_code=status.HTTP_201_CREATED)
async def create_api_key(
    body: ApiKeyCreate, actor: CurrentPrincipal, session: SessionDep
) -> ApiKeyCreated:
    """Create a key acting with your permissions. The key is in this response only."""
    row, key = await service.create_api_key(session, actor, body.name, body.expires_at)
    return ApiKeyCreated(
        **ApiKeyOut.model_validate(row, from_attributes=True).model_dump(), key=key
    )


@router.get("", response_model=ApiKeyList)
async def list_api_keys(
    actor: CurrentPrincipal,
    session: ReadSessionDep,
    all_users: Annotated[
        bool, Query(alias="all", description="Every user's keys (admin only)")
    ] = False,
) -> ApiKeyList:
    """Your keys (never the keys themselves); ``all=true`` lists everyone's (admin only)."""
    keys = await service.list_api_keys(session, actor, all_users=all_users)
    return ApiKeyList(api_keys=[ApiKeyOut.model_validate(k, from_attributes=True) for k in keys])


@router.delete("/{key_id}", status_code=status.HTTP_204_NO_CONTENT)
async def revoke_api_key(
    key_id: uuid.UUID, actor: CurrentPrincipal, session: SessionDep
) -> Response:
    """Revoke a key at once; requests made with it get 401 from now on."""
    await service.revoke_api_key(session, actor, key_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
