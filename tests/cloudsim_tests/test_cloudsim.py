"""The simulator must work with the REAL client libraries the product uses; these tests are
the proof, and show the product how to trust the simulator's CA."""

from __future__ import annotations

import asyncio
import ssl
from typing import Any

import aiohttp
import httpx
import pytest
import requests
from azure.core.exceptions import ClientAuthenticationError
from azure.core.pipeline.transport import AioHttpTransport
from azure.identity.aio import ClientAssertionCredential, ClientSecretCredential
from google.auth import identity_pool
from google.auth.exceptions import RefreshError
from google.auth.transport.requests import Request as GoogleRequest
from google.oauth2 import service_account
from requests.adapters import HTTPAdapter

from tests.cloudsim import SimServer, make_gcp_key, run_cloudsim

TENANT = "11111111-1111-1111-1111-111111111111"
CLIENT = "22222222-2222-2222-2222-222222222222"
SUB = "33333333-3333-3333-3333-333333333333"
ARM_SCOPE = "https://management.azure.com/.default"
GCP_SCOPES = ["https://www.googleapis.com/auth/cloud-platform"]
SA = "cudly@sim-project.iam.gserviceaccount.com"
API = "api-version=2022-12-01"


def ssl_ctx(sim: SimServer) -> ssl.SSLContext:
    """System CAs plus the simulator's CA: what CUDLY_CA_BUNDLE should produce."""
    ctx = ssl.create_default_context()
    assert sim.ca_pem_path
    ctx.load_verify_locations(sim.ca_pem_path)
    return ctx


async def arm_get(sim: SimServer, url: str, token: str | None) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with httpx.AsyncClient(verify=ssl_ctx(sim)) as client:
        return await client.get(url, headers=headers)


# --- Azure ----------------------------------------------------------------------------------


async def test_azure_secret_token_then_subscription(cloudsim: SimServer) -> None:
    st = cloudsim.state
    st.add_azure_client(TENANT, CLIENT, "s3cret")
    st.add_subscription(SUB, TENANT, "Prod", granted_to=[CLIENT])
    st.add_subscription("44444444-4444-4444-4444-444444444444", TENANT, "Other")
    async with ClientSecretCredential(
        TENANT, CLIENT, "s3cret", authority=cloudsim.url, connection_verify=cloudsim.ca_pem_path
    ) as cred:
        token = (await cred.get_token(ARM_SCOPE)).token
    r = await arm_get(cloudsim, f"{cloudsim.url}/subscriptions/{SUB}?{API}", token)
    assert r.status_code == 200
    assert r.json()["id"] == f"/subscriptions/{SUB}"
    assert r.json()["displayName"] == "Prod"
    assert r.json()["tenantId"] == TENANT
    r = await arm_get(
        cloudsim, f"{cloudsim.url}/subscriptions/44444444-4444-4444-4444-444444444444?{API}", token
    )
    assert (r.status_code, r.json()["error"]["code"]) == (403, "AuthorizationFailed")
    r = await arm_get(
        cloudsim, f"{cloudsim.url}/subscriptions/55555555-5555-5555-5555-555555555555?{API}", token
    )
    assert (r.status_code, r.json()["error"]["code"]) == (404, "SubscriptionNotFound")
    for bad in ("nope", None):
        r = await arm_get(cloudsim, f"{cloudsim.url}/subscriptions/{SUB}?{API}", bad)
        assert (r.status_code, r.json()["error"]["code"]) == (401, "InvalidAuthenticationToken")
    (call,) = st.calls("POST", f"/{TENANT}/oauth2/v2.0/token")
    assert call.form == {
        "client_id": CLIENT,
        "grant_type": "client_credentials",
        "scope": ARM_SCOPE,
    }
    assert "s3cret" not in repr(st.log)


async def test_azure_ca_in_addition_to_system_cas_via_transport(cloudsim: SimServer) -> None:
    """The product's way: an aiohttp session whose connector trusts system CAs + the bundle."""
    cloudsim.state.add_azure_client(TENANT, CLIENT, "s3cret")
    session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=ssl_ctx(cloudsim)))
    transport = AioHttpTransport(session=session, session_owner=True)
    async with ClientSecretCredential(
        TENANT, CLIENT, "s3cret", authority=cloudsim.url, transport=transport
    ) as cred:
        assert (await cred.get_token(ARM_SCOPE)).token
    assert session.closed


@pytest.mark.parametrize(("tenant", "secret"), [(TENANT, "wrong"), ("unknown-tenant", "s3cret")])
async def test_azure_bad_secret_or_tenant(cloudsim: SimServer, tenant: str, secret: str) -> None:
    cloudsim.state.add_azure_client(TENANT, CLIENT, "s3cret")
    async with ClientSecretCredential(
        tenant, CLIENT, secret, authority=cloudsim.url, connection_verify=cloudsim.ca_pem_path
    ) as cred:
        with pytest.raises(ClientAuthenticationError) as exc:
            await cred.get_token(ARM_SCOPE)
    assert ("AADSTS7000215" if secret == "wrong" else "AADSTS90002") in str(exc.value)


async def test_azure_workload_identity_assertion(cloudsim: SimServer) -> None:
    cloudsim.state.add_azure_assertion(TENANT, CLIENT, "federated.jwt")
    async with ClientAssertionCredential(
        TENANT,
        CLIENT,
        lambda: "federated.jwt",
        authority=cloudsim.url,
        connection_verify=cloudsim.ca_pem_path,
    ) as cred:
        assert (await cred.get_token(ARM_SCOPE)).token
    async with ClientAssertionCredential(
        TENANT,
        CLIENT,
        lambda: "other.jwt",
        authority=cloudsim.url,
        connection_verify=cloudsim.ca_pem_path,
    ) as cred:
        with pytest.raises(ClientAuthenticationError):
            await cred.get_token(ARM_SCOPE)


async def test_arm_subscription_paging_and_throttle(cloudsim: SimServer) -> None:
    st = cloudsim.state
    st.arm_page_size = 2
    st.add_azure_client(TENANT, CLIENT, "s3cret")
    st.add_azure_client("other-tenant", CLIENT, "s3cret")
    mine = [f"0000000{i}-0000-0000-0000-000000000000" for i in range(5)]
    for sub in mine:
        st.add_subscription(sub, TENANT, granted_to=[CLIENT])
    st.add_subscription("99999999-0000-0000-0000-000000000000", TENANT)  # not granted
    st.add_subscription("88888888-0000-0000-0000-000000000000", "other-tenant", granted_to=[CLIENT])
    token = st.issue_token(CLIENT, TENANT)
    st.inject_throttle("/subscriptions", count=1, retry_after=7)
    url: str | None = f"{cloudsim.url}/subscriptions?{API}"
    r = await arm_get(cloudsim, f"{cloudsim.url}/subscriptions?{API}", token)
    assert (r.status_code, r.headers["Retry-After"]) == (429, "7")
    seen: list[str] = []
    while url:
        r = await arm_get(cloudsim, url, token)
        assert r.status_code == 200
        seen += [s["subscriptionId"] for s in r.json()["value"]]
        url = r.json().get("nextLink")
        assert url is None or (url.startswith(cloudsim.url) and "$skiptoken=" in url)
    assert seen == mine
    assert [c.status for c in st.calls("GET", "/subscriptions")] == [429, 200, 200, 200]


# --- GCP ------------------------------------------------------------------------------------


class _SSLContextAdapter(HTTPAdapter):
    """requests adapter with our SSL context. ``session.verify = <pem>`` is NOT enough:
    a REQUESTS_CA_BUNDLE / CURL_CA_BUNDLE env var silently overrides it (psf/requests#3829)."""

    def __init__(self, ctx: ssl.SSLContext) -> None:
        self._ctx = ctx
        super().__init__()

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        kwargs["ssl_context"] = self._ctx
        super().init_poolmanager(*args, **kwargs)


def google_request(sim: SimServer) -> GoogleRequest:
    session = requests.Session()
    if sim.ca_pem_path:
        session.mount("https://", _SSLContextAdapter(ssl_ctx(sim)))
    return GoogleRequest(session)


async def gcp_get(sim: SimServer, path: str, token: str) -> httpx.Response:
    verify: Any = ssl_ctx(sim) if sim.ca_pem_path else True
    async with httpx.AsyncClient(verify=verify) as client:
        return await client.get(f"{sim.url}{path}", headers={"Authorization": f"Bearer {token}"})


async def test_gcp_service_account_then_project(cloudsim: SimServer) -> None:
    st = cloudsim.state
    info = make_gcp_key(SA, f"{cloudsim.url}/token", state=st)
    st.add_project("sim-project", "123456789", "Sim", granted_to=[SA])
    st.add_project("hidden-project", "987654321")
    creds = service_account.Credentials.from_service_account_info(info, scopes=GCP_SCOPES)  # type: ignore[no-untyped-call]
    await asyncio.to_thread(creds.refresh, google_request(cloudsim))
    assert creds.token
    assert creds.valid
    r = await gcp_get(cloudsim, "/v3/projects/sim-project", creds.token)
    assert r.status_code == 200
    assert r.json() == {
        "name": "projects/123456789",
        "parent": "organizations/1",
        "projectId": "sim-project",
        "state": "ACTIVE",
        "displayName": "Sim",
        "etag": 'W/"123456789"',
    }
    r = await gcp_get(cloudsim, "/v3/projects/hidden-project", creds.token)
    assert (r.status_code, r.json()["error"]["status"]) == (403, "PERMISSION_DENIED")
    r = await gcp_get(cloudsim, "/v3/projects/no-such-project", creds.token)
    assert (r.status_code, r.json()["error"]["status"]) == (404, "NOT_FOUND")
    r = await gcp_get(cloudsim, "/v3/projects/sim-project", "bogus")
    assert (r.status_code, r.json()["error"]["status"]) == (401, "UNAUTHENTICATED")
    assert st.calls("POST", "/token")[0].form == {
        "grant_type": "urn:ietf:params:oauth:grant-type:jwt-bearer"
    }


async def test_gcp_wrong_key_is_refresh_error(cloudsim: SimServer) -> None:
    make_gcp_key(SA, f"{cloudsim.url}/token", state=cloudsim.state)  # registered key
    other = make_gcp_key(SA, f"{cloudsim.url}/token")  # same account, unregistered key
    creds = service_account.Credentials.from_service_account_info(other, scopes=GCP_SCOPES)  # type: ignore[no-untyped-call]
    with pytest.raises(RefreshError, match="Invalid JWT Signature"):
        await asyncio.to_thread(creds.refresh, google_request(cloudsim))


async def test_gcp_over_plain_http() -> None:
    with run_cloudsim(tls=False) as sim:
        assert sim.url.startswith("http://")
        assert sim.ca_pem_path is None
        info = make_gcp_key(SA, f"{sim.url}/token", state=sim.state)
        sim.state.add_project("sim-project", "1", granted_to=[SA])
        creds = service_account.Credentials.from_service_account_info(info, scopes=GCP_SCOPES)  # type: ignore[no-untyped-call]
        await asyncio.to_thread(creds.refresh, google_request(sim))
        assert (await gcp_get(sim, "/v3/projects/sim-project", creds.token)).status_code == 200


async def test_gcp_project_search_and_v1_list_paging(cloudsim: SimServer) -> None:
    st = cloudsim.state
    st.gcp_page_size = 2
    ids = [f"org-proj-{i}" for i in range(5)]
    for i, pid in enumerate(ids):
        st.add_project(pid, str(100 + i), parent="organizations/42", granted_to=[SA])
    st.add_project("elsewhere-1", "200", parent="organizations/7", granted_to=[SA])
    st.add_project(
        "deleted-1", "201", parent="organizations/42", state="DELETE_REQUESTED", granted_to=[SA]
    )
    token = st.issue_token(SA)
    for path, param, key in [
        (
            "/v3/projects:search?query=parent:organizations/42 state:ACTIVE",
            "pageToken",
            "projectId",
        ),
        (
            "/v1/projects?filter=parent.type:organization parent.id:42 lifecycleState:ACTIVE",
            "pageToken",
            "projectId",
        ),
    ]:
        seen: list[str] = []
        page_token = ""
        while True:
            r = await gcp_get(cloudsim, f"{path}&{param}={page_token}", token)
            assert r.status_code == 200, r.text
            seen += [p[key] for p in r.json()["projects"]]
            page_token = r.json().get("nextPageToken", "")
            if not page_token:
                break
        assert seen == ids


async def test_gcp_workload_identity_federation(cloudsim: SimServer, tmp_path: Any) -> None:
    """google-auth external-account credentials: STS token exchange, then impersonation."""
    st = cloudsim.state
    st.add_gcp_subject_token("oidc-token-from-ci", "principal://ci")
    st.allow_gcp_impersonation("principal://ci", SA)
    st.add_project("sim-project", "1", granted_to=[SA])
    (tmp_path / "tok").write_text("oidc-token-from-ci")
    creds = identity_pool.Credentials.from_info(  # type: ignore[no-untyped-call]
        {
            "type": "external_account",
            "audience": "//iam.googleapis.com/projects/1/locations/global/workloadIdentityPools/p/providers/q",
            "subject_token_type": "urn:ietf:params:oauth:token-type:jwt",
            "token_url": f"{cloudsim.url}/v1/token",
            "service_account_impersonation_url": f"{cloudsim.url}/v1/projects/-/serviceAccounts/{SA}:generateAccessToken",
            "credential_source": {"file": str(tmp_path / "tok")},
        },
        scopes=GCP_SCOPES,
    )
    await asyncio.to_thread(creds.refresh, google_request(cloudsim))
    assert (await gcp_get(cloudsim, "/v3/projects/sim-project", creds.token)).status_code == 200


# --- AWS (moto) -----------------------------------------------------------------------------


def test_moto_sts_get_caller_identity(moto_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    import boto3

    monkeypatch.setenv("AWS_ENDPOINT_URL_STS", moto_url)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    ident = boto3.client("sts").get_caller_identity()
    assert ident["Account"].isdigit()
    assert len(ident["Account"]) == 12
