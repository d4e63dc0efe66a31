"""HTTP endpoints for collection runs (SPEC §5): list, one run, its live events."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import StreamingResponse

from api.auth.deps import Grant, Require
from api.collection import events, service
from api.collection.schemas import RunAccountOut, RunList, RunOut, RunSummaryOut
from api.db import ReadSessionDep
from api.enums import Action, Resource
from api.errors import NotFound

router = APIRouter(tags=["collection-runs"])

CanView = Annotated[Grant, Depends(Require(Action.view, Resource.recommendations))]


def _not_found(run_id: uuid.UUID) -> NotFound:
    return NotFound(f"no collection run {run_id}", code="run_not_found")


@router.get("/collection-runs", response_model=RunList)
async def list_collection_runs(
    session: ReadSessionDep,
    grant: CanView,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> RunList:
    """The latest runs, newest first (without their accounts)."""
    runs = await service.list_runs(session, limit)
    return RunList(runs=[RunSummaryOut.model_validate(run) for run in runs])


@router.get("/collection-runs/{run_id}", response_model=RunOut)
async def get_collection_run(session: ReadSessionDep, grant: CanView, run_id: uuid.UUID) -> RunOut:
    """One run with a row per account you may see (finished ones in finishing order)."""
    run = await service.get_run(session, run_id)
    if run is None:
        raise _not_found(run_id)
    rows = await service.run_accounts(session, run_id, grant.scope)
    summary = RunSummaryOut.model_validate(run)
    return RunOut(
        **summary.model_dump(), accounts=[RunAccountOut.model_validate(row) for row in rows]
    )


@router.get(
    "/collection-runs/{run_id}/events",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/event-stream": {}}, "description": "account/run events"}},
)
async def collection_run_events(
    request: Request, session: ReadSessionDep, grant: CanView, run_id: uuid.UUID
) -> StreamingResponse:
    """``account`` events as accounts finish (finished ones first), then ``run``; then it ends."""
    if await service.get_run(session, run_id) is None:
        raise _not_found(run_id)
    state = request.app.state
    runner = getattr(state, "collection", None)
    stream = events.run_events(
        state.read_sessionmaker,
        state.sessionmaker,
        state.settings,
        run_id,
        grant.scope,
        runner.worker.listener if runner is not None else None,
    )
    return StreamingResponse(
        stream,
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )
