"""The execution worker: per-account execution, the purchase-line state machine, reconcile.

A group's executions run through the shared :func:`~api.kit.fanout.fan_out` (bounded by
``CUDLY_MAX_ACCOUNT_PARALLELISM``, ``CUDLY_EXECUTION_TIMEOUT_S`` each, one account's failure
never touching another). Each step is its own unit of work; none is held across a cloud call.

One execution, by the worker that claimed it (``pending → running``, heartbeat per line):
1. confirm the account's identity with the cloud (fails the execution, even with nothing to buy);
2. build its lines once (recommendations × plan settings over the effective config →
   coverage → grace window → caps), each with its idempotency key fixed now;
3. reconcile lines a crashed worker left ``purchasing`` (before anything is retried);
4. buy each ``pending`` line: claim (``pending → purchasing``, committed), call the cloud,
   then ``purchased`` + ``purchase_history`` in one transaction (or ``failed``);
5. finish: ``completed`` | ``partial`` | ``failed``.

See docs/purchases.md for the state machine.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import uuid
from collections.abc import Coroutine, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import ROUND_FLOOR, Decimal
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from api.config import Settings
from api.credentials.service import resolve_account_auth
from api.db import unit_of_work
from api.enums import (
    ApprovalStatus,
    ExecutionStatus,
    Provider,
    PurchaseLineStatus,
    PurchaseStatus,
)
from api.kit.crypto import KeyRing
from api.kit.fanout import Outcome, fan_out
from api.kit.locks import session_lock, xact_lock
from api.kit.tasks import cancel_all, raise_if_stopping
from api.models import (
    PurchaseApproval,
    PurchaseExecution,
    PurchaseHistory,
    PurchaseLine,
    PurchasePlan,
)
from api.providers.base import (
    AccountAuth,
    ProviderError,
    Purchaser,
    PurchaseRejected,
    PurchaseRequest,
    PurchaseResult,
)
from api.providers.clients import ProviderClients
from api.providers.registry import purchaser as purchaser_for
from api.purchases import events, repository
from api.purchases.approvals import expire_due, matches_pin
from api.purchases.approvals import totals as approval_totals
from api.purchases.events import ExecutionEvent
from api.purchases.listen import ExecutionNotifications
from api.service_config.merge import EffectiveServiceConfig
from api.service_config.service import effective_configs
from api.telemetry import metrics, tracing

logger = logging.getLogger(__name__)

KEY_NAMESPACE = uuid.UUID("6f1c2b0e-8d2a-4f6e-9a51-3c1d0e7b9a42")
PURCHASES_DISABLED = (
    "real purchases are disabled on this server: nothing was bought "
    "(set CUDLY_PURCHASES_ENABLED=true to buy)"
)
SCHEDULER_LOCK = "purchases.scheduler"
POLL_S = 5.0  # the worker's fallback poll when no notification arrives
UNIT_SERVICES = frozenset({"savings-plans"})  # sized in money per hour, not whole units
_ONE = Decimal(1)
_HUNDRED = Decimal(100)


def idempotency_key(execution_id: uuid.UUID, recommendation_id: uuid.UUID) -> str:
    """The line's key, derived once from (execution, recommendation); a UUID (GCP requestId)."""
    return str(uuid.uuid5(KEY_NAMESPACE, f"{execution_id}:{recommendation_id}"))


def worker_name() -> str:
    return f"{socket.gethostname()[:60]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


@dataclass
class Runner:
    """What background execution needs; one per process (``app.state.purchase_runner``).

    The executions of every group are one work queue in ``purchase_executions``, shared by
    every process of every replica: :meth:`kick` claims what this process may run now (the
    global ``CUDLY_MAX_ACCOUNT_PARALLELISM`` bound is checked at claim time, see
    :func:`repository.claim_next`) and runs it through the shared fan-out; a freed slot, a
    notification (``listen.py``) or the poll kicks again.
    """

    maker: async_sessionmaker[AsyncSession]
    settings: Settings
    key_ring: KeyRing
    clients: ProviderClients
    worker: str = field(default_factory=worker_name)
    tasks: set[asyncio.Task[Any]] = field(default_factory=set)
    notifications: ExecutionNotifications | None = None
    _claiming: asyncio.Task[None] | None = field(default=None, repr=False)
    _again: bool = field(default=False, repr=False)
    _holding: set[uuid.UUID] = field(default_factory=set, repr=False)
    _closing: bool = field(default=False, repr=False)

    def _track(self, work: Coroutine[Any, Any, Any]) -> asyncio.Task[Any]:
        task = asyncio.create_task(work)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)
        return task

    def kick(self) -> None:
        """Claim, in the background, what this process may run now (one claim pass at a time;
        a kick during a pass makes it look once more)."""
        if self._closing:
            return  # shutting down: what is claimable stays for the other workers
        if self._claiming is not None and not self._claiming.done():
            self._again = True
            return
        self._claiming = self._track(self._claim_pass())

    async def start(self, execution_ids: Sequence[uuid.UUID] = ()) -> None:
        """New claimable work was committed (a group, an approval, a retry): claim now.

        The executions named need not be the ones this process gets: every process that
        heard the notification competes for them. (FastAPI runs a sync background task in a
        thread, hence a coroutine.)"""
        self.kick()

    async def _claim_pass(self) -> None:
        while True:
            self._again = False
            claimed = await self._claim_all()
            if claimed:
                self._track(self._run_batch(claimed, claimed=True, rekick=True))
            if not self._again:
                return

    async def _claim_all(self) -> list[uuid.UUID]:
        """Claim executions one transaction at a time until none is claimable or the global
        bound is reached; one at a time so concurrent claimers interleave (a fair share)."""
        claimed: list[uuid.UUID] = []
        while True:
            try:
                async with unit_of_work(self.maker) as session:
                    execution_id = await repository.claim_next(
                        session,
                        self.worker,
                        stale_after_s=self.settings.purchases.execution_stale_after_s,
                        parallelism=self.settings.scheduler.max_account_parallelism,
                        holding=list(self._holding),
                    )
            except Exception as exc:
                raise_if_stopping()
                logger.error("could not claim executions", extra={"error_type": type(exc).__name__})
                return claimed
            if execution_id is None:
                return claimed
            # Ours from now until its batch ends: never claimed again by this worker meanwhile,
            # however short the stale time.
            self._holding.add(execution_id)
            claimed.append(execution_id)

    async def run(self, execution_ids: Sequence[uuid.UUID]) -> list[Outcome[None]]:
        """Claim these executions (each a compare-and-set; one another worker holds is left
        alone) and run them concurrently through the shared fan-out; never raises for one."""
        return await self._run_batch(list(execution_ids), claimed=False, rekick=False)

    async def _run_batch(
        self, execution_ids: list[uuid.UUID], *, claimed: bool, rekick: bool
    ) -> list[Outcome[None]]:
        async def done(execution_id: uuid.UUID, outcome: Outcome[None]) -> None:
            if not outcome.ok:
                if outcome.timed_out:
                    message = (
                        "the execution did not finish within "
                        f"{self.settings.purchases.execution_timeout_s:g} s; "
                        "lines in flight are reconciled and the rest bought by the next worker"
                    )
                else:
                    error = outcome.error
                    logger.error(
                        "purchase execution crashed",
                        extra={
                            "execution_id": str(execution_id),
                            "error_type": type(error).__name__,
                        },
                    )
                    message = f"internal error ({type(error).__name__})"
                await self._abandon(execution_id, message)
            if rekick:
                self.kick()  # a slot is free: this process competes for the next execution

        async def work(execution_id: uuid.UUID) -> None:
            await self._traced_execution(execution_id, claimed)

        try:
            with tracing.span("purchase.executions", count=len(execution_ids)):
                outcomes = await fan_out(
                    execution_ids,
                    work,
                    limit=self.settings.scheduler.max_account_parallelism,
                    timeout_s=self.settings.purchases.execution_timeout_s,
                    on_done=done,
                )
        finally:
            self._holding.difference_update(execution_ids)
        await self._observe(execution_ids, outcomes)
        return outcomes

    async def _traced_execution(self, execution_id: uuid.UUID, claimed: bool) -> None:
        # One span per account task; every log line inside carries the execution id (and the
        # account and provider once known, see _execute).
        with tracing.account_task("execution.account", execution_id=execution_id):
            if claimed:
                await self._hold(execution_id)
            else:
                await self.run_execution(execution_id)

    async def _observe(self, execution_ids: list[uuid.UUID], outcomes: list[Outcome[None]]) -> None:
        """Each execution's status when its task ended, by provider (cudly_purchase_executions)."""
        try:
            async with unit_of_work(self.maker) as session:
                for execution_id, outcome in zip(execution_ids, outcomes, strict=True):
                    execution = await repository.get_execution(session, execution_id)
                    if execution is not None:
                        metrics.record_execution(
                            execution.status, outcome.duration_s, provider=execution.provider
                        )
        except Exception:
            logger.warning("could not record the execution series", exc_info=True)

    async def _abandon(self, execution_id: uuid.UUID, message: str) -> None:
        # Lines in flight stay `purchasing`: the execution stays running (stale) for recovery.
        async with unit_of_work(self.maker) as session:
            lines = (await repository.lines_of(session, [execution_id]))[execution_id]
            if any(line.status == PurchaseLineStatus.purchasing for line in lines):
                return
            await repository.finish_execution(
                session, execution_id, self.worker, ExecutionStatus.failed, error=message
            )

    # --- one execution ----------------------------------------------------------------------

    async def run_execution(self, execution_id: uuid.UUID) -> None:
        """Claim and run one execution to its end (or leave it for recovery)."""
        async with unit_of_work(self.maker) as session:
            claimed = await repository.claim_execution(
                session, execution_id, self.worker, self.settings.purchases.execution_stale_after_s
            )
        if not claimed:
            return  # another worker has it (or it is finished)
        await self._hold(execution_id)

    def _beat_interval(self) -> float:
        return max(0.05, min(float(self.settings.purchases.execution_stale_after_s) / 4, 30.0))

    async def _hold(self, execution_id: uuid.UUID) -> None:
        """Run an execution this worker has claimed, heartbeating it while it runs (also
        through a long cloud call), so no other process takes it over while we are alive."""
        self._holding.add(execution_id)
        beating = asyncio.create_task(self._heartbeats(execution_id))
        try:
            await self._execute(execution_id)
        except _LostClaim:
            return
        finally:
            beating.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await beating

    async def _heartbeats(self, execution_id: uuid.UUID) -> None:
        interval = self._beat_interval()
        while True:
            await asyncio.sleep(interval)
            try:
                async with unit_of_work(self.maker) as session:
                    held = await repository.heartbeat(session, execution_id, self.worker)
            except Exception as exc:
                raise_if_stopping()
                logger.warning(
                    "execution heartbeat failed", extra={"error_type": type(exc).__name__}
                )
                continue
            if not held:
                return  # finished, waiting for approval, or taken over (the next line stops)

    async def _execute(self, execution_id: uuid.UUID) -> None:
        async with unit_of_work(self.maker) as session:
            execution = await repository.get_execution(session, execution_id)
            assert execution is not None
            account = (
                await repository.get_account(session, execution.cloud_account_id)
                if execution.cloud_account_id
                else None
            )
            plan = (
                await repository.get_plan(session, execution.plan_id) if execution.plan_id else None
            )
            if account is None or not account.enabled:
                failure = (
                    "the account was deleted" if account is None else "the account is disabled"
                )
                await repository.finish_execution(
                    session, execution_id, self.worker, ExecutionStatus.failed, error=failure
                )
                return
            provider = Provider(account.provider)
            tracing.annotate(cloud_account_id=account.id, provider=provider)
            try:
                auth = await resolve_account_auth(session, self.key_ring, account)
            except ProviderError as exc:
                await repository.finish_execution(
                    session, execution_id, self.worker, ExecutionStatus.failed, error=exc.message
                )
                return
            configs = await effective_configs(session, account)
        real = not execution.dry_run and self.settings.purchases.enabled
        try:
            purchaser: Purchaser = purchaser_for(provider)
        except ValueError:
            await self._finish(
                execution_id,
                ExecutionStatus.failed,
                error=f"buying {provider.value} commitments is not supported yet",
            )
            return
        # 1. The account's own identity, before anything else.
        try:
            await purchaser.confirm_identity(auth, self.settings, self.clients)
        except ProviderError as exc:
            await self._finish(execution_id, ExecutionStatus.failed, error=exc.message)
            return
        # 2. Lines, once.
        await self._ensure_lines(execution, plan, configs, real)
        # 3. Reconcile what a crashed worker left in flight.
        lines = await self._lines(execution_id)
        for line in lines:
            if line.status == PurchaseLineStatus.purchasing:
                await self._reconcile_line(execution, auth, purchaser, line)
        approval: PurchaseApproval | None = None
        if real and execution.approval_required:
            approval = await self._approval(execution.execution_group_id)
            if approval is None or approval.status != ApprovalStatus.approved:
                await self._gate(execution, auth, purchaser, approval)
                return
        # 4. Buy (or look up offerings for a dry run).
        for line in await self._lines(execution_id):
            await self._beat(execution_id)
            if line.status != PurchaseLineStatus.pending:
                continue
            if approval is not None and not matches_pin(approval, line):
                await self._skip(
                    line, "changed after approval: not bought (execute the plan again)"
                )
            elif real:
                await self._buy(execution, auth, purchaser, line)
            else:
                await self._simulate(execution, auth, purchaser, line)
        await self._conclude(execution)

    async def _approval(self, group_id: uuid.UUID) -> PurchaseApproval | None:
        async with unit_of_work(self.maker) as session:
            return await repository.approval_of_group(session, group_id)

    async def _gate(
        self,
        execution: PurchaseExecution,
        auth: AccountAuth,
        purchaser: Purchaser,
        approval: PurchaseApproval | None,
    ) -> None:
        """Before approval: price every line, then wait in ``awaiting_approval`` (no purchase)."""
        if approval is not None and approval.status in (
            ApprovalStatus.rejected,
            ApprovalStatus.expired,
        ):
            closed = (
                ExecutionStatus.rejected
                if approval.status == ApprovalStatus.rejected
                else ExecutionStatus.expired
            )
            await self._finish(execution.id, closed)
            return
        for line in await self._lines(execution.id):
            if line.status != PurchaseLineStatus.pending:
                continue
            await self._beat(execution.id)
            try:
                await self._offering(auth, purchaser, line)
            except ProviderError as exc:
                await self._fail(line, exc.message, expected=PurchaseLineStatus.pending)
        lines = await self._lines(execution.id)
        if not any(line.status == PurchaseLineStatus.pending for line in lines):
            await self._conclude(execution)  # nothing to approve
            return
        async with unit_of_work(self.maker) as session:
            waiting = await repository.await_approval(session, execution.id, self.worker)
        if waiting:
            await events.publish(
                ExecutionEvent(
                    name="execution.awaiting_approval",
                    execution_group_id=execution.execution_group_id,
                    execution_ids=(execution.id,),
                    status=ExecutionStatus.awaiting_approval.value,
                    totals=approval_totals(lines),
                )
            )

    async def _skip(self, line: PurchaseLine, reason: str) -> None:
        async with unit_of_work(self.maker) as session:
            await repository.set_line_status(
                session,
                line.id,
                expected=[PurchaseLineStatus.pending],
                status=PurchaseLineStatus.skipped.value,
                reason=reason,
            )

    async def _lines(self, execution_id: uuid.UUID) -> list[PurchaseLine]:
        async with unit_of_work(self.maker) as session:
            return (await repository.lines_of(session, [execution_id]))[execution_id]

    async def _beat(self, execution_id: uuid.UUID) -> None:
        async with unit_of_work(self.maker) as session:
            if not await repository.heartbeat(session, execution_id, self.worker):
                raise _LostClaim

    async def _finish(
        self,
        execution_id: uuid.UUID,
        status: ExecutionStatus,
        *,
        error: str | None = None,
        note: str | None = None,
    ) -> None:
        async with unit_of_work(self.maker) as session:
            finished = await repository.finish_execution(
                session, execution_id, self.worker, status, error=error, note=note
            )
            execution = await repository.get_execution(session, execution_id)
        if finished and execution is not None:
            await events.publish(
                ExecutionEvent(
                    name=f"execution.{status.value}",
                    execution_group_id=execution.execution_group_id,
                    execution_ids=(execution_id,),
                    status=status.value,
                )
            )

    async def _conclude(self, execution: PurchaseExecution) -> None:
        lines = await self._lines(execution.id)
        statuses = [PurchaseLineStatus(line.status) for line in lines]
        if any(s in (PurchaseLineStatus.pending, PurchaseLineStatus.purchasing) for s in statuses):
            return  # unknown outcomes left for the reconcile loop (the execution stays running)
        failed = [line for line in lines if line.status == PurchaseLineStatus.failed]
        done = [
            line
            for line in lines
            if line.status in (PurchaseLineStatus.purchased, PurchaseLineStatus.simulated)
        ]
        note = None
        if not execution.dry_run and not self.settings.purchases.enabled:
            note = PURCHASES_DISABLED
        if failed and done:
            status, error = ExecutionStatus.partial, f"{len(failed)} of {len(lines)} line(s) failed"
        elif failed:
            status, error = ExecutionStatus.failed, f"every line failed: {failed[0].error}"
        else:
            status, error = ExecutionStatus.completed, None
        await self._finish(execution.id, status, error=error, note=note)

    # --- building lines ---------------------------------------------------------------------

    async def _ensure_lines(
        self,
        execution: PurchaseExecution,
        plan: PurchasePlan | None,
        configs: Sequence[EffectiveServiceConfig],
        real: bool,
    ) -> None:
        async with unit_of_work(self.maker) as session:
            # Caps are per group: build one execution's lines at a time within the group.
            await xact_lock(session, f"purchases.group:{execution.execution_group_id}")
            if (await repository.lines_of(session, [execution.id]))[execution.id]:
                return
            if execution.cloud_account_id is None:
                return
            services = dict(execution_services(execution, plan))
            by_service = {config.service: config for config in configs}
            recommendations = await repository.recommendations_for(
                session,
                execution.cloud_account_id,
                execution.provider,
                [key.partition(":")[2] for key in services],
            )
            since = datetime.now(UTC) - timedelta(days=self.settings.purchases.grace_days)
            bought = (
                await repository.bought_since(
                    session, execution.provider, execution.account_external_id, since
                )
                if self.settings.purchases.grace_days
                else {}
            )
            lines: list[PurchaseLine] = []
            for rec in recommendations:
                wanted = services.get(f"{execution.provider}:{rec.service}")
                config = by_service.get(rec.service)
                if wanted is None or config is None:
                    continue
                line = size_line(execution, rec, layered(config, wanted), bought)
                if line is not None:
                    lines.append(line)
            upfront, monthly = await repository.group_commitment(
                session, execution.execution_group_id
            )
            apply_caps(lines, caps(plan, execution, self.settings), upfront, monthly)
            if not real and not execution.dry_run:
                for line in lines:
                    if line.status == PurchaseLineStatus.pending:
                        line.status = PurchaseLineStatus.skipped.value
                        line.reason = PURCHASES_DISABLED
            await repository.add_lines(session, lines)

    # --- the state machine ------------------------------------------------------------------

    def _request(self, line: PurchaseLine, **details: Any) -> PurchaseRequest:
        return PurchaseRequest(
            idempotency_key=line.idempotency_key,
            service=line.service,
            region=line.region or "",
            resource_type=line.resource_type or "",
            engine=line.engine or "",
            variant=line.variant,
            term=line.term or 1,
            payment=line.payment or "no-upfront",
            count=line.count,
            upfront_cost=line.upfront_cost or Decimal(0),
            recurring_monthly_cost=line.recurring_monthly_cost or Decimal(0),
            offering_id=line.offering_id,
            claimed_at=line.claimed_at,
            details={**line.details, **details},
        )

    async def _offering(
        self, auth: AccountAuth, purchaser: Purchaser, line: PurchaseLine
    ) -> str | None:
        """Look the offering up once and store it on the line; ProviderError when none."""
        if line.offering_id:
            return line.offering_id
        offering = await purchaser.find_offering(
            auth, self._request(line), self.settings, self.clients
        )
        async with unit_of_work(self.maker) as session:
            await repository.set_line_status(
                session,
                line.id,
                expected=[PurchaseLineStatus.pending],
                offering_id=offering,
            )
        line.offering_id = offering
        return offering

    async def _simulate(
        self,
        execution: PurchaseExecution,
        auth: AccountAuth,
        purchaser: Purchaser,
        line: PurchaseLine,
    ) -> None:
        try:
            await self._offering(auth, purchaser, line)
        except ProviderError as exc:
            await self._fail(line, exc.message, expected=PurchaseLineStatus.pending)
            return
        async with unit_of_work(self.maker) as session:
            await repository.set_line_status(
                session,
                line.id,
                expected=[PurchaseLineStatus.pending],
                status=PurchaseLineStatus.simulated.value,
            )

    async def _buy(
        self,
        execution: PurchaseExecution,
        auth: AccountAuth,
        purchaser: Purchaser,
        line: PurchaseLine,
    ) -> None:
        try:
            await self._offering(auth, purchaser, line)
        except ProviderError as exc:
            await self._fail(line, exc.message, expected=PurchaseLineStatus.pending)
            return
        async with unit_of_work(self.maker) as session:
            claimed = await repository.claim_line(session, line.id)
        if claimed is None:
            return  # someone else moved it
        # The intent is committed: from here a crash leaves the line `purchasing` for reconcile.
        try:
            result = await purchaser.purchase(
                auth, self._request(claimed), self.settings, self.clients
            )
        except PurchaseRejected as exc:
            await self._fail(claimed, exc.message, expected=PurchaseLineStatus.purchasing)
            return
        except ProviderError as exc:
            logger.warning(
                "purchase outcome unknown; reconciling",
                extra={"line_id": str(line.id), "error_code": exc.code},
            )
            # Nothing found means nothing bought: fail it (a retry re-attempts, same key).
            await self._reconcile_line(execution, auth, purchaser, claimed, missing=exc.message)
            return
        except Exception:
            # Not a ProviderError (e.g. botocore's ResponseParserError on a 500 with a non-XML
            # body): the cloud may still have bought it, so the outcome is unknown, as above.
            logger.warning(
                "purchase outcome unknown (unexpected error); reconciling", exc_info=True
            )
            missing = "the cloud's answer to the purchase could not be read"
            await self._reconcile_line(execution, auth, purchaser, claimed, missing=missing)
            return
        await self._bought(execution, claimed, result)

    async def _reconcile_line(
        self,
        execution: PurchaseExecution,
        auth: AccountAuth,
        purchaser: Purchaser,
        line: PurchaseLine,
        *,
        missing: str | None = None,
    ) -> None:
        """Ask the cloud what a ``purchasing`` line bought: purchased, or (nothing found) back
        to pending — or failed with ``missing`` when the purchase call itself just failed."""
        async with unit_of_work(self.maker) as session:
            known = await repository.known_commitment_ids(
                session, execution.provider, execution.account_external_id, line.service
            )
        try:
            result = await purchaser.reconcile(
                auth,
                self._request(line, known_commitment_ids=known),
                self.settings,
                self.clients,
            )
        except PurchaseRejected as exc:
            await self._fail(line, exc.message, expected=PurchaseLineStatus.purchasing)
            return
        except ProviderError as exc:
            # Cannot tell: keep it `purchasing`; the execution stays running for the next pass.
            logger.warning(
                "reconcile failed; will retry",
                extra={"line_id": str(line.id), "error_code": exc.code},
            )
            return
        if result is not None:
            await self._bought(execution, line, result)
            return
        if missing is not None:
            await self._fail(line, missing, expected=PurchaseLineStatus.purchasing)
            return
        async with unit_of_work(self.maker) as session:
            await repository.set_line_status(
                session,
                line.id,
                expected=[PurchaseLineStatus.purchasing],
                status=PurchaseLineStatus.pending.value,
            )
        line.status = PurchaseLineStatus.pending.value

    async def _bought(
        self, execution: PurchaseExecution, line: PurchaseLine, result: PurchaseResult
    ) -> None:
        """``purchasing → purchased`` and its history row, in one transaction."""
        async with unit_of_work(self.maker) as session:
            updated = await repository.set_line_status(
                session,
                line.id,
                expected=[PurchaseLineStatus.purchasing],
                status=PurchaseLineStatus.purchased.value,
                provider_commitment_id=result.provider_commitment_id,
                error=None,
            )
            if updated is None:
                return
            approval = (
                await repository.approval_of_group(session, execution.execution_group_id)
                if execution.approval_required
                else None
            )
            now = datetime.now(UTC)
            await repository.add_history(
                session,
                PurchaseHistory(
                    cloud_account_id=execution.cloud_account_id,
                    account_external_id=execution.account_external_id,
                    account_name=execution.account_name,
                    provider=execution.provider,
                    plan_id=execution.plan_id,
                    execution_id=execution.id,
                    purchase_line_id=line.id,
                    service=line.service,
                    region=line.region,
                    resource_type=line.resource_type,
                    engine=line.engine,
                    variant=line.variant,
                    count=line.count,
                    term=line.term,
                    payment=line.payment,
                    upfront_cost=line.upfront_cost,
                    monthly_cost=line.recurring_monthly_cost,
                    estimated_monthly_savings=line.estimated_monthly_savings,
                    currency=line.currency,
                    status=PurchaseStatus.purchased.value,
                    purchased_at=now,
                    expires_at=result.expires_at or (now + timedelta(days=365 * (line.term or 1))),
                    provider_commitment_id=result.provider_commitment_id,
                    approval_id=approval.id if approval else None,
                ),
            )

    async def _fail(
        self, line: PurchaseLine, message: str, *, expected: PurchaseLineStatus
    ) -> None:
        async with unit_of_work(self.maker) as session:
            await repository.set_line_status(
                session,
                line.id,
                expected=[expected],
                status=PurchaseLineStatus.failed.value,
                error=message[:2000],
            )

    # --- recovery and the scheduler ---------------------------------------------------------

    async def recover(self) -> int:
        """Claim and run, to the end, everything claimable now — pending executions and those
        whose worker died (their in-flight lines are reconciled first); the count claimed."""
        total = 0
        while claimed := await self._claim_all():
            total += len(claimed)
            await self._run_batch(claimed, claimed=True, rekick=False)
        return total

    async def expire_approvals(self) -> int:
        """Expire groups left unapproved past ``CUDLY_APPROVAL_TTL``."""
        async with unit_of_work(self.maker) as session:
            expired = await expire_due(session)
        for event in expired:
            await events.publish(event)
        return len(expired)

    async def start_due_plans(self) -> int:
        """Start every scheduled plan whose time has come (under the single-runner lock)."""
        from api.purchases import service

        started: list[uuid.UUID] = []
        async with session_lock(self.maker.kw["bind"], SCHEDULER_LOCK) as acquired:
            if not acquired:
                return 0
            async with unit_of_work(self.maker) as session:
                started = await service.start_scheduled(session, self.settings)
        if started:
            self.kick()
        return len(started)

    def poll_interval(self) -> float:
        """How often a worker looks for claimable executions without a notification: the
        fallback for a lost one, and how a dead worker's executions are noticed stale."""
        return max(0.05, min(POLL_S, float(self.settings.purchases.execution_stale_after_s) / 2))

    async def loop(self) -> None:
        """The worker loop: claim what is claimable (at start-up, on every notification and
        every poll), and periodically expire approvals and start due plans."""
        maintenance_every = min(self.settings.scheduler.reconcile_interval_s, 60.0)
        next_maintenance = 0.0
        if self.notifications is not None:
            self.notifications.on_any(lambda _group: self.kick())
        while True:
            try:
                if self.notifications is not None:
                    await self.notifications.ensure()
                self.kick()
                now = asyncio.get_running_loop().time()
                if now >= next_maintenance:
                    next_maintenance = now + maintenance_every
                    await self.expire_approvals()
                    await self.start_due_plans()
            except Exception as exc:
                raise_if_stopping()
                logger.error("purchase loop step failed", extra={"error_type": type(exc).__name__})
            await asyncio.sleep(self.poll_interval())

    async def aclose(self) -> None:
        self._closing = True
        await cancel_all(list(self.tasks))
        if self.notifications is not None:
            await self.notifications.aclose()


class _LostClaim(Exception):
    """Another worker took the execution over (our heartbeat went stale)."""


# --- pure sizing rules -----------------------------------------------------------------------


def execution_services(
    execution: PurchaseExecution, plan: PurchasePlan | None
) -> list[tuple[str, dict[str, Any]]]:
    services: dict[str, Any] = (execution_snapshot(execution) or {}).get("services") or (
        plan.services if plan else {}
    )
    return list(services.items())


def execution_snapshot(execution: PurchaseExecution) -> dict[str, Any] | None:
    return execution.plan_snapshot or None


@dataclass(frozen=True)
class Layered:
    enabled: bool
    term: int
    payment: str
    coverage: Decimal
    include_regions: tuple[str, ...]
    exclude_regions: tuple[str, ...]
    include_types: tuple[str, ...]
    exclude_types: tuple[str, ...]
    include_engines: tuple[str, ...]
    exclude_engines: tuple[str, ...]


def layered(config: EffectiveServiceConfig, plan: dict[str, Any]) -> Layered:
    """The plan's sparse settings over the account's effective config."""

    def pick(name: str) -> Any:
        value = plan.get(name)
        return getattr(config, name).value if value is None else value

    return Layered(
        enabled=bool(pick("enabled")),
        term=int(pick("term")),
        payment=str(pick("payment")),
        coverage=Decimal(str(pick("coverage"))),
        include_regions=tuple(pick("include_regions")),
        exclude_regions=tuple(pick("exclude_regions")),
        include_types=tuple(pick("include_types")),
        exclude_types=tuple(pick("exclude_types")),
        include_engines=tuple(pick("include_engines")),
        exclude_engines=tuple(pick("exclude_engines")),
    )


def _passes(value: str, include: tuple[str, ...], exclude: tuple[str, ...]) -> bool:
    return (not include or value in include) and value not in exclude


def size_line(
    execution: PurchaseExecution,
    rec: Any,
    settings: Layered,
    bought: dict[repository.UsageKey, Decimal],
) -> PurchaseLine | None:
    """One line for a recommendation, or None when the settings exclude it."""
    if not settings.enabled or rec.term != settings.term or rec.payment != settings.payment:
        return None
    if not (
        _passes(rec.region, settings.include_regions, settings.exclude_regions)
        and _passes(rec.resource_type, settings.include_types, settings.exclude_types)
        and _passes(rec.engine, settings.include_engines, settings.exclude_engines)
    ):
        return None
    variant = str(getattr(rec, "variant", "") or "")
    wanted = Decimal(rec.count) * settings.coverage / _HUNDRED
    whole = rec.service not in UNIT_SERVICES
    if whole:
        wanted = wanted.to_integral_value(rounding=ROUND_FLOOR)
    reason = None
    already = bought.get(
        (rec.service, rec.region, rec.resource_type, rec.engine, variant), Decimal(0)
    )
    count = wanted - already
    if wanted <= 0:
        return None
    if count <= 0:
        count, reason = (
            wanted,
            (
                f"grace window: {already.normalize()} already bought for this account and key "
                "within CUDLY_PURCHASE_GRACE_DAYS"
            ),
        )
    factor = count / Decimal(rec.count) if rec.count else _ONE
    line = PurchaseLine(
        id=uuid.uuid4(),
        execution_id=execution.id,
        recommendation_id=rec.id,
        idempotency_key=idempotency_key(execution.id, rec.id),
        status=(PurchaseLineStatus.skipped if reason else PurchaseLineStatus.pending).value,
        reason=reason,
        service=rec.service,
        region=rec.region,
        resource_type=rec.resource_type,
        engine=rec.engine,
        variant=variant,
        term=rec.term,
        payment=rec.payment,
        count=count,
        upfront_cost=(Decimal(rec.upfront_cost) * factor).quantize(Decimal("0.000001")),
        recurring_monthly_cost=(Decimal(rec.recurring_monthly_cost) * factor).quantize(
            Decimal("0.000001")
        ),
        estimated_monthly_savings=(Decimal(rec.estimated_monthly_savings) * factor).quantize(
            Decimal("0.000001")
        ),
        currency=rec.currency,
        attempts=0,
        details=dict(rec.details or {}),
    )
    return line


@dataclass(frozen=True)
class Caps:
    upfront: Decimal | None
    monthly: Decimal | None


def caps(plan: PurchasePlan | None, execution: PurchaseExecution, settings: Settings) -> Caps:
    snapshot = execution_snapshot(execution) or {}
    plan_upfront = snapshot.get("max_upfront", plan.max_upfront if plan else None)
    plan_monthly = snapshot.get(
        "max_monthly_commitment", plan.max_monthly_commitment if plan else None
    )
    limits = [
        Decimal(str(v)) for v in (plan_upfront, settings.purchases.max_upfront) if v is not None
    ]
    return Caps(
        upfront=min(limits) if limits else None,
        monthly=Decimal(str(plan_monthly)) if plan_monthly is not None else None,
    )


def apply_caps(lines: list[PurchaseLine], limits: Caps, upfront: Decimal, monthly: Decimal) -> None:
    """Take pending lines by savings until the next would cross a cap; skip the rest."""
    crossed: str | None = None
    for line in sorted(lines, key=lambda each: each.estimated_monthly_savings or 0, reverse=True):
        if line.status != PurchaseLineStatus.pending:
            continue
        if crossed is None:
            next_upfront = upfront + (line.upfront_cost or 0)
            next_monthly = monthly + (line.recurring_monthly_cost or 0)
            if limits.upfront is not None and next_upfront > limits.upfront:
                crossed = f"cap: the group's upfront would exceed {limits.upfront.normalize():f}"
            elif limits.monthly is not None and next_monthly > limits.monthly:
                crossed = (
                    "cap: the group's monthly commitment would exceed "
                    f"{limits.monthly.normalize():f}"
                )
            else:
                upfront, monthly = next_upfront, next_monthly
                continue
        line.status = PurchaseLineStatus.skipped.value
        line.reason = crossed


# --- app lifecycle -----------------------------------------------------------------------------


async def startup(app: Any) -> None:
    """Create the process's runner; with the scheduler on, it is a worker: start its loop."""
    from api.kit.crypto import get_key_ring

    runner = Runner(
        maker=app.state.sessionmaker,
        settings=app.state.settings,
        key_ring=await get_key_ring(app),
        clients=app.state.provider_clients,
    )
    notifications = ExecutionNotifications(app.state.engine, runner.settings.db.connect_timeout_s)
    app.state.execution_notifications = notifications
    runner.notifications = notifications
    app.state.purchase_runner = runner
    if runner.settings.scheduler.enabled:
        # Listening before the process reports ready, so it hears the first group created.
        await notifications.ensure()
        runner._track(runner.loop())


async def shutdown(app: Any) -> None:
    runner: Runner | None = getattr(app.state, "purchase_runner", None)
    if runner is not None:
        await runner.aclose()


def install(app: Any) -> None:
    """Register the runner's start and stop with the app's lifespan hooks."""
    app.state.startup_hooks.append(startup)
    app.state.shutdown_hooks.append(shutdown)
