"""Request throughput with telemetry off, with metrics, and with metrics + tracing.

Three apps on one embedded PostgreSQL (tmpfs), measured in interleaved rounds so machine load
hits all three alike:

- ``off``: the HTTP series middleware removed, tracing off (the baseline);
- ``metrics``: as shipped by default (the HTTP series middleware; tracing off);
- ``metrics+tracing``: tracing on as with ``OTEL_EXPORTER_OTLP_ENDPOINT`` set, spans for the
  request, its DB statements and CUDly's own, handed to an exporter that drops them (the
  network cost of a real collector is the collector's, not CUDly's).

Each round sends a fixed number of requests per path, ``CONCURRENCY`` at a time, through httpx's ASGI
transport to ``GET /api/health`` (one ``SELECT 1``) and ``GET /api/accounts`` as an admin
(authentication + one list query over 100 accounts); the median of the rounds' requests per
second is reported, and the CPU time this process spent per request (``time.process_time``:
less disturbed by other load on a shared machine than wall-clock rates; PostgreSQL's own
CPU is not in it, and is the same in every mode), each with its ratio against ``off``.
"""

from __future__ import annotations

import asyncio
import statistics
import tempfile
import time
import uuid
from collections.abc import Sequence
from contextlib import AsyncExitStack
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

from api.auth.tokens import hash_token, new_session_token
from api.config import Settings
from api.kit.embedded_db import start_embedded_postgres
from api.main import create_app
from api.migrate import upgrade_async
from api.models import CloudAccount, Session, User
from api.telemetry import tracing
from api.telemetry.http import HttpMetricsMiddleware

TMPFS = "/dev/shm" if Path("/dev/shm").is_dir() else None
ROUNDS = 5
CONCURRENCY = 8
# Requests per round and path: the list is much slower, fewer keep the run short.
PATHS = {"/api/health": 300, "/api/accounts": 60}
MODES = ("off", "metrics", "metrics+tracing")


class DropSpans(SpanExporter):
    """Counts the spans and drops them."""

    exported = 0

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        DropSpans.exported += len(spans)
        return SpanExportResult.SUCCESS


def _settings(url: str) -> Settings:
    return Settings.model_validate(
        {
            "database_url": url,
            "run_migrations": False,
            "credential_encryption_key": "ab" * 32,
            "log_level": "WARNING",
            "scheduler_enabled": False,
        }
    )


def _build(url: str, mode: str) -> Any:
    if mode == "metrics+tracing":
        tracing.init(DropSpans())
    app = create_app(_settings(url))
    if mode == "off":
        app.user_middleware = [
            m for m in app.user_middleware if getattr(m, "cls", None) is not HttpMetricsMiddleware
        ]
    return app


async def _seed(app: Any) -> str:
    token = new_session_token()
    async with app.state.sessionmaker() as db:
        user = User(
            email=f"bench-{uuid.uuid4().hex[:8]}@example.com", password_hash="x", role="admin"
        )
        db.add(user)
        await db.flush()
        db.add(
            Session(
                user_id=user.id,
                token_hash=hash_token(token),
                expires_at=datetime(2999, 1, 1, tzinfo=UTC),
            )
        )
        db.add_all(
            CloudAccount(
                name=f"acct {i:04d}",
                provider="aws",
                external_id=f"{uuid.uuid4().int % 10**12:012d}",
                aws_auth_mode="access_keys",
            )
            for i in range(100)
        )
        await db.commit()
    return token


async def _round(client: httpx.AsyncClient, path: str) -> tuple[float, float]:
    """(requests per second, this process's CPU milliseconds per request)."""
    total = remaining = PATHS[path]

    async def worker() -> None:
        nonlocal remaining
        while remaining > 0:
            remaining -= 1
            response = await client.get(path)
            assert response.status_code == 200, response.text

    started, cpu = time.perf_counter(), time.process_time()
    await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))
    cpu_ms = (time.process_time() - cpu) * 1000 / total
    return total / (time.perf_counter() - started), cpu_ms


async def run() -> dict[tuple[str, str], tuple[float, float]]:
    rates: dict[tuple[str, str], list[float]] = {(m, p): [] for m in MODES for p in PATHS}
    cpus: dict[tuple[str, str], list[float]] = {(m, p): [] for m in MODES for p in PATHS}
    with tempfile.TemporaryDirectory(prefix="cudly-bench-", dir=TMPFS) as tmp:
        url = start_embedded_postgres(Path(tmp), cleanup="delete")
        await upgrade_async(url)
        clients: dict[str, httpx.AsyncClient] = {}
        async with AsyncExitStack() as stack:
            # Built and started in MODES order: tracing (process-wide) is switched on last,
            # so only the last app and its engine are instrumented.
            stack.callback(tracing.shutdown)
            for mode in MODES:
                app = _build(url, mode)
                await stack.enter_async_context(app.router.lifespan_context(app))
                token = await _seed(app)
                clients[mode] = await stack.enter_async_context(
                    httpx.AsyncClient(
                        transport=httpx.ASGITransport(app=app),
                        base_url="http://bench",
                        headers={"Authorization": f"Bearer {token}"},
                    )
                )
            for mode in MODES:  # warm-up: pools, caches
                for path in PATHS:
                    await clients[mode].get(path)
            for _ in range(ROUNDS):
                for path in PATHS:
                    for mode in MODES:
                        rate, cpu_ms = await _round(clients[mode], path)
                        rates[(mode, path)].append(rate)
                        cpus[(mode, path)].append(cpu_ms)
    return {key: (statistics.median(rates[key]), statistics.median(cpus[key])) for key in rates}


def main() -> None:
    medians = asyncio.run(run())
    assert DropSpans.exported > 0, "tracing produced no spans"
    print(f"spans exported (and dropped) with tracing on: {DropSpans.exported}")
    print(f"{'path':<15} {'mode':<16} {'req/s':>8} {'vs off':>7} {'CPU ms/req':>11} {'vs off':>7}")
    for path in PATHS:
        base_rate, base_cpu = medians[("off", path)]
        for mode in MODES:
            rate, cpu_ms = medians[(mode, path)]
            print(
                f"{path:<15} {mode:<16} {rate:>8.0f} {rate / base_rate:>7.2f}"
                f" {cpu_ms:>11.2f} {cpu_ms / base_cpu:>7.2f}"
            )


if __name__ == "__main__":
    main()
