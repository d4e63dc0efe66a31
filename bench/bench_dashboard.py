"""Dashboard and filtered list pages at 200,000 recommendations over 1,000 accounts.

Through the real app (httpx + ASGI, auth, scoping, Pydantic, middleware), against a minimal
Starlette + asyncpg handler that runs exactly the same SQL: the statements the app sent for
that request are captured from the engine and replayed by the baseline, which returns the
rows as JSON. Both run in the same process, on the same embedded PostgreSQL (tmpfs), in the
same run; median and p99 latency of sequential requests, requests/s at CONCURRENCY (the
median of ROUNDS interleaved rounds). Both clients send the same URL, query string included.
A second baseline also replays the app's authentication statement (token, user and groups
in one), so the ratio against it shows what the framework itself costs.

``python -m bench.bench_dashboard --explain`` also prints EXPLAIN (ANALYZE, BUFFERS) of the
heaviest statements (docs/benchmarks.md).
"""

from __future__ import annotations

import asyncio
import json
import random
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import asyncpg
import httpx
from sqlalchemy import event
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from api.auth.tokens import hash_token, new_session_token
from api.config import Settings
from api.kit.embedded_db import start_embedded_postgres
from api.main import create_app
from api.migrate import upgrade_async
from api.models import Session, User

ACCOUNTS = 1000
RECOMMENDATIONS = 200_000
HISTORY = 20_000
COMMITMENTS_PER_ACCOUNT = 5
SEQUENTIAL = 100
CONCURRENCY = 8
CONCURRENT_REQUESTS = 160
# The 1,000-account summary answers a few per second: fewer requests per phase for it.
HEAVY_CONCURRENT_REQUESTS = 40
# Throughput phases run in this many interleaved rounds (app, bare, bare+auth, app, …) and
# the median of each is reported: a neighbour's burst then moves one round, not the ratio.
ROUNDS = 3
TMPFS = "/dev/shm" if Path("/dev/shm").is_dir() else None
# Statements the app runs to authenticate and authorise; a bare handler has none of them.
AUTH_TABLES = ("sessions", "users", "user_groups", "groups", "api_keys")


def _dsn(url: str) -> str:
    return url.replace("postgresql+asyncpg://", "postgresql://")


async def seed(dsn: str) -> list[uuid.UUID]:
    """1,000 accounts, 200k recommendations, 20k history rows, 5k commitments (COPY)."""
    rng = random.Random(7)
    now = datetime.now(UTC)
    conn = await asyncpg.connect(dsn)
    try:
        providers = ["aws"] * 700 + ["azure"] * 200 + ["gcp"] * 100
        accounts = []
        for i, provider in enumerate(providers):
            external = {
                "aws": f"{300_000_000_000 + i:012d}",
                "azure": str(uuid.UUID(int=i + 1)),
                "gcp": f"proj-{i:06d}",
            }[provider]
            accounts.append((uuid.uuid4(), f"account {i:04d}", provider, external, i % 50 != 0))
        await conn.copy_records_to_table(
            "cloud_accounts",
            records=accounts,
            columns=["id", "name", "provider", "external_id", "enabled"],
        )
        service_of = {"aws": "ec2", "azure": "vm", "gcp": "compute"}
        per_account = RECOMMENDATIONS // ACCOUNTS
        recommendations = []
        for account_id, _, provider, _, _ in accounts:
            for j in range(per_account):
                savings = Decimal(rng.randint(1, 500_000)) / 100
                recommendations.append(
                    (
                        account_id,
                        provider,
                        service_of[provider],
                        rng.choice(["us-east-1", "eu-west-1", "ap-south-1"]),
                        f"type-{j:04d}",
                        "",
                        rng.choice([1, 3]),
                        "no-upfront",
                        "",
                        Decimal(rng.randint(1, 20)),
                        Decimal(0),
                        savings * 2,
                        savings * 3,
                        savings,
                        Decimal("33.333"),
                        "USD" if provider != "azure" or j % 4 else "EUR",
                        now,
                    )
                )
        await conn.copy_records_to_table(
            "recommendations",
            records=recommendations,
            columns=[
                "cloud_account_id",
                "provider",
                "service",
                "region",
                "resource_type",
                "engine",
                "term",
                "payment",
                "variant",
                "count",
                "upfront_cost",
                "recurring_monthly_cost",
                "on_demand_monthly_cost",
                "estimated_monthly_savings",
                "savings_percent",
                "currency",
                "collected_at",
            ],
        )
        history = []
        for k in range(HISTORY):
            account_id, name, provider, external, _ = accounts[k % ACCOUNTS]
            orphan = k % 100 == 0  # legacy rows of no account
            purchased_at = now - timedelta(minutes=rng.randint(1, 365 * 24 * 60))
            history.append(
                (
                    None if orphan else account_id,
                    external,
                    name,
                    provider,
                    service_of[provider],
                    "us-east-1",
                    "m5.large",
                    Decimal(1),
                    1,
                    "no-upfront",
                    Decimal(0),
                    Decimal(rng.randint(100, 10_000)) / 10,
                    Decimal(rng.randint(100, 10_000)) / 100,
                    "USD",
                    rng.choice(["purchased"] * 8 + ["simulated", "failed"]),
                    purchased_at,
                    purchased_at + timedelta(days=365),
                )
            )
        await conn.copy_records_to_table(
            "purchase_history",
            records=history,
            columns=[
                "cloud_account_id",
                "account_external_id",
                "account_name",
                "provider",
                "service",
                "region",
                "resource_type",
                "count",
                "term",
                "payment",
                "upfront_cost",
                "monthly_cost",
                "estimated_monthly_savings",
                "currency",
                "status",
                "purchased_at",
                "expires_at",
            ],
        )
        commitments = []
        for account_id, _, provider, _, _ in accounts:
            for j in range(COMMITMENTS_PER_ACCOUNT):
                commitments.append(
                    (
                        account_id,
                        provider,
                        service_of[provider],
                        f"c-{account_id.hex[:8]}-{j}",
                        Decimal(2),
                        1,
                        now - timedelta(days=200),
                        now + timedelta(days=rng.randint(-30, 400)),
                        "active" if j else "expired",
                        Decimal(1200),
                        Decimal(rng.randint(10, 1000)),
                        "USD",
                        now,
                    )
                )
        await conn.copy_records_to_table(
            "commitments",
            records=commitments,
            columns=[
                "cloud_account_id",
                "provider",
                "service",
                "provider_commitment_id",
                "count",
                "term",
                "start",
                "end",
                "state",
                "upfront_cost",
                "recurring_monthly_cost",
                "currency",
                "collected_at",
            ],
        )
        await conn.execute("VACUUM ANALYZE")
        return [a[0] for a in accounts if a[2] == "aws" and a[4]]
    finally:
        await conn.close()


@dataclass
class Captured:
    """The statements the engine runs — in ``task`` only when given (the request's: httpx's
    ASGI transport runs it in the caller's task; the app's background loops have their own)."""

    statements: list[tuple[str, tuple[Any, ...]]]
    task: asyncio.Task[Any] | None = None

    def record(self, conn: Any, cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        if self.task is None or asyncio.current_task() is self.task:
            self.statements.append((statement, tuple(parameters or ())))


def baseline_app(
    pool: asyncpg.Pool, sql: dict[str, list[tuple[str, tuple[Any, ...]]]]
) -> Starlette:
    """The minimal handler: run the same statements on one pooled connection, rows → JSON."""

    async def handler(request: Request) -> Response:
        name = request.path_params["name"]
        results = []
        async with pool.acquire() as conn, conn.transaction(readonly=True):
            for statement, params in sql[name]:
                rows = await conn.fetch(statement, *params)
                results.append([dict(row) for row in rows])
        return Response(json.dumps(results, default=str), media_type="application/json")

    return Starlette(routes=[Route("/{name}", handler)])


async def _sequential(
    call: Callable[[], Awaitable[httpx.Response]], count: int
) -> tuple[float, float]:
    for _ in range(5):
        (await call()).raise_for_status()
    samples = []
    for _ in range(count):
        started = time.perf_counter()
        response = await call()
        samples.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200, response.text
    samples.sort()
    return statistics.median(samples), samples[min(len(samples) - 1, int(len(samples) * 0.99))]


async def _throughput(
    call: Callable[[], Awaitable[httpx.Response]], requests: int = CONCURRENT_REQUESTS
) -> float:
    remaining = requests

    async def worker() -> None:
        nonlocal remaining
        while remaining > 0:
            remaining -= 1
            response = await call()
            assert response.status_code == 200, response.text

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))
    return requests / (time.perf_counter() - started)


@dataclass
class Result:
    name: str
    app: tuple[float, float, float]  # median ms, p99 ms, rps
    bare: tuple[float, float, float]  # the endpoint's own SQL only
    bare_auth: tuple[float, float, float]  # also the app's authentication SQL
    statements: int


async def run(explain: bool) -> tuple[list[Result], dict[str, str]]:
    results: list[Result] = []
    plans: dict[str, str] = {}
    with tempfile.TemporaryDirectory(prefix="cudly-bench-", dir=TMPFS) as tmp:
        url = start_embedded_postgres(Path(tmp), cleanup="delete")
        await upgrade_async(url)
        aws_ids = await seed(_dsn(url))
        settings = Settings.model_validate(
            {
                "database_url": url,
                "run_migrations": False,
                "scheduler_enabled": False,
                "credential_encryption_key": "ab" * 32,
                "log_level": "WARNING",
            }
        )
        app = create_app(settings)
        async with app.router.lifespan_context(app):
            token = new_session_token()
            async with app.state.sessionmaker() as db:
                user = User(email="bench@example.com", password_hash="x", role="admin")
                db.add(user)
                await db.flush()
                db.add(
                    Session(
                        user_id=user.id,
                        token_hash=hash_token(token),
                        expires_at=datetime(2999, 1, 1, tzinfo=UTC),
                    )
                )
                await db.commit()
            headers = {"Authorization": f"Bearer {token}"}
            fifty = ",".join(str(a) for a in aws_ids[:50])
            cases: dict[str, tuple[str, dict[str, Any]]] = {
                "dashboard summary (all 1,000 accounts)": ("/api/dashboard/summary", {}),
                "dashboard summary (50 accounts)": (
                    "/api/dashboard/summary",
                    {"account_ids": fifty},
                ),
                "history page (50 accounts, 50 rows)": (
                    "/api/history",
                    {"account_ids": fifty, "limit": 50},
                ),
            }
            if "/api/recommendations" in app.openapi()["paths"]:
                cases["recommendations page (50 aws accounts, 50 rows)"] = (
                    "/api/recommendations",
                    {"account_ids": fifty, "provider": "aws", "limit": 50},
                )
            # Record every statement the app's engine runs, for the baseline to replay.
            captured = Captured(statements=[], task=asyncio.current_task())
            engine = app.state.engine.sync_engine
            event.listen(engine, "before_cursor_execute", captured.record)
            sql: dict[str, list[tuple[str, tuple[Any, ...]]]] = {}
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
                for index, (path, params) in enumerate(cases.values()):
                    captured.statements.clear()
                    response = await client.get(path, params=params, headers=headers)
                    assert response.status_code == 200, response.text
                    selects = [
                        (s, p)
                        for s, p in captured.statements
                        if s.lstrip().upper().startswith(("SELECT", "WITH"))
                    ]
                    sql[f"{index}+auth"] = selects
                    sql[str(index)] = [
                        (s, p)
                        for s, p in selects
                        if not any(f" {t} " in f" {s} " or f"{t}." in s for t in AUTH_TABLES)
                    ]
                event.remove(engine, "before_cursor_execute", captured.record)
                pool = await asyncpg.create_pool(
                    _dsn(url), min_size=CONCURRENCY, max_size=CONCURRENCY
                )
                assert pool is not None
                bare = baseline_app(pool, sql)
                bare_transport = httpx.ASGITransport(app=bare)
                async with httpx.AsyncClient(
                    transport=bare_transport, base_url="http://bare"
                ) as bare_client:
                    for index, (name, (path, params)) in enumerate(cases.items()):

                        def app_call(
                            path: str = path, params: dict[str, Any] = params
                        ) -> Awaitable[httpx.Response]:
                            return client.get(path, params=params, headers=headers)

                        # The same query string (the bare handler ignores it): building a
                        # URL with 50 UUIDs costs the client as much as a small page.
                        def bare_call(
                            index: int = index, params: dict[str, Any] = params
                        ) -> Awaitable[httpx.Response]:
                            return bare_client.get(f"/{index}", params=params)

                        def bare_auth_call(
                            index: int = index, params: dict[str, Any] = params
                        ) -> Awaitable[httpx.Response]:
                            return bare_client.get(f"/{index}+auth", params=params)

                        app_median, app_p99 = await _sequential(app_call, SEQUENTIAL)
                        bare_median, bare_p99 = await _sequential(bare_call, SEQUENTIAL)
                        auth_median, auth_p99 = await _sequential(bare_auth_call, SEQUENTIAL)
                        requests = HEAVY_CONCURRENT_REQUESTS if index == 0 else CONCURRENT_REQUESTS
                        rounds: list[tuple[float, float, float]] = []
                        for _ in range(ROUNDS):
                            rounds.append(
                                (
                                    await _throughput(app_call, requests),
                                    await _throughput(bare_call, requests),
                                    await _throughput(bare_auth_call, requests),
                                )
                            )
                        app_rps, bare_rps, auth_rps = (
                            statistics.median(r[i] for r in rounds) for i in range(3)
                        )
                        results.append(
                            Result(
                                name,
                                (app_median, app_p99, app_rps),
                                (bare_median, bare_p99, bare_rps),
                                (auth_median, auth_p99, auth_rps),
                                len(sql[str(index)]),
                            )
                        )
                    if explain:
                        async with pool.acquire() as conn:
                            for index, name in enumerate(cases):
                                for n, (statement, values) in enumerate(sql[str(index)]):
                                    rows = await conn.fetch(
                                        "EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) " + statement,
                                        *values,
                                    )
                                    plans[f"{name} #{n + 1}"] = (
                                        statement + "\n\n" + "\n".join(r[0] for r in rows)
                                    )
                await pool.close()
    return results, plans


def main() -> None:
    explain = "--explain" in sys.argv
    results, plans = asyncio.run(run(explain))
    print(
        f"{'request':<50} {'app p50/p99 ms':>15} {'bare p50/p99':>13} {'+auth p50/p99':>14} "
        f"{'app rps':>8} {'bare rps':>9} {'+auth rps':>10} {'ratio':>6} {'ratio+auth':>10}"
    )
    for r in results:
        print(
            f"{r.name:<50} {r.app[0]:>7.1f}/{r.app[1]:<7.1f} {r.bare[0]:>6.1f}/{r.bare[1]:<6.1f} "
            f"{r.bare_auth[0]:>6.1f}/{r.bare_auth[1]:<7.1f} {r.app[2]:>8.1f} {r.bare[2]:>9.1f} "
            f"{r.bare_auth[2]:>10.1f} {r.app[2] / r.bare[2]:>6.2f} {r.app[2] / r.bare_auth[2]:>10.2f}"
        )
    for name, plan in plans.items():
        print(f"\n--- {name}\n{plan}")


if __name__ == "__main__":
    main()
