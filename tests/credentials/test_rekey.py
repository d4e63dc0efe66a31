"""``cudly rekey``: every blob re-sealed under the new key in one transaction; rotation
without downtime through decrypt-only keys."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from pydantic import SecretStr
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from typer.testing import CliRunner

from api import cli
from api.config import Settings, get_settings
from api.credentials.rekey import RekeyFailed, rekey
from api.credentials.service import load_credentials
from api.kit.crypto import DecryptionFailed, KeyRing, get_key_ring, key_id_for
from api.main import create_app
from api.models import AccountCredential, CloudAccount
from tests.conftest import TEST_KEY
from tests.credentials.fixtures import add_account

KEY_A = TEST_KEY  # the test app's active key
KEY_B = "b2" * 32
KEY_C = "c3" * 32
SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYzEXAMPLEKEY"


async def seeded(
    client: httpx.AsyncClient, session: AsyncSession, count: int
) -> list[CloudAccount]:
    accounts = []
    for index in range(count):
        account = await add_account(session)
        response = await client.post(
            f"/api/accounts/{account.id}/credentials",
            json={
                "type": "aws_access_keys",
                "access_key_id": f"AKIAEXAMPLE{index:09d}",
                "secret_access_key": SECRET,
            },
        )
        assert response.status_code == 204
        accounts.append(account)
    return accounts


async def rows(session: AsyncSession) -> list[AccountCredential]:
    await session.commit()
    result = await session.execute(
        select(AccountCredential)
        .order_by(AccountCredential.cloud_account_id)
        .execution_options(populate_existing=True)
    )
    return list(result.scalars())


async def test_rekey_round_trip(
    admin_client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    accounts = await seeded(admin_client, session, 3)
    before = await rows(session)
    assert {r.key_id for r in before} == {key_id_for(bytes.fromhex(KEY_A))}
    blobs_before = [r.blob for r in before]

    # While rotating: active B, A decrypt-only - the old blobs still open.
    rotating = KeyRing(bytes.fromhex(KEY_B), [bytes.fromhex(KEY_A)])
    decrypted = await load_credentials(session, rotating, accounts[0])
    assert decrypted is not None
    assert decrypted.credentials.plaintext()["secret_access_key"] == SECRET
    assert SECRET not in f"{decrypted!r} {decrypted} {decrypted.credentials!r}"

    result = await rekey(session, KEY_A, KEY_B)
    await session.commit()
    assert (result.total, result.reencrypted, result.already_current) == (3, 3, 0)
    after = await rows(session)
    assert {r.key_id for r in after} == {key_id_for(bytes.fromhex(KEY_B))}
    assert all(a.blob != b for a, b in zip(after, blobs_before, strict=True))
    blobs_after = [r.blob for r in after]

    only_b = KeyRing(bytes.fromhex(KEY_B))
    for account in accounts:
        loaded = await load_credentials(session, only_b, account)
        assert loaded is not None
        assert loaded.credentials.plaintext()["secret_access_key"] == SECRET
    with pytest.raises(DecryptionFailed):
        await load_credentials(session, KeyRing(bytes.fromhex(KEY_A)), accounts[0])

    # Idempotent.
    again = await rekey(session, KEY_A, KEY_B)
    await session.commit()
    assert (again.total, again.reencrypted, again.already_current) == (3, 0, 3)
    assert [r.blob for r in await rows(session)] == blobs_after


async def test_rekey_refuses_unknown_keys_and_changes_nothing(
    admin_client: httpx.AsyncClient, session: AsyncSession
) -> None:
    await seeded(admin_client, session, 2)
    before = [r.blob for r in await rows(session)]
    with pytest.raises(RekeyFailed, match="nothing was changed") as exc:
        await rekey(session, KEY_C, KEY_B)
    await session.rollback()
    assert key_id_for(bytes.fromhex(KEY_A)) in str(exc.value)
    assert KEY_A not in str(exc.value) and KEY_C not in str(exc.value)
    assert [r.blob for r in await rows(session)] == before
    with pytest.raises(RekeyFailed, match="--new-key"):
        await rekey(session, KEY_A, "not-hex")


async def test_rekey_uses_keys_from_settings_too(
    admin_client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    await seeded(admin_client, session, 1)
    # Blobs under A; --old-key is C, but A is the configured key: it still opens them.
    result = await rekey(session, KEY_C, KEY_B, settings=settings)
    await session.commit()
    assert result.reencrypted == 1


@pytest.fixture
def fresh_settings() -> Iterator[None]:
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


async def test_cli_rekey_then_the_app_runs_on_the_new_key(
    admin_client: httpx.AsyncClient,
    session: AsyncSession,
    settings: Settings,
    database_url: str,
    fresh_settings: None,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    accounts = await seeded(admin_client, session, 2)
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("CUDLY_ENV", "test")
    monkeypatch.setenv("CREDENTIAL_ENCRYPTION_KEY", KEY_B)
    monkeypatch.setenv("CUDLY_REKEY_OLD_KEY", KEY_A)  # keys via env: not in the process list

    def invoke(*args: str) -> Any:
        return CliRunner().invoke(cli.app, ["rekey", *args])

    outcome = await asyncio.to_thread(invoke, "--new-key", KEY_B)
    assert outcome.exit_code == 0, outcome.output
    assert "re-encrypted 2 of 2" in outcome.output
    assert KEY_A not in outcome.output and KEY_B not in outcome.output
    outcome = await asyncio.to_thread(invoke, "--new-key", KEY_B)
    assert "re-encrypted 0 of 2" in outcome.output and "2 already" in outcome.output
    monkeypatch.setenv("CREDENTIAL_ENCRYPTION_KEY", KEY_C)
    get_settings.cache_clear()
    bad = await asyncio.to_thread(invoke, "--old-key", KEY_C, "--new-key", KEY_C)
    assert bad.exit_code == 1 and "nothing was changed" in bad.output

    # An app on key B alone (no decrypt-only key) uses the re-sealed credentials.
    app_b = create_app(settings.model_copy(update={"credential_encryption_key": SecretStr(KEY_B)}))
    await check_loads(app_b, accounts)


async def check_loads(app: FastAPI, accounts: list[CloudAccount]) -> None:
    async with app.router.lifespan_context(app):
        ring = await get_key_ring(app)
        assert ring.active_key_id == key_id_for(bytes.fromhex(KEY_B))
        async with app.state.sessionmaker() as db:
            for account in accounts:
                loaded = await load_credentials(db, ring, account)
                assert loaded is not None
