"""Azure and GCP collectors against the simulator (HTTPS, real azure-identity/google-auth)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from decimal import Decimal

import pytest

from api.config import Settings
from api.credentials.schemas import CREDENTIALS_ADAPTER
from api.enums import Provider
from api.providers.azure.collector import AzureCollector
from api.providers.base import ProviderError
from api.providers.clients import ProviderClients
from api.providers.gcp.collector import CLOUDSQL_WARNING, GcpCollector
from tests.cloudsim import SimServer
from tests.cloudsim.collect import (
    CollectSim,
    azure_legacy_rec,
    azure_modern_rec,
    azure_reservation,
    gcp_commitment,
    gcp_commitment_rec,
)
from tests.providers.collect_helpers import CLIENT, azure_auth, effective, gcp_auth, sim_settings

SUB = "44444444-4444-4444-4444-444444444444"
OTHER_SUB = "55555555-5555-5555-5555-555555555555"
PROJECT = "collect-project"


@pytest.fixture
def sim_cfg(cloudsim: SimServer) -> Settings:
    return sim_settings(cloudsim, account_timeout_s=30)


@pytest.fixture
async def clients(sim_cfg: Settings) -> AsyncIterator[ProviderClients]:
    async with ProviderClients(sim_cfg) as built:
        yield built


# --- Azure -------------------------------------------------------------------------------


async def test_azure_both_kinds_all_pages_term_filter(
    cloudsim: SimServer, collect_sim: CollectSim, sim_cfg: Settings, clients: ProviderClients
) -> None:
    auth = azure_auth(cloudsim, SUB)
    collect_sim.azure_recommendation(
        SUB,
        azure_legacy_rec(SUB, sku="Standard_D2s_v3", term="P1Y", cost_without=300, savings=90),
        azure_legacy_rec(SUB, sku="Standard_D4s_v3", term="P3Y"),
        azure_modern_rec(SUB, sku="Standard_E4s_v4", term="P1Y", savings="150.00"),
        azure_modern_rec(SUB, sku="Standard_E8s_v4", term="P3Y"),
        azure_legacy_rec(SUB, sku="Standard_F2s_v2", term="P1Y", location="westus2"),
    )
    result = await AzureCollector().collect(
        auth, effective(Provider.azure, ("vm",), term=1), sim_cfg, clients
    )
    by_sku = {r.resource_type: r for r in result.recommendations}
    assert set(by_sku) == {"Standard_D2s_v3", "Standard_E4s_v4", "Standard_F2s_v2"}
    legacy, modern = by_sku["Standard_D2s_v3"], by_sku["Standard_E4s_v4"]
    assert (legacy.region, legacy.term, legacy.variant) == ("eastus", 1, "Single")
    assert legacy.on_demand_monthly_cost == Decimal(300)
    assert legacy.estimated_monthly_savings == Decimal(90)
    assert legacy.savings_percent == Decimal("30.00")
    assert legacy.details["kind"] == "legacy" and legacy.currency == "USD"
    assert modern.details["kind"] == "modern" and modern.currency == "EUR"
    assert modern.estimated_monthly_savings == Decimal("150.00")
    assert modern.region == "westeurope"
    assert by_sku["Standard_F2s_v2"].region == "westus2"
    # 5 items at 2 per page: 3 pages, each with the filter kept in nextLink.
    pages = [c for c in collect_sim.calls if c.operation == "reservationRecommendations"]
    assert len(pages) == 3
    assert collect_sim.signers(SUB) == {CLIENT}
    assert result.caller_identity.startswith(CLIENT)
    for item in result.recommendations:
        json.dumps(item.details)


async def test_azure_204_means_none_and_payment_maps_to_billing_plan(
    cloudsim: SimServer, collect_sim: CollectSim, sim_cfg: Settings, clients: ProviderClients
) -> None:
    auth = azure_auth(cloudsim, SUB)
    result = await AzureCollector().collect(auth, effective(Provider.azure), sim_cfg, clients)
    assert result.recommendations == []
    assert result.commitments == []

    collect_sim.azure_recommendation(SUB, azure_legacy_rec(SUB, term="P3Y", cost_with=100))
    result = await AzureCollector().collect(
        auth, effective(Provider.azure, ("vm",), payment="all-upfront"), sim_cfg, clients
    )
    (rec,) = result.recommendations
    assert rec.payment == "all-upfront" and rec.details["billing_plan"] == "Upfront"
    assert rec.upfront_cost == Decimal(100) * 12 * 3 and rec.recurring_monthly_cost == 0


async def test_azure_region_filter_and_resource_type_per_service(
    cloudsim: SimServer, collect_sim: CollectSim, sim_cfg: Settings, clients: ProviderClients
) -> None:
    auth = azure_auth(cloudsim, SUB)
    collect_sim.azure_recommendation(
        SUB,
        azure_legacy_rec(SUB, term="P3Y", location="eastus"),
        azure_legacy_rec(SUB, term="P3Y", location="northeurope"),
        azure_legacy_rec(SUB, term="P3Y", resource_type="RedisCache", sku="P1"),
    )
    result = await AzureCollector().collect(
        auth, effective(Provider.azure, exclude_regions=["northeurope"]), sim_cfg, clients
    )
    assert sorted((r.service, r.region) for r in result.recommendations) == [
        ("redis", "eastus"),
        ("vm", "eastus"),
    ]


async def test_azure_throttle_then_fine_and_malformed(
    cloudsim: SimServer, collect_sim: CollectSim, sim_cfg: Settings, clients: ProviderClients
) -> None:
    auth = azure_auth(cloudsim, SUB)
    collect_sim.azure_recommendation(SUB, azure_legacy_rec(SUB, term="P3Y"))
    collect_sim.fault(SUB, "throttle", count=3, operation="reservationRecommendations")
    result = await AzureCollector().collect(
        auth, effective(Provider.azure, ("vm",)), sim_cfg, clients
    )
    assert len(result.recommendations) == 1
    statuses = [c.status for c in collect_sim.calls if c.operation == "reservationRecommendations"]
    assert statuses == [429, 429, 429, 200]

    collect_sim.fault(SUB, "malformed", operation="reservationRecommendations")
    with pytest.raises(ProviderError, match="cannot read"):
        await AzureCollector().collect(auth, effective(Provider.azure, ("vm",)), sim_cfg, clients)


async def test_azure_bad_token_and_identity_mismatch(
    cloudsim: SimServer, collect_sim: CollectSim, sim_cfg: Settings, clients: ProviderClients
) -> None:
    auth = azure_auth(cloudsim, SUB)
    collect_sim.fault(SUB, "bad_credentials", operation="reservationRecommendations")
    with pytest.raises(ProviderError, match="ARM refused the token"):
        await AzureCollector().collect(auth, effective(Provider.azure), sim_cfg, clients)

    wrong = azure_auth(cloudsim, SUB, secret="s3cret-value")
    snapshot = wrong.account.__class__(
        **{**wrong.account.__dict__, "external_id": OTHER_SUB, "azure_subscription_id": SUB}
    )
    mismatched = wrong.__class__(
        account=snapshot, credentials=wrong.credentials, fingerprint=wrong.fingerprint
    )
    with pytest.raises(ProviderError) as caught:
        await AzureCollector().collect(mismatched, effective(Provider.azure), sim_cfg, clients)
    assert SUB in caught.value.message and OTHER_SUB in caught.value.message


async def test_azure_inventory_and_its_denial(
    cloudsim: SimServer, collect_sim: CollectSim, sim_cfg: Settings, clients: ProviderClients
) -> None:
    auth = azure_auth(cloudsim, SUB)
    cloudsim.state.add_subscription(OTHER_SUB, "11111111-1111-1111-1111-111111111111")
    collect_sim.azure_reservation(
        SUB,
        azure_reservation(SUB, quantity=3, term="P3Y", billing_plan="Upfront"),
        azure_reservation(SUB),
        azure_reservation(OTHER_SUB),  # applied elsewhere, not visible anyway
    )
    result = await AzureCollector().collect(auth, effective(Provider.azure), sim_cfg, clients)
    assert result.commitments is not None
    assert sorted((c.count, c.term, c.payment) for c in result.commitments) == [
        (Decimal(2), 1, "no-upfront"),
        (Decimal(3), 3, "all-upfront"),
    ]
    held = result.commitments[0]
    assert held.service == "vm" and held.state == "active"
    assert held.utilization_percent == Decimal("92.5")

    collect_sim.deny_inventory(SUB, "azure")
    result = await AzureCollector().collect(auth, effective(Provider.azure), sim_cfg, clients)
    assert result.commitments is None
    assert len(result.warnings) == 1 and "Reservations Reader" in result.warnings[0]


# --- GCP ---------------------------------------------------------------------------------


async def test_gcp_every_region_every_page_negative_cost_is_savings(
    cloudsim: SimServer, collect_sim: CollectSim, sim_cfg: Settings, clients: ProviderClients
) -> None:
    auth = gcp_auth(cloudsim, sim_cfg, PROJECT)
    collect_sim.gcp_regions(PROJECT, ["us-central1", "europe-west1", "asia-east1"])
    for n in range(3):
        collect_sim.gcp_recommendation(
            PROJECT, "us-central1", gcp_commitment_rec(PROJECT, "us-central1", vcpus=n + 1)
        )
    collect_sim.gcp_recommendation(
        PROJECT,
        "europe-west1",
        gcp_commitment_rec(PROJECT, "europe-west1", plan="THIRTY_SIX_MONTH", machine_type="N2"),
    )
    result = await GcpCollector().collect(
        auth, effective(Provider.gcp, ("compute",), term=1), sim_cfg, clients
    )
    assert len(result.recommendations) == 1  # three same-key items summed; 3-year one dropped
    (rec,) = result.recommendations
    assert (rec.region, rec.term, rec.resource_type, rec.count) == (
        "us-central1",
        1,
        "GENERAL_PURPOSE_E2",
        Decimal(6),
    )
    assert rec.estimated_monthly_savings == Decimal("361.5")
    assert rec.payment == "no-upfront"
    regions_calls = [c for c in collect_sim.calls if c.operation.startswith("recommendations.list")]
    assert {c.operation.split(":")[1] for c in regions_calls} == {
        "us-central1",
        "europe-west1",
        "asia-east1",
    }
    assert len([c for c in regions_calls if c.operation.endswith("us-central1")]) == 2  # paged
    assert collect_sim.signers(PROJECT) == {auth.account.gcp_client_email}
    json.dumps(rec.details)


async def test_gcp_include_regions_skip_regions_list_and_field_path_layout(
    cloudsim: SimServer, collect_sim: CollectSim, sim_cfg: Settings, clients: ProviderClients
) -> None:
    auth = gcp_auth(cloudsim, sim_cfg, PROJECT)
    rec = gcp_commitment_rec(PROJECT, "europe-west4", plan="THIRTY_SIX_MONTH")
    value = rec["content"]["operationGroups"][0]["operations"][0]["value"]
    rec["content"]["operationGroups"][0]["operations"] = [
        {
            "action": "add",
            "resourceType": "compute.googleapis.com/Commitment",
            "path": f"/{k}",
            "value": v,
        }
        for k, v in value.items()
    ]
    collect_sim.gcp_recommendation(PROJECT, "europe-west4", rec)
    result = await GcpCollector().collect(
        auth, effective(Provider.gcp, include_regions=["europe-west4"]), sim_cfg, clients
    )
    assert [(r.region, r.term) for r in result.recommendations] == [("europe-west4", 3)]
    assert "regions.list" not in collect_sim.operations(PROJECT)
    assert result.warnings == [CLOUDSQL_WARNING]


async def test_gcp_inventory_throttle_and_denial(
    cloudsim: SimServer, collect_sim: CollectSim, sim_cfg: Settings, clients: ProviderClients
) -> None:
    auth = gcp_auth(cloudsim, sim_cfg, PROJECT)
    collect_sim.gcp_commitment(PROJECT, "us-central1", gcp_commitment("us-central1", name="a"))
    collect_sim.gcp_commitment(
        PROJECT, "us-east1", gcp_commitment("us-east1", name="b", plan="THIRTY_SIX_MONTH")
    )
    collect_sim.gcp_commitment(
        PROJECT, "us-east1", gcp_commitment("us-east1", name="c", status="EXPIRED")
    )
    collect_sim.fault(PROJECT, "throttle", count=2, operation="commitments.aggregatedList")
    result = await GcpCollector().collect(
        auth, effective(Provider.gcp, ("compute",)), sim_cfg, clients
    )
    assert result.commitments is not None
    assert sorted((c.details["name"], c.region, c.term, c.state) for c in result.commitments) == [
        ("a", "us-central1", 1, "active"),
        ("b", "us-east1", 3, "active"),
        ("c", "us-east1", 1, "expired"),
    ]
    assert result.commitments[0].count == Decimal(4)

    collect_sim.deny_inventory(PROJECT, "gcp")
    result = await GcpCollector().collect(
        auth, effective(Provider.gcp, ("compute",)), sim_cfg, clients
    )
    assert result.commitments is None
    assert "compute.commitments.list" in result.warnings[0]


async def test_gcp_malformed_bad_token_and_identity_mismatch(
    cloudsim: SimServer, collect_sim: CollectSim, sim_cfg: Settings, clients: ProviderClients
) -> None:
    auth = gcp_auth(cloudsim, sim_cfg, PROJECT)
    collect_sim.fault(PROJECT, "malformed", operation="recommendations.list:*")
    with pytest.raises(ProviderError, match="cannot read"):
        await GcpCollector().collect(
            auth, effective(Provider.gcp, include_regions=["us-central1"]), sim_cfg, clients
        )
    collect_sim.fault(PROJECT, "bad_credentials", operation="regions.list")
    with pytest.raises(ProviderError, match="UNAUTHENTICATED"):
        await GcpCollector().collect(auth, effective(Provider.gcp), sim_cfg, clients)

    other = gcp_auth(cloudsim, sim_cfg, "other-project")
    snapshot = other.account.__class__(**{**other.account.__dict__, "external_id": PROJECT})
    mismatched = other.__class__(
        account=snapshot, credentials=other.credentials, fingerprint=other.fingerprint
    )
    with pytest.raises(ProviderError) as caught:
        await GcpCollector().collect(mismatched, effective(Provider.gcp), sim_cfg, clients)
    assert "other-project" in caught.value.message and PROJECT in caught.value.message


async def test_azure_next_link_off_the_management_endpoint_is_not_followed(
    cloudsim: SimServer, collect_sim: CollectSim, sim_cfg: Settings, clients: ProviderClients
) -> None:
    auth = azure_auth(cloudsim, SUB)
    collect_sim.azure_recommendation(
        SUB, *(azure_legacy_rec(SUB, term="P3Y", sku=f"Standard_D{n}s_v3") for n in range(3))
    )
    collect_sim.next_link_base = "https://attacker.example"
    with pytest.raises(ProviderError, match="nextLink outside the management endpoint"):
        await AzureCollector().collect(auth, effective(Provider.azure, ("vm",)), sim_cfg, clients)
    assert len(collect_sim.calls) == 1  # the first page only; the bearer token went nowhere else


async def test_azure_workload_identity_collects_as_its_principal(
    cloudsim: SimServer, collect_sim: CollectSim, sim_cfg: Settings, clients: ProviderClients
) -> None:
    wif_client = "66666666-6666-6666-6666-666666666666"
    secret_auth = azure_auth(cloudsim, SUB)
    cloudsim.state.add_azure_assertion(
        secret_auth.account.azure_tenant_id or "", wif_client, "jwt.a.b"
    )
    cloudsim.state.grant_subscription(SUB, wif_client)
    snapshot = secret_auth.account.__class__(
        **{
            **secret_auth.account.__dict__,
            "azure_client_id": wif_client,
            "azure_auth_mode": "workload_identity_federation",
        }
    )
    auth = secret_auth.__class__(
        account=snapshot,
        credentials=CREDENTIALS_ADAPTER.validate_python(
            {"type": "azure_wif", "client_assertion": "jwt.a.b"}
        ),
        fingerprint="w",
    )
    collect_sim.azure_recommendation(SUB, azure_legacy_rec(SUB, term="P3Y"))
    result = await AzureCollector().collect(auth, effective(Provider.azure), sim_cfg, clients)
    assert len(result.recommendations) == 1
    assert collect_sim.signers(SUB) == {wif_client}
