"""Scale-out of a collection run: the same run at P = 100 over 1 and over 2 worker processes.

The set-up of ``bench_collection`` (imported, not copied): AWS accounts with access keys,
EC2 reservations only, the simulator and moto in a child process (their CPU is not the
product's), 200 ms added to every simulated call, the real ``AwsCollector`` and database
writes. Each worker is a process of its own running the product's ``CollectionWorker`` —
what every ``cudly serve`` process runs — against one embedded PostgreSQL; the benchmark
process only starts the run (``start_run``, which notifies the workers) and waits for it to
close. Reported per worker count: wall time against the ideal
``ceil(N/P) × calls-per-account × latency``, CPU-seconds per account (summed over the
workers, ``time.process_time`` of each), peak RSS and accounts claimed per process.

``python -m bench.bench_scaleout [--accounts N] [--parallelism P] [--workers 1,2]``
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
from pathlib import Path
from typing import Any

from api.auth.permissions import AccountScope
from api.collection import repository
from api.collection.service import CollectionContext, CollectionWorker, start_run
from api.config import Settings
from api.db import create_engine, create_sessionmaker, unit_of_work
from api.enums import RunTrigger
from api.kit.crypto import KeyRing, load_key_ring
from api.kit.embedded_db import start_embedded_postgres
from api.migrate import upgrade_async
from api.providers.clients import ProviderClients
from bench.bench_collection import AWS_SERVICES, LATENCY_S, ROOT, TMPFS, Clouds, _arrange

KEY = "ab" * 32


def _settings(url: str, ca: str, parallelism: int) -> Settings:
    return Settings.model_validate(
        {
            "database_url": url,
            "run_migrations": False,
            "scheduler_enabled": False,
            "credential_encryption_key": KEY,
            "log_level": "WARNING",
            "ca_bundle": ca,
            "account_timeout_s": 600,
            "max_account_parallelism": parallelism,
        }
    )


# --- one worker process ----------------------------------------------------------------------


async def _worker(url: str, ca: str, parallelism: int) -> None:
    settings = _settings(url, ca, parallelism)
    key_ring = await load_key_ring(settings)

    async def ring() -> KeyRing:
        return key_ring

    engine = create_engine(url, settings)
    async with ProviderClients(settings) as clients:
        ctx = CollectionContext(
            maker=create_sessionmaker(engine), settings=settings, clients=clients, key_ring=ring
        )
        worker = CollectionWorker(ctx)
        await worker.start()
        cpu = time.process_time()
        print(json.dumps({"ready": True}), flush=True)
        await asyncio.to_thread(sys.stdin.readline)  # the run is over
        cpu = time.process_time() - cpu
        claimed = worker.loop.claimed_total
        await worker.stop()
    await engine.dispose()
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"cpu_s": cpu, "rss_mib": rss, "claimed": claimed}), flush=True)


# --- the benchmark ---------------------------------------------------------------------------


def _spawn(count: int, url: str, ca: str, parallelism: int) -> list[subprocess.Popen[str]]:
    workers = [
        subprocess.Popen(
            [sys.executable, "-m", "bench.bench_scaleout", "--worker", url, ca, str(parallelism)],
            cwd=ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        for _ in range(count)
    ]
    for process in workers:
        assert process.stdout is not None
        line = process.stdout.readline()
        if not line or not json.loads(line).get("ready"):
            raise RuntimeError("a worker did not start")
    return workers


def _finish(workers: list[subprocess.Popen[str]]) -> list[dict[str, Any]]:
    stats = []
    for process in workers:
        assert process.stdin is not None and process.stdout is not None
        process.stdin.write("done\n")
        process.stdin.flush()
        stats.append(json.loads(process.stdout.readline()))
        process.wait(timeout=60)
    return stats


async def _run_once(
    settings: Settings, clouds: Clouds, url: str, count: int, parallelism: int
) -> dict[str, Any]:
    engine = create_engine(url, settings)
    maker = create_sessionmaker(engine)
    clouds.command(f"latency {LATENCY_S}")
    clouds.command("reset")
    workers = await asyncio.to_thread(_spawn, count, url, clouds.info["ca"], parallelism)
    try:
        wall = time.perf_counter()
        started = await start_run(
            maker,
            settings,
            trigger=RunTrigger.cli,
            account_ids=None,
            scope=AccountScope.everything(),
        )
        while True:
            async with unit_of_work(maker) as session:
                run = await repository.get_run(session, started.run_id)
            assert run is not None
            if run.status != "running":
                break
            await asyncio.sleep(0.1)
        wall = time.perf_counter() - wall
    finally:
        per_process = await asyncio.to_thread(_finish, workers)
    await engine.dispose()
    stats = clouds.command("stats")
    accounts = run.accounts_total
    calls_per_account = stats["calls"] / max(1, stats["accounts"])
    ideal = math.ceil(accounts / parallelism) * calls_per_account * LATENCY_S
    cpu = sum(p["cpu_s"] for p in per_process)
    return {
        "workers": count,
        "accounts": accounts,
        "ok": run.accounts_ok,
        "calls_per_account": calls_per_account,
        "peak_in_flight": stats["peak"],
        "wall_s": wall,
        "ideal_s": ideal,
        "ratio": wall / ideal,
        "cpu_ms_per_account": cpu / accounts * 1000,
        "cpu_s": [round(p["cpu_s"], 1) for p in per_process],
        "rss_mib": [round(p["rss_mib"]) for p in per_process],
        "claimed": [p["claimed"] for p in per_process],
    }


def _load() -> str:
    return " ".join(f"{x:.1f}" for x in os.getloadavg())


async def run(accounts: int, parallelism: int, worker_counts: list[int]) -> None:
    clouds = Clouds(accounts)
    try:
        for name in AWS_SERVICES:
            os.environ[f"AWS_ENDPOINT_URL_{name}"] = clouds.info["sim_url"]
        os.environ["AWS_ENDPOINT_URL_STS"] = clouds.info.get("sts_url") or clouds.info["moto_url"]
        os.environ["AWS_EC2_METADATA_DISABLED"] = "true"
        with tempfile.TemporaryDirectory(prefix="cudly-bench-", dir=TMPFS) as tmp:
            url = start_embedded_postgres(Path(tmp), cleanup="delete")
            await upgrade_async(url)
            settings = _settings(url, clouds.info["ca"], parallelism)
            await _arrange(settings, await load_key_ring(settings), clouds)
            print(
                f"{accounts} AWS accounts, P = {parallelism}, {LATENCY_S * 1000:.0f} ms per cloud "
                f"call, load average before {_load()}"
            )
            print(
                f"{'workers':>7} {'ok':>5} {'calls/acct':>10} {'peak':>5} {'wall s':>8}"
                f" {'ideal s':>8} {'wall/ideal':>10} {'CPU ms/acct':>12}"
                "  CPU s / RSS MiB / claimed, per process"
            )
            for count in worker_counts:
                r = await _run_once(settings, clouds, url, count, parallelism)
                print(
                    f"{r['workers']:>7} {r['ok']:>5} {r['calls_per_account']:>10.1f}"
                    f" {r['peak_in_flight']:>5} {r['wall_s']:>8.1f} {r['ideal_s']:>8.1f}"
                    f" {r['ratio']:>10.2f} {r['cpu_ms_per_account']:>12.1f}"
                    f"  {r['cpu_s']} / {r['rss_mib']} / {r['claimed']}",
                    flush=True,
                )
            print(f"load average after {_load()}")
    finally:
        clouds.close()


def main(argv: list[str] | None = None) -> None:
    args = list(argv if argv is not None else [])
    if args[:1] == ["--worker"]:
        url, ca, parallelism = args[1], args[2], int(args[3])
        asyncio.run(_worker(url, ca, parallelism))
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--accounts", type=int, default=1000)
    parser.add_argument("--parallelism", type=int, default=100)
    parser.add_argument("--workers", default="1,2", help="comma-separated process counts")
    parsed = parser.parse_args(args)
    counts = [int(c) for c in parsed.workers.split(",")]
    asyncio.run(run(parsed.accounts, parsed.parallelism, counts))


if __name__ == "__main__":
    main(sys.argv[1:])
