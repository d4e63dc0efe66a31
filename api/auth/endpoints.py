"""Sign-in, sign-out, who am I, and first-admin setup (SPEC §1, §2)."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Request, Response, status

from api.auth import repository, service
from api.auth.deps import CurrentPrincipal
from api.auth.schemas import LoginIn, LoginOut, MeOut, SetupAdminIn, UserOut
from api.db import SessionDep
from api.enums import Role
from api.models import User

router = APIRouter(prefix="/auth", tags=["auth"])


def to_user_out(user: User, group_ids: list[uuid.UUID]) -> UserOut:
    return UserOut(
        id=user.id,
        email=user.email,
        role=Role(user.role),
        is_active=user.is_active,
        group_ids=group_ids,
        created_at=user.created_at,
        updated_at=user.updated_at,
    )


async def user_out(session: SessionDep, user: User) -> UserOut:
    groups = await repository.group_ids_by_user(session, [user.id])
    return to_user_out(user, groups[user.id])


@router.post(
    "/login", response_model=LoginOut, responses={429: {"description": "Too many failed attempts"}}
)
async def login(body: LoginIn, request: Request, session: SessionDep) -> LoginOut:
    """Exchange email and password for a bearer token."""
    result = await service.login(
        session,
        request.app.state.sessionmaker,
        request.app.state.settings,
        body.email,
        body.password.get_secret_value(),
        request.client.host if request.client else None,
        request.headers.get("user-agent"),
    )
    return LoginOut(
        token=result.token, expires_at=result.expires_at, user=await user_out(session, result.user)
    )


@router.post("/logout", status_code=status.HTTP_204_NO_CONTENT)
async def logout(principal: CurrentPrincipal, session: SessionDep) -> Response:
    """Revoke the token this request was made with."""
    await service.logout(session, principal)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/me", response_model=MeOut)
async def me(principal: CurrentPrincipal, session: SessionDep) -> MeOut:
    """The signed-in user, with the permissions their groups grant."""
    user = await service.get_user(session, principal.user_id)
    base = await user_out(session, user)
    return MeOut(
        **base.model_dump(),
        permissions=list(principal.permissions),
        via_api_key=principal.api_key_id is not None,
    )


@router.post(
    "/setup-admin",
    response_model=UserOut,
    status_code=status.HTTP_201_CREATED,
    responses={409: {"description": "An admin already exists"}},
)
async def setup_admin(body: SetupAdminIn, session: SessionDep) -> UserOut:
    """Create the first admin. Works only while no admin exists."""
    user = await service.setup_admin(session, str(body.email), body.password.get_secret_value())
    return await user_out(session, user)
