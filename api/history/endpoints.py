"""HTTP endpoints for purchase history, its analytics and breakdowns (SPEC §7); history:view."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response

from api.auth.deps import Grant, Require
from api.db import ReadSessionDep
from api.enums import Action, Provider, PurchaseStatus, Resource
from api.history import service
from api.history.schemas import Analytics, Breakdown, Dimension, HistoryPage, HistoryRead, Interval
from api.kit.account_ids import AccountIdsFilter
from api.kit.csv import CSV_MAX_ROWS, CSV_RESPONSE, CsvFormat, csv_response, wants_csv
from api.kit.pagination import MAX_LIMIT
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
    request: Request,
    session: ReadSessionDep,
    grant: CanView,
    account_ids: AccountIdsFilter = None,
    provider: ProviderFilter = None,
    plan_id: Annotated[uuid.UUID | None, Query(description="Only this plan's purchases")] = None,
    status: Annotated[PurchaseStatus | None, Query(description="Only rows in this status")] = None,
    start: StartFilter = None,
    end: EndFilter = None,
    limit: Annotated[
        int | None,
        Query(ge=1, le=MAX_LIMIT, description="Page size: default 50 (JSON) or 10,000 (CSV)"),
    ] = None,
    cursor: Annotated[str | None, Query(max_length=512)] = None,
    output: CsvFormat = None,
) -> HistoryPage | Response:
    """Purchase history, newest first. Rows of deleted or never-registered accounts
    (``cloud_account_id: null``) appear only when no ``account_ids`` filter is given."""
    as_csv = wants_csv(request, output)
    if limit is None:
        limit = CSV_MAX_ROWS if as_csv else service.DEFAULT_LIMIT
    page = await service.list_history(
        session,
        grant.scope,
        account_ids=account_ids or [],
        provider=provider,
        plan_id=plan_id,
        status=status,
        start=start,
        end=end,
        limit=limit,
        cursor=cursor,
    )
    if as_csv:
        return csv_response(page.history, HistoryRead, "history.csv", next_cursor=page.next_cursor)
    return page


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
