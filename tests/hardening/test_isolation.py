"""Account isolation: a user constrained to account A tries every route with account B's data
(path, body, ``account_ids``, an admin's cursor, SSE streams, CSV, approvals) and never sees
or changes B (SPEC §2 scoping). The route table is ``tests/hardening/isolation_table.py``."""

from __future__ import annotations

import asyncio
import inspect
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import text

from api.models import (
    CloudAccount,
    CollectionRun,
    CollectionRunAccount,
    PurchaseApproval,
    PurchaseExecution,
    PurchaseLine,
)
from api.purchases.runner import Runner
from tests.collection.fakes import FakeCloud
from tests.fixtures.auth import MakeClient
from tests.hardening.isolation_table import ISOLATION, Exempt
from tests.history import factories
from tests.permission_matrix import all_rows

B_NAME = "bravo-isolated"
B_EXTERNAL = "222200002222"
B_MONEY = "777777"  # every B amount, so an aggregate including B shows it
ORPHAN_NAME = "orphan-isolated"  # a history row whose account was deleted: in nobody's scope
SCOPED_RESOURCES = {
    "accounts": ("view", "create", "update", "delete", "manage_credentials", "test_credentials"),
    "recommendations": ("view", "refresh"),
    "plans": ("view", "create", "update", "delete", "execute", "approve"),
    "history": ("view",),
    "config": ("view", "update"),
}


@dataclass
class World:
    app: FastAPI
    admin: httpx.AsyncClient
    scoped: httpx.AsyncClient  # every permission, constrained to A
    a: uuid.UUID
    b: uuid.UUID
    plan_a: uuid.UUID
    plan_b: uuid.UUID
    plan_ab: uuid.UUID
    group_b: uuid.UUID
    group_ab: uuid.UUID
    execution_b: uuid.UUID
    run_id: uuid.UUID

    def markers(self) -> list[str]:
        return [str(self.b), B_NAME, B_EXTERNAL, B_MONEY, ORPHAN_NAME, "666666"]

    def assert_no_b(self, response: httpx.Response) -> None:
        leaked = [m for m in self.markers() if m in response.text]
        assert not leaked, f"{response.request.url} leaked {leaked}: {response.text[:500]}"

    async def state_of_b(self) -> list[Any]:
        """Everything about B a write could change, as plain values."""
        queries = [
            "SELECT name, description, enabled, aws_role_arn, aws_auth_mode, updated_at "
            "FROM cloud_accounts WHERE id = :b",
            "SELECT count(*) FROM cloud_accounts",
            "SELECT count(*), max(updated_at) FROM account_credentials WHERE cloud_account_id = :b",
            "SELECT count(*) FROM account_service_overrides WHERE cloud_account_id = :b",
            "SELECT count(*) FROM recommendations WHERE cloud_account_id = :b",
            "SELECT name, services::text, updated_at FROM purchase_plans WHERE id = :plan_b",
            "SELECT count(*) FROM plan_accounts WHERE cloud_account_id = :b",
            "SELECT count(*), string_agg(status, ',' ORDER BY id) FROM purchase_executions "
            "WHERE cloud_account_id = :b",
            "SELECT string_agg(status, ',' ORDER BY id) FROM purchase_approvals",
        ]
        async with self.app.state.sessionmaker() as db:
            return [
                list((await db.execute(text(q), {"b": self.b, "plan_b": self.plan_b})).one())
                for q in queries
            ]


def _constrained(a: uuid.UUID) -> list[dict[str, Any]]:
    return [
        {"action": action, "resource": resource, "constraints": {"accounts": [str(a)]}}
        for resource, actions in SCOPED_RESOURCES.items()
        for action in actions
    ]


@pytest.fixture
def settings_overrides() -> dict[str, object]:
    return {"purchases_enabled": True}


@pytest.fixture
async def world(app: FastAPI, admin_client: httpx.AsyncClient, make_client: MakeClient) -> World:
    now = datetime.now(UTC)
    async with app.state.sessionmaker() as db:
        a = await factories.account(db, "alpha-own")
        b = CloudAccount(name=B_NAME, provider="aws", external_id=B_EXTERNAL)
        db.add(b)
        await db.flush()
        for i in range(3):
            await factories.recommendation(db, a, savings=str(10 + i))
            await factories.recommendation(db, b, savings=B_MONEY)
        await factories.commitment(db, a, monthly="11")
        await factories.commitment(db, b, monthly=B_MONEY, ends_in_days=30)
        await factories.commitment(db, b, monthly=B_MONEY, ends_in_days=40)
        await factories.history(db, a, savings="12")
        await factories.history(db, b, savings=B_MONEY, purchased_at=now - timedelta(hours=2))
        await factories.history(db, b, savings=B_MONEY, purchased_at=now - timedelta(hours=3))
        await factories.history(db, None, account_name=ORPHAN_NAME, savings="666666")
        await factories.snapshot(db, a, captured_at=now - timedelta(days=1), potential="13")
        await factories.snapshot(db, b, captured_at=now - timedelta(days=1), potential=B_MONEY)
        plan_a = await factories.plan(db, name="plan-alpha", accounts=[a])
        plan_b = await factories.plan(db, name=f"plan-{B_NAME}", accounts=[b])
        plan_ab = await factories.plan(db, name="plan-alpha-and-b", accounts=[a, b])
        group_b, group_ab = uuid.uuid4(), uuid.uuid4()
        executions = []
        for group, plan, account in (
            (group_b, plan_b, b),
            (group_ab, plan_ab, a),
            (group_ab, plan_ab, b),
        ):
            execution = PurchaseExecution(
                execution_group_id=group,
                plan_id=plan.id,
                cloud_account_id=account.id,
                account_external_id=account.external_id,
                account_name=account.name,
                provider="aws",
                status="awaiting_approval",
                dry_run=False,
                approval_required=True,
            )
            db.add(execution)
            executions.append(execution)
        await db.flush()
        for execution in executions:
            db.add(
                PurchaseLine(
                    execution_id=execution.id,
                    idempotency_key=f"iso-{execution.id}",
                    service="ec2",
                    region="us-east-1",
                    resource_type="m5.large",
                    term=1,
                    payment="no-upfront",
                    count=Decimal(1),
                    upfront_cost=Decimal(B_MONEY if execution.cloud_account_id == b.id else 5),
                )
            )
        for group, plan in ((group_b, plan_b), (group_ab, plan_ab)):
            db.add(
                PurchaseApproval(
                    execution_group_id=group, plan_id=plan.id, expires_at=now + timedelta(days=1)
                )
            )
        run = CollectionRun(trigger="manual", status="completed", finished_at=now)
        db.add(run)
        await db.flush()
        for account in (a, b):
            db.add(
                CollectionRunAccount(
                    run_id=run.id,
                    cloud_account_id=account.id,
                    account_name=account.name,
                    account_external_id=account.external_id,
                    provider="aws",
                    status="ok",
                    started_at=now,
                    finished_at=now,
                )
            )
        await db.commit()
        ids = (a.id, b.id, plan_a.id, plan_b.id, plan_ab.id, executions[0].id, run.id)
    scoped = await make_client(permissions=_constrained(ids[0]))
    app.state.collection.ctx.collector_for = FakeCloud().collector_for  # no cloud reached
    return World(
        app=app,
        admin=admin_client,
        scoped=scoped,
        a=ids[0],
        b=ids[1],
        plan_a=ids[2],
        plan_b=ids[3],
        plan_ab=ids[4],
        group_b=group_b,
        group_ab=group_ab,
        execution_b=ids[5],
        run_id=ids[6],
    )


DENIED = {403, 404}  # 404 is acceptable for a hidden object; never 2xx


def _denied(w: World, response: httpx.Response) -> None:
    assert response.status_code in DENIED, f"{response.request.url}: {response.text}"
    w.assert_no_b(response)


def _ok_without_b(w: World, response: httpx.Response) -> None:
    assert response.status_code == 200, f"{response.request.url}: {response.text}"
    w.assert_no_b(response)


async def _account_ids_b_forbidden(w: World, path: str, **params: str) -> None:
    response = await w.scoped.get(path, params={"account_ids": str(w.b), **params})
    assert response.status_code == 403, response.text
    mixed = await w.scoped.get(path, params={"account_ids": f"{w.a},{w.b}", **params})
    assert mixed.status_code == 403, mixed.text
    _ok_without_b(w, await w.scoped.get(path, params=params))


async def _admin_cursor(w: World, path: str, key: str, **params: str) -> None:
    """Walk the admin's pages one row at a time; each admin cursor replayed by A shows no B."""
    cursor: str | None = None
    replayed = 0
    for _ in range(20):
        page = await w.admin.get(path, params={"limit": "1", **params, **_cur(cursor)})
        assert page.status_code == 200, page.text
        cursor = page.json().get("next_cursor")
        if cursor is None:
            break
        replay = await w.scoped.get(path, params={"limit": "50", **params, "cursor": cursor})
        _ok_without_b(w, replay)
        replayed += 1
    assert replayed >= 2, "the admin's listing should span several pages"
    own = await w.scoped.get(path, params={"limit": "50", **params})
    _ok_without_b(w, own)
    assert own.json()[key], f"A sees its own {key}"


def _cur(cursor: str | None) -> dict[str, str]:
    return {"cursor": cursor} if cursor else {}


# --- accounts ---------------------------------------------------------------------------


async def accounts_list(w: World) -> None:
    response = await w.scoped.get("/api/accounts")
    _ok_without_b(w, response)
    assert [acc["id"] for acc in response.json()["accounts"]] == [str(w.a)]


async def accounts_search(w: World) -> None:
    for search in (B_NAME, B_EXTERNAL, "bravo"):
        response = await w.scoped.get("/api/accounts", params={"search": search})
        _ok_without_b(w, response)
        assert response.json()["accounts"] == []


async def accounts_create_through_b_bastion(w: World) -> None:
    response = await w.scoped.post(
        "/api/accounts",
        json={
            "name": "sneaky",
            "provider": "aws",
            "external_id": "333300003333",
            "aws_auth_mode": "bastion",
            "aws_bastion_id": str(w.b),
            "aws_role_arn": "arn:aws:iam::333300003333:role/CUDly",
        },
    )
    assert response.status_code in {400, 403, 404}, response.text
    w.assert_no_b(response)


async def account_get(w: World) -> None:
    _denied(w, await w.scoped.get(f"/api/accounts/{w.b}"))


async def account_put(w: World) -> None:
    _denied(w, await w.scoped.put(f"/api/accounts/{w.b}", json={"name": "taken over"}))
    # and A's own account cannot be pointed at B as its bastion
    response = await w.scoped.put(
        f"/api/accounts/{w.a}",
        json={
            "aws_auth_mode": "bastion",
            "aws_bastion_id": str(w.b),
            "aws_role_arn": "arn:aws:iam::200000000001:role/CUDly",
        },
    )
    assert response.status_code in {400, 403, 404}, response.text
    w.assert_no_b(response)


async def account_delete(w: World) -> None:
    _denied(w, await w.scoped.delete(f"/api/accounts/{w.b}"))


async def account_credentials(w: World) -> None:
    response = await w.scoped.post(
        f"/api/accounts/{w.b}/credentials",
        json={
            "type": "aws_access_keys",
            "access_key_id": "AKIAIOSFODNN7EXAMPLE",
            "secret_access_key": "x" * 40,
        },
    )
    _denied(w, response)


async def account_test(w: World) -> None:
    _denied(w, await w.scoped.post(f"/api/accounts/{w.b}/test"))


async def overrides_get(w: World) -> None:
    _denied(w, await w.scoped.get(f"/api/accounts/{w.b}/service-overrides"))


async def overrides_put(w: World) -> None:
    path = f"/api/accounts/{w.b}/service-overrides/aws/ec2"
    _denied(w, await w.scoped.put(path, json={"coverage": 1}))


async def overrides_delete(w: World) -> None:
    _denied(w, await w.scoped.delete(f"/api/accounts/{w.b}/service-overrides/aws/ec2"))


async def effective_config(w: World) -> None:
    _denied(w, await w.scoped.get(f"/api/accounts/{w.b}/effective-config"))


# --- recommendations, collection, commitments --------------------------------------------


async def recommendations_list(w: World) -> None:
    response = await w.scoped.get("/api/recommendations", params={"limit": "500"})
    _ok_without_b(w, response)
    assert len(response.json()["recommendations"]) == 3


async def recommendations_account_ids(w: World) -> None:
    await _account_ids_b_forbidden(w, "/api/recommendations")


async def recommendations_admin_cursor(w: World) -> None:
    for sort in ("-estimated_monthly_savings", "estimated_monthly_savings", "collected_at"):
        await _admin_cursor(w, "/api/recommendations", "recommendations", sort=sort)


async def freshness(w: World) -> None:
    await _account_ids_b_forbidden(w, "/api/recommendations/freshness")


async def refresh_b(w: World) -> None:
    for body in ({"account_ids": [str(w.b)]}, {"account_ids": [str(w.a), str(w.b)]}):
        response = await w.scoped.post("/api/recommendations/refresh", json=body)
        assert response.status_code == 403, response.text


async def refresh_everything_is_own_scope(w: World) -> None:
    """A refresh with no account list by A must not sweep B (it would touch B's cloud)."""
    response = await w.scoped.post("/api/recommendations/refresh", json={})
    assert response.status_code in {202, 403}, response.text
    if response.status_code == 202:
        run_id = response.json()["run_id"]
        async with asyncio.timeout(30):
            status = "running"
            while status == "running":
                await asyncio.sleep(0.05)
                status = (await w.admin.get(f"/api/collection-runs/{run_id}")).json()["status"]
        async with w.app.state.sessionmaker() as db:
            swept = (
                await db.execute(
                    text(
                        "SELECT count(*) FROM collection_run_accounts "
                        "WHERE run_id = :run AND cloud_account_id = :b"
                    ),
                    {"run": run_id, "b": w.b},
                )
            ).scalar_one()
            requested = (
                await db.execute(
                    text("SELECT requested_account_ids FROM collection_runs WHERE id = :run"),
                    {"run": run_id},
                )
            ).scalar_one()
        assert swept == 0, f"A's refresh swept B (requested {requested})"


async def runs_list(w: World) -> None:
    _ok_without_b(w, await w.scoped.get("/api/collection-runs"))


async def run_get(w: World) -> None:
    response = await w.scoped.get(f"/api/collection-runs/{w.run_id}")
    _ok_without_b(w, response)
    assert [row["cloud_account_id"] for row in response.json()["accounts"]] == [str(w.a)]


async def run_events(w: World) -> None:
    response = await w.scoped.get(f"/api/collection-runs/{w.run_id}/events")
    _ok_without_b(w, response)
    assert str(w.a) in response.text, "A's own account event is streamed"


async def commitments_list(w: World) -> None:
    await _account_ids_b_forbidden(w, "/api/commitments")


async def commitments_admin_cursor(w: World) -> None:
    await _admin_cursor(w, "/api/commitments", "commitments")


# --- plans and executions ----------------------------------------------------------------


async def plans_list(w: World) -> None:
    response = await w.scoped.get("/api/plans")
    _ok_without_b(w, response)
    names = {plan["name"] for plan in response.json()["plans"]}
    assert "plan-alpha" in names
    assert "plan-alpha-and-b" not in names, "a plan reaching B is beyond A's scope"
    await _account_ids_b_forbidden(w, "/api/plans")
    narrowed = await w.scoped.get("/api/plans", params={"account_ids": str(w.a)})
    _ok_without_b(w, narrowed)
    assert "plan-alpha" in {plan["name"] for plan in narrowed.json()["plans"]}


async def plan_create_then_target_b(w: World) -> None:
    created = await w.scoped.post(
        "/api/plans", json={"name": "mine", "services": {"aws:ec2": {}}, "dry_run": True}
    )
    # A new plan targets "every account" until its list is set: refused for a scoped user.
    assert created.status_code == 403, created.text
    w.assert_no_b(created)
    plan_id = w.plan_a
    response = await w.scoped.put(
        f"/api/plans/{plan_id}/accounts", json={"account_ids": [str(w.a), str(w.b)]}
    )
    assert response.status_code == 403, response.text


async def plan_get(w: World) -> None:
    for plan in (w.plan_b, w.plan_ab):
        _denied(w, await w.scoped.get(f"/api/plans/{plan}"))


async def plan_put(w: World) -> None:
    for plan in (w.plan_b, w.plan_ab):
        _denied(w, await w.scoped.put(f"/api/plans/{plan}", json={"name": "renamed"}))


async def plan_delete(w: World) -> None:
    for plan in (w.plan_b, w.plan_ab):
        _denied(w, await w.scoped.delete(f"/api/plans/{plan}"))


async def plan_accounts_get(w: World) -> None:
    for plan in (w.plan_b, w.plan_ab):
        _denied(w, await w.scoped.get(f"/api/plans/{plan}/accounts"))


async def plan_accounts_put(w: World) -> None:
    body = {"account_ids": [str(w.a)]}
    for plan in (w.plan_b, w.plan_ab):
        _denied(w, await w.scoped.put(f"/api/plans/{plan}/accounts", json=body))
    response = await w.scoped.put(
        f"/api/plans/{w.plan_a}/accounts", json={"account_ids": [str(w.b)]}
    )
    assert response.status_code == 403, response.text


async def plan_execute_b(w: World) -> None:
    for plan in (w.plan_b, w.plan_ab):
        _denied(w, await w.scoped.post(f"/api/plans/{plan}/execute"))


async def plan_execute_all_targets(w: World) -> None:
    """A plan with no target list means 'every enabled account': for A that is never B."""
    async with w.app.state.sessionmaker() as db:
        every = await factories.plan(db, name="every account", schedule=None)
        await db.commit()
    response = await w.scoped.post(f"/api/plans/{every.id}/execute")
    assert response.status_code in {202, 403}, response.text
    w.assert_no_b(response)
    runner: Runner = w.app.state.purchase_runner
    while runner.tasks:
        await asyncio.gather(*list(runner.tasks), return_exceptions=True)
    # state_of_b (checked after every probe) proves no execution was created for B


async def executions_list(w: World) -> None:
    await _account_ids_b_forbidden(w, "/api/executions")
    for params in ({"group_id": str(w.group_b)}, {"plan_id": str(w.plan_b)}):
        response = await w.scoped.get("/api/executions", params=params)
        assert response.status_code in {200, 403, 404}, response.text
        w.assert_no_b(response)


async def execution_retry(w: World) -> None:
    _denied(w, await w.scoped.post(f"/api/executions/{w.execution_b}/retry"))


async def execution_approve(w: World) -> None:
    for group in (w.group_b, w.group_ab):
        _denied(w, await w.scoped.post(f"/api/executions/{group}/approve"))


async def execution_reject(w: World) -> None:
    for group in (w.group_b, w.group_ab):
        response = await w.scoped.post(f"/api/executions/{group}/reject", json={"reason": "no"})
        _denied(w, response)


async def execution_events(w: World) -> None:
    for group in (w.group_b, w.group_ab):
        _denied(w, await w.scoped.get(f"/api/executions/{group}/events"))


# --- history and dashboard ---------------------------------------------------------------


async def history_list(w: World) -> None:
    await _account_ids_b_forbidden(w, "/api/history")


async def history_csv(w: World) -> None:
    await _account_ids_b_forbidden(w, "/api/history", format="csv")
    response = await w.scoped.get("/api/history", headers={"Accept": "text/csv"})
    _ok_without_b(w, response)
    assert response.headers["content-type"].startswith("text/csv")


async def history_admin_cursor(w: World) -> None:
    await _admin_cursor(w, "/api/history", "history")


async def history_analytics(w: World) -> None:
    await _account_ids_b_forbidden(w, "/api/history/analytics")


async def history_breakdown(w: World) -> None:
    for dimension in ("account", "service", "provider", "region"):
        response = await w.scoped.get("/api/history/breakdown", params={"dimension": dimension})
        assert response.status_code in {200, 400}, response.text
        w.assert_no_b(response)
    await _account_ids_b_forbidden(w, "/api/history/breakdown", dimension="account")


async def dashboard_summary(w: World) -> None:
    await _account_ids_b_forbidden(w, "/api/dashboard/summary")


async def dashboard_upcoming(w: World) -> None:
    await _account_ids_b_forbidden(w, "/api/dashboard/upcoming")


async def dashboard_savings(w: World) -> None:
    await _account_ids_b_forbidden(w, "/api/dashboard/savings-over-time")


Probe = Callable[[World], Awaitable[None]]
PROBES: dict[str, Probe] = {
    name: probe
    for name, probe in list(globals().items())
    if inspect.iscoroutinefunction(probe)
    and getattr(probe, "__module__", None) == __name__
    and not name.startswith(("_", "test_"))
    and name != "world"
}
PROBE_ROWS = [
    (f"{method} {path} :: {name}", name)
    for (method, path), entry in ISOLATION.items()
    if not isinstance(entry, Exempt)
    for name in entry
]


def test_every_route_has_an_isolation_row() -> None:
    routes = {(method, path) for method, path, _ in all_rows()}
    assert routes - set(ISOLATION) == set(), "add these routes to tests/hardening/isolation_table"
    assert set(ISOLATION) - routes == set(), "these isolation rows name no route"
    missing = [name for _, name in PROBE_ROWS if name not in PROBES]
    assert missing == [], f"isolation probes named but not defined: {missing}"


async def test_constrained_user_never_sees_or_changes_b(world: World) -> None:
    """Every probe in one world (one database: the suite stays fast); all failures reported."""
    failures: list[str] = []
    for label, probe in PROBE_ROWS:
        before = await world.state_of_b()
        try:
            await PROBES[probe](world)
        except AssertionError as exc:
            failures.append(f"{label}: {exc}")
            continue
        if await world.state_of_b() != before:
            failures.append(f"{label}: changed account B")
    assert failures == [], "\n".join(failures)
