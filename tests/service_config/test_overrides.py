"""Per-account overrides and the effective config through HTTP (SPEC §3, §4)."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from api.enums import SERVICES, Provider
from api.models import CloudAccount
from tests.fixtures.auth import MakeClient
from tests.service_config.helpers import audit_events, make_account, table_snapshot

FIELDS = [
    "enabled",
    "term",
    "payment",
    "coverage",
    "ramp_schedule",
    "include_regions",
    "exclude_regions",
    "include_types",
    "exclude_types",
    "include_engines",
    "exclude_engines",
]


def overrides_url(account: CloudAccount, provider: str = "aws", service: str = "ec2") -> str:
    return f"/api/accounts/{account.id}/service-overrides/{provider}/{service}"


async def effective(client: httpx.AsyncClient, account: CloudAccount) -> dict[str, dict[str, Any]]:
    response = await client.get(f"/api/accounts/{account.id}/effective-config")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["account_id"] == str(account.id)
    return {s["service"]: s for s in body["services"]}


def sources(service: dict[str, Any]) -> dict[str, str]:
    return {name: service[name]["source"] for name in FIELDS}


def values(service: dict[str, Any]) -> dict[str, Any]:
    return {name: service[name]["value"] for name in FIELDS}


async def test_the_three_cascade_cases(
    admin_client: httpx.AsyncClient, session: AsyncSession
) -> None:
    account = await make_account(session, "aws")

    # 1. No override: every field is the global default.
    before = await effective(admin_client, account)
    assert list(before) == list(SERVICES[Provider.aws])
    ec2 = before["ec2"]
    assert set(ec2) == {"provider", "service", *FIELDS}
    assert values(ec2) == {
        "enabled": True,
        "term": 3,
        "payment": "no-upfront",
        "coverage": 80,
        "ramp_schedule": None,
        **{name: [] for name in FIELDS[5:]},
    }
    assert set(sources(ec2).values()) == {"global"}
    assert (await admin_client.get(f"/api/accounts/{account.id}/service-overrides")).json() == {
        "overrides": []
    }

    # 2. A partial override: mixed, with the right provenance.
    response = await admin_client.put(
        overrides_url(account), json={"coverage": 60, "include_regions": ["us-east-1"]}
    )
    assert response.status_code == 200, response.text
    stored = response.json()
    assert set(stored) == {"provider", "service", "coverage", "include_regions", "updated_at"}
    assert (stored["provider"], stored["service"], stored["coverage"]) == ("aws", "ec2", 60)

    listed = (await admin_client.get(f"/api/accounts/{account.id}/service-overrides")).json()
    assert listed == {"overrides": [stored]}

    mixed = await effective(admin_client, account)
    assert mixed["ec2"]["coverage"] == {"value": 60, "source": "override"}
    assert mixed["ec2"]["include_regions"] == {"value": ["us-east-1"], "source": "override"}
    assert mixed["ec2"]["term"] == {"value": 3, "source": "global"}
    assert {n for n, s in sources(mixed["ec2"]).items() if s == "override"} == {
        "coverage",
        "include_regions",
    }
    assert mixed["rds"] == before["rds"]

    # 3. Delete: back to the global default.
    response = await admin_client.delete(overrides_url(account))
    assert response.status_code == 204
    assert response.content == b""
    assert await effective(admin_client, account) == before
    assert (await admin_client.get(f"/api/accounts/{account.id}/service-overrides")).json() == {
        "overrides": []
    }


async def test_put_is_a_full_replace(
    admin_client: httpx.AsyncClient, session: AsyncSession
) -> None:
    account = await make_account(session, "aws")
    await admin_client.put(overrides_url(account), json={"coverage": 60, "term": 1})
    response = await admin_client.put(overrides_url(account), json={"payment": "all-upfront"})
    assert response.status_code == 200
    assert set(response.json()) == {"provider", "service", "payment", "updated_at"}
    ec2 = (await effective(admin_client, account))["ec2"]
    assert ec2["payment"] == {"value": "all-upfront", "source": "override"}
    assert ec2["coverage"] == {"value": 80, "source": "global"}
    assert ec2["term"] == {"value": 3, "source": "global"}


async def test_null_inherits_and_an_empty_list_overrides_with_empty(
    admin_client: httpx.AsyncClient, session: AsyncSession
) -> None:
    account = await make_account(session, "aws")
    await admin_client.put(
        "/api/config/service/aws/ec2",
        json={"include_regions": ["us-east-1"], "exclude_types": ["t3.micro"]},
    )
    response = await admin_client.put(
        overrides_url(account), json={"include_regions": [], "exclude_types": None}
    )
    assert response.status_code == 200, response.text
    assert response.json()["include_regions"] == []
    assert "exclude_types" not in response.json()

    ec2 = (await effective(admin_client, account))["ec2"]
    assert ec2["include_regions"] == {"value": [], "source": "override"}
    assert ec2["exclude_types"] == {"value": ["t3.micro"], "source": "global"}

    stored = await session.execute(
        text(
            "SELECT include_regions, exclude_types IS NULL, ramp_schedule IS NULL "
            "FROM account_service_overrides WHERE cloud_account_id = :id"
        ),
        {"id": account.id},
    )
    assert stored.one() == ([], True, True)


async def test_every_field_can_be_overridden(
    admin_client: httpx.AsyncClient, session: AsyncSession
) -> None:
    account = await make_account(session, "azure")
    payload = {
        "enabled": False,
        "term": 1,
        "payment": "partial-upfront",
        "coverage": 12.5,
        "ramp_schedule": {"steps": [{"after_days": 0, "coverage": 5}]},
        "include_regions": ["eastus"],
        "exclude_regions": ["westeurope"],
        "include_types": ["Standard_D2s_v3"],
        "exclude_types": [],
        "include_engines": ["sql"],
        "exclude_engines": ["mysql"],
    }
    response = await admin_client.put(overrides_url(account, "azure", "vm"), json=payload)
    assert response.status_code == 200, response.text
    assert {k: v for k, v in response.json().items() if k in FIELDS} == payload
    vm = (await effective(admin_client, account))["vm"]
    assert values(vm) == payload
    assert set(sources(vm).values()) == {"override"}


async def test_a_ramp_override_with_no_steps_means_no_ramp(
    admin_client: httpx.AsyncClient, session: AsyncSession
) -> None:
    account = await make_account(session, "aws")
    ramp = {"steps": [{"after_days": 0, "coverage": 20}, {"after_days": 90, "coverage": 80}]}
    await admin_client.put("/api/config/service/aws/ec2", json={"ramp_schedule": ramp})
    assert (await effective(admin_client, account))["ec2"]["ramp_schedule"] == {
        "value": ramp,
        "source": "global",
    }
    await admin_client.put(overrides_url(account), json={"ramp_schedule": {"steps": []}})
    assert (await effective(admin_client, account))["ec2"]["ramp_schedule"] == {
        "value": {"steps": []},
        "source": "override",
    }


async def test_a_put_setting_nothing_removes_the_override(
    admin_client: httpx.AsyncClient, session: AsyncSession
) -> None:
    account = await make_account(session, "aws")
    await admin_client.put(overrides_url(account), json={"coverage": 50})
    response = await admin_client.put(overrides_url(account), json={})
    assert response.status_code == 200
    assert response.json() == {"provider": "aws", "service": "ec2"}
    listed = await admin_client.get(f"/api/accounts/{account.id}/service-overrides")
    assert listed.json() == {"overrides": []}


async def test_delete_is_idempotent(admin_client: httpx.AsyncClient, session: AsyncSession) -> None:
    account = await make_account(session, "aws")
    assert (await admin_client.delete(overrides_url(account))).status_code == 204
    assert (await admin_client.delete(overrides_url(account))).status_code == 204


async def test_overrides_are_listed_in_service_order_and_per_account(
    admin_client: httpx.AsyncClient, session: AsyncSession
) -> None:
    account = await make_account(session, "aws")
    other = await make_account(session, "aws")
    for service in ("savings-plans", "ec2", "rds"):
        await admin_client.put(overrides_url(account, "aws", service), json={"term": 1})
    await admin_client.put(overrides_url(other, "aws", "redshift"), json={"term": 1})
    listed = (await admin_client.get(f"/api/accounts/{account.id}/service-overrides")).json()
    assert [o["service"] for o in listed["overrides"]] == ["ec2", "rds", "savings-plans"]


async def test_changing_a_global_reaches_every_non_overridden_account_only(
    admin_client: httpx.AsyncClient, session: AsyncSession
) -> None:
    plain = [await make_account(session, "aws") for _ in range(3)]
    overridden = [await make_account(session, "aws") for _ in range(2)]
    for account in overridden:
        await admin_client.put(overrides_url(account), json={"coverage": 40, "include_types": []})
    gcp = await make_account(session, "gcp")

    response = await admin_client.put(
        "/api/config/service/aws/ec2",
        json={"coverage": 95, "term": 1, "include_types": ["m5.large"]},
    )
    assert response.status_code == 200

    for account in plain:
        ec2 = (await effective(admin_client, account))["ec2"]
        assert ec2["coverage"] == {"value": 95, "source": "global"}
        assert ec2["term"] == {"value": 1, "source": "global"}
        assert ec2["include_types"] == {"value": ["m5.large"], "source": "global"}
    for account in overridden:
        ec2 = (await effective(admin_client, account))["ec2"]
        assert ec2["coverage"] == {"value": 40, "source": "override"}
        assert ec2["include_types"] == {"value": [], "source": "override"}
        assert ec2["term"] == {"value": 1, "source": "global"}  # not overridden: follows
    compute = (await effective(admin_client, gcp))["compute"]
    assert compute["coverage"] == {"value": 80, "source": "global"}


@pytest.mark.parametrize("provider", list(Provider))
async def test_effective_config_lists_every_service_of_the_accounts_provider(
    admin_client: httpx.AsyncClient, session: AsyncSession, provider: Provider
) -> None:
    account = await make_account(session, provider.value)
    services = await effective(admin_client, account)
    assert list(services) == list(SERVICES[provider])
    assert {s["provider"] for s in services.values()} == {provider.value}


# ---- rejected requests -----------------------------------------------------------------


async def test_a_provider_that_is_not_the_accounts_is_400(
    admin_client: httpx.AsyncClient, session: AsyncSession
) -> None:
    account = await make_account(session, "aws")
    before = await table_snapshot(session)
    for method in ("PUT", "DELETE"):
        response = await admin_client.request(
            method,
            overrides_url(account, "azure", "vm"),
            json={"coverage": 10} if method == "PUT" else None,
        )
        assert response.status_code == 400, response.text
        body = response.json()
        assert body["code"] == "provider_mismatch"
        assert body["fields"][0]["field"] == "provider"
        assert "aws" in body["error"]
    assert await table_snapshot(session) == before
    assert await audit_events(session, "override.update") == []
    assert await audit_events(session, "override.delete") == []


@pytest.mark.parametrize("service", ["nope", "vm", "compute", "x" * 65])
async def test_an_unknown_service_is_400(
    admin_client: httpx.AsyncClient, session: AsyncSession, service: str
) -> None:
    account = await make_account(session, "aws")
    before = await table_snapshot(session)
    for method in ("PUT", "DELETE"):
        response = await admin_client.request(
            method,
            overrides_url(account, "aws", service),
            json={"coverage": 10} if method == "PUT" else None,
        )
        assert response.status_code == 400, response.text
        assert "service" in [f["field"] for f in response.json()["fields"]]
    assert await table_snapshot(session) == before


async def test_unknown_and_malformed_accounts(admin_client: httpx.AsyncClient) -> None:
    unknown = uuid.uuid4()
    for method, path in [
        ("GET", f"/api/accounts/{unknown}/service-overrides"),
        ("GET", f"/api/accounts/{unknown}/effective-config"),
        ("PUT", f"/api/accounts/{unknown}/service-overrides/aws/ec2"),
        ("DELETE", f"/api/accounts/{unknown}/service-overrides/aws/ec2"),
    ]:
        response = await admin_client.request(method, path, json={} if method == "PUT" else None)
        assert response.status_code == 404, (method, path, response.text)
        assert response.json()["code"] == "account_not_found"
    response = await admin_client.get("/api/accounts/not-a-uuid/effective-config")
    assert response.status_code == 400
    assert response.json()["fields"][0]["field"] == "account_id"


BAD_OVERRIDES: list[tuple[str, Any]] = [
    ("term", {"term": 2}),
    ("term", {"term": "1"}),
    ("payment", {"payment": "monthly"}),
    ("coverage", {"coverage": 101}),
    ("coverage", {"coverage": -1}),
    ("coverage", {"coverage": "abc"}),
    ("coverage", {"coverage": "NaN"}),
    ("enabled", {"enabled": "false"}),
    ("include_regions", {"include_regions": [f"r{i}" for i in range(201)]}),
    ("include_regions", {"include_regions": {"a": 1}}),
    ("exclude_types.0", {"exclude_types": ["<script>"]}),
    ("ramp_schedule.steps", {"ramp_schedule": {"steps": "soon"}}),
    (
        "ramp_schedule.steps.1.after_days",
        {
            "ramp_schedule": {
                "steps": [{"after_days": 1, "coverage": 1}, {"after_days": 4000, "coverage": 2}]
            }
        },
    ),
    ("colour", {"colour": "blue"}),
]


@pytest.mark.parametrize(
    ("field", "payload"), BAD_OVERRIDES, ids=[f"{f}-{i}" for i, (f, _) in enumerate(BAD_OVERRIDES)]
)
async def test_invalid_override_fields_are_400_and_change_nothing(
    admin_client: httpx.AsyncClient, session: AsyncSession, field: str, payload: Any
) -> None:
    account = await make_account(session, "aws")
    await admin_client.put(overrides_url(account), json={"coverage": 33})
    before = await table_snapshot(session)
    response = await admin_client.put(overrides_url(account), json={"term": 1, **payload})
    assert response.status_code == 400, response.text
    body = response.json()
    assert body["code"] == "validation_error"
    assert field in [f["field"] for f in body["fields"]], body
    assert await table_snapshot(session) == before
    assert len(await audit_events(session, "override.update")) == 1  # the arrange PUT only


# ---- scoping ---------------------------------------------------------------------------


async def test_a_permission_constrained_to_one_account_reaches_only_that_account(
    make_client: MakeClient, admin_client: httpx.AsyncClient, session: AsyncSession
) -> None:
    mine = await make_account(session, "aws")
    theirs = await make_account(session, "aws")
    await admin_client.put(overrides_url(theirs), json={"coverage": 20})
    scope = {"accounts": [str(mine.id)]}
    client = await make_client(
        permissions=[
            {"action": "view", "resource": "config", "constraints": scope},
            {"action": "update", "resource": "config", "constraints": scope},
        ]
    )
    assert (await client.get(f"/api/accounts/{mine.id}/effective-config")).status_code == 200
    assert (await client.get(f"/api/accounts/{mine.id}/service-overrides")).status_code == 200
    assert (await client.put(overrides_url(mine), json={"term": 1})).status_code == 200
    assert (await client.delete(overrides_url(mine))).status_code == 204

    before = await table_snapshot(session)
    for method, path in [
        ("GET", f"/api/accounts/{theirs.id}/service-overrides"),
        ("GET", f"/api/accounts/{theirs.id}/effective-config"),
        ("PUT", overrides_url(theirs)),
        ("DELETE", overrides_url(theirs)),
    ]:
        response = await client.request(method, path, json={"term": 1} if method == "PUT" else None)
        assert response.status_code == 403, (method, path, response.text)
        assert response.json()["code"] == "account_out_of_scope"
    assert await table_snapshot(session) == before


async def test_view_alone_cannot_change_overrides(
    make_client: MakeClient, session: AsyncSession
) -> None:
    account = await make_account(session, "aws")
    client = await make_client(permissions=[{"action": "view", "resource": "config"}])
    assert (await client.get(f"/api/accounts/{account.id}/effective-config")).status_code == 200
    assert (await client.put(overrides_url(account), json={"term": 1})).status_code == 403
    assert (await client.delete(overrides_url(account))).status_code == 403


async def test_an_empty_constraint_grants_nothing(
    make_client: MakeClient, session: AsyncSession
) -> None:
    account = await make_account(session, "aws")
    client = await make_client(
        permissions=[{"action": "view", "resource": "config", "constraints": {"accounts": []}}]
    )
    response = await client.get(f"/api/accounts/{account.id}/effective-config")
    assert response.status_code == 403


# ---- audit -----------------------------------------------------------------------------


async def test_each_mutation_is_audited_with_field_names(
    admin_client: httpx.AsyncClient, session: AsyncSession
) -> None:
    account = await make_account(session, "aws")
    await admin_client.put(
        overrides_url(account), json={"coverage": 60, "include_regions": ["us-east-1"]}
    )
    await admin_client.put(overrides_url(account), json={"coverage": 60, "term": 1})
    await admin_client.delete(overrides_url(account))

    updates = await audit_events(session, "override.update")
    assert [(e.target_type, e.target_id) for e in updates] == [
        ("cloud_account", str(account.id))
    ] * 2
    assert updates[0].changed_fields == ["coverage", "include_regions"]
    assert updates[1].changed_fields == ["include_regions", "term"]  # coverage unchanged
    deletes = await audit_events(session, "override.delete")
    assert len(deletes) == 1
    assert deletes[0].target_id == str(account.id)
    assert deletes[0].changed_fields == ["coverage", "term"]
    assert all("us-east-1" not in e.changed_fields for e in updates)
