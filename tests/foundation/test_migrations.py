"""Every migration downgrades cleanly: upgrade -> downgrade base -> upgrade gives the same schema."""

from __future__ import annotations

import asyncio

import asyncpg

from api.migrate import downgrade, upgrade
from api.models import Base
from tests.fixtures.database import PgServer, create_test_database, drop_test_database

SCHEMA_QUERIES = {
    "columns": """SELECT table_name, column_name, data_type, is_nullable, column_default
                  FROM information_schema.columns WHERE table_schema = 'public' ORDER BY 1, 2""",
    "constraints": """SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid)
                      FROM pg_constraint WHERE connamespace = 'public'::regnamespace ORDER BY 1, 2""",
    "indexes": "SELECT tablename, indexname, indexdef FROM pg_indexes WHERE schemaname = 'public' ORDER BY 1, 2",
    "triggers": """SELECT event_object_table, trigger_name FROM information_schema.triggers ORDER BY 1, 2""",
}


async def snapshot(dsn: str) -> dict[str, list[tuple[object, ...]]]:
    conn = await asyncpg.connect(dsn)
    try:
        return {name: [tuple(r) for r in await conn.fetch(q)] for name, q in SCHEMA_QUERIES.items()}
    finally:
        await conn.close()


async def test_upgrade_downgrade_upgrade_round_trip(pg_server: PgServer) -> None:
    name = await create_test_database(pg_server, "template0")
    url, dsn = pg_server.url_for(name), pg_server.dsn_for(name)
    try:
        await asyncio.to_thread(upgrade, url)
        first = await snapshot(dsn)
        await asyncio.to_thread(downgrade, url, "base")
        empty = await snapshot(dsn)
        assert [c for c in empty["columns"] if c[0] != "alembic_version"] == []
        assert empty["triggers"] == []
        await asyncio.to_thread(upgrade, url)
        assert await snapshot(dsn) == first
    finally:
        await drop_test_database(pg_server, name)


async def test_migrations_match_the_models(pg_server: PgServer) -> None:
    """The models and the migrations describe the same tables (no autogenerate drift)."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext
    from sqlalchemy.ext.asyncio import create_async_engine

    engine = create_async_engine(pg_server.url_for("cudly"))
    try:
        async with engine.connect() as conn:
            diff = await conn.run_sync(
                lambda sync: compare_metadata(
                    MigrationContext.configure(sync, opts={"compare_type": True}), Base.metadata
                )
            )
    finally:
        await engine.dispose()
    assert diff == []


async def test_schema_rules(database_url: str, pg_server: PgServer) -> None:
    """Seeded defaults, updated_at trigger, ON DELETE rules of SPEC §3."""
    dsn = database_url.replace("postgresql+asyncpg://", "postgresql://")
    conn = await asyncpg.connect(dsn)
    try:
        seeded = await conn.fetch(
            "SELECT provider, service, term, payment, coverage, enabled FROM service_configs"
        )
        assert len(seeded) == 13
        assert {(r["term"], r["payment"], int(r["coverage"]), r["enabled"]) for r in seeded} == {
            (3, "no-upfront", 80, True)
        }

        account = await conn.fetchval(
            "INSERT INTO cloud_accounts (name, provider, external_id) VALUES ('a', 'aws', '123456789012') RETURNING id"
        )
        before = await conn.fetchval("SELECT updated_at FROM cloud_accounts WHERE id = $1", account)
        await conn.execute("UPDATE cloud_accounts SET name = 'b' WHERE id = $1", account)
        after = await conn.fetchval("SELECT updated_at FROM cloud_accounts WHERE id = $1", account)
        assert after > before

        await conn.execute(
            "INSERT INTO account_credentials (cloud_account_id, credential_type, key_id, blob) VALUES ($1, 'aws_access_keys', 'k', 'x')",
            account,
        )
        await conn.execute(
            "INSERT INTO account_service_overrides (cloud_account_id, provider, service, term) VALUES ($1, 'aws', 'ec2', 1)",
            account,
        )
        group = await conn.fetchval("SELECT gen_random_uuid()")
        execution = await conn.fetchval(
            """INSERT INTO purchase_executions (execution_group_id, cloud_account_id, account_external_id, account_name, provider)
               VALUES ($1, $2, '123456789012', 'b', 'aws') RETURNING id""",
            group,
            account,
        )
        history = await conn.fetchval(
            """INSERT INTO purchase_history (cloud_account_id, account_external_id, account_name, provider, service, count, status, purchased_at)
               VALUES ($1, '123456789012', 'b', 'aws', 'ec2', 1, 'purchased', now()) RETURNING id""",
            account,
        )
        await conn.execute("DELETE FROM cloud_accounts WHERE id = $1", account)
        assert await conn.fetchval("SELECT count(*) FROM account_credentials") == 0
        assert await conn.fetchval("SELECT count(*) FROM account_service_overrides") == 0
        kept = await conn.fetchrow(
            "SELECT cloud_account_id, account_external_id FROM purchase_executions WHERE id = $1",
            execution,
        )
        assert kept["cloud_account_id"] is None and kept["account_external_id"] == "123456789012"
        kept = await conn.fetchrow(
            "SELECT cloud_account_id, account_name FROM purchase_history WHERE id = $1", history
        )
        assert kept["cloud_account_id"] is None and kept["account_name"] == "b"

        with_bad_value = (
            "INSERT INTO cloud_accounts (name, provider, external_id) VALUES ('x', 'oracle', '1')"
        )
        try:
            await conn.execute(with_bad_value)
            raise AssertionError("CHECK constraint did not reject an unknown provider")
        except asyncpg.CheckViolationError:
            pass
    finally:
        await conn.close()


async def test_only_one_collection_run_can_be_running(database_url: str) -> None:
    conn = await asyncpg.connect(database_url.replace("postgresql+asyncpg://", "postgresql://"))
    try:
        await conn.execute("INSERT INTO collection_runs (trigger) VALUES ('manual')")
        try:
            await conn.execute("INSERT INTO collection_runs (trigger) VALUES ('scheduled')")
            raise AssertionError("two running runs were accepted")
        except asyncpg.UniqueViolationError:
            pass
    finally:
        await conn.close()
