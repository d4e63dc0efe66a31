"""Shared cloud clients: one AWS client per service and region for the whole process, every
call still signed by its own account's credentials — never another account's, never the
server's; one pool per kind of token request (Azure, Google), keeping no cookies."""

from __future__ import annotations

import asyncio
from collections import Counter

import httpx
import pytest
from botocore.exceptions import ClientError
from yarl import URL

from api.enums import Provider
from api.kit.fanout import fan_out
from api.providers.aws.collector import AwsCollector
from api.providers.awssdk import AwsSessionCredentials
from api.providers.azure.collector import AzureCollector
from api.providers.base import AccountAuth, SweepResult
from api.providers.clients import PLACEHOLDER_KEY_ID, ProviderClients, UnboundAwsCall
from api.providers.gcp.collector import GcpCollector
from tests.cloudsim import SimServer
from tests.cloudsim.collect import CollectSim, aws_ec2_detail
from tests.credentials.fixtures import AMBIENT_KEY_ID, AwsEnv
from tests.providers.collect_helpers import (
    aws_auth,
    aws_temporary_keys,
    azure_auth,
    effective,
    gcp_auth,
    sim_settings,
)

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
    collect_sim.latency_s = 0.3  # the accounts' calls are in flight at the same time
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

    assert collect_sim.peak_in_flight > 1  # accounts' calls interleaved on the shared clients
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
    collect_sim.latency_s = 0.5
    async with ProviderClients(settings) as clients:
        async with clients.aws_account(creds[first]) as a, clients.aws_account(creds[second]) as b:
            ce_a, ce_b = await a.client("ce"), await b.client("ce")
            await asyncio.gather(
                ce_a.get_reservation_purchase_recommendation(**EC2_RI),
                ce_b.get_reservation_purchase_recommendation(**EC2_RI),
                ce_a.get_reservation_purchase_recommendation(**EC2_RI),
            )
        assert collect_sim.peak_in_flight > 1
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


async def test_azure_and_gcp_token_requests_reuse_one_connection_across_accounts(
    cloudsim: SimServer, collect_sim: CollectSim
) -> None:
    """Each account still gets its own token, over the process's one pool per token kind
    (one keep-alive connection when the accounts run one after another)."""
    settings = sim_settings(cloudsim, account_timeout_s=30)
    subscriptions = [f"6666666{n}-6666-6666-6666-666666666666" for n in range(3)]
    projects = [f"reuse-project-{n}" for n in range(3)]
    for project in projects:
        collect_sim.gcp_regions(project, ["us-central1"])
    async with ProviderClients(settings) as clients:
        session, sync_http = clients.identity_session, clients.sync_http
        for subscription in subscriptions:
            auth = azure_auth(cloudsim, subscription)
            await AzureCollector().collect(
                auth, effective(Provider.azure, ("vm",)), settings, clients
            )
        for project in projects:
            auth = gcp_auth(cloudsim, settings, project)
            await GcpCollector().collect(
                auth, effective(Provider.gcp, ("compute",)), settings, clients
            )
        assert clients.identity_session is session and not session.closed
        assert clients.sync_http is sync_http and not sync_http.is_closed
    assert session.closed and sync_http.is_closed

    def peers(suffix: str) -> list[str | None]:
        return [r.peer for r in cloudsim.state.log if r.path.endswith(suffix)]

    entra, google = peers("/oauth2/v2.0/token"), peers("/token")
    google = [p for p in google if p not in entra]
    assert len(entra) == 3 and len(google) == 3  # one token per account
    assert len(set(entra)) == 1 and len(set(google)) == 1
    # ...and each sweep used its own token (ARM: subscription scoped; Google: per principal).
    azure = {c.account for c in collect_sim.calls if c.provider == "azure"} - {""}
    assert azure == set(subscriptions)
    for project in projects:
        assert collect_sim.signers(project) == {f"cudly@{project}.iam.gserviceaccount.com"}


async def test_shared_http_clients_keep_no_cookies(cloudsim: SimServer) -> None:
    """A Set-Cookie in one account's answer is never sent with another account's request."""
    async with ProviderClients(sim_settings(cloudsim)) as clients:
        answer = httpx.Response(
            200,
            headers={"set-cookie": "fpc=tenant-a; Path=/; Secure"},
            request=httpx.Request("POST", "https://login.example.com/t/oauth2/v2.0/token"),
        )
        for client in (clients.http, clients.sync_http):
            client.cookies.extract_cookies(answer)
            assert len(client.cookies) == 0
        jar = clients.identity_session.cookie_jar
        jar.update_cookies({"fpc": "tenant-a"}, URL("https://login.example.com/"))
        assert len(jar) == 0
