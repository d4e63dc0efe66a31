"""SPEC §1/§2 basics: error shape for unknown routes, wrong methods, oversize bodies; the SPA and docs."""

from __future__ import annotations

import json
import logging

import httpx
import pytest


async def test_unknown_api_route_is_404_in_error_shape(client: httpx.AsyncClient) -> None:
    for method in ("GET", "POST", "DELETE"):
        response = await client.request(method, "/api/no-such-thing")
        assert response.status_code == 404
        assert response.json() == {"error": "no such resource", "code": "not_found"}


async def test_wrong_method_is_405_in_error_shape(client: httpx.AsyncClient) -> None:
    response = await client.delete("/api/health")
    assert response.status_code == 405
    body = response.json()
    assert body["code"] == "method_not_allowed"
    assert set(body) == {"error", "code"}


async def test_ten_megabyte_body_is_413_and_logs_one_line(
    client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    caplog.clear()
    response = await client.post(
        "/api/health",
        content=b"x" * (10 * 1024 * 1024),
        headers={"content-type": "application/json"},
    )
    assert response.status_code == 413
    assert response.json()["code"] == "payload_too_large"
    assert [r.name for r in caplog.records] == ["cudly.access"]


async def test_openapi_and_docs_are_served(client: httpx.AsyncClient) -> None:
    spec = (await client.get("/api/openapi.json")).json()
    assert spec["openapi"].startswith("3.1")
    operation_ids = [op["operationId"] for path in spec["paths"].values() for op in path.values()]
    assert "health-health" in operation_ids
    assert (await client.get("/api/docs")).status_code == 200


async def test_spa_placeholder_served_at_root_and_client_routes(client: httpx.AsyncClient) -> None:
    for path in ("/", "/settings/accounts"):
        response = await client.get(path)
        assert response.status_code == 200
        assert "CUDly" in response.text


async def test_request_id_is_echoed_when_valid_and_replaced_when_not(
    client: httpx.AsyncClient,
) -> None:
    good = await client.get("/api/health", headers={"x-request-id": "abcdef123456"})
    assert good.headers["x-request-id"] == "abcdef123456"
    bad = await client.get("/api/health", headers={"x-request-id": "<script>"})
    assert bad.headers["x-request-id"] != "<script>"


def test_json_log_lines_carry_the_request_id() -> None:
    from api.logging import JsonFormatter, RequestIdFilter, request_id_var

    token = request_id_var.set("req-123456")
    try:
        record = logging.makeLogRecord(
            {"msg": "hello %s", "args": ("world",), "levelname": "INFO", "status": 200}
        )
        RequestIdFilter().filter(record)
        line = json.loads(JsonFormatter().format(record))
    finally:
        request_id_var.reset(token)
    assert line["message"] == "hello world"
    assert line["request_id"] == "req-123456"
    assert line["status"] == 200


async def test_empty_query_parameters_mean_no_filter(admin_client: httpx.AsyncClient) -> None:
    await admin_client.post("/api/groups", json={"name": "g"})
    unfiltered = (await admin_client.get("/api/audit")).json()["events"]
    assert len(unfiltered) == 1
    empty = await admin_client.get("/api/audit?target_id=&actor=&since=")
    assert empty.status_code == 200
    assert empty.json()["events"] == unfiltered
    accounts = await admin_client.get("/api/accounts?provider=&enabled=&search=")
    assert accounts.status_code == 200


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("GET", "/api/audit?target_id=%00abc", None),
        ("POST", "/api/groups", {"name": "nul\u0000name"}),
        ("POST", "/api/api-keys", {"name": "key\u0000"}),
    ],
)
async def test_nul_characters_are_400_not_500(
    admin_client: httpx.AsyncClient, method: str, path: str, body: object
) -> None:
    response = await admin_client.request(method, path, json=body)
    assert response.status_code == 400, response.text
    assert response.json()["code"] in {"invalid_text", "validation_error"}
    assert (await admin_client.get("/api/groups")).json()["groups"] == []
