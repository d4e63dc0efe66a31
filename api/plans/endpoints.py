"""Purchase plans and their target accounts (SPEC §6). — HTTP endpoints (thin: parse, authorise, call the service, shape the response)."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Response, status

from api.auth.deps import Grant, Require
from api.db import ReadSessionDep, SessionDep
from api.enums import Action, Resource
from api.errors import ErrorBody
from api.kit.account_ids import AccountIdsFilter
from api.plans import service
from api.plans.schemas import (
    PlanAccounts,
    PlanAccountsUpdate,
    PlanCreate,
    PlanList,
    PlanRead,
    PlanUpdate,
)

router = APIRouter(tags=["plans"])

CanView = Annotated[Grant, Depends(Require(Action.view, Resource.plans))]
CanCreate = Annotated[Grant, Depends(Require(Action.create, Resource.plans))]
CanUpdate = Annotated[Grant, Depends(Require(Action.update, Resource.plans))]
CanDelete = Annotated[Grant, Depends(Require(Action.delete, Resource.plans))]


@router.get("/plans", response_model=PlanList)
async def list_plans(
    session: ReadSessionDep, grant: CanView, account_ids: AccountIdsFilter = None
) -> PlanList:
    """The plans whose target accounts the caller's scope covers, by name; with
    ``account_ids``, only those targeting any of them (an "all accounts" plan targets every
    account of its provider)."""
    return PlanList(plans=await service.list_plans(session, grant.scope, account_ids))


@router.post(
    "/plans",
    response_model=PlanRead,
    status_code=status.HTTP_201_CREATED,
)
async def create_plan(session: SessionDep, grant: CanCreate, body: PlanCreate) -> PlanRead:
    """Create a plan; its provider comes from the service keys (``aws:ec2`` …)."""
    return await service.create_plan(session, grant.principal, grant.scope, body)


@router.get("/plans/{plan_id}", response_model=PlanRead)
async def get_plan(session: ReadSessionDep, grant: CanView, plan_id: uuid.UUID) -> PlanRead:
    """One plan."""
    return await service.get_plan(session, plan_id, grant.scope)


@router.put("/plans/{plan_id}", response_model=PlanRead)
async def update_plan(
    session: SessionDep, grant: CanUpdate, plan_id: uuid.UUID, body: PlanUpdate
) -> PlanRead:
    """Change the fields present in the body."""
    return await service.update_plan(session, grant.principal, grant.scope, plan_id, body)


@router.delete(
    "/plans/{plan_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    response_model=None,
    response_class=Response,
)
async def delete_plan(session: SessionDep, grant: CanDelete, plan_id: uuid.UUID) -> Response:
    """Delete a plan; executions and history keep their rows."""
    await service.delete_plan(session, grant.principal, grant.scope, plan_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/plans/{plan_id}/accounts", response_model=PlanAccounts)
async def get_plan_accounts(
    session: ReadSessionDep, grant: CanView, plan_id: uuid.UUID
) -> PlanAccounts:
    """The plan's explicit target accounts; empty means all enabled accounts of its provider."""
    return await service.get_plan_accounts(session, plan_id, grant.scope)


@router.put(
    "/plans/{plan_id}/accounts",
    response_model=PlanAccounts,
    responses={
        400: {"model": ErrorBody, "description": "an account of another provider"},
        404: {"model": ErrorBody, "description": "an unknown plan or account id"},
    },
)
async def replace_plan_accounts(
    session: SessionDep, grant: CanUpdate, plan_id: uuid.UUID, body: PlanAccountsUpdate
) -> PlanAccounts:
    """Replace the target set (all ids must exist and match the plan's provider)."""
    return await service.replace_plan_accounts(
        session, grant.principal, grant.scope, plan_id, body.account_ids
    )
