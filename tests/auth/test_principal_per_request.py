"""The caller is read afresh on every request, in one statement on the request's one connection.

Read endpoints authenticate on their own read session (one pooled connection, one
transaction); nothing about the caller is cached in the process, so a change made by any
process or replica (revoked or expired token, disabled user, changed group) takes effect on
the very next request. Each change below is written straight to the database, as another
replica would, after a first request that would have warmed any cache.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import delete, event, select, update

from api.models import ApiKey, CloudAccount, Group, Session, User, UserGroup
from tests.fixtures.auth import create_user_with_token

READ_PATHS = ("/api/recommendations", "/api/dashboard/summary", "/api/history")
AUTH_TABLES = ("sessions", "api_keys", "user_groups")


@dataclass
class PoolWatch:
    """Pool checkouts, the most connections held at once, and the statements on auth tables —
    of this task only (httpx's ASGI transport runs the request in the caller's task; the
    app's background loops run in their own)."""

    task: asyncio.Task[Any] | None = field(default_factory=asyncio.current_task)
    checkouts: int = 0
    held: int = 0
    most_held: int = 0
    auth_statements: list[str] = field(default_factory=list)

    def mine(self) -> bool:
        return asyncio.current_task() is self.task

    def checkout(self, *_: Any) -> None:
        if self.mine():
            self.checkouts += 1
            self.held += 1
            self.most_held = max(self.most_held, self.held)

    def checkin(self, *_: Any) -> None:
        if self.mine():
            self.held -= 1

    def statement(self, _c: Any, _cur: Any, statement: str, *_: Any) -> None:
        if self.mine() and any(f" {table} " in f" {statement} " for table in AUTH_TABLES):
            self.auth_statements.append(statement)


@contextmanager
def watch_pool(app: FastAPI) -> Iterator[PoolWatch]:
    engine = app.state.engine.sync_engine
    watch = PoolWatch()
    hooks = (
        ("checkout", watch.checkout),
        ("checkin", watch.checkin),
        ("before_cursor_execute", watch.statement),
    )
    for name, hook in hooks:
        event.listen(engine, name, hook)
    try:
        yield watch
    finally:
        for name, hook in hooks:
            event.remove(engine, name, hook)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def _account(app: FastAPI, name: str) -> uuid.UUID:
    async with app.state.sessionmaker() as db:
        account = CloudAccount(
            name=name, provider="aws", external_id=f"{uuid.uuid4().int % 10**12:012d}"
        )
        db.add(account)
        await db.commit()
        return account.id


async def _write(app: FastAPI, *statements: Any) -> None:
    """Change the database directly, as another process or replica would."""
    async with app.state.sessionmaker() as db:
        for statement in statements:
            await db.execute(statement)
        await db.commit()


@pytest.mark.parametrize("path", READ_PATHS)
async def test_a_read_request_holds_one_connection_and_authenticates_in_one_statement(
    app: FastAPI, client: httpx.AsyncClient, path: str
) -> None:
    _, token = await create_user_with_token(
        app,
        permissions=[
            {"action": "view", "resource": "recommendations"},
            {"action": "view", "resource": "history"},
        ],
    )
    assert (await client.get(path, headers=bearer(token))).status_code == 200
    with watch_pool(app) as watch:
        response = await client.get(path, headers=bearer(token))
    assert response.status_code == 200, response.text
    assert watch.checkouts == 1
    assert watch.most_held == 1
    assert len(watch.auth_statements) == 1, watch.auth_statements


Change = Callable[[FastAPI, uuid.UUID, str], Awaitable[None]]


async def _revoke(app: FastAPI, user_id: uuid.UUID, _: str) -> None:
    await _write(
        app, update(Session).where(Session.user_id == user_id).values(revoked_at=datetime.now(UTC))
    )


async def _expire(app: FastAPI, user_id: uuid.UUID, _: str) -> None:
    past = datetime.now(UTC) - timedelta(seconds=1)
    await _write(app, update(Session).where(Session.user_id == user_id).values(expires_at=past))


async def _disable(app: FastAPI, user_id: uuid.UUID, _: str) -> None:
    await _write(app, update(User).where(User.id == user_id).values(is_active=False))


@pytest.mark.parametrize(
    "change", [_revoke, _expire, _disable], ids=["revoked", "expired", "disabled"]
)
@pytest.mark.parametrize("path", [*READ_PATHS, "/api/auth/me"])
async def test_a_dead_login_is_refused_on_the_very_next_request(
    app: FastAPI, client: httpx.AsyncClient, change: Change, path: str
) -> None:
    user_id, token = await create_user_with_token(
        app,
        permissions=[
            {"action": "view", "resource": "recommendations"},
            {"action": "view", "resource": "history"},
        ],
    )
    assert (await client.get(path, headers=bearer(token))).status_code == 200
    await change(app, user_id, token)
    refused = await client.get(path, headers=bearer(token))
    assert refused.status_code == 401
    assert refused.json()["code"] == "unauthorized"


async def _group_of(app: FastAPI, user_id: uuid.UUID) -> uuid.UUID:
    async with app.state.sessionmaker() as db:
        group_id: uuid.UUID = (
            await db.execute(select(UserGroup.group_id).where(UserGroup.user_id == user_id))
        ).scalar_one()
        return group_id


@pytest.mark.parametrize("how", ["permission removed", "left the group", "group deleted"])
async def test_a_lost_permission_is_refused_on_the_very_next_request(
    app: FastAPI, client: httpx.AsyncClient, how: str
) -> None:
    user_id, token = await create_user_with_token(
        app, permissions=[{"action": "view", "resource": "recommendations"}]
    )
    group_id = await _group_of(app, user_id)
    assert (await client.get("/api/recommendations", headers=bearer(token))).status_code == 200
    if how == "permission removed":
        keep = [{"action": "view", "resource": "history"}]
        await _write(app, update(Group).where(Group.id == group_id).values(permissions=keep))
    elif how == "left the group":
        await _write(app, delete(UserGroup).where(UserGroup.user_id == user_id))
    else:
        await _write(app, delete(Group).where(Group.id == group_id))
    refused = await client.get("/api/recommendations", headers=bearer(token))
    assert refused.status_code == 403
    assert refused.json()["code"] == "permission_denied"


async def test_a_narrowed_scope_applies_on_the_very_next_request(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    first, second = await _account(app, "first"), await _account(app, "second")
    user_id, token = await create_user_with_token(
        app,
        permissions=[
            {
                "action": "view",
                "resource": "history",
                "constraints": {"accounts": [str(first), str(second)]},
            }
        ],
    )
    summary = "/api/dashboard/summary"
    both = await client.get(
        summary, params={"account_ids": f"{first},{second}"}, headers=bearer(token)
    )
    assert both.status_code == 200, both.text
    narrowed = [
        {"action": "view", "resource": "history", "constraints": {"accounts": [str(second)]}}
    ]
    group_id = await _group_of(app, user_id)
    await _write(app, update(Group).where(Group.id == group_id).values(permissions=narrowed))
    named = await client.get(summary, params={"account_ids": str(first)}, headers=bearer(token))
    assert named.status_code == 403
    assert named.json()["code"] == "account_out_of_scope"
    assert (
        await client.get(summary, params={"account_ids": str(second)}, headers=bearer(token))
    ).status_code == 200


async def test_an_api_key_is_touched_after_the_read_connection_is_back(
    app: FastAPI, client: httpx.AsyncClient, admin_client: httpx.AsyncClient
) -> None:
    created = await admin_client.post("/api/api-keys", json={"name": "script"})
    assert created.status_code == 201, created.text
    key, key_id = created.json()["key"], uuid.UUID(created.json()["id"])

    async def last_used() -> datetime | None:
        async with app.state.sessionmaker() as db:
            used: datetime | None = (
                await db.execute(select(ApiKey.last_used_at).where(ApiKey.id == key_id))
            ).scalar_one()
            return used

    assert await last_used() is None
    with watch_pool(app) as watch:
        response = await client.get("/api/recommendations", headers={"X-API-Key": key})
    assert response.status_code == 200, response.text
    first_use = await last_used()
    assert first_use is not None  # written before the response was sent
    assert watch.most_held == 1  # the write waited for the read connection to be released
    assert watch.checkouts == 2

    with watch_pool(app) as again:
        assert (
            await client.get("/api/recommendations", headers={"X-API-Key": key})
        ).status_code == 200
    assert again.checkouts == 1  # used again within a minute: nothing written
    assert await last_used() == first_use

    await _write(
        app, update(ApiKey).where(ApiKey.id == key_id).values(revoked_at=datetime.now(UTC))
    )
    assert (await client.get("/api/recommendations", headers={"X-API-Key": key})).status_code == 401
