"""The dependencies every route uses: ``CurrentPrincipal`` and ``Require(action, resource)``.

Later domains call these and :class:`~api.auth.permissions.AccountScope`; they never
re-implement authentication or scoping.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer

from api.auth import service
from api.auth.permissions import AccountScope, Principal
from api.db import after_read_session, request_read_session
from api.enums import Action, Resource
from api.errors import Forbidden, Unauthorized

_bearer = HTTPBearer(auto_error=False, description="A login token or an API key")
_api_key = APIKeyHeader(name="X-API-Key", auto_error=False, description="An API key")


async def current_principal(
    request: Request,
    bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    api_key: Annotated[str | None, Depends(_api_key)],
) -> Principal:
    """Resolve the caller from ``Authorization: Bearer`` (token or key) or ``X-API-Key``; else 401.

    An ``Authorization`` header that is present but not a bearer credential is an error, never
    silently skipped in favour of another header. ``X-API-Key`` takes API keys only. The
    lookup reads on the endpoint's read session when it declared one before its grant (one
    connection, one transaction per request), else on a short session of its own; it adds no
    connection (and no write transaction) to the endpoint's.
    """
    if "authorization" in request.headers and bearer is None:
        raise Unauthorized("the Authorization header must be 'Bearer <token or API key>'")
    secret = bearer.credentials if bearer is not None else api_key
    if not secret:
        raise Unauthorized(
            "authentication required: send Authorization: Bearer <token> or X-API-Key"
        )
    reader = request_read_session(request)
    principal, touch_due = await service.resolve_principal(
        request.app.state.read_sessionmaker,
        secret,
        api_key_only=bearer is None,
        reader=reader,
    )
    if touch_due and principal.api_key_id is not None:
        touch = partial(service.touch_api_key, request.app.state.sessionmaker, principal.api_key_id)
        if reader is None:
            await touch()
        else:
            after_read_session(request, touch)
    request.state.principal = principal
    return principal


CurrentPrincipal = Annotated[Principal, Depends(current_principal)]


@dataclass(frozen=True)
class Grant:
    """The caller plus the accounts the required permission reaches."""

    principal: Principal
    scope: AccountScope


class Require:
    """``Depends(Require(Action.view, Resource.accounts))``: 401 without a caller, 403 without the permission."""

    def __init__(self, action: Action, resource: Resource, *, admin_only: bool = False) -> None:
        self.action = action
        self.resource = resource
        self.admin_only = admin_only

    async def __call__(self, principal: CurrentPrincipal) -> Grant:
        if self.admin_only and not principal.is_admin:
            raise Forbidden("this action needs the admin role", code="admin_required")
        if not principal.can(self.action, self.resource):
            raise Forbidden(
                f"missing permission {self.action.value} on {self.resource.value}",
                code="permission_denied",
            )
        return Grant(principal=principal, scope=principal.scope(self.action, self.resource))


async def require_admin(principal: CurrentPrincipal) -> Principal:
    if not principal.is_admin:
        raise Forbidden("this action needs the admin role", code="admin_required")
    return principal


AdminPrincipal = Annotated[Principal, Depends(require_admin)]
