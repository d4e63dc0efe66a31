"""Plans CRUD and plan↔account targeting (SPEC §6), scoping (SPEC §2) and audit rows."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from api.models import AuditEvent, PlanAccount
from tests.accounts.conftest import CreateAccount, aws_body, azure_body, create_account
from tests.fixtures.auth import MakeClient

__all__ = ["create_account"]


def plan_body(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"name": f"plan {uuid.uuid4().hex[:6]}", "services": {"aws:ec2": {}}}
    body.update(overrides)
    return body


async def make_plan(client: httpx.AsyncClient, **overrides: Any) -> dict[str, Any]:
    response = await client.post("/api/plans", json=plan_body(**overrides))
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


async def test_create_defaults_and_derived_provider(admin_client: httpx.AsyncClient) -> None:
    plan = await make_plan(
        admin_client,
        services={"aws:ec2": {"term": 1, "coverage": 50}, "aws:rds": {}},
        max_upfront="1000.5",
    )
    assert plan["provider"] == "aws"
    assert plan["dry_run"] is True
    assert plan["enabled"] is True
    assert plan["services"] == {"aws:ec2": {"term": 1, "coverage": 50}, "aws:rds": {}}
    assert plan["max_upfront"] == "1000.50"
    assert plan["max_monthly_commitment"] is None
    assert plan["target_accounts"] == {"all": True, "count": 0, "names": []}
    fetched = (await admin_client.get(f"/api/plans/{plan['id']}")).json()
    assert fetched == plan
    listed = (await admin_client.get("/api/plans")).json()
    assert [p["id"] for p in listed["plans"]] == [plan["id"]]


async def test_mixed_providers_and_unknown_services_are_400(
    admin_client: httpx.AsyncClient,
) -> None:
    mixed = await admin_client.post(
        "/api/plans", json=plan_body(services={"aws:ec2": {}, "azure:vm": {}})
    )
    assert mixed.status_code == 400
    assert mixed.json()["code"] == "mixed_providers"
    for key in ("aws:vm", "ec2", "oracle:db", "aws:"):
        response = await admin_client.post("/api/plans", json=plan_body(services={key: {}}))
        assert response.status_code == 400, key
    empty = await admin_client.post("/api/plans", json=plan_body(services={}))
    assert empty.status_code == 400
    bad_setting = await admin_client.post(
        "/api/plans", json=plan_body(services={"aws:ec2": {"term": 2}})
    )
    assert bad_setting.status_code == 400
    negative = await admin_client.post("/api/plans", json=plan_body(max_upfront=-1))
    assert negative.status_code == 400
    assert (await admin_client.get("/api/plans")).json() == {"plans": []}


async def test_schedule_is_parsed_as_cron(admin_client: httpx.AsyncClient) -> None:
    plan = await make_plan(admin_client, schedule="0 3 * * 1")
    assert plan["schedule"] == "0 3 * * 1"
    assert plan["next_run_at"] is not None
    for bad in ("every day", "0 3 * *", "61 * * * *", "* * * * * *"):
        response = await admin_client.post("/api/plans", json=plan_body(schedule=bad))
        assert response.status_code == 400, bad
        assert response.json()["fields"][0]["field"] == "schedule"
    cleared = await admin_client.put(f"/api/plans/{plan['id']}", json={"schedule": None})
    assert cleared.status_code == 200
    assert cleared.json()["schedule"] is None
    assert cleared.json()["next_run_at"] is None


async def test_update_is_partial_and_audited(
    admin_client: httpx.AsyncClient, session: AsyncSession
) -> None:
    plan = await make_plan(admin_client)
    response = await admin_client.put(
        f"/api/plans/{plan['id']}", json={"dry_run": False, "max_monthly_commitment": 20}
    )
    assert response.status_code == 200, response.text
    updated = response.json()
    assert updated["dry_run"] is False
    assert updated["max_monthly_commitment"] == "20.00"
    assert updated["name"] == plan["name"]
    to_azure = await admin_client.put(
        f"/api/plans/{plan['id']}", json={"services": {"azure:vm": {}}}
    )
    assert to_azure.status_code == 200
    assert to_azure.json()["provider"] == "azure"
    assert (
        await admin_client.put(f"/api/plans/{plan['id']}", json={"name": None})
    ).status_code == 400
    assert (await admin_client.delete(f"/api/plans/{plan['id']}")).status_code == 204
    assert (await admin_client.get(f"/api/plans/{plan['id']}")).status_code == 404
    events = (
        await session.execute(
            select(AuditEvent.action, AuditEvent.changed_fields)
            .where(AuditEvent.target_id == plan["id"])
            .order_by(AuditEvent.created_at)
        )
    ).all()
    assert [e[0] for e in events] == ["plan.create", "plan.update", "plan.update", "plan.delete"]
    assert events[1][1] == ["dry_run", "max_monthly_commitment"]


async def test_unknown_plan_is_404(admin_client: httpx.AsyncClient) -> None:
    missing = uuid.uuid4()
    assert (await admin_client.get(f"/api/plans/{missing}")).status_code == 404
    assert (await admin_client.put(f"/api/plans/{missing}", json={})).status_code == 404
    assert (await admin_client.delete(f"/api/plans/{missing}")).status_code == 404
    assert (await admin_client.get(f"/api/plans/{missing}/accounts")).status_code == 404
    response = await admin_client.put(f"/api/plans/{missing}/accounts", json={"account_ids": []})
    assert response.status_code == 404


async def test_plan_accounts_validation(
    admin_client: httpx.AsyncClient, create_account: CreateAccount, session: AsyncSession
) -> None:
    aws_a = await create_account(aws_body(name="a"))
    aws_b = await create_account(aws_body(name="b"))
    azure = await create_account(azure_body())
    plan = await make_plan(admin_client)
    url = f"/api/plans/{plan['id']}/accounts"
    assert (await admin_client.get(url)).json() == {"account_ids": [], "accounts": []}

    ok = await admin_client.put(url, json={"account_ids": [aws_b["id"], aws_a["id"]]})
    assert ok.status_code == 200, ok.text
    assert set(ok.json()["account_ids"]) == {aws_a["id"], aws_b["id"]}
    assert ok.json()["accounts"][0] == {
        "id": aws_a["id"],
        "name": "a",
        "provider": "aws",
        "external_id": aws_a["external_id"],
    }

    mismatch = await admin_client.put(url, json={"account_ids": [aws_a["id"], azure["id"]]})
    assert mismatch.status_code == 400
    assert mismatch.json()["code"] == "provider_mismatch"
    unknown = await admin_client.put(url, json={"account_ids": [aws_a["id"], str(uuid.uuid4())]})
    assert unknown.status_code == 404
    malformed = await admin_client.put(url, json={"account_ids": ["nope"]})
    assert malformed.status_code == 400
    too_many = await admin_client.put(url, json={"account_ids": [str(uuid.uuid4())] * 201})
    assert too_many.status_code == 400
    rows = (await session.execute(select(PlanAccount.cloud_account_id))).scalars().all()
    assert {str(r) for r in rows} == {aws_a["id"], aws_b["id"]}  # nothing changed

    listed = (await admin_client.get("/api/plans")).json()["plans"][0]
    assert listed["target_accounts"] == {"all": False, "count": 2, "names": ["a", "b"]}
    switch = await admin_client.put(f"/api/plans/{plan['id']}", json={"services": {"azure:vm": {}}})
    assert switch.status_code == 400

    cleared = await admin_client.put(url, json={"account_ids": []})
    assert cleared.json() == {"account_ids": [], "accounts": []}
    listed = (await admin_client.get("/api/plans")).json()["plans"][0]
    assert listed["target_accounts"] == {"all": True, "count": 2, "names": []}


async def test_account_scope_on_every_route(
    admin_client: httpx.AsyncClient, create_account: CreateAccount, make_client: MakeClient
) -> None:
    mine = await create_account(aws_body(name="mine"))
    other = await create_account(aws_body(name="other"))
    actions = ("view", "create", "update", "delete")
    scoped = await make_client(
        permissions=[
            {"action": a, "resource": "plans", "constraints": {"accounts": [mine["id"]]}}
            for a in actions
        ]
    )
    # An "all accounts" plan touches `other` too: out of scope.
    everywhere = await make_plan(admin_client)
    assert (await scoped.get(f"/api/plans/{everywhere['id']}")).status_code == 403
    assert (await scoped.post("/api/plans", json=plan_body())).status_code == 403

    narrow = await make_plan(admin_client)
    url = f"/api/plans/{narrow['id']}/accounts"
    assert (await admin_client.put(url, json={"account_ids": [mine["id"]]})).status_code == 200
    assert (await scoped.get(f"/api/plans/{narrow['id']}")).status_code == 200
    assert [p["id"] for p in (await scoped.get("/api/plans")).json()["plans"]] == [narrow["id"]]
    assert (await scoped.get(url)).status_code == 200
    widen = await scoped.put(url, json={"account_ids": [mine["id"], other["id"]]})
    assert widen.status_code == 403
    unknown = await scoped.put(url, json={"account_ids": [str(uuid.uuid4())]})
    assert unknown.status_code == 403
    assert (await scoped.put(url, json={"account_ids": []})).status_code == 403
    assert (await scoped.put(f"/api/plans/{narrow['id']}", json={"name": "x"})).status_code == 200
    assert (await scoped.delete(f"/api/plans/{everywhere['id']}")).status_code == 403
    assert (await scoped.delete(f"/api/plans/{narrow['id']}")).status_code == 204

    empty_scope = await make_client(
        permissions=[{"action": "view", "resource": "plans", "constraints": {"accounts": []}}]
    )
    assert (await empty_scope.get("/api/plans")).json() == {"plans": []}
