"""One source for every enum (SPEC §8).

These feed the database CHECK constraints (migrations), the Pydantic schemas (and so the
OpenAPI document and the generated SPA client) and the resolvers. Add a value here and
in a migration that widens the CHECK; never spell a value anywhere else.
"""

from __future__ import annotations

import enum


class Provider(enum.StrEnum):
    aws = "aws"
    azure = "azure"
    gcp = "gcp"


class AwsAuthMode(enum.StrEnum):
    access_keys = "access_keys"
    role_arn = "role_arn"
    bastion = "bastion"
    workload_identity_federation = "workload_identity_federation"


class AzureAuthMode(enum.StrEnum):
    client_secret = "client_secret"
    workload_identity_federation = "workload_identity_federation"


class GcpAuthMode(enum.StrEnum):
    service_account_key = "service_account_key"
    workload_identity_federation = "workload_identity_federation"


class CredentialType(enum.StrEnum):
    aws_access_keys = "aws_access_keys"
    aws_wif = "aws_wif"
    azure_client_secret = "azure_client_secret"
    azure_wif = "azure_wif"
    gcp_service_account = "gcp_service_account"
    gcp_wif = "gcp_wif"


class Payment(enum.StrEnum):
    no_upfront = "no-upfront"
    partial_upfront = "partial-upfront"
    all_upfront = "all-upfront"


class Term(enum.IntEnum):
    """A commitment's term in years (a JSON integer, not a string)."""

    one_year = 1
    three_years = 3


class ConfigSource(enum.StrEnum):
    """Where an effective configuration value came from."""

    global_ = "global"
    override = "override"


class Role(enum.StrEnum):
    admin = "admin"
    user = "user"


class Resource(enum.StrEnum):
    accounts = "accounts"
    recommendations = "recommendations"
    plans = "plans"
    history = "history"
    config = "config"
    users = "users"
    groups = "groups"
    api_keys = "api_keys"
    audit = "audit"


class Action(enum.StrEnum):
    view = "view"
    create = "create"
    update = "update"
    delete = "delete"
    manage_credentials = "manage_credentials"
    test_credentials = "test_credentials"
    discover_org = "discover_org"
    refresh = "refresh"
    execute = "execute"
    approve = "approve"


# Which actions exist on which resource (SPEC §2). users/groups/api_keys/audit are admin only.
RESOURCE_ACTIONS: dict[Resource, frozenset[Action]] = {
    Resource.accounts: frozenset(
        {
            Action.view,
            Action.create,
            Action.update,
            Action.delete,
            Action.manage_credentials,
            Action.test_credentials,
            Action.discover_org,
        }
    ),
    Resource.recommendations: frozenset({Action.view, Action.refresh}),
    Resource.plans: frozenset(
        {
            Action.view,
            Action.create,
            Action.update,
            Action.delete,
            Action.execute,
            Action.approve,
        }
    ),
    Resource.history: frozenset({Action.view}),
    Resource.config: frozenset({Action.view, Action.update}),
}


class ExecutionStatus(enum.StrEnum):
    awaiting_approval = "awaiting_approval"
    pending = "pending"
    running = "running"
    completed = "completed"
    failed = "failed"
    partial = "partial"
    rejected = "rejected"
    expired = "expired"


class ApprovalStatus(enum.StrEnum):
    awaiting = "awaiting"
    approved = "approved"
    rejected = "rejected"
    expired = "expired"


class ApprovalMode(enum.StrEnum):
    """``CUDLY_PURCHASE_APPROVAL``: whether real execution groups wait for a second person."""

    none = "none"
    required = "required"


class PurchaseLineStatus(enum.StrEnum):
    pending = "pending"
    purchasing = "purchasing"
    purchased = "purchased"
    simulated = "simulated"
    failed = "failed"
    skipped = "skipped"


class PurchaseStatus(enum.StrEnum):
    purchased = "purchased"
    simulated = "simulated"
    failed = "failed"


class RunStatus(enum.StrEnum):
    running = "running"
    completed = "completed"
    failed = "failed"


class RunTrigger(enum.StrEnum):
    manual = "manual"
    scheduled = "scheduled"
    cli = "cli"


class RunAccountStatus(enum.StrEnum):
    pending = "pending"
    running = "running"
    ok = "ok"
    failed = "failed"
    timeout = "timeout"
    skipped = "skipped"


# Known services per provider (SPEC §4), in display order.
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

ALL_SERVICES: frozenset[str] = frozenset(s for services in SERVICES.values() for s in services)


def values(enum_type: type[enum.StrEnum]) -> list[str]:
    """The wire values of an enum, in definition order."""
    return [member.value for member in enum_type]
