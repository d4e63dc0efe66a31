"""GET /api/history/analytics and /breakdown: zero-filled buckets, per-currency totals."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from tests.fixtures.auth import MakeClient
from tests.history import factories as f

# Monday 2026-11-23 .. Sunday 2026-11-29 (UTC).
WEEK = {"start": "2026-11-23T00:00:00Z", "end": "2026-11-30T00:00:00Z"}


def at(day: int, hour: int = 12) -> datetime:
    return datetime(2026, 11, day, hour, tzinfo=UTC)


async def _analytics(client: httpx.AsyncClient, **params: Any) -> dict[str, Any]:
    response = await client.get("/api/history/analytics", params=params)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def _savings(series: dict[str, Any]) -> list[Decimal]:
    return [Decimal(b["estimated_monthly_savings"]) for b in series["buckets"]]


async def test_three_days_in_one_week_daily_and_weekly(
    session: AsyncSession, admin_client: httpx.AsyncClient
) -> None:
    a = await f.account(session)
    await f.history(session, a, purchased_at=at(23), savings="1.5", monthly="10", upfront="100")
    await f.history(session, a, purchased_at=at(25, 23), savings="2.25", monthly="20")
    await f.history(session, a, purchased_at=at(27, 0), savings="4", monthly="30")
    await f.history(session, a, purchased_at=at(30), savings="99")  # the next week
    await f.history(session, a, purchased_at=at(24), savings="50", status="simulated")
    await session.commit()

    daily = await _analytics(admin_client, interval="daily", **WEEK)
    assert daily["interval"] == "daily"
    [usd] = daily["series"]
    assert usd["currency"] == "USD"
    assert [b["bucket_start"][:10] for b in usd["buckets"]] == [
        f"2026-11-{d}" for d in range(23, 30)
    ]
    assert _savings(usd) == [Decimal(v) for v in ("1.5", "0", "2.25", "0", "4", "0", "0")]
    assert [b["purchase_count"] for b in usd["buckets"]] == [1, 0, 1, 0, 1, 0, 0]
    # committed spend: upfront + monthly x 12 x term(1 year)
    assert Decimal(usd["buckets"][0]["committed_spend"]) == Decimal(100 + 10 * 12)

    weekly = await _analytics(admin_client, interval="weekly", **WEEK)
    [usd_weekly] = weekly["series"]
    assert [b["bucket_start"][:10] for b in usd_weekly["buckets"]] == ["2026-11-23"]
    [week] = usd_weekly["buckets"]
    assert Decimal(week["estimated_monthly_savings"]) == Decimal("7.75")
    assert Decimal(week["monthly_cost"]) == Decimal(60)
    assert week["purchase_count"] == 3

    dry = await _analytics(admin_client, interval="weekly", status="simulated", **WEEK)
    assert _savings(dry["series"][0]) == [Decimal(50)]


async def test_two_currencies_are_never_summed(
    session: AsyncSession, admin_client: httpx.AsyncClient
) -> None:
    a = await f.account(session)
    await f.history(session, a, purchased_at=at(23), savings="10", currency="USD")
    await f.history(session, a, purchased_at=at(23), savings="7", currency="EUR")
    await f.history(session, a, purchased_at=at(24), savings="1", currency="EUR")
    await session.commit()

    body = await _analytics(admin_client, interval="weekly", **WEEK)
    by_currency = {s["currency"]: s for s in body["series"]}
    assert set(by_currency) == {"EUR", "USD"}
    assert _savings(by_currency["USD"]) == [Decimal(10)]
    assert _savings(by_currency["EUR"]) == [Decimal(8)]

    breakdown = (
        await admin_client.get("/api/history/breakdown", params={"dimension": "provider"})
    ).json()
    totals = {
        (i["key"], i["currency"]): Decimal(i["estimated_monthly_savings"])
        for i in breakdown["breakdown"]
    }
    assert totals == {("aws", "USD"): Decimal(10), ("aws", "EUR"): Decimal(8)}


async def test_monthly_buckets_and_default_range(
    session: AsyncSession, admin_client: httpx.AsyncClient
) -> None:
    a = await f.account(session)
    await f.history(session, a, purchased_at=datetime(2026, 9, 30, 23, 59, tzinfo=UTC), savings="3")
    await f.history(session, a, purchased_at=datetime(2026, 11, 1, tzinfo=UTC), savings="4")
    await session.commit()

    body = await _analytics(
        admin_client, interval="monthly", start="2026-09-15T00:00:00Z", end="2026-12-01T00:00:00Z"
    )
    [usd] = body["series"]
    assert [b["bucket_start"][:10] for b in usd["buckets"]] == [
        "2026-09-01",
        "2026-10-01",
        "2026-11-01",
    ]
    assert _savings(usd) == [Decimal(3), Decimal(0), Decimal(4)]

    defaulted = await _analytics(admin_client, interval="monthly")
    buckets = defaulted["series"][0]["buckets"]
    assert len(buckets) == 12  # the last twelve months up to now
    assert datetime.fromisoformat(buckets[-1]["bucket_start"]) <= datetime.now(UTC)
    assert datetime.fromisoformat(defaulted["end"]) <= datetime.now(UTC)
    bad = await admin_client.get("/api/history/analytics", params={"interval": "hourly"})
    assert bad.status_code == 400


async def test_breakdown_dimensions_and_scope(
    session: AsyncSession, admin_client: httpx.AsyncClient, make_client: MakeClient
) -> None:
    a, b = await f.account(session, "a"), await f.account(session, "b")
    await f.history(session, a, service="ec2", region="eu-west-1", savings="1")
    await f.history(session, a, service="rds", region="eu-west-1", savings="2")
    await f.history(session, b, service="rds", region="us-east-1", savings="4")
    await f.history(session, external_id="123412341234", account_name="gone", savings="8")
    await session.commit()

    async def totals(client: httpx.AsyncClient, dimension: str) -> dict[str | None, Decimal]:
        response = await client.get("/api/history/breakdown", params={"dimension": dimension})
        assert response.status_code == 200, response.text
        return {
            i["key"]: Decimal(i["estimated_monthly_savings"]) for i in response.json()["breakdown"]
        }

    assert await totals(admin_client, "service") == {"ec2": Decimal(9), "rds": Decimal(6)}
    assert await totals(admin_client, "region") == {
        "eu-west-1": Decimal(3),
        "us-east-1": Decimal(12),
    }
    assert await totals(admin_client, "account") == {
        str(a.id): Decimal(3),
        str(b.id): Decimal(4),
        None: Decimal(8),
    }
    by_account = (
        await admin_client.get("/api/history/breakdown", params={"dimension": "account"})
    ).json()["breakdown"]
    orphan = next(i for i in by_account if i["key"] is None)
    assert (orphan["account_name"], orphan["account_external_id"]) == ("gone", "123412341234")

    scoped = await make_client(permissions=[f.perm([a.id])])
    assert await totals(scoped, "account") == {str(a.id): Decimal(3)}
    assert await totals(scoped, "provider") == {"aws": Decimal(3)}


async def test_out_of_range_times_and_foreign_accounts_are_refused(
    session: AsyncSession, make_client: MakeClient, admin_client: httpx.AsyncClient
) -> None:
    a, b = await f.account(session), await f.account(session)
    await session.commit()
    for path in ("/api/history/analytics", "/api/dashboard/savings-over-time"):
        for params in ({"end": "0001-01-02T00:00:00Z"}, {"start": "9999-12-01T00:00:00Z"}):
            response = await admin_client.get(path, params=params)
            assert response.status_code == 400, (path, params, response.text)
    scoped = await make_client(permissions=[f.perm([a.id])])
    for path in ("/api/history/analytics", "/api/history/breakdown"):
        denied = await scoped.get(path, params={"account_ids": str(b.id)})
        assert denied.status_code == 403, path
