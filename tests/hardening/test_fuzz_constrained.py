"""Schemathesis over every operation as a user constrained to one account (the admin run is
tests/contract/test_openapi_fuzz.py): no 5xx, every answer — 403s included — documented
and in its schema. Few examples per operation: it bounds the make-test time, and the
admin run already explores the inputs; this one explores the scoping paths."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, settings

from tests.conftest import make_settings
from tests.contract.test_openapi_fuzz import EXCLUDED, PASSWORD, schema
from tests.fixtures.database import PgServer, create_test_database, drop_test_database
from tests.fixtures.live_server import LiveServer, start_live_server

SCOPED = {
    "accounts": ("view", "create", "update", "delete", "manage_credentials", "test_credentials"),
    "recommendations": ("view", "refresh"),
    "plans": ("view", "create", "update", "delete", "execute", "approve"),
    "history": ("view",),
    "config": ("view", "update"),
}


@pytest.fixture(scope="module")
def constrained_server(pg_server: PgServer, template_db: str) -> Iterator[tuple[LiveServer, str]]:
    """A live server with two accounts and a user holding every permission on the first."""
    name = asyncio.run(create_test_database(pg_server, template_db))
    server = start_live_server(make_settings(pg_server.url_for(name), max_body_bytes=256 * 1024))
    try:
        with httpx.Client(base_url=server.url) as http:
            http.post(
                "/api/auth/setup-admin", json={"email": "f@example.com", "password": PASSWORD}
            )
            token = http.post(
                "/api/auth/login", json={"email": "f@example.com", "password": PASSWORD}
            ).json()["token"]
            admin = {"Authorization": f"Bearer {token}"}
            ids = [
                http.post(
                    "/api/accounts",
                    json={"name": f"fuzz {n}", "provider": "aws", "external_id": f"12345678900{n}"},
                    headers=admin,
                ).json()["id"]
                for n in (1, 2)
            ]
            permissions = [
                {"action": action, "resource": resource, "constraints": {"accounts": [ids[0]]}}
                for resource, actions in SCOPED.items()
                for action in actions
            ]
            group = http.post(
                "/api/groups", json={"name": "scoped", "permissions": permissions}, headers=admin
            ).json()["id"]
            user = {"email": "scoped@example.com", "password": PASSWORD}
            created = http.post(
                "/api/users", json={**user, "role": "user", "group_ids": [group]}, headers=admin
            )
            assert created.status_code == 201, created.text
            user_token = http.post("/api/auth/login", json=user).json()["token"]
            key = http.post(
                "/api/api-keys",
                json={"name": "fuzz"},
                headers={"Authorization": f"Bearer {user_token}"},
            ).json()["key"]
        yield server, key
    finally:
        server.stop()
        asyncio.run(drop_test_database(pg_server, name))


@schema.parametrize()
@settings(max_examples=3, deadline=None, suppress_health_check=list(HealthCheck))
def test_api_conforms_for_a_constrained_user(
    case: schemathesis.Case[Any], constrained_server: tuple[LiveServer, str]
) -> None:
    server, key = constrained_server
    case.call_and_validate(
        base_url=server.url, headers={"X-API-Key": key}, excluded_checks=EXCLUDED
    )
