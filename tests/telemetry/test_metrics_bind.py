"""``CUDLY_METRICS_BIND``: a separate listener serving only ``/metrics``, without credentials."""

from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI

from api.telemetry.app import parse_bind


@pytest.fixture
def settings_overrides() -> dict[str, object]:
    return {"metrics_bind": "127.0.0.1:0"}  # port 0: the kernel picks a free one


async def test_the_listener_serves_metrics_without_credentials(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    await client.get("/api/health")
    listener = app.state.metrics_listener
    assert listener is not None
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{listener.port}") as scraper:
        scraped = await scraper.get("/metrics")
        other = await scraper.get("/api/accounts")
    assert scraped.status_code == 200
    assert (
        'cudly_http_requests_total{method="GET",route="/api/health",status="200"}' in scraped.text
    )
    assert "cudly_purchase_lines" in scraped.text
    assert other.status_code == 404  # only the scrape, never the API
    # The API port still demands an admin.
    assert (await client.get("/metrics")).status_code == 401


def test_bind_addresses() -> None:
    assert parse_bind("0.0.0.0:9464") == ("0.0.0.0", 9464)
    assert parse_bind(":9464") == ("0.0.0.0", 9464)
    assert parse_bind("[::1]:9464") == ("::1", 9464)
