"""Out-of-range date-times are 400 everywhere, and no bound value reaches a log (item 7)."""

from __future__ import annotations

import base64
import json
import logging
import uuid

import httpx
import pytest
from fastapi import FastAPI

from api.errors import install_error_handlers

FAR_FUTURE = "9999-12-31T23:59:59-14:00"  # year 10000 in UTC
FAR_PAST = "0001-01-01T00:00:00+14:00"  # year 0 in UTC


@pytest.mark.parametrize("when", [FAR_FUTURE, FAR_PAST])
async def test_api_key_expiry_out_of_utc_range_is_400(
    admin_client: httpx.AsyncClient, when: str
) -> None:
    response = await admin_client.post("/api/api-keys", json={"name": "k", "expires_at": when})
    assert response.status_code == 400, response.text
    assert response.json()["fields"][0]["field"] == "expires_at"


@pytest.mark.parametrize("when", [FAR_FUTURE, FAR_PAST])
async def test_audit_since_out_of_utc_range_is_400(
    admin_client: httpx.AsyncClient, when: str
) -> None:
    response = await admin_client.get("/api/audit", params={"since": when})
    assert response.status_code == 400, response.text


@pytest.mark.parametrize("when", [FAR_FUTURE, FAR_PAST])
async def test_audit_cursor_out_of_utc_range_is_400(
    admin_client: httpx.AsyncClient, when: str
) -> None:
    raw = json.dumps([when, str(uuid.uuid4())]).encode()
    cursor = base64.urlsafe_b64encode(raw).decode().rstrip("=")
    response = await admin_client.get("/api/audit", params={"cursor": cursor})
    assert response.status_code == 400, response.text
    assert response.json()["fields"][0]["field"] == "cursor"


async def test_an_unhandled_error_logs_no_argument(caplog: pytest.LogCaptureFixture) -> None:
    """A driver error quoting its argument (hide_parameters cannot hide that) stays out of logs."""
    app = FastAPI()
    install_error_handlers(app)
    secret_value = "s3cr3t-bound-value"

    @app.get("/boom")
    async def boom() -> None:
        raise ValueError(f"invalid input for query argument $1: {secret_value!r}")

    caplog.set_level(logging.DEBUG)
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
        response = await http.get("/boom")
    assert response.status_code == 500
    assert response.json() == {"error": "internal server error", "code": "internal"}
    logged = [r for r in caplog.records if r.name == "api.errors"]
    assert logged, "the error is logged"
    for record in logged:
        rendered = logging.Formatter().format(record) + repr(vars(record))
        assert secret_value not in rendered
