"""API keys for scripts: any user manages their own; admins may list and revoke all."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Response, status

from api.auth import service
from api.auth.deps import CurrentPrincipal
from api.auth.schemas import ApiKeyCreate, ApiKeyCreated, ApiKeyList, ApiKeyOut
from api.db import SessionDep
from api.models import ApiKey

router = APIRouter(prefix="/api-keys", tags=["api-keys"])


def key_out(key: ApiKey) -> ApiKeyOut:
    return ApiKeyOut(
        id=key.id,
        name=key.name,
        prefix=key.prefix,
        user_id=key.user_id,
        expires_at=key.expires_at,
        revoked_at=key.revoked_at,
        last_used_at=key.last_used_at,
        created_at=key.created_at,
    )


@router.post("", response_model=ApiKeyCreated, status_code=status.HTTP_201_CREATED)
async def create_api_key(
    body: ApiKeyCreate, actor: CurrentPrincipal, session: SessionDep
) -> ApiKeyCreated:
    """Create a key acting with your permissions. The key is in this response only."""
    row, key = await service.create_api_key(session, actor, body.name, body.expires_at)
    return ApiKeyCreated(**key_out(row).model_dump(), key=key)


@router.get("", response_model=ApiKeyList)
async def list_api_keys(
    actor: CurrentPrincipal,
    session: SessionDep,
    all_users: Annotated[
        bool, Query(alias="all", description="Every user's keys (admin only)")
    ] = False,
) -> ApiKeyList:
    return ApiKeyList(
        api_keys=[
            key_out(k) for k in await service.list_api_keys(session, actor, all_users=all_users)
        ]
    )


@router.delete("/{key_id}", status_code=status.HTTP_204_NO_CONTENT)
async def revoke_api_key(
    key_id: uuid.UUID, actor: CurrentPrincipal, session: SessionDep
) -> Response:
    """Revoke a key at once; requests made with it get 401 from now on."""
    await service.revoke_api_key(session, actor, key_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
