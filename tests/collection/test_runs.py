"""The collection run machinery over the real app and database, with a fake collector."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from api.models import Commitment, Recommendation, SavingsSnapshot
from tests.collection.conftest import create_accounts, refresh_and_wait
from tests.collection.fakes import Behaviour, FakeCloud, commitment, rec


@pytest.fixture
def settings_overrides() -> dict[str, object]:
    # The timeout test waits this long; generous because the test machine is shared.
    return {"max_account_parallelism": 3, "account_timeout_s": 8.0}


def by_account(run: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {row["cloud_account_id"]: row for row in run["accounts"]}


async def rec_ids(session: AsyncSession, account_id: str) -> dict[tuple[Any, ...], Any]:
    rows = await session.execute(
        select(Recommendation)
        .where(Recommendation.cloud_account_id == account_id)
        .execution_options(populate_existing=True)
    )
    return {
        (r.service, r.region, r.resource_type, r.term, r.payment, r.variant): r.id
        for r in rows.scalars()
    }


async def test_a_run_collects_every_account_and_stores_its_results(
    admin_client: httpx.AsyncClient, fake_cloud: FakeCloud, session: AsyncSession
) -> None:
    accounts = await create_accounts(admin_client, 4)
    fake_cloud.set(
        accounts[0]["external_id"],
        Behaviour(
            recommendations=[rec(term=1), rec(term=3), rec(variant="Windows|default|standard")],
            commitments=[commitment("ri-a"), commitment("ri-b")],
            warnings=["savings plans inventory: access denied"],
        ),
    )

    run = await refresh_and_wait(admin_client)

    assert run["status"] == "completed" and run["trigger"] == "manual"
    assert run["accounts_total"] == 4 and run["accounts_ok"] == 4, run["accounts"]
    rows = by_account(run)
    first = rows[accounts[0]["id"]]
    assert first["status"] == "ok" and first["error"] is None
    assert first["recommendation_count"] == 3 and first["commitment_count"] == 2
    assert first["warnings"] == ["savings plans inventory: access denied"]
    assert first["duration_ms"] is not None and first["account_name"] == accounts[0]["name"]
    # Each account was collected as itself, once.
    assert sorted(fake_cloud.calls) == sorted(a["external_id"] for a in accounts)
    # 1-year and 3-year, and two platforms of one type, coexist.
    assert len(await rec_ids(session, accounts[0]["id"])) == 3
    commitments = await session.execute(
        select(func.count()).where(Commitment.cloud_account_id == accounts[0]["id"])
    )
    assert commitments.scalar_one() == 2
    snapshots = await session.execute(
        select(SavingsSnapshot).where(SavingsSnapshot.cloud_account_id == accounts[0]["id"])
    )
    [snapshot] = snapshots.scalars().all()
    assert snapshot.potential_monthly_savings == 30
    assert snapshot.active_commitment_count == 2
    assert snapshot.committed_monthly == 200  # 2 x 1200 upfront over 12 months


async def test_failures_stay_in_their_account_and_keep_previous_recommendations(
    admin_client: httpx.AsyncClient, fake_cloud: FakeCloud, session: AsyncSession
) -> None:
    ok, broken, slow = await create_accounts(admin_client, 3)
    initial = await refresh_and_wait(admin_client)
    assert initial["accounts_ok"] == 3, initial
    before_broken = await rec_ids(session, broken["id"])
    before_slow = await rec_ids(session, slow["id"])
    assert before_broken and before_slow

    fake_cloud.set(broken["external_id"], Behaviour(error="AccessDenied: fix the role"))
    fake_cloud.set(slow["external_id"], Behaviour(hang=True))
    fake_cloud.set(ok["external_id"], Behaviour(recommendations=[rec(term=3)]))
    run = await refresh_and_wait(admin_client)

    rows = by_account(run)
    assert rows[ok["id"]]["status"] == "ok"
    assert rows[broken["id"]]["status"] == "failed"
    assert rows[broken["id"]]["error"] == "AccessDenied: fix the role"
    assert rows[slow["id"]]["status"] == "timeout"
    assert "CUDLY_ACCOUNT_TIMEOUT_S" in rows[slow["id"]]["error"]
    assert run["status"] == "completed"
    assert (run["accounts_ok"], run["accounts_failed"]) == (1, 2)
    # The failed and the timed-out account keep exactly their previous rows (same ids).
    assert await rec_ids(session, broken["id"]) == before_broken
    assert await rec_ids(session, slow["id"]) == before_slow
    # The successful one replaced its set: the 1-year key is gone, the 3-year one is new.
    assert [k[3] for k in await rec_ids(session, ok["id"])] == [3]

    fresh = await admin_client.get("/api/recommendations/freshness")
    states = {a["cloud_account_id"]: a for a in fresh.json()["accounts"]}
    assert states[broken["id"]]["stale"] is True
    assert states[broken["id"]]["last_status"] == "failed"
    assert states[broken["id"]]["last_collected_at"] is not None  # from the first run
    assert states[ok["id"]]["stale"] is False


async def test_ids_are_stable_across_identical_runs_and_same_keys_are_summed(
    admin_client: httpx.AsyncClient, fake_cloud: FakeCloud, session: AsyncSession
) -> None:
    [account] = await create_accounts(admin_client, 1)
    fake_cloud.set(
        account["external_id"],
        Behaviour(recommendations=[rec(count="1", savings="5"), rec(count="2", savings="7")]),
    )
    await refresh_and_wait(admin_client)
    first = await rec_ids(session, account["id"])
    await refresh_and_wait(admin_client)
    assert await rec_ids(session, account["id"]) == first
    [row] = (
        await session.execute(
            select(Recommendation)
            .where(Recommendation.cloud_account_id == account["id"])
            .execution_options(populate_existing=True)
        )
    ).scalars()
    assert row.count == 3 and row.estimated_monthly_savings == 12


async def test_concurrency_bound_is_respected_and_reached(
    admin_client: httpx.AsyncClient, fake_cloud: FakeCloud
) -> None:
    accounts = await create_accounts(admin_client, 8)
    for account in accounts:
        fake_cloud.set(account["external_id"], Behaviour(delay_s=0.2))
    run = await refresh_and_wait(admin_client)
    assert run["accounts_ok"] == 8
    assert fake_cloud.peak == 3  # CUDLY_MAX_ACCOUNT_PARALLELISM


async def test_two_refreshes_at_once_make_one_run(
    admin_client: httpx.AsyncClient, fake_cloud: FakeCloud
) -> None:
    [account] = await create_accounts(admin_client, 1)
    fake_cloud.set(account["external_id"], Behaviour(delay_s=0.3))
    first, second = await asyncio.gather(
        admin_client.post("/api/recommendations/refresh", json={}),
        admin_client.post("/api/recommendations/refresh"),
    )
    assert first.status_code == second.status_code == 202
    assert first.json()["run_id"] == second.json()["run_id"]
    assert sorted([first.json()["created"], second.json()["created"]]) == [False, True]
    runs = await admin_client.get("/api/collection-runs")
    assert len(runs.json()["runs"]) == 1


async def test_many_refreshes_while_one_runs_return_it(
    admin_client: httpx.AsyncClient, fake_cloud: FakeCloud
) -> None:
    # Past five executions on a connection PostgreSQL plans the insert generically; its
    # ON CONFLICT must still find the partial unique index (a bound predicate could not).
    [account] = await create_accounts(admin_client, 1)
    fake_cloud.set(account["external_id"], Behaviour(delay_s=1.0))
    answers = [await admin_client.post("/api/recommendations/refresh", json={}) for _ in range(10)]
    assert {answer.status_code for answer in answers} == {202}
    assert len({answer.json()["run_id"] for answer in answers}) == 1


async def test_disabled_accounts_are_not_collected_unless_named_and_then_skipped(
    admin_client: httpx.AsyncClient, fake_cloud: FakeCloud
) -> None:
    enabled, disabled = await create_accounts(admin_client, 2)
    response = await admin_client.put(
        f"/api/accounts/{disabled['id']}", json={"name": disabled["name"], "enabled": False}
    )
    assert response.status_code == 200, response.text
    run = await refresh_and_wait(admin_client)
    assert list(by_account(run)) == [enabled["id"]]
    assert fake_cloud.calls == [enabled["external_id"]]

    named = await refresh_and_wait(admin_client, {"account_ids": [disabled["id"]]})
    [row] = named["accounts"]
    assert row["status"] == "skipped" and row["error"] == "the account is disabled"


async def test_refresh_of_a_subset_and_of_unknown_or_out_of_scope_accounts(
    admin_client: httpx.AsyncClient, fake_cloud: FakeCloud, make_client: Any
) -> None:
    first, second = await create_accounts(admin_client, 2)
    run = await refresh_and_wait(admin_client, {"account_ids": [second["id"]]})
    assert list(by_account(run)) == [second["id"]]

    unknown = await admin_client.post(
        "/api/recommendations/refresh",
        json={"account_ids": ["00000000-0000-4000-8000-000000000000"]},
    )
    assert unknown.status_code == 404
    scoped = await make_client(
        permissions=[
            {
                "action": "refresh",
                "resource": "recommendations",
                "constraints": {"accounts": [first["id"]]},
            },
            {
                "action": "view",
                "resource": "recommendations",
                "constraints": {"accounts": [first["id"]]},
            },
        ]
    )
    outside = await scoped.post(
        "/api/recommendations/refresh", json={"account_ids": [second["id"]]}
    )
    assert outside.status_code == 403
    mine = await refresh_and_wait(scoped)  # no ids: every account in the caller's scope
    assert list(by_account(mine)) == [first["id"]]


async def test_accounts_without_credentials_are_skipped_with_a_reason(
    admin_client: httpx.AsyncClient, fake_cloud: FakeCloud
) -> None:
    response = await admin_client.post(
        "/api/accounts",
        json={
            "name": "keys",
            "provider": "aws",
            "external_id": "399999999999",
            "aws_auth_mode": "access_keys",
        },
    )
    assert response.status_code == 201
    run = await refresh_and_wait(admin_client)
    [row] = run["accounts"]
    assert row["status"] == "skipped" and "credentials" in row["error"]
    assert fake_cloud.calls == []


async def test_unknown_run_is_404_and_shutdown_closes_a_running_run(
    admin_client: httpx.AsyncClient, fake_cloud: FakeCloud, app: FastAPI
) -> None:
    assert (
        await admin_client.get("/api/collection-runs/00000000-0000-4000-8000-000000000000")
    ).status_code == 404
    [account] = await create_accounts(admin_client, 1)
    fake_cloud.set(account["external_id"], Behaviour(hang=True))
    started = await admin_client.post("/api/recommendations/refresh", json={})
    run_id = started.json()["run_id"]
    await asyncio.sleep(0.1)
    await app.state.collection.stop()
    run = (await admin_client.get(f"/api/collection-runs/{run_id}")).json()
    assert run["status"] == "failed" and "server stopped" in run["error"]
    assert run["accounts"][0]["status"] == "failed"
