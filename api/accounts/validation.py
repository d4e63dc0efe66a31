"""Validation of cloud-account fields: ids and ARNs per provider, and the cross-field rules.

Format checks of single fields run in the Pydantic schemas (through the ``check_*``
functions here), so a bad value is a 400 naming its field before any rule runs.
:func:`validate_account` then applies the rules that need several fields (SPEC §3) to the
*whole* account — the create body with its defaults, or the stored row merged with an update
— so create and update share exactly one set of rules.

Decisions where the SPEC is silent:
- Azure ids are accepted in any case and stored lower-case (subscription, tenant, client).
- ``aws_auth_mode`` defaults to ``access_keys``, ``azure_auth_mode`` to ``client_secret`` and
  ``gcp_auth_mode`` to ``service_account_key``.
- A field of another provider is refused only when it carries a value (non-null, or ``true``
  for a flag): a client that sends every field with ``null``/``false`` is not punished.
- ``aws_bastion_id`` is refused outside ``bastion`` mode; on update, switching away from
  ``bastion`` clears it unless the body names it.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from api.enums import AwsAuthMode, AzureAuthMode, GcpAuthMode, Provider
from api.errors import FieldError, ValidationFailed
from api.kit.types import check_name

AWS_ACCOUNT_ID = re.compile(r"[0-9]{12}")
AZURE_UUID = re.compile(
    r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
)
GCP_PROJECT_ID = re.compile(r"[a-z][a-z0-9-]{5,29}")
# SPEC: ^arn:aws:iam::\d{12}:role/[\w+=,.@/-]+$ — with \w as IAM means it (ASCII only).
AWS_ROLE_ARN = re.compile(r"arn:aws:iam::[0-9]{12}:role/[A-Za-z0-9_+=,.@/-]+")

NAME_MAX = 255
DESCRIPTION_MAX = 10_000
EMAIL_MAX = 320
ROLE_ARN_MAX = 512
AWS_EXTERNAL_ID_MIN = 2
AWS_EXTERNAL_ID_MAX = 1224
EXTERNAL_ID_MAX = 64

BASTION_CHAINING = "bastion chaining is not supported"

# Every stored, client-settable column of cloud_accounts, in display order.
ACCOUNT_FIELDS: tuple[str, ...] = (
    "name",
    "description",
    "contact_email",
    "enabled",
    "provider",
    "external_id",
    "aws_auth_mode",
    "aws_role_arn",
    "aws_external_id",
    "aws_bastion_id",
    "aws_is_org_root",
    "azure_subscription_id",
    "azure_tenant_id",
    "azure_client_id",
    "azure_auth_mode",
    "gcp_project_id",
    "gcp_client_email",
    "gcp_auth_mode",
    "is_discovery_root",
)

DEFAULTS: dict[str, Any] = {
    "description": None,
    "contact_email": None,
    "enabled": True,
    "aws_auth_mode": None,
    "aws_role_arn": None,
    "aws_external_id": None,
    "aws_bastion_id": None,
    "aws_is_org_root": False,
    "azure_subscription_id": None,
    "azure_tenant_id": None,
    "azure_client_id": None,
    "azure_auth_mode": None,
    "gcp_project_id": None,
    "gcp_client_email": None,
    "gcp_auth_mode": None,
    "is_discovery_root": False,
}

PROVIDER_FIELDS: dict[Provider, tuple[str, ...]] = {
    Provider.aws: (
        "aws_auth_mode",
        "aws_role_arn",
        "aws_external_id",
        "aws_bastion_id",
        "aws_is_org_root",
    ),
    Provider.azure: (
        "azure_subscription_id",
        "azure_tenant_id",
        "azure_client_id",
        "azure_auth_mode",
        "is_discovery_root",
    ),
    Provider.gcp: ("gcp_project_id", "gcp_client_email", "gcp_auth_mode", "is_discovery_root"),
}

ROLE_REQUIRED_MODES = frozenset(
    {AwsAuthMode.role_arn, AwsAuthMode.bastion, AwsAuthMode.workload_identity_federation}
)

Fail = Callable[[str, str], None]

_PROVIDER_LABEL = {Provider.aws: "AWS", Provider.azure: "Azure", Provider.gcp: "GCP"}


# --- single-field checks (used by the schemas; raise ValueError with the message) ----------


def check_text(value: str, field: str) -> str:
    """Refuse control characters (NUL cannot even be stored) in one-line text, and the
    invisible format characters (zero-width, bidi overrides) that make look-alike names."""
    if any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in value):
        raise ValueError(f"{field} must not contain control characters")
    return check_name(value, field)


def check_multiline_text(value: str, field: str) -> str:
    """Like :func:`check_text` but newlines and tabs are fine."""
    if any((ord(ch) < 0x20 and ch not in "\n\r\t") or ord(ch) == 0x7F for ch in value):
        raise ValueError(f"{field} must not contain control characters")
    return value


def check_role_arn(value: str) -> str:
    if len(value) > ROLE_ARN_MAX:
        raise ValueError(f"must be at most {ROLE_ARN_MAX} characters")
    if not AWS_ROLE_ARN.fullmatch(value):
        raise ValueError("must be an IAM role ARN: arn:aws:iam::<12-digit account>:role/<name>")
    return value


def check_aws_external_id(value: str) -> str:
    if not AWS_EXTERNAL_ID_MIN <= len(value) <= AWS_EXTERNAL_ID_MAX:
        raise ValueError(f"must be {AWS_EXTERNAL_ID_MIN} to {AWS_EXTERNAL_ID_MAX} characters long")
    if not all(0x20 <= ord(ch) <= 0x7E for ch in value):
        raise ValueError("must contain printable ASCII characters only")
    return value


def check_azure_uuid(value: str) -> str:
    """A UUID in its hyphenated form, returned lower-case."""
    if not AZURE_UUID.fullmatch(value):
        raise ValueError("must be a UUID (xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx)")
    return value.lower()


def check_gcp_project_id(value: str) -> str:
    if not GCP_PROJECT_ID.fullmatch(value):
        raise ValueError(
            "must be a GCP project id: 6-30 lower-case letters, digits or hyphens, "
            "starting with a letter"
        )
    return value


def normalize_external_id(provider: Provider, value: str) -> str:
    """The provider's account id in canonical form; ValueError explains what is expected."""
    if provider is Provider.aws:
        if not AWS_ACCOUNT_ID.fullmatch(value):
            raise ValueError("an AWS account id is exactly 12 digits")
        return value
    if provider is Provider.azure:
        if not AZURE_UUID.fullmatch(value):
            raise ValueError(
                "an Azure subscription id is a UUID (xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx)"
            )
        if value != value.lower():
            # SPEC §3: the external id is the lower-case form, so (provider, external_id) is
            # unique whatever case a client copied the id in.
            raise ValueError(f"an Azure subscription id must be lower-case: use {value.lower()}")
        return value
    try:
        return check_gcp_project_id(value)
    except ValueError:
        raise ValueError(
            "a GCP project id is 6-30 lower-case letters, digits or hyphens, starting with a letter"
        ) from None


# --- the cross-field rules ------------------------------------------------------------------


def _has_value(value: Any) -> bool:
    return value is not None and value is not False


def validate_account(values: dict[str, Any]) -> dict[str, Any]:
    """Apply SPEC §3's rules to a whole account; return it normalised, or raise 400 naming every bad field.

    ``values`` holds every name of :data:`ACCOUNT_FIELDS`, already format-checked. Rules
    needing the database (the bastion exists, is AWS, is not itself a bastion) are the
    service's.
    """
    account = dict(values)
    errors: list[FieldError] = []

    def fail(field: str, message: str) -> None:
        errors.append(FieldError(field=field, message=message))

    provider = Provider(account["provider"])
    label = _PROVIDER_LABEL[provider]

    external_id_ok = True
    try:
        account["external_id"] = normalize_external_id(provider, account["external_id"])
    except ValueError as exc:
        fail("external_id", str(exc))
        external_id_ok = False

    own_fields = set(PROVIDER_FIELDS[provider])
    for other, fields in PROVIDER_FIELDS.items():
        if other is provider:
            continue
        for field in fields:
            if field not in own_fields and _has_value(account[field]):
                hint = " (use aws_is_org_root for AWS)" if field == "is_discovery_root" else ""
                fail(field, f"{field} does not apply to {label} accounts{hint}")
                account[field] = DEFAULTS[field]

    if provider is Provider.aws:
        _validate_aws(account, fail)
    elif provider is Provider.azure:
        account["azure_auth_mode"] = account["azure_auth_mode"] or AzureAuthMode.client_secret
        _mirror_external_id(account, "azure_subscription_id", "subscription", external_id_ok, fail)
        if account["azure_tenant_id"] is None:
            fail("azure_tenant_id", "azure_tenant_id is required for Azure accounts")
    else:
        account["gcp_auth_mode"] = account["gcp_auth_mode"] or GcpAuthMode.service_account_key
        _mirror_external_id(account, "gcp_project_id", "project", external_id_ok, fail)

    if errors:
        summary = "; ".join(f"{e.field}: {e.message}" for e in errors[:5])
        raise ValidationFailed(f"invalid account: {summary}", fields=errors)
    return account


def _validate_aws(account: dict[str, Any], fail: Fail) -> None:
    mode = AwsAuthMode(account["aws_auth_mode"] or AwsAuthMode.access_keys)
    account["aws_auth_mode"] = mode
    role_arn = account["aws_role_arn"]
    if mode in ROLE_REQUIRED_MODES and role_arn is None:
        fail("aws_role_arn", f"aws_role_arn is required when aws_auth_mode is {mode.value}")
    elif mode in ROLE_REQUIRED_MODES and AWS_ROLE_ARN.fullmatch(role_arn):
        # The server's identity (or a bastion's) assumes this role for the account's users:
        # a role in another AWS account would hand them that account.
        role_account = role_arn.split(":")[4]
        if role_account != account["external_id"]:
            fail(
                "aws_role_arn",
                f"the role's AWS account {role_account} must be this account's external_id "
                f"{account['external_id']}",
            )
    if mode is AwsAuthMode.bastion:
        if account["aws_bastion_id"] is None:
            fail("aws_bastion_id", "aws_bastion_id is required when aws_auth_mode is bastion")
    elif account["aws_bastion_id"] is not None:
        fail("aws_bastion_id", "aws_bastion_id applies only when aws_auth_mode is bastion")


def _mirror_external_id(
    account: dict[str, Any], field: str, noun: str, external_id_ok: bool, fail: Fail
) -> None:
    """Azure subscription / GCP project = external_id: filled in when absent, must match otherwise."""
    if not external_id_ok:
        return
    if account[field] is None:
        account[field] = account["external_id"]
    elif account[field] != account["external_id"]:
        fail(field, f"{field} must equal external_id (the {noun} this account is)")
