"""GET /api/recommendations: filters, sorts, keyset cursors, account_ids and scoping."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from api.db import unit_of_work
from api.enums import Provider
from api.recommendations.repository import replace_account_recommendations
from tests.collection.conftest import create_accounts
from tests.collection.fakes import rec
from tests.fixtures.auth import MakeClient


async def seed(app: FastAPI, account: dict[str, Any], items: list[Any]) -> None:
    async with unit_of_work(app.state.sessionmaker) as session:
        await replace_account_recommendations(
            session,
            uuid.UUID(account["id"]),
            Provider(account["provider"]),
            None,
            items,
            datetime.now(UTC),
        )


@pytest.fixture
async def three(app: FastAPI, admin_client: httpx.AsyncClient) -> list[dict[str, Any]]:
    accounts = await create_accounts(admin_client, 3)
    await seed(
        app,
        accounts[0],
        [
            rec(savings="30", term=1),
            rec(savings="30", term=3),  # a tie on savings: id breaks it
            rec(service="rds", resource_type="db.r5.large", engine="postgres", savings="5"),
        ],
    )
    await seed(app, accounts[1], [rec(region="eu-west-1", savings="12.5", upfront="100")])
    await seed(app, accounts[2], [rec(savings="1", variant="Windows|default|standard")])
    return accounts


async def page_through(client: httpx.AsyncClient, query: str) -> list[dict[str, Any]]:
    seen: list[dict[str, Any]] = []
    cursor = None
    for _ in range(20):
        suffix = f"&cursor={cursor}" if cursor else ""
        response = await client.get(f"/api/recommendations?{query}{suffix}")
        assert response.status_code == 200, response.text
        body = response.json()
        seen.extend(body["recommendations"])
        cursor = body["next_cursor"]
        if cursor is None:
            return seen
    raise AssertionError("pagination did not end")


async def test_default_sort_and_shape(
    admin_client: httpx.AsyncClient, three: list[dict[str, Any]]
) -> None:
    body = (await admin_client.get("/api/recommendations")).json()
    items = body["recommendations"]
    assert body["next_cursor"] is None
    assert [Decimal(i["estimated_monthly_savings"]) for i in items] == [
        30,
        30,
        Decimal("12.5"),
        5,
        1,
    ]
    first = items[0]
    assert first["account_name"] == three[0]["name"]
    assert first["account_external_id"] == three[0]["external_id"]
    assert set(first) >= {
        "id",
        "cloud_account_id",
        "provider",
        "service",
        "region",
        "resource_type",
        "engine",
        "term",
        "payment",
        "variant",
        "count",
        "upfront_cost",
        "recurring_monthly_cost",
        "on_demand_monthly_cost",
        "estimated_monthly_savings",
        "savings_percent",
        "currency",
        "collected_at",
        "details",
    }
    assert isinstance(first["estimated_monthly_savings"], str)  # Decimal, never a float


@pytest.mark.parametrize(
    "sort",
    [
        "estimated_monthly_savings",
        "-estimated_monthly_savings",
        "savings_percent",
        "-savings_percent",
        "upfront_cost",
        "-upfront_cost",
        "collected_at",
        "-collected_at",
    ],
)
async def test_every_sort_pages_without_gaps_or_repeats(
    admin_client: httpx.AsyncClient, three: list[dict[str, Any]], sort: str
) -> None:
    everything = (await admin_client.get(f"/api/recommendations?sort={sort}")).json()
    paged = await page_through(admin_client, f"sort={sort}&limit=2")
    assert [i["id"] for i in paged] == [i["id"] for i in everything["recommendations"]]
    assert len(paged) == 5
    field = sort.removeprefix("-")
    values = [i[field] if field == "collected_at" else Decimal(i[field]) for i in paged]
    assert values == sorted(values, reverse=sort.startswith("-"))


async def test_filters(admin_client: httpx.AsyncClient, three: list[dict[str, Any]]) -> None:
    async def ids(query: str) -> list[str]:
        response = await admin_client.get(f"/api/recommendations?{query}")
        assert response.status_code == 200, response.text
        return [i["cloud_account_id"] for i in response.json()["recommendations"]]

    assert len(await ids("provider=aws")) == 5
    assert await ids("provider=gcp") == []
    assert await ids("service=rds") == [three[0]["id"]]
    assert await ids("region=eu-west-1") == [three[1]["id"]]
    assert len(await ids("min_savings=12.5")) == 3
    assert await ids("provider=&service=") == await ids("")  # empty = no filter


async def test_account_ids_filter_and_disabled_accounts(
    admin_client: httpx.AsyncClient, three: list[dict[str, Any]]
) -> None:
    a, b, c = (account["id"] for account in three)
    only = await admin_client.get(f"/api/recommendations?account_ids={b},{c}")
    assert {i["cloud_account_id"] for i in only.json()["recommendations"]} == {b, c}

    response = await admin_client.put(f"/api/accounts/{c}", json={"enabled": False, "name": "off"})
    assert response.status_code == 200, response.text
    everything = (await admin_client.get("/api/recommendations")).json()["recommendations"]
    assert {i["cloud_account_id"] for i in everything} == {a, b}
    named = await admin_client.get(f"/api/recommendations?account_ids={c}")
    assert named.json()["recommendations"] == []  # disabled: never shown, even when named
    fresh = (await admin_client.get("/api/recommendations/freshness")).json()["accounts"]
    assert c not in {f["cloud_account_id"] for f in fresh}


@pytest.mark.parametrize(
    "query",
    [
        "account_ids=not-a-uuid",
        "account_ids=" + ",".join(str(uuid.uuid4()) for _ in range(201)),
        "limit=501",
        "limit=0",
        "sort=name",
        "cursor=garbage",
        "min_savings=-1",
        # Past NUMERIC(18, 6): refused up front instead of overflowing in the database.
        "min_savings=2029003966423719",
        "min_savings=0.0000001",
    ],
)
async def test_bad_parameters_are_400(admin_client: httpx.AsyncClient, query: str) -> None:
    response = await admin_client.get(f"/api/recommendations?{query}")
    assert response.status_code == 400, response.text
    assert response.json()["code"] == "validation_error"


async def test_a_cursor_from_another_sort_is_400(
    admin_client: httpx.AsyncClient, three: list[dict[str, Any]]
) -> None:
    cursor = (await admin_client.get("/api/recommendations?limit=1")).json()["next_cursor"]
    response = await admin_client.get(f"/api/recommendations?sort=upfront_cost&cursor={cursor}")
    assert response.status_code == 400


async def test_scoping_happens_in_the_query(
    make_client: MakeClient, three: list[dict[str, Any]]
) -> None:
    a, b, _ = (account["id"] for account in three)
    scoped = await make_client(
        permissions=[
            {"action": "view", "resource": "recommendations", "constraints": {"accounts": [a]}}
        ]
    )
    mine = (await scoped.get("/api/recommendations?limit=1")).json()
    assert [i["cloud_account_id"] for i in mine["recommendations"]] == [a]
    rest = await page_through(scoped, "limit=1")
    assert {i["cloud_account_id"] for i in rest} == {a} and len(rest) == 3
    assert (await scoped.get(f"/api/recommendations?account_ids={b}")).status_code == 403
    assert (await scoped.get(f"/api/recommendations?account_ids={a},{b}")).status_code == 403
    assert (await scoped.get(f"/api/recommendations/freshness?account_ids={b}")).status_code == 403
    fresh = (await scoped.get("/api/recommendations/freshness")).json()["accounts"]
    assert [f["cloud_account_id"] for f in fresh] == [a]
    nothing = await make_client(
        permissions=[
            {"action": "view", "resource": "recommendations", "constraints": {"accounts": []}}
        ]
    )
    assert (await nothing.get("/api/recommendations")).json()["recommendations"] == []
