"""Four-eyes approval of real execution groups (SPEC §6 Guardrails → Approval).

- ``CUDLY_PURCHASE_APPROVAL`` = ``none`` | ``required`` (unset: required in production). A
  real group (``dry_run=false`` and purchases enabled) is created with an ``awaiting``
  approval; its executions confirm identity, size and price their lines, then wait in
  ``awaiting_approval``. Nothing calls a purchase API before approval.
- Approve/reject need ``plans:approve`` for every account of the group and a caller who is
  not the trigger (the user, or the API key's owner, who executed it; a scheduled run's
  trigger is the plan's last editor) — admins included. Both are compare-and-set on the
  approval row (``awaiting → approved | rejected``): one decision wins, the other is 409.
  Approving while an execution is still being prepared is 409 (try again in a moment).
- Approval pins the group's pending lines (id, count, offering id, upfront, monthly) and
  their totals per currency; the worker buys a line only if it still matches its pin, and
  skips it with the reason otherwise.
- An approval left ``awaiting`` past ``CUDLY_APPROVAL_TTL`` (default 72h) is expired by the
  reconcile loop, with its executions.
- Audit actions ``execution.approval.requested|approved|rejected|expired`` (target: the
  approval id); the totals ride in the row as ``totals.<currency>.<name>=<amount>`` entries.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from api.audit import service as audit
from api.auth.permissions import AccountScope, Principal
from api.config import Environment, Settings
from api.db import Readable
from api.enums import ApprovalMode, ApprovalStatus, ExecutionStatus, PurchaseLineStatus
from api.errors import Conflict, Forbidden, NotFound
from api.models import PurchaseApproval, PurchaseExecution, PurchaseLine, PurchasePlan
from api.purchases import repository
from api.purchases.events import ExecutionEvent

TARGET_TYPE = "purchase_approval"
_CENT = Decimal("0.01")


def approval_required(settings: Settings) -> bool:
    mode = settings.purchases.approval or (
        ApprovalMode.required if settings.env is Environment.production else ApprovalMode.none
    )
    return mode is ApprovalMode.required


def needs_approval(settings: Settings, plan: PurchasePlan) -> bool:
    """A group that would really buy waits for approval; dry runs never do."""
    return approval_required(settings) and not plan.dry_run and settings.purchases.enabled


def totals(lines: Sequence[PurchaseLine]) -> dict[str, dict[str, str]]:
    """Upfront, monthly and estimated monthly savings of the lines to buy, per currency."""
    sums: dict[str, dict[str, Decimal]] = {}
    for line in lines:
        if line.status != PurchaseLineStatus.pending:
            continue
        bucket = sums.setdefault(
            line.currency or "USD",
            {"upfront": Decimal(0), "monthly": Decimal(0), "estimated_monthly_savings": Decimal(0)},
        )
        bucket["upfront"] += line.upfront_cost or 0
        bucket["monthly"] += line.recurring_monthly_cost or 0
        bucket["estimated_monthly_savings"] += line.estimated_monthly_savings or 0
    return {
        currency: {name: format(value.quantize(_CENT), "f") for name, value in bucket.items()}
        for currency, bucket in sorted(sums.items())
    }


def _audit_fields(values: dict[str, dict[str, str]]) -> list[str]:
    return [
        f"totals.{currency}.{name}={amount}"
        for currency, bucket in values.items()
        for name, amount in bucket.items()
    ]


def pin(line: PurchaseLine) -> dict[str, Any]:
    return {
        "count": str(line.count),
        "offering_id": line.offering_id,
        "upfront_cost": str(line.upfront_cost),
        "recurring_monthly_cost": str(line.recurring_monthly_cost),
    }


def matches_pin(approval: PurchaseApproval, line: PurchaseLine) -> bool:
    """The line is exactly what was approved."""
    return approval.pinned.get(str(line.id)) == pin(line)


async def open_approval(
    session: AsyncSession,
    settings: Settings,
    plan: PurchasePlan,
    group_id: uuid.UUID,
    trigger: uuid.UUID | None,
) -> PurchaseApproval:
    """The ``awaiting`` approval of a new real group."""
    approval = PurchaseApproval(
        execution_group_id=group_id,
        plan_id=plan.id,
        status=ApprovalStatus.awaiting.value,
        triggered_by=trigger,
        expires_at=datetime.now(UTC) + timedelta(seconds=settings.purchases.approval_ttl),
    )
    await repository.add_approval(session, approval)
    await audit.record(
        session, None, "execution.approval.requested", TARGET_TYPE, approval.id, ["status"]
    )
    return approval


@dataclass(frozen=True)
class Decision:
    """What an approve/reject did (the endpoint starts ``execution_ids`` after the commit)."""

    approval: PurchaseApproval
    execution_ids: list[uuid.UUID]
    event: ExecutionEvent


async def _load(
    session: AsyncSession, principal: Principal, scope: AccountScope, group_id: uuid.UUID
) -> tuple[PurchaseApproval, list[PurchaseExecution]]:
    approval = await repository.approval_of_group(session, group_id, for_update=True)
    if approval is None:
        raise NotFound("no approval for this execution group", code="approval_not_found")
    executions = await repository.group_executions(session, group_id)
    scope.require([e.cloud_account_id for e in executions if e.cloud_account_id])
    if not scope.unrestricted and any(e.cloud_account_id is None for e in executions):
        raise Forbidden(
            "your permissions do not cover this cloud account", code="account_out_of_scope"
        )
    if approval.triggered_by is not None and approval.triggered_by == principal.user_id:
        raise Forbidden(
            "four-eyes: the user who triggered an execution cannot approve or reject it",
            code="four_eyes",
        )
    if approval.status != ApprovalStatus.awaiting:
        raise Conflict(f"the execution group is already {approval.status}", code="approval_decided")
    return approval, executions


async def approve(
    session: AsyncSession, principal: Principal, scope: AccountScope, group_id: uuid.UUID
) -> Decision:
    """Pin the group's lines and start it; 409 unless it is awaiting and fully prepared."""
    approval, executions = await _load(session, principal, scope, group_id)
    if any(e.status in repository.ACTIVE for e in executions):
        raise Conflict(
            "the execution group is still being prepared: approve it in a moment",
            code="approval_not_ready",
        )
    waiting = [e.id for e in executions if e.status == ExecutionStatus.awaiting_approval]
    lines = [line for ids in (await repository.lines_of(session, waiting)).values() for line in ids]
    pending = [line for line in lines if line.status == PurchaseLineStatus.pending]
    approved_totals = totals(pending)
    decided = await repository.decide_approval(
        session,
        approval.id,
        ApprovalStatus.approved,
        decided_by=principal.user_id,
        decided_by_email=principal.email,
        totals=approved_totals,
        pinned={str(line.id): pin(line) for line in pending},
    )
    if not decided:
        raise Conflict("the execution group was decided meanwhile", code="approval_decided")
    started = await repository.move_group_executions(
        session,
        group_id,
        source=[ExecutionStatus.awaiting_approval],
        target=ExecutionStatus.pending,
    )
    await audit.record(
        session,
        principal,
        "execution.approval.approved",
        TARGET_TYPE,
        approval.id,
        ["status", *_audit_fields(approved_totals)],
    )
    fresh = await repository.approval_of_group(session, group_id)
    assert fresh is not None
    event = ExecutionEvent(
        name="execution.approved",
        execution_group_id=group_id,
        execution_ids=tuple(started),
        status=ApprovalStatus.approved.value,
        actor_id=principal.user_id,
        totals=approved_totals,
    )
    return Decision(fresh, started, event)


async def reject(
    session: AsyncSession,
    principal: Principal,
    scope: AccountScope,
    group_id: uuid.UUID,
    reason: str | None,
) -> Decision:
    """Reject the group: nothing is bought, and it cannot be retried."""
    approval, executions = await _load(session, principal, scope, group_id)
    waiting = [e.id for e in executions if e.status == ExecutionStatus.awaiting_approval]
    lines = [line for ids in (await repository.lines_of(session, waiting)).values() for line in ids]
    rejected_totals = totals(lines)
    decided = await repository.decide_approval(
        session,
        approval.id,
        ApprovalStatus.rejected,
        decided_by=principal.user_id,
        decided_by_email=principal.email,
        reason=reason,
        totals=rejected_totals,
    )
    if not decided:
        raise Conflict("the execution group was decided meanwhile", code="approval_decided")
    closed = await repository.move_group_executions(
        session,
        group_id,
        source=[ExecutionStatus.awaiting_approval, ExecutionStatus.pending],
        target=ExecutionStatus.rejected,
    )
    await audit.record(
        session,
        principal,
        "execution.approval.rejected",
        TARGET_TYPE,
        approval.id,
        ["status", "reason", *_audit_fields(rejected_totals)],
    )
    fresh = await repository.approval_of_group(session, group_id)
    assert fresh is not None
    event = ExecutionEvent(
        name="execution.rejected",
        execution_group_id=group_id,
        execution_ids=tuple(closed),
        status=ApprovalStatus.rejected.value,
        actor_id=principal.user_id,
        totals=rejected_totals,
    )
    return Decision(fresh, [], event)


async def expire_due(session: AsyncSession) -> list[ExecutionEvent]:
    """Expire approvals past their TTL, with their executions (the reconcile loop calls it)."""
    events: list[ExecutionEvent] = []
    for approval in await repository.expire_due_approvals(session):
        closed = await repository.move_group_executions(
            session,
            approval.execution_group_id,
            source=[ExecutionStatus.awaiting_approval, ExecutionStatus.pending],
            target=ExecutionStatus.expired,
        )
        lines = [
            line for ids in (await repository.lines_of(session, closed)).values() for line in ids
        ]
        expired_totals = totals(lines)
        await audit.record(
            session,
            None,
            "execution.approval.expired",
            TARGET_TYPE,
            approval.id,
            ["status", *_audit_fields(expired_totals)],
        )
        events.append(
            ExecutionEvent(
                name="execution.expired",
                execution_group_id=approval.execution_group_id,
                execution_ids=tuple(closed),
                status=ApprovalStatus.expired.value,
                totals=expired_totals,
            )
        )
    return events


async def approvals_for(
    session: Readable, executions: Sequence[PurchaseExecution]
) -> dict[uuid.UUID, PurchaseApproval]:
    return await repository.approvals_of_groups(
        session, sorted({e.execution_group_id for e in executions})
    )
