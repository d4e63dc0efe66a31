"""Helpers for collector tests: accounts as snapshots, credentials, effective configs.

Usable by any test that drives a collector directly (COLLECT-CORE's end-to-end tests go
through the database instead and only need the simulator fixtures).
"""

from __future__ import annotations

import json
import uuid
from typing import Any

from api.config import Settings
from api.credentials.schemas import CREDENTIALS_ADAPTER
from api.enums import Provider
from api.models import AccountServiceOverride
from api.providers.base import AccountAuth, AccountSnapshot
from api.service_config.merge import EffectiveServiceConfig, default_service_config, merge
from tests.cloudsim import SimServer, make_gcp_key
from tests.cloudsim.collect import collect_settings
from tests.credentials.fixtures import AwsEnv

SERVICES: dict[Provider, tuple[str, ...]] = {
    Provider.aws: (
        "ec2",
        "rds",
        "elasticache",
        "opensearch",
        "redshift",
        "memorydb",
        "savings-plans",
    ),
    Provider.azure: ("vm", "sql", "cosmosdb", "redis"),
    Provider.gcp: ("compute", "cloudsql"),
}
TENANT = "11111111-1111-1111-1111-111111111111"
CLIENT = "22222222-2222-2222-2222-222222222222"


def sim_settings(sim: SimServer, **overrides: object) -> Settings:
    values: dict[str, object] = {
        "env": "test",
        "database_url": "postgresql://x/y",
        "credential_encryption_key": "ab" * 32,
        **collect_settings(sim),
    }
    values.update(overrides)
    return Settings.model_validate(values)


def effective(
    provider: Provider, only: tuple[str, ...] | None = None, **fields: Any
) -> list[EffectiveServiceConfig]:
    """Every service of ``provider`` at the seeded defaults, enabled only for ``only`` (all
    when None), with ``fields`` as an override on each (e.g. ``term=1``)."""
    configs = []
    for service in SERVICES[provider]:
        override = AccountServiceOverride(provider=provider.value, service=service, **fields)
        if only is not None and service not in only:
            override.enabled = False
        configs.append(merge(default_service_config(provider, service), override))
    return configs


def aws_temporary_keys(aws: AwsEnv, account_id: str) -> dict[str, str]:
    """Access keys acting in ``account_id`` (moto: ambient AssumeRole into any role there)."""
    answer = aws.boto("sts").assume_role(
        RoleArn=f"arn:aws:iam::{account_id}:role/keys-holder", RoleSessionName="arrange"
    )
    creds = answer["Credentials"]
    return {
        "type": "aws_access_keys",
        "access_key_id": creds["AccessKeyId"],
        "secret_access_key": creds["SecretAccessKey"],
        "session_token": creds["SessionToken"],
    }


def aws_auth(
    account_id: str,
    *,
    mode: str = "access_keys",
    credentials: dict[str, Any] | None = None,
    role_arn: str | None = None,
    external_id: str | None = None,
    bastion: AccountAuth | None = None,
    name: str | None = None,
) -> AccountAuth:
    snapshot = AccountSnapshot(
        id=uuid.uuid4(),
        provider=Provider.aws,
        external_id=account_id,
        name=name or f"aws-{account_id}",
        aws_auth_mode=mode,
        aws_role_arn=role_arn,
        aws_external_id=external_id,
    )
    parsed = CREDENTIALS_ADAPTER.validate_python(credentials) if credentials else None
    return AccountAuth(
        account=snapshot,
        credentials=parsed,
        fingerprint=uuid.uuid4().hex if credentials else None,
        bastion=bastion,
    )


def azure_auth(sim: SimServer, subscription: str, *, secret: str = "s3cret-value") -> AccountAuth:
    """A client-secret account for ``subscription``, registered and granted in the simulator."""
    state = sim.state
    state.add_azure_client(TENANT, CLIENT, secret)
    if subscription not in state.subscriptions:
        state.add_subscription(subscription, TENANT, granted_to=[CLIENT])
    snapshot = AccountSnapshot(
        id=uuid.uuid4(),
        provider=Provider.azure,
        external_id=subscription,
        name=f"azure-{subscription[:8]}",
        azure_subscription_id=subscription,
        azure_tenant_id=TENANT,
        azure_client_id=CLIENT,
        azure_auth_mode="client_secret",
    )
    credentials = CREDENTIALS_ADAPTER.validate_python(
        {"type": "azure_client_secret", "client_secret": secret}
    )
    return AccountAuth(account=snapshot, credentials=credentials, fingerprint="f")


def gcp_auth(
    sim: SimServer, settings: Settings, project: str, *, email: str | None = None
) -> AccountAuth:
    """A service-account-key account for ``project``, registered and granted in the simulator."""
    email = email or f"cudly@{project}.iam.gserviceaccount.com"
    key = make_gcp_key(email, settings.clouds.gcp_token_uri, project_id=project, state=sim.state)
    if project not in sim.state.projects:
        sim.state.add_project(project, str(abs(hash(project)) % 10**12), granted_to=[email])
    else:
        sim.state.grant_project(project, email)
    snapshot = AccountSnapshot(
        id=uuid.uuid4(),
        provider=Provider.gcp,
        external_id=project,
        name=f"gcp-{project}",
        gcp_project_id=project,
        gcp_client_email=email,
        gcp_auth_mode="service_account_key",
    )
    credentials = CREDENTIALS_ADAPTER.validate_python(
        {"type": "gcp_service_account", "service_account_json": json.dumps(key)}
    )
    return AccountAuth(account=snapshot, credentials=credentials, fingerprint="f")
