"""The server serves the built SPA at / (api/main.py ``_mount_spa``): deep links get index.html,
hashed assets are cached for good, index.html never is, and /api keeps its JSON 404s."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from api.main import create_app
from tests.conftest import make_settings

INDEX = '<!doctype html><html><body><div id="root"></div><script type="module" src="/assets/index-abc123.js"></script></body></html>'


@pytest.fixture
def dist(tmp_path: Path) -> Path:
    (tmp_path / "assets").mkdir()
    (tmp_path / "index.html").write_text(INDEX, encoding="utf-8")
    (tmp_path / "assets" / "index-abc123.js").write_text("console.log('spa')", encoding="utf-8")
    (tmp_path / "favicon.svg").write_text("<svg/>", encoding="utf-8")
    return tmp_path


async def _client(frontend_dist: Path) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(make_settings("postgresql://unused/db", frontend_dist=frontend_dist))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://spa.test") as client:
        yield client


@pytest.fixture
async def client(dist: Path) -> AsyncIterator[httpx.AsyncClient]:
    async for client in _client(dist):
        yield client


@pytest.mark.parametrize("path", ["/", "/settings/accounts", "/admin/audit?actor=x", "/login"])
async def test_routes_get_index_html_uncached(client: httpx.AsyncClient, path: str) -> None:
    response = await client.get(path)
    assert response.status_code == 200
    assert response.text == INDEX
    assert response.headers["cache-control"] == "no-cache"
    assert response.headers["content-type"].startswith("text/html")


async def test_hashed_assets_are_cached_for_good(client: httpx.AsyncClient) -> None:
    response = await client.get("/assets/index-abc123.js")
    assert response.status_code == 200
    assert response.text == "console.log('spa')"
    assert response.headers["cache-control"] == "public, max-age=31536000, immutable"


async def test_unhashed_files_are_revalidated(client: httpx.AsyncClient) -> None:
    response = await client.get("/favicon.svg")
    assert response.status_code == 200
    assert response.headers["cache-control"] == "no-cache"


async def test_api_paths_keep_json_404(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/no-such-thing")
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


async def test_paths_outside_dist_are_not_served(client: httpx.AsyncClient, dist: Path) -> None:
    (dist.parent / "secret.txt").write_text("secret", encoding="utf-8")
    response = await client.get("/assets/..%2F..%2Fsecret.txt")
    assert "secret" not in response.text


async def test_placeholder_without_a_build(tmp_path: Path) -> None:
    async for client in _client(tmp_path / "missing"):
        response = await client.get("/settings/accounts")
        assert response.status_code == 200
        assert "has not been built" in response.text
