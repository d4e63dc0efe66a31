"""Read load while a collection run is in progress (issue 17), against a bare handler.

Data as in ``bench_dashboard`` (1,000 accounts, 200,000 recommendations, 20,000 history rows,
5,000 commitments) plus ``--collect`` AWS accounts with credentials that the app collects
from the simulator (``bench._collection_clouds``: moto STS + the HTTPS cloud simulator, in a
process of its own) the whole time: a run is started through ``POST
/api/recommendations/refresh`` and, when it ends before the load does, started again.

``--concurrency`` workers send a mix of the read endpoints — a filtered recommendations page
(50 AWS accounts, a savings floor, 50 rows), the dashboard summary, a history page and the
commitments inventory over the same 50 accounts — through the real app (httpx + ASGI, as an
admin with a login token), and then, in alternating phases of the same length, to a minimal
Starlette + asyncpg handler replaying exactly the SQL the app sent for each request (captured
from the engine), with ("+auth") and without the app's authentication statement. Reported:
requests/s, p50/p99 latency, error rate, and the ratios; the app's pool is sampled all along
(most connections checked out against its capacity, how often it was at capacity,
pool-timeout answers), and the bench fails when a request timed out waiting for a pooled
connection or the app answered anything but 200. The bare handler gets a pool of the app's
capacity to itself (the app shares its pool with the collection: that is what is measured).

``python -m bench.bench_load [--concurrency 8] [--collect 200] [--phase 5] [--rounds 3]``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import httpx
from sqlalchemy import event

from api.auth.tokens import hash_token, new_session_token
from api.config import Settings
from api.kit.crypto import load_key_ring
from api.kit.embedded_db import start_embedded_postgres
from api.main import create_app
from api.migrate import upgrade_async
from api.models import CloudAccount, Session, User
from bench.bench_collection import AWS_SERVICES, Clouds, _arrange
from bench.bench_dashboard import AUTH_TABLES, TMPFS, Captured, _dsn, baseline_app, seed

CLOUD_LATENCY_S = 0.2
TARGETS = ("app", "bare", "bare+auth")


@dataclass
class Phase:
    """What one target answered in its phases: latencies (ms), failures, time spent."""

    latencies: list[float] = field(default_factory=list)
    errors: int = 0
    seconds: float = 0.0
    statuses: dict[int, int] = field(default_factory=dict)

    @property
    def requests(self) -> int:
        return len(self.latencies) + self.errors

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    def percentile(self, q: float) -> float:
        ordered = sorted(self.latencies)
        if not ordered:
            return float("nan")
        return ordered[min(len(ordered) - 1, int(len(ordered) * q))]


@dataclass
class PoolWatch:
    """The app's pool, sampled while its phases run."""

    capacity: int
    most_checked_out: int = 0
    samples: int = 0
    at_capacity: int = 0
    lags_ms: list[float] = field(default_factory=list)

    def sample(self, pool: Any) -> None:
        checked_out = int(pool.checkedout())
        self.samples += 1
        self.most_checked_out = max(self.most_checked_out, checked_out)
        if checked_out >= self.capacity:
            self.at_capacity += 1


class PoolTimeouts(logging.Handler):
    """Counts the app's "connection pool exhausted" warnings (api.errors, answered 503)."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.count = 0

    def emit(self, record: logging.LogRecord) -> None:
        if "pool exhausted" in record.getMessage():
            self.count += 1


@dataclass
class Collection:
    """Keeps a collection run in progress: started again whenever it ends."""

    admin: httpx.AsyncClient
    dsn: str
    account_ids: list[str]
    runs: list[str] = field(default_factory=list)
    busy_s: float = 0.0
    idle_s: float = 0.0
    accounts_done: int = 0

    async def start(self) -> None:
        response = await self.admin.post(
            "/api/recommendations/refresh", json={"account_ids": self.account_ids}
        )
        assert response.status_code == 202, response.text
        run_id = response.json()["run_id"]
        if run_id not in self.runs:
            self.runs.append(run_id)

    async def keep_running(self, stop: asyncio.Event) -> None:
        conn = await asyncpg.connect(self.dsn)
        try:
            last = time.perf_counter()
            while not stop.is_set():
                running = await conn.fetchval(
                    "SELECT count(*) FROM collection_runs WHERE status = 'running'"
                )
                now = time.perf_counter()
                if running:
                    self.busy_s += now - last
                else:
                    self.idle_s += now - last
                    await self.start()
                last = now
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), 0.25)
            self.accounts_done = int(
                await conn.fetchval(
                    "SELECT count(*) FROM collection_run_accounts"
                    " WHERE status NOT IN ('pending', 'running')"
                )
            )
        finally:
            await conn.close()


Call = Callable[[int], Awaitable[httpx.Response]]


async def _phase(call: Call, phase: Phase, seconds: float, concurrency: int) -> None:
    deadline = time.perf_counter() + seconds

    async def worker(offset: int) -> None:
        n = offset
        while time.perf_counter() < deadline:
            started = time.perf_counter()
            try:
                response = await call(n)
                status = response.status_code
            except httpx.HTTPError:
                status = 0
            phase.statuses[status] = phase.statuses.get(status, 0) + 1
            if status == 200:
                phase.latencies.append((time.perf_counter() - started) * 1000)
            else:
                phase.errors += 1
            n += 1

    started = time.perf_counter()
    await asyncio.gather(*(worker(i) for i in range(concurrency)))
    phase.seconds += time.perf_counter() - started


async def _watch_pool(
    pool: Any, watch: PoolWatch, active: asyncio.Event, stop: asyncio.Event
) -> None:
    """Samples the pool every 10 ms of the app's phases; the gaps show the event loop's lag."""
    last = time.perf_counter()
    while not stop.is_set():
        now = time.perf_counter()
        if active.is_set():
            watch.sample(pool)
            watch.lags_ms.append((now - last) * 1000 - 10)
        last = now
        await asyncio.sleep(0.01)


async def run(args: argparse.Namespace) -> dict[str, Any]:
    clouds = Clouds(args.collect)
    try:
        for name in AWS_SERVICES:
            os.environ[f"AWS_ENDPOINT_URL_{name}"] = clouds.info["sim_url"]
        # As bench_collection.run sets them (STS from moto or from the simulator).
        os.environ["AWS_ENDPOINT_URL_STS"] = clouds.info.get("sts_url") or clouds.info["moto_url"]
        os.environ["AWS_EC2_METADATA_DISABLED"] = "true"
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
                    "ca_bundle": clouds.info["ca"],
                    "account_timeout_s": 600,
                }
            )
            await _arrange(settings, await load_key_ring(settings), clouds)
            clouds.command(f"latency {CLOUD_LATENCY_S}")
            return await _measure(args, settings, url, aws_ids)
    finally:
        clouds.close()


async def _measure(
    args: argparse.Namespace, settings: Settings, url: str, aws_ids: list[Any]
) -> dict[str, Any]:
    app = create_app(settings)
    timeouts = PoolTimeouts()
    logging.getLogger("api").addHandler(timeouts)
    async with app.router.lifespan_context(app):
        token = new_session_token()
        async with app.state.sessionmaker() as db:
            user = User(email="load@example.com", password_hash="x", role="admin")
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
            collect_ids = [
                str(a.id)
                for a in (await db.execute(CloudAccount.__table__.select())).all()
                if a.name.startswith("bench ")
            ]
        headers = {"Authorization": f"Bearer {token}"}
        fifty = ",".join(str(a) for a in aws_ids[:50])
        cases: list[tuple[str, dict[str, Any]]] = [
            (
                "/api/recommendations",
                {"account_ids": fifty, "provider": "aws", "min_savings": "100", "limit": 50},
            ),
            ("/api/dashboard/summary", {"account_ids": fifty}),
            ("/api/history", {"account_ids": fifty, "limit": 50}),
            ("/api/commitments", {"account_ids": fifty, "state": "active", "limit": 50}),
        ]
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(
            transport=transport, base_url="http://load", headers=headers, timeout=120
        ) as client:
            # The SQL of each request, captured before the collection starts writing.
            captured = Captured(statements=[], task=asyncio.current_task())
            engine = app.state.engine.sync_engine
            sql: dict[str, list[tuple[str, tuple[Any, ...]]]] = {}
            event.listen(engine, "before_cursor_execute", captured.record)
            for index, (path, params) in enumerate(cases):
                captured.statements.clear()
                response = await client.get(path, params=params)
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

            pool = engine.pool
            capacity = pool.size() + settings.db.pool_size  # pool_size + max_overflow
            bare_pool = await asyncpg.create_pool(_dsn(url), min_size=2, max_size=capacity)
            assert bare_pool is not None
            bare = httpx.AsyncClient(
                transport=httpx.ASGITransport(app=baseline_app(bare_pool, sql)),
                base_url="http://bare",
                timeout=120,
            )

            def app_call(n: int) -> Awaitable[httpx.Response]:
                path, params = cases[n % len(cases)]
                return client.get(path, params=params)

            def bare_call(n: int) -> Awaitable[httpx.Response]:
                return bare.get(f"/{n % len(cases)}", params=cases[n % len(cases)][1])

            def bare_auth_call(n: int) -> Awaitable[httpx.Response]:
                return bare.get(f"/{n % len(cases)}+auth", params=cases[n % len(cases)][1])

            calls: dict[str, Call] = {
                "app": app_call,
                "bare": bare_call,
                "bare+auth": bare_auth_call,
            }
            phases = {target: Phase() for target in TARGETS}
            watch = PoolWatch(capacity=capacity)
            collection = Collection(admin=client, dsn=_dsn(url), account_ids=collect_ids)
            stop, app_active = asyncio.Event(), asyncio.Event()
            await collection.start()
            keeper = asyncio.create_task(collection.keep_running(stop))
            sampler = asyncio.create_task(_watch_pool(pool, watch, app_active, stop))
            load_started = time.perf_counter()
            try:
                for _ in range(args.rounds):
                    for target in TARGETS:
                        if target == "app":
                            app_active.set()
                        await _phase(calls[target], phases[target], args.phase, args.concurrency)
                        app_active.clear()
            finally:
                load_s = time.perf_counter() - load_started
                stop.set()
                await asyncio.gather(keeper, sampler)
                await bare.aclose()
                await bare_pool.close()
            # Let the last run finish, so the app shuts down with nothing in flight.
            conn = await asyncpg.connect(_dsn(url))
            try:
                for _ in range(1200):
                    if not await conn.fetchval(
                        "SELECT count(*) FROM collection_runs WHERE status = 'running'"
                    ):
                        break
                    await asyncio.sleep(0.25)
            finally:
                await conn.close()
    logging.getLogger("api").removeHandler(timeouts)
    return {
        "phases": phases,
        "pool": watch,
        "pool_timeouts": timeouts.count,
        "collection": collection,
        "load_s": load_s,
        "capacity": capacity,
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--collect", type=int, default=200, help="AWS accounts collected")
    parser.add_argument("--phase", type=float, default=5.0, help="seconds per target and round")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args(argv if argv is not None else [])
    result = asyncio.run(run(args))
    phases: dict[str, Phase] = result["phases"]
    watch: PoolWatch = result["pool"]
    collection: Collection = result["collection"]
    print(
        f"{args.concurrency} clients, {args.rounds} rounds x {args.phase:.0f} s per target; "
        f"collection of {args.collect} AWS accounts at {CLOUD_LATENCY_S * 1000:.0f} ms per call "
        f"in progress {collection.busy_s / max(1e-9, collection.busy_s + collection.idle_s):.0%} "
        f"of {result['load_s']:.0f} s ({len(collection.runs)} runs, "
        f"{collection.accounts_done} accounts collected)"
    )
    print(f"{'target':<10} {'requests':>8} {'rps':>7} {'p50 ms':>8} {'p99 ms':>8} {'errors':>7}")
    for target, phase in phases.items():
        print(
            f"{target:<10} {phase.requests:>8} {phase.rps:>7.1f} {phase.percentile(0.5):>8.1f} "
            f"{phase.percentile(0.99):>8.1f} {phase.errors / max(1, phase.requests):>7.2%}"
        )
    app, bare, bare_auth = phases["app"], phases["bare"], phases["bare+auth"]
    print(
        f"app / bare rps {app.rps / bare.rps:.2f}, app / bare+auth rps "
        f"{app.rps / bare_auth.rps:.2f}; p50 x{app.percentile(0.5) / bare.percentile(0.5):.1f}"
    )
    print(
        f"pool: at most {watch.most_checked_out} of {result['capacity']} connections checked out "
        f"({watch.samples} samples, {watch.at_capacity} at capacity), "
        f"{result['pool_timeouts']} pool timeouts; app statuses {app.statuses}"
    )
    if watch.lags_ms:
        print(
            f"event loop lag during the app's phases: median "
            f"{statistics.median(watch.lags_ms):.0f} ms, max {max(watch.lags_ms):.0f} ms"
        )
    # Exhausted = a request waited out CUDLY_DB_POOL_TIMEOUT_S for a connection (a 503);
    # samples at capacity (the next checkout would wait) are reported above.
    assert result["pool_timeouts"] == 0, "the app's pool was exhausted (pool timeouts)"
    assert app.errors == 0, f"the app answered {app.statuses}"


if __name__ == "__main__":
    main(sys.argv[1:])
