"""HTTP endpoints for recommendations (SPEC §5): the list, freshness, refresh."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response, status

from api.auth.deps import Grant, Require
from api.collection.scheduler import CollectionRunner
from api.collection.schemas import RefreshIn, RefreshOut
from api.db import ReadSessionDep
from api.enums import Action, Provider, Resource, RunStatus, RunTrigger
from api.kit.account_ids import AccountIdsFilter
from api.kit.csv import CSV_RESPONSE, ListingDep
from api.recommendations import service
from api.recommendations.schemas import (
    FreshnessList,
    RecommendationFilters,
    RecommendationList,
    RecommendationOut,
    RecommendationSort,
)

router = APIRouter(tags=["recommendations"])

CanView = Annotated[Grant, Depends(Require(Action.view, Resource.recommendations))]
CanRefresh = Annotated[Grant, Depends(Require(Action.refresh, Resource.recommendations))]

Text64 = Annotated[str | None, Query(max_length=64)]


@router.get("/recommendations", response_model=RecommendationList, responses=CSV_RESPONSE)
async def list_recommendations(
    session: ReadSessionDep,
    grant: CanView,
    listing: ListingDep,
    account_ids: AccountIdsFilter = None,
    provider: Annotated[Provider | None, Query(description="Only this provider")] = None,
    service_name: Annotated[
        str | None, Query(alias="service", max_length=32, description="Only this service")
    ] = None,
    region: Annotated[str | None, Query(max_length=64, description="Only this region")] = None,
    min_savings: Annotated[
        Decimal | None,
        Query(
            ge=0,
            # The column is NUMERIC(18, 6): a larger bound would overflow its cast (a 500).
            lt=Decimal(10**12),
            decimal_places=6,
            description="Only estimated monthly savings ≥ this",
        ),
    ] = None,
    sort: Annotated[
        RecommendationSort, Query(description="Sort field; a leading - sorts descending")
    ] = RecommendationSort.estimated_monthly_savings_desc,
    cursor: Annotated[str | None, Query(max_length=512)] = None,
) -> RecommendationList | Response:
    """Recommendations of the enabled accounts you may see, one keyset page at a time."""
    filters = RecommendationFilters(
        provider=provider,
        service=service_name,
        region=region,
        account_ids=account_ids,
        min_savings=min_savings,
    )
    page = await service.list_recommendations(
        session, grant.scope, filters, sort=sort, limit=listing.limit, cursor=cursor
    )
    return listing.respond(page, page.recommendations, RecommendationOut, "recommendations.csv")


@router.get("/recommendations/freshness", response_model=FreshnessList)
async def recommendations_freshness(
    session: ReadSessionDep,
    grant: CanView,
    account_ids: AccountIdsFilter = None,
    provider: Annotated[Provider | None, Query(description="Only this provider")] = None,
) -> FreshnessList:
    """Per enabled account: last successful collection, latest status and error."""
    accounts = await service.freshness(
        session, grant.scope, provider=provider, account_ids=account_ids
    )
    return FreshnessList(accounts=accounts)


@router.post(
    "/recommendations/refresh",
    response_model=RefreshOut,
    status_code=status.HTTP_202_ACCEPTED,
)
async def refresh_recommendations(
    request: Request, grant: CanRefresh, body: RefreshIn | None = None
) -> RefreshOut:
    """Start a collection run (202); while one runs, that run is returned instead."""
    account_ids = body.account_ids if body is not None and body.account_ids else None
    if account_ids is not None:
        grant.scope.require(account_ids)
    runner: CollectionRunner = request.app.state.collection
    started = await runner.refresh(
        trigger=RunTrigger.manual,
        account_ids=account_ids,
        scope=grant.scope,
        created_by=grant.principal.user_id,
    )
    return RefreshOut(run_id=started.run_id, status=RunStatus.running, created=started.created)
