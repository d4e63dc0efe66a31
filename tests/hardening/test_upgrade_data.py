"""Upgrade safety with data: every table holds rows, then the migrations step down one
revision at a time to 0001 and back up to head; at every step each table that exists has
exactly the rows it had (tests/foundation/test_migrations.py checks the schema round trip)."""

from __future__ import annotations

import asyncio

import asyncpg
import httpx

from api.migrate import downgrade, upgrade
from tests.hardening.test_isolation import World, world

__all__ = ["world"]

REVISIONS = ["0009", "0008", "0007", "0006", "0005", "0004", "0003", "0002", "0001"]


async def row_counts(dsn: str) -> dict[str, int]:
    conn = await asyncpg.connect(dsn)
    try:
        tables = [
            r["tablename"]
            for r in await conn.fetch(
                "SELECT tablename FROM pg_tables WHERE schemaname = 'public' "
                "AND tablename <> 'alembic_version' ORDER BY 1"
            )
        ]
        return {t: int(await conn.fetchval(f'SELECT count(*) FROM "{t}"')) for t in tables}
    finally:
        await conn.close()


async def seed_the_rest(w: World, client: httpx.AsyncClient) -> None:
    """What the isolation world lacks: credentials, overrides, users, groups, keys, sessions,
    rate-limit windows (a failed login) and audit rows (written by these calls)."""
    admin = w.admin
    stored = await admin.post(
        f"/api/accounts/{w.a}/credentials",
        json={
            "type": "aws_access_keys",
            "access_key_id": "AKIAIOSFODNN7EXAMPLE",
            "secret_access_key": "s" * 40,
        },
    )
    assert stored.status_code == 204, stored.text
    override = await admin.put(f"/api/accounts/{w.a}/service-overrides/aws/ec2", json={"term": 1})
    assert override.status_code == 200, override.text
    group = await admin.post(
        "/api/groups",
        json={"name": "viewers", "permissions": [{"action": "view", "resource": "accounts"}]},
    )
    assert group.status_code == 201, group.text
    user = await admin.post(
        "/api/users",
        json={
            "email": "seed@example.com",
            "password": "Seed-password-123456",
            "role": "user",
            "group_ids": [group.json()["id"]],
        },
    )
    assert user.status_code == 201, user.text
    key = await admin.post("/api/api-keys", json={"name": "seed"})
    assert key.status_code == 201, key.text
    failed = await client.post(
        "/api/auth/login", json={"email": "seed@example.com", "password": "wrong-password-1"}
    )
    assert failed.status_code == 401, failed.text


async def test_every_table_keeps_its_rows_down_to_0001_and_back(
    world: World, client: httpx.AsyncClient, database_url: str
) -> None:
    await seed_the_rest(world, client)
    dsn = database_url.replace("postgresql+asyncpg://", "postgresql://")
    seeded = await row_counts(dsn)
    empty = sorted(t for t, n in seeded.items() if n == 0)
    assert empty == [], f"seed these tables too: {empty}"

    for revision in REVISIONS[1:]:
        await asyncio.to_thread(downgrade, database_url, revision)
        now = await row_counts(dsn)
        changed = {t: (seeded[t], n) for t, n in now.items() if seeded.get(t) != n}
        assert changed == {}, f"downgrade to {revision} changed row counts: {changed}"
    at_first = await row_counts(dsn)
    for revision in reversed(REVISIONS[:-1]):
        await asyncio.to_thread(upgrade, database_url, revision)
        now = await row_counts(dsn)
        changed = {
            t: (at_first[t], n) for t, n in now.items() if t in at_first and at_first[t] != n
        }
        assert changed == {}, f"upgrade to {revision} changed row counts: {changed}"
    assert set(await row_counts(dsn)) == set(seeded)
