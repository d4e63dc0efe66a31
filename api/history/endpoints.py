"""HTTP endpoints for purchase history, its analytics and breakdowns (SPEC §7); history:view."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Response

from api.auth.deps import Grant, Require
from api.db import ReadSessionDep
from api.enums import Action, Provider, PurchaseStatus, Resource
from api.history import service
from api.history.schemas import Analytics, Breakdown, Dimension, HistoryPage, HistoryRead, Interval
from api.kit.account_ids import AccountIdsFilter
from api.kit.csv import CSV_RESPONSE, ListingDep
from api.kit.types import IsoDateTime

router = APIRouter(tags=["history"])

CanView = Annotated[Grant, Depends(Require(Action.view, Resource.history))]

ProviderFilter = Annotated[Provider | None, Query(description="Only this provider")]
StartFilter = Annotated[IsoDateTime | None, Query(description="From this time (inclusive, UTC)")]
EndFilter = Annotated[IsoDateTime | None, Query(description="Until this time (exclusive, UTC)")]
TotalsStatus = Annotated[
    PurchaseStatus,
    Query(description="Which rows the totals count: real purchases by default, or dry runs"),
]


@router.get("/history", response_model=HistoryPage, responses=CSV_RESPONSE)
async def list_history(
    session: ReadSessionDep,
    grant: CanView,
    listing: ListingDep,
    account_ids: AccountIdsFilter = None,
    provider: ProviderFilter = None,
    plan_id: Annotated[uuid.UUID | None, Query(description="Only this plan's purchases")] = None,
    status: Annotated[PurchaseStatus | None, Query(description="Only rows in this status")] = None,
    start: StartFilter = None,
    end: EndFilter = None,
    cursor: Annotated[str | None, Query(max_length=512)] = None,
) -> HistoryPage | Response:
    """Purchase history, newest first. Rows of deleted or never-registered accounts
    (``cloud_account_id: null``) appear only when no ``account_ids`` filter is given."""
    page = await service.list_history(
        session,
        grant.scope,
        account_ids=account_ids or [],
        provider=provider,
        plan_id=plan_id,
        status=status,
        start=start,
        end=end,
        limit=listing.limit,
        cursor=cursor,
    )
    return listing.respond(page, page.history, HistoryRead, "history.csv")


@router.get("/history/analytics", response_model=Analytics)
async def history_analytics(
    session: ReadSessionDep,
    grant: CanView,
    account_ids: AccountIdsFilter = None,
    interval: Annotated[Interval, Query(description="Bucket size (UTC; weeks start Monday)")] = (
        Interval.daily
    ),
    provider: ProviderFilter = None,
    start: StartFilter = None,
    end: EndFilter = None,
    status: TotalsStatus = PurchaseStatus.purchased,
) -> Analytics:
    """Committed spend and estimated savings per bucket, one series per currency."""
    return await service.analytics(
        session,
        grant.scope,
        interval=interval,
        account_ids=account_ids or [],
        provider=provider,
        status=status,
        start=start,
        end=end,
    )


@router.get("/history/breakdown", response_model=Breakdown)
async def history_breakdown(
    session: ReadSessionDep,
    grant: CanView,
    account_ids: AccountIdsFilter = None,
    dimension: Annotated[Dimension, Query(description="What to total by")] = Dimension.service,
    provider: ProviderFilter = None,
    start: StartFilter = None,
    end: EndFilter = None,
    status: TotalsStatus = PurchaseStatus.purchased,
) -> Breakdown:
    """Purchase totals per service, region, account or provider, per currency."""
    return await service.breakdown(
        session,
        grant.scope,
        dimension=dimension,
        account_ids=account_ids or [],
        provider=provider,
        status=status,
        start=start,
        end=end,
    )
