"""SSE of a run (SPEC §5) over a real HTTP server: live as accounts finish, replay when done."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi import FastAPI

from api.config import Settings
from api.main import create_app
from tests.collection.conftest import create_accounts, wait_for_run
from tests.collection.fakes import Behaviour, FakeCloud
from tests.fixtures.auth import create_user_with_token


@pytest.fixture
def sse_cloud() -> FakeCloud:
    return FakeCloud()


@pytest.fixture
def server_url(settings: Settings, sse_cloud: FakeCloud) -> Iterator[str]:
    """A uvicorn server (its own thread and loop) whose runner uses the fake cloud."""
    served = create_app(settings)
    served.state.collector_for = sse_cloud.collector_for
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = int(sock.getsockname()[1])
    server = uvicorn.Server(
        uvicorn.Config(served, host="127.0.0.1", port=port, log_config=None, access_log=False)
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "server did not start"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=15)


@pytest.fixture
async def http(app: FastAPI, server_url: str) -> AsyncIterator[httpx.AsyncClient]:
    _, token = await create_user_with_token(app, role="admin")
    async with httpx.AsyncClient(
        base_url=server_url, headers={"Authorization": f"Bearer {token}"}, timeout=60
    ) as client:
        yield client


async def read_events(response: httpx.Response) -> AsyncIterator[tuple[str, dict[str, Any]]]:
    event = None
    async for line in response.aiter_lines():
        if line.startswith("event: "):
            event = line.removeprefix("event: ")
        elif line.startswith("data: ") and event is not None:
            yield event, json.loads(line.removeprefix("data: "))
            event = None


async def test_a_live_run_streams_each_account_as_it_finishes_then_the_run(
    admin_client: httpx.AsyncClient, http: httpx.AsyncClient, sse_cloud: FakeCloud
) -> None:
    accounts = await create_accounts(admin_client, 3)
    # The first account finishes at once; each other one only when the test opens its gate.
    gates = {a["id"]: threading.Event() for a in accounts[1:]}
    for account in accounts[1:]:
        sse_cloud.set(account["external_id"], Behaviour(gate=gates[account["id"]]))

    started = await http.post("/api/recommendations/refresh", json={})
    run_id = started.json()["run_id"]
    seen: list[tuple[str, dict[str, Any]]] = []
    async with http.stream("GET", f"/api/collection-runs/{run_id}/events") as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        async for event, data in read_events(response):
            seen.append((event, data))
            if event == "account":
                # Still running while its events arrive: the stream is live, not a replay.
                run = (await http.get(f"/api/collection-runs/{run_id}")).json()
                waiting = [g for g in gates.values() if not g.is_set()]
                if waiting:
                    assert run["status"] == "running"
                    waiting[0].set()

    assert [event for event, _ in seen] == ["account", "account", "account", "run"]
    account_events = [data for event, data in seen if event == "account"]
    assert [d["cloud_account_id"] for d in account_events] == [a["id"] for a in accounts]
    assert all(d["status"] == "ok" and "warnings" in d for d in account_events)
    assert set(account_events[0]) >= {
        "cloud_account_id",
        "account_name",
        "status",
        "error",
        "warnings",
        "duration_ms",
        "recommendation_count",
        "commitment_count",
    }
    final = seen[-1][1]
    assert final["id"] == run_id and final["status"] == "completed" and "accounts" not in final

    # A finished run replays and closes at once.
    async with http.stream("GET", f"/api/collection-runs/{run_id}/events") as response:
        replay = [item async for item in read_events(response)]
    assert [event for event, _ in replay] == ["account", "account", "account", "run"]
    assert [d["cloud_account_id"] for _, d in replay[:3]] == [
        d["cloud_account_id"] for d in account_events
    ]


async def test_events_of_an_unknown_run_are_404(http: httpx.AsyncClient) -> None:
    response = await http.get("/api/collection-runs/00000000-0000-4000-8000-000000000000/events")
    assert response.status_code == 404


async def test_events_are_scoped_like_the_run(
    admin_client: httpx.AsyncClient, make_client: Any, sse_cloud: FakeCloud, app: FastAPI
) -> None:
    mine, other = await create_accounts(admin_client, 2)
    started = await admin_client.post("/api/recommendations/refresh", json={})
    run = await wait_for_run(admin_client, started.json()["run_id"])
    scoped = await make_client(
        permissions=[
            {
                "action": "view",
                "resource": "recommendations",
                "constraints": {"accounts": [mine["id"]]},
            },
        ]
    )
    response = await scoped.get(f"/api/collection-runs/{run['id']}/events")
    events = [line for line in response.text.splitlines() if line.startswith("data: ")]
    assert len(events) == 2  # its one account, then the run
    assert mine["id"] in events[0] and other["id"] not in response.text
    detail = (await scoped.get(f"/api/collection-runs/{run['id']}")).json()
    assert [a["cloud_account_id"] for a in detail["accounts"]] == [mine["id"]]
