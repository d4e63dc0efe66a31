"""The executions event stream is the same whichever replica serves it (issue 20).

Replica A (the test's app) runs the group; replica B (a real uvicorn on the same database, in
a thread with its own app and loop) runs nothing and serves ``GET
/api/executions/{group}/events``. B's fallback poll is made an hour long, so B can only learn
that an execution finished from the ``cudly_executions`` notification migration 0009's
trigger sends on A's commit.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession

from api.config import Settings
from api.purchases import endpoints
from tests.cloudsim.aws_purchases import AwsPurchaseSim
from tests.fixtures.auth import create_user_with_token
from tests.fixtures.live_server import start_live_server
from tests.purchases.conftest import (
    add_aws_account,
    add_recommendation,
    make_plan,
    wait_for_runner,
)


@pytest.fixture
def settings_overrides() -> dict[str, object]:
    return {"purchases_enabled": True, "purchase_grace_days": 0}


async def _events(response: httpx.Response) -> AsyncIterator[tuple[str, dict[str, Any]]]:
    name, data = "", ""
    async for line in response.aiter_lines():
        if line.startswith("event: "):
            name = line.removeprefix("event: ")
        elif line.startswith("data: "):
            data = line.removeprefix("data: ")
        elif not line and name:
            yield name, json.loads(data)
            name, data = "", ""


async def test_a_replica_that_runs_nothing_streams_the_group_from_notifications(
    app: FastAPI,
    admin_client: httpx.AsyncClient,
    session: AsyncSession,
    aws_sim: AwsPurchaseSim,
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(endpoints, "EVENT_POLL_S", 3600.0)
    good = await add_aws_account(admin_client, aws_sim, name="a-good")
    bad = await add_aws_account(admin_client, aws_sim, name="b-bad", valid_key=False)
    for account in (good, bad):
        await add_recommendation(session, account, count=1)
    plan = await make_plan(admin_client)
    aws_sim.arm_hang()  # the good account's purchase is accepted and its answer held back
    executed = await admin_client.post(f"/api/plans/{plan['id']}/execute")  # A runs it
    assert executed.status_code == 202, executed.text
    group_id = executed.json()["execution_group_id"]
    _, token = await create_user_with_token(app, role="admin")
    replica = start_live_server(settings)
    received: list[tuple[str, dict[str, Any]]] = []
    try:
        async with (
            asyncio.timeout(60),  # a hang guard: without the notification B would sleep on
            httpx.AsyncClient(
                base_url=replica.url, headers={"Authorization": f"Bearer {token}"}, timeout=60
            ) as http,
            http.stream("GET", f"/api/executions/{group_id}/events") as response,
        ):
            assert response.status_code == 200
            async for event in _events(response):
                received.append(event)
                if len(received) == 1:
                    # B has read the group once (the bad account failed); only now may the
                    # good account's execution finish.
                    assert await asyncio.to_thread(aws_sim.accepted.wait, 30)
                    aws_sim.release()
    finally:
        aws_sim.release()
        await asyncio.to_thread(replica.stop)
    await wait_for_runner(app)
    assert [name for name, _ in received] == ["execution", "execution", "group"]
    assert [data["account_name"] for _, data in received[:2]] == ["b-bad", "a-good"]
    assert [data["status"] for _, data in received[:2]] == ["failed", "completed"]
    assert received[2][1] | {"execution_group_id": group_id} == {
        "execution_group_id": group_id,
        "status": "partial",
        "executions": 2,
        "completed": 1,
        "partial": 0,
        "failed": 1,
    }
    assert len(aws_sim.purchases_of()) == 1
