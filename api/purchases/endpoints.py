"""Executions, the purchase-line state machine, approvals, reconcile, history writes. — HTTP endpoints (thin: parse, authorise, call the service, shape the response)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import APIRouter, BackgroundTasks, Depends, Query, Request, status
from fastapi.responses import StreamingResponse

from api.auth.deps import Grant, Require
from api.db import AsyncReadSession, ReadSessionDep, SessionDep
from api.enums import Action, ExecutionStatus, Resource
from api.errors import ErrorBody
from api.kit.account_ids import AccountIdsFilter
from api.purchases import approvals, events, service
from api.purchases.listen import ExecutionNotifications
from api.purchases.runner import Runner
from api.purchases.schemas import (
    ApprovalRead,
    ExecuteResponse,
    ExecutionList,
    RejectBody,
    approval_read,
)

router = APIRouter(tags=["executions"])

CanView = Annotated[Grant, Depends(Require(Action.view, Resource.plans))]
CanExecute = Annotated[Grant, Depends(Require(Action.execute, Resource.plans))]
CanApprove = Annotated[Grant, Depends(Require(Action.approve, Resource.plans))]
# The stream re-reads its group on each notification; without one, every EVENT_POLL_S (or
# EVENT_DEAF_POLL_S while the process cannot listen), and never more often than EVENT_MIN_READ_S.
EVENT_POLL_S = 5.0
EVENT_DEAF_POLL_S = 0.5
EVENT_MIN_READ_S = 0.1


def _runner(request: Request) -> Runner:
    runner: Runner = request.app.state.purchase_runner
    return runner


@router.post(
    "/plans/{plan_id}/execute",
    response_model=ExecuteResponse,
    status_code=status.HTTP_202_ACCEPTED,
)
async def execute_plan(
    request: Request,
    background: BackgroundTasks,
    session: SessionDep,
    grant: CanExecute,
    plan_id: uuid.UUID,
) -> ExecuteResponse:
    """One execution per target account, started concurrently once committed."""
    group_id, executions = await service.execute_plan(
        session, grant.principal, grant.scope, plan_id, request.app.state.settings
    )
    # Background tasks run after the session committed, so the runner sees the rows.
    background.add_task(_runner(request).start, [e.id for e in executions])
    return ExecuteResponse(execution_group_id=group_id, executions=executions)


@router.get("/executions", response_model=ExecutionList)
async def list_executions(
    session: ReadSessionDep,
    grant: CanView,
    account_ids: AccountIdsFilter = None,
    plan_id: Annotated[uuid.UUID | None, Query()] = None,
    group_id: Annotated[uuid.UUID | None, Query()] = None,
    status: Annotated[ExecutionStatus | None, Query()] = None,
) -> ExecutionList:
    """Executions with their purchase lines, newest first."""
    executions = await service.list_executions(
        session,
        grant.scope,
        plan_id=plan_id,
        group_id=group_id,
        account_ids=account_ids,
        status=status,
    )
    return ExecutionList(executions=executions)


@router.post(
    "/executions/{execution_id}/retry",
    response_model=ExecutionList,
    status_code=status.HTTP_202_ACCEPTED,
)
async def retry_execution(
    request: Request,
    background: BackgroundTasks,
    session: SessionDep,
    grant: CanExecute,
    execution_id: uuid.UUID,
) -> ExecutionList:
    """Re-attempt only the lines that did not buy, under the same idempotency keys."""
    reopened, executions = await service.retry(session, grant.principal, grant.scope, execution_id)
    background.add_task(_runner(request).start, reopened)
    return ExecutionList(executions=executions)


@router.post(
    "/executions/{group_id}/approve",
    response_model=ApprovalRead,
    responses={409: {"model": ErrorBody, "description": "already decided, or still preparing"}},
)
async def approve_group(
    request: Request,
    background: BackgroundTasks,
    session: SessionDep,
    grant: CanApprove,
    group_id: uuid.UUID,
) -> ApprovalRead:
    """Approve exactly the group's priced lines (four-eyes: not by whoever triggered it)."""
    decision = await approvals.approve(session, grant.principal, grant.scope, group_id)
    background.add_task(events.publish, decision.event)
    background.add_task(_runner(request).start, decision.execution_ids)
    return approval_read(decision.approval)


@router.post(
    "/executions/{group_id}/reject",
    response_model=ApprovalRead,
    responses={409: {"model": ErrorBody, "description": "already decided"}},
)
async def reject_group(
    background: BackgroundTasks,
    session: SessionDep,
    grant: CanApprove,
    group_id: uuid.UUID,
    body: RejectBody | None = None,
) -> ApprovalRead:
    """Reject the group: nothing is bought and it cannot be retried."""
    decision = await approvals.reject(
        session, grant.principal, grant.scope, group_id, body.reason if body else None
    )
    background.add_task(events.publish, decision.event)
    return approval_read(decision.approval)


def _event(name: str, data: str) -> str:
    return f"event: {name}\ndata: {data}\n\n"


@router.get(
    "/executions/{group_id}/events",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/event-stream": {}}}},
)
async def execution_events(
    request: Request, session: ReadSessionDep, grant: CanView, group_id: uuid.UUID
) -> StreamingResponse:
    """``text/event-stream``: one ``execution`` event per finished execution (those already
    finished first), then a final ``group`` event, then the stream closes. Read from the
    database — re-read whenever a notification says the group changed (whichever process or
    replica changed it), and every ``EVENT_POLL_S`` in case one was lost."""
    await service.group_state(session, grant.scope, group_id)  # 404 / 403 before streaming
    maker = request.app.state.read_sessionmaker
    notifications: ExecutionNotifications | None = getattr(
        request.app.state, "execution_notifications", None
    )

    async def stream() -> AsyncIterator[str]:
        sent: set[uuid.UUID] = set()
        loop = asyncio.get_running_loop()
        with contextlib.ExitStack() as stack:
            changed = (
                stack.enter_context(notifications.watch(group_id))
                if notifications is not None
                else asyncio.Event()
            )
            while True:
                # Listening before reading: a change after this read wakes the wait below.
                listening = notifications is not None and await notifications.ensure()
                changed.clear()
                read_at = loop.time()
                async with maker() as raw:
                    try:
                        executions, summary = await service.group_state(
                            AsyncReadSession(raw), grant.scope, group_id
                        )
                    finally:
                        await raw.rollback()
                for execution in executions:
                    if execution.id in sent or execution.status in (
                        ExecutionStatus.pending,
                        ExecutionStatus.running,
                    ):
                        continue
                    sent.add(execution.id)
                    yield _event("execution", execution.model_dump_json())
                if summary is not None:
                    yield _event("group", json.dumps(summary.model_dump(mode="json")))
                    return
                if await request.is_disconnected():
                    return
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(
                        changed.wait(), EVENT_POLL_S if listening else EVENT_DEAF_POLL_S
                    )
                # A busy group notifies per execution: read it at most this often.
                await asyncio.sleep(max(0.0, read_at + EVENT_MIN_READ_S - loop.time()))

    return StreamingResponse(
        stream(), media_type="text/event-stream", headers={"Cache-Control": "no-cache"}
    )
