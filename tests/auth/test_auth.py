"""Sign-in, tokens, logout, API keys, first admin, throttling (SPEC §2; issue 3)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import func, select, update

from api.models import ApiKey, AuditEvent, Session, User
from tests.fixtures.auth import MakeClient

PASSWORD = "correct horse battery staple"


async def make_admin(client: httpx.AsyncClient, email: str = "root@example.com") -> None:
    response = await client.post(
        "/api/auth/setup-admin", json={"email": email, "password": PASSWORD}
    )
    assert response.status_code == 201, response.text


async def login(
    client: httpx.AsyncClient, email: str = "root@example.com", password: str = PASSWORD
) -> httpx.Response:
    return await client.post("/api/auth/login", json={"email": email, "password": password})


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def test_login_me_logout(client: httpx.AsyncClient) -> None:
    await make_admin(client)
    response = await login(client, email="ROOT@example.com")  # emails are case-insensitive
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"token", "expires_at", "user"}
    assert body["user"]["email"] == "root@example.com"
    assert body["user"]["role"] == "admin"
    assert "password" not in response.text and "password_hash" not in response.text
    assert datetime.fromisoformat(body["expires_at"]) > datetime.now(UTC)

    me = await client.get("/api/auth/me", headers=bearer(body["token"]))
    assert me.status_code == 200
    assert me.json()["email"] == "root@example.com"

    assert (await client.post("/api/auth/logout", headers=bearer(body["token"]))).status_code == 204
    after = await client.get("/api/auth/me", headers=bearer(body["token"]))
    assert after.status_code == 401
    assert after.json()["code"] == "unauthorized"


async def test_unknown_email_and_wrong_password_look_the_same(client: httpx.AsyncClient) -> None:
    await make_admin(client)
    wrong = await login(client, password="not the password")
    unknown = await login(client, email="nobody@example.com")
    assert wrong.status_code == unknown.status_code == 401
    assert (
        wrong.json()
        == unknown.json()
        == {"error": "invalid email or password", "code": "invalid_credentials"}
    )


@pytest.mark.parametrize(
    "header",
    [
        {},
        {"Authorization": "Bearer nope"},
        {"Authorization": "Basic abc"},
        {"X-API-Key": "cuk_nope"},
        {"Authorization": "Bearer " + "x" * 5000},
    ],
)
async def test_missing_or_bad_credentials_are_401(
    client: httpx.AsyncClient, header: dict[str, str]
) -> None:
    response = await client.get("/api/auth/me", headers=header)
    assert response.status_code == 401
    assert set(response.json()) == {"error", "code"}


async def test_expired_token_is_401(client: httpx.AsyncClient, app: FastAPI) -> None:
    await make_admin(client)
    token = (await login(client)).json()["token"]
    async with app.state.sessionmaker() as db:
        await db.execute(
            update(Session).values(expires_at=datetime.now(UTC) - timedelta(seconds=1))
        )
        await db.commit()
    assert (await client.get("/api/auth/me", headers=bearer(token))).status_code == 401


async def test_deactivated_user_is_signed_out(
    client: httpx.AsyncClient, admin_client: httpx.AsyncClient
) -> None:
    created = await admin_client.post(
        "/api/users", json={"email": "u@example.com", "password": PASSWORD}
    )
    token = (await login(client, "u@example.com")).json()["token"]
    assert (await client.get("/api/auth/me", headers=bearer(token))).status_code == 200
    await admin_client.put(f"/api/users/{created.json()['id']}", json={"is_active": False})
    assert (await client.get("/api/auth/me", headers=bearer(token))).status_code == 401
    assert (await login(client, "u@example.com")).status_code == 401


async def test_malformed_json_and_wrong_types_are_400(client: httpx.AsyncClient) -> None:
    bad_json = await client.post(
        "/api/auth/login", content=b"{not json", headers={"content-type": "application/json"}
    )
    assert bad_json.status_code == 400
    assert bad_json.json()["code"] == "invalid_json"
    wrong_types = await client.post("/api/auth/login", json={"email": 5, "password": ["x"]})
    assert wrong_types.status_code == 400
    body = wrong_types.json()
    assert body["code"] == "validation_error"
    assert {f["field"] for f in body["fields"]} == {"email", "password"}
    extra = await client.post(
        "/api/auth/login", json={"email": "a@b.c", "password": "x", "admin": True}
    )
    assert extra.status_code == 400


async def test_chunked_body_over_limit_is_413(client: httpx.AsyncClient) -> None:
    async def chunks() -> AsyncIterator[
        bytes
    ]:  # no Content-Length: the limit is enforced while streaming
        for _ in range(20):
            yield b"y" * 100_000

    response = await client.post(
        "/api/auth/login", content=chunks(), headers={"content-type": "application/json"}
    )
    assert response.status_code == 413
    assert response.json()["code"] == "payload_too_large"


# --- first admin -----------------------------------------------------------------------


async def test_setup_admin_works_once(client: httpx.AsyncClient) -> None:
    await make_admin(client)
    again = await client.post(
        "/api/auth/setup-admin", json={"email": "two@example.com", "password": PASSWORD}
    )
    assert again.status_code == 409
    assert again.json()["code"] == "admin_exists"


async def test_concurrent_setup_admin_yields_exactly_one_admin(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    responses = await asyncio.gather(
        *(
            client.post(
                "/api/auth/setup-admin",
                json={"email": f"admin{i}@example.com", "password": PASSWORD},
            )
            for i in range(5)
        )
    )
    assert sorted(r.status_code for r in responses) == [201, 409, 409, 409, 409]
    async with app.state.sessionmaker() as db:
        assert (
            await db.scalar(select(func.count()).select_from(User).where(User.role == "admin")) == 1
        )


async def test_setup_admin_rejects_a_short_password(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/api/auth/setup-admin", json={"email": "a@example.com", "password": "short"}
    )
    assert response.status_code == 400
    assert response.json()["fields"][0]["field"] == "password"


class TestAdminFromEnvironment:
    @pytest.fixture
    def settings_overrides(self) -> dict[str, object]:
        return {"admin_email": "boot@example.com", "admin_password": PASSWORD}

    async def test_first_admin_created_on_start(self, client: httpx.AsyncClient) -> None:
        response = await login(client, "boot@example.com")
        assert response.status_code == 200
        assert response.json()["user"]["role"] == "admin"


# --- throttling --------------------------------------------------------------------------


async def test_repeated_failures_are_throttled_with_retry_after(client: httpx.AsyncClient) -> None:
    await make_admin(client)
    statuses = [(await login(client, password=f"wrong-{i}")).status_code for i in range(5)]
    assert statuses == [401] * 5
    locked = await login(client)  # even the right password waits out the window
    assert locked.status_code == 429
    assert int(locked.headers["Retry-After"]) >= 1
    assert locked.json()["code"] == "rate_limited"


async def test_throttling_an_unknown_email_matches_a_known_one(client: httpx.AsyncClient) -> None:
    for _ in range(5):
        await login(client, email="ghost@example.com", password="x")
    assert (await login(client, email="ghost@example.com", password="x")).status_code == 429


# --- API keys ----------------------------------------------------------------------------


async def test_api_key_lifecycle(make_client: MakeClient, client: httpx.AsyncClient) -> None:
    user = await make_client(permissions=[{"action": "view", "resource": "config"}])
    created = await user.post("/api/api-keys", json={"name": "ci"})
    assert created.status_code == 201
    key = created.json()["key"]
    assert key.startswith("cuk_")
    assert created.json()["prefix"] == key[:10]

    listed = await user.get("/api/api-keys")
    assert key not in listed.text
    assert [k["name"] for k in listed.json()["api_keys"]] == ["ci"]

    for headers in (bearer(key), {"X-API-Key": key}):
        me = await client.get("/api/auth/me", headers=headers)
        assert me.status_code == 200
        assert me.json()["via_api_key"] is True
        # the key acts with its owner's permissions, no more
        assert (await client.get("/api/users", headers=headers)).status_code == 403

    assert (await user.delete(f"/api/api-keys/{created.json()['id']}")).status_code == 204
    assert (await client.get("/api/auth/me", headers=bearer(key))).status_code == 401


async def test_expired_api_key_is_401(
    make_client: MakeClient, client: httpx.AsyncClient, app: FastAPI
) -> None:
    user = await make_client()
    key = (await user.post("/api/api-keys", json={"name": "short-lived"})).json()["key"]
    async with app.state.sessionmaker() as db:
        await db.execute(update(ApiKey).values(expires_at=datetime.now(UTC) - timedelta(seconds=1)))
        await db.commit()
    assert (await client.get("/api/auth/me", headers={"X-API-Key": key})).status_code == 401


async def test_api_key_expiry_must_be_future_and_timezone_aware(make_client: MakeClient) -> None:
    user = await make_client()
    past = await user.post(
        "/api/api-keys", json={"name": "x", "expires_at": "2000-01-01T00:00:00Z"}
    )
    naive = await user.post(
        "/api/api-keys", json={"name": "x", "expires_at": "2099-01-01T00:00:00"}
    )
    assert past.status_code == naive.status_code == 400


async def test_api_key_cannot_mint_keys_or_touch_others(
    make_client: MakeClient, client: httpx.AsyncClient
) -> None:
    alice = await make_client()
    bob = await make_client()
    alice_key = (await alice.post("/api/api-keys", json={"name": "a"})).json()
    minted = await client.post(
        "/api/api-keys", json={"name": "b"}, headers={"X-API-Key": alice_key["key"]}
    )
    assert minted.status_code == 403
    assert (await bob.delete(f"/api/api-keys/{alice_key['id']}")).status_code == 404
    assert (await bob.get("/api/api-keys", params={"all": "true"})).status_code == 403


# --- secrets never leak ------------------------------------------------------------------


async def test_no_password_token_or_key_in_logs_or_other_responses(
    client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture, app: FastAPI
) -> None:
    caplog.set_level(logging.DEBUG)
    await make_admin(client)
    token = (await login(client)).json()["token"]
    key = (await client.post("/api/api-keys", json={"name": "k"}, headers=bearer(token))).json()[
        "key"
    ]
    bodies = [
        (await client.get("/api/auth/me", headers=bearer(token))).text,
        (await client.get("/api/api-keys", headers=bearer(token))).text,
        (await client.get("/api/audit", headers=bearer(token))).text,
        (await login(client, password=PASSWORD + "x")).text,
    ]
    for secret in (PASSWORD, token, key):
        assert secret not in caplog.text
        for body in bodies:
            assert secret not in body
    async with app.state.sessionmaker() as db:
        stored = (await db.execute(select(User.password_hash))).scalars().all()
    assert all(h.startswith("$argon2id$") for h in stored)


async def test_mutations_write_audit_events(admin_client: httpx.AsyncClient, app: FastAPI) -> None:
    user = (
        await admin_client.post("/api/users", json={"email": "a@example.com", "password": PASSWORD})
    ).json()
    group = (await admin_client.post("/api/groups", json={"name": "g", "permissions": []})).json()
    await admin_client.put(
        f"/api/users/{user['id']}", json={"group_ids": [group["id"]], "password": PASSWORD + "!"}
    )
    await admin_client.delete(f"/api/groups/{group['id']}")
    async with app.state.sessionmaker() as db:
        events = (
            (await db.execute(select(AuditEvent).order_by(AuditEvent.created_at))).scalars().all()
        )
    actions = [e.action for e in events]
    assert {"user.create", "group.create", "user.update", "group.delete"} <= set(actions)
    update_event = next(e for e in events if e.action == "user.update")
    assert update_event.changed_fields == ["group_ids", "password"]
    assert update_event.request_id
    assert update_event.actor_email


async def test_failures_from_one_ip_for_many_emails_hit_the_ip_limit(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    app.state.settings = app.state.settings.model_copy(update={"login_max_failures_per_ip": 3})
    await make_admin(client)
    for i in range(3):
        assert (
            await login(client, email=f"nobody{i}@example.com", password="x")
        ).status_code == 401
    # another email, same address: the IP's limit applies; the per-email limit (5) is far
    assert (await login(client)).status_code == 429


async def test_a_few_failures_from_one_ip_do_not_lock_out_other_users(
    client: httpx.AsyncClient,
) -> None:
    await make_admin(client)
    for i in range(8):  # more than the per-email limit, spread over emails
        await login(client, email=f"typo{i}@example.com", password="x")
    assert (await login(client)).status_code == 200
