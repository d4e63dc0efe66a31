"""GET /api/dashboard/upcoming and /savings-over-time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from tests.fixtures.auth import MakeClient
from tests.history import factories as f


async def _get(client: httpx.AsyncClient, path: str, **params: Any) -> dict[str, Any]:
    response = await client.get(path, params=params)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def test_expiring_in_30_days_is_listed_200_is_not(
    session: AsyncSession, admin_client: httpx.AsyncClient, make_client: MakeClient
) -> None:
    a, b = await f.account(session, "a"), await f.account(session, "b")
    soon = await f.commitment(session, a, ends_in_days=30)
    await f.commitment(session, a, ends_in_days=200)
    await f.commitment(session, a, ends_in_days=20, state="expired")
    await f.commitment(session, a, ends_in_days=None)
    other = await f.commitment(session, b, ends_in_days=10)
    await session.commit()

    body = await _get(admin_client, "/api/dashboard/upcoming")
    assert body["days"] == 90
    assert [c["id"] for c in body["expiring_commitments"]] == [str(other.id), str(soon.id)]
    listed = body["expiring_commitments"][1]
    assert listed["account_name"] == "a"
    assert listed["days_until_expiry"] in {29, 30}

    only_a = await _get(admin_client, "/api/dashboard/upcoming", account_ids=str(a.id))
    assert [c["id"] for c in only_a["expiring_commitments"]] == [str(soon.id)]
    wider = await _get(admin_client, "/api/dashboard/upcoming", account_ids=str(a.id), days=365)
    assert len(wider["expiring_commitments"]) == 2

    scoped = await make_client(permissions=[f.perm([b.id])])
    mine = await _get(scoped, "/api/dashboard/upcoming")
    assert [c["id"] for c in mine["expiring_commitments"]] == [str(other.id)]


async def test_next_scheduled_plan_runs_come_from_the_cron(
    session: AsyncSession, admin_client: httpx.AsyncClient, make_client: MakeClient
) -> None:
    a, b = await f.account(session, "a"), await f.account(session, "b")
    # Two hours ahead (at least 61 minutes away), so the hourly plan is always the sooner.
    nightly_hour = (datetime.now(UTC).hour + 2) % 24
    nightly = await f.plan(
        session, name="nightly", schedule=f"0 {nightly_hour} * * *", accounts=[a]
    )
    hourly = await f.plan(session, name="hourly", schedule="15 * * * *", accounts=[b])
    everyone = await f.plan(session, name="all aws", schedule="0 0 1 * *")  # all aws accounts
    await f.plan(session, name="manual", schedule=None)
    await f.plan(session, name="off", enabled=False)
    await session.commit()

    body = await _get(admin_client, "/api/dashboard/upcoming")
    runs = {run["plan_name"]: run for run in body["scheduled_runs"]}
    assert set(runs) == {"nightly", "hourly", "all aws"}
    now = datetime.now(UTC)
    nightly_at = datetime.fromisoformat(runs["nightly"]["next_run_at"])
    assert (nightly_at.hour, nightly_at.minute) == (nightly_hour, 0)
    assert now < nightly_at <= now + timedelta(days=1)
    hourly_at = datetime.fromisoformat(runs["hourly"]["next_run_at"])
    assert hourly_at.minute == 15 and now < hourly_at <= now + timedelta(hours=1)
    order = [datetime.fromisoformat(r["next_run_at"]) for r in body["scheduled_runs"]]
    assert order == sorted(order)  # soonest first
    names = [r["plan_name"] for r in body["scheduled_runs"]]
    assert names.index("hourly") < names.index("nightly")
    assert datetime.fromisoformat(runs["all aws"]["next_run_at"]).day == 1

    named_a = await _get(admin_client, "/api/dashboard/upcoming", account_ids=str(a.id))
    assert {r["plan_id"] for r in named_a["scheduled_runs"]} == {str(nightly.id), str(everyone.id)}
    # A user scoped to b sees b's plan, not a's, nor the one touching every account.
    scoped = await make_client(permissions=[f.perm([b.id])])
    mine = await _get(scoped, "/api/dashboard/upcoming")
    assert [r["plan_id"] for r in mine["scheduled_runs"]] == [str(hourly.id)]


async def test_savings_over_time_carries_each_account_forward(
    session: AsyncSession, admin_client: httpx.AsyncClient, make_client: MakeClient
) -> None:
    a, b = await f.account(session, "a"), await f.account(session, "b")

    def day(n: int, hour: int = 6) -> datetime:
        return datetime(2026, 11, n, hour, tzinfo=UTC)

    await f.snapshot(session, a, captured_at=day(2), potential="10", realized="1")
    await f.snapshot(session, a, captured_at=day(2, 18), potential="12", realized="1")
    await f.snapshot(session, b, captured_at=day(3), potential="100")
    await f.snapshot(session, a, captured_at=day(5), potential="8", realized="4")
    await f.snapshot(session, b, captured_at=day(3), potential="5", currency="EUR")
    await session.commit()

    body = await _get(
        admin_client,
        "/api/dashboard/savings-over-time",
        interval="daily",
        start="2026-11-02T00:00:00Z",
        end="2026-11-06T00:00:00Z",
    )
    series = {s["currency"]: s["points"] for s in body["series"]}
    assert set(series) == {"EUR", "USD"}
    usd = series["USD"]
    assert [p["bucket_start"][:10] for p in usd] == [f"2026-11-0{d}" for d in range(2, 6)]
    assert [Decimal(p["potential_monthly_savings"]) for p in usd] == [
        Decimal(12),
        Decimal(112),
        Decimal(112),
        Decimal(108),
    ]
    assert [Decimal(p["realized_monthly_savings"]) for p in usd] == [1, 1, 1, 4]
    assert [p["account_count"] for p in usd] == [1, 2, 2, 2]
    assert [Decimal(p["potential_monthly_savings"]) for p in series["EUR"]] == [0, 5, 5, 5]

    scoped = await make_client(permissions=[f.perm([a.id])])
    mine = await _get(
        scoped,
        "/api/dashboard/savings-over-time",
        interval="weekly",
        start="2026-11-02T00:00:00Z",
        end="2026-11-09T00:00:00Z",
    )
    [only_usd] = mine["series"]
    assert [Decimal(p["potential_monthly_savings"]) for p in only_usd["points"]] == [Decimal(8)]


async def test_a_plan_reaching_beyond_the_callers_scope_is_not_shown(
    session: AsyncSession, make_client: MakeClient
) -> None:
    a, b = await f.account(session, "a"), await f.account(session, "b")
    only_a = await f.plan(session, name="only a", accounts=[a])
    await f.plan(session, name="a and b", accounts=[a, b])
    await f.plan(session, name="gcp", provider="gcp", schedule="0 1 * * *")  # touches no aws
    await session.commit()

    scoped = await make_client(permissions=[f.perm([a.id])])
    body = await _get(scoped, "/api/dashboard/upcoming")
    assert [r["plan_id"] for r in body["scheduled_runs"]] == [str(only_a.id)]
    both = await make_client(permissions=[f.perm([a.id, b.id])])
    names = {
        r["plan_name"] for r in (await _get(both, "/api/dashboard/upcoming"))["scheduled_runs"]
    }
    assert names == {"only a", "a and b"}
