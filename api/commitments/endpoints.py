"""HTTP endpoint for the commitments inventory (SPEC §7)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Response

from api.auth.deps import Grant, Require
from api.commitments import service
from api.commitments.schemas import CommitmentFilters, CommitmentList, CommitmentOut
from api.db import ReadSessionDep
from api.enums import Action, Provider, Resource
from api.kit.account_ids import AccountIdsFilter
from api.kit.csv import CSV_RESPONSE, ListingDep

router = APIRouter(tags=["commitments"])

# SPEC §2: the inventory is part of what `history:view` covers.
CanView = Annotated[Grant, Depends(Require(Action.view, Resource.history))]


@router.get("/commitments", response_model=CommitmentList, responses=CSV_RESPONSE)
async def list_commitments(
    session: ReadSessionDep,
    grant: CanView,
    listing: ListingDep,
    account_ids: AccountIdsFilter = None,
    provider: Annotated[Provider | None, Query(description="Only this provider")] = None,
    service_name: Annotated[
        str | None, Query(alias="service", max_length=32, description="Only this service")
    ] = None,
    state: Annotated[
        str | None, Query(max_length=32, description="Only this state (e.g. active)")
    ] = None,
    expiring_within_days: Annotated[
        int | None, Query(ge=0, le=36500, description="Only those ending within N days")
    ] = None,
    cursor: Annotated[str | None, Query(max_length=512)] = None,
) -> CommitmentList | Response:
    """Commitments the enabled accounts you may see already hold, soonest expiry first."""
    filters = CommitmentFilters(
        provider=provider,
        service=service_name,
        account_ids=account_ids,
        state=state.lower() if state else None,
    )
    page = await service.list_commitments(
        session,
        grant.scope,
        filters,
        expiring_within_days=expiring_within_days,
        limit=listing.limit,
        cursor=cursor,
    )
    return listing.respond(page, page.commitments, CommitmentOut, "commitments.csv")
