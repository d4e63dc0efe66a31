"""GET /api/dashboard/summary aggregates exactly the filtered accounts (SPEC §7)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from api.models import CloudAccount
from tests.fixtures.auth import MakeClient
from tests.history import factories as f

Accounts = tuple[CloudAccount, CloudAccount, CloudAccount]


@pytest.fixture
async def abc(session: AsyncSession) -> Accounts:
    """Three accounts: each with recommendations, commitments and purchases of its own size."""
    a = await f.account(session, "A")
    b = await f.account(session, "B")
    c = await f.account(session, "C", provider="gcp")
    for row, unit in ((a, 1), (b, 10), (c, 100)):
        await f.recommendation(session, row, savings=str(unit))
        await f.recommendation(session, row, savings=str(2 * unit))
        # committed monthly: 5 x unit recurring + (12 x unit upfront / 12 months, 1-year term)
        await f.commitment(session, row, monthly=str(5 * unit), upfront=str(12 * unit))
        await f.commitment(session, row, state="expired", monthly="1000")
        await f.history(session, row, savings=str(7 * unit))
        await f.history(session, row, savings="1000", status="simulated")
        await f.history(
            session, row, savings="1000", expires_at=datetime.now(UTC) - timedelta(days=1)
        )
    await session.commit()
    return a, b, c


def money(body: dict[str, Any], figure: str) -> dict[str, Decimal]:
    return {currency: Decimal(value) for currency, value in body[figure].items()}


async def _summary(client: httpx.AsyncClient, **params: Any) -> dict[str, Any]:
    response = await client.get("/api/dashboard/summary", params=params)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def test_summary_for_a_and_b_excludes_c(
    admin_client: httpx.AsyncClient, abc: Accounts
) -> None:
    a, b, _ = abc
    body = await _summary(admin_client, account_ids=f"{a.id},{b.id}")

    assert money(body, "potential_monthly_savings") == {"USD": Decimal(33)}
    assert money(body, "committed_monthly") == {"USD": Decimal(66)}
    assert money(body, "realized_monthly_savings") == {"USD": Decimal(77)}
    assert body["recommendation_count"] == 4
    assert body["active_commitment_count"] == 2
    assert [row["cloud_account_id"] for row in body["by_account"]] == [str(a.id), str(b.id)]
    assert [row["account_name"] for row in body["by_account"]] == ["A", "B"]
    by_a = body["by_account"][0]
    assert money(by_a, "potential_monthly_savings") == {"USD": Decimal(3)}
    assert money(by_a, "committed_monthly") == {"USD": Decimal(6)}
    assert set(body["by_provider"]) == {"aws"}

    everything = await _summary(admin_client)
    assert money(everything, "potential_monthly_savings") == {"USD": Decimal(333)}
    assert set(everything["by_provider"]) == {"aws", "gcp"}
    assert money(everything["by_provider"]["gcp"], "committed_monthly") == {"USD": Decimal(600)}
    assert len(everything["by_account"]) == 3

    only_gcp = await _summary(admin_client, provider="gcp")
    assert [row["account_name"] for row in only_gcp["by_account"]] == ["C"]


async def test_a_user_scoped_to_a_sees_only_a(make_client: MakeClient, abc: Accounts) -> None:
    a, b, _ = abc
    client = await make_client(permissions=[f.perm([a.id])])

    body = await _summary(client)
    assert money(body, "potential_monthly_savings") == {"USD": Decimal(3)}
    assert money(body, "realized_monthly_savings") == {"USD": Decimal(7)}
    assert [row["cloud_account_id"] for row in body["by_account"]] == [str(a.id)]
    assert await _summary(client, account_ids=str(a.id)) == body

    denied = await client.get("/api/dashboard/summary", params={"account_ids": f"{a.id},{b.id}"})
    assert denied.status_code == 403
    assert denied.json()["code"] == "account_out_of_scope"
    nothing = await make_client(permissions=[f.perm([])])
    empty = await _summary(nothing)
    assert empty["by_account"] == [] and empty["potential_monthly_savings"] == {}


async def test_currencies_are_never_summed_and_disabled_accounts_hide_recommendations(
    session: AsyncSession, admin_client: httpx.AsyncClient
) -> None:
    a = await f.account(session)
    off = await f.account(session, enabled=False)
    await f.recommendation(session, a, savings="10", currency="USD")
    await f.recommendation(session, a, savings="4", currency="EUR")
    await f.recommendation(session, off, savings="1000")
    await f.commitment(session, off, monthly="3", term=3, upfront="36")
    await f.history(session, savings="2", currency="EUR")  # an account no longer registered
    await session.commit()

    body = await _summary(admin_client)
    assert money(body, "potential_monthly_savings") == {"EUR": Decimal(4), "USD": Decimal(10)}
    assert money(body, "committed_monthly") == {"USD": Decimal(4)}
    assert money(body, "realized_monthly_savings") == {"EUR": Decimal(2)}
    assert body["currencies"] == ["EUR", "USD"]
    assert body["recommendation_count"] == 2
    disabled = next(row for row in body["by_account"] if row["cloud_account_id"] == str(off.id))
    assert disabled["enabled"] is False and disabled["potential_monthly_savings"] == {}

    named = await _summary(admin_client, account_ids=str(a.id))
    assert named["realized_monthly_savings"] == {}  # no-account rows only when none are named
