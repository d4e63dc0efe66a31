"""GET /api/config and PUT /api/config/service/{provider}/{service}: global defaults."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from api.enums import SERVICES
from tests.fixtures.auth import MakeClient
from tests.service_config.helpers import audit_events, make_account, table_snapshot

FIELDS = [
    "provider",
    "service",
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
    "updated_at",
]
EC2 = "/api/config/service/aws/ec2"


def _by_service(body: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    return {(c["provider"], c["service"]): c for c in body["service_configs"]}


async def test_lists_every_seeded_default_in_service_order(admin_client: httpx.AsyncClient) -> None:
    response = await admin_client.get("/api/config")
    assert response.status_code == 200, response.text
    configs = response.json()["service_configs"]
    assert [(c["provider"], c["service"]) for c in configs] == [
        (provider.value, service) for provider, services in SERVICES.items() for service in services
    ]
    for config in configs:
        assert sorted(config) == sorted(FIELDS)
        assert config["enabled"] is True
        assert config["term"] == 3
        assert config["payment"] == "no-upfront"
        # A JSON number, not a string.
        assert config["coverage"] == 80
        assert isinstance(config["coverage"], int)
        assert config["ramp_schedule"] is None
        assert config["include_regions"] == [] and config["exclude_engines"] == []


async def test_a_user_with_config_view_can_read(make_client: MakeClient) -> None:
    client = await make_client(permissions=[{"action": "view", "resource": "config"}])
    assert (await client.get("/api/config")).status_code == 200
    denied = await make_client(permissions=[{"action": "view", "resource": "accounts"}])
    assert (await denied.get("/api/config")).status_code == 403


async def test_put_is_a_partial_update(
    admin_client: httpx.AsyncClient, session: AsyncSession
) -> None:
    response = await admin_client.put(EC2, json={"coverage": 62.5})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["coverage"] == 62.5
    assert (body["term"], body["payment"], body["enabled"]) == (3, "no-upfront", True)

    after = _by_service((await admin_client.get("/api/config")).json())
    assert after[("aws", "ec2")]["coverage"] == 62.5
    assert after[("aws", "rds")]["coverage"] == 80

    response = await admin_client.put(EC2, json={"term": 1})
    assert response.json()["coverage"] == 62.5  # absent = unchanged
    assert response.json()["term"] == 1


async def test_put_every_field(admin_client: httpx.AsyncClient, session: AsyncSession) -> None:
    ramp = {"steps": [{"after_days": 0, "coverage": 25}, {"after_days": 30, "coverage": 50.5}]}
    payload = {
        "enabled": False,
        "term": 1,
        "payment": "all-upfront",
        "coverage": "70.25",
        "ramp_schedule": ramp,
        "include_regions": ["us-east-1", "eu-west-1", "us-east-1"],
        "exclude_regions": ["ap-south-1"],
        "include_types": ["m5.large", "db.r5.xlarge"],
        "exclude_types": [],
        "include_engines": ["Aurora MySQL", "postgresql"],
        "exclude_engines": ["SQL Server (BYOL)"],
    }
    response = await admin_client.put("/api/config/service/aws/rds", json=payload)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["enabled"] is False
    assert body["term"] == 1
    assert body["payment"] == "all-upfront"
    assert body["coverage"] == 70.25
    assert body["ramp_schedule"] == ramp
    assert body["include_regions"] == ["us-east-1", "eu-west-1"]  # de-duplicated, order kept
    assert body["include_engines"] == ["Aurora MySQL", "postgresql"]
    listed = _by_service((await admin_client.get("/api/config")).json())[("aws", "rds")]
    assert listed == body


async def test_ramp_schedule_null_clears_it_to_sql_null(
    admin_client: httpx.AsyncClient, session: AsyncSession
) -> None:
    ramp = {"steps": [{"after_days": 10, "coverage": 40}]}
    await admin_client.put(EC2, json={"ramp_schedule": ramp})
    response = await admin_client.put(EC2, json={"ramp_schedule": None})
    assert response.status_code == 200
    assert response.json()["ramp_schedule"] is None
    stored = await session.execute(
        text("SELECT ramp_schedule IS NULL FROM service_configs WHERE service = 'ec2'")
    )
    assert stored.scalar_one() is True


async def test_a_fetched_object_can_be_put_back_as_is(admin_client: httpx.AsyncClient) -> None:
    current = _by_service((await admin_client.get("/api/config")).json())[("gcp", "compute")]
    current["coverage"] = 55
    response = await admin_client.put("/api/config/service/gcp/compute", json=current)
    assert response.status_code == 200, response.text
    assert response.json()["coverage"] == 55


async def test_the_body_may_not_name_another_service(
    admin_client: httpx.AsyncClient, session: AsyncSession
) -> None:
    before = await table_snapshot(session)
    response = await admin_client.put(EC2, json={"service": "rds", "coverage": 10})
    assert response.status_code == 400
    assert response.json()["fields"][0]["field"] == "service"
    assert await table_snapshot(session) == before


BAD_BODIES: list[tuple[str, Any]] = [
    ("term", {"term": 2}),
    ("term", {"term": "3"}),
    ("term", {"term": True}),
    ("term", {"term": 3.5}),
    ("term", {"term": None}),
    ("payment", {"payment": "monthly"}),
    ("payment", {"payment": None}),
    ("coverage", {"coverage": 101}),
    ("coverage", {"coverage": -1}),
    ("coverage", {"coverage": "abc"}),
    ("coverage", {"coverage": "NaN"}),
    ("coverage", {"coverage": "Infinity"}),
    ("coverage", {"coverage": 62.555}),
    ("coverage", {"coverage": True}),
    ("coverage", {"coverage": "1e2"}),
    ("coverage", {"coverage": " 50"}),
    ("coverage", {"coverage": [80]}),
    ("enabled", {"enabled": "yes"}),
    ("enabled", {"enabled": 1}),
    ("include_regions", {"include_regions": "us-east-1"}),
    ("include_regions", {"include_regions": [f"r-{i}" for i in range(201)]}),
    ("include_regions.0", {"include_regions": [""]}),
    ("include_types.0", {"include_types": ["x" * 129]}),
    ("include_types.0", {"include_types": ["m5.large; DROP TABLE"]}),
    ("exclude_engines.0", {"exclude_engines": [" mysql"]}),
    ("exclude_engines.0", {"exclude_engines": [5]}),
    ("exclude_regions", {"exclude_regions": None}),
    ("ramp_schedule", {"ramp_schedule": [1, 2]}),
    (
        "ramp_schedule.steps",
        {"ramp_schedule": {"steps": [{"after_days": d, "coverage": 1} for d in range(25)]}},
    ),
    (
        "ramp_schedule.steps.0.after_days",
        {"ramp_schedule": {"steps": [{"after_days": -1, "coverage": 1}]}},
    ),
    (
        "ramp_schedule.steps.0.after_days",
        {"ramp_schedule": {"steps": [{"after_days": "1", "coverage": 1}]}},
    ),
    (
        "ramp_schedule.steps.0.coverage",
        {"ramp_schedule": {"steps": [{"after_days": 1, "coverage": 101}]}},
    ),
    (
        "ramp_schedule.steps.0.extra",
        {"ramp_schedule": {"steps": [{"after_days": 1, "coverage": 1, "extra": 1}]}},
    ),
    (
        "ramp_schedule.steps",
        {
            "ramp_schedule": {
                "steps": [{"after_days": 5, "coverage": 1}, {"after_days": 5, "coverage": 2}]
            }
        },
    ),
    ("ramp_schedule.steps", {"ramp_schedule": {}}),
    ("frequency", {"frequency": "daily"}),
    ("provider", {"provider": "oracle"}),
]


@pytest.mark.parametrize(
    ("field", "payload"), BAD_BODIES, ids=[f"{f}-{i}" for i, (f, _) in enumerate(BAD_BODIES)]
)
async def test_invalid_fields_are_400_naming_the_field_and_change_nothing(
    admin_client: httpx.AsyncClient, session: AsyncSession, field: str, payload: Any
) -> None:
    before = await table_snapshot(session)
    response = await admin_client.put(EC2, json={"coverage": 10, **payload})
    assert response.status_code == 400, response.text
    body = response.json()
    assert body["code"] == "validation_error"
    assert field in [f["field"] for f in body["fields"]], body
    assert await table_snapshot(session) == before
    assert await audit_events(session, "config.update") == []


async def test_nan_and_infinity_json_literals_are_rejected(
    admin_client: httpx.AsyncClient, session: AsyncSession
) -> None:
    before = await table_snapshot(session)
    for literal in ("NaN", "Infinity", "-Infinity"):
        response = await admin_client.put(
            EC2, content=f'{{"coverage": {literal}}}', headers={"content-type": "application/json"}
        )
        assert response.status_code == 400, response.text
    assert await table_snapshot(session) == before


@pytest.mark.parametrize(
    ("path", "field"),
    [
        ("/api/config/service/aws/nope", "service"),
        ("/api/config/service/aws/vm", "service"),  # an Azure service under aws
        ("/api/config/service/gcp/ec2", "service"),
        ("/api/config/service/oracle/ec2", "provider"),
    ],
)
async def test_unknown_provider_service_pairs_are_400(
    admin_client: httpx.AsyncClient, session: AsyncSession, path: str, field: str
) -> None:
    before = await table_snapshot(session)
    response = await admin_client.put(path, json={"coverage": 10})
    assert response.status_code == 400, response.text
    assert field in [f["field"] for f in response.json()["fields"]]
    assert await table_snapshot(session) == before


async def test_audit_names_the_changed_fields(
    admin_client: httpx.AsyncClient, session: AsyncSession
) -> None:
    await admin_client.put(EC2, json={"coverage": 50, "term": 3, "include_regions": ["us-east-1"]})
    events = await audit_events(session, "config.update")
    assert len(events) == 1
    event = events[0]
    assert event.target_type == "service_config"
    assert event.target_id == "aws:ec2"
    # term was sent but did not change.
    assert event.changed_fields == ["coverage", "include_regions"]
    assert event.actor_id is not None
    # Names only, never values.
    assert "us-east-1" not in json.dumps(event.changed_fields)


async def test_changing_globals_needs_an_unconstrained_permission(
    make_client: MakeClient, session: AsyncSession
) -> None:
    account = await make_account(session, "aws")
    constrained = await make_client(
        permissions=[
            {
                "action": "update",
                "resource": "config",
                "constraints": {"accounts": [str(account.id)]},
            }
        ]
    )
    before = await table_snapshot(session)
    response = await constrained.put(EC2, json={"coverage": 10})
    assert response.status_code == 403, response.text
    assert response.json()["code"] == "account_out_of_scope"
    assert await table_snapshot(session) == before

    unconstrained = await make_client(permissions=[{"action": "update", "resource": "config"}])
    assert (await unconstrained.put(EC2, json={"coverage": 10})).status_code == 200


async def test_an_empty_body_changes_nothing(
    admin_client: httpx.AsyncClient, session: AsyncSession
) -> None:
    before = await table_snapshot(session)
    response = await admin_client.put(EC2, json={})
    assert response.status_code == 200
    assert response.json()["coverage"] == 80
    assert await table_snapshot(session) == before


async def test_openapi_lists_the_enum_values_and_operation_ids(
    admin_client: httpx.AsyncClient,
) -> None:
    doc = (await admin_client.get("/api/openapi.json")).json()
    put = doc["paths"]["/api/config/service/{provider}/{service}"]["put"]
    assert put["operationId"] == "config-update_service_config"
    schemas = doc["components"]["schemas"]
    assert schemas["Payment"]["enum"] == ["no-upfront", "partial-upfront", "all-upfront"]
    assert schemas["ServiceConfigUpdate"]["properties"]["term"]["enum"] == [1, 3]
    assert schemas["ServiceConfigUpdate"]["additionalProperties"] is False
    effective = doc["paths"]["/api/accounts/{account_id}/effective-config"]["get"]
    assert effective["operationId"] == "config-get_effective_config"
