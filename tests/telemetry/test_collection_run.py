"""A real collection run over simulated AWS accounts — one throttled, one refused — seen from
/metrics, the trace and the JSON logs (the real collectors against the simulator, STS on moto)."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from api.config import Settings
from api.logging import configure_logging
from api.main import create_app
from tests.cloudsim import SimServer
from tests.cloudsim.collect import CollectSim, aws_ec2_detail, collect_settings
from tests.collection.conftest import refresh_and_wait
from tests.credentials.fixtures import AwsEnv, aws, sts_proxy
from tests.providers.collect_helpers import aws_temporary_keys
from tests.telemetry.conftest import value

__all__ = ["aws", "sts_proxy"]  # moto behind the counting STS proxy (fixtures)

OK, THROTTLED, REFUSED = "320000000001", "320000000002", "320000000003"
CE = {"provider": "aws", "service": "cost-explorer"}
RI = {**CE, "operation": "GetReservationPurchaseRecommendation"}


@pytest.fixture
def settings_overrides(cloudsim: SimServer) -> dict[str, object]:
    return {**collect_settings(cloudsim), "max_account_parallelism": 3, "account_timeout_s": 30}


@pytest.fixture
async def app(settings: Settings, span_exporter: InMemorySpanExporter) -> AsyncIterator[FastAPI]:
    application = create_app(settings)  # tracing on, into memory
    async with application.router.lifespan_context(application):
        yield application


@pytest.fixture
def json_log() -> Iterator[io.StringIO]:
    configure_logging("INFO", "json")
    (handler,) = [h for h in logging.getLogger().handlers if getattr(h, "_cudly", False)]
    assert isinstance(handler, logging.StreamHandler)
    buffer = io.StringIO()
    handler.setStream(buffer)
    yield buffer
    configure_logging("INFO", "text")


async def _arrange(admin: httpx.AsyncClient, aws: AwsEnv, sim: CollectSim) -> dict[str, str]:
    ids = {}
    for account in (OK, THROTTLED, REFUSED):
        created = await admin.post(
            "/api/accounts",
            json={"name": f"acct {account}", "provider": "aws", "external_id": account},
        )
        assert created.status_code == 201, created.text
        ids[account] = created.json()["id"]
        stored = await admin.post(
            f"/api/accounts/{ids[account]}/credentials", json=aws_temporary_keys(aws, account)
        )
        assert stored.status_code == 204, stored.text
        sim.aws_ri(account, "ec2", aws_ec2_detail(account=account), term=3)
    # More than botocore retries (3 attempts), so our own backoff retries (and logs) too.
    sim.fault(THROTTLED, "throttle", count=4, operation="GetReservationPurchaseRecommendation")
    sim.fault(REFUSED, "bad_credentials", operation="GetReservationPurchaseRecommendation")
    return ids


async def test_metrics_spans_and_logs_of_a_run(
    aws: AwsEnv,
    collect_sim: CollectSim,
    admin_client: httpx.AsyncClient,
    span_exporter: InMemorySpanExporter,
    json_log: io.StringIO,
) -> None:
    ids = await _arrange(admin_client, aws, collect_sim)
    before = (await admin_client.get("/metrics")).text
    span_exporter.clear()

    run = await refresh_and_wait(admin_client, timeout_s=120)

    statuses = {row["cloud_account_id"]: row["status"] for row in run["accounts"]}
    assert statuses == {ids[OK]: "ok", ids[THROTTLED]: "ok", ids[REFUSED]: "failed"}
    after = (await admin_client.get("/metrics")).text

    def delta(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    # The run, its sweeps by outcome, the throttling and the refusal.
    assert delta("cudly_collection_runs_total", outcome="completed") == 1
    assert delta("cudly_collection_run_duration_seconds_count", outcome="completed") == 1
    sweeps = "cudly_collection_account_sweep_duration_seconds_count"
    assert delta(sweeps, provider="aws", outcome="ok") == 2
    assert delta(sweeps, provider="aws", outcome="failed") == 1
    assert delta("cudly_cloud_throttles_total", **RI) == 4
    # Attempts 1-3 throttled (botocore retries twice), our backoff retries the call once, its
    # attempt 4 is throttled (botocore retries) and attempt 5 answers.
    assert delta("cudly_cloud_retries_total", **RI) == 4
    assert delta("cudly_cloud_calls_total", **RI, outcome="error") >= 1  # the refused key
    assert delta("cudly_cloud_calls_total", **RI, outcome="ok") >= 2
    assert value(after, "cudly_collection_last_run_accounts", status="ok") == 2
    assert value(after, "cudly_collection_last_run_accounts", status="failed") == 1
    assert value(after, "cudly_collection_runs_running") == 0
    for account_id in ids.values():
        assert account_id not in after

    # One run span, one child per account task, with its ids; the refused one errored.
    spans = list(span_exporter.get_finished_spans())
    (run_span,) = [s for s in spans if s.name == "collection.run"]
    assert run_span.attributes is not None and run_span.attributes["cudly.run_id"] == run["id"]
    assert run_span.context is not None
    tasks = [
        s
        for s in spans
        if s.name == "collection.account"
        and s.parent is not None
        and s.parent.span_id == run_span.context.span_id
    ]
    by_account = {str(s.attributes["cudly.cloud_account_id"]): s for s in tasks if s.attributes}
    assert set(by_account) == set(ids.values())
    assert all(s.attributes and s.attributes["cudly.provider"] == "aws" for s in tasks)
    assert by_account[ids[REFUSED]].status.status_code.name == "ERROR"
    # Cloud calls (botocore) and statements nest under the account task that made them.
    task_ids = {s.context.span_id for s in tasks if s.context is not None}
    children = [s for s in spans if s.parent is not None and s.parent.span_id in task_ids]
    assert children

    # Every log line written inside an account task names the run and that account.
    records: list[dict[str, Any]] = [
        json.loads(line) for line in json_log.getvalue().splitlines() if line.startswith("{")
    ]
    in_tasks = [r for r in records if "cloud_account_id" in r]
    assert in_tasks, records
    for record in in_tasks:
        assert record["run_id"] == run["id"]
        assert record["cloud_account_id"] in ids.values()
        assert record["provider"] == "aws"
