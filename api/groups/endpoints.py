"""Groups of permissions (admin only)."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Response, status

from api.auth import service
from api.auth.deps import AdminPrincipal
from api.auth.schemas import GroupIn, GroupList, GroupOut
from api.db import ReadSessionDep, SessionDep
from api.models import Group

router = APIRouter(prefix="/groups", tags=["groups"])


def _out(group: Group) -> GroupOut:
    return GroupOut.model_validate(group, from_attributes=True)


@router.get("", response_model=GroupList)
async def list_groups(_: AdminPrincipal, session: ReadSessionDep) -> GroupList:
    """Every group, by name."""
    return GroupList(groups=[_out(g) for g in await service.list_groups(session)])


@router.post("", response_model=GroupOut, status_code=status.HTTP_201_CREATED)
async def create_group(body: GroupIn, actor: AdminPrincipal, session: SessionDep) -> GroupOut:
    """Create a group of permissions; 409 when the name is taken."""
    return _out(await service.create_group(session, actor, body))


@router.get("/{group_id}", response_model=GroupOut)
async def get_group(group_id: uuid.UUID, _: AdminPrincipal, session: ReadSessionDep) -> GroupOut:
    """One group with its permissions."""
    return _out(await service.get_group(session, group_id))


@router.put("/{group_id}", response_model=GroupOut)
async def update_group(
    group_id: uuid.UUID, body: GroupIn, actor: AdminPrincipal, session: SessionDep
) -> GroupOut:
    """Replace the group's name, description and permissions."""
    return _out(await service.update_group(session, actor, group_id, body))


@router.delete("/{group_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_group(group_id: uuid.UUID, actor: AdminPrincipal, session: SessionDep) -> Response:
    """Delete the group; its members lose the permissions it granted."""
    await service.delete_group(session, actor, group_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
