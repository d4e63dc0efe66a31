"""Log lines written inside a task carry its ids: the real handler, JSON format."""

from __future__ import annotations

import asyncio
import io
import json
import logging
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from api.enums import Provider
from api.kit.fanout import fan_out
from api.logging import configure_logging
from api.telemetry import context, tracing

deep_logger = logging.getLogger("api.providers.somewhere.deep")


@pytest.fixture
def json_lines() -> Iterator[io.StringIO]:
    """The app's own log handler (``configure_logging``) in JSON, writing to a buffer."""
    configure_logging("INFO", "json")
    (handler,) = [h for h in logging.getLogger().handlers if getattr(h, "_cudly", False)]
    assert isinstance(handler, logging.StreamHandler)
    buffer = io.StringIO()
    handler.setStream(buffer)
    yield buffer
    configure_logging("INFO", "text")


def _records(buffer: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in buffer.getvalue().splitlines() if line.strip()]


def _helper_deep_in_a_provider(step: str) -> None:
    # Knows nothing about runs or accounts.
    deep_logger.info("calling the cloud", extra={"step": step})


async def test_each_task_logs_its_own_ids(json_lines: io.StringIO) -> None:
    run_id = uuid.uuid4()
    accounts = [
        (uuid.uuid4(), Provider.aws),
        (uuid.uuid4(), Provider.azure),
        (uuid.uuid4(), Provider.gcp),
    ]

    async def sweep(account: tuple[uuid.UUID, Provider]) -> None:
        with tracing.account_task(
            "collection.account", run_id=run_id, cloud_account_id=account[0], provider=account[1]
        ):
            _helper_deep_in_a_provider("start")
            await asyncio.sleep(0)  # the tasks interleave
            _helper_deep_in_a_provider("end")

    with context.bind(run_id=run_id):
        deep_logger.info("run started")
        await fan_out(accounts, sweep, limit=3, timeout_s=5)
    deep_logger.info("after the run")

    records = _records(json_lines)
    started, *tasks, after = records
    assert started["run_id"] == str(run_id) and "cloud_account_id" not in started
    assert len(tasks) == 6
    expected = {str(account_id): provider.value for account_id, provider in accounts}
    for record in tasks:
        assert record["logger"] == "api.providers.somewhere.deep"
        assert record["run_id"] == str(run_id)
        assert record["provider"] == expected[record["cloud_account_id"]]
        assert {"ts", "level", "message", "request_id", "step"} <= set(record)
    assert sorted(r["cloud_account_id"] for r in tasks) == sorted(list(expected) * 2)
    assert not {"run_id", "cloud_account_id", "provider"} & set(after)


async def test_an_execution_task_binds_execution_id(json_lines: io.StringIO) -> None:
    execution_id, account_id = uuid.uuid4(), uuid.uuid4()
    with tracing.account_task(
        "execution.account",
        execution_id=execution_id,
        cloud_account_id=account_id,
        provider=Provider.aws,
    ):
        deep_logger.warning("purchase line claimed")
    (record,) = _records(json_lines)
    assert record["execution_id"] == str(execution_id)
    assert record["cloud_account_id"] == str(account_id)
    assert record["provider"] == "aws"
    assert record["level"] == "WARNING"
    assert "run_id" not in record
