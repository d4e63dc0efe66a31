"""Write-only credential endpoints and the connectivity test (SPEC §3).

``POST /api/accounts/{account_id}/credentials`` stores (replaces) the account's encrypted
credentials; nothing ever reads them back over HTTP, and the body is never echoed — not
even in validation errors. ``POST /api/accounts/{account_id}/test`` answers 200 with the
identity the cloud saw or a message saying what to fix.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Coroutine
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute

from api.accounts.service import load_account
from api.auth.deps import Grant, Require
from api.config import Settings
from api.credentials import service
from api.credentials.schemas import ConnectivityTestOut, CredentialsIn
from api.db import SessionDep
from api.enums import Action, CredentialType, Resource
from api.errors import ErrorBody
from api.kit.crypto import get_key_ring

_TAGS = {t.value for t in CredentialType}


def _clean_error(err: dict[str, Any]) -> dict[str, Any]:
    """Drop the union tag from error locations (``body.gcp_service_account.x`` → ``x``) and
    make a missing or unknown ``type`` an error on the ``type`` field."""
    loc = list(err.get("loc", ()))
    if err.get("type") in {"union_tag_not_found", "union_tag_invalid"}:
        return {
            "type": err["type"],
            "loc": ("body", "type"),
            "msg": "must be one of " + ", ".join(t.value for t in CredentialType),
        }
    if len(loc) >= 2 and loc[0] == "body" and loc[1] in _TAGS:
        loc = [loc[0], *loc[2:]]
    return {"type": err.get("type"), "loc": tuple(loc), "msg": err.get("msg", "invalid value")}


class _CredentialsRoute(APIRoute):
    """Rewrites body validation errors so fields are named as the client sent them.

    The rebuilt errors carry no ``input``: a secret typed into the wrong field is never
    echoed back or kept on the exception.
    """

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def handle(request: Request) -> Response:
            try:
                return await handler(request)
            except RequestValidationError as exc:
                raise RequestValidationError([_clean_error(e) for e in exc.errors()]) from None

        return handle


router = APIRouter(tags=["credentials"], route_class=_CredentialsRoute)

_ERRORS: dict[int | str, dict[str, Any]] = {
    429: {"model": ErrorBody, "description": "Too many tests of this account (see Retry-After)"}
}


@router.post(
    "/accounts/{account_id}/credentials",
    status_code=204,
    response_model=None,
    response_class=Response,
    summary="Store (replace) the account's credentials",
)
async def set_credentials(
    account_id: uuid.UUID,
    credentials: Annotated[CredentialsIn, Body()],
    request: Request,
    session: SessionDep,
    grant: Annotated[Grant, Depends(Require(Action.manage_credentials, Resource.accounts))],
) -> Response:
    """Encrypt and store the credentials; the ``type`` must fit the account's auth mode.

    AWS ``role_arn`` and ``bastion`` accounts store none (400). GCP keys must name the
    configured token endpoint. The body is never returned or logged.
    """
    account = await load_account(session, account_id, grant.scope)
    settings: Settings = request.app.state.settings
    key_ring = await get_key_ring(request)
    await service.store_credentials(
        session, key_ring, account, credentials, grant.principal, settings
    )
    return Response(status_code=204)


@router.post(
    "/accounts/{account_id}/test",
    status_code=200,
    response_model=ConnectivityTestOut,
    response_model_exclude_none=True,
    responses=_ERRORS,
    summary="Test the account's credentials against its cloud",
)
async def test_credentials(
    account_id: uuid.UUID,
    request: Request,
    grant: Annotated[Grant, Depends(Require(Action.test_credentials, Resource.accounts))],
) -> ConnectivityTestOut:
    """Resolve a session through the account's auth mode and confirm the identity.

    Always 200 for a known account: ``{"ok": true, "caller_identity": …}`` or
    ``{"ok": false, "error": …}``. At most ``CUDLY_TEST_RATE_LIMIT_PER_MINUTE`` calls per
    account per minute (429 with ``Retry-After``).
    """
    result = await service.test_connectivity(
        request.app.state.sessionmaker,
        await get_key_ring(request),
        request.app.state.settings,
        grant.scope,
        account_id,
    )
    return ConnectivityTestOut(
        ok=result.ok, caller_identity=result.caller_identity, error=result.error
    )
