"""GCP commitments (requestId = the line's key, a deterministic name, the operation followed)
and Azure reservation orders (the order id fixed on the line before the purchase)."""

from __future__ import annotations

import json
from decimal import Decimal

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession

from api.config import Settings
from api.models import CloudAccount
from api.providers.azure.purchase import AzurePurchaser
from api.providers.base import PurchaseRequest
from api.providers.gcp.purchase import GcpPurchaser
from api.purchases.runner import Runner
from tests.cloudsim import SimServer, make_gcp_key
from tests.cloudsim.azure_purchases import azure_purchases
from tests.cloudsim.gcp_purchases import GcpPurchaseSim, gcp_purchases
from tests.credentials.fixtures import (
    CLIENT,
    PROJECT,
    SA,
    SUB,
    TENANT,
    add_account,
    cloudsim_settings,
)
from tests.purchases.conftest import add_recommendation, execute, make_plan

RESOURCES = [{"type": "VCPU", "amount": "8"}, {"type": "MEMORY", "amount": "32768"}]


@pytest.fixture
def settings_overrides(cloudsim_server: SimServer) -> dict[str, object]:
    return cloudsim_settings(cloudsim_server) | {
        "gcp_api_base_compute": cloudsim_server.url,
        "purchases_enabled": True,
    }


@pytest.fixture
def gcp_sim(cloudsim: SimServer) -> GcpPurchaseSim:
    sim = gcp_purchases(cloudsim.state)
    sim.reset()
    return sim


async def _gcp_account(
    cloudsim: SimServer, settings: Settings, admin_client: httpx.AsyncClient, session: AsyncSession
) -> CloudAccount:
    key = make_gcp_key(SA, settings.clouds.gcp_token_uri, state=cloudsim.state)
    cloudsim.state.add_project(PROJECT, "123456789", granted_to=[SA])
    account = await add_account(session, "gcp")
    stored = await admin_client.post(
        f"/api/accounts/{account.id}/credentials",
        json={"type": "gcp_service_account", "service_account_json": json.dumps(key)},
    )
    assert stored.status_code == 204, stored.text
    return account


async def test_commitment_bought_once_under_the_line_key(
    app: FastAPI,
    cloudsim: SimServer,
    settings: Settings,
    admin_client: httpx.AsyncClient,
    session: AsyncSession,
    gcp_sim: GcpPurchaseSim,
) -> None:
    account = await _gcp_account(cloudsim, settings, admin_client, session)
    await add_recommendation(
        session,
        account,
        provider="gcp",
        service="compute",
        region="us-central1",
        resource_type="n2",
        count=Decimal(1),
        term=1,
        details={"type": "GENERAL_PURPOSE_N2", "resources": RESOURCES},
    )
    plan = await make_plan(
        admin_client, services={"gcp:compute": {"coverage": 100, "term": 1}}, dry_run=False
    )
    _, (run,) = await execute(app, admin_client, plan["id"])
    assert run["status"] == "completed", run
    (line,) = run["lines"]
    (bought,) = gcp_sim.commitments_of(PROJECT)
    assert bought.request_id == line["idempotency_key"]
    assert bought.name == f"cudly-{line['idempotency_key']}" == line["provider_commitment_id"]
    assert bought.principal == SA
    assert bought.body["plan"] == "TWELVE_MONTH"
    assert bought.body["resources"] == RESOURCES

    # A crash between the cloud's answer and our commit: buying again under the same key
    # answers the same operation, and reconcile finds it by its name.
    runner: Runner = app.state.purchase_runner
    from api.credentials.service import resolve_account_auth

    auth = await resolve_account_auth(session, runner.key_ring, account)
    request = PurchaseRequest(
        idempotency_key=line["idempotency_key"],
        service="compute",
        region="us-central1",
        resource_type="n2",
        engine="",
        variant="",
        term=1,
        payment="no-upfront",
        count=Decimal(1),
        upfront_cost=Decimal(0),
        recurring_monthly_cost=Decimal(0),
        offering_id=None,
        claimed_at=None,
        details={"type": "GENERAL_PURPOSE_N2", "resources": RESOURCES},
    )
    purchaser = GcpPurchaser()
    again = await purchaser.purchase(auth, request, settings, runner.clients)
    assert again.provider_commitment_id == bought.name
    assert len(gcp_sim.commitments_of(PROJECT)) == 1
    found = await purchaser.reconcile(auth, request, settings, runner.clients)
    assert found is not None and found.provider_commitment_id == bought.name
    other = await purchaser.reconcile(
        auth,
        PurchaseRequest(
            **{**request.__dict__, "idempotency_key": "00000000-0000-4000-8000-000000000000"}
        ),
        settings,
        runner.clients,
    )
    assert other is None


async def test_refused_commitment_fails_the_line(
    app: FastAPI,
    cloudsim: SimServer,
    settings: Settings,
    admin_client: httpx.AsyncClient,
    session: AsyncSession,
    gcp_sim: GcpPurchaseSim,
) -> None:
    account = await _gcp_account(cloudsim, settings, admin_client, session)
    await add_recommendation(
        session,
        account,
        provider="gcp",
        service="compute",
        region="us-central1",
        term=1,
        details={"resources": RESOURCES},
    )
    gcp_sim.fail(PROJECT, 400, "Quota 'COMMITMENTS' exceeded")
    plan = await make_plan(admin_client, services={"gcp:compute": {"term": 1}})
    _, (run,) = await execute(app, admin_client, plan["id"])
    assert run["status"] == "failed"
    assert "COMMITMENTS" in run["lines"][0]["error"]
    assert gcp_sim.commitments_of() == []


async def test_azure_reservation_order_id_is_fixed_before_the_purchase(
    app: FastAPI,
    cloudsim: SimServer,
    settings: Settings,
    admin_client: httpx.AsyncClient,
    session: AsyncSession,
) -> None:
    orders = azure_purchases(cloudsim.state)
    orders.reset()
    secret = "azure-client-secret-value-0001"
    cloudsim.state.add_azure_client(TENANT, CLIENT, secret)
    cloudsim.state.add_subscription(SUB, TENANT, "Prod", granted_to=[CLIENT])
    account = await add_account(session, "azure")
    stored = await admin_client.post(
        f"/api/accounts/{account.id}/credentials",
        json={"type": "azure_client_secret", "client_secret": secret},
    )
    assert stored.status_code == 204, stored.text
    await add_recommendation(
        session,
        account,
        provider="azure",
        service="vm",
        region="westeurope",
        resource_type="Standard_D2s_v3",
        count=Decimal(2),
        term=1,
    )
    dry = await make_plan(
        admin_client, services={"azure:vm": {"term": 1, "coverage": 100}}, dry_run=True
    )
    _, (run,) = await execute(app, admin_client, dry["id"])
    assert run["status"] == "completed", run
    assert [line["status"] for line in run["lines"]] == ["simulated"]
    assert run["lines"][0]["offering_id"]  # the quoted order id
    assert orders.orders_of() == []

    real = await make_plan(
        admin_client, services={"azure:vm": {"term": 1, "coverage": 100}}, dry_run=False
    )
    _, (run,) = await execute(app, admin_client, real["id"])
    assert run["status"] == "completed", (run["error"], [x["error"] for x in run["lines"]])
    (line,) = run["lines"]
    (order,) = orders.orders_of(SUB)
    assert order.order_id == line["offering_id"] == line["provider_commitment_id"]
    assert order.principal == CLIENT
    assert order.body["properties"]["quantity"] == 2
    assert order.body["properties"]["displayName"] == f"cudly-{line['idempotency_key']}"

    runner: Runner = app.state.purchase_runner
    from api.credentials.service import resolve_account_auth

    row = await session.get(CloudAccount, account.id)
    assert row is not None
    auth = await resolve_account_auth(session, runner.key_ring, row)
    request = PurchaseRequest(
        idempotency_key=line["idempotency_key"],
        service="vm",
        region="westeurope",
        resource_type="Standard_D2s_v3",
        engine="",
        variant="",
        term=1,
        payment="no-upfront",
        count=Decimal(2),
        upfront_cost=Decimal(0),
        recurring_monthly_cost=Decimal(0),
        offering_id=line["offering_id"],
        claimed_at=None,
    )
    purchaser = AzurePurchaser()
    repeat = await purchaser.purchase(auth, request, settings, runner.clients)
    assert repeat.provider_commitment_id == order.order_id
    assert len(orders.orders_of()) == 1
    found = await purchaser.reconcile(auth, request, settings, runner.clients)
    assert found is not None and found.provider_commitment_id == order.order_id
