"""HTTP endpoints for cloud accounts (SPEC §3): list, create, read, update, delete."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response, status
from pydantic import BeforeValidator, StringConstraints

from api.accounts import service
from api.accounts.schemas import (
    AccountCreate,
    AccountDeleteConflict,
    AccountList,
    AccountRead,
    AccountUpdate,
)
from api.accounts.validation import check_text
from api.auth.deps import Grant, Require
from api.credentials import service as credentials_service
from api.db import ReadSessionDep, SessionDep
from api.enums import Action, Provider, Resource
from api.errors import ErrorBody
from api.kit.crypto import get_key_ring

router = APIRouter(tags=["accounts"])

CanView = Annotated[Grant, Depends(Require(Action.view, Resource.accounts))]
CanCreate = Annotated[Grant, Depends(Require(Action.create, Resource.accounts))]
CanUpdate = Annotated[Grant, Depends(Require(Action.update, Resource.accounts))]
CanDelete = Annotated[Grant, Depends(Require(Action.delete, Resource.accounts))]


def _check_search(value: str | None) -> str | None:
    return None if value is None else check_text(value, "search")


# An empty parameter (``?provider=``) never reaches here: the middleware drops it.
ProviderFilter = Annotated[Provider | None, Query(description="Only accounts of this provider")]
EnabledFilter = Annotated[
    bool | None, Query(description="Only enabled (true) or disabled (false) accounts")
]
SearchFilter = Annotated[
    Annotated[str, StringConstraints(max_length=255)] | None,
    BeforeValidator(_check_search),
    Query(description="Case-insensitive substring of the name or the external id"),
]


@router.get("/accounts", response_model=AccountList, status_code=status.HTTP_200_OK)
async def list_accounts(
    session: ReadSessionDep,
    grant: CanView,
    provider: ProviderFilter = None,
    enabled: EnabledFilter = None,
    search: SearchFilter = None,
) -> AccountList:
    """The cloud accounts the caller may see, ordered by name."""
    views = await service.list_accounts(
        session, grant.scope, provider=provider, enabled=enabled, search=search
    )
    return AccountList(accounts=[AccountRead.from_view(view) for view in views])


@router.post(
    "/accounts",
    response_model=AccountRead,
    status_code=status.HTTP_201_CREATED,
    responses={409: {"model": ErrorBody, "description": "(provider, external_id) exists"}},
)
async def create_account(
    request: Request, session: SessionDep, grant: CanCreate, body: AccountCreate
) -> AccountRead:
    """Register a cloud account, optionally with its credentials."""
    if body.credentials is None:
        view = await service.create_account(session, grant.principal, grant.scope, body)
    else:
        view = await credentials_service.create_account_with_credentials(
            session,
            await get_key_ring(request),
            request.app.state.settings,
            grant.principal,
            grant.scope,
            body,
        )
    return AccountRead.from_view(view)


@router.get("/accounts/{account_id}", response_model=AccountRead, status_code=status.HTTP_200_OK)
async def get_account(
    session: ReadSessionDep, grant: CanView, account_id: uuid.UUID
) -> AccountRead:
    """One cloud account (never any credential material)."""
    return AccountRead.from_view(await service.get_account(session, account_id, grant.scope))


@router.put("/accounts/{account_id}", response_model=AccountRead, status_code=status.HTTP_200_OK)
async def update_account(
    session: SessionDep, grant: CanUpdate, account_id: uuid.UUID, body: AccountUpdate
) -> AccountRead:
    """Change an account's metadata; ``provider`` and ``external_id`` are immutable."""
    view = await service.update_account(session, grant.principal, grant.scope, account_id, body)
    return AccountRead.from_view(view)


@router.delete(
    "/accounts/{account_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    response_model=None,
    response_class=Response,
    responses={
        409: {
            "model": AccountDeleteConflict,
            "description": "pending/running executions, or the bastion of other accounts",
        }
    },
)
async def delete_account(session: SessionDep, grant: CanDelete, account_id: uuid.UUID) -> Response:
    """Delete an account; its history, executions and snapshots keep their rows."""
    await service.delete_account(session, grant.principal, grant.scope, account_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
