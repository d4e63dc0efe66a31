"""Users (admin only)."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Response, status

from api.auth import service
from api.auth.deps import AdminPrincipal
from api.auth.schemas import UserCreate, UserList, UserOut, UserUpdate
from api.db import ReadSessionDep, SessionDep

router = APIRouter(prefix="/users", tags=["users"])


@router.get("", response_model=UserList)
async def list_users(_: AdminPrincipal, session: ReadSessionDep) -> UserList:
    """Every user, by email, with their group ids."""
    return UserList(users=await service.list_users(session))


@router.post("", response_model=UserOut, status_code=status.HTTP_201_CREATED)
async def create_user(body: UserCreate, actor: AdminPrincipal, session: SessionDep) -> UserOut:
    """Create a user; the password is stored as an Argon2id hash."""
    return await service.user_out(session, await service.create_user(session, actor, body))


@router.get("/{user_id}", response_model=UserOut)
async def get_user(user_id: uuid.UUID, _: AdminPrincipal, session: ReadSessionDep) -> UserOut:
    """One user with their group ids."""
    return await service.user_out(session, await service.get_user(session, user_id))


@router.put("/{user_id}", response_model=UserOut)
async def update_user(
    user_id: uuid.UUID, body: UserUpdate, actor: AdminPrincipal, session: SessionDep
) -> UserOut:
    """Change the fields given; a password change or deactivation signs the user out everywhere."""
    return await service.user_out(session, await service.update_user(session, actor, user_id, body))


@router.delete("/{user_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_user(user_id: uuid.UUID, actor: AdminPrincipal, session: SessionDep) -> Response:
    """Delete a user with their sessions and keys; the last admin cannot be deleted."""
    await service.delete_user(session, actor, user_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
