"""``/metrics`` (admins only, route templates as labels) and ``/api/ready``."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime, timedelta

import httpx
from fastapi import FastAPI
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker, create_async_engine

from api.models import CollectionRun, PurchaseApproval, PurchaseExecution, PurchaseLine
from api.telemetry import metrics, service
from tests.fixtures.auth import MakeClient
from tests.telemetry.conftest import samples, value

UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


async def test_unauthenticated_scrape_is_401(client: httpx.AsyncClient) -> None:
    response = await client.get("/metrics")
    assert response.status_code == 401
    assert response.json()["code"] == "unauthorized"


async def test_a_non_admin_scrape_is_403(make_client: MakeClient) -> None:
    user = await make_client(permissions=[{"action": "view", "resource": "accounts"}])
    response = await user.get("/metrics")
    assert response.status_code == 403


async def test_an_admin_api_key_scrapes(
    admin_client: httpx.AsyncClient, client: httpx.AsyncClient
) -> None:
    created = await admin_client.post("/api/api-keys", json={"name": "prometheus"})
    assert created.status_code == 201, created.text
    response = await client.get("/metrics", headers={"X-API-Key": created.json()["key"]})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    names = {name for name, _, _ in samples(response.text)}
    assert {"cudly_http_requests_total", "cudly_purchase_lines", "cudly_db_pool_size"} <= names


async def test_http_series_use_the_route_template(admin_client: httpx.AsyncClient) -> None:
    account_id = uuid.uuid4()
    assert (await admin_client.get(f"/api/accounts/{account_id}")).status_code == 404
    assert (await admin_client.get("/no/such/page/" + str(account_id))).status_code == 200
    body = (await admin_client.get("/metrics")).text
    assert str(account_id) not in body
    requests = [labels for name, labels, _ in samples(body) if name == "cudly_http_requests_total"]
    assert {"route": "/api/accounts/{account_id}", "method": "GET", "status": "404"} in requests
    assert {"route": "unmatched", "method": "GET", "status": "200"} in requests
    durations = {
        labels["route"]
        for name, labels, _ in samples(body)
        if name == "cudly_http_request_duration_seconds_count"
    }
    assert "/api/accounts/{account_id}" in durations


async def test_ready_when_migrated_with_the_key_ring(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/ready")
    assert response.status_code == 200
    assert response.json() == {
        "status": "ready",
        "database": "ok",
        "migrations": "ok",
        "key_ring": "ok",
    }


async def test_not_ready_when_migrations_are_behind(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    async with app.state.engine.begin() as connection:
        await connection.execute(text("UPDATE alembic_version SET version_num = '0001'"))
    response = await client.get("/api/ready")
    assert response.status_code == 503
    body = response.json()
    assert body["code"] == "not_ready"
    assert body["migrations"] == "behind"
    assert "cudly migrate" in body["error"]


async def test_not_ready_without_the_key_ring(app: FastAPI, client: httpx.AsyncClient) -> None:
    del app.state.key_ring
    response = await client.get("/api/ready")
    assert response.status_code == 503
    assert response.json()["key_ring"] == "not_loaded"


async def test_not_ready_when_the_database_is_gone(app: FastAPI, client: httpx.AsyncClient) -> None:
    engine = app.state.engine
    app.state.engine = create_async_engine(
        "postgresql+asyncpg://nobody@/cudly?host=/nonexistent", connect_args={"timeout": 1}
    )
    try:
        response = await client.get("/api/ready")
    finally:
        await app.state.engine.dispose()
        app.state.engine = engine
    assert response.status_code == 503
    assert response.json()["database"] == "unreachable"
    # /api/health is unchanged (SPEC §1): liveness and readiness are separate.


async def test_every_route_is_labelled_by_its_own_template(
    app: FastAPI, client: httpx.AsyncClient, admin_client: httpx.AsyncClient
) -> None:
    templates = {
        (method.upper(), path)
        for path, operations in app.openapi()["paths"].items()
        for method in operations
    }
    for method, template in sorted(templates):
        url = re.sub(r"\{[^}]+\}", lambda _: str(uuid.uuid4()), template)
        await client.request(method, url)
    body = (await admin_client.get("/metrics")).text
    labelled = {
        (labels["method"], labels["route"])
        for name, labels, _ in samples(body)
        if name == "cudly_http_requests_total"
    }
    assert templates <= labelled
    assert not UUID.search(body)


async def test_database_gauges_show_stuck_lines_waiting_approvals_and_running_runs(
    admin_client: httpx.AsyncClient, session: AsyncSession
) -> None:
    now = datetime.now(UTC)
    group_id = uuid.uuid4()
    execution = PurchaseExecution(
        execution_group_id=group_id,
        account_external_id="123456789012",
        account_name="acct",
        provider="aws",
        status="running",
    )
    session.add(execution)
    await session.flush()
    session.add_all(
        [
            PurchaseLine(
                execution_id=execution.id,
                idempotency_key=f"k-{uuid.uuid4()}",
                status="purchasing",
                service="ec2",
                claimed_at=now - timedelta(minutes=20),
            ),
            PurchaseLine(
                execution_id=execution.id,
                idempotency_key=f"k-{uuid.uuid4()}",
                status="pending",
                service="ec2",
            ),
            PurchaseApproval(
                execution_group_id=group_id,
                expires_at=now + timedelta(hours=32),
                created_at=now - timedelta(hours=40),
            ),
            PurchaseApproval(
                execution_group_id=uuid.uuid4(),
                status="approved",
                expires_at=now,
                created_at=now - timedelta(hours=70),
            ),
            CollectionRun(trigger="manual", status="running", started_at=now - timedelta(hours=2)),
        ]
    )
    await session.commit()
    body = (await admin_client.get("/metrics")).text
    assert value(body, "cudly_purchase_lines", state="purchasing") == 1
    assert value(body, "cudly_purchase_lines", state="pending") == 1
    assert value(body, "cudly_purchase_lines", state="purchased") == 0
    assert 20 * 60 <= value(body, "cudly_purchase_lines_purchasing_oldest_age_seconds") < 25 * 60
    assert value(body, "cudly_approval_groups_awaiting") == 1
    assert 40 * 3600 <= value(body, "cudly_approval_oldest_wait_seconds") < 41 * 3600
    assert value(body, "cudly_approval_ttl_seconds") == 72 * 3600
    assert value(body, "cudly_collection_runs_running") == 1
    assert value(body, "cudly_collection_run_oldest_running_age_seconds") >= 2 * 3600
    # No enabled account: one wave of the account timeout.
    assert value(body, "cudly_collection_run_budget_seconds") == 120
    assert value(body, "cudly_metrics_database_up") == 1


async def test_a_scrape_without_the_database_still_answers(
    app: FastAPI, admin_client: httpx.AsyncClient
) -> None:
    await admin_client.get("/api/health")
    gone = create_async_engine(
        "postgresql+asyncpg://nobody@/cudly?host=/nonexistent", connect_args={"timeout": 1}
    )
    try:
        gauges = await service.database_gauges(async_sessionmaker(gone), app.state.settings)
    finally:
        await gone.dispose()
    body = metrics.render(None, gauges)[0].decode()
    assert value(body, "cudly_metrics_database_up") == 0
    assert "cudly_purchase_lines{" not in body
    assert value(body, "cudly_http_requests_total", route="/api/health") >= 1
