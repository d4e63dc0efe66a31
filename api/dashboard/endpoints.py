"""HTTP endpoints for the dashboard (SPEC §7): summary, upcoming, savings over time; history:view."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query

from api.auth.deps import Grant, Require
from api.dashboard import service
from api.dashboard.schemas import SavingsOverTime, Summary, Upcoming
from api.db import ReadSessionDep
from api.enums import Action, Provider, Resource
from api.history.schemas import Interval
from api.kit.account_ids import AccountIdsFilter
from api.kit.types import IsoDateTime

router = APIRouter(tags=["dashboard"])

CanView = Annotated[Grant, Depends(Require(Action.view, Resource.history))]
ProviderFilter = Annotated[Provider | None, Query(description="Only this provider")]
StartFilter = Annotated[IsoDateTime | None, Query(description="From this time (inclusive, UTC)")]
EndFilter = Annotated[IsoDateTime | None, Query(description="Until this time (exclusive, UTC)")]


@router.get("/dashboard/summary", response_model=Summary)
async def dashboard_summary(
    session: ReadSessionDep,
    grant: CanView,
    account_ids: AccountIdsFilter = None,
    provider: ProviderFilter = None,
) -> Summary:
    """Potential, committed and realised monthly savings and counts over exactly the filtered
    accounts (all you may see when none are named), per currency, provider and account."""
    return await service.summary(
        session, grant.scope, account_ids=account_ids or [], provider=provider
    )


@router.get("/dashboard/upcoming", response_model=Upcoming)
async def dashboard_upcoming(
    session: ReadSessionDep,
    grant: CanView,
    account_ids: AccountIdsFilter = None,
    days: Annotated[
        int, Query(ge=1, le=3660, description="Window for expiring commitments, in days")
    ] = service.DEFAULT_UPCOMING_DAYS,
    limit: Annotated[int, Query(ge=1, le=500, description="At most this many commitments")] = 100,
) -> Upcoming:
    """Next scheduled plan runs and active commitments expiring within ``days`` (default 90)."""
    return await service.upcoming(
        session, grant.scope, account_ids=account_ids or [], days=days, limit=limit
    )


@router.get("/dashboard/savings-over-time", response_model=SavingsOverTime)
async def dashboard_savings_over_time(
    session: ReadSessionDep,
    grant: CanView,
    account_ids: AccountIdsFilter = None,
    interval: Annotated[Interval, Query(description="Bucket size (UTC; weeks start Monday)")] = (
        Interval.daily
    ),
    provider: ProviderFilter = None,
    start: StartFilter = None,
    end: EndFilter = None,
) -> SavingsOverTime:
    """Potential vs committed vs realised savings over time, from each collection's snapshot."""
    return await service.savings_over_time(
        session,
        grant.scope,
        interval=interval,
        account_ids=account_ids or [],
        provider=provider,
        start=start,
        end=end,
    )
