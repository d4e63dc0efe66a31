"""Only API keys in X-API-Key; a password reset may revoke the user's keys (item 11)."""

from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI

from tests.fixtures.auth import create_user_with_token


def asgi(app: FastAPI, headers: dict[str, str]) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    return httpx.AsyncClient(transport=transport, base_url="http://testserver", headers=headers)


async def test_a_login_token_is_refused_in_x_api_key(app: FastAPI) -> None:
    _, token = await create_user_with_token(app, role="admin")
    async with asgi(app, {"X-API-Key": token}) as http:
        response = await http.get("/api/auth/me")
    assert response.status_code == 401
    assert "API keys only" in response.json()["error"]
    async with asgi(app, {"Authorization": f"Bearer {token}"}) as http:
        assert (await http.get("/api/auth/me")).status_code == 200


async def test_an_api_key_works_in_both_headers(app: FastAPI) -> None:
    _, token = await create_user_with_token(app)
    async with asgi(app, {"Authorization": f"Bearer {token}"}) as http:
        key = (await http.post("/api/api-keys", json={"name": "ci"})).json()["key"]
    for headers in ({"X-API-Key": key}, {"Authorization": f"Bearer {key}"}):
        async with asgi(app, headers) as http:
            assert (await http.get("/api/auth/me")).status_code == 200


@pytest.mark.parametrize("revoke", [True, False])
async def test_a_password_reset_revokes_keys_only_when_asked(
    app: FastAPI, admin_client: httpx.AsyncClient, revoke: bool
) -> None:
    user_id, token = await create_user_with_token(app)
    async with asgi(app, {"Authorization": f"Bearer {token}"}) as http:
        key = (await http.post("/api/api-keys", json={"name": "ci"})).json()["key"]
    body: dict[str, object] = {"password": "a brand new password"}
    if revoke:
        body["revoke_api_keys"] = True
    reset = await admin_client.put(f"/api/users/{user_id}", json=body)
    assert reset.status_code == 200, reset.text
    async with asgi(app, {"X-API-Key": key}) as http:
        status = (await http.get("/api/auth/me")).status_code
    assert status == (401 if revoke else 200)
    async with asgi(app, {"Authorization": f"Bearer {token}"}) as http:
        assert (await http.get("/api/auth/me")).status_code == 401  # sessions always go
