"""The SPA's generated client must match the OpenAPI document the server serves.

When this fails, regenerate and commit: ``make spa-client`` (writes frontend/openapi.json and
frontend/src/api/schema.ts).
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

import httpx

from api.main import create_app
from tests.conftest import make_settings

FRONTEND = Path(__file__).resolve().parents[2] / "frontend"
REGENERATE = "the SPA client is out of date: run `make spa-client` and commit the result"


async def test_checked_in_schema_is_what_the_server_serves() -> None:
    app = create_app(make_settings("postgresql://unused/db"))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://spa.test") as client:
        served = (await client.get("/api/openapi.json")).json()
    checked_in = json.loads((FRONTEND / "openapi.json").read_text(encoding="utf-8"))
    assert checked_in == served, REGENERATE


def test_generated_types_come_from_the_checked_in_schema() -> None:
    document = (FRONTEND / "openapi.json").read_bytes()
    types = (FRONTEND / "src" / "api" / "schema.ts").read_text(encoding="utf-8")
    stamp = re.match(r"// openapi\.json sha256: ([0-9a-f]{64})\n", types)
    assert stamp is not None, REGENERATE
    assert stamp.group(1) == hashlib.sha256(document).hexdigest(), REGENERATE
