"""Sign-in, sign-out, who am I, and first-admin setup (SPEC §1, §2)."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response, status

from api.auth import service
from api.auth.deps import CurrentPrincipal
from api.auth.schemas import LoginIn, LoginOut, MeOut, SetupAdminIn, UserOut
from api.db import ReadSessionDep, SessionDep
from api.errors import ErrorBody

router = APIRouter(prefix="/auth", tags=["auth"])


@router.post(
    "/login",
    response_model=LoginOut,
    responses={429: {"model": ErrorBody, "description": "Too many failed attempts"}},
)
async def login(body: LoginIn, request: Request) -> LoginOut:
    """Exchange email and password for a bearer token."""
    result = await service.login(
        request.app.state.sessionmaker,
        request.app.state.settings,
        body.email,
        body.password.get_secret_value(),
        request.client.host if request.client else None,
        request.headers.get("user-agent"),
    )
    return LoginOut(token=result.token, expires_at=result.expires_at, user=result.user)


@router.post("/logout", status_code=status.HTTP_204_NO_CONTENT)
async def logout(principal: CurrentPrincipal, session: SessionDep) -> Response:
    """Revoke the token this request was made with."""
    await service.logout(session, principal)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/me", response_model=MeOut)
async def me(principal: CurrentPrincipal, session: ReadSessionDep) -> MeOut:
    """The signed-in user, with the permissions their groups grant."""
    base = await service.user_out(session, await service.get_user(session, principal.user_id))
    return MeOut(
        **base.model_dump(),
        permissions=list(principal.permissions),
        via_api_key=principal.api_key_id is not None,
    )


@router.post(
    "/setup-admin",
    response_model=UserOut,
    status_code=status.HTTP_201_CREATED,
    responses={409: {"model": ErrorBody, "description": "An admin already exists"}},
)
async def setup_admin(body: SetupAdminIn, session: SessionDep) -> UserOut:
    """Create the first admin. Works only while no admin exists."""
    user = await service.setup_admin(session, str(body.email), body.password.get_secret_value())
    return await service.user_out(session, user)
