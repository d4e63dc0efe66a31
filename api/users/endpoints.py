"""Users (admin only)."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Response, status

from api.auth import repository, service
from api.auth.deps import AdminPrincipal
from api.auth.endpoints import to_user_out, user_out
from api.auth.schemas import UserCreate, UserList, UserOut, UserUpdate
from api.db import SessionDep

router = APIRouter(prefix="/users", tags=["users"])


@router.get("", response_model=UserList)
async def list_users(_: AdminPrincipal, session: SessionDep) -> UserList:
    users = await repository.list_users(session)
    groups = await repository.group_ids_by_user(session, [u.id for u in users])
    return UserList(users=[to_user_out(u, groups[u.id]) for u in users])


@router.post("", response_model=UserOut, status_code=status.HTTP_201_CREATED)
async def create_user(body: UserCreate, actor: AdminPrincipal, session: SessionDep) -> UserOut:
    return await user_out(session, await service.create_user(session, actor, body))


@router.get("/{user_id}", response_model=UserOut)
async def get_user(user_id: uuid.UUID, _: AdminPrincipal, session: SessionDep) -> UserOut:
    return await user_out(session, await service.get_user(session, user_id))


@router.put("/{user_id}", response_model=UserOut)
async def update_user(
    user_id: uuid.UUID, body: UserUpdate, actor: AdminPrincipal, session: SessionDep
) -> UserOut:
    """Change the fields given; a password change or deactivation signs the user out everywhere."""
    return await user_out(session, await service.update_user(session, actor, user_id, body))


@router.delete("/{user_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_user(user_id: uuid.UUID, actor: AdminPrincipal, session: SessionDep) -> Response:
    await service.delete_user(session, actor, user_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
