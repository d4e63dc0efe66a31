"""An account's two database steps, statement by statement: the batch prepare (accounts,
credentials and configs of a claimed batch in one read) and the finish write (replace,
snapshot, finish under the claim, count-down in one transaction)."""

from __future__ import annotations

import dataclasses
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import delete, select, text

from api.collection import repository
from api.collection.service import (
    AccountSkipped,
    ClaimLost,
    CollectionContext,
    CollectionWorker,
    collect_account,
    prepare_batch,
)
from api.credentials.schemas import CREDENTIALS_ADAPTER
from api.credentials.service import resolve_account_auth, store_credentials
from api.db import unit_of_work
from api.enums import Provider
from api.kit.claims import Claim
from api.models import (
    AccountServiceOverride,
    CloudAccount,
    CollectionRun,
    CollectionRunAccount,
    Commitment,
    Recommendation,
    SavingsSnapshot,
    ServiceConfig,
)
from api.recommendations.repository import replace_account_recommendations
from api.service_config.service import effective_configs
from tests.collection.conftest import create_accounts
from tests.collection.fakes import Behaviour, FakeCloud, commitment, rec
from tests.history.factories import history


def context(app: FastAPI) -> CollectionContext:
    ctx: CollectionContext = app.state.collection.ctx
    return ctx


async def claimed_run(
    app: FastAPI, account_ids: list[uuid.UUID]
) -> tuple[uuid.UUID, list[Claim[repository.ClaimedAccount]]]:
    """A running run over the accounts, all claimed by a test worker in the run's own
    transaction (so the app's worker never sees them pending)."""
    now = datetime.now(UTC)
    worker = CollectionWorker(context(app))
    async with unit_of_work(app.state.sessionmaker) as session:
        run_id = await repository.insert_running_run(
            session,
            trigger="manual",
            requested_account_ids=account_ids,
            owner="test",
            created_by=None,
            now=now,
        )
        assert run_id is not None
        accounts = await repository.accounts_by_id(session, account_ids)
        await repository.add_run_accounts(session, run_id, accounts, skipped={}, now=now)
        await repository.count_unfinished(session, run_id)
        claims = await worker.claim_in(session, [run_id])
    assert len(claims) == len(account_ids)
    return run_id, claims


async def test_a_lost_claim_writes_nothing_and_the_holder_s_write_counts(
    app: FastAPI, admin_client: httpx.AsyncClient, fake_cloud: FakeCloud
) -> None:
    [account] = await create_accounts(admin_client, 1)
    account_id = uuid.UUID(account["id"])
    maker = app.state.sessionmaker
    async with unit_of_work(maker) as session:
        await replace_account_recommendations(
            session, account_id, Provider.aws, None, [rec(resource_type="old")], datetime.now(UTC)
        )
    fake_cloud.set(
        account["external_id"],
        Behaviour(recommendations=[rec(resource_type="new")], commitments=[commitment()]),
    )
    run_id, [claim] = await claimed_run(app, [account_id])
    async with unit_of_work(maker) as session:  # another worker re-claimed the row
        new_token = (
            await session.execute(
                text(
                    "UPDATE collection_run_accounts SET claim_token = gen_random_uuid() "
                    "WHERE run_id = :run RETURNING claim_token"
                ),
                {"run": run_id},
            )
        ).scalar_one()

    ctx = context(app)
    with pytest.raises(ClaimLost):
        await collect_account(ctx, run_id, claim.item.ref, claim_token=claim.token)

    async with unit_of_work(maker) as session:
        kept = await session.execute(
            select(Recommendation.resource_type).where(
                Recommendation.cloud_account_id == account_id
            )
        )
        assert list(kept.scalars()) == ["old"]  # the late result was rolled back whole
        assert await session.scalar(select(Commitment.id)) is None
        assert await session.scalar(select(SavingsSnapshot.id)) is None
        row = await session.scalar(
            select(CollectionRunAccount).where(CollectionRunAccount.run_id == run_id)
        )
        assert row is not None and row.status == "running" and row.claim_token == new_token
        run = await session.get(CollectionRun, run_id)
        assert run is not None and run.accounts_unfinished == 1

    result = await collect_account(ctx, run_id, claim.item.ref, claim_token=new_token)
    assert result.recommendation_count == 1 and result.commitment_count == 1
    assert result.closed_run  # the run's last account closed it
    async with unit_of_work(maker) as session:
        now = await session.execute(
            select(Recommendation.resource_type).where(
                Recommendation.cloud_account_id == account_id
            )
        )
        assert list(now.scalars()) == ["new"]
        row = await session.scalar(
            select(CollectionRunAccount)
            .where(CollectionRunAccount.run_id == run_id)
            .execution_options(populate_existing=True)
        )
        assert row is not None and row.status == "ok" and row.heartbeat_at is None
        assert (row.recommendation_count, row.commitment_count) == (1, 1)
        run = await session.get(CollectionRun, run_id, populate_existing=True)
        assert run is not None and run.status == "completed" and run.accounts_ok == 1


async def test_the_snapshot_has_a_row_per_currency_and_an_empty_account_one_zero_row(
    app: FastAPI, admin_client: httpx.AsyncClient, fake_cloud: FakeCloud
) -> None:
    full, empty = await create_accounts(admin_client, 2)
    euro_ri = dataclasses.replace(commitment("ri-eur"), currency="EUR", upfront_cost=Decimal(600))
    fake_cloud.set(
        full["external_id"],
        Behaviour(
            recommendations=[
                rec(resource_type="m5.large", savings="10.50"),
                rec(resource_type="m5.xlarge", savings="4.25"),
                rec(resource_type="c5.large", savings="7", currency="EUR"),
            ],
            commitments=[commitment("ri-usd"), euro_ri, commitment("ri-old", state="retired")],
        ),
    )
    fake_cloud.set(empty["external_id"], Behaviour(recommendations=[], commitments=[]))
    maker = app.state.sessionmaker
    async with unit_of_work(maker) as session:
        owner = await session.get(CloudAccount, uuid.UUID(full["id"]))
        assert owner is not None
        await history(session, owner, savings="3", currency="EUR")
        await history(session, owner, savings="2", currency="EUR")
        await history(session, owner, savings="100", expires_at=datetime.now(UTC) - timedelta(1))
        await history(session, owner, savings="100", status="failed")
    account_ids = [uuid.UUID(full["id"]), uuid.UUID(empty["id"])]
    run_id, claims = await claimed_run(app, account_ids)
    for claim in claims:
        await collect_account(context(app), run_id, claim.item.ref, claim_token=claim.token)

    async with unit_of_work(maker) as session:
        rows = (
            await session.execute(select(SavingsSnapshot).order_by(SavingsSnapshot.currency))
        ).scalars()
        figures = {
            (str(r.cloud_account_id), r.currency): (
                r.potential_monthly_savings,
                r.committed_monthly,
                r.realized_monthly_savings,
                r.active_commitment_count,
                r.service,
                r.account_name,
            )
            for r in rows
        }
    assert figures == {
        (full["id"], "USD"): (Decimal("14.75"), Decimal(100), 0, 1, "all", full["name"]),
        (full["id"], "EUR"): (Decimal(7), Decimal(50), Decimal(5), 1, "all", full["name"]),
        (empty["id"], "USD"): (0, 0, 0, 0, "all", empty["name"]),
    }


async def test_a_batch_prepares_every_account_as_the_per_account_path_would(
    app: FastAPI, admin_client: httpx.AsyncClient
) -> None:
    role, keys, plain_keys = await create_accounts(admin_client, 3)
    disabled, no_credentials = await create_accounts(admin_client, 2)
    ctx = context(app)
    key_ring = await ctx.key_ring()
    maker = app.state.sessionmaker
    named = {"role": role, "keys": keys, "plain_keys": plain_keys}
    named |= {"disabled": disabled, "no_credentials": no_credentials}
    ids = {name: uuid.UUID(account["id"]) for name, account in named.items()}
    async with unit_of_work(maker) as session:
        for name in ("keys", "plain_keys", "no_credentials"):
            row = await session.get(CloudAccount, ids[name])
            assert row is not None
            row.aws_auth_mode = "access_keys"
            row.aws_role_arn = None
        disabled_row = await session.get(CloudAccount, ids["disabled"])
        assert disabled_row is not None
        disabled_row.enabled = False
        await session.flush()
        for name in ("keys", "plain_keys"):
            row = await session.get(CloudAccount, ids[name])
            assert row is not None
            credentials = CREDENTIALS_ADAPTER.validate_python(
                {
                    "type": "aws_access_keys",
                    "access_key_id": f"AKIATEST{name.upper()[:4]}00000",
                    "secret_access_key": f"secret-{name}",
                }
            )
            await store_credentials(session, key_ring, row, credentials, None, ctx.settings)
        session.add(
            AccountServiceOverride(
                cloud_account_id=ids["keys"],
                provider="aws",
                service="ec2",
                term=1,
                include_regions=["eu-west-1"],
            )
        )
    deleted = uuid.uuid4()

    prepared = await prepare_batch(ctx, [*ids.values(), deleted])

    async with unit_of_work(maker) as session:
        for name in ("role", "keys", "plain_keys"):
            account = await session.get(CloudAccount, ids[name])
            assert account is not None
            outcome = prepared[ids[name]]
            assert not isinstance(outcome, Exception), outcome
            auth, config = outcome
            assert auth == await resolve_account_auth(session, key_ring, account)
            assert config == await effective_configs(session, account)
        await session.execute(delete(AccountServiceOverride))
    [ec2] = [c for c in prepared[ids["keys"]][1] if c.service == "ec2"]  # type: ignore[index]
    assert ec2.term.value == 1 and ec2.include_regions.value == ("eu-west-1",)
    reasons = {}
    for name, account_id in [*ids.items(), ("deleted", deleted)]:
        outcome = prepared[account_id]
        if isinstance(outcome, AccountSkipped):
            reasons[name] = outcome.reason
    assert reasons.keys() == {"disabled", "no_credentials", "deleted"}
    assert "disabled" in reasons["disabled"] and "deleted" in reasons["deleted"]
    assert "credentials" in reasons["no_credentials"]


async def test_a_changed_global_config_reaches_the_next_batch(
    app: FastAPI, admin_client: httpx.AsyncClient
) -> None:
    first, second = (uuid.UUID(a["id"]) for a in await create_accounts(admin_client, 2))
    ctx = context(app)

    async def ec2_term(account_id: uuid.UUID) -> int:
        outcome = (await prepare_batch(ctx, [account_id]))[account_id]
        assert not isinstance(outcome, Exception), outcome
        [ec2] = [c for c in outcome[1] if c.service == "ec2"]
        return ec2.term.value

    before = await ec2_term(first)
    async with unit_of_work(app.state.sessionmaker) as session:
        row = await session.get(ServiceConfig, ("aws", "ec2"))
        assert row is not None
        row.term = 1 if before == 3 else 3
    assert await ec2_term(second) == (1 if before == 3 else 3)
    assert await ec2_term(first) == (1 if before == 3 else 3)
