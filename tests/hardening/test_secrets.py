"""Secrets never leave: a realistic flow — accounts with every credential type, connectivity
tests, a collection run with faults, its SSE stream, a dry-run execution and its stream,
sign-in, API keys, audit reads — with every log record, response body, SSE body, audit row
and stored error captured; then not one stored secret value appears in any of them."""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import text

import tests.collection.test_end_to_end as e2e
from api.logging import JsonFormatter
from api.purchases.runner import Runner
from tests.cloudsim import SimServer
from tests.cloudsim.collect import CollectSim, collect_settings
from tests.collection.conftest import refresh_and_wait
from tests.credentials.fixtures import AwsEnv, aws, sts_proxy

__all__ = ["aws", "sts_proxy"]

PASSWORD = "Admin-password-that-is-secret-42"


@pytest.fixture
def settings_overrides(cloudsim: SimServer) -> dict[str, object]:
    return {
        **collect_settings(cloudsim),
        "max_account_parallelism": 4,
        "account_timeout_s": 3.0,  # the simulator's SLOW account times out quickly here
    }


class Capture(logging.Handler):
    """Every record, rendered by the service's own JSON formatter (with its extras and
    exception text) and by plain %-formatting."""

    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.lines: list[str] = []
        self.json = JsonFormatter()

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.json.format(record))
        self.lines.append(repr(record.__dict__))


@pytest.fixture
def captured_logs() -> Iterator[Capture]:
    handler = Capture()
    root = logging.getLogger()
    previous = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    yield handler
    root.removeHandler(handler)
    root.setLevel(previous)


def _forms(secret: str) -> set[str]:
    """The value and the pieces of it that would still be a leak (PEM lines, JSON-escaped)."""
    forms = {secret, json.dumps(secret)[1:-1]}
    for line in secret.splitlines():
        if len(line) >= 24 and not line.startswith("-----"):
            forms.add(line)
    return {form for form in forms if len(form) >= 12}


async def test_no_stored_secret_appears_anywhere(
    app: FastAPI,
    client: httpx.AsyncClient,
    aws: AwsEnv,
    collect_sim: CollectSim,
    cloudsim: SimServer,
    captured_logs: Capture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    bodies: list[str] = []

    minting = {
        ("POST", "/api/auth/login"),
        ("POST", "/api/auth/setup-admin"),
        ("POST", "/api/api-keys"),
    }

    async def keep(response: httpx.Response) -> None:
        await response.aread()
        if (response.request.method, response.request.url.path) in minting:
            return  # the one answer that hands the token or key to its owner (SPEC §2)
        bodies.append(f"{response.request.url} {response.status_code} {response.text}")
        bodies.append(repr(response.headers))

    client.event_hooks["response"].append(keep)
    secrets: set[str] = {PASSWORD}

    # sign-in: the first admin, a session token, an API key
    setup = await client.post(
        "/api/auth/setup-admin", json={"email": "root@example.com", "password": PASSWORD}
    )
    assert setup.status_code in {200, 201}, setup.text
    login = await client.post(
        "/api/auth/login", json={"email": "root@example.com", "password": PASSWORD}
    )
    assert login.status_code == 200, login.text
    token = login.json()["token"]
    secrets.add(token)
    client.headers["Authorization"] = f"Bearer {token}"
    key = (await client.post("/api/api-keys", json={"name": "ci"})).json()["key"]
    secrets.add(key)
    assert (await client.get("/api/auth/me", headers={"X-API-Key": key})).status_code == 200
    wrong = await client.post(
        "/api/auth/login", json={"email": "root@example.com", "password": PASSWORD + "x"}
    )
    assert wrong.status_code == 401

    # every credential type, stored through the API (recorded on the way)
    stored: list[dict[str, Any]] = []
    original_store = e2e.store

    async def recording_store(
        admin: httpx.AsyncClient, account_id: str, body: dict[str, Any]
    ) -> None:
        stored.append(body)
        await original_store(admin, account_id, body)

    monkeypatch.setattr(e2e, "store", recording_store)
    world = await e2e.arrange(client, aws, cloudsim, collect_sim)
    for body in stored:
        for name, value in body.items():
            if name in {
                "secret_access_key",
                "session_token",
                "client_secret",
                "web_identity_token",
            }:
                secrets.add(value)
            if name == "service_account_json":
                secrets.add(json.loads(value)["private_key"])
    assert len(stored) >= 9
    # a credential replaced with a bad shape, then a valid one: the rejection echoes nothing
    bad_secret = f"wJalrXUtnFEMI/K7MDENG/{uuid.uuid4().hex}"
    secrets.add(bad_secret)
    rejected = await client.post(
        f"/api/accounts/{world.ids[e2e.ACCESS]}/credentials",
        json={
            "type": "aws_access_keys",
            "access_key_id": "not a key",
            "secret_access_key": bad_secret,
        },
    )
    assert rejected.status_code == 400, rejected.text

    # connectivity tests: every account (failures included)
    for account_id in world.ids.values():
        tested = await client.post(f"/api/accounts/{account_id}/test")
        assert tested.status_code == 200, tested.text

    # a collection run with faults, and its SSE stream
    run = await refresh_and_wait(client, timeout_s=180)
    assert run["accounts_failed"] >= 2
    events = await client.get(f"/api/collection-runs/{run['id']}/events")
    assert events.status_code == 200 and "event:" in events.text

    # a dry-run execution over every AWS account, and its stream
    plan = await client.post(
        "/api/plans", json={"name": "dry", "services": {"aws:ec2": {}}, "dry_run": True}
    )
    assert plan.status_code == 201, plan.text
    executed = await client.post(f"/api/plans/{plan.json()['id']}/execute")
    assert executed.status_code == 202, executed.text
    runner: Runner = app.state.purchase_runner
    async with asyncio.timeout(120):
        while runner.tasks:
            await asyncio.gather(*list(runner.tasks), return_exceptions=True)
    group = executed.json()["execution_group_id"]
    assert (await client.get(f"/api/executions/{group}/events")).status_code == 200
    assert (await client.get("/api/executions")).status_code == 200

    # reads that carry account data and the audit trail
    for path in (
        "/api/accounts",
        "/api/recommendations",
        "/api/history?format=csv",
        "/api/audit",
        "/api/collection-runs",
        f"/api/collection-runs/{run['id']}",
    ):
        assert (await client.get(path)).status_code == 200, path
    for account_id in world.ids.values():
        assert (await client.get(f"/api/accounts/{account_id}")).status_code == 200

    # rows that hold text written from errors, and the whole audit table
    async with app.state.sessionmaker() as db:
        rows = [
            str(row)
            for query in (
                "SELECT * FROM audit_events",
                "SELECT * FROM collection_run_accounts",
                "SELECT * FROM collection_runs",
                "SELECT * FROM purchase_executions",
                "SELECT * FROM purchase_lines",
                "SELECT * FROM cloud_accounts",
                "SELECT * FROM api_keys",
                "SELECT * FROM sessions",
                "SELECT * FROM users",
            )
            for row in (await db.execute(text(query))).all()
        ]
    assert any("credentials" in row for row in rows), "audit rows were read"

    haystacks = {
        "logs": "\n".join(captured_logs.lines),
        "responses": "\n".join(bodies),
        "database rows": "\n".join(rows),
    }
    assert len(captured_logs.lines) > 50 and len(bodies) > 40
    leaks = [
        f"{where}: {form[:16]}…"
        for secret in secrets
        for form in _forms(secret)
        for where, haystack in haystacks.items()
        if form in haystack
    ]
    assert leaks == [], leaks
    assert len(secrets) >= 10, secrets
