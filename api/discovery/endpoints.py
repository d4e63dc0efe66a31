"""``POST /api/accounts/discover-org`` (admin only, SPEC §3)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request

from api.auth.deps import Grant, Require
from api.discovery import service
from api.discovery.schemas import DiscoveredAccountOut, DiscoverIn, DiscoverOut, IgnoredAccountOut
from api.enums import Action, Resource
from api.errors import ErrorBody
from api.kit.crypto import get_key_ring

router = APIRouter(tags=["accounts"])

CanDiscover = Annotated[
    Grant, Depends(Require(Action.discover_org, Resource.accounts, admin_only=True))
]


@router.post(
    "/accounts/discover-org",
    response_model=DiscoverOut,
    responses={502: {"model": ErrorBody, "description": "The cloud refused or failed the listing"}},
)
async def discover_org(body: DiscoverIn, request: Request, grant: CanDiscover) -> DiscoverOut:
    """List the root's organisation members and register the new ones, disabled. Idempotent."""
    result = await service.discover_members(
        request.app.state.sessionmaker,
        await get_key_ring(request),
        request.app.state.settings,
        grant.principal,
        body.org_root_account_id,
    )
    return DiscoverOut(
        discovered=len(result.accounts),
        created=result.created,
        skipped=result.skipped,
        accounts=[
            DiscoveredAccountOut(name=name, external_id=external_id, created=created, id=account_id)
            for name, external_id, created, account_id in result.accounts
        ],
        ignored=[IgnoredAccountOut(name=n, external_id=e, reason=r) for n, e, r in result.ignored],
    )
