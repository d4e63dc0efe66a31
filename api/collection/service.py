"""A collection run: one task per account over :func:`api.kit.fanout.fan_out` (SPEC §5).

Per account, three steps, none holding a database connection across a cloud call:

1. a short unit of work reads the account, marks its row ``running``, resolves its
   credentials and effective config into frozen values, and closes;
2. the provider's collector sweeps the cloud with the account's own identity;
3. one unit of work replaces the account's recommendations and inventory, writes its
   savings snapshot and records the row ``ok`` — all or nothing.

A failure, timeout or partial sweep never reaches step 3, so the previous set stays. Steps 1
and 3 also pass a process-wide slot semaphore smaller than the connection pool, so any
``CUDLY_MAX_ACCOUNT_PARALLELISM`` (up to 1000) queues for a connection instead of
exhausting the pool (requests keep the rest of it).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from api.accounts import repository as accounts_repository
from api.auth.permissions import AccountScope
from api.collection import repository
from api.collection.repository import RunAccountRef
from api.commitments.repository import replace_account_commitments
from api.config import Settings
from api.credentials.service import resolve_account_auth, scrub, secrets_of
from api.db import AsyncReadSession, unit_of_work
from api.enums import Provider, RunAccountStatus, RunStatus, RunTrigger
from api.errors import NotFound
from api.kit.crypto import KeyRing
from api.kit.fanout import Outcome, fan_out
from api.models import CollectionRun, CollectionRunAccount
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
from api.service_config.service import effective_configs, effective_configs_for_accounts
from api.telemetry import context as log_context
from api.telemetry import metrics, tracing

logger = logging.getLogger(__name__)

PROCESS_ID = f"{socket.gethostname()}:{os.getpid()}"


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
        self.db_slots = asyncio.Semaphore(max(1, self.settings.db_pool_size // 2))


@dataclass(frozen=True)
class StartedRun:
    run_id: uuid.UUID
    created: bool  # False: a run was already in progress, and this is it


async def close_stale_runs(maker: async_sessionmaker[AsyncSession], settings: Settings) -> int:
    """Close as failed every running run whose heartbeat went stale (its process died)."""
    now = utcnow()
    stale_before = now - timedelta(seconds=settings.collect_stale_after_s)
    async with unit_of_work(maker) as session:
        stale = await repository.stale_run_ids(session, stale_before)
        for run_id in stale:
            await repository.close_run(
                session,
                run_id,
                status=RunStatus.failed,
                error=(
                    "the server process running this collection stopped (no heartbeat for "
                    f"{settings.collect_stale_after_s:g} s); start a new refresh"
                ),
                now=now,
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
) -> StartedRun:
    """Record a new running run with one row per account, or return the run in progress.

    ``account_ids`` names the accounts (a disabled one is recorded ``skipped``); None means
    every enabled account inside ``scope`` (callers check named ids against the scope;
    an unknown one is a 404 and nothing is started). The partial unique index on running runs makes
    two concurrent starts (any process) end with one run.
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
    return StartedRun(run_id, created=True)


def _error_text(
    outcome: Outcome[AccountResult], settings: Settings
) -> tuple[RunAccountStatus, str]:
    if outcome.timed_out:
        return RunAccountStatus.timeout, (
            f"no complete answer within {settings.account_timeout_s:g} s "
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


async def _prepare(
    ctx: CollectionContext,
    run_id: uuid.UUID,
    ref: RunAccountRef,
    configs: dict[uuid.UUID, list[EffectiveServiceConfig]],
) -> tuple[AccountAuth, list[EffectiveServiceConfig]]:
    """Step 1: one short unit of work that leaves only frozen values behind."""
    key_ring = await ctx.key_ring()
    async with ctx.db_slots, unit_of_work(ctx.maker) as session:
        account = await accounts_repository.get_account(session, ref.cloud_account_id)
        if account is None:
            raise AccountSkipped("the account was deleted")
        if not account.enabled:
            raise AccountSkipped("the account is disabled")
        await repository.mark_account_running(session, run_id, account.id, utcnow())
        try:
            auth = await resolve_account_auth(session, key_ring, account)
        except ProviderError as exc:
            if exc.code == "no_credentials":
                raise AccountSkipped(exc.message) from None
            raise
        # Read for every account at the start of the run (two queries in all); an account
        # missing from that read reads its own.
        config = configs.get(account.id) or await effective_configs(session, account)
    return auth, config


async def _persist(
    ctx: CollectionContext,
    run_id: uuid.UUID,
    auth: AccountAuth,
    sweep: SweepResult,
    started: float,
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
        await repository.write_savings_snapshot(
            session,
            account_id=account.id,
            account_external_id=account.external_id,
            account_name=account.name,
            provider=account.provider.value,
            captured_at=now,
        )
        await repository.finish_account(
            session,
            run_id,
            account.id,
            status=RunAccountStatus.ok,
            error=None,
            warnings=list(sweep.warnings),
            duration_ms=int((time.perf_counter() - started) * 1000),
            recommendation_count=count,
            commitment_count=commitment_count,
            now=now,
        )
    return AccountResult(count, commitment_count, list(sweep.warnings))


async def collect_account(
    ctx: CollectionContext,
    run_id: uuid.UUID,
    ref: RunAccountRef,
    configs: dict[uuid.UUID, list[EffectiveServiceConfig]] | None = None,
) -> AccountResult:
    """Prepare, sweep, persist one account (its failures raise; fan_out captures them)."""
    started = time.perf_counter()
    auth, config = await _prepare(ctx, run_id, ref, configs or {})
    collector = ctx.collector_for(Provider(ref.provider))
    try:
        sweep = await collector.collect(auth, config, ctx.settings, ctx.clients)
    except ProviderError as exc:
        # Defence in depth: a provider message never carries a secret, and now cannot.
        raise ProviderError(scrub(exc.message, secrets_of(auth)), code=exc.code) from None
    return await _persist(ctx, run_id, auth, sweep, started)


async def _heartbeat(ctx: CollectionContext, run_id: uuid.UUID) -> None:
    while True:
        await asyncio.sleep(ctx.settings.collect_heartbeat_s)
        try:
            async with unit_of_work(ctx.maker) as session:
                await repository.heartbeat(session, run_id, utcnow())
        except Exception:
            logger.warning("collection run %s: heartbeat failed", run_id, exc_info=True)


async def execute_run(
    ctx: CollectionContext,
    run_id: uuid.UUID,
    *,
    on_progress: Callable[[AccountProgress], Awaitable[None]] | None = None,
) -> None:
    """Collect every pending account of the run, then close it.

    Cancellation (server shutdown) closes the run as failed before propagating.
    """
    with tracing.collection_run(run_id):  # the run's span, log context, outcome and duration
        await _execute_run(ctx, run_id, on_progress=on_progress)


async def _execute_run(
    ctx: CollectionContext,
    run_id: uuid.UUID,
    *,
    on_progress: Callable[[AccountProgress], Awaitable[None]] | None = None,
) -> None:
    configs: dict[uuid.UUID, list[EffectiveServiceConfig]] = {}

    async def record(ref: RunAccountRef, outcome: Outcome[AccountResult]) -> None:
        status, error = RunAccountStatus.ok, None
        if not outcome.ok:
            status, error = _error_text(outcome, ctx.settings)
        metrics.observe_account_sweep(
            outcome.duration_s, status, provider=ref.provider, cloud_account_id=ref.cloud_account_id
        )
        with log_context.bind(cloud_account_id=ref.cloud_account_id, provider=ref.provider):
            await _record(ref, status, error, outcome)

    async def _record(
        ref: RunAccountRef,
        status: RunAccountStatus,
        error: str | None,
        outcome: Outcome[AccountResult],
    ) -> None:
        if not outcome.ok:
            if status is RunAccountStatus.failed and not isinstance(outcome.error, ProviderError):
                logger.error(
                    "collection of account %s failed unexpectedly",
                    ref.cloud_account_id,
                    exc_info=outcome.error,
                )
            async with unit_of_work(ctx.maker) as session:
                await repository.finish_account(
                    session,
                    run_id,
                    ref.cloud_account_id,
                    status=status,
                    error=error,
                    warnings=[],
                    duration_ms=int(outcome.duration_s * 1000),
                    now=utcnow(),
                )
        if on_progress is not None:
            await on_progress(AccountProgress(ref, status, error))

    async def work(ref: RunAccountRef) -> AccountResult:
        # One span per account task; every log line inside carries the run and account ids.
        with tracing.account_task(
            "collection.account",
            run_id=run_id,
            cloud_account_id=ref.cloud_account_id,
            provider=ref.provider,
        ):
            return await collect_account(ctx, run_id, ref, configs)

    beating = asyncio.create_task(_heartbeat(ctx, run_id))
    try:
        async with unit_of_work(ctx.maker) as session:
            refs = await repository.pending_accounts(session, run_id)
            accounts = await repository.accounts_by_id(session, [r.cloud_account_id for r in refs])
            configs.update(await effective_configs_for_accounts(session, accounts))
        await fan_out(
            refs,
            work,
            limit=ctx.settings.max_account_parallelism,
            timeout_s=ctx.settings.account_timeout_s,
            on_done=record,
        )
    except asyncio.CancelledError:
        # Still awaitable after catching the cancellation: the run must not stay running.
        with contextlib.suppress(Exception):
            await _close(ctx, run_id, "the server stopped during this run")
        raise
    except Exception:
        logger.exception("collection run %s failed", run_id)
        await _close(ctx, run_id, "the collection run failed unexpectedly; see the server log")
        raise
    finally:
        beating.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await beating
    await _close(ctx, run_id, None)


async def _close(ctx: CollectionContext, run_id: uuid.UUID, error: str | None) -> None:
    async with unit_of_work(ctx.maker) as session:
        await repository.close_run(
            session,
            run_id,
            status=RunStatus.failed if error else RunStatus.completed,
            error=error,
            now=utcnow(),
        )


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
