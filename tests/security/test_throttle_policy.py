"""Who a failed sign-in can lock out, and which client address counts (issue 19 items 3-4)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

PASSWORD = "correct horse battery staple"
ADMIN = "root@example.com"

ClientFrom = Callable[..., AbstractAsyncContextManager[httpx.AsyncClient]]


@pytest.fixture
def settings_overrides() -> dict[str, object]:
    return {"login_max_failures": 3, "login_max_failures_per_email": 6}


@pytest.fixture
def client_from(app: FastAPI) -> ClientFrom:
    """A client whose requests arrive from ``ip`` (the TCP peer the server sees)."""

    @asynccontextmanager
    async def make(ip: str) -> AsyncIterator[httpx.AsyncClient]:
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False, client=(ip, 4242))
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
            yield http

    return make


async def login(
    http: httpx.AsyncClient, password: str, headers: dict[str, str] | None = None
) -> httpx.Response:
    return await http.post(
        "/api/auth/login", json={"email": ADMIN, "password": password}, headers=headers
    )


@pytest.fixture
async def admin(client: httpx.AsyncClient) -> None:
    created = await client.post(
        "/api/auth/setup-admin", json={"email": ADMIN, "password": PASSWORD}
    )
    assert created.status_code == 201, created.text


@pytest.mark.usefixtures("admin")
async def test_an_attackers_address_cannot_lock_the_user_out_elsewhere(
    client_from: ClientFrom,
) -> None:
    async with client_from("203.0.113.66") as attacker, client_from("198.51.100.7") as office:
        assert [(await login(attacker, f"guess {i}")).status_code for i in range(3)] == [401] * 3
        assert (await login(attacker, PASSWORD)).status_code == 429  # that pair is locked
        assert (await login(office, PASSWORD)).status_code == 200  # the user is not


@pytest.mark.usefixtures("admin")
async def test_the_per_email_limit_catches_an_attack_spread_over_addresses(
    client_from: ClientFrom,
) -> None:
    statuses = []
    for i in range(6):  # six addresses, one guess each: under every per-pair limit
        async with client_from(f"203.0.113.{i + 1}") as attacker:
            statuses.append((await login(attacker, f"guess {i}")).status_code)
    assert statuses == [401] * 6
    async with client_from("198.51.100.7") as office:
        locked = await login(office, PASSWORD)
    assert locked.status_code == 429
    assert 1 <= int(locked.headers["Retry-After"]) <= 300


@pytest.mark.usefixtures("admin")
async def test_the_per_email_window_doubles_after_it_filled(
    client_from: ClientFrom, session: AsyncSession
) -> None:
    async def spread_guesses(first: int) -> None:
        for i in range(6):
            async with client_from(f"203.0.113.{first + i}") as attacker:
                assert (await login(attacker, "guess")).status_code == 401

    await spread_guesses(1)
    # The window passes (moved back rather than waited for)...
    await session.execute(
        text(
            "UPDATE rate_limit_windows SET window_start = window_start - interval '301 seconds' "
            "WHERE bucket LIKE 'login-email:%'"
        )
    )
    await session.commit()
    await spread_guesses(20)  # ...and the next one fills again
    async with client_from("198.51.100.7") as office:
        locked = await login(office, PASSWORD)
    assert locked.status_code == 429
    assert int(locked.headers["Retry-After"]) > 300  # 600 s: twice the window


@pytest.mark.usefixtures("admin")
async def test_a_success_gives_its_attempt_back(client_from: ClientFrom) -> None:
    async with client_from("198.51.100.7") as office:
        for _ in range(5):  # more sign-ins than the per-pair limit, all correct
            assert (await login(office, PASSWORD)).status_code == 200
        assert [(await login(office, "typo")).status_code for _ in range(3)] == [401] * 3


@pytest.mark.usefixtures("admin")
async def test_forwarded_for_from_an_untrusted_peer_is_ignored(app: FastAPI) -> None:
    app.state.settings = app.state.settings.model_copy(update={"login_max_failures_per_ip": 3})
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False, client=("127.0.0.1", 1))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        statuses = [
            (
                await http.post(
                    "/api/auth/login",
                    json={"email": f"user{i}@example.com", "password": "x"},
                    headers={"X-Forwarded-For": f"192.0.2.{i}"},
                )
            ).status_code
            for i in range(4)
        ]
    assert statuses == [401, 401, 401, 429]  # rotating the header did not reset the IP limit


class TestTrustedProxy:
    @pytest.fixture
    def settings_overrides(self) -> dict[str, object]:
        return {"trusted_proxies": "10.0.0.0/8", "login_max_failures_per_ip": 3}

    @pytest.mark.usefixtures("admin")
    async def test_forwarded_for_from_a_trusted_proxy_names_the_client(
        self, client_from: ClientFrom, session: AsyncSession
    ) -> None:
        async with client_from("10.1.2.3") as balancer:
            for i in range(4):
                response = await balancer.post(
                    "/api/auth/login",
                    json={"email": f"user{i}@example.com", "password": "x"},
                    headers={"X-Forwarded-For": f"192.0.2.{i}"},
                )
                assert response.status_code == 401  # four clients, one failure each
            signed_in = await login(balancer, PASSWORD, {"X-Forwarded-For": "198.51.100.9"})
        assert signed_in.status_code == 200
        ip = await session.scalar(text("SELECT ip FROM sessions ORDER BY created_at DESC LIMIT 1"))
        assert ip == "198.51.100.9"
