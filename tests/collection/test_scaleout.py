"""Scale-out (issue 20): one run's accounts claimed by several real server processes on one
database (``tests.collection.scaleout_server``: the real app and ``cudly serve``'s supervisor,
with a collector that makes one simulator call per sweep), the simulator logging every sweep.

Each test starts server processes (a few seconds each on the shared machine) and sweeps 300
accounts, so it takes longer than ~10 s: that is the scale the issue asks to show.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from api.auth.permissions import AccountScope
from api.collection.service import start_run
from api.db import create_engine, create_sessionmaker, unit_of_work
from api.enums import RunTrigger
from api.models import CloudAccount, CollectionRun, CollectionRunAccount
from tests.cloudsim import SimServer
from tests.cloudsim.collect import CollectSim, collect_env
from tests.collection.scaleout_server import access_key_for
from tests.conftest import TEST_KEY, make_settings

ROOT = Path(__file__).resolve().parents[2]
ACCOUNTS = 300
PARALLELISM = 20
LATENCY_S = 0.05
STALE_S = 4.0


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Servers:
    """``cudly serve`` processes on the test's database; ``pids`` of every worker seen."""

    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)
    urls: list[str] = field(default_factory=list)

    def stop(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                process.terminate()
        for process in self.processes:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)


def server_env(database_url: str, sim: SimServer, workers: int) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CUDLY_", "AWS_"))}
    env.update(collect_env(sim))
    env.update(
        {
            "DATABASE_URL": database_url,
            "CREDENTIAL_ENCRYPTION_KEY": TEST_KEY,
            "CUDLY_ENV": "test",
            "CUDLY_RUN_MIGRATIONS": "false",
            "CUDLY_SCHEDULER_ENABLED": "false",
            "CUDLY_LOG_LEVEL": "WARNING",
            "CUDLY_WORKERS": str(workers),
            "CUDLY_MAX_ACCOUNT_PARALLELISM": str(PARALLELISM),
            "CUDLY_ACCOUNT_TIMEOUT_S": "120",
            "CUDLY_COLLECT_HEARTBEAT_S": "0.5",
            "CUDLY_COLLECT_STALE_AFTER_S": str(STALE_S),
            "CUDLY_CA_BUNDLE": str(sim.ca_pem_path),
            "AWS_EC2_METADATA_DISABLED": "true",
        }
    )
    return env


def start_servers(env: dict[str, str], count: int) -> Servers:
    servers = Servers()
    try:
        for _ in range(count):
            port = _free_port()
            servers.processes.append(
                subprocess.Popen(
                    [sys.executable, "-m", "tests.collection.scaleout_server", str(port)],
                    cwd=ROOT,
                    env=env,
                    stdout=subprocess.DEVNULL,
                )
            )
            servers.urls.append(f"http://127.0.0.1:{port}")
        deadline = time.monotonic() + 300  # two workers' start-up on a loaded machine
        for process, url in zip(servers.processes, servers.urls, strict=True):
            while True:
                assert process.poll() is None, "cudly serve exited"
                try:
                    if httpx.get(f"{url}/api/health", timeout=5).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                assert time.monotonic() < deadline, "cudly serve did not become healthy"
                time.sleep(0.3)
    except BaseException:
        servers.stop()
        raise
    return servers


@pytest.fixture
async def maker(database_url: str) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    engine = create_engine(database_url, make_settings(database_url))
    yield create_sessionmaker(engine)
    await engine.dispose()


@pytest.fixture
async def accounts(
    maker: async_sessionmaker[AsyncSession], collect_sim: CollectSim
) -> dict[str, str]:
    """300 role_arn accounts, each known to the simulator by its own access key. Returns
    external id → account id."""
    collect_sim.latency_s = LATENCY_S
    for n in range(ACCOUNTS):
        external_id = f"{320_000_000_000 + n:012d}"
        collect_sim.aws_key(access_key_for(external_id), external_id)
    async with unit_of_work(maker) as session:
        created = [
            CloudAccount(
                name=f"scale {n:04d}",
                provider="aws",
                external_id=f"{320_000_000_000 + n:012d}",
                aws_auth_mode="role_arn",
                aws_role_arn=f"arn:aws:iam::{320_000_000_000 + n:012d}:role/CUDly",
            )
            for n in range(ACCOUNTS)
        ]
        session.add_all(created)
        await session.flush()
        return {a.external_id: str(a.id) for a in created}


async def start(maker: async_sessionmaker[AsyncSession]) -> str:
    """A run as any process starts it: recorded, then announced with NOTIFY."""
    started = await start_run(
        maker,
        make_settings("postgresql://unused/db"),
        trigger=RunTrigger.manual,
        account_ids=None,
        scope=AccountScope.everything(),
    )
    assert started.created
    return str(started.run_id)


async def rows_of(maker: async_sessionmaker[AsyncSession]) -> list[CollectionRunAccount]:
    async with unit_of_work(maker) as session:
        return list((await session.execute(select(CollectionRunAccount))).scalars())


async def run_of(maker: async_sessionmaker[AsyncSession], run_id: str) -> CollectionRun:
    async with unit_of_work(maker) as session:
        run = await session.get(CollectionRun, run_id)
        assert run is not None
        return run


async def wait_closed(
    maker: async_sessionmaker[AsyncSession], run_id: str, timeout_s: float = 300
) -> CollectionRun:
    async with asyncio.timeout(timeout_s):
        while True:
            run = await run_of(maker, run_id)
            if run.status != "running":
                return run
            await asyncio.sleep(0.3)


def peak_claims(rows: list[CollectionRunAccount]) -> int:
    """The most claims held at once, from each row's claim and finish times."""
    edges = sorted(
        [(r.started_at, 1) for r in rows if r.started_at]
        + [(r.finished_at, -1) for r in rows if r.finished_at]
    )
    peak = now = 0
    for _, step in edges:  # a finish sorts before a claim at the same instant
        now += step
        peak = max(peak, now)
    return peak


def pid_of(worker: str | None) -> int:
    assert worker is not None
    return int(worker.split(":")[1])


@pytest.fixture
def env(database_url: str, cloudsim: SimServer) -> dict[str, str]:
    return server_env(database_url, cloudsim, workers=1)


async def test_two_worker_processes_of_one_server_share_a_run_and_collect_each_account_once(
    maker: async_sessionmaker[AsyncSession],
    accounts: dict[str, str],
    collect_sim: CollectSim,
    env: dict[str, str],
) -> None:
    # One `cudly serve` with CUDLY_WORKERS=2: its supervisor's two worker processes. Nobody
    # dies here, so claims never go stale: a process the loaded machine stalls past the short
    # stale limit the kill test needs would have its claims re-claimed (as designed) and be
    # counted twice in flight for a moment.
    no_stale = {**env, "CUDLY_WORKERS": "2", "CUDLY_COLLECT_STALE_AFTER_S": "120"}
    servers = await asyncio.to_thread(start_servers, no_stale, 1)
    try:
        run_id = await start(maker)
        run = await wait_closed(maker, run_id)
    finally:
        await asyncio.to_thread(servers.stop)

    assert run.status == "completed" and run.accounts_ok == ACCOUNTS, run.error
    rows = await rows_of(maker)
    assert {r.status for r in rows} == {"ok"} and len(rows) == ACCOUNTS
    # Each account collected exactly once (one call per sweep), never two sweeps at once.
    recommendations = Counter(
        c.account
        for c in collect_sim.calls
        if c.operation == "GetReservationPurchaseRecommendation"
    )
    assert recommendations == dict.fromkeys(accounts, 1)
    assert max(collect_sim.peak_by_account.values()) == 1
    # Both processes took a fair share, under one global bound that was reached.
    shares = Counter(pid_of(r.claimed_by) for r in rows)
    assert len(shares) == 2, shares
    assert all(count > ACCOUNTS / 4 for count in shares.values()), shares
    assert collect_sim.peak_in_flight <= PARALLELISM
    assert peak_claims(rows) == PARALLELISM
    assert {r.attempts for r in rows} == {1}


async def test_a_killed_process_s_accounts_are_reclaimed_and_the_run_completes(
    maker: async_sessionmaker[AsyncSession],
    accounts: dict[str, str],
    collect_sim: CollectSim,
    env: dict[str, str],
) -> None:
    # Two replicas (one process each) on one database.
    servers = await asyncio.to_thread(start_servers, env, 2)
    try:
        run_id = await start(maker)
        async with asyncio.timeout(300):
            while True:
                rows = await rows_of(maker)
                done = sum(r.status == "ok" for r in rows)
                claimers = {pid_of(r.claimed_by) for r in rows if r.status == "running"}
                if done >= ACCOUNTS // 4 and len(claimers) == 2:
                    break
                await asyncio.sleep(0.1)
        victim = servers.processes[0]
        victim.send_signal(signal.SIGKILL)
        await asyncio.to_thread(victim.wait, 10)
        # What it held at that moment (it can finish nothing more).
        held = {
            r.cloud_account_id
            for r in await rows_of(maker)
            if r.status == "running" and pid_of(r.claimed_by) == victim.pid
        }
        run = await wait_closed(maker, run_id)
        survivor_alive = servers.processes[1].poll() is None
    finally:
        await asyncio.to_thread(servers.stop)

    assert survivor_alive
    assert run.status == "completed" and run.accounts_ok == ACCOUNTS, run.error
    rows = await rows_of(maker)
    assert {r.status for r in rows} == {"ok"}  # none left running, none failed
    assert held, "the killed process held claims when it died"
    survivor = servers.processes[1].pid
    for row in rows:
        if row.cloud_account_id in held:
            # Re-claimed once its worker's heartbeat went stale, and finished by the survivor.
            assert row.attempts == 2 and pid_of(row.claimed_by) == survivor
    assert {r.attempts for r in rows if r.cloud_account_id not in held} == {1}
    # Every account's recommendations were asked for; no account was swept twice at once.
    asked = {c.account for c in collect_sim.calls if c.operation.startswith("GetReservation")}
    assert asked == set(accounts)
    assert max(collect_sim.peak_by_account.values()) == 1
    assert collect_sim.peak_in_flight <= PARALLELISM
