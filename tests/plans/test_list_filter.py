"""``GET /api/plans?account_ids=``: the plans targeting any named account (SPEC §2, §6, §9).

An "all accounts" plan (empty target set) targets every account of its provider, so it
matches when a named account belongs to that provider."""

from __future__ import annotations

import uuid
from typing import Any

import httpx

from tests.accounts.conftest import CreateAccount, aws_body, azure_body, create_account
from tests.fixtures.auth import MakeClient
from tests.plans.test_plans import make_plan

__all__ = ["create_account"]


async def _names(client: httpx.AsyncClient, **params: str) -> list[str]:
    response = await client.get("/api/plans", params=params)
    assert response.status_code == 200, response.text
    return [plan["name"] for plan in response.json()["plans"]]


async def _target(client: httpx.AsyncClient, plan: dict[str, Any], *ids: str) -> None:
    url = f"/api/plans/{plan['id']}/accounts"
    response = await client.put(url, json={"account_ids": list(ids)})
    assert response.status_code == 200, response.text


async def test_filter_matches_explicit_targets_and_all_account_plans(
    admin_client: httpx.AsyncClient, create_account: CreateAccount
) -> None:
    a1 = (await create_account(aws_body(name="aws one")))["id"]
    a2 = (await create_account(aws_body(name="aws two")))["id"]
    z1 = (await create_account(azure_body(name="azure one")))["id"]
    only_a1 = await make_plan(admin_client, name="p-only-a1")
    await _target(admin_client, only_a1, a1)
    both = await make_plan(admin_client, name="p-a1-a2")
    await _target(admin_client, both, a1, a2)
    await make_plan(admin_client, name="p-all-aws")
    await make_plan(admin_client, name="p-all-azure", services={"azure:vm": {}})
    z_plan = await make_plan(admin_client, name="p-z1", services={"azure:vm": {}})
    await _target(admin_client, z_plan, z1)

    everything = ["p-a1-a2", "p-all-aws", "p-all-azure", "p-only-a1", "p-z1"]
    assert await _names(admin_client) == everything
    assert await _names(admin_client, account_ids="") == everything
    assert await _names(admin_client, account_ids=a1) == ["p-a1-a2", "p-all-aws", "p-only-a1"]
    assert await _names(admin_client, account_ids=a2) == ["p-a1-a2", "p-all-aws"]
    assert await _names(admin_client, account_ids=z1) == ["p-all-azure", "p-z1"]
    assert await _names(admin_client, account_ids=f"{a2},{z1}") == [
        "p-a1-a2",
        "p-all-aws",
        "p-all-azure",
        "p-z1",
    ]
    # An account that exists nowhere matches nothing (an admin's scope covers every id).
    assert await _names(admin_client, account_ids=str(uuid.uuid4())) == []
    # The listed plans are the same objects as without the filter.
    unfiltered = (await admin_client.get("/api/plans")).json()["plans"]
    filtered = (await admin_client.get("/api/plans", params={"account_ids": a2})).json()["plans"]
    assert filtered == [p for p in unfiltered if p["name"] in {"p-a1-a2", "p-all-aws"}]


async def test_malformed_and_too_many_ids_are_400(admin_client: httpx.AsyncClient) -> None:
    bad = await admin_client.get("/api/plans", params={"account_ids": "not-a-uuid"})
    assert bad.status_code == 400, bad.text
    assert bad.json()["fields"][0]["field"] == "account_ids"
    many = ",".join(str(uuid.uuid4()) for _ in range(201))
    too_many = await admin_client.get("/api/plans", params={"account_ids": many})
    assert too_many.status_code == 400, too_many.text
    assert too_many.json()["fields"][0]["field"] == "account_ids"


async def test_constrained_user_filters_within_scope_and_is_403_outside(
    admin_client: httpx.AsyncClient, create_account: CreateAccount, make_client: MakeClient
) -> None:
    mine = (await create_account(aws_body(name="mine")))["id"]
    other = (await create_account(aws_body(name="other")))["id"]
    narrow = await make_plan(admin_client, name="p-mine")
    await _target(admin_client, narrow, mine)
    theirs = await make_plan(admin_client, name="p-other")
    await _target(admin_client, theirs, other)
    await make_plan(admin_client, name="p-all")  # touches `other`: never shown to `scoped`
    scoped = await make_client(
        permissions=[{"action": "view", "resource": "plans", "constraints": {"accounts": [mine]}}]
    )
    assert await _names(scoped) == ["p-mine"]
    assert await _names(scoped, account_ids=mine) == ["p-mine"]
    for ids in (other, f"{mine},{other}", str(uuid.uuid4())):
        response = await scoped.get("/api/plans", params={"account_ids": ids})
        assert response.status_code == 403, ids
        assert response.json()["code"] == "account_out_of_scope"
        assert "p-other" not in response.text
