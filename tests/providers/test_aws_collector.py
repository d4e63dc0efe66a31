"""AWS collector against the simulator (CE, inventories) and moto (STS, every auth mode)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from api.config import Settings
from api.enums import Provider
from api.providers.aws.collector import AwsCollector
from api.providers.base import ProviderError
from api.providers.clients import ProviderClients
from tests.cloudsim import SimServer
from tests.cloudsim.collect import (
    CollectSim,
    aws_ec2_detail,
    aws_node_detail,
    aws_rds_detail,
    aws_sp_detail,
)
from tests.credentials.fixtures import AMBIENT_KEY_ID, AwsEnv
from tests.providers.collect_helpers import aws_auth, aws_temporary_keys, effective, sim_settings

ACCOUNT = "111122223333"


@pytest.fixture
def settings_aws(cloudsim: SimServer) -> Settings:
    return sim_settings(cloudsim, account_timeout_s=30)


@pytest.fixture
async def clients(settings_aws: Settings) -> AsyncIterator[ProviderClients]:
    async with ProviderClients(settings_aws) as built:
        yield built


async def test_ec2_recommendations_all_pages_region_names_mapped(
    aws: AwsEnv, collect_sim: CollectSim, settings_aws: Settings, clients: ProviderClients
) -> None:
    for n in range(5):
        collect_sim.aws_ri(
            ACCOUNT, "ec2", aws_ec2_detail(f"m5.{n}xlarge", count="2", savings="10.5")
        )
    auth = aws_auth(ACCOUNT, credentials=aws_temporary_keys(aws, ACCOUNT))
    result = await AwsCollector().collect(
        auth, effective(Provider.aws, ("ec2",)), settings_aws, clients
    )
    assert len(result.recommendations) == 5
    first = result.recommendations[0]
    assert first.region == "us-east-1"
    assert first.estimated_monthly_savings == Decimal("10.5")
    assert first.count == Decimal(2)
    assert first.variant == "Linux/UNIX/Shared/STANDARD"
    # What the purchaser needs to find the same offering, in EC2's own words.
    assert first.details["platform"] == "Linux/UNIX"
    assert first.details["tenancy"] == "default"
    assert first.term == 3 and first.payment == "no-upfront"
    assert collect_sim.operations(ACCOUNT).count("GetReservationPurchaseRecommendation") == 3
    assert result.commitments == []
    assert ACCOUNT in result.caller_identity


async def test_every_service_savings_plans_and_inventory_shapes(
    aws: AwsEnv, collect_sim: CollectSim, settings_aws: Settings, clients: ProviderClients
) -> None:
    c = collect_sim
    c.aws_ri(ACCOUNT, "rds", aws_rds_detail("db.r5.large", deployment="Multi-AZ"))
    c.aws_ri(ACCOUNT, "elasticache", aws_node_detail("elasticache", "cache.r6g.large"))
    c.aws_ri(ACCOUNT, "opensearch", aws_node_detail("opensearch", "r6g.large.search"))
    c.aws_ri(ACCOUNT, "redshift", aws_node_detail("redshift", "ra3.xlplus"))
    c.aws_ri(ACCOUNT, "memorydb", aws_node_detail("memorydb", "db.r6g.large"))
    c.aws_sp(ACCOUNT, aws_sp_detail("COMPUTE_SP", hourly="2.5"), sp_type="COMPUTE_SP")
    c.aws_sp(
        ACCOUNT,
        aws_sp_detail("EC2_INSTANCE_SP", hourly="1.25", family="m5", region="eu-west-1"),
        sp_type="EC2_INSTANCE_SP",
    )
    start = datetime(2026, 1, 1, tzinfo=UTC)
    charges = [{"RecurringChargeAmount": 0.05, "RecurringChargeFrequency": "Hourly"}]
    c.aws_inventory(
        ACCOUNT,
        "ec2",
        {
            "ReservedInstancesId": "ri-1",
            "InstanceType": "m5.large",
            "InstanceCount": 3,
            "Start": start,
            "End": start + timedelta(days=365),
            "Duration": 31536000,
            "FixedPrice": 100.0,
            "UsagePrice": 0.0,
            "RecurringCharges": [{"Amount": 0.04, "Frequency": "Hourly"}],
            "OfferingType": "No Upfront",
            "OfferingClass": "standard",
            "ProductDescription": "Linux/UNIX",
            "InstanceTenancy": "default",
            "CurrencyCode": "USD",
            "State": "active",
        },
    )
    common = {"StartTime": start, "Duration": 94608000, "FixedPrice": 0.0, "State": "active"}
    c.aws_inventory(
        ACCOUNT,
        "rds",
        *[
            {
                "ReservedDBInstanceId": f"rds-{n}",
                "DBInstanceClass": "db.r5.large",
                "DBInstanceCount": 1,
                "ProductDescription": "postgresql",
                "OfferingType": "Partial Upfront",
                "RecurringCharges": charges,
                "MultiAZ": False,
                **common,
            }
            for n in range(3)
        ],
    )
    c.aws_inventory(
        ACCOUNT,
        "elasticache",
        {
            "ReservedCacheNodeId": "ec-1",
            "CacheNodeType": "cache.r6g.large",
            "CacheNodeCount": 2,
            "ProductDescription": "redis",
            "OfferingType": "All Upfront",
            "RecurringCharges": charges,
            **common,
        },
    )
    c.aws_inventory(
        ACCOUNT,
        "redshift",
        {
            "ReservedNodeId": "rs-1",
            "NodeType": "ra3.xlplus",
            "NodeCount": 2,
            "OfferingType": "No Upfront",
            **common,
        },
    )
    c.aws_inventory(
        ACCOUNT,
        "memorydb",
        {
            "ReservationId": "mdb-1",
            "NodeType": "db.r6g.large",
            "NodeCount": 1,
            "OfferingType": "No Upfront",
            **common,
        },
    )
    c.aws_inventory(
        ACCOUNT,
        "opensearch",
        {
            "ReservedInstanceId": "os-1",
            "ReservationName": "search",
            "InstanceType": "r6g.large.search",
            "InstanceCount": 2,
            "PaymentOption": "NO_UPFRONT",
            **common,
        },
    )
    c.aws_inventory(
        ACCOUNT,
        "savingsplans",
        {
            "savingsPlanId": "sp-1",
            "savingsPlanType": "Compute",
            "paymentOption": "No Upfront",
            "commitment": "2.5",
            "upfrontPaymentAmount": "0",
            "recurringPaymentAmount": "2.5",
            "start": "2026-01-01T00:00:00Z",
            "end": "2029-01-01T00:00:00Z",
            "termDurationInSeconds": 94608000,
            "currency": "USD",
            "state": "active",
            "region": "",
        },
    )
    auth = aws_auth(ACCOUNT, credentials=aws_temporary_keys(aws, ACCOUNT))
    result = await AwsCollector().collect(auth, effective(Provider.aws), settings_aws, clients)

    by_service = {r.service: r for r in result.recommendations}
    assert set(by_service) == {
        "rds",
        "elasticache",
        "opensearch",
        "redshift",
        "memorydb",
        "savings-plans",
    }
    assert by_service["rds"].engine == "PostgreSQL"
    assert by_service["rds"].variant == "Multi-AZ"
    assert by_service["rds"].details["multi_az"] is True
    assert by_service["opensearch"].resource_type == "r6g.large.search"
    plans = {r.variant: r for r in result.recommendations if r.service == "savings-plans"}
    assert set(plans) == {"COMPUTE_SP", "EC2_INSTANCE_SP/m5"}
    assert plans["COMPUTE_SP"].count == Decimal("2.5")
    assert plans["COMPUTE_SP"].recurring_monthly_cost == Decimal("1825.0")
    assert plans["EC2_INSTANCE_SP/m5"].region == "eu-west-1"
    assert plans["COMPUTE_SP"].details["offering_id"].startswith("offering-")

    assert result.warnings == []
    assert result.commitments is not None
    held = {cm.provider_commitment_id: cm for cm in result.commitments}
    assert set(held) == {"ri-1", "rds-0", "rds-1", "rds-2", "ec-1", "rs-1", "mdb-1", "os-1", "sp-1"}
    ri = held["ri-1"]
    assert (ri.service, ri.resource_type, ri.count, ri.term) == ("ec2", "m5.large", Decimal(3), 1)
    assert ri.payment == "no-upfront" and ri.state == "active" and ri.start == start
    assert ri.upfront_cost == Decimal("100.0")
    assert ri.recurring_monthly_cost == Decimal("0.04") * 730
    assert held["rds-1"].term == 3 and held["rds-1"].payment == "partial-upfront"
    assert held["rds-1"].engine == "postgresql"
    assert held["ec-1"].payment == "all-upfront" and held["ec-1"].count == 2
    assert held["os-1"].payment == "no-upfront"
    assert held["sp-1"].service == "savings-plans" and held["sp-1"].term == 3
    assert held["sp-1"].end == datetime(2029, 1, 1, tzinfo=UTC)
    # Stored as jsonb: plain JSON only.
    json.dumps([r.details for r in result.recommendations])
    json.dumps([cm.details for cm in result.commitments])
    # RDS paged by Marker (page size 2): two calls.
    assert c.operations(ACCOUNT).count("DescribeReservedDBInstances") == 2


async def test_term_and_payment_come_from_the_config(
    aws: AwsEnv, collect_sim: CollectSim, settings_aws: Settings, clients: ProviderClients
) -> None:
    collect_sim.aws_ri(ACCOUNT, "ec2", aws_ec2_detail("c5.large"), term=1, payment="ALL_UPFRONT")
    collect_sim.aws_ri(ACCOUNT, "ec2", aws_ec2_detail("c5.xlarge"), term=3, payment="ALL_UPFRONT")
    collect_sim.aws_ri(ACCOUNT, "ec2", aws_ec2_detail("c5.2xlarge"), term=1, payment="NO_UPFRONT")
    auth = aws_auth(ACCOUNT, credentials=aws_temporary_keys(aws, ACCOUNT))
    config = effective(Provider.aws, ("ec2",), term=1, payment="all-upfront")
    result = await AwsCollector().collect(auth, config, settings_aws, clients)
    assert [(r.resource_type, r.term, r.payment) for r in result.recommendations] == [
        ("c5.large", 1, "all-upfront")
    ]


async def test_region_type_filters_and_summing_by_key(
    aws: AwsEnv, collect_sim: CollectSim, settings_aws: Settings, clients: ProviderClients
) -> None:
    c = collect_sim
    c.aws_ri(ACCOUNT, "ec2", aws_ec2_detail("m5.large", count="1", savings="10", on_demand="40"))
    c.aws_ri(ACCOUNT, "ec2", aws_ec2_detail("m5.large", count="2", savings="20", on_demand="60"))
    c.aws_ri(ACCOUNT, "ec2", aws_ec2_detail("m5.large", platform="Windows"))
    c.aws_ri(ACCOUNT, "ec2", aws_ec2_detail("m5.large", region="EU (Ireland)"))
    c.aws_ri(ACCOUNT, "ec2", aws_ec2_detail("t3.micro"))
    auth = aws_auth(ACCOUNT, credentials=aws_temporary_keys(aws, ACCOUNT))
    config = effective(
        Provider.aws, ("ec2",), exclude_regions=["eu-west-1"], include_types=["M5.LARGE"]
    )
    result = await AwsCollector().collect(auth, config, settings_aws, clients)
    by_variant = {r.variant: r for r in result.recommendations}
    assert set(by_variant) == {"Linux/UNIX/Shared/STANDARD", "Windows/Shared/STANDARD"}
    summed = by_variant["Linux/UNIX/Shared/STANDARD"]
    assert summed.count == Decimal(3)
    assert summed.estimated_monthly_savings == Decimal(30)
    assert summed.savings_percent == Decimal("30.00")
    assert len(summed.details["merged"]) == 2


async def test_throttling_is_retried_until_fine(
    aws: AwsEnv, collect_sim: CollectSim, settings_aws: Settings, clients: ProviderClients
) -> None:
    collect_sim.aws_ri(ACCOUNT, "ec2", aws_ec2_detail())
    collect_sim.fault(
        ACCOUNT, "throttle", count=4, operation="GetReservationPurchaseRecommendation"
    )
    auth = aws_auth(ACCOUNT, credentials=aws_temporary_keys(aws, ACCOUNT))
    result = await AwsCollector().collect(
        auth, effective(Provider.aws, ("ec2",)), settings_aws, clients
    )
    assert len(result.recommendations) == 1
    calls = [x for x in collect_sim.calls if x.operation == "GetReservationPurchaseRecommendation"]
    assert [x.status for x in calls] == [400, 400, 400, 400, 200]


async def test_throttled_past_the_budget_fails_saying_so(
    aws: AwsEnv, collect_sim: CollectSim, cloudsim: SimServer
) -> None:
    collect_sim.fault(ACCOUNT, "throttle", count=1000, operation="Get*")
    settings = sim_settings(cloudsim, account_timeout_s=2)
    auth = aws_auth(ACCOUNT, credentials=aws_temporary_keys(aws, ACCOUNT))
    async with ProviderClients(settings) as clients:
        with pytest.raises(ProviderError, match="throttled"):
            await AwsCollector().collect(auth, effective(Provider.aws, ("ec2",)), settings, clients)


async def test_malformed_answer_is_a_provider_error(
    aws: AwsEnv, collect_sim: CollectSim, settings_aws: Settings, clients: ProviderClients
) -> None:
    collect_sim.fault(ACCOUNT, "malformed", operation="GetReservationPurchaseRecommendation")
    auth = aws_auth(ACCOUNT, credentials=aws_temporary_keys(aws, ACCOUNT))
    with pytest.raises(ProviderError, match="cannot read") as caught:
        await AwsCollector().collect(auth, effective(Provider.aws, ("ec2",)), settings_aws, clients)
    assert caught.value.code == "malformed_response"


async def test_malformed_xml_inventory_is_a_warning(
    aws: AwsEnv, collect_sim: CollectSim, settings_aws: Settings, clients: ProviderClients
) -> None:
    collect_sim.fault(ACCOUNT, "malformed", operation="DescribeReservedDBInstances")
    auth = aws_auth(ACCOUNT, credentials=aws_temporary_keys(aws, ACCOUNT))
    result = await AwsCollector().collect(
        auth, effective(Provider.aws, ("rds",)), settings_aws, clients
    )
    assert result.commitments is None
    assert len(result.warnings) == 1 and "cannot read" in result.warnings[0]


async def test_bad_credentials_are_reported(
    aws: AwsEnv, collect_sim: CollectSim, settings_aws: Settings, clients: ProviderClients
) -> None:
    collect_sim.fault(ACCOUNT, "bad_credentials", operation="Get*")
    auth = aws_auth(ACCOUNT, credentials=aws_temporary_keys(aws, ACCOUNT))
    with pytest.raises(ProviderError, match="rejected the access key") as caught:
        await AwsCollector().collect(auth, effective(Provider.aws), settings_aws, clients)
    assert "wJalr" not in caught.value.message


async def test_identity_mismatch_names_both_accounts(
    aws: AwsEnv, collect_sim: CollectSim, settings_aws: Settings, clients: ProviderClients
) -> None:
    other = "999988887777"
    auth = aws_auth(ACCOUNT, credentials=aws_temporary_keys(aws, other))
    with pytest.raises(ProviderError) as caught:
        await AwsCollector().collect(auth, effective(Provider.aws), settings_aws, clients)
    assert other in caught.value.message and ACCOUNT in caught.value.message
    assert collect_sim.calls == []  # nothing collected with the wrong identity


async def test_inventory_denied_is_a_warning_not_a_failure(
    aws: AwsEnv, collect_sim: CollectSim, settings_aws: Settings, clients: ProviderClients
) -> None:
    collect_sim.aws_ri(ACCOUNT, "rds", aws_rds_detail())
    collect_sim.aws_inventory(
        ACCOUNT,
        "elasticache",
        {
            "ReservedCacheNodeId": "ec-9",
            "CacheNodeType": "cache.t3.small",
            "CacheNodeCount": 1,
            "State": "active",
        },
    )
    collect_sim.deny_inventory(ACCOUNT, "rds")
    auth = aws_auth(ACCOUNT, credentials=aws_temporary_keys(aws, ACCOUNT))
    result = await AwsCollector().collect(
        auth, effective(Provider.aws, ("rds", "elasticache")), settings_aws, clients
    )
    assert len(result.recommendations) == 1
    assert result.commitments is not None
    assert [cm.provider_commitment_id for cm in result.commitments] == ["ec-9"]
    assert len(result.warnings) == 1
    assert "rds:DescribeReservedDBInstances" in result.warnings[0]

    collect_sim.deny_inventory(ACCOUNT, "elasticache")
    result = await AwsCollector().collect(
        auth, effective(Provider.aws, ("rds", "elasticache")), settings_aws, clients
    )
    assert result.commitments is None and len(result.warnings) == 2


async def test_every_auth_mode_signs_with_its_own_identity(
    aws: AwsEnv, collect_sim: CollectSim, settings_aws: Settings, clients: ProviderClients
) -> None:
    """access_keys, role_arn (ambient → AssumeRole), bastion (its keys → AssumeRole), WIF."""
    accounts = {
        "access_keys": "210000000001",
        "role_arn": "210000000002",
        "bastion": "210000000003",
        "workload_identity_federation": "210000000004",
    }
    bastion_account = "210000000099"
    for account in accounts.values():
        collect_sim.aws_ri(account, "ec2", aws_ec2_detail(account=account))
    keys = aws_temporary_keys(aws, accounts["access_keys"])
    bastion_keys = aws_temporary_keys(aws, bastion_account)
    bastion = aws_auth(bastion_account, credentials=bastion_keys)
    auths = {
        "access_keys": aws_auth(accounts["access_keys"], credentials=keys),
        "role_arn": aws_auth(
            accounts["role_arn"],
            mode="role_arn",
            role_arn=f"arn:aws:iam::{accounts['role_arn']}:role/CUDly",
            external_id="ext-123",
        ),
        "bastion": aws_auth(
            accounts["bastion"],
            mode="bastion",
            role_arn=f"arn:aws:iam::{accounts['bastion']}:role/CUDly",
            bastion=bastion,
        ),
        "workload_identity_federation": aws_auth(
            accounts["workload_identity_federation"],
            mode="workload_identity_federation",
            role_arn=f"arn:aws:iam::{accounts['workload_identity_federation']}:role/CUDly",
            credentials={"type": "aws_wif", "web_identity_token": "oidc-token-value"},
        ),
    }
    config = effective(Provider.aws, ("ec2",))
    for mode, auth in auths.items():
        result = await AwsCollector().collect(auth, config, settings_aws, clients)
        assert len(result.recommendations) == 1, mode
        assert accounts[mode] in result.caller_identity

    signers = {mode: collect_sim.signers(account) for mode, account in accounts.items()}
    assert signers["access_keys"] == {keys["access_key_id"]}
    for mode in ("role_arn", "bastion", "workload_identity_federation"):
        (signer,) = signers[mode]
        assert signer is not None and signer.startswith("ASIA"), mode
        assert signer not in {AMBIENT_KEY_ID, keys["access_key_id"], bastion_keys["access_key_id"]}
    assert len({next(iter(s)) for s in signers.values()}) == 4
    # The ambient identity signed only role_arn's AssumeRole; the bastion's keys the bastion's.
    assumes = [(c.action, c.params.get("RoleArn"), c.access_key_id) for c in aws.proxy.calls]
    assert ("AssumeRole", auths["role_arn"].account.aws_role_arn, AMBIENT_KEY_ID) in assumes
    assert (
        "AssumeRole",
        auths["bastion"].account.aws_role_arn,
        bastion_keys["access_key_id"],
    ) in assumes
    ambient = [a for a in assumes if a[2] == AMBIENT_KEY_ID and a[0] == "AssumeRole"]
    assert [a[1] for a in ambient if a[1] and "keys-holder" not in a[1]] == [
        auths["role_arn"].account.aws_role_arn
    ]
    assert all(c.identity != AMBIENT_KEY_ID for c in collect_sim.calls)


async def test_a_slow_account_can_be_cut_by_its_timeout(
    aws: AwsEnv, collect_sim: CollectSim, settings_aws: Settings, clients: ProviderClients
) -> None:
    collect_sim.fault(ACCOUNT, "timeout", delay_s=5)
    auth = aws_auth(ACCOUNT, credentials=aws_temporary_keys(aws, ACCOUNT))
    with pytest.raises(TimeoutError):
        async with asyncio.timeout(0.5):
            await AwsCollector().collect(auth, effective(Provider.aws), settings_aws, clients)


async def test_data_unavailable_means_no_recommendations(
    aws: AwsEnv, collect_sim: CollectSim, settings_aws: Settings, clients: ProviderClients
) -> None:
    collect_sim.fault(ACCOUNT, "no_data")
    auth = aws_auth(ACCOUNT, credentials=aws_temporary_keys(aws, ACCOUNT))
    result = await AwsCollector().collect(auth, effective(Provider.aws), settings_aws, clients)
    assert result.recommendations == []
    assert result.commitments == [] and result.warnings == []
