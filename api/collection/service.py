"""A collection run: its accounts claimed by the workers of every process, each batch one
:func:`api.kit.fanout.fan_out` (SPEC §5; the worker is at the end of this module).

Per account, three steps, none holding a database connection across a cloud call:

1. a short unit of work reads the account, its credentials and effective config into frozen
   values, and closes — one for the whole claimed batch (:func:`prepare_batch`, three
   statements), which each account's task awaits; the claim already marked the row
   ``running``;
2. the provider's collector sweeps the cloud with the account's own identity;
3. one unit of work replaces the account's recommendations and inventory, writes its
   savings snapshot and records the row ``ok`` under its claim — all or nothing, in a few
   fixed statements on the driver (docs/benchmarks.md, Collection, says what each cost).

A failure, timeout or partial sweep never reaches step 3, so the previous set stays. Steps 1
and 3 also pass a process-wide slot semaphore smaller than the connection pool, so any
``CUDLY_MAX_ACCOUNT_PARALLELISM`` (up to 1000) queues for a connection instead of
exhausting the pool (requests keep the rest of it).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import os
import socket
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from api.accounts import repository as accounts_repository
from api.auth.permissions import AccountScope
from api.collection import repository
from api.collection.repository import ClaimedAccount, RunAccountRef
from api.commitments.repository import replace_account_commitments
from api.config import Settings
from api.credentials.service import resolve_account_auth, scrub, secrets_of
from api.db import AsyncReadSession, unit_of_work
from api.enums import Provider, RunAccountStatus, RunStatus, RunTrigger
from api.errors import NotFound
from api.kit import claims
from api.kit.claims import Claim, ClaimLoop, Listener
from api.kit.crypto import KeyRing
from api.kit.driver import XACT_LOCK_SQL, driver_connection
from api.kit.fanout import Outcome
from api.kit.locks import lock_key
from api.kit.tasks import cancel_all
from api.models import (
    AccountCredential,
    CloudAccount,
    CollectionRun,
    CollectionRunAccount,
    ServiceConfig,
)
from api.providers import registry
from api.providers.base import (
    AccountAuth,
    Collector,
    ProviderError,
    SweepResult,
    sum_by_key,
)
from api.providers.clients import ProviderClients
from api.recommendations.repository import replace_account_recommendations
from api.service_config.merge import EffectiveServiceConfig
from api.service_config.service import effective_configs, effective_configs_of
from api.telemetry import context as log_context
from api.telemetry import metrics, tracing

logger = logging.getLogger(__name__)

PROCESS_ID = f"{socket.gethostname()}:{os.getpid()}"
# NOTIFY channel of collection runs: ``start:<run id>``, ``account:<run id>``, ``closed:<run id>``.
CHANNEL = "cudly_collection"


def utcnow() -> datetime:
    return datetime.now(UTC)


class AccountSkipped(Exception):
    """The account is not collected in this run (disabled, deleted, no credentials)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class AccountResult:
    """What one account's completed sweep stored."""

    recommendation_count: int
    commitment_count: int
    warnings: list[str]
    closed_run: bool = False  # this account was the run's last: its write closed the run


class ClaimLost(Exception):
    """The account's claim went to another worker: this sweep's result is discarded."""

    def __init__(self, run_id: uuid.UUID, account_id: uuid.UUID) -> None:
        super().__init__(f"claim on account {account_id} of run {run_id} was lost")


@dataclass(frozen=True)
class AccountProgress:
    """One finished account, for progress displays (the CLI's bar)."""

    ref: RunAccountRef
    status: RunAccountStatus
    error: str | None


@dataclass
class CollectionContext:
    """What a run needs, built once per process (the app lifespan) or per CLI invocation."""

    maker: async_sessionmaker[AsyncSession]
    settings: Settings
    clients: ProviderClients
    key_ring: Callable[[], Awaitable[KeyRing]]
    collector_for: Callable[[Provider], Collector] = registry.collector
    owner: str = PROCESS_ID
    db_slots: asyncio.Semaphore = field(init=False)

    def __post_init__(self) -> None:
        # Half the pool for background steps; requests keep the other half and the overflow.
        self.db_slots = asyncio.Semaphore(max(1, self.settings.db.pool_size // 2))


@dataclass(frozen=True)
class StartedRun:
    run_id: uuid.UUID
    created: bool  # False: a run was already in progress, and this is it


async def close_stale_runs(maker: async_sessionmaker[AsyncSession], settings: Settings) -> int:
    """Close as failed every running run whose heartbeat went stale (its process died)."""
    now = utcnow()
    stale_before = now - timedelta(seconds=settings.scheduler.collect_stale_after_s)
    async with unit_of_work(maker) as session:
        stale = await repository.stale_run_ids(session, stale_before)
        for run_id in stale:
            await _close_in(
                session,
                run_id,
                "every server process working on this collection stopped (no heartbeat "
                f"for {settings.scheduler.collect_stale_after_s:g} s); start a new refresh",
                now,
            )
    for run_id in stale:
        logger.warning("closed stale collection run %s", run_id)
    return len(stale)


async def start_run(
    maker: async_sessionmaker[AsyncSession],
    settings: Settings,
    *,
    trigger: RunTrigger,
    account_ids: Sequence[uuid.UUID] | None,
    scope: AccountScope,
    created_by: uuid.UUID | None = None,
    owner: str = PROCESS_ID,
    first_claim: Callable[[AsyncSession, uuid.UUID], Awaitable[object]] | None = None,
) -> StartedRun:
    """Record a new running run with one row per account, or return the run in progress.

    ``account_ids`` names the accounts (a disabled one is recorded ``skipped``); None means
    every enabled account inside ``scope`` (callers check named ids against the scope;
    an unknown one is a 404 and nothing is started). The partial unique index on running runs makes
    two concurrent starts (any process) end with one run. ``first_claim(session, run_id)``
    lets the starting worker claim its share in the run's own transaction, before the
    ``start`` notification wakes the others. A run with nothing to collect is closed at once.
    """
    await close_stale_runs(maker, settings)
    now = utcnow()
    async with unit_of_work(maker) as session:
        run_id = await repository.insert_running_run(
            session,
            trigger=trigger.value,
            requested_account_ids=list(account_ids) if account_ids is not None else None,
            owner=owner,
            created_by=created_by,
            now=now,
        )
        if run_id is None:
            running = await repository.get_running_run(session)
            if running is not None:
                return StartedRun(running.id, created=False)
            raise RuntimeError("a collection run is running but could not be read")
        accounts = await repository.target_accounts(session, account_ids, scope)
        if account_ids is not None:
            missing = set(account_ids) - {account.id for account in accounts}
            if missing:
                raise NotFound(
                    "unknown cloud account id(s): " + ", ".join(sorted(map(str, missing))),
                    code="account_not_found",
                )
        skipped = {
            account.id: "the account is disabled" for account in accounts if not account.enabled
        }
        await repository.add_run_accounts(session, run_id, accounts, skipped=skipped, now=now)
        closed = False
        if await repository.count_unfinished(session, run_id) == 0:
            closed = await _close_in(session, run_id, None, now)
        else:
            if first_claim is not None:
                await first_claim(session, run_id)
            await notify_run(session, "start", run_id)
    if closed:
        metrics.record_run(RunStatus.completed.value, 0.0)
    return StartedRun(run_id, created=True)


async def notify_run(session: AsyncSession, kind: str, run_id: uuid.UUID) -> None:
    """Tell every process (on commit): ``start`` wakes idle workers, ``account`` and
    ``closed`` wake the run's event streams."""
    await claims.notify(session, CHANNEL, f"{kind}:{run_id}")


async def _close_in(
    session: AsyncSession, run_id: uuid.UUID, error: str | None, now: datetime
) -> bool:
    closed = await repository.close_run(
        session,
        run_id,
        status=RunStatus.failed if error else RunStatus.completed,
        error=error,
        now=now,
    )
    if closed:
        await notify_run(session, "closed", run_id)
    return closed


def _error_text(
    outcome: Outcome[AccountResult], settings: Settings
) -> tuple[RunAccountStatus, str]:
    if outcome.timed_out:
        return RunAccountStatus.timeout, (
            f"no complete answer within {settings.scheduler.account_timeout_s:g} s "
            "(CUDLY_ACCOUNT_TIMEOUT_S): the cloud was slow or unreachable; the previous "
            "recommendations are kept"
        )
    error = outcome.error
    if isinstance(error, AccountSkipped):
        return RunAccountStatus.skipped, error.reason
    if isinstance(error, ProviderError):
        return RunAccountStatus.failed, error.message
    return RunAccountStatus.failed, (
        f"internal error while collecting ({type(error).__name__}); the server log has details"
    )


Prepared = tuple[AccountAuth, list[EffectiveServiceConfig]]


async def _resolve(
    session: AsyncSession,
    key_ring: KeyRing,
    account: CloudAccount | None,
    stored: Mapping[uuid.UUID, AccountCredential | None] | None = None,
) -> AccountAuth:
    if account is None:
        raise AccountSkipped("the account was deleted")
    if not account.enabled:
        raise AccountSkipped("the account is disabled")
    try:
        return await resolve_account_auth(session, key_ring, account, stored)
    except ProviderError as exc:
        if exc.code == "no_credentials":
            raise AccountSkipped(exc.message) from None
        raise


async def _prepare(
    ctx: CollectionContext,
    run_id: uuid.UUID,
    ref: RunAccountRef,
    configs: dict[uuid.UUID, list[EffectiveServiceConfig]],
) -> Prepared:
    """Step 1 for one account: a short unit of work that leaves only frozen values behind."""
    key_ring = await ctx.key_ring()
    async with ctx.db_slots, unit_of_work(ctx.maker) as session:
        account = await accounts_repository.get_account(session, ref.cloud_account_id)
        auth = await _resolve(session, key_ring, account)
        assert account is not None  # _resolve skips a deleted account
        config = configs.get(ref.cloud_account_id) or await effective_configs(session, account)
    return auth, config


# Accounts without overrides share their provider's effective configs (frozen values),
# merged once per set of global rows (the repository hands back the same objects until the
# rows change): the merge of every service was ~1 ms per account.
_shared_configs: dict[str, tuple[list[ServiceConfig], list[EffectiveServiceConfig]]] = {}


def _effective_configs(rows: repository.BatchRows) -> dict[uuid.UUID, list[EffectiveServiceConfig]]:
    overridden = {row.cloud_account_id for row in rows.overrides}
    own = [a for a in rows.accounts.values() if a.id in overridden]
    configs = effective_configs_of(own, rows.service_configs, rows.overrides) if own else {}
    for account in rows.accounts.values():
        if account.id in overridden:
            continue
        cached = _shared_configs.get(account.provider)
        if cached is None or cached[0] is not rows.service_configs:
            merged = effective_configs_of([account], rows.service_configs, [])[account.id]
            cached = _shared_configs[account.provider] = (rows.service_configs, merged)
        configs[account.id] = cached[1]
    return configs


async def prepare_batch(
    ctx: CollectionContext, account_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, Prepared | Exception]:
    """Step 1 for a claimed batch: one unit of work of three statements for all of it (the
    accounts with their credential rows, the global configs, the overrides) leaving frozen
    values behind, or per account the error its sweep fails or is skipped with."""
    if not account_ids:
        return {}
    key_ring = await ctx.key_ring()
    prepared: dict[uuid.UUID, Prepared | Exception] = {}
    async with ctx.db_slots, unit_of_work(ctx.maker) as session:
        rows = await repository.batch_rows(session, account_ids)
        configs = _effective_configs(rows)
        for account_id in account_ids:
            account = rows.accounts.get(account_id)
            try:
                auth = await _resolve(session, key_ring, account, rows.credentials)
            except (AccountSkipped, ProviderError) as exc:
                prepared[account_id] = exc
            else:
                prepared[account_id] = (auth, configs[account_id])
    return prepared


async def _persist(
    ctx: CollectionContext,
    run_id: uuid.UUID,
    auth: AccountAuth,
    sweep: SweepResult,
    started: float,
    claim_token: uuid.UUID | None,
) -> AccountResult:
    """Step 3: the account's whole result in one transaction (with its row marked ``ok``)."""
    account = auth.account
    recommendations = sum_by_key(sweep.recommendations)  # again: a collector may not have
    now = utcnow()
    async with ctx.db_slots, unit_of_work(ctx.maker) as session:
        count = await replace_account_recommendations(
            session, account.id, account.provider, run_id, recommendations, now
        )
        commitment_count = 0
        if sweep.commitments is not None:
            commitment_count = await replace_account_commitments(
                session, account.id, account.provider, sweep.commitments, now
            )
        finished = await repository.finish_completed_account(
            session,
            run_id,
            account_id=account.id,
            account_external_id=account.external_id,
            account_name=account.name,
            provider=account.provider.value,
            warnings=list(sweep.warnings),
            duration_ms=int((time.perf_counter() - started) * 1000),
            recommendation_count=count,
            commitment_count=commitment_count,
            now=now,
            claim_token=claim_token,
            channel=CHANNEL,
            payload=f"account:{run_id}",
        )
        if not finished.recorded:
            # Re-claimed by another worker (or the run was closed): roll everything back.
            raise ClaimLost(run_id, account.id)
        closed = finished.remaining == 0 and await _close_in(session, run_id, None, now)
    return AccountResult(count, commitment_count, list(sweep.warnings), closed)


async def _counted_down(session: AsyncSession, run_id: uuid.UUID, now: datetime) -> bool:
    """After an account's finish write: notify, and close the run if it was the last one."""
    await notify_run(session, "account", run_id)
    if await repository.count_down(session, run_id) == 0:
        return await _close_in(session, run_id, None, now)
    return False


async def collect_account(
    ctx: CollectionContext,
    run_id: uuid.UUID,
    ref: RunAccountRef,
    configs: dict[uuid.UUID, list[EffectiveServiceConfig]] | None = None,
    claim_token: uuid.UUID | None = None,
    prepared: Prepared | Exception | None = None,
) -> AccountResult:
    """Prepare (unless ``prepared`` by :func:`prepare_batch`), sweep, persist one account
    (its failures raise; fan_out captures them)."""
    started = time.perf_counter()
    if isinstance(prepared, Exception):
        raise prepared
    auth, config = prepared or await _prepare(ctx, run_id, ref, configs or {})
    collector = ctx.collector_for(Provider(ref.provider))
    try:
        sweep = await collector.collect(auth, config, ctx.settings, ctx.clients)
    except ProviderError as exc:
        # Defence in depth: a provider message never carries a secret, and now cannot.
        raise ProviderError(scrub(exc.message, secrets_of(auth)), code=exc.code) from None
    return await _persist(ctx, run_id, auth, sweep, started, claim_token)


async def record_outcome(
    ctx: CollectionContext,
    run_id: uuid.UUID,
    ref: RunAccountRef,
    outcome: Outcome[AccountResult],
    claim_token: uuid.UUID | None,
) -> tuple[RunAccountStatus, str | None, bool] | None:
    """Record one account's outcome under its claim: (status, error, closed the run), or None
    when the claim was lost and nothing was written. A completed sweep recorded itself."""
    status, error = RunAccountStatus.ok, None
    if not outcome.ok:
        if isinstance(outcome.error, ClaimLost):
            logger.info("account %s: claim lost, result discarded", ref.cloud_account_id)
            return None
        status, error = _error_text(outcome, ctx.settings)
    metrics.observe_account_sweep(
        outcome.duration_s, status, provider=ref.provider, cloud_account_id=ref.cloud_account_id
    )
    if outcome.ok:
        assert outcome.value is not None
        return status, error, outcome.value.closed_run
    with log_context.bind(cloud_account_id=ref.cloud_account_id, provider=ref.provider):
        if status is RunAccountStatus.failed and not isinstance(outcome.error, ProviderError):
            logger.error(
                "collection of account %s failed unexpectedly",
                ref.cloud_account_id,
                exc_info=outcome.error,
            )
        now = utcnow()
        async with unit_of_work(ctx.maker) as session:
            recorded = await repository.finish_account(
                session,
                run_id,
                ref.cloud_account_id,
                status=status,
                error=error,
                warnings=[],
                duration_ms=int(outcome.duration_s * 1000),
                now=now,
                claim_token=claim_token,
            )
            if not recorded:
                return None
            closed = await _counted_down(session, run_id, now)
    return status, error, closed


async def close_run(ctx: CollectionContext, run_id: uuid.UUID, error: str | None) -> bool:
    """Close a running run (failed with ``error``, else completed); True when this closed it."""
    async with unit_of_work(ctx.maker) as session:
        return await _close_in(session, run_id, error, utcnow())


async def execute_run(
    ctx: CollectionContext,
    run_id: uuid.UUID,
    *,
    on_progress: Callable[[AccountProgress], Awaitable[None]] | None = None,
) -> None:
    """Work on the run as one more worker until it is closed (by this process or any other).

    ``on_progress`` hears of every account as it finishes, whichever process finished it.
    Cancellation hands this worker's claims back, and closes the run as failed when no
    other worker is left to finish it.
    """
    await CollectionWorker(ctx, run_id=run_id).run_until_closed(on_progress)


async def get_run(
    session: AsyncSession | AsyncReadSession, run_id: uuid.UUID
) -> CollectionRun | None:
    """The run, or ``None`` when no run has that id."""
    return await repository.get_run(session, run_id)


async def list_runs(session: AsyncSession | AsyncReadSession, limit: int) -> list[CollectionRun]:
    """The latest ``limit`` runs, newest first."""
    return await repository.list_runs(session, limit)


async def run_accounts(
    session: AsyncSession | AsyncReadSession, run_id: uuid.UUID, scope: AccountScope
) -> list[CollectionRunAccount]:
    """The run's per-account rows the caller may see, finished ones in finishing order."""
    return await repository.run_accounts(session, run_id, scope)


# --- the worker -----------------------------------------------------------------------
# The collection worker of one process: claims accounts of running runs, from any replica.
#
# A run's ``collection_run_accounts`` rows are the work queue (:mod:`api.kit.claims`). Every
# server process runs one :class:`CollectionWorker`; ``cudly collect`` runs one scoped to its
# run. A claim happens in one short transaction under the advisory lock ``CLAIM_LOCK``:
#
# - the global bound: rows ``running`` with a fresh heartbeat are in flight, across every
#   process and replica; at most ``CUDLY_MAX_ACCOUNT_PARALLELISM`` minus that is claimed;
# - a fair share: at most ``ceil(P / live workers)`` per worker (live workers are the
#   processes holding a worker LISTEN connection), so every process gets its part of the CPU
#   work and the bound is reached once every worker has claimed;
# - stale claims first (their worker's heartbeat is older than ``CUDLY_COLLECT_STALE_AFTER_S``),
#   then pending rows in name order, ``FOR UPDATE SKIP LOCKED``; each gets a new claim token.
#
# The sweep runs outside any transaction; its finish write (one transaction per account)
# matches the claim token, so a stale worker's late result is discarded, and counts the run
# down: whichever process finishes the last account closes the run, exactly once.

CLAIM_LOCK = "cudly:collection:claim"
# Fallback when a notification is missed (the LISTEN connection is reconnecting).
POLL_S = 1.0
STOPPED = "the server stopped during this run"


def _log_prepare_failure(task: asyncio.Task[object]) -> None:
    if not task.cancelled() and task.exception() is not None:
        # Each account of the batch then prepares on its own, in its task.
        logger.warning("preparing a claimed batch failed", exc_info=task.exception())


class CollectionWorker:
    """Claims and sweeps accounts of running runs (all of them, or only ``run_id``'s)."""

    def __init__(self, ctx: CollectionContext, *, run_id: uuid.UUID | None = None) -> None:
        self.ctx = ctx
        self.run_id = run_id
        self.worker_id = claims.new_worker_id()
        bind = ctx.maker.kw["bind"]
        self.listener = Listener(
            bind.url,
            CHANNEL,
            self.worker_id,
            connect_timeout_s=ctx.settings.db.connect_timeout_s,
        )
        wanted = "start:" if run_id is None else f"start:{run_id}"
        self.loop: ClaimLoop[ClaimedAccount, AccountResult] = ClaimLoop(
            claim=self._claim,
            work=self._work,
            on_done=self._done,
            heartbeat=self._heartbeat,
            release=self._release,
            waker=self.listener.waker(lambda payload: payload.startswith(wanted)),
            timeout_s=ctx.settings.scheduler.account_timeout_s,
            heartbeat_s=ctx.settings.scheduler.collect_heartbeat_s,
            poll_s=POLL_S,
            batch_context=self._batch_context,
        )
        # Step 1 of a claimed batch (prepare_batch), started as the claim returns and awaited
        # by each account's task: the claim loop claims on while it reads, and the claims are
        # in flight (heart-beaten) from the start.
        self._prepared: dict[uuid.UUID, asyncio.Task[dict[uuid.UUID, Prepared | Exception]]] = {}
        self._first: list[Claim[ClaimedAccount]] = []
        self._task: asyncio.Task[None] | None = None

    # --- lifecycle ----------------------------------------------------------------------
    async def start(self) -> None:
        """Connect the listener (this process now counts as a live worker) and start claiming."""
        await self.listener.start()
        self._task = asyncio.create_task(self.loop.run(), name=f"collect-{self.worker_id}")

    async def start_listening(self) -> None:
        """Connect the listener only: this process counts as a live worker from now on."""
        await self.listener.start()

    async def stop(self) -> None:
        """Hand unfinished claims back; the last worker standing closes running runs failed."""
        await cancel_all([self._task])
        self._task = None
        with contextlib.suppress(Exception):
            await self._close_if_last()
        await self.listener.stop()

    async def _close_if_last(self) -> None:
        async with unit_of_work(self.ctx.maker) as session:
            others = await claims.live_workers(session, excluding=self.worker_id)
            runs = await repository.running_run_ids(session)
        if others:
            return  # another process carries on with what was handed back
        for run_id in runs:
            if self.run_id is None or run_id == self.run_id:
                await close_run(self.ctx, run_id, STOPPED)

    async def run_until_closed(
        self, on_progress: Callable[[AccountProgress], Awaitable[None]] | None = None
    ) -> None:
        """Work on ``run_id`` until it is closed (``cudly collect``, benchmarks).

        Call :meth:`start_listening` first when this worker takes the run's first claim.
        """
        assert self.run_id is not None
        run_id = self.run_id
        if not self.listener.connected.is_set():
            await self.listener.start()
        seen: set[uuid.UUID] = set()
        progress = (
            asyncio.create_task(self._report(run_id, on_progress, seen)) if on_progress else None
        )
        try:
            first, self._first = self._first, []
            self._start_prepare(first)
            await self.loop.run(until=lambda: self._closed(run_id), initial=first)
        except asyncio.CancelledError:
            with contextlib.suppress(Exception):
                await self._close_if_last()
            raise
        finally:
            if progress is not None and on_progress is not None:
                progress.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await progress
                with contextlib.suppress(Exception):
                    await self._report_once(run_id, on_progress, seen)
            await self.listener.stop()

    async def _closed(self, run_id: uuid.UUID) -> bool:
        async with unit_of_work(self.ctx.maker) as session:
            run = await repository.get_run(session, run_id)
        return run is None or run.status != RunStatus.running.value

    async def _report(
        self,
        run_id: uuid.UUID,
        on_progress: Callable[[AccountProgress], Awaitable[None]],
        seen: set[uuid.UUID],
    ) -> None:
        while True:
            await self._report_once(run_id, on_progress, seen)
            await asyncio.sleep(0.25)

    async def _report_once(
        self,
        run_id: uuid.UUID,
        on_progress: Callable[[AccountProgress], Awaitable[None]],
        seen: set[uuid.UUID],
    ) -> None:
        """Every account finished since the last look, whichever process finished it."""
        async with unit_of_work(self.ctx.maker) as session:
            rows = await repository.run_accounts(
                session, run_id, AccountScope.everything(), finished_only=True
            )
        for row in rows:
            if row.id in seen or row.cloud_account_id is None:
                continue
            seen.add(row.id)
            ref = repository.RunAccountRef(row.cloud_account_id, row.provider, row.account_name)
            await on_progress(AccountProgress(ref, RunAccountStatus(row.status), row.error))

    # --- the claim loop's callbacks -------------------------------------------------------
    async def _claim(self, _local_in_flight: int) -> Sequence[Claim[ClaimedAccount]]:
        async with unit_of_work(self.ctx.maker) as session:
            claimed = await self.claim_in(session, None)
        self._start_prepare(claimed)
        return claimed

    async def claim_in(
        self, session: AsyncSession, runs: Sequence[uuid.UUID] | None
    ) -> list[Claim[ClaimedAccount]]:
        """Claim this worker's room in ``runs`` (None: every running run, oldest first; only
        this worker's run when it has one) inside the caller's transaction."""
        settings = self.ctx.settings
        driver = await driver_connection(session, XACT_LOCK_SQL, lock_key(CLAIM_LOCK))
        fresh_after = utcnow() - timedelta(seconds=settings.scheduler.collect_stale_after_s)
        room = await repository.claim_room(
            driver, fresh_after, self.worker_id, claims.WORKER_APPLICATION_PREFIX
        )
        # Stamped after the count, so after every finish the count saw committed (whose
        # finished_at is earlier still): a claim never appears, by its timestamps, to overlap
        # the finish that made room for it. Stamped before the count, a finish committing in
        # between looked like more than P claims at once (seen as 23 of 20 in a loaded CI run).
        now = utcnow()
        if runs is None:
            runs = room.running_runs
            if self.run_id is not None:
                runs = [r for r in runs if r == self.run_id]
        limit = settings.scheduler.max_account_parallelism
        share = math.ceil(limit / max(1, room.workers))
        wanted = min(limit - room.in_flight, share - room.mine)
        claimed: list[ClaimedAccount] = []
        for run_id in runs:
            if wanted - len(claimed) <= 0:
                break
            claimed += await repository.claim_accounts(
                driver,
                run_id,
                worker=self.worker_id,
                limit=wanted - len(claimed),
                stale_before=fresh_after if room.stale else None,
                now=now,
            )
        return [Claim(c.token, c) for c in claimed]

    async def first_claim(self, session: AsyncSession, run_id: uuid.UUID) -> None:
        """For :func:`start_run`: claim this worker's share of the new run (see ``adopt``)."""
        self._first = await self.claim_in(session, [run_id])

    async def adopt_first(self) -> list[Claim[ClaimedAccount]]:
        """The claims ``first_claim`` took, with their configs loaded, handed to the loop."""
        first, self._first = self._first, []
        self._start_prepare(first)
        self.loop.adopt(first)
        return first

    def _start_prepare(self, claimed: Sequence[Claim[ClaimedAccount]]) -> None:
        if not claimed:
            return
        task = asyncio.create_task(
            prepare_batch(self.ctx, [c.item.ref.cloud_account_id for c in claimed]),
            name=f"collect-prepare-{self.worker_id}",
        )
        task.add_done_callback(_log_prepare_failure)
        for c in claimed:
            self._prepared[c.item.ref.cloud_account_id] = task

    async def _prepared_for(self, account_id: uuid.UUID) -> Prepared | Exception | None:
        """The batch's step 1 for this account; None: prepare on its own (the read failed)."""
        task = self._prepared.pop(account_id, None)
        if task is None:
            return None
        try:
            # Shielded: one account cancelled (timeout, lost claim) leaves the batch's read be.
            return (await asyncio.shield(task)).get(account_id)
        except Exception:
            return None

    @contextlib.contextmanager
    def _batch_context(self, batch: Sequence[Claim[ClaimedAccount]]) -> Iterator[None]:
        run_id = batch[0].item.run_id
        with log_context.bind(run_id=run_id), tracing.span("collection.run", run_id=run_id):
            yield

    async def _work(self, claim: Claim[ClaimedAccount]) -> AccountResult:
        claimed = claim.item
        ref = claimed.ref
        # One span per account task; every log line inside carries the run and account ids.
        with tracing.account_task(
            "collection.account",
            run_id=claimed.run_id,
            cloud_account_id=ref.cloud_account_id,
            provider=ref.provider,
        ):
            prepared = await self._prepared_for(ref.cloud_account_id)
            return await collect_account(
                self.ctx, claimed.run_id, ref, claim_token=claim.token, prepared=prepared
            )

    async def _done(
        self, claim: Claim[ClaimedAccount], outcome: Outcome[AccountResult], lost: bool
    ) -> None:
        claimed = claim.item
        self._prepared.pop(claimed.ref.cloud_account_id, None)
        if lost:
            return
        recorded = await record_outcome(self.ctx, claimed.run_id, claimed.ref, outcome, claim.token)
        if recorded is not None and recorded[2]:
            await self._record_run_metric(claimed.run_id)

    async def _record_run_metric(self, run_id: uuid.UUID) -> None:
        async with unit_of_work(self.ctx.maker) as session:
            run = await repository.get_run(session, run_id)
        if run is not None and run.finished_at is not None:
            duration = (run.finished_at - run.started_at).total_seconds()
            metrics.record_run(run.status, duration)
            logger.info("collection run %s %s", run_id, run.status)

    async def _heartbeat(self, tokens: list[uuid.UUID]) -> set[uuid.UUID]:
        now = utcnow()
        # Two transactions: the claims' rows must not stay locked (their old heartbeat visible,
        # which others may take for stale) while the run's row is busy with a finishing
        # account's count-down.
        async with unit_of_work(self.ctx.maker) as session:
            held = await repository.heartbeat_claims(session, tokens, now)
        async with unit_of_work(self.ctx.maker) as session:
            await repository.heartbeat_running_runs(session, now)
        return held

    async def _release(self, tokens: list[uuid.UUID]) -> None:
        async with unit_of_work(self.ctx.maker) as session:
            released = await repository.release_claims(session, tokens)
        logger.info("handed %d unfinished claims back", released)
