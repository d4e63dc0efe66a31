"""Every query on collection runs and their per-account rows."""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

import asyncpg
from sqlalchemy import case, func, select, text, update
from sqlalchemy import inspect as sa_inspect
from sqlalchemy.dialects.postgresql import JSONB, insert
from sqlalchemy.ext.asyncio import AsyncSession

from api.auth.permissions import AccountScope
from api.db import AsyncReadSession
from api.enums import PurchaseStatus, RunAccountStatus, RunStatus
from api.kit.driver import in_transaction
from api.models import (
    AccountCredential,
    AccountServiceOverride,
    CloudAccount,
    CollectionRun,
    CollectionRunAccount,
    ServiceConfig,
)
from api.models.base import Base

FINISHED = (
    RunAccountStatus.ok.value,
    RunAccountStatus.failed.value,
    RunAccountStatus.timeout.value,
    RunAccountStatus.skipped.value,
)
UNFINISHED = (RunAccountStatus.pending.value, RunAccountStatus.running.value)


@dataclass(frozen=True)
class RunAccountRef:
    """Which account a run row is for (a frozen copy, safe across transactions)."""

    cloud_account_id: uuid.UUID
    provider: str
    account_name: str


async def get_running_run(session: AsyncSession) -> CollectionRun | None:
    return (
        await session.execute(
            select(CollectionRun)
            .where(CollectionRun.status == RunStatus.running.value)
            .execution_options(populate_existing=True)
        )
    ).scalar_one_or_none()


async def insert_running_run(
    session: AsyncSession,
    *,
    trigger: str,
    requested_account_ids: list[uuid.UUID] | None,
    owner: str,
    created_by: uuid.UUID | None,
    now: datetime,
) -> uuid.UUID | None:
    """Insert a running run; None when another is running (the partial unique index)."""
    statement = (
        insert(CollectionRun)
        .values(
            trigger=trigger,
            status=RunStatus.running.value,
            requested_account_ids=requested_account_ids,
            owner=owner,
            heartbeat_at=now,
            created_by=created_by,
            started_at=now,
        )
        .on_conflict_do_nothing(
            index_elements=["status"],
            # A literal, not a bound parameter: once PostgreSQL switches the prepared statement
            # to a generic plan (after five runs on a connection) it can no longer match the
            # partial unique index to a parameter and fails with 42P10.
            index_where=text("status = 'running'"),
        )
        .returning(CollectionRun.id)
    )
    return (await session.execute(statement)).scalar_one_or_none()


async def target_accounts(
    session: AsyncSession, account_ids: Sequence[uuid.UUID] | None, scope: AccountScope
) -> list[CloudAccount]:
    """Accounts a run covers: the named ones (any state), else every enabled one in scope."""
    query = select(CloudAccount).where(scope.where(CloudAccount.id))
    if account_ids is not None:
        query = query.where(CloudAccount.id.in_(list(account_ids)))
    else:
        query = query.where(CloudAccount.enabled.is_(True))
    return list(
        (await session.execute(query.order_by(CloudAccount.name, CloudAccount.id))).scalars()
    )


async def accounts_by_id(
    session: AsyncSession, account_ids: Sequence[uuid.UUID]
) -> list[CloudAccount]:
    if not account_ids:
        return []
    query = select(CloudAccount).where(CloudAccount.id.in_(list(account_ids)))
    return list((await session.execute(query)).scalars())


async def add_run_accounts(
    session: AsyncSession,
    run_id: uuid.UUID,
    accounts: Sequence[CloudAccount],
    *,
    skipped: dict[uuid.UUID, str],
    now: datetime,
) -> None:
    """One row per account: ``pending``, or ``skipped`` with its reason."""
    if not accounts:
        return
    rows = [
        {
            "run_id": run_id,
            "cloud_account_id": account.id,
            "account_name": account.name,
            "account_external_id": account.external_id,
            "provider": account.provider,
            "status": (
                RunAccountStatus.skipped.value
                if account.id in skipped
                else RunAccountStatus.pending.value
            ),
            "error": skipped.get(account.id),
            "finished_at": now if account.id in skipped else None,
            "duration_ms": 0 if account.id in skipped else None,
        }
        for account in accounts
    ]
    await session.execute(insert(CollectionRunAccount), rows)
    await session.execute(
        update(CollectionRun).where(CollectionRun.id == run_id).values(accounts_total=len(rows))
    )


async def count_unfinished(session: AsyncSession, run_id: uuid.UUID) -> int:
    """Set the run's unfinished counter from its rows (once, when the rows are written)."""
    result = await session.execute(
        update(CollectionRun)
        .where(CollectionRun.id == run_id)
        .values(
            accounts_unfinished=select(func.count())
            .where(
                CollectionRunAccount.run_id == run_id,
                CollectionRunAccount.status.in_(UNFINISHED),
            )
            .scalar_subquery()
        )
        .returning(CollectionRun.accounts_unfinished)
    )
    return int(result.scalar_one())


async def count_down(session: AsyncSession, run_id: uuid.UUID) -> int | None:
    """One of the run's accounts finished: the unfinished count left, None if not running.

    The update locks the run's row, so concurrent finishes of the last accounts are
    serialised and exactly one of them sees 0.
    """
    result = await session.execute(
        update(CollectionRun)
        .where(CollectionRun.id == run_id, CollectionRun.status == RunStatus.running.value)
        .values(accounts_unfinished=CollectionRun.accounts_unfinished - 1)
        .returning(CollectionRun.accounts_unfinished)
    )
    remaining = result.scalar_one_or_none()
    return None if remaining is None else int(remaining)


@dataclass(frozen=True)
class ClaimedAccount:
    """A row this worker claimed: the finish write must carry ``token``."""

    run_id: uuid.UUID
    ref: RunAccountRef
    token: uuid.UUID
    attempt: int


async def running_run_ids(session: AsyncSession) -> list[uuid.UUID]:
    rows = await session.execute(
        select(CollectionRun.id).where(CollectionRun.status == RunStatus.running.value)
    )
    return list(rows.scalars())


@dataclass(frozen=True)
class ClaimRoom:
    """What a claim needs to know, read under the claim lock in one statement."""

    in_flight: int  # claimed rows whose worker is alive (fresh heartbeat), every process
    mine: int  # of those, this worker's
    workers: int  # processes holding a worker LISTEN connection
    stale: int  # running rows whose heartbeat went stale (their worker died), any run
    running_runs: list[uuid.UUID]  # oldest first


_RUNNING = RunAccountStatus.running.value
_CLAIM_ROOM = f"""
SELECT count(*) FILTER (WHERE heartbeat_at >= $1) AS in_flight,
    count(*) FILTER (WHERE heartbeat_at >= $1 AND claimed_by = $2) AS mine,
    count(*) FILTER (WHERE coalesce(heartbeat_at, started_at) < $1) AS stale,
    (SELECT count(*) FROM pg_stat_activity
     WHERE datname = current_database() AND application_name LIKE $3) AS workers,
    ARRAY(SELECT id FROM collection_runs WHERE status = '{RunStatus.running.value}'
          ORDER BY started_at, id) AS running_runs
FROM collection_run_accounts WHERE status = '{_RUNNING}'
"""  # noqa: S608 - only this module's constants are formatted in


async def claim_room(
    driver: asyncpg.Connection, fresh_after: datetime, worker: str, worker_prefix: str
) -> ClaimRoom:
    """The global in-flight count, this worker's, live workers, stale rows and running runs."""
    row = await driver.fetchrow(_CLAIM_ROOM, fresh_after, worker, worker_prefix + "%")
    assert row is not None
    return ClaimRoom(
        int(row["in_flight"]),
        int(row["mine"]),
        int(row["workers"]),
        int(row["stale"]),
        list(row["running_runs"]),
    )


_CLAIM = """
UPDATE collection_run_accounts
SET status = '{running}', claimed_by = $2, claim_token = gen_random_uuid(), claimed_at = $4,
    heartbeat_at = $4, started_at = $4, attempts = attempts + 1
WHERE id IN (
    SELECT id FROM collection_run_accounts
    WHERE run_id = $1 AND cloud_account_id IS NOT NULL AND {condition}
    ORDER BY {order} LIMIT $3 FOR UPDATE SKIP LOCKED
)
RETURNING cloud_account_id, provider, account_name, claim_token, attempts
"""
_CLAIM_STALE = _CLAIM.format(
    running=_RUNNING,
    condition=f"status = '{_RUNNING}' AND coalesce(heartbeat_at, started_at) < $5",
    order="heartbeat_at",
)
# The literal status matches the partial index of claimable rows.
_CLAIM_PENDING = _CLAIM.format(
    running=_RUNNING,
    condition=f"status = '{RunAccountStatus.pending.value}'",
    order="account_name, cloud_account_id",
)


async def claim_accounts(
    driver: asyncpg.Connection,
    run_id: uuid.UUID,
    *,
    worker: str,
    limit: int,
    stale_before: datetime | None,
    now: datetime,
) -> list[ClaimedAccount]:
    """Claim up to ``limit`` rows of the run: stale claims first (their worker died; only
    looked for when ``stale_before`` is given), then pending rows in name order; rows another
    transaction holds are skipped, not waited for."""
    rows: list[asyncpg.Record] = []
    if stale_before is not None:
        rows += await driver.fetch(_CLAIM_STALE, run_id, worker, limit, now, stale_before)
    if limit - len(rows) > 0:
        rows += await driver.fetch(_CLAIM_PENDING, run_id, worker, limit - len(rows), now)
    claimed = [
        ClaimedAccount(run_id, RunAccountRef(r[0], r[1], r[2]), r[3], r[4])
        for r in rows
        if r[0] is not None and r[3] is not None
    ]
    claimed.sort(key=lambda c: (c.ref.account_name, c.ref.cloud_account_id))
    return claimed


async def heartbeat_claims(
    session: AsyncSession, tokens: Sequence[uuid.UUID], now: datetime
) -> set[uuid.UUID]:
    """Refresh these claims; returns the tokens still held (a re-claimed row has a new one)."""
    if not tokens:
        return set()
    rows = await session.execute(
        update(CollectionRunAccount)
        .where(
            CollectionRunAccount.claim_token.in_(list(tokens)),
            CollectionRunAccount.status == RunAccountStatus.running.value,
        )
        .values(heartbeat_at=now)
        .returning(CollectionRunAccount.claim_token)
    )
    return {token for token in rows.scalars() if token is not None}


async def heartbeat_running_runs(session: AsyncSession, now: datetime) -> None:
    """Every live worker keeps running runs alive: a run goes stale only when none is left."""
    await session.execute(
        update(CollectionRun)
        .where(CollectionRun.status == RunStatus.running.value)
        .values(heartbeat_at=now)
    )


async def release_claims(session: AsyncSession, tokens: Sequence[uuid.UUID]) -> int:
    """Hand unfinished claims back to the queue (a worker shutting down)."""
    if not tokens:
        return 0
    result = await session.execute(
        update(CollectionRunAccount)
        .where(
            CollectionRunAccount.claim_token.in_(list(tokens)),
            CollectionRunAccount.status == RunAccountStatus.running.value,
        )
        .values(
            status=RunAccountStatus.pending.value,
            claimed_by=None,
            claim_token=None,
            heartbeat_at=None,
            started_at=None,
        )
        .returning(CollectionRunAccount.id)
    )
    return len(result.all())


async def finish_account(
    session: AsyncSession,
    run_id: uuid.UUID,
    account_id: uuid.UUID,
    *,
    status: RunAccountStatus,
    error: str | None,
    warnings: list[str],
    duration_ms: int,
    recommendation_count: int = 0,
    commitment_count: int = 0,
    now: datetime,
    claim_token: uuid.UUID | None = None,
) -> bool:
    """Record an account's outcome unless it already has one; True when recorded.

    With ``claim_token`` only while that claim still holds the row: a worker whose claim
    went stale and was re-claimed by another finds nothing to update.
    """
    conditions = [
        CollectionRunAccount.run_id == run_id,
        CollectionRunAccount.cloud_account_id == account_id,
        CollectionRunAccount.status.in_(UNFINISHED),
    ]
    if claim_token is not None:
        conditions.append(CollectionRunAccount.claim_token == claim_token)
    result = await session.execute(
        update(CollectionRunAccount)
        .where(*conditions)
        .values(
            status=status.value,
            error=error,
            warnings=warnings,
            duration_ms=duration_ms,
            recommendation_count=recommendation_count,
            commitment_count=commitment_count,
            finished_at=now,
            started_at=func.coalesce(CollectionRunAccount.started_at, now),
            heartbeat_at=None,
        )
        .returning(CollectionRunAccount.id)
    )
    return result.first() is not None


async def heartbeat(session: AsyncSession, run_id: uuid.UUID, now: datetime) -> bool:
    """Refresh the run's heartbeat; False when it is no longer running."""
    result = await session.execute(
        update(CollectionRun)
        .where(CollectionRun.id == run_id, CollectionRun.status == RunStatus.running.value)
        .values(heartbeat_at=now)
        .returning(CollectionRun.id)
    )
    return result.first() is not None


async def close_run(
    session: AsyncSession,
    run_id: uuid.UUID,
    *,
    status: RunStatus,
    error: str | None,
    now: datetime,
) -> bool:
    """Finish a running run: unfinished accounts fail with ``error``, counts are totalled.

    True when this call closed it (False: it was no longer running).
    """
    if error is not None:
        await session.execute(
            update(CollectionRunAccount)
            .where(
                CollectionRunAccount.run_id == run_id,
                CollectionRunAccount.status.in_(UNFINISHED),
            )
            .values(
                status=RunAccountStatus.failed.value,
                error=error,
                finished_at=now,
                heartbeat_at=None,
            )
        )
    counts = (
        await session.execute(
            select(
                func.count(),
                func.count().filter(CollectionRunAccount.status == RunAccountStatus.ok.value),
                func.count().filter(
                    CollectionRunAccount.status.in_(
                        [RunAccountStatus.failed.value, RunAccountStatus.timeout.value]
                    )
                ),
                func.coalesce(func.sum(CollectionRunAccount.recommendation_count), 0),
            ).where(CollectionRunAccount.run_id == run_id)
        )
    ).one()
    closed = await session.execute(
        update(CollectionRun)
        .where(CollectionRun.id == run_id, CollectionRun.status == RunStatus.running.value)
        .values(
            status=status.value,
            error=error,
            finished_at=now,
            accounts_unfinished=0,
            accounts_total=counts[0],
            accounts_ok=counts[1],
            accounts_failed=counts[2],
            recommendation_count=counts[3],
        )
        .returning(CollectionRun.id)
    )
    return closed.first() is not None


async def stale_run_ids(session: AsyncSession, stale_before: datetime) -> list[uuid.UUID]:
    """Running runs whose process stopped heart-beating (locked, skipping ones being closed)."""
    rows = await session.execute(
        select(CollectionRun.id)
        .where(
            CollectionRun.status == RunStatus.running.value,
            func.coalesce(CollectionRun.heartbeat_at, CollectionRun.started_at) < stale_before,
        )
        .with_for_update(skip_locked=True)
    )
    return list(rows.scalars())


async def latest_run_started_at(session: AsyncSession) -> datetime | None:
    return (await session.execute(select(func.max(CollectionRun.started_at)))).scalar_one()


async def get_run(
    session: AsyncSession | AsyncReadSession, run_id: uuid.UUID
) -> CollectionRun | None:
    return (
        await session.execute(
            select(CollectionRun)
            .where(CollectionRun.id == run_id)
            .execution_options(populate_existing=True)
        )
    ).scalar_one_or_none()


async def list_runs(session: AsyncSession | AsyncReadSession, limit: int) -> list[CollectionRun]:
    return list(
        (
            await session.execute(
                select(CollectionRun)
                .order_by(CollectionRun.started_at.desc(), CollectionRun.id.desc())
                .limit(limit)
            )
        ).scalars()
    )


async def run_accounts(
    session: AsyncSession | AsyncReadSession,
    run_id: uuid.UUID,
    scope: AccountScope,
    *,
    finished_only: bool = False,
) -> list[CollectionRunAccount]:
    """The run's account rows inside ``scope``: finished ones in finishing order first."""
    query = select(CollectionRunAccount).where(
        CollectionRunAccount.run_id == run_id, scope.where(CollectionRunAccount.cloud_account_id)
    )
    if finished_only:
        query = query.where(CollectionRunAccount.status.in_(FINISHED))
    unfinished_last = case((CollectionRunAccount.finished_at.is_(None), 1), else_=0)
    query = query.order_by(
        unfinished_last,
        CollectionRunAccount.finished_at,
        CollectionRunAccount.account_name,
        CollectionRunAccount.id,
    ).execution_options(populate_existing=True)
    return list((await session.execute(query)).scalars())


SNAPSHOT_SERVICE = "all"  # one snapshot row per account (and currency) covers every service


# An account's completed sweep, recorded in one statement once its recommendations and
# inventory are replaced (same transaction, so every part sees them): its savings snapshot
# (one row per currency, SPEC §7 definitions, from the rows just written), its run row ``ok``
# under its claim, the run counted down, and the ``account`` notification (sent on commit).
# A lost claim records nothing here either; the caller rolls the transaction back.
_FINISH_OK = f"""
WITH finished AS (
    UPDATE collection_run_accounts
    SET status = '{RunAccountStatus.ok.value}', error = NULL, warnings = $6::jsonb,
        duration_ms = $7, recommendation_count = $8, commitment_count = $9, finished_at = $10,
        started_at = coalesce(started_at, $10), heartbeat_at = NULL
    WHERE run_id = $1 AND cloud_account_id = $2
      AND status IN ('{RunAccountStatus.pending.value}', '{RunAccountStatus.running.value}')
      AND ($11::uuid IS NULL OR claim_token = $11)
    RETURNING 1
), counted AS (
    UPDATE collection_runs SET accounts_unfinished = accounts_unfinished - 1
    WHERE id = $1 AND status = '{RunStatus.running.value}' AND EXISTS (SELECT 1 FROM finished)
    RETURNING accounts_unfinished
), potential AS (
    SELECT currency, sum(estimated_monthly_savings) AS total
    FROM recommendations WHERE cloud_account_id = $2 GROUP BY currency
), committed AS (
    SELECT currency, count(*) AS active,
        sum(recurring_monthly_cost
            + CASE WHEN term > 0 THEN upfront_cost / (term * 12) ELSE 0 END) AS total
    FROM commitments WHERE cloud_account_id = $2 AND state = 'active' GROUP BY currency
), realized AS (
    SELECT coalesce(currency, 'USD') AS currency, sum(estimated_monthly_savings) AS total
    FROM purchase_history
    WHERE cloud_account_id = $2 AND status = '{PurchaseStatus.purchased.value}'
      AND (expires_at IS NULL OR expires_at > $10)
    GROUP BY 1
), currencies AS (
    SELECT currency FROM potential UNION SELECT currency FROM committed
    UNION SELECT currency FROM realized
), snapshot AS (
    INSERT INTO savings_snapshots (cloud_account_id, account_external_id, account_name,
        provider, service, captured_at, potential_monthly_savings, committed_monthly,
        realized_monthly_savings, active_commitment_count, currency)
    SELECT $2, $3, $4, $5, '{SNAPSHOT_SERVICE}', $10, coalesce(p.total, 0),
        coalesce(c.total, 0), coalesce(r.total, 0), coalesce(c.active, 0), k.currency
    FROM (SELECT currency FROM currencies
          UNION ALL SELECT 'USD' WHERE NOT EXISTS (SELECT 1 FROM currencies)) AS k
    LEFT JOIN potential p ON p.currency = k.currency
    LEFT JOIN committed c ON c.currency = k.currency
    LEFT JOIN realized r ON r.currency = k.currency
    WHERE EXISTS (SELECT 1 FROM finished)
    RETURNING 1
)
SELECT EXISTS (SELECT 1 FROM finished) AS recorded,
    (SELECT accounts_unfinished FROM counted) AS remaining,
    (SELECT count(*) FROM snapshot) AS snapshots,
    (SELECT pg_notify($12, $13) FROM finished) AS notified
"""  # noqa: S608 - only this module's constants are formatted in


@dataclass(frozen=True)
class FinishedAccount:
    """What :func:`finish_completed_account` did: recorded (the claim held), and the run's
    unfinished count left (None when the run is no longer running)."""

    recorded: bool
    remaining: int | None


async def finish_completed_account(
    session: AsyncSession,
    run_id: uuid.UUID,
    *,
    account_id: uuid.UUID,
    account_external_id: str,
    account_name: str,
    provider: str,
    warnings: list[str],
    duration_ms: int,
    recommendation_count: int,
    commitment_count: int,
    now: datetime,
    claim_token: uuid.UUID | None,
    channel: str,
    payload: str,
) -> FinishedAccount:
    """Snapshot, finish (``ok``), count down and notify for a completed sweep: one statement.

    Call in the transaction that replaced the account's rows. ``recorded`` False: the claim
    went to another worker (or the row already has an outcome) and nothing was written.
    """
    driver = await in_transaction(session)
    row = await driver.fetchrow(
        _FINISH_OK,
        run_id,
        account_id,
        account_external_id,
        account_name,
        provider,
        json.dumps(warnings),
        duration_ms,
        recommendation_count,
        commitment_count,
        now,
        claim_token,
        channel,
        payload,
    )
    assert row is not None
    return FinishedAccount(bool(row["recorded"]), row["remaining"])


# --- what a claimed batch needs before its sweeps ---------------------------------------------
# One transaction, three statements for the whole batch: the accounts with their credential
# rows, every global service config, the accounts' overrides. Rows come back as transient
# (session-less) model objects for the credential and service-config rules to read.

ModelT = TypeVar("ModelT", bound=Base)


def _columns_of(model: type[Base]) -> tuple[tuple[str, str, bool], ...]:
    """(attribute, column, is JSON) of every mapped column (raw JSONB arrives as text)."""
    return tuple(
        (attribute.key, attribute.columns[0].name, isinstance(attribute.columns[0].type, JSONB))
        for attribute in sa_inspect(model).column_attrs
    )


_ACCOUNT_COLUMNS = _columns_of(CloudAccount)
_CREDENTIAL_COLUMNS = _columns_of(AccountCredential)
_CONFIG_COLUMNS = _columns_of(ServiceConfig)
_OVERRIDE_COLUMNS = _columns_of(AccountServiceOverride)


def _select_list(alias: str, columns: tuple[tuple[str, str, bool], ...], prefix: str = "") -> str:
    return ", ".join(f'{alias}."{name}" AS "{prefix}{name}"' for _, name, _ in columns)


_PREPARE_ACCOUNTS = (
    f"SELECT {_select_list('a', _ACCOUNT_COLUMNS)}, "  # noqa: S608 - model column names only
    f"{_select_list('c', _CREDENTIAL_COLUMNS, 'credential.')} "
    "FROM cloud_accounts a LEFT JOIN account_credentials c ON c.cloud_account_id = a.id "
    "WHERE a.id = ANY($1::uuid[])"
)
_PREPARE_CONFIGS = f"SELECT {_select_list('g', _CONFIG_COLUMNS)} FROM service_configs g"  # noqa: S608
_PREPARE_OVERRIDES = (
    f"SELECT {_select_list('o', _OVERRIDE_COLUMNS)} "  # noqa: S608 - model column names only
    "FROM account_service_overrides o WHERE o.cloud_account_id = ANY($1::uuid[])"
)


def _transient(
    model: type[ModelT],
    columns: tuple[tuple[str, str, bool], ...],
    record: asyncpg.Record,
    prefix: str = "",
) -> ModelT:
    values = {}
    for attribute, name, is_json in columns:
        value = record[prefix + name]
        values[attribute] = json.loads(value) if is_json and isinstance(value, str) else value
    return model(**values)


# The global rows as last read, and their objects: read every time, rebuilt only when changed
# (building ~20 model objects per claim was a third of the batch read's CPU).
_last_configs: tuple[list[tuple[Any, ...]], list[ServiceConfig]] = ([], [])


def _service_configs(records: list[asyncpg.Record]) -> list[ServiceConfig]:
    global _last_configs
    values = [tuple(record) for record in records]
    if values != _last_configs[0]:
        objects = [_transient(ServiceConfig, _CONFIG_COLUMNS, r) for r in records]
        _last_configs = (values, objects)
    return _last_configs[1]


@dataclass(frozen=True)
class BatchRows:
    """A claimed batch's accounts (deleted ones absent), their credential rows (None: none
    stored), every global service config and the accounts' overrides."""

    accounts: dict[uuid.UUID, CloudAccount]
    credentials: dict[uuid.UUID, AccountCredential | None]
    service_configs: list[ServiceConfig]
    overrides: list[AccountServiceOverride]


async def batch_rows(session: AsyncSession, account_ids: Sequence[uuid.UUID]) -> BatchRows:
    """Everything the batch's sweeps need from the database, in three statements."""
    driver = await in_transaction(session)
    ids = list(account_ids)
    accounts: dict[uuid.UUID, CloudAccount] = {}
    credentials: dict[uuid.UUID, AccountCredential | None] = {}
    for record in await driver.fetch(_PREPARE_ACCOUNTS, ids):
        account = _transient(CloudAccount, _ACCOUNT_COLUMNS, record)
        accounts[account.id] = account
        credentials[account.id] = (
            None
            if record["credential.cloud_account_id"] is None
            else _transient(AccountCredential, _CREDENTIAL_COLUMNS, record, "credential.")
        )
    configs = _service_configs(await driver.fetch(_PREPARE_CONFIGS))
    overrides = [
        _transient(AccountServiceOverride, _OVERRIDE_COLUMNS, r)
        for r in await driver.fetch(_PREPARE_OVERRIDES, ids)
    ]
    return BatchRows(accounts, credentials, configs, overrides)
