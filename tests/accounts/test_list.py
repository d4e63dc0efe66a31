"""GET /api/accounts (filters, search, order) and the derived fields of an account."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import event, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from api.models import AccountCredential, CloudAccount, CollectionRun, CollectionRunAccount
from tests.accounts.conftest import (
    CreateAccount,
    aws_body,
    azure_body,
    field_names,
    gcp_body,
    role_arn,
)


async def _names(client: httpx.AsyncClient, query: str = "") -> list[str]:
    response = await client.get(f"/api/accounts{query}")
    assert response.status_code == 200, response.text
    assert set(response.json()) == {"accounts"}
    return [account["name"] for account in response.json()["accounts"]]


async def test_empty_list(admin_client: httpx.AsyncClient) -> None:
    response = await admin_client.get("/api/accounts")
    assert response.status_code == 200
    assert response.json() == {"accounts": []}


async def test_filters(admin_client: httpx.AsyncClient, create_account: CreateAccount) -> None:
    await create_account(aws_body(name="aws on"))
    await create_account(aws_body(name="aws off", enabled=False))
    await create_account(azure_body(name="azure on"))
    await create_account(gcp_body(name="gcp off", enabled=False))

    assert await _names(admin_client) == ["aws off", "aws on", "azure on", "gcp off"]
    assert await _names(admin_client, "?provider=aws") == ["aws off", "aws on"]
    assert await _names(admin_client, "?provider=gcp") == ["gcp off"]
    assert await _names(admin_client, "?enabled=true") == ["aws on", "azure on"]
    assert await _names(admin_client, "?enabled=false") == ["aws off", "gcp off"]
    assert await _names(admin_client, "?provider=aws&enabled=false") == ["aws off"]
    assert await _names(admin_client, "?provider=azure&enabled=false") == []
    # Empty parameters (an unset form filter) mean "no filter".
    assert len(await _names(admin_client, "?provider=&enabled=&search=")) == 4


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("?provider=oracle", "provider"),
        ("?provider=AWS", "provider"),
        ("?enabled=maybe", "enabled"),
        ("?search=" + "x" * 256, "search"),
        ("?search=a%00b", "search"),
    ],
)
async def test_bad_filters_are_400(admin_client: httpx.AsyncClient, query: str, field: str) -> None:
    response = await admin_client.get(f"/api/accounts{query}")
    assert response.status_code == 400, response.text
    assert field_names(response) == {field}


async def test_order_is_by_name_case_insensitively_then_id(
    admin_client: httpx.AsyncClient, create_account: CreateAccount
) -> None:
    twins = [await create_account(aws_body(name="Twin")) for _ in range(3)]
    await create_account(aws_body(name="beta"))
    await create_account(aws_body(name="Alpha"))
    await create_account(aws_body(name="charlie"))
    response = await admin_client.get("/api/accounts")
    accounts = response.json()["accounts"]
    assert [a["name"] for a in accounts] == ["Alpha", "beta", "charlie", "Twin", "Twin", "Twin"]
    assert [a["id"] for a in accounts[3:]] == sorted(t["id"] for t in twins)


async def test_search_matches_name_or_external_id_case_insensitively(
    admin_client: httpx.AsyncClient, create_account: CreateAccount
) -> None:
    await create_account(aws_body(name="Production Payer", external_id="111122223333"))
    await create_account(aws_body(name="staging", external_id="444455556666"))
    subscription = str(uuid.uuid4())
    await create_account(azure_body(name="Contoso", external_id=subscription))

    assert await _names(admin_client, "?search=PRODUCTION") == ["Production Payer"]
    assert await _names(admin_client, "?search=payer") == ["Production Payer"]
    assert await _names(admin_client, "?search=2222") == ["Production Payer"]
    assert await _names(admin_client, "?search=5555") == ["staging"]
    assert await _names(admin_client, f"?search={subscription[:8].upper()}") == ["Contoso"]
    assert await _names(admin_client, "?search=nothing-like-this") == []
    assert await _names(admin_client, "?search=staging&provider=azure") == []


@pytest.mark.parametrize(
    ("search", "expected"),
    [
        ("%", ["100% off"]),
        ("100%", ["100% off"]),
        ("_", ["under_score"]),
        ("r_s", ["under_score"]),
        ("\\", ["back\\slash"]),
        ("k\\s", ["back\\slash"]),
        ("%%", []),
        ("u_d", []),  # "_" is not a wildcard
        ("'", ["o'brien"]),
    ],
)
async def test_search_wildcards_are_literal(
    admin_client: httpx.AsyncClient, create_account: CreateAccount, search: str, expected: list[str]
) -> None:
    for name in ("100% off", "under_score", "back\\slash", "o'brien", "undo"):
        await create_account(aws_body(name=name))
    response = await admin_client.get("/api/accounts", params={"search": search})
    assert response.status_code == 200
    assert [a["name"] for a in response.json()["accounts"]] == expected


@pytest.mark.parametrize(
    "search",
    [
        "'; DROP TABLE cloud_accounts; --",
        "' OR '1'='1",
        '") OR 1=1 --',
        "1; SELECT pg_sleep(5)",
    ],
)
async def test_injection_strings_are_just_text(
    admin_client: httpx.AsyncClient,
    create_account: CreateAccount,
    session: AsyncSession,
    search: str,
) -> None:
    await create_account(aws_body(name="innocent"))
    response = await admin_client.get("/api/accounts", params={"search": search})
    assert response.status_code == 200
    assert response.json() == {"accounts": []}
    count = (await session.execute(select(func.count()).select_from(CloudAccount))).scalar_one()
    assert count == 1
    # And as a name it is stored and found verbatim.
    created = await create_account(aws_body(name=search))
    found = await admin_client.get("/api/accounts", params={"search": search})
    assert [a["id"] for a in found.json()["accounts"]] == [created["id"]]


# --- derived fields ----------------------------------------------------------------------------


async def _add_credential(session: AsyncSession, account_id: str, credential_type: str) -> None:
    session.add(
        AccountCredential(
            cloud_account_id=uuid.UUID(account_id),
            credential_type=credential_type,
            key_id="0123456789abcdef",
            blob="v1:0123456789abcdef:AAAA.SECRETBLOB",
        )
    )
    await session.commit()


async def _configured(client: httpx.AsyncClient, account_id: str) -> bool:
    single = (await client.get(f"/api/accounts/{account_id}")).json()["credentials_configured"]
    listed = {
        a["id"]: a["credentials_configured"]
        for a in (await client.get("/api/accounts")).json()["accounts"]
    }[account_id]
    assert single == listed
    return bool(single)


@pytest.mark.parametrize(
    ("body", "stored_type", "configured"),
    [
        (aws_body(), None, False),
        (aws_body(), "aws_access_keys", True),
        (aws_body(), "aws_wif", False),  # a blob of another mode does not count
        (aws_body(aws_auth_mode="role_arn", aws_role_arn=role_arn()), None, True),
        (
            aws_body(aws_auth_mode="workload_identity_federation", aws_role_arn=role_arn()),
            "aws_wif",
            True,
        ),
        (azure_body(), None, False),
        (azure_body(), "azure_client_secret", True),
        (azure_body(azure_auth_mode="workload_identity_federation"), "azure_wif", True),
        (azure_body(azure_auth_mode="workload_identity_federation"), "azure_client_secret", False),
        (gcp_body(), "gcp_service_account", True),
        (gcp_body(gcp_auth_mode="workload_identity_federation"), "gcp_wif", True),
        (gcp_body(), None, False),
    ],
)
async def test_credentials_configured(
    admin_client: httpx.AsyncClient,
    create_account: CreateAccount,
    session: AsyncSession,
    body: dict[str, Any],
    stored_type: str | None,
    configured: bool,
) -> None:
    account = await create_account(dict(body))
    if stored_type is not None:
        await _add_credential(session, account["id"], stored_type)
    assert await _configured(admin_client, account["id"]) is configured


async def test_bastion_mode_follows_its_bastion(
    admin_client: httpx.AsyncClient, create_account: CreateAccount, session: AsyncSession
) -> None:
    bastion = await create_account(aws_body())
    target = await create_account(
        aws_body(aws_auth_mode="bastion", aws_role_arn=role_arn(), aws_bastion_id=bastion["id"])
    )
    assert await _configured(admin_client, target["id"]) is False
    await _add_credential(session, bastion["id"], "aws_access_keys")
    assert await _configured(admin_client, target["id"]) is True

    ambient = await create_account(aws_body(aws_auth_mode="role_arn", aws_role_arn=role_arn()))
    via_ambient = await create_account(
        aws_body(aws_auth_mode="bastion", aws_role_arn=role_arn(), aws_bastion_id=ambient["id"])
    )
    assert await _configured(admin_client, via_ambient["id"]) is True
    # A credential row on the bastion-mode account itself means nothing.
    lonely_root = await create_account(aws_body())
    lonely = await create_account(
        aws_body(aws_auth_mode="bastion", aws_role_arn=role_arn(), aws_bastion_id=lonely_root["id"])
    )
    await _add_credential(session, lonely["id"], "aws_access_keys")
    assert await _configured(admin_client, lonely["id"]) is False


async def test_changing_the_mode_recomputes_credentials_configured(
    admin_client: httpx.AsyncClient, create_account: CreateAccount, session: AsyncSession
) -> None:
    account = await create_account(aws_body())
    await _add_credential(session, account["id"], "aws_access_keys")
    assert await _configured(admin_client, account["id"]) is True
    response = await admin_client.put(
        f"/api/accounts/{account['id']}",
        json={
            "aws_auth_mode": "workload_identity_federation",
            "aws_role_arn": role_arn(account["external_id"]),
        },
    )
    assert response.json()["credentials_configured"] is False


async def test_no_credential_material_in_responses(
    admin_client: httpx.AsyncClient, create_account: CreateAccount, session: AsyncSession
) -> None:
    account = await create_account(aws_body())
    await _add_credential(session, account["id"], "aws_access_keys")
    for url in ("/api/accounts", f"/api/accounts/{account['id']}"):
        response = await admin_client.get(url)
        assert "SECRETBLOB" not in response.text
        assert "0123456789abcdef" not in response.text
        assert "blob" not in response.text


async def test_last_collection_fields(
    admin_client: httpx.AsyncClient, create_account: CreateAccount, session: AsyncSession
) -> None:
    account = await create_account(aws_body())
    never = await create_account(aws_body())
    account_id = uuid.UUID(account["id"])
    base = datetime(2026, 1, 1, tzinfo=UTC)

    async def run_row(status: str, minutes: int | None, error: str | None = None) -> None:
        run = CollectionRun(trigger="manual", status="completed")
        session.add(run)
        await session.flush()
        session.add(
            CollectionRunAccount(
                run_id=run.id,
                cloud_account_id=account_id,
                account_name=account["name"],
                account_external_id=account["external_id"],
                provider="aws",
                status=status,
                error=error,
                finished_at=None if minutes is None else base + timedelta(minutes=minutes),
            )
        )
        await session.commit()

    async def fields() -> tuple[str | None, str | None]:
        body = (await admin_client.get(f"/api/accounts/{account['id']}")).json()
        listed = next(
            a
            for a in (await admin_client.get("/api/accounts")).json()["accounts"]
            if a["id"] == account["id"]
        )
        assert (body["last_collected_at"], body["last_collection_error"]) == (
            listed["last_collected_at"],
            listed["last_collection_error"],
        )
        return body["last_collected_at"], body["last_collection_error"]

    await run_row("ok", 0)
    assert await fields() == ("2026-01-01T00:00:00Z", None)
    await run_row("failed", 10, "AccessDenied: not authorised")
    assert await fields() == ("2026-01-01T00:00:00Z", "AccessDenied: not authorised")
    await run_row("ok", 20)
    assert await fields() == ("2026-01-01T00:20:00Z", None)
    await run_row("timeout", 30)
    assert await fields() == ("2026-01-01T00:20:00Z", "collection timed out")
    await run_row("running", None)  # in flight: changes nothing yet
    await run_row("skipped", 40)  # not an attempt
    assert await fields() == ("2026-01-01T00:20:00Z", "collection timed out")

    untouched = (await admin_client.get(f"/api/accounts/{never['id']}")).json()
    assert (untouched["last_collected_at"], untouched["last_collection_error"]) == (None, None)


async def test_list_is_one_query_not_one_per_account(
    app: FastAPI, admin_client: httpx.AsyncClient, create_account: CreateAccount
) -> None:
    """Derived fields come from subqueries of the list query (no N+1)."""
    for _ in range(5):
        await create_account(aws_body())
    statements: list[str] = []
    engine = app.state.engine.sync_engine

    def capture(*args: Any) -> None:
        statements.append(args[2])

    event.listen(engine, "before_cursor_execute", capture)
    try:
        response = await admin_client.get("/api/accounts")
    finally:
        event.remove(engine, "before_cursor_execute", capture)
    assert len(response.json()["accounts"]) == 5
    account_queries = [s for s in statements if "FROM cloud_accounts" in s]
    assert len(account_queries) == 1, account_queries
