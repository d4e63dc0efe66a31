"""Groups of permissions (admin only)."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Response, status

from api.auth import repository, service
from api.auth.deps import AdminPrincipal
from api.auth.schemas import GroupIn, GroupList, GroupOut
from api.db import SessionDep
from api.models import Group

router = APIRouter(prefix="/groups", tags=["groups"])


def group_out(group: Group) -> GroupOut:
    return GroupOut.model_validate(
        {
            "id": group.id,
            "name": group.name,
            "description": group.description,
            "permissions": group.permissions,
            "created_at": group.created_at,
            "updated_at": group.updated_at,
        }
    )


@router.get("", response_model=GroupList)
async def list_groups(_: AdminPrincipal, session: SessionDep) -> GroupList:
    return GroupList(groups=[group_out(g) for g in await repository.list_groups(session)])


@router.post("", response_model=GroupOut, status_code=status.HTTP_201_CREATED)
async def create_group(body: GroupIn, actor: AdminPrincipal, session: SessionDep) -> GroupOut:
    return group_out(await service.create_group(session, actor, body))


@router.get("/{group_id}", response_model=GroupOut)
async def get_group(group_id: uuid.UUID, _: AdminPrincipal, session: SessionDep) -> GroupOut:
    return group_out(await service.get_group(session, group_id))


@router.put("/{group_id}", response_model=GroupOut)
async def update_group(
    group_id: uuid.UUID, body: GroupIn, actor: AdminPrincipal, session: SessionDep
) -> GroupOut:
    return group_out(await service.update_group(session, actor, group_id, body))


@router.delete("/{group_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_group(group_id: uuid.UUID, actor: AdminPrincipal, session: SessionDep) -> Response:
    await service.delete_group(session, actor, group_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
