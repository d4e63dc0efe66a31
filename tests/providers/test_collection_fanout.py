"""Collectors under the shared fan-out: bound respected and reached, failures stay per
account, each account signed by its own identity; the registry and ProviderClients."""

from __future__ import annotations

from decimal import Decimal

from api.enums import Provider
from api.kit.fanout import fan_out
from api.providers.aws.collector import AwsCollector
from api.providers.azure.collector import AzureCollector
from api.providers.base import AccountAuth, ProviderError, SweepResult
from api.providers.clients import ProviderClients
from api.providers.gcp.collector import GcpCollector
from api.providers.registry import collector
from tests.cloudsim import SimServer
from tests.cloudsim.collect import CollectSim, aws_ec2_detail
from tests.credentials.fixtures import AwsEnv
from tests.providers.collect_helpers import aws_auth, aws_temporary_keys, effective, sim_settings


def test_registry_is_a_lookup_table() -> None:
    assert isinstance(collector(Provider.aws), AwsCollector)
    assert isinstance(collector(Provider.azure), AzureCollector)
    assert isinstance(collector(Provider.gcp), GcpCollector)
    assert collector(Provider.gcp).provider is Provider.gcp


async def test_provider_clients_share_one_session_and_close(cloudsim: SimServer) -> None:
    settings = sim_settings(cloudsim)
    first, second = ProviderClients(settings), ProviderClients(settings)
    assert first.aws_session is second.aws_session
    http = first.http
    assert first.http is http
    await first.aclose()
    assert http.is_closed
    assert not first.http.is_closed  # a closed pool is rebuilt on next use
    await first.aclose()
    await second.aclose()


async def test_bound_respected_and_reached_failures_isolated(
    aws: AwsEnv, collect_sim: CollectSim, cloudsim: SimServer
) -> None:
    settings = sim_settings(cloudsim, account_timeout_s=20)
    limit = 3
    accounts = [f"3100000000{n:02d}" for n in range(8)]
    for account in accounts:
        collect_sim.aws_ri(account, "ec2", aws_ec2_detail(account=account, savings="5"))
    collect_sim.fault(accounts[1], "bad_credentials", operation="Get*")
    collect_sim.fault(accounts[2], "malformed", operation="GetReservationPurchaseRecommendation")
    collect_sim.fault(accounts[3], "throttle", count=2, operation="Get*")
    collect_sim.fault(accounts[4], "timeout", delay_s=60, operation="Get*")
    auths = {a: aws_auth(a, credentials=aws_temporary_keys(aws, a)) for a in accounts}
    collect_sim.latency_s = 0.2
    collect_sim.reset_peak()
    config = effective(Provider.aws, ("ec2",))

    async with ProviderClients(settings) as clients:

        async def sweep(auth: AccountAuth) -> SweepResult:
            return await AwsCollector().collect(auth, config, settings, clients)

        outcomes = await fan_out(list(auths.values()), sweep, limit=limit, timeout_s=10)

    assert collect_sim.peak_in_flight == limit
    by_account = dict(zip(accounts, outcomes, strict=True))
    for account in (accounts[0], accounts[3], *accounts[5:]):
        outcome = by_account[account]
        assert outcome.ok, (account, outcome.error)
        assert outcome.value is not None
        assert outcome.value.recommendations[0].estimated_monthly_savings == Decimal(5)
    assert isinstance(by_account[accounts[1]].error, ProviderError)
    assert "rejected the access key" in str(by_account[accounts[1]].error)
    assert isinstance(by_account[accounts[2]].error, ProviderError)
    assert by_account[accounts[4]].timed_out
    for account in accounts:
        assert collect_sim.signers(account) == {auths[account].credentials.access_key_id}  # type: ignore[union-attr]
