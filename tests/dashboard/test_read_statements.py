"""The read pages each run one statement besides the caller's lookup (docs/benchmarks.md).

The dashboard summary's four aggregates (potential, committed, realised, the accounts) come
back in one statement, and so does each list page, whatever the filters and the caller's
scope; a statement built once per filter shape still binds this request's values (a second
request with other accounts gets other rows).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncSession

from api.models import CloudAccount
from tests.fixtures.auth import MakeClient
from tests.history import factories as f

PAGES = ("/api/dashboard/summary", "/api/history", "/api/recommendations")
VIEW = [
    {"action": "view", "resource": "recommendations"},
    {"action": "view", "resource": "history"},
]


@contextmanager
def statements(app: FastAPI) -> Iterator[list[str]]:
    """The statements this task sends (httpx's ASGI transport runs the request in it)."""
    task = asyncio.current_task()
    sent: list[str] = []

    def record(_c: Any, _cur: Any, statement: str, *_: Any) -> None:
        if asyncio.current_task() is task:
            sent.append(statement)

    engine = app.state.engine.sync_engine
    event.listen(engine, "before_cursor_execute", record)
    try:
        yield sent
    finally:
        event.remove(engine, "before_cursor_execute", record)


@pytest.fixture
async def two(session: AsyncSession) -> tuple[CloudAccount, CloudAccount]:
    a = await f.account(session, "A")
    b = await f.account(session, "B")
    for account, savings in ((a, "1"), (b, "10")):
        await f.recommendation(session, account, savings=savings)
        await f.commitment(session, account, monthly=savings, upfront="0")
        await f.history(session, account, savings=savings)
    await session.commit()
    return a, b


@pytest.mark.parametrize("path", PAGES)
@pytest.mark.parametrize("scoped", [False, True], ids=["unrestricted", "scoped"])
async def test_a_read_page_is_one_statement_besides_the_lookup(
    app: FastAPI,
    make_client: MakeClient,
    two: tuple[CloudAccount, CloudAccount],
    path: str,
    scoped: bool,
) -> None:
    a, b = two
    constraints = {"constraints": {"accounts": [str(a.id), str(b.id)]}} if scoped else {}
    client: httpx.AsyncClient = await make_client(
        permissions=[{**permission, **constraints} for permission in VIEW]
    )
    seen: dict[str, set[str]] = {}
    for account in (a, b):
        with statements(app) as sent:
            response = await client.get(path, params={"account_ids": str(account.id)})
        assert response.status_code == 200, response.text
        assert len(sent) == 2, sent  # the caller's lookup, then the page
        body = response.json()
        rows = body.get("by_account") or body.get("history") or body.get("recommendations")
        seen[str(account.id)] = {row["cloud_account_id"] for row in rows}
    # The same statement shape twice, each request with its own values.
    assert seen == {str(a.id): {str(a.id)}, str(b.id): {str(b.id)}}
