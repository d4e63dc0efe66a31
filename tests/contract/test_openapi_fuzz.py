"""Schemathesis against /api/openapi.json on a real server: no 5xx, documented statuses and shapes.

Runs as an admin (every route reachable) through an API key, so fuzzing ``/auth/logout``
cannot revoke the credential the rest of the run needs.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis import checks

from api.main import create_app
from tests.conftest import make_settings
from tests.fixtures.database import PgServer, create_test_database, drop_test_database
from tests.fixtures.live_server import LiveServer, start_live_server

PASSWORD = "correct horse battery staple"


@pytest.fixture(scope="module")
def fuzz_server(pg_server: PgServer, template_db: str) -> Iterator[tuple[LiveServer, str]]:
    name = asyncio.run(create_test_database(pg_server, template_db))
    server = start_live_server(make_settings(pg_server.url_for(name), max_body_bytes=256 * 1024))
    try:
        with httpx.Client(base_url=server.url) as http:
            http.post(
                "/api/auth/setup-admin", json={"email": "fuzz@example.com", "password": PASSWORD}
            )
            token = http.post(
                "/api/auth/login", json={"email": "fuzz@example.com", "password": PASSWORD}
            ).json()["token"]
            key = http.post(
                "/api/api-keys", json={"name": "fuzz"}, headers={"Authorization": f"Bearer {token}"}
            ).json()["key"]
        yield server, key
    finally:
        server.stop()
        asyncio.run(drop_test_database(pg_server, name))


# The document the server serves (the live server below is built by the same factory).
# positive_data_acceptance: business rules (ARN formats per provider, known services …) reject
# schema-valid input with 400 by design. allow_header_conformance: a 405 names the methods of
# the first matching route only (Starlette), e.g. GET but not POST for /api/users.
EXCLUDED = [checks.positive_data_acceptance, checks.allow_header_conformance]

schema = schemathesis.openapi.from_dict(
    create_app(make_settings("postgresql://unused/db")).openapi()
)
# A body over CUDLY_MAX_BODY_BYTES is refused with 413 before it is parsed: a rejection too.
schema.config.checks.negative_data_rejection.expected_statuses.append("413")


@schema.parametrize()
@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
def test_api_conforms_to_its_openapi_document(
    case: schemathesis.Case[Any], fuzz_server: tuple[LiveServer, str]
) -> None:
    server, key = fuzz_server
    case.call_and_validate(
        base_url=server.url, headers={"X-API-Key": key}, excluded_checks=EXCLUDED
    )
