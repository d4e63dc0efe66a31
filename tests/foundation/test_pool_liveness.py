"""Pooled connections are checked on checkout without pool_pre_ping's three round trips.

A connection the server closed (backend terminated, database restarted) is replaced locally;
one idle past ``POOL_PING_IDLE_S`` is pinged, so a peer that vanished without closing the
socket is replaced too. Either way the request that checks it out answers normally.
"""

from __future__ import annotations

import asyncio
import tempfile
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import event
from sqlalchemy.engine import make_url

import api.db
from tests.fixtures.database import PgServer


async def test_a_connection_the_server_closed_is_replaced_without_an_error(
    app: FastAPI, admin_client: httpx.AsyncClient, pg_server: PgServer, database_url: str
) -> None:
    drivers: list[Any] = []

    def seen(dbapi_connection: Any, *_: Any) -> None:
        drivers.append(dbapi_connection.driver_connection)

    event.listen(app.state.engine.sync_engine, "checkout", seen)
    assert (await admin_client.get("/api/auth/me")).status_code == 200
    event.remove(app.state.engine.sync_engine, "checkout", seen)
    # The backends of every connection checked out meanwhile (the app's background claim
    # loops share the pool, and theirs may carry another application name).
    pids = sorted({driver.get_server_pid() for driver in drivers})
    admin = await pg_server.admin()
    try:
        killed = await admin.fetchval(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
            " WHERE datname = $1 AND pid = ANY($2::int[])",
            make_url(database_url).database,
            pids,
        )
    finally:
        await admin.close()
    assert killed == len(pids) >= 1
    for _ in range(1500):  # until the driver has read the closed socket (at most 30 s)
        if all(driver.is_closed() for driver in drivers):
            break
        await asyncio.sleep(0.02)
    assert drivers
    assert all(driver.is_closed() for driver in drivers)

    again = await admin_client.get("/api/auth/me")
    assert again.status_code == 200, again.text


@dataclass
class Proxy:
    """A Unix-socket proxy to PostgreSQL whose open connections can be frozen: bytes stop
    flowing both ways but the sockets stay open, as with a peer gone behind a dead route."""

    upstream: str
    directory: str
    frozen: list[asyncio.Event] = field(default_factory=list)
    tasks: set[asyncio.Task[None]] = field(default_factory=set)
    writers: list[asyncio.StreamWriter] = field(default_factory=list)

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_unix_connection(self.upstream)
        self.writers += [writer, up_writer]
        thawed = asyncio.Event()
        thawed.set()
        self.frozen.append(thawed)

        async def pump(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            while data := await src.read(65536):
                await thawed.wait()
                dst.write(data)
                await dst.drain()

        for src, dst in ((reader, up_writer), (up_reader, writer)):
            task = asyncio.create_task(pump(src, dst))
            self.tasks.add(task)

    def freeze_open_connections(self) -> int:
        for thawed in self.frozen:
            thawed.clear()
        return len(self.frozen)

    def thaw(self) -> None:
        for thawed in self.frozen:
            thawed.set()


@pytest.fixture
async def proxy(pg_server: PgServer) -> AsyncIterator[Proxy]:
    admin = await pg_server.admin()
    try:
        directory = (await admin.fetchval("SHOW unix_socket_directories")).split(",")[0].strip()
        port = await admin.fetchval("SHOW port")
    finally:
        await admin.close()
    with tempfile.TemporaryDirectory(prefix="cudly-proxy-") as tmp:
        relay = Proxy(upstream=f"{directory}/.s.PGSQL.{port}", directory=tmp)
        server = await asyncio.start_unix_server(relay.handle, path=f"{tmp}/.s.PGSQL.{port}")
        try:
            yield relay
        finally:
            server.close()
            for task in relay.tasks:
                task.cancel()
            for writer in relay.writers:
                writer.close()


@pytest.fixture
def settings_overrides(proxy: Proxy, database_url: str) -> dict[str, object]:
    proxied = make_url(database_url).update_query_dict({"host": proxy.directory})
    return {
        "database_url": proxied.render_as_string(hide_password=False),
        "db_connect_timeout_s": 1.0,
    }


async def test_an_idle_connection_that_stopped_answering_is_replaced(
    app: FastAPI, admin_client: httpx.AsyncClient, proxy: Proxy, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert (await admin_client.get("/api/auth/me")).status_code == 200
    monkeypatch.setattr(api.db, "POOL_PING_IDLE_S", 0.0)  # every pooled connection counts as idle
    assert proxy.freeze_open_connections() >= 1
    # Without the ping the request would wait on the dead connection for command_timeout (60 s).
    async with asyncio.timeout(30):
        again = await admin_client.get("/api/auth/me")
    assert again.status_code == 200, again.text
    proxy.thaw()  # so the app's shutdown closes its other connections cleanly


class _StuckEngine:
    """An engine whose pool close never returns (a connection stuck mid-operation)."""

    async def dispose(self) -> None:
        await asyncio.Event().wait()


async def test_shutdown_does_not_wait_on_a_pool_that_will_not_close(
    caplog: pytest.LogCaptureFixture,
) -> None:
    from api.main import _dispose

    async with asyncio.timeout(30):  # a guard for the test run, not a threshold on the product
        await _dispose(_StuckEngine(), timeout_s=0.05)  # type: ignore[arg-type]
    assert "closing the database pool took over" in caplog.text
