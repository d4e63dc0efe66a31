"""Abuse against a real uvicorn (oversized and lying bodies, deep JSON, slow clients, a login
flood) and in-process (expired and revoked credentials on writes, tampered cursors): each is
a clear 4xx in the SPEC §2 error shape, and nothing changes."""

from __future__ import annotations

import asyncio
import base64
import json
import socket
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import text, update

from api.config import Settings
from api.main import create_app
from api.models import ApiKey, Session
from tests.conftest import make_settings
from tests.fixtures.auth import MakeClient, create_user_with_token
from tests.fixtures.database import PgServer, create_test_database, drop_test_database
from tests.fixtures.live_server import LiveServer, start_live_server

LIMIT = 64 * 1024
ACCOUNT = {"name": "abuse", "provider": "aws", "external_id": "123412341234"}


def _error_shape(response: httpx.Response, status: set[int]) -> None:
    assert response.status_code in status, response.text
    body = response.json()
    assert set(body) <= {"error", "code", "fields"} and body["error"] and body["code"], body


@pytest.fixture
async def live(pg_server: PgServer, template_db: str) -> AsyncIterator[tuple[LiveServer, str]]:
    """A real uvicorn on its own database, and an admin token for it."""
    name = await create_test_database(pg_server, template_db)
    settings: Settings = make_settings(pg_server.url_for(name), max_body_bytes=LIMIT)
    local = create_app(settings)  # on this loop, to arrange rows; the server has its own
    async with local.router.lifespan_context(local):
        _, token = await create_user_with_token(local, role="admin")
    server = await asyncio.to_thread(start_live_server, settings)
    try:
        yield server, token
    finally:
        await asyncio.to_thread(server.stop)
        await drop_test_database(pg_server, name)


def _raw(url: str) -> socket.socket:
    host, port = url.removeprefix("http://").split(":")
    sock = socket.create_connection((host, int(port)), timeout=10)
    return sock


def _read_status(sock: socket.socket) -> int:
    data = b""
    while b"\r\n" not in data:
        chunk = sock.recv(4096)
        if not chunk:
            break
        data += chunk
    return int(data.split(b" ", 2)[1]) if data else 0


async def _accounts(url: str, token: str) -> int:
    async with httpx.AsyncClient(base_url=url, headers={"Authorization": f"Bearer {token}"}) as c:
        response = await c.get("/api/accounts")
        assert response.status_code == 200, response.text
        return len(response.json()["accounts"])


async def test_bodies_over_the_limit_are_413_however_they_arrive(
    live: tuple[LiveServer, str],
) -> None:
    server, token = live
    auth = {"Authorization": f"Bearer {token}"}
    big = json.dumps({**ACCOUNT, "description": "x" * (LIMIT * 4)})
    async with httpx.AsyncClient(base_url=server.url, headers=auth, timeout=30) as http:
        # declared length over the limit
        _error_shape(
            await http.post(
                "/api/accounts", content=big, headers={"Content-Type": "application/json"}
            ),
            {413},
        )

        # chunked, no length declared
        async def chunks() -> AsyncIterator[bytes]:
            for start in range(0, len(big), 8192):
                yield big[start : start + 8192].encode()

        _error_shape(
            await http.post(
                "/api/accounts", content=chunks(), headers={"Content-Type": "application/json"}
            ),
            {413},
        )
    # a Content-Length that lies (claims small, sends more): the server answers, never 5xx
    sock = await asyncio.to_thread(_raw, server.url)
    try:
        body = big.encode()
        head = (
            "POST /api/accounts HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            f"Authorization: Bearer {token}\r\nContent-Length: 10\r\n\r\n"
        ).encode()
        await asyncio.to_thread(sock.sendall, head + body[:LIMIT])
        status = await asyncio.to_thread(_read_status, sock)
        assert 400 <= status < 500, status
    finally:
        sock.close()
    assert await _accounts(server.url, token) == 0


@pytest.mark.parametrize("depth", [1_000, 100_000])
async def test_deeply_nested_json_is_400_and_creates_nothing(
    live: tuple[LiveServer, str], depth: int
) -> None:
    server, token = live
    nested = "[" * depth + "]" * depth
    async with httpx.AsyncClient(
        base_url=server.url, headers={"Authorization": f"Bearer {token}"}, timeout=30
    ) as http:
        for path, template in (
            (
                "/api/accounts",
                '{"name":"deep","provider":"aws","external_id":"123412341234","description":%s}',
            ),
            ("/api/plans", '{"name":"deep","services":{"aws:ec2":{"include_regions":%s}}}'),
            ("/api/auth/login", '{"email":"a@example.com","password":%s}'),
        ):
            response = await http.post(
                path, content=template % nested, headers={"Content-Type": "application/json"}
            )
            _error_shape(response, {400, 413})
        plans = await http.get("/api/plans")
        assert plans.json()["plans"] == []
    assert await _accounts(server.url, token) == 0


async def test_slow_clients_do_not_starve_others(live: tuple[LiveServer, str]) -> None:
    """Slowloris: 200 connections drip half a request; normal requests are still answered,
    and a client that stalls mid-body is cut off without a row being written."""
    server, token = live

    def open_slow(count: int) -> list[socket.socket]:
        socks = []
        for _ in range(count):
            sock = _raw(server.url)
            sock.sendall(b"GET /api/health HTTP/1.1\r\nHost: x\r\nX-Slow: ")
            socks.append(sock)
        return socks

    slow = await asyncio.to_thread(open_slow, 200)
    try:
        stalled = await asyncio.to_thread(_raw, server.url)
        head = (
            "POST /api/accounts HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            f"Authorization: Bearer {token}\r\nContent-Length: 500\r\n\r\n" + '{"name": "st'
        ).encode()
        await asyncio.to_thread(stalled.sendall, head)
        async with httpx.AsyncClient(base_url=server.url, timeout=10) as http:
            started = time.monotonic()
            for _ in range(20):
                assert (await http.get("/api/health")).status_code == 200
            elapsed = time.monotonic() - started
        for sock in slow[:50]:  # still dripping: a byte more each, the server keeps serving
            await asyncio.to_thread(sock.sendall, b"y")
        async with httpx.AsyncClient(base_url=server.url, timeout=10) as http:
            assert (await http.get("/api/health")).status_code == 200
        stalled.close()  # the body never completes: no account may appear
    finally:
        for sock in slow:
            sock.close()
    assert await _accounts(server.url, token) == 0
    print(f"20 health checks beside 200 slow clients: {elapsed:.2f}s")


async def test_a_login_flood_is_401_then_429_never_5xx(live: tuple[LiveServer, str]) -> None:
    server, token = live
    async with httpx.AsyncClient(base_url=server.url, timeout=60) as http:
        body = {"email": "victim@example.com", "password": "wrong-password-123"}
        responses = await asyncio.gather(
            *(http.post("/api/auth/login", json=body) for _ in range(60))
        )
        statuses = sorted({r.status_code for r in responses})
        assert set(statuses) <= {401, 429}, statuses
        assert 429 in statuses, statuses
        for response in responses:
            _error_shape(response, {401, 429})
            if response.status_code == 429:
                assert int(response.headers["Retry-After"]) > 0
        # the service still answers everyone else
        assert (await http.get("/api/health")).status_code == 200
    assert await _accounts(server.url, token) == 0


# --- in process -------------------------------------------------------------------------


async def _count(app: FastAPI, table: str) -> int:
    async with app.state.sessionmaker() as db:
        return int((await db.execute(text(f"SELECT count(*) FROM {table}"))).scalar_one())


async def test_expired_and_revoked_credentials_change_nothing(
    app: FastAPI, client: httpx.AsyncClient, make_client: MakeClient
) -> None:
    expired_user, expired = await create_user_with_token(app, role="admin")
    _, revoked = await create_user_with_token(app, role="admin")
    _, keyed = await create_user_with_token(app, role="admin")
    owner = {"Authorization": f"Bearer {keyed}"}
    key = (await client.post("/api/api-keys", json={"name": "k"}, headers=owner)).json()["key"]
    logout = await client.post("/api/auth/logout", headers={"Authorization": f"Bearer {revoked}"})
    assert logout.status_code == 204, logout.text
    past = datetime.now(UTC) - timedelta(seconds=1)
    async with app.state.sessionmaker() as db:
        await db.execute(
            update(Session).where(Session.user_id == expired_user).values(expires_at=past)
        )
        await db.execute(update(ApiKey).values(expires_at=past))
        await db.commit()
    before = [await _count(app, t) for t in ("cloud_accounts", "purchase_plans", "audit_events")]
    for headers in (
        {"Authorization": f"Bearer {expired}"},
        {"Authorization": f"Bearer {revoked}"},
        {"Authorization": f"Bearer {key}"},
        {"X-API-Key": key},
        {"Authorization": f"Bearer {expired}x"},
        {"Authorization": "Bearer "},
        {"Authorization": f"Basic {base64.b64encode(b'a:b').decode()}"},
    ):
        for method, path, body in (
            ("POST", "/api/accounts", ACCOUNT),
            ("POST", "/api/plans", {"name": "p", "services": {"aws:ec2": {}}}),
            ("POST", "/api/api-keys", {"name": "more"}),
        ):
            response = await client.request(method, path, json=body, headers=headers)
            _error_shape(response, {401})
    after = [await _count(app, t) for t in ("cloud_accounts", "purchase_plans", "audit_events")]
    assert after == before


def _b64(raw: str) -> str:
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


TAMPERED = [
    "garbage!!",
    "",
    _b64("not json"),
    _b64("[]"),
    _b64('["a"]'),
    _b64('["2026-01-01T00:00:00", "not-a-uuid"]'),
    _b64('["not-a-date", "00000000-0000-0000-0000-000000000000"]'),
    _b64("[1, 2]"),
    _b64('{"a": 1}'),
    _b64('["\' OR 1=1 --", "00000000-0000-0000-0000-000000000000"]'),
    _b64('["99999-01-01T00:00:00", "00000000-0000-0000-0000-000000000000"]'),
    _b64('["NaN", "00000000-0000-0000-0000-000000000000"]'),
    _b64('["1e309", "00000000-0000-0000-0000-000000000000"]'),
    _b64('["\\u0000", "00000000-0000-0000-0000-000000000000"]'),
    "A" * 10_000,
]


@pytest.mark.parametrize(
    "path", ["/api/recommendations", "/api/commitments", "/api/history", "/api/audit"]
)
async def test_tampered_cursors_are_400(admin_client: httpx.AsyncClient, path: str) -> None:
    for cursor in TAMPERED:
        response = await admin_client.get(path, params={"cursor": cursor})
        if cursor == "":
            assert response.status_code == 200, response.text  # empty = no cursor (SPEC)
            continue
        assert response.status_code in {200, 400}, f"{cursor[:60]!r}: {response.text}"
        if response.status_code == 400:
            _error_shape(response, {400})
