"""The simulator's collection APIs speak the real protocols: botocore parses every answer
(success and error, json/query/ec2/rest-json), and latency, in-flight peak and the signer
record work as documented in tests/cloudsim/collect.py."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import aioboto3
import pytest
from aiobotocore.config import AioConfig
from botocore.exceptions import ClientError
from starlette.responses import Response

from tests.cloudsim import SimServer
from tests.cloudsim.collect import (
    AwsContext,
    CollectSim,
    aws_answer,
    aws_ec2_detail,
    register_aws_operation,
)

ACCOUNT = "123412341234"
KEY = "AKIACOLLECTSIM000001"


@asynccontextmanager
async def client(sim: SimServer, service: str, key: str = KEY) -> AsyncIterator[Any]:
    session = aioboto3.Session()
    async with session.client(
        service,
        region_name="us-east-1",
        endpoint_url=sim.url,
        verify=sim.ca_pem_path,
        aws_access_key_id=key,
        aws_secret_access_key="not-checked-by-the-simulator",
        config=AioConfig(retries={"mode": "standard", "max_attempts": 1}),
    ) as made:
        yield made


async def test_ce_pages_and_records_the_signer(
    cloudsim: SimServer, collect_sim: CollectSim
) -> None:
    collect_sim.aws_key(KEY, ACCOUNT)
    for n in range(3):
        collect_sim.aws_ri(ACCOUNT, "ec2", aws_ec2_detail(f"m5.{n}xlarge"), term=1)
    async with client(cloudsim, "ce") as ce:
        request = {
            "Service": "Amazon Elastic Compute Cloud - Compute",
            "TermInYears": "ONE_YEAR",
            "PaymentOption": "NO_UPFRONT",
        }
        first = await ce.get_reservation_purchase_recommendation(**request)
        second = await ce.get_reservation_purchase_recommendation(
            **request, NextPageToken=first["NextPageToken"]
        )
    details = first["Recommendations"][0]["RecommendationDetails"]
    assert len(details) == 2 and "NextPageToken" not in second
    assert details[0]["UpfrontCost"] == "0"  # strings, as CE sends them
    assert {c.identity for c in collect_sim.calls} == {KEY}
    assert {c.account for c in collect_sim.calls} == {ACCOUNT}


@pytest.mark.parametrize(
    ("service", "call", "code"),
    [
        ("rds", "describe_reserved_db_instances", "Throttling"),
        ("elasticache", "describe_reserved_cache_nodes", "Throttling"),
        ("ec2", "describe_reserved_instances", "RequestLimitExceeded"),
        ("savingsplans", "describe_savings_plans", "ThrottlingException"),
        ("memorydb", "describe_reserved_nodes", "ThrottlingException"),
        ("opensearch", "describe_reserved_instances", "ThrottlingException"),
    ],
)
async def test_throttle_answers_parse_per_protocol(
    cloudsim: SimServer, collect_sim: CollectSim, service: str, call: str, code: str
) -> None:
    collect_sim.aws_key(KEY, ACCOUNT)
    collect_sim.fault(ACCOUNT, "throttle", count=10)
    async with client(cloudsim, service) as made:
        with pytest.raises(ClientError) as caught:
            await getattr(made, call)()
    assert caught.value.response["Error"]["Code"] == code


async def test_unknown_key_is_refused_like_aws(
    cloudsim: SimServer, collect_sim: CollectSim
) -> None:
    async with client(cloudsim, "rds", key="AKIAUNKNOWN000000000") as rds:
        with pytest.raises(ClientError) as caught:
            await rds.describe_reserved_db_instances()
    assert caught.value.response["Error"]["Code"] == "InvalidClientTokenId"
    async with client(cloudsim, "ce", key="AKIAUNKNOWN000000000") as ce:
        with pytest.raises(ClientError) as caught:
            await ce.get_savings_plans_purchase_recommendation(
                SavingsPlansType="COMPUTE_SP",
                TermInYears="ONE_YEAR",
                PaymentOption="NO_UPFRONT",
                LookbackPeriodInDays="THIRTY_DAYS",
            )
    assert caught.value.response["Error"]["Code"] == "UnrecognizedClientException"


async def test_latency_and_peak_in_flight(cloudsim: SimServer, collect_sim: CollectSim) -> None:
    collect_sim.aws_key(KEY, ACCOUNT)
    collect_sim.latency_s = 0.3
    async with client(cloudsim, "redshift") as redshift:
        await asyncio.gather(*(redshift.describe_reserved_nodes() for _ in range(4)))
    assert collect_sim.peak_in_flight == 4
    assert collect_sim.in_flight == 0


async def test_extra_operations_can_be_registered(
    cloudsim: SimServer, collect_sim: CollectSim
) -> None:
    async def describe_regions(ctx: AwsContext) -> Response:
        return aws_answer(ctx, {"Regions": [{"RegionName": "eu-west-1", "Endpoint": "x"}]})

    register_aws_operation("ec2", "DescribeRegions", describe_regions)
    collect_sim.aws_key(KEY, ACCOUNT)
    async with client(cloudsim, "ec2") as ec2:
        answer = await ec2.describe_regions()
    assert answer["Regions"][0]["RegionName"] == "eu-west-1"
