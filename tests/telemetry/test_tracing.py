"""Spans read back from the SDK's in-memory exporter: a request and a run, parent and child."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from api.config import Settings
from api.enums import Provider
from api.kit.fanout import fan_out
from api.main import create_app
from api.telemetry import tracing


@pytest.fixture
async def app(settings: Settings, span_exporter: InMemorySpanExporter) -> AsyncIterator[FastAPI]:
    application = create_app(settings)  # after the exporter: the app is instrumented
    async with application.router.lifespan_context(application):
        yield application


def _children(spans: list[ReadableSpan], parent: ReadableSpan) -> list[ReadableSpan]:
    assert parent.context is not None
    return [s for s in spans if s.parent is not None and s.parent.span_id == parent.context.span_id]


def _descends(spans: list[ReadableSpan], span: ReadableSpan, ancestor: ReadableSpan) -> bool:
    by_id = {s.context.span_id: s for s in spans if s.context is not None}
    current: ReadableSpan | None = span
    while current is not None and current.parent is not None:
        if ancestor.context is not None and current.parent.span_id == ancestor.context.span_id:
            return True
        current = by_id.get(current.parent.span_id)
    return False


async def test_a_request_span_parents_its_database_spans(
    admin_client: httpx.AsyncClient, span_exporter: InMemorySpanExporter
) -> None:
    span_exporter.clear()
    response = await admin_client.get("/api/accounts")
    assert response.status_code == 200
    spans = list(span_exporter.get_finished_spans())
    (request,) = [s for s in spans if s.name == "GET /api/accounts"]
    assert request.attributes is not None
    assert request.attributes.get("http.route") == "/api/accounts"
    # The request's own statements: the accounts list reads cloud_accounts. (Every process
    # also runs background claim loops — collection and executions — whose statements are
    # spans of their own traces and may land in the exporter during the request.)
    statements = [
        s
        for s in spans
        if s.attributes
        and s.attributes.get("db.system") == "postgresql"
        and "cloud_accounts" in str(s.attributes.get("db.statement", ""))
    ]
    assert statements, [(s.name, dict(s.attributes or {})) for s in spans]
    assert all(_descends(spans, s, request) for s in statements)
    assert all(s.context.trace_id == request.context.trace_id for s in statements)


async def test_health_probes_and_scrapes_are_not_traced(
    client: httpx.AsyncClient, span_exporter: InMemorySpanExporter
) -> None:
    span_exporter.clear()
    await client.get("/api/health")
    await client.get("/api/ready")
    assert [s for s in span_exporter.get_finished_spans() if s.kind.name == "SERVER"] == []


async def test_a_run_span_parents_one_span_per_account_task(
    span_exporter: InMemorySpanExporter,
) -> None:
    span_exporter.clear()
    run_id = uuid.uuid4()
    accounts = [(uuid.uuid4(), Provider.aws), (uuid.uuid4(), Provider.gcp)]

    async def sweep(account: tuple[uuid.UUID, Provider]) -> None:
        with tracing.account_task(
            "collection.account", run_id=run_id, cloud_account_id=account[0], provider=account[1]
        ):
            await asyncio.sleep(0)
            if account[1] is Provider.gcp:
                raise RuntimeError("simulated failure")

    with tracing.span("collection.run", run_id=run_id):
        await fan_out(accounts, sweep, limit=2, timeout_s=5)

    spans = list(span_exporter.get_finished_spans())
    (run,) = [s for s in spans if s.name == "collection.run"]
    tasks = _children(spans, run)
    assert sorted(s.name for s in tasks) == ["collection.account", "collection.account"]
    by_account = {s.attributes["cudly.cloud_account_id"]: s for s in tasks if s.attributes}
    assert set(by_account) == {str(a[0]) for a, _ in zip(accounts, accounts, strict=True)}
    for account_id, provider in accounts:
        span = by_account[str(account_id)]
        assert span.attributes is not None
        assert span.attributes["cudly.run_id"] == str(run_id)
        assert span.attributes["cudly.provider"] == provider.value
    assert by_account[str(accounts[1][0])].status.status_code.name == "ERROR"
    assert by_account[str(accounts[0][0])].status.status_code.name == "UNSET"
