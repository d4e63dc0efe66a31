"""One collection run through the API over 3 providers and every AWS auth mode, with the real
collectors against the simulator (and moto for STS): faults recorded with actionable reasons,
each account signed by its own identity, the bound respected, ids stable, failures keeping
their previous recommendations."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from api.models import Recommendation
from tests.cloudsim import SimServer
from tests.cloudsim.collect import (
    CollectSim,
    aws_ec2_detail,
    azure_legacy_rec,
    azure_reservation,
    collect_settings,
    gcp_commitment,
    gcp_commitment_rec,
)
from tests.cloudsim.keys import make_gcp_key
from tests.collection.conftest import refresh_and_wait
from tests.credentials.fixtures import AMBIENT_KEY_ID, AwsEnv
from tests.providers.collect_helpers import aws_temporary_keys

PARALLELISM = 4
# Generous: the test machine's 2 cores are shared; the SLOW account waits it out once.
TIMEOUT_S = 20.0
TENANT = "11111111-1111-4111-8111-111111111111"
CLIENT = "22222222-2222-4222-8222-222222222222"
CLIENT2 = "33333333-3333-4333-8333-333333333333"
SECRET = "azure-client-secret-value"
SUBS = ("44444444-4444-4444-8444-444444444441", "44444444-4444-4444-8444-444444444442")
PROJECT = "e2e-project-1"
GCP_EMAIL = f"cudly@{PROJECT}.iam.gserviceaccount.com"

ACCESS, ROLE, BASTION_HUB, BASTION, WIF = (
    "310000000001",
    "310000000002",
    "310000000009",
    "310000000003",
    "310000000004",
)
BAD, SLOW, THROTTLED, MALFORMED = "310000000005", "310000000006", "310000000007", "310000000008"
KEYED = (ACCESS, BASTION_HUB, BAD, SLOW, THROTTLED, MALFORMED)  # access_keys mode
AWS_OK = (ACCESS, ROLE, BASTION_HUB, BASTION, WIF, THROTTLED)


@pytest.fixture
def settings_overrides(cloudsim: SimServer) -> dict[str, object]:
    return {
        **collect_settings(cloudsim),
        "max_account_parallelism": PARALLELISM,
        "account_timeout_s": TIMEOUT_S,
    }


@dataclass
class World:
    ids: dict[str, str] = field(default_factory=dict)  # external id -> account id
    keys: dict[str, str] = field(default_factory=dict)  # external id -> its access key id


async def create(admin: httpx.AsyncClient, body: dict[str, Any]) -> str:
    response = await admin.post("/api/accounts", json=body)
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


async def store(admin: httpx.AsyncClient, account_id: str, body: dict[str, Any]) -> None:
    response = await admin.post(f"/api/accounts/{account_id}/credentials", json=body)
    assert response.status_code == 204, response.text


def role(account: str) -> str:
    return f"arn:aws:iam::{account}:role/CUDly"


async def arrange(
    admin: httpx.AsyncClient, aws: AwsEnv, sim: SimServer, collect: CollectSim
) -> World:
    world = World()
    # EC2 RIs and Savings Plans are enough here (fewer calls per sweep).
    for service in ("rds", "elasticache", "opensearch", "redshift", "memorydb"):
        response = await admin.put(f"/api/config/service/aws/{service}", json={"enabled": False})
        assert response.status_code == 200, response.text
    for account in KEYED:
        world.ids[account] = await create(
            admin, {"name": f"keys {account}", "provider": "aws", "external_id": account}
        )
        keys = aws_temporary_keys(aws, account)
        world.keys[account] = keys["access_key_id"]
        await store(admin, world.ids[account], keys)
    world.ids[ROLE] = await create(
        admin,
        {
            "name": "role",
            "provider": "aws",
            "external_id": ROLE,
            "aws_auth_mode": "role_arn",
            "aws_role_arn": role(ROLE),
            "aws_external_id": "ext-1234",
        },
    )
    world.ids[BASTION] = await create(
        admin,
        {
            "name": "via bastion",
            "provider": "aws",
            "external_id": BASTION,
            "aws_auth_mode": "bastion",
            "aws_bastion_id": world.ids[BASTION_HUB],
            "aws_role_arn": role(BASTION),
        },
    )
    world.ids[WIF] = await create(
        admin,
        {
            "name": "wif",
            "provider": "aws",
            "external_id": WIF,
            "aws_auth_mode": "workload_identity_federation",
            "aws_role_arn": role(WIF),
        },
    )
    await store(admin, world.ids[WIF], {"type": "aws_wif", "web_identity_token": "oidc.jwt.e2e"})
    # One account buys 1-year terms: its recommendations coexist with everyone's 3-year ones.
    response = await admin.put(
        f"/api/accounts/{world.ids[ROLE]}/service-overrides/aws/ec2", json={"term": 1}
    )
    assert response.status_code == 200, response.text

    # One service principal per subscription: the reservations list is per principal.
    for sub, client in zip(SUBS, (CLIENT, CLIENT2), strict=True):
        sim.state.add_azure_client(TENANT, client, SECRET)
        sim.state.add_subscription(sub, TENANT, granted_to=[client])
        world.ids[sub] = await create(
            admin,
            {
                "name": f"azure {sub[-1]}",
                "provider": "azure",
                "external_id": sub,
                "azure_tenant_id": TENANT,
                "azure_client_id": client,
                "azure_auth_mode": "client_secret",
            },
        )
        await store(admin, world.ids[sub], {"type": "azure_client_secret", "client_secret": SECRET})
        collect.azure_recommendation(sub, azure_legacy_rec(sub, term="P3Y"))
        collect.azure_reservation(sub, azure_reservation(sub))
    collect.deny_inventory(SUBS[1], "azure")  # a warning, not a failure

    settings_token_uri = collect_settings(sim)["gcp_token_uri"]
    key = make_gcp_key(GCP_EMAIL, str(settings_token_uri), project_id=PROJECT, state=sim.state)
    sim.state.add_project(PROJECT, "123456789", granted_to=[GCP_EMAIL])
    world.ids[PROJECT] = await create(
        admin,
        {
            "name": "gcp",
            "provider": "gcp",
            "external_id": PROJECT,
            "gcp_client_email": GCP_EMAIL,
            "gcp_auth_mode": "service_account_key",
        },
    )
    await store(
        admin,
        world.ids[PROJECT],
        {"type": "gcp_service_account", "service_account_json": json.dumps(key)},
    )
    collect.gcp_regions(PROJECT, ["us-central1", "europe-west1"])
    for region in ("us-central1", "europe-west1"):
        collect.gcp_recommendation(
            PROJECT, region, gcp_commitment_rec(PROJECT, region, plan="THIRTY_SIX_MONTH")
        )
    collect.gcp_commitment(PROJECT, "us-central1", gcp_commitment("us-central1"))

    for account in (*AWS_OK, BAD, SLOW, MALFORMED):
        term = 1 if account == ROLE else 3
        for platform in ("Linux/UNIX", "Windows"):  # two platforms of one type
            collect.aws_ri(
                account, "ec2", aws_ec2_detail(account=account, platform=platform), term=term
            )
    collect.fault(BAD, "bad_credentials")
    collect.fault(SLOW, "timeout", delay_s=TIMEOUT_S * 4)
    collect.fault(THROTTLED, "throttle", count=3, operation="GetReservationPurchaseRecommendation")
    collect.fault(MALFORMED, "malformed", operation="GetReservationPurchaseRecommendation")
    return world


async def recommendation_ids(session: AsyncSession) -> dict[tuple[Any, ...], uuid.UUID]:
    rows = await session.execute(select(Recommendation).execution_options(populate_existing=True))
    return {
        (r.cloud_account_id, r.service, r.region, r.resource_type, r.term, r.variant): r.id
        for r in rows.scalars()
    }


async def test_one_run_over_three_providers_and_every_aws_auth_mode(
    aws: AwsEnv,
    collect_sim: CollectSim,
    cloudsim: SimServer,
    admin_client: httpx.AsyncClient,
    session: AsyncSession,
) -> None:
    world = await arrange(admin_client, aws, cloudsim, collect_sim)
    by_id = {v: k for k, v in world.ids.items()}
    collect_sim.latency_s = 0.05
    collect_sim.reset_peak()
    aws.proxy.clear()

    run = await refresh_and_wait(admin_client, timeout_s=180)

    rows = {by_id[row["cloud_account_id"]]: row for row in run["accounts"]}
    assert len(rows) == len(world.ids) == 12
    failed = {k for k, row in rows.items() if row["status"] != "ok"}
    assert failed == {BAD, SLOW, MALFORMED}, [(k, rows[k]["error"]) for k in failed]
    assert rows[BAD]["status"] == "failed"
    assert "rejected the access key" in rows[BAD]["error"]
    assert rows[SLOW]["status"] == "timeout"
    assert "CUDLY_ACCOUNT_TIMEOUT_S" in rows[SLOW]["error"]
    assert rows[MALFORMED]["status"] == "failed"
    assert "internal error" not in rows[MALFORMED]["error"] and rows[MALFORMED]["error"]
    assert (run["accounts_ok"], run["accounts_failed"]) == (9, 3)
    assert rows[SUBS[1]]["warnings"] and not rows[SUBS[0]]["warnings"]
    assert rows[SUBS[0]]["commitment_count"] == 1 and rows[SUBS[1]]["commitment_count"] == 0
    assert rows[PROJECT]["recommendation_count"] == 2 and rows[PROJECT]["commitment_count"] == 1
    for account in AWS_OK:
        assert rows[account]["recommendation_count"] == 2, (account, rows[account])

    # Each account was collected with its own identity, never the server's ambient one.
    for account in KEYED:
        if account not in (BAD, SLOW):
            assert collect_sim.signers(account) == {world.keys[account]}, account
    for account in (ROLE, BASTION, WIF):
        signers = collect_sim.signers(account)
        assert signers and AMBIENT_KEY_ID not in signers
        assert not signers & set(world.keys.values()), account
    hops = {call.params.get("RoleArn"): call for call in aws.proxy.calls if call.params}
    assert hops[role(ROLE)].access_key_id == AMBIENT_KEY_ID  # role_arn: ambient assumes
    assert hops[role(BASTION)].access_key_id == world.keys[BASTION_HUB]  # through the bastion
    assert hops[role(WIF)].access_key_id is None  # web identity: unsigned
    assert {c.access_key_id for c in aws.proxy.calls if c.action == "AssumeRole"} <= {
        AMBIENT_KEY_ID,
        world.keys[BASTION_HUB],
    }
    assert collect_sim.signers(SUBS[0]) == {CLIENT}
    assert collect_sim.signers(SUBS[1]) == {CLIENT2}
    assert collect_sim.signers(PROJECT) == {GCP_EMAIL}
    # The bound: never more than P collection calls at once, and P was reached.
    assert collect_sim.peak_in_flight == PARALLELISM

    first = await recommendation_ids(session)
    terms = {key[4] for key in first}
    assert terms == {1, 3}  # 1-year and 3-year coexist
    access = uuid.UUID(world.ids[ACCESS])
    assert len({key[5] for key in first if key[0] == access}) == 2  # two EC2 platforms

    # Second run: the faults are gone, but ACCESS's credentials now fail.
    collect_sim.faults.clear()
    collect_sim.fault(ACCESS, "bad_credentials")
    second = await refresh_and_wait(admin_client, timeout_s=180)
    rows = {by_id[row["cloud_account_id"]]: row for row in second["accounts"]}
    assert {k for k, row in rows.items() if row["status"] != "ok"} == {ACCESS}
    after = await recommendation_ids(session)
    # Everything that existed keeps its id — including the failed account's previous set.
    assert {key: after[key] for key in first} == first
    assert {key[0] for key in set(after) - set(first)} == {
        uuid.UUID(world.ids[a]) for a in (BAD, SLOW, MALFORMED)
    }
    fresh = (await admin_client.get("/api/recommendations/freshness")).json()["accounts"]
    stale = {by_id[f["cloud_account_id"]] for f in fresh if f["stale"]}
    assert stale == {ACCESS}
    listed = (
        await admin_client.get(f"/api/recommendations?account_ids={world.ids[ACCESS]}")
    ).json()
    assert len(listed["recommendations"]) == 2
