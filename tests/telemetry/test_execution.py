"""A plan execution over two simulated AWS accounts (one with refused keys) seen from /metrics
and the trace: executions by outcome, purchase lines by state, a span per account task."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from sqlalchemy.ext.asyncio import AsyncSession

from api.config import Settings
from api.main import create_app
from tests.cloudsim.aws_purchases import AwsPurchaseSim
from tests.purchases.conftest import (
    add_aws_account,
    add_recommendation,
    aws_purchase_server,
    aws_sim,
    execute,
    make_plan,
)
from tests.telemetry.conftest import value

__all__ = ["aws_purchase_server", "aws_sim"]  # the AWS purchase simulator (fixtures)


@pytest.fixture
def settings_overrides() -> dict[str, object]:
    return {"purchases_enabled": True}


@pytest.fixture
async def app(settings: Settings, span_exporter: InMemorySpanExporter) -> AsyncIterator[FastAPI]:
    application = create_app(settings)
    async with application.router.lifespan_context(application):
        yield application


async def test_executions_lines_and_spans(
    app: FastAPI,
    admin_client: httpx.AsyncClient,
    session: AsyncSession,
    aws_sim: AwsPurchaseSim,
    span_exporter: InMemorySpanExporter,
) -> None:
    good = await add_aws_account(admin_client, aws_sim, name="good")
    refused = await add_aws_account(admin_client, aws_sim, name="refused", valid_key=False)
    for account in (good, refused):
        await add_recommendation(session, account, count=2)
    plan = await make_plan(admin_client)
    targets = {"account_ids": [str(good.id), str(refused.id)]}
    assert (
        await admin_client.put(f"/api/plans/{plan['id']}/accounts", json=targets)
    ).status_code == 200
    before = (await admin_client.get("/metrics")).text
    span_exporter.clear()

    _, executions = await execute(app, admin_client, plan["id"])

    assert [e["status"] for e in executions] == ["completed", "failed"]  # good, refused
    after = (await admin_client.get("/metrics")).text
    done = "cudly_purchase_executions_total"
    assert (
        value(after, done, provider="aws", outcome="completed")
        - value(before, done, provider="aws", outcome="completed")
        == 1
    )
    assert (
        value(after, done, provider="aws", outcome="failed")
        - value(before, done, provider="aws", outcome="failed")
        == 1
    )
    assert value(after, "cudly_purchase_lines", state="purchased") == 1
    assert value(after, "cudly_purchase_lines", state="purchasing") == 0
    assert value(after, "cudly_purchase_lines_purchasing_oldest_age_seconds") == 0
    assert str(good.id) not in after and str(refused.id) not in after

    spans = list(span_exporter.get_finished_spans())
    (group,) = [s for s in spans if s.name == "purchase.executions"]
    assert group.context is not None
    tasks = [
        s
        for s in spans
        if s.name == "execution.account"
        and s.parent is not None
        and s.parent.span_id == group.context.span_id
    ]
    attributes = sorted(
        (str(s.attributes["cudly.cloud_account_id"]), str(s.attributes["cudly.execution_id"]))
        for s in tasks
        if s.attributes
    )
    assert attributes == sorted((e["cloud_account_id"], e["id"]) for e in executions)
    assert all(s.attributes and s.attributes["cudly.provider"] == "aws" for s in tasks)
