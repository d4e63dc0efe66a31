"""Execution rules for the API: start a plan's group, list executions, retry, event snapshots.

Decisions where the SPEC is silent:
- ``POST /api/plans/{id}/execute`` needs ``plans:execute`` and a scope covering every
  account the plan touches; a plan with no enabled target account → 400 ``no_target_accounts``;
  a disabled plan → 409 ``plan_disabled``.
- Executions are listed with ``plans:view``; a scoped caller sees only executions of
  accounts in scope. Retry needs ``plans:execute``; ``{id}`` is an execution id or a group id
  (then every partial/failed execution of the group is retried).
- The plan is snapshotted into each execution (services, caps, dry_run) when triggered.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from api.audit import service as audit
from api.auth.permissions import AccountScope, Principal
from api.config import Settings
from api.db import Readable
from api.enums import ApprovalStatus, ExecutionStatus
from api.errors import BadRequest, Conflict, NotFound
from api.models import CloudAccount, PurchaseExecution, PurchasePlan
from api.plans import repository as plans_repository
from api.plans import service as plans_service
from api.purchases import repository
from api.purchases.approvals import approvals_for, needs_approval, open_approval
from api.purchases.approvals import totals as approval_totals
from api.purchases.schemas import (
    ApprovalRead,
    ExecutionRead,
    GroupSummary,
    approval_read,
    execution_read,
)

TARGET_TYPE = "purchase_execution"


def _snapshot(plan: PurchasePlan) -> dict[str, object]:
    return {
        "name": plan.name,
        "services": plan.services,
        "dry_run": plan.dry_run,
        "max_upfront": None if plan.max_upfront is None else str(plan.max_upfront),
        "max_monthly_commitment": (
            None if plan.max_monthly_commitment is None else str(plan.max_monthly_commitment)
        ),
    }


async def _targets(session: AsyncSession, plan: PurchasePlan) -> list[CloudAccount]:
    """Enabled explicit targets, or every enabled account of the plan's provider; locked
    (shared) so none can be deleted before the executions are committed."""
    explicit = (await plans_repository.plan_account_rows(session, [plan.id]))[plan.id]
    if explicit:
        ids = [a.id for a in explicit if a.enabled]
    else:
        ids = [
            a.id for a in await plans_repository.accounts_of_provider(session, plan.provider or "")
        ]
    accounts = await plans_repository.get_accounts_for_share(session, ids)
    return sorted((a for a in accounts if a.enabled), key=lambda a: (a.name, a.id))


async def create_group(
    session: AsyncSession,
    plan: PurchasePlan,
    triggered_by: uuid.UUID | None,
    settings: Settings,
) -> list[PurchaseExecution]:
    """One pending execution per target account, sharing a new group id; a real group under
    ``CUDLY_PURCHASE_APPROVAL=required`` also gets its awaiting approval."""
    accounts = await _targets(session, plan)
    if not accounts:
        raise BadRequest(
            "the plan targets no enabled account: add accounts or enable them",
            code="no_target_accounts",
        )
    group_id = uuid.uuid4()
    snapshot = _snapshot(plan)
    executions = [
        PurchaseExecution(
            execution_group_id=group_id,
            plan_id=plan.id,
            cloud_account_id=account.id,
            account_external_id=account.external_id,
            account_name=account.name,
            provider=account.provider,
            status=ExecutionStatus.pending.value,
            dry_run=plan.dry_run,
            plan_snapshot=snapshot,
            triggered_by=triggered_by,
            approval_required=needs_approval(settings, plan),
        )
        for account in accounts
    ]
    await repository.add_executions(session, executions)
    if executions[0].approval_required:
        # A scheduled run's trigger, for four-eyes, is whoever last edited the plan.
        trigger = triggered_by or plan.updated_by or plan.created_by
        await open_approval(session, settings, plan, group_id, trigger)
    return executions


async def execute_plan(
    session: AsyncSession,
    principal: Principal,
    scope: AccountScope,
    plan_id: uuid.UUID,
    settings: Settings,
) -> tuple[uuid.UUID, list[ExecutionRead]]:
    """Create the plan's execution group (the caller starts it after the commit)."""
    view = await plans_service.load_plan(session, plan_id, scope, for_update=True)
    if not view.plan.enabled:
        raise Conflict("the plan is disabled: enable it to execute it", code="plan_disabled")
    executions = await create_group(session, view.plan, principal.user_id, settings)
    group_id = executions[0].execution_group_id
    await audit.record(
        session, principal, "plan.execute", "purchase_plan", plan_id, ["execution_group_id"]
    )
    return group_id, [execution_read(e, []) for e in executions]


async def start_scheduled(session: AsyncSession, settings: Settings) -> list[uuid.UUID]:
    """Create a group for every due scheduled plan and move its ``next_run_at`` on."""
    started: list[uuid.UUID] = []
    for plan in await plans_repository.due_plans(session):
        assert plan.schedule is not None
        plan.next_run_at = plans_service.next_run(plan.schedule)
        try:
            executions = await create_group(session, plan, None, settings)
        except BadRequest:
            continue
        await audit.record(
            session,
            None,
            "plan.execute.scheduled",
            "purchase_plan",
            plan.id,
            ["execution_group_id"],
        )
        started.extend(e.id for e in executions)
    await session.flush()
    return started


async def _reads(session: Readable, executions: Sequence[PurchaseExecution]) -> list[ExecutionRead]:
    lines = await repository.lines_of(session, [e.id for e in executions])
    approvals = await approvals_for(session, executions)
    reads: dict[uuid.UUID, ApprovalRead] = {}
    for group_id, approval in approvals.items():
        live = None
        if approval.status == ApprovalStatus.awaiting:
            group_lines = [
                line for e in executions if e.execution_group_id == group_id for line in lines[e.id]
            ]
            live = approval_totals(group_lines)
        reads[group_id] = approval_read(approval, live)
    return [execution_read(e, lines[e.id], reads.get(e.execution_group_id)) for e in executions]


async def list_executions(
    session: Readable,
    scope: AccountScope,
    *,
    plan_id: uuid.UUID | None,
    group_id: uuid.UUID | None,
    account_ids: Sequence[uuid.UUID] | None,
    status: ExecutionStatus | None,
) -> list[ExecutionRead]:
    """Executions (with their lines), newest first, limited to the caller's scope."""
    if account_ids:
        scope.require(account_ids)
    executions = await repository.list_executions(
        session,
        scope,
        plan_id=plan_id,
        group_id=group_id,
        account_ids=account_ids,
        status=status.value if status else None,
    )
    return await _reads(session, executions)


async def retry(
    session: AsyncSession, principal: Principal, scope: AccountScope, target_id: uuid.UUID
) -> tuple[list[uuid.UUID], list[ExecutionRead]]:
    """Reopen partial/failed executions: only their unbought lines, under the same keys."""
    execution = await repository.get_execution(session, target_id)
    executions = [execution] if execution else await repository.group_executions(session, target_id)
    if not executions:
        raise NotFound("execution not found", code="execution_not_found")
    scope.require([e.cloud_account_id for e in executions if e.cloud_account_id])
    retryable = [
        e
        for e in executions
        if e.status in (ExecutionStatus.partial.value, ExecutionStatus.failed.value)
    ]
    if not retryable:
        raise Conflict(
            "only a partial or failed execution can be retried", code="execution_not_retryable"
        )
    reopened = [e.id for e in retryable if await repository.reopen_execution(session, e.id)]
    for execution_id in reopened:
        await audit.record(session, principal, "execution.retry", TARGET_TYPE, execution_id)
    fresh = [
        e for e in await repository.group_executions(session, executions[0].execution_group_id)
    ]
    return reopened, await _reads(session, [e for e in fresh if e.id in set(reopened)])


async def group_state(
    session: Readable, scope: AccountScope, group_id: uuid.UUID
) -> tuple[list[ExecutionRead], GroupSummary | None]:
    """The group's executions, and its summary once every execution has finished."""
    executions = await repository.group_executions(session, group_id)
    if not executions:
        raise NotFound("execution group not found", code="execution_group_not_found")
    scope.require([e.cloud_account_id for e in executions if e.cloud_account_id])
    reads = await _reads(session, executions)
    if any(e.status not in repository.FINISHED for e in executions):
        return reads, None
    counts = {s: sum(1 for e in executions if e.status == s) for s in repository.FINISHED}
    statuses = {e.status for e in executions}
    # All alike → that status (completed, failed, rejected, expired); a mix → partial.
    status = statuses.pop() if len(statuses) == 1 else ExecutionStatus.partial.value
    return reads, GroupSummary(
        execution_group_id=group_id,
        status=status,
        executions=len(executions),
        completed=counts[ExecutionStatus.completed.value],
        partial=counts[ExecutionStatus.partial.value],
        failed=counts[ExecutionStatus.failed.value],
    )
