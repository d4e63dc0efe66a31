"""At most ``CUDLY_TEST_RATE_LIMIT_PER_MINUTE`` connectivity tests per account per minute,
counted in PostgreSQL so every worker shares the limit."""

from __future__ import annotations

import uuid

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from api.config import Settings
from api.main import create_app
from tests.credentials.fixtures import add_account


async def test_eleventh_call_is_429_and_other_accounts_are_unaffected(
    admin_client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    assert settings.clouds.test_rate_limit_per_minute == 10
    account = await add_account(session)
    other = await add_account(session)
    for _ in range(10):
        response = await admin_client.post(f"/api/accounts/{account.id}/test")
        assert response.status_code == 200
        assert response.json() == {"ok": False, "error": "no credentials configured"}
    response = await admin_client.post(f"/api/accounts/{account.id}/test")
    assert response.status_code == 429
    assert response.json()["code"] == "rate_limited"
    assert 1 <= int(response.headers["Retry-After"]) <= 60
    response = await admin_client.post(f"/api/accounts/{other.id}/test")
    assert response.status_code == 200


async def test_the_limit_is_shared_by_every_worker(
    admin_client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    account = await add_account(session)
    second_worker = create_app(settings)  # another process's app, same database
    async with second_worker.router.lifespan_context(second_worker):
        transport = httpx.ASGITransport(app=second_worker, raise_app_exceptions=False)
        async with httpx.AsyncClient(
            transport=transport, base_url="http://testserver", headers=admin_client.headers
        ) as other_client:
            for index in range(10):
                client = admin_client if index % 2 else other_client
                response = await client.post(f"/api/accounts/{account.id}/test")
                assert response.status_code == 200
            for client in (admin_client, other_client):
                response = await client.post(f"/api/accounts/{account.id}/test")
                assert response.status_code == 429
                assert "Retry-After" in response.headers


async def test_unknown_account_is_404_not_counted(admin_client: httpx.AsyncClient) -> None:
    missing = uuid.uuid4()
    for _ in range(12):
        response = await admin_client.post(f"/api/accounts/{missing}/test")
        assert response.status_code == 404


async def test_concurrent_calls_from_two_workers_admit_exactly_the_limit(
    admin_client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    """16 calls at once, split over two apps with their own pools: exactly 10 get through."""
    import asyncio

    account = await add_account(session)
    second_worker = create_app(settings)
    async with second_worker.router.lifespan_context(second_worker):
        transport = httpx.ASGITransport(app=second_worker, raise_app_exceptions=False)
        async with httpx.AsyncClient(
            transport=transport, base_url="http://testserver", headers=admin_client.headers
        ) as other_client:
            responses = await asyncio.gather(
                *(
                    (admin_client if i % 2 else other_client).post(
                        f"/api/accounts/{account.id}/test"
                    )
                    for i in range(16)
                )
            )
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [200] * 10 + [429] * 6
