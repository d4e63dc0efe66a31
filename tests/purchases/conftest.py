"""Executions against the AWS purchase simulator: accounts with their own access keys,
recommendations inserted directly, helpers to run a plan and wait for its group."""

from __future__ import annotations

import asyncio
import itertools
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession

from api.models import CloudAccount, Recommendation
from api.purchases.runner import Runner
from tests.cloudsim.aws_purchases import AwsPurchaseServer, AwsPurchaseSim, run_aws_purchase_sim

_numbers = itertools.count(1)
SECRET = "sim-secret-0000000000000000000000000000000"


@pytest.fixture(scope="session")
def aws_purchase_server() -> Iterator[AwsPurchaseServer]:
    with run_aws_purchase_sim() as server:
        yield server


@pytest.fixture
def aws_sim(
    aws_purchase_server: AwsPurchaseServer, monkeypatch: pytest.MonkeyPatch
) -> AwsPurchaseSim:
    """The simulator, reset, with botocore pointed at it for STS, EC2, RDS and Savings Plans."""
    aws_purchase_server.sim.reset()
    for name, value in aws_purchase_server.env().items():
        monkeypatch.setenv(name, value)
    return aws_purchase_server.sim


@pytest.fixture
def settings_overrides() -> dict[str, object]:
    return {"purchases_enabled": True}


@dataclass
class SimAccount:
    id: uuid.UUID
    external_id: str
    name: str
    access_key_id: str


async def add_aws_account(
    admin_client: httpx.AsyncClient,
    sim: AwsPurchaseSim,
    *,
    name: str | None = None,
    enabled: bool = True,
    valid_key: bool = True,
) -> SimAccount:
    """An AWS account holding access keys the simulator maps to its external id (or not)."""
    external_id = f"{next(_numbers) + 300_000_000_000:012d}"
    body: dict[str, Any] = {
        "name": name or f"aws-{external_id}",
        "provider": "aws",
        "external_id": external_id,
        "enabled": enabled,
    }
    created = await admin_client.post("/api/accounts", json=body)
    assert created.status_code == 201, created.text
    account = created.json()
    key = sim.add_key(external_id) if valid_key else f"AKIA{uuid.uuid4().hex[:16].upper()}"
    stored = await admin_client.post(
        f"/api/accounts/{account['id']}/credentials",
        json={"type": "aws_access_keys", "access_key_id": key, "secret_access_key": SECRET},
    )
    assert stored.status_code == 204, stored.text
    return SimAccount(uuid.UUID(account["id"]), external_id, account["name"], key)


async def add_recommendation(
    session: AsyncSession, account: SimAccount | CloudAccount, **fields: Any
) -> Recommendation:
    values: dict[str, Any] = {
        "cloud_account_id": account.id,
        "provider": "aws",
        "service": "ec2",
        "region": "us-east-1",
        "resource_type": f"m5.{next(_numbers)}xlarge",
        "engine": "",
        "term": 3,
        "payment": "no-upfront",
        "variant": "",
        "count": Decimal(10),
        "upfront_cost": Decimal(0),
        "recurring_monthly_cost": Decimal(100),
        "on_demand_monthly_cost": Decimal(200),
        "estimated_monthly_savings": Decimal(100),
        "savings_percent": Decimal(50),
        "currency": "USD",
        "collected_at": datetime.now(UTC),
        # As the AWS mapper records them for EC2: the purchaser never guesses a platform.
        "details": {"platform": "Linux/UNIX", "tenancy": "default"},
    }
    values.update(fields)
    rec = Recommendation(**values)
    session.add(rec)
    await session.commit()
    return rec


async def make_plan(client: httpx.AsyncClient, **overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "name": f"plan {uuid.uuid4().hex[:6]}",
        "services": {"aws:ec2": {"coverage": 100}},
        "dry_run": False,
    }
    body.update(overrides)
    response = await client.post("/api/plans", json=body)
    assert response.status_code == 201, response.text
    plan: dict[str, Any] = response.json()
    return plan


async def wait_for_runner(app: FastAPI) -> None:
    runner: Runner = app.state.purchase_runner
    while runner.tasks:
        await asyncio.gather(*list(runner.tasks), return_exceptions=True)


async def execute(
    app: FastAPI, client: httpx.AsyncClient, plan_id: str
) -> tuple[str, list[dict[str, Any]]]:
    """Execute the plan, wait for its group, return (group id, executions by account name)."""
    response = await client.post(f"/api/plans/{plan_id}/execute")
    assert response.status_code == 202, response.text
    group_id = response.json()["execution_group_id"]
    await wait_for_runner(app)
    return group_id, await executions_of(client, group_id)


async def executions_of(client: httpx.AsyncClient, group_id: str) -> list[dict[str, Any]]:
    listed = await client.get("/api/executions", params={"group_id": group_id})
    assert listed.status_code == 200, listed.text
    executions: list[dict[str, Any]] = listed.json()["executions"]
    return sorted(executions, key=lambda e: e["account_name"])
