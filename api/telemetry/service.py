"""Readiness and the scrape: what the database says, gathered for the metrics renderer."""

from __future__ import annotations

import asyncio
import logging
import math
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Literal

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from api.config import Settings
from api.telemetry import metrics, repository

logger = logging.getLogger(__name__)

CHECK_TIMEOUT_S = 2.0  # readiness, like /api/health: a load balancer wants a quick answer
# The scrape's database gauges: within Prometheus' default scrape timeout (10 s), generous
# enough for a loaded database; past it the scrape still answers, with database_up 0.
GAUGES_TIMEOUT_S = 8.0


@lru_cache(maxsize=1)
def migration_heads() -> frozenset[str]:
    """The head revision(s) of the migration scripts shipped with this build."""
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    from api.migrate import MIGRATIONS_DIR

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    return frozenset(ScriptDirectory.from_config(config).get_heads())


@dataclass(frozen=True)
class Readiness:
    database: Literal["ok", "unreachable"]
    migrations: Literal["ok", "behind", "unknown"]
    key_ring: Literal["ok", "not_loaded"]

    @property
    def ready(self) -> bool:
        return (self.database, self.migrations, self.key_ring) == ("ok", "ok", "ok")


async def readiness(app_state: Any) -> Readiness:
    """Ready = the database answers, its schema is at this build's head, the key ring loaded."""
    engine: AsyncEngine = app_state.engine
    maker: async_sessionmaker[AsyncSession] = app_state.read_sessionmaker
    key_ring: Literal["ok", "not_loaded"] = (
        "ok" if getattr(app_state, "key_ring", None) is not None else "not_loaded"
    )
    try:
        await asyncio.wait_for(repository.ping(engine), CHECK_TIMEOUT_S)
    except Exception:
        return Readiness(database="unreachable", migrations="unknown", key_ring=key_ring)
    try:
        async with maker() as session:
            applied = await asyncio.wait_for(
                repository.migration_revisions(session), CHECK_TIMEOUT_S
            )
        heads = await asyncio.to_thread(migration_heads)
        migrations: Literal["ok", "behind", "unknown"] = "ok" if applied == heads else "behind"
    except Exception:
        logger.warning("readiness: cannot read the migration state", exc_info=True)
        migrations = "unknown"
    return Readiness(database="ok", migrations=migrations, key_ring=key_ring)


def run_budget_s(settings: Settings, enabled_accounts: int) -> float:
    """The longest a run may take: every wave of ``parallelism`` accounts hitting its timeout."""
    waves = max(1, math.ceil(enabled_accounts / settings.scheduler.max_account_parallelism))
    return waves * settings.scheduler.account_timeout_s


async def database_gauges(
    maker: async_sessionmaker[AsyncSession], settings: Settings
) -> metrics.DatabaseGauges:
    """Read the scrape-time gauges; a database that does not answer gives ``up=False``."""
    try:
        async with maker() as session:
            gauges = await asyncio.wait_for(_read(session, settings), GAUGES_TIMEOUT_S)
            await session.rollback()
        return gauges
    except Exception:
        logger.warning("metrics: the database gauges could not be read", exc_info=True)
        return metrics.DatabaseGauges(up=False)


async def _read(session: AsyncSession, settings: Settings) -> metrics.DatabaseGauges:
    lines = await repository.purchase_lines_by_status(session)
    oldest_purchasing = await repository.oldest_purchasing_age_s(session)
    awaiting, oldest_wait = await repository.approval_backlog(session)
    running, oldest_run = await repository.running_runs(session)
    enabled = await repository.enabled_account_count(session)
    last_run = await repository.last_finished_run_accounts(session)
    return metrics.DatabaseGauges(
        up=True,
        purchase_lines=lines,
        purchasing_oldest_age_s=oldest_purchasing,
        approval_groups_awaiting=awaiting,
        approval_oldest_wait_s=oldest_wait,
        approval_ttl_s=float(settings.purchases.approval_ttl),
        runs_running=running,
        run_oldest_running_age_s=oldest_run,
        run_budget_s=run_budget_s(settings, enabled),
        last_run_accounts=last_run,
    )


async def scrape(app_state: Any, accept: str | None) -> tuple[bytes, str]:
    """The full exposition for a scrape of this process (all workers in multi-process mode)."""
    engine: AsyncEngine | None = getattr(app_state, "engine", None)
    if engine is not None:
        pool: Any = engine.sync_engine.pool
        metrics.set_db_pool(int(pool.checkedout()), _pool_capacity(app_state.settings))
    gauges = await database_gauges(app_state.read_sessionmaker, app_state.settings)
    return metrics.render(accept, gauges)


def _pool_capacity(settings: Settings) -> int:
    # api.db.create_engine: pool_size plus as many overflow connections.
    return settings.db.pool_size * 2


def watch_pool(engine: AsyncEngine, settings: Settings) -> None:
    """Keep this worker's pool gauges current on every checkout and checkin."""
    from sqlalchemy import event

    pool: Any = engine.sync_engine.pool
    capacity = _pool_capacity(settings)

    def update(*_: object) -> None:
        metrics.set_db_pool(int(pool.checkedout()), capacity)

    event.listen(pool, "checkout", update)
    event.listen(pool, "checkin", update)
    update()
