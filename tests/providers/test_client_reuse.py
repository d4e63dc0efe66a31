"""Shared AWS clients: one per service and region for the whole process, every call still
signed by its own account's credentials — never another account's, never the server's."""

from __future__ import annotations

import asyncio
from collections import Counter

import pytest
from botocore.exceptions import ClientError

from api.enums import Provider
from api.kit.fanout import fan_out
from api.providers.aws.collector import AwsCollector
from api.providers.awssdk import AwsSessionCredentials
from api.providers.base import AccountAuth, SweepResult
from api.providers.clients import PLACEHOLDER_KEY_ID, ProviderClients, UnboundAwsCall
from tests.cloudsim import SimServer
from tests.cloudsim.collect import CollectSim, aws_ec2_detail
from tests.credentials.fixtures import AMBIENT_KEY_ID, AwsEnv
from tests.providers.collect_helpers import aws_auth, aws_temporary_keys, effective, sim_settings

EC2_RI = {
    "Service": "Amazon Elastic Compute Cloud - Compute",
    "TermInYears": "THREE_YEARS",
    "PaymentOption": "NO_UPFRONT",
    "LookbackPeriodInDays": "THIRTY_DAYS",
}


async def test_accounts_share_one_client_per_service_each_signing_as_itself(
    aws: AwsEnv, collect_sim: CollectSim, cloudsim: SimServer
) -> None:
    settings = sim_settings(cloudsim, account_timeout_s=20, max_account_parallelism=10)
    accounts = [f"4200000000{n:02d}" for n in range(10)]
    for account in accounts:
        collect_sim.aws_ri(account, "ec2", aws_ec2_detail(account=account))
    auths = {a: aws_auth(a, credentials=aws_temporary_keys(aws, a)) for a in accounts}
    keys = {a: auth.credentials.access_key_id for a, auth in auths.items()}  # type: ignore[union-attr]
    collect_sim.latency_s = 0.1  # every account's calls are in flight at the same time
    collect_sim.reset_peak()
    config = effective(Provider.aws, ("ec2",))

    async with ProviderClients(settings) as clients:

        async def sweep(auth: AccountAuth) -> SweepResult:
            return await AwsCollector().collect(auth, config, settings, clients)

        outcomes = await fan_out(list(auths.values()), sweep, limit=10, timeout_s=15)
        # STS, Cost Explorer and EC2 (in the server's region): one client each, for all.
        assert clients.aws_client_count == 3
        shared = await clients.aws_client("ce")
        again = await fan_out(list(auths.values()), sweep, limit=10, timeout_s=15)
        assert await clients.aws_client("ce") is shared
        assert clients.aws_client_count == 3

    assert collect_sim.peak_in_flight == 10  # interleaved on the shared clients
    for outcome in (*outcomes, *again):
        assert outcome.ok, outcome.error
    for account in accounts:
        assert collect_sim.signers(account) == {keys[account]}, account
    # The simulator tells the account from the signing key: 2 calls per account per sweep.
    assert Counter(c.account for c in collect_sim.calls) == dict.fromkeys(accounts, 4)
    identities = Counter(
        c.access_key_id for c in aws.proxy.calls if c.action == "GetCallerIdentity"
    )
    assert identities == {key: 2 for key in keys.values()}  # STS too, each as itself
    assert all(c.identity not in {AMBIENT_KEY_ID, PLACEHOLDER_KEY_ID} for c in collect_sim.calls)


async def test_a_shared_client_signs_nothing_without_an_account(
    aws: AwsEnv, collect_sim: CollectSim, cloudsim: SimServer
) -> None:
    settings = sim_settings(cloudsim)
    async with ProviderClients(settings) as clients:
        ce = await clients.aws_client("ce")
        with pytest.raises(UnboundAwsCall):
            await ce.get_reservation_purchase_recommendation(**EC2_RI)
        sts = await clients.aws_client("sts")
        with pytest.raises(UnboundAwsCall):
            await sts.get_caller_identity()
    assert collect_sim.calls == []
    assert aws.proxy.calls == []  # not even the server's ambient identity was used


async def test_concurrent_calls_on_one_client_keep_their_accounts(
    aws: AwsEnv, collect_sim: CollectSim, cloudsim: SimServer
) -> None:
    """Two accounts' calls in flight together on one client, each its own key, and a call
    that fails (bad key) leaves no credentials bound for the next call of the task."""
    settings = sim_settings(cloudsim)
    first, second = "430000000001", "430000000002"
    creds = {
        a: AwsSessionCredentials(
            keys["access_key_id"], keys["secret_access_key"], keys["session_token"]
        )
        for a in (first, second)
        for keys in [aws_temporary_keys(aws, a)]
    }
    collect_sim.latency_s = 0.2
    async with ProviderClients(settings) as clients:
        async with clients.aws_account(creds[first]) as a, clients.aws_account(creds[second]) as b:
            ce_a, ce_b = await a.client("ce"), await b.client("ce")
            await asyncio.gather(
                ce_a.get_reservation_purchase_recommendation(**EC2_RI),
                ce_b.get_reservation_purchase_recommendation(**EC2_RI),
                ce_a.get_reservation_purchase_recommendation(**EC2_RI),
            )
        assert collect_sim.peak_in_flight == 3
        collect_sim.fault(first, "bad_credentials")
        async with clients.aws_account(creds[first]) as a:
            with pytest.raises(ClientError):
                await (await a.client("ce")).get_reservation_purchase_recommendation(**EC2_RI)
        with pytest.raises(UnboundAwsCall):
            await (await clients.aws_client("ce")).get_reservation_purchase_recommendation(**EC2_RI)
    assert collect_sim.signers(first) == {creds[first].access_key_id}
    assert collect_sim.signers(second) == {creds[second].access_key_id}
    assert [c.account for c in collect_sim.calls].count(first) == 3


async def test_closing_drops_the_shared_clients_and_rebuilds_on_use(
    aws: AwsEnv, collect_sim: CollectSim, cloudsim: SimServer
) -> None:
    settings = sim_settings(cloudsim)
    account = "440000000001"
    keys = aws_temporary_keys(aws, account)
    creds = AwsSessionCredentials(
        keys["access_key_id"], keys["secret_access_key"], keys["session_token"]
    )
    clients = ProviderClients(settings)
    before = await clients.aws_client("ce")
    await clients.aclose()
    assert clients.aws_client_count == 0
    async with clients.aws_account(creds) as view:
        await (await view.client("ce")).get_reservation_purchase_recommendation(**EC2_RI)
    assert await clients.aws_client("ce") is not before
    await clients.aclose()
    await clients.aclose()  # idempotent
    assert collect_sim.signers(account) == {keys["access_key_id"]}
