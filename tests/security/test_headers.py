"""Security headers on every response; Swagger UI served from the package (item 8)."""

from __future__ import annotations

import httpx
import pytest

from api.middleware import CONTENT_SECURITY_POLICY

COMMON = {
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "x-frame-options": "DENY",
    "content-security-policy": CONTENT_SECURITY_POLICY,
}


def assert_common(response: httpx.Response) -> None:
    for name, value in COMMON.items():
        assert response.headers.get(name) == value, (name, response.url)


async def test_every_kind_of_response_carries_the_headers(client: httpx.AsyncClient) -> None:
    for path in ("/api/health", "/api/accounts", "/api/nope", "/", "/some/spa/route"):
        assert_common(await client.get(path))
    assert "strict-transport-security" not in (await client.get("/api/health")).headers


def test_the_csp_allows_only_the_spa_own_assets() -> None:
    directives = dict(d.split(" ", 1) for d in CONTENT_SECURITY_POLICY.split("; "))
    assert directives["script-src"] == "'self'"  # no inline or remote script
    assert directives["style-src"] == "'self' 'unsafe-inline'"  # Mantine's inline styles
    assert directives["frame-ancestors"] == "'none'"
    assert directives["object-src"] == "'none'"
    assert directives["default-src"] == "'self'"


async def test_token_and_key_responses_are_never_cached(client: httpx.AsyncClient) -> None:
    created = await client.post(
        "/api/auth/setup-admin",
        json={"email": "root@example.com", "password": "correct horse battery staple"},
    )
    assert created.headers["cache-control"] == "no-store"
    login = await client.post(
        "/api/auth/login",
        json={"email": "root@example.com", "password": "correct horse battery staple"},
    )
    assert login.status_code == 200
    assert login.headers["cache-control"] == "no-store"
    token = login.json()["token"]
    key = await client.post(
        "/api/api-keys", json={"name": "ci"}, headers={"Authorization": f"Bearer {token}"}
    )
    assert key.status_code == 201
    assert key.headers["cache-control"] == "no-store"
    assert_common(key)


async def test_swagger_ui_is_served_locally_under_the_csp(client: httpx.AsyncClient) -> None:
    page = await client.get("/api/docs")
    assert page.status_code == 200
    assert "cdn" not in page.text.lower() and "https://" not in page.text
    assert "<script>" not in page.text  # the initialiser is a file: no inline script
    assert_common(page)
    for asset in ("/api/docs/assets/swagger-ui-bundle.js", "/api/docs/assets/swagger-ui.css"):
        response = await client.get(asset)
        assert response.status_code == 200, asset
        assert len(response.content) > 10_000
        assert_common(response)
    init = await client.get("/api/docs/init.js")
    assert init.status_code == 200 and "/api/openapi.json" in init.text


class TestHttpsPublicUrl:
    @pytest.fixture
    def settings_overrides(self) -> dict[str, object]:
        return {"public_url": "https://cudly.example.com"}

    async def test_hsts_is_sent(self, client: httpx.AsyncClient) -> None:
        response = await client.get("/api/health")
        assert response.headers["strict-transport-security"].startswith("max-age=")
