"""Collection at scale: 1,000 AWS accounts against the simulator at 200 ms per cloud call.

Part 1 — the run. Real ``AwsCollector`` (aioboto3, SigV4, botocore parsing), real database
writes, one run per parallelism P (10 and 100). Every call of a sweep (STS
``GetCallerIdentity``, Cost Explorer, EC2 inventory) goes to the simulator and waits the same
latency. Reported: wall time against the ideal ``ceil(N/P) × calls-per-account × latency``,
CPU-seconds per account of this process (the clouds run in a child process: their CPU is
not ours), peak RSS, and that every account's calls were signed by its own key.

Part 2 — ingest. Recommendations persisted per second by the product's per-account replace
(one transaction per account: upsert on the natural key + delete of the rest), with each
ingest method (executemany, COPY into a staging table + merge, one statement over typed
arrays — ``unnest``; the product's "auto" uses the last below ``COPY_FROM_ROWS`` rows and
COPY from there), against raw asyncpg
``copy_records_to_table`` into the same table, one transaction per account, same rows.

``python -m bench.bench_collection [--accounts N]``; ``make bench`` runs it with the defaults.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import resource
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import asyncpg

from api.auth.permissions import AccountScope
from api.collection.service import CollectionContext, execute_run, start_run
from api.config import Settings
from api.credentials.schemas import CREDENTIALS_ADAPTER
from api.credentials.service import store_credentials
from api.db import create_engine, create_sessionmaker, unit_of_work
from api.enums import SERVICES, Provider, RunTrigger
from api.kit.crypto import KeyRing, load_key_ring
from api.kit.embedded_db import start_embedded_postgres
from api.migrate import upgrade_async
from api.models import CloudAccount, ServiceConfig
from api.providers.base import RecommendationData
from api.providers.clients import ProviderClients
from api.recommendations.repository import COLUMNS, IngestMethod, replace_account_recommendations

ROOT = Path(__file__).resolve().parent.parent
TMPFS = "/dev/shm" if Path("/dev/shm").is_dir() else None
LATENCY_S = 0.2
PARALLELISM = (10, 100)
AWS_SERVICES = ("COST_EXPLORER", "EC2", "RDS", "ELASTICACHE", "REDSHIFT", "MEMORYDB",
                "OPENSEARCH", "SAVINGSPLANS")  # fmt: skip


class Clouds:
    """The child process serving moto + the simulator, driven by line commands."""

    def __init__(self, accounts: int) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "bench._collection_clouds", str(accounts)],
            cwd=ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        self.info: dict[str, Any] = json.loads(self._line())

    def _line(self) -> str:
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        if not line:
            raise RuntimeError("the clouds process stopped")
        return line

    def command(self, text: str) -> dict[str, Any]:
        assert self.process.stdin is not None
        self.process.stdin.write(text + "\n")
        self.process.stdin.flush()
        answer: dict[str, Any] = json.loads(self._line())
        return answer

    def close(self) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write("quit\n")
        self.process.stdin.flush()
        self.process.wait(timeout=30)


def _rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


async def _arrange(settings: Settings, key_ring: KeyRing, clouds: Clouds) -> None:
    engine = create_engine(str(settings.db.url.get_secret_value()), settings)  # type: ignore[union-attr]
    maker = create_sessionmaker(engine)
    async with unit_of_work(maker) as session:
        # EC2 reservations only: every account's sweep is the same few calls.
        for service in SERVICES[Provider.aws]:
            row = await session.get(ServiceConfig, (Provider.aws.value, service))
            if row is not None:
                row.enabled = service == "ec2"
        for entry in clouds.info["accounts"]:
            account = CloudAccount(
                name=f"bench {entry['external_id']}",
                provider="aws",
                external_id=entry["external_id"],
                aws_auth_mode="access_keys",
            )
            session.add(account)
            await session.flush()
            credentials = CREDENTIALS_ADAPTER.validate_python(
                {
                    "type": "aws_access_keys",
                    "access_key_id": entry["access_key_id"],
                    "secret_access_key": entry["secret_access_key"],
                    "session_token": entry["session_token"],
                }
            )
            await store_credentials(session, key_ring, account, credentials, None, settings)
    await engine.dispose()


async def _run_once(
    settings: Settings, key_ring: KeyRing, clouds: Clouds, parallelism: int
) -> dict[str, Any]:
    settings = settings.model_copy(update={"max_account_parallelism": parallelism})
    engine = create_engine(str(settings.db.url.get_secret_value()), settings)  # type: ignore[union-attr]
    maker = create_sessionmaker(engine)

    async def ring() -> KeyRing:
        return key_ring

    clouds.command(f"latency {LATENCY_S}")
    clouds.command("reset")
    async with ProviderClients(settings) as clients:
        ctx = CollectionContext(maker=maker, settings=settings, clients=clients, key_ring=ring)
        cpu, wall = time.process_time(), time.perf_counter()
        started = await start_run(
            maker,
            settings,
            trigger=RunTrigger.cli,
            account_ids=None,
            scope=AccountScope.everything(),
        )
        await execute_run(ctx, started.run_id)
        wall = time.perf_counter() - wall
        cpu = time.process_time() - cpu
    async with unit_of_work(maker) as session:
        from api.collection import repository

        run = await repository.get_run(session, started.run_id)
    await engine.dispose()
    stats = clouds.command("stats")
    assert run is not None
    # Shared clients, per-call credentials: every account made the same calls, each signed
    # by its own key (the simulator tells the account from the signing key).
    assert stats["min_calls_per_account"] == stats["max_calls_per_account"], stats
    accounts = run.accounts_total
    calls_per_account = stats["calls"] / max(1, stats["accounts"])
    ideal = math.ceil(accounts / parallelism) * calls_per_account * LATENCY_S
    return {
        "P": parallelism,
        "accounts": accounts,
        "ok": run.accounts_ok,
        "calls_per_account": calls_per_account,
        "peak_in_flight": stats["peak"],
        "wall_s": wall,
        "ideal_s": ideal,
        "ratio": wall / ideal,
        "cpu_ms_per_account": cpu / accounts * 1000,
        "cpu_s": cpu,
        "peak_rss_mib": _rss_mib(),
    }


def _items(count: int, salt: str) -> list[RecommendationData]:
    return [
        RecommendationData(
            service="ec2",
            region="us-east-1",
            resource_type=f"m5.{n}xlarge",
            engine="",
            term=3,
            payment="no-upfront",
            variant=f"Linux/UNIX/Shared/STANDARD/{salt}",
            count=Decimal(2),
            upfront_cost=Decimal(0),
            recurring_monthly_cost=Decimal("50.125"),
            on_demand_monthly_cost=Decimal("80.5"),
            estimated_monthly_savings=Decimal("30.375"),
            savings_percent=Decimal("37.7"),
            currency="USD",
            details={"offering": f"o-{n}", "AccountId": salt},
        )
        for n in range(count)
    ]


async def _ingest(settings: Settings, accounts: int, per_account: int) -> dict[str, float]:
    """Rows per second for each method over ``accounts`` × ``per_account`` rows."""
    url = str(settings.db.url.get_secret_value())  # type: ignore[union-attr]
    engine = create_engine(url, settings)
    maker = create_sessionmaker(engine)
    async with unit_of_work(maker) as session:
        ids = []
        for n in range(accounts):
            account = CloudAccount(
                name=f"ingest {per_account}-{n}",
                provider="aws",
                external_id=f"{500_000_000_000 + per_account * 10_000 + n:012d}",
                aws_auth_mode="access_keys",
            )
            session.add(account)
            await session.flush()
            ids.append(account.id)
    items = _items(per_account, "x")
    rates: dict[str, float] = {}
    methods: tuple[IngestMethod, ...] = ("executemany", "copy", "unnest")
    for round_ in range(2):  # round 0 inserts, round 1 updates every row (the steady state)
        for method in methods:
            started = time.perf_counter()
            for account_id in ids:
                async with unit_of_work(maker) as session:
                    await replace_account_recommendations(
                        session,
                        account_id,
                        Provider.aws,
                        None,
                        items,
                        datetime.now(UTC),
                        method=method,
                    )
            elapsed = time.perf_counter() - started
            stored = await _count(url, ids)
            assert stored == accounts * per_account, (method, stored)
            rates[f"{method} {'insert' if round_ == 0 else 'update'}"] = (
                accounts * per_account / elapsed
            )
            if round_ == 0 and method != methods[-1]:
                await _clear(url, ids)  # so the next method's round also inserts
    await _clear(url, ids)
    # Raw asyncpg COPY of the same rows, one transaction per account.
    dsn = url.replace("postgresql+asyncpg://", "postgresql://")
    connection = await asyncpg.connect(dsn)
    try:
        now = datetime.now(UTC)
        started = time.perf_counter()
        for account_id in ids:
            records = [
                (
                    account_id,
                    "aws",
                    i.service,
                    i.region,
                    i.resource_type,
                    i.engine,
                    i.term,
                    i.payment,
                    i.variant,
                    None,
                    i.count,
                    i.upfront_cost,
                    i.recurring_monthly_cost,
                    i.on_demand_monthly_cost,
                    i.estimated_monthly_savings,
                    i.savings_percent,
                    i.currency,
                    now,
                    json.dumps(i.details),
                )
                for i in items
            ]
            async with connection.transaction():
                await connection.copy_records_to_table(
                    "recommendations", records=records, columns=list(COLUMNS)
                )
        rates["raw COPY"] = accounts * per_account / (time.perf_counter() - started)
    finally:
        await connection.close()
    await engine.dispose()
    return rates


async def _count(url: str, ids: list[uuid.UUID]) -> int:
    connection = await asyncpg.connect(url.replace("postgresql+asyncpg://", "postgresql://"))
    try:
        count: int = await connection.fetchval(
            "SELECT count(*) FROM recommendations WHERE cloud_account_id = ANY($1::uuid[])", ids
        )
        return count
    finally:
        await connection.close()


async def _clear(url: str, ids: list[uuid.UUID]) -> None:
    connection = await asyncpg.connect(url.replace("postgresql+asyncpg://", "postgresql://"))
    try:
        await connection.execute(
            "DELETE FROM recommendations WHERE cloud_account_id = ANY($1::uuid[])", ids
        )
    finally:
        await connection.close()


async def run(
    accounts: int, parallelism_values: tuple[int, ...] = PARALLELISM, *, ingest: bool = True
) -> None:
    clouds = Clouds(accounts)
    try:
        for name in AWS_SERVICES:
            os.environ[f"AWS_ENDPOINT_URL_{name}"] = clouds.info["sim_url"]
        os.environ["AWS_ENDPOINT_URL_STS"] = clouds.info["sts_url"]
        os.environ["AWS_EC2_METADATA_DISABLED"] = "true"
        with tempfile.TemporaryDirectory(prefix="cudly-bench-", dir=TMPFS) as tmp:
            url = start_embedded_postgres(Path(tmp), cleanup="delete")
            await upgrade_async(url)
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
            key_ring = await load_key_ring(settings)
            await _arrange(settings, key_ring, clouds)
            print(f"{accounts} AWS accounts, {LATENCY_S * 1000:.0f} ms per cloud call")
            print(
                f"{'P':>4} {'ok':>5} {'calls/acct':>10} {'peak':>5} {'wall s':>8} {'ideal s':>8}"
                f" {'wall/ideal':>10} {'CPU ms/acct':>12} {'RSS MiB':>8}"
            )
            for parallelism in parallelism_values:
                r = await _run_once(settings, key_ring, clouds, parallelism)
                print(
                    f"{r['P']:>4} {r['ok']:>5} {r['calls_per_account']:>10.1f}"
                    f" {r['peak_in_flight']:>5} {r['wall_s']:>8.1f} {r['ideal_s']:>8.1f}"
                    f" {r['ratio']:>10.2f} {r['cpu_ms_per_account']:>12.1f}"
                    f" {r['peak_rss_mib']:>8.0f}",
                    flush=True,
                )
            if not ingest:
                return
            print("ingest (rows/s; one transaction per account)")
            for n_accounts, per_account in ((200, 20), (20, 500)):
                rates = await _ingest(settings, n_accounts, per_account)
                raw = rates["raw COPY"]
                line = ", ".join(
                    f"{name} {rate:,.0f} ({rate / raw:.2f}x)" for name, rate in rates.items()
                )
                print(f"  {n_accounts} accounts x {per_account} rows: {line}", flush=True)
    finally:
        clouds.close()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--accounts", type=int, default=1000)
    parser.add_argument(
        "--parallelism", type=int, action="append", help="P to run (repeatable; default 10 and 100)"
    )
    parser.add_argument("--no-ingest", action="store_true", help="skip the ingest comparison")
    args = parser.parse_args(argv if argv is not None else [])
    values = tuple(args.parallelism) if args.parallelism else PARALLELISM
    asyncio.run(run(args.accounts, values, ingest=not args.no_ingest))


if __name__ == "__main__":
    main(sys.argv[1:])
