"""`cudly collect`: the summary table and the exit code (run through its async entry point)."""

from __future__ import annotations

import io
import uuid

import httpx
from rich.console import Console

from api.collection.cli import run_collect
from api.config import Settings
from tests.collection.conftest import create_accounts, wait_for_run
from tests.collection.fakes import Behaviour, FakeCloud


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
