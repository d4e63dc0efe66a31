"""GET /api/history: filters, keyset pages, NULL-account rows, scoping, CSV (SPEC §7)."""

from __future__ import annotations

import csv
import io
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncSession

from api.models import CloudAccount
from tests.fixtures.auth import MakeClient
from tests.history import factories as f


async def _ids(client: httpx.AsyncClient, **params: Any) -> list[str]:
    response = await client.get("/api/history", params=params)
    assert response.status_code == 200, response.text
    return [row["id"] for row in response.json()["history"]]


async def test_null_account_rows_only_without_an_account_filter(
    session: AsyncSession, admin_client: httpx.AsyncClient
) -> None:
    a = await f.account(session, "alpha")
    mine = await f.history(session, a)
    legacy = await f.history(session, external_id="111122223333", account_name="before cudly")
    gone = await f.account(session, "deleted one")
    gone_external_id = gone.external_id
    orphan = await f.history(session, gone)
    await session.execute(delete(CloudAccount).where(CloudAccount.id == gone.id))
    await session.commit()

    response = await admin_client.get("/api/history")
    assert response.status_code == 200, response.text
    rows = {row["id"]: row for row in response.json()["history"]}
    assert set(rows) == {str(mine.id), str(legacy.id), str(orphan.id)}
    assert rows[str(legacy.id)]["cloud_account_id"] is None
    assert rows[str(legacy.id)]["account_external_id"] == "111122223333"
    assert rows[str(legacy.id)]["account_name"] == "before cudly"
    assert rows[str(orphan.id)]["cloud_account_id"] is None
    assert rows[str(orphan.id)]["account_external_id"] == gone_external_id
    assert rows[str(orphan.id)]["account_name"] == "deleted one"
    assert rows[str(mine.id)]["cloud_account_id"] == str(a.id)

    assert await _ids(admin_client, account_ids=str(a.id)) == [str(mine.id)]


async def test_scoped_user_sees_only_their_accounts_and_no_orphans(
    session: AsyncSession, make_client: MakeClient
) -> None:
    a, b = await f.account(session, "a"), await f.account(session, "b")
    mine = await f.history(session, a)
    await f.history(session, b)
    await f.history(session)  # no account
    await session.commit()
    client = await make_client(permissions=[f.perm([a.id])])

    assert await _ids(client) == [str(mine.id)]
    assert await _ids(client, account_ids=str(a.id)) == [str(mine.id)]
    denied = await client.get("/api/history", params={"account_ids": f"{a.id},{b.id}"})
    assert denied.status_code == 403
    assert denied.json()["code"] == "account_out_of_scope"


async def test_filters(session: AsyncSession, admin_client: httpx.AsyncClient) -> None:
    aws, gcp = await f.account(session), await f.account(session, provider="gcp")
    plan = await f.plan(session)
    now = datetime.now(UTC)
    old = await f.history(session, aws, purchased_at=now - timedelta(days=40))
    planned = await f.history(session, aws, plan_id=plan.id, purchased_at=now - timedelta(days=2))
    on_gcp = await f.history(session, gcp, service="compute", purchased_at=now - timedelta(days=1))
    dry = await f.history(session, aws, status="simulated", purchased_at=now - timedelta(hours=1))
    await session.commit()

    assert await _ids(admin_client) == [str(dry.id), str(on_gcp.id), str(planned.id), str(old.id)]
    assert await _ids(admin_client, provider="gcp") == [str(on_gcp.id)]
    assert await _ids(admin_client, plan_id=str(plan.id)) == [str(planned.id)]
    assert await _ids(admin_client, status="simulated") == [str(dry.id)]
    since = (now - timedelta(days=30)).isoformat()
    until = (now - timedelta(minutes=90)).isoformat()
    assert await _ids(admin_client, start=since, end=until) == [str(on_gcp.id), str(planned.id)]


async def test_keyset_pages_cover_every_row_once(
    session: AsyncSession, admin_client: httpx.AsyncClient
) -> None:
    a = await f.account(session)
    same_time = datetime.now(UTC) - timedelta(days=3)
    created = [await f.history(session, a, purchased_at=same_time) for _ in range(3)]
    created += [
        await f.history(session, a, purchased_at=same_time - timedelta(hours=i)) for i in (1, 2)
    ]
    await session.commit()

    seen: list[str] = []
    cursor: str | None = None
    pages = 0
    while True:
        params: dict[str, Any] = {"limit": 2}
        if cursor:
            params["cursor"] = cursor
        body = (await admin_client.get("/api/history", params=params)).json()
        seen += [row["id"] for row in body["history"]]
        pages += 1
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert pages == 3
    assert sorted(seen) == sorted(str(row.id) for row in created)
    assert len(seen) == len(set(seen))


async def test_bad_parameters_are_400(admin_client: httpx.AsyncClient) -> None:
    for params in (
        {"account_ids": "not-a-uuid"},
        {"account_ids": ",".join(str(uuid.uuid4()) for _ in range(201))},
        {"cursor": "garbage"},
        {"start": "2026-02-01T00:00:00Z", "end": "2026-01-01T00:00:00Z"},
        {"start": "1700000000"},
        {"limit": "0"},
    ):
        response = await admin_client.get("/api/history", params=params)
        assert response.status_code == 400, (params, response.text)
        assert response.json()["code"] == "validation_error"


async def test_csv_parses_and_matches_the_json_rows(
    session: AsyncSession, admin_client: httpx.AsyncClient
) -> None:
    a = await f.account(session, "=HYPERLINK(evil)")
    await f.history(session, a, upfront="1234.5", monthly="-3.25")
    await f.history(session, currency="EUR")
    await session.commit()

    as_json = (await admin_client.get("/api/history")).json()["history"]
    for response in (
        await admin_client.get("/api/history", params={"format": "csv"}),
        await admin_client.get("/api/history", headers={"Accept": "text/csv"}),
    ):
        assert response.status_code == 200, response.text
        assert response.headers["content-type"].startswith("text/csv")
        rows = list(csv.DictReader(io.StringIO(response.text)))
        assert len(rows) == len(as_json) == 2
        for csv_row, json_row in zip(rows, as_json, strict=True):
            assert list(csv_row) == list(json_row)
            for field, value in json_row.items():
                if field == "account_name" and value.startswith("="):
                    assert csv_row[field] == "'" + value  # never a live spreadsheet formula
                else:
                    assert csv_row[field] == ("" if value is None else str(value)), field


async def test_csv_exports_every_row_unless_a_limit_is_given(
    session: AsyncSession, admin_client: httpx.AsyncClient
) -> None:
    a = await f.account(session)
    for _ in range(60):
        await f.history(session, a)
    await session.commit()

    assert len((await admin_client.get("/api/history")).json()["history"]) == 50
    everything = await admin_client.get("/api/history", params={"format": "csv"})
    assert len(list(csv.DictReader(io.StringIO(everything.text)))) == 60
    assert "x-next-cursor" not in everything.headers

    page = await admin_client.get("/api/history", params={"format": "csv", "limit": 40})
    assert len(list(csv.DictReader(io.StringIO(page.text)))) == 40
    rest = await admin_client.get(
        "/api/history", params={"format": "json", "cursor": page.headers["x-next-cursor"]}
    )
    assert len(rest.json()["history"]) == 20
