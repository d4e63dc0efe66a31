"""Fixtures and helpers for credential and provider tests: accounts inserted directly,
moto behind a counting STS proxy, and settings pointing Azure/GCP at the simulator."""

from __future__ import annotations

import json
import secrets
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import boto3
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from api.models import CloudAccount
from api.providers.aws.client import assumed_role_cache
from tests.cloudsim import SimServer
from tests.providers.sts_proxy import StsProxy, run_sts_proxy

AMBIENT_KEY_ID = "AKIASERVERAMBIENT001"
AMBIENT_SECRET = "server-ambient-secret-0000000000000000000"
TENANT = "11111111-1111-1111-1111-111111111111"
CLIENT = "22222222-2222-2222-2222-222222222222"
SUB = "33333333-3333-3333-3333-333333333333"
PROJECT = "sim-project"
SA = "cudly@sim-project.iam.gserviceaccount.com"


def cloudsim_settings(sim: SimServer) -> dict[str, object]:
    """Settings pointing every Azure/GCP endpoint at the simulator (and trusting its CA)."""
    return {
        "azure_authority_host": sim.url,
        "azure_management_url": sim.url,
        "gcp_token_uri": f"{sim.url}/token",
        "gcp_sts_token_uri": f"{sim.url}/v1/token",
        "gcp_api_base_cloudresourcemanager": sim.url,
        "gcp_api_base_iamcredentials": sim.url,
        "ca_bundle": sim.ca_pem_path,
    }


MOTO_ACCOUNT = "123456789012"


async def add_account(session: AsyncSession, provider: str = "aws", **fields: Any) -> CloudAccount:
    """Insert and commit a cloud account (the accounts API is not needed to arrange one)."""
    values: dict[str, Any] = {"name": f"{provider}-{uuid.uuid4().hex[:8]}", "provider": provider}
    if provider == "aws":
        values |= {
            "external_id": "".join(secrets.choice("0123456789") for _ in range(12)),
            "aws_auth_mode": "access_keys",
        }
    elif provider == "azure":
        values |= {
            "external_id": SUB,
            "azure_subscription_id": SUB,
            "azure_tenant_id": TENANT,
            "azure_client_id": CLIENT,
            "azure_auth_mode": "client_secret",
        }
    else:
        values |= {
            "external_id": PROJECT,
            "gcp_project_id": PROJECT,
            "gcp_auth_mode": "service_account_key",
        }
    values.update(fields)
    if provider == "aws" and "external_id" not in fields:
        # SPEC §3: the session's identity must be the account's own; moto's IAM users live in
        # its default account, an assumed role in the role's account (the first account of
        # each gets that id; later ones keep a random one).
        role = values.get("aws_role_arn")
        wanted = role.split(":")[4] if role else MOTO_ACCOUNT
        taken = await session.scalar(
            select(CloudAccount.id).where(
                CloudAccount.provider == "aws", CloudAccount.external_id == wanted
            )
        )
        if taken is None:
            values["external_id"] = wanted
    account = CloudAccount(**values)
    session.add(account)
    await session.commit()
    return account


def _moto_admin(url: str, path: str, body: bytes) -> None:
    request = urllib.request.Request(
        f"{url}{path}", data=body, method="POST", headers={"Content-Type": "text/plain"}
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        json.loads(response.read())


@dataclass
class AwsEnv:
    """moto (reset) behind a counting STS proxy; the server's ambient identity is set."""

    moto_url: str
    proxy: StsProxy
    _auth_enabled: bool = field(default=False)

    def boto(self, service: str) -> Any:
        """A boto3 client straight to moto, for arranging state (never the product's path)."""
        return boto3.client(
            service,
            endpoint_url=self.moto_url,
            region_name="us-east-1",
            aws_access_key_id=AMBIENT_KEY_ID,
            aws_secret_access_key=AMBIENT_SECRET,
        )

    def iam_user(self, name: str = "cudly-reader") -> tuple[str, str, str]:
        """Create an IAM user with an access key: (arn, access key id, secret)."""
        iam = self.boto("iam")
        arn = iam.create_user(UserName=name)["User"]["Arn"]
        key = iam.create_access_key(UserName=name)["AccessKey"]
        return arn, key["AccessKeyId"], key["SecretAccessKey"]

    def enable_iam_auth(self) -> None:
        """Make moto verify signatures and IAM policies (it accepts anything by default)."""
        _moto_admin(self.moto_url, "/moto-api/reset-auth", b"0")
        self._auth_enabled = True

    def disable_iam_auth(self) -> None:
        _moto_admin(self.moto_url, "/moto-api/reset-auth", b"inf")
        self._auth_enabled = False


@pytest.fixture(scope="session")
def sts_proxy(moto_server_url: str) -> Iterator[StsProxy]:
    with run_sts_proxy(moto_server_url) as proxy:
        yield proxy


@pytest.fixture
def aws(moto_url: str, sts_proxy: StsProxy, monkeypatch: pytest.MonkeyPatch) -> Iterator[AwsEnv]:
    monkeypatch.setenv("AWS_ENDPOINT_URL_STS", sts_proxy.url)
    monkeypatch.setenv("AWS_ENDPOINT_URL_SECRETS_MANAGER", moto_url)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", AMBIENT_KEY_ID)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", AMBIENT_SECRET)
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    for name in ("AWS_SESSION_TOKEN", "AWS_PROFILE", "AWS_ENDPOINT_URL"):
        monkeypatch.delenv(name, raising=False)
    sts_proxy.clear()
    assumed_role_cache.clear()
    env = AwsEnv(moto_url=moto_url, proxy=sts_proxy)
    yield env
    if env._auth_enabled:
        env.disable_iam_auth()
    assumed_role_cache.clear()
