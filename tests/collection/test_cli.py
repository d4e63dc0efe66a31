"""`cudly collect`: the summary table and the exit code (run through its async entry point)."""

from __future__ import annotations

import asyncio
import io
import os
import sys
import uuid
from pathlib import Path

import httpx
from rich.console import Console

from api.collection.cli import run_collect
from api.config import Settings
from tests.cloudsim import SimServer
from tests.cloudsim.collect import CollectSim, aws_ec2_detail
from tests.collection.conftest import create_accounts, wait_for_run
from tests.collection.fakes import Behaviour, FakeCloud
from tests.conftest import TEST_KEY
from tests.credentials.fixtures import AwsEnv
from tests.providers.collect_helpers import aws_temporary_keys


def console() -> tuple[Console, io.StringIO]:
    out = io.StringIO()
    return Console(file=out, width=200, force_terminal=False, color_system=None), out


async def test_collect_prints_a_summary_and_exits_0_when_all_succeed(
    admin_client: httpx.AsyncClient, settings: Settings, database_url: str
) -> None:
    first, second = await create_accounts(admin_client, 2)
    cloud = FakeCloud()
    screen, out = console()

    code = await run_collect(
        settings, database_url, None, screen, collector_for=cloud.collector_for
    )

    text = out.getvalue()
    assert code == 0
    assert "collecting" in text and "2/2" in text
    for account in (first, second):
        assert f"{account['name']} ({account['external_id']})" in text
    assert "2 ok, 0 failed, 0 skipped; 2 recommendations stored" in text
    runs = (await admin_client.get("/api/collection-runs")).json()["runs"]
    assert [r["trigger"] for r in runs] == ["cli"]


async def test_collect_exits_1_when_an_account_fails_and_names_the_reason(
    admin_client: httpx.AsyncClient, settings: Settings, database_url: str
) -> None:
    good, bad = await create_accounts(admin_client, 2)
    cloud = FakeCloud()
    cloud.set(bad["external_id"], Behaviour(error="InvalidClientTokenId: replace the keys"))
    screen, out = console()

    code = await run_collect(
        settings, database_url, [uuid.UUID(bad["id"])], screen, collector_for=cloud.collector_for
    )

    text = out.getvalue()
    assert code == 1
    assert "failed" in text and "InvalidClientTokenId: replace the keys" in text
    assert good["name"] not in text  # --account limits the run
    assert "0 ok, 1 failed" in text


async def test_collect_refuses_while_a_run_is_in_progress(
    admin_client: httpx.AsyncClient,
    settings: Settings,
    database_url: str,
    fake_cloud: FakeCloud,
) -> None:
    [account] = await create_accounts(admin_client, 1)
    fake_cloud.set(account["external_id"], Behaviour(delay_s=1.0))
    started = await admin_client.post("/api/recommendations/refresh", json={})
    screen, out = console()

    code = await run_collect(settings, database_url, None, screen)

    assert code == 1 and "already in progress" in out.getvalue()
    await wait_for_run(admin_client, started.json()["run_id"])


async def test_collect_unknown_account_is_an_error(settings: Settings, database_url: str) -> None:
    screen, out = console()
    code = await run_collect(
        settings, database_url, [uuid.uuid4()], screen, collector_for=FakeCloud().collector_for
    )
    assert code == 1 and "unknown cloud account" in out.getvalue()


async def test_the_cudly_collect_command_with_the_real_collectors(
    aws: AwsEnv,
    collect_sim: CollectSim,
    cloudsim: SimServer,
    admin_client: httpx.AsyncClient,
    database_url: str,
) -> None:
    """The installed console script, as an operator runs it: output and exit code."""
    for service in ("rds", "elasticache", "opensearch", "redshift", "memorydb", "savings-plans"):
        response = await admin_client.put(
            f"/api/config/service/aws/{service}", json={"enabled": False}
        )
        assert response.status_code == 200
    ids = {}
    for external_id in ("320000000001", "320000000002"):
        response = await admin_client.post(
            "/api/accounts",
            json={"name": f"cli {external_id}", "provider": "aws", "external_id": external_id},
        )
        ids[external_id] = response.json()["id"]
        stored = await admin_client.post(
            f"/api/accounts/{ids[external_id]}/credentials",
            json=aws_temporary_keys(aws, external_id),
        )
        assert stored.status_code == 204
        collect_sim.aws_ri(external_id, "ec2", aws_ec2_detail(account=external_id))
    collect_sim.fault("320000000002", "bad_credentials")
    env = {
        **os.environ,  # the AWS endpoint variables the fixtures set
        "DATABASE_URL": database_url,
        "CREDENTIAL_ENCRYPTION_KEY": TEST_KEY,
        "CUDLY_ENV": "test",
        "CUDLY_CA_BUNDLE": str(cloudsim.ca_pem_path),  # the simulator speaks HTTPS
        "COLUMNS": "200",
    }

    async def cudly(*args: str) -> tuple[int, str]:
        process = await asyncio.create_subprocess_exec(
            str(Path(sys.executable).parent / "cudly"),
            *args,
            env=env,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        out, _ = await asyncio.wait_for(process.communicate(), timeout=180)
        assert process.returncode is not None
        return process.returncode, out.decode()

    code, text = await cudly("collect")
    assert code == 1, text
    assert "cli 320000000001 (320000000001)" in text and "cli 320000000002" in text
    assert "rejected the access key" in text, text
    assert "1 ok, 1 failed, 0 skipped; 1 recommendations stored" in text

    code, text = await cudly("collect", "--account", ids["320000000001"])
    assert code == 0, text
    assert "1 ok, 0 failed" in text and "cli 320000000002" not in text

    code, text = await cudly("collect", "--account", "nope")
    assert code == 2 and "UUID" in text
